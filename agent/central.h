/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_AGENT_CENTRAL_H
#define MYNAGUARD_AGENT_CENTRAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fetch.h"
#include "mynaguard/common.h"

#define CENTRAL_REFUSED_MAX 16u	/* refused bundles remembered per run */

/* The central signed policy ([Policy] Group=), agent/central.c. */
struct central {
	bool on;			/* Group set and the certificate usable */
	char *cert;			/* the pinned certificate, PEM */
	size_t cert_len;
	uint64_t applied;		/* version of applied.bundle; 0: none */
	char applied_sha[65];		/* its SHA-256; "" */
	const char *note;		/* policy-applied to report after the
					 * next load: "reinstalled", ... */
	char refused[CENTRAL_REFUSED_MAX][65];	/* SHA-256s, this run */
	unsigned n_refused;
	bool refused_big;		/* a too-large answer was reported */
	struct fetcher *fetcher;
	bool fetch_down;		/* carried over a SIGHUP's restart */
};

struct agent;

/* Before the policy is loaded (start, SIGHUP): pin the certificate, read
 * the last applied bundle and reinstall its parts when the installed files
 * differ.  Never fatal: without a usable certificate the terminal keeps
 * its local policy and says so. */
void central_start(struct agent *a);
/* After the policy is loaded: report what the start found. */
void central_loaded(struct agent *a);
/* Once the collector URL is known: start the fetcher. */
void central_fetch_start(struct agent *a);
/* The fetcher's fd is readable: judge and apply or refuse. */
void central_on_fetch(struct agent *a);
void central_stop(struct agent *a);
/* policy_group, policy_applied_version, policy_last_fetch(_time) keys of
 * the status object. */
void central_status(struct agent *a, struct jw *w);
/* Whether the certificate at path can pin bundles; prints why not. */
int central_check_config(const char *group, const char *cert_path);

#endif
