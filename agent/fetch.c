/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The policy fetcher thread: GET /v1/policy/bundle over the collector's
 * mutual-TLS channel, off the main loop (which decides devices and must
 * never wait on the network).  It hands the bytes over and nothing else.
 * Given several collector instances, it moves on as the shipper does
 * (ship_next_url()), with its own place in the list.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "fetch.h"
#include "mynaguard/bundle.h"
#include "mynaguard/common.h"

#define FIRST_DELAY_MS 2000	/* soon after start, once TLS files settle */

struct fetcher {
	struct agent_urls urls;		/* the collectors */
	size_t cur;			/* the one asked next */
	unsigned moved;			/* moves on since the last answer */
	struct ship_said said;
	char *ca, *cert, *key, *group;
	uint32_t interval_s;
	int efd;			/* eventfd: a slot is full */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop, kicked;
	uint64_t have;
	bool slot_full;			/* slot/slot_len (NULL: too large) */
	char *slot;
	size_t slot_len;
	struct fetch_status st;
	bool down;			/* the last attempt failed */
	CURL *curl;
	char curl_err[CURL_ERROR_SIZE];
	struct sbuf body;
	bool too_big;
	uint32_t retry_after_s;		/* of the last answer */
};

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct fetcher *f = arg;

	if (sbuf_put(&f->body, p, size * n) < 0) {
		f->too_big = true;
		return 0;	/* curl: write error, the transfer stops */
	}
	return size * n;
}

static int
on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
    curl_off_t un)
{
	struct fetcher *f = arg;
	bool stop;

	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	pthread_mutex_lock(&f->lock);
	stop = f->stop;
	pthread_mutex_unlock(&f->lock);
	return stop;
}

static int
setup_curl(struct fetcher *f)
{
	struct ship_cfg tls = { .url = f->urls.u[0], .ca = f->ca,
	    .cert = f->cert, .key = f->key };
	CURL *c = curl_easy_init();
	CURLcode e = CURLE_OK;

	if (c == NULL)
		return -ENOMEM;
	if (ship_curl_tls(c, &tls) < 0)
		e = CURLE_BAD_FUNCTION_ARGUMENT;
#define SET(opt, val) if (e == CURLE_OK) e = curl_easy_setopt(c, opt, val)
	SET(CURLOPT_HTTPGET, 1L);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, f);
	SET(CURLOPT_ERRORBUFFER, f->curl_err);
	SET(CURLOPT_NOPROGRESS, 0L);
	SET(CURLOPT_XFERINFOFUNCTION, on_progress);
	SET(CURLOPT_XFERINFODATA, f);
#undef SET
	if (e != CURLE_OK) {
		curl_easy_cleanup(c);
		return -EINVAL;
	}
	f->curl = c;
	return 0;
}

/* Whether a failure is logged: with one collector, once per outage (the
 * state survives a restart of the fetcher, fetch_cfg.down); with several,
 * once per change of trouble at each since the last success. */
static bool
say_failure(struct fetcher *f, bool was_down, const char *msg)
{
	bool news = ship_said_new(&f->said, f->cur, msg);

	return f->urls.n > 1 ? news : !was_down;
}

/* Record the result of asking f->cur; log when it turns bad or good
 * again, not per try; choose the collector to ask next. */
static void
set_result(struct fetcher *f, enum ship_result res, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_result(struct fetcher *f, enum ship_result res, const char *fmt, ...)
{
	char msg[sizeof(f->st.last)];
	bool was_down, say, failed = res != SHIP_OK;
	size_t from = f->cur, to = ship_next_url(from, f->urls.n, res);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&f->lock);
	was_down = f->down;
	f->down = failed;
	pthread_mutex_unlock(&f->lock);
	say = failed && say_failure(f, was_down, msg);
	if (say && to != from)
		fprintf(stderr, SD_WARNING "policy fetch from %s: %s; trying "
		    "%s next; the policy in force stays\n", f->urls.u[from],
		    msg, f->urls.u[to]);
	else if (say)
		fprintf(stderr, SD_WARNING "policy fetch from %s: %s; the "
		    "policy in force stays\n", f->urls.u[from], msg);
	else if (!failed && was_down)
		fprintf(stderr, SD_INFO "policy fetch from %s works again: "
		    "%s\n", f->urls.u[from], msg);
	if (!failed)
		(void)ship_said_reset(&f->said, from);
	f->moved = to != from ? f->moved + 1 : 0;
	f->cur = to;
	pthread_mutex_lock(&f->lock);
	f->st.last_ns = now_ns();
	memcpy(f->st.last, msg, sizeof(msg));
	pthread_mutex_unlock(&f->lock);
}

/* Hand the body (NULL: too large) to the main loop. */
static void
hand_over(struct fetcher *f, char *buf, size_t len)
{
	uint64_t one = 1;

	pthread_mutex_lock(&f->lock);
	free(f->slot);
	f->slot = buf;
	f->slot_len = len;
	f->slot_full = true;
	pthread_mutex_unlock(&f->lock);
	if (write(f->efd, &one, sizeof(one)) < 0)
		fprintf(stderr, SD_ERR "policy fetch: eventfd: %s\n",
		    strerror(errno));
}

static void
answer(struct fetcher *f, long code, uint64_t have)
{
	char *buf = NULL;
	size_t len = 0;

	if (code == 304) {
		set_result(f, SHIP_OK, "up to date (version %" PRIu64 ")",
		    have);
	} else if (code == 404) {
		set_result(f, SHIP_REFUSED, "nothing published for group %s",
		    f->group);
	} else if (code != 200) {
		set_result(f, code == 429 || (code >= 500 && code <= 599) ?
		    SHIP_BUSY : SHIP_REFUSED, "collector answered HTTP %ld",
		    code);
	} else if (sbuf_steal(&f->body, &buf, &len) < 0) {
		set_result(f, SHIP_LOCAL, "out of memory");
	} else {
		set_result(f, SHIP_OK, "received a bundle of %zu bytes", len);
		hand_over(f, buf, len);
	}
}

static void
fetch_once(struct fetcher *f)
{
	const char *base = f->urls.u[f->cur];
	char url[AGENT_URL_MAX + 128];
	curl_off_t ra = 0;
	uint64_t have;
	long code = 0;
	CURLcode e;
	size_t n = strlen(base);

	pthread_mutex_lock(&f->lock);
	have = f->have;
	pthread_mutex_unlock(&f->lock);
	snprintf(url, sizeof(url), "%s%sv1/policy/bundle?group=%s&have=%"
	    PRIu64, base, n > 0 && base[n - 1] == '/' ? "" : "/",
	    f->group, have);
	f->body.len = 0;
	f->too_big = false;
	f->retry_after_s = 0;
	f->curl_err[0] = '\0';
	curl_easy_setopt(f->curl, CURLOPT_URL, url);
	e = curl_easy_perform(f->curl);
	if (f->too_big) {
		set_result(f, SHIP_REFUSED, "refused an answer over %u bytes",
		    MG_BUNDLE_MAX);
		hand_over(f, NULL, 0);
		return;
	}
	if (e != CURLE_OK) {
		set_result(f, SHIP_UNREACHABLE, "unreachable: %s (curl %ld)",
		    f->curl_err[0] ? f->curl_err : curl_easy_strerror(e),
		    (long)e);
		return;
	}
	curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, &code);
	if (curl_easy_getinfo(f->curl, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK &&
	    ra > 0 && ra < 86400)
		f->retry_after_s = (uint32_t)ra;
	answer(f, code, have);
}

/* Until deadline (CLOCK_REALTIME ns), a kick or stop; true: stop. */
static bool
wait_until(struct fetcher *f, int64_t deadline)
{
	struct timespec ts = { .tv_sec = deadline / 1000000000,
	    .tv_nsec = deadline % 1000000000 };
	bool stop;

	pthread_mutex_lock(&f->lock);
	while (!f->stop && !f->kicked)
		if (pthread_cond_timedwait(&f->cond, &f->lock, &ts) != 0)
			break;
	f->kicked = false;
	stop = f->stop;
	pthread_mutex_unlock(&f->lock);
	return stop;
}

static void *
run(void *arg)
{
	struct fetcher *f = arg;
	int64_t next = now_ns() + (int64_t)FIRST_DELAY_MS * 1000000, wait_ms;

	while (!wait_until(f, next)) {
		fetch_once(f);
		/* Moved on to the next collector: ask it soon, once round
		 * the list per interval; never sooner than a busy one's
		 * Retry-After, as the shipper. */
		if (f->moved % f->urls.n != 0)
			wait_ms = FIRST_DELAY_MS;
		else
			wait_ms = (int64_t)f->interval_s * 1000;
		if (wait_ms < (int64_t)f->retry_after_s * 1000)
			wait_ms = (int64_t)f->retry_after_s * 1000;
		next = now_ns() + wait_ms * 1000000;
	}
	return NULL;
}

static void
free_fetcher(struct fetcher *f)
{
	curl_easy_cleanup(f->curl);
	sbuf_clear(&f->body);
	if (f->efd >= 0)
		close(f->efd);
	free(f->slot);
	agent_config_urls_clear(&f->urls);
	free(f->ca);
	free(f->cert);
	free(f->key);
	free(f->group);
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

int
fetch_start(const struct fetch_cfg *cfg, uint64_t have, struct fetcher **ret)
{
	struct fetcher *f = calloc(1, sizeof(*f));
	char err[200];
	int r;

	if (f == NULL)
		return -ENOMEM;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	sbuf_init(&f->body, MG_BUNDLE_MAX);
	f->have = have;
	f->interval_s = cfg->interval_s;
	f->down = cfg->down;
	f->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	f->ca = strdup(cfg->tls.ca);
	f->cert = strdup(cfg->tls.cert);
	f->key = strdup(cfg->tls.key);
	f->group = strdup(cfg->group);
	snprintf(f->st.last, sizeof(f->st.last), "not yet");
	r = f->efd < 0 ? -errno : 0;
	if (r == 0 && (f->ca == NULL || f->cert == NULL || f->key == NULL ||
	    f->group == NULL))
		r = -ENOMEM;
	if (r == 0 && (r = agent_config_urls(cfg->tls.url, &f->urls, err,
	    sizeof(err))) == -EINVAL)
		fprintf(stderr, SD_ERR "policy fetch: collector list: %s\n",
		    err);
	if (r == 0)
		r = setup_curl(f);
	if (r == 0)
		r = -pthread_create(&f->thread, NULL, run, f);
	if (r < 0) {
		free_fetcher(f);
		return r;
	}
	*ret = f;
	return 0;
}

int
fetch_fd(const struct fetcher *f)
{
	return f != NULL ? f->efd : -1;
}

int
fetch_take(struct fetcher *f, char **ret_buf, size_t *ret_len)
{
	uint64_t n;
	bool full;

	if (f == NULL)
		return 0;
	while (read(f->efd, &n, sizeof(n)) > 0)
		;
	pthread_mutex_lock(&f->lock);
	full = f->slot_full;
	if (full) {
		*ret_buf = f->slot;
		*ret_len = f->slot_len;
		f->slot = NULL;
		f->slot_full = false;
	}
	pthread_mutex_unlock(&f->lock);
	return full ? 1 : 0;
}

void
fetch_set_have(struct fetcher *f, uint64_t v)
{
	if (f == NULL)
		return;
	pthread_mutex_lock(&f->lock);
	f->have = v;
	pthread_mutex_unlock(&f->lock);
}

void
fetch_kick(struct fetcher *f)
{
	if (f == NULL)
		return;
	pthread_mutex_lock(&f->lock);
	f->kicked = true;
	pthread_cond_signal(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

void
fetch_get_status(struct fetcher *f, struct fetch_status *st)
{
	if (f == NULL) {
		memset(st, 0, sizeof(*st));
		return;
	}
	pthread_mutex_lock(&f->lock);
	*st = f->st;
	pthread_mutex_unlock(&f->lock);
}

bool
fetch_down(struct fetcher *f)
{
	bool down;

	if (f == NULL)
		return false;
	pthread_mutex_lock(&f->lock);
	down = f->down;
	pthread_mutex_unlock(&f->lock);
	return down;
}

void
fetch_stop(struct fetcher *f)
{
	if (f == NULL)
		return;
	pthread_mutex_lock(&f->lock);
	f->stop = true;
	pthread_cond_signal(&f->cond);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	free_fetcher(f);
}
