/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The credentials file around the list: writing our format
 * (docs/credentials.md), reading it only when it can be trusted
 * (pam-u2f CVE-2019-12209, OpenSSH safe_path), replacing it atomically and
 * locking it for read-modify-write.  The parser is in cred.c, next to the
 * list it fills.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mynaguard/login.h"

/* ---- writing the format -------------------------------------------------- */

/* In the order cred.c's parser documents; "-" for none. */
static void
format_opts(unsigned opts, char buf[32])
{
	(void)snprintf(buf, 32, "%s%s%s%s",
	    (opts & PMOD_OPT_PRESENCE) ? "+presence" : "",
	    (opts & PMOD_OPT_PIN) ? "+pin" : "",
	    (opts & PMOD_OPT_UV) ? "+verification" : "",
	    (opts & PMOD_OPT_ALL) ? "" : "-");
}

static void
format_created(int64_t t, char buf[64])
{
	int64_t z = t / 86400 + 719468, era, doe, yoe, y, doy, mp, d, m;
	int64_t s = t % 86400;

	if (t == 0) {
		(void)snprintf(buf, 64, "-");
		return;
	}
	/* Inverse of days_from_civil() (H. Hinnant's algorithm). */
	era = z / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	(void)snprintf(buf, 64, "%04d-%02d-%02dT%02d:%02d:%02dZ",
	    (int)(y + (m <= 2)), (int)m, (int)d, (int)(s / 3600),
	    (int)(s / 60 % 60), (int)(s % 60));
}

static void
format_aaguid(const struct pmod_cred *cr, char buf[37])
{
	size_t k, o = 0;

	if (!cr->has_aaguid) {
		(void)snprintf(buf, 37, "-");
		return;
	}
	for (k = 0; k < 16; k++) {
		if (k == 4 || k == 6 || k == 8 || k == 10)
			buf[o++] = '-';
		(void)snprintf(buf + o, 37 - o, "%02x", cr->aaguid[k]);
		o += 2;
	}
}

static int
format_one(const struct pmod_cred *cr, struct sbuf *out)
{
	char opts[32], aaguid[37], created[64];
	int r;

	format_opts(cr->opts, opts);
	format_aaguid(cr, aaguid);
	format_created(cr->created, created);
	if ((r = sbuf_printf(out, "%s ", cr->user)) < 0 ||
	    (r = pmod_b64_encode(cr->id, cr->id_len, PMOD_B64_URL, out)) < 0 ||
	    (r = sbuf_printf(out, " %s ", pmod_alg_name(cr->alg))) < 0 ||
	    (r = pmod_b64_encode(cr->pubkey, cr->pubkey_len, PMOD_B64_URL,
	    out)) < 0)
		return r;
	return sbuf_printf(out, " %s %s %s %s%s%s\n", cr->rp_id, opts, aaguid,
	    created, cr->label[0] != '\0' ? " " : "", cr->label);
}

int
pmod_creds_format(const struct pmod_creds *c, struct sbuf *out)
{
	size_t i;
	int r;

	if (c == NULL || out == NULL)
		return -EINVAL;
	if ((r = sbuf_puts(out, PMOD_CREDS_HEADER "\n# user credential-id "
	    "algorithm public-key relying-party options aaguid created "
	    "label\n")) < 0)
		return r;
	for (i = 0; i < pmod_creds_count(c); i++)
		if ((r = format_one(pmod_creds_at(c, i), out)) < 0)
			return r;
	return 0;
}

/* ---- the file ------------------------------------------------------------ */

static int
derr(struct pmod_diag *diag, int r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A whole-file problem (line 0); returns r. */
static int
derr(struct pmod_diag *diag, int r, const char *fmt, ...)
{
	va_list ap;

	if (diag == NULL)
		return r;
	diag->line = 0;
	diag->col = 0;
	va_start(ap, fmt);
	(void)vsnprintf(diag->msg, sizeof(diag->msg), fmt, ap);
	va_end(ap);
	return r;
}

/* Every directory above path must be root's and not writable by others
 * (sticky directories such as /tmp excepted): otherwise whoever can write
 * there could replace or delete the file (OpenSSH safe_path). */
static int
check_dir(const char *dir, struct pmod_diag *diag)
{
	struct stat st;

	if (stat(dir, &st) < 0)
		return derr(diag, -errno, "cannot stat directory %s", dir);
	if (st.st_uid != 0)
		return derr(diag, -EACCES, "directory %s is owned by uid %u, "
		    "not root", dir, (unsigned)st.st_uid);
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
		return derr(diag, -EACCES, "directory %s is writable by group "
		    "or others", dir);
	return 0;
}

/* Every directory above path must be root's and not writable by others
 * (sticky directories such as /tmp excepted): otherwise whoever can write
 * there could replace or delete the file (OpenSSH safe_path). */
static int
check_dirs(const char *path, struct pmod_diag *diag)
{
	size_t len = strlen(path);
	char *buf, *slash;
	int r = 0;

	if ((buf = malloc(len + 1)) == NULL)
		return -ENOMEM;
	memcpy(buf, path, len + 1);
	while (r == 0 && (slash = strrchr(buf, '/')) != NULL) {
		slash[slash == buf] = '\0';	/* keep "/" itself */
		r = check_dir(buf, diag);
		if (slash == buf)
			break;
	}
	free(buf);
	return r;
}

static int
check_file(int fd, struct pmod_diag *diag)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return derr(diag, -errno, "cannot stat the file");
	if (!S_ISREG(st.st_mode))
		return derr(diag, -EACCES, "not a regular file");
	if (st.st_uid != 0)
		return derr(diag, -EACCES, "owned by uid %u, not root",
		    (unsigned)st.st_uid);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return derr(diag, -EACCES, "writable by group or others "
		    "(mode %04o)", (unsigned)(st.st_mode & 07777));
	if ((uint64_t)st.st_size > PMOD_CRED_FILE_MAX)
		return derr(diag, -E2BIG, "larger than %u bytes",
		    PMOD_CRED_FILE_MAX);
	return 0;
}

static int
read_all(int fd, struct sbuf *b)
{
	char chunk[2048];
	ssize_t n;
	int r;

	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		if ((r = sbuf_put(b, chunk, (size_t)n)) < 0)
			return r;
	}
}

int
pmod_creds_load(const char *path, struct pmod_creds **ret,
    struct pmod_diag *diag)
{
	struct sbuf b;
	int fd = -1, r;

	if (path == NULL || ret == NULL)
		return -EINVAL;
	if (diag != NULL)
		memset(diag, 0, sizeof(*diag));
	sbuf_init(&b, PMOD_CRED_FILE_MAX);
	if (path[0] != '/')
		return derr(diag, -EINVAL, "the path must be absolute");
	if ((r = check_dirs(path, diag)) < 0)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY |
	    O_NONBLOCK);
	if (fd < 0 && errno == ELOOP)
		return derr(diag, -EACCES, "is a symbolic link");
	if (fd < 0)
		return derr(diag, -errno, "cannot open: %s",
		    strerrordesc_np(errno));
	if ((r = check_file(fd, diag)) < 0)
		goto out;
	if ((r = read_all(fd, &b)) == -E2BIG)
		r = derr(diag, r, "larger than %u bytes", PMOD_CRED_FILE_MAX);
	if (r < 0)
		goto out;
	r = pmod_creds_parse(b.data, b.len, ret, diag);
out:
	sbuf_clear(&b);
	close(fd);
	return r;
}

static int
write_all(int fd, const char *data, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The directory holding path, opened to fsync it after the rename. */
static int
open_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash != path ? (size_t)(slash - path) : 1;
	char *dir;
	int fd;

	if ((dir = malloc(n + 1)) == NULL)
		return -ENOMEM;
	memcpy(dir, path, n);
	dir[n] = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		fd = -errno;
	free(dir);
	return fd;
}

static int
write_tmp(int fd, const char *data, size_t len)
{
	int r;

	if (fchmod(fd, 0600) < 0)
		return -errno;
	if ((r = write_all(fd, data, len)) < 0)
		return r;
	return fsync(fd) < 0 ? -errno : 0;
}

/* Write data to the absolute path through a temporary file in the same
 * directory: a reader sees the old file or the new one, never half of
 * one.  Everything that can fail for want of memory happens before the
 * rename. */
static int
replace_file(const char *path, const char *data, size_t len)
{
	const char *base = strrchr(path, '/') + 1;
	char *tmp = NULL;
	int fd = -1, dfd, r;

	if ((dfd = open_dir_of(path)) < 0)
		return dfd;
	if (asprintf(&tmp, "%.*s.%s.XXXXXX", (int)(base - path), path,
	    base) < 0) {
		tmp = NULL;
		r = -ENOMEM;
		goto out;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		r = -errno;
		goto out;
	}
	r = write_tmp(fd, data, len);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		(void)unlink(tmp);
	else if (fsync(dfd) < 0)
		r = -errno;	/* replaced, but maybe not yet on disk */
out:
	free(tmp);
	close(dfd);
	return r;
}

int
pmod_creds_save(const char *path, const struct pmod_creds *c)
{
	struct sbuf b;
	int r;

	if (path == NULL || c == NULL || path[0] != '/' ||
	    path[strlen(path) - 1] == '/')
		return -EINVAL;
	sbuf_init(&b, PMOD_CRED_FILE_MAX);
	if ((r = pmod_creds_format(c, &b)) == 0)
		r = replace_file(path, b.data, b.len);
	sbuf_clear(&b);
	return r;
}

int
pmod_creds_lock(const char *path)
{
	char *lock = NULL;
	int fd, r;

	if (path == NULL || path[0] != '/')
		return -EINVAL;
	if (asprintf(&lock, "%s.lock", path) < 0)
		return -ENOMEM;
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
	    0600);
	r = fd < 0 ? -errno : 0;
	free(lock);
	if (r < 0)
		return r;
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			r = -errno;
			close(fd);
			return r;
		}
	}
	return fd;
}
