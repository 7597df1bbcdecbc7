/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_POLICY_H
#define MYNAGUARD_POLICY_H

/*
 * The mynaguard policy: device rules (the USBGuard rule language, extended),
 * login rules and reporting settings, parsed from one UTF-8 text into an
 * immutable object.  See policy/README.md for the language.
 *
 * This library never logs, never opens files and never exits.  Every
 * function returns >= 0 on success and -errno on failure.  pol_eval() and
 * friends return a negative value when they could not decide; every caller
 * must then fail closed (block the device, refuse the login).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pol_policy;
struct pol_history;

/* Limits.  Going past one is a parse error (-E2BIG with a diagnostic). */
#define POL_TEXT_MAX (1024u * 1024u)	/* whole policy text, bytes */
#define POL_LINE_MAX 16384u		/* one line, bytes */
#define POL_RULES_MAX 10000u		/* device rules */
#define POL_SET_MAX 1024u		/* values in one { } set */
#define POL_STRING_MAX 4096u		/* one string value, bytes decoded */
#define POL_LIST_MAX 1024u		/* names in a login list */

/* ---- diagnostics ---------------------------------------------------- */

#define POL_DIAG_MAX 64u
#define POL_DIAG_MSG_MAX 160u

/* One error.  line and col are 1-based; col counts Unicode code points
 * (a tab counts as one), so it matches what an editor shows. */
struct pol_diag {
	unsigned line;
	unsigned col;
	char msg[POL_DIAG_MSG_MAX];
};

/* Filled by pol_policy_parse().  The first POL_DIAG_MAX errors are kept in
 * order of position; n_total counts all of them. */
struct pol_diags {
	size_t n;
	size_t n_total;
	struct pol_diag d[POL_DIAG_MAX];
};

/* ---- parsing and printing -------------------------------------------- */

/*
 * Parse a policy from buf (len bytes, need not be NUL-terminated; must be
 * valid UTF-8).  A text with no [section] header is a plain USBGuard rule
 * file: its lines are the device rules, the default target is block and the
 * login and reporting settings have their defaults.
 *
 * On success stores a new policy in *ret (free with pol_policy_free()) and
 * returns 0.  On a malformed text returns -EBADMSG (or -E2BIG past a limit)
 * and describes every error found in *diags (which may be NULL); on
 * allocation failure returns -ENOMEM.  *ret is written only on success.
 */
int pol_policy_parse(const char *buf, size_t len, struct pol_diags *diags,
    struct pol_policy **ret);

void pol_policy_free(struct pol_policy *p);

/* Output flags of pol_policy_show(). */
#define POL_SHOW_ASCII 0x1u	/* escape non-ASCII bytes as \xHH, exactly as
				 * usbguard-rule-parser prints them */
#define POL_SHOW_RULES_ONLY 0x2u /* only the device rules, one per line */

/*
 * Print p in normalized form: rules as USBGuard normalizes them, settings in
 * a fixed order with every value explicit.  show(parse(show(x))) == show(x).
 * On success stores a NUL-terminated malloc'ed text in *ret_text and its
 * length (without the NUL) in *ret_len, returns 0; -ENOMEM or -E2BIG.
 */
int pol_policy_show(const struct pol_policy *p, unsigned flags,
    char **ret_text, size_t *ret_len);

/* True when the text had no sections (a plain USBGuard rule file). */
bool pol_policy_is_rules_only(const struct pol_policy *p);
/* A collector URL as the policy's [reporting] collector must be written
 * (https://host[:port][/path], no user name, no fragment; also the agent's
 * [Collector] URL list): the offset of the first bad byte, len when good. */
size_t pol_url_check(const char *s, size_t len);

/* Number of device rules. */
size_t pol_policy_rule_count(const struct pol_policy *p);

/* ---- devices ---------------------------------------------------------- */

enum pol_target {
	POL_TARGET_ALLOW,
	POL_TARGET_BLOCK,
	POL_TARGET_REJECT,
	POL_TARGET_READ_ONLY,	/* mynaguard: storage usable, never writable */
	POL_TARGET_MATCH,	/* usbguard: matches, never decides */
	POL_TARGET_DEVICE,	/* usbguard: a device description */
};

/* What the agent must do with a device. */
enum pol_verdict {
	POL_VERDICT_ALLOW,
	POL_VERDICT_READ_ONLY,
	POL_VERDICT_BLOCK,
	POL_VERDICT_REJECT,
};

const char *pol_verdict_name(enum pol_verdict v);

/* The bus a device sits on (rule attribute "bus"). */
enum pol_bus {
	POL_BUS_USB,
	POL_BUS_MMC,	/* SD/MMC card in a host-controller (PCI/SDHCI) reader */
	POL_BUS_ATA,	/* SATA/PATA: internal optical drives */
	POL_BUS_SCSI,	/* other SCSI transports */
	POL_BUS_OTHER,
	POL_BUS_COUNT_
};

/* Device kinds (rule attribute "kind"); a device may have several. */
#define POL_KIND_STORAGE (1u << 0)	/* removable block storage of any bus */
#define POL_KIND_SD (1u << 1)		/* SD/MMC card (USB reader or host) */
#define POL_KIND_OPTICAL (1u << 2)	/* CD/DVD/BD drive */
#define POL_KIND_MTP (1u << 3)		/* Media Transfer Protocol (phones) */
#define POL_KIND_PTP (1u << 4)		/* Picture Transfer Protocol (cameras) */
#define POL_KIND_HID (1u << 5)		/* keyboards, mice */
#define POL_KIND_FIDO (1u << 6)		/* FIDO/U2F security key */
#define POL_KIND_HUB (1u << 7)
#define POL_KIND_PRINTER (1u << 8)
#define POL_KIND_AUDIO (1u << 9)
#define POL_KIND_VIDEO (1u << 10)
#define POL_KIND_NETWORK (1u << 11)	/* USB NICs, modems, Bluetooth, Wi-Fi */
#define POL_KIND_SMARTCARD (1u << 12)
#define POL_KIND_OTHER (1u << 13)
#define POL_KIND_COUNT_ 14

struct pol_iface {
	uint8_t cls;
	uint8_t subcls;
	uint8_t proto;
};

/*
 * A device as the agent sees it.  A NULL string means "the device has no
 * such value" (its set is empty).  The agent fills it from sysfs/udev; the
 * strings are the kernel's bytes, which may be anything but NUL.
 */
struct pol_device {
	enum pol_bus bus;
	uint32_t kinds;		/* POL_KIND_* */
	bool has_id;		/* vid/pid valid (USB devices) */
	uint16_t vid;
	uint16_t pid;
	const char *name;
	const char *serial;
	const char *hash;
	const char *parent_hash;
	const char *via_port;
	const char *connect_type;
	const struct pol_iface *ifaces;	/* in descriptor order */
	size_t n_ifaces;
};

/* The policy word of kind bit b (0..POL_KIND_COUNT_-1) and of a bus. */
const char *pol_kind_word(unsigned b);
const char *pol_bus_word(enum pol_bus b);

/*
 * Append s (len bytes, any bytes) to b as a quoted policy string: `"`, `\`,
 * control bytes, invalid UTF-8 and deceptive code points (bidi overrides,
 * C1, BOM) escaped as the parser reads them back; with POL_SHOW_ASCII every
 * non-ASCII byte is escaped.  0 or -ENOMEM/-E2BIG.
 */
struct sbuf;
int pol_quote(struct sbuf *b, const char *s, size_t len, unsigned flags);

/* Who is logged in at the seat the device was plugged into. */
struct pol_seat {
	const char *user;
	const char *const *groups;	/* primary and supplementary */
	size_t n_groups;
};

/*
 * What conditions may consult.  A condition whose input is missing (for
 * example random without random_u32, localtime with local_sec < 0,
 * rule-applied without history) makes pol_eval() return -ENODATA: it never
 * counts as true.
 */
struct pol_env {
	const struct pol_seat *seat;	/* NULL: nobody is logged in */
	int32_t local_sec;		/* seconds since local midnight, or -1 */
	uint64_t mono_ms;		/* monotonic clock for rule-applied(...) */
	int (*random_u32)(void *arg, uint32_t *ret);	/* 0 or -errno */
	void *random_arg;
	struct pol_history *history;	/* updated by pol_eval(); may be NULL */
	const struct pol_device *const *allowed;	/* allowed-matches() */
	size_t n_allowed;
};

struct pol_decision {
	enum pol_verdict verdict;
	unsigned rule;		/* 1-based number of the deciding device rule;
				 * 0 when the default decided */
	unsigned line;		/* its line in the text; 0 for a rules-only
				 * file's implicit default */
	const char *label;	/* the rule's label (several joined by " / "),
				 * or NULL; valid as long as the policy */
};

/*
 * Decide what to do with dev: the first rule whose attributes and
 * conditions match decides (match/device rules never decide); when none
 * does, the policy's default decides.  On success writes *ret and returns
 * 0.  Returns -EINVAL on bad arguments and -ENODATA when a condition needed
 * input env does not provide: the caller must then block the device.
 */
int pol_eval(const struct pol_policy *p, const struct pol_device *dev,
    const struct pol_env *env, struct pol_decision *ret);

/*
 * Per-rule memory for the rule-applied / rule-evaluated conditions.
 * pol_history_new() sizes it for p; use it only with that policy.
 */
int pol_history_new(const struct pol_policy *p, struct pol_history **ret);
void pol_history_free(struct pol_history *h);

/*
 * A device described in rule syntax, as `usbguard list-devices` prints it:
 * `device id 0781:5581 serial "X" name "Ultra" with-interface { 08:06:50 }`
 * (any target word; a leading "N: " is skipped), plus `kind { ... }` and
 * `bus ...`.  Every value must be concrete: no wildcards, no operators
 * other than the implied equals, no conditions.  For trying a policy out
 * (`mynaguard policy test`) and for tests.
 *
 * On success stores a new description in *ret (free with
 * pol_devdesc_free()) and returns 0; -EBADMSG with *diags filled, -ENOMEM.
 */
struct pol_devdesc;
int pol_devdesc_parse(const char *text, size_t len, struct pol_diags *diags,
    struct pol_devdesc **ret);
/* The device; valid as long as d. */
const struct pol_device *pol_devdesc_device(const struct pol_devdesc *d);
void pol_devdesc_free(struct pol_devdesc *d);

/* ---- login ------------------------------------------------------------ */

struct pol_login {
	bool key_everyone;		/* require-key = * */
	const char *const *key_users;	/* require-key names */
	size_t n_key_users;
	const char *const *key_groups;	/* require-key @groups */
	size_t n_key_groups;
	bool user_verification;		/* PIN (or built-in UV) required */
	uint32_t lockout_threshold;	/* consecutive failures */
	uint32_t unlock_after_s;	/* 0: only the administrator unlocks */
	const char *const *break_glass;	/* accounts allowed without a key */
	size_t n_break_glass;
	const char *credentials;	/* credential file, absolute path */
	const char *relying_party;	/* FIDO2 relying party id */
	const uint8_t (*key_models)[16];	/* AAGUID allow-list */
	size_t n_key_models;		/* 0: any model */
	uint32_t key_timeout_s;		/* wait for a touch, 1..300 s */
};

#define POL_CREDENTIALS_DEFAULT "/etc/mynaguard/credentials"
#define POL_RELYING_PARTY_DEFAULT "pam://mynaguard"
#define POL_RELYING_PARTY_MAX 255u

/* The login settings; valid as long as p. */
const struct pol_login *pol_policy_login(const struct pol_policy *p);

/*
 * Whether user (member of groups) must present a FIDO2 key: returns 1 for
 * yes, 0 for no (not covered by require-key, or a break-glass account; see
 * pol_login_is_break_glass()), -EINVAL on bad arguments.
 */
int pol_login_requires_key(const struct pol_policy *p, const char *user,
    const char *const *groups, size_t n_groups);

/* 1 when user is a break-glass account, 0 when not, -EINVAL. */
int pol_login_is_break_glass(const struct pol_policy *p, const char *user);

/* ---- reporting -------------------------------------------------------- */

struct pol_reporting {
	const char *collector;		/* https URL, or NULL when unset */
	uint64_t buffer_max_bytes;	/* offline spool size */
	uint32_t buffer_max_age_s;	/* oldest event kept offline */
};

const struct pol_reporting *pol_policy_reporting(const struct pol_policy *p);

/* ---- metadata --------------------------------------------------------- */

/* The [policy] section's name (or NULL) and version (0 when unset). */
const char *pol_policy_name(const struct pol_policy *p);
uint32_t pol_policy_version(const struct pol_policy *p);

#endif
