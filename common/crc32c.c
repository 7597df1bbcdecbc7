/* SPDX-License-Identifier: BSD-2-Clause */
/* CRC-32C (Castagnoli, RFC 3720 appendix B.4), table-driven, reflected.
 * Only detects torn or damaged storage; integrity is the signature's job. */
#include "mynaguard/common.h"

static uint32_t table[256];
static int table_ready;

static void
init_table(void)
{
	uint32_t c;
	unsigned i, k;

	for (i = 0; i < 256; i++) {
		c = i;
		for (k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		table[i] = c;
	}
	__atomic_store_n(&table_ready, 1, __ATOMIC_RELEASE);
}

uint32_t
crc32c(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;

	/* Racing initialisations compute the same table: harmless. */
	if (!__atomic_load_n(&table_ready, __ATOMIC_ACQUIRE))
		init_table();
	crc = ~crc;
	while (len-- > 0)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}
