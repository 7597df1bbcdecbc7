/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_COLLECTOR_STORE_INT_H
#define MYNAGUARD_COLLECTOR_STORE_INT_H

/* Between store.c and its two backends only. */

#include <stdarg.h>
#include <stdbool.h>

#include "internal.h"

#define COLL_STMT_CACHE 64

/* A bound value of coll_store_run(): copy false keeps the caller's
 * pointer (valid until the next run of the same statement). */
struct coll_stmt_ops {
	int (*bind_int64)(struct coll_stmt *s, int i, int64_t v);
	int (*bind_bytes)(struct coll_stmt *s, int i, const void *p,
	    size_t len, bool blob, bool copy);
	int (*bind_null)(struct coll_stmt *s, int i);
	int (*params)(struct coll_stmt *s);
	int (*step)(struct coll_stmt *s);
	void (*reset)(struct coll_stmt *s);
	void (*finalize)(struct coll_stmt *s);
	enum coll_type (*type)(struct coll_stmt *s, int col);
	bool (*is_int)(struct coll_stmt *s, int col);
	int64_t (*int64)(struct coll_stmt *s, int col);
	const unsigned char *(*text)(struct coll_stmt *s, int col);
	const void *(*blob)(struct coll_stmt *s, int col);
	int (*bytes)(struct coll_stmt *s, int col);
};

struct coll_stmt {
	const struct coll_stmt_ops *ops;
};

struct coll_store_ops {
	enum coll_backend kind;
	void (*lock)(struct coll_store *st);
	int (*lock_timed)(struct coll_store *st, unsigned ms);
	void (*unlock)(struct coll_store *st);
	int (*exec)(struct coll_store *st, const char *sql);
	int (*xlock)(struct coll_store *st, const char *key);
	const char *(*errmsg)(struct coll_store *st);
	int (*prepare)(struct coll_store *st, const char *sql,
	    struct coll_stmt **ret);
	/* The cached statement of sql on the current connection, reset and
	 * with its bindings cleared. */
	int (*cached)(struct coll_store *st, const char *sql,
	    struct coll_stmt **ret);
	void (*free)(struct coll_store *st);
};

struct coll_store {
	const struct coll_store_ops *ops;
};

/* CLOCK_REALTIME now + ms, for the backends' timed waits. */
struct timespec;
void coll_store_deadline(unsigned ms, struct timespec *ts);

int coll_sqlite_open(const char *path, unsigned flags,
    struct coll_store **ret, const char **ret_why);
int coll_pg_open(const char *conninfo, unsigned flags,
    struct coll_store **ret, const char **ret_why);

#endif
