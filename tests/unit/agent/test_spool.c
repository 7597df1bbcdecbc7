/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The spool: records survive restarts; a torn tail cut at every byte offset
 * of the last record is detected, cut and reported; damaged segments are
 * quarantined; a full spool drops the oldest non-critical records and the
 * loss ranges name exactly what went; a full file system loses nothing
 * already written.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "emit.h"
#include "spool.h"
#include "testkeys.h"

static char keydir[] = "/tmp/mg-spool-keys-XXXXXX";
static char key[512], cert[512];
static struct mg_signer *signer;

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(keydir) == NULL ||
	    testkeys_make(keydir, "k", "spool-test", key, cert) < 0 ||
	    mg_signer_load(key, cert, &signer, NULL) < 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	mg_signer_free(signer);
	unlink(key);
	unlink(cert);
	rmdir(keydir);
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

static void
rm_rf(const char *dir)
{
	assert_int_equal(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* Copy src over dst (both small files). */
static void
copy_file(const char *src, const char *dst)
{
	char *text = NULL;
	size_t len = 0;
	int fd;

	assert_int_equal(file_read_all(src, 64u << 20, 0, &text, &len), 0);
	fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	free(text);
}

static uint64_t seg_size;	/* 0: the spool's default */

static struct spool *
open_spool(const char *dir, uint64_t max, struct spool_recovery *rec)
{
	struct spool_cfg cfg = { .dir = dir, .max_bytes = max,
	    .reserve_bytes = max / 8, .segment_bytes = seg_size };
	struct spool_recovery local;
	struct spool *sp = NULL;

	assert_int_equal(spool_open(&cfg, &sp, rec ? rec : &local), 0);
	return sp;
}

static bool no_critical;

/* Emit n test events (every third critical) and commit. */
static void
emit_n(struct spool *sp, unsigned n)
{
	struct emitter e;
	struct mg_field_val f = { MG_F_MESSAGE, "spool test event", 16 };
	unsigned i;

	emit_init(&e, sp, signer, "host");
	for (i = 0; i < n; i++)
		assert_int_equal(emit_event(&e, MG_EV_TEST, &f, 1,
		    i % 3 == 2 && !no_critical ? MG_REC_F_CRITICAL : 0, NULL,
		    NULL, NULL), 0);
	emit_clear(&e);
	assert_int_equal(spool_commit(sp), 0);
}

/* Every record in the spool after `after`, checked: decodes, seq rises,
 * chain links where consecutive. */
static unsigned
count_records(struct spool *sp, uint64_t after, uint64_t *last_seq)
{
	struct sbuf b;
	struct mg_record r;
	uint8_t prev[MG_REC_HASH_LEN];
	uint64_t last = 0, prev_seq = 0;
	size_t off = 0;
	unsigned n = 0;
	int k;

	sbuf_init(&b, 1 << 28);
	assert_int_equal(spool_read(sp, after, 1 << 28, 1000000, &b, &last), 0);
	while (off < b.len) {
		k = mg_record_decode((uint8_t *)b.data + off, b.len - off, &r,
		    NULL);
		assert_true(k > 0);
		assert_true(r.seq > prev_seq);
		if (prev_seq != 0 && r.seq == prev_seq + 1)
			assert_memory_equal(r.prev_hash, prev, MG_REC_HASH_LEN);
		mg_record_hash(&r, prev);
		prev_seq = r.seq;
		off += (size_t)k;
		n++;
	}
	assert_int_equal(last, prev_seq);
	*last_seq = last;
	sbuf_clear(&b);
	return n;
}

static void
test_persist_and_ack(void **state)
{
	char dir[] = "/tmp/mg-spool-XXXXXX";
	struct spool_stats st;
	struct spool *sp;
	uint64_t last;

	(void)state;
	assert_non_null(mkdtemp(dir));
	sp = open_spool(dir, 8 << 20, NULL);
	emit_n(sp, 100);
	spool_stats(sp, &st);
	assert_int_equal(st.head_seq, 100);
	assert_int_equal(st.boot_id, 1);
	assert_int_equal(count_records(sp, 0, &last), 100);
	assert_int_equal(spool_ack(sp, 60), 0);
	assert_int_equal(count_records(sp, 60, &last), 40);
	assert_int_equal(spool_ack(sp, 101), -EINVAL);	/* never sent */
	spool_close(sp);
	/* Reopen: head, acknowledgement and numbering carry on. */
	sp = open_spool(dir, 8 << 20, NULL);
	spool_stats(sp, &st);
	assert_int_equal(st.head_seq, 100);
	assert_int_equal(st.acked_seq, 60);
	assert_int_equal(st.boot_id, 2);
	emit_n(sp, 1);
	assert_int_equal(count_records(sp, 60, &last), 41);
	assert_int_equal(last, 101);
	/* Everything acknowledged: segments go, the seq does not reset,
	 * and the chain continues from the state file's head hash. */
	assert_int_equal(spool_ack(sp, 101), 0);
	spool_stats(sp, &st);
	assert_int_equal(st.segments, 0);
	{
		uint8_t h[MG_REC_HASH_LEN];
		uint64_t hs;
		struct sbuf b;
		struct mg_record r;

		spool_head(sp, &hs, h);
		spool_close(sp);
		sp = open_spool(dir, 8 << 20, NULL);
		emit_n(sp, 1);
		sbuf_init(&b, 1 << 20);
		assert_int_equal(spool_read(sp, 101, 1 << 20, 10, &b, &last), 0);
		assert_int_equal(last, 102);
		assert_true(mg_record_decode((uint8_t *)b.data, b.len, &r,
		    NULL) > 0);
		assert_memory_equal(r.prev_hash, h, MG_REC_HASH_LEN);
		sbuf_clear(&b);
	}
	spool_stats(sp, &st);
	assert_int_equal(st.head_seq, 102);
	spool_close(sp);
	rm_rf(dir);
}

static uint64_t
file_size(const char *path)
{
	struct stat s;

	assert_int_equal(stat(path, &s), 0);
	return (uint64_t)s.st_size;
}

/* Cut the last record of a 5-record spool at every byte offset. */
static void
test_torn_tail_every_offset(void **state)
{
	char dir[] = "/tmp/mg-spool-XXXXXX", seg[600], orig[620];
	struct spool_recovery rec;
	struct spool_stats st;
	struct spool *sp;
	uint64_t full, four, cut, last;

	(void)state;
	assert_non_null(mkdtemp(dir));
	sp = open_spool(dir, 8 << 20, NULL);
	emit_n(sp, 5);
	spool_close(sp);
	snprintf(seg, sizeof(seg), "%s/seg-%020u.log", dir, 1u);
	full = file_size(seg);
	/* The fifth record's offset: every record here has the same size
	 * but for its digits; find it by decoding. */
	{
		struct sbuf b;
		struct mg_record r;
		size_t off = 0;
		int i, k;

		sbuf_init(&b, 1 << 20);
		assert_int_equal(file_read_all(seg, 1 << 20, 0, &b.data,
		    &b.len), 0);
		for (i = 0; i < 4; i++) {
			k = mg_record_decode((uint8_t *)b.data + off,
			    b.len - off, &r, NULL);
			assert_true(k > 0);
			off += (size_t)k;
		}
		four = off;
		sbuf_clear(&b);
	}
	assert_true(full > four + 100);
	snprintf(orig, sizeof(orig), "%s.orig", seg);
	copy_file(seg, orig);
	for (cut = four; cut < full; cut++) {
		copy_file(orig, seg);
		assert_int_equal(truncate(seg, (off_t)cut), 0);
		sp = open_spool(dir, 8 << 20, &rec);
		assert_int_equal(rec.cut_bytes, cut - four);
		assert_int_equal(rec.quarantined, 0);
		assert_int_equal(file_size(seg), four);
		spool_stats(sp, &st);
		/* The state file remembers seq 5 was written: numbering
		 * never reuses it, the collector will see the gap. */
		assert_int_equal(st.head_seq, 5);
		assert_int_equal(count_records(sp, 0, &last), 4);
		spool_close(sp);
	}
	assert_true(cut == full);
	/* Garbage (zeros) after the last record is cut too. */
	{
		static const char zeros[300];
		int fd = open(seg, O_WRONLY | O_APPEND);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, zeros, sizeof(zeros)), 300);
		close(fd);
	}
	sp = open_spool(dir, 8 << 20, &rec);
	assert_int_equal(rec.cut_bytes, 300);
	spool_close(sp);
	rm_rf(dir);
}

static void
test_damaged_segment_quarantined(void **state)
{
	char dir[] = "/tmp/mg-spool-XXXXXX", seg[600];
	struct spool_recovery rec;
	struct spool *sp;
	uint64_t last;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	/* Small segments so there are several. */
	seg_size = 64 << 10;
	sp = open_spool(dir, 8 << 20, NULL);
	emit_n(sp, 2000);
	spool_close(sp);
	snprintf(seg, sizeof(seg), "%s/seg-%020u.log", dir, 1u);
	fd = open(seg, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "XXXX", 4, 1000), 4);
	close(fd);
	sp = open_spool(dir, 8 << 20, &rec);
	seg_size = 0;
	assert_int_equal(rec.quarantined, 1);
	/* The damaged part is set aside; what came before it stays. */
	assert_true(count_records(sp, 0, &last) > 1);
	assert_true(count_records(sp, 0, &last) < 2000);
	assert_int_equal(last, 2000);
	{
		char cmd[700];
		DIR *d;
		struct dirent *de;
		int found = 0;

		snprintf(cmd, sizeof(cmd), "%s/quarantine", dir);
		d = opendir(cmd);
		assert_non_null(d);
		while ((de = readdir(d)) != NULL)
			found += strncmp(de->d_name, "seg-", 4) == 0 &&
			    strstr(de->d_name, ".from-") != NULL;
		closedir(d);
		assert_int_equal(found, 1);
	}
	/* The first record survived: the damage is after it. */
	{
		struct sbuf b;
		uint64_t l2;

		sbuf_init(&b, 1 << 20);
		assert_int_equal(spool_read(sp, 0, 1 << 20, 1, &b, &l2), 0);
		assert_int_equal(l2, 1);
		sbuf_clear(&b);
	}
	spool_close(sp);
	rm_rf(dir);
}

/* Fill a small spool; the loss ranges must name exactly the dropped
 * records, with the hash of each range's last record. */
static void
test_full_spool_drops_oldest(void **state)
{
	char dir[] = "/tmp/mg-spool-XXXXXX";
	static struct mg_loss_range ranges[MG_LOSS_RANGES_MAX];
	struct spool_stats st;
	struct spool *sp;
	struct sbuf b;
	struct mg_record r;
	uint64_t dropped, last;
	size_t n, i, off = 0;
	uint8_t h[MG_REC_HASH_LEN];
	int k;

	(void)state;
	assert_non_null(mkdtemp(dir));
	sp = open_spool(dir, 1 << 20, NULL);
	/* Snapshot the hashes of what is there before dropping. */
	emit_n(sp, 3000);
	spool_stats(sp, &st);
	assert_true(st.bytes <= 1 << 20);
	assert_true(st.dropped > 0);
	/* Ask for room for a lot more: ranges come back. */
	assert_int_equal(spool_make_room(sp, 300000, false, ranges, &n,
	    &dropped), 1);
	assert_true(n > 0 && dropped > 0);
	sbuf_init(&b, 1 << 24);
	assert_int_equal(spool_read(sp, 0, 1 << 24, 1000000, &b, &last), 0);
	/* No dropped seq is still in the spool, and every remaining record
	 * between ranges is critical. */
	while (off < b.len) {
		k = mg_record_decode((uint8_t *)b.data + off, b.len - off, &r,
		    NULL);
		assert_true(k > 0);
		for (i = 0; i < n; i++)
			assert_false(r.seq >= ranges[i].from &&
			    r.seq <= ranges[i].to);
		if (r.seq < ranges[n - 1].to)
			assert_true(r.flags & MG_REC_F_CRITICAL);
		mg_record_hash(&r, h);
		off += (size_t)k;
	}
	/* The agent writes a loss record and asks again until it fits. */
	while ((k = spool_make_room(sp, 300000, false, ranges, &n,
	    &dropped)) == 1)
		;
	assert_int_equal(k, 0);
	spool_stats(sp, &st);
	assert_true(st.bytes + 300000 <= (1 << 20) - (1 << 17));
	sbuf_clear(&b);
	spool_close(sp);
	rm_rf(dir);
}

/* A file system far smaller than the configured spool: writes continue
 * with loss records, and nothing on disk is ever torn. */
static void
test_tiny_full_filesystem(void **state)
{
	char dir[] = "/tmp/mg-spool-fs-XXXXXX", sub[600];
	struct spool_recovery rec;
	struct spool_stats st;
	struct spool *sp;
	uint64_t last;

	(void)state;
	assert_non_null(mkdtemp(dir));
	if (mount("tmpfs", dir, "tmpfs", 0, "size=256k,mode=0700") < 0) {
		rmdir(dir);
		skip();	/* needs root (CI runs as root) */
	}
	snprintf(sub, sizeof(sub), "%s/spool", dir);
	{
		struct spool_cfg cfg = { .dir = sub, .max_bytes = 64u << 20,
		    .reserve_bytes = 64u << 10 };

		assert_int_equal(spool_open(&cfg, &sp, &rec), 0);
		no_critical = true;
		emit_n(sp, 3000);	/* ~1.5 MB into 256 KiB */
		no_critical = false;
		spool_stats(sp, &st);
		assert_true(st.dropped > 0);
		/* Loss records took seqs of their own. */
		assert_true(st.head_seq > 3000);
		spool_close(sp);
		assert_int_equal(spool_open(&cfg, &sp, &rec), 0);
		assert_int_equal(rec.cut_bytes, 0);
		assert_int_equal(rec.quarantined, 0);
		assert_true(count_records(sp, 0, &last) > 0);
		spool_stats(sp, &st);
		assert_int_equal(last, st.head_seq);
		spool_close(sp);
	}
	assert_int_equal(umount(dir), 0);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_persist_and_ack),
		cmocka_unit_test(test_torn_tail_every_offset),
		cmocka_unit_test(test_damaged_segment_quarantined),
		cmocka_unit_test(test_full_spool_drops_oldest),
		cmocka_unit_test(test_tiny_full_filesystem),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
