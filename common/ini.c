/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The INI-style files of STYLE.md 5.6 ([Section] and Key=Value lines),
 * walked once here so that every daemon reads them the same way; each
 * caller keeps its own table of keys and its own checks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mynaguard/common.h"

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int
item(char *s, struct ini_item *it, char *section, size_t section_size,
    int (*fn)(void *, const struct ini_item *), void *arg)
{
	char *eq;
	size_t n;

	if (*s == '[') {
		n = strlen(s);
		if (s[n - 1] != ']' || n - 2 >= section_size || n < 3)
			return -EBADMSG;
		memcpy(section, s + 1, n - 2);
		section[n - 2] = '\0';
		it->key = NULL;
		it->value = NULL;
		return fn(arg, it);
	}
	eq = strchr(s, '=');
	if (eq == NULL)
		return -EBADMSG;
	*eq = '\0';
	it->key = trim(s);
	it->value = trim(eq + 1);
	if (it->key[0] == '\0')
		return -EBADMSG;
	return fn(arg, it);
}

int
ini_parse(const char *text, size_t len,
    int (*fn)(void *arg, const struct ini_item *it), void *arg,
    unsigned *ret_line)
{
	char section[64] = "", *copy, *p, *line, *s;
	struct ini_item it = { .section = section };
	int r = 0;

	*ret_line = 0;
	if (memchr(text, '\0', len) != NULL ||
	    utf8_validate(text, len, NULL) < 0)
		return -EILSEQ;
	copy = malloc(len + 1);
	if (copy == NULL)
		return -ENOMEM;
	memcpy(copy, text, len);
	copy[len] = '\0';
	p = copy;
	while (r == 0 && (line = strsep(&p, "\n")) != NULL) {
		it.line++;
		s = trim(line);
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		r = item(s, &it, section, sizeof(section), fn, arg);
	}
	if (r < 0)
		*ret_line = it.line;
	free(copy);
	return r;
}
