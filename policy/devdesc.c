/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A device written as a rule (`device id 1234:5678 serial "x" ...`), turned
 * into the struct pol_device the evaluator takes.  Reuses the rule parser,
 * then insists that every value is concrete.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct pol_devdesc {
	struct pol_policy *policy;	/* owns the parsed rule's memory */
	struct pol_device dev;
	struct pol_iface *ifaces;
};

static int
reject(struct pol_diags *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
reject(struct pol_diags *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diags_add(d, 1, 1, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

static bool
concrete(const struct pol_attr *a, enum attr which)
{
	size_t i;

	if (a->op != SETOP_EQUALS && a->op != SETOP_EQUALS_ORDERED)
		return false;
	for (i = 0; i < a->n; i++) {
		if (which == ATTR_ID && (a->v[i].u.id.vid_any ||
		    a->v[i].u.id.pid_any))
			return false;
		if (which == ATTR_WITH_INTERFACE && (a->v[i].u.iface.sub_any ||
		    a->v[i].u.iface.proto_any))
			return false;
		if (which != ATTR_ID && which != ATTR_WITH_INTERFACE &&
		    which != ATTR_KIND && which != ATTR_BUS &&
		    memchr(a->v[i].u.str.s, '\0', a->v[i].u.str.len) != NULL)
			return false;
	}
	/* Only interfaces and kinds are sets; the rest has one value. */
	return a->n == 1 || which == ATTR_WITH_INTERFACE || which == ATTR_KIND;
}

static const char **
string_field(struct pol_device *dev, enum attr a)
{
	switch (a) {
	case ATTR_SERIAL:
		return &dev->serial;
	case ATTR_NAME:
		return &dev->name;
	case ATTR_HASH:
		return &dev->hash;
	case ATTR_PARENT_HASH:
		return &dev->parent_hash;
	case ATTR_VIA_PORT:
		return &dev->via_port;
	case ATTR_CONNECT_TYPE:
		return &dev->connect_type;
	default:
		return NULL;
	}
}

static int
fill(struct pol_devdesc *dd, const struct pol_rule *r, struct pol_diags *d)
{
	const struct pol_attr *a;
	size_t i, k;
	const char **f;

	dd->dev.bus = POL_BUS_USB;
	for (k = 0; k < ATTR_COUNT_; k++) {
		a = &r->attr[k];
		if (!a->present || k == ATTR_LABEL)
			continue;
		if (!concrete(a, (enum attr)k))
			return reject(d, "%s must be one concrete value (no *, "
			    "no operator)", attr_keyword((enum attr)k));
		if (k == ATTR_ID) {
			dd->dev.has_id = true;
			dd->dev.vid = a->v[0].u.id.vid;
			dd->dev.pid = a->v[0].u.id.pid;
		} else if (k == ATTR_WITH_INTERFACE) {
			dd->ifaces = calloc(a->n, sizeof(*dd->ifaces));
			if (dd->ifaces == NULL)
				return -ENOMEM;
			for (i = 0; i < a->n; i++) {
				dd->ifaces[i].cls = a->v[i].u.iface.cls;
				dd->ifaces[i].subcls = a->v[i].u.iface.sub;
				dd->ifaces[i].proto = a->v[i].u.iface.proto;
			}
			dd->dev.ifaces = dd->ifaces;
			dd->dev.n_ifaces = a->n;
		} else if (k == ATTR_KIND) {
			for (i = 0; i < a->n; i++)
				dd->dev.kinds |= 1u << a->v[i].u.kind;
		} else if (k == ATTR_BUS) {
			dd->dev.bus = a->v[0].u.bus;
		} else if ((f = string_field(&dd->dev, (enum attr)k)) != NULL)
			*f = a->v[0].u.str.s;
	}
	return 0;
}

/* Skip "N: " as usbguard list-devices prints it. */
static size_t
skip_number(const char *text, size_t len)
{
	size_t i = 0;

	while (i < len && text[i] >= '0' && text[i] <= '9')
		i++;
	if (i > 0 && i + 1 < len && text[i] == ':' && text[i + 1] == ' ')
		return i + 2;
	return 0;
}

int
pol_devdesc_parse(const char *text, size_t len, struct pol_diags *diags,
    struct pol_devdesc **ret)
{
	struct pol_devdesc *dd = NULL;
	size_t skip;
	int r;

	if (text == NULL || ret == NULL)
		return -EINVAL;
	if (memchr(text, '\n', len) != NULL)
		return reject(diags, "%s", "a device is one line");
	skip = skip_number(text, len);
	dd = calloc(1, sizeof(*dd));
	if (dd == NULL)
		return -ENOMEM;
	r = pol_policy_parse(text + skip, len - skip, diags, &dd->policy);
	if (r < 0)
		goto out;
	if (dd->policy->n_rules != 1) {
		r = reject(diags, "%s", "expected one device");
		goto out;
	}
	if (dd->policy->rules[0]->has_cond) {
		r = reject(diags, "%s", "a device has no conditions");
		goto out;
	}
	if ((r = fill(dd, dd->policy->rules[0], diags)) < 0)
		goto out;
	*ret = dd;
	dd = NULL;
	r = 0;
out:
	pol_devdesc_free(dd);
	return r;
}

const struct pol_device *
pol_devdesc_device(const struct pol_devdesc *d)
{
	return d != NULL ? &d->dev : NULL;
}

void
pol_devdesc_free(struct pol_devdesc *d)
{
	if (d == NULL)
		return;
	pol_policy_free(d->policy);
	free(d->ifaces);
	free(d);
}
