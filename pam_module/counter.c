/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Signature counters (WebAuthn §6.1.1): the last counter each credential
 * signed with, so that a cloned authenticator shows up as a counter that
 * does not grow.  libfido2 does not check it (fido_assert_verify() ignores
 * sigcount), the PAM module does, with these files: one per credential,
 * named by the id hash, holding the value in decimal and a newline.
 *
 * The value is written as 10 digits, so an update is one 11-byte pwrite()
 * at offset 0 of the existing file, without fsync: it sits in one disk
 * sector, so after a crash the file holds the old value or the new one,
 * never a mix.  What a crash can lose is the last few seconds of updates;
 * the counter then goes back a little and a clone could pass with a value
 * in between, once.  That costs far less than the 1.3 ms of two fsyncs a
 * login (bench/pam/README.md) and leaves the clone check intact in normal
 * operation.  The first value of a credential is created durably (temporary
 * file, fsync, rename, fsync of the directory).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mynaguard/login.h"

#define COUNTER_FILE_MAX 16u	/* "4294967295\n" */
#define COUNTER_REC_LEN 11	/* "%010u\n" */

static int
counter_path(const char *dir, const char *id_hash, const char *prefix,
    const char *suffix, char **ret)
{
	char *p;
	size_t i;

	if (dir == NULL || dir[0] != '/' || id_hash == NULL)
		return -EINVAL;
	for (i = 0; i < 64; i++)
		if (!((id_hash[i] >= '0' && id_hash[i] <= '9') ||
		    (id_hash[i] >= 'a' && id_hash[i] <= 'f')))
			return -EINVAL;
	if (id_hash[64] != '\0')
		return -EINVAL;
	if (asprintf(&p, "%s/%s%s%s", dir, prefix, id_hash, suffix) < 0)
		return -ENOMEM;	/* p is undefined */
	*ret = p;
	return 0;
}

/* Root's (or ours, when the module runs unprivileged), not writable by
 * others: a lowered counter would hide a clone. */
static int
check_counter_file(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || (st.st_uid != 0 &&
	    st.st_uid != geteuid()) || (st.st_mode & (S_IWGRP | S_IWOTH)))
		return -EACCES;
	return st.st_size > (off_t)COUNTER_FILE_MAX ? -EBADMSG : 0;
}

static int
read_counter(int fd, uint32_t *ret)
{
	char buf[COUNTER_FILE_MAX + 1];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf) - 1)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return -errno;
	if (n < 2 || buf[n - 1] != '\n')
		return -EBADMSG;
	buf[n - 1] = '\0';
	return parse_u32(buf, 0, UINT32_MAX, ret) < 0 ? -EBADMSG : 0;
}

int
pmod_counter_get(const char *dir, const char id_hash[65], uint32_t *ret)
{
	char *path = NULL;
	uint32_t v = 0;
	int fd, r;

	if (ret == NULL)
		return -EINVAL;
	if ((r = counter_path(dir, id_hash, "", "", &path)) < 0)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY |
	    O_NONBLOCK);
	r = fd < 0 ? (errno == ELOOP ? -EACCES : -errno) : 0;
	free(path);
	if (r < 0)
		return r;
	if ((r = check_counter_file(fd)) == 0 && (r = read_counter(fd, &v)) == 0)
		*ret = v;
	close(fd);
	return r;
}

static int
write_tmp(int fd, uint32_t value)
{
	char buf[COUNTER_FILE_MAX];
	int n = snprintf(buf, sizeof(buf), "%010u\n", value);
	ssize_t k;

	while ((k = write(fd, buf, (size_t)n)) < 0 && errno == EINTR)
		;
	if (k < 0)
		return -errno;
	if (k != n)
		return -EIO;
	return fsync(fd) < 0 ? -errno : 0;
}

static int
sync_dir(const char *dir)
{
	int fd, r = 0;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* The update of an existing file: 1 when there is none yet. */
static int
update_in_place(const char *path, uint32_t value)
{
	char buf[COUNTER_FILE_MAX];
	struct stat st;
	ssize_t k;
	int fd, r;

	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY |
	    O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? 1 : errno == ELOOP ? -EACCES : -errno;
	if ((r = check_counter_file(fd)) < 0)
		goto out;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	(void)snprintf(buf, sizeof(buf), "%010u\n", value);
	while ((k = pwrite(fd, buf, COUNTER_REC_LEN, 0)) < 0 && errno == EINTR)
		;
	if (k != COUNTER_REC_LEN)
		r = k < 0 ? -errno : -EIO;
	else if (st.st_size != COUNTER_REC_LEN &&
	    ftruncate(fd, COUNTER_REC_LEN) < 0)	/* an older, shorter form */
		r = -errno;
out:
	close(fd);
	return r;
}

int
pmod_counter_set(const char *dir, const char id_hash[65], uint32_t value)
{
	char *path = NULL, *tmp = NULL;
	int fd = -1, r;

	if ((r = counter_path(dir, id_hash, "", "", &path)) < 0)
		goto out;
	if ((r = update_in_place(path, value)) <= 0)
		goto out;
	if ((r = counter_path(dir, id_hash, ".", ".XXXXXX", &tmp)) < 0)
		goto out;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		goto out;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		r = -errno;
		goto out;
	}
	r = write_tmp(fd, value);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		(void)unlink(tmp);
	else
		r = sync_dir(dir);
out:
	free(tmp);
	free(path);
	return r;
}
