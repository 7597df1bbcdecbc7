/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_DEVINFO_H
#define MYNAGUARD_DEVINFO_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mynaguard/policy.h"
#include "usbdesc.h"

/* USB strings are at most 126 UTF-16 units: 378 bytes of UTF-8. */
#define DEVSTR_MAX 512u
#define DEVPATH_MAX 1024u	/* sysfs paths are far shorter */

/* What a whole disk is, for the policy. */
enum devblk {
	DEVBLK_FIXED,		/* not removable media: left alone */
	DEVBLK_USB,		/* below a USB device */
	DEVBLK_MMC,		/* an SD/MMC card on a host controller */
	DEVBLK_OPTICAL,		/* an internal (ATA/SCSI) optical drive */
};

/* A device as the agent sees it in sysfs: the policy's input. */
struct devinfo {
	char syspath[DEVPATH_MAX];	/* the device decided on */
	char path[64];			/* bus path: 1-1.2, mmc0:0001, sr0 */
	char node[64];			/* /dev/sda for a disk, else "" */
	enum pol_bus bus;
	bool usb;			/* syspath is a usb_device */
	bool authorized;
	bool has_id;
	uint16_t vid;
	uint16_t pid;
	char serial[DEVSTR_MAX];
	char product[DEVSTR_MAX];
	char vendor[DEVSTR_MAX];
	char connect_type[32];
	struct usbdesc desc;
	struct pol_iface types[USBDESC_IFACES_MAX];
	size_t n_types;
	uint32_t kinds;
};

/*
 * Read attribute attr of the sysfs directory dir into buf (size bytes,
 * NUL-terminated, one trailing newline removed); *ret_len its length.
 * -ENOENT when absent, -E2BIG when longer than buf.
 */
int sysfs_read(const char *dir, const char *attr, char *buf, size_t size,
    size_t *ret_len);
int sysfs_write(const char *dir, const char *attr, const char *val);

/*
 * Copy in to out (size bytes, NUL-terminated) as valid UTF-8: each byte
 * that does not start a valid sequence becomes U+FFFD, and the copy stops
 * at a character boundary when out is full.  SCSI INQUIRY and SD CID
 * strings, and mount points, need not be UTF-8; events only take UTF-8.
 */
void devinfo_utf8_clean(const char *in, char *out, size_t size);

/* realpath() into a bounded buffer: -ENAMETOOLONG when it does not fit. */
int sysfs_realpath(const char *path, char *out, size_t size);

/* A usb_device at syspath (a /sys/devices/... path). -ENOENT when it has
 * gone, -EBADMSG for descriptors that do not parse (*ret_why). */
int devinfo_usb(const char *syspath, struct devinfo *ret,
    const char **ret_why);

/*
 * A whole disk at syspath: what it is, and the device the policy decides
 * on in *ret (the USB device above it, the card, the drive).  For
 * DEVBLK_USB, ret->syspath is the USB device's and ret->node the disk's.
 */
int devinfo_block(const char *syspath, struct devinfo *ret, enum devblk *kind,
    const char **ret_why);

/* True for a root hub (usbN) or a USB interface (has ':'). */
bool devinfo_usb_is_root_hub(const char *syspath);

/* The policy's view of d (pointers into d). */
void devinfo_device(const struct devinfo *d, struct pol_device *ret);

/* Space-separated kind words / interface types into buf. */
void devinfo_kind_words(uint32_t kinds, char *buf, size_t size);
void devinfo_iface_words(const struct devinfo *d, char *buf, size_t size);

#endif
