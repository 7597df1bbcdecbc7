/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * authenticatorClientPIN (CTAP 2.0 §5.5) with PIN/UV auth protocol 1, and
 * protocol 2 (CTAP 2.1 §6.5.7) when the pin_proto2 knob is on:
 *
 *   protocol 1: shared = SHA-256(Z.x); AES-256-CBC with a zero IV;
 *               auth = LEFT(HMAC-SHA-256(key, msg), 16)
 *   protocol 2: shared = HKDF(Z.x, "CTAP2 HMAC key") || HKDF(Z.x,
 *               "CTAP2 AES key"); AES-256-CBC with a random IV in front;
 *               auth = HMAC-SHA-256(key, msg), all 32 bytes
 *
 * Retries persist in the state file; the 3-strikes counter, the key
 * agreement key and the PIN token last one power-up.
 */

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>

#include <mynaguard/common.h>

#include "softkey_int.h"

#define SUB_GETRETRIES 0x01
#define SUB_GETKEYAGREEMENT 0x02
#define SUB_SETPIN 0x03
#define SUB_CHANGEPIN 0x04
#define SUB_GETPINTOKEN 0x05

#define COSE_ECDH_ES_HKDF_256 (-25)
#define PADDED_PIN_LEN 64
#define MAX_MISMATCH 3

/* A shared secret for one request. */
struct pp {
	int ver;	 /* 1 or 2 */
	uint8_t key[64]; /* v1: 32 bytes; v2: HMAC key || AES key */
};

void
sk_pin_powerup(struct softkey *sk)
{
	EVP_PKEY_free(sk->ka_key);
	sk->ka_key = NULL;
	sk->pin_mismatch = 0;
	if (sk_random(sk->pin_token, sizeof(sk->pin_token)) < 0)
		OPENSSL_cleanse(sk->pin_token, sizeof(sk->pin_token));
}

int
sk_pin_protocols(const struct softkey *sk, cbor_item_t **ret)
{
	cbor_item_t *a;

	if ((a = cbor_new_definite_array(2)) == NULL)
		return -ENOMEM;
	if ((sk->faults.pin_proto2 && cb_push(a, cbor_build_uint8(2)) < 0) ||
	    cb_push(a, cbor_build_uint8(1)) < 0) {
		cbor_decref(&a);
		return -ENOMEM;
	}
	*ret = a;
	return 0;
}

/* The pinProtocol field: 1, or 2 when advertised. */
static int
proto_version(const struct softkey *sk, const cbor_item_t *it, int *ret)
{
	int64_t v;

	if (it == NULL)
		return CTAP2_ERR_MISSING_PARAMETER;
	if (cb_int(it, &v) < 0)
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	if (v != 1 && !(v == 2 && sk->faults.pin_proto2))
		return CTAP1_ERR_INVALID_PARAMETER;
	*ret = (int)v;
	return CTAP_OK;
}

static int
ka_key(struct softkey *sk)
{
	uint8_t priv[32];
	int r;

	if (sk->ka_key != NULL)
		return 0;
	if ((r = sk_ec_generate(priv)) == 0)
		r = sk_ec_from_priv(priv, &sk->ka_key, NULL, NULL);
	OPENSSL_cleanse(priv, sizeof(priv));
	return r;
}

/* ECDH with the platform's keyAgreement (field 3) into pp->key. */
static int
shared_secret(struct softkey *sk, const cbor_item_t *req, struct pp *pp)
{
	uint8_t x[32], y[32], z[32];
	EVP_PKEY *peer = NULL;
	int st = CTAP1_ERR_INVALID_PARAMETER;

	if ((st = proto_version(sk, cb_get(req, 1), &pp->ver)) != CTAP_OK)
		return st;
	if (cb_get(req, 3) == NULL)
		return CTAP2_ERR_MISSING_PARAMETER;
	if (cb_cose_es256_get(cb_get(req, 3), x, y) < 0 ||
	    sk_ec_from_pub(x, y, &peer) < 0)
		return CTAP1_ERR_INVALID_PARAMETER;
	st = CTAP1_ERR_OTHER;
	if (ka_key(sk) < 0 || sk_ecdh(sk->ka_key, peer, z) < 0)
		goto out;
	if (pp->ver == 1 ?
		sk_sha256(z, sizeof(z), NULL, 0, pp->key) < 0 :
		sk_hkdf(z, sizeof(z), "CTAP2 HMAC key", pp->key) < 0 ||
		    sk_hkdf(z, sizeof(z), "CTAP2 AES key", pp->key + 32) < 0)
		goto out;
	st = CTAP_OK;
out:
	OPENSSL_cleanse(z, sizeof(z));
	EVP_PKEY_free(peer);
	return st;
}

/* Check auth = authenticate(key, a || b) in constant time. */
static bool
auth_ok(int ver, const uint8_t *key, const void *a, size_t alen, const void *b,
    size_t blen, const uint8_t *auth, size_t auth_len)
{
	uint8_t mac[32];
	size_t want = ver == 1 ? 16 : 32;
	bool ok;

	ok = auth_len == want && sk_hmac(key, 32, a, alen, b, blen, mac) == 0 &&
	    CRYPTO_memcmp(mac, auth, want) == 0;
	OPENSSL_cleanse(mac, sizeof(mac));
	return ok;
}

/* decrypt(shared, in) into out (at least len bytes); *ret_len set. */
static int
pp_decrypt(const struct pp *pp, const uint8_t *in, size_t len, uint8_t *out,
    size_t *ret_len)
{
	static const uint8_t zero_iv[16];

	if (pp->ver == 1) {
		if (len == 0 ||
		    sk_aes_cbc(false, pp->key, zero_iv, in, len, out) < 0)
			return -EINVAL;
		*ret_len = len;
		return 0;
	}
	if (len <= 16 ||
	    sk_aes_cbc(false, pp->key + 32, in, in + 16, len - 16, out) < 0)
		return -EINVAL;
	*ret_len = len - 16;
	return 0;
}

/* encrypt(shared, in) into out (len + 16 bytes of room). */
static int
pp_encrypt(const struct pp *pp, const uint8_t *in, size_t len, uint8_t *out,
    size_t *ret_len)
{
	static const uint8_t zero_iv[16];

	if (pp->ver == 1) {
		*ret_len = len;
		return sk_aes_cbc(true, pp->key, zero_iv, in, len, out);
	}
	*ret_len = len + 16;
	if (sk_random(out, 16) < 0)
		return -EIO;
	return sk_aes_cbc(true, pp->key + 32, out, in, len, out + 16);
}

/*
 * pinHashEnc against the stored hash (CTAP 2.0 §5.5.7): retries go down
 * first and are saved whatever happens; a mismatch makes a new key
 * agreement key and counts towards the 3 strikes of this power-up.
 */
static int
check_pin_hash(struct softkey *sk, const struct pp *pp, const cbor_item_t *it)
{
	const uint8_t *enc;
	uint8_t dec[32];
	size_t len, n = 0;
	bool ok;

	if (cb_bytes(it, &enc, &len) < 0)
		return it == NULL ? CTAP2_ERR_MISSING_PARAMETER :
				    CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	if (len != (pp->ver == 1 ? 16u : 32u))
		return CTAP1_ERR_INVALID_PARAMETER;
	sk->retries--;
	sk->dirty = true;
	ok = pp_decrypt(pp, enc, len, dec, &n) == 0 && n == SK_PINHASH_LEN &&
	    CRYPTO_memcmp(dec, sk->pin_hash, SK_PINHASH_LEN) == 0;
	OPENSSL_cleanse(dec, sizeof(dec));
	if (!ok) {
		EVP_PKEY_free(sk->ka_key);
		sk->ka_key = NULL;
		sk->pin_mismatch++;
		if (sk->retries == 0)
			return CTAP2_ERR_PIN_BLOCKED;
		if (sk->pin_mismatch >= MAX_MISMATCH)
			return CTAP2_ERR_PIN_AUTH_BLOCKED;
		return CTAP2_ERR_PIN_INVALID;
	}
	sk->pin_mismatch = 0;
	sk->retries = SOFTKEY_PIN_RETRIES;
	return CTAP_OK;
}

/* newPinEnc: decrypt, check the policy, store the hash. */
static int
store_new_pin(
    struct softkey *sk, const struct pp *pp, const uint8_t *enc, size_t len)
{
	uint8_t pin[PADDED_PIN_LEN + 16];
	size_t n = 0, plen;
	int st = CTAP2_ERR_PIN_POLICY_VIOLATION;

	if (len > sizeof(pin) || pp_decrypt(pp, enc, len, pin, &n) < 0 ||
	    n != PADDED_PIN_LEN)
		return CTAP1_ERR_INVALID_PARAMETER;
	plen = strnlen((const char *)pin, n);
	if (plen < n && utf8_validate((const char *)pin, plen, NULL) == 0 &&
	    utf8_count((const char *)pin, plen) >= 4 &&
	    sk_state_hash_pin((const char *)pin, plen, sk->pin_hash) == 0) {
		sk->pin_set = true;
		sk->retries = SOFTKEY_PIN_RETRIES;
		sk->pin_mismatch = 0;
		sk->dirty = true;
		st = CTAP_OK;
	}
	OPENSSL_cleanse(pin, sizeof(pin));
	return st;
}

static int
get_key_agreement(struct softkey *sk, const cbor_item_t *req, cbor_item_t **ret)
{
	uint8_t x[32], y[32];
	cbor_item_t *m = NULL;
	int st, ver;

	if ((st = proto_version(sk, cb_get(req, 1), &ver)) != CTAP_OK)
		return st;
	if (ka_key(sk) < 0 || sk_ec_pub(sk->ka_key, x, y) < 0 ||
	    (m = cbor_new_definite_map(1)) == NULL ||
	    cb_put_int(m, 1, cb_cose_es256(x, y, COSE_ECDH_ES_HKDF_256)) < 0) {
		cb_free(&m);
		return CTAP1_ERR_OTHER;
	}
	*ret = m;
	return CTAP_OK;
}

static int
set_or_change(struct softkey *sk, const cbor_item_t *req, bool change)
{
	const uint8_t *auth, *newenc, *hashenc = NULL;
	size_t alen, nlen, hlen = 0;
	struct pp pp;
	int st;

	if (cb_bytes(cb_get(req, 4), &auth, &alen) < 0 ||
	    cb_bytes(cb_get(req, 5), &newenc, &nlen) < 0 ||
	    (change && cb_bytes(cb_get(req, 6), &hashenc, &hlen) < 0))
		return CTAP2_ERR_MISSING_PARAMETER;
	if (!change && sk->pin_set)
		return CTAP2_ERR_PIN_AUTH_INVALID; /* §5.5.5 */
	if (change && !sk->pin_set)
		return CTAP2_ERR_PIN_NOT_SET;
	if (change && sk->retries == 0)
		return CTAP2_ERR_PIN_BLOCKED;
	if (change && sk->pin_mismatch >= MAX_MISMATCH)
		return CTAP2_ERR_PIN_AUTH_BLOCKED;
	if ((st = shared_secret(sk, req, &pp)) != CTAP_OK)
		goto out;
	st = CTAP2_ERR_PIN_AUTH_INVALID;
	if (!auth_ok(pp.ver, pp.key, newenc, nlen, hashenc, hlen, auth, alen))
		goto out;
	if (change && (st = check_pin_hash(sk, &pp, cb_get(req, 6))) != CTAP_OK)
		goto out;
	st = store_new_pin(sk, &pp, newenc, nlen);
out:
	OPENSSL_cleanse(&pp, sizeof(pp));
	return st;
}

static int
get_pin_token(struct softkey *sk, const cbor_item_t *req, cbor_item_t **ret)
{
	uint8_t enc[SK_TOKEN_LEN + 16];
	cbor_item_t *m = NULL;
	struct pp pp;
	size_t n = 0;
	int st;

	if (!sk->pin_set)
		return CTAP2_ERR_PIN_NOT_SET;
	if (sk->retries == 0)
		return CTAP2_ERR_PIN_BLOCKED;
	if (sk->pin_mismatch >= MAX_MISMATCH)
		return CTAP2_ERR_PIN_AUTH_BLOCKED;
	if (cb_get(req, 6) == NULL)
		return CTAP2_ERR_MISSING_PARAMETER;
	if ((st = shared_secret(sk, req, &pp)) != CTAP_OK ||
	    (st = check_pin_hash(sk, &pp, cb_get(req, 6))) != CTAP_OK)
		goto out;
	st = CTAP1_ERR_OTHER;
	if (pp_encrypt(&pp, sk->pin_token, sizeof(sk->pin_token), enc, &n) <
		0 ||
	    (m = cbor_new_definite_map(1)) == NULL ||
	    cb_put_int(m, 2, cbor_build_bytestring(enc, n)) < 0) {
		cb_free(&m);
		goto out;
	}
	*ret = m;
	st = CTAP_OK;
out:
	OPENSSL_cleanse(enc, sizeof(enc));
	OPENSSL_cleanse(&pp, sizeof(pp));
	return st;
}

static int
get_retries(struct softkey *sk, cbor_item_t **ret)
{
	cbor_item_t *m;

	if ((m = cbor_new_definite_map(1)) == NULL ||
	    cb_put_int(m, 3, cbor_build_uint8((uint8_t)sk->retries)) < 0) {
		cb_free(&m);
		return CTAP1_ERR_OTHER;
	}
	*ret = m;
	return CTAP_OK;
}

int
sk_clientpin(struct softkey *sk, const cbor_item_t *req, cbor_item_t **ret,
    struct sk_loginfo *li)
{
	int64_t sub;

	li->name = "clientpin";
	if (cb_int(cb_get(req, 2), &sub) < 0)
		return CTAP2_ERR_MISSING_PARAMETER;
	switch (sub) {
	case SUB_GETRETRIES:
		li->name = "clientpin.getretries";
		return get_retries(sk, ret);
	case SUB_GETKEYAGREEMENT:
		li->name = "clientpin.getkeyagreement";
		return get_key_agreement(sk, req, ret);
	case SUB_SETPIN:
		li->name = "clientpin.setpin";
		return set_or_change(sk, req, false);
	case SUB_CHANGEPIN:
		li->name = "clientpin.changepin";
		return set_or_change(sk, req, true);
	case SUB_GETPINTOKEN:
		li->name = "clientpin.getpintoken";
		return get_pin_token(sk, req, ret);
	default:
		return CTAP1_ERR_INVALID_PARAMETER;
	}
}

/* pinAuth of MakeCredential/GetAssertion: authenticate(token, cdh). */
int
sk_pin_check_auth(struct softkey *sk, const cbor_item_t *proto,
    const uint8_t *cdh, size_t cdh_len, const uint8_t *auth, size_t auth_len)
{
	int st, ver;

	if ((st = proto_version(sk, proto, &ver)) != CTAP_OK)
		return st == CTAP1_ERR_INVALID_PARAMETER ?
		    CTAP2_ERR_PIN_AUTH_INVALID :
		    st;
	if (!sk->pin_set)
		return CTAP2_ERR_PIN_NOT_SET;
	if (!auth_ok(ver, sk->pin_token, cdh, cdh_len, NULL, 0, auth, auth_len))
		return CTAP2_ERR_PIN_AUTH_INVALID;
	return CTAP_OK;
}
