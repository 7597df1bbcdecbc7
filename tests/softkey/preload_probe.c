/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * preload_probe NDEVS [PIN]: run under LD_PRELOAD=libsoftkey-preload.so.
 * Checks that fido_dev_info_manifest() lists NDEVS devices; then, when
 * NDEVS > 0, enrolls on the first one the way our module does
 * (fido_dev_new_with_info + fido_dev_open_with_info) and logs in the way
 * pam_u2f does (fido_dev_new + fido_dev_open(path)), verifying every
 * result.  With PIN, the login uses it and requires UV.  Exit 0: all good.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fido.h>
#include <fido/es256.h>

#define RP_ID "mynaguard-probe"

static const unsigned char cdh[32] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static const unsigned char user_id[8] = { 'p', 'r', 'o', 'b', 'e' };

static int
check(int r, const char *what)
{
	if (r != FIDO_OK)
		fprintf(stderr, "preload_probe: %s: %s (0x%02x)\n", what,
		    fido_strerr(r), (unsigned)r);
	return r;
}

static int
enroll(const fido_dev_info_t *di, const char *pin, fido_cred_t *cred)
{
	fido_dev_t *dev;
	int r;

	if ((dev = fido_dev_new_with_info(di)) == NULL)
		return FIDO_ERR_INTERNAL;
	if ((r = check(fido_dev_open_with_info(dev), "open_with_info")) == 0 &&
	    (r = check(fido_cred_set_type(cred, COSE_ES256), "type")) == 0 &&
	    (r = check(fido_cred_set_clientdata_hash(cred, cdh, sizeof(cdh)),
		 "cdh")) == 0 &&
	    (r = check(fido_cred_set_rp(cred, RP_ID, "probe"), "rp")) == 0 &&
	    (r = check(fido_cred_set_user(
			   cred, user_id, sizeof(user_id), "probe", NULL, NULL),
		 "user")) == 0 &&
	    (r = check(fido_dev_make_cred(dev, cred, pin), "make_cred")) == 0)
		r = check(fido_cred_verify_self(cred), "verify_self");
	fido_dev_close(dev);
	fido_dev_free(&dev);
	return r;
}

static int
login(const char *path, const char *pin, const fido_cred_t *cred)
{
	fido_dev_t *dev = NULL;
	fido_assert_t *a = NULL;
	es256_pk_t *pk = NULL;
	int r = FIDO_ERR_INTERNAL;

	if ((dev = fido_dev_new()) == NULL || (a = fido_assert_new()) == NULL ||
	    (pk = es256_pk_new()) == NULL)
		goto out;
	if ((r = check(fido_dev_open(dev, path), "open(path)")) != 0 ||
	    (r = check(es256_pk_from_ptr(pk, fido_cred_pubkey_ptr(cred),
			   fido_cred_pubkey_len(cred)),
		 "pubkey")) != 0 ||
	    (r = check(fido_assert_set_clientdata_hash(a, cdh, sizeof(cdh)),
		 "cdh")) != 0 ||
	    (r = check(fido_assert_set_rp(a, RP_ID), "rp")) != 0 ||
	    (r = check(fido_assert_allow_cred(
			   a, fido_cred_id_ptr(cred), fido_cred_id_len(cred)),
		 "allow")) != 0 ||
	    (r = check(fido_assert_set_up(a, FIDO_OPT_TRUE), "up")) != 0 ||
	    (r = check(fido_assert_set_uv(
			   a, pin != NULL ? FIDO_OPT_TRUE : FIDO_OPT_OMIT),
		 "uv")) != 0 ||
	    (r = check(fido_dev_get_assert(dev, a, pin), "get_assert")) != 0)
		goto out;
	r = check(fido_assert_verify(a, 0, COSE_ES256, pk), "verify");
	if (r == 0)
		printf("preload_probe: %s: verified, sigcount %u\n", path,
		    fido_assert_sigcount(a, 0));
out:
	if (dev != NULL)
		fido_dev_close(dev);
	fido_dev_free(&dev);
	fido_assert_free(&a);
	es256_pk_free(&pk);
	return r;
}

int
main(int argc, char **argv)
{
	fido_dev_info_t *list = NULL;
	fido_cred_t *cred = NULL;
	const char *pin = argc > 2 ? argv[2] : NULL;
	size_t n = 0, want;
	char *end;
	int r = FIDO_ERR_INTERNAL;

	if (argc < 2 || argc > 3 ||
	    (want = strtoul(argv[1], &end, 10), *end != '\0')) {
		fprintf(stderr, "usage: preload_probe NDEVS [PIN]\n");
		return 2;
	}
	fido_init(0);
	if ((list = fido_dev_info_new(8)) == NULL ||
	    (cred = fido_cred_new()) == NULL ||
	    check(fido_dev_info_manifest(list, 8, &n), "manifest") != 0)
		goto out;
	if (n != want) {
		fprintf(
		    stderr, "preload_probe: %zu devices, want %zu\n", n, want);
		goto out;
	}
	r = 0;
	if (n > 0 && (r = enroll(fido_dev_info_ptr(list, 0), pin, cred)) == 0)
		r = login(
		    fido_dev_info_path(fido_dev_info_ptr(list, 0)), pin, cred);
out:
	fido_cred_free(&cred);
	fido_dev_info_free(&list, 8);
	return r == 0 ? 0 : 1;
}
