/* SPDX-License-Identifier: BSD-2-Clause */
/* collector.conf: keys, defaults, ranges, errors with line numbers, the
 * whole-or-nothing rule, and allocation failures at every step. */
#include <errno.h>
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

#include "mynaguard/collector.h"
#include "oom.h"

static const char good[] = "# a comment\n"
			   "; another\n"
			   "[Collector]\n"
			   "Listen = ::\n"
			   "Port=9443\r\n"
			   "  Certificate = /etc/mynaguard/collector.pem  \n"
			   "Key=/etc/mynaguard/collector.key\n"
			   "CA=/etc/mynaguard/ca.pem\n"
			   "Database=/var/lib/x.db\n"
			   "Threads=8\n"
			   "MaxBody=1M\n"
			   "Timeout=10\n";

static int
parse(struct coll_config *c, const char *text, struct coll_diag *d)
{
	return coll_config_parse(c, text, strlen(text), d);
}

static void
test_defaults(void **state)
{
	struct coll_config c;
	struct coll_diag d;

	(void)state;
	assert_int_equal(coll_config_init(&c), 0);
	assert_string_equal(c.listen, "0.0.0.0");
	assert_int_equal(c.port, 8443);
	assert_string_equal(c.database, "/var/lib/mynaguard/collector.db");
	assert_int_equal(c.threads, 4);
	assert_int_equal(c.max_body, 4 * 1024 * 1024);
	assert_int_equal(c.timeout, 30);
	assert_null(c.certificate);
	/* Certificate, Key and CA have no default. */
	assert_int_equal(coll_config_validate(&c, &d), -EINVAL);
	assert_non_null(strstr(d.msg, "Certificate"));
	coll_config_clear(&c);
}

static void
test_good(void **state)
{
	struct coll_config c;
	struct coll_diag d;

	(void)state;
	assert_int_equal(coll_config_init(&c), 0);
	assert_int_equal(parse(&c, good, &d), 0);
	assert_string_equal(c.listen, "::");
	assert_int_equal(c.port, 9443);
	assert_string_equal(c.certificate, "/etc/mynaguard/collector.pem");
	assert_string_equal(c.key, "/etc/mynaguard/collector.key");
	assert_string_equal(c.ca, "/etc/mynaguard/ca.pem");
	assert_string_equal(c.database, "/var/lib/x.db");
	assert_int_equal(c.threads, 8);
	assert_int_equal(c.max_body, 1024 * 1024);
	assert_int_equal(c.timeout, 10);
	assert_int_equal(coll_config_validate(&c, &d), 0);
	/* Command-line overrides use the same table. */
	assert_int_equal(coll_config_set(&c, "Port", "0", &d), 0);
	assert_int_equal(c.port, 0);
	assert_int_equal(coll_config_set(&c, "Nope", "1", &d), -ENOENT);
	/* PostgreSQL, and the checkpoint and backpressure settings */
	assert_int_equal(coll_config_set(&c, "Database",
			     "postgresql://mg:pw@127.0.0.1:5432/mg", &d),
	    0);
	assert_true(coll_store_is_pg(c.database));
	assert_int_equal(c.max_pending, 64);
	assert_int_equal(c.checkpoint_interval, 300);
	assert_string_equal(c.origin, "mynaguard");
	assert_int_equal(coll_config_set(&c, "Interval", "2m", &d), 0);
	assert_int_equal(c.checkpoint_interval, 120);
	assert_int_equal(coll_config_set(&c, "Origin", "town.example", &d), 0);
	assert_string_equal(c.origin, "town.example");
	coll_config_clear(&c);
}

static void
test_display(void **state)
{
	char b[128];

	(void)state;
	assert_string_equal(coll_store_display(
				"postgresql://mg:s3cret@db:5432/mg", b, sizeof(b)),
	    "postgresql://mg:***@db:5432/mg");
	assert_string_equal(coll_store_display("postgresql://db/mg?user=mg&"
					       "password=s3cret&sslmode=require",
				b, sizeof(b)),
	    "postgresql://db/mg?user=mg&password=***&sslmode=require");
	assert_string_equal(coll_store_display("postgresql://db/mg?password=x",
				b, sizeof(b)),
	    "postgresql://db/mg?password=***");
	assert_string_equal(coll_store_display("postgres://mg:pw@db", b,
				sizeof(b)),
	    "postgres://mg:***@db");
	assert_string_equal(coll_store_display("/var/lib/a:b@c.db", b,
				sizeof(b)),
	    "/var/lib/a:b@c.db");
	assert_string_equal(coll_store_display("postgresql://mg@db/x:y", b,
				sizeof(b)),
	    "postgresql://mg@db/x:y");
}

struct bad {
	const char *text;
	unsigned line;
	const char *msg;
};

static const struct bad bads[] = {
	{ "[Collector]\nPort=1\nPort=2\n", 3, "duplicate key 'Port'" },
	{ "[Collector]\nFoo=1\n", 2, "unknown key 'Foo'" },
	{ "Port=1\n", 1, "outside [Collector]" },
	{ "[Agent]\n", 1, "unknown section" },
	{ "[Collector]\n[Collector]\n", 2, "duplicate section" },
	{ "[Collector]\nPort\n", 2, "expected Key=Value" },
	{ "[Collector]\nPort=65536\n", 2, "Port must be" },
	{ "[Collector]\nPort=-1\n", 2, "Port must be" },
	{ "[Collector]\nPort=0x10\n", 2, "Port must be" },
	{ "[Collector]\nThreads=0\n", 2, "Threads must be" },
	{ "[Collector]\nThreads=65\n", 2, "Threads must be" },
	{ "[Collector]\nTimeout=0\n", 2, "Timeout must be" },
	{ "[Collector]\nMaxBody=1K\n", 2, "MaxBody must be" },
	{ "[Collector]\nMaxBody=65M\n", 2, "MaxBody must be" },
	{ "[Collector]\nMaxBody=M\n", 2, "MaxBody must be" },
	{ "[Collector]\nListen=localhost\n", 2, "not a numeric" },
	{ "[Collector]\nCA=ca.pem\n", 2, "not an absolute path" },
	{ "[Collector]\nKey=\n", 2, "empty value" },
	{ "[Collector]\n\n\nDatabase=x\n", 4,
	    "neither an absolute path nor a postgresql:// connection string" },
	{ "[Collector]\nDatabase=mysql://u:secret@h/db\n", 2,
	    "'mysql://u:***@h/db' is neither" },
	{ "[Collector]\nMaxPending=0\n", 2, "MaxPending must be 1..4096" },
	{ "[Checkpoint]\nInterval=2d\n", 2, "Interval must be" },
	{ "[Checkpoint]\nOrigin=a b\n", 2, "Origin must be" },
	{ "[Collector]\nOrigin=x\n", 2, "unknown key 'Origin' in [Collector]" },
};

static void
test_bad(void **state)
{
	struct coll_config c;
	struct coll_diag d;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		assert_int_equal(coll_config_init(&c), 0);
		assert_true(parse(&c, bads[i].text, &d) < 0);
		if (d.line != bads[i].line ||
		    strstr(d.msg, bads[i].msg) == NULL)
			fail_msg("%zu: got %u: %s", i, d.line, d.msg);
		/* Nothing of a bad file is applied. */
		assert_int_equal(c.port, 8443);
		assert_int_equal(c.threads, 4);
		assert_string_equal(
		    c.database, "/var/lib/mynaguard/collector.db");
		coll_config_clear(&c);
	}
	assert_int_equal(coll_config_init(&c), 0);
	assert_int_equal(
	    coll_config_parse(&c, "[Collector]\0", 12, &d), -EBADMSG);
	assert_int_equal(parse(&c, "[Collector]\nCA=/\xff\n", &d), -EBADMSG);
	coll_config_clear(&c);
}

static void
test_load(void **state)
{
	char path[] = "/tmp/test_coll_config.XXXXXX";
	struct coll_config c;
	struct coll_diag d;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, good, strlen(good)), (ssize_t)strlen(good));
	close(fd);
	assert_int_equal(coll_config_init(&c), 0);
	assert_int_equal(coll_config_load(&c, path, &d), 0);
	assert_int_equal(c.port, 9443);
	/* Writable by others: not trusted. */
	assert_int_equal(chmod(path, 0666), 0);
	assert_int_equal(coll_config_load(&c, path, &d), -EPERM);
	assert_non_null(strstr(d.msg, "not trusted"));
	unlink(path);
	assert_int_equal(coll_config_load(&c, path, &d), -ENOENT);
	assert_int_equal(coll_config_load(&c, "relative.conf", &d), -EPERM);
	coll_config_clear(&c);
}

/* The example shipped as collector/collector.conf parses and says what
 * the defaults are. */
static void
test_example(void **state)
{
	const char *src = getenv("MG_SOURCE_DIR");
	struct coll_config c, def;
	struct coll_diag d;
	char path[512], *text = NULL;
	size_t len = 0;

	(void)state;
	if (src == NULL)
		skip();
	snprintf(path, sizeof(path), "%s/collector/collector.conf", src);
	assert_int_equal(file_read_all(path, 65536, 0, &text, &len), 0);
	assert_int_equal(coll_config_init(&c), 0);
	assert_int_equal(coll_config_init(&def), 0);
	assert_int_equal(coll_config_parse(&c, text, len, &d), 0);
	assert_int_equal(coll_config_validate(&c, &d), 0);
	assert_string_equal(c.listen, def.listen);
	assert_string_equal(c.database, def.database);
	assert_int_equal(c.port, def.port);
	assert_int_equal(c.threads, def.threads);
	assert_int_equal(c.max_body, def.max_body);
	assert_int_equal(c.timeout, def.timeout);
	assert_int_equal(c.max_pending, def.max_pending);
	assert_int_equal(c.checkpoint_interval, def.checkpoint_interval);
	assert_string_equal(c.origin, def.origin);
	coll_config_clear(&c);
	coll_config_clear(&def);
	free(text);
}

/* Fail the Nth allocation for every N: never a crash or a leak, and a
 * failure leaves the old configuration whole. */
static void
test_oom(void **state)
{
	struct coll_config c;
	struct coll_diag d;
	size_t n;
	int r, hit;

	(void)state;
	for (n = 1;; n++) {
		assert_int_equal(coll_config_init(&c), 0);
		oom_fail_at(n);
		r = parse(&c, good, &d);
		hit = oom_triggered();
		oom_fail_at(0);
		if (!hit) {
			assert_int_equal(r, 0);
			coll_config_clear(&c);
			break;
		}
		assert_int_equal(r, -ENOMEM);
		assert_int_equal(c.port, 8443);
		assert_string_equal(c.listen, "0.0.0.0");
		coll_config_clear(&c);
	}
	assert_true(n > 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_display),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_oom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
