/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mynaguard: the administrator's command-line tool.
 *   mynaguard policy check FILE...       exit 0 when every FILE is valid
 *   mynaguard policy show [--ascii] FILE  print the normalized policy
 *   mynaguard policy test FILE DEVICE...  what the policy decides for them
 *   mynaguard policy sign|verify          signed policy bundles
 *   mynaguard event send [--message M]    a test event through the agent
 *   mynaguard status                      the agent's spool and collector
 *   mynaguard spool show [DIR]            the signed records not yet sent
 *   mynaguard key enroll|list|revoke|import  FIDO2 login credentials
 *   mynaguard login status|unlock         the login lockout tally
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "mynaguard/common.h"
#include "mynaguard/policy.h"

#include "cli.h"

static const char usage[] =
    "usage: mynaguard policy check FILE...\n"
    "       mynaguard policy show [--ascii] [--rules] FILE\n"
    "       mynaguard policy test [--user U] [--group G]... [--time HH:MM]\n"
    "                             FILE DEVICE...\n"
    "       mynaguard policy sign FILE --group G [--version N] [--credentials F]\n"
    "                      --key KEY --cert CERT -o OUT [--force]\n"
    "       mynaguard policy verify BUNDLE --cert CERT [--json]\n"
    "       mynaguard event send [--message TEXT] [--user NAME] [--critical]\n"
    "                            [--socket PATH] [--drop-dir DIR]\n"
    "       mynaguard status [--json] [--socket PATH]\n"
    "       mynaguard spool show [--json] [--cert FILE] [DIR]\n"
    "       mynaguard device list [--json] [--socket PATH]\n"
    "       mynaguard device rule [--read-only] [--user U | --group G] DEVICE\n"
    "       mynaguard key enroll [--label TEXT] [--pin] [--device PATH]\n"
    "                            [--credentials FILE] USER\n"
    "       mynaguard key list [--json] [--credentials FILE] [USER]\n"
    "       mynaguard key revoke [--credentials FILE] [--counter-dir DIR]\n"
    "                            USER CREDENTIAL\n"
    "       mynaguard key import [--rp ORIGIN] [--credentials FILE]\n"
    "                            [--dry-run] FILE\n"
    "       mynaguard login status [--json] [--tally-dir DIR] [USER]\n"
    "       mynaguard login unlock [--tally-dir DIR] USER\n"
    "\n"
    "  policy check  validate policy files; errors are printed as\n"
    "                FILE:LINE:COL: message (columns count characters)\n"
    "  policy show   print the policy in normalized form\n"
    "    --ascii     escape non-ASCII bytes as \\xHH, as usbguard does\n"
    "    --rules     print only the device rules\n"
    "  policy test   show what the policy decides for each DEVICE, written\n"
    "                as usbguard list-devices prints it, e.g.\n"
    "                'device id 0781:5581 serial \"X\" with-interface 08:06:50'\n"
    "                plus mynaguard's 'kind { storage }' and 'bus usb'\n"
    "    --user U    the user logged in at the seat (none by default)\n"
    "    --group G   a group of that user (repeatable)\n"
    "    --time T    local time HH:MM for localtime() (default: now)\n"
    "  policy sign, verify  signed bundles (docs/policy-bundles.md)\n"
    "  spool show    list the records in the agent's spool (read-only;\n"
    "                DIR defaults to /var/lib/mynaguard/spool) with their\n"
    "                chain status\n"
    "    --json      one JSON object per record, body included (NDJSON)\n"
    "    --cert F    also verify each signature with the terminal's\n"
    "                certificate F (PEM)\n"
    "  device list   removable devices present, their state and the rule\n"
    "                that decided (from the agent)\n"
    "  device rule   a policy rule registering DEVICE (bus path like 1-1.2,\n"
    "                /dev/sdX or a /sys path): vid:pid, serial, name and\n"
    "                interfaces; --user/--group limit it to that seat user\n"
    "  key enroll    register the plugged-in FIDO2 key for USER's login\n"
    "                (one key at a time; the touch and PIN are asked for)\n"
    "    --label T   a name for the key (default \"USER's key DATE\")\n"
    "    --pin       set a PIN first when the key has none and the policy\n"
    "                requires user verification\n"
    "    --device P  the key to use when several are plugged in\n"
    "  key list      the enrolled keys (root only); --json: full ids\n"
    "  key revoke    remove USER's key named by CREDENTIAL: at least 8\n"
    "                hex digits of its id, or its exact label\n"
    "  key import    add the keys of a pam_u2f authfile; --rp is the\n"
    "                origin pam_u2f used (default pam://HOSTNAME);\n"
    "                --dry-run shows them without writing\n"
    "  login status  failed logins counting towards the lockout, and\n"
    "                whether each account is locked (faillock records)\n"
    "  login unlock  clear USER's failures (as faillock --reset)\n"
    "  The key and login commands also take --policy FILE (default\n"
    "  /etc/mynaguard/policy.conf), and the changes --socket PATH and\n"
    "  --drop-dir DIR for their event; --credentials defaults to the\n"
    "  policy's, --tally-dir to /var/run/faillock, --counter-dir to\n"
    "  /var/lib/mynaguard/counters.\n"
    "\n"
    "FILE may be - for standard input.  Exit status: 0 valid or done,\n"
    "1 invalid or refused, 2 usage or I/O error.\n";

static void
print_diags(const char *file, const struct pol_diags *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		fprintf(stderr, "%s:%u:%u: %s\n", file, d->d[i].line,
		    d->d[i].col, d->d[i].msg);
	if (d->n_total > d->n)
		fprintf(stderr, "%s: %zu more errors not shown\n", file,
		    d->n_total - d->n);
}

int
cli_policy_load(const char *file, unsigned flags, struct pol_policy **ret)
{
	struct pol_diags *d = NULL;
	char *text = NULL;
	size_t len = 0;
	int r, code;

	r = file_read_all(file, POL_TEXT_MAX, flags, &text, &len);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", file, r == -E2BIG ?
		    "larger than 1 MiB" : r == -EINVAL ?
		    "not a regular file" : r == -EPERM ?
		    "not trusted: it must be an absolute path, not a symbolic "
		    "link, owned by root and not writable by group or others" :
		    strerror(-r));
		return r == -E2BIG || r == -EPERM ? EXIT_INVALID : EXIT_USAGE;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		code = EXIT_USAGE;
		fprintf(stderr, "%s: %s\n", file, strerror(ENOMEM));
		goto out;
	}
	r = pol_policy_parse(text, len, d, ret);
	if (r == -EBADMSG || r == -E2BIG) {
		print_diags(file, d);
		code = EXIT_INVALID;
	} else if (r < 0) {
		fprintf(stderr, "%s: %s\n", file, strerror(-r));
		code = EXIT_USAGE;
	} else
		code = 0;
out:
	free(d);
	free(text);
	return code;
}

static int
cmd_check(int argc, char **argv)
{
	struct pol_policy *p;
	int i, code, worst = 0;

	if (argc < 1)
		return EXIT_USAGE;
	for (i = 0; i < argc; i++) {
		p = NULL;
		code = cli_policy_load(argv[i], 0, &p);
		if (code == 0)
			printf("%s: OK (%zu device rules)\n", argv[i],
			    pol_policy_rule_count(p));
		pol_policy_free(p);
		if (code > worst)
			worst = code;
	}
	return worst;
}

static int
cmd_show(int argc, char **argv)
{
	struct pol_policy *p = NULL;
	const char *file = NULL;
	unsigned flags = 0;
	char *text = NULL;
	size_t len;
	int i, code, r;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--ascii") == 0)
			flags |= POL_SHOW_ASCII;
		else if (strcmp(argv[i], "--rules") == 0)
			flags |= POL_SHOW_RULES_ONLY;
		else if (file == NULL && (argv[i][0] != '-' ||
		    strcmp(argv[i], "-") == 0))
			file = argv[i];
		else
			return EXIT_USAGE;
	}
	if (file == NULL)
		return EXIT_USAGE;
	if ((code = cli_policy_load(file, 0, &p)) != 0)
		return code;
	r = pol_policy_show(p, flags, &text, &len);
	pol_policy_free(p);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", file, strerror(-r));
		return EXIT_USAGE;
	}
	code = fwrite(text, 1, len, stdout) == len ? 0 : EXIT_USAGE;
	free(text);
	return code;
}

#define GROUPS_MAX 64

struct test_args {
	const char *user;
	const char *groups[GROUPS_MAX];
	size_t n_groups;
	int32_t local_sec;
	const char *file;
	char **devices;
	int n_devices;
};

static int
cli_random(void *arg, uint32_t *ret)
{
	(void)arg;
	return getrandom(ret, sizeof(*ret), 0) == (ssize_t)sizeof(*ret) ?
	    0 : -EIO;
}

static int
parse_hhmm(const char *s, int32_t *ret)
{
	uint32_t h, m;
	char hh[3] = { 0 }, mm[3] = { 0 };

	if (strlen(s) != 5 || s[2] != ':')
		return -EINVAL;
	memcpy(hh, s, 2);
	memcpy(mm, s + 3, 2);
	if (parse_u32(hh, 0, 23, &h) < 0 || parse_u32(mm, 0, 59, &m) < 0)
		return -EINVAL;
	*ret = (int32_t)(h * 3600 + m * 60);
	return 0;
}

static int32_t
now_local_sec(void)
{
	struct tm tm;
	time_t t = time(NULL);

	if (localtime_r(&t, &tm) == NULL)
		return -1;
	return tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
}

static int
test_options(int argc, char **argv, struct test_args *a)
{
	int i;

	a->local_sec = now_local_sec();
	for (i = 0; i < argc && argv[i][0] == '-'; i += 2) {
		if (i + 1 >= argc)
			return -EINVAL;
		if (strcmp(argv[i], "--user") == 0)
			a->user = argv[i + 1];
		else if (strcmp(argv[i], "--group") == 0 &&
		    a->n_groups < GROUPS_MAX)
			a->groups[a->n_groups++] = argv[i + 1];
		else if (strcmp(argv[i], "--time") != 0 ||
		    parse_hhmm(argv[i + 1], &a->local_sec) < 0)
			return -EINVAL;
	}
	if (argc - i < 2 || (a->n_groups > 0 && a->user == NULL))
		return -EINVAL;
	a->file = argv[i];
	a->devices = argv + i + 1;
	a->n_devices = argc - i - 1;
	return 0;
}

/* Print one decision; 0, or EXIT_INVALID when the device text is bad. */
static int
test_one(const struct pol_policy *p, const struct pol_env *env,
    const char *text)
{
	struct pol_diags *d = calloc(1, sizeof(*d));
	struct pol_devdesc *dd = NULL;
	struct pol_decision dec;
	int r, code = 0;

	printf("%s\n", text);
	if (d == NULL)
		return EXIT_USAGE;
	r = pol_devdesc_parse(text, strlen(text), d, &dd);
	if (r < 0) {
		print_diags("DEVICE", d);
		code = EXIT_INVALID;
		goto out;
	}
	r = pol_eval(p, pol_devdesc_device(dd), env, &dec);
	if (r < 0)
		printf("  -> block: could not decide (%s); the agent fails "
		    "closed\n", r == -ENODATA ? "a condition needs what only "
		    "the running agent knows" : strerror(-r));
	else if (dec.rule == 0)
		printf("  -> %s (default, line %u)\n",
		    pol_verdict_name(dec.verdict), dec.line);
	else
		printf("  -> %s (rule %u, line %u%s%s%s)\n",
		    pol_verdict_name(dec.verdict), dec.rule, dec.line,
		    dec.label ? ": \"" : "", dec.label ? dec.label : "",
		    dec.label ? "\"" : "");
out:
	pol_devdesc_free(dd);
	free(d);
	return code;
}

static int
cmd_test(int argc, char **argv)
{
	struct test_args a = { 0 };
	struct pol_policy *p = NULL;
	struct pol_seat seat;
	struct pol_env env = { .random_u32 = cli_random };
	int i, code, worst = 0;

	if (test_options(argc, argv, &a) < 0)
		return EXIT_USAGE;
	if ((code = cli_policy_load(a.file, 0, &p)) != 0)
		return code;
	seat.user = a.user;
	seat.groups = a.groups;
	seat.n_groups = a.n_groups;
	env.seat = a.user != NULL ? &seat : NULL;
	env.local_sec = a.local_sec;
	for (i = 0; i < a.n_devices; i++) {
		code = test_one(p, &env, a.devices[i]);
		if (code > worst)
			worst = code;
	}
	pol_policy_free(p);
	return worst;
}

static const struct command {
	const char *word1;
	const char *word2;	/* NULL: one word */
	int (*fn)(int argc, char **argv);
	bool keep_word;		/* getopt-style: argv[0] is the command */
} commands[] = {
	{ "status", NULL, cmd_status, false },
	{ "device", NULL, cmd_device, false },
	{ "key", NULL, cmd_key, false },
	{ "login", NULL, cmd_login, false },
	{ "spool", "show", cmd_spool_show, false },
	{ "event", "send", cmd_event_send, true },
	{ "policy", "check", cmd_check, false },
	{ "policy", "show", cmd_show, false },
	{ "policy", "test", cmd_test, false },
	{ "policy", "sign", cmd_policy_sign, true },
	{ "policy", "verify", cmd_policy_verify, true },
};

static int
dispatch(int argc, char **argv)
{
	const struct command *c;
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		c = &commands[i];
		if (argc < 1 || strcmp(argv[0], c->word1) != 0)
			continue;
		if (c->word2 == NULL)
			return c->fn(argc - 1, argv + 1);
		if (argc >= 2 && strcmp(argv[1], c->word2) == 0)
			return c->keep_word ? c->fn(argc - 1, argv + 1) :
			    c->fn(argc - 2, argv + 2);
	}
	return EXIT_USAGE;
}

int
main(int argc, char **argv)
{
	int code;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		fputs(usage, stdout);
		return 0;
	}
	code = dispatch(argc - 1, argv + 1);
	if (code == EXIT_USAGE)
		fputs(usage, stderr);
	if (fflush(stdout) != 0 && code == 0)
		code = EXIT_USAGE;
	return code;
}
