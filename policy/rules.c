/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One device rule in the USBGuard 1.1 rule language, plus mynaguard's
 * read-only target and kind/bus attributes.  The grammar follows usbguard's
 * RuleParser/Grammar.hpp: tokens are separated by blanks, a rule may end in
 * a # comment, each attribute appears once (label may repeat).
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

static const char *const target_names[] = {
	[POL_TARGET_ALLOW] = "allow",
	[POL_TARGET_BLOCK] = "block",
	[POL_TARGET_REJECT] = "reject",
	[POL_TARGET_READ_ONLY] = "read-only",
	[POL_TARGET_MATCH] = "match",
	[POL_TARGET_DEVICE] = "device",
};

static const struct {
	const char *word;
	enum vtype type;
} attrs[ATTR_COUNT_] = {
	[ATTR_ID] = { "id", VT_ID },
	[ATTR_SERIAL] = { "serial", VT_STRING },
	[ATTR_NAME] = { "name", VT_STRING },
	[ATTR_HASH] = { "hash", VT_STRING },
	[ATTR_PARENT_HASH] = { "parent-hash", VT_STRING },
	[ATTR_VIA_PORT] = { "via-port", VT_STRING },
	[ATTR_WITH_INTERFACE] = { "with-interface", VT_IFACE },
	[ATTR_KIND] = { "kind", VT_KIND },
	[ATTR_BUS] = { "bus", VT_BUS },
	[ATTR_CONNECT_TYPE] = { "with-connect-type", VT_STRING },
	[ATTR_LABEL] = { "label", VT_STRING },
};

static const char *const kind_names[POL_KIND_COUNT_] = {
	"storage", "sd", "optical", "mtp", "ptp", "hid", "fido", "hub",
	"printer", "audio", "video", "network", "smartcard", "other",
};

static const char *const bus_names[POL_BUS_COUNT_] = {
	[POL_BUS_USB] = "usb",
	[POL_BUS_MMC] = "mmc",
	[POL_BUS_ATA] = "ata",
	[POL_BUS_SCSI] = "scsi",
	[POL_BUS_OTHER] = "other",
};

static const char *const setop_names[] = {
	[SETOP_EQUALS] = "equals",
	[SETOP_ALL_OF] = "all-of",
	[SETOP_ONE_OF] = "one-of",
	[SETOP_NONE_OF] = "none-of",
	[SETOP_EQUALS_ORDERED] = "equals-ordered",
	[SETOP_MATCH_ALL] = "match-all",
};

const char *
target_name(enum pol_target t)
{
	return target_names[t];
}

const char *
attr_keyword(enum attr a)
{
	return attrs[a].word;
}

const char *
kind_name(unsigned bit)
{
	return bit < POL_KIND_COUNT_ ? kind_names[bit] : "?";
}

const char *
bus_name(enum pol_bus b)
{
	return (unsigned)b < POL_BUS_COUNT_ ? bus_names[b] : "?";
}

const char *
setop_name(enum setop op)
{
	return setop_names[op];
}

int
target_from_word(const char *s, size_t n, enum pol_target *ret)
{
	size_t i;

	for (i = 0; i < MG_ELEMENTSOF(target_names); i++)
		if (strlen(target_names[i]) == n &&
		    memcmp(target_names[i], s, n) == 0) {
			*ret = (enum pol_target)i;
			return 0;
		}
	return -ENOENT;
}

static int
lookup(const char *const *names, size_t count, const struct lex *lx,
    size_t n)
{
	size_t i;

	for (i = 0; i < count; i++)
		if (lex_word_is(lx, n, names[i]))
			return (int)i;
	return -1;
}

/* hex4 or '*' (usbguard hex4 / device_vid). */
static int
id_half(struct lex *lx, uint16_t *ret, bool *ret_any)
{
	unsigned v = 0;
	size_t i;
	int d;

	if (lx->pos < lx->len && lx->s[lx->pos] == '*') {
		lx->pos++;
		*ret_any = true;
		*ret = 0;
		return 0;
	}
	for (i = 0; i < 4; i++) {
		if (lx->pos + i >= lx->len ||
		    (d = parse_hexdigit(lx->s[lx->pos + i])) < 0)
			return lex_error(lx, lx->pos,
			    "expected four hex digits or *");
		v = v << 4 | (unsigned)d;
	}
	lx->pos += 4;
	*ret_any = false;
	*ret = (uint16_t)v;
	return 0;
}

static int
parse_id(struct lex *lx, struct pol_value *v)
{
	size_t start = lx->pos, n;
	int r;

	if ((r = id_half(lx, &v->u.id.vid, &v->u.id.vid_any)) < 0)
		return r;
	if (lx->pos >= lx->len || lx->s[lx->pos] != ':')
		return lex_error(lx, lx->pos, "expected ':' in vendor:product");
	lx->pos++;
	if ((r = id_half(lx, &v->u.id.pid, &v->u.id.pid_any)) < 0)
		return r;
	if (v->u.id.vid_any && !v->u.id.pid_any)
		return lex_error(lx, start,
		    "a product id needs a vendor id (write *:* or VVVV:*)");
	n = lx->pos - start;
	memcpy(v->u.id.text, lx->s + start, n);
	v->u.id.text[n] = '\0';
	return 0;
}

static int
hex2(struct lex *lx, uint8_t *ret, bool *ret_any, bool wild_ok)
{
	int hi, lo;

	if (wild_ok && lx->pos < lx->len && lx->s[lx->pos] == '*') {
		lx->pos++;
		*ret = 0;
		*ret_any = true;
		return 0;
	}
	if (lx->pos + 1 >= lx->len ||
	    (hi = parse_hexdigit(lx->s[lx->pos])) < 0 ||
	    (lo = parse_hexdigit(lx->s[lx->pos + 1])) < 0)
		return lex_error(lx, lx->pos, wild_ok ?
		    "expected two hex digits or *" : "expected two hex digits");
	lx->pos += 2;
	*ret = (uint8_t)(hi << 4 | lo);
	*ret_any = false;
	return 0;
}

/* CC:SS:PP (usbguard interface_value + USBInterfaceType checks). */
static int
parse_iface(struct lex *lx, struct pol_value *v)
{
	size_t start = lx->pos;
	bool any;
	int r;

	if ((r = hex2(lx, &v->u.iface.cls, &any, false)) < 0)
		return r;
	if (lx->pos >= lx->len || lx->s[lx->pos] != ':')
		return lex_error(lx, lx->pos, "expected ':' in CC:SS:PP");
	lx->pos++;
	if ((r = hex2(lx, &v->u.iface.sub, &v->u.iface.sub_any, true)) < 0)
		return r;
	if (lx->pos >= lx->len || lx->s[lx->pos] != ':')
		return lex_error(lx, lx->pos, "expected ':' in CC:SS:PP");
	lx->pos++;
	if ((r = hex2(lx, &v->u.iface.proto, &v->u.iface.proto_any, true)) < 0)
		return r;
	if (v->u.iface.sub_any && !v->u.iface.proto_any)
		return lex_error(lx, start,
		    "a protocol needs a subclass (write CC:*:* or CC:SS:PP)");
	return 0;
}

static int
parse_word_value(struct lex *lx, const char *const *names, size_t count,
    const char *what, int *ret)
{
	size_t n = lex_word(lx);
	int i;

	if (n == 0)
		return lex_error(lx, lx->pos, "expected a %s", what);
	if ((i = lookup(names, count, lx, n)) < 0)
		return lex_error(lx, lx->pos, "unknown %s \"%.*s\"", what,
		    (int)(n > 40 ? 40 : n), lx->s + lx->pos);
	lx->pos += n;
	*ret = i;
	return 0;
}

static int
parse_value(struct lex *lx, enum vtype t, struct pol_value *v)
{
	int i = 0, r;

	switch (t) {
	case VT_ID:
		return parse_id(lx, v);
	case VT_IFACE:
		return parse_iface(lx, v);
	case VT_STRING:
		return lex_string(lx, &v->u.str.s, &v->u.str.len);
	case VT_KIND:
		r = parse_word_value(lx, kind_names, POL_KIND_COUNT_,
		    "device kind", &i);
		v->u.kind = (unsigned)i;
		return r;
	case VT_BUS:
		r = parse_word_value(lx, bus_names, POL_BUS_COUNT_, "bus", &i);
		v->u.bus = (enum pol_bus)i;
		return r;
	}
	return -EINVAL;
}

static int
parse_setop(struct lex *lx, enum setop *ret)
{
	size_t n = lex_word(lx), save = lx->pos;
	int i;

	if (n == 0 || (i = lookup(setop_names, MG_ELEMENTSOF(setop_names),
	    lx, n)) < 0)
		return 0;
	lx->pos += n;
	if (lex_skip_blanks(lx) == 0 || lx->pos >= lx->len ||
	    lx->s[lx->pos] != '{') {
		lx->pos = save;
		return lex_error(lx, save + n,
		    "expected blanks and { after \"%s\"", setop_names[i]);
	}
	*ret = (enum setop)i;
	return 1;
}

/* Grow an arena array of n elements of size sz by one slot. */
static int
grow_array(struct lex *lx, void **v, size_t n, size_t *cap, size_t sz)
{
	void *nv;

	if (n < *cap)
		return 0;
	if (n >= POL_SET_MAX)
		return lex_error(lx, lx->pos, "more than %u values in one set",
		    POL_SET_MAX);
	*cap = *cap ? *cap * 2 : 4;
	nv = arena_alloc(lx->arena, *cap * sz);
	if (nv == NULL)
		return -ENOMEM;
	if (n > 0)
		memcpy(nv, *v, n * sz);
	*v = nv;
	return 0;
}

/* One element of a set: a value of an attribute, or a condition. */
struct elem {
	enum vtype t;
	struct pol_attr *a;	/* values, or NULL for conditions */
	struct pol_rule *r;
	size_t cap;
};

static int
parse_elem(struct lex *lx, struct elem *e)
{
	int rc;

	if (e->a != NULL) {
		rc = grow_array(lx, (void **)&e->a->v, e->a->n, &e->cap,
		    sizeof(*e->a->v));
		if (rc < 0 || (rc = parse_value(lx, e->t,
		    &e->a->v[e->a->n])) < 0)
			return rc;
		e->a->n++;
		return 0;
	}
	rc = grow_array(lx, (void **)&e->r->cond, e->r->n_cond, &e->cap,
	    sizeof(*e->r->cond));
	if (rc < 0 || (rc = cond_parse(lx, &e->r->cond[e->r->n_cond])) < 0)
		return rc;
	e->r->n_cond++;
	return 0;
}

/* `item` or `[operator] { item item ... }` (usbguard
 * attribute_value_multiset); *op is set when there is an operator. */
static int
parse_set(struct lex *lx, struct elem *e, enum setop *op)
{
	int rc;

	if ((rc = parse_setop(lx, op)) < 0)
		return rc;
	if (rc == 0 && (lx->pos >= lx->len || lx->s[lx->pos] != '{'))
		return parse_elem(lx, e);
	lx->pos++;	/* { */
	lex_skip_blanks(lx);
	for (;;) {
		if ((rc = parse_elem(lx, e)) < 0)
			return rc;
		lex_skip_blanks(lx);
		if (lx->pos < lx->len && lx->s[lx->pos] == '}')
			break;
		if (lx->pos >= lx->len)
			return lex_error(lx, lx->pos, "missing } to close set");
		if (!lex_blank(lx->s[lx->pos - 1]))
			return lex_error(lx, lx->pos, "expected blank between "
			    "%s", e->a != NULL ? "values" : "conditions");
	}
	lx->pos++;	/* } */
	return 0;
}

/* Values of attribute a (label may come again: its values add up, in a
 * new array, since the old one's capacity is not known here). */
static int
parse_values(struct lex *lx, enum vtype t, struct pol_attr *a)
{
	struct elem e = { .t = t, .a = a, .cap = a->n };

	return parse_set(lx, &e, &a->op);
}

static int
parse_conditions(struct lex *lx, struct pol_rule *r)
{
	struct elem e = { .r = r };

	r->has_cond = true;
	return parse_set(lx, &e, &r->cond_op);
}

static int
find_attr(const struct lex *lx, size_t n)
{
	size_t i;

	for (i = 0; i < ATTR_COUNT_; i++)
		if (lex_word_is(lx, n, attrs[i].word))
			return (int)i;
	return -1;
}

/* One "keyword values" item at lx->pos. */
static int
parse_item(struct lex *lx, struct pol_rule *r)
{
	size_t at = lx->pos, n = lex_word(lx);
	struct pol_attr *a;
	int i;

	if (n == 0)
		return lex_error(lx, at, "expected an attribute or \"if\"");
	if (lex_word_is(lx, n, "if")) {
		if (r->has_cond)
			return lex_error(lx, at, "conditions already defined");
		lx->pos += n;
		if (lex_skip_blanks(lx) == 0 || lx->pos >= lx->len)
			return lex_error(lx, lx->pos,
			    "expected a condition after \"if\"");
		return parse_conditions(lx, r);
	}
	if ((i = find_attr(lx, n)) < 0)
		return lex_error(lx, at, "unknown attribute \"%.*s\"",
		    (int)(n > 40 ? 40 : n), lx->s + at);
	a = &r->attr[i];
	/* usbguard lets label repeat and collects the values. */
	if (a->present && i != ATTR_LABEL)
		return lex_error(lx, at, "%s attribute already defined",
		    attrs[i].word);
	a->present = true;
	lx->pos += n;
	if (lex_skip_blanks(lx) == 0 || lx->pos >= lx->len)
		return lex_error(lx, lx->pos, "expected a value after \"%s\"",
		    attrs[i].word);
	return parse_values(lx, attrs[i].type, a);
}

static bool
at_device_id(const struct lex *lx)
{
	size_t i = lx->pos;

	if (i < lx->len && lx->s[i] == '*')
		return i + 1 < lx->len && lx->s[i + 1] == ':';
	return i + 4 < lx->len && lx->s[i + 4] == ':' &&
	    parse_hexdigit(lx->s[i]) >= 0;
}

static int
join_labels(struct lex *lx, struct pol_rule *r)
{
	const struct pol_attr *a = &r->attr[ATTR_LABEL];
	struct sbuf b;
	size_t i;
	int rc = 0;

	if (!a->present)
		return 0;
	sbuf_init(&b, POL_LINE_MAX);
	for (i = 0; i < a->n && rc == 0; i++) {
		if (i > 0)
			rc = sbuf_puts(&b, " / ");
		if (rc == 0)
			rc = sbuf_put(&b, a->v[i].u.str.s, a->v[i].u.str.len);
	}
	if (rc == 0) {
		r->label = arena_memdup(lx->arena, b.data ? b.data : "", b.len);
		rc = r->label != NULL ? 0 : -ENOMEM;
	}
	sbuf_clear(&b);
	return rc;
}

static int
parse_target(struct lex *lx, struct pol_rule *r)
{
	size_t n = lex_word(lx);

	if (n == 0 || target_from_word(lx->s + lx->pos, n, &r->target) < 0)
		return lex_error(lx, lx->pos, "expected a target: allow, "
		    "block, reject, read-only, match or device");
	lx->pos += n;
	return 0;
}

int
rule_parse(struct lex *lx, bool query, struct pol_rule **ret)
{
	struct pol_rule *r;
	bool first = true;
	size_t blanks;
	int rc;

	r = arena_alloc(lx->arena, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->line = lx->line;
	lex_skip_blanks(lx);
	if (query)
		r->target = POL_TARGET_MATCH;
	else if ((rc = parse_target(lx, r)) < 0)
		return rc;
	for (;;) {
		blanks = query && first ? 1 : lex_skip_blanks(lx);
		if (lx->pos >= lx->len)
			break;
		if (!query && lx->s[lx->pos] == '#')
			break;	/* comment to the end of the line */
		if (blanks == 0)
			return lex_error(lx, lx->pos, "expected a blank");
		if (first && at_device_id(lx)) {
			r->attr[ATTR_ID].present = true;
			r->attr[ATTR_ID].n = 1;
			r->attr[ATTR_ID].v = arena_alloc(lx->arena,
			    sizeof(struct pol_value));
			if (r->attr[ATTR_ID].v == NULL)
				return -ENOMEM;
			rc = parse_id(lx, &r->attr[ATTR_ID].v[0]);
		} else
			rc = parse_item(lx, r);
		if (rc < 0)
			return rc;
		first = false;
	}
	if (query && first)
		return lex_error(lx, lx->pos, "empty device query");
	if ((rc = join_labels(lx, r)) < 0)
		return rc;
	*ret = r;
	return 0;
}

const char *
pol_kind_word(unsigned b)
{
	return kind_name(b);
}

const char *
pol_bus_word(enum pol_bus b)
{
	return bus_name(b);
}
