/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * CSV as RFC 4180 writes it (CRLF, "" inside quotes), for Excel: the
 * caller starts the file with a UTF-8 BOM, without which Japanese Excel
 * reads UTF-8 as Shift_JIS.  Cells that a spreadsheet would evaluate
 * (=, +, -, @, TAB, CR first: OWASP "CSV Injection") get a leading '.
 */
#include <errno.h>
#include <string.h>

#include "review.h"

static bool
needs_quotes(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
			return true;
	return false;
}

static bool
formula(const char *s, size_t len)
{
	return len > 0 && memchr("=+-@\t\r", s[0], 6) != NULL;
}

/* Controls other than TAB, CR and LF (C0, DEL, C1) would reach whoever
 * runs "cat" on the file; invalid UTF-8 would make Excel guess. */
static int
put_clean(struct sbuf *out, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n;
	int r = 0;

	while (i < len && r == 0) {
		n = utf8_seqlen(s + i, len - i);
		if (n == 0 ||
		    (n == 1 && u[i] < 0x20 && u[i] != '\t' && u[i] != '\r' &&
			u[i] != '\n') ||
		    u[i] == 0x7f ||
		    (n == 2 && u[i] == 0xc2 && u[i + 1] < 0xa0)) {
			r = sbuf_putc(out, '?');
			i += n == 0 ? 1 : n;
			continue;
		}
		if (u[i] == '"')
			r = sbuf_putc(out, '"');
		if (r == 0)
			r = sbuf_put(out, s + i, n);
		i += n;
	}
	return r;
}

int
rv_csv_field(struct sbuf *out, const char *s, size_t len, bool first)
{
	bool q = needs_quotes(s, len);
	int r = 0;

	if (!first)
		r = sbuf_putc(out, ',');
	if (r == 0 && q)
		r = sbuf_putc(out, '"');
	if (r == 0 && formula(s, len))
		r = sbuf_putc(out, '\'');
	if (r == 0)
		r = put_clean(out, s, len);
	if (r == 0 && q)
		r = sbuf_putc(out, '"');
	return r;
}

int
rv_csv_end(struct sbuf *out)
{
	return sbuf_put(out, "\r\n", 2);
}
