/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_MERKLE_H
#define MYNAGUARD_MERKLE_H

/*
 * libmynaguard-ledger, merkle.c: the RFC 9162 (Certificate Transparency
 * v2) Merkle tree over SHA-256, without storage.
 *
 * D[n] is the list of n leaves d0 .. d(n-1), and MTH(D[a:b]) the Merkle
 * tree hash of leaves a .. b-1 (RFC 9162 2.1.1).  A perfect subtree
 * (level L, index i) is MTH of leaves [i << L, (i + 1) << L): level 0 is
 * one leaf hash, level 8 a block of 256 leaves, and so on.
 *
 * Two ways in:
 *  - the frontier (compact range) appends leaves and gives the root of the
 *    tree so far without keeping the leaves; the collector keeps one;
 *  - proofs and roots of any size are computed from an oracle that returns
 *    perfect subtree hashes, which the caller stores or computes (see
 *    mg_merkle_subtree_fn for the exact contract).
 *
 * Proof verification follows the RFC's bit-walking algorithms (2.1.3.2,
 * 2.1.4.2), not the recursive generator, so it is an independent check.
 * Nothing here allocates memory (OpenSSL's digest may, inside libcrypto),
 * logs, or keeps state.  Every int function returns 0 or -errno; hashing
 * itself fails only when OpenSSL does (-EIO), and a caller that ignores it
 * must not use the output.
 */

#include <stddef.h>
#include <stdint.h>

#define MG_MERKLE_HASH_LEN 32
/* Largest tree the proof functions and the frontier accept: 2^63 leaves.
 * Its proofs have at most 64 hashes (a consistency proof has at most
 * ceil(log2 n) + 1). */
#define MG_MERKLE_MAX_SIZE (UINT64_C(1) << 63)
#define MG_MERKLE_MAX_PROOF 64
/* Largest mg_merkle_frontier_encode() output: size and 64 hashes. */
#define MG_MERKLE_FRONTIER_MAX_ENC (8 + 64 * MG_MERKLE_HASH_LEN)

/* ---- hashes (RFC 9162 2.1.1) ------------------------------------------- */

/* SHA-256(0x00 || data).  0, -EINVAL (NULL out, or NULL data with len >
 * 0) or -EIO (OpenSSL failed; out is then garbage). */
int mg_merkle_leaf_hash(const void *data, size_t len,
    uint8_t out[MG_MERKLE_HASH_LEN]);
/* SHA-256(0x01 || left || right).  0, -EINVAL (NULL) or -EIO.  out may
 * alias either input. */
int mg_merkle_node_hash(const uint8_t left[MG_MERKLE_HASH_LEN],
    const uint8_t right[MG_MERKLE_HASH_LEN], uint8_t out[MG_MERKLE_HASH_LEN]);
/* MTH({}) = SHA-256(""), the root of the empty tree.  0, -EINVAL, -EIO. */
int mg_merkle_empty_root(uint8_t out[MG_MERKLE_HASH_LEN]);

/* ---- frontier ------------------------------------------------------------ */

/*
 * The compact range of a tree of `size` leaves: one perfect subtree hash
 * per set bit of size, largest first (hash[0] covers the leaves before the
 * highest set bit, and so on).  Enough to append leaves and compute the
 * root without the leaves.  Treat the fields as read-only: only the
 * functions below keep n == popcount(size).
 */
struct mg_merkle_frontier {
	uint64_t size;
	unsigned n;
	uint8_t hash[64][MG_MERKLE_HASH_LEN];
};

/* The empty tree. */
void mg_merkle_frontier_init(struct mg_merkle_frontier *f);

/*
 * Called by mg_merkle_frontier_append() for every perfect subtree the
 * append completes: the subtree (level, index) covers leaves
 * [index << level, (index + 1) << level) and hash is its MTH.  Return 0, or
 * a negative value to abort the append.
 */
typedef int (*mg_merkle_done_fn)(void *arg, unsigned level, uint64_t index,
    const uint8_t hash[MG_MERKLE_HASH_LEN]);

/*
 * Append one leaf hash (mg_merkle_leaf_hash() of the leaf data).  For
 * every perfect subtree completed by this append (the leaf itself at level
 * 0, then each level whose block the leaf closes), calls done(arg, level,
 * index, hash) in increasing level order; done may be NULL.  Appending
 * leaf number s (0-based) completes the levels 0 .. ctz(s + 1).
 * 0; a negative return from done is returned as is; -E2BIG when the tree
 * already has MG_MERKLE_MAX_SIZE leaves; -EINVAL for NULL f or leaf; -EIO.
 * On any failure *f is unchanged (so a database transaction fed from done
 * can be rolled back and the append retried).
 */
int mg_merkle_frontier_append(struct mg_merkle_frontier *f,
    const uint8_t leaf[MG_MERKLE_HASH_LEN], mg_merkle_done_fn done,
    void *arg);

/* MTH of the whole tree (mg_merkle_empty_root() when empty).  0, -EINVAL
 * (f is not a valid frontier), -EIO. */
int mg_merkle_frontier_root(const struct mg_merkle_frontier *f,
    uint8_t out[MG_MERKLE_HASH_LEN]);

/*
 * Serialised form for storage: the size as 8 bytes big-endian, then the n
 * hashes in order.  encode returns the length written (8 + 32 n, at most
 * MG_MERKLE_FRONTIER_MAX_ENC), or 0 when cap is too small or f is not a
 * valid frontier.  decode accepts exactly that: -EBADMSG unless len is
 * 8 + 32 * popcount(size) and size <= MG_MERKLE_MAX_SIZE; -EINVAL for
 * NULL arguments.  *f is written only on success.
 */
size_t mg_merkle_frontier_encode(const struct mg_merkle_frontier *f,
    uint8_t *out, size_t cap);
int mg_merkle_frontier_decode(struct mg_merkle_frontier *f, const uint8_t *in,
    size_t len);

/* ---- roots and proofs from a subtree oracle ---------------------------- */

/*
 * The oracle: store in out the MTH of the perfect subtree (level, index),
 * that is of leaves [index << level, (index + 1) << level), and return 0;
 * or return -errno, which the calling function returns unchanged (out is
 * then ignored).
 *
 * The contract, which the oracle may rely on:
 *  - level <= 63 and the subtree lies wholly inside the tree the call is
 *    about: (index + 1) << level <= end for mg_merkle_range_hash(), <= size
 *    for mg_merkle_root() and mg_merkle_inclusion_proof(), <= n for
 *    mg_merkle_consistency_proof().  No call is made for leaves past that.
 *  - The subtree is always aligned (it is a node of every tree that
 *    contains it), so an oracle that stores levels 0, 8 and 16 (as
 *    reported by mg_merkle_frontier_append()) answers level L < 24 by
 *    folding the 2^(L mod 8) stored hashes of level L - L mod 8 that it
 *    covers pairwise with mg_merkle_node_hash(), at most 128 of them.
 *    Level 24 and above needs 2^(L-16) level-16 hashes (65536 at level
 *    32), so store a higher level too before the log grows that big.
 *  - Calls come in no particular order and may repeat; at most 64 per
 *    mg_merkle_range_hash()/mg_merkle_root() and 128 per proof.
 */
typedef int (*mg_merkle_subtree_fn)(void *arg, unsigned level, uint64_t index,
    uint8_t out[MG_MERKLE_HASH_LEN]);

/*
 * MTH(D[begin:end]) for a range that is a node of an RFC 9162 tree: begin
 * < end <= MG_MERKLE_MAX_SIZE and begin a multiple of the smallest power
 * of two >= end - begin (so a perfect subtree, or the right edge of a
 * tree whose left part is aligned).  Computed by the RFC's split (k = the
 * largest power of two < n), asking the oracle for each perfect piece: one
 * per set bit of end - begin.  0, -EINVAL for any other range, or the
 * oracle's error.  out is written only on success.
 */
int mg_merkle_range_hash(uint64_t begin, uint64_t end,
    mg_merkle_subtree_fn sub, void *arg, uint8_t out[MG_MERKLE_HASH_LEN]);

/* MTH(D[size]): mg_merkle_range_hash(0, size) for size >= 1, the empty
 * root (no oracle call) for 0.  -EINVAL above MG_MERKLE_MAX_SIZE. */
int mg_merkle_root(uint64_t size, mg_merkle_subtree_fn sub, void *arg,
    uint8_t out[MG_MERKLE_HASH_LEN]);

/*
 * RFC 9162 2.1.3.1 inclusion proof PATH(index, D[size]) and 2.1.4.1
 * consistency proof PROOF(m, D[n]), hashes ordered as the RFC lists them
 * (nearest the leaf first).  out has room for MG_MERKLE_MAX_PROOF hashes;
 * on success *ret_n is the count (0 for size 1, or for m == n).
 * -EINVAL for index >= size, m == 0, m > n, a size over
 * MG_MERKLE_MAX_SIZE or NULL pointers; otherwise the oracle's error (out
 * is then partly written, *ret_n untouched).
 */
int mg_merkle_inclusion_proof(uint64_t index, uint64_t size,
    mg_merkle_subtree_fn sub, void *arg, uint8_t out[][MG_MERKLE_HASH_LEN],
    size_t *ret_n);
int mg_merkle_consistency_proof(uint64_t m, uint64_t n,
    mg_merkle_subtree_fn sub, void *arg, uint8_t out[][MG_MERKLE_HASH_LEN],
    size_t *ret_n);

/*
 * The verifiers take a proof as its hashes one after the other (n * 32
 * bytes; NULL when n is 0).  For an array uint8_t p[][32] pass p[0]: ISO C
 * before C23 does not convert uint8_t (*)[32] to const uint8_t (*)[32].
 *
 * RFC 9162 2.1.3.2: does proof (n hashes) prove that leaf (a leaf hash) is
 * number index in the tree of the given size and root?  0 when the proof
 * holds, -EBADMSG when it does not (including a proof that is too long or
 * too short), -EINVAL for index >= size or NULL pointers, -EIO.
 * The RFC algorithm checks the proof against size and root together: with
 * the root of another size, a proof may hold for every size whose path has
 * the same shape (the proof for leaf 0 of 3 leaves also "holds" for size
 * 4 with the 3-leaf root).  So take size and root from the same signed
 * checkpoint, never the size from elsewhere.
 */
int mg_merkle_verify_inclusion(uint64_t index, uint64_t size,
    const uint8_t leaf[MG_MERKLE_HASH_LEN], const uint8_t *proof, size_t n,
    const uint8_t root[MG_MERKLE_HASH_LEN]);

/*
 * RFC 9162 2.1.4.2: does proof (np hashes) prove that the tree of size m
 * and root root_m is a prefix of the tree of size n and root root_n?  For
 * m == n the proof must be empty and the roots equal (the RFC's algorithm
 * starts at m < n).  0 when it holds, -EBADMSG when not, -EINVAL for
 * m == 0 (anything is consistent with the empty tree: the caller decides
 * whether to accept it), m > n or NULL pointers, -EIO.
 */
int mg_merkle_verify_consistency(uint64_t m, uint64_t n,
    const uint8_t root_m[MG_MERKLE_HASH_LEN],
    const uint8_t root_n[MG_MERKLE_HASH_LEN], const uint8_t *proof,
    size_t np);

#endif
