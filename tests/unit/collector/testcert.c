/* SPDX-License-Identifier: BSD-2-Clause */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>

#include "testcert.h"

static int
write_cert(EVP_PKEY *key, const char *cert_path, const char *cn)
{
	X509 *x = X509_new();
	X509_NAME *name;
	FILE *f = NULL;
	int r = -1;

	if (x == NULL)
		return -1;
	name = X509_get_subject_name(x);
	if (X509_set_version(x, 2) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), 1) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 365) == NULL ||
	    X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_UTF8,
		(const unsigned char *)"terminal", -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
		(const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 ||
	    X509_set_pubkey(x, key) != 1 ||
	    X509_sign(x, key, EVP_sha256()) == 0)
		goto out;
	if ((f = fopen(cert_path, "we")) == NULL)
		goto out;
	if (PEM_write_X509(f, x) == 1)
		r = 0;
	if (fclose(f) != 0)
		r = -1;
out:
	X509_free(x);
	return r;
}

int
testcert_selfsign(const char *key_path, const char *cert_path, const char *cn)
{
	EVP_PKEY *key = NULL;
	FILE *f = fopen(key_path, "re");
	int r;

	if (f == NULL)
		return -1;
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (key == NULL)
		return -1;
	r = write_cert(key, cert_path, cn);
	EVP_PKEY_free(key);
	return r;
}
