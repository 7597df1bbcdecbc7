/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mynaguard key enroll: register the plugged-in FIDO2 key for a user's
 * login.  libfido2 makes an ES256 non-resident credential for the
 * policy's relying party (excluding the user's existing ones, so a key is
 * never registered twice), its attestation is verified, and only then is
 * it added to the credentials file under its lock (key.c) and announced
 * with one key-enrolled event.
 *
 * PINs are read without echo, checked before they reach the key (the rule
 * of pam_module/pin.c: printable ASCII, 4 to 63 characters) and wiped.
 */
#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <fido.h>

#include "cli.h"
#include "mynaguard/event.h"
#include "mynaguard/login.h"
#include "mynaguard/policy.h"

#define DEVS_MAX 16u
#define POLL_MS 200
/* pam_mynaguard.so offers at most this many credentials of a user to a
 * key (PMOD_USER_CREDS_MAX in pam_module/pmod.h). */
#define USER_KEYS_MAX 64u
#define PIN_BUF 256u		/* longer input is drained and refused */
#define FLAG_UP 0x01u		/* WebAuthn §6.1 authenticator data flags */
#define FLAG_UV 0x04u

/* ---- PINs ---------------------------------------------------------------- */

static struct termios saved_tty;
static volatile sig_atomic_t tty_changed;

/* A signal while echo is off: put the terminal back, then die of it. */
static void
restore_tty(int sig)
{
	if (tty_changed)
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
	(void)raise(sig);	/* SA_RESETHAND: the default action now */
}

static void
echo_off(void)
{
	struct sigaction sa = { .sa_handler = restore_tty,
	    .sa_flags = (int)SA_RESETHAND };
	struct termios t;

	if (tcgetattr(STDIN_FILENO, &saved_tty) < 0)
		return;		/* not a terminal: tests feed the PIN */
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGQUIT, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);
	t = saved_tty;
	t.c_lflag &= ~(tcflag_t)ECHO;
	tty_changed = tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) == 0;
}

static void
echo_on(void)
{
	(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
	tty_changed = 0;
	fputc('\n', stderr);
}

/*
 * One line of standard input into buf (no newline), echo off on a
 * terminal.  Byte by byte with read(2): stdio would keep a copy in its
 * buffer, and the next prompt must read the next line.  0; -EIO at end
 * of input; -E2BIG when the line did not fit (the rest is drained).
 */
static int
read_secret(const char *prompt, char buf[PIN_BUF])
{
	size_t n = 0;
	bool over = false;
	ssize_t k;
	char ch = 0;
	int r = 0;

	fprintf(stderr, "%s", prompt);
	fflush(stderr);
	echo_off();
	for (;;) {
		k = read(STDIN_FILENO, &ch, 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0 || ch == '\n') {
			r = k <= 0 && n == 0 && !over ? -EIO : 0;
			break;
		}
		if (n + 1 < PIN_BUF)
			buf[n++] = ch;
		else
			over = true;
	}
	if (tty_changed)
		echo_on();
	else
		fputc('\n', stderr);	/* what the terminal would show */
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	ch = 0;
	return r == 0 && over ? -E2BIG : r;
}

/* The shared rule (libmynaguard-login), with the administrator's wording. */
static const char *
pin_problem(const char *pin)
{
	switch (pmod_pin_check(pin)) {
	case PMOD_PIN_OK:
		return NULL;
	case PMOD_PIN_EMPTY:
		return "no PIN was typed";
	case PMOD_PIN_WIDE:
		return "the PIN was typed with full-width (zenkaku) or other "
		    "non-ASCII characters; a PIN is printable ASCII: turn the "
		    "input method off and type it again";
	case PMOD_PIN_CONTROL:
		return "the PIN contains control characters";
	case PMOD_PIN_LONG:
		return "a PIN has at most 63 characters";
	case PMOD_PIN_SHORT:
	default:
		return "a PIN has at least 4 characters";
	}
}

/* Ask once; 0 with a PIN that passed pin_problem() in buf. */
static int
ask_pin(const char *prompt, char buf[PIN_BUF])
{
	const char *why;
	int r = read_secret(prompt, buf);

	why = r == -EIO ? "no PIN: end of input" : r == -E2BIG ?
	    "a PIN has at most 63 characters" : pin_problem(buf);
	if (why == NULL)
		return 0;
	explicit_bzero(buf, PIN_BUF);
	fprintf(stderr, "%s; nothing changed\n", why);
	return -EINVAL;
}

/* ---- the key ------------------------------------------------------------- */

struct enroll {
	const struct cli_opts *o;
	const struct pol_login *login;
	const char *user;
	const char *path;		/* the credentials file */
	struct pmod_creds *creds;	/* as read before the key was asked */
	char label[PMOD_LABEL_MAX + 1];
	char product[128];
	fido_dev_t *dev;
	uint8_t aaguid[16];
	bool fido2;
	bool has_pin;
	bool uv_builtin;		/* make_cred with uv, no PIN */
	bool pin_needed;		/* the key wants its PIN to make_cred */
	char pin[PIN_BUF];
	fido_cred_t *cred;
};

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Device strings are the device's: print them tame. */
static void
tame(const char *s, char *out, size_t size)
{
	size_t i;

	snprintf(out, size, "%s", s != NULL && s[0] != '\0' ? s : "?");
	for (i = 0; out[i] != '\0'; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			out[i] = '?';
}

/* The keys plugged in, waiting up to the key timeout for one. */
static int
list_keys(const struct enroll *e, fido_dev_info_t *list, size_t *ret_n)
{
	uint64_t deadline = mono_ms() + (uint64_t)e->login->key_timeout_s *
	    1000;
	bool told = false;
	size_t n = 0;

	for (;;) {
		if (fido_dev_info_manifest(list, DEVS_MAX, &n) != FIDO_OK)
			n = 0;
		if (n > 0 || mono_ms() >= deadline)
			break;
		if (!told)
			fprintf(stderr, "Insert the security key (waiting up "
			    "to %" PRIu32 " seconds)\n",
			    e->login->key_timeout_s);
		told = true;
		(void)nanosleep(&(struct timespec){ 0, POLL_MS * 1000000L },
		    NULL);
	}
	if (n == 0)
		fprintf(stderr, "no security key was inserted within %" PRIu32
		    " seconds; nothing changed\n", e->login->key_timeout_s);
	*ret_n = n;
	return n == 0 ? -ETIMEDOUT : 0;
}

/* The one key to use: the only one plugged in, or --device. */
static int
pick_key(struct enroll *e, fido_dev_info_t *list, size_t n,
    const fido_dev_info_t **ret)
{
	const fido_dev_info_t *di, *pick = NULL;
	char path[256], prod[128], maker[128];
	size_t i;

	for (i = 0; i < n; i++) {
		di = fido_dev_info_ptr(list, i);
		if (e->o->device != NULL &&
		    strcmp(fido_dev_info_path(di), e->o->device) == 0)
			pick = di;
	}
	if (n == 1 && e->o->device == NULL)
		pick = fido_dev_info_ptr(list, 0);
	if (pick == NULL) {
		fprintf(stderr, e->o->device != NULL ? "no security key at "
		    "%s; the keys plugged in are:\n" : "several security keys "
		    "are plugged in; choose one with --device PATH:\n",
		    e->o->device);
		for (i = 0; i < n; i++) {
			di = fido_dev_info_ptr(list, i);
			tame(fido_dev_info_path(di), path, sizeof(path));
			tame(fido_dev_info_product_string(di), prod,
			    sizeof(prod));
			tame(fido_dev_info_manufacturer_string(di), maker,
			    sizeof(maker));
			fprintf(stderr, "  %s  %s %s\n", path, maker, prod);
		}
		return -ENODEV;
	}
	/* A key without a USB product string (UHID, some NFC readers) is
	 * named by its device node. */
	tame(fido_dev_info_product_string(pick) != NULL &&
	    fido_dev_info_product_string(pick)[0] != '\0' ?
	    fido_dev_info_product_string(pick) : fido_dev_info_path(pick),
	    e->product, sizeof(e->product));
	*ret = pick;
	return 0;
}

static int
open_key(struct enroll *e)
{
	fido_dev_info_t *list = fido_dev_info_new(DEVS_MAX);
	const fido_dev_info_t *di = NULL;
	size_t n = 0;
	int r;

	if (list == NULL)
		return -ENOMEM;
	if ((r = list_keys(e, list, &n)) == 0 &&
	    (r = pick_key(e, list, n, &di)) == 0) {
		e->dev = fido_dev_new_with_info(di);
		if (e->dev == NULL || fido_dev_open_with_info(e->dev) !=
		    FIDO_OK) {
			fprintf(stderr, "%s: cannot open the key\n",
			    e->product);
			fido_dev_free(&e->dev);
			r = -EIO;
		}
	}
	fido_dev_info_free(&list, DEVS_MAX);
	return r;
}

static int
option_of(const fido_cbor_info_t *ci, const char *name)
{
	char **names = fido_cbor_info_options_name_ptr(ci);
	const bool *vals = fido_cbor_info_options_value_ptr(ci);
	size_t i, n = fido_cbor_info_options_len(ci);

	for (i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return vals[i] ? 1 : 0;
	return -1;	/* not reported */
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

/* GetInfo: the model (AAGUID) against key-models, and what the key can
 * do about user verification. */
static int
read_info(struct enroll *e)
{
	fido_cbor_info_t *ci = NULL;
	char g[37];
	int r = 0;

	e->fido2 = fido_dev_is_fido2(e->dev);
	if (e->fido2 && ((ci = fido_cbor_info_new()) == NULL ||
	    fido_dev_get_cbor_info(e->dev, ci) != FIDO_OK ||
	    fido_cbor_info_aaguid_len(ci) != 16)) {
		fprintf(stderr, "%s: the key did not describe itself "
		    "(GetInfo)\n", e->product);
		r = -EIO;
		goto out;
	}
	if (e->fido2)
		memcpy(e->aaguid, fido_cbor_info_aaguid_ptr(ci), 16);
	if (e->login->n_key_models > 0 && !e->fido2) {
		fprintf(stderr, "%s is a U2F-only key: it reports no model "
		    "(AAGUID), and the policy allows only the models in "
		    "key-models; nothing changed\n", e->product);
		r = -EPERM;
	} else if (e->fido2 && !model_allowed(e->login, e->aaguid)) {
		key_hex_aaguid(e->aaguid, g);
		fprintf(stderr, "%s: this key model (AAGUID %s) is not in the "
		    "policy's key-models; add it there to allow it. Nothing "
		    "changed\n", e->product, g);
		r = -EPERM;
	}
	e->has_pin = fido_dev_has_pin(e->dev);
	/* CTAP 2.1 §6.1.2 step 4: without makeCredUvNotRqd a key with a PIN
	 * wants it for every registration. */
	e->pin_needed = e->has_pin && (e->login->user_verification ||
	    ci == NULL || option_of(ci, "makeCredUvNotRqd") != 1);
	e->uv_builtin = e->login->user_verification && !e->has_pin &&
	    fido_dev_has_uv(e->dev);
out:
	fido_cbor_info_free(&ci);
	return r;
}

/* A PIN first when the policy needs one and the key has none. */
static int
set_new_pin(struct enroll *e)
{
	char again[PIN_BUF];
	int r;

	if (!fido_dev_supports_pin(e->dev)) {
		fprintf(stderr, "%s cannot have a PIN, and the policy "
		    "requires user verification; use another key. Nothing "
		    "changed\n", e->product);
		return -ENOTSUP;
	}
	if (ask_pin("New PIN for the security key: ", e->pin) < 0)
		return -EINVAL;
	r = ask_pin("The same PIN again: ", again);
	if (r == 0 && strcmp(again, e->pin) != 0) {
		fprintf(stderr, "the two PINs differ; nothing changed\n");
		r = -EINVAL;
	}
	explicit_bzero(again, sizeof(again));
	if (r == 0 && (r = fido_dev_set_pin(e->dev, e->pin, NULL)) !=
	    FIDO_OK) {
		fprintf(stderr, "%s: the PIN was not set: %s\n", e->product,
		    r == FIDO_ERR_PIN_POLICY_VIOLATION ? "the key refuses "
		    "this PIN (its own rules, such as a longer minimum)" :
		    fido_strerr(r));
		r = -EPERM;
	}
	if (r == 0) {
		printf("a PIN was set on the key\n");
		e->has_pin = e->pin_needed = true;
	}
	return r;
}

static int
get_pin(struct enroll *e)
{
	int retries = -1;

	if (!e->has_pin && e->login->user_verification && !e->uv_builtin) {
		if (e->o->pin)
			return set_new_pin(e);
		fprintf(stderr, "the policy requires user verification and "
		    "this key has no PIN: add --pin to set one now. Nothing "
		    "changed\n");
		return -EPERM;
	}
	if (!e->pin_needed)
		return 0;
	if (e->o->pin)
		fprintf(stderr, "the key already has a PIN (--pin is not "
		    "needed)\n");
	if (fido_dev_get_retry_count(e->dev, &retries) == FIDO_OK &&
	    retries == 0) {
		fprintf(stderr, "the key's PIN is blocked (no retries "
		    "left); it must be reset; nothing changed\n");
		return -EPERM;
	}
	return ask_pin("PIN of the security key: ", e->pin);
}

static const char *
make_cred_problem(struct enroll *e, int r)
{
	static char buf[128];
	int retries = -1;

	switch (r) {
	case FIDO_ERR_PIN_INVALID:
		if (fido_dev_get_retry_count(e->dev, &retries) == FIDO_OK)
			snprintf(buf, sizeof(buf), "wrong PIN (%d attempts "
			    "left before the key locks)", retries);
		return retries >= 0 ? buf : "wrong PIN";
	case FIDO_ERR_PIN_BLOCKED:
		return "the key's PIN is blocked; it must be reset";
	case FIDO_ERR_PIN_AUTH_BLOCKED:
		return "too many wrong PINs in a row: remove the key, insert "
		    "it again and retry";
	case FIDO_ERR_ACTION_TIMEOUT:
	case FIDO_ERR_USER_ACTION_TIMEOUT:
	case FIDO_ERR_RX:
		snprintf(buf, sizeof(buf), "the key was not touched within "
		    "%" PRIu32 " seconds", e->login->key_timeout_s);
		return buf;
	case FIDO_ERR_OPERATION_DENIED:
	case FIDO_ERR_KEEPALIVE_CANCEL:
		return "the registration was declined on the key";
	case FIDO_ERR_UNSUPPORTED_ALGORITHM:
		return "the key cannot make ES256 (P-256) credentials";
	default:
		return fido_strerr(r);
	}
}

static int
make_cred(struct enroll *e)
{
	const struct pmod_cred *mine[USER_KEYS_MAX];
	uint8_t uid[32], cdh[32];
	size_t n, i;
	int r;

	n = pmod_creds_for_user(e->creds, e->user, mine, USER_KEYS_MAX);
	if (getrandom(uid, sizeof(uid), 0) != (ssize_t)sizeof(uid) ||
	    getrandom(cdh, sizeof(cdh), 0) != (ssize_t)sizeof(cdh) ||
	    (e->cred = fido_cred_new()) == NULL ||
	    fido_cred_set_type(e->cred, COSE_ES256) != FIDO_OK ||
	    fido_cred_set_rp(e->cred, e->login->relying_party,
	    e->login->relying_party) != FIDO_OK ||
	    fido_cred_set_user(e->cred, uid, sizeof(uid), e->user, e->user,
	    NULL) != FIDO_OK ||
	    fido_cred_set_clientdata_hash(e->cred, cdh, sizeof(cdh)) !=
	    FIDO_OK ||
	    fido_cred_set_rk(e->cred, FIDO_OPT_OMIT) != FIDO_OK ||
	    fido_cred_set_uv(e->cred, e->uv_builtin ? FIDO_OPT_TRUE :
	    FIDO_OPT_OMIT) != FIDO_OK)
		return -ENOMEM;
	/* The user's credentials for this relying party: a key that holds
	 * one answers CREDENTIAL_EXCLUDED instead of making another. */
	for (i = 0; i < n && i < USER_KEYS_MAX; i++)
		if (strcmp(mine[i]->rp_id, e->login->relying_party) == 0 &&
		    fido_cred_exclude(e->cred, mine[i]->id,
		    mine[i]->id_len) != FIDO_OK)
			return -ENOMEM;
	(void)fido_dev_set_timeout(e->dev, (int)e->login->key_timeout_s *
	    1000);
	fprintf(stderr, "Touch the security key now\n");
	r = fido_dev_make_cred(e->dev, e->cred, e->pin_needed ? e->pin :
	    NULL);
	explicit_bzero(e->pin, sizeof(e->pin));
	if (r == FIDO_ERR_CREDENTIAL_EXCLUDED) {
		fprintf(stderr, "this key is already registered for %s; "
		    "nothing changed\n", e->user);
		return -EEXIST;
	}
	if (r != FIDO_OK) {
		(void)fido_dev_cancel(e->dev);
		fprintf(stderr, "%s: %s; nothing changed\n", e->product,
		    make_cred_problem(e, r));
		return -EPERM;
	}
	return 0;
}

/*
 * The attestation: with a certificate (packed with x5c, fido-u2f, tpm)
 * fido_cred_verify() checks its signature over the new credential; self
 * attestation (packed without x5c) is checked with the credential's own
 * key.  "none" proves nothing about the credential, so it is refused.
 * XXX: the certificate is not checked against the vendors' roots (FIDO
 * MDS); key-models therefore guards against mistakes and ordinary keys,
 * not against a key built to lie about its model.
 */
static int
verify_cred(struct enroll *e)
{
	const char *fmt = fido_cred_fmt(e->cred);
	bool x5c = fido_cred_x5c_len(e->cred) > 0;
	uint8_t flags = fido_cred_flags(e->cred);
	int r;

	if (!x5c && (fmt == NULL || strcmp(fmt, "packed") != 0)) {
		fprintf(stderr, "%s: the key sent no attestation (format "
		    "\"%s\"): nothing shows the credential was made by this "
		    "key; refused. Nothing changed\n", e->product,
		    fmt ? fmt : "?");
		return -EPROTO;
	}
	r = x5c ? fido_cred_verify(e->cred) : fido_cred_verify_self(e->cred);
	if (r != FIDO_OK) {
		fprintf(stderr, "%s: the key's %s attestation does not verify "
		    "(%s); refused. Nothing changed\n", e->product, x5c ?
		    "certificate" : "self", fido_strerr(r));
		return -EPROTO;
	}
	if (fido_cred_type(e->cred) != COSE_ES256 ||
	    fido_cred_pubkey_len(e->cred) != PMOD_ES256_PUBKEY_LEN ||
	    !(flags & FLAG_UP) || (e->login->user_verification &&
	    !(flags & FLAG_UV)) || (e->fido2 && memcmp(e->aaguid,
	    fido_cred_aaguid_ptr(e->cred), 16) != 0)) {
		fprintf(stderr, "%s: the new credential is not what was asked "
		    "for (ES256, presence%s, the model the key reported); "
		    "refused. Nothing changed\n", e->product,
		    e->login->user_verification ? ", verification" : "");
		return -EPROTO;
	}
	return 0;
}

/* ---- the file ------------------------------------------------------------ */

static const char *
label_problem(const char *s)
{
	size_t len = strlen(s), i, k;

	if (len > PMOD_LABEL_MAX)
		return "a label has at most 128 bytes";
	if (utf8_validate(s, len, NULL) < 0)
		return "a label must be UTF-8";
	for (i = 0; i < len; i += k) {
		unsigned char c = (unsigned char)s[i];

		k = utf8_seqlen(s + i, len - i);
		if (c < 0x20 || c == 0x7f || (c == 0xc2 &&
		    (unsigned char)s[i + 1] < 0xa0))
			return "a label cannot contain control characters";
	}
	return NULL;
}

static bool
label_taken(const struct pmod_creds *c, const char *user, const char *label)
{
	const struct pmod_cred *mine[USER_KEYS_MAX];
	size_t n = pmod_creds_for_user(c, user, mine, USER_KEYS_MAX), i;

	for (i = 0; i < n && i < USER_KEYS_MAX; i++)
		if (strcmp(mine[i]->label, label) == 0)
			return true;
	return false;
}

/* --label, or "USER's key YYYY-MM-DD" made unique with " (2)"... */
static int
choose_label(struct enroll *e)
{
	char day[16] = "";
	struct tm tm;
	time_t now = time(NULL);
	const char *why;
	unsigned i;

	if (e->o->label != NULL) {
		if ((why = label_problem(e->o->label)) != NULL ||
		    label_taken(e->creds, e->user, e->o->label)) {
			fprintf(stderr, "--label: %s\n", why != NULL ? why :
			    "the user already has a key with this label");
			return -EINVAL;
		}
		snprintf(e->label, sizeof(e->label), "%s", e->o->label);
		return 0;
	}
	if (localtime_r(&now, &tm) != NULL)
		strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	for (i = 1; i < 100; i++) {
		if (snprintf(e->label, sizeof(e->label), i == 1 ? "%s's key "
		    "%s" : "%s's key %s (%u)", e->user, day, i) >=
		    (int)sizeof(e->label))
			snprintf(e->label, sizeof(e->label), i == 1 ? "key %s" :
			    "key %s (%u)", day, i);
		if (!label_taken(e->creds, e->user, e->label))
			return 0;
	}
	return -EEXIST;
}

static int
store_cred(struct enroll *e, struct cli_events *ev)
{
	struct pmod_cred c = { .user = e->user, .alg = PMOD_ALG_ES256,
	    .id = fido_cred_id_ptr(e->cred),
	    .id_len = fido_cred_id_len(e->cred),
	    .pubkey = fido_cred_pubkey_ptr(e->cred),
	    .pubkey_len = fido_cred_pubkey_len(e->cred),
	    .rp_id = e->login->relying_party, .opts = PMOD_OPT_PRESENCE |
	    (e->has_pin ? PMOD_OPT_PIN : 0) | (e->uv_builtin ? PMOD_OPT_UV : 0),
	    .has_aaguid = e->fido2, .created = (int64_t)time(NULL),
	    .label = e->label };
	struct pmod_creds *now = NULL;
	const char *why = NULL;
	int r, code, lock = -1;

	memcpy(c.aaguid, e->aaguid, 16);
	if ((code = key_creds_lock_load(e->path, true, &lock, &now)) != 0)
		return code;
	r = pmod_creds_add(now, &c);
	if (r < 0) {
		if (r == -EINVAL)
			(void)pmod_cred_check(&c, &why);
		fprintf(stderr, "%s; nothing changed\n", r == -EEXIST ?
		    "this credential is already registered" : why != NULL ?
		    why : strerror(-r));
		code = EXIT_INVALID;
	} else if ((code = key_creds_save(e->path, now)) == 0)
		key_event(ev, MG_EV_KEY_ENROLLED, &c, "enroll");
	close(lock);
	pmod_creds_free(now);
	return code;
}

static void
print_enrolled(const struct enroll *e)
{
	struct pmod_cred c = { .id = fido_cred_id_ptr(e->cred),
	    .id_len = fido_cred_id_len(e->cred) };
	char id[65], g[37] = "- (U2F-only key)";

	pmod_cred_id_hash(&c, id);
	if (e->fido2)
		key_hex_aaguid(e->aaguid, g);
	printf("registered a key for %s\n  label   %s\n  id      %.16s\n"
	    "  aaguid  %s\n  rp      %s\n  key     %s\n", e->user, e->label,
	    id, g, e->login->relying_party, e->product);
}

/* The key's part, then the file's; an exit code. */
static int
enroll_run(struct enroll *e)
{
	struct cli_events ev = { .socket = e->o->socket,
	    .drop_dir = e->o->drop_dir };
	const struct pmod_cred *mine[1];
	int r, code;

	if (pmod_creds_for_user(e->creds, e->user, mine, 1) >=
	    USER_KEYS_MAX) {
		fprintf(stderr, "%s already has %u keys, the most a login "
		    "tries; revoke one first\n", e->user, USER_KEYS_MAX);
		return EXIT_INVALID;
	}
	if (choose_label(e) < 0) {
		if (e->o->label == NULL)
			fprintf(stderr, "no free default label; give one with "
			    "--label\n");
		return EXIT_INVALID;
	}
	if (getpwnam(e->user) == NULL)
		fprintf(stderr, "warning: there is no account %s on this "
		    "system yet\n", e->user);
	fido_init(0);
	if ((r = open_key(e)) < 0 || (r = read_info(e)) < 0 ||
	    (r = get_pin(e)) < 0 || (r = make_cred(e)) < 0 ||
	    (r = verify_cred(e)) < 0)
		return r == -EIO || r == -ENOMEM ? EXIT_USAGE : EXIT_INVALID;
	(void)fido_dev_close(e->dev);
	if ((code = store_cred(e, &ev)) != 0)
		return code;
	print_enrolled(e);
	cli_events_report(&ev);
	return 0;
}

int
key_enroll(const struct cli_opts *o)
{
	struct pol_policy *p = NULL;
	struct enroll *e = calloc(1, sizeof(*e));
	int code;

	if (e == NULL)
		return EXIT_USAGE;
	e->o = o;
	e->user = o->args[0];
	if (!key_user_ok(e->user))
		code = EXIT_INVALID;
	else if ((code = key_creds_path(o, true, &p, &e->path)) == 0 &&
	    (code = key_creds_load(e->path, true, &e->creds)) == 0) {
		e->login = pol_policy_login(p);
		code = enroll_run(e);
	}
	explicit_bzero(e->pin, sizeof(e->pin));
	fido_cred_free(&e->cred);
	if (e->dev != NULL) {
		(void)fido_dev_close(e->dev);	/* closed already: harmless */
		fido_dev_free(&e->dev);
	}
	pmod_creds_free(e->creds);
	pol_policy_free(p);
	free(e);
	return code;
}
