/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_EVENT_H
#define MYNAGUARD_EVENT_H

/*
 * libmynaguard-event: signed, chained event records (docs/events.md).
 *
 * A record is produced once by the agent, signed over its exact bytes with
 * the agent's ECDSA P-256 key (its TLS client key) and never re-serialized:
 * the same bytes sit in the spool, travel to the collector and are stored
 * there.  All integers are big-endian.
 *
 *   record        := "MYE1" | rec_len u32 | crc32c u32 | signed_region |
 *                    sig_len u16 | sig (DER ECDSA, <= 72 bytes)
 *   signed_region := ver u8 (1) | alg u8 (2: ECDSA-P256-SHA256) |
 *                    flags u16 | agent_id_len u8 | agent_id |
 *                    key_id [8] | boot_id u64 | seq u64 |
 *                    t_wall_ns i64 | t_boot_ns u64 | prev_hash [32] |
 *                    body_len u32 | body (strict UTF-8 JSON object)
 *   sig           = ECDSA-SHA256(key, "MG-EVT-SIG-v1\0" || signed_region)
 *   hash (chain)  = SHA-256("MG-EVT-CHAIN-v1\0" || signed_region ||
 *                    sig_len || sig);   prev_hash of record n+1 = hash(n)
 *
 * rec_len counts the whole record; crc32c covers everything after the crc
 * field and only detects torn or damaged storage (the signature is what
 * proves origin).  The first record of an agent has seq 1 and an all-zero
 * prev_hash.  This library never logs and never exits.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mynaguard/common.h"

#define MG_REC_MAGIC "MYE1"
#define MG_REC_VERSION 1
#define MG_REC_ALG_ECDSA_P256 2
#define MG_REC_HEADER_LEN 12u		/* magic, rec_len, crc32c */
#define MG_REC_AGENT_ID_MAX 64u
#define MG_REC_KEY_ID_LEN 8u
#define MG_REC_HASH_LEN 32u
#define MG_REC_SIG_MAX 72u
#define MG_REC_BODY_MAX 16384u
#define MG_REC_MAX (MG_REC_HEADER_LEN + 1 + 1 + 2 + 1 + MG_REC_AGENT_ID_MAX + \
	MG_REC_KEY_ID_LEN + 8 + 8 + 8 + 8 + MG_REC_HASH_LEN + 4 + \
	MG_REC_BODY_MAX + 2 + MG_REC_SIG_MAX)

/* flags */
#define MG_REC_F_CRITICAL 0x0001u	/* on disk before the submitter is
					 * acknowledged; never dropped */
#define MG_REC_F_LOSS 0x0002u		/* body lists dropped records */
#define MG_REC_F_KNOWN 0x0003u		/* other bits must be zero */

/* A decoded record: pointers into the caller's buffer. */
struct mg_record {
	uint16_t flags;
	char agent_id[MG_REC_AGENT_ID_MAX + 1];
	uint8_t key_id[MG_REC_KEY_ID_LEN];
	uint64_t boot_id;
	uint64_t seq;
	int64_t t_wall_ns;
	uint64_t t_boot_ns;
	uint8_t prev_hash[MG_REC_HASH_LEN];
	const uint8_t *body;
	uint32_t body_len;
	const uint8_t *signed_region;
	size_t signed_len;
	const uint8_t *sig;
	uint16_t sig_len;
	const uint8_t *raw;		/* the whole record */
	size_t raw_len;
};

/*
 * Decode the record at the start of buf (len bytes available).  Checks the
 * framing, the CRC, every length, the version and algorithm, the agent id's
 * characters ([A-Za-z0-9._-]) and that the body is strict JSON; it does NOT
 * check the signature (mg_verifier_check()).
 *
 * Returns the record's length (> 0) and fills *ret; -EAGAIN when buf ends
 * inside the record (a torn tail), -EBADMSG when it is malformed.  On
 * failure *ret_why (if not NULL) names what is wrong, as a static string.
 */
int mg_record_decode(const uint8_t *buf, size_t len, struct mg_record *ret,
    const char **ret_why);

/* Recompute the CRC of a record of len bytes after its bytes changed (the
 * encoder's last step; tests use it to forge records that only the
 * signature can catch). */
void mg_record_seal(uint8_t *rec, size_t len);

/* The chain hash of a decoded record. */
void mg_record_hash(const struct mg_record *r, uint8_t out[MG_REC_HASH_LEN]);

/* ---- signing (agent) --------------------------------------------------- */

struct mg_signer;

/*
 * Load the agent's private key (PEM, ECDSA P-256) and its certificate
 * (PEM).  The key must match the certificate; the agent id is the
 * certificate's subject CN, which must be a valid agent id.  On success
 * stores a new signer in *ret; -ENOENT / -EACCES for unreadable files,
 * -EKEYREJECTED for a wrong key type, a mismatch or a bad CN, -ENOMEM.
 * *ret_why names the problem on failure.
 */
int mg_signer_load(const char *key_path, const char *cert_path,
    struct mg_signer **ret, const char **ret_why);
void mg_signer_free(struct mg_signer *s);
const char *mg_signer_agent_id(const struct mg_signer *s);

/* What goes into a record besides the key. */
struct mg_record_in {
	uint16_t flags;
	uint64_t boot_id;
	uint64_t seq;
	int64_t t_wall_ns;
	uint64_t t_boot_ns;
	uint8_t prev_hash[MG_REC_HASH_LEN];
	const char *body;		/* strict JSON object */
	size_t body_len;
};

/*
 * Build, sign and append one record to out; store its chain hash in
 * ret_hash.  -EINVAL for a body that is not strict JSON or too long,
 * -E2BIG when out is full, -EIO when signing fails, -ENOMEM.
 */
int mg_record_encode(const struct mg_signer *s, const struct mg_record_in *in,
    struct sbuf *out, uint8_t ret_hash[MG_REC_HASH_LEN]);

/* ---- verification (collector, auditor) --------------------------------- */

struct mg_verifier;

/*
 * From an X.509 certificate in DER (as the TLS layer hands it over) or PEM:
 * its public key (ECDSA P-256 only), key id and subject CN.  -EBADMSG for a
 * certificate that cannot be parsed, -EKEYREJECTED for another key type or
 * a CN that is not a valid agent id, -ENOMEM.
 */
int mg_verifier_from_der(const uint8_t *der, size_t len,
    struct mg_verifier **ret);
int mg_verifier_from_pem(const char *pem, size_t len,
    struct mg_verifier **ret);
void mg_verifier_free(struct mg_verifier *v);
const char *mg_verifier_agent_id(const struct mg_verifier *v);

/*
 * Check r against v: agent id, key id and ECDSA signature.  0 when valid;
 * -EACCES when the record's agent id differs from the certificate's,
 * -EKEYREJECTED when the key id differs, -EBADMSG when the signature does
 * not verify.  *ret_why names the failure.
 */
int mg_verifier_check(const struct mg_verifier *v, const struct mg_record *r,
    const char **ret_why);

/* Agent ids: 1..64 of [A-Za-z0-9._-], not starting with '.' or '-'. */
bool mg_agent_id_valid(const char *s, size_t len);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void mg_hex(const uint8_t *in, size_t n, char *out);

/* ---- event types and bodies -------------------------------------------- */

enum mg_event_type {
	MG_EV_NONE,
	MG_EV_AGENT_STARTED,
	MG_EV_AGENT_STOPPED,
	MG_EV_AGENT_RELOADED,
	MG_EV_POLICY_LOADED,
	MG_EV_POLICY_REJECTED,
	MG_EV_TEST,
	MG_EV_EVENTS_DROPPED,
	MG_EV_SPOOL_RECOVERED,
	MG_EV_DEVICE_ALLOWED,		/* removable media and USB devices */
	MG_EV_DEVICE_READ_ONLY,
	MG_EV_DEVICE_BLOCKED,
	MG_EV_DEVICE_REMOVED,
	MG_EV_DEVICE_ENFORCE_FAILED,	/* the verdict could not be applied */
	MG_EV_DEVICE_MOUNTED_RW,	/* a read-write mount of read-only media */
	MG_EV_LOGIN_SUCCEEDED,		/* pam_mynaguard.so: one per attempt */
	MG_EV_LOGIN_FAILED,
	MG_EV_LOGIN_LOCKED_OUT,		/* refused: the account is locked */
	MG_EV_LOGIN_BREAK_GLASS,	/* a break-glass account, no key */
	MG_EV_LOGIN_UNLOCKED,		/* the administrator cleared a lockout */
	MG_EV_KEY_ENROLLED,		/* mynaguard key enroll / import */
	MG_EV_KEY_REVOKED,
	MG_EV_AGENT_STATE,		/* periodic: enforcement as read */
	MG_EV_POLICY_APPLIED,		/* a central signed bundle, applied */
	MG_EV_POLICY_REFUSED,		/* a central bundle, refused whole */
	MG_EV_COUNT_
};

/* Fields a submitter may give; which ones an event type takes is in the
 * table of body.c (docs/events.md lists them). */
enum mg_field {
	MG_F_NONE,
	MG_F_MESSAGE,		/* message: free text */
	MG_F_USER,		/* user.name */
	MG_F_REASON,		/* event.reason */
	MG_F_POLICY_PATH,	/* mynaguard.policy.path */
	MG_F_POLICY_HASH,	/* mynaguard.policy.hash (hex SHA-256) */
	MG_F_POLICY_VERSION,	/* mynaguard.policy.version */
	MG_F_PREV_SEQ,		/* mynaguard.agent.previous_seq */
	MG_F_CLEAN,		/* mynaguard.agent.clean_shutdown: yes/no */
	MG_F_VERSION,		/* agent.version */
	/* mynaguard.device.*: device strings are exact (JSON-escaped),
	 * control characters included. */
	MG_F_DEV_VID,		/* 4 lower-case hex digits */
	MG_F_DEV_PID,
	MG_F_DEV_SERIAL,
	MG_F_DEV_VENDOR,	/* manufacturer string */
	MG_F_DEV_PRODUCT,
	MG_F_DEV_KIND,		/* policy kind words, space-separated */
	MG_F_DEV_BUS,		/* usb, mmc, ata, scsi, other */
	MG_F_DEV_PATH,		/* bus path: 1-1.2, mmc0:0001 */
	MG_F_DEV_NODE,		/* /dev/sda */
	MG_F_DEV_IFACES,	/* CC:SS:PP, space-separated */
	/* mynaguard.decision.* */
	MG_F_VERDICT,		/* allow, read-only, block, reject */
	MG_F_RULE,		/* rule number, 0 = the default */
	MG_F_RULE_LINE,		/* its line in the policy */
	MG_F_RULE_LABEL,
	MG_F_DECIDER,		/* agent, udev-fallback */
	MG_F_MOUNT,		/* mynaguard.mount.path */
	/* mynaguard.login.* */
	MG_F_LOGIN_SERVICE,	/* PAM service: login, sshd, gdm-password */
	MG_F_LOGIN_TTY,
	MG_F_LOGIN_RHOST,	/* remote host, for remote logins */
	MG_F_LOGIN_FAILURES,	/* consecutive failures after this attempt */
	MG_F_LOGIN_LOCKED_UNTIL, /* unix seconds; 0: until unlocked */
	/* mynaguard.key.* */
	MG_F_KEY_ID,		/* hex SHA-256 of the credential id */
	MG_F_KEY_LABEL,
	MG_F_KEY_AAGUID,	/* 8-4-4-4-12 lower-case hex */
	MG_F_KEY_COUNTER,	/* signature counter the key sent */
	MG_F_KEY_STORED_COUNTER, /* the counter stored before */
	MG_F_KEY_RP,		/* relying party id */
	MG_F_KEY_SOURCE,	/* enroll, import */
	MG_F_ACTOR,		/* mynaguard.actor: who ran the command */
	/* mynaguard.state.* (agent-state, the agent's own) */
	MG_F_STATE_USB_DEFAULT,	/* authorized_default: 0 1 2 mixed none */
	MG_F_STATE_IFACE_DEFAULT, /* interface_authorized_default, same */
	MG_F_STATE_DISKS,	/* removable disks present */
	MG_F_STATE_WRITABLE,	/* of them writable against the verdict */
	MG_F_STATE_UDEV,	/* present, missing */
	MG_F_STATE_UDEV_PATH,	/* the rules file in force */
	MG_F_STATE_MODPROBE,	/* present, missing, overridden */
	MG_F_STATE_SPOOL_DEPTH,	/* records not yet acknowledged */
	MG_F_STATE_ACKED_SEQ,
	MG_F_STATE_MISMATCH,	/* words, space-separated; empty: none */
	/* mynaguard.bundle.* (policy-applied, policy-refused) */
	MG_F_BUNDLE_GROUP,	/* the bundle's distribution group */
	MG_F_BUNDLE_VERSION,	/* its version */
	MG_F_BUNDLE_HASH,	/* hex SHA-256 of the whole bundle */
	MG_F_BUNDLE_SIGNER,	/* hex SHA-256 of the signing certificate */
	MG_F_BUNDLE_CREDS_HASH,	/* hex SHA-256 of its credentials part */
	MG_F_COUNT_
};

#define MG_FIELD_MAX_LEN 1024u
#define MG_FIELDS_MAX 32u

struct mg_field_val {
	enum mg_field id;
	const char *val;	/* UTF-8, no NUL; need not be NUL-terminated */
	size_t len;
};

/* What the agent adds to every event. */
struct mg_event_ctx {
	const char *host_name;
	const char *agent_id;
	uint64_t seq;
	uint64_t boot_id;
	int64_t t_wall_ns;
};

/* event.action of a type ("agent-started", ...), NULL for a bad type. */
const char *mg_event_action(enum mg_event_type t);
/* Whether a type is always critical. */
bool mg_event_critical(enum mg_event_type t);

/*
 * Build the JSON body of an event from submitted fields.  Checks that each
 * field is allowed for the type, given at most once, valid UTF-8 without
 * control characters (other than in message) and at most
 * MG_FIELD_MAX_LEN bytes, and that required fields are present.
 * -EINVAL (with *ret_why) for a bad event, -E2BIG, -ENOMEM.
 */
int mg_event_body(enum mg_event_type t, const struct mg_field_val *f,
    size_t n, const struct mg_event_ctx *ctx, struct sbuf *out,
    const char **ret_why);

/* One range of records dropped from the spool for lack of space. */
struct mg_loss_range {
	uint64_t from;
	uint64_t to;
	uint8_t last_hash[MG_REC_HASH_LEN];	/* hash of record `to` */
};

#define MG_LOSS_RANGES_MAX 64u

/* The body of an events-dropped record (flag MG_REC_F_LOSS). */
int mg_event_loss_body(const struct mg_loss_range *r, size_t n,
    uint64_t count, const char *reason, const struct mg_event_ctx *ctx,
    struct sbuf *out);

/* What the body of a loss record says (mg_event_loss_parse()). */
struct mg_loss_info {
	struct mg_loss_range range[MG_LOSS_RANGES_MAX];
	size_t n;		/* usable ranges, in the body's order */
	unsigned invalid;	/* other entries of "ranges", and those past
				 * MG_LOSS_RANGES_MAX */
	bool has_count;		/* mynaguard.loss.count is an integer, */
	int64_t count;		/* this one */
	bool has_reason;	/* event.reason is a string, in *reason */
};

/*
 * Read back the body of the loss record with sequence number seq, whatever
 * its members' order and spacing: the usable entries of
 * mynaguard.loss.ranges ({"from":A,"to":B,"last_hash":"<64 hex digits>"}
 * with integers 1 <= A <= B < seq), mynaguard.loss.count, and event.reason
 * decoded into reason (when not NULL).  For a body mg_record_decode()
 * accepted (strict JSON).  0; -EINVAL (NULL body or ret), -EBADMSG for a
 * body that is not a JSON object, -E2BIG when reason's limit is too small,
 * -ENOMEM.  *ret is written only on success; reason may hold a part on
 * failure.
 */
int mg_event_loss_parse(const void *body, size_t len, uint64_t seq,
    struct mg_loss_info *ret, struct sbuf *reason);

/* ---- local submission (PAM module, CLI, udev helper -> agent) ---------- */

/*
 * Messages on the agent's SOCK_SEQPACKET socket, and in drop files:
 *   header  := type u32 | len u32          (len = payload bytes)
 *   SUBMIT  := event u16 | flags u16 | n u16 | n * (field u16 | len u16 |
 *              bytes)
 *   reply   := status i32 (0 or -errno) | seq u64     (SUBMIT)
 *   STATUS  := (empty); reply: status i32 | JSON text
 */
#define MG_IPC_SUBMIT 1
#define MG_IPC_STATUS 2
#define MG_IPC_DEVICE 3		/* op u32 | sysfs path; reply: status i32 |
				 * udev-style KEY=VALUE lines */
#define MG_IPC_DEVICES 4		/* (empty); reply: status i32 | one line
				 * per decision in force, tab-separated:
				 * syspath verdict rule line decider label
				 * (label as a quoted policy string) */
#define MG_IPC_DEVICE_USB 1u	/* a usb_device was added */
#define MG_IPC_DEVICE_BLOCK 2u	/* a whole disk was added */
#define MG_IPC_PATH_MAX 4096u
#define MG_IPC_MSG_MAX 65536u

struct mg_submit {
	enum mg_event_type type;
	uint16_t flags;			/* MG_REC_F_CRITICAL may be asked */
	struct mg_field_val f[MG_FIELDS_MAX];
	size_t n;
};

/* Connect to the agent's socket with send and receive timeouts; the fd,
 * or -errno. */
int mg_ipc_connect(const char *sock_path, int timeout_ms);

/* Append a SUBMIT message (header included) to out. */
int mg_ipc_encode_submit(const struct mg_submit *s, struct sbuf *out);

/* Append a DEVICE request (header included) to out. */
int mg_ipc_encode_device(uint32_t op, const char *syspath, struct sbuf *out);

/* The op and path of a DEVICE message decoded by mg_ipc_decode(): they
 * are carried in ret->f[0] (path) and ret->flags (op). */

/*
 * Decode a whole message of len bytes.  For SUBMIT, fills *ret (field
 * values point into buf).  Returns the message type, or -EBADMSG with
 * *ret_why.
 */
int mg_ipc_decode(const uint8_t *buf, size_t len, struct mg_submit *ret,
    const char **ret_why);

/*
 * Submit an event to the agent: over the socket at sock_path, waiting for
 * the agent to acknowledge (critical events: once on disk), up to
 * timeout_ms.  When the agent cannot be reached, writes the message as a
 * new file in drop_dir (fsynced) for the agent to ingest when it starts.
 * Returns 0 with *ret_seq set when the agent acknowledged, 1 when the event
 * was left in drop_dir, -errno when both failed.
 */
int mg_submit_event(const char *sock_path, const char *drop_dir,
    const struct mg_submit *s, int timeout_ms, uint64_t *ret_seq);

#endif
