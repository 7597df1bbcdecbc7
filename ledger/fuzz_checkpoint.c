/* SPDX-License-Identifier: BSD-2-Clause */
/* Fuzz what mynaguard-review runs on a checkpoint the officer hands it:
 * parse, verify against the town CA, print.  The CA below is a throwaway
 * one made by tools/mkcerts.sh; the seeds in tests/fuzz/corpus/checkpoint
 * were signed by its collector (and one by a terminal), so the fuzzer
 * reaches the chain and signature checks.  The CA goes to a temporary
 * file once, since mg_checkpoint_verify() takes a path.  Invariants: a
 * refusal says why and where; what parses is what was given; a parsed
 * checkpoint prints; whatever verifies was signed by that CA's only
 * collector. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mynaguard/checkpoint.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static const char town_ca[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIB5zCCAY2gAwIBAgIQaxtqPFk8U+tDsZ0iv2zErTAKBggqhkjOPQQDAjBSMRgw\n"
    "FgYDVQQKDA9Ub3duIG9mIEV4YW1wbGUxEjAQBgNVBAsMCW15bmFndWFyZDEiMCAG\n"
    "A1UEAwwZRXhhbXBsZSBUb3duIG15bmFndWFyZCBDQTAeFw0yNjExMjkyMjA3MDFa\n"
    "Fw0zNjExMjYyMjA3MDFaMFIxGDAWBgNVBAoMD1Rvd24gb2YgRXhhbXBsZTESMBAG\n"
    "A1UECwwJbXluYWd1YXJkMSIwIAYDVQQDDBlFeGFtcGxlIFRvd24gbXluYWd1YXJk\n"
    "IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEcBO2wyLxhYDpPNex/CpZW4Ic\n"
    "EsbGaAhdRQt4kyJjyEupwOScvm5PEjRHNZqYBx8bVBJdotvrurEc4wPnA4U9mKNF\n"
    "MEMwEgYDVR0TAQH/BAgwBgEB/wIBADAOBgNVHQ8BAf8EBAMCAQYwHQYDVR0OBBYE\n"
    "FFTqObBWnZsjgv70XS0WYiJ3tLgEMAoGCCqGSM49BAMCA0gAMEUCIQDy3QSKJTwY\n"
    "2sGv8IiaMCr7hzBnnYZpzkVcj6TFCgAX1gIgd234nRLI0IRmVs/dcw7bdVEWZBSf\n"
    "qO/02ghoETYRu+s=\n"
    "-----END CERTIFICATE-----\n"
    ;

static char ca_path[64];

static void
remove_ca(void)
{
	if (ca_path[0] != '\0')
		unlink(ca_path);
}

static const char *
ca_file(void)
{
	FILE *f;
	int fd;

	if (ca_path[0] != '\0')
		return ca_path;
	snprintf(ca_path, sizeof(ca_path), "/tmp/fuzz-checkpoint-ca.XXXXXX");
	if ((fd = mkstemp(ca_path)) < 0 || (f = fdopen(fd, "w")) == NULL)
		abort();
	if (fwrite(town_ca, 1, sizeof(town_ca) - 1, f) != sizeof(town_ca) - 1 ||
	    fclose(f) != 0)
		abort();
	atexit(remove_ca);
	return ca_path;
}

static void
check_parsed(const struct mg_checkpoint *cp, const unsigned char *data,
    size_t size)
{
	FILE *devnull;
	const char *why = NULL;
	char cn[64];
	size_t n = strlen(cp->origin);

	if (cp->text_len != size || memcmp(cp->text, data, size) != 0 ||
	    cp->text[size] != '\0' || n < 1 || n > MG_CHECKPOINT_ORIGIN_MAX ||
	    cp->signed_len >= size || cp->sig_len < 8 ||
	    cp->sig_len > MG_CHECKPOINT_SIG_MAX || cp->cert_len == 0 ||
	    memcmp(cp->text + cp->signed_len, "signature: ", 11) != 0)
		abort();
	if (mg_checkpoint_verify(cp, ca_file(), cn, sizeof(cn), &why) < 0) {
		if (why == NULL)
			abort();	/* every refusal says why */
	} else if (strcmp(cn, "collector.example") != 0) {
		abort();
	}
	if ((devnull = fopen("/dev/null", "we")) == NULL)
		abort();
	if (mg_checkpoint_print(cp, devnull) != 0)
		abort();	/* a parsed checkpoint always prints */
	fclose(devnull);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct mg_checkpoint cp;
	const char *why = NULL;
	unsigned line = 0;
	int r;

	memset(&cp, 0, sizeof(cp));
	r = mg_checkpoint_parse((const char *)data, size, &cp, &why, &line);
	if (r == 0)
		check_parsed(&cp, data, size);
	else if (r != -EBADMSG || why == NULL || line == 0 ||
	    cp.text != NULL)
		abort();	/* refused: why, and on which line */
	mg_checkpoint_clear(&cp);
	return 0;
}
