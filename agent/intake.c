/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Local intake: the SOCK_SEQPACKET socket where the PAM module, the CLI
 * and the udev helper submit events, and the root-only drop directory they
 * use when the agent is not running.  Only root peers are served
 * (SO_PEERCRED, checked before a byte is read); every message is bounded
 * and decoded strictly.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

#define PENDING_MAX 1024u

int64_t
agent_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
make_parent(const char *path)
{
	char dir[108];
	char *slash;

	if (strlen(path) >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, strlen(path) + 1);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int
intake_listen(struct agent *a)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = a->cfg.socket;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	if ((r = make_parent(path)) < 0)
		return r;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	(void)unlink(path);	/* a stale socket from a killed agent */
	/* Anyone may connect, so that a refusal is an answer and a log line;
	 * SO_PEERCRED decides before any message is read. */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0666) < 0 || listen(fd, 64) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	a->listen_fd = fd;
	return 0;
}

static bool
peer_is_root(int fd, pid_t *pid, uid_t *uid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	*pid = cred.pid;
	*uid = cred.uid;
	return cred.uid == 0;
}

static struct client *
find_client(struct agent *a, int fd, size_t *ret_i)
{
	size_t i;

	for (i = 0; i < a->n_clients; i++)
		if (a->clients[i]->fd == fd) {
			if (ret_i != NULL)
				*ret_i = i;
			return a->clients[i];
		}
	return NULL;
}

/* Queue and try to send the 12-byte answer to a message of client c. */
static void
reply(struct agent *a, struct client *c, int32_t status, uint64_t seq)
{
	uint8_t *b;
	size_t i;
	int k;

	if (c->inflight > 0)
		c->inflight--;
	if (c->out_len + REPLY_LEN > sizeof(c->out))
		return;	/* cannot happen: inflight bounds the queue */
	b = c->out + c->out_len;
	for (k = 0; k < 4; k++)
		b[k] = (uint8_t)((uint32_t)status >> (24 - 8 * k));
	for (k = 0; k < 8; k++)
		b[4 + k] = (uint8_t)(seq >> (56 - 8 * k));
	c->out_len += REPLY_LEN;
	if (find_client(a, c->fd, &i) != NULL)
		(void)intake_flush(a, i);
}

bool
intake_flush(struct agent *a, size_t i)
{
	struct client *c = a->clients[i];
	size_t off = 0;
	ssize_t n;

	while (off < c->out_len) {
		n = send(c->fd, c->out + off, REPLY_LEN, MSG_NOSIGNAL |
		    MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;	/* the rest when the client reads (POLLOUT) */
		if (n != (ssize_t)REPLY_LEN) {
			intake_close_client(a, i);
			return false;
		}
		off += REPLY_LEN;
	}
	memmove(c->out, c->out + off, c->out_len - off);
	c->out_len -= off;
	return true;
}

bool
intake_readable(const struct agent *a, size_t i)
{
	const struct client *c = a->clients[i];

	return c->inflight + c->out_len / REPLY_LEN < CLIENT_INFLIGHT_MAX;
}

void
intake_accept(struct agent *a)
{
	struct client *c;
	pid_t pid = 0;
	uid_t uid = 0;
	int fd;

	fd = accept4(a->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	c = a->n_clients < AGENT_CLIENTS_MAX ? calloc(1, sizeof(*c)) : NULL;
	if (c == NULL) {
		close(fd);	/* busy: the client falls back to its drop file */
		return;
	}
	c->fd = fd;
	/* A refused peer is answered when its message arrives (closing on
	 * unread data would turn the answer into ECONNRESET); its bytes are
	 * discarded unread. */
	c->refused = !peer_is_root(fd, &pid, &uid);
	if (c->refused)
		fprintf(stderr, SD_WARNING "refused event submission from pid "
		    "%d uid %u: only root may submit\n", (int)pid,
		    (unsigned)uid);
	a->clients[a->n_clients++] = c;
}

void
intake_close_client(struct agent *a, size_t i)
{
	size_t k = 0, j;
	int fd = a->clients[i]->fd;

	/* Forget acknowledgements owed to it: the fd number will be reused. */
	for (j = 0; j < a->n_pend; j++)
		if (a->pend[j].fd != fd)
			a->pend[k++] = a->pend[j];
	a->n_pend = k;
	close(fd);
	free(a->clients[i]);
	a->n_clients--;
	a->clients[i] = a->clients[a->n_clients];
}

int
agent_commit(struct agent *a)
{
	size_t i;
	int r = spool_commit(a->spool);

	if (r < 0)
		fprintf(stderr, SD_CRIT "spool commit failed: %s\n",
		    strerror(-r));
	for (i = 0; i < a->n_pend; i++) {
		struct client *c = find_client(a, a->pend[i].fd, NULL);

		if (c != NULL)
			reply(a, c, r, r < 0 ? 0 : a->pend[i].seq);
	}
	a->n_pend = 0;
	a->commit_deadline_ms = 0;
	if (r == 0)
		ship_kick(a->shipper);
	return r;
}

/* The udev helper asks for a decision; answered at once, like STATUS. */
static void
device_request(struct agent *a, int fd, const struct mg_submit *s)
{
	struct sbuf out;
	int r;

	sbuf_init(&out, 4096);
	if (sbuf_put(&out, "\0\0\0\0", 4) < 0)
		return;
	r = devices_request(a, s->flags, s->f[0].val, s->f[0].len, &out);
	if (r < 0) {
		uint32_t u = (uint32_t)r;	/* two's complement, big-endian */

		out.len = 4;
		out.data[0] = (char)(u >> 24);
		out.data[1] = (char)(u >> 16);
		out.data[2] = (char)(u >> 8);
		out.data[3] = (char)u;
	}
	(void)send(fd, out.data, out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	sbuf_clear(&out);
}

static void
submit(struct agent *a, struct client *c, const struct mg_submit *s)
{
	const char *why = NULL;
	uint64_t seq = 0;
	bool critical = false;
	int r;

	r = emit_event(&a->em, s->type, s->f, s->n, s->flags, &seq, &critical,
	    &why);
	if (r < 0) {
		fprintf(stderr, r == -EINVAL ? SD_WARNING "refused event: %s\n"
		    : SD_ERR "cannot store event: %s\n",
		    r == -EINVAL && why ? why : strerror(-r));
		reply(a, c, r, 0);
		return;
	}
	a->pend[a->n_pend].fd = c->fd;
	a->pend[a->n_pend].seq = seq;
	a->n_pend++;
	/* Critical events are on disk before anyone hears they are. */
	if (critical || a->n_pend == PENDING_MAX || a->cfg.commit_ms == 0)
		(void)agent_commit(a);
	else if (a->commit_deadline_ms == 0)
		a->commit_deadline_ms = agent_now_ms() + a->cfg.commit_ms;
}

bool
intake_client(struct agent *a, size_t i)
{
	static uint8_t buf[MG_IPC_MSG_MAX + 1];
	struct client *c = a->clients[i];
	struct mg_submit s;
	struct sbuf st;
	const char *why = NULL;
	int fd = c->fd, type;
	ssize_t n;

	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0) {
		intake_close_client(a, i);
		return false;
	}
	c->inflight++;
	if (c->refused) {
		reply(a, c, -EACCES, 0);
		return true;
	}
	type = (size_t)n > MG_IPC_MSG_MAX ? -EBADMSG :
	    mg_ipc_decode(buf, (size_t)n, &s, &why);
	if (type == MG_IPC_SUBMIT) {
		submit(a, c, &s);
	} else if (type == MG_IPC_DEVICE) {
		c->inflight--;
		device_request(a, fd, &s);
	} else if (type == MG_IPC_DEVICES) {
		c->inflight--;
		sbuf_init(&st, MG_IPC_MSG_MAX);
		if (sbuf_put(&st, "\0\0\0\0", 4) == 0 &&
		    devices_table(a, &st) == 0)
			(void)send(fd, st.data, st.len, MSG_NOSIGNAL |
			    MSG_DONTWAIT);
		sbuf_clear(&st);
	} else if (type == MG_IPC_STATUS) {
		/* Answered at once, outside the reply queue: a status
		 * client waits for nothing else. */
		c->inflight--;
		sbuf_init(&st, MG_IPC_MSG_MAX);
		if (sbuf_put(&st, "\0\0\0\0", 4) == 0 &&
		    agent_status_json(a, &st) == 0)
			(void)send(fd, st.data, st.len, MSG_NOSIGNAL |
			    MSG_DONTWAIT);
		sbuf_clear(&st);
	} else {
		fprintf(stderr, SD_WARNING "malformed message from a local "
		    "client: %s\n", why != NULL ? why : "too long");
		reply(a, c, -EBADMSG, 0);
	}
	return true;
}

/* Ingest one drop file; 0 ingested, <0 refused (moved to rejected/). */
static int
ingest_file(struct agent *a, int dfd, const char *name)
{
	char path[1100];
	char *text = NULL;
	size_t len = 0;
	struct mg_submit s;
	const char *why = "unreadable";
	uint64_t seq;
	int r;

	snprintf(path, sizeof(path), "%s/%s", a->cfg.drop_dir, name);
	r = file_read_all(path, MG_IPC_MSG_MAX, FILE_TRUSTED, &text, &len);
	if (r == 0 && mg_ipc_decode((const uint8_t *)text, len, &s, &why) !=
	    MG_IPC_SUBMIT)
		r = -EBADMSG;
	if (r == 0)
		r = emit_event(&a->em, s.type, s.f, s.n, s.flags, &seq, NULL,
		    &why);
	free(text);
	/* On disk in the spool before the drop file goes. */
	if (r == 0 && (r = agent_commit(a)) == 0)
		return unlinkat(dfd, name, 0) < 0 ? -errno : 0;
	fprintf(stderr, SD_WARNING "drop file %s refused: %s\n", name,
	    r == -EBADMSG || r == -EINVAL ? why : strerror(-r));
	(void)mkdirat(dfd, "rejected", 0700);
	snprintf(path, sizeof(path), "rejected/%s", name);
	(void)renameat(dfd, name, dfd, path);
	return r;
}

int
intake_drop_dir(struct agent *a)
{
	struct dirent *de;
	DIR *d;
	int dfd, n = 0;

	if (mkdir(a->cfg.drop_dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	dfd = open(a->cfg.drop_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	d = opendir(a->cfg.drop_dir);
	if (d == NULL) {
		close(dfd);
		return -errno;
	}
	/* Order does not matter for integrity: each gets a fresh seq. */
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (l < 5 || de->d_name[0] == '.' ||
		    strcmp(de->d_name + l - 4, ".evt") != 0)
			continue;
		if (ingest_file(a, dfd, de->d_name) == 0)
			n++;
	}
	closedir(d);
	close(dfd);
	return n;
}
