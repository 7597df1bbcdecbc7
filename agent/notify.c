/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Notices to the person at the seat: formatting (with hostile USB strings
 * made safe to show), the journal record, and the desktop pop-up sent by a
 * grandchild running as the seat's user (Desktop Notifications spec 1.2).
 */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <syslog.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#include <systemd/sd-login.h>
#include <time.h>
#include <unistd.h>

#include "mynaguard/common.h"
#include "notify.h"

#define ELLIPSIS "\xe2\x80\xa6"	/* U+2026 */
#define ELLIPSIS_LEN 3u
#define REPLACEMENT "\xef\xbf\xbd"	/* U+FFFD */

#define ENV_BUS "MYNAGUARD_NOTIFY_BUS"
#define ENV_UID "MYNAGUARD_NOTIFY_UID"

#define NOTIFY_DEST "org.freedesktop.Notifications"
#define NOTIFY_PATH "/org/freedesktop/Notifications"
#define NOTIFY_IFACE "org.freedesktop.Notifications"
#define NOTIFY_EXPIRE_MS 10000
#define CALL_TIMEOUT_USEC UINT64_C(2000000)
#define CHILD_DEADLINE_S 5u	/* SIGALRM ends a grandchild stuck anywhere */
#define POPUP_BURST 5u
#define POPUP_WINDOW_MS 10000
#define PW_BUF_SIZE 16384u
#define JOURNAL_FIELDS 8

enum { LANG_JA, LANG_EN };

struct kind_word {
	const char *key;
	const char *ja;
	const char *en;		/* inside a sentence */
	const char *en_cap;	/* starting one */
	bool media;		/* NOTICE_ALLOWED pops up */
};

static const struct kind_word kind_words[] = {
	{ "storage", "USBメモリ", "USB storage device", "USB storage device",
	    true },
	{ "sd", "SDカード", "SD card", "SD card", true },
	{ "mtp", "スマートフォン・カメラ", "smartphone or camera",
	    "Smartphone or camera", true },
	{ "ptp", "スマートフォン・カメラ", "smartphone or camera",
	    "Smartphone or camera", true },
	{ "optical", "光学ドライブ", "optical drive", "Optical drive", true },
	{ "hid", "入力機器", "input device", "Input device", false },
	{ "network", "ネットワーク機器", "network device", "Network device",
	    false },
};

static const struct kind_word kind_other = { "other", "デバイス", "device",
	"Device", false };

/* Sentences are split at their ends only, so each still greps whole. */
static const char contact_register_ja[] =
    "書き込みが必要な場合は、情報システム担当へ媒体の登録をご依頼ください。";
static const char contact_register_en[] =
    " If you need to write to it, please ask your IT administrator to "
    "register the medium.";

struct notice_text {
	const char *name;	/* MYNAGUARD_NOTICE= */
	const char *msgid;
	int priority;
	int urgency;		/* 1 normal, 2 critical */
	const char *icon;
	const char *category;	/* spec 1.2, "Categories" */
	const char *title[2];	/* after the noun */
	const char *says[2];	/* after the subject */
	const char *contact[2];
};

static const struct notice_text texts[] = {
	[NOTICE_READ_ONLY] = { "read-only", NOTICE_MSGID_READ_ONLY,
	    LOG_NOTICE, 1, "drive-removable-media", "device.added",
	    { "は読み取り専用です", " is read-only" },
	    { "は読み取り専用で接続されました。"
	      "この端末から外部媒体へデータを書き出すことはできません（情報セキュリティポリシー）。",
	      " was connected read-only. "
	      "Data cannot be written from this computer to external media "
	      "(information security policy)." },
	    { contact_register_ja, contact_register_en } },
	[NOTICE_BLOCKED] = { "blocked", NOTICE_MSGID_BLOCKED, LOG_NOTICE, 2,
	    "dialog-warning", "device.error",
	    { "は使用できません", " blocked" },
	    { "は、この端末での使用が禁止されているため接続できません（情報セキュリティポリシー）。",
	      " cannot be connected because its use is prohibited on this "
	      "computer (information security policy)." },
	    { "業務で使用する必要がある場合は、情報システム担当へご相談ください。",
	      " If you need it for your work, please contact your IT "
	      "administrator." } },
	[NOTICE_ALLOWED] = { "allowed", NOTICE_MSGID_ALLOWED, LOG_INFO, 1,
	    "drive-removable-media", "device.added",
	    { "が接続されました", " connected" },
	    { "が接続されました。この端末での使用は許可されています。",
	      " was connected. Its use is permitted on this computer." },
	    { "", "" } },
	[NOTICE_MOUNT_FORCED_RO] = { "mount-forced-ro",
	    NOTICE_MSGID_MOUNT_FORCED_RO, LOG_NOTICE, 1,
	    "drive-removable-media", "device.added",
	    { "を読み取り専用でマウントしました", " mounted read-only" },
	    { "は読み取り専用でマウントされました。"
	      "ファイルを開くことはできますが、保存や変更はできません（情報セキュリティポリシー）。",
	      " was mounted read-only. "
	      "You can open its files but cannot save or change them "
	      "(information security policy)." },
	    { contact_register_ja, contact_register_en } },
};

/* Everything one notice_send() needs, on the heap: the stack frames stay
 * small (-Wframe-larger-than) and the grandchild gets its own copy. */
struct notify_job {
	enum notice_kind kind;
	uid_t uid;
	char text[NOTICE_TEXT_SIZE];
	char title[NOTICE_TITLE_SIZE];
	char bus[256];		/* D-Bus address */
	char fields[NOTICE_TEXT_SIZE + 4 * NOTICE_NAME_SIZE + 256];
	struct iovec iov[JOURNAL_FIELDS];
	int n_iov;
};

/* Pop-ups sent in the current window.  The one piece of state kept between
 * calls: a device that re-enumerates in a loop must neither fork a process
 * per event nor bury the desktop, and the API has no handle to keep it in. */
static struct {
	int64_t start_ms;
	unsigned count;
	bool warned_caps;
} popups;

/* ---- a bounded string writer ---------------------------------------- */

struct w {
	char *buf;
	size_t size;	/* > 0 */
	size_t len;
	int err;	/* first error: -E2BIG */
};

static void
w_init(struct w *w, char *buf, size_t size)
{
	w->buf = buf;
	w->size = size;
	w->len = 0;
	w->err = 0;
	buf[0] = '\0';
}

static void
w_put(struct w *w, const char *s, size_t n)
{
	if (w->err != 0)
		return;
	if (n >= w->size - w->len) {
		w->err = -E2BIG;
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

static void
w_puts(struct w *w, const char *s)
{
	w_put(w, s, strlen(s));
}

/* ---- sanitizing hostile strings ------------------------------------- */

/* The display form of one input character. */
struct piece {
	char s[12];
	size_t len;	/* bytes */
	size_t chars;	/* display characters */
};

static uint32_t
utf8_decode(const unsigned char *u, size_t n)
{
	static const unsigned char lead_mask[] = { 0, 0x7f, 0x1f, 0x0f, 0x07 };
	uint32_t cp = u[0] & lead_mask[n];
	size_t i;

	for (i = 1; i < n; i++)
		cp = (cp << 6) | (u[i] & 0x3fu);
	return cp;
}

/* Characters that show nothing or reorder what follows (Unicode TR #36
 * section 3; "Trojan Source", CVE-2021-42574): a product string must not
 * hide text or turn the rest of the message around. */
static bool
invisible(uint32_t cp)
{
	static const struct {
		uint32_t lo, hi;
	} ranges[] = {
		{ 0x00ad, 0x00ad },	/* soft hyphen */
		{ 0x061c, 0x061c },	/* Arabic letter mark */
		{ 0x115f, 0x1160 },	/* Hangul fillers */
		{ 0x180e, 0x180e },	/* Mongolian vowel separator */
		{ 0x200b, 0x200f },	/* zero widths, LRM, RLM */
		{ 0x2028, 0x202e },	/* line/paragraph separators, bidi */
		{ 0x2060, 0x206f },	/* word joiner, bidi isolates */
		{ 0x3164, 0x3164 },	/* Hangul filler */
		{ 0xfeff, 0xfeff },	/* BOM */
		{ 0xffa0, 0xffa0 },	/* halfwidth Hangul filler */
		{ 0xfff9, 0xfffb },	/* interlinear annotation */
		{ 0xe0000, 0xe007f },	/* tags */
	};
	size_t i;

	for (i = 0; i < MG_ELEMENTSOF(ranges); i++)
		if (cp >= ranges[i].lo && cp <= ranges[i].hi)
			return true;
	return false;
}

static void
piece_set(struct piece *pc, const char *s, size_t len, size_t chars)
{
	memcpy(pc->s, s, len);
	pc->len = len;
	pc->chars = chars;
}

static void
piece_escape(struct piece *pc, uint32_t cp)
{
	int k;

	if (cp < 0x100)
		k = snprintf(pc->s, sizeof(pc->s), "\\x%02x", (unsigned)cp);
	else if (cp < 0x10000)
		k = snprintf(pc->s, sizeof(pc->s), "\\u%04x", (unsigned)cp);
	else
		k = snprintf(pc->s, sizeof(pc->s), "\\U%08x", (unsigned)cp);
	/* At most 10 ASCII characters: cp <= U+10FFFF. */
	pc->len = pc->chars = k > 0 ? (size_t)k : 0;
}

/* Put the display form of the character at s into *pc; returns the input
 * bytes it stands for. */
static size_t
next_piece(const char *s, struct piece *pc)
{
	size_t n = utf8_seqlen(s, strnlen(s, 4));
	uint32_t cp;

	if (n == 0) {
		piece_set(pc, REPLACEMENT, 3, 1);
		return 1;
	}
	cp = utf8_decode((const unsigned char *)s, n);
	if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || invisible(cp))
		piece_escape(pc, cp);
	else if (cp == '\\')
		piece_set(pc, "\\\\", 2, 2);
	else if (cp == '"')	/* the message quotes it in "" or 「」 */
		piece_set(pc, "'", 1, 1);
	else if (cp == 0x300c)
		piece_set(pc, "『", sizeof("『") - 1, 1);
	else if (cp == 0x300d)
		piece_set(pc, "』", sizeof("』") - 1, 1);
	else
		piece_set(pc, s, n, 1);
	return n;
}

static size_t
trim_end(const char *buf, size_t len)
{
	while (len > 0 && buf[len - 1] == ' ')
		len--;
	return len;
}

int
notice_sanitize(const char *s, size_t max_chars, char *buf, size_t size)
{
	struct piece pc;
	size_t len = 0, chars = 0, keep = 0, used;

	if (buf == NULL || size < ELLIPSIS_LEN + 1 || max_chars < 2)
		return -EINVAL;
	if (size > INT_MAX)
		size = INT_MAX;
	buf[0] = '\0';
	if (s == NULL)
		return 0;
	while (*s == ' ')
		s++;
	for (; *s != '\0'; s += used) {
		used = next_piece(s, &pc);
		if (chars + pc.chars > max_chars || len + pc.len >= size) {
			/* Cut at the last piece after which "…" fits. */
			len = trim_end(buf, keep);
			memcpy(buf + len, ELLIPSIS, ELLIPSIS_LEN + 1);
			return (int)(len + ELLIPSIS_LEN);
		}
		memcpy(buf + len, pc.s, pc.len);
		len += pc.len;
		chars += pc.chars;
		if (chars < max_chars && len + ELLIPSIS_LEN < size)
			keep = len;
	}
	len = trim_end(buf, len);
	buf[len] = '\0';
	return (int)len;
}

int
notice_escape_markup(const char *s, char *buf, size_t size)
{
	struct w w;
	size_t n;

	if (s == NULL || buf == NULL || size == 0)
		return -EINVAL;
	if (size > INT_MAX)
		size = INT_MAX;
	w_init(&w, buf, size);
	while (*s != '\0' && w.err == 0) {
		n = strcspn(s, "&<>");
		w_put(&w, s, n);
		s += n;
		if (*s == '\0')
			break;
		w_puts(&w, *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : "&gt;");
		s++;
	}
	if (w.err != 0) {
		buf[0] = '\0';
		return w.err;
	}
	return (int)w.len;
}

/* ---- formatting ----------------------------------------------------- */

struct fmt {
	int lang;
	enum notice_kind kind;
	const struct kind_word *kw;
	char name[NOTICE_NAME_SIZE];	/* sanitized; "" when unknown */
	char label[NOTICE_NAME_SIZE];
};

static int
lang_index(const char *lang)
{
	if (lang == NULL)
		return LANG_JA;	/* the terminals this is written for */
	/* "ja", "ja_JP.UTF-8", "ja-JP" (strchr() also finds the NUL) */
	if (strncmp(lang, "ja", 2) == 0 && strchr("_-.", lang[2]) != NULL)
		return LANG_JA;
	return LANG_EN;
}

static const struct kind_word *
kind_lookup(const char *key)
{
	size_t i;

	if (key == NULL)
		return &kind_other;
	for (i = 0; i < MG_ELEMENTSOF(kind_words); i++)
		if (strcmp(key, kind_words[i].key) == 0)
			return &kind_words[i];
	return &kind_other;
}

static bool
kind_ok(enum notice_kind kind)
{
	return (unsigned)kind < MG_ELEMENTSOF(texts);
}

static void
fmt_init(struct fmt *f, const struct notice *n, const char *lang)
{
	f->lang = lang_index(lang);
	f->kind = n->kind;
	f->kw = kind_lookup(n->kind_word);
	/* Sizes are fixed and valid: these cannot fail. */
	(void)notice_sanitize(n->product, NOTICE_NAME_CHARS, f->name,
	    sizeof(f->name));
	if (f->name[0] == '\0')
		(void)notice_sanitize(n->vendor, NOTICE_NAME_CHARS, f->name,
		    sizeof(f->name));
	(void)notice_sanitize(n->label, NOTICE_NAME_CHARS, f->label,
	    sizeof(f->label));
}

/* "USBメモリ「X」", "「X」（スマートフォン・カメラ）", "USBメモリ";
 * "USB storage device \"X\"", "\"X\" (smartphone or camera)", "The ...". */
static void
put_subject(struct w *w, const struct fmt *f)
{
	bool ja = f->lang == LANG_JA;

	if (f->name[0] == '\0') {
		w_puts(w, ja ? f->kw->ja : "The ");
		if (!ja)
			w_puts(w, f->kw->en);
		return;
	}
	if (f->kind == NOTICE_BLOCKED) {
		w_puts(w, ja ? "「" : "\"");
		w_puts(w, f->name);
		w_puts(w, ja ? "」（" : "\" (");
		w_puts(w, ja ? f->kw->ja : f->kw->en);
		w_puts(w, ja ? "）" : ")");
		return;
	}
	w_puts(w, ja ? f->kw->ja : f->kw->en_cap);
	w_puts(w, ja ? "「" : " \"");
	w_puts(w, f->name);
	w_puts(w, ja ? "」" : "\"");
}

static void
put_label(struct w *w, const struct fmt *f)
{
	bool ja = f->lang == LANG_JA;

	if (f->label[0] == '\0')
		return;
	w_puts(w, ja ? "適用ルール：「" : " Policy rule: \"");
	w_puts(w, f->label);
	w_puts(w, ja ? "」。" : "\".");
}

static int
format_title(const struct fmt *f, char *title, size_t title_size)
{
	struct w w;

	w_init(&w, title, title_size);
	w_puts(&w, f->lang == LANG_JA ? f->kw->ja : f->kw->en_cap);
	w_puts(&w, texts[f->kind].title[f->lang]);
	return w.err;
}

int
notice_format(const struct notice *n, const char *lang, char *buf,
    size_t size, char *title, size_t title_size)
{
	struct fmt f;
	struct w w;
	int r;

	if (buf == NULL || size == 0)
		return -EINVAL;
	buf[0] = '\0';
	if (title != NULL && title_size > 0)
		title[0] = '\0';
	if (n == NULL || !kind_ok(n->kind) ||
	    (title != NULL && title_size == 0))
		return -EINVAL;
	fmt_init(&f, n, lang);
	w_init(&w, buf, size);
	put_subject(&w, &f);
	w_puts(&w, texts[n->kind].says[f.lang]);
	put_label(&w, &f);
	w_puts(&w, texts[n->kind].contact[f.lang]);
	r = w.err;
	if (r == 0 && title != NULL)
		r = format_title(&f, title, title_size);
	if (r < 0) {
		buf[0] = '\0';
		if (title != NULL)
			title[0] = '\0';
	}
	return r;
}

/* ---- the journal and stderr ----------------------------------------- */

/* Whether stderr is the journal stream systemd connected us to
 * (systemd.exec(5), $JOURNAL_STREAM): then the structured record suffices. */
static bool
stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM"), *colon;
	char dev_s[32];
	uint64_t dev, ino;
	struct stat st;

	if (e == NULL || (colon = strchr(e, ':')) == NULL ||
	    (size_t)(colon - e) >= sizeof(dev_s))
		return false;
	memcpy(dev_s, e, (size_t)(colon - e));
	dev_s[colon - e] = '\0';
	if (parse_u64(dev_s, 0, UINT64_MAX, &dev) < 0 ||
	    parse_u64(colon + 1, 0, UINT64_MAX, &ino) < 0 ||
	    fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (uint64_t)st.st_dev == dev && (uint64_t)st.st_ino == ino;
}

/* Add "KEY=value" (value sanitized when hostile; nothing when NULL or
 * empty) to the job's journal fields. */
static void
add_field(struct notify_job *job, struct w *w, const char *key,
    const char *value, bool hostile)
{
	size_t start = w->len;
	int k;

	if (value == NULL || value[0] == '\0' || job->n_iov >= JOURNAL_FIELDS)
		return;
	w_puts(w, key);
	if (!hostile)
		w_puts(w, value);
	else if (w->err == 0) {
		k = notice_sanitize(value, NOTICE_NAME_CHARS, w->buf + w->len,
		    w->size - w->len);
		if (k <= 0) {	/* no room, or nothing left to show */
			w->len = start;
			return;
		}
		w->len += (size_t)k;
	}
	if (w->err != 0)
		return;
	job->iov[job->n_iov].iov_base = w->buf + start;
	job->iov[job->n_iov].iov_len = w->len - start;
	job->n_iov++;
}

static void
log_notice(const struct notice *n, struct notify_job *job)
{
	const struct notice_text *t = &texts[n->kind];
	char prio[2] = { (char)('0' + t->priority), '\0' };
	struct w w;
	int r;

	w_init(&w, job->fields, sizeof(job->fields));
	job->n_iov = 0;
	add_field(job, &w, "MESSAGE=", job->text, false);
	add_field(job, &w, "PRIORITY=", prio, false);
	add_field(job, &w, "MESSAGE_ID=", t->msgid, false);
	add_field(job, &w, "MYNAGUARD_NOTICE=", t->name, false);
	add_field(job, &w, "MYNAGUARD_DEVICE_KIND=", n->kind_word, true);
	add_field(job, &w, "MYNAGUARD_DEVICE_PRODUCT=", n->product, true);
	add_field(job, &w, "MYNAGUARD_DEVICE_VENDOR=", n->vendor, true);
	add_field(job, &w, "MYNAGUARD_RULE_LABEL=", n->label, true);
	r = w.err != 0 ? w.err : sd_journal_sendv(job->iov, job->n_iov);
	/* Without journald (tests, containers) the line is all there is. */
	if (r < 0 || !stderr_is_journal())
		fprintf(stderr, "<%d>device %s: %s\n", t->priority, t->name,
		    job->text);
}

/* ---- finding the seat's user ---------------------------------------- */

static int
bus_from_uid(struct notify_job *job)
{
	int k = snprintf(job->bus, sizeof(job->bus),
	    "unix:path=/run/user/%u/bus", (unsigned)job->uid);

	return k < 0 || (size_t)k >= sizeof(job->bus) ? -E2BIG : 0;
}

/* The test override: 1, or -EINVAL / -E2BIG. */
static int
target_from_env(struct notify_job *job, const char *bus, const char *uid_s)
{
	uint32_t uid = (uint32_t)getuid();
	size_t n;

	if (uid_s != NULL && parse_u32(uid_s, 0, UINT32_MAX - 1, &uid) < 0)
		return -EINVAL;
	job->uid = (uid_t)uid;
	if (bus == NULL)
		return bus_from_uid(job) < 0 ? -E2BIG : 1;
	n = strlen(bus);
	if (n >= sizeof(job->bus))
		return -E2BIG;
	memcpy(job->bus, bus, n + 1);
	return 1;
}

/* 1 when seat0's active session is a graphical user session (not the
 * greeter), 0 when there is none or no logind, -E2BIG. */
static int
target_from_logind(struct notify_job *job)
{
	char *session = NULL, *type = NULL, *class = NULL;
	uid_t uid;
	int r = 0;

	if (sd_seat_get_active("seat0", &session, &uid) < 0 ||
	    sd_session_get_type(session, &type) < 0 ||
	    sd_session_get_class(session, &class) < 0)
		goto out;
	if (strcmp(type, "x11") != 0 && strcmp(type, "wayland") != 0)
		goto out;
	if (strcmp(class, "user") != 0)
		goto out;
	job->uid = uid;
	r = bus_from_uid(job) < 0 ? -E2BIG : 1;
out:
	free(session);
	free(type);
	free(class);
	return r;
}

/* ---- the grandchild ------------------------------------------------- */

/* Only write(2) from here on: the agent has threads, and another one may
 * have held a stdio lock at fork().  (glibc makes malloc safe after fork.) */
static void
child_warn(uid_t uid, const char *what, int r)
{
	char line[256];
	const char *name = strerrorname_np(-r);
	int k;

	k = snprintf(line, sizeof(line),
	    "<4>desktop notification for uid %u: %s: %s\n", (unsigned)uid,
	    what, name != NULL ? name : "error");
	if (k > 0)
		(void)!write(STDERR_FILENO, line,
		    (size_t)k < sizeof(line) ? (size_t)k : sizeof(line) - 1);
}

static int
user_gid(uid_t uid, gid_t *ret_gid)
{
	char path[64], *buf = NULL;
	struct passwd pw, *res = NULL;
	struct stat st;
	int r;

	/* logind mounts the runtime directory with the user's uid and
	 * primary gid: no NSS lookup (which may hang on LDAP) needed. */
	(void)snprintf(path, sizeof(path), "/run/user/%u", (unsigned)uid);
	if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == uid) {
		*ret_gid = st.st_gid;
		return 0;
	}
	buf = malloc(PW_BUF_SIZE);
	if (buf == NULL)
		return -ENOMEM;
	r = getpwuid_r(uid, &pw, buf, PW_BUF_SIZE, &res);
	if (r == 0 && res != NULL)
		*ret_gid = pw.pw_gid;
	else
		r = r > 0 ? -r : -ENOENT;
	free(buf);
	return r;
}

/* Check the drop stuck (OpenSSH permanently_set_uid()). */
static int
check_ids(uid_t uid, gid_t gid)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg, g;

	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return -errno;
	if (ru != uid || eu != uid || su != uid)
		return -EPERM;
	if (rg != gid || eg != gid || sg != gid)
		return -EPERM;
	if (getgroups(1, &g) != 1 || g != gid)
		return -EPERM;
	if (uid != 0 && (setuid(0) != -1 || seteuid(0) != -1))
		return -EPERM;
	return 0;
}

static int
drop_privileges(uid_t uid)
{
	gid_t gid;
	int r;

	/* Already that user: a test as a normal user, or root's session. */
	if (getuid() == uid && geteuid() == uid)
		return 0;
	if (geteuid() != 0)
		return -EPERM;
	r = user_gid(uid, &gid);
	if (r < 0)
		return r;
	if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0)
		return -errno;
	return check_ids(uid, gid);
}

/* Whether the server interprets markup in the body (spec 1.2,
 * GetCapabilities "body-markup"): 1 or 0, then the body must be escaped or
 * not.  A server without the method gets plain text; a bus that times out
 * or went away gives its error, so a silent bus costs one timeout only. */
static int
server_has_markup(sd_bus *bus)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	const char *cap;
	int r, markup = 0;

	r = sd_bus_call_method(bus, NOTIFY_DEST, NOTIFY_PATH, NOTIFY_IFACE,
	    "GetCapabilities", &err, &reply, "");
	if (r < 0) {
		markup = r == -ETIMEDOUT || sd_bus_is_open(bus) <= 0 ? r : 0;
		goto out;
	}
	r = sd_bus_message_enter_container(reply, 'a', "s");
	while (r >= 0 && (r = sd_bus_message_read(reply, "s", &cap)) > 0)
		if (strcmp(cap, "body-markup") == 0)
			markup = 1;
out:
	sd_bus_error_free(&err);
	sd_bus_message_unref(reply);
	return markup;
}

static int
call_notify(sd_bus *bus, const struct notify_job *job, const char *body)
{
	const struct notice_text *t = &texts[job->kind];
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *m = NULL, *reply = NULL;
	int r;

	/* Notify(app_name, replaces_id, app_icon, summary, body, actions,
	 * hints, expire_timeout) */
	r = sd_bus_message_new_method_call(bus, &m, NOTIFY_DEST, NOTIFY_PATH,
	    NOTIFY_IFACE, "Notify");
	if (r >= 0)
		r = sd_bus_message_append(m, "susssas", "mynaguard",
		    (uint32_t)0, t->icon, job->title, body, 0u);
	if (r >= 0)
		r = sd_bus_message_append(m, "a{sv}", 2u, "urgency", "y",
		    t->urgency, "category", "s", t->category);
	if (r >= 0)
		r = sd_bus_message_append(m, "i", (int32_t)NOTIFY_EXPIRE_MS);
	if (r >= 0)
		r = sd_bus_call(bus, m, 0, &err, &reply);
	sd_bus_error_free(&err);
	sd_bus_message_unref(reply);
	sd_bus_message_unref(m);
	return r;
}

static int
notify_bus(const struct notify_job *job)
{
	sd_bus *bus = NULL;
	char *escaped = NULL;
	const char *body = job->text;
	int r;

	r = sd_bus_new(&bus);
	if (r < 0)
		return r;
	r = sd_bus_set_address(bus, job->bus);
	if (r >= 0)
		r = sd_bus_set_bus_client(bus, 1);
	if (r >= 0)
		r = sd_bus_set_method_call_timeout(bus, CALL_TIMEOUT_USEC);
	if (r >= 0)
		r = sd_bus_start(bus);
	if (r >= 0)
		r = server_has_markup(bus);
	if (r > 0) {
		escaped = malloc(NOTICE_MARKUP_SIZE);
		if (escaped == NULL)
			r = -ENOMEM;
		else
			r = notice_escape_markup(job->text, escaped,
			    NOTICE_MARKUP_SIZE);
		body = escaped;
	}
	if (r >= 0)
		r = call_notify(bus, job, body);
	free(escaped);
	sd_bus_flush_close_unref(bus);
	return r;
}

static void
close_fds(void)
{
	int fd;

	/* The agent's sockets, spool and lock files stay with the agent. */
	if (close_range(3, ~0u, 0) == 0)
		return;
	for (fd = 3; fd < 65536; fd++)
		(void)close(fd);
}

static void
on_deadline(int sig)
{
	static const char msg[] = "<4>desktop notification: no answer within "
	    "the deadline, given up\n";

	(void)sig;
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(1);
}

static void __attribute__((noreturn))
notifier_main(const struct notify_job *job)
{
	sigset_t none;
	int r;

	/* The agent blocks the signals its signalfd reads. */
	(void)sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)signal(SIGALRM, on_deadline);
	(void)signal(SIGPIPE, SIG_IGN);
	close_fds();
	(void)alarm(CHILD_DEADLINE_S);
	r = drop_privileges(job->uid);
	if (r < 0) {
		child_warn(job->uid, "cannot drop privileges", r);
		_exit(1);
	}
	r = notify_bus(job);
	if (r < 0) {
		child_warn(job->uid, job->bus, r);
		_exit(1);
	}
	_exit(0);
}

/* Double fork: the grandchild is reparented (to a subreaper or PID 1), so
 * the agent reaps only the intermediate child, which exits at once, and
 * needs no SIGCHLD handling. */
static int
spawn(const struct notify_job *job)
{
	pid_t pid, w;
	int status;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		pid = fork();
		if (pid == 0)
			notifier_main(job);
		_exit(pid < 0 ? 1 : 0);
	}
	do
		w = waitpid(pid, &status, 0);
	while (w < 0 && errno == EINTR);
	if (w < 0)	/* ECHILD: SIGCHLD is ignored, the kernel reaped it */
		return errno == ECHILD ? 0 : -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EAGAIN;
}

static bool
popup_allowed(void)
{
	struct timespec ts;
	int64_t now;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return false;
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (popups.count == 0 || now - popups.start_ms >= POPUP_WINDOW_MS) {
		popups.start_ms = now;
		popups.count = 0;
	}
	if (popups.count < POPUP_BURST) {
		popups.count++;
		return true;
	}
	if (popups.count == POPUP_BURST) {
		popups.count++;
		fprintf(stderr, SD_WARNING "more than %u device notices "
		    "in %d s: desktop pop-ups paused, the journal has them\n",
		    POPUP_BURST, POPUP_WINDOW_MS / 1000);
	}
	return false;
}

/* Root needs CAP_SETUID and CAP_SETGID to become the seat's user.  A unit
 * without them (CapabilityBoundingSet=) most likely also filters the
 * set*id() calls (SystemCallFilter=~@privileged), which kills the caller
 * with SIGSYS: say so once instead of forking notifiers that die. */
static bool
may_switch_user(uid_t uid)
{
	if (geteuid() != 0 || uid == geteuid())
		return true;
	if (prctl(PR_CAPBSET_READ, CAP_SETUID, 0, 0, 0) == 1 &&
	    prctl(PR_CAPBSET_READ, CAP_SETGID, 0, 0, 0) == 1)
		return true;
	if (!popups.warned_caps) {
		popups.warned_caps = true;
		fprintf(stderr, SD_WARNING "desktop notifications need "
		    "CAP_SETUID, CAP_SETGID and the @setuid system calls; "
		    "device notices go to the journal only\n");
	}
	return false;
}

static void
popup(struct notify_job *job)
{
	const char *bus = getenv(ENV_BUS), *uid = getenv(ENV_UID);
	int r;

	if (bus != NULL || uid != NULL)
		r = target_from_env(job, bus, uid);
	else
		r = target_from_logind(job);
	if (r > 0 && may_switch_user(job->uid) && popup_allowed())
		r = spawn(job);
	if (r < 0)
		fprintf(stderr, SD_WARNING "desktop notification not "
		    "sent: %s\n", strerror(-r));
}

int
notice_send(const struct notice *n, const char *lang)
{
	struct notify_job *job = NULL;
	int r;

	job = calloc(1, sizeof(*job));
	if (job == NULL) {
		fprintf(stderr, SD_WARNING "device notice lost: out of "
		    "memory\n");
		return -ENOMEM;
	}
	r = notice_format(n, lang, job->text, sizeof(job->text), job->title,
	    sizeof(job->title));
	if (r < 0)
		goto out;
	job->kind = n->kind;
	log_notice(n, job);
	if (n->kind != NOTICE_ALLOWED || kind_lookup(n->kind_word)->media)
		popup(job);
	r = 0;
out:
	free(job);
	return r;
}
