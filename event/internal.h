/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_EVENT_INTERNAL_H
#define MYNAGUARD_EVENT_INTERNAL_H

#include "mynaguard/event.h"

#define SIG_CONTEXT "MG-EVT-SIG-v1"		/* signed with its NUL */
#define CHAIN_CONTEXT "MG-EVT-CHAIN-v1"		/* hashed with its NUL */

static inline void
be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
be32(uint8_t *p, uint32_t v)
{
	be16(p, (uint16_t)(v >> 16));
	be16(p + 2, (uint16_t)v);
}

static inline void
be64(uint8_t *p, uint64_t v)
{
	be32(p, (uint32_t)(v >> 32));
	be32(p + 4, (uint32_t)v);
}

static inline uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)rd16(p) << 16 | rd16(p + 2);
}

static inline uint64_t
rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) << 32 | rd32(p + 4);
}

/* sign.c: ECDSA over SIG_CONTEXT || region. */
int signer_sign(const struct mg_signer *s, const uint8_t *region, size_t len,
    uint8_t *sig, size_t *sig_len);
void signer_key_id(const struct mg_signer *s, uint8_t out[MG_REC_KEY_ID_LEN]);

#endif
