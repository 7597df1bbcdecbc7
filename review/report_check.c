/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The self-inspection report's check items and their rules (pure: numbers
 * of one terminal in, verdicts and evidence out), and HTML escaping.  The
 * clauses are those of the town's basic information-security policy
 * (情報セキュリティ基本方針) as mapped in POLICY-MAP.md; the rules are
 * documented in docs/review-api.md ("The self-inspection report").
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "review.h"

#define C_EXPORT "6(3)① 端末からの情報持ち出し不可設定"
#define C_MFA "6(3)① 端末への多要素認証の導入"
#define C_MONITOR "6(7) 運用（情報システムの監視）"
#define C_REVIEW "8 情報セキュリティポリシーの見直し"

const char *
rv_verdict_name(enum rv_verdict v)
{
	switch (v) {
	case RV_VERDICT_OK:
		return "適合";
	case RV_VERDICT_CHECK:
		return "要確認";
	default:
		return "不適合";
	}
}

/* Drop a UTF-8 sequence that snprintf cut at the end of s. */
static void
fit_utf8(char *s)
{
	size_t n = strlen(s), i = n;

	while (i > 0 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i > 0 && (unsigned char)s[i - 1] >= 0xc0 &&
	    utf8_seqlen(s + i - 1, n - i + 1) == 0)
		s[i - 1] = '\0';
}

/* printf into c->evidence (cut to fit, whole characters) and set v. */
static void __attribute__((format(printf, 3, 4)))
set(struct rv_check *c, enum rv_verdict v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->evidence, sizeof(c->evidence), fmt, ap);
	va_end(ap);
	fit_utf8(c->evidence);
	c->verdict = v;
}

static void
regularity(const struct rv_report_term *t, struct rv_check *c)
{
	enum rv_verdict v = RV_VERDICT_OK;

	if (t->events == 0 || t->silent || t->quiet_days > t->quiet_max)
		v = RV_VERDICT_CHECK;
	set(c, v,
	    "記録 %lld件、記録のある日 %lld/%lld日、最長の無記録 %lld日"
	    "（基準 %lld日以内）、最終接続 %s%s",
	    (long long)t->events, (long long)t->days_with_events,
	    (long long)t->days, (long long)t->quiet_days,
	    (long long)t->quiet_max, t->last_seen,
	    t->silent ? "、現在無通信" : "");
}

/* A published bundle the terminal does not report in force (issue 8). */
static bool
bundle_lagging(const struct rv_report_term *t)
{
	return t->bundle_latest > 0 && t->bundle_version < t->bundle_latest;
}

/* "; 配布グループ G: 適用版 N、最新版 M（更新遅れ）", or "". */
static void
bundle_text(const struct rv_report_term *t, char *buf, size_t len)
{
	char ver[24];

	buf[0] = '\0';
	if (t->bundle_latest <= 0)
		return;
	if (t->bundle_version >= 0)
		snprintf(ver, sizeof(ver), "%lld", (long long)t->bundle_version);
	else
		snprintf(ver, sizeof(ver), "報告なし");
	snprintf(buf, len, "; 配布グループ %.64s: 適用版 %.20s、最新版 %lld%s",
	    t->bundle_group, ver, (long long)t->bundle_latest,
	    bundle_lagging(t) ? "（更新遅れ）" : "");
}

static void
policy(const struct rv_report_term *t, struct rv_check *c)
{
	int64_t ver = t->policy_version >= 0 ? t->policy_version :
					       t->state_policy_version;
	const char *hash =
	    t->policy_hash[0] ? t->policy_hash : t->state_policy_hash;
	enum rv_verdict v = RV_VERDICT_OK;
	char bundle[RV_REPORT_TEXT / 2];

	bundle_text(t, bundle, sizeof(bundle));
	if (ver < 0 || t->policy_rejected > 0 || ver < t->latest_version ||
	    bundle_lagging(t) ||
	    (t->policy_hash[0] && t->state_policy_hash[0] &&
		strcmp(t->policy_hash, t->state_policy_hash) != 0))
		v = RV_VERDICT_CHECK;
	if (ver < 0) {
		set(c, v, "期間内にポリシーの読込・状態報告なし、拒否 %lld回%s",
		    (long long)t->policy_rejected, bundle);
		return;
	}
	set(c, v,
	    "版 %lld（最新版 %lld）、ハッシュ %.16s…、読込 %lld回、拒否 %lld回%s%s",
	    (long long)ver, (long long)t->latest_version, hash,
	    (long long)t->policy_loaded, (long long)t->policy_rejected,
	    t->policy_hash[0] && t->state_policy_hash[0] &&
		    strcmp(t->policy_hash, t->state_policy_hash) != 0 ?
		"、状態報告のハッシュと異なる" :
		"",
	    bundle);
}

static void
state(const struct rv_report_term *t, struct rv_check *c)
{
	enum rv_verdict v = RV_VERDICT_OK;

	if (!t->has_state) {
		set(c, RV_VERDICT_CHECK, "期間内の状態報告なし");
		return;
	}
	if (t->mismatch[0] != '\0')
		v = RV_VERDICT_FAIL;
	else if (t->mismatch_reports > 0 || t->alerts_state > 0)
		v = RV_VERDICT_CHECK;
	set(c, v,
	    "最新の状態報告 %s: usb_default=%s、書込可能な外部媒体 %lld、"
	    "不一致 %s; 期間内の状態報告 %lld回（うち不一致 %lld回）、"
	    "state-mismatch警報 %lld件",
	    t->state_time, t->usb_default, (long long)t->removable_writable,
	    t->mismatch[0] ? t->mismatch : "なし", (long long)t->state_reports,
	    (long long)t->mismatch_reports, (long long)t->alerts_state);
}

static void
media(const struct rv_report_term *t, struct rv_check *c)
{
	const int64_t *d = t->device;

	set(c, d[4] > 0 || d[5] > 0 ? RV_VERDICT_FAIL : RV_VERDICT_OK,
	    "許可 %lld、読み取り専用 %lld、遮断 %lld、取り外し %lld、"
	    "強制の失敗 %lld、書込可能なマウント %lld%s%s",
	    (long long)d[0], (long long)d[1], (long long)d[2], (long long)d[3],
	    (long long)d[4], (long long)d[5], t->critical[0] ? "; " : "",
	    t->critical);
}

static void
logins(const struct rv_report_term *t, struct rv_check *c)
{
	const int64_t *l = t->login;

	set(c, l[2] > 0 ? RV_VERDICT_CHECK : RV_VERDICT_OK,
	    "成功 %lld、失敗 %lld、ロックアウト %lld、ロック解除 %lld%s%s",
	    (long long)l[0], (long long)l[1], (long long)l[2], (long long)l[4],
	    t->login_users[0] ? "; " : "", t->login_users);
}

static void
break_glass(const struct rv_report_term *t, struct rv_check *c)
{
	set(c, t->login[3] > 0 ? RV_VERDICT_CHECK : RV_VERDICT_OK,
	    "緊急用アカウントのログイン %lld回%s%s", (long long)t->login[3],
	    t->break_glass_users[0] ? "; " : "", t->break_glass_users);
}

static void
integrity(const struct rv_report_term *t, struct rv_check *c)
{
	enum rv_verdict v = RV_VERDICT_OK;

	if (t->chain_unexplained > 0 || t->unverified > 0)
		v = RV_VERDICT_FAIL;
	else if (t->alerts_loss > 0 || t->alerts_chain > 0)
		v = RV_VERDICT_CHECK;
	set(c, v,
	    "欠番 %lld、連鎖の断絶 %lld、同じ番号の別記録 %lld、署名不正 %lld、"
	    "その他 %lld; 説明のない問題 %lld、欠落レコード %lld、"
	    "署名未検証の記録 %lld",
	    (long long)t->alerts_gap, (long long)t->alerts_break,
	    (long long)t->alerts_equivocation, (long long)t->alerts_forged,
	    (long long)t->alerts_other, (long long)t->chain_unexplained,
	    (long long)t->alerts_loss, (long long)t->unverified);
}

static void
keys(const struct rv_report_term *t, struct rv_check *c)
{
	set(c, t->key[0] + t->key[1] > 0 ? RV_VERDICT_CHECK : RV_VERDICT_OK,
	    "登録 %lld、失効 %lld%s", (long long)t->key[0],
	    (long long)t->key[1],
	    t->key[0] + t->key[1] > 0 ? "（鍵の管理台帳・申請と照合）" : "");
}

static const struct {
	const char *item, *clause;
	void (*rule)(const struct rv_report_term *t, struct rv_check *c);
	bool needs_events; /* nothing to show without a record */
} items[RV_CHECKS] = {
	{ "稼働状況の定期報告", C_MONITOR, regularity, false },
	{ "適用中のポリシー", C_REVIEW, policy, true },
	{ "端末の強制状態", C_EXPORT, state, true },
	{ "記録媒体の制御", C_EXPORT, media, true },
	{ "ログイン認証（失敗・ロックアウト）", C_MFA, logins, true },
	{ "緊急用アカウントの使用", C_MFA, break_glass, true },
	{ "イベント記録の完全性", C_MONITOR, integrity, true },
	{ "セキュリティキーの登録・失効", C_MFA, keys, true },
};

enum rv_verdict
rv_report_check(const struct rv_report_term *t, struct rv_check out[RV_CHECKS])
{
	enum rv_verdict worst = RV_VERDICT_OK;
	size_t i;

	for (i = 0; i < RV_CHECKS; i++) {
		out[i].item = items[i].item;
		out[i].clause = items[i].clause;
		if (items[i].needs_events && t->events == 0)
			set(&out[i], RV_VERDICT_CHECK, "期間内の記録なし");
		else
			items[i].rule(t, &out[i]);
		if (out[i].verdict > worst)
			worst = out[i].verdict;
	}
	return worst;
}

/* ---- HTML --------------------------------------------------------------- */

static uint32_t
decode(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t i;

	if (n == 1)
		return s[0];
	cp = s[0] & (0xff >> (n + 1));
	for (i = 1; i < n; i++)
		cp = cp << 6 | (s[i] & 0x3f);
	return cp;
}

int
rv_html_text(struct sbuf *out, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n;
	int r = 0;

	while (i < len && r == 0) {
		n = utf8_seqlen(s + i, len - i);
		if (n == 0 || rv_width_cp(decode(u + i, n)) < 0) {
			/* not UTF-8, or a control: U+FFFD */
			r = sbuf_puts(out, "\xef\xbf\xbd");
			i += n == 0 ? 1 : n;
			continue;
		}
		switch (s[i]) {
		case '&':
			r = sbuf_puts(out, "&amp;");
			break;
		case '<':
			r = sbuf_puts(out, "&lt;");
			break;
		case '>':
			r = sbuf_puts(out, "&gt;");
			break;
		case '"':
			r = sbuf_puts(out, "&quot;");
			break;
		case '\'':
			r = sbuf_puts(out, "&#39;");
			break;
		default:
			r = sbuf_put(out, s + i, n);
			break;
		}
		i += n;
	}
	return r;
}
