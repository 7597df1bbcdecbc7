/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One POST /v1/events body: records back to back, exactly as the agent's
 * spool holds them.  Three passes: decode every record (a malformed one
 * ends the batch; what came before it is still processed), check every
 * signature against the client certificate without holding any lock (so
 * connections verify in parallel), then apply the chain rules in one
 * transaction (chain.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "internal.h"

#define ITEMS_FIRST 64u

struct decoded {
	struct coll_item *items;
	size_t n, cap;
	const char *bad; /* why decoding stopped, or NULL */
	size_t bad_offset;
};

static int
grow(struct decoded *d)
{
	struct coll_item *p;
	size_t cap = d->cap == 0 ? ITEMS_FIRST : d->cap * 2;

	if (cap > COLL_RECORDS_MAX)
		cap = COLL_RECORDS_MAX;
	p = reallocarray(d->items, cap, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	d->items = p;
	d->cap = cap;
	return 0;
}

/* -E2BIG: more than COLL_RECORDS_MAX records. */
static int
decode_all(const uint8_t *body, size_t len, struct decoded *d)
{
	struct coll_item *it;
	size_t off = 0;
	int r;

	while (off < len) {
		if (d->n == COLL_RECORDS_MAX)
			return -E2BIG;
		if (d->n == d->cap && (r = grow(d)) < 0)
			return r;
		it = &d->items[d->n];
		memset(it, 0, sizeof(*it));
		r = mg_record_decode(body + off, len - off, &it->rec, &d->bad);
		if (r == 0 || (r < 0 && d->bad == NULL))
			d->bad = "malformed record";
		if (r > 0 && it->rec.seq > INT64_MAX) {
			d->bad = "sequence number out of range";
			r = -EBADMSG;
		}
		if (r <= 0) {
			d->bad_offset = off;
			return 0;
		}
		mg_record_hash(&it->rec, it->hash);
		off += (size_t)r;
		d->n++;
	}
	return 0;
}

/* Index of the first record of another agent id, or n. */
static size_t
verify_range(const struct mg_verifier *v, struct coll_item *items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		items[i].verdict =
		    mg_verifier_check(v, &items[i].rec, &items[i].why);
		if (items[i].verdict == -EACCES)
			return i;
		if (items[i].verdict < 0 && items[i].why == NULL)
			items[i].why = "signature check failed";
	}
	return n;
}

struct half {
	const struct mg_verifier *v;
	struct coll_item *items;
	size_t n;
	size_t first_bad;
};

static void *
verify_half(void *arg)
{
	struct half *h = arg;

	h->first_bad = verify_range(h->v, h->items, h->n);
	return NULL;
}

/* Signature checks are nearly all of the ingest work: one terminal's
 * large batch (a drained backlog) is split over two threads. */
#define PARALLEL_MIN 256u

static size_t
verify_all(const struct mg_verifier *v, struct coll_item *items, size_t n)
{
	struct half h = { v, NULL, n - n / 2, 0 };
	pthread_t t;
	size_t first;

	if (n < PARALLEL_MIN)
		return verify_range(v, items, n);
	h.items = items + n / 2;
	if (pthread_create(&t, NULL, verify_half, &h) != 0)
		return verify_range(v, items, n);
	first = verify_range(v, items, n / 2);
	pthread_join(t, NULL);
	if (first < n / 2)
		return first;
	return n / 2 + h.first_bad;
}

static size_t
offset_of(const uint8_t *body, const struct coll_item *it)
{
	return (size_t)(it->rec.raw - body);
}

static const char cert_sql[] =
    "INSERT INTO certificates(agent_id, key_id, der, first_seen)"
    " VALUES(?, ?, ?, ?) ON CONFLICT DO NOTHING";

/* Keep the certificate the records verify with, so an export can be
 * checked with the CA alone.  Before the records: an export never holds a
 * record without its certificate. */
static int
store_cert(struct coll_store *st, const struct mg_verifier *v,
    const uint8_t *der, size_t der_len, const struct decoded *d,
    int64_t now_ns)
{
	size_t i;
	int r;

	for (i = 0; i < d->n && d->items[i].verdict != 0; i++)
		;
	if (der == NULL || i == d->n)
		return 0;
	coll_store_lock(st);
	r = coll_store_run(st, cert_sql, NULL, "tbbi", mg_verifier_agent_id(v),
	    d->items[i].rec.key_id, (size_t)MG_REC_KEY_ID_LEN, der, der_len,
	    now_ns);
	coll_store_unlock(st);
	return r;
}

int
coll_ingest(struct coll_store *st, const struct mg_verifier *v,
    const uint8_t *body, size_t len, int64_t now_ns, struct coll_result *res)
{
	return coll_ingest_cert(st, v, NULL, 0, body, len, now_ns, res);
}

int
coll_ingest_cert(struct coll_store *st, const struct mg_verifier *v,
    const uint8_t *der, size_t der_len, const uint8_t *body, size_t len,
    int64_t now_ns, struct coll_result *res)
{
	struct decoded d = { NULL, 0, 0, NULL, 0 };
	size_t bad;
	int r;

	if (st == NULL || v == NULL || res == NULL || (body == NULL && len > 0))
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	r = decode_all(body, len, &d);
	if (r == -E2BIG) {
		res->status = 413;
		res->error = "more than 10000 records in one request";
		r = 0;
		goto out;
	}
	if (r < 0)
		goto out;
	bad = verify_all(v, d.items, d.n);
	if (bad < d.n) {
		/* Nothing of the request is stored; the alert is. */
		r = coll_chain_mismatch(
		    st, mg_verifier_agent_id(v), &d.items[bad].rec, now_ns);
		if (r < 0) /* refused all the same */
			coll_log_errno(LOG_ERR, r,
			    "cannot store the "
			    "identity-mismatch alert of %s: %s",
			    mg_verifier_agent_id(v), coll_store_errmsg(st));
		r = 0;
		res->status = 403;
		res->error = "record agent id differs from the client "
			     "certificate";
		res->offset = offset_of(body, &d.items[bad]);
		goto out;
	}
	if ((r = store_cert(st, v, der, der_len, &d, now_ns)) < 0)
		goto out;
	r = coll_chain_apply(
	    st, mg_verifier_agent_id(v), d.items, d.n, now_ns, res);
	if (r < 0)
		goto out;
	if ((r = coll_policy_events(st, mg_verifier_agent_id(v), d.items, d.n)) <
	    0) {
		coll_log_errno(LOG_ERR, r, "cannot store the policy state of "
		    "%s: %s", mg_verifier_agent_id(v), coll_store_errmsg(st));
		r = 0;	/* the records are stored: acknowledge them */
	}
	res->status = d.bad != NULL ? 400 : 200;
	res->error = d.bad;
	res->offset = d.bad_offset;
out:
	free(d.items);
	return r;
}
