/* SPDX-License-Identifier: BSD-2-Clause */
/* The policy file: sections, settings, defaults, every error reported with
 * its position, encodings, and the login helpers. */
#include <errno.h>
#include <stdio.h>

#include "helpers.h"

static void
test_defaults(void **state)
{
	struct pol_policy *p = must_parse("[devices]\ndefault read-only\n");
	const struct pol_login *l = pol_policy_login(p);
	const struct pol_reporting *r = pol_policy_reporting(p);
	char *t;

	(void)state;
	assert_false(pol_policy_is_rules_only(p));
	assert_true(l->key_everyone);
	assert_true(l->user_verification);
	assert_int_equal(l->lockout_threshold, 5);
	assert_int_equal(l->unlock_after_s, 900);
	assert_int_equal(l->n_break_glass, 0);
	assert_null(r->collector);
	assert_int_equal(r->buffer_max_bytes, 64u << 20);
	assert_int_equal(r->buffer_max_age_s, 90u * 86400);
	assert_null(pol_policy_name(p));
	assert_int_equal(pol_policy_version(p), 0);
	t = show(p, 0);
	assert_string_equal(t, "[devices]\ndefault read-only\n\n[login]\n"
	    "require-key = *\nuser-verification = required\n"
	    "lockout-threshold = 5\nunlock-after = 15m\nbreak-glass =\n"
	    "credentials = /etc/mynaguard/credentials\n"
	    "relying-party = pam://mynaguard\nkey-timeout = 30s\n"
	    "key-models =\n\n[reporting]\nbuffer-size = 64MiB\nbuffer-max-age = 90d\n");
	free(t);
	pol_policy_free(p);
}

static void
test_settings(void **state)
{
	const char *text = "\xef\xbb\xbf# BOM and CRLF, as Notepad saves\r\n"
	    "[reporting]\r\n"
	    "collector = https://collector.town.lg.jp:8443/ingest  # note\r\n"
	    "buffer-size = 1GiB\r\n"
	    "buffer-max-age = 1w2d\r\n"
	    "[login]\r\n"
	    "require-key = taro @staff @zeimu hanako\r\n"
	    "user-verification = not-required\r\n"
	    "lockout-threshold = 3\r\n"
	    "unlock-after = 0\r\n"
	    "break-glass = admin1 admin2\r\n"
	    "credentials = /srv/keys/town.cred\r\n"
	    "relying-party = mynumber.town.lg.jp\r\n"
	    "key-timeout = 1m\r\n"
	    "key-models = CB69481E-8ff7-4039-93ec-0a2729a154a8 "
	    "ee882879721c491397753dfcce97072a\r\n"
	    "[policy]\r\n"
	    "name = \"マイナンバー端末 \\\"標準\\\"\" # comment\r\n"
	    "version = 42\r\n"
	    "[devices]\r\n"
	    "default reject\r\n";
	const char *const groups[] = { "users", "zeimu" };
	struct pol_policy *p = must_parse(text);
	const struct pol_login *l = pol_policy_login(p);
	char *t;

	(void)state;
	assert_string_equal(pol_policy_reporting(p)->collector,
	    "https://collector.town.lg.jp:8443/ingest");
	assert_int_equal(pol_policy_reporting(p)->buffer_max_bytes, 1u << 30);
	assert_int_equal(pol_policy_reporting(p)->buffer_max_age_s,
	    9u * 86400);
	assert_false(l->key_everyone);
	assert_int_equal(l->n_key_users, 2);
	assert_int_equal(l->n_key_groups, 2);
	assert_false(l->user_verification);
	assert_int_equal(l->lockout_threshold, 3);
	assert_int_equal(l->unlock_after_s, 0);
	assert_string_equal(l->credentials, "/srv/keys/town.cred");
	assert_string_equal(l->relying_party, "mynumber.town.lg.jp");
	assert_int_equal(l->key_timeout_s, 60);
	assert_int_equal(l->n_key_models, 2);
	assert_int_equal(l->key_models[0][0], 0xcb);
	assert_int_equal(l->key_models[1][15], 0x2a);
	assert_string_equal(pol_policy_name(p), "マイナンバー端末 \"標準\"");
	assert_int_equal(pol_policy_version(p), 42);
	/* Who needs a key. */
	assert_int_equal(pol_login_requires_key(p, "taro", NULL, 0), 1);
	assert_int_equal(pol_login_requires_key(p, "jiro", groups, 2), 1);
	assert_int_equal(pol_login_requires_key(p, "jiro", groups, 1), 0);
	assert_int_equal(pol_login_requires_key(p, "admin1", NULL, 0), 0);
	assert_int_equal(pol_login_is_break_glass(p, "admin2"), 1);
	assert_int_equal(pol_login_is_break_glass(p, "taro"), 0);
	assert_int_equal(pol_login_requires_key(p, NULL, NULL, 0), -EINVAL);
	t = show(p, 0);
	assert_non_null(strstr(t, "require-key = taro hanako @staff @zeimu\n"));
	assert_non_null(strstr(t, "unlock-after = 0\n"));
	assert_non_null(strstr(t, "buffer-size = 1GiB\n"));
	assert_non_null(strstr(t, "buffer-max-age = 9d\n"));
	assert_non_null(strstr(t, "break-glass = admin1 admin2\n"));
	assert_non_null(strstr(t, "version = 42\n"));
	assert_non_null(strstr(t, "key-models = cb69481e-8ff7-4039-93ec-"
	    "0a2729a154a8 ee882879-721c-4913-9775-3dfcce97072a\n"));
	assert_non_null(strstr(t, "key-timeout = 1m\n"));
	free(t);
	pol_policy_free(p);
}

static void
test_every_error_reported(void **state)
{
	const char *text = "[policy]\n"
	    "version = x\n"
	    "[devices]\n"
	    "allow id 1234:5678 seriel \"x\"\n"
	    "block kind { mtp phone }\n"
	    "default read-onl\n"
	    "[login]\n"
	    "lockout-threshold = 0\n"
	    "color = blue\n"
	    "lockout-threshold = 3\n"
	    "lockout-threshold = 4\n"
	    "credentials = etc/creds\n"
	    "relying-party = pam://\n"
	    "key-models = 0123 cb69481e-8ff7-4039-93ec-0a2729a154a8\n"
	    "key-timeout = 10m\n";
	static const struct { unsigned line, col; const char *msg; } want[] = {
		{ 2, 11, "version must be a number" },
		{ 4, 20, "unknown attribute \"seriel\"" },
		{ 5, 18, "unknown device kind \"phone\"" },
		{ 6, 9, "default must be" },
		{ 8, 21, "lockout-threshold must be" },
		{ 9, 1, "unknown key \"color\"" },
		{ 10, 1, "already set" },
		{ 11, 1, "already set" },
		{ 12, 15, "credentials must be an absolute path" },
		{ 13, 17, "relying-party must be a host name" },
		{ 14, 14, "key-models: \"0123\" is not an AAGUID" },
		{ 15, 15, "key-timeout must be a duration" },
	};
	struct pol_diags *d = calloc(1, sizeof(*d));
	struct pol_policy *p = NULL;
	size_t i;

	(void)state;
	assert_int_equal(pol_policy_parse(text, strlen(text), d, &p), -EBADMSG);
	assert_null(p);
	assert_int_equal(d->n, sizeof(want) / sizeof(want[0]));
	assert_int_equal(d->n_total, d->n);
	for (i = 0; i < d->n; i++) {
		assert_int_equal(d->d[i].line, want[i].line);
		assert_int_equal(d->d[i].col, want[i].col);
		assert_non_null(strstr(d->d[i].msg, want[i].msg));
	}
	free(d);
}

static void
test_structure_errors(void **state)
{
	(void)state;
	must_fail("allow\n[devices]\ndefault block\n", 1, 1,
	    "expected a [section] first");
	must_fail("[devices]\nallow\n", 1, 1, "needs a default line");
	must_fail("[login]\nrequire-key = *\n", 2, 1, "missing [devices]");
	must_fail("[devices]\ndefault block\ndefault allow\n", 3, 1,
	    "default already given on line 2");
	must_fail("[devices]\ndefault match\n", 2, 9, "default must be");
	must_fail("[devices]\ndefault block extra\n", 2, 15, "unexpected");
	must_fail("[devices]\ndefault block\n[devices]\n", 3, 1,
	    "already began on line 1");
	must_fail("[device]\n", 1, 1, "unknown section");
	must_fail("[devices] x\ndefault block\n", 1, 11, "unexpected text after ]");
	must_fail("[devices]\ndefault block\n[login]\nrequire-key\n", 4, 12,
	    "expected = after");
	must_fail("[devices]\ndefault block\n[login]\nrequire-key =\n", 4, 14,
	    "needs * or at least one");
	must_fail("[devices]\ndefault block\n[login]\nrequire-key = * taro\n",
	    4, 15, "stands alone");
	must_fail("[devices]\ndefault block\n[login]\nrequire-key = t;aro\n",
	    4, 15, "not a valid user name");
	must_fail("[devices]\ndefault block\n[login]\nbreak-glass = @wheel\n",
	    4, 15, "groups are not allowed");
	must_fail("[devices]\ndefault block\n[login]\nunlock-after = 31d\n",
	    4, 16, "at most 30 days");
	must_fail("[devices]\ndefault block\n[login]\n"
	    "user-verification = yes\n", 4, 21, "\"required\" or");
	must_fail("[devices]\ndefault block\n[reporting]\n"
	    "collector = http://x/\n", 4, 13, "https://");
	must_fail("[devices]\ndefault block\n[reporting]\n"
	    "collector = https://user@host/\n", 4, 25, "no user name");
	must_fail("[devices]\ndefault block\n[reporting]\n"
	    "collector = https://host:99999/\n", 4, 30, "https://");
	must_fail("[devices]\ndefault block\n[reporting]\n"
	    "buffer-size = 100KiB\n", 4, 15, "from 1MiB to 64GiB");
	must_fail("[devices]\ndefault block\n[reporting]\n"
	    "buffer-size = 65GiB\n", 4, 15, "from 1MiB to 64GiB");
	must_fail("[devices]\ndefault block\n[policy]\nname = 日本\n", 4, 8,
	    "expected a \"string\"");
}

static void
test_encoding(void **state)
{
	(void)state;
	/* Shift_JIS text is refused at the first bad byte, in characters. */
	must_fail("[devices]\n# \xe6\x97\xa5 \x93\xfa\x96\x7b\ndefault block\n",
	    2, 5, "invalid UTF-8");
	must_fail("allow name \"\xff\"\n", 1, 13, "invalid UTF-8");
}

static void
test_limits(void **state)
{
	struct pol_diags *d = calloc(1, sizeof(*d));
	struct pol_policy *p = NULL;
	char *big;
	size_t i;

	(void)state;
	assert_non_null(d);
	big = malloc(POL_TEXT_MAX + 2);
	assert_non_null(big);
	memset(big, '#', POL_TEXT_MAX + 1);
	assert_int_equal(pol_policy_parse(big, POL_TEXT_MAX + 1, d, &p),
	    -E2BIG);
	assert_null(p);
	/* A too-long line is an error, the next lines are still checked. */
	memset(big, ' ', POL_LINE_MAX + 1);
	memcpy(big + POL_LINE_MAX + 1, "\nallow kind x\n", 15);
	assert_int_equal(pol_policy_parse(big, strlen(big), d, &p), -EBADMSG);
	assert_int_equal(d->n, 2);
	assert_int_equal(d->d[0].line, 1);
	assert_int_equal(d->d[1].line, 2);
	/* More errors than are kept: counted, first ones kept in order. */
	for (i = 0; i < POL_DIAG_MAX + 10; i++)
		memcpy(big + i * 6, "bogus\n", 6);
	big[i * 6] = '\0';
	assert_int_equal(pol_policy_parse(big, strlen(big), d, &p), -EBADMSG);
	assert_int_equal(d->n, POL_DIAG_MAX);
	assert_int_equal(d->n_total, POL_DIAG_MAX + 10);
	assert_int_equal(d->d[POL_DIAG_MAX - 1].line, POL_DIAG_MAX);
	free(big);
	free(d);
}

static void
test_bad_args(void **state)
{
	struct pol_policy *p = NULL;
	char *t = NULL;
	size_t n;

	(void)state;
	assert_int_equal(pol_policy_parse(NULL, 1, NULL, &p), -EINVAL);
	assert_int_equal(pol_policy_parse("", 0, NULL, NULL), -EINVAL);
	/* An empty text is an empty rule file: valid, blocks everything. */
	assert_int_equal(pol_policy_parse("", 0, NULL, &p), 0);
	assert_true(pol_policy_is_rules_only(p));
	assert_int_equal(pol_policy_show(p, 0, &t, &n), 0);
	assert_int_equal(n, 0);
	free(t);
	assert_int_equal(pol_policy_show(NULL, 0, &t, &n), -EINVAL);
	pol_policy_free(p);
	pol_policy_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_every_error_reported),
		cmocka_unit_test(test_structure_errors),
		cmocka_unit_test(test_encoding),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_bad_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
