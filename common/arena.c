/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A bump allocator for objects that live and die together (a parsed
 * policy): one free for everything, and far fewer allocation failure paths.
 */
#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "mynaguard/common.h"

#define CHUNK_MIN 4096u

struct chunk {
	struct chunk *next;
	size_t used;
	size_t size;
	alignas(max_align_t) unsigned char mem[];
};

struct arena {
	struct chunk *head;
};

int
arena_new(struct arena **ret)
{
	struct arena *a;

	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return -ENOMEM;
	*ret = a;
	return 0;
}

void *
arena_alloc(struct arena *a, size_t size)
{
	const size_t align = alignof(max_align_t);
	struct chunk *c = a->head;
	size_t off, csize;
	void *p;

	if (size > SIZE_MAX / 2)
		return NULL;
	size = (size + align - 1) & ~(align - 1);
	if (size == 0)
		size = align;
	if (c == NULL || c->size - c->used < size) {
		csize = size > CHUNK_MIN ? size : CHUNK_MIN;
		c = malloc(sizeof(*c) + csize);
		if (c == NULL)
			return NULL;
		c->used = 0;
		c->size = csize;
		c->next = a->head;
		a->head = c;
	}
	off = c->used;
	c->used += size;
	p = c->mem + off;
	memset(p, 0, size);
	return p;
}

char *
arena_memdup(struct arena *a, const void *src, size_t len)
{
	char *p;

	if (len == SIZE_MAX)
		return NULL;
	p = arena_alloc(a, len + 1);
	if (p == NULL)
		return NULL;
	if (len > 0)
		memcpy(p, src, len);
	p[len] = '\0';
	return p;
}

void
arena_free(struct arena *a)
{
	struct chunk *c, *next;

	if (a == NULL)
		return;
	for (c = a->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(a);
}
