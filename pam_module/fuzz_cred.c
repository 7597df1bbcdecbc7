/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz the credentials file parser: no crash, no read past the input, a
 * diagnostic that points into the text on every refusal, and for every
 * accepted text a format/parse round trip that gives the same list and,
 * formatted again, the same bytes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mynaguard/login.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static int
str_eq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

static int
cred_eq(const struct pmod_cred *a, const struct pmod_cred *b)
{
	return str_eq(a->user, b->user) && a->id_len == b->id_len &&
	    memcmp(a->id, b->id, a->id_len) == 0 && a->alg == b->alg &&
	    a->pubkey_len == b->pubkey_len &&
	    memcmp(a->pubkey, b->pubkey, a->pubkey_len) == 0 &&
	    str_eq(a->rp_id, b->rp_id) && a->opts == b->opts &&
	    a->has_aaguid == b->has_aaguid &&
	    memcmp(a->aaguid, b->aaguid, 16) == 0 &&
	    a->created == b->created && str_eq(a->label, b->label);
}

static void
check_diag(const struct pmod_diag *d, const unsigned char *data, size_t size)
{
	size_t lines = 1, i;

	for (i = 0; i < size; i++)
		lines += data[i] == '\n';
	if (d->line < 1 || d->line > lines || d->col < 1 ||
	    d->msg[0] == '\0' || memchr(d->msg, '\0', sizeof(d->msg)) == NULL)
		abort();
}

/* format(a) parses back to the same list and formats to the same text. */
static void
round_trip(const struct pmod_creds *a, size_t size)
{
	struct pmod_creds *b = NULL;
	struct pmod_diag d;
	struct sbuf s1, s2;
	size_t i;
	int r;

	sbuf_init(&s1, 2 * size + 4096);
	sbuf_init(&s2, 2 * size + 4096);
	if ((r = pmod_creds_format(a, &s1)) == -ENOMEM)
		goto out;
	if (r < 0)
		abort();
	if ((r = pmod_creds_parse(s1.data, s1.len, &b, &d)) == -ENOMEM)
		goto out;
	if (r < 0 || pmod_creds_count(a) != pmod_creds_count(b))
		abort();
	for (i = 0; i < pmod_creds_count(a); i++)
		if (!cred_eq(pmod_creds_at(a, i), pmod_creds_at(b, i)))
			abort();
	if ((r = pmod_creds_format(b, &s2)) == -ENOMEM)
		goto out;
	if (r < 0 || s1.len != s2.len || memcmp(s1.data, s2.data, s1.len))
		abort();
out:
	pmod_creds_free(b);
	sbuf_clear(&s1);
	sbuf_clear(&s2);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const struct pmod_cred *mine[4];
	struct pmod_creds *a = NULL;
	struct pmod_diag d;
	int r;

	if (size > PMOD_CRED_FILE_MAX)
		return 0;
	r = pmod_creds_parse((const char *)data, size, &a, &d);
	if (r == -EBADMSG)
		check_diag(&d, data, size);
	else if (r < 0 && r != -ENOMEM)
		abort();
	if (r < 0)
		return 0;
	round_trip(a, size);
	if (pmod_creds_count(a) > 0 && pmod_creds_for_user(a,
	    pmod_creds_at(a, 0)->user, mine, 4) == 0)
		abort();
	pmod_creds_free(a);
	return 0;
}
