/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_SOFTKEY_IO_H
#define MYNAGUARD_SOFTKEY_IO_H

/*
 * libfido2 io functions (fido_dev_io_t) that speak 64-byte CTAPHID reports
 * to a softkey, so that libfido2's own framing code runs.  Device paths:
 *
 *   "softkey:<i>"     the i-th (from 0) path of $SOFTKEY_STATE, a
 *                     colon-separated list of state files
 *   "softkey:/<abs>"  the state file /<abs> itself
 *
 * open() loads the state file (a power-up), close() frees it; the key
 * saves its own state changes.  $SOFTKEY_LOG names the command log.
 */

#include <stdbool.h>
#include <stddef.h>

#include <fido.h>

#define SOFTKEY_IO_PREFIX "softkey:"

extern const fido_dev_io_t softkey_io;

/* Number of paths in $SOFTKEY_STATE (0 when unset or empty). */
size_t softkey_io_count(void);

/* Whether path names a softkey device. */
bool softkey_io_is_ours(const char *path);

/* The state file of a device path into out.  -ENOENT (no such entry),
 * -EINVAL (not a softkey path), -ENAMETOOLONG. */
int softkey_io_resolve(const char *path, char *out, size_t size);

void *softkey_io_open(const char *path);
void softkey_io_close(void *handle);
int softkey_io_read(void *handle, unsigned char *buf, size_t len, int ms);
int softkey_io_write(void *handle, const unsigned char *buf, size_t len);

#endif
