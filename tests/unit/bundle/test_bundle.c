/* SPDX-License-Identifier: BSD-2-Clause */
/* Policy bundles: sign, parse and verify, and every way a bundle can be
 * truncated, altered, re-signed, mislabelled or oversized. */
#include <errno.h>
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

#include "mynaguard/bundle.h"
#include "mynaguard/common.h"
#include "mynaguard/policy.h"
#include "oom.h"
#include "testkeys.h"

static char dir[] = "/tmp/mg-bundle-XXXXXX";
static char key_a[512], cert_a[512], key_b[512], cert_b[512];
static char key_tls[512], cert_tls[512], key_r[512], cert_r[512];
static char *pem_a, *pem_b, *pem_t;
static size_t pem_a_len, pem_b_len, pem_t_len;
static EVP_PKEY *pkey_a;

static const char policy[] = "[devices]\nallow id 1d6b:0002\n"
    "default block\n";
static const char creds[] = "mynaguard-credentials 1\n";

static int
setup(void **state)
{
	FILE *f;

	(void)state;
	if (mkdtemp(dir) == NULL ||
	    testkeys_make_signer(dir, "a", key_a, cert_a) < 0 ||
	    testkeys_make_signer(dir, "b", key_b, cert_b) < 0 ||
	    testkeys_make(dir, "t", "zeimu-pc01", key_tls, cert_tls) < 0 ||
	    testkeys_make_rsa(dir, "r", "rsa", key_r, cert_r) < 0 ||
	    file_read_all(cert_a, 65536, 0, &pem_a, &pem_a_len) < 0 ||
	    file_read_all(cert_b, 65536, 0, &pem_b, &pem_b_len) < 0 ||
	    file_read_all(cert_tls, 65536, 0, &pem_t, &pem_t_len) < 0)
		return -1;
	if ((f = fopen(key_a, "re")) == NULL)
		return -1;
	pkey_a = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	return pkey_a != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	static const char *const names[] = { "a", "b", "t", "r" };
	char path[600];
	size_t i;

	(void)state;
	for (i = 0; i < MG_ELEMENTSOF(names); i++) {
		snprintf(path, sizeof(path), "%s/%s.key", dir, names[i]);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s.pem", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
	free(pem_a);
	free(pem_b);
	free(pem_t);
	EVP_PKEY_free(pkey_a);
	return 0;
}

static int
sign(const char *key, const char *cert, const char *group, uint64_t version,
    const char *pol, const char *cred, char **out, size_t *out_len,
    struct mg_bundle_error *e)
{
	struct mg_bundle_in in = {
		.group = group, .version = version, .created = 1795977000,
		.policy = pol, .policy_len = strlen(pol), .credentials = cred,
		.credentials_len = cred != NULL ? strlen(cred) : 0,
	};

	memset(e, 0, sizeof(*e));
	return mg_bundle_sign(&in, key, cert, out, out_len, e);
}

/* The small bundle every alteration test starts from, signed by a. */
static void
small(char **out, size_t *len)
{
	struct mg_bundle_error e;

	assert_int_equal(sign(key_a, cert_a, "zeimu", 7, policy, creds, out,
	    len, &e), 0);
}

static int
verify_a(const void *buf, size_t len, struct mg_bundle_error *e)
{
	struct mg_bundle b;

	if (e != NULL)
		memset(e, 0, sizeof(*e));
	return mg_bundle_verify(buf, len, pem_a, pem_a_len, &b, e);
}

static void
hex_sha(const char *s, size_t n, char out[65])
{
	unsigned char md[32];
	size_t i;

	assert_int_equal(EVP_Digest(s, n, md, NULL, EVP_sha256(), NULL), 1);
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Sign whatever is in b with key a and append the signature line: lets a
 * test make bundles mg_bundle_sign() would refuse to make. */
static void
append_sig(struct sbuf *b)
{
	unsigned char sig[80], b64[120];
	size_t n = sizeof(sig);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	assert_non_null(ctx);
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL,
	    pkey_a), 1);
	assert_int_equal(EVP_DigestSign(ctx, sig, &n,
	    (const unsigned char *)b->data, b->len), 1);
	EVP_MD_CTX_free(ctx);
	EVP_EncodeBlock(b64, sig, (int)n);
	assert_int_equal(sbuf_printf(b, "signature %s\n", b64), 0);
}

static void
head_lines(struct sbuf *b, const char *group, const char *version,
    const char *signer)
{
	char hash[65];

	if (signer == NULL) {
		assert_int_equal(mg_bundle_cert_check(pem_a, pem_a_len, hash,
		    NULL), 0);
		signer = hash;
	}
	assert_int_equal(sbuf_printf(b, "mynaguard-policy-bundle 1\n"
	    "group %s\nversion %s\ncreated 2026-11-29T10:00:00Z\n"
	    "signer %s\n", group, version, signer), 0);
}

static void
part(struct sbuf *b, const char *name, const char *data)
{
	char sha[65];

	hex_sha(data, strlen(data), sha);
	assert_int_equal(sbuf_printf(b, "part %s %zu %s\n%s\n", name,
	    strlen(data), sha, data), 0);
}

/* Parse text; expect -EBADMSG at line with msg containing what. */
static void
refused(const char *text, size_t len, unsigned line, const char *what)
{
	struct mg_bundle_error e;
	struct mg_bundle b;

	memset(&e, 0, sizeof(e));
	assert_int_equal(mg_bundle_parse(text, len, &b, &e), -EBADMSG);
	if (strstr(e.msg, what) == NULL || e.line != line)
		fail_msg("line %u \"%s\", expected line %u \"%s\"", e.line,
		    e.msg, line, what);
}

static void
test_roundtrip(void **state)
{
	struct mg_bundle_error e;
	struct mg_bundle b, v;
	char *out = NULL, hash[65];
	size_t len = 0;

	(void)state;
	small(&out, &len);
	assert_int_equal(mg_bundle_parse(out, len, &b, &e), 0);
	assert_int_equal(mg_bundle_verify(out, len, pem_a, pem_a_len, &v, &e),
	    0);
	assert_memory_equal(&b, &v, sizeof(b));
	assert_string_equal(b.group, "zeimu");
	assert_int_equal(b.version, 7);
	assert_int_equal(b.created, 1795977000);
	assert_int_equal(mg_bundle_cert_check(pem_a, pem_a_len, hash, &e), 0);
	assert_string_equal(b.signer, hash);
	assert_int_equal(b.policy_len, strlen(policy));
	assert_memory_equal(b.policy, policy, b.policy_len);
	assert_true(b.policy >= out && b.policy < out + len);
	hex_sha(policy, strlen(policy), hash);
	assert_string_equal(b.policy_sha256, hash);
	assert_int_equal(b.credentials_len, strlen(creds));
	assert_memory_equal(b.credentials, creds, b.credentials_len);
	assert_memory_equal(out, "mynaguard-policy-bundle 1\ngroup zeimu\n"
	    "version 7\ncreated 2026-11-29T18:30:00Z\nsigner ", 80);
	free(out);

	/* Without credentials; an empty policy is a valid one. */
	assert_int_equal(sign(key_a, cert_a, "a", 1, "", NULL, &out, &len, &e),
	    0);
	assert_int_equal(verify_a(out, len, &e), 0);
	assert_int_equal(mg_bundle_parse(out, len, &b, &e), 0);
	assert_null(b.credentials);
	assert_int_equal(b.credentials_len, 0);
	assert_string_equal(b.credentials_sha256, "");
	assert_int_equal(b.policy_len, 0);
	free(out);
}

static void
test_wrong_key(void **state)
{
	struct mg_bundle_error e;
	struct mg_bundle b;
	char *out = NULL, ha[65], hb[65];
	size_t len = 0;

	(void)state;
	assert_int_equal(sign(key_b, cert_b, "zeimu", 8, policy, NULL, &out,
	    &len, &e), 0);
	assert_int_equal(mg_bundle_verify(out, len, pem_b, pem_b_len, &b, &e),
	    0);
	assert_int_equal(verify_a(out, len, &e), -EKEYREJECTED);
	assert_int_equal(mg_bundle_cert_check(pem_a, pem_a_len, ha, NULL), 0);
	assert_int_equal(mg_bundle_cert_check(pem_b, pem_b_len, hb, NULL), 0);
	assert_non_null(strstr(e.msg, "signed by certificate sha256"));
	assert_non_null(strstr(e.msg, ha));
	assert_non_null(strstr(e.msg, hb));
	assert_int_equal(e.line, 5);
	free(out);

	/* Key b with certificate a: refused at signing. */
	assert_int_equal(sign(key_b, cert_a, "zeimu", 8, policy, NULL, &out,
	    &len, &e), -EKEYREJECTED);
	assert_non_null(strstr(e.msg, "not the private key"));
}

/* Signed by b, but the signer line rewritten to name a: the signer line
 * is signed, so the signature no longer verifies. */
static void
test_relabelled_signer(void **state)
{
	struct mg_bundle_error e;
	char *out = NULL, ha[65], *p;
	size_t len = 0;

	(void)state;
	assert_int_equal(sign(key_b, cert_b, "zeimu", 8, policy, NULL, &out,
	    &len, &e), 0);
	assert_int_equal(mg_bundle_cert_check(pem_a, pem_a_len, ha, NULL), 0);
	p = strstr(out, "\nsigner ");
	assert_non_null(p);
	memcpy(p + 8, ha, 64);
	assert_int_equal(verify_a(out, len, &e), -EKEYREJECTED);
	assert_non_null(strstr(e.msg, "does not verify"));
	free(out);
}

static void
test_flip_every_byte(void **state)
{
	struct mg_bundle_error e;
	char *out = NULL;
	size_t len = 0, i;
	int r;

	(void)state;
	small(&out, &len);
	for (i = 0; i < len; i++) {
		out[i] ^= 0x01;
		r = verify_a(out, len, &e);
		if (r != -EBADMSG && r != -EKEYREJECTED)
			fail_msg("flipped byte %zu: %d", i, r);
		assert_true(e.msg[0] != '\0');
		out[i] ^= 0x01;
	}
	assert_int_equal(verify_a(out, len, &e), 0);
	free(out);
}

static void
test_truncated_every_length(void **state)
{
	struct mg_bundle_error e;
	struct mg_bundle b;
	char *out = NULL;
	size_t len = 0, n;

	(void)state;
	small(&out, &len);
	for (n = 0; n < len; n++) {
		memset(&e, 0, sizeof(e));
		assert_int_equal(mg_bundle_parse(out, n, &b, &e), -EBADMSG);
		assert_true(e.msg[0] != '\0');
	}
	refused(out, len - 1, 14, "ends inside this line");
	free(out);
}

static void
test_trailing_and_missing_signature(void **state)
{
	struct mg_bundle_error e;
	char *out = NULL, *sig;
	size_t len = 0;
	struct sbuf b;

	(void)state;
	small(&out, &len);
	sbuf_init(&b, MG_BUNDLE_MAX + 16);
	assert_int_equal(sbuf_put(&b, out, len), 0);
	assert_int_equal(sbuf_puts(&b, "x"), 0);
	refused(b.data, b.len, 14, "1 bytes after the signature line");
	assert_int_equal(sbuf_puts(&b, "\n"), 0);
	refused(b.data, b.len, 14, "2 bytes after the signature line");
	sbuf_clear(&b);

	sig = strstr(out, "signature ");
	assert_non_null(sig);
	refused(out, (size_t)(sig - out), 14, "ends before its \"signature\"");
	/* Only one base64 spelling of the signature. */
	memcpy(sig + 10, "!", 1);
	refused(out, len, 14, "base64");
	sbuf_clear(&b);
	assert_int_equal(verify_a(out, len, &e), -EBADMSG);
	free(out);
}

static void
test_headers(void **state)
{
	static const struct {
		const char *text;
		unsigned line;
		const char *what;
	} cases[] = {
		{ "", 1, "ends before" },
		{ "mynaguard-policy-bundle 2\n", 1, "format 2 is not supported" },
		{ "MZ\x90\n", 1, "not printable" },
		{ "hello world\n", 1, "not a mynaguard policy bundle" },
		{ "mynaguard-policy-bundle 1\r\n", 1, "not printable" },
		{ "mynaguard-policy-bundle 1\ngroup a\ngroup b\n", 3,
		  "repeated \"group\"" },
		{ "mynaguard-policy-bundle 1\nversion 1\n", 2,
		  "\"version\" line where \"group\" was expected" },
		{ "mynaguard-policy-bundle 1\ncolour blue\n", 2,
		  "unknown line \"colour\"" },
		{ "mynaguard-policy-bundle 1\ngroup a\npart policy 0 x\n", 3,
		  "missing \"version\"" },
		{ "mynaguard-policy-bundle 1\ngroup  a\n", 2, "exactly one" },
		{ "mynaguard-policy-bundle 1\ngroup a \n", 2, "exactly one" },
		{ "mynaguard-policy-bundle 1\ngroup a b\n", 2, "one value" },
		{ "mynaguard-policy-bundle 1\ngroup\n", 2, "one value" },
		{ "mynaguard-policy-bundle 1\ngroup a\0\n", 2, "not printable" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < MG_ELEMENTSOF(cases); i++)
		refused(cases[i].text, strlen(cases[i].text) +
		    (i == MG_ELEMENTSOF(cases) - 1 ? 2 : 0), cases[i].line,
		    cases[i].what);
}

static void
test_values(void **state)
{
	static const struct {
		const char *group, *version;
		unsigned line;
		const char *what;
	} cases[] = {
		{ "A", "1", 2, "group must be" },
		{ ".hidden", "1", 2, "group must be" },
		{ "-x", "1", 2, "group must be" },
		{ "a/b", "1", 2, "group must be" },
		{ "zeimu\xc3\xa4", "1", 2, "not printable" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaa", "1", 2, "group must be" },
		{ "a", "0", 3, "version must be a number from 1 to" },
		{ "a", "01", 3, "version must be" },
		{ "a", "-1", 3, "version must be" },
		{ "a", "9223372036854775808", 3, "version must be" },
		{ "a", "18446744073709551616", 3, "version must be" },
		{ "a", "1e3", 3, "version must be" },
	};
	struct sbuf b;
	size_t i;

	(void)state;
	for (i = 0; i < MG_ELEMENTSOF(cases); i++) {
		sbuf_init(&b, 4096);
		head_lines(&b, cases[i].group, cases[i].version, NULL);
		part(&b, "policy", policy);
		append_sig(&b);
		refused(b.data, b.len, cases[i].line, cases[i].what);
		sbuf_clear(&b);
	}
	/* 64 characters is the longest group; the largest version. */
	sbuf_init(&b, 4096);
	head_lines(&b, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "9223372036854775807", NULL);
	part(&b, "policy", policy);
	append_sig(&b);
	assert_int_equal(verify_a(b.data, b.len, NULL), 0);
	sbuf_clear(&b);
}

static void
test_created_and_signer(void **state)
{
	static const char *const times[] = { "2026-02-29T00:00:00Z",
	    "2026-11-29 10:00:00Z", "2026-11-29T10:00:00z",
	    "2026-11-29T24:00:00Z", "2026-11-29T10:00:60Z",
	    "1969-12-31T23:59:59Z", "2026-11-29T10:00:00+09:00",
	    "2026-13-01T00:00:00Z" };
	struct sbuf b;
	size_t i;

	(void)state;
	for (i = 0; i < MG_ELEMENTSOF(times); i++) {
		sbuf_init(&b, 4096);
		assert_int_equal(sbuf_printf(&b, "mynaguard-policy-bundle 1\n"
		    "group a\nversion 1\ncreated %s\n", times[i]), 0);
		refused(b.data, b.len, 4, i == 1 ? "one value" : "created");
		sbuf_clear(&b);
	}
	sbuf_init(&b, 4096);
	head_lines(&b, "a", "1", "ABCDEF0123456789ABCDEF0123456789ABCDEF01"
	    "23456789ABCDEF0123456789");
	refused(b.data, b.len, 5, "signer must be 64 lower-case hex");
	sbuf_clear(&b);
}

static void
test_parts(void **state)
{
	char sha[65];
	struct sbuf b;

	(void)state;
	hex_sha(policy, strlen(policy), sha);
	/* Length one too long, one too short, hash of other bytes. */
	sbuf_init(&b, 4096);
	head_lines(&b, "a", "1", NULL);
	assert_int_equal(sbuf_printf(&b, "part policy %zu %s\n%s\n",
	    strlen(policy) + 1, sha, policy), 0);
	append_sig(&b);
	refused(b.data, b.len, 6, "no newline after its");
	sbuf_clear(&b);
	sbuf_init(&b, 4096);
	head_lines(&b, "a", "1", NULL);
	assert_int_equal(sbuf_printf(&b, "part policy %zu %s\n%s\n",
	    strlen(policy) - 1, sha, policy), 0);
	append_sig(&b);
	refused(b.data, b.len, 6, "SHA-256 mismatch");
	sbuf_clear(&b);
	/* Parts out of order, repeated, unknown; a header after them. */
	sbuf_init(&b, 4096);
	head_lines(&b, "a", "1", NULL);
	part(&b, "credentials", creds);
	refused(b.data, b.len, 6, "part credentials where part policy");
	sbuf_clear(&b);
	sbuf_init(&b, 4096);
	head_lines(&b, "a", "1", NULL);
	part(&b, "policy", policy);
	part(&b, "policy", policy);
	refused(b.data, b.len, 11, "part policy where part credentials");
	sbuf_clear(&b);
	sbuf_init(&b, 4096);
	head_lines(&b, "a", "1", NULL);
	part(&b, "policy", policy);
	part(&b, "credentials", creds);
	part(&b, "credentials", creds);
	refused(b.data, b.len, 14, "a third part");
	sbuf_clear(&b);
	sbuf_init(&b, 4096);
	head_lines(&b, "a", "1", NULL);
	part(&b, "rules", policy);
	refused(b.data, b.len, 6, "unknown part \"rules\"");
	sbuf_clear(&b);
	sbuf_init(&b, 4096);
	head_lines(&b, "a", "1", NULL);
	part(&b, "policy", policy);
	assert_int_equal(sbuf_puts(&b, "group b\n"), 0);
	refused(b.data, b.len, 11, "repeated \"group\"");
	sbuf_clear(&b);
	sbuf_init(&b, 4096);
	head_lines(&b, "a", "1", NULL);
	append_sig(&b);
	refused(b.data, b.len, 6, "missing \"part policy\"");
	sbuf_clear(&b);
	/* A NUL inside a part: text only. */
	sbuf_init(&b, 4096);
	head_lines(&b, "a", "1", NULL);
	hex_sha("a\0b", 3, sha);
	assert_int_equal(sbuf_printf(&b, "part policy 3 %s\n", sha), 0);
	assert_int_equal(sbuf_put(&b, "a\0b\n", 4), 0);
	append_sig(&b);
	refused(b.data, b.len, 6, "byte 2 is not UTF-8 text");
	sbuf_clear(&b);
}

static void
test_oversize(void **state)
{
	struct mg_bundle_error e;
	struct mg_bundle b;
	char *big, *out = NULL;
	size_t len = 0;
	struct sbuf s;

	(void)state;
	big = calloc(1, MG_BUNDLE_MAX + 2);
	assert_non_null(big);
	memset(&e, 0, sizeof(e));
	assert_int_equal(mg_bundle_parse(big, MG_BUNDLE_MAX + 1, &b, &e),
	    -EBADMSG);
	assert_int_equal(e.line, 0);
	assert_non_null(strstr(e.msg, "more than the limit"));
	/* A policy part over its own limit is refused from its line. */
	sbuf_init(&s, 4096);
	head_lines(&s, "a", "1", NULL);
	assert_int_equal(sbuf_printf(&s, "part policy %u %064d\n",
	    MG_BUNDLE_POLICY_MAX + 1, 0), 0);
	refused(s.data, s.len, 6, "more than the limit of 1048576");
	sbuf_clear(&s);
	/* And sign refuses it. */
	memset(big, 'a', MG_BUNDLE_POLICY_MAX + 1);
	big[MG_BUNDLE_POLICY_MAX + 1] = '\0';
	assert_int_equal(sign(key_a, cert_a, "a", 1, big, NULL, &out, &len,
	    &e), -EINVAL);
	free(big);
}

/* A correct signature over a policy the checker refuses: the bundle
 * verifies (the agent must still run pol_policy_parse()), and
 * mg_bundle_sign() would never have made it. */
static void
test_signed_invalid_policy(void **state)
{
	static const char bad[] = "[policy]\nversion = x\n";
	struct mg_bundle_error e;
	struct mg_bundle b;
	struct pol_policy *p = NULL;
	char *out = NULL;
	size_t len = 0;
	struct sbuf s;

	(void)state;
	sbuf_init(&s, 4096);
	head_lines(&s, "a", "1", NULL);
	part(&s, "policy", bad);
	append_sig(&s);
	memset(&e, 0, sizeof(e));
	assert_int_equal(mg_bundle_verify(s.data, s.len, pem_a, pem_a_len, &b,
	    &e), 0);
	assert_int_equal(pol_policy_parse(b.policy, b.policy_len, NULL, &p),
	    -EBADMSG);
	sbuf_clear(&s);
	assert_int_equal(sign(key_a, cert_a, "a", 1, bad, NULL, &out, &len,
	    &e), -EINVAL);
	if (strstr(e.msg, "policy line 2:") == NULL ||
	    strstr(e.msg, "(2 errors in all)") == NULL)
		fail_msg("%s", e.msg);
	assert_null(out);
}

static void
test_certificates(void **state)
{
	static const char junk[] = "-----BEGIN CERTIFICATE-----\nAAAA\n"
	    "-----END CERTIFICATE-----\n";
	struct mg_bundle_error e;
	struct mg_bundle b;
	char *out = NULL, *two;
	size_t len = 0;

	(void)state;
	small(&out, &len);
	/* A TLS certificate (no codeSigning) is no pin, and cannot sign. */
	assert_int_equal(mg_bundle_verify(out, len, pem_t, pem_t_len, &b, &e),
	    -EINVAL);
	assert_non_null(strstr(e.msg, "not a policy-signing certificate"));
	assert_int_equal(mg_bundle_verify(out, len, junk, sizeof(junk) - 1,
	    &b, &e), -EINVAL);
	assert_int_equal(mg_bundle_verify(out, len, "", 0, &b, &e), -EINVAL);
	two = malloc(pem_a_len + pem_b_len);
	assert_non_null(two);
	memcpy(two, pem_a, pem_a_len);
	memcpy(two + pem_a_len, pem_b, pem_b_len);
	assert_int_equal(mg_bundle_verify(out, len, two, pem_a_len +
	    pem_b_len, &b, &e), -EINVAL);
	free(two);
	free(out);
	out = NULL;
	assert_int_equal(sign(key_tls, cert_tls, "a", 1, policy, NULL, &out, &len,
	    &e), -EKEYREJECTED);
	assert_int_equal(sign(key_r, cert_r, "a", 1, policy, NULL, &out, &len,
	    &e), -EKEYREJECTED);
	assert_int_equal(sign("/nonexistent", cert_a, "a", 1, policy, NULL,
	    &out, &len, &e), -ENOENT);
	assert_int_equal(sign(key_a, cert_a, "Bad", 1, policy, NULL, &out,
	    &len, &e), -EINVAL);
	assert_int_equal(sign(key_a, cert_a, "a", 0, policy, NULL, &out, &len,
	    &e), -EINVAL);
	assert_null(out);
}

static void
test_oom(void **state)
{
	struct mg_bundle_error e;
	struct mg_bundle b;
	char *out = NULL;
	size_t len = 0, n;
	int r;

	(void)state;
	for (n = 1;; n++) {
		oom_fail_at(n);
		r = sign(key_a, cert_a, "zeimu", 7, policy, creds, &out, &len,
		    &e);
		oom_fail_at(0);
		if (r == 0 && !oom_triggered())
			break;
		if (r == 0) {
			free(out);
			out = NULL;
		}
		assert_true(n < 100000);
	}
	for (n = 1;; n++) {
		oom_fail_at(n);
		r = mg_bundle_verify(out, len, pem_a, pem_a_len, &b, &e);
		oom_fail_at(0);
		if (!oom_triggered()) {
			assert_int_equal(r, 0);
			break;
		}
		assert_true(r == 0 || r == -ENOMEM || r == -EINVAL ||
		    r == -EKEYREJECTED);
	}
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_relabelled_signer),
		cmocka_unit_test(test_flip_every_byte),
		cmocka_unit_test(test_truncated_every_length),
		cmocka_unit_test(test_trailing_and_missing_signature),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_created_and_signer),
		cmocka_unit_test(test_parts),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_signed_invalid_policy),
		cmocka_unit_test(test_certificates),
		cmocka_unit_test(test_oom),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
