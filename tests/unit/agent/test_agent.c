/* SPDX-License-Identifier: BSD-2-Clause */
/* The agent's configuration parser and the shipper's backoff. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mynaguard/common.h"
#include "config.h"
#include "ship.h"

static int
parse(struct agent_config *c, const char *text, char *err)
{
	assert_int_equal(agent_config_defaults(c), 0);
	return agent_config_parse(c, text, strlen(text), err, 128);
}

static void
test_config(void **state)
{
	struct agent_config c;
	char err[128];

	(void)state;
	assert_int_equal(parse(&c, "# comment\n[Collector]\n"
	    "URL = https://collector.town.lg.jp:8443/\n"
	    "CA=/etc/x/ca.pem\n[Spool]\nMaxSize=128MiB\nReserve=2MiB\n"
	    "CommitInterval=10ms\n[Intake]\nSocket=/run/x.sock\n", err), 0);
	assert_string_equal(c.url, "https://collector.town.lg.jp:8443/");
	assert_string_equal(c.ca, "/etc/x/ca.pem");
	assert_int_equal(c.spool_max, 128u << 20);
	assert_int_equal(c.spool_reserve, 2u << 20);
	assert_int_equal(c.commit_ms, 10);
	assert_string_equal(c.socket, "/run/x.sock");
	assert_string_equal(c.key, "/etc/mynaguard/agent.key");	/* default */
	agent_config_clear(&c);
	/* Each mistake names its line. */
	assert_int_equal(parse(&c, "[Spool]\nMaxSize=64MB\n", err), -EBADMSG);
	assert_string_equal(err, "2: bad value for: MaxSize");
	agent_config_clear(&c);
	assert_int_equal(parse(&c, "[Spool]\nMaxSize=1KiB\n", err), -EBADMSG);
	agent_config_clear(&c);
	assert_int_equal(parse(&c, "[Spool]\nDirectory=relative\n", err),
	    -EBADMSG);
	agent_config_clear(&c);
	assert_int_equal(parse(&c, "[Spool]\nSpeed=fast\n", err), -EBADMSG);
	assert_string_equal(err, "2: unknown key: Speed");
	agent_config_clear(&c);
	assert_int_equal(parse(&c, "[Spol]\n", err), -EBADMSG);
	assert_string_equal(err, "1: unknown section: Spol");
	agent_config_clear(&c);
	assert_int_equal(parse(&c, "[Spool]\nReserve=1MiB\nReserve=1MiB\n",
	    err), -EBADMSG);
	assert_string_equal(err, "3: key given twice: Reserve");
	agent_config_clear(&c);
	assert_int_equal(parse(&c, "URL=https://x/\n", err), -EBADMSG);
	agent_config_clear(&c);
	assert_int_equal(agent_config_defaults(&c), 0);
	assert_int_equal(agent_config_parse(&c, "[Agent]\0x", 9, err, 128),
	    -EBADMSG);
	agent_config_clear(&c);
}

/* The example shipped for administrators parses as it is. */
static void
test_shipped_example(void **state)
{
	const char *src = getenv("MG_SOURCE_DIR");
	struct agent_config c;
	char path[1024], err[128], *text = NULL;
	size_t len = 0;

	(void)state;
	assert_non_null(src);
	snprintf(path, sizeof(path), "%s/packaging/config/agent.conf", src);
	assert_int_equal(file_read_all(path, 65536, 0, &text, &len), 0);
	assert_int_equal(agent_config_defaults(&c), 0);
	assert_int_equal(agent_config_parse(&c, text, len, err, sizeof(err)), 0);
	assert_int_equal(c.spool_max, 64u << 20);
	assert_string_equal(c.socket, "/run/mynaguard/events.sock");
	assert_null(c.url);	/* commented out: the policy's collector */
	agent_config_clear(&c);
	free(text);
}

static void
test_backoff(void **state)
{
	unsigned f;

	(void)state;
	/* Full jitter within an exponential cap: 1 s, 2 s, 4 s, ... 300 s. */
	assert_int_equal(ship_backoff_ms(1, 300, 0, 0xffffffffu),
	    0xffffffffu % 1001);
	assert_true(ship_backoff_ms(1, 300, 0, 1234567) <= 1000);
	assert_true(ship_backoff_ms(3, 300, 0, 0xffffffffu) <= 4000);
	for (f = 1; f < 100; f++)
		assert_true(ship_backoff_ms(f, 300, 0, 0xfffffffu) <= 300000);
	/* Retry-After is a floor. */
	assert_int_equal(ship_backoff_ms(1, 300, 30, 5), 30000);
	assert_true(ship_backoff_ms(20, 300, 30, 0xffffffffu) >= 30000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_shipped_example),
		cmocka_unit_test(test_backoff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
