/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Import of pam_u2f authfiles.  The lines are made here the way pamu2fcfg
 * writes them (new format: base64 with OpenSSL's encoder, es256 keys as
 * x||y; old U2F format: web-safe base64 key handle and the hex of the
 * 65-byte point), from keys made with OpenSSL, so that the importer's own
 * decoder is checked against an independent encoder.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "mynaguard/login.h"
#include "oom.h"

#define RP "pam://town-hall"

struct key {
	int alg;
	uint8_t pk[300];	/* as pamu2fcfg stores it */
	size_t pk_len;
	uint8_t point[65];	/* es256: 04||x||y */
	uint8_t kh[64];		/* key handle */
};

static struct key keys[6];	/* es256 x3, eddsa, rs256, es256 */

static void
make_key(struct key *k, int alg)
{
	EVP_PKEY *p = NULL;
	BIGNUM *bn = NULL;
	size_t len = 0;

	k->alg = alg;
	assert_int_equal(RAND_bytes(k->kh, sizeof(k->kh)), 1);
	if (alg == PMOD_ALG_ES256) {
		p = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		assert_non_null(p);
		assert_int_equal(EVP_PKEY_get_octet_string_param(p,
		    OSSL_PKEY_PARAM_PUB_KEY, k->point, 65, &len), 1);
		memcpy(k->pk, k->point + 1, 64);	/* es256_pk_t: x||y */
		k->pk_len = 64;
	} else if (alg == PMOD_ALG_EDDSA) {
		p = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		assert_non_null(p);
		k->pk_len = 32;
		assert_int_equal(EVP_PKEY_get_raw_public_key(p, k->pk,
		    &k->pk_len), 1);
	} else {
		p = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		assert_non_null(p);
		assert_int_equal(EVP_PKEY_get_bn_param(p, "n", &bn), 1);
		assert_int_equal(BN_bn2binpad(bn, k->pk, 256), 256);
		BN_free(bn);
		bn = NULL;
		assert_int_equal(EVP_PKEY_get_bn_param(p, "e", &bn), 1);
		assert_int_equal(BN_bn2binpad(bn, k->pk + 256, 3), 3);
		BN_free(bn);
		k->pk_len = 259;	/* rs256_pk_t: n||e */
	}
	EVP_PKEY_free(p);
}

/* Standard base64 with padding, as pamu2fcfg's b64_encode() (OpenSSL). */
static char *
std_b64(const uint8_t *p, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);

	assert_non_null(out);
	assert_true(EVP_EncodeBlock((unsigned char *)out, p, (int)n) >= 0);
	return out;
}

/* Web-safe, unpadded: the old format's key handles (libu2f-server). */
static char *
websafe_b64(const uint8_t *p, size_t n)
{
	char *s = std_b64(p, n), *c;

	for (c = s; *c != '\0'; c++) {
		if (*c == '+')
			*c = '-';
		else if (*c == '/')
			*c = '_';
		else if (*c == '=')
			*c = '\0';
	}
	return s;
}

static char *
hex(const uint8_t *p, size_t n, int upper)
{
	char *s = malloc(2 * n + 1);
	size_t i;

	assert_non_null(s);
	for (i = 0; i < n; i++)
		(void)snprintf(s + 2 * i, 3, upper ? "%02X" : "%02x", p[i]);
	return s;
}

/* "KeyHandle,PublicKey,CoseType,Options" for key k. */
static char *
new_entry(const struct key *k, const char *opts)
{
	char *kh = std_b64(k->kh, sizeof(k->kh));
	char *pk = std_b64(k->pk, k->pk_len);
	char *out = NULL;

	assert_true(asprintf(&out, "%s,%s,%s%s%s", kh, pk,
	    pmod_alg_name(k->alg), opts != NULL ? "," : "",
	    opts != NULL ? opts : "") > 0);
	free(kh);
	free(pk);
	return out;
}

static char *
old_entry(const struct key *k, int upper)
{
	char *kh = websafe_b64(k->kh, sizeof(k->kh));
	char *pk = hex(k->point, 65, upper);
	char *out = NULL;

	assert_true(asprintf(&out, "%s,%s", kh, pk) > 0);
	free(kh);
	free(pk);
	return out;
}

static void
check_cred(const struct pmod_cred *c, const char *user, const struct key *k,
    unsigned opts)
{
	assert_string_equal(c->user, user);
	assert_int_equal(c->id_len, sizeof(k->kh));
	assert_memory_equal(c->id, k->kh, sizeof(k->kh));
	assert_int_equal(c->alg, k->alg);
	assert_int_equal(c->pubkey_len, k->pk_len);
	assert_memory_equal(c->pubkey, k->pk, k->pk_len);
	assert_int_equal(c->opts, opts);
	assert_string_equal(c->rp_id, RP);
	assert_string_equal(c->label, "imported from pam_u2f");
	assert_int_equal(c->created, 0);
	assert_false(c->has_aaguid);
}

static int
import(const char *text, struct pmod_creds **ret, struct pmod_diag *d)
{
	int r;

	assert_int_equal(pmod_creds_new(ret), 0);
	r = pmod_u2f_parse(text, strlen(text), RP, *ret, d);
	return r;
}

static void
test_new_format(void **state)
{
	char *e[5], *text = NULL;
	struct pmod_creds *c = NULL;
	struct pmod_diag d;
	struct key k65;

	(void)state;
	/* pamu2fcfg's es256 keys are x||y, but es256_pk_from_ptr() also
	 * takes 04||x||y: accept it and store x||y. */
	k65 = keys[5];
	memcpy(k65.pk, k65.point, 65);
	k65.pk_len = 65;
	e[0] = new_entry(&keys[0], "+presence");
	e[1] = new_entry(&keys[3], "+presence+pin");
	e[2] = new_entry(&keys[4], "+verification+pin");
	e[3] = new_entry(&k65, "");		/* pamu2fcfg -P: empty */
	e[4] = new_entry(&keys[1], NULL);	/* no options field */
	assert_true(asprintf(&text, "alice:%s:%s\nbob:%s\ncarol:%s\n"
	    "dave:%s", e[0], e[1], e[2], e[3], e[4]) > 0);
	assert_int_equal(import(text, &c, &d), 5);
	assert_int_equal(pmod_creds_count(c), 5);
	check_cred(pmod_creds_at(c, 0), "alice", &keys[0], PMOD_OPT_PRESENCE);
	check_cred(pmod_creds_at(c, 1), "alice", &keys[3], PMOD_OPT_PRESENCE |
	    PMOD_OPT_PIN);
	check_cred(pmod_creds_at(c, 2), "bob", &keys[4], PMOD_OPT_UV |
	    PMOD_OPT_PIN);
	check_cred(pmod_creds_at(c, 3), "carol", &keys[5], 0);
	check_cred(pmod_creds_at(c, 4), "dave", &keys[1], 0);
	pmod_creds_free(c);
	free(text);
	for (size_t i = 0; i < 5; i++)
		free(e[i]);
}

static void
test_old_format(void **state)
{
	char *e[3], *text = NULL;
	struct pmod_creds *c = NULL;
	struct pmod_diag d;

	(void)state;
	e[0] = old_entry(&keys[0], 0);
	e[1] = old_entry(&keys[1], 1);
	e[2] = new_entry(&keys[2], "+presence");
	/* Old entries, then old and new mixed on one line (pam_u2f detects
	 * the format per entry), CRLF, blank lines, empty entries. */
	assert_true(asprintf(&text, "\nerin:%s\r\n\nfrank:%s::%s:\n", e[0],
	    e[1], e[2]) > 0);
	assert_int_equal(import(text, &c, &d), 3);
	check_cred(pmod_creds_at(c, 0), "erin", &keys[0], PMOD_OPT_PRESENCE);
	check_cred(pmod_creds_at(c, 1), "frank", &keys[1], PMOD_OPT_PRESENCE);
	check_cred(pmod_creds_at(c, 2), "frank", &keys[2], PMOD_OPT_PRESENCE);
	pmod_creds_free(c);
	free(text);
	for (size_t i = 0; i < 3; i++)
		free(e[i]);
}

/* pam_u2f keeps only the last line of a user. */
static void
test_last_line_wins(void **state)
{
	char *e[3], *text = NULL;
	struct pmod_creds *c = NULL;
	struct pmod_diag d;

	(void)state;
	e[0] = new_entry(&keys[0], "+presence");
	e[1] = new_entry(&keys[1], "+presence");
	e[2] = new_entry(&keys[2], "+presence");
	assert_true(asprintf(&text, "alice:%s\nbob:%s\nalice:%s\n", e[0],
	    e[1], e[2]) > 0);
	assert_int_equal(import(text, &c, &d), 2);
	check_cred(pmod_creds_at(c, 0), "bob", &keys[1], PMOD_OPT_PRESENCE);
	check_cred(pmod_creds_at(c, 1), "alice", &keys[2], PMOD_OPT_PRESENCE);
	pmod_creds_free(c);
	free(text);
	/* The earlier line must still be well formed. */
	assert_true(asprintf(&text, "alice:%s,x\nalice:%s\n", e[0], e[2]) > 0);
	assert_int_equal(import(text, &c, &d), -EBADMSG);
	assert_int_equal(d.line, 1);
	assert_non_null(strstr(d.msg, "too many fields"));
	pmod_creds_free(c);
	free(text);
	for (size_t i = 0; i < 3; i++)
		free(e[i]);
}

/* Import text into a list holding one credential; expect err at ln:col
 * and the list unchanged. */
static void
expect_err(const char *line, int err, unsigned ln, unsigned col,
    const char *msg_part)
{
	struct pmod_creds *c = NULL;
	struct pmod_cred cr;
	struct pmod_diag d;
	int r;

	assert_int_equal(pmod_creds_new(&c), 0);
	memset(&cr, 0, sizeof(cr));
	cr.user = "root";
	cr.id = (const uint8_t *)"\x01\x02";
	cr.id_len = 2;
	cr.alg = PMOD_ALG_EDDSA;
	cr.pubkey = keys[3].pk;
	cr.pubkey_len = 32;
	cr.rp_id = RP;
	cr.label = "kept";
	assert_int_equal(pmod_creds_add(c, &cr), 0);
	memset(&d, 0x55, sizeof(d));
	r = pmod_u2f_parse(line, strlen(line), RP, c, &d);
	if (r != err || d.line != ln || d.col != col ||
	    strstr(d.msg, msg_part) == NULL)
		fail_msg("\"%.60s\": expected %d %u:%u \"%s\", got %d %u:%u "
		    "\"%s\"", line, err, ln, col, msg_part, r, d.line, d.col,
		    d.msg);
	assert_int_equal(pmod_creds_count(c), 1);	/* all or nothing */
	assert_string_equal(pmod_creds_at(c, 0)->label, "kept");
	pmod_creds_free(c);
}

static void
test_errors(void **state)
{
	char *good = new_entry(&keys[0], "+presence");
	char *good2 = new_entry(&keys[2], "+presence");
	char *kh = std_b64(keys[0].kh, 64), *pk = std_b64(keys[0].pk, 64);
	char *wkh = websafe_b64(keys[1].kh, 64), *hx = hex(keys[1].point, 65, 0);
	char *l = NULL, *junk_hex;
	unsigned K = (unsigned)strlen(kh), P = (unsigned)strlen(pk);
	unsigned W = (unsigned)strlen(wkh), G = (unsigned)strlen(good);
	uint8_t junk[65];

	(void)state;
	memset(junk, 0x11, sizeof(junk));
	junk[0] = 4;
	junk_hex = hex(junk, 65, 0);
#define E(err, ln, col, part, ...) do { \
		assert_true(asprintf(&l, __VA_ARGS__) > 0); \
		expect_err(l, err, ln, col, part); \
		free(l); \
	} while (0)
	E(-EBADMSG, 1, 6, "no ':'", "alice");
	E(-EBADMSG, 1, 1, "not valid for mynaguard", "al/ice:%s", good);
	E(-EBADMSG, 1, 1, "not valid for mynaguard", ":%s", good);
	E(-EBADMSG, 1, 7, "resident credential", "alice:*,%s,es256,"
	    "+presence", pk);
	E(-EBADMSG, 1, 1, "SSH format", "-----BEGIN OPENSSH PRIVATE KEY-----\n"
	    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ==\n"
	    "-----END OPENSSH PRIVATE KEY-----\n");
	E(-EBADMSG, 1, 10, "key handle is not valid base64", "alice:abc$,%s,"
	    "es256", pk);
	E(-EBADMSG, 1, 11, "key handle is not valid base64", "alice:abcde,%s,"
	    "es256", pk);
	E(-EBADMSG, 1, 12 + K, "public key is not valid base64",
	    "alice:%s,AAAA-AAA,es256", kh);
	E(-EBADMSG, 1, 9 + K + P, "unknown COSE type",
	    "alice:%s,%s,es384,+presence", kh, pk);
	E(-EBADMSG, 1, 24 + K + P, "unknown or repeated option",
	    "alice:%s,%s,es256,+presence+foo", kh, pk);
	E(-EBADMSG, 1, 19 + K + P, "unknown or repeated option",
	    "alice:%s,%s,es256,+pin+pin", kh, pk);
	E(-EBADMSG, 1, 15 + K + P, "unknown or repeated option",
	    "alice:%s,%s,es256,pin", kh, pk);
	E(-EBADMSG, 1, 7, "too many fields", "alice:%s,%s,es256,+pin,x", kh,
	    pk);
	E(-EBADMSG, 1, 7, "public key missing", "alice:%s", kh);
	E(-EBADMSG, 1, 8 + K, "empty field", "alice:%s,,es256", kh);
	E(-EBADMSG, 1, 8 + K, "64 bytes", "alice:%s,AAAA,es256", kh);
	E(-EBADMSG, 1, 8 + K, "32 bytes", "alice:%s,%s,eddsa", kh, pk);
	/* The old format. */
	E(-EBADMSG, 1, 8 + W, "not hex", "alice:%s,x%s", wkh, hx + 1);
	E(-EBADMSG, 1, 9, "key handle is not valid web-safe base64",
	    "alice:ab+c,%s", hx);
	E(-EBADMSG, 1, 8 + W, "65-byte", "alice:%s,%.128s", wkh, hx);
	E(-EBADMSG, 1, 8 + W, "not a point on P-256", "alice:%s,%s", wkh,
	    junk_hex);
	/* Bytes. */
	E(-EBADMSG, 2, 3, "control character U+0001", "alice:%s\nbo\x01"
	    "b:%s", good, good);
	E(-EBADMSG, 1, 3, "control character U+0001", "al\x01" "ice:%s",
	    good);
	/* The same credential twice. */
	E(-EEXIST, 1, 9 + G + K, "appears twice in the file",
	    "alice:%s:%s", good, good);
	E(-EEXIST, 2, 6 + K, "appears twice in the file", "alice:%s:%s\n"
	    "bob:%s", good, good2, good);
#undef E
	free(good);
	free(good2);
	free(kh);
	free(pk);
	free(wkh);
	free(hx);
	free(junk_hex);
}

static void
test_errors_elsewhere(void **state)
{
	char *good = new_entry(&keys[0], "+presence"), *t = NULL;
	struct pmod_creds *c = NULL;
	struct pmod_diag d;
	size_t len;

	(void)state;
	/* A NUL byte on line 2. */
	assert_true(asprintf(&t, "alice:%s\nbob:%s\n", good, good) > 0);
	len = strlen(t);
	t[strlen(good) + 7 + 4] = '\0';
	assert_int_equal(pmod_creds_new(&c), 0);
	assert_int_equal(pmod_u2f_parse(t, len, RP, c, &d), -EBADMSG);
	assert_int_equal(d.line, 2);
	assert_int_equal(d.col, 5);
	assert_non_null(strstr(d.msg, "NUL"));
	assert_int_equal(pmod_creds_count(c), 0);
	free(t);
	/* Already enrolled: the second import of the same file. */
	assert_true(asprintf(&t, "alice:%s\n", good) > 0);
	assert_int_equal(pmod_u2f_parse(t, strlen(t), RP, c, &d), 1);
	assert_int_equal(pmod_u2f_parse(t, strlen(t), RP, c, &d), -EEXIST);
	assert_non_null(strstr(d.msg, "already enrolled"));
	/* ... but for another relying party it is another credential. */
	assert_int_equal(pmod_u2f_parse(t, strlen(t), "pam://other", c, &d),
	    1);
	assert_int_equal(pmod_creds_count(c), 2);
	/* Bad arguments. */
	assert_int_equal(pmod_u2f_parse(t, strlen(t), "pam://a b", c, &d),
	    -EINVAL);
	assert_int_equal(pmod_u2f_parse(t, strlen(t), "", c, &d), -EINVAL);
	assert_int_equal(pmod_u2f_parse(t, strlen(t), NULL, c, &d), -EINVAL);
	assert_int_equal(pmod_u2f_parse(t, strlen(t), RP, NULL, &d), -EINVAL);
	assert_int_equal(pmod_u2f_parse("", 0, RP, c, NULL), 0);
	assert_int_equal(pmod_u2f_parse(NULL, 0, RP, c, NULL), 0);
	pmod_creds_free(c);
	free(t);
	free(good);
}

/* Imported credentials survive our own format unchanged. */
static void
test_import_roundtrip(void **state)
{
	char *e[4], *text = NULL;
	struct pmod_creds *c = NULL, *b = NULL;
	struct pmod_diag d;
	struct sbuf s;
	size_t i;

	(void)state;
	e[0] = new_entry(&keys[0], "+presence+verification");
	e[1] = new_entry(&keys[3], "");
	e[2] = new_entry(&keys[4], "+pin");
	e[3] = old_entry(&keys[5], 1);
	assert_true(asprintf(&text, "alice:%s:%s\nbob:%s:%s\n", e[0], e[1],
	    e[2], e[3]) > 0);
	assert_int_equal(import(text, &c, &d), 4);
	sbuf_init(&s, PMOD_CRED_FILE_MAX);
	assert_int_equal(pmod_creds_format(c, &s), 0);
	assert_int_equal(pmod_creds_parse(s.data, s.len, &b, &d), 0);
	assert_int_equal(pmod_creds_count(b), 4);
	check_cred(pmod_creds_at(b, 0), "alice", &keys[0], PMOD_OPT_PRESENCE |
	    PMOD_OPT_UV);
	check_cred(pmod_creds_at(b, 1), "alice", &keys[3], 0);
	check_cred(pmod_creds_at(b, 2), "bob", &keys[4], PMOD_OPT_PIN);
	check_cred(pmod_creds_at(b, 3), "bob", &keys[5], PMOD_OPT_PRESENCE);
	assert_non_null(strstr(s.data, " imported from pam_u2f\n"));
	sbuf_clear(&s);
	pmod_creds_free(b);
	pmod_creds_free(c);
	free(text);
	for (i = 0; i < 4; i++)
		free(e[i]);
}

static void
test_oom(void **state)
{
	char *e[3], *text = NULL;
	struct pmod_creds *c = NULL;
	size_t i;
	int r;

	(void)state;
	e[0] = new_entry(&keys[0], "+presence");
	e[1] = old_entry(&keys[1], 0);
	e[2] = new_entry(&keys[4], "+pin");
	assert_true(asprintf(&text, "alice:%s:%s\nbob:%s\nalice:%s\n", e[0],
	    e[1], e[2], e[0]) > 0);
	assert_int_equal(pmod_creds_new(&c), 0);
	for (i = 1;; i++) {
		oom_fail_at(i);
		r = pmod_u2f_parse(text, strlen(text), RP, c, NULL);
		if (!oom_triggered()) {
			oom_fail_at(0);
			assert_int_equal(r, 2);
			break;
		}
		oom_fail_at(0);
		assert_int_equal(r, -ENOMEM);
		assert_int_equal(pmod_creds_count(c), 0);
	}
	assert_true(i > 3);
	pmod_creds_free(c);
	free(text);
	for (i = 0; i < 3; i++)
		free(e[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_format),
		cmocka_unit_test(test_old_format),
		cmocka_unit_test(test_last_line_wins),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_errors_elsewhere),
		cmocka_unit_test(test_import_roundtrip),
		cmocka_unit_test(test_oom),
	};

	make_key(&keys[0], PMOD_ALG_ES256);
	make_key(&keys[1], PMOD_ALG_ES256);
	make_key(&keys[2], PMOD_ALG_ES256);
	make_key(&keys[3], PMOD_ALG_EDDSA);
	make_key(&keys[4], PMOD_ALG_RS256);
	make_key(&keys[5], PMOD_ALG_ES256);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
