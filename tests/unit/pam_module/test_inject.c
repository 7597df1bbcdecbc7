/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Every error injected at every call site never gives a success (pam_u2f
 * CVE-2025-23013: error paths that returned PAM_IGNORE or PAM_SUCCESS).
 *
 * The module's pam_sm_authenticate() runs in-process with a real PAM
 * handle (pam_start_confdir(), then pam_authenticate() on a service whose
 * one line is a shim module that calls it: see inject_wrap.c) against the
 * software authenticator (tests/softkey) behind libfido2's io hooks, with
 * a real policy, credential file, tally and counter store.  Every call the
 * module makes into another object or library goes through inject_wrap.c
 * (-Wl,--wrap).  For each scenario a clean run counts the wrapped calls
 * (T); then for every N in 1..T+1, in a fresh child process with fresh
 * state directories, the N-th call fails, in each of its ways in turn.
 * The rules:
 *   - the result is never PAM_IGNORE;
 *   - in a scenario that fails when clean, it is never PAM_SUCCESS;
 *   - in one that succeeds when clean, it is PAM_SUCCESS only when the
 *     failure cannot matter (benign[] below, each such row says why);
 *   - the child exits normally: no crash, and under ASan no leak (LSan
 *     runs at each child's exit).
 * Prints one row per injection and a summary; exits 1 on any violation,
 * 77 when not root (the credential file must be root's).
 *
 * Environment: INJECT_SCENARIO=name runs one scenario; INJECT_AT=N (and
 * INJECT_VARIANT=v) runs that one injection and shows the conversation;
 * INJECT_JOBS=n children at a time (default: the number of CPUs, max 16).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fido.h>
#include <security/pam_appl.h>
#include <security/pam_modules.h>

#include "mynaguard/login.h"
#include "softkey.h"

#define INJECT_API_ONLY
#include "inject_wrap.c"

#define USER "root"		/* the credential file must be root's */
#define RP "pam://inject.test"
#define PIN_GOOD "246810"
#define PIN_BAD "135790"
#define TTY "pts/7"
#define RHOST "192.0.2.7"
#define JOBS_MAX 16u
#define PATH_LEN 256	/* our paths are short: /tmp/mg-inject.XXXXXX/... */

struct scenario {
	const char *name;
	const char *what;
	int expect;		/* the clean run's result */
	const char *require;	/* require-key = */
	bool uv;		/* user-verification = required */
	int models;		/* key-models: 0 none, 1 incl. the key's,
				 * 2 only another model */
	bool one_cred;		/* the user has one credential, not two */
	bool pin_removed;	/* the key has no PIN */
	bool wrong_pin;		/* the user types a wrong PIN */
	bool locked;		/* threshold failures in the tally */
	bool cloned;		/* the stored counter is ahead of the key */
};

static const struct scenario scenarios[] = {
	{ "uv-pin", "PIN required, two credentials, require-key = @root",
	    PAM_SUCCESS, "@root", true, 0, false, false, false, false, false },
	{ "key-models", "PIN required, key-models lists the key's model",
	    PAM_SUCCESS, "*", true, 1, false, false, false, false, false },
	{ "no-uv", "user verification not required, one credential",
	    PAM_SUCCESS, "root", false, 0, true, false, false, false, false },
	{ "no-pin-key", "PIN required, the key has none",
	    PAM_AUTH_ERR, "@root", true, 0, false, true, false, false, false },
	{ "wrong-pin", "PIN required, a wrong PIN is typed",
	    PAM_AUTH_ERR, "@root", true, 0, false, false, true, false, false },
	{ "locked", "the account is locked by the tally",
	    PAM_AUTH_ERR, "@root", true, 0, false, false, false, true, false },
	{ "cloned", "the stored counter is ahead of the key's",
	    PAM_AUTH_ERR, "@root", true, 0, false, false, false, false, true },
	{ "model-refused", "key-models lists only another model",
	    PAM_AUTH_ERR, "*", true, 2, false, false, false, false, false },
};

/* Successes that are right although a call failed. */
#define W_ANY 0u
#define W_NO_MODELS 1u		/* no key-models in the policy */
#define W_ONE_CRED 2u		/* one credential in the allow list */

/* A lookup that decides whether the key is required fails towards
 * requiring it; the key then answered, so the success is right. */
#define REQUIRED "the key was required anyway, and it answered"

static const struct benign {
	const char *site;
	unsigned occ;		/* the site's k-th call; 0: any */
	const char *value;	/* NULL: any way of failing */
	unsigned when;
	const char *why;
} benign[] = {
	{ "pam_prompt(info)", 0, NULL, W_ANY,
	    "a message not shown does not change the outcome" },
	{ "pam_prompt(error)", 0, NULL, W_ANY,
	    "a message not shown does not change the outcome" },
	{ "mg_submit_event", 0, NULL, W_ANY,
	    "event not delivered: logged, the outcome stands" },
	{ "pmod_tally_reset", 0, NULL, W_ANY,
	    "clearing the tally after the decision" },
	{ "fido_dev_get_retry_count", 0, NULL, W_ANY,
	    "the retry count is informational" },
	{ "fido_dev_get_cbor_info", 0, NULL, W_NO_MODELS,
	    "model only reported: no key-models" },
	{ "fido_cbor_info_new", 0, NULL, W_NO_MODELS,
	    "model only reported: no key-models" },
	{ "fido_cbor_info_aaguid_len", 0, NULL, W_NO_MODELS,
	    "model only reported: no key-models" },
	{ "fido_cbor_info_aaguid_ptr", 0, NULL, W_NO_MODELS,
	    "model only reported: no key-models" },
	{ "fido_dev_set_sigmask", 0, NULL, W_ANY,
	    "only decides whether a signal ends the wait" },
	{ "fido_dev_set_timeout", 0, NULL, W_ANY,
	    "only bounds the wait for a touch" },
	{ "pam_getenv", 0, NULL, W_ANY, "TERM only picks the language" },
	{ "pol_login_is_break_glass", 0, NULL, W_ANY, REQUIRED },
	{ "pam_modutil_getpwnam", 0, NULL, W_ANY, REQUIRED },
	{ "getgrouplist", 0, NULL, W_ANY, REQUIRED },
	{ "pam_modutil_getgrgid", 0, NULL, W_ANY, REQUIRED },
	{ "pol_login_requires_key", 0, NULL, W_ANY, REQUIRED },
	{ "fido_dev_info_manifest", 1, NULL, W_ANY,
	    "no key listed: polled again within key-timeout" },
	{ "pmod_cred_id_hash", 1, NULL, W_ANY,
	    "probed key's event name; recomputed for the answer" },
	{ "fido_dev_get_assert", 1, "FIDO_ERR_USER_PRESENCE_REQUIRED",
	    W_ONE_CRED, "probe: U2F 'known credential'; the answer is "
	    "still verified" },
	{ "fido_assert_id_ptr", 0, "NULL", W_ONE_CRED,
	    "CTAP2 5.2: one allowed credential, id may be omitted" },
};

/* What a child reports. */
struct outcome {
	int pam;
	bool done;		/* the child got to the end */
	int status;		/* its wait status */
	struct inject_result inj;
	char said[200];		/* the last error message shown */
};

static char g_root[32];		/* everything lives in here */
static char g_confdir[64];
static char g_creds[2][PATH_LEN];	/* two credentials, one */
static char g_policy[MG_ELEMENTSOF(scenarios)][PATH_LEN];
static struct softkey *g_sk;
static uint8_t g_aaguid[16];
static uint32_t g_counter;	/* the key's counter after enrollment */
static char g_idhash[2][65];
static const char *g_pin = PIN_GOOD;
static char g_said[200];
static bool g_verbose;

static struct {
	unsigned runs, sites, injected, benign, bad_success, bad_other;
} tot;

/* ---- the authenticator behind libfido2's io hooks --------------------- */

/*
 * libfido2 1.12 reads the report lengths through the handle as a struct
 * hid_linux prefix when an entry made by fido_dev_info_set() has no
 * transport functions (tests/softkey/softkey_io.c explains it).
 */
static struct key_handle {
	int fd;
	size_t report_in_len;
	size_t report_out_len;
	struct softkey *sk;
} g_handle;

static void *
key_open(const char *path)
{
	(void)path;
	g_handle.fd = -1;
	g_handle.report_in_len = SOFTKEY_REPORT_LEN;
	g_handle.report_out_len = SOFTKEY_REPORT_LEN;
	g_handle.sk = g_sk;
	return &g_handle;
}

static void
key_close(void *h)
{
	(void)h;
}

static int
key_read(void *h, unsigned char *buf, size_t len, int ms)
{
	struct key_handle *k = h;
	int r;

	inject_quiet_begin();
	r = softkey_hid_read(k->sk, buf, len, ms);
	inject_quiet_end();
	return r < 0 ? -1 : r;
}

static int
key_write(void *h, const unsigned char *buf, size_t len)
{
	struct key_handle *k = h;
	int r;

	inject_quiet_begin();
	r = softkey_hid_write(k->sk, buf, len);
	inject_quiet_end();
	return r < 0 ? -1 : r;
}

static const fido_dev_io_t key_io = { key_open, key_close, key_read,
	key_write };

static int
manifest(fido_dev_info_t *list, size_t ilen, size_t *olen)
{
	int r;

	*olen = 0;
	if (ilen < 1)
		return FIDO_OK;
	r = fido_dev_info_set(list, 0, "softkey:inject", "mynaguard",
	    "softkey", &key_io, NULL);
	if (r == FIDO_OK)
		*olen = 1;
	return r;
}

/* ---- setup ------------------------------------------------------------ */

static void
die(const char *what, int r)
{
	fprintf(stderr, "test_inject: %s: %s\n", what, r < 0 ?
	    strerror(-r) : fido_strerr(r));
	exit(2);
}

static void
write_file(const char *path, const char *text)
{
	size_t len = strlen(text);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len || close(fd) < 0)
		die(path, -errno);
}

static fido_dev_t *
open_key(void)
{
	fido_dev_info_t *di = fido_dev_info_new(1);
	fido_dev_t *dev = NULL;
	size_t n = 0;
	int r;

	if (di == NULL || manifest(di, 1, &n) != FIDO_OK || n != 1)
		die("device list", FIDO_ERR_INTERNAL);
	if ((dev = fido_dev_new_with_info(fido_dev_info_ptr(di, 0))) == NULL)
		die("fido_dev_new_with_info", FIDO_ERR_INTERNAL);
	if ((r = fido_dev_open_with_info(dev)) != FIDO_OK)
		die("fido_dev_open_with_info", r);
	fido_dev_info_free(&di, 1);
	return dev;
}

/* Make a credential on the key (the way `mynaguard key enroll` does) and
 * add it to list. */
static void
enroll(fido_dev_t *dev, struct pmod_creds *list, int k)
{
	static const unsigned char cdh[32] = { 'i', 'n', 'j', 'e', 'c', 't' };
	unsigned char uid[8] = { 'u', 's', 'e', 'r', (unsigned char)k };
	struct pmod_cred pc;
	char label[32];
	fido_cred_t *cred;
	int r;

	if ((cred = fido_cred_new()) == NULL)
		die("fido_cred_new", FIDO_ERR_INTERNAL);
	if ((r = fido_cred_set_type(cred, COSE_ES256)) != FIDO_OK ||
	    (r = fido_cred_set_clientdata_hash(cred, cdh,
	    sizeof(cdh))) != FIDO_OK ||
	    (r = fido_cred_set_rp(cred, RP, NULL)) != FIDO_OK ||
	    (r = fido_cred_set_user(cred, uid, sizeof(uid), USER, NULL,
	    NULL)) != FIDO_OK ||
	    (r = fido_dev_make_cred(dev, cred, PIN_GOOD)) != FIDO_OK)
		die("make credential", r);
	memset(&pc, 0, sizeof(pc));
	(void)snprintf(label, sizeof(label), "inject key %d", k + 1);
	pc.user = USER;
	pc.id = fido_cred_id_ptr(cred);
	pc.id_len = fido_cred_id_len(cred);
	pc.alg = PMOD_ALG_ES256;
	pc.pubkey = fido_cred_pubkey_ptr(cred);
	pc.pubkey_len = fido_cred_pubkey_len(cred);
	pc.rp_id = RP;
	pc.opts = PMOD_OPT_PRESENCE | PMOD_OPT_PIN | PMOD_OPT_UV;
	if (fido_cred_aaguid_len(cred) == 16) {
		memcpy(pc.aaguid, fido_cred_aaguid_ptr(cred), 16);
		memcpy(g_aaguid, pc.aaguid, 16);
		pc.has_aaguid = true;
	}
	pc.created = (int64_t)time(NULL);
	pc.label = label;
	pmod_cred_id_hash(&pc, g_idhash[k]);
	if ((r = pmod_creds_add(list, &pc)) < 0)
		die("pmod_creds_add", r);
	fido_cred_free(&cred);
}

static void
make_credentials(void)
{
	struct pmod_creds *two = NULL, *one = NULL;
	fido_dev_t *dev;
	int r;

	dev = open_key();
	if ((r = pmod_creds_new(&two)) < 0 || (r = pmod_creds_new(&one)) < 0)
		die("pmod_creds_new", r);
	enroll(dev, two, 0);
	enroll(dev, two, 1);
	if ((r = pmod_creds_add(one, pmod_creds_at(two, 0))) < 0)
		die("pmod_creds_add", r);
	(void)snprintf(g_creds[0], sizeof(g_creds[0]), "%s/creds-two", g_root);
	(void)snprintf(g_creds[1], sizeof(g_creds[1]), "%s/creds-one", g_root);
	if ((r = pmod_creds_save(g_creds[0], two)) < 0 ||
	    (r = pmod_creds_save(g_creds[1], one)) < 0)
		die("pmod_creds_save", r);
	pmod_creds_free(two);
	pmod_creds_free(one);
	(void)fido_dev_close(dev);
	fido_dev_free(&dev);
	g_counter = softkey_counter(g_sk);
}

static void
hex(const uint8_t *p, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hx[p[i] >> 4];
		out[2 * i + 1] = hx[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static void
write_policy(size_t i)
{
	const struct scenario *sc = &scenarios[i];
	char text[2048], models[80] = "", key[33];
	int n;

	hex(g_aaguid, 16, key);
	if (sc->models == 1)
		(void)snprintf(models, sizeof(models), "key-models = "
		    "ee882879721c491397753dfcce97072a %s\n", key);
	else if (sc->models == 2)
		(void)snprintf(models, sizeof(models), "key-models = "
		    "ee882879721c491397753dfcce97072a\n");
	n = snprintf(text, sizeof(text), "[devices]\ndefault block\n\n"
	    "[login]\nrequire-key = %s\nuser-verification = %s\n"
	    "lockout-threshold = 5\nunlock-after = 15m\n"
	    "break-glass = glass\ncredentials = %s\n"
	    "relying-party = " RP "\nkey-timeout = 1s\n%s", sc->require,
	    sc->uv ? "required" : "not-required",
	    g_creds[sc->one_cred ? 1 : 0], models);
	if (n < 0 || (size_t)n >= sizeof(text))
		die("policy text", -E2BIG);
	(void)snprintf(g_policy[i], sizeof(g_policy[i]), "%s/policy-%s.conf",
	    g_root, sc->name);
	write_file(g_policy[i], text);
}

static void
setup(void)
{
	char svc[96];
	size_t i;
	int r;

	(void)snprintf(g_root, sizeof(g_root), "/tmp/mg-inject.XXXXXX");
	if (mkdtemp(g_root) == NULL)
		die("mkdtemp", -errno);
	(void)snprintf(g_confdir, sizeof(g_confdir), "%s/pam.d", g_root);
	if (mkdir(g_confdir, 0700) < 0)
		die(g_confdir, -errno);
	(void)snprintf(svc, sizeof(svc), "%s/inject", g_confdir);
	write_file(svc, "auth required " INJECT_SHIM_PATH "\n");
	if ((r = softkey_new(&g_sk)) < 0 ||
	    (r = softkey_set_pin(g_sk, PIN_GOOD)) < 0)
		die("softkey", r);
	inject_set_manifest(manifest);
	fido_init(0);
	make_credentials();
	for (i = 0; i < MG_ELEMENTSOF(scenarios); i++)
		write_policy(i);
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	(void)remove(path);
	return 0;
}

static void
rm_rf(const char *path)
{
	(void)nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- one attempt, in a child ------------------------------------------ */

static int
conv(int n, const struct pam_message **msg, struct pam_response **resp,
    void *data)
{
	struct pam_response *r;
	int i;

	(void)data;
	if (n <= 0 || n > PAM_MAX_NUM_MSG ||
	    (r = calloc((size_t)n, sizeof(*r))) == NULL)
		return PAM_CONV_ERR;
	for (i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			r[i].resp = strdup(g_pin);
			break;
		case PAM_ERROR_MSG:
			(void)snprintf(g_said, sizeof(g_said), "%s",
			    msg[i]->msg);
			break;
		default:
			break;
		}
		if (g_verbose)
			printf("    conversation %d: %s%s%s\n",
			    msg[i]->msg_style, msg[i]->msg,
			    r[i].resp != NULL ? " -> " : "",
			    r[i].resp != NULL ? "(the PIN)" : "");
	}
	*resp = r;
	return PAM_SUCCESS;
}

/* The state a scenario starts from, in the fresh directory run. */
static void
prepare(const struct scenario *sc, const char *tally, const char *counters)
{
	uint32_t stored = sc->cloned ? g_counter + 1000000 : g_counter;
	int k, r;

	if ((r = pmod_counter_set(counters, g_idhash[0], stored)) < 0 ||
	    (r = pmod_counter_set(counters, g_idhash[1], stored)) < 0)
		die("pmod_counter_set", r);
	for (k = 0; sc->locked && k < 5; k++)
		if ((r = pmod_tally_record(tally, USER, TTY,
		    PMOD_TALLY_SOURCE_TTY, (uint64_t)time(NULL))) < 0)
			die("pmod_tally_record", r);
	if (sc->pin_removed && (r = softkey_set_pin(g_sk, NULL)) < 0)
		die("softkey_set_pin", r);
	if (sc->wrong_pin)
		g_pin = PIN_BAD;
}

static void
child(size_t si, unsigned at, unsigned variant, int fd)
{
	const struct scenario *sc = &scenarios[si];
	char run[64], a[6][PATH_LEN + 16];	/* "policy=" + a path */
	const char *argv[6];
	struct inject_pam_call call = { pam_sm_authenticate, 6, argv, false,
		PAM_SYSTEM_ERR };
	struct pam_conv pc = { conv, &call };
	pam_handle_t *pamh = NULL;
	struct outcome o;
	int i, r;

	memset(&o, 0, sizeof(o));
	(void)alarm(120);
	(void)snprintf(run, sizeof(run), "%s/run.XXXXXX", g_root);
	if (mkdtemp(run) == NULL)
		die("mkdtemp", -errno);
	(void)snprintf(a[0], sizeof(a[0]), "policy=%s", g_policy[si]);
	(void)snprintf(a[1], sizeof(a[1]), "socket=%s/no-agent.sock", run);
	(void)snprintf(a[2], sizeof(a[2]), "dropdir=%s/drop", run);
	(void)snprintf(a[3], sizeof(a[3]), "tallydir=%s/tally", run);
	(void)snprintf(a[4], sizeof(a[4]), "counterdir=%s/counters", run);
	(void)snprintf(a[5], sizeof(a[5]), "event_timeout=100");
	for (i = 0; i < 6; i++)
		argv[i] = a[i];
	if (mkdir(a[2] + 8, 0700) < 0)
		die("mkdir drop", -errno);
	prepare(sc, a[3] + 9, a[4] + 11);
	if (pam_start_confdir("inject", USER, &pc, g_confdir, &pamh) !=
	    PAM_SUCCESS || pam_set_item(pamh, PAM_TTY, TTY) != PAM_SUCCESS ||
	    pam_set_item(pamh, PAM_RHOST, RHOST) != PAM_SUCCESS)
		die("pam_start_confdir", -EIO);
	inject_arm(at, variant);
	r = pam_authenticate(pamh, 0);
	inject_disarm(&o.inj);
	if (!call.called)
		die("the shim module was not called", -EPROTO);
	o.pam = call.result;	/* the module's own code, not the stack's */
	(void)pam_end(pamh, r);
	memcpy(o.said, g_said, sizeof(o.said));
	o.done = true;
	rm_rf(run);
	if (write(fd, &o, sizeof(o)) != (ssize_t)sizeof(o))
		die("write", -errno);
	(void)close(fd);
	fflush(stdout);
	exit(0);		/* not _exit(): LeakSanitizer runs at exit */
}

/* ---- the parent: jobs, checks, the table ------------------------------ */

static unsigned g_jobs = 1;

static pid_t
start(size_t si, unsigned at, unsigned variant, int *ret_fd)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		die("pipe", -errno);
	fflush(stdout);
	if ((pid = fork()) < 0)
		die("fork", -errno);
	if (pid == 0) {
		(void)close(p[0]);
		child(si, at, variant, p[1]);
	}
	(void)close(p[1]);
	*ret_fd = p[0];
	return pid;
}

/* The child has exited: its report is in the pipe (or it never wrote). */
static void
collect(int fd, int status, struct outcome *out)
{
	size_t got = 0;
	ssize_t n;

	memset(out, 0, sizeof(*out));
	while (got < sizeof(*out) && (n = read(fd, (char *)out + got,
	    sizeof(*out) - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		got += (size_t)n;
	}
	(void)close(fd);
	if (got != sizeof(*out))
		memset(out, 0, sizeof(*out));
	out->status = status;
}

/* Run the (at[i], variant[i]) injections, g_jobs children at a time. */
static void
run_batch(size_t si, const unsigned *at, const unsigned *variant, size_t n,
    struct outcome *out)
{
	struct {
		pid_t pid;
		int fd;
		size_t i;
	} job[JOBS_MAX];
	size_t next = 0, running = 0, k;
	int status;
	pid_t pid;

	memset(job, 0, sizeof(job));
	while (next < n || running > 0) {
		for (k = 0; next < n && k < g_jobs; k++) {
			if (job[k].pid != 0)
				continue;
			job[k].i = next;
			job[k].pid = start(si, at[next], variant[next],
			    &job[k].fd);
			next++;
			running++;
		}
		if ((pid = waitpid(-1, &status, 0)) < 0) {
			if (errno == EINTR)
				continue;
			die("waitpid", -errno);
		}
		for (k = 0; k < g_jobs; k++)
			if (job[k].pid == pid)
				break;
		if (k == g_jobs)
			continue;
		collect(job[k].fd, status, &out[job[k].i]);
		job[k].pid = 0;
		running--;
	}
}

static const char *
pam_name(int r)
{
	static char buf[16];

	switch (r) {
	case PAM_SUCCESS: return "PAM_SUCCESS";
	case PAM_AUTH_ERR: return "PAM_AUTH_ERR";
	case PAM_SYSTEM_ERR: return "PAM_SYSTEM_ERR";
	case PAM_BUF_ERR: return "PAM_BUF_ERR";
	case PAM_SERVICE_ERR: return "PAM_SERVICE_ERR";
	case PAM_AUTHINFO_UNAVAIL: return "PAM_AUTHINFO_UNAVAIL";
	case PAM_USER_UNKNOWN: return "PAM_USER_UNKNOWN";
	case PAM_INCOMPLETE: return "PAM_INCOMPLETE";
	case PAM_CONV_ERR: return "PAM_CONV_ERR";
	case PAM_IGNORE: return "PAM_IGNORE";
	case PAM_ABORT: return "PAM_ABORT";
	case PAM_PERM_DENIED: return "PAM_PERM_DENIED";
	case PAM_MAXTRIES: return "PAM_MAXTRIES";
	case PAM_CRED_INSUFFICIENT: return "PAM_CRED_INSUFFICIENT";
	}
	(void)snprintf(buf, sizeof(buf), "PAM(%d)", r);
	return buf;
}

static const char *
benign_why(const struct scenario *sc, const struct inject_result *in)
{
	unsigned have = (sc->models == 0 ? W_NO_MODELS : 0) |
	    (sc->one_cred ? W_ONE_CRED : 0);
	size_t i;

	for (i = 0; i < MG_ELEMENTSOF(benign); i++) {
		const struct benign *b = &benign[i];

		if (strcmp(b->site, in->site) == 0 &&
		    (b->occ == 0 || b->occ == in->site_occ) &&
		    (b->value == NULL || (strcmp(b->site, in->func) == 0 &&
		    strcmp(b->value, in->value) == 0)) &&
		    (b->when & have) == b->when)
			return b->why;
	}
	return NULL;
}

/* What went wrong with this result, or NULL; *ret_why for a benign
 * success. */
static const char *
violation(const struct scenario *sc, unsigned at, unsigned total,
    const struct outcome *o, const char **ret_why)
{
	const struct inject_result *in = &o->inj;

	*ret_why = NULL;
	if (WIFSIGNALED(o->status))
		return "crashed";
	if (!WIFEXITED(o->status) || WEXITSTATUS(o->status) != 0 || !o->done)
		return "abnormal exit (sanitizer report above)";
	if (o->pam == PAM_IGNORE)
		return "PAM_IGNORE";
	if (at != 0 && at <= total && !in->fired)
		return "call sequence differs from the clean run";
	if (!in->fired)
		return o->pam != sc->expect ? "result differs from the clean "
		    "run" : NULL;
	if (o->pam != PAM_SUCCESS)
		return NULL;
	if (sc->expect == PAM_SUCCESS && (*ret_why = benign_why(sc, in)))
		return NULL;
	return "success with a failed call";
}

/* Check one result and print its row; returns false on a violation. */
static bool
judge(const struct scenario *sc, unsigned at, unsigned total,
    const struct outcome *o)
{
	const struct inject_result *in = &o->inj;
	char call[2 * INJECT_NAME_MAX + 24];
	const char *bad, *why;

	if (in->fired && strcmp(in->site, in->func) != 0)
		(void)snprintf(call, sizeof(call), "%s#%u in %s#%u", in->func,
		    in->func_occ, in->site, in->site_occ);
	else if (in->fired)
		(void)snprintf(call, sizeof(call), "%s#%u", in->func,
		    in->func_occ);
	else
		(void)snprintf(call, sizeof(call), "(none of %u calls)",
		    in->calls);
	bad = violation(sc, at, total, o, &why);
	printf("%-13s %4u.%-2u %-52s %-28s %-20s %s%s\n", sc->name, at,
	    in->variant, call, in->fired ? in->value : "-",
	    o->done ? pam_name(o->pam) : "-", bad != NULL ? "FAIL: " :
	    why != NULL ? "benign: " : "", bad != NULL ? bad : why != NULL ?
	    why : "");
	if (bad != NULL && o->said[0] != '\0')
		printf("%-13s %7s last error shown: %s\n", "", "", o->said);
	tot.runs++;
	tot.injected += in->fired;
	tot.benign += why != NULL;
	if (bad != NULL && o->done && o->pam == PAM_SUCCESS)
		tot.bad_success++;
	else if (bad != NULL)
		tot.bad_other++;
	return bad == NULL;
}

/* Every call of the clean run fails in its first way, then in each of its
 * other ways; the call after the last one must change nothing. */
static bool
run_scenario(size_t si, unsigned only_at, unsigned only_variant)
{
	const struct scenario *sc = &scenarios[si];
	unsigned *at, *var, *at2, *var2, total, n, i, k, zero = 0;
	struct outcome clean, *out, *more;
	size_t n2 = 0;
	bool ok;

	printf("== %s: %s (clean: %s)\n", sc->name, sc->what,
	    pam_name(sc->expect));
	if (only_at != 0) {
		run_batch(si, &only_at, &only_variant, 1, &clean);
		return judge(sc, only_at, 0, &clean);
	}
	run_batch(si, &zero, &zero, 1, &clean);
	if (!judge(sc, 0, 0, &clean) || (total = clean.inj.calls) == 0)
		return false;
	n = total + 1;
	at = calloc(n, sizeof(*at));
	var = calloc(n, sizeof(*var));
	out = calloc(n, sizeof(*out));
	if (at == NULL || var == NULL || out == NULL)
		die("calloc", -ENOMEM);
	for (i = 0; i < n; i++)
		at[i] = i + 1;
	run_batch(si, at, var, n, out);
	for (i = 0; i < n; i++)
		if (out[i].inj.fired)
			n2 += out[i].inj.nvariants - 1;
	at2 = calloc(n2 + 1, sizeof(*at2));
	var2 = calloc(n2 + 1, sizeof(*var2));
	more = calloc(n2 + 1, sizeof(*more));
	if (at2 == NULL || var2 == NULL || more == NULL)
		die("calloc", -ENOMEM);
	for (i = 0, n2 = 0; i < n; i++)
		for (k = 1; out[i].inj.fired && k < out[i].inj.nvariants;
		    k++) {
			at2[n2] = i + 1;
			var2[n2++] = k;
		}
	run_batch(si, at2, var2, n2, more);
	ok = true;
	for (i = 0, k = 0; i < n; i++) {
		ok = judge(sc, i + 1, total, &out[i]) && ok;
		tot.sites += out[i].inj.fired;
		for (; k < n2 && at2[k] == i + 1; k++) {
			if (strcmp(more[k].inj.func, out[i].inj.func) != 0) {
				printf("%-13s FAIL: call %u was %s, now %s\n",
				    sc->name, i + 1, out[i].inj.func,
				    more[k].inj.func);
				tot.bad_other++;
				ok = false;
			}
			ok = judge(sc, i + 1, total, &more[k]) && ok;
		}
	}
	printf("== %s: %u wrapped calls in the clean run, %s\n\n", sc->name,
	    total, ok ? "ok" : "FAILED");
	free(at);
	free(var);
	free(out);
	free(at2);
	free(var2);
	free(more);
	return ok;
}

static unsigned
env_u(const char *name, unsigned dflt)
{
	const char *s = getenv(name);
	char *end;
	unsigned long v;

	if (s == NULL || s[0] == '\0')
		return dflt;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > UINT_MAX) {
		fprintf(stderr, "test_inject: bad %s\n", name);
		exit(2);
	}
	return (unsigned)v;
}

int
main(void)
{
	const char *only = getenv("INJECT_SCENARIO");
	unsigned at = env_u("INJECT_AT", 0), variant = env_u("INJECT_VARIANT",
	    0);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	bool ok = true;
	size_t i;

	if (geteuid() != 0) {
		printf("test_inject: skipped: the credential file must be "
		    "root's (run as root)\n");
		return 77;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	g_jobs = env_u("INJECT_JOBS", cpus > 0 ? (unsigned)cpus : 1);
	if (g_jobs < 1)
		g_jobs = 1;
	if (g_jobs > JOBS_MAX)
		g_jobs = JOBS_MAX;
	g_verbose = at != 0;
	(void)signal(SIGPIPE, SIG_IGN);
	setup();
	printf("%-13s %4s.%-2s %-52s %-26s %-20s %s\n", "scenario", "N", "v",
	    "failed call (k-th) [in the module's call]", "returned", "result",
	    "note");
	for (i = 0; i < MG_ELEMENTSOF(scenarios); i++) {
		if (only != NULL && strcmp(only, scenarios[i].name) != 0)
			continue;
		ok = run_scenario(i, at, variant) && ok;
	}
	rm_rf(g_root);
	softkey_free(g_sk);
	printf("injected %u failures at %u call sites: %u successes outside "
	    "the benign set\n(%u runs, %u benign successes, %u other "
	    "violations: PAM_IGNORE, crash, leak, changed sequence)\n",
	    tot.injected, tot.sites, tot.bad_success, tot.runs, tot.benign,
	    tot.bad_other);
	return ok && tot.bad_success == 0 && tot.bad_other == 0 ? 0 : 1;
}
