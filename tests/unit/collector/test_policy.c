/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Published policy bundles (collector/policy_store.c, policy_state.c,
 * issue 8) in a real SQLite file: the publish order and the rollback
 * guard, serving with "have", who fetched what, the version in force from
 * signed policy-loaded records through coll_ingest(), and the v2 -> v3
 * migration of a database that already holds events.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "mynaguard/collector.h"
#include "testkeys.h"

#define NOW INT64_C(1790000000000000000)
#define H0 "0000000000000000000000000000000000000000000000000000000000000000"
#define H1 "1111111111111111111111111111111111111111111111111111111111111111"
/* SHA-256("abc"), FIPS 180-2 B.1 */
#define ABC_SHA256 \
	"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

struct t {
	char dir[64], db[96], key[512], cert[512];
	struct mg_signer *signer;
	struct mg_verifier *verifier;
	struct coll_store *st;
	struct sbuf body;
	uint8_t prev[MG_REC_HASH_LEN];
	uint64_t seq;
};

static int
setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	const char *why = NULL;
	char *pem = NULL;
	size_t len = 0;

	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/test_policy.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->db, sizeof(t->db), "%s/c.db", t->dir);
	assert_int_equal(
	    testkeys_make(t->dir, "a", "term-1", t->key, t->cert), 0);
	assert_int_equal(mg_signer_load(t->key, t->cert, &t->signer, &why), 0);
	assert_int_equal(file_read_all(t->cert, 65536, 0, &pem, &len), 0);
	assert_int_equal(mg_verifier_from_pem(pem, len, &t->verifier), 0);
	free(pem);
	assert_int_equal(coll_store_open(t->db, 0, &t->st, &why), 0);
	sbuf_init(&t->body, 1u << 20);
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct t *t = *state;
	char p[160];

	coll_store_free(t->st);
	mg_verifier_free(t->verifier);
	mg_signer_free(t->signer);
	sbuf_clear(&t->body);
	snprintf(p, sizeof(p), "%s/c.db-wal", t->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/c.db-shm", t->dir);
	unlink(p);
	unlink(t->db);
	unlink(t->key);
	unlink(t->cert);
	rmdir(t->dir);
	free(t);
	return 0;
}

/* One integer (or -1 for NULL / no row) from a query on a second
 * connection. */
static int64_t
query_int(struct t *t, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	int64_t v = -1;

	assert_int_equal(
	    sqlite3_open_v2(t->db, &db, SQLITE_OPEN_READWRITE, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW &&
	    sqlite3_column_type(s, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static int
publish(struct t *t, const char *group, uint64_t version, const char *bytes,
    struct coll_bundle_meta *m)
{
	struct coll_bundle_info in = { group, version, 1790000000, H1, H0,
		NULL };

	return coll_policy_publish(t->st, &in, bytes, strlen(bytes), NOW, m);
}

static void
test_group_names(void **state)
{
	(void)state;
	assert_true(coll_policy_group_valid("kaikei", 6));
	assert_true(coll_policy_group_valid("zeimu-2.a_b", 11));
	assert_false(coll_policy_group_valid("", 0));
	assert_false(coll_policy_group_valid("Kaikei", 6));
	assert_false(coll_policy_group_valid("-kaikei", 7));
	assert_false(coll_policy_group_valid("kai/kei", 7));
	assert_false(coll_policy_group_valid("kai kei", 7));
	assert_false(coll_policy_group_valid(
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    65));
}

static void
test_publish_order(void **state)
{
	struct t *t = *state;
	struct coll_bundle_meta m;

	assert_int_equal(coll_policy_latest(t->st, "kaikei", &m), 0);
	assert_int_equal(publish(t, "kaikei", 1, "abc", &m), 0);
	assert_string_equal(m.sha256, ABC_SHA256);
	assert_int_equal(m.version, 1);
	assert_int_equal(m.len, 3);
	assert_int_equal(publish(t, "kaikei", 3, "v3", &m), 0);
	/* the rollback guard: not greater than the latest (3) */
	memset(&m, 0, sizeof(m));
	assert_int_equal(publish(t, "kaikei", 2, "v2", &m), -ESTALE);
	assert_int_equal(m.version, 3);
	assert_int_equal(publish(t, "kaikei", 3, "v3 again", &m), -ESTALE);
	assert_int_equal(m.version, 3);
	/* groups are independent */
	assert_int_equal(publish(t, "zeimu", 1, "z1", &m), 0);
	assert_int_equal(coll_policy_latest(t->st, "kaikei", &m), 1);
	assert_int_equal(m.version, 3);
	assert_string_equal(m.signer, H1);
	assert_string_equal(m.policy_sha256, H0);
	assert_int_equal(
	    query_int(t, "SELECT count(*) FROM policy_bundles"), 3);
}

static void
test_publish_invalid(void **state)
{
	struct t *t = *state;
	struct coll_bundle_meta m;
	struct coll_bundle_info in = { "kaikei", 1, 0, H1, H0, NULL };
	char *big;

	assert_int_equal(publish(t, "Kaikei", 1, "x", &m), -EINVAL);
	assert_int_equal(publish(t, "kaikei", 0, "x", &m), -EINVAL);
	assert_int_equal(publish(t, "kaikei", UINT64_MAX, "x", &m), -EINVAL);
	in.policy_sha256 = "xyz";
	assert_int_equal(
	    coll_policy_publish(t->st, &in, "x", 1, NOW, &m), -EINVAL);
	in.policy_sha256 = H0;
	in.credentials_sha256 = "short";
	assert_int_equal(
	    coll_policy_publish(t->st, &in, "x", 1, NOW, &m), -EINVAL);
	in.credentials_sha256 = H1;
	assert_int_equal(
	    coll_policy_publish(t->st, &in, "x", 0, NOW, &m), -EINVAL);
	big = calloc(1, COLL_BUNDLE_MAX + 1u);
	assert_non_null(big);
	assert_int_equal(
	    coll_policy_publish(t->st, &in, big, COLL_BUNDLE_MAX + 1u, NOW, &m),
	    -E2BIG);
	free(big);
	assert_int_equal(coll_policy_publish(t->st, &in, "x", 1, NOW, &m), 0);
	assert_int_equal(
	    query_int(
		t, "SELECT credentials_sha256 = '" H1 "' FROM policy_bundles"),
	    1);
}

static void
test_fetch(void **state)
{
	struct t *t = *state;
	struct coll_bundle_meta m;
	void *bytes = NULL;

	assert_int_equal(
	    coll_policy_fetch(t->st, "term-1", "kaikei", 0, NOW, &m, &bytes),
	    -ENOENT);
	/* a terminal waiting for a group's first bundle is known */
	assert_int_equal(query_int(t,
			     "SELECT fetched_ns FROM policy_terminals"
			     " WHERE agent_id = 'term-1' AND grp = 'kaikei'"),
	    NOW);
	assert_int_equal(publish(t, "kaikei", 1, "abc", &m), 0);
	assert_int_equal(publish(t, "kaikei", 2, "second", &m), 0);
	assert_int_equal(coll_policy_fetch(
			     t->st, "term-1", "kaikei", 0, NOW + 1, &m, &bytes),
	    1);
	assert_non_null(bytes);
	assert_int_equal(m.version, 2);
	assert_int_equal(m.len, 6);
	assert_memory_equal(bytes, "second", 6);
	free(bytes);
	bytes = NULL;
	assert_int_equal(query_int(t,
			     "SELECT fetched_version FROM"
			     " policy_terminals WHERE agent_id = 'term-1'"),
	    2);
	assert_int_equal(
	    coll_policy_fetch(t->st, "term-1", "kaikei", 1, NOW, &m, &bytes),
	    1);
	free(bytes);
	bytes = NULL;
	assert_int_equal(
	    coll_policy_fetch(t->st, "term-1", "kaikei", 2, NOW, &m, &bytes),
	    0);
	assert_null(bytes);
	assert_int_equal(m.version, 2);
	assert_int_equal(
	    coll_policy_fetch(t->st, "term-1", "kaikei", 7, NOW, &m, &bytes),
	    0);
	assert_int_equal(
	    coll_policy_fetch(t->st, "term-1", "KAIKEI", 0, NOW, &m, &bytes),
	    -EINVAL);
	/* a 304 keeps the version last served */
	assert_int_equal(query_int(t,
			     "SELECT fetched_version FROM"
			     " policy_terminals WHERE agent_id = 'term-1'"),
	    2);
}

/* The next record of term-1's chain. */
static void
add(struct t *t, const char *action, const char *message, int64_t version)
{
	struct mg_record_in in;
	char body[512];

	snprintf(body, sizeof(body),
	    "{\"event\":{\"action\":\"%s\"},\"message\":\"%s\","
	    "\"mynaguard\":{\"policy\":{\"hash\":\"" H0 "\","
	    "\"version\":%lld}}}",
	    action, message, (long long)version);
	memset(&in, 0, sizeof(in));
	in.boot_id = 1;
	in.seq = ++t->seq;
	in.t_wall_ns = NOW;
	memcpy(in.prev_hash, t->prev, MG_REC_HASH_LEN);
	in.body = body;
	in.body_len = strlen(body);
	assert_int_equal(
	    mg_record_encode(t->signer, &in, &t->body, t->prev), 0);
}

static void
send_body(struct t *t)
{
	struct coll_result res;

	assert_int_equal(
	    coll_ingest(t->st, t->verifier, (const uint8_t *)t->body.data,
		t->body.len, NOW, &res),
	    0);
	assert_int_equal(res.status, 200);
}

static int64_t
in_force(struct t *t)
{
	return query_int(t,
	    "SELECT version FROM policy_terminals"
	    " WHERE agent_id = 'term-1'");
}

static void
test_in_force(void **state)
{
	struct t *t = *state;
	struct sbuf first;

	add(t, "test", "policy-loaded", 9); /* only mentions the word */
	send_body(t);
	assert_int_equal(in_force(t), -1);
	add(t, "policy-loaded", "", 2);
	/* keep this batch to send again after a newer one */
	sbuf_init(&first, 1u << 20);
	assert_int_equal(sbuf_put(&first, t->body.data, t->body.len), 0);
	send_body(t);
	assert_int_equal(in_force(t), 2);
	sbuf_clear(&t->body);
	add(t, "policy-loaded", "", 3);
	add(t, "agent-state", "", 1);
	send_body(t);
	assert_int_equal(in_force(t), 3);
	/* the older record again: a duplicate, the state stays */
	sbuf_clear(&t->body);
	assert_int_equal(sbuf_put(&t->body, first.data, first.len), 0);
	send_body(t);
	assert_int_equal(in_force(t), 3);
	assert_int_equal(query_int(t,
			     "SELECT reported_seq FROM"
			     " policy_terminals"),
	    3);
	sbuf_clear(&first);
}

/* A v2 database with events: v3 adds its tables, keeps every row and
 * fills the versions in force from the stored policy-loaded events. */
static void
test_migrate_v2(void **state)
{
	struct t *t = *state;
	const char *why = NULL;
	sqlite3 *db = NULL;

	add(t, "policy-loaded", "", 4);
	add(t, "policy-loaded", "", 5);
	add(t, "login", "", 0);
	send_body(t);
	coll_store_free(t->st);
	t->st = NULL;
	/* back to what a v2 collector left: v3 added two tables, v4 four */
	assert_int_equal(
	    sqlite3_open_v2(t->db, &db, SQLITE_OPEN_READWRITE, NULL),
	    SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(db,
		"DROP TABLE policy_bundles;"
		" DROP TABLE policy_terminals; DROP TABLE merkle_leaves;"
		" DROP TABLE merkle_nodes; DROP TABLE merkle_state;"
		" DROP TABLE checkpoints; DROP TABLE merkle_pending;"
		" PRAGMA user_version = 2;",
		NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(query_int(t, "PRAGMA user_version"), 2);
	/* the read-only viewer still reads a v2 file */
	assert_int_equal(
	    coll_store_open(t->db, COLL_STORE_READONLY, &t->st, &why), 0);
	coll_store_free(t->st);
	t->st = NULL;
	assert_int_equal(coll_store_open(t->db, 0, &t->st, &why), 0);
	assert_int_equal(query_int(t, "PRAGMA user_version"), 4);
	assert_int_equal(query_int(t, "SELECT count(*) FROM events"), 3);
	assert_int_equal(in_force(t), 5);
	assert_int_equal(query_int(t,
			     "SELECT reported_seq FROM"
			     " policy_terminals"),
	    2);
	assert_int_equal(
	    query_int(t, "SELECT count(*) FROM policy_bundles"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_group_names),
		cmocka_unit_test_setup_teardown(
		    test_publish_order, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_publish_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_in_force, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_migrate_v2, setup, teardown),
	};

	coll_log_set_max(-1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
