/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_TEST_KEYS_H
#define MYNAGUARD_TEST_KEYS_H

/* A throwaway ECDSA P-256 key and self-signed certificate whose CN is cn,
 * written as PEM to dir/NAME.key and dir/NAME.pem (paths returned in
 * key_path / cert_path, each of size 512).  Returns 0 or -1.  For tests
 * only: real certificates come from tools/mkcerts.sh and the town CA. */
int testkeys_make(const char *dir, const char *name, const char *cn,
    char *key_path, char *cert_path);

/* The same with an RSA key (to test that non-P-256 keys are refused). */
int testkeys_make_rsa(const char *dir, const char *name, const char *cn,
    char *key_path, char *cert_path);

/* A self-signed policy-signing certificate as tools/mkcerts.sh policy-signer
 * makes one (P-256, OU=policy-signer, CN=name, keyUsage digitalSignature,
 * extendedKeyUsage codeSigning only), in dir/NAME.key and dir/NAME.pem.
 * Returns 0 or -1. */
int testkeys_make_signer(const char *dir, const char *name, char *key_path,
    char *cert_path);

#endif
