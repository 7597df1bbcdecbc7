/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * uevlat: the guest's stopwatch for bench/vm/run.sh (README.md there).
 * Built on the host, run in the VM (which runs the host's root file system).
 *
 *   uevlat disk [--race OFFSET] [--no-poll] [options]
 *   uevlat usb [--no-poll] [options]
 *     --interval-us U   poll period (default 500)
 *     --timeout-ms T    give up polling after T ms (default 10000)
 *     --wait-ms W       give up waiting for the uevent after W ms (default 60000)
 *     --ready FILE      create FILE once the uevent socket listens
 *     --fifo PRIO       SCHED_FIFO priority, 0 for none (default 50)
 *     --no-poll         only the event's time (and the racer's outcome)
 *
 * Listens on a raw NETLINK_KOBJECT_UEVENT socket (group 1: the kernel's own
 * events, before udev) and stamps the first matching "add" with
 * CLOCK_MONOTONIC ("t0_ns"):
 *   disk: a whole disk sd*;
 *   usb:  a usb_device that is not a root hub.
 * Then it polls until the decision is in force, "lat_ms" after the event:
 *   disk: BLKROGET on /dev/sdX reads 1 (read-only);
 *   usb:  the device's sysfs "authorized" reads 1.
 * With --no-poll it prints t0_ns and leaves the rest to the kernel's trace
 * buffer (bench.py: ftrace with trace_clock=mono, the same clock): under TCG
 * one poll costs about 2 ms of the guest's only vCPU, so polling every
 * 0.5 ms starves the very daemon it times.  Polling runs at SCHED_FIFO, or
 * the stopwatch would often get the CPU only after the daemon finished.
 *
 * With --race, a second thread (SCHED_OTHER) opens the disk O_WRONLY|O_DIRECT
 * the moment the event arrives and writes 4 KiB at OFFSET, as a root process
 * racing the enforcer would; its outcome is reported.  One JSON line on stdout.
 * Exit status: 0 decided, 1 poll timeout, 2 no event, 3 usage or setup.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/netlink.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define UEV_BUF 8192
#define RACE_LEN 4096

struct opts {
	bool disk, poll;
	long interval_us, timeout_ms, wait_ms, fifo;
	long long race_off;	/* < 0: no racer */
	const char *ready;
};

struct uev {
	char action[16], devpath[512], subsystem[32], devtype[32];
	char devname[64];
	unsigned long long seqnum;
};

struct racer {
	char node[80];
	long long off;
	int64_t t0_ns;
	int64_t open_ns, write_ns, done_ns;	/* after t0; -1: not reached */
	int err;	/* 0: written and synced */
	int tries;
};

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double
ms(int64_t ns)
{
	return (double)ns / 1e6;
}

static void
sleep_us(long us)
{
	struct timespec ts = { .tv_sec = us / 1000000,
	    .tv_nsec = (us % 1000000) * 1000 };

	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
}

static int
parse_long(const char *s, long long min, long long max, long long *ret)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* One numeric option; -EINVAL for an unknown name or a value out of range. */
static int
set_num(struct opts *o, const char *name, long long v)
{
	if (strcmp(name, "--interval-us") == 0 && v >= 10)
		o->interval_us = (long)v;
	else if (strcmp(name, "--timeout-ms") == 0 && v > 0)
		o->timeout_ms = (long)v;
	else if (strcmp(name, "--wait-ms") == 0 && v > 0)
		o->wait_ms = (long)v;
	else if (strcmp(name, "--fifo") == 0 && v <= 99)
		o->fifo = (long)v;
	else if (strcmp(name, "--race") == 0 && o->disk && v % 512 == 0)
		o->race_off = v;	/* O_DIRECT: sector-aligned */
	else
		return -EINVAL;
	return 0;
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	long long v;
	int i;

	*o = (struct opts){ .interval_us = 500, .timeout_ms = 10000,
	    .wait_ms = 60000, .fifo = 50, .race_off = -1, .poll = true };
	if (argc < 2)
		return -EINVAL;
	if (strcmp(argv[1], "disk") == 0)
		o->disk = true;
	else if (strcmp(argv[1], "usb") != 0)
		return -EINVAL;
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--no-poll") == 0) {
			o->poll = false;
			continue;
		}
		if (i + 1 == argc)
			return -EINVAL;
		if (strcmp(argv[i], "--ready") == 0)
			o->ready = argv[i + 1];
		else if (parse_long(argv[i + 1], 0, 1LL << 40, &v) < 0 ||
		    set_num(o, argv[i], v) < 0)
			return -EINVAL;
		i++;
	}
	return 0;
}

static int
open_uevents(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 1 };
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
	    NETLINK_KOBJECT_UEVENT);
	int sz = 4 << 20;

	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

static void
copy_val(char *dst, size_t size, const char *kv, size_t klen)
{
	snprintf(dst, size, "%s", kv + klen);
}

/* "add@/devpath\0KEY=VALUE\0..." from the kernel. */
static void
parse_uevent(const char *buf, size_t len, struct uev *u)
{
	size_t i = strnlen(buf, len) + 1;

	memset(u, 0, sizeof(*u));
	for (; i < len; i += strnlen(buf + i, len - i) + 1) {
		const char *kv = buf + i;

		if (strncmp(kv, "ACTION=", 7) == 0)
			copy_val(u->action, sizeof(u->action), kv, 7);
		else if (strncmp(kv, "DEVPATH=", 8) == 0)
			copy_val(u->devpath, sizeof(u->devpath), kv, 8);
		else if (strncmp(kv, "SUBSYSTEM=", 10) == 0)
			copy_val(u->subsystem, sizeof(u->subsystem), kv, 10);
		else if (strncmp(kv, "DEVTYPE=", 8) == 0)
			copy_val(u->devtype, sizeof(u->devtype), kv, 8);
		else if (strncmp(kv, "DEVNAME=", 8) == 0)
			copy_val(u->devname, sizeof(u->devname), kv, 8);
		else if (strncmp(kv, "SEQNUM=", 7) == 0)
			u->seqnum = strtoull(kv + 7, NULL, 10);
	}
}

static bool
wanted(const struct opts *o, const struct uev *u)
{
	const char *last = strrchr(u->devpath, '/');

	if (strcmp(u->action, "add") != 0 || last == NULL)
		return false;
	if (o->disk)
		return strcmp(u->subsystem, "block") == 0 &&
		    strcmp(u->devtype, "disk") == 0 &&
		    strncmp(u->devname, "sd", 2) == 0 &&
		    strchr(u->devname, '/') == NULL;
	/* Root hubs are "usbN"; devices are "B-P[.P...]". */
	return strcmp(u->subsystem, "usb") == 0 &&
	    strcmp(u->devtype, "usb_device") == 0 &&
	    strncmp(last + 1, "usb", 3) != 0;
}

/* The first wanted uevent; its arrival time in *t0. */
static int
wait_uevent(int fd, const struct opts *o, struct uev *u, int64_t *t0)
{
	static char buf[UEV_BUF];
	int64_t deadline = now_ns() + (int64_t)o->wait_ms * 1000000;
	struct sockaddr_nl sa;
	socklen_t sl;
	ssize_t n;

	for (;;) {
		int64_t left = deadline - now_ns();
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)(left / 1000000) + 1) <= 0)
			continue;
		sl = sizeof(sa);
		n = recvfrom(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT,
		    (struct sockaddr *)&sa, &sl);
		*t0 = now_ns();
		if (n <= 0 || sa.nl_pid != 0)
			continue;	/* only the kernel's own messages */
		buf[n] = '\0';
		parse_uevent(buf, (size_t)n, u);
		if (wanted(o, u))
			return 0;
	}
}

static void *
race(void *arg)
{
	struct racer *r = arg;
	void *blk = NULL;
	int fd = -1;

	r->open_ns = r->write_ns = r->done_ns = -1;
	if (posix_memalign(&blk, 4096, RACE_LEN) != 0) {
		r->err = ENOMEM;
		return NULL;
	}
	memset(blk, 'R', RACE_LEN);
	memcpy(blk, "MGBENCH-RACE-WRITE", 18);
	/* The node exists before the uevent (devtmpfs); retry briefly. */
	for (r->tries = 1; r->tries <= 1000; r->tries++) {
		fd = open(r->node, O_WRONLY | O_DIRECT | O_CLOEXEC);
		if (fd >= 0 || (errno != ENOENT && errno != ENXIO))
			break;
		sleep_us(1000);
	}
	if (fd < 0) {
		r->err = errno;
		free(blk);
		return NULL;
	}
	r->open_ns = now_ns() - r->t0_ns;
	/* The block layer checks the read-only flag when the write enters
	 * (blkdev_write_iter), so write_ms is the moment that counts. */
	r->write_ns = now_ns() - r->t0_ns;
	if (pwrite(fd, blk, RACE_LEN, (off_t)r->off) != RACE_LEN)
		r->err = errno != 0 ? errno : EIO;
	else if (fdatasync(fd) < 0)
		r->err = errno;
	r->done_ns = now_ns() - r->t0_ns;
	close(fd);
	free(blk);
	return NULL;
}

/* The racer is an ordinary root process (SCHED_OTHER), not the stopwatch's
 * SCHED_FIFO: a real-time racer would only measure the scheduler. */
static int
start_racer(pthread_t *th, struct racer *rc)
{
	struct sched_param sp = { .sched_priority = 0 };
	pthread_attr_t at;
	int r;

	if ((r = pthread_attr_init(&at)) != 0)
		return -r;
	r = pthread_attr_setinheritsched(&at, PTHREAD_EXPLICIT_SCHED);
	if (r == 0)
		r = pthread_attr_setschedpolicy(&at, SCHED_OTHER);
	if (r == 0)
		r = pthread_attr_setschedparam(&at, &sp);
	if (r == 0)
		r = pthread_create(th, &at, race, rc);
	pthread_attr_destroy(&at);
	return -r;
}

/* 1 once the decision is in force, 0 not yet, -errno. */
static int
probe(const struct opts *o, int fd)
{
	char b[8];
	ssize_t n;
	int ro = 0;

	if (o->disk)
		return ioctl(fd, BLKROGET, &ro) < 0 ? -errno : ro != 0;
	n = pread(fd, b, sizeof(b) - 1, 0);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	return b[0] == '1';
}

static int
open_target(const struct opts *o, const struct uev *u, char *node,
    size_t size)
{
	if (o->disk)
		snprintf(node, size, "/dev/%s", u->devname);
	else
		snprintf(node, size, "/sys%s/authorized", u->devpath);
	return open(node, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
}

static void
print_race(const struct racer *r)
{
	printf(",\"race\":{\"offset\":%lld,\"result\":\"%s\",\"errno\":%d,"
	    "\"open_ms\":%.3f,\"write_ms\":%.3f,\"done_ms\":%.3f,"
	    "\"tries\":%d}", r->off,
	    r->err == 0 ? "written" : strerrorname_np(r->err) != NULL ?
	    strerrorname_np(r->err) : "error", r->err,
	    r->open_ns < 0 ? -1.0 : ms(r->open_ns),
	    r->write_ns < 0 ? -1.0 : ms(r->write_ns),
	    r->done_ns < 0 ? -1.0 : ms(r->done_ns), r->tries);
}

static int
measure(const struct opts *o, const struct uev *u, int64_t t0)
{
	struct racer rc = { .off = o->race_off, .t0_ns = t0 };
	pthread_t th;
	bool racing = false;
	char node[600];
	int64_t t_open, t_in = -1, deadline = t0 + (int64_t)o->timeout_ms *
	    1000000;
	long polls = 0;
	int fd, first = -1, v = 0;

	if (o->race_off >= 0) {
		snprintf(rc.node, sizeof(rc.node), "/dev/%s", u->devname);
		racing = start_racer(&th, &rc) == 0;
	}
	fd = o->poll ? open_target(o, u, node, sizeof(node)) : -1;
	t_open = now_ns() - t0;
	while (fd >= 0) {
		v = probe(o, fd);
		polls++;
		if (first < 0)
			first = v;
		if (v != 0) {
			t_in = now_ns() - t0;
			break;
		}
		if (now_ns() > deadline)
			break;
		sleep_us(o->interval_us);
	}
	if (racing)
		pthread_join(th, NULL);
	printf("{\"kind\":\"%s\",\"dev\":\"%s\",\"devpath\":\"%s\","
	    "\"seqnum\":%llu,\"t0_ns\":%lld", o->disk ? "disk" : "usb",
	    o->disk ? u->devname : strrchr(u->devpath, '/') + 1, u->devpath,
	    u->seqnum, (long long)t0);
	if (o->poll) {
		printf(",\"open_ms\":%.3f", ms(t_open));
		if (fd < 0)
			printf(",\"error\":\"open %s: %s\"", node,
			    strerror(errno));
		else if (v < 0)
			printf(",\"error\":\"probe: %s\"", strerror(-v));
		if (t_in >= 0)
			printf(",\"lat_ms\":%.3f", ms(t_in));
		else
			printf(",\"lat_ms\":null,\"timeout\":true");
		printf(",\"polls\":%ld,\"first\":%d", polls, first);
	}
	if (racing)
		print_race(&rc);
	printf("}\n");
	if (fd >= 0)
		close(fd);
	return t_in >= 0 || !o->poll ? 0 : 1;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct uev u;
	int64_t t0 = 0;
	int fd, r;

	if (parse_opts(argc, argv, &o) < 0) {
		fprintf(stderr, "usage: uevlat disk|usb [--race OFFSET] [--no-poll] "
		    "[--interval-us U] [--timeout-ms T] [--wait-ms W] "
		    "[--fifo PRIO] [--ready FILE]\n");
		return 3;
	}
	if (o.fifo > 0) {
		struct sched_param sp = { .sched_priority = (int)o.fifo };

		if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0) {
			fprintf(stderr, "uevlat: SCHED_FIFO: %s\n",
			    strerror(errno));
			return 3;
		}
	}
	if ((fd = open_uevents()) < 0) {
		fprintf(stderr, "uevlat: uevent socket: %s\n", strerror(-fd));
		return 3;
	}
	if (o.ready != NULL) {
		r = open(o.ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (r < 0) {
			fprintf(stderr, "uevlat: %s: %s\n", o.ready,
			    strerror(errno));
			return 3;
		}
		close(r);
	}
	if (wait_uevent(fd, &o, &u, &t0) < 0) {
		printf("{\"kind\":\"%s\",\"error\":\"no uevent\"}\n",
		    o.disk ? "disk" : "usb");
		return 2;
	}
	close(fd);
	r = measure(&o, &u, t0);
	fflush(stdout);
	return r;
}
