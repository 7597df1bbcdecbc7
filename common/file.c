/* SPDX-License-Identifier: BSD-2-Clause */
/* Read a whole file, checking what it is before trusting its bytes
 * (pam-u2f open_safely, OpenSSH safe_path). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mynaguard/common.h"

static int
read_fd(int fd, size_t max, char **ret, size_t *ret_len)
{
	struct sbuf b;
	char chunk[2048];
	ssize_t n;
	int r;

	sbuf_init(&b, max);
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
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
	sbuf_clear(&b);
	return r;
}

static int
check_stat(int fd, size_t max, unsigned flags)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size > (uint64_t)max)
		return -E2BIG;
	if ((flags & FILE_TRUSTED) &&
	    (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))))
		return -EPERM;
	return 0;
}

int
file_read_all(const char *path, size_t max, unsigned flags, char **ret,
    size_t *ret_len)
{
	int fd = -1, oflags = O_RDONLY | O_CLOEXEC | O_NOCTTY;
	int r;

	if (path == NULL || ret == NULL || ret_len == NULL)
		return -EINVAL;
	if (strcmp(path, "-") == 0) {
		if (flags & FILE_TRUSTED)
			return -EPERM;
		return read_fd(STDIN_FILENO, max, ret, ret_len);
	}
	if (flags & FILE_TRUSTED) {
		if (path[0] != '/')
			return -EPERM;
		oflags |= O_NOFOLLOW;
	}
	/* O_NONBLOCK so that opening a FIFO cannot hang us before fstat. */
	fd = open(path, oflags | O_NONBLOCK);
	if (fd < 0)
		return errno == ELOOP ? -EPERM : -errno;
	if ((r = check_stat(fd, max, flags)) < 0)
		goto out;
	r = read_fd(fd, max, ret, ret_len);
out:
	close(fd);
	return r;
}
