/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The key's part of a login (libfido2): find a plugged-in key that holds
 * one of the user's credentials, ask it for an assertion with user
 * presence (and user verification when the policy says so), then verify
 * the answer here against the enrolled public key, flag by flag, and check
 * the signature counter.  libfido2's own verification does not look at the
 * counter, and checks the UP/UV flags only when told to.
 *
 * Every wait is bounded by the policy's key-timeout, and a signal that
 * reaches the program during the wait ends it (the key is told to cancel,
 * so it stays usable for the next attempt).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <fido.h>
#include <fido/es256.h>
#include <fido/eddsa.h>
#include <fido/rs256.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <security/pam_ext.h>

#include "pmod.h"

#define FLAG_UP 0x01u
#define FLAG_UV 0x04u
#define POLL_MS 200

struct key {
	fido_dev_t *dev;
	const struct pmod_cred *cred;	/* the credential it holds */
};

void
pmod_fido_init(void)
{
	fido_init(0);
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
fail(struct pmod_ctx *c, enum pmod_reason r, const char *detail)
{
	c->reason = r;
	c->detail = detail;
	return -1;
}

/* The keys plugged in; waits (bounded) for the first one to appear. */
static int
list_devices(struct pmod_ctx *c, fido_dev_info_t **ret, size_t *ret_n)
{
	uint64_t deadline = mono_ms() + (uint64_t)c->login->key_timeout_s *
	    1000;
	fido_dev_info_t *list;
	bool told = false;
	size_t n = 0;

	if ((list = fido_dev_info_new(PMOD_DEVS_MAX)) == NULL)
		return fail(c, PMOD_R_ERROR, "out of memory");
	for (;;) {
		if (fido_dev_info_manifest(list, PMOD_DEVS_MAX, &n) != FIDO_OK)
			n = 0;
		if (n > 0 || mono_ms() >= deadline)
			break;
		if (!told)
			pmod_tell(c, false, "%s", pmod_text(c, "Insert your "
			    "security key."));
		told = true;
		if (nanosleep(&(struct timespec){ 0, POLL_MS * 1000000L },
		    NULL) < 0 && errno == EINTR) {
			fido_dev_info_free(&list, PMOD_DEVS_MAX);
			return fail(c, PMOD_R_CANCELLED, "interrupted while "
			    "waiting for a key");
		}
	}
	if (n == 0) {
		fido_dev_info_free(&list, PMOD_DEVS_MAX);
		return fail(c, PMOD_R_NO_KEY, "no security key plugged in");
	}
	*ret = list;
	*ret_n = n;
	return 0;
}

static int
assert_init(fido_assert_t *a, const char *rp,
    const struct pmod_cred *const *creds, size_t n)
{
	unsigned char cdh[32];
	size_t i;

	if (RAND_bytes(cdh, sizeof(cdh)) != 1 ||
	    fido_assert_set_rp(a, rp) != FIDO_OK ||
	    fido_assert_set_clientdata_hash(a, cdh, sizeof(cdh)) != FIDO_OK)
		return -EIO;
	for (i = 0; i < n; i++)
		if (strcmp(creds[i]->rp_id, rp) == 0 &&
		    fido_assert_allow_cred(a, creds[i]->id,
		    creds[i]->id_len) != FIDO_OK)
			return -EIO;
	return 0;
}

/* The user's credential the assertion names (with one allowed credential
 * an authenticator may leave the id out). */
static const struct pmod_cred *
which_cred(const fido_assert_t *a, const char *rp,
    const struct pmod_cred *const *creds, size_t n)
{
	const unsigned char *id = fido_assert_id_ptr(a, 0);
	size_t len = fido_assert_id_len(a, 0), i, in_rp = 0;
	const struct pmod_cred *only = NULL;

	for (i = 0; i < n; i++) {
		if (strcmp(creds[i]->rp_id, rp) != 0)
			continue;
		in_rp++;
		only = creds[i];
		if (id != NULL && creds[i]->id_len == len &&
		    CRYPTO_memcmp(creds[i]->id, id, len) == 0)
			return creds[i];
	}
	return id == NULL && in_rp == 1 ? only : NULL;
}

/* Does this key hold one of the credentials for rp?  A silent probe:
 * no touch, no PIN (CTAP2 "up": false). */
static const struct pmod_cred *
probe(fido_dev_t *dev, const char *rp, const struct pmod_cred *const *creds,
    size_t n, bool *internal_error)
{
	const struct pmod_cred *found = NULL;
	fido_assert_t *a;
	int r;

	if ((a = fido_assert_new()) == NULL) {
		*internal_error = true;
		return NULL;
	}
	if (assert_init(a, rp, creds, n) < 0 ||
	    fido_assert_set_up(a, FIDO_OPT_FALSE) != FIDO_OK) {
		*internal_error = true;
	} else {
		r = fido_dev_get_assert(dev, a, NULL);
		if (r == FIDO_OK && fido_assert_count(a) == 1)
			found = which_cred(a, rp, creds, n);
		else if (r == FIDO_ERR_USER_PRESENCE_REQUIRED && n == 1)
			found = creds[0];	/* U2F check-only: known */
	}
	fido_assert_free(&a);
	return found;
}

static fido_dev_t *
open_dev(const fido_dev_info_t *di)
{
	fido_dev_t *dev = fido_dev_new_with_info(di);

	if (dev != NULL && fido_dev_open_with_info(dev) != FIDO_OK)
		fido_dev_free(&dev);
	return dev;
}

static void
close_dev(fido_dev_t **dev)
{
	if (*dev == NULL)
		return;
	(void)fido_dev_close(*dev);
	fido_dev_free(dev);
}

/* The first plugged-in key holding one of the credentials. */
static int
find_key(struct pmod_ctx *c, const struct pmod_cred *const *creds, size_t n,
    struct key *ret)
{
	fido_dev_info_t *list = NULL;
	size_t nd = 0, i, k;
	bool internal = false;
	int r;

	if ((r = list_devices(c, &list, &nd)) < 0)
		return r;
	for (i = 0; i < nd && ret->dev == NULL; i++) {
		fido_dev_t *dev = open_dev(fido_dev_info_ptr(list, i));

		for (k = 0; dev != NULL && k < n && ret->cred == NULL; k++)
			if (k == 0 || strcmp(creds[k]->rp_id,
			    creds[k - 1]->rp_id) != 0)
				ret->cred = probe(dev, creds[k]->rp_id, creds,
				    n, &internal);
		if (ret->cred != NULL)
			ret->dev = dev;
		else
			close_dev(&dev);
	}
	fido_dev_info_free(&list, PMOD_DEVS_MAX);
	if (ret->dev == NULL && internal)
		return fail(c, PMOD_R_ERROR, "cannot build the probe request");
	if (ret->dev == NULL)
		return fail(c, PMOD_R_NO_MATCHING_KEY, "no plugged-in key "
		    "holds a credential of this user");
	return 0;
}

static void
hex_aaguid(const unsigned char *g, char out[37])
{
	static const char hx[] = "0123456789abcdef";
	size_t i, o = 0;

	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hx[g[i] >> 4];
		out[o++] = hx[g[i] & 15];
	}
	out[o] = '\0';
}

static bool
model_allowed(const struct pol_login *l, const uint8_t g[16])
{
	size_t i;

	for (i = 0; i < l->n_key_models; i++)
		if (memcmp(l->key_models[i], g, 16) == 0)
			return true;
	return l->n_key_models == 0;
}

/* Record which key it is; refuse a model the policy does not list.  The
 * model is the AAGUID recorded at enrollment and the one the key reports
 * now: both must be allowed. */
static int
check_model(struct pmod_ctx *c, const struct key *k)
{
	const struct pmod_cred *cr = k->cred;
	fido_cbor_info_t *ci = NULL;
	uint8_t now[16];
	bool have_now = false;

	c->have_key = true;
	pmod_cred_id_hash(cr, c->key_id);
	(void)snprintf(c->key_label, sizeof(c->key_label), "%s", cr->label);
	(void)snprintf(c->key_rp, sizeof(c->key_rp), "%s", cr->rp_id);
	/* Without key-models the model is only for the event: the one
	 * recorded at enrollment saves a GetInfo round trip. */
	if (c->login->n_key_models == 0 && cr->has_aaguid) {
		hex_aaguid(cr->aaguid, c->aaguid);
		return 0;
	}
	ci = fido_cbor_info_new();
	if (ci != NULL && fido_dev_get_cbor_info(k->dev, ci) == FIDO_OK &&
	    fido_cbor_info_aaguid_len(ci) == 16) {
		memcpy(now, fido_cbor_info_aaguid_ptr(ci), 16);
		have_now = true;
		hex_aaguid(now, c->aaguid);
	} else if (cr->has_aaguid) {
		hex_aaguid(cr->aaguid, c->aaguid);
	}
	fido_cbor_info_free(&ci);
	if (c->login->n_key_models == 0)
		return 0;
	if (!cr->has_aaguid || !model_allowed(c->login, cr->aaguid) ||
	    !have_now || !model_allowed(c->login, now))
		return fail(c, PMOD_R_MODEL, "key model not in key-models");
	return 0;
}

static const char *
pin_problem(const struct pmod_ctx *c, enum pmod_pin_check pc)
{
	switch (pc) {
	case PMOD_PIN_WIDE:
		return pmod_text(c, "The PIN was typed with full-width "
		    "(zenkaku) or other non-ASCII characters. Turn the input "
		    "method off and type the PIN again.");
	case PMOD_PIN_SHORT:
		return pmod_text(c, "A PIN has at least 4 characters.");
	case PMOD_PIN_LONG:
		return pmod_text(c, "A PIN has at most 63 characters.");
	default:
		return pmod_text(c, "The PIN contains characters that cannot "
		    "be part of a PIN.");
	}
}

/* The PIN messages are told where they happen (not by
 * pmod_tell_reason()): the same reason has different causes. */
static const char *
no_pin_text(const struct pmod_ctx *c)
{
	return pmod_text(c, "No PIN was entered. The PIN of the security key "
	    "is required.");
}

static void
tell_pin_blocked(struct pmod_ctx *c)
{
	pmod_tell(c, true, "%s", pmod_text(c, "The PIN of this security key "
	    "is blocked. Ask the administrator."));
}

/* What user verification this key needs: 0 none, 1 built-in (touch a
 * fingerprint key), 2 PIN (asked here, into *ret_pin). */
static int
get_uv(struct pmod_ctx *c, fido_dev_t *dev, char **ret_pin)
{
	enum pmod_pin_check pc;
	int retries = -1;
	char *pin = NULL;

	if (!c->login->user_verification)
		return 0;
	if (!fido_dev_has_pin(dev)) {
		if (fido_dev_has_uv(dev))
			return 1;
		pmod_tell(c, true, "%s", pmod_text(c, "The policy requires "
		    "a PIN, but this security key has none. Ask the "
		    "administrator to set one."));
		return fail(c, PMOD_R_PIN_MISSING, "the key has no PIN set");
	}
	if (fido_dev_get_retry_count(dev, &retries) == FIDO_OK &&
	    retries == 0) {
		tell_pin_blocked(c);
		return fail(c, PMOD_R_PIN_BLOCKED, "PIN retries exhausted");
	}
	if (retries > 0 && retries <= 3)
		pmod_tell(c, false, pmod_ntext(c, "%d PIN attempt is left "
		    "before the key locks.", "%d PIN attempts are left "
		    "before the key locks.", (unsigned long)retries), retries);
	if (pmod_ask_pin(c, &pin) < 0) {
		pmod_tell(c, true, "%s", no_pin_text(c));
		return fail(c, PMOD_R_PIN_MISSING, "no PIN from the "
		    "conversation");
	}
	if ((pc = pmod_pin_check(pin)) != PMOD_PIN_OK) {
		pmod_pin_free(pin);
		pmod_tell(c, true, "%s", pc == PMOD_PIN_EMPTY ?
		    no_pin_text(c) : pin_problem(c, pc));
		return fail(c, pc == PMOD_PIN_EMPTY ? PMOD_R_PIN_MISSING :
		    PMOD_R_PIN_FORMAT, "PIN refused before it reached the key");
	}
	*ret_pin = pin;
	return 2;
}

static void
tell_pin_invalid(struct pmod_ctx *c, fido_dev_t *dev)
{
	int retries = -1;

	if (fido_dev_get_retry_count(dev, &retries) != FIDO_OK ||
	    retries < 0) {
		pmod_tell(c, true, "%s", pmod_text(c, "Wrong PIN."));
		return;
	}
	pmod_tell(c, true, pmod_ntext(c, "Wrong PIN. %d attempt is left "
	    "before the key locks.", "Wrong PIN. %d attempts are left "
	    "before the key locks.", (unsigned long)retries), retries);
}

/* libfido2's error, the time it took and errno, as a reason. */
static int
assert_failed(struct pmod_ctx *c, fido_dev_t *dev, int fr, int err,
    uint64_t elapsed_ms)
{
	switch (fr) {
	case FIDO_ERR_PIN_INVALID:
		tell_pin_invalid(c, dev);
		return fail(c, PMOD_R_PIN_INVALID, "wrong PIN");
	case FIDO_ERR_PIN_BLOCKED:
		tell_pin_blocked(c);
		return fail(c, PMOD_R_PIN_BLOCKED, "PIN blocked");
	case FIDO_ERR_PIN_AUTH_BLOCKED:
		pmod_tell(c, true, "%s", pmod_text(c, "Too many wrong PINs in "
		    "a row. Remove the key, insert it again and retry."));
		return fail(c, PMOD_R_PIN_BLOCKED, "PIN auth blocked until the "
		    "key is re-inserted");
	case FIDO_ERR_NO_CREDENTIALS:
		return fail(c, PMOD_R_NO_MATCHING_KEY, "key lost the "
		    "credential");
	case FIDO_ERR_ACTION_TIMEOUT:
	case FIDO_ERR_USER_ACTION_TIMEOUT:
		return fail(c, PMOD_R_TIMEOUT, "no touch in time (key)");
	case FIDO_ERR_KEEPALIVE_CANCEL:
		return fail(c, PMOD_R_CANCELLED, "cancelled");
	case FIDO_ERR_UV_BLOCKED:
		return fail(c, PMOD_R_PIN_BLOCKED, "built-in verification "
		    "blocked");
	case FIDO_ERR_UV_INVALID:
	case FIDO_ERR_PIN_REQUIRED:
	case FIDO_ERR_OPERATION_DENIED:
		return fail(c, PMOD_R_UV_MISSING, "the key did not verify the "
		    "user");
	case FIDO_ERR_RX:
	case FIDO_ERR_TX:
		break;
	default:
		return fail(c, PMOD_R_ERROR, "the key refused the request");
	}
	(void)fido_dev_cancel(dev);
	if (err == EINTR)
		return fail(c, PMOD_R_CANCELLED, "interrupted by a signal");
	if (elapsed_ms + 250 >= (uint64_t)c->login->key_timeout_s * 1000)
		return fail(c, PMOD_R_TIMEOUT, "no touch in time");
	return fail(c, PMOD_R_KEY_REMOVED, "the key stopped answering");
}

/* Ask for the assertion: presence always, UV as get_uv() decided. */
static int
get_assertion(struct pmod_ctx *c, const struct key *k,
    const struct pmod_cred *const *creds, size_t n, fido_assert_t *a)
{
	char *pin = NULL;
	sigset_t none;
	uint64_t t0;
	int uv, fr, err;

	if ((uv = get_uv(c, k->dev, &pin)) < 0)
		return uv;
	if (assert_init(a, k->cred->rp_id, creds, n) < 0 ||
	    fido_assert_set_up(a, FIDO_OPT_TRUE) != FIDO_OK ||
	    (uv == 1 && fido_assert_set_uv(a, FIDO_OPT_TRUE) != FIDO_OK)) {
		pmod_pin_free(pin);
		return fail(c, PMOD_R_ERROR, "cannot build the request");
	}
	if (uv != 2)
		pmod_tell(c, false, "%s", pmod_text(c, "Touch your security "
		    "key."));
	(void)sigemptyset(&none);
	(void)fido_dev_set_sigmask(k->dev, &none);
	if (fido_dev_set_timeout(k->dev, (int)c->login->key_timeout_s *
	    1000) != FIDO_OK) {	/* an unbounded wait is not an option */
		pmod_pin_free(pin);
		return fail(c, PMOD_R_ERROR, "cannot bound the wait");
	}
	t0 = mono_ms();
	errno = 0;
	fr = fido_dev_get_assert(k->dev, a, pin);
	err = errno;
	pmod_pin_free(pin);
	if (fr != FIDO_OK)
		return assert_failed(c, k->dev, fr, err, mono_ms() - t0);
	if (fido_assert_count(a) != 1)
		return fail(c, PMOD_R_SIG_INVALID, "not one assertion");
	return uv;
}

static int
verify_with(const fido_assert_t *a, const struct pmod_cred *cr)
{
	es256_pk_t *es = NULL;
	eddsa_pk_t *ed = NULL;
	rs256_pk_t *rs = NULL;
	const void *pk = NULL;
	int r = FIDO_ERR_INVALID_ARGUMENT;

	if (cr->alg == PMOD_ALG_ES256 && (es = es256_pk_new()) != NULL &&
	    es256_pk_from_ptr(es, cr->pubkey, cr->pubkey_len) == FIDO_OK)
		pk = es;
	else if (cr->alg == PMOD_ALG_EDDSA && (ed = eddsa_pk_new()) != NULL &&
	    eddsa_pk_from_ptr(ed, cr->pubkey, cr->pubkey_len) == FIDO_OK)
		pk = ed;
	else if (cr->alg == PMOD_ALG_RS256 && (rs = rs256_pk_new()) != NULL &&
	    rs256_pk_from_ptr(rs, cr->pubkey, cr->pubkey_len) == FIDO_OK)
		pk = rs;
	if (pk != NULL)
		r = fido_assert_verify(a, 0, cr->alg, pk);
	es256_pk_free(&es);
	eddsa_pk_free(&ed);
	rs256_pk_free(&rs);
	return r;
}

/* libfido2 1.12 hands out the authenticator data as a CBOR byte string;
 * the raw bytes follow its header. */
static const unsigned char *
authdata_raw(const fido_assert_t *a, size_t *ret_len)
{
	const unsigned char *p = fido_assert_authdata_ptr(a, 0);
	size_t len = fido_assert_authdata_len(a, 0), hdr, n;

	if (p == NULL || len < 1 || (p[0] & 0xe0) != 0x40)
		return NULL;
	if ((p[0] & 0x1f) < 24) {
		hdr = 1;
		n = p[0] & 0x1fu;
	} else if (p[0] == 0x58 && len >= 2) {
		hdr = 2;
		n = p[1];
	} else if (p[0] == 0x59 && len >= 3) {
		hdr = 3;
		n = (size_t)p[1] << 8 | p[2];
	} else {
		return NULL;
	}
	if (hdr + n != len)
		return NULL;
	*ret_len = n;
	return p + hdr;
}

/* authData = rpIdHash(32) | flags(1) | counter(4) | ... */
static int
check_answer(struct pmod_ctx *c, const fido_assert_t *a,
    const struct pmod_cred *cr, bool uv_needed)
{
	unsigned char rph[SHA256_DIGEST_LENGTH];
	size_t ad_len = 0;
	const unsigned char *ad = authdata_raw(a, &ad_len);
	uint8_t flags = fido_assert_flags(a, 0);

	if (ad == NULL || ad_len < 37)
		return fail(c, PMOD_R_SIG_INVALID, "short authenticator data");
	if (SHA256((const unsigned char *)cr->rp_id, strlen(cr->rp_id),
	    rph) == NULL)
		return fail(c, PMOD_R_ERROR, "SHA-256 failed");
	if (CRYPTO_memcmp(ad, rph, sizeof(rph)) != 0)
		return fail(c, PMOD_R_WRONG_RP, "rpIdHash of another party");
	if (!(flags & FLAG_UP))
		return fail(c, PMOD_R_PRESENCE_MISSING, "UP flag not set");
	if (uv_needed && !(flags & FLAG_UV))
		return fail(c, PMOD_R_UV_MISSING, "UV flag not set");
	/* The final word: signature, rp, UP and UV, by libfido2. */
	if (fido_assert_set_up((fido_assert_t *)(uintptr_t)a,
	    FIDO_OPT_TRUE) != FIDO_OK || fido_assert_set_uv(
	    (fido_assert_t *)(uintptr_t)a, uv_needed ? FIDO_OPT_TRUE :
	    FIDO_OPT_OMIT) != FIDO_OK || verify_with(a, cr) != FIDO_OK)
		return fail(c, PMOD_R_SIG_INVALID, "signature does not verify");
	return 0;
}

/* The counter stored for the credential, read before the answer is
 * checked so that every event after an answer can name it. */
static int
load_counter(struct pmod_ctx *c)
{
	uint32_t stored = 0;
	int r;

	r = pmod_counter_get(c->args.counter_dir, c->key_id, &stored);
	if (r < 0 && r != -ENOENT)
		return fail(c, PMOD_R_ERROR, "cannot read the stored counter");
	if (r == 0) {
		c->have_stored = true;
		c->stored_counter = stored;
	}
	return 0;
}

/* A counter that does not go up means two keys share the credential. */
static int
check_counter(struct pmod_ctx *c)
{
	if (c->have_stored && (c->counter != 0 || c->stored_counter != 0) &&
	    c->counter <= c->stored_counter)
		return fail(c, PMOD_R_COUNTER, "signature counter did not "
		    "increase: possible cloned key");
	if (pmod_counter_set(c->args.counter_dir, c->key_id, c->counter) < 0)
		return fail(c, PMOD_R_ERROR, "cannot store the counter");
	return 0;
}

/*
 * 0 when one of creds (the user's, n >= 1) answered correctly; -1 with
 * c->reason set otherwise.  Never returns 0 by default: each way to 0 is
 * a verified assertion.
 */
int
pmod_fido_login(struct pmod_ctx *c, const struct pmod_cred *const *creds,
    size_t n)
{
	struct key k = { NULL, NULL };
	fido_assert_t *a = NULL;
	int r = -1, uv;

	if (n == 0)
		return fail(c, PMOD_R_NOT_ENROLLED, "no credential");
	if (find_key(c, creds, n, &k) < 0 || check_model(c, &k) < 0)
		goto out;
	if ((a = fido_assert_new()) == NULL) {
		fail(c, PMOD_R_ERROR, "out of memory");
		goto out;
	}
	if ((uv = get_assertion(c, &k, creds, n, a)) < 0)
		goto out;
	k.cred = which_cred(a, k.cred->rp_id, creds, n);
	if (k.cred == NULL) {
		fail(c, PMOD_R_SIG_INVALID, "assertion names no credential");
		goto out;
	}
	c->counter = fido_assert_sigcount(a, 0);
	c->have_counter = true;
	pmod_cred_id_hash(k.cred, c->key_id);
	(void)snprintf(c->key_label, sizeof(c->key_label), "%s",
	    k.cred->label);
	if (load_counter(c) < 0 || check_answer(c, a, k.cred, uv > 0) < 0 ||
	    check_counter(c) < 0)
		goto out;
	c->reason = PMOD_R_OK;
	r = 0;
out:
	fido_assert_free(&a);
	close_dev(&k.dev);
	return r;
}
