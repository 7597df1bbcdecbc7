/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_COLLECTOR_INTERNAL_H
#define MYNAGUARD_COLLECTOR_INTERNAL_H

/* Shared between the collector's own files only. */

#include <microhttpd.h>
#include <stdatomic.h>

#include "mynaguard/collector.h"

/* ---- store.c: statements and transactions -------------------------------- */

/*
 * One API over two databases: SQLite (store_sqlite.c, the embedded
 * default) and PostgreSQL (store_pg.c, for several collectors on one
 * database).  SQL is written once in the subset both understand: "?" or
 * "?N" placeholders, ON CONFLICT upserts, no boolean-valued integers in
 * WHERE or sum(), no bare columns beside aggregates.  PostgreSQL gets
 * json_extract() and instr() as SQL functions (schema.c), so the queries
 * over the JSON body read the same.
 */

/* Results of coll_stmt_step(); errors are -errno. */
#define COLL_OK 0
#define COLL_ROW 100
#define COLL_DONE 101

/* Column types, as coll_stmt_type() reports them. */
enum coll_type { COLL_INTEGER = 1, COLL_FLOAT, COLL_TEXT, COLL_BLOB, COLL_NULL };

enum coll_backend { COLL_SQLITE, COLL_POSTGRES };

struct coll_stmt;

enum coll_backend coll_store_backend(const struct coll_store *st);

/* The lock of one unit of work: the one writer of SQLite; with
 * PostgreSQL, a connection of the pool, bound to this thread until
 * unlock.  Every statement runs between lock and unlock. */
void coll_store_lock(struct coll_store *st);
void coll_store_unlock(struct coll_store *st);
/* The same, giving up with -EBUSY after ms milliseconds (the ingest path:
 * a request that cannot get the database soon is answered 503 with
 * Retry-After instead of waiting in an unbounded queue). */
int coll_store_lock_timed(struct coll_store *st, unsigned ms);
#define COLL_LOCK_WAIT_MS 5000u
/* A write transaction (SQLite: BEGIN IMMEDIATE) / COMMIT / ROLLBACK.
 * -errno. */
int coll_store_begin(struct coll_store *st);
int coll_store_commit(struct coll_store *st);
void coll_store_rollback(struct coll_store *st);
/*
 * With PostgreSQL, serialise the rest of this transaction with every other
 * transaction naming the same key, on every collector of the database
 * (pg_advisory_xact_lock); released at COMMIT or ROLLBACK.  SQLite has one
 * writer already: a no-op.  -errno.
 */
int coll_store_xlock(struct coll_store *st, const char *key);
/* The same for one terminal's records, chain and alerts. */
int coll_store_xlock_terminal(struct coll_store *st, const char *agent);
/* The database's last error text, for logs (thread-local copy). */
const char *coll_store_errmsg(struct coll_store *st);
/* A result code as -errno: negative values pass through; COLL_OK,
 * COLL_ROW and COLL_DONE are 0; SQLite codes are mapped (-EBUSY, -ENOSPC,
 * -EIO, -ENOMEM, -EEXIST for a constraint, -EPROTO otherwise). */
int coll_store_errno(int rc);
/* Run SQL text with no arguments and no rows (schema, tests).  -errno. */
int coll_store_exec(struct coll_store *st, const char *sql);

/*
 * Run sql (a static string: its address keys the statement cache) with
 * arguments described by fmt, one letter each: 'i' int64_t, 't' const char *
 * (NUL-terminated), 'T' const char * + size_t, 'b' const void * + size_t
 * (blob), 'n' NULL.  Returns 1 with the first row ready in *ret_stmt (when
 * ret_stmt is not NULL; step further with coll_store_next(), and end with
 * coll_stmt_reset()), 0 when there is no row, -errno.  Argument memory
 * must stay valid until the next call with the same sql.
 */
int coll_store_run(struct coll_store *st, const char *sql,
    struct coll_stmt **ret_stmt, const char *fmt, ...);
/* 1 for another row, 0 at the end, -errno. */
int coll_store_next(struct coll_store *st, struct coll_stmt *stmt);

/*
 * Statements of dynamic SQL (the review filters), as SQLite's own API:
 * prepare, bind (1-based; text and blobs are copied), step (COLL_ROW,
 * COLL_DONE or -errno), read columns (0-based) of the current row, reset
 * (bindings kept), finalize.  A text column is NUL-terminated; NULL reads
 * as a NULL pointer, 0 and 0 bytes.
 */
int coll_stmt_prepare(
    struct coll_store *st, const char *sql, struct coll_stmt **ret);
int coll_stmt_bind_int64(struct coll_stmt *s, int i, int64_t v);
int coll_stmt_bind_text(struct coll_stmt *s, int i, const char *t);
int coll_stmt_bind_blob(struct coll_stmt *s, int i, const void *p, size_t len);
int coll_stmt_bind_null(struct coll_stmt *s, int i);
/* Text or a blob that stays valid until the statement is reset. */
int coll_stmt_bind_static(
    struct coll_stmt *s, int i, const void *p, size_t len, bool blob);
/* The cached statement of sql (a text that lives as long as the process:
 * its address is the key) on this thread's connection, reset, bindings
 * cleared; end with coll_stmt_reset(), never finalize. */
int coll_store_stmt(
    struct coll_store *st, const char *sql, struct coll_stmt **ret);
int coll_stmt_params(struct coll_stmt *s);
int coll_stmt_step(struct coll_stmt *s);
void coll_stmt_reset(struct coll_stmt *s);
void coll_stmt_finalize(struct coll_stmt *s);
enum coll_type coll_stmt_type(struct coll_stmt *s, int col);
/* Whether the value is an integer: SQLite's type; with PostgreSQL an
 * integer column, or text that is a decimal integer (json_extract()
 * answers text there). */
bool coll_stmt_is_int(struct coll_stmt *s, int col);
int64_t coll_stmt_int64(struct coll_stmt *s, int col);
const unsigned char *coll_stmt_text(struct coll_stmt *s, int col);
const void *coll_stmt_blob(struct coll_stmt *s, int col);
int coll_stmt_bytes(struct coll_stmt *s, int col);

/* schema.c: create or upgrade the schema (SQLite: PRAGMA user_version;
 * PostgreSQL: the table mynaguard_schema), with the store locked. */
int coll_schema_apply(struct coll_store *st, const char **ret_why);
/* Check a read-only database has our schema version. */
int coll_schema_check(struct coll_store *st, const char **ret_why);

/* ---- chain.c / alert.c / loss.c: one request of one agent ---------------- */

/* A decoded record and the verdict of its signature check. */
struct coll_item {
	struct mg_record rec;
	uint8_t hash[MG_REC_HASH_LEN];
	int verdict; /* 0, or -EKEYREJECTED/-EBADMSG: forged */
	const char *why;
};

enum coll_alert_type {
	COLL_ALERT_IDENTITY,	 /* records of another agent id */
	COLL_ALERT_FORGED,	 /* signature or key id does not verify */
	COLL_ALERT_EQUIVOCATION, /* two different records with one seq */
	COLL_ALERT_CHAIN_BREAK,	 /* prev_hash links to nothing known */
	COLL_ALERT_GAP,		 /* seqs that never arrived */
	COLL_ALERT_LOSS,	 /* the agent says it dropped records */
	COLL_ALERT_INVALID,	 /* verified but unusable (seq out of range) */
	COLL_ALERT_STATE,	 /* agent-state: enforcement differs (new words) */
	/* Security events the officer must see among the alerts, one alert
	 * per event (docs/review-api.md): */
	COLL_ALERT_CLONED_KEY,	 /* login-failed, counter-regression */
	COLL_ALERT_LOCKOUT,	 /* login-locked-out */
	COLL_ALERT_BREAK_GLASS,	 /* login-break-glass */
	COLL_ALERT_MEDIA_BLOCKED, /* device-blocked */
	COLL_ALERT_RO_CLEARED,	 /* device-mounted-rw */
	COLL_ALERT_ENFORCE,	 /* device-enforcement-failed */
	COLL_ALERT_POLICY_REFUSED, /* policy-refused */
	COLL_ALERT_COUNT_
};

/* The chain state of one agent during one transaction. */
struct coll_chain {
	struct coll_store *st;
	const char *agent;	/* the agent (claimed, in identity alerts) */
	const char *cert_agent; /* the client certificate's CN */
	uint64_t next;		/* next expected seq */
	uint8_t head[MG_REC_HASH_LEN]; /* hash of seq next - 1 */
	int64_t now;
	uint64_t acked; /* highest seq handled in this request */
	struct coll_result *res;
	struct sbuf log; /* alert lines, logged after COMMIT */
	/* The records this transaction stored, in order, for the log;
	 * stored[flushed..nstored) are not INSERTed yet (batch.c). */
	const struct coll_item **stored;
	size_t nstored, flushed;
};

int coll_chain_apply(struct coll_store *st, const char *agent,
    struct coll_item *items, size_t n, int64_t now, struct coll_result *res);
/* Record an identity-mismatch alert in its own transaction. */
int coll_chain_mismatch(struct coll_store *st, const char *cert_agent,
    const struct mg_record *r, int64_t now);

/*
 * Insert an alert (explained_by 0: none) and queue its log line.  detail is
 * a JSON object text or NULL.
 */
int coll_alert_raise(struct coll_chain *c, enum coll_alert_type t,
    uint64_t from, uint64_t to, const char *detail, uint64_t explained_by);
const char *coll_alert_name(enum coll_alert_type t);
/* Log the queued lines (after COMMIT) and empty the queue. */
void coll_alert_flush(struct coll_chain *c);
/* After coll_chain_apply(): a state-mismatch alert for each stored
 * agent-state record whose mismatch words are not empty and differ from
 * the previous agent-state's (by seq), and one alert for each stored
 * security event of the types above; idempotent for records sent again. */
int coll_alert_states(struct coll_store *st, const char *agent,
    const struct coll_item *items, size_t n, int64_t now,
    struct coll_result *res);
/* The same inside the caller's transaction (coll_chain_apply): alerts
 * are raised with the records they are about, or not at all. */
int coll_alert_scan(
    struct coll_chain *c, const struct coll_item *items, size_t n);

/* The seq of a loss record that covers from..to, or 0. */
int coll_loss_covering(
    struct coll_chain *c, uint64_t from, uint64_t to, uint64_t *ret_seq);
/* Whether some loss range of this agent ends with hash prev. */
int coll_loss_explains(struct coll_chain *c, const uint8_t *prev);
/* A stored, verified loss record: record its ranges, raise loss alerts and
 * mark the gaps and chain breaks they explain. */
int coll_loss_apply(struct coll_chain *c, const struct coll_item *it);

/*
 * ingest.c: coll_ingest(), and before the chain is applied, store der (the
 * client certificate, DER) under the key id of the first record whose
 * signature verified, the first time that key id is seen for the agent.
 */
int coll_ingest_cert(struct coll_store *st, const struct mg_verifier *v,
    const uint8_t *der, size_t der_len, const uint8_t *body, size_t len,
    int64_t now_ns, struct coll_result *res);

/* ---- columns.c: the query columns of a body, for PostgreSQL ------------- */

/* action, user_name, outcome, dev_serial */
#define COLL_COLUMNS 4

/* json_extract(body, '$.' path) in C: *ret malloc'd, NULL when absent or
 * null.  -EBADMSG for a body that is not JSON, -ENOMEM. */
int coll_column(const char *body, size_t len, const char *path, char **ret);
/* The four columns of rec, in the order above. */
int coll_columns(const struct mg_record *rec, char *ret[COLL_COLUMNS]);
void coll_columns_free(char *v[COLL_COLUMNS]);

/* ---- batch.c: multi-row INSERTs ------------------------------------------- */

#define COLL_BATCH_ROWS 64

struct coll_leaf {
	uint64_t idx, seq;
	uint8_t hash[32];
};

/* INSERT these records of agent into events, received at now.  -errno. */
int coll_batch_events(struct coll_store *st, const char *agent,
    const struct coll_item *const *items, size_t n, int64_t now);
/* INSERT these leaves of agent into merkle_leaves.  -errno. */
int coll_batch_leaves(struct coll_store *st, const char *agent,
    const struct coll_leaf *leaves, size_t n);

/* ---- ledger.c: the Merkle log (issue 9) ----------------------------------- */

struct mg_merkle_frontier;
struct coll_signer;

/* In the caller's transaction: append these stored records of agent to the
 * log (takes the log's transaction lock).  -errno. */
int coll_ledger_append(struct coll_store *st, const char *agent,
    const struct coll_item *const *items, size_t n);
/* Append every stored event that is not in the log yet (a database made
 * before the log), in its own transactions; *ret_n: how many. */
int coll_ledger_catch_up(struct coll_store *st, uint64_t *ret_n);
/* The log's compact range (size 0 when empty).  -EBADMSG if corrupt. */
int coll_ledger_load(struct coll_store *st, struct mg_merkle_frontier *f);
/* Hash of the perfect subtree (level, index) from the stored hashes. */
int coll_ledger_subtree(struct coll_store *st, unsigned level, uint64_t index,
    uint8_t out[32]);
/* RFC 9162 proofs from the stored hashes (proof: MG_MERKLE_MAX_PROOF). */
int coll_ledger_inclusion(struct coll_store *st, uint64_t index, uint64_t size,
    uint8_t (*proof)[32], size_t *n);
int coll_ledger_consistency(struct coll_store *st, uint64_t m, uint64_t size,
    uint8_t (*proof)[32], size_t *n);
/* The collector's checkpoint signer: its TLS key and certificate. */
int coll_signer_load(const char *key_path, const char *cert_path,
    const char *origin, struct coll_signer **ret);
void coll_signer_free(struct coll_signer *s);
/* Sign a throwaway checkpoint, so a certificate that cannot sign them (no
 * TLS server purpose, not P-256, not valid now) is found at start. */
int coll_signer_check(const struct coll_signer *s, int64_t now_ns,
    const char **ret_why);
/* Sign and store a checkpoint of the log as it is, unless one of this
 * origin already covers its size: 1 signed, 0 nothing new, -errno with
 * *ret_why set when signing itself failed. */
int coll_ledger_sign(struct coll_store *st, const struct coll_signer *sg,
    int64_t now_ns, uint64_t *ret_size, const char **ret_why);
/* The newest stored checkpoint's text (malloc'd): 1, 0 none, -errno. */
int coll_ledger_latest(struct coll_store *st, char **ret_text);

/* policy_state.c: after coll_chain_apply(), the policy version each
 * stored, verified policy-loaded record reports in force (newest by seq);
 * idempotent for records sent again. */
int coll_policy_events(struct coll_store *st, const char *agent,
    const struct coll_item *items, size_t n);

/* ---- tls.c: the peer ----------------------------------------------------- */

enum coll_role {
	COLL_ROLE_OTHER,
	COLL_ROLE_TERMINAL, /* OU=terminal: may submit events */
	COLL_ROLE_REVIEWER, /* OU=reviewer */
};

struct coll_peer {
	enum coll_role role;
	const uint8_t *der; /* leaf certificate, owned by the session */
	size_t der_len;
	char cn[MG_REC_AGENT_ID_MAX + 1]; /* may be truncated */
};

/*
 * Check the client certificate of a GnuTLS session (a gnutls_session_t):
 * present, chains to the CA, valid now, usable for TLS client auth.  0 with
 * *ret filled; -EACCES with why (a sentence for the log) otherwise.
 */
int
coll_tls_peer(void *session, struct coll_peer *ret, char *why, size_t why_len);

/* ---- server.c / http.c ---------------------------------------------------- */

#define COLL_PEER_MAX 64u

struct coll_server {
	struct MHD_Daemon *d;
	struct coll_store *st;
	size_t max_body;
	uint32_t silent_after; /* [Review] SilentAfter, seconds */
	atomic_uint inflight; /* POSTs between headers and answer */
	unsigned max_pending; /* more inflight POSTs get 503 */
	atomic_bool serving;  /* the daemon has started */
};

/* Per TCP connection, to tell a failed handshake from a finished one. */
struct coll_conn {
	char peer[COLL_PEER_MAX];
	bool handshake_done; /* the client's Finished arrived */
};

/* review.c: answer GET/HEAD url (under /v1/review/) of a reviewer. */
enum MHD_Result coll_review_request(
    struct coll_server *srv, struct MHD_Connection *conn, const char *url);

/* review_ledger.c: answer GET/HEAD /v1/review/checkpoint. */
enum MHD_Result coll_review_checkpoint(
    struct coll_server *srv, struct MHD_Connection *conn);

/* policy_api.c: answer GET/HEAD /v1/policy/bundle of a terminal. */
enum MHD_Result coll_policy_request(struct coll_server *srv,
    struct MHD_Connection *conn, const struct coll_peer *p, const char *peer);

/* "addr:port" or "[addr]:port" of an MHD_Connection. */
void coll_http_peer(void *connection, char *out, size_t len);
/* MHD_AccessHandlerCallback and MHD_RequestCompletedCallback; cls is the
 * struct coll_server. */
enum MHD_Result coll_http_request(void *cls, struct MHD_Connection *conn,
    const char *url, const char *method, const char *version, const char *data,
    size_t *data_size, void **con_cls);
void coll_http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe);

#endif
