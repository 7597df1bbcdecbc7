/* SPDX-License-Identifier: BSD-2-Clause */
/* mynaguard event send / mynaguard status: talking to the local agent. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "mynaguard/event.h"

#define SOCKET_PATH "/run/mynaguard/events.sock"
#define DROP_DIR "/var/lib/mynaguard/drop"

int
cmd_event_send(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "message", required_argument, NULL, 'm' },
		{ "user", required_argument, NULL, 'u' },
		{ "critical", no_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "drop-dir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	struct mg_submit s = { .type = MG_EV_TEST };
	const char *sock = SOCKET_PATH, *drop = DROP_DIR;
	const char *msg = "test event from the administrator", *user = NULL;
	uint64_t seq = 0;
	int opt, r;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'm': msg = optarg; break;
		case 'u': user = optarg; break;
		case 'c': s.flags |= MG_REC_F_CRITICAL; break;
		case 's': sock = optarg; break;
		case 'd': drop = optarg; break;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc)
		return EXIT_USAGE;
	s.f[s.n++] = (struct mg_field_val){ MG_F_MESSAGE, msg, strlen(msg) };
	if (user != NULL)
		s.f[s.n++] = (struct mg_field_val){ MG_F_USER, user,
		    strlen(user) };
	r = mg_submit_event(sock, drop, &s, 5000, &seq);
	if (r == 0)
		printf("event recorded by the agent as seq %" PRIu64 "\n", seq);
	else if (r == 1)
		printf("agent not running: event left in %s; the agent records "
		    "it when it starts\n", drop);
	else if (r == -EACCES)
		fprintf(stderr, "event not recorded: permission denied (only "
		    "root may submit events)\n");
	else
		fprintf(stderr, "event not recorded: the agent at %s did not "
		    "take it and the drop directory %s cannot be used: %s\n",
		    sock, drop, strerror(-r));
	return r < 0 ? EXIT_INVALID : 0;
}

static int
query_status(const char *path, char *buf, size_t size, size_t *len)
{
	const uint8_t req[8] = { 0, 0, 0, MG_IPC_STATUS, 0, 0, 0, 0 };
	ssize_t n;
	int fd, r = 0;

	fd = mg_ipc_connect(path, 5000);
	if (fd < 0)
		return fd;
	if (send(fd, req, sizeof(req), MSG_NOSIGNAL) != (ssize_t)sizeof(req))
		r = -errno;
	if (r == 0 && (n = recv(fd, buf, size - 1, 0)) < 4)
		r = n < 0 ? -errno : -EPROTO;
	else if (r == 0)
		*len = (size_t)n;
	close(fd);
	return r;
}

/* Print the agent's flat JSON object as "key: value" lines. */
static void
print_flat(const char *s, size_t len)
{
	size_t i = 1;
	bool in_str = false, key = true;

	while (i + 1 < len) {
		char c = s[i++];

		if (in_str && c == '\\' && i < len) {
			putchar(s[i++]);
			continue;
		}
		if (c == '"') {
			in_str = !in_str;
			continue;
		}
		if (!in_str && c == ':') {
			fputs(": ", stdout);
			key = false;
		} else if (!in_str && c == ',') {
			putchar('\n');
			key = true;
		} else
			putchar(c);
	}
	(void)key;
	putchar('\n');
}

int
cmd_status(int argc, char **argv)
{
	static char buf[MG_IPC_MSG_MAX];
	const char *sock = SOCKET_PATH;
	bool json = false;
	size_t len = 0;
	int i, r;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			sock = argv[++i];
		else
			return EXIT_USAGE;
	}
	r = query_status(sock, buf, sizeof(buf), &len);
	if (r < 0) {
		fprintf(stderr, "agent not reachable at %s: %s\n", sock,
		    strerror(-r));
		return EXIT_INVALID;
	}
	buf[len] = '\0';
	if (buf[0] || buf[1] || buf[2] || buf[3] ||
	    json_check(buf + 4, len - 4, NULL) < 0) {
		fprintf(stderr, "agent refused the status request\n");
		return EXIT_INVALID;
	}
	if (json) {
		printf("%s\n", buf + 4);
	} else {
		/* The device table is `mynaguard device list`'s. */
		char *dev = strstr(buf + 4, ",\"devices\":[");

		if (dev != NULL) {
			dev[0] = '}';
			dev[1] = '\0';
			len = (size_t)(dev + 1 - buf);
		}
		print_flat(buf + 4, len - 4);
	}
	return 0;
}
