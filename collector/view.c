/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * "mynaguard-collector events" and "... alerts": the latest rows as a
 * table for the security officer.  Every stored string came from a
 * terminal, so control characters (C0, DEL, C1) are replaced before they
 * reach the terminal the officer reads on.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define COL_MESSAGE 60u
#define COL_DETAIL 70u

static const char events_sql[] =
    "SELECT received_ns, agent_id, seq, action, verified,"
    " json_extract(body, '$.message') FROM"
    " (SELECT * FROM events WHERE CAST(?1 AS TEXT) IS NULL OR agent_id = ?1"
    "  ORDER BY id DESC LIMIT ?2) AS e ORDER BY id";
static const char alerts_sql[] =
    "SELECT created_ns, agent_id, type, seq_from, seq_to, explained_by,"
    " detail FROM"
    " (SELECT * FROM alerts WHERE CAST(?1 AS TEXT) IS NULL OR agent_id = ?1"
    "  ORDER BY id DESC LIMIT ?2) AS a ORDER BY id";

/* Local time of a CLOCK_REALTIME nanosecond count. */
static void
put_time(FILE *out, int64_t ns)
{
	time_t t = (time_t)(ns / 1000000000);
	char buf[32];
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, sizeof(buf), "?");
	fprintf(out, "%-19s", buf);
}

/* At most max characters of UTF-8 text s, controls replaced by '?', then
 * spaces up to pad characters. */
static void
put_text(FILE *out, const unsigned char *s, size_t max, size_t pad)
{
	size_t len = s != NULL ? strlen((const char *)s) : 0, i = 0, n, chars;

	for (chars = 0; i < len && chars < max; chars++) {
		n = utf8_seqlen((const char *)s + i, len - i);
		if (n == 0 || s[i] < 0x20 || s[i] == 0x7f ||
		    (s[i] == 0xc2 && n == 2 && s[i + 1] < 0xa0)) {
			fputc('?', out);
			i += n == 0 ? 1 : n;
			continue;
		}
		fwrite(s + i, 1, n, out);
		i += n;
	}
	if (i < len && pad == 0)
		fputs("...", out);
	for (; chars < pad; chars++)
		fputc(' ', out);
}

/* ?1 agent (NULL: all), ?2 limit; 'n' takes no argument. */
static int
query(struct coll_store *st, const char *sql, const char *agent, unsigned limit,
    struct coll_stmt **s)
{
	if (agent != NULL)
		return coll_store_run(st, sql, s, "ti", agent, (int64_t)limit);
	return coll_store_run(st, sql, s, "ni", (int64_t)limit);
}

int
coll_view_events(
    struct coll_store *st, FILE *out, const char *agent, unsigned limit)
{
	struct coll_stmt *s = NULL;
	int r;

	r = query(st, events_sql, agent, limit, &s);
	fprintf(out, "%-19s  %-16s %8s  %-20s %-8s %s\n", "RECEIVED", "AGENT",
	    "SEQ", "ACTION", "VERIFIED", "MESSAGE");
	for (; r == 1; r = coll_store_next(st, s)) {
		put_time(out, coll_stmt_int64(s, 0));
		fputs("  ", out);
		put_text(
		    out, coll_stmt_text(s, 1), MG_REC_AGENT_ID_MAX, 16);
		fprintf(out, " %8lld  ", (long long)coll_stmt_int64(s, 2));
		put_text(out, coll_stmt_text(s, 3), 20, 20);
		fprintf(out, " %-8s ", (int)coll_stmt_int64(s, 4) ? "yes" : "NO");
		put_text(out, coll_stmt_text(s, 5), COL_MESSAGE, 0);
		fputc('\n', out);
	}
	return r < 0 ? r : 0;
}

static void
put_range(FILE *out, struct coll_stmt *s)
{
	char seq[48];
	int64_t from = coll_stmt_int64(s, 3);
	int64_t to = coll_stmt_int64(s, 4);

	if (from == to)
		snprintf(seq, sizeof(seq), "%lld", (long long)from);
	else
		snprintf(seq, sizeof(seq), "%lld..%lld", (long long)from,
		    (long long)to);
	fprintf(out, " %-21s ", seq);
	if (coll_stmt_type(s, 5) == COLL_NULL)
		fprintf(out, "%-9s ", "-");
	else
		fprintf(
		    out, "by %-6lld ", (long long)coll_stmt_int64(s, 5));
}

int
coll_view_alerts(
    struct coll_store *st, FILE *out, const char *agent, unsigned limit)
{
	struct coll_stmt *s = NULL;
	int r;

	r = query(st, alerts_sql, agent, limit, &s);
	fprintf(out, "%-19s  %-16s %-17s %-21s %-9s %s\n", "RAISED", "AGENT",
	    "TYPE", "SEQ", "EXPLAINED", "DETAIL");
	for (; r == 1; r = coll_store_next(st, s)) {
		put_time(out, coll_stmt_int64(s, 0));
		fputs("  ", out);
		put_text(
		    out, coll_stmt_text(s, 1), MG_REC_AGENT_ID_MAX, 16);
		fputc(' ', out);
		put_text(out, coll_stmt_text(s, 2), 17, 17);
		put_range(out, s);
		put_text(out, coll_stmt_text(s, 6), COL_DETAIL, 0);
		fputc('\n', out);
	}
	return r < 0 ? r : 0;
}
