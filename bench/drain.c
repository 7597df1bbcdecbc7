/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mg_drain: a fleet of terminals draining their spools into one or more
 * collectors, for the scale tests and the benchmarks (issue 9).
 *
 *   mg_drain --url URL [--url URL2 ...] --ca CA.pem [--batch N]
 *            [--connections C] [--acked FILE]
 *            [--kill-after-events N --kill-pid PID] [--quiet] TERMINAL_DIR...
 *
 * Each TERMINAL_DIR holds key.pem, cert.pem and records.bin: the terminal's
 * records back to back, as mkrecord writes them, seq increasing.  C worker
 * threads (default 8) take terminals from a shared queue.  A worker sends
 * one terminal's records in order, N per POST (default 1000), over one
 * kept-alive connection with that terminal's certificate and the agent's
 * own TLS settings (ship_curl_tls()), and goes on as agent/ship.c does:
 * after the collector's acked_through_seq, never beyond what it sent.
 *
 * A connection error, a 5xx, a 503 or a 429 is retried after a backoff
 * (50 ms doubling to 2 s, or Retry-After when longer, capped at 10 s) on
 * the NEXT URL of the list, round robin; a terminal is given up after
 * 120 s without progress.  Any other answer than 200 gives it up at once:
 * the records or the certificate are wrong, and resending cannot help.
 *
 * URL is a collector's base URL (https://host:port/) or its events URL.
 * Terminal i starts on URL i mod the number of URLs, so every collector
 * gets work.  A directory listed twice is sent twice, concurrently.
 *
 * --kill-after-events N --kill-pid PID: SIGKILL to PID once N events in
 * all are acknowledged (the "collector dies during ingest" tests).
 * --acked FILE: "AGENT_ID ACKED_SEQ RECORDS_SENT" per terminal, in the
 * order given; RECORDS_SENT counts the records put on the wire at least
 * once.  stdout: one summary line; stderr: problems and the kill.
 * Exit status: 0 when every terminal was acknowledged through its last
 * record (and the kill, if asked for, happened), 1 otherwise, 2 for a usage
 * or setup error.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mynaguard/event.h"
#include "ship.h"

#define URLS_MAX 16u
#define BATCH_DEFAULT 1000u
#define BATCH_MAX 10000u /* the collector takes no more per request */
#define CONNECTIONS_DEFAULT 8u
#define CONNECTIONS_MAX 1024u
#define BACKOFF_FIRST_MS 50u
#define BACKOFF_MAX_MS 2000u
#define RETRY_AFTER_CAP_S 10u
#define NS_PER_S INT64_C(1000000000)
#define GIVE_UP_NS (120 * NS_PER_S)
#define RECORDS_FILE_MAX (1u << 30)
#define REPLY_MAX 65536u
#define WHY_MAX 256u
#define PATH_LEN 1024u
#define MEDIA_TYPE "Content-Type: application/vnd.mynaguard.events.v1"

static char *arg_urls[URLS_MAX]; /* events URLs */
static unsigned arg_nurls;
static const char *arg_ca;
static uint32_t arg_batch = BATCH_DEFAULT;
static uint32_t arg_connections = CONNECTIONS_DEFAULT;
static const char *arg_acked;
static uint64_t arg_kill_after;
static uint32_t arg_kill_pid;
static bool arg_quiet;

/* One TERMINAL_DIR; written only by the worker that takes it, read by
 * main() after the workers are joined. */
struct term {
	const char *dir;
	unsigned first_url;
	char agent[MG_REC_AGENT_ID_MAX + 1];
	uint64_t acked;	 /* highest acked_through_seq taken */
	size_t sent;	 /* records put on the wire at least once */
	uint64_t events; /* records acknowledged */
	bool done;	 /* acknowledged through its last record */
	bool regressed;	 /* the collector took back an acknowledgement */
};

struct fleet {
	struct term *terms;
	size_t n;
	atomic_size_t next; /* the queue: the next terminal to take */
	atomic_uint_fast64_t events, posts, retries, busy, failovers;
	atomic_bool killed, kill_failed;
	int64_t t0;
};

/* A worker sending one terminal. */
struct sender {
	struct fleet *f;
	struct term *t;
	char *buf; /* records.bin */
	size_t len;
	size_t *off; /* n + 1 record offsets */
	uint64_t *seq;
	size_t n;
	CURL *c;
	struct curl_slist *hdr;
	struct sbuf reply;
	char err[CURL_ERROR_SIZE];
	char why[WHY_MAX]; /* what went wrong with the last POST */
	unsigned url;
	uint32_t retry_after;
	uint64_t acked;
};

enum outcome {
	SENT_OK,    /* 200 with acked_through_seq in s->acked */
	SENT_RETRY, /* try again later, elsewhere */
	SENT_FATAL, /* resending cannot help */
};

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static double
elapsed_s(const struct fleet *f)
{
	return (double)(now_ns() - f->t0) / (double)NS_PER_S;
}

/* One line to stderr about terminal t, written at once (workers share
 * stderr). */
static void say(const struct term *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
say(const struct term *t, const char *fmt, ...)
{
	char msg[2 * WHY_MAX + 256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "mg_drain: %s: %s\n",
	    t->agent[0] != '\0' ? t->agent : t->dir, msg);
}

static void
sleep_ms(uint64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000),
		(long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- records.bin ----------------------------------------------------- */

/* Walk the records; with fill, note where each starts and its seq.  The
 * seq must increase: acknowledgements are found by seq. */
static int
index_records(struct sender *s, bool fill)
{
	struct mg_record r;
	const char *why = NULL;
	uint64_t last = 0;
	size_t off = 0, i = 0;
	int n;

	for (; off < s->len; off += (size_t)n, i++) {
		n = mg_record_decode(
		    (const uint8_t *)s->buf + off, s->len - off, &r, &why);
		if (n <= 0) {
			say(s->t, "records.bin: record %zu at byte %zu: %s",
			    i + 1, off, why != NULL ? why : "malformed");
			return -EBADMSG;
		}
		if (i > 0 && r.seq <= last) {
			say(s->t,
			    "records.bin: record %zu: seq %" PRIu64
			    " after %" PRIu64 " (must increase)",
			    i + 1, r.seq, last);
			return -EBADMSG;
		}
		if (i == 0)
			snprintf(
			    s->t->agent, sizeof(s->t->agent), "%s", r.agent_id);
		if (fill) {
			s->off[i] = off;
			s->seq[i] = r.seq;
		}
		last = r.seq;
	}
	if (fill)
		s->off[i] = off;
	s->n = i;
	return 0;
}

static int
load_records(struct sender *s)
{
	char path[PATH_LEN];
	int r;

	if ((size_t)snprintf(path, sizeof(path), "%s/records.bin", s->t->dir) >=
	    sizeof(path))
		r = -ENAMETOOLONG;
	else
		r = file_read_all(path, RECORDS_FILE_MAX, 0, &s->buf, &s->len);
	if (r < 0) {
		say(s->t, "cannot read %s/records.bin: %s", s->t->dir,
		    strerror(-r));
		return r;
	}
	if ((r = index_records(s, false)) < 0)
		return r;
	s->off = calloc(s->n + 1, sizeof(*s->off));
	s->seq = calloc(s->n + 1, sizeof(*s->seq));
	if (s->off == NULL || s->seq == NULL) {
		say(s->t, "out of memory for %zu records", s->n);
		return -ENOMEM;
	}
	return index_records(s, true);
}

/* ---- one POST -------------------------------------------------------- */

static size_t
on_reply(char *p, size_t size, size_t n, void *arg)
{
	struct sender *s = arg;

	/* A reply too long for us fails the transfer (curl: write error). */
	if (sbuf_put(&s->reply, p, size * n) < 0)
		return 0;
	return size * n;
}

static int
path_in(char *out, size_t len, const char *dir, const char *name)
{
	if ((size_t)snprintf(out, len, "%s/%s", dir, name) >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* The agent's TLS (the CA file the only trust anchor, the terminal's
 * certificate, TLS 1.2+, hostname checked), one handle per terminal. */
static int
setup_curl(struct sender *s)
{
	char cert[PATH_LEN], key[PATH_LEN];
	struct ship_cfg cfg;

	memset(&cfg, 0, sizeof(cfg));
	if (path_in(cert, sizeof(cert), s->t->dir, "cert.pem") < 0 ||
	    path_in(key, sizeof(key), s->t->dir, "key.pem") < 0)
		return -ENAMETOOLONG;
	cfg.ca = arg_ca;
	cfg.cert = cert; /* libcurl copies option strings */
	cfg.key = key;
	if ((s->c = curl_easy_init()) == NULL ||
	    (s->hdr = curl_slist_append(NULL, MEDIA_TYPE)) == NULL)
		return -ENOMEM;
	if (ship_curl_tls(s->c, &cfg) < 0)
		return -EINVAL;
	if (curl_easy_setopt(s->c, CURLOPT_HTTPHEADER, s->hdr) != CURLE_OK ||
	    curl_easy_setopt(s->c, CURLOPT_WRITEFUNCTION, on_reply) !=
		CURLE_OK ||
	    curl_easy_setopt(s->c, CURLOPT_WRITEDATA, s) != CURLE_OK ||
	    curl_easy_setopt(s->c, CURLOPT_ERRORBUFFER, s->err) != CURLE_OK)
		return -EINVAL;
	return 0;
}

/* "acked_through_seq":N from the collector's JSON answer (the agent's
 * reading, with the blanks JSON allows after the colon). */
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
	p += strspn(p, " \t\r\n");
	n = strspn(p, "0123456789");
	if (n == 0 || n >= sizeof(num))
		return -EPROTO;
	memcpy(num, p, n);
	num[n] = '\0';
	return parse_u64(num, 0, UINT64_MAX, ret) < 0 ? -EPROTO : 0;
}

static enum outcome
judge(struct sender *s, long code)
{
	const char *body = s->reply.data != NULL ? s->reply.data : "";

	if (code == 200 && reply_acked(&s->reply, &s->acked) == 0)
		return SENT_OK;
	snprintf(s->why, sizeof(s->why), "HTTP %ld: %.160s", code, body);
	if (code == 503)
		atomic_fetch_add(&s->f->busy, 1);
	/* A 200 we cannot read may be a proxy's or a broken collector's:
	 * the agent would retry it too. */
	if (code >= 500 || code == 429 || code == 200)
		return SENT_RETRY;
	return SENT_FATAL;
}

/* POST records [from, to) to the current URL. */
static enum outcome
post(struct sender *s, size_t from, size_t to)
{
	curl_off_t ra = 0;
	long code = 0;
	CURLcode e;

	s->reply.len = 0;
	if (s->reply.data != NULL)
		s->reply.data[0] = '\0';
	s->err[0] = '\0';
	s->retry_after = 0;
	curl_easy_setopt(s->c, CURLOPT_URL, arg_urls[s->url]);
	curl_easy_setopt(s->c, CURLOPT_POSTFIELDS, s->buf + s->off[from]);
	curl_easy_setopt(s->c, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)(s->off[to] - s->off[from]));
	atomic_fetch_add(&s->f->posts, 1);
	e = curl_easy_perform(s->c);
	if (e != CURLE_OK) {
		snprintf(s->why, sizeof(s->why), "%s (curl %d)",
		    s->err[0] != '\0' ? s->err : curl_easy_strerror(e), (int)e);
		return SENT_RETRY;
	}
	curl_easy_getinfo(s->c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(s->c, CURLINFO_RETRY_AFTER, &ra);
	if (ra > 0)
		s->retry_after =
		    ra < RETRY_AFTER_CAP_S ? (uint32_t)ra : RETRY_AFTER_CAP_S;
	return judge(s, code);
}

/* ---- acknowledgements, the kill, retries ------------------------------- */

static void
kill_now(struct fleet *f, uint64_t events)
{
	pid_t pid = (pid_t)arg_kill_pid;

	if (kill(pid, SIGKILL) < 0) {
		atomic_store(&f->kill_failed, true);
		fprintf(stderr, "mg_drain: cannot kill pid %d: %s\n", (int)pid,
		    strerror(errno));
		return;
	}
	atomic_store(&f->killed, true);
	fprintf(stderr,
	    "mg_drain: SIGKILL to pid %d at %.3f s, %" PRIu64
	    " events acknowledged\n",
	    (int)pid, elapsed_s(f), events);
}

static void
count_events(struct sender *s, uint64_t k)
{
	uint64_t before = atomic_fetch_add(&s->f->events, k);

	s->t->events += k;
	/* Exactly one worker's addition crosses the threshold. */
	if (arg_kill_pid != 0 && before < arg_kill_after &&
	    before + k >= arg_kill_after)
		kill_now(s->f, before + k);
}

/* Take the acknowledgement of records [*pos, end): move *pos past every
 * record it covers.  false when it covers none of them. */
static bool
take_ack(struct sender *s, size_t *pos, size_t end)
{
	uint64_t acked = s->acked;
	size_t p = *pos;

	if (end > s->t->sent)
		s->t->sent = end;
	if (acked < s->t->acked) {
		say(s->t,
		    "acked_through_seq went back from %" PRIu64 " to %" PRIu64
		    " (%s): acknowledged records lost?",
		    s->t->acked, acked, arg_urls[s->url]);
		s->t->regressed = true;
	}
	if (acked > s->seq[end - 1])
		acked = s->seq[end - 1]; /* never beyond what we sent */
	while (p < end && s->seq[p] <= acked)
		p++;
	if (p == *pos) {
		snprintf(s->why, sizeof(s->why),
		    "acked_through_seq %" PRIu64 " covers none of seq %" PRIu64
		    "..%" PRIu64,
		    s->acked, s->seq[*pos], s->seq[end - 1]);
		return false;
	}
	if (acked > s->t->acked)
		s->t->acked = acked;
	count_events(s, p - *pos);
	*pos = p;
	return true;
}

static uint64_t
backoff_ms(unsigned failures, uint32_t retry_after_s)
{
	uint64_t ms = BACKOFF_FIRST_MS;

	while (--failures > 0 && ms < BACKOFF_MAX_MS)
		ms *= 2;
	if (ms > BACKOFF_MAX_MS)
		ms = BACKOFF_MAX_MS;
	if (ms < (uint64_t)retry_after_s * 1000)
		ms = (uint64_t)retry_after_s * 1000;
	return ms;
}

/* Wait, then move on to the next URL. */
static void
retry(struct sender *s, unsigned failures)
{
	uint64_t ms = backoff_ms(failures, s->retry_after);
	unsigned next = (s->url + 1) % arg_nurls;

	atomic_fetch_add(&s->f->retries, 1);
	if (next != s->url)
		atomic_fetch_add(&s->f->failovers, 1);
	if (!arg_quiet)
		say(s->t, "%s: %s; again in %" PRIu64 " ms on %s",
		    arg_urls[s->url], s->why, ms, arg_urls[next]);
	s->url = next;
	sleep_ms(ms);
}

static void
drain(struct sender *s)
{
	int64_t failing_since = 0;
	unsigned failures = 0;
	size_t pos = 0, end;
	enum outcome o;

	while (pos < s->n) {
		end = s->n - pos > arg_batch ? pos + arg_batch : s->n;
		o = post(s, pos, end);
		if (o == SENT_OK && take_ack(s, &pos, end)) {
			failures = 0;
			continue;
		}
		if (o == SENT_FATAL) {
			say(s->t, "%s: %s; giving up", arg_urls[s->url],
			    s->why);
			return;
		}
		if (failures++ == 0)
			failing_since = now_ns();
		if (now_ns() - failing_since >= GIVE_UP_NS) {
			say(s->t,
			    "%s: %s; giving up after %" PRId64
			    " s without progress",
			    arg_urls[s->url], s->why,
			    (now_ns() - failing_since) / NS_PER_S);
			return;
		}
		retry(s, failures);
	}
	s->t->done = !s->t->regressed;
}

static void
run_terminal(struct fleet *f, struct term *t)
{
	struct sender s;
	int r;

	memset(&s, 0, sizeof(s));
	s.f = f;
	s.t = t;
	s.url = t->first_url;
	sbuf_init(&s.reply, REPLY_MAX);
	if (load_records(&s) < 0)
		; /* said */
	else if ((r = setup_curl(&s)) < 0)
		say(t, "cannot set up libcurl: %s", strerror(-r));
	else
		drain(&s);
	curl_easy_cleanup(s.c);
	curl_slist_free_all(s.hdr);
	sbuf_clear(&s.reply);
	free(s.off);
	free(s.seq);
	free(s.buf);
}

static void *
worker(void *arg)
{
	struct fleet *f = arg;
	size_t i;

	while ((i = atomic_fetch_add(&f->next, 1)) < f->n)
		run_terminal(f, &f->terms[i]);
	return NULL;
}

/* ---- main -------------------------------------------------------------- */

static void
usage(void)
{
	fprintf(stderr,
	    "usage: mg_drain --url URL [--url URL2 ...] --ca CA.pem "
	    "[--batch N]\n"
	    "                [--connections C] [--acked FILE]\n"
	    "                [--kill-after-events N --kill-pid PID] "
	    "[--quiet] TERMINAL_DIR...\n");
}

/* The events URL of a base URL (or of an events URL, unchanged). */
static int
add_url(const char *url)
{
	static const char path[] = "/v1/events";
	size_t n = strlen(url), m = sizeof(path) - 1;
	bool full = n >= m && strcmp(url + n - m, path) == 0;
	bool slash = n > 0 && url[n - 1] == '/';
	char *u;

	if (arg_nurls == URLS_MAX || n == 0)
		return -E2BIG;
	if ((u = malloc(n + m + 1)) == NULL)
		return -ENOMEM;
	snprintf(u, n + m + 1, "%s%s", url, full ? "" : &path[slash ? 1 : 0]);
	arg_urls[arg_nurls++] = u;
	return 0;
}

static int
parse_opt(int c, const char *val)
{
	switch (c) {
	case 'u':
		return add_url(val);
	case 'c':
		arg_ca = val;
		return 0;
	case 'b':
		return parse_u32(val, 1, BATCH_MAX, &arg_batch);
	case 'n':
		return parse_u32(val, 1, CONNECTIONS_MAX, &arg_connections);
	case 'a':
		arg_acked = val;
		return 0;
	case 'k':
		return parse_u64(val, 1, UINT64_MAX, &arg_kill_after);
	case 'p':
		return parse_u32(val, 2, INT32_MAX, &arg_kill_pid);
	case 'q':
		arg_quiet = true;
		return 0;
	default:
		return -EINVAL;
	}
}

static int
parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "ca", required_argument, NULL, 'c' },
		{ "batch", required_argument, NULL, 'b' },
		{ "connections", required_argument, NULL, 'n' },
		{ "acked", required_argument, NULL, 'a' },
		{ "kill-after-events", required_argument, NULL, 'k' },
		{ "kill-pid", required_argument, NULL, 'p' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	int c, r = 0;

	while (r == 0 && (c = getopt_long(argc, argv, "", opts, NULL)) != -1)
		r = parse_opt(c, optarg);
	if (r < 0 || arg_nurls == 0 || arg_ca == NULL || optind == argc ||
	    (arg_kill_after == 0) != (arg_kill_pid == 0))
		return -EINVAL;
	return optind;
}

static int
write_acked(const struct fleet *f)
{
	FILE *out = fopen(arg_acked, "we");
	size_t i;
	int r = 0;

	if (out == NULL) {
		fprintf(
		    stderr, "mg_drain: %s: %s\n", arg_acked, strerror(errno));
		return -errno;
	}
	for (i = 0; i < f->n; i++)
		fprintf(out, "%s %" PRIu64 " %zu\n",
		    f->terms[i].agent[0] != '\0' ? f->terms[i].agent :
						   f->terms[i].dir,
		    f->terms[i].acked, f->terms[i].sent);
	if (fclose(out) != 0) {
		r = -errno;
		fprintf(stderr, "mg_drain: %s: %s\n", arg_acked, strerror(-r));
	}
	return r;
}

/* The summary line; the number of terminals not fully acknowledged. */
static size_t
summary(struct fleet *f)
{
	double secs = elapsed_s(f);
	uint64_t events = 0;
	size_t i, undone = 0;

	for (i = 0; i < f->n; i++) {
		events += f->terms[i].events;
		undone += !f->terms[i].done;
	}
	printf("drained %" PRIu64 " events from %zu terminals in %.2f s = "
	       "%.0f events/s (posts %" PRIu64 ", retries %" PRIu64
	       ", 503 %" PRIu64 ", failovers %" PRIu64 ")\n",
	    events, f->n, secs, secs > 0 ? (double)events / secs : 0.0,
	    (uint64_t)atomic_load(&f->posts),
	    (uint64_t)atomic_load(&f->retries), (uint64_t)atomic_load(&f->busy),
	    (uint64_t)atomic_load(&f->failovers));
	if (undone > 0)
		fprintf(stderr, "mg_drain: %zu of %zu terminals not drained\n",
		    undone, f->n);
	return undone;
}

/* Run the workers; 0, or -errno when none could start. */
static int
run_fleet(struct fleet *f)
{
	pthread_t *th;
	size_t i, n = arg_connections < f->n ? arg_connections : f->n;
	size_t started = 0;

	if ((th = calloc(n, sizeof(*th))) == NULL)
		return -ENOMEM;
	f->t0 = now_ns();
	for (i = 0; i < n; i++)
		if (pthread_create(&th[started], NULL, worker, f) == 0)
			started++;
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	free(th);
	return started > 0 ? 0 : -EAGAIN;
}

int
main(int argc, char **argv)
{
	struct fleet f;
	int first, i, rc = 2;

	memset(&f, 0, sizeof(f));
	if ((first = parse_args(argc, argv)) < 0) {
		usage();
		goto out;
	}
	/* Writes to a collector that was killed must fail, not kill us
	 * (CURLOPT_NOSIGNAL leaves SIGPIPE to the program). */
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		goto out;
	f.n = (size_t)(argc - first);
	if ((f.terms = calloc(f.n, sizeof(*f.terms))) == NULL)
		goto curl;
	for (i = first; i < argc; i++) {
		f.terms[i - first].dir = argv[i];
		f.terms[i - first].first_url =
		    (unsigned)(i - first) % arg_nurls;
	}
	if (run_fleet(&f) < 0)
		goto curl;
	rc = summary(&f) > 0 ? 1 : 0;
	if (arg_kill_pid != 0 && !atomic_load(&f.killed)) {
		if (!atomic_load(&f.kill_failed))
			fprintf(stderr,
			    "mg_drain: pid %u not killed: fewer "
			    "than %" PRIu64 " events acknowledged\n",
			    arg_kill_pid, arg_kill_after);
		rc = 1;
	}
	if (arg_acked != NULL && write_acked(&f) < 0)
		rc = 1;
curl:
	free(f.terms);
	curl_global_cleanup();
out:
	for (i = 0; i < (int)arg_nurls; i++)
		free(arg_urls[i]);
	return rc;
}
