/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Properties: show(parse(show(x))) == show(x) for every valid x (random
 * rules from the grammar, the shipped profile, usbguard's own vectors read
 * in place), and every allocation failure while parsing or printing is
 * reported as -ENOMEM without leaking (ASan checks the leaks).
 */
#include <errno.h>
#include <stdio.h>

#include "helpers.h"
#include "mynaguard/common.h"
#include "oom.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t
rnd(uint32_t n)
{
	/* xorshift64*: reproducible across runs and machines. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ull) >> 33) % n;
}

static const char *
pick(const char *const *v, size_t n)
{
	return v[rnd((uint32_t)n)];
}

#define PICK(v) pick(v, sizeof(v) / sizeof(v[0]))

static void
gen_string(struct sbuf *b)
{
	static const char *const pieces[] = {
		"a", "Z", "0", " ", "#", "{", "}", "\\\"", "\\\\", "\\x00",
		"\\x41", "\\xff", "日本", "ｶﾅ", "'", "(", ")", "!", "\\xe2\\x80\\xae",
	};
	unsigned i, n = rnd(6);

	sbuf_putc(b, '"');
	for (i = 0; i < n; i++)
		sbuf_puts(b, PICK(pieces));
	sbuf_putc(b, '"');
}

static void
gen_value(struct sbuf *b, int attr)
{
	static const char *const ids[] = {
		"1234:5678", "abCD:*", "*:*", "0781:55A9",
	};
	static const char *const ifaces[] = {
		"08:06:50", "03:*:*", "Ff:0a:*", "e0:01:01",
	};
	static const char *const kinds[] = { "storage", "sd", "mtp", "fido" };
	static const char *const buses[] = { "usb", "mmc", "ata" };

	switch (attr) {
	case 0:
		sbuf_puts(b, PICK(ids));
		break;
	case 6:
		sbuf_puts(b, PICK(ifaces));
		break;
	case 7:
		sbuf_puts(b, PICK(kinds));
		break;
	case 8:
		sbuf_puts(b, PICK(buses));
		break;
	default:
		gen_string(b);
	}
}

static void
gen_set(struct sbuf *b, int attr)
{
	static const char *const ops[] = {
		"", "", "all-of ", "one-of ", "none-of ", "equals ",
		"equals-ordered ", "match-all ",
	};
	unsigned i, n;

	if (rnd(2) == 0) {
		gen_value(b, attr);
		return;
	}
	sbuf_puts(b, PICK(ops));
	sbuf_puts(b, "{ ");
	for (i = 0, n = 1 + rnd(3); i < n; i++) {
		gen_value(b, attr);
		sbuf_putc(b, ' ');
	}
	sbuf_putc(b, '}');
}

static void
gen_conditions(struct sbuf *b)
{
	static const char *const conds[] = {
		"true", "false", "random", "random(0.25)", "localtime(08:00)",
		"localtime(8:30-17:15:59)", "rule-applied", "rule-applied(1h30m)",
		"rule-evaluated", "rule-evaluated(2d)", "seat-user(taro)",
		"seat-group(zeimu)", "allowed-matches(id 1234:*)",
		"allowed-matches(name \"x\" if !true)",
	};
	unsigned i, n = 1 + rnd(3);

	sbuf_puts(b, " if ");
	if (n == 1 && rnd(2)) {
		sbuf_puts(b, rnd(2) ? "!" : "");
		sbuf_puts(b, PICK(conds));
		return;
	}
	sbuf_puts(b, rnd(2) ? "one-of { " : "{ ");
	for (i = 0; i < n; i++) {
		sbuf_puts(b, rnd(3) == 0 ? "!" : "");
		sbuf_puts(b, PICK(conds));
		sbuf_putc(b, ' ');
	}
	sbuf_putc(b, '}');
}

static void
gen_rule(struct sbuf *b)
{
	static const char *const targets[] = {
		"allow", "block", "reject", "read-only", "match", "device",
	};
	static const char *const names[] = {
		"id", "serial", "name", "hash", "parent-hash", "via-port",
		"with-interface", "kind", "bus", "with-connect-type", "label",
	};
	unsigned used = 0, i, a;

	sbuf_puts(b, PICK(targets));
	for (i = 0; i < 5; i++) {
		a = rnd(11);
		if (used & (1u << a))
			continue;
		used |= 1u << a;
		sbuf_printf(b, " %s ", names[a]);
		gen_set(b, (int)a);
		if (rnd(4) == 0 && !(used & 0x8000)) {
			used |= 0x8000;
			gen_conditions(b);
		}
	}
	sbuf_putc(b, '\n');
}

static void
check_roundtrip(const char *text, size_t len)
{
	struct pol_policy *p = NULL, *q = NULL;
	char *t1 = NULL, *t2 = NULL;
	size_t n1, n2;

	if (pol_policy_parse(text, len, NULL, &p) != 0)
		print_error("does not parse:\n%.*s\n", (int)len, text);
	assert_non_null(p);
	assert_int_equal(pol_policy_show(p, 0, &t1, &n1), 0);
	assert_int_equal(pol_policy_parse(t1, n1, NULL, &q), 0);
	assert_int_equal(pol_policy_show(q, 0, &t2, &n2), 0);
	assert_string_equal(t1, t2);
	assert_int_equal(pol_policy_rule_count(p), pol_policy_rule_count(q));
	free(t1);
	free(t2);
	/* The ASCII form (usbguard's) round-trips as well. */
	assert_int_equal(pol_policy_show(p, POL_SHOW_ASCII, &t1, &n1), 0);
	pol_policy_free(q);
	q = NULL;
	assert_int_equal(pol_policy_parse(t1, n1, NULL, &q), 0);
	assert_int_equal(pol_policy_show(q, POL_SHOW_ASCII, &t2, &n2), 0);
	assert_string_equal(t1, t2);
	free(t1);
	free(t2);
	pol_policy_free(p);
	pol_policy_free(q);
}

static void
test_random_rules(void **state)
{
	struct sbuf b;
	unsigned i;

	(void)state;
	for (i = 0; i < 3000; i++) {
		sbuf_init(&b, 1 << 16);
		if (i % 2)
			sbuf_puts(&b, "[devices]\n");
		gen_rule(&b);
		gen_rule(&b);
		if (i % 2)
			sbuf_puts(&b, "default read-only\n");
		check_roundtrip(b.data, b.len);
		sbuf_clear(&b);
	}
}

static char *
read_source(const char *env, const char *rel, size_t *len)
{
	const char *dir = getenv(env);
	char path[1024];
	char *text = NULL;

	if (dir == NULL)
		return NULL;
	assert_true(snprintf(path, sizeof(path), "%s/%s", dir, rel) <
	    (int)sizeof(path));
	if (file_read_all(path, POL_TEXT_MAX, 0, &text, len) < 0)
		return NULL;
	return text;
}

static void
test_profile_and_vectors(void **state)
{
	char *text;
	size_t len;

	(void)state;
	text = read_source("MG_SOURCE_DIR", "policy/mynumber-terminal.conf",
	    &len);
	assert_non_null(text);
	check_roundtrip(text, len);
	free(text);
	/* usbguard's accepted rules, read in place (never copied). */
	text = read_source("MG_SHARED_DIR",
	    "conformance/usbguard-rules/test-rules.good", &len);
	if (text == NULL) {
		print_message("shared conformance vectors not found: skipped\n");
		return;
	}
	check_roundtrip(text, len);
	free(text);
}

static void
test_oom(void **state)
{
	struct pol_policy *p = NULL;
	char *text, *t = NULL;
	size_t len, n, i;
	int r;

	(void)state;
	text = read_source("MG_SOURCE_DIR", "policy/mynumber-terminal.conf",
	    &len);
	assert_non_null(text);
	for (i = 1;; i++) {
		oom_fail_at(i);
		r = pol_policy_parse(text, len, NULL, &p);
		if (!oom_triggered()) {
			oom_fail_at(0);
			assert_int_equal(r, 0);
			break;
		}
		oom_fail_at(0);
		assert_int_equal(r, -ENOMEM);
		assert_null(p);
	}
	assert_true(i > 3);
	for (i = 1;; i++) {
		oom_fail_at(i);
		r = pol_policy_show(p, 0, &t, &n);
		if (!oom_triggered())
			break;
		assert_int_equal(r, -ENOMEM);
	}
	oom_fail_at(0);
	assert_int_equal(r, 0);
	free(t);
	pol_policy_free(p);
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_rules),
		cmocka_unit_test(test_profile_and_vectors),
		cmocka_unit_test(test_oom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
