/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * authenticatorMakeCredential and authenticatorGetAssertion (CTAP 2.0
 * §5.1, §5.2): ES256 only, non-resident credentials (the id wraps the
 * private key, softkey_crypto.c), "packed" self attestation, one global
 * signature counter that goes up on every credential and every assertion,
 * silent ones (up=false) included, like most hardware keys.
 *
 * Each command may run twice under the framing layer: first with
 * SK_UP_ASK, which stops with SK_PENDING_UP where a touch is needed, and
 * again with SK_UP_GRANTED once the touch "happened".  Nothing changes
 * before that point, so the first run has no effects.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "softkey_int.h"

#define COSE_ES256 (-7)
#define AUTHDATA_MAX 512
#define SIG_MAX 80
#define CRED_ID_MAX 128
#define CERT_MAX 1024

/* The fields both commands share. */
struct req {
	const char *rp_id;
	size_t rp_id_len;
	const uint8_t *cdh;
	size_t cdh_len;
	uint8_t rpid_hash[32];
	bool up; /* user presence requested */
	bool uv; /* a pinAuth verified */
};

static int
status_of_missing(const cbor_item_t *it)
{
	return it == NULL ? CTAP2_ERR_MISSING_PARAMETER :
			    CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
}

/* options: rk is not supported, uv only through a pinAuth. */
static int
parse_options(const cbor_item_t *opts, bool *up, bool *uv)
{
	const cbor_item_t *it;
	bool rk = false;

	*up = true; /* CTAP 2.0 §5.2: up defaults to true */
	*uv = false;
	if (opts == NULL)
		return CTAP_OK;
	if (!cbor_isa_map(opts))
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	if (((it = cb_get_str(opts, "up")) != NULL && cb_bool(it, up) < 0) ||
	    ((it = cb_get_str(opts, "uv")) != NULL && cb_bool(it, uv) < 0) ||
	    ((it = cb_get_str(opts, "rk")) != NULL && cb_bool(it, &rk) < 0))
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	return rk ? CTAP2_ERR_UNSUPPORTED_OPTION : CTAP_OK;
}

/*
 * pinAuth (key ka) and pinProtocol (key kp).  A zero-length pinAuth asks
 * for a touch and then PIN_INVALID or PIN_NOT_SET (CTAP 2.0 §5.1 step 4,
 * libfido2's fido_dev_get_touch_begin()).
 */
static int
check_pin(struct softkey *sk, const cbor_item_t *req, int64_t ka, int64_t kp,
    enum sk_up up, struct req *rq, struct sk_loginfo *li)
{
	const cbor_item_t *it = cb_get(req, ka);
	const uint8_t *auth;
	size_t len;
	int st;

	if (it == NULL)
		return CTAP_OK;
	if (cb_bytes(it, &auth, &len) < 0)
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	li->pinauth = true;
	if (len == 0) {
		if ((st = sk_user_presence(sk, up)) != CTAP_OK)
			return st;
		return sk->pin_set ? CTAP2_ERR_PIN_INVALID :
				     CTAP2_ERR_PIN_NOT_SET;
	}
	if ((st = sk_pin_check_auth(sk, cb_get(req, kp), rq->cdh, rq->cdh_len,
		 auth, len)) != CTAP_OK)
		return st;
	rq->uv = true;
	return CTAP_OK;
}

static int
parse_common(const cbor_item_t *rp_id, const cbor_item_t *cdh, struct req *rq)
{
	if (cb_text(rp_id, &rq->rp_id, &rq->rp_id_len) < 0)
		return status_of_missing(rp_id);
	if (cb_bytes(cdh, &rq->cdh, &rq->cdh_len) < 0)
		return status_of_missing(cdh);
	if (rq->cdh_len != 32)
		return CTAP1_ERR_INVALID_LENGTH;
	if (sk_sha256(rq->rp_id, rq->rp_id_len, NULL, 0, rq->rpid_hash) < 0)
		return CTAP1_ERR_OTHER;
	return CTAP_OK;
}

/* Bump the counter (unless frozen); the new value for authData. */
static uint32_t
next_count(struct softkey *sk)
{
	if (!sk->faults.counter_freeze) {
		sk->counter++;
		sk->dirty = true;
	}
	return sk->counter;
}

/* rpIdHash | flags | signCount (WebAuthn §6.1), faults applied. */
static size_t
authdata_head(
    struct softkey *sk, const struct req *rq, uint8_t flags, uint8_t *ad)
{
	uint32_t c = next_count(sk);

	memcpy(ad, rq->rpid_hash, 32);
	if (sk->faults.bad_rpid)
		ad[0] ^= 0x01;
	if (sk->faults.drop_up)
		flags &= (uint8_t)~SK_FLAG_UP;
	if (sk->faults.drop_uv)
		flags &= (uint8_t)~SK_FLAG_UV;
	ad[32] = flags;
	ad[33] = (uint8_t)(c >> 24);
	ad[34] = (uint8_t)(c >> 16);
	ad[35] = (uint8_t)(c >> 8);
	ad[36] = (uint8_t)c;
	return 37;
}

static uint8_t
flags_of(const struct req *rq)
{
	return (uint8_t)((rq->up ? SK_FLAG_UP : 0) | (rq->uv ? SK_FLAG_UV : 0));
}

/* The signature over authData || cdh, damaged when bad_sig is on. */
static cbor_item_t *
signature(struct softkey *sk, EVP_PKEY *key, const uint8_t *ad, size_t adlen,
    const struct req *rq)
{
	uint8_t sig[SIG_MAX];
	size_t n = 0;

	if (sk_ec_sign(key, ad, adlen, rq->cdh, rq->cdh_len, sig, sizeof(sig),
		&n) < 0 ||
	    n < 8)
		return NULL;
	if (sk->faults.bad_sig)
		sig[n - 1] ^= 0x5a; /* in s: still DER, no longer valid */
	return cbor_build_bytestring(sig, n);
}

static bool
is_public_key(const cbor_item_t *desc)
{
	const char *t;
	size_t n;

	return cb_text(cb_get_str(desc, "type"), &t, &n) == 0 &&
	    n == strlen("public-key") && memcmp(t, "public-key", n) == 0;
}

/* First id in a list of PublicKeyCredentialDescriptors that is ours. */
static int
find_cred(const struct softkey *sk, const cbor_item_t *list,
    const uint8_t rpid_hash[32], const uint8_t **ret_id, size_t *ret_len,
    uint8_t priv[32])
{
	cbor_item_t **v;
	const uint8_t *id;
	size_t n, len;

	if (list == NULL || !cbor_isa_array(list) ||
	    !cbor_array_is_definite(list))
		return -ENOENT;
	v = cbor_array_handle(list);
	n = cbor_array_size(list);
	for (size_t i = 0; i < n; i++) {
		if (!is_public_key(v[i]) ||
		    cb_bytes(cb_get_str(v[i], "id"), &id, &len) < 0)
			continue;
		if (sk_cred_unwrap(sk, rpid_hash, id, len, priv) == 0) {
			*ret_id = id;
			*ret_len = len;
			return 0;
		}
	}
	return -ENOENT;
}

static bool
has_es256(const cbor_item_t *params)
{
	cbor_item_t **v;
	int64_t alg;

	if (params == NULL || !cbor_isa_array(params))
		return false;
	v = cbor_array_handle(params);
	for (size_t i = 0; i < cbor_array_size(params); i++)
		if (is_public_key(v[i]) &&
		    cb_int(cb_get_str(v[i], "alg"), &alg) == 0 &&
		    alg == COSE_ES256)
			return true;
	return false;
}

/* authData with attestedCredentialData for a new key. */
static int
new_cred_authdata(struct softkey *sk, const struct req *rq, EVP_PKEY **key,
    uint8_t *ad, size_t *ret_len)
{
	uint8_t priv[32], x[32], y[32], id[CRED_ID_MAX];
	cbor_item_t *cose = NULL;
	size_t idlen = 0, n, c;
	int r = -EIO;

	if (sk_ec_generate(priv) < 0 || sk_ec_from_priv(priv, key, x, y) < 0 ||
	    sk_cred_wrap(sk, rq->rpid_hash, priv, id, sizeof(id), &idlen) < 0 ||
	    (cose = cb_cose_es256(x, y, COSE_ES256)) == NULL)
		goto out;
	n = authdata_head(sk, rq, flags_of(rq) | SK_FLAG_AT, ad);
	memcpy(ad + n, sk->aaguid, sizeof(sk->aaguid));
	n += sizeof(sk->aaguid);
	ad[n++] = (uint8_t)(idlen >> 8);
	ad[n++] = (uint8_t)idlen;
	memcpy(ad + n, id, idlen);
	n += idlen;
	if ((c = cbor_serialize(cose, ad + n, AUTHDATA_MAX - n)) == 0)
		goto out;
	*ret_len = n + c;
	r = 0;
out:
	cb_free(&cose);
	OPENSSL_cleanse(priv, sizeof(priv));
	return r;
}

/* attStmt (WebAuthn §8.2): self attestation, signed by the new key, or
 * with basic_attestation an x5c certificate and its key's signature. */
static cbor_item_t *
att_stmt(struct softkey *sk, EVP_PKEY *credkey, const uint8_t *ad, size_t adlen,
    const struct req *rq)
{
	uint8_t *der = NULL;
	EVP_PKEY *attkey = NULL;
	cbor_item_t *att = NULL, *x5c = NULL;
	size_t derlen = 0;
	bool basic = sk->faults.basic_attestation;

	if ((att = cbor_new_definite_map(basic ? 3 : 2)) == NULL)
		return NULL;
	if (basic &&
	    ((der = malloc(CERT_MAX)) == NULL ||
		sk_attestation(sk, &attkey, der, CERT_MAX, &derlen) < 0 ||
		(x5c = cbor_new_definite_array(1)) == NULL ||
		cb_push(x5c, cbor_build_bytestring(der, derlen)) < 0))
		goto fail;
	if (cb_put(att, cbor_build_string("alg"), cb_new_int(COSE_ES256)) < 0 ||
	    cb_put(att, cbor_build_string("sig"),
		signature(sk, basic ? attkey : credkey, ad, adlen, rq)) < 0 ||
	    (basic && cb_put(att, cbor_build_string("x5c"), cb_take(&x5c)) < 0))
		goto fail;
	goto out;
fail:
	cb_free(&att);
out:
	cb_free(&x5c);
	EVP_PKEY_free(attkey);
	free(der);
	return att;
}

static int
makecred_reply(struct softkey *sk, const struct req *rq, cbor_item_t **ret)
{
	uint8_t ad[AUTHDATA_MAX];
	EVP_PKEY *key = NULL;
	cbor_item_t *m = NULL;
	size_t adlen = 0;
	int st = CTAP1_ERR_OTHER;

	if (new_cred_authdata(sk, rq, &key, ad, &adlen) < 0 ||
	    (m = cbor_new_definite_map(3)) == NULL ||
	    cb_put_int(m, 1, cbor_build_string("packed")) < 0 ||
	    cb_put_int(m, 2, cbor_build_bytestring(ad, adlen)) < 0 ||
	    cb_put_int(m, 3, att_stmt(sk, key, ad, adlen, rq)) < 0)
		goto out;
	*ret = cb_take(&m);
	st = CTAP_OK;
out:
	cb_free(&m);
	EVP_PKEY_free(key);
	return st;
}

int
sk_makecred(struct softkey *sk, const cbor_item_t *req, enum sk_up up,
    cbor_item_t **ret, struct sk_loginfo *li)
{
	const cbor_item_t *rp = cb_get(req, 2), *user = cb_get(req, 3);
	const uint8_t *id;
	uint8_t priv[32];
	struct req rq;
	size_t idlen;
	bool uv_opt;
	int st;

	memset(&rq, 0, sizeof(rq));
	li->name = "makecred";
	li->up = 1;
	if (rp == NULL || user == NULL || !cbor_isa_map(user))
		return status_of_missing(rp == NULL ? rp : user);
	if ((st = parse_common(cb_get_str(rp, "id"), cb_get(req, 1), &rq)) !=
	    CTAP_OK)
		return st;
	if (!has_es256(cb_get(req, 4)))
		return cb_get(req, 4) == NULL ? CTAP2_ERR_MISSING_PARAMETER :
						CTAP2_ERR_UNSUPPORTED_ALGORITHM;
	if ((st = parse_options(cb_get(req, 7), &rq.up, &uv_opt)) != CTAP_OK)
		return st;
	rq.up = true; /* always: a credential needs a touch */
	if ((st = check_pin(sk, req, 8, 9, up, &rq, li)) != CTAP_OK)
		return st;
	if (!rq.uv && uv_opt)
		return CTAP2_ERR_UNSUPPORTED_OPTION; /* no built-in UV */
	if (!rq.uv && sk->pin_set)
		return CTAP2_ERR_PIN_REQUIRED;
	li->uv = rq.uv && !sk->faults.drop_uv;
	if (find_cred(sk, cb_get(req, 5), rq.rpid_hash, &id, &idlen, priv) ==
	    0) {
		OPENSSL_cleanse(priv, sizeof(priv));
		st = sk_user_presence(sk, up);
		return st != CTAP_OK ? st : CTAP2_ERR_CREDENTIAL_EXCLUDED;
	}
	if ((st = sk_user_presence(sk, up)) != CTAP_OK)
		return st;
	return makecred_reply(sk, &rq, ret);
}

static int
getassert_reply(struct softkey *sk, const struct req *rq,
    const uint8_t priv[32], const uint8_t *id, size_t idlen, cbor_item_t **ret)
{
	uint8_t ad[37];
	EVP_PKEY *key = NULL;
	cbor_item_t *m = NULL, *cred = NULL;
	size_t adlen;
	int st = CTAP1_ERR_OTHER;

	if (sk_ec_from_priv(priv, &key, NULL, NULL) < 0)
		return st;
	adlen = authdata_head(sk, rq, flags_of(rq), ad);
	if ((m = cbor_new_definite_map(3)) == NULL ||
	    (cred = cbor_new_definite_map(2)) == NULL ||
	    cb_put(cred, cbor_build_string("id"),
		cbor_build_bytestring(id, idlen)) < 0 ||
	    cb_put(cred, cbor_build_string("type"),
		cbor_build_string("public-key")) < 0 ||
	    cb_put_int(m, 1, cb_take(&cred)) < 0 ||
	    cb_put_int(m, 2, cbor_build_bytestring(ad, adlen)) < 0 ||
	    cb_put_int(m, 3, signature(sk, key, ad, adlen, rq)) < 0)
		goto out;
	*ret = cb_take(&m);
	st = CTAP_OK;
out:
	cb_free(&cred);
	cb_free(&m);
	EVP_PKEY_free(key);
	return st;
}

int
sk_getassert(struct softkey *sk, const cbor_item_t *req, enum sk_up up,
    cbor_item_t **ret, struct sk_loginfo *li)
{
	const uint8_t *id = NULL;
	uint8_t priv[32];
	struct req rq;
	size_t idlen = 0;
	bool uv_opt;
	int st;

	memset(&rq, 0, sizeof(rq));
	li->name = "getassert";
	if ((st = parse_common(cb_get(req, 1), cb_get(req, 2), &rq)) != CTAP_OK)
		return st;
	if ((st = parse_options(cb_get(req, 5), &rq.up, &uv_opt)) != CTAP_OK)
		return st;
	li->up = rq.up;
	if ((st = check_pin(sk, req, 6, 7, up, &rq, li)) != CTAP_OK)
		return st;
	if (!rq.uv && uv_opt)
		return CTAP2_ERR_UNSUPPORTED_OPTION; /* no built-in UV */
	li->uv = rq.uv && !sk->faults.drop_uv;
	/* no resident keys: only an allowList can name a credential */
	if (find_cred(sk, cb_get(req, 3), rq.rpid_hash, &id, &idlen, priv) < 0)
		return CTAP2_ERR_NO_CREDENTIALS;
	if (rq.up && (st = sk_user_presence(sk, up)) != CTAP_OK)
		goto out;
	st = getassert_reply(sk, &rq, priv, id, idlen, ret);
out:
	OPENSSL_cleanse(priv, sizeof(priv));
	return st;
}
