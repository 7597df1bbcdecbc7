/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mynaguard-collector: receives signed event records from terminals over
 * mutual TLS and stores them (docs/events.md); "events" and "alerts" show
 * what it stored.  Never forks: systemd (Type=notify) runs it in the
 * foreground, so --foreground is accepted and changes nothing.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "mynaguard/collector.h"

#define LIMIT_DEFAULT 20u
#define LIMIT_MAX 100000u

enum {
	OPT_CONFIG = 0x100,
	OPT_CHECK,
	OPT_PORT,
	OPT_LISTEN,
	OPT_DATABASE,
	OPT_CERTIFICATE,
	OPT_KEY,
	OPT_CA,
	OPT_FOREGROUND,
	OPT_LIMIT,
	OPT_AGENT,
	OPT_HELP,
};

/* Options that override a configuration key. */
static const struct {
	int opt;
	const char *name;
	const char *key;
} overrides[] = {
	{ OPT_PORT, "port", "Port" },
	{ OPT_LISTEN, "listen", "Listen" },
	{ OPT_DATABASE, "database", "Database" },
	{ OPT_CERTIFICATE, "certificate", "Certificate" },
	{ OPT_KEY, "key", "Key" },
	{ OPT_CA, "ca", "CA" },
};
#define DATABASE_OVERRIDE 2

static const char *arg_config;
static bool arg_check_config;
static const char *arg_override[MG_ELEMENTSOF(overrides)];
static const char *arg_agent;
static unsigned arg_limit = LIMIT_DEFAULT;

static const struct option options[] = {
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "check-config", no_argument, NULL, OPT_CHECK },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "database", required_argument, NULL, OPT_DATABASE },
	{ "certificate", required_argument, NULL, OPT_CERTIFICATE },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "ca", required_argument, NULL, OPT_CA },
	{ "foreground", no_argument, NULL, OPT_FOREGROUND },
	{ "limit", required_argument, NULL, OPT_LIMIT },
	{ "agent", required_argument, NULL, OPT_AGENT },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: mynaguard-collector [--config FILE] [--check-config]\n"
	    "           [--listen ADDR] [--port N] [--database PATH]\n"
	    "           [--certificate FILE] [--key FILE] [--ca FILE] "
	    "[--foreground]\n"
	    "       mynaguard-collector events [--config FILE] "
	    "[--database PATH]\n"
	    "           [--limit N] [--agent ID]\n"
	    "       mynaguard-collector alerts [--config FILE] "
	    "[--database PATH]\n"
	    "           [--limit N] [--agent ID]\n"
	    "       mynaguard-collector policy publish [--config FILE] "
	    "[--database PATH] BUNDLE\n"
	    "       mynaguard-collector policy list [--config FILE] "
	    "[--database PATH]\n"
	    "Default configuration: " COLL_CONFIG_PATH "\n");
}

static bool
allowed(int c, bool view)
{
	if (view)
		return c == OPT_CONFIG || c == OPT_DATABASE || c == OPT_LIMIT ||
		    c == OPT_AGENT;
	return c != OPT_LIMIT && c != OPT_AGENT;
}

/* 0 to go on, 1 after --help, -EINVAL for a usage error. */
static int
parse_args(int argc, char **argv, bool view)
{
	uint32_t v;
	size_t i;
	int c;

	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c == OPT_HELP)
			return 1;
		if (c == '?' || !allowed(c, view))
			return -EINVAL;
		for (i = 0; i < MG_ELEMENTSOF(overrides); i++)
			if (overrides[i].opt == c)
				arg_override[i] = optarg;
		if (c == OPT_CONFIG)
			arg_config = optarg;
		else if (c == OPT_CHECK)
			arg_check_config = true;
		else if (c == OPT_AGENT)
			arg_agent = optarg;
		else if (c == OPT_LIMIT) {
			if (parse_u32(optarg, 1, LIMIT_MAX, &v) < 0)
				return -EINVAL;
			arg_limit = v;
		}
	}
	return optind < argc ? -EINVAL : 0;
}

static void
report(const char *file, const struct coll_diag *d)
{
	if (d->line > 0)
		coll_log(LOG_ERR, "%s:%u: %s", file, d->line, d->msg);
	else
		coll_log(LOG_ERR, "%s: %s", file, d->msg);
}

/* The file (the default one may be missing), then the options. */
static int
load_config(struct coll_config *c)
{
	const char *path = arg_config != NULL ? arg_config : COLL_CONFIG_PATH;
	struct coll_diag d;
	size_t i;
	int r;

	if ((r = coll_config_init(c)) < 0)
		return coll_log_errno(LOG_ERR, r, "configuration");
	r = coll_config_load(c, path, &d);
	if (r == -ENOENT && arg_config == NULL)
		r = 0;
	if (r < 0) {
		report(path, &d);
		return r;
	}
	for (i = 0; i < MG_ELEMENTSOF(overrides); i++) {
		if (arg_override[i] == NULL)
			continue;
		if ((r = coll_config_set(
			 c, overrides[i].key, arg_override[i], &d)) < 0) {
			coll_log(LOG_ERR, "--%s: %s", overrides[i].name, d.msg);
			return r;
		}
	}
	return 0;
}

/* --check-config: the database opens, or its directory takes a new one. */
static int
check_database(const char *path)
{
	struct coll_store *st = NULL;
	const char *why = NULL;
	char *copy;
	int r;

	char shown[256];

	if (coll_store_is_pg(path) || access(path, F_OK) == 0) {
		r = coll_store_open(path, 0, &st, &why);
		coll_store_free(st);
		if (r < 0)
			return coll_log_errno(LOG_ERR, r, "%s: %s",
			    coll_store_display(path, shown, sizeof(shown)), why);
		return 0;
	}
	if ((copy = strdup(path)) == NULL)
		return -ENOMEM;
	r = access(dirname(copy), W_OK) == 0 ? 0 : -errno;
	if (r < 0)
		coll_log_errno(LOG_ERR, r,
		    "%s: cannot create the database in "
		    "%s",
		    path, copy);
	free(copy);
	return r;
}

/* Serve until SIGTERM or SIGINT.  The signals are blocked before the
 * server threads start, so only this sigwait() ever sees them. */
static int
serve(const struct coll_config *c, const struct coll_tls *t,
    struct coll_store *st)
{
	struct coll_checkpointer *cp = NULL;
	struct coll_server *srv = NULL;
	char addr[96];
	sigset_t set;
	int sig = 0, r;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if ((r = -pthread_sigmask(SIG_BLOCK, &set, NULL)) < 0)
		return coll_log_errno(LOG_ERR, r, "pthread_sigmask");
	signal(SIGPIPE, SIG_IGN);
	if ((r = coll_checkpointer_start(c, st, &cp)) < 0)
		return r;
	if ((r = coll_server_start(c, t, st, &srv)) < 0) {
		coll_checkpointer_stop(cp);
		return r;
	}
	if (coll_server_address(srv, addr, sizeof(addr)) < 0)
		snprintf(addr, sizeof(addr), "%s", c->listen);
	coll_log(LOG_INFO, "listening on %s", addr);
	sd_notify(0, "READY=1");
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig != SIGHUP)
			break;
		coll_log(LOG_NOTICE,
		    "SIGHUP: reloading is not supported; "
		    "restart to apply a new configuration");
	}
	sd_notify(0, "STOPPING=1");
	coll_log(LOG_INFO, "stopping (%s)", sigabbrev_np(sig));
	coll_server_stop(srv, c->timeout);
	coll_checkpointer_stop(cp);
	return 0;
}

static int
run_serve(void)
{
	struct coll_config c;
	struct coll_tls t;
	struct coll_store *st = NULL;
	struct coll_diag d;
	const char *why = NULL;
	char shown[256];
	int r;

	memset(&t, 0, sizeof(t));
	if ((r = load_config(&c)) < 0)
		goto out;
	if ((r = coll_config_validate(&c, &d)) < 0) {
		report(arg_config != NULL ? arg_config : COLL_CONFIG_PATH, &d);
		goto out;
	}
	if ((r = coll_tls_load(&t, &c, &d)) < 0) {
		coll_log(LOG_ERR, "%s", d.msg);
		goto out;
	}
	if (arg_check_config) {
		if ((r = check_database(c.database)) == 0)
			coll_log(LOG_INFO, "configuration OK");
		goto out;
	}
	if ((r = coll_store_open(c.database, 0, &st, &why)) < 0) {
		coll_log_errno(LOG_ERR, r, "%s: %s",
		    coll_store_display(c.database, shown, sizeof(shown)), why);
		goto out;
	}
	r = serve(&c, &t, st);
out:
	coll_store_free(st);
	coll_tls_clear(&t);
	coll_config_clear(&c);
	if (r == 0 && !arg_check_config)
		coll_log(LOG_INFO, "stopped");
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* The viewer takes --database as given (a relative path is fine here),
 * or else the configuration's Database=. */
static int
run_view(bool events)
{
	struct coll_config c;
	struct coll_store *st = NULL;
	const char *why = NULL, *db = arg_override[DATABASE_OVERRIDE];
	char shown[256];
	int r;

	memset(&c, 0, sizeof(c));
	arg_override[DATABASE_OVERRIDE] = NULL;
	if (db == NULL) {
		if ((r = load_config(&c)) < 0)
			goto out;
		db = c.database;
	}
	if ((r = coll_store_open(db, COLL_STORE_READONLY, &st, &why)) < 0) {
		fprintf(stderr, "mynaguard-collector: %s: %s\n",
		    coll_store_display(db, shown, sizeof(shown)), why);
		goto out;
	}
	r = events ? coll_view_events(st, stdout, arg_agent, arg_limit) :
		     coll_view_alerts(st, stdout, arg_agent, arg_limit);
	if (r < 0)
		fprintf(stderr, "mynaguard-collector: %s: %s\n",
		    coll_store_display(db, shown, sizeof(shown)), strerror(-r));
	if (fflush(stdout) != 0 && r == 0)
		r = -errno;
out:
	coll_store_free(st);
	coll_config_clear(&c);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

int
main(int argc, char **argv)
{
	bool view = argc > 1 &&
	    (strcmp(argv[1], "events") == 0 || strcmp(argv[1], "alerts") == 0);
	int r;

	if (argc > 1 && strcmp(argv[1], "policy") == 0)
		return coll_policy_main(argc - 1, argv + 1);
	r = view ? parse_args(argc - 1, argv + 1, true) :
		   parse_args(argc, argv, false);
	if (r != 0) {
		usage(r > 0 ? stdout : stderr);
		return r > 0 ? EXIT_SUCCESS : 2;
	}
	if (view)
		return run_view(argv[1][0] == 'e');
	return run_serve();
}
