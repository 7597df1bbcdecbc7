/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_DEVCTL_H
#define MYNAGUARD_DEVCTL_H

#include <stdbool.h>
#include <stddef.h>

#include "devinfo.h"
#include "mynaguard/policy.h"

/*
 * The policy used when the configured one cannot be read or is invalid,
 * and by the udev helper when the agent does not answer: input devices
 * and hubs work, nothing else does.
 */
extern const char devctl_fallback_policy[];
int devctl_fallback(struct pol_policy **ret);

/* pol_eval(), with a condition that lacks input (-ENODATA) turned into a
 * block by the default (rule 0) and *ret_why saying so. */
int devctl_decide(const struct pol_policy *p, const struct devinfo *d,
    const struct pol_env *env, struct pol_decision *ret,
    const char **ret_why);

/*
 * Make the kernel wait for us: authorized_default 0 for future host
 * controllers (usbcore parameter) and every present root hub, and
 * interface_authorized_default 0 so that authorizing a device binds no
 * interface we have not chosen.  Returns the first error, after trying all.
 */
int devctl_harden(void);

/*
 * Apply a verdict to a usb_device.  allow: the device and every
 * interface; read-only: the device and only its mass-storage and hub
 * interfaces (everything else of it stays unbound: a stick's keyboard
 * half, a phone's vendor interface); block: de-authorized; reject:
 * logically removed.  Writes a short account into what.
 */
int devctl_apply_usb(const struct devinfo *d, enum pol_verdict v,
    char *what, size_t size);

/*
 * Apply a verdict to a whole disk at disk_syspath (node d->node): allow
 * clears the read-only flag, read-only sets it (partitions inherit it,
 * also ones created later), block sets it and detaches the device (an
 * optical drive's SCSI device is deleted, an SD card unbound).
 */
int devctl_apply_block(const char *disk_syspath, const struct devinfo *d,
    enum devblk kind, enum pol_verdict v, char *what, size_t size);

/* One interface (name like 1-1:1.0) of the usb_device at dev, by the
 * device's verdict. */
int devctl_apply_iface(const char *dev, const char *name, enum pol_verdict v,
    char *what, size_t size);

/* BLKROSET on a block device node; the resulting flag is read back. */
int devctl_set_ro(const char *node, bool ro);
/* The read-only flag (BLKROGET) of a node: 1, 0 or -errno. */
int devctl_get_ro(const char *node);

#endif
