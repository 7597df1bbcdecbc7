/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_AGENT_SPOOL_INT_H
#define MYNAGUARD_AGENT_SPOOL_INT_H

#include <pthread.h>

#include "spool.h"

#define SEG_READ_MAX (64u << 20)	/* largest segment we ever read */

struct seg {
	uint64_t first;
	uint64_t last;
	uint64_t bytes;
	bool all_critical;	/* compacted: nothing left to drop */
};

struct spool {
	pthread_mutex_t lock;
	char *dir;
	int dfd;
	uint64_t max_bytes;
	uint64_t fs_limit;	/* lowered when the file system is full */
	uint64_t reserve_bytes;
	uint64_t segment_bytes;
	struct seg *segs;
	size_t n_segs;
	size_t cap_segs;
	int afd;		/* active (last) segment, or -1 */
	bool dirty;		/* written, not yet fdatasync'ed */
	bool dir_dirty;		/* directory changed, not yet fsync'ed */
	bool reserve_present;
	uint64_t total;
	uint64_t head_seq;
	uint8_t head_hash[MG_REC_HASH_LEN];
	uint64_t committed_seq;
	uint64_t acked_seq;
	uint8_t acked_hash[MG_REC_HASH_LEN];
	uint64_t boot_id;
	uint64_t dropped;
};

/* spool.c */
int spool_seg_path(const struct spool *sp, uint64_t first, char *buf,
    size_t size);
int spool_read_file(int dfd, const char *name, struct sbuf *out);
int spool_seg_add(struct spool *sp, const struct seg *s);
void spool_seg_remove(struct spool *sp, size_t i);
int spool_rotate(struct spool *sp);

/* spool_room.c */
int spool_compact(struct spool *sp, size_t i, struct mg_loss_range *ranges,
    size_t *n_ranges, uint64_t *n_dropped);
int spool_reserve_create(struct spool *sp);

#endif
