/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mg_bundle_parse(): the structure of a policy bundle, strictly.  Every
 * header line is printable ASCII, in a fixed order, each exactly once;
 * parts come in a fixed order with their exact length and SHA-256; the
 * signature line is last and nothing follows it.  Anything else is refused
 * with its line number, so two parsers can never read one bundle two ways.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mynaguard/common.h"
#include "internal.h"

struct cursor {
	const char *buf;
	size_t len;
	size_t off;
	unsigned line;		/* of the line starting at off */
	struct mg_bundle_error *e;
};

/* One line split at single spaces: at most 4 fields. */
struct fields {
	const char *f[4];
	size_t n[4];
	size_t count;
};

static const char *const headers[] = { "group", "version", "created",
    "signer" };

int
bundle_fail(struct mg_bundle_error *e, unsigned line, int r,
    const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return r;
	e->line = line;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return r;
}

int
bundle_sha256_hex(const void *data, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[32];
	unsigned int n = 0;
	size_t i;

	if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
		return -EIO;
	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[64] = '\0';
	return 0;
}

bool
bundle_text_ok(const char *s, size_t len, size_t *ret_bad)
{
	const char *nul = memchr(s, '\0', len);
	size_t bad = 0;

	if (utf8_validate(s, len, &bad) < 0) {
		*ret_bad = bad;
		return false;
	}
	if (nul != NULL) {
		*ret_bad = (size_t)(nul - s);
		return false;
	}
	return true;
}

bool
mg_bundle_group_valid(const char *s)
{
	size_t i, n;

	if (s == NULL)
		return false;
	n = strlen(s);
	if (n < 1 || n > MG_BUNDLE_GROUP_MAX)
		return false;
	/* Not "." or "..", nor an option: it names files and URL paths. */
	if (s[0] == '.' || s[0] == '-' || s[0] == '_')
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
		    s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

static int
bad(struct cursor *c, const char *fmt, ...) __attribute__((format(printf, 2,
    3)));

static int
bad(struct cursor *c, const char *fmt, ...)
{
	va_list ap;

	if (c->e == NULL)
		return -EBADMSG;
	c->e->line = c->line;
	va_start(ap, fmt);
	vsnprintf(c->e->msg, sizeof(c->e->msg), fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

/* The next header line (without its newline) split into fields. */
static int
next_line(struct cursor *c, struct fields *f)
{
	const char *s = c->buf + c->off, *nl;
	size_t avail = c->len - c->off, n, i, start;

	if (avail == 0)
		return bad(c, "the bundle ends before its \"signature\" line");
	nl = memchr(s, '\n', avail < BUNDLE_LINE_MAX + 1 ? avail :
	    BUNDLE_LINE_MAX + 1);
	if (nl == NULL)
		return bad(c, avail > BUNDLE_LINE_MAX ?
		    "line longer than %u bytes" :
		    "the bundle ends inside this line (truncated?)",
		    BUNDLE_LINE_MAX);
	n = (size_t)(nl - s);
	memset(f, 0, sizeof(*f));
	for (i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return bad(c, "byte %zu is not printable ASCII "
			    "(0x%02x)", i + 1, (unsigned)(unsigned char)s[i]);
	for (start = 0, i = 0; i <= n; i++) {
		if (i < n && s[i] != ' ')
			continue;
		if (i == start)
			return bad(c, "fields are separated by exactly one "
			    "space");
		if (f->count == MG_ELEMENTSOF(f->f))
			return bad(c, "too many fields");
		f->f[f->count] = s + start;
		f->n[f->count++] = i - start;
		start = i + 1;
	}
	c->off += n + 1;
	return 0;
}

static bool
is(const struct fields *f, size_t i, const char *word)
{
	return i < f->count && f->n[i] == strlen(word) &&
	    memcmp(f->f[i], word, f->n[i]) == 0;
}

/* Copy field i (at most max bytes) as a string. */
static bool
field(const struct fields *f, size_t i, char *out, size_t size)
{
	if (i >= f->count || f->n[i] >= size)
		return false;
	memcpy(out, f->f[i], f->n[i]);
	out[f->n[i]] = '\0';
	return true;
}

/* Decimal without sign or leading zeros, at most max. */
static int
number(const struct fields *f, size_t i, uint64_t min, uint64_t max,
    uint64_t *ret)
{
	char s[24];

	if (!field(f, i, s, sizeof(s)) || (s[0] == '0' && s[1] != '\0'))
		return -EINVAL;
	return parse_u64(s, min, max, ret);
}

static bool
hex64(const struct fields *f, size_t i, char out[65])
{
	size_t k;

	if (i >= f->count || f->n[i] != 64)
		return false;
	for (k = 0; k < 64; k++)
		if (!((f->f[i][k] >= '0' && f->f[i][k] <= '9') ||
		    (f->f[i][k] >= 'a' && f->f[i][k] <= 'f')))
			return false;
	return field(f, i, out, 65);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
digits(const char *s, size_t n, unsigned *ret)
{
	unsigned v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*ret = v;
	return 0;
}

/* The fixed shape "DDDD-DD-DDTDD:DD:DDZ": separators, then digits. */
static bool
time_shape(const char *s, size_t n)
{
	static const char shape[] = "0000-00-00T00:00:00Z";
	size_t i;

	if (n != sizeof(shape) - 1)
		return false;
	for (i = 0; i < n; i++)
		if (shape[i] == '0' ? s[i] < '0' || s[i] > '9' :
		    s[i] != shape[i])
			return false;
	return true;
}

static bool
date_valid(unsigned y, unsigned mo, unsigned d)
{
	static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
		return false;
	return !(mo == 2 && d == 29 && !leap);
}

/* RFC 3339 "YYYY-MM-DDTHH:MM:SSZ" (UTC, no fraction, no leap second). */
static int
parse_time(const char *s, size_t n, int64_t *ret)
{
	unsigned y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;

	if (!time_shape(s, n))
		return -EINVAL;
	(void)digits(s, 4, &y);
	(void)digits(s + 5, 2, &mo);
	(void)digits(s + 8, 2, &d);
	(void)digits(s + 11, 2, &h);
	(void)digits(s + 14, 2, &mi);
	(void)digits(s + 17, 2, &se);
	if (!date_valid(y, mo, d) || h > 23 || mi > 59 || se > 59)
		return -EINVAL;
	*ret = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	return 0;
}

int
mg_bundle_time_format(int64_t t, char out[21])
{
	struct tm tm;
	time_t tt = (time_t)t;

	/* 253402300799 is 9999-12-31T23:59:59Z. */
	if (t < 0 || t > 253402300799 || gmtime_r(&tt, &tm) == NULL)
		return -ERANGE;
	if (strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) != 20)
		return -ERANGE;
	return 0;
}

static int
header_value(struct cursor *c, size_t i, const struct fields *f,
    struct mg_bundle *b)
{
	uint64_t v = 0;

	if (f->count != 2)
		return bad(c, "\"%s\" takes exactly one value", headers[i]);
	switch (i) {
	case 0:
		if (!field(f, 1, b->group, sizeof(b->group)) ||
		    !mg_bundle_group_valid(b->group))
			return bad(c, "group must be 1 to %d characters of "
			    "a-z 0-9 . _ -, starting with a letter or digit",
			    MG_BUNDLE_GROUP_MAX);
		return 0;
	case 1:
		if (number(f, 1, 1, MG_BUNDLE_VERSION_MAX, &v) < 0)
			return bad(c, "version must be a number from 1 to "
			    "%lld without leading zeros",
			    (long long)MG_BUNDLE_VERSION_MAX);
		b->version = v;
		return 0;
	case 2:
		if (parse_time(f->f[1], f->n[1], &b->created) < 0)
			return bad(c, "created must be a UTC time "
			    "YYYY-MM-DDTHH:MM:SSZ (RFC 3339), 1970 or later");
		return 0;
	default:
		if (!hex64(f, 1, b->signer))
			return bad(c, "signer must be 64 lower-case hex "
			    "digits (SHA-256 of the certificate)");
		return 0;
	}
}

/* Name the problem when f is not the header headers[want]. */
static int
header_misplaced(struct cursor *c, size_t want, const struct fields *f)
{
	size_t k;

	for (k = 0; k < MG_ELEMENTSOF(headers); k++) {
		if (!is(f, 0, headers[k]))
			continue;
		if (k < want)
			return bad(c, "repeated \"%s\" line", headers[k]);
		return bad(c, "\"%s\" line where \"%s\" was expected: the "
		    "header lines are group, version, created, signer, in "
		    "that order", headers[k], headers[want]);
	}
	if (is(f, 0, "part") || is(f, 0, "signature"))
		return bad(c, "missing \"%s\" line", headers[want]);
	return bad(c, "unknown line \"%.*s\"", (int)(f->n[0] > 32 ? 32 :
	    f->n[0]), f->f[0]);
}

static int
parse_headers(struct cursor *c, struct mg_bundle *b)
{
	struct fields f;
	size_t i;
	int r;

	if ((r = next_line(c, &f)) < 0)
		return r;
	if (f.count != 2 || !is(&f, 0, "mynaguard-policy-bundle"))
		return bad(c, "not a mynaguard policy bundle (the first line "
		    "must be \"%s\")", MG_BUNDLE_MAGIC);
	if (!is(&f, 1, "1"))
		return bad(c, "bundle format %.*s is not supported (only 1)",
		    (int)f.n[1], f.f[1]);
	for (i = 0; i < MG_ELEMENTSOF(headers); i++) {
		c->line++;
		if ((r = next_line(c, &f)) < 0)
			return r;
		if (!is(&f, 0, headers[i]))
			return header_misplaced(c, i, &f);
		if ((r = header_value(c, i, &f, b)) < 0)
			return r;
	}
	c->line++;
	return 0;
}

/* The bytes of a part after its line: content, then one newline. */
static int
part_content(struct cursor *c, const char *name, size_t len,
    const char *sha, const char **ret)
{
	const char *p = c->buf + c->off;
	char got[65];
	size_t badoff = 0, i;
	unsigned lines = 2;	/* the part line, and the content's last */

	if (c->len - c->off < len || c->len - c->off - len < 1)
		return bad(c, "part %s: the bundle ends %zu bytes early "
		    "(truncated?)", name, len + 1 - (c->len - c->off));
	if (p[len] != '\n')
		return bad(c, "part %s: no newline after its %zu bytes "
		    "(wrong length?)", name, len);
	if (bundle_sha256_hex(p, len, got) < 0)
		return bad(c, "part %s: cannot compute SHA-256", name);
	if (CRYPTO_memcmp(got, sha, 64) != 0)
		return bad(c, "part %s: SHA-256 mismatch (the line says %.16s"
		    "..., the content hashes to %.16s...)", name, sha, got);
	if (!bundle_text_ok(p, len, &badoff))
		return bad(c, "part %s: byte %zu is not UTF-8 text (or is "
		    "NUL)", name, badoff + 1);
	for (i = 0; i < len; i++)
		lines += p[i] == '\n';
	*ret = p;
	c->off += len + 1;
	c->line += lines;
	return 0;
}

static int
part_line(struct cursor *c, const struct fields *f, const char *want,
    size_t max, size_t *ret_len, char sha[65])
{
	uint64_t n = 0;

	if (f->count < 2 || !is(f, 1, want)) {
		if (is(f, 1, "policy") || is(f, 1, "credentials"))
			return bad(c, "part %.*s where part %s was expected "
			    "(parts are policy, then credentials, once each)",
			    (int)f->n[1], f->f[1], want);
		return bad(c, "unknown part \"%.*s\" (known: policy, "
		    "credentials)", f->count < 2 ? 0 : (int)(f->n[1] > 32 ?
		    32 : f->n[1]), f->count < 2 ? "" : f->f[1]);
	}
	if (f->count != 4)
		return bad(c, "a part line is \"part NAME LENGTH SHA256\"");
	if (number(f, 2, 0, UINT64_MAX, &n) < 0)
		return bad(c, "part %s: the length must be a number of bytes "
		    "without leading zeros", want);
	if (n > max)
		return bad(c, "part %s: %llu bytes, more than the limit of "
		    "%zu", want, (unsigned long long)n, max);
	if (!hex64(f, 3, sha))
		return bad(c, "part %s: the hash must be 64 lower-case hex "
		    "digits", want);
	*ret_len = (size_t)n;
	return 0;
}

/* "part NAME ..." or the signature line (which ends the parts). */
static int
parse_part(struct cursor *c, const struct fields *f, bool policy,
    struct mg_bundle *b)
{
	size_t n = 0;
	int r;

	if (policy) {
		r = part_line(c, f, "policy", MG_BUNDLE_POLICY_MAX, &n,
		    b->policy_sha256);
		if (r == 0)
			r = part_content(c, "policy", n, b->policy_sha256,
			    &b->policy);
		b->policy_len = n;
		return r;
	}
	r = part_line(c, f, "credentials", MG_BUNDLE_CREDENTIALS_MAX, &n,
	    b->credentials_sha256);
	if (r == 0)
		r = part_content(c, "credentials", n, b->credentials_sha256,
		    &b->credentials);
	b->credentials_len = n;
	return r;
}

static int
parse_signature(struct cursor *c, const struct fields *f,
    struct mg_bundle *b)
{
	if (f->count != 2)
		return bad(c, "the signature line is \"signature BASE64\"");
	if (f->n[1] > BUNDLE_SIG_B64_MAX ||
	    bundle_b64_decode(f->f[1], f->n[1], b->sig, sizeof(b->sig),
	    &b->sig_len) < 0 || b->sig_len < 8)
		return bad(c, "the signature must be an ECDSA signature in "
		    "DER, base64 with padding");
	if (c->off != c->len)
		return bad(c, "%zu bytes after the signature line",
		    c->len - c->off);
	return 0;
}

/* A line that is neither a part nor the signature where one was due. */
static int
not_a_part(struct cursor *c, const struct fields *f, int parts)
{
	size_t k;

	for (k = 0; k < MG_ELEMENTSOF(headers); k++)
		if (is(f, 0, headers[k]))
			return bad(c, "repeated \"%s\" line", headers[k]);
	if (parts == 0)
		return bad(c, "missing \"part policy\" line");
	return bad(c, "unknown line \"%.*s\"", (int)(f->n[0] > 32 ? 32 :
	    f->n[0]), f->f[0]);
}

/* Part lines, then the signature line. */
static int
parse_body(struct cursor *c, struct mg_bundle *b)
{
	struct fields f;
	size_t start;
	int r, parts = 0;

	for (;;) {
		start = c->off;
		if ((r = next_line(c, &f)) < 0)
			return r;
		if (is(&f, 0, "signature") && parts > 0) {
			b->signed_len = start;
			return parse_signature(c, &f, b);
		}
		if (!is(&f, 0, "part"))
			return not_a_part(c, &f, parts);
		if (parts == 2)
			return bad(c, "a third part (parts are policy, then "
			    "credentials, once each)");
		if ((r = parse_part(c, &f, parts == 0, b)) < 0)
			return r;
		parts++;
	}
}

int
mg_bundle_parse(const void *buf, size_t len, struct mg_bundle *b,
    struct mg_bundle_error *e)
{
	struct mg_bundle tmp;
	struct cursor c = { .buf = buf, .len = len, .line = 1, .e = e };
	int r;

	if (buf == NULL || b == NULL)
		return bundle_fail(e, 0, -EINVAL, "no bundle");
	if (len > MG_BUNDLE_MAX)
		return bundle_fail(e, 0, -EBADMSG, "the bundle is %zu bytes, "
		    "more than the limit of %u", len, MG_BUNDLE_MAX);
	memset(&tmp, 0, sizeof(tmp));
	if ((r = parse_headers(&c, &tmp)) < 0 || (r = parse_body(&c, &tmp)) < 0)
		return r;
	*b = tmp;
	return 0;
}
