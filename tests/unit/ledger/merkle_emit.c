/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Print, as JSON for tests/integration/merkle_ref.py check-json, every
 * inclusion and consistency proof of the trees of 1 to 40 leaves made by
 * the C library, the leaves being "0", "1", ... (decimal ASCII).  The
 * oracle is fed the way the collector's will be: from the frontier's
 * done() callbacks.  Exit status 1 on any failure.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mynaguard/merkle.h"

#define HL MG_MERKLE_HASH_LEN
#define N 40u
#define LEVELS 6u		/* 2^5 = 32 <= 40 < 64 */

static uint8_t node[LEVELS][N][HL];	/* perfect subtree (level, index) */
static unsigned char known[LEVELS][N];
static uint8_t roots[N + 1][HL];

static int
store(void *arg, unsigned level, uint64_t index, const uint8_t hash[HL])
{
	(void)arg;
	if (level >= LEVELS || index >= N)
		return -ERANGE;
	memcpy(node[level][index], hash, HL);
	known[level][index] = 1;
	return 0;
}

static int
lookup(void *arg, unsigned level, uint64_t index, uint8_t out[HL])
{
	(void)arg;
	if (level >= LEVELS || index >= N || !known[level][index])
		return -ENOENT;
	memcpy(out, node[level][index], HL);
	return 0;
}

static void
print_hex(const uint8_t *p, size_t n)
{
	size_t i;

	putchar('"');
	for (i = 0; i < n; i++)
		printf("%02x", p[i]);
	putchar('"');
}

static void
print_proof(const uint8_t *proof, size_t n)
{
	size_t i;

	printf("\"proof\":[");
	for (i = 0; i < n; i++) {
		if (i > 0)
			putchar(',');
		print_hex(proof + i * HL, HL);
	}
	printf("]}");
}

static int
build(void)
{
	struct mg_merkle_frontier f;
	uint8_t leaf[HL];
	char s[16];
	unsigned i;
	int r;

	mg_merkle_frontier_init(&f);
	if ((r = mg_merkle_frontier_root(&f, roots[0])) < 0)
		return r;
	printf("{\"leaves_hex\":[");
	for (i = 0; i < N; i++) {
		snprintf(s, sizeof(s), "%u", i);
		print_hex((const uint8_t *)s, strlen(s));
		putchar(i + 1 < N ? ',' : ']');
		r = mg_merkle_leaf_hash(s, strlen(s), leaf);
		if (r < 0 || (r = mg_merkle_frontier_append(&f, leaf, store,
		    NULL)) < 0 || (r = mg_merkle_frontier_root(&f,
		    roots[i + 1])) < 0)
			return r;
	}
	return 0;
}

static int
emit_inclusion(uint64_t index, uint64_t size, int *first)
{
	uint8_t proof[MG_MERKLE_MAX_PROOF][HL];
	size_t n = 0;
	int r;

	if ((r = mg_merkle_inclusion_proof(index, size, lookup, NULL, proof,
	    &n)) < 0)
		return r;
	printf("%s\n{\"kind\":\"inclusion\",\"index\":%" PRIu64 ",\"size\":%"
	    PRIu64 ",\"leaf_hash\":", *first ? "" : ",", index, size);
	print_hex(node[0][index], HL);
	printf(",\"root\":");
	print_hex(roots[size], HL);
	putchar(',');
	print_proof(proof[0], n);
	*first = 0;
	return 0;
}

static int
emit_consistency(uint64_t m, uint64_t n, int *first)
{
	uint8_t proof[MG_MERKLE_MAX_PROOF][HL];
	size_t np = 0;
	int r;

	if ((r = mg_merkle_consistency_proof(m, n, lookup, NULL, proof,
	    &np)) < 0)
		return r;
	printf("%s\n{\"kind\":\"consistency\",\"m\":%" PRIu64 ",\"n\":%" PRIu64
	    ",\"root_m\":", *first ? "" : ",", m, n);
	print_hex(roots[m], HL);
	printf(",\"root_n\":");
	print_hex(roots[n], HL);
	putchar(',');
	print_proof(proof[0], np);
	*first = 0;
	return 0;
}

int
main(void)
{
	uint64_t a, b;
	int first = 1, r;

	if ((r = build()) < 0)
		goto fail;
	printf(",\"checks\":[");
	for (b = 1; b <= N; b++)
		for (a = 0; a < b; a++)
			if ((r = emit_inclusion(a, b, &first)) < 0 ||
			    (r = emit_consistency(a + 1, b, &first)) < 0)
				goto fail;
	printf("\n]}\n");
	if (fflush(stdout) != 0 || ferror(stdout))
		return EXIT_FAILURE;
	return EXIT_SUCCESS;
fail:
	fprintf(stderr, "merkle_emit: %s\n", strerror(-r));
	return EXIT_FAILURE;
}
