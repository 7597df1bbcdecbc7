/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * "show ID": one event with its verification (GET /v1/review/events/ID),
 * as label/value lines, the body flattened to dotted ECS names.
 */
#include <errno.h>
#include <string.h>

#include "review.h"

#define BODY_MAX (4u << 20)
#define PATH_LEN 256

static const char *const head[] = { "項目", "内容" };
static const size_t map[] = { 0, 1 };
static const size_t max[] = { 40, 0 };

static int
pair(struct rv_out *o, const char *label, const char *v, size_t len)
{
	const char *c[2] = { label, v };
	size_t l[2] = { strlen(label), len };

	return rv_out_row(o, c, l, NULL, 0);
}

static int
field(struct rv_out *o, const char *label, const struct rv_json *ev,
    const char *path)
{
	size_t n;
	const char *v = rv_json_text(ev, path, &n);

	return pair(o, label, v, n);
}

/* Every leaf of v under the dotted name prefix. */
static int
flatten(struct rv_out *o, const struct rv_json *v, char *prefix, size_t plen)
{
	const struct rv_json *c;
	size_t i = 0;
	int r = 0, n;

	if (v->type != RV_JSON_OBJECT && v->type != RV_JSON_ARRAY)
		return pair(o, prefix, v->str, v->str_len);
	for (c = v->child; c != NULL && r == 0; c = c->next, i++) {
		if (v->type == RV_JSON_OBJECT)
			n = snprintf(prefix + plen, PATH_LEN - plen, "%s%s",
			    plen > 0 ? "." : "", c->key);
		else
			n = snprintf(
			    prefix + plen, PATH_LEN - plen, "[%zu]", i);
		if (n < 0 || (size_t)n >= PATH_LEN - plen)
			n = (int)(PATH_LEN - plen - 1); /* cut, still shown */
		r = flatten(o, c, prefix, plen + (size_t)n);
		prefix[plen] = '\0';
	}
	return r;
}

static int
rows(struct rv_out *o, const struct rv_json *ev)
{
	static const struct {
		const char *label, *path;
	} f[] = {
		{ "ID", "id" },
		{ "日時(UTC)", "time" },
		{ "受信(UTC)", "received" },
		{ "端末", "agent_id" },
		{ "連番", "seq" },
		{ "種別", "action" },
		{ "結果", "outcome" },
		{ "利用者", "user" },
		{ "重要", "critical" },
		{ "署名の検証(集約時)", "verified" },
		{ "署名", "verification.signature" },
		{ "連鎖", "verification.chain" },
		{ "ハッシュ", "hash" },
		{ "直前のハッシュ", "prev_hash" },
	};
	const struct rv_json *body = rv_json_get(ev, "body");
	char prefix[PATH_LEN] = "";
	char local[32];
	size_t i, n;
	const char *t = rv_json_text(ev, "time", &n);
	int r;

	rv_time_local(t, n, local);
	if ((r = pair(o, "日時", local, strlen(local))) < 0)
		return r;
	for (i = 0; i < MG_ELEMENTSOF(f) && r == 0; i++)
		r = field(o, f[i].label, ev, f[i].path);
	if (r == 0 && body != NULL)
		r = flatten(o, body, prefix, 0);
	return r;
}

int
rv_cmd_show(const struct rv_args *a)
{
	const struct rv_json *j = NULL, *ev, *body;
	struct sbuf body_buf;
	struct arena *ar = NULL;
	struct rv_out o;
	char path[64];
	uint64_t id;
	int code = RV_EXIT_USAGE, r = 0;

	if (a->nrest != 1 || parse_u64(a->rest[0], 1, INT64_MAX, &id) < 0) {
		fprintf(stderr, "mynaguard-review: show needs one event id\n");
		return RV_EXIT_USAGE;
	}
	snprintf(path, sizeof(path), "/v1/review/events/%llu",
	    (unsigned long long)id);
	sbuf_init(&body_buf, BODY_MAX);
	if (arena_new(&ar) < 0)
		goto out;
	if ((code = rv_fetch_json(&a->conn, path, ar, &body_buf, &j)) != 0)
		goto out;
	ev = rv_json_get(j, "event");
	body = rv_json_get(ev, "body");
	code = RV_EXIT_USAGE;
	if (ev == NULL || body == NULL) {
		fprintf(stderr, "mynaguard-review: no event in the answer\n");
		goto out;
	}
	if (rv_out_begin(&o, a->format, stdout, 2, head, map, max, 2) == 0) {
		if (a->format == RV_FMT_NDJSON)
			r = rv_out_row(
			    &o, NULL, NULL, body->raw, body->raw_len);
		else
			r = rows(&o, ev);
	} else
		r = -EIO;
	if (rv_out_end(&o) == 0 && r == 0)
		code = RV_EXIT_OK;
	else
		fprintf(stderr, "mynaguard-review: cannot write the output\n");
out:
	arena_free(ar);
	sbuf_clear(&body_buf);
	return code;
}
