/* SPDX-License-Identifier: BSD-2-Clause */
#include <stdlib.h>

#include "oom.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

static size_t fail_at, count;
static int triggered;

void
oom_fail_at(size_t n)
{
	fail_at = n;
	count = 0;
	triggered = 0;
}

size_t
oom_count(void)
{
	return count;
}

int
oom_triggered(void)
{
	return triggered;
}

static int
should_fail(void)
{
	count++;
	if (fail_at != 0 && count == fail_at) {
		triggered = 1;
		return 1;
	}
	return 0;
}

void *
__wrap_malloc(size_t n)
{
	return should_fail() ? NULL : __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t m)
{
	return should_fail() ? NULL : __real_calloc(n, m);
}

void *
__wrap_realloc(void *p, size_t n)
{
	return should_fail() ? NULL : __real_realloc(p, n);
}
