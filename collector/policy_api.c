/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * GET /v1/policy/bundle?group=G&have=N: a terminal fetches its group's
 * latest signed policy bundle over the mutual-TLS channel it already uses
 * for events (docs/policy-bundles.md, "Collector").  Terminal certificates
 * only.  200 with the bundle bytes as stored, 304 when the terminal already
 * has the latest, 404 when the group has none, 400 for a bad query.  The
 * terminal verifies the signature and the version order itself.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "review.h"

#define HAVE_DIGITS_MAX 19u

struct args {
	const char *group, *have;
	unsigned count, dup, unknown;
};

static enum MHD_Result
on_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct args *a = cls;
	const char **slot = NULL;

	(void)kind;
	a->count++;
	if (strcmp(key, "group") == 0)
		slot = &a->group;
	else if (strcmp(key, "have") == 0)
		slot = &a->have;
	if (slot == NULL) {
		a->unknown++;
		return MHD_YES;
	}
	if (*slot != NULL)
		a->dup++;
	*slot = value != NULL ? value : "";
	return MHD_YES;
}

/* The query, checked: 0, or -EBADMSG with *ret_why. */
static int
parse_query(struct MHD_Connection *conn, const char **ret_group,
    uint64_t *ret_have, const char **ret_why)
{
	struct args a = { NULL, NULL, 0, 0, 0 };
	uint64_t have = 0;

	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, on_arg, &a);
	if (a.unknown > 0 || a.dup > 0) {
		*ret_why = "only one group= and one have= are allowed";
		return -EBADMSG;
	}
	if (a.group == NULL ||
	    !coll_policy_group_valid(a.group, strlen(a.group))) {
		*ret_why =
		    "group= must be 1..64 of a-z 0-9 . _ - (a letter or digit first)";
		return -EBADMSG;
	}
	if (a.have != NULL &&
	    (strlen(a.have) > HAVE_DIGITS_MAX ||
		parse_u64(a.have, 0, INT64_MAX, &have) < 0)) {
		*ret_why = "have= must be a version number";
		return -EBADMSG;
	}
	*ret_group = a.group;
	*ret_have = have;
	return 0;
}

static bool
add_meta(struct MHD_Response *resp, const struct coll_bundle_meta *m, bool body)
{
	char v[24];

	snprintf(v, sizeof(v), "%" PRIu64, m->version);
	return MHD_add_response_header(resp, "X-Mynaguard-Bundle-Version", v) ==
	    MHD_YES &&
	    MHD_add_response_header(
		resp, "X-Mynaguard-Bundle-Sha256", m->sha256) == MHD_YES &&
	    (!body ||
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		    "application/octet-stream") == MHD_YES) &&
	    MHD_add_response_header(
		resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") == MHD_YES;
}

/* 200 with bytes (taken over), or 304 without. */
static enum MHD_Result
send_bundle(
    struct MHD_Connection *conn, const struct coll_bundle_meta *m, void *bytes)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = bytes != NULL ?
	    MHD_create_response_from_buffer(
		m->len, bytes, MHD_RESPMEM_MUST_FREE) :
	    MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (resp == NULL) {
		free(bytes);
		return MHD_NO;
	}
	if (!add_meta(resp, m, bytes != NULL))
		ret = MHD_NO;
	else
		ret = MHD_queue_response(conn,
		    bytes != NULL ? MHD_HTTP_OK : MHD_HTTP_NOT_MODIFIED, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result
coll_policy_request(struct coll_server *srv, struct MHD_Connection *conn,
    const struct coll_peer *p, const char *peer)
{
	struct coll_bundle_meta m;
	const char *group = NULL, *why = NULL;
	void *bytes = NULL;
	uint64_t have = 0;
	int r;

	if (p->role != COLL_ROLE_TERMINAL) {
		coll_log(LOG_NOTICE,
		    "refused: %s certificate may not fetch policy bundles "
		    "(CN %s, peer %s)",
		    p->role == COLL_ROLE_REVIEWER ? "reviewer" : "non-terminal",
		    p->cn, peer);
		return coll_review_fail(conn, MHD_HTTP_FORBIDDEN,
		    "only terminal certificates may fetch policy bundles");
	}
	if (parse_query(conn, &group, &have, &why) < 0)
		return coll_review_fail(conn, MHD_HTTP_BAD_REQUEST, why);
	r = coll_policy_fetch(
	    srv->st, p->cn, group, have, coll_review_now(), &m, &bytes);
	if (r == -ENOENT)
		return coll_review_fail(conn, MHD_HTTP_NOT_FOUND,
		    "no policy bundle published for this group");
	if (r < 0) {
		coll_log_errno(LOG_ERR, r,
		    "policy bundle of group %s for %s: %s", group, p->cn,
		    coll_store_errmsg(srv->st));
		return coll_review_fail_errno(conn, r);
	}
	if (r == 1)
		coll_log(LOG_INFO,
		    "policy bundle %s version %" PRIu64 " sent to %s (peer %s, "
		    "had %" PRIu64 ")",
		    group, m.version, p->cn, peer, have);
	return send_bundle(conn, &m, bytes);
}
