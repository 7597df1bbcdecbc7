/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Lockout with the policy's numbers, in pam_faillock's tally files: a
 * wrong password (counted by the authfail step, or by pam_faillock itself)
 * and a failed key count alike, `faillock --reset` and `mynaguard login
 * unlock` both clear it.
 */
#include <errno.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <security/pam_ext.h>

#include "pmod.h"

static uint64_t
now_s(void)
{
	return (uint64_t)time(NULL);
}

static void
tell_locked(struct pmod_ctx *c)
{
	uint64_t now = now_s(), mins;

	if (c->locked_until == 0) {
		pmod_tell(c, true, pmod_ntext(c, "The account is locked after "
		    "%u failed login. Ask the administrator to unlock it.",
		    "The account is locked after %u failed logins. Ask the "
		    "administrator to unlock it.", c->failures), c->failures);
		return;
	}
	mins = c->locked_until > now ? (c->locked_until - now + 59) / 60 : 1;
	pmod_tell(c, true, pmod_ntext(c, "The account is locked after %u "
	    "failed logins. Try again in %llu minute.", "The account is "
	    "locked after %u failed logins. Try again in %llu minutes.",
	    (unsigned long)mins), c->failures, (unsigned long long)mins);
}

static int
state(struct pmod_ctx *c)
{
	struct pmod_lock_state st;
	int r;

	r = pmod_tally_state(c->args.tally_dir, c->user,
	    c->login->lockout_threshold, c->login->unlock_after_s, now_s(),
	    &st);
	if (r < 0) {
		pam_syslog(c->pamh, LOG_ERR, "lockout tally of %s in %s: %s",
		    c->user, c->args.tally_dir, strerror(-r));
		return r;
	}
	c->failures = st.failures;
	c->locked = st.locked;
	c->locked_until = st.locked_until;
	return 0;
}

/* 1 when the account is locked (told, reason set), 0 when not, -errno when
 * the tally cannot be read (the caller fails closed). */
int
pmod_lock_check(struct pmod_ctx *c)
{
	int r;

	if ((r = state(c)) < 0)
		return r;
	if (!c->locked)
		return 0;
	c->reason = PMOD_R_LOCKED;
	tell_locked(c);
	return 1;
}

void
pmod_lock_failed(struct pmod_ctx *c)
{
	const char *src = c->rhost;
	int kind = PMOD_TALLY_SOURCE_RHOST, r;

	if (src == NULL || src[0] == '\0') {
		src = c->tty;
		kind = PMOD_TALLY_SOURCE_TTY;
	}
	if (src == NULL || src[0] == '\0') {
		src = c->service;
		kind = PMOD_TALLY_SOURCE_SERVICE;
	}
	r = pmod_tally_record(c->args.tally_dir, c->user, src, kind, now_s());
	if (r < 0) {
		pam_syslog(c->pamh, LOG_ERR, "cannot count the failed login of "
		    "%s in %s: %s", c->user, c->args.tally_dir, strerror(-r));
		return;
	}
	if (state(c) == 0 && c->locked)
		tell_locked(c);
}

void
pmod_lock_succeeded(struct pmod_ctx *c)
{
	int r = pmod_tally_reset(c->args.tally_dir, c->user);

	if (r < 0)
		pam_syslog(c->pamh, LOG_ERR, "cannot reset the failed logins "
		    "of %s in %s: %s", c->user, c->args.tally_dir,
		    strerror(-r));
	c->failures = 0;
}
