/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Keeping the spool within its bounds.  When a record does not fit, the
 * oldest segment is rewritten without its non-critical unacknowledged
 * records; each run of dropped records is reported with the hash of its
 * last record, so that the collector can tell "dropped for space" (the
 * next record's prev_hash equals that hash) from "deleted".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "spool_int.h"

int
spool_reserve_create(struct spool *sp)
{
	int fd, r;

	if (sp->reserve_bytes == 0)
		return 0;
	fd = openat(sp->dfd, "reserve", O_WRONLY | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	r = posix_fallocate(fd, 0, (off_t)sp->reserve_bytes);
	if (r == 0 && fsync(fd) < 0)
		r = errno;
	close(fd);
	if (r != 0) {
		(void)unlinkat(sp->dfd, "reserve", 0);
		return -r;
	}
	sp->reserve_present = true;
	sp->fs_limit = UINT64_MAX;
	return 0;
}

static void
note_drop(const struct mg_record *r, struct mg_loss_range *ranges,
    size_t *n_ranges, uint64_t *n_dropped)
{
	struct mg_loss_range *last = *n_ranges ? &ranges[*n_ranges - 1] : NULL;

	if (last == NULL || last->to + 1 != r->seq) {
		last = &ranges[(*n_ranges)++];
		last->from = r->seq;
	}
	last->to = r->seq;
	mg_record_hash(r, last->last_hash);
	(*n_dropped)++;
}

/* Write kept bytes as the new content of segment s (or delete it). */
static int
replace_segment(struct spool *sp, struct seg *s, const struct sbuf *kept,
    uint64_t first, uint64_t last)
{
	char old_name[32], new_name[32];
	int fd, r = 0;

	spool_seg_path(sp, s->first, old_name, sizeof(old_name));
	if (kept->len == 0)
		return unlinkat(sp->dfd, old_name, 0) < 0 ? -errno : 0;
	spool_seg_path(sp, first, new_name, sizeof(new_name));
	fd = openat(sp->dfd, "compact.tmp", O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, kept->data, kept->len) != (ssize_t)kept->len ||
	    fdatasync(fd) < 0)
		r = errno ? -errno : -EIO;
	close(fd);
	if (r == 0 && renameat(sp->dfd, "compact.tmp", sp->dfd, new_name) < 0)
		r = -errno;
	if (r == 0 && first != s->first &&
	    unlinkat(sp->dfd, old_name, 0) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlinkat(sp->dfd, "compact.tmp", 0);
		return r;
	}
	s->first = first;
	s->last = last;
	return 0;
}

/* Rewrite segment i keeping acknowledged-later critical records only. */
int
spool_compact(struct spool *sp, size_t i, struct mg_loss_range *ranges,
    size_t *n_ranges, uint64_t *n_dropped)
{
	struct seg *s = &sp->segs[i];
	struct sbuf buf, kept;
	struct mg_record r;
	uint64_t first = 0, last = 0, old_bytes = s->bytes;
	bool rest = false;
	char name[32];
	size_t off = 0;
	int n, rc;

	sbuf_init(&buf, SEG_READ_MAX);
	sbuf_init(&kept, SEG_READ_MAX);
	spool_seg_path(sp, s->first, name, sizeof(name));
	rc = spool_read_file(sp->dfd, name, &buf);
	while (rc == 0 && off < s->bytes) {
		n = mg_record_decode((const uint8_t *)buf.data + off,
		    buf.len - off, &r, NULL);
		if (n <= 0) {
			rc = -EIO;
			break;
		}
		off += (size_t)n;
		if (r.seq <= sp->acked_seq)
			continue;	/* at the collector already */
		if (!(r.flags & MG_REC_F_CRITICAL) && (*n_ranges <
		    MG_LOSS_RANGES_MAX || ranges[*n_ranges - 1].to + 1 ==
		    r.seq)) {
			note_drop(&r, ranges, n_ranges, n_dropped);
			continue;
		}
		/* Out of ranges: keep the rest for the next round. */
		if (!(r.flags & MG_REC_F_CRITICAL))
			rest = true;
		if (first == 0)
			first = r.seq;
		last = r.seq;
		rc = sbuf_put(&kept, r.raw, r.raw_len);
	}
	if (rc == 0)
		rc = replace_segment(sp, s, &kept, first, last);
	if (rc == 0) {
		sp->total -= old_bytes - kept.len;
		s->bytes = kept.len;
		s->all_critical = !rest;
		if (kept.len == 0)
			spool_seg_remove(sp, i);
		sp->dir_dirty = true;
	}
	sbuf_clear(&buf);
	sbuf_clear(&kept);
	return rc;
}

static uint64_t
limit(const struct spool *sp, bool critical)
{
	uint64_t lim = sp->max_bytes < sp->fs_limit ? sp->max_bytes :
	    sp->fs_limit;

	if (!critical)
		lim = lim > sp->reserve_bytes ? lim - sp->reserve_bytes : 0;
	return lim;
}

int
spool_make_room(struct spool *sp, size_t len, bool critical,
    struct mg_loss_range *ranges, size_t *n_ranges, uint64_t *n_dropped)
{
	size_t i;
	int r = 0;

	*n_ranges = 0;
	*n_dropped = 0;
	pthread_mutex_lock(&sp->lock);
	while (sp->total + len > limit(sp, critical)) {
		if (*n_ranges == MG_LOSS_RANGES_MAX) {
			r = 1;	/* report these first, then call again */
			break;
		}
		for (i = 0; i < sp->n_segs && sp->segs[i].all_critical; i++)
			;
		if (i == sp->n_segs) {
			r = -ENOSPC;
			break;
		}
		/* The active segment is rotated before it is rewritten. */
		if (i + 1 == sp->n_segs && (r = spool_rotate(sp)) < 0)
			break;
		if ((r = spool_compact(sp, i, ranges, n_ranges, n_dropped)) < 0)
			break;
	}
	sp->dropped += *n_dropped;
	if (r == 0 && *n_ranges > 0)
		r = 1;
	pthread_mutex_unlock(&sp->lock);
	return r;
}
