/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The softkey against the real libfido2: devices are put into a device
 * list with fido_dev_info_set() and io functions only, then opened with
 * fido_dev_new_with_info() + fido_dev_open_with_info(), so libfido2's own
 * CTAPHID, CBOR and PIN code runs.  Plus the state file.  The message
 * level and the raw CTAPHID framing are in test_softkey_hid.c.
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <fido.h>
#include <fido/es256.h>

#include "softkey.h"
#include "softkey_io.h"

#define RP "mynaguard.test"
#define PIN "1234"

struct fx {
	char dir[64];
	char state[128];
	char log[128];
	char devpath[160];
	struct softkey *sk; /* bound to state: knobs, counters */
	fido_dev_t *dev;
	fido_cred_t *cred;
};

static const unsigned char cdh[32] = { 0xcd, 0x01, 0x02, 0x03 };

/* ---- fixtures ----------------------------------------------------------- */

static int
make_state(struct fx *f, const char *pin)
{
	struct softkey *sk = NULL;
	int r;

	if ((r = softkey_new(&sk)) < 0)
		return r;
	if (pin != NULL)
		r = softkey_set_pin(sk, pin);
	if (r == 0)
		r = softkey_save(sk, f->state);
	softkey_free(sk);
	if (r == 0)
		r = softkey_load(f->state, &f->sk, NULL);
	return r;
}

static int
setup_pin(void **state, const char *pin)
{
	struct fx *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/softkey-test.XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->state, sizeof(f->state), "%s/state", f->dir);
	snprintf(f->log, sizeof(f->log), "%s/log", f->dir);
	snprintf(f->devpath, sizeof(f->devpath), "softkey:%s", f->state);
	setenv("SOFTKEY_LOG", f->log, 1);
	*state = f;
	return make_state(f, pin) == 0 ? 0 : -1;
}

static int
setup_nopin(void **state)
{
	return setup_pin(state, NULL);
}

static int
setup_withpin(void **state)
{
	return setup_pin(state, PIN);
}

static void
close_dev(struct fx *f)
{
	if (f->dev != NULL) {
		fido_dev_close(f->dev);
		fido_dev_free(&f->dev);
	}
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char p[200];

	close_dev(f);
	fido_cred_free(&f->cred);
	softkey_free(f->sk);
	unlink(f->state);
	unlink(f->log);
	snprintf(p, sizeof(p), "%s.lock", f->state);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* A fresh "plug in": a device list entry with our io functions only. */
static int
open_dev(struct fx *f)
{
	fido_dev_info_t *list;
	int r;

	close_dev(f);
	if ((list = fido_dev_info_new(1)) == NULL)
		return FIDO_ERR_INTERNAL;
	r = fido_dev_info_set(list, 0, f->devpath, "mynaguard-test", "softkey",
	    &softkey_io, NULL);
	if (r == FIDO_OK &&
	    (f->dev = fido_dev_new_with_info(fido_dev_info_ptr(list, 0))) ==
		NULL)
		r = FIDO_ERR_INTERNAL;
	if (r == FIDO_OK)
		r = fido_dev_open_with_info(f->dev);
	if (r != FIDO_OK)
		fido_dev_free(&f->dev);
	fido_dev_info_free(&list, 1);
	return r;
}

static void
set_faults(struct fx *f, const struct softkey_faults *flt)
{
	assert_int_equal(softkey_set_faults(f->sk, flt), 0);
}

static int
make_cred_rp(struct fx *f, const char *rp, const char *pin, int type)
{
	static const unsigned char uid[4] = { 'u', 's', 'e', 'r' };

	fido_cred_free(&f->cred);
	if ((f->cred = fido_cred_new()) == NULL)
		return FIDO_ERR_INTERNAL;
	assert_int_equal(fido_cred_set_type(f->cred, type), FIDO_OK);
	assert_int_equal(
	    fido_cred_set_clientdata_hash(f->cred, cdh, sizeof(cdh)), FIDO_OK);
	assert_int_equal(fido_cred_set_rp(f->cred, rp, "Test"), FIDO_OK);
	assert_int_equal(
	    fido_cred_set_user(f->cred, uid, sizeof(uid), "user", NULL, NULL),
	    FIDO_OK);
	return fido_dev_make_cred(f->dev, f->cred, pin);
}

static void
enroll(struct fx *f, const char *pin)
{
	assert_int_equal(open_dev(f), FIDO_OK);
	assert_int_equal(make_cred_rp(f, RP, pin, COSE_ES256), FIDO_OK);
	assert_int_equal(fido_cred_verify_self(f->cred), FIDO_OK);
}

/* GetAssertion for rp with f->cred allowed; *ret (free it) on success. */
static int
get_assert(struct fx *f, const char *rp, const char *pin, fido_opt_t up,
    fido_opt_t uv, fido_assert_t **ret)
{
	fido_assert_t *a;
	int r;

	if ((a = fido_assert_new()) == NULL)
		return FIDO_ERR_INTERNAL;
	assert_int_equal(
	    fido_assert_set_clientdata_hash(a, cdh, sizeof(cdh)), FIDO_OK);
	assert_int_equal(fido_assert_set_rp(a, rp), FIDO_OK);
	assert_int_equal(fido_assert_allow_cred(a, fido_cred_id_ptr(f->cred),
			     fido_cred_id_len(f->cred)),
	    FIDO_OK);
	assert_int_equal(fido_assert_set_up(a, up), FIDO_OK);
	assert_int_equal(fido_assert_set_uv(a, uv), FIDO_OK);
	r = fido_dev_get_assert(f->dev, a, pin);
	if (r == FIDO_OK && ret != NULL)
		*ret = a;
	else
		fido_assert_free(&a);
	return r;
}

static int
verify(const struct fx *f, const fido_assert_t *a)
{
	es256_pk_t *pk;
	int r;

	if ((pk = es256_pk_new()) == NULL)
		return FIDO_ERR_INTERNAL;
	r = es256_pk_from_ptr(
	    pk, fido_cred_pubkey_ptr(f->cred), fido_cred_pubkey_len(f->cred));
	if (r == FIDO_OK)
		r = fido_assert_verify(a, 0, COSE_ES256, pk);
	es256_pk_free(&pk);
	return r;
}

static int
retries(struct fx *f)
{
	int n = -1;

	assert_int_equal(fido_dev_get_retry_count(f->dev, &n), FIDO_OK);
	return n;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool
log_has(const struct fx *f, const char *needle)
{
	char *buf;
	FILE *fp;
	size_t n;
	bool found = false;

	if ((fp = fopen(f->log, "re")) == NULL)
		return false;
	if ((buf = malloc(65536)) != NULL) {
		n = fread(buf, 1, 65535, fp);
		buf[n] = '\0';
		found = strstr(buf, needle) != NULL;
		free(buf);
	}
	fclose(fp);
	return found;
}

/* ---- libfido2 end to end --------------------------------------------- */

static void
test_getinfo(void **state)
{
	struct fx *f = *state;
	fido_cbor_info_t *ci = fido_cbor_info_new();
	char *const *v;

	assert_non_null(ci);
	assert_int_equal(open_dev(f), FIDO_OK);
	assert_true(fido_dev_is_fido2(f->dev));
	assert_false(fido_dev_has_pin(f->dev));
	assert_true(fido_dev_supports_pin(f->dev));
	assert_int_equal(fido_dev_get_cbor_info(f->dev, ci), FIDO_OK);
	assert_int_equal(fido_cbor_info_versions_len(ci), 1);
	v = fido_cbor_info_versions_ptr(ci);
	assert_string_equal(v[0], "FIDO_2_0");
	assert_int_equal(fido_cbor_info_aaguid_len(ci), 16);
	assert_memory_equal(
	    fido_cbor_info_aaguid_ptr(ci), "mynaguardsoftkey", 16);
	assert_int_equal(fido_cbor_info_maxmsgsiz(ci), 1200);
	assert_int_equal(fido_cbor_info_protocols_len(ci), 1);
	assert_int_equal(fido_cbor_info_protocols_ptr(ci)[0], 1);
	fido_cbor_info_free(&ci);
}

static void
test_makecred(void **state)
{
	struct fx *f = *state;

	enroll(f, NULL);
	assert_string_equal(fido_cred_fmt(f->cred), "packed");
	assert_int_equal(fido_cred_x5c_len(f->cred), 0);
	assert_int_equal(fido_cred_flags(f->cred) & 0x45, 0x41); /* UP|AT */
	assert_int_equal(fido_cred_sigcount(f->cred), 1);
	assert_memory_equal(
	    fido_cred_aaguid_ptr(f->cred), "mynaguardsoftkey", 16);
	assert_int_equal(fido_cred_id_len(f->cred), 61);
	assert_int_equal(softkey_counter(f->sk), 1);
	assert_true(log_has(f, "makecred status=0x00 up=1"));
}

/* basic_attestation: an x5c for tools that call fido_cred_verify(). */
static void
test_makecred_basic(void **state)
{
	struct fx *f = *state;
	struct softkey_faults flt = { .basic_attestation = true };

	set_faults(f, &flt);
	assert_int_equal(open_dev(f), FIDO_OK);
	assert_int_equal(make_cred_rp(f, RP, NULL, COSE_ES256), FIDO_OK);
	assert_string_equal(fido_cred_fmt(f->cred), "packed");
	assert_true(fido_cred_x5c_len(f->cred) > 100);
	assert_int_equal(fido_cred_verify(f->cred), FIDO_OK);
	assert_int_equal(
	    fido_cred_verify_self(f->cred), FIDO_ERR_INVALID_ARGUMENT);
	/* and the credential is an ordinary one */
	assert_int_equal(
	    get_assert(f, RP, NULL, FIDO_OPT_TRUE, FIDO_OPT_OMIT, NULL),
	    FIDO_OK);
}

static void
test_makecred_refusals(void **state)
{
	struct fx *f = *state;
	fido_cred_t *first;

	enroll(f, NULL);
	first = f->cred; /* excludeList with our own credential */
	assert_non_null(f->cred = fido_cred_new());
	assert_int_equal(fido_cred_exclude(f->cred, fido_cred_id_ptr(first),
			     fido_cred_id_len(first)),
	    FIDO_OK);
	fido_cred_free(&first);
	assert_int_equal(fido_cred_set_type(f->cred, COSE_ES256), FIDO_OK);
	assert_int_equal(
	    fido_cred_set_clientdata_hash(f->cred, cdh, sizeof(cdh)), FIDO_OK);
	assert_int_equal(fido_cred_set_rp(f->cred, RP, NULL), FIDO_OK);
	assert_int_equal(
	    fido_cred_set_user(f->cred, cdh, 4, "u", NULL, NULL), FIDO_OK);
	assert_int_equal(fido_dev_make_cred(f->dev, f->cred, NULL),
	    FIDO_ERR_CREDENTIAL_EXCLUDED);
	/* the same id excludes nothing for another rp */
	assert_int_equal(
	    fido_cred_set_rp(f->cred, "other.test", NULL), FIDO_OK);
	assert_int_equal(fido_dev_make_cred(f->dev, f->cred, NULL), FIDO_OK);
	/* ES256 only */
	assert_int_equal(make_cred_rp(f, RP, NULL, COSE_EDDSA),
	    FIDO_ERR_UNSUPPORTED_ALGORITHM);
	assert_int_equal(make_cred_rp(f, RP, NULL, COSE_RS256),
	    FIDO_ERR_UNSUPPORTED_ALGORITHM);
}

static void
test_makecred_pin_required(void **state)
{
	struct fx *f = *state;

	assert_int_equal(open_dev(f), FIDO_OK);
	assert_true(fido_dev_has_pin(f->dev));
	assert_int_equal(
	    make_cred_rp(f, RP, NULL, COSE_ES256), FIDO_ERR_PIN_REQUIRED);
	assert_int_equal(make_cred_rp(f, RP, PIN, COSE_ES256), FIDO_OK);
	assert_int_equal(fido_cred_verify_self(f->cred), FIDO_OK);
	assert_int_equal(fido_cred_flags(f->cred) & 0x05, 0x05); /* UP|UV */
}

static void
test_assert_touch(void **state)
{
	struct fx *f = *state;
	fido_assert_t *a = NULL;

	enroll(f, NULL);
	assert_int_equal(
	    get_assert(f, RP, NULL, FIDO_OPT_TRUE, FIDO_OPT_OMIT, &a), FIDO_OK);
	assert_int_equal(verify(f, a), FIDO_OK);
	assert_int_equal(fido_assert_flags(a, 0) & 0x05, 0x01); /* UP */
	assert_int_equal(fido_assert_sigcount(a, 0), 2);
	assert_memory_equal(fido_assert_id_ptr(a, 0), fido_cred_id_ptr(f->cred),
	    fido_cred_id_len(f->cred));
	fido_assert_free(&a);
}

static void
test_assert_pin_uv(void **state)
{
	struct fx *f = *state;
	fido_assert_t *a = NULL;
	uint32_t before;

	enroll(f, PIN);
	before = softkey_counter(f->sk);
	assert_int_equal(
	    get_assert(f, RP, PIN, FIDO_OPT_TRUE, FIDO_OPT_TRUE, &a), FIDO_OK);
	assert_int_equal(verify(f, a), FIDO_OK);
	assert_int_equal(fido_assert_flags(a, 0) & 0x05, 0x05); /* UP|UV */
	assert_int_equal(fido_assert_sigcount(a, 0), before + 1);
	assert_int_equal(softkey_counter(f->sk), before + 1);
	assert_true(log_has(f, "getassert status=0x00 up=1 pinauth=1 uv=1"));
	fido_assert_free(&a);
	/* no PIN: still a touch-only assertion, without UV */
	assert_int_equal(
	    get_assert(f, RP, NULL, FIDO_OPT_TRUE, FIDO_OPT_OMIT, &a), FIDO_OK);
	assert_int_equal(fido_assert_flags(a, 0) & 0x05, 0x01);
	fido_assert_free(&a);
	/* uv required without a PIN: the key has no built-in UV */
	assert_int_not_equal(
	    get_assert(f, RP, NULL, FIDO_OPT_TRUE, FIDO_OPT_TRUE, NULL),
	    FIDO_OK);
}

static void
test_wrong_pin(void **state)
{
	struct fx *f = *state;

	enroll(f, PIN);
	assert_int_equal(retries(f), 8);
	assert_int_equal(
	    get_assert(f, RP, "9999", FIDO_OPT_TRUE, FIDO_OPT_TRUE, NULL),
	    FIDO_ERR_PIN_INVALID);
	assert_int_equal(retries(f), 7);
	assert_int_equal(softkey_retries(f->sk), 7); /* persisted */
	assert_int_equal(
	    get_assert(f, RP, "9998", FIDO_OPT_TRUE, FIDO_OPT_TRUE, NULL),
	    FIDO_ERR_PIN_INVALID);
	assert_int_equal(
	    get_assert(f, RP, "9997", FIDO_OPT_TRUE, FIDO_OPT_TRUE, NULL),
	    FIDO_ERR_PIN_AUTH_BLOCKED);
	assert_int_equal(retries(f), 5);
	/* blocked until a power cycle, even with the right PIN */
	assert_int_equal(
	    get_assert(f, RP, PIN, FIDO_OPT_TRUE, FIDO_OPT_TRUE, NULL),
	    FIDO_ERR_PIN_AUTH_BLOCKED);
	assert_int_equal(retries(f), 5);
	assert_int_equal(open_dev(f), FIDO_OK);
	assert_int_equal(retries(f), 5); /* retries survive it */
	assert_int_equal(
	    get_assert(f, RP, PIN, FIDO_OPT_TRUE, FIDO_OPT_TRUE, NULL),
	    FIDO_OK);
	assert_int_equal(retries(f), 8);
}

static void
test_pin_blocked(void **state)
{
	struct fx *f = *state;

	enroll(f, PIN);
	assert_int_equal(softkey_set_retries(f->sk, 1), 0);
	assert_int_equal(
	    get_assert(f, RP, "0000", FIDO_OPT_TRUE, FIDO_OPT_TRUE, NULL),
	    FIDO_ERR_PIN_BLOCKED);
	assert_int_equal(softkey_retries(f->sk), 0);
	assert_int_equal(open_dev(f), FIDO_OK);
	assert_int_equal(
	    get_assert(f, RP, PIN, FIDO_OPT_TRUE, FIDO_OPT_TRUE, NULL),
	    FIDO_ERR_PIN_BLOCKED);
}

static void
test_set_change_pin(void **state)
{
	struct fx *f = *state;

	enroll(f, NULL);
	assert_int_equal(fido_dev_set_pin(f->dev, "123", NULL),
	    FIDO_ERR_PIN_POLICY_VIOLATION);
	/* 9 bytes but 3 code points: libfido2 sends it, the key refuses */
	assert_int_equal(fido_dev_set_pin(f->dev,
			     "\xe6\x97\xa5\xe6\x9c\xac"
			     "\xe8\xaa\x9e",
			     NULL),
	    FIDO_ERR_PIN_POLICY_VIOLATION);
	assert_false(softkey_pin_is_set(f->sk));
	assert_int_equal(fido_dev_set_pin(f->dev,
			     "\xe6\x97\xa5\xe6\x9c\xac"
			     "\xe8\xaa\x9e!",
			     NULL),
	    FIDO_OK); /* 4 code points */
	assert_true(softkey_pin_is_set(f->sk));
	assert_int_equal(fido_dev_set_pin(f->dev, "5678", NULL),
	    FIDO_ERR_PIN_AUTH_INVALID); /* already set */
	assert_int_equal(
	    fido_dev_set_pin(f->dev, "5678", "wrong"), FIDO_ERR_PIN_INVALID);
	assert_int_equal(fido_dev_set_pin(f->dev, "5678",
			     "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e!"),
	    FIDO_OK);
	assert_int_equal(open_dev(f), FIDO_OK);
	assert_true(fido_dev_has_pin(f->dev));
	assert_int_equal(retries(f), 8);
	assert_int_equal(
	    get_assert(f, RP, "5678", FIDO_OPT_TRUE, FIDO_OPT_TRUE, NULL),
	    FIDO_OK);
	assert_int_equal(
	    get_assert(f, RP, "1234", FIDO_OPT_TRUE, FIDO_OPT_TRUE, NULL),
	    FIDO_ERR_PIN_INVALID);
}

static void
test_pin_protocol2(void **state)
{
	struct fx *f = *state;
	struct softkey_faults flt = { .pin_proto2 = true };
	fido_assert_t *a = NULL;

	fido_cbor_info_t *ci = fido_cbor_info_new();

	set_faults(f, &flt);
	enroll(f, PIN);
	/* advertised [2, 1]: libfido2 then uses protocol 2 */
	assert_non_null(ci);
	assert_int_equal(fido_dev_get_cbor_info(f->dev, ci), FIDO_OK);
	assert_int_equal(fido_cbor_info_protocols_len(ci), 2);
	assert_int_equal(fido_cbor_info_protocols_ptr(ci)[0], 2);
	fido_cbor_info_free(&ci);
	assert_int_equal(
	    get_assert(f, RP, PIN, FIDO_OPT_TRUE, FIDO_OPT_TRUE, &a), FIDO_OK);
	assert_int_equal(verify(f, a), FIDO_OK);
	assert_int_equal(fido_assert_flags(a, 0) & 0x05, 0x05);
	fido_assert_free(&a);
	assert_int_equal(
	    get_assert(f, RP, "4321", FIDO_OPT_TRUE, FIDO_OPT_TRUE, NULL),
	    FIDO_ERR_PIN_INVALID);
	assert_int_equal(fido_dev_set_pin(f->dev, "24680", PIN), FIDO_OK);
	assert_int_equal(
	    get_assert(f, RP, "24680", FIDO_OPT_TRUE, FIDO_OPT_TRUE, NULL),
	    FIDO_OK);
}

static void
test_other_rp(void **state)
{
	struct fx *f = *state;

	enroll(f, NULL);
	assert_int_equal(get_assert(f, "evil.test", NULL, FIDO_OPT_TRUE,
			     FIDO_OPT_OMIT, NULL),
	    FIDO_ERR_NO_CREDENTIALS);
	assert_true(log_has(f, "getassert status=0x2e"));
}

static void
test_silent_probe(void **state)
{
	struct fx *f = *state;
	struct softkey_faults flt = { .no_touch = true };
	fido_assert_t *a = NULL;

	enroll(f, NULL);
	set_faults(f, &flt); /* a probe needs no touch */
	assert_int_equal(
	    get_assert(f, RP, NULL, FIDO_OPT_FALSE, FIDO_OPT_OMIT, &a),
	    FIDO_OK);
	assert_int_equal(fido_assert_flags(a, 0) & 0x01, 0); /* no UP */
	assert_int_equal(fido_assert_sigcount(a, 0), 2);     /* counted */
	assert_int_equal(verify(f, a), FIDO_OK);
	assert_true(log_has(f, "getassert status=0x00 up=0"));
	fido_assert_free(&a);
}

/* Damaged replies: libfido2 gets them, fido_assert_verify() refuses. */
static void
test_bad_replies(void **state)
{
	struct fx *f = *state;
	struct softkey_faults flt = { .bad_sig = true };
	fido_assert_t *a = NULL;

	enroll(f, NULL);
	set_faults(f, &flt);
	assert_int_equal(
	    get_assert(f, RP, NULL, FIDO_OPT_TRUE, FIDO_OPT_OMIT, &a), FIDO_OK);
	assert_int_equal(verify(f, a), FIDO_ERR_INVALID_SIG);
	fido_assert_free(&a);

	flt = (struct softkey_faults){ .bad_rpid = true };
	set_faults(f, &flt);
	assert_int_equal(
	    get_assert(f, RP, NULL, FIDO_OPT_TRUE, FIDO_OPT_OMIT, &a), FIDO_OK);
	assert_int_equal(verify(f, a), FIDO_ERR_INVALID_PARAM);
	fido_assert_free(&a);

	flt = (struct softkey_faults){ .drop_up = true };
	set_faults(f, &flt);
	assert_int_equal(
	    get_assert(f, RP, NULL, FIDO_OPT_TRUE, FIDO_OPT_OMIT, &a), FIDO_OK);
	assert_int_equal(fido_assert_flags(a, 0) & 0x01, 0);
	assert_int_equal(verify(f, a), FIDO_ERR_INVALID_PARAM);
	fido_assert_free(&a);
}

static void
test_drop_uv(void **state)
{
	struct fx *f = *state;
	struct softkey_faults flt = { .drop_uv = true };
	fido_assert_t *a = NULL;

	enroll(f, PIN);
	set_faults(f, &flt);
	assert_int_equal(
	    get_assert(f, RP, PIN, FIDO_OPT_TRUE, FIDO_OPT_TRUE, &a), FIDO_OK);
	assert_int_equal(fido_assert_flags(a, 0) & 0x05, 0x01);
	assert_int_equal(verify(f, a), FIDO_ERR_INVALID_PARAM); /* uv set */
	fido_assert_free(&a);
}

static void
test_counter(void **state)
{
	struct fx *f = *state;
	struct softkey_faults flt = { .counter_freeze = true };
	fido_assert_t *a = NULL;

	enroll(f, NULL);
	assert_int_equal(softkey_set_counter(f->sk, 100), 0);
	assert_int_equal(
	    get_assert(f, RP, NULL, FIDO_OPT_TRUE, FIDO_OPT_OMIT, &a), FIDO_OK);
	assert_int_equal(fido_assert_sigcount(a, 0), 101);
	fido_assert_free(&a);
	/* a "clone": lower counter; libfido2 itself accepts it */
	assert_int_equal(softkey_set_kv(f->sk, "counter_set", "3"), 0);
	assert_int_equal(
	    get_assert(f, RP, NULL, FIDO_OPT_TRUE, FIDO_OPT_OMIT, &a), FIDO_OK);
	assert_int_equal(fido_assert_sigcount(a, 0), 4);
	assert_int_equal(verify(f, a), FIDO_OK);
	fido_assert_free(&a);
	set_faults(f, &flt);
	assert_int_equal(
	    get_assert(f, RP, NULL, FIDO_OPT_TRUE, FIDO_OPT_OMIT, &a), FIDO_OK);
	assert_int_equal(fido_assert_sigcount(a, 0), 4);
	fido_assert_free(&a);
	assert_int_equal(softkey_counter(f->sk), 4);
}

static void
test_no_touch_timeout(void **state)
{
	struct fx *f = *state;
	struct softkey_faults flt = { .no_touch = true };
	uint64_t t0, dt;

	enroll(f, NULL);
	set_faults(f, &flt);
	assert_int_equal(fido_dev_set_timeout(f->dev, 500), FIDO_OK);
	t0 = now_ms();
	assert_int_not_equal(
	    get_assert(f, RP, NULL, FIDO_OPT_TRUE, FIDO_OPT_OMIT, NULL),
	    FIDO_OK);
	dt = now_ms() - t0;
	assert_in_range(dt, 450, 1500);
	/* the next process: a fresh open, the key touched again */
	flt.no_touch = false;
	set_faults(f, &flt);
	assert_int_equal(open_dev(f), FIDO_OK);
	assert_int_equal(
	    get_assert(f, RP, NULL, FIDO_OPT_TRUE, FIDO_OPT_OMIT, NULL),
	    FIDO_OK);
}

static void
test_touch_delay(void **state)
{
	struct fx *f = *state;
	struct softkey_faults flt = { .touch_delay_ms = 300 };
	fido_assert_t *a = NULL;
	uint64_t t0, dt;

	enroll(f, NULL);
	set_faults(f, &flt);
	t0 = now_ms();
	/* libfido2 skips the keepalives sent meanwhile */
	assert_int_equal(
	    get_assert(f, RP, NULL, FIDO_OPT_TRUE, FIDO_OPT_OMIT, &a), FIDO_OK);
	dt = now_ms() - t0;
	assert_in_range(dt, 290, 3000);
	assert_int_equal(verify(f, a), FIDO_OK);
	fido_assert_free(&a);
	/* shorter than the delay: a timeout */
	assert_int_equal(fido_dev_set_timeout(f->dev, 100), FIDO_OK);
	assert_int_not_equal(
	    get_assert(f, RP, NULL, FIDO_OPT_TRUE, FIDO_OPT_OMIT, NULL),
	    FIDO_OK);
}

/* A waiting key re-reads its file: another process can "touch" it. */
static void
test_touch_from_file(void **state)
{
	struct fx *f = *state;
	struct softkey_faults flt = { .no_touch = true };
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 300000000L };
	struct softkey *other = NULL;
	uint64_t t0, dt;
	pid_t pid;
	int status = -1;

	enroll(f, NULL);
	set_faults(f, &flt);
	t0 = now_ms();
	if ((pid = fork()) == 0) {
		nanosleep(&ts, NULL); /* the touch comes later */
		_exit(softkey_load(f->state, &other, NULL) == 0 &&
			    softkey_set_kv(other, "no_touch", "0") == 0 ?
			0 :
			1);
	}
	assert_true(pid > 0);
	assert_int_equal(
	    get_assert(f, RP, NULL, FIDO_OPT_TRUE, FIDO_OPT_OMIT, NULL),
	    FIDO_OK);
	dt = now_ms() - t0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_in_range(dt, 290, 5000);
}

static void
test_remove_after(void **state)
{
	struct fx *f = *state;
	struct softkey_faults flt = { .remove_after = 3 };

	enroll(f, NULL);
	set_faults(f, &flt);
	/* open: INIT and GetInfo; then one command; then gone */
	assert_int_equal(open_dev(f), FIDO_OK);
	assert_int_equal(
	    get_assert(f, RP, NULL, FIDO_OPT_TRUE, FIDO_OPT_OMIT, NULL),
	    FIDO_OK);
	assert_int_not_equal(
	    get_assert(f, RP, NULL, FIDO_OPT_TRUE, FIDO_OPT_OMIT, NULL),
	    FIDO_OK);
	assert_int_not_equal(
	    get_assert(f, RP, NULL, FIDO_OPT_FALSE, FIDO_OPT_OMIT, NULL),
	    FIDO_OK);
	assert_true(log_has(f, "removed"));
}

/* Another process (another object on the same file) sees the key. */
static void
test_persistence(void **state)
{
	struct fx *f = *state;
	struct softkey *again = NULL, *other = NULL;
	struct softkey_faults flt;
	char buf[64];

	enroll(f, PIN);
	assert_int_equal(
	    get_assert(f, RP, "0000", FIDO_OPT_TRUE, FIDO_OPT_TRUE, NULL),
	    FIDO_ERR_PIN_INVALID);
	close_dev(f);
	assert_int_equal(softkey_load(f->state, &again, NULL), 0);
	assert_int_equal(softkey_counter(again), 1);
	assert_int_equal(softkey_retries(again), 7);
	assert_true(softkey_pin_is_set(again));
	assert_int_equal(softkey_set_kv(again, "bad_sig", "1"), 0);
	assert_int_equal(softkey_get_faults(f->sk, &flt), 0);
	assert_true(flt.bad_sig);
	assert_int_equal(softkey_get_kv(again, "aaguid", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "6d796e616775617264736f66746b6579");
	assert_int_equal(
	    softkey_get_kv(again, "secret", buf, sizeof(buf)), -EPERM);
	assert_int_equal(
	    softkey_get_kv(again, "pin_hash", buf, sizeof(buf)), -EPERM);
	assert_int_equal(softkey_set_kv(again, "secret", "00"), -EPERM);
	assert_int_equal(softkey_set_kv(again, "nope", "1"), -ENOENT);
	assert_int_equal(softkey_set_kv(again, "no_touch", "2"), -EINVAL);
	assert_int_equal(softkey_set_kv(again, "bad_sig", "0"), 0);
	softkey_free(again);
	/* the credential works after the reload */
	assert_int_equal(open_dev(f), FIDO_OK);
	assert_int_equal(
	    get_assert(f, RP, PIN, FIDO_OPT_TRUE, FIDO_OPT_TRUE, NULL),
	    FIDO_OK);
	/* another key (another secret) does not know it */
	assert_int_equal(softkey_new(&other), 0);
	assert_int_equal(softkey_save(other, f->state), 0);
	softkey_free(other);
	assert_int_equal(open_dev(f), FIDO_OK);
	assert_int_equal(
	    get_assert(f, RP, NULL, FIDO_OPT_TRUE, FIDO_OPT_OMIT, NULL),
	    FIDO_ERR_NO_CREDENTIALS);
}

/* ---- the state file --------------------------------------------------- */

static int
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "we");

	if (fp == NULL)
		return -1;
	fputs(text, fp);
	return fclose(fp);
}

static void
test_state_parse(void **state)
{
	struct fx *f = *state;
	struct softkey *sk = NULL;
	unsigned line = 0;
	char good[512];

	snprintf(good, sizeof(good),
	    "secret=%064d\ncounter=7\n"
	    "counter_set=2\nno_touch=1\n",
	    0);
	assert_int_equal(write_file(f->state, good), 0);
	assert_int_equal(softkey_load(f->state, &sk, NULL), 0);
	assert_int_equal(softkey_counter(sk), 2); /* counter_set wins */
	softkey_free(sk);
	sk = NULL;
	assert_int_equal(write_file(f->state, "# x\nsecret=00\n"), 0);
	assert_int_equal(softkey_load(f->state, &sk, &line), -EBADMSG);
	assert_int_equal(line, 2);
	snprintf(good, sizeof(good), "secret=%064d\nno_touch=1\nfoo=1\n", 0);
	assert_int_equal(write_file(f->state, good), 0);
	assert_int_equal(softkey_load(f->state, &sk, &line), -EBADMSG);
	assert_int_equal(line, 3);
	snprintf(good, sizeof(good), "secret=%064d\nretries=1\nretries=2\n", 0);
	assert_int_equal(write_file(f->state, good), 0);
	assert_int_equal(softkey_load(f->state, &sk, &line), -EBADMSG);
	assert_int_equal(line, 3);
	assert_int_equal(write_file(f->state, "counter=1\n"), 0);
	assert_int_equal(softkey_load(f->state, &sk, &line), -EBADMSG);
	assert_int_equal(softkey_load("/nonexistent/x", &sk, NULL), -ENOENT);
	assert_null(sk);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_getinfo, setup_nopin, teardown),
		cmocka_unit_test_setup_teardown(
		    test_makecred, setup_nopin, teardown),
		cmocka_unit_test_setup_teardown(
		    test_makecred_basic, setup_nopin, teardown),
		cmocka_unit_test_setup_teardown(
		    test_makecred_refusals, setup_nopin, teardown),
		cmocka_unit_test_setup_teardown(
		    test_makecred_pin_required, setup_withpin, teardown),
		cmocka_unit_test_setup_teardown(
		    test_assert_touch, setup_nopin, teardown),
		cmocka_unit_test_setup_teardown(
		    test_assert_pin_uv, setup_withpin, teardown),
		cmocka_unit_test_setup_teardown(
		    test_wrong_pin, setup_withpin, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pin_blocked, setup_withpin, teardown),
		cmocka_unit_test_setup_teardown(
		    test_set_change_pin, setup_nopin, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pin_protocol2, setup_withpin, teardown),
		cmocka_unit_test_setup_teardown(
		    test_other_rp, setup_nopin, teardown),
		cmocka_unit_test_setup_teardown(
		    test_silent_probe, setup_nopin, teardown),
		cmocka_unit_test_setup_teardown(
		    test_bad_replies, setup_nopin, teardown),
		cmocka_unit_test_setup_teardown(
		    test_drop_uv, setup_withpin, teardown),
		cmocka_unit_test_setup_teardown(
		    test_counter, setup_nopin, teardown),
		cmocka_unit_test_setup_teardown(
		    test_no_touch_timeout, setup_nopin, teardown),
		cmocka_unit_test_setup_teardown(
		    test_touch_delay, setup_nopin, teardown),
		cmocka_unit_test_setup_teardown(
		    test_touch_from_file, setup_nopin, teardown),
		cmocka_unit_test_setup_teardown(
		    test_remove_after, setup_nopin, teardown),
		cmocka_unit_test_setup_teardown(
		    test_persistence, setup_withpin, teardown),
		cmocka_unit_test_setup_teardown(
		    test_state_parse, setup_nopin, teardown),
	};

	fido_init(0);
	return cmocka_run_group_tests_name("softkey", tests, NULL, NULL);
}
