/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * bench_ingest: how many events per second the collector takes in over
 * mutual TLS (HTTPS POST, signature verification, chain check, SQLite
 * commit), measured from the first request to the last acknowledgement.
 *
 *   bench_ingest URL CA BATCH AGENT_DIR...
 *
 * Each AGENT_DIR holds key.pem, cert.pem and records.bin (a terminal's
 * records back to back, as mkrecord writes them).  One thread per agent
 * sends its records in order, BATCH records per POST, over one kept-alive
 * connection, as a real agent does.  Prints events/s.
 */
#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mynaguard/event.h"

#define AGENTS_MAX 16

struct agent {
	const char *url, *ca;
	char key[1024], cert[1024];
	char *recs;
	size_t len;
	unsigned batch;
	uint64_t sent;
	int failed;
};

static size_t
sink(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static size_t
next_batch(const struct agent *a, size_t off, unsigned *count)
{
	struct mg_record r;
	size_t end = off;
	int n;

	*count = 0;
	while (end < a->len && *count < a->batch) {
		n = mg_record_decode((const uint8_t *)a->recs + end,
		    a->len - end, &r, NULL);
		if (n <= 0)
			break;
		end += (size_t)n;
		(*count)++;
	}
	return end;
}

static void *
run(void *arg)
{
	struct agent *a = arg;
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: "
	    "application/vnd.mynaguard.events.v1");
	size_t off = 0, end;
	unsigned count;
	long code = 0;

	curl_easy_setopt(c, CURLOPT_URL, a->url);
	curl_easy_setopt(c, CURLOPT_CAINFO, a->ca);
	curl_easy_setopt(c, CURLOPT_SSLCERT, a->cert);
	curl_easy_setopt(c, CURLOPT_SSLKEY, a->key);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	while (off < a->len) {
		end = next_batch(a, off, &count);
		if (count == 0)
			break;
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, a->recs + off);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)(end - off));
		if (curl_easy_perform(c) != CURLE_OK ||
		    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) !=
		    CURLE_OK || code != 200) {
			a->failed = 1;
			break;
		}
		a->sent += count;
		off = end;
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return NULL;
}

int
main(int argc, char **argv)
{
	static struct agent ag[AGENTS_MAX];
	pthread_t t[AGENTS_MAX];
	struct timespec t0, t1;
	uint64_t total = 0;
	uint32_t batch;
	double secs;
	int i, n = argc - 4, failed = 0;
	char path[1024];

	if (argc < 5 || n > AGENTS_MAX || parse_u32(argv[3], 1, 10000,
	    &batch) < 0) {
		fprintf(stderr, "usage: bench_ingest URL CA BATCH AGENT_DIR...\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	for (i = 0; i < n; i++) {
		memset(&ag[i], 0, sizeof(ag[i]));
		ag[i].url = argv[1];
		ag[i].ca = argv[2];
		ag[i].batch = batch;
		snprintf(ag[i].key, sizeof(ag[i].key), "%s/key.pem", argv[4 + i]);
		snprintf(ag[i].cert, sizeof(ag[i].cert), "%s/cert.pem",
		    argv[4 + i]);
		snprintf(path, sizeof(path), "%s/records.bin", argv[4 + i]);
		if (file_read_all(path, 1u << 30, 0, &ag[i].recs,
		    &ag[i].len) < 0) {
			fprintf(stderr, "cannot read %s\n", path);
			return 2;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++)
		pthread_create(&t[i], NULL, run, &ag[i]);
	for (i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		total += ag[i].sent;
		failed |= ag[i].failed;
		free(ag[i].recs);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("collector ingest: %" PRIu64 " events from %d terminals in "
	    "%.2f s = %.0f events/s%s\n", total, n, secs,
	    (double)total / secs, failed ? " (SOME REQUESTS FAILED)" : "");
	curl_global_cleanup();
	return failed;
}
