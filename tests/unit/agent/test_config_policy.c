/* SPDX-License-Identifier: BSD-2-Clause */
/* agent.conf [Policy]: the central signed policy's keys (issue 8). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

static int
parse(struct agent_config *c, const char *text)
{
	char err[256];

	assert_int_equal(agent_config_defaults(c), 0);
	return agent_config_parse(c, text, strlen(text), err, sizeof(err));
}

static void
test_defaults(void **state)
{
	struct agent_config c;

	(void)state;
	assert_int_equal(parse(&c, ""), 0);
	assert_null(c.policy_group);	/* no central policy */
	assert_string_equal(c.policy_cert,
	    "/etc/mynaguard/policy-signing.pem");
	assert_string_equal(c.policy_state, "/var/lib/mynaguard/policy");
	assert_int_equal(c.fetch_s, 300);
	agent_config_clear(&c);
}

static void
test_values(void **state)
{
	struct agent_config c;

	(void)state;
	assert_int_equal(parse(&c, "[Policy]\nGroup=zeimu\n"
	    "SigningCertificate=/etc/x.pem\nFetchInterval=10s\n"
	    "StateDirectory=/var/lib/x\n"), 0);
	assert_string_equal(c.policy_group, "zeimu");
	assert_string_equal(c.policy_cert, "/etc/x.pem");
	assert_string_equal(c.policy_state, "/var/lib/x");
	assert_int_equal(c.fetch_s, 10);
	agent_config_clear(&c);
	assert_int_equal(parse(&c, "[Policy]\nFetchInterval=24h\n"), 0);
	assert_int_equal(c.fetch_s, 86400);
	agent_config_clear(&c);
}

static void
test_refused(void **state)
{
	static const char *const bad[] = {
		"[Policy]\nFetchInterval=9s\n",
		"[Policy]\nFetchInterval=25h\n",
		"[Policy]\nFetchInterval=never\n",	/* StateInterval only */
		"[Policy]\nFetchInterval=0\n",
		"[Policy]\nSigningCertificate=relative.pem\n",
		"[Policy]\nStateDirectory=var/lib\n",
		"[Policy]\nGroup=\n",
		"[Policy]\nGroup=zeimu\nGroup=kaikei\n",
	};
	struct agent_config c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(&c, bad[i]), -EBADMSG);
		agent_config_clear(&c);
	}
	/* StateInterval=never still works. */
	assert_int_equal(parse(&c, "[Agent]\nStateInterval=never\n"), 0);
	assert_int_equal(c.state_s, AGENT_STATE_NEVER);
	agent_config_clear(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
