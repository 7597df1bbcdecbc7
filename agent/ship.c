/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Shipping to the collector with libcurl: mutual TLS with the town CA as
 * the only trust anchor, hostname verification, TLS 1.2 minimum with
 * CRYPTREC-listed AES-GCM suites; retries forever with exponential backoff
 * and full jitter, honouring 429/503 Retry-After; the spool is trimmed only
 * after the collector acknowledges a durable commit.  Given a list of
 * collector instances (one database behind them all), a retry after no
 * answer or a 5xx/429 goes to the next one; the backoff is the list's.
 */
#include <curl/curl.h>
#include <systemd/sd-daemon.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "ship.h"

#define BODY_MAX (4u << 20)
#define REPLY_MAX 65536u
#define TLS12_CIPHERS "ECDHE-ECDSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-RSA-AES256-GCM-SHA384"
#define TLS13_CIPHERS "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384"

struct shipper {
	struct ship_cfg cfg;
	struct agent_urls urls;		/* the collectors */
	char *events_url[AGENT_URLS_MAX];	/* <url>/v1/events of each */
	size_t cur;			/* the one in use (st.url) */
	struct ship_said said;
	struct spool *sp;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	bool kicked;
	int64_t drain_deadline_ns;
	struct ship_status st;
	CURL *curl;
	char curl_err[CURL_ERROR_SIZE];
	struct sbuf reply;
};

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

uint64_t
ship_backoff_ms(unsigned failures, uint32_t max_s, uint32_t retry_after_s,
    uint32_t rnd)
{
	uint64_t cap = 1000, d;

	while (failures-- > 1 && cap < (uint64_t)max_s * 1000)
		cap *= 2;
	if (cap > (uint64_t)max_s * 1000)
		cap = (uint64_t)max_s * 1000;
	d = cap == 0 ? 0 : (uint64_t)rnd % (cap + 1);	/* full jitter */
	if (d < (uint64_t)retry_after_s * 1000)
		d = (uint64_t)retry_after_s * 1000;
	return d;
}

size_t
ship_next_url(size_t index, size_t n, enum ship_result res)
{
	if (n == 0)
		return 0;
	if (res == SHIP_UNREACHABLE || res == SHIP_BUSY)
		return (index + 1) % n;
	return index < n ? index : 0;
}

/* FNV-1a, never 0. */
static uint32_t
msg_hash(const char *msg)
{
	uint32_t h = 2166136261u;

	for (; *msg != '\0'; msg++)
		h = (h ^ (unsigned char)*msg) * 16777619u;
	return h != 0 ? h : 1;
}

bool
ship_said_new(struct ship_said *s, size_t i, const char *msg)
{
	uint32_t h = msg_hash(msg);

	if (i >= AGENT_URLS_MAX || s->h[i] == h)
		return false;
	s->h[i] = h;
	return true;
}

bool
ship_said_reset(struct ship_said *s, size_t i)
{
	bool had = i < AGENT_URLS_MAX && s->h[i] != 0;

	memset(s, 0, sizeof(*s));
	return had;
}

static size_t
on_reply(char *p, size_t size, size_t n, void *arg)
{
	struct shipper *s = arg;

	/* A reply too long for us fails the transfer (curl: write error). */
	if (sbuf_put(&s->reply, p, size * n) < 0)
		return 0;
	return size * n;
}

/* Abort a transfer in flight once a stop's drain time is over. */
static int
on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
    curl_off_t un)
{
	struct shipper *s = arg;
	bool over;

	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	pthread_mutex_lock(&s->lock);
	over = s->stop && now_ns() >= s->drain_deadline_ns;
	pthread_mutex_unlock(&s->lock);
	return over;
}

int
ship_curl_tls(CURL *c, const struct ship_cfg *cfg)
{
	CURLcode e = CURLE_OK;

#define SET(opt, val) if (e == CURLE_OK) e = curl_easy_setopt(c, opt, val)
	SET(CURLOPT_PROTOCOLS_STR, "https");
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROXY, "");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SET(CURLOPT_SSL_CIPHER_LIST, TLS12_CIPHERS);
	SET(CURLOPT_TLS13_CIPHERS, TLS13_CIPHERS);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_CAINFO, cfg->ca);
	SET(CURLOPT_CAPATH, NULL);	/* the town CA only, no system store */
	SET(CURLOPT_SSLCERT, cfg->cert);
	SET(CURLOPT_SSLKEY, cfg->key);
	SET(CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	SET(CURLOPT_TIMEOUT_MS, 120000L);
#undef SET
	return e == CURLE_OK ? 0 : -EINVAL;
}

static int
setup_curl(struct shipper *s)
{
	CURL *c = curl_easy_init();
	CURLcode e = CURLE_OK;

	if (c == NULL)
		return -ENOMEM;
	if (ship_curl_tls(c, &s->cfg) < 0)
		e = CURLE_BAD_FUNCTION_ARGUMENT;
#define SET(opt, val) if (e == CURLE_OK) e = curl_easy_setopt(c, opt, val)
	SET(CURLOPT_URL, s->events_url[s->cur]);
	SET(CURLOPT_WRITEFUNCTION, on_reply);
	SET(CURLOPT_WRITEDATA, s);
	SET(CURLOPT_ERRORBUFFER, s->curl_err);
	SET(CURLOPT_NOPROGRESS, 0L);
	SET(CURLOPT_XFERINFOFUNCTION, on_progress);
	SET(CURLOPT_XFERINFODATA, s);
#undef SET
	if (e != CURLE_OK) {
		curl_easy_cleanup(c);
		return -EINVAL;
	}
	s->curl = c;
	return 0;
}

/* "acked_through_seq":N from the collector's JSON reply. */
static int
reply_acked(const struct sbuf *b, uint64_t *ret)
{
	static const char key[] = "\"acked_through_seq\":";
	const char *p;
	char num[21];
	size_t n;

	if (b->data == NULL || json_check(b->data, b->len, NULL) < 0 ||
	    (p = strstr(b->data, key)) == NULL)
		return -EPROTO;
	p += sizeof(key) - 1;
	n = strspn(p, "0123456789");
	if (n == 0 || n >= sizeof(num))
		return -EPROTO;
	memcpy(num, p, n);
	num[n] = '\0';
	return parse_u64(num, 0, UINT64_MAX, ret) < 0 ? -EPROTO : 0;
}

static void
set_error(struct shipper *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The trouble of this attempt, for the status; the run loop logs it. */
static void
set_error(struct shipper *s, const char *fmt, ...)
{
	char msg[sizeof(s->st.last_error)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&s->lock);
	memcpy(s->st.last_error, msg, sizeof(msg));
	pthread_mutex_unlock(&s->lock);
}

/* An answer other than 200 or 400. */
static int
http_trouble(struct shipper *s, long code, enum ship_result *res)
{
	set_error(s, "collector answered HTTP %ld%s", code,
	    code == 403 ? " (Forbidden: is this terminal's certificate "
	    "the one its events are signed with?)" : code == 429 ||
	    code == 503 ? " (busy)" : "");
	*res = code == 429 || (code >= 500 && code <= 599) ? SHIP_BUSY :
	    SHIP_REFUSED;
	return -EPROTO;
}

/* POST one batch; 0 with *acked (1: a record was refused), or -errno with
 * *res and *retry_after set. */
static int
post(struct shipper *s, const struct sbuf *body, uint64_t *acked,
    uint32_t *retry_after, enum ship_result *res)
{
	struct curl_slist *h = NULL, *h2;
	curl_off_t ra = 0;
	long code = 0;
	CURLcode e;
	int r;

	h2 = curl_slist_append(h, "Content-Type: "
	    "application/vnd.mynaguard.events.v1");
	if (h2 == NULL)
		return -ENOMEM;
	h = h2;
	s->reply.len = 0;
	s->curl_err[0] = '\0';
	curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, body->data);
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)body->len);
	e = curl_easy_perform(s->curl);
	curl_slist_free_all(h);
	if (e != CURLE_OK) {
		set_error(s, "%s (curl %ld)", s->curl_err[0] ? s->curl_err :
		    curl_easy_strerror(e), (long)e);
		*res = SHIP_UNREACHABLE;
		return e == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
	}
	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(s->curl, CURLINFO_RETRY_AFTER, &ra);
	*retry_after = ra > 0 && ra < 86400 ? (uint32_t)ra : 0;
	if (s->reply.data != NULL)
		s->reply.data[s->reply.len] = '\0';
	if (code == 200 || code == 400) {
		/* 400: a record the collector cannot read; it still says how
		 * far it got, and what came before is durable. */
		r = reply_acked(&s->reply, acked);
		if (r == 0 && code == 200)
			return 0;
		if (r == 0)
			set_error(s, "collector refused a record: %s (HTTP "
			    "%ld)", s->reply.data, code);
		else
			set_error(s, "collector answered HTTP %ld without "
			    "acked_through_seq", code);
		*res = SHIP_REFUSED;
		return r == 0 ? 1 : r;
	}
	return http_trouble(s, code, res);
}

static uint32_t
random_u32(void)
{
	uint32_t v = 0;

	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
		v = (uint32_t)now_ns();
	return v;
}

/* Wait up to ms for a kick (unless backing off: new events must not cut
 * a backoff short and hammer a struggling collector) or stop; true when
 * stopping. */
static bool
wait_ms(struct shipper *s, uint64_t ms, bool backoff)
{
	struct timespec ts;
	bool stop;
	int64_t until = now_ns() + (int64_t)ms * 1000000;

	ts.tv_sec = until / 1000000000;
	ts.tv_nsec = until % 1000000000;
	pthread_mutex_lock(&s->lock);
	while (!s->stop && (backoff || !s->kicked))
		if (pthread_cond_timedwait(&s->cond, &s->lock, &ts) != 0)
			break;
	s->kicked = false;
	stop = s->stop;
	pthread_mutex_unlock(&s->lock);
	return stop;
}

static bool
draining_over(struct shipper *s)
{
	bool over;

	pthread_mutex_lock(&s->lock);
	over = s->stop && now_ns() >= s->drain_deadline_ns;
	pthread_mutex_unlock(&s->lock);
	return over;
}

/* While stopping, no request may outlast the drain deadline: a collector
 * that accepts and then hangs must not hold up the agent's exit. */
static void
limit_to_drain(struct shipper *s)
{
	int64_t left = -1;

	pthread_mutex_lock(&s->lock);
	if (s->stop)
		left = (s->drain_deadline_ns - now_ns()) / 1000000;
	pthread_mutex_unlock(&s->lock);
	if (left < 0)
		return;
	if (left < 500)
		left = 500;
	curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, (long)left);
	curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)left);
}

/* Send one batch; 0 sent (or nothing to send: *idle), <0 failed with
 * *res saying how. */
static int
ship_once(struct shipper *s, struct sbuf *batch, bool *idle,
    uint32_t *retry_after, enum ship_result *res)
{
	struct spool_stats st;
	uint64_t last = 0, acked = 0;
	int r;

	spool_stats(s->sp, &st);
	batch->len = 0;
	r = spool_read(s->sp, st.acked_seq, BODY_MAX, s->cfg.batch_max, batch,
	    &last);
	*idle = r == 0 && last == 0;
	if (r < 0) {
		set_error(s, "cannot read the spool: %s", strerror(-r));
		*res = SHIP_LOCAL;
	}
	if (r < 0 || *idle)
		return r;
	limit_to_drain(s);
	r = post(s, batch, &acked, retry_after, res);
	if (r < 0)
		return r;
	if (acked > last)
		acked = last;	/* never beyond what we sent */
	if (acked > st.acked_seq && (r = spool_ack(s->sp, acked)) < 0) {
		set_error(s, "cannot record the acknowledgement: %s",
		    strerror(-r));
		*res = SHIP_LOCAL;
		return r;
	}
	/* Trouble said before is over (a refused record is trouble). */
	if (r == 0 && ship_said_reset(&s->said, s->cur))
		fprintf(stderr, SD_INFO "collector %s reachable again\n",
		    s->urls.u[s->cur]);
	else if (r == 0 && s->st.last_error[0] != '\0')
		fprintf(stderr, SD_INFO "collector %s reachable\n",
		    s->urls.u[s->cur]);
	pthread_mutex_lock(&s->lock);
	s->st.reachable = true;
	s->st.last_ok_ns = now_ns();
	s->st.acked_seq = acked;
	s->st.sent_records += acked > st.acked_seq ? acked - st.acked_seq : 0;
	if (r == 0)
		s->st.last_error[0] = '\0';
	pthread_mutex_unlock(&s->lock);
	/* 1: a record was refused; back off rather than resend at once. */
	return r == 1 ? -EBADMSG : 0;
}

/* An attempt failed (res): the next attempt after delay ms, at the next
 * collector if res says so; the trouble is logged once per change. */
static void
on_failure(struct shipper *s, enum ship_result res, uint64_t delay)
{
	char msg[sizeof(s->st.last_error)];
	size_t from = s->cur, to = ship_next_url(from, s->urls.n, res);

	pthread_mutex_lock(&s->lock);
	memcpy(msg, s->st.last_error, sizeof(msg));
	s->st.reachable = res != SHIP_UNREACHABLE;
	s->st.next_try_ns = now_ns() + (int64_t)delay * 1000000;
	if (to != from) {
		s->cur = to;
		snprintf(s->st.url, sizeof(s->st.url), "%s", s->urls.u[to]);
	}
	pthread_mutex_unlock(&s->lock);
	/* curl opens a new connection to it; the old one is left idle. */
	if (to != from)
		curl_easy_setopt(s->curl, CURLOPT_URL, s->events_url[to]);
	if (!ship_said_new(&s->said, from, msg))
		return;
	if (to != from)
		fprintf(stderr, SD_WARNING "collector %s %s (%s); trying %s\n",
		    s->urls.u[from], res == SHIP_UNREACHABLE ? "unreachable" :
		    "failing", msg, s->urls.u[to]);
	else
		fprintf(stderr, SD_WARNING "collector %s: %s; events stay in "
		    "the spool\n", s->urls.u[from], msg);
}

static void *
run(void *arg)
{
	struct shipper *s = arg;
	struct sbuf batch;
	unsigned failures = 0;
	uint32_t retry_after = 0;
	enum ship_result res;
	uint64_t delay;
	bool idle;
	int r;

	sbuf_init(&batch, BODY_MAX);
	for (;;) {
		retry_after = 0;
		res = SHIP_OK;
		r = ship_once(s, &batch, &idle, &retry_after, &res);
		if (r == 0 && !idle) {
			failures = 0;
			continue;	/* more may be waiting */
		}
		if (r < 0) {
			/* One backoff for the whole list: a move to the next
			 * collector waits as a retry of the same would (and
			 * at least Retry-After), and resets nothing. */
			failures++;
			delay = ship_backoff_ms(failures, s->cfg.backoff_max_s,
			    retry_after, random_u32());
			on_failure(s, res, delay);
		} else
			delay = 60000;	/* idle: wait for a kick */
		if (draining_over(s) || (s->stop && (idle || r < 0)))
			break;
		if (wait_ms(s, delay, r < 0) && idle)
			break;
	}
	sbuf_clear(&batch);
	return NULL;
}

/* <base>/v1/events for each collector of the list. */
static int
events_urls(struct shipper *s)
{
	char err[200];
	size_t i, n;
	int r = agent_config_urls(s->cfg.url, &s->urls, err, sizeof(err));

	if (r == -EINVAL)
		fprintf(stderr, SD_ERR "collector list: %s\n", err);
	for (i = 0; r == 0 && i < s->urls.n; i++) {
		n = strlen(s->urls.u[i]);
		s->events_url[i] = malloc(n + 12);
		if (s->events_url[i] == NULL)
			return -ENOMEM;
		snprintf(s->events_url[i], n + 12, "%s%sv1/events",
		    s->urls.u[i], n > 0 && s->urls.u[i][n - 1] == '/' ? "" :
		    "/");
	}
	if (r == 0)
		snprintf(s->st.url, sizeof(s->st.url), "%s", s->urls.u[0]);
	return r;
}

static void
free_shipper(struct shipper *s)
{
	size_t i;

	curl_easy_cleanup(s->curl);
	sbuf_clear(&s->reply);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	for (i = 0; i < AGENT_URLS_MAX; i++)
		free(s->events_url[i]);
	agent_config_urls_clear(&s->urls);
	free(s);
}

int
ship_start(const struct ship_cfg *cfg, struct spool *sp, struct shipper **ret)
{
	struct shipper *s = calloc(1, sizeof(*s));
	int r;

	if (s == NULL)
		return -ENOMEM;
	s->cfg = *cfg;
	s->sp = sp;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	sbuf_init(&s->reply, REPLY_MAX);
	if ((r = events_urls(s)) < 0 || (r = setup_curl(s)) < 0 ||
	    (r = -pthread_create(&s->thread, NULL, run, s)) < 0) {
		free_shipper(s);
		return r;
	}
	*ret = s;
	return 0;
}

void
ship_kick(struct shipper *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	s->kicked = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

void
ship_stop(struct shipper *s, int drain_ms)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	s->drain_deadline_ns = now_ns() + (int64_t)drain_ms * 1000000;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	free_shipper(s);
}

void
ship_get_status(struct shipper *s, struct ship_status *st)
{
	if (s == NULL) {
		memset(st, 0, sizeof(*st));
		snprintf(st->last_error, sizeof(st->last_error),
		    "no collector configured");
		return;
	}
	pthread_mutex_lock(&s->lock);
	*st = s->st;
	pthread_mutex_unlock(&s->lock);
}
