/* SPDX-License-Identifier: BSD-2-Clause */
/* Fuzz the strict JSON checker that guards every signed body: no crash, no
 * read past the input, and an accepted text stays accepted when re-checked
 * after a copy (no hidden state). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mynaguard/common.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	size_t bad = 0;
	char *copy;
	int r;

	r = json_check((const char *)data, size, &bad);
	if (r < 0 && r != -EBADMSG && r != -E2BIG && r != -ENOMEM)
		abort();
	if (r < 0 && bad > size)
		abort();
	if (r == 0) {
		copy = malloc(size + 1);
		if (copy == NULL)
			return 0;
		memcpy(copy, data, size);
		if (json_check(copy, size, NULL) != 0)
			abort();
		free(copy);
	}
	return 0;
}
