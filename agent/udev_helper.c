/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mynaguard-udev: run by udev (IMPORT{program}, packaging/udev) for every
 * new USB device and whole disk, inside the udev worker: before udev
 * applies permissions and before udisks2 or any libudev listener hears of
 * the device.
 *
 *   mynaguard-udev [--config FILE] usb|block SYSPATH
 *
 * A removable disk is made read-only first, unconditionally; then the
 * agent is asked to decide (it may make it writable again, for registered
 * media).  A root hub gets authorized_default=0.  When the agent does not
 * answer in time (stopped, crashed, hung), the built-in fallback policy
 * decides: input devices and hubs work, nothing else is authorized, disks
 * stay read-only; the decision is queued for the agent as an event.
 *
 * Prints udev properties (MYNAGUARD_VERDICT=...) on stdout; device strings
 * never reach stdout, a shell or an argument vector.  Always exits 0 so
 * that udev goes on with the event: a failure leaves the device held.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "devctl.h"
#include "devinfo.h"
#include "mynaguard/common.h"
#include "mynaguard/event.h"

struct helper {
	struct agent_config cfg;
	const char *op;
	const char *syspath;
};

static void
load_config(struct helper *h, const char *path)
{
	char *text = NULL, err[256];
	size_t len;

	if (agent_config_defaults(&h->cfg) < 0)
		return;
	if (file_read_all(path, 65536, 0, &text, &len) == 0 &&
	    agent_config_parse(&h->cfg, text, len, err, sizeof(err)) < 0)
		fprintf(stderr, "mynaguard-udev: %s:%s (using defaults)\n",
		    path, err);
	free(text);
}

/* Only what udev may import: KEY=VALUE of [A-Za-z0-9_.-]. */
static bool
reply_ok(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' &&
		    s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    strchr("_.-=\n", s[i]) != NULL))
			return false;
	return true;
}

/* 0 when the agent decided (its answer printed), -errno otherwise. */
static int
ask_agent(const struct helper *h, uint32_t op)
{
	struct sbuf req;
	char buf[2048];
	ssize_t n;
	int fd, r;

	sbuf_init(&req, MG_IPC_MSG_MAX);
	if ((r = mg_ipc_encode_device(op, h->syspath, &req)) < 0) {
		sbuf_clear(&req);
		return r;
	}
	fd = mg_ipc_connect(h->cfg.socket, (int)h->cfg.helper_wait_ms);
	if (fd < 0) {
		sbuf_clear(&req);
		return fd;
	}
	n = send(fd, req.data, req.len, MSG_NOSIGNAL);
	sbuf_clear(&req);
	if (n >= 0)
		n = recv(fd, buf, sizeof(buf) - 1, 0);
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r < 0)
		return r;
	if (n < 4)
		return -EPROTO;
	r = (int)((uint32_t)(uint8_t)buf[0] << 24 | (uint32_t)(uint8_t)buf[1]
	    << 16 | (uint32_t)(uint8_t)buf[2] << 8 | (uint8_t)buf[3]);
	if (r < 0)
		return r;
	if (!reply_ok(buf + 4, (size_t)n - 4))
		return -EPROTO;
	fwrite(buf + 4, 1, (size_t)n - 4, stdout);
	return 0;
}

static void
field(struct mg_submit *s, enum mg_field id, const char *v)
{
	if (v == NULL || *v == '\0' || s->n >= MG_FIELDS_MAX)
		return;
	s->f[s->n].id = id;
	s->f[s->n].val = v;
	s->f[s->n].len = strlen(v);
	s->n++;
}

/* The fallback's decision, queued for the agent to sign. */
static void
queue_event(const struct helper *h, const struct devinfo *d,
    const struct pol_decision *dec, int applied, const char *what,
    const char *why)
{
	struct mg_submit s = { .type = applied < 0 ?
	    MG_EV_DEVICE_ENFORCE_FAILED : dec->verdict == POL_VERDICT_ALLOW ?
	    MG_EV_DEVICE_ALLOWED : dec->verdict == POL_VERDICT_READ_ONLY ?
	    MG_EV_DEVICE_READ_ONLY : MG_EV_DEVICE_BLOCKED };
	char vid[8], pid[8], kinds[160], ifaces[400], rule[16];

	snprintf(vid, sizeof(vid), "%04x", d->vid);
	snprintf(pid, sizeof(pid), "%04x", d->pid);
	snprintf(rule, sizeof(rule), "%u", dec->rule);
	devinfo_kind_words(d->kinds, kinds, sizeof(kinds));
	devinfo_iface_words(d, ifaces, sizeof(ifaces));
	if (d->has_id) {
		field(&s, MG_F_DEV_VID, vid);
		field(&s, MG_F_DEV_PID, pid);
	}
	field(&s, MG_F_DEV_SERIAL, d->serial);
	field(&s, MG_F_DEV_VENDOR, d->vendor);
	field(&s, MG_F_DEV_PRODUCT, d->product);
	field(&s, MG_F_DEV_KIND, kinds);
	field(&s, MG_F_DEV_BUS, pol_bus_word(d->bus));
	field(&s, MG_F_DEV_PATH, d->path);
	field(&s, MG_F_DEV_NODE, d->node);
	field(&s, MG_F_DEV_IFACES, ifaces);
	field(&s, MG_F_VERDICT, pol_verdict_name(dec->verdict));
	field(&s, MG_F_RULE, rule);
	field(&s, MG_F_RULE_LABEL, dec->label);
	field(&s, MG_F_DECIDER, "udev-fallback");
	field(&s, MG_F_REASON, applied < 0 ? strerror(-applied) :
	    why != NULL ? why : "the agent did not answer");
	field(&s, MG_F_MESSAGE, what);
	(void)mg_submit_event(h->cfg.socket, h->cfg.drop_dir, &s, 500, NULL);
}

static void
fallback_usb(const struct helper *h)
{
	struct devinfo *d = calloc(1, sizeof(*d));
	struct pol_decision dec = { .verdict = POL_VERDICT_BLOCK };
	struct pol_policy *p = NULL;
	struct pol_env env = { .local_sec = -1 };
	const char *why = NULL;
	char what[128] = "not authorized", reason[160] = "";
	int r;

	if (d == NULL)
		return;
	r = devinfo_usb(h->syspath, d, &why);
	if (r == -EBADMSG) {
		snprintf(reason, sizeof(reason), "USB descriptors: %s",
		    why != NULL ? why : "malformed");
		r = devctl_apply_usb(d, POL_VERDICT_BLOCK, what, sizeof(what));
	} else if (r == 0 && (r = devctl_fallback(&p)) == 0 &&
	    (r = devctl_decide(p, d, &env, &dec, &why)) == 0)
		r = devctl_apply_usb(d, dec.verdict, what, sizeof(what));
	printf("MYNAGUARD_VERDICT=%s\nMYNAGUARD_DECIDER=udev-fallback\n",
	    pol_verdict_name(dec.verdict));
	if (d->path[0] != '\0')
		queue_event(h, d, &dec, r, what, reason[0] ? reason : NULL);
	pol_policy_free(p);
	free(d);
}

static void
do_usb(const struct helper *h)
{
	if (devinfo_usb_is_root_hub(h->syspath)) {
		/* A new host controller: hold its devices for us. */
		(void)devctl_harden();
		return;
	}
	if (ask_agent(h, MG_IPC_DEVICE_USB) < 0)
		fallback_usb(h);
}

static void
do_block(const struct helper *h)
{
	struct devinfo *d = calloc(1, sizeof(*d));
	enum devblk kind;
	const char *why = NULL;
	int r;

	if (d == NULL)
		return;
	r = devinfo_block(h->syspath, d, &kind, &why);
	if (r < 0 || kind == DEVBLK_FIXED) {
		free(d);
		return;
	}
	/* Read-only before anything else, whatever comes next. */
	if ((r = devctl_set_ro(d->node, true)) < 0)
		fprintf(stderr, "mynaguard-udev: cannot make %s read-only: "
		    "%s\n", d->node, strerror(-r));
	if (ask_agent(h, MG_IPC_DEVICE_BLOCK) < 0)
		printf("MYNAGUARD_VERDICT=read-only\n"
		    "MYNAGUARD_DECIDER=udev-fallback\n");
	free(d);
}

int
main(int argc, char **argv)
{
	struct helper h = { 0 };
	const char *config = AGENT_CONFIG_PATH;
	int i = 1;

	if (argc > 2 && strcmp(argv[1], "--config") == 0) {
		config = argv[2];
		i = 3;
	}
	if (argc - i != 2 || strncmp(argv[i + 1], "/sys/", 5) != 0 ||
	    strlen(argv[i + 1]) >= DEVPATH_MAX) {
		fprintf(stderr, "usage: mynaguard-udev [--config FILE] "
		    "usb|block /sys/DEVPATH\n");
		return 2;
	}
	h.op = argv[i];
	h.syspath = argv[i + 1];
	load_config(&h, config);
	if (strcmp(h.op, "usb") == 0)
		do_usb(&h);
	else if (strcmp(h.op, "block") == 0)
		do_block(&h);
	else
		fprintf(stderr, "mynaguard-udev: unknown operation\n");
	fflush(stdout);
	agent_config_clear(&h.cfg);
	return 0;
}
