/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The PostgreSQL backend (libpq), for several collectors on one database.
 *
 * Connections: a pool, made as needed up to POOL_MAX.  coll_store_lock()
 * binds one to the calling thread until coll_store_unlock(), so requests
 * of different terminals run in parallel; the database orders what must
 * be ordered (coll_store_xlock: transaction-scoped advisory locks, held
 * across every collector).  Statements used outside a lock (the
 * command-line tools, opening) run on the pool's first connection, which
 * the lock never hands out.
 *
 * Statements: "?" and "?N" become "$N"; coll_store_run()'s are prepared
 * once per connection and cached by the address of their text.  Results
 * are read whole in text format (bytea as hex, decoded on demand).
 * Integers, text and blobs are sent in their own types (int8, text,
 * bytea), blobs in binary.
 *
 * Durability: COMMIT returns when the WAL is flushed (synchronous_commit
 * on, the server's default), so an acknowledged record survives a crash
 * of the collector and of the database.
 */
#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_int.h"

#define POOL_MAX 24
#define PARAMS_MAX 1024
#define LOCK_TIMEOUT "SET lock_timeout = '10s'"

enum { OID_BOOL = 16, OID_BYTEA = 17, OID_INT8 = 20, OID_INT2 = 21,
	OID_INT4 = 23, OID_TEXT = 25, OID_OID = 26, OID_FLOAT4 = 700,
	OID_FLOAT8 = 701, OID_NUMERIC = 1700 };

struct pg_stmt;

struct pg_conn {
	PGconn *c;
	bool busy;
	struct {
		const char *sql;
		struct pg_stmt *stmt;
	} cache[COLL_STMT_CACHE];
	size_t ncache;
};

struct pg_store {
	struct coll_store base;
	char *conninfo;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct pg_conn conns[POOL_MAX]; /* [0]: outside any lock */
	size_t n;
};

struct pg_param {
	const char *v;
	int len, fmt;
	Oid type;
	char *own;
	char num[24];
};

struct pg_stmt {
	struct coll_stmt base;
	struct pg_store *st;
	struct pg_conn *conn; /* cached: the connection it is prepared on */
	char name[16];	      /* "" for a dynamic statement */
	bool prepared;
	char *sql;
	int nparams;
	struct pg_param *p; /* nparams of them */
	/* Arguments of one execution, nparams each. */
	const char **values;
	int *lens, *fmts;
	Oid *types;
	PGresult *res;
	int row, nrows, ncols;
	unsigned char **blob; /* decoded bytea of the current row */
	size_t *blen;
};

static _Thread_local struct pg_conn *cur;
static _Thread_local char errbuf[256];

static struct pg_store *
pgs(struct coll_store *st)
{
	return (struct pg_store *)st;
}

static struct pg_stmt *
pst(struct coll_stmt *s)
{
	return (struct pg_stmt *)s;
}

static struct pg_conn *
conn_now(struct pg_store *p)
{
	return cur != NULL ? cur : &p->conns[0];
}

static void
set_err(const char *msg)
{
	size_t n;

	snprintf(errbuf, sizeof(errbuf), "%s", msg != NULL ? msg : "?");
	n = strlen(errbuf);
	while (n > 0 && (errbuf[n - 1] == '\n' || errbuf[n - 1] == ' '))
		errbuf[--n] = '\0';
}

/* SQLSTATE classes as -errno: constraint, retryable contention,
 * resources, lost connection. */
static int
pg_errno(const PGresult *res, PGconn *c)
{
	const char *st = res != NULL ?
	    PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	set_err(res != NULL && PQresultErrorMessage(res)[0] != '\0' ?
		PQresultErrorMessage(res) : PQerrorMessage(c));
	if (PQstatus(c) != CONNECTION_OK)
		return -EIO;
	if (st == NULL)
		return -EPROTO;
	if (strncmp(st, "23", 2) == 0)
		return -EEXIST;
	if (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0 ||
	    strcmp(st, "55P03") == 0 || strcmp(st, "57014") == 0 ||
	    strncmp(st, "53300", 5) == 0)
		return -EBUSY;
	if (strcmp(st, "53100") == 0)
		return -ENOSPC;
	if (strcmp(st, "53200") == 0)
		return -ENOMEM;
	if (strncmp(st, "08", 2) == 0 || strncmp(st, "57P", 3) == 0)
		return -EIO;
	if (strncmp(st, "42", 2) == 0 || strncmp(st, "22", 2) == 0)
		return -EPROTO;
	return -EPROTO;
}

/* "?" and "?N" outside quotes to "$N"; *ret_n: the highest N. */
static int
translate(const char *sql, char **ret, int *ret_n)
{
	size_t len = strlen(sql), o = 0;
	char *out = malloc(len * 6 + 1), quote = 0;
	int next = 0, n = 0, v;

	if (out == NULL)
		return -ENOMEM;
	for (const char *p = sql; *p != '\0'; p++) {
		if (quote != 0 || *p == '\'' || *p == '"') {
			if (quote == 0)
				quote = *p;
			else if (*p == quote)
				quote = 0;
			out[o++] = *p;
			continue;
		}
		if (*p != '?') {
			out[o++] = *p;
			continue;
		}
		if (p[1] >= '0' && p[1] <= '9') {
			for (v = 0; p[1] >= '0' && p[1] <= '9' && v < 1000; p++)
				v = v * 10 + (p[1] - '0');
		} else {
			v = ++next;
		}
		if (v > n)
			n = v;
		o += (size_t)snprintf(out + o, 8, "$%d", v);
	}
	out[o] = '\0';
	if (n > PARAMS_MAX) {
		free(out);
		return -E2BIG;
	}
	*ret = out;
	*ret_n = n;
	return 0;
}

/* ---- statements ----------------------------------------------------------- */

static void
clear_row(struct pg_stmt *s)
{
	int i;

	for (i = 0; s->blob != NULL && i < s->ncols; i++) {
		free(s->blob[i]);
		s->blob[i] = NULL;
	}
}

static void
clear_result(struct pg_stmt *s)
{
	clear_row(s);
	free(s->blob);
	free(s->blen);
	s->blob = NULL;
	s->blen = NULL;
	PQclear(s->res);
	s->res = NULL;
	s->row = s->nrows = s->ncols = 0;
}

static struct pg_param *
param(struct pg_stmt *s, int i)
{
	struct pg_param *p;

	if (i < 1 || i > s->nparams)
		return NULL;
	p = &s->p[i - 1];
	free(p->own);
	memset(p, 0, sizeof(*p));
	return p;
}

static int
p_bind_int64(struct coll_stmt *cs, int i, int64_t v)
{
	struct pg_param *p = param(pst(cs), i);

	if (p == NULL)
		return -ERANGE;
	snprintf(p->num, sizeof(p->num), "%lld", (long long)v);
	p->v = p->num;
	p->type = OID_INT8;
	return 0;
}

static int
p_bind_bytes(struct coll_stmt *cs, int i, const void *v, size_t len,
    bool blob, bool copy)
{
	struct pg_param *p = param(pst(cs), i);

	if (p == NULL)
		return -ERANGE;
	if (len > INT32_MAX)
		return -E2BIG;
	/* Text goes NUL-terminated, so always as a copy. */
	if (copy || !blob) {
		if ((p->own = malloc(len + 1)) == NULL)
			return -ENOMEM;
		if (len > 0)
			memcpy(p->own, v, len);
		p->own[len] = '\0';
		v = p->own;
	}
	p->v = v;
	p->len = (int)len;
	p->fmt = blob ? 1 : 0;
	p->type = blob ? OID_BYTEA : OID_TEXT;
	return 0;
}

static int
p_bind_null(struct coll_stmt *cs, int i)
{
	return param(pst(cs), i) == NULL ? -ERANGE : 0;
}

static int
p_params(struct coll_stmt *cs)
{
	return pst(cs)->nparams;
}

static PGresult *
execute(struct pg_stmt *s, PGconn *c)
{
	PGresult *r;
	int i;

	for (i = 0; i < s->nparams; i++) {
		s->values[i] = s->p[i].v;
		s->lens[i] = s->p[i].len;
		s->fmts[i] = s->p[i].fmt;
		s->types[i] = s->p[i].type;
	}
	if (s->name[0] == '\0')
		return PQexecParams(c, s->sql, s->nparams, s->types, s->values,
		    s->lens, s->fmts, 0);
	if (!s->prepared) {
		r = PQprepare(c, s->name, s->sql, s->nparams, s->types);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			return r;
		PQclear(r);
		s->prepared = true;
	}
	return PQexecPrepared(
	    c, s->name, s->nparams, s->values, s->lens, s->fmts, 0);
}

static int
first_step(struct pg_stmt *s)
{
	PGconn *c = s->conn != NULL ? s->conn->c : conn_now(s->st)->c;
	ExecStatusType t;
	int r;

	s->res = execute(s, c);
	t = PQresultStatus(s->res);
	if (t != PGRES_TUPLES_OK && t != PGRES_COMMAND_OK) {
		r = pg_errno(s->res, c);
		clear_result(s);
		return r;
	}
	s->nrows = PQntuples(s->res);
	s->ncols = PQnfields(s->res);
	s->row = 0;
	if (s->ncols > 0) {
		s->blob = calloc((size_t)s->ncols, sizeof(*s->blob));
		s->blen = calloc((size_t)s->ncols, sizeof(*s->blen));
		if (s->blob == NULL || s->blen == NULL) {
			clear_result(s);
			return -ENOMEM;
		}
	}
	return s->nrows > 0 ? COLL_ROW : COLL_DONE;
}

static int
p_step(struct coll_stmt *cs)
{
	struct pg_stmt *s = pst(cs);

	if (s->res == NULL)
		return first_step(s);
	clear_row(s);
	if (s->row < s->nrows)
		s->row++;
	return s->row < s->nrows ? COLL_ROW : COLL_DONE;
}

static void
p_reset(struct coll_stmt *cs)
{
	clear_result(pst(cs));
}

static void
stmt_free(struct pg_stmt *s)
{
	int i;

	clear_result(s);
	for (i = 0; s->p != NULL && i < s->nparams; i++)
		free(s->p[i].own);
	free(s->p);
	free(s->values);
	free(s->lens);
	free(s->fmts);
	free(s->types);
	free(s->sql);
	free(s);
}

static void
p_finalize(struct coll_stmt *cs)
{
	stmt_free(pst(cs));
}

static bool
in_row(struct pg_stmt *s, int col)
{
	return s->res != NULL && s->row < s->nrows && col >= 0 &&
	    col < s->ncols;
}

static enum coll_type
p_type(struct coll_stmt *cs, int col)
{
	struct pg_stmt *s = pst(cs);

	if (!in_row(s, col) || PQgetisnull(s->res, s->row, col))
		return COLL_NULL;
	switch (PQftype(s->res, col)) {
	case OID_BOOL:
	case OID_INT2:
	case OID_INT4:
	case OID_INT8:
	case OID_OID:
		return COLL_INTEGER;
	case OID_NUMERIC:
		return strchr(PQgetvalue(s->res, s->row, col), '.') == NULL ?
		    COLL_INTEGER : COLL_FLOAT;
	case OID_FLOAT4:
	case OID_FLOAT8:
		return COLL_FLOAT;
	case OID_BYTEA:
		return COLL_BLOB;
	default:
		return COLL_TEXT;
	}
}

static bool
decimal(const char *t)
{
	if (*t == '-')
		t++;
	if (*t < '0' || *t > '9')
		return false;
	while (*t >= '0' && *t <= '9')
		t++;
	return *t == '\0';
}

static bool
p_is_int(struct coll_stmt *cs, int col)
{
	enum coll_type t = p_type(cs, col);

	if (t == COLL_INTEGER)
		return true;
	return t == COLL_TEXT &&
	    decimal(PQgetvalue(pst(cs)->res, pst(cs)->row, col));
}

static int64_t
p_int64(struct coll_stmt *cs, int col)
{
	struct pg_stmt *s = pst(cs);
	const char *v;

	if (!in_row(s, col) || PQgetisnull(s->res, s->row, col))
		return 0;
	v = PQgetvalue(s->res, s->row, col);
	if (PQftype(s->res, col) == OID_BOOL)
		return v[0] == 't';
	return strtoll(v, NULL, 10);
}

static const unsigned char *
p_text(struct coll_stmt *cs, int col)
{
	struct pg_stmt *s = pst(cs);

	if (!in_row(s, col) || PQgetisnull(s->res, s->row, col))
		return NULL;
	if (PQftype(s->res, col) == OID_BYTEA)
		return s->blob != NULL && cs->ops->blob(cs, col) != NULL ?
		    s->blob[col] : NULL;
	return (const unsigned char *)PQgetvalue(s->res, s->row, col);
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* bytea's text form "\x0a1b..." decoded into s->blob[col] (NUL after). */
static int
decode_bytea(struct pg_stmt *s, int col)
{
	const char *v = PQgetvalue(s->res, s->row, col);
	size_t len = (size_t)PQgetlength(s->res, s->row, col), i;
	unsigned char *out;
	int hi, lo;

	if (len < 2 || v[0] != '\\' || v[1] != 'x' || len % 2 != 0)
		return -EPROTO;
	if ((out = malloc((len - 2) / 2 + 1)) == NULL)
		return -ENOMEM;
	for (i = 2; i < len; i += 2) {
		if ((hi = hexval(v[i])) < 0 || (lo = hexval(v[i + 1])) < 0) {
			free(out);
			return -EPROTO;
		}
		out[(i - 2) / 2] = (unsigned char)(hi << 4 | lo);
	}
	out[(len - 2) / 2] = '\0';
	s->blob[col] = out;
	s->blen[col] = (len - 2) / 2;
	return 0;
}

static const void *
p_blob(struct coll_stmt *cs, int col)
{
	struct pg_stmt *s = pst(cs);

	if (!in_row(s, col) || PQgetisnull(s->res, s->row, col))
		return NULL;
	if (PQftype(s->res, col) != OID_BYTEA)
		return PQgetvalue(s->res, s->row, col);
	if (s->blob[col] == NULL && decode_bytea(s, col) < 0)
		return NULL;
	return s->blob[col];
}

static int
p_bytes(struct coll_stmt *cs, int col)
{
	struct pg_stmt *s = pst(cs);

	if (!in_row(s, col) || PQgetisnull(s->res, s->row, col))
		return 0;
	if (PQftype(s->res, col) != OID_BYTEA)
		return PQgetlength(s->res, s->row, col);
	return p_blob(cs, col) != NULL ? (int)s->blen[col] : 0;
}

static const struct coll_stmt_ops pg_stmt_ops = {
	.bind_int64 = p_bind_int64,
	.bind_bytes = p_bind_bytes,
	.bind_null = p_bind_null,
	.params = p_params,
	.step = p_step,
	.reset = p_reset,
	.finalize = p_finalize,
	.type = p_type,
	.is_int = p_is_int,
	.int64 = p_int64,
	.text = p_text,
	.blob = p_blob,
	.bytes = p_bytes,
};

static int
new_stmt(struct pg_store *st, const char *sql, struct pg_stmt **ret)
{
	struct pg_stmt *s;
	int r;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	s->base.ops = &pg_stmt_ops;
	s->st = st;
	if ((r = translate(sql, &s->sql, &s->nparams)) < 0) {
		free(s);
		return r;
	}
	if (s->nparams > 0) {
		s->p = calloc((size_t)s->nparams, sizeof(*s->p));
		s->values = calloc((size_t)s->nparams, sizeof(*s->values));
		s->lens = calloc((size_t)s->nparams, sizeof(*s->lens));
		s->fmts = calloc((size_t)s->nparams, sizeof(*s->fmts));
		s->types = calloc((size_t)s->nparams, sizeof(*s->types));
		if (s->p == NULL || s->values == NULL || s->lens == NULL ||
		    s->fmts == NULL || s->types == NULL) {
			stmt_free(s);
			return -ENOMEM;
		}
	}
	*ret = s;
	return 0;
}

/* ---- connections ---------------------------------------------------------- */

static int
connect_one(struct pg_store *p, struct pg_conn *pc, const char **ret_why)
{
	PGresult *r;

	pc->c = PQconnectdb(p->conninfo);
	if (pc->c == NULL || PQstatus(pc->c) != CONNECTION_OK) {
		set_err(pc->c != NULL ? PQerrorMessage(pc->c) : "out of memory");
		*ret_why = errbuf;
		PQfinish(pc->c);
		pc->c = NULL;
		return -ECONNREFUSED;
	}
	/* A terminal's lock held by a stuck transaction elsewhere must not
	 * hold this request for ever: it gets 503 and retries. */
	r = PQexec(pc->c, LOCK_TIMEOUT);
	PQclear(r);
	return 0;
}

static void
conn_drop_cache(struct pg_conn *pc)
{
	size_t i;

	for (i = 0; i < pc->ncache; i++)
		stmt_free(pc->cache[i].stmt);
	pc->ncache = 0;
}

/* A connection the server closed (restart, failover) is made again; its
 * prepared statements went with it. */
static void
conn_check(struct pg_store *p, struct pg_conn *pc)
{
	const char *why;

	if (pc->c != NULL && PQstatus(pc->c) == CONNECTION_OK)
		return;
	conn_drop_cache(pc);
	PQfinish(pc->c);
	pc->c = NULL;
	(void)connect_one(p, pc, &why);
}

static struct pg_conn *
take_free(struct pg_store *p)
{
	size_t i;

	for (i = 1; i < p->n; i++)
		if (!p->conns[i].busy)
			return &p->conns[i];
	if (p->n < POOL_MAX)
		return &p->conns[p->n++];
	return NULL;
}

static int
lock_until(struct coll_store *st, const struct timespec *deadline)
{
	struct pg_store *p = pgs(st);
	struct pg_conn *pc;

	pthread_mutex_lock(&p->mu);
	while ((pc = take_free(p)) == NULL) {
		if (deadline == NULL)
			pthread_cond_wait(&p->cv, &p->mu);
		else if (pthread_cond_timedwait(&p->cv, &p->mu, deadline) != 0) {
			pthread_mutex_unlock(&p->mu);
			return -EBUSY;
		}
	}
	pc->busy = true;
	pthread_mutex_unlock(&p->mu);
	conn_check(p, pc); /* outside the mutex: connecting takes time */
	cur = pc;
	return 0;
}

static void
p_lock(struct coll_store *st)
{
	(void)lock_until(st, NULL);
}

static int
p_lock_timed(struct coll_store *st, unsigned ms)
{
	struct timespec ts;

	coll_store_deadline(ms, &ts);
	return lock_until(st, &ts);
}

static void
p_unlock(struct coll_store *st)
{
	struct pg_store *p = pgs(st);

	if (cur == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	cur->busy = false;
	cur = NULL;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

static int
p_exec(struct coll_store *st, const char *sql)
{
	struct pg_conn *pc = conn_now(pgs(st));
	PGresult *r;
	int rc = 0;

	if (pc->c == NULL)
		return -EIO;
	r = PQexec(pc->c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = pg_errno(r, pc->c);
	PQclear(r);
	return rc;
}

static int
p_cached(struct coll_store *st, const char *sql, struct coll_stmt **ret)
{
	struct pg_conn *pc = conn_now(pgs(st));
	struct pg_stmt *s = NULL;
	size_t i;
	int j, r;

	if (pc->c == NULL)
		return -EIO;
	for (i = 0; i < pc->ncache; i++) {
		if (pc->cache[i].sql == sql) {
			s = pc->cache[i].stmt;
			clear_result(s);
			for (j = 1; j <= s->nparams; j++)
				(void)param(s, j);
			*ret = &s->base;
			return 0;
		}
	}
	if (pc->ncache == COLL_STMT_CACHE)
		return -E2BIG; /* a programming error: raise the cache */
	if ((r = new_stmt(pgs(st), sql, &s)) < 0)
		return r;
	s->conn = pc;
	snprintf(s->name, sizeof(s->name), "mg%zu", pc->ncache);
	pc->cache[pc->ncache].sql = sql;
	pc->cache[pc->ncache++].stmt = s;
	*ret = &s->base;
	return 0;
}

static int
p_prepare(struct coll_store *st, const char *sql, struct coll_stmt **ret)
{
	struct pg_stmt *s = NULL;
	int r;

	if ((r = new_stmt(pgs(st), sql, &s)) < 0)
		return r;
	*ret = &s->base;
	return 0;
}

static const char xlock_sql[] =
    "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))";

static int
p_xlock(struct coll_store *st, const char *key)
{
	return coll_store_run(st, xlock_sql, NULL, "t", key) < 0 ?
	    -EBUSY : 0;
}

static const char *
p_errmsg(struct coll_store *st)
{
	(void)st;
	return errbuf;
}

static void
p_free(struct coll_store *st)
{
	struct pg_store *p = pgs(st);
	size_t i;

	for (i = 0; i < p->n; i++) {
		conn_drop_cache(&p->conns[i]);
		PQfinish(p->conns[i].c);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->conninfo);
	free(p);
}

static const struct coll_store_ops pg_ops = {
	.kind = COLL_POSTGRES,
	.lock = p_lock,
	.lock_timed = p_lock_timed,
	.unlock = p_unlock,
	.exec = p_exec,
	.xlock = p_xlock,
	.errmsg = p_errmsg,
	.prepare = p_prepare,
	.cached = p_cached,
	.free = p_free,
};

int
coll_pg_open(const char *conninfo, unsigned flags, struct coll_store **ret,
    const char **ret_why)
{
	struct pg_store *p;
	int r;

	*ret_why = "out of memory";
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -ENOMEM;
	p->base.ops = &pg_ops;
	if ((p->conninfo = strdup(conninfo)) == NULL) {
		free(p);
		return -ENOMEM;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->n = 1;
	*ret_why = NULL;
	r = connect_one(p, &p->conns[0], ret_why);
	if (r == 0)
		r = (flags & COLL_STORE_READONLY) ?
		    coll_schema_check(&p->base, ret_why) :
		    coll_schema_apply(&p->base, ret_why);
	if (r < 0) {
		if (*ret_why == NULL)
			*ret_why = errbuf;
		else if (*ret_why != errbuf) {
			set_err(*ret_why);
			*ret_why = errbuf;
		}
		p_free(&p->base);
		return r;
	}
	*ret = &p->base;
	return 0;
}
