/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The lockout tally, in pam_faillock's files (Linux-PAM 1.5.2
 * modules/pam_faillock/faillock.h and faillock.c): one file per user in
 * the tally directory, an array of 64-byte records in host byte order,
 * locked with flock(2) on the file itself.  Sharing the format means
 * `faillock --user X` shows our failures, `faillock --user X --reset`
 * (the administrator's unlock) clears them, and failures recorded by
 * pam_faillock itself (a wrong password, with `pam_faillock.so authfail`)
 * count towards our lock too.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mynaguard/login.h"

/* faillock.h */
struct tally_rec {
	char source[52];	/* rhost, tty or service; not NUL-terminated
				 * when 52 bytes long */
	uint16_t reserved;
	uint16_t status;
	uint64_t time;
};

_Static_assert(sizeof(struct tally_rec) == 64, "faillock.h: 64 bytes");
_Static_assert(offsetof(struct tally_rec, status) == 54, "faillock.h");
_Static_assert(offsetof(struct tally_rec, time) == 56, "faillock.h");

#define TALLY_STATUS_VALID 0x1
#define TALLY_STATUS_RHOST 0x2
#define TALLY_STATUS_TTY 0x4

/* Never read more than this many records, whoever wrote the file. */
#define TALLY_READ_MAX 4096u

/* No '/', not "." or "..", no control characters, at most 256 bytes: the
 * name becomes a file name in dir, so check before building any path. */
static bool
user_ok(const char *user)
{
	size_t i, len;

	if (user == NULL)
		return false;
	len = strnlen(user, PMOD_USER_MAX + 1);
	if (len == 0 || len > PMOD_USER_MAX || strcmp(user, ".") == 0 ||
	    strcmp(user, "..") == 0)
		return false;
	for (i = 0; i < len; i++)
		if (user[i] == '/' || (unsigned char)user[i] < 0x20 ||
		    user[i] == 0x7f)
			return false;
	return true;
}

static int
tally_path(const char *dir, const char *user, char **ret)
{
	char *p;
	size_t dlen;

	if (dir == NULL || dir[0] != '/' || !user_ok(user))
		return -EINVAL;
	dlen = strlen(dir);
	if (asprintf(&p, "%s%s%s", dir, dir[dlen - 1] == '/' ? "" : "/",
	    user) < 0)
		return -ENOMEM;	/* p is undefined */
	*ret = p;
	return 0;
}

/* Open and lock the tally: shared to read, exclusive (and created) to
 * write, as pam_faillock's open_tally() does. */
static int
open_tally(const char *path, bool write, int *ret_fd)
{
	struct stat st;
	int fd, r;

	fd = open(path, (write ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC |
	    O_NOFOLLOW | O_NOCTTY | O_NONBLOCK, 0600);
	if (fd < 0)
		return -errno;
	while ((r = flock(fd, write ? LOCK_EX : LOCK_SH)) < 0 &&
	    errno == EINTR)
		;
	if (r < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	*ret_fd = fd;
	return 0;
}

/* Every whole record (a torn last one is ignored, as pam_faillock does). */
static int
read_records(int fd, struct tally_rec **ret, size_t *ret_n)
{
	struct tally_rec *v;
	struct stat st;
	size_t n, done = 0;
	ssize_t k;

	if (fstat(fd, &st) < 0)
		return -errno;
	n = (size_t)st.st_size / sizeof(*v);
	if (n > TALLY_READ_MAX)
		n = TALLY_READ_MAX;
	/* One spare record for pmod_tally_record(). */
	if ((v = calloc(n + 1, sizeof(*v))) == NULL)
		return -ENOMEM;
	while (done < n * sizeof(*v)) {
		k = pread(fd, (char *)v + done, n * sizeof(*v) - done,
		    (off_t)done);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		done += (size_t)k;
	}
	*ret = v;
	*ret_n = done / sizeof(*v);
	return 0;
}

static int
load(const char *dir, const char *user, struct tally_rec **ret,
    size_t *ret_n)
{
	char *path = NULL;
	int fd = -1, r;

	if ((r = tally_path(dir, user, &path)) < 0)
		return r;
	r = open_tally(path, false, &fd);
	free(path);
	if (r == -ENOENT) {
		*ret = NULL;
		*ret_n = 0;
		return 0;
	}
	if (r < 0)
		return r;
	r = read_records(fd, ret, ret_n);
	close(fd);
	return r;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : (x > y);
}

static uint64_t
add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* The semantics documented at pmod_tally_state(), on sorted times. */
static void
compute(const uint64_t *t, size_t n, unsigned threshold, uint32_t unlock,
    uint64_t now, struct pmod_lock_state *st)
{
	uint64_t until = 0;
	unsigned count = 0;
	bool locked = false;
	size_t i;

	for (i = 0; i < n; i++) {
		if (locked && unlock != 0 && t[i] >= until) {
			locked = false;		/* expired before t[i] */
			count = 0;
		}
		count++;
		if (!locked && threshold != 0 && count >= threshold) {
			locked = true;
			until = add_sat(t[i], unlock);
		}
	}
	if (locked && unlock != 0 && now >= until) {
		locked = false;
		count = 0;
	}
	st->failures = count;
	st->locked = locked;
	st->locked_until = locked && unlock != 0 ? until : 0;
	st->last_failure = n > 0 ? t[n - 1] : 0;
}

int
pmod_tally_state(const char *dir, const char *user, unsigned threshold,
    uint32_t unlock_after_s, uint64_t now, struct pmod_lock_state *ret)
{
	struct tally_rec *v = NULL;
	uint64_t *t = NULL;
	size_t n = 0, i, k = 0;
	int r;

	if (ret == NULL)
		return -EINVAL;
	if ((r = load(dir, user, &v, &n)) < 0)
		return r;
	if ((t = calloc(n + 1, sizeof(*t))) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++)
		if ((v[i].status & TALLY_STATUS_VALID) &&
		    v[i].time <= add_sat(now, PMOD_TALLY_FUTURE_S))
			t[k++] = v[i].time;
	qsort(t, k, sizeof(*t), cmp_u64);
	compute(t, k, threshold, unlock_after_s, now, ret);
	r = 0;
out:
	free(t);
	free(v);
	return r;
}

static int
write_records(int fd, const struct tally_rec *v, size_t n)
{
	size_t done = 0, len = n * sizeof(*v);
	ssize_t k;

	while (done < len) {
		k = pwrite(fd, (const char *)v + done, len - done,
		    (off_t)done);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		done += (size_t)k;
	}
	return ftruncate(fd, (off_t)len) < 0 ? -errno : 0;
}

/* Drop the oldest records until at most PMOD_TALLY_RECORDS_MAX remain. */
static void
cap_records(struct tally_rec *v, size_t *n)
{
	size_t i, old;

	while (*n > PMOD_TALLY_RECORDS_MAX) {
		for (old = 0, i = 1; i < *n; i++)
			if (v[i].time < v[old].time)
				old = i;
		memmove(v + old, v + old + 1, (*n - old - 1) * sizeof(*v));
		(*n)--;
	}
}

int
pmod_tally_record(const char *dir, const char *user, const char *source,
    int source_kind, uint64_t now)
{
	static const uint16_t kinds[] = { 0, TALLY_STATUS_TTY,
		TALLY_STATUS_RHOST };
	struct tally_rec *v = NULL, *rec;
	char *path = NULL;
	size_t n = 0;
	int fd = -1, r;

	if (source_kind < 0 || source_kind > PMOD_TALLY_SOURCE_RHOST)
		return -EINVAL;
	if ((r = tally_path(dir, user, &path)) < 0)
		return r;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		r = -errno;
		goto out;
	}
	if ((r = open_tally(path, true, &fd)) < 0 ||
	    (r = read_records(fd, &v, &n)) < 0)
		goto out;
	rec = &v[n++];		/* read_records() left room for one */
	memset(rec, 0, sizeof(*rec));
	if (source != NULL)
		memcpy(rec->source, source, strnlen(source,
		    sizeof(rec->source)));
	rec->status = (uint16_t)(TALLY_STATUS_VALID | kinds[source_kind]);
	rec->time = now;
	cap_records(v, &n);
	r = write_records(fd, v, n);
out:
	if (fd >= 0)
		close(fd);
	free(v);
	free(path);
	return r;
}

int
pmod_tally_reset(const char *dir, const char *user)
{
	char *path = NULL;
	int fd = -1, r;

	if ((r = tally_path(dir, user, &path)) < 0)
		return r;
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY |
	    O_NONBLOCK);
	r = fd < 0 ? -errno : 0;
	free(path);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	while ((r = flock(fd, LOCK_EX)) < 0 && errno == EINTR)
		;
	if (r == 0)
		r = ftruncate(fd, 0);
	r = r < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* Source as printable text: it may come from a remote client (rhost). */
static void
copy_source(char out[53], const char *src)
{
	size_t len = strnlen(src, 52), i, k;

	memcpy(out, src, len);
	out[len] = '\0';
	for (i = 0; i < len; i += k) {
		k = utf8_seqlen(out + i, len - i);
		if (k == 0 || (unsigned char)out[i] < 0x20 ||
		    out[i] == 0x7f) {
			out[i] = '?';
			k = 1;
		}
	}
}

static int
cmp_entry(const void *a, const void *b)
{
	const struct pmod_tally_entry *x = a, *y = b;

	return x->time < y->time ? -1 : (x->time > y->time);
}

int
pmod_tally_list(const char *dir, const char *user,
    struct pmod_tally_entry **ret, size_t *ret_n)
{
	struct tally_rec *v = NULL;
	struct pmod_tally_entry *e = NULL;
	size_t n = 0, i;
	int r;

	if (ret == NULL || ret_n == NULL)
		return -EINVAL;
	if ((r = load(dir, user, &v, &n)) < 0)
		return r;
	if (n > 0 && (e = calloc(n, sizeof(*e))) == NULL) {
		free(v);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		e[i].time = v[i].time;
		e[i].valid = (v[i].status & TALLY_STATUS_VALID) != 0;
		e[i].source_kind = (v[i].status & TALLY_STATUS_RHOST) ?
		    PMOD_TALLY_SOURCE_RHOST : (v[i].status & TALLY_STATUS_TTY) ?
		    PMOD_TALLY_SOURCE_TTY : PMOD_TALLY_SOURCE_SERVICE;
		copy_source(e[i].source, v[i].source);
	}
	/* qsort is not stable; the order of equal times does not matter. */
	if (n > 1)
		qsort(e, n, sizeof(*e), cmp_entry);
	free(v);
	*ret = e;
	*ret_n = n;
	return 0;
}
