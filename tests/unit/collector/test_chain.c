/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The collector's chain and alert rules, through coll_ingest() on a real
 * SQLite file, with records signed by a key made at test time: in order,
 * duplicates, equivocation, gaps, chain breaks, loss records explaining
 * gaps (both orders), a first record with seq != 1, late arrivals, forged
 * and foreign records, malformed bodies and the record limit.  Keys come
 * from testkeys.c (OpenSSL, made at test time).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "mynaguard/collector.h"
#include "testkeys.h"

#define BODY "{\"event\":{\"action\":\"test\"},\"message\":\"hello\"}"
#define NOW INT64_C(1790000000000000000)

struct t {
	char dir[64], db[96], key[512], cert[512];
	struct mg_signer *signer;
	struct mg_verifier *verifier;
	struct coll_store *st;
	sqlite3 *q; /* a second connection, to look */
	struct sbuf body;
	uint8_t hash[16][MG_REC_HASH_LEN]; /* chain hash of seq i */
};

static struct mg_verifier *
verifier_of(const char *cert)
{
	struct mg_verifier *v = NULL;
	char *pem = NULL;
	size_t len = 0;

	assert_int_equal(file_read_all(cert, 65536, 0, &pem, &len), 0);
	assert_int_equal(mg_verifier_from_pem(pem, len, &v), 0);
	free(pem);
	return v;
}

static int
setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	const char *why = NULL;

	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/test_coll.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->db, sizeof(t->db), "%s/c.db", t->dir);
	assert_int_equal(
	    testkeys_make(t->dir, "a", "agent-1", t->key, t->cert), 0);
	assert_int_equal(mg_signer_load(t->key, t->cert, &t->signer, &why), 0);
	t->verifier = verifier_of(t->cert);
	assert_int_equal(coll_store_open(t->db, 0, &t->st, &why), 0);
	assert_int_equal(
	    sqlite3_open_v2(t->db, &t->q, SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	sbuf_init(&t->body, 64u << 20);
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct t *t = *state;
	char cmd[160];

	sqlite3_close(t->q);
	coll_store_free(t->st);
	mg_verifier_free(t->verifier);
	mg_signer_free(t->signer);
	sbuf_clear(&t->body);
	/* c.db, its -wal and -shm, the key and the certificate */
	snprintf(cmd, sizeof(cmd), "%s/c.db-wal", t->dir);
	unlink(cmd);
	snprintf(cmd, sizeof(cmd), "%s/c.db-shm", t->dir);
	unlink(cmd);
	unlink(t->db);
	unlink(t->key);
	unlink(t->cert);
	rmdir(t->dir);
	free(t);
	return 0;
}

/* Append record seq (signed by s) linking to prev; its hash in out. */
static void
add_rec(struct t *t, const struct mg_signer *s, uint64_t seq,
    const uint8_t *prev, uint16_t flags, const char *body, uint8_t *out)
{
	struct mg_record_in in;
	uint8_t h[MG_REC_HASH_LEN];

	memset(&in, 0, sizeof(in));
	in.flags = flags;
	in.boot_id = 1;
	in.seq = seq;
	in.t_wall_ns = NOW;
	if (prev != NULL)
		memcpy(in.prev_hash, prev, MG_REC_HASH_LEN);
	in.body = body != NULL ? body : BODY;
	in.body_len = strlen(in.body);
	assert_int_equal(
	    mg_record_encode(s != NULL ? s : t->signer, &in, &t->body, h), 0);
	if (out != NULL)
		memcpy(out, h, MG_REC_HASH_LEN);
}

/* Append seq from..to of our chain, keeping t->hash[]. */
static void
add_chain(struct t *t, uint64_t from, uint64_t to)
{
	uint64_t s;

	for (s = from; s <= to; s++)
		add_rec(t, NULL, s, s > 1 ? t->hash[s - 1] : NULL, 0, NULL,
		    t->hash[s]);
}

/* Hashes of records the agent made but never sent. */
static void
skip_chain(struct t *t, uint64_t from, uint64_t to)
{
	size_t keep = t->body.len;

	add_chain(t, from, to);
	t->body.len = keep;
}

static struct coll_result
send_body(struct t *t)
{
	struct coll_result res;

	assert_int_equal(
	    coll_ingest(t->st, t->verifier, (const uint8_t *)t->body.data,
		t->body.len, NOW, &res),
	    0);
	t->body.len = 0;
	return res;
}

static long long
count(struct t *t, const char *sql)
{
	sqlite3_stmt *s = NULL;
	long long n = -1;

	assert_int_equal(
	    sqlite3_prepare_v2(t->q, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

static void
test_in_order(void **state)
{
	struct t *t = *state;
	struct coll_result res;

	add_chain(t, 1, 3);
	res = send_body(t);
	assert_int_equal(res.status, 200);
	assert_int_equal(res.accepted, 3);
	assert_int_equal(res.acked, 3);
	assert_int_equal(res.alerts, 0);
	add_chain(t, 4, 5);
	res = send_body(t);
	assert_int_equal(res.accepted, 2);
	assert_int_equal(res.acked, 5);
	assert_int_equal(count(t,
			     "SELECT count(*) FROM events WHERE "
			     "verified = 1 AND action = 'test'"),
	    5);
	assert_int_equal(count(t,
			     "SELECT next_seq FROM agents WHERE "
			     "agent_id = 'agent-1'"),
	    6);
	assert_int_equal(count(t, "SELECT count(*) FROM alerts"), 0);
	/* The exact record bytes are kept. */
	assert_int_equal(count(t,
			     "SELECT count(*) FROM events WHERE "
			     "length(record) > length(body) + 100"),
	    5);
}

/* The bytes of the body from start on, to send again later. */
static char *
save(struct t *t, size_t start, size_t *ret_len)
{
	char *p = malloc(t->body.len - start);

	assert_non_null(p);
	memcpy(p, t->body.data + start, t->body.len - start);
	*ret_len = t->body.len - start;
	return p;
}

static void
test_duplicate(void **state)
{
	struct t *t = *state;
	struct coll_result res;
	size_t len;
	char *again;

	add_chain(t, 1, 1);
	len = t->body.len;
	add_chain(t, 2, 3);
	again = save(t, len, &len);
	send_body(t);
	/* An agent that missed our answer sends its spool bytes again. */
	assert_int_equal(sbuf_put(&t->body, again, len), 0);
	free(again);
	res = send_body(t);
	assert_int_equal(res.status, 200);
	assert_int_equal(res.duplicates, 2);
	assert_int_equal(res.accepted, 0);
	assert_int_equal(res.alerts, 0);
	assert_int_equal(res.acked, 3);
	assert_int_equal(count(t, "SELECT count(*) FROM events"), 3);
}

static void
test_equivocation(void **state)
{
	struct t *t = *state;
	struct coll_result res;
	size_t len;
	char *again;

	add_chain(t, 1, 2);
	send_body(t);
	/* Another seq 2, properly signed and linked. */
	add_rec(t, NULL, 2, t->hash[1], 0, "{\"message\":\"other\"}", NULL);
	len = t->body.len;
	again = malloc(len);
	assert_non_null(again);
	memcpy(again, t->body.data, len);
	res = send_body(t);
	assert_int_equal(res.status, 200);
	assert_int_equal(res.quarantined, 1);
	assert_int_equal(res.alerts, 1);
	assert_int_equal(res.acked, 2);
	assert_int_equal(count(t,
			     "SELECT count(*) FROM alerts WHERE type = "
			     "'equivocation' AND seq_from = 2"),
	    1);
	assert_int_equal(count(t,
			     "SELECT count(*) FROM quarantine WHERE "
			     "reason = 'equivocation' AND seq = 2"),
	    1);
	assert_int_equal(count(t, "SELECT count(*) FROM events"), 2);
	/* The same bytes again: absorbed, no second alert. */
	assert_int_equal(
	    coll_ingest(t->st, t->verifier, (uint8_t *)again, len, NOW, &res),
	    0);
	assert_int_equal(res.duplicates, 1);
	assert_int_equal(res.alerts, 0);
	assert_int_equal(count(t, "SELECT count(*) FROM quarantine"), 1);
	free(again);
}

static void
test_gap(void **state)
{
	struct t *t = *state;
	struct coll_result res;

	add_chain(t, 1, 1);
	send_body(t);
	skip_chain(t, 2, 4);
	add_chain(t, 5, 5);
	res = send_body(t);
	assert_int_equal(res.status, 200);
	assert_int_equal(res.accepted, 1);
	assert_int_equal(res.acked, 5);
	assert_int_equal(
	    count(t,
		"SELECT count(*) FROM alerts WHERE type = "
		"'gap' AND seq_from = 2 AND seq_to = 4 AND explained_by IS NULL"),
	    1);
	/* 5 links to 4, which we never saw. */
	assert_int_equal(count(t,
			     "SELECT count(*) FROM alerts WHERE type = "
			     "'chain-break' AND seq_from = 5"),
	    1);
	assert_int_equal(count(t,
			     "SELECT severity FROM alerts WHERE type = "
			     "'gap'"),
	    LOG_WARNING);
}

static void
test_chain_break(void **state)
{
	struct t *t = *state;
	struct coll_result res;
	uint8_t wrong[MG_REC_HASH_LEN];

	add_chain(t, 1, 2);
	send_body(t);
	memset(wrong, 0xab, sizeof(wrong));
	add_rec(t, NULL, 3, wrong, 0, NULL, t->hash[3]);
	add_chain(t, 4, 4);
	res = send_body(t);
	assert_int_equal(res.accepted, 2);
	assert_int_equal(res.alerts, 1);
	assert_int_equal(count(t,
			     "SELECT count(*) FROM alerts WHERE type = "
			     "'chain-break' AND seq_from = 3"),
	    1);
	assert_int_equal(count(t, "SELECT next_seq FROM agents"), 5);
}

static void
test_first_not_one(void **state)
{
	struct t *t = *state;
	struct coll_result res;

	skip_chain(t, 1, 6);
	add_chain(t, 7, 8);
	res = send_body(t);
	assert_int_equal(res.accepted, 2);
	assert_int_equal(res.acked, 8);
	assert_int_equal(count(t,
			     "SELECT count(*) FROM alerts WHERE type = "
			     "'gap' AND seq_from = 1 AND seq_to = 6"),
	    1);
	/* Nothing to break on an agent's first record. */
	assert_int_equal(count(t, "SELECT count(*) FROM alerts"), 1);
}

static void
loss_body(
    char *buf, size_t len, uint64_t from, uint64_t to, const uint8_t *last)
{
	char hex[2 * MG_REC_HASH_LEN + 1];

	mg_hex(last, MG_REC_HASH_LEN, hex);
	snprintf(buf, len,
	    "{\"event\":{\"action\":\"events-dropped\","
	    "\"reason\":\"spool full\"},"
	    "\"mynaguard\":{\"loss\":{\"ranges\":[{\"from\":%llu,\"to\":%llu,"
	    "\"last_hash\":\"%s\"}],\"count\":%llu}}}",
	    (unsigned long long)from, (unsigned long long)to, hex,
	    (unsigned long long)(to - from + 1));
}

/* Records 3..5 dropped; 6 arrives (gap, break), then the loss record 7
 * explains both. */
static void
test_loss_explains_gap(void **state)
{
	struct t *t = *state;
	struct coll_result res;
	char body[512];

	add_chain(t, 1, 2);
	skip_chain(t, 3, 5);
	add_chain(t, 6, 6);
	res = send_body(t);
	assert_int_equal(res.alerts, 2);
	loss_body(body, sizeof(body), 3, 5, t->hash[5]);
	add_rec(t, NULL, 7, t->hash[6], MG_REC_F_LOSS, body, t->hash[7]);
	res = send_body(t);
	assert_int_equal(res.status, 200);
	assert_int_equal(res.accepted, 1);
	assert_int_equal(count(t,
			     "SELECT count(*) FROM alerts WHERE type = "
			     "'loss' AND seq_from = 3 AND seq_to = 5"),
	    1);
	assert_int_equal(count(t,
			     "SELECT explained_by FROM alerts WHERE "
			     "type = 'gap'"),
	    7);
	assert_int_equal(count(t,
			     "SELECT explained_by FROM alerts WHERE "
			     "type = 'chain-break'"),
	    7);
	assert_true(
	    count(t,
		"SELECT severity FROM alerts WHERE type = "
		"'loss'") > count(t,
				"SELECT severity FROM alerts WHERE type = "
				"'gap'"));
	assert_int_equal(count(t,
			     "SELECT count(*) FROM alerts WHERE "
			     "detail LIKE '%spool full%'"),
	    1);
}

/* The loss record itself comes right after the dropped range and links
 * to it: explained within the same record. */
static void
test_loss_first(void **state)
{
	struct t *t = *state;
	struct coll_result res;
	char body[512];

	add_chain(t, 1, 2);
	skip_chain(t, 3, 5);
	loss_body(body, sizeof(body), 3, 5, t->hash[5]);
	add_rec(t, NULL, 6, t->hash[5], MG_REC_F_LOSS, body, t->hash[6]);
	add_chain(t, 7, 7);
	res = send_body(t);
	assert_int_equal(res.status, 200);
	assert_int_equal(res.accepted, 4);
	assert_int_equal(
	    count(t,
		"SELECT count(*) FROM alerts WHERE "
		"type IN ('gap', 'chain-break') AND explained_by IS NULL"),
	    0);
	assert_int_equal(count(t, "SELECT count(*) FROM loss_ranges"), 1);
	/* A later record linking to the dropped one is no break either. */
	add_rec(t, NULL, 9, t->hash[5], 0, NULL, NULL);
	res = send_body(t);
	assert_int_equal(res.accepted, 1);
	assert_int_equal(count(t,
			     "SELECT count(*) FROM alerts WHERE "
			     "type = 'chain-break'"),
	    1);
	assert_int_equal(
	    count(t,
		"SELECT count(*) FROM alerts WHERE "
		"type = 'gap' AND seq_from = 8 AND explained_by IS NULL"),
	    1);
}

/* Record 2 arrives after 3: it fills the gap and links both ways. */
static void
test_late(void **state)
{
	struct t *t = *state;
	struct coll_result res;
	size_t one, len;
	char *rec2;

	add_chain(t, 1, 1);
	one = t->body.len;
	add_chain(t, 2, 2);
	rec2 = save(t, one, &len);
	t->body.len = one;  /* 2 is held back */
	add_chain(t, 3, 3); /* links to 2's hash */
	res = send_body(t);
	assert_int_equal(res.accepted, 2);
	assert_int_equal(res.alerts, 2); /* gap 2..2, break at 3 */
	assert_int_equal(sbuf_put(&t->body, rec2, len), 0);
	free(rec2);
	res = send_body(t);
	assert_int_equal(res.accepted, 1);
	assert_int_equal(res.alerts, 0);
	assert_int_equal(count(t, "SELECT count(*) FROM events"), 3);
	assert_int_equal(count(t, "SELECT next_seq FROM agents"), 4);
}

/* Break the last signature byte of the record that ends the body and fix
 * its CRC: it decodes, but does not verify. */
static void
forge_last(struct t *t, size_t start)
{
	uint8_t *rec = (uint8_t *)t->body.data + start;
	size_t len = t->body.len - start;

	rec[len - 1] ^= 0x01;
	mg_record_seal(rec, len);
}

static void
test_forged(void **state)
{
	struct t *t = *state;
	struct coll_result res;
	size_t start;

	add_chain(t, 1, 1);
	start = t->body.len;
	add_chain(t, 2, 2);
	forge_last(t, start);
	add_chain(t, 3, 3);
	res = send_body(t);
	assert_int_equal(res.status, 200);
	assert_int_equal(res.accepted, 2);
	assert_int_equal(res.quarantined, 1);
	assert_int_equal(res.acked, 3);
	assert_int_equal(
	    count(t, "SELECT count(*) FROM events WHERE seq = 2"), 0);
	assert_int_equal(count(t,
			     "SELECT count(*) FROM quarantine WHERE "
			     "seq = 2 AND reason LIKE '%signature%'"),
	    1);
	assert_int_equal(count(t,
			     "SELECT count(*) FROM alerts WHERE type = "
			     "'forged' AND seq_from = 2"),
	    1);
	/* Only verified records move the chain: 3 follows a hole. */
	assert_int_equal(count(t,
			     "SELECT count(*) FROM alerts WHERE type = "
			     "'gap' AND seq_from = 2 AND seq_to = 2"),
	    1);
}

/* Same agent id, another key: the key id gives it away. */
static void
test_wrong_key(void **state)
{
	struct t *t = *state;
	struct mg_signer *other = NULL;
	struct coll_result res;
	char key[512], cert[512];
	const char *why = NULL;

	assert_int_equal(testkeys_make(t->dir, "b", "agent-1", key, cert), 0);
	assert_int_equal(mg_signer_load(key, cert, &other, &why), 0);
	add_rec(t, other, 1, NULL, 0, NULL, NULL);
	res = send_body(t);
	assert_int_equal(res.quarantined, 1);
	assert_int_equal(count(t,
			     "SELECT count(*) FROM alerts WHERE type = "
			     "'forged'"),
	    1);
	assert_int_equal(count(t, "SELECT count(*) FROM events"), 0);
	mg_signer_free(other);
	unlink(key);
	unlink(cert);
}

/* Records of another agent id on agent-1's connection: 403, nothing of
 * the request stored, one identity-mismatch alert. */
static void
test_identity_mismatch(void **state)
{
	struct t *t = *state;
	struct mg_signer *other = NULL;
	struct coll_result res;
	char key[512], cert[512];
	const char *why = NULL;
	size_t start;

	assert_int_equal(testkeys_make(t->dir, "c", "agent-2", key, cert), 0);
	assert_int_equal(mg_signer_load(key, cert, &other, &why), 0);
	add_chain(t, 1, 2);
	start = t->body.len;
	add_rec(t, other, 7, NULL, 0, NULL, NULL);
	res = send_body(t);
	assert_int_equal(res.status, 403);
	assert_int_equal(res.offset, start);
	assert_int_equal(count(t, "SELECT count(*) FROM events"), 0);
	assert_int_equal(
	    count(t,
		"SELECT count(*) FROM alerts WHERE type = "
		"'identity-mismatch' AND agent_id = 'agent-1' AND seq_from = 7 "
		"AND detail LIKE '%agent-2%'"),
	    1);
	mg_signer_free(other);
	unlink(key);
	unlink(cert);
}

static void
test_malformed(void **state)
{
	struct t *t = *state;
	struct coll_result res;
	size_t start;

	add_chain(t, 1, 2);
	start = t->body.len;
	assert_int_equal(sbuf_puts(&t->body, "MYE1 and then garbage"), 0);
	res = send_body(t);
	assert_int_equal(res.status, 400);
	assert_int_equal(res.offset, start);
	assert_int_equal(res.acked, 2);
	assert_int_equal(res.accepted, 2);
	assert_non_null(res.error);
	/* A torn record at the end: also 400, after what came before. */
	add_chain(t, 3, 3);
	t->body.len -= 5;
	res = send_body(t);
	assert_int_equal(res.status, 400);
	assert_int_equal(res.offset, 0);
	assert_int_equal(res.acked, 2);
	assert_int_equal(count(t, "SELECT count(*) FROM events"), 2);
}

static void
test_too_many(void **state)
{
	struct t *t = *state;
	struct coll_result res;
	size_t one, i;

	char *rec;

	add_chain(t, 1, 1);
	rec = save(t, 0, &one);
	for (i = 0; i < COLL_RECORDS_MAX; i++)
		assert_int_equal(sbuf_put(&t->body, rec, one), 0);
	free(rec);
	res = send_body(t);
	assert_int_equal(res.status, 413);
	assert_int_equal(count(t, "SELECT count(*) FROM events"), 0);
}

/* State survives closing and reopening the database. */
static void
test_reopen(void **state)
{
	struct t *t = *state;
	struct coll_result res;
	const char *why = NULL;

	add_chain(t, 1, 2);
	send_body(t);
	coll_store_free(t->st);
	assert_int_equal(coll_store_open(t->db, 0, &t->st, &why), 0);
	add_chain(t, 3, 3);
	res = send_body(t);
	assert_int_equal(res.accepted, 1);
	assert_int_equal(res.alerts, 0);
	assert_int_equal(res.acked, 3);
}

/* Not a check: how fast one request of 1000 records goes, for the
 * record (verify, chain, one transaction with synchronous=FULL). */
static void
test_throughput(void **state)
{
	struct t *t = *state;
	struct coll_result res;
	struct timespec a, b;
	double s;
	uint64_t seq;

	for (seq = 1; seq <= 1000; seq++)
		add_rec(t, NULL, seq, seq > 1 ? t->hash[(seq - 1) % 16] : NULL,
		    0, NULL, t->hash[seq % 16]);
	clock_gettime(CLOCK_MONOTONIC, &a);
	res = send_body(t);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_int_equal(res.accepted, 1000);
	assert_int_equal(res.alerts, 0);
	s = (double)(b.tv_sec - a.tv_sec) +
	    (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	printf("# ingest: 1000 records in %.1f ms, %.0f records/s\n", s * 1e3,
	    1000 / s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_duplicate, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_equivocation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_chain_break, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_first_not_one, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_loss_explains_gap, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_loss_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_wrong_key, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_identity_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_throughput, setup, teardown),
	};

	coll_log_set_max(getenv("MG_TEST_VERBOSE") != NULL ? LOG_DEBUG : -1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
