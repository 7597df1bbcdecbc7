/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_TEST_OOM_H
#define MYNAGUARD_TEST_OOM_H

/*
 * Allocation failure injection (curl torture mode, libfido2 WRAP(malloc)):
 * test executables link with -Wl,--wrap=malloc,--wrap=calloc,
 * --wrap=realloc, so every allocation in the code under test goes through
 * these counters.
 */

#include <stddef.h>

/* Fail the allocation numbered n (1-based) from now on; 0 disables. */
void oom_fail_at(size_t n);
/* Allocations made since the last oom_fail_at(). */
size_t oom_count(void);
/* Whether the injected failure happened. */
int oom_triggered(void);

#endif
