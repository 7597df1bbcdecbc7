/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pam_bench: how long one login's key step takes, module against module.
 *
 *   pam_bench [-n N] [-w W] [-u USER] [-p PIN] [-v] CONFDIR NAME=SERVICE...
 *
 * Times pam_start_confdir(SERVICE, USER, conversation, CONFDIR) +
 * pam_authenticate() + pam_end(), as a login program does once per login.
 * W warm-up rounds, then N measured rounds; each round runs every service
 * once, the order rotating from round to round (AB, BA, ... for two), so
 * drift of the machine falls on all of them alike.  The conversation
 * answers every echo-off prompt with PIN and swallows the texts.  Prints
 * median, p90, p99, mean and min per service (milliseconds) and the
 * ratio of each median to the first service's.  Every attempt must end
 * in PAM_SUCCESS: anything else is a broken setup (exit status 1), not a
 * slow module.
 *
 *   pam_bench [-n N] [-l LABEL] --policy FILE
 *   pam_bench [-n N] [-l LABEL] [-u USER] --credentials FILE
 *   pam_bench [-n N] [-l LABEL] [-u USER] --tally DIR
 *   pam_bench [-n N] [-l LABEL] --counter DIR
 *   pam_bench [-n N] [-l LABEL] [-u USER] --event SOCKET DROPDIR
 *
 * The same library calls pam_mynaguard.so makes for one step of a login,
 * timed in this process (microseconds): read + parse the policy; trusted
 * load of the credential file; the lockout tally's check + reset; the
 * signature counter's read + atomic write (fsync, rename, fsync of the
 * directory); the login event's submission (socket, else drop file).
 *
 * When libpb-fidotime.so (fidotime.c) is preloaded, the measured rounds
 * are also profiled call by call (run.sh does that in a separate pass,
 * one service at a time).
 */
#include <errno.h>
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <security/pam_appl.h>

#include "mynaguard/common.h"
#include "mynaguard/event.h"
#include "mynaguard/login.h"
#include "mynaguard/policy.h"

#define SERVICES_MAX 16
#define ROUNDS_MAX 100000u

struct conv_state {
	const char *pin;
	bool verbose;		/* print what the module says */
	unsigned prompts;	/* echo-off prompts answered */
};

struct service {
	const char *name;
	const char *service;
	double *ms;		/* one per measured round */
	unsigned failures;
	int first_error;
};

struct opts {
	const char *user, *pin, *label;
	unsigned n, w;
	bool verbose;
};

/* Set by fidotime.c when it is preloaded (run.sh's profile pass). */
typedef void (*report_fn)(const char *title, FILE *out, unsigned logins,
    double total_ms);

static double
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
conv(int n, const struct pam_message **msg, struct pam_response **resp,
    void *data)
{
	struct conv_state *st = data;
	struct pam_response *r;
	int i;

	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	if ((r = calloc((size_t)n, sizeof(*r))) == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			st->prompts++;
			if ((r[i].resp = strdup(st->pin)) == NULL)
				goto fail;
			break;
		case PAM_PROMPT_ECHO_ON:
			goto fail;	/* nothing in this bench asks that */
		default:
			break;
		}
		if (st->verbose)
			fprintf(stderr, "  [%s] %s\n",
			    msg[i]->msg_style == PAM_PROMPT_ECHO_OFF ? "prompt" :
			    msg[i]->msg_style == PAM_ERROR_MSG ? "error" :
			    "info", msg[i]->msg);
	}
	*resp = r;
	return PAM_SUCCESS;
fail:
	for (i = 0; i < n; i++)
		free(r[i].resp);
	free(r);
	return PAM_CONV_ERR;
}

/* One login's key step; the PAM result. */
static int
attempt(const char *confdir, const char *service, const char *user,
    struct conv_state *st)
{
	struct pam_conv pc = { conv, st };
	pam_handle_t *pamh = NULL;
	int r;

	r = pam_start_confdir(service, user, &pc, confdir, &pamh);
	if (r != PAM_SUCCESS)
		return r;
	r = pam_authenticate(pamh, 0);
	(void)pam_end(pamh, r);
	return r;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static double
pct(const double *v, size_t n, double p)
{
	size_t k = (size_t)(p * (double)n + 0.999999);

	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

struct stats {
	double median, p90, p99, mean, min;
};

static void
summarize(double *v, size_t n, struct stats *s)
{
	double sum = 0;
	size_t i;

	qsort(v, n, sizeof(*v), cmp_double);
	for (i = 0; i < n; i++)
		sum += v[i];
	s->median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	s->p90 = pct(v, n, 0.90);
	s->p99 = pct(v, n, 0.99);
	s->mean = sum / (double)n;
	s->min = v[0];
}

static int
usage(void)
{
	fprintf(stderr,
	    "usage: pam_bench [-n N] [-w W] [-u USER] [-p PIN] [-v] CONFDIR "
	    "NAME=SERVICE...\n"
	    "       pam_bench [-n N] [-l LABEL] [-u USER] --policy FILE | "
	    "--credentials FILE |\n"
	    "                 --tally DIR | --counter DIR | "
	    "--event SOCKET DROPDIR\n");
	return 2;
}

static int
run_logins(const char *confdir, struct service *sv, size_t k,
    const struct opts *o)
{
	const char *user = o->user;
	unsigned n = o->n, w = o->w;
	bool verbose = o->verbose;
	struct conv_state st = { o->pin, false, 0 };
	report_fn report = (report_fn)(uintptr_t)dlsym(RTLD_DEFAULT,
	    "pb_fidotime_report");
	unsigned round, j;
	struct stats s0 = { 0 }, s;
	double t0, t, total = 0;
	int r, bad = 0;
	size_t i;

	for (i = 0; i < k; i++)
		if ((sv[i].ms = calloc(n, sizeof(double))) == NULL)
			return 1;
	/* Warm-up; with -v the first attempt of each service shows what the
	 * module said. */
	for (round = 0; round < w; round++)
		for (i = 0; i < k; i++) {
			st.verbose = verbose && round == 0;
			if (st.verbose)
				fprintf(stderr, "%s (service %s):\n",
				    sv[i].name, sv[i].service);
			r = attempt(confdir, sv[i].service, user, &st);
			if (r != PAM_SUCCESS) {
				fprintf(stderr, "pam_bench: %s: warm-up attempt "
				    "failed: %s (%d)\n", sv[i].name,
				    pam_strerror(NULL, r), r);
				return 1;
			}
		}
	st.verbose = false;
	if (report != NULL)	/* profile pass: one service, N logins */
		report(NULL, NULL, 0, 0);
	for (round = 0; round < n; round++)
		for (j = 0; j < k; j++) {
			i = (round + j) % k;
			t0 = now_ms();
			r = attempt(confdir, sv[i].service, user, &st);
			t = now_ms() - t0;
			sv[i].ms[round] = t;
			total += t;
			if (r != PAM_SUCCESS && sv[i].failures++ == 0)
				sv[i].first_error = r;
		}
	if (report != NULL)
		report(sv[0].name, stdout, n, total);
	printf("%-24s %8s %8s %8s %8s %8s  %s\n", "pam_authenticate() ms",
	    "median", "p90", "p99", "mean", "min", "median ratio");
	for (i = 0; i < k; i++) {
		summarize(sv[i].ms, n, &s);
		if (i == 0)
			s0 = s;
		printf("%-24s %8.3f %8.3f %8.3f %8.3f %8.3f  %.3f\n",
		    sv[i].name, s.median, s.p90, s.p99, s.mean, s.min,
		    s.median / s0.median);
		if (sv[i].failures > 0) {
			fprintf(stderr, "pam_bench: %s: %u of %u attempts "
			    "failed, first with %s (%d)\n", sv[i].name,
			    sv[i].failures, n, pam_strerror(NULL,
			    sv[i].first_error), sv[i].first_error);
			bad = 1;
		}
		free(sv[i].ms);
	}
	printf("(%u rounds after %u warm-up rounds, services interleaved; "
	    "%u PIN prompts answered)\n", n, w, st.prompts);
	return bad;
}

/* ---- the module's steps, one by one ----------------------------------- */

enum part { P_POLICY, P_CREDS, P_TALLY, P_COUNTER, P_EVENT };

static int
one_part(enum part p, const char *a, const char *b, const char *user,
    unsigned i)
{
	struct pol_policy *pol = NULL;
	struct pmod_creds *creds = NULL;
	struct pmod_diag diag = { 0 };
	struct pmod_lock_state ls;
	const struct pmod_cred *mine[4];
	struct pol_diags *d;
	char *text = NULL, id[65];
	size_t len = 0;
	uint32_t v = 0;
	int r;

	switch (p) {
	case P_POLICY:
		if ((d = calloc(1, sizeof(*d))) == NULL)
			return -ENOMEM;
		r = file_read_all(a, 1u << 20, FILE_TRUSTED, &text, &len);
		if (r >= 0)
			r = pol_policy_parse(text, len, d, &pol);
		pol_policy_free(pol);
		free(text);
		free(d);
		return r;
	case P_CREDS:
		r = pmod_creds_load(a, &creds, &diag);
		if (r >= 0 && pmod_creds_for_user(creds, user, mine, 4) == 0)
			r = -ENOENT;
		pmod_creds_free(creds);
		return r;
	case P_TALLY:
		r = pmod_tally_state(a, user, 5, 900, (uint64_t)time(NULL),
		    &ls);
		return r < 0 ? r : pmod_tally_reset(a, user);
	case P_COUNTER:
		memset(id, 'a', 64);
		id[64] = '\0';
		r = pmod_counter_get(a, id, &v);
		if (r < 0 && r != -ENOENT)
			return r;
		return pmod_counter_set(a, id, i + 1);
	case P_EVENT: {
		struct mg_submit s = { .type = MG_EV_LOGIN_SUCCEEDED,
		    .flags = MG_REC_F_CRITICAL };
		static const struct { enum mg_field id; const char *v; } f[] = {
			{ MG_F_LOGIN_SERVICE, "mg-default" },
			{ MG_F_KEY_ID, "5f0c3c2b9d6e4a1f8e7d6c5b4a3928170f1e2d3c"
			    "4b5a69788796a5b4c3d2e1f0" },
			{ MG_F_KEY_LABEL, "imported from pam_u2f" },
			{ MG_F_KEY_RP, "pam://bench" },
			{ MG_F_KEY_AAGUID, "6d796e61-6775-6172-6473-6f66746b6579" },
			{ MG_F_KEY_COUNTER, "1234" },
			{ MG_F_KEY_STORED_COUNTER, "1233" },
		};
		size_t k;

		s.f[s.n++] = (struct mg_field_val){ MG_F_USER, user,
		    strlen(user) };
		for (k = 0; k < MG_ELEMENTSOF(f); k++)
			s.f[s.n++] = (struct mg_field_val){ f[k].id, f[k].v,
			    strlen(f[k].v) };
		r = mg_submit_event(a, b, &s, 1000, NULL);
		return r;
	}
	}
	return -EINVAL;
}

static int
run_part(enum part p, const char *what, const char *a, const char *b,
    const char *user, unsigned n)
{
	double *us, t0;
	struct stats s;
	unsigned i;
	int r;

	if ((us = calloc(n, sizeof(*us))) == NULL)
		return 1;
	for (i = 0; i < n; i++) {
		t0 = now_ms();
		r = one_part(p, a, b, user, i);
		us[i] = (now_ms() - t0) * 1e3;
		if (r < 0) {
			fprintf(stderr, "pam_bench: %s: %s\n", what,
			    strerror(-r));
			free(us);
			return 1;
		}
	}
	summarize(us, n, &s);
	printf("  %-44s median %8.1f us  p90 %8.1f  p99 %8.1f\n", what,
	    s.median, s.p90, s.p99);
	free(us);
	return 0;
}

/* The index of the first argument that is not an option, or -1. */
static int
parse_opts(int argc, char **argv, struct opts *o)
{
	uint32_t v;
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (strncmp(a, "--", 2) == 0)
			break;
		if (strcmp(a, "-v") == 0) {
			o->verbose = true;
			continue;
		}
		if (i + 1 >= argc || strlen(a) != 2)
			return -1;
		switch (a[1]) {
		case 'n':
		case 'w':
			if (parse_u32(argv[++i], a[1] == 'n' ? 1 : 0,
			    ROUNDS_MAX, &v) < 0)
				return -1;
			*(a[1] == 'n' ? &o->n : &o->w) = v;
			break;
		case 'u':
			o->user = argv[++i];
			break;
		case 'p':
			o->pin = argv[++i];
			break;
		case 'l':
			o->label = argv[++i];
			break;
		default:
			return -1;
		}
	}
	return i;
}

static const struct {
	const char *opt;
	enum part part;
	int nargs;
	const char *what;
} parts[] = {
	{ "--policy", P_POLICY, 1, "policy: read + parse" },
	{ "--credentials", P_CREDS, 1, "credentials: trusted load + lookup" },
	{ "--tally", P_TALLY, 1, "lockout tally: check + reset" },
	{ "--counter", P_COUNTER, 1, "signature counter: read + write" },
	{ "--event", P_EVENT, 2, "event: submit" },
};

int
main(int argc, char **argv)
{
	struct opts o = { "bench", "123456", NULL, 200, 20, false };
	struct service sv[SERVICES_MAX];
	const char *confdir;
	size_t k = 0, p;
	int i;

	if ((i = parse_opts(argc, argv, &o)) < 0 || i >= argc)
		return usage();
	for (p = 0; p < MG_ELEMENTSOF(parts); p++)
		if (strcmp(argv[i], parts[p].opt) == 0) {
			if (argc - i - 1 != parts[p].nargs)
				return usage();
			return run_part(parts[p].part, o.label != NULL ?
			    o.label : parts[p].what, argv[i + 1],
			    parts[p].nargs > 1 ? argv[i + 2] : NULL, o.user,
			    o.n);
		}
	if (argv[i][0] == '-')
		return usage();
	confdir = argv[i++];
	for (; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (eq == NULL || eq == argv[i] || eq[1] == '\0' ||
		    k == SERVICES_MAX)
			return usage();
		*eq = '\0';
		sv[k++] = (struct service){ argv[i], eq + 1, NULL, 0, 0 };
	}
	if (k == 0)
		return usage();
	return run_logins(confdir, sv, k, &o);
}
