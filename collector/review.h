/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_COLLECTOR_REVIEW_H
#define MYNAGUARD_COLLECTOR_REVIEW_H

/* Shared by review*.c only: the review API of docs/review-api.md. */

#include "internal.h"

#define RV_VALUE_MAX 256u		 /* bytes of one parameter value */
#define RV_RESPONSE_MAX (8u << 20)	 /* a page ends early past this */
#define RV_EVENT_MAX (8u * MG_REC_BODY_MAX + 4096u) /* one EVENT */
#define RV_ARGS_MAX 16u

enum rv_key {
	RV_TERMINAL,
	RV_USER,
	RV_ACTION,
	RV_OUTCOME,
	RV_SINCE,
	RV_UNTIL,
	RV_SERIAL,
	RV_Q,
	RV_LIMIT,
	RV_BEFORE,
	RV_AFTER,
	RV_TYPE,
	RV_KEY_COUNT_
};
#define RV_BIT(k) (1u << (k))

/* The query string of one request, checked.  s[k] is NULL when absent
 * (or empty); the numbers are set when their s[] is. */
struct rv_query {
	const char *s[RV_KEY_COUNT_];
	int64_t since, until;
	uint64_t limit, before, after;
};

struct rv_error {
	unsigned status;
	char msg[160];
};

/*
 * Read every GET argument of conn: one not in allowed (RV_BIT()s), given
 * twice, over RV_VALUE_MAX bytes, not UTF-8 or not a valid value is
 * -EBADMSG with *e naming it.  limit defaults to 100.
 */
int coll_review_query(struct MHD_Connection *conn, unsigned allowed,
    struct rv_query *q, struct rv_error *e);

/* RFC 3339 ("2026-11-29T12:00:00.5Z", "...+09:00") to ns since the epoch;
 * -EBADMSG. */
int coll_review_time_parse(const char *s, int64_t *ret_ns);
/* ns since the epoch as "2026-11-29T12:00:00.000000000Z". */
#define RV_TIME_LEN 40u
void coll_review_time_format(int64_t ns, char out[RV_TIME_LEN]);
/* Base64 (RFC 4648 4) of p, with a newline every wrap characters (0:
 * none).  -E2BIG, -ENOMEM. */
int coll_review_base64(struct sbuf *b, const void *p, size_t n, size_t wrap);
/* Lower-case hex of n bytes into out (2n + 1 bytes). */
void coll_review_hex(const void *p, size_t n, char *out);

/* A statement built from fixed fragments, with its arguments. */
struct rv_stmt {
	struct sbuf sql;
	struct {
		char type; /* 't' text, 'i' int64 */
		const char *t;
		int64_t i;
	} arg[RV_ARGS_MAX];
	size_t n;
	int err;
};

void coll_review_stmt_init(struct rv_stmt *s, const char *head);
/* Append a fragment with one '?' and its argument. */
void coll_review_stmt_text(struct rv_stmt *s, const char *frag, const char *t);
void coll_review_stmt_int(struct rv_stmt *s, const char *frag, int64_t i);
void coll_review_stmt_clear(struct rv_stmt *s);
/* Prepare prefix (or "") + the statement on db and bind it.  -errno. */
int coll_review_prepare(struct coll_store *db, const struct rv_stmt *s,
    const char *prefix, struct coll_stmt **ret);

/* The statements of /events (timeline false) and /timeline; for the
 * EXPLAIN QUERY PLAN test too. */
int coll_review_events_stmt(
    const struct rv_query *q, bool timeline, struct rv_stmt *ret);
int coll_review_alerts_stmt(const struct rv_query *q, struct rv_stmt *ret);

/* Answers.  send takes the contents of b. */
enum MHD_Result coll_review_send(struct MHD_Connection *conn, unsigned status,
    const char *type, struct sbuf *b);
enum MHD_Result coll_review_fail(
    struct MHD_Connection *conn, unsigned status, const char *msg);
/* The answer for a -errno of the database or a writer. */
enum MHD_Result coll_review_fail_errno(struct MHD_Connection *conn, int r);

/* review_list.c and review_export.c. */
enum MHD_Result coll_review_alerts(
    struct coll_server *srv, struct MHD_Connection *conn);
enum MHD_Result coll_review_terminals(
    struct coll_server *srv, struct MHD_Connection *conn);
enum MHD_Result coll_review_export(
    struct coll_server *srv, struct MHD_Connection *conn);
/* review_summary.c: GET /v1/review/summary, per terminal aggregates of a
 * period for the self-inspection report. */
enum MHD_Result coll_review_summary(
    struct coll_server *srv, struct MHD_Connection *conn);

/* Now, ns since the epoch (CLOCK_REALTIME). */
int64_t coll_review_now(void);

#endif
