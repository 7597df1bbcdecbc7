/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * CBOR helpers over libcbor: look up request fields by integer or text key
 * and build reply maps.  Builders take ownership of the items they are
 * given (also on failure), so callers can nest them in one expression.
 */

#include <errno.h>
#include <string.h>

#include "softkey_int.h"

static bool
key_is(const cbor_item_t *k, int64_t want)
{
	int64_t v;

	return cb_int(k, &v) == 0 && v == want;
}

/* The value for integer key in a definite map, or NULL. */
const cbor_item_t *
cb_get(const cbor_item_t *map, int64_t key)
{
	struct cbor_pair *p;
	size_t n;

	if (map == NULL || !cbor_isa_map(map) || !cbor_map_is_definite(map))
		return NULL;
	p = cbor_map_handle(map);
	n = cbor_map_size(map);
	for (size_t i = 0; i < n; i++)
		if (key_is(p[i].key, key))
			return p[i].value;
	return NULL;
}

const cbor_item_t *
cb_get_str(const cbor_item_t *map, const char *key)
{
	struct cbor_pair *p;
	const char *s;
	size_t n, len;

	if (map == NULL || !cbor_isa_map(map) || !cbor_map_is_definite(map))
		return NULL;
	p = cbor_map_handle(map);
	n = cbor_map_size(map);
	for (size_t i = 0; i < n; i++)
		if (cb_text(p[i].key, &s, &len) == 0 && len == strlen(key) &&
		    memcmp(s, key, len) == 0)
			return p[i].value;
	return NULL;
}

int
cb_bytes(const cbor_item_t *it, const uint8_t **ret, size_t *ret_len)
{
	if (it == NULL || !cbor_isa_bytestring(it) ||
	    !cbor_bytestring_is_definite(it))
		return -EBADMSG;
	*ret = cbor_bytestring_handle(it);
	*ret_len = cbor_bytestring_length(it);
	if (*ret == NULL)
		*ret = (const uint8_t *)"";
	return 0;
}

int
cb_text(const cbor_item_t *it, const char **ret, size_t *ret_len)
{
	const unsigned char *p;

	if (it == NULL || !cbor_isa_string(it) || !cbor_string_is_definite(it))
		return -EBADMSG;
	p = cbor_string_handle(it);
	*ret = p != NULL ? (const char *)p : "";
	*ret_len = cbor_string_length(it);
	return 0;
}

int
cb_int(const cbor_item_t *it, int64_t *ret)
{
	uint64_t v;

	if (it == NULL)
		return -EBADMSG;
	if (cbor_isa_uint(it)) {
		v = cbor_get_int(it);
		if (v > INT64_MAX)
			return -ERANGE;
		*ret = (int64_t)v;
		return 0;
	}
	if (cbor_isa_negint(it)) {
		v = cbor_get_int(it); /* the value is -1 - v */
		if (v > INT64_MAX)
			return -ERANGE;
		*ret = -1 - (int64_t)v;
		return 0;
	}
	return -EBADMSG;
}

int
cb_bool(const cbor_item_t *it, bool *ret)
{
	if (it == NULL || !cbor_is_bool(it))
		return -EBADMSG;
	*ret = cbor_get_bool(it);
	return 0;
}

/* Canonical CBOR (CTAP 2.0 §6): the shortest encoding of the integer;
 * libfido2 rejects map keys wider than 8 bits. */
static cbor_item_t *
build_uint(uint64_t v, bool neg)
{
	if (v <= UINT8_MAX)
		return neg ? cbor_build_negint8((uint8_t)v) :
			     cbor_build_uint8((uint8_t)v);
	if (v <= UINT16_MAX)
		return neg ? cbor_build_negint16((uint16_t)v) :
			     cbor_build_uint16((uint16_t)v);
	if (v <= UINT32_MAX)
		return neg ? cbor_build_negint32((uint32_t)v) :
			     cbor_build_uint32((uint32_t)v);
	return neg ? cbor_build_negint64(v) : cbor_build_uint64(v);
}

cbor_item_t *
cb_new_int(int64_t v)
{
	if (v >= 0)
		return build_uint((uint64_t)v, false);
	return build_uint((uint64_t)(-1 - v), true);
}

/* Hand over *p (for a consuming call) and forget it. */
cbor_item_t *
cb_take(cbor_item_t **p)
{
	cbor_item_t *it = *p;

	*p = NULL;
	return it;
}

void
cb_free(cbor_item_t **p)
{
	if (*p != NULL)
		cbor_decref(p);
	*p = NULL;
}

/* map[key] = val; consumes both references. */
int
cb_put(cbor_item_t *map, cbor_item_t *key, cbor_item_t *val)
{
	int r = -ENOMEM;

	if (map != NULL && key != NULL && val != NULL &&
	    cbor_map_add(map, (struct cbor_pair){ .key = key, .value = val }))
		r = 0;
	if (key != NULL)
		cbor_decref(&key);
	if (val != NULL)
		cbor_decref(&val);
	return r;
}

int
cb_put_int(cbor_item_t *map, int64_t key, cbor_item_t *val)
{
	return cb_put(map, cb_new_int(key), val);
}

int
cb_push(cbor_item_t *array, cbor_item_t *val)
{
	int r = -ENOMEM;

	if (array != NULL && val != NULL && cbor_array_push(array, val))
		r = 0;
	if (val != NULL)
		cbor_decref(&val);
	return r;
}

/* A COSE_Key for a P-256 point (RFC 8152 §13.1.1), keys in CTAP2 order. */
cbor_item_t *
cb_cose_es256(const uint8_t x[32], const uint8_t y[32], int64_t alg)
{
	cbor_item_t *m;

	if ((m = cbor_new_definite_map(5)) == NULL)
		return NULL;
	if (cb_put_int(m, 1, cb_new_int(2)) < 0 || /* kty: EC2 */
	    cb_put_int(m, 3, cb_new_int(alg)) < 0 ||
	    cb_put_int(m, -1, cb_new_int(1)) < 0 || /* crv: P-256 */
	    cb_put_int(m, -2, cbor_build_bytestring(x, 32)) < 0 ||
	    cb_put_int(m, -3, cbor_build_bytestring(y, 32)) < 0) {
		cbor_decref(&m);
		return NULL;
	}
	return m;
}

/* x and y of a P-256 COSE_Key; -EBADMSG for anything else. */
int
cb_cose_es256_get(const cbor_item_t *key, uint8_t x[32], uint8_t y[32])
{
	const uint8_t *px, *py;
	size_t lx, ly;
	int64_t kty, crv;

	if (cb_int(cb_get(key, 1), &kty) < 0 || kty != 2 ||
	    cb_int(cb_get(key, -1), &crv) < 0 || crv != 1 ||
	    cb_bytes(cb_get(key, -2), &px, &lx) < 0 || lx != 32 ||
	    cb_bytes(cb_get(key, -3), &py, &ly) < 0 || ly != 32)
		return -EBADMSG;
	memcpy(x, px, 32);
	memcpy(y, py, 32);
	return 0;
}
