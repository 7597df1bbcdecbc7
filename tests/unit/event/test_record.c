/* SPDX-License-Identifier: BSD-2-Clause */
/* Records: encoding, signature and chain verification, and every way a
 * record can be damaged, truncated or forged. */
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

#include "mynaguard/event.h"
#include "testkeys.h"

static char dir[] = "/tmp/mg-rec-XXXXXX";
static char key[512], cert[512], key2[512], cert2[512];
static struct mg_signer *signer, *other;
static struct mg_verifier *verifier;

static int
setup(void **state)
{
	char *pem = NULL;
	size_t len = 0;

	(void)state;
	if (mkdtemp(dir) == NULL ||
	    testkeys_make(dir, "a", "zeimu-pc01", key, cert) < 0 ||
	    testkeys_make(dir, "b", "zeimu-pc01", key2, cert2) < 0 ||
	    mg_signer_load(key, cert, &signer, NULL) < 0 ||
	    mg_signer_load(key2, cert2, &other, NULL) < 0 ||
	    file_read_all(cert, 65536, 0, &pem, &len) < 0 ||
	    mg_verifier_from_pem(pem, len, &verifier) < 0)
		return -1;
	free(pem);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[600];

	(void)state;
	mg_signer_free(signer);
	mg_signer_free(other);
	mg_verifier_free(verifier);
	snprintf(cmd, sizeof(cmd), "%s/a.key", dir);
	unlink(cmd);
	snprintf(cmd, sizeof(cmd), "%s/a.pem", dir);
	unlink(cmd);
	snprintf(cmd, sizeof(cmd), "%s/b.key", dir);
	unlink(cmd);
	snprintf(cmd, sizeof(cmd), "%s/b.pem", dir);
	unlink(cmd);
	rmdir(dir);
	return 0;
}

static const char body[] = "{\"event\":{\"action\":\"test\"},\"message\":"
    "\"日本語\"}";

/* Append record seq to b chained on prev (updated to its hash). */
static void
add(const struct mg_signer *s, struct sbuf *b, uint64_t seq, uint8_t *prev,
    uint16_t flags)
{
	struct mg_record_in in = {
		.flags = flags, .boot_id = 3, .seq = seq,
		.t_wall_ns = 1764414000123456789, .t_boot_ns = 42,
		.body = body, .body_len = sizeof(body) - 1,
	};

	memcpy(in.prev_hash, prev, MG_REC_HASH_LEN);
	assert_int_equal(mg_record_encode(s, &in, b, prev), 0);
}

static void
test_roundtrip_and_chain(void **state)
{
	uint8_t prev[MG_REC_HASH_LEN] = { 0 }, h[MG_REC_HASH_LEN];
	uint8_t chain[MG_REC_HASH_LEN] = { 0 };
	struct mg_record r;
	struct sbuf b;
	size_t off = 0;
	uint64_t seq = 1;
	int n;

	(void)state;
	sbuf_init(&b, 1 << 20);
	add(signer, &b, 1, prev, MG_REC_F_CRITICAL);
	add(signer, &b, 2, prev, 0);
	add(signer, &b, 3, prev, 0);
	while (off < b.len) {
		n = mg_record_decode((uint8_t *)b.data + off, b.len - off, &r,
		    NULL);
		assert_true(n > 0);
		assert_int_equal(r.seq, seq);
		assert_string_equal(r.agent_id, "zeimu-pc01");
		assert_int_equal(r.boot_id, 3);
		assert_int_equal(r.t_wall_ns, 1764414000123456789);
		assert_int_equal(r.flags, seq == 1 ? MG_REC_F_CRITICAL : 0);
		assert_memory_equal(r.body, body, sizeof(body) - 1);
		/* Each record names its predecessor's hash. */
		assert_memory_equal(r.prev_hash, chain, MG_REC_HASH_LEN);
		assert_int_equal(mg_verifier_check(verifier, &r, NULL), 0);
		mg_record_hash(&r, h);
		memcpy(chain, h, MG_REC_HASH_LEN);
		off += (size_t)n;
		seq++;
	}
	assert_memory_equal(chain, prev, MG_REC_HASH_LEN);
	assert_int_equal(seq, 4);
	sbuf_clear(&b);
}

static void
test_truncated_every_offset(void **state)
{
	uint8_t prev[MG_REC_HASH_LEN] = { 0 };
	struct mg_record r;
	struct sbuf b;
	size_t cut;
	int n;

	(void)state;
	sbuf_init(&b, 1 << 20);
	add(signer, &b, 1, prev, 0);
	for (cut = 0; cut < b.len; cut++) {
		n = mg_record_decode((uint8_t *)b.data, cut, &r, NULL);
		/* A torn tail is "need more", never a record. */
		assert_int_equal(n, cut < 4 || memcmp(b.data, "MYE1", 4) == 0 ?
		    -EAGAIN : -EBADMSG);
	}
	assert_int_equal(mg_record_decode((uint8_t *)b.data, b.len, &r, NULL),
	    (int)b.len);
	sbuf_clear(&b);
}

/* Flip one byte, fix the CRC (as a forger would), and expect the
 * signature or the decoder to catch it. */
static void
test_tamper_every_byte(void **state)
{
	uint8_t prev[MG_REC_HASH_LEN] = { 0 };
	struct mg_record r;
	struct sbuf b;
	uint8_t *p;
	size_t i;
	int n, caught = 0;

	(void)state;
	sbuf_init(&b, 1 << 20);
	add(signer, &b, 1, prev, 0);
	p = (uint8_t *)b.data;
	for (i = 12; i < b.len; i++) {
		p[i] ^= 0x01;
		mg_record_seal(p, b.len);
		n = mg_record_decode(p, b.len, &r, NULL);
		if (n < 0 || mg_verifier_check(verifier, &r, NULL) < 0)
			caught++;
		else
			print_error("tampered byte %zu not caught\n", i);
		p[i] ^= 0x01;
	}
	assert_int_equal(caught, (int)(b.len - 12));
	/* Unfixed CRC: refused before any signature work. */
	p[40] ^= 0x80;
	assert_int_equal(mg_record_decode(p, b.len, &r, NULL), -EBADMSG);
	sbuf_clear(&b);
}

static void
test_forged_and_mismatched(void **state)
{
	uint8_t prev[MG_REC_HASH_LEN] = { 0 };
	struct mg_record r;
	struct sbuf b;
	const char *why = NULL;

	(void)state;
	/* Same agent id, another key: key id mismatch. */
	sbuf_init(&b, 1 << 20);
	add(other, &b, 1, prev, 0);
	assert_true(mg_record_decode((uint8_t *)b.data, b.len, &r, NULL) > 0);
	assert_int_equal(mg_verifier_check(verifier, &r, &why), -EKEYREJECTED);
	assert_non_null(strstr(why, "key id"));
	/* Claims another agent id: refused as an identity mismatch. */
	memcpy(r.agent_id, "somu-pc02", 10);
	assert_int_equal(mg_verifier_check(verifier, &r, &why), -EACCES);
	sbuf_clear(&b);
}

static void
test_encode_refuses(void **state)
{
	uint8_t h[MG_REC_HASH_LEN];
	struct mg_record_in in = { .seq = 1, .body = "{\"a\":1,\"a\":2}",
	    .body_len = 13 };
	struct sbuf b;
	char *big;

	(void)state;
	sbuf_init(&b, 1 << 20);
	assert_int_equal(mg_record_encode(signer, &in, &b, h), -EINVAL);
	in.body = "[1]";
	in.body_len = 3;
	assert_int_equal(mg_record_encode(signer, &in, &b, h), -EINVAL);
	in.body = "{}";
	in.body_len = 2;
	in.seq = 0;
	assert_int_equal(mg_record_encode(signer, &in, &b, h), -EINVAL);
	in.seq = 1;
	in.flags = 0x8000;
	assert_int_equal(mg_record_encode(signer, &in, &b, h), -EINVAL);
	big = malloc(MG_REC_BODY_MAX + 2);
	assert_non_null(big);
	big[0] = '{';
	memset(big + 1, ' ', MG_REC_BODY_MAX);
	big[MG_REC_BODY_MAX] = '}';
	in.flags = 0;
	in.body = big;
	in.body_len = MG_REC_BODY_MAX + 1;
	assert_int_equal(mg_record_encode(signer, &in, &b, h), -EINVAL);
	in.body_len = MG_REC_BODY_MAX;
	big[MG_REC_BODY_MAX - 1] = '}';
	assert_int_equal(mg_record_encode(signer, &in, &b, h), 0);
	assert_true(b.len > MG_REC_BODY_MAX);	/* one record written */
	free(big);
	/* A full output buffer leaves it as it was. */
	sbuf_clear(&b);
	sbuf_init(&b, 100);
	in.body = "{}";
	in.body_len = 2;
	assert_int_equal(mg_record_encode(signer, &in, &b, h), -E2BIG);
	assert_int_equal(b.len, 0);
	sbuf_clear(&b);
}

static void
test_signer_load_errors(void **state)
{
	char k[512], c[512];
	struct mg_signer *s = NULL;
	const char *why = NULL;

	(void)state;
	assert_int_equal(mg_signer_load("/nonexistent", cert, &s, &why),
	    -ENOENT);
	assert_int_equal(mg_signer_load(key2, cert, &s, &why), -EKEYREJECTED);
	assert_non_null(strstr(why, "does not match"));
	assert_int_equal(testkeys_make_rsa(dir, "rsa", "x", k, c), 0);
	assert_int_equal(mg_signer_load(k, c, &s, &why), -EKEYREJECTED);
	assert_non_null(strstr(why, "P-256"));
	unlink(k);
	unlink(c);
	assert_int_equal(testkeys_make(dir, "badcn", "bad cn/..", k, c), 0);
	assert_int_equal(mg_signer_load(k, c, &s, &why), -EKEYREJECTED);
	assert_non_null(strstr(why, "CN"));
	unlink(k);
	unlink(c);
	assert_null(s);
}

static void
test_agent_id(void **state)
{
	(void)state;
	assert_true(mg_agent_id_valid("zeimu-pc01", 10));
	assert_true(mg_agent_id_valid("a.b_c-d", 7));
	assert_false(mg_agent_id_valid("", 0));
	assert_false(mg_agent_id_valid("-x", 2));
	assert_false(mg_agent_id_valid(".x", 2));
	assert_false(mg_agent_id_valid("a b", 3));
	assert_false(mg_agent_id_valid("日本", 6));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_and_chain),
		cmocka_unit_test(test_truncated_every_offset),
		cmocka_unit_test(test_tamper_every_byte),
		cmocka_unit_test(test_forged_and_mismatched),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_signer_load_errors),
		cmocka_unit_test(test_agent_id),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
