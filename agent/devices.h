/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_AGENT_DEVICES_H
#define MYNAGUARD_AGENT_DEVICES_H

#include <stdbool.h>
#include <stdint.h>

#include "devinfo.h"
#include "mynaguard/common.h"
#include "mynaguard/policy.h"

struct agent;

/* A decision in force, for `mynaguard device list` and to recognise the
 * same device when the udev helper asks after the kernel event. */
struct dev_entry {
	char *syspath;		/* what was decided: usb_device or disk */
	char *serial;
	char *product;
	char *label;
	char path[64];
	char node[64];
	char ident[32];		/* busnum.devnum or major:minor */
	bool disk;
	bool has_id;
	uint16_t vid;
	uint16_t pid;
	uint32_t kinds;
	enum pol_verdict verdict;
	unsigned rule;
	unsigned line;
	bool fallback;		/* decided by the fallback policy */
	int64_t since;		/* wall clock, seconds */
};

struct devices {
	struct udev *udev;
	struct udev_monitor *mon;
	int mon_fd;
	int mount_fd;		/* /proc/self/mountinfo, POLLPRI on change */
	struct dev_entry *tab;
	size_t n;
	size_t cap;
	uint64_t rescans;
	bool reeval;		/* deciding present devices again */
	void *login_mon;	/* sd_login_monitor: seat changes */
	int login_fd;
};

/* Start watching: harden the USB core, open the uevent monitor and the
 * mount table, and decide every device present. */
int devices_start(struct agent *a);
void devices_stop(struct agent *a);
/* The monitor fd is readable. */
void devices_on_uevent(struct agent *a);
/* The mount table changed. */
void devices_on_mounts(struct agent *a);
/* The policy changed: decide every present device again (recorded when a
 * verdict changes). */
void devices_rescan(struct agent *a);
/* Someone logged in or out at a seat: the same, for seat-user() rules. */
void devices_on_login(struct agent *a);
/* A udev helper's request: decide now, answer KEY=VALUE lines. */
int devices_request(struct agent *a, uint32_t op, const char *syspath,
    size_t len, struct sbuf *reply);
/* The MG_IPC_DEVICES reply lines. */
int devices_table(const struct agent *a, struct sbuf *out);
/* The "devices" array of the status JSON. */
void devices_status(const struct agent *a, struct jw *w);

#endif
