/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_AGENT_H
#define MYNAGUARD_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "central.h"
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

/* What the agent-state event reports (state.c, docs/events.md). */
#define STATE_WORDS_MAX 256u
#define STATE_GAP_MS 60000	/* a change is reported at most this often */

struct agent_state {
	char usb_default[8];	/* 0 1 2 mixed none unknown */
	char iface_default[8];
	unsigned disks;		/* removable disks present */
	unsigned writable;	/* of them ro=0 with a verdict not allow */
	bool udev;		/* our rules file is in force */
	char udev_path[128];
	const char *modprobe;	/* present, missing, overridden */
	bool fallback;		/* no valid policy: the fallback decides */
};

/* The periodic and on-change timer of the agent-state event. */
struct state_timer {
	int fd;			/* timerfd, CLOCK_MONOTONIC; -1 */
	int64_t next_ms;	/* next periodic event; 0: none */
	int64_t last_ms;	/* when the last one was written */
	bool pending;		/* the words changed within STATE_GAP_MS */
	uint64_t fingerprint;	/* of the decisions it was computed from */
	char words[STATE_WORDS_MAX];	/* mismatch last reported */
};

struct agent {
	struct agent_config cfg;
	char *config_path;
	struct spool *spool;
	struct mg_signer *signer;
	struct shipper *shipper;
	/* The collector it ships to: [Collector] URL, else the policy's
	 * [reporting] collector; NULL: events stay in the spool. */
	char *ship_url;
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
	char policy_hash[65];		/* of the policy in force; "" */
	char policy_version[16];	/* fallback: both empty */
	struct state_timer st;		/* state.c */
	struct central central;		/* central.c: [Policy] Group */
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

/* state.c.  root prefixes every path ("" in the agent; tests give a
 * directory).  Reads what is in force into *s (disks not counted). */
void state_read(const char *root, struct agent_state *s);
/* Count one decided removable disk at syspath with verdict v. */
void state_count_disk(struct agent_state *s, const char *syspath,
    enum pol_verdict v);
/* The mismatch words of s into buf (size bytes); "" when all is right. */
void state_mismatch(const struct agent_state *s, char *buf, size_t size);
/* Open the timer and write the first agent-state event.  -errno. */
int state_start(struct agent *a);
void state_stop(struct agent *a);
/* The timer fired. */
void state_on_timer(struct agent *a);
/* Decisions or the policy may have changed: an event when the mismatch
 * words changed (at most once per STATE_GAP_MS).  force: policy reload. */
void state_check(struct agent *a, bool force);

/* main.c */
/* Load the policy file and record the outcome as a signed event. */
void agent_load_policy(struct agent *a);
int agent_status_json(struct agent *a, struct sbuf *out);
/* Emit an agent event and commit it; logs a failure. */
int agent_event(struct agent *a, enum mg_event_type t,
    const struct mg_field_val *f, size_t n);

#endif
