/* SPDX-License-Identifier: BSD-2-Clause */
/* Inside the notice module: texts and the bounded writer (notify_text.c),
 * shared with the journal and pop-up side (notify.c). */
#ifndef MYNAGUARD_NOTIFY_INT_H
#define MYNAGUARD_NOTIFY_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "notify.h"

#define NOTICE_KINDS_ 4

struct kind_word {
	const char *key;
	const char *ja;
	const char *en;		/* inside a sentence */
	const char *en_cap;	/* starting one */
	bool media;		/* NOTICE_ALLOWED pops up */
};

struct notice_text {
	const char *name;	/* MYNAGUARD_NOTICE= */
	const char *msgid;
	int priority;
	int urgency;		/* 1 normal, 2 critical */
	const char *icon;
	const char *category;	/* spec 1.2, "Categories" */
	const char *title[2];	/* after the noun */
	const char *says[2];	/* after the subject */
	const char *contact[2];
};

extern const struct notice_text notice_texts[NOTICE_KINDS_];

/* The words for a policy kind ("storage", ...); "other" for the rest. */
const struct kind_word *notice_kind_lookup(const char *key);

/* A bounded string writer: the first overflow sticks (-E2BIG). */
struct w {
	char *buf;
	size_t size;	/* > 0 */
	size_t len;
	int err;	/* first error: -E2BIG */
};

void nw_init(struct w *w, char *buf, size_t size);
void nw_put(struct w *w, const char *s, size_t n);
void nw_puts(struct w *w, const char *s);

#endif
