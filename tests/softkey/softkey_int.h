/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_SOFTKEY_INT_H
#define MYNAGUARD_SOFTKEY_INT_H

/* Internals shared by the softkey_*.c files; not for other users. */

#include <cbor.h>
#include <openssl/evp.h>

#include "softkey.h"

#define SK_SECRET_LEN 32
#define SK_PINHASH_LEN 16
#define SK_TOKEN_LEN 32
#define SK_MAXMSG 7609	    /* 57 + 128 * 59: CTAPHID over 64 bytes */
#define SK_PENDING_UP 0x100 /* sk_dispatch(): waiting for a touch */
#define SK_KEEPALIVE_MS 100 /* CTAP 2.0 §8.1.9.1.3: at most 100 ms */
#define SK_UP_TIMEOUT_MS 30000

/* CTAP status codes (CTAP 2.0 §6.3) that the key answers. */
#define CTAP_OK 0x00
#define CTAP1_ERR_INVALID_COMMAND 0x01
#define CTAP1_ERR_INVALID_PARAMETER 0x02
#define CTAP1_ERR_INVALID_LENGTH 0x03
#define CTAP2_ERR_CBOR_UNEXPECTED_TYPE 0x11
#define CTAP2_ERR_INVALID_CBOR 0x12
#define CTAP2_ERR_MISSING_PARAMETER 0x14
#define CTAP2_ERR_CREDENTIAL_EXCLUDED 0x19
#define CTAP2_ERR_UNSUPPORTED_ALGORITHM 0x26
#define CTAP2_ERR_UNSUPPORTED_OPTION 0x2b
#define CTAP2_ERR_KEEPALIVE_CANCEL 0x2d
#define CTAP2_ERR_NO_CREDENTIALS 0x2e
#define CTAP2_ERR_USER_ACTION_TIMEOUT 0x2f
#define CTAP2_ERR_PIN_INVALID 0x31
#define CTAP2_ERR_PIN_BLOCKED 0x32
#define CTAP2_ERR_PIN_AUTH_INVALID 0x33
#define CTAP2_ERR_PIN_AUTH_BLOCKED 0x34
#define CTAP2_ERR_PIN_NOT_SET 0x35
#define CTAP2_ERR_PIN_REQUIRED 0x36
#define CTAP2_ERR_PIN_POLICY_VIOLATION 0x37
#define CTAP1_ERR_OTHER 0x7f

/* authenticatorData flags (WebAuthn §6.1). */
#define SK_FLAG_UP 0x01
#define SK_FLAG_UV 0x04
#define SK_FLAG_AT 0x40

/* How user presence is obtained for this run of a command. */
enum sk_up {
	SK_UP_NOW,     /* message level: at once, or timeout if no_touch */
	SK_UP_ASK,     /* framing: return SK_PENDING_UP unless immediate */
	SK_UP_GRANTED, /* framing: the touch happened */
};

/* What one command did, for the log (never secrets). */
struct sk_loginfo {
	const char *name;
	int up; /* -1: not applicable */
	bool pinauth;
	bool uv;
};

struct sk_hid;

struct softkey {
	/* persistent state (the state file) */
	uint8_t aaguid[SOFTKEY_AAGUID_LEN];
	uint8_t secret[SK_SECRET_LEN];
	uint32_t counter;
	bool pin_set;
	uint8_t pin_hash[SK_PINHASH_LEN];
	uint32_t retries;
	struct softkey_faults faults;

	bool dirty; /* changed by the current command */

	/* binding */
	char *path;  /* state file, or NULL */
	int lock_fd; /* flock held during a transaction, or -1 */
	char *log_path;

	/* one power-up */
	EVP_PKEY *ka_key; /* ClientPIN key agreement, made on demand */
	uint8_t pin_token[SK_TOKEN_LEN];
	unsigned pin_mismatch; /* consecutive wrong PINs */
	uint32_t nmsg;	       /* request messages seen */
	bool removed;
	struct sk_hid *hid; /* framing state, made on first use */
};

/* softkey.c */
int
sk_dispatch(struct softkey *sk, uint8_t cmd, const uint8_t *in, size_t in_len,
    enum sk_up up, uint8_t *out, size_t out_cap, size_t *ret_len);
bool sk_count_msg(struct softkey *sk);
void sk_log(struct softkey *sk, const struct sk_loginfo *li, int status);
int sk_user_presence(struct softkey *sk, enum sk_up up);

/* softkey_state.c */
int sk_txn_begin(struct softkey *sk);
int sk_txn_end(struct softkey *sk, bool save);
int sk_state_hash_pin(const char *pin, size_t len, uint8_t out[SK_PINHASH_LEN]);

/* softkey_cbor.c: reading requests, building replies */
const cbor_item_t *cb_get(const cbor_item_t *map, int64_t key);
const cbor_item_t *cb_get_str(const cbor_item_t *map, const char *key);
int cb_bytes(const cbor_item_t *it, const uint8_t **ret, size_t *ret_len);
int cb_text(const cbor_item_t *it, const char **ret, size_t *ret_len);
int cb_int(const cbor_item_t *it, int64_t *ret);
int cb_bool(const cbor_item_t *it, bool *ret);
cbor_item_t *cb_new_int(int64_t v);
cbor_item_t *cb_take(cbor_item_t **p);
void cb_free(cbor_item_t **p);
int cb_put(cbor_item_t *map, cbor_item_t *key, cbor_item_t *val);
int cb_put_int(cbor_item_t *map, int64_t key, cbor_item_t *val);
int cb_push(cbor_item_t *array, cbor_item_t *val);
cbor_item_t *
cb_cose_es256(const uint8_t x[32], const uint8_t y[32], int64_t alg);
int cb_cose_es256_get(const cbor_item_t *key, uint8_t x[32], uint8_t y[32]);

/* softkey_crypto.c */
int sk_random(void *buf, size_t len);
int sk_sha256(
    const void *a, size_t alen, const void *b, size_t blen, uint8_t out[32]);
int sk_hmac(const uint8_t *key, size_t keylen, const void *a, size_t alen,
    const void *b, size_t blen, uint8_t out[32]);
int sk_ec_generate(uint8_t priv[32]);
int sk_ec_from_priv(
    const uint8_t priv[32], EVP_PKEY **ret, uint8_t x[32], uint8_t y[32]);
int sk_ec_from_pub(const uint8_t x[32], const uint8_t y[32], EVP_PKEY **ret);
int sk_ec_sign(EVP_PKEY *key, const void *a, size_t alen, const void *b,
    size_t blen, uint8_t *sig, size_t sigcap, size_t *ret_len);
int sk_ecdh(EVP_PKEY *priv, EVP_PKEY *peer, uint8_t z[32]);
int sk_ec_pub(EVP_PKEY *key, uint8_t x[32], uint8_t y[32]);
int sk_aes_cbc(bool enc, const uint8_t key[32], const uint8_t iv[16],
    const uint8_t *in, size_t len, uint8_t *out);
int
sk_hkdf(const uint8_t *ikm, size_t ikmlen, const char *info, uint8_t out[32]);
int sk_attestation(const struct softkey *sk, EVP_PKEY **ret_key, uint8_t *der,
    size_t cap, size_t *ret_len);
int sk_cred_wrap(const struct softkey *sk, const uint8_t rpid_hash[32],
    const uint8_t priv[32], uint8_t *id, size_t cap, size_t *ret_len);
int sk_cred_unwrap(const struct softkey *sk, const uint8_t rpid_hash[32],
    const uint8_t *id, size_t len, uint8_t priv[32]);

/* softkey_cred.c: MakeCredential, GetAssertion */
int sk_makecred(struct softkey *sk, const cbor_item_t *req, enum sk_up up,
    cbor_item_t **ret, struct sk_loginfo *li);
int sk_getassert(struct softkey *sk, const cbor_item_t *req, enum sk_up up,
    cbor_item_t **ret, struct sk_loginfo *li);

/* softkey_pin.c: ClientPIN and pinAuth checks */
int sk_clientpin(struct softkey *sk, const cbor_item_t *req, cbor_item_t **ret,
    struct sk_loginfo *li);
int sk_pin_check_auth(struct softkey *sk, const cbor_item_t *proto,
    const uint8_t *cdh, size_t cdh_len, const uint8_t *auth, size_t auth_len);
int sk_pin_protocols(const struct softkey *sk, cbor_item_t **ret);
void sk_pin_powerup(struct softkey *sk);

/* softkey_hid.c */
void sk_hid_free(struct sk_hid *h);

#endif
