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
