/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Notices to the person at the seat: the journal record, and the desktop
 * pop-up sent by a grandchild running as the seat's user (Desktop
 * Notifications spec 1.2).  The texts are in notify_text.c.
 */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <syslog.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#include <systemd/sd-login.h>
#include <time.h>
#include <unistd.h>

#include "mynaguard/common.h"
#include "notify_int.h"

#define ENV_BUS "MYNAGUARD_NOTIFY_BUS"
#define ENV_UID "MYNAGUARD_NOTIFY_UID"

#define NOTIFY_DEST "org.freedesktop.Notifications"
#define NOTIFY_PATH "/org/freedesktop/Notifications"
#define NOTIFY_IFACE "org.freedesktop.Notifications"
#define NOTIFY_EXPIRE_MS 10000
#define CALL_TIMEOUT_USEC UINT64_C(2000000)
#define CHILD_DEADLINE_S 5u	/* SIGALRM ends a grandchild stuck anywhere */
#define POPUP_BURST 5u
#define POPUP_WINDOW_MS 10000
#define PW_BUF_SIZE 16384u
#define JOURNAL_FIELDS 8

/* Everything one notice_send() needs, on the heap: the stack frames stay
 * small (-Wframe-larger-than) and the grandchild gets its own copy. */
struct notify_job {
	enum notice_kind kind;
	uid_t uid;
	char text[NOTICE_TEXT_SIZE];
	char title[NOTICE_TITLE_SIZE];
	char bus[256];		/* D-Bus address */
	char fields[NOTICE_TEXT_SIZE + 4 * NOTICE_NAME_SIZE + 256];
	struct iovec iov[JOURNAL_FIELDS];
	int n_iov;
};

/* Pop-ups sent in the current window.  The one piece of state kept between
 * calls: a device that re-enumerates in a loop must neither fork a process
 * per event nor bury the desktop, and the API has no handle to keep it in. */
static struct {
	int64_t start_ms;
	unsigned count;
	bool warned_caps;
} popups;

/* ---- the journal and stderr ----------------------------------------- */

/* Whether stderr is the journal stream systemd connected us to
 * (systemd.exec(5), $JOURNAL_STREAM): then the structured record suffices. */
static bool
stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM"), *colon;
	char dev_s[32];
	uint64_t dev, ino;
	struct stat st;

	if (e == NULL || (colon = strchr(e, ':')) == NULL ||
	    (size_t)(colon - e) >= sizeof(dev_s))
		return false;
	memcpy(dev_s, e, (size_t)(colon - e));
	dev_s[colon - e] = '\0';
	if (parse_u64(dev_s, 0, UINT64_MAX, &dev) < 0 ||
	    parse_u64(colon + 1, 0, UINT64_MAX, &ino) < 0 ||
	    fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (uint64_t)st.st_dev == dev && (uint64_t)st.st_ino == ino;
}

/* Add "KEY=value" (value sanitized when hostile; nothing when NULL or
 * empty) to the job's journal fields. */
static void
add_field(struct notify_job *job, struct w *w, const char *key,
    const char *value, bool hostile)
{
	size_t start = w->len;
	int k;

	if (value == NULL || value[0] == '\0' || job->n_iov >= JOURNAL_FIELDS)
		return;
	nw_puts(w, key);
	if (!hostile)
		nw_puts(w, value);
	else if (w->err == 0) {
		k = notice_sanitize(value, NOTICE_NAME_CHARS, w->buf + w->len,
		    w->size - w->len);
		if (k <= 0) {	/* no room, or nothing left to show */
			w->len = start;
			return;
		}
		w->len += (size_t)k;
	}
	if (w->err != 0)
		return;
	job->iov[job->n_iov].iov_base = w->buf + start;
	job->iov[job->n_iov].iov_len = w->len - start;
	job->n_iov++;
}

static void
log_notice(const struct notice *n, struct notify_job *job)
{
	const struct notice_text *t = &notice_texts[n->kind];
	char prio[2] = { (char)('0' + t->priority), '\0' };
	struct w w;
	int r;

	nw_init(&w, job->fields, sizeof(job->fields));
	job->n_iov = 0;
	add_field(job, &w, "MESSAGE=", job->text, false);
	add_field(job, &w, "PRIORITY=", prio, false);
	add_field(job, &w, "MESSAGE_ID=", t->msgid, false);
	add_field(job, &w, "MYNAGUARD_NOTICE=", t->name, false);
	add_field(job, &w, "MYNAGUARD_DEVICE_KIND=", n->kind_word, true);
	add_field(job, &w, "MYNAGUARD_DEVICE_PRODUCT=", n->product, true);
	add_field(job, &w, "MYNAGUARD_DEVICE_VENDOR=", n->vendor, true);
	add_field(job, &w, "MYNAGUARD_RULE_LABEL=", n->label, true);
	r = w.err != 0 ? w.err : sd_journal_sendv(job->iov, job->n_iov);
	/* Without journald (tests, containers) the line is all there is. */
	if (r < 0 || !stderr_is_journal())
		fprintf(stderr, "<%d>device %s: %s\n", t->priority, t->name,
		    job->text);
}

/* ---- finding the seat's user ---------------------------------------- */

static int
bus_from_uid(struct notify_job *job)
{
	int k = snprintf(job->bus, sizeof(job->bus),
	    "unix:path=/run/user/%u/bus", (unsigned)job->uid);

	return k < 0 || (size_t)k >= sizeof(job->bus) ? -E2BIG : 0;
}

/* The test override: 1, or -EINVAL / -E2BIG. */
static int
target_from_env(struct notify_job *job, const char *bus, const char *uid_s)
{
	uint32_t uid = (uint32_t)getuid();
	size_t n;

	if (uid_s != NULL && parse_u32(uid_s, 0, UINT32_MAX - 1, &uid) < 0)
		return -EINVAL;
	job->uid = (uid_t)uid;
	if (bus == NULL)
		return bus_from_uid(job) < 0 ? -E2BIG : 1;
	n = strlen(bus);
	if (n >= sizeof(job->bus))
		return -E2BIG;
	memcpy(job->bus, bus, n + 1);
	return 1;
}

/* 1 when seat0's active session is a graphical user session (not the
 * greeter), 0 when there is none or no logind, -E2BIG. */
static int
target_from_logind(struct notify_job *job)
{
	char *session = NULL, *type = NULL, *class = NULL;
	uid_t uid;
	int r = 0;

	if (sd_seat_get_active("seat0", &session, &uid) < 0 ||
	    sd_session_get_type(session, &type) < 0 ||
	    sd_session_get_class(session, &class) < 0)
		goto out;
	if (strcmp(type, "x11") != 0 && strcmp(type, "wayland") != 0)
		goto out;
	if (strcmp(class, "user") != 0)
		goto out;
	job->uid = uid;
	r = bus_from_uid(job) < 0 ? -E2BIG : 1;
out:
	free(session);
	free(type);
	free(class);
	return r;
}

/* ---- the grandchild ------------------------------------------------- */

/* Only write(2) from here on: the agent has threads, and another one may
 * have held a stdio lock at fork().  (glibc makes malloc safe after fork.) */
static void
child_warn(uid_t uid, const char *what, int r)
{
	char line[256];
	const char *name = strerrorname_np(-r);
	int k;

	k = snprintf(line, sizeof(line),
	    "<4>desktop notification for uid %u: %s: %s\n", (unsigned)uid,
	    what, name != NULL ? name : "error");
	if (k > 0)
		(void)!write(STDERR_FILENO, line,
		    (size_t)k < sizeof(line) ? (size_t)k : sizeof(line) - 1);
}

static int
user_gid(uid_t uid, gid_t *ret_gid)
{
	char path[64], *buf = NULL;
	struct passwd pw, *res = NULL;
	struct stat st;
	int r;

	/* logind mounts the runtime directory with the user's uid and
	 * primary gid: no NSS lookup (which may hang on LDAP) needed. */
	(void)snprintf(path, sizeof(path), "/run/user/%u", (unsigned)uid);
	if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == uid) {
		*ret_gid = st.st_gid;
		return 0;
	}
	buf = malloc(PW_BUF_SIZE);
	if (buf == NULL)
		return -ENOMEM;
	r = getpwuid_r(uid, &pw, buf, PW_BUF_SIZE, &res);
	if (r == 0 && res != NULL)
		*ret_gid = pw.pw_gid;
	else
		r = r > 0 ? -r : -ENOENT;
	free(buf);
	return r;
}

/* Check the drop stuck (OpenSSH permanently_set_uid()). */
static int
check_ids(uid_t uid, gid_t gid)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg, g;

	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return -errno;
	if (ru != uid || eu != uid || su != uid)
		return -EPERM;
	if (rg != gid || eg != gid || sg != gid)
		return -EPERM;
	if (getgroups(1, &g) != 1 || g != gid)
		return -EPERM;
	if (uid != 0 && (setuid(0) != -1 || seteuid(0) != -1))
		return -EPERM;
	return 0;
}

static int
drop_privileges(uid_t uid)
{
	gid_t gid;
	int r;

	/* Already that user: a test as a normal user, or root's session. */
	if (getuid() == uid && geteuid() == uid)
		return 0;
	if (geteuid() != 0)
		return -EPERM;
	r = user_gid(uid, &gid);
	if (r < 0)
		return r;
	if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0)
		return -errno;
	return check_ids(uid, gid);
}

/* Whether the server interprets markup in the body (spec 1.2,
 * GetCapabilities "body-markup"): 1 or 0, then the body must be escaped or
 * not.  A server without the method gets plain text; a bus that times out
 * or went away gives its error, so a silent bus costs one timeout only. */
static int
server_has_markup(sd_bus *bus)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	const char *cap;
	int r, markup = 0;

	r = sd_bus_call_method(bus, NOTIFY_DEST, NOTIFY_PATH, NOTIFY_IFACE,
	    "GetCapabilities", &err, &reply, "");
	if (r < 0) {
		markup = r == -ETIMEDOUT || sd_bus_is_open(bus) <= 0 ? r : 0;
		goto out;
	}
	r = sd_bus_message_enter_container(reply, 'a', "s");
	while (r >= 0 && (r = sd_bus_message_read(reply, "s", &cap)) > 0)
		if (strcmp(cap, "body-markup") == 0)
			markup = 1;
out:
	sd_bus_error_free(&err);
	sd_bus_message_unref(reply);
	return markup;
}

static int
call_notify(sd_bus *bus, const struct notify_job *job, const char *body)
{
	const struct notice_text *t = &notice_texts[job->kind];
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *m = NULL, *reply = NULL;
	int r;

	/* Notify(app_name, replaces_id, app_icon, summary, body, actions,
	 * hints, expire_timeout) */
	r = sd_bus_message_new_method_call(bus, &m, NOTIFY_DEST, NOTIFY_PATH,
	    NOTIFY_IFACE, "Notify");
	if (r >= 0)
		r = sd_bus_message_append(m, "susssas", "mynaguard",
		    (uint32_t)0, t->icon, job->title, body, 0u);
	if (r >= 0)
		r = sd_bus_message_append(m, "a{sv}", 2u, "urgency", "y",
		    t->urgency, "category", "s", t->category);
	if (r >= 0)
		r = sd_bus_message_append(m, "i", (int32_t)NOTIFY_EXPIRE_MS);
	if (r >= 0)
		r = sd_bus_call(bus, m, 0, &err, &reply);
	sd_bus_error_free(&err);
	sd_bus_message_unref(reply);
	sd_bus_message_unref(m);
	return r;
}

static int
notify_bus(const struct notify_job *job)
{
	sd_bus *bus = NULL;
	char *escaped = NULL;
	const char *body = job->text;
	int r;

	r = sd_bus_new(&bus);
	if (r < 0)
		return r;
	r = sd_bus_set_address(bus, job->bus);
	if (r >= 0)
		r = sd_bus_set_bus_client(bus, 1);
	if (r >= 0)
		r = sd_bus_set_method_call_timeout(bus, CALL_TIMEOUT_USEC);
	if (r >= 0)
		r = sd_bus_start(bus);
	if (r >= 0)
		r = server_has_markup(bus);
	if (r > 0) {
		escaped = malloc(NOTICE_MARKUP_SIZE);
		if (escaped == NULL)
			r = -ENOMEM;
		else
			r = notice_escape_markup(job->text, escaped,
			    NOTICE_MARKUP_SIZE);
		body = escaped;
	}
	if (r >= 0)
		r = call_notify(bus, job, body);
	free(escaped);
	sd_bus_flush_close_unref(bus);
	return r;
}

static void
close_fds(void)
{
	int fd;

	/* The agent's sockets, spool and lock files stay with the agent. */
	if (close_range(3, ~0u, 0) == 0)
		return;
	for (fd = 3; fd < 65536; fd++)
		(void)close(fd);
}

static void
on_deadline(int sig)
{
	static const char msg[] = "<4>desktop notification: no answer within "
	    "the deadline, given up\n";

	(void)sig;
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(1);
}

static void __attribute__((noreturn))
notifier_main(const struct notify_job *job)
{
	sigset_t none;
	int r;

	/* The agent blocks the signals its signalfd reads. */
	(void)sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)signal(SIGALRM, on_deadline);
	(void)signal(SIGPIPE, SIG_IGN);
	close_fds();
	(void)alarm(CHILD_DEADLINE_S);
	r = drop_privileges(job->uid);
	if (r < 0) {
		child_warn(job->uid, "cannot drop privileges", r);
		_exit(1);
	}
	r = notify_bus(job);
	if (r < 0) {
		child_warn(job->uid, job->bus, r);
		_exit(1);
	}
	_exit(0);
}

/* Double fork: the grandchild is reparented (to a subreaper or PID 1), so
 * the agent reaps only the intermediate child, which exits at once, and
 * needs no SIGCHLD handling. */
static int
spawn(const struct notify_job *job)
{
	pid_t pid, w;
	int status;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		pid = fork();
		if (pid == 0)
			notifier_main(job);
		_exit(pid < 0 ? 1 : 0);
	}
	do
		w = waitpid(pid, &status, 0);
	while (w < 0 && errno == EINTR);
	if (w < 0)	/* ECHILD: SIGCHLD is ignored, the kernel reaped it */
		return errno == ECHILD ? 0 : -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EAGAIN;
}

static bool
popup_allowed(void)
{
	struct timespec ts;
	int64_t now;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return false;
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (popups.count == 0 || now - popups.start_ms >= POPUP_WINDOW_MS) {
		popups.start_ms = now;
		popups.count = 0;
	}
	if (popups.count < POPUP_BURST) {
		popups.count++;
		return true;
	}
	if (popups.count == POPUP_BURST) {
		popups.count++;
		fprintf(stderr, SD_WARNING "more than %u device notices "
		    "in %d s: desktop pop-ups paused, the journal has them\n",
		    POPUP_BURST, POPUP_WINDOW_MS / 1000);
	}
	return false;
}

/* Root needs CAP_SETUID and CAP_SETGID to become the seat's user.  A unit
 * without them (CapabilityBoundingSet=) most likely also filters the
 * set*id() calls (SystemCallFilter=~@privileged), which kills the caller
 * with SIGSYS: say so once instead of forking notifiers that die. */
static bool
may_switch_user(uid_t uid)
{
	if (geteuid() != 0 || uid == geteuid())
		return true;
	if (prctl(PR_CAPBSET_READ, CAP_SETUID, 0, 0, 0) == 1 &&
	    prctl(PR_CAPBSET_READ, CAP_SETGID, 0, 0, 0) == 1)
		return true;
	if (!popups.warned_caps) {
		popups.warned_caps = true;
		fprintf(stderr, SD_WARNING "desktop notifications need "
		    "CAP_SETUID, CAP_SETGID and the @setuid system calls; "
		    "device notices go to the journal only\n");
	}
	return false;
}

static void
popup(struct notify_job *job)
{
	const char *bus = getenv(ENV_BUS), *uid = getenv(ENV_UID);
	int r;

	if (bus != NULL || uid != NULL)
		r = target_from_env(job, bus, uid);
	else
		r = target_from_logind(job);
	if (r > 0 && may_switch_user(job->uid) && popup_allowed())
		r = spawn(job);
	if (r < 0)
		fprintf(stderr, SD_WARNING "desktop notification not "
		    "sent: %s\n", strerror(-r));
}

int
notice_send(const struct notice *n, const char *lang)
{
	struct notify_job *job = NULL;
	int r;

	job = calloc(1, sizeof(*job));
	if (job == NULL) {
		fprintf(stderr, SD_WARNING "device notice lost: out of "
		    "memory\n");
		return -ENOMEM;
	}
	r = notice_format(n, lang, job->text, sizeof(job->text), job->title,
	    sizeof(job->title));
	if (r < 0)
		goto out;
	job->kind = n->kind;
	log_notice(n, job);
	if (n->kind != NOTICE_ALLOWED || notice_kind_lookup(n->kind_word)->media)
		popup(job);
	r = 0;
out:
	free(job);
	return r;
}
