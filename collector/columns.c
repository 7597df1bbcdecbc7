/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The query columns of an event (action, user_name, outcome, dev_serial),
 * read from its JSON body in C for PostgreSQL, where SQLite has them as
 * generated columns over json_extract().  A generated column (or a
 * trigger) parses the body in the server once per column and row, which
 * cost more than everything else of an insert there (bench/scale).
 *
 * Bodies come from mg_record_decode(), which has checked them to be strict
 * JSON (RFC 8259, no duplicate keys, paired surrogates): this reader only
 * walks them, staying inside the buffer whatever it is given.  Values are
 * what json_extract() gives: a string unescaped, a number as written, true
 * and false as 1 and 0, null as NULL, an object or array as its text.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct walk {
	const char *p, *end;
};

static void
ws(struct walk *w)
{
	while (w->p < w->end && strchr(" \t\r\n", *w->p) != NULL && *w->p)
		w->p++;
}

/* Past the string at w->p (at its opening quote). */
static int
skip_string(struct walk *w)
{
	for (w->p++; w->p < w->end; w->p++) {
		if (*w->p == '\\')
			w->p++;
		else if (*w->p == '"') {
			w->p++;
			return 0;
		}
	}
	return -EBADMSG;
}

/* Past the value at w->p: a string, an object or array (nesting counted,
 * strings skipped whole), or a scalar up to its delimiter. */
static int
skip_value(struct walk *w)
{
	int depth = 0;
	char c;

	ws(w);
	while (w->p < w->end) {
		c = *w->p;
		if (c == '"') {
			if (skip_string(w) < 0)
				return -EBADMSG;
			if (depth == 0)
				return 0;
			continue;
		}
		if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (depth == 0)
				return 0; /* the end of the enclosing one */
			if (--depth == 0) {
				w->p++;
				return 0;
			}
		} else if (depth == 0 && strchr(", \t\r\n", c) != NULL) {
			return 0;
		}
		w->p++;
	}
	return depth == 0 ? 0 : -EBADMSG;
}

/* In the object at w->p, move to the value of key; 0 found, 1 absent. */
static int
member(struct walk *w, const char *key, size_t klen)
{
	const char *k;
	size_t n;

	ws(w);
	if (w->p >= w->end || *w->p != '{')
		return 1;
	w->p++;
	for (;;) {
		ws(w);
		if (w->p >= w->end || *w->p != '"')
			return 1; /* "}" or not an object */
		k = w->p + 1;
		if (skip_string(w) < 0)
			return -EBADMSG;
		n = (size_t)(w->p - k) - 1; /* keys have no escapes */
		ws(w);
		if (w->p >= w->end || *w->p != ':')
			return -EBADMSG;
		w->p++;
		ws(w);
		if (n == klen && memcmp(k, key, klen) == 0)
			return 0;
		if (skip_value(w) < 0)
			return -EBADMSG;
		ws(w);
		if (w->p < w->end && *w->p == ',')
			w->p++;
	}
}

static unsigned
hex4(const char *s)
{
	unsigned v = 0, i, d;

	for (i = 0; i < 4; i++) {
		d = s[i] >= '0' && s[i] <= '9' ? (unsigned)(s[i] - '0') :
		    s[i] >= 'a' && s[i] <= 'f' ? (unsigned)(s[i] - 'a' + 10) :
		    s[i] >= 'A' && s[i] <= 'F' ? (unsigned)(s[i] - 'A' + 10) :
						 0;
		v = v << 4 | d;
	}
	return v;
}

static size_t
utf8(unsigned u, char *o)
{
	if (u < 0x80) {
		o[0] = (char)u;
		return 1;
	}
	if (u < 0x800) {
		o[0] = (char)(0xc0 | u >> 6);
		o[1] = (char)(0x80 | (u & 0x3f));
		return 2;
	}
	if (u < 0x10000) {
		o[0] = (char)(0xe0 | u >> 12);
		o[1] = (char)(0x80 | (u >> 6 & 0x3f));
		o[2] = (char)(0x80 | (u & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | u >> 18);
	o[1] = (char)(0x80 | (u >> 12 & 0x3f));
	o[2] = (char)(0x80 | (u >> 6 & 0x3f));
	o[3] = (char)(0x80 | (u & 0x3f));
	return 4;
}

/* One escape at s (after the backslash), into o; advances *i. */
static size_t
escape(const char *s, size_t n, size_t *i, char *o)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *c = strchr(from, s[*i]);
	unsigned u, lo;

	if (s[*i] != 'u') {
		(*i)++;
		*o = c != NULL && *c != '\0' ? to[c - from] : '?';
		return 1;
	}
	if (*i + 5 > n)
		return 0;
	u = hex4(s + *i + 1);
	*i += 5;
	if (u >= 0xd800 && u < 0xdc00 && *i + 6 <= n && s[*i] == '\\' &&
	    s[*i + 1] == 'u') {
		lo = hex4(s + *i + 2);
		*i += 6;
		u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
	}
	return utf8(u, o);
}

/* The string at w->p, unescaped, into a new NUL-terminated buffer. */
static int
string_value(struct walk *w, char **ret)
{
	const char *s = w->p + 1;
	size_t n, i = 0, o = 0;
	char *out;

	if (skip_string(w) < 0)
		return -EBADMSG;
	n = (size_t)(w->p - s) - 1;
	if ((out = malloc(n + 1)) == NULL)
		return -ENOMEM;
	while (i < n) {
		if (s[i] != '\\') {
			out[o++] = s[i++];
			continue;
		}
		i++;
		o += escape(s, n, &i, out + o);
	}
	out[o] = '\0';
	*ret = out;
	return 0;
}

/* The value at w->p as json_extract() gives it, or NULL for null. */
static int
value(struct walk *w, char **ret)
{
	const char *v = w->p;
	size_t n;

	*ret = NULL;
	if (w->p < w->end && *w->p == '"')
		return string_value(w, ret);
	if (skip_value(w) < 0)
		return -EBADMSG;
	n = (size_t)(w->p - v);
	if (n == 4 && memcmp(v, "null", 4) == 0)
		return 0;
	if (n == 4 && memcmp(v, "true", 4) == 0)
		*ret = strdup("1");
	else if (n == 5 && memcmp(v, "false", 5) == 0)
		*ret = strdup("0");
	else if ((*ret = malloc(n + 1)) != NULL) {
		/* not strndup(): v is not NUL-terminated within the body */
		memcpy(*ret, v, n);
		(*ret)[n] = '\0';
	}
	return *ret == NULL ? -ENOMEM : 0;
}

int
coll_column(const char *body, size_t len, const char *path, char **ret)
{
	struct walk w = { body, body + len };
	const char *dot;
	size_t klen;
	int r;

	*ret = NULL;
	while (*path != '\0') {
		dot = strchr(path, '.');
		klen = dot != NULL ? (size_t)(dot - path) : strlen(path);
		if ((r = member(&w, path, klen)) != 0)
			return r < 0 ? r : 0;
		path += klen + (dot != NULL);
	}
	return value(&w, ret);
}

static const char *const paths[COLL_COLUMNS] = { "event.action",
	"user.name", "event.outcome", "mynaguard.device.serial" };

int
coll_columns(const struct mg_record *rec, char *ret[COLL_COLUMNS])
{
	size_t i;
	int r = 0;

	for (i = 0; i < COLL_COLUMNS; i++)
		ret[i] = NULL;
	for (i = 0; i < COLL_COLUMNS && r >= 0; i++)
		r = coll_column((const char *)rec->body, rec->body_len,
		    paths[i], &ret[i]);
	if (r < 0)
		coll_columns_free(ret);
	return r < 0 ? r : 0;
}

void
coll_columns_free(char *v[COLL_COLUMNS])
{
	size_t i;

	for (i = 0; i < COLL_COLUMNS; i++) {
		free(v[i]);
		v[i] = NULL;
	}
}
