/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz the pam_u2f authfile importer: no crash, all or nothing (a refused
 * file leaves the list as it was), a diagnostic on every refusal, and what
 * was imported survives our own format unchanged.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mynaguard/login.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

/* One credential already enrolled (the P-256 base point as its key), so
 * that all-or-nothing is checked against a non-empty list. */
static const uint8_t g_xy[64] = {
	0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6,
	0xe5, 0x63, 0xa4, 0x40, 0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb,
	0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2, 0x96, 0x4f,
	0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a,
	0x7c, 0x0f, 0x9e, 0x16, 0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e,
	0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5,
};

static int
seed(struct pmod_creds *c)
{
	static const uint8_t id[] = { 1, 2, 3, 4 };
	struct pmod_cred cr;

	memset(&cr, 0, sizeof(cr));
	cr.user = "root";
	cr.id = id;
	cr.id_len = sizeof(id);
	cr.alg = PMOD_ALG_ES256;
	cr.pubkey = g_xy;
	cr.pubkey_len = sizeof(g_xy);
	cr.rp_id = "pam://fuzz";
	cr.label = "seed";
	return pmod_creds_add(c, &cr);
}

static void
round_trip(const struct pmod_creds *a)
{
	const struct pmod_cred *x, *y;
	struct pmod_creds *b = NULL;
	struct pmod_diag d;
	struct sbuf s;
	size_t i;
	int r;

	sbuf_init(&s, 2 * PMOD_CRED_FILE_MAX);
	if ((r = pmod_creds_format(a, &s)) == 0)
		r = pmod_creds_parse(s.data, s.len, &b, &d);
	if (r < 0 && r != -ENOMEM)
		abort();
	for (i = 0; r == 0 && i < pmod_creds_count(a); i++) {
		x = pmod_creds_at(a, i);
		y = pmod_creds_at(b, i);
		if (y == NULL || strcmp(x->user, y->user) != 0 ||
		    x->id_len != y->id_len ||
		    memcmp(x->id, y->id, x->id_len) != 0 ||
		    x->pubkey_len != y->pubkey_len ||
		    memcmp(x->pubkey, y->pubkey, x->pubkey_len) != 0 ||
		    x->alg != y->alg || x->opts != y->opts)
			abort();
	}
	pmod_creds_free(b);
	sbuf_clear(&s);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct pmod_creds *c = NULL;
	struct pmod_diag d;
	int r;

	if (pmod_creds_new(&c) < 0 || seed(c) < 0)
		goto out;
	r = pmod_u2f_parse((const char *)data, size, "pam://fuzz", c, &d);
	if (r < 0 && r != -EBADMSG && r != -EEXIST && r != -E2BIG &&
	    r != -ENOMEM)
		abort();
	if (r < 0 && pmod_creds_count(c) != 1)
		abort();	/* not all or nothing */
	if ((r == -EBADMSG || r == -EEXIST) && (d.line < 1 || d.col < 1 ||
	    d.msg[0] == '\0'))
		abort();
	if (r >= 0 && pmod_creds_count(c) != (size_t)r + 1)
		abort();
	if (r >= 0)
		round_trip(c);
out:
	pmod_creds_free(c);
	return 0;
}
