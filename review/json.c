/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A small JSON reader for the collector's answers.  The text is checked
 * with json_check() first (strict RFC 8259, depth-limited), so this parser
 * only builds the tree; it stays bounds-checked anyway.  Each value keeps
 * its raw bytes, so "--format ndjson" can print bodies byte for byte.
 */
#include <errno.h>
#include <string.h>

#include "review.h"

struct parser {
	struct arena *a;
	const char *s;
	size_t len, i;
	unsigned depth;
};

static int value(struct parser *p, struct rv_json **ret);

static void
skip_ws(struct parser *p)
{
	while (p->i < p->len && memchr(" \t\r\n", p->s[p->i], 4) != NULL)
		p->i++;
}

static int
hex4(const char *s, uint32_t *ret)
{
	uint32_t v = 0;
	int d, k;

	for (k = 0; k < 4; k++) {
		if ((d = parse_hexdigit(s[k])) < 0)
			return -EBADMSG;
		v = v << 4 | (uint32_t)d;
	}
	*ret = v;
	return 0;
}

static size_t
put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* \uXXXX (and its low surrogate) at s[*i] (after the 'u'). */
static int
unicode_escape(const char *s, size_t end, size_t *i, uint32_t *ret)
{
	uint32_t hi, lo;

	if (*i + 4 > end || hex4(s + *i, &hi) < 0)
		return -EBADMSG;
	*i += 4;
	if (hi >= 0xd800 && hi < 0xdc00) {
		if (*i + 6 > end || s[*i] != '\\' || s[*i + 1] != 'u' ||
		    hex4(s + *i + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
			return -EBADMSG;
		*i += 6;
		hi = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
	} else if (hi >= 0xdc00 && hi < 0xe000)
		return -EBADMSG;
	*ret = hi;
	return 0;
}

/* The string starting at p->i (a '"'); decoded into the arena. */
static int
string(struct parser *p, const char **ret, size_t *ret_len)
{
	static const char esc[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
	size_t i = p->i + 1, n = 0;
	const char *e;
	uint32_t cp;
	char *o;

	/* The decoded text is never longer than the escaped one. */
	if ((o = arena_alloc(p->a, p->len - p->i + 1)) == NULL)
		return -ENOMEM;
	while (i < p->len && p->s[i] != '"') {
		if (p->s[i] != '\\') {
			o[n++] = p->s[i++];
			continue;
		}
		if (++i >= p->len)
			return -EBADMSG;
		if (p->s[i] == 'u') {
			i++;
			if (unicode_escape(p->s, p->len, &i, &cp) < 0)
				return -EBADMSG;
			n += put_utf8(o + n, cp);
			continue;
		}
		if ((e = memchr(esc, p->s[i], sizeof(esc) - 1)) == NULL ||
		    (e - esc) % 2 != 0)
			return -EBADMSG;
		o[n++] = e[1];
		i++;
	}
	if (i >= p->len)
		return -EBADMSG;
	o[n] = '\0';
	p->i = i + 1;
	*ret = o;
	*ret_len = n;
	return 0;
}

/* Elements of an array or members of an object, up to close. */
static int
members(struct parser *p, struct rv_json *v, char close)
{
	struct rv_json **tail = &v->child, *c;
	const char *key = NULL;
	size_t klen;
	int r;

	if (++p->depth > JSON_DEPTH_MAX)
		return -E2BIG;
	p->i++;
	for (skip_ws(p); p->i < p->len && p->s[p->i] != close; skip_ws(p)) {
		if (v->child != NULL && p->s[p->i++] != ',')
			return -EBADMSG;
		skip_ws(p);
		if (close == '}') {
			if (p->i >= p->len || p->s[p->i] != '"' ||
			    (r = string(p, &key, &klen)) < 0)
				return -EBADMSG;
			skip_ws(p);
			if (p->i >= p->len || p->s[p->i++] != ':')
				return -EBADMSG;
		}
		if ((r = value(p, &c)) < 0)
			return r;
		c->key = key;
		*tail = c;
		tail = &c->next;
	}
	if (p->i >= p->len)
		return -EBADMSG;
	p->i++;
	p->depth--;
	return 0;
}

static int
scalar(struct parser *p, struct rv_json *v)
{
	size_t n = strcspn(p->s + p->i, ",]} \t\r\n");
	char c = p->s[p->i];

	if (p->i + n > p->len || n == 0)
		return -EBADMSG;
	v->type = c == 'n'	 ? RV_JSON_NULL :
	    c == 't' || c == 'f' ? RV_JSON_BOOL :
				   RV_JSON_NUMBER;
	v->str = p->s + p->i;
	v->str_len = n;
	p->i += n;
	return 0;
}

static int
value(struct parser *p, struct rv_json **ret)
{
	struct rv_json *v = arena_alloc(p->a, sizeof(*v));
	size_t start;
	int r;

	if (v == NULL)
		return -ENOMEM;
	skip_ws(p);
	if (p->i >= p->len)
		return -EBADMSG;
	start = p->i;
	switch (p->s[p->i]) {
	case '{':
		v->type = RV_JSON_OBJECT;
		r = members(p, v, '}');
		break;
	case '[':
		v->type = RV_JSON_ARRAY;
		r = members(p, v, ']');
		break;
	case '"':
		v->type = RV_JSON_STRING;
		r = string(p, &v->str, &v->str_len);
		break;
	default:
		r = scalar(p, v);
		break;
	}
	if (r < 0)
		return r;
	v->raw = p->s + start;
	v->raw_len = p->i - start;
	*ret = v;
	return 0;
}

int
rv_json_parse(
    struct arena *a, const char *text, size_t len, struct rv_json **ret)
{
	struct parser p = { .a = a, .s = text, .len = len };
	struct rv_json *v = NULL;
	int r;

	/* text is NUL-terminated (an sbuf), which strcspn() relies on. */
	if (text == NULL || text[len] != '\0')
		return -EINVAL;
	if ((r = json_check(text, len, NULL)) < 0)
		return r;
	if ((r = value(&p, &v)) < 0)
		return r;
	*ret = v;
	return 0;
}

const struct rv_json *
rv_json_get(const struct rv_json *o, const char *key)
{
	const struct rv_json *c;

	if (o == NULL || o->type != RV_JSON_OBJECT)
		return NULL;
	for (c = o->child; c != NULL; c = c->next)
		if (strcmp(c->key, key) == 0)
			return c;
	return NULL;
}

const struct rv_json *
rv_json_path(const struct rv_json *o, const char *path)
{
	char part[64];
	size_t n;

	while (o != NULL && *path != '\0') {
		n = strcspn(path, ".");
		if (n >= sizeof(part))
			return NULL;
		memcpy(part, path, n);
		part[n] = '\0';
		o = rv_json_get(o, part);
		path += n + (path[n] == '.');
	}
	return o;
}

const char *
rv_json_text(const struct rv_json *o, const char *path, size_t *ret_len)
{
	const struct rv_json *v = rv_json_path(o, path);

	if (v == NULL || v->type == RV_JSON_NULL || v->type == RV_JSON_ARRAY ||
	    v->type == RV_JSON_OBJECT) {
		*ret_len = 0;
		return "";
	}
	*ret_len = v->str_len;
	return v->str;
}
