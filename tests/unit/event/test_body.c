/* SPDX-License-Identifier: BSD-2-Clause */
/* Strict JSON, event bodies built from typed fields, and the local
 * submission protocol (socket and drop directory). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <dirent.h>

#include <cmocka.h>

#include "mynaguard/event.h"

static void
test_json_check(void **state)
{
	static const char *const good[] = {
		"{}", " { \"a\" : [1, -2.5e+3, true, false, null, \"x\"] } ",
		"{\"a\":{\"b\":{}},\"b\":\"\\u00e9\\ud83d\\ude00\\n\"}",
		"{\"k\":\"日本\"}",
		"{\"a\":0,\"b\":{\"a\":0}}",
	};
	static const char *const bad[] = {
		"", "[]", "1", "{", "{\"a\":1,\"a\":2}", "{\"a\":01}",
		"{\"a\":1,}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00x\"}",
		"{\"a\":\"\x01\"}", "{\"a\":\"\xff\"}", "{\"a\\n\":1}",
		"{\"日\":1}", "{\"a\":tru}", "{\"a\":1} x", "{'a':1}",
		"{\"a\":-}", "{\"a\":1.}", "{\"a\":\"\\x\"}", "{\"a\":NaN}",
	};
	char deep[100];
	size_t i, bad_at = 0;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(json_check(good[i], strlen(good[i]), NULL), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (json_check(bad[i], strlen(bad[i]), &bad_at) == 0)
			fail_msg("accepted: %s", bad[i]);
	/* The offset of a duplicate key points into the text. */
	assert_int_equal(json_check("{\"a\":1,\"a\":2}", 13, &bad_at),
	    -EBADMSG);
	assert_true(bad_at > 0 && bad_at <= 13);
	/* Nesting limit. */
	memset(deep, 0, sizeof(deep));
	deep[0] = '{';
	memcpy(deep + 1, "\"a\":", 4);
	for (i = 0; i < 40; i++)
		deep[5 + i] = '[';
	assert_int_equal(json_check(deep, strlen(deep), NULL), -E2BIG);
}

static void
test_json_writer(void **state)
{
	struct sbuf b;
	struct jw w;

	(void)state;
	sbuf_init(&b, 4096);
	jw_init(&w, &b);
	jw_object(&w);
	jw_key(&w, "s");
	jw_str(&w, "q\"b\\n\n\x01\x7f 日本");
	jw_key(&w, "a");
	jw_array(&w);
	jw_u64(&w, 18446744073709551615ull);
	jw_i64(&w, -5);
	jw_bool(&w, true);
	jw_array_end(&w);
	jw_object_end(&w);
	assert_int_equal(jw_finish(&w), 0);
	assert_string_equal(b.data, "{\"s\":\"q\\\"b\\\\n\\n\\u0001\\u007f 日本\","
	    "\"a\":[18446744073709551615,-5,true]}");
	assert_int_equal(json_check(b.data, b.len, NULL), 0);
	sbuf_clear(&b);
	/* Invalid UTF-8 and unbalanced nesting are errors, not output. */
	sbuf_init(&b, 4096);
	jw_init(&w, &b);
	jw_object(&w);
	jw_key(&w, "s");
	jw_string(&w, "\xff", 1);
	jw_object_end(&w);
	assert_int_equal(jw_finish(&w), -EINVAL);
	sbuf_clear(&b);
	jw_init(&w, &b);
	jw_object(&w);
	assert_int_equal(jw_finish(&w), -EINVAL);
	sbuf_clear(&b);
}

static const struct mg_event_ctx ctx = {
	"zeimu-pc01.town.lg.jp", "zeimu-pc01", 42, 7, 1764414000123456789,
};

static void
test_bodies(void **state)
{
	const struct mg_field_val f[] = {
		{ MG_F_MESSAGE, "試験\nline2", 12 },
		{ MG_F_USER, "taro", 4 },
	};
	const struct mg_field_val pol[] = {
		{ MG_F_POLICY_PATH, "/etc/mynaguard/policy.conf", 26 },
		{ MG_F_POLICY_HASH, "0123456789abcdef0123456789abcdef"
		    "0123456789abcdef0123456789abcdef", 64 },
		{ MG_F_POLICY_VERSION, "3", 1 },
	};
	struct mg_loss_range lr = { 5, 9, { 0xab } };
	const char *why = NULL;
	struct sbuf b;

	(void)state;
	sbuf_init(&b, MG_REC_BODY_MAX);
	assert_int_equal(mg_event_body(MG_EV_TEST, f, 2, &ctx, &b, &why), 0);
	assert_string_equal(b.data, "{\"@timestamp\":\"2025-11-29T11:00:00."
	    "123456789Z\",\"event\":{\"kind\":\"event\",\"action\":\"test\","
	    "\"category\":[\"host\"],\"type\":[\"info\"],\"outcome\":"
	    "\"success\",\"sequence\":42},\"host\":{\"name\":"
	    "\"zeimu-pc01.town.lg.jp\"},\"agent\":{\"id\":\"zeimu-pc01\","
	    "\"type\":\"mynaguard\"},\"user\":{\"name\":\"taro\"},"
	    "\"message\":\"試験\\nline2\",\"mynaguard\":{\"boot_id\":7}}");
	sbuf_clear(&b);
	assert_int_equal(mg_event_body(MG_EV_POLICY_LOADED, pol, 3, &ctx, &b,
	    &why), 0);
	assert_non_null(strstr(b.data, "\"policy\":{\"path\":\"/etc/mynaguard/"
	    "policy.conf\",\"hash\":\"0123"));
	assert_non_null(strstr(b.data, "\"version\":3}"));
	assert_true(mg_event_critical(MG_EV_POLICY_LOADED));
	sbuf_clear(&b);
	/* Refusals: field not allowed, twice, missing, malformed. */
	assert_int_equal(mg_event_body(MG_EV_POLICY_LOADED, f + 1, 1, &ctx, &b,
	    &why), -EINVAL);
	assert_string_equal(why, "field not allowed for event");
	assert_int_equal(mg_event_body(MG_EV_POLICY_LOADED, pol + 1, 1, &ctx,
	    &b, &why), -EINVAL);
	assert_string_equal(why, "required field missing");
	{
		const struct mg_field_val twice[] = { f[1], f[1] };
		const struct mg_field_val ctl[] = { { MG_F_USER, "a\nb", 3 } };
		const struct mg_field_val hash[] = { pol[0],
		    { MG_F_POLICY_HASH, "xyz", 3 } };

		assert_int_equal(mg_event_body(MG_EV_TEST, twice, 2, &ctx, &b,
		    &why), -EINVAL);
		assert_int_equal(mg_event_body(MG_EV_TEST, ctl, 1, &ctx, &b,
		    &why), -EINVAL);
		assert_string_equal(why, "control character in field");
		assert_int_equal(mg_event_body(MG_EV_POLICY_LOADED, hash, 2,
		    &ctx, &b, &why), -EINVAL);
	}
	assert_int_equal(b.len, 0);
	assert_int_equal(mg_event_loss_body(&lr, 1, 5, "spool full", &ctx, &b),
	    0);
	assert_non_null(strstr(b.data, "\"loss\":{\"count\":5,\"ranges\":"
	    "[{\"from\":5,\"to\":9,\"last_hash\":\"ab00"));
	assert_int_equal(json_check(b.data, b.len, NULL), 0);
	sbuf_clear(&b);
}

static void
test_ipc_codec(void **state)
{
	struct mg_submit s = { .type = MG_EV_TEST, .flags = MG_REC_F_CRITICAL,
	    .n = 2 }, d;
	const char *why = NULL;
	struct sbuf b;

	(void)state;
	s.f[0] = (struct mg_field_val){ MG_F_MESSAGE, "hello", 5 };
	s.f[1] = (struct mg_field_val){ MG_F_USER, "taro", 4 };
	sbuf_init(&b, MG_IPC_MSG_MAX);
	assert_int_equal(mg_ipc_encode_submit(&s, &b), 0);
	assert_int_equal(mg_ipc_decode((uint8_t *)b.data, b.len, &d, &why),
	    MG_IPC_SUBMIT);
	assert_int_equal(d.type, MG_EV_TEST);
	assert_int_equal(d.flags, MG_REC_F_CRITICAL);
	assert_int_equal(d.n, 2);
	assert_memory_equal(d.f[1].val, "taro", 4);
	/* Truncated anywhere, or with a byte too many: refused. */
	assert_int_equal(mg_ipc_decode((uint8_t *)b.data, b.len - 1, &d, &why),
	    -EBADMSG);
	assert_string_equal(why, "length does not match");
	b.data[7]--;	/* the header agrees, the last field is cut */
	assert_int_equal(mg_ipc_decode((uint8_t *)b.data, b.len - 1, &d, &why),
	    -EBADMSG);
	assert_string_equal(why, "bad field length");
	b.data[7] += 2;	/* one byte more than the fields use */
	assert_int_equal(sbuf_putc(&b, 'x'), 0);
	assert_int_equal(mg_ipc_decode((uint8_t *)b.data, b.len, &d, &why),
	    -EBADMSG);
	assert_string_equal(why, "trailing bytes");
	sbuf_clear(&b);
	/* The agent's own events cannot be submitted. */
	s.type = MG_EV_POLICY_LOADED;
	assert_int_equal(mg_ipc_encode_submit(&s, &b), -EINVAL);
	sbuf_clear(&b);
}

/* ---- login and key events (pam_mynaguard.so, mynaguard key) ----------- */

#define KEY_ID "3f0a9c1e3f0a9c1e3f0a9c1e3f0a9c1e" \
	"3f0a9c1e3f0a9c1e3f0a9c1e3f0a9c1e"
#define AAGUID "cb69481e-8ff7-4039-93ec-0a2729a154a8"
#define FV(id, s) { (id), (s), sizeof(s) - 1 }

/* Build a body from fields; the body, or NULL with *why set.  The caller
 * clears b. */
static const char *
body_of(enum mg_event_type t, const struct mg_field_val *f, size_t n,
    struct sbuf *b, const char **why)
{
	sbuf_clear(b);
	sbuf_init(b, MG_REC_BODY_MAX);
	*why = NULL;
	if (mg_event_body(t, f, n, &ctx, b, why) < 0) {
		assert_int_equal(b->len, 0);
		return NULL;
	}
	assert_int_equal(json_check(b->data, b->len, NULL), 0);
	return b->data;
}

/* A login-failed with every field it takes: the whole body, in body.c's
 * order, numbers as JSON numbers. */
static void
test_login_failed_body(void **state)
{
	const struct mg_field_val f[] = {
		/* Given in another order than the body's. */
		FV(MG_F_KEY_RP, "pam://mynaguard"),
		FV(MG_F_KEY_STORED_COUNTER, "17"),
		FV(MG_F_KEY_COUNTER, "5"),
		FV(MG_F_KEY_AAGUID, AAGUID),
		FV(MG_F_KEY_LABEL, "窓口1 \"青\""),
		FV(MG_F_KEY_ID, KEY_ID),
		FV(MG_F_LOGIN_LOCKED_UNTIL, "1764416700"),
		FV(MG_F_LOGIN_FAILURES, "5"),
		FV(MG_F_LOGIN_RHOST, "2001:db8::7"),
		FV(MG_F_LOGIN_TTY, "ssh"),
		FV(MG_F_LOGIN_SERVICE, "sshd"),
		FV(MG_F_MESSAGE, "PIN の誤り\n5 回目"),
		FV(MG_F_REASON, "counter-regression"),
		FV(MG_F_USER, "yamada"),
	};
	const char *why;
	struct sbuf b;

	(void)state;
	sbuf_init(&b, MG_REC_BODY_MAX);
	assert_non_null(body_of(MG_EV_LOGIN_FAILED, f, sizeof(f) /
	    sizeof(f[0]), &b, &why));
	assert_string_equal(b.data, "{\"@timestamp\":\"2025-11-29T11:00:00."
	    "123456789Z\",\"event\":{\"kind\":\"event\",\"action\":"
	    "\"login-failed\",\"category\":[\"authentication\"],\"type\":"
	    "[\"start\"],\"outcome\":\"failure\",\"sequence\":42,\"reason\":"
	    "\"counter-regression\"},\"host\":{\"name\":"
	    "\"zeimu-pc01.town.lg.jp\"},\"agent\":{\"id\":\"zeimu-pc01\","
	    "\"type\":\"mynaguard\"},\"user\":{\"name\":\"yamada\"},"
	    "\"message\":\"PIN の誤り\\n5 回目\",\"mynaguard\":{\"boot_id\":7,"
	    "\"login\":{\"service\":\"sshd\",\"tty\":\"ssh\",\"remote_host\":"
	    "\"2001:db8::7\",\"failures\":5,\"locked_until\":1764416700},"
	    "\"key\":{\"id\":\"" KEY_ID "\",\"label\":\"窓口1 \\\"青\\\"\","
	    "\"aaguid\":\"" AAGUID "\",\"counter\":5,\"stored_counter\":17,"
	    "\"rp_id\":\"pam://mynaguard\"}}}");
	sbuf_clear(&b);
}

/* agent-state: the agent's own, numbers as numbers, word lists checked. */
static void
test_agent_state(void **state)
{
	struct mg_field_val f[] = {
		FV(MG_F_STATE_MISMATCH, "removable-writable udev-rules-missing"),
		FV(MG_F_STATE_ACKED_SEQ, "40"),
		FV(MG_F_STATE_SPOOL_DEPTH, "2"),
		FV(MG_F_STATE_MODPROBE, "overridden"),
		FV(MG_F_STATE_UDEV, "missing"),
		FV(MG_F_STATE_WRITABLE, "1"),
		FV(MG_F_STATE_DISKS, "3"),
		FV(MG_F_STATE_IFACE_DEFAULT, "0"),
		FV(MG_F_STATE_USB_DEFAULT, "mixed"),
		FV(MG_F_POLICY_VERSION, "3"),
		FV(MG_F_VERSION, "0.1.0"),
	};
	const size_t n = sizeof(f) / sizeof(f[0]);
	const char *why;
	struct mg_submit s = { .type = MG_EV_AGENT_STATE, .n = 1 };
	struct sbuf b;

	(void)state;
	assert_false(mg_event_critical(MG_EV_AGENT_STATE));
	assert_string_equal(mg_event_action(MG_EV_AGENT_STATE), "agent-state");
	sbuf_init(&b, MG_REC_BODY_MAX);
	assert_non_null(body_of(MG_EV_AGENT_STATE, f, n, &b, &why));
	assert_non_null(strstr(b.data, "\"category\":[\"host\"],\"type\":"
	    "[\"info\"]"));
	assert_non_null(strstr(b.data, "\"agent\":{\"id\":\"zeimu-pc01\","
	    "\"type\":\"mynaguard\",\"version\":\"0.1.0\"}"));
	assert_non_null(strstr(b.data, "\"policy\":{\"version\":3},"
	    "\"state\":{\"usb_default\":\"mixed\",\"usb_iface_default\":"
	    "\"0\",\"removable_disks\":3,\"removable_writable\":1,"
	    "\"udev_rules\":\"missing\",\"modprobe\":\"overridden\","
	    "\"spool_depth\":2,\"acked_seq\":40,\"mismatch\":"
	    "\"removable-writable udev-rules-missing\"}}"));
	/* Empty words: all is as required. */
	f[0] = (struct mg_field_val)FV(MG_F_STATE_MISMATCH, "");
	sbuf_clear(&b);
	sbuf_init(&b, MG_REC_BODY_MAX);
	assert_non_null(body_of(MG_EV_AGENT_STATE, f, n, &b, &why));
	assert_non_null(strstr(b.data, "\"mismatch\":\"\"}"));
	/* Bad values. */
	f[0] = (struct mg_field_val)FV(MG_F_STATE_MISMATCH, "usb-default-authorized ");
	assert_null(body_of(MG_EV_AGENT_STATE, f, n, &b, &why));
	f[0] = (struct mg_field_val)FV(MG_F_STATE_MISMATCH, "all-fine");
	assert_null(body_of(MG_EV_AGENT_STATE, f, n, &b, &why));
	f[0] = (struct mg_field_val)FV(MG_F_STATE_MISMATCH, "");
	f[8] = (struct mg_field_val)FV(MG_F_STATE_USB_DEFAULT, "-1");
	assert_null(body_of(MG_EV_AGENT_STATE, f, n, &b, &why));
	f[8] = (struct mg_field_val)FV(MG_F_STATE_USB_DEFAULT, "0");
	f[6] = (struct mg_field_val)FV(MG_F_STATE_DISKS, "three");
	assert_null(body_of(MG_EV_AGENT_STATE, f, n, &b, &why));
	f[6] = (struct mg_field_val)FV(MG_F_STATE_DISKS, "3");
	f[3] = (struct mg_field_val)FV(MG_F_STATE_MODPROBE, "absent");
	assert_null(body_of(MG_EV_AGENT_STATE, f, n, &b, &why));
	f[3] = (struct mg_field_val)FV(MG_F_STATE_MODPROBE, "present");
	assert_null(body_of(MG_EV_AGENT_STATE, f, n - 1, &b, &why));
	assert_non_null(body_of(MG_EV_AGENT_STATE, f, n, &b, &why));
	/* Not submittable: only the agent writes it. */
	sbuf_clear(&b);
	sbuf_init(&b, 4096);
	s.f[0] = (struct mg_field_val)FV(MG_F_VERSION, "0.1.0");
	assert_int_equal(mg_ipc_encode_submit(&s, &b), -EINVAL);
	sbuf_clear(&b);
}

/* The types, their ECS words, criticality and what each one requires. */
static void
test_login_types(void **state)
{
	static const struct {
		enum mg_event_type t;
		const char *action, *ecs;
	} ty[] = {
		{ MG_EV_LOGIN_SUCCEEDED, "login-succeeded", "\"category\":"
		    "[\"authentication\"],\"type\":[\"start\"],\"outcome\":"
		    "\"success\"" },
		{ MG_EV_LOGIN_FAILED, "login-failed", "\"category\":"
		    "[\"authentication\"],\"type\":[\"start\"],\"outcome\":"
		    "\"failure\"" },
		{ MG_EV_LOGIN_LOCKED_OUT, "login-locked-out", "\"category\":"
		    "[\"authentication\"],\"type\":[\"start\"],\"outcome\":"
		    "\"failure\"" },
		{ MG_EV_LOGIN_BREAK_GLASS, "login-break-glass", "\"category\":"
		    "[\"authentication\"],\"type\":[\"start\"],\"outcome\":"
		    "\"success\"" },
		{ MG_EV_LOGIN_UNLOCKED, "login-unlocked", "\"category\":"
		    "[\"iam\"],\"type\":[\"change\"],\"outcome\":\"success\"" },
		{ MG_EV_KEY_ENROLLED, "key-enrolled", "\"category\":[\"iam\"],"
		    "\"type\":[\"creation\"],\"outcome\":\"success\"" },
		{ MG_EV_KEY_REVOKED, "key-revoked", "\"category\":[\"iam\"],"
		    "\"type\":[\"deletion\"],\"outcome\":\"success\"" },
	};
	const struct mg_field_val user = FV(MG_F_USER, "yamada");
	const struct mg_field_val svc = FV(MG_F_LOGIN_SERVICE, "login");
	const struct mg_field_val reason = FV(MG_F_REASON, "locked");
	const struct mg_field_val kid = FV(MG_F_KEY_ID, KEY_ID);
	/* Each type's required fields, then one of them left out at a
	 * time. */
	const struct mg_field_val req[][3] = {
		{ user, svc }, { user, svc, reason }, { user, svc, reason },
		{ user, svc }, { user }, { user, kid }, { user, kid },
	};
	static const size_t nreq[] = { 2, 3, 3, 2, 1, 2, 2 };
	const char *why;
	struct sbuf b;
	size_t i, j, k, m;
	char want[256];

	(void)state;
	sbuf_init(&b, MG_REC_BODY_MAX);
	for (i = 0; i < sizeof(ty) / sizeof(ty[0]); i++) {
		struct mg_field_val f[3];

		assert_string_equal(mg_event_action(ty[i].t), ty[i].action);
		assert_true(mg_event_critical(ty[i].t));
		assert_non_null(body_of(ty[i].t, req[i], nreq[i], &b, &why));
		snprintf(want, sizeof(want), "\"action\":\"%s\",%s",
		    ty[i].action, ty[i].ecs);
		assert_non_null(strstr(b.data, want));
		assert_non_null(strstr(b.data, "\"user\":{\"name\":"
		    "\"yamada\"}"));
		for (j = 0; j < nreq[i]; j++) {
			for (k = m = 0; k < nreq[i]; k++)
				if (k != j)
					f[m++] = req[i][k];
			if (body_of(ty[i].t, f, m, &b, &why) != NULL)
				fail_msg("%s without field %u accepted",
				    ty[i].action, (unsigned)req[i][j].id);
			assert_string_equal(why, "required field missing");
		}
	}
	sbuf_clear(&b);
}

/* Fields a type does not take are refused. */
static void
test_login_fields_allowed(void **state)
{
	const struct mg_field_val user = FV(MG_F_USER, "yamada");
	const struct mg_field_val svc = FV(MG_F_LOGIN_SERVICE, "login");
	const struct mg_field_val kid = FV(MG_F_KEY_ID, KEY_ID);
	static const struct {
		enum mg_event_type t;
		struct mg_field_val extra;
	} no[] = {
		{ MG_EV_LOGIN_SUCCEEDED, FV(MG_F_ACTOR, "root") },
		{ MG_EV_LOGIN_SUCCEEDED, FV(MG_F_KEY_SOURCE, "enroll") },
		{ MG_EV_LOGIN_BREAK_GLASS, FV(MG_F_VERDICT, "allow") },
		{ MG_EV_LOGIN_BREAK_GLASS, FV(MG_F_DEV_PATH, "1-1") },
		{ MG_EV_LOGIN_UNLOCKED, FV(MG_F_LOGIN_SERVICE, "login") },
		{ MG_EV_LOGIN_UNLOCKED, FV(MG_F_LOGIN_LOCKED_UNTIL, "0") },
		{ MG_EV_KEY_ENROLLED, FV(MG_F_LOGIN_TTY, "tty1") },
		{ MG_EV_KEY_ENROLLED, FV(MG_F_LOGIN_FAILURES, "0") },
		{ MG_EV_KEY_REVOKED, FV(MG_F_MOUNT, "/media/x") },
		{ MG_EV_KEY_REVOKED, FV(MG_F_VERSION, "1") },
	};
	/* And the login and key fields on the other types. */
	static const struct {
		enum mg_event_type t;
		struct mg_field_val extra;
	} elsewhere[] = {
		{ MG_EV_TEST, FV(MG_F_KEY_ID, KEY_ID) },
		{ MG_EV_TEST, FV(MG_F_ACTOR, "root") },
		{ MG_EV_AGENT_STOPPED, FV(MG_F_LOGIN_SERVICE, "login") },
	};
	const char *why;
	struct sbuf b;
	size_t i;

	(void)state;
	sbuf_init(&b, MG_REC_BODY_MAX);
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		struct mg_field_val f[3] = { user, no[i].extra };
		size_t n = 2;

		if (no[i].t == MG_EV_LOGIN_SUCCEEDED ||
		    no[i].t == MG_EV_LOGIN_BREAK_GLASS)
			f[n++] = svc;
		else if (no[i].t != MG_EV_LOGIN_UNLOCKED)
			f[n++] = kid;
		if (body_of(no[i].t, f, n, &b, &why) != NULL)
			fail_msg("%s took field %u", mg_event_action(no[i].t),
			    (unsigned)no[i].extra.id);
		assert_string_equal(why, "field not allowed for event");
	}
	for (i = 0; i < sizeof(elsewhere) / sizeof(elsewhere[0]); i++) {
		assert_null(body_of(elsewhere[i].t, &elsewhere[i].extra, 1,
		    &b, &why));
		assert_string_equal(why, "field not allowed for event");
	}
	/* What the key and unlock events do take. */
	{
		const struct mg_field_val en[] = {
			user, kid, FV(MG_F_KEY_SOURCE, "import"),
			FV(MG_F_ACTOR, "sato"), FV(MG_F_REASON, "admin"),
			FV(MG_F_KEY_COUNTER, "0"),
		};
		const struct mg_field_val un[] = {
			user, FV(MG_F_LOGIN_FAILURES, "5"),
			FV(MG_F_ACTOR, "root"), FV(MG_F_REASON, "admin"),
		};

		assert_non_null(body_of(MG_EV_KEY_ENROLLED, en, 6, &b, &why));
		assert_non_null(strstr(b.data, "\"mynaguard\":{\"boot_id\":7,"
		    "\"key\":{\"id\":\"" KEY_ID "\",\"counter\":0,\"source\":"
		    "\"import\"},\"actor\":\"sato\"}}"));
		assert_non_null(body_of(MG_EV_LOGIN_UNLOCKED, un, 4, &b,
		    &why));
		assert_non_null(strstr(b.data, "\"mynaguard\":{\"boot_id\":7,"
		    "\"login\":{\"failures\":5},\"actor\":\"root\"}}"));
		assert_non_null(strstr(b.data, "\"reason\":\"admin\"}"));
	}
	sbuf_clear(&b);
}

/* failures, locked_until, counter and stored_counter: 1-19 digits,
 * written as JSON numbers. */
static void
test_login_numbers(void **state)
{
	static const struct {
		const char *in, *out;
	} good[] = {
		{ "0", "0" }, { "007", "7" }, { "4294967296", "4294967296" },
		{ "9999999999999999999", "9999999999999999999" },
	};
	static const char *const bad[] = {
		"", "-1", "+1", " 1", "1 ", "1.5", "1e3", "0x10", "١",
		"18446744073709551615", "99999999999999999999",
	};
	static const enum mg_field nf[] = { MG_F_LOGIN_FAILURES,
	    MG_F_LOGIN_LOCKED_UNTIL, MG_F_KEY_COUNTER,
	    MG_F_KEY_STORED_COUNTER };
	static const char *const key[] = { "\"failures\":",
	    "\"locked_until\":", "\"counter\":", "\"stored_counter\":" };
	struct mg_field_val f[4] = {
		FV(MG_F_USER, "yamada"), FV(MG_F_LOGIN_SERVICE, "login"),
		FV(MG_F_REASON, "timeout"),
	};
	const char *why;
	struct sbuf b;
	char want[64];
	size_t i, j;

	(void)state;
	sbuf_init(&b, MG_REC_BODY_MAX);
	for (i = 0; i < sizeof(nf) / sizeof(nf[0]); i++) {
		f[3].id = nf[i];
		for (j = 0; j < sizeof(good) / sizeof(good[0]); j++) {
			f[3].val = good[j].in;
			f[3].len = strlen(good[j].in);
			assert_non_null(body_of(MG_EV_LOGIN_FAILED, f, 4, &b,
			    &why));
			/* The only field of its group: the group ends. */
			snprintf(want, sizeof(want), "%s%s}", key[i],
			    good[j].out);
			assert_non_null(strstr(b.data, want));
		}
		for (j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
			f[3].val = bad[j];
			f[3].len = strlen(bad[j]);
			if (body_of(MG_EV_LOGIN_FAILED, f, 4, &b, &why) != NULL)
				fail_msg("number \"%s\" accepted", bad[j]);
			assert_non_null(why);
		}
	}
	sbuf_clear(&b);
}

/* Key ids are 64 lower-case hex digits, AAGUIDs 8-4-4-4-12 lower-case
 * hex, sources enroll or import; labels are plain text. */
static void
test_key_values(void **state)
{
	static const struct {
		enum mg_field id;
		const char *val;
		bool good;
	} v[] = {
		{ MG_F_KEY_ID, KEY_ID, true },
		{ MG_F_KEY_ID, "0000000000000000000000000000000000000000000000"
		    "000000000000000000", true },
		{ MG_F_KEY_ID, "3F0A9C1E3f0a9c1e3f0a9c1e3f0a9c1e3f0a9c1e3f0a9c"
		    "1e3f0a9c1e3f0a9c1e", false },
		{ MG_F_KEY_ID, "3f0a9c1e3f0a9c1e3f0a9c1e3f0a9c1e3f0a9c1e3f0a9c"
		    "1e3f0a9c1e3f0a9c1", false },
		{ MG_F_KEY_ID, "3f0a9c1e3f0a9c1e3f0a9c1e3f0a9c1e3f0a9c1e3f0a9c"
		    "1e3f0a9c1e3f0a9c1e0", false },
		{ MG_F_KEY_ID, "gf0a9c1e3f0a9c1e3f0a9c1e3f0a9c1e3f0a9c1e3f0a9c"
		    "1e3f0a9c1e3f0a9c1e", false },
		{ MG_F_KEY_ID, "", false },
		{ MG_F_KEY_AAGUID, AAGUID, true },
		{ MG_F_KEY_AAGUID, "00000000-0000-0000-0000-000000000000",
		    true },
		{ MG_F_KEY_AAGUID, "CB69481E-8FF7-4039-93EC-0A2729A154A8",
		    false },
		{ MG_F_KEY_AAGUID, "cb69481e-8ff7-4039-93ec-0a2729a154A8",
		    false },
		{ MG_F_KEY_AAGUID, "cb69481e8ff7403993ec0a2729a154a8", false },
		{ MG_F_KEY_AAGUID, "cb69481e8-ff7-4039-93ec-0a2729a154a8",
		    false },
		{ MG_F_KEY_AAGUID, "cb69481e-8ff7-4039-93ec-0a2729a154a",
		    false },
		{ MG_F_KEY_AAGUID, "cb69481e-8ff7-4039-93ec-0a2729a154a8-",
		    false },
		{ MG_F_KEY_AAGUID, "{cb69481e-8ff7-4039-93ec-0a2729a154a}",
		    false },
		{ MG_F_KEY_AAGUID, "cb69481e-8ff7-4039-93ec_0a2729a154a8",
		    false },
		{ MG_F_KEY_AAGUID, "", false },
		{ MG_F_KEY_SOURCE, "enroll", true },
		{ MG_F_KEY_SOURCE, "import", true },
		{ MG_F_KEY_SOURCE, "Enroll", false },
		{ MG_F_KEY_SOURCE, "usb", false },
		{ MG_F_KEY_SOURCE, "enroll ", false },
		{ MG_F_KEY_SOURCE, "", false },
		{ MG_F_KEY_LABEL, "窓口1 YubiKey", true },
		{ MG_F_KEY_LABEL, "", true },
		{ MG_F_KEY_LABEL, "YubiKey\x1b[2J", false },
		{ MG_F_KEY_LABEL, "a\nb", false },
		{ MG_F_KEY_LABEL, "a\tb", false },
		{ MG_F_KEY_LABEL, "a\x7f", false },
		{ MG_F_KEY_LABEL, "\xff\xfe", false },
		{ MG_F_ACTOR, "root\n", false },
		{ MG_F_KEY_RP, "pam://mynaguard", true },
		{ MG_F_KEY_RP, "pam://\tx", false },
	};
	struct mg_field_val f[3] = {
		FV(MG_F_USER, "yamada"), FV(MG_F_KEY_ID, KEY_ID),
	};
	const char *why;
	struct sbuf b;
	char want[128];
	size_t i, n;

	(void)state;
	sbuf_init(&b, MG_REC_BODY_MAX);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		n = 2;
		if (v[i].id == MG_F_KEY_ID) {
			f[1].val = v[i].val;
			f[1].len = strlen(v[i].val);
		} else {
			f[1].val = KEY_ID;
			f[1].len = 64;
			f[2].id = v[i].id;
			f[2].val = v[i].val;
			f[2].len = strlen(v[i].val);
			n = 3;
		}
		if ((body_of(MG_EV_KEY_ENROLLED, f, n, &b, &why) != NULL) !=
		    v[i].good)
			fail_msg("field %u \"%s\" %s", (unsigned)v[i].id,
			    v[i].val, v[i].good ? "refused" : "accepted");
		if (v[i].good && v[i].id == MG_F_KEY_AAGUID) {
			snprintf(want, sizeof(want), "\"aaguid\":\"%s\"",
			    v[i].val);
			assert_non_null(strstr(b.data, want));
		}
	}
	f[1] = (struct mg_field_val)FV(MG_F_KEY_ID, KEY_ID);
	f[2] = (struct mg_field_val)FV(MG_F_KEY_ID, KEY_ID);
	assert_null(body_of(MG_EV_KEY_REVOKED, f, 3, &b, &why));
	assert_string_equal(why, "field given twice");
	f[1] = (struct mg_field_val)FV(MG_F_KEY_ID, "3F0A9C1E3F0A9C1E3F0A9C1E"
	    "3F0A9C1E3F0A9C1E3F0A9C1E3F0A9C1E3F0A9C1E");
	assert_null(body_of(MG_EV_KEY_REVOKED, f, 2, &b, &why));
	assert_string_equal(why, "key id is not 64 lower-case hex");
	f[1] = (struct mg_field_val)FV(MG_F_KEY_AAGUID,
	    "CB69481E-8FF7-4039-93EC-0A2729A154A8");
	assert_null(body_of(MG_EV_LOGIN_FAILED, f, 2, &b, &why));
	assert_string_equal(why, "aaguid is not 8-4-4-4-12 hex");
	f[1] = (struct mg_field_val)FV(MG_F_KEY_LABEL, "a\x01");
	assert_null(body_of(MG_EV_LOGIN_SUCCEEDED, f, 2, &b, &why));
	assert_string_equal(why, "control character in field");
	sbuf_clear(&b);
}

/* Every login and key type may be submitted (the PAM module and the CLI
 * are root); the decoded submission builds the same body. */
static void
test_ipc_login(void **state)
{
	static const enum mg_event_type sub[] = { MG_EV_LOGIN_SUCCEEDED,
	    MG_EV_LOGIN_FAILED, MG_EV_LOGIN_LOCKED_OUT,
	    MG_EV_LOGIN_BREAK_GLASS, MG_EV_LOGIN_UNLOCKED,
	    MG_EV_KEY_ENROLLED, MG_EV_KEY_REVOKED };
	static const enum mg_event_type own[] = { MG_EV_AGENT_STARTED,
	    MG_EV_AGENT_STOPPED, MG_EV_AGENT_RELOADED, MG_EV_POLICY_LOADED,
	    MG_EV_POLICY_REJECTED, MG_EV_EVENTS_DROPPED,
	    MG_EV_SPOOL_RECOVERED, MG_EV_DEVICE_MOUNTED_RW, MG_EV_COUNT_ };
	struct mg_submit s = { .type = MG_EV_LOGIN_FAILED, .n = 9 }, d;
	const char *why = NULL;
	struct sbuf b, x, y;
	uint8_t raw[14];
	size_t i;

	(void)state;
	s.f[0] = (struct mg_field_val)FV(MG_F_USER, "yamada");
	s.f[1] = (struct mg_field_val)FV(MG_F_LOGIN_SERVICE, "sshd");
	s.f[2] = (struct mg_field_val)FV(MG_F_REASON, "pin-invalid");
	s.f[3] = (struct mg_field_val)FV(MG_F_LOGIN_RHOST, "192.0.2.10");
	s.f[4] = (struct mg_field_val)FV(MG_F_LOGIN_FAILURES, "3");
	s.f[5] = (struct mg_field_val)FV(MG_F_KEY_ID, KEY_ID);
	s.f[6] = (struct mg_field_val)FV(MG_F_KEY_AAGUID, AAGUID);
	s.f[7] = (struct mg_field_val)FV(MG_F_KEY_COUNTER, "12");
	s.f[8] = (struct mg_field_val)FV(MG_F_KEY_LABEL, "窓口1");
	sbuf_init(&b, MG_IPC_MSG_MAX);
	assert_int_equal(mg_ipc_encode_submit(&s, &b), 0);
	assert_int_equal(mg_ipc_decode((uint8_t *)b.data, b.len, &d, &why),
	    MG_IPC_SUBMIT);
	assert_int_equal(d.type, MG_EV_LOGIN_FAILED);
	assert_int_equal(d.n, 9);
	for (i = 0; i < d.n; i++) {
		assert_int_equal(d.f[i].id, s.f[i].id);
		assert_int_equal(d.f[i].len, s.f[i].len);
		assert_memory_equal(d.f[i].val, s.f[i].val, s.f[i].len);
	}
	/* The agent builds the same body from the decoded fields. */
	sbuf_init(&x, MG_REC_BODY_MAX);
	sbuf_init(&y, MG_REC_BODY_MAX);
	assert_int_equal(mg_event_body(s.type, s.f, s.n, &ctx, &x, &why), 0);
	assert_int_equal(mg_event_body(d.type, d.f, d.n, &ctx, &y, &why), 0);
	assert_int_equal(x.len, y.len);
	assert_memory_equal(x.data, y.data, x.len);
	assert_non_null(strstr(y.data, "\"key\":{\"id\":\"" KEY_ID "\","
	    "\"label\":\"窓口1\",\"aaguid\":\"" AAGUID "\",\"counter\":12}"));
	sbuf_clear(&x);
	sbuf_clear(&y);
	sbuf_clear(&b);
	/* Every login and key type encodes and decodes, critical asked or
	 * not. */
	for (i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		struct mg_submit one = { .type = sub[i], .n = 1,
		    .flags = (i & 1) ? MG_REC_F_CRITICAL : 0 };

		one.f[0] = (struct mg_field_val)FV(MG_F_USER, "yamada");
		sbuf_init(&b, MG_IPC_MSG_MAX);
		assert_int_equal(mg_ipc_encode_submit(&one, &b), 0);
		assert_int_equal(mg_ipc_decode((uint8_t *)b.data, b.len, &d,
		    &why), MG_IPC_SUBMIT);
		assert_int_equal(d.type, sub[i]);
		assert_int_equal(d.flags, one.flags);
		sbuf_clear(&b);
	}
	/* The agent's own types stay its own, in both directions. */
	for (i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		struct mg_submit one = { .type = own[i] };

		sbuf_init(&b, MG_IPC_MSG_MAX);
		assert_int_equal(mg_ipc_encode_submit(&one, &b), -EINVAL);
		sbuf_clear(&b);
		/* SUBMIT of that type with no fields, built by hand. */
		memset(raw, 0, sizeof(raw));
		raw[3] = MG_IPC_SUBMIT;
		raw[7] = 6;
		raw[8] = (uint8_t)(own[i] >> 8);
		raw[9] = (uint8_t)own[i];
		assert_int_equal(mg_ipc_decode(raw, sizeof(raw), &d, &why),
		    -EBADMSG);
		assert_string_equal(why, "event type may not be submitted");
	}
}

/* The udev helper's question: a sysfs path and an operation, nothing else. */
static void
test_ipc_device(void **state)
{
	static const char path[] = "/sys/devices/pci0000:00/usb1/1-1";
	struct mg_submit d;
	const char *why = NULL;
	struct sbuf b;

	(void)state;
	sbuf_init(&b, MG_IPC_MSG_MAX);
	assert_int_equal(mg_ipc_encode_device(MG_IPC_DEVICE_USB, path, &b), 0);
	assert_int_equal(mg_ipc_decode((uint8_t *)b.data, b.len, &d, &why),
	    MG_IPC_DEVICE);
	assert_int_equal(d.flags, MG_IPC_DEVICE_USB);
	assert_int_equal(d.f[0].len, strlen(path));
	assert_memory_equal(d.f[0].val, path, strlen(path));
	/* An unknown operation, a NUL inside the path: refused. */
	b.data[11] = 9;
	assert_int_equal(mg_ipc_decode((uint8_t *)b.data, b.len, &d, &why),
	    -EBADMSG);
	assert_string_equal(why, "unknown device operation");
	b.data[11] = MG_IPC_DEVICE_BLOCK;
	b.data[20] = '\0';
	assert_int_equal(mg_ipc_decode((uint8_t *)b.data, b.len, &d, &why),
	    -EBADMSG);
	assert_string_equal(why, "device path must be under /sys");
	sbuf_clear(&b);
	/* Paths outside /sys are not even encoded. */
	assert_int_equal(mg_ipc_encode_device(MG_IPC_DEVICE_USB, "/etc/shadow",
	    &b), -EINVAL);
	assert_int_equal(mg_ipc_encode_device(MG_IPC_DEVICE_USB, "/sys/", &b),
	    -EINVAL);
	sbuf_clear(&b);
}

/* A one-shot fake agent: accepts one submission and answers seq 99. */
static void *
serve_one(void *arg)
{
	int lfd = *(int *)arg, fd;
	static uint8_t buf[MG_IPC_MSG_MAX];
	uint8_t reply[12] = { 0 };
	struct mg_submit s;
	ssize_t n;

	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	n = recv(fd, buf, sizeof(buf), 0);
	if (n > 0 && mg_ipc_decode(buf, (size_t)n, &s, NULL) == MG_IPC_SUBMIT) {
		reply[11] = 99;
		(void)send(fd, reply, sizeof(reply), MSG_NOSIGNAL);
	}
	close(fd);
	return NULL;
}

static void
test_submit_socket_and_drop(void **state)
{
	char d[] = "/tmp/mg-drop-XXXXXX", sock[600];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct mg_submit s = { .type = MG_EV_TEST, .n = 1 };
	pthread_t t;
	uint64_t seq = 0;
	int lfd, files = 0;
	struct dirent *de;
	DIR *dp;

	(void)state;
	s.f[0] = (struct mg_field_val){ MG_F_MESSAGE, "x", 1 };
	assert_non_null(mkdtemp(d));
	snprintf(sock, sizeof(sock), "%s/events.sock", d);
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(pthread_create(&t, NULL, serve_one, &lfd), 0);
	assert_int_equal(mg_submit_event(sock, d, &s, 2000, &seq), 0);
	assert_int_equal(seq, 99);
	pthread_join(t, NULL);
	close(lfd);
	unlink(sock);
	/* No agent: the event is left in the drop directory. */
	assert_int_equal(mg_submit_event(sock, d, &s, 2000, &seq), 1);
	dp = opendir(d);
	assert_non_null(dp);
	while ((de = readdir(dp)) != NULL)
		if (strstr(de->d_name, ".evt") != NULL) {
			files++;
			snprintf(sock, sizeof(sock), "%s/%s", d, de->d_name);
		}
	closedir(dp);
	assert_int_equal(files, 1);
	unlink(sock);
	rmdir(d);
	/* Neither agent nor drop directory: an error, never silence. */
	assert_true(mg_submit_event("/nonexistent/sock", "/nonexistent", &s,
	    100, &seq) < 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_check),
		cmocka_unit_test(test_json_writer),
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_login_failed_body),
		cmocka_unit_test(test_login_types),
		cmocka_unit_test(test_login_fields_allowed),
		cmocka_unit_test(test_login_numbers),
		cmocka_unit_test(test_key_values),
		cmocka_unit_test(test_agent_state),
		cmocka_unit_test(test_ipc_codec),
		cmocka_unit_test(test_ipc_login),
		cmocka_unit_test(test_ipc_device),
		cmocka_unit_test(test_submit_socket_and_drop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
