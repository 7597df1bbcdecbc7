/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz the policy parser.  Besides "no crash", checks the round-trip
 * property show(parse(show(x))) == show(x) on every input that parses, and
 * evaluates a fixed device so the evaluator sees every parsed rule shape.
 */
#include <stdlib.h>
#include <string.h>

#include "mynaguard/policy.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static int
fixed_random(void *arg, uint32_t *ret)
{
	(void)arg;
	*ret = 0x80000000u;
	return 0;
}

static void
evaluate(const struct pol_policy *p)
{
	static const struct pol_iface ifaces[] = {
		{ 0x08, 0x06, 0x50 }, { 0x03, 0x01, 0x01 },
	};
	static const char *const groups[] = { "staff", "zeimu" };
	const struct pol_seat seat = { "taro", groups, 2 };
	const struct pol_device dev = {
		.bus = POL_BUS_USB, .kinds = POL_KIND_STORAGE | POL_KIND_HID,
		.has_id = true, .vid = 0x0781, .pid = 0x55a9,
		.name = "Ultra", .serial = "4C530001", .hash = "h",
		.via_port = "1-2", .connect_type = "hotplug",
		.ifaces = ifaces, .n_ifaces = 2,
	};
	const struct pol_device *allowed[] = { &dev };
	struct pol_history *h = NULL;
	struct pol_env env = {
		.seat = &seat, .local_sec = 36000, .mono_ms = 1000,
		.random_u32 = fixed_random, .allowed = allowed, .n_allowed = 1,
	};
	struct pol_decision dec;

	if (pol_history_new(p, &h) < 0)
		return;
	env.history = h;
	(void)pol_eval(p, &dev, &env, &dec);
	env.mono_ms = 5000;
	(void)pol_eval(p, &dev, &env, &dec);
	pol_history_free(h);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct pol_policy *p = NULL, *q = NULL;
	char *t1 = NULL, *t2 = NULL;
	size_t n1, n2;

	struct pol_devdesc *dd = NULL;

	/* The same bytes as a device description. */
	if (pol_devdesc_parse((const char *)data, size, NULL, &dd) == 0 &&
	    pol_devdesc_device(dd) == NULL)
		abort();
	pol_devdesc_free(dd);
	if (pol_policy_parse((const char *)data, size, NULL, &p) < 0)
		return 0;
	evaluate(p);
	if (pol_policy_show(p, 0, &t1, &n1) < 0)
		goto out;
	/* The normalized text must parse and print the same again. */
	if (pol_policy_parse(t1, n1, NULL, &q) < 0)
		abort();
	if (pol_policy_show(q, 0, &t2, &n2) < 0)
		goto out;
	if (n1 != n2 || memcmp(t1, t2, n1) != 0)
		abort();
out:
	free(t1);
	free(t2);
	pol_policy_free(p);
	pol_policy_free(q);
	return 0;
}
