/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_USBDESC_H
#define MYNAGUARD_USBDESC_H

#include <stddef.h>
#include <stdint.h>

#include "mynaguard/policy.h"

#define USBDESC_IFACES_MAX 32u

/* One interface (alternate setting 0) of one configuration. */
struct usbdesc_iface {
	uint8_t config;		/* bConfigurationValue */
	uint8_t number;		/* bInterfaceNumber */
	struct pol_iface type;	/* class, subclass, protocol */
};

struct usbdesc {
	uint16_t bcd_usb;
	uint8_t dev_class;
	uint8_t dev_subclass;
	uint8_t dev_proto;
	uint16_t vid;
	uint16_t pid;
	uint8_t n_configs;	/* configurations found in the blob */
	struct usbdesc_iface ifaces[USBDESC_IFACES_MAX];
	size_t n_ifaces;
};

/*
 * Parse the sysfs `descriptors` blob of a USB device: the device
 * descriptor, then the raw descriptors of every configuration.  The
 * device is hostile: every length is checked against the blob and its
 * container, and a blob that does not add up is refused.  Returns 0, or
 * -EBADMSG with *ret_why naming what and the byte offset in *ret_off.
 */
int usbdesc_parse(const uint8_t *buf, size_t len, struct usbdesc *ret,
    const char **ret_why, size_t *ret_off);

/* The interface types of all configurations, each once, in order: what
 * `with-interface` matches (as USBGuard does).  Returns how many. */
size_t usbdesc_types(const struct usbdesc *d, struct pol_iface *out,
    size_t max);

/* The POL_KIND_* bits of one interface type, and of a whole device. */
uint32_t usbdesc_iface_kinds(const struct pol_iface *t);
uint32_t usbdesc_kinds(const struct usbdesc *d, const char *product,
    const char *manufacturer);

#endif
