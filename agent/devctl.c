/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Applying decisions to the kernel (docs/ARCHITECTURE.md, "Removable
 * media").  USB devices are held by the kernel (authorized_default 0)
 * until a verdict authorizes them; a disk is made read-only with
 * BLKROSET on the whole disk, which its partitions inherit.  Every write
 * is checked; a device that vanishes mid-way gives -ENOENT/-ENODEV and
 * nothing stale.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "devctl.h"

#define USB_DEVICES "/sys/bus/usb/devices"
#define USBCORE_PARAM "/sys/module/usbcore/parameters"

const char devctl_fallback_policy[] =
    "[policy]\n"
    "name = \"fallback: input devices and hubs only\"\n"
    "[devices]\n"
    "allow with-interface match-all { 03:*:* } label \"fallback: HID\"\n"
    "allow with-interface match-all { 09:*:* } label \"fallback: hub\"\n"
    "default block\n";

int
devctl_fallback(struct pol_policy **ret)
{
	return pol_policy_parse(devctl_fallback_policy,
	    sizeof(devctl_fallback_policy) - 1, NULL, ret);
}

int
devctl_decide(const struct pol_policy *p, const struct devinfo *d,
    const struct pol_env *env, struct pol_decision *ret, const char **why)
{
	struct pol_device dev;
	int r;

	devinfo_device(d, &dev);
	r = pol_eval(p, &dev, env, ret);
	*why = NULL;
	if (r == -ENODATA) {
		ret->verdict = POL_VERDICT_BLOCK;
		ret->rule = 0;
		ret->line = 0;
		ret->label = NULL;
		*why = "a rule needs information this device does not give";
		return 0;
	}
	return r;
}

static int
first_err(int acc, int r)
{
	return acc < 0 ? acc : r;
}

int
devctl_harden(void)
{
	char hub[512];
	struct dirent *e;
	DIR *dir;
	int r = sysfs_write(USBCORE_PARAM, "authorized_default", "0");

	if (r == -ENOENT)
		r = 0;	/* no USB core loaded: nothing can plug */
	if ((dir = opendir(USB_DEVICES)) == NULL)
		return errno == ENOENT ? r : -errno;
	while ((e = readdir(dir)) != NULL) {
		if (strncmp(e->d_name, "usb", 3) != 0)
			continue;
		if (snprintf(hub, sizeof(hub), "%s/%s", USB_DEVICES,
		    e->d_name) >= (int)sizeof(hub))
			continue;
		r = first_err(r, sysfs_write(hub, "authorized_default", "0"));
		r = first_err(r, sysfs_write(hub,
		    "interface_authorized_default", "0"));
	}
	closedir(dir);
	return r;
}

static bool
iface_allowed(enum pol_verdict v, uint8_t cls)
{
	return v == POL_VERDICT_ALLOW ||
	    (v == POL_VERDICT_READ_ONLY && (cls == 0x08 || cls == 0x09));
}

static bool
has_driver(const char *iface)
{
	char p[DEVPATH_MAX + 16];

	return snprintf(p, sizeof(p), "%s/driver", iface) < (int)sizeof(p) &&
	    access(p, F_OK) == 0;
}

/* One interface directory: authorize or withhold it. */
static int
apply_iface(const char *dev, const char *name, enum pol_verdict v,
    unsigned *on, unsigned *off)
{
	char path[DEVPATH_MAX + 300], cls[8], auth[8];
	bool want;
	int r;

	if (snprintf(path, sizeof(path), "%s/%s", dev, name) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	if ((r = sysfs_read(path, "bInterfaceClass", cls, sizeof(cls),
	    NULL)) < 0)
		return r;
	want = iface_allowed(v, (uint8_t)strtoul(cls, NULL, 16));
	if ((r = sysfs_read(path, "authorized", auth, sizeof(auth),
	    NULL)) < 0)
		return r;
	if (!want) {
		(*off)++;
		return strcmp(auth, "0") == 0 ? 0 :
		    sysfs_write(path, "authorized", "0");
	}
	(*on)++;
	if (strcmp(auth, "1") != 0 &&
	    (r = sysfs_write(path, "authorized", "1")) < 0)
		return r;
	if (has_driver(path))
		return 0;
	/* No driver wants it (a vendor interface): not an error. */
	r = sysfs_write("/sys/bus/usb", "drivers_probe", name);
	return r == -ENODEV || r == -EINVAL ? 0 : r;
}

int
devctl_apply_iface(const char *dev, const char *name, enum pol_verdict v,
    char *what, size_t size)
{
	unsigned on = 0, off = 0;
	int r = apply_iface(dev, name, v, &on, &off);

	snprintf(what, size, "interface %s", on > 0 ? "enabled" : "withheld");
	return r;
}

/* Interfaces of d by v; *ret_n how many there were. */
static int
apply_ifaces(const struct devinfo *d, enum pol_verdict v, char *what,
    size_t size, unsigned *ret_n)
{
	const char *base = strrchr(d->syspath, '/') + 1;
	size_t blen = strlen(base);
	unsigned on = 0, off = 0;
	struct dirent *e;
	DIR *dir;
	int r = 0;

	if ((dir = opendir(d->syspath)) == NULL)
		return -errno;
	while ((e = readdir(dir)) != NULL)
		if (strncmp(e->d_name, base, blen) == 0 &&
		    e->d_name[blen] == ':')
			r = first_err(r, apply_iface(d->syspath, e->d_name, v,
			    &on, &off));
	closedir(dir);
	snprintf(what, size, "authorized, %u interface%s enabled, %u "
	    "withheld", on, on == 1 ? "" : "s", off);
	*ret_n = on + off;
	return r;
}

int
devctl_apply_usb(const struct devinfo *d, enum pol_verdict v, char *what,
    size_t size)
{
	char auth[8];
	unsigned n = 0;
	int r;

	snprintf(what, size, "nothing done");
	if (!d->usb || devinfo_usb_is_root_hub(d->syspath))
		return -EINVAL;
	if ((r = sysfs_read(d->syspath, "authorized", auth, sizeof(auth),
	    NULL)) < 0)
		return r;
	switch (v) {
	case POL_VERDICT_BLOCK:
		snprintf(what, size, "not authorized");
		return strcmp(auth, "0") == 0 ? 0 :
		    sysfs_write(d->syspath, "authorized", "0");
	case POL_VERDICT_REJECT:
		snprintf(what, size, "removed");
		return sysfs_write(d->syspath, "remove", "1");
	default:
		break;
	}
	if (strcmp(auth, "1") != 0 &&
	    (r = sysfs_write(d->syspath, "authorized", "1")) < 0)
		return r;
	r = apply_ifaces(d, v, what, size, &n);
	/* Authorized, yet no interface: the configuration failed (a
	 * device that did not answer SET_CONFIGURATION in time).  Once more;
	 * interfaces that appear later are handled as they are added. */
	if (r == 0 && n == 0 && d->desc.n_ifaces > 0 &&
	    sysfs_write(d->syspath, "authorized", "0") == 0 &&
	    sysfs_write(d->syspath, "authorized", "1") == 0)
		r = apply_ifaces(d, v, what, size, &n);
	return r;
}

int
devctl_get_ro(const char *node)
{
	int fd = open(node, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	int ro = 0, r = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, BLKROGET, &ro) < 0)
		r = -errno;
	close(fd);
	return r < 0 ? r : ro != 0;
}

int
devctl_set_ro(const char *node, bool ro)
{
	int fd = open(node, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	int v = ro, got = -1, r = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, BLKROSET, &v) < 0 || ioctl(fd, BLKROGET, &got) < 0)
		r = -errno;
	close(fd);
	if (r == 0 && ro && got == 0)
		r = -EIO;	/* the flag did not stick */
	return r;
}

/* Detach what cannot be made read-only by a flag. */
static int
detach(const char *disk, const struct devinfo *d, enum devblk kind)
{
	char dev[DEVPATH_MAX + 8];
	const char *card;

	if (kind == DEVBLK_MMC) {
		card = strrchr(d->syspath, '/') + 1;
		return sysfs_write("/sys/bus/mmc/drivers/mmcblk", "unbind",
		    card);
	}
	if (snprintf(dev, sizeof(dev), "%s/device", disk) >= (int)sizeof(dev))
		return -ENAMETOOLONG;
	return sysfs_write(dev, "delete", "1");
}

int
devctl_apply_block(const char *disk, const struct devinfo *d,
    enum devblk kind, enum pol_verdict v, char *what, size_t size)
{
	int r;

	if (kind == DEVBLK_FIXED)
		return -EINVAL;
	if (v == POL_VERDICT_ALLOW) {
		snprintf(what, size, "%s writable", d->node);
		return devctl_set_ro(d->node, false);
	}
	/* Read-only first: a detach that fails still leaves it so. */
	r = devctl_set_ro(d->node, true);
	snprintf(what, size, "%s read-only", d->node);
	if (v == POL_VERDICT_READ_ONLY)
		return r;
	snprintf(what, size, "%s detached", d->node);
	return first_err(r, detach(disk, d, kind));
}
