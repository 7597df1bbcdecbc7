/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libsoftkey-preload.so: LD_PRELOAD it (tests only, never installed) and
 * libfido2 users see one softkey per state file in $SOFTKEY_STATE instead
 * of the real keys:
 *
 *   fido_dev_info_manifest()  lists "softkey:<i>" entries whose io
 *                             functions speak 64-byte CTAPHID reports, so
 *                             libfido2's own framing code runs
 *                             (fido_dev_new_with_info() and
 *                             fido_dev_open_with_info() just work);
 *   fido_dev_open()           for a "softkey:" path installs the same io
 *                             functions first, for programs that call
 *                             fido_dev_new() + fido_dev_open(dev, path)
 *                             as Debian's pam_u2f does (util.c).
 *
 * Only these two symbols are exported (preload.map).
 */

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <fido.h>

#include "softkey_io.h"

#define EXPORT __attribute__((visibility("default")))

typedef int open_fn(fido_dev_t *, const char *);

EXPORT int
fido_dev_info_manifest(fido_dev_info_t *devlist, size_t ilen, size_t *olen);
EXPORT int fido_dev_open(fido_dev_t *dev, const char *path);

int
fido_dev_info_manifest(fido_dev_info_t *devlist, size_t ilen, size_t *olen)
{
	size_t n = softkey_io_count();
	char path[32];
	int r;

	if (olen == NULL)
		return FIDO_ERR_INVALID_ARGUMENT;
	*olen = 0;
	for (size_t i = 0; i < n && i < ilen; i++) {
		r = snprintf(path, sizeof(path), SOFTKEY_IO_PREFIX "%zu", i);
		if (r < 0 || (size_t)r >= sizeof(path))
			return FIDO_ERR_INTERNAL;
		if ((r = fido_dev_info_set(devlist, i, path, "mynaguard-test",
			 "softkey", &softkey_io, NULL)) != FIDO_OK)
			return r;
		(*olen)++;
	}
	return FIDO_OK;
}

int
fido_dev_open(fido_dev_t *dev, const char *path)
{
	static open_fn *real;
	void *sym;
	int r;

	if (real == NULL) {
		if ((sym = dlsym(RTLD_NEXT, "fido_dev_open")) == NULL)
			return FIDO_ERR_INTERNAL;
		memcpy(&real, &sym, sizeof(real));
	}
	if (dev != NULL && softkey_io_is_ours(path) &&
	    (r = fido_dev_set_io_functions(dev, &softkey_io)) != FIDO_OK)
		return r;
	return real(dev, path);
}
