/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The authenticator object and the CTAPHID message level: INIT, PING,
 * CANCEL, CBOR dispatch (CTAP 2.0 §6) with GetInfo, and the command log.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "softkey_int.h"

#define CTAP_CBOR_MAKECRED 0x01
#define CTAP_CBOR_GETASSERT 0x02
#define CTAP_CBOR_GETINFO 0x04
#define CTAP_CBOR_CLIENTPIN 0x06

#define CAPFLAG_WINK 0x01 /* not set: no wink */
#define CAPFLAG_CBOR 0x04
#define CAPFLAG_NMSG 0x08 /* no CTAPHID_MSG: no U2F */

#define CTAPHID_ERR_INVALID_CMD 0x01
#define CTAPHID_ERR_INVALID_LEN 0x03

/* A made-up AAGUID, never a real model's: the 16 bytes of this text. */
#define DEFAULT_AAGUID "mynaguardsoftkey"

int
softkey_new(struct softkey **ret)
{
	struct softkey *sk;
	int r;

	if (ret == NULL)
		return -EINVAL;
	if ((sk = calloc(1, sizeof(*sk))) == NULL)
		return -ENOMEM;
	sk->lock_fd = -1;
	memcpy(sk->aaguid, DEFAULT_AAGUID, sizeof(sk->aaguid));
	sk->retries = SOFTKEY_PIN_RETRIES;
	if ((r = sk_random(sk->secret, sizeof(sk->secret))) < 0) {
		softkey_free(sk);
		return r;
	}
	sk_pin_powerup(sk);
	*ret = sk;
	return 0;
}

void
softkey_free(struct softkey *sk)
{
	if (sk == NULL)
		return;
	sk_hid_free(sk->hid);
	EVP_PKEY_free(sk->ka_key);
	if (sk->lock_fd >= 0)
		close(sk->lock_fd);
	free(sk->path);
	free(sk->log_path);
	OPENSSL_cleanse(sk, sizeof(*sk));
	free(sk);
}

const char *
softkey_path(const struct softkey *sk)
{
	return sk != NULL ? sk->path : NULL;
}

int
softkey_set_log(struct softkey *sk, const char *path)
{
	char *p = NULL;

	if (sk == NULL)
		return -EINVAL;
	if (path != NULL && path[0] != '\0' && (p = strdup(path)) == NULL)
		return -ENOMEM;
	free(sk->log_path);
	sk->log_path = p;
	return 0;
}

/* One line per command: name, status, flags.  Best effort. */
void
sk_log(struct softkey *sk, const struct sk_loginfo *li, int status)
{
	const char *up = "";
	char line[160];
	int fd, n;

	if (sk->log_path == NULL)
		return;
	if (li->up >= 0)
		up = li->up ? " up=1" : " up=0";
	n = snprintf(line, sizeof(line), "%s status=0x%02x%s%s%s%s pid=%ld\n",
	    li->name, (unsigned)status & 0xffu, up,
	    li->pinauth ? " pinauth=1" : "", li->uv ? " uv=1" : "",
	    sk->faults.no_touch ? " no_touch=1" : "", (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	fd = open(sk->log_path,
	    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)n) != n) {
		/* a test log; nothing better to do */
	}
	close(fd);
}

static void
log_name(struct softkey *sk, const char *name, int status)
{
	struct sk_loginfo li = { .name = name, .up = -1 };

	sk_log(sk, &li, status);
}

/* false once the key is unplugged (remove_after); counts the message. */
bool
sk_count_msg(struct softkey *sk)
{
	if (sk->removed)
		return false;
	if (sk->faults.remove_after != 0 &&
	    sk->nmsg >= sk->faults.remove_after) {
		sk->removed = true;
		log_name(sk, "removed", 0);
		return false;
	}
	sk->nmsg++;
	return true;
}

int
sk_user_presence(struct softkey *sk, enum sk_up up)
{
	switch (up) {
	case SK_UP_GRANTED:
		return 0;
	case SK_UP_ASK:
		return sk->faults.no_touch || sk->faults.touch_delay_ms > 0 ?
		    SK_PENDING_UP :
		    0;
	case SK_UP_NOW:
	default:
		return sk->faults.no_touch ? CTAP2_ERR_USER_ACTION_TIMEOUT : 0;
	}
}

static int
getinfo(struct softkey *sk, cbor_item_t **ret, struct sk_loginfo *li)
{
	cbor_item_t *m = NULL, *v = NULL, *o = NULL, *p = NULL;
	int st = CTAP1_ERR_OTHER;

	li->name = "getinfo";
	if ((m = cbor_new_definite_map(5)) == NULL ||
	    (v = cbor_new_definite_array(1)) == NULL ||
	    (o = cbor_new_definite_map(3)) == NULL ||
	    sk_pin_protocols(sk, &p) < 0 ||
	    cb_push(v, cbor_build_string("FIDO_2_0")) < 0 ||
	    cb_put(o, cbor_build_string("rk"), cbor_build_bool(false)) < 0 ||
	    cb_put(o, cbor_build_string("up"), cbor_build_bool(true)) < 0 ||
	    cb_put(o, cbor_build_string("clientPin"),
		cbor_build_bool(sk->pin_set)) < 0)
		goto out;
	/* CTAP 2.0 §6.4: versions, aaguid, options, maxMsgSize,
	 * pinProtocols */
	if (cb_put_int(m, 1, cb_take(&v)) < 0 ||
	    cb_put_int(m, 3,
		cbor_build_bytestring(sk->aaguid, sizeof(sk->aaguid))) < 0 ||
	    cb_put_int(m, 4, cb_take(&o)) < 0 ||
	    cb_put_int(m, 5, cbor_build_uint16(1200)) < 0 ||
	    cb_put_int(m, 6, cb_take(&p)) < 0)
		goto out;
	*ret = cb_take(&m);
	st = CTAP_OK;
out:
	cb_free(&v);
	cb_free(&o);
	cb_free(&p);
	cb_free(&m);
	return st;
}

static int
run_cbor(struct softkey *sk, uint8_t code, const cbor_item_t *req,
    enum sk_up up, cbor_item_t **resp, struct sk_loginfo *li)
{
	if (code != CTAP_CBOR_GETINFO &&
	    (req == NULL || !cbor_isa_map(req) || !cbor_map_is_definite(req)))
		return req == NULL ? CTAP2_ERR_MISSING_PARAMETER :
				     CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	switch (code) {
	case CTAP_CBOR_GETINFO:
		return getinfo(sk, resp, li);
	case CTAP_CBOR_MAKECRED:
		return sk_makecred(sk, req, up, resp, li);
	case CTAP_CBOR_GETASSERT:
		return sk_getassert(sk, req, up, resp, li);
	case CTAP_CBOR_CLIENTPIN:
		return sk_clientpin(sk, req, resp, li);
	default:
		li->name = "cbor-unknown";
		return CTAP1_ERR_INVALID_COMMAND;
	}
}

/* One CTAP2 command: reply = status byte || CBOR. */
static int
cbor_cmd(struct softkey *sk, const uint8_t *in, size_t in_len, enum sk_up up,
    uint8_t *out, size_t out_cap, size_t *ret_len)
{
	struct cbor_load_result res;
	struct sk_loginfo li = { .name = "cbor", .up = -1 };
	cbor_item_t *req = NULL, *resp = NULL;
	size_t n = 0;
	int st;

	if (out_cap < 1)
		return -E2BIG;
	if (in_len < 1) {
		st = CTAP1_ERR_INVALID_LENGTH;
		goto done;
	}
	if (in_len > 1 &&
	    ((req = cbor_load(in + 1, in_len - 1, &res)) == NULL ||
		res.read != in_len - 1)) {
		st = CTAP2_ERR_INVALID_CBOR;
		goto done;
	}
	sk->dirty = false;
	if (sk_txn_begin(sk) < 0) {
		st = CTAP1_ERR_OTHER;
		goto done;
	}
	st = run_cbor(sk, in[0], req, up, &resp, &li);
	if (sk_txn_end(sk, sk->dirty && st != SK_PENDING_UP) < 0)
		st = CTAP1_ERR_OTHER;
	if (st == SK_PENDING_UP)
		goto out; /* logged when it completes */
	if (st == CTAP_OK && resp != NULL &&
	    (n = cbor_serialize(resp, out + 1, out_cap - 1)) == 0)
		st = CTAP1_ERR_OTHER;
done:
	if (st != CTAP_OK)
		n = 0;
	out[0] = (uint8_t)st;
	*ret_len = n + 1;
	sk_log(sk, &li, st);
	st = SOFTKEY_CTAPHID_CBOR;
out:
	if (req != NULL)
		cbor_decref(&req);
	if (resp != NULL)
		cbor_decref(&resp);
	return st;
}

static int
init_reply(struct softkey *sk, const uint8_t *in, size_t in_len, uint8_t *out,
    size_t out_cap, size_t *ret_len)
{
	uint8_t cid[4];

	if (in_len != 8) {
		out[0] = CTAPHID_ERR_INVALID_LEN;
		*ret_len = 1;
		return SOFTKEY_CTAPHID_ERROR;
	}
	if (out_cap < 17)
		return -E2BIG;
	do {
		if (sk_random(cid, sizeof(cid)) < 0)
			return -EIO;
	} while (memcmp(cid, "\0\0\0\0", 4) == 0 ||
	    memcmp(cid, "\xff\xff\xff\xff", 4) == 0);
	memcpy(out, in, 8); /* nonce */
	memcpy(out + 8, cid, 4);
	out[12] = 2; /* CTAPHID protocol version */
	out[13] = 0; /* device version 0.1.0 */
	out[14] = 1;
	out[15] = 0;
	out[16] = CAPFLAG_CBOR | CAPFLAG_NMSG;
	*ret_len = 17;
	log_name(sk, "init", 0);
	return SOFTKEY_CTAPHID_INIT;
}

int
sk_dispatch(struct softkey *sk, uint8_t cmd, const uint8_t *in, size_t in_len,
    enum sk_up up, uint8_t *out, size_t out_cap, size_t *ret_len)
{
	if (out_cap < 1)
		return -E2BIG;
	switch (cmd) {
	case SOFTKEY_CTAPHID_INIT:
		return init_reply(sk, in, in_len, out, out_cap, ret_len);
	case SOFTKEY_CTAPHID_PING:
		if (in_len > out_cap)
			return -E2BIG;
		if (in_len > 0)
			memcpy(out, in, in_len);
		*ret_len = in_len;
		return SOFTKEY_CTAPHID_PING;
	case SOFTKEY_CTAPHID_CBOR:
		return cbor_cmd(sk, in, in_len, up, out, out_cap, ret_len);
	case SOFTKEY_CTAPHID_CANCEL:
		log_name(sk, "cancel", 0);
		return 0;
	default: /* MSG (U2F), LOCK, WINK, vendor commands */
		log_name(sk, cmd == SOFTKEY_CTAPHID_MSG ? "msg" : "unknown",
		    CTAPHID_ERR_INVALID_CMD);
		out[0] = CTAPHID_ERR_INVALID_CMD;
		*ret_len = 1;
		return SOFTKEY_CTAPHID_ERROR;
	}
}

int
softkey_msg(struct softkey *sk, uint8_t cmd, const uint8_t *in, size_t in_len,
    uint8_t *out, size_t out_cap, size_t *ret_len)
{
	if (sk == NULL || out == NULL || ret_len == NULL ||
	    (in == NULL && in_len > 0) || in_len > SK_MAXMSG)
		return -EINVAL;
	if (!sk_count_msg(sk))
		return -ENODEV;
	return sk_dispatch(
	    sk, cmd, in, in_len, SK_UP_NOW, out, out_cap, ret_len);
}

/* Setters and getters: one transaction each on a bound file. */

static int
refresh(struct softkey *sk)
{
	int r;

	if ((r = sk_txn_begin(sk)) < 0)
		return r;
	return sk_txn_end(sk, false);
}

int
softkey_set_aaguid(struct softkey *sk, const uint8_t aaguid[SOFTKEY_AAGUID_LEN])
{
	int r;

	if (sk == NULL || aaguid == NULL)
		return -EINVAL;
	if ((r = sk_txn_begin(sk)) < 0)
		return r;
	memcpy(sk->aaguid, aaguid, sizeof(sk->aaguid));
	return sk_txn_end(sk, true);
}

int
softkey_set_counter(struct softkey *sk, uint32_t counter)
{
	int r;

	if (sk == NULL)
		return -EINVAL;
	if ((r = sk_txn_begin(sk)) < 0)
		return r;
	sk->counter = counter;
	return sk_txn_end(sk, true);
}

int
softkey_set_retries(struct softkey *sk, uint32_t retries)
{
	int r;

	if (sk == NULL || retries > SOFTKEY_PIN_RETRIES)
		return -EINVAL;
	if ((r = sk_txn_begin(sk)) < 0)
		return r;
	sk->retries = retries;
	return sk_txn_end(sk, true);
}

int
softkey_set_faults(struct softkey *sk, const struct softkey_faults *f)
{
	int r;

	if (sk == NULL || f == NULL)
		return -EINVAL;
	if ((r = sk_txn_begin(sk)) < 0)
		return r;
	sk->faults = *f;
	return sk_txn_end(sk, true);
}

int
softkey_get_faults(struct softkey *sk, struct softkey_faults *ret)
{
	int r;

	if (sk == NULL || ret == NULL)
		return -EINVAL;
	if ((r = refresh(sk)) < 0)
		return r;
	*ret = sk->faults;
	return 0;
}

uint32_t
softkey_counter(struct softkey *sk)
{
	(void)refresh(sk);
	return sk->counter;
}

uint32_t
softkey_retries(struct softkey *sk)
{
	(void)refresh(sk);
	return sk->retries;
}

bool
softkey_pin_is_set(struct softkey *sk)
{
	(void)refresh(sk);
	return sk->pin_set;
}
