/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_TEST_TESTCERT_H
#define MYNAGUARD_TEST_TESTCERT_H

/*
 * A self-signed certificate (/OU=terminal/CN=cn, valid for a year) for the
 * existing private key in key_path, written as PEM to cert_path: the same
 * key under another agent id.  New keys: tests/unit/testkeys.h.  0 or -1.
 */
int
testcert_selfsign(const char *key_path, const char *cert_path, const char *cn);

#endif
