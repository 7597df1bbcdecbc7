/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_CLI_H
#define MYNAGUARD_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mynaguard/event.h"

#define EXIT_INVALID 1
#define EXIT_USAGE 2

struct pol_policy;
struct pmod_cred;
struct pmod_creds;

/* mynaguard.c: read and parse a policy file (flags as file_read_all():
 * FILE_TRUSTED for the files that decide about logins), printing what is
 * wrong.  0 and a new policy in *ret, or the exit code to return. */
int cli_policy_load(const char *file, unsigned flags,
    struct pol_policy **ret);

/* bundle.c: mynaguard policy sign | verify (signed policy bundles). */
int cmd_policy_sign(int argc, char **argv);
int cmd_policy_verify(int argc, char **argv);

/* agentctl.c */
int cmd_event_send(int argc, char **argv);
int cmd_status(int argc, char **argv);

/* spool.c: mynaguard spool show [--json] [--cert FILE] [DIR].  Returns 0
 * when every record decodes, chains (or its gap is a signed loss) and,
 * with --cert, verifies; EXIT_INVALID otherwise; EXIT_USAGE for usage or
 * I/O errors. */
int cmd_spool_show(int argc, char **argv);

/* device.c: mynaguard device list | rule. */
int cmd_device(int argc, char **argv);

/* key.c: mynaguard key enroll | list | revoke | import. */
int cmd_key(int argc, char **argv);

/* login.c: mynaguard login status | unlock. */
int cmd_login(int argc, char **argv);

/*
 * login.c: what the key and login commands share.  One getopt_long table
 * for all of them; each subcommand says which options it takes (CLI_O_*),
 * and any other is a usage error.  The remaining arguments are in
 * args[0..n_args).
 */
#define CLI_O_POLICY 0x001u
#define CLI_O_EVENTS 0x002u	/* --socket, --drop-dir */
#define CLI_O_CREDS 0x004u
#define CLI_O_JSON 0x008u
#define CLI_O_LABEL 0x010u
#define CLI_O_PIN 0x020u
#define CLI_O_DEVICE 0x040u
#define CLI_O_RP 0x080u
#define CLI_O_DRY_RUN 0x100u
#define CLI_O_COUNTERS 0x200u
#define CLI_O_TALLY 0x400u

struct cli_opts {
	const char *policy;
	const char *socket;
	const char *drop_dir;
	const char *credentials;	/* NULL: the policy's */
	const char *label;
	const char *device;
	const char *rp;
	const char *counter_dir;
	const char *tally_dir;
	bool json;
	bool pin;
	bool dry_run;
	char **args;
	int n_args;
};

/* Parse argv (argv[0] is the subcommand word).  0, or -EINVAL when an
 * option is unknown or not in allowed, or the argument count is not in
 * [min_args, max_args]. */
int cli_opts_parse(int argc, char **argv, unsigned allowed, int min_args,
    int max_args, struct cli_opts *ret);

/* Who runs the command, for MG_F_ACTOR: $SUDO_USER when set, else the
 * login name of the real uid ("uid N" when it has none). */
const char *cli_actor(void);

/* "YYYY-MM-DD HH:MM:SS" in local time, or "-" for 0. */
void cli_local_time(int64_t t, char *buf, size_t size);

/* The events of one command: each is submitted at once; the outcome is
 * counted and cli_events_report() says it in one line. */
struct cli_events {
	const char *socket;
	const char *drop_dir;
	unsigned recorded;	/* acknowledged by the agent */
	unsigned dropped;	/* left in the drop directory */
	unsigned failed;	/* neither: not recorded at all */
	int err;		/* the last failure */
};

/* Adds MG_F_ACTOR to s and submits it. */
void cli_event_submit(struct cli_events *e, struct mg_submit *s);
void cli_events_report(const struct cli_events *e);

/*
 * key.c: the credentials file for the key commands.  Each prints what is
 * wrong (with FILE:LINE:COL for a parse error) and returns 0 or the exit
 * code to return.
 */
/* --credentials, else the policy's (the policy is then loaded with
 * FILE_TRUSTED into *p, which the caller frees; need_policy: always). */
int key_creds_path(const struct cli_opts *o, bool need_policy,
    struct pol_policy **p, const char **ret);
/* Load and check the file; missing_ok: a missing file is an empty list. */
int key_creds_load(const char *path, bool missing_ok,
    struct pmod_creds **ret);
/* pmod_creds_lock(), then key_creds_load(); *ret_lock is the lock fd. */
int key_creds_lock_load(const char *path, bool missing_ok, int *ret_lock,
    struct pmod_creds **ret);
int key_creds_save(const char *path, const struct pmod_creds *c);
/* One key-enrolled or key-revoked event for c (source: "enroll",
 * "import" or NULL). */
void key_event(struct cli_events *ev, enum mg_event_type type,
    const struct pmod_cred *c, const char *source);
void key_hex_aaguid(const uint8_t g[16], char out[37]);
/* pmod_user_valid(), saying so when not. */
bool key_user_ok(const char *user);

/* enroll.c: mynaguard key enroll USER. */
int key_enroll(const struct cli_opts *o);

#endif
