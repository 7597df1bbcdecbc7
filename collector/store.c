/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The SQLite database: one connection, one writer at a time (a mutex held
 * for the length of each transaction), WAL with synchronous=FULL so a
 * COMMIT is on disk before the agent is told its records are safe (WAL +
 * NORMAL "might roll back following a power loss", sqlite.org/pragma).
 * Statements are prepared once and cached by the address of their text.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define STMT_CACHE 48
#define BUSY_TIMEOUT_MS 5000

struct cached {
	const char *sql;
	sqlite3_stmt *stmt;
};

static _Thread_local char errbuf[256];

struct coll_store {
	sqlite3 *db;
	pthread_mutex_t lock;
	struct cached cache[STMT_CACHE];
	size_t ncache;
};

int
coll_store_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
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

static int
exec(sqlite3 *db, const char *sql)
{
	return coll_store_errno(sqlite3_exec(db, sql, NULL, NULL, NULL));
}

/* Pragmas of the writer.  journal_mode answers with the mode it got;
 * ":memory:" can only be "memory". */
static int
setup(sqlite3 *db, unsigned flags, const char **ret_why)
{
	sqlite3_stmt *s = NULL;
	int r;

	/* trusted_schema stays ON: SQLite 3.40 counts json_extract() in
	 * the generated columns as unsafe otherwise. */
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	if (flags & COLL_STORE_READONLY)
		return coll_schema_check(db, ret_why);
	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &s, NULL) !=
		SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		r = coll_store_errno(sqlite3_errcode(db));
		sqlite3_finalize(s);
		return r < 0 ? r : -EPROTO;
	}
	if (strcmp((const char *)sqlite3_column_text(s, 0), "wal") != 0 &&
	    strcmp((const char *)sqlite3_column_text(s, 0), "memory") != 0) {
		sqlite3_finalize(s);
		*ret_why = "cannot switch the database to WAL mode";
		return -EIO;
	}
	sqlite3_finalize(s);
	if ((r = exec(db, "PRAGMA synchronous=FULL")) < 0)
		return r;
	return coll_schema_apply(db, ret_why);
}

int
coll_store_open(const char *path, unsigned flags, struct coll_store **ret,
    const char **ret_why)
{
	struct coll_store *st = NULL;
	int oflags, r;

	*ret_why = "out of memory";
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return -ENOMEM;
	*ret_why = NULL;
	if (pthread_mutex_init(&st->lock, NULL) != 0) {
		free(st);
		return -ENOMEM;
	}
	oflags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW |
	    ((flags & COLL_STORE_READONLY) ?
		    SQLITE_OPEN_READONLY :
		    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	r = coll_store_errno(sqlite3_open_v2(path, &st->db, oflags, NULL));
	if (r == 0)
		r = setup(st->db, flags, ret_why);
	if (r < 0) {
		/* Copied: the handle and its message go away below. */
		snprintf(errbuf, sizeof(errbuf), "%s",
		    *ret_why != NULL   ? *ret_why :
			st->db != NULL ? sqlite3_errmsg(st->db) :
					 "out of memory");
		*ret_why = errbuf;
		goto out;
	}
	*ret = st;
	st = NULL;
out:
	coll_store_free(st);
	return r;
}

void
coll_store_free(struct coll_store *st)
{
	size_t i;

	if (st == NULL)
		return;
	for (i = 0; i < st->ncache; i++)
		sqlite3_finalize(st->cache[i].stmt);
	/* Also checkpoints the WAL into the database file. */
	sqlite3_close(st->db);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

sqlite3 *
coll_store_db(struct coll_store *st)
{
	return st->db;
}

void
coll_store_lock(struct coll_store *st)
{
	pthread_mutex_lock(&st->lock);
}

void
coll_store_unlock(struct coll_store *st)
{
	pthread_mutex_unlock(&st->lock);
}

const char *
coll_store_errmsg(struct coll_store *st)
{
	return sqlite3_errmsg(st->db);
}

int
coll_store_begin(struct coll_store *st)
{
	return exec(st->db, "BEGIN IMMEDIATE");
}

int
coll_store_commit(struct coll_store *st)
{
	return exec(st->db, "COMMIT");
}

void
coll_store_rollback(struct coll_store *st)
{
	/* Fails only when there is no transaction left to roll back. */
	(void)exec(st->db, "ROLLBACK");
}

static int
stmt_for(struct coll_store *st, const char *sql, sqlite3_stmt **ret)
{
	size_t i;
	int rc;

	for (i = 0; i < st->ncache; i++) {
		if (st->cache[i].sql == sql) {
			sqlite3_reset(st->cache[i].stmt);
			sqlite3_clear_bindings(st->cache[i].stmt);
			*ret = st->cache[i].stmt;
			return 0;
		}
	}
	if (st->ncache == STMT_CACHE)
		return -E2BIG; /* a programming error: raise STMT_CACHE */
	rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
	    &st->cache[st->ncache].stmt, NULL);
	if (rc != SQLITE_OK)
		return coll_store_errno(rc);
	st->cache[st->ncache].sql = sql;
	*ret = st->cache[st->ncache++].stmt;
	return 0;
}

static int
bind_args(sqlite3_stmt *s, const char *fmt, va_list ap)
{
	const char *t;
	const void *p;
	size_t len;
	int i, rc = SQLITE_OK;

	for (i = 1; *fmt != '\0' && rc == SQLITE_OK; fmt++, i++) {
		switch (*fmt) {
		case 'i':
			rc = sqlite3_bind_int64(s, i, va_arg(ap, int64_t));
			break;
		case 't':
			t = va_arg(ap, const char *);
			rc = sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC);
			break;
		case 'T':
			t = va_arg(ap, const char *);
			len = va_arg(ap, size_t);
			rc = sqlite3_bind_text64(
			    s, i, t, len, SQLITE_STATIC, SQLITE_UTF8);
			break;
		case 'b':
			p = va_arg(ap, const void *);
			len = va_arg(ap, size_t);
			rc = sqlite3_bind_blob64(s, i, p, len, SQLITE_STATIC);
			break;
		case 'n':
			rc = sqlite3_bind_null(s, i);
			break;
		default:
			return -EINVAL;
		}
	}
	return coll_store_errno(rc);
}

int
coll_store_next(struct coll_store *st, sqlite3_stmt *stmt)
{
	int rc = sqlite3_step(stmt);

	(void)st;
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return coll_store_errno(rc);
}

int
coll_store_run(struct coll_store *st, const char *sql, sqlite3_stmt **ret_stmt,
    const char *fmt, ...)
{
	sqlite3_stmt *s = NULL;
	va_list ap;
	int r;

	if ((r = stmt_for(st, sql, &s)) < 0)
		return r;
	va_start(ap, fmt);
	r = bind_args(s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return r;
	r = coll_store_next(st, s);
	if (r == 1 && ret_stmt != NULL)
		*ret_stmt = s;
	if (r != 1 || ret_stmt == NULL)
		sqlite3_reset(s); /* release read locks early */
	return r;
}
