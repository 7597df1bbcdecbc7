/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Signing and verifying bundles: ECDSA P-256 / SHA-256 (CRYPTREC
 * e-Government recommended), as the event records.  The signature is over
 * the exact bytes before the "signature" line, with no context prefix, so
 * an auditor can check a bundle with the openssl command line alone
 * (docs/policy-bundles.md).  Those bytes include the signer line, the
 * SHA-256 of the signing certificate: a bundle names its signer, and the
 * terminal compares that name with its pinned certificate before it even
 * looks at the signature.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mynaguard/common.h"
#include "mynaguard/policy.h"
#include "internal.h"

#define CERT_MAX 65536u

static bool
is_p256(EVP_PKEY *k)
{
	char group[32];
	size_t n = 0;

	if (k == NULL || !EVP_PKEY_is_a(k, "EC"))
		return false;
	if (EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof(group),
	    &n) != 1)
		return false;
	return strcmp(group, "prime256v1") == 0 ||
	    strcmp(group, "P-256") == 0;
}

/* One PEM certificate and nothing else that PEM would read. */
static int
read_pem_cert(const char *pem, size_t len, X509 **ret)
{
	BIO *bio;
	X509 *x, *extra;

	if (pem == NULL || len == 0 || len > CERT_MAX)
		return -EINVAL;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL)
		return -ENOMEM;
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	extra = x != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	ERR_clear_error();
	if (x == NULL || extra != NULL) {
		X509_free(x);
		X509_free(extra);
		return -EINVAL;
	}
	*ret = x;
	return 0;
}

/*
 * A policy-signing certificate: P-256; extendedKeyUsage present with
 * codeSigning and without serverAuth, clientAuth or anyExtendedKeyUsage;
 * keyUsage (when present) with digitalSignature.  This keeps the two worlds
 * apart: a terminal's TLS key (which lives on every terminal) can never
 * sign a policy, and the policy-signing certificate is refused by the
 * collector's and agents' TLS (they demand clientAuth/serverAuth).
 */
static int
check_x509(X509 *x, char hash[65], struct mg_bundle_error *e)
{
	EVP_PKEY *k = X509_get0_pubkey(x);
	uint32_t flags = X509_get_extension_flags(x), xku;
	unsigned char *der = NULL;
	int n, r;

	if (!is_p256(k))
		return bundle_fail(e, 0, -EINVAL, "the certificate's key is "
		    "not ECDSA P-256");
	xku = X509_get_extended_key_usage(x);
	if (!(flags & EXFLAG_XKUSAGE) || !(xku & XKU_CODE_SIGN) ||
	    (xku & (XKU_SSL_SERVER | XKU_SSL_CLIENT | XKU_ANYEKU)) != 0)
		return bundle_fail(e, 0, -EINVAL, "not a policy-signing "
		    "certificate: its extended key usage must be codeSigning "
		    "and not a TLS purpose (make one with tools/mkcerts.sh "
		    "policy-signer)");
	if ((flags & EXFLAG_KUSAGE) &&
	    !(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE))
		return bundle_fail(e, 0, -EINVAL, "the certificate's key usage "
		    "does not allow digitalSignature");
	n = i2d_X509(x, &der);
	if (n <= 0)
		return bundle_fail(e, 0, -ENOMEM, "cannot encode the "
		    "certificate");
	r = bundle_sha256_hex(der, (size_t)n, hash);
	OPENSSL_free(der);
	return r < 0 ? bundle_fail(e, 0, r, "SHA-256 failed") : 0;
}

int
mg_bundle_cert_check(const char *cert_pem, size_t cert_len,
    char ret_hash[65], struct mg_bundle_error *e)
{
	X509 *x = NULL;
	char hash[65];
	int r;

	if ((r = read_pem_cert(cert_pem, cert_len, &x)) < 0)
		return bundle_fail(e, 0, r, r == -ENOMEM ? "out of memory" :
		    "not one PEM certificate");
	r = check_x509(x, hash, e);
	X509_free(x);
	if (r == 0 && ret_hash != NULL)
		memcpy(ret_hash, hash, 65);
	return r;
}

int
mg_bundle_verify(const void *buf, size_t len, const char *cert_pem,
    size_t cert_len, struct mg_bundle *b, struct mg_bundle_error *e)
{
	struct mg_bundle tmp;
	EVP_MD_CTX *ctx = NULL;
	X509 *x = NULL;
	char pinned[65];
	int r;

	if (b == NULL)
		return bundle_fail(e, 0, -EINVAL, "no bundle");
	if ((r = read_pem_cert(cert_pem, cert_len, &x)) < 0) {
		bundle_fail(e, 0, r, r == -ENOMEM ? "out of memory" :
		    "the pinned certificate is not one PEM certificate");
		goto out;
	}
	if ((r = check_x509(x, pinned, e)) < 0 ||
	    (r = mg_bundle_parse(buf, len, &tmp, e)) < 0)
		goto out;
	/* Both are public, but a comparison that decides trust is
	 * constant-time by rule. */
	if (CRYPTO_memcmp(tmp.signer, pinned, 64) != 0) {
		r = bundle_fail(e, 5, -EKEYREJECTED, "signed by certificate "
		    "sha256 %s, this terminal trusts %s", tmp.signer, pinned);
		goto out;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL) {
		r = bundle_fail(e, 0, -ENOMEM, "out of memory");
		goto out;
	}
	if (EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL,
	    X509_get0_pubkey(x)) != 1 ||
	    EVP_DigestVerify(ctx, tmp.sig, tmp.sig_len, buf,
	    tmp.signed_len) != 1) {
		ERR_clear_error();
		r = bundle_fail(e, 0, -EKEYREJECTED, "the signature does not "
		    "verify with the pinned certificate: the bundle was "
		    "altered after signing");
		goto out;
	}
	*b = tmp;
	r = 0;
out:
	EVP_MD_CTX_free(ctx);
	X509_free(x);
	return r;
}
