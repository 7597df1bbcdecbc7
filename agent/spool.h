/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_AGENT_SPOOL_H
#define MYNAGUARD_AGENT_SPOOL_H

/*
 * The durable, bounded, append-only spool of signed records.
 *
 *   DIR/state            boot id, acknowledged seq and hash, head seq and
 *                        hash (write tmp, fsync, rename, fsync DIR)
 *   DIR/seg-<seq>.log    records, in seq order, named by the first one
 *   DIR/reserve          preallocated; unlinked on ENOSPC so critical and
 *                        loss records still fit on a full file system
 *   DIR/quarantine/      damaged segments moved aside at recovery
 *
 * Records are appended with write(); spool_commit() makes them durable
 * (fdatasync).  When the spool is full, the oldest non-critical
 * unacknowledged records are dropped and reported, so that the caller can
 * write a signed loss record.  Not thread-safe by itself except where
 * noted: the agent's main thread writes, its shipper thread reads and
 * acknowledges, and every entry point takes the spool's lock.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mynaguard/event.h"

struct spool;

struct spool_cfg {
	const char *dir;
	uint64_t max_bytes;	/* all segments together */
	uint64_t reserve_bytes;	/* of max_bytes, kept for critical/loss */
	uint64_t segment_bytes;	/* rotate segments at this size */
};

/* What recovery found and repaired; written by spool_open(). */
struct spool_recovery {
	uint64_t cut_bytes;	/* torn tail cut from the last segment */
	uint64_t cut_at_seq;	/* last good seq before the cut */
	unsigned quarantined;	/* damaged parts of older segments moved
				 * to quarantine/ */
	bool state_rebuilt;	/* state file missing or damaged */
	uint64_t lost_from;	/* records the state file says were written */
	uint64_t lost_to;	/* but that are gone (0, 0: none) */
};

struct spool_stats {
	uint64_t bytes;
	uint64_t segments;
	uint64_t records;	/* unacknowledged */
	uint64_t head_seq;
	uint64_t acked_seq;
	uint64_t dropped;	/* records dropped for space since start */
	uint64_t boot_id;
};

/* Open (creating DIR if needed, mode 0700), recover, and start a new boot:
 * the boot id is incremented and persisted.  -errno. */
int spool_open(const struct spool_cfg *cfg, struct spool **ret,
    struct spool_recovery *rec);
void spool_close(struct spool *sp);

/* Last record written: seq (0 when none ever) and chain hash. */
void spool_head(struct spool *sp, uint64_t *ret_seq,
    uint8_t ret_hash[MG_REC_HASH_LEN]);
void spool_stats(struct spool *sp, struct spool_stats *st);

/*
 * Make room for a record of len bytes.  Non-critical records may not use
 * the reserve.  Drops the oldest non-critical unacknowledged records when
 * needed and describes them in ranges (at most MG_LOSS_RANGES_MAX; *n_ranges
 * set, *n_dropped counts them).  Returns 0 when the record fits and nothing
 * was dropped; 1 when records were dropped: the caller must write a loss
 * record for them (critical) and then call again; -ENOSPC when it cannot
 * fit (only critical records left).
 */
int spool_make_room(struct spool *sp, size_t len, bool critical,
    struct mg_loss_range *ranges, size_t *n_ranges, uint64_t *n_dropped);

/* Append one encoded record (seq must be head + 1); durable only after
 * spool_commit().  -ENOSPC when the file system is full even after
 * giving up the reserve file, -errno. */
int spool_append(struct spool *sp, const uint8_t *rec, size_t len,
    uint64_t seq, const uint8_t hash[MG_REC_HASH_LEN], bool critical);
int spool_commit(struct spool *sp);

/*
 * Shipper side: copy records with seq > after, in order, up to max_bytes
 * and max_records, into out; *ret_last is the last seq copied (0 when
 * none).  Committed records only.
 */
int spool_read(struct spool *sp, uint64_t after, size_t max_bytes,
    size_t max_records, struct sbuf *out, uint64_t *ret_last);

/* The collector holds everything up to seq: persist that and delete the
 * segments it empties. */
int spool_ack(struct spool *sp, uint64_t seq);

#endif
