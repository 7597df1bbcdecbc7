/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The tamper-evident store, the officer's side (issue 9,
 * docs/checkpoints.md):
 *
 *  - "checkpoint" fetches the collector's newest signed checkpoint, checks
 *    it against the town CA, and saves it (or prints it on paper) to be
 *    kept away from the collector;
 *  - "verify --checkpoint FILE --database DB" checks the store itself
 *    against such a checkpoint (collector/ledger_audit.c): every leaf
 *    recomputed from its record, the root at the checkpoint's size, a
 *    consistency proof to the store's size, and inclusion proofs of the
 *    events asked for.  An insider who edits, deletes or inserts rows is
 *    named here with the terminal, seq and leaf.
 *
 * The database is opened read-only; a connection string is shown only as
 * coll_store_display() writes it (no password).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mynaguard/checkpoint.h"
#include "mynaguard/collector.h"
#include "mynaguard/event.h"
#include "review.h"
#include "store_verify.h"

#define EVENTS_MAX 1000u
#define DB_SHOWN_MAX 1024u
#define HEX_LEN (2 * 32 + 1)

const char rv_store_verify_usage[] =
    "usage: mynaguard-review verify --checkpoint FILE --database DB --ca CA\n"
    "                        [--event TERMINAL:SEQ]... [--json]\n"
    "  Check the collector's store against a checkpoint kept by the\n"
    "  officer: FILE from \"mynaguard-review checkpoint -o FILE\"; DB the\n"
    "  collector's SQLite file or postgresql:// string (read only); CA\n"
    "  the town CA certificate.  --event shows the inclusion proof of\n"
    "  that event; --json writes the result and the proofs as JSON.\n"
    "  Exit status: 0 everything holds, 1 the checkpoint is refused or\n"
    "  the store does not match it, 2 usage, I/O or database error.\n";

struct sv_args {
	const char *checkpoint, *database, *ca;
	struct coll_audit_event *events;
	size_t nevents;
	bool json;
};

static void
hex32(const uint8_t *h, char out[HEX_LEN])
{
	mg_hex(h, 32, out);
}

/* ---- arguments ----------------------------------------------------------- */

bool
rv_store_verify_wanted(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--checkpoint") == 0)
			return true;
	return false;
}

static int
bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
bad_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("mynaguard-review verify: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fputs(rv_store_verify_usage, stderr);
	return -EINVAL;
}

/* TERMINAL:SEQ (the terminal id cannot hold ':'). */
static int
add_event(struct sv_args *s, const char *v)
{
	const char *colon = strrchr(v, ':');
	struct coll_audit_event *ev;
	size_t n;
	uint64_t seq;

	if (s->nevents == EVENTS_MAX)
		return bad_usage("at most %u --event", EVENTS_MAX);
	n = colon != NULL ? (size_t)(colon - v) : 0;
	if (colon == NULL || !mg_agent_id_valid(v, n) ||
	    parse_u64(colon + 1, 1, INT64_MAX, &seq) < 0)
		return bad_usage("--event %s: not TERMINAL:SEQ", v);
	if (s->events == NULL &&
	    (s->events = calloc(EVENTS_MAX, sizeof(*s->events))) == NULL)
		return -ENOMEM;
	ev = &s->events[s->nevents++];
	memcpy(ev->agent, v, n);
	ev->agent[n] = '\0';
	ev->seq = seq;
	return 0;
}

static const char **
value_opt(struct sv_args *s, const char *opt)
{
	if (strcmp(opt, "--checkpoint") == 0)
		return &s->checkpoint;
	if (strcmp(opt, "--database") == 0)
		return &s->database;
	if (strcmp(opt, "--ca") == 0)
		return &s->ca;
	return NULL;
}

/* 0, 1 for --help, -EINVAL (explained), -ENOMEM. */
static int
parse_args(int argc, char **argv, struct sv_args *s)
{
	const char **dst;
	int i, r;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0)
			return 1;
		if (strcmp(argv[i], "--json") == 0) {
			s->json = true;
			continue;
		}
		dst = value_opt(s, argv[i]);
		if (dst == NULL && strcmp(argv[i], "--event") != 0)
			return bad_usage("unexpected %s", argv[i]);
		if (i + 1 >= argc)
			return bad_usage("%s needs a value", argv[i]);
		if (dst == NULL) {
			if ((r = add_event(s, argv[++i])) < 0)
				return r;
		} else if (*dst != NULL)
			return bad_usage("%s given twice", argv[i]);
		else
			*dst = argv[++i];
	}
	if (s->checkpoint == NULL || s->database == NULL || s->ca == NULL)
		return bad_usage("--checkpoint, --database and --ca are "
				 "needed");
	return 0;
}

/* ---- the checkpoint ------------------------------------------------------ */

/* Why the officer's checkpoint was refused. */
struct refusal {
	unsigned line; /* 0: not tied to a line */
	const char *why;
};

/*
 * Read, parse and verify the officer's checkpoint.  0; 1 when it is
 * refused (*ref says why: a verification result, not an error); -errno
 * when it cannot be read or checked (explained on stderr).
 */
static int
load_checkpoint(const struct sv_args *s, struct mg_checkpoint *cp, char *cn,
    size_t cn_len, struct refusal *ref)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	r = file_read_all(s->checkpoint, MG_CHECKPOINT_MAX + 1, 0, &text, &len);
	if (r < 0) {
		fprintf(stderr, "mynaguard-review: %s: %s\n", s->checkpoint,
		    r == -E2BIG ? "larger than a checkpoint can be" :
				  strerror(-r));
		return r;
	}
	ref->why = "malformed";
	r = mg_checkpoint_parse(text, len, cp, &ref->why, &ref->line);
	free(text);
	if (r == -EBADMSG)
		return 1;
	if (r < 0)
		return r;
	ref->line = 0;
	ref->why = "it does not verify";
	r = mg_checkpoint_verify(cp, s->ca, cn, cn_len, &ref->why);
	if (r == -EKEYREJECTED || r == -EBADMSG)
		return 1;
	if (r < 0)
		fprintf(stderr, "mynaguard-review: %s: %s\n", s->ca,
		    ref->why != NULL ? ref->why : strerror(-r));
	return r;
}

static void
print_refusal(const struct sv_args *s, const struct refusal *ref)
{
	struct sbuf b;
	struct jw w;

	if (!s->json) {
		if (ref->line > 0)
			printf("REFUSED checkpoint %s: line %u: %s\n",
			    s->checkpoint, ref->line, ref->why);
		else
			printf("REFUSED checkpoint %s: %s\n", s->checkpoint,
			    ref->why);
		printf("verdict: REFUSED: the checkpoint is not one the "
		       "collector signed under this CA\n");
		return;
	}
	sbuf_init(&b, 4096);
	jw_init(&w, &b);
	jw_object(&w);
	jw_key(&w, "ok");
	jw_bool(&w, false);
	jw_key(&w, "refused");
	jw_str(&w, ref->why);
	jw_key(&w, "line");
	jw_u64(&w, ref->line);
	jw_object_end(&w);
	if (jw_finish(&w) == 0)
		printf("%s\n", b.data);
	sbuf_clear(&b);
}

static void
utc(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "%" PRId64, t);
}

/* ---- the report for people ----------------------------------------------- */

static void
print_finding(const struct coll_audit_finding *x, uint64_t size)
{
	char a[HEX_LEN], b[HEX_LEN];

	switch (x->kind) {
	case COLL_AUDIT_LEAF_MISSING:
		if (x->index_end == x->index)
			printf("MISSING leaf %" PRIu64 ": no merkle_leaves row "
			       "(a leaf was deleted)\n",
			    x->index);
		else
			printf("MISSING leaves %" PRIu64 "..%" PRIu64 ": no "
			       "merkle_leaves rows (leaves were deleted)\n",
			    x->index, x->index_end);
		break;
	case COLL_AUDIT_EVENT_MISSING:
		printf("DELETED leaf %" PRIu64 " (%s seq %" PRIu64 "): the "
		       "event row is gone\n",
		    x->index, x->agent, x->seq);
		break;
	case COLL_AUDIT_RECORD_EDITED:
		hex32(x->stored, a);
		hex32(x->recomputed, b);
		printf("EDITED leaf %" PRIu64 " (%s seq %" PRIu64 "): the "
		       "record's leaf hash %s is not the log's %s\n",
		    x->index, x->agent, x->seq, b,
		    x->has_hashes ? a : "(unreadable)");
		break;
	case COLL_AUDIT_ROW_EDITED:
		printf("EDITED leaf %" PRIu64 " (%s seq %" PRIu64 "): %s\n",
		    x->index, x->agent, x->seq, x->what);
		break;
	case COLL_AUDIT_UNLOGGED:
		printf("UNLOGGED %s seq %" PRIu64 ": the event is in no leaf "
		       "of the log (a row inserted outside it)\n",
		    x->agent, x->seq);
		break;
	case COLL_AUDIT_LEAF_EXTRA:
		printf("EXTRA leaf %" PRId64 " (%s seq %" PRIu64 "): outside "
		       "the log's size %" PRIu64 "\n",
		    (int64_t)x->index, x->agent, x->seq, size);
		break;
	}
}

/* Why a root could not be recomputed at size. */
static void
print_uncheckable(const struct coll_audit *a, const char *what, uint64_t size)
{
	if (size > a->size)
		printf("ROOT %s size %" PRIu64
		       ": the store's log has only %" PRIu64
		       " leaves (it was cut short)\n",
		    what, size, a->size);
	else
		printf("ROOT %s size %" PRIu64 ": cannot be recomputed from "
		       "the records: leaf %" PRIu64 " is missing or has no "
		       "event\n",
		    what, size, a->broken);
}

/* 1 when it is a problem. */
static int
print_checkpoint_root(const struct coll_audit *a)
{
	char h[HEX_LEN];

	switch (a->cp_match) {
	case COLL_AUDIT_OK:
		printf("checkpoint root at size %" PRIu64 ": OK, the store's "
		       "first %" PRIu64 " records are the ones signed\n",
		    a->cp_size, a->cp_size);
		return 0;
	case COLL_AUDIT_DIFFERS:
		hex32(a->cp_recomputed, h);
		printf("ROOT checkpoint size %" PRIu64 ": the store's records "
		       "give %s: the store does not match the checkpoint\n",
		    a->cp_size, h);
		return 1;
	default:
		print_uncheckable(a, "checkpoint", a->cp_size);
		return 1;
	}
}

static int
print_state(const struct coll_audit *a)
{
	char h[HEX_LEN], g[HEX_LEN];

	hex32(a->state_root, h);
	if (a->state_match == COLL_AUDIT_OK) {
		printf("log: size %" PRIu64 ", root %s: OK, recomputed from "
		       "%" PRIu64 " records\n",
		    a->size, h, a->size);
		return 0;
	}
	if (a->state_match == COLL_AUDIT_DIFFERS) {
		hex32(a->root, g);
		printf("STATE merkle_state size %" PRIu64 " root %s: the "
		       "records give %s\n",
		    a->size, h, g);
	} else
		printf("STATE merkle_state size %" PRIu64 " root %s: cannot "
		       "be recomputed from the records\n",
		    a->size, h);
	return 1;
}

static int
print_latest(const struct coll_audit *a)
{
	if (a->latest_sig != 0) {
		printf("REFUSED the newest checkpoint in the store: %s\n",
		    a->latest_why != NULL ? a->latest_why : "does not verify");
		return 1;
	}
	if (!a->latest) {
		printf("NOCHECKPOINT the store holds no checkpoint (they were "
		       "deleted?)\n");
		return 1;
	}
	if (a->latest_size < a->cp_size) {
		printf("OLDCHECKPOINT the newest checkpoint in the store has "
		       "size %" PRIu64 ", less than the exported %" PRIu64 "\n",
		    a->latest_size, a->cp_size);
		return 1;
	}
	if (a->latest_match == COLL_AUDIT_OK) {
		printf("newest stored checkpoint: origin %s, size %" PRIu64
		       ": signature OK, root OK\n",
		    a->latest_origin, a->latest_size);
		return 0;
	}
	if (a->latest_match == COLL_AUDIT_DIFFERS)
		printf("ROOT stored checkpoint size %" PRIu64 ": the store's "
		       "records do not give its root\n",
		    a->latest_size);
	else
		print_uncheckable(a, "stored checkpoint", a->latest_size);
	return 1;
}

static void
print_proof(const uint8_t (*p)[32], size_t n)
{
	char h[HEX_LEN];
	size_t i;

	for (i = 0; i < n; i++) {
		hex32(p[i], h);
		printf("  %s\n", h);
	}
}

static int
print_consistency(const struct coll_audit *a)
{
	const char *against = a->root_ok ? "" : " (against the stored root)";

	if (a->cp_size == 0) {
		printf("consistency: the checkpoint is of the empty log\n");
		return 0;
	}
	if (a->consistency == -ERANGE) {
		printf("CONSISTENCY %" PRIu64 " -> %" PRIu64 ": the store's "
		       "log is smaller than the checkpoint\n",
		    a->cp_size, a->size);
		return 1;
	}
	if (!a->cons_made) {
		printf("CONSISTENCY %" PRIu64 " -> %" PRIu64 ": no proof can "
		       "be made from the stored hashes (%s)\n",
		    a->cp_size, a->size, strerror(-a->consistency));
		return 1;
	}
	printf("%s %" PRIu64 " -> %" PRIu64 "%s, %zu hashes: %s\n",
	    a->consistency == 0 ? "consistency" : "CONSISTENCY", a->cp_size,
	    a->size, against, a->cons_n, a->consistency == 0 ? "OK" : "FAILED");
	print_proof(a->cons_proof, a->cons_n);
	return a->consistency != 0;
}

static int
print_event(const struct coll_audit_event *ev)
{
	char h[HEX_LEN], r[HEX_LEN];

	if (ev->status != COLL_AUDIT_EV_FOUND) {
		printf("EVENT %s:%" PRIu64 ": %s\n", ev->agent, ev->seq,
		    ev->status == COLL_AUDIT_EV_NO_LEAF ?
			"in no leaf of the log" :
			ev->status == COLL_AUDIT_EV_NO_EVENT ?
			"its leaf is there but the event row is gone" :
			"not in the store");
		return 1;
	}
	hex32(ev->leaf, h);
	printf("event %s:%" PRIu64 ": leaf %" PRIu64 ", leaf hash %s\n",
	    ev->agent, ev->seq, ev->index, h);
	if (!ev->made) {
		printf("EVENT %s:%" PRIu64 ": no proof can be made from the "
		       "stored hashes (%s)\n",
		    ev->agent, ev->seq, strerror(-ev->verified));
		return 1;
	}
	hex32(ev->root, r);
	printf("  inclusion in the %s (size %" PRIu64 ", root %s), %zu "
	       "hashes: %s\n",
	    ev->against_checkpoint ? "checkpoint" : "store", ev->size, r,
	    ev->nproof, ev->verified == 0 ? "OK" : "FAILED");
	print_proof(ev->proof, ev->nproof);
	return ev->verified != 0;
}

static void
print_report(const struct coll_audit *a, const struct mg_checkpoint *cp,
    const char *cn, const char *db)
{
	char h[HEX_LEN], t[32];
	uint64_t problems;
	size_t i;

	hex32(cp->root, h);
	utc(cp->time, t);
	printf("checkpoint: origin %s, size %" PRIu64 ", root %s, %s, "
	       "signed by %s: signature OK\n",
	    cp->origin, cp->size, h, t, cn);
	printf("store: %s: %" PRIu64 " leaves, %" PRIu64 " events\n", db,
	    a->size, a->event_rows);
	for (i = 0; i < a->nfindings; i++)
		print_finding(&a->findings[i], a->size);
	if (a->findings_total > a->nfindings)
		printf("... and %" PRIu64 " more findings\n",
		    a->findings_total - a->nfindings);
	problems = a->findings_total;
	problems += (uint64_t)print_checkpoint_root(a);
	problems += (uint64_t)print_state(a);
	problems += (uint64_t)print_latest(a);
	problems += (uint64_t)print_consistency(a);
	for (i = 0; i < a->nevents; i++)
		problems += (uint64_t)print_event(&a->events[i]);
	if (coll_audit_ok(a))
		printf("verdict: OK: the store holds the %" PRIu64 " records "
		       "checkpoint %s signed, unchanged, and the %" PRIu64
		       " after them\n",
		    a->cp_size, t, a->size - a->cp_size);
	else
		printf("verdict: TAMPERED: %" PRIu64 " problems: the store "
		       "does not hold exactly what was signed\n",
		    problems > 0 ? problems : 1);
}

/* ---- verify --checkpoint ------------------------------------------------- */

static int
print_json(const struct coll_audit *a, const char *db)
{
	struct sbuf b;
	int r;

	sbuf_init(&b, COLL_AUDIT_JSON_MAX);
	r = coll_audit_json(a, db, &b);
	if (r == 0)
		r = sbuf_putc(&b, '\n');
	if (r == 0 && fwrite(b.data, 1, b.len, stdout) != b.len)
		r = -EIO;
	sbuf_clear(&b);
	if (r < 0)
		fprintf(stderr, "mynaguard-review: cannot write the JSON: %s\n",
		    strerror(-r));
	return r;
}

static int
audit(const struct sv_args *s, const struct mg_checkpoint *cp, const char *cn)
{
	char shown[DB_SHOWN_MAX];
	struct coll_store *st = NULL;
	struct coll_audit *a = NULL;
	const char *why = NULL;
	int r;

	coll_store_display(s->database, shown, sizeof(shown));
	r = coll_store_open(s->database, COLL_STORE_READONLY, &st, &why);
	if (r < 0) {
		fprintf(stderr, "mynaguard-review: %s: %s\n", shown,
		    why != NULL ? why : strerror(-r));
		return RV_EXIT_USAGE;
	}
	r = coll_audit_run(st, cp, s->ca, s->events, s->nevents, &a, &why);
	if (r < 0)
		fprintf(stderr, "mynaguard-review: %s: %s (%s)\n", shown,
		    strerror(-r), why != NULL ? why : "");
	else if (s->json)
		r = print_json(a, shown);
	else
		print_report(a, cp, cn, shown);
	if (r >= 0)
		r = coll_audit_ok(a) ? RV_EXIT_OK : RV_EXIT_REFUSED;
	else
		r = RV_EXIT_USAGE;
	coll_audit_free(a);
	coll_store_free(st);
	return r;
}

int
rv_store_verify_main(int argc, char **argv)
{
	struct refusal ref = { 0, NULL };
	struct mg_checkpoint cp;
	struct sv_args s;
	char cn[256];
	int r, code = RV_EXIT_USAGE;

	memset(&s, 0, sizeof(s));
	memset(&cp, 0, sizeof(cp));
	r = parse_args(argc, argv, &s);
	if (r == 1) {
		fputs(rv_store_verify_usage, stdout);
		code = RV_EXIT_OK;
	} else if (r == -ENOMEM)
		fprintf(stderr, "mynaguard-review: out of memory\n");
	else if (r == 0)
		r = load_checkpoint(&s, &cp, cn, sizeof(cn), &ref);
	if (r == 0) {
		code = audit(&s, &cp, cn);
	} else if (r == 1 && code != RV_EXIT_OK) {
		print_refusal(&s, &ref);
		code = RV_EXIT_REFUSED;
	}
	mg_checkpoint_clear(&cp);
	free(s.events);
	if (fflush(stdout) != 0)
		code = RV_EXIT_USAGE;
	return code;
}

/* ---- checkpoint [-o FILE] [--print] -------------------------------------- */

/* text to path, complete or not at all (written beside it, renamed). */
static int
save(const char *path, const char *text, size_t len)
{
	size_t n = strlen(path) + 8;
	char *tmp = malloc(n);
	int fd = -1, r = 0;

	if (tmp == NULL)
		return -ENOMEM;
	snprintf(tmp, n, "%s.XXXXXX", path);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		r = -errno;
		free(tmp);
		return r;
	}
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0)
		r = errno != 0 ? -errno : -EIO;
	if (close(fd) != 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) != 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	free(tmp);
	return r;
}

static int
deliver(const struct rv_args *a, bool print, const struct mg_checkpoint *cp)
{
	bool to_stdout =
	    a->output == NULL ? !print : strcmp(a->output, "-") == 0;
	int r;

	if (to_stdout) {
		if (fwrite(cp->text, 1, cp->text_len, stdout) != cp->text_len)
			return RV_EXIT_USAGE;
	} else if (a->output != NULL &&
	    (r = save(a->output, cp->text, cp->text_len)) < 0) {
		fprintf(stderr, "mynaguard-review: %s: %s\n", a->output,
		    strerror(-r));
		return RV_EXIT_USAGE;
	}
	if (print && (r = mg_checkpoint_print(cp, stdout)) < 0) {
		fprintf(stderr,
		    "mynaguard-review: cannot print the "
		    "checkpoint: %s\n",
		    strerror(-r));
		return RV_EXIT_USAGE;
	}
	return RV_EXIT_OK;
}

int
rv_cmd_checkpoint(const struct rv_args *a, bool print)
{
	struct mg_checkpoint cp;
	const char *why = NULL;
	unsigned line = 0;
	struct sbuf body;
	char cn[256], t[32];
	int code, r;

	memset(&cp, 0, sizeof(cp));
	sbuf_init(&body, MG_CHECKPOINT_MAX);
	code = rv_get(&a->conn, "/v1/review/checkpoint", &body, NULL);
	if (code != RV_EXIT_OK)
		goto out;
	code = RV_EXIT_REFUSED;
	r = mg_checkpoint_parse(
	    body.data != NULL ? body.data : "", body.len, &cp, &why, &line);
	if (r < 0) {
		fprintf(stderr,
		    "mynaguard-review: the collector's checkpoint "
		    "is malformed: line %u: %s\n",
		    line, why != NULL ? why : strerror(-r));
		goto out;
	}
	if ((r = mg_checkpoint_verify(&cp, a->conn.ca, cn, sizeof(cn), &why)) <
	    0) {
		fprintf(stderr,
		    "mynaguard-review: the collector's checkpoint "
		    "is refused: %s\n",
		    why != NULL ? why : strerror(-r));
		goto out;
	}
	code = deliver(a, print, &cp);
	utc(cp.time, t);
	if (code == RV_EXIT_OK)
		fprintf(stderr,
		    "checkpoint: origin %s, size %" PRIu64 ", %s, "
		    "signed by %s: signature OK\n",
		    cp.origin, cp.size, t, cn);
out:
	mg_checkpoint_clear(&cp);
	sbuf_clear(&body);
	return code;
}
