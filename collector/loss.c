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
 * ones.  The body is read with SQLite's JSON functions.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define DETAIL_MAX 20000u

static const char ranges_sql[] =
    "SELECT r.type, json_extract(r.value, '$.from'),"
    " json_extract(r.value, '$.to'), json_extract(r.value, '$.last_hash')"
    " FROM json_each(?1, '$.mynaguard.loss.ranges') AS r"
    " WHERE json_type(?1, '$.mynaguard.loss.ranges') = 'array'";
static const char info_sql[] =
    "SELECT json_extract(?1, '$.mynaguard.loss.count'),"
    " json_extract(?1, '$.event.reason')";
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

struct range {
	uint64_t from, to;
	uint8_t last_hash[MG_REC_HASH_LEN];
};

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

static bool
parse_hash(const unsigned char *hex, int len, uint8_t out[MG_REC_HASH_LEN])
{
	size_t i;
	int hi, lo;

	if (hex == NULL || len != 2 * (int)MG_REC_HASH_LEN)
		return false;
	for (i = 0; i < MG_REC_HASH_LEN; i++) {
		hi = parse_hexdigit((char)hex[2 * i]);
		lo = parse_hexdigit((char)hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* One row of ranges_sql; false when it is not a usable range of the loss
 * record with sequence number seq. */
static bool
read_range(struct coll_stmt *s, uint64_t seq, struct range *ret)
{
	const unsigned char *type = coll_stmt_text(s, 0);
	int64_t from, to;

	if (type == NULL || strcmp((const char *)type, "object") != 0 ||
	    !coll_stmt_is_int(s, 1) ||
	    !coll_stmt_is_int(s, 2))
		return false;
	from = coll_stmt_int64(s, 1);
	to = coll_stmt_int64(s, 2);
	if (from < 1 || to < from || (uint64_t)to >= seq)
		return false;
	ret->from = (uint64_t)from;
	ret->to = (uint64_t)to;
	return parse_hash(coll_stmt_text(s, 3), coll_stmt_bytes(s, 3),
	    ret->last_hash);
}

/* {"count":N,"reason":"...","loss_seq":S}: what the agent said. */
static int
make_detail(struct coll_chain *c, const struct mg_record *rec, unsigned invalid,
    struct sbuf *b)
{
	struct coll_stmt *s = NULL;
	struct jw w;
	int r;

	r = coll_store_run(c->st, info_sql, &s, "T", (const char *)rec->body,
	    (size_t)rec->body_len);
	if (r < 0)
		return r;
	jw_init(&w, b);
	jw_object(&w);
	jw_key(&w, "loss_seq");
	jw_u64(&w, rec->seq);
	if (r == 1 && coll_stmt_is_int(s, 0)) {
		jw_key(&w, "count");
		jw_i64(&w, coll_stmt_int64(s, 0));
	}
	if (r == 1 && coll_stmt_type(s, 1) == COLL_TEXT) {
		jw_key(&w, "reason");
		jw_string(&w, (const char *)coll_stmt_text(s, 1),
		    (size_t)coll_stmt_bytes(s, 1));
	}
	if (invalid > 0) {
		jw_key(&w, "invalid_ranges");
		jw_u64(&w, invalid);
	}
	jw_object_end(&w);
	if (s != NULL)
		coll_stmt_reset(s);
	r = jw_finish(&w);
	if (r != -EINVAL)
		return r;
	/* A reason jw refuses: keep the alert, drop the text. */
	b->len = 0;
	return sbuf_printf(
	    b, "{\"loss_seq\":%llu}", (unsigned long long)rec->seq);
}

static int
apply_range(struct coll_chain *c, uint64_t loss_seq, const struct range *g,
    const char *detail)
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

/* Collect the valid ranges first: the statement walking the body must be
 * finished before the alerts and updates run. */
static int
read_ranges(struct coll_chain *c, const struct mg_record *rec,
    struct range *out, size_t *ret_n, unsigned *ret_invalid)
{
	struct coll_stmt *s = NULL;
	size_t n = 0;
	unsigned invalid = 0;
	int r;

	r = coll_store_run(c->st, ranges_sql, &s, "T", (const char *)rec->body,
	    (size_t)rec->body_len);
	while (r == 1) {
		if (n < MG_LOSS_RANGES_MAX && read_range(s, rec->seq, &out[n]))
			n++;
		else
			invalid++;
		r = coll_store_next(c->st, s);
	}
	if (r < 0)
		return r;
	*ret_n = n;
	*ret_invalid = invalid;
	return 0;
}

int
coll_loss_apply(struct coll_chain *c, const struct coll_item *it)
{
	struct range *ranges = NULL;
	struct sbuf detail;
	size_t n = 0, i;
	unsigned invalid = 0;
	int r;

	sbuf_init(&detail, DETAIL_MAX);
	ranges = calloc(MG_LOSS_RANGES_MAX, sizeof(*ranges));
	if (ranges == NULL)
		return -ENOMEM;
	if ((r = read_ranges(c, &it->rec, ranges, &n, &invalid)) < 0 ||
	    (r = make_detail(c, &it->rec, invalid, &detail)) < 0)
		goto out;
	for (i = 0; i < n && r == 0; i++)
		r = apply_range(c, it->rec.seq, &ranges[i], detail.data);
	/* A loss record without a usable range is still worth a look. */
	if (r == 0 && n == 0)
		r = coll_alert_raise(c, COLL_ALERT_LOSS, it->rec.seq,
		    it->rec.seq, detail.data, 0);
out:
	sbuf_clear(&detail);
	free(ranges);
	return r;
}
