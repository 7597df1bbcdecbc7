/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_AGENT_OFFER_H
#define MYNAGUARD_AGENT_OFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mynaguard/bundle.h"
#include "mynaguard/policy.h"

/*
 * Judging a policy bundle the collector offered (docs/policy-bundles.md
 * "Agent"), without touching any file: structure and signature against the
 * pinned certificate, our group, a version above the last applied one, a
 * policy that parses and credentials that parse.  Pure: the agent applies
 * what this accepts, and tests call it directly.
 */
enum offer_reason {
	OFFER_OK,
	OFFER_SAME,		/* the bundle already applied: nothing to do */
	OFFER_TOO_LARGE,
	OFFER_MALFORMED,
	OFFER_SIGNER,		/* signed by another certificate */
	OFFER_SIGNATURE,	/* our signer, but the signature is wrong */
	OFFER_CERTIFICATE,	/* our pinned certificate is unusable */
	OFFER_GROUP,
	OFFER_ROLLBACK,
	OFFER_INVALID_POLICY,
	OFFER_INVALID_CREDENTIALS,
	OFFER_NO_MEMORY,
};

struct offer {
	enum offer_reason reason;
	bool parsed;		/* b holds what the bundle claims */
	struct mg_bundle b;	/* points into the judged buffer */
	char sha256[65];	/* of the whole bundle */
	char msg[300];		/* why, for the event and the log */
	struct pol_policy *policy;	/* OFFER_OK: the parsed policy */
};

/*
 * Judge buf (len bytes; NULL: the collector's answer was too large)
 * against the pinned certificate (PEM), our group and the last applied
 * version and bundle hash ("" when none).  Always fills *o; o->reason
 * says the verdict.  Release with offer_clear().
 */
void offer_judge(const char *buf, size_t len, const char *cert_pem,
    size_t cert_len, const char *group, uint64_t applied,
    const char *applied_sha256, struct offer *o);
/* The reason word of the policy-refused event ("signer"). */
const char *offer_reason_word(enum offer_reason r);
void offer_clear(struct offer *o);
/* Lower-case hex SHA-256 of data into out. */
void offer_sha256(const void *data, size_t len, char out[65]);

#endif
