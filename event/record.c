/* SPDX-License-Identifier: BSD-2-Clause */
/* The record codec: framing, CRC, field checks and the chain hash.  The
 * decoder is the first thing to touch bytes from the spool and the network,
 * so it checks every length before using it (fuzzed: fuzz_record.c). */
#include <errno.h>
#include <openssl/evp.h>
#include <string.h>

#include "internal.h"

/* Fixed part of the signed region after the agent id. */
#define FIXED_TAIL (MG_REC_KEY_ID_LEN + 8 + 8 + 8 + 8 + MG_REC_HASH_LEN + 4)

bool
mg_agent_id_valid(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > MG_REC_AGENT_ID_MAX || s[0] == '.' ||
	    s[0] == '-')
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

void
mg_hex(const uint8_t *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static int
why(const char **ret_why, const char *msg, int r)
{
	if (ret_why != NULL)
		*ret_why = msg;
	return r;
}

/* The signed region, once the frame is known to be complete and intact. */
static int
decode_region(const uint8_t *p, size_t len, struct mg_record *r,
    const char **ret_why)
{
	size_t idlen, off;

	if (len < 5 || p[0] != MG_REC_VERSION)
		return why(ret_why, "unknown record version", -EBADMSG);
	if (p[1] != MG_REC_ALG_ECDSA_P256)
		return why(ret_why, "unknown signature algorithm", -EBADMSG);
	r->flags = rd16(p + 2);
	if (r->flags & ~MG_REC_F_KNOWN)
		return why(ret_why, "unknown flags", -EBADMSG);
	idlen = p[4];
	if (len < 5 + idlen + FIXED_TAIL ||
	    !mg_agent_id_valid((const char *)p + 5, idlen))
		return why(ret_why, "bad agent id", -EBADMSG);
	memcpy(r->agent_id, p + 5, idlen);
	r->agent_id[idlen] = '\0';
	off = 5 + idlen;
	memcpy(r->key_id, p + off, MG_REC_KEY_ID_LEN);
	off += MG_REC_KEY_ID_LEN;
	r->boot_id = rd64(p + off);
	r->seq = rd64(p + off + 8);
	r->t_wall_ns = (int64_t)rd64(p + off + 16);
	r->t_boot_ns = rd64(p + off + 24);
	memcpy(r->prev_hash, p + off + 32, MG_REC_HASH_LEN);
	off += 32 + MG_REC_HASH_LEN;
	r->body_len = rd32(p + off);
	off += 4;
	if (r->seq == 0)
		return why(ret_why, "sequence number 0", -EBADMSG);
	if (r->body_len > MG_REC_BODY_MAX || r->body_len != len - off)
		return why(ret_why, "bad body length", -EBADMSG);
	r->body = p + off;
	if (json_check((const char *)r->body, r->body_len, NULL) < 0)
		return why(ret_why, "body is not strict JSON", -EBADMSG);
	return 0;
}

int
mg_record_decode(const uint8_t *buf, size_t len, struct mg_record *ret,
    const char **ret_why)
{
	struct mg_record r;
	size_t rec_len, sig_at, region_len;
	int rc;

	if (buf == NULL || ret == NULL)
		return -EINVAL;
	memset(&r, 0, sizeof(r));
	if (len < MG_REC_HEADER_LEN)
		return why(ret_why, "truncated record header", -EAGAIN);
	if (memcmp(buf, MG_REC_MAGIC, 4) != 0)
		return why(ret_why, "bad magic", -EBADMSG);
	rec_len = rd32(buf + 4);
	if (rec_len < MG_REC_HEADER_LEN + 5 + FIXED_TAIL + 2 ||
	    rec_len > MG_REC_MAX)
		return why(ret_why, "bad record length", -EBADMSG);
	if (len < rec_len)
		return why(ret_why, "truncated record", -EAGAIN);
	if (crc32c(0, buf + MG_REC_HEADER_LEN, rec_len - MG_REC_HEADER_LEN) !=
	    rd32(buf + 8))
		return why(ret_why, "CRC mismatch", -EBADMSG);
	/* The signature sits at the end: sig_len u16 | sig. Find it from the
	 * body length, which the region decoder then cross-checks. */
	if (5 + (size_t)buf[MG_REC_HEADER_LEN + 4] + FIXED_TAIL >
	    rec_len - MG_REC_HEADER_LEN)
		return why(ret_why, "bad agent id length", -EBADMSG);
	sig_at = MG_REC_HEADER_LEN + 5 + buf[MG_REC_HEADER_LEN + 4] +
	    FIXED_TAIL;
	sig_at += rd32(buf + sig_at - 4);	/* + body_len */
	if (sig_at > rec_len - 2 || sig_at < MG_REC_HEADER_LEN)
		return why(ret_why, "bad body length", -EBADMSG);
	r.sig_len = rd16(buf + sig_at);
	if (r.sig_len == 0 || r.sig_len > MG_REC_SIG_MAX ||
	    sig_at + 2 + r.sig_len != rec_len)
		return why(ret_why, "bad signature length", -EBADMSG);
	region_len = sig_at - MG_REC_HEADER_LEN;
	rc = decode_region(buf + MG_REC_HEADER_LEN, region_len, &r, ret_why);
	if (rc < 0)
		return rc;
	r.signed_region = buf + MG_REC_HEADER_LEN;
	r.signed_len = region_len;
	r.sig = buf + sig_at + 2;
	r.raw = buf;
	r.raw_len = rec_len;
	*ret = r;
	return (int)rec_len;
}

void
mg_record_seal(uint8_t *rec, size_t len)
{
	if (len < MG_REC_HEADER_LEN)
		return;
	be32(rec + 8, crc32c(0, rec + MG_REC_HEADER_LEN,
	    len - MG_REC_HEADER_LEN));
}

void
mg_record_hash(const struct mg_record *r, uint8_t out[MG_REC_HASH_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t sl[2];
	unsigned n = 0;

	be16(sl, r->sig_len);
	/* SHA-256 cannot fail on a valid context; a NULL context (no memory)
	 * yields an all-zero hash, which never matches a chain. */
	memset(out, 0, MG_REC_HASH_LEN);
	if (ctx == NULL)
		return;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, CHAIN_CONTEXT, sizeof(CHAIN_CONTEXT)) != 1 ||
	    EVP_DigestUpdate(ctx, r->signed_region, r->signed_len) != 1 ||
	    EVP_DigestUpdate(ctx, sl, 2) != 1 ||
	    EVP_DigestUpdate(ctx, r->sig, r->sig_len) != 1 ||
	    EVP_DigestFinal_ex(ctx, out, &n) != 1)
		memset(out, 0, MG_REC_HASH_LEN);
	EVP_MD_CTX_free(ctx);
}

static int
put_region(const struct mg_signer *s, const struct mg_record_in *in,
    struct sbuf *b)
{
	const char *id = mg_signer_agent_id(s);
	uint8_t h[5 + MG_REC_AGENT_ID_MAX + FIXED_TAIL];
	size_t idlen = strlen(id), off;

	h[0] = MG_REC_VERSION;
	h[1] = MG_REC_ALG_ECDSA_P256;
	be16(h + 2, in->flags);
	h[4] = (uint8_t)idlen;
	memcpy(h + 5, id, idlen);
	off = 5 + idlen;
	signer_key_id(s, h + off);
	off += MG_REC_KEY_ID_LEN;
	be64(h + off, in->boot_id);
	be64(h + off + 8, in->seq);
	be64(h + off + 16, (uint64_t)in->t_wall_ns);
	be64(h + off + 24, in->t_boot_ns);
	memcpy(h + off + 32, in->prev_hash, MG_REC_HASH_LEN);
	off += 32 + MG_REC_HASH_LEN;
	be32(h + off, (uint32_t)in->body_len);
	off += 4;
	if (sbuf_put(b, h, off) < 0 || sbuf_put(b, in->body, in->body_len) < 0)
		return -E2BIG;
	return 0;
}

int
mg_record_encode(const struct mg_signer *s, const struct mg_record_in *in,
    struct sbuf *out, uint8_t ret_hash[MG_REC_HASH_LEN])
{
	uint8_t sig[MG_REC_SIG_MAX], tail[2], hdr[MG_REC_HEADER_LEN];
	size_t start, sig_len = sizeof(sig), total;
	struct mg_record r;
	int rc;

	if (s == NULL || in == NULL || out == NULL || in->seq == 0 ||
	    (in->flags & ~MG_REC_F_KNOWN) || in->body_len > MG_REC_BODY_MAX ||
	    json_check(in->body, in->body_len, NULL) < 0)
		return -EINVAL;
	start = out->len;
	memset(hdr, 0, sizeof(hdr));
	if ((rc = sbuf_put(out, hdr, sizeof(hdr))) < 0 ||
	    (rc = put_region(s, in, out)) < 0)
		goto fail;
	rc = signer_sign(s, (const uint8_t *)out->data + start +
	    MG_REC_HEADER_LEN, out->len - start - MG_REC_HEADER_LEN, sig,
	    &sig_len);
	if (rc < 0)
		goto fail;
	be16(tail, (uint16_t)sig_len);
	if ((rc = sbuf_put(out, tail, 2)) < 0 ||
	    (rc = sbuf_put(out, sig, sig_len)) < 0)
		goto fail;
	total = out->len - start;
	memcpy(hdr, MG_REC_MAGIC, 4);
	be32(hdr + 4, (uint32_t)total);
	memcpy(out->data + start, hdr, sizeof(hdr));
	mg_record_seal((uint8_t *)out->data + start, total);
	/* Decode what we wrote: the hash is computed exactly as a verifier
	 * will, and an encoder bug cannot reach the spool. */
	if (mg_record_decode((const uint8_t *)out->data + start, total, &r,
	    NULL) != (int)total) {
		rc = -EIO;
		goto fail;
	}
	mg_record_hash(&r, ret_hash);
	return 0;
fail:
	out->len = start;	/* leave out as it was */
	if (out->data != NULL)
		out->data[start] = '\0';
	return rc;
}
