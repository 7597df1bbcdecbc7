/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The softkey below libfido2: CTAPHID messages straight to softkey_msg(),
 * and raw 64-byte reports through the framing layer (channels, sequence
 * errors, keepalives, CANCEL, an INIT that aborts a waiting request).
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "softkey.h"

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the message level ------------------------------------------------ */

static void
test_msg_level(void **state)
{
	struct softkey *sk = NULL;
	struct softkey_faults flt = { .remove_after = 6 };
	uint8_t out[128], getinfo = 0x04;
	static const uint8_t nonce[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	size_t n = 0;

	(void)state;
	assert_int_equal(softkey_new(&sk), 0);
	assert_int_equal(softkey_msg(sk, SOFTKEY_CTAPHID_INIT, nonce, 8, out,
			     sizeof(out), &n),
	    SOFTKEY_CTAPHID_INIT);
	assert_int_equal(n, 17);
	assert_memory_equal(out, nonce, 8);
	assert_int_equal(out[12], 2);
	assert_int_equal(out[16], 0x0c); /* CBOR|NMSG, no WINK */
	assert_int_equal(softkey_msg(sk, SOFTKEY_CTAPHID_PING, nonce, 8, out,
			     sizeof(out), &n),
	    SOFTKEY_CTAPHID_PING);
	assert_int_equal(n, 8);
	assert_int_equal(softkey_msg(sk, SOFTKEY_CTAPHID_MSG, nonce, 8, out,
			     sizeof(out), &n),
	    SOFTKEY_CTAPHID_ERROR);
	assert_int_equal(out[0], 0x01); /* INVALID_CMD */
	assert_int_equal(softkey_msg(sk, SOFTKEY_CTAPHID_CANCEL, NULL, 0, out,
			     sizeof(out), &n),
	    0);
	assert_int_equal(softkey_msg(sk, SOFTKEY_CTAPHID_CBOR, &getinfo, 1, out,
			     sizeof(out), &n),
	    SOFTKEY_CTAPHID_CBOR);
	assert_int_equal(out[0], 0x00);
	assert_true(n > 20);
	assert_int_equal(
	    softkey_msg(sk, SOFTKEY_CTAPHID_CBOR, &getinfo, 1, out, 8, &n),
	    SOFTKEY_CTAPHID_CBOR);
	assert_int_equal(out[0], 0x7f); /* reply too big */
	/* six messages so far: the seventh finds the key unplugged */
	assert_int_equal(softkey_set_faults(sk, &flt), 0);
	assert_int_equal(softkey_msg(sk, SOFTKEY_CTAPHID_PING, nonce, 8, out,
			     sizeof(out), &n),
	    -ENODEV);
	softkey_free(sk);
}

/* ---- framing with raw reports ---------------------------------------- */

static void
wr(struct softkey *sk, const uint8_t cid[4], int cmd_or_seq,
    const uint8_t *data, size_t len, size_t bcnt)
{
	uint8_t r[65];

	memset(r, 0, sizeof(r));
	memcpy(r + 1, cid, 4);
	r[5] = (uint8_t)cmd_or_seq;
	if (cmd_or_seq & 0x80) {
		r[6] = (uint8_t)(bcnt >> 8);
		r[7] = (uint8_t)bcnt;
	}
	if (len > 0)
		memcpy(r + ((cmd_or_seq & 0x80) ? 8 : 6), data, len);
	assert_int_equal(softkey_hid_write(sk, r, sizeof(r)), 65);
}

static void
rd(struct softkey *sk, uint8_t r[64], int ms)
{
	assert_int_equal(softkey_hid_read(sk, r, 64, ms), 64);
}

static void
hid_init(struct softkey *sk, uint8_t cid[4])
{
	static const uint8_t bc[4] = { 0xff, 0xff, 0xff, 0xff };
	static const uint8_t nonce[8] = { 9, 8, 7, 6, 5, 4, 3, 2 };
	uint8_t r[64];

	wr(sk, bc, 0x86, nonce, 8, 8);
	rd(sk, r, 0);
	assert_memory_equal(r, bc, 4);
	assert_int_equal(r[4], 0x86);
	assert_int_equal(r[6], 17);
	assert_memory_equal(r + 7, nonce, 8);
	memcpy(cid, r + 15, 4);
}

static void
test_hid_framing(void **state)
{
	struct softkey *sk = NULL;
	uint8_t cid[4], cid2[4], r[64], big[200];
	static const uint8_t unknown[4] = { 1, 2, 3, 4 };

	(void)state;
	assert_int_equal(softkey_new(&sk), 0);
	assert_int_equal(softkey_hid_write(sk, big, 63), -EINVAL);
	assert_int_equal(softkey_hid_read(sk, r, 64, 0), -ETIMEDOUT);
	assert_int_equal(softkey_hid_read(sk, r, 64, -1), -ETIMEDOUT);
	hid_init(sk, cid);
	hid_init(sk, cid2);
	assert_memory_not_equal(cid, cid2, 4);
	/* a multi-packet PING comes back whole, on its channel */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)i;
	wr(sk, cid, 0x81, big, 57, sizeof(big));
	wr(sk, cid, 0x00, big + 57, 59, 0);
	wr(sk, cid, 0x01, big + 116, 59, 0);
	wr(sk, cid, 0x02, big + 175, 25, 0);
	rd(sk, r, 0);
	assert_memory_equal(r, cid, 4);
	assert_int_equal(r[4], 0x81);
	assert_int_equal(r[5] << 8 | r[6], sizeof(big));
	assert_memory_equal(r + 7, big, 57);
	rd(sk, r, 0);
	assert_int_equal(r[4], 0x00);
	assert_memory_equal(r + 5, big + 57, 59);
	rd(sk, r, 0);
	rd(sk, r, 0);
	assert_int_equal(r[4], 0x02);
	assert_memory_equal(r + 5, big + 175, 25);
	assert_int_equal(softkey_hid_read(sk, r, 64, 10), -ETIMEDOUT);
	/* unknown channel */
	wr(sk, unknown, 0x81, big, 1, 1);
	rd(sk, r, 0);
	assert_int_equal(r[4], 0xbf);
	assert_int_equal(r[7], 0x0b);
	/* wrong sequence number */
	wr(sk, cid, 0x81, big, 57, 100);
	wr(sk, cid, 0x01, big, 43, 0);
	rd(sk, r, 0);
	assert_int_equal(r[4], 0xbf);
	assert_int_equal(r[7], 0x04);
	/* another channel while one is mid-message: busy */
	wr(sk, cid, 0x81, big, 57, 100);
	wr(sk, cid2, 0x81, big, 1, 1);
	rd(sk, r, 0);
	assert_memory_equal(r, cid2, 4);
	assert_int_equal(r[7], 0x06);
	wr(sk, cid, 0x91, NULL, 0, 0); /* CANCEL drops the half message */
	/* U2F MSG is not there */
	wr(sk, cid2, 0x83, big, 1, 1);
	rd(sk, r, 0);
	assert_int_equal(r[7], 0x01);
	softkey_free(sk);
}

/* Make a credential through the message level, for raw assertions. */
static size_t
raw_getassert_req(struct softkey *sk, bool up, uint8_t *req, size_t cap)
{
	static const uint8_t mc[] = {
		0x01,
		0xa4,
		0x01,
		0x58,
		0x20,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0x02,
		0xa1,
		0x62,
		'i',
		'd',
		0x61,
		'x',
		0x03,
		0xa1,
		0x62,
		'i',
		'd',
		0x41,
		0x01,
		0x04,
		0x81,
		0xa2,
		0x63,
		'a',
		'l',
		'g',
		0x26,
		0x64,
		't',
		'y',
		'p',
		'e',
		0x6a,
		'p',
		'u',
		'b',
		'l',
		'i',
		'c',
		'-',
		'k',
		'e',
		'y',
	};
	uint8_t out[1024];
	const uint8_t *id;
	size_t n = 0, idlen, off;

	assert_int_equal(softkey_msg(sk, SOFTKEY_CTAPHID_CBOR, mc, sizeof(mc),
			     out, sizeof(out), &n),
	    SOFTKEY_CTAPHID_CBOR);
	assert_int_equal(out[0], 0);
	/* authData: 37 + aaguid 16, then the id length and the id */
	id = memmem(out, n, "mynaguardsoftkey", 16);
	assert_non_null(id);
	idlen = (size_t)id[16] << 8 | id[17];
	assert_int_equal(idlen, 61);
	id += 18;
	off = 0;
	req[off++] = 0x02;
	req[off++] = 0xa4;
	req[off++] = 0x01; /* rpId "x" */
	req[off++] = 0x61;
	req[off++] = 'x';
	req[off++] = 0x02; /* cdh */
	req[off++] = 0x58;
	req[off++] = 0x20;
	memset(req + off, 0, 32);
	off += 32;
	req[off++] = 0x03; /* allowList */
	req[off++] = 0x81;
	req[off++] = 0xa2;
	req[off++] = 0x62;
	memcpy(req + off, "id", 2);
	off += 2;
	req[off++] = 0x58;
	req[off++] = (uint8_t)idlen;
	memcpy(req + off, id, idlen);
	off += idlen;
	req[off++] = 0x64;
	memcpy(req + off, "type", 4);
	off += 4;
	req[off++] = 0x6a;
	memcpy(req + off, "public-key", 10);
	off += 10;
	req[off++] = 0x05; /* options {"up": up} */
	req[off++] = 0xa1;
	req[off++] = 0x62;
	memcpy(req + off, "up", 2);
	off += 2;
	req[off++] = up ? 0xf5 : 0xf4;
	assert_true(off <= cap);
	return off;
}

static void
send_msg_raw(struct softkey *sk, const uint8_t cid[4], uint8_t cmd,
    const uint8_t *m, size_t len)
{
	size_t n = len < 57 ? len : 57, off;

	wr(sk, cid, 0x80 | cmd, m, n, len);
	off = n;
	for (int seq = 0; off < len; seq++) {
		n = len - off < 59 ? len - off : 59;
		wr(sk, cid, seq, m + off, n, 0);
		off += n;
	}
}

static void
test_hid_touch_cancel_abort(void **state)
{
	struct softkey *sk = NULL;
	struct softkey_faults flt = { .no_touch = true };
	uint8_t cid[4], cid2[4], r[64], req[256], probe[256];
	size_t len, plen, n = 0;
	uint64_t t0;
	int kas = 0;

	(void)state;
	assert_int_equal(softkey_new(&sk), 0);
	len = raw_getassert_req(sk, true, req, sizeof(req));
	plen = raw_getassert_req(sk, false, probe, sizeof(probe));
	assert_int_equal(softkey_set_faults(sk, &flt), 0);
	/* message level: no_touch is an immediate timeout */
	assert_int_equal(
	    softkey_msg(sk, SOFTKEY_CTAPHID_CBOR, req, len, r, sizeof(r), &n),
	    SOFTKEY_CTAPHID_CBOR);
	assert_int_equal(n, 1);
	assert_int_equal(r[0], 0x2f);

	/* framing: keepalives (UPNEEDED) until CANCEL, then 0x2d */
	hid_init(sk, cid);
	send_msg_raw(sk, cid, 0x10, req, len);
	t0 = now_ms();
	while (now_ms() - t0 < 350) {
		if (softkey_hid_read(sk, r, 64, 50) != 64)
			continue;
		assert_int_equal(r[4], 0xbb);
		assert_int_equal(r[7], 2);
		kas++;
	}
	assert_in_range(kas, 2, 5); /* every 100 ms: 4, fewer when loaded */
	hid_init(sk, cid2);	    /* aborts the waiting request, see below */
	send_msg_raw(sk, cid, 0x10, req, len);
	rd(sk, r, 0);
	assert_int_equal(r[4], 0xbb);
	wr(sk, cid2, 0x90, NULL, 0, 0); /* busy for other channels */
	rd(sk, r, 0);
	assert_int_equal(r[4], 0xbf);
	assert_int_equal(r[7], 0x06);
	wr(sk, cid, 0x91, NULL, 0, 0); /* CANCEL */
	rd(sk, r, 0);
	assert_memory_equal(r, cid, 4);
	assert_int_equal(r[4], 0x90);
	assert_int_equal(r[6], 1);
	assert_int_equal(r[7], 0x2d);

	/* a dead host left a request waiting: a new INIT frees the key */
	send_msg_raw(sk, cid, 0x10, req, len);
	rd(sk, r, 0);
	assert_int_equal(r[4], 0xbb);
	hid_init(sk, cid2); /* nothing stale before the INIT reply */
	send_msg_raw(sk, cid2, 0x10, probe, plen);
	rd(sk, r, 0);
	assert_memory_equal(r, cid2, 4);
	assert_int_equal(r[4], 0x90);
	assert_int_equal(r[7], 0x00);
	softkey_free(sk);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msg_level),
		cmocka_unit_test(test_hid_framing),
		cmocka_unit_test(test_hid_touch_cancel_abort),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
