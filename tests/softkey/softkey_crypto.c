/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The key's cryptography on OpenSSL 3: P-256 keys from raw scalars, ECDSA,
 * ECDH, AES-256-CBC/GCM, HMAC-SHA-256, HKDF-SHA-256, and the credential id
 * format.  A credential id wraps the credential's private scalar for one
 * relying party:
 *
 *   0x01 | iv (12) | AES-256-GCM(K, scalar) (32) | tag (16)     61 bytes
 *
 * with K = HMAC-SHA-256(master secret, "mynaguard softkey credential wrap
 * v1") and the rpIdHash as additional data, so the id unwraps only for the
 * relying party it was made for and the key stores nothing per credential.
 */

#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/kdf.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "softkey_int.h"

#define WRAP_VERSION 0x01
#define WRAP_IV_LEN 12
#define WRAP_TAG_LEN 16
#define WRAP_ID_LEN (1 + WRAP_IV_LEN + 32 + WRAP_TAG_LEN)
#define WRAP_INFO "mynaguard softkey credential wrap v1"
#define ATT_INFO "mynaguard softkey attestation v1"
#define ATT_DAYS 3650

int
sk_random(void *buf, size_t len)
{
	if (len > INT32_MAX || RAND_bytes(buf, (int)len) != 1)
		return -EIO;
	return 0;
}

int
sk_sha256(
    const void *a, size_t alen, const void *b, size_t blen, uint8_t out[32])
{
	EVP_MD_CTX *ctx = NULL;
	unsigned n = 0;
	int r = -EIO;

	if ((ctx = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, a, alen) == 1 &&
	    (b == NULL || EVP_DigestUpdate(ctx, b, blen) == 1) &&
	    EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == 32)
		r = 0;
	EVP_MD_CTX_free(ctx);
	return r;
}

/* HMAC-SHA-256(key, a || b); b may be NULL. */
int
sk_hmac(const uint8_t *key, size_t keylen, const void *a, size_t alen,
    const void *b, size_t blen, uint8_t out[32])
{
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	size_t n = 0;
	int r = -EIO;

	params[0] = OSSL_PARAM_construct_utf8_string(
	    OSSL_MAC_PARAM_DIGEST, (char *)(uintptr_t) "SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) != NULL &&
	    (ctx = EVP_MAC_CTX_new(mac)) != NULL &&
	    EVP_MAC_init(ctx, key, keylen, params) == 1 &&
	    EVP_MAC_update(ctx, a, alen) == 1 &&
	    (b == NULL || EVP_MAC_update(ctx, b, blen) == 1) &&
	    EVP_MAC_final(ctx, out, &n, 32) == 1 && n == 32)
		r = 0;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return r;
}

/* Whether priv is a valid P-256 private scalar, in [1, n-1]. */
static bool
scalar_ok(const uint8_t priv[32])
{
	EC_GROUP *g = NULL;
	BIGNUM *d = NULL;
	bool ok = false;

	if ((g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1)) != NULL &&
	    (d = BN_secure_new()) != NULL && BN_bin2bn(priv, 32, d) != NULL)
		ok = !BN_is_zero(d) && BN_cmp(d, EC_GROUP_get0_order(g)) < 0;
	BN_clear_free(d);
	EC_GROUP_free(g);
	return ok;
}

/* A uniformly random private scalar (rejection sampling). */
int
sk_ec_generate(uint8_t priv[32])
{
	for (int i = 0; i < 64; i++) {
		if (sk_random(priv, 32) < 0)
			break;
		if (scalar_ok(priv))
			return 0;
	}
	OPENSSL_cleanse(priv, 32);
	return -EIO;
}

static int
point_xy(const uint8_t *oct, size_t len, uint8_t x[32], uint8_t y[32])
{
	if (len != 65 || oct[0] != 0x04)
		return -EBADMSG;
	memcpy(x, oct + 1, 32);
	memcpy(y, oct + 33, 32);
	return 0;
}

static int
from_params(OSSL_PARAM_BLD *bld, int selection, EVP_PKEY **ret)
{
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	int r = -EIO;

	if (OSSL_PARAM_BLD_push_utf8_string(
		bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, selection, params) != 1)
		goto out;
	*ret = pkey;
	pkey = NULL;
	r = 0;
out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return r;
}

/* The key pair for scalar priv, and its public point when x, y given. */
int
sk_ec_from_priv(
    const uint8_t priv[32], EVP_PKEY **ret, uint8_t x[32], uint8_t y[32])
{
	EC_GROUP *g = NULL;
	EC_POINT *q = NULL;
	BIGNUM *d = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	uint8_t pub[65];
	int r = -EIO;

	if ((g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1)) == NULL ||
	    (q = EC_POINT_new(g)) == NULL || (d = BN_secure_new()) == NULL ||
	    BN_bin2bn(priv, 32, d) == NULL ||
	    EC_POINT_mul(g, q, d, NULL, NULL, NULL) != 1 ||
	    EC_POINT_point2oct(g, q, POINT_CONVERSION_UNCOMPRESSED, pub,
		sizeof(pub), NULL) != sizeof(pub) ||
	    (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(
		bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)) != 1)
		goto out;
	if ((r = from_params(bld, EVP_PKEY_KEYPAIR, ret)) < 0)
		goto out;
	if (x != NULL && y != NULL)
		r = point_xy(pub, sizeof(pub), x, y);
out:
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(d);
	EC_POINT_free(q);
	EC_GROUP_free(g);
	return r;
}

/* A public key from a peer's point; -EBADMSG when not on the curve. */
int
sk_ec_from_pub(const uint8_t x[32], const uint8_t y[32], EVP_PKEY **ret)
{
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY_CTX *chk = NULL;
	EVP_PKEY *pkey = NULL;
	uint8_t pub[65];
	int r = -EBADMSG;

	pub[0] = 0x04;
	memcpy(pub + 1, x, 32);
	memcpy(pub + 33, y, 32);
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_octet_string(
		bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)) != 1 ||
	    from_params(bld, EVP_PKEY_PUBLIC_KEY, &pkey) < 0 ||
	    (chk = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL ||
	    EVP_PKEY_public_check(chk) != 1)
		goto out;
	*ret = pkey;
	pkey = NULL;
	r = 0;
out:
	EVP_PKEY_CTX_free(chk);
	EVP_PKEY_free(pkey);
	OSSL_PARAM_BLD_free(bld);
	return r;
}

int
sk_ec_pub(EVP_PKEY *key, uint8_t x[32], uint8_t y[32])
{
	uint8_t pub[65];
	size_t n = 0;

	if (EVP_PKEY_get_octet_string_param(
		key, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub), &n) != 1)
		return -EIO;
	return point_xy(pub, n, x, y);
}

/* DER ECDSA-SHA-256 signature over a || b. */
int
sk_ec_sign(EVP_PKEY *key, const void *a, size_t alen, const void *b,
    size_t blen, uint8_t *sig, size_t sigcap, size_t *ret_len)
{
	EVP_MD_CTX *ctx = NULL;
	size_t n = sigcap;
	int r = -EIO;

	if ((ctx = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
	    EVP_DigestSignUpdate(ctx, a, alen) == 1 &&
	    EVP_DigestSignUpdate(ctx, b, blen) == 1 &&
	    EVP_DigestSignFinal(ctx, sig, &n) == 1) {
		*ret_len = n;
		r = 0;
	}
	EVP_MD_CTX_free(ctx);
	return r;
}

/* Z: the x coordinate of priv * peer (SP 800-56A ECDH). */
int
sk_ecdh(EVP_PKEY *priv, EVP_PKEY *peer, uint8_t z[32])
{
	EVP_PKEY_CTX *ctx = NULL;
	size_t n = 32;
	int r = -EIO;

	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL)) != NULL &&
	    EVP_PKEY_derive_init(ctx) == 1 &&
	    EVP_PKEY_derive_set_peer(ctx, peer) == 1 &&
	    EVP_PKEY_derive(ctx, z, &n) == 1 && n == 32)
		r = 0;
	EVP_PKEY_CTX_free(ctx);
	return r;
}

/* AES-256-CBC without padding; len must be a multiple of 16. */
int
sk_aes_cbc(bool enc, const uint8_t key[32], const uint8_t iv[16],
    const uint8_t *in, size_t len, uint8_t *out)
{
	EVP_CIPHER_CTX *ctx = NULL;
	int n = 0, m = 0, r = -EIO;

	if (len % 16 != 0 || len > INT32_MAX)
		return -EINVAL;
	if ((ctx = EVP_CIPHER_CTX_new()) != NULL &&
	    EVP_CipherInit_ex(
		ctx, EVP_aes_256_cbc(), NULL, key, iv, enc ? 1 : 0) == 1 &&
	    EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
	    EVP_CipherUpdate(ctx, out, &n, in, (int)len) == 1 &&
	    EVP_CipherFinal_ex(ctx, out + n, &m) == 1 &&
	    (size_t)n + (size_t)m == len)
		r = 0;
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

/* HKDF-SHA-256 with 32 zero bytes of salt (CTAP 2.1 §6.5.7, protocol 2). */
int
sk_hkdf(const uint8_t *ikm, size_t ikmlen, const char *info, uint8_t out[32])
{
	static const uint8_t salt[32];
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *ctx = NULL;
	OSSL_PARAM p[5];
	int r = -EIO;

	p[0] = OSSL_PARAM_construct_utf8_string(
	    OSSL_KDF_PARAM_DIGEST, (char *)(uintptr_t) "SHA256", 0);
	p[1] = OSSL_PARAM_construct_octet_string(
	    OSSL_KDF_PARAM_SALT, (void *)(uintptr_t)salt, sizeof(salt));
	p[2] = OSSL_PARAM_construct_octet_string(
	    OSSL_KDF_PARAM_KEY, (void *)(uintptr_t)ikm, ikmlen);
	p[3] = OSSL_PARAM_construct_octet_string(
	    OSSL_KDF_PARAM_INFO, (void *)(uintptr_t)info, strlen(info));
	p[4] = OSSL_PARAM_construct_end();
	if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) != NULL &&
	    (ctx = EVP_KDF_CTX_new(kdf)) != NULL &&
	    EVP_KDF_derive(ctx, out, 32, p) == 1)
		r = 0;
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return r;
}

static int
gcm(bool enc, const struct softkey *sk, const uint8_t rpid_hash[32],
    const uint8_t iv[WRAP_IV_LEN], const uint8_t in[32], uint8_t out[32],
    uint8_t tag[WRAP_TAG_LEN])
{
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t key[32], fin[16];
	int n = 0, r = -EIO;

	if (sk_hmac(sk->secret, sizeof(sk->secret), WRAP_INFO,
		strlen(WRAP_INFO), NULL, 0, key) < 0)
		goto out;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_CipherInit_ex(
		ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc ? 1 : 0) != 1 ||
	    EVP_CIPHER_CTX_ctrl(
		ctx, EVP_CTRL_GCM_SET_IVLEN, WRAP_IV_LEN, NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, key, iv, -1) != 1 ||
	    EVP_CipherUpdate(ctx, NULL, &n, rpid_hash, 32) != 1 ||
	    EVP_CipherUpdate(ctx, out, &n, in, 32) != 1 || n != 32)
		goto out;
	if (!enc &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, WRAP_TAG_LEN, tag) !=
		1)
		goto out;
	if (EVP_CipherFinal_ex(ctx, fin, &n) != 1) {
		r = -EBADMSG; /* wrong key, rp or a forged id */
		goto out;
	}
	if (enc &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, WRAP_TAG_LEN, tag) !=
		1)
		goto out;
	r = 0;
out:
	if (r < 0)
		OPENSSL_cleanse(out, 32);
	OPENSSL_cleanse(key, sizeof(key));
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

int
sk_cred_wrap(const struct softkey *sk, const uint8_t rpid_hash[32],
    const uint8_t priv[32], uint8_t *id, size_t cap, size_t *ret_len)
{
	int r;

	if (cap < WRAP_ID_LEN)
		return -E2BIG;
	id[0] = WRAP_VERSION;
	if ((r = sk_random(id + 1, WRAP_IV_LEN)) < 0 ||
	    (r = gcm(true, sk, rpid_hash, id + 1, priv, id + 1 + WRAP_IV_LEN,
		 id + 1 + WRAP_IV_LEN + 32)) < 0)
		return r;
	*ret_len = WRAP_ID_LEN;
	return 0;
}

/* -EBADMSG when id is not a credential of this key for this rp. */
int
sk_cred_unwrap(const struct softkey *sk, const uint8_t rpid_hash[32],
    const uint8_t *id, size_t len, uint8_t priv[32])
{
	uint8_t tag[WRAP_TAG_LEN];

	if (len != WRAP_ID_LEN || id[0] != WRAP_VERSION)
		return -EBADMSG;
	memcpy(tag, id + 1 + WRAP_IV_LEN + 32, sizeof(tag));
	return gcm(
	    false, sk, rpid_hash, id + 1, id + 1 + WRAP_IV_LEN, priv, tag);
}

static int
cert_name(X509 *x)
{
	X509_NAME *n = X509_get_subject_name(x);

	/* WebAuthn §8.2.1: OU "Authenticator Attestation" */
	if (X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC,
		(const unsigned char *)"JP", -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC,
		(const unsigned char *)"mynaguard test", -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_ASC,
		(const unsigned char *)"Authenticator Attestation", -1, -1,
		0) != 1 ||
	    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
		(const unsigned char *)"mynaguard softkey", -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, n) != 1)
		return -EIO;
	return 0;
}

/*
 * The basic_attestation knob: an attestation key derived from the master
 * secret and a self-signed certificate for it (DER into der).  Nothing
 * checks a chain: libfido2's fido_cred_verify() only needs the key.
 */
int
sk_attestation(const struct softkey *sk, EVP_PKEY **ret_key, uint8_t *der,
    size_t cap, size_t *ret_len)
{
	uint8_t priv[32], *p = der;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	int n, r = -EIO;

	if (sk_hmac(sk->secret, sizeof(sk->secret), ATT_INFO, strlen(ATT_INFO),
		NULL, 0, priv) < 0 ||
	    !scalar_ok(priv) || sk_ec_from_priv(priv, &key, NULL, NULL) < 0 ||
	    (x = X509_new()) == NULL || X509_set_version(x, 2) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), 1) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * ATT_DAYS) == NULL ||
	    cert_name(x) < 0 || X509_set_pubkey(x, key) != 1 ||
	    X509_sign(x, key, EVP_sha256()) <= 0)
		goto out;
	if ((n = i2d_X509(x, NULL)) <= 0 || (size_t)n > cap ||
	    i2d_X509(x, &p) != n)
		goto out;
	*ret_len = (size_t)n;
	*ret_key = key;
	key = NULL;
	r = 0;
out:
	OPENSSL_cleanse(priv, sizeof(priv));
	X509_free(x);
	EVP_PKEY_free(key);
	return r;
}
