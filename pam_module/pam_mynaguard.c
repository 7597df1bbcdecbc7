/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pam_mynaguard.so: a FIDO2 security key on top of the password (docs/pam.md).
 *
 *   auth requisite      pam_mynaguard.so preauth   refuse a locked account
 *   auth [...]          pam_unix.so                the password
 *   auth [default=die]  pam_mynaguard.so authfail  count a wrong password
 *   auth required       pam_mynaguard.so           the key
 *
 * Fails closed: the result starts as PAM_AUTH_ERR and becomes PAM_SUCCESS
 * only after a verified assertion (or for a break-glass account the policy
 * names).  PAM_IGNORE is returned in one documented case only: the policy's
 * require-key exempts the user.  Every internal error is a failing code.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <security/pam_modutil.h>

#include "pmod.h"

#define GROUPS_MAX 256

/* ---- arguments (STYLE 5.6: a table; unknown is an error) -------------- */

struct arg {
	const char *name;	/* "name=" takes a value, "name" does not */
	size_t off;		/* offsetof(struct pmod_args, ...) */
};

static const struct arg arg_table[] = {
	{ "policy=", offsetof(struct pmod_args, policy) },
	{ "socket=", offsetof(struct pmod_args, socket) },
	{ "dropdir=", offsetof(struct pmod_args, drop_dir) },
	{ "tallydir=", offsetof(struct pmod_args, tally_dir) },
	{ "counterdir=", offsetof(struct pmod_args, counter_dir) },
	{ "localedir=", offsetof(struct pmod_args, localedir) },
};

static int
parse_word(const char *a, struct pmod_args *args)
{
	uint32_t ms;

	if (strcmp(a, "preauth") == 0)
		args->mode = PMOD_MODE_PREAUTH;
	else if (strcmp(a, "authfail") == 0)
		args->mode = PMOD_MODE_AUTHFAIL;
	else if (strcmp(a, "debug") == 0)
		args->debug = true;
	else if (strncmp(a, "event_timeout=", 14) == 0 &&
	    parse_u32(a + 14, 100, 10000, &ms) == 0)
		args->event_timeout_ms = ms;
	else
		return -EINVAL;
	return 0;
}

int
pmod_args_parse(int argc, const char **argv, struct pmod_args *ret,
    const char **ret_bad)
{
	struct pmod_args args = { PMOD_MODE_AUTH, PMOD_POLICY_DEFAULT,
	    PMOD_SOCKET_DEFAULT, PMOD_DROP_DEFAULT, PMOD_TALLY_DIR_DEFAULT,
	    PMOD_COUNTER_DIR_DEFAULT, NULL, 1000, false };
	size_t k, n;
	int i;

	for (i = 0; i < argc; i++) {
		for (k = 0; k < MG_ELEMENTSOF(arg_table); k++) {
			n = strlen(arg_table[k].name);
			if (strncmp(argv[i], arg_table[k].name, n) == 0)
				break;
		}
		if (k < MG_ELEMENTSOF(arg_table) && argv[i][n] == '/') {
			*(const char **)(void *)((char *)&args +
			    arg_table[k].off) = argv[i] + n;
			continue;
		}
		if (k < MG_ELEMENTSOF(arg_table) || parse_word(argv[i],
		    &args) < 0) {
			*ret_bad = argv[i];
			return -EINVAL;
		}
	}
	*ret = args;
	return 0;
}

/* ---- the attempt ------------------------------------------------------ */

static int
get_items(struct pmod_ctx *c)
{
	const void *v = NULL;
	int r;

	if ((r = pam_get_user(c->pamh, &c->user, NULL)) != PAM_SUCCESS)
		return r == PAM_CONV_AGAIN ? PAM_INCOMPLETE : r;
	if (c->user == NULL || c->user[0] == '\0')
		return PAM_USER_UNKNOWN;
	if ((r = pam_get_item(c->pamh, PAM_SERVICE, &v)) != PAM_SUCCESS ||
	    v == NULL)
		return PAM_SYSTEM_ERR;
	c->service = v;
	v = NULL;
	if ((r = pam_get_item(c->pamh, PAM_TTY, &v)) != PAM_SUCCESS)
		return PAM_SYSTEM_ERR;
	c->tty = v;
	v = NULL;
	if ((r = pam_get_item(c->pamh, PAM_RHOST, &v)) != PAM_SUCCESS)
		return PAM_SYSTEM_ERR;
	c->rhost = v;
	return PAM_SUCCESS;
}

static int
load_policy(struct pmod_ctx *c)
{
	struct pol_diags *d = NULL;
	char *text = NULL;
	size_t len = 0;
	int r;

	r = file_read_all(c->args.policy, PMOD_POLICY_MAX, FILE_TRUSTED,
	    &text, &len);
	if (r < 0) {
		pam_syslog(c->pamh, LOG_ERR, "policy %s: %s", c->args.policy,
		    strerror(-r));
		return r;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		free(text);
		return -ENOMEM;
	}
	r = pol_policy_parse(text, len, d, &c->policy);
	if (r < 0 && d->n > 0)
		pam_syslog(c->pamh, LOG_ERR, "policy %s:%u:%u: %s",
		    c->args.policy, d->d[0].line, d->d[0].col, d->d[0].msg);
	else if (r < 0)
		pam_syslog(c->pamh, LOG_ERR, "policy %s: %s", c->args.policy,
		    strerror(-r));
	free(d);
	free(text);
	if (r < 0)
		return r;
	c->login = pol_policy_login(c->policy);
	return 0;
}

/* 1 when the policy requires a key of the user, 0 when it does not.  A
 * user the system does not know needs one (and has none).  So does one
 * with a group that cannot be named: it might be a require-key group
 * (pam_u2f CVE-2025-23013: a lookup failure must not skip the key). */
static int
requires_key(struct pmod_ctx *c)
{
	const char *names[GROUPS_MAX];
	gid_t gids[GROUPS_MAX];
	const struct passwd *pw;
	int ng = GROUPS_MAX, i, n = 0, r;

	if (c->login->key_everyone)
		return 1;
	pw = pam_modutil_getpwnam(c->pamh, c->user);
	if (pw == NULL || getgrouplist(c->user, pw->pw_gid, gids, &ng) < 0)
		return 1;
	for (i = 0; i < ng && c->login->n_key_groups > 0; i++) {
		const struct group *g = pam_modutil_getgrgid(c->pamh, gids[i]);

		if (g == NULL || g->gr_name == NULL)
			return 1;
		names[n++] = g->gr_name;
	}
	r = pol_login_requires_key(c->policy, c->user, names, (size_t)n);
	return r == 0 ? 0 : 1;
}

static int
key_login(struct pmod_ctx *c)
{
	const struct pmod_cred *mine[PMOD_USER_CREDS_MAX];
	struct pmod_creds *creds = NULL;
	struct pmod_diag diag = { 0 };
	size_t n;
	int r;

	r = pmod_creds_load(c->login->credentials, &creds, &diag);
	if (r == -ENOENT) {
		c->reason = PMOD_R_NOT_ENROLLED;
		c->detail = "no credential file";
		return -1;
	}
	if (r < 0) {
		pam_syslog(c->pamh, LOG_ERR, "credentials %s:%u: %s",
		    c->login->credentials, diag.line, diag.msg[0] ? diag.msg :
		    strerror(-r));
		c->reason = PMOD_R_ERROR;
		c->detail = "credential file unusable";
		return -1;
	}
	n = pmod_creds_for_user(creds, c->user, mine, PMOD_USER_CREDS_MAX);
	if (n > PMOD_USER_CREDS_MAX)
		n = PMOD_USER_CREDS_MAX;
	if (n == 0) {
		c->reason = PMOD_R_NOT_ENROLLED;
		c->detail = "no credential for this user";
		r = -1;
	} else {
		r = pmod_fido_login(c, mine, n);
	}
	pmod_creds_free(creds);
	return r;
}

/* The key step; returns the PAM code.  Exactly one event either way. */
static int
auth_key(struct pmod_ctx *c)
{
	int r;

	if ((r = pmod_lock_check(c)) != 0) {
		if (r < 0)
			c->reason = PMOD_R_ERROR;
		pmod_audit(c, false);
		return r < 0 ? PAM_SYSTEM_ERR : PAM_AUTH_ERR;
	}
	if (pol_login_is_break_glass(c->policy, c->user) == 1) {
		c->reason = PMOD_R_BREAK_GLASS;
		pmod_tell_reason(c);
		pmod_lock_succeeded(c);
		pmod_audit(c, true);
		return PAM_SUCCESS;
	}
	if (requires_key(c) == 0) {
		c->reason = PMOD_R_NOT_REQUIRED;
		pmod_lock_succeeded(c);
		pmod_audit(c, true);
		return PAM_IGNORE;	/* the one documented PAM_IGNORE */
	}
	if (key_login(c) == 0 && c->reason == PMOD_R_OK) {
		pmod_lock_succeeded(c);
		pmod_audit(c, true);
		return PAM_SUCCESS;
	}
	if (c->reason == PMOD_R_OK)
		c->reason = PMOD_R_ERROR;
	pmod_tell_reason(c);
	pmod_lock_failed(c);
	pmod_audit(c, false);
	return c->reason == PMOD_R_ERROR ? PAM_SYSTEM_ERR : PAM_AUTH_ERR;
}

static int
run(struct pmod_ctx *c)
{
	int r;

	if (load_policy(c) < 0) {
		c->reason = PMOD_R_ERROR;
		c->detail = "policy unusable";
		pmod_tell_reason(c);
		pmod_audit(c, false);
		return PAM_AUTHINFO_UNAVAIL;
	}
	switch (c->args.mode) {
	case PMOD_MODE_PREAUTH:
		if ((r = pmod_lock_check(c)) == 0)
			return PAM_SUCCESS;	/* not locked: go on */
		if (r < 0)
			c->reason = PMOD_R_ERROR;
		pmod_audit(c, false);
		return r < 0 ? PAM_SYSTEM_ERR : PAM_AUTH_ERR;
	case PMOD_MODE_AUTHFAIL:
		c->reason = PMOD_R_PASSWORD;
		pmod_lock_failed(c);
		pmod_audit(c, false);
		return PAM_AUTH_ERR;
	case PMOD_MODE_AUTH:
		return auth_key(c);
	}
	return PAM_AUTH_ERR;
}

__attribute__((visibility("default"))) int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc,
    const char **argv)
{
	struct pmod_ctx *c = NULL;
	const char *bad = NULL;
	int retval = PAM_AUTH_ERR;

	(void)flags;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return PAM_BUF_ERR;
	c->pamh = pamh;
	if (pmod_args_parse(argc, argv, &c->args, &bad) < 0) {
		pam_syslog(pamh, LOG_ERR, "unknown or bad argument \"%s\"",
		    bad);
		retval = PAM_SERVICE_ERR;
		goto out;
	}
	if ((retval = get_items(c)) != PAM_SUCCESS) {
		pam_syslog(pamh, LOG_ERR, "cannot get the PAM items: %s",
		    pam_strerror(pamh, retval));
		goto out;
	}
	retval = PAM_AUTH_ERR;
	pmod_text_init(c);
	pmod_fido_init();
	retval = run(c);
out:
	pol_policy_free(c->policy);
	explicit_bzero(c, sizeof(*c));
	free(c);
	return retval;
}

__attribute__((visibility("default"))) int
pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_SUCCESS;
}
