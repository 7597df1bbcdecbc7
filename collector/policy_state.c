/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Which policy version each terminal has in force, from its own signed
 * events (docs/events.md 5.4), and "mynaguard-collector policy list".
 * Only stored records whose signature verified count; a record sent again
 * or an older one (by seq) never moves the state back.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/*
 * The events that report a policy in force, and where their version is.
 * policy-applied (a bundle applied whole) will carry the bundle version:
 * adding it is one line here.  policy-refused changes nothing in force,
 * so it is not listed.
 */
static const struct {
	const char *tag; /* the action, quoted, for a cheap memmem() */
	const char *action;
} reports[] = {
	{ "\"policy-loaded\"", "policy-loaded" },
	{ "\"policy-applied\"", "policy-applied" },
};

static const char event_sql[] =
    "SELECT action, json_extract(body, '$.mynaguard.policy.version'),"
    " json_extract(body, '$.mynaguard.policy.hash'), t_wall_ns FROM events"
    " WHERE agent_id = ? AND seq = ? AND hash = ? AND verified <> 0";
static const char report_sql[] =
    "INSERT INTO policy_terminals(agent_id, version, policy_hash,"
    " reported_action, reported_seq, reported_ns)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(agent_id) DO UPDATE SET"
    " version = ?2, policy_hash = ?3, reported_action = ?4,"
    " reported_seq = ?5, reported_ns = ?6"
    " WHERE policy_terminals.reported_seq IS NULL"
    " OR policy_terminals.reported_seq < ?5";

static bool
is_report(const struct coll_item *it)
{
	size_t i;

	if (it->verdict != 0)
		return false;
	for (i = 0; i < MG_ELEMENTSOF(reports); i++)
		if (memmem(it->rec.body, it->rec.body_len, reports[i].tag,
			strlen(reports[i].tag)) != NULL)
			return true;
	return false;
}

static bool
known_action(const unsigned char *a)
{
	size_t i;

	for (i = 0; a != NULL && i < MG_ELEMENTSOF(reports); i++)
		if (strcmp((const char *)a, reports[i].action) == 0)
			return true;
	return false;
}

/* One record, if it is stored as sent and is a report.  Locked. */
static int
report_one(struct coll_store *st, const char *agent, const struct coll_item *it)
{
	char action[32], hash[80];
	int64_t version, t;
	struct coll_stmt *s = NULL;
	int r;

	r = coll_store_run(st, event_sql, &s, "tib", agent,
	    (int64_t)it->rec.seq, it->hash, (size_t)MG_REC_HASH_LEN);
	if (r <= 0)
		return r;
	if (!known_action(coll_stmt_text(s, 0)) ||
	    !coll_stmt_is_int(s, 1)) {
		coll_stmt_reset(s);
		return 0; /* a body that only mentions the word */
	}
	snprintf(action, sizeof(action), "%s",
	    (const char *)coll_stmt_text(s, 0));
	version = coll_stmt_int64(s, 1);
	snprintf(hash, sizeof(hash), "%s",
	    coll_stmt_type(s, 2) == COLL_TEXT ?
		(const char *)coll_stmt_text(s, 2) :
		"");
	t = coll_stmt_int64(s, 3);
	coll_stmt_reset(s);
	return coll_store_run(st, report_sql, NULL, "tittii", agent, version,
	    hash, action, (int64_t)it->rec.seq, t);
}

int
coll_policy_events(struct coll_store *st, const char *agent,
    const struct coll_item *items, size_t n)
{
	size_t i;
	int r;

	for (i = 0; i < n && !is_report(&items[i]); i++)
		;
	if (i == n)
		return 0; /* the common case: no transaction at all */
	coll_store_lock(st);
	if ((r = coll_store_begin(st)) == 0) {
		for (; i < n && r == 0; i++)
			if (is_report(&items[i]))
				r = report_one(st, agent, &items[i]);
		if (r == 0)
			r = coll_store_commit(st);
		if (r < 0)
			coll_store_rollback(st);
	}
	coll_store_unlock(st);
	return r;
}

/* ---- policy list ---------------------------------------------------------- */

static const char bundles_sql[] =
    "SELECT grp, version, published_ns, sha256, policy_sha256, signer,"
    " length(bundle) FROM policy_bundles ORDER BY grp, version";
/* Every terminal the collector knows, by events or by a fetch. */
static const char terminals_sql[] =
    "SELECT a.agent_id, p.grp, p.version, p.fetched_ns,"
    " (SELECT max(version) FROM policy_bundles b WHERE b.grp = p.grp)"
    " FROM (SELECT agent_id FROM agents UNION"
    "  SELECT agent_id FROM policy_terminals) a"
    " LEFT JOIN policy_terminals p USING(agent_id) ORDER BY a.agent_id";

static const char *
local_time(int64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, len, "?");
	return buf;
}

/* Stored text for the screen: terminals chose the agent ids and groups
 * are checked at publish, but a controls check costs nothing. */
static const char *
safe(const unsigned char *s)
{
	size_t i;

	if (s == NULL)
		return "-";
	for (i = 0; s[i] != '\0'; i++)
		if (s[i] < 0x20 || s[i] == 0x7f)
			return "?";
	return (const char *)s;
}

/* The state column of one terminal row. */
static const char *
lag_word(struct coll_stmt *s)
{
	if (coll_stmt_type(s, 1) == COLL_NULL)
		return "no group";
	if (coll_stmt_type(s, 4) == COLL_NULL)
		return "no bundle";
	if (coll_stmt_type(s, 2) == COLL_NULL)
		return "lagging (none reported)";
	if (coll_stmt_int64(s, 2) < coll_stmt_int64(s, 4))
		return "lagging";
	return "current";
}

static int
list_bundles(struct coll_store *st, FILE *out)
{
	struct coll_stmt *s = NULL;
	char when[32];
	int r;

	fprintf(out, "%-16s %8s  %-19s  %-16s  %-16s  %-16s  %s\n", "GROUP",
	    "VERSION", "PUBLISHED", "SHA256", "POLICY SHA256", "SIGNER",
	    "BYTES");
	for (r = coll_store_run(st, bundles_sql, &s, ""); r == 1;
	     r = coll_store_next(st, s))
		fprintf(out,
		    "%-16s %8lld  %-19s  %.16s  %.16s  %-16.16s  %lld\n",
		    safe(coll_stmt_text(s, 0)),
		    (long long)coll_stmt_int64(s, 1),
		    local_time(coll_stmt_int64(s, 2), when, sizeof(when)),
		    safe(coll_stmt_text(s, 3)),
		    safe(coll_stmt_text(s, 4)),
		    safe(coll_stmt_text(s, 5)),
		    (long long)coll_stmt_int64(s, 6));
	if (s != NULL)
		coll_stmt_reset(s);
	return r;
}

static void
put_int(FILE *out, struct coll_stmt *s, int col)
{
	if (coll_stmt_type(s, col) == COLL_NULL)
		fprintf(out, " %8s", "-");
	else
		fprintf(out, " %8lld", (long long)coll_stmt_int64(s, col));
}

static int
list_terminals(struct coll_store *st, FILE *out)
{
	struct coll_stmt *s = NULL;
	char when[32];
	int r;

	fprintf(out, "\n%-24s %-16s %8s %8s  %-19s  %s\n", "TERMINAL", "GROUP",
	    "IN FORCE", "LATEST", "LAST FETCH", "STATE");
	for (r = coll_store_run(st, terminals_sql, &s, ""); r == 1;
	     r = coll_store_next(st, s)) {
		fprintf(out, "%-24s %-16s", safe(coll_stmt_text(s, 0)),
		    safe(coll_stmt_text(s, 1)));
		put_int(out, s, 2);
		put_int(out, s, 4);
		fprintf(out, "  %-19s  %s\n",
		    coll_stmt_type(s, 3) == COLL_NULL ?
			"-" :
			local_time(
			    coll_stmt_int64(s, 3), when, sizeof(when)),
		    lag_word(s));
	}
	if (s != NULL)
		coll_stmt_reset(s);
	return r;
}

int
coll_policy_list(struct coll_store *st, FILE *out)
{
	int r;

	if (st == NULL || out == NULL)
		return -EINVAL;
	coll_store_lock(st);
	r = list_bundles(st, out);
	if (r == 0)
		r = list_terminals(st, out);
	coll_store_unlock(st);
	return r;
}
