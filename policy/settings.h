/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_POLICY_SETTINGS_H
#define MYNAGUARD_POLICY_SETTINGS_H

#include "internal.h"

enum section {
	SEC_NONE,
	SEC_POLICY,
	SEC_DEVICES,
	SEC_LOGIN,
	SEC_REPORTING,
	SEC_COUNT_
};

/* Parse the `key = value` line at lx->pos of section sec into p.  *seen
 * has a bit per key already set in this text. */
int setting_parse(struct lex *lx, enum section sec, struct pol_policy *p,
    uint32_t *seen);

#endif
