/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * CTAPHID framing (CTAP 2.0 §8.1) over 64-byte reports, driven by the
 * caller: softkey_hid_write() takes output reports, softkey_hid_read()
 * hands out input reports and runs a small time-driven state machine for
 * a request that waits for a touch (keepalives every 100 ms, the touch
 * after touch_delay_ms, CANCEL, a 30 s timeout).  No threads.
 *
 * Beyond the spec, an INIT on the broadcast channel aborts whatever is
 * pending: that is how a new process gets the key back after the previous
 * one died while the key waited for a touch.
 */

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "softkey_int.h"

#define INIT_DATA 57 /* 64 - cid(4) - cmd(1) - bcnt(2) */
#define CONT_DATA 59 /* 64 - cid(4) - seq(1) */
#define NCID 16
#define QUEUE_MAX 256 /* reports; a full-size reply needs 130 */
#define RX_TIMEOUT_MS 3000
#define NEVER UINT64_MAX

#define ERR_INVALID_CMD 0x01
#define ERR_INVALID_LEN 0x03
#define ERR_INVALID_SEQ 0x04
#define ERR_MSG_TIMEOUT 0x05
#define ERR_CHANNEL_BUSY 0x06
#define ERR_INVALID_CHANNEL 0x0b
#define ERR_OTHER 0x7f

#define KEEPALIVE_UPNEEDED 2

static const uint8_t broadcast[4] = { 0xff, 0xff, 0xff, 0xff };

struct sk_hid {
	uint8_t cids[NCID][4]; /* allocated channels, a ring */
	unsigned ncid, next_cid;

	/* the request being received */
	bool rx_busy;
	uint8_t rx_cid[4], rx_cmd, rx_seq;
	size_t rx_total, rx_got;
	uint64_t rx_last;
	uint8_t rx_buf[SK_MAXMSG];

	/* the request waiting for a touch */
	bool pending;
	uint8_t p_cid[4], p_cmd;
	size_t p_len;
	uint64_t p_start, p_touch_at, p_next_ka;
	uint8_t p_req[SK_MAXMSG];

	/* outgoing reports */
	uint8_t q[QUEUE_MAX][SOFTKEY_REPORT_LEN];
	size_t q_head, q_len;

	uint8_t reply[SK_MAXMSG];
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void
sk_hid_free(struct sk_hid *h)
{
	if (h == NULL)
		return;
	explicit_bzero(h, sizeof(*h)); /* PIN material passes through */
	free(h);
}

static struct sk_hid *
get_hid(struct softkey *sk)
{
	if (sk->hid == NULL)
		sk->hid = calloc(1, sizeof(*sk->hid));
	return sk->hid;
}

static bool
cid_known(const struct sk_hid *h, const uint8_t cid[4])
{
	for (unsigned i = 0; i < h->ncid; i++)
		if (memcmp(h->cids[i], cid, 4) == 0)
			return true;
	return false;
}

static void
cid_add(struct sk_hid *h, const uint8_t cid[4])
{
	memcpy(h->cids[h->next_cid], cid, 4);
	h->next_cid = (h->next_cid + 1) % NCID;
	if (h->ncid < NCID)
		h->ncid++;
}

static uint8_t *
q_push(struct sk_hid *h)
{
	uint8_t *r;

	if (h->q_len == QUEUE_MAX)
		return NULL; /* the host does not read: drop */
	r = h->q[(h->q_head + h->q_len++) % QUEUE_MAX];
	memset(r, 0, SOFTKEY_REPORT_LEN);
	return r;
}

/* Queue a whole message as an init packet and continuation packets. */
static void
send_msg(struct sk_hid *h, const uint8_t cid[4], uint8_t cmd,
    const uint8_t *data, size_t len)
{
	uint8_t *r;
	size_t n, off = 0;

	if ((r = q_push(h)) == NULL)
		return;
	memcpy(r, cid, 4);
	r[4] = (uint8_t)(0x80 | cmd);
	r[5] = (uint8_t)(len >> 8);
	r[6] = (uint8_t)len;
	n = len < INIT_DATA ? len : INIT_DATA;
	if (n > 0)
		memcpy(r + 7, data, n);
	off = n;
	for (uint8_t seq = 0; off < len && seq < 0x80; seq++) {
		if ((r = q_push(h)) == NULL)
			return;
		memcpy(r, cid, 4);
		r[4] = seq;
		n = len - off < CONT_DATA ? len - off : CONT_DATA;
		memcpy(r + 5, data + off, n);
		off += n;
	}
}

static void
send_error(struct sk_hid *h, const uint8_t cid[4], uint8_t code)
{
	send_msg(h, cid, SOFTKEY_CTAPHID_ERROR, &code, 1);
}

static const char *
cbor_name(uint8_t code)
{
	return code == 0x01 ? "makecred" : code == 0x02 ? "getassert" : "cbor";
}

/* End the waiting request with a bare CTAP status (cancel, timeout). */
static void
finish_pending(struct softkey *sk, struct sk_hid *h, uint8_t status)
{
	struct sk_loginfo li = { .name = cbor_name(h->p_req[0]), .up = 1 };

	h->pending = false;
	send_msg(h, h->p_cid, SOFTKEY_CTAPHID_CBOR, &status, 1);
	sk_log(sk, &li, status);
}

static void
abort_all(struct softkey *sk, struct sk_hid *h)
{
	struct sk_loginfo li = { .name = "abort", .up = -1 };

	if (h->pending)
		sk_log(sk, &li, 0);
	h->pending = false;
	h->rx_busy = false;
	h->q_len = 0;
}

/* When the waiting request gets its touch: never with no_touch. */
static uint64_t
touch_time(const struct softkey *sk, const struct sk_hid *h)
{
	if (sk->faults.no_touch)
		return NEVER;
	return h->p_start + sk->faults.touch_delay_ms;
}

/* A complete request: run it, queue the reply or start waiting. */
static int
handle_msg(struct softkey *sk, struct sk_hid *h, const uint8_t cid[4],
    uint8_t cmd, const uint8_t *data, size_t len)
{
	size_t rlen = 0;
	int r;

	if (!sk_count_msg(sk))
		return -ENODEV;
	r = sk_dispatch(
	    sk, cmd, data, len, SK_UP_ASK, h->reply, sizeof(h->reply), &rlen);
	if (r == SK_PENDING_UP) {
		memcpy(h->p_cid, cid, 4);
		h->p_cmd = cmd;
		memcpy(h->p_req, data, len);
		h->p_len = len;
		h->pending = true;
		h->p_start = h->p_next_ka = now_ms();
		h->p_touch_at = touch_time(sk, h);
	} else if (r < 0) {
		send_error(h, cid, ERR_OTHER);
	} else if (r > 0) {
		if (cmd == SOFTKEY_CTAPHID_INIT && r == SOFTKEY_CTAPHID_INIT) {
			if (memcmp(cid, broadcast, 4) == 0)
				cid_add(h, h->reply + 8);
			else
				memcpy(h->reply + 8, cid, 4); /* resync */
		}
		send_msg(h, cid, (uint8_t)r, h->reply, rlen);
	}
	return 0;
}

/* CANCEL (§8.1.9.1.5): no reply; ends a request waiting for a touch. */
static int
cancel(struct softkey *sk, struct sk_hid *h, const uint8_t cid[4])
{
	size_t n = 0;

	if (h->rx_busy && memcmp(h->rx_cid, cid, 4) == 0)
		h->rx_busy = false;
	if (!sk_count_msg(sk))
		return -ENODEV;
	(void)sk_dispatch(sk, SOFTKEY_CTAPHID_CANCEL, NULL, 0, SK_UP_ASK,
	    h->reply, sizeof(h->reply), &n); /* logs it */
	if (h->pending && memcmp(h->p_cid, cid, 4) == 0)
		finish_pending(sk, h, CTAP2_ERR_KEEPALIVE_CANCEL);
	return 0;
}

/* The first packet of a request on an allocated channel. */
static int
start_rx(struct softkey *sk, struct sk_hid *h, const uint8_t *p, size_t bcnt)
{
	if (h->pending || (h->rx_busy && memcmp(h->rx_cid, p, 4) != 0)) {
		send_error(h, p, ERR_CHANNEL_BUSY);
		return 0;
	}
	if (bcnt > SK_MAXMSG) {
		send_error(h, p, ERR_INVALID_LEN);
		return 0;
	}
	memcpy(h->rx_cid, p, 4);
	h->rx_cmd = p[4] & 0x7f;
	h->rx_total = bcnt;
	h->rx_got = bcnt < INIT_DATA ? bcnt : INIT_DATA;
	memcpy(h->rx_buf, p + 7, h->rx_got);
	h->rx_seq = 0;
	h->rx_last = now_ms();
	h->rx_busy = h->rx_got < bcnt;
	if (h->rx_busy)
		return 0;
	return handle_msg(sk, h, h->rx_cid, h->rx_cmd, h->rx_buf, bcnt);
}

static int
init_packet(struct softkey *sk, struct sk_hid *h, const uint8_t *p)
{
	const uint8_t *cid = p;
	uint8_t cmd = p[4] & 0x7f;
	size_t bcnt = (size_t)p[5] << 8 | p[6];
	bool bc = memcmp(cid, broadcast, 4) == 0;

	if (cmd == SOFTKEY_CTAPHID_INIT && (bc || cid_known(h, cid))) {
		if (bcnt != 8) {
			send_error(h, cid, ERR_INVALID_LEN);
			return 0;
		}
		if (bc || (h->pending && memcmp(h->p_cid, cid, 4) == 0))
			abort_all(sk, h);
		return handle_msg(sk, h, cid, cmd, p + 7, bcnt);
	}
	if (bc || !cid_known(h, cid)) {
		send_error(h, cid, ERR_INVALID_CHANNEL);
		return 0;
	}
	if (cmd == SOFTKEY_CTAPHID_CANCEL)
		return cancel(sk, h, cid);
	return start_rx(sk, h, p, bcnt);
}

static int
cont_packet(struct softkey *sk, struct sk_hid *h, const uint8_t *p)
{
	size_t n;

	/* CTAP 2.0 §8.1.5.3: spurious continuation packets are ignored */
	if (!h->rx_busy || memcmp(h->rx_cid, p, 4) != 0)
		return 0;
	if (p[4] != h->rx_seq) {
		h->rx_busy = false;
		send_error(h, p, ERR_INVALID_SEQ);
		return 0;
	}
	n = h->rx_total - h->rx_got;
	if (n > CONT_DATA)
		n = CONT_DATA;
	memcpy(h->rx_buf + h->rx_got, p + 5, n);
	h->rx_got += n;
	h->rx_seq++;
	h->rx_last = now_ms();
	if (h->rx_got < h->rx_total)
		return 0;
	h->rx_busy = false;
	return handle_msg(sk, h, h->rx_cid, h->rx_cmd, h->rx_buf, h->rx_total);
}

int
softkey_hid_write(struct softkey *sk, const uint8_t *report, size_t len)
{
	struct sk_hid *h;
	int r;

	if (sk == NULL || report == NULL)
		return -EINVAL;
	if (len == SOFTKEY_REPORT_LEN + 1 && report[0] == 0)
		report++; /* libfido2: report id 0 first */
	else if (len != SOFTKEY_REPORT_LEN)
		return -EINVAL;
	if (sk->removed)
		return -ENODEV;
	if ((h = get_hid(sk)) == NULL)
		return -ENOMEM;
	if (report[4] & 0x80)
		r = init_packet(sk, h, report);
	else
		r = cont_packet(sk, h, report);
	return r < 0 ? r : (int)len;
}

/* The touch may also come from the file: re-read the knobs now and then,
 * so `skctl set STATE no_touch=0` touches a waiting key. */
static void
recheck_touch(struct softkey *sk, struct sk_hid *h)
{
	if (sk->path == NULL || sk_txn_begin(sk) < 0)
		return;
	(void)sk_txn_end(sk, false);
	h->p_touch_at = touch_time(sk, h);
}

/* Advance the clock-driven parts; may queue reports. */
static void
tick(struct softkey *sk, struct sk_hid *h, uint64_t now)
{
	uint8_t ka = KEEPALIVE_UPNEEDED;
	size_t rlen = 0;
	int r;

	if (h->rx_busy && now - h->rx_last >= RX_TIMEOUT_MS) {
		h->rx_busy = false;
		send_error(h, h->rx_cid, ERR_MSG_TIMEOUT);
	}
	if (!h->pending)
		return;
	if (now >= h->p_touch_at) {
		h->pending = false;
		r = sk_dispatch(sk, h->p_cmd, h->p_req, h->p_len, SK_UP_GRANTED,
		    h->reply, sizeof(h->reply), &rlen);
		if (r > 0 && r < SK_PENDING_UP)
			send_msg(h, h->p_cid, (uint8_t)r, h->reply, rlen);
		else
			send_error(h, h->p_cid, ERR_OTHER);
	} else if (now - h->p_start >= SK_UP_TIMEOUT_MS) {
		finish_pending(sk, h, CTAP2_ERR_USER_ACTION_TIMEOUT);
	} else if (now >= h->p_next_ka) {
		send_msg(h, h->p_cid, SOFTKEY_CTAPHID_KEEPALIVE, &ka, 1);
		h->p_next_ka = now + SK_KEEPALIVE_MS;
		recheck_touch(sk, h);
	}
}

static uint64_t
next_event(const struct sk_hid *h)
{
	uint64_t t = NEVER;

	if (h->rx_busy)
		t = h->rx_last + RX_TIMEOUT_MS;
	if (h->pending) {
		if (h->p_touch_at < t)
			t = h->p_touch_at;
		if (h->p_next_ka < t)
			t = h->p_next_ka;
		if (h->p_start + SK_UP_TIMEOUT_MS < t)
			t = h->p_start + SK_UP_TIMEOUT_MS;
	}
	return t;
}

static void
sleep_until(uint64_t when, uint64_t now)
{
	struct timespec ts;
	uint64_t d = when - now;

	ts.tv_sec = (time_t)(d / 1000u);
	ts.tv_nsec = (long)(d % 1000u) * 1000000L;
	(void)nanosleep(&ts, NULL); /* EINTR: the caller loops */
}

int
softkey_hid_read(struct softkey *sk, uint8_t *buf, size_t len, int ms)
{
	struct sk_hid *h;
	uint64_t now, deadline, next;

	if (sk == NULL || buf == NULL || len < SOFTKEY_REPORT_LEN)
		return -EINVAL;
	if (sk->removed)
		return -ENODEV;
	if ((h = get_hid(sk)) == NULL)
		return -ENOMEM;
	now = now_ms();
	deadline = ms < 0 ? NEVER : now + (uint64_t)ms;
	for (;;) {
		tick(sk, h, now);
		if (h->q_len > 0) {
			memcpy(buf, h->q[h->q_head], SOFTKEY_REPORT_LEN);
			h->q_head = (h->q_head + 1) % QUEUE_MAX;
			h->q_len--;
			return SOFTKEY_REPORT_LEN;
		}
		next = next_event(h);
		if (next == NEVER && ms < 0)
			return -ETIMEDOUT; /* nothing can ever come */
		if (now >= deadline)
			return -ETIMEDOUT;
		sleep_until(next < deadline ? next : deadline, now);
		now = now_ms();
	}
}

int
softkey_hid_poll_ms(struct softkey *sk)
{
	struct sk_hid *h;
	uint64_t now, next;

	if (sk == NULL || (h = get_hid(sk)) == NULL)
		return -1;
	now = now_ms();
	tick(sk, h, now);
	if (h->q_len > 0)
		return 0;
	if ((next = next_event(h)) == NEVER)
		return -1;
	return next <= now	 ? 0 :
	    next - now > INT_MAX ? INT_MAX :
				   (int)(next - now);
}
