/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The table format: every cell cleaned (rv_width_clean) and cut to its
 * column's limit, then all rows printed aligned by display width, so
 * Japanese text (2 columns a character) lines up with ASCII.
 */
#include <errno.h>
#include <string.h>

#include "review.h"

#define TABLE_MAX (256u << 20)

void
rv_table_init(struct rv_table *t, size_t ncols, const char *const *head,
    const size_t *max)
{
	size_t i;

	memset(t, 0, sizeof(*t));
	t->ncols = ncols < RV_TABLE_COLS ? ncols : RV_TABLE_COLS;
	for (i = 0; i < t->ncols; i++) {
		t->head[i] = head[i];
		t->max[i] = max[i];
		t->width[i] = rv_width_of(head[i], strlen(head[i]));
	}
	sbuf_init(&t->cells, TABLE_MAX);
}

int
rv_table_add(struct rv_table *t, const char *const *cell, const size_t *len)
{
	size_t i, cols;
	int r;

	for (i = 0; i < t->ncols; i++) {
		if ((r = rv_width_clean(
			 &t->cells, cell[i], len[i], t->max[i], &cols)) < 0 ||
		    (r = sbuf_putc(&t->cells, '\0')) < 0)
			return r;
		if (cols > t->width[i])
			t->width[i] = cols;
	}
	t->nrows++;
	return 0;
}

/* One cell, then padding to the column (none after the last). */
static void
put_cell(const struct rv_table *t, FILE *out, size_t col, const char *s)
{
	size_t w = rv_width_of(s, strlen(s));

	fputs(s, out);
	if (col + 1 == t->ncols)
		return;
	for (; w < t->width[col] + 2; w++)
		fputc(' ', out);
}

int
rv_table_print(struct rv_table *t, FILE *out)
{
	const char *p = t->cells.data;
	size_t i, row;

	for (i = 0; i < t->ncols; i++)
		put_cell(t, out, i, t->head[i]);
	fputc('\n', out);
	for (row = 0; row < t->nrows && p != NULL; row++) {
		for (i = 0; i < t->ncols; i++) {
			put_cell(t, out, i, p);
			p += strlen(p) + 1;
		}
		fputc('\n', out);
	}
	return ferror(out) ? -EIO : 0;
}

void
rv_table_clear(struct rv_table *t)
{
	sbuf_clear(&t->cells);
	t->nrows = 0;
}
