/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mynaguard: the administrator's command-line tool.
 *   mynaguard policy check FILE...       exit 0 when every FILE is valid
 *   mynaguard policy show [--ascii] FILE  print the normalized policy
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mynaguard/common.h"
#include "mynaguard/policy.h"

#define EXIT_INVALID 1
#define EXIT_USAGE 2

static const char usage[] =
    "usage: mynaguard policy check FILE...\n"
    "       mynaguard policy show [--ascii] [--rules] FILE\n"
    "\n"
    "  policy check  validate policy files; errors are printed as\n"
    "                FILE:LINE:COL: message (columns count characters)\n"
    "  policy show   print the policy in normalized form\n"
    "    --ascii     escape non-ASCII bytes as \\xHH, as usbguard does\n"
    "    --rules     print only the device rules\n"
    "\n"
    "FILE may be - for standard input.  Exit status: 0 valid, 1 invalid,\n"
    "2 usage or I/O error.\n";

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

/* 0 and *ret on success; otherwise prints why and returns an exit code. */
static int
load(const char *file, struct pol_policy **ret)
{
	struct pol_diags *d = NULL;
	char *text = NULL;
	size_t len = 0;
	int r, code;

	r = file_read_all(file, POL_TEXT_MAX, 0, &text, &len);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", file, r == -E2BIG ?
		    "larger than 1 MiB" : r == -EINVAL ?
		    "not a regular file" : strerror(-r));
		return r == -E2BIG ? EXIT_INVALID : EXIT_USAGE;
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

	if (argc < 1) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	for (i = 0; i < argc; i++) {
		p = NULL;
		code = load(argv[i], &p);
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
		else {
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (file == NULL) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if ((code = load(file, &p)) != 0)
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

int
main(int argc, char **argv)
{
	int code;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc < 3 || strcmp(argv[1], "policy") != 0) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[2], "check") == 0)
		code = cmd_check(argc - 3, argv + 3);
	else if (strcmp(argv[2], "show") == 0)
		code = cmd_show(argc - 3, argv + 3);
	else {
		fputs(usage, stderr);
		code = EXIT_USAGE;
	}
	if (fflush(stdout) != 0 && code == 0)
		code = EXIT_USAGE;
	return code;
}
