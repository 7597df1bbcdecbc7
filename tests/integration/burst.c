/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * burst SOCKET COUNT OUT: submit COUNT test events to the agent over one
 * connection, pipelined (sending does not wait for answers), and write the
 * seq of every event the agent acknowledged to OUT, one per line, as the
 * acknowledgements arrive.  Used by the fault tests: whatever the agent
 * acknowledged must reach the collector exactly once, even when the agent
 * is killed in the middle.  Exits 0 when all were acknowledged, 1 when the
 * agent went away first.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mynaguard/event.h"

struct job {
	int fd;
	uint64_t count;
};

static void *
sender(void *arg)
{
	const struct job *j = arg;
	struct mg_submit s = { .type = MG_EV_TEST, .n = 1 };
	struct sbuf b;
	char msg[64];
	uint64_t i;
	int n;

	for (i = 0; i < j->count; i++) {
		n = snprintf(msg, sizeof(msg), "burst event %" PRIu64, i);
		s.f[0] = (struct mg_field_val){ MG_F_MESSAGE, msg, (size_t)n };
		sbuf_init(&b, MG_IPC_MSG_MAX);
		if (mg_ipc_encode_submit(&s, &b) < 0 ||
		    send(j->fd, b.data, b.len, MSG_NOSIGNAL) !=
		    (ssize_t)b.len) {
			sbuf_clear(&b);
			break;
		}
		sbuf_clear(&b);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct job j;
	uint8_t reply[12];
	uint64_t got = 0, seq;
	pthread_t t;
	FILE *out;
	int i;

	if (argc != 4 || strlen(argv[1]) >= sizeof(sa.sun_path) ||
	    parse_u64(argv[2], 1, 10000000, &j.count) < 0) {
		fprintf(stderr, "usage: burst SOCKET COUNT OUT\n");
		return 2;
	}
	memcpy(sa.sun_path, argv[1], strlen(argv[1]) + 1);
	j.fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (j.fd < 0 || connect(j.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("connect");
		return 2;
	}
	out = fopen(argv[3], "we");
	if (out == NULL || pthread_create(&t, NULL, sender, &j) != 0)
		return 2;
	while (got < j.count) {
		if (recv(j.fd, reply, sizeof(reply), 0) != (ssize_t)sizeof(reply))
			break;
		if (reply[0] | reply[1] | reply[2] | reply[3])
			continue;	/* refused: not acknowledged */
		for (seq = 0, i = 4; i < 12; i++)
			seq = seq << 8 | reply[i];
		fprintf(out, "%" PRIu64 "\n", seq);
		got++;
	}
	/* The agent may be gone: stop the sender and keep what we have. */
	shutdown(j.fd, SHUT_RDWR);
	pthread_join(t, NULL);
	if (fclose(out) != 0)
		return 2;
	fprintf(stderr, "burst: %" PRIu64 " of %" PRIu64 " acknowledged\n", got,
	    j.count);
	return got == j.count ? 0 : 1;
}
