/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * "alerts" (GET /v1/review/alerts, newest first, plus the computed silent
 * terminals) and "terminals" (GET /v1/review/terminals).
 */
#include <errno.h>
#include <string.h>

#include "review.h"

#define BODY_MAX (64u << 20)
#define ALERTS_ALL_MAX 100000u

static const char *const alert_head[] = { "ID", "日時", "日時(UTC)", "端末",
	"種別", "重大度", "連番", "説明済み", "詳細" };
static const size_t alert_map[] = { 0, 1, 3, 4, 5, 6, 7, 8 };
static const size_t alert_max[] = { 10, 19, 24, 18, 6, 24, 8, 70 };

/* ポリシー版: agent-state's; 適用版: the version the terminal's policy
 * events report in force, 最新版: its group's latest published bundle
 * (issue 8).  New columns go last, so CSV columns keep their places. */
static const char *const term_head[] = { "端末", "最終接続", "最終接続(UTC)",
	"次の連番", "無通信", "ポリシー版", "ポリシー不一致", "配布グループ",
	"適用版", "最新版", "更新遅れ" };
static const size_t term_map[] = { 0, 1, 3, 4, 5, 7, 8, 9, 10, 6 };
static const size_t term_max[] = { 24, 19, 10, 6, 10, 16, 10, 10, 8, 40 };

static int
alert_row(struct rv_out *o, const struct rv_json *al)
{
	const char *c[9], *from, *to;
	size_t l[9], nf, nt;
	char local[32], range[48];

	c[0] = rv_json_text(al, "id", &l[0]);
	c[2] = rv_json_text(al, "created", &l[2]);
	rv_time_local(c[2], l[2], local);
	c[1] = local;
	l[1] = strlen(local);
	c[3] = rv_json_text(al, "agent_id", &l[3]);
	c[4] = rv_json_text(al, "type", &l[4]);
	c[5] = rv_json_text(al, "severity", &l[5]);
	from = rv_json_text(al, "seq_from", &nf);
	to = rv_json_text(al, "seq_to", &nt);
	if (nf > 0 && nt > 0 && (nf != nt || memcmp(from, to, nf) != 0))
		snprintf(range, sizeof(range), "%.*s..%.*s", (int)nf, from,
		    (int)nt, to);
	else
		snprintf(range, sizeof(range), "%.*s", (int)nf, from);
	c[6] = range;
	l[6] = strlen(range);
	c[7] = rv_json_text(al, "explained_by", &l[7]);
	c[8] = rv_json_text(al, "detail", &l[8]);
	return rv_out_row(o, c, l, al->raw, al->raw_len);
}

static int
alerts_path(const struct rv_args *a, const char *before, struct sbuf *u)
{
	int r = sbuf_puts(u, "/v1/review/alerts");

#define ADD(k, v)                                    \
	if (r == 0 && (v) != NULL && (v)[0] != '\0') \
	r = rv_query_add(u, k, v)
	ADD("terminal", a->terminal);
	ADD("type", a->type);
	ADD("since", a->since);
	ADD("until", a->until);
	ADD("before", before);
#undef ADD
	if (r == 0 && a->limit > 0)
		r = sbuf_printf(u, "%climit=%u",
		    strchr(u->data, '?') ? '&' : '?', a->limit);
	return r < 0 ? r : 0;
}

/* One page of alerts; *more with the next cursor in before. */
static int
alerts_page(
    const struct rv_args *a, struct rv_out *o, char before[24], bool *more)
{
	const struct rv_json *j = NULL, *al, *n;
	struct sbuf u, body;
	struct arena *ar = NULL;
	int code = RV_EXIT_USAGE;

	*more = false;
	sbuf_init(&u, 8192);
	sbuf_init(&body, BODY_MAX);
	if (alerts_path(a, before, &u) < 0 || arena_new(&ar) < 0)
		goto out;
	if ((code = rv_fetch_json(&a->conn, u.data, ar, &body, &j)) != 0)
		goto out;
	al = rv_json_get(j, "alerts");
	for (al = al != NULL ? al->child : NULL; al != NULL; al = al->next)
		if (alert_row(o, al) < 0) {
			code = RV_EXIT_USAGE;
			goto out;
		}
	n = rv_json_get(j, "next_before");
	if (n != NULL && n->type == RV_JSON_NUMBER && n->str_len < 24) {
		memcpy(before, n->str, n->str_len);
		before[n->str_len] = '\0';
		*more = true;
	}
out:
	arena_free(ar);
	sbuf_clear(&u);
	sbuf_clear(&body);
	return code;
}

int
rv_cmd_alerts(const struct rv_args *a)
{
	struct rv_out o;
	char before[24] = "";
	bool more = true;
	int code = RV_EXIT_OK;

	if (rv_out_begin(&o, a->format, stdout, MG_ELEMENTSOF(alert_head),
		alert_head, alert_map, alert_max, MG_ELEMENTSOF(alert_map)) < 0)
		code = RV_EXIT_USAGE;
	while (code == RV_EXIT_OK && more) {
		code = alerts_page(a, &o, before, &more);
		if (!a->all || (more && o.rows >= ALERTS_ALL_MAX))
			break;
	}
	if (rv_out_end(&o) < 0 && code == RV_EXIT_OK)
		code = RV_EXIT_USAGE;
	return code;
}

static int
terminal_row(struct rv_out *o, const struct rv_json *t)
{
	const struct rv_json *st = rv_json_get(t, "state");
	const struct rv_json *sil = rv_json_get(t, "silent");
	const struct rv_json *lag = rv_json_get(t, "policy_lagging");
	const char *c[11];
	size_t l[11];
	char local[32];

	c[0] = rv_json_text(t, "agent_id", &l[0]);
	c[2] = rv_json_text(t, "last_seen", &l[2]);
	rv_time_local(c[2], l[2], local);
	c[1] = local;
	l[1] = strlen(local);
	c[3] = rv_json_text(t, "next_seq", &l[3]);
	c[4] = sil != NULL && sil->str_len == 4 &&
		memcmp(sil->str, "true", 4) == 0 ?
	    "はい" :
	    "";
	l[4] = strlen(c[4]);
	c[5] = rv_json_text(st, "policy_version", &l[5]);
	c[6] = rv_json_text(st, "mismatch", &l[6]);
	c[7] = rv_json_text(t, "policy_group", &l[7]);
	c[8] = rv_json_text(t, "policy_version", &l[8]);
	c[9] = rv_json_text(t, "policy_latest", &l[9]);
	c[10] = lag != NULL && lag->str_len == 4 &&
		memcmp(lag->str, "true", 4) == 0 ?
	    "はい" :
	    "";
	l[10] = strlen(c[10]);
	return rv_out_row(o, c, l, t->raw, t->raw_len);
}

int
rv_cmd_terminals(const struct rv_args *a)
{
	const struct rv_json *j = NULL, *t;
	struct sbuf body;
	struct arena *ar = NULL;
	struct rv_out o;
	int code = RV_EXIT_USAGE, r = 0;

	sbuf_init(&body, BODY_MAX);
	if (arena_new(&ar) < 0)
		goto out;
	code = rv_fetch_json(&a->conn, "/v1/review/terminals", ar, &body, &j);
	if (code != RV_EXIT_OK)
		goto out;
	r = rv_out_begin(&o, a->format, stdout, MG_ELEMENTSOF(term_head),
	    term_head, term_map, term_max, MG_ELEMENTSOF(term_map));
	t = rv_json_get(j, "terminals");
	for (t = t != NULL ? t->child : NULL; t != NULL && r == 0; t = t->next)
		r = terminal_row(&o, t);
	if (rv_out_end(&o) < 0 || r < 0) {
		fprintf(stderr, "mynaguard-review: cannot write the output\n");
		code = RV_EXIT_USAGE;
	}
out:
	arena_free(ar);
	sbuf_clear(&body);
	return code;
}
