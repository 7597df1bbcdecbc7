/* SPDX-License-Identifier: BSD-2-Clause */
/* The self-inspection report's rules (report_check.c): each check item's
 * verdict at and around its thresholds, the clause it evidences, the
 * evidence text cut on a character boundary, and HTML escaping. */
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

enum {
	I_REGULAR,
	I_POLICY,
	I_STATE,
	I_MEDIA,
	I_LOGIN,
	I_BREAK,
	I_CHAIN,
	I_KEYS
};

/* A terminal with everything in order. */
static void
good(struct rv_report_term *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->agent_id, sizeof(t->agent_id), "%s", "zeimu-pc01");
	snprintf(
	    t->last_seen, sizeof(t->last_seen), "%s", "2026-10-31 18:00:00");
	snprintf(
	    t->state_time, sizeof(t->state_time), "%s", "2026-10-31 12:00:00");
	t->events = 40;
	t->days = 31;
	t->days_with_events = 22;
	t->quiet_days = 3;
	t->quiet_max = 3;
	t->policy_version = 3;
	t->state_policy_version = 3;
	t->latest_version = 3;
	snprintf(t->policy_hash, sizeof(t->policy_hash), "%s",
	    "46e66382d2d1743645ab0c602b26f19d");
	snprintf(t->state_policy_hash, sizeof(t->state_policy_hash), "%s",
	    t->policy_hash);
	t->policy_loaded = 1;
	t->has_state = true;
	t->state_reports = 22;
	snprintf(t->usb_default, sizeof(t->usb_default), "%s", "0");
}

static enum rv_verdict
verdict(const struct rv_report_term *t, int item)
{
	struct rv_check *c = calloc(RV_CHECKS, sizeof(*c));
	enum rv_verdict v;

	assert_non_null(c);
	rv_report_check(t, c);
	v = c[item].verdict;
	free(c);
	return v;
}

static void
test_all_good(void **state)
{
	struct rv_report_term t;
	static struct rv_check c[RV_CHECKS];
	size_t i;

	(void)state;
	good(&t);
	assert_int_equal(rv_report_check(&t, c), RV_VERDICT_OK);
	for (i = 0; i < RV_CHECKS; i++) {
		assert_int_equal(c[i].verdict, RV_VERDICT_OK);
		assert_non_null(c[i].item);
		assert_non_null(c[i].clause);
	}
	assert_string_equal(
	    c[I_MEDIA].clause, "6(3)① 端末からの情報持ち出し不可設定");
	assert_string_equal(
	    c[I_BREAK].clause, "6(3)① 端末への多要素認証の導入");
	assert_string_equal(
	    c[I_CHAIN].clause, "6(7) 運用（情報システムの監視）");
	assert_string_equal(
	    c[I_POLICY].clause, "8 情報セキュリティポリシーの見直し");
	assert_string_equal(rv_verdict_name(RV_VERDICT_OK), "適合");
	assert_string_equal(rv_verdict_name(RV_VERDICT_CHECK), "要確認");
	assert_string_equal(rv_verdict_name(RV_VERDICT_FAIL), "不適合");
}

static void
test_regularity(void **state)
{
	struct rv_report_term t;

	(void)state;
	good(&t);
	t.quiet_days = 4; /* one day over SilentAfter */
	assert_int_equal(verdict(&t, I_REGULAR), RV_VERDICT_CHECK);
	good(&t);
	t.silent = true;
	assert_int_equal(verdict(&t, I_REGULAR), RV_VERDICT_CHECK);
	/* nothing in the period: every item needs a look, none fails */
	good(&t);
	t.events = 0;
	assert_int_equal(verdict(&t, I_REGULAR), RV_VERDICT_CHECK);
	assert_int_equal(verdict(&t, I_MEDIA), RV_VERDICT_CHECK);
	assert_int_equal(verdict(&t, I_CHAIN), RV_VERDICT_CHECK);
}

static void
test_policy_and_state(void **state)
{
	struct rv_report_term t;

	(void)state;
	good(&t);
	t.latest_version = 4;
	assert_int_equal(verdict(&t, I_POLICY), RV_VERDICT_CHECK);
	good(&t);
	t.policy_rejected = 1;
	assert_int_equal(verdict(&t, I_POLICY), RV_VERDICT_CHECK);
	good(&t);
	t.policy_version = -1; /* only the state says which policy */
	assert_int_equal(verdict(&t, I_POLICY), RV_VERDICT_OK);
	t.state_policy_version = -1;
	assert_int_equal(verdict(&t, I_POLICY), RV_VERDICT_CHECK);
	good(&t);
	snprintf(
	    t.state_policy_hash, sizeof(t.state_policy_hash), "%s", "ffff");
	assert_int_equal(verdict(&t, I_POLICY), RV_VERDICT_CHECK);

	good(&t);
	snprintf(t.mismatch, sizeof(t.mismatch), "%s", "removable-writable");
	assert_int_equal(verdict(&t, I_STATE), RV_VERDICT_FAIL);
	good(&t);
	t.mismatch_reports = 1; /* resolved since */
	assert_int_equal(verdict(&t, I_STATE), RV_VERDICT_CHECK);
	good(&t);
	t.has_state = false;
	assert_int_equal(verdict(&t, I_STATE), RV_VERDICT_CHECK);
}

static void
test_media_logins_keys(void **state)
{
	struct rv_report_term t;

	(void)state;
	good(&t);
	t.device[1] = 5; /* read-only and blocked are the policy working */
	t.device[2] = 2;
	assert_int_equal(verdict(&t, I_MEDIA), RV_VERDICT_OK);
	t.device[4] = 1;
	assert_int_equal(verdict(&t, I_MEDIA), RV_VERDICT_FAIL);
	good(&t);
	t.device[5] = 1;
	assert_int_equal(verdict(&t, I_MEDIA), RV_VERDICT_FAIL);

	good(&t);
	t.login[1] = 9; /* failures alone: typing mistakes */
	assert_int_equal(verdict(&t, I_LOGIN), RV_VERDICT_OK);
	t.login[2] = 1;
	assert_int_equal(verdict(&t, I_LOGIN), RV_VERDICT_CHECK);
	good(&t);
	t.login[3] = 2;
	assert_int_equal(verdict(&t, I_BREAK), RV_VERDICT_CHECK);
	good(&t);
	t.key[1] = 1;
	assert_int_equal(verdict(&t, I_KEYS), RV_VERDICT_CHECK);
}

static void
test_integrity(void **state)
{
	struct rv_report_term t;

	(void)state;
	good(&t);
	t.alerts_gap = 1;
	t.alerts_chain = 1; /* explained by a loss record */
	assert_int_equal(verdict(&t, I_CHAIN), RV_VERDICT_CHECK);
	t.chain_unexplained = 1;
	assert_int_equal(verdict(&t, I_CHAIN), RV_VERDICT_FAIL);
	good(&t);
	t.unverified = 1;
	assert_int_equal(verdict(&t, I_CHAIN), RV_VERDICT_FAIL);
	good(&t);
	t.alerts_loss = 1;
	assert_int_equal(verdict(&t, I_CHAIN), RV_VERDICT_CHECK);
}

/* Evidence longer than its buffer is cut between characters. */
static void
test_evidence_cut(void **state)
{
	struct rv_report_term t;
	static struct rv_check c[RV_CHECKS];
	size_t i;

	(void)state;
	good(&t);
	for (i = 0; i + 3 < sizeof(t.mismatch); i += 3)
		memcpy(t.mismatch + i, "語", 3);
	t.mismatch[i] = '\0';
	memset(t.usb_default, 'x', sizeof(t.usb_default) - 1);
	rv_report_check(&t, c);
	assert_int_equal(c[I_STATE].verdict, RV_VERDICT_FAIL);
	assert_int_equal(utf8_validate(c[I_STATE].evidence,
			     strlen(c[I_STATE].evidence), NULL),
	    0);
}

static void
html_is(const char *in, size_t len, const char *want)
{
	struct sbuf b;

	sbuf_init(&b, 4096);
	assert_int_equal(rv_html_text(&b, in, len), 0);
	assert_string_equal(b.data != NULL ? b.data : "", want);
	sbuf_clear(&b);
}

static void
test_html_escape(void **state)
{
	(void)state;
	html_is("\"><script>alert(1)</script>", 27,
	    "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;");
	html_is("a&b 'c'", 7, "a&amp;b &#39;c&#39;");
	html_is("税務課", strlen("税務課"), "税務課");
	html_is("x\x1b[2J", 5, "x\xef\xbf\xbd[2J");
	html_is("\xe2\x80\xae"
		"exe",
	    6,
	    "\xef\xbf\xbd"
	    "exe"); /* RLO */
	html_is("\xff\xfe", 2, "\xef\xbf\xbd\xef\xbf\xbd");
	html_is("", 0, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_good),
		cmocka_unit_test(test_regularity),
		cmocka_unit_test(test_policy_and_state),
		cmocka_unit_test(test_media_logins_keys),
		cmocka_unit_test(test_integrity),
		cmocka_unit_test(test_evidence_cut),
		cmocka_unit_test(test_html_escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
