/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mynaguard-review verify: check an export (docs/review-api.md "Export")
 * with nothing but the town CA certificate.  Every terminal certificate in
 * the file must chain to the CA (clientAuth, OU=terminal, CN = the agent id
 * it is listed for); every record must decode, be of the agent it is listed
 * for and verify with one of that agent's certificates (a terminal may have
 * had several keys); and each terminal's chain must hold from its first
 * exported seq on.  Gaps are explained by the agent's own signed loss
 * records exactly as collector/chain.c and collector/loss.c do it: a gap is
 * explained when one loss range covers it, and the record after it does not
 * break the chain when a loss range names its prev_hash as last_hash.  This
 * is a separate implementation on purpose: it must not trust collector code.
 *
 * Certificate time: a record's own time is what the terminal claims, so it
 * cannot choose the validity time.  Certificates are checked at the time of
 * verification; one that has only expired since is reported as a WARN line
 * and still used (an auditor may check an old export), anything else wrong
 * with it (not yet valid, another CA, wrong OU/CN/purpose) is a CERT problem
 * and its key is not used.
 *
 * --since/--until select by the record's own time, which is not
 * trustworthy: they only choose, per terminal, the seq span from the first
 * to the last record inside the window, and every record in that span is
 * checked (skipping the ones in between would fabricate gaps).
 *
 * The input is hostile: lines are bounded (LINE_MAX_BYTES), so are the
 * number of certificates and records, and one bad line is reported with its
 * number without hiding the rest.
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "mynaguard/common.h"
#include "mynaguard/event.h"
#include "review.h"

#define LINE_MAX_BYTES (1u << 20)
#define CERTS_MAX 4096u
#define RECORDS_MAX 10000000u
#define RANGES_MAX 65536u	/* loss ranges of one terminal */
#define PEM_MAX 16384u
#define CA_FILE_MAX (1u << 20)
#define B64_MAX (((MG_REC_MAX + 2u) / 3u) * 4u)
#define FIELDS_MAX 8u
#define MSG_MAX 256u

struct field {
	const char *key;
	char *str;		/* unescaped, NUL-terminated; NULL: a number */
	size_t len;
	uint64_t num;
};

struct vcert {
	char agent[MG_REC_AGENT_ID_MAX + 1];
	struct mg_verifier *v;
};

struct vrec {
	char agent[MG_REC_AGENT_ID_MAX + 1];	/* as listed */
	uint64_t seq;				/* as listed */
	unsigned line;
	uint8_t *raw;
	struct mg_record r;
	uint8_t hash[MG_REC_HASH_LEN];
	const char *bad;	/* why it cannot be used at all, or NULL */
	const char *sig_why;	/* why the signature check failed, or NULL */
	int sig;		/* 0: verified */
};

struct range {
	uint64_t from, to;
	uint8_t last_hash[MG_REC_HASH_LEN];
	uint64_t loss_seq;
};

struct verify {
	const char *ca_path, *file, *terminal;
	int64_t since, until;	/* ns; INT64_MIN / INT64_MAX: none */
	X509_STORE *store;
	struct vcert *certs;
	size_t n_certs;
	struct vrec *recs;
	size_t n_recs, cap_recs;
	struct range *ranges;
	size_t n_ranges, cap_ranges;
	unsigned line;
	uint64_t problems, checked, terminals;
	bool malformed;
	bool fatal;
};

/* ---- reporting --------------------------------------------------------- */

static void report(struct verify *vf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
report(struct verify *vf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	vf->problems++;
}

static void
bad_line(struct verify *vf, const char *what)
{
	vf->malformed = true;
	report(vf, "LINE %u: %s", vf->line, what);
}

static void
seq_range(char *out, size_t size, uint64_t from, uint64_t to)
{
	if (from == to)
		snprintf(out, size, "%" PRIu64, from);
	else
		snprintf(out, size, "%" PRIu64 "..%" PRIu64, from, to);
}

/* ---- one NDJSON line: a flat object of strings and integers ------------- */

static char *
skip_ws(char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

static int
hex4(const char *p, uint32_t *ret)
{
	uint32_t v = 0;
	int i, d;

	for (i = 0; i < 4; i++) {
		if ((d = parse_hexdigit(p[i])) < 0)
			return -1;
		v = v << 4 | (uint32_t)d;
	}
	*ret = v;
	return 0;
}

static size_t
put_utf8(char *o, uint32_t c)
{
	if (c < 0x80) {
		o[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = (char)(0xc0 | c >> 6);
		o[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		o[0] = (char)(0xe0 | c >> 12);
		o[1] = (char)(0x80 | (c >> 6 & 0x3f));
		o[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | c >> 18);
	o[1] = (char)(0x80 | (c >> 12 & 0x3f));
	o[2] = (char)(0x80 | (c >> 6 & 0x3f));
	o[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/* \uXXXX (and a surrogate pair) at *p (after the backslash and 'u'). */
static int
unescape_u(char **p, char **o)
{
	uint32_t c, lo;

	if (hex4(*p, &c) < 0)
		return -1;
	*p += 4;
	if (c >= 0xdc00 && c <= 0xdfff)
		return -1;
	if (c >= 0xd800 && c <= 0xdbff) {
		if ((*p)[0] != '\\' || (*p)[1] != 'u' || hex4(*p + 2, &lo) < 0 ||
		    lo < 0xdc00 || lo > 0xdfff)
			return -1;
		*p += 6;
		c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
	}
	if (c == 0)
		return -1;	/* would end the C string */
	*o += put_utf8(*o, c);
	return 0;
}

/* A JSON string at *p (on the opening quote), unescaped in place: the
 * output never outgrows the input. */
static int
parse_string(char **p, char **ret, size_t *ret_len)
{
	char *in = *p + 1;
	char *o = *p, *start = *p;
	static const char esc_in[] = "\"\\/bfnrt", esc_out[] = "\"\\/\b\f\n\r\t";
	const char *e;

	for (;;) {
		if (*in == '\0' || (unsigned char)*in < 0x20)
			return -1;
		if (*in == '"')
			break;
		if (*in != '\\') {
			*o++ = *in++;
			continue;
		}
		in++;
		if (*in == 'u') {
			in++;
			if (unescape_u(&in, &o) < 0)
				return -1;
		} else if (*in != '\0' && (e = strchr(esc_in, *in)) != NULL) {
			*o++ = esc_out[e - esc_in];
			in++;
		} else {
			return -1;
		}
	}
	*o = '\0';
	*p = in + 1;
	*ret = start;
	*ret_len = (size_t)(o - start);
	return utf8_validate(start, *ret_len, NULL) < 0 ? -1 : 0;
}

static int
parse_number(char **p, uint64_t *ret)
{
	char num[21];
	size_t n = 0;

	while ((*p)[n] >= '0' && (*p)[n] <= '9' && n < 20)
		n++;
	if (n == 0 || ((*p)[n] >= '0' && (*p)[n] <= '9') ||
	    (n > 1 && (*p)[0] == '0'))
		return -1;
	memcpy(num, *p, n);
	num[n] = '\0';
	*p += n;
	return parse_u64(num, 0, UINT64_MAX, ret) < 0 ? -1 : 0;
}

static int
parse_value(char **p, struct field *f)
{
	if (**p == '"')
		return parse_string(p, &f->str, &f->len);
	f->str = NULL;
	return parse_number(p, &f->num);
}

/* {"key": "string" | integer, ...}; the line is modified. */
static const char *
parse_object(char *line, struct field *f, size_t *ret_n)
{
	char *p = skip_ws(line), *key;
	size_t n = 0, i, klen;

	if (*p++ != '{')
		return "not a JSON object";
	p = skip_ws(p);
	while (*p != '}') {
		if (n == FIELDS_MAX)
			return "too many members";
		if (*p != '"' || parse_string(&p, &key, &klen) < 0)
			return "bad member name";
		p = skip_ws(p);
		if (*p++ != ':')
			return "expected ':'";
		p = skip_ws(p);
		f[n].key = key;
		if (parse_value(&p, &f[n]) < 0)
			return "bad value (only strings and integers are allowed)";
		for (i = 0; i < n; i++)
			if (strcmp(f[i].key, key) == 0)
				return "duplicate member";
		n++;
		p = skip_ws(p);
		if (*p == ',')
			p = skip_ws(p + 1);
		else if (*p != '}')
			return "expected ',' or '}'";
	}
	if (*skip_ws(p + 1) != '\0')
		return "text after the object";
	*ret_n = n;
	return NULL;
}

static const struct field *
member(const struct field *f, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(f[i].key, key) == 0)
			return &f[i];
	return NULL;
}

/* ---- certificates ------------------------------------------------------- */

static int
load_ca(struct verify *vf)
{
	char *pem = NULL;
	size_t len = 0, n = 0;
	BIO *bio = NULL;
	X509 *x;
	int r;

	if ((r = file_read_all(vf->ca_path, CA_FILE_MAX, 0, &pem, &len)) < 0) {
		fprintf(stderr, "verify: %s: %s\n", vf->ca_path, strerror(-r));
		return r;
	}
	vf->store = X509_STORE_new();
	bio = BIO_new_mem_buf(pem, (int)len);
	r = -ENOMEM;
	if (vf->store == NULL || bio == NULL)
		goto out;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(vf->store, x) == 1)
			n++;
		X509_free(x);
	}
	r = 0;
	if (n == 0) {
		fprintf(stderr, "verify: %s: no certificate in it\n",
		    vf->ca_path);
		r = -EBADMSG;
	}
out:
	BIO_free(bio);
	free(pem);
	return r;
}

/* The one value of a subject field, or NULL when there is not exactly one. */
static bool
subject_is(X509 *x, int nid, const char *want)
{
	const X509_NAME *name = X509_get_subject_name(x);
	unsigned char *utf8 = NULL;
	int i, n;
	bool ok;

	i = X509_NAME_get_index_by_NID(name, nid, -1);
	if (i < 0 || X509_NAME_get_index_by_NID(name, nid, i) >= 0)
		return false;
	n = ASN1_STRING_to_UTF8(&utf8,
	    X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
	ok = n >= 0 && (size_t)n == strlen(want) &&
	    memcmp(utf8, want, (size_t)n) == 0;
	OPENSSL_free(utf8);
	return ok;
}

/* Chain to the CA for clientAuth, at the current time; an error of the
 * time alone is retried without it and returns 1 (expired: a warning). */
static int
chain_check(struct verify *vf, X509 *x, const char **ret_why)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int r = -ENOMEM, err = 0, pass;

	for (pass = 0; ctx != NULL && pass < 2; pass++) {
		if (X509_STORE_CTX_init(ctx, vf->store, x, NULL) != 1)
			break;
		X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
		X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_X509_STRICT |
		    (pass ? X509_V_FLAG_NO_CHECK_TIME : 0));
		if (X509_verify_cert(ctx) == 1) {
			r = pass;
			break;
		}
		if (pass == 0)
			err = X509_STORE_CTX_get_error(ctx);
		X509_STORE_CTX_cleanup(ctx);
		*ret_why = X509_verify_cert_error_string(err);
		r = -EACCES;
		if (err != X509_V_ERR_CERT_HAS_EXPIRED)
			break;
	}
	X509_STORE_CTX_free(ctx);
	return r;
}

/* Accept x for agent; its problems are reported, not returned. */
static int
add_cert(struct verify *vf, const char *agent, X509 *x)
{
	struct mg_verifier *v = NULL;
	unsigned char *der = NULL;
	const char *why = "";
	struct vcert *c;
	int r, len;

	if ((r = chain_check(vf, x, &why)) == -ENOMEM)
		return r;
	if (r < 0) {
		report(vf, "CERT %s (line %u): does not verify against the CA: "
		    "%s; its records are not verified", agent, vf->line, why);
		return 0;
	}
	if (r == 1)
		printf("WARN %s (line %u): certificate expired; accepted, as "
		    "an export may be old\n", agent, vf->line);
	if (!subject_is(x, NID_organizationalUnitName, "terminal") ||
	    !subject_is(x, NID_commonName, agent)) {
		report(vf, "CERT %s (line %u): not a terminal certificate for "
		    "this agent id (OU=terminal, CN=%s); its records are not "
		    "verified", agent, vf->line, agent);
		return 0;
	}
	if ((len = i2d_X509(x, &der)) <= 0)
		return -ENOMEM;
	r = mg_verifier_from_der(der, (size_t)len, &v);
	OPENSSL_free(der);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		report(vf, "CERT %s (line %u): not an ECDSA P-256 terminal "
		    "certificate", agent, vf->line);
		return 0;
	}
	c = realloc(vf->certs, (vf->n_certs + 1) * sizeof(*c));
	if (c == NULL) {
		mg_verifier_free(v);
		return -ENOMEM;
	}
	vf->certs = c;
	snprintf(c[vf->n_certs].agent, sizeof(c->agent), "%s", agent);
	c[vf->n_certs++].v = v;
	return 0;
}

static int
on_certificate(struct verify *vf, const struct field *agent,
    const struct field *pem)
{
	X509 *x = NULL, *extra = NULL;
	BIO *bio;
	int r = 0;

	if (pem == NULL || pem->str == NULL) {
		bad_line(vf, "certificate without a \"pem\" string");
		return 0;
	}
	if (vf->n_certs == CERTS_MAX) {
		report(vf, "CERT %s (line %u): more than %u certificates; "
		    "ignored", agent->str, vf->line, CERTS_MAX);
		return 0;
	}
	if (pem->len > PEM_MAX || (bio = BIO_new_mem_buf(pem->str,
	    (int)pem->len)) == NULL) {
		report(vf, "CERT %s (line %u): PEM too long", agent->str,
		    vf->line);
		return 0;
	}
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (x != NULL)
		extra = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (x == NULL || extra != NULL)
		report(vf, "CERT %s (line %u): \"pem\" is not exactly one "
		    "PEM certificate", agent->str, vf->line);
	else
		r = add_cert(vf, agent->str, x);
	X509_free(x);
	X509_free(extra);
	return r;
}

/* ---- records ------------------------------------------------------------ */

static int
b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	return c == '/' ? 63 : -1;
}

/* Strict RFC 4648 base64 with padding; out holds len / 4 * 3 bytes. */
static int
b64_decode(const char *s, size_t len, uint8_t *out, size_t *ret_len)
{
	size_t i, n = 0, pad = 0;
	uint32_t acc = 0;
	int v;

	if (len == 0 || len % 4 != 0)
		return -1;
	if (s[len - 1] == '=')
		pad = s[len - 2] == '=' ? 2 : 1;
	for (i = 0; i < len; i++) {
		v = i >= len - pad ? 0 : b64_val(s[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		if (i % 4 == 3) {
			out[n++] = (uint8_t)(acc >> 16);
			out[n++] = (uint8_t)(acc >> 8);
			out[n++] = (uint8_t)acc;
			acc = 0;
		}
	}
	/* The padded bits must be zero (one encoding per byte string). */
	if ((pad == 1 && out[n - 1] != 0) ||
	    (pad == 2 && (out[n - 1] != 0 || out[n - 2] != 0)))
		return -1;
	*ret_len = n - pad;
	return 0;
}

static struct vrec *
new_rec(struct verify *vf)
{
	struct vrec *n;
	size_t cap;

	if (vf->n_recs == vf->cap_recs) {
		cap = vf->cap_recs ? 2 * vf->cap_recs : 256;
		if ((n = realloc(vf->recs, cap * sizeof(*n))) == NULL)
			return NULL;
		vf->recs = n;
		vf->cap_recs = cap;
	}
	n = &vf->recs[vf->n_recs++];
	memset(n, 0, sizeof(*n));
	n->line = vf->line;
	n->sig = -ENOKEY;
	return n;
}

static void
decode_rec(struct vrec *v, const char *b64, size_t len)
{
	const char *why = "";
	size_t n = 0;
	int r;

	if (len > B64_MAX) {
		v->bad = "record too long";
		return;
	}
	if ((v->raw = malloc(len / 4 * 3 + 1)) == NULL) {
		v->bad = "out of memory";
		return;
	}
	if (b64_decode(b64, len, v->raw, &n) < 0) {
		v->bad = "\"record\" is not valid base64";
		return;
	}
	r = mg_record_decode(v->raw, n, &v->r, &why);
	if (r < 0 || (size_t)r != n)
		v->bad = r < 0 ? why : "bytes after the record";
	else if (strcmp(v->r.agent_id, v->agent) != 0)
		v->bad = "the record is of another agent";
	else if (v->r.seq != v->seq)
		v->bad = "the record has another seq";
	else
		mg_record_hash(&v->r, v->hash);
}

static int
on_record(struct verify *vf, const struct field *agent,
    const struct field *seq, const struct field *rec)
{
	struct vrec *v;

	if (seq == NULL || seq->str != NULL || seq->num == 0 ||
	    seq->num > INT64_MAX || rec == NULL || rec->str == NULL) {
		bad_line(vf, "record without an integer \"seq\" >= 1 and a "
		    "\"record\" string");
		return 0;
	}
	if (vf->n_recs == RECORDS_MAX) {
		bad_line(vf, "too many records; the rest is ignored");
		vf->fatal = true;
		return 0;
	}
	if ((v = new_rec(vf)) == NULL)
		return -ENOMEM;
	snprintf(v->agent, sizeof(v->agent), "%s", agent->str);
	v->seq = seq->num;
	decode_rec(v, rec->str, rec->len);
	return 0;
}

static int
on_line(struct verify *vf, char *line)
{
	struct field f[FIELDS_MAX];
	const struct field *kind, *agent;
	const char *err;
	size_t n = 0;

	if (*skip_ws(line) == '\0')
		return 0;	/* an empty line, the last one too */
	if ((err = parse_object(line, f, &n)) != NULL) {
		bad_line(vf, err);
		return 0;
	}
	kind = member(f, n, "kind");
	agent = member(f, n, "agent_id");
	if (kind == NULL || kind->str == NULL) {
		bad_line(vf, "no \"kind\" string");
		return 0;
	}
	if (agent == NULL || agent->str == NULL ||
	    !mg_agent_id_valid(agent->str, agent->len)) {
		bad_line(vf, "no valid \"agent_id\"");
		return 0;
	}
	if (vf->terminal != NULL && strcmp(vf->terminal, agent->str) != 0)
		return 0;
	if (strcmp(kind->str, "certificate") == 0)
		return on_certificate(vf, agent, member(f, n, "pem"));
	if (strcmp(kind->str, "record") == 0)
		return on_record(vf, agent, member(f, n, "seq"),
		    member(f, n, "record"));
	bad_line(vf, "unknown \"kind\"");
	return 0;
}

/* Read the file line by line; a line over LINE_MAX_BYTES is reported and
 * skipped without ever being held whole. */
static int
read_input(struct verify *vf, FILE *in)
{
	char *buf = malloc(LINE_MAX_BYTES + 1);
	size_t len = 0;
	bool toolong = false;
	int c, r = 0;

	if (buf == NULL)
		return -ENOMEM;
	for (;;) {
		c = getc_unlocked(in);
		if (c != '\n' && c != EOF) {
			if (len < LINE_MAX_BYTES)
				buf[len++] = (char)c;
			else
				toolong = true;
			continue;
		}
		if (c == EOF && len == 0 && !toolong)
			break;
		vf->line++;
		buf[len] = '\0';
		if (toolong)
			bad_line(vf, "longer than 1 MiB; skipped");
		else if (memchr(buf, '\0', len) != NULL)
			bad_line(vf, "contains a NUL byte");
		else if ((r = on_line(vf, buf)) < 0)
			break;
		len = 0;
		toolong = false;
		if (c == EOF || vf->fatal)
			break;
	}
	if (r == 0 && ferror(in))
		r = -EIO;
	free(buf);
	return r;
}

/* ---- signatures --------------------------------------------------------- */

/* Try every certificate of the agent: the key id picks the right one. */
static void
check_sig(struct verify *vf, struct vrec *v)
{
	const char *why;
	size_t i;
	int r;

	v->sig_why = "no valid certificate for this terminal in the export";
	for (i = 0; i < vf->n_certs && v->sig != 0; i++) {
		if (strcmp(vf->certs[i].agent, v->agent) != 0)
			continue;
		if (v->sig == -ENOKEY)
			v->sig_why = "signed with a key of no valid "
			    "certificate in the export";
		why = NULL;
		r = mg_verifier_check(vf->certs[i].v, &v->r, &why);
		if (r == 0 || r == -EBADMSG) {
			v->sig = r;
			v->sig_why = why;
		}
	}
}

/* ---- the chain of one terminal ------------------------------------------ */

static int
cmp_rec(const void *a, const void *b)
{
	const struct vrec *x = a, *y = b;
	int c = strcmp(x->agent, y->agent);

	if (c != 0)
		return c;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

/*
 * The ranges of a verified loss record, read as collector/loss.c reads
 * them (mg_event_loss_parse(): 1 <= from <= to < the loss record's own
 * seq).  A body it cannot read explains nothing.
 */
static int
add_ranges(struct verify *vf, const struct mg_record *r)
{
	struct mg_loss_info in;
	struct range *n;
	size_t i;

	if (mg_event_loss_parse(r->body, r->body_len, r->seq, &in, NULL) < 0)
		return 0;
	for (i = 0; i < in.n && vf->n_ranges < RANGES_MAX; i++) {
		if (vf->n_ranges == vf->cap_ranges) {
			n = realloc(vf->ranges,
			    (vf->cap_ranges + 64) * sizeof(*n));
			if (n == NULL)
				return -ENOMEM;
			vf->ranges = n;
			vf->cap_ranges += 64;
		}
		n = &vf->ranges[vf->n_ranges++];
		n->from = in.range[i].from;
		n->to = in.range[i].to;
		memcpy(n->last_hash, in.range[i].last_hash, MG_REC_HASH_LEN);
		n->loss_seq = r->seq;
	}
	return 0;
}

/* collector/loss.c coll_loss_covering(): one range covers the whole gap. */
static const struct range *
covering(const struct verify *vf, uint64_t from, uint64_t to)
{
	size_t i;

	for (i = 0; i < vf->n_ranges; i++)
		if (vf->ranges[i].from <= from && vf->ranges[i].to >= to)
			return &vf->ranges[i];
	return NULL;
}

/* collector/loss.c coll_loss_explains(): a range ends with this hash. */
static bool
explains(const struct verify *vf, const uint8_t *prev)
{
	size_t i;

	for (i = 0; i < vf->n_ranges; i++)
		if (memcmp(vf->ranges[i].last_hash, prev,
		    MG_REC_HASH_LEN) == 0)
			return true;
	return false;
}

struct chain {
	bool have;		/* a record before this one */
	bool head_known;	/* its hash is known (it decoded) */
	uint64_t next;
	uint8_t head[MG_REC_HASH_LEN];
	const struct vrec *last;	/* the record at next - 1, if decoded */
	uint64_t fail_from, fail_to;	/* pending FAIL run */
	const char *fail_why;
};

static bool
all_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

static void
flush_fail(struct verify *vf, struct chain *c, const char *agent)
{
	char s[48];

	if (c->fail_why == NULL)
		return;
	seq_range(s, sizeof(s), c->fail_from, c->fail_to);
	report(vf, "FAIL %s seq %s: %s", agent, s, c->fail_why);
	c->fail_why = NULL;
}

/* Consecutive records failing for the same reason make one line. */
static void
fail(struct verify *vf, struct chain *c, const struct vrec *v,
    const char *why)
{
	if (c->fail_why != NULL && strcmp(c->fail_why, why) == 0 &&
	    (v->seq == c->fail_to || v->seq == c->fail_to + 1)) {
		c->fail_to = v->seq;
		return;
	}
	flush_fail(vf, c, v->agent);
	c->fail_why = why;
	c->fail_from = c->fail_to = v->seq;
}

static void
link_check(struct verify *vf, struct chain *c, const struct vrec *v)
{
	const struct range *rg;
	char s[48];
	bool broken = false;

	if (!c->have) {
		/* The first exported record: only seq 1 has a known
		 * predecessor (none). */
		broken = v->seq == 1 && !all_zero(v->r.prev_hash,
		    MG_REC_HASH_LEN);
	} else if (v->seq > c->next) {
		flush_fail(vf, c, v->agent);
		seq_range(s, sizeof(s), c->next, v->seq - 1);
		if ((rg = covering(vf, c->next, v->seq - 1)) != NULL)
			printf("NOTE %s seq %s: dropped by the terminal (loss "
			    "record seq %" PRIu64 ")\n", v->agent, s,
			    rg->loss_seq);
		else
			report(vf, "GAP %s seq %s: missing (no loss record "
			    "explains it)", v->agent, s);
		broken = !explains(vf, v->r.prev_hash);
	} else if (c->head_known) {
		broken = memcmp(v->r.prev_hash, c->head, MG_REC_HASH_LEN) != 0 &&
		    !explains(vf, v->r.prev_hash);
	}
	if (!broken)
		return;
	flush_fail(vf, c, v->agent);
	report(vf, "BREAK %s seq %" PRIu64 ": prev_hash does not link to %s",
	    v->agent, v->seq, c->have ? "the record before it" :
	    "nothing (seq 1 must have an all-zero prev_hash)");
}

/* A second record at the same seq: the same bytes again are harmless; two
 * different records that both verify are equivocation (one that does not
 * verify already has its FAIL line). */
static void
same_seq(struct verify *vf, struct chain *c, const struct vrec *v)
{
	const struct vrec *p = c->last;

	if (p == NULL || p->seq != v->seq || p->sig != 0 || v->sig != 0 ||
	    (p->r.raw_len == v->r.raw_len &&
	    memcmp(p->r.raw, v->r.raw, v->r.raw_len) == 0))
		return;
	flush_fail(vf, c, v->agent);
	report(vf, "EQUIV %s seq %" PRIu64 ": two different signed records "
	    "(lines %u and %u)", v->agent, v->seq, p->line, v->line);
}

static void
walk(struct verify *vf, struct vrec *v, size_t n)
{
	struct chain c;
	size_t i;

	memset(&c, 0, sizeof(c));
	for (i = 0; i < n; i++) {
		if (v[i].bad != NULL) {
			/* It still occupies its listed seq; the chain
			 * cannot be checked across it. */
			fail(vf, &c, &v[i], v[i].bad);
			if (!c.have || v[i].seq >= c.next) {
				c.have = true;
				c.head_known = false;
				c.last = NULL;
				c.next = v[i].seq + 1;
			}
			continue;
		}
		if (c.have && v[i].seq < c.next) {
			same_seq(vf, &c, &v[i]);
		} else {
			link_check(vf, &c, &v[i]);
			c.have = c.head_known = true;
			c.next = v[i].seq + 1;
			memcpy(c.head, v[i].hash, MG_REC_HASH_LEN);
			c.last = &v[i];
		}
		if (v[i].sig != 0)
			fail(vf, &c, &v[i], v[i].sig_why);
	}
	flush_fail(vf, &c, v[0].agent);
}

/* Signatures first: only verified loss records may explain a gap. */
static void
walk_terminal(struct verify *vf, struct vrec *v, size_t n)
{
	size_t i;

	vf->n_ranges = 0;
	for (i = 0; i < n; i++) {
		if (v[i].bad != NULL)
			continue;
		check_sig(vf, &v[i]);
		if (v[i].sig == 0 && (v[i].r.flags & MG_REC_F_LOSS) &&
		    add_ranges(vf, &v[i].r) < 0)
			v[i].bad = "out of memory";
	}
	walk(vf, v, n);
}

static bool
in_window(const struct verify *vf, const struct vrec *v)
{
	return v->bad == NULL && v->r.t_wall_ns >= vf->since &&
	    v->r.t_wall_ns < vf->until;
}

/* The seq span [*lo, *hi) of records inside the time window. */
static void
window(const struct verify *vf, struct vrec *v, size_t n, size_t *lo,
    size_t *hi)
{
	size_t i;

	*lo = n;
	*hi = 0;
	for (i = 0; i < n; i++) {
		if (!in_window(vf, &v[i]))
			continue;
		if (*lo == n)
			*lo = i;
		*hi = i + 1;
	}
	while (*lo > 0 && *lo < n && v[*lo - 1].seq == v[*lo].seq)
		(*lo)--;
	while (*hi > 0 && *hi < n && v[*hi].seq == v[*hi - 1].seq)
		(*hi)++;
}

static void
check_all(struct verify *vf)
{
	size_t i = 0, j, lo, hi;
	bool filtered = vf->since != INT64_MIN || vf->until != INT64_MAX;

	if (vf->n_recs == 0)
		return;
	qsort(vf->recs, vf->n_recs, sizeof(*vf->recs), cmp_rec);
	while (i < vf->n_recs) {
		for (j = i + 1; j < vf->n_recs &&
		    strcmp(vf->recs[j].agent, vf->recs[i].agent) == 0; j++)
			;
		lo = 0;
		hi = j - i;
		if (filtered)
			window(vf, vf->recs + i, j - i, &lo, &hi);
		if (lo < hi) {
			vf->terminals++;
			vf->checked += hi - lo;
			walk_terminal(vf, vf->recs + i + lo, hi - lo);
		}
		i = j;
	}
}

/* ---- arguments ----------------------------------------------------------- */

/*
 * RFC 3339 UTC as the review API writes it (2026-11-29T12:00:00Z, with an
 * optional fraction of up to 9 digits), or a date alone (midnight UTC).
 */
static int
parse_time(const char *s, int64_t *ret)
{
	struct tm tm;
	const char *p;
	int64_t frac = 0, scale = 100000000;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%d", &tm);
	if (p == NULL)
		return -EINVAL;
	if (*p == 'T') {
		p = strptime(p + 1, "%H:%M:%S", &tm);
		if (p == NULL)
			return -EINVAL;
		if (*p == '.') {
			for (p++; *p >= '0' && *p <= '9' && scale > 0; p++) {
				frac += (*p - '0') * scale;
				scale /= 10;
			}
			if (p[-1] == '.')
				return -EINVAL;
		}
		if (*p++ != 'Z')
			return -EINVAL;
	}
	if (*p != '\0' || (t = timegm(&tm)) == (time_t)-1 || t < 0 ||
	    t > INT64_MAX / 1000000000 - 1)
		return -EINVAL;
	*ret = (int64_t)t * 1000000000 + frac;
	return 0;
}

static int
usage(void)
{
	fprintf(stderr, "usage: mynaguard-review verify --ca CA.pem "
	    "[--since TIME] [--until TIME] [--terminal T] FILE|-\n"
	    "TIME: 2026-11-29 or 2026-11-29T12:00:00Z\n");
	return -EINVAL;
}

/* The arguments after "verify" (argv[0] may be "verify" itself). */
static int
parse_args(int argc, char **argv, struct verify *vf)
{
	const char *opt, *val;
	int i = argc > 0 && strcmp(argv[0], "verify") == 0 ? 1 : 0;

	for (; i < argc; i++) {
		opt = argv[i];
		if (opt[0] != '-' || strcmp(opt, "-") == 0) {
			if (vf->file != NULL)
				return usage();
			vf->file = opt;
			continue;
		}
		if (i + 1 >= argc)
			return usage();
		val = argv[++i];
		if (strcmp(opt, "--ca") == 0)
			vf->ca_path = val;
		else if (strcmp(opt, "--terminal") == 0 &&
		    mg_agent_id_valid(val, strlen(val)))
			vf->terminal = val;
		else if (!((strcmp(opt, "--since") == 0 &&
		    parse_time(val, &vf->since) == 0) ||
		    (strcmp(opt, "--until") == 0 &&
		    parse_time(val, &vf->until) == 0)))
			return usage();
	}
	if (vf->ca_path == NULL || vf->file == NULL)
		return usage();
	return 0;
}

static void
verify_clear(struct verify *vf)
{
	size_t i;

	for (i = 0; i < vf->n_certs; i++)
		mg_verifier_free(vf->certs[i].v);
	free(vf->certs);
	for (i = 0; i < vf->n_recs; i++)
		free(vf->recs[i].raw);
	free(vf->recs);
	free(vf->ranges);
	X509_STORE_free(vf->store);
}

static int
run(struct verify *vf)
{
	FILE *in = stdin;
	int r;

	if ((r = load_ca(vf)) < 0)
		return r;
	if (strcmp(vf->file, "-") != 0 && (in = fopen(vf->file, "re")) ==
	    NULL) {
		r = -errno;
		fprintf(stderr, "verify: %s: %s\n", vf->file, strerror(-r));
		return r;
	}
	r = read_input(vf, in);
	if (in != stdin)
		fclose(in);
	if (r < 0) {
		fprintf(stderr, "verify: %s: %s\n", vf->file, strerror(-r));
		return r;
	}
	check_all(vf);
	printf("verified %" PRIu64 " records from %" PRIu64 " terminals: %"
	    PRIu64 " problems\n", vf->checked, vf->terminals, vf->problems);
	return 0;
}

int
cmd_verify(int argc, char **argv)
{
	struct verify vf;
	int r;

	memset(&vf, 0, sizeof(vf));
	vf.since = INT64_MIN;
	vf.until = INT64_MAX;
	if (parse_args(argc, argv, &vf) < 0)
		return 2;
	r = run(&vf);
	verify_clear(&vf);
	if (fflush(stdout) != 0 || r < 0 || vf.malformed)
		return 2;
	return vf.problems > 0 ? 1 : 0;
}
