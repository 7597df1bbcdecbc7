/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_AGENT_SHIP_H
#define MYNAGUARD_AGENT_SHIP_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "spool.h"

/* The shipper thread: sends committed records to the collector over
 * mutual TLS and acknowledges them in the spool only after the collector
 * says they are durably stored.  Given several collector instances, it
 * uses one until it fails, then the next in turn (ship_next_url()). */
struct ship_cfg {
	const char *url;	/* base URLs, one space between them (as
				 * agent_config_urls() takes them), e.g.
				 * "https://c1:8443/ https://c2:8443/" */
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
	char url[AGENT_URL_MAX + 1];	/* the collector in use now */
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

/* What one attempt came to, for the choice of the next collector. */
enum ship_result {
	SHIP_OK,		/* answered as hoped (or nothing to send) */
	SHIP_UNREACHABLE,	/* no answer: connection, TLS, timeout */
	SHIP_BUSY,		/* HTTP 5xx or 429: busy, or failing */
	SHIP_REFUSED,		/* any other answer: another instance of
				 * the same collector would give it too */
	SHIP_LOCAL,		/* our side failed (the spool) */
};

/*
 * The collector (index of n) for the attempt after one that came to res:
 * the next in the list, round robin, after SHIP_UNREACHABLE or SHIP_BUSY,
 * so that one dead or busy instance does not stall the terminal; the same
 * one otherwise.  The shipper and the policy fetcher both choose so.
 */
size_t ship_next_url(size_t index, size_t n, enum ship_result res);

/* Trouble is logged once per change, not once per retry: per collector
 * of a list, the last message said since the last success. */
struct ship_said {
	uint32_t h[AGENT_URLS_MAX];	/* its hash; 0: nothing said */
};

/* Whether msg is news for collector i (and remember it as said). */
bool ship_said_new(struct ship_said *s, size_t i, const char *msg);
/* A success at collector i: everything may be said again.  Whether
 * trouble of i had been said. */
bool ship_said_reset(struct ship_said *s, size_t i);

/* Delay before attempt `failures` (1, 2, ...): full jitter over an
 * exponential bound of 1 s doubling up to max_s; at least retry_after_s. */
uint64_t ship_backoff_ms(unsigned failures, uint32_t max_s,
    uint32_t retry_after_s, uint32_t rnd);

#endif
