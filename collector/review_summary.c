/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * GET /v1/review/summary?since=&until=[&terminal=]: per terminal aggregates
 * over a period of event time, for the self-inspection report (自己点検,
 * clause 7 of the town's basic policy; docs/review-api.md "Summary").
 * Everything is counted in SQL by fixed prepared statements; only the
 * per-terminal loop is here.  Alerts carry sequence numbers, not event
 * times, so an alert belongs to the period when its records border or
 * overlap the terminal's records of the period (or, having no sequence
 * number, when it was raised in the period).
 */
#include <errno.h>
#include <string.h>

#include "review.h"

#define JSON_TYPE "application/json; charset=utf-8"
#define DAY_NS 86400000000000LL
#define PERIOD_DAYS_MAX 366
#define USERS_MAX 50   /* per terminal; "users_truncated" says when cut */
#define DEVICES_MAX 20 /* critical device records listed per terminal */

/* The counted actions, in the order of the columns after C_COUNTS. */
static const struct {
	const char *group, *key;
} counted[] = {
	{ "device", "allowed" },
	{ "device", "read_only" },
	{ "device", "blocked" },
	{ "device", "removed" },
	{ "device", "enforcement_failed" },
	{ "device", "mounted_rw" },
	{ "login", "succeeded" },
	{ "login", "failed" },
	{ "login", "locked_out" },
	{ "login", "break_glass" },
	{ "login", "unlocked" },
	{ "key", "enrolled" },
	{ "key", "revoked" },
	{ "policy_events", "loaded" },
	{ "policy_events", "rejected" },
	{ "state_events", "reports" },
	{ "state_events", "mismatch_reports" },
};

/* ?1 since, ?2 until, ?3 terminal or NULL.  Terminals that had sent no
 * event from before the period's end are left out. */
static const char main_sql[] =
    "SELECT a.agent_id, a.last_seen, coalesce(c.n, 0), c.first, c.last,"
    " c.lo, c.hi, coalesce(c.unverified, 0), coalesce(d.days, 0), d.maxq,"
    " d.lastday,"
    " coalesce(c.c0, 0), coalesce(c.c1, 0), coalesce(c.c2, 0),"
    " coalesce(c.c3, 0), coalesce(c.c4, 0), coalesce(c.c5, 0),"
    " coalesce(c.c6, 0), coalesce(c.c7, 0), coalesce(c.c8, 0),"
    " coalesce(c.c9, 0), coalesce(c.c10, 0), coalesce(c.c11, 0),"
    " coalesce(c.c12, 0), coalesce(c.c13, 0), coalesce(c.c14, 0),"
    " coalesce(c.c15, 0), coalesce(c.c16, 0)"
    " FROM agents a LEFT JOIN (SELECT agent_id, count(*) n,"
    "  min(t_wall_ns) first, max(t_wall_ns) last, min(seq) lo, max(seq) hi,"
    "  count(*) FILTER (WHERE verified = 0) unverified,"
    "  count(*) FILTER (WHERE action = 'device-allowed') c0,"
    "  count(*) FILTER (WHERE action = 'device-read-only') c1,"
    "  count(*) FILTER (WHERE action = 'device-blocked') c2,"
    "  count(*) FILTER (WHERE action = 'device-removed') c3,"
    "  count(*) FILTER (WHERE action = 'device-enforcement-failed') c4,"
    "  count(*) FILTER (WHERE action = 'device-mounted-rw') c5,"
    "  count(*) FILTER (WHERE action = 'login-succeeded') c6,"
    "  count(*) FILTER (WHERE action = 'login-failed') c7,"
    "  count(*) FILTER (WHERE action = 'login-locked-out') c8,"
    "  count(*) FILTER (WHERE action = 'login-break-glass') c9,"
    "  count(*) FILTER (WHERE action = 'login-unlocked') c10,"
    "  count(*) FILTER (WHERE action = 'key-enrolled') c11,"
    "  count(*) FILTER (WHERE action = 'key-revoked') c12,"
    "  count(*) FILTER (WHERE action = 'policy-loaded') c13,"
    "  count(*) FILTER (WHERE action = 'policy-rejected') c14,"
    "  count(*) FILTER (WHERE action = 'agent-state') c15,"
    "  count(*) FILTER (WHERE action = 'agent-state' AND"
    "   coalesce(json_extract(body, '$.mynaguard.state.mismatch'), '') <> '')"
    "   c16"
    "  FROM events WHERE t_wall_ns >= ?1 AND t_wall_ns < ?2"
    "  GROUP BY agent_id) c ON c.agent_id = a.agent_id"
    /* days of the period (counted from since) with at least one event,
     * and the longest run of days without one between them */
    " LEFT JOIN (SELECT agent_id, count(*) days, max(quiet) maxq,"
    "  max(day) lastday FROM (SELECT agent_id, day, day - coalesce(lag(day)"
    "   OVER (PARTITION BY agent_id ORDER BY day), -1) - 1 quiet"
    "   FROM (SELECT DISTINCT agent_id,"
    "    (t_wall_ns - ?1) / 86400000000000 AS day"
    "    FROM events WHERE t_wall_ns >= ?1 AND t_wall_ns < ?2) AS e) AS q"
    "  GROUP BY agent_id) d ON d.agent_id = a.agent_id"
    " WHERE (CAST(?3 AS TEXT) IS NULL OR a.agent_id = ?3)"
    " AND EXISTS (SELECT 1 FROM events"
    "  e WHERE e.agent_id = a.agent_id AND e.t_wall_ns < ?2)"
    " ORDER BY a.agent_id";

enum col {
	C_AGENT,
	C_LAST_SEEN,
	C_N,
	C_FIRST,
	C_LAST,
	C_LO,
	C_HI,
	C_UNVERIFIED,
	C_DAYS,
	C_MAXQ,
	C_LASTDAY,
	C_COUNTS
};

/* ?1 agent, ?2 since, ?3 until: the newest of one action in the period. */
#define NEWEST(action)                                             \
	" FROM events WHERE agent_id = ?1 AND t_wall_ns >= ?2 AND" \
	" t_wall_ns < ?3 AND action = '" action "'"                \
	" ORDER BY t_wall_ns DESC, seq DESC LIMIT 1"
static const char policy_sql[] =
    "SELECT t_wall_ns, json_extract(body, '$.mynaguard.policy.version'),"
    " json_extract(body, '$.mynaguard.policy.hash')" NEWEST("policy-loaded");
static const char state_sql[] =
    "SELECT t_wall_ns, json_extract(body, '$.mynaguard.policy.version'),"
    " json_extract(body, '$.mynaguard.policy.hash'),"
    " json_extract(body, '$.mynaguard.state.mismatch'),"
    " json_extract(body, '$.mynaguard.state.usb_default'),"
    " json_extract(body, '$.mynaguard.state.removable_writable')" NEWEST(
	"agent-state");
/* The signed-bundle state now (issue 8), not limited to the period: the
 * group, the version the events report in force, the group's latest. */
static const char bundle_sql[] =
    "SELECT grp, version,"
    " (SELECT max(version) FROM policy_bundles b WHERE b.grp = p.grp)"
    " FROM policy_terminals p WHERE agent_id = ?1";
static const char users_sql[] =
    "SELECT user_name,"
    " count(*) FILTER (WHERE action = 'login-succeeded'),"
    " count(*) FILTER (WHERE action = 'login-failed'),"
    " count(*) FILTER (WHERE action = 'login-locked-out'),"
    " count(*) FILTER (WHERE action = 'login-break-glass')"
    " FROM events WHERE agent_id = ?1"
    " AND t_wall_ns >= ?2 AND t_wall_ns < ?3 AND action IN"
    " ('login-succeeded', 'login-failed', 'login-locked-out',"
    " 'login-break-glass') GROUP BY user_name"
    " ORDER BY user_name NULLS FIRST LIMIT ?4";
/* The critical device records: what was not enforced, oldest first. */
static const char devices_sql[] =
    "SELECT t_wall_ns, action, json_extract(body, '$.mynaguard.device.vendor'),"
    " json_extract(body, '$.mynaguard.device.product'), dev_serial, user_name"
    " FROM events WHERE agent_id = ?1 AND t_wall_ns >= ?2 AND t_wall_ns < ?3"
    " AND action IN ('device-enforcement-failed', 'device-mounted-rw')"
    " ORDER BY t_wall_ns, seq LIMIT ?4";
/* ?4, ?5: the lowest and highest seq of the period (NULL: none). */
static const char alerts_sql[] =
    "SELECT type, count(*), count(*) FILTER (WHERE explained_by IS NULL)"
    " FROM alerts WHERE agent_id = ?1 AND ((seq_from IS NOT NULL"
    "  AND CAST(?4 AS BIGINT) IS NOT NULL"
    "  AND seq_from <= ?5 + 1 AND coalesce(seq_to, seq_from) >= ?4 - 1)"
    " OR (seq_from IS NULL AND created_ns >= ?2 AND created_ns < ?3))"
    " GROUP BY type";

/* Every alert type alert.c raises; "chain" ones are integrity problems
 * unless a loss record explains them. */
static const struct {
	const char *name;
	bool chain;
} alert_types[] = {
	{ "gap", true },
	{ "chain-break", true },
	{ "equivocation", true },
	{ "forged", true },
	{ "identity-mismatch", true },
	{ "invalid", true },
	{ "loss", false },
	{ "state-mismatch", false },
	/* security events raised as alerts: counted, not integrity */
	{ "cloned-key", false },
	{ "lockout", false },
	{ "break-glass", false },
	{ "media-blocked", false },
	{ "read-only-cleared", false },
	{ "enforcement-failed", false },
	{ "policy-refused", false },
};
#define ALERT_TYPES MG_ELEMENTSOF(alert_types)

struct sum {
	struct coll_store *db;
	int64_t since, until, days, now, silent_ns;
	struct coll_stmt *policy, *state, *users, *devices, *alerts, *bundle;
	struct jw *w;
};

static void
null_value(struct jw *w)
{
	/* jw has no null; after a key the writer expects exactly one value */
	w->after_key = false;
	if (w->err == 0)
		w->err = sbuf_puts(w->b, "null");
}

static void
time_or_null(struct jw *w, const char *key, struct coll_stmt *s, int col)
{
	char t[RV_TIME_LEN];

	jw_key(w, key);
	if (coll_stmt_type(s, col) == COLL_NULL) {
		null_value(w);
		return;
	}
	coll_review_time_format(coll_stmt_int64(s, col), t);
	jw_str(w, t);
}

/* Integers only: a body's "version": "3" is not a version. */
static void
int_or_null(struct jw *w, const char *key, struct coll_stmt *s, int col)
{
	jw_key(w, key);
	if (coll_stmt_is_int(s, col))
		jw_i64(w, coll_stmt_int64(s, col));
	else
		null_value(w);
}

static void
text_or_empty(struct jw *w, const char *key, struct coll_stmt *s, int col)
{
	jw_key(w, key);
	if (coll_stmt_type(s, col) == COLL_NULL)
		jw_str(w, "");
	else
		jw_string(w, (const char *)coll_stmt_text(s, col),
		    (size_t)coll_stmt_bytes(s, col));
}

/* Bind ?1 agent, ?2 since, ?3 until to a per-terminal statement. */
static int
bind_period(const struct sum *m, struct coll_stmt *s, const char *agent)
{
	int rc;

	coll_stmt_reset(s);
	rc = coll_stmt_bind_text(s, 1, agent);
	if (rc == COLL_OK)
		rc = coll_stmt_bind_int64(s, 2, m->since);
	if (rc == COLL_OK)
		rc = coll_stmt_bind_int64(s, 3, m->until);
	return coll_store_errno(rc);
}

static int
step_done(struct coll_stmt *s, int rc)
{
	coll_stmt_reset(s);
	return rc == COLL_DONE || rc == COLL_ROW ? 0 : coll_store_errno(rc);
}

/* "policy": the newest policy-loaded of the period, or null. */
static int
policy_json(const struct sum *m, const char *agent)
{
	struct jw *w = m->w;
	int rc;

	if ((rc = bind_period(m, m->policy, agent)) < 0)
		return rc;
	jw_key(w, "policy");
	if ((rc = coll_stmt_step(m->policy)) == COLL_ROW) {
		jw_object(w);
		time_or_null(w, "time", m->policy, 0);
		int_or_null(w, "version", m->policy, 1);
		text_or_empty(w, "hash", m->policy, 2);
		jw_object_end(w);
	} else
		null_value(w);
	return step_done(m->policy, rc);
}

/* "state": the newest agent-state of the period, or null. */
static int
state_json(const struct sum *m, const char *agent)
{
	struct coll_stmt *s = m->state;
	struct jw *w = m->w;
	int rc;

	if ((rc = bind_period(m, s, agent)) < 0)
		return rc;
	jw_key(w, "state");
	if ((rc = coll_stmt_step(s)) == COLL_ROW) {
		jw_object(w);
		time_or_null(w, "time", s, 0);
		int_or_null(w, "policy_version", s, 1);
		text_or_empty(w, "policy_hash", s, 2);
		text_or_empty(w, "mismatch", s, 3);
		text_or_empty(w, "usb_default", s, 4);
		int_or_null(w, "removable_writable", s, 5);
		jw_object_end(w);
	} else
		null_value(w);
	return step_done(s, rc);
}

/* "users": login counts per user.name, at most USERS_MAX of them. */
static int
users_json(const struct sum *m, const char *agent)
{
	static const char *const keys[] = { "succeeded", "failed", "locked_out",
		"break_glass" };
	struct coll_stmt *s = m->users;
	struct jw *w = m->w;
	int rc, n = 0, i;

	if ((rc = bind_period(m, s, agent)) < 0)
		return rc;
	if ((rc = coll_stmt_bind_int64(s, 4, USERS_MAX + 1)) != COLL_OK)
		return coll_store_errno(rc);
	jw_key(w, "users");
	jw_array(w);
	while ((rc = coll_stmt_step(s)) == COLL_ROW && ++n <= USERS_MAX) {
		jw_object(w);
		text_or_empty(w, "user", s, 0);
		for (i = 0; i < 4; i++) {
			jw_key(w, keys[i]);
			jw_i64(w, coll_stmt_int64(s, i + 1));
		}
		jw_object_end(w);
	}
	jw_array_end(w);
	jw_key(w, "users_truncated");
	jw_bool(w, n > USERS_MAX);
	return step_done(s, rc);
}

/* "critical_devices": [{time, action, vendor, product, serial, user}]. */
static int
devices_json(const struct sum *m, const char *agent)
{
	static const char *const keys[] = { "action", "vendor", "product",
		"serial", "user" };
	struct coll_stmt *s = m->devices;
	struct jw *w = m->w;
	int rc, n = 0, i;

	if ((rc = bind_period(m, s, agent)) < 0)
		return rc;
	if ((rc = coll_stmt_bind_int64(s, 4, DEVICES_MAX + 1)) != COLL_OK)
		return coll_store_errno(rc);
	jw_key(w, "critical_devices");
	jw_array(w);
	while ((rc = coll_stmt_step(s)) == COLL_ROW && ++n <= DEVICES_MAX) {
		jw_object(w);
		time_or_null(w, "time", s, 0);
		for (i = 0; i < 5; i++)
			text_or_empty(w, keys[i], s, i + 1);
		jw_object_end(w);
	}
	jw_array_end(w);
	jw_key(w, "critical_devices_truncated");
	jw_bool(w, n > DEVICES_MAX);
	return step_done(s, rc);
}

/* "alerts": {type: {count, unexplained}} for every type, and the
 * number of unexplained integrity problems. */

/* Bind parameter i of s to column col of row: an integer or NULL. */
static int
bind_copy(struct coll_stmt *s, int i, struct coll_stmt *row, int col)
{
	if (coll_stmt_type(row, col) == COLL_NULL)
		return coll_stmt_bind_null(s, i);
	return coll_stmt_bind_int64(s, i, coll_stmt_int64(row, col));
}

static int
alerts_json(const struct sum *m, const char *agent, struct coll_stmt *row)
{
	int64_t count[ALERT_TYPES + 1] = { 0 }, unexp[ALERT_TYPES + 1] = { 0 };
	int64_t chain = 0;
	struct coll_stmt *s = m->alerts;
	const char *type;
	size_t i;
	int rc;

	if ((rc = bind_period(m, s, agent)) < 0)
		return rc;
	rc = bind_copy(s, 4, row, C_LO);
	if (rc == COLL_OK)
		rc = bind_copy(s, 5, row, C_HI);
	if (rc != COLL_OK)
		return coll_store_errno(rc);
	while ((rc = coll_stmt_step(s)) == COLL_ROW) {
		type = (const char *)coll_stmt_text(s, 0);
		for (i = 0; i < ALERT_TYPES; i++)
			if (type != NULL &&
			    strcmp(type, alert_types[i].name) == 0)
				break;
		/* i == ALERT_TYPES: "other" */
		count[i] += coll_stmt_int64(s, 1);
		unexp[i] += coll_stmt_int64(s, 2);
		if (i == ALERT_TYPES || alert_types[i].chain)
			chain += coll_stmt_int64(s, 2);
	}
	jw_key(m->w, "alerts");
	jw_object(m->w);
	for (i = 0; i <= ALERT_TYPES; i++) {
		jw_key(m->w, i < ALERT_TYPES ? alert_types[i].name : "other");
		jw_object(m->w);
		jw_key(m->w, "count");
		jw_i64(m->w, count[i]);
		jw_key(m->w, "unexplained");
		jw_i64(m->w, unexp[i]);
		jw_object_end(m->w);
	}
	jw_object_end(m->w);
	jw_key(m->w, "chain_unexplained");
	jw_i64(m->w, chain);
	return step_done(s, rc);
}

/* "device": {...}, "login": {...}, ... from the counted columns. */
static void
counts_json(struct jw *w, struct coll_stmt *s)
{
	size_t i;

	for (i = 0; i < MG_ELEMENTSOF(counted); i++) {
		if (i == 0 || strcmp(counted[i].group, counted[i - 1].group)) {
			if (i > 0)
				jw_object_end(w);
			jw_key(w, counted[i].group);
			jw_object(w);
		}
		jw_key(w, counted[i].key);
		jw_i64(w, coll_stmt_int64(s, C_COUNTS + (int)i));
	}
	jw_object_end(w);
}

/* The reporting regularity: days with an event, and the longest run of
 * days without one (the whole period when there is no event). */
static void
days_json(const struct sum *m, struct coll_stmt *s)
{
	int64_t quiet = m->days, tail;

	if (coll_stmt_type(s, C_MAXQ) != COLL_NULL) {
		quiet = coll_stmt_int64(s, C_MAXQ);
		tail = m->days - 1 - coll_stmt_int64(s, C_LASTDAY);
		if (tail > quiet)
			quiet = tail;
	}
	jw_key(m->w, "days_with_events");
	jw_i64(m->w, coll_stmt_int64(s, C_DAYS));
	jw_key(m->w, "longest_quiet_days");
	jw_i64(m->w, quiet);
}

/* "policy_bundle": {group, version, latest, lagging}, or null. */
static int
bundle_json(const struct sum *m, const char *agent)
{
	struct coll_stmt *s = m->bundle;
	struct jw *w = m->w;
	int rc;

	coll_stmt_reset(s);
	rc = coll_stmt_bind_text(s, 1, agent);
	jw_key(w, "policy_bundle");
	if (rc == COLL_OK && (rc = coll_stmt_step(s)) == COLL_ROW) {
		jw_object(w);
		jw_key(w, "group");
		if (coll_stmt_type(s, 0) == COLL_NULL)
			null_value(w);
		else
			jw_str(w, (const char *)coll_stmt_text(s, 0));
		int_or_null(w, "version", s, 1);
		int_or_null(w, "latest", s, 2);
		jw_key(w, "lagging");
		jw_bool(w, coll_stmt_type(s, 2) != COLL_NULL &&
		    (coll_stmt_type(s, 1) == COLL_NULL ||
			coll_stmt_int64(s, 1) <
			    coll_stmt_int64(s, 2)));
		jw_object_end(w);
	} else if (rc == COLL_DONE)
		null_value(w);
	return step_done(s, rc);
}

static int
terminal_json(const struct sum *m, struct coll_stmt *s)
{
	const char *agent = (const char *)coll_stmt_text(s, C_AGENT);
	struct jw *w = m->w;
	int r;

	jw_object(w);
	jw_key(w, "agent_id");
	jw_str(w, agent);
	time_or_null(w, "last_seen", s, C_LAST_SEEN);
	jw_key(w, "silent");
	jw_bool(
	    w, coll_stmt_int64(s, C_LAST_SEEN) < m->now - m->silent_ns);
	jw_key(w, "events");
	jw_i64(w, coll_stmt_int64(s, C_N));
	time_or_null(w, "first_event", s, C_FIRST);
	time_or_null(w, "last_event", s, C_LAST);
	days_json(m, s);
	jw_key(w, "unverified");
	jw_i64(w, coll_stmt_int64(s, C_UNVERIFIED));
	counts_json(w, s);
	if ((r = policy_json(m, agent)) == 0 &&
	    (r = state_json(m, agent)) == 0 &&
	    (r = users_json(m, agent)) == 0 &&
	    (r = devices_json(m, agent)) == 0 &&
	    (r = bundle_json(m, agent)) == 0)
		r = alerts_json(m, agent, s);
	jw_object_end(w);
	return r;
}

static int
prepare(struct coll_store *db, const char *sql, struct coll_stmt **ret)
{
	return coll_store_errno(coll_stmt_prepare(db, sql, ret));
}

static int
terminals(struct sum *m, const char *terminal)
{
	struct coll_stmt *s = NULL;
	int r;

	if ((r = prepare(m->db, main_sql, &s)) < 0 ||
	    (r = prepare(m->db, policy_sql, &m->policy)) < 0 ||
	    (r = prepare(m->db, state_sql, &m->state)) < 0 ||
	    (r = prepare(m->db, users_sql, &m->users)) < 0 ||
	    (r = prepare(m->db, devices_sql, &m->devices)) < 0 ||
	    (r = prepare(m->db, alerts_sql, &m->alerts)) < 0 ||
	    (r = prepare(m->db, bundle_sql, &m->bundle)) < 0)
		goto out;
	r = coll_store_errno(coll_stmt_bind_int64(s, 1, m->since));
	if (r == 0)
		r = coll_store_errno(coll_stmt_bind_int64(s, 2, m->until));
	if (r == 0 && terminal != NULL)
		r = coll_store_errno(
		    coll_stmt_bind_text(s, 3, terminal));
	while (r == 0 && (r = coll_stmt_step(s)) == COLL_ROW)
		r = terminal_json(m, s);
	if (r == COLL_DONE)
		r = 0;
	else if (r > 0)
		r = coll_store_errno(r);
out:
	coll_stmt_finalize(s);
	coll_stmt_finalize(m->policy);
	coll_stmt_finalize(m->state);
	coll_stmt_finalize(m->users);
	coll_stmt_finalize(m->devices);
	coll_stmt_finalize(m->alerts);
	coll_stmt_finalize(m->bundle);
	return r;
}

static void
head_json(const struct sum *m)
{
	char t[RV_TIME_LEN];

	jw_object(m->w);
	coll_review_time_format(m->since, t);
	jw_key(m->w, "since");
	jw_str(m->w, t);
	coll_review_time_format(m->until, t);
	jw_key(m->w, "until");
	jw_str(m->w, t);
	coll_review_time_format(m->now, t);
	jw_key(m->w, "generated");
	jw_str(m->w, t);
	jw_key(m->w, "days");
	jw_i64(m->w, m->days);
	jw_key(m->w, "silent_after");
	jw_i64(m->w, m->silent_ns / 1000000000);
	jw_key(m->w, "terminals");
	jw_array(m->w);
}

/* The period: both ends given, since < until, at most PERIOD_DAYS_MAX
 * days.  A message for a 400, or NULL. */
static const char *
check_period(const struct rv_query *q)
{
	if (q->s[RV_SINCE] == NULL || q->s[RV_UNTIL] == NULL)
		return "the parameters 'since' and 'until' are needed";
	if (q->since >= q->until)
		return "'since' must be before 'until'";
	if ((q->until - q->since - 1) / DAY_NS >= PERIOD_DAYS_MAX)
		return "the period is longer than 366 days";
	return NULL;
}

enum MHD_Result
coll_review_summary(struct coll_server *srv, struct MHD_Connection *conn)
{
	const unsigned allowed =
	    RV_BIT(RV_SINCE) | RV_BIT(RV_UNTIL) | RV_BIT(RV_TERMINAL);
	struct rv_query q;
	struct rv_error e;
	struct sbuf out;
	struct jw w;
	struct sum m;
	const char *why;
	int r;

	if (coll_review_query(conn, allowed, &q, &e) < 0)
		return coll_review_fail(conn, e.status, e.msg);
	if ((why = check_period(&q)) != NULL)
		return coll_review_fail(conn, MHD_HTTP_BAD_REQUEST, why);
	memset(&m, 0, sizeof(m));
	m.since = q.since;
	m.until = q.until;
	m.days = (q.until - q.since + DAY_NS - 1) / DAY_NS;
	m.now = coll_review_now();
	m.silent_ns = (int64_t)srv->silent_after * 1000000000;
	m.w = &w;
	sbuf_init(&out, RV_RESPONSE_MAX);
	jw_init(&w, &out);
	head_json(&m);
	coll_store_lock(srv->st);
	m.db = srv->st;
	r = terminals(&m, q.s[RV_TERMINAL]);
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
