/* SPDX-License-Identifier: BSD-2-Clause */
/* Judging an offered policy bundle (agent/offer.c): every refusal reason,
 * in the trust order, with bundles signed for real (mg_bundle_sign) and
 * forged ones (a valid signature over an invalid policy or credentials, a
 * signer line naming our certificate over another key's signature). */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mynaguard/common.h"
#include "offer.h"
#include "testkeys.h"

static char dir[] = "/tmp/mg-offer-XXXXXX";
static char key_a[512], cert_a[512], key_b[512], cert_b[512];
static char *pem_a;
static size_t pem_a_len;
static char hash_a[65];

static const char policy[] = "[devices]\nallow id 1d6b:0002\n"
    "default block\n";
static const char creds[] = "mynaguard-credentials 1\n";

static int
setup(void **state)
{
	struct mg_bundle_error e;

	(void)state;
	if (mkdtemp(dir) == NULL ||
	    testkeys_make_signer(dir, "a", key_a, cert_a) < 0 ||
	    testkeys_make_signer(dir, "b", key_b, cert_b) < 0 ||
	    file_read_all(cert_a, 65536, 0, &pem_a, &pem_a_len) < 0 ||
	    mg_bundle_cert_check(pem_a, pem_a_len, hash_a, &e) < 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(key_a);
	unlink(cert_a);
	unlink(key_b);
	unlink(cert_b);
	rmdir(dir);
	free(pem_a);
	return 0;
}

static char *
sign(const char *key, const char *cert, const char *group, uint64_t version,
    const char *cred, size_t *len)
{
	struct mg_bundle_in in = {
		.group = group, .version = version, .created = 1795977000,
		.policy = policy, .policy_len = strlen(policy),
		.credentials = cred,
		.credentials_len = cred != NULL ? strlen(cred) : 0,
	};
	struct mg_bundle_error e;
	char *out = NULL;

	assert_int_equal(mg_bundle_sign(&in, key, cert, &out, len, &e), 0);
	return out;
}

static void
put_part(struct sbuf *b, const char *name, const char *text)
{
	char sha[65];

	offer_sha256(text, strlen(text), sha);
	assert_int_equal(sbuf_printf(b, "part %s %zu %s\n%s\n", name,
	    strlen(text), sha, text), 0);
}

/* A bundle over any text, its signer line naming signer_hex, signed with
 * the key at key_path: what mg_bundle_sign() refuses to make. */
static char *
forge(const char *key_path, const char *signer_hex, const char *pol,
    const char *cred, size_t *len)
{
	unsigned char sig[80], b64[120];
	size_t sig_len = sizeof(sig);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY *k;
	struct sbuf b;
	char *out = NULL;
	FILE *f = fopen(key_path, "re");

	assert_non_null(f);
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(k);
	sbuf_init(&b, 1u << 20);
	assert_int_equal(sbuf_printf(&b, "mynaguard-policy-bundle 1\ngroup "
	    "kaikei\nversion 5\ncreated 2026-11-29T00:00:00Z\nsigner %s\n",
	    signer_hex), 0);
	put_part(&b, "policy", pol);
	if (cred != NULL)
		put_part(&b, "credentials", cred);
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k),
	    1);
	assert_int_equal(EVP_DigestSign(ctx, sig, &sig_len,
	    (const unsigned char *)b.data, b.len), 1);
	EVP_EncodeBlock(b64, sig, (int)sig_len);
	assert_int_equal(sbuf_printf(&b, "signature %s\n", b64), 0);
	assert_int_equal(sbuf_steal(&b, &out, len), 0);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(k);
	return out;
}

static enum offer_reason
judge(const char *buf, size_t len, const char *group, uint64_t applied,
    const char *applied_sha, struct offer *o)
{
	offer_judge(buf, len, pem_a, pem_a_len, group, applied, applied_sha,
	    o);
	return o->reason;
}

static void
test_accepts_newer(void **state)
{
	size_t len;
	char *b = sign(key_a, cert_a, "kaikei", 2, creds, &len);
	struct offer o;

	(void)state;
	assert_int_equal(judge(b, len, "kaikei", 1, "x", &o), OFFER_OK);
	assert_non_null(o.policy);
	assert_true(o.parsed);
	assert_int_equal(o.b.version, 2);
	assert_non_null(o.b.credentials);
	offer_clear(&o);
	assert_int_equal(judge(b, len, "kaikei", 0, "", &o), OFFER_OK);
	offer_clear(&o);
	free(b);
}

static void
test_versions(void **state)
{
	size_t len, len1;
	char *b = sign(key_a, cert_a, "kaikei", 2, NULL, &len);
	char *b1 = sign(key_a, cert_a, "kaikei", 2, creds, &len1);
	char sha[65];
	struct offer o;

	(void)state;
	offer_sha256(b, len, sha);
	assert_int_equal(judge(b, len, "kaikei", 2, sha, &o), OFFER_SAME);
	assert_null(o.policy);
	/* The same version from another bundle is suspicious, not silent. */
	assert_int_equal(judge(b1, len1, "kaikei", 2, sha, &o),
	    OFFER_ROLLBACK);
	assert_non_null(strstr(o.msg, "another bundle"));
	assert_int_equal(judge(b, len, "kaikei", 3, sha, &o), OFFER_ROLLBACK);
	assert_non_null(strstr(o.msg, "version 2 is not newer than version 3"));
	assert_string_equal(offer_reason_word(o.reason), "rollback");
	free(b);
	free(b1);
}

static void
test_group(void **state)
{
	size_t len;
	char *b = sign(key_a, cert_a, "zeimu", 9, NULL, &len);
	struct offer o;

	(void)state;
	assert_int_equal(judge(b, len, "kaikei", 1, "", &o), OFFER_GROUP);
	assert_string_equal(o.b.group, "zeimu");
	assert_null(o.policy);
	free(b);
}

static void
test_signer_and_signature(void **state)
{
	size_t len;
	char *b = sign(key_b, cert_b, "kaikei", 9, NULL, &len);
	char *f;
	struct offer o;

	(void)state;
	assert_int_equal(judge(b, len, "kaikei", 1, "", &o), OFFER_SIGNER);
	assert_true(o.parsed);	/* what it claims is reported */
	assert_int_equal(o.b.version, 9);
	assert_string_equal(offer_reason_word(o.reason), "signer");
	free(b);
	/* Our certificate named, another key's signature. */
	f = forge(key_b, hash_a, policy, NULL, &len);
	assert_int_equal(judge(f, len, "kaikei", 1, "", &o), OFFER_SIGNATURE);
	free(f);
}

static void
test_malformed(void **state)
{
	size_t len, n;
	char *b = sign(key_a, cert_a, "kaikei", 2, creds, &len);
	struct offer o;

	(void)state;
	/* Every truncation, including the empty bundle. */
	for (n = 0; n < len; n++) {
		enum offer_reason r = judge(b, n, "kaikei", 1, "", &o);

		assert_true(r == OFFER_MALFORMED || r == OFFER_SIGNATURE);
		assert_null(o.policy);
	}
	assert_int_equal(judge("junk\n", 5, "kaikei", 1, "", &o),
	    OFFER_MALFORMED);
	assert_non_null(strstr(o.msg, "line 1: "));
	assert_int_equal(judge(NULL, 0, "kaikei", 1, "", &o),
	    OFFER_TOO_LARGE);
	free(b);
}

static void
test_invalid_parts(void **state)
{
	size_t len;
	char *f;
	struct offer o;

	(void)state;
	f = forge(key_a, hash_a, "[devices]\nallow nonsense\n", NULL, &len);
	assert_int_equal(judge(f, len, "kaikei", 1, "", &o),
	    OFFER_INVALID_POLICY);
	assert_non_null(strstr(o.msg, "policy line "));
	assert_null(o.policy);
	free(f);
	/* Invalid policy and a stale version: the version is judged first. */
	f = forge(key_a, hash_a, "[devices]\nallow nonsense\n", NULL, &len);
	assert_int_equal(judge(f, len, "kaikei", 5, "", &o), OFFER_ROLLBACK);
	free(f);
	f = forge(key_a, hash_a, policy, "mynaguard-credentials 1\nalice x\n",
	    &len);
	assert_int_equal(judge(f, len, "kaikei", 1, "", &o),
	    OFFER_INVALID_CREDENTIALS);
	assert_non_null(strstr(o.msg, "credentials line 2:"));
	assert_string_equal(offer_reason_word(o.reason),
	    "invalid-credentials");
	free(f);
	f = forge(key_a, hash_a, policy, creds, &len);
	assert_int_equal(judge(f, len, "kaikei", 1, "", &o), OFFER_OK);
	offer_clear(&o);
	free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_newer),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_group),
		cmocka_unit_test(test_signer_and_signature),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_invalid_parts),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
