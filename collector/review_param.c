/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The review API's small parts: the query string (every argument checked,
 * unknown ones refused), RFC 3339 times, base64 and hex, statements built
 * from fixed fragments with bound arguments, and the answers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "review.h"
#include "web.h"

#define LIMIT_MAX 1000u
#define LIMIT_DEFAULT 100u

static const char *const key_names[RV_KEY_COUNT_] = { "terminal", "user",
	"action", "outcome", "since", "until", "serial", "q", "limit",
	"before", "after", "type" };

struct walk {
	unsigned allowed;
	unsigned seen;
	struct rv_query *q;
	struct rv_error *e;
	int r;
};

static int
fail(struct rv_error *e, const char *what, const char *key)
{
	e->status = MHD_HTTP_BAD_REQUEST;
	snprintf(e->msg, sizeof(e->msg), "%s '%.64s'", what, key);
	return -EBADMSG;
}

/* The value of key k, checked for its kind. */
static int
check_value(struct rv_query *q, enum rv_key k, const char *v)
{
	switch (k) {
	case RV_SINCE:
		return coll_review_time_parse(v, &q->since);
	case RV_UNTIL:
		return coll_review_time_parse(v, &q->until);
	case RV_LIMIT:
		return parse_u64(v, 1, LIMIT_MAX, &q->limit);
	case RV_BEFORE:
		return parse_u64(v, 1, INT64_MAX, &q->before);
	case RV_AFTER:
		return parse_u64(v, 1, INT64_MAX, &q->after);
	case RV_OUTCOME:
		return strcmp(v, "success") == 0 || strcmp(v, "failure") == 0 ?
		    0 :
		    -EBADMSG;
	default:
		return 0;
	}
}

static enum MHD_Result
on_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct walk *w = cls;
	size_t k, len = value != NULL ? strlen(value) : 0;

	(void)kind;
	for (k = 0; k < RV_KEY_COUNT_; k++)
		if (strcmp(key, key_names[k]) == 0)
			break;
	if (k == RV_KEY_COUNT_ || !(w->allowed & RV_BIT(k))) {
		w->r = fail(w->e, "unknown parameter", key);
		return MHD_NO;
	}
	if (w->seen & RV_BIT(k)) {
		w->r = fail(w->e, "twice the parameter", key_names[k]);
		return MHD_NO;
	}
	w->seen |= RV_BIT(k);
	if (len > RV_VALUE_MAX || utf8_validate(value, len, NULL) < 0) {
		w->r = fail(w->e, "bad value of the parameter", key_names[k]);
		return MHD_NO;
	}
	if (len == 0) /* "?terminal=&user=x": the same as leaving it out */
		return MHD_YES;
	if (check_value(w->q, (enum rv_key)k, value) < 0) {
		w->r = fail(w->e, "bad value of the parameter", key_names[k]);
		return MHD_NO;
	}
	w->q->s[k] = value;
	return MHD_YES;
}

int
coll_review_query(struct MHD_Connection *conn, unsigned allowed,
    struct rv_query *q, struct rv_error *e)
{
	struct walk w = { allowed, 0, q, e, 0 };

	memset(q, 0, sizeof(*q));
	q->limit = LIMIT_DEFAULT;
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, on_arg, &w);
	return w.r;
}

/* ---- RFC 3339 ------------------------------------------------------------ */

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's
 * days_from_civil). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* n digits at s as a number, or -1. */
static int
digits(const char *s, unsigned n)
{
	int v = 0;

	for (; n > 0; n--, s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

static unsigned
month_days(int y, int m)
{
	static const unsigned char days[] = { 31, 28, 31, 30, 31, 30, 31, 31,
		30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return days[m - 1] + (unsigned)(m == 2 && leap);
}

/* ".fraction" (1..9 digits) in ns; advances *s. */
static int
fraction(const char **s, int64_t *ret)
{
	int64_t ns = 0, scale = 100000000;
	unsigned n = 0;

	if (**s != '.')
		return 0;
	for ((*s)++; **s >= '0' && **s <= '9'; (*s)++, n++) {
		if (n == 9)
			return -EBADMSG;
		ns += (**s - '0') * scale;
		scale /= 10;
	}
	*ret = ns;
	return n > 0 ? 0 : -EBADMSG;
}

/* "Z" or "+hh:mm" / "-hh:mm" in seconds east of UTC. */
static int
zone(const char *s, int64_t *ret)
{
	int h, m;

	if (strcmp(s, "Z") == 0) {
		*ret = 0;
		return 0;
	}
	if ((s[0] != '+' && s[0] != '-') || strlen(s) != 6 || s[3] != ':' ||
	    (h = digits(s + 1, 2)) < 0 || (m = digits(s + 4, 2)) < 0 ||
	    h > 23 || m > 59)
		return -EBADMSG;
	*ret = (s[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
	return 0;
}

/* "YYYY-MM-DDTHH:MM:SS" into v[] (year .. second), checked. */
static int
date_time(const char *s, int v[6])
{
	static const unsigned char at[6] = { 0, 5, 8, 11, 14, 17 };
	static const unsigned char len[6] = { 4, 2, 2, 2, 2, 2 };
	static const int lo[6] = { 1970, 1, 1, 0, 0, 0 };
	static const int hi[6] = { 9999, 12, 31, 23, 59, 59 };
	size_t i;

	if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
	    s[13] != ':' || s[16] != ':')
		return -EBADMSG;
	for (i = 0; i < 6; i++) {
		v[i] = digits(s + at[i], len[i]);
		if (v[i] < lo[i] || v[i] > hi[i])
			return -EBADMSG;
	}
	return (unsigned)v[2] <= month_days(v[0], v[1]) ? 0 : -EBADMSG;
}

int
coll_review_time_parse(const char *s, int64_t *ret_ns)
{
	int v[6];
	int64_t ns = 0, off = 0, t;

	if (date_time(s, v) < 0)
		return -EBADMSG;
	s += 19;
	if (fraction(&s, &ns) < 0 || zone(s, &off) < 0)
		return -EBADMSG;
	t = days_from_civil(v[0], (unsigned)v[1], (unsigned)v[2]) * 86400 +
	    v[3] * 3600 + v[4] * 60 + v[5] - off;
	if (t < 0 || t > INT64_MAX / 1000000000 - 1)
		return -EBADMSG;
	*ret_ns = t * 1000000000 + ns;
	return 0;
}

void
coll_review_time_format(int64_t ns, char out[RV_TIME_LEN])
{
	int64_t sec = ns / 1000000000, frac = ns % 1000000000;
	time_t t;
	struct tm tm;

	if (frac < 0) {
		frac += 1000000000;
		sec--;
	}
	t = (time_t)sec;
	if (gmtime_r(&t, &tm) == NULL) {
		snprintf(out, RV_TIME_LEN, "1970-01-01T00:00:00.000000000Z");
		return;
	}
	snprintf(out, RV_TIME_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%09dZ",
	    (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100,
	    tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
	    tm.tm_sec % 100, (int)frac);
}

/* ---- encodings ------------------------------------------------------------ */

int
coll_review_base64(struct sbuf *b, const void *p, size_t n, size_t wrap)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const uint8_t *s = p;
	char q[4];
	size_t i, col = 0;
	uint32_t v;
	int r = 0;

	for (i = 0; i < n && r == 0; i += 3) {
		v = (uint32_t)s[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		q[0] = tab[v >> 18 & 63];
		q[1] = tab[v >> 12 & 63];
		q[2] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		q[3] = i + 2 < n ? tab[v & 63] : '=';
		if (wrap > 0 && col == wrap) {
			r = sbuf_putc(b, '\n');
			col = 0;
		}
		if (r == 0)
			r = sbuf_put(b, q, 4);
		col += 4;
	}
	return r;
}

void
coll_review_hex(const void *p, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *s = p;
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[s[i] >> 4];
		out[2 * i + 1] = hex[s[i] & 15];
	}
	out[2 * n] = '\0';
}

int64_t
coll_review_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- statements ------------------------------------------------------------ */

#define SQL_MAX 2048u

void
coll_review_stmt_init(struct rv_stmt *s, const char *head)
{
	memset(s, 0, sizeof(*s));
	sbuf_init(&s->sql, SQL_MAX);
	s->err = sbuf_puts(&s->sql, head);
}

static void
add(struct rv_stmt *s, const char *frag, char type, const char *t, int64_t i)
{
	if (s->err == 0 && s->n == RV_ARGS_MAX)
		s->err = -E2BIG;
	if (s->err == 0)
		s->err = sbuf_puts(&s->sql, frag);
	if (s->err < 0)
		return;
	s->arg[s->n].type = type;
	s->arg[s->n].t = t;
	s->arg[s->n].i = i;
	s->n++;
}

void
coll_review_stmt_text(struct rv_stmt *s, const char *frag, const char *t)
{
	add(s, frag, 't', t, 0);
}

void
coll_review_stmt_int(struct rv_stmt *s, const char *frag, int64_t i)
{
	add(s, frag, 'i', NULL, i);
}

void
coll_review_stmt_clear(struct rv_stmt *s)
{
	sbuf_clear(&s->sql);
}

int
coll_review_prepare(struct coll_store *db, const struct rv_stmt *s, const char *prefix,
    struct coll_stmt **ret)
{
	struct sbuf b;
	struct coll_stmt *st = NULL;
	size_t i;
	int rc = COLL_OK, r;

	if (s->err < 0)
		return s->err;
	sbuf_init(&b, SQL_MAX + 64);
	if ((r = sbuf_puts(&b, prefix)) < 0 ||
	    (r = sbuf_put(&b, s->sql.data, s->sql.len)) < 0) {
		sbuf_clear(&b);
		return r;
	}
	rc = coll_stmt_prepare(db, b.data, &st);
	sbuf_clear(&b);
	for (i = 0; i < s->n && rc == COLL_OK; i++)
		rc = s->arg[i].type == 't' ?
		    coll_stmt_bind_text(st, (int)i + 1, s->arg[i].t) :
		    coll_stmt_bind_int64(st, (int)i + 1, s->arg[i].i);
	if (rc != COLL_OK) {
		coll_stmt_finalize(st);
		return coll_store_errno(rc);
	}
	*ret = st;
	return 0;
}

/* ---- answers ------------------------------------------------------------- */

enum MHD_Result
coll_review_send(struct MHD_Connection *conn, unsigned status,
    const char *type, struct sbuf *b)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char *data = NULL;
	size_t len = 0;

	if (sbuf_steal(b, &data, &len) < 0)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(data);
		return MHD_NO;
	}
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type) !=
		MHD_YES ||
	    coll_web_headers(resp, COLL_WEB_CSP_API) < 0)
		ret = MHD_NO;
	else
		ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result
coll_review_fail(struct MHD_Connection *conn, unsigned status, const char *msg)
{
	struct sbuf b;
	struct jw w;

	sbuf_init(&b, 1024);
	jw_init(&w, &b);
	jw_object(&w);
	jw_key(&w, "error");
	jw_str(&w, msg);
	jw_object_end(&w);
	if (jw_finish(&w) < 0) {
		sbuf_clear(&b);
		return MHD_NO;
	}
	return coll_review_send(
	    conn, status, "application/json; charset=utf-8", &b);
}

enum MHD_Result
coll_review_fail_errno(struct MHD_Connection *conn, int r)
{
	unsigned status = coll_http_status(r);

	if (r == -E2BIG)
		return coll_review_fail(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "answer too large");
	return coll_review_fail(conn, status,
	    status == MHD_HTTP_SERVICE_UNAVAILABLE ?
		"database busy, retry later" :
		"internal error");
}
