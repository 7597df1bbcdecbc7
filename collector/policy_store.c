/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Published policy bundles (issue 8, docs/policy-bundles.md).  The bundle
 * bytes are stored exactly as the administrator's offline key signed them
 * and served from the database; the collector only checks their structure
 * (the publish command) and the version order.  Terminals verify the
 * signature and refuse older versions themselves: a collector that served
 * an old or altered bundle could make a terminal miss an update, never
 * accept a policy nobody signed.
 */
#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define SHA256_LEN 32u

static const char latest_sql[] =
    "SELECT version, sha256, policy_sha256, signer, created, published_ns,"
    " length(bundle) FROM policy_bundles WHERE grp = ?"
    " ORDER BY version DESC LIMIT 1";
static const char insert_sql[] =
    "INSERT INTO policy_bundles(grp, version, bundle, sha256, policy_sha256,"
    " credentials_sha256, signer, created, published_ns)"
    " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char bytes_sql[] =
    "SELECT bundle FROM policy_bundles WHERE grp = ? AND version = ?";
static const char fetched_sql[] =
    "INSERT INTO policy_terminals(agent_id, grp, fetched_ns, fetched_version)"
    " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(agent_id) DO UPDATE SET"
    " grp = ?2, fetched_ns = ?3,"
    " fetched_version = coalesce(?4, policy_terminals.fetched_version)";

/* As mg_bundle_group_valid(): lower case, so a group is one name. */
bool
coll_policy_group_valid(const char *s, size_t len)
{
	size_t i;

	if (s == NULL || len == 0 || len > COLL_GROUP_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
			(s[i] >= '0' && s[i] <= '9') ||
			(i > 0 && (s[i] == '.' || s[i] == '_' || s[i] == '-'))))
			return false;
	return true;
}

static bool
hex64(const char *s)
{
	size_t i;

	if (s == NULL || strlen(s) != 64)
		return false;
	for (i = 0; i < 64; i++)
		if (parse_hexdigit(s[i]) < 0)
			return false;
	return true;
}

static void
copy_text(char *dst, size_t max, struct coll_stmt *s, int col)
{
	const unsigned char *t = coll_stmt_text(s, col);

	snprintf(dst, max, "%s", t != NULL ? (const char *)t : "");
}

/* The latest row of group into *ret: 1, 0 (none), -errno.  Locked. */
static int
latest(struct coll_store *st, const char *group, struct coll_bundle_meta *ret)
{
	struct coll_stmt *s = NULL;
	int r;

	r = coll_store_run(st, latest_sql, &s, "t", group);
	if (r <= 0)
		return r;
	memset(ret, 0, sizeof(*ret));
	ret->version = (uint64_t)coll_stmt_int64(s, 0);
	copy_text(ret->sha256, sizeof(ret->sha256), s, 1);
	copy_text(ret->policy_sha256, sizeof(ret->policy_sha256), s, 2);
	copy_text(ret->signer, sizeof(ret->signer), s, 3);
	ret->created = coll_stmt_int64(s, 4);
	ret->published_ns = coll_stmt_int64(s, 5);
	ret->len = (size_t)coll_stmt_int64(s, 6);
	coll_stmt_reset(s);
	return 1;
}

int
coll_policy_latest(
    struct coll_store *st, const char *group, struct coll_bundle_meta *ret)
{
	struct coll_bundle_meta m;
	int r;

	if (st == NULL || ret == NULL ||
	    !coll_policy_group_valid(group, group != NULL ? strlen(group) : 0))
		return -EINVAL;
	coll_store_lock(st);
	r = latest(st, group, &m);
	coll_store_unlock(st);
	if (r == 1)
		*ret = m;
	return r;
}

static int
info_valid(const struct coll_bundle_info *in, const void *bytes, size_t len)
{
	if (in == NULL || bytes == NULL || len == 0)
		return -EINVAL;
	if (len > COLL_BUNDLE_MAX)
		return -E2BIG;
	if (!coll_policy_group_valid(in->group, strlen(in->group)) ||
	    in->version == 0 || in->version > INT64_MAX ||
	    !hex64(in->policy_sha256) || in->signer == NULL ||
	    in->signer[0] == '\0' || strlen(in->signer) >= COLL_SHA256_HEX ||
	    (in->credentials_sha256 != NULL && !hex64(in->credentials_sha256)))
		return -EINVAL;
	return 0;
}

/* Check the order and insert, in one transaction.  Locked. */
static int
insert(struct coll_store *st, const struct coll_bundle_info *in,
    const void *bytes, size_t len, struct coll_bundle_meta *m)
{
	const char *cred = in->credentials_sha256;
	struct coll_bundle_meta cur;
	int r;

	if ((r = coll_store_begin(st)) < 0)
		return r;
	r = latest(st, in->group, &cur);
	if (r == 1 && in->version <= cur.version) {
		m->version = cur.version;
		r = -ESTALE;
	} else if (r == 1)
		r = 0; /* newer: insert */
	if (r == 0 && cred != NULL) {
		r = coll_store_run(st, insert_sql, NULL, "tibttttii", in->group,
		    (int64_t)in->version, bytes, len, m->sha256,
		    in->policy_sha256, cred, in->signer, in->created,
		    m->published_ns);
	} else if (r == 0) {
		r = coll_store_run(st, insert_sql, NULL, "tibttntii", in->group,
		    (int64_t)in->version, bytes, len, m->sha256,
		    in->policy_sha256, in->signer, in->created,
		    m->published_ns);
	}
	if (r == 0)
		r = coll_store_commit(st);
	if (r < 0)
		coll_store_rollback(st);
	return r;
}

int
coll_policy_publish(struct coll_store *st, const struct coll_bundle_info *in,
    const void *bytes, size_t len, int64_t now_ns, struct coll_bundle_meta *ret)
{
	struct coll_bundle_meta m;
	uint8_t d[SHA256_LEN];
	int r;

	if (st == NULL || ret == NULL)
		return -EINVAL;
	if ((r = info_valid(in, bytes, len)) < 0)
		return r;
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, bytes, len, d) < 0)
		return -EIO;
	memset(&m, 0, sizeof(m));
	mg_hex(d, sizeof(d), m.sha256);
	snprintf(
	    m.policy_sha256, sizeof(m.policy_sha256), "%s", in->policy_sha256);
	snprintf(m.signer, sizeof(m.signer), "%s", in->signer);
	m.version = in->version;
	m.created = in->created;
	m.published_ns = now_ns;
	m.len = len;
	coll_store_lock(st);
	r = insert(st, in, bytes, len, &m);
	coll_store_unlock(st);
	if (r == -ESTALE)
		ret->version = m.version;
	else if (r == 0)
		*ret = m;
	return r;
}

/* A copy of the bundle bytes of group's version v.  Locked. */
static int
copy_bytes(struct coll_store *st, const char *group, uint64_t v, size_t len,
    void **ret)
{
	struct coll_stmt *s = NULL;
	void *p;
	int r;

	if (len == 0 || len > COLL_BUNDLE_MAX)
		return -EBADMSG;
	r = coll_store_run(st, bytes_sql, &s, "ti", group, (int64_t)v);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	if ((size_t)coll_stmt_bytes(s, 0) != len) {
		coll_stmt_reset(s);
		return -EBADMSG;
	}
	if ((p = malloc(len)) == NULL) {
		coll_stmt_reset(s);
		return -ENOMEM;
	}
	memcpy(p, coll_stmt_blob(s, 0), len);
	coll_stmt_reset(s);
	*ret = p;
	return 0;
}

static int
record_fetch(struct coll_store *st, const char *agent, const char *group,
    int64_t now_ns, const uint64_t *served)
{
	if (served != NULL)
		return coll_store_run(st, fetched_sql, NULL, "ttii", agent,
		    group, now_ns, (int64_t)*served);
	return coll_store_run(
	    st, fetched_sql, NULL, "ttin", agent, group, now_ns);
}

int
coll_policy_fetch(struct coll_store *st, const char *agent, const char *group,
    uint64_t have, int64_t now_ns, struct coll_bundle_meta *ret,
    void **ret_bytes)
{
	struct coll_bundle_meta m;
	void *bytes = NULL;
	int r, w;

	if (st == NULL || agent == NULL || ret == NULL || ret_bytes == NULL ||
	    !coll_policy_group_valid(group, group != NULL ? strlen(group) : 0))
		return -EINVAL;
	coll_store_lock(st);
	r = latest(st, group, &m);
	if (r == 1 && have < m.version)
		r = copy_bytes(st, group, m.version, m.len, &bytes);
	else if (r == 1)
		r = 0; /* not modified */
	else if (r == 0)
		r = -ENOENT;
	/* Who asked for what is kept even when there is nothing to serve:
	 * policy list shows a terminal waiting for a group's first bundle. */
	if ((r >= 0 || r == -ENOENT) &&
	    (w = record_fetch(st, agent, group, now_ns,
		 bytes != NULL ? &m.version : NULL)) < 0) {
		r = w;
		free(bytes);
		bytes = NULL;
	}
	coll_store_unlock(st);
	if (r < 0)
		return r;
	*ret = m;
	*ret_bytes = bytes;
	return bytes != NULL ? 1 : 0;
}
