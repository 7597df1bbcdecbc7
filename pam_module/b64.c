/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Strict base64 (RFC 4648 §4 and §5).  Strict because a credential id is
 * compared byte for byte: one text must mean one id, so non-canonical
 * encodings (§3.5: non-zero pad bits) and stray characters are refused.
 */
#include <errno.h>
#include <string.h>

#include "mynaguard/login.h"

static const char std_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int
pmod_b64_encode(const uint8_t *data, size_t len, unsigned flags,
    struct sbuf *out)
{
	const char *a = (flags & PMOD_B64_URL) ? url_alpha : std_alpha;
	char q[4];
	uint32_t v;
	size_t i, n;
	int r;

	if (len > (SIZE_MAX / 4) * 3 - 3)
		return -E2BIG;
	if (len == 0)
		return 0;
	if ((r = sbuf_reserve(out, (len + 2) / 3 * 4)) < 0)
		return r;
	for (i = 0; i < len; i += 3) {
		n = len - i < 3 ? len - i : 3;
		v = (uint32_t)data[i] << 16;
		if (n > 1)
			v |= (uint32_t)data[i + 1] << 8;
		if (n > 2)
			v |= data[i + 2];
		q[0] = a[v >> 18 & 0x3f];
		q[1] = a[v >> 12 & 0x3f];
		q[2] = n > 1 ? a[v >> 6 & 0x3f] : '=';
		q[3] = n > 2 ? a[v & 0x3f] : '=';
		if (!(flags & PMOD_B64_PAD))
			n++;		/* chars that carry data */
		else
			n = 4;
		if ((r = sbuf_put(out, q, n)) < 0)
			return r;
	}
	return 0;
}

static int
b64_value(char c, unsigned flags)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == ((flags & PMOD_B64_URL) ? '-' : '+'))
		return 62;
	if (c == ((flags & PMOD_B64_URL) ? '_' : '/'))
		return 63;
	return -1;
}

/* How many data characters s has once correct padding is taken off. */
static int
strip_padding(const char *s, size_t len, unsigned flags, size_t *ret_n,
    size_t *err_off)
{
	size_t n = len, pads = 0;

	while (n > 0 && s[n - 1] == '=' && pads < 2) {
		n--;
		pads++;
	}
	if (pads > 0 && (!(flags & PMOD_B64_PAD) || len % 4 != 0 ||
	    (n % 4 == 2 && pads != 2) || (n % 4 == 3 && pads != 1) ||
	    n % 4 < 2)) {
		if (err_off != NULL)
			*err_off = n;
		return -EINVAL;
	}
	*ret_n = n;
	return 0;
}

int
pmod_b64_decode(const char *s, size_t len, unsigned flags, uint8_t *out,
    size_t max, size_t *ret_len, size_t *err_off)
{
	uint32_t acc = 0;
	size_t n, i, o = 0, need;
	int v, r;

	if ((r = strip_padding(s, len, flags, &n, err_off)) < 0)
		return r;
	need = n / 4 * 3 + (n % 4 <= 1 ? 0 : n % 4 - 1);
	if (need > max)
		return -E2BIG;
	for (i = 0; i < n; i++) {
		if ((v = b64_value(s[i], flags)) < 0) {
			if (err_off != NULL)
				*err_off = i;
			return -EINVAL;
		}
		acc = acc << 6 | (uint32_t)v;
		if (i % 4 == 3) {
			out[o++] = (uint8_t)(acc >> 16);
			out[o++] = (uint8_t)(acc >> 8);
			out[o++] = (uint8_t)acc;
			acc = 0;
		}
	}
	/* A lone last character cannot carry a byte; RFC 4648 §3.5: the
	 * bits after the last byte must be zero. */
	if (n % 4 == 1 || (n % 4 == 2 && (acc & 0x0f) != 0) ||
	    (n % 4 == 3 && (acc & 0x03) != 0)) {
		if (err_off != NULL)
			*err_off = n - 1;
		return -EINVAL;
	}
	if (n % 4 == 2)
		out[o++] = (uint8_t)(acc >> 4);
	else if (n % 4 == 3) {
		out[o++] = (uint8_t)(acc >> 10);
		out[o++] = (uint8_t)(acc >> 2);
	}
	*ret_len = o;
	return 0;
}
