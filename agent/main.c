/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mynaguard-agent: the resident agent.  Today it runs the signed event
 * pipeline: local intake, signing, the durable spool and the shipper; the
 * media enforcement of issue 4 plugs into the same loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "devctl.h"
#include "mynaguard/bundle.h"
#include "mynaguard/policy.h"

#define DROP_SCAN_MS 60000
#define DRAIN_MS 5000

static const char usage[] =
    "usage: mynaguard-agent [--config FILE] [--check-config]\n"
    "         [--spool DIR] [--socket PATH] [--drop-dir DIR]\n"
    "         [--collector URL] [--ca FILE] [--cert FILE] [--key FILE]\n"
    "         [--policy FILE] [--host-name NAME]\n";

/* Printable UTF-8, no control characters: it goes into every event. */
static bool
host_name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 255 || utf8_validate(s, n, NULL) < 0)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static void
field(struct mg_field_val *f, enum mg_field id, const char *v)
{
	f->id = id;
	f->val = v;
	f->len = strlen(v);
}

int
agent_event(struct agent *a, enum mg_event_type t,
    const struct mg_field_val *f, size_t n)
{
	const char *why = NULL;
	int r = emit_event(&a->em, t, f, n, 0, NULL, NULL, &why);

	if (r == 0)
		r = agent_commit(a);
	if (r < 0)
		fprintf(stderr, SD_ERR "cannot record %s event: %s\n",
		    mg_event_action(t), why != NULL ? why : strerror(-r));
	return r;
}

static void
sha256_hex(const char *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;

	if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1)
		memset(md, 0, sizeof(md));
	mg_hex(md, 32, out);
}

/* Devices are decided by p from now on (NULL: the fallback policy). */
static void
set_policy(struct agent *a, struct pol_policy *p)
{
	struct pol_history *h = NULL;

	if (pol_history_new(p != NULL ? p : a->fallback, &h) < 0)
		h = NULL;	/* rule-applied conditions then block */
	pol_history_free(a->hist);
	pol_policy_free(a->policy);
	a->policy = p;
	a->hist = h;
	if (p == NULL)
		fprintf(stderr, SD_WARNING "devices are decided by the "
		    "fallback policy: only input devices and hubs work\n");
	devices_rescan(a);
}

void
agent_load_policy(struct agent *a)
{
	struct mg_field_val f[4];
	struct pol_diags *d = calloc(1, sizeof(*d));
	struct pol_policy *p = NULL;
	char *text = NULL, hash[65], reason[POL_DIAG_MSG_MAX + 32], ver[16];
	size_t len = 0;
	int r;

	r = file_read_all(a->cfg.policy, POL_TEXT_MAX, 0, &text, &len);
	if (r == 0 && d != NULL)
		r = pol_policy_parse(text, len, d, &p);
	if (r == 0 && d != NULL) {
		sha256_hex(text, len, hash);
		snprintf(ver, sizeof(ver), "%u", pol_policy_version(p));
		field(&f[0], MG_F_POLICY_PATH, a->cfg.policy);
		field(&f[1], MG_F_POLICY_HASH, hash);
		field(&f[2], MG_F_POLICY_VERSION, ver);
		fprintf(stderr, SD_INFO "policy %s loaded (sha256 %s)\n",
		    a->cfg.policy, hash);
		(void)agent_event(a, MG_EV_POLICY_LOADED, f, 3);
		snprintf(a->policy_hash, sizeof(a->policy_hash), "%s", hash);
		snprintf(a->policy_version, sizeof(a->policy_version), "%s",
		    ver);
		set_policy(a, p);
		p = NULL;
	} else {
		if (r == -EBADMSG && d != NULL && d->n > 0)
			snprintf(reason, sizeof(reason), "%u:%u: %s",
			    d->d[0].line, d->d[0].col, d->d[0].msg);
		else
			snprintf(reason, sizeof(reason), "%s",
			    strerror(r < 0 ? -r : ENOMEM));
		fprintf(stderr, SD_ERR "policy %s rejected: %s\n",
		    a->cfg.policy, reason);
		field(&f[0], MG_F_POLICY_PATH, a->cfg.policy);
		field(&f[1], MG_F_REASON, reason);
		if (text != NULL)
			sha256_hex(text, len, hash);
		if (text != NULL)
			field(&f[2], MG_F_POLICY_HASH, hash);
		(void)agent_event(a, MG_EV_POLICY_REJECTED, f,
		    text != NULL ? 3 : 2);
		/* Fail closed: not the last good policy, which may have
		 * allowed what the new one forbids, but the fallback. */
		a->policy_hash[0] = a->policy_version[0] = '\0';
		set_policy(a, NULL);
	}
	pol_policy_free(p);
	free(text);
	free(d);
}

int
agent_status_json(struct agent *a, struct sbuf *out)
{
	struct spool_stats sp;
	struct ship_status sh;
	char when[32] = "never";
	struct tm tm;
	time_t t;
	struct jw w;

	spool_stats(a->spool, &sp);
	ship_get_status(a->shipper, &sh);
	t = (time_t)(sh.last_ok_ns / 1000000000);
	if (sh.last_ok_ns > 0 && gmtime_r(&t, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	jw_init(&w, out);
	jw_object(&w);
	jw_key(&w, "agent_id");
	jw_str(&w, mg_signer_agent_id(a->signer));
	jw_key(&w, "version");
	jw_str(&w, AGENT_VERSION);
	jw_key(&w, "boot_id");
	jw_u64(&w, sp.boot_id);
	jw_key(&w, "unacknowledged");
	jw_u64(&w, sp.records);
	jw_key(&w, "spool_bytes");
	jw_u64(&w, sp.bytes);
	jw_key(&w, "spool_dropped");
	jw_u64(&w, sp.dropped);
	jw_key(&w, "head_seq");
	jw_u64(&w, sp.head_seq);
	jw_key(&w, "acked_seq");
	jw_u64(&w, sp.acked_seq);
	/* The collector in use now, and the list it is one of. */
	jw_key(&w, "collector");
	jw_str(&w, a->shipper != NULL ? sh.url : "");
	jw_key(&w, "collectors");
	jw_str(&w, a->ship_url != NULL ? a->ship_url : "");
	jw_key(&w, "collector_reachable");
	jw_bool(&w, sh.reachable);
	jw_key(&w, "last_success");
	jw_str(&w, when);
	jw_key(&w, "last_error");
	jw_str(&w, sh.last_error);
	jw_key(&w, "policy");
	jw_str(&w, a->policy != NULL ? "loaded" : "fallback");
	central_status(a, &w);
	devices_status(a, &w);
	jw_object_end(&w);
	return jw_finish(&w);
}

struct options {
	const char *config;
	bool check;
};

/* What the file parser cannot see alone: values that depend on each
 * other, and the host name that goes into every event. */
static int
check_values(const struct agent_config *c)
{
	if (c->spool_reserve >= c->spool_max / 2) {
		fprintf(stderr, SD_ERR "[Spool] Reserve (%llu bytes) must be "
		    "less than half of MaxSize (%llu bytes)\n",
		    (unsigned long long)c->spool_reserve,
		    (unsigned long long)c->spool_max);
		return -EINVAL;
	}
	if (strcmp(c->notify_lang, "ja") != 0 &&
	    strcmp(c->notify_lang, "en") != 0) {
		fprintf(stderr, SD_ERR "[Devices] NotifyLanguage must be ja "
		    "or en\n");
		return -EINVAL;
	}
	if (c->policy_group != NULL && !mg_bundle_group_valid(c->policy_group)) {
		fprintf(stderr, SD_ERR "[Policy] Group must be 1 to 64 "
		    "characters of a-z 0-9 . _ -, starting with a letter or "
		    "digit\n");
		return -EINVAL;
	}
	if (c->host_name != NULL && !host_name_ok(c->host_name)) {
		fprintf(stderr, SD_ERR "[Agent] HostName must be printable "
		    "UTF-8\n");
		return -EINVAL;
	}
	return 0;
}

static int
apply_option(struct agent_config *c, int opt, const char *v)
{
	char err[200];
	int r;

	switch (opt) {
	case 's': return agent_config_set(&c->spool_dir, v);
	case 'S': return agent_config_set(&c->socket, v);
	case 'd': return agent_config_set(&c->drop_dir, v);
	case 'u':
		r = agent_config_set_urls(&c->url, v, err, sizeof(err));
		if (r == -EINVAL)
			fprintf(stderr, SD_ERR "--collector: %s\n", err);
		return r;
	case 'a': return agent_config_set(&c->ca, v);
	case 'C': return agent_config_set(&c->cert, v);
	case 'k': return agent_config_set(&c->key, v);
	case 'p': return agent_config_set(&c->policy, v);
	case 'H': return agent_config_set(&c->host_name, v);
	default: return -EINVAL;
	}
}

/* Config file, then command-line options over it. */
static int
load_config(struct agent_config *cfg, int argc, char **argv,
    struct options *o)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'K' },
		{ "spool", required_argument, NULL, 's' },
		{ "socket", required_argument, NULL, 'S' },
		{ "drop-dir", required_argument, NULL, 'd' },
		{ "collector", required_argument, NULL, 'u' },
		{ "ca", required_argument, NULL, 'a' },
		{ "cert", required_argument, NULL, 'C' },
		{ "key", required_argument, NULL, 'k' },
		{ "policy", required_argument, NULL, 'p' },
		{ "host-name", required_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	char *text = NULL, err[256];
	size_t len;
	int opt, r;

	o->config = AGENT_CONFIG_PATH;
	optind = 0;	/* GNU: start over (SIGHUP calls this again) */
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'c')
			o->config = optarg;
		else if (opt == 'K')
			o->check = true;
		else if (opt == '?' || opt == ':')
			return -EINVAL;
	}
	if (optind != argc || (r = agent_config_defaults(cfg)) < 0)
		return optind != argc ? -EINVAL : r;
	r = file_read_all(o->config, 65536, 0, &text, &len);
	if (r == 0) {
		r = agent_config_parse(cfg, text, len, err, sizeof(err));
		if (r == -EBADMSG)
			fprintf(stderr, SD_ERR "%s:%s\n", o->config, err);
		free(text);
	} else if (r == -ENOENT && strcmp(o->config, AGENT_CONFIG_PATH) == 0)
		r = 0;	/* no file: built-in defaults and options */
	else
		fprintf(stderr, SD_ERR "%s: %s\n", o->config, strerror(-r));
	if (r < 0)
		return r;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1)
		if (opt != 'c' && opt != 'K' &&
		    (r = apply_option(cfg, opt, optarg)) < 0)
			return r;
	return check_values(cfg);
}

static int
open_signer(struct agent *a)
{
	const char *why = "";
	int r = mg_signer_load(a->cfg.key, a->cfg.cert, &a->signer, &why);

	if (r < 0)
		fprintf(stderr, SD_ERR "signing key %s / certificate %s: %s "
		    "(%s)\n", a->cfg.key, a->cfg.cert, why, strerror(-r));
	return r;
}

static int
check_config(struct agent *a)
{
	char *text = NULL;
	size_t len;
	int r;

	if ((r = open_signer(a)) < 0)
		return r;
	r = file_read_all(a->cfg.ca, 1u << 20, 0, &text, &len);
	free(text);
	if (r < 0) {
		fprintf(stderr, SD_ERR "CA %s: %s\n", a->cfg.ca, strerror(-r));
		return r;
	}
	if ((r = central_check_config(a->cfg.policy_group,
	    a->cfg.policy_cert)) < 0)
		return r;
	printf("configuration OK: agent id %s, spool %s, collector%s %s\n",
	    mg_signer_agent_id(a->signer), a->cfg.spool_dir,
	    a->cfg.url != NULL && strchr(a->cfg.url, ' ') != NULL ? "s" : "",
	    a->cfg.url != NULL ? a->cfg.url : "(from the policy)");
	return 0;
}

/* A marker present while running: found at start, the last run crashed. */
static bool
previous_run_clean(struct agent *a)
{
	char path[1100];
	bool clean;
	int fd;

	snprintf(path, sizeof(path), "%s/running", a->cfg.spool_dir);
	clean = access(path, F_OK) != 0;
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	return clean;
}

static void
report_recovery(struct agent *a, const struct spool_recovery *rec)
{
	struct mg_field_val f[2];
	char msg[320];
	int n = 0;

	if (rec->cut_bytes == 0 && rec->quarantined == 0 &&
	    rec->lost_to == 0 && !rec->state_rebuilt)
		return;
	if (rec->cut_bytes > 0)
		n += snprintf(msg + n, sizeof(msg) - (size_t)n, "cut %llu "
		    "bytes of torn tail after seq %llu; ",
		    (unsigned long long)rec->cut_bytes,
		    (unsigned long long)rec->cut_at_seq);
	if (rec->quarantined > 0)
		n += snprintf(msg + n, sizeof(msg) - (size_t)n, "%u damaged "
		    "segment parts moved to quarantine/; ", rec->quarantined);
	if (rec->lost_to > 0)
		n += snprintf(msg + n, sizeof(msg) - (size_t)n, "records "
		    "%llu-%llu were written but are missing; ",
		    (unsigned long long)rec->lost_from,
		    (unsigned long long)rec->lost_to);
	if (rec->state_rebuilt)
		snprintf(msg + n, sizeof(msg) - (size_t)n, "state file missing "
		    "or damaged, rebuilt from the segments");
	fprintf(stderr, SD_WARNING "spool recovered: %s\n", msg);
	field(&f[0], MG_F_REASON, rec->lost_to > 0 ? "records missing" :
	    rec->quarantined > 0 ? "damaged segment" : rec->cut_bytes > 0 ?
	    "torn tail" : "state rebuilt");
	field(&f[1], MG_F_MESSAGE, msg);
	(void)agent_event(a, MG_EV_SPOOL_RECOVERED, f, 2);
}

static void
announce_start(struct agent *a, uint64_t prev_seq, bool clean)
{
	struct mg_field_val f[3];
	char seq[24];

	snprintf(seq, sizeof(seq), "%llu", (unsigned long long)prev_seq);
	field(&f[0], MG_F_VERSION, AGENT_VERSION);
	field(&f[1], MG_F_PREV_SEQ, seq);
	field(&f[2], MG_F_CLEAN, clean ? "yes" : "no");
	(void)agent_event(a, MG_EV_AGENT_STARTED, f, 3);
}

/*
 * Where events go: the configuration's URL, else the [reporting] collector
 * of the policy in force.  With no valid policy (fallback), the collector
 * already in use stays: an invalid policy must not stop the event stream.
 */
static const char *
wanted_url(const struct agent *a)
{
	if (a->cfg.url != NULL)
		return a->cfg.url;
	if (a->policy == NULL)
		return a->ship_url;
	return pol_policy_reporting(a->policy)->collector;
}

static int
start_shipper(struct agent *a)
{
	const char *url = wanted_url(a);
	struct ship_cfg sc = {
		.url = url, .ca = a->cfg.ca, .cert = a->cfg.cert,
		.key = a->cfg.key, .batch_max = a->cfg.batch_max,
		.backoff_max_s = a->cfg.backoff_max_s,
	};
	char *copy = NULL;

	if (url != NULL && (copy = strdup(url)) == NULL)
		return -ENOMEM;
	free(a->ship_url);
	a->ship_url = copy;
	/* The shipper keeps the URL for its messages: our copy, which lives
	 * until the shipper is stopped, not a->cfg's, which a SIGHUP frees. */
	sc.url = copy;
	if (url == NULL) {
		fprintf(stderr, SD_WARNING "no collector URL ([Collector] URL "
		    "or the policy's [reporting] collector): events stay in "
		    "the spool\n");
		return 0;
	}
	fprintf(stderr, SD_INFO "shipping events to %s%s%s\n", url,
	    a->cfg.url != NULL ? "" : " (the policy's collector)",
	    strchr(url, ' ') != NULL ? " (the first, then the next in turn "
	    "when one fails)" : "");
	return ship_start(&sc, a->spool, &a->shipper);
}

static bool
same_url(const char *x, const char *y)
{
	return x == y || (x != NULL && y != NULL && strcmp(x, y) == 0);
}

static int
open_signals(struct agent *a)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGPIPE);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	sigdelset(&set, SIGPIPE);
	a->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return a->sig_fd < 0 ? -errno : 0;
}

static void
watch_drop_dir(struct agent *a)
{
	a->drop_watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (a->drop_watch_fd >= 0 && inotify_add_watch(a->drop_watch_fd,
	    a->cfg.drop_dir, IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
		fprintf(stderr, SD_WARNING "cannot watch %s (%s): scanning it "
		    "every %d s\n", a->cfg.drop_dir, strerror(errno),
		    DROP_SCAN_MS / 1000);
		close(a->drop_watch_fd);
		a->drop_watch_fd = -1;
	}
}

static void
on_drop_dir(struct agent *a)
{
	char buf[1024];

	while (read(a->drop_watch_fd, buf, sizeof(buf)) > 0)
		;
	(void)intake_drop_dir(a);
}

static void reload(struct agent *a, int argc, char **argv);

static void
handle_signal(struct agent *a, int argc, char **argv)
{
	struct signalfd_siginfo si;

	while (read(a->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			reload(a, argc, argv);
		else
			a->stopping = true;
	}
}

static int
start(struct agent *a)
{
	struct spool_cfg sc = {
		.dir = a->cfg.spool_dir, .max_bytes = a->cfg.spool_max,
		.reserve_bytes = a->cfg.spool_reserve,
		.segment_bytes = a->cfg.segment_size,
	};
	struct spool_recovery rec;
	uint8_t h[MG_REC_HASH_LEN];
	uint64_t prev;
	int r;

	if ((r = open_signals(a)) < 0 || (r = open_signer(a)) < 0)
		return r;
	if (a->cfg.host_name != NULL)
		snprintf(a->host_name, sizeof(a->host_name), "%s",
		    a->cfg.host_name);
	else if (gethostname(a->host_name, sizeof(a->host_name) - 1) < 0 ||
	    !host_name_ok(a->host_name)) {
		fprintf(stderr, SD_ERR "the system host name is not printable "
		    "UTF-8: set [Agent] HostName\n");
		return -EINVAL;
	}
	if ((r = spool_open(&sc, &a->spool, &rec)) < 0) {
		fprintf(stderr, SD_CRIT "spool %s: %s\n", sc.dir, strerror(-r));
		return r;
	}
	emit_init(&a->em, a->spool, a->signer, a->host_name);
	spool_head(a->spool, &prev, h);
	announce_start(a, prev, previous_run_clean(a));
	report_recovery(a, &rec);
	if ((r = devctl_fallback(&a->fallback)) < 0)
		return r;
	central_start(a);
	agent_load_policy(a);
	central_loaded(a);
	if ((r = devices_start(a)) < 0)
		return r;
	if ((r = state_start(a)) < 0) {
		fprintf(stderr, SD_CRIT "state timer: %s\n", strerror(-r));
		return r;
	}
	if ((r = start_shipper(a)) < 0 || (r = intake_listen(a)) < 0) {
		fprintf(stderr, SD_CRIT "cannot start: %s\n", strerror(-r));
		return r;
	}
	central_fetch_start(a);
	(void)intake_drop_dir(a);
	watch_drop_dir(a);
	fprintf(stderr, SD_INFO "mynaguard-agent %s started: agent id %s, "
	    "socket %s, spool %s\n", AGENT_VERSION,
	    mg_signer_agent_id(a->signer), a->cfg.socket, a->cfg.spool_dir);
	sd_notify(0, "READY=1");
	return 0;
}

/* SIGHUP: the configuration file again, whole or not at all; then the
 * policy.  Paths of the spool and socket need a restart. */
static void
reload(struct agent *a, int argc, char **argv)
{
	struct agent_config fresh;
	struct options o = { 0 };
	bool ship_changed;

	memset(&fresh, 0, sizeof(fresh));
	if (load_config(&fresh, argc, argv, &o) < 0) {
		fprintf(stderr, SD_ERR "reload: configuration invalid, keeping "
		    "the running one\n");
		agent_config_clear(&fresh);
		return;
	}
	ship_changed = (fresh.url == NULL) != (a->cfg.url == NULL) ||
	    (fresh.url != NULL && strcmp(fresh.url, a->cfg.url)) ||
	    strcmp(fresh.ca, a->cfg.ca) || strcmp(fresh.cert, a->cfg.cert) ||
	    strcmp(fresh.key, a->cfg.key);
	/* Keep what needs a restart; take the rest. */
	if (agent_config_set(&fresh.spool_dir, a->cfg.spool_dir) < 0 ||
	    agent_config_set(&fresh.socket, a->cfg.socket) < 0 ||
	    agent_config_set(&fresh.drop_dir, a->cfg.drop_dir) < 0) {
		agent_config_clear(&fresh);
		return;
	}
	central_stop(a);
	agent_config_clear(&a->cfg);
	a->cfg = fresh;
	(void)agent_event(a, MG_EV_AGENT_RELOADED, NULL, 0);
	central_start(a);
	agent_load_policy(a);
	central_loaded(a);
	/* The policy's collector may have changed with the policy. */
	if (ship_changed || !same_url(wanted_url(a), a->ship_url)) {
		ship_stop(a->shipper, 0);
		a->shipper = NULL;
		(void)start_shipper(a);
	}
	central_fetch_start(a);	/* fetches soon: SIGHUP means "now" */
	/* StateInterval may have changed: it counts from the last event. */
	a->st.next_ms = a->cfg.state_s > 0 ? a->st.last_ms +
	    (int64_t)a->cfg.state_s * 1000 : 0;
	state_check(a, true);	/* rearms the timer */
	fprintf(stderr, SD_INFO "configuration reloaded\n");
}

/* Idle, the agent sleeps until something happens: no timer wakes it
 * unless a commit is due (or the drop directory cannot be watched). */
static int
poll_timeout(const struct agent *a)
{
	int64_t left;

	if (a->commit_deadline_ms == 0)
		return a->drop_watch_fd >= 0 ? -1 : DROP_SCAN_MS;
	left = a->commit_deadline_ms - agent_now_ms();
	return left < 0 ? 0 : (int)left;
}

enum { P_SIG, P_LISTEN, P_UEVENT, P_MOUNTS, P_DROP, P_LOGIN, P_STATE,
    P_FETCH, P_CLIENTS };

static void
fill_fixed(const struct agent *a, struct pollfd *p)
{
	p[P_SIG] = (struct pollfd){ .fd = a->sig_fd, .events = POLLIN };
	p[P_LISTEN] = (struct pollfd){ .fd = a->listen_fd, .events = POLLIN };
	p[P_UEVENT] = (struct pollfd){ .fd = a->dev != NULL ?
	    a->dev->mon_fd : -1, .events = POLLIN };
	p[P_MOUNTS] = (struct pollfd){ .fd = a->dev != NULL ?
	    a->dev->mount_fd : -1, .events = POLLPRI };
	p[P_DROP] = (struct pollfd){ .fd = a->drop_watch_fd,
	    .events = POLLIN };
	p[P_LOGIN] = (struct pollfd){ .fd = a->dev != NULL ?
	    a->dev->login_fd : -1, .events = POLLIN };
	p[P_STATE] = (struct pollfd){ .fd = a->st.fd, .events = POLLIN };
	p[P_FETCH] = (struct pollfd){ .fd = fetch_fd(a->central.fetcher),
	    .events = POLLIN };
}

/* Clients from the end, so that closing one (which moves the last into
 * its place) keeps the indexes valid. */
static void
serve_clients(struct agent *a, const struct pollfd *p, size_t n)
{
	size_t i;

	for (i = n; i-- > 0;) {
		if ((p[i].revents & POLLOUT) && !intake_flush(a, i))
			continue;
		if (p[i].revents & ~POLLOUT)
			(void)intake_client(a, i);
	}
}

static void
loop(struct agent *a, int argc, char **argv)
{
	struct pollfd p[P_CLIENTS + AGENT_CLIENTS_MAX];
	size_t i, n;
	int64_t next_scan = agent_now_ms() + DROP_SCAN_MS;

	while (!a->stopping) {
		fill_fixed(a, p);
		for (i = 0; i < a->n_clients; i++)
			p[P_CLIENTS + i] = (struct pollfd){
			    .fd = a->clients[i]->fd,
			    .events = (short)((intake_readable(a, i) ? POLLIN :
			    0) | (a->clients[i]->out_len ? POLLOUT : 0)) };
		n = a->n_clients;
		if (poll(p, P_CLIENTS + n, poll_timeout(a)) < 0 &&
		    errno != EINTR)
			break;
		if (p[P_SIG].revents)
			handle_signal(a, argc, argv);
		if (p[P_UEVENT].revents)
			devices_on_uevent(a);
		if (p[P_MOUNTS].revents)
			devices_on_mounts(a);
		if (p[P_DROP].revents)
			on_drop_dir(a);
		if (p[P_LOGIN].revents)
			devices_on_login(a);
		if (p[P_FETCH].revents)
			central_on_fetch(a);
		serve_clients(a, p + P_CLIENTS, n);
		if (p[P_LISTEN].revents)
			intake_accept(a);
		/* Device decisions may have changed what is in force. */
		state_check(a, false);
		if (p[P_STATE].revents)
			state_on_timer(a);
		if (a->commit_deadline_ms != 0 &&
		    agent_now_ms() >= a->commit_deadline_ms)
			(void)agent_commit(a);
		if (a->drop_watch_fd < 0 && agent_now_ms() >= next_scan) {
			(void)intake_drop_dir(a);
			next_scan = agent_now_ms() + DROP_SCAN_MS;
		}
	}
}

static void
stop(struct agent *a)
{
	struct mg_field_val f;
	char path[1100];

	sd_notify(0, "STOPPING=1");
	if (a->n_pend > 0)
		(void)agent_commit(a);
	field(&f, MG_F_REASON, "stopped by signal");
	(void)agent_event(a, MG_EV_AGENT_STOPPED, &f, 1);
	central_stop(a);
	ship_stop(a->shipper, DRAIN_MS);
	free(a->ship_url);
	a->ship_url = NULL;
	while (a->n_clients > 0)
		intake_close_client(a, 0);
	if (a->listen_fd >= 0) {
		close(a->listen_fd);
		(void)unlink(a->cfg.socket);
	}
	devices_stop(a);
	state_stop(a);
	emit_clear(&a->em);
	spool_close(a->spool);
	snprintf(path, sizeof(path), "%s/running", a->cfg.spool_dir);
	(void)unlink(path);
	fprintf(stderr, SD_INFO "mynaguard-agent stopped\n");
}

int
main(int argc, char **argv)
{
	struct agent *a = calloc(1, sizeof(*a));
	struct options o = { 0 };
	int r;

	if (a == NULL)
		return 1;
	a->listen_fd = a->sig_fd = a->drop_watch_fd = a->st.fd = -1;
	if (load_config(&a->cfg, argc, argv, &o) < 0) {
		fputs(usage, stderr);
		r = -EINVAL;
	} else if (o.check) {
		r = check_config(a);
	} else {
		/* Everything the agent creates is for root's eyes only. */
		umask(077);
		r = start(a);
		if (r == 0) {
			loop(a, argc, argv);
			stop(a);
		}
	}
	mg_signer_free(a->signer);
	pol_history_free(a->hist);
	pol_policy_free(a->policy);
	pol_policy_free(a->fallback);
	free(a->central.cert);
	if (a->drop_watch_fd >= 0)
		close(a->drop_watch_fd);
	agent_config_clear(&a->cfg);
	if (a->sig_fd >= 0)
		close(a->sig_fd);
	free(a);
	return r == -EINVAL && !o.check ? 2 : r < 0 ? 1 : 0;
}
