/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The store against an exported checkpoint (issue 9, docs/checkpoints.md),
 * for "mynaguard-review verify --checkpoint": through the database API
 * only, on a read-only connection, in one snapshot (a collector may go on
 * appending meanwhile).
 *
 * Every leaf is walked in index order, a page at a time, joined with the
 * event row it names, and its hash is recomputed from the event's record
 * bytes, never taken from merkle_leaves: an insider can edit any row, but
 * cannot make other record bytes hash to what the officer holds.  The
 * recomputed leaves feed a frontier, whose root at the checkpoint's size
 * must be the checkpoint's root, and at the end the root merkle_state
 * claims.  The proofs (consistency from the checkpoint to now, inclusion
 * of chosen events) are made from the stored hashes, as a collector would
 * serve them, and verified with the RFC 9162 verifiers against the signed
 * root and the recomputed one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mynaguard/checkpoint.h"
#include "mynaguard/merkle.h"

#define PAGE 10000 /* rows per query: memory stays bounded */

static const char walk_sql[] =
    "SELECT l.idx, l.agent_id, l.seq, l.hash, e.record, e.hash, e.body"
    " FROM merkle_leaves l LEFT JOIN events e"
    " ON e.agent_id = l.agent_id AND e.seq = l.seq"
    " WHERE l.idx >= ? ORDER BY l.idx LIMIT ?";
static const char count_sql[] = "SELECT count(*) FROM events";
/* Events no leaf of the log [0, size) names. */
static const char unlogged_sql[] =
    "SELECT e.id, e.agent_id, e.seq FROM events e WHERE e.id > ?"
    " AND NOT EXISTS (SELECT 1 FROM merkle_leaves l"
    " WHERE l.agent_id = e.agent_id AND l.seq = e.seq"
    " AND l.idx >= 0 AND l.idx < ?) ORDER BY e.id LIMIT ?";
static const char leaf_of_sql[] =
    "SELECT l.idx, l.hash, e.record FROM merkle_leaves l"
    " LEFT JOIN events e ON e.agent_id = l.agent_id AND e.seq = l.seq"
    " WHERE l.agent_id = ? AND l.seq = ?";
static const char event_of_sql[] =
    "SELECT 1 FROM events WHERE agent_id = ? AND seq = ?";
static const char read_sqlite[] = "BEGIN";
static const char read_pg[] =
    "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";

struct walk {
	struct coll_store *st;
	struct coll_audit *a;
	struct mg_merkle_frontier f; /* over the recomputed leaves */
	uint64_t next;		     /* leaf index expected next */
	int64_t from;		     /* the next page starts here */
	uint64_t with_event;	     /* leaves in [0, size) with an event */
};

static const char *const kind_names[] = {
	[COLL_AUDIT_LEAF_MISSING] = "leaf-missing",
	[COLL_AUDIT_EVENT_MISSING] = "event-missing",
	[COLL_AUDIT_RECORD_EDITED] = "record-edited",
	[COLL_AUDIT_ROW_EDITED] = "row-edited",
	[COLL_AUDIT_UNLOGGED] = "unlogged",
	[COLL_AUDIT_LEAF_EXTRA] = "leaf-extra",
};

const char *
coll_audit_kind_name(enum coll_audit_kind k)
{
	return (size_t)k < MG_ELEMENTSOF(kind_names) ? kind_names[k] : "?";
}

/* ---- findings ------------------------------------------------------------ */

/* The terminal id as read from the database, which an insider may have
 * written: an agent id's characters only, so that it cannot carry terminal
 * escapes into the officer's report. */
static void
copy_agent(char *out, size_t len, const char *agent)
{
	size_t i;

	for (i = 0; i + 1 < len && agent[i] != '\0'; i++)
		out[i] = (agent[i] >= 'a' && agent[i] <= 'z') ||
			(agent[i] >= 'A' && agent[i] <= 'Z') ||
			(agent[i] >= '0' && agent[i] <= '9') ||
			agent[i] == '.' || agent[i] == '_' || agent[i] == '-' ?
		    agent[i] :
		    '?';
	out[i] = '\0';
}

/* A new finding (only counted beyond COLL_AUDIT_FINDINGS_MAX), or NULL. */
static struct coll_audit_finding *
finding(struct coll_audit *a, enum coll_audit_kind kind, uint64_t index,
    const char *agent, uint64_t seq)
{
	struct coll_audit_finding *x;

	a->findings_total++;
	if (a->nfindings == COLL_AUDIT_FINDINGS_MAX)
		return NULL;
	x = &a->findings[a->nfindings++];
	memset(x, 0, sizeof(*x));
	x->kind = kind;
	x->index = index;
	x->index_end = index;
	x->seq = seq;
	if (agent != NULL)
		copy_agent(x->agent, sizeof(x->agent), agent);
	return x;
}

static void
broken_at(struct coll_audit *a, uint64_t index)
{
	if (index < a->broken)
		a->broken = index;
}

/* ---- the walk ------------------------------------------------------------ */

/* Compare the root of the first size recomputed leaves with want. */
static void
settle(const struct walk *w, uint64_t size, const uint8_t *want,
    enum coll_audit_verdict *v, uint8_t *got)
{
	if (w->a->broken < size) {
		*v = COLL_AUDIT_UNCHECKABLE;
		return;
	}
	if (mg_merkle_frontier_root(&w->f, got) < 0) {
		*v = COLL_AUDIT_UNCHECKABLE;
		return;
	}
	*v = memcmp(got, want, MG_MERKLE_HASH_LEN) == 0 ? COLL_AUDIT_OK :
							  COLL_AUDIT_DIFFERS;
}

/* The roots to compare at the size the frontier has now. */
static void
watch(struct walk *w)
{
	struct coll_audit *a = w->a;

	if (w->f.size == a->cp_size)
		settle(
		    w, a->cp_size, a->cp_root, &a->cp_match, a->cp_recomputed);
	if (a->latest && w->f.size == a->latest_size)
		settle(w, a->latest_size, a->latest_root, &a->latest_match,
		    a->latest_recomputed);
}

static int
append(struct walk *w, const uint8_t *leaf)
{
	int r = mg_merkle_frontier_append(&w->f, leaf, NULL, NULL);

	if (r == 0)
		watch(w);
	return r;
}

/*
 * What is wrong with an event row whose record does hash to its leaf: the
 * other columns are what the review API shows, so they must be the
 * record's (chain.c stores them from it).  NULL when nothing.
 */
static const char *
row_problem(struct coll_stmt *s, const char *agent, uint64_t seq)
{
	const uint8_t *raw = coll_stmt_blob(s, 4);
	size_t len = (size_t)coll_stmt_bytes(s, 4);
	const unsigned char *body = coll_stmt_text(s, 6);
	uint8_t h[MG_REC_HASH_LEN];
	struct mg_record rec;
	int n;

	if (raw == NULL || len == 0 ||
	    (n = mg_record_decode(raw, len, &rec, NULL)) < 0 ||
	    (size_t)n != len)
		return "the record does not decode";
	if (strcmp(rec.agent_id, agent) != 0 || rec.seq != seq)
		return "the record is of another terminal or seq";
	mg_record_hash(&rec, h);
	if (coll_stmt_bytes(s, 5) != MG_REC_HASH_LEN ||
	    memcmp(coll_stmt_blob(s, 5), h, sizeof(h)) != 0)
		return "the hash column differs from the record";
	if (body == NULL || (size_t)coll_stmt_bytes(s, 6) != rec.body_len ||
	    memcmp(body, rec.body, rec.body_len) != 0)
		return "the body column differs from the signed record";
	return NULL;
}

/* A leaf whose event row is there: recompute, compare, append. */
static int
leaf_with_event(struct walk *w, struct coll_stmt *s, uint64_t idx,
    const char *agent, uint64_t seq, const uint8_t *stored)
{
	struct coll_audit_finding *x;
	uint8_t leaf[MG_MERKLE_HASH_LEN];
	const char *why;
	int r;

	r = mg_merkle_leaf_hash(
	    coll_stmt_blob(s, 4), (size_t)coll_stmt_bytes(s, 4), leaf);
	if (r < 0)
		return r;
	w->with_event++;
	if (stored == NULL || memcmp(stored, leaf, MG_MERKLE_HASH_LEN) != 0) {
		x = finding(w->a, COLL_AUDIT_RECORD_EDITED, idx, agent, seq);
		if (x != NULL) {
			x->has_hashes = stored != NULL;
			if (stored != NULL)
				memcpy(x->stored, stored, sizeof(x->stored));
			memcpy(x->recomputed, leaf, sizeof(x->recomputed));
		}
	} else if ((why = row_problem(s, agent, seq)) != NULL) {
		x = finding(w->a, COLL_AUDIT_ROW_EDITED, idx, agent, seq);
		if (x != NULL)
			x->what = why;
	}
	return append(w, leaf);
}

static int
leaf_row(struct walk *w, struct coll_stmt *s)
{
	int64_t idx = coll_stmt_int64(s, 0);
	const unsigned char *text = coll_stmt_text(s, 1);
	const char *agent = text != NULL ? (const char *)text : "";
	uint64_t seq = (uint64_t)coll_stmt_int64(s, 2);
	const uint8_t *stored = coll_stmt_bytes(s, 3) == MG_MERKLE_HASH_LEN ?
	    coll_stmt_blob(s, 3) :
	    NULL;
	struct coll_audit_finding *x;
	static const uint8_t zero[MG_MERKLE_HASH_LEN];

	w->from = idx + 1;
	if (idx < 0 || (uint64_t)idx >= w->a->size) {
		finding(w->a, COLL_AUDIT_LEAF_EXTRA, (uint64_t)idx, agent, seq);
		return 0;
	}
	if ((uint64_t)idx > w->next) {
		x = finding(w->a, COLL_AUDIT_LEAF_MISSING, w->next, NULL, 0);
		if (x != NULL)
			x->index_end = (uint64_t)idx - 1;
		broken_at(w->a, w->next);
	}
	w->next = (uint64_t)idx + 1;
	if (coll_stmt_type(s, 4) != COLL_NULL)
		return leaf_with_event(w, s, (uint64_t)idx, agent, seq, stored);
	finding(w->a, COLL_AUDIT_EVENT_MISSING, (uint64_t)idx, agent, seq);
	broken_at(w->a, (uint64_t)idx);
	/* Nothing to recompute: keep the shape, the roots are uncheckable
	 * from here on anyway. */
	return append(w, stored != NULL ? stored : zero);
}

static int
walk(struct walk *w)
{
	struct coll_stmt *s;
	size_t rows;
	int r;

	w->from = INT64_MIN; /* a negative index is a leaf too many */
	do {
		s = NULL;
		rows = 0;
		r = coll_store_run(
		    w->st, walk_sql, &s, "ii", w->from, (int64_t)PAGE);
		for (; r == 1; r = coll_store_next(w->st, s)) {
			if ((r = leaf_row(w, s)) < 0)
				break;
			rows++;
		}
		coll_stmt_reset(s);
	} while (r == 0 && rows == PAGE);
	if (r < 0)
		return r;
	w->a->leaves = w->next;
	if (w->next < w->a->size) {
		struct coll_audit_finding *x =
		    finding(w->a, COLL_AUDIT_LEAF_MISSING, w->next, NULL, 0);

		if (x != NULL)
			x->index_end = w->a->size - 1;
		broken_at(w->a, w->next);
	}
	return 0;
}

/* Events in no leaf: only looked for when the counts say there are some. */
static int
unlogged(struct walk *w)
{
	struct coll_stmt *s = NULL;
	int64_t last = -1;
	size_t rows;
	int r;

	if ((r = coll_store_run(w->st, count_sql, &s, "")) < 0)
		return r;
	w->a->event_rows = r == 1 ? (uint64_t)coll_stmt_int64(s, 0) : 0;
	coll_stmt_reset(s);
	if (w->a->event_rows == w->with_event)
		return 0;
	do {
		s = NULL;
		rows = 0;
		r = coll_store_run(w->st, unlogged_sql, &s, "iii", last,
		    (int64_t)w->a->size, (int64_t)PAGE);
		for (; r == 1; r = coll_store_next(w->st, s), rows++) {
			last = coll_stmt_int64(s, 0);
			finding(w->a, COLL_AUDIT_UNLOGGED, UINT64_MAX,
			    (const char *)coll_stmt_text(s, 1),
			    (uint64_t)coll_stmt_int64(s, 2));
		}
		coll_stmt_reset(s);
	} while (r == 0 && rows == PAGE);
	return r;
}

/* ---- the checkpoints and the state --------------------------------------- */

/* The newest checkpoint the store holds, and whether the CA signed it. */
static int
latest(struct coll_store *st, struct coll_audit *a, const char *ca)
{
	struct mg_checkpoint cp;
	const char *why = "unreadable";
	char *text = NULL;
	int r;

	memset(&cp, 0, sizeof(cp));
	if ((r = coll_ledger_latest(st, &text)) <= 0)
		return r;
	a->latest = true;
	r = mg_checkpoint_parse(text, strlen(text), &cp, &why, NULL);
	if (r == 0)
		r = mg_checkpoint_verify(&cp, ca, NULL, 0, &why);
	free(text);
	if (r == -ENOMEM)
		return r;
	a->latest_sig = r;
	a->latest_why = r < 0 ? why : NULL;
	if (r == 0) {
		a->latest_size = cp.size;
		memcpy(a->latest_root, cp.root, sizeof(a->latest_root));
		snprintf(a->latest_origin, sizeof(a->latest_origin), "%s",
		    cp.origin);
	}
	mg_checkpoint_clear(&cp);
	if (r < 0)
		a->latest = false; /* nothing to compare: latest_sig says */
	return 0;
}

static int
state(struct coll_store *st, struct coll_audit *a)
{
	struct mg_merkle_frontier *f = malloc(sizeof(*f));
	int r;

	if (f == NULL)
		return -ENOMEM;
	if ((r = coll_ledger_load(st, f)) == 0 &&
	    (r = mg_merkle_frontier_root(f, a->state_root)) == 0)
		a->size = f->size;
	free(f);
	return r;
}

/* The current tree's root the proofs are checked against: the recomputed
 * one, or when the records could not all be recomputed, the stored one. */
static const uint8_t *
current_root(const struct coll_audit *a)
{
	return a->root_ok ? a->root : a->state_root;
}

static void
consistency(struct coll_store *st, struct coll_audit *a)
{
	int r;

	a->cons_made = false;
	if (a->cp_size == 0) {
		a->consistency = 0; /* the empty tree: nothing to prove */
		return;
	}
	if (a->cp_size > a->size) {
		a->consistency = -ERANGE;
		return;
	}
	r = coll_ledger_consistency(
	    st, a->cp_size, a->size, a->cons_proof, &a->cons_n);
	if (r < 0) {
		a->consistency = r;
		return;
	}
	a->cons_made = true;
	a->consistency = mg_merkle_verify_consistency(a->cp_size, a->size,
	    a->cp_root, current_root(a), a->cons_proof[0], a->cons_n);
}

/* ---- chosen events ------------------------------------------------------- */

/* Its leaf, and the leaf hash recomputed from its record; ev->status says
 * what is missing. */
static int
find_event(struct coll_store *st, struct coll_audit_event *ev)
{
	struct coll_stmt *s = NULL;
	int r;

	r = coll_store_run(
	    st, leaf_of_sql, &s, "ti", ev->agent, (int64_t)ev->seq);
	if (r < 0)
		return r;
	if (r == 0) {
		r = coll_store_run(
		    st, event_of_sql, NULL, "ti", ev->agent, (int64_t)ev->seq);
		if (r >= 0)
			ev->status = r == 1 ? COLL_AUDIT_EV_NO_LEAF :
					      COLL_AUDIT_EV_ABSENT;
		return r < 0 ? r : 0;
	}
	ev->index = (uint64_t)coll_stmt_int64(s, 0);
	r = 0;
	if (coll_stmt_type(s, 2) == COLL_NULL)
		ev->status = COLL_AUDIT_EV_NO_EVENT;
	else
		r = mg_merkle_leaf_hash(coll_stmt_blob(s, 2),
		    (size_t)coll_stmt_bytes(s, 2), ev->leaf);
	coll_stmt_reset(s);
	return r;
}

static int
prove_event(struct coll_store *st, const struct coll_audit *a,
    struct coll_audit_event *ev)
{
	int r;

	ev->verified = -ENOENT;
	ev->status = COLL_AUDIT_EV_FOUND;
	if ((r = find_event(st, ev)) < 0 || ev->status != COLL_AUDIT_EV_FOUND)
		return r;
	if (ev->index >= a->size) {
		ev->status = COLL_AUDIT_EV_NO_LEAF;
		return 0;
	}
	ev->against_checkpoint = ev->index < a->cp_size;
	ev->size = ev->against_checkpoint ? a->cp_size : a->size;
	memcpy(ev->root, ev->against_checkpoint ? a->cp_root : current_root(a),
	    sizeof(ev->root));
	r = coll_ledger_inclusion(
	    st, ev->index, ev->size, ev->proof, &ev->nproof);
	if (r < 0) {
		ev->verified = r;
		return r == -ENOMEM ? r : 0;
	}
	ev->made = true;
	ev->verified = mg_merkle_verify_inclusion(
	    ev->index, ev->size, ev->leaf, ev->proof[0], ev->nproof, ev->root);
	return 0;
}

/* ---- the whole audit ----------------------------------------------------- */

static int
audit(struct walk *w, const char *ca)
{
	struct coll_audit *a = w->a;
	size_t i;
	int r;

	if ((r = state(w->st, a)) < 0 || (r = latest(w->st, a, ca)) < 0)
		return r;
	mg_merkle_frontier_init(&w->f);
	watch(w); /* size 0 */
	if ((r = walk(w)) < 0 || (r = unlogged(w)) < 0)
		return r;
	if (a->broken >= a->size && w->f.size == a->size &&
	    mg_merkle_frontier_root(&w->f, a->root) == 0) {
		a->root_ok = true;
		a->state_match =
		    memcmp(a->root, a->state_root, sizeof(a->root)) == 0 ?
		    COLL_AUDIT_OK :
		    COLL_AUDIT_DIFFERS;
	}
	consistency(w->st, a);
	for (i = 0; i < a->nevents && r == 0; i++)
		r = prove_event(w->st, a, &a->events[i]);
	return r;
}

static struct coll_audit *
audit_new(const struct mg_checkpoint *cp, struct coll_audit_event *events,
    size_t nevents)
{
	struct coll_audit *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	a->findings = calloc(COLL_AUDIT_FINDINGS_MAX, sizeof(*a->findings));
	if (a->findings == NULL) {
		free(a);
		return NULL;
	}
	a->cp_size = cp->size;
	memcpy(a->cp_root, cp->root, sizeof(a->cp_root));
	snprintf(a->cp_origin, sizeof(a->cp_origin), "%s", cp->origin);
	a->cp_time = cp->time;
	a->cp_match = a->latest_match = a->state_match = COLL_AUDIT_UNCHECKABLE;
	a->broken = UINT64_MAX;
	a->events = events;
	a->nevents = nevents;
	return a;
}

int
coll_audit_run(struct coll_store *st, const struct mg_checkpoint *cp,
    const char *ca_path, struct coll_audit_event *events, size_t nevents,
    struct coll_audit **ret, const char **ret_why)
{
	struct walk *w;
	int r;

	if (st == NULL || cp == NULL || ca_path == NULL || ret == NULL ||
	    (events == NULL && nevents > 0))
		return -EINVAL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -ENOMEM;
	w->st = st;
	if ((w->a = audit_new(cp, events, nevents)) == NULL) {
		free(w);
		return -ENOMEM;
	}
	coll_store_lock(st);
	r = coll_store_exec(
	    st, coll_store_backend(st) == COLL_SQLITE ? read_sqlite : read_pg);
	if (r == 0)
		r = audit(w, ca_path);
	if (r < 0 && ret_why != NULL)
		*ret_why = coll_store_errmsg(st);
	coll_store_rollback(st); /* read only: nothing to keep */
	coll_store_unlock(st);
	if (r == 0) {
		*ret = w->a;
		w->a = NULL;
	}
	coll_audit_free(w->a);
	free(w);
	return r;
}

void
coll_audit_free(struct coll_audit *a)
{
	if (a == NULL)
		return;
	free(a->findings);
	free(a);
}

bool
coll_audit_ok(const struct coll_audit *a)
{
	size_t i;

	if (a->findings_total > 0 || a->cp_match != COLL_AUDIT_OK ||
	    a->state_match != COLL_AUDIT_OK || a->consistency != 0 ||
	    a->latest_sig != 0 || !a->latest ||
	    a->latest_match != COLL_AUDIT_OK || a->latest_size < a->cp_size)
		return false;
	for (i = 0; i < a->nevents; i++)
		if (a->events[i].status != COLL_AUDIT_EV_FOUND ||
		    a->events[i].verified != 0)
			return false;
	return true;
}

/* ---- JSON ---------------------------------------------------------------- */

const char *
coll_audit_verdict_name(enum coll_audit_verdict v)
{
	switch (v) {
	case COLL_AUDIT_OK:
		return "ok";
	case COLL_AUDIT_DIFFERS:
		return "differs";
	default:
		return "uncheckable";
	}
}

const char *
coll_audit_event_status_name(enum coll_audit_ev_status s)
{
	switch (s) {
	case COLL_AUDIT_EV_FOUND:
		return "found";
	case COLL_AUDIT_EV_NO_LEAF:
		return "no-leaf";
	case COLL_AUDIT_EV_NO_EVENT:
		return "no-event";
	default:
		return "absent";
	}
}

static void
j_hex(struct jw *w, const char *key, const uint8_t *h)
{
	char hex[2 * MG_MERKLE_HASH_LEN + 1];

	mg_hex(h, MG_MERKLE_HASH_LEN, hex);
	jw_key(w, key);
	jw_str(w, hex);
}

static void
j_u64(struct jw *w, const char *key, uint64_t v)
{
	jw_key(w, key);
	jw_u64(w, v);
}

static void
j_str(struct jw *w, const char *key, const char *v)
{
	jw_key(w, key);
	jw_str(w, v);
}

static void
j_proof(struct jw *w, const uint8_t (*p)[MG_MERKLE_HASH_LEN], size_t n)
{
	char hex[2 * MG_MERKLE_HASH_LEN + 1];
	size_t i;

	jw_key(w, "proof");
	jw_array(w);
	for (i = 0; i < n; i++) {
		mg_hex(p[i], MG_MERKLE_HASH_LEN, hex);
		jw_str(w, hex);
	}
	jw_array_end(w);
}

/* Exactly tests/integration/merkle_ref.py's check-json input. */
static void
j_checks(struct jw *w, const struct coll_audit *a)
{
	const struct coll_audit_event *ev;
	size_t i;

	jw_key(w, "checks");
	jw_array(w);
	if (a->cons_made) {
		jw_object(w);
		j_str(w, "kind", "consistency");
		j_u64(w, "m", a->cp_size);
		j_u64(w, "n", a->size);
		j_hex(w, "root_m", a->cp_root);
		j_hex(w, "root_n", current_root(a));
		j_proof(w, a->cons_proof, a->cons_n);
		jw_object_end(w);
	}
	for (i = 0; i < a->nevents; i++) {
		if (!(ev = &a->events[i])->made)
			continue;
		jw_object(w);
		j_str(w, "kind", "inclusion");
		j_u64(w, "index", ev->index);
		j_u64(w, "size", ev->size);
		j_hex(w, "leaf_hash", ev->leaf);
		j_proof(w, ev->proof, ev->nproof);
		j_hex(w, "root", ev->root);
		jw_object_end(w);
	}
	jw_array_end(w);
}

static void
j_findings(struct jw *w, const struct coll_audit *a)
{
	const struct coll_audit_finding *x;
	size_t i;

	j_u64(w, "findings_total", a->findings_total);
	jw_key(w, "findings");
	jw_array(w);
	for (i = 0; i < a->nfindings; i++) {
		x = &a->findings[i];
		jw_object(w);
		j_str(w, "kind", coll_audit_kind_name(x->kind));
		if (x->index != UINT64_MAX) {
			j_u64(w, "index", x->index);
			if (x->index_end != x->index)
				j_u64(w, "index_end", x->index_end);
		}
		if (x->agent[0] != '\0') {
			j_str(w, "agent", x->agent);
			j_u64(w, "seq", x->seq);
		}
		if (x->has_hashes)
			j_hex(w, "stored_leaf_hash", x->stored);
		if (x->kind == COLL_AUDIT_RECORD_EDITED)
			j_hex(w, "recomputed_leaf_hash", x->recomputed);
		if (x->what != NULL)
			j_str(w, "what", x->what);
		jw_object_end(w);
	}
	jw_array_end(w);
}

static void
j_events(struct jw *w, const struct coll_audit *a)
{
	const struct coll_audit_event *ev;
	size_t i;

	jw_key(w, "events");
	jw_array(w);
	for (i = 0; i < a->nevents; i++) {
		ev = &a->events[i];
		jw_object(w);
		j_str(w, "agent", ev->agent);
		j_u64(w, "seq", ev->seq);
		j_str(w, "status", coll_audit_event_status_name(ev->status));
		if (ev->status != COLL_AUDIT_EV_NO_LEAF &&
		    ev->status != COLL_AUDIT_EV_ABSENT)
			j_u64(w, "index", ev->index);
		if (ev->made) {
			j_hex(w, "leaf_hash", ev->leaf);
			j_str(w, "against",
			    ev->against_checkpoint ? "checkpoint" : "store");
			j_u64(w, "size", ev->size);
			j_hex(w, "root", ev->root);
			j_proof(w, ev->proof, ev->nproof);
		}
		jw_key(w, "verified");
		jw_bool(
		    w, ev->status == COLL_AUDIT_EV_FOUND && ev->verified == 0);
		jw_object_end(w);
	}
	jw_array_end(w);
}

static void
j_checkpoint(struct jw *w, const struct coll_audit *a)
{
	jw_key(w, "checkpoint");
	jw_object(w);
	j_str(w, "origin", a->cp_origin);
	j_u64(w, "size", a->cp_size);
	j_hex(w, "root", a->cp_root);
	jw_key(w, "time");
	jw_i64(w, a->cp_time);
	j_str(w, "store_root", coll_audit_verdict_name(a->cp_match));
	if (a->cp_match == COLL_AUDIT_DIFFERS)
		j_hex(w, "recomputed_root", a->cp_recomputed);
	jw_object_end(w);
	jw_key(w, "latest_checkpoint");
	jw_object(w);
	jw_key(w, "present");
	jw_bool(w, a->latest || a->latest_sig != 0);
	jw_key(w, "signature_ok");
	jw_bool(w, a->latest && a->latest_sig == 0);
	if (a->latest_why != NULL)
		j_str(w, "why", a->latest_why);
	if (a->latest) {
		j_str(w, "origin", a->latest_origin);
		j_u64(w, "size", a->latest_size);
		j_hex(w, "root", a->latest_root);
		j_str(
		    w, "store_root", coll_audit_verdict_name(a->latest_match));
	}
	jw_object_end(w);
}

static void
j_store(struct jw *w, const struct coll_audit *a, const char *database)
{
	jw_key(w, "store");
	jw_object(w);
	j_str(w, "database", database);
	j_u64(w, "size", a->size);
	j_u64(w, "leaves", a->leaves);
	j_u64(w, "events", a->event_rows);
	j_hex(w, "state_root", a->state_root);
	if (a->root_ok)
		j_hex(w, "recomputed_root", a->root);
	j_str(w, "state_root_matches", coll_audit_verdict_name(a->state_match));
	jw_object_end(w);
	jw_key(w, "consistency");
	jw_object(w);
	j_u64(w, "m", a->cp_size);
	j_u64(w, "n", a->size);
	jw_key(w, "verified");
	jw_bool(w, a->consistency == 0);
	if (a->cons_made)
		j_proof(w, a->cons_proof, a->cons_n);
	jw_object_end(w);
}

int
coll_audit_json(
    const struct coll_audit *a, const char *database, struct sbuf *out)
{
	struct jw w;

	if (a == NULL || database == NULL || out == NULL)
		return -EINVAL;
	jw_init(&w, out);
	jw_object(&w);
	jw_key(&w, "ok");
	jw_bool(&w, coll_audit_ok(a));
	j_checkpoint(&w, a);
	j_store(&w, a, database);
	j_events(&w, a);
	j_findings(&w, a);
	j_checks(&w, a);
	jw_object_end(&w);
	return jw_finish(&w);
}
