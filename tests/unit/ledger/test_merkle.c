/* SPDX-License-Identifier: BSD-2-Clause */
/* The RFC 9162 Merkle tree: the CT reference vectors, every proof of every
 * tree up to 70 leaves and every way to spoil it, the frontier against
 * roots recomputed from the leaves, sizes near 2^63, and OpenSSL failing
 * at every digest (the library allocates nothing itself: test_no_alloc). */
#include <errno.h>
#include <openssl/evp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mynaguard/common.h"
#include "mynaguard/merkle.h"
#include "oom.h"

#define HL MG_MERKLE_HASH_LEN
#define MAXP MG_MERKLE_MAX_PROOF
#define NLEAF 1024u
#define NLEVEL 11u		/* levels 0 .. 10 of a 1024-leaf tree */
#define SMALL 70u		/* exhaustive proofs up to this size */

/* ---- digest failure injection (-Wl,--wrap, see ledger.cmake) ---------- */

int __real_EVP_Digest(const void *data, size_t count, unsigned char *md,
    unsigned int *size, const EVP_MD *type, ENGINE *impl);
int __wrap_EVP_Digest(const void *data, size_t count, unsigned char *md,
    unsigned int *size, const EVP_MD *type, ENGINE *impl);
int __real_EVP_DigestFinal_ex(EVP_MD_CTX *ctx, unsigned char *md,
    unsigned int *size);
int __wrap_EVP_DigestFinal_ex(EVP_MD_CTX *ctx, unsigned char *md,
    unsigned int *size);

static unsigned digest_fail_at, digest_count;

static bool
digest_fails(void)
{
	return ++digest_count == digest_fail_at;
}

int
__wrap_EVP_Digest(const void *data, size_t count, unsigned char *md,
    unsigned int *size, const EVP_MD *type, ENGINE *impl)
{
	if (digest_fails())
		return 0;
	return __real_EVP_Digest(data, count, md, size, type, impl);
}

int
__wrap_EVP_DigestFinal_ex(EVP_MD_CTX *ctx, unsigned char *md,
    unsigned int *size)
{
	if (digest_fails())
		return 0;
	return __real_EVP_DigestFinal_ex(ctx, md, size);
}

/* ---- trees and the oracle ----------------------------------------------- */

/* h[L][i]: the perfect subtree (L, i), built by pairing; h[0] holds the
 * leaf hashes. */
struct tree {
	uint64_t n;
	uint8_t h[NLEVEL][NLEAF][HL];
	uint8_t root[NLEAF + 1][HL];	/* naive MTH of every prefix */
};

static struct tree big, vec;

struct oracle {
	const struct tree *t;
	uint64_t limit;		/* no subtree may reach past this */
	unsigned calls;
	unsigned fail_at;	/* fail the call with this number */
	bool recompute;		/* from the leaves, not from t->h */
};

static void
hash_node(const uint8_t *l, const uint8_t *r, uint8_t *out)
{
	assert_int_equal(mg_merkle_node_hash(l, r, out), 0);
}

/* RFC 9162 2.1.1 MTH by its recursive definition, over leaf hashes. */
static void
naive_mth(const uint8_t *lh, uint64_t n, uint8_t out[HL])
{
	uint8_t l[HL], r[HL];
	uint64_t k = 1;

	if (n == 0) {
		assert_int_equal(mg_merkle_empty_root(out), 0);
		return;
	}
	if (n == 1) {
		memcpy(out, lh, HL);
		return;
	}
	while (k * 2 < n)
		k *= 2;
	naive_mth(lh, k, l);
	naive_mth(lh + k * HL, n - k, r);
	hash_node(l, r, out);
}

static int
sub(void *arg, unsigned level, uint64_t index, uint8_t out[HL])
{
	struct oracle *o = arg;

	o->calls++;
	assert_true(level < NLEVEL);
	assert_true((index + 1) << level <= o->limit);
	if (o->fail_at != 0 && o->calls == o->fail_at)
		return -ENOTRECOVERABLE;
	if (o->recompute)
		naive_mth(o->t->h[0][index << level], UINT64_C(1) << level,
		    out);
	else
		memcpy(out, o->t->h[level][index], HL);
	return 0;
}

static void
tree_build(struct tree *t, uint64_t n)
{
	uint64_t i, l;

	t->n = n;
	for (l = 1; l < NLEVEL; l++)
		for (i = 0; i < (NLEAF >> l); i++)
			hash_node(t->h[l - 1][2 * i], t->h[l - 1][2 * i + 1],
			    t->h[l][i]);
	for (i = 0; i <= n; i++)
		naive_mth(t->h[0][0], i, t->root[i]);
}

static void
unhex(const char *s, uint8_t *out, size_t max, size_t *ret_len)
{
	size_t n = strlen(s), i;
	int hi, lo;

	assert_true(n % 2 == 0 && n / 2 <= max);
	for (i = 0; i < n / 2; i++) {
		hi = parse_hexdigit(s[2 * i]);
		lo = parse_hexdigit(s[2 * i + 1]);
		assert_true(hi >= 0 && lo >= 0);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*ret_len = n / 2;
}

static void
unhex32(const char *s, uint8_t out[HL])
{
	size_t n = 0;

	unhex(s, out, HL, &n);
	assert_int_equal(n, HL);
}

/* The RFC 6962 / CT reference tree (certificate-transparency-go and
 * transparency-dev/merkle, proof/verify_test.go): 8 leaves. */
static const char *const vec_leaves[] = {
	"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
	"606162636465666768696a6b6c6d6e6f",
};

static int
setup(void **state)
{
	uint8_t data[16];
	char s[32];
	size_t i, n = 0;

	(void)state;
	memset(&vec, 0, sizeof(vec));
	for (i = 0; i < NLEAF; i++) {
		snprintf(s, sizeof(s), "leaf %zu", i);
		if (mg_merkle_leaf_hash(s, strlen(s), big.h[0][i]) < 0)
			return -1;
	}
	for (i = 0; i < MG_ELEMENTSOF(vec_leaves); i++) {
		unhex(vec_leaves[i], data, sizeof(data), &n);
		if (mg_merkle_leaf_hash(data, n, vec.h[0][i]) < 0)
			return -1;
	}
	tree_build(&big, NLEAF);
	tree_build(&vec, MG_ELEMENTSOF(vec_leaves));
	return 0;
}

/* ---- the reference vectors --------------------------------------------- */

static const char empty_hex[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

static const char *const vec_roots[] = {
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

/* Same source.  The Go vectors number leaves from 1; these from 0. */
static const struct {
	uint64_t a, b;		/* index and size, or m and n */
	const char *proof[3];
} vec_inclusion[] = {
	{ 0, 8, {
	    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
	    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
	} },
	{ 5, 8, {
	    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
	    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
	    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	} },
	{ 2, 3, {
	    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	} },
	{ 1, 5, {
	    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
	} },
	{ 0, 1, { NULL } },
}, vec_consistency[] = {
	{ 1, 8, {
	    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
	    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
	} },
	{ 6, 8, {
	    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
	    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
	    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	} },
	{ 2, 5, {
	    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
	} },
	{ 6, 7, {
	    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
	    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
	    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	} },
	{ 1, 1, { NULL } },
	{ 8, 8, { NULL } },
};

static size_t
vec_proof(const char *const hex[3], uint8_t out[][HL])
{
	size_t n = 0;

	while (n < 3 && hex[n] != NULL) {
		unhex32(hex[n], out[n]);
		n++;
	}
	return n;
}

static void
test_vectors(void **state)
{
	static uint8_t want[MAXP][HL], got[MAXP][HL];
	struct mg_merkle_frontier *f = test_malloc(sizeof(*f));
	struct oracle o = { .t = &vec };
	uint8_t h[HL], root[HL];
	size_t i, n, nw;

	(void)state;
	/* RFC 9162 2.1.1: the empty tree, and the leaf hash of "". */
	unhex32(empty_hex, h);
	assert_int_equal(mg_merkle_empty_root(root), 0);
	assert_memory_equal(root, h, HL);
	assert_int_equal(mg_merkle_root(0, sub, &o, root), 0);
	assert_memory_equal(root, h, HL);
	assert_int_equal(o.calls, 0);
	mg_merkle_frontier_init(f);
	assert_int_equal(mg_merkle_frontier_root(f, root), 0);
	assert_memory_equal(root, h, HL);
	for (i = 0; i < MG_ELEMENTSOF(vec_roots); i++) {
		unhex32(vec_roots[i], h);
		assert_memory_equal(vec.root[i + 1], h, HL);
		o.limit = i + 1;
		assert_int_equal(mg_merkle_root(i + 1, sub, &o, root), 0);
		assert_memory_equal(root, h, HL);
		assert_int_equal(mg_merkle_frontier_append(f, vec.h[0][i], NULL,
		    NULL), 0);
		assert_int_equal(mg_merkle_frontier_root(f, root), 0);
		assert_memory_equal(root, h, HL);
	}
	for (i = 0; i < MG_ELEMENTSOF(vec_inclusion); i++) {
		nw = vec_proof(vec_inclusion[i].proof, want);
		o.limit = vec_inclusion[i].b;
		assert_int_equal(mg_merkle_inclusion_proof(vec_inclusion[i].a,
		    vec_inclusion[i].b, sub, &o, got, &n), 0);
		assert_int_equal(n, nw);
		if (nw > 0)
			assert_memory_equal(got, want, nw * HL);
		assert_int_equal(mg_merkle_verify_inclusion(vec_inclusion[i].a,
		    vec_inclusion[i].b, vec.h[0][vec_inclusion[i].a], want[0],
		    nw, vec.root[vec_inclusion[i].b]), 0);
	}
	for (i = 0; i < MG_ELEMENTSOF(vec_consistency); i++) {
		nw = vec_proof(vec_consistency[i].proof, want);
		o.limit = vec_consistency[i].b;
		assert_int_equal(mg_merkle_consistency_proof(
		    vec_consistency[i].a, vec_consistency[i].b, sub, &o, got,
		    &n), 0);
		assert_int_equal(n, nw);
		if (nw > 0)
			assert_memory_equal(got, want, nw * HL);
		assert_int_equal(mg_merkle_verify_consistency(
		    vec_consistency[i].a, vec_consistency[i].b,
		    vec.root[vec_consistency[i].a],
		    vec.root[vec_consistency[i].b], want[0], nw), 0);
	}
	test_free(f);
}

/* ---- every proof of every small tree ------------------------------------ */

static uint8_t bad[MAXP + 2][HL];

/* The proof must fail for (index, size) with the root that belongs to
 * that size, unless it is also the genuine proof there. */
static void
inclusion_other(uint64_t index, uint64_t size, const uint8_t *proof,
    size_t n)
{
	static uint8_t real[MAXP][HL];
	struct oracle o = { .t = &big, .limit = size };
	size_t rn = 0;
	int r;

	r = mg_merkle_verify_inclusion(index, size, big.h[0][index], proof, n,
	    big.root[size]);
	if (index >= size) {
		assert_int_equal(r, -EINVAL);
		return;
	}
	if (r == 0) {
		assert_int_equal(mg_merkle_inclusion_proof(index, size, sub, &o,
		    real, &rn), 0);
		assert_int_equal(rn, n);
		if (n > 0)
			assert_memory_equal(real, proof, n * HL);
	} else {
		assert_int_equal(r, -EBADMSG);
	}
}

static void
check_inclusion(uint64_t index, uint64_t size)
{
	static uint8_t proof[MAXP][HL];
	struct oracle o = { .t = &big, .limit = size };
	const uint8_t *root = big.root[size], *leaf = big.h[0][index];
	size_t n = 999, i;

	assert_int_equal(mg_merkle_inclusion_proof(index, size, sub, &o, proof,
	    &n), 0);
	assert_true(n <= MAXP && o.calls <= 2 * MAXP);
	assert_int_equal(mg_merkle_verify_inclusion(index, size, leaf, proof[0],
	    n, root), 0);
	for (i = 0; i < n; i++) {
		memcpy(bad, proof, n * HL);
		bad[i][(i * 7 + size) % HL] ^= (uint8_t)(1u << (index % 8));
		assert_int_equal(mg_merkle_verify_inclusion(index, size, leaf,
		    bad[0], n, root), -EBADMSG);
	}
	if (n > 0)
		assert_int_equal(mg_merkle_verify_inclusion(index, size, leaf,
		    proof[0], n - 1, root), -EBADMSG);
	memcpy(bad, proof, n * HL);
	memcpy(bad[n], root, HL);
	assert_int_equal(mg_merkle_verify_inclusion(index, size, leaf, bad[0],
	    n + 1, root), -EBADMSG);
	memcpy(bad[0], leaf, HL);
	memcpy(bad + 1, proof, n * HL);
	assert_int_equal(mg_merkle_verify_inclusion(index, size, leaf, bad[0],
	    n + 1, root), -EBADMSG);
	if (size > 1)
		assert_int_equal(mg_merkle_verify_inclusion(index, size,
		    big.h[0][(index + 1) % size], proof[0], n, root), -EBADMSG);
	assert_int_equal(mg_merkle_verify_inclusion(index, size, leaf, proof[0],
	    n, big.root[size - 1]), -EBADMSG);
	/* Another index in the same tree. */
	if (index > 0)
		inclusion_other(index - 1, size, proof[0], n);
	inclusion_other(index + 1, size, proof[0], n);
	inclusion_other(index ^ 1, size, proof[0], n);
	inclusion_other(index ^ 2, size, proof[0], n);
	/* Another tree, each with its own root. */
	for (i = 1; i <= 2 * SMALL; i++)
		if (i != size)
			inclusion_other(index, i, proof[0], n);
}

static void
test_inclusion_small(void **state)
{
	uint64_t size, index;

	(void)state;
	for (size = 1; size <= SMALL; size++)
		for (index = 0; index < size; index++)
			check_inclusion(index, size);
}

static void
consistency_other(uint64_t m, uint64_t n, const uint8_t *proof,
    size_t np)
{
	static uint8_t real[MAXP][HL];
	struct oracle o = { .t = &big, .limit = n };
	size_t rn = 0;
	int r;

	if (m == 0 || m > n) {
		assert_int_equal(mg_merkle_verify_consistency(m, n, big.root[0],
		    big.root[n], proof, np), -EINVAL);
		return;
	}
	r = mg_merkle_verify_consistency(m, n, big.root[m], big.root[n], proof,
	    np);
	if (r == 0) {
		assert_int_equal(mg_merkle_consistency_proof(m, n, sub, &o,
		    real, &rn), 0);
		assert_int_equal(rn, np);
		if (np > 0)
			assert_memory_equal(real, proof, np * HL);
	} else {
		assert_int_equal(r, -EBADMSG);
	}
}

static void
check_consistency_spoilt(uint64_t m, uint64_t n, const uint8_t *proof,
    size_t np)
{
	const uint8_t *rm = big.root[m], *rn = big.root[n];
	size_t i;

	for (i = 0; i < np; i++) {
		memcpy(bad, proof, np * HL);
		bad[i][(i * 5 + m) % HL] ^= (uint8_t)(1u << (n % 8));
		assert_int_equal(mg_merkle_verify_consistency(m, n, rm, rn,
		    bad[0], np), -EBADMSG);
	}
	if (np > 0)
		assert_int_equal(mg_merkle_verify_consistency(m, n, rm, rn,
		    proof, np - 1), -EBADMSG);
	memcpy(bad, proof, np * HL);
	memcpy(bad[np], rm, HL);
	assert_int_equal(mg_merkle_verify_consistency(m, n, rm, rn, bad[0],
	    np + 1), -EBADMSG);
	memcpy(bad[np], rn, HL);
	assert_int_equal(mg_merkle_verify_consistency(m, n, rm, rn, bad[0],
	    np + 1), -EBADMSG);
	memcpy(bad[0], rm, HL);
	memcpy(bad + 1, proof, np * HL);
	assert_int_equal(mg_merkle_verify_consistency(m, n, rm, rn, bad[0],
	    np + 1), -EBADMSG);
	if (m != n) {
		assert_int_equal(mg_merkle_verify_consistency(m, n, rn, rm,
		    proof, np), -EBADMSG);
		assert_int_equal(mg_merkle_verify_consistency(m, n, rm,
		    big.root[n - 1], proof, np), -EBADMSG);
		assert_int_equal(mg_merkle_verify_consistency(m, n,
		    big.root[m + 1], rn, proof, np), -EBADMSG);
	}
}

static void
check_consistency(uint64_t m, uint64_t n)
{
	static uint8_t proof[MAXP][HL];
	struct oracle o = { .t = &big, .limit = n };
	size_t np = 999, i;

	assert_int_equal(mg_merkle_consistency_proof(m, n, sub, &o, proof,
	    &np), 0);
	assert_true(np <= MAXP && o.calls <= 2 * MAXP);
	assert_true((np == 0) == (m == n));
	assert_int_equal(mg_merkle_verify_consistency(m, n, big.root[m],
	    big.root[n], proof[0], np), 0);
	check_consistency_spoilt(m, n, proof[0], np);
	/* Other sizes, each with its own roots. */
	for (i = 0; i <= 2 * SMALL; i++) {
		if (i != m)
			consistency_other(i, n, proof[0], np);
		if (i != n)
			consistency_other(m, i, proof[0], np);
	}
}

static void
test_consistency_small(void **state)
{
	uint64_t m, n;

	(void)state;
	for (n = 1; n <= SMALL; n++)
		for (m = 1; m <= n; m++)
			check_consistency(m, n);
}

/* Every range up to SMALL: a node iff range_hash takes it, and then MTH of
 * those leaves; mg_merkle_root against MTH of every prefix to NLEAF. */
static void
test_range_hash(void **state)
{
	struct oracle o = { .t = &big };
	uint64_t b, e, p;
	uint8_t h[HL], want[HL];
	int r;

	(void)state;
	for (e = 1; e <= SMALL; e++) {
		for (b = 0; b < e; b++) {
			o.limit = e;
			o.calls = 0;
			for (p = 1; p < e - b; p *= 2)
				;
			r = mg_merkle_range_hash(b, e, sub, &o, h);
			if (b % p != 0) {
				assert_int_equal(r, -EINVAL);
				assert_int_equal(o.calls, 0);
				continue;
			}
			assert_int_equal(r, 0);
			assert_int_equal(o.calls,
			    (unsigned)__builtin_popcountll(e - b));
			naive_mth(big.h[0][b], e - b, want);
			assert_memory_equal(h, want, HL);
		}
		assert_int_equal(mg_merkle_range_hash(e, e, sub, &o, h),
		    -EINVAL);
		assert_int_equal(mg_merkle_range_hash(e + 1, e, sub, &o, h),
		    -EINVAL);
	}
	for (e = 0; e <= NLEAF; e++) {
		o.limit = e;
		assert_int_equal(mg_merkle_root(e, sub, &o, h), 0);
		assert_memory_equal(h, big.root[e], HL);
	}
}

/* ---- the frontier ------------------------------------------------------- */

struct seen {
	uint8_t got[NLEVEL][NLEAF];	/* times each subtree was reported */
	uint64_t appending;		/* the leaf being appended */
	int next_level;
	int fail_level;			/* -1: never */
};

static int
done(void *arg, unsigned level, uint64_t index, const uint8_t hash[HL])
{
	struct seen *s = arg;

	assert_int_equal((int)level, s->next_level);
	s->next_level++;
	if ((int)level == s->fail_level)
		return -ECANCELED;
	assert_true(level < NLEVEL);
	/* It ends with the leaf just appended. */
	assert_true(((index + 1) << level) == s->appending + 1);
	assert_memory_equal(hash, big.h[level][index], HL);
	if (s->fail_level < 0)
		s->got[level][index]++;
	return 0;
}

static void
check_encoding(const struct mg_merkle_frontier *f)
{
	static uint8_t buf[MG_MERKLE_FRONTIER_MAX_ENC + 40];
	struct mg_merkle_frontier *g = test_malloc(sizeof(*g));
	size_t len, cut;
	uint8_t root[HL], keep;

	len = mg_merkle_frontier_encode(f, buf, sizeof(buf));
	assert_int_equal(len, 8 + f->n * HL);
	assert_int_equal(mg_merkle_frontier_encode(f, buf, len - 1), 0);
	memset(g, 0xa5, sizeof(*g));
	assert_int_equal(mg_merkle_frontier_decode(g, buf, len), 0);
	assert_true(g->size == f->size && g->n == f->n);
	if (f->n > 0)
		assert_memory_equal(g->hash, f->hash, f->n * HL);
	assert_int_equal(mg_merkle_frontier_root(g, root), 0);
	assert_memory_equal(root, big.root[f->size], HL);
	/* Every shorter or longer length, and sizes whose popcount differs. */
	memset(g, 0xa5, sizeof(*g));
	for (cut = 0; cut < len + 40; cut++)
		if (cut != len)
			assert_int_equal(mg_merkle_frontier_decode(g, buf, cut),
			    -EBADMSG);
	keep = buf[7];
	buf[7] ^= 1;
	assert_int_equal(mg_merkle_frontier_decode(g, buf, len), -EBADMSG);
	buf[7] = keep;
	keep = buf[0];
	buf[0] |= 0x80;		/* over MG_MERKLE_MAX_SIZE */
	assert_int_equal(mg_merkle_frontier_decode(g, buf, len), -EBADMSG);
	buf[0] = keep;
	assert_int_equal(g->hash[0][0], 0xa5);	/* untouched on failure */
	test_free(g);
}

static void
test_frontier(void **state)
{
	struct mg_merkle_frontier *f = test_malloc(sizeof(*f));
	struct mg_merkle_frontier *copy = test_malloc(sizeof(*copy));
	struct seen *s = test_calloc(1, sizeof(*s));
	struct oracle o = { .t = &big, .recompute = true };
	uint8_t root[HL], want[HL];
	uint64_t i, l;

	(void)state;
	mg_merkle_frontier_init(f);
	check_encoding(f);
	s->fail_level = -1;
	for (i = 0; i < 1000; i++) {
		/* A refusing callback at each level leaves f as it was. */
		for (l = 0; l <= (uint64_t)__builtin_ctzll(i + 1); l++) {
			memcpy(copy, f, sizeof(*f));
			s->appending = i;
			s->next_level = 0;
			s->fail_level = (int)l;
			assert_int_equal(mg_merkle_frontier_append(f,
			    big.h[0][i], done, s), -ECANCELED);
			assert_memory_equal(copy, f, sizeof(*f));
		}
		s->next_level = 0;
		s->fail_level = -1;
		assert_int_equal(mg_merkle_frontier_append(f, big.h[0][i], done,
		    s), 0);
		/* Levels 0 .. ctz(i + 1) were reported. */
		assert_int_equal(s->next_level, __builtin_ctzll(i + 1) + 1);
		assert_true(f->size == i + 1 &&
		    f->n == (unsigned)__builtin_popcountll(i + 1));
		assert_int_equal(mg_merkle_frontier_root(f, root), 0);
		o.limit = i + 1;
		assert_int_equal(mg_merkle_root(i + 1, sub, &o, want), 0);
		assert_memory_equal(root, want, HL);
		assert_memory_equal(root, big.root[i + 1], HL);
		check_encoding(f);
	}
	/* Exactly the perfect subtrees of 1000 leaves, once each. */
	for (l = 0; l < NLEVEL; l++)
		for (i = 0; i < (NLEAF >> l); i++)
			assert_int_equal(s->got[l][i],
			    ((i + 1) << l) <= 1000 ? 1 : 0);
	test_free(f);
	test_free(copy);
	test_free(s);
}

/* ---- huge sizes --------------------------------------------------------- */

/* A tree whose leaves are all equal: (L, i) has the same hash for every i,
 * so any size up to 2^63 can be proven and verified. */
static uint8_t flat[64][HL];

struct flat_oracle {
	uint64_t limit;
	unsigned calls;
};

static int
flat_sub(void *arg, unsigned level, uint64_t index, uint8_t out[HL])
{
	struct flat_oracle *o = arg;

	o->calls++;
	assert_true(level < 64);
	/* (index + 1) << level <= limit, without overflowing */
	assert_true(index < (o->limit >> level));
	memcpy(out, flat[level], HL);
	return 0;
}

static void
check_huge(uint64_t a, uint64_t b)
{
	static uint8_t proof[MAXP][HL];
	struct flat_oracle o = { .limit = b };
	uint8_t rb[HL], ra[HL];
	size_t n = 999;

	assert_int_equal(mg_merkle_root(b, flat_sub, &o, rb), 0);
	assert_true(o.calls <= 64);
	o.calls = 0;
	assert_int_equal(mg_merkle_inclusion_proof(a % b, b, flat_sub, &o,
	    proof, &n), 0);
	assert_true(n <= MAXP && o.calls <= 2 * MAXP);
	assert_int_equal(mg_merkle_verify_inclusion(a % b, b, flat[0], proof[0],
	    n, rb), 0);
	if (a == 0)
		return;
	o.limit = a;
	assert_int_equal(mg_merkle_root(a, flat_sub, &o, ra), 0);
	o.limit = b;
	o.calls = 0;
	assert_int_equal(mg_merkle_consistency_proof(a, b, flat_sub, &o, proof,
	    &n), 0);
	assert_true(n <= MAXP && o.calls <= 2 * MAXP);
	assert_int_equal(mg_merkle_verify_consistency(a, b, ra, rb, proof[0],
	    n), 0);
}

static void
test_huge(void **state)
{
	static const uint64_t top = MG_MERKLE_MAX_SIZE;
	static uint8_t proof[MAXP][HL];
	struct mg_merkle_frontier *f = test_malloc(sizeof(*f));
	struct flat_oracle o = { .limit = UINT64_MAX };
	uint64_t a, b, x = 0x9e3779b97f4a7c15u;
	uint8_t enc[40], h[HL];
	size_t n = 0;
	unsigned i;

	(void)state;
	memcpy(flat[0], big.h[0][0], HL);
	for (i = 1; i < 64; i++)
		hash_node(flat[i - 1], flat[i - 1], flat[i]);
	/* The longest proofs: 63 and 64 hashes. */
	check_huge(top - 1, top);
	check_huge(top - 2, top);
	check_huge(top - 1, top - 1);
	check_huge(3, top);
	check_huge((top >> 1) + 1, top);
	check_huge(top >> 1, (top >> 1) + 1);
	for (i = 0; i < 200; i++) {
		x = x * 6364136223846793005u + 1442695040888963407u;
		b = (x >> (i % 60)) % top + 1;
		a = (x >> 7) % b + 1;
		check_huge(a, b);
	}
	assert_int_equal(mg_merkle_consistency_proof(top - 1, top, flat_sub, &o,
	    proof, &n), 0);
	assert_int_equal(n, MAXP);
	/* Past the limit. */
	assert_int_equal(mg_merkle_root(top + 1, flat_sub, &o, h), -EINVAL);
	assert_int_equal(mg_merkle_range_hash(0, top + 1, flat_sub, &o, h),
	    -EINVAL);
	assert_int_equal(mg_merkle_inclusion_proof(0, top + 1, flat_sub, &o,
	    proof, &n), -EINVAL);
	assert_int_equal(mg_merkle_consistency_proof(1, top + 1, flat_sub, &o,
	    proof, &n), -EINVAL);
	/* A frontier of 2^63 leaves is full; 2^63 + 1 does not decode. */
	memset(enc, 0, sizeof(enc));
	enc[0] = 0x80;
	memcpy(enc + 8, flat[63], HL);
	assert_int_equal(mg_merkle_frontier_decode(f, enc, sizeof(enc)), 0);
	assert_int_equal(mg_merkle_frontier_append(f, flat[0], NULL, NULL),
	    -E2BIG);
	assert_int_equal(mg_merkle_frontier_root(f, h), 0);
	assert_memory_equal(h, flat[63], HL);
	enc[7] = 1;
	assert_int_equal(mg_merkle_frontier_decode(f, enc, sizeof(enc)),
	    -EBADMSG);
	test_free(f);
}

/* ---- arguments, oracle errors, digest errors ----------------------------- */

static void
test_arguments(void **state)
{
	static uint8_t proof[MAXP][HL];
	struct mg_merkle_frontier *f = test_malloc(sizeof(*f));
	struct oracle o = { .t = &big, .limit = 8 };
	const uint8_t *r8 = big.root[8];
	size_t n = 77;

	(void)state;
	assert_int_equal(mg_merkle_inclusion_proof(8, 8, sub, &o, proof, &n),
	    -EINVAL);
	assert_int_equal(mg_merkle_inclusion_proof(0, 0, sub, &o, proof, &n),
	    -EINVAL);
	assert_int_equal(mg_merkle_inclusion_proof(0, 8, NULL, &o, proof, &n),
	    -EINVAL);
	assert_int_equal(mg_merkle_inclusion_proof(0, 8, sub, &o, NULL, &n),
	    -EINVAL);
	assert_int_equal(mg_merkle_inclusion_proof(0, 8, sub, &o, proof, NULL),
	    -EINVAL);
	assert_int_equal(mg_merkle_consistency_proof(0, 8, sub, &o, proof, &n),
	    -EINVAL);
	assert_int_equal(mg_merkle_consistency_proof(9, 8, sub, &o, proof, &n),
	    -EINVAL);
	assert_int_equal(mg_merkle_consistency_proof(1, 8, NULL, &o, proof,
	    &n), -EINVAL);
	assert_int_equal(n, 77);
	assert_int_equal(o.calls, 0);
	assert_int_equal(mg_merkle_range_hash(1, 3, sub, &o, proof[0]),
	    -EINVAL);
	assert_int_equal(mg_merkle_root(8, NULL, &o, proof[0]), -EINVAL);
	/* Verifiers. */
	assert_int_equal(mg_merkle_verify_inclusion(8, 8, big.h[0][0],
	    proof[0], 0, r8), -EINVAL);
	assert_int_equal(mg_merkle_verify_inclusion(0, 0, big.h[0][0],
	    proof[0], 0, r8), -EINVAL);
	assert_int_equal(mg_merkle_verify_inclusion(0, 8, NULL, proof[0], 0,
	    r8), -EINVAL);
	assert_int_equal(mg_merkle_verify_inclusion(0, 8, big.h[0][0], NULL, 1,
	    r8), -EINVAL);
	assert_int_equal(mg_merkle_verify_inclusion(0, 1, big.h[0][0], NULL, 0,
	    big.h[0][0]), 0);
	assert_int_equal(mg_merkle_verify_consistency(0, 8, r8, r8, proof[0],
	    0), -EINVAL);
	assert_int_equal(mg_merkle_verify_consistency(9, 8, r8, r8, proof[0],
	    0), -EINVAL);
	assert_int_equal(mg_merkle_verify_consistency(1, 8, NULL, r8,
	    proof[0], 0), -EINVAL);
	assert_int_equal(mg_merkle_verify_consistency(1, 8, r8, r8, NULL, 1),
	    -EINVAL);
	assert_int_equal(mg_merkle_verify_consistency(8, 8, r8, r8, NULL, 0),
	    0);
	assert_int_equal(mg_merkle_verify_consistency(8, 8, r8, big.root[7],
	    NULL, 0), -EBADMSG);
	assert_int_equal(mg_merkle_verify_consistency(8, 8, r8, r8, r8, 1),
	    -EBADMSG);
	assert_int_equal(mg_merkle_verify_consistency(4, 8, big.root[4], r8,
	    NULL, 0), -EBADMSG);
	/* RFC 9162 2.1.3.2 binds size and root only as a pair: the proof of
	 * leaf 0 in 3 leaves also holds for "size 4" with the 3-leaf root
	 * (merkle.h says so; the checkpoint signs both). */
	o.limit = 3;
	assert_int_equal(mg_merkle_inclusion_proof(0, 3, sub, &o, proof, &n),
	    0);
	assert_int_equal(mg_merkle_verify_inclusion(0, 4, big.h[0][0], proof[0],
	    n, big.root[3]), 0);
	assert_int_equal(mg_merkle_verify_inclusion(0, 4, big.h[0][0], proof[0],
	    n, big.root[4]), -EBADMSG);
	/* Hashes. */
	assert_int_equal(mg_merkle_leaf_hash(NULL, 1, proof[0]), -EINVAL);
	assert_int_equal(mg_merkle_leaf_hash("", 0, NULL), -EINVAL);
	assert_int_equal(mg_merkle_node_hash(NULL, r8, proof[0]), -EINVAL);
	assert_int_equal(mg_merkle_node_hash(r8, NULL, proof[0]), -EINVAL);
	assert_int_equal(mg_merkle_node_hash(r8, r8, NULL), -EINVAL);
	assert_int_equal(mg_merkle_empty_root(NULL), -EINVAL);
	assert_int_equal(mg_merkle_leaf_hash(NULL, 0, proof[0]), 0);
	assert_memory_equal(proof[0], vec.h[0][0], HL);	/* leaf "" */
	/* Frontier. */
	mg_merkle_frontier_init(f);
	assert_int_equal(mg_merkle_frontier_append(NULL, r8, NULL, NULL),
	    -EINVAL);
	assert_int_equal(mg_merkle_frontier_append(f, NULL, NULL, NULL),
	    -EINVAL);
	assert_int_equal(mg_merkle_frontier_decode(NULL, proof[0], 8), -EINVAL);
	assert_int_equal(mg_merkle_frontier_decode(f, NULL, 8), -EINVAL);
	assert_int_equal(mg_merkle_frontier_encode(NULL, proof[0], 64), 0);
	f->n = 1;		/* not popcount(0): refused everywhere */
	assert_int_equal(mg_merkle_frontier_append(f, r8, NULL, NULL), -EINVAL);
	assert_int_equal(mg_merkle_frontier_root(f, proof[0]), -EINVAL);
	assert_int_equal(mg_merkle_frontier_encode(f, proof[0], 64), 0);
	test_free(f);
}

/* The oracle failing at every call of every function: its error comes back
 * unchanged and *ret_n is not written. */
static void
test_oracle_errors(void **state)
{
	static uint8_t proof[MAXP][HL];
	struct oracle o = { .t = &big, .limit = 1000 };
	uint8_t h[HL];
	unsigned k, fails;
	size_t n;
	int r, which;

	(void)state;
	for (which = 0; which < 4; which++) {
		fails = 0;
		for (k = 1;; k++) {
			o.calls = 0;
			o.fail_at = k;
			n = 4242;
			if (which == 0)
				r = mg_merkle_root(999, sub, &o, h);
			else if (which == 1)
				r = mg_merkle_inclusion_proof(517, 999, sub, &o,
				    proof, &n);
			else if (which == 2)
				r = mg_merkle_consistency_proof(517, 999, sub,
				    &o, proof, &n);
			else
				r = mg_merkle_consistency_proof(512, 1000, sub,
				    &o, proof, &n);
			if (r == 0)
				break;
			assert_int_equal(r, -ENOTRECOVERABLE);
			assert_int_equal(n, 4242);
			fails++;
		}
		assert_int_equal(fails, k - 1);
		assert_true(fails >= 2);
	}
}

/* OpenSSL failing at each digest: -EIO, and a frontier left unchanged. */
static void
test_digest_errors(void **state)
{
	static uint8_t proof[MAXP][HL];
	struct mg_merkle_frontier *f = test_malloc(sizeof(*f));
	struct mg_merkle_frontier *copy = test_malloc(sizeof(*copy));
	struct oracle o = { .t = &big, .limit = 1000 };
	uint8_t h[HL];
	unsigned k;
	size_t n = 0;
	int r;

	(void)state;
	digest_count = 0;
	digest_fail_at = 1;
	assert_int_equal(mg_merkle_leaf_hash("x", 1, h), -EIO);
	digest_count = 0;
	assert_int_equal(mg_merkle_node_hash(h, h, h), -EIO);
	digest_count = 0;
	assert_int_equal(mg_merkle_empty_root(h), -EIO);
	digest_fail_at = 0;
	mg_merkle_frontier_init(f);
	for (k = 0; k < 1023; k++)
		assert_int_equal(mg_merkle_frontier_append(f, big.h[0][k], NULL,
		    NULL), 0);
	/* Leaf 1023 closes ten levels. */
	for (k = 1;; k++) {
		memcpy(copy, f, sizeof(*f));
		digest_count = 0;
		digest_fail_at = k;
		r = mg_merkle_frontier_append(f, big.h[0][1023], NULL, NULL);
		if (r == 0)
			break;
		assert_int_equal(r, -EIO);
		assert_memory_equal(copy, f, sizeof(*f));
	}
	assert_int_equal(k, 11);
	for (k = 1;; k++) {
		digest_count = 0;
		digest_fail_at = k;
		if ((r = mg_merkle_frontier_root(f, h)) == 0)
			break;
		assert_int_equal(r, -EIO);
	}
	for (k = 1;; k++) {
		digest_count = 0;
		digest_fail_at = k;
		memcpy(proof[0], big.h[0][1], HL);
		memcpy(proof[1], big.h[1][1], HL);
		r = mg_merkle_verify_inclusion(0, 4, big.h[0][0], proof[0], 2,
		    big.h[2][0]);
		if (r == 0)
			break;
		assert_int_equal(r, -EIO);
	}
	assert_int_equal(k, 3);
	digest_fail_at = 0;
	assert_int_equal(mg_merkle_consistency_proof(3, 7, sub, &o, proof, &n),
	    0);
	for (k = 1;; k++) {
		digest_count = 0;
		digest_fail_at = k;
		r = mg_merkle_verify_consistency(3, 7, big.root[3], big.root[7],
		    proof[0], n);
		if (r == 0)
			break;
		assert_int_equal(r, -EIO);
	}
	assert_true(k > 3);
	digest_fail_at = 0;
	test_free(f);
	test_free(copy);
}

/* Nothing in the library goes through malloc (the wrapped one counts every
 * call); OpenSSL's own allocations happen inside libcrypto.  So there is
 * no OOM path to inject into. */
static void
test_no_alloc(void **state)
{
	static uint8_t proof[MAXP][HL], enc[MG_MERKLE_FRONTIER_MAX_ENC];
	struct mg_merkle_frontier *f = test_malloc(sizeof(*f));
	struct oracle o = { .t = &big, .limit = 100 };
	uint8_t h[HL];
	size_t n = 0, len;
	unsigned i;

	(void)state;
	oom_fail_at(0);
	mg_merkle_frontier_init(f);
	for (i = 0; i < 100; i++)
		assert_int_equal(mg_merkle_frontier_append(f, big.h[0][i], NULL,
		    NULL), 0);
	assert_int_equal(mg_merkle_frontier_root(f, h), 0);
	len = mg_merkle_frontier_encode(f, enc, sizeof(enc));
	assert_int_equal(mg_merkle_frontier_decode(f, enc, len), 0);
	assert_int_equal(mg_merkle_leaf_hash("abc", 3, h), 0);
	assert_int_equal(mg_merkle_root(100, sub, &o, h), 0);
	assert_int_equal(mg_merkle_inclusion_proof(37, 100, sub, &o, proof,
	    &n), 0);
	assert_int_equal(mg_merkle_verify_inclusion(37, 100, big.h[0][37],
	    proof[0], n, h), 0);
	assert_int_equal(mg_merkle_consistency_proof(37, 100, sub, &o, proof,
	    &n), 0);
	assert_int_equal(mg_merkle_verify_consistency(37, 100, big.root[37], h,
	    proof[0], n), 0);
	assert_int_equal(oom_count(), 0);
	test_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_inclusion_small),
		cmocka_unit_test(test_consistency_small),
		cmocka_unit_test(test_range_hash),
		cmocka_unit_test(test_frontier),
		cmocka_unit_test(test_huge),
		cmocka_unit_test(test_arguments),
		cmocka_unit_test(test_oracle_errors),
		cmocka_unit_test(test_digest_errors),
		cmocka_unit_test(test_no_alloc),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
