/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * GET /v1/review/alerts and /v1/review/terminals.  "silent" alerts are not
 * stored: they are computed from agents.last_seen at query time, one per
 * terminal, so a long silence never floods the list.
 */
#include <errno.h>
#include <string.h>

#include "review.h"

#define JSON_TYPE "application/json; charset=utf-8"
#define SILENT_SEVERITY 4 /* LOG_WARNING */

int
coll_review_alerts_stmt(const struct rv_query *q, struct rv_stmt *s)
{
	coll_review_stmt_init(s,
	    "SELECT id, agent_id, type, severity, seq_from, seq_to, detail,"
	    " created_ns, explained_by FROM alerts WHERE TRUE");
	if (q->s[RV_TERMINAL] != NULL)
		coll_review_stmt_text(s, " AND agent_id = ?", q->s[RV_TERMINAL]);
	if (q->s[RV_TYPE] != NULL)
		coll_review_stmt_text(s, " AND type = ?", q->s[RV_TYPE]);
	if (q->s[RV_SINCE] != NULL)
		coll_review_stmt_int(s, " AND created_ns >= ?", q->since);
	if (q->s[RV_UNTIL] != NULL)
		coll_review_stmt_int(s, " AND created_ns < ?", q->until);
	if (q->s[RV_BEFORE] != NULL)
		coll_review_stmt_int(s, " AND id < ?", (int64_t)q->before);
	coll_review_stmt_int(s, " ORDER BY id DESC LIMIT ?",
	    (int64_t)q->limit + 1);
	return s->err;
}

static void
null_value(struct jw *w)
{
	/* jw has no null; after a key the writer expects exactly one value */
	w->after_key = false;
	if (w->err == 0)
		w->err = sbuf_puts(w->b, "null");
}

static void
int_or_null(struct jw *w, const char *key, struct coll_stmt *s, int col)
{
	jw_key(w, key);
	if (coll_stmt_type(s, col) == COLL_NULL)
		null_value(w);
	else
		jw_i64(w, coll_stmt_int64(s, col));
}

static void
time_value(struct jw *w, const char *key, int64_t ns)
{
	char t[RV_TIME_LEN];

	coll_review_time_format(ns, t);
	jw_key(w, key);
	jw_str(w, t);
}

static void
alert_json(struct jw *w, struct coll_stmt *s)
{
	jw_object(w);
	int_or_null(w, "id", s, 0);
	jw_key(w, "agent_id");
	jw_str(w, (const char *)coll_stmt_text(s, 1));
	jw_key(w, "type");
	jw_str(w, (const char *)coll_stmt_text(s, 2));
	jw_key(w, "severity");
	jw_i64(w, coll_stmt_int64(s, 3));
	int_or_null(w, "seq_from", s, 4);
	int_or_null(w, "seq_to", s, 5);
	jw_key(w, "detail");
	if (coll_stmt_type(s, 6) == COLL_NULL)
		null_value(w);
	else
		jw_string(w, (const char *)coll_stmt_text(s, 6),
		    (size_t)coll_stmt_bytes(s, 6));
	time_value(w, "created", coll_stmt_int64(s, 7));
	int_or_null(w, "explained_by", s, 8);
	jw_object_end(w);
}

/* The stored alerts; *ret_last: id of the last one when a page follows. */
static int
stored_alerts(struct coll_store *db, const struct rv_query *q, struct jw *w,
    int64_t *ret_last)
{
	struct rv_stmt st;
	struct coll_stmt *s = NULL;
	uint64_t n = 0;
	int64_t last = 0;
	int r;

	r = coll_review_alerts_stmt(q, &st);
	if (r == 0)
		r = coll_review_prepare(db, &st, "", &s);
	while (r == 0 && (r = coll_stmt_step(s)) == COLL_ROW) {
		r = 0;
		if (n == q->limit || w->b->len > RV_RESPONSE_MAX / 2) {
			*ret_last = last;
			break;
		}
		alert_json(w, s);
		last = coll_stmt_int64(s, 0);
		n++;
	}
	coll_stmt_finalize(s);
	coll_review_stmt_clear(&st);
	if (r == COLL_DONE)
		return 0;
	return r > 0 ? coll_store_errno(r) : r;
}

static const char silent_sql[] =
    "SELECT agent_id, last_seen FROM agents WHERE last_seen < ?1"
    " AND (CAST(?2 AS TEXT) IS NULL OR agent_id = ?2)"
    " ORDER BY last_seen, agent_id";

static void
silent_detail(struct jw *w, int64_t secs)
{
	char d[64];

	if (secs >= 2 * 86400)
		snprintf(d, sizeof(d), "no contact for %lld days",
		    (long long)(secs / 86400));
	else if (secs >= 2 * 3600)
		snprintf(d, sizeof(d), "no contact for %lld hours",
		    (long long)(secs / 3600));
	else
		snprintf(d, sizeof(d), "no contact for %lld minutes",
		    (long long)(secs / 60));
	jw_key(w, "detail");
	jw_str(w, d);
}

/* One computed "silent" alert per terminal, longest silence first. */
static int
silent_alerts(struct coll_server *srv, const struct rv_query *q, struct jw *w)
{
	struct coll_store *db = srv->st;
	int64_t now = coll_review_now(), last, secs;
	struct coll_stmt *s = NULL;
	int r;

	r = coll_store_errno(coll_stmt_prepare(db, silent_sql, &s));
	if (r == 0)
		r = coll_store_errno(coll_stmt_bind_int64(
		    s, 1, now - (int64_t)srv->silent_after * 1000000000));
	if (r == 0 && q->s[RV_TERMINAL] != NULL)
		r = coll_store_errno(coll_stmt_bind_text(s, 2, q->s[RV_TERMINAL]));
	while (r == 0 && (r = coll_stmt_step(s)) == COLL_ROW) {
		r = 0;
		last = coll_stmt_int64(s, 1);
		secs = (now - last) / 1000000000;
		jw_object(w);
		jw_key(w, "id");
		null_value(w);
		jw_key(w, "agent_id");
		jw_str(w, (const char *)coll_stmt_text(s, 0));
		jw_key(w, "type");
		jw_str(w, "silent");
		jw_key(w, "severity");
		jw_i64(w, SILENT_SEVERITY);
		silent_detail(w, secs);
		time_value(w, "created", last);
		jw_key(w, "silent_seconds");
		jw_i64(w, secs);
		jw_object_end(w);
	}
	coll_stmt_finalize(s);
	if (r == COLL_DONE)
		return 0;
	return r > 0 ? coll_store_errno(r) : r;
}

enum MHD_Result
coll_review_alerts(struct coll_server *srv, struct MHD_Connection *conn)
{
	const unsigned allowed = RV_BIT(RV_TERMINAL) | RV_BIT(RV_TYPE) |
	    RV_BIT(RV_SINCE) | RV_BIT(RV_UNTIL) | RV_BIT(RV_LIMIT) |
	    RV_BIT(RV_BEFORE);
	struct rv_query q;
	struct rv_error e;
	struct sbuf out;
	struct jw w;
	int64_t last = 0;
	bool silent;
	int r = 0;

	if (coll_review_query(conn, allowed, &q, &e) < 0)
		return coll_review_fail(conn, e.status, e.msg);
	silent = q.s[RV_TYPE] == NULL || strcmp(q.s[RV_TYPE], "silent") == 0;
	sbuf_init(&out, RV_RESPONSE_MAX);
	jw_init(&w, &out);
	jw_object(&w);
	jw_key(&w, "alerts");
	jw_array(&w);
	coll_store_lock(srv->st);
	if (q.s[RV_TYPE] == NULL || strcmp(q.s[RV_TYPE], "silent") != 0)
		r = stored_alerts(srv->st, &q, &w, &last);
	/* Computed alerts come once, on the first page. */
	if (r == 0 && silent && q.s[RV_BEFORE] == NULL)
		r = silent_alerts(srv, &q, &w);
	coll_store_unlock(srv->st);
	jw_array_end(&w);
	jw_key(&w, "next_before");
	if (last > 0)
		jw_i64(&w, last);
	else
		null_value(&w);
	jw_object_end(&w);
	if (r == 0)
		r = jw_finish(&w);
	if (r < 0) {
		sbuf_clear(&out);
		return coll_review_fail_errno(conn, r);
	}
	return coll_review_send(conn, MHD_HTTP_OK, JSON_TYPE, &out);
}

/* ---- terminals ------------------------------------------------------------ */

/* With the policy bundle state (issue 8): the group the terminal fetches,
 * the version its events report in force, the group's latest. */
static const char agents_sql[] =
    "SELECT a.agent_id, a.last_seen, a.next_seq, p.grp, p.version,"
    " (SELECT max(version) FROM policy_bundles b WHERE b.grp = p.grp)"
    " FROM agents a LEFT JOIN policy_terminals p USING(agent_id)"
    " ORDER BY a.agent_id";
/* The newest agent-state event (events_action, then by seq). */
static const char state_sql[] =
    "SELECT t_wall_ns, json_extract(body, '$.mynaguard.policy.version'),"
    " json_extract(body, '$.mynaguard.policy.hash'),"
    " json_extract(body, '$.mynaguard.state.mismatch')"
    " FROM events WHERE agent_id = ? AND action = 'agent-state'"
    " ORDER BY seq DESC LIMIT 1";

static void
text_or_empty(struct jw *w, const char *key, struct coll_stmt *s, int col)
{
	jw_key(w, key);
	jw_string(w,
	    coll_stmt_type(s, col) == COLL_NULL ?
		"" :
		(const char *)coll_stmt_text(s, col),
	    (size_t)coll_stmt_bytes(s, col));
}

static int
agent_state(struct coll_store *db, const char *agent, struct jw *w)
{
	struct coll_stmt *s = NULL;
	int rc;

	jw_key(w, "state");
	rc = coll_stmt_prepare(db, state_sql, &s);
	if (rc == COLL_OK)
		rc = coll_stmt_bind_text(s, 1, agent);
	if (rc == COLL_OK)
		rc = coll_stmt_step(s);
	if (rc == COLL_ROW) {
		jw_object(w);
		time_value(w, "time", coll_stmt_int64(s, 0));
		int_or_null(w, "policy_version", s, 1);
		text_or_empty(w, "policy_hash", s, 2);
		text_or_empty(w, "mismatch", s, 3);
		jw_object_end(w);
	} else if (rc == COLL_DONE)
		null_value(w);
	coll_stmt_finalize(s);
	return rc == COLL_ROW || rc == COLL_DONE ? 0 : coll_store_errno(rc);
}

/* policy_lagging: a published bundle the terminal does not report in
 * force (below the latest, or no report at all). */
static void
policy_fields(struct jw *w, struct coll_stmt *s)
{
	bool has_latest = coll_stmt_type(s, 5) != COLL_NULL;

	jw_key(w, "policy_group");
	if (coll_stmt_type(s, 3) == COLL_NULL)
		null_value(w);
	else
		jw_str(w, (const char *)coll_stmt_text(s, 3));
	int_or_null(w, "policy_version", s, 4);
	int_or_null(w, "policy_latest", s, 5);
	jw_key(w, "policy_lagging");
	jw_bool(w, has_latest &&
	    (coll_stmt_type(s, 4) == COLL_NULL ||
		coll_stmt_int64(s, 4) < coll_stmt_int64(s, 5)));
}

static int
terminals(struct coll_server *srv, struct jw *w)
{
	struct coll_store *db = srv->st;
	int64_t limit = coll_review_now() -
	    (int64_t)srv->silent_after * 1000000000;
	struct coll_stmt *s = NULL;
	const char *agent;
	int r;

	r = coll_store_errno(coll_stmt_prepare(db, agents_sql, &s));
	while (r == 0 && (r = coll_stmt_step(s)) == COLL_ROW) {
		agent = (const char *)coll_stmt_text(s, 0);
		jw_object(w);
		jw_key(w, "agent_id");
		jw_str(w, agent);
		time_value(w, "last_seen", coll_stmt_int64(s, 1));
		jw_key(w, "next_seq");
		jw_i64(w, coll_stmt_int64(s, 2));
		jw_key(w, "silent");
		jw_bool(w, coll_stmt_int64(s, 1) < limit);
		policy_fields(w, s);
		r = agent_state(db, agent, w);
		jw_object_end(w);
	}
	coll_stmt_finalize(s);
	if (r == COLL_DONE)
		return 0;
	return r > 0 ? coll_store_errno(r) : r;
}

enum MHD_Result
coll_review_terminals(struct coll_server *srv, struct MHD_Connection *conn)
{
	struct rv_query q;
	struct rv_error e;
	struct sbuf out;
	struct jw w;
	int r;

	if (coll_review_query(conn, 0, &q, &e) < 0)
		return coll_review_fail(conn, e.status, e.msg);
	sbuf_init(&out, RV_RESPONSE_MAX);
	jw_init(&w, &out);
	jw_object(&w);
	jw_key(&w, "terminals");
	jw_array(&w);
	coll_store_lock(srv->st);
	r = terminals(srv, &w);
	coll_store_unlock(srv->st);
	jw_array_end(&w);
	jw_object_end(&w);
	if (r == 0)
		r = jw_finish(&w);
	if (r < 0) {
		sbuf_clear(&out);
		return coll_review_fail_errno(conn, r);
	}
	return coll_review_send(conn, MHD_HTTP_OK, JSON_TYPE, &out);
}
