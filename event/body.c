/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Event types and their ECS bodies.  The agent builds every body itself from
 * typed fields, so what reaches the signature is always well-formed JSON of
 * a documented shape (docs/events.md), whatever a submitter sends.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define F(x) (UINT64_C(1) << (x))

#define DEV_FIELDS (F(MG_F_DEV_VID) | F(MG_F_DEV_PID) | F(MG_F_DEV_SERIAL) | \
    F(MG_F_DEV_VENDOR) | F(MG_F_DEV_PRODUCT) | F(MG_F_DEV_KIND) | \
    F(MG_F_DEV_BUS) | F(MG_F_DEV_PATH) | F(MG_F_DEV_NODE) | \
    F(MG_F_DEV_IFACES) | F(MG_F_VERDICT) | F(MG_F_RULE) | \
    F(MG_F_RULE_LINE) | F(MG_F_RULE_LABEL) | F(MG_F_DECIDER) | \
    F(MG_F_USER) | F(MG_F_REASON) | F(MG_F_MESSAGE))
#define LOGIN_FIELDS (F(MG_F_USER) | F(MG_F_REASON) | F(MG_F_MESSAGE) | \
    F(MG_F_LOGIN_SERVICE) | F(MG_F_LOGIN_TTY) | F(MG_F_LOGIN_RHOST) | \
    F(MG_F_LOGIN_FAILURES) | F(MG_F_LOGIN_LOCKED_UNTIL) | KEY_FIELDS)
#define KEY_FIELDS (F(MG_F_KEY_ID) | F(MG_F_KEY_LABEL) | F(MG_F_KEY_AAGUID) | \
    F(MG_F_KEY_COUNTER) | F(MG_F_KEY_STORED_COUNTER) | F(MG_F_KEY_RP))
#define KEYCHG_FIELDS (F(MG_F_USER) | F(MG_F_REASON) | F(MG_F_MESSAGE) | \
    KEY_FIELDS | F(MG_F_KEY_SOURCE) | F(MG_F_ACTOR))
#define STATE_REQUIRED (F(MG_F_VERSION) | F(MG_F_STATE_USB_DEFAULT) | \
    F(MG_F_STATE_IFACE_DEFAULT) | F(MG_F_STATE_DISKS) | \
    F(MG_F_STATE_WRITABLE) | F(MG_F_STATE_UDEV) | F(MG_F_STATE_MODPROBE) | \
    F(MG_F_STATE_SPOOL_DEPTH) | F(MG_F_STATE_ACKED_SEQ) | \
    F(MG_F_STATE_MISMATCH))
#define STATE_FIELDS (STATE_REQUIRED | F(MG_F_STATE_UDEV_PATH) | \
    F(MG_F_POLICY_PATH) | F(MG_F_POLICY_HASH) | F(MG_F_POLICY_VERSION) | \
    F(MG_F_MESSAGE))
#define BUNDLE_FIELDS (F(MG_F_BUNDLE_GROUP) | F(MG_F_BUNDLE_VERSION) | \
    F(MG_F_BUNDLE_HASH) | F(MG_F_BUNDLE_SIGNER) | F(MG_F_MESSAGE))
#define DEV_REQUIRED (F(MG_F_DEV_PATH) | F(MG_F_DEV_BUS) | F(MG_F_VERDICT) | \
    F(MG_F_DECIDER))

static const struct evtype {
	const char *action;
	const char *category;	/* ECS event.category */
	const char *type;	/* ECS event.type */
	const char *outcome;
	bool critical;
	uint64_t allowed;	/* F(mg_field) */
	uint64_t required;
} types[MG_EV_COUNT_] = {
	[MG_EV_AGENT_STARTED] = { "agent-started", "process", "start",
	    "success", true, F(MG_F_VERSION) | F(MG_F_PREV_SEQ) |
	    F(MG_F_CLEAN) | F(MG_F_MESSAGE), F(MG_F_VERSION) },
	[MG_EV_AGENT_STOPPED] = { "agent-stopped", "process", "end",
	    "success", true, F(MG_F_REASON) | F(MG_F_MESSAGE), 0 },
	[MG_EV_AGENT_RELOADED] = { "agent-reloaded", "configuration",
	    "change", "success", false, F(MG_F_MESSAGE), 0 },
	[MG_EV_POLICY_LOADED] = { "policy-loaded", "configuration", "change",
	    "success", true, F(MG_F_POLICY_PATH) | F(MG_F_POLICY_HASH) |
	    F(MG_F_POLICY_VERSION) | F(MG_F_MESSAGE),
	    F(MG_F_POLICY_PATH) | F(MG_F_POLICY_HASH) },
	[MG_EV_POLICY_REJECTED] = { "policy-rejected", "configuration",
	    "change", "failure", true, F(MG_F_POLICY_PATH) |
	    F(MG_F_POLICY_HASH) | F(MG_F_REASON) | F(MG_F_MESSAGE),
	    F(MG_F_POLICY_PATH) | F(MG_F_REASON) },
	[MG_EV_TEST] = { "test", "host", "info", "success", false,
	    F(MG_F_MESSAGE) | F(MG_F_USER), 0 },
	[MG_EV_EVENTS_DROPPED] = { "events-dropped", "host", "info",
	    "failure", true, 0, 0 },
	[MG_EV_SPOOL_RECOVERED] = { "spool-recovered", "host", "info",
	    "failure", true, F(MG_F_REASON) | F(MG_F_MESSAGE), F(MG_F_REASON) },
	[MG_EV_DEVICE_ALLOWED] = { "device-allowed", "host", "allowed",
	    "success", false, DEV_FIELDS, DEV_REQUIRED },
	[MG_EV_DEVICE_READ_ONLY] = { "device-read-only", "host", "change",
	    "success", false, DEV_FIELDS, DEV_REQUIRED },
	[MG_EV_DEVICE_BLOCKED] = { "device-blocked", "host", "denied",
	    "success", false, DEV_FIELDS, DEV_REQUIRED },
	[MG_EV_DEVICE_REMOVED] = { "device-removed", "host", "end",
	    "success", false, DEV_FIELDS, F(MG_F_DEV_PATH) },
	[MG_EV_DEVICE_ENFORCE_FAILED] = { "device-enforcement-failed", "host",
	    "error", "failure", true, DEV_FIELDS, DEV_REQUIRED | F(MG_F_REASON) },
	[MG_EV_DEVICE_MOUNTED_RW] = { "device-mounted-rw", "intrusion_detection",
	    "indicator", "failure", true, DEV_FIELDS | F(MG_F_MOUNT),
	    F(MG_F_DEV_PATH) | F(MG_F_MOUNT) | F(MG_F_REASON) },
	/* Login events are few and are evidence of 6(3): all critical. */
	[MG_EV_LOGIN_SUCCEEDED] = { "login-succeeded", "authentication",
	    "start", "success", true, LOGIN_FIELDS,
	    F(MG_F_USER) | F(MG_F_LOGIN_SERVICE) },
	[MG_EV_LOGIN_FAILED] = { "login-failed", "authentication", "start",
	    "failure", true, LOGIN_FIELDS,
	    F(MG_F_USER) | F(MG_F_LOGIN_SERVICE) | F(MG_F_REASON) },
	[MG_EV_LOGIN_LOCKED_OUT] = { "login-locked-out", "authentication",
	    "start", "failure", true, LOGIN_FIELDS,
	    F(MG_F_USER) | F(MG_F_LOGIN_SERVICE) | F(MG_F_REASON) },
	[MG_EV_LOGIN_BREAK_GLASS] = { "login-break-glass", "authentication",
	    "start", "success", true, LOGIN_FIELDS,
	    F(MG_F_USER) | F(MG_F_LOGIN_SERVICE) },
	[MG_EV_LOGIN_UNLOCKED] = { "login-unlocked", "iam", "change",
	    "success", true, F(MG_F_USER) | F(MG_F_REASON) | F(MG_F_MESSAGE) |
	    F(MG_F_ACTOR) | F(MG_F_LOGIN_FAILURES), F(MG_F_USER) },
	[MG_EV_KEY_ENROLLED] = { "key-enrolled", "iam", "creation", "success",
	    true, KEYCHG_FIELDS, F(MG_F_USER) | F(MG_F_KEY_ID) },
	[MG_EV_KEY_REVOKED] = { "key-revoked", "iam", "deletion", "success",
	    true, KEYCHG_FIELDS, F(MG_F_USER) | F(MG_F_KEY_ID) },
	/* Periodic: a dropped one is replaced by the next. */
	[MG_EV_AGENT_STATE] = { "agent-state", "host", "info", "success",
	    false, STATE_FIELDS, STATE_REQUIRED },
	/* Central signed policy (docs/policy-bundles.md "Agent"). */
	[MG_EV_POLICY_APPLIED] = { "policy-applied", "configuration", "change",
	    "success", true, BUNDLE_FIELDS | F(MG_F_BUNDLE_CREDS_HASH) |
	    F(MG_F_POLICY_PATH) | F(MG_F_POLICY_HASH) | F(MG_F_POLICY_VERSION),
	    F(MG_F_BUNDLE_GROUP) | F(MG_F_BUNDLE_VERSION) | F(MG_F_BUNDLE_HASH) |
	    F(MG_F_POLICY_HASH) | F(MG_F_POLICY_VERSION) },
	[MG_EV_POLICY_REFUSED] = { "policy-refused", "configuration", "change",
	    "failure", true, BUNDLE_FIELDS | F(MG_F_REASON), F(MG_F_REASON) |
	    F(MG_F_BUNDLE_HASH) },
};

_Static_assert(MG_F_COUNT_ <= 64, "fields are bits of a uint64_t");

const char *
mg_event_action(enum mg_event_type t)
{
	return t > MG_EV_NONE && t < MG_EV_COUNT_ ? types[t].action : NULL;
}

bool
mg_event_critical(enum mg_event_type t)
{
	return t > MG_EV_NONE && t < MG_EV_COUNT_ && types[t].critical;
}

static int
set_why(const char **ret_why, const char *msg)
{
	if (ret_why != NULL)
		*ret_why = msg;
	return -EINVAL;
}

static bool
all_digits(const char *s, size_t n, size_t max)
{
	size_t i;

	if (n == 0 || n > max)
		return false;
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Strings the device or the administrator chose: kept byte for byte
 * (the JSON writer escapes control characters), so an auditor sees
 * exactly what the device said. */
static bool
exact_bytes(enum mg_field id)
{
	return id == MG_F_DEV_SERIAL || id == MG_F_DEV_VENDOR ||
	    id == MG_F_DEV_PRODUCT || id == MG_F_RULE_LABEL ||
	    id == MG_F_MOUNT || id == MG_F_DEV_NODE;
}

/* UTF-8, bounded, no control characters (message may hold newlines). */
static int
check_text(const struct mg_field_val *f, const char **ret_why)
{
	size_t i;

	if (f->len > MG_FIELD_MAX_LEN || (f->len > 0 && f->val == NULL))
		return set_why(ret_why, "field too long");
	if (utf8_validate(f->val, f->len, NULL) < 0)
		return set_why(ret_why, "field is not UTF-8");
	for (i = 0; i < f->len; i++) {
		unsigned char c = (unsigned char)f->val[i];

		if (c == 0)
			return set_why(ret_why, "NUL in field");
		if ((c < 0x20 || c == 0x7f) && !exact_bytes(f->id) &&
		    !(f->id == MG_F_MESSAGE && (c == '\n' || c == '\t')))
			return set_why(ret_why, "control character in field");
	}
	return 0;
}

static bool
hex64(const char *s, size_t n)
{
	size_t i;

	if (n != 64)
		return false;
	for (i = 0; i < n; i++)
		if (parse_hexdigit(s[i]) < 0)
			return false;
	return true;
}

static bool
hex_lower(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* 8-4-4-4-12 lower-case hex. */
static bool
aaguid_ok(const char *s, size_t n)
{
	size_t i;

	if (n != 36)
		return false;
	for (i = 0; i < n; i++)
		if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-' :
		    !hex_lower(s + i, 1))
			return false;
	return true;
}

/* The policy's kind and bus words (policy/README.md); the event library
 * does not depend on the policy library, so they are listed here. */
static const char *const kind_words[] = { "storage", "sd", "optical", "mtp",
    "ptp", "hid", "fido", "hub", "printer", "audio", "video", "network",
    "smartcard", "other", NULL };
static const char *const buses[] = { "usb", "mmc", "ata", "scsi", "other",
    NULL };
static const char *const verdicts[] = { "allow", "read-only", "block",
    "reject", NULL };
static const char *const deciders[] = { "agent", "udev-fallback", NULL };
static const char *const key_sources[] = { "enroll", "import", NULL };
static const char *const usb_defaults[] = { "0", "1", "2", "mixed", "none",
    "unknown", NULL };
static const char *const presence[] = { "present", "missing", NULL };
static const char *const modprobe_states[] = { "present", "cmdline",
    "missing", "overridden", NULL };
/* docs/events.md: what differs from what the policy requires. */
static const char *const mismatch_words[] = { "usb-default-authorized",
    "usb-iface-default-authorized", "removable-writable",
    "udev-rules-missing", "modprobe-missing", "modprobe-overridden",
    "policy-fallback", NULL };

static bool
word_in(const char *s, size_t n, const char *const *words)
{
	for (; *words != NULL; words++)
		if (strlen(*words) == n && memcmp(*words, s, n) == 0)
			return true;
	return false;
}

/* Space-separated tokens, each accepted by ok(); empty is allowed. */
static bool
tokens_ok(const struct mg_field_val *f, bool (*ok)(const char *, size_t))
{
	size_t i = 0, j;

	while (i < f->len) {
		for (j = i; j < f->len && f->val[j] != ' '; j++)
			;
		if (!ok(f->val + i, j - i) || (j < f->len && j + 1 ==
		    f->len))
			return false;
		i = j + 1;
	}
	return true;
}

static bool
kind_ok(const char *s, size_t n)
{
	return word_in(s, n, kind_words);
}

static bool
mismatch_ok(const char *s, size_t n)
{
	return word_in(s, n, mismatch_words);
}

static int
check_state_value(const struct mg_field_val *f, const char **ret_why)
{
	switch (f->id) {
	case MG_F_STATE_USB_DEFAULT:
	case MG_F_STATE_IFACE_DEFAULT:
		return word_in(f->val, f->len, usb_defaults) ? 0 :
		    set_why(ret_why, "unknown authorized_default state");
	case MG_F_STATE_UDEV:
		return word_in(f->val, f->len, presence) ? 0 :
		    set_why(ret_why, "udev_rules must be present or missing");
	case MG_F_STATE_MODPROBE:
		return word_in(f->val, f->len, modprobe_states) ? 0 :
		    set_why(ret_why, "unknown modprobe state");
	case MG_F_STATE_MISMATCH:
		return tokens_ok(f, mismatch_ok) ? 0 :
		    set_why(ret_why, "unknown mismatch word");
	case MG_F_STATE_UDEV_PATH:
		return f->len > 0 && f->val[0] == '/' ? 0 :
		    set_why(ret_why, "udev_rules_path must be absolute");
	default:
		return 0;
	}
}

static bool
iface_ok(const char *s, size_t n)
{
	return n == 8 && s[2] == ':' && s[5] == ':' && hex_lower(s, 2) &&
	    hex_lower(s + 3, 2) && hex_lower(s + 6, 2);
}

static int
check_device_value(const struct mg_field_val *f, const char **ret_why)
{
	if (f->id == MG_F_DEV_KIND)
		return tokens_ok(f, kind_ok) ? 0 :
		    set_why(ret_why, "unknown kind word");
	if (f->id == MG_F_DEV_IFACES)
		return tokens_ok(f, iface_ok) ? 0 :
		    set_why(ret_why, "interfaces must be CC:SS:PP in hex");
	if (f->id == MG_F_DEV_BUS)
		return word_in(f->val, f->len, buses) ? 0 :
		    set_why(ret_why, "unknown bus");
	if (f->id == MG_F_DEV_VID || f->id == MG_F_DEV_PID)
		return f->len == 4 && hex_lower(f->val, 4) ? 0 :
		    set_why(ret_why, "vid/pid must be 4 lower-case hex digits");
	if (f->id == MG_F_VERDICT)
		return word_in(f->val, f->len, verdicts) ? 0 :
		    set_why(ret_why, "unknown verdict");
	if (f->id == MG_F_DECIDER)
		return word_in(f->val, f->len, deciders) ? 0 :
		    set_why(ret_why, "unknown decider");
	return 0;	/* free text, checked by check_text() */
}

static bool
is_number(enum mg_field id)
{
	return id == MG_F_POLICY_VERSION || id == MG_F_PREV_SEQ ||
	    id == MG_F_RULE || id == MG_F_RULE_LINE ||
	    id == MG_F_LOGIN_FAILURES || id == MG_F_LOGIN_LOCKED_UNTIL ||
	    id == MG_F_KEY_COUNTER || id == MG_F_KEY_STORED_COUNTER ||
	    id == MG_F_STATE_DISKS || id == MG_F_STATE_WRITABLE ||
	    id == MG_F_STATE_SPOOL_DEPTH || id == MG_F_STATE_ACKED_SEQ ||
	    id == MG_F_BUNDLE_VERSION;
}

/* mynaguard.key.* fields with a fixed shape. */
static int
check_key_value(const struct mg_field_val *f, const char **ret_why)
{
	switch (f->id) {
	case MG_F_KEY_ID:
		return hex64(f->val, f->len) && hex_lower(f->val, f->len) ?
		    0 : set_why(ret_why, "key id is not 64 lower-case hex");
	case MG_F_KEY_AAGUID:
		return aaguid_ok(f->val, f->len) ? 0 :
		    set_why(ret_why, "aaguid is not 8-4-4-4-12 hex");
	case MG_F_KEY_SOURCE:
		return word_in(f->val, f->len, key_sources) ? 0 :
		    set_why(ret_why, "key source must be enroll or import");
	default:
		return f->id >= MG_F_STATE_USB_DEFAULT ?
		    check_state_value(f, ret_why) :
		    check_device_value(f, ret_why);
	}
}

static int
check_value(const struct mg_field_val *f, const char **ret_why)
{
	int r;

	if ((r = check_text(f, ret_why)) < 0)
		return r;
	if (is_number(f->id))
		return all_digits(f->val, f->len, 19) ? 0 :
		    set_why(ret_why, "not a number");
	switch (f->id) {
	case MG_F_POLICY_HASH:
		return hex64(f->val, f->len) ? 0 :
		    set_why(ret_why, "policy hash is not 64 hex");
	case MG_F_BUNDLE_HASH:
	case MG_F_BUNDLE_SIGNER:
	case MG_F_BUNDLE_CREDS_HASH:
		return hex64(f->val, f->len) && hex_lower(f->val, f->len) ?
		    0 : set_why(ret_why, "bundle hash is not 64 lower-case hex");
	case MG_F_BUNDLE_GROUP:
		return 0;	/* free text, checked by check_text() */
	case MG_F_CLEAN:
		return (f->len == 3 && memcmp(f->val, "yes", 3) == 0) ||
		    (f->len == 2 && memcmp(f->val, "no", 2) == 0) ? 0 :
		    set_why(ret_why, "clean must be yes or no");
	default:
		return check_key_value(f, ret_why);
	}
}

/* Index fields by id after checking them against the type. */
static int
index_fields(enum mg_event_type t, const struct mg_field_val *f, size_t n,
    const struct mg_field_val *by_id[MG_F_COUNT_], const char **ret_why)
{
	uint64_t seen = 0;
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		if (f[i].id <= MG_F_NONE || f[i].id >= MG_F_COUNT_ ||
		    !(types[t].allowed & F(f[i].id)))
			return set_why(ret_why, "field not allowed for event");
		if (seen & F(f[i].id))
			return set_why(ret_why, "field given twice");
		if ((r = check_value(&f[i], ret_why)) < 0)
			return r;
		seen |= F(f[i].id);
		by_id[f[i].id] = &f[i];
	}
	if ((seen & types[t].required) != types[t].required)
		return set_why(ret_why, "required field missing");
	return 0;
}

static void
put_number(struct jw *w, const struct mg_field_val *f)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < f->len; i++)
		v = v * 10 + (uint64_t)(f->val[i] - '0');
	jw_u64(w, v);
}

static void
put_time(struct jw *w, int64_t ns)
{
	struct tm tm;
	time_t secs = (time_t)(ns / 1000000000);
	long frac = (long)(ns % 1000000000);
	char buf[48];
	size_t n;

	if (frac < 0) {
		frac += 1000000000;
		secs--;
	}
	if (gmtime_r(&secs, &tm) == NULL ||
	    (n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
		w->err = -EINVAL;
		return;
	}
	snprintf(buf + n, sizeof(buf) - n, ".%09ldZ", frac);
	jw_key(w, "@timestamp");
	jw_str(w, buf);
}

static void
put_common(struct jw *w, enum mg_event_type t, const struct mg_event_ctx *c,
    const struct mg_field_val *reason)
{
	put_time(w, c->t_wall_ns);
	jw_key(w, "event");
	jw_object(w);
	jw_key(w, "kind");
	jw_str(w, "event");
	jw_key(w, "action");
	jw_str(w, types[t].action);
	jw_key(w, "category");
	jw_array(w);
	jw_str(w, types[t].category);
	jw_array_end(w);
	jw_key(w, "type");
	jw_array(w);
	jw_str(w, types[t].type);
	jw_array_end(w);
	jw_key(w, "outcome");
	jw_str(w, types[t].outcome);
	jw_key(w, "sequence");
	jw_u64(w, c->seq);
	if (reason != NULL) {
		jw_key(w, "reason");
		jw_string(w, reason->val, reason->len);
	}
	jw_object_end(w);
	jw_key(w, "host");
	jw_object(w);
	jw_key(w, "name");
	jw_str(w, c->host_name);
	jw_object_end(w);
}

static void
put_agent(struct jw *w, const struct mg_event_ctx *c,
    const struct mg_field_val *version)
{
	jw_key(w, "agent");
	jw_object(w);
	jw_key(w, "id");
	jw_str(w, c->agent_id);
	jw_key(w, "type");
	jw_str(w, "mynaguard");
	if (version != NULL) {
		jw_key(w, "version");
		jw_string(w, version->val, version->len);
	}
	jw_object_end(w);
}

static void
put_field(struct jw *w, const char *key, const struct mg_field_val *f)
{
	if (f == NULL)
		return;
	jw_key(w, key);
	if (is_number(f->id))
		put_number(w, f);
	else if (f->id == MG_F_CLEAN)
		jw_bool(w, f->len == 3);
	else
		jw_string(w, f->val, f->len);
}

struct key {
	enum mg_field id;
	const char *key;
};

static const struct key dev_keys[] = {
	{ MG_F_DEV_VID, "vid" }, { MG_F_DEV_PID, "pid" },
	{ MG_F_DEV_SERIAL, "serial" }, { MG_F_DEV_VENDOR, "vendor" },
	{ MG_F_DEV_PRODUCT, "product" }, { MG_F_DEV_KIND, "kind" },
	{ MG_F_DEV_BUS, "bus" }, { MG_F_DEV_PATH, "path" },
	{ MG_F_DEV_NODE, "node" }, { MG_F_DEV_IFACES, "interfaces" },
	{ MG_F_NONE, NULL },
};
static const struct key decision_keys[] = {
	{ MG_F_VERDICT, "verdict" }, { MG_F_RULE, "rule" },
	{ MG_F_RULE_LINE, "line" }, { MG_F_RULE_LABEL, "label" },
	{ MG_F_DECIDER, "decider" }, { MG_F_NONE, NULL },
};
static const struct key mount_keys[] = {
	{ MG_F_MOUNT, "path" }, { MG_F_NONE, NULL },
};
static const struct key login_keys[] = {
	{ MG_F_LOGIN_SERVICE, "service" }, { MG_F_LOGIN_TTY, "tty" },
	{ MG_F_LOGIN_RHOST, "remote_host" },
	{ MG_F_LOGIN_FAILURES, "failures" },
	{ MG_F_LOGIN_LOCKED_UNTIL, "locked_until" }, { MG_F_NONE, NULL },
};
static const struct key key_keys[] = {
	{ MG_F_KEY_ID, "id" }, { MG_F_KEY_LABEL, "label" },
	{ MG_F_KEY_AAGUID, "aaguid" }, { MG_F_KEY_COUNTER, "counter" },
	{ MG_F_KEY_STORED_COUNTER, "stored_counter" },
	{ MG_F_KEY_RP, "rp_id" }, { MG_F_KEY_SOURCE, "source" },
	{ MG_F_NONE, NULL },
};
static const struct key state_keys[] = {
	{ MG_F_STATE_USB_DEFAULT, "usb_default" },
	{ MG_F_STATE_IFACE_DEFAULT, "usb_iface_default" },
	{ MG_F_STATE_DISKS, "removable_disks" },
	{ MG_F_STATE_WRITABLE, "removable_writable" },
	{ MG_F_STATE_UDEV, "udev_rules" },
	{ MG_F_STATE_UDEV_PATH, "udev_rules_path" },
	{ MG_F_STATE_MODPROBE, "modprobe" },
	{ MG_F_STATE_SPOOL_DEPTH, "spool_depth" },
	{ MG_F_STATE_ACKED_SEQ, "acked_seq" },
	{ MG_F_STATE_MISMATCH, "mismatch" }, { MG_F_NONE, NULL },
};
static const struct key bundle_keys[] = {
	{ MG_F_BUNDLE_GROUP, "group" }, { MG_F_BUNDLE_VERSION, "version" },
	{ MG_F_BUNDLE_HASH, "sha256" }, { MG_F_BUNDLE_SIGNER, "signer" },
	{ MG_F_BUNDLE_CREDS_HASH, "credentials_sha256" }, { MG_F_NONE, NULL },
};

/* An object of the fields in keys that are present, if any is. */
static void
put_group(struct jw *w, const char *name,
    const struct mg_field_val *const *by, const struct key *keys)
{
	const struct key *k;
	bool any = false;

	for (k = keys; k->key != NULL && !any; k++)
		any = by[k->id] != NULL;
	if (!any)
		return;
	jw_key(w, name);
	jw_object(w);
	for (k = keys; k->key != NULL; k++)
		put_field(w, k->key, by[k->id]);
	jw_object_end(w);
}

static void
put_mynaguard(struct jw *w, const struct mg_event_ctx *c,
    const struct mg_field_val *const *by)
{
	jw_key(w, "mynaguard");
	jw_object(w);
	jw_key(w, "boot_id");
	jw_u64(w, c->boot_id);
	if (by[MG_F_POLICY_PATH] || by[MG_F_POLICY_HASH] ||
	    by[MG_F_POLICY_VERSION]) {
		jw_key(w, "policy");
		jw_object(w);
		put_field(w, "path", by[MG_F_POLICY_PATH]);
		put_field(w, "hash", by[MG_F_POLICY_HASH]);
		put_field(w, "version", by[MG_F_POLICY_VERSION]);
		jw_object_end(w);
	}
	put_group(w, "device", by, dev_keys);
	put_group(w, "decision", by, decision_keys);
	put_group(w, "mount", by, mount_keys);
	put_group(w, "login", by, login_keys);
	put_group(w, "key", by, key_keys);
	put_group(w, "state", by, state_keys);
	put_group(w, "bundle", by, bundle_keys);
	put_field(w, "actor", by[MG_F_ACTOR]);
	if (by[MG_F_PREV_SEQ] || by[MG_F_CLEAN]) {
		jw_key(w, "agent");
		jw_object(w);
		put_field(w, "previous_seq", by[MG_F_PREV_SEQ]);
		put_field(w, "clean_shutdown", by[MG_F_CLEAN]);
		jw_object_end(w);
	}
	jw_object_end(w);
}

static bool
ctx_ok(const struct mg_event_ctx *c)
{
	return c != NULL && c->host_name != NULL && c->agent_id != NULL &&
	    c->seq != 0;
}

int
mg_event_body(enum mg_event_type t, const struct mg_field_val *f, size_t n,
    const struct mg_event_ctx *ctx, struct sbuf *out, const char **ret_why)
{
	const struct mg_field_val *by[MG_F_COUNT_] = { 0 };
	struct jw w;
	int r;

	if (t <= MG_EV_NONE || t >= MG_EV_COUNT_ || t == MG_EV_EVENTS_DROPPED)
		return set_why(ret_why, "unknown event type");
	if (!ctx_ok(ctx) || out == NULL || (n > 0 && f == NULL) ||
	    n > MG_FIELDS_MAX)
		return -EINVAL;
	if ((r = index_fields(t, f, n, by, ret_why)) < 0)
		return r;
	jw_init(&w, out);
	jw_object(&w);
	put_common(&w, t, ctx, by[MG_F_REASON]);
	put_agent(&w, ctx, by[MG_F_VERSION]);
	if (by[MG_F_USER] != NULL) {
		jw_key(&w, "user");
		jw_object(&w);
		put_field(&w, "name", by[MG_F_USER]);
		jw_object_end(&w);
	}
	put_field(&w, "message", by[MG_F_MESSAGE]);
	put_mynaguard(&w, ctx, by);
	jw_object_end(&w);
	return jw_finish(&w);
}

int
mg_event_loss_body(const struct mg_loss_range *rg, size_t n, uint64_t count,
    const char *reason, const struct mg_event_ctx *ctx, struct sbuf *out)
{
	char hex[2 * MG_REC_HASH_LEN + 1];
	struct mg_field_val rf;
	struct jw w;
	size_t i;

	if (!ctx_ok(ctx) || out == NULL || reason == NULL || n == 0 ||
	    n > MG_LOSS_RANGES_MAX || rg == NULL)
		return -EINVAL;
	rf.id = MG_F_REASON;
	rf.val = reason;
	rf.len = strlen(reason);
	jw_init(&w, out);
	jw_object(&w);
	put_common(&w, MG_EV_EVENTS_DROPPED, ctx, &rf);
	put_agent(&w, ctx, NULL);
	jw_key(&w, "mynaguard");
	jw_object(&w);
	jw_key(&w, "boot_id");
	jw_u64(&w, ctx->boot_id);
	jw_key(&w, "loss");
	jw_object(&w);
	jw_key(&w, "count");
	jw_u64(&w, count);
	jw_key(&w, "ranges");
	jw_array(&w);
	for (i = 0; i < n; i++) {
		jw_object(&w);
		jw_key(&w, "from");
		jw_u64(&w, rg[i].from);
		jw_key(&w, "to");
		jw_u64(&w, rg[i].to);
		mg_hex(rg[i].last_hash, MG_REC_HASH_LEN, hex);
		jw_key(&w, "last_hash");
		jw_str(&w, hex);
		jw_object_end(&w);
	}
	jw_array_end(&w);
	jw_object_end(&w);
	jw_object_end(&w);
	jw_object_end(&w);
	return jw_finish(&w);
}
