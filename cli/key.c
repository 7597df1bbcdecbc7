/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mynaguard key list | revoke | import (and the dispatch of key enroll,
 * enroll.c): the FIDO2 credentials pam_mynaguard.so accepts, kept in one
 * root-owned file (libmynaguard-login, docs/credentials.md).
 *
 * Every change is a read-modify-write under pmod_creds_lock(), saved
 * atomically, followed by one event per credential changed.  The file is
 * trusted only after pmod_creds_load()'s checks; a file that fails them is
 * never rewritten (the administrator must look at it first).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "mynaguard/event.h"
#include "mynaguard/login.h"
#include "mynaguard/policy.h"

/* ---- shared by the subcommands ------------------------------------------- */

void
key_hex_aaguid(const uint8_t g[16], char out[37])
{
	static const char hx[] = "0123456789abcdef";
	size_t i, o = 0;

	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hx[g[i] >> 4];
		out[o++] = hx[g[i] & 15];
	}
	out[o] = '\0';
}

/* pam_u2f's spelling: "+presence+pin", or "-" for none. */
static void
opts_text(unsigned opts, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s%s", (opts & PMOD_OPT_PRESENCE) ?
	    "+presence" : "", (opts & PMOD_OPT_PIN) ? "+pin" : "",
	    (opts & PMOD_OPT_UV) ? "+verification" : "");
	if (buf[0] == '\0')
		snprintf(buf, size, "-");
}

/* The credentials file: --credentials, or the policy's (loaded here and
 * kept in *p for the caller). */
int
key_creds_path(const struct cli_opts *o, bool need_policy,
    struct pol_policy **p, const char **ret)
{
	int code;

	if (o->credentials != NULL && !need_policy) {
		*ret = o->credentials;
		return 0;
	}
	if ((code = cli_policy_load(o->policy, FILE_TRUSTED, p)) != 0)
		return code;
	*ret = o->credentials != NULL ? o->credentials :
	    pol_policy_login(*p)->credentials;
	return 0;
}

/* Load the credentials (missing_ok: a missing file is an empty list),
 * saying what is wrong and where.  0 or an exit code. */
int
key_creds_load(const char *path, bool missing_ok, struct pmod_creds **ret)
{
	struct pmod_diag d = { 0 };
	int r = pmod_creds_load(path, ret, &d);
	bool denied = (r == -EACCES || r == -EPERM) && geteuid() != 0;

	if (r == -ENOENT && missing_ok)
		r = pmod_creds_new(ret);
	if (r == 0)
		return 0;
	if (r == -EBADMSG && d.line > 0)
		fprintf(stderr, "%s:%u:%u: %s\n", path, d.line, d.col, d.msg);
	else if (denied)
		fprintf(stderr, "%s: permission denied (%s): the credentials "
		    "file is readable by root only; run this command as "
		    "root\n", path, d.msg[0] ? d.msg : strerror(-r));
	else if (r == -EACCES)
		fprintf(stderr, "%s: refused, the file is not safe to use: "
		    "%s\n", path, d.msg[0] ? d.msg : "unsafe");
	else if (d.msg[0] != '\0')
		fprintf(stderr, "%s: %s\n", path, d.msg);
	else
		fprintf(stderr, "%s: %s\n", path, r == -ENOENT ? "no such "
		    "file: no key is enrolled" : strerror(-r));
	return !denied && (r == -EACCES || r == -EBADMSG || r == -E2BIG) ?
	    EXIT_INVALID : EXIT_USAGE;
}

/* Lock, then load: the start of every change.  *ret_lock is the lock fd. */
int
key_creds_lock_load(const char *path, bool missing_ok, int *ret_lock,
    struct pmod_creds **ret)
{
	int fd = pmod_creds_lock(path), code;

	if (fd < 0) {
		fprintf(stderr, "%s.lock: %s\n", path, strerror(-fd));
		return EXIT_USAGE;
	}
	if ((code = key_creds_load(path, missing_ok, ret)) != 0) {
		close(fd);
		return code;
	}
	*ret_lock = fd;
	return 0;
}

int
key_creds_save(const char *path, const struct pmod_creds *c)
{
	int r = pmod_creds_save(path, c);

	if (r < 0) {
		fprintf(stderr, "%s: not saved: %s; nothing changed\n", path,
		    strerror(-r));
		return EXIT_USAGE;
	}
	return 0;
}

/* key-enrolled / key-revoked for one credential. */
void
key_event(struct cli_events *ev, enum mg_event_type type,
    const struct pmod_cred *c, const char *source)
{
	struct mg_submit s = { .type = type };
	char id[65], aaguid[37];

	pmod_cred_id_hash(c, id);
	s.f[s.n++] = (struct mg_field_val){ MG_F_USER, c->user,
	    strlen(c->user) };
	s.f[s.n++] = (struct mg_field_val){ MG_F_KEY_ID, id, strlen(id) };
	s.f[s.n++] = (struct mg_field_val){ MG_F_KEY_RP, c->rp_id,
	    strlen(c->rp_id) };
	if (c->label[0] != '\0')
		s.f[s.n++] = (struct mg_field_val){ MG_F_KEY_LABEL, c->label,
		    strlen(c->label) };
	if (c->has_aaguid) {
		key_hex_aaguid(c->aaguid, aaguid);
		s.f[s.n++] = (struct mg_field_val){ MG_F_KEY_AAGUID, aaguid,
		    36 };
	}
	if (source != NULL)
		s.f[s.n++] = (struct mg_field_val){ MG_F_KEY_SOURCE, source,
		    strlen(source) };
	cli_event_submit(ev, &s);
}

bool
key_user_ok(const char *user)
{
	if (pmod_user_valid(user))
		return true;
	fprintf(stderr, "\"%s\" is not a valid user name\n", user);
	return false;
}

/* ---- key list ------------------------------------------------------------ */

static void
list_row(const struct pmod_cred *c, struct jw *w)
{
	char id[65], aaguid[37] = "-", created[64], opts[48];
	const char *alg = pmod_alg_name(c->alg);

	pmod_cred_id_hash(c, id);
	if (c->has_aaguid)
		key_hex_aaguid(c->aaguid, aaguid);
	cli_local_time(c->created, created, sizeof(created));
	opts_text(c->opts, opts, sizeof(opts));
	if (w == NULL) {
		/* The label last: it may be wider than its bytes (CJK). */
		printf("%-12s %.16s %-5s %-20s %-36s %-19s %-14s %s\n",
		    c->user, id, alg ? alg : "?", c->rp_id, aaguid, created,
		    opts, c->label);
		return;
	}
	jw_object(w);
	jw_key(w, "user");
	jw_str(w, c->user);
	jw_key(w, "label");
	jw_str(w, c->label);
	jw_key(w, "id");
	jw_str(w, id);
	jw_key(w, "alg");
	jw_str(w, alg ? alg : "?");
	jw_key(w, "rp");
	jw_str(w, c->rp_id);
	jw_key(w, "aaguid");	/* "" when unknown (imported) */
	jw_str(w, c->has_aaguid ? aaguid : "");
	jw_key(w, "created");	/* unix seconds, 0 when unknown */
	jw_i64(w, c->created);
	jw_key(w, "options");
	jw_str(w, strcmp(opts, "-") == 0 ? "" : opts);
	jw_object_end(w);
}

static int
run_list(const struct cli_opts *o)
{
	struct pmod_creds *c = NULL;
	struct pol_policy *p = NULL;
	const char *path, *user = o->n_args ? o->args[0] : NULL;
	const struct pmod_cred *cr;
	struct sbuf out;
	struct jw w;
	size_t i;
	int code;

	if (user != NULL && !key_user_ok(user))
		return EXIT_INVALID;
	if ((code = key_creds_path(o, false, &p, &path)) != 0 ||
	    (code = key_creds_load(path, true, &c)) != 0)
		goto out;
	if (pmod_creds_count(c) == 0 && !o->json)
		fprintf(stderr, "no key is enrolled in %s\n", path);
	sbuf_init(&out, PMOD_CRED_FILE_MAX * 4);
	jw_init(&w, &out);
	if (o->json)
		jw_array(&w);
	else
		printf("%-12s %-16s %-5s %-20s %-36s %-19s %-14s %s\n", "USER",
		    "ID", "ALG", "RP", "AAGUID", "CREATED", "OPTIONS",
		    "LABEL");
	for (i = 0; (cr = pmod_creds_at(c, i)) != NULL; i++)
		if (user == NULL || strcmp(cr->user, user) == 0)
			list_row(cr, o->json ? &w : NULL);
	if (o->json) {
		jw_array_end(&w);
		if ((code = jw_finish(&w)) == 0)
			printf("%.*s\n", (int)out.len, out.data);
		else
			code = EXIT_USAGE;
	}
	sbuf_clear(&out);
out:
	pmod_creds_free(c);
	pol_policy_free(p);
	return code;
}

/* ---- key revoke ---------------------------------------------------------- */

static bool
hex_prefix_of(const char *which, const char id[65])
{
	size_t n = strlen(which);

	return n >= 8 && n <= 64 && strspn(which, "0123456789abcdef") == n &&
	    strncmp(which, id, n) == 0;
}

/* user's credentials named by which, as pmod_creds_remove() matches them;
 * prints them when print.  Returns how many, and the last in *ret. */
static size_t
revoke_match(const struct pmod_creds *c, const char *user, const char *which,
    bool print, const struct pmod_cred **ret)
{
	const struct pmod_cred *cr;
	char id[65];
	size_t i, n = 0;

	for (i = 0; (cr = pmod_creds_at(c, i)) != NULL; i++) {
		if (strcmp(cr->user, user) != 0)
			continue;
		pmod_cred_id_hash(cr, id);
		if (which != NULL && !hex_prefix_of(which, id) &&
		    strcmp(which, cr->label) != 0)
			continue;
		if (print)
			fprintf(stderr, "  %.16s  %s\n", id, cr->label);
		*ret = cr;
		n++;
	}
	return n;
}

/* A copy of what the event needs: the credential is gone after removal. */
struct gone {
	struct pmod_cred c;
	uint8_t id[PMOD_CRED_ID_MAX];
	char label[PMOD_LABEL_MAX + 1];
	char rp[PMOD_RP_ID_MAX + 1];
};

static void
keep_copy(struct gone *g, const struct pmod_cred *c)
{
	g->c = *c;
	memcpy(g->id, c->id, c->id_len);
	snprintf(g->label, sizeof(g->label), "%s", c->label);
	snprintf(g->rp, sizeof(g->rp), "%s", c->rp_id);
	g->c.id = g->id;
	g->c.label = g->label;
	g->c.rp_id = g->rp;
	g->c.pubkey = NULL;
	g->c.pubkey_len = 0;
}

/* Remove the credential's signature counter: a new credential never has
 * the same id hash, but a stale file would only confuse. */
static void
remove_counter(const char *dir, const char id[65])
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if ((dfd < 0 && errno != ENOENT) ||
	    (dfd >= 0 && unlinkat(dfd, id, 0) < 0 && errno != ENOENT))
		fprintf(stderr, "warning: %s/%s: %s (remove it by hand)\n",
		    dir, id, strerror(errno));
	if (dfd >= 0)
		close(dfd);
}

/* No key, or several: say which there are. */
static int
revoke_refuse(const struct pmod_creds *c, const char *user,
    const char *which, size_t n)
{
	const struct pmod_cred *cr = NULL;

	if (n > 1) {
		fprintf(stderr, "\"%s\" is ambiguous: it matches %zu of %s's "
		    "keys:\n", which, n, user);
		(void)revoke_match(c, user, which, true, &cr);
		fprintf(stderr, "name the key by more hex digits of its id; "
		    "nothing was revoked\n");
	} else if (revoke_match(c, user, NULL, false, &cr) > 0) {
		fprintf(stderr, "%s has no key matching \"%s\"; %s's keys "
		    "are:\n", user, which, user);
		(void)revoke_match(c, user, NULL, true, &cr);
	} else
		fprintf(stderr, "%s has no key\n", user);
	return EXIT_INVALID;
}

static int
revoke_one(const struct cli_opts *o, const char *path, struct pmod_creds *c)
{
	const char *user = o->args[0], *which = o->args[1];
	struct cli_events ev = { .socket = o->socket,
	    .drop_dir = o->drop_dir };
	const struct pmod_cred *cr = NULL;
	struct gone *g;
	char id[65];
	size_t n = revoke_match(c, user, which, false, &cr);
	int r, code;

	if (n != 1)
		return revoke_refuse(c, user, which, n);
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return EXIT_USAGE;
	keep_copy(g, cr);
	if ((r = pmod_creds_remove(c, user, which)) != 1) {
		fprintf(stderr, "%s: nothing was revoked: %s\n", path,
		    r < 0 ? strerror(-r) : "no match");
		free(g);
		return EXIT_INVALID;
	}
	if ((code = key_creds_save(path, c)) != 0) {
		free(g);
		return code;
	}
	pmod_cred_id_hash(&g->c, id);
	remove_counter(o->counter_dir, id);
	n = revoke_match(c, user, NULL, false, &cr);
	printf("revoked %s's key %.16s \"%s\"; %s has %zu key%s left\n", user,
	    id, g->label, user, n, n == 1 ? "" : "s");
	if (n == 0)
		fprintf(stderr, "warning: where the policy requires a key, %s "
		    "cannot log in until one is enrolled\n", user);
	key_event(&ev, MG_EV_KEY_REVOKED, &g->c, NULL);
	cli_events_report(&ev);
	free(g);
	return 0;
}

static int
run_revoke(const struct cli_opts *o)
{
	struct pmod_creds *c = NULL;
	struct pol_policy *p = NULL;
	const char *path;
	int code, lock = -1;

	if (!key_user_ok(o->args[0]))
		return EXIT_INVALID;
	if ((code = key_creds_path(o, false, &p, &path)) == 0 &&
	    (code = key_creds_lock_load(path, false, &lock, &c)) == 0)
		code = revoke_one(o, path, c);
	if (lock >= 0)
		close(lock);
	pmod_creds_free(c);
	pol_policy_free(p);
	return code;
}

/* ---- key import ---------------------------------------------------------- */

/* pam_u2f's default origin: "pam://" and the host name. */
static int
default_rp(char *buf, size_t size)
{
	char host[256] = "";

	if (gethostname(host, sizeof(host) - 1) < 0 || host[0] == '\0')
		return -EIO;
	return snprintf(buf, size, "pam://%s", host) < (int)size ? 0 :
	    -E2BIG;
}

/* One line per credential appended from index from on, and a count per
 * user (the library appends a user's credentials together). */
static void
import_report(const struct pmod_creds *c, size_t from, bool dry)
{
	const struct pmod_cred *cr, *prev = NULL;
	size_t i, run = 0;
	char id[65], opts[48];

	for (i = from; (cr = pmod_creds_at(c, i)) != NULL; i++) {
		if (prev != NULL && strcmp(prev->user, cr->user) != 0) {
			printf("%s: %zu credential%s\n", prev->user, run,
			    run == 1 ? "" : "s");
			run = 0;
		}
		pmod_cred_id_hash(cr, id);
		opts_text(cr->opts, opts, sizeof(opts));
		printf("  %s %-12s %.16s %-5s %s %s\n", dry ? "would import" :
		    "imported", cr->user, id, pmod_alg_name(cr->alg), opts,
		    cr->rp_id);
		prev = cr;
		run++;
	}
	if (prev != NULL)
		printf("%s: %zu credential%s\n", prev->user, run,
		    run == 1 ? "" : "s");
}

static int
import_into(const struct cli_opts *o, const char *path, const char *rp,
    const char *text, size_t len, struct pmod_creds *c)
{
	struct cli_events ev = { .socket = o->socket,
	    .drop_dir = o->drop_dir };
	struct pmod_diag d = { 0 };
	size_t from = pmod_creds_count(c), i;
	int r, code;

	r = pmod_u2f_parse(text, len, rp, c, &d);
	if (r == -EBADMSG || r == -EEXIST) {
		fprintf(stderr, "%s:%u:%u: %s\n", o->args[0], d.line, d.col,
		    d.msg);
		fprintf(stderr, "nothing was imported\n");
		return EXIT_INVALID;
	}
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", o->args[0], r == -EINVAL ?
		    "invalid relying party (--rp)" : strerror(-r));
		return r == -EINVAL || r == -E2BIG ? EXIT_INVALID : EXIT_USAGE;
	}
	import_report(c, from, o->dry_run);
	if (o->dry_run) {
		printf("dry run: %d credential%s would be added to %s; nothing "
		    "was written\n", r, r == 1 ? "" : "s", path);
		return 0;
	}
	if (r == 0) {
		printf("%s has no credentials; nothing imported\n",
		    o->args[0]);
		return 0;
	}
	if ((code = key_creds_save(path, c)) != 0)
		return code;
	printf("imported %d credential%s into %s\n", r, r == 1 ? "" : "s",
	    path);
	for (i = from; i < pmod_creds_count(c); i++)
		key_event(&ev, MG_EV_KEY_ENROLLED, pmod_creds_at(c, i),
		    "import");
	cli_events_report(&ev);
	return 0;
}

static int
run_import(const struct cli_opts *o)
{
	struct pmod_creds *c = NULL;
	struct pol_policy *p = NULL;
	const char *path, *rp = o->rp;
	char *text = NULL, rpbuf[PMOD_RP_ID_MAX + 1];
	size_t len = 0;
	int r, code, lock = -1;

	if (rp == NULL && default_rp(rpbuf, sizeof(rpbuf)) < 0) {
		fprintf(stderr, "no host name for the default --rp; give "
		    "--rp ORIGIN\n");
		return EXIT_USAGE;
	}
	rp = rp != NULL ? rp : rpbuf;
	r = file_read_all(o->args[0], PMOD_CRED_FILE_MAX, 0, &text, &len);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", o->args[0], r == -E2BIG ?
		    "larger than 4 MiB" : r == -EINVAL ? "not a regular file" :
		    strerror(-r));
		return r == -E2BIG ? EXIT_INVALID : EXIT_USAGE;
	}
	if ((code = key_creds_path(o, false, &p, &path)) != 0)
		goto out;
	/* A dry run writes nothing, not even the lock file. */
	code = o->dry_run ? key_creds_load(path, true, &c) :
	    key_creds_lock_load(path, true, &lock, &c);
	if (code == 0)
		code = import_into(o, path, rp, text, len, c);
	if (code == 0 && p != NULL && pol_policy_login(p)->n_key_models > 0)
		fprintf(stderr, "note: the policy lists key-models, and "
		    "pam_u2f credentials carry no AAGUID: logins with them "
		    "are refused until the keys are enrolled again\n");
out:
	if (lock >= 0)
		close(lock);
	pmod_creds_free(c);
	pol_policy_free(p);
	free(text);
	return code;
}

/* ---- dispatch ------------------------------------------------------------ */

static const struct key_cmd {
	const char *word;
	unsigned opts;
	int min_args;
	int max_args;
	int (*fn)(const struct cli_opts *o);
} key_cmds[] = {
	{ "enroll", CLI_O_POLICY | CLI_O_EVENTS | CLI_O_CREDS | CLI_O_LABEL |
	    CLI_O_PIN | CLI_O_DEVICE, 1, 1, key_enroll },
	{ "list", CLI_O_POLICY | CLI_O_CREDS | CLI_O_JSON, 0, 1, run_list },
	{ "revoke", CLI_O_POLICY | CLI_O_EVENTS | CLI_O_CREDS |
	    CLI_O_COUNTERS, 2, 2, run_revoke },
	{ "import", CLI_O_POLICY | CLI_O_EVENTS | CLI_O_CREDS | CLI_O_RP |
	    CLI_O_DRY_RUN, 1, 1, run_import },
};

int
cmd_key(int argc, char **argv)
{
	struct cli_opts o;
	size_t i;

	for (i = 0; argc >= 1 && i < sizeof(key_cmds) / sizeof(key_cmds[0]);
	    i++) {
		if (strcmp(argv[0], key_cmds[i].word) != 0)
			continue;
		if (cli_opts_parse(argc, argv, key_cmds[i].opts,
		    key_cmds[i].min_args, key_cmds[i].max_args, &o) < 0)
			return EXIT_USAGE;
		return key_cmds[i].fn(&o);
	}
	return EXIT_USAGE;
}
