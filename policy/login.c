/* SPDX-License-Identifier: BSD-2-Clause */
/* Who must present a FIDO2 key, from the [login] section. */
#include <errno.h>
#include <string.h>

#include "internal.h"

static bool
in_list(const char *const *v, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

int
pol_login_is_break_glass(const struct pol_policy *p, const char *user)
{
	if (p == NULL || user == NULL)
		return -EINVAL;
	return in_list(p->login.break_glass, p->login.n_break_glass, user);
}

int
pol_login_requires_key(const struct pol_policy *p, const char *user,
    const char *const *groups, size_t n_groups)
{
	const struct pol_login *l;
	size_t i;

	if (p == NULL || user == NULL || (n_groups > 0 && groups == NULL))
		return -EINVAL;
	l = &p->login;
	if (in_list(l->break_glass, l->n_break_glass, user))
		return 0;
	if (l->key_everyone || in_list(l->key_users, l->n_key_users, user))
		return 1;
	for (i = 0; i < n_groups; i++)
		if (groups[i] != NULL &&
		    in_list(l->key_groups, l->n_key_groups, groups[i]))
			return 1;
	return 0;
}
