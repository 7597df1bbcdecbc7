/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * "events" and "timeline": GET /v1/review/events and /v1/review/timeline,
 * one page, or with --all every page (following next_before/next_after)
 * up to EVENTS_ALL_MAX events.
 */
#include <errno.h>
#include <string.h>

#include "review.h"

#define BODY_MAX (64u << 20)
#define EVENTS_ALL_MAX 100000u
#define NCOLS 10

static const char *const head[NCOLS] = { "ID", "日時", "日時(UTC)", "端末",
	"連番", "種別", "結果", "利用者", "検証", "詳細" };
static const size_t table_map[] = { 0, 1, 3, 5, 6, 7, 8, 9 };
static const size_t table_max[] = { 10, 19, 24, 22, 4, 16, 4, 60 };

struct page {
	const char *path;   /* /v1/review/events or .../timeline */
	const char *cursor; /* before or after */
	const char *next;   /* next_before or next_after */
};

static int
add_filters(struct sbuf *u, const struct rv_args *a, bool timeline)
{
	int r = 0;

#define ADD(k, v)                                    \
	if (r == 0 && (v) != NULL && (v)[0] != '\0') \
	r = rv_query_add(u, k, v)
	ADD("terminal", a->terminal);
	ADD("user", a->user);
	if (!timeline) {
		ADD("action", a->action);
		ADD("outcome", a->outcome);
		ADD("serial", a->serial);
		ADD("q", a->text);
	}
	ADD("since", a->since);
	ADD("until", a->until);
#undef ADD
	if (r == 0 && a->limit > 0)
		r = sbuf_printf(u, "%climit=%u",
		    strchr(u->data, '?') ? '&' : '?', a->limit);
	return r < 0 ? r : 0;
}

/* The detail column: the message, or what the device called itself. */
static const char *
detail(const struct rv_json *body, struct sbuf *tmp, size_t *ret_len)
{
	static const char *const dev[] = { "mynaguard.device.vendor",
		"mynaguard.device.product", "mynaguard.device.serial" };
	const char *s = rv_json_text(body, "message", ret_len);
	size_t i, n;
	const char *v;

	if (*ret_len > 0)
		return s;
	tmp->len = 0;
	for (i = 0; i < MG_ELEMENTSOF(dev); i++) {
		v = rv_json_text(body, dev[i], &n);
		if (n == 0)
			continue;
		if ((tmp->len > 0 && sbuf_putc(tmp, ' ') < 0) ||
		    sbuf_put(tmp, v, n) < 0)
			break;
	}
	*ret_len = tmp->len;
	return tmp->len > 0 ? tmp->data : "";
}

static const char *
outcome_ja(const char *s, size_t *len)
{
	if (*len == 7 && memcmp(s, "success", 7) == 0)
		s = "成功";
	else if (*len == 7 && memcmp(s, "failure", 7) == 0)
		s = "失敗";
	else
		return s;
	*len = strlen(s);
	return s;
}

static int
event_row(struct rv_out *o, const struct rv_json *ev, struct sbuf *tmp)
{
	const struct rv_json *body = rv_json_get(ev, "body");
	const struct rv_json *ver = rv_json_get(ev, "verified");
	const char *c[NCOLS];
	size_t l[NCOLS];
	char local[32];

	c[0] = rv_json_text(ev, "id", &l[0]);
	c[2] = rv_json_text(ev, "time", &l[2]);
	rv_time_local(c[2], l[2], local);
	c[1] = local;
	l[1] = strlen(local);
	c[3] = rv_json_text(ev, "agent_id", &l[3]);
	c[4] = rv_json_text(ev, "seq", &l[4]);
	c[5] = rv_json_text(ev, "action", &l[5]);
	c[6] = rv_json_text(ev, "outcome", &l[6]);
	c[6] = outcome_ja(c[6], &l[6]);
	c[7] = rv_json_text(ev, "user", &l[7]);
	c[8] = ver != NULL && ver->str_len == 4 &&
		memcmp(ver->str, "true", 4) == 0 ?
	    "有効" :
	    "無効";
	l[8] = strlen(c[8]);
	c[9] = detail(body, tmp, &l[9]);
	if (body == NULL)
		return -EBADMSG;
	return rv_out_row(o, c, l, body->raw, body->raw_len);
}

/* Copy a next_* id (a number) into cursor; false on the last page. */
static bool
next_cursor(const struct rv_json *j, const char *key, char cursor[24])
{
	const struct rv_json *n = rv_json_get(j, key);

	if (n == NULL || n->type != RV_JSON_NUMBER || n->str_len >= 24)
		return false;
	memcpy(cursor, n->str, n->str_len);
	cursor[n->str_len] = '\0';
	return true;
}

/* One page: fetch, print its rows, *more with the next cursor. */
static int
one_page(const struct rv_args *a, const struct page *pg, struct rv_out *o,
    char cursor[24], bool *more)
{
	const struct rv_json *j = NULL, *ev;
	struct sbuf url, body, tmp;
	struct arena *ar = NULL;
	int code = RV_EXIT_USAGE;

	sbuf_init(&url, 8192);
	sbuf_init(&body, BODY_MAX);
	sbuf_init(&tmp, 4096);
	*more = false;
	if (sbuf_puts(&url, pg->path) < 0 ||
	    add_filters(&url, a, strstr(pg->path, "timeline") != NULL) < 0 ||
	    (cursor[0] != '\0' && rv_query_add(&url, pg->cursor, cursor) < 0) ||
	    arena_new(&ar) < 0) {
		fprintf(stderr, "mynaguard-review: query too long\n");
		goto out;
	}
	if ((code = rv_fetch_json(&a->conn, url.data, ar, &body, &j)) != 0)
		goto out;
	ev = rv_json_get(j, "events");
	for (ev = ev != NULL ? ev->child : NULL; ev != NULL; ev = ev->next)
		if (event_row(o, ev, &tmp) < 0) {
			fprintf(stderr,
			    "mynaguard-review: cannot write an "
			    "event\n");
			code = RV_EXIT_USAGE;
			goto out;
		}
	*more = next_cursor(j, pg->next, cursor);
	code = RV_EXIT_OK;
out:
	arena_free(ar);
	sbuf_clear(&url);
	sbuf_clear(&body);
	sbuf_clear(&tmp);
	return code;
}

static int
list(const struct rv_args *a, const struct page *pg)
{
	struct rv_out o;
	char cursor[24] = "";
	bool more = true;
	int code = RV_EXIT_OK;

	if (rv_out_begin(&o, a->format, stdout, NCOLS, head, table_map,
		table_max, MG_ELEMENTSOF(table_map)) < 0) {
		rv_out_end(&o);
		return RV_EXIT_USAGE;
	}
	while (code == RV_EXIT_OK && more) {
		code = one_page(a, pg, &o, cursor, &more);
		if (!a->all)
			break;
		if (more && o.rows >= EVENTS_ALL_MAX) {
			fprintf(stderr,
			    "mynaguard-review: stopped after %zu "
			    "events; narrow the search with --since and "
			    "--until\n",
			    o.rows);
			break;
		}
	}
	if (rv_out_end(&o) < 0 && code == RV_EXIT_OK) {
		fprintf(stderr, "mynaguard-review: cannot write the output\n");
		code = RV_EXIT_USAGE;
	}
	if (code == RV_EXIT_OK && more && !a->all && a->format == RV_FMT_TABLE)
		fprintf(stderr, "(more: --all, or --until before these)\n");
	return code;
}

int
rv_cmd_events(const struct rv_args *a)
{
	static const struct page pg = { "/v1/review/events", "before",
		"next_before" };

	return list(a, &pg);
}

int
rv_cmd_timeline(const struct rv_args *a)
{
	static const struct page pg = { "/v1/review/timeline", "after",
		"next_after" };

	if ((a->terminal == NULL) == (a->user == NULL)) {
		fprintf(stderr,
		    "mynaguard-review: timeline needs exactly one "
		    "of --terminal and --user\n");
		return RV_EXIT_USAGE;
	}
	return list(a, &pg);
}
