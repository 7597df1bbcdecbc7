/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz the collector's request path: arbitrary bytes as the body of a
 * POST /v1/events from the terminal "fuzz-agent", through record decoding,
 * signature checks, the chain rules and SQLite (one in-memory database,
 * emptied before each input, so every input is replayed alone).  Seeds with valid signed
 * records: tests/integration/collector_seeds.sh (key and certificate in
 * tests/integration/collector_data/).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* tests/integration/collector_data/fuzz-agent.pem */
static const char cert_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIB2zCCAYGgAwIBAgIUIykXU0YcMYEA5W0YW5N5FOz3lv8wCgYIKoZIzj0EAwIw\n"
    "QjEYMBYGA1UECgwPbXluYWd1YXJkIHRlc3RzMREwDwYDVQQLDAh0ZXJtaW5hbDET\n"
    "MBEGA1UEAwwKZnV6ei1hZ2VudDAgFw0yNjExMjkxMTMxMTZaGA8yMTI2MTEwNTEx\n"
    "MzExNlowQjEYMBYGA1UECgwPbXluYWd1YXJkIHRlc3RzMREwDwYDVQQLDAh0ZXJt\n"
    "aW5hbDETMBEGA1UEAwwKZnV6ei1hZ2VudDBZMBMGByqGSM49AgEGCCqGSM49AwEH\n"
    "A0IABEJjAlD5QETW2d8f+XbgZufQua01HPl9jaXhKltZrOPQUVaCBiFzdAqWOFj1\n"
    "8OOZ8yFhZfmLi2iEG2Z9RsaIuUqjUzBRMB0GA1UdDgQWBBSvSCIcg1B87W+KWOaC\n"
    "WdGGiGoCOzAfBgNVHSMEGDAWgBSvSCIcg1B87W+KWOaCWdGGiGoCOzAPBgNVHRMB\n"
    "Af8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIHa7IayDF//Ay0KfrWIfI7r/QfA4\n"
    "OIM7KrdqVWu7HIQEAiEAghVYnU8GwYav810Vf77fKl6u96e6M2luYCtDpt6JyGw=\n"
    "-----END CERTIFICATE-----\n";

#define NOW_NS INT64_C(1790000000000000000)

static const char reset_sql[] =
    "DELETE FROM events; DELETE FROM agents; DELETE FROM alerts;"
    " DELETE FROM quarantine; DELETE FROM loss_ranges;";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mg_verifier *v;
	static struct coll_store *st;
	struct coll_result res;
	const char *why = NULL;

	if (v == NULL) {
		coll_log_set_max(-1);
		if (mg_verifier_from_pem(cert_pem, sizeof(cert_pem) - 1, &v) <
		    0)
			abort();
		if (coll_store_open(":memory:", 0, &st, &why) < 0)
			abort();
	}
	if (coll_store_exec(st, reset_sql) != 0)
		abort();
	/* A failure is a result too; the sanitizers judge the path. */
	(void)coll_ingest(st, v, data, size, NOW_NS, &res);
	return 0;
}
