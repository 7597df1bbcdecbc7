/* SPDX-License-Identifier: BSD-2-Clause */
/* Signed checkpoints with the town's real certificates (tools/mkcerts.sh):
 * sign, parse, verify and print, every byte altered, every length cut,
 * every malformed line with its number, the wrong signers, and allocation
 * failure at every step. */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "mynaguard/checkpoint.h"
#include "mynaguard/common.h"
#include "oom.h"
#include "testkeys.h"

/* Now, once the certificates exist: inside their validity. */
static int64_t T0;
/* 2026-11-29T22:00:00Z, for texts that are only parsed. */
#define TFIX INT64_C(1795989600)
/* In the table of malformed texts: the END line, and the line after it. */
#define END_LINE 1000u
#define AFTER_END 1001u

static char dir[] = "/tmp/mg-checkpoint-XXXXXX";
static char path[16][600];
enum { CA, SRV_KEY, SRV_PEM, TERM_KEY, TERM_PEM, POL_KEY, POL_PEM, O_CA,
    O_KEY, O_PEM, SELF_KEY, SELF_PEM, RSA_KEY, RSA_PEM, OTHER_DIR };

static const uint8_t root0[32] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
    0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10, 0x00, 0x11,
    0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
    0xee, 0xff };

/* tools/mkcerts.sh ARGS... quietly (its report goes to /dev/null; an
 * error still reaches stderr), by fork and exec: the shell-out call is
 * banned (STYLE 5.4). */
static int
mkcerts(const char *a, const char *b, const char *c)
{
	const char *src = getenv("MG_SOURCE_DIR");
	char script[512];
	pid_t pid;
	int st = 0, fd;

	if (src == NULL || snprintf(script, sizeof(script),
	    "%s/tools/mkcerts.sh", src) >= (int)sizeof(script))
		return -1;
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
			_exit(127);
		execl(script, script, a, b, c, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void
name(int i, const char *base)
{
	snprintf(path[i], sizeof(path[i]), "%s/%s", dir, base);
}

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	name(CA, "ca.pem");
	name(SRV_KEY, "collector.key");
	name(SRV_PEM, "collector.pem");
	name(TERM_KEY, "pc01.key");
	name(TERM_PEM, "pc01.pem");
	name(POL_KEY, "policy.key");
	name(POL_PEM, "policy.pem");
	name(OTHER_DIR, "other");
	name(O_CA, "other/ca.pem");
	name(O_KEY, "other/collector.key");
	name(O_PEM, "other/collector.pem");
	/* The impostor CA has the town CA's names (mkcerts' defaults). */
	if (mkcerts("ca", dir, NULL) < 0 ||
	    mkcerts("server", dir, "collector") < 0 ||
	    mkcerts("terminal", dir, "pc01") < 0 ||
	    mkcerts("policy-signer", dir, "policy") < 0 ||
	    mkcerts("ca", path[OTHER_DIR], NULL) < 0 ||
	    mkcerts("server", path[OTHER_DIR], "collector") < 0 ||
	    testkeys_make(dir, "self", "collector", path[SELF_KEY],
	    path[SELF_PEM]) < 0 ||
	    testkeys_make_rsa(dir, "rsa", "collector", path[RSA_KEY],
	    path[RSA_PEM]) < 0) {
		fprintf(stderr, "setup: cannot make certificates in %s "
		    "(MG_SOURCE_DIR set?)\n", dir);
		return -1;
	}
	T0 = (int64_t)time(NULL);
	return 0;
}

static int
teardown(void **state)
{
	static const char *const files[] = { "ca.key", "ca.pem",
	    "collector.key", "collector.pem", "pc01.key", "pc01.pem",
	    "policy.key", "policy.pem", "self.key", "self.pem", "rsa.key",
	    "rsa.pem", "other/ca.key", "other/ca.pem", "other/collector.key",
	    "other/collector.pem" };
	char p[700];
	size_t i;

	(void)state;
	for (i = 0; i < MG_ELEMENTSOF(files); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		unlink(p);
	}
	rmdir(path[OTHER_DIR]);
	rmdir(dir);
	return 0;
}

/* t as the checkpoint writes it. */
static void
utc(int64_t t, char out[40])
{
	time_t tt = (time_t)t;
	struct tm tm;

	assert_non_null(gmtime_r(&tt, &tm));
	assert_int_equal(strftime(out, 40, "%Y-%m-%dT%H:%M:%SZ", &tm), 20);
}

static EVP_PKEY *
load_key(const char *p)
{
	FILE *f = fopen(p, "re");
	EVP_PKEY *k;

	assert_non_null(f);
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(k);
	return k;
}

static X509 *
load_cert(const char *p)
{
	FILE *f = fopen(p, "re");
	X509 *x;

	assert_non_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	return x;
}

/* A good checkpoint from the collector's key, at time t. */
static char *
make(int64_t t, size_t *len)
{
	const char *w = NULL;
	char *text = NULL;

	assert_int_equal(mg_checkpoint_sign("town-collector", 12345, root0, t,
	    path[SRV_KEY], path[SRV_PEM], &text, len, &w), 0);
	assert_non_null(text);
	assert_int_equal(strlen(text), *len);
	return text;
}

/* Parse and verify against the town CA: 0 only when both accept. */
static int
check(const char *text, size_t len, const char *ca, const char **w)
{
	struct mg_checkpoint cp;
	unsigned line = 0;
	int r;

	memset(&cp, 0, sizeof(cp));
	*w = NULL;
	if ((r = mg_checkpoint_parse(text, len, &cp, w, &line)) < 0) {
		assert_non_null(*w);
		assert_true(line > 0 || r == -ENOMEM);
		return r;
	}
	r = mg_checkpoint_verify(&cp, ca, NULL, 0, w);
	mg_checkpoint_clear(&cp);
	return r;
}

/* A checkpoint signed by any key with any certificate, written by hand as
 * the format says (what a forger or a confused signer would make). */
static char *
forge(const char *key_path, const char *cert_path, int64_t t, size_t *len)
{
	EVP_PKEY *k = load_key(key_path);
	X509 *x = load_cert(cert_path);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char sig[600], b64[900];
	size_t n = sizeof(sig);
	struct sbuf b;
	BIO *mem = BIO_new(BIO_s_mem());
	char *pem = NULL, *out = NULL, when[40];
	long pn;

	utc(t, when);
	sbuf_init(&b, 1 << 20);
	assert_int_equal(sbuf_printf(&b, "mynaguard checkpoint v1\n"
	    "origin: town-collector\nsize: 7\nroot: %064d\ntime: %s\n", 0,
	    when), 0);
	assert_non_null(ctx);
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k),
	    1);
	assert_int_equal(EVP_DigestSign(ctx, sig, &n,
	    (const unsigned char *)b.data, b.len), 1);
	EVP_EncodeBlock(b64, sig, (int)n);
	assert_int_equal(sbuf_printf(&b, "signature: %s\n", (char *)b64), 0);
	assert_int_equal(PEM_write_bio_X509(mem, x), 1);
	pn = BIO_get_mem_data(mem, &pem);
	assert_int_equal(sbuf_put(&b, pem, (size_t)pn), 0);
	assert_int_equal(sbuf_steal(&b, &out, len), 0);
	BIO_free(mem);
	EVP_MD_CTX_free(ctx);
	X509_free(x);
	EVP_PKEY_free(k);
	return out;
}

static void
test_roundtrip(void **state)
{
	static const char head[] = "mynaguard checkpoint v1\n"
	    "origin: town-collector\nsize: 12345\nroot: 0123456789abcdef"
	    "fedcba98765432100011223344556677""8899aabbccddeeff\ntime: ";
	char when[40];
	struct mg_checkpoint cp, cp2;
	const char *w = NULL;
	char *text, *text2 = NULL, cn[64];
	size_t len, len2 = 0;
	unsigned line = 0;
	EVP_PKEY *k;
	X509 *x;

	(void)state;
	text = make(T0, &len);
	memset(&cp, 0, sizeof(cp));
	assert_int_equal(mg_checkpoint_parse(text, len, &cp, &w, &line), 0);
	assert_string_equal(cp.origin, "town-collector");
	assert_true(cp.size == 12345);
	assert_memory_equal(cp.root, root0, 32);
	assert_true(cp.time == T0);
	assert_int_equal(cp.text_len, len);
	assert_memory_equal(cp.text, text, len);
	assert_true(cp.sig_len >= 8 && cp.sig_len <= 72);
	assert_true(cp.cert_len > 100);
	/* The signature covers exactly the lines up to "time:". */
	assert_memory_equal(text, head, sizeof(head) - 1);
	utc(T0, when);
	assert_memory_equal(text + sizeof(head) - 1, when, 20);
	assert_memory_equal(text + sizeof(head) + 19, "\nsignature: ", 12);
	assert_ptr_equal(text + cp.signed_len, strstr(text, "signature: "));
	memset(cn, 'x', sizeof(cn));
	assert_int_equal(mg_checkpoint_verify(&cp, path[CA], cn, sizeof(cn),
	    &w), 0);
	assert_string_equal(cn, "collector");
	assert_int_equal(mg_checkpoint_verify(&cp, path[CA], NULL, 0, &w), 0);
	/* The CN must fit. */
	assert_int_equal(mg_checkpoint_verify(&cp, path[CA], cn, 9, &w),
	    -ERANGE);
	assert_string_equal(cn, "collector");

	/* The collector's way: a key and certificate kept loaded. */
	k = load_key(path[SRV_KEY]);
	x = load_cert(path[SRV_PEM]);
	assert_int_equal(mg_checkpoint_sign_with("town-collector", 0, root0,
	    0, k, x, &text2, &len2, &w), 0);
	memset(&cp2, 0, sizeof(cp2));
	assert_int_equal(mg_checkpoint_parse(text2, len2, &cp2, &w, &line), 0);
	assert_true(cp2.size == 0 && cp2.time == 0);
	/* 1970: the certificate was not valid yet. */
	assert_int_equal(mg_checkpoint_verify(&cp2, path[CA], NULL, 0, &w),
	    -EKEYREJECTED);
	assert_non_null(strstr(w, "not valid at the checkpoint's time"));
	mg_checkpoint_clear(&cp2);
	mg_checkpoint_clear(&cp2);
	mg_checkpoint_clear(NULL);
	free(text2);
	EVP_PKEY_free(k);
	X509_free(x);
	mg_checkpoint_clear(&cp);
	free(text);
}

static void
test_limits_of_values(void **state)
{
	struct mg_checkpoint cp;
	const char *w = NULL;
	char origin[130], *text = NULL;
	size_t len = 0;
	EVP_PKEY *k;
	X509 *x;

	(void)state;
	k = load_key(path[SRV_KEY]);
	x = load_cert(path[SRV_PEM]);
	memset(origin, '~', 128);
	origin[128] = '\0';
	assert_int_equal(mg_checkpoint_sign_with(origin, UINT64_MAX, root0,
	    INT64_C(253402300799), k, x, &text, &len, &w), 0);
	memset(&cp, 0, sizeof(cp));
	assert_int_equal(mg_checkpoint_parse(text, len, &cp, NULL, NULL), 0);
	assert_true(cp.size == UINT64_MAX);
	assert_true(cp.time == INT64_C(253402300799));
	assert_string_equal(cp.origin, origin);
	mg_checkpoint_clear(&cp);
	free(text);
	text = NULL;

	origin[128] = '~';
	origin[129] = '\0';
	assert_int_equal(mg_checkpoint_sign_with(origin, 1, root0, T0, k, x,
	    &text, &len, &w), -EINVAL);
	assert_int_equal(mg_checkpoint_sign_with("", 1, root0, T0, k, x,
	    &text, &len, &w), -EINVAL);
	assert_int_equal(mg_checkpoint_sign_with("a b", 1, root0, T0, k, x,
	    &text, &len, &w), -EINVAL);
	assert_int_equal(mg_checkpoint_sign_with("a\xc3\xa9", 1, root0, T0, k,
	    x, &text, &len, &w), -EINVAL);
	assert_int_equal(mg_checkpoint_sign_with("a", 1, root0, -1, k, x,
	    &text, &len, &w), -EINVAL);
	assert_int_equal(mg_checkpoint_sign_with("a", 1, root0,
	    INT64_C(253402300800), k, x, &text, &len, &w), -EINVAL);
	assert_int_equal(mg_checkpoint_sign_with(NULL, 1, root0, T0, k, x,
	    &text, &len, &w), -EINVAL);
	assert_int_equal(mg_checkpoint_sign_with("a", 1, NULL, T0, k, x,
	    &text, &len, &w), -EINVAL);
	assert_int_equal(mg_checkpoint_sign_with("a", 1, root0, T0, NULL, x,
	    &text, &len, &w), -EINVAL);
	assert_null(text);
	EVP_PKEY_free(k);
	X509_free(x);
}

/* Every byte of the text changed, two ways: nothing is accepted. */
static void
test_flip_every_byte(void **state)
{
	static const unsigned char masks[] = { 0x01, 0x20, 0x80 };
	const char *w = NULL;
	size_t len, i, m;
	char *text;

	(void)state;
	text = make(T0, &len);
	assert_int_equal(check(text, len, path[CA], &w), 0);
	for (m = 0; m < MG_ELEMENTSOF(masks); m++) {
		for (i = 0; i < len; i++) {
			text[i] = (char)(text[i] ^ masks[m]);
			if (check(text, len, path[CA], &w) == 0)
				fail_msg("byte %zu ^ 0x%02x accepted", i,
				    masks[m]);
			text[i] = (char)(text[i] ^ masks[m]);
		}
	}
	assert_int_equal(check(text, len, path[CA], &w), 0);
	free(text);
}

static void
test_truncated_every_length(void **state)
{
	struct mg_checkpoint cp;
	const char *w;
	size_t len, i;
	unsigned line;
	char *text;

	(void)state;
	text = make(T0, &len);
	memset(&cp, 0, sizeof(cp));
	for (i = 0; i < len; i++) {
		w = NULL;
		line = 0;
		assert_int_equal(mg_checkpoint_parse(text, i, &cp, &w, &line),
		    -EBADMSG);
		assert_non_null(w);
		assert_true(line >= 1 && line <= 30);
		assert_null(cp.text);
	}
	/* The last line without its newline: named as truncated. */
	assert_int_equal(mg_checkpoint_parse(text, len - 1, &cp, &w, &line),
	    -EBADMSG);
	assert_non_null(strstr(w, "newline"));
	free(text);
}

/* Replace the first `from` in text with `to`; a new string. */
static char *
edit(const char *text, const char *from, const char *to)
{
	const char *p = strstr(text, from);
	size_t a, b = strlen(from), c = strlen(to), n = strlen(text);
	char *out;

	assert_non_null(p);
	a = (size_t)(p - text);
	out = malloc(n - b + c + 1);
	assert_non_null(out);
	memcpy(out, text, a);
	memcpy(out + a, to, c);
	memcpy(out + a + c, p + b, n - a - b + 1);
	return out;
}

struct bad_case {
	const char *from, *to;
	unsigned line;
	const char *why;
};

/* Each malformed line is refused with its own line number. */
static void
test_malformed_lines(void **state)
{
	static const struct bad_case cases[] = {
		{ "checkpoint v1", "checkpoint v2", 1, "other than v1" },
		{ "mynaguard checkpoint", "myna checkpoint", 1, "not a myna" },
		{ "v1\n", "v1 \n", 1, "other than v1" },
		{ "mynaguard checkpoint v1", "MYNAGUARD CHECKPOINT V1", 1,
		    "not a mynaguard" },
		{ "\norigin: town-collector", "\n\norigin: town-collector", 2,
		    "\"origin:\" line here" },
		{ "origin: town-collector", "origin: ", 2, "1 to 128" },
		{ "origin: town-collector", "origin: town collector", 2,
		    "space" },
		{ "origin: town-collector", "origin:town-collector", 2,
		    "exactly one space" },
		{ "origin: town-collector", "origin:  town-collector", 2,
		    "space" },
		{ "origin: town-collector", "origin: town\tcollector", 2,
		    "printable" },
		{ "origin: town-collector", "Origin: town-collector", 2,
		    "\"origin:\" line here" },
		{ "origin: town-collector\n", "origin: a\r\n", 2,
		    "carriage return" },
		{ "origin: town-collector\nsize: 12345\n",
		    "size: 12345\norigin: town-collector\n", 2,
		    "\"origin:\" line here" },
		{ "size: 12345", "size: 012345", 3, "leading zeros" },
		{ "size: 12345", "size: -1", 3, "decimal" },
		{ "size: 12345", "size: +1", 3, "decimal" },
		{ "size: 12345", "size:  1", 3, "decimal" },
		{ "size: 12345", "size: 1 ", 3, "decimal" },
		{ "size: 12345", "size: 0x10", 3, "decimal" },
		{ "size: 12345", "size: ", 3, "decimal" },
		{ "size: 12345", "size: 18446744073709551616", 3, "decimal" },
		{ "size: 12345", "size: 99999999999999999999", 3, "decimal" },
		{ "size: 12345", "size: 123456789012345678901", 3, "decimal" },
		{ "size: 12345\n", "size: 12345\nsize: 12345\n", 4,
		    "repeated" },
		{ "size: 12345\n", "size: 12345\norigin: x\n", 4,
		    "repeated" },
		{ "size: 12345\n", "size: 12345\ncomment: hi\n", 4,
		    "\"root:\" line here" },
		{ "size: 12345\n", "size: 12345\n\n", 4, "\"root:\" line" },
		{ "root: 0123456789abcdef", "root: 0123456789ABCDEF", 4,
		    "lower-case" },
		{ "root: 0123456789abcdef", "root: 0123456789abcdeg", 4,
		    "lower-case" },
		{ "root: 0123456789abcdef", "root: 123456789abcdef", 4,
		    "64" },
		{ "root: 0123456789abcdef", "root: 00123456789abcdef", 4,
		    "64" },
		{ "root: ", "time: 2026-11-29T22:00:00Z\nroot: ", 4,
		    "\"root:\" line here" },
		{ "22:00:00Z", "22:00:00z", 5, "UTC" },
		{ "22:00:00Z", "22:00:00+00:00", 5, "UTC" },
		{ "22:00:00Z", "22:00:00.0Z", 5, "UTC" },
		{ "22:00:00Z", "22:00:60Z", 5, "real date" },
		{ "22:00:00Z", "24:00:00Z", 5, "real date" },
		{ "2026-11-29T", "2026-02-29T", 5, "real date" },
		{ "2026-11-29T", "2026-11-31T", 5, "real date" },
		{ "2026-11-29T", "2026-13-01T", 5, "real date" },
		{ "2026-11-29T", "2026-00-01T", 5, "real date" },
		{ "2026-11-29T", "1969-12-31T", 5, "real date" },
		{ "2026-11-29T", "0000-01-01T", 5, "real date" },
		{ "2026-11-29T", "2026-11-29 ", 5, "UTC" },
		{ "2026-11-29T", "2026-1-29T", 5, "UTC" },
		{ "time: ", "time:\t", 5, "printable" },
		{ "time: 2026-11-29T22:00:00Z\n", "", 5,
		    "\"time:\" line here" },
		{ "signature: ", "signature: !", 6, "base64" },
		{ "signature: ", "signature:  ", 6, "base64" },
		{ "signature: ", "signature: AAAA", 6, "base64" },
		{ "signature: ", "sig: ", 6, "\"signature:\" line here" },
		{ "signature: ", "time: 2026-11-29T22:00:00Z\nsignature: ",
		    6, "repeated" },
		{ "-----BEGIN CERTIFICATE-----",
		    "-----BEGIN X509 CERTIFICATE-----", 7, "BEGIN" },
		{ "-----BEGIN CERTIFICATE-----\n",
		    "\n-----BEGIN CERTIFICATE-----\n", 7, "BEGIN" },
		{ "-----BEGIN CERTIFICATE-----\n",
		    "-----BEGIN CERTIFICATE-----\n\n", 8, "64 base64" },
		{ "-----BEGIN CERTIFICATE-----\nMII",
		    "-----BEGIN CERTIFICATE-----\n MII", 8, "64 base64" },
		{ "-----BEGIN CERTIFICATE-----\nMII",
		    "-----BEGIN CERTIFICATE-----\n!II", 8, "not base64" },
		{ "-----BEGIN CERTIFICATE-----\nMII",
		    "-----BEGIN CERTIFICATE-----\nAAAA\nMII", 9,
		    "only the last" },
		{ "-----BEGIN CERTIFICATE-----\nMII",
		    "-----BEGIN CERTIFICATE-----\nAA==\nMII", 9,
		    "only the last" },
		{ "-----BEGIN CERTIFICATE-----\nMII",
		    "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----"
		    "\nMII", 8, "empty" },
		/* The last base64 line is short or padded, or is a full 64:
		 * both messages name certificate lines. */
		{ "-----END CERTIFICATE-----", "-----END  CERTIFICATE-----",
		    END_LINE, "certificate line" },
		{ "-----END CERTIFICATE-----\n",
		    "-----END CERTIFICATE-----\n\n", AFTER_END, "text after" },
		{ "-----END CERTIFICATE-----\n",
		    "-----END CERTIFICATE-----\nx", AFTER_END, "text after" },
		{ "-----END CERTIFICATE-----\n",
		    "-----END CERTIFICATE-----\r\n", END_LINE,
		    "carriage return" },
		{ "-----END CERTIFICATE-----\n",
		    "-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\n",
		    AFTER_END, "text after" },
	};
	const char *w;
	char *text, *bad;
	size_t len, i;
	unsigned line, end_line = 0, want;
	struct mg_checkpoint cp;

	(void)state;
	text = make(TFIX, &len);
	for (i = 0; i < len; i++)
		end_line += text[i] == '\n';
	memset(&cp, 0, sizeof(cp));
	for (i = 0; i < MG_ELEMENTSOF(cases); i++) {
		bad = edit(text, cases[i].from, cases[i].to);
		w = NULL;
		line = 0;
		if (mg_checkpoint_parse(bad, strlen(bad), &cp, &w, &line) !=
		    -EBADMSG)
			fail_msg("case %zu (%s) accepted", i, cases[i].to);
		want = cases[i].line == END_LINE ? end_line :
		    cases[i].line == AFTER_END ? end_line + 1 : cases[i].line;
		if (line != want || strstr(w, cases[i].why) == NULL)
			fail_msg("case %zu: line %u \"%s\"", i, line, w);
		assert_null(cp.text);
		free(bad);
	}
	free(text);
}

/* Bytes that are not text, wherever they are. */
static void
test_bytes(void **state)
{
	struct mg_checkpoint cp;
	const char *w = NULL;
	unsigned line = 0;
	size_t len;
	char *text;

	(void)state;
	text = make(T0, &len);
	memset(&cp, 0, sizeof(cp));
	text[30] = '\0';	/* in the origin */
	assert_int_equal(mg_checkpoint_parse(text, len, &cp, &w, &line),
	    -EBADMSG);
	assert_int_equal(line, 2);
	assert_non_null(strstr(w, "printable"));
	text[30] = (char)0xe3;
	assert_int_equal(mg_checkpoint_parse(text, len, &cp, &w, &line),
	    -EBADMSG);
	assert_int_equal(line, 2);
	text[30] = 0x7f;
	assert_int_equal(mg_checkpoint_parse(text, len, &cp, &w, &line),
	    -EBADMSG);
	assert_int_equal(line, 2);
	assert_int_equal(mg_checkpoint_parse(NULL, 0, &cp, &w, &line),
	    -EINVAL);
	assert_int_equal(mg_checkpoint_parse(text, len, NULL, &w, &line),
	    -EINVAL);
	assert_int_equal(mg_checkpoint_parse("", 0, &cp, &w, &line), -EBADMSG);
	assert_int_equal(line, 1);
	free(text);
}

/* Over 16 KiB: refused, naming the line that crosses the limit. */
static void
test_oversize(void **state)
{
	struct mg_checkpoint cp;
	const char *w = NULL;
	unsigned line = 0, lines = 0;
	size_t len, i;
	char *text, *big;

	(void)state;
	text = make(T0, &len);
	for (i = 0; i < len; i++)
		lines += text[i] == '\n';
	big = malloc(MG_CHECKPOINT_MAX + 2);
	assert_non_null(big);
	memset(big, 'A', MG_CHECKPOINT_MAX + 1);
	memcpy(big, text, len);
	memset(&cp, 0, sizeof(cp));
	assert_int_equal(mg_checkpoint_parse(big, MG_CHECKPOINT_MAX + 1, &cp,
	    &w, &line), -EBADMSG);
	assert_int_equal(line, lines + 1);
	assert_non_null(strstr(w, "16384"));
	/* Exactly at the limit it is read, and refused for its content. */
	assert_int_equal(mg_checkpoint_parse(big, MG_CHECKPOINT_MAX, &cp, &w,
	    &line), -EBADMSG);
	assert_int_equal(line, lines + 1);
	assert_non_null(strstr(w, "text after"));
	free(big);
	free(text);
}

/* text with its signature line's value replaced by sig. */
static char *
with_signature(const char *text, const char *sig)
{
	const char *p = strstr(text, "signature: "), *nl;
	struct sbuf b;
	char *out = NULL;

	assert_non_null(p);
	nl = strchr(p, '\n');
	sbuf_init(&b, 1 << 20);
	assert_int_equal(sbuf_put(&b, text, (size_t)(p - text) + 11), 0);
	assert_int_equal(sbuf_puts(&b, sig), 0);
	assert_int_equal(sbuf_puts(&b, nl), 0);
	assert_int_equal(sbuf_steal(&b, &out, NULL), 0);
	return out;
}

/* Base64 has one spelling: the bits a padded group leaves unused are
 * zero, so a signature line cannot be reworded. */
static void
test_signature_spelling(void **state)
{
	static const struct {
		const char *tail;
		int r;
	} cases[] = {
		{ "AA==", 0 }, { "AB==", -EBADMSG }, { "AP==", -EBADMSG },
		{ "AQ==", 0 }, { "AAE=", 0 }, { "AAB=", -EBADMSG },
		{ "AAD=", -EBADMSG }, { "AAAA", 0 }, { "A===", -EBADMSG },
		{ "====", -EBADMSG }, { "A=AA", -EBADMSG }, { "AAA", -EBADMSG },
	};
	struct mg_checkpoint cp;
	const char *w = NULL;
	char sig[200], *text, *bad;
	unsigned line = 0;
	size_t len, i;
	int r;

	(void)state;
	text = make(T0, &len);
	memset(&cp, 0, sizeof(cp));
	for (i = 0; i < MG_ELEMENTSOF(cases); i++) {
		/* 69 bytes of zeros and then the tail's. */
		memset(sig, 'A', 92);
		snprintf(sig + 92, sizeof(sig) - 92, "%s", cases[i].tail);
		bad = with_signature(text, sig);
		r = mg_checkpoint_parse(bad, strlen(bad), &cp, &w, &line);
		if (r != cases[i].r || (r < 0 && line != 6))
			fail_msg("signature tail %s: %d line %u", cases[i].tail,
			    r, line);
		mg_checkpoint_clear(&cp);
		free(bad);
	}
	/* Too long for a P-256 signature, too short for any. */
	memset(sig, 'A', 100);
	sig[100] = '\0';
	bad = with_signature(text, sig);
	assert_int_equal(mg_checkpoint_parse(bad, strlen(bad), &cp, &w,
	    &line), -EBADMSG);
	free(bad);
	bad = with_signature(text, "AAAAAAAA");
	assert_int_equal(mg_checkpoint_parse(bad, strlen(bad), &cp, &w,
	    &line), -EBADMSG);
	assert_int_equal(line, 6);
	free(bad);
	free(text);
}

/* Trust comes from the town CA, for a TLS server, and nothing else. */
static void
test_signers(void **state)
{
	const char *w = NULL;
	char *text;
	size_t len;

	(void)state;
	/* The forger itself is right: the collector's own key passes. */
	text = forge(path[SRV_KEY], path[SRV_PEM], T0, &len);
	assert_int_equal(check(text, len, path[CA], &w), 0);
	/* The town's checkpoint against another CA file. */
	assert_int_equal(check(text, len, path[O_CA], &w), -EKEYREJECTED);
	assert_non_null(strstr(w, "not issued by the given CA"));
	free(text);
	/* A collector certificate of an impostor CA with the same names. */
	text = forge(path[O_KEY], path[O_PEM], T0, &len);
	assert_int_equal(check(text, len, path[CA], &w), -EKEYREJECTED);
	assert_non_null(strstr(w, "not issued by the given CA"));
	assert_int_equal(check(text, len, path[O_CA], &w), 0);
	free(text);
	/* A terminal's certificate (clientAuth only), from the town CA. */
	text = forge(path[TERM_KEY], path[TERM_PEM], T0, &len);
	assert_int_equal(check(text, len, path[CA], &w), -EKEYREJECTED);
	assert_non_null(strstr(w, "not a TLS server certificate"));
	free(text);
	/* The policy-signing certificate (codeSigning only). */
	text = forge(path[POL_KEY], path[POL_PEM], T0, &len);
	assert_int_equal(check(text, len, path[CA], &w), -EKEYREJECTED);
	assert_non_null(strstr(w, "not a TLS server certificate"));
	free(text);
	/* Self-signed, no extensions, same CN. */
	text = forge(path[SELF_KEY], path[SELF_PEM], T0, &len);
	assert_int_equal(check(text, len, path[CA], &w), -EKEYREJECTED);
	assert_non_null(strstr(w, "not issued by the given CA"));
	free(text);
	/* RSA: its signature does not even fit the format. */
	text = forge(path[RSA_KEY], path[RSA_PEM], T0, &len);
	assert_int_equal(check(text, len, path[CA], &w), -EBADMSG);
	free(text);
	/* The right key, outside its certificate's validity. */
	text = forge(path[SRV_KEY], path[SRV_PEM], INT64_C(4102444800), &len);
	assert_int_equal(check(text, len, path[CA], &w), -EKEYREJECTED);
	assert_non_null(strstr(w, "not valid at the checkpoint's time"));
	free(text);
	/* Signed by the terminal's key under the collector's certificate. */
	text = forge(path[TERM_KEY], path[SRV_PEM], T0, &len);
	assert_int_equal(check(text, len, path[CA], &w), -EKEYREJECTED);
	assert_non_null(strstr(w, "signature does not verify"));
	free(text);
}

static void
test_sign_refusals(void **state)
{
	const char *w = NULL;
	char *text = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(mg_checkpoint_sign("c", 1, root0, T0, path[TERM_KEY],
	    path[SRV_PEM], &text, &len, &w), -EKEYREJECTED);
	assert_non_null(strstr(w, "not the certificate's"));
	assert_int_equal(mg_checkpoint_sign("c", 1, root0, T0, path[TERM_KEY],
	    path[TERM_PEM], &text, &len, &w), -EKEYREJECTED);
	assert_non_null(strstr(w, "not a TLS server certificate"));
	assert_int_equal(mg_checkpoint_sign("c", 1, root0, T0, path[POL_KEY],
	    path[POL_PEM], &text, &len, &w), -EKEYREJECTED);
	assert_int_equal(mg_checkpoint_sign("c", 1, root0, T0, path[RSA_KEY],
	    path[RSA_PEM], &text, &len, &w), -EKEYREJECTED);
	assert_non_null(strstr(w, "P-256"));
	assert_int_equal(mg_checkpoint_sign("c", 1, root0, T0, path[SRV_PEM],
	    path[SRV_PEM], &text, &len, &w), -EKEYREJECTED);
	assert_non_null(strstr(w, "private key"));
	assert_int_equal(mg_checkpoint_sign("c", 1, root0, T0, path[SRV_KEY],
	    path[SRV_KEY], &text, &len, &w), -EKEYREJECTED);
	assert_non_null(strstr(w, "no PEM certificate"));
	assert_int_equal(mg_checkpoint_sign("c", 1, root0, T0, "/nonexistent",
	    path[SRV_PEM], &text, &len, &w), -ENOENT);
	assert_non_null(strstr(w, "key file"));
	assert_int_equal(mg_checkpoint_sign("c", 1, root0, T0, path[SRV_KEY],
	    "/nonexistent", &text, &len, &w), -ENOENT);
	assert_non_null(strstr(w, "certificate file"));
	assert_int_equal(mg_checkpoint_sign("c", 1, root0, T0, NULL,
	    path[SRV_PEM], &text, &len, &w), -EINVAL);
	assert_null(text);
}

static void
test_verify_arguments(void **state)
{
	struct mg_checkpoint cp;
	const char *w = NULL;
	char *text, cn[64];
	size_t len;

	(void)state;
	text = make(T0, &len);
	memset(&cp, 0, sizeof(cp));
	assert_int_equal(mg_checkpoint_parse(text, len, &cp, NULL, NULL), 0);
	assert_int_equal(mg_checkpoint_verify(&cp, "/nonexistent", cn,
	    sizeof(cn), &w), -ENOENT);
	assert_non_null(strstr(w, "CA certificate file"));
	/* A file without a certificate in it. */
	assert_int_equal(mg_checkpoint_verify(&cp, path[SRV_KEY], cn,
	    sizeof(cn), &w), -EINVAL);
	assert_int_equal(mg_checkpoint_verify(NULL, path[CA], cn, sizeof(cn),
	    &w), -EINVAL);
	assert_int_equal(mg_checkpoint_verify(&cp, NULL, cn, sizeof(cn), &w),
	    -EINVAL);
	assert_int_equal(mg_checkpoint_verify(&cp, path[CA], cn, 0, &w),
	    -EINVAL);
	/* Fields edited after parsing no longer match the signed text. */
	cp.size++;
	assert_int_equal(mg_checkpoint_verify(&cp, path[CA], cn, sizeof(cn),
	    &w), -EBADMSG);
	cp.size--;
	cp.root[31] ^= 1;
	assert_int_equal(mg_checkpoint_verify(&cp, path[CA], cn, sizeof(cn),
	    &w), -EBADMSG);
	cp.root[31] ^= 1;
	cp.time++;
	assert_int_equal(mg_checkpoint_verify(&cp, path[CA], cn, sizeof(cn),
	    &w), -EBADMSG);
	cp.time--;
	assert_int_equal(mg_checkpoint_verify(&cp, path[CA], cn, sizeof(cn),
	    &w), 0);
	mg_checkpoint_clear(&cp);
	assert_int_equal(mg_checkpoint_verify(&cp, path[CA], cn, sizeof(cn),
	    &w), -EBADMSG);
	free(text);
}

/* The fingerprint as openssl x509 -fingerprint -sha256 shows it. */
static void
fingerprint(const char *cert_path, char out[96])
{
	X509 *x = load_cert(cert_path);
	unsigned char md[32];
	unsigned n = 0, i;

	assert_int_equal(X509_digest(x, EVP_sha256(), md, &n), 1);
	for (i = 0; i < 32; i++)
		snprintf(out + 3 * i, 4, "%02X%s", md[i], i < 31 ? ":" : "");
	X509_free(x);
}

static void
test_print(void **state)
{
	struct mg_checkpoint cp;
	char *text, *page = NULL, fp[96], want[200], *sig, *nl, when[40];
	size_t len, plen = 0;
	FILE *f;

	(void)state;
	text = make(T0, &len);
	memset(&cp, 0, sizeof(cp));
	assert_int_equal(mg_checkpoint_parse(text, len, &cp, NULL, NULL), 0);
	f = open_memstream(&page, &plen);
	assert_non_null(f);
	assert_int_equal(mg_checkpoint_print(&cp, f), 0);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(page, "(origin):          town-collector\n"));
	assert_non_null(strstr(page, "(size):            12345\n"));
	assert_non_null(strstr(page, "    01234567 89abcdef fedcba98 76543210"
	    "\n    00112233 44556677 8899aabb ccddeeff\n"));
	utc(T0, when);
	assert_non_null(strstr(page, when));
	assert_non_null(strstr(page, "(signer CN):       collector\n"));
	fingerprint(path[SRV_PEM], fp);
	snprintf(want, sizeof(want), "    %.48s\n    %.47s\n", fp, fp + 48);
	assert_non_null(strstr(page, want));
	/* The signature's base64, in pieces of 48, as in the text. */
	sig = strstr(text, "signature: ") + 11;
	nl = strchr(sig, '\n');
	snprintf(want, sizeof(want), "    %.48s\n    %.*s\n", sig,
	    (int)(nl - sig - 48), sig + 48);
	assert_non_null(strstr(page, want));
	/* The certificate block, character for character. */
	assert_non_null(strstr(page, strstr(text, "-----BEGIN")));
	free(page);
	page = NULL;
	assert_int_equal(mg_checkpoint_print(NULL, stdout), -EINVAL);
	mg_checkpoint_clear(&cp);
	assert_int_equal(mg_checkpoint_print(&cp, stdout), -EINVAL);
	free(text);
}

/* Every allocation made by each entry point fails once, in turn. */
static void
test_oom(void **state)
{
	struct mg_checkpoint cp;
	const char *w = NULL;
	char *text = NULL, *page = NULL, cn[64];
	size_t len = 0, n, plen = 0;
	FILE *f;
	int r, hit;

	(void)state;
	for (n = 1;; n++) {
		oom_fail_at(n);
		r = mg_checkpoint_sign("town-collector", 3, root0, T0,
		    path[SRV_KEY], path[SRV_PEM], &text, &len, &w);
		hit = oom_triggered();	/* oom_fail_at() resets it */
		oom_fail_at(0);
		if (!hit) {
			assert_int_equal(r, 0);
			assert_true(n > 1);	/* it does allocate */
			break;
		}
		assert_true(r == -ENOMEM || (r == 0 && text != NULL));
		if (r == 0) {
			free(text);
			text = NULL;
		} else {
			assert_null(text);
		}
		assert_true(n < 10000);
	}
	memset(&cp, 0, sizeof(cp));
	for (n = 1;; n++) {
		oom_fail_at(n);
		r = mg_checkpoint_parse(text, len, &cp, &w, NULL);
		hit = oom_triggered();	/* oom_fail_at() resets it */
		oom_fail_at(0);
		if (!hit) {
			assert_int_equal(r, 0);
			assert_true(n > 1);	/* it does allocate */
			break;
		}
		assert_int_equal(r, -ENOMEM);
		assert_string_equal(w, "out of memory");
		assert_null(cp.text);
	}
	for (n = 1;; n++) {
		oom_fail_at(n);
		r = mg_checkpoint_verify(&cp, path[CA], cn, sizeof(cn), &w);
		hit = oom_triggered();	/* oom_fail_at() resets it */
		oom_fail_at(0);
		if (!hit) {
			assert_int_equal(r, 0);
			assert_true(n > 1);	/* it does allocate */
			break;
		}
		assert_int_equal(r, -ENOMEM);
	}
	f = open_memstream(&page, &plen);
	assert_non_null(f);
	for (n = 1;; n++) {
		oom_fail_at(n);
		r = mg_checkpoint_print(&cp, f);
		hit = oom_triggered();	/* oom_fail_at() resets it */
		oom_fail_at(0);
		if (!hit) {
			assert_int_equal(r, 0);
			assert_true(n > 1);	/* it does allocate */
			break;
		}
		assert_int_equal(r, -ENOMEM);
	}
	fclose(f);
	free(page);
	mg_checkpoint_clear(&cp);
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_limits_of_values),
		cmocka_unit_test(test_flip_every_byte),
		cmocka_unit_test(test_truncated_every_length),
		cmocka_unit_test(test_malformed_lines),
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_signature_spelling),
		cmocka_unit_test(test_signers),
		cmocka_unit_test(test_sign_refusals),
		cmocka_unit_test(test_verify_arguments),
		cmocka_unit_test(test_print),
		cmocka_unit_test(test_oom),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
