/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * "mynaguard-collector policy publish|list" (issue 8): the administrator
 * publishes a bundle signed offline (mynaguard policy sign) on the
 * collector server.  The collector reads the bundle's structure only: it
 * holds no signing key and terminals check the signature.  With [Policy]
 * SigningCertificate= set, the signature is checked here too, so that a
 * bundle signed with the wrong key is not published by mistake.
 *
 * Run as root against the service's database: SQLite gives the WAL and
 * shared-memory files it creates the database file's owner, so the
 * service keeps its access.  The database must already exist (the service
 * makes it), so root never creates a file the service cannot open.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mynaguard/bundle.h"
#include "mynaguard/collector.h"

#define PEM_MAX (64u * 1024u)

_Static_assert(MG_BUNDLE_MAX == COLL_BUNDLE_MAX, "one size limit");
_Static_assert(MG_BUNDLE_GROUP_MAX == COLL_GROUP_MAX, "one group limit");

struct policy_args {
	const char *config, *database, *file;
	bool publish;
};

static int
usage_error(void)
{
	fprintf(stderr,
	    "usage: mynaguard-collector policy publish [--config FILE] "
	    "[--database PATH] BUNDLE\n"
	    "       mynaguard-collector policy list [--config FILE] "
	    "[--database PATH]\n");
	return 2;
}

/* 0, or an exit code. */
static int
parse_policy_args(int argc, char **argv, struct policy_args *a)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "database", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	if (argc < 2)
		return usage_error();
	if (strcmp(argv[1], "publish") == 0)
		a->publish = true;
	else if (strcmp(argv[1], "list") != 0)
		return usage_error();
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
		if (c == 'c')
			a->config = optarg;
		else if (c == 'd')
			a->database = optarg;
		else
			return usage_error();
	}
	if (a->publish && optind + 2 == argc)
		a->file = argv[optind + 1];
	else if (a->publish || optind + 1 != argc)
		return usage_error();
	return 0;
}

/* The configuration file (the default one may be missing). */
static int
load_config(const struct policy_args *a, struct coll_config *c)
{
	const char *path = a->config != NULL ? a->config : COLL_CONFIG_PATH;
	struct coll_diag d;
	int r;

	if ((r = coll_config_init(c)) < 0)
		return r;
	r = coll_config_load(c, path, &d);
	if (r == -ENOENT && a->config == NULL)
		return 0;
	if (r < 0) {
		if (d.line > 0)
			fprintf(stderr, "mynaguard-collector: %s:%u: %s\n",
			    path, d.line, d.msg);
		else
			fprintf(stderr, "mynaguard-collector: %s: %s\n", path,
			    d.msg);
	}
	return r;
}

/* The structure, and the signature when a certificate is configured. */
static int
check_bundle(const struct coll_config *c, const char *file, const char *buf,
    size_t len, struct mg_bundle *b)
{
	struct mg_bundle_error e;
	char *pem = NULL;
	size_t plen = 0;
	int r;

	memset(&e, 0, sizeof(e));
	if (c->signing_cert == NULL)
		r = mg_bundle_parse(buf, len, b, &e);
	else if ((r = coll_file_read(c->signing_cert, PEM_MAX, &pem, &plen)) <
	    0) {
		fprintf(stderr, "mynaguard-collector: %s: %s\n",
		    c->signing_cert, strerror(-r));
		return r;
	} else
		r = mg_bundle_verify(buf, len, pem, plen, b, &e);
	free(pem);
	if (r == -EKEYREJECTED)
		fprintf(stderr,
		    "mynaguard-collector: %s: refused: not signed by the "
		    "policy-signing certificate %s: %s\n",
		    file, c->signing_cert, e.msg);
	else if (r < 0 && e.line > 0)
		fprintf(stderr, "mynaguard-collector: %s: line %u: %s\n", file,
		    e.line, e.msg);
	else if (r < 0)
		fprintf(stderr, "mynaguard-collector: %s: %s\n", file,
		    e.msg[0] != '\0' ? e.msg : strerror(-r));
	return r;
}

static void
print_published(const struct mg_bundle *b, const struct coll_bundle_meta *m)
{
	printf(
	    "published group %s version %" PRIu64 "\n", b->group, m->version);
	printf("  bundle sha256       %s (%zu bytes)\n", m->sha256, m->len);
	printf("  policy sha256       %s\n", m->policy_sha256);
	if (b->credentials != NULL)
		printf("  credentials sha256  %s\n", b->credentials_sha256);
	printf("  signer              %s\n", m->signer);
}

static int
store_bundle(struct coll_store *st, const char *file, const char *buf,
    size_t len, const struct mg_bundle *b)
{
	struct coll_bundle_info in;
	struct coll_bundle_meta m;
	struct timespec ts;
	int r;

	memset(&in, 0, sizeof(in));
	in.group = b->group;
	in.version = b->version;
	in.created = b->created;
	in.signer = b->signer;
	in.policy_sha256 = b->policy_sha256;
	in.credentials_sha256 =
	    b->credentials != NULL ? b->credentials_sha256 : NULL;
	clock_gettime(CLOCK_REALTIME, &ts);
	r = coll_policy_publish(st, &in, buf, len,
	    (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec, &m);
	if (r == -ESTALE)
		fprintf(stderr,
		    "mynaguard-collector: %s: refused: group %s already has "
		    "version %" PRIu64 "; this bundle is version %" PRIu64
		    " (a new bundle needs a higher version)\n",
		    file, b->group, m.version, b->version);
	else if (r < 0)
		fprintf(stderr, "mynaguard-collector: %s: cannot publish: %s\n",
		    file, strerror(-r));
	else
		print_published(b, &m);
	return r;
}

static int
publish(struct coll_store *st, const struct coll_config *c, const char *file)
{
	struct mg_bundle b;
	char *buf = NULL;
	size_t len = 0;
	int r;

	r = file_read_all(file, MG_BUNDLE_MAX, 0, &buf, &len);
	if (r < 0) {
		fprintf(stderr, "mynaguard-collector: %s: %s\n", file,
		    r == -E2BIG ? "larger than the bundle limit (8 MiB)" :
				  strerror(-r));
		return r;
	}
	if ((r = check_bundle(c, file, buf, len, &b)) == 0)
		r = store_bundle(st, file, buf, len, &b);
	free(buf);
	return r;
}

int
coll_policy_main(int argc, char **argv)
{
	struct policy_args a = { NULL, NULL, NULL, false };
	struct coll_config c;
	struct coll_store *st = NULL;
	const char *db, *why = NULL;
	char shown[256];
	int r;

	memset(&c, 0, sizeof(c));
	if ((r = parse_policy_args(argc, argv, &a)) != 0)
		return r;
	if ((r = load_config(&a, &c)) < 0)
		goto out;
	db = a.database != NULL ? a.database : c.database;
	coll_store_display(db, shown, sizeof(shown));
	/* Never create it: as root, that would be a file the service
	 * (a DynamicUser) cannot write. */
	if (!coll_store_is_pg(db) && access(db, F_OK) != 0) {
		r = -errno;
		fprintf(stderr,
		    "mynaguard-collector: %s: %s (start the collector once "
		    "to create it)\n",
		    shown, strerror(-r));
		goto out;
	}
	r = coll_store_open(db, a.publish ? 0 : COLL_STORE_READONLY, &st, &why);
	if (r < 0) {
		fprintf(stderr, "mynaguard-collector: %s: %s\n", shown, why);
		goto out;
	}
	r = a.publish ? publish(st, &c, a.file) : coll_policy_list(st, stdout);
	if (r < 0 && !a.publish)
		fprintf(stderr, "mynaguard-collector: %s: %s\n", shown,
		    strerror(-r));
	if (fflush(stdout) != 0 && r == 0)
		r = -errno;
out:
	coll_store_free(st);
	coll_config_clear(&c);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
