/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_AGENT_SHIP_H
#define MYNAGUARD_AGENT_SHIP_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "spool.h"

/* The shipper thread: sends committed records to the collector over
 * mutual TLS and acknowledges them in the spool only after the collector
 * says they are durably stored. */
struct ship_cfg {
	const char *url;	/* base, e.g. https://collector:8443/ */
	const char *ca;
	const char *cert;
	const char *key;
	uint32_t batch_max;
	uint32_t backoff_max_s;
};

struct ship_status {
	bool reachable;		/* last attempt reached the collector */
	int64_t last_ok_ns;	/* CLOCK_REALTIME of the last success */
	int64_t next_try_ns;
	uint64_t acked_seq;
	uint64_t sent_records;
	char last_error[256];
};

struct shipper;

/* The collector channel's TLS options on c (https only, no proxy, no
 * redirects, TLS 1.2+ with the listed suites, the town CA only, our client
 * certificate, timeouts): shared by the shipper and the policy fetcher.
 * 0 or -EINVAL. */
int ship_curl_tls(CURL *c, const struct ship_cfg *cfg);

int ship_start(const struct ship_cfg *cfg, struct spool *sp,
    struct shipper **ret);
/* New records were committed. */
void ship_kick(struct shipper *s);
/* Stop, trying for at most drain_ms to send what is left. */
void ship_stop(struct shipper *s, int drain_ms);
void ship_get_status(struct shipper *s, struct ship_status *st);

/* Delay before attempt `failures` (1, 2, ...): full jitter over an
 * exponential bound of 1 s doubling up to max_s; at least retry_after_s. */
uint64_t ship_backoff_ms(unsigned failures, uint32_t max_s,
    uint32_t retry_after_s, uint32_t rnd);

#endif
