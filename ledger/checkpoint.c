/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Signed checkpoints of the Merkle log (issue 9, docs/checkpoints.md; the
 * format is in mynaguard/checkpoint.h).  The text is parsed strictly, in
 * one pass with line numbers, so there is exactly one way to read a
 * checkpoint and a reworded one cannot carry the old signature.  Trust is
 * the town CA's: the signer is the collector's TLS server certificate, and
 * its validity is judged at the checkpoint's own time.
 */
#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mynaguard/checkpoint.h"
#include "mynaguard/common.h"

#define PEM_FILE_MAX 65536u		/* a key or certificate file */
#define CA_FILE_MAX (256u << 10)	/* the CA file (may be a bundle) */
#define SIG_B64_MAX 96u			/* base64 of MG_CHECKPOINT_SIG_MAX */
#define SIG_MIN 8u			/* shortest DER ECDSA-Sig-Value */
#define PEM_LINE 64u			/* RFC 7468 §2: base64 lines of 64 */
#define TIME_MAX INT64_C(253402300799)	/* 9999-12-31T23:59:59Z */
#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define PEM_END "-----END CERTIFICATE-----"

struct cursor {
	const char *s;
	size_t len;
	size_t off;		/* start of the next line */
	unsigned line;		/* of the line last read */
	const char *why;
};

/* The header lines after the magic, in their only order. */
static const struct {
	const char *name;	/* up to and including ": " */
	const char *misplaced;
} fields[] = {
	{ "origin: ", "expected the \"origin:\" line here (the lines are "
	    "origin, size, root, time, signature, in this order)" },
	{ "size: ", "expected the \"size:\" line here (the lines are "
	    "origin, size, root, time, signature, in this order)" },
	{ "root: ", "expected the \"root:\" line here (the lines are "
	    "origin, size, root, time, signature, in this order)" },
	{ "time: ", "expected the \"time:\" line here (the lines are "
	    "origin, size, root, time, signature, in this order)" },
	{ "signature: ", "expected the \"signature:\" line here (the lines "
	    "are origin, size, root, time, signature, in this order)" },
};

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
why(const char **ret_why, const char *msg, int r)
{
	if (ret_why != NULL)
		*ret_why = msg;
	return r;
}

static int
fail(struct cursor *c, const char *msg)
{
	c->why = msg;
	return -EBADMSG;
}

/* ---- base64 (RFC 4648 §4), strict: padded, canonical, no blanks ------ */

static int
b64_value(char c)
{
	const char *p = c != '\0' ? strchr(b64_alphabet, c) : NULL;

	return p == NULL ? -1 : (int)(p - b64_alphabet);
}

/* Decode n characters (a multiple of 4) into out (room for max bytes).
 * Padding only at the very end, and the bits it leaves unused are zero,
 * so each byte string has exactly one accepted spelling. */
static int
b64_decode(const char *s, size_t n, uint8_t *out, size_t max,
    size_t *ret_len)
{
	size_t i, o = 0, pad = 0;
	uint32_t v = 0;
	int d;

	if (n == 0 || n % 4 != 0)
		return -EINVAL;
	pad = s[n - 1] != '=' ? 0 : s[n - 2] == '=' ? 2 : 1;
	if (n / 4 * 3 - pad > max)
		return -E2BIG;
	for (i = 0; i < n; i++) {
		d = i < n - pad ? b64_value(s[i]) : 0;
		if (d < 0)
			return -EINVAL;
		v = v << 6 | (uint32_t)d;
		if (i % 4 != 3)
			continue;
		out[o++] = (uint8_t)(v >> 16);
		if (i + 1 < n || pad < 2)
			out[o++] = (uint8_t)(v >> 8);
		if (i + 1 < n || pad < 1)
			out[o++] = (uint8_t)v;
	}
	if ((pad == 2 && (v & 0xffff) != 0) || (pad == 1 && (v & 0xff) != 0))
		return -EINVAL;
	*ret_len = o;
	return 0;
}

/* ---- time ------------------------------------------------------------- */

static int
time_format(int64_t t, char out[21])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t < 0 || t > TIME_MAX || gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) != 20)
		return -ERANGE;
	return 0;
}

static int
two(const char *s)
{
	return (s[0] - '0') * 10 + (s[1] - '0');
}

/* "YYYY-MM-DDTHH:MM:SSZ" (RFC 3339, UTC, no fraction, no leap second):
 * the shape, then a round trip through timegm(), which turns any
 * impossible date or time into another spelling. */
static int
time_parse(const char *s, size_t n, int64_t *ret)
{
	static const char shape[] = "0000-00-00T00:00:00Z";
	char again[21];
	struct tm tm;
	time_t t;
	size_t i;

	if (n != sizeof(shape) - 1)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (shape[i] == '0' ? s[i] < '0' || s[i] > '9' :
		    s[i] != shape[i])
			return -EINVAL;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = two(s) * 100 + two(s + 2) - 1900;
	tm.tm_mon = two(s + 5) - 1;
	tm.tm_mday = two(s + 8);
	tm.tm_hour = two(s + 11);
	tm.tm_min = two(s + 14);
	tm.tm_sec = two(s + 17);
	t = timegm(&tm);
	if (time_format((int64_t)t, again) < 0 || memcmp(again, s, n) != 0)
		return -EINVAL;
	*ret = (int64_t)t;
	return 0;
}

/* ---- parsing ---------------------------------------------------------- */

/* The next line without its LF, which it must have.  Printable ASCII
 * only; CR is named, since it is the likely mistake. */
static int
next_line(struct cursor *c, const char **ret, size_t *ret_n)
{
	const char *p = c->s + c->off, *nl;
	size_t avail = c->len - c->off, i, n;
	unsigned char ch;

	c->line++;
	if (avail == 0)
		return fail(c, "the checkpoint ends before this line "
		    "(truncated?)");
	nl = memchr(p, '\n', avail);
	n = nl != NULL ? (size_t)(nl - p) : avail;
	for (i = 0; i < n; i++) {
		ch = (unsigned char)p[i];
		if (ch == '\r')
			return fail(c, "carriage return (CR): lines end with "
			    "LF alone");
		if (ch < 0x20 || ch > 0x7e)
			return fail(c, "a byte that is not printable ASCII");
	}
	if (nl == NULL)
		return fail(c, "the line does not end with a newline "
		    "(truncated?)");
	c->off += n + 1;
	*ret = p;
	*ret_n = n;
	return 0;
}

static bool
starts(const char *p, size_t n, const char *prefix, size_t plen)
{
	return n >= plen && memcmp(p, prefix, plen) == 0;
}

/* Line "NAME: VALUE" for fields[i]; *ret and *ret_n get the value. */
static int
field_line(struct cursor *c, size_t i, const char **ret, size_t *ret_n)
{
	const char *p = NULL;
	size_t n = 0, j, k;
	int r;

	if ((r = next_line(c, &p, &n)) < 0)
		return r;
	k = strlen(fields[i].name);
	if (starts(p, n, fields[i].name, k)) {
		*ret = p + k;
		*ret_n = n - k;
		return 0;
	}
	for (j = 0; j < MG_ELEMENTSOF(fields); j++) {
		/* The name with its colon but without the space. */
		if (!starts(p, n, fields[j].name, strlen(fields[j].name) - 1))
			continue;
		if (j == i)
			return fail(c, "exactly one space follows the colon");
		if (j < i)
			return fail(c, "a repeated line");
	}
	return fail(c, fields[i].misplaced);
}

static int
parse_origin(struct cursor *c, const char *v, size_t n,
    struct mg_checkpoint *cp)
{
	size_t i;

	if (n < 1 || n > MG_CHECKPOINT_ORIGIN_MAX)
		return fail(c, "the origin must be 1 to 128 characters");
	for (i = 0; i < n; i++)
		if (v[i] == ' ')
			return fail(c, "the origin contains a space");
	memcpy(cp->origin, v, n);
	cp->origin[n] = '\0';
	return 0;
}

static int
parse_size(struct cursor *c, const char *v, size_t n,
    struct mg_checkpoint *cp)
{
	char s[24];
	bool ok;

	/* parse_u64() refuses signs and blanks; leading zeros are ours. */
	ok = n >= 1 && n <= 20 && !(v[0] == '0' && n > 1);
	if (ok) {
		memcpy(s, v, n);
		s[n] = '\0';
		ok = parse_u64(s, 0, UINT64_MAX, &cp->size) == 0;
	}
	return ok ? 0 : fail(c, "the size must be a decimal number from 0 to "
	    "18446744073709551615 without leading zeros");
}

static int
lower_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int
parse_root(struct cursor *c, const char *v, size_t n,
    struct mg_checkpoint *cp)
{
	int hi, lo;
	size_t i;

	if (n != 64)
		return fail(c, "the root must be 64 lower-case hex digits");
	for (i = 0; i < 32; i++) {
		hi = lower_hex(v[2 * i]);
		lo = lower_hex(v[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return fail(c, "the root must be 64 lower-case hex "
			    "digits");
		cp->root[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int
parse_sig(struct cursor *c, const char *v, size_t n,
    struct mg_checkpoint *cp)
{
	uint8_t sig[MG_CHECKPOINT_SIG_MAX];
	size_t len = 0;

	if (n > SIG_B64_MAX || b64_decode(v, n, sig, sizeof(sig), &len) < 0 ||
	    len < SIG_MIN)
		return fail(c, "the signature must be a DER ECDSA signature "
		    "of at most 72 bytes in base64 with padding");
	if ((cp->sig = malloc(len)) == NULL)
		return -ENOMEM;
	memcpy(cp->sig, sig, len);
	cp->sig_len = len;
	return 0;
}

/* The magic line and the five fields; the signature ends the signed part
 * at the newline of the "time:" line. */
static int
parse_fields(struct cursor *c, struct mg_checkpoint *cp)
{
	const char *v = NULL;
	size_t n = 0;
	int r;

	if ((r = next_line(c, &v, &n)) < 0)
		return r;
	if (n != strlen(MG_CHECKPOINT_MAGIC) ||
	    memcmp(v, MG_CHECKPOINT_MAGIC, n) != 0)
		return fail(c, starts(v, n, "mynaguard checkpoint ", 21) ?
		    "a checkpoint format other than v1" :
		    "not a mynaguard checkpoint (the first line must be "
		    "\"" MG_CHECKPOINT_MAGIC "\")");
	if ((r = field_line(c, 0, &v, &n)) < 0 ||
	    (r = parse_origin(c, v, n, cp)) < 0 ||
	    (r = field_line(c, 1, &v, &n)) < 0 ||
	    (r = parse_size(c, v, n, cp)) < 0 ||
	    (r = field_line(c, 2, &v, &n)) < 0 ||
	    (r = parse_root(c, v, n, cp)) < 0 ||
	    (r = field_line(c, 3, &v, &n)) < 0)
		return r;
	if (time_parse(v, n, &cp->time) < 0)
		return fail(c, "the time must be UTC as YYYY-MM-DDTHH:MM:SSZ, "
		    "a real date and time from 1970 to 9999");
	cp->signed_len = c->off;
	if ((r = field_line(c, 4, &v, &n)) < 0)
		return r;
	return parse_sig(c, v, n, cp);
}

/* The base64 lines between BEGIN and END into der (room for max). */
static int
pem_body(struct cursor *c, uint8_t *der, size_t max, size_t *ret_len)
{
	const char *p = NULL;
	size_t n = 0, o = 0, k = 0;
	bool last = false;
	int r;

	for (;;) {
		if ((r = next_line(c, &p, &n)) < 0)
			return r;
		if (n == strlen(PEM_END) && memcmp(p, PEM_END, n) == 0)
			break;
		if (last)
			return fail(c, "only the last certificate line may be "
			    "shorter than 64 characters or padded");
		if (n == 0 || n > PEM_LINE || n % 4 != 0)
			return fail(c, "certificate lines hold 64 base64 "
			    "characters, the last one 4 to 64");
		if (b64_decode(p, n, der + o, max - o, &k) < 0)
			return fail(c, "not base64 (RFC 4648, padded)");
		o += k;
		last = n < PEM_LINE || p[n - 1] == '=';
	}
	if (o == 0)
		return fail(c, "the certificate is empty");
	*ret_len = o;
	return 0;
}

/* BEGIN, the base64 lines, END with its newline, then nothing. */
static int
parse_cert(struct cursor *c, struct mg_checkpoint *cp)
{
	const unsigned char *q;
	const char *p = NULL;
	size_t n = 0, max;
	unsigned begin;
	X509 *x;
	int r;

	if ((r = next_line(c, &p, &n)) < 0)
		return r;
	if (n != strlen(PEM_BEGIN) || memcmp(p, PEM_BEGIN, n) != 0)
		return fail(c, "expected \"" PEM_BEGIN "\" here");
	begin = c->line;
	max = (c->len - c->off) / 4 * 3 + 3;
	if ((cp->cert_der = malloc(max)) == NULL)
		return -ENOMEM;
	if ((r = pem_body(c, cp->cert_der, max, &cp->cert_len)) < 0)
		return r;
	if (c->off != c->len) {
		c->line++;
		return fail(c, "text after the certificate (only one newline "
		    "may follow it)");
	}
	q = cp->cert_der;
	x = d2i_X509(NULL, &q, (long)cp->cert_len);
	r = x != NULL && q == cp->cert_der + cp->cert_len;
	X509_free(x);
	ERR_clear_error();
	if (!r) {
		c->line = begin;
		return fail(c, "the certificate is not one DER X.509 "
		    "certificate");
	}
	return 0;
}

/* The line holding byte MG_CHECKPOINT_MAX + 1, for an over-long text. */
static unsigned
line_of_limit(const char *text)
{
	unsigned line = 1;
	size_t i;

	for (i = 0; i < MG_CHECKPOINT_MAX; i++)
		line += text[i] == '\n';
	return line;
}

/* The whole text, after the size check; cp owns what it gets. */
static int
parse_all(struct cursor *c, struct mg_checkpoint *cp)
{
	int r;

	if ((r = parse_fields(c, cp)) < 0 || (r = parse_cert(c, cp)) < 0)
		return r;
	if ((cp->text = malloc(c->len + 1)) == NULL)
		return -ENOMEM;
	memcpy(cp->text, c->s, c->len);
	cp->text[c->len] = '\0';
	cp->text_len = c->len;
	return 0;
}

int
mg_checkpoint_parse(const char *text, size_t len,
    struct mg_checkpoint *out, const char **ret_why, unsigned *ret_line)
{
	struct cursor c = { .s = text, .len = len };
	struct mg_checkpoint tmp;
	int r;

	memset(&tmp, 0, sizeof(tmp));
	if (text == NULL || out == NULL) {
		if (ret_line != NULL)
			*ret_line = 0;
		return why(ret_why, "no checkpoint", -EINVAL);
	}
	if (len > MG_CHECKPOINT_MAX) {
		c.line = line_of_limit(text);
		r = fail(&c, "the checkpoint is longer than 16384 bytes");
	} else {
		r = parse_all(&c, &tmp);
	}
	if (r == 0) {
		*out = tmp;
		return 0;
	}
	if (r == -ENOMEM) {
		c.why = "out of memory";
		c.line = 0;
	}
	mg_checkpoint_clear(&tmp);
	if (ret_line != NULL)
		*ret_line = c.line;
	return why(ret_why, c.why, r);
}

void
mg_checkpoint_clear(struct mg_checkpoint *cp)
{
	if (cp == NULL)
		return;
	free(cp->cert_der);
	free(cp->sig);
	free(cp->text);
	memset(cp, 0, sizeof(*cp));
}

/* ---- certificates and keys ------------------------------------------- */

static bool
is_p256(EVP_PKEY *k)
{
	char group[32];
	size_t n = 0;

	if (k == NULL || !EVP_PKEY_is_a(k, "EC") ||
	    EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof(group),
	    &n) != 1)
		return false;
	return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0;
}

/* What verify demands of the leaf itself (the chain aside). */
static int
check_leaf(X509 *x, const char **ret_why)
{
	if (!is_p256(X509_get0_pubkey(x)))
		return why(ret_why, "the signer's key is not ECDSA P-256",
		    -EKEYREJECTED);
	if (X509_check_purpose(x, X509_PURPOSE_SSL_SERVER, 0) != 1) {
		ERR_clear_error();
		return why(ret_why, "the signer's certificate is not a TLS "
		    "server certificate (the collector's, tools/mkcerts.sh "
		    "server)", -EKEYREJECTED);
	}
	if ((X509_get_extension_flags(x) & EXFLAG_KUSAGE) &&
	    !(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE))
		return why(ret_why, "the signer's certificate does not allow "
		    "digitalSignature", -EKEYREJECTED);
	return 0;
}

/* The subject CN with every byte outside printable ASCII as '?', for a
 * terminal or a printout (a collector's CN is a host name); "" when none. */
static int
subject_cn(X509 *x, char *out, size_t size)
{
	const X509_NAME *name = X509_get_subject_name(x);
	const ASN1_STRING *data;
	const unsigned char *s;
	int i, n;

	out[0] = '\0';
	i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	if (i < 0)
		return 0;
	data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	s = ASN1_STRING_get0_data(data);
	n = ASN1_STRING_length(data);
	if (s == NULL || n < 0)
		return 0;
	if ((size_t)n >= size)
		return -ERANGE;
	for (i = 0; i < n; i++)
		out[i] = s[i] < 0x20 || s[i] > 0x7e ? '?' : (char)s[i];
	out[n] = '\0';
	return 0;
}

/* ---- signing ----------------------------------------------------------- */

static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;	/* never ask on a terminal: a daemon has none */
}

static int
read_cert_file(const char *path, X509 **ret, const char **ret_why)
{
	char *pem = NULL;
	size_t len = 0;
	BIO *bio;
	X509 *x;
	int r;

	if ((r = file_read_all(path, PEM_FILE_MAX, 0, &pem, &len)) < 0)
		return why(ret_why, "cannot read the certificate file", r);
	bio = BIO_new_mem_buf(pem, (int)len);
	x = bio != NULL ? PEM_read_bio_X509(bio, NULL, no_passphrase, NULL) :
	    NULL;
	BIO_free(bio);
	free(pem);
	ERR_clear_error();
	if (x == NULL)
		return why(ret_why, "the certificate file holds no PEM "
		    "certificate", -EKEYREJECTED);
	*ret = x;
	return 0;
}

static int
read_key_file(const char *path, EVP_PKEY **ret, const char **ret_why)
{
	char *pem = NULL;
	size_t len = 0;
	EVP_PKEY *k;
	BIO *bio;
	int r;

	r = file_read_all(path, PEM_FILE_MAX, FILE_SECRET, &pem, &len);
	if (r < 0)
		return why(ret_why, "cannot read the key file", r);
	bio = BIO_new_mem_buf(pem, (int)len);
	k = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase,
	    NULL) : NULL;
	BIO_free(bio);
	explicit_bzero(pem, len);
	free(pem);
	ERR_clear_error();
	if (k == NULL)
		return why(ret_why, "the key file holds no unencrypted PEM "
		    "private key", -EKEYREJECTED);
	*ret = k;
	return 0;
}

int
mg_checkpoint_sign(const char *origin, uint64_t size,
    const uint8_t root[32], int64_t time, const char *key_pem_path,
    const char *cert_pem_path, char **ret_text, size_t *ret_len,
    const char **ret_why)
{
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	int r;

	if (key_pem_path == NULL || cert_pem_path == NULL)
		return why(ret_why, "no key or certificate file", -EINVAL);
	if ((r = read_cert_file(cert_pem_path, &x, ret_why)) < 0 ||
	    (r = read_key_file(key_pem_path, &k, ret_why)) < 0)
		goto out;
	r = mg_checkpoint_sign_with(origin, size, root, time, k, x, ret_text,
	    ret_len, ret_why);
out:
	EVP_PKEY_free(k);
	X509_free(x);
	return r;
}

static bool
origin_valid(const char *s)
{
	size_t i, n;

	if (s == NULL || (n = strlen(s)) < 1 || n > MG_CHECKPOINT_ORIGIN_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	return true;
}

/* "signature: BASE64\n" over what b holds so far. */
static int
put_signature(struct sbuf *b, EVP_PKEY *k)
{
	unsigned char sig[MG_CHECKPOINT_SIG_MAX];
	unsigned char b64[SIG_B64_MAX + 1];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t n = sizeof(sig);
	int r = -EIO;

	if (ctx == NULL)
		return -ENOMEM;
	if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k) == 1 &&
	    EVP_DigestSign(ctx, sig, &n, (const unsigned char *)b->data,
	    b->len) == 1 && n >= SIG_MIN && n <= sizeof(sig))
		r = 0;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	if (r < 0)
		return r;
	EVP_EncodeBlock(b64, sig, (int)n);
	return sbuf_printf(b, "signature: %s\n", (const char *)b64);
}

/* The certificate as PEM, 64 characters a line, as OpenSSL writes it. */
static int
put_cert(struct sbuf *b, X509 *x)
{
	BIO *mem = BIO_new(BIO_s_mem());
	char *p = NULL;
	long n;
	int r = -ENOMEM;

	if (mem == NULL)
		return -ENOMEM;
	if (PEM_write_bio_X509(mem, x) == 1 &&
	    (n = BIO_get_mem_data(mem, &p)) > 0)
		r = sbuf_put(b, p, (size_t)n);
	BIO_free(mem);
	ERR_clear_error();
	return r;
}

static int
write_text(struct sbuf *b, const char *origin, uint64_t size,
    const uint8_t root[32], const char *when, EVP_PKEY *k, X509 *x)
{
	char hex[65];
	size_t i;
	int r;

	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", root[i]);
	if ((r = sbuf_printf(b, "%s\norigin: %s\nsize: %" PRIu64 "\n"
	    "root: %s\ntime: %s\n", MG_CHECKPOINT_MAGIC, origin, size, hex,
	    when)) < 0 || (r = put_signature(b, k)) < 0)
		return r;
	return put_cert(b, x);
}

/* What signing needs: arguments in range, and a signer that verify would
 * accept (P-256, the certificate's own key, a TLS server certificate). */
static int
check_sign_args(const char *origin, const uint8_t *root, int64_t time,
    EVP_PKEY *key, X509 *cert, char when[21], const char **ret_why)
{
	if (root == NULL || key == NULL || cert == NULL)
		return why(ret_why, "missing argument", -EINVAL);
	if (!origin_valid(origin))
		return why(ret_why, "the origin must be 1 to 128 printable "
		    "ASCII characters without spaces", -EINVAL);
	if (time_format(time, when) < 0)
		return why(ret_why, "the time must be from 1970 to 9999",
		    -EINVAL);
	if (!is_p256(key))
		return why(ret_why, "the key is not ECDSA P-256",
		    -EKEYREJECTED);
	if (X509_check_private_key(cert, key) != 1) {
		ERR_clear_error();
		return why(ret_why, "the key is not the certificate's",
		    -EKEYREJECTED);
	}
	return check_leaf(cert, ret_why);
}

int
mg_checkpoint_sign_with(const char *origin, uint64_t size,
    const uint8_t root[32], int64_t time, EVP_PKEY *key, X509 *cert,
    char **ret_text, size_t *ret_len, const char **ret_why)
{
	struct mg_checkpoint check;
	char when[21];
	struct sbuf b;
	int r;

	sbuf_init(&b, MG_CHECKPOINT_MAX);
	memset(&check, 0, sizeof(check));
	if (ret_text == NULL || ret_len == NULL)
		return why(ret_why, "missing argument", -EINVAL);
	if ((r = check_sign_args(origin, root, time, key, cert, when,
	    ret_why)) < 0)
		return r;
	if ((r = write_text(&b, origin, size, root, when, key, cert)) < 0) {
		why(ret_why, r == -E2BIG ? "the checkpoint would be longer "
		    "than 16384 bytes" : r == -ENOMEM ? "out of memory" :
		    "signing failed", r);
		goto out;
	}
	/* What we hand out must read back as what we meant. */
	r = mg_checkpoint_parse(b.data, b.len, &check, ret_why, NULL);
	if (r == -ENOMEM)
		goto out;
	if (r < 0 || strcmp(check.origin, origin) != 0 || check.size != size ||
	    memcmp(check.root, root, 32) != 0 || check.time != time) {
		r = why(ret_why, "the checkpoint does not read back (a bug)",
		    -EIO);
		goto out;
	}
	if ((r = sbuf_steal(&b, ret_text, ret_len)) < 0)
		why(ret_why, "out of memory", r);
out:
	mg_checkpoint_clear(&check);
	sbuf_clear(&b);
	return r;
}

/* ---- verifying --------------------------------------------------------- */

static int
load_ca(const char *path, X509_STORE **ret, const char **ret_why)
{
	X509_STORE *store = NULL;
	char *pem = NULL;
	size_t len = 0;
	BIO *bio = NULL;
	X509 *x;
	int r, count = 0;

	if ((r = file_read_all(path, CA_FILE_MAX, 0, &pem, &len)) < 0)
		return why(ret_why, "cannot read the CA certificate file", r);
	r = -ENOMEM;
	if ((store = X509_STORE_new()) == NULL ||
	    (bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		goto out;
	while ((x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)) !=
	    NULL) {
		r = X509_STORE_add_cert(store, x) == 1 ? 0 : -ENOMEM;
		X509_free(x);
		if (r < 0)
			goto out;
		count++;
	}
	r = count > 0 ? 0 : -EINVAL;
	if (r == 0) {
		*ret = store;
		store = NULL;
	}
out:
	ERR_clear_error();
	BIO_free(bio);
	X509_STORE_free(store);
	free(pem);
	return r == 0 ? 0 : why(ret_why, r == -EINVAL ? "the CA file holds "
	    "no PEM certificate" : "out of memory", r);
}

static const char *
chain_error(int err)
{
	switch (err) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return "the signer's certificate was not valid at the "
		    "checkpoint's time";
	case X509_V_ERR_INVALID_PURPOSE:
		return "the signer's certificate is not a TLS server "
		    "certificate (the collector's)";
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		return "the signer's certificate is not issued by the given "
		    "CA";
	default:
		return "the signer's certificate does not chain to the given "
		    "CA";
	}
}

/* x chains to the store for a TLS server, as of the checkpoint's time. */
static int
check_chain(X509_STORE *store, X509 *x, int64_t when, const char **ret_why)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_VERIFY_PARAM *param;
	int r = -ENOMEM;

	if (ctx == NULL || X509_STORE_CTX_init(ctx, store, x, NULL) != 1 ||
	    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER) != 1) {
		why(ret_why, "out of memory", r);
		goto out;
	}
	param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
	X509_VERIFY_PARAM_set_time(param, (time_t)when);
	if (X509_verify_cert(ctx) == 1)
		r = 0;
	else
		r = why(ret_why, chain_error(X509_STORE_CTX_get_error(ctx)),
		    -EKEYREJECTED);
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	return r;
}

static int
check_signature(X509 *x, const struct mg_checkpoint *cp,
    const char **ret_why)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	if (ctx == NULL)
		return why(ret_why, "out of memory", -ENOMEM);
	ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL,
	    X509_get0_pubkey(x)) == 1 && EVP_DigestVerify(ctx, cp->sig,
	    cp->sig_len, (const unsigned char *)cp->text, cp->signed_len) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok ? 0 : why(ret_why, "the signature does not verify: the "
	    "checkpoint was altered after signing", -EKEYREJECTED);
}

/* cp is what its own text says (a caller may have edited the fields). */
static bool
same(const struct mg_checkpoint *a, const struct mg_checkpoint *b)
{
	return strcmp(a->origin, b->origin) == 0 && a->size == b->size &&
	    memcmp(a->root, b->root, 32) == 0 && a->time == b->time &&
	    a->signed_len == b->signed_len && a->cert_len == b->cert_len &&
	    a->cert_der != NULL && memcmp(a->cert_der, b->cert_der,
	    b->cert_len) == 0 && a->sig_len == b->sig_len && a->sig != NULL &&
	    memcmp(a->sig, b->sig, b->sig_len) == 0;
}

static int
verify_parsed(const struct mg_checkpoint *cp, const char *ca_pem_path,
    char *name, size_t size, const char **ret_why)
{
	const unsigned char *q = cp->cert_der;
	X509_STORE *store = NULL;
	X509 *x;
	int r;

	if ((x = d2i_X509(NULL, &q, (long)cp->cert_len)) == NULL) {
		ERR_clear_error();
		return why(ret_why, "the certificate is unreadable", -EBADMSG);
	}
	if ((r = check_leaf(x, ret_why)) < 0 ||
	    (r = load_ca(ca_pem_path, &store, ret_why)) < 0 ||
	    (r = check_chain(store, x, cp->time, ret_why)) < 0 ||
	    (r = check_signature(x, cp, ret_why)) < 0)
		goto out;
	if ((r = subject_cn(x, name, size)) < 0)
		why(ret_why, "the signer's name is too long", r);
out:
	X509_STORE_free(store);
	X509_free(x);
	return r;
}

int
mg_checkpoint_verify(const struct mg_checkpoint *cp, const char *ca_pem_path,
    char *cn, size_t cn_len, const char **ret_why)
{
	struct mg_checkpoint again;
	const char *w = NULL;
	char name[256];
	int r;

	memset(&again, 0, sizeof(again));
	if (cp == NULL || ca_pem_path == NULL || (cn != NULL && cn_len == 0))
		return why(ret_why, "missing argument", -EINVAL);
	if (cp->text == NULL)
		return why(ret_why, "not a parsed checkpoint", -EBADMSG);
	if ((r = mg_checkpoint_parse(cp->text, cp->text_len, &again, &w,
	    NULL)) < 0)
		return why(ret_why, r == -ENOMEM ? w : "the checkpoint's text "
		    "does not parse", r);
	if (!same(cp, &again)) {
		r = why(ret_why, "the checkpoint's fields are not those of its "
		    "text", -EBADMSG);
		goto out;
	}
	if ((r = verify_parsed(&again, ca_pem_path, name, sizeof(name),
	    ret_why)) < 0)
		goto out;
	if (cn != NULL && strlen(name) >= cn_len) {
		r = why(ret_why, "the signer's name does not fit in cn",
		    -ERANGE);
		goto out;
	}
	if (cn != NULL)
		memcpy(cn, name, strlen(name) + 1);
out:
	mg_checkpoint_clear(&again);
	return r;
}

/* ---- the printout ------------------------------------------------------ */

/* "AB:CD:..." (as openssl x509 -fingerprint -sha256), in two lines of 16
 * bytes so that it fits the page. */
static int
print_fingerprint(const struct mg_checkpoint *cp, FILE *out)
{
	unsigned char md[32];
	unsigned int n = 0;
	size_t i;

	if (EVP_Digest(cp->cert_der, cp->cert_len, md, &n, EVP_sha256(),
	    NULL) != 1 || n != 32)
		return -EIO;
	for (i = 0; i < 32; i++)
		fprintf(out, "%s%02X%s", i % 16 == 0 ? "    " : "", md[i],
		    i == 31 ? "\n" : i % 16 == 15 ? ":\n" : ":");
	return 0;
}

/* len bytes as base64 in lines of width characters, each with prefix. */
static int
print_b64(const uint8_t *data, size_t len, size_t width, const char *prefix,
    FILE *out)
{
	unsigned char *b64 = malloc(len / 3 * 4 + 5);
	size_t i, n;

	if (b64 == NULL)
		return -ENOMEM;
	n = (size_t)EVP_EncodeBlock(b64, data, (int)len);
	for (i = 0; i < n; i += width)
		fprintf(out, "%s%.*s\n", prefix, (int)(n - i < width ? n - i :
		    width), (const char *)b64 + i);
	free(b64);
	return 0;
}

static int
print_summary(const struct mg_checkpoint *cp, const char *cn,
    const char *when, FILE *out)
{
	size_t i;

	fprintf(out, "mynaguard チェックポイント (checkpoint) v1\n\n"
	    "ログ名 (origin):          %s\n"
	    "記録数 (size):            %" PRIu64 "\n"
	    "ルートハッシュ (root):\n", cp->origin, cp->size);
	for (i = 0; i < 32; i++)
		fprintf(out, "%s%02x%s", i % 16 == 0 ? "    " : "",
		    cp->root[i], i % 16 == 15 ? "\n" : i % 4 == 3 ? " " : "");
	fprintf(out, "時刻 (time, UTC):         %s\n"
	    "署名者 (signer CN):       %s\n"
	    "証明書の SHA-256 (certificate fingerprint):\n", when, cn);
	return print_fingerprint(cp, out);
}

int
mg_checkpoint_print(const struct mg_checkpoint *cp, FILE *out)
{
	const unsigned char *q;
	char when[21], cn[256];
	X509 *x;
	int r;

	if (cp == NULL || out == NULL || cp->cert_der == NULL ||
	    cp->sig == NULL || time_format(cp->time, when) < 0)
		return -EINVAL;
	q = cp->cert_der;
	x = d2i_X509(NULL, &q, (long)cp->cert_len);
	ERR_clear_error();
	if (x == NULL)
		return -EBADMSG;
	r = subject_cn(x, cn, sizeof(cn));
	X509_free(x);
	if (r == -ERANGE)
		snprintf(cn, sizeof(cn), "(too long to print)");
	else if (r < 0)
		return r;
	if ((r = print_summary(cp, cn, when, out)) < 0)
		return r;
	fprintf(out, "署名 (signature, base64):\n");
	if ((r = print_b64(cp->sig, cp->sig_len, 48, "    ", out)) < 0)
		return r;
	fprintf(out, "証明書 (certificate):\n" PEM_BEGIN "\n");
	if ((r = print_b64(cp->cert_der, cp->cert_len, PEM_LINE, "", out)) < 0)
		return r;
	fprintf(out, PEM_END "\n\n"
	    "打ち直すとき (to type it back in): one line each, LF endings:\n"
	    "  mynaguard checkpoint v1\n"
	    "  origin: / size: / root: (64 digits, no spaces) / time:\n"
	    "  signature: (the base64 above joined into one line)\n"
	    "  then the certificate block, BEGIN to END.\n");
	return fflush(out) != 0 || ferror(out) ? -EIO : 0;
}
