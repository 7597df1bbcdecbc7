/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mynaguard-review: the reviewer's command-line tool for the collector's
 * review API (docs/review-api.md), over mutual TLS with a reviewer
 * certificate (docs/certificates.md, "Reviewer certificates").
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "review.h"
#include "store_verify.h"

#define CONF_DEFAULT "/etc/mynaguard/review.conf"
#define CONF_MAX 65536u

static const char usage[] =
    "usage: mynaguard-review [OPTIONS] COMMAND [ARGS]\n"
    "       mynaguard-review events [--terminal T] [--user U] [--action A]\n"
    "                        [--outcome success|failure] [--since TIME]\n"
    "                        [--until TIME] [--serial S] [--text Q]\n"
    "                        [--limit N] [--all]\n"
    "       mynaguard-review timeline (--terminal T | --user U) [--since TIME]\n"
    "                        [--until TIME] [--limit N] [--all]\n"
    "       mynaguard-review alerts [--terminal T] [--type TYPE] [--since TIME]\n"
    "                        [--until TIME] [--limit N] [--all]\n"
    "       mynaguard-review terminals\n"
    "       mynaguard-review show ID\n"
    "       mynaguard-review export [--terminal T] [--since TIME]\n"
    "                        [--until TIME] -o FILE\n"
    "       mynaguard-review report (--month YYYY-MM | --since DATE\n"
    "                        --until DATE) [--terminal T]\n"
    "                        [--format html|csv] [-o FILE]\n"
    "       mynaguard-review checkpoint [-o FILE] [--print]\n"
#ifdef MG_REVIEW_VERIFY
    "       mynaguard-review verify --ca CA [--since TIME] [--until TIME]\n"
    "                        [--terminal T] FILE|-\n"
#endif
    "       mynaguard-review verify --checkpoint FILE --database DB --ca CA\n"
    "                        [--event TERMINAL:SEQ]... [--json]\n"
    "\n"
    "  events     events newest first (one page of --limit, default 100);\n"
    "             --text: the body contains Q (case-sensitive);\n"
    "             --all follows the pages, at most 100000 events\n"
    "  timeline   one terminal's or one user's events, oldest first\n"
    "  alerts     stored alerts and terminals silent for too long\n"
    "  terminals  every terminal the collector knows\n"
    "  show       one event with its signature and chain verification\n"
    "  export     save the signed records (NDJSON) byte for byte, for\n"
    "             verify; -o - writes to standard output\n"
    "  report     the self-inspection report (自己点検) of a period, per\n"
    "             terminal and check item with the policy clause it\n"
    "             evidences: printable HTML (default) or CSV; --month\n"
    "             2026-10 is the local calendar month\n"
    "  checkpoint the collector's newest signed checkpoint of its\n"
    "             Merkle log, checked against the CA, saved with -o for\n"
    "             keeping away from the collector; --print: a printout\n"
    "  verify     with FILE: check an export with the CA alone; with\n"
    "             --checkpoint: check the collector's database (SQLite\n"
    "             file or postgresql://, read only) against a kept\n"
    "             checkpoint, with inclusion proofs of chosen events\n"
    "\n"
    "Options for every command (they may also come before COMMAND):\n"
    "  --url https://HOST:PORT  the collector\n"
    "  --ca FILE      the town CA certificate (default /etc/mynaguard/ca.pem)\n"
    "  --cert FILE    your reviewer certificate (PEM)\n"
    "  --key FILE     its private key\n"
    "  --config FILE  settings file (default " CONF_DEFAULT ", optional):\n"
    "                 [Review] with URL=, CA=, Certificate=, Key=\n"
    "  --connect-timeout SECONDS  (default 10)\n"
    "  --timeout SECONDS  for the whole request (default 300)\n"
    "  --format table|ndjson|csv  table (default): aligned columns with\n"
    "                 local times; ndjson: each event's body exactly as\n"
    "                 signed, one a line; csv: UTF-8 with BOM and CRLF\n"
    "                 for Excel, all columns, formulas neutralised;\n"
    "                 html: report only\n"
    "\n"
    "TIME is RFC 3339 (2026-11-29T09:00:00+09:00, 2026-11-29T00:00:00Z)\n"
    "or a date YYYY-MM-DD meaning local midnight (TZ); --since is\n"
    "inclusive, --until exclusive.  Exit status: 0 done, 1 refused by the\n"
    "collector (TLS or HTTP 401/403) or not found, 2 usage, configuration,\n"
    "network or I/O error.\n";

enum {
	O_URL = 0x100,
	O_CA,
	O_CERT,
	O_KEY,
	O_CONFIG,
	O_CTIMEOUT,
	O_TIMEOUT,
	O_FORMAT,
	O_TERMINAL,
	O_USER,
	O_ACTION,
	O_OUTCOME,
	O_SINCE,
	O_UNTIL,
	O_SERIAL,
	O_TEXT,
	O_LIMIT,
	O_ALL,
	O_TYPE,
	O_HELP,
	O_MONTH,
	O_PRINT,
	O_OUTPUT = 'o',
};

static const struct option opts[] = {
	{ "url", required_argument, NULL, O_URL },
	{ "ca", required_argument, NULL, O_CA },
	{ "cert", required_argument, NULL, O_CERT },
	{ "key", required_argument, NULL, O_KEY },
	{ "config", required_argument, NULL, O_CONFIG },
	{ "connect-timeout", required_argument, NULL, O_CTIMEOUT },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "format", required_argument, NULL, O_FORMAT },
	{ "terminal", required_argument, NULL, O_TERMINAL },
	{ "user", required_argument, NULL, O_USER },
	{ "action", required_argument, NULL, O_ACTION },
	{ "outcome", required_argument, NULL, O_OUTCOME },
	{ "since", required_argument, NULL, O_SINCE },
	{ "until", required_argument, NULL, O_UNTIL },
	{ "serial", required_argument, NULL, O_SERIAL },
	{ "text", required_argument, NULL, O_TEXT },
	{ "limit", required_argument, NULL, O_LIMIT },
	{ "all", no_argument, NULL, O_ALL },
	{ "type", required_argument, NULL, O_TYPE },
	{ "output", required_argument, NULL, O_OUTPUT },
	{ "help", no_argument, NULL, O_HELP },
	{ "month", required_argument, NULL, O_MONTH },
	{ "print", no_argument, NULL, O_PRINT },
	{ NULL, 0, NULL, 0 },
};

/* Options besides the common ones that each command takes (bit n: option
 * 0x100 + n). */
#define B(o) (1u << ((o)-0x100))
#define FILTERS (B(O_SINCE) | B(O_UNTIL) | B(O_LIMIT) | B(O_ALL))

/* Settings from the command line; the file fills only what is unset. */
static char *arg_conf_url, *arg_conf_ca, *arg_conf_cert, *arg_conf_key;
/* checkpoint --print */
static bool arg_print;

static int
cmd_checkpoint(const struct rv_args *a)
{
	return rv_cmd_checkpoint(a, arg_print);
}

/* verify: an export file (review/verify.c) or, with --checkpoint, the
 * collector's store (review/store_verify.c). */
static int
cmd_verify_any(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0) {
#ifdef MG_REVIEW_VERIFY
			fputs("usage: mynaguard-review verify --ca CA "
			      "[--since TIME] [--until TIME]\n"
			      "                        [--terminal T] FILE|-\n"
			      "  Check an export file with the CA alone.\n",
			    stdout);
#endif
			fputs(rv_store_verify_usage, stdout);
			return RV_EXIT_OK;
		}
	if (rv_store_verify_wanted(argc, argv))
		return rv_store_verify_main(argc, argv);
#ifdef MG_REVIEW_VERIFY
	return cmd_verify(argc, argv);
#else
	fputs(rv_store_verify_usage, stderr);
	return RV_EXIT_USAGE;
#endif
}

static const struct command {
	const char *name;
	int (*fn)(const struct rv_args *a);
	uint32_t allowed;
	bool output;			   /* -o */
	int (*raw)(int argc, char **argv); /* parses its own options */
} commands[] = {
	{ "events", rv_cmd_events,
	    FILTERS | B(O_TERMINAL) | B(O_USER) | B(O_ACTION) | B(O_OUTCOME) |
		B(O_SERIAL) | B(O_TEXT),
	    false, NULL },
	{ "timeline", rv_cmd_timeline, FILTERS | B(O_TERMINAL) | B(O_USER),
	    false, NULL },
	{ "alerts", rv_cmd_alerts, FILTERS | B(O_TERMINAL) | B(O_TYPE), false,
	    NULL },
	{ "terminals", rv_cmd_terminals, 0, false, NULL },
	{ "show", rv_cmd_show, 0, false, NULL },
	{ "export", rv_cmd_export, B(O_TERMINAL) | B(O_SINCE) | B(O_UNTIL),
	    true, NULL },
	{ "report", rv_cmd_report,
	    B(O_TERMINAL) | B(O_SINCE) | B(O_UNTIL) | B(O_MONTH), true, NULL },
	{ "checkpoint", cmd_checkpoint, B(O_PRINT), true, NULL },
	/* review/verify.c or store_verify.c; argv[0] is "verify", options
	 * before it are not passed on. */
	{ "verify", NULL, 0, false, cmd_verify_any },
};

#define COMMON                                                     \
	(B(O_URL) | B(O_CA) | B(O_CERT) | B(O_KEY) | B(O_CONFIG) | \
	    B(O_CTIMEOUT) | B(O_TIMEOUT) | B(O_FORMAT) | B(O_HELP))

static int
time_opt(const char *name, const char *v, char out[RV_TIME_LEN])
{
	if (rv_time_parse(v, out) == 0)
		return 0;
	fprintf(stderr,
	    "mynaguard-review: --%s %s: not RFC 3339 or "
	    "YYYY-MM-DD\n",
	    name, v);
	return -EINVAL;
}

static int
set_format(struct rv_args *a, const char *v)
{
	if (strcmp(v, "table") == 0)
		a->format = RV_FMT_TABLE;
	else if (strcmp(v, "ndjson") == 0)
		a->format = RV_FMT_NDJSON;
	else if (strcmp(v, "csv") == 0)
		a->format = RV_FMT_CSV;
	else if (strcmp(v, "html") == 0)
		a->html = true; /* report only: checked in run() */
	else {
		fprintf(stderr,
		    "mynaguard-review: --format: table, ndjson, "
		    "csv or html\n");
		return -EINVAL;
	}
	return 0;
}

static int
set_seconds(long *out, const char *name, const char *v)
{
	uint32_t n;

	if (parse_u32(v, 1, 86400, &n) < 0) {
		fprintf(
		    stderr, "mynaguard-review: --%s: 1..86400 seconds\n", name);
		return -EINVAL;
	}
	*out = (long)n;
	return 0;
}

static int
set_outcome(struct rv_args *a, const char *v)
{
	if (strcmp(v, "success") != 0 && strcmp(v, "failure") != 0) {
		fprintf(stderr,
		    "mynaguard-review: --outcome: success or "
		    "failure\n");
		return -EINVAL;
	}
	a->outcome = v;
	return 0;
}

/* The options that just store their argument. */
static const char **
string_opt(struct rv_args *a, int c)
{
	switch (c) {
	case O_URL:
		return &a->conn.url;
	case O_CA:
		return &a->conn.ca;
	case O_CERT:
		return &a->conn.cert;
	case O_KEY:
		return &a->conn.key;
	case O_CONFIG:
		return &a->config;
	case O_TERMINAL:
		return &a->terminal;
	case O_USER:
		return &a->user;
	case O_ACTION:
		return &a->action;
	case O_SERIAL:
		return &a->serial;
	case O_TEXT:
		return &a->text;
	case O_TYPE:
		return &a->type;
	case O_OUTPUT:
		return &a->output;
	case O_MONTH:
		return &a->month;
	default:
		return NULL;
	}
}

/* One option; -EINVAL on a bad value (already explained). */
static int
set_opt(struct rv_args *a, int c, const char *v)
{
	const char **dst = string_opt(a, c);

	if (dst != NULL) {
		*dst = v;
		return 0;
	}
	switch (c) {
	case O_ALL:
		a->all = true;
		return 0;
	case O_PRINT:
		arg_print = true;
		return 0;
	case O_OUTCOME:
		return set_outcome(a, v);
	case O_FORMAT:
		return set_format(a, v);
	case O_SINCE:
		return time_opt("since", v, a->since);
	case O_UNTIL:
		return time_opt("until", v, a->until);
	case O_CTIMEOUT:
		return set_seconds(
		    &a->conn.connect_timeout_s, "connect-timeout", v);
	case O_TIMEOUT:
		return set_seconds(&a->conn.timeout_s, "timeout", v);
	case O_LIMIT:
		if (parse_u32(v, 1, 1000, &a->limit) == 0)
			return 0;
		fprintf(stderr, "mynaguard-review: --limit: 1..1000\n");
		return -EINVAL;
	default:
		return -EINVAL;
	}
}

/* Parse options into a; allowed is a mask of B(); stop_at_command: leave
 * at the first non-option.  0, or -EINVAL (explained), or 1 for --help. */
static int
parse_opts(int argc, char **argv, struct rv_args *a, uint32_t allowed,
    bool stop_at_command)
{
	int c;

	optind = 0; /* glibc: restart, and honour a leading '+' */
	while ((c = getopt_long(argc, argv,
		    stop_at_command ? "+o:" : "o:", opts, NULL)) != -1) {
		if (c == O_HELP)
			return 1;
		if (c == '?' ||
		    (c != O_OUTPUT && c >= 0x100 && !(allowed & B(c))) ||
		    (c == O_OUTPUT && !(allowed & 1u))) {
			if (c != '?')
				fprintf(stderr,
				    "mynaguard-review: %s does not "
				    "take %s\n",
				    argv[0], argv[optind - 1]);
			return -EINVAL;
		}
		if (set_opt(a, c, optarg) < 0)
			return -EINVAL;
	}
	return 0;
}

static int
conf_item(void *arg, const struct ini_item *it)
{
	static const char *const keys[] = { "URL", "CA", "Certificate", "Key" };
	char **dst[] = { &arg_conf_url, &arg_conf_ca, &arg_conf_cert,
		&arg_conf_key };
	size_t i;

	(void)arg;
	if (it->key == NULL)
		return strcmp(it->section, "Review") == 0 ? 0 : -ENOENT;
	if (strcmp(it->section, "Review") != 0)
		return -ENOENT;
	for (i = 0; i < MG_ELEMENTSOF(keys); i++) {
		if (strcmp(it->key, keys[i]) != 0)
			continue;
		if (*dst[i] != NULL)
			return -EEXIST;
		return (*dst[i] = strdup(it->value)) == NULL ? -ENOMEM : 0;
	}
	return -ENOENT;
}

/* Read the settings file: fail closed on anything unknown or repeated. */
static int
load_conf(struct rv_args *a)
{
	const char *path = a->config != NULL ? a->config : CONF_DEFAULT;
	char *text = NULL;
	unsigned line = 0;
	size_t len;
	int r;

	r = file_read_all(path, CONF_MAX, 0, &text, &len);
	if (r == -ENOENT && a->config == NULL)
		return 0;
	if (r < 0) {
		fprintf(
		    stderr, "mynaguard-review: %s: %s\n", path, strerror(-r));
		return r;
	}
	r = ini_parse(text, len, conf_item, NULL, &line);
	free(text);
	if (r < 0) {
		fprintf(stderr, "mynaguard-review: %s:%u: %s\n", path, line,
		    r == -ENOENT ?
			"unknown section or key (the section is "
			"[Review], the keys URL, CA, Certificate and Key)" :
			r == -EEXIST ? "key given twice" :
				       strerror(-r));
		return r;
	}
#define FILL(field, v)       \
	if ((field) == NULL) \
	(field) = (v)
	FILL(a->conn.url, arg_conf_url);
	FILL(a->conn.ca, arg_conf_ca);
	FILL(a->conn.cert, arg_conf_cert);
	FILL(a->conn.key, arg_conf_key);
#undef FILL
	return 0;
}

static int
check_conn(struct rv_args *a)
{
	size_t n;

	if (a->conn.ca == NULL)
		a->conn.ca = "/etc/mynaguard/ca.pem";
	if (a->conn.url == NULL || strncmp(a->conn.url, "https://", 8) != 0) {
		fprintf(stderr,
		    "mynaguard-review: the collector's URL is "
		    "needed (--url https://HOST:PORT, or URL= in [Review] "
		    "of %s)\n",
		    CONF_DEFAULT);
		return -EINVAL;
	}
	if (a->conn.cert == NULL || a->conn.key == NULL) {
		fprintf(stderr,
		    "mynaguard-review: a reviewer certificate "
		    "and key are needed (--cert FILE --key FILE)\n");
		return -EINVAL;
	}
	/* Paths are appended to the URL: no trailing slash. */
	n = strlen(a->conn.url);
	if (n > 8 && a->conn.url[n - 1] == '/') {
		fprintf(stderr,
		    "mynaguard-review: --url: no path, please "
		    "(https://HOST:PORT)\n");
		return -EINVAL;
	}
	return 0;
}

static int
run(const struct command *cmd, int argc, char **argv, struct rv_args *a)
{
	int r = parse_opts(argc, argv, a,
	    COMMON | cmd->allowed | (cmd->output ? 1u : 0u), false);

	if (r == 1) {
		fputs(usage, stdout);
		return RV_EXIT_OK;
	}
	if (r < 0)
		return RV_EXIT_USAGE;
	if (a->html && cmd->fn != rv_cmd_report) {
		fprintf(stderr, "mynaguard-review: %s: --format html is for "
		    "report only\n", cmd->name);
		return RV_EXIT_USAGE;
	}
	a->rest = argv + optind;
	a->nrest = argc - optind;
	if (a->nrest > 0 && cmd->fn != rv_cmd_show) {
		fprintf(stderr, "mynaguard-review: %s: unexpected %s\n",
		    cmd->name, a->rest[0]);
		return RV_EXIT_USAGE;
	}
	if (load_conf(a) < 0 || check_conn(a) < 0)
		return RV_EXIT_USAGE;
	return cmd->fn(a);
}

static int
dispatch(int argc, char **argv)
{
	struct rv_args a;
	size_t i;
	int r;

	memset(&a, 0, sizeof(a));
	a.conn.connect_timeout_s = 10;
	a.conn.timeout_s = 300;
	r = parse_opts(argc, argv, &a, COMMON, true);
	if (r == 1) {
		fputs(usage, stdout);
		return RV_EXIT_OK;
	}
	if (r < 0 || optind >= argc)
		return -1;
	argc -= optind;
	argv += optind; /* argv[0] is the command, as getopt wants */
	for (i = 0; i < MG_ELEMENTSOF(commands); i++) {
		if (strcmp(argv[0], commands[i].name) != 0)
			continue;
		if (commands[i].raw != NULL)
			return commands[i].raw(argc, argv);
		return run(&commands[i], argc, argv, &a);
	}
	fprintf(stderr, "mynaguard-review: unknown command %s\n", argv[0]);
	return -1;
}

int
main(int argc, char **argv)
{
	int code;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "mynaguard-review: cannot start libcurl\n");
		return RV_EXIT_USAGE;
	}
	code = dispatch(argc, argv);
	if (code < 0) {
		fputs(usage, stderr);
		code = RV_EXIT_USAGE;
	}
	if (fflush(stdout) != 0 && code == 0)
		code = RV_EXIT_USAGE;
	curl_global_cleanup();
	free(arg_conf_url);
	free(arg_conf_ca);
	free(arg_conf_cert);
	free(arg_conf_key);
	return code;
}
