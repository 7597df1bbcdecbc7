/* SPDX-License-Identifier: BSD-2-Clause */
/* Fuzz the local submission decoder and the body builder behind it: a
 * decoded message must re-encode to the same bytes, and any body built from
 * it must be strict JSON. */
#include <stdlib.h>
#include <string.h>

#include "mynaguard/event.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const struct mg_event_ctx ctx = { "host", "agent-1", 7, 3,
	    1700000000123456789 };
	struct mg_submit s;
	struct sbuf b;

	if (mg_ipc_decode(data, size, &s, NULL) != MG_IPC_SUBMIT)
		return 0;
	sbuf_init(&b, MG_IPC_MSG_MAX);
	if (mg_ipc_encode_submit(&s, &b) != 0 || b.len != size ||
	    memcmp(b.data, data, size) != 0)
		abort();
	sbuf_clear(&b);
	sbuf_init(&b, MG_REC_BODY_MAX);
	if (mg_event_body(s.type, s.f, s.n, &ctx, &b, NULL) == 0 &&
	    json_check(b.data, b.len, NULL) != 0)
		abort();
	sbuf_clear(&b);
	return 0;
}
