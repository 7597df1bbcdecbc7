/* SPDX-License-Identifier: BSD-2-Clause */
/* Strict JSON, event bodies built from typed fields, and the local
 * submission protocol (socket and drop directory). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
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
		cmocka_unit_test(test_ipc_codec),
		cmocka_unit_test(test_ipc_device),
		cmocka_unit_test(test_submit_socket_and_drop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
