/* SPDX-License-Identifier: BSD-2-Clause */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>

#include "testkeys.h"

static int
write_pem(const char *path, EVP_PKEY *k, X509 *x)
{
	FILE *f = fopen(path, "we");
	int ok;

	if (f == NULL)
		return -1;
	ok = k != NULL ? PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) :
	    PEM_write_X509(f, x);
	if (fclose(f) != 0)
		ok = 0;
	return ok == 1 ? 0 : -1;
}

static int
make(EVP_PKEY *k, const char *dir, const char *name, const char *cn,
    char *key_path, char *cert_path)
{
	X509 *x = X509_new();
	X509_NAME *n;
	int r = -1;

	if (k == NULL || x == NULL)
		goto out;
	n = X509_get_subject_name(x);
	if (X509_set_version(x, 2) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), 1) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400) == NULL ||
	    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, n) != 1 || X509_set_pubkey(x, k) != 1 ||
	    X509_sign(x, k, EVP_sha256()) == 0)
		goto out;
	if (snprintf(key_path, 512, "%s/%s.key", dir, name) >= 512 ||
	    snprintf(cert_path, 512, "%s/%s.pem", dir, name) >= 512)
		goto out;
	if (write_pem(key_path, k, NULL) < 0 ||
	    write_pem(cert_path, NULL, x) < 0)
		goto out;
	r = 0;
out:
	X509_free(x);
	EVP_PKEY_free(k);
	return r;
}

int
testkeys_make(const char *dir, const char *name, const char *cn,
    char *key_path, char *cert_path)
{
	return make(EVP_EC_gen("P-256"), dir, name, cn, key_path, cert_path);
}

int
testkeys_make_rsa(const char *dir, const char *name, const char *cn,
    char *key_path, char *cert_path)
{
	return make(EVP_RSA_gen(2048), dir, name, cn, key_path, cert_path);
}

/* See testkeys.h. */
int
testkeys_make_signer(const char *dir, const char *name, char *kpath,
    char *cpath)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ku = NULL, *eku = NULL;
	X509_NAME *n;
	FILE *f;
	int r = -1;

	if (k == NULL || x == NULL)
		goto out;
	n = X509_get_subject_name(x);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ku = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage,
	    "critical,digitalSignature");
	eku = X509V3_EXT_conf_nid(NULL, &ctx, NID_ext_key_usage,
	    "critical,codeSigning");
	if (ku == NULL || eku == NULL || X509_set_version(x, 2) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), 7) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400) == NULL ||
	    X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_UTF8,
	    (const unsigned char *)"policy-signer", -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)name, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, n) != 1 || X509_set_pubkey(x, k) != 1 ||
	    X509_add_ext(x, ku, -1) != 1 || X509_add_ext(x, eku, -1) != 1 ||
	    X509_sign(x, k, EVP_sha256()) == 0)
		goto out;
	snprintf(kpath, 512, "%s/%s.key", dir, name);
	snprintf(cpath, 512, "%s/%s.pem", dir, name);
	if ((f = fopen(kpath, "we")) == NULL)
		goto out;
	PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	if ((f = fopen(cpath, "we")) == NULL)
		goto out;
	PEM_write_X509(f, x);
	fclose(f);
	r = 0;
out:
	X509_EXTENSION_free(ku);
	X509_EXTENSION_free(eku);
	X509_free(x);
	EVP_PKEY_free(k);
	return r;
}
