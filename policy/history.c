/* SPDX-License-Identifier: BSD-2-Clause */
/* When each rule was last applied and evaluated (rule-applied and
 * rule-evaluated conditions).  Kept apart from the policy, which stays
 * immutable and shareable. */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

struct stamp {
	bool set;
	uint64_t ms;
};

struct pol_history {
	size_t n;
	struct stamp *applied;
	struct stamp *evaluated;
};

int
pol_history_new(const struct pol_policy *p, struct pol_history **ret)
{
	struct pol_history *h;
	size_t n;

	if (p == NULL || ret == NULL)
		return -EINVAL;
	n = pol_policy_rule_count(p) + 1;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	h->n = n;
	h->applied = calloc(n, sizeof(*h->applied));
	h->evaluated = calloc(n, sizeof(*h->evaluated));
	if (h->applied == NULL || h->evaluated == NULL) {
		pol_history_free(h);
		return -ENOMEM;
	}
	*ret = h;
	return 0;
}

void
pol_history_free(struct pol_history *h)
{
	if (h == NULL)
		return;
	free(h->applied);
	free(h->evaluated);
	free(h);
}

/* 1 and *ret_ms when recorded, 0 when never, -EINVAL for a bad index. */
int
history_get(const struct pol_history *h, unsigned index, bool applied,
    uint64_t *ret_ms)
{
	const struct stamp *s;

	if (index >= h->n)
		return -EINVAL;
	s = applied ? &h->applied[index] : &h->evaluated[index];
	if (!s->set)
		return 0;
	*ret_ms = s->ms;
	return 1;
}

void
history_note(struct pol_history *h, unsigned index, bool applied,
    uint64_t ms)
{
	struct stamp *s;

	if (index >= h->n)
		return;
	s = applied ? &h->applied[index] : &h->evaluated[index];
	s->set = true;
	s->ms = ms;
}
