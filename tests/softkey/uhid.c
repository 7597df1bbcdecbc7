/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * softkey-uhid STATE [--ready-file PATH]: the softkey as a USB HID device
 * through /dev/uhid (for VM tests; needs root or access to /dev/uhid).
 *
 * The device is BUS_USB 1209:0001 ("Test PID" of pid.codes, for private
 * testing only) named "mynaguard softkey", with a FIDO report descriptor
 * (usage page 0xF1D0, usage 0x01, 64-byte input and output reports), which
 * is what libfido2's hid_linux.c looks for.  Output reports go to the
 * framing layer; its input reports (replies, keepalives) go back as
 * UHID_INPUT2.  The ready file is written after UHID_START.  SIGTERM or
 * SIGINT destroy the device and end the program.  One run is one
 * power-up of the key.
 */

#include <errno.h>
#include <fcntl.h>
#include <linux/uhid.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "softkey.h"

#define VENDOR 0x1209  /* pid.codes */
#define PRODUCT 0x0001 /* pid.codes Test PID */
#define DEV_NAME "mynaguard softkey"

/* FIDO Alliance HID usage page, CTAPHID, 64-byte reports each way. */
static const uint8_t report_desc[] = {
	0x06, 0xd0, 0xf1, /* Usage Page (FIDO Alliance) */
	0x09, 0x01,	  /* Usage (CTAPHID) */
	0xa1, 0x01,	  /* Collection (Application) */
	0x09, 0x20,	  /*   Usage (Input Report Data) */
	0x15, 0x00,	  /*   Logical Minimum (0) */
	0x26, 0xff, 0x00, /*   Logical Maximum (255) */
	0x75, 0x08,	  /*   Report Size (8) */
	0x95, 0x40,	  /*   Report Count (64) */
	0x81, 0x02,	  /*   Input (Data, Var, Abs) */
	0x09, 0x21,	  /*   Usage (Output Report Data) */
	0x15, 0x00,	  /*   Logical Minimum (0) */
	0x26, 0xff, 0x00, /*   Logical Maximum (255) */
	0x75, 0x08,	  /*   Report Size (8) */
	0x95, 0x40,	  /*   Report Count (64) */
	0x91, 0x02,	  /*   Output (Data, Var, Abs) */
	0xc0,		  /* End Collection */
};

static volatile sig_atomic_t arg_stop;

static void
on_signal(int sig)
{
	(void)sig;
	arg_stop = 1;
}

static int
send_event(int fd, const struct uhid_event *ev)
{
	ssize_t n;

	do {
		n = write(fd, ev, sizeof(*ev));
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == (ssize_t)sizeof(*ev) ? 0 : -EIO;
}

static int
create_device(int fd, struct uhid_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = UHID_CREATE2;
	memcpy(ev->u.create2.name, DEV_NAME, sizeof(DEV_NAME));
	ev->u.create2.rd_size = sizeof(report_desc);
	memcpy(ev->u.create2.rd_data, report_desc, sizeof(report_desc));
	ev->u.create2.bus = BUS_USB;
	ev->u.create2.vendor = VENDOR;
	ev->u.create2.product = PRODUCT;
	return send_event(fd, ev);
}

static void
destroy_device(int fd, struct uhid_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = UHID_DESTROY;
	(void)send_event(fd, ev);
}

static int
write_ready(const char *path)
{
	int fd;

	if (path == NULL)
		return 0;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) <
	    0)
		return -errno;
	if (write(fd, "ready\n", 6) != 6 || close(fd) < 0)
		return -EIO;
	return 0;
}

/* Hand every queued input report to the kernel. */
static int
flush_reports(int fd, struct softkey *sk, struct uhid_event *ev)
{
	uint8_t buf[SOFTKEY_REPORT_LEN];
	int r;

	while ((r = softkey_hid_read(sk, buf, sizeof(buf), 0)) > 0) {
		memset(ev, 0, sizeof(*ev));
		ev->type = UHID_INPUT2;
		ev->u.input2.size = SOFTKEY_REPORT_LEN;
		memcpy(ev->u.input2.data, buf, SOFTKEY_REPORT_LEN);
		if ((r = send_event(fd, ev)) < 0)
			return r;
	}
	return r == -ETIMEDOUT ? 0 : r;
}

/* GET_REPORT/SET_REPORT are not part of CTAPHID: refuse, but answer,
 * or the kernel waits for the reply. */
static int
refuse_report(int fd, struct uhid_event *ev)
{
	uint32_t id = ev->type == UHID_GET_REPORT ? ev->u.get_report.id :
						    ev->u.set_report.id;
	bool get = ev->type == UHID_GET_REPORT;

	memset(ev, 0, sizeof(*ev));
	if (get) {
		ev->type = UHID_GET_REPORT_REPLY;
		ev->u.get_report_reply.id = id;
		ev->u.get_report_reply.err = EIO;
	} else {
		ev->type = UHID_SET_REPORT_REPLY;
		ev->u.set_report_reply.id = id;
		ev->u.set_report_reply.err = EIO;
	}
	return send_event(fd, ev);
}

/* One event from the kernel. */
static int
handle_event(int fd, struct softkey *sk, struct uhid_event *ev,
    const char *ready, bool *gone)
{
	ssize_t n;
	int r;

	if ((n = read(fd, ev, sizeof(*ev))) < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	if ((size_t)n < sizeof(ev->type))
		return -EPROTO;
	switch (ev->type) {
	case UHID_START:
		if ((r = write_ready(ready)) < 0)
			fprintf(stderr, "softkey-uhid: %s: %s\n", ready,
			    strerror(-r));
		return r;
	case UHID_OUTPUT:
		if (ev->u.output.size > sizeof(ev->u.output.data))
			return -EPROTO;
		r = softkey_hid_write(sk, ev->u.output.data, ev->u.output.size);
		if (r == -ENODEV && !*gone) {
			*gone = true; /* remove_after: unplug */
			destroy_device(fd, ev);
		}
		return 0;
	case UHID_GET_REPORT:
	case UHID_SET_REPORT:
		return refuse_report(fd, ev);
	default: /* OPEN, CLOSE, STOP */
		return 0;
	}
}

static int
run(int fd, struct softkey *sk, const char *ready, const sigset_t *orig)
{
	struct uhid_event *ev;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct timespec ts, *tsp;
	bool gone = false;
	int ms, r = 0;

	if ((ev = calloc(1, sizeof(*ev))) == NULL)
		return -ENOMEM;
	if ((r = create_device(fd, ev)) < 0)
		goto out;
	while (!arg_stop) {
		ms = softkey_hid_poll_ms(sk);
		tsp = NULL;
		if (ms >= 0) {
			ts.tv_sec = ms / 1000;
			ts.tv_nsec = (long)(ms % 1000) * 1000000L;
			tsp = &ts;
		}
		r = ppoll(&pfd, 1, tsp, orig); /* signals only in here */
		if (r < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
		if (r > 0 && (r = handle_event(fd, sk, ev, ready, &gone)) < 0)
			break;
		if (!gone && (r = flush_reports(fd, sk, ev)) < 0)
			break;
		r = 0;
	}
	if (!gone)
		destroy_device(fd, ev);
out:
	free(ev);
	return r;
}

int
main(int argc, char **argv)
{
	struct softkey *sk = NULL;
	struct sigaction sa;
	sigset_t block, orig;
	const char *ready = NULL;
	unsigned line = 0;
	int fd = -1, r;

	if (argc == 4 && strcmp(argv[2], "--ready-file") == 0)
		ready = argv[3];
	else if (argc != 2) {
		fprintf(stderr,
		    "usage: softkey-uhid STATE "
		    "[--ready-file PATH]\n");
		return EXIT_FAILURE;
	}
	if ((r = softkey_load(argv[1], &sk, &line)) < 0) {
		fprintf(stderr, "softkey-uhid: %s:%u: %s\n", argv[1], line,
		    strerror(-r));
		return EXIT_FAILURE;
	}
	if (softkey_set_log(sk, getenv("SOFTKEY_LOG")) < 0)
		goto fail;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: ppoll returns */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	if (sigprocmask(SIG_BLOCK, &block, &orig) < 0 ||
	    sigaction(SIGTERM, &sa, NULL) < 0 ||
	    sigaction(SIGINT, &sa, NULL) < 0)
		goto fail;
	if ((fd = open("/dev/uhid", O_RDWR | O_CLOEXEC)) < 0) {
		fprintf(
		    stderr, "softkey-uhid: /dev/uhid: %s\n", strerror(errno));
		goto fail;
	}
	if ((r = run(fd, sk, ready, &orig)) < 0) {
		fprintf(stderr, "softkey-uhid: %s\n", strerror(-r));
		goto fail;
	}
	close(fd);
	if (ready != NULL)
		(void)unlink(ready);
	softkey_free(sk);
	return EXIT_SUCCESS;
fail:
	if (fd >= 0)
		close(fd);
	softkey_free(sk);
	return EXIT_FAILURE;
}
