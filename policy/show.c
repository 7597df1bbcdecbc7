/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Normalized text of rules, exactly as usbguard-rule-parser prints them
 * (Rule::toString): fixed attribute order, a lone value without braces,
 * "equals" implied, interface types in lower case, strings escaped.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

/* Code points that can disguise text on a terminal: C1 controls, bidi
 * overrides, line and paragraph separators, the BOM.  Shown as \xHH. */
static bool
deceptive(const unsigned char *s, size_t n)
{
	if (n == 2)
		return s[0] == 0xc2 && s[1] <= 0x9f;
	if (n != 3)
		return false;
	if (s[0] == 0xef)
		return s[1] == 0xbb && s[2] == 0xbf;
	if (s[0] != 0xe2)
		return false;
	if (s[1] == 0x80)
		return s[2] == 0x8e || s[2] == 0x8f ||
		    (s[2] >= 0xa8 && s[2] <= 0xae);
	return s[1] == 0x81 && s[2] >= 0xa6 && s[2] <= 0xa9;
}

int
show_string(struct sbuf *b, const char *s, size_t len, unsigned flags)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n, k;
	int r;

	if ((r = sbuf_putc(b, '"')) < 0)
		return r;
	while (i < len && r == 0) {
		if (u[i] == '"' || u[i] == '\\') {
			r = sbuf_printf(b, "\\%c", u[i]);
			n = 1;
		} else if (u[i] >= 0x20 && u[i] < 0x7f) {
			r = sbuf_putc(b, (char)u[i]);
			n = 1;
		} else if (!(flags & POL_SHOW_ASCII) && u[i] >= 0x80 &&
		    (n = utf8_seqlen(s + i, len - i)) > 0 &&
		    !deceptive(u + i, n)) {
			r = sbuf_put(b, s + i, n);
		} else {
			n = (u[i] >= 0x80 && !(flags & POL_SHOW_ASCII)) ?
			    utf8_seqlen(s + i, len - i) : 1;
			if (n == 0)
				n = 1;
			for (k = 0; k < n && r == 0; k++)
				r = sbuf_printf(b, "\\x%02x", u[i + k]);
		}
		i += n;
	}
	return r < 0 ? r : sbuf_putc(b, '"');
}

static int
show_hex_or_any(struct sbuf *b, uint8_t v, bool any)
{
	return any ? sbuf_putc(b, '*') : sbuf_printf(b, "%02x", v);
}

static int
show_value(struct sbuf *b, enum attr a, const struct pol_value *v,
    unsigned flags)
{
	int r;

	switch (a) {
	case ATTR_ID:
		return sbuf_puts(b, v->u.id.text);
	case ATTR_WITH_INTERFACE:
		if ((r = sbuf_printf(b, "%02x:", v->u.iface.cls)) < 0 ||
		    (r = show_hex_or_any(b, v->u.iface.sub,
		    v->u.iface.sub_any)) < 0 || (r = sbuf_putc(b, ':')) < 0)
			return r;
		return show_hex_or_any(b, v->u.iface.proto,
		    v->u.iface.proto_any);
	case ATTR_KIND:
		return sbuf_puts(b, kind_name(v->u.kind));
	case ATTR_BUS:
		return sbuf_puts(b, bus_name(v->u.bus));
	default:
		return show_string(b, v->u.str.s, v->u.str.len, flags);
	}
}

/* usbguard's Attribute::toRuleString: braces when there is more than one
 * value or the operator is not the implied "equals". */
static int
open_set(struct sbuf *b, enum setop op, size_t n, bool *braces)
{
	int r = 0;

	*braces = n > 1 || op != SETOP_EQUALS;
	if (*braces && op != SETOP_EQUALS)
		r = sbuf_printf(b, "%s ", setop_name(op));
	if (r == 0 && *braces)
		r = sbuf_puts(b, "{ ");
	return r;
}

static int
show_attr(struct sbuf *b, enum attr a, const struct pol_attr *at,
    unsigned flags)
{
	bool braces;
	size_t i;
	int r;

	if ((r = sbuf_printf(b, " %s ", attr_keyword(a))) < 0 ||
	    (r = open_set(b, at->op, at->n, &braces)) < 0)
		return r;
	for (i = 0; i < at->n; i++) {
		if ((r = show_value(b, a, &at->v[i], flags)) < 0)
			return r;
		if (braces && (r = sbuf_putc(b, ' ')) < 0)
			return r;
	}
	return braces ? sbuf_putc(b, '}') : 0;
}

static int
show_conditions(struct sbuf *b, const struct pol_rule *rule)
{
	const struct pol_cond *c;
	bool braces;
	size_t i;
	int r;

	if ((r = sbuf_puts(b, " if ")) < 0 ||
	    (r = open_set(b, rule->cond_op, rule->n_cond, &braces)) < 0)
		return r;
	for (i = 0; i < rule->n_cond; i++) {
		c = &rule->cond[i];
		r = sbuf_printf(b, "%s%s", c->neg ? "!" : "",
		    cond_name(c->type));
		if (r == 0 && c->arg != NULL)
			r = sbuf_printf(b, "(%.*s)", (int)c->arg_len, c->arg);
		if (r == 0 && braces)
			r = sbuf_putc(b, ' ');
		if (r < 0)
			return r;
	}
	return braces ? sbuf_putc(b, '}') : 0;
}

int
show_rule(struct sbuf *b, const struct pol_rule *rule, unsigned flags)
{
	static const enum attr before[] = {
		ATTR_ID, ATTR_SERIAL, ATTR_NAME, ATTR_HASH, ATTR_PARENT_HASH,
		ATTR_VIA_PORT, ATTR_WITH_INTERFACE, ATTR_KIND, ATTR_BUS,
	};
	static const enum attr after[] = { ATTR_CONNECT_TYPE, ATTR_LABEL };
	size_t i;
	int r;

	if ((r = sbuf_puts(b, target_name(rule->target))) < 0)
		return r;
	for (i = 0; i < MG_ELEMENTSOF(before); i++)
		if (rule->attr[before[i]].present &&
		    (r = show_attr(b, before[i], &rule->attr[before[i]],
		    flags)) < 0)
			return r;
	if (rule->has_cond && (r = show_conditions(b, rule)) < 0)
		return r;
	for (i = 0; i < MG_ELEMENTSOF(after); i++)
		if (rule->attr[after[i]].present &&
		    (r = show_attr(b, after[i], &rule->attr[after[i]],
		    flags)) < 0)
			return r;
	return 0;
}

static int
show_names(struct sbuf *b, const char *key, const char *const *groups,
    size_t n_groups, const char *const *users, size_t n_users)
{
	size_t i;
	int r;

	if ((r = sbuf_printf(b, "%s =", key)) < 0)
		return r;
	for (i = 0; i < n_users && r == 0; i++)
		r = sbuf_printf(b, " %s", users[i]);
	for (i = 0; i < n_groups && r == 0; i++)
		r = sbuf_printf(b, " @%s", groups[i]);
	return r < 0 ? r : sbuf_putc(b, '\n');
}

static int
show_size(struct sbuf *b, uint64_t v)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB" };
	size_t u = 0;

	while (u + 1 < MG_ELEMENTSOF(units) && v != 0 && v % 1024 == 0) {
		v /= 1024;
		u++;
	}
	return sbuf_printf(b, "%llu%s", (unsigned long long)v, units[u]);
}

static int
show_keys(struct sbuf *b, const struct pol_login *l)
{
	size_t i, k;
	int r;

	r = sbuf_printf(b, "credentials = %s\nrelying-party = %s\n"
	    "key-timeout = ", l->credentials, l->relying_party);
	if (r == 0)
		r = duration_format(b, (uint64_t)l->key_timeout_s * 1000);
	if (r == 0)
		r = sbuf_puts(b, "\nkey-models =");
	for (i = 0; r == 0 && i < l->n_key_models; i++) {
		r = sbuf_putc(b, ' ');
		for (k = 0; r == 0 && k < 16; k++)
			r = sbuf_printf(b, "%s%02x", k == 4 || k == 6 ||
			    k == 8 || k == 10 ? "-" : "", l->key_models[i][k]);
	}
	return r == 0 ? sbuf_putc(b, '\n') : r;
}

static int
show_login(struct sbuf *b, const struct pol_login *l)
{
	int r;

	if ((r = sbuf_puts(b, "\n[login]\n")) < 0)
		return r;
	if (l->key_everyone)
		r = sbuf_puts(b, "require-key = *\n");
	else
		r = show_names(b, "require-key", l->key_groups,
		    l->n_key_groups, l->key_users, l->n_key_users);
	if (r == 0)
		r = sbuf_printf(b, "user-verification = %s\n"
		    "lockout-threshold = %u\nunlock-after = ",
		    l->user_verification ? "required" : "not-required",
		    l->lockout_threshold);
	if (r == 0)
		r = duration_format(b, (uint64_t)l->unlock_after_s * 1000);
	if (r == 0)
		r = sbuf_putc(b, '\n');
	if (r == 0)
		r = show_names(b, "break-glass", NULL, 0, l->break_glass,
		    l->n_break_glass);
	if (r == 0)
		r = show_keys(b, l);
	return r;
}

static int
show_reporting(struct sbuf *b, const struct pol_reporting *rp)
{
	int r;

	r = sbuf_puts(b, "\n[reporting]\n");
	if (r == 0 && rp->collector != NULL)
		r = sbuf_printf(b, "collector = %s\n", rp->collector);
	if (r == 0)
		r = sbuf_puts(b, "buffer-size = ");
	if (r == 0)
		r = show_size(b, rp->buffer_max_bytes);
	if (r == 0)
		r = sbuf_puts(b, "\nbuffer-max-age = ");
	if (r == 0)
		r = duration_format(b,
		    (uint64_t)rp->buffer_max_age_s * 1000);
	return r < 0 ? r : sbuf_putc(b, '\n');
}

static int
show_policy_section(struct sbuf *b, const struct pol_policy *p,
    unsigned flags)
{
	int r = 0;

	if (p->name == NULL && p->version == 0)
		return 0;
	r = sbuf_puts(b, "[policy]\n");
	if (r == 0 && p->name != NULL) {
		r = sbuf_puts(b, "name = ");
		if (r == 0)
			r = show_string(b, p->name, strlen(p->name), flags);
		if (r == 0)
			r = sbuf_putc(b, '\n');
	}
	if (r == 0 && p->version != 0)
		r = sbuf_printf(b, "version = %u\n", p->version);
	return r < 0 ? r : sbuf_putc(b, '\n');
}

static int
show_all(struct sbuf *b, const struct pol_policy *p, unsigned flags)
{
	bool full = !p->rules_only && !(flags & POL_SHOW_RULES_ONLY);
	size_t i;
	int r = 0;

	if (full && ((r = show_policy_section(b, p, flags)) < 0 ||
	    (r = sbuf_puts(b, "[devices]\n")) < 0))
		return r;
	for (i = 0; i < p->n_rules; i++)
		if ((r = show_rule(b, p->rules[i], flags)) < 0 ||
		    (r = sbuf_putc(b, '\n')) < 0)
			return r;
	if (!full)
		return 0;
	if ((r = sbuf_printf(b, "default %s\n", target_name(p->def))) < 0 ||
	    (r = show_login(b, &p->login)) < 0)
		return r;
	return show_reporting(b, &p->reporting);
}

int
pol_policy_show(const struct pol_policy *p, unsigned flags, char **ret_text,
    size_t *ret_len)
{
	struct sbuf b;
	int r;

	if (p == NULL || ret_text == NULL || ret_len == NULL)
		return -EINVAL;
	/* Escaping can grow a string to four times its size. */
	sbuf_init(&b, (size_t)POL_TEXT_MAX * 4 + 4096);
	r = show_all(&b, p, flags);
	if (r == 0)
		r = sbuf_steal(&b, ret_text, ret_len);
	sbuf_clear(&b);
	return r;
}

int
pol_quote(struct sbuf *b, const char *s, size_t len, unsigned flags)
{
	if (b == NULL || (s == NULL && len > 0))
		return -EINVAL;
	return show_string(b, s != NULL ? s : "", len, flags);
}
