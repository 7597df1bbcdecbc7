/* SPDX-License-Identifier: BSD-2-Clause */
/* UTF-8 well-formedness per RFC 3629 section 4 (Unicode 15, table 3-7). */
#include <errno.h>

#include "mynaguard/common.h"

size_t
utf8_seqlen(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (n == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (s[0] == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		if (s[0] == 0xf0)
			lo = 0x90;	/* overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f;	/* > U+10FFFF */
	} else
		return 0;
	if (n < len)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

int
utf8_validate(const char *buf, size_t len, size_t *ret_bad)
{
	size_t i = 0, n;

	while (i < len) {
		n = utf8_seqlen(buf + i, len - i);
		if (n == 0) {
			if (ret_bad != NULL)
				*ret_bad = i;
			return -EILSEQ;
		}
		i += n;
	}
	return 0;
}

size_t
utf8_count(const char *s, size_t n)
{
	size_t i, count = 0;

	/* Every byte that is not a continuation byte starts a code point. */
	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			count++;
	return count;
}
