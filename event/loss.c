/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A loss record's body read back (mg_event_loss_body() writes it): the one
 * reader the collector, "mynaguard-review verify" and "mynaguard spool"
 * share, so that they agree on which gaps a terminal explained.
 *
 * A small JSON reader that finds its members by path, in any order and
 * spacing, and skips every other value.  It is meant for bodies that
 * mg_record_decode() has checked to be strict JSON (no duplicate keys,
 * keys without escapes, paired surrogates); on anything else it stays
 * within the buffer and answers -EBADMSG.
 */
#include <errno.h>
#include <string.h>

#include "mynaguard/event.h"

struct rd {
	const char *p, *end;
	unsigned depth;
};

struct loss {
	struct mg_loss_info info;
	uint64_t seq;
	struct sbuf *reason;
	/* the range being read */
	bool has_from, has_to, has_hash;
	int64_t from, to;
	uint8_t hash[MG_REC_HASH_LEN];
};

typedef int member_fn(struct rd *r, const char *key, size_t klen, void *ctx);
typedef int element_fn(struct rd *r, void *ctx);

static int skip_value(struct rd *r);

/* The next character after white space, or '\0' at the end. */
static char
next(struct rd *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' ||
	    *r->p == '\n' || *r->p == '\r'))
		r->p++;
	return r->p < r->end ? *r->p : '\0';
}

static bool
is(const char *key, size_t klen, const char *name)
{
	return klen == strlen(name) && memcmp(key, name, klen) == 0;
}

/* The contents of the string next in r, escapes kept. */
static int
string_raw(struct rd *r, const char **ret, size_t *ret_len)
{
	const char *s;

	if (next(r) != '"')
		return -EBADMSG;
	s = ++r->p;
	while (r->p < r->end && *r->p != '"') {
		if (*r->p == '\\' && ++r->p == r->end)
			break;
		r->p++;
	}
	if (r->p >= r->end)
		return -EBADMSG;
	*ret = s;
	*ret_len = (size_t)(r->p - s);
	r->p++;
	return 0;
}

/* A number; *ret_int tells whether it is an integer (no fraction, no
 * exponent) that fits int64_t, as SQLite's json_extract() reads one. */
static int
number(struct rd *r, bool *ret_int, int64_t *ret)
{
	const uint64_t lim = (uint64_t)INT64_MAX;
	bool neg = false, fits = true;
	uint64_t v = 0, d;

	if (next(r) == '-') {
		neg = true;
		r->p++;
	}
	if (r->p == r->end || *r->p < '0' || *r->p > '9')
		return -EBADMSG;
	for (; r->p < r->end && *r->p >= '0' && *r->p <= '9'; r->p++) {
		d = (uint64_t)(*r->p - '0');
		if (v > (lim + neg - d) / 10)
			fits = false;
		else
			v = v * 10 + d;
	}
	/* A fraction or an exponent: not an integer. */
	for (; r->p < r->end && *r->p != '\0' &&
	     strchr(".eE+-0123456789", *r->p) != NULL; r->p++)
		fits = false;
	*ret_int = fits;
	*ret = !fits ? 0 : neg && v > 0 ? -(int64_t)(v - 1) - 1 : (int64_t)v;
	return 0;
}

static int
members(struct rd *r, member_fn *fn, void *ctx)
{
	const char *key;
	size_t klen;
	int rc;

	if (next(r) != '{' || ++r->depth > JSON_DEPTH_MAX)
		return -EBADMSG;
	r->p++;
	if (next(r) == '}') {
		r->p++;
		r->depth--;
		return 0;
	}
	for (;;) {
		if ((rc = string_raw(r, &key, &klen)) < 0)
			return rc;
		if (next(r) != ':')
			return -EBADMSG;
		r->p++;
		if ((rc = fn(r, key, klen, ctx)) < 0)
			return rc;
		if (next(r) != ',')
			break;
		r->p++;
	}
	if (next(r) != '}')
		return -EBADMSG;
	r->p++;
	r->depth--;
	return 0;
}

static int
elements(struct rd *r, element_fn *fn, void *ctx)
{
	int rc;

	if (next(r) != '[' || ++r->depth > JSON_DEPTH_MAX)
		return -EBADMSG;
	r->p++;
	if (next(r) == ']') {
		r->p++;
		r->depth--;
		return 0;
	}
	for (;;) {
		if ((rc = fn(r, ctx)) < 0)
			return rc;
		if (next(r) != ',')
			break;
		r->p++;
	}
	if (next(r) != ']')
		return -EBADMSG;
	r->p++;
	r->depth--;
	return 0;
}

static int
skip_member(struct rd *r, const char *key, size_t klen, void *ctx)
{
	(void)key;
	(void)klen;
	(void)ctx;
	return skip_value(r);
}

static int
skip_element(struct rd *r, void *ctx)
{
	(void)ctx;
	return skip_value(r);
}

static int
skip_value(struct rd *r)
{
	const char *s;
	size_t n;
	int64_t v;
	bool i;

	switch (next(r)) {
	case '{':
		return members(r, skip_member, NULL);
	case '[':
		return elements(r, skip_element, NULL);
	case '"':
		return string_raw(r, &s, &n);
	case 't':
	case 'f':
	case 'n':
		for (s = r->p; r->p < r->end && *r->p >= 'a' && *r->p <= 'z';)
			r->p++;
		return r->p - s >= 4 ? 0 : -EBADMSG;
	default:
		return number(r, &i, &v);
	}
}

/* ---- strings ---------------------------------------------------------- */

static int
hex4(const char *s, size_t n, size_t i, unsigned *ret)
{
	unsigned v = 0;
	int d;

	if (n - i < 4)
		return -EBADMSG;
	for (n = i + 4; i < n; i++) {
		if ((d = parse_hexdigit(s[i])) < 0)
			return -EBADMSG;
		v = v << 4 | (unsigned)d;
	}
	*ret = v;
	return 0;
}

static int
put_utf8(struct sbuf *out, unsigned u)
{
	char b[4];
	size_t n, i;

	if (u < 0x80) {
		b[0] = (char)u;
		n = 1;
	} else if (u < 0x800) {
		b[0] = (char)(0xc0 | u >> 6);
		n = 2;
	} else if (u < 0x10000) {
		b[0] = (char)(0xe0 | u >> 12);
		n = 3;
	} else {
		b[0] = (char)(0xf0 | u >> 18);
		n = 4;
	}
	for (i = 1; i < n; i++)
		b[i] = (char)(0x80 | ((u >> (6 * (n - 1 - i))) & 0x3f));
	return sbuf_put(out, b, n);
}

/* \uXXXX (a surrogate pair as one code point) at s + *i, after the 'u'. */
static int
unicode(const char *s, size_t n, size_t *i, struct sbuf *out)
{
	unsigned u, lo;

	if (hex4(s, n, *i, &u) < 0)
		return -EBADMSG;
	*i += 4;
	if (u >= 0xd800 && u <= 0xdbff) {
		if (n - *i < 6 || s[*i] != '\\' || s[*i + 1] != 'u' ||
		    hex4(s, n, *i + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
			return -EBADMSG;
		*i += 6;
		u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
	} else if (u >= 0xdc00 && u <= 0xdfff)
		return -EBADMSG;
	return put_utf8(out, u);
}

/* The contents of a JSON string (n bytes at s) decoded into out. */
static int
unescape(const char *s, size_t n, struct sbuf *out)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *e;
	size_t i = 0, j;
	int r = 0;

	while (i < n && r == 0) {
		for (j = i; j < n && s[j] != '\\'; j++)
			;
		if ((r = sbuf_put(out, s + i, j - i)) < 0 || j == n)
			break;
		i = j + 2;
		if (i > n)
			return -EBADMSG;
		if (s[j + 1] == 'u')
			r = unicode(s, n, &i, out);
		else if (s[j + 1] != '\0' && (e = strchr(from, s[j + 1])) != NULL)
			r = sbuf_putc(out, to[e - from]);
		else
			r = -EBADMSG;
	}
	return r;
}

/* ---- the loss body ----------------------------------------------------- */

static int
int_value(struct rd *r, bool *ret_has, int64_t *ret)
{
	bool is_int;
	int64_t v;
	int rc;

	if (next(r) != '-' && (next(r) < '0' || next(r) > '9'))
		return skip_value(r);
	if ((rc = number(r, &is_int, &v)) == 0 && is_int) {
		*ret_has = true;
		*ret = v;
	}
	return rc;
}

/* "last_hash": 64 hex digits, as written (an escaped digit is not one). */
static int
hash_value(struct rd *r, struct loss *l)
{
	const char *s;
	size_t n, i;
	int hi, lo, rc;

	if (next(r) != '"')
		return skip_value(r);
	if ((rc = string_raw(r, &s, &n)) < 0 || n != 2 * MG_REC_HASH_LEN)
		return rc;
	for (i = 0; i < MG_REC_HASH_LEN; i++) {
		hi = parse_hexdigit(s[2 * i]);
		lo = parse_hexdigit(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return 0;
		l->hash[i] = (uint8_t)(hi << 4 | lo);
	}
	l->has_hash = true;
	return 0;
}

static int
on_range_member(struct rd *r, const char *key, size_t klen, void *ctx)
{
	struct loss *l = ctx;

	if (is(key, klen, "from"))
		return int_value(r, &l->has_from, &l->from);
	if (is(key, klen, "to"))
		return int_value(r, &l->has_to, &l->to);
	if (is(key, klen, "last_hash"))
		return hash_value(r, l);
	return skip_value(r);
}

/* One entry of "ranges": usable when 1 <= from <= to < the record's seq. */
static int
on_range(struct rd *r, void *ctx)
{
	struct loss *l = ctx;
	struct mg_loss_info *in = &l->info;
	int rc;

	l->has_from = l->has_to = l->has_hash = false;
	if (next(r) != '{') {
		in->invalid++;
		return skip_value(r);
	}
	if ((rc = members(r, on_range_member, l)) < 0)
		return rc;
	if (!l->has_from || !l->has_to || !l->has_hash || l->from < 1 ||
	    l->to < l->from || (uint64_t)l->to >= l->seq ||
	    in->n == MG_LOSS_RANGES_MAX) {
		in->invalid++;
		return 0;
	}
	in->range[in->n].from = (uint64_t)l->from;
	in->range[in->n].to = (uint64_t)l->to;
	memcpy(in->range[in->n].last_hash, l->hash, MG_REC_HASH_LEN);
	in->n++;
	return 0;
}

static int
on_loss(struct rd *r, const char *key, size_t klen, void *ctx)
{
	struct loss *l = ctx;

	if (is(key, klen, "count"))
		return int_value(r, &l->info.has_count, &l->info.count);
	if (is(key, klen, "ranges") && next(r) == '[')
		return elements(r, on_range, l);
	return skip_value(r);
}

static int
on_mynaguard(struct rd *r, const char *key, size_t klen, void *ctx)
{
	if (is(key, klen, "loss") && next(r) == '{')
		return members(r, on_loss, ctx);
	return skip_value(r);
}

static int
on_event(struct rd *r, const char *key, size_t klen, void *ctx)
{
	struct loss *l = ctx;
	const char *s;
	size_t n;
	int rc;

	if (!is(key, klen, "reason") || l->reason == NULL || next(r) != '"')
		return skip_value(r);
	if ((rc = string_raw(r, &s, &n)) < 0 ||
	    (rc = unescape(s, n, l->reason)) < 0)
		return rc;
	l->info.has_reason = true;
	return 0;
}

static int
on_top(struct rd *r, const char *key, size_t klen, void *ctx)
{
	if (is(key, klen, "event") && next(r) == '{')
		return members(r, on_event, ctx);
	if (is(key, klen, "mynaguard") && next(r) == '{')
		return members(r, on_mynaguard, ctx);
	return skip_value(r);
}

int
mg_event_loss_parse(const void *body, size_t len, uint64_t seq,
    struct mg_loss_info *ret, struct sbuf *reason)
{
	struct loss l;
	struct rd r;
	int rc;

	if (body == NULL || ret == NULL)
		return -EINVAL;
	memset(&l, 0, sizeof(l));
	l.seq = seq;
	l.reason = reason;
	r.p = body;
	r.end = r.p + len;
	r.depth = 0;
	if ((rc = members(&r, on_top, &l)) < 0)
		return rc;
	if (next(&r) != '\0' || r.p != r.end)
		return -EBADMSG;
	*ret = l.info;
	return 0;
}
