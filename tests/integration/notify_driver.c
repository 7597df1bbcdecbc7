/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * notice_send() as the agent calls it, for notify_dbus.sh:
 *   notify_driver LANG KIND KIND_WORD PRODUCT [LABEL [COUNT]]
 * KIND is read-only, blocked, allowed or mount-forced-ro; "-" stands for a
 * NULL product or label.  Sends COUNT (default 1) notices and fails when
 * one fails or holds the caller for 100 ms or more (notify.h's promise).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mynaguard/common.h"
#include "notify.h"

static const char *const kind_names[] = {
	[NOTICE_READ_ONLY] = "read-only",
	[NOTICE_BLOCKED] = "blocked",
	[NOTICE_ALLOWED] = "allowed",
	[NOTICE_MOUNT_FORCED_RO] = "mount-forced-ro",
};

static int64_t
now_us(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static const char *
opt(const char *s)
{
	return strcmp(s, "-") == 0 ? NULL : s;
}

int
main(int argc, char **argv)
{
	struct notice n = { 0 };
	uint32_t i, count = 1;
	int64_t t0, worst = 0;
	size_t k;
	int r;

	if (argc < 5 || argc > 7 ||
	    (argc == 7 && parse_u32(argv[6], 1, 100, &count) < 0)) {
		fprintf(stderr, "usage: notify_driver LANG KIND KIND_WORD "
		    "PRODUCT [LABEL [COUNT]]\n");
		return 2;
	}
	for (k = 0; k < MG_ELEMENTSOF(kind_names); k++)
		if (strcmp(argv[2], kind_names[k]) == 0)
			break;
	if (k == MG_ELEMENTSOF(kind_names)) {
		fprintf(stderr, "notify_driver: unknown kind %s\n", argv[2]);
		return 2;
	}
	n.kind = (enum notice_kind)k;
	n.kind_word = argv[3];
	n.product = opt(argv[4]);
	n.label = argc > 5 ? opt(argv[5]) : NULL;
	for (i = 0; i < count; i++) {
		t0 = now_us();
		r = notice_send(&n, argv[1]);
		if (now_us() - t0 > worst)
			worst = now_us() - t0;
		if (r < 0) {
			fprintf(stderr, "notify_driver: notice_send: %s\n",
			    strerror(-r));
			return 1;
		}
	}
	printf("notice_send: %u call(s), slowest %lld us\n", (unsigned)count,
	    (long long)worst);
	return worst < 100000 ? 0 : 1;
}
