/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libmynaguard-login credentials: base64, the file format (valid files,
 * every error with its line and column, round trip), the list (add,
 * remove, ambiguity), loading only trusted files, atomic save, locking,
 * and allocation failures while parsing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "mynaguard/login.h"
#include "oom.h"

/* Keys made once per run, as base64url text for the files. */
static char es_pk[2][128], es_pk65[128], ed_pk[64], rs_pk[400];
static uint8_t es_raw[65];

static void
b64url(const uint8_t *p, size_t n, char *out, size_t size)
{
	struct sbuf b;

	sbuf_init(&b, size - 1);
	assert_int_equal(pmod_b64_encode(p, n, PMOD_B64_URL, &b), 0);
	memcpy(out, b.data, b.len + 1);
	sbuf_clear(&b);
}

static void
make_keys(void)
{
	uint8_t buf[300], n[256], e[3];
	EVP_PKEY *k;
	BIGNUM *bn = NULL;
	size_t len, i;

	for (i = 0; i < 2; i++) {
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		assert_non_null(k);
		assert_int_equal(EVP_PKEY_get_octet_string_param(k,
		    OSSL_PKEY_PARAM_PUB_KEY, buf, sizeof(buf), &len), 1);
		assert_int_equal(len, 65);
		b64url(buf + 1, 64, es_pk[i], sizeof(es_pk[i]));
		if (i == 0) {
			b64url(buf, 65, es_pk65, sizeof(es_pk65));
			memcpy(es_raw, buf, 65);
		}
		EVP_PKEY_free(k);
	}
	k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(k);
	len = sizeof(buf);
	assert_int_equal(EVP_PKEY_get_raw_public_key(k, buf, &len), 1);
	b64url(buf, len, ed_pk, sizeof(ed_pk));
	EVP_PKEY_free(k);
	k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	assert_non_null(k);
	assert_int_equal(EVP_PKEY_get_bn_param(k, "n", &bn), 1);
	assert_int_equal(BN_bn2binpad(bn, n, 256), 256);
	BN_free(bn);
	bn = NULL;
	assert_int_equal(EVP_PKEY_get_bn_param(k, "e", &bn), 1);
	assert_int_equal(BN_bn2binpad(bn, e, 3), 3);
	BN_free(bn);
	memcpy(buf, n, 256);
	memcpy(buf + 256, e, 3);
	b64url(buf, 259, rs_pk, sizeof(rs_pk));
	EVP_PKEY_free(k);
}

/* A printf into a static buffer, for building test files. */
static const char *
fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

static const char *
fmt(const char *f, ...)
{
	static char buf[16384];
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, sizeof(buf), f, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(buf));
	return buf;
}

static char *
valid_text(void)
{
	const char *t = fmt(
	    "mynaguard-credentials 1\n"
	    "# Town hall, second floor\n"
	    "\n"
	    "alice AQIDBA es256 %s pam://town +presence+pin "
	    "cb69481e-8ff7-4039-93ec-0a2729a154a8 2026-11-29T12:00:00Z "
	    "山田さんの鍵 (YubiKey 5)\n"
	    "bob\tBQYHCA\teddsa\t%s\tpam://town\t-\t-\t-\n"
	    "alice  CQoLDA  es256  %s  pam://town  +verification+presence  "
	    "cb69481e8ff7403993ec0a2729a154a8  2024-02-29T23:59:59Z  "
	    "予備の鍵　２本目  \r\n"
	    "  # indented comment\n"
	    "carol DQ4PEA rs256 %s town.example.lg.jp +pin - - RSA key\n",
	    es_pk[0], ed_pk, es_pk65, rs_pk);

	return strdup(t);
}

static void
test_b64(void **state)
{
	static const char *const vec[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" },
		{ "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	uint8_t out[16], bin[] = { 0xfb, 0xff, 0xfe };
	struct sbuf b;
	size_t i, n = 0, err = 0;

	(void)state;
	for (i = 0; i < MG_ELEMENTSOF(vec); i++) {	/* RFC 4648 §10 */
		sbuf_init(&b, 64);
		assert_int_equal(pmod_b64_encode((const uint8_t *)vec[i][0],
		    strlen(vec[i][0]), PMOD_B64_PAD, &b), 0);
		assert_string_equal(b.data != NULL ? b.data : "", vec[i][1]);
		sbuf_clear(&b);
		assert_int_equal(pmod_b64_decode(vec[i][1], strlen(vec[i][1]),
		    PMOD_B64_PAD, out, sizeof(out), &n, &err), 0);
		assert_int_equal(n, strlen(vec[i][0]));
		assert_memory_equal(out, vec[i][0], n);
	}
	sbuf_init(&b, 64);
	assert_int_equal(pmod_b64_encode(bin, 3, PMOD_B64_URL, &b), 0);
	assert_string_equal(b.data, "-__-");
	sbuf_clear(&b);
	assert_int_equal(pmod_b64_decode("-__-", 4, PMOD_B64_URL, out, 16, &n,
	    &err), 0);
	assert_memory_equal(out, bin, 3);
	/* Strict: wrong alphabet, padding not allowed or wrong, truncated,
	 * non-canonical (RFC 4648 §3.5), too long for the buffer. */
	assert_int_equal(pmod_b64_decode("+//+", 4, PMOD_B64_URL, out, 16, &n,
	    &err), -EINVAL);
	assert_int_equal(err, 0);
	assert_int_equal(pmod_b64_decode("Zg==", 4, PMOD_B64_URL, out, 16, &n,
	    &err), -EINVAL);
	assert_int_equal(err, 2);
	assert_int_equal(pmod_b64_decode("Zg=", 3, PMOD_B64_PAD, out, 16, &n,
	    &err), -EINVAL);
	assert_int_equal(pmod_b64_decode("Zm9=v", 5, PMOD_B64_PAD, out, 16,
	    &n, &err), -EINVAL);
	assert_int_equal(err, 3);
	assert_int_equal(pmod_b64_decode("Zm9vY", 5, 0, out, 16, &n, &err),
	    -EINVAL);
	assert_int_equal(err, 4);
	assert_int_equal(pmod_b64_decode("Zh", 2, 0, out, 16, &n, &err),
	    -EINVAL);
	assert_int_equal(err, 1);
	assert_int_equal(pmod_b64_decode("Zm9vYmFy", 8, 0, out, 5, &n, &err),
	    -E2BIG);
	assert_int_equal(pmod_b64_decode("Zg", 2, 0, out, 16, &n, &err), 0);
	assert_int_equal(n, 1);
}

static void
test_parse_valid(void **state)
{
	const struct pmod_cred *v[4];
	struct pmod_creds *c = NULL;
	struct pmod_diag d;
	char *text = valid_text();
	const uint8_t aaguid[16] = { 0xcb, 0x69, 0x48, 0x1e, 0x8f, 0xf7, 0x40,
		0x39, 0x93, 0xec, 0x0a, 0x27, 0x29, 0xa1, 0x54, 0xa8 };
	const struct pmod_cred *cr;

	(void)state;
	assert_int_equal(pmod_creds_parse(text, strlen(text), &c, &d), 0);
	assert_int_equal(pmod_creds_count(c), 4);
	assert_int_equal(pmod_creds_for_user(c, "alice", v, 4), 2);
	assert_memory_equal(v[0]->id, "\x01\x02\x03\x04", 4);
	assert_memory_equal(v[1]->id, "\x09\x0a\x0b\x0c", 4);
	assert_int_equal(v[0]->alg, PMOD_ALG_ES256);
	assert_int_equal(v[0]->pubkey_len, 64);
	assert_string_equal(v[0]->rp_id, "pam://town");
	assert_int_equal(v[0]->opts, PMOD_OPT_PRESENCE | PMOD_OPT_PIN);
	assert_true(v[0]->has_aaguid);
	assert_memory_equal(v[0]->aaguid, aaguid, 16);
	assert_int_equal(v[0]->created, 1795953600);
	assert_string_equal(v[0]->label, "山田さんの鍵 (YubiKey 5)");
	/* The 65-byte 04||x||y key is stored as x||y. */
	assert_int_equal(v[1]->pubkey_len, 64);
	assert_memory_equal(v[1]->pubkey, es_raw + 1, 64);
	assert_int_equal(v[1]->opts, PMOD_OPT_PRESENCE | PMOD_OPT_UV);
	assert_memory_equal(v[1]->aaguid, aaguid, 16);
	assert_int_equal(v[1]->created, 1709251199);
	/* Blanks around the label go; the ideographic space inside stays. */
	assert_string_equal(v[1]->label, "予備の鍵　２本目");
	assert_int_equal(pmod_creds_for_user(c, "alice", v, 1), 2);
	assert_int_equal(pmod_creds_for_user(c, "bob", v, 4), 1);
	assert_int_equal(v[0]->alg, PMOD_ALG_EDDSA);
	assert_int_equal(v[0]->pubkey_len, 32);
	assert_int_equal(v[0]->opts, 0);
	assert_false(v[0]->has_aaguid);
	assert_int_equal(v[0]->created, 0);
	assert_string_equal(v[0]->label, "");
	assert_int_equal(pmod_creds_for_user(c, "carol", v, 4), 1);
	assert_int_equal(v[0]->alg, PMOD_ALG_RS256);
	assert_int_equal(v[0]->pubkey_len, 259);
	assert_string_equal(v[0]->rp_id, "town.example.lg.jp");
	assert_int_equal(pmod_creds_for_user(c, "dave", v, 4), 0);
	cr = pmod_creds_find(c, "pam://town", (const uint8_t *)"\x05\x06\x07"
	    "\x08", 4);
	assert_non_null(cr);
	assert_string_equal(cr->user, "bob");
	assert_null(pmod_creds_find(c, "pam://other",
	    (const uint8_t *)"\x05\x06\x07\x08", 4));
	assert_null(pmod_creds_at(c, 4));
	pmod_creds_free(c);
	free(text);
	/* A header alone is an empty list; so is a header and comments. */
	assert_int_equal(pmod_creds_parse("mynaguard-credentials 1", 23, &c,
	    &d), 0);
	assert_int_equal(pmod_creds_count(c), 0);
	pmod_creds_free(c);
	assert_int_equal(pmod_creds_parse("mynaguard-credentials\t1 \r\n#\n",
	    28, &c, NULL), 0);
	pmod_creds_free(c);
}

/* 1 + code points before the first occurrence of mark in line. */
static unsigned
col_of(const char *line, const char *mark)
{
	const char *p = strstr(line, mark);

	assert_non_null(p);
	return 1u + (unsigned)utf8_count(line, (size_t)(p - line));
}

static void
expect_error(const char *text, size_t len, unsigned line, unsigned col,
    const char *msg_part)
{
	struct pmod_creds *c = NULL;
	struct pmod_diag d;
	int r;

	memset(&d, 0x55, sizeof(d));
	r = pmod_creds_parse(text, len, &c, &d);
	if (r != -EBADMSG || d.line != line || d.col != col ||
	    strstr(d.msg, msg_part) == NULL)
		fail_msg("expected %u:%u \"%s\", got %d %u:%u \"%s\"", line,
		    col, msg_part, r, d.line, d.col, d.msg);
	assert_null(c);
}

/* Line 2 of a file whose first line is the header. */
static void
expect_line2(const char *l2, const char *mark, const char *msg_part)
{
	char *t = NULL;

	assert_true(asprintf(&t, "mynaguard-credentials 1\n%s\n", l2) > 0);
	expect_error(t, strlen(t), 2, mark != NULL ? col_of(l2, mark) :
	    1u + (unsigned)utf8_count(l2, strlen(l2)), msg_part);
	free(t);
}

static void
expect_line2_at(const char *l2, unsigned col, const char *msg_part)
{
	char *t = NULL;

	assert_true(asprintf(&t, "mynaguard-credentials 1\n%s\n", l2) > 0);
	expect_error(t, strlen(t), 2, col, msg_part);
	free(t);
}

static void
test_parse_header_errors(void **state)
{
	(void)state;
	expect_error("", 0, 1, 1, "missing header");
	expect_error("\n", 1, 1, 1, "missing header");
	expect_error("alice AQ es256", 14, 1, 1, "missing header");
	expect_error("mynaguard-credentialsx 1\n", 25, 1, 1, "missing header");
	expect_error("\xef\xbb\xbfmynaguard-credentials 1\n", 27, 1, 1,
	    "byte order mark");
	expect_error("mynaguard-credentials 2\n", 24, 1, 23,
	    "unsupported version 2");
	expect_error("mynaguard-credentials\n", 22, 1, 22, "version");
	expect_error("mynaguard-credentials 1.0\n", 26, 1, 23,
	    "bad version");
	expect_error("# comment first\nmynaguard-credentials 1\n", 40, 1, 1,
	    "missing header");
}

static void
test_parse_field_errors(void **state)
{
	char bad_pt[128], short_es[64], ed31[64];
	uint8_t raw[64];
	char *l = NULL;

	(void)state;
	memset(raw, 0x11, sizeof(raw));
	b64url(raw, 64, bad_pt, sizeof(bad_pt));
	b64url(raw, 32, short_es, sizeof(short_es));
	b64url(raw, 31, ed31, sizeof(ed31));
	expect_line2(fmt("-alice AQ es256 %s rp - - -", es_pk[0]), "-alice",
	    "user name");
	expect_line2(fmt("al:ice AQ es256 %s rp - - -", es_pk[0]), "al:ice",
	    "user name");
	expect_line2(fmt("alice AB+C es256 %s rp - - -", es_pk[0]), "+C",
	    "'+' is not base64url");
	expect_line2(fmt("alice AQ== es256 %s rp - - -", es_pk[0]), "==",
	    "'=' is not base64url");
	expect_line2(fmt("alice QR es256 %s rp - - -", es_pk[0]), "R ",
	    "non-canonical");
	expect_line2(fmt("alice AQ es384 %s rp - - -", es_pk[0]), "es384",
	    "unknown algorithm");
	expect_line2(fmt("alice AQ ES256 %s rp - - -", es_pk[0]), "ES256",
	    "unknown algorithm");
	expect_line2(fmt("alice AQ es256 %s rp - - -", short_es), short_es,
	    "64 bytes");
	expect_line2(fmt("alice AQ es256 %s rp - - -", bad_pt), bad_pt,
	    "not a point on P-256");
	expect_line2(fmt("alice AQ eddsa %s rp - - -", ed31), ed31,
	    "32 bytes");
	expect_line2(fmt("alice AQ rs256 %s rp - - -", ed_pk), ed_pk,
	    "259 bytes");
	expect_line2(fmt("alice AQ eddsa %s rp +presence+foo - -", ed_pk),
	    "+foo", "unknown or repeated option");
	expect_line2(fmt("alice AQ eddsa %s rp +pin+pin - -", ed_pk),
	    "+pin -", "unknown or repeated option");
	expect_line2(fmt("alice AQ eddsa %s rp presence - -", ed_pk),
	    "presence", "options look like");
	expect_line2(fmt("alice AQ eddsa %s rp - cb69481e-8ff7 -", ed_pk),
	    "cb69", "aaguid must be");
	expect_line2(fmt("alice AQ eddsa %s rp - "
	    "cb69481e-8ff7-4039-93ec+0a2729a154a8 -", ed_pk), "+0a27",
	    "'-' expected");
	expect_line2(fmt("alice AQ eddsa %s rp - "
	    "cb69481e-8ff7-4039-93ec-0a2729a154ag -", ed_pk), "ag ",
	    "hex digit");
	expect_line2(fmt("alice AQ eddsa %s rp - - 2026-02-29T00:00:00Z",
	    ed_pk), "2026-02", "created must be");
	expect_line2(fmt("alice AQ eddsa %s rp - - 1999-12-31T23:59:59Z",
	    ed_pk), "1999", "years 2000 to 9999");
	expect_line2(fmt("alice AQ eddsa %s rp - - 2026-11-29T12:00:00+09:00",
	    ed_pk), "2026", "UTC");
	expect_line2(fmt("alice AQ eddsa %s rp - - 2026-11-29T24:00:00Z",
	    ed_pk), "2026", "created must be");
	expect_line2(fmt("alice AQ eddsa %s", ed_pk), NULL,
	    "relying party missing");
	expect_line2("alice AQ eddsa", NULL, "public key missing");
	expect_line2(fmt("alice AQ eddsa %s rp - -", ed_pk), NULL,
	    "created missing");
	/* Sizes. */
	assert_true(asprintf(&l, "%0257d AQ eddsa %s rp - - -", 0, ed_pk) > 0);
	expect_line2(l, "0", "user longer than 256 bytes");
	free(l);
	assert_true(asprintf(&l, "alice AQ eddsa %s %0256d - - -", ed_pk, 0) >
	    0);
	expect_line2_at(l, 17 + (unsigned)strlen(ed_pk),
	    "relying party longer than 255");
	free(l);
	assert_true(asprintf(&l, "alice AQ eddsa %s rp - - - %0129d", ed_pk,
	    0) > 0);
	expect_line2_at(l, 26 + (unsigned)strlen(ed_pk),
	    "label longer than 128");
	free(l);
}

static void
test_parse_line_errors(void **state)
{
	char *l = NULL, *t = NULL;
	unsigned col;
	size_t len;

	(void)state;
	/* Bytes: NUL, invalid UTF-8, control and bidi characters. */
	expect_line2(fmt("alice AQ eddsa %s rp - - - \xe9t\xe9", ed_pk),
	    "\xe9t", "invalid UTF-8");
	expect_line2(fmt("alice AQ eddsa %s rp - - - a\x01z", ed_pk),
	    "\x01", "control character U+0001");
	expect_line2(fmt("alice AQ eddsa %s rp - - - a\rz", ed_pk),
	    "\rz", "control character U+000D");
	expect_line2(fmt("alice AQ eddsa %s rp - - - abc\xe2\x80\xaeslx.exe",
	    ed_pk), "\xe2\x80\xae", "bidirectional");
	expect_line2(fmt("alice AQ eddsa %s rp - - - a\xc2\x85z", ed_pk),
	    "\xc2\x85", "control");
	expect_line2(fmt("alice AQ eddsa %s rp - - - a\tb", ed_pk), "\tb",
	    "tab");
	t = strdup(fmt("mynaguard-credentials 1\nalice AQ eddsa %s rp - - - "
	    "a?b\n", ed_pk));
	len = strlen(t);
	col = col_of(t + 24, "a?b") + 1;
	*strchr(t, '?') = '\0';
	expect_error(t, len, 2, col, "NUL byte");
	free(t);
	/* Over the line limit: reported at the first byte too many. */
	l = malloc(PMOD_LINE_MAX + 2);
	assert_non_null(l);
	memset(l, 'x', PMOD_LINE_MAX + 1);
	l[PMOD_LINE_MAX + 1] = '\0';
	assert_true(asprintf(&t, "mynaguard-credentials 1\n# ok\n%s\n", l) > 0);
	expect_error(t, strlen(t), 3, PMOD_LINE_MAX + 1, "longer than 8192");
	free(t);
	free(l);
	/* The same credential twice (same relying party) is refused; the
	 * same id for another relying party is a different credential. */
	assert_true(asprintf(&t, "mynaguard-credentials 1\n"
	    "alice AQ eddsa %s rp - - -\n"
	    "bob BA eddsa %s rp - - -\n"
	    "bob AQ eddsa %s rp2 - - -\n"
	    "carol AQ eddsa %s rp - - -\n", ed_pk, ed_pk, ed_pk, ed_pk) > 0);
	expect_error(t, strlen(t), 5, 7, "already listed on line 2");
	free(t);
}

/* Structural equality of two lists. */
static void
assert_same(const struct pmod_creds *a, const struct pmod_creds *b)
{
	const struct pmod_cred *x, *y;
	size_t i;

	assert_int_equal(pmod_creds_count(a), pmod_creds_count(b));
	for (i = 0; i < pmod_creds_count(a); i++) {
		x = pmod_creds_at(a, i);
		y = pmod_creds_at(b, i);
		assert_string_equal(x->user, y->user);
		assert_int_equal(x->id_len, y->id_len);
		assert_memory_equal(x->id, y->id, x->id_len);
		assert_int_equal(x->alg, y->alg);
		assert_int_equal(x->pubkey_len, y->pubkey_len);
		assert_memory_equal(x->pubkey, y->pubkey, x->pubkey_len);
		assert_string_equal(x->rp_id, y->rp_id);
		assert_int_equal(x->opts, y->opts);
		assert_int_equal(x->has_aaguid, y->has_aaguid);
		assert_memory_equal(x->aaguid, y->aaguid, 16);
		assert_int_equal(x->created, y->created);
		assert_string_equal(x->label, y->label);
	}
}

static void
test_roundtrip(void **state)
{
	struct pmod_creds *a = NULL, *b = NULL;
	struct sbuf s1, s2;
	char *text = valid_text();
	const char *line;

	(void)state;
	sbuf_init(&s1, PMOD_CRED_FILE_MAX);
	sbuf_init(&s2, PMOD_CRED_FILE_MAX);
	assert_int_equal(pmod_creds_parse(text, strlen(text), &a, NULL), 0);
	assert_int_equal(pmod_creds_format(a, &s1), 0);
	assert_int_equal(pmod_creds_parse(s1.data, s1.len, &b, NULL), 0);
	assert_same(a, b);
	assert_int_equal(pmod_creds_format(b, &s2), 0);
	assert_int_equal(s1.len, s2.len);
	assert_memory_equal(s1.data, s2.data, s1.len);
	/* The canonical form of one line. */
	line = fmt("\nalice CQoLDA es256 %s pam://town "
	    "+presence+verification cb69481e-8ff7-4039-93ec-0a2729a154a8 "
	    "2024-02-29T23:59:59Z 予備の鍵　２本目\n", es_pk[0]);
	assert_non_null(strstr(s1.data, line));
	assert_non_null(strstr(s1.data, fmt("\nbob BQYHCA eddsa %s pam://town "
	    "- - -\n", ed_pk)));
	assert_int_equal(strncmp(s1.data, "mynaguard-credentials 1\n#", 25), 0);
	/* An empty list formats to a header that parses. */
	pmod_creds_free(b);
	assert_int_equal(pmod_creds_new(&b), 0);
	sbuf_clear(&s2);
	assert_int_equal(pmod_creds_format(b, &s2), 0);
	pmod_creds_free(b);
	assert_int_equal(pmod_creds_parse(s2.data, s2.len, &b, NULL), 0);
	assert_int_equal(pmod_creds_count(b), 0);
	/* A limit too small for the output is -E2BIG, not a cut file. */
	sbuf_clear(&s2);
	sbuf_init(&s2, 100);
	assert_int_equal(pmod_creds_format(a, &s2), -E2BIG);
	sbuf_clear(&s1);
	sbuf_clear(&s2);
	pmod_creds_free(a);
	pmod_creds_free(b);
	free(text);
}

static void
fill(struct pmod_cred *cr, const char *user, const uint8_t *id,
    size_t id_len, const uint8_t *pk, const char *label)
{
	memset(cr, 0, sizeof(*cr));
	cr->user = user;
	cr->id = id;
	cr->id_len = id_len;
	cr->alg = PMOD_ALG_ES256;
	cr->pubkey = pk;
	cr->pubkey_len = 65;
	cr->rp_id = "pam://town";
	cr->opts = PMOD_OPT_PRESENCE;
	cr->label = label;
}

static void
test_add_invalid(void **state)
{
	struct pmod_creds *c = NULL;
	struct pmod_cred cr;
	uint8_t id[PMOD_CRED_ID_MAX + 1] = { 1 }, badpk[65];
	char long_label[PMOD_LABEL_MAX + 2];
	const char *why = NULL;

	(void)state;
	memset(badpk, 0x42, sizeof(badpk));
	memset(long_label, 'x', sizeof(long_label) - 1);
	long_label[sizeof(long_label) - 1] = '\0';
	assert_int_equal(pmod_creds_new(&c), 0);
#define BAD(field, value) do { \
		fill(&cr, "alice", id, 4, es_raw, "ok"); \
		cr.field = value; \
		assert_int_equal(pmod_creds_add(c, &cr), -EINVAL); \
		assert_int_equal(pmod_cred_check(&cr, &why), -EINVAL); \
		assert_non_null(why); \
	} while (0)
	BAD(user, "");
	BAD(user, "a/b");
	BAD(user, "..");
	BAD(user, "-x");
	BAD(user, "日本");
	BAD(id_len, 0);
	BAD(id_len, PMOD_CRED_ID_MAX + 1);
	BAD(alg, -35);
	BAD(pubkey, badpk);
	BAD(pubkey_len, 63);
	BAD(rp_id, "");
	BAD(rp_id, "pam://a b");
	BAD(opts, 0x8u);
	BAD(created, 100);
	BAD(created, INT64_C(253402300800));
	BAD(label, NULL);
	BAD(label, long_label);
	BAD(label, " lead");
	BAD(label, "trail ");
	BAD(label, "tab\there");
	BAD(label, "\xff");
	BAD(label, "rlo\xe2\x80\xae");
#undef BAD
	assert_int_equal(pmod_creds_count(c), 0);
	fill(&cr, "alice", id, 4, es_raw, "");
	assert_int_equal(pmod_creds_add(c, &cr), 0);
	assert_int_equal(pmod_creds_add(c, &cr), -EEXIST);
	cr.user = "bob";	/* the same key for another user: still one key */
	assert_int_equal(pmod_creds_add(c, &cr), -EEXIST);
	cr.rp_id = "pam://other";
	assert_int_equal(pmod_creds_add(c, &cr), 0);
	assert_int_equal(pmod_creds_add(NULL, &cr), -EINVAL);
	assert_int_equal(pmod_creds_add(c, NULL), -EINVAL);
	pmod_creds_free(c);
}

static void
test_add_remove(void **state)
{
	static const uint8_t abc[] = "abc";
	struct pmod_creds *c = NULL;
	struct pmod_cred cr;
	const struct pmod_cred *p;
	uint8_t ids[5][2] = { { 1, 1 }, { 1, 2 }, { 1, 3 }, { 1, 4 },
		{ 1, 5 } };
	char h[65], prefix[9];

	(void)state;
	assert_int_equal(pmod_creds_new(&c), 0);
	fill(&cr, "alice", abc, 3, es_raw, "blue key");
	assert_int_equal(pmod_creds_add(c, &cr), 0);
	p = pmod_creds_at(c, 0);
	assert_int_equal(p->pubkey_len, 64);	/* normalised */
	assert_memory_equal(p->pubkey, es_raw + 1, 64);
	assert_ptr_not_equal(p->user, cr.user);	/* deep copy */
	pmod_cred_id_hash(p, h);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
	fill(&cr, "alice", ids[0], 2, es_raw, "spare");
	assert_int_equal(pmod_creds_add(c, &cr), 0);
	fill(&cr, "alice", ids[1], 2, es_raw, "spare");
	assert_int_equal(pmod_creds_add(c, &cr), 0);
	fill(&cr, "bob", ids[2], 2, es_raw, "blue key");
	assert_int_equal(pmod_creds_add(c, &cr), 0);
	assert_int_equal(pmod_creds_count(c), 4);
	/* Two of alice's keys are "spare": ambiguous, nothing removed. */
	assert_int_equal(pmod_creds_remove(c, "alice", "spare"), -ENOTUNIQ);
	assert_int_equal(pmod_creds_count(c), 4);
	assert_int_equal(pmod_creds_remove(c, "alice", "red key"), -ENOENT);
	assert_int_equal(pmod_creds_remove(c, "carol", "blue key"), -ENOENT);
	assert_int_equal(pmod_creds_remove(c, "alice", ""), -EINVAL);
	/* 7 hex digits are not a hash prefix (but could be a label). */
	assert_int_equal(pmod_creds_remove(c, "alice", "ba7816b"), -ENOENT);
	/* A hash prefix, in either case. */
	memcpy(prefix, "BA7816BF", 9);
	assert_int_equal(pmod_creds_remove(c, "bob", prefix), -ENOENT);
	assert_int_equal(pmod_creds_remove(c, "alice", prefix), 1);
	assert_int_equal(pmod_creds_count(c), 3);
	assert_null(pmod_creds_find(c, "pam://town", abc, 3));
	/* The label of bob's key is unique for bob. */
	assert_int_equal(pmod_creds_remove(c, "bob", "blue key"), 1);
	/* The whole hash of one of the spares. */
	fill(&cr, "alice", ids[1], 2, es_raw, "spare");
	pmod_cred_id_hash(&cr, h);
	assert_int_equal(pmod_creds_remove(c, "alice", h), 1);
	assert_int_equal(pmod_creds_count(c), 1);
	assert_non_null(pmod_creds_find(c, "pam://town", ids[0], 2));
	assert_null(pmod_creds_find(c, "pam://town", ids[1], 2));
	/* Removed ids may come back; truncate undoes appends. */
	assert_int_equal(pmod_creds_add(c, &cr), 0);
	fill(&cr, "carol", ids[3], 2, es_raw, "");
	assert_int_equal(pmod_creds_add(c, &cr), 0);
	pmod_creds_truncate(c, 1);
	assert_int_equal(pmod_creds_count(c), 1);
	assert_null(pmod_creds_find(c, "pam://town", ids[3], 2));
	assert_int_equal(pmod_creds_add(c, &cr), 0);
	pmod_creds_free(c);
}

static void
test_many(void **state)
{
	struct pmod_creds *c = NULL;
	struct pmod_cred cr;
	uint8_t id[4];
	uint32_t i;

	(void)state;
	assert_int_equal(pmod_creds_new(&c), 0);
	for (i = 0; i < 3000; i++) {
		memcpy(id, &i, 4);
		fill(&cr, i % 2 ? "alice" : "bob", id, 4, es_raw, "");
		assert_int_equal(pmod_creds_add(c, &cr), 0);
	}
	for (i = 0; i < 3000; i++) {
		memcpy(id, &i, 4);
		assert_non_null(pmod_creds_find(c, "pam://town", id, 4));
	}
	assert_int_equal(pmod_creds_for_user(c, "alice", NULL, 0), 1500);
	pmod_creds_free(c);
}

/* ---- files -------------------------------------------------------------- */

static char tmpdir[64];

static int
setup_dir(void **state)
{
	(void)state;
	memcpy(tmpdir, "/tmp/mg-cred.XXXXXX", 20);
	return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
teardown_dir(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *
path_in(const char *name)
{
	static char p[2][256];
	static int k;

	k ^= 1;
	(void)snprintf(p[k], sizeof(p[k]), "%s/%s", tmpdir, name);
	return p[k];
}

static void
write_file(const char *path, const char *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void
expect_load(const char *path, int want, const char *msg_part)
{
	struct pmod_creds *c = NULL;
	struct pmod_diag d;
	int r = pmod_creds_load(path, &c, &d);

	if (r != want || (msg_part != NULL && strstr(d.msg, msg_part) == NULL))
		fail_msg("load %s: expected %d \"%s\", got %d \"%s\"", path,
		    want, msg_part != NULL ? msg_part : "", r, d.msg);
	if (r == 0)
		assert_int_equal(pmod_creds_count(c), 4);
	else
		assert_null(c);
	pmod_creds_free(c);
}

static void
test_load(void **state)
{
	char *text = valid_text(), *big;
	char *p = strdup(path_in("credentials"));

	(void)state;
	write_file(p, text, strlen(text), 0600);
	expect_load(p, 0, NULL);
	assert_int_equal(chmod(p, 0644), 0);
	expect_load(p, 0, NULL);
	expect_load(path_in("missing"), -ENOENT, NULL);
	expect_load(path_in("nodir/credentials"), -ENOENT, NULL);
	expect_load("credentials", -EINVAL, "absolute");
	assert_int_equal(symlink(p, path_in("link")), 0);
	expect_load(path_in("link"), -EACCES, "symbolic link");
	assert_int_equal(mkdir(path_in("dir"), 0700), 0);
	expect_load(path_in("dir"), -EACCES, "not a regular file");
	assert_int_equal(mkfifo(path_in("fifo"), 0600), 0);
	expect_load(path_in("fifo"), -EACCES, "not a regular file");
	assert_int_equal(chmod(p, 0620), 0);
	expect_load(p, -EACCES, "writable by group or others");
	assert_int_equal(chmod(p, 0602), 0);
	expect_load(p, -EACCES, "writable by group or others");
	assert_int_equal(chmod(p, 0600), 0);
	assert_int_equal(chown(p, 65534, 65534), 0);
	expect_load(p, -EACCES, "owned by uid 65534");
	assert_int_equal(chown(p, 0, 0), 0);
	expect_load(p, 0, NULL);
	/* A directory on the way that others could write to. */
	write_file(path_in("dir/credentials"), text, strlen(text), 0600);
	expect_load(path_in("dir/credentials"), 0, NULL);
	assert_int_equal(chmod(path_in("dir"), 0777), 0);
	expect_load(path_in("dir/credentials"), -EACCES, "writable by group");
	assert_int_equal(chmod(path_in("dir"), 01777), 0);	/* sticky */
	expect_load(path_in("dir/credentials"), 0, NULL);
	assert_int_equal(chmod(path_in("dir"), 0755), 0);
	assert_int_equal(chown(path_in("dir"), 65534, 0), 0);
	expect_load(path_in("dir/credentials"), -EACCES, "not root");
	/* Over the size limit. */
	big = calloc(1, PMOD_CRED_FILE_MAX + 1);
	assert_non_null(big);
	write_file(p, big, PMOD_CRED_FILE_MAX + 1, 0600);
	expect_load(p, -E2BIG, "larger than");
	free(big);
	/* A parse error carries its place. */
	write_file(p, "mynaguard-credentials 1\nalice\n", 30, 0600);
	expect_load(p, -EBADMSG, "credential id missing");
	free(text);
	free(p);
}

static size_t
count_entries(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.' || strncmp(e->d_name, ".creds", 6) == 0;
	closedir(d);
	return n;
}

static void
test_save(void **state)
{
	struct pmod_creds *a = NULL, *b = NULL;
	char *p = strdup(path_in("creds"));
	char *text = valid_text(), buf[256];
	struct stat st;
	struct sbuf s;
	ssize_t n;
	int old;

	(void)state;
	sbuf_init(&s, PMOD_CRED_FILE_MAX);
	assert_int_equal(pmod_creds_parse(text, strlen(text), &a, NULL), 0);
	/* A reader holding the old file keeps reading the old file. */
	write_file(p, "old contents", 12, 0644);
	old = open(p, O_RDONLY | O_CLOEXEC);
	assert_true(old >= 0);
	/* Leftovers of a crashed save do not get in the way. */
	write_file(path_in(".creds.AAAAAA"), "junk", 4, 0600);
	write_file(path_in(".creds.XXXXXX"), "junk", 4, 0600);
	assert_int_equal(count_entries(), 3);
	assert_int_equal(pmod_creds_save(p, a), 0);
	assert_int_equal(count_entries(), 3);	/* no new temporary file */
	n = read(old, buf, sizeof(buf));
	assert_int_equal(n, 12);
	close(old);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(pmod_creds_format(a, &s), 0);
	assert_int_equal(st.st_size, (off_t)s.len);
	assert_int_equal(pmod_creds_load(p, &b, NULL), 0);
	assert_same(a, b);
	pmod_creds_free(b);
	/* Again over the new file. */
	assert_int_equal(pmod_creds_remove(a, "alice", "予備の鍵　２本目"), 1);
	assert_int_equal(pmod_creds_save(p, a), 0);
	assert_int_equal(pmod_creds_load(p, &b, NULL), 0);
	assert_int_equal(pmod_creds_count(b), 3);
	pmod_creds_free(b);
	assert_int_equal(pmod_creds_save(path_in("nodir/creds"), a), -ENOENT);
	assert_int_equal(pmod_creds_save("creds", a), -EINVAL);
	assert_int_equal(pmod_creds_save(path_in("dir/"), a), -EINVAL);
	sbuf_clear(&s);
	pmod_creds_free(a);
	free(text);
	free(p);
}

static void
test_lock(void **state)
{
	char *p = strdup(path_in("creds"));
	struct stat st;
	int fd, fd2;

	(void)state;
	fd = pmod_creds_lock(p);
	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	assert_int_equal(stat(path_in("creds.lock"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* Another open file description cannot take it ... */
	fd2 = open(path_in("creds.lock"), O_RDWR | O_CLOEXEC);
	assert_true(fd2 >= 0);
	assert_int_equal(flock(fd2, LOCK_EX | LOCK_NB), -1);
	assert_int_equal(errno, EWOULDBLOCK);
	/* ... until the holder closes. */
	close(fd);
	assert_int_equal(flock(fd2, LOCK_EX | LOCK_NB), 0);
	close(fd2);
	assert_int_equal(pmod_creds_lock("relative"), -EINVAL);
	free(p);
}

static void
test_oom(void **state)
{
	struct pmod_creds *c = NULL;
	char *text = valid_text();
	size_t i;
	int r;

	(void)state;
	for (i = 1;; i++) {
		oom_fail_at(i);
		r = pmod_creds_parse(text, strlen(text), &c, NULL);
		if (!oom_triggered()) {
			oom_fail_at(0);
			assert_int_equal(r, 0);
			break;
		}
		oom_fail_at(0);
		assert_int_equal(r, -ENOMEM);
		assert_null(c);
	}
	assert_true(i > 3);
	assert_int_equal(pmod_creds_count(c), 4);
	pmod_creds_free(c);
	free(text);
}

/* Saving and loading with every allocation failed in turn: an error, and
 * never a half-written file. */
static void
test_oom_files(void **state)
{
	struct pmod_creds *a = NULL, *b = NULL;
	char *text = valid_text(), *p = strdup(path_in("creds"));
	size_t i;
	int r;

	(void)state;
	assert_int_equal(pmod_creds_parse(text, strlen(text), &a, NULL), 0);
	write_file(p, "mynaguard-credentials 1\n", 24, 0600);
	for (i = 1;; i++) {
		oom_fail_at(i);
		r = pmod_creds_save(p, a);
		if (!oom_triggered())
			break;
		oom_fail_at(0);
		assert_int_equal(r, -ENOMEM);
		assert_int_equal(pmod_creds_load(p, &b, NULL), 0);
		assert_int_equal(pmod_creds_count(b), 0);	/* the old one */
		pmod_creds_free(b);
		b = NULL;
	}
	oom_fail_at(0);
	assert_int_equal(r, 0);
	for (i = 1;; i++) {
		oom_fail_at(i);
		r = pmod_creds_load(p, &b, NULL);
		if (!oom_triggered())
			break;
		oom_fail_at(0);
		assert_int_equal(r, -ENOMEM);
		assert_null(b);
	}
	oom_fail_at(0);
	assert_int_equal(r, 0);
	assert_same(a, b);
	pmod_creds_free(a);
	pmod_creds_free(b);
	free(text);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64),
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_header_errors),
		cmocka_unit_test(test_parse_field_errors),
		cmocka_unit_test(test_parse_line_errors),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_add_invalid),
		cmocka_unit_test(test_add_remove),
		cmocka_unit_test(test_many),
		cmocka_unit_test_setup_teardown(test_load, setup_dir,
		    teardown_dir),
		cmocka_unit_test_setup_teardown(test_save, setup_dir,
		    teardown_dir),
		cmocka_unit_test_setup_teardown(test_lock, setup_dir,
		    teardown_dir),
		cmocka_unit_test(test_oom),
		cmocka_unit_test_setup_teardown(test_oom_files, setup_dir,
		    teardown_dir),
	};

	make_keys();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
