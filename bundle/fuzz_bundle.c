/* SPDX-License-Identifier: BSD-2-Clause */
/* Fuzz the bundle parser (what the collector runs on uploads) and the
 * verifier (what the agent runs on what it fetched).  The pinned
 * certificate below is a throwaway policy-signer made by tools/mkcerts.sh;
 * the seeds in tests/fuzz/corpus/bundle were signed by its key, so the
 * fuzzer reaches the signature check.  A parsed bundle must point inside
 * its input. */
#include <stdlib.h>
#include <string.h>

#include "mynaguard/bundle.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static const char pinned[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIICETCCAbagAwIBAgIQV3WvSZZFHG4hCF3x8kaXnDAKBggqhkjOPQQDAjBSMRgw\n"
    "FgYDVQQKDA9Ub3duIG9mIEV4YW1wbGUxEjAQBgNVBAsMCW15bmFndWFyZDEiMCAG\n"
    "A1UEAwwZRXhhbXBsZSBUb3duIG15bmFndWFyZCBDQTAeFw0yNjExMjkxOTU1MDBa\n"
    "Fw0yOTAzMDMxOTU1MDBaMEgxGDAWBgNVBAoMD1Rvd24gb2YgRXhhbXBsZTEWMBQG\n"
    "A1UECwwNcG9saWN5LXNpZ25lcjEUMBIGA1UEAwwLdG93bi1wb2xpY3kwWTATBgcq\n"
    "hkjOPQIBBggqhkjOPQMBBwNCAAQ/SYpu8fYsS6OpMQe5GTmcgUhEVGLxxqlZnbbD\n"
    "9Ws3gU0GrS0GNfHvqxR/VtlvjeEeNn39ITTESdWLUXHOso6jo3gwdjAMBgNVHRMB\n"
    "Af8EAjAAMA4GA1UdDwEB/wQEAwIHgDAWBgNVHSUBAf8EDDAKBggrBgEFBQcDAzAd\n"
    "BgNVHQ4EFgQU6TW4MeILxOCBd/6G2B355cSCpjIwHwYDVR0jBBgwFoAU/6vXa0YU\n"
    "MTfS8Z+83I1RiPVLaBgwCgYIKoZIzj0EAwIDSQAwRgIhANW3A9kD+GKpcPfaHwGP\n"
    "zFwwt6FsmUSYYWbxuF2EWSTBAiEA6LnXIWh7O4gfcf5DH+ZJZlwfr4yIdv+UOgpq\n"
    "rby2b2M=\n"
    "-----END CERTIFICATE-----\n"
    ;

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const char *p = (const char *)data;
	struct mg_bundle_error e;
	struct mg_bundle b;

	if (mg_bundle_parse(data, size, &b, &e) == 0) {
		if (b.policy < p || b.policy_len > size ||
		    b.policy + b.policy_len > p + size ||
		    b.signed_len >= size || b.version < 1 ||
		    strlen(b.group) < 1 || strlen(b.signer) != 64)
			abort();
		if (b.credentials != NULL &&
		    b.credentials + b.credentials_len > p + size)
			abort();
	} else if (e.msg[0] == '\0') {
		abort();	/* every refusal says why */
	}
	memset(&e, 0, sizeof(e));
	if (mg_bundle_verify(data, size, pinned, sizeof(pinned) - 1, &b,
	    &e) < 0 && e.msg[0] == '\0')
		abort();
	return 0;
}
