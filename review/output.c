/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Rows in the chosen format.  The table is printed at the end (the widths
 * depend on every row); NDJSON and CSV are written as rows come, so a long
 * "--all" does not hold everything in memory.
 */
#include <errno.h>
#include <string.h>

#include "review.h"

#define LINE_MAX_BYTES (16u << 20)

static int
flush_line(struct rv_out *o)
{
	if (o->line.len > 0 &&
	    fwrite(o->line.data, 1, o->line.len, o->fp) != o->line.len)
		return -EIO;
	o->line.len = 0;
	return 0;
}

int
rv_out_begin(struct rv_out *o, enum rv_format f, FILE *fp, size_t ncols,
    const char *const *head, const size_t *map, const size_t *max, size_t nmap)
{
	const char *th[RV_TABLE_COLS];
	size_t i;
	int r = 0;

	memset(o, 0, sizeof(*o));
	o->format = f;
	o->fp = fp;
	o->ncols = ncols;
	o->map = map;
	o->nmap = nmap < RV_TABLE_COLS ? nmap : RV_TABLE_COLS;
	sbuf_init(&o->line, LINE_MAX_BYTES);
	for (i = 0; i < o->nmap; i++)
		th[i] = head[map[i]];
	rv_table_init(&o->t, o->nmap, th, max);
	if (f != RV_FMT_CSV)
		return 0;
	r = sbuf_puts(&o->line, RV_CSV_BOM);
	for (i = 0; i < ncols && r == 0; i++)
		r = rv_csv_field(&o->line, head[i], strlen(head[i]), i == 0);
	if (r == 0)
		r = rv_csv_end(&o->line);
	return r < 0 ? r : flush_line(o);
}

int
rv_out_row(struct rv_out *o, const char *const *cell, const size_t *len,
    const char *raw, size_t raw_len)
{
	const char *tc[RV_TABLE_COLS];
	size_t tl[RV_TABLE_COLS], i;
	int r = 0;

	o->rows++;
	switch (o->format) {
	case RV_FMT_TABLE:
		for (i = 0; i < o->nmap; i++) {
			tc[i] = cell[o->map[i]];
			tl[i] = len[o->map[i]];
		}
		return rv_table_add(&o->t, tc, tl);
	case RV_FMT_NDJSON:
		/* Bodies are strict JSON: a raw newline cannot occur in them,
		 * so the line is exactly what the collector returned. */
		if ((r = sbuf_put(&o->line, raw, raw_len)) == 0)
			r = sbuf_putc(&o->line, '\n');
		break;
	case RV_FMT_CSV:
		for (i = 0; i < o->ncols && r == 0; i++)
			r = rv_csv_field(&o->line, cell[i], len[i], i == 0);
		if (r == 0)
			r = rv_csv_end(&o->line);
		break;
	}
	return r < 0 ? r : flush_line(o);
}

int
rv_out_end(struct rv_out *o)
{
	int r = 0;

	if (o->format == RV_FMT_TABLE)
		r = rv_table_print(&o->t, o->fp);
	if (fflush(o->fp) != 0 && r == 0)
		r = -EIO;
	rv_table_clear(&o->t);
	sbuf_clear(&o->line);
	return r;
}
