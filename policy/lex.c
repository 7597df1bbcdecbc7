/* SPDX-License-Identifier: BSD-2-Clause */
/* Tokens shared by rules, conditions and settings, and error recording. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

void
diags_add(struct pol_diags *d, unsigned line, unsigned col, const char *fmt,
    va_list ap)
{
	struct pol_diag *e;

	if (d == NULL)
		return;
	d->n_total++;
	if (d->n >= POL_DIAG_MAX)
		return;
	e = &d->d[d->n++];
	e->line = line;
	e->col = col;
	/* Truncation is acceptable for a message; it stays NUL-terminated. */
	if (vsnprintf(e->msg, sizeof(e->msg), fmt, ap) < 0)
		e->msg[0] = '\0';
}

int
lex_error(struct lex *lx, size_t off, const char *fmt, ...)
{
	va_list ap;
	size_t col;

	if (off > lx->len)
		off = lx->len;
	/* Columns count code points from the start of the physical line. */
	col = utf8_count(lx->s - lx->col0, lx->col0 + off) + 1;
	va_start(ap, fmt);
	diags_add(lx->diags, lx->line, (unsigned)col, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

bool
lex_blank(char c)
{
	return c == ' ' || c == '\t';
}

size_t
lex_skip_blanks(struct lex *lx)
{
	size_t n = 0;

	while (lx->pos < lx->len && lex_blank(lx->s[lx->pos])) {
		lx->pos++;
		n++;
	}
	return n;
}

size_t
lex_word(const struct lex *lx)
{
	size_t i = lx->pos;

	while (i < lx->len) {
		char c = lx->s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			break;
		i++;
	}
	return i - lx->pos;
}

bool
lex_word_is(const struct lex *lx, size_t n, const char *w)
{
	return strlen(w) == n && memcmp(lx->s + lx->pos, w, n) == 0;
}

/* One escape after a backslash at s[*i]; usbguard 1.1 decodes only \\, \"
 * and \xHH (its grammar admits more, which it then refuses). */
static int
unescape(struct lex *lx, size_t *i, struct sbuf *b)
{
	size_t at = *i;
	int hi, lo;
	char c;

	if (at + 1 >= lx->len)
		return lex_error(lx, at, "unterminated string");
	c = lx->s[at + 1];
	if (c == '"' || c == '\\') {
		*i = at + 2;
		return sbuf_putc(b, c);
	}
	if (c != 'x')
		return lex_error(lx, at,
		    "unknown escape sequence (use \\\", \\\\ or \\xHH)");
	if (at + 3 >= lx->len ||
	    (hi = parse_hexdigit(lx->s[at + 2])) < 0 ||
	    (lo = parse_hexdigit(lx->s[at + 3])) < 0)
		return lex_error(lx, at, "\\x needs two hex digits");
	*i = at + 4;
	return sbuf_putc(b, (char)(hi << 4 | lo));
}

int
lex_string(struct lex *lx, const char **ret, size_t *ret_len)
{
	struct sbuf b;
	size_t start = lx->pos, i;
	char *copy;
	int r;

	if (lx->pos >= lx->len || lx->s[lx->pos] != '"')
		return lex_error(lx, lx->pos, "expected a \"string\"");
	sbuf_init(&b, POL_STRING_MAX);
	for (i = start + 1;;) {
		if (i >= lx->len) {
			r = lex_error(lx, start, "unterminated string");
			goto out;
		}
		if (lx->s[i] == '"')
			break;
		if (lx->s[i] == '\r') {
			r = lex_error(lx, i, "carriage return inside a string");
			goto out;
		}
		if (lx->s[i] == '\\') {
			r = unescape(lx, &i, &b);
		} else {
			r = sbuf_putc(&b, lx->s[i]);
			i++;
		}
		if (r == -E2BIG)
			r = lex_error(lx, start, "string longer than %u bytes",
			    POL_STRING_MAX);
		if (r < 0)
			goto out;
	}
	copy = arena_memdup(lx->arena, b.data != NULL ? b.data : "", b.len);
	if (copy == NULL) {
		r = -ENOMEM;
		goto out;
	}
	*ret = copy;
	*ret_len = b.len;
	lx->pos = i + 1;
	r = 0;
out:
	sbuf_clear(&b);
	return r;
}
