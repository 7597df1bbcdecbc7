/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The state file: "key=value" lines, '#' comments.  Reads and writes hold
 * flock(LOCK_EX) on "<path>.lock" (not on the file itself: the atomic
 * rename puts a new inode at path, and a lock on the old inode would not
 * exclude anybody).  A write goes to a temporary file in the same
 * directory, is fsync'ed and renamed over path.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include <mynaguard/common.h>

#include "softkey_int.h"

#define STATE_MAX 4096
#define PIN_MAX_BYTES 63 /* CTAP 2.0 §5.5.5: a padded PIN fits in 64 */
#define PIN_MIN_POINTS 4

enum key_type {
	K_BOOL,
	K_U32
};

struct knob {
	const char *name;
	size_t off;
	enum key_type type;
};

#define KNOB(n, t)                                        \
	{                                                 \
#n, offsetof(struct softkey_faults, n), t \
	}
static const struct knob knobs[] = {
	KNOB(no_touch, K_BOOL),
	KNOB(touch_delay_ms, K_U32),
	KNOB(drop_up, K_BOOL),
	KNOB(drop_uv, K_BOOL),
	KNOB(bad_sig, K_BOOL),
	KNOB(bad_rpid, K_BOOL),
	KNOB(counter_freeze, K_BOOL),
	KNOB(remove_after, K_U32),
	KNOB(pin_proto2, K_BOOL),
	KNOB(basic_attestation, K_BOOL),
};

static const struct knob *
find_knob(const char *name)
{
	for (size_t i = 0; i < MG_ELEMENTSOF(knobs); i++)
		if (strcmp(knobs[i].name, name) == 0)
			return &knobs[i];
	return NULL;
}

static int
hex_decode(const char *s, uint8_t *out, size_t len)
{
	int hi, lo;

	if (strlen(s) != 2 * len)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if ((hi = parse_hexdigit(s[2 * i])) < 0 ||
		    (lo = parse_hexdigit(s[2 * i + 1])) < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int
hex_put(struct sbuf *b, const uint8_t *p, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	int r = 0;

	for (size_t i = 0; i < len && r == 0; i++)
		if ((r = sbuf_putc(b, digits[p[i] >> 4])) == 0)
			r = sbuf_putc(b, digits[p[i] & 0xf]);
	return r;
}

int
sk_state_hash_pin(const char *pin, size_t len, uint8_t out[SK_PINHASH_LEN])
{
	uint8_t h[32];
	int r;

	if ((r = sk_sha256(pin, len, NULL, 0, h)) == 0)
		memcpy(out, h, SK_PINHASH_LEN); /* LEFT(SHA-256(pin), 16) */
	OPENSSL_cleanse(h, sizeof(h));
	return r;
}

static int
set_knob(struct softkey_faults *f, const struct knob *k, const char *v)
{
	uint32_t n;

	if (parse_u32(v, 0, k->type == K_BOOL ? 1 : UINT32_MAX, &n) < 0)
		return -EINVAL;
	if (k->type == K_BOOL)
		*(bool *)((char *)f + k->off) = n != 0;
	else
		*(uint32_t *)((char *)f + k->off) = n;
	return 0;
}

/* One key of the file into st; pin_hash and secret are file-only keys. */
static int
parse_kv(struct softkey *st, const char *key, const char *v)
{
	const struct knob *k;

	if (strcmp(key, "version") == 0)
		return strcmp(v, "1") == 0 ? 0 : -EINVAL;
	if (strcmp(key, "aaguid") == 0)
		return hex_decode(v, st->aaguid, sizeof(st->aaguid));
	if (strcmp(key, "secret") == 0)
		return hex_decode(v, st->secret, sizeof(st->secret));
	if (strcmp(key, "counter") == 0)
		return parse_u32(v, 0, UINT32_MAX, &st->counter) < 0 ? -EINVAL :
								       0;
	if (strcmp(key, "retries") == 0)
		return parse_u32(v, 0, SOFTKEY_PIN_RETRIES, &st->retries) < 0 ?
		    -EINVAL :
		    0;
	if (strcmp(key, "pin_hash") == 0) {
		st->pin_set = v[0] != '\0';
		return st->pin_set ?
		    hex_decode(v, st->pin_hash, sizeof(st->pin_hash)) :
		    0;
	}
	if ((k = find_knob(key)) != NULL)
		return set_knob(&st->faults, k, v);
	return -ENOENT;
}

static int
parse_text(struct softkey *st, char *text, unsigned *ret_line)
{
	char *line, *eq, *seen = NULL;
	size_t nseen = 0;
	unsigned lineno = 0;
	uint32_t counter_set = 0;
	int r = 0;
	bool have_secret = false, have_set = false;

	if ((seen = calloc(1, strlen(text) + 1)) == NULL)
		return -ENOMEM;
	while (r == 0 && (line = strsep(&text, "\n")) != NULL) {
		lineno++;
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if ((eq = strchr(line, '=')) == NULL || eq == line) {
			r = -EBADMSG;
			break;
		}
		*eq = '\0';
		/* duplicate keys: a NUL-separated list of those seen */
		for (size_t i = 0; i < nseen; i += strlen(seen + i) + 1)
			if (strcmp(seen + i, line) == 0)
				r = -EBADMSG;
		memcpy(seen + nseen, line, (size_t)(eq - line) + 1);
		nseen += (size_t)(eq - line) + 1;
		have_secret |= strcmp(line, "secret") == 0;
		if (strcmp(line, "counter_set") == 0) {
			/* one-shot: wins over counter, not written back */
			have_set = true;
			if (parse_u32(eq + 1, 0, UINT32_MAX, &counter_set) < 0)
				r = -EBADMSG;
		} else if (r == 0 && parse_kv(st, line, eq + 1) < 0) {
			r = -EBADMSG;
		}
	}
	if (have_set)
		st->counter = counter_set;
	if (r == 0 && !have_secret) {
		r = -EBADMSG;
		lineno = 0;
	}
	if (r < 0 && ret_line != NULL)
		*ret_line = lineno;
	free(seen);
	return r;
}

/* malloc'ed path + suffix, or NULL. */
static char *
path_plus(const char *path, const char *suffix)
{
	size_t a = strlen(path), b = strlen(suffix);
	char *p;

	if (a + b >= PATH_MAX || (p = malloc(a + b + 1)) == NULL)
		return NULL;
	memcpy(p, path, a);
	memcpy(p + a, suffix, b + 1);
	return p;
}

static int
lock_path(const char *path, int *ret_fd)
{
	char *lp;
	int fd, r;

	if ((lp = path_plus(path, ".lock")) == NULL)
		return -ENAMETOOLONG;
	fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	r = -errno;
	free(lp);
	if (fd < 0)
		return r;
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			r = -errno;
			close(fd);
			return r;
		}
	}
	*ret_fd = fd;
	return 0;
}

/* Read path into the persistent fields of sk (the lock is held). */
static int
read_state(struct softkey *sk, const char *path, unsigned *ret_line)
{
	struct softkey st;
	char *text = NULL;
	size_t len = 0;
	int r;

	memset(&st, 0, sizeof(st));
	if ((r = file_read_all(path, STATE_MAX, FILE_SECRET, &text, &len)) < 0)
		return r;
	if (memchr(text, '\0', len) != NULL)
		r = -EBADMSG;
	else
		r = parse_text(&st, text, ret_line);
	if (r == 0) {
		memcpy(sk->aaguid, st.aaguid, sizeof(sk->aaguid));
		memcpy(sk->secret, st.secret, sizeof(sk->secret));
		memcpy(sk->pin_hash, st.pin_hash, sizeof(sk->pin_hash));
		sk->pin_set = st.pin_set;
		sk->counter = st.counter;
		sk->retries = st.retries;
		sk->faults = st.faults;
	}
	OPENSSL_cleanse(&st, sizeof(st));
	OPENSSL_cleanse(text, len);
	free(text);
	return r;
}

static int
format_state(const struct softkey *sk, struct sbuf *b)
{
	int r;

	r = sbuf_puts(b,
	    "# mynaguard softkey: a TEST authenticator. "
	    "Not a key store.\nversion=1\naaguid=");
	if (r == 0 && (r = hex_put(b, sk->aaguid, sizeof(sk->aaguid))) == 0 &&
	    (r = sbuf_puts(b, "\nsecret=")) == 0 &&
	    (r = hex_put(b, sk->secret, sizeof(sk->secret))) == 0 &&
	    (r = sbuf_printf(b, "\ncounter=%u\nretries=%u\npin_hash=",
		 sk->counter, sk->retries)) == 0 &&
	    sk->pin_set)
		r = hex_put(b, sk->pin_hash, sizeof(sk->pin_hash));
	if (r == 0)
		r = sbuf_putc(b, '\n');
	for (size_t i = 0; r == 0 && i < MG_ELEMENTSOF(knobs); i++) {
		const char *p = (const char *)&sk->faults + knobs[i].off;
		unsigned v = knobs[i].type == K_BOOL ?
		    (unsigned)*(const bool *)p :
		    *(const uint32_t *)p;

		r = sbuf_printf(b, "%s=%u\n", knobs[i].name, v);
	}
	return r;
}

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Atomic replace of path with sk's state (the lock is held). */
static int
write_state(const struct softkey *sk, const char *path)
{
	struct sbuf b;
	char *tmp;
	int fd = -1, r;

	if ((tmp = path_plus(path, ".tmpXXXXXX")) == NULL)
		return -ENAMETOOLONG;
	sbuf_init(&b, STATE_MAX);
	if ((r = format_state(sk, &b)) < 0)
		goto out;
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		r = -errno;
		goto out;
	}
	if ((r = write_all(fd, b.data, b.len)) < 0 || fsync(fd) < 0) {
		r = r < 0 ? r : -errno;
		goto out;
	}
	r = close(fd) < 0 ? -errno : 0;
	fd = -1;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
out:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	free(tmp);
	if (b.data != NULL)
		OPENSSL_cleanse(b.data, b.len);
	sbuf_clear(&b);
	return r;
}

int
softkey_save(struct softkey *sk, const char *path)
{
	int fd = -1, r;

	if (sk == NULL || path == NULL)
		return -EINVAL;
	if (sk->lock_fd >= 0 && sk->path != NULL && strcmp(path, sk->path) == 0)
		return write_state(sk, path);
	if ((r = lock_path(path, &fd)) < 0)
		return r;
	r = write_state(sk, path);
	close(fd); /* releases the flock */
	return r;
}

int
softkey_load(const char *path, struct softkey **ret, unsigned *ret_line)
{
	struct softkey *sk = NULL;
	int fd = -1, r;

	if (path == NULL || ret == NULL)
		return -EINVAL;
	if ((r = softkey_new(&sk)) < 0)
		return r;
	if ((sk->path = strdup(path)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = lock_path(path, &fd)) < 0)
		goto out;
	r = read_state(sk, path, ret_line);
	close(fd);
	if (r < 0)
		goto out;
	*ret = sk;
	sk = NULL;
out:
	softkey_free(sk);
	return r;
}

/* Start a command or setter: lock and re-read the bound file. */
int
sk_txn_begin(struct softkey *sk)
{
	int r;

	if (sk->path == NULL)
		return 0;
	if (sk->lock_fd >= 0)
		return -EBUSY;
	if ((r = lock_path(sk->path, &sk->lock_fd)) < 0)
		return r;
	if ((r = read_state(sk, sk->path, NULL)) < 0) {
		close(sk->lock_fd);
		sk->lock_fd = -1;
	}
	return r;
}

int
sk_txn_end(struct softkey *sk, bool save)
{
	int r = 0;

	if (sk->path == NULL || sk->lock_fd < 0)
		return 0;
	if (save)
		r = write_state(sk, sk->path);
	close(sk->lock_fd);
	sk->lock_fd = -1;
	return r;
}

static int
apply_kv(struct softkey *sk, const char *key, const char *value)
{
	const struct knob *k;
	uint8_t aaguid[SOFTKEY_AAGUID_LEN];
	uint32_t n;

	if (strcmp(key, "secret") == 0 || strcmp(key, "pin_hash") == 0)
		return -EPERM;
	if ((k = find_knob(key)) != NULL)
		return set_knob(&sk->faults, k, value);
	if (strcmp(key, "counter") == 0 || strcmp(key, "counter_set") == 0 ||
	    strcmp(key, "retries") == 0) {
		if (parse_u32(value, 0,
			key[0] == 'r' ? SOFTKEY_PIN_RETRIES : UINT32_MAX,
			&n) < 0)
			return -EINVAL;
		*(key[0] == 'r' ? &sk->retries : &sk->counter) = n;
		return 0;
	}
	if (strcmp(key, "aaguid") == 0) {
		if (hex_decode(value, aaguid, sizeof(aaguid)) < 0)
			return -EINVAL;
		memcpy(sk->aaguid, aaguid, sizeof(aaguid));
		return 0;
	}
	return -ENOENT;
}

int
softkey_set_kv(struct softkey *sk, const char *key, const char *value)
{
	int r, e;

	if (sk == NULL || key == NULL || value == NULL)
		return -EINVAL;
	if (strcmp(key, "pin") == 0)
		return softkey_set_pin(sk, value[0] != '\0' ? value : NULL);
	if ((r = sk_txn_begin(sk)) < 0)
		return r;
	r = apply_kv(sk, key, value);
	e = sk_txn_end(sk, r == 0);
	return r < 0 ? r : e;
}

int
softkey_set_pin(struct softkey *sk, const char *pin)
{
	uint8_t h[SK_PINHASH_LEN];
	size_t len;
	int r;

	if (sk == NULL)
		return -EINVAL;
	if (pin != NULL) {
		len = strlen(pin);
		if (len > PIN_MAX_BYTES || utf8_validate(pin, len, NULL) < 0 ||
		    utf8_count(pin, len) < PIN_MIN_POINTS)
			return -EINVAL;
		if ((r = sk_state_hash_pin(pin, len, h)) < 0)
			return r;
	}
	if ((r = sk_txn_begin(sk)) < 0)
		goto out;
	sk->pin_set = pin != NULL;
	if (pin != NULL)
		memcpy(sk->pin_hash, h, sizeof(h));
	else
		OPENSSL_cleanse(sk->pin_hash, sizeof(sk->pin_hash));
	sk->retries = SOFTKEY_PIN_RETRIES;
	r = sk_txn_end(sk, true);
out:
	OPENSSL_cleanse(h, sizeof(h));
	return r;
}

int
softkey_get_kv(struct softkey *sk, const char *key, char *buf, size_t size)
{
	const struct knob *k;
	struct sbuf b;
	uint32_t v = 0;
	int r;

	if (sk == NULL || key == NULL || buf == NULL)
		return -EINVAL;
	if (strcmp(key, "secret") == 0 || strcmp(key, "pin_hash") == 0)
		return -EPERM;
	if ((r = sk_txn_begin(sk)) < 0 || (r = sk_txn_end(sk, false)) < 0)
		return r;
	sbuf_init(&b, size > 0 ? size - 1 : 0);
	if ((k = find_knob(key)) != NULL) {
		const char *p = (const char *)&sk->faults + k->off;

		v = k->type == K_BOOL ? *(const bool *)p : *(const uint32_t *)p;
		r = sbuf_printf(&b, "%u", v);
	} else if (strcmp(key, "counter") == 0) {
		r = sbuf_printf(&b, "%u", sk->counter);
	} else if (strcmp(key, "retries") == 0) {
		r = sbuf_printf(&b, "%u", sk->retries);
	} else if (strcmp(key, "pin_set") == 0) {
		r = sbuf_printf(&b, "%d", sk->pin_set ? 1 : 0);
	} else if (strcmp(key, "aaguid") == 0) {
		r = hex_put(&b, sk->aaguid, sizeof(sk->aaguid));
	} else {
		r = -ENOENT;
	}
	if (r == 0 && size > 0) {
		memcpy(buf, b.data != NULL ? b.data : "", b.len + 1);
	}
	sbuf_clear(&b);
	return r;
}
