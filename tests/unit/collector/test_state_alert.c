/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * state-mismatch alerts (collector/alert.c coll_alert_states): signed
 * agent-state records from testkeys.c keys through coll_ingest() into a
 * real SQLite file; one alert per new set of mismatch words.
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

struct t {
	char dir[64], db[96], key[512], cert[512];
	struct mg_signer *signer;
	struct mg_verifier *verifier;
	struct coll_store *st;
	sqlite3 *q;
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
	snprintf(t->dir, sizeof(t->dir), "/tmp/test_state.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->db, sizeof(t->db), "%s/c.db", t->dir);
	assert_int_equal(
	    testkeys_make(t->dir, "a", "agent-1", t->key, t->cert), 0);
	assert_int_equal(mg_signer_load(t->key, t->cert, &t->signer, &why), 0);
	assert_int_equal(file_read_all(t->cert, 65536, 0, &pem, &len), 0);
	assert_int_equal(mg_verifier_from_pem(pem, len, &t->verifier), 0);
	free(pem);
	assert_int_equal(coll_store_open(t->db, 0, &t->st, &why), 0);
	assert_int_equal(
	    sqlite3_open_v2(t->db, &t->q, SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	sbuf_init(&t->body, 1u << 20);
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct t *t = *state;
	char p[160];

	sqlite3_close(t->q);
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

/* The next record of the chain: an agent-state with these words, or a
 * test event when words is NULL. */
static void
add(struct t *t, const char *words)
{
	struct mg_record_in in;
	char body[512];

	if (words != NULL)
		snprintf(body, sizeof(body), "{\"event\":{\"action\":"
		    "\"agent-state\"},\"mynaguard\":{\"state\":{\"mismatch\":"
		    "\"%s\"}}}", words);
	else
		snprintf(body, sizeof(body), "{\"event\":{\"action\":"
		    "\"test\"},\"message\":\"agent-state\"}");
	memset(&in, 0, sizeof(in));
	in.boot_id = 1;
	in.seq = ++t->seq;
	in.t_wall_ns = NOW;
	memcpy(in.prev_hash, t->prev, MG_REC_HASH_LEN);
	in.body = body;
	in.body_len = strlen(body);
	assert_int_equal(mg_record_encode(t->signer, &in, &t->body, t->prev),
	    0);
}

static struct coll_result
send_body(struct t *t, bool keep)
{
	struct coll_result res;

	assert_int_equal(coll_ingest(t->st, t->verifier,
	    (const uint8_t *)t->body.data, t->body.len, NOW, &res), 0);
	assert_int_equal(res.status, 200);
	if (!keep)
		t->body.len = 0;
	return res;
}

static long long
count(struct t *t, const char *sql)
{
	sqlite3_stmt *s = NULL;
	long long n = -1;

	assert_int_equal(sqlite3_prepare_v2(t->q, sql, -1, &s, NULL),
	    SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

#define N_STATE "SELECT count(*) FROM alerts WHERE type = 'state-mismatch'"

static void
test_state_mismatch(void **state)
{
	struct t *t = *state;
	struct coll_result res;

	add(t, "");			/* 1: all right */
	add(t, NULL);			/* 2: says agent-state, is not one */
	res = send_body(t, false);
	assert_int_equal(res.alerts, 0);
	add(t, "removable-writable");	/* 3: alert */
	res = send_body(t, true);
	assert_int_equal(res.alerts, 1);
	assert_int_equal(count(t, N_STATE " AND seq_from = 3 AND severity = 4"
	    " AND json_extract(detail, '$.mismatch') = 'removable-writable'"
	    " AND json_extract(detail, '$.previous') = ''"), 1);
	res = send_body(t, false);	/* 3 again: a duplicate, no alert */
	assert_int_equal(res.alerts, 0);
	add(t, "removable-writable");	/* 4: persisting: no alert */
	add(t, "removable-writable udev-rules-missing");	/* 5: alert */
	add(t, "");			/* 6: back to normal: no alert */
	add(t, "udev-rules-missing");	/* 7: alert */
	res = send_body(t, false);
	assert_int_equal(res.alerts, 2);
	assert_int_equal(count(t, N_STATE), 3);
	assert_int_equal(count(t, N_STATE " AND seq_from = 5 AND "
	    "json_extract(detail, '$.previous') = 'removable-writable'"), 1);
	assert_int_equal(count(t, N_STATE " AND seq_from = 7"), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_state_mismatch, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
