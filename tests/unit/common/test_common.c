/* SPDX-License-Identifier: BSD-2-Clause */
/* sbuf, arena, parse_*, utf8_* and file_read_all. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "mynaguard/common.h"
#include "oom.h"

static void
test_sbuf_bounded(void **state)
{
	struct sbuf b;
	char *out = NULL;
	size_t len = 0;

	(void)state;
	sbuf_init(&b, 8);
	assert_int_equal(sbuf_puts(&b, "abcd"), 0);
	assert_int_equal(sbuf_printf(&b, "%d", 123), 0);
	assert_string_equal(b.data, "abcd123");
	/* One byte too many: refused, contents unchanged. */
	assert_int_equal(sbuf_puts(&b, "xy"), -E2BIG);
	assert_string_equal(b.data, "abcd123");
	assert_int_equal(sbuf_putc(&b, 'z'), 0);
	assert_int_equal(sbuf_putc(&b, 'z'), -E2BIG);
	assert_int_equal(sbuf_printf(&b, "%s", "q"), -E2BIG);
	assert_int_equal(sbuf_steal(&b, &out, &len), 0);
	assert_string_equal(out, "abcd123z");
	assert_int_equal(len, 8);
	assert_null(b.data);
	free(out);
	/* Stealing an empty buffer gives an empty string, not NULL. */
	assert_int_equal(sbuf_steal(&b, &out, &len), 0);
	assert_string_equal(out, "");
	assert_int_equal(len, 0);
	free(out);
}

static void
test_sbuf_oom(void **state)
{
	struct sbuf b;

	(void)state;
	sbuf_init(&b, 1024);
	oom_fail_at(1);
	assert_int_equal(sbuf_puts(&b, "x"), -ENOMEM);
	oom_fail_at(0);
	assert_int_equal(sbuf_puts(&b, "x"), 0);
	sbuf_clear(&b);
}

static void
test_arena(void **state)
{
	struct arena *a = NULL;
	char *s;
	int *big;
	size_t i;

	(void)state;
	assert_int_equal(arena_new(&a), 0);
	s = arena_memdup(a, "hello", 5);
	assert_string_equal(s, "hello");
	assert_true(((uintptr_t)arena_alloc(a, 3) % _Alignof(max_align_t)) == 0);
	big = arena_alloc(a, 100000 * sizeof(int));	/* larger than a chunk */
	assert_non_null(big);
	for (i = 0; i < 100000; i++)
		assert_int_equal(big[i], 0);
	assert_string_equal(s, "hello");
	assert_null(arena_alloc(a, SIZE_MAX));
	arena_free(a);
	arena_free(NULL);
}

static void
test_parse_u32(void **state)
{
	uint32_t v = 7;

	(void)state;
	assert_int_equal(parse_u32("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_u32("4294967295", 0, UINT32_MAX, &v), 0);
	assert_int_equal(v, UINT32_MAX);
	v = 7;
	assert_int_equal(parse_u32("4294967296", 0, UINT32_MAX, &v), -ERANGE);
	assert_int_equal(parse_u32("99999999999999999999999", 0, 5, &v),
	    -ERANGE);
	assert_int_equal(parse_u32("11", 0, 10, &v), -ERANGE);
	assert_int_equal(parse_u32("1", 2, 10, &v), -ERANGE);
	assert_int_equal(parse_u32("", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_u32("-1", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_u32("+1", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_u32(" 1", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_u32("1 ", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_u32("0x1", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_u32(NULL, 0, 10, &v), -EINVAL);
	/* Written only on success. */
	assert_int_equal(v, 7);
	assert_int_equal(parse_hexdigit('a'), 10);
	assert_int_equal(parse_hexdigit('F'), 15);
	assert_int_equal(parse_hexdigit('g'), -1);
}

static void
test_utf8(void **state)
{
	size_t bad = 99;

	(void)state;
	assert_int_equal(utf8_validate("日本語 abc", strlen("日本語 abc"),
	    &bad), 0);
	assert_int_equal(utf8_count("日本語 abc", strlen("日本語 abc")), 7);
	/* Shift_JIS "日本" is not UTF-8. */
	assert_int_equal(utf8_validate("ab\x93\xfa\x96\x7b", 6, &bad),
	    -EILSEQ);
	assert_int_equal(bad, 2);
	/* Overlong '/', a surrogate, beyond U+10FFFF, truncated. */
	assert_int_equal(utf8_validate("\xc0\xaf", 2, &bad), -EILSEQ);
	assert_int_equal(utf8_validate("\xed\xa0\x80", 3, &bad), -EILSEQ);
	assert_int_equal(utf8_validate("\xf4\x90\x80\x80", 4, &bad), -EILSEQ);
	assert_int_equal(utf8_validate("x\xe6\x97", 3, &bad), -EILSEQ);
	assert_int_equal(bad, 1);
	assert_int_equal(utf8_seqlen("\xf0\x9f\x98\x80", 4), 4);
	assert_int_equal(utf8_seqlen("\xf0\x9f\x98\x80", 3), 0);
}

static char *
temp_file(const char *content, mode_t mode)
{
	char *path = strdup("/tmp/mg-test-XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)),
	    (ssize_t)strlen(content));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static void
test_file_read(void **state)
{
	char *path = temp_file("policy text\n", 0644), *text = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(file_read_all(path, 100, 0, &text, &len), 0);
	assert_string_equal(text, "policy text\n");
	assert_int_equal(len, 12);
	free(text);
	text = NULL;
	/* Size is checked before reading. */
	assert_int_equal(file_read_all(path, 5, 0, &text, &len), -E2BIG);
	assert_null(text);
	/* Relative paths are never trusted. */
	assert_int_equal(file_read_all("x", 100, FILE_TRUSTED, &text, &len),
	    -EPERM);
	assert_int_equal(file_read_all("/nonexistent/x", 100, 0, &text, &len),
	    -ENOENT);
	assert_int_equal(file_read_all("/tmp", 100, 0, &text, &len), -EINVAL);
	if (geteuid() == 0) {
		/* Root-owned and 0644: trusted; group-writable: not. */
		assert_int_equal(file_read_all(path, 100, FILE_TRUSTED, &text,
		    &len), 0);
		free(text);
		text = NULL;
		assert_int_equal(chmod(path, 0664), 0);
		assert_int_equal(file_read_all(path, 100, FILE_TRUSTED, &text,
		    &len), -EPERM);
	} else
		assert_int_equal(file_read_all(path, 100, FILE_TRUSTED, &text,
		    &len), -EPERM);
	unlink(path);
	free(path);
}

static void
test_file_symlink_untrusted(void **state)
{
	char *path = temp_file("x", 0644), *text = NULL;
	char link[64];
	size_t len;

	(void)state;
	assert_true(snprintf(link, sizeof(link), "%s.lnk", path) <
	    (int)sizeof(link));
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(file_read_all(link, 100, FILE_TRUSTED, &text, &len),
	    -EPERM);
	assert_int_equal(file_read_all(link, 100, 0, &text, &len), 0);
	free(text);
	unlink(link);
	unlink(path);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sbuf_bounded),
		cmocka_unit_test(test_sbuf_oom),
		cmocka_unit_test(test_arena),
		cmocka_unit_test(test_parse_u32),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_file_read),
		cmocka_unit_test(test_file_symlink_untrusted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
