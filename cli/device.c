/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mynaguard device list | rule: the administrator's view of removable
 * devices.  `list` reads sysfs for what is present and in what state
 * (authorized, read-only flag), and asks the agent which rule decided;
 * `rule` prints a policy rule that registers a plugged device.
 *
 * Device strings are hostile: they are only ever printed as quoted policy
 * strings (control bytes, quotes and deceptive code points escaped), in
 * JSON (escaped by the writer), never passed to anything else.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "devinfo.h"
#include "mynaguard/common.h"
#include "mynaguard/event.h"
#include "mynaguard/policy.h"

#define SOCKET_PATH "/run/mynaguard/events.sock"
#define USB_DEVICES "/sys/bus/usb/devices"
#define CLASS_BLOCK "/sys/class/block"

/* The agent's decisions, as lines "syspath\tverdict\trule\tline\tdecider\tlabel". */
struct decisions {
	char *text;
	bool agent;
};

static int
query_decisions(const char *sock, struct decisions *d)
{
	const uint8_t req[8] = { 0, 0, 0, MG_IPC_DEVICES, 0, 0, 0, 0 };
	ssize_t n = -1;
	int fd;

	d->text = calloc(1, MG_IPC_MSG_MAX + 1);
	if (d->text == NULL)
		return -ENOMEM;
	if ((fd = mg_ipc_connect(sock, 5000)) < 0)
		return fd;
	if (send(fd, req, sizeof(req), MSG_NOSIGNAL) == (ssize_t)sizeof(req))
		n = recv(fd, d->text, MG_IPC_MSG_MAX, 0);
	close(fd);
	if (n < 4 || d->text[0] || d->text[1] || d->text[2] || d->text[3])
		return -EPROTO;
	memmove(d->text, d->text + 4, (size_t)n - 4);
	d->text[n - 4] = '\0';
	d->agent = true;
	return 0;
}

/* The decision line for syspath: fields in f[0..5], or false. */
static bool
find_decision(const struct decisions *d, const char *syspath, char *line,
    size_t size, char **f)
{
	const char *p = d->text;
	size_t n = strlen(syspath);
	int i;

	while (p != NULL && *p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);

		if (len > n && strncmp(p, syspath, n) == 0 && p[n] == '\t' &&
		    len < size) {
			memcpy(line, p, len);
			line[len] = '\0';
			f[0] = line;
			for (i = 1; i < 6; i++) {
				f[i] = strchr(f[i - 1], '\t');
				if (f[i] == NULL)
					return false;
				*f[i]++ = '\0';
			}
			return true;
		}
		p = nl != NULL ? nl + 1 : NULL;
	}
	return false;
}

static void
print_quoted(const char *s)
{
	struct sbuf b;

	sbuf_init(&b, 4096);
	if (pol_quote(&b, s, strlen(s), 0) == 0)
		fwrite(b.data, 1, b.len, stdout);
	sbuf_clear(&b);
}

struct row {
	const char *syspath;
	const char *path;
	const char *node;
	const struct devinfo *d;
	const char *state;
};

static void
print_row(const struct row *r, const struct decisions *dec, struct jw *w)
{
	static char line[8192];
	char *f[6], kinds[160];
	bool have = find_decision(dec, r->syspath, line, sizeof(line), f);

	devinfo_kind_words(r->d->kinds, kinds, sizeof(kinds));
	if (w != NULL) {
		jw_object(w);
		jw_key(w, "path");
		jw_str(w, r->path);
		jw_key(w, "node");
		jw_str(w, r->node);
		if (r->d->has_id) {
			char id[16];

			snprintf(id, sizeof(id), "%04x:%04x", r->d->vid,
			    r->d->pid);
			jw_key(w, "id");
			jw_str(w, id);
		}
		jw_key(w, "serial");
		jw_str(w, r->d->serial);
		jw_key(w, "name");
		jw_str(w, r->d->product);
		jw_key(w, "kind");
		jw_str(w, kinds);
		jw_key(w, "state");
		jw_str(w, r->state);
		jw_key(w, "verdict");
		jw_str(w, have ? f[1] : "");
		jw_key(w, "rule");
		jw_u64(w, have ? strtoul(f[2], NULL, 10) : 0);
		jw_key(w, "line");
		jw_u64(w, have ? strtoul(f[3], NULL, 10) : 0);
		jw_object_end(w);
		return;
	}
	printf("%-9s %-9s ", r->path, r->node[0] ? r->node : "-");
	if (r->d->has_id)
		printf("%04x:%04x ", r->d->vid, r->d->pid);
	else
		printf("%-9s ", "-");
	printf("%-12s %-22s %-10s ", kinds, r->state, have ? f[1] : "?");
	if (have && strcmp(f[2], "0") == 0)
		printf("default (line %s) ", f[3]);
	else if (have)
		printf("rule %s (line %s) %s ", f[2], f[3], f[5]);
	else
		printf("(no decision recorded) ");
	printf("name ");
	print_quoted(r->d->product);
	printf(" serial ");
	print_quoted(r->d->serial);
	putchar('\n');
}

static void
list_usb(const struct decisions *dec, struct jw *w, struct devinfo *d)
{
	char p[DEVPATH_MAX], real[DEVPATH_MAX];
	const char *why;
	struct dirent *e;
	DIR *dir = opendir(USB_DEVICES);

	while (dir != NULL && (e = readdir(dir)) != NULL) {
		if (e->d_name[0] == '.' || snprintf(p, sizeof(p), "%s/%s",
		    USB_DEVICES, e->d_name) >= (int)sizeof(p) ||
		    devinfo_usb_is_root_hub(p) ||
		    sysfs_realpath(p, real, sizeof(real)) < 0 ||
		    devinfo_usb(real, d, &why) < 0)
			continue;
		print_row(&(struct row){ real, d->path, "", d, d->authorized ?
		    "authorized" : "not authorized" }, dec, w);
	}
	if (dir != NULL)
		closedir(dir);
}

static void
list_disks(const struct decisions *dec, struct jw *w, struct devinfo *d)
{
	char p[DEVPATH_MAX], real[DEVPATH_MAX], ro[8], state[32];
	const char *why;
	struct dirent *e;
	enum devblk kind;
	DIR *dir = opendir(CLASS_BLOCK);

	while (dir != NULL && (e = readdir(dir)) != NULL) {
		if (e->d_name[0] == '.' || snprintf(p, sizeof(p), "%s/%s",
		    CLASS_BLOCK, e->d_name) >= (int)sizeof(p) ||
		    sysfs_realpath(p, real, sizeof(real)) < 0 ||
		    sysfs_read(real, "partition", ro, sizeof(ro), NULL) == 0 ||
		    devinfo_block(real, d, &kind, &why) < 0 ||
		    kind == DEVBLK_FIXED)
			continue;
		if (sysfs_read(real, "ro", ro, sizeof(ro), NULL) < 0)
			snprintf(ro, sizeof(ro), "?");
		snprintf(state, sizeof(state), "%s",
		    strcmp(ro, "1") == 0 ? "read-only" : strcmp(ro, "0") == 0 ?
		    "WRITABLE" : "unknown");
		print_row(&(struct row){ real, e->d_name, d->node, d, state },
		    dec, w);
	}
	if (dir != NULL)
		closedir(dir);
}

static int
device_list(int argc, char **argv)
{
	struct decisions dec = { 0 };
	struct devinfo *d = calloc(1, sizeof(*d));
	const char *sock = SOCKET_PATH;
	bool json = false;
	struct sbuf out;
	struct jw w;
	int i, r;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			sock = argv[++i];
		else {
			free(d);
			return EXIT_USAGE;
		}
	}
	if (d == NULL)
		return EXIT_USAGE;
	r = query_decisions(sock, &dec);
	if (r < 0)
		fprintf(stderr, "agent not reachable at %s (%s): states are "
		    "read from sysfs, rules are not known\n", sock,
		    strerror(-r));
	sbuf_init(&out, 16u << 20);
	jw_init(&w, &out);
	if (json)
		jw_array(&w);
	else
		printf("%-9s %-9s %-9s %-12s %-22s %-10s %s\n", "PATH", "NODE",
		    "ID", "KIND", "STATE", "VERDICT", "DECIDED BY");
	list_usb(&dec, json ? &w : NULL, d);
	list_disks(&dec, json ? &w : NULL, d);
	if (json) {
		jw_array_end(&w);
		if (jw_finish(&w) == 0)
			printf("%.*s\n", (int)out.len, out.data);
	}
	sbuf_clear(&out);
	free(dec.text);
	free(d);
	return 0;
}

/* A device named by bus path (1-1.2), /dev node or /sys path: the device
 * the policy decides on. */
static int
resolve(const char *arg, struct devinfo *d)
{
	char p[DEVPATH_MAX], real[DEVPATH_MAX], name[NAME_MAX + 1];
	const char *why = NULL, *base;
	enum devblk kind;
	int r;

	if (strncmp(arg, "/dev/", 5) == 0) {
		base = arg + 5;
		snprintf(name, sizeof(name), "%s", base);
		if (snprintf(p, sizeof(p), "%s/%s", CLASS_BLOCK, name) >=
		    (int)sizeof(p))
			return -ENAMETOOLONG;
	} else if (strncmp(arg, "/sys/", 5) == 0) {
		snprintf(p, sizeof(p), "%s", arg);
	} else if (snprintf(p, sizeof(p), "%s/%s", USB_DEVICES, arg) >=
	    (int)sizeof(p)) {
		return -ENAMETOOLONG;
	}
	if ((r = sysfs_realpath(p, real, sizeof(real))) < 0)
		return r;
	/* A partition: its disk. */
	if (sysfs_read(real, "partition", name, sizeof(name), NULL) == 0)
		*strrchr(real, '/') = '\0';
	if (strstr(real, "/block/") != NULL) {
		r = devinfo_block(real, d, &kind, &why);
		return r < 0 ? r : kind == DEVBLK_FIXED ? -ENOTSUP : 0;
	}
	r = devinfo_usb(real, d, &why);
	if (r == -EBADMSG)
		fprintf(stderr, "%s: descriptors: %s\n", arg, why);
	return r;
}

/* target id VID:PID [bus B] serial "S" name "N" */
static int
rule_head(struct sbuf *b, const struct devinfo *d, const char *target)
{
	int r = sbuf_puts(b, target);

	if (r == 0 && d->has_id)
		r = sbuf_printf(b, " id %04x:%04x", d->vid, d->pid);
	if (r == 0 && !d->usb)
		r = sbuf_printf(b, " bus %s", pol_bus_word(d->bus));
	if (r == 0 && d->serial[0] != '\0' &&
	    (r = sbuf_puts(b, " serial ")) == 0)
		r = pol_quote(b, d->serial, strlen(d->serial), 0);
	if (r == 0 && d->product[0] != '\0' &&
	    (r = sbuf_puts(b, " name ")) == 0)
		r = pol_quote(b, d->product, strlen(d->product), 0);
	return r;
}

/* with-interface T, or with-interface equals { T... } */
static int
rule_ifaces(struct sbuf *b, const struct devinfo *d)
{
	size_t i;
	int r = 0;

	if (d->n_types == 0)
		return 0;
	r = sbuf_puts(b, d->n_types > 1 ? " with-interface equals {" :
	    " with-interface");
	for (i = 0; r == 0 && i < d->n_types; i++)
		r = sbuf_printf(b, " %02x:%02x:%02x", d->types[i].cls,
		    d->types[i].subcls, d->types[i].proto);
	return r == 0 && d->n_types > 1 ? sbuf_puts(b, " }") : r;
}

struct rule_opts {
	const char *user;
	const char *group;
	const char *target;
	const char *dev;
};

static int
print_rule(const struct devinfo *d, const struct rule_opts *o)
{
	char label[DEVSTR_MAX + 64];
	struct sbuf b;
	int r;

	sbuf_init(&b, 1u << 16);
	r = rule_head(&b, d, o->target);
	if (r == 0)
		r = rule_ifaces(&b, d);
	if (r == 0 && (o->user != NULL || o->group != NULL))
		r = sbuf_printf(&b, " if %s(%s)", o->user != NULL ?
		    "seat-user" : "seat-group", o->user != NULL ? o->user :
		    o->group);
	snprintf(label, sizeof(label), "登録媒体: %s", d->product);
	if (r == 0 && (r = sbuf_puts(&b, " label ")) == 0)
		r = pol_quote(&b, label, strlen(label), 0);
	if (r == 0)
		printf("%.*s\n", (int)b.len, b.data);
	sbuf_clear(&b);
	return r;
}

static bool
name_ok(const char *s)
{
	return s == NULL || (*s != '\0' && strlen(s) < 64 &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") == strlen(s));
}

static int
rule_args(int argc, char **argv, struct rule_opts *o)
{
	int i;

	*o = (struct rule_opts){ .target = "allow" };
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--user") == 0 && i + 1 < argc)
			o->user = argv[++i];
		else if (strcmp(argv[i], "--group") == 0 && i + 1 < argc)
			o->group = argv[++i];
		else if (strcmp(argv[i], "--read-only") == 0)
			o->target = "read-only";
		else if (argv[i][0] != '-' && o->dev == NULL)
			o->dev = argv[i];
		else
			return -EINVAL;
	}
	if (o->dev == NULL || (o->user != NULL && o->group != NULL) ||
	    !name_ok(o->user) || !name_ok(o->group))
		return -EINVAL;
	return 0;
}

static int
device_rule(int argc, char **argv)
{
	struct rule_opts o;
	struct devinfo *d;
	int r;

	if (rule_args(argc, argv, &o) < 0 ||
	    (d = calloc(1, sizeof(*d))) == NULL)
		return EXIT_USAGE;
	r = resolve(o.dev, d);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", o.dev, r == -ENOTSUP ? "not "
		    "removable media" : strerror(-r));
		free(d);
		return EXIT_INVALID;
	}
	if (d->serial[0] == '\0')
		fprintf(stderr, "warning: %s has no serial number: the rule "
		    "matches every device of this model\n", o.dev);
	fprintf(stderr, "# paste into [devices] of the policy, above the "
	    "read-only and block rules:\n");
	r = print_rule(d, &o);
	free(d);
	return r < 0 ? EXIT_INVALID : 0;
}

int
cmd_device(int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "list") == 0)
		return device_list(argc - 1, argv + 1);
	if (argc >= 1 && strcmp(argv[0], "rule") == 0)
		return device_rule(argc - 1, argv + 1);
	return EXIT_USAGE;
}
