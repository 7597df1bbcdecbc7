/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Several collector instances (issue 9): [Collector] URL= as a list, the
 * shipper's and the fetcher's choice of the next instance, logging once
 * per change, and the backoff, which the list does not change.
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

#include "config.h"
#include "oom.h"
#include "ship.h"

static int
parse(struct agent_config *c, const char *text, char *err, size_t errsz)
{
	assert_int_equal(agent_config_defaults(c), 0);
	return agent_config_parse(c, text, strlen(text), err, errsz);
}

/* "[Collector]\nURL=" and n URLs https://cN.town.example:8443/. */
static void
conf_with(char *buf, size_t size, unsigned n, const char *sep)
{
	int len = snprintf(buf, size, "[Collector]\nURL=");
	unsigned i;

	for (i = 1; i <= n; i++)
		len += snprintf(buf + len, size - (size_t)len,
		    "%shttps://c%u.town.example:8443/", i > 1 ? sep : "", i);
	snprintf(buf + len, size - (size_t)len, "\n");
}

static void
test_one(void **state)
{
	struct agent_config c;
	struct agent_urls l;
	char err[256];

	(void)state;
	assert_int_equal(parse(&c, "[Collector]\n"
	    "URL=https://collector.town.lg.jp:8443/\n", err, sizeof(err)), 0);
	assert_string_equal(c.url, "https://collector.town.lg.jp:8443/");
	assert_int_equal(agent_config_urls(c.url, &l, err, sizeof(err)), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.u[0], "https://collector.town.lg.jp:8443/");
	agent_config_urls_clear(&l);
	assert_int_equal(l.n, 0);
	agent_config_clear(&c);
}

static void
test_two(void **state)
{
	struct agent_config c;
	struct agent_urls l;
	char err[256];

	(void)state;
	/* The example; blanks of any length between, kept as one
	 * space. */
	assert_int_equal(parse(&c, "[Collector]\nURL = "
	    "https://collector1.town.example:8443 \t  "
	    "https://collector2.town.example:8443\n", err, sizeof(err)), 0);
	assert_string_equal(c.url, "https://collector1.town.example:8443 "
	    "https://collector2.town.example:8443");
	assert_int_equal(agent_config_urls(c.url, &l, err, sizeof(err)), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.u[0], "https://collector1.town.example:8443");
	assert_string_equal(l.u[1], "https://collector2.town.example:8443");
	agent_config_urls_clear(&l);
	agent_config_clear(&c);
}

static void
test_eight_nine(void **state)
{
	struct agent_config c;
	struct agent_urls l;
	char text[1024], err[256];

	(void)state;
	conf_with(text, sizeof(text), 8, " ");
	assert_int_equal(parse(&c, text, err, sizeof(err)), 0);
	assert_int_equal(agent_config_urls(c.url, &l, err, sizeof(err)), 0);
	assert_int_equal(l.n, AGENT_URLS_MAX);
	assert_string_equal(l.u[7], "https://c8.town.example:8443/");
	agent_config_urls_clear(&l);
	agent_config_clear(&c);

	conf_with(text, sizeof(text), 9, " ");
	assert_int_equal(parse(&c, text, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "2: bad value for: URL: 9 URLs, at most 8");
	assert_null(c.url);
	agent_config_clear(&c);
}

static void
test_bad_one_named(void **state)
{
	static const struct {
		const char *conf, *err;
	} cases[] = {
		{ "URL=https://a.example/ ftp://b.example/ https://c.example/",
		  "URL 2 of 3 (ftp://b.example/) is not "
		  "https://host[:port][/path] (no fragment)" },
		{ "URL=https://a.example/ http://b.example/",
		  "URL 2 of 2 (http://b.example/) is not "
		  "https://host[:port][/path] (no fragment)" },
		{ "URL=https://a.example:0/",
		  "URL 1 of 1 (https://a.example:0/) is not "
		  "https://host[:port][/path] (no fragment)" },
		{ "URL=https://a.example/ https://b.example:65536/",
		  "URL 2 of 2 (https://b.example:65536/) is not "
		  "https://host[:port][/path] (no fragment)" },
		{ "URL=https://a.example/x#frag https://b.example/",
		  "URL 1 of 2 (https://a.example/x#frag) is not "
		  "https://host[:port][/path] (no fragment)" },
		{ "URL=https:// https://b.example/",
		  "URL 1 of 2 (https://) is not "
		  "https://host[:port][/path] (no fragment)" },
		/* A password is never echoed. */
		{ "URL=https://b.example/ https://user:s3cret@a.example/",
		  "URL 2 of 2 is not https://host[:port][/path] (no user "
		  "name or password)" },
		/* Duplicates are refused: surely a mistake, and they would
		 * send a share of the retries to the same instance. */
		{ "URL=https://a.example:8443/ https://b.example/ "
		  "https://a.example:8443",
		  "URL 3 of 3 (https://a.example:8443) is URL 1 again" },
		{ "URL=https://a.example/ https://a.example/",
		  "URL 2 of 2 (https://a.example/) is URL 1 again" },
		{ "URL=", "no URL" },
		{ "URL=  \t ", "no URL" },
	};
	struct agent_config c;
	char text[512], err[256], want[300];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "[Collector]\n%s\n",
		    cases[i].conf);
		snprintf(want, sizeof(want), "2: bad value for: URL: %s",
		    cases[i].err);
		assert_int_equal(parse(&c, text, err, sizeof(err)), -EBADMSG);
		assert_string_equal(err, want);
		assert_null(strstr(err, "s3cret"));
		agent_config_clear(&c);
	}
}

static void
test_good_forms(void **state)
{
	static const char *const good[] = {
		"https://localhost:1/",
		"https://127.0.0.1:8443",
		"https://[::1]:8443/mynaguard/",
		"https://collector.town.lg.jp",
		"https://a.example/ https://A.example/",	/* not the same */
		"https://a.example/x https://a.example/y",
	};
	struct agent_urls l;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(agent_config_urls(good[i], &l, err,
		    sizeof(err)), 0);
		agent_config_urls_clear(&l);
	}
}

/* --collector takes the same list, checked the same way. */
static void
test_set_urls(void **state)
{
	char *field = NULL, err[256];
	char long_url[AGENT_URL_MAX + 20];

	(void)state;
	assert_int_equal(agent_config_set_urls(&field, "  https://a.example/"
	    "\thttps://b.example:8443  ", err, sizeof(err)), 0);
	assert_string_equal(field, "https://a.example/ https://b.example:8443");
	/* A bad list leaves the field as it was. */
	assert_int_equal(agent_config_set_urls(&field, "https://c.example/ "
	    "c.example", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "URL 2 of 2 (c.example) is not "
	    "https://host[:port][/path] (no fragment)");
	assert_string_equal(field, "https://a.example/ https://b.example:8443");
	memcpy(long_url, "https://a.example/", 18);
	memset(long_url + 18, 'x', AGENT_URL_MAX - 18 + 1);
	long_url[AGENT_URL_MAX + 1] = '\0';
	assert_int_equal(agent_config_set_urls(&field, long_url, err,
	    sizeof(err)), -EINVAL);
	assert_string_equal(err, "URL 1 of 1 is longer than 2048 bytes");
	long_url[AGENT_URL_MAX] = '\0';	/* exactly the limit */
	assert_int_equal(agent_config_set_urls(&field, long_url, err,
	    sizeof(err)), 0);
	free(field);
}

/* Every allocation failure is -ENOMEM and leaks nothing (ASan). */
static void
test_oom(void **state)
{
	const char *text = "[Collector]\nURL=https://a.example/ "
	    "https://b.example/ https://c.example/\n";
	struct agent_config c;
	struct agent_urls l;
	char err[256];
	size_t n;
	int r;

	(void)state;
	for (n = 1; n < 100; n++) {
		assert_int_equal(agent_config_defaults(&c), 0);
		oom_fail_at(n);
		r = agent_config_parse(&c, text, strlen(text), err,
		    sizeof(err));
		oom_fail_at(0);
		assert_true(r == 0 || r == -ENOMEM);
		agent_config_clear(&c);
		if (r == 0)
			break;
	}
	assert_true(n > 1);
	for (n = 1; n < 100; n++) {
		oom_fail_at(n);
		r = agent_config_urls("https://a.example/ https://b.example/",
		    &l, err, sizeof(err));
		oom_fail_at(0);
		assert_true(r == 0 || r == -ENOMEM);
		if (r == 0) {
			agent_config_urls_clear(&l);
			break;
		}
	}
	assert_int_equal(n, 3);	/* two copies */
}

static void
test_next_url(void **state)
{
	(void)state;
	/* One collector: always it. */
	assert_int_equal(ship_next_url(0, 1, SHIP_UNREACHABLE), 0);
	assert_int_equal(ship_next_url(0, 1, SHIP_BUSY), 0);
	assert_int_equal(ship_next_url(0, 1, SHIP_OK), 0);
	/* No answer, 5xx or 429: the next, round robin. */
	assert_int_equal(ship_next_url(0, 3, SHIP_UNREACHABLE), 1);
	assert_int_equal(ship_next_url(1, 3, SHIP_UNREACHABLE), 2);
	assert_int_equal(ship_next_url(2, 3, SHIP_UNREACHABLE), 0);
	assert_int_equal(ship_next_url(2, 3, SHIP_BUSY), 0);
	assert_int_equal(ship_next_url(7, 8, SHIP_BUSY), 0);
	/* A success stays; so does what another instance would repeat (a
	 * refused record, 403, 404) and our own trouble. */
	assert_int_equal(ship_next_url(1, 3, SHIP_OK), 1);
	assert_int_equal(ship_next_url(1, 3, SHIP_REFUSED), 1);
	assert_int_equal(ship_next_url(2, 3, SHIP_LOCAL), 2);
	/* Out of range (never happens): the first. */
	assert_int_equal(ship_next_url(5, 3, SHIP_OK), 0);
	assert_int_equal(ship_next_url(0, 0, SHIP_BUSY), 0);
}

/* A whole outage of a list of three, walked as the shipper walks it:
 * every one visited in turn, and back to the first. */
static void
test_round_trip(void **state)
{
	size_t i = 0, seen[3] = { 0 }, k;

	(void)state;
	for (k = 0; k < 9; k++) {
		seen[i]++;
		i = ship_next_url(i, 3, k % 2 ? SHIP_BUSY : SHIP_UNREACHABLE);
	}
	assert_int_equal(i, 0);
	assert_int_equal(seen[0], 3);
	assert_int_equal(seen[1], 3);
	assert_int_equal(seen[2], 3);
}

static void
test_said(void **state)
{
	struct ship_said s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_true(ship_said_new(&s, 0, "connection refused"));
	assert_false(ship_said_new(&s, 0, "connection refused"));
	/* Per collector. */
	assert_true(ship_said_new(&s, 1, "connection refused"));
	assert_false(ship_said_new(&s, 1, "connection refused"));
	/* A change of trouble is news. */
	assert_true(ship_said_new(&s, 0, "HTTP 503 (busy)"));
	assert_false(ship_said_new(&s, 0, "HTTP 503 (busy)"));
	/* A success: all may be said again; whether it had trouble. */
	assert_true(ship_said_reset(&s, 0));
	assert_false(ship_said_reset(&s, 0));
	assert_true(ship_said_new(&s, 1, "connection refused"));
	assert_false(ship_said_reset(&s, 2));
	assert_true(ship_said_new(&s, 1, "connection refused"));
	assert_false(ship_said_new(&s, AGENT_URLS_MAX, "x"));
}

/* The backoff is what it was: one list, one backoff; nothing about the
 * URL enters it. */
static void
test_backoff_unchanged(void **state)
{
	static const uint64_t cap_s[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256,
	    300, 300, 300 };
	unsigned f;

	(void)state;
	for (f = 1; f <= 12; f++) {
		assert_int_equal(ship_backoff_ms(f, 300, 0, 0xffffffffu),
		    0xffffffffu % (cap_s[f - 1] * 1000 + 1));
		assert_int_equal(ship_backoff_ms(f, 300, 0, 0), 0);
	}
	/* RetryMax=2 (the integration tests). */
	assert_true(ship_backoff_ms(30, 2, 0, 0xffffffffu) <= 2000);
	/* Retry-After is a floor, also for the next collector. */
	assert_int_equal(ship_backoff_ms(1, 300, 30, 5), 30000);
	assert_int_equal(ship_backoff_ms(3, 300, 1, 999), 1000);
	assert_int_equal(ship_backoff_ms(3, 300, 1, 1001), 1001);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one),
		cmocka_unit_test(test_two),
		cmocka_unit_test(test_eight_nine),
		cmocka_unit_test(test_bad_one_named),
		cmocka_unit_test(test_good_forms),
		cmocka_unit_test(test_set_urls),
		cmocka_unit_test(test_oom),
		cmocka_unit_test(test_next_url),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_said),
		cmocka_unit_test(test_backoff_unchanged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
