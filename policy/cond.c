/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Rule conditions: `[!]name[(argument)]`.  The argument is kept as written
 * (usbguard prints it back verbatim) and parsed strictly: where usbguard
 * reads "localtime(23:61)" or "random(0.5x)" with sloppy scanf-like code,
 * we refuse, since a typo in a security policy must not silently mean
 * something else.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

#define QUERY_DEPTH_MAX 4
#define NAME_MAX_LEN 64

static const char *const cond_names[] = {
	[COND_TRUE] = "true",
	[COND_FALSE] = "false",
	[COND_RANDOM] = "random",
	[COND_LOCALTIME] = "localtime",
	[COND_RULE_APPLIED] = "rule-applied",
	[COND_RULE_EVALUATED] = "rule-evaluated",
	[COND_ALLOWED_MATCHES] = "allowed-matches",
	[COND_SEAT_USER] = "seat-user",
	[COND_SEAT_GROUP] = "seat-group",
};

const char *
cond_name(enum cond_type t)
{
	return cond_names[t];
}

/* usbguard condition_argument: ( ... ) with backslash escapes. */
static int
read_arg(struct lex *lx, size_t *ret_start, size_t *ret_len)
{
	size_t open = lx->pos, i = open + 1;
	char c;

	for (;;) {
		if (i >= lx->len)
			return lex_error(lx, open, "missing ) after argument");
		c = lx->s[i];
		if (c == ')')
			break;
		if (c == '\r')
			return lex_error(lx, i, "carriage return in argument");
		if (c == '\\') {
			if (i + 1 >= lx->len ||
			    strchr("xabfnrtv\\'0123456789)", lx->s[i + 1]) == NULL)
				return lex_error(lx, i,
				    "unknown escape sequence in argument");
			i++;
		}
		i++;
	}
	*ret_start = open + 1;
	*ret_len = i - open - 1;
	lx->pos = i + 1;
	return 0;
}

/* P from 0 to 1 as decimal digits; true when a uniform u32 is below the
 * threshold, so P=1 is always true and P=0 never. */
static int
parse_probability(const char *s, size_t len, uint64_t *ret)
{
	uint64_t ip = 0, frac = 0, scale = 1;
	size_t i = 0, digits = 0;

	while (i < len && s[i] >= '0' && s[i] <= '9' && ip <= 1) {
		ip = ip * 10 + (uint64_t)(s[i] - '0');
		i++;
	}
	if (i == 0)
		return -EINVAL;
	if (i < len && s[i] == '.') {
		if (++i == len)
			return -EINVAL;
		for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
			/* 9 digits are finer than the 2^-32 steps used. */
			if (digits++ < 9) {
				frac = frac * 10 + (uint64_t)(s[i] - '0');
				scale *= 10;
			}
		}
	}
	if (i != len || ip > 1 || (ip == 1 && frac != 0))
		return -EINVAL;
	*ret = (ip << 32) + (frac << 32) / scale;
	return 0;
}

static int
two_digits(const char *s, size_t len, size_t *i, unsigned max, unsigned *ret)
{
	unsigned v = 0;
	size_t start = *i;

	while (*i < len && *i - start < 2 && s[*i] >= '0' && s[*i] <= '9')
		v = v * 10 + (unsigned)(s[(*i)++] - '0');
	if (*i == start || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* H[H]:M[M][:S[S]] */
static int
parse_clock(const char *s, size_t len, size_t *i, int32_t *ret)
{
	unsigned h, m, sec = 0;

	if (two_digits(s, len, i, 23, &h) < 0 || *i >= len || s[*i] != ':')
		return -EINVAL;
	(*i)++;
	if (two_digits(s, len, i, 59, &m) < 0)
		return -EINVAL;
	if (*i < len && s[*i] == ':') {
		(*i)++;
		if (two_digits(s, len, i, 59, &sec) < 0)
			return -EINVAL;
	}
	*ret = (int32_t)(h * 3600 + m * 60 + sec);
	return 0;
}

static int
parse_timerange(const char *s, size_t len, int32_t *from, int32_t *to)
{
	size_t i = 0;

	if (parse_clock(s, len, &i, from) < 0)
		return -EINVAL;
	*to = *from;
	if (i < len && s[i] == '-') {
		i++;
		if (parse_clock(s, len, &i, to) < 0)
			return -EINVAL;
	}
	if (i != len)
		return -EINVAL;
	return *from <= *to ? 0 : -ERANGE;
}

int
duration_parse(const char *s, size_t len, uint64_t max_ms, uint64_t *ret)
{
	static const struct {
		char unit;
		uint64_t ms;
	} units[] = {
		{ 's', 1000ull }, { 'm', 60000ull }, { 'h', 3600000ull },
		{ 'd', 86400000ull }, { 'w', 604800000ull },
		{ 'y', 31536000000ull },
	};
	uint64_t total = 0, v;
	size_t i = 0, u;

	if (len == 0)
		return -EINVAL;
	while (i < len) {
		size_t start = i;

		for (v = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
			if (v > max_ms / 10)
				return -ERANGE;
			v = v * 10 + (uint64_t)(s[i] - '0');
		}
		if (i == start)
			return -EINVAL;
		if (i == len && start == 0) {	/* a bare number: seconds */
			u = 0;
		} else {
			for (u = 0; u < MG_ELEMENTSOF(units); u++)
				if (i < len && s[i] == units[u].unit)
					break;
			if (u == MG_ELEMENTSOF(units))
				return -EINVAL;
			i++;
		}
		if (v > (max_ms - total) / units[u].ms)
			return -ERANGE;
		total += v * units[u].ms;
	}
	*ret = total;
	return 0;
}

int
duration_format(struct sbuf *b, uint64_t ms)
{
	static const struct {
		char unit;
		uint64_t ms;
	} units[] = {
		{ 'd', 86400000ull }, { 'h', 3600000ull }, { 'm', 60000ull },
		{ 's', 1000ull },
	};
	size_t u;
	int r;

	if (ms == 0)
		return sbuf_putc(b, '0');
	for (u = 0; u < MG_ELEMENTSOF(units); u++) {
		if (ms / units[u].ms == 0)
			continue;
		r = sbuf_printf(b, "%llu%c",
		    (unsigned long long)(ms / units[u].ms), units[u].unit);
		if (r < 0)
			return r;
		ms %= units[u].ms;
	}
	return 0;
}

static bool
valid_name(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > NAME_MAX_LEN || s[0] == '-')
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		    c == '-' || c == '@'))
			return false;
	}
	return true;
}

bool
policy_valid_name(const char *s, size_t len)
{
	return valid_name(s, len);
}

static int
parse_query(struct lex *lx, size_t at, struct pol_cond *c)
{
	struct lex sub = *lx;

	if (lx->depth >= QUERY_DEPTH_MAX)
		return lex_error(lx, at, "allowed-matches nested too deeply");
	sub.s = lx->s + at;
	sub.len = c->arg_len;
	sub.pos = 0;
	sub.col0 = lx->col0 + at;
	sub.depth = lx->depth + 1;
	return rule_parse(&sub, true, &c->u.query);
}

static int
parse_random(struct lex *lx, size_t at, struct pol_cond *c)
{
	if (c->arg == NULL) {
		c->u.threshold = 1ull << 31;
		return 0;
	}
	if (parse_probability(c->arg, c->arg_len, &c->u.threshold) < 0)
		return lex_error(lx, at, "random() needs a probability from 0 "
		    "to 1, such as 0.25");
	return 0;
}

static int
parse_localtime(struct lex *lx, size_t at, struct pol_cond *c)
{
	int r;

	if (c->arg == NULL)
		return lex_error(lx, at, "localtime needs (HH:MM) or "
		    "(HH:MM-HH:MM)");
	r = parse_timerange(c->arg, c->arg_len, &c->u.time.from,
	    &c->u.time.to);
	if (r == -ERANGE)
		return lex_error(lx, at, "localtime range ends before it "
		    "starts (ranges cannot wrap past midnight)");
	if (r < 0)
		return lex_error(lx, at, "localtime needs HH:MM[:SS] or "
		    "HH:MM[:SS]-HH:MM[:SS], hours 0-23");
	return 0;
}

static int
parse_since(struct lex *lx, size_t at, struct pol_cond *c)
{
	c->u.dur.any = c->arg == NULL;
	if (c->arg != NULL && duration_parse(c->arg, c->arg_len,
	    UINT64_MAX / 2, &c->u.dur.ms) < 0)
		return lex_error(lx, at, "%s() needs a duration such as 30s, "
		    "10m, 1h30m or 2d", cond_names[c->type]);
	return 0;
}

static int
parse_seat(struct lex *lx, size_t at, struct pol_cond *c)
{
	if (c->arg == NULL || !valid_name(c->arg, c->arg_len))
		return lex_error(lx, at, "%s needs a %s name (letters, digits, "
		    "_ . @ -)", cond_names[c->type],
		    c->type == COND_SEAT_USER ? "user" : "group");
	c->u.name = arena_memdup(lx->arena, c->arg, c->arg_len);
	return c->u.name != NULL ? 0 : -ENOMEM;
}

/* Check c->arg for condition type c->type; at is its offset in lx. */
static int
parse_argument(struct lex *lx, size_t at, struct pol_cond *c)
{
	switch (c->type) {
	case COND_TRUE:
	case COND_FALSE:
		c->arg = NULL;	/* usbguard ignores and drops it */
		c->arg_len = 0;
		return 0;
	case COND_RANDOM:
		return parse_random(lx, at, c);
	case COND_LOCALTIME:
		return parse_localtime(lx, at, c);
	case COND_RULE_APPLIED:
	case COND_RULE_EVALUATED:
		return parse_since(lx, at, c);
	case COND_ALLOWED_MATCHES:
		if (c->arg == NULL || c->arg_len == 0)
			return lex_error(lx, at, "allowed-matches needs a device "
			    "query, such as (id 1234:5678)");
		return parse_query(lx, at, c);
	case COND_SEAT_USER:
	case COND_SEAT_GROUP:
		return parse_seat(lx, at, c);
	}
	return -EINVAL;
}

int
cond_parse(struct lex *lx, struct pol_cond *c)
{
	size_t at = lx->pos, n, i, arg_at = 0, arg_len = 0;
	int r;

	memset(c, 0, sizeof(*c));
	if (lx->pos < lx->len && lx->s[lx->pos] == '!') {
		c->neg = true;
		lx->pos++;
	}
	n = lex_word(lx);
	if (n == 0)
		return lex_error(lx, lx->pos, "expected a condition");
	for (i = 0; i < MG_ELEMENTSOF(cond_names); i++)
		if (lex_word_is(lx, n, cond_names[i]))
			break;
	if (i == MG_ELEMENTSOF(cond_names))
		return lex_error(lx, lx->pos, "unknown condition \"%.*s\"",
		    (int)(n > 40 ? 40 : n), lx->s + lx->pos);
	c->type = (enum cond_type)i;
	lx->pos += n;
	if (lx->pos < lx->len && lx->s[lx->pos] == '(') {
		if ((r = read_arg(lx, &arg_at, &arg_len)) < 0)
			return r;
		c->arg = lx->s + arg_at;
		c->arg_len = arg_len;
	}
	r = parse_argument(lx, c->arg != NULL ? arg_at : at, c);
	if (r < 0)
		return r;
	/* Keep our own copy: the text is freed after parsing. */
	if (c->arg != NULL) {
		c->arg = arena_memdup(lx->arena, c->arg, c->arg_len);
		if (c->arg == NULL)
			return -ENOMEM;
	}
	return 0;
}
