/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * `key = value` lines of [policy], [login] and [reporting].  Table-driven
 * (STYLE.md 5.6): an unknown or repeated key is an error, every value is
 * range-checked, nothing is guessed.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"
#include "settings.h"

#define URL_MAX 2048u

typedef int (*setting_fn)(struct lex *lx, struct pol_policy *p,
    size_t at, size_t len);

static int
set_name(struct lex *lx, struct pol_policy *p, size_t at, size_t len)
{
	const char *s;
	size_t n;
	int r;

	(void)len;
	lx->pos = at;
	if ((r = lex_string(lx, &s, &n)) < 0)
		return r;
	if (memchr(s, '\0', n) != NULL)
		return lex_error(lx, at, "name must not contain \\x00");
	lex_skip_blanks(lx);
	if (lx->pos < lx->len && lx->s[lx->pos] != '#')
		return lex_error(lx, lx->pos, "unexpected text after the name");
	p->name = s;
	return 0;
}

static int
set_u32(struct lex *lx, size_t at, size_t len, uint32_t min, uint32_t max,
    const char *what, uint32_t *ret)
{
	char buf[16];

	if (len >= sizeof(buf))
		return lex_error(lx, at, "%s must be a number from %u to %u",
		    what, min, max);
	memcpy(buf, lx->s + at, len);
	buf[len] = '\0';
	if (parse_u32(buf, min, max, ret) < 0)
		return lex_error(lx, at, "%s must be a number from %u to %u",
		    what, min, max);
	return 0;
}

static int
set_version(struct lex *lx, struct pol_policy *p, size_t at, size_t len)
{
	return set_u32(lx, at, len, 1, UINT32_MAX, "version", &p->version);
}

static int
set_threshold(struct lex *lx, struct pol_policy *p, size_t at, size_t len)
{
	return set_u32(lx, at, len, 1, 1000, "lockout-threshold",
	    &p->login.lockout_threshold);
}

static int
set_duration(struct lex *lx, size_t at, size_t len, uint64_t max_s,
    bool zero_ok, const char *what, uint32_t *ret)
{
	uint64_t ms;

	if (duration_parse(lx->s + at, len, max_s * 1000, &ms) < 0 ||
	    ms % 1000 != 0 || (!zero_ok && ms == 0))
		return lex_error(lx, at, "%s must be a duration such as 15m, "
		    "1h30m or 30d (at most %llu days)", what,
		    (unsigned long long)(max_s / 86400));
	*ret = (uint32_t)(ms / 1000);
	return 0;
}

static int
set_unlock(struct lex *lx, struct pol_policy *p, size_t at, size_t len)
{
	return set_duration(lx, at, len, 30ull * 86400, true, "unlock-after",
	    &p->login.unlock_after_s);
}

static int
set_max_age(struct lex *lx, struct pol_policy *p, size_t at, size_t len)
{
	return set_duration(lx, at, len, 3650ull * 86400, false,
	    "buffer-max-age", &p->reporting.buffer_max_age_s);
}

static int
set_uv(struct lex *lx, struct pol_policy *p, size_t at, size_t len)
{
	if (len == 8 && memcmp(lx->s + at, "required", 8) == 0)
		p->login.user_verification = true;
	else if (len == 12 && memcmp(lx->s + at, "not-required", 12) == 0)
		p->login.user_verification = false;
	else
		return lex_error(lx, at, "user-verification must be "
		    "\"required\" or \"not-required\"");
	return 0;
}

/* Blank-separated names into an arena array; groups ('@name') into
 * *groups when groups is not NULL. */
struct names {
	const char **v;
	size_t n;
};

static int
names_add(struct lex *lx, struct names *nm, size_t at, size_t n)
{
	const char **nv;

	if (nm->n >= POL_LIST_MAX)
		return lex_error(lx, at, "more than %u names", POL_LIST_MAX);
	if ((nm->n & (nm->n - 1)) == 0) {	/* 0, 1, 2, 4, ...: grow */
		nv = arena_alloc(lx->arena, (nm->n ? nm->n * 2 : 1) *
		    sizeof(*nv));
		if (nv == NULL)
			return -ENOMEM;
		if (nm->n > 0)
			memcpy(nv, nm->v, nm->n * sizeof(*nv));
		nm->v = nv;
	}
	nm->v[nm->n] = arena_memdup(lx->arena, lx->s + at, n);
	if (nm->v[nm->n] == NULL)
		return -ENOMEM;
	nm->n++;
	return 0;
}

static int
parse_names(struct lex *lx, size_t at, size_t len, struct names *users,
    struct names *groups)
{
	size_t i = at, end = at + len, start;
	bool group;
	int r;

	while (i < end) {
		while (i < end && lex_blank(lx->s[i]))
			i++;
		if (i == end)
			break;
		start = i;
		while (i < end && !lex_blank(lx->s[i]))
			i++;
		group = lx->s[start] == '@';
		if (group && groups == NULL)
			return lex_error(lx, start, "groups are not allowed "
			    "here; name the accounts");
		if (!policy_valid_name(lx->s + start + group,
		    i - start - group))
			return lex_error(lx, start, "\"%.*s\" is not a valid "
			    "%s name", (int)(i - start > 40 ? 40 : i - start),
			    lx->s + start, group ? "group" : "user");
		r = names_add(lx, group ? groups : users, start + group,
		    i - start - group);
		if (r < 0)
			return r;
	}
	return 0;
}

static int
set_require_key(struct lex *lx, struct pol_policy *p, size_t at, size_t len)
{
	struct names users = { 0 }, groups = { 0 };
	int r;

	if (len == 1 && lx->s[at] == '*') {
		p->login.key_everyone = true;
		return 0;
	}
	if (len == 0)
		return lex_error(lx, at, "require-key needs * or at least one "
		    "user or @group");
	if (memchr(lx->s + at, '*', len) != NULL)
		return lex_error(lx, at, "* stands alone: it already means "
		    "everyone");
	if ((r = parse_names(lx, at, len, &users, &groups)) < 0)
		return r;
	p->login.key_everyone = false;
	p->login.key_users = users.v;
	p->login.n_key_users = users.n;
	p->login.key_groups = groups.v;
	p->login.n_key_groups = groups.n;
	return 0;
}

static int
set_break_glass(struct lex *lx, struct pol_policy *p, size_t at, size_t len)
{
	struct names users = { 0 };
	int r;

	if ((r = parse_names(lx, at, len, &users, NULL)) < 0)
		return r;
	p->login.break_glass = users.v;
	p->login.n_break_glass = users.n;
	return 0;
}

static size_t host_end(const char *s, size_t len, size_t i);

static int
set_key_timeout(struct lex *lx, struct pol_policy *p, size_t at, size_t len)
{
	return set_duration(lx, at, len, 300, false, "key-timeout",
	    &p->login.key_timeout_s);
}

/* An absolute path without "..", blanks or control characters. */
static int
set_credentials(struct lex *lx, struct pol_policy *p, size_t at, size_t len)
{
	const char *s = lx->s + at;
	size_t i;

	if (len < 2 || len > 1024 || s[0] != '/' || s[len - 1] == '/')
		return lex_error(lx, at, "credentials must be an absolute "
		    "path to a file, such as /etc/mynaguard/credentials");
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f ||
		    (s[i] == '.' && i + 1 < len && s[i + 1] == '.' &&
		    s[i - 1] == '/'))
			return lex_error(lx, at + i, "credentials: no blanks, "
			    "control characters or \"..\" in the path");
	p->login.credentials = arena_memdup(lx->arena, s, len);
	return p->login.credentials != NULL ? 0 : -ENOMEM;
}

/* The relying party id every key is enrolled for: a domain name
 * (WebAuthn style) or pam_u2f's pam://name form. */
static int
set_relying_party(struct lex *lx, struct pol_policy *p, size_t at,
    size_t len)
{
	const char *s = lx->s + at;
	size_t i = 0;

	if (len > 6 && memcmp(s, "pam://", 6) == 0)
		i = 6;
	if (len <= i || len > POL_RELYING_PARTY_MAX ||
	    host_end(s, len, i) != len || s[i] == '[')
		return lex_error(lx, at, "relying-party must be a host name "
		    "such as town.example.lg.jp or pam://town-name "
		    "(letters, digits, '.' and '-')");
	p->login.relying_party = arena_memdup(lx->arena, s, len);
	return p->login.relying_party != NULL ? 0 : -ENOMEM;
}

/* AAGUIDs: 32 hex digits each, dashes allowed (8-4-4-4-12). */
static int
parse_aaguid(const char *s, size_t n, uint8_t out[16])
{
	size_t i, k = 0;
	int hi, lo;

	for (i = 0; i < n && k < 16; ) {
		if (s[i] == '-' && (k == 4 || k == 6 || k == 8 || k == 10)) {
			i++;
			continue;
		}
		if (i + 1 >= n || (hi = parse_hexdigit(s[i])) < 0 ||
		    (lo = parse_hexdigit(s[i + 1])) < 0)
			return -EINVAL;
		out[k++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	return k == 16 && i == n ? 0 : -EINVAL;
}

static int
set_key_models(struct lex *lx, struct pol_policy *p, size_t at, size_t len)
{
	uint8_t (*v)[16];
	size_t i = at, end = at + len, start, n = 0;

	v = arena_alloc(lx->arena, POL_LIST_MAX * sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	while (i < end) {
		while (i < end && lex_blank(lx->s[i]))
			i++;
		if (i == end)
			break;
		for (start = i; i < end && !lex_blank(lx->s[i]); i++)
			;
		if (n == POL_LIST_MAX)
			return lex_error(lx, start, "more than %u key models",
			    POL_LIST_MAX);
		if (parse_aaguid(lx->s + start, i - start, v[n]) < 0)
			return lex_error(lx, start, "key-models: \"%.*s\" is "
			    "not an AAGUID (32 hex digits, such as "
			    "cb69481e-8ff7-4039-93ec-0a2729a154a8)",
			    (int)(i - start > 40 ? 40 : i - start),
			    lx->s + start);
		n++;
	}
	p->login.key_models = (const uint8_t (*)[16])v;
	p->login.n_key_models = n;
	return 0;
}

static bool
url_char(char c)
{
	return c > 0x20 && c < 0x7f && strchr("\"<>\\^`{|}", c) == NULL;
}

static size_t
host_end(const char *s, size_t len, size_t i)
{
	if (i < len && s[i] == '[') {	/* [IPv6] */
		for (i++; i < len && s[i] != ']'; i++)
			if (parse_hexdigit(s[i]) < 0 && s[i] != ':' &&
			    s[i] != '.')
				return 0;
		return i < len ? i + 1 : 0;
	}
	while (i < len && ((s[i] >= 'a' && s[i] <= 'z') ||
	    (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
	    s[i] == '.' || s[i] == '-'))
		i++;
	return i;
}

/* https://host[:port][/path]: the only scheme, no user:password@.
 * Returns the offset of the first bad byte, or len when the URL is good. */
size_t
pol_url_check(const char *s, size_t len)
{
	size_t i;
	uint32_t port = 0;

	if (len < 9 || memcmp(s, "https://", 8) != 0)
		return 0;
	i = host_end(s, len, 8);
	if (i <= 8)
		return 8;
	if (i < len && s[i] == ':') {
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			if ((port = port * 10 + (uint32_t)(s[i] - '0')) > 65535)
				return i;
		if (port == 0)
			return i;
	}
	if (i < len && s[i] != '/')
		return i;
	for (; i < len; i++)
		if (!url_char(s[i]) || s[i] == '#')
			return i;
	return len;
}

static int
set_collector(struct lex *lx, struct pol_policy *p, size_t at, size_t len)
{
	size_t bad = len > URL_MAX ? 0 : pol_url_check(lx->s + at, len);

	if (bad != len)
		return lex_error(lx, at + bad, "collector must be an https://"
		    "host[:port][/path] URL (no user name, no fragment)");
	p->reporting.collector = arena_memdup(lx->arena, lx->s + at, len);
	return p->reporting.collector != NULL ? 0 : -ENOMEM;
}

static int
set_buffer_size(struct lex *lx, struct pol_policy *p, size_t at, size_t len)
{
	static const struct {
		const char *unit;
		uint64_t mul;
	} units[] = {
		{ "B", 1 }, { "KiB", 1ull << 10 }, { "MiB", 1ull << 20 },
		{ "GiB", 1ull << 30 },
	};
	uint64_t v = 0;
	size_t i = at, u;

	for (; i < at + len && lx->s[i] >= '0' && lx->s[i] <= '9'; i++)
		if ((v = v * 10 + (uint64_t)(lx->s[i] - '0')) > (1ull << 40))
			break;
	for (u = 0; u < MG_ELEMENTSOF(units); u++)
		if (strlen(units[u].unit) == at + len - i &&
		    memcmp(units[u].unit, lx->s + i, at + len - i) == 0)
			break;
	if (i == at || u == MG_ELEMENTSOF(units) ||
	    v > (64ull << 30) / units[u].mul ||
	    v * units[u].mul < (1ull << 20))
		return lex_error(lx, at, "buffer-size must be a size from "
		    "1MiB to 64GiB, such as 64MiB (units B, KiB, MiB, GiB)");
	p->reporting.buffer_max_bytes = v * units[u].mul;
	return 0;
}

static const struct {
	enum section sec;
	const char *key;
	setting_fn fn;
} settings[] = {
	{ SEC_POLICY, "name", set_name },
	{ SEC_POLICY, "version", set_version },
	{ SEC_LOGIN, "require-key", set_require_key },
	{ SEC_LOGIN, "user-verification", set_uv },
	{ SEC_LOGIN, "lockout-threshold", set_threshold },
	{ SEC_LOGIN, "unlock-after", set_unlock },
	{ SEC_LOGIN, "break-glass", set_break_glass },
	{ SEC_LOGIN, "credentials", set_credentials },
	{ SEC_LOGIN, "relying-party", set_relying_party },
	{ SEC_LOGIN, "key-models", set_key_models },
	{ SEC_LOGIN, "key-timeout", set_key_timeout },
	{ SEC_REPORTING, "collector", set_collector },
	{ SEC_REPORTING, "buffer-size", set_buffer_size },
	{ SEC_REPORTING, "buffer-max-age", set_max_age },
};

/* The value's extent: up to a blank-preceded '#', without trailing
 * blanks.  Strings ("name") are cut by set_name itself. */
static size_t
value_len(const struct lex *lx)
{
	size_t i, end = lx->len;

	for (i = lx->pos; i < lx->len; i++)
		if (lx->s[i] == '#' && i > lx->pos && lex_blank(lx->s[i - 1])) {
			end = i;
			break;
		}
	while (end > lx->pos && lex_blank(lx->s[end - 1]))
		end--;
	return end - lx->pos;
}

int
setting_parse(struct lex *lx, enum section sec, struct pol_policy *p,
    uint32_t *seen)
{
	size_t at = lx->pos, n = lex_word(lx), i;

	for (i = 0; i < MG_ELEMENTSOF(settings); i++)
		if (settings[i].sec == sec && lex_word_is(lx, n, settings[i].key))
			break;
	if (n == 0)
		return lex_error(lx, at, "expected key = value");
	if (i == MG_ELEMENTSOF(settings))
		return lex_error(lx, at, "unknown key \"%.*s\" in this section",
		    (int)(n > 40 ? 40 : n), lx->s + at);
	if (*seen & (1u << i))
		return lex_error(lx, at, "\"%s\" is already set",
		    settings[i].key);
	*seen |= 1u << i;
	lx->pos += n;
	lex_skip_blanks(lx);
	if (lx->pos >= lx->len || lx->s[lx->pos] != '=')
		return lex_error(lx, lx->pos, "expected = after \"%s\"",
		    settings[i].key);
	lx->pos++;
	lex_skip_blanks(lx);
	return settings[i].fn(lx, p, lx->pos, value_len(lx));
}
