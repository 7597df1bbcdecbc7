/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The database, behind one small API (internal.h) with two backends:
 * SQLite (store_sqlite.c), the embedded default, and PostgreSQL
 * (store_pg.c), chosen by a postgresql:// connection string, for several
 * collectors on one database.  This file dispatches and binds the
 * arguments of coll_store_run().
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store_int.h"

bool
coll_store_is_pg(const char *database)
{
	return database != NULL &&
	    (strncmp(database, "postgresql://", 13) == 0 ||
		strncmp(database, "postgres://", 11) == 0);
}

/* scheme://user:PASSWORD@host/db and password=... in the query. */
const char *
coll_store_display(const char *database, char *buf, size_t len)
{
	const char *at, *colon, *pw, *end, *auth, *slash;
	int n;

	snprintf(buf, len, "%s", database);
	if ((auth = strstr(database, "://")) == NULL)
		return buf;
	auth += 3;
	colon = strchr(auth, ':');
	at = strchr(auth, '@');
	slash = strchr(auth, '/');
	if (at != NULL && colon != NULL && colon < at &&
	    (slash == NULL || slash > at)) {
		n = (int)(colon - database) + 1;
		snprintf(buf, len, "%.*s***%s", n, database, at);
	}
	if ((pw = strstr(buf, "password=")) != NULL) {
		end = strchr(pw, '&');
		n = (int)(pw - buf) + 9;
		snprintf(buf + n, len - (size_t)n, "***%s",
		    end != NULL ? strchr(strstr(database, "password="), '&') :
				  "");
	}
	return buf;
}

int
coll_store_open(const char *database, unsigned flags,
    struct coll_store **ret, const char **ret_why)
{
	if (coll_store_is_pg(database))
		return coll_pg_open(database, flags, ret, ret_why);
	return coll_sqlite_open(database, flags, ret, ret_why);
}

void
coll_store_free(struct coll_store *st)
{
	if (st != NULL)
		st->ops->free(st);
}

enum coll_backend
coll_store_backend(const struct coll_store *st)
{
	return st->ops->kind;
}

void
coll_store_lock(struct coll_store *st)
{
	st->ops->lock(st);
}

void
coll_store_deadline(unsigned ms, struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int
coll_store_lock_timed(struct coll_store *st, unsigned ms)
{
	return st->ops->lock_timed(st, ms);
}

void
coll_store_unlock(struct coll_store *st)
{
	st->ops->unlock(st);
}

int
coll_store_exec(struct coll_store *st, const char *sql)
{
	return st->ops->exec(st, sql);
}

int
coll_store_begin(struct coll_store *st)
{
	return st->ops->exec(st, st->ops->kind == COLL_SQLITE ?
		"BEGIN IMMEDIATE" : "BEGIN");
}

int
coll_store_commit(struct coll_store *st)
{
	return st->ops->exec(st, "COMMIT");
}

void
coll_store_rollback(struct coll_store *st)
{
	/* Fails only when there is no transaction left to roll back. */
	(void)st->ops->exec(st, "ROLLBACK");
}

int
coll_store_xlock(struct coll_store *st, const char *key)
{
	return st->ops->xlock(st, key);
}

int
coll_store_xlock_terminal(struct coll_store *st, const char *agent)
{
	char key[MG_REC_AGENT_ID_MAX + 16];

	/* Its own name space: an agent id may be any name, including the
	 * other locks' ("mynaguard-schema"). */
	snprintf(key, sizeof(key), "terminal/%s", agent);
	return st->ops->xlock(st, key);
}

const char *
coll_store_errmsg(struct coll_store *st)
{
	return st->ops->errmsg(st);
}

static int
bind_args(struct coll_stmt *s, const char *fmt, va_list ap)
{
	const struct coll_stmt_ops *o = s->ops;
	const char *t;
	const void *p;
	size_t len;
	int i, r = 0;

	for (i = 1; *fmt != '\0' && r == 0; fmt++, i++) {
		switch (*fmt) {
		case 'i':
			r = o->bind_int64(s, i, va_arg(ap, int64_t));
			break;
		case 't':
			t = va_arg(ap, const char *);
			r = t == NULL ? o->bind_null(s, i) :
					o->bind_bytes(s, i, t, strlen(t), false,
					    false);
			break;
		case 'T':
			t = va_arg(ap, const char *);
			len = va_arg(ap, size_t);
			r = o->bind_bytes(s, i, t, len, false, false);
			break;
		case 'b':
			p = va_arg(ap, const void *);
			len = va_arg(ap, size_t);
			r = o->bind_bytes(s, i, p, len, true, false);
			break;
		case 'n':
			r = o->bind_null(s, i);
			break;
		default:
			return -EINVAL;
		}
	}
	return r;
}

int
coll_store_next(struct coll_store *st, struct coll_stmt *stmt)
{
	int rc = stmt->ops->step(stmt);

	(void)st;
	if (rc == COLL_ROW)
		return 1;
	if (rc == COLL_DONE)
		return 0;
	return rc < 0 ? rc : -EPROTO;
}

int
coll_store_run(struct coll_store *st, const char *sql,
    struct coll_stmt **ret_stmt, const char *fmt, ...)
{
	struct coll_stmt *s = NULL;
	va_list ap;
	int r;

	if ((r = st->ops->cached(st, sql, &s)) < 0)
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
		s->ops->reset(s); /* release read locks early */
	return r;
}

/* ---- statements ----------------------------------------------------------- */

int
coll_stmt_prepare(struct coll_store *st, const char *sql, struct coll_stmt **ret)
{
	*ret = NULL;
	return st->ops->prepare(st, sql, ret);
}

int
coll_stmt_bind_int64(struct coll_stmt *s, int i, int64_t v)
{
	return s->ops->bind_int64(s, i, v);
}

int
coll_stmt_bind_text(struct coll_stmt *s, int i, const char *t)
{
	if (t == NULL)
		return s->ops->bind_null(s, i);
	return s->ops->bind_bytes(s, i, t, strlen(t), false, true);
}

int
coll_stmt_bind_blob(struct coll_stmt *s, int i, const void *p, size_t len)
{
	return s->ops->bind_bytes(s, i, p, len, true, true);
}

int
coll_stmt_bind_static(
    struct coll_stmt *s, int i, const void *p, size_t len, bool blob)
{
	return s->ops->bind_bytes(s, i, p, len, blob, false);
}

int
coll_store_stmt(struct coll_store *st, const char *sql, struct coll_stmt **ret)
{
	return st->ops->cached(st, sql, ret);
}

int
coll_stmt_bind_null(struct coll_stmt *s, int i)
{
	return s->ops->bind_null(s, i);
}

int
coll_stmt_params(struct coll_stmt *s)
{
	return s->ops->params(s);
}

int
coll_stmt_step(struct coll_stmt *s)
{
	return s->ops->step(s);
}

void
coll_stmt_reset(struct coll_stmt *s)
{
	if (s != NULL)
		s->ops->reset(s);
}

void
coll_stmt_finalize(struct coll_stmt *s)
{
	if (s != NULL)
		s->ops->finalize(s);
}

enum coll_type
coll_stmt_type(struct coll_stmt *s, int col)
{
	return s->ops->type(s, col);
}

bool
coll_stmt_is_int(struct coll_stmt *s, int col)
{
	return s->ops->is_int(s, col);
}

int64_t
coll_stmt_int64(struct coll_stmt *s, int col)
{
	return s->ops->int64(s, col);
}

const unsigned char *
coll_stmt_text(struct coll_stmt *s, int col)
{
	return s->ops->text(s, col);
}

const void *
coll_stmt_blob(struct coll_stmt *s, int col)
{
	return s->ops->blob(s, col);
}

int
coll_stmt_bytes(struct coll_stmt *s, int col)
{
	return s->ops->bytes(s, col);
}
