/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_CHECKPOINT_H
#define MYNAGUARD_CHECKPOINT_H

/*
 * Signed checkpoints of the collector's Merkle log (issue 9,
 * docs/checkpoints.md).  The collector appends every accepted event record
 * to an RFC 9162 log and now and then signs the tree's size and root hash
 * with its TLS key; the security officer keeps the checkpoint outside the
 * collector and later checks the store against it with only the town CA
 * certificate.  A checkpoint is printable ASCII text, one per file, at
 * most MG_CHECKPOINT_MAX bytes, every line ending in LF:
 *
 *   mynaguard checkpoint v1
 *   origin: ORIGIN              1..128 of 0x21..0x7e (no spaces)
 *   size: N                     tree size, decimal uint64, no leading zeros
 *   root: HEX                   64 lower-case hex digits (RFC 9162 root)
 *   time: YYYY-MM-DDTHH:MM:SSZ  UTC, years 1970..9999
 *   signature: BASE64           DER ECDSA P-256 / SHA-256, padded base64
 *   -----BEGIN CERTIFICATE-----
 *   BASE64                      the signer's certificate: lines of 64,
 *   ...                         the last one 4..64 (PEM as OpenSSL writes)
 *   -----END CERTIFICATE-----
 *
 * The signature covers exactly the bytes from the start of the text
 * through the newline that ends the "time:" line, so it can be checked
 * with the openssl command line alone.  Anything else (another order, a
 * repeated or unknown line, CR, blanks, a missing final newline, bytes
 * after it) is refused, naming the line.
 *
 * This library never logs and never exits.  Every int function returns 0
 * or -errno.  ret_why (when not NULL) receives a static English sentence
 * saying what failed, and ret_line the 1-based line (0: not tied to a
 * line); unlike other ret_ parameters these two are written on failure
 * only, since they describe it.
 */

#include <openssl/types.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MG_CHECKPOINT_MAX 16384		/* whole text, bytes */
#define MG_CHECKPOINT_ORIGIN_MAX 128
#define MG_CHECKPOINT_SIG_MAX 72	/* DER ECDSA P-256 */
#define MG_CHECKPOINT_MAGIC "mynaguard checkpoint v1"

struct mg_checkpoint {
	char origin[MG_CHECKPOINT_ORIGIN_MAX + 1];
	uint64_t size;			/* leaves in the tree */
	uint8_t root[32];		/* RFC 9162 Merkle tree hash */
	int64_t time;			/* Unix seconds, UTC */
	uint8_t *cert_der;		/* owned: the signer's certificate */
	size_t cert_len;
	uint8_t *sig;			/* owned: DER ECDSA signature */
	size_t sig_len;
	size_t signed_len;		/* text[0..signed_len) is signed */
	char *text;			/* owned copy of the whole text, */
	size_t text_len;		/* NUL-terminated */
};

/*
 * Make a checkpoint.  key_pem_path and cert_pem_path are PEM files (the
 * collector's TLS key and certificate, tools/mkcerts.sh server).  On
 * success *ret_text is malloc'd NUL-terminated text (free() it) of
 * *ret_len bytes.  -EINVAL (bad origin, time out of 1970..9999, NULL),
 * -ENOENT/-EACCES/-E2BIG (the files), -EKEYREJECTED (the key is not the
 * certificate's, not ECDSA P-256, or the certificate is not a TLS server
 * certificate with digitalSignature, so mg_checkpoint_verify() would refuse
 * it), -ENOMEM, -EIO (signing failed).
 */
int mg_checkpoint_sign(const char *origin, uint64_t size,
    const uint8_t root[32], int64_t time, const char *key_pem_path,
    const char *cert_pem_path, char **ret_text, size_t *ret_len,
    const char **ret_why);

/* The same with a key and certificate already loaded (the collector keeps
 * them); neither is consumed. */
int mg_checkpoint_sign_with(const char *origin, uint64_t size,
    const uint8_t root[32], int64_t time, EVP_PKEY *key, X509 *cert,
    char **ret_text, size_t *ret_len, const char **ret_why);

/*
 * Read a checkpoint without trusting it: the structure above, and that the
 * certificate is one DER X.509 certificate.  On success *out is
 * overwritten (it must not hold anything: zero it or mg_checkpoint_clear()
 * it first) and owns copies of everything; free with mg_checkpoint_clear().
 * On failure *out is untouched: -EBADMSG with *ret_why and *ret_line
 * (longer than MG_CHECKPOINT_MAX: the line holding the first byte too
 * many), -EINVAL (NULL), -ENOMEM.
 */
int mg_checkpoint_parse(const char *text, size_t len,
    struct mg_checkpoint *out, const char **ret_why, unsigned *ret_line);

/*
 * Trust it: the signature verifies with the embedded certificate's key
 * (ECDSA P-256), the certificate chains to a certificate in ca_pem_path
 * (the town CA) for X509_PURPOSE_SSL_SERVER (it is the collector's TLS
 * certificate; terminal, reviewer and policy-signing certificates are
 * refused) with keyUsage digitalSignature when keyUsage is present, and cp's
 * fields are those of its text.  Validity is judged at the checkpoint's own
 * time, so a checkpoint stays checkable after the certificate expires.
 * On success, when cn is not NULL, the signer's CN (every byte outside
 * printable ASCII as '?'; "" when none) is stored in cn (cn_len bytes with
 * the NUL).
 * -EKEYREJECTED (bad signature, untrusted or unfit certificate),
 * -EBADMSG (cp is not a parsed checkpoint), -ENOENT/-EACCES/-E2BIG/-EINVAL
 * (the CA file, or no certificate in it), -ERANGE (the CN does not fit
 * cn_len, or is 256 bytes or more),
 * -ENOMEM.
 */
int mg_checkpoint_verify(const struct mg_checkpoint *cp,
    const char *ca_pem_path, char *cn, size_t cn_len, const char **ret_why);

/* Free what cp owns and zero it; cp stays usable.  Accepts NULL. */
void mg_checkpoint_clear(struct mg_checkpoint *cp);

/*
 * A printout for the security officer (UTF-8, Japanese labels with English
 * in parentheses): origin, size, root in groups of 8 hex digits, time, the
 * signer's CN and certificate SHA-256 fingerprint, the base64 signature and
 * the certificate, with how to type it back in.  It does not verify: the
 * names shown are what the checkpoint claims.  0, -EINVAL (NULL, or cp not
 * a parsed checkpoint), -EBADMSG (the certificate is unreadable), -ENOMEM,
 * -EIO (writing failed).
 */
int mg_checkpoint_print(const struct mg_checkpoint *cp, FILE *out);

#endif
