/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * GET /v1/review/...: the reviewer's read-only view of the database
 * (docs/review-api.md).  http.c has checked the certificate's role and the
 * method.  Every query is a prepared statement built from fixed fragments
 * with bound arguments, run under the store lock (one connection); bodies
 * are copied into the answer as stored (strict JSON, checked at ingest).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "review.h"

#define JSON_TYPE "application/json; charset=utf-8"
#define EVENT_COLS                                                       \
	"SELECT id, agent_id, seq, t_wall_ns, received_ns, action, outcome," \
	" user_name, flags, verified, body"

enum col {
	C_ID,
	C_AGENT,
	C_SEQ,
	C_TIME,
	C_RECEIVED,
	C_ACTION,
	C_OUTCOME,
	C_USER,
	C_FLAGS,
	C_VERIFIED,
	C_BODY,
	C_HASH,
	C_PREV,
	C_RECORD
};

int
coll_review_events_stmt(
    const struct rv_query *q, bool timeline, struct rv_stmt *s)
{
	static const struct {
		enum rv_key k;
		const char *frag;
	} text[] = {
		{ RV_TERMINAL, " AND agent_id = ?" },
		{ RV_USER, " AND user_name = ?" },
		{ RV_ACTION, " AND action = ?" },
		{ RV_OUTCOME, " AND outcome = ?" },
		{ RV_SERIAL, " AND dev_serial = ?" },
		{ RV_Q, " AND instr(body, ?) > 0" },
	};
	size_t i;

	coll_review_stmt_init(s, EVENT_COLS " FROM events WHERE TRUE");
	for (i = 0; i < MG_ELEMENTSOF(text); i++)
		if (q->s[text[i].k] != NULL)
			coll_review_stmt_text(s, text[i].frag, q->s[text[i].k]);
	if (q->s[RV_SINCE] != NULL)
		coll_review_stmt_int(s, " AND t_wall_ns >= ?", q->since);
	if (q->s[RV_UNTIL] != NULL)
		coll_review_stmt_int(s, " AND t_wall_ns < ?", q->until);
	if (q->s[RV_BEFORE] != NULL)
		coll_review_stmt_int(s, " AND id < ?", (int64_t)q->before);
	if (q->s[RV_AFTER] != NULL) {
		/* (time, id) after that of the event "after" */
		coll_review_stmt_int(s,
		    " AND (t_wall_ns, id) > ((SELECT t_wall_ns FROM events"
		    " WHERE id = ?),",
		    (int64_t)q->after);
		coll_review_stmt_int(s, " ?)", (int64_t)q->after);
	}
	/* One more than asked for: is there a next page? */
	coll_review_stmt_int(s,
	    timeline ? " ORDER BY t_wall_ns, id LIMIT ?" :
		       " ORDER BY id DESC LIMIT ?",
	    (int64_t)q->limit + 1);
	return s->err;
}

static void
str_or_null(struct jw *w, const char *key, struct coll_stmt *s, int col)
{
	jw_key(w, key);
	if (coll_stmt_type(s, col) == COLL_NULL) {
		/* jw has no null: a key is always followed by a value, so
		 * the writer's state is that of any value written. */
		w->after_key = false;
		if (w->err == 0)
			w->err = sbuf_puts(w->b, "null");
		return;
	}
	jw_string(w, (const char *)coll_stmt_text(s, col),
	    (size_t)coll_stmt_bytes(s, col));
}

static void
time_field(struct jw *w, const char *key, int64_t ns)
{
	char t[RV_TIME_LEN];

	coll_review_time_format(ns, t);
	jw_key(w, key);
	jw_str(w, t);
}

static void
hex_field(struct jw *w, const char *key, struct coll_stmt *s, int col)
{
	char hex[2 * MG_REC_HASH_LEN + 1] = "";
	size_t n = (size_t)coll_stmt_bytes(s, col);

	if (n <= MG_REC_HASH_LEN)
		coll_review_hex(coll_stmt_blob(s, col), n, hex);
	jw_key(w, key);
	jw_str(w, hex);
}

/* The fields of an EVENT before "body"; the object is left open. */
static void
event_fields(struct jw *w, struct coll_stmt *s)
{
	jw_object(w);
	jw_key(w, "id");
	jw_i64(w, coll_stmt_int64(s, C_ID));
	str_or_null(w, "agent_id", s, C_AGENT);
	jw_key(w, "seq");
	jw_i64(w, coll_stmt_int64(s, C_SEQ));
	time_field(w, "time", coll_stmt_int64(s, C_TIME));
	time_field(w, "received", coll_stmt_int64(s, C_RECEIVED));
	str_or_null(w, "action", s, C_ACTION);
	str_or_null(w, "outcome", s, C_OUTCOME);
	str_or_null(w, "user", s, C_USER);
	jw_key(w, "critical");
	jw_bool(w, (coll_stmt_int64(s, C_FLAGS) & MG_REC_F_CRITICAL) != 0);
	jw_key(w, "verified");
	jw_bool(w, (int)coll_stmt_int64(s, C_VERIFIED) != 0);
}

/* "body": the stored text as it is, then close the object. */
static int
event_body(struct jw *w, struct coll_stmt *s)
{
	jw_key(w, "body");
	w->after_key = false; /* as in str_or_null() */
	if (w->err == 0)
		w->err = sbuf_put(w->b, coll_stmt_text(s, C_BODY),
		    (size_t)coll_stmt_bytes(s, C_BODY));
	jw_object_end(w);
	return jw_finish(w);
}

/* {"events":[...],"<next>":id|null} of the rows of s, at most limit,
 * ending a page early rather than growing past RV_RESPONSE_MAX. */
static int
event_page(struct coll_stmt *s, uint64_t limit, const char *next, struct sbuf *out)
{
	struct sbuf ev;
	struct jw w;
	uint64_t n = 0;
	int64_t last = 0;
	bool more = false;
	int r;

	r = sbuf_puts(out, "{\"events\":[");
	while (r == 0 && (r = coll_stmt_step(s)) == COLL_ROW) {
		r = 0;
		if ((more = n == limit))
			break;
		sbuf_init(&ev, RV_EVENT_MAX);
		jw_init(&w, &ev);
		event_fields(&w, s);
		if ((r = event_body(&w, s)) == 0 &&
		    (more = out->len + ev.len + 64 > RV_RESPONSE_MAX && n > 0)) {
			sbuf_clear(&ev);
			break;
		}
		if (r == 0 && n > 0)
			r = sbuf_putc(out, ',');
		if (r == 0)
			r = sbuf_put(out, ev.data, ev.len);
		sbuf_clear(&ev);
		last = coll_stmt_int64(s, C_ID);
		n++;
	}
	if (r == COLL_DONE)
		r = 0;
	else if (r > 0)
		r = coll_store_errno(r);
	if (r == 0)
		r = more ? sbuf_printf(out, "],\"%s\":%lld}", next,
				   (long long)last) :
			   sbuf_printf(out, "],\"%s\":null}", next);
	return r;
}

static enum MHD_Result
list_events(struct coll_server *srv, struct MHD_Connection *conn,
    bool timeline)
{
	const unsigned common = RV_BIT(RV_SINCE) | RV_BIT(RV_UNTIL) |
	    RV_BIT(RV_LIMIT) | RV_BIT(RV_TERMINAL) | RV_BIT(RV_USER);
	const unsigned allowed = timeline ? common | RV_BIT(RV_AFTER) :
	    common | RV_BIT(RV_ACTION) | RV_BIT(RV_OUTCOME) | RV_BIT(RV_SERIAL) |
		RV_BIT(RV_Q) | RV_BIT(RV_BEFORE);
	struct rv_query q;
	struct rv_error e;
	struct rv_stmt st;
	struct coll_stmt *s = NULL;
	struct sbuf out;
	int r;

	if (coll_review_query(conn, allowed, &q, &e) < 0)
		return coll_review_fail(conn, e.status, e.msg);
	if (timeline && (q.s[RV_TERMINAL] == NULL) == (q.s[RV_USER] == NULL))
		return coll_review_fail(conn, MHD_HTTP_BAD_REQUEST,
		    "exactly one of the parameters 'terminal' and 'user' is "
		    "needed");
	sbuf_init(&out, RV_RESPONSE_MAX);
	r = coll_review_events_stmt(&q, timeline, &st);
	coll_store_lock(srv->st);
	if (r == 0)
		r = coll_review_prepare(srv->st, &st, "", &s);
	if (r == 0)
		r = event_page(s, q.limit, timeline ? "next_after" :
						      "next_before", &out);
	coll_stmt_finalize(s);
	coll_store_unlock(srv->st);
	coll_review_stmt_clear(&st);
	if (r < 0) {
		sbuf_clear(&out);
		return coll_review_fail_errno(conn, r);
	}
	return coll_review_send(conn, MHD_HTTP_OK, JSON_TYPE, &out);
}

/* ---- one event, with its verification ------------------------------------- */

static const char one_sql[] = EVENT_COLS ", hash, prev_hash, record"
				      " FROM events WHERE id = ?";
static const char prev_sql[] =
    "SELECT hash FROM events WHERE agent_id = ? AND seq = ?";
static const char covered_sql[] =
    "SELECT 1 FROM loss_ranges WHERE agent_id = ? AND seq_from <= ?"
    " AND seq_to >= ? LIMIT 1";
static const char explains_sql[] =
    "SELECT 1 FROM loss_ranges WHERE agent_id = ? AND last_hash = ?"
    " LIMIT 1";

/* 1 when sql (agent text, then int64s or a blob per fmt) has a row. */
static int
exists(struct coll_store *db, const char *sql, const char *agent, int64_t a,
    const void *blob, int blob_len, struct coll_stmt **keep)
{
	struct coll_stmt *s = NULL;
	int rc;

	rc = coll_stmt_prepare(db, sql, &s);
	if (rc == COLL_OK)
		rc = coll_stmt_bind_text(s, 1, agent);
	if (rc == COLL_OK && blob != NULL)
		rc = coll_stmt_bind_blob(s, 2, blob, (size_t)blob_len);
	if (rc == COLL_OK && blob == NULL)
		rc = coll_stmt_bind_int64(s, 2, a);
	if (rc == COLL_OK && blob == NULL && coll_stmt_params(s) > 2)
		rc = coll_stmt_bind_int64(s, 3, a);
	if (rc == COLL_OK)
		rc = coll_stmt_step(s);
	if (rc == COLL_ROW && keep != NULL) {
		*keep = s;
		return 1;
	}
	coll_stmt_finalize(s);
	if (rc == COLL_ROW || rc == COLL_DONE)
		return rc == COLL_ROW;
	return coll_store_errno(rc);
}

/* first | linked | gap | explained | break, of the event row in s. */
static int
chain_status(struct coll_store *db, struct coll_stmt *s, const char **ret)
{
	const char *agent = (const char *)coll_stmt_text(s, C_AGENT);
	int64_t seq = coll_stmt_int64(s, C_SEQ);
	const void *prev_hash = coll_stmt_blob(s, C_PREV);
	int plen = coll_stmt_bytes(s, C_PREV);
	struct coll_stmt *p = NULL;
	int r;

	if (seq <= 1) {
		*ret = "first";
		return 0;
	}
	if ((r = exists(db, prev_sql, agent, seq - 1, NULL, 0, &p)) < 0)
		return r;
	if (r == 0) { /* seq - 1 never arrived */
		r = exists(db, covered_sql, agent, seq - 1, NULL, 0, NULL);
		*ret = r == 1 ? "explained" : "gap";
		return r < 0 ? r : 0;
	}
	r = coll_stmt_bytes(p, 0) == plen && plen > 0 &&
	    memcmp(coll_stmt_blob(p, 0), prev_hash, (size_t)plen) == 0;
	coll_stmt_finalize(p);
	if (r) {
		*ret = "linked";
		return 0;
	}
	r = exists(db, explains_sql, agent, 0, prev_hash, plen, NULL);
	*ret = r == 1 ? "explained" : "break";
	return r < 0 ? r : 0;
}

static int
one_event(struct coll_store *db, struct coll_stmt *s, struct sbuf *out)
{
	struct sbuf rec;
	struct jw w;
	const char *chain = NULL;
	int r;

	if ((r = chain_status(db, s, &chain)) < 0)
		return r;
	sbuf_init(&rec, 2 * MG_REC_MAX);
	r = coll_review_base64(&rec, coll_stmt_blob(s, C_RECORD),
	    (size_t)coll_stmt_bytes(s, C_RECORD), 0);
	if (r == 0 && (r = sbuf_puts(out, "{\"event\":")) == 0) {
		jw_init(&w, out);
		event_fields(&w, s);
		hex_field(&w, "hash", s, C_HASH);
		hex_field(&w, "prev_hash", s, C_PREV);
		jw_key(&w, "record");
		jw_string(&w, rec.data != NULL ? rec.data : "", rec.len);
		jw_key(&w, "verification");
		jw_object(&w);
		jw_key(&w, "signature");
		jw_str(&w, (int)coll_stmt_int64(s, C_VERIFIED) ? "valid" :
							      "invalid");
		jw_key(&w, "chain");
		jw_str(&w, chain);
		jw_object_end(&w);
		if ((r = event_body(&w, s)) == 0)
			r = sbuf_putc(out, '}');
	}
	sbuf_clear(&rec);
	return r;
}

static enum MHD_Result
get_event(struct coll_server *srv, struct MHD_Connection *conn, const char *id)
{
	struct coll_store *db = srv->st;
	struct coll_stmt *s = NULL;
	struct rv_query q;
	struct rv_error e;
	struct sbuf out;
	uint64_t v;
	int r;

	if (parse_u64(id, 1, INT64_MAX, &v) < 0)
		return coll_review_fail(conn, MHD_HTTP_NOT_FOUND, "no such event");
	if (coll_review_query(conn, 0, &q, &e) < 0)
		return coll_review_fail(conn, e.status, e.msg);
	sbuf_init(&out, RV_EVENT_MAX + 4 * MG_REC_MAX);
	coll_store_lock(srv->st);
	r = coll_store_errno(coll_stmt_prepare(db, one_sql, &s));
	if (r == 0)
		r = coll_store_errno(coll_stmt_bind_int64(s, 1, (int64_t)v));
	if (r == 0 && (r = coll_stmt_step(s)) == COLL_ROW)
		r = one_event(db, s, &out);
	else if (r == COLL_DONE)
		r = -ENOENT;
	else if (r > 0)
		r = coll_store_errno(r);
	coll_stmt_finalize(s);
	coll_store_unlock(srv->st);
	if (r < 0) {
		sbuf_clear(&out);
		return r == -ENOENT ? coll_review_fail(conn, MHD_HTTP_NOT_FOUND,
					  "no such event") :
				      coll_review_fail_errno(conn, r);
	}
	return coll_review_send(conn, MHD_HTTP_OK, JSON_TYPE, &out);
}

enum MHD_Result
coll_review_request(
    struct coll_server *srv, struct MHD_Connection *conn, const char *url)
{
	const char *path = url + strlen("/v1/review/");

	if (strcmp(path, "events") == 0)
		return list_events(srv, conn, false);
	if (strcmp(path, "timeline") == 0)
		return list_events(srv, conn, true);
	if (strncmp(path, "events/", 7) == 0)
		return get_event(srv, conn, path + 7);
	if (strcmp(path, "alerts") == 0)
		return coll_review_alerts(srv, conn);
	if (strcmp(path, "terminals") == 0)
		return coll_review_terminals(srv, conn);
	if (strcmp(path, "export") == 0)
		return coll_review_export(srv, conn);
	if (strcmp(path, "summary") == 0)
		return coll_review_summary(srv, conn);
	return coll_review_fail(conn, MHD_HTTP_NOT_FOUND, "not found");
}
