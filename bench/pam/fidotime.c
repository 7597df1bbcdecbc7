/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libpb-fidotime.so: where a PAM module's login time goes, call by call.
 * Preloaded before libsoftkey-preload.so in run.sh's profile pass, it
 * wraps the libfido2 calls both modules make (and fsync/fdatasync), hands
 * each to the next definition (the soft key's preload, then libfido2) and
 * adds up the wall time of the outermost ones.  pam_bench calls
 * pb_fidotime_report() around its measured rounds.  Benchmark code only.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <linux/magic.h>
#include <sys/vfs.h>

#include <fido.h>

enum call {
	C_MANIFEST, C_OPEN, C_OPEN_INFO, C_CLOSE, C_CBOR_INFO, C_RETRIES,
	C_ASSERT_NOPIN, C_ASSERT_PIN, C_VERIFY, C_FSYNC_DISK, C_FSYNC_TMPFS,
	C_FSYNC_KEY, C_COUNT
};

static const char *const names[C_COUNT] = {
	[C_MANIFEST] = "fido_dev_info_manifest",
	[C_OPEN] = "fido_dev_open",
	[C_OPEN_INFO] = "fido_dev_open_with_info",
	[C_CLOSE] = "fido_dev_close",
	[C_CBOR_INFO] = "fido_dev_get_cbor_info (GetInfo)",
	[C_RETRIES] = "fido_dev_get_retry_count",
	[C_ASSERT_NOPIN] = "fido_dev_get_assert, no PIN",
	[C_ASSERT_PIN] = "fido_dev_get_assert, PIN",
	[C_VERIFY] = "fido_assert_verify",
	[C_FSYNC_DISK] = "fsync by the module, not tmpfs",
	[C_FSYNC_TMPFS] = "fsync by the module, tmpfs",
	[C_FSYNC_KEY] = "fsync inside the soft key",
};

static struct {
	unsigned long n;
	double ms;
} tot[C_COUNT];
static int depth;		/* > 0 inside a wrapped call */

void pb_fidotime_report(const char *title, FILE *out, unsigned logins,
    double total_ms);

static double
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void *
next(const char *sym)
{
	void *p = dlsym(RTLD_NEXT, sym);

	if (p == NULL) {
		fprintf(stderr, "fidotime: no next %s\n", sym);
		_Exit(70);
	}
	return p;
}

/* Call the next sym (type T) with args as call c; time only the
 * outermost wrapped call. */
#define TIMED(c, T, sym, args) do {					\
	static T *fn_;							\
	double t0_;							\
	int r_;								\
	if (fn_ == NULL)						\
		*(void **)(void *)&fn_ = next(sym);			\
	if (depth++ > 0) {						\
		r_ = fn_ args;						\
		depth--;						\
		return r_;						\
	}								\
	t0_ = now_ms();							\
	r_ = fn_ args;							\
	tot[c].ms += now_ms() - t0_;					\
	tot[c].n++;							\
	depth--;							\
	return r_;							\
} while (0)

typedef int manifest_fn(fido_dev_info_t *, size_t, size_t *);
typedef int open_fn(fido_dev_t *, const char *);
typedef int dev_fn(fido_dev_t *);
typedef int info_fn(fido_dev_t *, fido_cbor_info_t *);
typedef int retries_fn(fido_dev_t *, int *);
typedef int assert_fn(fido_dev_t *, fido_assert_t *, const char *);
typedef int verify_fn(const fido_assert_t *, size_t, int, const void *);
typedef int fd_fn(int);

int
fido_dev_info_manifest(fido_dev_info_t *l, size_t max, size_t *n)
{
	TIMED(C_MANIFEST, manifest_fn, "fido_dev_info_manifest", (l, max, n));
}

int
fido_dev_open(fido_dev_t *d, const char *path)
{
	TIMED(C_OPEN, open_fn, "fido_dev_open", (d, path));
}

int
fido_dev_open_with_info(fido_dev_t *d)
{
	TIMED(C_OPEN_INFO, dev_fn, "fido_dev_open_with_info", (d));
}

int
fido_dev_close(fido_dev_t *d)
{
	TIMED(C_CLOSE, dev_fn, "fido_dev_close", (d));
}

int
fido_dev_get_cbor_info(fido_dev_t *d, fido_cbor_info_t *ci)
{
	TIMED(C_CBOR_INFO, info_fn, "fido_dev_get_cbor_info", (d, ci));
}

int
fido_dev_get_retry_count(fido_dev_t *d, int *r)
{
	TIMED(C_RETRIES, retries_fn, "fido_dev_get_retry_count", (d, r));
}

int
fido_dev_get_assert(fido_dev_t *d, fido_assert_t *a, const char *pin)
{
	if (pin == NULL)
		TIMED(C_ASSERT_NOPIN, assert_fn, "fido_dev_get_assert",
		    (d, a, pin));
	TIMED(C_ASSERT_PIN, assert_fn, "fido_dev_get_assert", (d, a, pin));
}

int
fido_assert_verify(const fido_assert_t *a, size_t i, int alg, const void *pk)
{
	TIMED(C_VERIFY, verify_fn, "fido_assert_verify", (a, i, alg, pk));
}

/* An fsync inside a fido call is the soft key saving its state file. */
static int
timed_sync(fd_fn **cache, const char *sym, int fd)
{
	enum call c = C_FSYNC_KEY;
	struct statfs sf;
	double t0;
	int r;

	if (depth == 0)
		c = fstatfs(fd, &sf) == 0 && sf.f_type == TMPFS_MAGIC ?
		    C_FSYNC_TMPFS : C_FSYNC_DISK;
	if (*cache == NULL)
		*(void **)(void *)cache = next(sym);
	t0 = now_ms();
	r = (*cache)(fd);
	tot[c].ms += now_ms() - t0;
	tot[c].n++;
	return r;
}

int
fsync(int fd)
{
	static fd_fn *fn;

	return timed_sync(&fn, "fsync", fd);
}

int
fdatasync(int fd)
{
	static fd_fn *fn;

	return timed_sync(&fn, "fdatasync", fd);
}

/* out NULL: start over.  Otherwise print calls and ms per login. */
__attribute__((visibility("default"))) void
pb_fidotime_report(const char *title, FILE *out, unsigned logins,
    double total_ms)
{
	double sum = 0;
	size_t i;

	if (out == NULL || logins == 0) {
		memset(tot, 0, sizeof(tot));
		return;
	}
	fprintf(out, "profile of %s: %.3f ms per login (mean of %u)\n", title,
	    total_ms / logins, logins);
	fprintf(out, "  %-36s %8s %10s\n", "call", "calls", "ms/login");
	for (i = 0; i < C_COUNT; i++) {
		if (tot[i].n == 0)
			continue;
		fprintf(out, "  %-36s %8.2f %10.3f\n", names[i],
		    (double)tot[i].n / logins, tot[i].ms / logins);
		if (i != C_FSYNC_KEY)	/* already inside a fido call */
			sum += tot[i].ms;
	}
	fprintf(out, "  %-36s %8s %10.3f\n", "everything else", "",
	    (total_ms - sum) / logins);
}
