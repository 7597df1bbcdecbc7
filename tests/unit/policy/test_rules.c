/* SPDX-License-Identifier: BSD-2-Clause */
/* The device rule language: accepted shapes, normalization, and the exact
 * position of every kind of error. */
#include <errno.h>
#include <stdio.h>

#include "helpers.h"

static void
expect_show(const char *in, const char *out)
{
	char *t = rule_show(in, 0);

	if (strcmp(t, out) != 0)
		print_error("in:   %s\nwant: %s\ngot:  %s\n", in, out, t);
	assert_string_equal(t, out);
	free(t);
}

static void
test_normalize(void **state)
{
	(void)state;
	/* usbguard's attribute order, positional id, implied equals. */
	expect_show("allow 1234:abCD name \"n\" serial \"s\"",
	    "allow id 1234:abCD serial \"s\" name \"n\"");
	expect_show("allow id { 1234:* }", "allow id 1234:*");
	expect_show("allow name equals { \"a\" \"b\" }",
	    "allow name { \"a\" \"b\" }");
	expect_show("allow name {\"a\"}", "allow name \"a\"");
	/* Operator names are lower case only, as in usbguard. */
	must_fail("allow with-interface EQUALS { 08:*:* }", 1, 22,
	    "two hex digits");
}

static void
test_normalize_more(void **state)
{
	(void)state;
	expect_show("allow with-interface equals-ordered { 0A:Bc:* }",
	    "allow with-interface equals-ordered { 0a:bc:* }");
	expect_show("allow with-interface match-all { 03:*:* }",
	    "allow with-interface match-all { 03:*:* }");
	/* Conditions print before with-connect-type and label. */
	expect_show("block label \"x\" with-connect-type \"hotplug\" if true "
	    "id 1234:5678", "block id 1234:5678 if true with-connect-type "
	    "\"hotplug\" label \"x\"");
	/* label repeats and collects, as in usbguard. */
	expect_show("allow label \"a\" label \"b\"",
	    "allow label { \"a\" \"b\" }");
	/* Escapes are decoded and printed back canonically. */
	expect_show("allow name \"a\\x41\\x20\\\"\\\\\"",
	    "allow name \"aA \\\"\\\\\"");
	expect_show("allow name \"\\x00\\x7f\\x1b\"",
	    "allow name \"\\x00\\x7f\\x1b\"");
	/* Comments end a rule; blanks around it are ignored. */
	expect_show("  allow\tname \"a\"   # why", "allow name \"a\"");
	expect_show("allow#x", "allow");
	/* true/false drop an argument, as usbguard does. */
	expect_show("allow if true(1)", "allow if true");
	expect_show("allow if { !rule-evaluated(10m) random(0.25) }",
	    "allow if { !rule-evaluated(10m) random(0.25) }");
	expect_show("allow if none-of { seat-user(taro) seat-group(somu) }",
	    "allow if none-of { seat-user(taro) seat-group(somu) }");
	expect_show("read-only kind { storage sd } bus usb label \"記録媒体\"",
	    "read-only kind { storage sd } bus usb label \"記録媒体\"");
	expect_show("allow if allowed-matches(name \"x\" if true)",
	    "allow if allowed-matches(name \"x\" if true)");
}

static void
test_utf8_output(void **state)
{
	char *t;

	(void)state;
	/* Japanese stays readable; --ascii escapes it as usbguard does. */
	expect_show("allow name \"日本\"", "allow name \"日本\"");
	t = rule_show("allow name \"日本\"", POL_SHOW_ASCII);
	assert_string_equal(t,
	    "allow name \"\\xe6\\x97\\xa5\\xe6\\x9c\\xac\"");
	free(t);
	/* Bytes that are not UTF-8, and characters that disguise text (RTL
	 * override, C1 controls), are escaped even without --ascii. */
	expect_show("allow serial \"\\xe6\\x97\"",
	    "allow serial \"\\xe6\\x97\"");
	expect_show("allow serial \"a\xe2\x80\xae" "b\"",
	    "allow serial \"a\\xe2\\x80\\xaeb\"");
	expect_show("allow serial \"\\xc2\\x85\"", "allow serial \"\\xc2\\x85\"");
}

struct bad {
	const char *text;
	unsigned line, col;
	const char *msg;
};

static const struct bad bad_rules[] = {
	{ "alloww", 1, 1, "expected a target" },
	{ "allow allow", 1, 7, "unknown attribute \"allow\"" },
	{ "allow 1234:123", 1, 12, "four hex digits" },
	{ "allow *:1234", 1, 7, "product id needs a vendor id" },
	{ "allow 1234:1234 id 1234:1234", 1, 17, "id attribute already" },
	{ "allow id asdf:*", 1, 10, "four hex digits" },
	{ "allow name", 1, 11, "expected a value after \"name\"" },
	{ "allow name \"a", 1, 12, "unterminated string" },
	{ "allow name \"a\\q\"", 1, 14, "unknown escape" },
	{ "allow name \"a\\tb\"", 1, 14, "unknown escape" },
	{ "allow name \"\\x4\"", 1, 13, "two hex digits" },
	{ "allow name one-of", 1, 18, "expected blanks and {" },
	{ "allow name one-of { a }", 1, 21, "expected a \"string\"" },
	{ "allow name { }", 1, 14, "expected a \"string\"" },
	{ "allow name { \"a\"", 1, 17, "missing }" },
	{ "allow name } a {", 1, 12, "expected a \"string\"" },
	{ "allow name \"a\"name \"b\"", 1, 15, "expected a blank" },
	{ "allow name \"a\" name \"b\"", 1, 16, "name attribute already" },
	{ "allow with-interface 1::", 1, 22, "two hex digits" },
	{ "allow with-interface 12:*:34", 1, 22, "protocol needs a subclass" },
	{ "allow with-interface *:*:*", 1, 22, "two hex digits" },
	{ "allow with-interface some { 12:12:12 }", 1, 22, "two hex" },
	{ "allow unknown-attribute \"s\"", 1, 7, "unknown attribute" },
	{ "allow if", 1, 9, "expected a condition" },
	{ "allow if unknown-condition", 1, 10, "unknown condition" },
	{ "allow if random(", 1, 16, "missing )" },
	{ "allow if !!true", 1, 11, "expected a condition" },
	{ "allow if true if false", 1, 15, "conditions already defined" },
	{ "allow if true((", 1, 14, "missing )" },
	{ "allow if allowed-matches(fooo)", 1, 26, "unknown attribute" },
	{ "allow if allowed-matches()", 1, 26, "needs a device query" },
	{ "allow if localtime(25:00)", 1, 20, "hours 0-23" },
	{ "allow if localtime(2:00-1:00)", 1, 20, "ends before" },
	{ "allow if localtime(23:61)", 1, 20, "HH:MM" },
	{ "allow if random(1.5)", 1, 17, "probability" },
	{ "allow if rule-applied(1x)", 1, 23, "duration" },
	{ "allow if seat-user()", 1, 20, "user name" },
	{ "allow if seat-group", 1, 10, "group name" },
	{ "allow kind phone", 1, 12, "unknown device kind \"phone\"" },
	{ "allow bus pci", 1, 11, "unknown bus" },
	{ "allow key \"k\"", 1, 7, "unknown attribute \"key\"" },
	{ "read-only label \"日本語\" nam \"x\"", 1, 23, "unknown attribute" },
	{ "allow serial \"a\rb\"", 1, 16, "carriage return" },
};

static void
test_errors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_rules) / sizeof(bad_rules[0]); i++)
		must_fail(bad_rules[i].text, bad_rules[i].line,
		    bad_rules[i].col, bad_rules[i].msg);
}

static void
test_set_limit(void **state)
{
	char *big, *p;
	size_t i, at = 0;

	(void)state;
	/* POL_SET_MAX + 1 values in one set: the error names the first
	 * value past the limit. */
	big = malloc(16 * (POL_SET_MAX + 1) + 64);
	assert_non_null(big);
	p = big;
	p += snprintf(p, 32, "allow serial { ");
	for (i = 0; i <= POL_SET_MAX; i++) {
		if (i == POL_SET_MAX)
			at = (size_t)(p - big);
		p += snprintf(p, 16, "\"%zu\" ", i);
	}
	snprintf(p, 4, "}");
	must_fail(big, 1, (unsigned)at + 1, "more than 1024 values");
	free(big);
}

static void
test_string_limit(void **state)
{
	char *big;

	(void)state;
	big = malloc(POL_STRING_MAX + 64);
	assert_non_null(big);
	memcpy(big, "allow name \"", 12);
	memset(big + 12, 'a', POL_STRING_MAX + 1);
	memcpy(big + 12 + POL_STRING_MAX + 1, "\"", 2);
	must_fail(big, 1, 12, "string longer than 4096 bytes");
	/* Exactly at the limit is fine. */
	memcpy(big + 12 + POL_STRING_MAX, "\"", 2);
	pol_policy_free(must_parse(big));
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_normalize_more),
		cmocka_unit_test(test_utf8_output),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_set_limit),
		cmocka_unit_test(test_string_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
