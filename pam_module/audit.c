/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One signed event per login attempt (docs/events.md, login events) and
 * one journal line.  The agent gets at most args.event_timeout_ms; when it
 * is down the event waits in its drop directory.  Either way the login is
 * not held up: a record that cannot be written at all is logged as an
 * error, and the outcome stays what it was.  No PIN, key handle or
 * assertion ever reaches an event or the log.
 */
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include <security/pam_ext.h>

#include "mynaguard/event.h"
#include "pmod.h"

static const char *const words[PMOD_R_COUNT_] = {
	[PMOD_R_OK] = "ok",
	[PMOD_R_PASSWORD] = "password",
	[PMOD_R_NO_KEY] = "no-key",
	[PMOD_R_NOT_ENROLLED] = "not-enrolled",
	[PMOD_R_NO_MATCHING_KEY] = "no-matching-key",
	[PMOD_R_PIN_MISSING] = "pin-missing",
	[PMOD_R_PIN_INVALID] = "pin-invalid",
	[PMOD_R_PIN_BLOCKED] = "pin-blocked",
	[PMOD_R_PIN_FORMAT] = "pin-format",
	[PMOD_R_PRESENCE_MISSING] = "presence-missing",
	[PMOD_R_UV_MISSING] = "uv-missing",
	[PMOD_R_SIG_INVALID] = "signature-invalid",
	[PMOD_R_WRONG_RP] = "wrong-rp",
	[PMOD_R_COUNTER] = "counter-regression",
	[PMOD_R_MODEL] = "model-not-allowed",
	[PMOD_R_TIMEOUT] = "timeout",
	[PMOD_R_CANCELLED] = "cancelled",
	[PMOD_R_KEY_REMOVED] = "key-removed",
	[PMOD_R_LOCKED] = "locked",
	[PMOD_R_BREAK_GLASS] = "break-glass",
	[PMOD_R_NOT_REQUIRED] = "key-not-required",
	[PMOD_R_ERROR] = "error",
};

const char *
pmod_reason_word(enum pmod_reason r)
{
	return r < PMOD_R_COUNT_ && words[r] != NULL ? words[r] : "error";
}

static void
add(struct mg_submit *s, enum mg_field id, const char *v)
{
	if (v == NULL || v[0] == '\0' || s->n >= MG_FIELDS_MAX)
		return;
	s->f[s->n].id = id;
	s->f[s->n].val = v;
	s->f[s->n].len = strnlen(v, MG_FIELD_MAX_LEN + 1);
	s->n++;
}

static enum mg_event_type
event_type(const struct pmod_ctx *c, bool success)
{
	if (c->reason == PMOD_R_BREAK_GLASS)
		return MG_EV_LOGIN_BREAK_GLASS;
	if (success)
		return MG_EV_LOGIN_SUCCEEDED;
	return c->reason == PMOD_R_LOCKED ? MG_EV_LOGIN_LOCKED_OUT :
	    MG_EV_LOGIN_FAILED;
}

struct nums {
	char failures[16];
	char until[24];
	char counter[16];
	char stored[16];
};

static void
add_key(struct mg_submit *s, const struct pmod_ctx *c, struct nums *nb)
{
	if (!c->have_key)
		return;
	add(s, MG_F_KEY_ID, c->key_id);
	add(s, MG_F_KEY_LABEL, c->key_label);
	add(s, MG_F_KEY_RP, c->key_rp);
	add(s, MG_F_KEY_AAGUID, c->aaguid);
	if (c->have_counter) {
		(void)snprintf(nb->counter, sizeof(nb->counter), "%u",
		    c->counter);
		add(s, MG_F_KEY_COUNTER, nb->counter);
	}
	if (c->have_stored) {
		(void)snprintf(nb->stored, sizeof(nb->stored), "%u",
		    c->stored_counter);
		add(s, MG_F_KEY_STORED_COUNTER, nb->stored);
	}
}

static void
journal(const struct pmod_ctx *c, bool success)
{
	pam_syslog(c->pamh, success ? LOG_INFO : LOG_NOTICE,
	    "%s user=%s service=%s tty=%s rhost=%s reason=%s key=%.16s%s%s",
	    success ? "login accepted" : "login refused", c->user,
	    c->service, c->tty != NULL ? c->tty : "",
	    c->rhost != NULL ? c->rhost : "", pmod_reason_word(c->reason),
	    c->have_key ? c->key_id : "-", c->detail != NULL ? ": " : "",
	    c->detail != NULL ? c->detail : "");
}

void
pmod_audit(struct pmod_ctx *c, bool success)
{
	struct mg_submit s = { .type = event_type(c, success),
	    .flags = MG_REC_F_CRITICAL };
	struct nums nb;
	int r;

	journal(c, success);
	if (c->user == NULL || c->service == NULL)
		return;		/* nothing to say who it was */
	add(&s, MG_F_USER, c->user);
	add(&s, MG_F_LOGIN_SERVICE, c->service);
	add(&s, MG_F_LOGIN_TTY, c->tty);
	add(&s, MG_F_LOGIN_RHOST, c->rhost);
	if (!success || c->reason != PMOD_R_OK)
		add(&s, MG_F_REASON, pmod_reason_word(c->reason));
	add_key(&s, c, &nb);
	if (c->failures > 0 || c->locked) {
		(void)snprintf(nb.failures, sizeof(nb.failures), "%u",
		    c->failures);
		add(&s, MG_F_LOGIN_FAILURES, nb.failures);
	}
	if (c->locked) {
		(void)snprintf(nb.until, sizeof(nb.until), "%llu",
		    (unsigned long long)c->locked_until);
		add(&s, MG_F_LOGIN_LOCKED_UNTIL, nb.until);
	}
	add(&s, MG_F_MESSAGE, c->detail);
	r = mg_submit_event(c->args.socket, c->args.drop_dir, &s,
	    (int)c->args.event_timeout_ms, NULL);
	if (r < 0)
		pam_syslog(c->pamh, LOG_ERR, "login event for %s not recorded: "
		    "agent unreachable and %s not writable (%s)", c->user,
		    c->args.drop_dir, strerror(-r));
}
