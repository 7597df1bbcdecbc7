/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_COLLECTOR_H
#define MYNAGUARD_COLLECTOR_H

/*
 * libmynaguard-collector: the pieces of mynaguard-collector, the central
 * HTTPS service that receives signed event records (docs/events.md) from
 * terminals over mutual TLS and stores them in SQLite.  main.c wires them
 * together; the unit tests and the fuzz harness use them directly.
 * Every int-returning function returns >= 0 on success, -errno on failure.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mynaguard/event.h"

/* ---- log.c: stderr with <sd-daemon.h> priority prefixes ---------------- */

/* One line "<prio>message" to stderr, written with a single write(2) so
 * lines of different threads never mix; control characters are replaced.
 * Returns 0. */
int
coll_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drop messages of priority above prio (-1: all); for tests and the fuzz
 * harness.  Not thread-safe: call before starting threads. */
void coll_log_set_max(int prio);
/* The same, followed by ": strerror(-r)"; returns r. */
int coll_log_errno(int prio, int r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- config.c: /etc/mynaguard/collector.conf --------------------------- */

#define COLL_CONFIG_PATH "/etc/mynaguard/collector.conf"
#define COLL_DATABASE_PATH "/var/lib/mynaguard/collector.db"

struct coll_config {
	char *listen;	   /* numeric IPv4 or IPv6 address */
	uint16_t port;	   /* 0: any free port */
	char *certificate; /* server certificate (PEM), absolute path */
	char *key;	   /* its private key (PEM) */
	char *ca;	   /* the town CA: the only client trust anchor */
	char *database;	   /* SQLite file, or postgresql:// string */
	uint32_t threads;  /* HTTP worker threads */
	uint32_t max_body; /* bytes per POST */
	uint32_t timeout;  /* idle seconds per connection */
	uint32_t silent_after; /* [Review] seconds before "silent" */
	/* [Policy] SigningCertificate: the policy-signing certificate (PEM);
	 * when set, "policy publish" also checks a bundle's signature, as a
	 * guard against publishing the wrong file.  NULL: structure only. */
	char *signing_cert;
	/* POSTs being received or stored at once; more get 503 with
	 * Retry-After (backpressure: terminals keep their spools). */
	uint32_t max_pending;
	/* [Checkpoint]: seconds between signed checkpoints of the Merkle
	 * log, and the log's name in them. */
	uint32_t checkpoint_interval;
	char *origin;
};

/* Where a configuration problem is (line 0: not tied to a line). */
struct coll_diag {
	unsigned line;
	char msg[160];
};

/* Defaults; -ENOMEM. Free with coll_config_clear(). */
int coll_config_init(struct coll_config *c);
void coll_config_clear(struct coll_config *c);

/*
 * Parse the INI text buf (len bytes) into *c on top of what is there: a
 * [Collector], a [Review] and a [Policy] section of Key=Value lines, '#' or ';' comments.  An unknown
 * section or key, a duplicate key or a value out of range is an error:
 * -EBADMSG (or -ERANGE) with *diag set; -ENOMEM.  On failure *c is
 * unchanged.
 */
int coll_config_parse(
    struct coll_config *c, const char *buf, size_t len, struct coll_diag *diag);

/* Read and parse a file (trusted as in STYLE 5.6: absolute path, regular,
 * not writable by group or other, owned by root or by us). */
int coll_config_load(
    struct coll_config *c, const char *path, struct coll_diag *diag);

/* Set one key as the file would ("Port", "0"); for command-line options.
 * -ENOENT for an unknown key. */
int coll_config_set(struct coll_config *c, const char *key, const char *value,
    struct coll_diag *diag);

/* Whole-config checks (required keys present).  -EINVAL with *diag. */
int coll_config_validate(const struct coll_config *c, struct coll_diag *diag);

/* ---- file.c ------------------------------------------------------------- */

/* Read a whole file of at most max bytes that we can trust: absolute path,
 * no symlink at the last component, regular, owned by root or by our
 * effective uid, not writable by group or other.  As file_read_all(). */
int coll_file_read(const char *path, size_t max, char **ret, size_t *ret_len);

/* ---- tls.c: certificates and the client-certificate check -------------- */

/* TLS 1.3 and 1.2 only; ECDHE; AES-GCM only (CRYPTREC e-Government list);
 * SHA-256/384 signatures; P-256/P-384. */
#define COLL_TLS_PRIORITIES                                          \
	"NONE:+VERS-TLS1.3:+VERS-TLS1.2:+ECDHE-ECDSA:+ECDHE-RSA:"    \
	"+AES-256-GCM:+AES-128-GCM:+AEAD:"                           \
	"+SIGN-ECDSA-SECP256R1-SHA256:+SIGN-ECDSA-SECP384R1-SHA384:" \
	"+SIGN-ECDSA-SHA256:+SIGN-ECDSA-SHA384:"                     \
	"+SIGN-RSA-PSS-RSAE-SHA256:+SIGN-RSA-PSS-RSAE-SHA384:"       \
	"+SIGN-RSA-SHA256:+SIGN-RSA-SHA384:"                         \
	"+GROUP-SECP256R1:+GROUP-SECP384R1:+CTYPE-X509:+COMP-NULL"

/* PEM texts handed to libmicrohttpd (NUL-terminated). */
struct coll_tls {
	char *cert;
	char *key; /* wiped on clear */
	size_t key_len;
	char *ca;
};

/*
 * Read the certificate, key and CA named in c and check them: the key
 * matches the certificate, the certificate is currently valid, the CA file
 * holds only CA certificates, and the priority string parses.  -errno with
 * *diag naming the file and the problem.
 */
int coll_tls_load(
    struct coll_tls *t, const struct coll_config *c, struct coll_diag *diag);
void coll_tls_clear(struct coll_tls *t);

/* ---- store.c: the SQLite database --------------------------------------- */

struct coll_store;

#define COLL_STORE_READONLY 0x1u /* the viewer */

/*
 * Open (creating it and its schema unless READONLY) the database at path,
 * ":memory:" included; WAL, synchronous=FULL, busy_timeout.  -errno with
 * *ret_why (static or from SQLite, valid until the next call).
 */
int coll_store_open(const char *path, unsigned flags, struct coll_store **ret,
    const char **ret_why);
void coll_store_free(struct coll_store *st);
/*
 * checkpointer.c: append events stored before the Merkle log existed, then
 * start the thread that signs a checkpoint of the log every [Checkpoint]
 * Interval with the collector's TLS key (and once more at stop).  Logs
 * what fails.  -errno.
 */
struct coll_checkpointer;
int coll_checkpointer_start(const struct coll_config *c, struct coll_store *st,
    struct coll_checkpointer **ret);
void coll_checkpointer_stop(struct coll_checkpointer *cp);
/* Whether Database= names PostgreSQL (postgresql:// or postgres://). */
bool coll_store_is_pg(const char *database);
/* Database= for logs and messages: a connection string's password is
 * replaced by "***".  Returns buf. */
const char *coll_store_display(const char *database, char *buf, size_t len);

/* ---- ingest.c: one POST /v1/events body --------------------------------- */

#define COLL_RECORDS_MAX 10000u

/* What to answer.  status is the HTTP status; error and offset are set for
 * 400, 403 and 413; the counters for 200 and 400. */
struct coll_result {
	unsigned status;
	const char *error; /* static text */
	size_t offset;	   /* byte offset of the offending record */
	uint64_t acked;	   /* acked_through_seq */
	unsigned accepted, duplicates, quarantined, alerts;
};

/*
 * Decode the records in body, check each against the client certificate's
 * verifier v (outside the database lock), then apply them to the agent's
 * chain in one transaction and fill *res.  Returns 0 when *res says what to
 * answer (any status), -errno when the database failed (-EBUSY, -ENOSPC,
 * -EIO: answer 503 with Retry-After; else 500).
 */
int coll_ingest(struct coll_store *st, const struct mg_verifier *v,
    const uint8_t *body, size_t len, int64_t now_ns, struct coll_result *res);

/* ---- view.c: "mynaguard-collector events|alerts" ------------------------ */

/* Print the latest limit events (or alerts) oldest first, of one agent when
 * agent is not NULL.  Control characters in stored text are replaced. */
int coll_view_events(
    struct coll_store *st, FILE *out, const char *agent, unsigned limit);
int coll_view_alerts(
    struct coll_store *st, FILE *out, const char *agent, unsigned limit);

/* ---- ledger_audit.c: the store against a checkpoint (issue 9) ---------- */

/*
 * What "mynaguard-review verify --checkpoint" proves (docs/checkpoints.md):
 * every leaf of the Merkle log recomputed from its event's record bytes,
 * the root at the checkpoint's size, the whole log's root against
 * merkle_state and the newest stored checkpoint, a consistency proof from
 * the checkpoint to the store, and inclusion proofs of chosen events.
 * Hashes are SHA-256 (32 bytes); proofs have at most 64 of them.
 */
struct mg_checkpoint;

enum coll_audit_kind {
	COLL_AUDIT_LEAF_MISSING,  /* no rows for leaves index..index_end */
	COLL_AUDIT_EVENT_MISSING, /* the leaf's event row is gone */
	COLL_AUDIT_RECORD_EDITED, /* the record's leaf hash is not the log's */
	COLL_AUDIT_ROW_EDITED,	  /* other columns differ from the record */
	COLL_AUDIT_UNLOGGED,	  /* an event no leaf names (index: none) */
	COLL_AUDIT_LEAF_EXTRA,	  /* a leaf row outside the log's size */
};

struct coll_audit_finding {
	enum coll_audit_kind kind;
	uint64_t index, index_end; /* leaf index; UINT64_MAX: none */
	char agent[MG_REC_AGENT_ID_MAX + 1]; /* "": not known */
	uint64_t seq;
	bool has_hashes;	 /* stored is set (RECORD_EDITED) */
	uint8_t stored[32];	 /* merkle_leaves.hash */
	uint8_t recomputed[32];	 /* from the record (RECORD_EDITED) */
	const char *what;	 /* ROW_EDITED: a static sentence */
};

#define COLL_AUDIT_FINDINGS_MAX 1000u /* kept; more are only counted */
#define COLL_AUDIT_JSON_MAX (64u << 20)

enum coll_audit_verdict {
	COLL_AUDIT_UNCHECKABLE, /* the leaves before it are not all there */
	COLL_AUDIT_OK,
	COLL_AUDIT_DIFFERS,
};

enum coll_audit_ev_status {
	COLL_AUDIT_EV_FOUND,	/* event and leaf */
	COLL_AUDIT_EV_NO_LEAF,	/* an event no leaf of the log names */
	COLL_AUDIT_EV_NO_EVENT, /* a leaf whose event row is gone */
	COLL_AUDIT_EV_ABSENT,	/* neither */
};

/* One chosen event: the caller sets agent and seq, the audit the rest. */
struct coll_audit_event {
	char agent[MG_REC_AGENT_ID_MAX + 1];
	uint64_t seq;
	enum coll_audit_ev_status status;
	uint64_t index;		 /* its leaf */
	uint8_t leaf[32];	 /* recomputed from its record */
	bool made;		 /* a proof was made: the fields below */
	bool against_checkpoint; /* index < the checkpoint's size */
	uint64_t size;		 /* the tree proven against, its root */
	uint8_t root[32];
	uint8_t proof[64][32];
	size_t nproof;
	int verified; /* 0: the proof holds; -EBADMSG, or -errno */
};

struct coll_audit {
	/* The exported checkpoint, and the store's root at its size. */
	char cp_origin[129];
	uint64_t cp_size;
	uint8_t cp_root[32];
	int64_t cp_time;
	enum coll_audit_verdict cp_match;
	uint8_t cp_recomputed[32]; /* when cp_match is DIFFERS */
	/* The store: merkle_state's size and root, the leaf rows walked up
	 * to the last one, the event rows, the root recomputed from the records
	 * (root_ok), and the first leaf that could not be recomputed
	 * (UINT64_MAX: none). */
	uint64_t size, leaves, event_rows, broken;
	uint8_t state_root[32];
	bool root_ok;
	uint8_t root[32];
	enum coll_audit_verdict state_match;
	/* The newest stored checkpoint: latest when it verified with the CA
	 * (latest_sig 0); latest_sig < 0 with latest_why when it did not;
	 * neither when the store holds none. */
	bool latest;
	int latest_sig;
	const char *latest_why;
	char latest_origin[129];
	uint64_t latest_size;
	uint8_t latest_root[32];
	enum coll_audit_verdict latest_match;
	uint8_t latest_recomputed[32];
	/* Consistency from the checkpoint to the store's size, against the
	 * recomputed root (the stored one when !root_ok): 0 holds, -EBADMSG
	 * not, -ERANGE the store is smaller, other -errno: no proof made. */
	int consistency;
	bool cons_made;
	uint8_t cons_proof[64][32];
	size_t cons_n;
	struct coll_audit_event *events; /* the caller's */
	size_t nevents;
	struct coll_audit_finding *findings;
	size_t nfindings;
	uint64_t findings_total;
};

/*
 * Audit st (open it COLL_STORE_READONLY) against cp, a checkpoint already
 * verified with mg_checkpoint_verify(); ca_path is the town CA, for the
 * newest stored checkpoint.  events[0..nevents) (agent and seq set) are
 * filled in and stay the caller's.  One read-only transaction, leaves
 * read 10,000 rows at a time: memory does not grow with the store.  0 with
 * *ret (free with coll_audit_free()) whatever the audit found; -errno
 * when the database failed, with the database's message in *ret_why
 * (when not NULL; valid until the next call on st).
 */
int coll_audit_run(struct coll_store *st, const struct mg_checkpoint *cp,
    const char *ca_path, struct coll_audit_event *events, size_t nevents,
    struct coll_audit **ret, const char **ret_why);
void coll_audit_free(struct coll_audit *a);
/* Everything holds: no finding, every root matches, every proof holds. */
bool coll_audit_ok(const struct coll_audit *a);
const char *coll_audit_kind_name(enum coll_audit_kind k);
const char *coll_audit_verdict_name(enum coll_audit_verdict v);
const char *coll_audit_event_status_name(enum coll_audit_ev_status s);
/*
 * The audit as one JSON object appended to out (give it
 * COLL_AUDIT_JSON_MAX): "ok", "checkpoint", "latest_checkpoint", "store"
 * (database: show coll_store_display()'s form), "consistency", "events",
 * "findings", and "checks", the proofs exactly as
 * tests/integration/merkle_ref.py check-json reads them.  -errno.
 */
int coll_audit_json(const struct coll_audit *a, const char *database,
    struct sbuf *out);

/* ---- policy_store.c: signed policy bundles (issue 8) -------------------- */

/*
 * The administrator signs a policy into a bundle offline
 * (docs/policy-bundles.md); the collector only stores the bytes and serves
 * them to the terminals of the bundle's group.  It holds no signing key and
 * cannot make or alter a bundle the terminals would accept.
 */
#define COLL_BUNDLE_MAX (8u << 20)  /* = MG_BUNDLE_MAX */
#define COLL_GROUP_MAX 64u	    /* = MG_BUNDLE_GROUP_MAX */
#define COLL_SHA256_HEX 65u	    /* 64 hex digits and a NUL */

/* What the publisher read from a bundle (mg_bundle_parse()).  Strings are
 * NUL-terminated; credentials_sha256 is NULL for a policy-only bundle. */
struct coll_bundle_info {
	const char *group;
	uint64_t version; /* 1..INT64_MAX */
	int64_t created;  /* the signer's time, seconds */
	const char *signer;
	const char *policy_sha256;
	const char *credentials_sha256;
};

/* One published bundle as stored. */
struct coll_bundle_meta {
	uint64_t version;
	char sha256[COLL_SHA256_HEX]; /* of the whole bundle, hex */
	char policy_sha256[COLL_SHA256_HEX];
	char signer[COLL_SHA256_HEX];
	int64_t created;
	int64_t published_ns;
	size_t len;
};

/* A group name: 1..64 of [a-z0-9._-], starting with [a-z0-9]. */
bool coll_policy_group_valid(const char *s, size_t len);

/*
 * Store bytes (len <= COLL_BUNDLE_MAX) as the newest bundle of in->group.
 * 0 with *ret filled (sha256 computed here); -ESTALE when in->version is
 * not greater than the group's latest, with only ret->version set to that
 * latest; -EINVAL for a bad group, version or hash; -E2BIG; -errno.
 */
int coll_policy_publish(struct coll_store *st,
    const struct coll_bundle_info *in, const void *bytes, size_t len,
    int64_t now_ns, struct coll_bundle_meta *ret);

/* The group's latest bundle: 1 with *ret, 0 when it has none, -errno. */
int coll_policy_latest(
    struct coll_store *st, const char *group, struct coll_bundle_meta *ret);

/*
 * A terminal (agent, its certificate CN) asks for group's bundle, having
 * version have (0: none).  Records the group and the time.  1 with the
 * bundle in *ret_bytes (malloc'd, free() it) and *ret; 0 when have is
 * already the latest (*ret filled, no bytes); -ENOENT when the group has
 * no bundle; -EINVAL for a bad group; -errno.
 */
int coll_policy_fetch(struct coll_store *st, const char *agent,
    const char *group, uint64_t have, int64_t now_ns,
    struct coll_bundle_meta *ret, void **ret_bytes);

/* "mynaguard-collector policy list": the published versions per group,
 * then per terminal its group, the version in force and the latest. */
int coll_policy_list(struct coll_store *st, FILE *out);

/* policy_cmd.c, in mynaguard-collector only (it links libmynaguard-bundle):
 * "policy publish|list"; argv[0] is "policy".  Returns an exit code. */
int coll_policy_main(int argc, char **argv);

/* ---- server.c, http.c: the HTTPS server -------------------------------- */

struct coll_server;

/* Start listening on the socket systemd passed (socket activation) or else
 * on c's Listen= and Port= (0: any free port), with c's limits and t's
 * certificates, which must outlive the server.  -errno after logging why. */
int coll_server_start(const struct coll_config *c, const struct coll_tls *t,
    struct coll_store *st, struct coll_server **ret);
/* The address actually listened on, "127.0.0.1:8443" or "[::]:8443"
 * (port 0 and socket activation resolved).  -errno. */
int coll_server_address(const struct coll_server *s, char *out, size_t len);
/* Stop accepting, wait up to timeout_s for requests in flight, then stop
 * and free.  Accepts NULL. */
void coll_server_stop(struct coll_server *s, unsigned timeout_s);
/* The HTTP status for a -errno from the request path. */
unsigned coll_http_status(int r);

#endif
