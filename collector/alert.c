/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Alerts: rows for the security officer, and one log line each (STYLE 5.5:
 * a security decision).  Lines are queued during the transaction and
 * logged only after COMMIT, so the log never reports an alert that a
 * rollback took back.  Severities are syslog priorities: a gap the agent
 * itself reported as loss is less alarming than an unexplained one.
 */
#include <errno.h>
#include <string.h>
#include <syslog.h>

#include "internal.h"

static const struct {
	const char *name;
	int severity;
} types[COLL_ALERT_COUNT_] = {
	[COLL_ALERT_IDENTITY] = { "identity-mismatch", LOG_CRIT },
	[COLL_ALERT_FORGED] = { "forged", LOG_CRIT },
	[COLL_ALERT_EQUIVOCATION] = { "equivocation", LOG_CRIT },
	[COLL_ALERT_CHAIN_BREAK] = { "chain-break", LOG_ERR },
	[COLL_ALERT_GAP] = { "gap", LOG_WARNING },
	[COLL_ALERT_LOSS] = { "loss", LOG_NOTICE },
	[COLL_ALERT_INVALID] = { "invalid", LOG_ERR },
	[COLL_ALERT_STATE] = { "state-mismatch", LOG_WARNING },
	[COLL_ALERT_CLONED_KEY] = { "cloned-key", LOG_CRIT },
	[COLL_ALERT_LOCKOUT] = { "lockout", LOG_WARNING },
	[COLL_ALERT_BREAK_GLASS] = { "break-glass", LOG_WARNING },
	[COLL_ALERT_MEDIA_BLOCKED] = { "media-blocked", LOG_NOTICE },
	[COLL_ALERT_RO_CLEARED] = { "read-only-cleared", LOG_ERR },
	[COLL_ALERT_ENFORCE] = { "enforcement-failed", LOG_ERR },
	/* A terminal was served a bundle the town did not sign for its group,
	 * or an older one: the collector or the path to it is suspect. */
	[COLL_ALERT_POLICY_REFUSED] = { "policy-refused", LOG_ERR },
};

static const char insert_sql[] =
    "INSERT INTO alerts(agent_id, type, severity, seq_from, seq_to,"
    " detail, created_ns, explained_by) VALUES(?, ?, ?, ?, ?, ?, ?, ?)";

const char *
coll_alert_name(enum coll_alert_type t)
{
	return (unsigned)t < COLL_ALERT_COUNT_ ? types[t].name : "unknown";
}

/* Queued as "P text\n", P the priority digit. */
static void
queue_line(struct coll_chain *c, enum coll_alert_type t, uint64_t from,
    uint64_t to, uint64_t explained_by)
{
	int r;

	r = sbuf_printf(&c->log, "%c alert %s: agent %s",
	    '0' + types[t].severity, types[t].name, c->cert_agent);
	if (r == 0 && t == COLL_ALERT_IDENTITY)
		r = sbuf_printf(&c->log, " sent records of agent %s", c->agent);
	if (r == 0 && from == to)
		r = sbuf_printf(
		    &c->log, ", seq %llu", (unsigned long long)from);
	else if (r == 0)
		r = sbuf_printf(&c->log, ", seq %llu..%llu",
		    (unsigned long long)from, (unsigned long long)to);
	if (r == 0 && explained_by != 0)
		r = sbuf_printf(&c->log, " (explained by loss record %llu)",
		    (unsigned long long)explained_by);
	if (r == 0)
		r = sbuf_putc(&c->log, '\n');
	if (r < 0) /* the row is what counts; the line is a courtesy */
		c->log.max = c->log.len;
}

int
coll_alert_raise(struct coll_chain *c, enum coll_alert_type t, uint64_t from,
    uint64_t to, const char *detail, uint64_t explained_by)
{
	int r;

	if ((unsigned)t >= COLL_ALERT_COUNT_)
		return -EINVAL;
	/* explained_by 0 is stored as NULL ('n' takes no argument). */
	r = coll_store_run(c->st, insert_sql, NULL,
	    explained_by != 0 ? "ttiiitii" : "ttiiitin", c->cert_agent,
	    types[t].name, (int64_t)types[t].severity, (int64_t)from,
	    (int64_t)to, detail, c->now, (int64_t)explained_by);
	if (r < 0)
		return r;
	queue_line(c, t, from, to, explained_by);
	c->res->alerts++;
	return 0;
}

void
coll_alert_flush(struct coll_chain *c)
{
	char *p = c->log.data, *nl;

	while (p != NULL && (nl = strchr(p, '\n')) != NULL) {
		*nl = '\0';
		coll_log(p[0] - '0', "%s", p + 2);
		p = nl + 1;
	}
	sbuf_clear(&c->log);
}

/* ---- state-mismatch ------------------------------------------------------ */

#define WORDS_MAX 512u

static const char state_at_sql[] =
    "SELECT json_extract(body, '$.mynaguard.state.mismatch') FROM events"
    " WHERE agent_id = ? AND seq = ? AND hash = ? AND action = 'agent-state'";
static const char state_prev_sql[] =
    "SELECT json_extract(body, '$.mynaguard.state.mismatch') FROM events"
    " WHERE agent_id = ? AND action = 'agent-state' AND seq < ?"
    " ORDER BY seq DESC LIMIT 1";
static const char state_raised_sql[] =
    "SELECT 1 FROM alerts WHERE agent_id = ? AND type = 'state-mismatch'"
    " AND seq_from = ? LIMIT 1";

/* Column 0 of the first row of sql into out; 0 when there is no row. */
static int
words_of(struct coll_store *st, const char *sql, const char *fmt,
    const char *agent, int64_t seq, const uint8_t *hash, char *out)
{
	struct coll_stmt *s = NULL;
	const unsigned char *t;
	int r;

	out[0] = '\0';
	r = hash != NULL ? coll_store_run(st, sql, &s, fmt, agent, seq, hash,
	    (size_t)MG_REC_HASH_LEN) : coll_store_run(st, sql, &s, fmt, agent,
	    seq);
	if (r <= 0)
		return r;
	t = coll_stmt_text(s, 0);
	if (t != NULL && strlen((const char *)t) < WORDS_MAX)
		memcpy(out, t, strlen((const char *)t) + 1);
	coll_stmt_reset(s);
	return 1;
}

static int
state_one(struct coll_chain *c, const struct coll_item *it)
{
	char now[WORDS_MAX], prev[WORDS_MAX];
	struct sbuf d;
	struct jw w;
	int64_t seq = (int64_t)it->rec.seq;
	int r;

	r = words_of(c->st, state_at_sql, "tib", c->agent, seq, it->hash, now);
	if (r <= 0 || now[0] == '\0')
		return r < 0 ? r : 0;	/* not stored as such, or all right */
	if ((r = words_of(c->st, state_prev_sql, "ti", c->agent, seq, NULL,
	    prev)) < 0)
		return r;
	if (strcmp(now, prev) == 0)
		return 0;		/* the same mismatch, still */
	if ((r = coll_store_run(c->st, state_raised_sql, NULL, "ti", c->agent,
	    seq)) != 0)
		return r < 0 ? r : 0;	/* sent again */
	sbuf_init(&d, 2 * WORDS_MAX);
	jw_init(&w, &d);
	jw_object(&w);
	jw_key(&w, "mismatch");
	jw_str(&w, now);
	jw_key(&w, "previous");
	jw_str(&w, prev);
	jw_object_end(&w);
	if ((r = jw_finish(&w)) == 0)
		r = coll_alert_raise(c, COLL_ALERT_STATE, it->rec.seq,
		    it->rec.seq, d.data, 0);
	sbuf_clear(&d);
	return r;
}

static bool
is_state(const struct coll_item *it)
{
	static const char tag[] = "\"agent-state\"";

	return it->verdict == 0 && memmem(it->rec.body, it->rec.body_len, tag,
	    sizeof(tag) - 1) != NULL;
}

/* ---- security events as alerts ---------------------------------------- */

static const struct {
	const char *action;
	const char *reason;	/* NULL: any */
	enum coll_alert_type type;
} watched[] = {
	{ "login-failed", "counter-regression", COLL_ALERT_CLONED_KEY },
	{ "login-locked-out", NULL, COLL_ALERT_LOCKOUT },
	{ "login-break-glass", NULL, COLL_ALERT_BREAK_GLASS },
	{ "device-blocked", NULL, COLL_ALERT_MEDIA_BLOCKED },
	{ "device-mounted-rw", NULL, COLL_ALERT_RO_CLEARED },
	{ "device-enforcement-failed", NULL, COLL_ALERT_ENFORCE },
	{ "policy-refused", NULL, COLL_ALERT_POLICY_REFUSED },
};

static const char event_at_sql[] =
    "SELECT action, json_extract(body, '$.event.reason'),"
    " json_extract(body, '$.user.name'),"
    " json_extract(body, '$.mynaguard.device.serial'),"
    " json_extract(body, '$.mynaguard.device.product') FROM events"
    " WHERE agent_id = ? AND seq = ? AND hash = ?";
static const char event_raised_sql[] =
    "SELECT 1 FROM alerts WHERE agent_id = ? AND type = ? AND seq_from = ?"
    " LIMIT 1";

/* A cheap first look at the body, on every stored record: does it name a
 * watched action?  The quoted names, made once. */
static bool
is_watched(const struct coll_item *it)
{
	static const char *const tags[] = { "\"login-failed\"",
	    "\"login-locked-out\"", "\"login-break-glass\"",
	    "\"device-blocked\"", "\"device-mounted-rw\"",
	    "\"device-enforcement-failed\"", "\"policy-refused\"" };
	size_t i;

	_Static_assert(MG_ELEMENTSOF(tags) == MG_ELEMENTSOF(watched),
	    "one tag per watched action");
	if (it->verdict != 0)
		return false;
	for (i = 0; i < MG_ELEMENTSOF(tags); i++)
		if (memmem(it->rec.body, it->rec.body_len, tags[i],
		    strlen(tags[i])) != NULL)
			return true;
	return false;
}

static const char *
col(struct coll_stmt *s, int i)
{
	const unsigned char *t = coll_stmt_text(s, i);

	return t != NULL ? (const char *)t : NULL;
}

/* The alert type of the stored row in s, or COLL_ALERT_COUNT_. */
static enum coll_alert_type
watched_type(struct coll_stmt *s)
{
	const char *action = col(s, 0), *reason = col(s, 1);
	size_t i;

	for (i = 0; action != NULL && i < MG_ELEMENTSOF(watched); i++)
		if (strcmp(action, watched[i].action) == 0 &&
		    (watched[i].reason == NULL || (reason != NULL &&
		    strcmp(reason, watched[i].reason) == 0)))
			return watched[i].type;
	return COLL_ALERT_COUNT_;
}

/* The detail: what the officer needs to find the event (strings as the
 * device or user gave them, JSON-escaped). */
static int
event_detail(struct coll_stmt *s, struct sbuf *d)
{
	static const char *const keys[] = { "action", "reason", "user",
	    "serial", "product" };
	struct jw w;
	int i;

	jw_init(&w, d);
	jw_object(&w);
	for (i = 0; i < 5; i++)
		if (col(s, i) != NULL) {
			jw_key(&w, keys[i]);
			jw_string(&w, col(s, i), (size_t)coll_stmt_bytes(s,
			    i));
		}
	jw_object_end(&w);
	return jw_finish(&w);
}

static int
event_one(struct coll_chain *c, const struct coll_item *it)
{
	int64_t seq = (int64_t)it->rec.seq;
	enum coll_alert_type t;
	struct coll_stmt *s = NULL;
	struct sbuf d;
	int r;

	r = coll_store_run(c->st, event_at_sql, &s, "tib", c->agent, seq,
	    it->hash, (size_t)MG_REC_HASH_LEN);
	if (r <= 0)
		return r;		/* not stored as such */
	if ((t = watched_type(s)) == COLL_ALERT_COUNT_) {
		coll_stmt_reset(s);
		return 0;
	}
	sbuf_init(&d, 8192);
	r = event_detail(s, &d);
	coll_stmt_reset(s);
	if (r == 0 && (r = coll_store_run(c->st, event_raised_sql, NULL, "tti",
	    c->agent, coll_alert_name(t), seq)) == 0)
		r = coll_alert_raise(c, t, it->rec.seq, it->rec.seq, d.data, 0);
	else if (r > 0)
		r = 0;			/* sent again */
	sbuf_clear(&d);
	return r;
}

static bool
is_alerting(const struct coll_item *it)
{
	return is_state(it) || is_watched(it);
}

static int
alert_one(struct coll_chain *c, const struct coll_item *it)
{
	int r = 0;

	if (is_state(it))
		r = state_one(c, it);
	if (r == 0 && is_watched(it))
		r = event_one(c, it);
	return r;
}

int
coll_alert_scan(struct coll_chain *c, const struct coll_item *items, size_t n)
{
	size_t i;
	int r = 0;

	for (i = 0; i < n && r == 0; i++)
		if (is_alerting(&items[i]))
			r = alert_one(c, &items[i]);
	return r;
}

int
coll_alert_states(struct coll_store *st, const char *agent,
    const struct coll_item *items, size_t n, int64_t now,
    struct coll_result *res)
{
	struct coll_chain c;
	unsigned before = res->alerts;
	size_t i;
	int r = 0;

	for (i = 0; i < n && !is_alerting(&items[i]); i++)
		;
	if (i == n)
		return 0;	/* the common case: no transaction at all */
	memset(&c, 0, sizeof(c));
	c.st = st;
	c.agent = c.cert_agent = agent;
	c.now = now;
	c.res = res;
	sbuf_init(&c.log, 64u * 1024u);
	coll_store_lock(st);
	if ((r = coll_store_begin(st)) == 0) {
		if ((r = coll_store_xlock_terminal(st, agent)) == 0)
			r = coll_alert_scan(&c, items + i, n - i);
		if (r == 0)
			r = coll_store_commit(st);
		if (r < 0)
			coll_store_rollback(st);
	}
	coll_store_unlock(st);
	if (r == 0)
		coll_alert_flush(&c);
	else
		res->alerts = before;
	sbuf_clear(&c.log);
	return r;
}
