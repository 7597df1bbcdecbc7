/* SPDX-License-Identifier: BSD-2-Clause */
/* Evaluation: first match wins, set operators (with usbguard's bugs fixed),
 * conditions, seat user, and failing closed when input is missing. */
#include <errno.h>

#include "helpers.h"

static const struct pol_iface storage_if[] = { { 0x08, 0x06, 0x50 } };
static const struct pol_iface kbd_storage_if[] = {
	{ 0x03, 0x01, 0x01 }, { 0x08, 0x06, 0x50 },
};
static const struct pol_iface kbd_if[] = {
	{ 0x03, 0x01, 0x01 }, { 0x03, 0x00, 0x00 },
};

static const struct pol_device stick = {
	.bus = POL_BUS_USB, .kinds = POL_KIND_STORAGE, .has_id = true,
	.vid = 0x0781, .pid = 0x55a9, .name = "Ultra", .serial = "4C530001",
	.via_port = "1-2", .connect_type = "hotplug",
	.ifaces = storage_if, .n_ifaces = 1,
};

static const struct pol_device keyboard = {
	.bus = POL_BUS_USB, .kinds = POL_KIND_HID, .has_id = true,
	.vid = 0x046d, .pid = 0xc31c, .name = "Keyboard",
	.ifaces = kbd_if, .n_ifaces = 2,
};

static const struct pol_device evil_keyboard = {
	.bus = POL_BUS_USB, .kinds = POL_KIND_HID | POL_KIND_STORAGE,
	.has_id = true, .vid = 0x046d, .pid = 0xc31c, .name = "Keyboard",
	.ifaces = kbd_storage_if, .n_ifaces = 2,
};

static const struct pol_device sd_slot = {
	.bus = POL_BUS_MMC, .kinds = POL_KIND_STORAGE | POL_KIND_SD,
	.serial = "0x1234abcd",
};

static const struct pol_env no_env = { .local_sec = -1 };

/* Verdict (as a name) and deciding rule of dev under policy text. */
static void
expect(const char *text, const struct pol_device *dev,
    const struct pol_env *env, enum pol_verdict v, unsigned rule)
{
	struct pol_policy *p = must_parse(text);
	struct pol_decision d;

	memset(&d, 0xa5, sizeof(d));
	assert_int_equal(pol_eval(p, dev, env, &d), 0);
	if (d.verdict != v || d.rule != rule)
		print_error("policy:\n%s\nwant %s by %u, got %s by %u\n", text,
		    pol_verdict_name(v), rule, pol_verdict_name(d.verdict),
		    d.rule);
	assert_int_equal(d.verdict, v);
	assert_int_equal(d.rule, rule);
	pol_policy_free(p);
}

static void
test_first_match_and_default(void **state)
{
	const char *text = "[devices]\n"
	    "block kind mtp label \"phones\"\n"
	    "allow id 0781:55a9 serial \"4C530001\" label \"登録済み\"\n"
	    "read-only kind one-of { storage }\n"
	    "default block\n";
	struct pol_policy *p = must_parse(text);
	struct pol_decision d;

	(void)state;
	assert_int_equal(pol_eval(p, &stick, &no_env, &d), 0);
	assert_int_equal(d.verdict, POL_VERDICT_ALLOW);
	assert_int_equal(d.rule, 2);
	assert_int_equal(d.line, 3);
	assert_string_equal(d.label, "登録済み");
	assert_int_equal(pol_eval(p, &keyboard, &no_env, &d), 0);
	assert_int_equal(d.verdict, POL_VERDICT_BLOCK);
	assert_int_equal(d.rule, 0);	/* the default */
	assert_int_equal(d.line, 5);
	assert_null(d.label);
	assert_int_equal(pol_eval(p, &sd_slot, &no_env, &d), 0);
	assert_int_equal(d.verdict, POL_VERDICT_READ_ONLY);
	assert_int_equal(d.rule, 3);
	pol_policy_free(p);
	/* A plain usbguard rule file: implicit default block. */
	expect("allow id 046d:*\n", &stick, &no_env, POL_VERDICT_BLOCK, 0);
	expect("allow id 046d:*\n", &keyboard, &no_env, POL_VERDICT_ALLOW, 1);
	/* match and device rules never decide. */
	expect("match\ndevice\nreject\n", &stick, &no_env,
	    POL_VERDICT_REJECT, 3);
}

static void
test_id_case_insensitive(void **state)
{
	(void)state;
	/* usbguard compares the text; 0781:55A9 must match 0781:55a9. */
	expect("allow id 0781:55A9\n", &stick, &no_env, POL_VERDICT_ALLOW, 1);
	expect("allow id 0781:*\n", &stick, &no_env, POL_VERDICT_ALLOW, 1);
	expect("allow id *:*\n", &stick, &no_env, POL_VERDICT_ALLOW, 1);
	expect("allow id 0782:*\n", &stick, &no_env, POL_VERDICT_BLOCK, 0);
	/* A device without USB ids has an empty id set. */
	expect("allow id *:*\n", &sd_slot, &no_env, POL_VERDICT_BLOCK, 0);
	expect("allow id none-of { *:* }\n", &sd_slot, &no_env,
	    POL_VERDICT_ALLOW, 1);
}

static void
test_set_operators(void **state)
{
	(void)state;
	/* equals: one-to-one pairing, not just equal counts. */
	expect("allow with-interface { 03:*:* 03:*:* }\n", &keyboard, &no_env,
	    POL_VERDICT_ALLOW, 1);
	expect("allow with-interface { 03:*:* 03:*:* }\n", &evil_keyboard,
	    &no_env, POL_VERDICT_BLOCK, 0);
	expect("allow with-interface { 03:01:01 03:01:01 }\n", &keyboard,
	    &no_env, POL_VERDICT_BLOCK, 0);
	expect("allow with-interface 03:*:*\n", &keyboard, &no_env,
	    POL_VERDICT_BLOCK, 0);	/* two interfaces, one value */
	/* match-all: every device interface covered; not "always true". */
	expect("allow with-interface match-all { 03:*:* }\n", &keyboard,
	    &no_env, POL_VERDICT_ALLOW, 1);
	expect("allow with-interface match-all { 03:*:* }\n", &evil_keyboard,
	    &no_env, POL_VERDICT_BLOCK, 0);
	expect("allow name match-all { \"Keyboard\" \"x\" }\n", &keyboard,
	    &no_env, POL_VERDICT_ALLOW, 1);
	expect("allow name match-all { \"x\" }\n", &keyboard, &no_env,
	    POL_VERDICT_BLOCK, 0);
	expect("allow serial match-all { \"x\" }\n", &keyboard, &no_env,
	    POL_VERDICT_BLOCK, 0);	/* no serial: empty set */
	/* all-of / one-of / none-of / equals-ordered. */
	expect("allow with-interface all-of { 08:*:* 03:01:* }\n",
	    &evil_keyboard, &no_env, POL_VERDICT_ALLOW, 1);
	expect("allow with-interface all-of { 08:*:* 03:01:* }\n", &keyboard,
	    &no_env, POL_VERDICT_BLOCK, 0);
	expect("block with-interface one-of { 08:*:* 06:*:* }\n",
	    &evil_keyboard, &no_env, POL_VERDICT_BLOCK, 1);
	expect("allow with-interface none-of { 08:*:* }\n", &evil_keyboard,
	    &no_env, POL_VERDICT_BLOCK, 0);
	expect("allow with-interface equals-ordered { 03:01:01 03:00:00 }\n",
	    &keyboard, &no_env, POL_VERDICT_ALLOW, 1);
	expect("allow with-interface equals-ordered { 03:00:00 03:01:01 }\n",
	    &keyboard, &no_env, POL_VERDICT_BLOCK, 0);
	/* kind and bus. */
	expect("read-only kind all-of { storage sd } bus mmc\n", &sd_slot,
	    &no_env, POL_VERDICT_READ_ONLY, 1);
	expect("read-only kind storage\n", &sd_slot, &no_env,
	    POL_VERDICT_BLOCK, 0);	/* equals: {storage} != {storage sd} */
	expect("read-only kind one-of { storage }\n", &sd_slot, &no_env,
	    POL_VERDICT_READ_ONLY, 1);
	expect("allow bus usb\n", &sd_slot, &no_env, POL_VERDICT_BLOCK, 0);
}

static const char *const staff_groups[] = { "staff", "zeimu" };

static void
test_seat(void **state)
{
	const char *text = "allow id 0781:55a9 if seat-group(zeimu)\n"
	    "read-only kind one-of { storage } if seat-user(taro)\n";
	const struct pol_seat taro = { "taro", staff_groups, 2 };
	const struct pol_seat hanako = { "hanako", staff_groups + 0, 1 };
	struct pol_env env = { .local_sec = -1, .seat = &taro };

	(void)state;
	expect(text, &stick, &env, POL_VERDICT_ALLOW, 1);
	env.seat = &hanako;
	expect(text, &stick, &env, POL_VERDICT_BLOCK, 0);
	/* Nobody at the seat: both conditions are false, not errors. */
	env.seat = NULL;
	expect(text, &stick, &env, POL_VERDICT_BLOCK, 0);
	expect("allow if !seat-user(taro)\n", &stick, &env, POL_VERDICT_ALLOW,
	    1);
}

static int
rng_fixed(void *arg, uint32_t *ret)
{
	*ret = *(const uint32_t *)arg;
	return 0;
}

static int
rng_broken(void *arg, uint32_t *ret)
{
	(void)arg;
	(void)ret;
	return -EIO;
}

static void
test_conditions(void **state)
{
	uint32_t r = 0x7fffffff;
	struct pol_env env = { .local_sec = 9 * 3600 };

	(void)state;
	expect("allow if localtime(08:30-17:15)\n", &stick, &env,
	    POL_VERDICT_ALLOW, 1);
	env.local_sec = 17 * 3600 + 15 * 60 + 1;
	expect("allow if localtime(08:30-17:15)\n", &stick, &env,
	    POL_VERDICT_BLOCK, 0);
	env.local_sec = 17 * 3600 + 15 * 60;	/* inclusive end */
	expect("allow if localtime(08:30-17:15)\n", &stick, &env,
	    POL_VERDICT_ALLOW, 1);
	env.random_u32 = rng_fixed;
	env.random_arg = &r;
	expect("allow if random\n", &stick, &env, POL_VERDICT_ALLOW, 1);
	r = 0x80000000u;
	expect("allow if random\n", &stick, &env, POL_VERDICT_BLOCK, 0);
	r = 0xffffffffu;
	expect("allow if random(1)\n", &stick, &env, POL_VERDICT_ALLOW, 1);
	r = 0;
	expect("allow if random(0)\n", &stick, &env, POL_VERDICT_BLOCK, 0);
	expect("allow if one-of { false true }\n", &stick, &env,
	    POL_VERDICT_ALLOW, 1);
	expect("allow if { false true }\n", &stick, &env, POL_VERDICT_BLOCK,
	    0);
	expect("allow if none-of { false !true }\n", &stick, &env,
	    POL_VERDICT_ALLOW, 1);
}

static void
test_allowed_matches(void **state)
{
	const struct pol_device *allowed[] = { &keyboard };
	struct pol_env env = { .local_sec = -1, .allowed = allowed,
	    .n_allowed = 1 };

	(void)state;
	expect("allow if allowed-matches(id 046d:c31c)\n", &stick, &env,
	    POL_VERDICT_ALLOW, 1);
	expect("allow if allowed-matches(name \"Other\")\n", &stick, &env,
	    POL_VERDICT_BLOCK, 0);
	env.n_allowed = 0;
	expect("allow if allowed-matches(id 046d:c31c)\n", &stick, &env,
	    POL_VERDICT_BLOCK, 0);
}

static void
test_history(void **state)
{
	const char *text = "block id 0781:* if !rule-applied\n"
	    "allow if rule-evaluated(10s)\n";
	struct pol_policy *p = must_parse(text);
	struct pol_history *h = NULL;
	struct pol_env env = { .local_sec = -1, .mono_ms = 1000 };
	struct pol_decision d;

	(void)state;
	assert_int_equal(pol_history_new(p, &h), 0);
	env.history = h;
	/* First stick: rule 1 never applied, so it blocks; rule 2 was not
	 * reached. */
	assert_int_equal(pol_eval(p, &stick, &env, &d), 0);
	assert_int_equal(d.rule, 1);
	/* Second stick: rule 1 applied before, so it does not match; rule 2
	 * has never been evaluated (false), default decides. */
	env.mono_ms = 2000;
	assert_int_equal(pol_eval(p, &stick, &env, &d), 0);
	assert_int_equal(d.rule, 0);
	/* Rule 2 was evaluated at 2000 ms: within 10 s it matches. */
	env.mono_ms = 11000;
	assert_int_equal(pol_eval(p, &stick, &env, &d), 0);
	assert_int_equal(d.rule, 2);
	/* More than 10 s after the last evaluation (at 11000): no match. */
	env.mono_ms = 21001;
	assert_int_equal(pol_eval(p, &stick, &env, &d), 0);
	assert_int_equal(d.rule, 0);
	pol_history_free(h);
	pol_policy_free(p);
}

static void
test_fail_closed(void **state)
{
	struct pol_policy *p;
	struct pol_decision d;
	struct pol_env env = { .local_sec = -1 };
	struct pol_device bad = stick;

	(void)state;
	/* Each condition whose input is missing: -ENODATA, never a match. */
	p = must_parse("allow if random\n");
	assert_int_equal(pol_eval(p, &stick, &env, &d), -ENODATA);
	env.random_u32 = rng_broken;
	assert_int_equal(pol_eval(p, &stick, &env, &d), -EIO);
	pol_policy_free(p);
	p = must_parse("allow if !localtime(1:00-2:00)\n");
	assert_int_equal(pol_eval(p, &stick, &env, &d), -ENODATA);
	pol_policy_free(p);
	p = must_parse("allow if !rule-applied\n");
	assert_int_equal(pol_eval(p, &stick, &env, &d), -ENODATA);
	pol_policy_free(p);
	p = must_parse("allow if !allowed-matches(id *:*)\n");
	assert_int_equal(pol_eval(p, &stick, &env, &d), -ENODATA);
	/* Bad arguments. */
	assert_int_equal(pol_eval(NULL, &stick, &env, &d), -EINVAL);
	assert_int_equal(pol_eval(p, NULL, &env, &d), -EINVAL);
	bad.n_ifaces = 3;
	bad.ifaces = NULL;
	pol_policy_free(p);
	p = must_parse("allow with-interface 08:*:*\n");
	assert_int_equal(pol_eval(p, &bad, &env, &d), -EINVAL);
	bad = stick;
	bad.bus = POL_BUS_COUNT_;
	assert_int_equal(pol_eval(p, &bad, &env, &d), -EINVAL);
	pol_policy_free(p);
	/* A condition that is not reached is not needed. */
	expect("block kind storage\nallow if random\n", &stick, &env,
	    POL_VERDICT_BLOCK, 1);
}

static void
test_devdesc(void **state)
{
	const char *ok = "3: device id 0781:55A9 serial \"4C\\x41\" name \"Ultra\" "
	    "with-interface { 08:06:50 03:01:01 } kind { storage hid } bus usb "
	    "via-port \"1-2\" with-connect-type \"hotplug\" hash \"h\" "
	    "parent-hash \"ph\"";
	static const char *const bad[] = {
		"device id 0781:*", "device with-interface 08:*:*",
		"device name one-of { \"a\" }", "device serial { \"a\" \"b\" }",
		"device if true", "device\ndevice", "", "device serial \"a\\x00\"",
	};
	struct pol_devdesc *dd = NULL;
	const struct pol_device *d;
	size_t i;

	(void)state;
	assert_int_equal(pol_devdesc_parse(ok, strlen(ok), NULL, &dd), 0);
	d = pol_devdesc_device(dd);
	assert_true(d->has_id);
	assert_int_equal(d->vid, 0x0781);
	assert_int_equal(d->pid, 0x55a9);
	assert_string_equal(d->serial, "4CA");
	assert_string_equal(d->name, "Ultra");
	assert_int_equal(d->n_ifaces, 2);
	assert_int_equal(d->ifaces[1].cls, 3);
	assert_int_equal(d->kinds, POL_KIND_STORAGE | POL_KIND_HID);
	assert_int_equal(d->bus, POL_BUS_USB);
	assert_string_equal(d->via_port, "1-2");
	assert_string_equal(d->connect_type, "hotplug");
	assert_string_equal(d->parent_hash, "ph");
	expect("allow id 0781:55a9 serial \"4CA\" kind all-of { hid }\n", d,
	    &no_env, POL_VERDICT_ALLOW, 1);
	pol_devdesc_free(dd);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		dd = NULL;
		assert_int_equal(pol_devdesc_parse(bad[i], strlen(bad[i]), NULL,
		    &dd), -EBADMSG);
		assert_null(dd);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_match_and_default),
		cmocka_unit_test(test_id_case_insensitive),
		cmocka_unit_test(test_set_operators),
		cmocka_unit_test(test_seat),
		cmocka_unit_test(test_conditions),
		cmocka_unit_test(test_allowed_matches),
		cmocka_unit_test(test_history),
		cmocka_unit_test(test_fail_closed),
		cmocka_unit_test(test_devdesc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
