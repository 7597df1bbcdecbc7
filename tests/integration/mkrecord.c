/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mkrecord: write signed event records to stdout, back to back, exactly as
 * an agent's spool holds them and POST /v1/events takes them.  For tests
 * of the collector and anything else that needs real records.
 *
 *   mkrecord --key K [--cert C | --agent-id ID] [--seq N] [--count N]
 *            [--boot-id N] [--prev-hash HEX] [--body JSON] [--flags N]
 *            [--t-wall-ns N] [--forge] [--print-hash]
 *
 * The records' agent id is the certificate's CN (the event library signs
 * as the certificate says).  Without --cert, a self-signed certificate for
 * K with CN=ID is made on the fly: the same key under another agent id.
 * Records are chained from --prev-hash (default all zero) and numbered
 * from --seq (default 1).  --forge breaks each signature (CRC fixed up, so
 * the record decodes and only the signature check fails).  --print-hash
 * prints the chain hash of the last genuine record on stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mynaguard/event.h"
#include "testcert.h"

struct args {
	const char *key, *cert, *agent_id, *body;
	uint64_t seq, count, boot_id, t_wall_ns;
	uint32_t flags;
	uint8_t prev[MG_REC_HASH_LEN];
	int forge, print_hash;
};

static int
parse_hash(const char *s, uint8_t out[MG_REC_HASH_LEN])
{
	size_t i;
	int hi, lo;

	if (strlen(s) != 2 * MG_REC_HASH_LEN)
		return -EINVAL;
	for (i = 0; i < MG_REC_HASH_LEN; i++) {
		hi = parse_hexdigit(s[2 * i]);
		lo = parse_hexdigit(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int
parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "cert", required_argument, NULL, 'c' },
		{ "agent-id", required_argument, NULL, 'a' },
		{ "seq", required_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'n' },
		{ "boot-id", required_argument, NULL, 'b' },
		{ "prev-hash", required_argument, NULL, 'p' },
		{ "body", required_argument, NULL, 'B' },
		{ "flags", required_argument, NULL, 'f' },
		{ "t-wall-ns", required_argument, NULL, 't' },
		{ "forge", no_argument, NULL, 'F' },
		{ "print-hash", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	int c, r = 0;

	while (r == 0 && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			a->key = optarg;
			break;
		case 'c':
			a->cert = optarg;
			break;
		case 'a':
			a->agent_id = optarg;
			break;
		case 'B':
			a->body = optarg;
			break;
		case 'F':
			a->forge = 1;
			break;
		case 'H':
			a->print_hash = 1;
			break;
		case 's':
			r = parse_u64(optarg, 1, INT64_MAX, &a->seq);
			break;
		case 'n':
			r = parse_u64(optarg, 1, 1000000, &a->count);
			break;
		case 'b':
			r = parse_u64(optarg, 0, UINT64_MAX, &a->boot_id);
			break;
		case 't':
			r = parse_u64(optarg, 0, INT64_MAX, &a->t_wall_ns);
			break;
		case 'f':
			r = parse_u32(optarg, 0, 0xffff, &a->flags);
			break;
		case 'p':
			r = parse_hash(optarg, a->prev);
			break;
		default:
			r = -EINVAL;
			break;
		}
	}
	if (r < 0 || optind != argc || a->key == NULL ||
	    (a->cert == NULL && a->agent_id == NULL))
		return -EINVAL;
	return 0;
}

/* Break the signature's last byte and fix the CRC over it. */
static void
forge(uint8_t *rec, size_t len)
{
	rec[len - 1] ^= 0x01;
	mg_record_seal(rec, len);
}

static int
emit(const struct mg_signer *s, struct args *a)
{
	struct mg_record_in in;
	char hex[2 * MG_REC_HASH_LEN + 1];
	struct sbuf out;
	uint64_t i;
	size_t start;
	int r = 0;

	memset(&in, 0, sizeof(in));
	memcpy(in.prev_hash, a->prev, MG_REC_HASH_LEN);
	in.flags = (uint16_t)a->flags;
	in.boot_id = a->boot_id;
	in.t_wall_ns = (int64_t)a->t_wall_ns;
	in.body = a->body;
	in.body_len = strlen(a->body);
	sbuf_init(&out, MG_REC_MAX);
	for (i = 0; i < a->count && r == 0; i++) {
		in.seq = a->seq + i;
		in.t_boot_ns = 1000000000u + i;
		out.len = 0;
		start = 0;
		if ((r = mg_record_encode(s, &in, &out, in.prev_hash)) < 0)
			break;
		if (a->forge)
			forge((uint8_t *)out.data + start, out.len - start);
		if (fwrite(out.data, 1, out.len, stdout) != out.len)
			r = -EIO;
	}
	if (r == 0 && a->print_hash) {
		mg_hex(in.prev_hash, MG_REC_HASH_LEN, hex);
		fprintf(stderr, "%s\n", hex);
	}
	sbuf_clear(&out);
	if (fflush(stdout) != 0 && r == 0)
		r = -EIO;
	return r;
}

int
main(int argc, char **argv)
{
	struct args a = { .seq = 1,
		.count = 1,
		.boot_id = 1,
		.body = "{\"event\":{\"action\":\"test\"},"
			"\"message\":\"mkrecord test event\"}" };
	struct mg_signer *s = NULL;
	struct timespec ts;
	char tmp[] = "/tmp/mkrecord.XXXXXX";
	const char *why = "";
	int fd = -1, r;

	clock_gettime(CLOCK_REALTIME, &ts);
	a.t_wall_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	if (parse_args(argc, argv, &a) < 0) {
		fprintf(stderr,
		    "usage: mkrecord --key K [--cert C | "
		    "--agent-id ID] [--seq N] [--count N] [--boot-id N]\n"
		    "       [--prev-hash HEX] [--body JSON] [--flags N] "
		    "[--t-wall-ns N] [--forge] [--print-hash]\n");
		return 2;
	}
	if (a.cert == NULL) {
		if ((fd = mkstemp(tmp)) < 0 ||
		    testcert_selfsign(a.key, tmp, a.agent_id) < 0) {
			fprintf(stderr,
			    "mkrecord: cannot make a certificate "
			    "for %s\n",
			    a.agent_id);
			r = -EIO;
			goto out;
		}
		a.cert = tmp;
	}
	if ((r = mg_signer_load(a.key, a.cert, &s, &why)) < 0) {
		fprintf(stderr, "mkrecord: %s\n", why);
		goto out;
	}
	if (a.agent_id != NULL && strcmp(a.agent_id, mg_signer_agent_id(s))) {
		fprintf(stderr,
		    "mkrecord: --agent-id %s, but the certificate "
		    "says %s\n",
		    a.agent_id, mg_signer_agent_id(s));
		r = -EINVAL;
		goto out;
	}
	if ((r = emit(s, &a)) < 0)
		fprintf(stderr, "mkrecord: cannot encode: %s\n", strerror(-r));
out:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	mg_signer_free(s);
	return r < 0 ? 1 : 0;
}
