/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * "export -o FILE": GET /v1/review/export saved byte for byte, for
 * "mynaguard-review verify" or an auditor.  The file appears only when the
 * whole export arrived: it is written to FILE.XXXXXX beside it and renamed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "review.h"

#define ERROR_BODY_MAX 65536u

static int
export_path(const struct rv_args *a, struct sbuf *u)
{
	int r = sbuf_puts(u, "/v1/review/export");

	if (r == 0 && a->terminal != NULL)
		r = rv_query_add(u, "terminal", a->terminal);
	if (r == 0 && a->since[0] != '\0')
		r = rv_query_add(u, "since", a->since);
	if (r == 0 && a->until[0] != '\0')
		r = rv_query_add(u, "until", a->until);
	return r;
}

static int
to_file(const struct rv_args *a, const char *path, struct sbuf *err)
{
	size_t n = strlen(a->output);
	char *tmp = malloc(n + 8);
	FILE *f = NULL;
	int fd = -1, code = RV_EXIT_USAGE;

	if (tmp == NULL)
		return RV_EXIT_USAGE;
	snprintf(tmp, n + 8, "%s.XXXXXX", a->output);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0 ||
	    (f = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, "mynaguard-review: %s: %s\n", a->output,
		    strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		free(tmp);
		return RV_EXIT_USAGE;
	}
	code = rv_get(&a->conn, path, err, f);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		if (code == RV_EXIT_OK)
			fprintf(stderr, "mynaguard-review: %s: %s\n", a->output,
			    strerror(errno));
		code = code == RV_EXIT_OK ? RV_EXIT_USAGE : code;
	}
	fclose(f);
	if (code == RV_EXIT_OK && rename(tmp, a->output) < 0) {
		fprintf(stderr, "mynaguard-review: %s: %s\n", a->output,
		    strerror(errno));
		code = RV_EXIT_USAGE;
	}
	if (code != RV_EXIT_OK)
		unlink(tmp);
	free(tmp);
	return code;
}

int
rv_cmd_export(const struct rv_args *a)
{
	struct sbuf u, err;
	int code;

	if (a->output == NULL) {
		fprintf(stderr,
		    "mynaguard-review: export needs -o FILE "
		    "(- for standard output)\n");
		return RV_EXIT_USAGE;
	}
	sbuf_init(&u, 8192);
	sbuf_init(&err, ERROR_BODY_MAX);
	if (export_path(a, &u) < 0)
		code = RV_EXIT_USAGE;
	else if (strcmp(a->output, "-") == 0) {
		code = rv_get(&a->conn, u.data, &err, stdout);
		if (fflush(stdout) != 0 && code == RV_EXIT_OK)
			code = RV_EXIT_USAGE;
	} else
		code = to_file(a, u.data, &err);
	sbuf_clear(&u);
	sbuf_clear(&err);
	return code;
}
