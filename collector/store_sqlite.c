/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The SQLite backend: one connection, one writer at a time (a mutex held
 * for the length of each unit of work), WAL with synchronous=FULL so a
 * COMMIT is on disk before the agent is told its records are safe (WAL +
 * NORMAL "might roll back following a power loss", sqlite.org/pragma).
 * Statements of coll_store_run() are prepared once and cached by the
 * address of their text.
 */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_int.h"

#define BUSY_TIMEOUT_MS 5000

struct lite_stmt {
	struct coll_stmt base;
	sqlite3_stmt *s;
};

struct cached {
	const char *sql;
	struct lite_stmt *stmt;
};

static _Thread_local char errbuf[256];

struct lite_store {
	struct coll_store base;
	sqlite3 *db;
	pthread_mutex_t lock;
	struct cached cache[COLL_STMT_CACHE];
	size_t ncache;
};

static struct lite_store *
lite(struct coll_store *st)
{
	return (struct lite_store *)st;
}

static sqlite3_stmt *
raw(struct coll_stmt *s)
{
	return ((struct lite_stmt *)s)->s;
}

int
coll_store_errno(int rc)
{
	if (rc < 0)
		return rc;
	if (rc == COLL_ROW || rc == COLL_DONE)
		return 0;
	switch (rc & 0xff) {
	case SQLITE_OK:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_IOERR:
		return -EIO;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EBADMSG;
	default:
		return -EPROTO;
	}
}

/* ---- statements ----------------------------------------------------------- */

static int
l_bind_int64(struct coll_stmt *s, int i, int64_t v)
{
	return coll_store_errno(sqlite3_bind_int64(raw(s), i, v));
}

static int
l_bind_bytes(struct coll_stmt *s, int i, const void *p, size_t len, bool blob,
    bool copy)
{
	sqlite3_destructor_type d = copy ? SQLITE_TRANSIENT : SQLITE_STATIC;

	if (blob)
		return coll_store_errno(
		    sqlite3_bind_blob64(raw(s), i, p, len, d));
	return coll_store_errno(
	    sqlite3_bind_text64(raw(s), i, p, len, d, SQLITE_UTF8));
}

static int
l_bind_null(struct coll_stmt *s, int i)
{
	return coll_store_errno(sqlite3_bind_null(raw(s), i));
}

static int
l_params(struct coll_stmt *s)
{
	return sqlite3_bind_parameter_count(raw(s));
}

static int
l_step(struct coll_stmt *s)
{
	int rc = sqlite3_step(raw(s));

	if (rc == SQLITE_ROW)
		return COLL_ROW;
	if (rc == SQLITE_DONE)
		return COLL_DONE;
	return coll_store_errno(rc) < 0 ? coll_store_errno(rc) : -EPROTO;
}

static void
l_reset(struct coll_stmt *s)
{
	sqlite3_reset(raw(s));
}

static void
l_finalize(struct coll_stmt *s)
{
	sqlite3_finalize(raw(s));
	free(s);
}

static enum coll_type
l_type(struct coll_stmt *s, int col)
{
	switch (sqlite3_column_type(raw(s), col)) {
	case SQLITE_INTEGER:
		return COLL_INTEGER;
	case SQLITE_FLOAT:
		return COLL_FLOAT;
	case SQLITE_TEXT:
		return COLL_TEXT;
	case SQLITE_BLOB:
		return COLL_BLOB;
	default:
		return COLL_NULL;
	}
}

static bool
l_is_int(struct coll_stmt *s, int col)
{
	return sqlite3_column_type(raw(s), col) == SQLITE_INTEGER;
}

static int64_t
l_int64(struct coll_stmt *s, int col)
{
	return sqlite3_column_int64(raw(s), col);
}

static const unsigned char *
l_text(struct coll_stmt *s, int col)
{
	return sqlite3_column_text(raw(s), col);
}

static const void *
l_blob(struct coll_stmt *s, int col)
{
	return sqlite3_column_blob(raw(s), col);
}

static int
l_bytes(struct coll_stmt *s, int col)
{
	return sqlite3_column_bytes(raw(s), col);
}

static const struct coll_stmt_ops lite_stmt_ops = {
	.bind_int64 = l_bind_int64,
	.bind_bytes = l_bind_bytes,
	.bind_null = l_bind_null,
	.params = l_params,
	.step = l_step,
	.reset = l_reset,
	.finalize = l_finalize,
	.type = l_type,
	.is_int = l_is_int,
	.int64 = l_int64,
	.text = l_text,
	.blob = l_blob,
	.bytes = l_bytes,
};

static int
new_stmt(sqlite3 *db, const char *sql, unsigned pflags, struct lite_stmt **ret)
{
	struct lite_stmt *ls;
	int rc;

	if ((ls = calloc(1, sizeof(*ls))) == NULL)
		return -ENOMEM;
	ls->base.ops = &lite_stmt_ops;
	rc = sqlite3_prepare_v3(db, sql, -1, pflags, &ls->s, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(ls->s);
		free(ls);
		return coll_store_errno(rc);
	}
	*ret = ls;
	return 0;
}

/* ---- the store ------------------------------------------------------------ */

static int
s_prepare(struct coll_store *st, const char *sql, struct coll_stmt **ret)
{
	struct lite_stmt *ls = NULL;
	int r;

	if ((r = new_stmt(lite(st)->db, sql, 0, &ls)) < 0)
		return r;
	*ret = &ls->base;
	return 0;
}

static int
s_cached(struct coll_store *st, const char *sql, struct coll_stmt **ret)
{
	struct lite_store *l = lite(st);
	struct lite_stmt *ls = NULL;
	size_t i;
	int r;

	for (i = 0; i < l->ncache; i++) {
		if (l->cache[i].sql == sql) {
			sqlite3_reset(l->cache[i].stmt->s);
			sqlite3_clear_bindings(l->cache[i].stmt->s);
			*ret = &l->cache[i].stmt->base;
			return 0;
		}
	}
	if (l->ncache == COLL_STMT_CACHE)
		return -E2BIG; /* a programming error: raise the cache */
	if ((r = new_stmt(l->db, sql, SQLITE_PREPARE_PERSISTENT, &ls)) < 0)
		return r;
	l->cache[l->ncache].sql = sql;
	l->cache[l->ncache++].stmt = ls;
	*ret = &ls->base;
	return 0;
}

static int
s_exec(struct coll_store *st, const char *sql)
{
	return coll_store_errno(
	    sqlite3_exec(lite(st)->db, sql, NULL, NULL, NULL));
}

static void
s_lock(struct coll_store *st)
{
	pthread_mutex_lock(&lite(st)->lock);
}

static int
s_lock_timed(struct coll_store *st, unsigned ms)
{
	struct timespec ts;

	coll_store_deadline(ms, &ts);
	return pthread_mutex_timedlock(&lite(st)->lock, &ts) == 0 ? 0 : -EBUSY;
}

static void
s_unlock(struct coll_store *st)
{
	pthread_mutex_unlock(&lite(st)->lock);
}

static int
s_xlock(struct coll_store *st, const char *key)
{
	(void)st;
	(void)key;
	return 0; /* one writer already */
}

static const char *
s_errmsg(struct coll_store *st)
{
	snprintf(errbuf, sizeof(errbuf), "%s", sqlite3_errmsg(lite(st)->db));
	return errbuf;
}

static void
s_free(struct coll_store *st)
{
	struct lite_store *l = lite(st);
	size_t i;

	for (i = 0; i < l->ncache; i++)
		l_finalize(&l->cache[i].stmt->base);
	/* Also checkpoints the WAL into the database file. */
	sqlite3_close(l->db);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

static const struct coll_store_ops lite_ops = {
	.kind = COLL_SQLITE,
	.lock = s_lock,
	.lock_timed = s_lock_timed,
	.unlock = s_unlock,
	.exec = s_exec,
	.xlock = s_xlock,
	.errmsg = s_errmsg,
	.prepare = s_prepare,
	.cached = s_cached,
	.free = s_free,
};

/* Pragmas of the writer.  journal_mode answers with the mode it got;
 * ":memory:" can only be "memory". */
static int
setup(struct lite_store *l, unsigned flags, const char **ret_why)
{
	sqlite3_stmt *s = NULL;
	const char *mode;
	int r;

	/* trusted_schema stays ON: SQLite 3.40 counts json_extract() in
	 * the generated columns as unsafe otherwise. */
	sqlite3_busy_timeout(l->db, BUSY_TIMEOUT_MS);
	if (flags & COLL_STORE_READONLY)
		return coll_schema_check(&l->base, ret_why);
	if (sqlite3_prepare_v2(l->db, "PRAGMA journal_mode=WAL", -1, &s,
		NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		r = coll_store_errno(sqlite3_errcode(l->db));
		sqlite3_finalize(s);
		return r < 0 ? r : -EPROTO;
	}
	mode = (const char *)sqlite3_column_text(s, 0);
	if (mode == NULL ||
	    (strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0)) {
		sqlite3_finalize(s);
		*ret_why = "cannot switch the database to WAL mode";
		return -EIO;
	}
	sqlite3_finalize(s);
	if ((r = s_exec(&l->base, "PRAGMA synchronous=FULL")) < 0)
		return r;
	return coll_schema_apply(&l->base, ret_why);
}

int
coll_sqlite_open(const char *path, unsigned flags, struct coll_store **ret,
    const char **ret_why)
{
	struct lite_store *l = NULL;
	int oflags, r;

	*ret_why = "out of memory";
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return -ENOMEM;
	*ret_why = NULL;
	l->base.ops = &lite_ops;
	if (pthread_mutex_init(&l->lock, NULL) != 0) {
		free(l);
		return -ENOMEM;
	}
	oflags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW |
	    ((flags & COLL_STORE_READONLY) ?
		    SQLITE_OPEN_READONLY :
		    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	r = coll_store_errno(sqlite3_open_v2(path, &l->db, oflags, NULL));
	if (r == 0)
		r = setup(l, flags, ret_why);
	if (r < 0) {
		/* Copied: the handle and its message go away below. */
		snprintf(errbuf, sizeof(errbuf), "%s",
		    *ret_why != NULL  ? *ret_why :
			l->db != NULL ? sqlite3_errmsg(l->db) :
					"out of memory");
		*ret_why = errbuf;
		s_free(&l->base);
		return r;
	}
	*ret = &l->base;
	return 0;
}
