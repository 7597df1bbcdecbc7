/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_AGENT_H
#define MYNAGUARD_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "devices.h"
#include "mynaguard/policy.h"
#include "emit.h"
#include "ship.h"
#include "spool.h"

#define AGENT_VERSION "0.1.0"
#define AGENT_CLIENTS_MAX 64

/* A submission waiting for the group commit before it is acknowledged. */
struct pending {
	int fd;
	uint64_t seq;
};

/* Replies a client has not read yet.  A client with this many messages in
 * flight is not read from until it catches up (flow control), so a reply
 * is never dropped: the socket's own queue holds only max_dgram_qlen
 * (10 by default). */
#define CLIENT_INFLIGHT_MAX 1024u
#define REPLY_LEN 12u

struct client {
	int fd;
	bool refused;		/* not root: answered, never parsed */
	unsigned inflight;	/* read, not yet answered */
	size_t out_len;		/* queued reply bytes */
	uint8_t out[CLIENT_INFLIGHT_MAX * REPLY_LEN];
};

struct agent {
	struct agent_config cfg;
	char *config_path;
	struct spool *spool;
	struct mg_signer *signer;
	struct shipper *shipper;
	struct emitter em;
	char host_name[256];
	int listen_fd;
	int sig_fd;
	struct client *clients[AGENT_CLIENTS_MAX];
	size_t n_clients;
	struct pending pend[1024];
	size_t n_pend;
	int64_t commit_deadline_ms;	/* monotonic; 0: nothing pending */
	bool stopping;
	int drop_watch_fd;		/* inotify on the drop directory */
	struct pol_policy *policy;	/* NULL: unreadable or invalid */
	struct pol_policy *fallback;	/* devctl_fallback_policy */
	struct pol_history *hist;	/* for whichever of the two rules */
	struct devices *dev;
};

/* intake.c */
int intake_listen(struct agent *a);
void intake_accept(struct agent *a);
/* Handle readable client i; false when it was closed. */
bool intake_client(struct agent *a, size_t i);
/* Send queued replies of client i; false when it was closed. */
bool intake_flush(struct agent *a, size_t i);
/* Whether client i may be read from now. */
bool intake_readable(const struct agent *a, size_t i);
void intake_close_client(struct agent *a, size_t i);
int intake_drop_dir(struct agent *a);
int agent_commit(struct agent *a);
int64_t agent_now_ms(void);

/* main.c */
int agent_status_json(struct agent *a, struct sbuf *out);
/* Emit an agent event and commit it; logs a failure. */
int agent_event(struct agent *a, enum mg_event_type t,
    const struct mg_field_val *f, size_t n);

#endif
