/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_AGENT_EMIT_H
#define MYNAGUARD_AGENT_EMIT_H

#include "mynaguard/event.h"
#include "spool.h"

/* Turns events into signed records in the spool: numbering, chaining,
 * timestamps, and loss records when the spool must drop old ones. */
struct emitter {
	struct spool *sp;
	const struct mg_signer *signer;
	const char *host_name;
	struct sbuf body;
	struct sbuf rec;
};

void emit_init(struct emitter *e, struct spool *sp,
    const struct mg_signer *signer, const char *host_name);
void emit_clear(struct emitter *e);

/*
 * Write one event (not yet durable: see spool_commit()).  Critical when
 * flags has MG_REC_F_CRITICAL or the type is always critical (*ret_critical
 * says which).  -EINVAL with *ret_why for a bad event, -ENOSPC when the
 * spool cannot take it, -errno.
 */
int emit_event(struct emitter *e, enum mg_event_type t,
    const struct mg_field_val *f, size_t n, uint16_t flags,
    uint64_t *ret_seq, bool *ret_critical, const char **ret_why);

#endif
