/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mg_bundle_sign(): check what goes in, write the text, sign it with the
 * offline policy-signing key, and parse the result back before handing it
 * out.  A policy that the checker refuses is never signed.
 */
#include <errno.h>
#include <inttypes.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mynaguard/common.h"
#include "mynaguard/policy.h"
#include "internal.h"

#define CERT_FILE_MAX 65536u
#define KEY_FILE_MAX 65536u

/* The first error of the policy checker, as "policy line L:C: ...". */
static int
check_policy(const char *text, size_t len, struct mg_bundle_error *e)
{
	struct pol_diags *d = calloc(1, sizeof(*d));
	struct pol_policy *p = NULL;
	int r;

	if (d == NULL)
		return bundle_fail(e, 0, -ENOMEM, "out of memory");
	r = pol_policy_parse(text, len, d, &p);
	pol_policy_free(p);
	if (r == -ENOMEM)
		bundle_fail(e, 0, r, "out of memory");
	else if (r < 0 && d->n > 0)
		r = bundle_fail(e, 0, -EINVAL, "policy line %u:%u: %s "
		    "(%zu errors in all)", d->d[0].line, d->d[0].col,
		    d->d[0].msg, d->n_total);
	else if (r < 0)
		r = bundle_fail(e, 0, -EINVAL, "the policy is invalid");
	free(d);
	return r;
}

static int
check_in(const struct mg_bundle_in *in, char created[21],
    struct mg_bundle_error *e)
{
	size_t off = 0;

	if (!mg_bundle_group_valid(in->group))
		return bundle_fail(e, 0, -EINVAL, "group must be 1 to %d "
		    "characters of a-z 0-9 . _ -, starting with a letter or "
		    "digit", MG_BUNDLE_GROUP_MAX);
	if (in->version < 1 || in->version > MG_BUNDLE_VERSION_MAX)
		return bundle_fail(e, 0, -EINVAL, "version must be a number "
		    "from 1 to %lld", (long long)MG_BUNDLE_VERSION_MAX);
	if (mg_bundle_time_format(in->created, created) < 0)
		return bundle_fail(e, 0, -EINVAL, "the creation time is out "
		    "of range");
	if (in->policy == NULL || in->policy_len > MG_BUNDLE_POLICY_MAX)
		return bundle_fail(e, 0, -EINVAL, "the policy is missing or "
		    "larger than %u bytes", MG_BUNDLE_POLICY_MAX);
	if (in->credentials != NULL &&
	    in->credentials_len > MG_BUNDLE_CREDENTIALS_MAX)
		return bundle_fail(e, 0, -EINVAL, "the credentials are larger "
		    "than %u bytes", MG_BUNDLE_CREDENTIALS_MAX);
	if (!bundle_text_ok(in->policy, in->policy_len, &off))
		return bundle_fail(e, 0, -EINVAL, "policy byte %zu is not "
		    "UTF-8 text (or is NUL)", off + 1);
	if (in->credentials != NULL &&
	    !bundle_text_ok(in->credentials, in->credentials_len, &off))
		return bundle_fail(e, 0, -EINVAL, "credentials byte %zu is "
		    "not UTF-8 text (or is NUL)", off + 1);
	return check_policy(in->policy, in->policy_len, e);
}

/* The key and its certificate, matching and fit for signing policies. */
static int
load_signer(const char *key_path, const char *cert_path, EVP_PKEY **ret_key,
    char hash[65], struct mg_bundle_error *e)
{
	char *pem = NULL, *kpem = NULL;
	size_t len = 0, klen = 0;
	EVP_PKEY *k = NULL;
	BIO *bio = NULL;
	X509 *x = NULL;
	int r;

	if ((r = file_read_all(cert_path, CERT_FILE_MAX, 0, &pem, &len)) < 0) {
		bundle_fail(e, 0, r, "%s: %s", cert_path, strerror(-r));
		goto out;
	}
	if ((r = mg_bundle_cert_check(pem, len, hash, e)) < 0) {
		r = r == -ENOMEM ? r : -EKEYREJECTED;
		goto out;
	}
	r = file_read_all(key_path, KEY_FILE_MAX, FILE_SECRET, &kpem, &klen);
	if (r < 0) {
		bundle_fail(e, 0, r, "%s: %s", key_path, strerror(-r));
		goto out;
	}
	bio = BIO_new_mem_buf(pem, (int)len);
	x = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	bio = BIO_new_mem_buf(kpem, (int)klen);
	k = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) :
	    NULL;
	ERR_clear_error();
	if (x == NULL || k == NULL || X509_check_private_key(x, k) != 1) {
		ERR_clear_error();
		r = bundle_fail(e, 0, -EKEYREJECTED, "%s is not the private "
		    "key of %s", key_path, cert_path);
		goto out;
	}
	*ret_key = k;
	k = NULL;
	r = 0;
out:
	BIO_free(bio);
	EVP_PKEY_free(k);
	X509_free(x);
	if (kpem != NULL)
		explicit_bzero(kpem, klen);
	free(kpem);
	free(pem);
	return r;
}

static int
put_part(struct sbuf *b, const char *name, const char *data, size_t len)
{
	char sha[65];
	int r;

	if ((r = bundle_sha256_hex(data, len, sha)) < 0)
		return r;
	if ((r = sbuf_printf(b, "part %s %zu %s\n", name, len, sha)) < 0 ||
	    (r = sbuf_put(b, data, len)) < 0)
		return r;
	return sbuf_putc(b, '\n');
}

static int
put_signature(struct sbuf *b, EVP_PKEY *k)
{
	unsigned char sig[MG_BUNDLE_SIG_MAX];
	char b64[BUNDLE_SIG_B64_MAX + 1];
	size_t n = sizeof(sig);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int r = -EIO;

	if (ctx == NULL)
		return -ENOMEM;
	if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k) == 1 &&
	    EVP_DigestSign(ctx, sig, &n, (const unsigned char *)b->data,
	    b->len) == 1 && n <= sizeof(sig))
		r = 0;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	if (r < 0)
		return r;
	bundle_b64_encode(sig, n, b64);
	return sbuf_printf(b, "signature %s\n", b64);
}

static int
write_bundle(const struct mg_bundle_in *in, const char *created,
    const char *signer, EVP_PKEY *k, struct sbuf *b)
{
	int r;

	if ((r = sbuf_printf(b, "%s\ngroup %s\nversion %" PRIu64 "\n"
	    "created %s\nsigner %s\n", MG_BUNDLE_MAGIC, in->group,
	    in->version, created, signer)) < 0 ||
	    (r = put_part(b, "policy", in->policy, in->policy_len)) < 0)
		return r;
	if (in->credentials != NULL && (r = put_part(b, "credentials",
	    in->credentials, in->credentials_len)) < 0)
		return r;
	return put_signature(b, k);
}

int
mg_bundle_sign(const struct mg_bundle_in *in, const char *key_path,
    const char *cert_path, char **out, size_t *out_len,
    struct mg_bundle_error *e)
{
	struct mg_bundle check;
	struct sbuf b;
	EVP_PKEY *k = NULL;
	char created[21], signer[65];
	int r;

	sbuf_init(&b, MG_BUNDLE_MAX);
	if (in == NULL || key_path == NULL || cert_path == NULL ||
	    out == NULL || out_len == NULL)
		return bundle_fail(e, 0, -EINVAL, "missing argument");
	if ((r = check_in(in, created, e)) < 0 ||
	    (r = load_signer(key_path, cert_path, &k, signer, e)) < 0)
		goto out;
	if ((r = write_bundle(in, created, signer, k, &b)) < 0) {
		if (r == -E2BIG)
			bundle_fail(e, 0, r, "the bundle would be larger than "
			    "%u bytes", MG_BUNDLE_MAX);
		else
			bundle_fail(e, 0, r, "cannot build the bundle: %s",
			    strerror(-r));
		goto out;
	}
	/* What we hand out must read back: a mismatch is our bug. */
	if ((r = mg_bundle_parse(b.data, b.len, &check, e)) < 0) {
		r = -EIO;
		goto out;
	}
	r = sbuf_steal(&b, out, out_len);
	if (r < 0)
		bundle_fail(e, 0, r, "out of memory");
out:
	EVP_PKEY_free(k);
	sbuf_clear(&b);
	return r;
}
