/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mynaguard policy sign | verify: the administrator's side of signed
 * policy bundles (docs/policy-bundles.md).  sign runs the policy checker
 * and the credentials parser first and prints every error with its
 * line:col; verify checks the signature against the pinned certificate
 * and then the policy and credentials inside, as the agent will.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mynaguard/bundle.h"
#include "mynaguard/common.h"
#include "mynaguard/login.h"
#include "mynaguard/policy.h"

#include "cli.h"

#define CERT_MAX 65536u

struct sign_args {
	const char *file;
	const char *group;
	const char *credentials;
	const char *key;
	const char *cert;
	const char *out;
	uint64_t version;
	bool force;
};

static int
usage_error(const char *what)
{
	fprintf(stderr, "mynaguard policy: %s\n", what);
	return EXIT_USAGE;
}

static int
parse_sign_args(int argc, char **argv, struct sign_args *a)
{
	static const struct option opts[] = {
		{ "group", required_argument, NULL, 'g' },
		{ "version", required_argument, NULL, 'v' },
		{ "credentials", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "cert", required_argument, NULL, 'C' },
		{ "output", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *version = NULL;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (c) {
		case 'g': a->group = optarg; break;
		case 'v': version = optarg; break;
		case 'c': a->credentials = optarg; break;
		case 'k': a->key = optarg; break;
		case 'C': a->cert = optarg; break;
		case 'o': a->out = optarg; break;
		case 'f': a->force = true; break;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || a->group == NULL || a->key == NULL ||
	    a->cert == NULL || a->out == NULL)
		return usage_error("sign needs FILE, --group, --key, --cert "
		    "and -o");
	a->file = argv[optind];
	if (!mg_bundle_group_valid(a->group))
		return usage_error("--group: 1 to 64 characters of a-z 0-9 . "
		    "_ -, starting with a letter or digit");
	if (version != NULL && ((version[0] == '0') || parse_u64(version, 1,
	    (uint64_t)MG_BUNDLE_VERSION_MAX, &a->version) < 0))
		return usage_error("--version: a number from 1 to "
		    "9223372036854775807");
	return 0;
}

static int
read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	int r = file_read_all(path, max, 0, ret, ret_len);

	if (r == 0)
		return 0;
	fprintf(stderr, "%s: %s\n", path, r == -E2BIG ? "too large" :
	    r == -EINVAL ? "not a regular file" : strerror(-r));
	return r == -E2BIG ? EXIT_INVALID : EXIT_USAGE;
}

/*
 * One number names the policy everywhere (the terminals' events, the
 * review, the report): the bundle's version is the policy's own [policy]
 * version.  --version may be left out, and must agree when both are given.
 */
static int
check_version(const char *file, const struct pol_policy *p, uint64_t *version)
{
	uint32_t pv = pol_policy_version(p);

	if (*version == 0 && pv == 0) {
		fprintf(stderr, "%s: no [policy] version, and no --version: the "
		    "bundle needs a version number\n", file);
		return EXIT_INVALID;
	}
	if (*version != 0 && pv != 0 && *version != pv) {
		fprintf(stderr, "%s: [policy] version = %" PRIu32 ", but "
		    "--version %" PRIu64 ": they must be the same number\n",
		    file, pv, *version);
		return EXIT_INVALID;
	}
	if (*version == 0)
		*version = pv;
	return 0;
}

/* Every checker error as FILE:LINE:COL: message; the version (above).
 * 0 or EXIT_*. */
static int
check_policy(const char *file, const char *text, size_t len,
    uint64_t *version)
{
	struct pol_diags *d = calloc(1, sizeof(*d));
	struct pol_policy *p = NULL;
	size_t i;
	int r;

	if (d == NULL)
		return usage_error(strerror(ENOMEM));
	r = pol_policy_parse(text, len, d, &p);
	if (r == 0) {
		r = check_version(file, p, version);
		pol_policy_free(p);
		free(d);
		return r;
	}
	for (i = 0; r < 0 && i < d->n; i++)
		fprintf(stderr, "%s:%u:%u: %s\n", file, d->d[i].line,
		    d->d[i].col, d->d[i].msg);
	if (r < 0 && d->n_total > d->n)
		fprintf(stderr, "%s: %zu more errors not shown\n", file,
		    d->n_total - d->n);
	free(d);
	if (r == -ENOMEM)
		return usage_error(strerror(ENOMEM));
	return r < 0 ? EXIT_INVALID : 0;
}

static int
check_creds(const char *file, const char *text, size_t len)
{
	struct pmod_creds *c = NULL;
	struct pmod_diag d;
	int r;

	memset(&d, 0, sizeof(d));
	r = pmod_creds_parse(text, len, &c, &d);
	pmod_creds_free(c);
	if (r == -ENOMEM)
		return usage_error(strerror(ENOMEM));
	if (r < 0) {
		fprintf(stderr, "%s:%u:%u: %s\n", file, d.line, d.col, d.msg);
		return EXIT_INVALID;
	}
	return 0;
}

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Write data to path atomically, mode 0644: a temporary file in the same
 * directory, fsynced, then link() (refuses an existing path, race-free) or
 * with force rename() over it.
 */
static int
write_atomic(const char *path, const char *data, size_t len, bool force)
{
	char *tmp = NULL, *dirbuf;
	int fd, dfd, r;

	if (asprintf(&tmp, "%s.XXXXXX", path) < 0)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		free(tmp);
		return r;
	}
	r = fchmod(fd, 0644) < 0 ? -errno : write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && !force && link(tmp, path) < 0)
		r = -errno;
	if (r == 0 && force && rename(tmp, path) < 0)
		r = -errno;
	if (!force || r < 0)
		unlink(tmp);
	free(tmp);
	if (r < 0)
		return r;
	/* The rename is durable once the directory is. */
	if ((dirbuf = strdup(path)) == NULL)
		return 0;
	dfd = open(dirname(dirbuf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	free(dirbuf);
	return 0;
}

static void
print_bundle(const char *name, const struct mg_bundle *b)
{
	char t[21] = "-";

	(void)mg_bundle_time_format(b->created, t);
	printf("%s\n  group        %s\n  version      %" PRIu64 "\n"
	    "  created      %s\n  signer       %s\n"
	    "  policy       %zu bytes, sha256 %s\n", name, b->group,
	    b->version, t, b->signer, b->policy_len, b->policy_sha256);
	if (b->credentials != NULL)
		printf("  credentials  %zu bytes, sha256 %s\n",
		    b->credentials_len, b->credentials_sha256);
	else
		printf("  credentials  none\n");
}

static int
sign_and_write(const struct sign_args *a, const struct mg_bundle_in *in)
{
	struct mg_bundle_error e;
	struct mg_bundle b;
	char *out = NULL;
	size_t out_len = 0;
	int r, code = EXIT_INVALID;

	memset(&e, 0, sizeof(e));
	r = mg_bundle_sign(in, a->key, a->cert, &out, &out_len, &e);
	if (r < 0) {
		fprintf(stderr, "mynaguard policy sign: %s\n", e.msg);
		return r == -EINVAL || r == -EKEYREJECTED || r == -E2BIG ?
		    EXIT_INVALID : EXIT_USAGE;
	}
	if (mg_bundle_parse(out, out_len, &b, &e) < 0)
		goto out;
	r = write_atomic(a->out, out, out_len, a->force);
	if (r == -EEXIST) {
		fprintf(stderr, "%s: already exists; refusing to overwrite it "
		    "(use --force)\n", a->out);
		goto out;
	}
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", a->out, strerror(-r));
		code = EXIT_USAGE;
		goto out;
	}
	print_bundle(a->out, &b);
	code = 0;
out:
	free(out);
	return code;
}

int
cmd_policy_sign(int argc, char **argv)
{
	struct sign_args a;
	struct mg_bundle_in in;
	struct stat st;
	char *policy = NULL, *creds = NULL;
	size_t plen = 0, clen = 0;
	int code;

	memset(&a, 0, sizeof(a));
	if ((code = parse_sign_args(argc, argv, &a)) != 0)
		return code;
	if (!a.force && lstat(a.out, &st) == 0) {
		fprintf(stderr, "%s: already exists; refusing to overwrite it "
		    "(use --force)\n", a.out);
		return EXIT_INVALID;
	}
	if ((code = read_file(a.file, MG_BUNDLE_POLICY_MAX, &policy,
	    &plen)) != 0 ||
	    (code = check_policy(a.file, policy, plen, &a.version)) != 0)
		goto out;
	if (a.credentials != NULL &&
	    ((code = read_file(a.credentials, MG_BUNDLE_CREDENTIALS_MAX,
	    &creds, &clen)) != 0 ||
	    (code = check_creds(a.credentials, creds, clen)) != 0))
		goto out;
	in = (struct mg_bundle_in){ .group = a.group, .version = a.version,
	    .created = (int64_t)time(NULL), .policy = policy,
	    .policy_len = plen, .credentials = creds,
	    .credentials_len = clen };
	code = sign_and_write(&a, &in);
out:
	free(policy);
	free(creds);
	return code;
}

/* The policy and credentials inside a verified bundle, as the agent will
 * check them before applying anything.  0, or -EBADMSG with e filled. */
static int
check_contents(const struct mg_bundle *b, struct mg_bundle_error *e)
{
	struct pol_diags *d = calloc(1, sizeof(*d));
	struct pol_policy *p = NULL;
	struct pmod_creds *c = NULL;
	struct pmod_diag cd;
	int r;

	if (d == NULL)
		return -ENOMEM;
	r = pol_policy_parse(b->policy, b->policy_len, d, &p);
	pol_policy_free(p);
	if (r < 0 && r != -ENOMEM)
		r = snprintf(e->msg, sizeof(e->msg), "the signature is valid "
		    "but the policy is not: policy line %u:%u: %s",
		    d->n > 0 ? d->d[0].line : 0, d->n > 0 ? d->d[0].col : 0,
		    d->n > 0 ? d->d[0].msg : "invalid") < 0 ? -EIO : -EBADMSG;
	free(d);
	if (r < 0 || b->credentials == NULL)
		return r;
	memset(&cd, 0, sizeof(cd));
	r = pmod_creds_parse(b->credentials, b->credentials_len, &c, &cd);
	pmod_creds_free(c);
	if (r < 0 && r != -ENOMEM) {
		snprintf(e->msg, sizeof(e->msg), "the signature is valid but "
		    "the credentials are not: credentials line %u:%u: %.120s",
		    cd.line, cd.col, cd.msg);
		r = -EBADMSG;
	}
	return r;
}

static void
json_bundle(const struct mg_bundle *b, const struct mg_bundle_error *e)
{
	struct sbuf out;
	struct jw w;
	char t[21] = "";

	sbuf_init(&out, 65536);
	jw_init(&w, &out);
	jw_object(&w);
	jw_key(&w, "valid");
	jw_bool(&w, b != NULL);
	if (b == NULL) {
		jw_key(&w, "line");
		jw_u64(&w, e->line);
		jw_key(&w, "reason");
		jw_str(&w, e->msg);
	} else {
		(void)mg_bundle_time_format(b->created, t);
		jw_key(&w, "group");
		jw_str(&w, b->group);
		jw_key(&w, "version");
		jw_u64(&w, b->version);
		jw_key(&w, "created");
		jw_str(&w, t);
		jw_key(&w, "signer");
		jw_str(&w, b->signer);
		jw_key(&w, "policy");
		jw_object(&w);
		jw_key(&w, "bytes");
		jw_u64(&w, b->policy_len);
		jw_key(&w, "sha256");
		jw_str(&w, b->policy_sha256);
		jw_object_end(&w);
		if (b->credentials != NULL) {
			jw_key(&w, "credentials");
			jw_object(&w);
			jw_key(&w, "bytes");
			jw_u64(&w, b->credentials_len);
			jw_key(&w, "sha256");
			jw_str(&w, b->credentials_sha256);
			jw_object_end(&w);
		}
	}
	jw_object_end(&w);
	if (jw_finish(&w) == 0)
		printf("%s\n", out.data);
	sbuf_clear(&out);
}

static int
parse_verify_args(int argc, char **argv, const char **file,
    const char **cert, bool *json)
{
	static const struct option opts[] = {
		{ "cert", required_argument, NULL, 'C' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'C')
			*cert = optarg;
		else if (c == 'j')
			*json = true;
		else
			return EXIT_USAGE;
	}
	if (optind != argc - 1 || *cert == NULL)
		return usage_error("verify needs BUNDLE and --cert");
	*file = argv[optind];
	return 0;
}

static int
report_verify(const char *file, int r, const struct mg_bundle *b,
    const struct mg_bundle_error *e, bool json)
{
	if (r == -EINVAL) {
		fprintf(stderr, "mynaguard policy verify: pinned certificate: "
		    "%s\n", e->msg);
		return EXIT_INVALID;
	}
	if (r == -ENOMEM || r == -EIO) {
		fprintf(stderr, "%s: %s\n", file, strerror(-r));
		return EXIT_USAGE;
	}
	if (json) {
		json_bundle(r == 0 ? b : NULL, e);
	} else if (r < 0 && e->line > 0) {
		printf("%s: invalid: line %u: %s\n", file, e->line, e->msg);
	} else if (r < 0) {
		printf("%s: invalid: %s\n", file, e->msg);
	} else {
		printf("valid: ");
		print_bundle(file, b);
	}
	return r < 0 ? EXIT_INVALID : 0;
}

int
cmd_policy_verify(int argc, char **argv)
{
	const char *file = NULL, *cert = NULL;
	struct mg_bundle_error e;
	struct mg_bundle b;
	char *pem = NULL, *buf = NULL;
	size_t plen = 0, len = 0;
	bool json = false;
	int r, code;

	if ((code = parse_verify_args(argc, argv, &file, &cert, &json)) != 0)
		return code;
	if ((code = read_file(cert, CERT_MAX, &pem, &plen)) != 0)
		return code == EXIT_INVALID ? EXIT_USAGE : code;
	memset(&e, 0, sizeof(e));
	r = file_read_all(file, MG_BUNDLE_MAX, 0, &buf, &len);
	if (r == -E2BIG) {
		e.line = 0;
		snprintf(e.msg, sizeof(e.msg), "larger than %u bytes",
		    MG_BUNDLE_MAX);
		r = -EBADMSG;
	} else if (r < 0) {
		fprintf(stderr, "%s: %s\n", file, strerror(-r));
		code = EXIT_USAGE;
		goto out;
	} else {
		r = mg_bundle_verify(buf, len, pem, plen, &b, &e);
		if (r == 0)
			r = check_contents(&b, &e);
	}
	code = report_verify(file, r, &b, &e, json);
out:
	free(buf);
	free(pem);
	return code;
}
