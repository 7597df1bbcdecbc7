/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ECDSA P-256 / SHA-256 (CRYPTREC e-Government recommended) with OpenSSL 3.
 * The signing key is the agent's TLS client key; its certificate, issued by
 * the town CA, carries the agent id as subject CN.  The key id is the first
 * 8 bytes of SHA-256 over the DER SubjectPublicKeyInfo.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct mg_signer {
	EVP_PKEY *key;
	uint8_t key_id[MG_REC_KEY_ID_LEN];
	char agent_id[MG_REC_AGENT_ID_MAX + 1];
};

struct mg_verifier {
	EVP_PKEY *key;
	uint8_t key_id[MG_REC_KEY_ID_LEN];
	char agent_id[MG_REC_AGENT_ID_MAX + 1];
};

/* SHA-256 fetched once: an implicit fetch at every signature check costs
 * a noticeable share of the collector's ingest. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void
fetch_sha256(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *
sha256(void)
{
	pthread_once(&sha256_once, fetch_sha256);
	return sha256_md != NULL ? sha256_md : EVP_sha256();
}

static int
why(const char **ret_why, const char *msg, int r)
{
	if (ret_why != NULL)
		*ret_why = msg;
	return r;
}

static bool
is_p256(EVP_PKEY *k)
{
	char group[32];
	size_t n = 0;

	if (!EVP_PKEY_is_a(k, "EC"))
		return false;
	if (EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof(group),
	    &n) != 1)
		return false;
	return strcmp(group, "prime256v1") == 0 ||
	    strcmp(group, "P-256") == 0;
}

static int
key_id_of(EVP_PKEY *k, uint8_t out[MG_REC_KEY_ID_LEN])
{
	unsigned char *der = NULL, md[32];
	unsigned int mdlen = 0;
	int n, r = 0;

	n = i2d_PUBKEY(k, &der);
	if (n <= 0)
		return -ENOMEM;
	if (EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL) != 1)
		r = -EIO;
	else
		memcpy(out, md, MG_REC_KEY_ID_LEN);
	OPENSSL_free(der);
	return r;
}

/* The one subject CN, which must be a valid agent id. */
static int
cert_agent_id(X509 *x, char out[MG_REC_AGENT_ID_MAX + 1])
{
	const X509_NAME *name = X509_get_subject_name(x);
	unsigned char *utf8 = NULL;
	int i, n;

	i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	if (i < 0 || X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0)
		return -EKEYREJECTED;
	n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(
	    X509_NAME_get_entry(name, i)));
	if (n < 0)
		return -EKEYREJECTED;
	if (!mg_agent_id_valid((const char *)utf8, (size_t)n)) {
		OPENSSL_free(utf8);
		return -EKEYREJECTED;
	}
	memcpy(out, utf8, (size_t)n);
	out[n] = '\0';
	OPENSSL_free(utf8);
	return 0;
}

static int
load_cert(const char *path, X509 **ret)
{
	FILE *f = fopen(path, "re");
	X509 *x;

	if (f == NULL)
		return -errno;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		return -EBADMSG;
	*ret = x;
	return 0;
}

static int
load_key(const char *path, EVP_PKEY **ret)
{
	FILE *f = fopen(path, "re");
	EVP_PKEY *k;

	if (f == NULL)
		return -errno;
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL)
		return -EBADMSG;
	*ret = k;
	return 0;
}

int
mg_signer_load(const char *key_path, const char *cert_path,
    struct mg_signer **ret, const char **ret_why)
{
	struct mg_signer *s = NULL;
	X509 *x = NULL;
	int r;

	if (key_path == NULL || cert_path == NULL || ret == NULL)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	if ((r = load_cert(cert_path, &x)) < 0) {
		why(ret_why, "cannot read the certificate", r);
		goto out;
	}
	if ((r = load_key(key_path, &s->key)) < 0) {
		why(ret_why, "cannot read the private key", r);
		goto out;
	}
	if (!is_p256(s->key))
		r = why(ret_why, "the key is not ECDSA P-256", -EKEYREJECTED);
	else if (X509_check_private_key(x, s->key) != 1)
		r = why(ret_why, "the key does not match the certificate",
		    -EKEYREJECTED);
	else if (cert_agent_id(x, s->agent_id) < 0)
		r = why(ret_why, "the certificate's CN is not a valid agent id",
		    -EKEYREJECTED);
	else
		r = key_id_of(s->key, s->key_id);
	if (r < 0)
		goto out;
	*ret = s;
	s = NULL;
out:
	X509_free(x);
	mg_signer_free(s);
	return r;
}

void
mg_signer_free(struct mg_signer *s)
{
	if (s == NULL)
		return;
	EVP_PKEY_free(s->key);
	free(s);
}

const char *
mg_signer_agent_id(const struct mg_signer *s)
{
	return s->agent_id;
}

void
signer_key_id(const struct mg_signer *s, uint8_t out[MG_REC_KEY_ID_LEN])
{
	memcpy(out, s->key_id, MG_REC_KEY_ID_LEN);
}

int
signer_sign(const struct mg_signer *s, const uint8_t *region, size_t len,
    uint8_t *sig, size_t *sig_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int r = -EIO;

	if (ctx == NULL)
		return -ENOMEM;
	if (EVP_DigestSignInit(ctx, NULL, sha256(), NULL, s->key) == 1 &&
	    EVP_DigestSignUpdate(ctx, SIG_CONTEXT, sizeof(SIG_CONTEXT)) == 1 &&
	    EVP_DigestSignUpdate(ctx, region, len) == 1 &&
	    EVP_DigestSignFinal(ctx, sig, sig_len) == 1)
		r = 0;
	EVP_MD_CTX_free(ctx);
	return r;
}

static int
verifier_from_x509(X509 *x, struct mg_verifier **ret)
{
	struct mg_verifier *v = calloc(1, sizeof(*v));
	int r;

	if (v == NULL)
		return -ENOMEM;
	v->key = X509_get_pubkey(x);
	if (v->key == NULL || !is_p256(v->key))
		r = -EKEYREJECTED;
	else if ((r = cert_agent_id(x, v->agent_id)) == 0)
		r = key_id_of(v->key, v->key_id);
	if (r < 0) {
		mg_verifier_free(v);
		return r;
	}
	*ret = v;
	return 0;
}

int
mg_verifier_from_der(const uint8_t *der, size_t len, struct mg_verifier **ret)
{
	const unsigned char *p = der;
	X509 *x;
	int r;

	if (der == NULL || ret == NULL || len > 65536)
		return -EINVAL;
	x = d2i_X509(NULL, &p, (long)len);
	if (x == NULL || p != der + len) {
		X509_free(x);
		return -EBADMSG;
	}
	r = verifier_from_x509(x, ret);
	X509_free(x);
	return r;
}

int
mg_verifier_from_pem(const char *pem, size_t len, struct mg_verifier **ret)
{
	BIO *bio;
	X509 *x;
	int r;

	if (pem == NULL || ret == NULL || len > 65536)
		return -EINVAL;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL)
		return -ENOMEM;
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (x == NULL)
		return -EBADMSG;
	r = verifier_from_x509(x, ret);
	X509_free(x);
	return r;
}

void
mg_verifier_free(struct mg_verifier *v)
{
	if (v == NULL)
		return;
	EVP_PKEY_free(v->key);
	free(v);
}

const char *
mg_verifier_agent_id(const struct mg_verifier *v)
{
	return v->agent_id;
}

int
mg_verifier_check(const struct mg_verifier *v, const struct mg_record *r,
    const char **ret_why)
{
	EVP_MD_CTX *ctx;
	int rc = -EBADMSG;

	if (v == NULL || r == NULL)
		return -EINVAL;
	if (strcmp(v->agent_id, r->agent_id) != 0)
		return why(ret_why, "agent id differs from the certificate",
		    -EACCES);
	if (memcmp(v->key_id, r->key_id, MG_REC_KEY_ID_LEN) != 0)
		return why(ret_why, "key id differs from the certificate's key",
		    -EKEYREJECTED);
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return -ENOMEM;
	if (EVP_DigestVerifyInit(ctx, NULL, sha256(), NULL, v->key) == 1 &&
	    EVP_DigestVerifyUpdate(ctx, SIG_CONTEXT, sizeof(SIG_CONTEXT)) == 1 &&
	    EVP_DigestVerifyUpdate(ctx, r->signed_region, r->signed_len) == 1 &&
	    EVP_DigestVerifyFinal(ctx, r->sig, r->sig_len) == 1)
		rc = 0;
	EVP_MD_CTX_free(ctx);
	if (rc < 0)
		why(ret_why, "signature does not verify", rc);
	return rc;
}
