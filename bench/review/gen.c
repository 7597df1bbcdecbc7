/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * bench_review_gen DB TERMINALS EVENTS_PER_TERMINAL ALERTS
 *
 * Fills a collector database (schema v2, made by mynaguard-collector, still
 * empty) with synthetic events and alerts for bench/review (README.md).
 * Deterministic: the same arguments give the same rows.  Bodies have the
 * real shapes of docs/events.md (agent-state, policy-loaded, device-*,
 * login-*, agent-*).  `record` is a record frame of the real length around
 * the body (docs/events.md 2), but its CRC is zero and its signature
 * pseudo-random bytes; `hash` is pseudo-random and `prev_hash` is the
 * previous seq's hash, so the chain links.  Review queries never check
 * signatures; `verified` is 1 as the collector stores it.  Writes DB.json:
 * names for the queries (query.py).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "mynaguard/common.h"

#define DAYS 30
/* The end of the data, fixed so that a cached database stays the same
 * (run.sh sets [Review] SilentAfter relative to it):
 * 2026-11-28T15:00:00Z, 2026-11-29 00:00 JST. */
#define T_END_S ((int64_t)1795878000)
#define NS ((int64_t)1000000000)
#define T_START (T_END_S * NS - DAYS * 86400LL * NS)
#define USERS 5000
#define STICKS 20000
#define BATCH 100000
#define SILENT_EVERY 50 /* every 50th terminal stops 4..12 days early */
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const char *const depts[] = { "shimin", "zeimu", "fukushi", "kokuho",
	"kaigo", "kodomo", "kankyo", "doboku", "toshi", "suido", "gikai",
	"kyoiku", "somu", "zaisei", "kikaku", "shobo", "nourin", "shoko",
	"senkyo", "kaikei" };
static const char *const surnames[] = { "sato", "suzuki", "takahashi",
	"tanaka", "ito", "watanabe", "yamamoto", "nakamura", "kobayashi",
	"kato", "yoshida", "yamada", "sasaki", "yamaguchi", "matsumoto",
	"inoue", "kimura", "hayashi", "saito", "shimizu", "yamazaki", "mori",
	"abe", "ikeda", "hashimoto" };
static const char *const products[][4] = {
	{ "0781", "5581", " USB", " SanDisk 3.2Gen1" },
	{ "0930", "6545", "TOSHIBA", "TransMemory" },
	{ "056e", "6008", "ELECOM", "MF-MSU3" },
	{ "0411", "01e8", "BUFFALO", "RUF3-K" },
	{ "13fe", "6300", "I-O DATA", "U3-STD" },
};
static const char label[] =
    "USBメモリ・SDカード：読み取り専用（書き込み禁止）";
static const char *const reasons[] = { "password", "pin-invalid", "no-key",
	"password", "pin-invalid", "no-matching-key", "timeout",
	"presence-missing" };

enum act {
	A_STATE,
	A_LOGIN_OK,
	A_LOGIN_FAIL,
	A_LOCKED,
	A_DEV_RO,
	A_DEV_REMOVED,
	A_DEV_BLOCKED,
	A_DEV_ALLOWED,
	A_DEV_ENF,
	A_DEV_RW,
	A_POLICY,
	A_STARTED,
	A_STOPPED,
	A_RELOADED,
	A_COUNT
};
/* the share of each type (per cent) on a counter terminal */
static const struct {
	const char *name;
	int weight, critical;
} acts[A_COUNT] = {
	[A_STATE] = { "agent-state", 25, 0 },
	[A_LOGIN_OK] = { "login-succeeded", 20, 1 },
	[A_LOGIN_FAIL] = { "login-failed", 5, 1 },
	[A_LOCKED] = { "login-locked-out", 1, 1 },
	[A_DEV_RO] = { "device-read-only", 14, 0 },
	[A_DEV_REMOVED] = { "device-removed", 10, 0 },
	[A_DEV_BLOCKED] = { "device-blocked", 5, 0 },
	[A_DEV_ALLOWED] = { "device-allowed", 10, 0 },
	[A_DEV_ENF] = { "device-enforcement-failed", 1, 1 },
	[A_DEV_RW] = { "device-mounted-rw", 1, 1 },
	[A_POLICY] = { "policy-loaded", 3, 0 },
	[A_STARTED] = { "agent-started", 2, 0 },
	[A_STOPPED] = { "agent-stopped", 2, 0 },
	[A_RELOADED] = { "agent-reloaded", 1, 0 },
};
static const struct {
	const char *name;
	int severity, weight;
} alert_types[] = { { "gap", 4, 40 }, { "loss", 5, 20 },
	{ "state-mismatch", 4, 25 }, { "chain-break", 3, 8 },
	{ "invalid", 3, 4 }, { "forged", 2, 2 }, { "equivocation", 2, 1 } };

/* ---- pseudo-random numbers: splitmix64 ------------------------------------ */

static uint64_t rng_state = 20261129;

static uint64_t
mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t
rnd(void)
{
	return mix(rng_state += 0x9e3779b97f4a7c15ULL);
}

static uint64_t
below(uint64_t n)
{
	return rnd() % n;
}

static double
unit(void)
{
	return (double)(rnd() >> 11) / 9007199254740992.0;
}

/* 32 bytes, a function of (a, b) */
static void
bytes32(uint64_t a, uint64_t b, uint8_t out[32])
{
	uint64_t x = mix(a * 0x9e3779b97f4a7c15ULL ^ mix(b));
	for (int i = 0; i < 4; i++) {
		x = mix(x + 0x9e3779b97f4a7c15ULL);
		memcpy(out + 8 * i, &x, 8);
	}
}

static void
hex(const uint8_t *p, size_t n, char *out)
{
	static const char h[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = h[p[i] >> 4];
		out[2 * i + 1] = h[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* ---- terminals, users, sticks ------------------------------------------------ */

struct term {
	char id[32];
	uint8_t key_id[8];
	int users[8];
	int sticks[6];
	uint64_t seq, boot;
	uint8_t head[32];
	int64_t last_seen;
	int silent_days;
	char policy_hash[65];
	int counts[DAYS];
};

static void
user_name(int u, char *out, size_t n)
{
	snprintf(out, n, "%s.%04d", surnames[u % (int)N_OF(surnames)], u);
}

static void
serial(int n, char out[24])
{
	snprintf(out, 24, "4C53%016" PRIX64,
	    (uint64_t)(unsigned)n * UINT64_C(2654435761));
}

static void
stamp(int64_t ns, char out[40])
{
	time_t s = (time_t)(ns / NS);
	struct tm tm;

	gmtime_r(&s, &tm);
	strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + 19, 21, ".%09dZ", (int)(ns % NS));
}

static void
term_init(struct term *t, int i, int per)
{
	uint8_t b[32];
	double w[DAYS], tot = 0, frac[DAYS];
	int sum = 0;

	snprintf(t->id, sizeof(t->id), "%s-pc%03d", depts[(size_t)i % N_OF(depts)],
	    i / (int)N_OF(depts) + 1);
	bytes32(1, (uint64_t)i, b);
	memcpy(t->key_id, b, 8);
	for (int k = 0; k < 8; k++)
		t->users[k] = (i * 5 + k) % USERS;
	for (int k = 0; k < 6; k++)
		t->sticks[k] = (i % (int)N_OF(depts)) * (STICKS / (int)N_OF(depts)) +
		    (int)below(STICKS / N_OF(depts));
	t->seq = 0;
	t->boot = 1;
	memset(t->head, 0, 32);
	bytes32(2, (uint64_t)(i % 7), b);
	hex(b, 32, t->policy_hash);
	t->silent_days = i % SILENT_EVERY == SILENT_EVERY - 1 ? 4 + i % 9 : 0;
	/* events per day: weekdays 4x weekends, none after a silence */
	for (int d = 0; d < DAYS; d++) {
		time_t s = (time_t)(T_START / NS + 9 * 3600 + d * 86400);
		struct tm tm;
		gmtime_r(&s, &tm);
		w[d] = d < DAYS - t->silent_days ?
		    (tm.tm_wday == 0 || tm.tm_wday == 6 ? 0.25 : 1.0) *
			(0.8 + 0.4 * unit()) :
		    0.0;
		tot += w[d];
	}
	for (int d = 0; d < DAYS; d++) {
		t->counts[d] = (int)(per * w[d] / tot);
		frac[d] = per * w[d] / tot - t->counts[d];
		sum += t->counts[d];
	}
	while (sum < per) { /* the largest remainders get one more */
		int best = 0;
		for (int d = 1; d < DAYS; d++)
			if (frac[d] > frac[best])
				best = d;
		t->counts[best]++;
		frac[best] = -1;
		sum++;
	}
}

/* ---- bodies ------------------------------------------------------------------- */

struct buf {
	char *p;
	size_t len, cap;
};

static void
put(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void
put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if ((size_t)n < b->cap - b->len)
			break;
		b->cap = 2 * b->cap + (size_t)n + 1;
		if ((b->p = realloc(b->p, b->cap)) == NULL) {
			fprintf(stderr, "bench_review_gen: out of memory\n");
			exit(1);
		}
	}
	b->len += (size_t)n;
}

static void
head(struct buf *b, const char *ts, uint64_t seq, const struct term *t,
    enum act a, const char *cat, const char *type, const char *outcome,
    const char *reason, int version)
{
	put(b,
	    "{\"@timestamp\":\"%s\",\"event\":{\"kind\":\"event\","
	    "\"action\":\"%s\",\"category\":[\"%s\"],\"type\":[\"%s\"],"
	    "\"outcome\":\"%s\",\"sequence\":%" PRIu64 "%s%s%s},"
	    "\"host\":{\"name\":\"%s\"},\"agent\":{\"id\":\"%s\","
	    "\"type\":\"mynaguard\"%s}",
	    ts, acts[a].name, cat, type, outcome, seq,
	    reason ? ",\"reason\":\"" : "", reason ? reason : "",
	    reason ? "\"" : "", t->id, t->id,
	    version ? ",\"version\":\"0.1.0\"" : "");
}

static void
device(struct buf *b, const struct term *t, int disk)
{
	const char *const *p = products[below(N_OF(products))];
	char s[24];

	serial(t->sticks[below(6)], s);
	put(b,
	    "\"device\":{\"vid\":\"%s\",\"pid\":\"%s\",\"serial\":\"%s\","
	    "\"vendor\":\"%s\",\"product\":\"%s\",\"kind\":\"storage\","
	    "\"bus\":\"usb\",",
	    p[0], p[1], s, p[2], p[3]);
	if (disk)
		put(b, "\"path\":\"sdb\",\"node\":\"/dev/sdb\",");
	else
		put(b, "\"path\":\"1-1.%d\",", 1 + (int)below(4));
	put(b, "\"interfaces\":\"08:06:50\"}");
}

/* what every body writer needs: the buffer, the terminal, the action and the
 * pieces common to most bodies */
struct body_ctx {
	struct buf *b;
	const struct term *t;
	enum act a;
	int64_t ns;
	uint64_t seq;
	char ts[40], user[64], mg[48];
};

static void
body_state(struct body_ctx *c)
{
	int mm = unit() < 0.01;
	int removable_disks, spool_depth;

	head(c->b, c->ts, c->seq, c->t, c->a, "host", "info", "success", NULL, 1);
	/* the order of these two draws is the generator's: keep it */
	spool_depth = (int)below(4);
	removable_disks = (int)below(2);
	put(c->b,
	    ",%s,\"policy\":{\"hash\":\"%s\",\"version\":3},"
	    "\"state\":{\"usb_default\":\"0\",\"usb_iface_default\":\"0\","
	    "\"removable_disks\":%d,\"removable_writable\":%d,"
	    "\"udev_rules\":\"present\",\"udev_rules_path\":"
	    "\"/lib/udev/rules.d/10-mynaguard.rules\",\"modprobe\":"
	    "\"present\",\"spool_depth\":%d,\"acked_seq\":%" PRIu64 ","
	    "\"mismatch\":\"%s\"}}}",
	    c->mg, c->t->policy_hash, removable_disks, mm, spool_depth,
	    c->seq > 2 ? c->seq - 2 : 0, mm ? "removable-writable" : "");
}

static const char *
login_reason(enum act a)
{
	if (a == A_LOCKED)
		return "locked";
	if (a == A_LOGIN_FAIL)
		return reasons[below(N_OF(reasons))];
	return NULL;
}

static void
login_key(struct body_ctx *c)
{
	uint8_t k[32];
	char kh[65];

	bytes32(3, (uint64_t)(c->user[20] * 131 + c->user[22]), k);
	hex(k, 32, kh);
	put(c->b,
	    ",\"key\":{\"id\":\"%s\",\"counter\":%" PRIu64
	    ",\"stored_counter\":%" PRIu64 "}",
	    kh, c->seq, c->seq - 1);
}

/* login-succeeded, login-failed, login-locked-out */
static void
body_login(struct body_ctx *c)
{
	const char *reason = login_reason(c->a);
	int ok = c->a == A_LOGIN_OK;

	head(c->b, c->ts, c->seq, c->t, c->a, "authentication", "start",
	    ok ? "success" : "failure", reason, 0);
	if (ok)
		put(c->b, ",%s,\"message\":\"key verified\",", c->user);
	else if (c->a == A_LOGIN_FAIL)
		put(c->b, ",%s,\"message\":\"login failed: %s\",", c->user,
		    reason);
	else
		put(c->b, ",%s,\"message\":\"account locked out\",", c->user);
	put(c->b,
	    "%s,\"login\":{\"service\":\"gdm-password\",\"tty\":\":0\","
	    "\"failures\":%d",
	    c->mg, ok ? 0 : 1 + (int)below(5));
	if (c->a == A_LOCKED)
		put(c->b, ",\"locked_until\":%" PRId64,
		    (int64_t)(c->ns / NS + 900));
	put(c->b, "}");
	if (ok)
		login_key(c);
	put(c->b, "}}");
}

/* the part of a storage device event before its "device" */
static void
dev_head(struct body_ctx *c, int disk)
{
	switch (c->a) {
	case A_DEV_RO:
		head(c->b, c->ts, c->seq, c->t, c->a, "host", "change", "success",
		    NULL, 0);
		if (!disk)
			put(c->b, ",%s", c->user);
		put(c->b, ",\"message\":\"%s\",%s,",
		    disk ? "/dev/sdb read-only" :
			   "authorized, 1 interface enabled, 0 withheld",
		    c->mg);
		break;
	case A_DEV_BLOCKED:
		head(c->b, c->ts, c->seq, c->t, c->a, "host", "denied", "success",
		    NULL, 0);
		put(c->b, ",%s,\"message\":\"not authorized\",%s,", c->user,
		    c->mg);
		break;
	case A_DEV_ENF:
		head(c->b, c->ts, c->seq, c->t, c->a, "host", "error", "failure",
		    "/dev/sdb read-only: Input/output error", 0);
		put(c->b, ",\"message\":\"/dev/sdb read-only\",%s,", c->mg);
		break;
	default: /* A_DEV_RW */
		head(c->b, c->ts, c->seq, c->t, c->a, "intrusion_detection",
		    "indicator", "failure",
		    "mounted read-write although the policy keeps it read-only",
		    0);
		put(c->b, ",\"message\":\"remounted read-only\",%s,", c->mg);
	}
}

/* device-read-only, device-blocked, device-enforcement-failed,
 * device-mounted-rw: a storage device */
static void
body_dev(struct body_ctx *c)
{
	int disk = unit() < 0.5;

	dev_head(c, disk);
	device(c->b, c->t, disk);
	if (c->a == A_DEV_BLOCKED)
		put(c->b, ",\"decision\":{\"verdict\":\"block\",\"rule\":0,"
			  "\"decider\":\"agent\"}}}");
	else if (c->a == A_DEV_RW)
		put(c->b, ",\"decision\":{\"verdict\":\"read-only\","
			  "\"decider\":\"agent\"},\"mount\":{\"path\":"
			  "\"/media/user/USB DISK\"}}}");
	else
		put(c->b,
		    ",\"decision\":{\"verdict\":\"read-only\",\"rule\":4,"
		    "\"line\":105,\"label\":\"%s\",\"decider\":\"agent\"}}}",
		    label);
}

static void
body_dev_allowed(struct body_ctx *c)
{
	head(c->b, c->ts, c->seq, c->t, c->a, "host", "allowed", "success",
	    NULL, 0);
	put(c->b,
	    ",%s,\"message\":\"authorized, 2 interfaces enabled\",%s,"
	    "\"device\":{\"vid\":\"046d\",\"pid\":\"c52b\",\"serial\":\"\","
	    "\"vendor\":\"Logitech\",\"product\":\"USB Receiver\","
	    "\"kind\":\"input\",\"bus\":\"usb\",\"path\":\"1-1.%d\","
	    "\"interfaces\":\"03:01:01 03:01:02\"},\"decision\":{"
	    "\"verdict\":\"allow\",\"rule\":1,\"line\":88,\"label\":"
	    "\"キーボード・マウス\",\"decider\":\"agent\"}}}",
	    c->user, c->mg, 1 + (int)below(4));
}

static void
body_dev_removed(struct body_ctx *c)
{
	char s[24];

	serial(c->t->sticks[below(6)], s);
	head(c->b, c->ts, c->seq, c->t, c->a, "host", "end", "success", NULL, 0);
	put(c->b,
	    ",%s,\"device\":{\"serial\":\"%s\",\"product\":\" SanDisk "
	    "3.2Gen1\",\"path\":\"1-1.2\"}}}",
	    c->mg, s);
}

static void
body_policy(struct body_ctx *c)
{
	head(c->b, c->ts, c->seq, c->t, c->a, "configuration", "change",
	    "success", NULL, 0);
	put(c->b,
	    ",%s,\"policy\":{\"path\":\"/etc/mynaguard/policy.conf\","
	    "\"hash\":\"%s\",\"version\":3}}}",
	    c->mg, c->t->policy_hash);
}

static void
body_started(struct body_ctx *c)
{
	head(c->b, c->ts, c->seq, c->t, c->a, "process", "start", "success",
	    NULL, 1);
	put(c->b,
	    ",%s,\"agent\":{\"previous_seq\":%" PRIu64
	    ",\"clean_shutdown\":%s}}}",
	    c->mg, c->seq - 1, unit() < 0.9 ? "true" : "false");
}

static void
body_stopped(struct body_ctx *c)
{
	head(c->b, c->ts, c->seq, c->t, c->a, "process", "end", "success",
	    "stopped by signal", 0);
	put(c->b, ",%s}}", c->mg);
}

/* agent-reloaded */
static void
body_reloaded(struct body_ctx *c)
{
	head(c->b, c->ts, c->seq, c->t, c->a, "configuration", "change",
	    "success", NULL, 0);
	put(c->b, ",%s}}", c->mg);
}

static void (*const body_writers[A_COUNT])(struct body_ctx *) = {
	[A_STATE] = body_state,
	[A_LOGIN_OK] = body_login,
	[A_LOGIN_FAIL] = body_login,
	[A_LOCKED] = body_login,
	[A_DEV_RO] = body_dev,
	[A_DEV_REMOVED] = body_dev_removed,
	[A_DEV_BLOCKED] = body_dev,
	[A_DEV_ALLOWED] = body_dev_allowed,
	[A_DEV_ENF] = body_dev,
	[A_DEV_RW] = body_dev,
	[A_POLICY] = body_policy,
	[A_STARTED] = body_started,
	[A_STOPPED] = body_stopped,
	[A_RELOADED] = body_reloaded,
};

/* the body of t's event a at ns into b, seq t->seq */
static void
body(struct buf *b, const struct term *t, enum act a, int64_t ns)
{
	struct body_ctx c = { .b = b, .t = t, .a = a, .ns = ns, .seq = t->seq };
	char u[40];

	b->len = 0;
	stamp(ns, c.ts);
	snprintf(c.mg, sizeof(c.mg), "\"mynaguard\":{\"boot_id\":%" PRIu64,
	    t->boot);
	user_name(t->users[below(8)], u, sizeof(u));
	snprintf(c.user, sizeof(c.user), "\"user\":{\"name\":\"%s\"}", u);
	body_writers[a](&c);
}

/* ---- the day's events ---------------------------------------------------------- */

struct ev {
	int64_t t_wall, received;
	int term;
	enum act a;
	uint64_t seq, boot;
	uint8_t hash[32], prev[32];
	char *body;
	size_t body_len;
};

static int
by_term_time(const void *x, const void *y)
{
	const struct ev *a = x, *b = y;
	if (a->term != b->term)
		return a->term < b->term ? -1 : 1;
	return (a->t_wall > b->t_wall) - (a->t_wall < b->t_wall);
}

static int
by_received(const void *x, const void *y)
{
	const struct ev *a = x, *b = y;
	if (a->received != b->received)
		return a->received < b->received ? -1 : 1;
	return by_term_time(x, y);
}

static int
by_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
	return (a > b) - (a < b);
}

/* DB.json: names the queries use (query.py) */
static void
write_sample(const char *dbpath, const struct term *terms, int nterm,
    int64_t events, int alerts)
{
	static char path[4096];
	char s[24], u[40], ts[40];
	int64_t day0 = T_END_S * NS - 10 * 86400LL * NS; /* 10 days before the end */
	int step = nterm / 25 > 1 ? nterm / 25 + 1 : 1; /* + 1: not one department */
	FILE *f;

	snprintf(path, sizeof(path), "%s.json", dbpath);
	if ((f = fopen(path, "w")) == NULL) {
		perror(path);
		exit(1);
	}
	fprintf(f, "{\"events\": %" PRId64 ", \"alerts\": %d, \"terminals\": [",
	    events, alerts);
	for (int i = 0, n = 0; i < nterm && n < 25; i += step, n++)
		fprintf(f, "%s\"%s\"", n ? ", " : "", terms[i].id);
	fprintf(f, "],\n \"users\": [");
	for (int i = 0; i < 25; i++) {
		user_name(i * 197 % USERS, u, sizeof(u));
		fprintf(f, "%s\"%s\"", i ? ", " : "", u);
	}
	fprintf(f, "],\n \"serials\": [");
	for (int i = 0, n = 0; i < nterm && n < 25; i += step, n++) {
		serial(terms[i].sticks[0], s);
		fprintf(f, "%s\"%s\"", n ? ", " : "", s);
	}
	stamp(day0, ts);
	ts[19] = 'Z', ts[20] = 0;
	fprintf(f, "],\n \"day\": [\"%s\", ", ts);
	stamp(day0 + 86400LL * NS, ts);
	ts[19] = 'Z', ts[20] = 0;
	fprintf(f, "\"%s\"],\n \"week\": [", ts);
	stamp(day0 - 7 * 86400LL * NS, ts);
	ts[19] = 'Z', ts[20] = 0;
	fprintf(f, "\"%s\", ", ts);
	stamp(day0, ts);
	ts[19] = 'Z', ts[20] = 0;
	fprintf(f, "\"%s\"],\n \"t_end_s\": %" PRId64 "}\n", ts, T_END_S);
	fclose(f);
}

static enum act
pick_action(void)
{
	int r = (int)below(100), i;
	for (i = 0; i < A_COUNT - 1; i++) {
		if (r < acts[i].weight)
			break;
		r -= acts[i].weight;
	}
	return (enum act)i;
}

/* agent-state around the clock; the rest mostly in office hours
 * (08:30-17:30 JST) */
static int64_t
when(int day, enum act a)
{
	int64_t base = T_START + day * 86400LL * NS;
	if (a == A_STATE || unit() < 0.1)
		return base + (int64_t)below(86400ULL * NS);
	return base + (8 * 3600 + 1800) * NS + (int64_t)below(9ULL * 3600 * NS);
}

static void
check(sqlite3 *db, int rc, const char *what)
{
	if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
		fprintf(stderr, "bench_review_gen: %s: %s\n", what,
		    sqlite3_errmsg(db));
		exit(1);
	}
}

static void
exec(sqlite3 *db, const char *sql)
{
	check(db, sqlite3_exec(db, sql, NULL, NULL, NULL), sql);
}

static int64_t
scalar(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s;
	int64_t v;
	check(db, sqlite3_prepare_v2(db, sql, -1, &s, NULL), sql);
	check(db, sqlite3_step(s), sql);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static void
be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* the record frame of docs/events.md 2 around the body */
static size_t
record(const struct term *t, const struct ev *e, uint8_t *out)
{
	size_t l = strlen(t->id), n = 95 + l + e->body_len + 71, o = 0;
	uint8_t sig[72];

	memcpy(out, "MYE1", 4);
	be(out + 4, n, 4);
	be(out + 8, 0, 4); /* crc32c: not computed */
	out[12] = 1;
	out[13] = 2;
	be(out + 14, (uint64_t)acts[e->a].critical, 2);
	out[16] = (uint8_t)l;
	o = 17;
	memcpy(out + o, t->id, l);
	o += l;
	memcpy(out + o, t->key_id, 8);
	be(out + o + 8, e->boot, 8);
	be(out + o + 16, e->seq, 8);
	be(out + o + 24, (uint64_t)e->t_wall, 8);
	be(out + o + 32, (uint64_t)e->t_wall % 1000000000000000ULL, 8);
	memcpy(out + o + 40, e->prev, 32);
	be(out + o + 72, e->body_len, 4);
	o += 76;
	memcpy(out + o, e->body, e->body_len);
	o += e->body_len;
	be(out + o, 71, 2);
	bytes32(e->seq, (uint64_t)e->t_wall, sig);
	bytes32((uint64_t)e->t_wall, e->seq, sig + 32);
	memset(sig + 64, 0x5a, 8);
	sig[0] = 0x30;
	memcpy(out + o + 2, sig, 71);
	return o + 2 + 71;
}

/* ---- the load ------------------------------------------------------------------- */

struct gen {
	const char *path;
	sqlite3 *db;
	struct term *terms;
	int nterm, per, nalerts;
	int64_t total, pending;
	struct timespec t0;
	struct buf b;
};

static void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (p == NULL) {
		fprintf(stderr, "bench_review_gen: out of memory (%zu x %zu bytes)\n",
		    n, size);
		exit(1);
	}
	return p;
}

static double
elapsed(const struct gen *g)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - g->t0.tv_sec) +
	    (double)(t1.tv_nsec - g->t0.tv_nsec) / 1e9;
}

static int
parse_count(const char *s, const char *what, uint32_t min, uint32_t max)
{
	uint32_t v;

	if (parse_u32(s, min, max, &v) < 0) {
		fprintf(stderr,
		    "bench_review_gen: %s: \"%s\" is not a number from %" PRIu32
		    " to %" PRIu32 "\n"
		    "usage: bench_review_gen DB TERMINALS EVENTS_PER_TERMINAL "
		    "ALERTS\n",
		    what, s, min, max);
		exit(2);
	}
	return (int)v;
}

static void
parse_args(int argc, char **argv, struct gen *g)
{
	if (argc != 5) {
		fprintf(stderr, "usage: bench_review_gen DB TERMINALS "
				"EVENTS_PER_TERMINAL ALERTS\n");
		exit(2);
	}
	g->path = argv[1];
	g->nterm = parse_count(argv[2], "TERMINALS", 1, 1000000);
	g->per = parse_count(argv[3], "EVENTS_PER_TERMINAL", 1, 100000000);
	g->nalerts = parse_count(argv[4], "ALERTS", 0, 100000000);
}

/* the day's events of every terminal, in terminal order: action and time */
static struct ev *
day_events(const struct gen *g, int day, size_t *np)
{
	size_t n = 0, k = 0;
	struct ev *evs;

	for (int i = 0; i < g->nterm; i++)
		n += (size_t)g->terms[i].counts[day];
	evs = xcalloc(n, sizeof(*evs));
	for (int i = 0; i < g->nterm; i++)
		for (int c = 0; c < g->terms[i].counts[day]; c++, k++) {
			evs[k].term = i;
			evs[k].a = pick_action();
			evs[k].t_wall = when(day, evs[k].a);
		}
	*np = n;
	return evs;
}

/* seq, boot, reception time, body and chain of each event: one terminal's
 * events in its clock's order, seq follows it */
static void
assign_seq(struct gen *g, struct ev *evs, size_t n)
{
	qsort(evs, n, sizeof(*evs), by_term_time);
	for (size_t k = 0; k < n; k++) {
		struct ev *e = &evs[k];
		struct term *t = &g->terms[e->term];
		e->seq = ++t->seq;
		if (e->a == A_STARTED)
			t->boot++;
		e->boot = t->boot;
		/* received a moment later; 1 % after an outage of up to 2 hours */
		e->received = e->t_wall +
		    (unit() < 0.99 ? (int64_t)(50 + below(2950)) * 1000000 :
				     (int64_t)below(7200) * NS);
		body(&g->b, t, e->a, e->t_wall);
		e->body = xcalloc(g->b.len + 1, 1);
		memcpy(e->body, g->b.p, g->b.len + 1);
		e->body_len = g->b.len;
		memcpy(e->prev, t->head, 32);
		bytes32((uint64_t)e->term, e->seq, e->hash);
		memcpy(t->head, e->hash, 32);
	}
}

static void
insert_event(struct gen *g, sqlite3_stmt *ins, const struct ev *e)
{
	static uint8_t rec[32768];
	struct term *t = &g->terms[e->term];
	size_t rl = record(t, e, rec);

	sqlite3_bind_text(ins, 1, t->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(ins, 2, (int64_t)e->seq);
	sqlite3_bind_int64(ins, 3, (int64_t)e->boot);
	sqlite3_bind_int64(ins, 4, acts[e->a].critical);
	sqlite3_bind_int64(ins, 5, e->t_wall);
	sqlite3_bind_int64(ins, 6, e->received);
	sqlite3_bind_blob(ins, 7, e->hash, 32, SQLITE_STATIC);
	sqlite3_bind_blob(ins, 8, e->prev, 32, SQLITE_STATIC);
	sqlite3_bind_text(ins, 9, e->body, (int)e->body_len, SQLITE_STATIC);
	sqlite3_bind_blob(ins, 10, rec, (int)rl, SQLITE_STATIC);
	check(g->db, sqlite3_step(ins), "insert");
	sqlite3_reset(ins);
	if (e->received > t->last_seen)
		t->last_seen = e->received;
}

/* stored in the order the collector received them; one transaction per
 * BATCH events */
static void
insert_day(struct gen *g, sqlite3_stmt *ins, struct ev *evs, size_t n)
{
	qsort(evs, n, sizeof(*evs), by_received);
	for (size_t k = 0; k < n; k++) {
		insert_event(g, ins, &evs[k]);
		free(evs[k].body);
		g->total++;
		if (++g->pending == BATCH) {
			exec(g->db, "COMMIT");
			exec(g->db, "BEGIN");
			g->pending = 0;
		}
	}
}

static void
load_events(struct gen *g)
{
	sqlite3_stmt *ins;

	check(g->db,
	    sqlite3_prepare_v2(g->db,
		"INSERT INTO events(agent_id, seq, boot_id, flags, t_wall_ns,"
		" received_ns, hash, prev_hash, body, record, verified)"
		" VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
		-1, &ins, NULL),
	    "prepare");
	exec(g->db, "BEGIN");
	for (int day = 0; day < DAYS; day++) {
		size_t n;
		struct ev *evs = day_events(g, day, &n);
		assign_seq(g, evs, n);
		insert_day(g, ins, evs, n);
		free(evs);
		if ((day + 1) % 5 == 0)
			fprintf(stderr, "bench_review_gen: day %d/%d, %" PRId64
					" events, %.0f s\n",
			    day + 1, DAYS, g->total, elapsed(g));
	}
	exec(g->db, "COMMIT");
	sqlite3_finalize(ins);
}

static void
load_agents(struct gen *g)
{
	sqlite3_stmt *ins;

	check(g->db,
	    sqlite3_prepare_v2(g->db,
		"INSERT INTO agents(agent_id, next_seq, head_hash, last_seen)"
		" VALUES(?, ?, ?, ?)",
		-1, &ins, NULL),
	    "prepare");
	for (int i = 0; i < g->nterm; i++) {
		const struct term *t = &g->terms[i];
		sqlite3_bind_text(ins, 1, t->id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 2, (int64_t)t->seq + 1);
		sqlite3_bind_blob(ins, 3, t->head, 32, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 4, t->last_seen);
		check(g->db, sqlite3_step(ins), "insert agent");
		sqlite3_reset(ins);
	}
	sqlite3_finalize(ins);
}

static int
pick_alert_type(void)
{
	int r = (int)below(100), ty = 0;

	while (r >= alert_types[ty].weight) {
		r -= alert_types[ty].weight;
		ty++;
	}
	return ty;
}

/* alert i of type ty from seq from: its seq_to into *to and its detail
 * (NULL for none), in det when made */
static const char *
alert_detail(int ty, int i, int64_t from, int64_t *to, char det[256])
{
	uint8_t hb[32];
	char h[65];

	bytes32(4, (uint64_t)i, hb);
	hex(hb, 32, h);
	*to = from;
	switch (ty) {
	case 0: /* gap: no detail; mostly explained by a loss */
		*to = from + (int64_t)below(5);
		return NULL;
	case 1:
		*to = from + (int64_t)below(100);
		snprintf(det, 256,
		    "{\"loss_seq\":%" PRId64 ",\"count\":%" PRId64
		    ",\"reason\":\"spool full\"}",
		    *to + 1, *to - from + 1);
		return det;
	case 2:
		return "{\"mismatch\":\"removable-writable\",\"previous\":\"\"}";
	case 3:
		snprintf(det, 256,
		    "{\"problem\":\"prev_hash links to no known record\","
		    "\"prev_hash\":\"%s\"}", h);
		return det;
	case 4:
	case 5:
		return "{\"reason\":\"signature does not verify\"}";
	default:
		snprintf(det, 256,
		    "{\"problem\":\"a different record with this seq is "
		    "stored\",\"received_hash\":\"%s\"}", h);
		return det;
	}
}

static void
insert_alert(struct gen *g, sqlite3_stmt *ins, int i, int64_t created)
{
	char det[256];
	int ty = pick_alert_type();
	int64_t from = 1 + (int64_t)below((uint64_t)g->per), to;
	const char *d = alert_detail(ty, i, from, &to, det);

	sqlite3_bind_text(ins, 1, g->terms[below((uint64_t)g->nterm)].id, -1,
	    SQLITE_STATIC);
	sqlite3_bind_text(ins, 2, alert_types[ty].name, -1, SQLITE_STATIC);
	sqlite3_bind_int(ins, 3, alert_types[ty].severity);
	sqlite3_bind_int64(ins, 4, from);
	sqlite3_bind_int64(ins, 5, to);
	if (d)
		sqlite3_bind_text(ins, 6, d, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(ins, 6);
	sqlite3_bind_int64(ins, 7, created);
	if (ty == 0 && unit() < 0.7)
		sqlite3_bind_int64(ins, 8, to + 1);
	else
		sqlite3_bind_null(ins, 8);
	check(g->db, sqlite3_step(ins), "insert alert");
	sqlite3_reset(ins);
}

static void
load_alerts(struct gen *g)
{
	sqlite3_stmt *ins;
	int64_t *created = xcalloc((size_t)g->nalerts + 1, sizeof(int64_t));

	check(g->db,
	    sqlite3_prepare_v2(g->db,
		"INSERT INTO alerts(agent_id, type, severity, seq_from, seq_to,"
		" detail, created_ns, explained_by) VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
		-1, &ins, NULL),
	    "prepare");
	for (int i = 0; i < g->nalerts; i++)
		created[i] = T_START + (int64_t)below(DAYS * 86400ULL * NS);
	qsort(created, (size_t)g->nalerts, sizeof(int64_t), by_i64);
	for (int i = 0; i < g->nalerts; i++)
		insert_alert(g, ins, i, created[i]);
	free(created);
	sqlite3_finalize(ins);
}

/* g->db: an empty schema v2 collector database, set for a bulk load */
static void
open_db(struct gen *g)
{
	check(NULL,
	    sqlite3_open_v2(g->path, &g->db, SQLITE_OPEN_READWRITE, NULL),
	    g->path);
	if (scalar(g->db, "PRAGMA user_version") != 2 ||
	    scalar(g->db, "SELECT count(*) FROM events") != 0) {
		fprintf(stderr, "bench_review_gen: %s: not an empty schema v2 "
				"collector database\n", g->path);
		exit(1);
	}
	/* A bulk load into a file nobody else uses: no journal, no fsync. */
	exec(g->db, "PRAGMA journal_mode=OFF");
	exec(g->db, "PRAGMA synchronous=OFF");
	exec(g->db, "PRAGMA cache_size=-2000000");
}

int
main(int argc, char **argv)
{
	struct gen g = { 0 };

	parse_args(argc, argv, &g);
	clock_gettime(CLOCK_MONOTONIC, &g.t0);
	open_db(&g);
	g.terms = xcalloc((size_t)g.nterm, sizeof(*g.terms));
	for (int i = 0; i < g.nterm; i++)
		term_init(&g.terms[i], i, g.per);
	load_events(&g);
	exec(g.db, "BEGIN");
	load_agents(&g);
	load_alerts(&g);
	exec(g.db, "COMMIT");
	exec(g.db, "PRAGMA journal_mode=WAL");
	sqlite3_close(g.db);
	write_sample(g.path, g.terms, g.nterm, g.total, g.nalerts);
	fprintf(stderr, "bench_review_gen: %" PRId64 " events, %d alerts, %d "
			"terminals in %.0f s\n", g.total, g.nalerts, g.nterm,
	    elapsed(&g));
	free(g.terms);
	free(g.b.p);
	return 0;
}
