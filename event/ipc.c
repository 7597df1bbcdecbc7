/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Local submission: PAM module, CLI and udev helper -> agent, over a
 * SOCK_SEQPACKET socket (one message per packet) or, when the agent is not
 * running, a file in its root-only drop directory.  The decoder sees bytes
 * from other processes and is fuzzed (fuzz_ipc.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* Event types a local program may submit; the rest are the agent's own. */
static bool
submittable(unsigned t)
{
	/* Device events come from the udev helper when the agent could not
	 * answer it, login and key events from the PAM module and the CLI;
	 * the socket and drop directory are root's alone. */
	return t == MG_EV_TEST || (t >= MG_EV_DEVICE_ALLOWED &&
	    t <= MG_EV_DEVICE_ENFORCE_FAILED) ||
	    (t >= MG_EV_LOGIN_SUCCEEDED && t <= MG_EV_KEY_REVOKED);
}

int
mg_ipc_encode_submit(const struct mg_submit *s, struct sbuf *out)
{
	uint8_t h[14];
	size_t i, len = 6;
	int r;

	if (s == NULL || out == NULL || s->n > MG_FIELDS_MAX ||
	    !submittable(s->type))
		return -EINVAL;
	for (i = 0; i < s->n; i++) {
		if (s->f[i].len > MG_FIELD_MAX_LEN)
			return -E2BIG;
		len += 4 + s->f[i].len;
	}
	be32(h, (uint32_t)MG_IPC_SUBMIT);
	be32(h + 4, (uint32_t)len);
	be16(h + 8, (uint16_t)s->type);
	be16(h + 10, s->flags);
	be16(h + 12, (uint16_t)s->n);
	if ((r = sbuf_put(out, h, sizeof(h))) < 0)
		return r;
	for (i = 0; i < s->n; i++) {
		be16(h, (uint16_t)s->f[i].id);
		be16(h + 2, (uint16_t)s->f[i].len);
		if ((r = sbuf_put(out, h, 4)) < 0 ||
		    (r = sbuf_put(out, s->f[i].val, s->f[i].len)) < 0)
			return r;
	}
	return 0;
}

static int
bad(const char **ret_why, const char *msg)
{
	if (ret_why != NULL)
		*ret_why = msg;
	return -EBADMSG;
}

static int
decode_submit(const uint8_t *p, size_t len, struct mg_submit *s,
    const char **ret_why)
{
	size_t off = 6, i, flen;

	if (len < 6)
		return bad(ret_why, "short submit message");
	s->type = (enum mg_event_type)rd16(p);
	s->flags = rd16(p + 2);
	s->n = rd16(p + 4);
	if (!submittable(s->type))
		return bad(ret_why, "event type may not be submitted");
	if (s->flags & ~MG_REC_F_CRITICAL)
		return bad(ret_why, "unknown flags");
	if (s->n > MG_FIELDS_MAX)
		return bad(ret_why, "too many fields");
	for (i = 0; i < s->n; i++) {
		if (len - off < 4)
			return bad(ret_why, "truncated field");
		s->f[i].id = (enum mg_field)rd16(p + off);
		flen = rd16(p + off + 2);
		off += 4;
		if (flen > MG_FIELD_MAX_LEN || flen > len - off)
			return bad(ret_why, "bad field length");
		s->f[i].val = (const char *)p + off;
		s->f[i].len = flen;
		off += flen;
	}
	if (off != len)
		return bad(ret_why, "trailing bytes");
	return 0;
}

static int
decode_device(const uint8_t *p, size_t len, struct mg_submit *ret,
    const char **ret_why)
{
	uint32_t op;

	if (len < 4 + 6 || len > 4 + MG_IPC_PATH_MAX)
		return bad(ret_why, "bad device request size");
	op = rd32(p);
	if (op != MG_IPC_DEVICE_USB && op != MG_IPC_DEVICE_BLOCK)
		return bad(ret_why, "unknown device operation");
	if (memcmp(p + 4, "/sys/", 5) != 0 || memchr(p + 4, 0, len - 4))
		return bad(ret_why, "device path must be under /sys");
	ret->flags = (uint16_t)op;
	ret->f[0].val = (const char *)p + 4;
	ret->f[0].len = len - 4;
	ret->n = 1;
	return MG_IPC_DEVICE;
}

int
mg_ipc_encode_device(uint32_t op, const char *path, struct sbuf *out)
{
	uint8_t h[12];
	size_t n;
	int r;

	if (path == NULL || out == NULL)
		return -EINVAL;
	n = strlen(path);
	if (n < 6 || n > MG_IPC_PATH_MAX || strncmp(path, "/sys/", 5) != 0)
		return -EINVAL;
	be32(h, (uint32_t)MG_IPC_DEVICE);
	be32(h + 4, (uint32_t)(4 + n));
	be32(h + 8, op);
	if ((r = sbuf_put(out, h, sizeof(h))) < 0)
		return r;
	return sbuf_put(out, path, n);
}

int
mg_ipc_decode(const uint8_t *buf, size_t len, struct mg_submit *ret,
    const char **ret_why)
{
	uint32_t type, plen;
	int r;

	if (buf == NULL || ret == NULL)
		return -EINVAL;
	if (len < 8 || len > MG_IPC_MSG_MAX)
		return bad(ret_why, "bad message size");
	type = rd32(buf);
	plen = rd32(buf + 4);
	if (plen != len - 8)
		return bad(ret_why, "length does not match");
	memset(ret, 0, sizeof(*ret));
	switch (type) {
	case MG_IPC_SUBMIT:
		if ((r = decode_submit(buf + 8, plen, ret, ret_why)) < 0)
			return r;
		return MG_IPC_SUBMIT;
	case MG_IPC_STATUS:
		return plen == 0 ? MG_IPC_STATUS :
		    bad(ret_why, "status takes no payload");
	case MG_IPC_DEVICE:
		return decode_device(buf + 8, plen, ret, ret_why);
	case MG_IPC_DEVICES:
		return plen == 0 ? MG_IPC_DEVICES :
		    bad(ret_why, "device list takes no payload");
	default:
		return bad(ret_why, "unknown message type");
	}
}

int
mg_ipc_connect(const char *path, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* Send msg and read the 12-byte reply; -errno, or the agent's status. */
static int
exchange(int fd, const struct sbuf *msg, uint64_t *ret_seq)
{
	uint8_t reply[12];
	ssize_t n;
	int32_t status;

	n = send(fd, msg->data, msg->len, MSG_NOSIGNAL);
	/* An agent that refuses us (not root) answers and hangs up before
	 * reading: its answer is still there to read. */
	if (n < 0 && errno != EPIPE && errno != ECONNRESET)
		return -errno;
	if (n >= 0 && (size_t)n != msg->len)
		return -EIO;
	n = recv(fd, reply, sizeof(reply), n < 0 ? MSG_DONTWAIT : 0);
	if (n < 0)
		return errno == EAGAIN ? -ETIMEDOUT : -errno;
	if (n != (ssize_t)sizeof(reply))
		return -EPROTO;
	status = (int32_t)rd32(reply);
	if (status > 0)
		return -EPROTO;
	if (status < 0)
		return status;
	*ret_seq = rd64(reply + 4);
	return 0;
}

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Durably leave msg in dir as <time>-<pid>-<n>.evt (write, fsync, rename,
 * fsync the directory): the agent ingests it when it starts. */
static int
drop(const char *dir, const struct sbuf *msg)
{
	char tmp[1024], final[1024];
	struct timespec ts;
	int fd = -1, dfd = -1, r;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (snprintf(tmp, sizeof(tmp), "%s/.tmp-XXXXXX", dir) >=
	    (int)sizeof(tmp) ||
	    snprintf(final, sizeof(final), "%s/%lld%09ld-%d.evt", dir,
	    (long long)ts.tv_sec, ts.tv_nsec, (int)getpid()) >=
	    (int)sizeof(final))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if ((r = write_all(fd, msg->data, msg->len)) < 0)
		goto fail;
	if (fsync(fd) < 0 || rename(tmp, final) < 0) {
		r = -errno;
		goto fail;
	}
	close(fd);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	r = fsync(dfd) < 0 ? -errno : 0;
	close(dfd);
	return r;
fail:
	close(fd);
	unlink(tmp);
	return r;
}

int
mg_submit_event(const char *sock_path, const char *drop_dir,
    const struct mg_submit *s, int timeout_ms, uint64_t *ret_seq)
{
	struct sbuf msg;
	uint64_t seq = 0;
	int fd = -1, r;

	if (sock_path == NULL || s == NULL || timeout_ms <= 0)
		return -EINVAL;
	sbuf_init(&msg, MG_IPC_MSG_MAX);
	if ((r = mg_ipc_encode_submit(s, &msg)) < 0)
		goto out;
	fd = mg_ipc_connect(sock_path, timeout_ms);
	if (fd >= 0) {
		r = exchange(fd, &msg, &seq);
		close(fd);
		if (r == 0) {
			if (ret_seq != NULL)
				*ret_seq = seq;
			goto out;
		}
		/* The agent refused the event itself: do not drop it. */
		if (r != -ETIMEDOUT && r != -EPIPE && r != -ECONNRESET)
			goto out;
	}
	r = drop_dir != NULL ? drop(drop_dir, &msg) : fd;
	if (r == 0)
		r = 1;
out:
	sbuf_clear(&msg);
	return r;
}
