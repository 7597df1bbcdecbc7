/* SPDX-License-Identifier: BSD-2-Clause */

/*
 * Plain main() for fuzz harnesses: feeds every file named on the command
 * line (directories are walked recursively) to LLVMFuzzerTestOneInput(),
 * so the corpus is replayed under ctest in every build, sanitized or not,
 * without libFuzzer (systemd -Dfuzz-tests=true).
 */

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Larger inputs are a corpus mistake, not something to fuzz with. */
#define REPLAY_MAX_SIZE (1024 * 1024)
/* Deep enough for any corpus, shallow enough to stop a symlink loop. */
#define REPLAY_MAX_DEPTH 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_path(const char *path, unsigned depth, unsigned long *count);

static int
read_all(int fd, uint8_t *buf, size_t size)
{
	size_t done = 0;
	ssize_t n;

	while (done < size) {
		n = read(fd, buf + done, size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* file shrank under us */
		done += (size_t)n;
	}
	return 0;
}

static int
replay_file(const char *path, int fd, const struct stat *st)
{
	uint8_t *buf = NULL;
	size_t size;
	int r;

	if (st->st_size < 0 || st->st_size > REPLAY_MAX_SIZE) {
		fprintf(stderr, "%s: larger than %d bytes\n", path,
		    REPLAY_MAX_SIZE);
		return -E2BIG;
	}
	size = (size_t)st->st_size;
	/* malloc(0) may return NULL; libFuzzer never passes NULL either. */
	buf = malloc(size > 0 ? size : 1);
	if (buf == NULL) {
		r = -ENOMEM;
		goto out;
	}
	r = read_all(fd, buf, size);
	if (r < 0) {
		fprintf(stderr, "%s: read: %s\n", path, strerror(-r));
		goto out;
	}
	/* The return value is reserved by libFuzzer; it carries no verdict. */
	(void)LLVMFuzzerTestOneInput(buf, size);
	r = 0;
out:
	free(buf);
	return r;
}

static int
replay_dir(const char *path, unsigned depth, unsigned long *count)
{
	struct dirent **names = NULL;
	char *child = NULL;
	int i, n, r = 0;

	/* Sorted, so a failing input is found at the same place each run. */
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0) {
		r = -errno;
		fprintf(stderr, "%s: scandir: %s\n", path, strerror(-r));
		return r;
	}
	for (i = 0; i < n && r == 0; i++) {
		if (strcmp(names[i]->d_name, ".") == 0 ||
		    strcmp(names[i]->d_name, "..") == 0)
			continue;
		if (asprintf(&child, "%s/%s", path, names[i]->d_name) < 0) {
			child = NULL;
			r = -ENOMEM;
			break;
		}
		r = replay_path(child, depth + 1, count);
		free(child);
		child = NULL;
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

static int
replay_path(const char *path, unsigned depth, unsigned long *count)
{
	struct stat st;
	int fd = -1;
	int r;

	if (depth > REPLAY_MAX_DEPTH) {
		fprintf(stderr, "%s: nested too deeply\n", path);
		return -ELOOP;
	}
	/* O_NONBLOCK: a FIFO must be rejected below, not block the open. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		fprintf(stderr, "%s: open: %s\n", path, strerror(-r));
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		fprintf(stderr, "%s: fstat: %s\n", path, strerror(-r));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		r = replay_dir(path, depth, count);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "%s: not a regular file\n", path);
		r = -EINVAL;
		goto out;
	}
	r = replay_file(path, fd, &st);
	if (r == 0)
		(*count)++;
out:
	if (fd >= 0 && close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

int
main(int argc, char **argv)
{
	unsigned long count = 0;
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return EXIT_FAILURE;
	}
	for (i = 1; i < argc; i++) {
		if (replay_path(argv[i], 0, &count) < 0)
			return EXIT_FAILURE;
	}
	if (printf("replayed %lu inputs\n", count) < 0 || fflush(stdout) != 0)
		return EXIT_FAILURE;
	/* A harness with no seeds tests nothing: say so instead of passing. */
	if (count == 0) {
		fprintf(stderr, "no inputs found\n");
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}
