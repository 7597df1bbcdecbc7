/* SPDX-License-Identifier: BSD-2-Clause */
/* Fuzz the record decoder: spool bytes and request bodies go through it.
 * Decodes a stream of records the way the collector and spool recovery do,
 * and checks that a decoded record stays within its bytes. */
#include <stdlib.h>

#include "mynaguard/event.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct mg_record r;
	uint8_t h[MG_REC_HASH_LEN];
	size_t off = 0;
	int n;

	while (off < size) {
		n = mg_record_decode(data + off, size - off, &r, NULL);
		if (n <= 0)
			break;
		if ((size_t)n > size - off || r.raw != data + off ||
		    r.body + r.body_len > data + off + (size_t)n ||
		    r.sig + r.sig_len != data + off + (size_t)n)
			abort();
		mg_record_hash(&r, h);
		off += (size_t)n;
	}
	return 0;
}
