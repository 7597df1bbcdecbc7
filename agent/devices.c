/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Removable media: the agent's side (docs/ARCHITECTURE.md, "Removable
 * media").  The kernel holds every new USB device unauthorized
 * (usbcore.authorized_default=0) and the udev helper makes every new
 * removable disk read-only before udev tells anyone about it; this file
 * decides, from the policy, what each device may become, applies it, and
 * records every decision as a signed event.
 *
 * Events come from the kernel's uevent socket (libudev "kernel" source:
 * the earliest, and sent by the kernel only) and from the udev helper,
 * which asks synchronously while udev holds the event back from udisks2
 * and the desktop.  Both lead to the same decision, made once per device
 * (recognised by busnum.devnum or major:minor).  A lost uevent (ENOBUFS)
 * means a rescan of sysfs, which is also how devices present at start
 * are decided.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libudev.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-login.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "devctl.h"
#include "devices.h"
#include "notify.h"
#include "seat.h"

#define TAB_MAX 4096u

/* ---- the table ---------------------------------------------------------- */

static void
entry_free(struct dev_entry *e)
{
	free(e->syspath);
	free(e->serial);
	free(e->product);
	free(e->label);
}

static struct dev_entry *
tab_find(struct devices *dv, const char *syspath)
{
	size_t i;

	for (i = 0; i < dv->n; i++)
		if (strcmp(dv->tab[i].syspath, syspath) == 0)
			return &dv->tab[i];
	return NULL;
}

static void
tab_remove(struct devices *dv, struct dev_entry *e)
{
	entry_free(e);
	*e = dv->tab[--dv->n];
}

/* A free slot for syspath, reusing its old entry. */
static struct dev_entry *
tab_slot(struct devices *dv, const char *syspath)
{
	struct dev_entry *e = tab_find(dv, syspath), *t;

	if (e != NULL) {
		entry_free(e);
	} else {
		if (dv->n == dv->cap) {
			if (dv->cap >= TAB_MAX)
				return NULL;
			t = realloc(dv->tab, (dv->cap ? dv->cap * 2 : 16) *
			    sizeof(*t));
			if (t == NULL)
				return NULL;
			dv->tab = t;
			dv->cap = dv->cap ? dv->cap * 2 : 16;
		}
		e = &dv->tab[dv->n++];
	}
	memset(e, 0, sizeof(*e));
	return e;
}

static void
tab_put(struct devices *dv, const char *syspath, const char *ident,
    const struct devinfo *d, const struct pol_decision *dec, bool fallback,
    bool disk)
{
	struct dev_entry *e = tab_slot(dv, syspath);

	if (e == NULL)
		return;
	e->syspath = strdup(syspath);
	e->serial = strdup(d->serial);
	e->product = strdup(d->product);
	e->label = dec->label != NULL ? strdup(dec->label) : NULL;
	if (e->syspath == NULL || e->serial == NULL || e->product == NULL) {
		tab_remove(dv, e);
		return;
	}
	snprintf(e->path, sizeof(e->path), "%s", d->path);
	snprintf(e->node, sizeof(e->node), "%s", disk ? d->node : "");
	snprintf(e->ident, sizeof(e->ident), "%s", ident);
	e->disk = disk;
	e->has_id = d->has_id;
	e->vid = d->vid;
	e->pid = d->pid;
	e->kinds = d->kinds;
	e->verdict = dec->verdict;
	e->rule = dec->rule;
	e->line = dec->line;
	e->fallback = fallback;
	e->since = (int64_t)time(NULL);
}

/* Drop entries whose device is gone (a remove uevent we never got). */
static void
tab_prune(struct devices *dv)
{
	size_t i = dv->n;

	while (i-- > 0)
		if (access(dv->tab[i].syspath, F_OK) < 0)
			tab_remove(dv, &dv->tab[i]);
}

/* ---- identity ------------------------------------------------------------ */

/* Which enumeration of a device this is: a re-plug at the same port has
 * the same syspath but a new devnum (USB) or a new gendisk. */
static void
usb_ident(const char *syspath, char *out, size_t size)
{
	char bus[16] = "", dev[16] = "";

	(void)sysfs_read(syspath, "busnum", bus, sizeof(bus), NULL);
	(void)sysfs_read(syspath, "devnum", dev, sizeof(dev), NULL);
	snprintf(out, size, "%s.%s", bus, dev);
}

static void
disk_ident(const char *syspath, char *out, size_t size)
{
	char dev[32] = "", seq[32] = "";

	(void)sysfs_read(syspath, "dev", dev, sizeof(dev), NULL);
	(void)sysfs_read(syspath, "diskseq", seq, sizeof(seq), NULL);
	snprintf(out, size, "%s/%s", dev, seq);
}

/* ---- the policy's input --------------------------------------------------- */

static int
random_u32(void *arg, uint32_t *ret)
{
	(void)arg;
	return getrandom(ret, sizeof(*ret), 0) == (ssize_t)sizeof(*ret) ? 0 :
	    -EIO;
}

static void
make_env(struct agent *a, struct pol_env *env, struct seat_info *si)
{
	time_t now = time(NULL);
	struct tm tm;

	memset(env, 0, sizeof(*env));
	env->seat = seat_lookup(si);
	env->local_sec = localtime_r(&now, &tm) != NULL ?
	    tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec : -1;
	env->mono_ms = (uint64_t)agent_now_ms();
	env->random_u32 = random_u32;
	env->history = a->hist;
}

/* ---- events and logs ------------------------------------------------------ */

struct evbuf {
	char vid[8], pid[8], kinds[160], ifaces[400], rule[16], line[16];
	struct mg_field_val f[MG_FIELDS_MAX];
	size_t n;
};

static void
put(struct evbuf *b, enum mg_field id, const char *v)
{
	if (v == NULL || b->n >= MG_FIELDS_MAX)
		return;
	b->f[b->n].id = id;
	b->f[b->n].val = v;
	b->f[b->n].len = strlen(v);
	b->n++;
}

static void
dev_fields(struct evbuf *b, const struct devinfo *d)
{
	b->n = 0;
	if (d->has_id) {
		snprintf(b->vid, sizeof(b->vid), "%04x", d->vid);
		snprintf(b->pid, sizeof(b->pid), "%04x", d->pid);
		put(b, MG_F_DEV_VID, b->vid);
		put(b, MG_F_DEV_PID, b->pid);
	}
	put(b, MG_F_DEV_SERIAL, d->serial);
	put(b, MG_F_DEV_VENDOR, d->vendor);
	put(b, MG_F_DEV_PRODUCT, d->product);
	devinfo_kind_words(d->kinds, b->kinds, sizeof(b->kinds));
	put(b, MG_F_DEV_KIND, b->kinds);
	put(b, MG_F_DEV_BUS, pol_bus_word(d->bus));
	put(b, MG_F_DEV_PATH, d->path);
	if (d->node[0] != '\0')
		put(b, MG_F_DEV_NODE, d->node);
	if (d->n_types > 0) {
		devinfo_iface_words(d, b->ifaces, sizeof(b->ifaces));
		put(b, MG_F_DEV_IFACES, b->ifaces);
	}
}

/* A device string for a log line: quoted and escaped. */
static const char *
logstr(struct sbuf *sb, const char *s)
{
	sbuf_clear(sb);
	sbuf_init(sb, 2048);
	if (pol_quote(sb, s, strlen(s), 0) < 0 || sbuf_putc(sb, '\0') < 0)
		return "\"?\"";
	return sb->data;
}

static enum mg_event_type
verdict_event(enum pol_verdict v)
{
	return v == POL_VERDICT_ALLOW ? MG_EV_DEVICE_ALLOWED :
	    v == POL_VERDICT_READ_ONLY ? MG_EV_DEVICE_READ_ONLY :
	    MG_EV_DEVICE_BLOCKED;
}

static void
tell_seat(struct agent *a, const struct devinfo *d,
    const struct pol_decision *dec, bool mount)
{
	struct notice n = {
		.kind = mount ? NOTICE_MOUNT_FORCED_RO :
		    dec->verdict == POL_VERDICT_READ_ONLY ? NOTICE_READ_ONLY :
		    NOTICE_BLOCKED,
		.product = d->product, .vendor = d->vendor,
		.label = dec->label,
	};
	char kw[160];
	unsigned b;

	if (!mount && dec->verdict == POL_VERDICT_ALLOW)
		return;
	/* The most telling kind for the message. */
	kw[0] = '\0';
	for (b = 0; b < POL_KIND_COUNT_; b++)
		if (d->kinds & (1u << b)) {
			snprintf(kw, sizeof(kw), "%s", pol_kind_word(b));
			if (b != 0)	/* storage may be refined (sd, mtp) */
				break;
		}
	n.kind_word = kw;
	(void)notice_send(&n, a->cfg.notify_lang);
}

/* Record a decision as a signed event and a log line. */
static void
record(struct agent *a, const struct devinfo *d,
    const struct pol_decision *dec, const char *decider, const char *user,
    int applied, const char *what, const char *why)
{
	struct evbuf b;
	struct sbuf s1 = { 0 }, s2 = { 0 };
	char reason[256];
	enum mg_event_type t = verdict_event(dec->verdict);

	dev_fields(&b, d);
	put(&b, MG_F_VERDICT, pol_verdict_name(dec->verdict));
	snprintf(b.rule, sizeof(b.rule), "%u", dec->rule);
	snprintf(b.line, sizeof(b.line), "%u", dec->line);
	put(&b, MG_F_RULE, b.rule);
	put(&b, MG_F_RULE_LINE, b.line);
	put(&b, MG_F_RULE_LABEL, dec->label);
	put(&b, MG_F_DECIDER, decider);
	put(&b, MG_F_USER, user);
	if (applied < 0 && applied != -ENOENT && applied != -ENODEV) {
		t = MG_EV_DEVICE_ENFORCE_FAILED;
		snprintf(reason, sizeof(reason), "%s: %s", what,
		    strerror(-applied));
		why = reason;
	} else if (applied < 0) {
		why = "the device went away while it was being decided";
	}
	put(&b, MG_F_REASON, why);
	put(&b, MG_F_MESSAGE, what);
	fprintf(stderr, "%s%s %s: %04x:%04x serial %s name %s -> %s "
	    "(rule %u%s%s) %s%s%s\n", t == MG_EV_DEVICE_ENFORCE_FAILED ?
	    SD_ERR : SD_NOTICE, d->path, d->node, d->vid, d->pid,
	    logstr(&s1, d->serial), logstr(&s2, d->product),
	    pol_verdict_name(dec->verdict), dec->rule,
	    dec->label != NULL ? " " : "", dec->label != NULL ? dec->label :
	    "", what, why != NULL ? ": " : "", why != NULL ? why : "");
	sbuf_clear(&s1);
	sbuf_clear(&s2);
	(void)agent_event(a, t, b.f, b.n);
}

/* ---- deciding ------------------------------------------------------------- */

static const struct pol_policy *
policy_of(const struct agent *a)
{
	return a->policy != NULL ? a->policy : a->fallback;
}

/* The seat user's name is copied to user (size bytes; "" for none). */
static int
decide(struct agent *a, const struct devinfo *d, struct pol_decision *dec,
    const char **why, char *user, size_t size)
{
	struct seat_info *si = calloc(1, sizeof(*si));
	struct pol_env env;
	int r;

	if (si == NULL)
		return -ENOMEM;
	make_env(a, &env, si);
	snprintf(user, size, "%s", env.seat != NULL ? env.seat->user : "");
	r = devctl_decide(policy_of(a), d, &env, dec, why);
	free(si);
	return r;
}

static const struct dev_entry *
decide_usb(struct agent *a, const char *syspath)
{
	struct devices *dv = a->dev;
	struct devinfo *d = calloc(1, sizeof(*d));
	struct pol_decision dec = { .verdict = POL_VERDICT_BLOCK };
	const struct dev_entry *e = tab_find(dv, syspath);
	const char *why = NULL;
	char ident[32], what[128] = "not authorized", user[256] = "";
	char reason[160];
	int r;

	bool same;
	enum pol_verdict prev = POL_VERDICT_REJECT;

	usb_ident(syspath, ident, sizeof(ident));
	same = e != NULL && strcmp(e->ident, ident) == 0;
	if (d == NULL || (same && !dv->reeval)) {
		free(d);
		return e;	/* decided already */
	}
	if (same)
		prev = e->verdict;
	r = devinfo_usb(syspath, d, &why);
	if (r == -ENOENT || r == -ENODEV) {
		free(d);
		return NULL;	/* gone before we looked */
	}
	if (r < 0) {
		/* Unreadable or malformed descriptors: blocked, and said. */
		snprintf(d->path, sizeof(d->path), "%s", strrchr(syspath, '/')
		    + 1);
		d->bus = POL_BUS_USB;
		snprintf(reason, sizeof(reason), "USB descriptors: %s",
		    why != NULL ? why : strerror(-r));
		why = reason;
		r = devctl_apply_usb(d, POL_VERDICT_BLOCK, what,
		    sizeof(what));
	} else if ((r = decide(a, d, &dec, &why, user, sizeof(user))) == 0) {
		r = devctl_apply_usb(d, dec.verdict, what, sizeof(what));
	}
	/* Decided again (policy reload, login): recorded when the verdict
	 * changes, not for every renumbered rule. */
	if (!same || prev != dec.verdict || (r < 0 && r != -ENOENT &&
	    r != -ENODEV)) {
		record(a, d, &dec, "agent", user[0] ? user : NULL, r, what,
		    why);
		if (r == 0)
			tell_seat(a, d, &dec, false);
	}
	if (r == -ENOENT || r == -ENODEV) {
		free(d);
		return NULL;	/* gone mid-way: nothing stale kept */
	}
	tab_put(dv, syspath, ident, d, &dec, a->policy == NULL, false);
	free(d);
	return tab_find(dv, syspath);
}

/* The verdict for a disk: its USB device's, or the policy's for the card
 * or drive; an optical drive on USB is decided again as optical. */
static int
block_verdict(struct agent *a, struct devinfo *d, enum devblk kind,
    struct pol_decision *dec, const char **why, char *user, size_t size)
{
	const struct dev_entry *u;

	if (kind == DEVBLK_USB && !(d->kinds & POL_KIND_OPTICAL)) {
		u = decide_usb(a, d->syspath);
		if (u == NULL)
			return -ENOENT;
		dec->verdict = u->verdict;
		dec->rule = u->rule;
		dec->line = u->line;
		dec->label = u->label;
		*why = NULL;
		return 0;
	}
	return decide(a, d, dec, why, user, size);
}

/* Decide a disk and apply the verdict; a disk whose verdict cannot be
 * found stays read-only. */
static int
block_apply(struct agent *a, const char *disk, struct devinfo *d,
    enum devblk *kind, struct pol_decision *dec, const char **why,
    char *user, size_t usize, char *what, size_t wsize)
{
	int r = devinfo_block(disk, d, kind, why);

	if (r < 0 || *kind == DEVBLK_FIXED)
		return r;
	r = block_verdict(a, d, *kind, dec, why, user, usize);
	if (r == 0)
		return devctl_apply_block(disk, d, *kind, dec->verdict, what,
		    wsize);
	if (r != -ENOENT && r != -ENODEV && d->node[0] != '\0')
		(void)devctl_set_ro(d->node, true);
	return r;
}

/* The flag of a disk decided before, set again: the udev helper makes
 * every new disk read-only before it asks, possibly after we decided. */
static void
reassert(const struct dev_entry *e)
{
	if (e->disk && e->node[0] != '\0' &&
	    (e->verdict == POL_VERDICT_ALLOW || e->verdict ==
	    POL_VERDICT_READ_ONLY))
		(void)devctl_set_ro(e->node, e->verdict != POL_VERDICT_ALLOW);
}

static const struct dev_entry *
decide_block(struct agent *a, const char *disk)
{
	struct devices *dv = a->dev;
	struct devinfo *d = calloc(1, sizeof(*d));
	struct pol_decision dec = { .verdict = POL_VERDICT_READ_ONLY };
	struct dev_entry *e = tab_find(dv, disk);
	enum pol_verdict prev = POL_VERDICT_REJECT;
	enum devblk kind = DEVBLK_FIXED;
	const char *why = NULL;
	char ident[48], what[128] = "", user[256] = "";
	bool same;
	int r;

	disk_ident(disk, ident, sizeof(ident));
	same = e != NULL && strcmp(e->ident, ident) == 0;
	if (d == NULL || (same && !dv->reeval)) {
		if (e != NULL)
			reassert(e);
		free(d);
		return e;
	}
	if (same)
		prev = e->verdict;
	r = block_apply(a, disk, d, &kind, &dec, &why, user, sizeof(user),
	    what, sizeof(what));
	if ((r == 0 && kind == DEVBLK_FIXED) || r == -ENOENT || r == -ENODEV) {
		free(d);
		return NULL;
	}
	/* The disk's own record: the node and whether the flag took. */
	snprintf(d->path, sizeof(d->path), "%s", strrchr(disk, '/') + 1);
	if (!same || prev != dec.verdict || r < 0) {
		record(a, d, &dec, "agent", user[0] ? user : NULL, r, what,
		    why);
		if (kind != DEVBLK_USB || (d->kinds & POL_KIND_OPTICAL))
			tell_seat(a, d, &dec, false);
	}
	tab_put(dv, disk, ident, d, &dec, a->policy == NULL, true);
	free(d);
	return tab_find(dv, disk);
}

/* ---- mounts --------------------------------------------------------------- */

/* Undo the octal escapes of a mountinfo path (\040 etc.) in place. */
static void
unescape(char *s)
{
	char *o = s;

	for (; *s != '\0'; s++, o++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*o = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
			    (s[3] - '0'));
			s += 3;
		} else {
			*o = *s;
		}
	}
	*o = '\0';
}

/* The whole disk of a block device number, as a syspath. */
static int
disk_of(unsigned maj, unsigned min, char *out, size_t size)
{
	char link[64], real[DEVPATH_MAX], *slash;
	struct stat st;
	int r;

	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", maj, min);
	if ((r = sysfs_realpath(link, real, sizeof(real))) < 0)
		return r;
	if (snprintf(out, size, "%s/partition", real) >= (int)size)
		return -ENAMETOOLONG;
	if (stat(out, &st) == 0 && (slash = strrchr(real, '/')) != NULL)
		*slash = '\0';
	return snprintf(out, size, "%s", real) >= (int)size ? -ENAMETOOLONG :
	    0;
}

static bool
opt_rw(const char *opts)
{
	return strncmp(opts, "rw", 2) == 0 && (opts[2] == ',' ||
	    opts[2] == '\0');
}

/* A read-write mount of media the policy keeps read-only: record it,
 * remount read-only (or detach if it cannot be), set the flag again. */
static void
mount_violation(struct agent *a, const struct dev_entry *e, char *target)
{
	struct devinfo *d = calloc(1, sizeof(*d));
	struct pol_decision dec = { .verdict = e->verdict, .rule = e->rule,
	    .line = e->line, .label = e->label };
	enum devblk kind;
	const char *why = NULL, *act = "remounted read-only";
	char mp[MG_FIELD_MAX_LEN];
	struct evbuf b;

	if (d == NULL)
		return;
	unescape(target);
	if (mount(NULL, target, NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0) {
		act = umount2(target, MNT_DETACH) == 0 ? "unmounted" :
		    "could not be remounted or unmounted";
	}
	if (e->node[0] != '\0')
		(void)devctl_set_ro(e->node, true);
	if (devinfo_block(e->syspath, d, &kind, &why) < 0)
		d->bus = POL_BUS_OTHER;	/* gone since: what we knew */
	snprintf(d->path, sizeof(d->path), "%s", strrchr(e->syspath, '/') + 1);
	devinfo_utf8_clean(target, mp, sizeof(mp));
	dev_fields(&b, d);
	put(&b, MG_F_VERDICT, pol_verdict_name(e->verdict));
	put(&b, MG_F_DECIDER, "agent");
	put(&b, MG_F_MOUNT, mp);
	put(&b, MG_F_REASON, "mounted read-write although the policy keeps "
	    "it read-only");
	put(&b, MG_F_MESSAGE, act);
	fprintf(stderr, SD_WARNING "%s mounted read-write on a mount point "
	    "of %zu bytes: %s\n", e->node, strlen(target), act);
	(void)agent_event(a, MG_EV_DEVICE_MOUNTED_RW, b.f, b.n);
	tell_seat(a, d, &dec, true);
	free(d);
}

/*
 * One mountinfo line: "id parent M:m root target opts [optional...] - type
 * source superopts" (proc(5)); the optional fields may be absent.  Fields
 * never hold a blank (the kernel escapes it as \040).
 */
static void
check_mount(struct agent *a, char *line)
{
	char *f[6] = { NULL }, *t, *p = line, disk[DEVPATH_MAX], *sb = NULL;
	const struct dev_entry *e;
	unsigned maj, min;
	int i;

	for (i = 0; i < 6 && p != NULL; i++)
		f[i] = strsep(&p, " ");
	while (i == 6 && p != NULL && (t = strsep(&p, " ")) != NULL)
		if (strcmp(t, "-") == 0) {
			/* type, source, then the superblock's options */
			if (strsep(&p, " ") != NULL && strsep(&p, " ") != NULL)
				sb = strsep(&p, " ");
			break;
		}
	/*
	 * The superblock's flag decides, not this mount's: the unit's
	 * ProtectSystem= shows every mount that existed when the agent
	 * started as read-only in the agent's own namespace, although it is
	 * writable for everyone else.  A read-only remount below changes the
	 * superblock, so it reaches every namespace.
	 */
	if (i != 6 || sb == NULL || !opt_rw(sb) ||
	    sscanf(f[2], "%u:%u", &maj, &min) != 2 || maj == 0)
		return;
	if (disk_of(maj, min, disk, sizeof(disk)) < 0)
		return;
	e = decide_block(a, disk);
	if (e != NULL && e->verdict != POL_VERDICT_ALLOW)
		mount_violation(a, e, f[4]);
}

void
devices_on_mounts(struct agent *a)
{
	char *line = NULL;
	size_t cap = 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (f == NULL)
		return;
	while (getline(&line, &cap, f) > 0) {
		line[strcspn(line, "\n")] = '\0';
		check_mount(a, line);
	}
	free(line);
	fclose(f);
}

/* ---- scanning and uevents -------------------------------------------------- */

static void
scan_one_usb(struct agent *a, const char *syspath)
{
	if (!devinfo_usb_is_root_hub(syspath))
		(void)decide_usb(a, syspath);
}

static void
scan_one_disk(struct agent *a, const char *syspath)
{
	(void)decide_block(a, syspath);
}

/* Decide every present device of a subsystem and devtype. */
static void
scan_class(struct agent *a, const char *subsystem, const char *devtype,
    void (*decide_fn)(struct agent *, const char *))
{
	struct udev_enumerate *en = udev_enumerate_new(a->dev->udev);
	struct udev_list_entry *it;

	if (en == NULL)
		return;
	if (udev_enumerate_add_match_subsystem(en, subsystem) >= 0 &&
	    udev_enumerate_add_match_property(en, "DEVTYPE", devtype) >= 0 &&
	    udev_enumerate_scan_devices(en) >= 0)
		for (it = udev_enumerate_get_list_entry(en); it != NULL;
		    it = udev_list_entry_get_next(it))
			decide_fn(a, udev_list_entry_get_name(it));
	udev_enumerate_unref(en);
}

static void
scan(struct agent *a)
{
	int r = devctl_harden();

	if (r < 0)
		fprintf(stderr, SD_ERR "cannot make the USB core wait for "
		    "decisions (authorized_default): %s\n", strerror(-r));
	tab_prune(a->dev);
	scan_class(a, "usb", "usb_device", scan_one_usb);
	scan_class(a, "block", "disk", scan_one_disk);
	devices_on_mounts(a);
	a->dev->rescans++;
}

void
devices_rescan(struct agent *a)
{
	if (a->dev == NULL)
		return;
	a->dev->reeval = true;
	scan(a);
	a->dev->reeval = false;
}

void
devices_on_login(struct agent *a)
{
	sd_login_monitor *m = a->dev->login_mon;

	(void)sd_login_monitor_flush(m);
	devices_rescan(a);
}

static void
on_remove(struct agent *a, const char *syspath)
{
	struct dev_entry *e = tab_find(a->dev, syspath);
	struct mg_field_val f[4];
	size_t n = 0;

	if (e == NULL)
		return;
	f[n++] = (struct mg_field_val){ MG_F_DEV_PATH, e->path,
	    strlen(e->path) };
	f[n++] = (struct mg_field_val){ MG_F_DEV_SERIAL, e->serial,
	    strlen(e->serial) };
	f[n++] = (struct mg_field_val){ MG_F_DEV_PRODUCT, e->product,
	    strlen(e->product) };
	if (e->node[0] != '\0')
		f[n++] = (struct mg_field_val){ MG_F_DEV_NODE, e->node,
		    strlen(e->node) };
	(void)agent_event(a, MG_EV_DEVICE_REMOVED, f, n);
	tab_remove(a->dev, e);
}

/* An interface that appeared after its device was decided (a slow
 * configuration, a new bConfigurationValue): the device's verdict decides
 * it too, or it would stay unbound (interface_authorized_default=0). */
static void
on_interface(struct agent *a, const char *iface)
{
	char dev[DEVPATH_MAX], what[64];
	const char *slash = strrchr(iface, '/');
	const struct dev_entry *e;
	int r;

	if (slash == NULL || (size_t)(slash - iface) >= sizeof(dev))
		return;
	memcpy(dev, iface, (size_t)(slash - iface));
	dev[slash - iface] = '\0';
	if ((e = tab_find(a->dev, dev)) == NULL || e->disk)
		return;
	r = devctl_apply_iface(dev, slash + 1, e->verdict, what,
	    sizeof(what));
	if (r < 0 && r != -ENOENT && r != -ENODEV)
		fprintf(stderr, SD_ERR "%s: %s: %s\n", slash + 1, what,
		    strerror(-r));
}

static void
on_uevent(struct agent *a, struct udev_device *u)
{
	const char *act = udev_device_get_action(u);
	const char *sub = udev_device_get_subsystem(u);
	const char *type = udev_device_get_devtype(u);
	const char *p = udev_device_get_syspath(u);

	if (act == NULL || sub == NULL || type == NULL || p == NULL)
		return;
	if (strcmp(act, "remove") == 0) {
		on_remove(a, p);
		return;
	}
	if (strcmp(act, "add") != 0)
		return;
	if (strcmp(sub, "usb") == 0 && strcmp(type, "usb_interface") == 0) {
		on_interface(a, p);
	} else if (strcmp(sub, "usb") == 0 && strcmp(type, "usb_device") == 0) {
		if (devinfo_usb_is_root_hub(p))
			(void)devctl_harden();	/* a new host controller */
		else
			(void)decide_usb(a, p);
	} else if (strcmp(sub, "block") == 0 && strcmp(type, "disk") == 0) {
		(void)decide_block(a, p);
	}
}

void
devices_on_uevent(struct agent *a)
{
	struct udev_device *u;
	int i;

	/* Bounded, so that a storm cannot starve the socket clients. */
	for (i = 0; i < 64; i++) {
		errno = 0;
		u = udev_monitor_receive_device(a->dev->mon);
		if (u == NULL) {
			if (errno == ENOBUFS) {
				fprintf(stderr, SD_WARNING "uevents were lost "
				    "(ENOBUFS): rescanning\n");
				scan(a);
				continue;
			}
			return;
		}
		on_uevent(a, u);
		udev_device_unref(u);
	}
}

static int
open_monitor(struct devices *dv, uint64_t rcvbuf)
{
	if ((dv->udev = udev_new()) == NULL)
		return -ENOMEM;
	dv->mon = udev_monitor_new_from_netlink(dv->udev, "kernel");
	if (dv->mon == NULL)
		return -errno != 0 ? -errno : -ENOMEM;
	(void)udev_monitor_set_receive_buffer_size(dv->mon, (int)rcvbuf);
	if (udev_monitor_filter_add_match_subsystem_devtype(dv->mon, "usb",
	    "usb_device") < 0 ||
	    udev_monitor_filter_add_match_subsystem_devtype(dv->mon, "usb",
	    "usb_interface") < 0 ||
	    udev_monitor_filter_add_match_subsystem_devtype(dv->mon, "block",
	    "disk") < 0 || udev_monitor_enable_receiving(dv->mon) < 0)
		return -EIO;
	dv->mon_fd = udev_monitor_get_fd(dv->mon);
	return 0;
}

int
devices_start(struct agent *a)
{
	struct devices *dv = calloc(1, sizeof(*dv));
	int r;

	if (dv == NULL)
		return -ENOMEM;
	dv->mon_fd = dv->mount_fd = dv->login_fd = -1;
	a->dev = dv;
	if ((r = open_monitor(dv, a->cfg.uevent_buf)) < 0) {
		fprintf(stderr, SD_CRIT "cannot watch device events: %s\n",
		    strerror(-r));
		devices_stop(a);
		return r;
	}
	dv->mount_fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	dv->login_fd = -1;
	if (sd_login_monitor_new("session", (sd_login_monitor **)
	    &dv->login_mon) >= 0)
		dv->login_fd = sd_login_monitor_get_fd(dv->login_mon);
	scan(a);
	return 0;
}

void
devices_stop(struct agent *a)
{
	struct devices *dv = a->dev;

	if (dv == NULL)
		return;
	while (dv->n > 0)
		tab_remove(dv, &dv->tab[0]);
	free(dv->tab);
	if (dv->mount_fd >= 0)
		close(dv->mount_fd);
	sd_login_monitor_unref(dv->login_mon);
	udev_monitor_unref(dv->mon);
	udev_unref(dv->udev);
	free(dv);
	a->dev = NULL;
}

/* ---- the udev helper's question ------------------------------------------- */

int
devices_request(struct agent *a, uint32_t op, const char *path, size_t len,
    struct sbuf *reply)
{
	char syspath[DEVPATH_MAX], real[DEVPATH_MAX];
	const struct dev_entry *e;
	int r;

	if (a->dev == NULL || len >= sizeof(syspath))
		return -EINVAL;
	memcpy(syspath, path, len);
	syspath[len] = '\0';
	/* Only real devices: no "..", no symlink games. */
	if ((r = sysfs_realpath(syspath, real, sizeof(real))) < 0)
		return r;
	if (strncmp(real, "/sys/devices/", 13) != 0)
		return -EINVAL;
	e = op == MG_IPC_DEVICE_USB ? decide_usb(a, real) :
	    decide_block(a, real);
	if (e == NULL)
		return sbuf_printf(reply, "MYNAGUARD_VERDICT=none\n");
	return sbuf_printf(reply, "MYNAGUARD_VERDICT=%s\nMYNAGUARD_RULE=%u\n"
	    "MYNAGUARD_DECIDER=%s\n", pol_verdict_name(e->verdict), e->rule,
	    "agent");
}

void
devices_status(const struct agent *a, struct jw *w)
{
	const struct devices *dv = a->dev;
	char kinds[160];
	size_t i;

	jw_key(w, "devices");
	jw_array(w);
	for (i = 0; dv != NULL && i < dv->n; i++) {
		const struct dev_entry *e = &dv->tab[i];

		jw_object(w);
		jw_key(w, "path");
		jw_str(w, e->path);
		jw_key(w, "syspath");
		jw_str(w, e->syspath);
		jw_key(w, "node");
		jw_str(w, e->node);
		if (e->has_id) {
			jw_key(w, "vid");
			jw_u64(w, e->vid);
			jw_key(w, "pid");
			jw_u64(w, e->pid);
		}
		jw_key(w, "serial");
		jw_str(w, e->serial);
		jw_key(w, "product");
		jw_str(w, e->product);
		devinfo_kind_words(e->kinds, kinds, sizeof(kinds));
		jw_key(w, "kind");
		jw_str(w, kinds);
		jw_key(w, "verdict");
		jw_str(w, pol_verdict_name(e->verdict));
		jw_key(w, "rule");
		jw_u64(w, e->rule);
		jw_key(w, "line");
		jw_u64(w, e->line);
		jw_key(w, "label");
		jw_str(w, e->label != NULL ? e->label : "");
		jw_key(w, "fallback_policy");
		jw_bool(w, e->fallback);
		jw_key(w, "since");
		jw_i64(w, e->since);
		jw_object_end(w);
	}
	jw_array_end(w);
}

int
devices_table(const struct agent *a, struct sbuf *out)
{
	const struct devices *dv = a->dev;
	size_t i;
	int r = 0;

	for (i = 0; dv != NULL && i < dv->n && r == 0; i++) {
		const struct dev_entry *e = &dv->tab[i];

		r = sbuf_printf(out, "%s\t%s\t%u\t%u\t%s\t", e->syspath,
		    pol_verdict_name(e->verdict), e->rule, e->line,
		    e->fallback ? "fallback-policy" : "policy");
		if (r == 0)
			r = pol_quote(out, e->label != NULL ? e->label : "",
			    e->label != NULL ? strlen(e->label) : 0, 0);
		if (r == 0)
			r = sbuf_putc(out, '\n');
	}
	return r;
}
