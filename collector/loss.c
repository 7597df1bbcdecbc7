/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Loss records (flag MG_REC_F_LOSS): the agent ran out of spool and
 * dropped records, and says which, in a signed body
 *   {"mynaguard":{"loss":{"ranges":[{"from":A,"to":B,"last_hash":"hex"}],
 *    "count":N}}, "event":{"reason":"..."}, ...}
 * A dropped range turns the gap it leaves into an explained one, and the
 * first record after it, whose prev_hash is the dropped record's hash, is
 * not a chain break.  Either may reach us first, so both directions are
 * handled: gaps and breaks already raised are marked explained here, and
 * the chain code asks coll_loss_covering()/coll_loss_explains() for new
 * ones.  The body is read by mg_event_loss_parse(), as "mynaguard-review
 * verify" and "mynaguard spool" read it.
 */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

#define DETAIL_MAX 20000u

static const char insert_sql[] =
    "INSERT INTO loss_ranges(agent_id, loss_seq, seq_from, seq_to,"
    " last_hash) VALUES(?, ?, ?, ?, ?)";
static const char explain_gaps_sql[] =
    "UPDATE alerts SET explained_by = ?1 WHERE agent_id = ?2"
    " AND type = 'gap' AND explained_by IS NULL"
    " AND seq_from >= ?3 AND seq_to <= ?4";
static const char explain_break_sql[] =
    "UPDATE alerts SET explained_by = ?1 WHERE agent_id = ?2"
    " AND type = 'chain-break' AND explained_by IS NULL AND seq_from = ?3"
    " AND EXISTS (SELECT 1 FROM events WHERE agent_id = ?2 AND seq = ?3"
    " AND prev_hash = ?4)";
static const char covering_sql[] =
    "SELECT loss_seq FROM loss_ranges WHERE agent_id = ?"
    " AND seq_from <= ? AND seq_to >= ? ORDER BY loss_seq LIMIT 1";
static const char explains_sql[] =
    "SELECT 1 FROM loss_ranges WHERE agent_id = ? AND last_hash = ?"
    " LIMIT 1";

int
coll_loss_covering(
    struct coll_chain *c, uint64_t from, uint64_t to, uint64_t *ret_seq)
{
	struct coll_stmt *s = NULL;
	int r;

	r = coll_store_run(c->st, covering_sql, &s, "tii", c->agent,
	    (int64_t)from, (int64_t)to);
	if (r < 0)
		return r;
	*ret_seq = r == 1 ? (uint64_t)coll_stmt_int64(s, 0) : 0;
	if (r == 1)
		coll_stmt_reset(s);
	return 0;
}

int
coll_loss_explains(struct coll_chain *c, const uint8_t *prev)
{
	return coll_store_run(c->st, explains_sql, NULL, "tb", c->agent, prev,
	    (size_t)MG_REC_HASH_LEN);
}

/* {"count":N,"reason":"...","loss_seq":S}: what the agent said. */
static int
make_detail(const struct mg_record *rec, const struct mg_loss_info *in,
    const struct sbuf *reason, struct sbuf *b)
{
	struct jw w;
	int r;

	jw_init(&w, b);
	jw_object(&w);
	jw_key(&w, "loss_seq");
	jw_u64(&w, rec->seq);
	if (in->has_count) {
		jw_key(&w, "count");
		jw_i64(&w, in->count);
	}
	if (in->has_reason) {
		jw_key(&w, "reason");
		jw_string(&w, reason->data != NULL ? reason->data : "",
		    reason->len);
	}
	if (in->invalid > 0) {
		jw_key(&w, "invalid_ranges");
		jw_u64(&w, in->invalid);
	}
	jw_object_end(&w);
	r = jw_finish(&w);
	if (r != -EINVAL)
		return r;
	/* A reason jw refuses: keep the alert, drop the text. */
	b->len = 0;
	return sbuf_printf(
	    b, "{\"loss_seq\":%llu}", (unsigned long long)rec->seq);
}

static int
apply_range(struct coll_chain *c, uint64_t loss_seq,
    const struct mg_loss_range *g, const char *detail)
{
	int r;

	r = coll_store_run(c->st, insert_sql, NULL, "tiiib", c->agent,
	    (int64_t)loss_seq, (int64_t)g->from, (int64_t)g->to, g->last_hash,
	    (size_t)MG_REC_HASH_LEN);
	if (r < 0)
		return r;
	if ((r = coll_alert_raise(
		 c, COLL_ALERT_LOSS, g->from, g->to, detail, 0)) < 0)
		return r;
	r = coll_store_run(c->st, explain_gaps_sql, NULL, "itii",
	    (int64_t)loss_seq, c->agent, (int64_t)g->from, (int64_t)g->to);
	if (r < 0)
		return r;
	return coll_store_run(c->st, explain_break_sql, NULL, "itib",
	    (int64_t)loss_seq, c->agent, (int64_t)(g->to + 1), g->last_hash,
	    (size_t)MG_REC_HASH_LEN);
}

int
coll_loss_apply(struct coll_chain *c, const struct coll_item *it)
{
	struct mg_loss_info *in = NULL;
	struct sbuf detail, reason;
	size_t i;
	int r;

	sbuf_init(&detail, DETAIL_MAX);
	sbuf_init(&reason, MG_REC_BODY_MAX);
	if ((in = malloc(sizeof(*in))) == NULL)
		return -ENOMEM;
	/* The body passed mg_record_decode(): it is strict JSON. */
	if ((r = mg_event_loss_parse(it->rec.body, it->rec.body_len,
		 it->rec.seq, in, &reason)) < 0 ||
	    (r = make_detail(&it->rec, in, &reason, &detail)) < 0)
		goto out;
	for (i = 0; i < in->n && r == 0; i++)
		r = apply_range(c, it->rec.seq, &in->range[i], detail.data);
	/* A loss record without a usable range is still worth a look. */
	if (r == 0 && in->n == 0)
		r = coll_alert_raise(c, COLL_ALERT_LOSS, it->rec.seq,
		    it->rec.seq, detail.data, 0);
out:
	sbuf_clear(&reason);
	sbuf_clear(&detail);
	free(in);
	return r;
}
