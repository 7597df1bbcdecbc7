/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Import of pam_u2f authfiles (`mynaguard key import`).  The format, as
 * pam_u2f 1.3 reads it (util.c parse_native_format/parse_native_credential):
 *   user:cred[:cred...]     one line per user; the last line of a user wins
 *   cred = KeyHandle,PublicKey,CoseType[,Options]   new format (1.1+),
 *          base64 (RFC 4648 §4), es256 | eddsa | rs256, +presence+pin...
 *   cred = KeyHandle,PublicKeyHex                    old U2F format,
 *          web-safe base64 key handle, hex of the 65-byte P-256 point,
 *          ES256 with user presence
 * We are stricter than pam_u2f (whose strtok_r() skips empty fields and
 * whose strstr() finds "pin" anywhere): every field must be well formed,
 * so that what is imported is exactly what pam_u2f would have used.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "login_int.h"

#define U2F_LABEL "imported from pam_u2f"
#define SSH_HEADER "-----BEGIN OPENSSH PRIVATE KEY-----"

struct u2f {
	struct pmod_creds *into;
	struct pmod_diag *diag;
	const char *rp_id;
	size_t base;		/* into's size before this import */
	const char *s;		/* the current line, without its newline */
	size_t len;
	unsigned line;
	bool keep;		/* the last line of its user: import it */
	char user[PMOD_USER_MAX + 1];
	uint8_t id[PMOD_CRED_ID_MAX];
	uint8_t pk[PMOD_PUBKEY_MAX];
};

/* A field of an entry: offset and length in the current line. */
struct span {
	size_t off, len;
};

/* One user line found by the first pass. */
struct uline {
	const char *user;
	size_t len;
	size_t idx;		/* position among the lines */
};

static int
uerr(struct u2f *u, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
uerr(struct u2f *u, size_t off, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = pmod_diag_vset(u->diag, u->line, u->s, u->len, off, fmt, ap);
	va_end(ap);
	return r;
}

static int
hex_decode(const char *s, size_t len, uint8_t *out, size_t max,
    size_t *ret_len, size_t *err_off)
{
	size_t i;
	int hi, lo;

	if (len % 2 != 0 || len / 2 > max) {
		*err_off = len;
		return -EINVAL;
	}
	for (i = 0; i < len; i += 2) {
		if ((hi = parse_hexdigit(s[i])) < 0 ||
		    (lo = parse_hexdigit(s[i + 1])) < 0) {
			*err_off = hi < 0 ? i : i + 1;
			return -EINVAL;
		}
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	*ret_len = len / 2;
	return 0;
}

static int
decode_b64(struct u2f *u, const struct span *f, unsigned flags,
    const char *what, uint8_t *out, size_t max, size_t *ret_len)
{
	size_t err = 0;
	int r;

	r = pmod_b64_decode(u->s + f->off, f->len, flags | PMOD_B64_PAD, out,
	    max, ret_len, &err);
	if (r == -E2BIG)
		return uerr(u, f->off, "%s longer than %zu bytes", what, max);
	if (r < 0)
		return uerr(u, f->off + err, "%s is not valid %sbase64", what,
		    (flags & PMOD_B64_URL) ? "web-safe " : "");
	return 0;
}

/* "+presence+pin+verification" in any order, each at most once; "". */
static int
parse_attrs(struct u2f *u, const struct span *f, unsigned *ret)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {
		{ "+presence", PMOD_OPT_PRESENCE },
		{ "+pin", PMOD_OPT_PIN },
		{ "+verification", PMOD_OPT_UV },
	};
	const char *s = u->s + f->off;
	size_t i = 0, k, n;
	unsigned opts = 0;

	while (i < f->len) {
		for (k = 0; k < MG_ELEMENTSOF(names); k++) {
			n = strlen(names[k].name);
			if (f->len - i >= n && memcmp(s + i, names[k].name,
			    n) == 0 && (f->len - i == n || s[i + n] == '+'))
				break;
		}
		if (k == MG_ELEMENTSOF(names) || (opts & names[k].bit))
			return uerr(u, f->off + i, "unknown or repeated "
			    "option (pam_u2f writes +presence, +pin and "
			    "+verification)");
		opts |= names[k].bit;
		i += n;
	}
	*ret = opts;
	return 0;
}

static int
parse_type(struct u2f *u, const struct span *f, int *ret)
{
	static const int algs[] = { PMOD_ALG_ES256, PMOD_ALG_EDDSA,
		PMOD_ALG_RS256 };
	const char *name;
	size_t k;

	for (k = 0; k < MG_ELEMENTSOF(algs); k++) {
		name = pmod_alg_name(algs[k]);
		if (strlen(name) == f->len &&
		    memcmp(name, u->s + f->off, f->len) == 0) {
			*ret = algs[k];
			return 0;
		}
	}
	return uerr(u, f->off, "unknown COSE type (pam_u2f writes es256, "
	    "eddsa or rs256)");
}

/* The old U2F format: web-safe key handle, hex of 04||x||y. */
static int
parse_old(struct u2f *u, const struct span *f, struct pmod_cred *cr)
{
	size_t err = 0;
	int r;

	if ((r = decode_b64(u, &f[0], PMOD_B64_URL, "key handle", u->id,
	    PMOD_CRED_ID_MAX, &cr->id_len)) < 0)
		return r;
	if (hex_decode(u->s + f[1].off, f[1].len, u->pk, PMOD_PUBKEY_MAX,
	    &cr->pubkey_len, &err) < 0)
		return uerr(u, f[1].off + err, "public key is not hex (old "
		    "U2F format: 130 hex digits)");
	if (cr->pubkey_len != PMOD_ES256_PUBKEY_LEN + 1)
		return uerr(u, f[1].off, "public key must be the 65-byte "
		    "uncompressed point in the old U2F format");
	cr->alg = PMOD_ALG_ES256;
	cr->opts = PMOD_OPT_PRESENCE;
	return 0;
}

static int
parse_new(struct u2f *u, const struct span *f, size_t n, struct pmod_cred *cr)
{
	int r;

	if (f[0].len == 1 && u->s[f[0].off] == '*')
		return uerr(u, f[0].off, "resident credential (key handle "
		    "\"*\"): it has no credential id to look for; enrol this "
		    "key again with mynaguard");
	if ((r = decode_b64(u, &f[0], 0, "key handle", u->id,
	    PMOD_CRED_ID_MAX, &cr->id_len)) < 0 ||
	    (r = decode_b64(u, &f[1], 0, "public key", u->pk, PMOD_PUBKEY_MAX,
	    &cr->pubkey_len)) < 0 ||
	    (r = parse_type(u, &f[2], &cr->alg)) < 0)
		return r;
	cr->opts = 0;
	return n == 4 ? parse_attrs(u, &f[3], &cr->opts) : 0;
}

/* Split s[off, end) at commas into at most 5 fields. */
static size_t
split_commas(const char *s, size_t off, size_t end, struct span f[5])
{
	size_t n = 0, i = off;

	for (;;) {
		const char *c = memchr(s + i, ',', end - i);
		size_t stop = c != NULL ? (size_t)(c - s) : end;

		if (n < 5) {
			f[n].off = i;
			f[n].len = stop - i;
		}
		n++;
		if (c == NULL)
			return n;
		i = stop + 1;
	}
}

static int
add_cred(struct u2f *u, struct pmod_cred *cr, size_t at)
{
	const struct pmod_cred *old;
	const char *why = NULL;
	size_t k;
	int r;

	cr->user = u->user;
	cr->id = u->id;
	cr->pubkey = u->pk;
	cr->rp_id = u->rp_id;
	cr->label = U2F_LABEL;
	if ((r = pmod_cred_check(cr, &why)) == -EINVAL)
		return uerr(u, at, "%s", why);
	if (r < 0 || !u->keep)
		return r;
	r = pmod_creds_add(u->into, cr);
	if (r == -EEXIST) {
		old = pmod_creds_find(u->into, cr->rp_id, cr->id, cr->id_len);
		for (k = u->base; k < pmod_creds_count(u->into); k++)
			if (pmod_creds_at(u->into, k) == old)
				break;
		(void)uerr(u, at, "this credential %s",
		    k < pmod_creds_count(u->into) ? "appears twice in the file" :
		    "is already enrolled");
	} else if (r == -E2BIG)
		(void)uerr(u, at, "more than %u credentials", PMOD_CREDS_MAX);
	return r;
}

static int
parse_entry(struct u2f *u, size_t off, size_t end)
{
	struct pmod_cred cr;
	struct span f[5];
	size_t n, i;
	int r;

	memset(&cr, 0, sizeof(cr));
	n = split_commas(u->s, off, end, f);
	if (n < 2 || n > 4)
		return uerr(u, off, "%s: a pam_u2f credential is KeyHandle,"
		    "PublicKey[,CoseType[,Options]]", n < 2 ? "public key "
		    "missing" : "too many fields");
	for (i = 0; i < n && i < 3; i++)
		if (f[i].len == 0)
			return uerr(u, f[i].off, "empty field");
	r = n == 2 ? parse_old(u, f, &cr) : parse_new(u, f, n, &cr);
	if (r < 0)
		return r;
	return add_cred(u, &cr, f[1].off);
}

static bool
ascii_blank_or_comment(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i == len || s[i] == '#';
}

static int
parse_line(struct u2f *u)
{
	const char *colon;
	size_t i, end, ulen;
	int r;

	for (i = 0; i < u->len; i++)
		if ((unsigned char)u->s[i] < 0x20 || u->s[i] == 0x7f)
			return uerr(u, i, "control character U+%04X",
			    (unsigned char)u->s[i]);
	if (ascii_blank_or_comment(u->s, u->len))
		return 0;
	if ((colon = memchr(u->s, ':', u->len)) == NULL)
		return uerr(u, u->len, "no ':' after the user name (pam_u2f "
		    "lines look like user:KeyHandle,PublicKey,CoseType,"
		    "Options)");
	ulen = (size_t)(colon - u->s);
	if (ulen > PMOD_USER_MAX || utf8_validate(u->s, ulen, NULL) < 0)
		return uerr(u, 0, "user name is not valid for mynaguard");
	memcpy(u->user, u->s, ulen);
	u->user[ulen] = '\0';
	if (!pmod_user_valid(u->user))
		return uerr(u, 0, "user name \"%.40s\" is not valid for "
		    "mynaguard (A-Z a-z 0-9 . _ @ $ + \\ -)", u->user);
	for (i = ulen + 1; i < u->len; i = end + 1) {
		colon = memchr(u->s + i, ':', u->len - i);
		end = colon != NULL ? (size_t)(colon - u->s) : u->len;
		if (end > i && (r = parse_entry(u, i, end)) < 0)
			return r;	/* empty entries are skipped, as in pam_u2f */
	}
	return 0;
}

static size_t
line_len(const char *s, size_t left)
{
	const char *nl = memchr(s, '\n', left);

	return nl != NULL ? (size_t)(nl - s) : left;
}

static int
uline_cmp(const void *a, const void *b)
{
	const struct uline *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->user, y->user, n);

	if (c != 0)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

/*
 * First pass: pam_u2f uses only the last line of each user, so find which
 * lines are superseded (*ret_skip[i] for the i-th line).  O(n log n).
 */
static int
find_superseded(const char *text, size_t len, bool **ret_skip)
{
	struct uline *v = NULL;
	bool *skip = NULL;
	size_t pos = 0, n = 0, nlines = 0, i, l;

	for (pos = 0; pos < len; pos += l + 1, nlines++)
		l = line_len(text + pos, len - pos);
	if ((skip = calloc(nlines + 1, sizeof(*skip))) == NULL ||
	    (v = calloc(nlines + 1, sizeof(*v))) == NULL) {
		free(skip);
		return -ENOMEM;
	}
	for (pos = 0, i = 0; pos < len; pos += l + 1, i++) {
		const char *colon;

		l = line_len(text + pos, len - pos);
		if ((colon = memchr(text + pos, ':', l)) == NULL)
			continue;
		v[n].user = text + pos;
		v[n].len = (size_t)(colon - (text + pos));
		v[n++].idx = i;
	}
	qsort(v, n, sizeof(*v), uline_cmp);
	for (i = 0; i + 1 < n; i++)
		if (v[i].len == v[i + 1].len &&
		    memcmp(v[i].user, v[i + 1].user, v[i].len) == 0)
			skip[v[i].idx] = true;
	free(v);
	*ret_skip = skip;
	return 0;
}

static int
parse_lines(struct u2f *u, const char *text, size_t len, const bool *skip)
{
	size_t pos = 0, l, i;
	int r;

	for (i = 0; pos < len; pos += l + 1, i++) {
		l = line_len(text + pos, len - pos);
		u->line = (unsigned)(i + 1);
		u->s = text + pos;
		u->len = l > 0 && u->s[l - 1] == '\r' ? l - 1 : l;
		u->keep = !skip[i];
		if (memchr(u->s, '\0', u->len) != NULL)
			return uerr(u, (size_t)((const char *)memchr(u->s,
			    '\0', u->len) - u->s), "NUL byte");
		if ((r = parse_line(u)) < 0)
			return r;
	}
	return 0;
}

static bool
rp_ok(const char *rp)
{
	size_t i, len = strnlen(rp, PMOD_RP_ID_MAX + 1);

	if (len == 0 || len > PMOD_RP_ID_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (rp[i] <= 0x20 || rp[i] >= 0x7f)
			return false;
	return true;
}

int
pmod_u2f_parse(const char *text, size_t len, const char *rp_id,
    struct pmod_creds *into, struct pmod_diag *diag)
{
	struct u2f *u = NULL;
	bool *skip = NULL;
	int r;

	if ((text == NULL && len > 0) || rp_id == NULL || into == NULL ||
	    !rp_ok(rp_id))
		return -EINVAL;
	if (diag != NULL)
		memset(diag, 0, sizeof(*diag));
	if (len > PMOD_CRED_FILE_MAX)
		return -E2BIG;
	if ((u = calloc(1, sizeof(*u))) == NULL)
		return -ENOMEM;
	u->into = into;
	u->diag = diag;
	u->rp_id = rp_id;
	u->base = pmod_creds_count(into);
	u->line = 1;
	u->s = text;
	u->len = len > 0 ? line_len(text, len) : 0;
	if (len >= strlen(SSH_HEADER) && memcmp(text, SSH_HEADER,
	    strlen(SSH_HEADER)) == 0)
		r = uerr(u, 0, "pam_u2f's SSH format (sshformat) is not "
		    "supported: it holds no credential id; enrol the key "
		    "again with mynaguard");
	else if ((r = find_superseded(text, len, &skip)) == 0)
		r = parse_lines(u, text, len, skip);
	if (r < 0)
		pmod_creds_truncate(into, u->base);	/* all or nothing */
	else
		r = (int)(pmod_creds_count(into) - u->base);
	free(skip);
	free(u);
	return r;
}
