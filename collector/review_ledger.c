/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * GET /v1/review/checkpoint: the newest signed checkpoint of the Merkle
 * log, as text (docs/checkpoints.md), for the officer to keep outside the
 * collector (mynaguard-review checkpoint -o FILE, or a printout).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "review.h"

enum MHD_Result
coll_review_checkpoint(struct coll_server *srv, struct MHD_Connection *conn)
{
	char *text = NULL;
	struct sbuf b;
	int r;

	coll_store_lock(srv->st);
	r = coll_ledger_latest(srv->st, &text);
	coll_store_unlock(srv->st);
	if (r < 0)
		return coll_review_fail_errno(conn, r);
	if (r == 0)
		return coll_review_fail(conn, MHD_HTTP_NOT_FOUND,
		    "no checkpoint has been signed yet");
	sbuf_init(&b, strlen(text) + 1);
	r = sbuf_puts(&b, text);
	free(text);
	if (r < 0) {
		sbuf_clear(&b);
		return coll_review_fail_errno(conn, r);
	}
	return coll_review_send(conn, MHD_HTTP_OK,
	    "text/plain; charset=us-ascii", &b);
}
