/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The harness of pam_login.c: the work directory, checks, the PAM
 * conversation, software keys and their enrollment, the events of the drop
 * directory, and the files the module keeps (counters, tally).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fido.h>
#include <libpamtest.h>

#include "pam_harness.h"
#include "softkey.h"

extern char **environ;

/* The environment for system tools we run (faillock, rm): without our
 * LD_PRELOAD, whose libraries may need the ASan runtime of this program. */
static char **
tool_env(void)
{
	static char *env[256];
	size_t i, n = 0;

	for (i = 0; environ[i] != NULL && n < 255; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0)
			env[n++] = environ[i];
	env[n] = NULL;
	return env;
}

/* ---- the work directory ------------------------------------------------ */

char work[256];		/* /tmp/mg-pam.XXXXXX */
const char *module_path;
const char *locale_dir;

const char *
wpath(const char *name)
{
	static char buf[8][600];
	static unsigned i;
	char *p = buf[i++ % 8];

	xsnprintf(p, sizeof(buf[0]), "%s/%s", work, name);
	return p;
}

void
die(const char *fmt, ...)
{
	va_list ap;

	cleanup();
	va_start(ap, fmt);
	fputs("pam_login: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void
xsnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		die("%zu bytes are not enough", size);
}

void
write_file(const char *path, mode_t mode, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	size_t len = strlen(text);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len ||
	    fchmod(fd, mode) < 0 || close(fd) < 0)
		die("write %s: %s", path, strerror(errno));
}

/* ---- checks ------------------------------------------------------------ */

const char *const lang_names[] = { "en", "ja", "ja+tty1",
	"ja+TERM=linux" };
enum lang lang;
const char *case_name = "setup";
unsigned n_checks, n_failed;

bool
check(bool ok, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	n_checks++;
	if (ok)
		return true;
	n_failed++;
	fprintf(stderr, "FAIL [%s, %s] %s:%d: ", lang_names[lang], case_name,
	    strrchr(file, '/') != NULL ? strrchr(file, '/') + 1 : file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return false;
}

bool
ja(void)
{
	return lang == LANG_JA;
}

static char slots[16][512];
static unsigned slot_i;

char *
slot_next(void)
{
	return slots[++slot_i % 16];
}

const char *
fmt_slot(int n)
{
	(void)n;
	return slots[slot_i % 16];
}

/* ---- the conversation ------------------------------------------------- */

struct conv {
	enum answer_how how;
	const char *answers[4];
	size_t next;
	char *seen[MSGS_MAX];	/* "I:", "E:", "P:" (echo off), "Q:" (on) */
	size_t n_seen;
};

static void
conv_note(struct conv *cv, char kind, const char *msg)
{
	char *s;

	if (cv->n_seen == MSGS_MAX || asprintf(&s, "%c:%s", kind,
	    msg != NULL ? msg : "(null)") < 0)
		return;
	cv->seen[cv->n_seen++] = s;
}

static int
conv_fn(int n, const struct pam_message **msg, struct pam_response **resp,
    void *data)
{
	struct conv *cv = data;
	struct pam_response *r;
	int i;

	if (n <= 0 || (r = calloc((size_t)n, sizeof(*r))) == NULL)
		return PAM_CONV_ERR;
	for (i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_TEXT_INFO:
			conv_note(cv, 'I', msg[i]->msg);
			break;
		case PAM_ERROR_MSG:
			conv_note(cv, 'E', msg[i]->msg);
			break;
		case PAM_PROMPT_ECHO_OFF:
		case PAM_PROMPT_ECHO_ON:
			conv_note(cv, msg[i]->msg_style == PAM_PROMPT_ECHO_OFF ?
			    'P' : 'Q', msg[i]->msg);
			if (cv->how == ANSWER_NULL)
				break;
			if (cv->how == ANSWER_CONV_ERR || cv->next == 4 ||
			    cv->answers[cv->next] == NULL)
				goto fail;
			if ((r[i].resp = strdup(cv->answers[cv->next++])) ==
			    NULL)
				goto fail;
			break;
		default:
			goto fail;
		}
	}
	if (cv->how == ANSWER_NULL) {
		free(r);
		*resp = NULL;
		return PAM_SUCCESS;
	}
	*resp = r;
	return PAM_SUCCESS;
fail:
	for (i = 0; i < n; i++)
		free(r[i].resp);
	free(r);
	return PAM_CONV_ERR;
}

/* ---- keys -------------------------------------------------------------- */

void
key_set(enum key_ix k, const char *name, const char *value)
{
	struct softkey *sk = NULL;
	int r = softkey_load(keys[k].path, &sk, NULL);

	if (r == 0)
		r = softkey_set_kv(sk, name, value);
	softkey_free(sk);
	if (r < 0)
		die("%s: set %s=%s: %s", keys[k].name, name, value,
		    strerror(-r));
}

long
key_get(enum key_ix k, const char *name)
{
	struct softkey *sk = NULL;
	char buf[64] = "";
	int r = softkey_load(keys[k].path, &sk, NULL);

	if (r == 0)
		r = softkey_get_kv(sk, name, buf, sizeof(buf));
	softkey_free(sk);
	if (r < 0)
		die("%s: get %s: %s", keys[k].name, name, strerror(-r));
	return strtol(buf, NULL, 10);
}

const char *
key_aaguid(enum key_ix k)
{
	static char out[37];
	struct softkey *sk = NULL;
	char hex[64] = "";
	size_t i, o = 0;
	int r = softkey_load(keys[k].path, &sk, NULL);

	if (r == 0)
		r = softkey_get_kv(sk, "aaguid", hex, sizeof(hex));
	softkey_free(sk);
	if (r < 0 || strlen(hex) != 32)
		die("%s: aaguid: %s", keys[k].name, hex);
	for (i = 0; i < 32; i++) {
		if (i == 8 || i == 12 || i == 16 || i == 20)
			out[o++] = '-';
		out[o++] = hex[i] >= 'A' && hex[i] <= 'F' ?
		    (char)(hex[i] - 'A' + 'a') : hex[i];
	}
	out[o] = '\0';
	return out;
}

void
key_set_num(enum key_ix k, const char *name, long v)
{
	char buf[32];

	xsnprintf(buf, sizeof(buf), "%ld", v);
	key_set(k, name, buf);
}

/* No faults, full PIN retries. */
void
keys_reset(void)
{
	static const struct softkey_faults none;
	struct softkey_faults f;
	bool clean;
	struct softkey *sk = NULL;
	int k, r;

	for (k = 0; k < K_COUNT; k++) {
		/* Write the state only when it changes: saves are fsynced. */
		if ((r = softkey_load(keys[k].path, &sk, NULL)) < 0 ||
		    (r = softkey_get_faults(sk, &f)) < 0)
			die("%s: reset: %s", keys[k].name, strerror(-r));
		clean = !f.no_touch && f.touch_delay_ms == 0 && !f.drop_up &&
		    !f.drop_uv && !f.bad_sig && !f.bad_rpid &&
		    !f.counter_freeze && f.remove_after == 0 && !f.pin_proto2;
		if ((!clean && (r = softkey_set_faults(sk, &none)) < 0) ||
		    (softkey_retries(sk) != SOFTKEY_PIN_RETRIES &&
		    (r = softkey_set_retries(sk, SOFTKEY_PIN_RETRIES)) < 0))
			die("%s: reset: %s", keys[k].name, strerror(-r));
		softkey_free(sk);
		sk = NULL;
	}
}

/* SOFTKEY_STATE for the keys plugged in, in this order. */
void
plug(int n, ...)
{
	static char buf[4096];
	va_list ap;
	size_t o = 0;
	int i;

	buf[0] = '\0';
	va_start(ap, n);
	for (i = 0; i < n; i++) {
		enum key_ix k = va_arg(ap, enum key_ix);

		xsnprintf(buf + o, sizeof(buf) - o, "%s%s", i > 0 ? ":" : "",
		    keys[k].path);
		o += strlen(buf + o);
	}
	va_end(ap);
	setenv("SOFTKEY_STATE", buf, 1);
}

static int
random_bytes(uint8_t *buf, size_t n)
{
	return getrandom(buf, n, 0) == (ssize_t)n ? 0 : -EIO;
}

/* Make a credential on the key of state for user (fido_dev_make_cred
 * through the preload library, as `mynaguard key enroll` does) and add it
 * to creds; its id hash into ret_id. */
int
enroll(struct pmod_creds *creds, const char *rp, const char *user,
    const char *state, const char *pin, char ret_id[65])
{
	fido_dev_info_t *di = fido_dev_info_new(1);
	fido_dev_t *dev = NULL;
	fido_cred_t *cr = fido_cred_new();
	struct pmod_cred pc;
	uint8_t cdh[32], uid[32];
	size_t n = 0;
	int r = -EIO;

	setenv("SOFTKEY_STATE", state, 1);
	if (di == NULL || cr == NULL || random_bytes(cdh, 32) < 0 ||
	    random_bytes(uid, 32) < 0)
		goto out;
	if (fido_dev_info_manifest(di, 1, &n) != FIDO_OK || n != 1 ||
	    (dev = fido_dev_new_with_info(fido_dev_info_ptr(di, 0))) == NULL ||
	    fido_dev_open_with_info(dev) != FIDO_OK) {
		fprintf(stderr, "enroll: no softkey (is libsoftkey-preload.so "
		    "in LD_PRELOAD?)\n");
		goto out;
	}
	if (fido_cred_set_type(cr, COSE_ES256) != FIDO_OK ||
	    fido_cred_set_clientdata_hash(cr, cdh, 32) != FIDO_OK ||
	    fido_cred_set_rp(cr, rp, NULL) != FIDO_OK ||
	    fido_cred_set_user(cr, uid, 32, user, NULL, NULL) != FIDO_OK ||
	    fido_cred_set_rk(cr, FIDO_OPT_FALSE) != FIDO_OK ||
	    (r = fido_dev_make_cred(dev, cr, pin)) != FIDO_OK) {
		fprintf(stderr, "enroll: make_cred: %s\n", fido_strerr(r));
		r = -EIO;
		goto out;
	}
	memset(&pc, 0, sizeof(pc));
	pc.user = user;
	pc.id = fido_cred_id_ptr(cr);
	pc.id_len = fido_cred_id_len(cr);
	pc.alg = PMOD_ALG_ES256;
	pc.pubkey = fido_cred_pubkey_ptr(cr);
	pc.pubkey_len = fido_cred_pubkey_len(cr);
	pc.rp_id = rp;
	pc.opts = PMOD_OPT_PRESENCE | (pin != NULL ? PMOD_OPT_PIN : 0);
	if (fido_cred_aaguid_len(cr) == 16) {
		memcpy(pc.aaguid, fido_cred_aaguid_ptr(cr), 16);
		pc.has_aaguid = true;
	}
	pc.created = (int64_t)time(NULL);
	pc.label = "test key";
	if ((r = pmod_creds_add(creds, &pc)) < 0) {
		fprintf(stderr, "enroll: add: %s\n", strerror(-r));
		goto out;
	}
	pmod_cred_id_hash(&pc, ret_id);
	r = 0;
out:
	fido_cred_free(&cr);
	if (dev != NULL)
		(void)fido_dev_close(dev);
	fido_dev_free(&dev);
	fido_dev_info_free(&di, 1);
	return r;
}

/* ---- events ------------------------------------------------------------ */

struct event ev;

size_t
list_drop(const char *dir, char names[][300], size_t max)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	if (d == NULL)
		die("opendir %s: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' && (e->d_name[1] == '\0' ||
		    strcmp(e->d_name, "..") == 0))
			continue;
		if (n < max)
			xsnprintf(names[n], 300, "%s", e->d_name);
		n++;
	}
	closedir(d);
	return n;
}

int
name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Read and remove the one file of dir into ev; -ENOENT when there is
 * none, -E2BIG when there are several (all removed). */
int
take_event(const char *dir)
{
	static char names[16][300];
	char path[700];
	size_t n = list_drop(dir, names, 16), i;
	ssize_t len;
	int fd, r;
	const char *why = NULL;

	qsort(names, n < 16 ? n : 16, sizeof(names[0]), name_cmp);
	if (n == 0)
		return -ENOENT;
	xsnprintf(path, sizeof(path), "%s/%s", dir, names[0]);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	len = fd < 0 ? -1 : read(fd, ev.buf, sizeof(ev.buf));
	if (fd >= 0)
		close(fd);
	for (i = 0; i < n && i < 16; i++) {
		xsnprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		(void)unlink(path);
	}
	if (n > 1)
		return -E2BIG;
	if (len < 0 || strstr(names[0], ".evt") == NULL)
		return -EBADMSG;
	r = mg_ipc_decode(ev.buf, (size_t)len, &ev.s, &why);
	if (r != MG_IPC_SUBMIT) {
		fprintf(stderr, "decode %s: %s\n", names[0],
		    why != NULL ? why : "not a SUBMIT");
		return -EBADMSG;
	}
	return 0;
}

/* The value of field id in ev (NUL-terminated copy), or NULL. */
const char *
ev_field(enum mg_field id)
{
	static char buf[4][MG_FIELD_MAX_LEN + 1];
	static unsigned i;
	size_t k;

	for (k = 0; k < ev.s.n; k++)
		if (ev.s.f[k].id == id) {
			char *b = buf[i++ % 4];

			memcpy(b, ev.s.f[k].val, ev.s.f[k].len);
			b[ev.s.f[k].len] = '\0';
			return b;
		}
	return NULL;
}

const char *
num(long v)
{
	static char buf[8][24];
	static unsigned i;
	char *b = buf[i++ % 8];

	xsnprintf(b, 24, "%ld", v);
	return b;
}

static const char *cur_service, *cur_user, *cur_tty;

#define OR_ABSENT(v) ((v) != NULL ? (v) : "(absent)")

static void
dump_event(void)
{
	size_t k;

	fprintf(stderr, "  event %s flags=0x%x:", mg_event_action(ev.s.type),
	    ev.s.flags);
	for (k = 0; k < ev.s.n; k++)
		fprintf(stderr, " %d=%.*s", (int)ev.s.f[k].id,
		    (int)ev.s.f[k].len, ev.s.f[k].val);
	fputc('\n', stderr);
}

/* Exactly one event, of type t, critical, about this attempt, with the
 * fields of want; no field ever holds the PIN. */
void
expect_event(enum mg_event_type t, const struct fexp *want)
{
	const char *v;
	bool ok = true;
	size_t k;
	int r = take_event(wpath("drop"));

	if (!CHECK(r == 0, "one event file in the drop directory: %s",
	    r == -ENOENT ? "none" : r == -E2BIG ? "several" : "unreadable"))
		return;
	ok &= CHECK(ev.s.type == t, "event %s, not %s", mg_event_action(t),
	    mg_event_action(ev.s.type));
	ok &= CHECK(ev.s.flags & MG_REC_F_CRITICAL, "event is critical");
	v = ev_field(MG_F_USER);
	ok &= CHECK(v != NULL && strcmp(v, cur_user) == 0, "user %s",
	    OR_ABSENT(v));
	v = ev_field(MG_F_LOGIN_SERVICE);
	ok &= CHECK(v != NULL && strcmp(v, cur_service) == 0, "service %s",
	    OR_ABSENT(v));
	v = ev_field(MG_F_LOGIN_TTY);
	ok &= CHECK(cur_tty == NULL ? v == NULL : v != NULL &&
	    strcmp(v, cur_tty) == 0, "tty %s", OR_ABSENT(v));
	for (; want->id != MG_F_NONE; want++) {
		v = ev_field(want->id);
		if (want->val == NULL)
			ok &= CHECK(v == NULL, "field %d absent, is \"%s\"",
			    (int)want->id, OR_ABSENT(v));
		else if (strcmp(want->val, ANY) == 0)
			ok &= CHECK(v != NULL, "field %d present",
			    (int)want->id);
		else
			ok &= CHECK(v != NULL && strcmp(v, want->val) == 0,
			    "field %d: \"%s\", expected \"%s\"", (int)want->id,
			    OR_ABSENT(v), want->val);
	}
	for (k = 0; k < ev.s.n; k++)
		ok &= CHECK(memmem(ev.s.f[k].val, ev.s.f[k].len, PIN,
		    strlen(PIN)) == NULL, "the PIN in field %d",
		    (int)ev.s.f[k].id);
	if (!ok)
		dump_event();
}

void
expect_no_event(void)
{
	int r = take_event(wpath("drop"));

	if (!CHECK(r == -ENOENT, "no event expected"))
		dump_event();
}

/* ---- running an attempt ------------------------------------------------ */

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t last_ms;	/* how long the last attempt took */

int
run(const struct attempt *a)
{
	struct pam_testcase tc[] = { pam_test(PAMTEST_AUTHENTICATE, a->rv) };
	struct conv cv = { .how = a->how };
	pam_handle_t *ph = NULL;
	struct pam_conv pc = { conv_fn, &cv };
	enum pamtest_err e;
	size_t n_want = 0, i;
	uint64_t t0;
	bool same;

	memcpy(cv.answers, a->answers, sizeof(cv.answers));
	cur_service = a->service;
	cur_user = a->user;
	cur_tty = lang == LANG_TTY1 ? "tty1" : NULL;
	if (pam_start(a->service, a->user, &pc, &ph) != PAM_SUCCESS)
		die("pam_start %s", a->service);
	if (cur_tty != NULL && pam_set_item(ph, PAM_TTY, cur_tty) !=
	    PAM_SUCCESS)
		die("pam_set_item");
	if (lang == LANG_TERM && pam_putenv(ph, "TERM=linux") != PAM_SUCCESS)
		die("pam_putenv");
	if (truncate(wpath("softkey.log"), 0) < 0 && errno != ENOENT)
		die("truncate: %s", strerror(errno));
	t0 = mono_ms();
	e = _pamtest_conv(a->service, a->user, conv_fn, &cv, tc, 1, ph);
	last_ms = mono_ms() - t0;
	CHECK(e == PAMTEST_ERR_OK || e == PAMTEST_ERR_CASE, "libpamtest: %s",
	    pamtest_strerror(e));
	CHECK(tc[0].op_rv == a->rv, "PAM result %d (%s), expected %d (%s)",
	    tc[0].op_rv, pam_strerror(NULL, tc[0].op_rv), a->rv,
	    pam_strerror(NULL, a->rv));
	while (n_want < MSGS_MAX && a->msgs[n_want] != NULL)
		n_want++;
	same = n_want == cv.n_seen;
	for (i = 0; same && i < n_want; i++)
		same = strcmp(a->msgs[i], cv.seen[i]) == 0;
	if (!CHECK(same, "messages differ")) {
		for (i = 0; i < n_want; i++)
			fprintf(stderr, "  expected: %s\n", a->msgs[i]);
		for (i = 0; i < cv.n_seen; i++)
			fprintf(stderr, "  seen:     %s\n", cv.seen[i]);
	}
	for (i = 0; i < cv.n_seen; i++)
		free(cv.seen[i]);
	return tc[0].op_rv;
}

/* ---- files the module keeps -------------------------------------------- */

long
counter_file(enum key_ix k)
{
	char buf[32] = "", path[700];
	ssize_t n;
	int fd;

	xsnprintf(path, sizeof(path), "%s/counters/%s", work, keys[k].id);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 1 || buf[n - 1] != '\n')
		return -2;
	return strtol(buf, NULL, 10);
}

/* faillock's 64-byte records (Linux-PAM faillock.h). */
struct tally_rec {
	char source[52];
	uint16_t reserved;
	uint16_t status;
	uint64_t time;
};

_Static_assert(sizeof(struct tally_rec) == 64, "faillock.h record");

/* n valid failures from tty "tty7" at now - age_s. */
long
tally_write(const char *user, unsigned n, long age_s)
{
	struct tally_rec rec;
	char path[700];
	long t = (long)time(NULL) - age_s;
	unsigned i;
	int fd;

	xsnprintf(path, sizeof(path), "%s/tally/%s", work, user);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	for (i = 0; i < n; i++) {
		memset(&rec, 0, sizeof(rec));
		memcpy(rec.source, "tty7", 4);
		rec.status = 0x1 | 0x4;		/* VALID | TTY */
		rec.time = (uint64_t)t;
		if (write(fd, &rec, sizeof(rec)) != (ssize_t)sizeof(rec))
			die("%s: %s", path, strerror(errno));
	}
	close(fd);
	return t;
}

unsigned
tally_count(const char *user)
{
	struct pmod_lock_state st;

	if (pmod_tally_state(wpath("tally"), user, 1000, 0,
	    (uint64_t)time(NULL), &st) < 0)
		return 9999;
	return st.failures;
}

/* Run argv with stdout into out (size bytes, NUL-terminated); exit code. */
int
spawn(const char *const argv[], char *out, size_t size)
{
	posix_spawn_file_actions_t fa;
	char tmp[700];
	pid_t pid;
	int st = 0, fd;
	ssize_t n;

	xsnprintf(tmp, sizeof(tmp), "%s/spawn.out", work);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, tmp, O_WRONLY | O_CREAT |
	    O_TRUNC, 0600);
	if (posix_spawnp(&pid, argv[0], &fa, NULL,
	    (char *const *)(uintptr_t)argv, tool_env()) != 0)
		die("spawn %s: %s", argv[0], strerror(errno));
	posix_spawn_file_actions_destroy(&fa);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	out[0] = '\0';
	if ((fd = open(tmp, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, out, size - 1);
		out[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* The key's log: how many GetAssertion and ClientPIN commands with these
 * words it saw. */
unsigned
log_count(const char *cmd, const char *word)
{
	char line[256];
	unsigned n = 0;
	FILE *f = fopen(wpath("softkey.log"), "re");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, cmd, strlen(cmd)) == 0 &&
		    (word == NULL || strstr(line, word) != NULL))
			n++;
	fclose(f);
	return n;
}

/* ---- setup (before pam_wrapper reads the services) ---------------------- */

const char *
pam_dir(void)
{
	static const char *const dirs[] = {
	    "/usr/lib/x86_64-linux-gnu/security",
	    "/lib/x86_64-linux-gnu/security", "/usr/lib64/security",
	    "/usr/lib/security", "/lib/security" };
	static char path[300];
	size_t i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		xsnprintf(path, sizeof(path), "%s/pam_deny.so", dirs[i]);
		if (access(path, R_OK) == 0)
			return dirs[i];
	}
	die("pam_deny.so not found");
	return NULL;
}

/* Remove the work directory (unless MG_PAMTEST_KEEP=1). */
void
cleanup(void)
{
	const char *keep = getenv("MG_PAMTEST_KEEP");
	const char *const argv[] = { "rm", "-rf", work, NULL };
	pid_t pid;
	int st;

	if (work[0] == '\0')
		return;
	if (keep != NULL && strcmp(keep, "1") == 0) {
		fprintf(stderr, "kept %s\n", work);
		return;
	}
	if (posix_spawnp(&pid, "rm", NULL, NULL,
	    (char *const *)(uintptr_t)argv, tool_env()) == 0)
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
	work[0] = '\0';
}
