/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The central signed policy (issue 8; docs/policy-bundles.md "Agent").
 * A bundle the fetcher brings is judged whole (offer.c) in the main loop,
 * then applied with one commit point: StateDirectory/applied.bundle is
 * replaced atomically first, and the policy and credentials files are
 * installed from it after.  A crash between the two is repaired at the
 * next start, which installs the parts of applied.bundle again whenever
 * the files differ from them.  The policy in force never changes on a
 * refusal, an unreachable collector or a failure to install.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "mynaguard/login.h"
#include "offer.h"

#define CERT_MAX 65536u
#define APPLIED "applied.bundle"

/* Log "what: error" at LOG_ERR and return r (STYLE.md 5.5). */
static int
log_fail(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
log_fail(int r, const char *fmt, ...)
{
	char what[1200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	fprintf(stderr, SD_ERR "%s: %s\n", what, strerror(-r));
	return r;
}

static void
field(struct mg_field_val *f, size_t *n, enum mg_field id, const char *v)
{
	if (v == NULL || v[0] == '\0')
		return;
	f[*n].id = id;
	f[*n].val = v;
	f[*n].len = strlen(v);
	(*n)++;
}

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* path's directory, opened for fsync. */
static int
open_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[1100];
	int fd;

	if (slash == NULL || (size_t)(slash - path) >= sizeof(dir))
		return -EINVAL;
	snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 :
	    (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Replace path with data: a temporary file in the same directory, mode,
 * write, fsync, rename, fsync of the directory.  Readers see the old file
 * or the new one. */
static int
replace_file(const char *path, const char *data, size_t len, mode_t mode)
{
	const char *base = strrchr(path, '/');
	char tmp[1200];
	int fd = -1, dfd, r;

	if (base == NULL || snprintf(tmp, sizeof(tmp), "%.*s.%s.XXXXXX",
	    (int)(base + 1 - path), path, base + 1) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if ((dfd = open_dir(path)) < 0)
		return dfd;
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		r = -errno;
		close(dfd);
		return r;
	}
	r = fchmod(fd, mode) < 0 ? -errno : 0;
	if (r == 0)
		r = write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		(void)unlink(tmp);
	else if (fsync(dfd) < 0)
		r = -errno;
	close(dfd);
	return r;
}

/* Whether the file at path holds exactly the bytes hashing to sha. */
static bool
same_file(const char *path, const char *sha, size_t max)
{
	char *text = NULL, h[65];
	size_t len = 0;
	bool same;

	if (file_read_all(path, max, 0, &text, &len) < 0)
		return false;
	offer_sha256(text, len, h);
	same = strcmp(h, sha) == 0;
	free(text);
	return same;
}

/* The credentials part, under the lock "mynaguard key" takes. */
static int
install_credentials(const char *path, const struct mg_bundle *b)
{
	int lock, r;

	if ((lock = pmod_creds_lock(path)) < 0)
		return lock;
	r = replace_file(path, b->credentials, b->credentials_len, 0600);
	close(lock);
	return r;
}

/* Install the parts of b whose files differ.  The credentials go where
 * the bundle's own policy says ([login] credentials).  *ret_changed: a
 * file was written. */
static int
install(struct agent *a, const struct mg_bundle *b,
    const struct pol_policy *p, bool *ret_changed)
{
	const char *creds = pol_policy_login(p)->credentials;
	bool changed = false;
	int r;

	if (!same_file(a->cfg.policy, b->policy_sha256, POL_TEXT_MAX)) {
		r = replace_file(a->cfg.policy, b->policy, b->policy_len, 0644);
		if (r < 0)
			return log_fail(r, "install %s",
			    a->cfg.policy);
		changed = true;
	}
	if (b->credentials != NULL && !same_file(creds,
	    b->credentials_sha256, MG_BUNDLE_CREDENTIALS_MAX)) {
		if ((r = install_credentials(creds, b)) < 0)
			return log_fail(r, "install %s", creds);
		changed = true;
	}
	*ret_changed = changed;
	return 0;
}

static void
applied_path(const struct agent *a, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", a->cfg.policy_state, APPLIED);
}

/* policy-applied for the bundle b (its policy p), with a note. */
static void
report_applied(struct agent *a, const struct mg_bundle *b, const char *sha,
    const char *note)
{
	struct mg_field_val f[10];
	char ver[24];
	size_t n = 0;

	snprintf(ver, sizeof(ver), "%" PRIu64, b->version);
	field(f, &n, MG_F_BUNDLE_GROUP, b->group);
	field(f, &n, MG_F_BUNDLE_VERSION, ver);
	field(f, &n, MG_F_BUNDLE_HASH, sha);
	field(f, &n, MG_F_BUNDLE_SIGNER, b->signer);
	field(f, &n, MG_F_BUNDLE_CREDS_HASH, b->credentials_sha256);
	field(f, &n, MG_F_POLICY_PATH, a->cfg.policy);
	field(f, &n, MG_F_POLICY_HASH, b->policy_sha256);
	field(f, &n, MG_F_POLICY_VERSION, ver);
	field(f, &n, MG_F_MESSAGE, note);
	fprintf(stderr, SD_NOTICE "central policy: group %s version %" PRIu64
	    " (bundle sha256 %s): %s\n", b->group, b->version, sha, note);
	(void)agent_event(a, MG_EV_POLICY_APPLIED, f, n);
}

static void
report_refused(struct agent *a, const struct offer *o)
{
	struct mg_field_val f[8];
	char ver[24];
	size_t n = 0;

	snprintf(ver, sizeof(ver), "%" PRIu64, o->b.version);
	field(f, &n, MG_F_REASON, offer_reason_word(o->reason));
	field(f, &n, MG_F_BUNDLE_HASH, o->sha256);
	if (o->parsed) {
		field(f, &n, MG_F_BUNDLE_GROUP, o->b.group);
		field(f, &n, MG_F_BUNDLE_VERSION, ver);
		field(f, &n, MG_F_BUNDLE_SIGNER, o->b.signer);
	}
	field(f, &n, MG_F_MESSAGE, o->msg);
	fprintf(stderr, SD_ERR "central policy refused (%s): %s; the policy "
	    "in force stays\n", offer_reason_word(o->reason), o->msg);
	(void)agent_event(a, MG_EV_POLICY_REFUSED, f, n);
}

/* Once per bundle per run: the collector offers a bad one again at every
 * fetch. */
static bool
seen_before(struct central *c, const struct offer *o)
{
	unsigned i;

	if (o->reason == OFFER_TOO_LARGE) {
		if (c->refused_big)
			return true;
		c->refused_big = true;
		return false;
	}
	for (i = 0; i < c->n_refused && i < CENTRAL_REFUSED_MAX; i++)
		if (strcmp(c->refused[i], o->sha256) == 0)
			return true;
	snprintf(c->refused[c->n_refused++ % CENTRAL_REFUSED_MAX], 65, "%s",
	    o->sha256);
	return false;
}

static int
make_state_dir(const char *dir)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return log_fail(-errno, "create %s", dir);
	return 0;
}

/* Apply the accepted offer: commit, install, load, report. */
static void
apply(struct agent *a, const char *buf, size_t len, struct offer *o)
{
	struct central *c = &a->central;
	char path[1100];
	bool changed = false;
	int r;

	applied_path(a, path, sizeof(path));
	if ((r = make_state_dir(a->cfg.policy_state)) < 0 ||
	    (r = replace_file(path, buf, len, 0600)) < 0) {
		fprintf(stderr, SD_ERR "central policy version %" PRIu64 ": "
		    "cannot write %s (%s): not applied, tried again at the "
		    "next fetch\n", o->b.version, path, strerror(-r));
		return;
	}
	/* Committed: from here a crash is repaired at the next start. */
	c->applied = o->b.version;
	snprintf(c->applied_sha, sizeof(c->applied_sha), "%s", o->sha256);
	fetch_set_have(c->fetcher, c->applied);
	if (install(a, &o->b, o->policy, &changed) < 0) {
		fprintf(stderr, SD_ERR "central policy version %" PRIu64 " is "
		    "committed but not installed: installed again at the "
		    "next start\n", o->b.version);
		return;
	}
	agent_load_policy(a);
	report_applied(a, &o->b, o->sha256, "applied");
}

void
central_on_fetch(struct agent *a)
{
	struct central *c = &a->central;
	struct offer o;
	char *buf = NULL;
	size_t len = 0;

	if (fetch_take(c->fetcher, &buf, &len) <= 0)
		return;
	offer_judge(buf, len, c->cert, c->cert_len, a->cfg.policy_group,
	    c->applied, c->applied_sha, &o);
	if (o.reason == OFFER_OK)
		apply(a, buf, len, &o);
	else if (o.reason != OFFER_SAME && !seen_before(c, &o))
		report_refused(a, &o);
	offer_clear(&o);
	free(buf);
}

/* The pinned certificate, checked.  0 or -errno (logged). */
static int
read_cert(const char *path, char **ret, size_t *ret_len)
{
	struct mg_bundle_error e = { 0 };
	char *pem = NULL;
	size_t len = 0;
	int r;

	if ((r = file_read_all(path, CERT_MAX, 0, &pem, &len)) < 0)
		return log_fail(r, "[Policy] SigningCertificate %s",
		    path);
	if ((r = mg_bundle_cert_check(pem, len, NULL, &e)) < 0) {
		fprintf(stderr, SD_ERR "[Policy] SigningCertificate %s: %s\n",
		    path, e.msg);
		free(pem);
		return r;
	}
	*ret = pem;
	*ret_len = len;
	return 0;
}

int
central_check_config(const char *group, const char *cert_path)
{
	char *pem = NULL;
	size_t len = 0;
	int r;

	if (group == NULL)
		return 0;
	if (!mg_bundle_group_valid(group)) {
		fprintf(stderr, SD_ERR "[Policy] Group %s: a group is 1 to 64 "
		    "characters of a-z 0-9 . _ -\n", group);
		return -EINVAL;
	}
	r = read_cert(cert_path, &pem, &len);
	free(pem);
	return r;
}

/* applied.bundle at start: its version is the floor for rollbacks, and
 * its parts are what must be installed. */
static void
check_applied(struct agent *a)
{
	struct central *c = &a->central;
	struct offer o;
	char path[1100], *buf = NULL;
	size_t len = 0;
	bool changed = false;
	int r;

	applied_path(a, path, sizeof(path));
	r = file_read_all(path, MG_BUNDLE_MAX, 0, &buf, &len);
	if (r == -ENOENT)
		return;
	if (r < 0) {
		log_fail(r, "%s", path);
		return;
	}
	offer_judge(buf, len, c->cert, c->cert_len, a->cfg.policy_group, 0,
	    "", &o);
	if (o.reason != OFFER_OK) {
		fprintf(stderr, SD_ERR "%s no longer verifies (%s: %s): the "
		    "installed policy stays; a new bundle replaces it\n", path,
		    offer_reason_word(o.reason), o.msg);
		/* Still no rollback below what it claims to be. */
		if (o.parsed && o.reason != OFFER_GROUP)
			c->applied = o.b.version;
	} else {
		c->applied = o.b.version;
		snprintf(c->applied_sha, sizeof(c->applied_sha), "%s",
		    o.sha256);
		if (install(a, &o.b, o.policy, &changed) == 0)
			c->note = changed ? "reinstalled" : "in force";
	}
	offer_clear(&o);
	free(buf);
}

void
central_start(struct agent *a)
{
	struct central *c = &a->central;

	free(c->cert);
	c->cert = NULL;
	c->on = false;
	c->applied = 0;
	c->applied_sha[0] = '\0';
	c->note = NULL;
	if (a->cfg.policy_group == NULL)
		return;
	if (central_check_config(a->cfg.policy_group, a->cfg.policy_cert) < 0 ||
	    read_cert(a->cfg.policy_cert, &c->cert, &c->cert_len) < 0) {
		fprintf(stderr, SD_ERR "central policy off: the local policy "
		    "%s stays in force\n", a->cfg.policy);
		return;
	}
	c->on = true;
	check_applied(a);
}

/* The bundle of applied.bundle again, for the report after loading. */
void
central_loaded(struct agent *a)
{
	struct central *c = &a->central;
	struct offer o;
	char path[1100], *buf = NULL;
	size_t len = 0;

	if (!c->on || c->note == NULL)
		return;
	applied_path(a, path, sizeof(path));
	if (file_read_all(path, MG_BUNDLE_MAX, 0, &buf, &len) == 0) {
		offer_judge(buf, len, c->cert, c->cert_len,
		    a->cfg.policy_group, 0, "", &o);
		if (o.reason == OFFER_OK)
			report_applied(a, &o.b, o.sha256, c->note);
		offer_clear(&o);
	}
	free(buf);
	c->note = NULL;
}

void
central_fetch_start(struct agent *a)
{
	struct central *c = &a->central;
	struct fetch_cfg fc = {
		.tls = { .url = a->ship_url, .ca = a->cfg.ca,
		    .cert = a->cfg.cert, .key = a->cfg.key },
		.group = a->cfg.policy_group, .interval_s = a->cfg.fetch_s,
		.down = c->fetch_down,
	};
	int r;

	if (!c->on)
		return;
	if (a->ship_url == NULL) {
		fprintf(stderr, SD_WARNING "central policy: no collector URL, "
		    "nothing to fetch from\n");
		return;
	}
	if ((r = fetch_start(&fc, c->applied, &c->fetcher)) < 0)
		log_fail(r, "central policy: fetcher");
	else
		fprintf(stderr, SD_INFO "central policy: group %s, version %"
		    PRIu64 " applied, fetching from %s every %" PRIu32 " s\n",
		    a->cfg.policy_group, c->applied, a->ship_url,
		    a->cfg.fetch_s);
}

void
central_stop(struct agent *a)
{
	if (a->central.fetcher != NULL)
		a->central.fetch_down = fetch_down(a->central.fetcher);
	fetch_stop(a->central.fetcher);
	a->central.fetcher = NULL;
}

void
central_status(struct agent *a, struct jw *w)
{
	struct central *c = &a->central;
	struct fetch_status st;
	char when[32] = "never";
	struct tm tm;
	time_t t;

	fetch_get_status(c->fetcher, &st);
	t = (time_t)(st.last_ns / 1000000000);
	if (st.last_ns > 0 && gmtime_r(&t, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	jw_key(w, "policy_group");
	jw_str(w, a->cfg.policy_group != NULL ? a->cfg.policy_group : "");
	jw_key(w, "policy_applied_version");
	jw_u64(w, c->applied);
	jw_key(w, "policy_last_fetch");
	jw_str(w, !c->on ? (a->cfg.policy_group != NULL ? "off: "
	    "signing certificate unusable" : "no central policy") :
	    c->fetcher == NULL ? "not fetching" : st.last);
	jw_key(w, "policy_last_fetch_time");
	jw_str(w, when);
}
