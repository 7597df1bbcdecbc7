/* SPDX-License-Identifier: BSD-2-Clause */
/* Strict number parsing: no sign, no blanks, no base prefixes, no silent
 * wrap-around (atoi and bare strtol are banned, STYLE.md 5.4). */
#include <errno.h>

#include "mynaguard/common.h"

int
parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;
	const char *p;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	for (p = s; *p != '\0'; p++) {
		unsigned d;

		if (*p < '0' || *p > '9')
			return -EINVAL;
		d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

int
parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *ret)
{
	uint64_t v;
	int r;

	if ((r = parse_u64(s, min, max, &v)) < 0)
		return r;
	*ret = (uint32_t)v;
	return 0;
}

int
parse_hexdigit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
