/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Multi-row INSERTs for the records of one request: a statement per
 * BATCH_ROWS records instead of one per record.  With PostgreSQL each
 * statement is a round trip between two processes, which cost more than
 * the insert itself (bench/scale); SQLite saves the per-statement work.
 * Statement texts are built once per row count and kept.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define EVENT_COLS 10
#define PG_EVENT_COLS (EVENT_COLS + COLL_COLUMNS)
#define LEAF_COLS 4

enum kind { EVENTS, LEAVES, PG_EVENTS, KINDS };

static const char event_head[] =
    "INSERT INTO events(agent_id, seq, boot_id, flags, t_wall_ns,"
    " received_ns, hash, prev_hash, body, record, verified) VALUES";
static const char event_row[] = "(?,?,?,?,?,?,?,?,?,?,1)";
/* PostgreSQL: the query columns come from the collector (columns.c). */
static const char pg_event_head[] =
    "INSERT INTO events(agent_id, seq, boot_id, flags, t_wall_ns,"
    " received_ns, hash, prev_hash, body, record, verified, action,"
    " user_name, outcome, dev_serial) VALUES";
static const char pg_event_row[] = "(?,?,?,?,?,?,?,?,?,?,1,?,?,?,?)";
static const char leaf_head[] =
    "INSERT INTO merkle_leaves(idx, agent_id, seq, hash) VALUES";
static const char leaf_row[] = "(?,?,?,?)";

/* One text per (kind, rows), made on first use and kept for the life of
 * the process: their addresses key the statement caches.  Rows come in
 * chunks of 64, 16, 4 or 1, so each kind has at most four texts. */
static char *texts[KINDS][COLL_BATCH_ROWS + 1];
static const char *const heads[KINDS] = { event_head, leaf_head,
	pg_event_head };
static const char *const rows_of[KINDS] = { event_row, leaf_row,
	pg_event_row };
static const int cols_of[KINDS] = { EVENT_COLS, LEAF_COLS, PG_EVENT_COLS };

static size_t
chunk(size_t n)
{
	return n >= 64 ? 64 : n >= 16 ? 16 : n >= 4 ? 4 : 1;
}
static pthread_mutex_t texts_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *
text_for(enum kind kind, size_t rows)
{
	const char *head = heads[kind], *row = rows_of[kind];
	size_t len = strlen(head) + rows * (strlen(row) + 1) + 1, i, o;
	char *t;

	pthread_mutex_lock(&texts_lock);
	if ((t = texts[kind][rows]) == NULL && (t = malloc(len)) != NULL) {
		o = strlen(head);
		memcpy(t, head, o);
		for (i = 0; i < rows; i++) {
			if (i > 0)
				t[o++] = ',';
			memcpy(t + o, row, strlen(row));
			o += strlen(row);
		}
		t[o] = '\0';
		texts[kind][rows] = t;
	}
	pthread_mutex_unlock(&texts_lock);
	return t;
}

static int
bind_event(struct coll_stmt *s, int p, const struct coll_item *it,
    const char *agent, int64_t now)
{
	const struct mg_record *r = &it->rec;
	int rc;

	if ((rc = coll_stmt_bind_static(s, p, agent, strlen(agent), false)) <
		0 ||
	    (rc = coll_stmt_bind_int64(s, p + 1, (int64_t)r->seq)) < 0 ||
	    (rc = coll_stmt_bind_int64(s, p + 2, (int64_t)r->boot_id)) < 0 ||
	    (rc = coll_stmt_bind_int64(s, p + 3, (int64_t)r->flags)) < 0 ||
	    (rc = coll_stmt_bind_int64(s, p + 4, r->t_wall_ns)) < 0 ||
	    (rc = coll_stmt_bind_int64(s, p + 5, now)) < 0 ||
	    (rc = coll_stmt_bind_static(s, p + 6, it->hash, MG_REC_HASH_LEN,
		 true)) < 0 ||
	    (rc = coll_stmt_bind_static(s, p + 7, r->prev_hash,
		 MG_REC_HASH_LEN, true)) < 0 ||
	    (rc = coll_stmt_bind_static(s, p + 8, (const char *)r->body,
		 r->body_len, false)) < 0)
		return rc;
	return coll_stmt_bind_static(s, p + 9, r->raw, r->raw_len, true);
}

static int
run_rows(struct coll_store *st, enum kind kind, size_t rows,
    int (*bind)(struct coll_stmt *, int, size_t, void *), void *arg)
{
	const char *sql = text_for(kind, rows);
	const int cols = cols_of[kind];
	struct coll_stmt *s = NULL;
	size_t i;
	int r;

	if (sql == NULL)
		return -ENOMEM;
	if ((r = coll_store_stmt(st, sql, &s)) < 0)
		return r;
	for (i = 0; i < rows && r == 0; i++)
		r = bind(s, (int)i * cols + 1, i, arg);
	if (r == 0) {
		r = coll_stmt_step(s);
		r = r == COLL_DONE ? 0 : r < 0 ? r : -EPROTO;
	}
	coll_stmt_reset(s);
	return r;
}

struct event_rows {
	const struct coll_item *const *items;
	const char *agent;
	int64_t now;
	bool pg;
	char *cols[COLL_BATCH_ROWS][COLL_COLUMNS]; /* pg: the query columns */
};

static int
bind_event_row(struct coll_stmt *s, int p, size_t i, void *arg)
{
	struct event_rows *e = arg;
	int j, r;

	if ((r = bind_event(s, p, e->items[i], e->agent, e->now)) < 0 ||
	    !e->pg)
		return r;
	if ((r = coll_columns(&e->items[i]->rec, e->cols[i])) < 0)
		return r;
	for (j = 0; j < COLL_COLUMNS && r == 0; j++)
		r = e->cols[i][j] == NULL ?
		    coll_stmt_bind_null(s, p + EVENT_COLS + j) :
		    coll_stmt_bind_static(s, p + EVENT_COLS + j, e->cols[i][j],
			strlen(e->cols[i][j]), false);
	return r;
}

int
coll_batch_events(struct coll_store *st, const char *agent,
    const struct coll_item *const *items, size_t n, int64_t now)
{
	struct event_rows *e;
	size_t k, i;
	int r = 0;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return -ENOMEM;
	e->agent = agent;
	e->now = now;
	e->pg = coll_store_backend(st) == COLL_POSTGRES;
	while (n > 0 && r == 0) {
		k = chunk(n);
		e->items = items;
		r = run_rows(st, e->pg ? PG_EVENTS : EVENTS, k, bind_event_row,
		    e);
		for (i = 0; i < k; i++)
			coll_columns_free(e->cols[i]);
		items += k;
		n -= k;
	}
	free(e);
	return r;
}

struct leaf_rows {
	const struct coll_leaf *leaves;
	const char *agent;
};

static int
bind_leaf_row(struct coll_stmt *s, int p, size_t i, void *arg)
{
	const struct leaf_rows *l = arg;
	const struct coll_leaf *lf = &l->leaves[i];
	int rc;

	if ((rc = coll_stmt_bind_int64(s, p, (int64_t)lf->idx)) < 0 ||
	    (rc = coll_stmt_bind_static(s, p + 1, l->agent, strlen(l->agent),
		 false)) < 0 ||
	    (rc = coll_stmt_bind_int64(s, p + 2, (int64_t)lf->seq)) < 0)
		return rc;
	return coll_stmt_bind_static(s, p + 3, lf->hash, sizeof(lf->hash),
	    true);
}

int
coll_batch_leaves(struct coll_store *st, const char *agent,
    const struct coll_leaf *leaves, size_t n)
{
	struct leaf_rows l = { NULL, agent };
	size_t k;
	int r = 0;

	while (n > 0 && r == 0) {
		k = chunk(n);
		l.leaves = leaves;
		r = run_rows(st, LEAVES, k, bind_leaf_row, &l);
		leaves += k;
		n -= k;
	}
	return r;
}
