/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_SEAT_H
#define MYNAGUARD_SEAT_H

#include <stddef.h>

#include "mynaguard/policy.h"

#define SEAT_GROUPS_MAX 64

/* Who is logged in at seat0 now, for seat-user()/seat-group() rules. */
struct seat_info {
	char user[256];
	char group_buf[4096];
	const char *groups[SEAT_GROUPS_MAX];
	struct pol_seat seat;
};

/*
 * Fill s from logind's active session on seat0.  Returns a pol_seat to put
 * into pol_env, or NULL when nobody is logged in there (or logind is not
 * running).  The environment variable MYNAGUARD_SEAT_USER, when the agent
 * runs with it, names the seat user instead (tests, and terminals without
 * logind).
 */
const struct pol_seat *seat_lookup(struct seat_info *s);

#endif
