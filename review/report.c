/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * "report": the self-inspection report (自己点検, clause 7 of the town's
 * basic policy) of a period, from GET /v1/review/summary: per terminal the
 * check items of report_check.c with their verdict, evidence and clause,
 * as a printable A4 HTML document (no script; every dynamic string
 * escaped) or as CSV for Excel (csv.c: BOM, CRLF, formulas neutralised).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "review.h"

#define BODY_MAX (32u << 20)
#define DOC_MAX (64u << 20)
#define TERMS_MAX 100000u
#define TITLE "情報セキュリティ自己点検報告書（マイナンバー利用事務系端末）"

struct report {
	const struct rv_args *a;
	char since[RV_TIME_LEN], until[RV_TIME_LEN];
	char since_local[32], until_local[32], generated[32];
	struct rv_report_term *t;
	struct rv_check (*c)[RV_CHECKS]; /* the checks of t[i] */
	enum rv_verdict *worst;		 /* and their worst verdict */
	size_t n;
};

/* ---- the period ------------------------------------------------------------ */

/* --month YYYY-MM: the local calendar month. */
static int
month_period(const char *m, struct report *rp)
{
	char d[16];
	uint32_t y, mo;

	if (strlen(m) != 7 || m[4] != '-')
		return -EINVAL;
	memcpy(d, m, 4);
	d[4] = '\0';
	if (parse_u32(d, 1970, 9998, &y) < 0 ||
	    parse_u32(m + 5, 1, 12, &mo) < 0)
		return -EINVAL;
	snprintf(d, sizeof(d), "%04u-%02u-01", y, mo);
	if (rv_time_parse(d, rp->since) < 0)
		return -EINVAL;
	snprintf(d, sizeof(d), "%04u-%02u-01", mo == 12 ? y + 1 : y,
	    mo == 12 ? 1 : mo + 1);
	return rv_time_parse(d, rp->until);
}

static int
period(const struct rv_args *a, struct report *rp)
{
	if (a->month != NULL && (a->since[0] || a->until[0])) {
		fprintf(stderr,
		    "mynaguard-review: report: --month or "
		    "--since/--until, not both\n");
		return -EINVAL;
	}
	if (a->month != NULL) {
		if (month_period(a->month, rp) == 0)
			return 0;
		fprintf(stderr, "mynaguard-review: --month %s: YYYY-MM\n",
		    a->month);
		return -EINVAL;
	}
	if (!a->since[0] || !a->until[0]) {
		fprintf(stderr,
		    "mynaguard-review: report: --month YYYY-MM, or "
		    "both --since and --until, is needed\n");
		return -EINVAL;
	}
	memcpy(rp->since, a->since, RV_TIME_LEN);
	memcpy(rp->until, a->until, RV_TIME_LEN);
	return 0;
}

/* ---- the summary, read ------------------------------------------------------- */

/* A non-negative integer at path, or -1 (absent, null, not a number). */
static int64_t
num(const struct rv_json *o, const char *path)
{
	const struct rv_json *j = rv_json_path(o, path);
	char buf[24];
	uint64_t v;

	if (j == NULL || j->type != RV_JSON_NUMBER || j->str_len >= sizeof(buf))
		return -1;
	memcpy(buf, j->str, j->str_len);
	buf[j->str_len] = '\0';
	return parse_u64(buf, 0, INT64_MAX, &v) < 0 ? -1 : (int64_t)v;
}

/* A count: absent is 0. */
static int64_t
count(const struct rv_json *o, const char *path)
{
	int64_t v = num(o, path);

	return v < 0 ? 0 : v;
}

static void
text(char *dst, size_t size, const struct rv_json *o, const char *path)
{
	size_t len = 0;
	const char *s = rv_json_text(o, path, &len);

	snprintf(dst, size, "%.*s", (int)(len < size ? len : size - 1), s);
}

static void
local(char dst[32], const struct rv_json *o, const char *path)
{
	size_t len = 0;
	const char *s = rv_json_text(o, path, &len);

	if (len == 0)
		snprintf(dst, 32, "なし");
	else
		rv_time_local(s, len, dst);
}

/* Append ", "-separated text to dst (bounded; cut text is dropped). */
static void
append(char *dst, size_t size, const char *fmt_item)
{
	size_t n = strlen(dst);

	if (n + strlen(fmt_item) + 4 >= size)
		return;
	snprintf(dst + n, size - n, "%s%s", n > 0 ? "、" : "", fmt_item);
}

static void
users(struct rv_report_term *t, const struct rv_json *o)
{
	const struct rv_json *u = rv_json_get(o, "users");
	char name[64], item[160];

	for (u = u != NULL ? u->child : NULL; u != NULL; u = u->next) {
		text(name, sizeof(name), u, "user");
		if (count(u, "failed") + count(u, "locked_out") > 0) {
			snprintf(item, sizeof(item),
			    "%s 失敗%lld ロックアウト%lld", name,
			    (long long)count(u, "failed"),
			    (long long)count(u, "locked_out"));
			append(t->login_users, sizeof(t->login_users), item);
		}
		if (count(u, "break_glass") > 0) {
			snprintf(item, sizeof(item), "%s %lld回", name,
			    (long long)count(u, "break_glass"));
			append(t->break_glass_users,
			    sizeof(t->break_glass_users), item);
		}
	}
}

static void
critical(struct rv_report_term *t, const struct rv_json *o)
{
	const struct rv_json *d = rv_json_get(o, "critical_devices");
	char when[32], act[32], v[48], p[48], s[48], item[240];

	for (d = d != NULL ? d->child : NULL; d != NULL; d = d->next) {
		local(when, d, "time");
		text(v, sizeof(v), d, "vendor");
		text(p, sizeof(p), d, "product");
		text(s, sizeof(s), d, "serial");
		text(act, sizeof(act), d, "action");
		snprintf(item, sizeof(item), "%s %s %s %s シリアル %s", act,
		    when, v, p, s);
		append(t->critical, sizeof(t->critical), item);
	}
}

static void
alerts(struct rv_report_term *t, const struct rv_json *o)
{
	const struct rv_json *a = rv_json_get(o, "alerts");
	static const char *const chain[] = { "gap", "chain-break",
		"equivocation", "forged", "identity-mismatch", "invalid",
		"other" };
	char path[48];
	size_t i;

	t->alerts_gap = count(a, "gap.count");
	t->alerts_break = count(a, "chain-break.count");
	t->alerts_equivocation = count(a, "equivocation.count");
	t->alerts_forged = count(a, "forged.count");
	t->alerts_other = count(a, "identity-mismatch.count") +
	    count(a, "invalid.count") + count(a, "other.count");
	t->alerts_loss = count(a, "loss.count");
	t->alerts_state = count(a, "state-mismatch.count");
	for (i = 0; i < MG_ELEMENTSOF(chain); i++) {
		snprintf(path, sizeof(path), "%s.count", chain[i]);
		t->alerts_chain += count(a, path);
	}
	t->chain_unexplained = count(o, "chain_unexplained");
}

static void
read_term(struct rv_report_term *t, const struct rv_json *o, int64_t days,
    int64_t quiet_max)
{
	static const char *const dev[] = { "allowed", "read_only", "blocked",
		"removed", "enforcement_failed", "mounted_rw" };
	static const char *const login[] = { "succeeded", "failed",
		"locked_out", "break_glass", "unlocked" };
	const struct rv_json *st = rv_json_get(o, "state");
	char path[48], silent[8];
	size_t i;

	memset(t, 0, sizeof(*t));
	text(t->agent_id, sizeof(t->agent_id), o, "agent_id");
	local(t->last_seen, o, "last_seen");
	text(silent, sizeof(silent), o, "silent");
	t->silent = strcmp(silent, "true") == 0;
	t->events = count(o, "events");
	t->days = days;
	t->quiet_max = quiet_max;
	t->days_with_events = count(o, "days_with_events");
	t->quiet_days = count(o, "longest_quiet_days");
	t->unverified = count(o, "unverified");
	t->policy_version = num(o, "policy.version");
	text(t->policy_hash, sizeof(t->policy_hash), o, "policy.hash");
	t->policy_loaded = count(o, "policy_events.loaded");
	t->policy_rejected = count(o, "policy_events.rejected");
	text(t->bundle_group, sizeof(t->bundle_group), o,
	    "policy_bundle.group");
	t->bundle_version = num(o, "policy_bundle.version");
	t->bundle_latest = num(o, "policy_bundle.latest");
	t->state_reports = count(o, "state_events.reports");
	t->mismatch_reports = count(o, "state_events.mismatch_reports");
	t->has_state = st != NULL && st->type == RV_JSON_OBJECT;
	t->state_policy_version = num(st, "policy_version");
	text(t->state_policy_hash, sizeof(t->state_policy_hash), st,
	    "policy_hash");
	text(t->mismatch, sizeof(t->mismatch), st, "mismatch");
	text(t->usb_default, sizeof(t->usb_default), st, "usb_default");
	t->removable_writable = count(st, "removable_writable");
	local(t->state_time, st, "time");
	for (i = 0; i < 6; i++) {
		snprintf(path, sizeof(path), "device.%s", dev[i]);
		t->device[i] = count(o, path);
	}
	for (i = 0; i < 5; i++) {
		snprintf(path, sizeof(path), "login.%s", login[i]);
		t->login[i] = count(o, path);
	}
	t->key[0] = count(o, "key.enrolled");
	t->key[1] = count(o, "key.revoked");
	users(t, o);
	critical(t, o);
	alerts(t, o);
}

static int
read_summary(const struct rv_json *j, struct report *rp)
{
	const struct rv_json *t = rv_json_get(j, "terminals"), *e;
	int64_t days = count(j, "days"), latest = -1, v;
	/* the collector's SilentAfter, in whole days, at least 1 */
	int64_t quiet_max = (count(j, "silent_after") + 86399) / 86400;
	size_t n = 0, i;

	for (e = t != NULL ? t->child : NULL; e != NULL; e = e->next)
		n++;
	if (n > TERMS_MAX)
		return -E2BIG;
	if (n > 0 &&
	    ((rp->t = calloc(n, sizeof(*rp->t))) == NULL ||
		(rp->c = calloc(n, sizeof(*rp->c))) == NULL ||
		(rp->worst = calloc(n, sizeof(*rp->worst))) == NULL))
		return -ENOMEM;
	for (e = t != NULL ? t->child : NULL, i = 0; e != NULL; e = e->next)
		read_term(&rp->t[i++], e, days, quiet_max < 1 ? 1 : quiet_max);
	rp->n = n;
	for (i = 0; i < n; i++) {
		v = rp->t[i].policy_version >= 0 ?
		    rp->t[i].policy_version :
		    rp->t[i].state_policy_version;
		if (v > latest)
			latest = v;
	}
	for (i = 0; i < n; i++) {
		rp->t[i].latest_version = latest;
		rp->worst[i] = rv_report_check(&rp->t[i], rp->c[i]);
	}
	return 0;
}

/* ---- CSV ------------------------------------------------------------------------ */

static int
csv_row(struct sbuf *b, const char *const *cell)
{
	size_t i;
	int r = 0;

	for (i = 0; i < 5 && r == 0; i++)
		r = rv_csv_field(b, cell[i], strlen(cell[i]), i == 0);
	return r == 0 ? rv_csv_end(b) : r;
}

static int
render_csv(const struct report *rp, struct sbuf *b)
{
	static const char *const head[] = { "端末", "点検項目", "結果", "根拠",
		"対応する条項" };
	const struct rv_check *c;
	const char *cell[5];
	size_t i, k;
	int r;

	r = sbuf_puts(b, RV_CSV_BOM);
	if (r == 0)
		r = csv_row(b, head);
	for (i = 0; i < rp->n && r == 0; i++) {
		c = rp->c[i];
		for (k = 0; k < RV_CHECKS && r == 0; k++) {
			cell[0] = rp->t[i].agent_id;
			cell[1] = c[k].item;
			cell[2] = rv_verdict_name(c[k].verdict);
			cell[3] = c[k].evidence;
			cell[4] = c[k].clause;
			r = csv_row(b, cell);
		}
	}
	return r;
}

/* ---- HTML ------------------------------------------------------------------------ */

static const char html_head[] =
    "<!DOCTYPE html>\n<html lang=\"ja\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<title>" TITLE "</title>\n<style>\n"
    "@page { size: A4; margin: 15mm 12mm; }\n"
    "body { font-family: \"Noto Sans CJK JP\", \"IPAexGothic\", "
    "\"Yu Gothic\", sans-serif; font-size: 9.5pt; color: #000; }\n"
    "h1 { font-size: 15pt; text-align: center; margin: 0 0 8mm; }\n"
    "h2 { font-size: 12pt; border-bottom: 1px solid #000; margin-top: 6mm; }\n"
    "table { border-collapse: collapse; width: 100%; margin: 2mm 0; }\n"
    "th, td { border: 1px solid #000; padding: 1mm 1.5mm; "
    "vertical-align: top; text-align: left; word-break: break-all; }\n"
    "th { background: #eee; }\n"
    "tr { page-break-inside: avoid; }\n"
    ".terminal { page-break-before: always; }\n"
    ".v-ok { } .v-check { font-weight: bold; } "
    ".v-fail { font-weight: bold; background: #ddd; }\n"
    ".sign td { height: 14mm; width: 25%; }\n"
    "@media print { .terminal { page-break-before: always; } }\n"
    "</style>\n</head>\n<body>\n<h1>" TITLE "</h1>\n";

static const char html_rules[] =
    "<h2>判定の基準</h2>\n<table>\n"
    "<tr><th>適合</th><td>記録から、点検項目が基本方針に沿って運用されて"
    "いることが確認できる。</td></tr>\n"
    "<tr><th>要確認</th><td>直ちに違反とはいえないが、担当者が事情を確認"
    "する必要がある（定期報告の途絶・不規則、期間内の記録なし、旧版の"
    "ポリシー、ロックアウト、緊急用アカウントの使用、鍵の登録・失効、"
    "欠落レコードで説明された欠番など）。</td></tr>\n"
    "<tr><th>不適合</th><td>基本方針の求める状態にない記録がある（端末の"
    "強制状態の不一致、記録媒体の強制の失敗・書込可能なマウント、説明の"
    "ない記録の欠番・連鎖の断絶・改ざん）。</td></tr>\n</table>\n";

static const char html_tail[] =
    "<h2>見直しへの反映</h2>\n<p>本報告書の「不適合」及び「要確認」の項目は、"
    "基本方針 8「情報セキュリティポリシーの見直し」及び 6(9)「評価・見直し」"
    "に基づき、対策及びポリシーの見直しの要否の検討に用いる。</p>\n"
    "<table class=\"sign\">\n<tr><th>点検者</th><th>確認者</th>"
    "<th>情報セキュリティ管理者</th><th>確認日</th></tr>\n"
    "<tr><td></td><td></td><td></td><td></td></tr>\n</table>\n"
    "</body>\n</html>\n";

/* Literal markup, or escaped text. */
#define PUT(s)      \
	if (r == 0) \
	r = sbuf_puts(b, s)
#define ESC(s)      \
	if (r == 0) \
	r = rv_html_text(b, s, strlen(s))

static const char *
verdict_class(enum rv_verdict v)
{
	return v == RV_VERDICT_OK ? "v-ok" :
	    v == RV_VERDICT_CHECK ? "v-check" :
				    "v-fail";
}

static int
html_meta(const struct report *rp, struct sbuf *b)
{
	int r = 0;

	PUT("<table>\n<tr><th>対象期間</th><td>");
	ESC(rp->since_local);
	PUT(" から ");
	ESC(rp->until_local);
	PUT(" まで（終了時刻を含まない）</td></tr>\n<tr><th>作成日時</th><td>");
	ESC(rp->generated);
	PUT("</td></tr>\n<tr><th>収集サーバ</th><td>");
	ESC(rp->a->conn.url);
	PUT("</td></tr>\n<tr><th>根拠</th><td>情報セキュリティ基本方針 7"
	    "「情報セキュリティ監査及び自己点検の実施」に基づく自己点検。"
	    "各端末の署名付きイベント記録（mynaguard）を集計した。"
	    "</td></tr>\n<tr><th>対象端末数</th><td>");
	if (r == 0)
		r = sbuf_printf(b, "%zu", rp->n);
	PUT("</td></tr>\n</table>\n");
	return r;
}

static int
html_summary(const struct report *rp, struct sbuf *b)
{
	enum rv_verdict worst;
	size_t i, k, n[3];
	int r = 0;

	PUT("<h2>端末の一覧</h2>\n<table>\n<tr><th>端末</th><th>総合判定</th>"
	    "<th>適合</th><th>要確認</th><th>不適合</th><th>記録件数</th>"
	    "<th>最終接続</th></tr>\n");
	for (i = 0; i < rp->n && r == 0; i++) {
		worst = rp->worst[i];
		n[0] = n[1] = n[2] = 0;
		for (k = 0; k < RV_CHECKS; k++)
			n[rp->c[i][k].verdict]++;
		PUT("<tr><td>");
		ESC(rp->t[i].agent_id);
		if (r == 0)
			r = sbuf_printf(b,
			    "</td><td class=\"%s\">%s</td><td>%zu</td>"
			    "<td>%zu</td><td>%zu</td><td>%lld</td><td>",
			    verdict_class(worst), rv_verdict_name(worst), n[0],
			    n[1], n[2], (long long)rp->t[i].events);
		ESC(rp->t[i].last_seen);
		PUT("</td></tr>\n");
	}
	PUT("</table>\n");
	return r;
}

static int
html_terminal(const struct report *rp, size_t i, struct sbuf *b)
{
	const struct rv_report_term *t = &rp->t[i];
	const struct rv_check *c = rp->c[i];
	enum rv_verdict worst = rp->worst[i];
	size_t k;
	int r = 0;

	PUT("<section class=\"terminal\">\n<h2>端末 ");
	ESC(t->agent_id);
	if (r == 0)
		r = sbuf_printf(
		    b, "（総合判定: %s）</h2>\n", rv_verdict_name(worst));
	PUT("<table>\n<tr><th style=\"width:17%\">点検項目</th>"
	    "<th style=\"width:8%\">結果</th><th>根拠</th>"
	    "<th style=\"width:20%\">対応する条項</th></tr>\n");
	for (k = 0; k < RV_CHECKS && r == 0; k++) {
		PUT("<tr><td>");
		ESC(c[k].item);
		if (r == 0)
			r = sbuf_printf(b, "</td><td class=\"%s\">%s</td><td>",
			    verdict_class(c[k].verdict),
			    rv_verdict_name(c[k].verdict));
		ESC(c[k].evidence);
		PUT("</td><td>");
		ESC(c[k].clause);
		PUT("</td></tr>\n");
	}
	PUT("</table>\n</section>\n");
	return r;
}

static int
render_html(const struct report *rp, struct sbuf *b)
{
	size_t i;
	int r = sbuf_puts(b, html_head);

	if (r == 0)
		r = html_meta(rp, b);
	if (r == 0)
		r = sbuf_puts(b, html_rules);
	if (r == 0)
		r = html_summary(rp, b);
	for (i = 0; i < rp->n && r == 0; i++)
		r = html_terminal(rp, i, b);
	if (r == 0)
		r = sbuf_puts(b, html_tail);
	return r;
}

#undef PUT
#undef ESC

/* ---- the command ---------------------------------------------------------------- */

static int
write_out(const struct rv_args *a, const struct sbuf *b)
{
	FILE *f = stdout;
	int code;

	if (a->output != NULL && strcmp(a->output, "-") != 0 &&
	    (f = fopen(a->output, "we")) == NULL) {
		fprintf(stderr, "mynaguard-review: %s: %s\n", a->output,
		    strerror(errno));
		return RV_EXIT_USAGE;
	}
	code = fwrite(b->data, 1, b->len, f) == b->len && fflush(f) == 0 ?
	    RV_EXIT_OK :
	    RV_EXIT_USAGE;
	if (f != stdout && fclose(f) != 0)
		code = RV_EXIT_USAGE;
	if (code != RV_EXIT_OK)
		fprintf(stderr, "mynaguard-review: cannot write the report\n");
	return code;
}

static int
summary_path(const struct rv_args *a, const struct report *rp, struct sbuf *u)
{
	int r = sbuf_puts(u, "/v1/review/summary");

	if (r == 0)
		r = rv_query_add(u, "since", rp->since);
	if (r == 0)
		r = rv_query_add(u, "until", rp->until);
	if (r == 0 && a->terminal != NULL && a->terminal[0] != '\0')
		r = rv_query_add(u, "terminal", a->terminal);
	return r;
}

static void
stamp(struct report *rp)
{
	time_t now = time(NULL);
	struct tm tm;

	rv_time_local(rp->since, strlen(rp->since), rp->since_local);
	rv_time_local(rp->until, strlen(rp->until), rp->until_local);
	if (localtime_r(&now, &tm) == NULL ||
	    strftime(rp->generated, sizeof(rp->generated), "%Y-%m-%d %H:%M:%S",
		&tm) == 0)
		snprintf(rp->generated, sizeof(rp->generated), "?");
}

int
rv_cmd_report(const struct rv_args *a)
{
	const struct rv_json *j = NULL;
	struct report rp;
	struct sbuf u, body, doc;
	struct arena *ar = NULL;
	int code = RV_EXIT_USAGE, r;

	memset(&rp, 0, sizeof(rp));
	rp.a = a;
	if (a->format == RV_FMT_NDJSON) {
		fprintf(stderr,
		    "mynaguard-review: report: --format html or "
		    "csv\n");
		return RV_EXIT_USAGE;
	}
	if (period(a, &rp) < 0)
		return RV_EXIT_USAGE;
	sbuf_init(&u, 8192);
	sbuf_init(&body, BODY_MAX);
	sbuf_init(&doc, DOC_MAX);
	if (summary_path(a, &rp, &u) < 0 || arena_new(&ar) < 0)
		goto out;
	if ((code = rv_fetch_json(&a->conn, u.data, ar, &body, &j)) != 0)
		goto out;
	code = RV_EXIT_USAGE;
	if ((r = read_summary(j, &rp)) < 0) {
		fprintf(stderr, "mynaguard-review: report: %s\n", strerror(-r));
		goto out;
	}
	stamp(&rp);
	r = a->format == RV_FMT_CSV ? render_csv(&rp, &doc) :
				      render_html(&rp, &doc);
	if (r < 0) {
		fprintf(stderr, "mynaguard-review: report: %s\n", strerror(-r));
		goto out;
	}
	code = write_out(a, &doc);
out:
	free(rp.t);
	free(rp.c);
	free(rp.worst);
	arena_free(ar);
	sbuf_clear(&u);
	sbuf_clear(&body);
	sbuf_clear(&doc);
	return code;
}
