/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mynaguard spool show: the administrator's read-only view of a terminal's
 * unsent events.  Reads DIR/seg-*.log in seq order, decodes every record,
 * checks the hash chain (and, given the terminal's certificate, every
 * signature) and prints one line per record, or NDJSON with --json.
 *
 * It never writes to the spool and takes no lock: the agent may be
 * appending (a torn last record is then reported, and is harmless) or
 * rewriting a segment while we read it.
 *
 * Gaps in seq are explained only by the agent's signed loss records
 * (docs/events.md "Loss records"): a gap is "dropped" when every missing
 * seq lies in a loss range and the range that ends just before the next
 * record carries that record's prev_hash as its last_hash.  Loss records
 * follow the gap they describe, so the spool is read twice: once for the
 * ranges, once to print.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "cli.h"
#include "mynaguard/common.h"
#include "mynaguard/event.h"

#define SPOOL_DIR "/var/lib/mynaguard/spool"
#define SEG_FILE_MAX (64u << 20)	/* [Spool] SegmentSize is <= 64 MiB */
#define SEGS_MAX 1048576u		/* 64 GiB spool / 64 KiB segments */
#define RANGES_MAX 65536u
#define CERT_FILE_MAX 65536u
#define ACTION_MAX 64u
#define SEG_NAME_LEN 28u		/* "seg-" 20 digits ".log" */

enum chain { CH_OK, CH_START, CH_DROPPED, CH_BREAK };

static const char *const chain_name[] = {
	[CH_OK] = "ok", [CH_START] = "start", [CH_DROPPED] = "dropped",
	[CH_BREAK] = "break",
};

struct range {
	uint64_t from;
	uint64_t to;
	uint8_t last_hash[MG_REC_HASH_LEN];
};

struct show {
	const char *dir;
	bool json;
	struct mg_verifier *v;
	uint64_t *segs;		/* first seq of each segment, sorted */
	size_t n_segs;
	struct range *ranges;	/* from the loss records */
	size_t n_ranges;
	size_t cap_ranges;
	bool ranges_full;
	bool have_prev;		/* chain state: the last record shown */
	uint64_t prev_seq;
	uint8_t prev_hash[MG_REC_HASH_LEN];
	uint64_t records, damaged, bad_sigs, breaks, dropped_gaps;
};

/* ---- the segment list ---------------------------------------------------- */

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The first seq named by "seg-<20 digits>.log", or 0. */
static uint64_t
seg_first(const char *name)
{
	char num[21];
	uint64_t v;

	if (strlen(name) != SEG_NAME_LEN || strncmp(name, "seg-", 4) != 0 ||
	    strcmp(name + 24, ".log") != 0)
		return 0;
	memcpy(num, name + 4, 20);
	num[20] = '\0';
	return parse_u64(num, 1, UINT64_MAX, &v) < 0 ? 0 : v;
}

static int
add_segment(struct show *s, uint64_t first, size_t *cap)
{
	uint64_t *n;

	if (s->n_segs == SEGS_MAX)
		return -E2BIG;
	if (s->n_segs == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		n = realloc(s->segs, *cap * sizeof(*n));
		if (n == NULL)
			return -ENOMEM;
		s->segs = n;
	}
	s->segs[s->n_segs++] = first;
	return 0;
}

static int
list_segments(struct show *s)
{
	struct dirent *de;
	size_t cap = 0;
	uint64_t first;
	DIR *d;
	int r = 0;

	d = opendir(s->dir);
	if (d == NULL)
		return -errno;
	while (r == 0 && (de = readdir(d)) != NULL)
		if ((first = seg_first(de->d_name)) != 0)
			r = add_segment(s, first, &cap);
	closedir(d);
	if (r == 0 && s->n_segs > 1)
		qsort(s->segs, s->n_segs, sizeof(s->segs[0]), cmp_u64);
	return r;
}

/* Quarantined segments were damaged at recovery; the agent has written a
 * spool-recovered record about them.  Only mentioned, never decoded. */
static void
note_quarantine(const struct show *s)
{
	char path[2048];
	struct dirent *de;
	unsigned n = 0;
	DIR *d;

	if (snprintf(path, sizeof(path), "%s/quarantine", s->dir) >=
	    (int)sizeof(path) || (d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (seg_first(de->d_name) != 0)
			n++;
	closedir(d);
	if (n > 0)
		fprintf(stderr, "%s: %u damaged segment%s set aside by the "
		    "agent (not shown)\n", path, n, n == 1 ? "" : "s");
}

static int
read_segment(const struct show *s, uint64_t first, char *name, size_t size,
    char **ret, size_t *ret_len)
{
	char path[2048];

	if (snprintf(name, size, "seg-%020" PRIu64 ".log", first) >=
	    (int)size || snprintf(path, sizeof(path), "%s/%s", s->dir, name) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	return file_read_all(path, SEG_FILE_MAX, 0, ret, ret_len);
}

/* ---- loss ranges ------------------------------------------------------- */

static void
add_range(struct show *s, const struct range *rg)
{
	struct range *n;

	if (s->n_ranges == RANGES_MAX) {
		s->ranges_full = true;
		return;
	}
	if (s->n_ranges == s->cap_ranges) {
		n = realloc(s->ranges, (s->cap_ranges ? 2 * s->cap_ranges :
		    16) * sizeof(*n));
		if (n == NULL) {
			s->ranges_full = true;
			return;
		}
		s->ranges = n;
		s->cap_ranges = s->cap_ranges ? 2 * s->cap_ranges : 16;
	}
	s->ranges[s->n_ranges++] = *rg;
}

/* The ranges of a loss body, read as the collector reads them
 * (mg_event_loss_parse()).  A body it cannot read explains nothing: its
 * gap then shows as a break, which errs on the side of the reviewer. */
static void
parse_ranges(struct show *s, const struct mg_record *r)
{
	struct mg_loss_info in;
	struct range rg;
	size_t i;

	if (mg_event_loss_parse(r->body, r->body_len, r->seq, &in, NULL) < 0)
		return;
	for (i = 0; i < in.n; i++) {
		rg.from = in.range[i].from;
		rg.to = in.range[i].to;
		memcpy(rg.last_hash, in.range[i].last_hash, MG_REC_HASH_LEN);
		add_range(s, &rg);
	}
}

/* First pass: every loss range the spool holds (damage is reported by the
 * second pass). */
static void
collect_ranges(struct show *s)
{
	struct mg_record r;
	char name[32], *buf;
	size_t i, len, off;
	int n;

	for (i = 0; i < s->n_segs; i++) {
		buf = NULL;
		if (read_segment(s, s->segs[i], name, sizeof(name), &buf,
		    &len) < 0)
			continue;
		for (off = 0; off < len; off += (size_t)n) {
			n = mg_record_decode((const uint8_t *)buf + off,
			    len - off, &r, NULL);
			if (n <= 0)
				break;
			/* With a certificate, only a loss record that
			 * verifies may explain a gap. */
			if ((r.flags & MG_REC_F_LOSS) && (s->v == NULL ||
			    mg_verifier_check(s->v, &r, NULL) == 0))
				parse_ranges(s, &r);
		}
		free(buf);
	}
}

static int
cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	if (x->to != y->to)
		return x->to < y->to ? -1 : 1;
	return x->from < y->from ? -1 : x->from > y->from;
}

/* The first range (sorted by to, then from) that ends at to, or -1. */
static ssize_t
range_ending(const struct show *s, uint64_t to)
{
	size_t lo = 0, hi = s->n_ranges, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->ranges[mid].to < to)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->n_ranges && s->ranges[lo].to == to ? (ssize_t)lo : -1;
}

/*
 * Whether loss ranges cover [from, to] and vouch for the record after it:
 * one range must end at to with that record's prev_hash as its last_hash,
 * and ranges must tile the rest back to from.  The agent's ranges never
 * overlap (a record is dropped once), so walking back from range end to
 * range end is enough; O(log n) per range in the gap.
 */
static bool
gap_dropped(const struct show *s, uint64_t from, uint64_t to,
    const uint8_t next_prev_hash[MG_REC_HASH_LEN])
{
	ssize_t i = range_ending(s, to);
	uint64_t first;
	size_t j;

	if (i < 0 || s->ranges == NULL)
		return false;
	first = s->ranges[i].from;
	for (j = (size_t)i; j < s->n_ranges && s->ranges[j].to == to; j++)
		if (memcmp(s->ranges[j].last_hash, next_prev_hash,
		    MG_REC_HASH_LEN) == 0)
			break;
	if (j == s->n_ranges || s->ranges[j].to != to)
		return false;
	/* first > from >= 2 here, so first - 1 cannot wrap. */
	while (first > from) {
		if ((i = range_ending(s, first - 1)) < 0)
			return false;	/* not covered */
		first = s->ranges[i].from;
	}
	return true;
}

/* ---- one record ---------------------------------------------------------- */

static bool
all_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

static enum chain
check_chain(const struct show *s, const struct mg_record *r)
{
	if (!s->have_prev) {
		/* Before the first record shown: nothing (seq 1, the agent's
		 * very first record) or records acknowledged and deleted. */
		if (r->seq == 1)
			return all_zero(r->prev_hash, MG_REC_HASH_LEN) ?
			    CH_OK : CH_BREAK;
		return CH_START;
	}
	if (r->seq <= s->prev_seq)
		return CH_BREAK;
	if (r->seq == s->prev_seq + 1)
		return memcmp(r->prev_hash, s->prev_hash, MG_REC_HASH_LEN) ==
		    0 ? CH_OK : CH_BREAK;
	return gap_dropped(s, s->prev_seq + 1, r->seq - 1, r->prev_hash) ?
	    CH_DROPPED : CH_BREAK;
}

/* event.action from a body made by event/body.c, or "?". */
static void
body_action(const struct mg_record *r, char out[ACTION_MAX])
{
	static const char key[] = "\"action\":\"";
	const char *p, *end = (const char *)r->body + r->body_len;
	size_t n = 0;

	p = memmem(r->body, r->body_len, key, sizeof(key) - 1);
	if (p != NULL) {
		p += sizeof(key) - 1;
		while (p + n < end && p[n] != '"' && p[n] != '\\' &&
		    n + 1 < ACTION_MAX)
			n++;
	}
	if (n == 0 || p + n >= end || p[n] != '"')
		n = (size_t)snprintf(out, ACTION_MAX, "?");
	else
		memcpy(out, p, n);
	out[n] = '\0';
}

/* UTC, with digits (3 or 9) of the second's fraction. */
static void
utc_time(int64_t ns, int digits, char *out, size_t size)
{
	time_t secs = (time_t)(ns / 1000000000);
	long frac = (long)(ns % 1000000000);
	struct tm tm;
	size_t n;

	if (frac < 0) {
		frac += 1000000000;
		secs--;
	}
	if (gmtime_r(&secs, &tm) == NULL ||
	    (n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
		snprintf(out, size, "(bad time)");
		return;
	}
	if (digits == 3)
		snprintf(out + n, size - n, ".%03ldZ", frac / 1000000);
	else
		snprintf(out + n, size - n, ".%09ldZ", frac);
}

static const char *
flag_names(uint16_t flags, bool json)
{
	switch (flags & MG_REC_F_KNOWN) {
	case MG_REC_F_CRITICAL:
		return json ? "[\"critical\"]" : "critical";
	case MG_REC_F_LOSS:
		return json ? "[\"loss\"]" : "loss";
	case MG_REC_F_CRITICAL | MG_REC_F_LOSS:
		return json ? "[\"critical\",\"loss\"]" : "critical,loss";
	default:
		return json ? "[]" : "-";
	}
}

static const char *
check_signature(struct show *s, const struct mg_record *r)
{
	const char *why = NULL;
	int rc;

	if (s->v == NULL)
		return "unchecked";
	rc = mg_verifier_check(s->v, r, &why);
	if (rc == 0)
		return "valid";
	s->bad_sigs++;
	fprintf(stderr, "seq %" PRIu64 ": signature invalid: %s\n", r->seq,
	    why != NULL ? why : strerror(-rc));
	return "invalid";
}

static void
print_json(const struct mg_record *r, const uint8_t hash[MG_REC_HASH_LEN],
    enum chain ch, const char *sig)
{
	char h[2 * MG_REC_HASH_LEN + 1], ph[2 * MG_REC_HASH_LEN + 1], t[48];

	mg_hex(hash, MG_REC_HASH_LEN, h);
	mg_hex(r->prev_hash, MG_REC_HASH_LEN, ph);
	utc_time(r->t_wall_ns, 9, t, sizeof(t));
	/* agent_id is [A-Za-z0-9._-] and the body strict JSON (checked by
	 * mg_record_decode), so both go out verbatim. */
	printf("{\"seq\":%" PRIu64 ",\"boot_id\":%" PRIu64 ",\"agent_id\":"
	    "\"%s\",\"time\":\"%s\",\"flags\":%s,\"hash\":\"%s\","
	    "\"prev_hash\":\"%s\",\"chain\":\"%s\",\"signature\":\"%s\","
	    "\"body\":", r->seq, r->boot_id, r->agent_id, t,
	    flag_names(r->flags, true), h, ph, chain_name[ch], sig);
	fwrite(r->body, 1, r->body_len, stdout);
	fputs("}\n", stdout);
}

/* "seq 5" or "seq 5-9": the records missing before r. */
static void
print_gap(const struct show *s, const struct mg_record *r, const char *what)
{
	if (r->seq - 1 == s->prev_seq + 1)
		printf("%8s  gap: seq %" PRIu64 " %s\n", "", r->seq - 1, what);
	else
		printf("%8s  gap: seq %" PRIu64 "-%" PRIu64 " %s\n", "",
		    s->prev_seq + 1, r->seq - 1, what);
}

static void
print_text(const struct show *s, const struct mg_record *r, enum chain ch,
    const char *sig)
{
	char t[48], action[ACTION_MAX];

	if (ch == CH_DROPPED)
		print_gap(s, r, "dropped for space (signed loss record)");
	else if (ch == CH_BREAK && s->have_prev && r->seq > s->prev_seq + 1)
		print_gap(s, r, "missing, not reported as dropped");
	else if (ch == CH_BREAK && s->have_prev && r->seq <= s->prev_seq)
		printf("%8s  chain: seq goes back after seq %" PRIu64 "\n",
		    "", s->prev_seq);
	else if (ch == CH_BREAK)
		printf("%8s  chain: prev_hash does not match the record "
		    "before\n", "");
	body_action(r, action);
	utc_time(r->t_wall_ns, 3, t, sizeof(t));
	printf("%8" PRIu64 "  %4" PRIu64 "  %s  %-13s  %-17s  %-7s  %s\n",
	    r->seq, r->boot_id, t, flag_names(r->flags, false), action,
	    chain_name[ch], sig);
}

static void
show_record(struct show *s, const struct mg_record *r)
{
	uint8_t hash[MG_REC_HASH_LEN];
	enum chain ch = check_chain(s, r);
	const char *sig = check_signature(s, r);

	mg_record_hash(r, hash);
	if (ch == CH_BREAK)
		s->breaks++;
	else if (ch == CH_DROPPED)
		s->dropped_gaps++;
	if (s->json)
		print_json(r, hash, ch, sig);
	else
		print_text(s, r, ch, sig);
	s->records++;
	s->have_prev = true;
	s->prev_seq = r->seq;
	memcpy(s->prev_hash, hash, MG_REC_HASH_LEN);
}

/* ---- one segment ------------------------------------------------------- */

static void
report_damage(struct show *s, const char *name, size_t off, size_t len,
    int rc, const char *why, bool last)
{
	s->damaged++;
	fprintf(stderr, "%s/%s: offset %zu: %s (%s); %zu bytes skipped, "
	    "continuing with the next segment\n", s->dir, name, off,
	    why != NULL ? why : "undecodable", rc == -EAGAIN ? (last ?
	    "torn tail, or a record the agent is writing now" :
	    "torn record") : "damaged", len - off);
}

static void
show_segment(struct show *s, size_t i)
{
	const char *why = NULL;
	struct mg_record r;
	char name[32], *buf = NULL;
	size_t len = 0, off;
	int n;

	n = read_segment(s, s->segs[i], name, sizeof(name), &buf, &len);
	if (n < 0) {
		s->damaged++;
		fprintf(stderr, "%s/%s: %s\n", s->dir, name, n == -ENOENT ?
		    "gone while reading (acknowledged or compacted by the "
		    "running agent)" : n == -E2BIG ? "larger than 64 MiB, "
		    "not a segment" : strerror(-n));
		return;
	}
	if (!s->json && i == 0)
		printf("%8s  %4s  %-24s  %-13s  %-17s  %-7s  %s\n", "SEQ",
		    "BOOT", "TIME (UTC)", "FLAGS", "ACTION", "CHAIN",
		    "SIGNATURE");
	if (!s->json)
		printf("%s/%s\n", s->dir, name);
	for (off = 0; off < len; off += (size_t)n) {
		n = mg_record_decode((const uint8_t *)buf + off, len - off, &r,
		    &why);
		if (n <= 0) {
			report_damage(s, name, off, len, n, why,
			    i + 1 == s->n_segs);
			break;
		}
		if (off == 0 && r.seq != s->segs[i]) {
			s->damaged++;
			fprintf(stderr, "%s/%s: first record is seq %" PRIu64
			    ", not the seq in the file name\n", s->dir, name,
			    r.seq);
		}
		show_record(s, &r);
	}
	free(buf);
}

/* ---- the command ------------------------------------------------------- */

static int
load_cert(struct show *s, const char *path)
{
	char *pem = NULL;
	size_t len = 0;
	int r;

	r = file_read_all(path, CERT_FILE_MAX, 0, &pem, &len);
	if (r == 0)
		r = mg_verifier_from_pem(pem, len, &s->v);
	free(pem);
	if (r < 0)
		fprintf(stderr, "%s: %s\n", path, r == -EBADMSG ? "not a PEM "
		    "certificate" : r == -EKEYREJECTED ? "not an ECDSA P-256 "
		    "terminal certificate with a valid agent id" :
		    r == -E2BIG ? "larger than 64 KiB" : strerror(-r));
	return r;
}

static void
summary(const struct show *s)
{
	if (s->json)
		return;
	printf("%" PRIu64 " record%s in %zu segment%s; %" PRIu64 " damaged, "
	    "%" PRIu64 " chain break%s, %" PRIu64 " gap%s dropped for space; "
	    "signatures %s\n", s->records, s->records == 1 ? "" : "s",
	    s->n_segs, s->n_segs == 1 ? "" : "s", s->damaged, s->breaks,
	    s->breaks == 1 ? "" : "s", s->dropped_gaps,
	    s->dropped_gaps == 1 ? "" : "s", s->v == NULL ? "not checked "
	    "(give --cert)" : s->bad_sigs == 0 ? "all valid" : "NOT all "
	    "valid");
	if (s->ranges_full)
		printf("more than %u loss ranges: some gaps may show as "
		    "breaks\n", RANGES_MAX);
}

static int
parse_args(struct show *s, int argc, char **argv, const char **cert)
{
	int i;

	s->dir = NULL;
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			s->json = true;
		else if (strcmp(argv[i], "--cert") == 0 && i + 1 < argc)
			*cert = argv[++i];
		else if (argv[i][0] != '-' && s->dir == NULL)
			s->dir = argv[i];
		else
			return -EINVAL;
	}
	if (s->dir == NULL)
		s->dir = SPOOL_DIR;
	return 0;
}

int
cmd_spool_show(int argc, char **argv)
{
	struct show s;
	const char *cert = NULL;
	size_t i;
	int r, code = EXIT_USAGE;

	memset(&s, 0, sizeof(s));
	if (parse_args(&s, argc, argv, &cert) < 0)
		return EXIT_USAGE;
	if (cert != NULL && load_cert(&s, cert) < 0)
		return EXIT_USAGE;
	if ((r = list_segments(&s)) < 0) {
		fprintf(stderr, "%s: %s\n", s.dir, r == -E2BIG ?
		    "too many segments" : strerror(-r));
		goto out;
	}
	note_quarantine(&s);
	collect_ranges(&s);
	if (s.n_ranges > 1)
		qsort(s.ranges, s.n_ranges, sizeof(s.ranges[0]), cmp_range);
	for (i = 0; i < s.n_segs; i++)
		show_segment(&s, i);
	summary(&s);
	code = s.damaged || s.bad_sigs || s.breaks ? EXIT_INVALID : 0;
out:
	mg_verifier_free(s.v);
	free(s.segs);
	free(s.ranges);
	return code;
}
