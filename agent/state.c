/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The agent-state event (docs/events.md): what is in force on this
 * terminal as read back from the system, not as the agent believes it set
 * it, and what of it differs from what the policy requires.  Written at
 * start, every [Agent] StateInterval, and when the mismatch words change
 * (at most once per STATE_GAP_MS).  One timerfd: idle, the agent wakes
 * once per interval and no more.
 *
 * Required, whatever the policy's rules say (the enforcement design in
 * docs/ARCHITECTURE.md): every root hub holds new devices and interfaces
 * (authorized_default and interface_authorized_default 0), every removable
 * disk whose verdict is not allow is read-only, our udev rules and
 * modprobe options are in force, and a valid policy decides (not the
 * fallback).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "agent.h"

#define USB_DEVICES "/sys/bus/usb/devices"
#define RULES_NAME "10-mynaguard.rules"
#define MODPROBE_NAME "mynaguard.conf"
#define FILE_MAX (64u * 1024u)
#define PATH_BUF 512u		/* root + a short fixed path */

/* udev and modprobe: /etc shadows /run shadows /lib (and /usr/lib). */
static const char *const rules_dirs[] = { "/etc/udev/rules.d",
    "/run/udev/rules.d", "/lib/udev/rules.d", "/usr/lib/udev/rules.d",
    NULL };
static const char *const modprobe_dirs[] = { "/etc/modprobe.d",
    "/run/modprobe.d", "/lib/modprobe.d", "/usr/lib/modprobe.d", NULL };

/* ---- reading ------------------------------------------------------------- */

/* Fold one root hub's value into acc ("" before the first). */
static void
fold(char *acc, size_t size, const char *v)
{
	const char *w = strcmp(v, "0") == 0 || strcmp(v, "1") == 0 ||
	    strcmp(v, "2") == 0 ? v : "unknown";

	if (acc[0] == '\0' || strcmp(acc, w) == 0)
		snprintf(acc, size, "%s", w);
	else if (strcmp(acc, "unknown") != 0 && strcmp(w, "unknown") != 0)
		snprintf(acc, size, "mixed");
	else
		snprintf(acc, size, "unknown");
}

static void
read_hubs(const char *root, struct agent_state *s)
{
	char dir[PATH_BUF], hub[PATH_BUF + 256], v[16];
	struct dirent *e;
	DIR *d;

	s->usb_default[0] = s->iface_default[0] = '\0';
	snprintf(dir, sizeof(dir), "%s%s", root, USB_DEVICES);
	if ((d = opendir(dir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strncmp(e->d_name, "usb", 3) != 0 ||
			    snprintf(hub, sizeof(hub), "%s/%s", dir,
			    e->d_name) >= (int)sizeof(hub))
				continue;
			if (sysfs_read(hub, "authorized_default", v, sizeof(v),
			    NULL) < 0)
				snprintf(v, sizeof(v), "?");
			fold(s->usb_default, sizeof(s->usb_default), v);
			if (sysfs_read(hub, "interface_authorized_default", v,
			    sizeof(v), NULL) < 0)
				snprintf(v, sizeof(v), "?");
			fold(s->iface_default, sizeof(s->iface_default), v);
		}
		closedir(d);
	}
	if (s->usb_default[0] == '\0')
		snprintf(s->usb_default, sizeof(s->usb_default), "none");
	if (s->iface_default[0] == '\0')
		snprintf(s->iface_default, sizeof(s->iface_default), "none");
}

/* The file of that name in force: the first directory that has it.  An
 * empty file or a link to /dev/null masks the ones below it. */
static int
in_force(const char *root, const char *const *dirs, const char *name,
    char *path, size_t size, size_t *ret_skip)
{
	struct stat st;
	size_t i;

	for (i = 0; dirs[i] != NULL; i++) {
		if (snprintf(path, size, "%s%s/%s", root, dirs[i], name) >=
		    (int)size)
			return -ENAMETOOLONG;
		if (stat(path, &st) < 0)
			continue;
		*ret_skip = strlen(root);
		return S_ISREG(st.st_mode) && st.st_size > 0 ? 0 : -ENOENT;
	}
	return -ENOENT;
}

static void
read_udev(const char *root, struct agent_state *s)
{
	char path[PATH_BUF];
	size_t skip = 0;

	s->udev = in_force(root, rules_dirs, RULES_NAME, path, sizeof(path),
	    &skip) == 0;
	snprintf(s->udev_path, sizeof(s->udev_path), "%s",
	    s->udev ? path + skip : "");
}

/* authorized_default's value in an "options usbcore ..." line: 1 when it
 * is set to something other than 0, 0 when to 0, -1 when not set. */
static int
usbcore_option(char *line)
{
	char *p = line, *w;
	int r = -1;

	line[strcspn(line, "#\n")] = '\0';
	if ((w = strsep(&p, " \t")) == NULL || strcmp(w, "options") != 0)
		return -1;
	while ((w = strsep(&p, " \t")) != NULL && w[0] == '\0')
		;
	if (w == NULL || strcmp(w, "usbcore") != 0)
		return -1;
	while ((w = strsep(&p, " \t")) != NULL)
		if (strncmp(w, "authorized_default=", 19) == 0)
			r = strcmp(w + 19, "0") != 0;
	return r;
}

/* The last authorized_default setting of a modprobe file: 1, 0, -1. */
static int
scan_modprobe(const char *path)
{
	char *text = NULL, *p, *line;
	size_t len = 0;
	int r = -1, v;

	if (file_read_all(path, FILE_MAX, 0, &text, &len) < 0)
		return -1;
	for (p = text; (line = strsep(&p, "\n")) != NULL;)
		if ((v = usbcore_option(line)) >= 0)
			r = v;
	free(text);
	return r;
}

static bool
shadowed(const char *root, size_t i, const char *name)
{
	char path[PATH_BUF];
	struct stat st;

	while (i-- > 0)
		if (snprintf(path, sizeof(path), "%s%s/%s", root,
		    modprobe_dirs[i], name) < (int)sizeof(path) &&
		    stat(path, &st) == 0)
			return true;
	return false;
}

/* Whether a file other than ours sets authorized_default to non-zero.
 * modprobe reads every *.conf in lexical order; without sorting, a
 * non-zero setting anywhere is reported (it may win). */
static bool
others_override(const char *root)
{
	char dir[PATH_BUF], path[PATH_BUF + 256];
	struct dirent *e;
	bool over = false;
	size_t i, n;
	DIR *d;

	for (i = 0; modprobe_dirs[i] != NULL && !over; i++) {
		snprintf(dir, sizeof(dir), "%s%s", root, modprobe_dirs[i]);
		if ((d = opendir(dir)) == NULL)
			continue;
		while ((e = readdir(d)) != NULL && !over) {
			n = strlen(e->d_name);
			if (n < 6 || strcmp(e->d_name + n - 5, ".conf") != 0 ||
			    strcmp(e->d_name, MODPROBE_NAME) == 0 ||
			    shadowed(root, i, e->d_name) ||
			    snprintf(path, sizeof(path), "%s/%s", dir,
			    e->d_name) >= (int)sizeof(path))
				continue;
			over = scan_modprobe(path) == 1;
		}
		closedir(d);
	}
	return over;
}

/* usbcore.authorized_default=0 on the kernel command line: the other way
 * to hold new USB devices from boot (needed when usbcore is built in). */
#define CMDLINE_MAX 4096	/* x86 COMMAND_LINE_SIZE is 2048 */

static bool
cmdline_holds(const char *root)
{
	static const char key[] = "usbcore.authorized_default=";
	char path[PATH_BUF], *buf;
	const char *p;
	bool held = false;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/proc/cmdline", root);
	if ((buf = malloc(CMDLINE_MAX)) == NULL)
		return false;
	if ((f = fopen(path, "re")) == NULL) {
		free(buf);
		return false;
	}
	if (fgets(buf, CMDLINE_MAX, f) != NULL)
		for (p = buf; *p != '\0'; p += n) {	/* the last one counts */
			n = strcspn(p, " \n");
			if (n > sizeof(key) - 1 &&
			    strncmp(p, key, sizeof(key) - 1) == 0)
				held = n == sizeof(key) &&
				    p[sizeof(key) - 1] == '0';
			if (p[n] != '\0')
				n++;
		}
	fclose(f);
	free(buf);
	return held;
}

static void
read_modprobe(const char *root, struct agent_state *s)
{
	char path[PATH_BUF];
	size_t skip = 0;

	if (in_force(root, modprobe_dirs, MODPROBE_NAME, path, sizeof(path),
	    &skip) < 0)
		s->modprobe = cmdline_holds(root) ? "cmdline" : "missing";
	else if (scan_modprobe(path) != 0 || others_override(root))
		s->modprobe = "overridden";
	else
		s->modprobe = "present";
}

void
state_read(const char *root, struct agent_state *s)
{
	memset(s, 0, sizeof(*s));
	read_hubs(root, s);
	read_udev(root, s);
	read_modprobe(root, s);
}

void
state_count_disk(struct agent_state *s, const char *syspath,
    enum pol_verdict v)
{
	char ro[8];

	if (sysfs_read(syspath, "ro", ro, sizeof(ro), NULL) < 0)
		return;		/* gone */
	s->disks++;
	if (strcmp(ro, "0") == 0 && v != POL_VERDICT_ALLOW)
		s->writable++;
}

static bool
held(const char *v)
{
	return strcmp(v, "0") == 0 || strcmp(v, "none") == 0;
}

void
state_mismatch(const struct agent_state *s, char *buf, size_t size)
{
	const char *w[7];
	size_t i, n = 0, len = 0;

	if (!held(s->usb_default))
		w[n++] = "usb-default-authorized";
	if (!held(s->iface_default))
		w[n++] = "usb-iface-default-authorized";
	if (s->writable > 0)
		w[n++] = "removable-writable";
	if (!s->udev)
		w[n++] = "udev-rules-missing";
	if (strcmp(s->modprobe, "missing") == 0)
		w[n++] = "modprobe-missing";
	else if (strcmp(s->modprobe, "overridden") == 0)
		w[n++] = "modprobe-overridden";
	if (s->fallback)
		w[n++] = "policy-fallback";
	buf[0] = '\0';
	for (i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s",
		    i > 0 ? " " : "", w[i]);
}

/* ---- the agent's side ---------------------------------------------------- */

static void
collect(struct agent *a, struct agent_state *s)
{
	size_t i;

	state_read("", s);
	s->fallback = a->policy == NULL;
	for (i = 0; a->dev != NULL && i < a->dev->n; i++)
		if (a->dev->tab[i].disk)
			state_count_disk(s, a->dev->tab[i].syspath,
			    a->dev->tab[i].verdict);
}

static void
field(struct mg_field_val *f, size_t *n, enum mg_field id, const char *v)
{
	if (v == NULL || (v[0] == '\0' && id != MG_F_STATE_MISMATCH))
		return;
	f[*n] = (struct mg_field_val){ id, v, strlen(v) };
	(*n)++;
}

/* Of the decisions in force: cheap, so that most loop turns read no
 * sysfs at all. */
static uint64_t
fingerprint(const struct agent *a)
{
	uint64_t h = 1469598103934665603ull;
	const char *p;
	size_t i;

	for (i = 0; a->dev != NULL && i < a->dev->n; i++) {
		for (p = a->dev->tab[i].ident; *p != '\0'; p++)
			h = (h ^ (unsigned char)*p) * 1099511628211ull;
		h = (h ^ (uint64_t)a->dev->tab[i].verdict) * 1099511628211ull;
	}
	return h ^ (a->dev != NULL ? a->dev->n : 0) ^ (a->policy != NULL);
}

static int
emit(struct agent *a, const struct agent_state *s, const char *words)
{
	struct mg_field_val f[16];
	struct spool_stats sp = { 0 };
	char disks[16], writable[16], depth[24], acked[24];
	size_t n = 0;

	if (a->spool != NULL)
		spool_stats(a->spool, &sp);
	snprintf(disks, sizeof(disks), "%u", s->disks);
	snprintf(writable, sizeof(writable), "%u", s->writable);
	snprintf(depth, sizeof(depth), "%llu", (unsigned long long)sp.records);
	snprintf(acked, sizeof(acked), "%llu",
	    (unsigned long long)sp.acked_seq);
	field(f, &n, MG_F_VERSION, AGENT_VERSION);
	field(f, &n, MG_F_POLICY_VERSION, a->policy_version);
	field(f, &n, MG_F_POLICY_HASH, a->policy_hash);
	field(f, &n, MG_F_STATE_USB_DEFAULT, s->usb_default);
	field(f, &n, MG_F_STATE_IFACE_DEFAULT, s->iface_default);
	field(f, &n, MG_F_STATE_DISKS, disks);
	field(f, &n, MG_F_STATE_WRITABLE, writable);
	field(f, &n, MG_F_STATE_UDEV, s->udev ? "present" : "missing");
	field(f, &n, MG_F_STATE_UDEV_PATH, s->udev_path);
	field(f, &n, MG_F_STATE_MODPROBE, s->modprobe);
	field(f, &n, MG_F_STATE_SPOOL_DEPTH, depth);
	field(f, &n, MG_F_STATE_ACKED_SEQ, acked);
	field(f, &n, MG_F_STATE_MISMATCH, words);
	if (words[0] != '\0' && strcmp(words, a->st.words) != 0)
		fprintf(stderr, SD_WARNING "enforcement differs from what the "
		    "policy requires: %s\n", words);
	snprintf(a->st.words, sizeof(a->st.words), "%s", words);
	a->st.last_ms = agent_now_ms();
	a->st.pending = false;
	return agent_event(a, MG_EV_AGENT_STATE, f, n);
}

/* The sooner of the next periodic event and a deferred change; none:
 * disarmed, so that an idle agent sleeps. */
static void
rearm(struct agent *a)
{
	struct itimerspec its = { 0 };
	int64_t at = a->st.next_ms;

	if (a->st.fd < 0)
		return;
	if (a->st.pending && (at == 0 || a->st.last_ms + STATE_GAP_MS < at))
		at = a->st.last_ms + STATE_GAP_MS;
	if (at != 0) {
		its.it_value.tv_sec = at / 1000;
		its.it_value.tv_nsec = (long)(at % 1000) * 1000000;
		if (at <= 0)
			its.it_value.tv_nsec = 1;
	}
	if (timerfd_settime(a->st.fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		fprintf(stderr, SD_ERR "state timer: %m\n");
}

static void
emit_now(struct agent *a)
{
	struct agent_state s;
	char words[STATE_WORDS_MAX];

	collect(a, &s);
	state_mismatch(&s, words, sizeof(words));
	(void)emit(a, &s, words);
	a->st.fingerprint = fingerprint(a);
	a->st.next_ms = a->cfg.state_s > 0 ? a->st.last_ms +
	    (int64_t)a->cfg.state_s * 1000 : 0;
	rearm(a);
}

int
state_start(struct agent *a)
{
	a->st.fd = -1;
	if (a->cfg.state_s == AGENT_STATE_NEVER)
		return 0;	/* state_check() and the timer stay idle */
	a->st.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC |
	    TFD_NONBLOCK);
	if (a->st.fd < 0)
		return -errno;
	emit_now(a);
	return 0;
}

void
state_stop(struct agent *a)
{
	if (a->st.fd >= 0)
		close(a->st.fd);
	a->st.fd = -1;
}

void
state_on_timer(struct agent *a)
{
	uint64_t ticks;
	int64_t now = agent_now_ms();

	while (read(a->st.fd, &ticks, sizeof(ticks)) > 0)
		;
	if (a->st.next_ms != 0 && now >= a->st.next_ms) {
		emit_now(a);
		return;
	}
	if (a->st.pending && now >= a->st.last_ms + STATE_GAP_MS) {
		a->st.pending = false;
		state_check(a, true);
		return;
	}
	rearm(a);
}

void
state_check(struct agent *a, bool force)
{
	struct agent_state s;
	char words[STATE_WORDS_MAX];
	uint64_t fp = fingerprint(a);

	if (a->st.fd < 0 || (!force && fp == a->st.fingerprint))
		return;
	a->st.fingerprint = fp;
	collect(a, &s);
	state_mismatch(&s, words, sizeof(words));
	if (strcmp(words, a->st.words) == 0) {
		a->st.pending = false;
		rearm(a);
		return;
	}
	if (agent_now_ms() >= a->st.last_ms + STATE_GAP_MS) {
		emit_now(a);
		return;
	}
	a->st.pending = true;
	rearm(a);
}
