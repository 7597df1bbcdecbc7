/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Enrolled credentials: the checks on every field, an ordered arena-backed
 * list with a hash index on (relying party, credential id), and the parser
 * of our text format (docs/credentials.md), which needs the list's
 * insides to name the line of a duplicate.  Writing the format and the
 * file handling are in credfile.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include "login_int.h"

/* 2000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: no FIDO2 key is older,
 * and RFC 3339 has four-digit years. */
#define CREATED_MIN INT64_C(946684800)
#define CREATED_MAX INT64_C(253402300799)

struct entry {
	struct pmod_cred cred;
	unsigned line;		/* where it was parsed; 0 when added */
	uint64_t hash;
};

struct pmod_creds {
	struct arena *arena;	/* entries and their strings */
	struct entry **v;
	size_t n, cap;
	size_t *slots;		/* open addressing: index + 1, 0 = free */
	size_t nslots;		/* a power of two, at least 2 * n */
};

enum field {
	F_USER, F_ID, F_ALG, F_PUBKEY, F_RP, F_OPTS, F_AAGUID, F_CREATED,
	F_LABEL, F_COUNT
};

static const char *const field_names[F_COUNT] = {
	"user", "credential id", "algorithm", "public key", "relying party",
	"options", "aaguid", "created", "label",
};

static const struct {
	const char *name;
	unsigned bit;
} opt_names[] = {
	{ "presence", PMOD_OPT_PRESENCE },
	{ "pin", PMOD_OPT_PIN },
	{ "verification", PMOD_OPT_UV },
};

/* ---- field checks ----------------------------------------------------- */

bool
pmod_user_valid(const char *user)
{
	size_t i, len;

	if (user == NULL)
		return false;
	len = strnlen(user, PMOD_USER_MAX + 1);
	if (len == 0 || len > PMOD_USER_MAX || user[0] == '-' ||
	    strcmp(user, ".") == 0 || strcmp(user, "..") == 0)
		return false;
	for (i = 0; i < len; i++) {
		char c = user[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("._@$+\\-", c) != NULL))
			return false;
	}
	return true;
}

/* Printable ASCII without blanks: a host name, pam://name or an origin. */
static bool
rp_valid(const char *rp)
{
	size_t i, len = strnlen(rp, PMOD_RP_ID_MAX + 1);

	if (len == 0 || len > PMOD_RP_ID_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (rp[i] <= 0x20 || rp[i] >= 0x7f)
			return false;
	return true;
}

/* Whether s (valid UTF-8, n bytes left) starts with a control character
 * (C0 but tab, DEL, C1) or a bidirectional override/isolate, which could
 * make `mynaguard key list` show something else than what is stored. */
static bool
bad_char(const unsigned char *s, size_t n, bool tab_ok)
{
	if (s[0] == '\t')
		return !tab_ok;
	if (s[0] < 0x20 || s[0] == 0x7f)
		return true;
	if (n >= 2 && s[0] == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f)
		return true;
	return n >= 3 && s[0] == 0xe2 && ((s[1] == 0x80 && s[2] >= 0xaa &&
	    s[2] <= 0xae) || (s[1] == 0x81 && s[2] >= 0xa6 && s[2] <= 0xa9));
}

/* NULL when label is acceptable, else why, with the byte offset. */
static const char *
label_problem(const char *label, size_t *ret_off)
{
	size_t len = strnlen(label, PMOD_LABEL_MAX + 1), i, bad = 0;

	*ret_off = 0;
	if (len > PMOD_LABEL_MAX)
		return "label longer than 128 bytes";
	if (utf8_validate(label, len, &bad) < 0) {
		*ret_off = bad;
		return "label is not valid UTF-8";
	}
	for (i = 0; i < len; i += utf8_seqlen(label + i, len - i)) {
		if (bad_char((const unsigned char *)label + i, len - i,
		    false)) {
			*ret_off = i;
			return "label contains a tab, control or "
			    "bidirectional formatting character";
		}
	}
	if (len > 0 && (label[0] == ' ' || label[len - 1] == ' '))
		return "label begins or ends with a space";
	return NULL;
}

static int
p256_check(const uint8_t *xy)
{
	EC_GROUP *g = NULL;
	EC_POINT *p = NULL;
	uint8_t oct[1 + PMOD_ES256_PUBKEY_LEN];
	int r = -ENOMEM;

	oct[0] = 0x04;	/* SEC 1 §2.3.3: uncompressed point */
	memcpy(oct + 1, xy, PMOD_ES256_PUBKEY_LEN);
	if ((g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1)) == NULL ||
	    (p = EC_POINT_new(g)) == NULL)
		goto out;
	r = EC_POINT_oct2point(g, p, oct, sizeof(oct), NULL) == 1 &&
	    EC_POINT_is_on_curve(g, p, NULL) == 1 ? 0 : -EINVAL;
out:
	EC_POINT_free(p);
	EC_GROUP_free(g);
	return r;
}

static int
es256_check(const uint8_t *pk, size_t len, const char **why)
{
	int r;

	if (len == PMOD_ES256_PUBKEY_LEN + 1 && pk[0] == 0x04) {
		pk++;
		len--;
	}
	if (len != PMOD_ES256_PUBKEY_LEN) {
		*why = "an es256 public key has 64 bytes (x||y) or 65 "
		    "(04||x||y)";
		return -EINVAL;
	}
	if ((r = p256_check(pk)) == -EINVAL)
		*why = "the es256 public key is not a point on P-256";
	return r;
}

/* libfido2's rs256_pk_t, as pamu2fcfg writes it: a 2048-bit modulus and a
 * 3-byte exponent, both big-endian. */
static int
rs256_check(const uint8_t *pk, size_t len, const char **why)
{
	const uint8_t *e = pk + 256;

	if (len != PMOD_RS256_PUBKEY_LEN) {
		*why = "an rs256 public key has 259 bytes (2048-bit modulus "
		    "and 3-byte exponent)";
		return -EINVAL;
	}
	if (!(pk[0] & 0x80) || !(pk[255] & 1) || !(e[2] & 1) ||
	    (e[0] == 0 && e[1] == 0 && e[2] < 3)) {
		*why = "the rs256 public key is not a 2048-bit RSA key";
		return -EINVAL;
	}
	return 0;
}

int
pmod_pubkey_check(int alg, const uint8_t *pk, size_t len, const char **why)
{
	const char *dummy;

	if (why == NULL)
		why = &dummy;
	if (pk == NULL && len > 0) {
		*why = "public key missing";
		return -EINVAL;
	}
	switch (alg) {
	case PMOD_ALG_ES256:
		return es256_check(pk, len, why);
	case PMOD_ALG_EDDSA:
		if (len == PMOD_EDDSA_PUBKEY_LEN)
			return 0;
		*why = "an eddsa public key has 32 bytes";
		return -EINVAL;
	case PMOD_ALG_RS256:
		return rs256_check(pk, len, why);
	default:
		*why = "unknown algorithm (es256, eddsa or rs256)";
		return -EINVAL;
	}
}

const char *
pmod_alg_name(int alg)
{
	switch (alg) {
	case PMOD_ALG_ES256:
		return "es256";
	case PMOD_ALG_EDDSA:
		return "eddsa";
	case PMOD_ALG_RS256:
		return "rs256";
	default:
		return NULL;
	}
}

/* The first bad field of cred and why; -ENOMEM is possible (OpenSSL). */
static int
check_fields(const struct pmod_cred *cred, enum field *ret_field,
    const char **why, size_t *ret_off)
{
	int r;

	*ret_off = 0;
	*ret_field = F_USER;
	if (!pmod_user_valid(cred->user)) {
		*why = "user name must be 1 to 256 of A-Z a-z 0-9 . _ @ $ + "
		    "\\ -, not starting with '-'";
		return -EINVAL;
	}
	*ret_field = F_ID;
	if (cred->id == NULL || cred->id_len == 0 ||
	    cred->id_len > PMOD_CRED_ID_MAX) {
		*why = "credential id must have 1 to 1024 bytes";
		return -EINVAL;
	}
	*ret_field = F_PUBKEY;
	if ((r = pmod_pubkey_check(cred->alg, cred->pubkey, cred->pubkey_len,
	    why)) < 0)
		return r;
	*ret_field = F_RP;
	if (cred->rp_id == NULL || !rp_valid(cred->rp_id)) {
		*why = "relying party must be 1 to 255 printable ASCII "
		    "characters without blanks";
		return -EINVAL;
	}
	*ret_field = F_OPTS;
	if (cred->opts & ~PMOD_OPT_ALL) {
		*why = "unknown option bits";
		return -EINVAL;
	}
	*ret_field = F_CREATED;
	if (cred->created != 0 && (cred->created < CREATED_MIN ||
	    cred->created > CREATED_MAX)) {
		*why = "created must be in the years 2000 to 9999";
		return -EINVAL;
	}
	*ret_field = F_LABEL;
	if (cred->label == NULL) {
		*why = "label missing";
		return -EINVAL;
	}
	return (*why = label_problem(cred->label, ret_off)) ? -EINVAL : 0;
}

int
pmod_cred_check(const struct pmod_cred *cred, const char **why)
{
	const char *dummy = NULL;
	enum field f;
	size_t off;

	if (cred == NULL)
		return -EINVAL;
	return check_fields(cred, &f, why != NULL ? why : &dummy, &off);
}

/* ---- the list ------------------------------------------------------------ */

int
pmod_creds_new(struct pmod_creds **ret)
{
	struct pmod_creds *c;
	int r;

	if (ret == NULL)
		return -EINVAL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -ENOMEM;
	if ((r = arena_new(&c->arena)) < 0) {
		free(c);
		return r;
	}
	*ret = c;
	return 0;
}

void
pmod_creds_free(struct pmod_creds *c)
{
	if (c == NULL)
		return;
	arena_free(c->arena);
	free(c->v);
	free(c->slots);
	free(c);
}

size_t
pmod_creds_count(const struct pmod_creds *c)
{
	return c != NULL ? c->n : 0;
}

const struct pmod_cred *
pmod_creds_at(const struct pmod_creds *c, size_t i)
{
	return c != NULL && i < c->n ? &c->v[i]->cred : NULL;
}

size_t
pmod_creds_for_user(const struct pmod_creds *c, const char *user,
    const struct pmod_cred **out, size_t max)
{
	size_t i, total = 0;

	if (c == NULL || user == NULL)
		return 0;
	for (i = 0; i < c->n; i++) {
		if (strcmp(c->v[i]->cred.user, user) != 0)
			continue;
		if (out != NULL && total < max)
			out[total] = &c->v[i]->cred;
		total++;
	}
	return total;
}

/* FNV-1a: a hash table index, not a security boundary (the files are
 * root's). */
static uint64_t
key_hash(const char *rp, const uint8_t *id, size_t len)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ id[i]) * UINT64_C(0x100000001b3);
	for (; *rp != '\0'; rp++)
		h = (h ^ (unsigned char)*rp) * UINT64_C(0x100000001b3);
	return h;
}

/* Index of the entry for (rp, id), or SIZE_MAX. */
static size_t
lookup(const struct pmod_creds *c, const char *rp, const uint8_t *id,
    size_t len, uint64_t h)
{
	size_t i, k;
	const struct entry *e;

	if (c->nslots == 0)
		return SIZE_MAX;
	for (i = (size_t)h & (c->nslots - 1); c->slots[i] != 0;
	    i = (i + 1) & (c->nslots - 1)) {
		k = c->slots[i] - 1;
		e = c->v[k];
		if (e->hash == h && e->cred.id_len == len &&
		    memcmp(e->cred.id, id, len) == 0 &&
		    strcmp(e->cred.rp_id, rp) == 0)
			return k;
	}
	return SIZE_MAX;
}

static void
slot_insert(struct pmod_creds *c, size_t k)
{
	size_t i = (size_t)c->v[k]->hash & (c->nslots - 1);

	while (c->slots[i] != 0)
		i = (i + 1) & (c->nslots - 1);
	c->slots[i] = k + 1;
}

/* Re-index every entry; never allocates. */
static void
reindex(struct pmod_creds *c)
{
	size_t k;

	if (c->nslots == 0)
		return;
	memset(c->slots, 0, c->nslots * sizeof(*c->slots));
	for (k = 0; k < c->n; k++)
		slot_insert(c, k);
}

/* Room for one more entry in v and in the index. */
static int
reserve_one(struct pmod_creds *c)
{
	struct entry **v;
	size_t *slots, ns;

	if (c->n == c->cap) {
		v = realloc(c->v, (c->cap ? c->cap * 2 : 16) * sizeof(*v));
		if (v == NULL)
			return -ENOMEM;
		c->v = v;
		c->cap = c->cap ? c->cap * 2 : 16;
	}
	if ((c->n + 1) * 2 <= c->nslots)
		return 0;
	ns = c->nslots ? c->nslots * 2 : 64;
	if ((slots = calloc(ns, sizeof(*slots))) == NULL)
		return -ENOMEM;
	free(c->slots);
	c->slots = slots;
	c->nslots = ns;
	reindex(c);
	return 0;
}

const struct pmod_cred *
pmod_creds_find(const struct pmod_creds *c, const char *rp_id,
    const uint8_t *id, size_t id_len)
{
	size_t k;

	if (c == NULL || rp_id == NULL || (id == NULL && id_len > 0))
		return NULL;
	k = lookup(c, rp_id, id, id_len, key_hash(rp_id, id, id_len));
	return k == SIZE_MAX ? NULL : &c->v[k]->cred;
}

/* Deep copy of a checked cred into the arena. */
static struct entry *
copy_entry(struct arena *a, const struct pmod_cred *cred)
{
	struct entry *e;
	const uint8_t *pk = cred->pubkey;
	size_t pk_len = cred->pubkey_len;

	if (cred->alg == PMOD_ALG_ES256 && pk_len == PMOD_ES256_PUBKEY_LEN + 1) {
		pk++;		/* drop the 0x04 prefix */
		pk_len--;
	}
	if ((e = arena_alloc(a, sizeof(*e))) == NULL)
		return NULL;
	e->cred = *cred;
	e->cred.user = arena_memdup(a, cred->user, strlen(cred->user));
	e->cred.id = (const uint8_t *)arena_memdup(a, cred->id, cred->id_len);
	e->cred.pubkey = (const uint8_t *)arena_memdup(a, pk, pk_len);
	e->cred.pubkey_len = pk_len;
	e->cred.rp_id = arena_memdup(a, cred->rp_id, strlen(cred->rp_id));
	e->cred.label = arena_memdup(a, cred->label, strlen(cred->label));
	if (e->cred.user == NULL || e->cred.id == NULL ||
	    e->cred.pubkey == NULL || e->cred.rp_id == NULL ||
	    e->cred.label == NULL)
		return NULL;
	if (!e->cred.has_aaguid)
		memset(e->cred.aaguid, 0, sizeof(e->cred.aaguid));
	return e;
}

/* Append a checked cred; *ret_dup is the index of the entry it repeats. */
static int
add_entry(struct pmod_creds *c, const struct pmod_cred *cred, unsigned line,
    size_t *ret_dup)
{
	struct entry *e;
	uint64_t h;
	size_t k;
	int r;

	if (c->n >= PMOD_CREDS_MAX)
		return -E2BIG;
	h = key_hash(cred->rp_id, cred->id, cred->id_len);
	if ((k = lookup(c, cred->rp_id, cred->id, cred->id_len, h)) !=
	    SIZE_MAX) {
		*ret_dup = k;
		return -EEXIST;
	}
	if ((r = reserve_one(c)) < 0)
		return r;
	if ((e = copy_entry(c->arena, cred)) == NULL)
		return -ENOMEM;
	e->line = line;
	e->hash = h;
	c->v[c->n] = e;
	slot_insert(c, c->n);
	c->n++;
	return 0;
}

int
pmod_creds_add(struct pmod_creds *c, const struct pmod_cred *cred)
{
	const char *why = NULL;
	size_t dup;
	int r;

	if (c == NULL || cred == NULL)
		return -EINVAL;
	if ((r = pmod_cred_check(cred, &why)) < 0)
		return r;
	return add_entry(c, cred, 0, &dup);
}

void
pmod_creds_truncate(struct pmod_creds *c, size_t n)
{
	if (c == NULL || n >= c->n)
		return;
	c->n = n;
	reindex(c);
}

void
pmod_cred_id_hash(const struct pmod_cred *cred, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0, i;

	out[0] = '\0';
	if (cred == NULL || (cred->id == NULL && cred->id_len > 0) ||
	    EVP_Digest(cred->id, cred->id_len, md, &md_len, EVP_sha256(),
	    NULL) != 1 || md_len != 32)
		return;
	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[64] = '\0';
}

static bool
hex_prefix(const char *s)
{
	size_t i, len = strlen(s);

	if (len < 8 || len > 64)
		return false;
	for (i = 0; i < len; i++)
		if (parse_hexdigit(s[i]) < 0)
			return false;
	return true;
}

int
pmod_creds_remove(struct pmod_creds *c, const char *user, const char *which)
{
	const struct pmod_cred *cr;
	char h[65];
	size_t i, found = 0, count = 0;
	bool hex, match;

	if (c == NULL || user == NULL || which == NULL || which[0] == '\0')
		return -EINVAL;
	hex = hex_prefix(which);
	for (i = 0; i < c->n; i++) {
		cr = &c->v[i]->cred;
		if (strcmp(cr->user, user) != 0)
			continue;
		match = strcmp(cr->label, which) == 0;
		if (!match && hex) {
			pmod_cred_id_hash(cr, h);
			match = h[0] != '\0' &&
			    strncasecmp(h, which, strlen(which)) == 0;
		}
		if (match) {
			count++;
			found = i;
		}
	}
	if (count == 0)
		return -ENOENT;
	if (count > 1)
		return -ENOTUNIQ;
	memmove(c->v + found, c->v + found + 1,
	    (c->n - found - 1) * sizeof(*c->v));
	c->n--;
	reindex(c);
	return 1;
}

/* ---- the text format ------------------------------------------------------- */

struct parser {
	struct pmod_creds *c;
	struct pmod_diag *diag;
	const char *s;		/* the current line, without its newline */
	size_t len;
	unsigned line;
	/* decoded fields of the current line */
	uint8_t id[PMOD_CRED_ID_MAX];
	uint8_t pk[PMOD_PUBKEY_MAX];
	char user[PMOD_USER_MAX + 1];
	char rp[PMOD_RP_ID_MAX + 1];
	char label[PMOD_LABEL_MAX + 1];
};

struct tok {
	size_t off, len;
};

static int
perr(struct parser *p, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

int
pmod_diag_vset(struct pmod_diag *d, unsigned line, const char *text,
    size_t len, size_t off, const char *fmt, va_list ap)
{
	if (d == NULL)
		return -EBADMSG;
	d->line = line;
	d->col = 1u + (unsigned)utf8_count(text, off < len ? off : len);
	(void)vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	return -EBADMSG;
}

/* Report a problem at byte off of the current line; returns -EBADMSG. */
static int
perr(struct parser *p, size_t off, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = pmod_diag_vset(p->diag, p->line, p->s, p->len, off, fmt, ap);
	va_end(ap);
	return r;
}

static bool
blank(char c)
{
	return c == ' ' || c == '\t';
}

/* NUL, invalid UTF-8, control characters: a line-level problem. */
static int
check_line_bytes(struct parser *p)
{
	const char *nul;
	size_t bad = 0, i;

	if (p->len > PMOD_LINE_MAX)
		return perr(p, PMOD_LINE_MAX, "line longer than %u bytes",
		    PMOD_LINE_MAX);
	if ((nul = memchr(p->s, '\0', p->len)) != NULL)
		return perr(p, (size_t)(nul - p->s), "NUL byte");
	if (utf8_validate(p->s, p->len, &bad) < 0)
		return perr(p, bad, "invalid UTF-8");
	for (i = 0; i < p->len; i += utf8_seqlen(p->s + i, p->len - i)) {
		const unsigned char *u = (const unsigned char *)p->s + i;

		if (bad_char(u, p->len - i, true) && u[0] < 0x80)
			return perr(p, i, "control character U+%04X", u[0]);
		if (bad_char(u, p->len - i, true))
			return perr(p, i, "control or bidirectional "
			    "formatting character");
	}
	return 0;
}

static int
parse_header(struct parser *p)
{
	static const char magic[] = "mynaguard-credentials";
	const size_t mlen = sizeof(magic) - 1;
	char num[16];
	uint32_t v;
	size_t i = mlen, end = p->len;

	if (p->len >= 3 && memcmp(p->s, "\xef\xbb\xbf", 3) == 0)
		return perr(p, 0, "the file starts with a byte order mark; "
		    "save it as UTF-8 without BOM");
	if (p->len < mlen || memcmp(p->s, magic, mlen) != 0 ||
	    (p->len > mlen && !blank(p->s[mlen])))
		return perr(p, 0, "missing header: the first line must be "
		    "\"%s\"", PMOD_CREDS_HEADER);
	while (i < end && blank(p->s[i]))
		i++;
	while (end > i && blank(p->s[end - 1]))
		end--;
	if (end - i == 0 || end - i >= sizeof(num))
		return perr(p, i, "header: missing or bad version number");
	memcpy(num, p->s + i, end - i);
	num[end - i] = '\0';
	if (parse_u32(num, 0, UINT32_MAX, &v) < 0)
		return perr(p, i, "header: bad version number");
	if (v != 1)
		return perr(p, i, "unsupported version %u (this mynaguard "
		    "reads version 1)", v);
	return 0;
}

/* Split a credential line into 8 blank-separated fields and the label
 * (the rest of the line, blanks around it dropped).  Returns the number of
 * fields found before the label. */
static size_t
split_fields(const char *s, size_t len, struct tok t[F_COUNT])
{
	size_t i = 0, n = 0, end = len;

	for (n = 0; n < F_LABEL; n++) {
		while (i < len && blank(s[i]))
			i++;
		if (i == len)
			break;
		t[n].off = i;
		while (i < len && !blank(s[i]))
			i++;
		t[n].len = i - t[n].off;
	}
	while (i < len && blank(s[i]))
		i++;
	while (end > i && blank(s[end - 1]))
		end--;
	t[F_LABEL].off = i;
	t[F_LABEL].len = end - i;
	return n;
}

static int
copy_str(struct parser *p, const struct tok *t, enum field f, char *dst,
    size_t max)
{
	if (t->len > max)
		return perr(p, t->off, "%s longer than %zu bytes",
		    field_names[f], max);
	memcpy(dst, p->s + t->off, t->len);
	dst[t->len] = '\0';
	return 0;
}

static int
decode_b64(struct parser *p, const struct tok *t, enum field f, uint8_t *out,
    size_t max, size_t *ret_len)
{
	size_t err = 0;
	int r;

	r = pmod_b64_decode(p->s + t->off, t->len, PMOD_B64_URL, out, max,
	    ret_len, &err);
	if (r == -E2BIG)
		return perr(p, t->off, "%s longer than %zu bytes",
		    field_names[f], max);
	if (r < 0 && err < t->len && strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_", p->s[t->off + err]) ==
	    NULL)
		return perr(p, t->off + err, "%s: '%c' is not base64url "
		    "(A-Z a-z 0-9 - _, no '=' padding)", field_names[f],
		    p->s[t->off + err]);
	if (r < 0)
		return perr(p, t->off + err, "%s: truncated or non-canonical "
		    "base64url", field_names[f]);
	return 0;
}

static int
parse_alg(struct parser *p, const struct tok *t, int *ret)
{
	static const int algs[] = { PMOD_ALG_ES256, PMOD_ALG_EDDSA,
		PMOD_ALG_RS256 };
	size_t i;

	for (i = 0; i < MG_ELEMENTSOF(algs); i++) {
		if (strlen(pmod_alg_name(algs[i])) == t->len &&
		    memcmp(pmod_alg_name(algs[i]), p->s + t->off, t->len) ==
		    0) {
			*ret = algs[i];
			return 0;
		}
	}
	return perr(p, t->off, "unknown algorithm \"%.*s\" (es256, eddsa or "
	    "rs256)", (int)(t->len > 20 ? 20 : t->len), p->s + t->off);
}

/* "+presence+pin" style, each at most once, or "-". */
static int
parse_opts(struct parser *p, const struct tok *t, unsigned *ret)
{
	const char *s = p->s + t->off;
	size_t i = 0, j, k, n;
	unsigned opts = 0;

	if (t->len == 1 && s[0] == '-') {
		*ret = 0;
		return 0;
	}
	while (i < t->len) {
		if (s[i] != '+')
			return perr(p, t->off + i, "options look like "
			    "+presence+pin+verification, or - for none");
		for (j = i + 1; j < t->len && s[j] != '+'; j++)
			;
		n = j - i - 1;
		for (k = 0; k < MG_ELEMENTSOF(opt_names); k++)
			if (strlen(opt_names[k].name) == n &&
			    memcmp(opt_names[k].name, s + i + 1, n) == 0)
				break;
		if (k == MG_ELEMENTSOF(opt_names) || (opts & opt_names[k].bit))
			return perr(p, t->off + i, "unknown or repeated option "
			    "\"%.*s\" (+presence, +pin, +verification)",
			    (int)(n > 20 ? 20 : n), s + i + 1);
		opts |= opt_names[k].bit;
		i = j;
	}
	*ret = opts;
	return 0;
}

/* 32 hex digits, with dashes as 8-4-4-4-12 or none at all; or "-". */
static int
parse_aaguid(struct parser *p, const struct tok *t, struct pmod_cred *cr)
{
	const char *s = p->s + t->off;
	size_t i = 0, k = 0;
	bool dashed = t->len == 36;
	int hi, lo;

	cr->has_aaguid = false;
	if (t->len == 1 && s[0] == '-')
		return 0;
	if (t->len != 32 && t->len != 36)
		return perr(p, t->off, "aaguid must be 32 hex digits such as "
		    "cb69481e-8ff7-4039-93ec-0a2729a154a8, or -");
	for (k = 0; k < 16; k++) {
		if (dashed && (k == 4 || k == 6 || k == 8 || k == 10) &&
		    s[i++] != '-')
			return perr(p, t->off + i - 1, "aaguid: '-' expected");
		if ((hi = parse_hexdigit(s[i])) < 0 ||
		    (lo = parse_hexdigit(s[i + 1])) < 0)
			return perr(p, t->off + i, "aaguid: hex digit expected");
		cr->aaguid[k] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	cr->has_aaguid = true;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date, year >= 1. */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy;

	y -= m <= 2;
	era = y / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

static unsigned
digits(const char *s, size_t n, bool *ok)
{
	unsigned v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			*ok = false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	return v;
}

static bool
valid_time(unsigned y, unsigned mo, unsigned d, unsigned h, unsigned mi,
    unsigned se)
{
	static const unsigned char mdays[] = { 31, 28, 31, 30, 31, 30, 31,
		31, 30, 31, 30, 31 };
	bool leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);

	if (y < 2000 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 ||
	    se > 59)
		return false;
	return d <= mdays[mo - 1] + (mo == 2 && leap ? 1u : 0u);
}

/* RFC 3339 in UTC, whole seconds: 2026-11-29T12:00:00Z; or "-". */
static int
parse_created(struct parser *p, const struct tok *t, int64_t *ret)
{
	const char *s = p->s + t->off;
	unsigned y, mo, d, h, mi, se;
	bool ok = t->len == 20;

	if (t->len == 1 && s[0] == '-') {
		*ret = 0;
		return 0;
	}
	if (ok)
		ok = s[4] == '-' && s[7] == '-' && s[10] == 'T' &&
		    s[13] == ':' && s[16] == ':' && s[19] == 'Z';
	y = ok ? digits(s, 4, &ok) : 0;
	mo = ok ? digits(s + 5, 2, &ok) : 0;
	d = ok ? digits(s + 8, 2, &ok) : 0;
	h = ok ? digits(s + 11, 2, &ok) : 0;
	mi = ok ? digits(s + 14, 2, &ok) : 0;
	se = ok ? digits(s + 17, 2, &ok) : 0;
	if (!ok || !valid_time(y, mo, d, h, mi, se))
		return perr(p, t->off, "created must be a UTC time such as "
		    "2026-11-29T12:00:00Z (years 2000 to 9999), or -");
	*ret = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	return 0;
}

static int
parse_fields(struct parser *p, const struct tok *t, struct pmod_cred *cr)
{
	int r;

	if ((r = copy_str(p, &t[F_USER], F_USER, p->user, PMOD_USER_MAX)) < 0 ||
	    (r = decode_b64(p, &t[F_ID], F_ID, p->id, PMOD_CRED_ID_MAX,
	    &cr->id_len)) < 0 ||
	    (r = parse_alg(p, &t[F_ALG], &cr->alg)) < 0 ||
	    (r = decode_b64(p, &t[F_PUBKEY], F_PUBKEY, p->pk, PMOD_PUBKEY_MAX,
	    &cr->pubkey_len)) < 0 ||
	    (r = copy_str(p, &t[F_RP], F_RP, p->rp, PMOD_RP_ID_MAX)) < 0 ||
	    (r = parse_opts(p, &t[F_OPTS], &cr->opts)) < 0 ||
	    (r = parse_aaguid(p, &t[F_AAGUID], cr)) < 0 ||
	    (r = parse_created(p, &t[F_CREATED], &cr->created)) < 0 ||
	    (r = copy_str(p, &t[F_LABEL], F_LABEL, p->label,
	    PMOD_LABEL_MAX)) < 0)
		return r;
	cr->user = p->user;
	cr->id = p->id;
	cr->pubkey = p->pk;
	cr->rp_id = p->rp;
	cr->label = p->label;
	return 0;
}

static int
parse_cred_line(struct parser *p)
{
	struct tok t[F_COUNT];
	struct pmod_cred cr;
	const char *why = NULL;
	enum field f;
	size_t n, off = 0, dup = 0;
	int r;

	memset(&cr, 0, sizeof(cr));
	n = split_fields(p->s, p->len, t);
	if (n < F_LABEL)
		return perr(p, p->len, "%s missing: a credential line has 8 "
		    "fields and a label", field_names[n]);
	if ((r = parse_fields(p, t, &cr)) < 0)
		return r;
	if ((r = check_fields(&cr, &f, &why, &off)) == -EINVAL)
		return perr(p, t[f].off + off, "%s", why);
	if (r < 0)
		return r;
	r = add_entry(p->c, &cr, p->line, &dup);
	if (r == -EEXIST)
		return perr(p, t[F_ID].off, "credential id already listed on "
		    "line %u for the same relying party", p->c->v[dup]->line);
	if (r == -E2BIG)
		return perr(p, 0, "more than %u credentials", PMOD_CREDS_MAX);
	return r;
}

static int
parse_line(struct parser *p)
{
	size_t i = 0;
	int r;

	if ((r = check_line_bytes(p)) < 0)
		return r;
	if (p->line == 1)
		return parse_header(p);
	while (i < p->len && blank(p->s[i]))
		i++;
	if (i == p->len || p->s[i] == '#')
		return 0;
	return parse_cred_line(p);
}

static int
parse_text(struct parser *p, const char *text, size_t len)
{
	const char *nl;
	size_t pos = 0;
	int r;

	do {
		p->line++;
		p->s = text + pos;
		nl = memchr(p->s, '\n', len - pos);
		p->len = nl != NULL ? (size_t)(nl - p->s) : len - pos;
		pos += p->len + (nl != NULL);
		if (p->len > 0 && p->s[p->len - 1] == '\r')
			p->len--;	/* CRLF from a Windows editor */
		if ((r = parse_line(p)) < 0)
			return r;
	} while (pos < len);
	return 0;
}

int
pmod_creds_parse(const char *text, size_t len, struct pmod_creds **ret,
    struct pmod_diag *diag)
{
	struct pmod_creds *c = NULL;
	struct parser *p = NULL;
	int r;

	if ((text == NULL && len > 0) || ret == NULL)
		return -EINVAL;
	if (diag != NULL)
		memset(diag, 0, sizeof(*diag));
	if ((r = pmod_creds_new(&c)) < 0)
		goto out;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	p->c = c;
	p->diag = diag;
	if ((r = parse_text(p, text != NULL ? text : "", len)) < 0)
		goto out;
	*ret = c;
	c = NULL;	/* transferred */
	r = 0;
out:
	free(p);
	pmod_creds_free(c);
	return r;
}
