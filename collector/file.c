/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Reading the files the collector trusts: its configuration, certificate,
 * key and CA (STYLE 5.6, pam-u2f open_safely).  Like file_read_all() with
 * FILE_TRUSTED, except that the owner may also be the collector's own user:
 * it runs as a DynamicUser in production and as whoever runs the tests.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mynaguard/collector.h"

static int
check_fd(int fd, size_t max)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size > (uint64_t)max)
		return -E2BIG;
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return -EPERM;
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return -EPERM;
	return 0;
}

int
coll_file_read(const char *path, size_t max, char **ret, size_t *ret_len)
{
	struct sbuf b;
	char chunk[2048];
	ssize_t n;
	int fd = -1, r;

	if (path == NULL || ret == NULL || ret_len == NULL)
		return -EINVAL;
	if (path[0] != '/')
		return -EPERM;
	sbuf_init(&b, max);
	/* O_NONBLOCK: a FIFO must not hang us before fstat() rejects it. */
	fd = open(
	    path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		r = errno == ELOOP ? -EPERM : -errno;
		goto out;
	}
	if ((r = check_fd(fd, max)) < 0)
		goto out;
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		if ((r = sbuf_put(&b, chunk, (size_t)n)) < 0)
			goto out;
	}
	r = sbuf_steal(&b, ret, ret_len);
out:
	explicit_bzero(chunk, sizeof(chunk)); /* may hold key material */
	if (b.data != NULL)
		explicit_bzero(b.data, b.len);
	sbuf_clear(&b);
	if (fd >= 0)
		close(fd);
	return r;
}
