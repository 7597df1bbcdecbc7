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

/* size_hint > 0: allocate once (FILE_SECRET), so no copy of the bytes
 * is left behind by a growing buffer. */
static int
read_fd(int fd, size_t max, size_t size_hint, char **ret, size_t *ret_len)
{
	struct sbuf b;
	char chunk[2048];
	ssize_t n;
	int r;

	sbuf_init(&b, size_hint > 0 ? size_hint : max);
	if (size_hint > 0 && (r = sbuf_reserve(&b, size_hint)) < 0)
		goto out;
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
	explicit_bzero(chunk, sizeof(chunk));
	if (b.data != NULL)
		explicit_bzero(b.data, b.len);
	sbuf_clear(&b);
	return r;
}

static int
check_stat(int fd, size_t max, unsigned flags, size_t *ret_size)
{
	struct stat st;
	bool owner_ok;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size > (uint64_t)max)
		return -E2BIG;
	owner_ok = st.st_uid == 0 ||
	    ((flags & FILE_OWNER_SELF) && st.st_uid == geteuid());
	if ((flags & FILE_TRUSTED) &&
	    (!owner_ok || (st.st_mode & (S_IWGRP | S_IWOTH))))
		return -EPERM;
	*ret_size = (size_t)st.st_size;
	return 0;
}

int
file_read_all(const char *path, size_t max, unsigned flags, char **ret,
    size_t *ret_len)
{
	int fd = -1, oflags = O_RDONLY | O_CLOEXEC | O_NOCTTY;
	size_t size = 0;
	int r;

	if (path == NULL || ret == NULL || ret_len == NULL)
		return -EINVAL;
	if (strcmp(path, "-") == 0) {
		if (flags & FILE_TRUSTED)
			return -EPERM;
		return read_fd(STDIN_FILENO, max, 0, ret, ret_len);
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
	if ((r = check_stat(fd, max, flags, &size)) < 0)
		goto out;
	r = read_fd(fd, max, (flags & FILE_SECRET) ? size + 1 : 0, ret, ret_len);
out:
	close(fd);
	return r;
}
