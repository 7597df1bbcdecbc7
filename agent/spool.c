/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The spool: recovery, state, append, commit, read and acknowledge.  Every
 * record on disk is exactly what was signed; recovery trusts nothing it
 * cannot decode and cuts a torn tail rather than guessing.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "spool_int.h"

#define STATE_MAGIC "MYS1"
#define STATE_LEN (4 + 8 + 8 + MG_REC_HASH_LEN + 8 + MG_REC_HASH_LEN + 4)

static void
put64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

int
spool_seg_path(const struct spool *sp, uint64_t first, char *buf, size_t size)
{
	(void)sp;
	return snprintf(buf, size, "seg-%020" PRIu64 ".log", first) <
	    (int)size ? 0 : -ENAMETOOLONG;
}

int
spool_read_file(int dfd, const char *name, struct sbuf *out)
{
	char chunk[2048];
	ssize_t n;
	int fd, r = 0;

	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : 0;
			break;
		}
		if ((r = sbuf_put(out, chunk, (size_t)n)) < 0)
			break;
	}
	close(fd);
	return r;
}

int
spool_seg_add(struct spool *sp, const struct seg *s)
{
	struct seg *ns;

	if (sp->n_segs == sp->cap_segs) {
		sp->cap_segs = sp->cap_segs ? sp->cap_segs * 2 : 16;
		ns = realloc(sp->segs, sp->cap_segs * sizeof(*ns));
		if (ns == NULL)
			return -ENOMEM;
		sp->segs = ns;
	}
	sp->segs[sp->n_segs++] = *s;
	return 0;
}

void
spool_seg_remove(struct spool *sp, size_t i)
{
	memmove(&sp->segs[i], &sp->segs[i + 1],
	    (sp->n_segs - i - 1) * sizeof(sp->segs[0]));
	sp->n_segs--;
}

/* ---- state -------------------------------------------------------------- */

static int
state_write(struct spool *sp)
{
	uint8_t b[STATE_LEN];
	int fd, r = 0;

	memcpy(b, STATE_MAGIC, 4);
	put64(b + 4, sp->boot_id);
	put64(b + 12, sp->acked_seq);
	memcpy(b + 20, sp->acked_hash, MG_REC_HASH_LEN);
	put64(b + 52, sp->head_seq);
	memcpy(b + 60, sp->head_hash, MG_REC_HASH_LEN);
	{
		uint32_t crc = crc32c(0, b, STATE_LEN - 4);

		b[STATE_LEN - 4] = (uint8_t)(crc >> 24);
		b[STATE_LEN - 3] = (uint8_t)(crc >> 16);
		b[STATE_LEN - 2] = (uint8_t)(crc >> 8);
		b[STATE_LEN - 1] = (uint8_t)crc;
	}
	fd = openat(sp->dfd, "state.tmp", O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, b, sizeof(b)) != (ssize_t)sizeof(b) || fsync(fd) < 0)
		r = errno ? -errno : -EIO;
	close(fd);
	if (r == 0 && renameat(sp->dfd, "state.tmp", sp->dfd, "state") < 0)
		r = -errno;
	if (r == 0 && fsync(sp->dfd) < 0)
		r = -errno;
	return r;
}

/* 0 when loaded, 1 when missing, 2 when damaged (rebuilt from segments). */
static int
state_read(struct spool *sp)
{
	struct sbuf b;
	const uint8_t *p;
	uint32_t crc;
	int r;

	sbuf_init(&b, 4096);
	r = spool_read_file(sp->dfd, "state", &b);
	if (r == -ENOENT) {
		sbuf_clear(&b);
		return 1;
	}
	p = (const uint8_t *)b.data;
	if (r < 0 || b.len != STATE_LEN || memcmp(p, STATE_MAGIC, 4) != 0) {
		sbuf_clear(&b);
		return r < 0 ? r : 2;
	}
	crc = (uint32_t)p[STATE_LEN - 4] << 24 | (uint32_t)p[STATE_LEN - 3] <<
	    16 | (uint32_t)p[STATE_LEN - 2] << 8 | p[STATE_LEN - 1];
	if (crc != crc32c(0, p, STATE_LEN - 4)) {
		sbuf_clear(&b);
		return 2;
	}
	sp->boot_id = get64(p + 4);
	sp->acked_seq = get64(p + 12);
	memcpy(sp->acked_hash, p + 20, MG_REC_HASH_LEN);
	sp->head_seq = get64(p + 52);
	memcpy(sp->head_hash, p + 60, MG_REC_HASH_LEN);
	sbuf_clear(&b);
	return 0;
}

/* ---- recovery --------------------------------------------------------- */

static int
cmp_seg(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

/* Find seg-*.log files (first seq from the name; checked on scan). */
static int
list_segments(struct spool *sp)
{
	DIR *d;
	struct dirent *de;
	struct seg s = { 0 };
	uint64_t first;
	int r = 0, fd;

	fd = dup(sp->dfd);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		char num[21];

		if (strlen(de->d_name) != 28 || strncmp(de->d_name, "seg-", 4) ||
		    strcmp(de->d_name + 24, ".log"))
			continue;
		memcpy(num, de->d_name + 4, 20);
		num[20] = '\0';
		if (parse_u64(num, 1, UINT64_MAX, &first) < 0)
			continue;
		s.first = first;
		if ((r = spool_seg_add(sp, &s)) < 0)
			break;
	}
	closedir(d);
	if (sp->n_segs > 1)
		qsort(sp->segs, sp->n_segs, sizeof(sp->segs[0]), cmp_seg);
	return r;
}

static int
quarantine(struct spool *sp, const char *name)
{
	if (mkdirat(sp->dfd, "quarantine", 0700) < 0 && errno != EEXIST)
		return -errno;
	{
		char dst[64];

		snprintf(dst, sizeof(dst), "quarantine/%s", name);
		if (renameat(sp->dfd, name, sp->dfd, dst) < 0)
			return -errno;
	}
	return fsync(sp->dfd) < 0 ? -errno : 0;
}

/* Keep what is before the damage in place; move the rest aside. */
static int
quarantine_tail(struct spool *sp, const char *name, const struct sbuf *buf,
    uint64_t good)
{
	char dst[80];
	int fd, r = 0;

	if (mkdirat(sp->dfd, "quarantine", 0700) < 0 && errno != EEXIST)
		return -errno;
	snprintf(dst, sizeof(dst), "quarantine/%s.from-%llu", name,
	    (unsigned long long)good);
	fd = openat(sp->dfd, dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, buf->data + good, buf->len - good) !=
	    (ssize_t)(buf->len - good) || fsync(fd) < 0)
		r = errno ? -errno : -EIO;
	close(fd);
	return r;
}

static int
cut_tail(struct spool *sp, const char *name, uint64_t keep)
{
	int fd = openat(sp->dfd, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)keep) < 0 || fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* Scan segment i: set last/bytes and advance the head (records must
 * follow each other in seq order).  1 when damaged before its end. */
static int
scan_segment(struct spool *sp, size_t i, uint64_t *good_len,
    struct sbuf *buf)
{
	struct seg *s = &sp->segs[i];
	struct mg_record r;
	char name[32];
	size_t off = 0;
	int n, rc;

	*good_len = 0;
	spool_seg_path(sp, s->first, name, sizeof(name));
	buf->len = 0;
	if ((rc = spool_read_file(sp->dfd, name, buf)) < 0)
		return rc == -E2BIG ? 1 : rc;
	s->last = 0;
	while (off < buf->len) {
		n = mg_record_decode((const uint8_t *)buf->data + off,
		    buf->len - off, &r, NULL);
		if (n <= 0 || r.seq <= sp->head_seq ||
		    (off == 0 && r.seq != s->first))
			break;
		s->last = r.seq;
		sp->head_seq = r.seq;
		mg_record_hash(&r, sp->head_hash);
		/* A lost state file must not restart the boot count. */
		if (r.boot_id > sp->boot_id)
			sp->boot_id = r.boot_id;
		off += (size_t)n;
	}
	*good_len = off;
	s->bytes = off;
	return off < buf->len;
}

static int
recover(struct spool *sp, struct spool_recovery *rec)
{
	struct sbuf buf;
	uint64_t good = 0;
	char name[32];
	size_t i = 0;
	bool last;
	int r = 0;

	sbuf_init(&buf, SEG_READ_MAX);
	while (i < sp->n_segs) {
		spool_seg_path(sp, sp->segs[i].first, name, sizeof(name));
		last = i + 1 == sp->n_segs;
		r = scan_segment(sp, i, &good, &buf);
		if (r < 0)
			break;
		if (r == 1 && last) {
			/* A torn tail: cut it; it was never acknowledged. */
			rec->cut_bytes += buf.len - good;
			rec->cut_at_seq = sp->head_seq;
		} else if (r == 1)
			rec->quarantined++;
		if (good == 0) {
			r = r == 1 && !last ? quarantine(sp, name) :
			    (unlinkat(sp->dfd, name, 0) < 0 ? -errno : 0);
			spool_seg_remove(sp, i);
			if (r < 0)
				break;
			continue;
		}
		if (r == 1 && !last && (r = quarantine_tail(sp, name, &buf,
		    good)) < 0)
			break;
		if (r == 1 && (r = cut_tail(sp, name, good)) < 0)
			break;
		sp->total += sp->segs[i].bytes;
		i++;
	}
	sbuf_clear(&buf);
	return r;
}

static void
spool_free(struct spool *sp)
{
	if (sp == NULL)
		return;
	if (sp->afd >= 0)
		close(sp->afd);
	if (sp->dfd >= 0)
		close(sp->dfd);
	pthread_mutex_destroy(&sp->lock);
	free(sp->segs);
	free(sp->dir);
	free(sp);
}

static int
open_dir(struct spool *sp, const char *dir)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	sp->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (sp->dfd < 0)
		return -errno;
	sp->dir = strdup(dir);
	return sp->dir != NULL ? 0 : -ENOMEM;
}

static struct spool *
spool_new(const struct spool_cfg *cfg)
{
	struct spool *sp = calloc(1, sizeof(*sp));

	if (sp == NULL)
		return NULL;
	pthread_mutex_init(&sp->lock, NULL);
	sp->afd = sp->dfd = -1;
	sp->max_bytes = cfg->max_bytes;
	sp->fs_limit = UINT64_MAX;
	sp->reserve_bytes = cfg->reserve_bytes;
	sp->segment_bytes = cfg->segment_bytes;
	/* Several segments fit in the spool, so dropping one frees room. */
	if (sp->segment_bytes == 0 || sp->segment_bytes > cfg->max_bytes / 8)
		sp->segment_bytes = cfg->max_bytes / 8;
	return sp;
}

/* Segments against the state file: head, lost records, boot count. */
static int
load(struct spool *sp, struct spool_recovery *rec)
{
	uint8_t state_hash[MG_REC_HASH_LEN];
	uint64_t state_head;
	int r;

	if ((r = state_read(sp)) < 0)
		return r;
	rec->state_rebuilt = r == 2;
	state_head = sp->head_seq;
	memcpy(state_hash, sp->head_hash, MG_REC_HASH_LEN);
	sp->head_seq = 0;
	if ((r = list_segments(sp)) < 0)
		return r;
	/* No state but segments: it was lost, not never written. */
	if (state_head == 0 && sp->boot_id == 0 && sp->n_segs > 0)
		rec->state_rebuilt = true;
	if ((r = recover(sp, rec)) < 0)
		return r;
	/* The spool never goes back: a head older than the state's means
	 * its segments were acknowledged and deleted, or lost. */
	if (sp->head_seq < state_head) {
		/* Written records are gone: report them, never reuse seqs. */
		if (state_head > sp->acked_seq) {
			rec->lost_from = sp->head_seq > sp->acked_seq ?
			    sp->head_seq + 1 : sp->acked_seq + 1;
			rec->lost_to = state_head;
		}
		sp->head_seq = state_head;
		memcpy(sp->head_hash, state_hash, MG_REC_HASH_LEN);
	}
	return 0;
}

int
spool_open(const struct spool_cfg *cfg, struct spool **ret,
    struct spool_recovery *rec)
{
	struct spool *sp;
	int r;

	if (cfg == NULL || cfg->dir == NULL || ret == NULL || rec == NULL ||
	    cfg->max_bytes < 4 * (uint64_t)MG_REC_MAX ||
	    cfg->reserve_bytes >= cfg->max_bytes / 2)
		return -EINVAL;
	memset(rec, 0, sizeof(*rec));
	if ((sp = spool_new(cfg)) == NULL)
		return -ENOMEM;
	if ((r = open_dir(sp, cfg->dir)) < 0 || (r = load(sp, rec)) < 0)
		goto fail;
	sp->committed_seq = sp->head_seq;
	sp->boot_id++;
	if ((r = state_write(sp)) < 0)
		goto fail;
	spool_reserve_create(sp);
	*ret = sp;
	return 0;
fail:
	spool_free(sp);
	return r;
}

void
spool_close(struct spool *sp)
{
	if (sp == NULL)
		return;
	pthread_mutex_lock(&sp->lock);
	if (sp->dirty && sp->afd >= 0)
		(void)fdatasync(sp->afd);
	(void)state_write(sp);
	pthread_mutex_unlock(&sp->lock);
	spool_free(sp);
}

void
spool_head(struct spool *sp, uint64_t *ret_seq,
    uint8_t ret_hash[MG_REC_HASH_LEN])
{
	pthread_mutex_lock(&sp->lock);
	*ret_seq = sp->head_seq;
	memcpy(ret_hash, sp->head_hash, MG_REC_HASH_LEN);
	pthread_mutex_unlock(&sp->lock);
}

void
spool_stats(struct spool *sp, struct spool_stats *st)
{
	pthread_mutex_lock(&sp->lock);
	st->bytes = sp->total;
	st->segments = sp->n_segs;
	st->records = sp->head_seq - sp->acked_seq;
	st->head_seq = sp->head_seq;
	st->acked_seq = sp->acked_seq;
	st->dropped = sp->dropped;
	st->boot_id = sp->boot_id;
	pthread_mutex_unlock(&sp->lock);
}

/* ---- append and commit ------------------------------------------------ */

int
spool_rotate(struct spool *sp)
{
	if (sp->afd < 0)
		return 0;
	if (sp->dirty && fdatasync(sp->afd) < 0)
		return -errno;
	sp->dirty = false;
	close(sp->afd);
	sp->afd = -1;
	return 0;
}

static int
open_active(struct spool *sp, uint64_t first)
{
	struct seg s = { .first = first };
	char name[32];
	int r;

	spool_seg_path(sp, first, name, sizeof(name));
	sp->afd = openat(sp->dfd, name, O_WRONLY | O_CREAT | O_EXCL |
	    O_CLOEXEC | O_NOFOLLOW, 0600);
	if (sp->afd < 0)
		return -errno;
	if ((r = spool_seg_add(sp, &s)) < 0) {
		close(sp->afd);
		sp->afd = -1;
		unlinkat(sp->dfd, name, 0);
		return r;
	}
	sp->dir_dirty = true;
	return 0;
}

static int
write_at(int fd, const uint8_t *p, size_t len, uint64_t off)
{
	ssize_t n;

	while (len > 0) {
		n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int
append_locked(struct spool *sp, const uint8_t *rec, size_t len,
    uint64_t seq)
{
	struct seg *s;
	int r;

	if (sp->afd >= 0 && sp->segs[sp->n_segs - 1].bytes + len >
	    sp->segment_bytes && (r = spool_rotate(sp)) < 0)
		return r;
	if (sp->afd < 0 && (r = open_active(sp, seq)) < 0)
		return r;
	s = &sp->segs[sp->n_segs - 1];
	r = write_at(sp->afd, rec, len, s->bytes);
	if (r < 0) {
		/* Leave no partial record behind; if even that fails,
		 * recovery cuts the torn tail at the next start. */
		if (ftruncate(sp->afd, (off_t)s->bytes) < 0)
			return r;
		return r;
	}
	s->bytes += len;
	s->last = seq;
	s->all_critical = false;
	sp->total += len;
	sp->dirty = true;
	return 0;
}

int
spool_append(struct spool *sp, const uint8_t *rec, size_t len, uint64_t seq,
    const uint8_t hash[MG_REC_HASH_LEN], bool critical)
{
	int r;

	(void)critical;
	pthread_mutex_lock(&sp->lock);
	if (seq != sp->head_seq + 1) {
		r = -EINVAL;
		goto out;
	}
	r = append_locked(sp, rec, len, seq);
	if (r == -ENOSPC && sp->reserve_present) {
		/* The file system is full: give up the reserve and lower the
		 * spool's limit to what it holds, so that make_room drops
		 * the oldest records from now on. */
		(void)unlinkat(sp->dfd, "reserve", 0);
		sp->reserve_present = false;
		sp->fs_limit = sp->total;
		r = append_locked(sp, rec, len, seq);
	} else if (r == -ENOSPC)
		sp->fs_limit = sp->total;
	if (r == 0) {
		sp->head_seq = seq;
		memcpy(sp->head_hash, hash, MG_REC_HASH_LEN);
	}
out:
	pthread_mutex_unlock(&sp->lock);
	return r;
}

int
spool_commit(struct spool *sp)
{
	int r = 0;

	pthread_mutex_lock(&sp->lock);
	if (sp->dirty && sp->afd >= 0 && fdatasync(sp->afd) < 0)
		r = -errno;
	if (r == 0 && sp->dir_dirty && fsync(sp->dfd) < 0)
		r = -errno;
	if (r == 0) {
		sp->dirty = false;
		sp->dir_dirty = false;
		sp->committed_seq = sp->head_seq;
	}
	pthread_mutex_unlock(&sp->lock);
	return r;
}

/* ---- read and acknowledge ---------------------------------------------- */

/* Copy records of segment i with seq in (after, committed]; 1 when a limit
 * stopped it. */
static int
read_seg(struct spool *sp, size_t i, uint64_t after, size_t max_bytes,
    size_t max_records, struct sbuf *out, uint64_t *last, size_t *count)
{
	struct sbuf buf;
	struct mg_record r;
	char name[32];
	size_t off = 0;
	int n, rc;

	sbuf_init(&buf, SEG_READ_MAX);
	spool_seg_path(sp, sp->segs[i].first, name, sizeof(name));
	rc = spool_read_file(sp->dfd, name, &buf);
	while (rc == 0 && off < sp->segs[i].bytes) {
		n = mg_record_decode((const uint8_t *)buf.data + off,
		    buf.len - off, &r, NULL);
		if (n <= 0) {
			rc = -EIO;
			break;
		}
		if (r.seq > sp->committed_seq)
			break;
		if (r.seq > after) {
			if (*count >= max_records ||
			    out->len + (size_t)n > max_bytes) {
				rc = 1;
				break;
			}
			if ((rc = sbuf_put(out, r.raw, r.raw_len)) < 0)
				break;
			*last = r.seq;
			(*count)++;
		}
		off += (size_t)n;
	}
	sbuf_clear(&buf);
	return rc;
}

int
spool_read(struct spool *sp, uint64_t after, size_t max_bytes,
    size_t max_records, struct sbuf *out, uint64_t *ret_last)
{
	size_t i, count = 0;
	uint64_t last = 0;
	int r = 0;

	pthread_mutex_lock(&sp->lock);
	for (i = 0; i < sp->n_segs && r == 0; i++) {
		if (sp->segs[i].last <= after)
			continue;	/* all sent already (or empty) */
		r = read_seg(sp, i, after, max_bytes, max_records, out, &last,
		    &count);
	}
	pthread_mutex_unlock(&sp->lock);
	*ret_last = last;
	return r < 0 ? r : 0;
}

int
spool_ack(struct spool *sp, uint64_t seq)
{
	char name[32];
	int r = 0;

	pthread_mutex_lock(&sp->lock);
	if (seq > sp->committed_seq) {
		r = -EINVAL;
		goto out;
	}
	if (seq <= sp->acked_seq)
		goto out;
	sp->acked_seq = seq;
	memset(sp->acked_hash, 0, MG_REC_HASH_LEN);
	if (seq == sp->head_seq)
		memcpy(sp->acked_hash, sp->head_hash, MG_REC_HASH_LEN);
	/* Persist first, then delete: a crash in between only leaves
	 * segments that recovery skips as acknowledged. */
	if ((r = state_write(sp)) < 0)
		goto out;
	while (sp->n_segs > 0 && sp->segs[0].last != 0 &&
	    sp->segs[0].last <= seq) {
		if (sp->n_segs == 1 && sp->afd >= 0 &&
		    (r = spool_rotate(sp)) < 0)
			break;
		spool_seg_path(sp, sp->segs[0].first, name, sizeof(name));
		if (unlinkat(sp->dfd, name, 0) < 0 && errno != ENOENT) {
			r = -errno;
			break;
		}
		sp->total -= sp->segs[0].bytes;
		spool_seg_remove(sp, 0);
		sp->dir_dirty = true;
	}
	if (!sp->reserve_present)
		spool_reserve_create(sp);
out:
	pthread_mutex_unlock(&sp->lock);
	return r;
}
