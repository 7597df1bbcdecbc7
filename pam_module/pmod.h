/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef PMOD_H
#define PMOD_H

/*
 * pam_mynaguard.so internals.  One login attempt is one struct pmod_ctx:
 * the arguments, the PAM items, the policy in force and what happened
 * (reason and key details), from which exactly one event is sent.
 */

#include <stdbool.h>
#include <stdint.h>

#include <security/pam_modules.h>

#include "mynaguard/login.h"
#include "mynaguard/policy.h"

#define PMOD_TEXTDOMAIN "mynaguard-pam"
#define PMOD_POLICY_DEFAULT "/etc/mynaguard/policy.conf"
#define PMOD_SOCKET_DEFAULT "/run/mynaguard/events.sock"
#define PMOD_DROP_DEFAULT "/var/lib/mynaguard/drop"
#define PMOD_POLICY_MAX (1u << 20)
#define PMOD_DEVS_MAX 16u
#define PMOD_USER_CREDS_MAX 64u

enum pmod_mode {
	PMOD_MODE_AUTH,		/* the key, after the password */
	PMOD_MODE_PREAUTH,	/* before the password: refuse when locked */
	PMOD_MODE_AUTHFAIL,	/* after a failed password: count it */
};

/* Why an attempt ended; the words are docs/events.md's event.reason. */
enum pmod_reason {
	PMOD_R_OK,
	PMOD_R_PASSWORD,
	PMOD_R_NO_KEY,
	PMOD_R_NOT_ENROLLED,
	PMOD_R_NO_MATCHING_KEY,
	PMOD_R_PIN_MISSING,
	PMOD_R_PIN_INVALID,
	PMOD_R_PIN_BLOCKED,
	PMOD_R_PIN_FORMAT,
	PMOD_R_PRESENCE_MISSING,
	PMOD_R_UV_MISSING,
	PMOD_R_SIG_INVALID,
	PMOD_R_WRONG_RP,
	PMOD_R_COUNTER,
	PMOD_R_MODEL,
	PMOD_R_TIMEOUT,
	PMOD_R_CANCELLED,
	PMOD_R_KEY_REMOVED,
	PMOD_R_LOCKED,
	PMOD_R_BREAK_GLASS,
	PMOD_R_NOT_REQUIRED,
	PMOD_R_ERROR,
	PMOD_R_COUNT_
};

struct pmod_args {
	enum pmod_mode mode;
	const char *policy;
	const char *socket;
	const char *drop_dir;
	const char *tally_dir;
	const char *counter_dir;
	const char *localedir;	/* NULL: the compiled-in one */
	unsigned event_timeout_ms;
	bool debug;
};

struct pmod_ctx {
	pam_handle_t *pamh;
	struct pmod_args args;
	const char *user;
	const char *service;
	const char *tty;
	const char *rhost;
	bool english;		/* a Linux text console cannot draw Japanese */
	struct pol_policy *policy;
	const struct pol_login *login;
	/* the outcome */
	enum pmod_reason reason;
	const char *detail;	/* for the journal: what failed, no secrets */
	bool have_key;		/* the fields below are set */
	char key_id[65];
	char key_label[PMOD_LABEL_MAX + 1];
	char key_rp[POL_RELYING_PARTY_MAX + 1];
	char aaguid[37];
	bool have_counter;	/* an assertion was read */
	uint32_t counter;
	bool have_stored;
	uint32_t stored_counter;
	unsigned failures;	/* after this attempt */
	bool locked;
	uint64_t locked_until;
};

/* pam_mynaguard.c */
int pmod_args_parse(int argc, const char **argv, struct pmod_args *ret,
    const char **ret_bad);

/* text.c: messages in the user's language (dgettext, never setlocale). */
void pmod_text_init(struct pmod_ctx *c);
const char *pmod_text(const struct pmod_ctx *c, const char *msgid)
    __attribute__((format_arg(2)));
const char *pmod_ntext(const struct pmod_ctx *c, const char *one,
    const char *many, unsigned long n)
    __attribute__((format_arg(2))) __attribute__((format_arg(3)));
void pmod_tell(struct pmod_ctx *c, bool error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void pmod_tell_reason(struct pmod_ctx *c);
int pmod_ask_pin(struct pmod_ctx *c, char **ret_pin);

/* fido.c: find the key, ask it, verify its answer. */
void pmod_fido_init(void);
int pmod_fido_login(struct pmod_ctx *c, const struct pmod_cred *const *creds,
    size_t n);

/* lockout.c: the faillock-format tally with the policy's numbers. */
int pmod_lock_check(struct pmod_ctx *c);
void pmod_lock_failed(struct pmod_ctx *c);
void pmod_lock_succeeded(struct pmod_ctx *c);

/* audit.c: the one event of the attempt, and the journal line. */
const char *pmod_reason_word(enum pmod_reason r);
void pmod_audit(struct pmod_ctx *c, bool success);

#endif
