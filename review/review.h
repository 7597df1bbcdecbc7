/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_REVIEW_H
#define MYNAGUARD_REVIEW_H

/*
 * mynaguard-review: the reviewer's command-line tool for the collector's
 * review API (docs/review-api.md).  Internal to review/.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mynaguard/common.h"

#define RV_EXIT_OK 0
#define RV_EXIT_REFUSED 1 /* refused by the collector, or not found */
#define RV_EXIT_USAGE 2	  /* usage, configuration or I/O */

/* ---- display width and sanitizing (width.c) --------------------------- */

/* Columns a code point takes on a terminal: 2 for East Asian Wide and
 * Fullwidth, 0 for combining marks, 1 otherwise.  -1 for code points that
 * must never be printed raw (C0, DEL, C1, bidi and other format
 * controls). */
int rv_width_cp(uint32_t cp);

/*
 * Append s (len bytes of untrusted text) to out as terminal-safe UTF-8:
 * a control byte or a byte that is not part of well-formed UTF-8 becomes
 * "\xNN", a multi-byte control (C1, bidi override) becomes "?".  At most
 * max columns are written (0: no limit); a longer text is cut and ends in
 * "…" (counted as 1 column).  *ret_cols (when not NULL) gets the columns
 * written.  -E2BIG, -ENOMEM from out.
 */
int rv_width_clean(
    struct sbuf *out, const char *s, size_t len, size_t max, size_t *ret_cols);

/* Columns s would take after rv_width_clean() without a limit. */
size_t rv_width_of(const char *s, size_t len);

/* ---- CSV, RFC 4180 (csv.c) -------------------------------------------- */

#define RV_CSV_BOM "\xef\xbb\xbf"

/*
 * Append one field to out: quoted when it holds , " CR or LF, with ""
 * for ", and with a leading ' when it starts with = + - @ TAB or CR (a
 * spreadsheet would take it for a formula).  Control characters other
 * than TAB, CR and LF become "?".  first: no separating comma.
 */
int rv_csv_field(struct sbuf *out, const char *s, size_t len, bool first);
/* Append the CRLF that ends a record. */
int rv_csv_end(struct sbuf *out);

/* ---- times (timearg.c) -------------------------------------------------- */

/* "2026-11-29T12:00:00.000000000Z" plus NUL */
#define RV_TIME_LEN 31

/*
 * Parse a --since/--until argument: RFC 3339 with a Z or +hh:mm/-hh:mm
 * offset and optional fraction (up to 9 digits), or YYYY-MM-DD meaning
 * local midnight (TZ).  Writes the UTC instant in the API's form
 * into ret.  -EINVAL when s is neither.
 */
int rv_time_parse(const char *s, char ret[RV_TIME_LEN]);

/* The local "YYYY-MM-DD HH:MM:SS" of an API time (RFC 3339); when s does
 * not parse, a copy of s cut to fit. */
void rv_time_local(const char *s, size_t len, char ret[32]);

/* ---- JSON reader (json.c) ---------------------------------------------- */

enum rv_json_type {
	RV_JSON_NULL,
	RV_JSON_BOOL,
	RV_JSON_NUMBER,
	RV_JSON_STRING,
	RV_JSON_ARRAY,
	RV_JSON_OBJECT,
};

struct rv_json {
	enum rv_json_type type;
	const char *raw; /* the value's bytes in the source */
	size_t raw_len;
	const char *str; /* STRING: decoded, NUL-terminated (may
				 * hold NUL); NUMBER, BOOL, NULL: the raw
				 * text, NOT NUL-terminated: use str_len */
	size_t str_len;
	const char *key;       /* member of an OBJECT: its name */
	struct rv_json *child; /* ARRAY, OBJECT: first element */
	struct rv_json *next;  /* next sibling */
};

/*
 * Parse text (strict JSON, checked with json_check()) into a tree
 * allocated from a (freed with it).  The tree points into text, which
 * must outlive it.  -EBADMSG, -E2BIG, -ENOMEM.
 */
int rv_json_parse(
    struct arena *a, const char *text, size_t len, struct rv_json **ret);

/* Member key of object o (NULL when o is not an object or has none). */
const struct rv_json *rv_json_get(const struct rv_json *o, const char *key);
/* Dotted path "a.b.c" through nested objects. */
const struct rv_json *rv_json_path(const struct rv_json *o, const char *path);
/* The text of a string, number or bool member ("" and 0 when absent or
 * null). */
const char *
rv_json_text(const struct rv_json *o, const char *path, size_t *ret_len);

/* ---- query strings (query.c) -------------------------------------------- */

/* Append "?key=value" or "&key=value" to url, value percent-encoded. */
int rv_query_add(struct sbuf *url, const char *key, const char *value);

/* ---- the table (table.c) -------------------------------------------------- */

#define RV_TABLE_COLS 10

struct rv_table {
	size_t ncols;
	const char *head[RV_TABLE_COLS];
	size_t max[RV_TABLE_COLS];   /* column limit in display columns */
	size_t width[RV_TABLE_COLS]; /* widest cell seen */
	struct sbuf cells;	     /* cleaned cells, each NUL-terminated */
	size_t nrows;
};

/* Columns head[0..ncols-1], each at most max[i] display columns wide. */
void rv_table_init(struct rv_table *t, size_t ncols, const char *const *head,
    const size_t *max);
/* Add a row of ncols cells (untrusted text, cleaned here). */
int
rv_table_add(struct rv_table *t, const char *const *cell, const size_t *len);
/* Print the header and rows, aligned by display width. */
int rv_table_print(struct rv_table *t, FILE *out);
void rv_table_clear(struct rv_table *t);

/* ---- the HTTPS client (client.c) ----------------------------------------- */

struct rv_conn {
	const char *url; /* https://host:port, no path */
	const char *ca;
	const char *cert;
	const char *key;
	long connect_timeout_s;
	long timeout_s;
};

/*
 * GET path (with query) from the collector.  On 200, the body is in
 * *body (limited to max bytes) or written to out when out is not NULL,
 * and 0 is returned.  Otherwise the problem is explained on stderr and
 * RV_EXIT_REFUSED or RV_EXIT_USAGE is returned.
 */
int
rv_get(const struct rv_conn *c, const char *path, struct sbuf *body, FILE *out);

/* ---- output in the three formats (output.c) ----------------------------- */

enum rv_format {
	RV_FMT_TABLE,
	RV_FMT_NDJSON,
	RV_FMT_CSV
};

struct rv_out {
	enum rv_format format;
	FILE *fp;
	size_t ncols;	   /* cells per row (CSV prints them all) */
	const size_t *map; /* the table's columns: indexes of cells */
	size_t nmap;
	struct rv_table t;
	struct sbuf line;
	size_t rows;
};

/* Start: CSV writes the BOM and header (head[0..ncols-1]); the table
 * shows cells map[0..nmap-1], cut to max[] columns. -E2BIG, -ENOMEM,
 * -EIO. */
int rv_out_begin(struct rv_out *o, enum rv_format f, FILE *fp, size_t ncols,
    const char *const *head, const size_t *map, const size_t *max, size_t nmap);
/* One row: cells for table and CSV, raw for NDJSON (one line). */
int rv_out_row(struct rv_out *o, const char *const *cell, const size_t *len,
    const char *raw, size_t raw_len);
/* Print the table; flush.  Frees everything. */
int rv_out_end(struct rv_out *o);

/* ---- commands (events.c, show.c, alerts.c) ----------------------------- */

struct rv_args {
	struct rv_conn conn;
	const char *config;
	enum rv_format format;
	const char *terminal, *user, *action, *outcome, *serial, *text;
	const char *type, *output;
	const char *month; /* report --month YYYY-MM */
	bool html;	   /* --format html (report only) */
	char since[RV_TIME_LEN], until[RV_TIME_LEN];
	uint32_t limit; /* 0: the collector's default */
	bool all;
	char **rest; /* positional arguments */
	int nrest;
};

int rv_cmd_events(const struct rv_args *a);
int rv_cmd_timeline(const struct rv_args *a);
int rv_cmd_show(const struct rv_args *a);
int rv_cmd_export(const struct rv_args *a);
int rv_cmd_alerts(const struct rv_args *a);
int rv_cmd_terminals(const struct rv_args *a);

/* Fetch path and parse it: 0 with *ret (from a), or an exit code. */
int rv_fetch_json(const struct rv_conn *c, const char *path, struct arena *a,
    struct sbuf *body, const struct rv_json **ret);

/* Write b to out; RV_EXIT_USAGE on a write error. */
int rv_write(FILE *out, const struct sbuf *b);

/* ---- the self-inspection report (report_check.c, report.c) -------------- */

enum rv_verdict {
	RV_VERDICT_OK,	  /* 適合 */
	RV_VERDICT_CHECK, /* 要確認 */
	RV_VERDICT_FAIL,  /* 不適合 */
};

#define RV_CHECKS 8
#define RV_REPORT_TEXT 512

/* One terminal of GET /v1/review/summary, as the rules read it.  Strings
 * are untrusted (from terminals) and NUL-terminated; a version < 0 is
 * "none". */
struct rv_report_term {
	char agent_id[72];
	char last_seen[32];  /* local time */
	char state_time[32]; /* local time */
	bool silent, has_state;
	int64_t events, days, days_with_events, quiet_days, quiet_max;
	int64_t policy_version, state_policy_version, latest_version;
	char policy_hash[72], state_policy_hash[72];
	/* Signed bundles (issue 8): the terminal's group ("" none), the
	 * version its events report in force and the group's latest. */
	char bundle_group[72];
	int64_t bundle_version, bundle_latest;
	int64_t policy_loaded, policy_rejected, state_reports, mismatch_reports;
	char mismatch[RV_REPORT_TEXT / 2], usb_default[16];
	int64_t removable_writable;
	int64_t device[6]; /* allowed read_only blocked removed
			    * enforcement_failed mounted_rw */
	int64_t login[5];  /* succeeded failed locked_out break_glass
			    * unlocked */
	int64_t key[2];	   /* enrolled revoked */
	int64_t unverified, chain_unexplained, alerts_chain;
	int64_t alerts_gap, alerts_break, alerts_equivocation, alerts_forged;
	int64_t alerts_other, alerts_loss, alerts_state;
	char critical[RV_REPORT_TEXT / 2];  /* devices not enforced */
	char login_users[RV_REPORT_TEXT / 2]; /* "taro 失敗2 ロックアウト1" */
	char break_glass_users[RV_REPORT_TEXT / 4];
};

struct rv_check {
	const char *item;   /* 点検項目 */
	const char *clause; /* 対応する条項 */
	enum rv_verdict verdict;
	char evidence[RV_REPORT_TEXT]; /* 根拠 (untrusted parts inside) */
};

/* The check items of one terminal, with the worst verdict returned. */
enum rv_verdict
rv_report_check(const struct rv_report_term *t, struct rv_check out[RV_CHECKS]);
/* 適合, 要確認 or 不適合. */
const char *rv_verdict_name(enum rv_verdict v);
/* Append s as HTML text: & < > " ' as references, invalid UTF-8 and
 * controls (C0, DEL, C1, bidi) as U+FFFD.  -E2BIG, -ENOMEM. */
int rv_html_text(struct sbuf *out, const char *s, size_t len);

int rv_cmd_report(const struct rv_args *a);

/* "mynaguard-review verify", review/verify.c (when it is built). */
int cmd_verify(int argc, char **argv);

#endif
