/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * bench_spool: the agent's sign + spool rate, in process: build the ECS
 * body, sign (ECDSA P-256), chain and append, with a group commit
 * (fdatasync) every COMMIT events, as the agent's 50 ms window does under
 * load.  bench_spool KEY CERT DIR COUNT COMMIT
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "emit.h"

int
main(int argc, char **argv)
{
	struct spool_cfg cfg = { .max_bytes = 2ull << 30,
	    .reserve_bytes = 1u << 20, .segment_bytes = 4u << 20 };
	struct mg_field_val f = { MG_F_MESSAGE, "benchmark event", 15 };
	struct spool_recovery rec;
	struct mg_signer *s = NULL;
	struct spool *sp = NULL;
	struct emitter e;
	struct timespec t0, t1;
	uint32_t count, commit, i;
	double secs;

	if (argc != 6 || parse_u32(argv[4], 1, 10000000, &count) < 0 ||
	    parse_u32(argv[5], 1, 100000, &commit) < 0) {
		fprintf(stderr, "usage: bench_spool KEY CERT DIR COUNT "
		    "COMMIT\n");
		return 2;
	}
	cfg.dir = argv[3];
	if (mg_signer_load(argv[1], argv[2], &s, NULL) < 0 ||
	    spool_open(&cfg, &sp, &rec) < 0)
		return 2;
	emit_init(&e, sp, s, "bench-host");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 1; i <= count; i++) {
		if (emit_event(&e, MG_EV_TEST, &f, 1, 0, NULL, NULL, NULL) < 0)
			return 1;
		if (i % commit == 0 && spool_commit(sp) < 0)
			return 1;
	}
	if (spool_commit(sp) < 0)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("agent sign+spool: %" PRIu32 " events in %.2f s = %.0f "
	    "events/s (fdatasync every %" PRIu32 ")\n", count, secs,
	    (double)count / secs, commit);
	emit_clear(&e);
	spool_close(sp);
	mg_signer_free(s);
	return 0;
}
