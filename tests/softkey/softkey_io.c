/* SPDX-License-Identifier: BSD-2-Clause */
/* libfido2 io functions over the softkey framing layer (softkey_io.h). */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mynaguard/common.h>

#include "softkey.h"
#include "softkey_io.h"

/*
 * libfido2 1.12 (src/dev.c, fido_dev_open_tx) takes the report lengths
 * from fido_hid_report_in_len(handle), which reads a struct hid_linux
 * { int fd; size_t report_in_len; size_t report_out_len; ... }, whenever
 * dev->io_own is false, and fido_dev_new_with_info() leaves it false for
 * an entry made by fido_dev_info_set() with io but no transport functions.
 * So the handle starts with that same prefix; the lengths are 64 either
 * way.  (fido_dev_set_io_functions() sets io_own and avoids the question.)
 */
struct io_handle {
	int fd; /* unused, -1 */
	size_t report_in_len;
	size_t report_out_len;
	struct softkey *sk;
};

const fido_dev_io_t softkey_io = {
	.open = softkey_io_open,
	.close = softkey_io_close,
	.read = softkey_io_read,
	.write = softkey_io_write,
};

size_t
softkey_io_count(void)
{
	const char *s = getenv("SOFTKEY_STATE");
	size_t n = 1;

	if (s == NULL || s[0] == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (*s == ':')
			n++;
	return n;
}

bool
softkey_io_is_ours(const char *path)
{
	return path != NULL &&
	    strncmp(path, SOFTKEY_IO_PREFIX, strlen(SOFTKEY_IO_PREFIX)) == 0;
}

int
softkey_io_resolve(const char *path, char *out, size_t size)
{
	const char *s, *end;
	uint32_t idx;
	size_t len;

	if (!softkey_io_is_ours(path) || out == NULL)
		return -EINVAL;
	path += strlen(SOFTKEY_IO_PREFIX);
	if (path[0] == '/') {
		s = path;
		len = strlen(path);
	} else {
		if (parse_u32(path, 0, UINT32_MAX, &idx) < 0)
			return -EINVAL;
		if (idx >= softkey_io_count())
			return -ENOENT;
		if ((s = getenv("SOFTKEY_STATE")) == NULL)
			return -ENOENT;
		for (; idx > 0 && (end = strchr(s, ':')) != NULL; idx--)
			s = end + 1;
		end = strchr(s, ':');
		len = end != NULL ? (size_t)(end - s) : strlen(s);
	}
	if (len == 0)
		return -ENOENT;
	if (len >= size)
		return -ENAMETOOLONG;
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

void *
softkey_io_open(const char *path)
{
	struct io_handle *h = NULL;
	char file[2048];

	if (softkey_io_resolve(path, file, sizeof(file)) < 0 ||
	    (h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->fd = -1;
	h->report_in_len = SOFTKEY_REPORT_LEN;
	h->report_out_len = SOFTKEY_REPORT_LEN;
	if (softkey_load(file, &h->sk, NULL) < 0 ||
	    softkey_set_log(h->sk, getenv("SOFTKEY_LOG")) < 0) {
		softkey_io_close(h);
		return NULL;
	}
	return h;
}

void
softkey_io_close(void *handle)
{
	struct io_handle *h = handle;

	if (h == NULL)
		return;
	softkey_free(h->sk);
	free(h);
}

int
softkey_io_read(void *handle, unsigned char *buf, size_t len, int ms)
{
	struct io_handle *h = handle;
	int r;

	if (h == NULL || len != SOFTKEY_REPORT_LEN)
		return -1;
	r = softkey_hid_read(h->sk, buf, len, ms);
	return r < 0 ? -1 : r;
}

int
softkey_io_write(void *handle, const unsigned char *buf, size_t len)
{
	struct io_handle *h = handle;
	int r;

	if (h == NULL)
		return -1;
	r = softkey_hid_write(h->sk, buf, len);
	return r < 0 ? -1 : r;
}
