/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mg_scale_gen: one simulated terminal's backlog for bench/scale/run.sh.
 * Writes DAYS x PER_DAY signed records to stdout, back to back, as the
 * agent's spool holds them after a month without a collector: numbered
 * 1..N, chained, one agent start per day (boot_id = day), critical flags
 * as the agent sets them.
 *
 *   mg_scale_gen --key K --cert C --start UNIX_S [--days D] [--per-day N]
 *
 * Bodies are built by mg_event_body(), as the agent builds them, from a
 * mix shaped like a window terminal's day: agent start, policy load and
 * the HID and card-reader decisions at boot, then logins, USB sticks
 * (read-only) in and out, periodic agent-state, a few failed PINs and
 * blocked phones, and agent-stopped at night.  The mix is pseudo-random
 * but fixed by the agent id: the same bodies, at the same times after
 * --start, on every run (the signatures differ: tools/mkcerts.sh makes
 * new keys).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mynaguard/event.h"

#define NS 1000000000LL
#define DAY_S 86400LL
#define WORK_START_S (8 * 3600LL) /* the terminal is switched on */
#define WORK_SPAN_S (10 * 3600LL) /* and used for ten hours */
#define OUT_BUF (1u << 20)
#define POLICY_PATH "/etc/mynaguard/policy.conf"
#define RO_LABEL "USBメモリ・SDカード：読み取り専用（書き込み禁止）"

struct gen {
	const struct mg_signer *s;
	struct mg_event_ctx ctx;
	uint64_t rng;
	uint8_t prev[MG_REC_HASH_LEN];
	int64_t boot_ns; /* when the OS booted this day */
	char policy_hash[65], users[3][16], key_ids[3][65], serial[21];
	char num[2][24]; /* decimal fields of the current event */
	struct sbuf body, rec;
};

struct usb_dev {
	const char *vid, *pid, *vendor, *product, *kind, *ifaces, *path;
	const char *verdict, *rule, *line, *label;
};

/* What the town's policy (policy/mynumber-terminal.conf) decides. */
static const struct usb_dev boot_devs[] = {
	{ "046d", "c31c", "Logitech", "USB Keyboard", "hid",
	    "03:01:01 03:00:00", "1-1.1", "allow", "6", "124",
	    "キーボード・マウス（HID）" },
	{ "046d", "c077", "Logitech", "USB Optical Mouse", "hid", "03:01:02",
	    "1-1.3", "allow", "6", "124", "キーボード・マウス（HID）" },
	{ "04e6", "5116", "SCM Microsystems Inc.", "SCR33xx v2.0 USB SC Reader",
	    NULL, "0b:00:00", "1-1.4", "read-only", "0", "144", NULL },
	{ "1050", "0407", "Yubico", "YubiKey OTP+FIDO+CCID", "hid fido",
	    "03:01:01 03:00:00 0b:00:00", "1-2", "allow", "5", "113",
	    "FIDO2セキュリティキー（多要素認証）" },
};
static const struct usb_dev stick = { "0781", "5581", " USB",
	" SanDisk 3.2Gen1", "storage", "08:06:50", "1-1.2", "read-only", "4",
	"105", RO_LABEL };
static const struct usb_dev phone = { "04e8", "6860", "SAMSUNG",
	"SAMSUNG_Android", "mtp", "06:01:01 ff:ff:00", "1-1.2", "block", "1",
	"62", "スマートフォン・カメラ（MTP/PTP）：使用禁止" };

static const char *const user_pool[] = { "yamada", "sato", "suzuki",
	"takahashi", "tanaka", "watanabe", "ito", "nakamura", "kobayashi",
	"kato" };

enum kind {
	K_LOGIN,
	K_LOGIN_FAILED,
	K_STICK_IN,
	K_REMOVED,
	K_HID,
	K_PHONE,
	K_STATE,
	K_TEST,
	K_RELOADED,
	K_POLICY,
};

/* Per mille of the events between a day's boot and its stop. */
static const struct {
	enum kind k;
	unsigned w;
} mix[] = {
	{ K_LOGIN, 230 },
	{ K_LOGIN_FAILED, 20 },
	{ K_STICK_IN, 145 },
	{ K_REMOVED, 165 },
	{ K_HID, 200 },
	{ K_PHONE, 5 },
	{ K_STATE, 200 },
	{ K_TEST, 10 },
	{ K_RELOADED, 15 },
	{ K_POLICY, 10 },
};

/* splitmix64 */
static uint64_t
rnd(struct gen *g)
{
	uint64_t z = (g->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned
below(struct gen *g, unsigned n)
{
	return (unsigned)(rnd(g) % n);
}

static void
rnd_hex(struct gen *g, char *out, size_t digits)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < digits; i++)
		out[i] = hex[rnd(g) & 15];
	out[digits] = '\0';
}

static void
add(struct mg_field_val *f, size_t *n, enum mg_field id, const char *v)
{
	if (v != NULL)
		f[(*n)++] = (struct mg_field_val){ id, v, strlen(v) };
}

static void
dev_fields(struct mg_field_val *f, size_t *n, const struct usb_dev *d)
{
	add(f, n, MG_F_DEV_VID, d->vid);
	add(f, n, MG_F_DEV_PID, d->pid);
	add(f, n, MG_F_DEV_VENDOR, d->vendor);
	add(f, n, MG_F_DEV_PRODUCT, d->product);
	add(f, n, MG_F_DEV_KIND, d->kind);
	add(f, n, MG_F_DEV_BUS, "usb");
	add(f, n, MG_F_DEV_PATH, d->path);
	add(f, n, MG_F_DEV_IFACES, d->ifaces);
}

static enum mg_event_type
decision(struct gen *g, const struct usb_dev *d, const char *user,
    struct mg_field_val *f, size_t *n)
{
	dev_fields(f, n, d);
	if (d == &stick)
		add(f, n, MG_F_DEV_SERIAL, g->serial);
	add(f, n, MG_F_VERDICT, d->verdict);
	add(f, n, MG_F_RULE, d->rule);
	add(f, n, MG_F_RULE_LINE, d->line);
	add(f, n, MG_F_RULE_LABEL, d->label);
	add(f, n, MG_F_DECIDER, "agent");
	add(f, n, MG_F_USER, user);
	if (strcmp(d->verdict, "allow") == 0) {
		add(f, n, MG_F_MESSAGE, "authorized, all interfaces enabled");
		return MG_EV_DEVICE_ALLOWED;
	}
	if (strcmp(d->verdict, "block") == 0) {
		add(f, n, MG_F_MESSAGE, "not authorized");
		return MG_EV_DEVICE_BLOCKED;
	}
	add(f, n, MG_F_MESSAGE, "authorized, 1 interface enabled, 0 withheld");
	return MG_EV_DEVICE_READ_ONLY;
}

static enum mg_event_type
login(struct gen *g, bool ok, struct mg_field_val *f, size_t *n)
{
	unsigned u = below(g, 3);

	add(f, n, MG_F_USER, g->users[u]);
	add(f, n, MG_F_LOGIN_SERVICE, "gdm-password");
	add(f, n, MG_F_LOGIN_TTY, ":0");
	add(f, n, MG_F_KEY_ID, g->key_ids[u]);
	add(f, n, MG_F_KEY_LABEL, "窓口 YubiKey 5 NFC");
	add(f, n, MG_F_KEY_AAGUID, "cb69481e-8ff7-4039-93ec-0a2729a154a8");
	add(f, n, MG_F_KEY_RP, "pam://mynaguard");
	snprintf(g->num[0], sizeof(g->num[0]), "%u", 10 + below(g, 5000));
	add(f, n, MG_F_KEY_COUNTER, g->num[0]);
	if (ok)
		return MG_EV_LOGIN_SUCCEEDED;
	snprintf(g->num[1], sizeof(g->num[1]), "%u", 1 + below(g, 2));
	add(f, n, MG_F_LOGIN_FAILURES, g->num[1]);
	add(f, n, MG_F_REASON, "pin-invalid");
	add(f, n, MG_F_MESSAGE, "wrong PIN");
	return MG_EV_LOGIN_FAILED;
}

static enum mg_event_type
state(struct gen *g, struct mg_field_val *f, size_t *n)
{
	snprintf(g->num[0], sizeof(g->num[0]), "%llu",
	    (unsigned long long)(g->ctx.seq - 1));
	add(f, n, MG_F_VERSION, "0.1.0");
	add(f, n, MG_F_POLICY_VERSION, "3");
	add(f, n, MG_F_POLICY_HASH, g->policy_hash);
	add(f, n, MG_F_STATE_USB_DEFAULT, "0");
	add(f, n, MG_F_STATE_IFACE_DEFAULT, "0");
	add(f, n, MG_F_STATE_DISKS, "0");
	add(f, n, MG_F_STATE_WRITABLE, "0");
	add(f, n, MG_F_STATE_UDEV, "present");
	add(f, n, MG_F_STATE_UDEV_PATH, "/lib/udev/rules.d/10-mynaguard.rules");
	add(f, n, MG_F_STATE_MODPROBE, "present");
	/* Nothing acknowledged: the collector was away all month. */
	add(f, n, MG_F_STATE_SPOOL_DEPTH, g->num[0]);
	add(f, n, MG_F_STATE_ACKED_SEQ, "0");
	f[(*n)++] = (struct mg_field_val){ MG_F_STATE_MISMATCH, "", 0 };
	return MG_EV_AGENT_STATE;
}

static enum mg_event_type
policy(struct gen *g, struct mg_field_val *f, size_t *n)
{
	add(f, n, MG_F_POLICY_PATH, POLICY_PATH);
	add(f, n, MG_F_POLICY_HASH, g->policy_hash);
	add(f, n, MG_F_POLICY_VERSION, "3");
	return MG_EV_POLICY_LOADED;
}

static enum mg_event_type
started(struct gen *g, struct mg_field_val *f, size_t *n)
{
	snprintf(g->num[0], sizeof(g->num[0]), "%llu",
	    (unsigned long long)(g->ctx.seq - 1));
	add(f, n, MG_F_VERSION, "0.1.0");
	add(f, n, MG_F_PREV_SEQ, g->num[0]);
	add(f, n, MG_F_CLEAN, "yes");
	return MG_EV_AGENT_STARTED;
}

static enum mg_event_type
removed(struct gen *g, struct mg_field_val *f, size_t *n)
{
	add(f, n, MG_F_DEV_SERIAL, g->serial);
	add(f, n, MG_F_DEV_PRODUCT, stick.product);
	add(f, n, MG_F_DEV_PATH, stick.path);
	return MG_EV_DEVICE_REMOVED;
}

static enum mg_event_type
pick(struct gen *g, struct mg_field_val *f, size_t *n)
{
	unsigned r = below(g, 1000), i;
	const char *user = g->users[below(g, 3)];

	for (i = 0; i + 1 < MG_ELEMENTSOF(mix) && r >= mix[i].w; i++)
		r -= mix[i].w;
	switch (mix[i].k) {
	case K_LOGIN:
	case K_LOGIN_FAILED:
		return login(g, mix[i].k == K_LOGIN, f, n);
	case K_STICK_IN:
		return decision(g, &stick, user, f, n);
	case K_REMOVED:
		return removed(g, f, n);
	case K_HID:
		return decision(g, &boot_devs[below(g, 2)], user, f, n);
	case K_PHONE:
		return decision(g, &phone, user, f, n);
	case K_STATE:
		return state(g, f, n);
	case K_TEST:
		add(f, n, MG_F_USER, user);
		add(f, n, MG_F_MESSAGE, "窓口端末の動作確認 (test)");
		return MG_EV_TEST;
	case K_RELOADED:
		add(f, n, MG_F_MESSAGE, "configuration reloaded on SIGHUP");
		return MG_EV_AGENT_RELOADED;
	default:
		return policy(g, f, n);
	}
}

/* Event j of a day of per_day: the boot sequence, the mix, the stop. */
static enum mg_event_type
event_of(struct gen *g, uint64_t j, uint64_t per_day, struct mg_field_val *f,
    size_t *n)
{
	const uint64_t boot = 2 + MG_ELEMENTSOF(boot_devs);

	if (per_day < boot + 2)
		return pick(g, f, n);
	if (j == 0)
		return started(g, f, n);
	if (j == 1)
		return policy(g, f, n);
	if (j == 2)
		return state(g, f, n);
	if (j < boot + 1)
		return decision(g, &boot_devs[j - 3], NULL, f, n);
	if (j == per_day - 1) {
		add(f, n, MG_F_REASON, "stopped by signal");
		return MG_EV_AGENT_STOPPED;
	}
	return pick(g, f, n);
}

static int
emit(
    struct gen *g, enum mg_event_type t, const struct mg_field_val *f, size_t n)
{
	struct mg_record_in in;
	const char *why = NULL;
	int r;

	g->body.len = 0;
	if ((r = mg_event_body(t, f, n, &g->ctx, &g->body, &why)) < 0) {
		fprintf(stderr, "mg_scale_gen: %s body: %s\n",
		    mg_event_action(t), why != NULL ? why : strerror(-r));
		return r;
	}
	memset(&in, 0, sizeof(in));
	in.flags = mg_event_critical(t) ? MG_REC_F_CRITICAL : 0;
	in.boot_id = g->ctx.boot_id;
	in.seq = g->ctx.seq;
	in.t_wall_ns = g->ctx.t_wall_ns;
	in.t_boot_ns = (uint64_t)(g->ctx.t_wall_ns - g->boot_ns);
	in.body = g->body.data;
	in.body_len = g->body.len;
	memcpy(in.prev_hash, g->prev, MG_REC_HASH_LEN);
	g->rec.len = 0;
	if ((r = mg_record_encode(g->s, &in, &g->rec, g->prev)) < 0)
		return r;
	if (fwrite(g->rec.data, 1, g->rec.len, stdout) != g->rec.len)
		return -EIO;
	return 0;
}

static int
day(struct gen *g, int64_t start_s, uint64_t d, uint64_t per_day)
{
	struct mg_field_val f[MG_FIELDS_MAX];
	int64_t step = WORK_SPAN_S * NS / (int64_t)(per_day + 1), t0;
	enum mg_event_type t;
	uint64_t j;
	size_t n;
	int r;

	t0 = (start_s + (int64_t)d * DAY_S + WORK_START_S) * NS +
	    (int64_t)below(g, 1800) * NS;
	g->boot_ns = t0 - 40 * NS;
	g->ctx.boot_id = d + 1;
	for (j = 0; j < per_day; j++) {
		g->ctx.seq++;
		/* In order, never two at once: jitter within the step. */
		g->ctx.t_wall_ns = t0 + (int64_t)(j + 1) * step +
		    (int64_t)(rnd(g) % (uint64_t)(step / 2 + 1));
		n = 0;
		t = event_of(g, j, per_day, f, &n);
		if ((r = emit(g, t, f, n)) < 0)
			return r;
	}
	return 0;
}

/* The terminal's fixed cast: its users, their keys, its USB stick. */
static void
setup(struct gen *g)
{
	const char *id = mg_signer_agent_id(g->s);
	uint64_t h = 1469598103934665603ull;
	unsigned i;

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211ull;
	g->rng = h;
	rnd_hex(g, g->policy_hash, 64);
	for (i = 0; i < 3; i++) {
		snprintf(g->users[i], sizeof(g->users[i]), "%s",
		    user_pool[below(g, MG_ELEMENTSOF(user_pool))]);
		rnd_hex(g, g->key_ids[i], 64);
	}
	rnd_hex(g, g->serial, 20);
	for (i = 0; i < 20; i++) /* serials are upper-case */
		if (g->serial[i] >= 'a')
			g->serial[i] = (char)(g->serial[i] - 'a' + 'A');
	g->ctx.host_name = mg_signer_agent_id(g->s);
	g->ctx.agent_id = g->ctx.host_name;
}

struct args {
	const char *key, *cert;
	uint64_t days, per_day, start;
};

static int
parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "cert", required_argument, NULL, 'c' },
		{ "start", required_argument, NULL, 's' },
		{ "days", required_argument, NULL, 'd' },
		{ "per-day", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	int c, r = 0;

	while (r == 0 && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			a->key = optarg;
			break;
		case 'c':
			a->cert = optarg;
			break;
		case 's':
			r = parse_u64(optarg, 0, 4000000000u, &a->start);
			break;
		case 'd':
			r = parse_u64(optarg, 1, 3650, &a->days);
			break;
		case 'n':
			r = parse_u64(optarg, 1, 100000, &a->per_day);
			break;
		default:
			r = -EINVAL;
			break;
		}
	}
	if (r < 0 || optind != argc || a->key == NULL || a->cert == NULL ||
	    a->start == 0)
		return -EINVAL;
	return 0;
}

int
main(int argc, char **argv)
{
	struct args a = { .days = 30, .per_day = 300 };
	struct gen g;
	struct mg_signer *s = NULL;
	const char *why = "";
	uint64_t d;
	int r;

	if (parse_args(argc, argv, &a) < 0) {
		fprintf(stderr,
		    "usage: mg_scale_gen --key K --cert C "
		    "--start UNIX_S [--days D] [--per-day N] >records.bin\n");
		return 2;
	}
	if ((r = mg_signer_load(a.key, a.cert, &s, &why)) < 0) {
		fprintf(stderr, "mg_scale_gen: %s\n", why);
		return 1;
	}
	memset(&g, 0, sizeof(g));
	g.s = s;
	setup(&g);
	sbuf_init(&g.body, MG_REC_BODY_MAX);
	sbuf_init(&g.rec, MG_REC_MAX);
	setvbuf(stdout, NULL, _IOFBF, OUT_BUF);
	for (d = 0; d < a.days && r >= 0; d++)
		r = day(&g, (int64_t)a.start, d, a.per_day);
	if (fflush(stdout) != 0 && r >= 0)
		r = -EIO;
	if (r < 0)
		fprintf(stderr, "mg_scale_gen: %s\n", strerror(-r));
	sbuf_clear(&g.body);
	sbuf_clear(&g.rec);
	mg_signer_free(s);
	return r < 0 ? 1 : 0;
}
