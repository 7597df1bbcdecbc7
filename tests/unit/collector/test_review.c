/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The review API's statements use the indexes (EXPLAIN QUERY PLAN on a
 * real schema v2 database), its RFC 3339 parser is strict, and the config
 * parser reads [Review] SilentAfter.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "review.h"

/* The plan of s, its detail lines joined by '|'. */
static void
plan_of(struct coll_store *st, const struct rv_stmt *s, char *out, size_t len)
{
	struct coll_stmt *p = NULL;
	size_t n = 0;

	assert_int_equal(coll_review_prepare(st, s,
			     "EXPLAIN QUERY PLAN ", &p),
	    0);
	out[0] = '\0';
	while (coll_stmt_step(p) == COLL_ROW && n < len)
		n += (size_t)snprintf(out + n, len - n, "%s|",
		    (const char *)coll_stmt_text(p, 3));
	coll_stmt_finalize(p);
}

static void
expect_index(struct coll_store *st, enum rv_key k, const char *value,
    bool alerts, const char *index)
{
	struct rv_query q;
	struct rv_stmt s;
	char plan[1024];

	memset(&q, 0, sizeof(q));
	q.limit = 100;
	q.s[k] = value;
	if (k == RV_SINCE)
		q.s[RV_TERMINAL] = "t";
	if (alerts)
		assert_int_equal(coll_review_alerts_stmt(&q, &s), 0);
	else
		assert_int_equal(coll_review_events_stmt(&q, false, &s), 0);
	plan_of(st, &s, plan, sizeof(plan));
	coll_review_stmt_clear(&s);
	if (strstr(plan, index) == NULL)
		fail_msg("plan of %s does not use %s: %s", s.sql.data, index,
		    plan);
}

static void
test_plans(void **state)
{
	struct coll_store *st = NULL;
	const char *why = NULL;

	(void)state;
	assert_int_equal(coll_store_open(":memory:", 0, &st, &why), 0);
	expect_index(st, RV_SINCE, "x", false, "INDEX events_agent_time");
	expect_index(st, RV_USER, "taro", false, "INDEX events_user");
	expect_index(st, RV_SERIAL, "S1", false, "INDEX events_serial");
	expect_index(st, RV_ACTION, "login", false, "INDEX events_action");
	expect_index(st, RV_TERMINAL, "t", true, "INDEX alerts_agent");
	expect_index(st, RV_TYPE, "gap", true, "INDEX alerts_type");
	coll_store_free(st);
}

static void
test_time(void **state)
{
	int64_t t = 0;
	char out[RV_TIME_LEN];

	(void)state;
	assert_int_equal(coll_review_time_parse("1970-01-01T00:00:01Z", &t), 0);
	assert_int_equal(t, 1000000000);
	assert_int_equal(
	    coll_review_time_parse("2026-11-29T21:00:00.5+09:00", &t), 0);
	coll_review_time_format(t, out);
	assert_string_equal(out, "2026-11-29T12:00:00.500000000Z");
	assert_int_equal(coll_review_time_parse("2024-02-29T00:00:00Z", &t), 0);
	assert_int_equal(coll_review_time_parse("2023-02-29T00:00:00Z", &t),
	    -EBADMSG);
	assert_int_equal(coll_review_time_parse("2026-11-29T12:00:00", &t),
	    -EBADMSG);
	assert_int_equal(coll_review_time_parse("2026-11-29 12:00:00Z", &t),
	    -EBADMSG);
	assert_int_equal(coll_review_time_parse("2026-11-29T12:00:00.Z", &t),
	    -EBADMSG);
	assert_int_equal(
	    coll_review_time_parse("2026-11-29T12:00:00.1234567890Z", &t),
	    -EBADMSG);
	assert_int_equal(coll_review_time_parse("2026-11-29T24:00:00Z", &t),
	    -EBADMSG);
	assert_int_equal(coll_review_time_parse("2026-11-29T12:00:00+9:00", &t),
	    -EBADMSG);
}

static void
test_silent_after(void **state)
{
	struct coll_config c;
	struct coll_diag d;
	const char good[] = "[Review]\nSilentAfter = 12h\n";
	const char bad[] = "[Review]\nSilentAfter = 0d\n";
	const char wrong[] = "[Review]\nPort = 1\n";

	(void)state;
	assert_int_equal(coll_config_init(&c), 0);
	assert_int_equal(c.silent_after, 3 * 86400);
	assert_int_equal(coll_config_parse(&c, good, strlen(good), &d), 0);
	assert_int_equal(c.silent_after, 12 * 3600);
	assert_int_equal(coll_config_parse(&c, bad, strlen(bad), &d), -ERANGE);
	assert_int_equal(
	    coll_config_parse(&c, wrong, strlen(wrong), &d), -EBADMSG);
	assert_non_null(strstr(d.msg, "unknown key 'Port' in [Review]"));
	coll_config_clear(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plans),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_silent_after),
	};

	coll_log_set_max(-1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
