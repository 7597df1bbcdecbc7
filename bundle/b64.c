/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Base64 (RFC 4648 §4, padded) for the signature line.  Only one encoding
 * of a signature is accepted: padding complete, unused low bits zero, no
 * blanks, so the line that is signed cannot be reworded.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
value(char c)
{
	const char *p;

	if (c == '\0')
		return -1;
	p = strchr(alphabet, c);
	return p == NULL ? -1 : (int)(p - alphabet);
}

size_t
bundle_b64_encode(const unsigned char *in, size_t len, char *out)
{
	size_t i, o = 0;
	unsigned v;

	for (i = 0; i + 2 < len; i += 3) {
		v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		out[o++] = alphabet[v & 63];
	}
	if (i < len) {
		v = (unsigned)in[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)in[i + 1] << 8;
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = i + 1 < len ? alphabet[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

int
bundle_b64_decode(const char *s, size_t len, unsigned char *out, size_t max,
    size_t *ret_len)
{
	size_t i, n = 0, pad = 0;
	unsigned v = 0;
	int d;

	if (len == 0 || len % 4 != 0)
		return -EINVAL;
	if (s[len - 1] == '=')
		pad = s[len - 2] == '=' ? 2 : 1;
	if ((len / 4) * 3 - pad > max)
		return -E2BIG;
	for (i = 0; i < len - pad; i++) {
		if ((d = value(s[i])) < 0)
			return -EINVAL;
		v = v << 6 | (unsigned)d;
		if (i % 4 == 3) {
			out[n++] = (unsigned char)(v >> 16);
			out[n++] = (unsigned char)(v >> 8);
			out[n++] = (unsigned char)v;
			v = 0;
		}
	}
	/* Canonical: the bits a padded group does not use are zero. */
	if (pad == 2) {
		if ((v & 0xf) != 0)
			return -EINVAL;
		out[n++] = (unsigned char)(v >> 4);
	} else if (pad == 1) {
		if ((v & 0x3) != 0)
			return -EINVAL;
		out[n++] = (unsigned char)(v >> 10);
		out[n++] = (unsigned char)(v >> 2);
	}
	*ret_len = n;
	return 0;
}
