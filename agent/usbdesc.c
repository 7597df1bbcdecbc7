/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * USB descriptors, as the kernel keeps them in sysfs even for a device it
 * has not authorized: the agent decides from them before any driver binds.
 * They come from the device and are hostile; nothing here trusts a length
 * it has not checked against the bytes that are really there.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "usbdesc.h"

#define DT_DEVICE 1
#define DT_CONFIG 2
#define DT_INTERFACE 4
#define DEV_LEN 18u
#define CONFIG_LEN 9u
#define IFACE_LEN 9u

static uint16_t
le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static int
bad(const char **ret_why, size_t *ret_off, const char *why, size_t off)
{
	if (ret_why != NULL)
		*ret_why = why;
	if (ret_off != NULL)
		*ret_off = off;
	return -EBADMSG;
}

static void
add_iface(struct usbdesc *d, uint8_t config, const uint8_t *p)
{
	struct usbdesc_iface *i;

	if (p[3] != 0 || d->n_ifaces >= USBDESC_IFACES_MAX)
		return;		/* alternate settings share the type */
	i = &d->ifaces[d->n_ifaces++];
	i->config = config;
	i->number = p[2];
	i->type.cls = p[5];
	i->type.subcls = p[6];
	i->type.proto = p[7];
}

/* One configuration at buf[off], total bytes long. */
static int
parse_config(struct usbdesc *d, const uint8_t *buf, size_t off, size_t total,
    const char **ret_why, size_t *ret_off)
{
	uint8_t value = buf[off + 5];
	size_t p = off + buf[off], end = off + total;

	while (p < end) {
		uint8_t l = buf[p];

		if (l < 2 || l > end - p)
			return bad(ret_why, ret_off, "descriptor length runs "
			    "past its configuration", p);
		if (buf[p + 1] == DT_INTERFACE) {
			if (l < IFACE_LEN)
				return bad(ret_why, ret_off, "interface "
				    "descriptor too short", p);
			add_iface(d, value, buf + p);
		}
		p += l;
	}
	return 0;
}

int
usbdesc_parse(const uint8_t *buf, size_t len, struct usbdesc *d,
    const char **ret_why, size_t *ret_off)
{
	size_t off;
	int r;

	memset(d, 0, sizeof(*d));
	if (len < DEV_LEN || buf[0] < DEV_LEN || buf[0] > len ||
	    buf[1] != DT_DEVICE)
		return bad(ret_why, ret_off, "no device descriptor", 0);
	d->bcd_usb = le16(buf + 2);
	d->dev_class = buf[4];
	d->dev_subclass = buf[5];
	d->dev_proto = buf[6];
	d->vid = le16(buf + 8);
	d->pid = le16(buf + 10);
	for (off = buf[0]; off < len; off += le16(buf + off + 2)) {
		size_t total;

		if (len - off < CONFIG_LEN || buf[off] < CONFIG_LEN ||
		    buf[off + 1] != DT_CONFIG)
			return bad(ret_why, ret_off, "expected a configuration "
			    "descriptor", off);
		total = le16(buf + off + 2);
		if (total < buf[off] || total > len - off)
			return bad(ret_why, ret_off, "configuration total "
			    "length runs past the data", off);
		if ((r = parse_config(d, buf, off, total, ret_why,
		    ret_off)) < 0)
			return r;
		if (d->n_configs < 255)
			d->n_configs++;
	}
	return 0;
}

size_t
usbdesc_types(const struct usbdesc *d, struct pol_iface *out, size_t max)
{
	size_t i, j, n = 0;

	for (i = 0; i < d->n_ifaces && n < max; i++) {
		const struct pol_iface *t = &d->ifaces[i].type;

		for (j = 0; j < n; j++)
			if (memcmp(&out[j], t, sizeof(*t)) == 0)
				break;
		if (j == n)
			out[n++] = *t;
	}
	return n;
}

uint32_t
usbdesc_iface_kinds(const struct pol_iface *t)
{
	switch (t->cls) {
	case 0x01: return POL_KIND_AUDIO;
	case 0x02: case 0x0a: case 0xe0: return POL_KIND_NETWORK;
	case 0x03: return POL_KIND_HID;
	case 0x06: return POL_KIND_PTP;
	case 0x07: return POL_KIND_PRINTER;
	case 0x08: return POL_KIND_STORAGE;
	case 0x09: return POL_KIND_HUB;
	case 0x0b: return POL_KIND_SMARTCARD;
	case 0x0e: return POL_KIND_VIDEO;
	case 0xef:	/* miscellaneous: RNDIS (04/01) is a network */
		return t->subcls == 0x04 ? POL_KIND_NETWORK : POL_KIND_OTHER;
	default: return POL_KIND_OTHER;
	}
}

/* Case-insensitive substring; s is a hostile device string. */
static bool
has_word(const char *s, const char *w)
{
	size_t n = strlen(w);

	for (; s != NULL && *s != '\0'; s++)
		if (strncasecmp(s, w, n) == 0)
			return true;
	return false;
}

/*
 * A FIDO key cannot be told from other HID devices before a driver reads
 * its report descriptor, so `fido` is claimed by a plain HID interface
 * (03:00:00) whose strings say so.  A device that lies gains nothing a
 * rule on its interfaces would not already give it: the shipped rule also
 * requires `with-interface match-all { 03:*:* 0b:*:* }`.
 */
static bool
looks_fido(const struct usbdesc *d, const char *product, const char *mfr)
{
	static const char *const words[] = { "FIDO", "U2F", "Security Key",
	    "YubiKey", "Passkey", "Titan" };
	size_t i;
	bool plain_hid = false;

	for (i = 0; i < d->n_ifaces; i++)
		if (d->ifaces[i].type.cls == 3 && d->ifaces[i].type.subcls == 0
		    && d->ifaces[i].type.proto == 0)
			plain_hid = true;
	for (i = 0; plain_hid && i < sizeof(words) / sizeof(words[0]); i++)
		if (has_word(product, words[i]) || has_word(mfr, words[i]))
			return true;
	return false;
}

uint32_t
usbdesc_kinds(const struct usbdesc *d, const char *product, const char *mfr)
{
	uint32_t k = 0;
	size_t i;

	for (i = 0; i < d->n_ifaces; i++)
		k |= usbdesc_iface_kinds(&d->ifaces[i].type);
	if (d->n_ifaces == 0 && d->dev_class == 0x09)
		k |= POL_KIND_HUB;
	/* Still Image devices are PTP unless they name MTP. */
	if ((k & POL_KIND_PTP) && (has_word(product, "MTP") ||
	    has_word(mfr, "MTP")))
		k = (k & ~POL_KIND_PTP) | POL_KIND_MTP;
	if ((k & POL_KIND_OTHER) && (has_word(product, "MTP") ||
	    has_word(product, "Android")))
		k |= POL_KIND_MTP;
	if (looks_fido(d, product, mfr))
		k |= POL_KIND_FIDO;
	return k != 0 ? k : POL_KIND_OTHER;
}
