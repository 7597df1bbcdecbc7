/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The agent-state reading and mismatch words (agent/state.c) against a
 * sysfs- and /etc-shaped tree in a temporary directory: umockdev cannot
 * model a disk's ro flag being set by BLKROSET, so the removable-writable
 * computation is tested here.
 */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"

/* What state.c calls in the rest of the agent. */
int
agent_event(struct agent *a, enum mg_event_type t,
    const struct mg_field_val *f, size_t n)
{
	(void)a;
	(void)t;
	(void)f;
	(void)n;
	return 0;
}

int64_t
agent_now_ms(void)
{
	return 1000;
}

static char root[64];

static void
put(const char *rel, const char *text)
{
	char path[256], *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (slash = strchr(path + strlen(root) + 1, '/'); slash != NULL;
	    slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		(void)mkdir(path, 0700);
		*slash = '/';
	}
	f = fopen(path, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/test_state.XXXXXX");
	assert_non_null(mkdtemp(root));
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

static int
teardown(void **state)
{
	(void)state;
	assert_int_equal(nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	return 0;
}

static void
words(const struct agent_state *s, char *buf)
{
	state_mismatch(s, buf, STATE_WORDS_MAX);
}

static void
test_nothing_installed(void **state)
{
	struct agent_state s;
	char w[STATE_WORDS_MAX];

	(void)state;
	state_read(root, &s);
	assert_string_equal(s.usb_default, "none");
	assert_string_equal(s.iface_default, "none");
	assert_false(s.udev);
	assert_string_equal(s.modprobe, "missing");
	words(&s, w);
	assert_string_equal(w, "udev-rules-missing modprobe-missing");
}

/* The kernel command line instead of a modprobe file; the last setting
 * of the parameter counts, as for the kernel. */
static void
test_cmdline(void **state)
{
	struct agent_state s;
	char w[STATE_WORDS_MAX];

	(void)state;
	put("proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/vda1 "
	    "usbcore.authorized_default=0 quiet\n");
	state_read(root, &s);
	assert_string_equal(s.modprobe, "cmdline");
	words(&s, w);
	assert_string_equal(w, "udev-rules-missing");
	put("proc/cmdline", "usbcore.authorized_default=0 "
	    "usbcore.authorized_default=1\n");
	state_read(root, &s);
	assert_string_equal(s.modprobe, "missing");
	put("proc/cmdline", "usbcore.authorized_default=00\n");
	state_read(root, &s);
	assert_string_equal(s.modprobe, "missing");
}

static void
test_all_right(void **state)
{
	struct agent_state s;
	char w[STATE_WORDS_MAX];

	(void)state;
	put("sys/bus/usb/devices/usb1/authorized_default", "0\n");
	put("sys/bus/usb/devices/usb1/interface_authorized_default", "0\n");
	put("sys/bus/usb/devices/usb2/authorized_default", "0\n");
	put("sys/bus/usb/devices/usb2/interface_authorized_default", "0\n");
	put("sys/bus/usb/devices/1-1/authorized_default", "1\n");
	put("lib/udev/rules.d/10-mynaguard.rules", "ACTION==\"add\"\n");
	put("lib/modprobe.d/mynaguard.conf", "# x\noptions usbcore "
	    "authorized_default=0\ninstall firewire_ohci /bin/false\n");
	put("etc/modprobe.d/other.conf", "options usbcore autosuspend=2\n");
	state_read(root, &s);
	assert_string_equal(s.usb_default, "0");
	assert_string_equal(s.iface_default, "0");
	assert_true(s.udev);
	assert_string_equal(s.udev_path, "/lib/udev/rules.d/10-mynaguard.rules");
	assert_string_equal(s.modprobe, "present");
	words(&s, w);
	assert_string_equal(w, "");
	s.fallback = true;
	words(&s, w);
	assert_string_equal(w, "policy-fallback");
}

static void
test_differences(void **state)
{
	struct agent_state s;
	char w[STATE_WORDS_MAX], disk[160];
	const char *ro[] = { "0", "1", "0", "0" };
	const enum pol_verdict v[] = { POL_VERDICT_READ_ONLY,
	    POL_VERDICT_READ_ONLY, POL_VERDICT_ALLOW, POL_VERDICT_BLOCK };
	int i;

	(void)state;
	put("sys/bus/usb/devices/usb1/authorized_default", "0\n");
	put("sys/bus/usb/devices/usb1/interface_authorized_default", "1\n");
	put("sys/bus/usb/devices/usb2/authorized_default", "2\n");
	put("sys/bus/usb/devices/usb2/interface_authorized_default", "1\n");
	/* /etc masks the packaged rules with an empty file */
	put("lib/udev/rules.d/10-mynaguard.rules", "ACTION==\"add\"\n");
	put("etc/udev/rules.d/10-mynaguard.rules", "");
	put("lib/modprobe.d/mynaguard.conf", "options usbcore "
	    "authorized_default=0\n");
	put("etc/modprobe.d/zz-local.conf", "options  usbcore "
	    "authorized_default=1 # for the dock\n");
	state_read(root, &s);
	assert_string_equal(s.usb_default, "mixed");
	assert_string_equal(s.iface_default, "1");
	assert_false(s.udev);
	assert_string_equal(s.modprobe, "overridden");
	for (i = 0; i < 4; i++) {
		snprintf(disk, sizeof(disk), "sys/block/sd%c/ro", 'a' + i);
		put(disk, ro[i]);
		snprintf(disk, sizeof(disk), "%s/sys/block/sd%c", root,
		    'a' + i);
		state_count_disk(&s, disk, v[i]);
	}
	snprintf(disk, sizeof(disk), "%s/sys/block/gone", root);
	state_count_disk(&s, disk, POL_VERDICT_READ_ONLY);
	assert_int_equal(s.disks, 4);
	assert_int_equal(s.writable, 2);	/* sda (read-only), sdd (block) */
	words(&s, w);
	assert_string_equal(w, "usb-default-authorized "
	    "usb-iface-default-authorized removable-writable "
	    "udev-rules-missing modprobe-overridden");

	/* Our own file edited in /etc: overridden too. */
	put("etc/modprobe.d/zz-local.conf", "# nothing\n");
	put("etc/modprobe.d/mynaguard.conf", "options usbcore "
	    "authorized_default=1\n");
	state_read(root, &s);
	assert_string_equal(s.modprobe, "overridden");
	put("etc/modprobe.d/mynaguard.conf", "options usbcore "
	    "authorized_default=0\n");
	state_read(root, &s);
	assert_string_equal(s.modprobe, "present");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_nothing_installed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cmdline, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_all_right, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_differences, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
