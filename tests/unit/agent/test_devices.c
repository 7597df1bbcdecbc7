/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Device decisions: USB descriptors from hostile devices, kinds, the
 * shipped profile's verdicts, and devinfo/devctl against a sysfs-shaped
 * tree in a temporary directory (the writes land in plain files, which
 * is exactly what the assertions read back).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "devctl.h"
#include "devinfo.h"
#include "usbdesc.h"
#include "mynaguard/common.h"

/* ---- descriptor blobs ------------------------------------------------- */

struct blob {
	uint8_t b[1024];
	size_t n;
};

static void
put(struct blob *x, const uint8_t *p, size_t n)
{
	assert_true(x->n + n <= sizeof(x->b));
	memcpy(x->b + x->n, p, n);
	x->n += n;
}

static void
dev_desc(struct blob *x, uint16_t vid, uint16_t pid, uint8_t nconf)
{
	uint8_t d[18] = { 18, 1, 0x00, 0x02, 0, 0, 0, 64,
	    (uint8_t)vid, (uint8_t)(vid >> 8), (uint8_t)pid,
	    (uint8_t)(pid >> 8), 0, 1, 1, 2, 3, nconf };

	put(x, d, sizeof(d));
}

/* A configuration with n interfaces of the given class triples (one
 * endpoint each). */
static void
config(struct blob *x, uint8_t value, size_t n, const uint8_t (*t)[3])
{
	uint16_t total = (uint16_t)(9 + n * (9 + 7));
	uint8_t c[9] = { 9, 2, (uint8_t)total, (uint8_t)(total >> 8),
	    (uint8_t)n, value, 0, 0x80, 50 };
	size_t i;

	put(x, c, sizeof(c));
	for (i = 0; i < n; i++) {
		uint8_t in[9] = { 9, 4, (uint8_t)i, 0, 1, t[i][0], t[i][1],
		    t[i][2], 0 };
		uint8_t ep[7] = { 7, 5, (uint8_t)(0x81 + i), 2, 0, 2, 0 };

		put(x, in, sizeof(in));
		put(x, ep, sizeof(ep));
	}
}

static const uint8_t T_STORAGE[1][3] = { { 0x08, 0x06, 0x50 } };
static const uint8_t T_KBD[1][3] = { { 0x03, 0x01, 0x01 } };
static const uint8_t T_BADUSB[2][3] = { { 0x08, 0x06, 0x50 },
    { 0x03, 0x01, 0x01 } };
static const uint8_t T_MTP[1][3] = { { 0x06, 0x01, 0x01 } };
static const uint8_t T_YUBI[3][3] = { { 0x03, 0x01, 0x01 },
    { 0x03, 0x00, 0x00 }, { 0x0b, 0x00, 0x00 } };

static void
test_parse_stick(void **state)
{
	struct blob x = { .n = 0 };
	struct usbdesc d;
	const char *why = NULL;
	size_t off = 99;

	(void)state;
	dev_desc(&x, 0x46f4, 0x0001, 1);
	config(&x, 1, 1, T_STORAGE);
	assert_int_equal(usbdesc_parse(x.b, x.n, &d, &why, &off), 0);
	assert_int_equal(d.vid, 0x46f4);
	assert_int_equal(d.pid, 0x0001);
	assert_int_equal(d.n_configs, 1);
	assert_int_equal(d.n_ifaces, 1);
	assert_int_equal(d.ifaces[0].type.cls, 0x08);
	assert_int_equal(d.ifaces[0].type.proto, 0x50);
	assert_int_equal(usbdesc_kinds(&d, "Stick", "Acme"), POL_KIND_STORAGE);
}

static void
test_parse_two_configs_dedup(void **state)
{
	struct blob x = { .n = 0 };
	struct usbdesc d;
	struct pol_iface t[8];
	const char *why;
	size_t off;

	(void)state;
	dev_desc(&x, 0x18d1, 0x4ee1, 2);
	config(&x, 1, 1, T_MTP);
	config(&x, 2, 2, T_BADUSB);
	assert_int_equal(usbdesc_parse(x.b, x.n, &d, &why, &off), 0);
	assert_int_equal(d.n_configs, 2);
	assert_int_equal(d.n_ifaces, 3);
	assert_int_equal(d.ifaces[1].config, 2);
	assert_int_equal(usbdesc_types(&d, t, 8), 3);
	/* the same type in two configurations counts once */
	x.n = 0;
	dev_desc(&x, 1, 2, 2);
	config(&x, 1, 1, T_STORAGE);
	config(&x, 2, 1, T_STORAGE);
	assert_int_equal(usbdesc_parse(x.b, x.n, &d, &why, &off), 0);
	assert_int_equal(usbdesc_types(&d, t, 8), 1);
}

/* Every way a hostile device can lie about lengths is refused, with the
 * offset of the lie. */
static void
test_parse_hostile(void **state)
{
	struct blob x = { .n = 0 }, y;
	struct usbdesc d;
	const char *why = NULL;
	size_t off = 0;

	(void)state;
	dev_desc(&x, 1, 2, 1);
	config(&x, 1, 1, T_STORAGE);
	/* truncated anywhere */
	for (y = x; y.n > 0; y.n--) {
		int r = usbdesc_parse(y.b, y.n, &d, &why, &off);

		if (y.n == x.n || y.n == 18)
			assert_int_equal(r, 0);
		else
			assert_int_equal(r, -EBADMSG);
	}
	/* config total length beyond the data */
	y = x;
	y.b[18 + 2] = 0xff;
	assert_int_equal(usbdesc_parse(y.b, y.n, &d, &why, &off), -EBADMSG);
	assert_int_equal(off, 18);
	assert_non_null(strstr(why, "total length"));
	/* a zero-length descriptor would loop forever */
	y = x;
	y.b[18 + 9] = 0;
	assert_int_equal(usbdesc_parse(y.b, y.n, &d, &why, &off), -EBADMSG);
	assert_int_equal(off, 27);
	/* an interface descriptor shorter than 9 bytes */
	y = x;
	y.b[18 + 9] = 5;
	assert_int_equal(usbdesc_parse(y.b, y.n, &d, &why, &off), -EBADMSG);
	/* not a device descriptor at all */
	y = x;
	y.b[1] = 2;
	assert_int_equal(usbdesc_parse(y.b, y.n, &d, &why, &off), -EBADMSG);
	assert_int_equal(off, 0);
	/* bLength of the device descriptor past the end */
	assert_int_equal(usbdesc_parse(y.b, 17, &d, &why, &off), -EBADMSG);
}

static void
test_parse_many_interfaces_capped(void **state)
{
	static const uint8_t t[40][3];
	struct blob x = { .n = 0 };
	struct usbdesc d;
	const char *why;
	size_t off;

	(void)state;
	dev_desc(&x, 1, 2, 1);
	config(&x, 1, 40, t);
	assert_int_equal(usbdesc_parse(x.b, x.n, &d, &why, &off), 0);
	assert_int_equal(d.n_ifaces, USBDESC_IFACES_MAX);
}

static void
test_kinds(void **state)
{
	struct blob x = { .n = 0 };
	struct usbdesc d;
	const char *why;
	size_t off;

	(void)state;
	dev_desc(&x, 0x46f4, 4, 1);
	config(&x, 1, 1, T_MTP);
	assert_int_equal(usbdesc_parse(x.b, x.n, &d, &why, &off), 0);
	assert_int_equal(usbdesc_kinds(&d, "Camera", NULL), POL_KIND_PTP);
	assert_int_equal(usbdesc_kinds(&d, "Phone (MTP)", NULL), POL_KIND_MTP);
	x.n = 0;
	dev_desc(&x, 0x1050, 0x0407, 1);
	config(&x, 1, 3, T_YUBI);
	assert_int_equal(usbdesc_parse(x.b, x.n, &d, &why, &off), 0);
	assert_int_equal(usbdesc_kinds(&d, "YubiKey OTP+FIDO+CCID", "Yubico"),
	    POL_KIND_HID | POL_KIND_SMARTCARD | POL_KIND_FIDO);
	assert_int_equal(usbdesc_kinds(&d, "Smart card reader", "Acme"),
	    POL_KIND_HID | POL_KIND_SMARTCARD);
	/* a keyboard claiming FIDO in its name: a boot keyboard is not
	 * a plain HID interface, so it stays hid */
	x.n = 0;
	dev_desc(&x, 1, 2, 1);
	config(&x, 1, 1, T_KBD);
	assert_int_equal(usbdesc_parse(x.b, x.n, &d, &why, &off), 0);
	assert_int_equal(usbdesc_kinds(&d, "FIDO keyboard", NULL),
	    POL_KIND_HID);
}

/* ---- the shipped profile's verdicts ------------------------------------ */

static struct pol_policy *
profile(const char *extra_first_rule)
{
	const char *src = getenv("MG_SOURCE_DIR");
	char path[512], *text = NULL, *mod;
	struct pol_policy *p = NULL;
	size_t len, n;
	const char *at;

	assert_non_null(src);
	snprintf(path, sizeof(path), "%s/policy/mynumber-terminal.conf", src);
	assert_int_equal(file_read_all(path, 1 << 20, 0, &text, &len), 0);
	if (extra_first_rule != NULL) {
		at = strstr(text, "[devices]\n");
		assert_non_null(at);
		at += strlen("[devices]\n");
		n = len + strlen(extra_first_rule) + 2;
		mod = malloc(n);
		assert_non_null(mod);
		len = (size_t)snprintf(mod, n, "%.*s%s\n%s", (int)(at - text),
		    text, extra_first_rule, at);
		free(text);
		text = mod;
	}
	assert_int_equal(pol_policy_parse(text, len, NULL, &p), 0);
	free(text);
	return p;
}

static enum pol_verdict
verdict(const struct pol_policy *p, uint16_t vid, uint16_t pid,
    const char *serial, const char *name, size_t n, const uint8_t (*t)[3],
    const char *seat_user, unsigned *rule)
{
	struct blob x = { .n = 0 };
	struct devinfo *d = calloc(1, sizeof(*d));
	struct pol_decision dec;
	const char *groups[1] = { "staff" };
	struct pol_seat seat = { .user = seat_user, .groups = groups,
	    .n_groups = 1 };
	struct pol_env env = { .local_sec = 36000,
	    .seat = seat_user != NULL ? &seat : NULL };
	const char *why;
	size_t off;

	assert_non_null(d);
	dev_desc(&x, vid, pid, 1);
	config(&x, 1, n, t);
	assert_int_equal(usbdesc_parse(x.b, x.n, &d->desc, &why, &off), 0);
	d->usb = true;
	d->bus = POL_BUS_USB;
	d->has_id = true;
	d->vid = vid;
	d->pid = pid;
	snprintf(d->serial, sizeof(d->serial), "%s", serial);
	snprintf(d->product, sizeof(d->product), "%s", name);
	snprintf(d->path, sizeof(d->path), "1-1");
	d->n_types = usbdesc_types(&d->desc, d->types, USBDESC_IFACES_MAX);
	d->kinds = usbdesc_kinds(&d->desc, d->product, d->vendor);
	assert_int_equal(devctl_decide(p, d, &env, &dec, &why), 0);
	free(d);
	if (rule != NULL)
		*rule = dec.rule;
	return dec.verdict;
}

static void
test_profile_verdicts(void **state)
{
	struct pol_policy *p = profile(NULL);
	unsigned rule = 0;

	(void)state;
	assert_int_equal(verdict(p, 0x46f4, 1, "SN1", "Stick", 1, T_STORAGE,
	    NULL, &rule), POL_VERDICT_READ_ONLY);
	assert_int_equal(rule, 4);
	assert_int_equal(verdict(p, 0x46f4, 4, "P1", "Phone", 1, T_MTP, NULL,
	    NULL), POL_VERDICT_BLOCK);
	assert_int_equal(verdict(p, 1, 2, "", "Keyboard", 1, T_KBD, NULL,
	    &rule), POL_VERDICT_ALLOW);
	assert_int_equal(rule, 6);
	/* BadUSB: read-only as storage; its keyboard is withheld by
	 * devctl_apply_usb (test_apply_badusb) */
	assert_int_equal(verdict(p, 1, 2, "X", "Stick", 2, T_BADUSB, NULL,
	    NULL), POL_VERDICT_READ_ONLY);
	assert_int_equal(verdict(p, 0x1050, 0x0407, "", "YubiKey FIDO", 3,
	    T_YUBI, NULL, &rule), POL_VERDICT_ALLOW);
	assert_int_equal(rule, 5);
	pol_policy_free(p);
}

static void
test_registered_per_user(void **state)
{
	struct pol_policy *p = profile("allow id 46f4:0001 serial \"REG1\" "
	    "if seat-user(taro) label \"registered\"");

	(void)state;
	assert_int_equal(verdict(p, 0x46f4, 1, "REG1", "Stick", 1, T_STORAGE,
	    "taro", NULL), POL_VERDICT_ALLOW);
	assert_int_equal(verdict(p, 0x46f4, 1, "REG1", "Stick", 1, T_STORAGE,
	    "hanako", NULL), POL_VERDICT_READ_ONLY);
	assert_int_equal(verdict(p, 0x46f4, 1, "REG1", "Stick", 1, T_STORAGE,
	    NULL, NULL), POL_VERDICT_READ_ONLY);
	assert_int_equal(verdict(p, 0x46f4, 1, "REG2", "Stick", 1, T_STORAGE,
	    "taro", NULL), POL_VERDICT_READ_ONLY);
	pol_policy_free(p);
}

static void
test_fallback_policy(void **state)
{
	struct pol_policy *p = NULL;

	(void)state;
	assert_int_equal(devctl_fallback(&p), 0);
	assert_int_equal(verdict(p, 1, 2, "", "Keyboard", 1, T_KBD, NULL,
	    NULL), POL_VERDICT_ALLOW);
	assert_int_equal(verdict(p, 0x46f4, 1, "REG1", "Stick", 1, T_STORAGE,
	    NULL, NULL), POL_VERDICT_BLOCK);
	assert_int_equal(verdict(p, 1, 2, "X", "Stick", 2, T_BADUSB, NULL,
	    NULL), POL_VERDICT_BLOCK);
	assert_int_equal(verdict(p, 0x46f4, 4, "", "Phone", 1, T_MTP, NULL,
	    NULL), POL_VERDICT_BLOCK);
	pol_policy_free(p);
}

/* A condition without input (no random source here) blocks by the
 * default's number, 0; a missing attribute (no hash) just does not match. */
static void
test_missing_input_blocks(void **state)
{
	struct pol_policy *p = profile("allow id 46f4:0001 if random(0.5)");
	unsigned rule = 99;

	(void)state;
	assert_int_equal(verdict(p, 0x46f4, 1, "S", "Stick", 1, T_STORAGE,
	    NULL, &rule), POL_VERDICT_BLOCK);
	assert_int_equal(rule, 0);
	pol_policy_free(p);
	p = profile("allow id 46f4:0001 hash \"abc\"");
	assert_int_equal(verdict(p, 0x46f4, 1, "S", "Stick", 1, T_STORAGE,
	    NULL, &rule), POL_VERDICT_READ_ONLY);
	assert_int_equal(rule, 5);
	pol_policy_free(p);
}

/* ---- sysfs-shaped trees ----------------------------------------------- */

static char root[64];

static void
mkfile(const char *rel, const void *data, size_t n)
{
	char p[512];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	close(fd);
}

static void
mkstr(const char *rel, const char *s)
{
	mkfile(rel, s, strlen(s));
}

static void
mkdirs(const char *rel)
{
	char p[512], *s;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	for (s = p + strlen(root) + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		(void)mkdir(p, 0755);
		*s = '/';
	}
	(void)mkdir(p, 0755);
}

static void
readback(const char *rel, char *buf, size_t size)
{
	assert_int_equal(sysfs_read(root, rel, buf, size, NULL), 0);
}

static int
setup_tree(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/mg-test-devices.XXXXXX");
	if (mkdtemp(root) == NULL)
		return -1;
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 ? -1 : 0;
}

static int
teardown_tree(void **state)
{
	(void)state;
	/* only the tree mkdtemp made */
	if (strncmp(root, "/tmp/mg-test-devices.", 21) != 0)
		return -1;
	return nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A USB device directory "dev" with interfaces ifaces, as sysfs shows one
 * that is authorized (interfaces present, not yet authorized). */
static void
usb_tree(const char *dev, const char *serial, size_t n,
    const uint8_t (*t)[3])
{
	struct blob x = { .n = 0 };
	char rel[256], val[8];
	size_t i;

	mkdirs(dev);
	dev_desc(&x, 0x46f4, 1, 1);
	config(&x, 1, n, t);
	snprintf(rel, sizeof(rel), "%s/descriptors", dev);
	mkfile(rel, x.b, x.n);
	snprintf(rel, sizeof(rel), "%s/idVendor", dev);
	mkstr(rel, "46f4\n");
	snprintf(rel, sizeof(rel), "%s/idProduct", dev);
	mkstr(rel, "0001\n");
	snprintf(rel, sizeof(rel), "%s/serial", dev);
	mkstr(rel, serial);
	snprintf(rel, sizeof(rel), "%s/product", dev);
	mkstr(rel, "QEMU USB HARDDRIVE\n");
	snprintf(rel, sizeof(rel), "%s/authorized", dev);
	mkstr(rel, "0\n");
	for (i = 0; i < n; i++) {
		snprintf(rel, sizeof(rel), "%s/%s:1.%zu", dev,
		    strrchr(dev, '/') + 1, i);
		mkdirs(rel);
		snprintf(rel, sizeof(rel), "%s/%s:1.%zu/bInterfaceClass", dev,
		    strrchr(dev, '/') + 1, i);
		snprintf(val, sizeof(val), "%02x\n", t[i][0]);
		mkstr(rel, val);
		snprintf(rel, sizeof(rel), "%s/%s:1.%zu/authorized", dev,
		    strrchr(dev, '/') + 1, i);
		mkstr(rel, "0\n");
	}
}

static void
test_devinfo_hostile_strings(void **state)
{
	static const char hostile[] = "Q\"'$(touch /tmp/x)`\n;|&<>\x01\x7f"
	    "日本語\n";
	struct devinfo *d = calloc(1, sizeof(*d));
	char p[512];
	const char *why = NULL;

	(void)state;
	assert_non_null(d);
	usb_tree("devices/usb1/1-1", hostile, 1, T_STORAGE);
	snprintf(p, sizeof(p), "%s/devices/usb1/1-1", root);
	assert_int_equal(devinfo_usb(p, d, &why), 0);
	/* exact, but for the one newline sysfs appends */
	assert_int_equal(strlen(d->serial), strlen(hostile) - 1);
	assert_memory_equal(d->serial, hostile, strlen(hostile) - 1);
	assert_string_equal(d->path, "1-1");
	assert_false(d->authorized);
	assert_int_equal(d->kinds, POL_KIND_STORAGE);
	free(d);
}

static void
test_devinfo_bad_descriptors(void **state)
{
	struct devinfo *d = calloc(1, sizeof(*d));
	char p[512];
	const char *why = NULL;

	(void)state;
	assert_non_null(d);
	usb_tree("devices/usb1/1-2", "S\n", 1, T_STORAGE);
	mkfile("devices/usb1/1-2/descriptors", "\x12\x01\x00", 3);
	snprintf(p, sizeof(p), "%s/devices/usb1/1-2", root);
	assert_int_equal(devinfo_usb(p, d, &why), -EBADMSG);
	assert_non_null(why);
	snprintf(p, sizeof(p), "%s/devices/usb1/1-9", root);
	assert_int_equal(devinfo_usb(p, d, &why), -ENOENT);
	free(d);
}

static void
apply(const char *dev, enum pol_verdict v, char *what, size_t size)
{
	struct devinfo *d = calloc(1, sizeof(*d));
	char p[512];
	const char *why;

	assert_non_null(d);
	snprintf(p, sizeof(p), "%s/%s", root, dev);
	assert_int_equal(devinfo_usb(p, d, &why), 0);
	/* drivers_probe is outside the tree: interfaces without a driver
	 * are probed through /sys/bus/usb, absent here (-ENOENT).  Give
	 * each interface a driver link so that no probe is needed. */
	(void)devctl_apply_usb(d, v, what, size);
	free(d);
}

static void
test_apply_badusb(void **state)
{
	char what[128], buf[16];

	(void)state;
	usb_tree("devices/usb1/1-3", "B\n", 2, T_BADUSB);
	mkdirs("devices/usb1/1-3/1-3:1.0/driver");
	mkdirs("devices/usb1/1-3/1-3:1.1/driver");
	apply("devices/usb1/1-3", POL_VERDICT_READ_ONLY, what, sizeof(what));
	readback("devices/usb1/1-3/authorized", buf, sizeof(buf));
	assert_string_equal(buf, "1");
	readback("devices/usb1/1-3/1-3:1.0/authorized", buf, sizeof(buf));
	assert_string_equal(buf, "1");		/* storage */
	readback("devices/usb1/1-3/1-3:1.1/authorized", buf, sizeof(buf));
	assert_string_equal(buf, "0");		/* its keyboard: withheld */
	assert_non_null(strstr(what, "1 interface enabled, 1 withheld"));
}

static void
test_apply_allow_and_block(void **state)
{
	char what[128], buf[16];

	(void)state;
	usb_tree("devices/usb1/1-4", "R\n", 2, T_BADUSB);
	mkdirs("devices/usb1/1-4/1-4:1.0/driver");
	mkdirs("devices/usb1/1-4/1-4:1.1/driver");
	apply("devices/usb1/1-4", POL_VERDICT_ALLOW, what, sizeof(what));
	readback("devices/usb1/1-4/1-4:1.1/authorized", buf, sizeof(buf));
	assert_string_equal(buf, "1");
	apply("devices/usb1/1-4", POL_VERDICT_BLOCK, what, sizeof(what));
	readback("devices/usb1/1-4/authorized", buf, sizeof(buf));
	assert_string_equal(buf, "0");
	assert_string_equal(what, "not authorized");
	/* a device that is gone: the error, nothing written */
	{
		struct devinfo d = { .usb = true };

		snprintf(d.syspath, sizeof(d.syspath), "%s/devices/usb1/1-7",
		    root);
		assert_int_equal(devctl_apply_usb(&d, POL_VERDICT_ALLOW, what,
		    sizeof(what)), -ENOENT);
	}
}

static void
test_root_hub_never_touched(void **state)
{
	struct devinfo d = { .usb = true };
	char what[64];

	(void)state;
	snprintf(d.syspath, sizeof(d.syspath), "/sys/devices/pci0/usb1");
	assert_true(devinfo_usb_is_root_hub(d.syspath));
	assert_int_equal(devctl_apply_usb(&d, POL_VERDICT_BLOCK, what,
	    sizeof(what)), -EINVAL);
	assert_true(devinfo_usb_is_root_hub("/sys/devices/x/1-1:1.0"));
	assert_false(devinfo_usb_is_root_hub("/sys/devices/x/1-1.2"));
}

static void
test_set_ro_not_a_block_device(void **state)
{
	char p[512];

	(void)state;
	mkstr("notablock", "x");
	snprintf(p, sizeof(p), "%s/notablock", root);
	assert_int_equal(devctl_set_ro(p, true), -ENOTTY);
	assert_int_equal(devctl_get_ro(p), -ENOTTY);
	assert_int_equal(devctl_set_ro("/nonexistent/sdz", true), -ENOENT);
}

static void
test_words(void **state)
{
	struct devinfo d = { .n_types = 2, .types = { { 8, 6, 0x50 },
	    { 3, 1, 1 } } };
	char b[64];

	(void)state;
	devinfo_kind_words(POL_KIND_STORAGE | POL_KIND_SD, b, sizeof(b));
	assert_string_equal(b, "storage sd");
	devinfo_iface_words(&d, b, sizeof(b));
	assert_string_equal(b, "08:06:50 03:01:01");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_stick),
		cmocka_unit_test(test_parse_two_configs_dedup),
		cmocka_unit_test(test_parse_hostile),
		cmocka_unit_test(test_parse_many_interfaces_capped),
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_profile_verdicts),
		cmocka_unit_test(test_registered_per_user),
		cmocka_unit_test(test_fallback_policy),
		cmocka_unit_test(test_missing_input_blocks),
		cmocka_unit_test(test_devinfo_hostile_strings),
		cmocka_unit_test(test_devinfo_bad_descriptors),
		cmocka_unit_test(test_apply_badusb),
		cmocka_unit_test(test_apply_allow_and_block),
		cmocka_unit_test(test_root_hub_never_touched),
		cmocka_unit_test(test_set_ro_not_a_block_device),
		cmocka_unit_test(test_words),
	};

	return cmocka_run_group_tests(tests, setup_tree, teardown_tree);
}
