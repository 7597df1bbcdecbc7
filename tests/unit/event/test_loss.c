/* SPDX-License-Identifier: BSD-2-Clause */
/* Loss bodies read back (mg_event_loss_parse()): what mg_event_loss_body()
 * writes, other orders and spacing, unusable ranges, and broken bodies. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mynaguard/event.h"

#define H64 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static const struct mg_event_ctx ctx = {
	.host_name = "pc01", .agent_id = "pc01", .seq = 20, .boot_id = 7,
	.t_wall_ns = 1800000000000000000,
};

static int
parse(const char *body, uint64_t seq, struct mg_loss_info *in,
    struct sbuf *reason)
{
	return mg_event_loss_parse(body, strlen(body), seq, in, reason);
}

static void
test_roundtrip(void **state)
{
	struct mg_loss_range rg[2] = { { 3, 5, { 0 } }, { 9, 9, { 0 } } };
	struct mg_loss_info in;
	struct sbuf b, reason;

	(void)state;
	memset(rg[0].last_hash, 0xab, MG_REC_HASH_LEN);
	memset(rg[1].last_hash, 0x01, MG_REC_HASH_LEN);
	sbuf_init(&b, MG_REC_BODY_MAX);
	sbuf_init(&reason, 64);
	assert_int_equal(mg_event_loss_body(rg, 2, 4, "spool full", &ctx, &b),
	    0);
	assert_int_equal(mg_event_loss_parse(b.data, b.len, 20, &in, &reason),
	    0);
	assert_int_equal(in.n, 2);
	assert_int_equal(in.invalid, 0);
	assert_memory_equal(in.range, rg, sizeof(rg));
	assert_true(in.has_count);
	assert_int_equal(in.count, 4);
	assert_true(in.has_reason);
	assert_string_equal(reason.data, "spool full");
	/* Without a reason buffer, the rest is the same. */
	assert_int_equal(mg_event_loss_parse(b.data, b.len, 20, &in, NULL), 0);
	assert_int_equal(in.n, 2);
	assert_false(in.has_reason);
	sbuf_clear(&reason);
	sbuf_clear(&b);
}

static void
test_any_order(void **state)
{
	static const char body[] =
	    " {\"mynaguard\" : { \"other\": [1, {\"a\": [true, null]}],\n"
	    "  \"loss\": {\"ranges\": [ { \"last_hash\" : \"" H64 "\","
	    "  \"to\": 7, \"x\": \"}\\\"]\", \"from\": 2 } ], \"count\": 6 }},"
	    " \"event\": {\"reason\": \"caf\\u00e9 \\ud83d\\ude00\\n\\\"\\\\\","
	    "  \"action\": \"events-dropped\"} } ";
	struct mg_loss_info in;
	struct sbuf reason;

	(void)state;
	sbuf_init(&reason, 64);
	assert_int_equal(parse(body, 8, &in, &reason), 0);
	assert_int_equal(in.n, 1);
	assert_int_equal(in.range[0].from, 2);
	assert_int_equal(in.range[0].to, 7);
	assert_int_equal(in.range[0].last_hash[0], 0x00);
	assert_int_equal(in.range[0].last_hash[31], 0xff);
	assert_int_equal(in.count, 6);
	assert_true(in.has_reason);
	assert_string_equal(reason.data, "caf\xc3\xa9 \xf0\x9f\x98\x80\n\"\\");
	sbuf_clear(&reason);
}

static void
test_unusable_ranges(void **state)
{
	static const char body[] = "{\"mynaguard\":{\"loss\":{\"ranges\":["
	    "{\"from\":1,\"to\":2,\"last_hash\":\"" H64 "\"},"	/* usable */
	    "5, \"x\", null, [],"
	    "{\"from\":3,\"last_hash\":\"" H64 "\"},"	/* no to */
	    "{\"from\":0,\"to\":2,\"last_hash\":\"" H64 "\"},"
	    "{\"from\":4,\"to\":3,\"last_hash\":\"" H64 "\"},"
	    "{\"from\":4,\"to\":10,\"last_hash\":\"" H64 "\"},"	/* >= seq */
	    "{\"from\":4.0,\"to\":5,\"last_hash\":\"" H64 "\"},"
	    "{\"from\":\"4\",\"to\":5,\"last_hash\":\"" H64 "\"},"
	    "{\"from\":1e0,\"to\":5,\"last_hash\":\"" H64 "\"},"
	    "{\"from\":4,\"to\":5,\"last_hash\":\"00\"},"
	    "{\"from\":4,\"to\":5,\"last_hash\":\"" H64 "0\"},"
	    "{\"from\":4,\"to\":5,\"last_hash\":5},"
	    "{\"from\":4,\"to\":5,\"last_hash\":\"\\u0030" H64 "\"},"
	    "{\"from\":4,\"to\":99999999999999999999,\"last_hash\":\"" H64 "\"},"
	    "{\"from\":9,\"to\":9,\"last_hash\":\"" H64 "\"}],"	/* usable */
	    "\"count\":1.5}}}";
	struct mg_loss_info in;

	(void)state;
	assert_int_equal(parse(body, 10, &in, NULL), 0);
	assert_int_equal(in.n, 2);
	assert_int_equal(in.range[1].from, 9);
	assert_int_equal(in.invalid, 16);
	assert_false(in.has_count);
}

static void
test_too_many(void **state)
{
	struct mg_loss_info in;
	struct sbuf b;
	unsigned i;

	(void)state;
	sbuf_init(&b, MG_REC_BODY_MAX);
	assert_int_equal(sbuf_puts(&b, "{\"mynaguard\":{\"loss\":{\"ranges\":["),
	    0);
	for (i = 1; i <= MG_LOSS_RANGES_MAX + 3; i++)
		assert_int_equal(sbuf_printf(&b, "%s{\"from\":%u,\"to\":%u,"
		    "\"last_hash\":\"" H64 "\"}", i > 1 ? "," : "", i, i), 0);
	assert_int_equal(sbuf_puts(&b, "],\"count\":-3}}}"), 0);
	assert_int_equal(mg_event_loss_parse(b.data, b.len, 1000, &in, NULL),
	    0);
	assert_int_equal(in.n, MG_LOSS_RANGES_MAX);
	assert_int_equal(in.range[MG_LOSS_RANGES_MAX - 1].to,
	    MG_LOSS_RANGES_MAX);
	assert_int_equal(in.invalid, 3);
	assert_true(in.has_count);
	assert_int_equal(in.count, -3);
	sbuf_clear(&b);
}

static void
test_no_ranges(void **state)
{
	static const char *const bodies[] = {
		"{}",
		"{\"mynaguard\":{\"loss\":{\"ranges\":{\"from\":1}}}}",
		"{\"mynaguard\":{\"loss\":[]},\"event\":{\"reason\":5}}",
		"{\"mynaguard\":[{\"loss\":{\"ranges\":[]}}]}",
		"{\"loss\":{\"ranges\":[{\"from\":1,\"to\":1,\"last_hash\":\""
		    H64 "\"}]}}",
		"{\"mynaguard\":{\"loss\":{\"count\":-9223372036854775809}}}",
	};
	struct mg_loss_info in;
	struct sbuf reason;
	size_t i;

	(void)state;
	sbuf_init(&reason, 64);
	for (i = 0; i < MG_ELEMENTSOF(bodies); i++) {
		assert_int_equal(parse(bodies[i], 5, &in, &reason), 0);
		assert_int_equal(in.n, 0);
		assert_int_equal(in.invalid, 0);
		assert_false(in.has_count);
		assert_false(in.has_reason);
	}
	assert_int_equal(parse("{\"mynaguard\":{\"loss\":{\"count\":"
	    "-9223372036854775808}}}", 5, &in, NULL), 0);
	assert_true(in.has_count);
	assert_true(in.count == INT64_MIN);
	assert_int_equal(parse("{\"event\":{\"reason\":\"\"}}", 5, &in,
	    &reason), 0);
	assert_true(in.has_reason);
	assert_int_equal(reason.len, 0);
	sbuf_clear(&reason);
}

static void
test_broken(void **state)
{
	static const char *const bad[] = {
		"", " ", "[]", "1", "{", "{\"a\"", "{\"a\":}", "{\"a\":1,}",
		"{\"a\":1} x", "{\"a\":\"x}", "{\"a\":tru}", "{\"a\":-}",
		"{\"event\":{\"reason\":\"\\ud800\"}}",
		"{\"event\":{\"reason\":\"\\udc00\"}}",
		"{\"event\":{\"reason\":\"\\x\"}}",
		"{\"event\":{\"reason\":\"\\u12\"}}",
		"{\"mynaguard\":{\"loss\":{\"ranges\":[1,]}}}",
	};
	static const char body[] = "{\"mynaguard\":{\"loss\":{\"ranges\":["
	    "{\"from\":1,\"to\":2,\"last_hash\":\"" H64 "\"}],\"count\":2}},"
	    "\"event\":{\"reason\":\"a\\u00e9\"}}";
	struct mg_loss_info in = { .n = 77 };
	struct sbuf reason;
	char deep[80];
	size_t i;

	(void)state;
	sbuf_init(&reason, 64);
	for (i = 0; i < MG_ELEMENTSOF(bad); i++)
		assert_int_equal(parse(bad[i], 5, &in, &reason), -EBADMSG);
	assert_int_equal(in.n, 77); /* written only on success */
	/* Every prefix of a good body: refused, never read past its end. */
	for (i = 0; i < sizeof(body) - 1; i++)
		assert_int_equal(mg_event_loss_parse(body, i, 5, &in, NULL),
		    -EBADMSG);
	memset(deep, '[', sizeof(deep));
	memcpy(deep, "{\"a\":", 5);
	assert_int_equal(mg_event_loss_parse(deep, sizeof(deep), 5, &in, NULL),
	    -EBADMSG);
	sbuf_clear(&reason);
	/* A reason longer than its buffer. */
	sbuf_init(&reason, 1);
	assert_int_equal(parse(body, 5, &in, &reason), -E2BIG);
	sbuf_clear(&reason);
	assert_int_equal(mg_event_loss_parse(NULL, 0, 5, &in, NULL), -EINVAL);
	assert_int_equal(mg_event_loss_parse(body, 1, 5, NULL, NULL), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_any_order),
		cmocka_unit_test(test_unusable_ranges),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_no_ranges),
		cmocka_unit_test(test_broken),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
