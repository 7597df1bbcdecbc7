/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz the query-column reader (columns.c): arbitrary bytes as a body,
 * each of the four paths.  It is only ever given bodies that
 * mg_record_decode() accepted, but it must stay inside any buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = { "event.action", "user.name",
		"event.outcome", "mynaguard.device.serial" };
	char *copy, *v;
	size_t i;

	/* An exact-size copy, so reading past the end is caught. */
	if ((copy = malloc(size + 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		v = NULL;
		(void)coll_column(copy, size, paths[i], &v);
		free(v);
	}
	free(copy);
	return 0;
}
