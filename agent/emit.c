/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The agent, not the submitter, numbers, timestamps and chains events: a
 * record is built for seq = head + 1, room is made for it (writing a
 * signed loss record first when old records had to go), and it is
 * appended.  Any change to the head in between means building it again.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "emit.h"

#define EMIT_TRIES 8
#define LOSS_DEPTH 4

void
emit_init(struct emitter *e, struct spool *sp, const struct mg_signer *signer,
    const char *host_name)
{
	e->sp = sp;
	e->signer = signer;
	e->host_name = host_name;
	sbuf_init(&e->body, MG_REC_BODY_MAX);
	sbuf_init(&e->rec, MG_REC_MAX);
}

void
emit_clear(struct emitter *e)
{
	sbuf_clear(&e->body);
	sbuf_clear(&e->rec);
}

static int64_t
now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
make_ctx(struct emitter *e, uint64_t seq, struct mg_event_ctx *ctx)
{
	struct spool_stats st;

	spool_stats(e->sp, &st);
	ctx->host_name = e->host_name;
	ctx->agent_id = mg_signer_agent_id(e->signer);
	ctx->seq = seq;
	ctx->boot_id = st.boot_id;
	ctx->t_wall_ns = now_ns(CLOCK_REALTIME);
}

/* Sign the body in e->body as record seq after prev into e->rec. */
static int
encode(struct emitter *e, const struct mg_event_ctx *ctx, uint16_t flags,
    const uint8_t prev[MG_REC_HASH_LEN], uint8_t hash[MG_REC_HASH_LEN])
{
	struct mg_record_in in = {
		.flags = flags, .boot_id = ctx->boot_id, .seq = ctx->seq,
		.t_wall_ns = ctx->t_wall_ns,
		.t_boot_ns = (uint64_t)now_ns(CLOCK_BOOTTIME),
		.body = e->body.data, .body_len = e->body.len,
	};

	memcpy(in.prev_hash, prev, MG_REC_HASH_LEN);
	e->rec.len = 0;
	return mg_record_encode(e->signer, &in, &e->rec, hash);
}

static int emit_loss(struct emitter *e, const struct mg_loss_range *r,
    size_t n, uint64_t count, int depth);

/* Make room and append e->rec as seq; 1 means "the head moved (a loss
 * record was written): build again". */
static int
place(struct emitter *e, uint64_t seq, const uint8_t hash[MG_REC_HASH_LEN],
    bool critical, int depth)
{
	struct mg_loss_range ranges[MG_LOSS_RANGES_MAX];
	uint64_t dropped;
	size_t n;
	int r;

	r = spool_make_room(e->sp, e->rec.len, critical, ranges, &n, &dropped);
	if (r == 1) {
		r = emit_loss(e, ranges, n, dropped, depth + 1);
		return r < 0 ? r : 1;
	}
	if (r < 0)
		return r;
	r = spool_append(e->sp, (const uint8_t *)e->rec.data, e->rec.len, seq,
	    hash, critical);
	/* A full file system lowered the spool's limit: make room again. */
	return r == -ENOSPC ? 1 : r;
}

static int
emit_loss(struct emitter *e, const struct mg_loss_range *ranges, size_t n,
    uint64_t count, int depth)
{
	const uint16_t flags = MG_REC_F_CRITICAL | MG_REC_F_LOSS;
	uint8_t prev[MG_REC_HASH_LEN], hash[MG_REC_HASH_LEN];
	struct mg_event_ctx ctx;
	uint64_t head;
	int r, tries;

	if (depth > LOSS_DEPTH)
		return -ENOSPC;
	for (tries = 0; tries < EMIT_TRIES; tries++) {
		spool_head(e->sp, &head, prev);
		make_ctx(e, head + 1, &ctx);
		e->body.len = 0;
		if ((r = mg_event_loss_body(ranges, n, count, "spool full", &ctx,
		    &e->body)) < 0 ||
		    (r = encode(e, &ctx, flags, prev, hash)) < 0)
			return r;
		r = place(e, ctx.seq, hash, true, depth);
		if (r != 1)
			return r;
	}
	return -ENOSPC;
}

int
emit_event(struct emitter *e, enum mg_event_type t,
    const struct mg_field_val *f, size_t n, uint16_t flags,
    uint64_t *ret_seq, bool *ret_critical, const char **ret_why)
{
	uint8_t prev[MG_REC_HASH_LEN], hash[MG_REC_HASH_LEN];
	struct mg_event_ctx ctx;
	uint64_t head;
	bool critical = (flags & MG_REC_F_CRITICAL) || mg_event_critical(t);
	int r, tries;

	if (critical)
		flags |= MG_REC_F_CRITICAL;
	for (tries = 0; tries < EMIT_TRIES; tries++) {
		spool_head(e->sp, &head, prev);
		make_ctx(e, head + 1, &ctx);
		e->body.len = 0;
		if ((r = mg_event_body(t, f, n, &ctx, &e->body, ret_why)) < 0 ||
		    (r = encode(e, &ctx, flags, prev, hash)) < 0)
			return r;
		r = place(e, ctx.seq, hash, critical, 0);
		if (r == 1)
			continue;
		if (r < 0)
			return r;
		if (ret_seq != NULL)
			*ret_seq = ctx.seq;
		if (ret_critical != NULL)
			*ret_critical = critical;
		return 0;
	}
	return -ENOSPC;
}
