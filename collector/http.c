/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The HTTPS front: libmicrohttpd 0.9.75 with GnuTLS, a thread pool, and the
 * checks libmicrohttpd leaves to the application (docs/events.md 5.1):
 * the client certificate on every request, header count and size, body
 * size, and our own body parsing (never MHD_PostProcessor).
 *
 *   GET  /v1/health   any client certificate of the town CA
 *   POST /v1/events   terminal certificates only; body = records
 *   GET  /v1/review/  reviewer certificates only (review.c)
 *   GET  /review/     reviewer certificates only: the web page (web.c)
 *   GET  /v1/policy/bundle  terminal certificates only (policy_api.c)
 *
 * The daemon itself is started and stopped in server.c.
 */
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "web.h"

#define MEDIA_TYPE "application/vnd.mynaguard.events.v1"
#define HEADERS_MAX 64u
#define HEADER_LINE_MAX 8192u
#define ANSWER_MAX 512u
#define REVIEW_PREFIX "/v1/review/"
#define WEB_PREFIX "/review/"
#define POLICY_URL "/v1/policy/bundle"

/* Per POST /v1/events. */
struct req {
	struct sbuf body;
	struct mg_verifier *v;
	uint8_t *der; /* the client certificate, kept for the export */
	size_t der_len;
	char peer[COLL_PEER_MAX];
};

/* *con_cls of a request answered from its headers alone. */
static struct req answered;

void
coll_http_peer(void *connection, char *out, size_t len)
{
	struct MHD_Connection *conn = connection;
	const union MHD_ConnectionInfo *ci;
	char host[NI_MAXHOST], serv[NI_MAXSERV];
	socklen_t salen;

	snprintf(out, len, "unknown");
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL)
		return;
	salen = ci->client_addr->sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
	if (getnameinfo(ci->client_addr, salen, host, sizeof(host), serv,
		sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return;
	snprintf(out, len,
	    ci->client_addr->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host,
	    serv);
}

static enum MHD_Result
send_answer(
    struct MHD_Connection *conn, unsigned status, char *json, const char *allow)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(
	    strlen(json), json, MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		"application/json") != MHD_YES ||
	    (allow != NULL &&
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow) !=
		    MHD_YES) ||
	    (status == MHD_HTTP_SERVICE_UNAVAILABLE &&
		MHD_add_response_header(
		    resp, MHD_HTTP_HEADER_RETRY_AFTER, "5") != MHD_YES))
		ret = MHD_NO;
	else
		ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* {"error":"..."} (or {"status":"ok"}) straight from the headers. */
static enum MHD_Result
answer_now(struct MHD_Connection *conn, void **con_cls, unsigned status,
    const char *key, const char *text, const char *allow)
{
	char json[ANSWER_MAX];

	*con_cls = &answered;
	snprintf(json, sizeof(json), "{\"%s\":\"%s\"}", key, text);
	return send_answer(conn, status, json, allow);
}

static enum MHD_Result
count_header(
    void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	size_t *n = cls;

	(void)kind;
	n[0]++;
	if (strlen(key) + (value != NULL ? strlen(value) : 0) + 2 >
	    HEADER_LINE_MAX)
		n[1]++;
	return MHD_YES;
}

static bool
headers_ok(struct MHD_Connection *conn, const char *url)
{
	size_t n[2] = { 0, 0 }; /* headers, over-long lines */

	MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header, n);
	return n[0] <= HEADERS_MAX && n[1] == 0 &&
	    strlen(url) <= HEADER_LINE_MAX;
}

/* Content-Type: our media type, parameters allowed. */
static bool
media_type_ok(struct MHD_Connection *conn)
{
	const char *ct = MHD_lookup_connection_value(
	    conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	size_t n = strlen(MEDIA_TYPE);

	if (ct == NULL || strncasecmp(ct, MEDIA_TYPE, n) != 0)
		return false;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/* A declared body over MaxBody is refused before it is read. */
static bool
length_ok(struct coll_server *srv, struct MHD_Connection *conn)
{
	const char *cl = MHD_lookup_connection_value(
	    conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	uint64_t len = 0;

	return cl == NULL || parse_u64(cl, 0, srv->max_body, &len) == 0;
}

static enum MHD_Result
begin_events(struct coll_server *srv, struct MHD_Connection *conn,
    const struct coll_peer *p, const char *peer, void **con_cls)
{
	struct req *q = NULL;
	int r;

	if (p->role != COLL_ROLE_TERMINAL) {
		coll_log(LOG_NOTICE,
		    "refused: %s certificate may not submit "
		    "events (CN %s, peer %s)",
		    p->role == COLL_ROLE_REVIEWER ? "reviewer" : "non-terminal",
		    p->cn, peer);
		return answer_now(conn, con_cls, MHD_HTTP_FORBIDDEN, "error",
		    "only terminal certificates may submit events", NULL);
	}
	if (!media_type_ok(conn))
		return answer_now(conn, con_cls,
		    MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "error",
		    "Content-Type must be " MEDIA_TYPE, NULL);
	if (!length_ok(srv, conn)) {
		coll_log(LOG_NOTICE,
		    "refused: body over MaxBody=%zu bytes "
		    "(CN %s, peer %s)",
		    srv->max_body, p->cn, peer);
		return answer_now(conn, con_cls, MHD_HTTP_CONTENT_TOO_LARGE,
		    "error", "body too large", NULL);
	}
	if (atomic_load(&srv->inflight) >= srv->max_pending) {
		/* Backpressure: the terminal keeps its spool and retries
		 * after Retry-After; nothing queues without bound here. */
		coll_log(LOG_DEBUG, "busy: %u requests in progress (CN %s)",
		    atomic_load(&srv->inflight), p->cn);
		return answer_now(conn, con_cls, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "error", "collector busy, retry later", NULL);
	}
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return MHD_NO;
	r = mg_verifier_from_der(p->der, p->der_len, &q->v);
	if (r < 0) {
		free(q);
		coll_log_errno(LOG_NOTICE, r,
		    "refused: client certificate "
		    "unusable for events (CN %s, peer %s)",
		    p->cn, peer);
		return answer_now(conn, con_cls, MHD_HTTP_FORBIDDEN, "error",
		    "client certificate unusable for events", NULL);
	}
	if ((q->der = malloc(p->der_len)) == NULL) {
		mg_verifier_free(q->v);
		free(q);
		return MHD_NO;
	}
	memcpy(q->der, p->der, p->der_len);
	q->der_len = p->der_len;
	sbuf_init(&q->body, srv->max_body);
	snprintf(q->peer, sizeof(q->peer), "%s", peer);
	atomic_fetch_add(&srv->inflight, 1);
	*con_cls = q;
	return MHD_YES;
}

/* The review API (docs/review-api.md) and its web page: reviewer
 * certificates only. */
static enum MHD_Result
begin_review(struct coll_server *srv, struct MHD_Connection *conn,
    const char *url, const char *method, const struct coll_peer *p,
    const char *peer, void **con_cls)
{
	if (p->role != COLL_ROLE_REVIEWER) {
		coll_log(LOG_NOTICE,
		    "refused: %s certificate may not use the review API "
		    "(CN %s, peer %s)",
		    p->role == COLL_ROLE_TERMINAL ? "terminal" : "non-reviewer",
		    p->cn, peer);
		return answer_now(conn, con_cls, MHD_HTTP_FORBIDDEN, "error",
		    "only reviewer certificates may use the review API", NULL);
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return answer_now(conn, con_cls, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "error", "method not allowed", "GET, HEAD");
	*con_cls = &answered;
	if (strncmp(url, REVIEW_PREFIX, strlen(REVIEW_PREFIX)) != 0)
		return coll_web_request(conn, url);
	if (strcmp(url, REVIEW_PREFIX "checkpoint") == 0)
		return coll_review_checkpoint(srv, conn);
	return coll_review_request(srv, conn, url);
}

static enum MHD_Result
on_headers(struct coll_server *srv, struct MHD_Connection *conn,
    const char *url, const char *method, void **con_cls)
{
	const union MHD_ConnectionInfo *ci;
	struct coll_peer p;
	char peer[COLL_PEER_MAX], why[256];

	coll_http_peer(conn, peer, sizeof(peer));
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (coll_tls_peer(ci != NULL ? ci->tls_session : NULL, &p, why,
		sizeof(why)) < 0) {
		coll_log(LOG_NOTICE, "refused: %s (peer %s)", why, peer);
		return answer_now(conn, con_cls, MHD_HTTP_FORBIDDEN, "error",
		    "client certificate refused", NULL);
	}
	if (!headers_ok(conn, url)) {
		coll_log(LOG_NOTICE,
		    "refused: more than %u headers or a line "
		    "over %u bytes (CN %s, peer %s)",
		    HEADERS_MAX, HEADER_LINE_MAX, p.cn, peer);
		return answer_now(conn, con_cls,
		    MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE, "error",
		    "too many or too large headers", NULL);
	}
	if (strcmp(url, "/v1/health") == 0) {
		if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
		    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
			return answer_now(conn, con_cls,
			    MHD_HTTP_METHOD_NOT_ALLOWED, "error",
			    "method not allowed", "GET, HEAD");
		return answer_now(
		    conn, con_cls, MHD_HTTP_OK, "status", "ok", NULL);
	}
	if (strncmp(url, REVIEW_PREFIX, strlen(REVIEW_PREFIX)) == 0 ||
	    strncmp(url, WEB_PREFIX, strlen(WEB_PREFIX)) == 0 ||
	    strcmp(url, "/review") == 0)
		return begin_review(srv, conn, url, method, &p, peer, con_cls);
	if (strcmp(url, POLICY_URL) == 0) {
		if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
		    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
			return answer_now(conn, con_cls,
			    MHD_HTTP_METHOD_NOT_ALLOWED, "error",
			    "method not allowed", "GET, HEAD");
		*con_cls = &answered;
		return coll_policy_request(srv, conn, &p, peer);
	}
	if (strcmp(url, "/v1/events") == 0) {
		if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
			return answer_now(conn, con_cls,
			    MHD_HTTP_METHOD_NOT_ALLOWED, "error",
			    "method not allowed", "POST");
		return begin_events(srv, conn, &p, peer, con_cls);
	}
	return answer_now(
	    conn, con_cls, MHD_HTTP_NOT_FOUND, "error", "not found", NULL);
}

unsigned
coll_http_status(int r)
{
	switch (r) {
	case -EBUSY:
	case -ENOSPC:
	case -EIO:
	case -ENOMEM:
	case -EAGAIN:
	case -EEXIST: /* a constraint another transaction won: retry */
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	case -EBADMSG:
		return MHD_HTTP_BAD_REQUEST;
	case -EACCES:
		return MHD_HTTP_FORBIDDEN;
	case -E2BIG:
		return MHD_HTTP_CONTENT_TOO_LARGE;
	default:
		return MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
}

static int
result_json(const struct coll_result *res, struct sbuf *b)
{
	struct jw w;

	jw_init(&w, b);
	jw_object(&w);
	if (res->error != NULL) {
		jw_key(&w, "error");
		jw_str(&w, res->error);
		jw_key(&w, "offset");
		jw_u64(&w, res->offset);
	}
	if (res->status == MHD_HTTP_OK || res->status == MHD_HTTP_BAD_REQUEST) {
		jw_key(&w, "acked_through_seq");
		jw_u64(&w, res->acked);
	}
	if (res->status == MHD_HTTP_OK) {
		jw_key(&w, "accepted");
		jw_u64(&w, res->accepted);
		jw_key(&w, "duplicates");
		jw_u64(&w, res->duplicates);
		jw_key(&w, "quarantined");
		jw_u64(&w, res->quarantined);
		jw_key(&w, "alerts");
		jw_u64(&w, res->alerts);
	}
	jw_object_end(&w);
	return jw_finish(&w);
}

static enum MHD_Result
finish_events(
    struct coll_server *srv, struct MHD_Connection *conn, struct req *q)
{
	struct coll_result res;
	struct timespec ts;
	struct sbuf b;
	enum MHD_Result ret;
	int r;

	clock_gettime(CLOCK_REALTIME, &ts);
	r = coll_ingest_cert(srv->st, q->v, q->der, q->der_len,
	    (const uint8_t *)q->body.data,
	    q->body.len, (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec, &res);
	sbuf_clear(&q->body);
	if (r < 0) {
		memset(&res, 0, sizeof(res));
		res.status = coll_http_status(r);
		res.error = res.status == MHD_HTTP_SERVICE_UNAVAILABLE ?
		    "database busy, retry later" :
		    "internal error";
		coll_log_errno(LOG_ERR, r,
		    "events of %s (peer %s) not stored: "
		    "%s",
		    mg_verifier_agent_id(q->v), q->peer,
		    coll_store_errmsg(srv->st));
	}
	sbuf_init(&b, ANSWER_MAX);
	if (result_json(&res, &b) < 0) {
		sbuf_clear(&b);
		return MHD_NO;
	}
	ret = send_answer(conn, res.status, b.data, NULL);
	sbuf_clear(&b);
	return ret;
}

enum MHD_Result
coll_http_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *data,
    size_t *data_size, void **con_cls)
{
	struct coll_server *srv = cls;
	struct req *q = *con_cls;
	int r;

	(void)version;
	if (q == NULL)
		return on_headers(srv, conn, url, method, con_cls);
	if (q == &answered) {
		*data_size = 0; /* discard what follows the headers */
		return MHD_YES;
	}
	if (*data_size == 0)
		return finish_events(srv, conn, q);
	r = sbuf_put(&q->body, data, *data_size);
	*data_size = 0;
	if (r == -E2BIG)
		coll_log(LOG_NOTICE,
		    "refused: body over MaxBody=%zu bytes "
		    "(CN %s, peer %s)",
		    srv->max_body, mg_verifier_agent_id(q->v), q->peer);
	/* No answer can be queued mid-body in 0.9.75: close instead. */
	return r < 0 ? MHD_NO : MHD_YES;
}

void
coll_http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct coll_server *srv = cls;
	struct req *q = *con_cls;

	(void)conn;
	(void)toe;
	*con_cls = NULL;
	if (q == NULL || q == &answered)
		return;
	sbuf_clear(&q->body);
	mg_verifier_free(q->v);
	free(q->der);
	free(q);
	atomic_fetch_sub(&srv->inflight, 1);
}
