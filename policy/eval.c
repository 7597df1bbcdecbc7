/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Does a rule match a device?  usbguard's set operators (Rule.hpp
 * setSolve*), with its known bugs fixed: vendor/product ids compare
 * case-insensitively (we compare numbers), "equals" requires a one-to-one
 * pairing rather than equal counts, and "match-all" is a real subset test
 * instead of "always true".
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

#define DEV_VALUES_MAX 256u

/* A device's values of one attribute, seen through an index. */
struct devset {
	enum attr attr;
	const struct pol_device *dev;
	size_t n;
	unsigned kinds[POL_KIND_COUNT_];
};

static bool
str_eq(const struct pol_value *v, const char *s)
{
	return strlen(s) == v->u.str.len && memcmp(s, v->u.str.s,
	    v->u.str.len) == 0;
}

static const char *
dev_string(const struct devset *d)
{
	switch (d->attr) {
	case ATTR_SERIAL:
		return d->dev->serial;
	case ATTR_NAME:
		return d->dev->name;
	case ATTR_HASH:
		return d->dev->hash;
	case ATTR_PARENT_HASH:
		return d->dev->parent_hash;
	case ATTR_VIA_PORT:
		return d->dev->via_port;
	case ATTR_CONNECT_TYPE:
		return d->dev->connect_type;
	default:
		return NULL;
	}
}

/* Does rule value v cover device value number j? */
static bool
value_match(const struct devset *d, const struct pol_value *v, size_t j)
{
	const struct pol_iface *fi;

	switch (d->attr) {
	case ATTR_ID:
		return (v->u.id.vid_any || v->u.id.vid == d->dev->vid) &&
		    (v->u.id.pid_any || v->u.id.pid == d->dev->pid);
	case ATTR_WITH_INTERFACE:
		fi = &d->dev->ifaces[j];
		return v->u.iface.cls == fi->cls &&
		    (v->u.iface.sub_any || v->u.iface.sub == fi->subcls) &&
		    (v->u.iface.proto_any || v->u.iface.proto == fi->proto);
	case ATTR_KIND:
		return v->u.kind == d->kinds[j];
	case ATTR_BUS:
		return v->u.bus == d->dev->bus;
	default:
		return str_eq(v, dev_string(d));
	}
}

static int
devset_init(struct devset *d, enum attr a, const struct pol_device *dev)
{
	unsigned bit;

	d->attr = a;
	d->dev = dev;
	d->n = 0;
	switch (a) {
	case ATTR_ID:
		d->n = dev->has_id;
		break;
	case ATTR_WITH_INTERFACE:
		if (dev->n_ifaces > DEV_VALUES_MAX ||
		    (dev->n_ifaces > 0 && dev->ifaces == NULL))
			return -EINVAL;
		d->n = dev->n_ifaces;
		break;
	case ATTR_KIND:
		for (bit = 0; bit < POL_KIND_COUNT_; bit++)
			if (dev->kinds & (1u << bit))
				d->kinds[d->n++] = bit;
		break;
	case ATTR_BUS:
		d->n = 1;
		break;
	default:
		d->n = dev_string(d) != NULL;
		break;
	}
	return 0;
}

static bool
any_match(const struct devset *d, const struct pol_value *v)
{
	size_t j;

	for (j = 0; j < d->n; j++)
		if (value_match(d, v, j))
			return true;
	return false;
}

/* Kuhn's augmenting path for a perfect rule<->device pairing. */
static bool
augment(const struct devset *d, const struct pol_attr *a, size_t i,
    int16_t *owner, bool *seen)
{
	size_t j;

	for (j = 0; j < d->n; j++) {
		if (seen[j] || !value_match(d, &a->v[i], j))
			continue;
		seen[j] = true;
		if (owner[j] < 0 || augment(d, a, (size_t)owner[j], owner,
		    seen)) {
			owner[j] = (int16_t)i;
			return true;
		}
	}
	return false;
}

static bool
solve_equals(const struct devset *d, const struct pol_attr *a)
{
	int16_t owner[DEV_VALUES_MAX];
	bool seen[DEV_VALUES_MAX];
	size_t i;

	if (a->n != d->n)
		return false;
	for (i = 0; i < d->n; i++)
		owner[i] = -1;
	for (i = 0; i < a->n; i++) {
		memset(seen, 0, d->n * sizeof(seen[0]));
		if (!augment(d, a, i, owner, seen))
			return false;
	}
	return true;
}

static bool
attr_matches(const struct devset *d, const struct pol_attr *a)
{
	size_t i, j;

	switch (a->op) {
	case SETOP_EQUALS:
		return solve_equals(d, a);
	case SETOP_EQUALS_ORDERED:
		if (a->n != d->n)
			return false;
		for (i = 0; i < a->n; i++)
			if (!value_match(d, &a->v[i], i))
				return false;
		return true;
	case SETOP_ALL_OF:
		for (i = 0; i < a->n; i++)
			if (!any_match(d, &a->v[i]))
				return false;
		return true;
	case SETOP_ONE_OF:
	case SETOP_NONE_OF:
		for (i = 0; i < a->n; i++)
			if (any_match(d, &a->v[i]))
				return a->op == SETOP_ONE_OF;
		return a->op == SETOP_NONE_OF;
	case SETOP_MATCH_ALL:
		for (j = 0; j < d->n; j++) {
			for (i = 0; i < a->n; i++)
				if (value_match(d, &a->v[i], j))
					break;
			if (i == a->n)
				return false;
		}
		return d->n > 0;
	}
	return false;
}

static int cond_eval(const struct pol_cond *c, const struct pol_env *env,
    unsigned rule_index);

static int
conditions_hold(const struct pol_rule *r, const struct pol_env *env,
    unsigned rule_index)
{
	size_t i, n_true = 0;
	int v;

	for (i = 0; i < r->n_cond; i++) {
		if ((v = cond_eval(&r->cond[i], env, rule_index)) < 0)
			return v;
		n_true += (size_t)v;
	}
	switch (r->cond_op) {
	case SETOP_ONE_OF:
		return n_true > 0;
	case SETOP_NONE_OF:
		return n_true == 0;
	default:	/* all-of, equals, equals-ordered, match-all */
		return n_true == r->n_cond;
	}
}

int
rule_matches(const struct pol_rule *r, const struct pol_device *dev,
    const struct pol_env *env, unsigned rule_index)
{
	struct devset d;
	size_t a;
	int v;

	for (a = 0; a < ATTR_COUNT_; a++) {
		if (a == ATTR_LABEL || !r->attr[a].present)
			continue;
		if ((v = devset_init(&d, (enum attr)a, dev)) < 0)
			return v;
		if (!attr_matches(&d, &r->attr[a]))
			return 0;
	}
	if (!r->has_cond)
		return 1;
	v = conditions_hold(r, env, rule_index);
	if (env->history != NULL && rule_index > 0)
		history_note(env->history, rule_index, false, env->mono_ms);
	return v;
}

static int
seat_has(const struct pol_cond *c, const struct pol_seat *seat)
{
	size_t i;

	if (seat == NULL || seat->user == NULL)
		return 0;	/* nobody at the seat: a fact, not a gap */
	if (c->type == COND_SEAT_USER)
		return strcmp(seat->user, c->u.name) == 0;
	if (seat->n_groups > 0 && seat->groups == NULL)
		return -EINVAL;
	for (i = 0; i < seat->n_groups; i++)
		if (seat->groups[i] != NULL &&
		    strcmp(seat->groups[i], c->u.name) == 0)
			return 1;
	return 0;
}

static int
since(const struct pol_cond *c, const struct pol_env *env, unsigned index)
{
	uint64_t last;
	int r;

	if (env->history == NULL || index == 0)
		return -ENODATA;
	r = history_get(env->history, index, c->type == COND_RULE_APPLIED,
	    &last);
	if (r <= 0)
		return r;
	return c->u.dur.any || env->mono_ms - last <= c->u.dur.ms;
}

static int
allowed_matches(const struct pol_cond *c, const struct pol_env *env,
    unsigned index)
{
	size_t i;
	int v;

	if (env->allowed == NULL)
		return -ENODATA;
	for (i = 0; i < env->n_allowed; i++) {
		if (env->allowed[i] == NULL)
			return -EINVAL;
		v = rule_matches(c->u.query, env->allowed[i], env, index);
		if (v != 0)
			return v;
	}
	return 0;
}

static int
cond_value(const struct pol_cond *c, const struct pol_env *env,
    unsigned index)
{
	uint32_t rnd;
	int r;

	switch (c->type) {
	case COND_TRUE:
		return 1;
	case COND_FALSE:
		return 0;
	case COND_RANDOM:
		if (env->random_u32 == NULL)
			return -ENODATA;
		if ((r = env->random_u32(env->random_arg, &rnd)) < 0)
			return r;
		return (uint64_t)rnd < c->u.threshold;
	case COND_LOCALTIME:
		if (env->local_sec < 0 || env->local_sec >= 86400)
			return -ENODATA;
		return env->local_sec >= c->u.time.from &&
		    env->local_sec <= c->u.time.to;
	case COND_RULE_APPLIED:
	case COND_RULE_EVALUATED:
		return since(c, env, index);
	case COND_ALLOWED_MATCHES:
		return allowed_matches(c, env, index);
	case COND_SEAT_USER:
	case COND_SEAT_GROUP:
		return seat_has(c, env->seat);
	}
	return -EINVAL;
}

static int
cond_eval(const struct pol_cond *c, const struct pol_env *env,
    unsigned rule_index)
{
	int v = cond_value(c, env, rule_index);

	if (v < 0)
		return v;
	return c->neg ? !v : v;
}

static enum pol_verdict
verdict_of(enum pol_target t)
{
	switch (t) {
	case POL_TARGET_ALLOW:
		return POL_VERDICT_ALLOW;
	case POL_TARGET_READ_ONLY:
		return POL_VERDICT_READ_ONLY;
	case POL_TARGET_REJECT:
		return POL_VERDICT_REJECT;
	default:
		return POL_VERDICT_BLOCK;
	}
}

int
pol_eval(const struct pol_policy *p, const struct pol_device *dev,
    const struct pol_env *env, struct pol_decision *ret)
{
	const struct pol_rule *r;
	size_t i;
	int v;

	if (p == NULL || dev == NULL || env == NULL || ret == NULL ||
	    (unsigned)dev->bus >= POL_BUS_COUNT_ ||
	    (dev->kinds >> POL_KIND_COUNT_) != 0)
		return -EINVAL;
	for (i = 0; i < p->n_rules; i++) {
		r = p->rules[i];
		if (r->target == POL_TARGET_MATCH ||
		    r->target == POL_TARGET_DEVICE)
			continue;
		if ((v = rule_matches(r, dev, env, r->index)) < 0)
			return v;
		if (v == 0)
			continue;
		if (env->history != NULL)
			history_note(env->history, r->index, true,
			    env->mono_ms);
		ret->verdict = verdict_of(r->target);
		ret->rule = r->index;
		ret->line = r->line;
		ret->label = r->label;
		return 0;
	}
	ret->verdict = verdict_of(p->def);
	ret->rule = 0;
	ret->line = p->def_line;
	ret->label = NULL;
	return 0;
}
