/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * RFC 9162 Merkle tree: hashes, the frontier (compact range), roots and
 * proofs from a perfect-subtree oracle, and the RFC's verifiers.
 *
 * Every range this file hashes is a node of an RFC 9162 tree: begin is a
 * multiple of the smallest power of two >= its length.  Such a range is
 * the perfect subtrees given by the set bits of its length, largest first,
 * folded from the right (MTH(D[n]) = node(MTH(D[0:k]), MTH(D[k:n])) with
 * k the highest bit of n), so no recursion and no leaf beyond the range
 * is ever needed.  Nothing here allocates (OpenSSL does, inside libcrypto,
 * for each digest).
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/evp.h>

#include "mynaguard/merkle.h"

#define HLEN MG_MERKLE_HASH_LEN

/* ---- hashes ----------------------------------------------------------- */

int
mg_merkle_leaf_hash(const void *data, size_t len, uint8_t out[HLEN])
{
	static const uint8_t prefix = 0x00;	/* RFC 9162 2.1.1 leaf */
	EVP_MD_CTX *ctx;
	int r = -EIO;

	if ((data == NULL && len > 0) || out == NULL)
		return -EINVAL;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -EIO;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, &prefix, 1) == 1 &&
	    (len == 0 || EVP_DigestUpdate(ctx, data, len) == 1) &&
	    EVP_DigestFinal_ex(ctx, out, NULL) == 1)
		r = 0;
	EVP_MD_CTX_free(ctx);
	return r;
}

int
mg_merkle_node_hash(const uint8_t left[HLEN], const uint8_t right[HLEN],
    uint8_t out[HLEN])
{
	uint8_t buf[1 + 2 * HLEN];

	if (left == NULL || right == NULL || out == NULL)
		return -EINVAL;
	buf[0] = 0x01;		/* RFC 9162 2.1.1 interior node */
	memcpy(buf + 1, left, HLEN);
	memcpy(buf + 1 + HLEN, right, HLEN);
	return EVP_Digest(buf, sizeof(buf), out, NULL, EVP_sha256(), NULL) ==
	    1 ? 0 : -EIO;
}

int
mg_merkle_empty_root(uint8_t out[HLEN])
{
	if (out == NULL)
		return -EINVAL;
	return EVP_Digest("", 0, out, NULL, EVP_sha256(), NULL) == 1 ? 0 :
	    -EIO;
}

/* ---- bits ---------------------------------------------------------------- */

static unsigned
popcount64(uint64_t v)
{
	return (unsigned)__builtin_popcountll(v);
}

static unsigned
ctz64(uint64_t v)
{
	return (unsigned)__builtin_ctzll(v);
}

/* RFC 9162 2.1.1: k, the largest power of two smaller than n (n >= 2). */
static uint64_t
split(uint64_t n)
{
	return UINT64_C(1) << (63 - __builtin_clzll(n - 1));
}

/* [begin, end) is a node of an RFC 9162 tree of at most
 * MG_MERKLE_MAX_SIZE leaves. */
static bool
is_node(uint64_t begin, uint64_t end)
{
	uint64_t n = end - begin, p;

	if (begin >= end || end > MG_MERKLE_MAX_SIZE)
		return false;
	p = n == 1 ? 1 : split(n) << 1;	/* smallest power of two >= n */
	return (begin & (p - 1)) == 0;
}

/* ---- frontier ------------------------------------------------------------ */

static bool
frontier_valid(const struct mg_merkle_frontier *f)
{
	return f->size <= MG_MERKLE_MAX_SIZE && f->n == popcount64(f->size);
}

void
mg_merkle_frontier_init(struct mg_merkle_frontier *f)
{
	memset(f, 0, sizeof(*f));
}

int
mg_merkle_frontier_append(struct mg_merkle_frontier *f,
    const uint8_t leaf[HLEN], mg_merkle_done_fn done, void *arg)
{
	uint8_t h[HLEN];
	uint64_t s;
	unsigned level, n;
	int r;

	if (f == NULL || leaf == NULL || !frontier_valid(f))
		return -EINVAL;
	if (f->size >= MG_MERKLE_MAX_SIZE)
		return -E2BIG;
	s = f->size;
	n = f->n;
	memcpy(h, leaf, HLEN);
	/* Leaf s closes the block at every level whose bit of s is set: the
	 * frontier's last hash is the block to its left.  f is only read
	 * until every callback has agreed. */
	for (level = 0;; level++) {
		if (done != NULL && (r = done(arg, level, s >> level, h)) < 0)
			return r;
		if ((s >> level & 1) == 0)
			break;
		if ((r = mg_merkle_node_hash(f->hash[--n], h, h)) < 0)
			return r;
	}
	memcpy(f->hash[n], h, HLEN);
	f->n = n + 1;
	f->size = s + 1;
	return 0;
}

int
mg_merkle_frontier_root(const struct mg_merkle_frontier *f, uint8_t out[HLEN])
{
	uint8_t h[HLEN];
	unsigned i;
	int r;

	if (f == NULL || out == NULL || !frontier_valid(f))
		return -EINVAL;
	if (f->n == 0)
		return mg_merkle_empty_root(out);
	memcpy(h, f->hash[f->n - 1], HLEN);
	for (i = f->n - 1; i-- > 0;)
		if ((r = mg_merkle_node_hash(f->hash[i], h, h)) < 0)
			return r;
	memcpy(out, h, HLEN);
	return 0;
}

size_t
mg_merkle_frontier_encode(const struct mg_merkle_frontier *f, uint8_t *out,
    size_t cap)
{
	size_t len, i;

	if (f == NULL || out == NULL || !frontier_valid(f))
		return 0;
	len = 8 + (size_t)f->n * HLEN;
	if (cap < len)
		return 0;
	for (i = 0; i < 8; i++)
		out[i] = (uint8_t)(f->size >> (56 - 8 * i));
	memcpy(out + 8, f->hash, (size_t)f->n * HLEN);
	return len;
}

int
mg_merkle_frontier_decode(struct mg_merkle_frontier *f, const uint8_t *in,
    size_t len)
{
	uint64_t size = 0;
	unsigned n;
	size_t i;

	if (f == NULL || (in == NULL && len > 0))
		return -EINVAL;
	if (len < 8)
		return -EBADMSG;
	for (i = 0; i < 8; i++)
		size = size << 8 | in[i];
	if (size > MG_MERKLE_MAX_SIZE)
		return -EBADMSG;
	n = popcount64(size);
	if (len != 8 + (size_t)n * HLEN)
		return -EBADMSG;
	mg_merkle_frontier_init(f);
	f->size = size;
	f->n = n;
	memcpy(f->hash, in + 8, (size_t)n * HLEN);
	return 0;
}

/* ---- roots and proofs ------------------------------------------------- */

int
mg_merkle_range_hash(uint64_t begin, uint64_t end, mg_merkle_subtree_fn sub,
    void *arg, uint8_t out[HLEN])
{
	uint8_t h[HLEN], piece[HLEN];
	uint64_t rest, low;
	unsigned level;
	int r;

	if (sub == NULL || out == NULL || !is_node(begin, end))
		return -EINVAL;
	/* The perfect pieces from the right: the last one is the lowest set
	 * bit of the length and starts where the others end. */
	rest = end - begin;
	low = rest & (~rest + 1);
	rest -= low;
	level = ctz64(low);
	if ((r = sub(arg, level, (begin + rest) >> level, h)) < 0)
		return r;
	while (rest != 0) {
		low = rest & (~rest + 1);
		rest -= low;
		level = ctz64(low);
		if ((r = sub(arg, level, (begin + rest) >> level, piece)) < 0 ||
		    (r = mg_merkle_node_hash(piece, h, h)) < 0)
			return r;
	}
	memcpy(out, h, HLEN);
	return 0;
}

int
mg_merkle_root(uint64_t size, mg_merkle_subtree_fn sub, void *arg,
    uint8_t out[HLEN])
{
	if (sub == NULL || out == NULL || size > MG_MERKLE_MAX_SIZE)
		return -EINVAL;
	if (size == 0)
		return mg_merkle_empty_root(out);
	return mg_merkle_range_hash(0, size, sub, arg, out);
}

static void
reverse(uint8_t h[][HLEN], size_t n)
{
	uint8_t t[HLEN];
	size_t i;

	for (i = 0; i < n / 2; i++) {
		memcpy(t, h[i], HLEN);
		memcpy(h[i], h[n - 1 - i], HLEN);
		memcpy(h[n - 1 - i], t, HLEN);
	}
}

/*
 * RFC 9162 2.1.3.1, walked from the root down over the node [b, e) that
 * holds the leaf: PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n]) when
 * m < k, else PATH(m - k, D[k:n]) : MTH(D[0:k]).  The siblings come out
 * root first, so the list is reversed at the end.  The depth is at most
 * 63 for sizes up to 2^63.
 */
int
mg_merkle_inclusion_proof(uint64_t index, uint64_t size,
    mg_merkle_subtree_fn sub, void *arg, uint8_t out[][HLEN], size_t *ret_n)
{
	uint64_t b = 0, e = size, k;
	size_t c = 0;
	int r;

	if (sub == NULL || out == NULL || ret_n == NULL || index >= size ||
	    size > MG_MERKLE_MAX_SIZE)
		return -EINVAL;
	while (e - b > 1) {
		assert(c < MG_MERKLE_MAX_PROOF);
		k = split(e - b);
		if (index < b + k) {
			r = mg_merkle_range_hash(b + k, e, sub, arg, out[c]);
			e = b + k;
		} else {
			r = mg_merkle_range_hash(b, b + k, sub, arg, out[c]);
			b += k;
		}
		if (r < 0)
			return r;
		c++;
	}
	reverse(out, c);
	*ret_n = c;
	return 0;
}

/*
 * RFC 9162 2.1.4.1, walked from the root down: SUBPROOF(m, D[n], b) is
 * SUBPROOF(m, D[0:k], b) : MTH(D[k:n]) when m <= k, else
 * SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k]); it stops at the node
 * [b, m) of size m - b, which is added only when the walk went right at
 * least once (the old root is not part of its own proof).  Reversed at the
 * end: the RFC lists the deepest hash first.  At most 63 siblings plus the
 * final node for sizes up to 2^63.
 */
int
mg_merkle_consistency_proof(uint64_t m, uint64_t n, mg_merkle_subtree_fn sub,
    void *arg, uint8_t out[][HLEN], size_t *ret_n)
{
	uint64_t b = 0, e = n, k;
	bool whole = true;
	size_t c = 0;
	int r;

	if (sub == NULL || out == NULL || ret_n == NULL || m == 0 || m > n ||
	    n > MG_MERKLE_MAX_SIZE)
		return -EINVAL;
	while (m != e) {
		assert(c < MG_MERKLE_MAX_PROOF - 1);
		k = split(e - b);
		if (m - b <= k) {
			r = mg_merkle_range_hash(b + k, e, sub, arg, out[c]);
			e = b + k;
		} else {
			r = mg_merkle_range_hash(b, b + k, sub, arg, out[c]);
			b += k;
			whole = false;
		}
		if (r < 0)
			return r;
		c++;
	}
	if (!whole) {
		if ((r = mg_merkle_range_hash(b, e, sub, arg, out[c])) < 0)
			return r;
		c++;
	}
	reverse(out, c);
	*ret_n = c;
	return 0;
}

/* ---- verification (RFC 9162 2.1.3.2, 2.1.4.2, step by step) ------------ */

/* "right-shift both fn and sn equally until either LSB(fn) is set or fn is
 * 0" */
static void
shift_to_set_bit(uint64_t *fn, uint64_t *sn)
{
	while ((*fn & 1) == 0 && *fn != 0) {
		*fn >>= 1;
		*sn >>= 1;
	}
}

int
mg_merkle_verify_inclusion(uint64_t index, uint64_t size,
    const uint8_t leaf[HLEN], const uint8_t *proof, size_t n,
    const uint8_t root[HLEN])
{
	const uint8_t *p;
	uint8_t h[HLEN];
	uint64_t fn, sn;
	size_t i;
	int r;

	if (leaf == NULL || root == NULL || (proof == NULL && n > 0))
		return -EINVAL;
	/* 1. */
	if (index >= size)
		return -EINVAL;
	/* 2., 3. */
	fn = index;
	sn = size - 1;
	memcpy(h, leaf, HLEN);
	/* 4. */
	for (i = 0; i < n; i++) {
		p = proof + i * HLEN;
		if (sn == 0)
			return -EBADMSG;
		if ((fn & 1) != 0 || fn == sn) {
			if ((r = mg_merkle_node_hash(p, h, h)) < 0)
				return r;
			if ((fn & 1) == 0)
				shift_to_set_bit(&fn, &sn);
		} else if ((r = mg_merkle_node_hash(h, p, h)) < 0) {
			return r;
		}
		fn >>= 1;
		sn >>= 1;
	}
	/* 5. */
	return sn == 0 && memcmp(h, root, HLEN) == 0 ? 0 : -EBADMSG;
}

/* 2.1.4.2 step 6 for the hashes i .. np-1 of proof, with fr and sr set by
 * step 5. */
static int
consistency_walk(uint64_t fn, uint64_t sn, uint8_t fr[HLEN], uint8_t sr[HLEN],
    const uint8_t *proof, size_t i, size_t np)
{
	const uint8_t *c;
	int r;

	for (; i < np; i++) {
		c = proof + i * HLEN;
		if (sn == 0)
			return -EBADMSG;
		if ((fn & 1) != 0 || fn == sn) {
			if ((r = mg_merkle_node_hash(c, fr, fr)) < 0 ||
			    (r = mg_merkle_node_hash(c, sr, sr)) < 0)
				return r;
			if ((fn & 1) == 0)
				shift_to_set_bit(&fn, &sn);
		} else if ((r = mg_merkle_node_hash(sr, c, sr)) < 0) {
			return r;
		}
		fn >>= 1;
		sn >>= 1;
	}
	/* 7., the size part. */
	return sn == 0 ? 0 : -EBADMSG;
}

int
mg_merkle_verify_consistency(uint64_t m, uint64_t n,
    const uint8_t root_m[HLEN], const uint8_t root_n[HLEN],
    const uint8_t *proof, size_t np)
{
	uint8_t fr[HLEN], sr[HLEN];
	const uint8_t *first;
	uint64_t fn, sn;
	size_t i;
	int r;

	if (root_m == NULL || root_n == NULL || (proof == NULL && np > 0) ||
	    m == 0 || m > n)
		return -EINVAL;
	if (m == n)
		return np == 0 && memcmp(root_m, root_n, HLEN) == 0 ? 0 :
		    -EBADMSG;
	/* 1. */
	if (np == 0)
		return -EBADMSG;
	/* 2. "If first is an exact power of 2, then prepend first_hash":
	 * start from root_m instead of copying the array. */
	first = (m & (m - 1)) == 0 ? root_m : proof;
	i = (m & (m - 1)) == 0 ? 0 : 1;
	/* 3. */
	fn = m - 1;
	sn = n - 1;
	/* 4. */
	while ((fn & 1) != 0) {
		fn >>= 1;
		sn >>= 1;
	}
	/* 5. */
	memcpy(fr, first, HLEN);
	memcpy(sr, first, HLEN);
	/* 6. */
	if ((r = consistency_walk(fn, sn, fr, sr, proof, i, np)) < 0)
		return r;
	/* 7. */
	return memcmp(fr, root_m, HLEN) == 0 && memcmp(sr, root_n, HLEN) == 0 ?
	    0 : -EBADMSG;
}
