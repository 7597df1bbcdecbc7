/* SPDX-License-Identifier: BSD-2-Clause */
/* Query strings: RFC 3986 §2.3 unreserved characters stay, every other
 * byte is percent-encoded (UTF-8 as bytes), so no filter value can add a
 * parameter or change the path. */
#include <errno.h>
#include <string.h>

#include "review.h"

int
rv_query_add(struct sbuf *url, const char *key, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *v = (const unsigned char *)value;
	bool first = url->data == NULL || strchr(url->data, '?') == NULL;
	char esc[3] = { '%', 0, 0 };
	int r;

	if ((r = sbuf_printf(url, "%c%s=", first ? '?' : '&', key)) < 0)
		return r;
	for (; *v != '\0' && r >= 0; v++) {
		if ((*v >= 'A' && *v <= 'Z') || (*v >= 'a' && *v <= 'z') ||
		    (*v >= '0' && *v <= '9') || strchr("-._~", *v) != NULL) {
			r = sbuf_putc(url, (char)*v);
			continue;
		}
		esc[1] = hex[*v >> 4];
		esc[2] = hex[*v & 0xf];
		r = sbuf_put(url, esc, 3);
	}
	return r < 0 ? r : 0;
}
