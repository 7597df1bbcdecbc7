/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_BUNDLE_INTERNAL_H
#define MYNAGUARD_BUNDLE_INTERNAL_H

#include "mynaguard/bundle.h"

/* Longest header line, newline excluded ("signer " + 64 hex is 71; "part
 * credentials " + 7 digits + 64 hex is 90; "signature " + 96 is 106). */
#define BUNDLE_LINE_MAX 128u
#define BUNDLE_SIG_B64_MAX 96u		/* base64 of MG_BUNDLE_SIG_MAX */

/* Fill e (when not NULL) and return r. */
int bundle_fail(struct mg_bundle_error *e, unsigned line, int r,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Lower-case hex SHA-256 of data into out[65].  0 or -EIO. */
int bundle_sha256_hex(const void *data, size_t len, char out[65]);

/* Whether text is UTF-8 without NUL bytes; else the bad offset. */
bool bundle_text_ok(const char *s, size_t len, size_t *ret_bad);

/* b64.c: RFC 4648 §4 with padding, strict (canonical, no blanks). */
size_t bundle_b64_encode(const unsigned char *in, size_t len, char *out);
int bundle_b64_decode(const char *s, size_t len, unsigned char *out,
    size_t max, size_t *ret_len);

#endif
