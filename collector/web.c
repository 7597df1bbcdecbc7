/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * GET /review/: the reviewer's web page (index.html, app.js, app.css from
 * collector/web/, embedded at build time).  http.c has checked the
 * certificate's role (reviewer, as for /v1/review/) and the method.  The
 * page reads the JSON review API with fetch() on this origin and inserts
 * every string from the database as text, never as markup; the
 * Content-Security-Policy below is the second wall: no inline script or
 * style, nothing from elsewhere.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "web.h"

#define WEB_PREFIX "/review/"

static const struct {
	const char *suffix;
	const char *type;
} types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
};

int
coll_web_headers(struct MHD_Response *resp, const char *csp)
{
	const char *h[][2] = {
		{ "Content-Security-Policy", csp },
		{ "X-Content-Type-Options", "nosniff" },
		{ "Referrer-Policy", "no-referrer" },
		{ MHD_HTTP_HEADER_CACHE_CONTROL, "no-store" },
	};
	size_t i;

	for (i = 0; i < sizeof(h) / sizeof(h[0]); i++)
		if (MHD_add_response_header(resp, h[i][0], h[i][1]) != MHD_YES)
			return -ENOMEM;
	return 0;
}

static const char *
type_of(const char *name)
{
	size_t i, n = strlen(name), k;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		k = strlen(types[i].suffix);
		if (n > k && strcmp(name + n - k, types[i].suffix) == 0)
			return types[i].type;
	}
	return NULL;
}

/* The asset at path (under /review/), or NULL. */
static const struct coll_web_asset *
find(const char *path)
{
	size_t i;

	if (*path == '\0')
		path = "index.html";
	for (i = 0; i < coll_web_assets_n; i++)
		if (strcmp(coll_web_assets[i].name, path) == 0)
			return &coll_web_assets[i];
	return NULL;
}

/* body (static) with type, the page's CSP and, if given, Location. */
static enum MHD_Result
answer(struct MHD_Connection *conn, unsigned status, const void *body,
    size_t len, const char *type, const char *location)
{
	struct MHD_Response *resp;
	enum MHD_Result ret = MHD_NO;

	/* PERSISTENT: MHD never writes to or frees the buffer. */
	resp = MHD_create_response_from_buffer(
	    len, (void *)(uintptr_t)body, MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type) ==
		MHD_YES &&
	    coll_web_headers(resp, COLL_WEB_CSP_PAGE) == 0 &&
	    (location == NULL ||
		MHD_add_response_header(
		    resp, MHD_HTTP_HEADER_LOCATION, location) == MHD_YES))
		ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result
coll_web_request(struct MHD_Connection *conn, const char *url)
{
	static const char not_found[] = "{\"error\":\"not found\"}";
	static const char moved[] = "{\"location\":\"" WEB_PREFIX "\"}";
	const struct coll_web_asset *a = NULL;
	const char *type = NULL;

	if (strcmp(url, "/review") == 0)
		return answer(conn, MHD_HTTP_PERMANENT_REDIRECT, moved,
		    sizeof(moved) - 1, "application/json; charset=utf-8",
		    WEB_PREFIX);
	if (strncmp(url, WEB_PREFIX, strlen(WEB_PREFIX)) == 0)
		a = find(url + strlen(WEB_PREFIX));
	if (a != NULL)
		type = type_of(a->name);
	if (a == NULL || type == NULL)
		return answer(conn, MHD_HTTP_NOT_FOUND, not_found,
		    sizeof(not_found) - 1, "application/json; charset=utf-8",
		    NULL);
	return answer(conn, MHD_HTTP_OK, a->data, a->len, type, NULL);
}
