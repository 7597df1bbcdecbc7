/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_AGENT_NOTIFY_H
#define MYNAGUARD_AGENT_NOTIFY_H

/*
 * Tell the staff member at the seat what happened to the device they just
 * plugged in: a structured journal record always, and a desktop
 * notification when a graphical session is active on seat0.  The text is
 * Japanese, with English as the fallback.
 */

#include <stddef.h>

enum notice_kind {
	NOTICE_READ_ONLY,
	NOTICE_BLOCKED,
	NOTICE_ALLOWED,
	NOTICE_MOUNT_FORCED_RO,
};

struct notice {
	enum notice_kind kind;
	const char *product;	/* USB descriptor string: hostile, any bytes,
				 * may be NULL */
	const char *vendor;	/* same; named instead when product is absent */
	const char *kind_word;	/* policy kind: "storage", "sd", "mtp", "ptp",
				 * "optical", "hid", "network", "other" */
	const char *label;	/* the deciding rule's label, or NULL */
};

/* Display characters kept of a device string or label, the "…" included. */
#define NOTICE_NAME_CHARS 64u
/* Bytes that always hold a sanitized device string or label. */
#define NOTICE_NAME_SIZE 320u
/* Bytes that always hold a formatted message and title (the unit test
 * checks the worst case of every kind and language). */
#define NOTICE_TEXT_SIZE 1024u
#define NOTICE_TITLE_SIZE 128u
/* Bytes that always hold a message with its markup escaped. */
#define NOTICE_MARKUP_SIZE 2048u

/* One journal MESSAGE_ID per notice kind (docs/log-messages.md). */
#define NOTICE_MSGID_READ_ONLY "fbf5774836cc42c095b8c2c03dc492b8"
#define NOTICE_MSGID_BLOCKED "cdc3c14ed6ad4e39833a4f48b78873ab"
#define NOTICE_MSGID_ALLOWED "444b889475844ba1b6f957a96525890c"
#define NOTICE_MSGID_MOUNT_FORCED_RO "5ed1ee1c5b92434fbba79eada584e35a"

/*
 * Make a hostile string safe to show: invalid UTF-8 becomes U+FFFD one byte
 * at a time; C0/C1 controls and DEL become \xHH; invisible and
 * bidirectional formatting characters (U+200B..U+200F, U+2028..U+202E,
 * U+2066..U+2069, BOM, ...) become \uHHHH; a backslash becomes "\\"; the
 * quotes that delimit it in a message ('"', 「 」) become their nested
 * forms (', 『 』).  Leading and trailing spaces go.  The result is cut on a
 * character boundary to at most max_chars characters (an escape is never
 * split), ending in "…" when cut, and always fits size bytes.  s may be
 * NULL (gives "").  Reads s only up to what it needs.
 * Returns the length in bytes, or -EINVAL (size < 4 or max_chars < 2).
 */
int notice_sanitize(const char *s, size_t max_chars, char *buf, size_t size);

/*
 * Escape &, < and > for a notification server that interprets body markup
 * (Desktop Notifications spec 1.2, "Markup").  Returns the length, or
 * -E2BIG (buf then holds "").
 */
int notice_escape_markup(const char *s, char *buf, size_t size);

/*
 * Format the message (and, when title is not NULL, its title) for n in lang:
 * NULL or "ja*" gives Japanese, anything else English.  Device strings and
 * the label pass through notice_sanitize().  Never allocates.
 * Returns 0; -EINVAL for bad arguments or an unknown kind; -E2BIG when a
 * buffer is too small (NOTICE_TEXT_SIZE and NOTICE_TITLE_SIZE always
 * suffice).  On failure buf and title hold "".
 */
int notice_format(const struct notice *n, const char *lang, char *buf,
    size_t size, char *title, size_t title_size);

/*
 * Log n to the journal (MESSAGE, PRIORITY, MESSAGE_ID, MYNAGUARD_* fields)
 * and to stderr unless stderr is that journal.  Then, when a graphical
 * "user" session is active on seat0, pop up a desktop notification for its
 * user: a forked grandchild drops to that user's uid and gid and calls
 * org.freedesktop.Notifications.Notify on /run/user/UID/bus within a few
 * seconds, so the caller waits only for one fork() and a waitpid() of the
 * intermediate child; nothing runs a shell.  NOTICE_ALLOWED pops up only
 * for media (storage, sd, mtp, ptp, optical), so keyboards stay quiet, and
 * at most 5 pop-ups in 10 s are sent (a device re-enumerating in a loop
 * must not fork a process per event).  Call it from one thread.
 *
 * Tests: MYNAGUARD_NOTIFY_BUS=unix:path=... and/or MYNAGUARD_NOTIFY_UID=N
 * replace logind (the uid defaults to the caller's, the bus to
 * /run/user/UID/bus).
 *
 * Returns 0 once the journal/stderr record is written (the pop-up is best
 * effort), or -EINVAL / -E2BIG as notice_format(), -ENOMEM.
 */
int notice_send(const struct notice *n, const char *lang);

#endif
