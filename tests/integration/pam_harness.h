/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MG_PAM_HARNESS_H
#define MG_PAM_HARNESS_H

/*
 * The harness of pam_login.c (tests only).  Functions that cannot go on
 * (a file that cannot be written, a key that cannot be set up) call die(),
 * which removes the work directory; checks of the module's behaviour go
 * through CHECK(), which counts and reports and carries on.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <security/pam_appl.h>

#include "mynaguard/event.h"
#include "mynaguard/login.h"

#define RP "pam://mg-test"
#define PIN "2580"
#define MSGS_MAX 16

/* ---- the work directory and the keys ------------------------------------ */

enum key_ix { K1, K2, K3, K4, K5, K_COUNT };

struct key {
	const char *name;
	const char *user;	/* enrolled for, NULL: for nobody */
	const char *pin;
	char path[512];		/* softkey state file */
	char id[65];		/* hash of the credential id */
};

extern struct key keys[K_COUNT];	/* pam_login.c */
extern char work[256];			/* /tmp/mg-pam.XXXXXX */
extern const char *module_path;
extern const char *locale_dir;

/* work/name, in one of 8 rotating buffers. */
const char *wpath(const char *name);
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)))
    __attribute__((noreturn));
/* Remove the work directory unless MG_PAMTEST_KEEP=1. */
void cleanup(void);
void write_file(const char *path, mode_t mode, const char *text);
/* snprintf that dies instead of truncating. */
void xsnprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The directory of pam_deny.so and pam_permit.so. */
const char *pam_dir(void);

/* ---- checks and texts ------------------------------------------------- */

enum lang { LANG_EN, LANG_JA, LANG_TTY1, LANG_TERM };

extern const char *const lang_names[];
extern enum lang lang;
extern const char *case_name;
extern unsigned n_checks, n_failed;

#define CHECK(cond, ...) check((cond), __FILE__, __LINE__, __VA_ARGS__)
bool check(bool ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Whether the module should speak Japanese: a Japanese locale, and no
 * Linux text console. */
bool ja(void);
#define TXT(en, jp) (ja() ? (jp) : (en))
/* printf into a rotating static slot; the formats stay literals, as
 * -Wformat=2 wants. */
#define FMT(en, jp, ...) fmt_slot(ja() ? \
	snprintf(slot_next(), 512, jp, __VA_ARGS__) : \
	snprintf(slot_next(), 512, en, __VA_ARGS__))
char *slot_next(void);
const char *fmt_slot(int n);
/* v in decimal, in one of 8 rotating buffers. */
const char *num(long v);

/* ---- keys -------------------------------------------------------------- */

/* Set or read one softkey state value (skctl's names); die() on error. */
void key_set(enum key_ix k, const char *name, const char *value);
void key_set_num(enum key_ix k, const char *name, long v);
long key_get(enum key_ix k, const char *name);
/* The key's AAGUID as events write it (8-4-4-4-12, lower case). */
const char *key_aaguid(enum key_ix k);
/* Every key without faults and with 8 PIN retries. */
void keys_reset(void);
/* Plug in n keys (enum key_ix arguments), in this order. */
void plug(int n, ...);
/* Make a credential for user on the key of state (fido_dev_make_cred
 * through libsoftkey-preload.so) and add it to creds.  0 and the id hash
 * in ret_id, or -errno. */
int enroll(struct pmod_creds *creds, const char *rp, const char *user,
    const char *state, const char *pin, char ret_id[65]);
/* How many lines of the key's log start with cmd and contain word (any
 * when NULL). */
unsigned log_count(const char *cmd, const char *word);

/* ---- attempts and events ------------------------------------------------ */

enum answer_how {
	ANSWER,		/* the answers in order; none left: PAM_CONV_ERR */
	ANSWER_NULL,	/* PAM_SUCCESS without a response (xscreensaver Esc) */
	ANSWER_CONV_ERR, /* the conversation fails */
};

/* One pam_authenticate() of service for user.  Messages are "I:" info,
 * "E:" error, "P:" echo-off prompt, in the order the user saw them. */
struct attempt {
	const char *service;
	const char *user;
	enum answer_how how;
	const char *answers[4];
	int rv;				/* expected PAM result */
	const char *msgs[MSGS_MAX];	/* expected messages, in order */
};

/* Run a, check its result and messages; the PAM result.  PAM_TTY is
 * "tty1" for LANG_TTY1, TERM=linux is in the PAM environment for
 * LANG_TERM. */
int run(const struct attempt *a);
extern uint64_t last_ms;	/* how long the last run() took */

/* What an event must say.  val NULL: the field is absent; ANY: present. */
struct fexp {
	enum mg_field id;
	const char *val;
};
#define ANY "*"
#define F(id, v) { (id), (v) }
#define FEND { MG_F_NONE, NULL }

struct event {
	uint8_t buf[MG_IPC_MSG_MAX];
	struct mg_submit s;
};
extern struct event ev;		/* the last event taken */

/* Exactly one event in the drop directory (removed): of type t, critical,
 * about the last attempt's user, service and tty, with the fields of want
 * (ended by FEND), and no field holding the PIN. */
void expect_event(enum mg_event_type t, const struct fexp *want);
void expect_no_event(void);
/* The value of field id of ev (a NUL-terminated copy), or NULL. */
const char *ev_field(enum mg_field id);
/* Read and remove the one file of dir into ev: 0, -ENOENT (none), -E2BIG
 * (several, all removed), -EBADMSG. */
int take_event(const char *dir);
/* The names in dir (not . and ..): up to max in names, the count. */
size_t list_drop(const char *dir, char names[][300], size_t max);
int name_cmp(const void *a, const void *b);

/* ---- files the module keeps --------------------------------------------- */

/* The stored counter of k's credential; -1 when there is none. */
long counter_file(enum key_ix k);
/* Append n valid failures of user from "tty7", dated now - age_s, in
 * pam_faillock's format; the date. */
long tally_write(const char *user, unsigned n, long age_s);
/* user's failures that count now (9999 when unreadable). */
unsigned tally_count(const char *user);
/* Run argv (PATH search) with its stdout into out; the exit status. */
int spawn(const char *const argv[], char *out, size_t size);

#endif
