/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_BUNDLE_H
#define MYNAGUARD_BUNDLE_H

/*
 * libmynaguard-bundle: signed policy bundles (docs/policy-bundles.md).
 *
 * The administrator signs a policy (and optionally the credentials file)
 * with the offline policy-signing key; the collector stores and serves the
 * bundle per terminal group; the agent verifies it against the
 * policy-signing certificate pinned at install time.  A bundle is text:
 *
 *   mynaguard-policy-bundle 1
 *   group GROUP
 *   version N
 *   created YYYY-MM-DDTHH:MM:SSZ
 *   signer SHA256-HEX-OF-THE-CERTIFICATE-DER
 *   part policy LEN SHA256-HEX
 *   <LEN bytes>
 *   part credentials LEN SHA256-HEX        (optional)
 *   <LEN bytes>
 *   signature BASE64-DER-ECDSA-P256-SHA256
 *
 * The signature covers every byte before the "signature" line.  Version
 * ordering (no rollback) is the caller's job: this library only says what
 * the bundle claims and whether the pinned key signed it.  It never logs,
 * never exits; every int function returns 0 or -errno.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MG_BUNDLE_MAX (8u << 20)	/* whole bundle, bytes */
#define MG_BUNDLE_GROUP_MAX 64
#define MG_BUNDLE_POLICY_MAX (1u << 20)	/* = POL_TEXT_MAX */
#define MG_BUNDLE_CREDENTIALS_MAX (4u << 20)	/* = PMOD_CRED_FILE_MAX */
#define MG_BUNDLE_VERSION_MAX INT64_MAX	/* fits a signed 64-bit column */
#define MG_BUNDLE_SIG_MAX 72u		/* DER ECDSA P-256 */
#define MG_BUNDLE_MAGIC "mynaguard-policy-bundle 1"

struct mg_bundle {
	char group[MG_BUNDLE_GROUP_MAX + 1];	/* [a-z0-9._-], 1..64 chars,
						 * starting with [a-z0-9] */
	uint64_t version;		/* >= 1, strictly increasing per group */
	int64_t created;		/* unix seconds (UTC) when signed */
	char signer[65];		/* hex SHA-256 of the signing
					 * certificate's DER */
	const char *policy;		/* points into the caller's buffer; */
	size_t policy_len;		/* not NUL-terminated */
	char policy_sha256[65];
	const char *credentials;	/* NULL/0 when the bundle has none */
	size_t credentials_len;
	char credentials_sha256[65];	/* "" when none */
	/* Added: what the signature covers and the signature itself. */
	size_t signed_len;		/* bytes 0..signed_len-1 are signed */
	unsigned char sig[MG_BUNDLE_SIG_MAX];
	size_t sig_len;
};

/* Where and what.  line 0: not tied to a line. */
struct mg_bundle_error {
	unsigned line;
	char msg[200];
};

/*
 * Structure only (header, parts and their hashes; limits; no signature
 * check).  0 and *b filled (its pointers point into buf), or -EBADMSG with
 * e filled ("line 3: version must be a number from 1 to ..."), -EINVAL for
 * NULL arguments.  For the collector, which stores and serves bundles but
 * cannot judge the signature.  *b is written only on success.
 */
int mg_bundle_parse(const void *buf, size_t len, struct mg_bundle *b,
    struct mg_bundle_error *e);

/*
 * mg_bundle_parse() plus the signature against the pinned policy-signing
 * certificate (PEM text, cert_len bytes).  0; -EBADMSG (structure);
 * -EKEYREJECTED (signed by another certificate, or the signature is wrong);
 * -EINVAL (the certificate text is unusable: not one PEM certificate, not
 * ECDSA P-256, or not a policy-signing certificate); -ENOMEM.  e says why.
 * The policy inside is NOT checked here: the agent must still run
 * pol_policy_parse() on it before applying anything.
 */
int mg_bundle_verify(const void *buf, size_t len, const char *cert_pem,
    size_t cert_len, struct mg_bundle *b, struct mg_bundle_error *e);

struct mg_bundle_in {
	const char *group;
	uint64_t version;
	int64_t created;		/* unix seconds, UTC */
	const char *policy;
	size_t policy_len;
	const char *credentials;	/* NULL: none */
	size_t credentials_len;
};

/*
 * Build and sign a bundle.  The key and certificate are PEM files (the
 * certificate must be a policy-signing one, see mg_bundle_cert_check()).
 * The policy must pass pol_policy_parse(); its first error is reported as
 * "policy line L:C: ..." (the CLI prints all of them before calling this).
 * Credentials are checked only for being UTF-8 text without NUL: this
 * library does not depend on the PAM module's parser, so the caller
 * (mynaguard policy sign) runs pmod_creds_parse() first.
 * On success *out is a malloc'd bundle (free()) of *out_len bytes.
 * -EINVAL (bad input: group, version, created, policy or credentials),
 * -EKEYREJECTED (key/certificate unusable or mismatched), -ENOENT/-EACCES
 * (unreadable files), -E2BIG, -ENOMEM, -EIO.  e says why.
 */
int mg_bundle_sign(const struct mg_bundle_in *in, const char *key_path,
    const char *cert_path, char **out, size_t *out_len,
    struct mg_bundle_error *e);

/* Added helpers. */

/* Whether s is a valid group name. */
bool mg_bundle_group_valid(const char *s);

/*
 * Check that a PEM certificate can pin policy bundles: ECDSA P-256, an
 * extendedKeyUsage with codeSigning and without serverAuth/clientAuth (so
 * it is never a TLS certificate, and no TLS certificate is one), keyUsage
 * digitalSignature when present.  0 and its hex SHA-256 (of the DER) in
 * ret_hash (65 bytes, when not NULL); -EINVAL with e filled; -ENOMEM.
 */
int mg_bundle_cert_check(const char *cert_pem, size_t cert_len,
    char ret_hash[65], struct mg_bundle_error *e);

/* "YYYY-MM-DDTHH:MM:SSZ" for t (years 1970..9999), in out[21].  0 or
 * -ERANGE. */
int mg_bundle_time_format(int64_t t, char out[21]);

#endif
