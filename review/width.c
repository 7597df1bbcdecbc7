/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Display width of UTF-8 text and terminal-safe cleaning.  Every string
 * the collector returns may have come from a hostile device or terminal
 * (USB serials and product names are chosen by whoever made the stick),
 * so nothing that could move the cursor, change colours or reorder text
 * reaches the reviewer's terminal raw.  wcwidth(3) is not used: it
 * depends on the locale, and a C locale makes every CJK character -1.
 */
#include <errno.h>
#include <string.h>

#include "review.h"

#define ELLIPSIS "\xe2\x80\xa6" /* U+2026 */

struct range {
	uint32_t lo, hi;
};

/* Unicode 15 EastAsianWidth.txt, W and F, merged where adjacent and cut to
 * the blocks that occur in Japanese text and emoji. */
static const struct range wide[] = {
	{ 0x1100, 0x115f }, /* Hangul Jamo initials */
	{ 0x231a, 0x231b },
	{ 0x2329, 0x232a },
	{ 0x23e9, 0x23ec },
	{ 0x2614, 0x2615 },
	{ 0x2e80, 0x303e }, /* CJK radicals, punctuation 、。「」 */
	{ 0x3041, 0x33ff }, /* Hiragana, Katakana, CJK compatibility */
	{ 0x3400, 0x4dbf }, /* CJK Extension A */
	{ 0x4e00, 0x9fff }, /* CJK Unified Ideographs */
	{ 0xa000, 0xa4cf }, /* Yi */
	{ 0xa960, 0xa97f },
	{ 0xac00, 0xd7a3 },   /* Hangul syllables */
	{ 0xf900, 0xfaff },   /* CJK compatibility ideographs */
	{ 0xfe10, 0xfe19 },   /* vertical forms */
	{ 0xfe30, 0xfe6f },   /* CJK compatibility and small forms */
	{ 0xff00, 0xff60 },   /* Fullwidth forms ＡＢＣ１２３ */
	{ 0xffe0, 0xffe6 },   /* Fullwidth signs ￥ */
	{ 0x1b000, 0x1b2ff }, /* Kana supplement, extended */
	{ 0x1f300, 0x1f64f }, /* pictographs, emoticons */
	{ 0x1f680, 0x1f6ff },
	{ 0x1f900, 0x1f9ff },
	{ 0x20000, 0x2fffd }, /* CJK Extensions B.. */
	{ 0x30000, 0x3fffd },
};

/* Mn/Me/zero-width characters that print nothing by themselves. */
static const struct range zero[] = {
	{ 0x0300, 0x036f },
	{ 0x200b, 0x200b },
	{ 0x20d0, 0x20ff },
	{ 0x3099, 0x309a }, /* combining (semi-)voiced sound marks */
	{ 0xfe00, 0xfe0f }, /* variation selectors */
	{ 0xfe20, 0xfe2f },
	{ 0xe0100, 0xe01ef },
};

/* Never raw: C1, the bidi controls of "Trojan Source" (CVE-2021-42574),
 * line/paragraph separators, the BOM, interlinear annotation. */
static const struct range hostile[] = {
	{ 0x0080, 0x009f },
	{ 0x061c, 0x061c },
	{ 0x200e, 0x200f },
	{ 0x2028, 0x202e },
	{ 0x2060, 0x206f },
	{ 0xfeff, 0xfeff },
	{ 0xfff9, 0xfffb },
};

static bool
in(const struct range *r, size_t n, uint32_t cp)
{
	size_t lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (cp > r[mid].hi)
			lo = mid + 1;
		else if (cp < r[mid].lo)
			hi = mid;
		else
			return true;
	}
	return false;
}

int
rv_width_cp(uint32_t cp)
{
	if (cp < 0x20 || cp == 0x7f || in(hostile, MG_ELEMENTSOF(hostile), cp))
		return -1;
	if (cp < 0x300)
		return 1;
	if (in(zero, MG_ELEMENTSOF(zero), cp))
		return 0;
	return in(wide, MG_ELEMENTSOF(wide), cp) ? 2 : 1;
}

static uint32_t
decode(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t i;

	if (n == 1)
		return s[0];
	cp = s[0] & (0xffu >> (n + 1));
	for (i = 1; i < n; i++)
		cp = cp << 6 | (s[i] & 0x3fu);
	return cp;
}

/* The next unit of s at *i: its cleaned bytes in buf, its width. */
static size_t
next_unit(const char *s, size_t len, size_t *i, char buf[8], size_t *ret_n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s + *i;
	size_t n = utf8_seqlen(s + *i, len - *i);
	int w = n == 0 ? -1 : rv_width_cp(decode(u, n));

	if (w >= 0) {
		memcpy(buf, u, n);
		*ret_n = n;
		*i += n;
		return (size_t)w;
	}
	if (n > 1) { /* a multi-byte control */
		buf[0] = '?';
		*ret_n = 1;
		*i += n;
		return 1;
	}
	buf[0] = '\\';
	buf[1] = 'x';
	buf[2] = hex[u[0] >> 4];
	buf[3] = hex[u[0] & 0xf];
	*ret_n = 4;
	*i += 1;
	return 4;
}

size_t
rv_width_of(const char *s, size_t len)
{
	size_t i = 0, cols = 0, n;
	char buf[8];

	while (i < len)
		cols += next_unit(s, len, &i, buf, &n);
	return cols;
}

int
rv_width_clean(
    struct sbuf *out, const char *s, size_t len, size_t max, size_t *ret_cols)
{
	size_t i = 0, cols = 0, n, w, room;
	bool cut = max > 0 && rv_width_of(s, len) > max;
	char buf[8];
	int r;

	/* When cut, keep one column for the ellipsis. */
	room = cut ? max - 1 : (size_t)-1;
	while (i < len) {
		w = next_unit(s, len, &i, buf, &n);
		if (cols + w > room)
			break;
		if ((r = sbuf_put(out, buf, n)) < 0)
			return r;
		cols += w;
	}
	if (cut) {
		if ((r = sbuf_puts(out, ELLIPSIS)) < 0)
			return r;
		cols++;
	}
	if (ret_cols != NULL)
		*ret_cols = cols;
	return 0;
}
