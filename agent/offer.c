/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Judging an offered policy bundle, whole: the first failing check names
 * the refusal.  The order is the trust order: nothing in a bundle is
 * believed (not even its group or version) before the pinned signature
 * verifies, and its policy text is parsed only once it is known to be
 * ours, newer, and signed.
 */
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mynaguard/common.h"
#include "mynaguard/event.h"
#include "mynaguard/login.h"
#include "offer.h"

static const char *const words[] = {
	[OFFER_OK] = "ok",
	[OFFER_SAME] = "same",
	[OFFER_TOO_LARGE] = "too-large",
	[OFFER_MALFORMED] = "malformed",
	[OFFER_SIGNER] = "signer",
	[OFFER_SIGNATURE] = "signature",
	[OFFER_CERTIFICATE] = "certificate",
	[OFFER_GROUP] = "group",
	[OFFER_ROLLBACK] = "rollback",
	[OFFER_INVALID_POLICY] = "invalid-policy",
	[OFFER_INVALID_CREDENTIALS] = "invalid-credentials",
	[OFFER_NO_MEMORY] = "no-memory",
};

const char *
offer_reason_word(enum offer_reason r)
{
	return (size_t)r < MG_ELEMENTSOF(words) ? words[r] : "unknown";
}

void
offer_sha256(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;

	if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1)
		memset(md, 0, sizeof(md));
	mg_hex(md, 32, out);
}

/* "line N: msg" (line 0: the whole bundle). */
static void
refuse_at(struct offer *o, enum offer_reason r,
    const struct mg_bundle_error *e)
{
	o->reason = r;
	if (e->line > 0)
		snprintf(o->msg, sizeof(o->msg), "line %u: %s", e->line,
		    e->msg);
	else
		snprintf(o->msg, sizeof(o->msg), "%s", e->msg);
}

static void
refuse(struct offer *o, enum offer_reason r, const char *msg)
{
	o->reason = r;
	snprintf(o->msg, sizeof(o->msg), "%s", msg);
}

/* Signature and structure.  0: verified, o->b filled. */
static int
check_signature(const char *buf, size_t len, const char *cert_pem,
    size_t cert_len, struct offer *o)
{
	struct mg_bundle_error e = { 0 }, e2;
	struct mg_bundle b;
	char pinned[65];
	int r;

	r = mg_bundle_verify(buf, len, cert_pem, cert_len, &b, &e);
	if (r == 0) {
		o->b = b;
		o->parsed = true;
		return 0;
	}
	if (r == -EBADMSG) {
		refuse_at(o, OFFER_MALFORMED, &e);
		return r;
	}
	if (r == -ENOMEM) {
		refuse(o, OFFER_NO_MEMORY, "out of memory");
		return r;
	}
	if (r == -EINVAL) {
		refuse_at(o, OFFER_CERTIFICATE, &e);
		return r;
	}
	/* -EKEYREJECTED: another signer, or altered after signing.  What
	 * it claims is reported, not believed. */
	if (mg_bundle_parse(buf, len, &o->b, &e2) == 0)
		o->parsed = true;
	refuse_at(o, o->parsed && mg_bundle_cert_check(cert_pem, cert_len,
	    pinned, &e2) == 0 && strcmp(pinned, o->b.signer) == 0 ?
	    OFFER_SIGNATURE : OFFER_SIGNER, &e);
	return r;
}

static int
check_version(const char *group, uint64_t applied, const char *applied_sha,
    struct offer *o)
{
	if (strcmp(o->b.group, group) != 0) {
		snprintf(o->msg, sizeof(o->msg), "the bundle is for group %s; "
		    "this terminal is in group %s", o->b.group, group);
		o->reason = OFFER_GROUP;
		return -EACCES;
	}
	if (o->b.version == applied && strcmp(o->sha256, applied_sha) == 0) {
		refuse(o, OFFER_SAME, "already applied");
		return -EALREADY;
	}
	if (o->b.version <= applied) {
		snprintf(o->msg, sizeof(o->msg), "version %" PRIu64 " is not "
		    "newer than version %" PRIu64 ", applied already%s",
		    o->b.version, applied, o->b.version == applied ?
		    " (from another bundle)" : "");
		o->reason = OFFER_ROLLBACK;
		return -ESTALE;
	}
	return 0;
}

static int
check_policy(struct offer *o)
{
	struct pol_diags *d = calloc(1, sizeof(*d));
	int r;

	if (d == NULL) {
		refuse(o, OFFER_NO_MEMORY, "out of memory");
		return -ENOMEM;
	}
	r = pol_policy_parse(o->b.policy, o->b.policy_len, d, &o->policy);
	if (r == -EBADMSG && d->n > 0)
		snprintf(o->msg, sizeof(o->msg), "policy line %u:%u: %s (%zu "
		    "errors in all)", d->d[0].line, d->d[0].col, d->d[0].msg,
		    d->n);
	else if (r < 0)
		snprintf(o->msg, sizeof(o->msg), "policy: %s", strerror(-r));
	if (r < 0)
		o->reason = r == -ENOMEM ? OFFER_NO_MEMORY :
		    OFFER_INVALID_POLICY;
	free(d);
	return r;
}

static int
check_credentials(struct offer *o)
{
	struct pmod_creds *c = NULL;
	struct pmod_diag d;
	int r;

	if (o->b.credentials == NULL)
		return 0;
	memset(&d, 0, sizeof(d));
	r = pmod_creds_parse(o->b.credentials, o->b.credentials_len, &c, &d);
	pmod_creds_free(c);
	if (r == -EBADMSG)
		snprintf(o->msg, sizeof(o->msg), "credentials line %u:%u: %s",
		    d.line, d.col, d.msg);
	else if (r < 0)
		snprintf(o->msg, sizeof(o->msg), "credentials: %s",
		    strerror(-r));
	if (r < 0)
		o->reason = r == -ENOMEM ? OFFER_NO_MEMORY :
		    OFFER_INVALID_CREDENTIALS;
	return r;
}

void
offer_judge(const char *buf, size_t len, const char *cert_pem,
    size_t cert_len, const char *group, uint64_t applied,
    const char *applied_sha256, struct offer *o)
{
	memset(o, 0, sizeof(*o));
	if (buf == NULL) {
		snprintf(o->msg, sizeof(o->msg), "the collector's answer is "
		    "more than %u bytes", MG_BUNDLE_MAX);
		o->reason = OFFER_TOO_LARGE;
		return;
	}
	offer_sha256(buf, len, o->sha256);
	if (check_signature(buf, len, cert_pem, cert_len, o) < 0 ||
	    check_version(group, applied, applied_sha256, o) < 0 ||
	    check_policy(o) < 0 || check_credentials(o) < 0) {
		pol_policy_free(o->policy);
		o->policy = NULL;
		return;
	}
	refuse(o, OFFER_OK, "");
}

void
offer_clear(struct offer *o)
{
	pol_policy_free(o->policy);
	o->policy = NULL;
}
