/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The tamper-evident store (issue 9, docs/checkpoints.md): every record a
 * transaction stores is appended, in the same transaction, to an RFC 9162
 * Merkle log whose leaves are the records' exact bytes.  Appends are
 * serialised across every collector of the database by one transaction
 * lock, taken last (after the terminal's), so leaf order is commit order
 * and a rolled-back transaction leaves no leaf behind.
 *
 * Stored: every leaf hash (merkle_leaves), the complete subtrees of levels
 * 8, 16 and 24 (merkle_nodes), and the compact range of the whole tree
 * (merkle_state).  Any subtree hash is then at most 256 rows away, which
 * is what the proofs need.  Checkpoints (size, root) are signed with the
 * collector's own TLS key and kept in checkpoints; the officer exports
 * them, and mynaguard-review verify checks the store against one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>

#include "internal.h"
#include "mynaguard/checkpoint.h"
#include "mynaguard/merkle.h"

#define LOG_LOCK "mynaguard-merkle-log"

static const char state_get_sql[] =
    "SELECT size, frontier FROM merkle_state WHERE id = 1";
static const char state_put_sql[] =
    "INSERT INTO merkle_state(id, size, frontier) VALUES(1, ?1, ?2)"
    " ON CONFLICT(id) DO UPDATE SET size = ?1, frontier = ?2";
static const char leaf_put_sql[] =
    "INSERT INTO merkle_leaves(idx, agent_id, seq, hash) VALUES(?, ?, ?, ?)";
static const char node_put_sql[] =
    "INSERT INTO merkle_nodes(level, idx, hash) VALUES(?, ?, ?)";
static const char leaf_get_sql[] =
    "SELECT idx, hash FROM merkle_leaves WHERE idx >= ? AND idx < ?"
    " ORDER BY idx";
static const char node_get_sql[] =
    "SELECT idx, hash FROM merkle_nodes WHERE level = ? AND idx >= ?"
    " AND idx < ? ORDER BY idx";

static bool
stored_level(unsigned level)
{
	return level == 8 || level == 16 || level == 24;
}

int
coll_ledger_load(struct coll_store *st, struct mg_merkle_frontier *f)
{
	struct coll_stmt *s = NULL;
	int r;

	mg_merkle_frontier_init(f);
	r = coll_store_run(st, state_get_sql, &s, "");
	if (r <= 0)
		return r;
	r = mg_merkle_frontier_decode(f, coll_stmt_blob(s, 1),
	    (size_t)coll_stmt_bytes(s, 1));
	if (r == 0 && f->size != (uint64_t)coll_stmt_int64(s, 0))
		r = -EBADMSG;
	coll_stmt_reset(s);
	return r;
}

static int
on_done(void *arg, unsigned level, uint64_t index, const uint8_t *hash)
{
	if (!stored_level(level))
		return 0;
	return coll_store_run(arg, node_put_sql, NULL, "iib", (int64_t)level,
	    (int64_t)index, hash, (size_t)MG_MERKLE_HASH_LEN);
}

static int
append_one(struct coll_store *st, struct mg_merkle_frontier *f,
    const char *agent, uint64_t seq, const uint8_t *raw, size_t len)
{
	uint8_t leaf[MG_MERKLE_HASH_LEN];
	int r;

	if ((r = mg_merkle_leaf_hash(raw, len, leaf)) < 0 ||
	    (r = coll_store_run(st, leaf_put_sql, NULL, "itib",
		 (int64_t)f->size, agent, (int64_t)seq, leaf,
		 sizeof(leaf))) < 0)
		return r;
	return mg_merkle_frontier_append(f, leaf, on_done, st);
}

static int
save(struct coll_store *st, const struct mg_merkle_frontier *f)
{
	uint8_t enc[MG_MERKLE_FRONTIER_MAX_ENC];
	size_t len = mg_merkle_frontier_encode(f, enc, sizeof(enc));

	return coll_store_run(st, state_put_sql, NULL, "ib", (int64_t)f->size,
	    enc, len);
}

int
coll_ledger_append(struct coll_store *st, const char *agent,
    const struct coll_item *const *items, size_t n)
{
	struct mg_merkle_frontier *f;
	struct coll_leaf *lv;
	size_t i;
	int r;

	if (n == 0)
		return 0;
	f = malloc(sizeof(*f));
	lv = calloc(n, sizeof(*lv));
	if (f == NULL || lv == NULL) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = coll_store_xlock(st, LOG_LOCK)) < 0 ||
	    (r = coll_ledger_load(st, f)) < 0)
		goto out;
	for (i = 0; i < n && r == 0; i++) {
		lv[i].idx = f->size;
		lv[i].seq = items[i]->rec.seq;
		r = mg_merkle_leaf_hash(items[i]->rec.raw,
		    items[i]->rec.raw_len, lv[i].hash);
		if (r == 0)
			r = mg_merkle_frontier_append(f, lv[i].hash, on_done, st);
	}
	if (r == 0)
		r = coll_batch_leaves(st, agent, lv, n);
	if (r == 0)
		r = save(st, f);
out:
	free(lv);
	free(f);
	return r;
}

/* Events stored before the log existed (a database of schema v3), oldest
 * first, CATCH_UP per transaction, once: the upgrade to v4 leaves a row in
 * merkle_pending and the last batch removes it. */
#define CATCH_UP 5000

static const char pending_sql[] = "SELECT 1 FROM merkle_pending";
static const char pending_done_sql[] = "DELETE FROM merkle_pending";

static const char unlogged_sql[] =
    "SELECT agent_id, seq, record FROM events e WHERE NOT EXISTS"
    " (SELECT 1 FROM merkle_leaves l WHERE l.agent_id = e.agent_id"
    " AND l.seq = e.seq) ORDER BY id LIMIT 5000";

static int
catch_up_some(struct coll_store *st, struct mg_merkle_frontier *f,
    size_t *done)
{
	struct coll_stmt *s = NULL;
	int r;

	*done = 0;
	if ((r = coll_store_xlock(st, LOG_LOCK)) < 0 ||
	    (r = coll_ledger_load(st, f)) < 0)
		return r;
	r = coll_store_run(st, unlogged_sql, &s, "");
	for (; r == 1; r = coll_store_next(st, s)) {
		r = append_one(st, f, (const char *)coll_stmt_text(s, 0),
		    (uint64_t)coll_stmt_int64(s, 1), coll_stmt_blob(s, 2),
		    (size_t)coll_stmt_bytes(s, 2));
		if (r < 0)
			break;
		(*done)++;
	}
	coll_stmt_reset(s);
	if (r == 0 && *done < CATCH_UP)
		r = coll_store_run(st, pending_done_sql, NULL, "");
	if (r < 0 || *done == 0)
		return r;
	return save(st, f);
}

int
coll_ledger_catch_up(struct coll_store *st, uint64_t *ret_n)
{
	struct mg_merkle_frontier *f;
	size_t done = CATCH_UP;
	int r = 0, c;

	*ret_n = 0;
	coll_store_lock(st);
	r = coll_store_run(st, pending_sql, NULL, "");
	coll_store_unlock(st);
	if (r <= 0)
		return r; /* done once already: never again */
	r = 0;
	if ((f = malloc(sizeof(*f))) == NULL)
		return -ENOMEM;
	coll_store_lock(st);
	while (r == 0 && done == CATCH_UP) {
		if ((r = coll_store_begin(st)) < 0)
			break;
		r = catch_up_some(st, f, &done);
		if (r == 0 && (c = coll_store_commit(st)) < 0)
			r = c;
		if (r < 0)
			coll_store_rollback(st);
		else
			*ret_n += done;
	}
	coll_store_unlock(st);
	free(f);
	return r;
}

/* Fold count (a power of two) hashes, in place, into hash[0]. */
static int
fold(uint8_t (*h)[MG_MERKLE_HASH_LEN], size_t count)
{
	size_t i;
	int r;

	for (; count > 1; count /= 2)
		for (i = 0; i < count / 2; i++)
			if ((r = mg_merkle_node_hash(h[2 * i], h[2 * i + 1],
				 h[i])) < 0)
				return r;
	return 0;
}

/* count hashes of stored level base from index first, in order. */
static int
fetch(struct coll_store *st, unsigned base, uint64_t first, size_t count,
    uint8_t (*out)[MG_MERKLE_HASH_LEN])
{
	struct coll_stmt *s = NULL;
	size_t got = 0;
	int r;

	r = base == 0 ?
	    coll_store_run(st, leaf_get_sql, &s, "ii", (int64_t)first,
		(int64_t)(first + count)) :
	    coll_store_run(st, node_get_sql, &s, "iii", (int64_t)base,
		(int64_t)first, (int64_t)(first + count));
	for (; r == 1; r = coll_store_next(st, s)) {
		if ((uint64_t)coll_stmt_int64(s, 0) != first + got ||
		    coll_stmt_bytes(s, 1) != MG_MERKLE_HASH_LEN) {
			r = -EBADMSG;
			break;
		}
		memcpy(out[got++], coll_stmt_blob(s, 1), MG_MERKLE_HASH_LEN);
		if (got == count) {
			r = 0;
			break;
		}
	}
	coll_stmt_reset(s);
	if (r < 0)
		return r;
	return got == count ? 0 : -ENOENT;
}

/* mg_merkle_subtree_fn over the store. */
static int
subtree(void *arg, unsigned level, uint64_t index, uint8_t *out)
{
	unsigned base = level >= 24 ? 24 : level >= 16 ? 16 : level >= 8 ? 8 : 0;
	uint8_t (*h)[MG_MERKLE_HASH_LEN];
	size_t count;
	int r;

	if (level - base > 20)
		return -E2BIG;
	count = (size_t)1 << (level - base);
	if ((h = calloc(count, MG_MERKLE_HASH_LEN)) == NULL)
		return -ENOMEM;
	r = fetch(arg, base, index << (level - base), count, h);
	if (r == 0)
		r = fold(h, count);
	if (r == 0)
		memcpy(out, h[0], MG_MERKLE_HASH_LEN);
	free(h);
	return r;
}

int
coll_ledger_subtree(struct coll_store *st, unsigned level, uint64_t index,
    uint8_t out[MG_MERKLE_HASH_LEN])
{
	return subtree(st, level, index, out);
}

int
coll_ledger_inclusion(struct coll_store *st, uint64_t index, uint64_t size,
    uint8_t (*proof)[MG_MERKLE_HASH_LEN], size_t *n)
{
	return mg_merkle_inclusion_proof(index, size, subtree, st, proof, n);
}

int
coll_ledger_consistency(struct coll_store *st, uint64_t m, uint64_t size,
    uint8_t (*proof)[MG_MERKLE_HASH_LEN], size_t *n)
{
	return mg_merkle_consistency_proof(m, size, subtree, st, proof, n);
}

/* ---- checkpoints ----------------------------------------------------------- */

static const char cp_last_sql[] =
    "SELECT max(size) FROM checkpoints WHERE origin = ?";
static const char cp_put_sql[] =
    "INSERT INTO checkpoints(size, root, signed_ns, origin, text)"
    " VALUES(?, ?, ?, ?, ?) ON CONFLICT DO NOTHING";
static const char cp_latest_sql[] =
    "SELECT text FROM checkpoints ORDER BY size DESC, signed_ns DESC LIMIT 1";

struct coll_signer {
	EVP_PKEY *key;
	X509 *cert;
	char *origin;
};

int
coll_signer_load(const char *key_path, const char *cert_path,
    const char *origin, struct coll_signer **ret)
{
	struct coll_signer *s;
	FILE *f;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	if ((s->origin = strdup(origin)) == NULL)
		goto fail;
	if ((f = fopen(key_path, "re")) != NULL) {
		s->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	if ((f = fopen(cert_path, "re")) != NULL) {
		s->cert = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (s->key == NULL || s->cert == NULL)
		goto fail;
	*ret = s;
	return 0;
fail:
	coll_signer_free(s);
	return -EINVAL;
}

int
coll_signer_check(const struct coll_signer *s, int64_t now_ns,
    const char **ret_why)
{
	uint8_t root[MG_MERKLE_HASH_LEN];
	char *text = NULL;
	size_t len = 0;
	int r;

	*ret_why = NULL;
	if ((r = mg_merkle_empty_root(root)) < 0)
		return r;
	r = mg_checkpoint_sign_with(s->origin, 0, root, now_ns / 1000000000,
	    s->key, s->cert, &text, &len, ret_why);
	free(text);
	return r;
}

void
coll_signer_free(struct coll_signer *s)
{
	if (s == NULL)
		return;
	EVP_PKEY_free(s->key);
	X509_free(s->cert);
	free(s->origin);
	free(s);
}

/* In the caller's transaction, with the log locked. */
static int
sign_locked(struct coll_store *st, const struct coll_signer *sg, int64_t now_ns,
    uint64_t *ret_size, const char **ret_why)
{
	struct mg_merkle_frontier *f;
	uint8_t root[MG_MERKLE_HASH_LEN];
	struct coll_stmt *s = NULL;
	const char *why = NULL;
	char *text = NULL;
	size_t len = 0;
	int64_t last = -1;
	int r;

	if ((f = malloc(sizeof(*f))) == NULL)
		return -ENOMEM;
	if ((r = coll_ledger_load(st, f)) < 0 ||
	    (r = mg_merkle_frontier_root(f, root)) < 0)
		goto out;
	*ret_size = f->size;
	r = coll_store_run(st, cp_last_sql, &s, "t", sg->origin);
	if (r == 1 && coll_stmt_type(s, 0) != COLL_NULL)
		last = coll_stmt_int64(s, 0);
	coll_stmt_reset(s);
	if (r < 0 || f->size == 0 || (int64_t)f->size <= last) {
		r = r < 0 ? r : 0;
		goto out;
	}
	r = mg_checkpoint_sign_with(sg->origin, f->size, root,
	    now_ns / 1000000000, sg->key, sg->cert, &text, &len, &why);
	if (r < 0)
		*ret_why = why;
	if (r == 0)
		r = coll_store_run(st, cp_put_sql, NULL, "ibitT",
		    (int64_t)f->size, root, sizeof(root), now_ns, sg->origin,
		    text, len);
	if (r == 0)
		r = 1;
out:
	free(text);
	free(f);
	return r;
}

int
coll_ledger_sign(struct coll_store *st, const struct coll_signer *sg,
    int64_t now_ns, uint64_t *ret_size, const char **ret_why)
{
	int r, c;

	*ret_size = 0;
	*ret_why = NULL;
	coll_store_lock(st);
	if ((r = coll_store_begin(st)) == 0) {
		if ((r = coll_store_xlock(st, LOG_LOCK)) == 0)
			r = sign_locked(st, sg, now_ns, ret_size, ret_why);
		if (r >= 0 && (c = coll_store_commit(st)) < 0)
			r = c;
		if (r < 0)
			coll_store_rollback(st);
	}
	coll_store_unlock(st);
	return r;
}

int
coll_ledger_latest(struct coll_store *st, char **ret_text)
{
	struct coll_stmt *s = NULL;
	const unsigned char *t;
	int r;

	*ret_text = NULL;
	r = coll_store_run(st, cp_latest_sql, &s, "");
	if (r <= 0)
		return r;
	t = coll_stmt_text(s, 0);
	if (t != NULL && (*ret_text = strdup((const char *)t)) == NULL)
		r = -ENOMEM;
	coll_stmt_reset(s);
	return r;
}
