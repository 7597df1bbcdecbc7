/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_AGENT_FETCH_H
#define MYNAGUARD_AGENT_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ship.h"

/*
 * The policy fetcher thread (docs/policy-bundles.md "Agent"): every
 * interval, soon after start and when kicked, it asks the collector for
 * GET <url>/v1/policy/bundle?group=G&have=N over the shipper's mutual-TLS
 * settings.  A 200's body (at most MG_BUNDLE_MAX bytes) waits in a slot
 * for the main loop, which polls fetch_fd(); the thread never judges a
 * bundle and never touches files.  Failures change nothing and are logged
 * once per outage, not once per try.
 */
struct fetch_cfg {
	struct ship_cfg tls;	/* url, ca, cert, key (copied) */
	const char *group;	/* copied */
	uint32_t interval_s;
	bool down;		/* the fetcher before this one saw an outage */
};

struct fetch_status {
	int64_t last_ns;	/* CLOCK_REALTIME of the last attempt; 0 */
	char last[200];		/* its result in words */
};

struct fetcher;

/* Start the thread; have is the version already applied.  -errno. */
int fetch_start(const struct fetch_cfg *cfg, uint64_t have,
    struct fetcher **ret);
/* Readable when a bundle (or a too-large answer) waits. */
int fetch_fd(const struct fetcher *f);
/*
 * What waits: 1 and *ret_buf (malloc'd, free()) of *ret_len bytes, or 1
 * with *ret_buf NULL when the collector's answer was over MG_BUNDLE_MAX;
 * 0 when nothing waits.
 */
int fetch_take(struct fetcher *f, char **ret_buf, size_t *ret_len);
/* The version in force changed (the next request says have=v). */
void fetch_set_have(struct fetcher *f, uint64_t v);
/* Fetch now (SIGHUP). */
void fetch_kick(struct fetcher *f);
void fetch_get_status(struct fetcher *f, struct fetch_status *st);
/* Whether the last attempt failed (an outage is logged once). */
bool fetch_down(struct fetcher *f);
/* Stop at once (a transfer in flight is aborted) and free.  NULL ok. */
void fetch_stop(struct fetcher *f);

#endif
