/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer: USB descriptors as a hostile device presents them. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "usbdesc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct usbdesc d;
	struct pol_iface t[USBDESC_IFACES_MAX];
	const char *why = NULL;
	size_t off = 0, n;

	if (usbdesc_parse(data, size, &d, &why, &off) == 0) {
		if (d.n_ifaces > USBDESC_IFACES_MAX)
			__builtin_trap();
		n = usbdesc_types(&d, t, USBDESC_IFACES_MAX);
		if (n > d.n_ifaces)
			__builtin_trap();
		(void)usbdesc_kinds(&d, "FIDO MTP", NULL);
	} else if (why == NULL || off > size) {
		__builtin_trap();
	}
	return 0;
}
