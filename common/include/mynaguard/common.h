/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_COMMON_H
#define MYNAGUARD_COMMON_H

/*
 * libmynaguard-common: bounded buffers, an arena, number and UTF-8 parsing,
 * and careful file reading.  Needs only libc; never logs.
 * Every int-returning function returns >= 0 on success, -errno on failure.
 */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MG_ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* ---- sbuf: a growable byte buffer that never grows past max ---------- */

struct sbuf {
	char *data;	/* always NUL-terminated when not NULL */
	size_t len;
	size_t cap;
	size_t max;	/* content bytes allowed, excluding the NUL */
};

/* Start empty with a hard limit of max bytes.  Never fails. */
void sbuf_init(struct sbuf *b, size_t max);

/* Append.  -E2BIG when the result would exceed max (b is unchanged),
 * -ENOMEM. */
int sbuf_put(struct sbuf *b, const void *data, size_t len);
int sbuf_puts(struct sbuf *b, const char *s);
int sbuf_putc(struct sbuf *b, char c);
int sbuf_printf(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int sbuf_vprintf(struct sbuf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Hand the contents to the caller (free() them; never NULL on success) and
 * reset b to empty.  -ENOMEM. */
int sbuf_steal(struct sbuf *b, char **ret, size_t *ret_len);

/* Free the contents; b stays usable (empty, same max). */
void sbuf_clear(struct sbuf *b);

/* Make room for n more bytes now, so later puts do not move the data.
 * -E2BIG, -ENOMEM. */
int sbuf_reserve(struct sbuf *b, size_t n);

/* ---- arena: many small allocations freed at once --------------------- */

struct arena;

int arena_new(struct arena **ret);
/* Zeroed memory aligned for any type, or NULL. */
void *arena_alloc(struct arena *a, size_t size);
/* Copy of len bytes plus a NUL, or NULL. */
char *arena_memdup(struct arena *a, const void *src, size_t len);
void arena_free(struct arena *a);

/* ---- numbers ------------------------------------------------------------ */

/*
 * Parse the whole of s (decimal digits only: no sign, no blanks, no
 * leading "0x") into *ret when min <= value <= max.  -EINVAL when s is not
 * a number, -ERANGE when out of range.  *ret is written only on success.
 */
int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *ret);
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret);

/* Value of a hex digit, or -1. */
int parse_hexdigit(char c);

/* ---- UTF-8 ------------------------------------------------------------- */

/*
 * Check that buf holds well-formed UTF-8 (RFC 3629: no overlongs, no
 * surrogates, nothing past U+10FFFF).  Returns 0, or -EILSEQ and stores the
 * offset of the first bad byte in *ret_bad (when not NULL).
 */
int utf8_validate(const char *buf, size_t len, size_t *ret_bad);

/* Length of the well-formed sequence starting at s (at most n bytes), or 0
 * when it is not one. */
size_t utf8_seqlen(const char *s, size_t n);

/* Code points in the first n bytes of well-formed UTF-8. */
size_t utf8_count(const char *s, size_t n);

/* ---- CRC-32C (Castagnoli) ------------------------------------------- */

/* Continue crc over len bytes; start with 0. */
uint32_t crc32c(uint32_t crc, const void *data, size_t len);

/* ---- JSON ----------------------------------------------------------------- */

#define JSON_DEPTH_MAX 32u

/*
 * Check that s is one strict JSON object (RFC 8259): valid UTF-8, no
 * duplicate keys, keys of printable ASCII without escapes, no lone
 * surrogates, nesting at most JSON_DEPTH_MAX.  0, or -EBADMSG (-E2BIG when
 * too deep or too many keys) with the offset of the problem in *ret_bad;
 * -ENOMEM.
 */
int json_check(const char *s, size_t len, size_t *ret_bad);

/* A JSON writer into an sbuf.  Calls record the first error; jw_finish()
 * returns it (0, -EINVAL for invalid UTF-8, a bad key or unbalanced
 * nesting, -E2BIG, -ENOMEM). */
struct jw {
	struct sbuf *b;
	unsigned depth;
	uint32_t comma;		/* bit d: level d needs a comma */
	bool after_key;
	int err;
};

void jw_init(struct jw *w, struct sbuf *b);
void jw_object(struct jw *w);
void jw_object_end(struct jw *w);
void jw_array(struct jw *w);
void jw_array_end(struct jw *w);
void jw_key(struct jw *w, const char *key);
void jw_string(struct jw *w, const char *s, size_t len);
void jw_str(struct jw *w, const char *s);
void jw_u64(struct jw *w, uint64_t v);
void jw_i64(struct jw *w, int64_t v);
void jw_bool(struct jw *w, bool v);
int jw_finish(struct jw *w);

/* ---- INI files ([Section], Key=Value; # and ; comments) ------------- */

struct ini_item {
	unsigned line;
	const char *section;	/* the current one; "" before any */
	const char *key;	/* NULL on a [Section] line */
	const char *value;	/* trimmed */
};

/*
 * Call fn for every section line and every Key=Value line of text.  Stops
 * at the first negative return of fn and returns it; -EBADMSG for a line
 * that is neither; -EILSEQ for NUL bytes or invalid UTF-8; -ENOMEM.  On
 * failure *ret_line is the line (0 for the whole text).
 */
int ini_parse(const char *text, size_t len,
    int (*fn)(void *arg, const struct ini_item *it), void *arg,
    unsigned *ret_line);

/* ---- files --------------------------------------------------------------- */

#define FILE_TRUSTED 0x1u	/* owned by root, not writable by group or
				 * other, no symlink at the last component */
#define FILE_OWNER_SELF 0x2u	/* with FILE_TRUSTED: the owner may also be
				 * the running user (a DynamicUser service) */
#define FILE_SECRET 0x4u	/* key material: read into one allocation of
				 * the file's size, wipe every copy */

/*
 * Read a whole regular file of at most max bytes.  Stores a malloc'ed
 * NUL-terminated copy in *ret (free() it) and its length in *ret_len.
 * -E2BIG when larger than max, -EINVAL when not a regular file, -EPERM when
 * FILE_TRUSTED was asked for and the file fails it, or -errno from the
 * system.  "-" reads standard input (never trusted).
 */
int file_read_all(const char *path, size_t max, unsigned flags, char **ret,
    size_t *ret_len);

#endif
