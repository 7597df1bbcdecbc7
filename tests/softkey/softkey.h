/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_SOFTKEY_H
#define MYNAGUARD_SOFTKEY_H

/*
 * softkey: a software FIDO2 (CTAP 2.0) authenticator for tests only.
 *
 * One struct softkey is one authenticator "plugged in": persistent state
 * (aaguid, master secret, signature counter, PIN hash, PIN retries, fault
 * knobs) plus the volatile state of one power-up (PIN token, key-agreement
 * key, consecutive PIN mismatches, CTAPHID channels).  An object made by
 * softkey_load() is bound to its state file: before each CTAP command the
 * file is re-read under flock, and a command that changes state writes it
 * back atomically, so several processes in sequence see one authenticator.
 *
 * Every int-returning function returns >= 0 on success and -errno on
 * failure, and writes its ret_ arguments only on success.  Nothing here
 * ever prints a secret.  This is test code: never install it.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SOFTKEY_AAGUID_LEN 16
#define SOFTKEY_REPORT_LEN 64 /* CTAPHID report size */
#define SOFTKEY_PIN_RETRIES 8 /* retries after setPIN or a good PIN */

/* CTAPHID commands (CTAP 2.0 §8.1.9), without the 0x80 init bit. */
#define SOFTKEY_CTAPHID_PING 0x01
#define SOFTKEY_CTAPHID_MSG 0x03
#define SOFTKEY_CTAPHID_INIT 0x06
#define SOFTKEY_CTAPHID_CBOR 0x10
#define SOFTKEY_CTAPHID_CANCEL 0x11
#define SOFTKEY_CTAPHID_KEEPALIVE 0x3b
#define SOFTKEY_CTAPHID_ERROR 0x3f

struct softkey;

/* Fault knobs.  All off (zero) by default. */
struct softkey_faults {
	bool no_touch;		 /* user presence never comes */
	uint32_t touch_delay_ms; /* touch after this long (0: at once) */
	bool drop_up;		 /* no UP flag although UP was requested */
	bool drop_uv;		 /* no UV flag although a pinAuth verified */
	bool bad_sig;		 /* flip a byte of every signature */
	bool bad_rpid;		 /* wrong rpIdHash in authData */
	bool counter_freeze;	 /* the counter never increases */
	uint32_t remove_after;	 /* unplugged after N messages (0: never) */
	bool pin_proto2;	 /* also advertise PIN/UV protocol 2 */
	bool basic_attestation;	 /* "packed" with an x5c certificate */
};

/*
 * A new authenticator in memory, not bound to a file: random master
 * secret, the default aaguid, counter 0, no PIN, 8 retries, no faults.
 * Free with softkey_free().  -ENOMEM, -EIO (no randomness).
 */
int softkey_new(struct softkey **ret);

/* Wipe all key material and free sk.  Accepts NULL. */
void softkey_free(struct softkey *sk);

/*
 * Read the state file at path and return an authenticator bound to it (a
 * "power-up").  -ENOENT, -EBADMSG for a malformed file (unknown key, bad
 * value, duplicate key; the line number goes to *ret_line when not NULL),
 * -E2BIG, -ENOMEM, or another -errno.
 */
int softkey_load(const char *path, struct softkey **ret, unsigned *ret_line);

/*
 * Write sk's persistent state to path atomically (a temporary file in the
 * same directory, fsync, rename) while holding flock on "<path>.lock".
 * The file is created with mode 0600.  Does not bind sk to path.
 */
int softkey_save(struct softkey *sk, const char *path);

/* The state file sk is bound to, or NULL. */
const char *softkey_path(const struct softkey *sk);

/*
 * Setters.  On an object bound to a file each setter re-reads the file,
 * changes the value and writes the file back under the lock, so it takes
 * effect for every process that uses the file.
 * softkey_set_pin(): pin NULL removes the PIN; otherwise at least 4 code
 * points of valid UTF-8 and at most 63 bytes (-EINVAL).  Resets retries.
 */
int softkey_set_pin(struct softkey *sk, const char *pin);
int softkey_set_aaguid(
    struct softkey *sk, const uint8_t aaguid[SOFTKEY_AAGUID_LEN]);
int softkey_set_counter(struct softkey *sk, uint32_t counter);
int softkey_set_retries(struct softkey *sk, uint32_t retries);
int softkey_set_faults(struct softkey *sk, const struct softkey_faults *f);

/*
 * Set one state key from text, as in the state file and `skctl set`:
 * counter, counter_set (the same), retries, aaguid (32 hex digits), pin
 * (plain text, stored hashed; "" removes it) or any fault knob (no_touch,
 * touch_delay_ms, drop_up, drop_uv, bad_sig, bad_rpid, counter_freeze,
 * remove_after, pin_proto2, basic_attestation).  -ENOENT for an unknown
 * key, -EINVAL for a bad value, -EPERM for secret or pin_hash (never set
 * from outside).
 */
int softkey_set_kv(struct softkey *sk, const char *key, const char *value);

/*
 * Print the value of one non-secret key into buf (NUL-terminated):
 * counter, retries, aaguid, pin_set (0/1), any fault knob.  The file is
 * re-read first when sk is bound to one.  -ENOENT unknown key, -EPERM for
 * secret or pin_hash, -E2BIG when buf is too small.
 */
int softkey_get_kv(struct softkey *sk, const char *key, char *buf, size_t size);

/* Current values, after a re-read of the bound file (if any; when that
 * fails, the values last read). */
int softkey_get_faults(struct softkey *sk, struct softkey_faults *ret);
uint32_t softkey_counter(struct softkey *sk);
uint32_t softkey_retries(struct softkey *sk);
bool softkey_pin_is_set(struct softkey *sk);

/*
 * Append one line per CTAP command ("name status=0xNN ...", never a
 * secret) to the file at path; NULL turns logging off.  -ENOMEM.
 */
int softkey_set_log(struct softkey *sk, const char *path);

/*
 * CTAPHID message level: handle one complete request message (cmd without
 * the 0x80 bit).  INIT allocates a channel id (the reply carries it), PING
 * echoes, CBOR runs a CTAP2 command, CANCEL has no reply, everything else
 * gets ERROR INVALID_CMD.  At this level user presence is immediate
 * (touch_delay_ms is ignored) and no_touch answers
 * CTAP2_ERR_USER_ACTION_TIMEOUT at once.  Returns the reply's command
 * (> 0) with the payload in out and its length in *ret_len, 0 when there
 * is no reply, -ENODEV once the key is "unplugged" (remove_after),
 * -E2BIG when out_cap is too small, -EINVAL, -ENOMEM.
 */
int softkey_msg(struct softkey *sk, uint8_t cmd, const uint8_t *in,
    size_t in_len, uint8_t *out, size_t out_cap, size_t *ret_len);

/*
 * CTAPHID framing over 64-byte reports (softkey_hid.c).
 * softkey_hid_write() takes one output report: 65 bytes with a leading
 * report id 0 (libfido2) or 64 bytes (UHID).  Returns len, or -ENODEV
 * once unplugged, -EINVAL for another size.  Framing errors are answered
 * with CTAPHID ERROR reports, not with a failure.
 * softkey_hid_read() stores the next input report (64 bytes) in buf,
 * waiting up to ms milliseconds (-1: as long as something is pending; it
 * returns -ETIMEDOUT at once when nothing can ever arrive).  Keepalives
 * and a delayed touch are produced while it waits.  Returns 64,
 * -ETIMEDOUT, -ENODEV, -EINVAL.
 * softkey_hid_poll_ms() is the time until the next timed event (keepalive,
 * touch, timeout): 0 when a report is ready, -1 when nothing is pending.
 */
int softkey_hid_write(struct softkey *sk, const uint8_t *report, size_t len);
int softkey_hid_read(struct softkey *sk, uint8_t *buf, size_t len, int ms);
int softkey_hid_poll_ms(struct softkey *sk);

#endif
