/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_TEST_POLICY_HELPERS_H
#define MYNAGUARD_TEST_POLICY_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mynaguard/policy.h"

/* Parse text that must be valid. */
static inline struct pol_policy *
must_parse(const char *text)
{
	struct pol_diags *d = calloc(1, sizeof(*d));
	struct pol_policy *p = NULL;
	int r;

	assert_non_null(d);
	r = pol_policy_parse(text, strlen(text), d, &p);
	if (r != 0)
		print_error("unexpected error %d at %u:%u: %s\n  in: %s\n", r,
		    d->n ? d->d[0].line : 0, d->n ? d->d[0].col : 0,
		    d->n ? d->d[0].msg : "", text);
	assert_int_equal(r, 0);
	free(d);
	return p;
}

/* Parse text that must fail with its first error at line:col, the message
 * containing msg. */
static inline void
must_fail(const char *text, unsigned line, unsigned col, const char *msg)
{
	struct pol_diags *d = calloc(1, sizeof(*d));
	struct pol_policy *p = NULL;
	int r;

	assert_non_null(d);
	r = pol_policy_parse(text, strlen(text), d, &p);
	if (r != -EBADMSG || d->n == 0 || d->d[0].line != line ||
	    d->d[0].col != col || strstr(d->d[0].msg, msg) == NULL)
		print_error("in: %s\n  want %u:%u \"%s\"\n  got r=%d %u:%u "
		    "\"%s\"\n", text, line, col, msg, r,
		    d->n ? d->d[0].line : 0, d->n ? d->d[0].col : 0,
		    d->n ? d->d[0].msg : "");
	assert_int_equal(r, -EBADMSG);
	assert_null(p);
	assert_true(d->n > 0);
	assert_int_equal(d->d[0].line, line);
	assert_int_equal(d->d[0].col, col);
	assert_non_null(strstr(d->d[0].msg, msg));
	free(d);
}

/* The normalized text of a policy (free it). */
static inline char *
show(const struct pol_policy *p, unsigned flags)
{
	char *t = NULL;
	size_t n = 0;

	assert_int_equal(pol_policy_show(p, flags, &t, &n), 0);
	assert_int_equal(strlen(t), n);
	return t;
}

/* Parse one rule line and return its normalized form (free it). */
static inline char *
rule_show(const char *rule, unsigned flags)
{
	struct pol_policy *p = must_parse(rule);
	char *t = show(p, flags);
	size_t n = strlen(t);

	assert_true(n > 0 && t[n - 1] == '\n');
	t[n - 1] = '\0';
	pol_policy_free(p);
	return t;
}

#endif
