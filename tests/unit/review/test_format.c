/* SPDX-License-Identifier: BSD-2-Clause */
/* mynaguard-review's formatting: CSV quoting, BOM and formula guard;
 * display width and cleaning of Japanese, ASCII and hostile strings;
 * --since/--until parsing; the JSON reader; query encoding. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "oom.h"
#include "review.h"

static void
csv_is(const char *in, size_t len, const char *want)
{
	struct sbuf b;

	sbuf_init(&b, 4096);
	assert_int_equal(rv_csv_field(&b, in, len, true), 0);
	assert_string_equal(b.data != NULL ? b.data : "", want);
	sbuf_clear(&b);
}

static void
test_csv_quoting(void **state)
{
	(void)state;
	csv_is("plain", 5, "plain");
	csv_is("a,b", 3, "\"a,b\"");
	csv_is("say \"hi\"", 8, "\"say \"\"hi\"\"\"");
	csv_is("two\r\nlines", 10, "\"two\r\nlines\"");
	csv_is("line\nfeed", 9, "\"line\nfeed\"");
	csv_is("税務課 端末", strlen("税務課 端末"), "税務課 端末");
	csv_is("", 0, "");
}

static void
test_csv_formula_guard(void **state)
{
	(void)state;
	csv_is("=HYPERLINK(\"http://x\")", 22,
	    "\"'=HYPERLINK(\"\"http://x\"\")\"");
	csv_is("+1", 2, "'+1");
	csv_is("-2+3", 4, "'-2+3");
	csv_is("@SUM(A1)", 8, "'@SUM(A1)");
	csv_is("\tx", 2, "'\tx");
	csv_is("\rx", 2, "\"'\rx\"");
	/* Only the first character counts. */
	csv_is("a=b", 3, "a=b");
	csv_is("1-2", 3, "1-2");
}

static void
test_csv_controls_and_row(void **state)
{
	struct sbuf b;

	(void)state;
	/* ESC, NUL, DEL and C1 never reach the file raw. */
	csv_is("a\x1b[31mb", 7, "a?[31mb");
	csv_is("n\0l", 3, "n?l");
	csv_is("d\x7f", 2, "d?");
	csv_is("c\xc2\x9b"
	       "1",
	    4, "c?1");
	csv_is("bad\xff", 4, "bad?");
	sbuf_init(&b, 4096);
	assert_int_equal(sbuf_puts(&b, RV_CSV_BOM), 0);
	assert_int_equal(rv_csv_field(&b, "ID", 2, true), 0);
	assert_int_equal(rv_csv_field(&b, "日時", strlen("日時"), false), 0);
	assert_int_equal(rv_csv_end(&b), 0);
	assert_int_equal(rv_csv_field(&b, "1", 1, true), 0);
	assert_int_equal(rv_csv_field(&b, "x,y", 3, false), 0);
	assert_int_equal(rv_csv_end(&b), 0);
	assert_memory_equal(b.data, "\xef\xbb\xbf", 3);
	assert_string_equal(b.data + 3, "ID,日時\r\n1,\"x,y\"\r\n");
	sbuf_clear(&b);
}

static void
clean_is(
    const char *in, size_t len, size_t max, const char *want, size_t want_cols)
{
	struct sbuf b;
	size_t cols = 0;

	sbuf_init(&b, 4096);
	assert_int_equal(rv_width_clean(&b, in, len, max, &cols), 0);
	assert_string_equal(b.data != NULL ? b.data : "", want);
	assert_int_equal(cols, want_cols);
	if (max == 0)
		assert_int_equal(rv_width_of(in, len), want_cols);
	sbuf_clear(&b);
}

static void
test_width_cp(void **state)
{
	(void)state;
	assert_int_equal(rv_width_cp('a'), 1);
	assert_int_equal(rv_width_cp(0x3042), 2);  /* あ */
	assert_int_equal(rv_width_cp(0x30a2), 2);  /* ア */
	assert_int_equal(rv_width_cp(0x6f22), 2);  /* 漢 */
	assert_int_equal(rv_width_cp(0x3001), 2);  /* 、 */
	assert_int_equal(rv_width_cp(0xff21), 2);  /* Ａ */
	assert_int_equal(rv_width_cp(0xff71), 1);  /* ｱ half-width */
	assert_int_equal(rv_width_cp(0xe9), 1);	   /* é */
	assert_int_equal(rv_width_cp(0x301), 0);   /* combining acute */
	assert_int_equal(rv_width_cp(0x1f600), 2); /* emoji */
	assert_int_equal(rv_width_cp(0x20b9f), 2); /* 𠮟 */
	assert_int_equal(rv_width_cp(0x1b), -1);
	assert_int_equal(rv_width_cp(0x7f), -1);
	assert_int_equal(rv_width_cp(0x9b), -1);   /* C1 CSI */
	assert_int_equal(rv_width_cp(0x202e), -1); /* RLO */
	assert_int_equal(rv_width_cp(0x2066), -1); /* LRI */
}

static void
test_width_mixed(void **state)
{
	(void)state;
	clean_is("abc", 3, 0, "abc", 3);
	clean_is("税務pc01", strlen("税務pc01"), 0, "税務pc01", 8);
	clean_is("ｱｲｳ", strlen("ｱｲｳ"), 0, "ｱｲｳ", 3);
	clean_is("ＵＳＢメモリ", strlen("ＵＳＢメモリ"), 0, "ＵＳＢメモリ", 12);
	clean_is("e\xcc\x81", 3, 0, "e\xcc\x81", 1);
}

static void
test_width_hostile(void **state)
{
	(void)state;
	/* An escape sequence that would clear the screen. */
	clean_is("\x1b[2J\x1b[H", 7, 0, "\\x1b[2J\\x1b[H", 13);
	clean_is("a\nb\tc\r", 6, 0, "a\\x0ab\\x09c\\x0d", 15);
	clean_is("nul\0x", 5, 0, "nul\\x00x", 8);
	clean_is("\xc2\x9b"
		 "31m",
	    5, 0, "?31m", 4); /* C1 CSI */
	/* Trojan Source: RLO reverses what follows. */
	clean_is("ok\xe2\x80\xaegpj.exe", 12, 0, "ok?gpj.exe", 10);
	clean_is("\xff\xfe", 2, 0, "\\xff\\xfe", 8);
	/* An overlong encoding of '/' and a lone surrogate. */
	clean_is("\xc0\xaf", 2, 0, "\\xc0\\xaf", 8);
	clean_is("\xed\xa0\x80", 3, 0, "\\xed\\xa0\\x80", 12);
	/* A truncated sequence at the end. */
	clean_is("あ\xe3\x81", 5, 0, "あ\\xe3\\x81", 10);
}

static void
test_width_truncate(void **state)
{
	(void)state;
	clean_is("abcdef", 6, 6, "abcdef", 6);
	clean_is("abcdefg", 7, 6, "abcde…", 6);
	/* A wide character that would straddle the limit is left out. */
	clean_is("あいうえ", strlen("あいうえ"), 6, "あい…", 5);
	clean_is("aあいう", strlen("aあいう"), 6, "aあい…", 6);
	clean_is("\x1b\x1b", 2, 6, "\\x1b…", 5);
	clean_is("xy", 2, 1, "…", 1);
}

static void
time_is(const char *in, const char *want)
{
	char out[RV_TIME_LEN];

	assert_int_equal(rv_time_parse(in, out), 0);
	assert_string_equal(out, want);
}

static void
test_time_rfc3339(void **state)
{
	char out[RV_TIME_LEN];

	(void)state;
	time_is("2026-11-29T12:00:00Z", "2026-11-29T12:00:00.000000000Z");
	time_is("2026-11-29T12:00:00.5Z", "2026-11-29T12:00:00.500000000Z");
	time_is(
	    "2026-11-29T12:00:00.123456789Z", "2026-11-29T12:00:00.123456789Z");
	time_is("2026-11-29T09:00:00+09:00", "2026-11-29T00:00:00.000000000Z");
	time_is("2026-11-29T00:30:00-01:00", "2026-11-29T01:30:00.000000000Z");
	time_is("2026-01-01T03:00:00+09:00", "2025-12-31T18:00:00.000000000Z");
	time_is("2024-02-29t00:00:00z", "2024-02-29T00:00:00.000000000Z");
	assert_int_equal(rv_time_parse("2026-11-29T12:00:00", out), -EINVAL);
	assert_int_equal(rv_time_parse("2026-11-29T24:00:00Z", out), -EINVAL);
	assert_int_equal(rv_time_parse("2026-13-01T00:00:00Z", out), -EINVAL);
	assert_int_equal(rv_time_parse("2025-02-29T00:00:00Z", out), -EINVAL);
	assert_int_equal(rv_time_parse("2026-11-29T12:00:00.Z", out), -EINVAL);
	assert_int_equal(
	    rv_time_parse("2026-11-29T12:00:00.1234567890Z", out), -EINVAL);
	assert_int_equal(
	    rv_time_parse("2026-11-29T12:00:00+9:00", out), -EINVAL);
	assert_int_equal(rv_time_parse("yesterday", out), -EINVAL);
	assert_int_equal(rv_time_parse("", out), -EINVAL);
}

static void
test_time_date_is_local_midnight(void **state)
{
	char out[RV_TIME_LEN], local[32];
	const char *api = "2026-11-28T15:00:00.000000000Z";

	(void)state;
	/* POSIX zone strings: no tzdata needed. */
	setenv("TZ", "JST-9", 1);
	tzset();
	time_is("2026-11-29", "2026-11-28T15:00:00.000000000Z");
	rv_time_local(api, strlen(api), local);
	assert_string_equal(local, "2026-11-29 00:00:00");
	setenv("TZ", "UTC0", 1);
	tzset();
	time_is("2026-11-29", "2026-11-29T00:00:00.000000000Z");
	setenv("TZ", "EST5EDT,M3.2.0,M11.1.0", 1);
	tzset();
	time_is("2026-07-01", "2026-07-01T04:00:00.000000000Z"); /* EDT */
	time_is("2026-12-01", "2026-12-01T05:00:00.000000000Z"); /* EST */
	assert_int_equal(rv_time_parse("2026-02-30", out), -EINVAL);
	assert_int_equal(rv_time_parse("2026/11/29", out), -EINVAL);
	assert_int_equal(rv_time_parse("1969-12-31", out), -EINVAL);
	/* Not a time: shown as it is (cleaned later by the table). */
	rv_time_local("garbage", 7, local);
	assert_string_equal(local, "garbage");
	unsetenv("TZ");
	tzset();
}

static void
test_json_reader(void **state)
{
	static const char text[] =
	    "{\"events\": [{\"id\": 7, \"user\": null,"
	    " \"body\": {\"message\":\"a\\u3042\\n\\ud83d\\ude00\", \"x\":[1,"
	    "true]}}], \"next_before\": 6}";
	const struct rv_json *ev, *body;
	struct rv_json *j = NULL;
	struct arena *a = NULL;
	size_t n;
	const char *s;

	(void)state;
	assert_int_equal(arena_new(&a), 0);
	assert_int_equal(rv_json_parse(a, text, sizeof(text) - 1, &j), 0);
	ev = rv_json_get(j, "events")->child;
	assert_non_null(ev);
	s = rv_json_text(ev, "id", &n);
	assert_int_equal(n, 1);
	assert_memory_equal(s, "7", 1);
	rv_json_text(ev, "user", &n);
	assert_int_equal(n, 0);
	body = rv_json_get(ev, "body");
	/* Raw bytes, exactly as in the answer, for --format ndjson. */
	assert_int_equal(body->raw_len,
	    strlen("{\"message\":\"a\\u3042\\n"
		   "\\ud83d\\ude00\", \"x\":[1,true]}"));
	assert_memory_equal(body->raw, "{\"message\"", 10);
	s = rv_json_text(body, "message", &n);
	assert_int_equal(n, 9);
	assert_memory_equal(s, "a\xe3\x81\x82\n\xf0\x9f\x98\x80", 9);
	/* Numbers point into the text: not NUL-terminated. */
	assert_int_equal(rv_json_get(j, "next_before")->str_len, 1);
	assert_memory_equal(rv_json_get(j, "next_before")->str, "6", 1);
	assert_null(rv_json_path(j, "events.nothing"));
	arena_free(a);
	assert_int_equal(arena_new(&a), 0);
	assert_int_equal(
	    rv_json_parse(a, "{\"a\":1,\"a\":2}", 13, &j), -EBADMSG);
	assert_int_equal(rv_json_parse(a, "{\"a\":", 5, &j), -EBADMSG);
	arena_free(a);
}

static void
test_query_encoding(void **state)
{
	struct sbuf u;

	(void)state;
	sbuf_init(&u, 4096);
	assert_int_equal(sbuf_puts(&u, "/v1/review/events"), 0);
	assert_int_equal(rv_query_add(&u, "terminal", "zeimu-pc01"), 0);
	assert_int_equal(rv_query_add(&u, "q", "a&b=c d/税"), 0);
	assert_int_equal(
	    rv_query_add(&u, "since", "2026-11-28T15:00:00.000000000Z"), 0);
	assert_string_equal(u.data,
	    "/v1/review/events?terminal=zeimu-pc01"
	    "&q=a%26b%3Dc%20d%2F%E7%A8%8E"
	    "&since=2026-11-28T15%3A00%3A00.000000000Z");
	sbuf_clear(&u);
}

static void
test_table_alignment(void **state)
{
	static const char *const head[] = { "端末", "詳細" };
	static const size_t max[] = { 8, 0 };
	const char *r1[] = { "pc01", "ok" }, *r2[] = { "税務課の端末", "x" };
	const char *r3[] = { "\x1b[31m", "y" };
	size_t l1[] = { 4, 2 }, l2[] = { strlen(r2[0]), 1 }, l3[] = { 5, 1 };
	struct rv_table t;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	(void)state;
	assert_non_null(f);
	rv_table_init(&t, 2, head, max);
	assert_int_equal(rv_table_add(&t, r1, l1), 0);
	assert_int_equal(rv_table_add(&t, r2, l2), 0);
	assert_int_equal(rv_table_add(&t, r3, l3), 0);
	assert_int_equal(rv_table_print(&t, f), 0);
	fclose(f);
	/* Column 1 is 8 display columns wide plus 2 spaces. */
	/* The widest cell is \x1b[31m, 8 columns, plus 2 spaces. */
	assert_string_equal(out,
	    "端末      詳細\n"
	    "pc01      ok\n"
	    "税務課…   x\n"
	    "\\x1b[31m  y\n");
	free(out);
	rv_table_clear(&t);
}

/* Every allocation failure is reported, never a crash or a leak. */
static void
test_oom(void **state)
{
	static const char text[] = "{\"a\":[{\"b\":\"\\u00e9\"}],\"c\":\"d\"}";
	struct rv_json *j;
	struct arena *a;
	struct sbuf b;
	size_t n;
	int r, hit;

	(void)state;
	for (n = 1;; n++) {
		a = NULL;
		oom_fail_at(n);
		r = arena_new(&a);
		if (r == 0)
			r = rv_json_parse(a, text, sizeof(text) - 1, &j);
		sbuf_init(&b, 4096);
		if (r == 0)
			r = rv_width_clean(&b, "税\x1bx", 5, 0, NULL);
		if (r == 0)
			r = rv_csv_field(&b, "=1,2", 4, true);
		hit = oom_triggered();
		oom_fail_at(0);
		sbuf_clear(&b);
		arena_free(a);
		if (!hit) {
			assert_int_equal(r, 0);
			break;
		}
		assert_int_equal(r, -ENOMEM);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csv_quoting),
		cmocka_unit_test(test_csv_formula_guard),
		cmocka_unit_test(test_csv_controls_and_row),
		cmocka_unit_test(test_width_cp),
		cmocka_unit_test(test_width_mixed),
		cmocka_unit_test(test_width_hostile),
		cmocka_unit_test(test_width_truncate),
		cmocka_unit_test(test_time_rfc3339),
		cmocka_unit_test(test_time_date_is_local_midnight),
		cmocka_unit_test(test_json_reader),
		cmocka_unit_test(test_query_encoding),
		cmocka_unit_test(test_table_alignment),
		cmocka_unit_test(test_oom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
