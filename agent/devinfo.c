/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Reading a device from sysfs into the policy's terms.  Every string is the
 * device's own and may hold any byte the kernel lets through (quotes,
 * newlines, shell metacharacters): it is copied bounded, never
 * interpreted, and only ever leaves as an escaped value.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devinfo.h"
#include "mynaguard/common.h"

#define DESC_MAX 65536u

static int
join(char *out, size_t size, const char *dir, const char *attr)
{
	int n = snprintf(out, size, "%s/%s", dir, attr);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Up to size bytes of a file; *ret_len what was read. */
static int
read_file(const char *path, char *buf, size_t size, size_t *ret_len)
{
	size_t got = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -errno;
	while (got < size && (n = read(fd, buf + got, size - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			close(fd);
			return (int)n;
		}
		got += (size_t)n;
	}
	close(fd);
	*ret_len = got;
	return 0;
}

int
sysfs_read(const char *dir, const char *attr, char *buf, size_t size,
    size_t *ret_len)
{
	char path[DEVPATH_MAX + 64];
	size_t len = 0;
	int r;

	if (size == 0)
		return -EINVAL;
	if ((r = join(path, sizeof(path), dir, attr)) < 0 ||
	    (r = read_file(path, buf, size, &len)) < 0)
		return r;
	if (len == size)
		return -E2BIG;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	buf[len] = '\0';
	/* An embedded NUL would cut the string short silently. */
	len = strnlen(buf, len);
	if (ret_len != NULL)
		*ret_len = len;
	return 0;
}

int
sysfs_write(const char *dir, const char *attr, const char *val)
{
	char path[DEVPATH_MAX + 64];
	size_t n = strlen(val);
	ssize_t w;
	int fd, r;

	if ((r = join(path, sizeof(path), dir, attr)) < 0)
		return r;
	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	do
		w = write(fd, val, n);
	while (w < 0 && errno == EINTR);
	r = w < 0 ? -errno : (size_t)w != n ? -EIO : 0;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

int
sysfs_realpath(const char *path, char *out, size_t size)
{
	char *r = realpath(path, NULL);
	size_t n;

	if (r == NULL)
		return -errno;
	n = strlen(r);
	if (n >= size) {
		free(r);
		return -ENAMETOOLONG;
	}
	memcpy(out, r, n + 1);
	free(r);
	return 0;
}

/* Bounded copy that always terminates; false when src was cut. */
static bool
set_str(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size);
	bool whole = n < size;

	if (!whole)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return whole;
}

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s != NULL ? s + 1 : path;
}

bool
devinfo_usb_is_root_hub(const char *syspath)
{
	const char *b = base_name(syspath);

	return strncmp(b, "usb", 3) == 0 || strchr(b, ':') != NULL;
}

static int
read_hex16(const char *dir, const char *attr, uint16_t *ret)
{
	char buf[16], *end;
	unsigned long v;
	int r;

	if ((r = sysfs_read(dir, attr, buf, sizeof(buf), NULL)) < 0)
		return r;
	errno = 0;
	v = strtoul(buf, &end, 16);
	if (errno != 0 || end == buf || *end != '\0' || v > 0xffff)
		return -EBADMSG;
	*ret = (uint16_t)v;
	return 0;
}

void
devinfo_utf8_clean(const char *in, char *out, size_t size)
{
	size_t i = 0, o = 0, n, len = strlen(in);

	while (i < len) {
		const char *src = in + i;

		n = utf8_seqlen(in + i, len - i);
		if (n == 0) {
			src = "\xef\xbf\xbd";
			n = 3;
		}
		if (o + n >= size)
			break;
		memcpy(out + o, src, n);
		o += n;
		i += src == in + i ? n : 1;
	}
	out[o] = '\0';
}

/* An optional string attribute: "" when absent or unreadable; valid
 * UTF-8 (the kernel's USB strings are; SCSI and SD strings need not be). */
static void
read_opt(const char *dir, const char *attr, char *buf, size_t size)
{
	char raw[DEVSTR_MAX];

	if (sysfs_read(dir, attr, raw, sizeof(raw), NULL) < 0)
		raw[0] = '\0';
	devinfo_utf8_clean(raw, buf, size);
}

/* Trailing blanks of SCSI INQUIRY strings. */
static void
rtrim(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && s[n - 1] == ' ')
		s[--n] = '\0';
}

static int
read_descriptors(struct devinfo *d, const char **ret_why)
{
	char path[DEVPATH_MAX + 16];
	uint8_t *buf = malloc(DESC_MAX);
	size_t len = 0, off = 0;
	int r;

	if (buf == NULL)
		return -ENOMEM;
	if ((r = join(path, sizeof(path), d->syspath, "descriptors")) == 0)
		r = read_file(path, (char *)buf, DESC_MAX, &len);
	if (r == 0)
		r = usbdesc_parse(buf, len, &d->desc, ret_why, &off);
	free(buf);
	if (r == 0)
		d->n_types = usbdesc_types(&d->desc, d->types,
		    USBDESC_IFACES_MAX);
	return r;
}

int
devinfo_usb(const char *syspath, struct devinfo *d, const char **ret_why)
{
	char v[8], port[DEVPATH_MAX + 8];
	int r;

	memset(d, 0, sizeof(*d));
	if (snprintf(d->syspath, sizeof(d->syspath), "%s", syspath) >=
	    (int)sizeof(d->syspath))
		return -ENAMETOOLONG;
	if (snprintf(d->path, sizeof(d->path), "%s", base_name(syspath)) >=
	    (int)sizeof(d->path))
		return -ENAMETOOLONG;
	d->usb = true;
	d->bus = POL_BUS_USB;
	if ((r = read_hex16(syspath, "idVendor", &d->vid)) < 0 ||
	    (r = read_hex16(syspath, "idProduct", &d->pid)) < 0)
		return r;
	d->has_id = true;
	read_opt(syspath, "serial", d->serial, sizeof(d->serial));
	read_opt(syspath, "product", d->product, sizeof(d->product));
	read_opt(syspath, "manufacturer", d->vendor, sizeof(d->vendor));
	if (snprintf(port, sizeof(port), "%s/port", syspath) <
	    (int)sizeof(port))
		read_opt(port, "connect_type", d->connect_type,
	    sizeof(d->connect_type));
	if (sysfs_read(syspath, "authorized", v, sizeof(v), NULL) == 0)
		d->authorized = strcmp(v, "0") != 0;
	if ((r = read_descriptors(d, ret_why)) < 0)
		return r;
	d->kinds = usbdesc_kinds(&d->desc, d->product, d->vendor);
	return 0;
}

/* The subsystem of a sysfs directory: the last part of its link. */
static bool
subsystem_is(const char *dir, const char *name)
{
	char path[DEVPATH_MAX + 16], link[DEVPATH_MAX];
	ssize_t n;

	if (join(path, sizeof(path), dir, "subsystem") < 0)
		return false;
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return false;
	link[n] = '\0';
	return strcmp(base_name(link), name) == 0;
}

/* The nearest ancestor of syspath in subsystem sub (USB: a device, not an
 * interface).  0 with the path in out, -ENOENT when there is none. */
static int
ancestor(const char *syspath, const char *sub, char *out, size_t size)
{
	char *slash;

	if (snprintf(out, size, "%s", syspath) >= (int)size)
		return -ENAMETOOLONG;
	while ((slash = strrchr(out, '/')) != NULL && slash - out > 12) {
		*slash = '\0';
		if (!subsystem_is(out, sub))
			continue;
		if (strcmp(sub, "usb") == 0 &&
		    devinfo_usb_is_root_hub(out))
			continue;
		return 0;
	}
	return -ENOENT;
}

static void
disk_node(const char *syspath, char *node, size_t size)
{
	char ev[1024], *p, *nl;

	snprintf(node, size, "/dev/%s", base_name(syspath));
	if (sysfs_read(syspath, "uevent", ev, sizeof(ev), NULL) < 0)
		return;
	for (p = ev; p != NULL && *p != '\0'; p = nl != NULL ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		if (nl != NULL)
			*nl = '\0';
		if (strncmp(p, "DEVNAME=", 8) == 0 && strchr(p + 8, '/') ==
		    NULL && strstr(p + 8, "..") == NULL)
			snprintf(node, size, "/dev/%s", p + 8);
	}
}

static bool
is_optical(const char *syspath)
{
	char dev[DEVPATH_MAX + 8], type[8];

	snprintf(dev, sizeof(dev), "%s/device", syspath);
	return strncmp(base_name(syspath), "sr", 2) == 0 ||
	    (sysfs_read(dev, "type", type, sizeof(type), NULL) == 0 &&
	    strcmp(type, "5") == 0);
}

static int
block_mmc(const char *card, struct devinfo *d)
{
	set_str(d->syspath, sizeof(d->syspath), card);
	set_str(d->path, sizeof(d->path), base_name(card));
	d->bus = POL_BUS_MMC;
	d->kinds = POL_KIND_STORAGE | POL_KIND_SD;
	read_opt(card, "name", d->product, sizeof(d->product));
	read_opt(card, "serial", d->serial, sizeof(d->serial));
	read_opt(card, "manfid", d->vendor, sizeof(d->vendor));
	return 0;
}

static int
block_optical(const char *syspath, struct devinfo *d)
{
	char dev[DEVPATH_MAX + 8];

	set_str(d->syspath, sizeof(d->syspath), syspath);
	set_str(d->path, sizeof(d->path), base_name(syspath));
	d->bus = strstr(syspath, "/ata") != NULL ? POL_BUS_ATA : POL_BUS_SCSI;
	d->kinds = POL_KIND_OPTICAL;
	snprintf(dev, sizeof(dev), "%s/device", syspath);
	read_opt(dev, "model", d->product, sizeof(d->product));
	read_opt(dev, "vendor", d->vendor, sizeof(d->vendor));
	rtrim(d->product);
	rtrim(d->vendor);
	return 0;
}

int
devinfo_block(const char *syspath, struct devinfo *d, enum devblk *kind,
    const char **ret_why)
{
	char up[DEVPATH_MAX], node[64];
	int r;

	*kind = DEVBLK_FIXED;
	memset(d, 0, sizeof(*d));
	disk_node(syspath, node, sizeof(node));
	if (access(syspath, F_OK) < 0)
		return -errno;
	if (ancestor(syspath, "usb", up, sizeof(up)) == 0) {
		if ((r = devinfo_usb(up, d, ret_why)) < 0)
			return r;
		if (is_optical(syspath))
			d->kinds |= POL_KIND_OPTICAL;
		*kind = DEVBLK_USB;
	} else if (ancestor(syspath, "mmc", up, sizeof(up)) == 0) {
		block_mmc(up, d);
		*kind = DEVBLK_MMC;
	} else if (is_optical(syspath)) {
		block_optical(syspath, d);
		*kind = DEVBLK_OPTICAL;
	} else {
		return 0;
	}
	set_str(d->node, sizeof(d->node), node);
	return 0;
}

void
devinfo_device(const struct devinfo *d, struct pol_device *p)
{
	memset(p, 0, sizeof(*p));
	p->bus = d->bus;
	p->kinds = d->kinds;
	p->has_id = d->has_id;
	p->vid = d->vid;
	p->pid = d->pid;
	p->name = d->product;
	p->serial = d->serial;
	p->via_port = d->usb ? d->path : NULL;
	p->connect_type = d->connect_type[0] != '\0' ? d->connect_type : NULL;
	p->ifaces = d->types;
	p->n_ifaces = d->n_types;
}

void
devinfo_kind_words(uint32_t kinds, char *buf, size_t size)
{
	size_t n = 0;
	unsigned b;

	buf[0] = '\0';
	for (b = 0; b < POL_KIND_COUNT_ && n < size; b++)
		if (kinds & (1u << b))
			n += (size_t)snprintf(buf + n, size - n, "%s%s",
			    n > 0 ? " " : "", pol_kind_word(b));
}

void
devinfo_iface_words(const struct devinfo *d, char *buf, size_t size)
{
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < d->n_types && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s%02x:%02x:%02x",
		    n > 0 ? " " : "", d->types[i].cls, d->types[i].subcls,
		    d->types[i].proto);
}
