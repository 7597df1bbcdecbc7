/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * skctl: make and adjust softkey state files (tests only).
 *
 *   skctl init STATE [--pin PIN] [--aaguid HEX32] [--force]
 *   skctl set STATE KEY=VALUE...
 *   skctl get STATE KEY
 *
 * `set` checks every KEY=VALUE before it changes anything.  Secrets (the
 * master secret, the PIN hash) can be neither set nor printed.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mynaguard/common.h>

#include "softkey.h"

static void
usage(void)
{
	fprintf(stderr,
	    "usage: skctl init STATE [--pin PIN] [--aaguid HEX32] [--force]\n"
	    "       skctl set STATE KEY=VALUE...\n"
	    "       skctl get STATE KEY\n"
	    "keys: counter counter_set retries aaguid pin (set only) pin_set "
	    "(get only)\n"
	    "      no_touch touch_delay_ms drop_up drop_uv bad_sig bad_rpid\n"
	    "      counter_freeze remove_after pin_proto2 basic_attestation\n");
}

static int
fail(const char *what, const char *where, int r)
{
	fprintf(stderr, "skctl: %s: %s: %s\n", where, what, strerror(-r));
	return EXIT_FAILURE;
}

static int
parse_aaguid(const char *s, uint8_t out[SOFTKEY_AAGUID_LEN])
{
	int hi, lo;

	if (strlen(s) != 2 * SOFTKEY_AAGUID_LEN)
		return -EINVAL;
	for (size_t i = 0; i < SOFTKEY_AAGUID_LEN; i++) {
		if ((hi = parse_hexdigit(s[2 * i])) < 0 ||
		    (lo = parse_hexdigit(s[2 * i + 1])) < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int
cmd_init(const char *path, int argc, char **argv)
{
	struct softkey *sk = NULL;
	uint8_t aaguid[SOFTKEY_AAGUID_LEN];
	const char *pin = NULL, *hex = NULL;
	bool force = false;
	int r, ret = EXIT_FAILURE;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0)
			force = true;
		else if (strcmp(argv[i], "--pin") == 0 && i + 1 < argc)
			pin = argv[++i];
		else if (strcmp(argv[i], "--aaguid") == 0 && i + 1 < argc)
			hex = argv[++i];
		else {
			fprintf(stderr, "skctl: init: bad argument '%s'\n",
			    argv[i]);
			usage();
			return EXIT_FAILURE;
		}
	}
	if (hex != NULL && parse_aaguid(hex, aaguid) < 0) {
		fprintf(stderr,
		    "skctl: init: --aaguid wants 32 hex digits, "
		    "got '%s'\n",
		    hex);
		return EXIT_FAILURE;
	}
	if (!force && access(path, F_OK) == 0)
		return fail(
		    "exists (use --force to replace it)", path, -EEXIST);
	if ((r = softkey_new(&sk)) < 0)
		return fail("cannot make a key", path, r);
	if (hex != NULL && (r = softkey_set_aaguid(sk, aaguid)) < 0) {
		ret = fail("--aaguid", path, r);
		goto out;
	}
	if (pin != NULL && (r = softkey_set_pin(sk, pin)) < 0) {
		fprintf(stderr,
		    "skctl: init: %s: --pin: %s (at least 4 characters of "
		    "UTF-8, at most 63 bytes)\n",
		    path, strerror(-r));
		goto out;
	}
	if ((r = softkey_save(sk, path)) < 0) {
		ret = fail("cannot write", path, r);
		goto out;
	}
	ret = EXIT_SUCCESS;
out:
	softkey_free(sk);
	return ret;
}

static int
explain_kv(const char *path, const char *arg, const char *key, int r)
{
	if (r == -ENOENT)
		fprintf(stderr, "skctl: %s: unknown key '%s'\n", path, key);
	else if (r == -EPERM)
		fprintf(stderr, "skctl: %s: '%s' cannot be set from outside\n",
		    path, key);
	else if (r == -EINVAL)
		fprintf(stderr, "skctl: %s: bad value in '%s'\n", path,
		    strcmp(key, "pin") == 0 ? "pin=..." : arg);
	else
		fprintf(stderr, "skctl: %s: %s: %s\n", path, key, strerror(-r));
	return EXIT_FAILURE;
}

/* Apply every KEY=VALUE to sk; stops at the first failure. */
static int
apply_all(struct softkey *sk, const char *path, int argc, char **argv)
{
	char key[64];
	const char *eq;
	int r;

	for (int i = 0; i < argc; i++) {
		eq = strchr(argv[i], '=');
		if (eq == NULL || eq == argv[i] ||
		    (size_t)(eq - argv[i]) >= sizeof(key)) {
			fprintf(stderr, "skctl: %s: want KEY=VALUE, got '%s'\n",
			    path, argv[i]);
			return EXIT_FAILURE;
		}
		memcpy(key, argv[i], (size_t)(eq - argv[i]));
		key[eq - argv[i]] = '\0';
		if ((r = softkey_set_kv(sk, key, eq + 1)) < 0)
			return explain_kv(path, argv[i], key, r);
	}
	return EXIT_SUCCESS;
}

static int
cmd_set(const char *path, int argc, char **argv)
{
	struct softkey *sk = NULL, *scratch = NULL;
	unsigned line = 0;
	int r, ret = EXIT_FAILURE;

	if (argc == 0) {
		usage();
		return EXIT_FAILURE;
	}
	/* check everything on a throw-away key first */
	if ((r = softkey_new(&scratch)) < 0)
		return fail("cannot make a key", path, r);
	if (apply_all(scratch, path, argc, argv) != EXIT_SUCCESS)
		goto out;
	if ((r = softkey_load(path, &sk, &line)) < 0) {
		if (r == -EBADMSG)
			fprintf(stderr, "skctl: %s:%u: malformed state file\n",
			    path, line);
		else
			fail("cannot read", path, r);
		goto out;
	}
	ret = apply_all(sk, path, argc, argv);
out:
	softkey_free(scratch);
	softkey_free(sk);
	return ret;
}

static int
cmd_get(const char *path, const char *key)
{
	struct softkey *sk = NULL;
	char buf[128];
	unsigned line = 0;
	int r;

	if ((r = softkey_load(path, &sk, &line)) < 0) {
		if (r == -EBADMSG) {
			fprintf(stderr, "skctl: %s:%u: malformed state file\n",
			    path, line);
			return EXIT_FAILURE;
		}
		return fail("cannot read", path, r);
	}
	r = softkey_get_kv(sk, key, buf, sizeof(buf));
	softkey_free(sk);
	if (r == -ENOENT || r == -EPERM) {
		fprintf(stderr, "skctl: %s: %s key '%s'\n", path,
		    r == -EPERM ? "will not print secret" : "unknown", key);
		return EXIT_FAILURE;
	}
	if (r < 0)
		return fail(key, path, r);
	printf("%s\n", buf);
	return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int
main(int argc, char **argv)
{
	if (argc < 3) {
		usage();
		return EXIT_FAILURE;
	}
	if (strcmp(argv[1], "init") == 0)
		return cmd_init(argv[2], argc - 3, argv + 3);
	if (strcmp(argv[1], "set") == 0)
		return cmd_set(argv[2], argc - 3, argv + 3);
	if (strcmp(argv[1], "get") == 0 && argc == 4)
		return cmd_get(argv[2], argv[3]);
	fprintf(stderr, "skctl: unknown command or wrong arguments: '%s'\n",
	    argv[1]);
	usage();
	return EXIT_FAILURE;
}
