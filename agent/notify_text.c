/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Notices to the person at the seat: the texts, in Japanese and English,
 * with hostile USB strings made safe to show (notify.c sends them).
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "mynaguard/common.h"
#include "notify_int.h"

#define ELLIPSIS "\xe2\x80\xa6"	/* U+2026 */
#define ELLIPSIS_LEN 3u
#define REPLACEMENT "\xef\xbf\xbd"	/* U+FFFD */

enum { LANG_JA, LANG_EN };

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


const struct notice_text notice_texts[NOTICE_KINDS_] = {
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

/* ---- a bounded string writer ---------------------------------------- */


void
nw_init(struct w *w, char *buf, size_t size)
{
	w->buf = buf;
	w->size = size;
	w->len = 0;
	w->err = 0;
	buf[0] = '\0';
}

void
nw_put(struct w *w, const char *s, size_t n)
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

void
nw_puts(struct w *w, const char *s)
{
	nw_put(w, s, strlen(s));
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
	nw_init(&w, buf, size);
	while (*s != '\0' && w.err == 0) {
		n = strcspn(s, "&<>");
		nw_put(&w, s, n);
		s += n;
		if (*s == '\0')
			break;
		nw_puts(&w, *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : "&gt;");
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

const struct kind_word *
notice_kind_lookup(const char *key)
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
	return (unsigned)kind < MG_ELEMENTSOF(notice_texts);
}

static void
fmt_init(struct fmt *f, const struct notice *n, const char *lang)
{
	f->lang = lang_index(lang);
	f->kind = n->kind;
	f->kw = notice_kind_lookup(n->kind_word);
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
		nw_puts(w, ja ? f->kw->ja : "The ");
		if (!ja)
			nw_puts(w, f->kw->en);
		return;
	}
	if (f->kind == NOTICE_BLOCKED) {
		nw_puts(w, ja ? "「" : "\"");
		nw_puts(w, f->name);
		nw_puts(w, ja ? "」（" : "\" (");
		nw_puts(w, ja ? f->kw->ja : f->kw->en);
		nw_puts(w, ja ? "）" : ")");
		return;
	}
	nw_puts(w, ja ? f->kw->ja : f->kw->en_cap);
	nw_puts(w, ja ? "「" : " \"");
	nw_puts(w, f->name);
	nw_puts(w, ja ? "」" : "\"");
}

static void
put_label(struct w *w, const struct fmt *f)
{
	bool ja = f->lang == LANG_JA;

	if (f->label[0] == '\0')
		return;
	nw_puts(w, ja ? "適用ルール：「" : " Policy rule: \"");
	nw_puts(w, f->label);
	nw_puts(w, ja ? "」。" : "\".");
}

static int
format_title(const struct fmt *f, char *title, size_t title_size)
{
	struct w w;

	nw_init(&w, title, title_size);
	nw_puts(&w, f->lang == LANG_JA ? f->kw->ja : f->kw->en_cap);
	nw_puts(&w, notice_texts[f->kind].title[f->lang]);
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
	nw_init(&w, buf, size);
	put_subject(&w, &f);
	nw_puts(&w, notice_texts[n->kind].says[f.lang]);
	put_label(&w, &f);
	nw_puts(&w, notice_texts[n->kind].contact[f.lang]);
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

