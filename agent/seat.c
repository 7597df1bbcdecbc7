/* SPDX-License-Identifier: BSD-2-Clause */
/* The user at the seat: from logind, with the groups from NSS. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-login.h>
#include <unistd.h>

#include "seat.h"

static int
user_groups(struct seat_info *s, const char *name, gid_t gid)
{
	gid_t gids[SEAT_GROUPS_MAX];
	int n = SEAT_GROUPS_MAX, i;
	size_t off = 0;

	if (getgrouplist(name, gid, gids, &n) < 0)
		n = SEAT_GROUPS_MAX;	/* truncated: the first ones */
	s->seat.n_groups = 0;
	for (i = 0; i < n; i++) {
		struct group gr, *res = NULL;
		char buf[2048];
		size_t len;

		if (getgrgid_r(gids[i], &gr, buf, sizeof(buf), &res) != 0 ||
		    res == NULL)
			continue;
		len = strlen(gr.gr_name) + 1;
		if (len > sizeof(s->group_buf) - off)
			break;
		memcpy(s->group_buf + off, gr.gr_name, len);
		s->groups[s->seat.n_groups++] = s->group_buf + off;
		off += len;
	}
	s->seat.groups = s->groups;
	return 0;
}

static const struct pol_seat *
fill(struct seat_info *s, const struct passwd *pw)
{
	if (snprintf(s->user, sizeof(s->user), "%s", pw->pw_name) >=
	    (int)sizeof(s->user))
		return NULL;
	s->seat.user = s->user;
	(void)user_groups(s, pw->pw_name, pw->pw_gid);
	return &s->seat;
}

const struct pol_seat *
seat_lookup(struct seat_info *s)
{
	const char *env = secure_getenv("MYNAGUARD_SEAT_USER");
	struct passwd pw, *res = NULL;
	char buf[2048];
	uid_t uid;

	memset(s, 0, sizeof(*s));
	if (env != NULL && *env != '\0') {
		if (getpwnam_r(env, &pw, buf, sizeof(buf), &res) != 0 ||
		    res == NULL)
			return NULL;
		return fill(s, &pw);
	}
	if (sd_seat_get_active("seat0", NULL, &uid) < 0)
		return NULL;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
		return NULL;
	return fill(s, &pw);
}
