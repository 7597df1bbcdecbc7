/* SPDX-License-Identifier: BSD-2-Clause */
/* Device notices: hostile USB strings made safe, the Japanese and English
 * texts of every kind, and notice_send() never holding up the agent. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "mynaguard/common.h"
#include "notify.h"
#include "oom.h"

#define FFFD "\xef\xbf\xbd"
#define ELL "\xe2\x80\xa6"

static const char *const kind_words[] = { "storage", "sd", "mtp", "ptp",
	"optical", "hid", "network", "other", "unknown", NULL };
static const enum notice_kind kinds[] = { NOTICE_READ_ONLY, NOTICE_BLOCKED,
	NOTICE_ALLOWED, NOTICE_MOUNT_FORCED_RO };

static char *
san(const char *s)
{
	static char buf[NOTICE_NAME_SIZE];
	int r = notice_sanitize(s, NOTICE_NAME_CHARS, buf, sizeof(buf));

	assert_true(r >= 0);
	assert_int_equal((size_t)r, strlen(buf));
	return buf;
}

static char *
repeat(const char *unit, size_t n)
{
	static char buf[4096];
	size_t i, len = strlen(unit);

	assert_true(n * len < sizeof(buf));
	for (i = 0; i < n; i++)
		memcpy(buf + i * len, unit, len);
	buf[n * len] = '\0';
	return buf;
}

/* buf = a b c, checked (a cut test string would prove nothing). */
static char *
join(char *buf, size_t size, const char *a, const char *b, const char *c)
{
	size_t na = strlen(a), nb = strlen(b), nc = strlen(c);

	assert_true(na + nb + nc < size);
	memcpy(buf, a, na);
	memcpy(buf + na, b, nb);
	memcpy(buf + na + nb, c, nc + 1);
	return buf;
}

/* What every sanitized string must be: valid UTF-8 without C0, DEL, C1 or
 * bidi controls and without the quotes that delimit it in a message. */
static void
assert_safe(const char *s, size_t max_chars)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i, n = strlen(s);

	assert_int_equal(utf8_validate(s, n, NULL), 0);
	assert_true(utf8_count(s, n) <= max_chars);
	for (i = 0; i < n; i++) {
		assert_true(u[i] >= 0x20 && u[i] != 0x7f && u[i] != '"');
		if (u[i] == 0xc2 && i + 1 < n)
			assert_false(u[i + 1] >= 0x80 && u[i + 1] < 0xa0);
	}
	assert_null(strstr(s, "\xe2\x80\xae"));	/* U+202E */
	assert_null(strstr(s, "\xe2\x81\xa6"));	/* U+2066 */
	assert_null(strstr(s, "\xe2\x80\xa8"));	/* U+2028 */
	assert_null(strstr(s, "「"));
	assert_null(strstr(s, "」"));
	if (n > 0)
		assert_true(s[0] != ' ' && s[n - 1] != ' ');
}

static void
test_sanitize_plain(void **state)
{
	char buf[8];

	(void)state;
	assert_string_equal(san("SanDisk Ultra"), "SanDisk Ultra");
	assert_string_equal(san("ＵＳＢメモリ 32GB"), "ＵＳＢメモリ 32GB");
	/* Markup is escaped later, only for a server that wants it. */
	assert_string_equal(san("<b>&amp;'x'"), "<b>&amp;'x'");
	assert_string_equal(san(NULL), "");
	assert_string_equal(san(""), "");
	assert_string_equal(san("     "), "");
	assert_string_equal(san("  Flash Disk      "), "Flash Disk");
	/* Bad arguments. */
	assert_int_equal(notice_sanitize("x", 64, NULL, 8), -EINVAL);
	assert_int_equal(notice_sanitize("x", 64, buf, 3), -EINVAL);
	assert_int_equal(notice_sanitize("x", 1, buf, sizeof(buf)), -EINVAL);
}

/* C0 controls, DEL and C1 controls (terminal escapes, newlines that would
 * forge a second log line) become \xHH. */
static void
test_sanitize_controls(void **state)
{
	(void)state;
	assert_string_equal(san("a\nb"), "a\\x0ab");
	assert_string_equal(san("a\r\nb"), "a\\x0d\\x0ab");
	assert_string_equal(san("a\tb"), "a\\x09b");
	assert_string_equal(san("\x1b[31mRED\x1b[0m"),
	    "\\x1b[31mRED\\x1b[0m");
	assert_string_equal(san("\x01\x07\x08\x1f"), "\\x01\\x07\\x08\\x1f");
	assert_string_equal(san("DEL\x7f"), "DEL\\x7f");
	assert_string_equal(san("C1\xc2\x85\xc2\x9b" "2J"),
	    "C1\\x85\\x9b2J");
	assert_string_equal(san("x\n"), "x\\x0a");	/* not trimmed */
	assert_safe(san("\n\r\t\x1b\x7f\xc2\x80\xc2\x9f"), 64);
}

/* Every byte that does not start a well-formed sequence (RFC 3629) becomes
 * one U+FFFD and the next byte is looked at afresh. */
static void
test_sanitize_invalid_utf8(void **state)
{
	(void)state;
	assert_string_equal(san("\xff"), FFFD);
	assert_string_equal(san("a\xfe\xff" "b"), "a" FFFD FFFD "b");
	assert_string_equal(san("\x80"), FFFD);	/* lone continuation */
	assert_string_equal(san("a\xc0\xaf" "b"), "a" FFFD FFFD "b");
	assert_string_equal(san("\xe0\x80\xaf"), FFFD FFFD FFFD);
	assert_string_equal(san("\xed\xa0\x80"), FFFD FFFD FFFD);
	assert_string_equal(san("\xf4\x90\x80\x80"), FFFD FFFD FFFD FFFD);
	assert_string_equal(san("\xf8\x88\x80\x80\x80"),
	    FFFD FFFD FFFD FFFD FFFD);
	/* Cut short at the end, and cut short before ASCII. */
	assert_string_equal(san("メ\xe3\x83"), "メ" FFFD FFFD);
	assert_string_equal(san("\xe3\x83" "A"), FFFD FFFD "A");
	assert_string_equal(san("\xf0\x9f\x98"), FFFD FFFD FFFD);
	/* Well-formed 2-, 3- and 4-byte sequences pass. */
	assert_string_equal(san("é日\xf0\x9f\x98\x80"), "é日\xf0\x9f\x98\x80");
}

/* Quotes cannot close the message's own quotes; "\" cannot fake an
 * escape. */
static void
test_sanitize_quotes(void **state)
{
	(void)state;
	assert_string_equal(san("\"quoted\""), "'quoted'");
	assert_string_equal(san("「x」は許可されました。「"),
	    "『x』は許可されました。『");
	assert_string_equal(san("a\\x41"), "a\\\\x41");
	assert_string_equal(san("it's `x` $(id)"), "it's `x` $(id)");
}

/* Invisible and bidirectional formatting characters (Trojan Source) become
 * \uHHHH or \UHHHHHHHH. */
static void
test_sanitize_invisible(void **state)
{
	(void)state;
	assert_string_equal(san("abc\xe2\x80\xae" "fdp.exe"),
	    "abc\\u202efdp.exe");
	assert_string_equal(san("a\xe2\x80\x8b" "b"), "a\\u200bb");
	assert_string_equal(san("\xef\xbb\xbf" "BOM"), "\\ufeffBOM");
	assert_string_equal(san("L1\xe2\x80\xa8" "L2\xe2\x80\xa9"),
	    "L1\\u2028L2\\u2029");
	assert_string_equal(san("\xe2\x81\xa6" "x\xe2\x81\xa9"),
	    "\\u2066x\\u2069");
	assert_string_equal(san("\xd8\x9c"), "\\u061c");
	assert_string_equal(san("soft\xc2\xad" "hyphen"), "soft\\xadhyphen");
	assert_string_equal(san("\xf3\xa0\x81\x81"), "\\U000e0041");
}

static void
test_sanitize_truncate(void **state)
{
	char small[8], in[NOTICE_NAME_SIZE], want[NOTICE_NAME_SIZE], *s;

	(void)state;
	/* 64 characters fit; 65 become 63 and "…". */
	assert_string_equal(san(repeat("a", 64)), repeat("a", 64));
	join(want, sizeof(want), repeat("a", 63), ELL, "");
	assert_string_equal(san(repeat("a", 65)), want);
	assert_string_equal(san(repeat("a", 1000)), want);
	/* Counted in characters, cut between them. */
	s = san(repeat("あ", 100));
	assert_int_equal(utf8_count(s, strlen(s)), 64);
	assert_int_equal(strlen(s), 63 * 3 + 3);
	assert_int_equal(memcmp(s + 63 * 3, ELL, 4), 0);
	assert_string_equal(san(repeat("\xf0\x9f\x98\x80", 64)),
	    repeat("\xf0\x9f\x98\x80", 64));
	/* 63 + a 4-byte character is 64: no cut; one more is a cut. */
	join(in, sizeof(in), repeat("a", 63), "\xf0\x9f\x98\x80", "");
	assert_string_equal(san(in), in);
	join(in, sizeof(in), repeat("a", 63), "\xf0\x9f\x98\x80", "b");
	assert_string_equal(san(in), want);
	/* An escape is never split: 62 + "\x0a" would be 66. */
	join(in, sizeof(in), repeat("a", 62), "\nb", "");
	s = san(in);
	assert_int_equal(strlen(s), 62 + 3);
	assert_int_equal(memcmp(s + 62, ELL, 4), 0);
	/* Nor a U+FFFD. */
	join(in, sizeof(in), repeat("a", 63), "\xff\xff", "");
	s = san(in);
	assert_int_equal(memcmp(s + 63, ELL, 4), 0);
	/* Spaces before the cut go. */
	join(in, sizeof(in), "abc", repeat(" ", 70), "d");
	assert_string_equal(san(in), "abc" ELL);
	/* The buffer bounds it too: 8 bytes hold "あ…" and the NUL. */
	assert_int_equal(notice_sanitize("あいうえお", 64, small,
	    sizeof(small)), 6);
	assert_string_equal(small, "あ" ELL);
	assert_int_equal(notice_sanitize("abc", 2, small, sizeof(small)), 4);
	assert_string_equal(small, "a" ELL);
	assert_int_equal(notice_sanitize("ab", 2, small, sizeof(small)), 2);
	assert_string_equal(small, "ab");
}

/* Random bytes, weighted towards the nasty ones, in buffers of every size:
 * the result is always safe and bounded. */
static void
test_sanitize_random(void **state)
{
	static const unsigned char nasty[] = { 0x00, 0x0a, 0x1b, 0x22, 0x5c,
		0x7f, 0x80, 0x85, 0x9b, 0xa0, 0xad, 0xbf, 0xc0, 0xc2, 0xdf,
		0xe0, 0xe2, 0xe3, 0xed, 0xef, 0xf0, 0xf3, 0xf4, 0xf8, 0xff };
	char in[512], out[NOTICE_NAME_SIZE];
	uint32_t x = 12345;
	size_t i, j, len, size;
	int r;

	(void)state;
	for (i = 0; i < 20000; i++) {
		x = x * 1103515245u + 12345u;
		len = (x >> 8) % (sizeof(in) - 1);
		for (j = 0; j < len; j++) {
			x = x * 1103515245u + 12345u;
			in[j] = (x >> 28) < 6 ? (char)nasty[(x >> 8) %
			    sizeof(nasty)] : (char)((x >> 8) & 0xff);
		}
		in[len] = '\0';
		size = 4 + i % (sizeof(out) - 3);
		r = notice_sanitize(in, 2 + i % 80, out, size);
		assert_true(r >= 0 && (size_t)r < size);
		assert_int_equal((size_t)r, strlen(out));
		assert_safe(out, 2 + i % 80);
	}
}

static void
test_escape_markup(void **state)
{
	char buf[32];

	(void)state;
	assert_int_equal(notice_escape_markup("a<b>&c", buf, sizeof(buf)), 16);
	assert_string_equal(buf, "a&lt;b&gt;&amp;c");
	assert_int_equal(notice_escape_markup("&amp;", buf, sizeof(buf)), 9);
	assert_string_equal(buf, "&amp;amp;");
	assert_int_equal(notice_escape_markup("「日本語」", buf, sizeof(buf)),
	    15);
	/* Exactly full, then one byte short. */
	assert_int_equal(notice_escape_markup("<<<<<<<x", buf, 30), 29);
	assert_int_equal(notice_escape_markup("<<<<<<<x", buf, 29), -E2BIG);
	assert_string_equal(buf, "");
	assert_int_equal(notice_escape_markup("abc&", buf, 5), -E2BIG);
	assert_string_equal(buf, "");
	assert_int_equal(notice_escape_markup(NULL, buf, 5), -EINVAL);
	assert_int_equal(notice_escape_markup("x", buf, 0), -EINVAL);
}

static int
fmt(enum notice_kind kind, const char *word, const char *product,
    const char *label, const char *lang, char *text, char *title)
{
	struct notice n = { kind, product, NULL, word, label };

	return notice_format(&n, lang, text, NOTICE_TEXT_SIZE, title,
	    NOTICE_TITLE_SIZE);
}

static void
test_format_ja(void **state)
{
	char text[NOTICE_TEXT_SIZE], title[NOTICE_TITLE_SIZE];

	(void)state;
	assert_int_equal(fmt(NOTICE_READ_ONLY, "storage", "SanDisk Ultra",
	    "窓口端末", "ja", text, title), 0);
	assert_string_equal(title, "USBメモリは読み取り専用です");
	assert_string_equal(text, "USBメモリ「SanDisk Ultra」は読み取り専用で"
	    "接続されました。この端末から外部媒体へデータを書き出すことはでき"
	    "ません（情報セキュリティポリシー）。適用ルール：「窓口端末」。"
	    "書き込みが必要な場合は、情報システム担当へ媒体の登録をご依頼"
	    "ください。");
	assert_int_equal(fmt(NOTICE_BLOCKED, "mtp", "Pixel 8", NULL, "ja",
	    text, title), 0);
	assert_string_equal(title, "スマートフォン・カメラは使用できません");
	assert_string_equal(text, "「Pixel 8」（スマートフォン・カメラ）は、"
	    "この端末での使用が禁止されているため接続できません（情報セキュ"
	    "リティポリシー）。業務で使用する必要がある場合は、情報システム"
	    "担当へご相談ください。");
	assert_int_equal(fmt(NOTICE_ALLOWED, "sd", "SD Reader", NULL, "ja",
	    text, title), 0);
	assert_string_equal(title, "SDカードが接続されました");
	assert_string_equal(text, "SDカード「SD Reader」が接続されました。"
	    "この端末での使用は許可されています。");
	assert_int_equal(fmt(NOTICE_MOUNT_FORCED_RO, "optical", "DVD-RW",
	    "光学媒体", "ja", text, title), 0);
	assert_string_equal(title, "光学ドライブを読み取り専用でマウントしました");
	assert_string_equal(text, "光学ドライブ「DVD-RW」は読み取り専用で"
	    "マウントされました。ファイルを開くことはできますが、保存や変更"
	    "はできません（情報セキュリティポリシー）。適用ルール：「光学媒"
	    "体」。書き込みが必要な場合は、情報システム担当へ媒体の登録を"
	    "ご依頼ください。");
	assert_int_equal(fmt(NOTICE_BLOCKED, "network", "AX88179", NULL,
	    "ja_JP.UTF-8", text, title), 0);
	assert_string_equal(title, "ネットワーク機器は使用できません");
	assert_non_null(strstr(text, "「AX88179」（ネットワーク機器）は、"));
}

static void
test_format_en(void **state)
{
	char text[NOTICE_TEXT_SIZE], title[NOTICE_TITLE_SIZE];

	(void)state;
	assert_int_equal(fmt(NOTICE_READ_ONLY, "storage", "SanDisk Ultra",
	    "窓口端末", "en", text, title), 0);
	assert_string_equal(title, "USB storage device is read-only");
	assert_string_equal(text, "USB storage device \"SanDisk Ultra\" was "
	    "connected read-only. Data cannot be written from this computer "
	    "to external media (information security policy). Policy rule: "
	    "\"窓口端末\". If you need to write to it, please ask your IT "
	    "administrator to register the medium.");
	assert_int_equal(fmt(NOTICE_BLOCKED, "ptp", "EOS R6", NULL, "en_US",
	    text, title), 0);
	assert_string_equal(title, "Smartphone or camera blocked");
	assert_string_equal(text, "\"EOS R6\" (smartphone or camera) cannot "
	    "be connected because its use is prohibited on this computer "
	    "(information security policy). If you need it for your work, "
	    "please contact your IT administrator.");
	assert_int_equal(fmt(NOTICE_ALLOWED, "hid", "Keyboard", NULL, "en",
	    text, title), 0);
	assert_string_equal(title, "Input device connected");
	assert_string_equal(text, "Input device \"Keyboard\" was connected. "
	    "Its use is permitted on this computer.");
	assert_int_equal(fmt(NOTICE_MOUNT_FORCED_RO, "sd", NULL, NULL, "en",
	    text, title), 0);
	assert_string_equal(title, "SD card mounted read-only");
	assert_string_equal(text, "The SD card was mounted read-only. You can "
	    "open its files but cannot save or change them (information "
	    "security policy). If you need to write to it, please ask your IT "
	    "administrator to register the medium.");
}

/* Which language: NULL and ja* give Japanese, anything else English. */
static void
test_format_lang(void **state)
{
	static const char *const ja[] = { NULL, "ja", "ja_JP", "ja-JP",
		"ja_JP.UTF-8" };
	static const char *const en[] = { "en", "en_US.UTF-8", "C", "fr", "",
		"jam", "j" };
	char text[NOTICE_TEXT_SIZE], title[NOTICE_TITLE_SIZE];
	size_t i;

	(void)state;
	for (i = 0; i < MG_ELEMENTSOF(ja); i++) {
		assert_int_equal(fmt(NOTICE_BLOCKED, "storage", "x", NULL,
		    ja[i], text, title), 0);
		assert_string_equal(title, "USBメモリは使用できません");
	}
	for (i = 0; i < MG_ELEMENTSOF(en); i++) {
		assert_int_equal(fmt(NOTICE_BLOCKED, "storage", "x", NULL,
		    en[i], text, title), 0);
		assert_string_equal(title, "USB storage device blocked");
	}
}

/* Every kind, kind word, language, with and without product and label. */
static void
test_format_every_kind(void **state)
{
	static const char *const langs[] = { "ja", "en" };
	static const char *const products[] = { "Flash  Disk", NULL, "  " };
	char text[NOTICE_TEXT_SIZE], title[NOTICE_TITLE_SIZE];
	size_t k, w, l, p, b;

	(void)state;
	for (k = 0; k < MG_ELEMENTSOF(kinds); k++)
	for (w = 0; w < MG_ELEMENTSOF(kind_words); w++)
	for (l = 0; l < 2; l++)
	for (p = 0; p < 3; p++)
	for (b = 0; b < 2; b++) {
		assert_int_equal(fmt(kinds[k], kind_words[w], products[p],
		    b ? "規則A" : NULL, langs[l], text, title), 0);
		assert_true(strlen(text) > 20 && strlen(title) > 5);
		assert_int_equal(utf8_validate(text, strlen(text), NULL), 0);
		assert_int_equal(utf8_validate(title, strlen(title), NULL), 0);
		assert_null(strchr(text, '\n'));
		assert_true((strstr(text, "Flash  Disk") != NULL) == (p == 0));
		assert_true((strstr(text, "規則A") != NULL) == (b == 1));
		if (kinds[k] != NOTICE_ALLOWED)
			assert_non_null(strstr(text, l == 0 ?
			    "情報システム担当" : "IT administrator"));
		else
			assert_null(strstr(text, l == 0 ? "担当" : "admin"));
		if (l == 0)	/* the Japanese has no English in it */
			assert_null(strstr(text, "device"));
	}
	/* The kind words. */
	assert_int_equal(fmt(NOTICE_BLOCKED, "other", NULL, NULL, "ja", text,
	    title), 0);
	assert_string_equal(text, "デバイスは、この端末での使用が禁止されている"
	    "ため接続できません（情報セキュリティポリシー）。業務で使用する"
	    "必要がある場合は、情報システム担当へご相談ください。");
	assert_int_equal(fmt(NOTICE_BLOCKED, NULL, NULL, NULL, "en", text,
	    title), 0);
	assert_string_equal(title, "Device blocked");
	assert_int_equal(fmt(NOTICE_READ_ONLY, "no-such-kind", NULL, NULL, "ja",
	    text, title), 0);
	assert_string_equal(title, "デバイスは読み取り専用です");
	assert_int_equal(fmt(NOTICE_READ_ONLY, "optical", NULL, NULL, "ja",
	    text, title), 0);
	assert_string_equal(title, "光学ドライブは読み取り専用です");
}

/* A product string with one of each kind of nastiness. */
static void
test_format_hostile(void **state)
{
	const char *evil = "  \"Evil\"\n\x1b[31m<b>&\xff\xe2\x80\xaeUSB"
	    "「x」\\  ";
	char text[NOTICE_TEXT_SIZE], title[NOTICE_TITLE_SIZE];
	char markup[NOTICE_MARKUP_SIZE];

	(void)state;
	assert_int_equal(fmt(NOTICE_READ_ONLY, "storage", evil, "ラベル\n偽",
	    "ja", text, title), 0);
	assert_string_equal(text, "USBメモリ「'Evil'\\x0a\\x1b[31m<b>&" FFFD
	    "\\u202eUSB『x』\\\\」は読み取り専用で接続されました。この端末から"
	    "外部媒体へデータを書き出すことはできません（情報セキュリティ"
	    "ポリシー）。適用ルール：「ラベル\\x0a偽」。書き込みが必要な場合は、"
	    "情報システム担当へ媒体の登録をご依頼ください。");
	assert_string_equal(title, "USBメモリは読み取り専用です");
	assert_true(notice_escape_markup(text, markup, sizeof(markup)) > 0);
	assert_non_null(strstr(markup, "[31m&lt;b&gt;&amp;" FFFD "\\u202e"));
	assert_int_equal(fmt(NOTICE_BLOCKED, "storage", evil, NULL, "en", text,
	    title), 0);
	assert_string_equal(text, "\"'Evil'\\x0a\\x1b[31m<b>&" FFFD
	    "\\u202eUSB『x』\\\\\" (USB storage device) cannot be connected "
	    "because its use is prohibited on this computer (information "
	    "security policy). If you need it for your work, please contact "
	    "your IT administrator.");
	/* A product of invisible characters only is still shown. */
	assert_int_equal(fmt(NOTICE_BLOCKED, "storage", "\xe2\x80\x8b", NULL,
	    "ja", text, title), 0);
	assert_non_null(strstr(text, "「\\u200b」"));
}

/* No product: the vendor names the device; neither: the kind word alone. */
static void
test_format_null_product(void **state)
{
	struct notice n = { NOTICE_READ_ONLY, NULL, "Kingston", "storage",
		NULL };
	char text[NOTICE_TEXT_SIZE], title[NOTICE_TITLE_SIZE];

	(void)state;
	assert_int_equal(notice_format(&n, "ja", text, sizeof(text), title,
	    sizeof(title)), 0);
	assert_non_null(strstr(text, "USBメモリ「Kingston」は読み取り専用"));
	n.product = "   ";
	assert_int_equal(notice_format(&n, "ja", text, sizeof(text), NULL, 0),
	    0);
	assert_non_null(strstr(text, "USBメモリ「Kingston」は"));
	n.product = "DataTraveler";
	assert_int_equal(notice_format(&n, "ja", text, sizeof(text), NULL, 0),
	    0);
	assert_non_null(strstr(text, "USBメモリ「DataTraveler」は"));
	n.product = NULL;
	n.vendor = NULL;
	n.label = "";
	assert_int_equal(notice_format(&n, "ja", text, sizeof(text), NULL, 0),
	    0);
	assert_string_equal(text, "USBメモリは読み取り専用で接続されました。"
	    "この端末から外部媒体へデータを書き出すことはできません（情報"
	    "セキュリティポリシー）。書き込みが必要な場合は、情報システム"
	    "担当へ媒体の登録をご依頼ください。");
	assert_int_equal(notice_format(&n, "en", text, sizeof(text), NULL, 0),
	    0);
	assert_non_null(strstr(text, "The USB storage device was connected "
	    "read-only. Data"));
	n.kind = NOTICE_BLOCKED;
	assert_int_equal(notice_format(&n, "en", text, sizeof(text), NULL, 0),
	    0);
	assert_non_null(strstr(text, "The USB storage device cannot be "));
}

/* The longest product and label (64 four-byte characters, or 64 "&"
 * doubled by markup escaping) fit the documented sizes. */
static void
test_format_worst_case(void **state)
{
	static const char *const langs[] = { "ja", "en" };
	char text[NOTICE_TEXT_SIZE], title[NOTICE_TITLE_SIZE];
	static char wide[1300], amp[300];
	char markup[NOTICE_MARKUP_SIZE];
	size_t k, w, l;

	(void)state;
	join(wide, sizeof(wide), repeat("\xf0\x9f\x98\x80", 300), "", "");
	join(amp, sizeof(amp), repeat("&", 299), "", "");
	for (k = 0; k < MG_ELEMENTSOF(kinds); k++)
	for (w = 0; w < MG_ELEMENTSOF(kind_words); w++)
	for (l = 0; l < 2; l++) {
		assert_int_equal(fmt(kinds[k], kind_words[w], wide, wide,
		    langs[l], text, title), 0);
		assert_int_equal(fmt(kinds[k], kind_words[w], amp, amp,
		    langs[l], text, title), 0);
		assert_true(notice_escape_markup(text, markup,
		    sizeof(markup)) > 0);
	}
}

static void
test_format_errors(void **state)
{
	struct notice n = { NOTICE_BLOCKED, "x", NULL, "storage", NULL };
	char text[NOTICE_TEXT_SIZE], title[NOTICE_TITLE_SIZE], small[40];

	(void)state;
	assert_int_equal(notice_format(NULL, "ja", text, sizeof(text), NULL,
	    0), -EINVAL);
	assert_int_equal(notice_format(&n, "ja", NULL, 10, NULL, 0), -EINVAL);
	assert_int_equal(notice_format(&n, "ja", text, 0, NULL, 0), -EINVAL);
	assert_int_equal(notice_format(&n, "ja", text, sizeof(text), title, 0),
	    -EINVAL);
	n.kind = (enum notice_kind)4;
	assert_int_equal(notice_format(&n, "ja", text, sizeof(text), title,
	    sizeof(title)), -EINVAL);
	assert_string_equal(text, "");
	n.kind = (enum notice_kind)-1;
	assert_int_equal(notice_format(&n, "ja", text, sizeof(text), NULL, 0),
	    -EINVAL);
	n.kind = NOTICE_BLOCKED;
	/* Too small: -E2BIG and nothing half-written. */
	assert_int_equal(notice_format(&n, "ja", small, sizeof(small), title,
	    sizeof(title)), -E2BIG);
	assert_string_equal(small, "");
	assert_string_equal(title, "");
	assert_int_equal(notice_format(&n, "ja", text, sizeof(text), small, 8),
	    -E2BIG);
	assert_string_equal(text, "");
	assert_string_equal(small, "");
}

/* Formatting never allocates, so it cannot fail for memory. */
static void
test_format_no_alloc(void **state)
{
	char text[NOTICE_TEXT_SIZE], title[NOTICE_TITLE_SIZE];

	(void)state;
	oom_fail_at(1);
	assert_int_equal(fmt(NOTICE_READ_ONLY, "storage", "\xff\n", "l", "ja",
	    text, title), 0);
	assert_int_equal(oom_count(), 0);
	oom_fail_at(0);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
send_fast(const struct notice *n)
{
	int64_t t0 = now_ms();

	assert_int_equal(notice_send(n, "ja"), 0);
	assert_true(now_ms() - t0 < 100);
}

/* notice_send() never waits for the desktop: no logind, no bus, a bus that
 * never answers. */
static void
test_send(void **state)
{
	struct notice n = { NOTICE_BLOCKED, "Evil\n\xff", "v", "mtp", NULL };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/test_notify.XXXXXX", addr[160];
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	unsetenv("MYNAGUARD_NOTIFY_BUS");
	unsetenv("MYNAGUARD_NOTIFY_UID");
	send_fast(&n);		/* logind decides (none in a build) */
	snprintf(addr, sizeof(addr), "unix:path=%s/none", dir);
	setenv("MYNAGUARD_NOTIFY_BUS", addr, 1);
	send_fast(&n);		/* nothing listens */
	/* Listening, never accepting: the grandchild waits, not us. */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/silent", dir);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	snprintf(addr, sizeof(addr), "unix:path=%s", sa.sun_path);
	setenv("MYNAGUARD_NOTIFY_BUS", addr, 1);
	send_fast(&n);
	/* A bad override costs the pop-up only. */
	setenv("MYNAGUARD_NOTIFY_UID", "nobody", 1);
	send_fast(&n);
	unsetenv("MYNAGUARD_NOTIFY_UID");
	/* More than the burst: journal only, still fast. */
	send_fast(&n);
	send_fast(&n);
	send_fast(&n);
	n.kind = NOTICE_ALLOWED;	/* no pop-up for a keyboard */
	n.kind_word = "hid";
	send_fast(&n);
	n.kind = (enum notice_kind)9;
	assert_int_equal(notice_send(&n, "ja"), -EINVAL);
	assert_int_equal(notice_send(NULL, "ja"), -EINVAL);
	unsetenv("MYNAGUARD_NOTIFY_BUS");
	close(fd);
	unlink(sa.sun_path);
	rmdir(dir);
}

/* Allocation failure: -ENOMEM, never a crash. */
static void
test_send_oom(void **state)
{
	struct notice n = { NOTICE_READ_ONLY, "p", NULL, "storage", NULL };
	size_t i;
	int r;

	(void)state;
	setenv("MYNAGUARD_NOTIFY_BUS", "unix:path=/nonexistent/bus", 1);
	for (i = 1; i < 8; i++) {
		oom_fail_at(i);
		r = notice_send(&n, "en");
		assert_true(r == 0 || (r == -ENOMEM && oom_triggered()));
		if (!oom_triggered())
			break;
	}
	oom_fail_at(0);
	assert_true(i > 1);
	unsetenv("MYNAGUARD_NOTIFY_BUS");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sanitize_plain),
		cmocka_unit_test(test_sanitize_controls),
		cmocka_unit_test(test_sanitize_invalid_utf8),
		cmocka_unit_test(test_sanitize_quotes),
		cmocka_unit_test(test_sanitize_invisible),
		cmocka_unit_test(test_sanitize_truncate),
		cmocka_unit_test(test_sanitize_random),
		cmocka_unit_test(test_escape_markup),
		cmocka_unit_test(test_format_ja),
		cmocka_unit_test(test_format_en),
		cmocka_unit_test(test_format_lang),
		cmocka_unit_test(test_format_every_kind),
		cmocka_unit_test(test_format_hostile),
		cmocka_unit_test(test_format_null_product),
		cmocka_unit_test(test_format_worst_case),
		cmocka_unit_test(test_format_errors),
		cmocka_unit_test(test_format_no_alloc),
		cmocka_unit_test(test_send),
		cmocka_unit_test(test_send_oom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
