/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * GET /v1/review/export: NDJSON for "mynaguard-review verify".  First the
 * certificates of the terminals whose records follow, then the records in
 * (agent id, seq) order, base64.  Streamed: each MHD callback takes the
 * store lock only for one batch of rows, so a large export neither holds
 * the whole answer in memory nor stops ingest while it is read.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "review.h"
#include "web.h"

#define BATCH 256
#define CERTS_MAX (16u << 20)
#define CHUNK_MAX (BATCH * 2u * MG_REC_MAX + 4096u)
/* An unset argument is NULL; the CASTs give it a type for PostgreSQL. */
#define FILTER                                                   \
	" (CAST(?1 AS TEXT) IS NULL OR agent_id = ?1)"           \
	" AND (CAST(?2 AS BIGINT) IS NULL OR received_ns >= ?2)" \
	" AND (CAST(?3 AS BIGINT) IS NULL OR received_ns < ?3)"

static const char certs_sql[] =
    "SELECT agent_id, der FROM certificates WHERE agent_id IN"
    " (SELECT DISTINCT agent_id FROM events WHERE" FILTER ")"
    " ORDER BY agent_id, first_seen, key_id";
static const char records_sql[] =
    "SELECT id, agent_id, seq, record FROM events WHERE" FILTER
    " AND (agent_id, seq) > (?4, ?5) ORDER BY agent_id, seq LIMIT 256";

struct export {
	struct coll_store *st;
	char terminal[RV_VALUE_MAX + 1];
	int64_t since, until;
	bool has_terminal, has_since, has_until;
	char cursor_agent[MG_REC_AGENT_ID_MAX + 1]; /* last record sent */
	int64_t cursor_seq;
	bool done;
	struct sbuf buf; /* lines not yet handed to MHD */
	size_t off;
};

static int
bind_filter(struct coll_stmt *s, const struct export *x)
{
	int rc = COLL_OK;

	if (x->has_terminal)
		rc = coll_stmt_bind_text(s, 1, x->terminal);
	if (rc == COLL_OK && x->has_since)
		rc = coll_stmt_bind_int64(s, 2, x->since);
	if (rc == COLL_OK && x->has_until)
		rc = coll_stmt_bind_int64(s, 3, x->until);
	return coll_store_errno(rc);
}

static int
cert_line(struct sbuf *out, struct coll_stmt *s)
{
	struct sbuf pem;
	struct jw w;
	int r;

	sbuf_init(&pem, 64u * 1024u);
	r = sbuf_puts(&pem, "-----BEGIN CERTIFICATE-----\n");
	if (r == 0)
		r = coll_review_base64(&pem, coll_stmt_blob(s, 1),
		    (size_t)coll_stmt_bytes(s, 1), 64);
	if (r == 0)
		r = sbuf_puts(&pem, "\n-----END CERTIFICATE-----\n");
	if (r == 0) {
		jw_init(&w, out);
		jw_object(&w);
		jw_key(&w, "kind");
		jw_str(&w, "certificate");
		jw_key(&w, "agent_id");
		jw_str(&w, (const char *)coll_stmt_text(s, 0));
		jw_key(&w, "pem");
		jw_string(&w, pem.data, pem.len);
		jw_object_end(&w);
		if ((r = jw_finish(&w)) == 0)
			r = sbuf_putc(out, '\n');
	}
	sbuf_clear(&pem);
	return r;
}

static int
certificates(struct export *x)
{
	struct coll_stmt *s = NULL;
	int r;

	coll_store_lock(x->st);
	r = coll_store_errno(coll_stmt_prepare(x->st, certs_sql, &s));
	if (r == 0)
		r = bind_filter(s, x);
	while (r == 0 && (r = coll_stmt_step(s)) == COLL_ROW)
		r = cert_line(&x->buf, s);
	coll_stmt_finalize(s);
	coll_store_unlock(x->st);
	if (r == COLL_DONE)
		return 0;
	return r > 0 ? coll_store_errno(r) : r;
}

static int
record_line(struct export *x, struct coll_stmt *s)
{
	struct sbuf b64;
	struct jw w;
	int r;

	sbuf_init(&b64, 2 * MG_REC_MAX);
	r = coll_review_base64(&b64, coll_stmt_blob(s, 3),
	    (size_t)coll_stmt_bytes(s, 3), 0);
	if (r == 0) {
		jw_init(&w, &x->buf);
		jw_object(&w);
		jw_key(&w, "kind");
		jw_str(&w, "record");
		jw_key(&w, "id");
		jw_i64(&w, coll_stmt_int64(s, 0));
		jw_key(&w, "agent_id");
		jw_str(&w, (const char *)coll_stmt_text(s, 1));
		jw_key(&w, "seq");
		jw_i64(&w, coll_stmt_int64(s, 2));
		jw_key(&w, "record");
		jw_string(&w, b64.data != NULL ? b64.data : "", b64.len);
		jw_object_end(&w);
		if ((r = jw_finish(&w)) == 0)
			r = sbuf_putc(&x->buf, '\n');
	}
	sbuf_clear(&b64);
	snprintf(x->cursor_agent, sizeof(x->cursor_agent), "%s",
	    (const char *)coll_stmt_text(s, 1));
	x->cursor_seq = coll_stmt_int64(s, 2);
	return r;
}

/* The next BATCH records into x->buf; sets done at the end. */
static int
next_batch(struct export *x)
{
	struct coll_stmt *s = NULL;
	int r, n = 0;

	coll_store_lock(x->st);
	r = coll_store_errno(coll_stmt_prepare(x->st, records_sql, &s));
	if (r == 0)
		r = bind_filter(s, x);
	if (r == 0)
		r = coll_store_errno(coll_stmt_bind_text(s, 4, x->cursor_agent));
	if (r == 0)
		r = coll_store_errno(coll_stmt_bind_int64(s, 5, x->cursor_seq));
	while (r == 0 && (r = coll_stmt_step(s)) == COLL_ROW) {
		r = record_line(x, s);
		n++;
	}
	coll_stmt_finalize(s);
	coll_store_unlock(x->st);
	if (r == COLL_DONE)
		r = 0;
	else if (r > 0)
		r = coll_store_errno(r);
	if (r == 0 && n < BATCH)
		x->done = true;
	return r;
}

static ssize_t
export_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct export *x = cls;
	size_t n;

	(void)pos;
	if (x->off == x->buf.len) {
		sbuf_clear(&x->buf);
		x->off = 0;
		if (x->done)
			return MHD_CONTENT_READER_END_OF_STREAM;
		/* A database error mid-stream can only cut the answer
		 * short: the verifier then sees a truncated export. */
		if (next_batch(x) < 0)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (x->buf.len == 0)
			return MHD_CONTENT_READER_END_OF_STREAM;
	}
	n = x->buf.len - x->off;
	if (n > max)
		n = max;
	memcpy(out, x->buf.data + x->off, n);
	x->off += n;
	return (ssize_t)n;
}

static void
export_free(void *cls)
{
	struct export *x = cls;

	sbuf_clear(&x->buf);
	free(x);
}

static struct export *
export_new(struct coll_server *srv, const struct rv_query *q)
{
	struct export *x = calloc(1, sizeof(*x));

	if (x == NULL)
		return NULL;
	x->st = srv->st;
	if ((x->has_terminal = q->s[RV_TERMINAL] != NULL))
		snprintf(x->terminal, sizeof(x->terminal), "%s",
		    q->s[RV_TERMINAL]);
	x->has_since = q->s[RV_SINCE] != NULL;
	x->since = q->since;
	x->has_until = q->s[RV_UNTIL] != NULL;
	x->until = q->until;
	x->cursor_seq = -1; /* before every (agent id, seq) with id "" */
	sbuf_init(&x->buf, CERTS_MAX > CHUNK_MAX ? CERTS_MAX : CHUNK_MAX);
	return x;
}

enum MHD_Result
coll_review_export(struct coll_server *srv, struct MHD_Connection *conn)
{
	const unsigned allowed =
	    RV_BIT(RV_TERMINAL) | RV_BIT(RV_SINCE) | RV_BIT(RV_UNTIL);
	struct MHD_Response *resp;
	struct export *x = NULL;
	struct rv_query q;
	struct rv_error e;
	enum MHD_Result ret;
	int r;

	if (coll_review_query(conn, allowed, &q, &e) < 0)
		return coll_review_fail(conn, e.status, e.msg);
	if ((x = export_new(srv, &q)) == NULL)
		return MHD_NO;
	/* Certificates first, before any record goes out: errors here
	 * still get a proper status. */
	if ((r = certificates(x)) < 0) {
		export_free(x);
		return coll_review_fail_errno(conn, r);
	}
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN,
	    64u * 1024u, export_read, x, export_free);
	if (resp == NULL) {
		export_free(x);
		return MHD_NO;
	}
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		"application/x-ndjson") != MHD_YES ||
	    coll_web_headers(resp, COLL_WEB_CSP_API) < 0)
		ret = MHD_NO;
	else
		ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}
