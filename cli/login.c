/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mynaguard login status | unlock: the lockout tally of pam_mynaguard.so,
 * kept in pam_faillock's format (libmynaguard-login), so faillock(8) and
 * this command agree on every account.  Also what the key and login
 * commands share: their options, the actor and their events.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "mynaguard/event.h"
#include "mynaguard/login.h"
#include "mynaguard/policy.h"

#define POLICY_PATH "/etc/mynaguard/policy.conf"
#define SOCKET_PATH "/run/mynaguard/events.sock"
#define DROP_DIR "/var/lib/mynaguard/drop"
#define STATUS_USERS_MAX 4096u
#define STATUS_RECENT 10u	/* records shown per user in the table */

/* ---- shared with key.c --------------------------------------------------- */

static const struct opt_bit {
	struct option o;
	unsigned bit;
} opt_bits[] = {
	{ { "policy", required_argument, NULL, 'P' }, CLI_O_POLICY },
	{ { "socket", required_argument, NULL, 's' }, CLI_O_EVENTS },
	{ { "drop-dir", required_argument, NULL, 'd' }, CLI_O_EVENTS },
	{ { "credentials", required_argument, NULL, 'c' }, CLI_O_CREDS },
	{ { "json", no_argument, NULL, 'j' }, CLI_O_JSON },
	{ { "label", required_argument, NULL, 'l' }, CLI_O_LABEL },
	{ { "pin", no_argument, NULL, 'p' }, CLI_O_PIN },
	{ { "device", required_argument, NULL, 'D' }, CLI_O_DEVICE },
	{ { "rp", required_argument, NULL, 'r' }, CLI_O_RP },
	{ { "dry-run", no_argument, NULL, 'n' }, CLI_O_DRY_RUN },
	{ { "counter-dir", required_argument, NULL, 'C' }, CLI_O_COUNTERS },
	{ { "tally-dir", required_argument, NULL, 't' }, CLI_O_TALLY },
};
#define N_OPTS (sizeof(opt_bits) / sizeof(opt_bits[0]))

static void
set_opt(struct cli_opts *o, int c, const char *arg)
{
	switch (c) {
	case 'P': o->policy = arg; break;
	case 's': o->socket = arg; break;
	case 'd': o->drop_dir = arg; break;
	case 'c': o->credentials = arg; break;
	case 'j': o->json = true; break;
	case 'l': o->label = arg; break;
	case 'p': o->pin = true; break;
	case 'D': o->device = arg; break;
	case 'r': o->rp = arg; break;
	case 'n': o->dry_run = true; break;
	case 'C': o->counter_dir = arg; break;
	default: o->tally_dir = arg; break;
	}
}

/* Trust checks want absolute paths; an administrator may type relative
 * ones.  Prefix the working directory (no symlink is resolved, so the
 * checks still see the path as given).  Static: they live as long as the
 * command. */
static const char *
absolute(const char *p, unsigned slot)
{
	static char buf[4][PATH_MAX], cwd[PATH_MAX];

	if (p == NULL || p[0] == '/' || strcmp(p, "-") == 0 || slot >= 4 ||
	    getcwd(cwd, sizeof(cwd)) == NULL ||
	    snprintf(buf[slot], sizeof(buf[slot]), "%s/%s", cwd, p) >=
	    (int)sizeof(buf[slot]))
		return p;
	return buf[slot];
}

int
cli_opts_parse(int argc, char **argv, unsigned allowed, int min_args,
    int max_args, struct cli_opts *ret)
{
	struct option longopts[N_OPTS + 1];
	struct cli_opts o = { .policy = POLICY_PATH, .socket = SOCKET_PATH,
	    .drop_dir = DROP_DIR, .counter_dir = PMOD_COUNTER_DIR_DEFAULT,
	    .tally_dir = PMOD_TALLY_DIR_DEFAULT };
	size_t i, n = 0;
	int c;

	for (i = 0; i < N_OPTS; i++)
		if (opt_bits[i].bit & allowed)
			longopts[n++] = opt_bits[i].o;
	longopts[n] = (struct option){ NULL, 0, NULL, 0 };
	optind = 1;
	opterr = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == '?' || c == ':')
			return -EINVAL;
		set_opt(&o, c, optarg);
	}
	o.policy = absolute(o.policy, 0);
	o.credentials = absolute(o.credentials, 1);
	o.counter_dir = absolute(o.counter_dir, 2);
	o.tally_dir = absolute(o.tally_dir, 3);
	o.args = argv + optind;
	o.n_args = argc - optind;
	if (o.n_args < min_args || o.n_args > max_args)
		return -EINVAL;
	*ret = o;
	return 0;
}

const char *
cli_actor(void)
{
	static char buf[PMOD_USER_MAX + 1];
	const char *s = getenv("SUDO_USER");
	struct passwd *pw;

	if (s != NULL && pmod_user_valid(s))
		snprintf(buf, sizeof(buf), "%s", s);
	else if ((pw = getpwuid(getuid())) != NULL &&
	    pmod_user_valid(pw->pw_name))
		snprintf(buf, sizeof(buf), "%s", pw->pw_name);
	else
		snprintf(buf, sizeof(buf), "uid %u", (unsigned)getuid());
	return buf;
}

void
cli_local_time(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || localtime_r(&tt, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, size, "-");
}

void
cli_event_submit(struct cli_events *e, struct mg_submit *s)
{
	const char *actor = cli_actor();
	uint64_t seq = 0;
	int r;

	if (s->n < MG_FIELDS_MAX)
		s->f[s->n++] = (struct mg_field_val){ MG_F_ACTOR, actor,
		    strlen(actor) };
	r = mg_submit_event(e->socket, e->drop_dir, s, 5000, &seq);
	if (r == 0)
		e->recorded++;
	else if (r == 1)
		e->dropped++;
	else {
		e->failed++;
		e->err = r;
	}
}

/* The change is done whatever happens to its event: say so, once. */
void
cli_events_report(const struct cli_events *e)
{
	unsigned n = e->recorded + e->dropped + e->failed;
	const char *s = n == 1 ? "" : "s";

	if (e->recorded > 0)
		printf("%u event%s recorded by the agent\n", e->recorded,
		    e->recorded == 1 ? "" : "s");
	if (e->dropped > 0)
		printf("agent not running: %u event%s left in %s; the agent "
		    "records %s when it starts\n", e->dropped,
		    e->dropped == 1 ? "" : "s", e->drop_dir,
		    e->dropped == 1 ? "it" : "them");
	if (e->failed > 0)
		fprintf(stderr, "warning: the change is done, but %u of its "
		    "%u event%s %s not recorded: the agent at %s did not take "
		    "%s and the drop directory %s cannot be used (%s)\n",
		    e->failed, n, s, e->failed == 1 ? "was" : "were",
		    e->socket, e->failed == 1 ? "it" : "them", e->drop_dir,
		    e->err == -EACCES ? "permission denied: only root may "
		    "submit events" : strerror(-e->err));
}

/* ---- login status -------------------------------------------------------- */

struct tally_ctx {
	const struct pol_login *login;
	const char *dir;
	uint64_t now;
	struct jw *w;		/* NULL: a table */
};

static const char *
source_kind(int kind)
{
	return kind == PMOD_TALLY_SOURCE_TTY ? "tty" :
	    kind == PMOD_TALLY_SOURCE_RHOST ? "rhost" : "service";
}

static void
lock_text(const struct tally_ctx *t, const struct pmod_lock_state *st,
    char *buf, size_t size)
{
	char when[64];

	if (!st->locked) {
		snprintf(buf, size, "not locked");
		return;
	}
	if (st->locked_until == 0) {
		snprintf(buf, size, "locked until unlocked by the "
		    "administrator");
		return;
	}
	cli_local_time((int64_t)st->locked_until, when, sizeof(when));
	snprintf(buf, size, "locked until %s (%" PRIu64 " min from now)",
	    when, st->locked_until > t->now ?
	    (st->locked_until - t->now + 59) / 60 : 0);
}

static void
print_entries_json(struct jw *w, const struct pmod_tally_entry *e, size_t n)
{
	size_t i;

	jw_key(w, "records");
	jw_array(w);
	for (i = 0; i < n; i++) {
		jw_object(w);
		jw_key(w, "time");
		jw_u64(w, e[i].time);
		jw_key(w, "type");
		jw_str(w, source_kind(e[i].source_kind));
		jw_key(w, "source");
		jw_str(w, e[i].source);
		jw_key(w, "valid");
		jw_bool(w, e[i].valid);
		jw_object_end(w);
	}
	jw_array_end(w);
}

static void
print_user_json(const struct tally_ctx *t, const char *user,
    const struct pmod_lock_state *st, const struct pmod_tally_entry *e,
    size_t n)
{
	struct jw *w = t->w;

	jw_object(w);
	jw_key(w, "user");
	jw_str(w, user);
	jw_key(w, "failures");
	jw_u64(w, st->failures);
	jw_key(w, "threshold");
	jw_u64(w, t->login->lockout_threshold);
	jw_key(w, "locked");
	jw_bool(w, st->locked);
	jw_key(w, "locked_until");	/* 0 with locked: until unlocked */
	jw_u64(w, st->locked ? st->locked_until : 0);
	jw_key(w, "last_failure");
	jw_u64(w, st->last_failure);
	print_entries_json(w, e, n);
	jw_object_end(w);
}

static void
print_user_text(const struct tally_ctx *t, const char *user,
    const struct pmod_lock_state *st, const struct pmod_tally_entry *e,
    size_t n)
{
	char lock[128], when[64], limit[32] = "no lockout";
	size_t i = n > STATUS_RECENT ? n - STATUS_RECENT : 0;

	lock_text(t, st, lock, sizeof(lock));
	if (t->login->lockout_threshold > 0)
		snprintf(limit, sizeof(limit), "lockout after %" PRIu32,
		    t->login->lockout_threshold);
	printf("%s: %u failure%s counting (%s), %s\n", user, st->failures,
	    st->failures == 1 ? "" : "s", limit, lock);
	if (i > 0)
		printf("    (%zu older records not shown; --json lists all)\n",
		    i);
	if (n > 0)
		printf("    %-19s  %-7s  %-5s  %s\n", "WHEN", "TYPE", "VALID",
		    "SOURCE");
	for (; i < n; i++) {
		cli_local_time((int64_t)e[i].time, when, sizeof(when));
		printf("    %-19s  %-7s  %-5s  %s\n", when,
		    source_kind(e[i].source_kind), e[i].valid ? "V" : "I",
		    e[i].source);
	}
}

static int
status_user(const struct tally_ctx *t, const char *user)
{
	struct pmod_lock_state st;
	struct pmod_tally_entry *e = NULL;
	size_t n = 0;
	int r;

	r = pmod_tally_state(t->dir, user, t->login->lockout_threshold,
	    t->login->unlock_after_s, t->now, &st);
	if (r == 0)
		r = pmod_tally_list(t->dir, user, &e, &n);
	if (r < 0) {
		fprintf(stderr, "%s/%s: %s\n", t->dir, user, r == -EACCES ?
		    "permission denied: the tally is readable by root only" :
		    strerror(-r));
		return EXIT_USAGE;
	}
	if (t->w != NULL)
		print_user_json(t, user, &st, e, n);
	else
		print_user_text(t, user, &st, e, n);
	free(e);
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The users with a tally file, sorted; a missing directory has none. */
static int
tally_users(const char *dir, char ***ret, size_t *ret_n)
{
	char **v = calloc(STATUS_USERS_MAX, sizeof(*v));
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;
	int r = 0;

	if (v == NULL || (d == NULL && errno != ENOENT)) {
		r = v == NULL ? -ENOMEM : -errno;
		free(v);
		if (d != NULL)
			closedir(d);
		return r;
	}
	while (d != NULL && (de = readdir(d)) != NULL && r == 0) {
		if (!pmod_user_valid(de->d_name) || (de->d_type != DT_REG &&
		    de->d_type != DT_UNKNOWN))
			continue;
		if (n == STATUS_USERS_MAX || (v[n] = strdup(de->d_name)) ==
		    NULL)
			r = n == STATUS_USERS_MAX ? -E2BIG : -ENOMEM;
		else
			n++;
	}
	if (d != NULL)
		closedir(d);
	qsort(v, n, sizeof(*v), cmp_str);
	*ret = v;
	*ret_n = n;
	return r;
}

static int
login_status(const struct cli_opts *o, const struct pol_login *login)
{
	struct tally_ctx t = { login, o->tally_dir, (uint64_t)time(NULL),
	    NULL };
	char **users = NULL;
	size_t n = 0, i;
	struct sbuf out;
	struct jw w;
	int r, code = 0;

	if (o->n_args == 1) {
		n = 1;
		users = o->args;
	} else if ((r = tally_users(o->tally_dir, &users, &n)) < 0) {
		fprintf(stderr, "%s: %s\n", o->tally_dir, strerror(-r));
		code = EXIT_USAGE;
		goto out;
	}
	sbuf_init(&out, 64u << 20);
	jw_init(&w, &out);
	if (o->json) {
		t.w = &w;
		jw_array(&w);
	} else if (n == 0)
		printf("no failed logins recorded in %s\n", o->tally_dir);
	for (i = 0; i < n && code == 0; i++)
		code = status_user(&t, users[i]);
	if (o->json) {
		jw_array_end(&w);
		if (code == 0 && jw_finish(&w) == 0)
			printf("%.*s\n", (int)out.len, out.data);
	}
	sbuf_clear(&out);
out:
	for (i = 0; o->n_args == 0 && users != NULL && i < n; i++)
		free(users[i]);
	if (o->n_args == 0)
		free(users);
	return code;
}

/* ---- login unlock -------------------------------------------------------- */

static int
login_unlock(const struct cli_opts *o, const struct pol_login *login)
{
	struct cli_events ev = { .socket = o->socket,
	    .drop_dir = o->drop_dir };
	struct mg_submit s = { .type = MG_EV_LOGIN_UNLOCKED };
	const char *user = o->args[0], *dir = o->tally_dir;
	struct pmod_tally_entry *e = NULL;
	struct pmod_lock_state st;
	char failures[24];
	size_t n = 0;
	int r;

	r = pmod_tally_state(dir, user, login->lockout_threshold,
	    login->unlock_after_s, (uint64_t)time(NULL), &st);
	if (r == 0)
		r = pmod_tally_list(dir, user, &e, &n);
	free(e);
	if (r == 0 && n > 0)
		r = pmod_tally_reset(dir, user);
	if (r < 0) {
		fprintf(stderr, "%s/%s: %s\n", dir, user, r == -EACCES ?
		    "permission denied: only root can unlock accounts" :
		    strerror(-r));
		return EXIT_USAGE;
	}
	if (n == 0) {
		printf("%s: no failed logins recorded; nothing to unlock\n",
		    user);
		return 0;
	}
	printf("%s: cleared %u failure%s counting towards the lockout "
	    "(%zu record%s removed)%s\n", user, st.failures,
	    st.failures == 1 ? "" : "s", n, n == 1 ? "" : "s",
	    st.locked ? "; the account is unlocked" : "");
	snprintf(failures, sizeof(failures), "%u", st.failures);
	s.f[s.n++] = (struct mg_field_val){ MG_F_USER, user, strlen(user) };
	s.f[s.n++] = (struct mg_field_val){ MG_F_LOGIN_FAILURES, failures,
	    strlen(failures) };
	cli_event_submit(&ev, &s);
	cli_events_report(&ev);
	return 0;
}

int
cmd_login(int argc, char **argv)
{
	struct pol_policy *p = NULL;
	struct cli_opts o;
	bool unlock;
	int code;

	if (argc < 1)
		return EXIT_USAGE;
	unlock = strcmp(argv[0], "unlock") == 0;
	if (!unlock && strcmp(argv[0], "status") != 0)
		return EXIT_USAGE;
	if (cli_opts_parse(argc, argv, CLI_O_POLICY | CLI_O_TALLY | (unlock ?
	    CLI_O_EVENTS : CLI_O_JSON), unlock ? 1 : 0, 1, &o) < 0)
		return EXIT_USAGE;
	if (o.n_args == 1 && !pmod_user_valid(o.args[0])) {
		fprintf(stderr, "\"%s\" is not a valid user name\n",
		    o.args[0]);
		return EXIT_INVALID;
	}
	if ((code = cli_policy_load(o.policy, FILE_TRUSTED, &p)) != 0)
		return code;
	code = unlock ? login_unlock(&o, pol_policy_login(p)) :
	    login_status(&o, pol_policy_login(p));
	pol_policy_free(p);
	return code;
}
