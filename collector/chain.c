/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The per-agent hash chain (docs/events.md "Collector processing"): every
 * record of a request is checked against the agent's state (next_seq,
 * head_hash) and stored, absorbed as a duplicate or quarantined, with
 * alerts for what does not fit, all in one transaction under the writer
 * lock.  Only records whose signature verified ever move the chain.
 *
 *   seq == next, prev == head      store
 *   seq == next, prev != head      chain-break (unless a loss range ends
 *                                  with prev), store
 *   seq >  next                    gap next..seq-1 (explained when a loss
 *                                  range covers it), chain-break unless
 *                                  explained or the agent's first record,
 *                                  store
 *   seq <  next, stored, same hash duplicate
 *   seq <  next, stored, other     equivocation, quarantine
 *   seq <  next, not stored        late arrival: store, check neighbours
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define LOG_QUEUE_MAX (256u * 1024u)
#define DETAIL_MAX 512u

static const char state_sql[] =
    "SELECT next_seq, head_hash FROM agents WHERE agent_id = ?";
static const char state_put_sql[] =
    "INSERT INTO agents(agent_id, next_seq, head_hash, last_seen)"
    " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(agent_id) DO UPDATE SET"
    " next_seq = ?2, head_hash = ?3, last_seen = ?4";
static const char hashes_at_sql[] =
    "SELECT hash, prev_hash FROM events WHERE agent_id = ? AND seq = ?";
static const char quarantined_sql[] =
    "SELECT 1 FROM quarantine WHERE agent_id_cert = ? AND seq = ?"
    " AND record = ? LIMIT 1";
static const char quarantine_max_sql[] =
    "SELECT max(seq) FROM quarantine WHERE agent_id_cert = ?";
static const char quarantine_sql[] =
    "INSERT INTO quarantine(agent_id_claimed, agent_id_cert, seq, reason,"
    " record, received_ns) VALUES(?, ?, ?, ?, ?, ?)";

/* {"k1":"v1","k2":"hex"}: details of an alert. */
static int
detail(struct sbuf *b, const char *k1, const char *v1, const char *k2,
    const uint8_t *hash)
{
	char hex[2 * MG_REC_HASH_LEN + 1];
	struct jw w;

	sbuf_clear(b);
	jw_init(&w, b);
	jw_object(&w);
	jw_key(&w, k1);
	jw_str(&w, v1);
	if (k2 != NULL) {
		mg_hex(hash, MG_REC_HASH_LEN, hex);
		jw_key(&w, k2);
		jw_str(&w, hex);
	}
	jw_object_end(&w);
	return jw_finish(&w);
}

static void
handled(struct coll_chain *c, uint64_t seq)
{
	if (seq > c->acked)
		c->acked = seq;
}

/* acked_through_seq: the highest seq of this agent stored, absorbed or
 * quarantined, in this request or before (quarantined records do not move
 * next_seq, so they are looked up). */
static int
acked(struct coll_chain *c)
{
	struct coll_stmt *s = NULL;
	int64_t q;
	int r;

	handled(c, c->next - 1);
	r = coll_store_run(c->st, quarantine_max_sql, &s, "t", c->cert_agent);
	if (r <= 0)
		return r;
	q = coll_stmt_int64(s, 0);
	coll_stmt_reset(s);
	if (q > 0)
		handled(c, (uint64_t)q);
	return 0;
}

static int
load_state(struct coll_chain *c)
{
	struct coll_stmt *s = NULL;
	int r;

	c->next = 1;
	memset(c->head, 0, sizeof(c->head));
	r = coll_store_run(c->st, state_sql, &s, "t", c->agent);
	if (r <= 0)
		return r;
	c->next = (uint64_t)coll_stmt_int64(s, 0);
	if (coll_stmt_bytes(s, 1) == MG_REC_HASH_LEN)
		memcpy(c->head, coll_stmt_blob(s, 1), MG_REC_HASH_LEN);
	coll_stmt_reset(s);
	if (c->next < 1)
		c->next = 1;
	return 0;
}

static int
save_state(struct coll_chain *c)
{
	return coll_store_run(c->st, state_put_sql, NULL, "tibi", c->agent,
	    (int64_t)c->next, c->head, sizeof(c->head), c->now);
}

/* INSERT the records stored so far: before anything reads events. */
static int
flush(struct coll_chain *c)
{
	size_t n = c->nstored - c->flushed;
	int r;

	if (n == 0)
		return 0;
	r = coll_batch_events(c->st, c->agent, c->stored + c->flushed, n,
	    c->now);
	c->flushed = c->nstored;
	return r;
}

/* Stored: queued for the next multi-row INSERT (batch.c). */
static int
store_event(struct coll_chain *c, const struct coll_item *it)
{
	int r;

	c->res->accepted++;
	c->stored[c->nstored++] = it;
	handled(c, it->rec.seq);
	if (it->rec.flags & MG_REC_F_LOSS) {
		if ((r = flush(c)) < 0)
			return r;
		return coll_loss_apply(c, it);
	}
	return 0;
}

/* Quarantine a record once: the same bytes sent again (the agent did not
 * get our answer) are absorbed like any duplicate. */
static int
quarantine(struct coll_chain *c, const struct coll_item *it, const char *reason,
    enum coll_alert_type t, const char *why)
{
	const struct mg_record *r = &it->rec;
	int rc;

	rc = coll_store_run(c->st, quarantined_sql, NULL, "tib", c->cert_agent,
	    (int64_t)r->seq, r->raw, r->raw_len);
	if (rc < 0)
		return rc;
	handled(c, r->seq);
	if (rc == 1) {
		c->res->duplicates++;
		return 0;
	}
	rc = coll_store_run(c->st, quarantine_sql, NULL, "ttitbi", r->agent_id,
	    c->cert_agent, (int64_t)r->seq, reason, r->raw, r->raw_len, c->now);
	if (rc < 0)
		return rc;
	c->res->quarantined++;
	return coll_alert_raise(c, t, r->seq, r->seq, why, 0);
}

static int
forged(struct coll_chain *c, const struct coll_item *it, struct sbuf *d)
{
	int r;

	if ((r = detail(d, "reason", it->why, NULL, NULL)) < 0)
		return r;
	return quarantine(c, it, it->why, COLL_ALERT_FORGED, d->data);
}

/* A break is explained when a loss range ends with the hash it links to. */
static int
chain_break(
    struct coll_chain *c, uint64_t seq, const uint8_t *prev, struct sbuf *d)
{
	int r;

	if ((r = coll_loss_explains(c, prev)) != 0)
		return r < 0 ? r : 0;
	if ((r = detail(d, "problem", "prev_hash links to no known record",
		 "prev_hash", prev)) < 0)
		return r;
	return coll_alert_raise(
	    c, COLL_ALERT_CHAIN_BREAK, seq, seq, d->data, 0);
}

/* A record before the head that we do not have: it fills a gap. */
static int
late(struct coll_chain *c, const struct coll_item *it, struct sbuf *d)
{
	const struct mg_record *rec = &it->rec;
	struct coll_stmt *s = NULL;
	bool linked;
	int r;

	r = coll_store_run(
	    c->st, hashes_at_sql, &s, "ti", c->agent, (int64_t)(rec->seq - 1));
	if (r == 1) {
		linked = coll_stmt_bytes(s, 0) == MG_REC_HASH_LEN &&
		    memcmp(coll_stmt_blob(s, 0), rec->prev_hash,
			MG_REC_HASH_LEN) == 0;
		coll_stmt_reset(s);
		r = linked ? 0 : chain_break(c, rec->seq, rec->prev_hash, d);
	}
	if (r < 0)
		return r;
	r = coll_store_run(
	    c->st, hashes_at_sql, &s, "ti", c->agent, (int64_t)(rec->seq + 1));
	if (r == 1) {
		linked = coll_stmt_bytes(s, 1) == MG_REC_HASH_LEN &&
		    memcmp(coll_stmt_blob(s, 1), it->hash,
			MG_REC_HASH_LEN) == 0;
		coll_stmt_reset(s);
		r = linked ? 0 :
			     coll_alert_raise(c, COLL_ALERT_CHAIN_BREAK,
				 rec->seq + 1, rec->seq + 1,
				 "{\"problem\":\"does not "
				 "link to the late record before it\"}",
				 0);
	}
	if (r < 0)
		return r;
	return store_event(c, it);
}

static int
past(struct coll_chain *c, const struct coll_item *it, struct sbuf *d)
{
	struct coll_stmt *s = NULL;
	bool same;
	int r;

	r = coll_store_run(
	    c->st, hashes_at_sql, &s, "ti", c->agent, (int64_t)it->rec.seq);
	if (r < 0)
		return r;
	if (r == 0)
		return late(c, it, d);
	same = coll_stmt_bytes(s, 0) == MG_REC_HASH_LEN &&
	    memcmp(coll_stmt_blob(s, 0), it->hash, MG_REC_HASH_LEN) == 0;
	coll_stmt_reset(s);
	if (same) {
		c->res->duplicates++;
		handled(c, it->rec.seq);
		return 0;
	}
	if ((r = detail(d, "problem",
		 "a different record with this seq is "
		 "stored",
		 "received_hash", it->hash)) < 0)
		return r;
	return quarantine(
	    c, it, "equivocation", COLL_ALERT_EQUIVOCATION, d->data);
}

/* seq >= next: extends the chain, perhaps past a gap. */
static int
ahead(struct coll_chain *c, const struct coll_item *it, struct sbuf *d)
{
	const struct mg_record *rec = &it->rec;
	uint64_t loss = 0;
	bool first = c->next == 1;
	int r = 0;

	if (rec->seq > c->next) {
		if ((r = coll_loss_covering(c, c->next, rec->seq - 1, &loss)) <
			0 ||
		    (r = coll_alert_raise(c, COLL_ALERT_GAP, c->next,
			 rec->seq - 1, NULL, loss)) < 0)
			return r;
		/* An agent's first record after a gap links to nothing we
		 * could have: the gap alert says it all. */
		if (!first)
			r = chain_break(c, rec->seq, rec->prev_hash, d);
	} else if (memcmp(rec->prev_hash, c->head, MG_REC_HASH_LEN) != 0) {
		r = chain_break(c, rec->seq, rec->prev_hash, d);
	}
	if (r < 0)
		return r;
	c->next = rec->seq + 1;
	memcpy(c->head, it->hash, MG_REC_HASH_LEN);
	return store_event(c, it);
}

static int
apply_one(struct coll_chain *c, const struct coll_item *it, struct sbuf *d)
{
	int r;

	/* These paths read events: what is queued must be there. */
	if ((it->verdict < 0 || it->rec.seq < c->next) && (r = flush(c)) < 0)
		return r;
	if (it->verdict < 0)
		return forged(c, it, d);
	if (it->rec.seq < c->next)
		return past(c, it, d);
	return ahead(c, it, d);
}

static void
chain_init(struct coll_chain *c, struct coll_store *st, const char *agent,
    int64_t now, struct coll_result *res)
{
	memset(c, 0, sizeof(*c));
	c->st = st;
	c->agent = agent;
	c->cert_agent = agent;
	c->now = now;
	c->res = res;
	sbuf_init(&c->log, LOG_QUEUE_MAX);
}

/* Everything of one request, in the open transaction: the chain, then
 * the alerts about the stored records, then the Merkle log. */
static int
apply_all(struct coll_chain *c, struct coll_item *items, size_t n,
    struct sbuf *d)
{
	size_t i;
	int r;

	/* Two collectors given the same terminal's records at once (a
	 * retry through another instance) take turns here. */
	if ((r = coll_store_xlock_terminal(c->st, c->agent)) < 0 ||
	    (r = load_state(c)) < 0)
		return r;
	for (i = 0; i < n; i++)
		if ((r = apply_one(c, &items[i], d)) < 0)
			return r;
	if ((r = flush(c)) < 0 || (r = save_state(c)) < 0 || (r = acked(c)) < 0 ||
	    (r = coll_alert_scan(c, items, n)) < 0)
		return r;
	return coll_ledger_append(c->st, c->agent, c->stored, c->nstored);
}

int
coll_chain_apply(struct coll_store *st, const char *agent,
    struct coll_item *items, size_t n, int64_t now, struct coll_result *res)
{
	struct coll_chain c;
	struct sbuf d;
	int r;

	chain_init(&c, st, agent, now, res);
	if (n > 0 && (c.stored = calloc(n, sizeof(*c.stored))) == NULL)
		return -ENOMEM;
	sbuf_init(&d, DETAIL_MAX);
	if ((r = coll_store_lock_timed(st, COLL_LOCK_WAIT_MS)) < 0)
		goto out;
	if ((r = coll_store_begin(st)) < 0)
		goto unlock;
	if ((r = apply_all(&c, items, n, &d)) < 0 ||
	    (r = coll_store_commit(st)) < 0)
		goto rollback;
	coll_store_unlock(st);
	res->acked = c.acked;
	coll_alert_flush(&c);
	goto out;
rollback:
	coll_store_rollback(st);
unlock:
	coll_store_unlock(st);
	res->accepted = res->duplicates = res->quarantined = res->alerts = 0;
	sbuf_clear(&c.log);
out:
	sbuf_clear(&d);
	free(c.stored);
	return r;
}

int
coll_chain_mismatch(struct coll_store *st, const char *cert_agent,
    const struct mg_record *rec, int64_t now)
{
	struct coll_result res;
	struct coll_chain c;
	struct sbuf d;
	struct jw w;
	int r;

	memset(&res, 0, sizeof(res));
	chain_init(&c, st, rec->agent_id, now, &res);
	c.cert_agent = cert_agent;
	sbuf_init(&d, DETAIL_MAX);
	jw_init(&w, &d);
	jw_object(&w);
	jw_key(&w, "claimed_agent_id");
	jw_str(&w, rec->agent_id);
	jw_object_end(&w);
	if ((r = jw_finish(&w)) < 0)
		goto out;
	coll_store_lock(st);
	if ((r = coll_store_begin(st)) == 0) {
		r = coll_alert_raise(
		    &c, COLL_ALERT_IDENTITY, rec->seq, rec->seq, d.data, 0);
		if (r == 0)
			r = coll_store_commit(st);
		if (r < 0)
			coll_store_rollback(st);
	}
	coll_store_unlock(st);
	if (r == 0)
		coll_alert_flush(&c);
out:
	sbuf_clear(&c.log);
	sbuf_clear(&d);
	return r;
}
