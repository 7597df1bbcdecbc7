/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_LOGIN_H
#define MYNAGUARD_LOGIN_H

/*
 * libmynaguard-login: the storage behind FIDO2 login.  Enrolled
 * credentials (our own text file, docs/credentials.md, and import of
 * pam_u2f authfiles), the lockout tally (pam_faillock's on-disk format, so
 * faillock(8) works on it) and per-credential signature counters.
 *
 * Used by pam_mynaguard.so and by the mynaguard CLI.  Never logs, never
 * exits: every int-returning function returns >= 0 on success and -errno on
 * failure; parse problems are described in a struct pmod_diag.  Out
 * parameters named ret_* are written only on success.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mynaguard/common.h"

/* ---- diagnostics ---------------------------------------------------- */

/* Where and what.  line and col are 1-based; col counts Unicode code
 * points (a tab counts as one).  line 0 means the whole file (for example
 * an unsafe owner in pmod_creds_load()). */
struct pmod_diag {
	unsigned line;
	unsigned col;
	char msg[160];
};

/* ---- credentials ----------------------------------------------------- */

#define PMOD_ALG_ES256 (-7)	/* COSE, same values as libfido2's COSE_* */
#define PMOD_ALG_EDDSA (-8)
#define PMOD_ALG_RS256 (-257)

#define PMOD_OPT_PRESENCE 0x1u	/* pam_u2f "+presence" */
#define PMOD_OPT_PIN 0x2u	/* "+pin": the key had a PIN when enrolled */
#define PMOD_OPT_UV 0x4u	/* "+verification" */
#define PMOD_OPT_ALL 0x7u

#define PMOD_CRED_FILE_MAX (4u << 20)	/* bytes */
#define PMOD_CRED_ID_MAX 1024u		/* bytes, decoded */
#define PMOD_PUBKEY_MAX 1024u		/* bytes, decoded */
#define PMOD_LABEL_MAX 128u		/* bytes of UTF-8 */
#define PMOD_USER_MAX 256u		/* bytes */
#define PMOD_RP_ID_MAX 255u		/* bytes */
#define PMOD_CREDS_MAX 100000u		/* credentials in one list */
#define PMOD_LINE_MAX 8192u		/* bytes in one credentials line */
#define PMOD_ES256_PUBKEY_LEN 64u	/* x||y */
#define PMOD_EDDSA_PUBKEY_LEN 32u
#define PMOD_RS256_PUBKEY_LEN 259u	/* modulus (256) || exponent (3) */

#define PMOD_CREDS_HEADER "mynaguard-credentials 1"

struct pmod_cred {
	const char *user;
	const uint8_t *id;	/* credential id (key handle), raw bytes */
	size_t id_len;
	int alg;		/* PMOD_ALG_* */
	/* ES256: 64 bytes x||y (65-byte 0x04||x||y is accepted on input and
	 * normalised), EdDSA: 32, RS256: 259 as pam_u2f stores it. */
	const uint8_t *pubkey;
	size_t pubkey_len;
	const char *rp_id;	/* relying party the credential was made for */
	unsigned opts;		/* PMOD_OPT_* */
	uint8_t aaguid[16];
	bool has_aaguid;
	int64_t created;	/* unix seconds, 0 = unknown */
	const char *label;	/* "" allowed */
};

/* An ordered list of credentials, arena-backed.  Pointers returned by
 * pmod_creds_at(), pmod_creds_for_user() and pmod_creds_find() stay valid
 * until that credential is removed or the list is freed. */
struct pmod_creds;

/* A new empty list in *ret.  -ENOMEM. */
int pmod_creds_new(struct pmod_creds **ret);

/*
 * Parse our own credentials format (docs/credentials.md) from text (len
 * bytes, need not be NUL-terminated).  On success stores a new list in
 * *ret (free with pmod_creds_free()) and returns 0.  -EBADMSG when the
 * text is not a valid file (diag, when not NULL, says where and what),
 * -ENOMEM.  *ret is untouched on failure.
 */
int pmod_creds_parse(const char *text, size_t len, struct pmod_creds **ret,
    struct pmod_diag *diag);

/*
 * Load and parse the file at path after checking it can be trusted:
 * path absolute (-EINVAL otherwise); every directory above it owned by
 * root and not writable by group or others (unless sticky); the file
 * opened with O_NOFOLLOW|O_CLOEXEC, a regular file, owned by uid 0 (even
 * in tests: the test suite runs as root and makes its files as root), not
 * writable by group or others.  Returns 0 and a new list in *ret;
 * -ENOENT when the file (or a directory above it) is missing (the caller
 * decides what that means);
 * -EACCES for an unsafe file or directory (diag->msg says which check
 * failed); -E2BIG over PMOD_CRED_FILE_MAX; -EBADMSG for a parse error
 * (diag has line, col and what); other -errno from the system.
 */
int pmod_creds_load(const char *path, struct pmod_creds **ret,
    struct pmod_diag *diag);

/* Append c in our format to out (a header, a comment naming the fields,
 * one line per credential).  pmod_creds_parse() of the result gives the
 * same list.  -E2BIG (out's limit), -ENOMEM: out then holds part of the
 * text, to be thrown away. */
int pmod_creds_format(const struct pmod_creds *c, struct sbuf *out);

/*
 * Write c to path atomically: a temporary file in the same directory
 * (random name, O_EXCL, mode 0600), write, fsync, rename over path, fsync
 * the directory.  The result is owned by the caller (root) with mode 0600.
 * A crash leaves either the old or the new file, plus at worst a stray
 * ".<name>.XXXXXX" file that later saves ignore.  -EINVAL (path not
 * absolute), -E2BIG, -ENOMEM, -errno; on failure the old file is
 * untouched, except after a failed fsync of the directory (the new file
 * is in place but maybe not on disk yet).
 */
int pmod_creds_save(const char *path, const struct pmod_creds *c);

/* Take an exclusive flock(2) on "<path>.lock" (created 0600) for a
 * read-modify-write of path.  Returns the fd (close() unlocks) or -errno. */
int pmod_creds_lock(const char *path);

size_t pmod_creds_count(const struct pmod_creds *c);
/* The i-th credential in file order, or NULL when i is out of range. */
const struct pmod_cred *pmod_creds_at(const struct pmod_creds *c, size_t i);

/* Store up to max of user's credentials in out, in file order; returns how
 * many user has in total (may exceed max). */
size_t pmod_creds_for_user(const struct pmod_creds *c, const char *user,
    const struct pmod_cred **out, size_t max);

/* The credential with this id for this relying party, or NULL. */
const struct pmod_cred *pmod_creds_find(const struct pmod_creds *c,
    const char *rp_id, const uint8_t *id, size_t id_len);

/*
 * Append a deep copy of cred after checking every field (see
 * pmod_cred_check()).  A 65-byte ES256 key is stored as 64 bytes.
 * -EINVAL for a bad field, -EEXIST when the same credential id already
 * exists for that relying party, -E2BIG past PMOD_CREDS_MAX, -ENOMEM.
 */
int pmod_creds_add(struct pmod_creds *c, const struct pmod_cred *cred);

/*
 * Remove user's credential named by which: a prefix of at least 8 hex
 * digits of its id hash (pmod_cred_id_hash()), or its exact label.
 * Returns 1 when one credential was removed; -ENOENT when none matches;
 * -ENOTUNIQ when several match (nothing is removed); -EINVAL.
 */
int pmod_creds_remove(struct pmod_creds *c, const char *user,
    const char *which);

/* Drop the credentials from index n on (undo of appends).  Never fails. */
void pmod_creds_truncate(struct pmod_creds *c, size_t n);

/* Lower-case hex SHA-256 of the credential id: how credentials are named
 * in events, lists and counter files (never the raw id).  out is "" if
 * hashing is impossible (OpenSSL failure). */
void pmod_cred_id_hash(const struct pmod_cred *cred, char out[65]);

void pmod_creds_free(struct pmod_creds *c);

/*
 * Check every field of cred as pmod_creds_add() does.  0, or -EINVAL with
 * a static English sentence in *why (when why is not NULL); -ENOMEM when
 * OpenSSL cannot check an es256 key.
 */
int pmod_cred_check(const struct pmod_cred *cred, const char **why);

/* Whether user is a name we accept in the credentials file: 1 to
 * PMOD_USER_MAX bytes of [A-Za-z0-9._@$+\\-], not starting with '-', not
 * "." or "..". */
bool pmod_user_valid(const char *user);

/* Check a public key for alg: its length, for ES256 that it is a point on
 * P-256 (OpenSSL), for RS256 that it looks like a 2048-bit key.  0, or
 * -EINVAL with a sentence in *why (when not NULL), or -ENOMEM. */
int pmod_pubkey_check(int alg, const uint8_t *pk, size_t len,
    const char **why);

/* "es256", "eddsa", "rs256", or NULL. */
const char *pmod_alg_name(int alg);

/* ---- pam_u2f authfiles ----------------------------------------------- */

/*
 * Parse a pam_u2f authfile (mapping file) and append its credentials to
 * into, for `mynaguard key import`.  rp_id is pam_u2f's origin/appid used
 * at enrollment (pam_u2f's default is "pam://<hostname>"; the caller
 * chooses).  Both formats are read, detected per entry as pam_u2f does:
 *   new (1.1+)  user:KeyHandle,PublicKey,CoseType,Options[:...]
 *               base64; es256/eddsa/rs256; +presence+pin+verification
 *   old (U2F)   user:KeyHandle,PublicKeyHex[:...]
 *               web-safe base64 key handle, hex of the 65-byte point;
 *               imported as ES256 with PMOD_OPT_PRESENCE
 * As in pam_u2f, only the last line of a user counts.  Resident
 * credentials (key handle "*") and the SSH format are refused with a diag:
 * they carry no credential id to put in an allow list.  Labels are
 * "imported from pam_u2f"; created is 0.
 * All or nothing: returns the number of credentials appended, or -EBADMSG
 * (diag), -EEXIST (a credential already in into or twice in the file;
 * diag), -E2BIG, -EINVAL (bad rp_id), -ENOMEM, leaving into unchanged.
 */
int pmod_u2f_parse(const char *text, size_t len, const char *rp_id,
    struct pmod_creds *into, struct pmod_diag *diag);

/* ---- base64 (RFC 4648), shared with the CLI -------------------------- */

#define PMOD_B64_URL 0x1u	/* §5 alphabet (-_) instead of §4 (+/) */
#define PMOD_B64_PAD 0x2u	/* encode: write '=' padding; decode: accept
				 * correct padding (never required) */

/* Append the encoding of data to out.  -E2BIG, -ENOMEM. */
int pmod_b64_encode(const uint8_t *data, size_t len, unsigned flags,
    struct sbuf *out);

/*
 * Decode s (len chars) into out (room for max bytes).  Strict: only the
 * chosen alphabet, no blanks, canonical (unused low bits zero), padding
 * only with PMOD_B64_PAD and then complete.  Returns 0 and the length in
 * *ret_len; -EINVAL with the offset of the problem in *err_off (when not
 * NULL); -E2BIG when the result would not fit.
 */
int pmod_b64_decode(const char *s, size_t len, unsigned flags, uint8_t *out,
    size_t max, size_t *ret_len, size_t *err_off);

/* ---- lockout tally (pam_faillock format) ------------------------------- */

/*
 * One file per user in a directory, each a sequence of 64-byte records in
 * host byte order, exactly Linux-PAM's faillock.h:
 *   struct tally { char source[52]; uint16_t reserved; uint16_t status;
 *                  uint64_t time; };
 * locked with flock(2) on the file itself as pam_faillock does, so
 * `faillock --user X` lists our failures, `faillock --user X --reset`
 * clears them, and failures recorded by pam_faillock itself count too.
 */
#define PMOD_TALLY_DIR_DEFAULT "/var/run/faillock"
#define PMOD_TALLY_RECORDS_MAX 1024u	/* as pam_faillock's MAX_RECORDS */
#define PMOD_TALLY_FUTURE_S 60u		/* later entries are ignored */

#define PMOD_TALLY_SOURCE_SERVICE 0	/* neither flag: the PAM service */
#define PMOD_TALLY_SOURCE_TTY 1		/* TALLY_STATUS_TTY */
#define PMOD_TALLY_SOURCE_RHOST 2	/* TALLY_STATUS_RHOST */

struct pmod_lock_state {
	unsigned failures;	/* failures that still count */
	bool locked;
	uint64_t locked_until;	/* 0 with locked: until an administrator
				 * resets the tally */
	uint64_t last_failure;	/* newest valid failure, 0 when none */
};

struct pmod_tally_entry {
	uint64_t time;
	int source_kind;	/* PMOD_TALLY_SOURCE_* */
	bool valid;		/* TALLY_STATUS_VALID */
	char source[53];	/* NUL-terminated; control characters and
				 * invalid UTF-8 replaced by '?' */
};

/*
 * The lock state of user at time now (unix seconds).
 * - Only VALID entries count; entries dated more than PMOD_TALLY_FUTURE_S
 *   after now are ignored (clock trouble or tampering).
 * - Entries are taken in time order.  A run of threshold failures locks
 *   the account until (time of the threshold-th failure + unlock_after_s),
 *   or until reset when unlock_after_s == 0.  Failures during a lock count
 *   but do not extend it.
 * - Once a lock has expired, failures dated before its end no longer
 *   count: the count restarts after an automatic unlock.
 * - threshold == 0 never locks.  A missing file means 0 failures.
 * -EINVAL for a bad user name or dir, other -errno from the system:
 *   the caller must then fail closed.
 */
int pmod_tally_state(const char *dir, const char *user, unsigned threshold,
    uint32_t unlock_after_s, uint64_t now, struct pmod_lock_state *ret);

/* Append one failure dated now, from source (up to 52 bytes are kept;
 * NULL means "") of kind PMOD_TALLY_SOURCE_*.  Creates the file 0600 (and
 * dir 0755 when missing); keeps at most PMOD_TALLY_RECORDS_MAX records,
 * dropping the oldest.  -EINVAL, -errno. */
int pmod_tally_record(const char *dir, const char *user, const char *source,
    int source_kind, uint64_t now);

/* Truncate user's file, as `faillock --reset` does.  A missing file is
 * not an error.  -EINVAL, -errno. */
int pmod_tally_reset(const char *dir, const char *user);

/* All records of user (valid or not) in time order, in a malloc'ed array
 * (free() it; NULL when there are none) for `mynaguard login status`.
 * -EINVAL, -ENOMEM, -errno. */
int pmod_tally_list(const char *dir, const char *user,
    struct pmod_tally_entry **ret, size_t *ret_n);

/* ---- PINs ------------------------------------------------------------ */

/*
 * What this product takes as a PIN, at enrollment and at login: printable
 * ASCII, 4 to 63 characters.  CTAP2 allows any UTF-8, but on a Japanese
 * desktop non-ASCII input is almost always the input method left on
 * ("１２３４" is U+FF11..): refused before it reaches the key, it costs
 * none of the key's retries.
 */
#define PMOD_PIN_MIN 4u			/* characters, CTAP2 */
#define PMOD_PIN_MAX 63u		/* bytes, CTAP2 */

enum pmod_pin_check {
	PMOD_PIN_OK,
	PMOD_PIN_EMPTY,
	PMOD_PIN_WIDE,		/* full-width or other non-ASCII input */
	PMOD_PIN_CONTROL,
	PMOD_PIN_SHORT,
	PMOD_PIN_LONG,
};

enum pmod_pin_check pmod_pin_check(const char *pin);

/* Wipe a malloc'ed PIN, then free it.  NULL is fine. */
void pmod_pin_free(char *pin);

/* ---- signature counters ---------------------------------------------- */

/*
 * One small file per credential in a state directory, named by the id
 * hash (64 lower-case hex digits), holding the last signature counter in
 * decimal and a newline.  The file must be a regular file owned by root
 * or by us and not writable by group or others.
 */
#define PMOD_COUNTER_DIR_DEFAULT "/var/lib/mynaguard/counters"

/* 0 and the value in *ret; -ENOENT: never seen; -EBADMSG: not a counter
 * file; -EACCES: unsafe file; -EINVAL; -errno. */
int pmod_counter_get(const char *dir, const char id_hash[65], uint32_t *ret);

/* Store value atomically (temporary file, fsync, rename, fsync of the
 * directory); dir is created 0700 when missing.  -EINVAL, -errno. */
int pmod_counter_set(const char *dir, const char id_hash[65],
    uint32_t value);

#endif
