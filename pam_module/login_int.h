/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_LOGIN_INT_H
#define MYNAGUARD_LOGIN_INT_H

/* Internals shared by the parsers of libmynaguard-login. */

#include <stdarg.h>
#include <stddef.h>

#include "mynaguard/login.h"

/*
 * Fill d (when not NULL) for a problem at byte off of the line text
 * (len bytes) numbered line: the column counts code points.  Returns
 * -EBADMSG, for "return pmod_diag_vset(...)".
 */
int pmod_diag_vset(struct pmod_diag *d, unsigned line, const char *text,
    size_t len, size_t off, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0)));

#endif
