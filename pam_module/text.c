/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What a person sees.  Every text goes through dgettext() with the
 * module's own text domain; the module never calls setlocale() or
 * textdomain(): the language is the host program's (login, gdm, sshd).
 * A Linux text console (ttyN) cannot draw Japanese, so there the English
 * original is shown whatever the locale says.
 */
#include <errno.h>
#include <libintl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <security/pam_ext.h>

#include "pmod.h"

#ifndef PMOD_LOCALEDIR
#define PMOD_LOCALEDIR "/usr/share/locale"
#endif

#define N_(s) (s)

static bool
is_vt(const char *tty)
{
	size_t i;

	if (tty == NULL)
		return false;
	if (strncmp(tty, "/dev/", 5) == 0)
		tty += 5;
	if (strncmp(tty, "tty", 3) != 0 || tty[3] == '\0')
		return false;
	for (i = 3; tty[i] != '\0'; i++)
		if (tty[i] < '0' || tty[i] > '9')
			return false;
	return true;
}

void
pmod_text_init(struct pmod_ctx *c)
{
	const char *term = pam_getenv(c->pamh, "TERM");

	if (term == NULL)
		term = getenv("TERM");
	/* bindtextdomain() is idempotent and cheap. */
	(void)bindtextdomain(PMOD_TEXTDOMAIN, c->args.localedir != NULL ?
	    c->args.localedir : PMOD_LOCALEDIR);
	c->english = is_vt(c->tty) || (term != NULL &&
	    strcmp(term, "linux") == 0);
}

const char *
pmod_text(const struct pmod_ctx *c, const char *msgid)
{
	return c->english ? msgid : dgettext(PMOD_TEXTDOMAIN, msgid);
}

const char *
pmod_ntext(const struct pmod_ctx *c, const char *one, const char *many,
    unsigned long n)
{
	if (c->english)
		return n == 1 ? one : many;
	return dngettext(PMOD_TEXTDOMAIN, one, many, n);
}

void
pmod_tell(struct pmod_ctx *c, bool error, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* A message that cannot be shown is not a reason to change the
	 * outcome: the event and the journal still say what happened. */
	(void)pam_prompt(c->pamh, error ? PAM_ERROR_MSG : PAM_TEXT_INFO, NULL,
	    "%s", buf);
}

static const char *const reason_text[PMOD_R_COUNT_] = {
	[PMOD_R_NO_KEY] = N_("No security key was found. Insert your "
	    "security key and log in again."),
	[PMOD_R_NOT_ENROLLED] = N_("No security key is registered for this "
	    "account. Ask the administrator to register one."),
	[PMOD_R_NO_MATCHING_KEY] = N_("This security key is not registered "
	    "for this account."),
	[PMOD_R_PRESENCE_MISSING] = N_("The security key did not confirm "
	    "that it was touched."),
	[PMOD_R_UV_MISSING] = N_("The security key did not verify the PIN."),
	[PMOD_R_SIG_INVALID] = N_("The answer of the security key could not "
	    "be verified."),
	[PMOD_R_WRONG_RP] = N_("The answer of the security key could not "
	    "be verified."),
	[PMOD_R_COUNTER] = N_("This security key may have been copied. It "
	    "was refused and the administrator is notified."),
	[PMOD_R_MODEL] = N_("This model of security key is not allowed by "
	    "the policy."),
	[PMOD_R_TIMEOUT] = N_("The security key was not touched in time."),
	[PMOD_R_CANCELLED] = N_("Login was cancelled."),
	[PMOD_R_KEY_REMOVED] = N_("The security key was removed or stopped "
	    "responding."),
	[PMOD_R_ERROR] = N_("Security key login is not available because of "
	    "a system error. Ask the administrator."),
	[PMOD_R_BREAK_GLASS] = N_("Emergency login without a security key. "
	    "This login is recorded and reported to the security officer."),
};

/* The message for c->reason, if it has one of its own.  The PIN and lock
 * messages (pin-missing, pin-invalid, pin-blocked, pin-format, locked) are
 * told where they happen, with their numbers and their exact cause: a
 * second, generic text after them would contradict or repeat them. */
void
pmod_tell_reason(struct pmod_ctx *c)
{
	const char *m;

	if (c->reason >= PMOD_R_COUNT_ || (m = reason_text[c->reason]) == NULL)
		return;
	pmod_tell(c, c->reason != PMOD_R_BREAK_GLASS, "%s", pmod_text(c, m));
}

/*
 * Ask for the PIN.  The touch instruction is part of the prompt because
 * some greeters show an info message only at the next prompt.  A
 * conversation that fails or returns nothing is -ECANCELED: never a
 * reason to go on without a PIN (pam_u2f CVE-2021-31924).
 */
int
pmod_ask_pin(struct pmod_ctx *c, char **ret_pin)
{
	char *resp = NULL;
	int r;

	r = pam_prompt(c->pamh, PAM_PROMPT_ECHO_OFF, &resp, "%s",
	    pmod_text(c, "Security key PIN (then touch the key): "));
	if (r != PAM_SUCCESS || resp == NULL) {
		pmod_pin_free(resp);
		return -ECANCELED;
	}
	*ret_pin = resp;
	return 0;
}
