/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Strict JSON (RFC 8259) for event bodies: a checker that refuses anything
 * two parsers could read differently (duplicate keys, lone surrogates,
 * invalid UTF-8, nesting past a limit), and a writer that can only produce
 * what the checker accepts.  Object keys are restricted to printable ASCII
 * without escapes, so duplicates compare byte for byte.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mynaguard/common.h"

#define KEYS_MAX 4096u

struct jp {
	const unsigned char *s;
	size_t len;
	size_t pos;
	unsigned depth;
	struct { size_t off, len; } *keys;	/* stack of keys seen */
	size_t n_keys;
};

static int value(struct jp *p);

static void
skip_ws(struct jp *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' ||
	    p->s[p->pos] == '\t' || p->s[p->pos] == '\n' ||
	    p->s[p->pos] == '\r'))
		p->pos++;
}

static int
hex4(struct jp *p, unsigned *ret)
{
	unsigned v = 0;
	int d, i;

	if (p->len - p->pos < 4)
		return -EBADMSG;
	for (i = 0; i < 4; i++) {
		if ((d = parse_hexdigit((char)p->s[p->pos++])) < 0)
			return -EBADMSG;
		v = v << 4 | (unsigned)d;
	}
	*ret = v;
	return 0;
}

/* \uXXXX, with surrogate pairs checked. */
static int
unicode_escape(struct jp *p)
{
	unsigned u, lo;

	if (hex4(p, &u) < 0)
		return -EBADMSG;
	if (u >= 0xdc00 && u <= 0xdfff)
		return -EBADMSG;	/* lone low surrogate */
	if (u < 0xd800 || u > 0xdbff)
		return 0;
	if (p->len - p->pos < 2 || p->s[p->pos] != '\\' ||
	    p->s[p->pos + 1] != 'u')
		return -EBADMSG;
	p->pos += 2;
	if (hex4(p, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
		return -EBADMSG;
	return 0;
}

static int
string(struct jp *p, bool key)
{
	size_t n;
	unsigned char c;

	p->pos++;	/* " */
	while (p->pos < p->len) {
		c = p->s[p->pos];
		if (c == '"') {
			p->pos++;
			return 0;
		}
		if (c < 0x20)
			return -EBADMSG;
		if (key && (c == '\\' || c >= 0x7f))
			return -EBADMSG;
		if (c == '\\') {
			if (++p->pos >= p->len)
				return -EBADMSG;
			c = p->s[p->pos++];
			if (c == 'u') {
				if (unicode_escape(p) < 0)
					return -EBADMSG;
			} else if (strchr("\"\\/bfnrt", c) == NULL || c == 0)
				return -EBADMSG;
			continue;
		}
		n = utf8_seqlen((const char *)p->s + p->pos, p->len - p->pos);
		if (n == 0)
			return -EBADMSG;
		p->pos += n;
	}
	return -EBADMSG;
}

static bool
digits(struct jp *p)
{
	size_t start = p->pos;

	while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
		p->pos++;
	return p->pos > start;
}

static int
number(struct jp *p)
{
	if (p->s[p->pos] == '-')
		p->pos++;
	if (p->pos < p->len && p->s[p->pos] == '0')
		p->pos++;
	else if (!digits(p))
		return -EBADMSG;
	if (p->pos < p->len && p->s[p->pos] == '.') {
		p->pos++;
		if (!digits(p))
			return -EBADMSG;
	}
	if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
		p->pos++;
		if (p->pos < p->len && (p->s[p->pos] == '+' ||
		    p->s[p->pos] == '-'))
			p->pos++;
		if (!digits(p))
			return -EBADMSG;
	}
	return 0;
}

static int
literal(struct jp *p, const char *word)
{
	size_t n = strlen(word);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
		return -EBADMSG;
	p->pos += n;
	return 0;
}

static int
add_key(struct jp *p, size_t first, size_t off, size_t len)
{
	size_t i;

	for (i = first; i < p->n_keys; i++)
		if (p->keys[i].len == len &&
		    memcmp(p->s + p->keys[i].off, p->s + off, len) == 0)
			return -EBADMSG;	/* duplicate key */
	if (p->n_keys >= KEYS_MAX)
		return -E2BIG;
	p->keys[p->n_keys].off = off;
	p->keys[p->n_keys].len = len;
	p->n_keys++;
	return 0;
}

static int
object(struct jp *p)
{
	size_t first = p->n_keys, koff;
	int r;

	p->pos++;	/* { */
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == '}') {
		p->pos++;
		return 0;
	}
	for (;;) {
		skip_ws(p);
		if (p->pos >= p->len || p->s[p->pos] != '"')
			return -EBADMSG;
		koff = p->pos + 1;
		if ((r = string(p, true)) < 0 ||
		    (r = add_key(p, first, koff, p->pos - 1 - koff)) < 0)
			return r;
		skip_ws(p);
		if (p->pos >= p->len || p->s[p->pos++] != ':')
			return -EBADMSG;
		if ((r = value(p)) < 0)
			return r;
		skip_ws(p);
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == '}') {
			p->pos++;
			p->n_keys = first;	/* pop this object's keys */
			return 0;
		}
		return -EBADMSG;
	}
}

static int
array(struct jp *p)
{
	int r;

	p->pos++;	/* [ */
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == ']') {
		p->pos++;
		return 0;
	}
	for (;;) {
		if ((r = value(p)) < 0)
			return r;
		skip_ws(p);
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == ']') {
			p->pos++;
			return 0;
		}
		return -EBADMSG;
	}
}

static int
value(struct jp *p)
{
	int r;

	skip_ws(p);
	if (p->pos >= p->len)
		return -EBADMSG;
	switch (p->s[p->pos]) {
	case '{':
	case '[':
		if (++p->depth > JSON_DEPTH_MAX)
			return -E2BIG;
		r = p->s[p->pos] == '{' ? object(p) : array(p);
		p->depth--;
		return r;
	case '"':
		return string(p, false);
	case 't':
		return literal(p, "true");
	case 'f':
		return literal(p, "false");
	case 'n':
		return literal(p, "null");
	default:
		if (p->s[p->pos] == '-' ||
		    (p->s[p->pos] >= '0' && p->s[p->pos] <= '9'))
			return number(p);
		return -EBADMSG;
	}
}

int
json_check(const char *s, size_t len, size_t *ret_bad)
{
	struct jp p = { .s = (const unsigned char *)s, .len = len };
	int r;

	if (s == NULL)
		return -EINVAL;
	p.keys = malloc(KEYS_MAX * sizeof(*p.keys));
	if (p.keys == NULL)
		return -ENOMEM;
	skip_ws(&p);
	if (p.pos >= len || s[p.pos] != '{')
		r = -EBADMSG;	/* bodies are objects */
	else if ((r = value(&p)) == 0) {
		skip_ws(&p);
		if (p.pos != len)
			r = -EBADMSG;
	}
	free(p.keys);
	if (r < 0 && ret_bad != NULL)
		*ret_bad = p.pos;
	return r;
}

/* ---- writer ----------------------------------------------------------- */

void
jw_init(struct jw *w, struct sbuf *b)
{
	memset(w, 0, sizeof(*w));
	w->b = b;
}

static void
put(struct jw *w, const char *s, size_t n)
{
	if (w->err == 0)
		w->err = sbuf_put(w->b, s, n);
}

static void
sep(struct jw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth > 0 && (w->comma & (1u << w->depth)))
		put(w, ",", 1);
	if (w->depth > 0)
		w->comma |= 1u << w->depth;
}

static void
open_(struct jw *w, char c)
{
	sep(w);
	put(w, &c, 1);
	if (w->depth + 1 >= JSON_DEPTH_MAX) {
		w->err = -E2BIG;
		return;
	}
	w->depth++;
	w->comma &= ~(1u << w->depth);
}

static void
close_(struct jw *w, char c)
{
	if (w->depth == 0) {
		w->err = -EINVAL;
		return;
	}
	w->depth--;
	put(w, &c, 1);
}

void
jw_object(struct jw *w)
{
	open_(w, '{');
}

void
jw_object_end(struct jw *w)
{
	close_(w, '}');
}

void
jw_array(struct jw *w)
{
	open_(w, '[');
}

void
jw_array_end(struct jw *w)
{
	close_(w, ']');
}

static void
put_escaped(struct jw *w, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char c;
	char esc[6] = { '\\', 'u', '0', '0', 0, 0 };
	size_t i;

	put(w, "\"", 1);
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			put(w, "\\", 1);
			put(w, s + i, 1);
		} else if (c == '\n')
			put(w, "\\n", 2);
		else if (c == '\t')
			put(w, "\\t", 2);
		else if (c == '\r')
			put(w, "\\r", 2);
		else if (c < 0x20 || c == 0x7f) {
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			put(w, esc, 6);
		} else
			put(w, s + i, 1);
	}
	put(w, "\"", 1);
}

void
jw_key(struct jw *w, const char *key)
{
	size_t i, n = strlen(key);

	for (i = 0; i < n; i++)
		if (key[i] < 0x20 || key[i] >= 0x7f || key[i] == '"' ||
		    key[i] == '\\')
			w->err = -EINVAL;
	sep(w);
	put_escaped(w, key, n);
	put(w, ":", 1);
	w->after_key = true;
}

void
jw_string(struct jw *w, const char *s, size_t len)
{
	if (utf8_validate(s, len, NULL) < 0) {
		w->err = -EINVAL;
		return;
	}
	sep(w);
	put_escaped(w, s, len);
}

void
jw_str(struct jw *w, const char *s)
{
	jw_string(w, s, strlen(s));
}

void
jw_u64(struct jw *w, uint64_t v)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%" PRIu64, v);

	sep(w);
	put(w, buf, (size_t)n);
}

void
jw_i64(struct jw *w, int64_t v)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%" PRId64, v);

	sep(w);
	put(w, buf, (size_t)n);
}

void
jw_bool(struct jw *w, bool v)
{
	sep(w);
	put(w, v ? "true" : "false", v ? 4 : 5);
}

int
jw_finish(struct jw *w)
{
	if (w->err == 0 && w->depth != 0)
		w->err = -EINVAL;
	return w->err;
}
