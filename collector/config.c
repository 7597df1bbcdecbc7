/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * /etc/mynaguard/collector.conf: one [Collector] section of Key=Value lines,
 * parsed through a table (STYLE 5.6, OpenSSH keywords[]).  Unknown keys,
 * duplicates and out-of-range values are errors with a line number; the
 * file is applied whole or not at all.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mynaguard/collector.h"

#define CONFIG_FILE_MAX (64u * 1024u)
#define SECTION "Collector"
#define THREADS_MAX 64u
#define MAX_BODY_MIN (32u * 1024u) /* one record of MG_REC_MAX fits */
#define MAX_BODY_MAX (64u * 1024u * 1024u)
#define TIMEOUT_MAX 3600u
#define REVIEW "Review"
#define POLICY "Policy"
#define CHECKPOINT "Checkpoint"
#define SILENT_AFTER_MAX (3650u * 86400u)

typedef int parse_fn(const char *value, void *field, struct coll_diag *d);

struct keyword {
	const char *section;
	const char *name;
	parse_fn *parse;
	size_t offset;
};

__attribute__((format(printf, 3, 4))) static int
diag(struct coll_diag *d, int r, const char *fmt, ...)
{
	va_list ap;

	if (d != NULL) {
		va_start(ap, fmt);
		vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
		va_end(ap);
	}
	return r;
}

/* malloc, not strdup: the allocation-failure tests see every call. */
static char *
dup_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);

	if (p != NULL)
		memcpy(p, s, n);
	return p;
}

static int
set_string(char **field, const char *value)
{
	char *s = dup_str(value);

	if (s == NULL)
		return -ENOMEM;
	free(*field);
	*field = s;
	return 0;
}

static int
parse_listen(const char *value, void *field, struct coll_diag *d)
{
	unsigned char addr[sizeof(struct in6_addr)];

	if (inet_pton(AF_INET, value, addr) != 1 &&
	    inet_pton(AF_INET6, value, addr) != 1)
		return diag(d, -EBADMSG,
		    "Listen: '%s' is not a numeric IPv4 or IPv6 address",
		    value);
	return set_string(field, value);
}

/* An absolute path (SQLite) or a postgresql:// connection string. */
static int
parse_database(const char *value, void *field, struct coll_diag *d)
{
	char shown[256];

	if (coll_store_is_pg(value))
		return set_string(field, value);
	if (value[0] != '/')
		return diag(d, -EBADMSG,
		    "'%s' is neither an absolute path nor a postgresql:// "
		    "connection string",
		    coll_store_display(value, shown, sizeof(shown)));
	return set_string(field, value);
}

static int
parse_path(const char *value, void *field, struct coll_diag *d)
{
	if (value[0] != '/')
		return diag(d, -EBADMSG, "'%s' is not an absolute path", value);
	return set_string(field, value);
}

static int
parse_port(const char *value, void *field, struct coll_diag *d)
{
	uint32_t v;

	if (parse_u32(value, 0, 65535, &v) < 0)
		return diag(
		    d, -ERANGE, "Port must be 0..65535, not '%s'", value);
	*(uint16_t *)field = (uint16_t)v;
	return 0;
}

static int
parse_threads(const char *value, void *field, struct coll_diag *d)
{
	if (parse_u32(value, 1, THREADS_MAX, field) < 0)
		return diag(d, -ERANGE, "Threads must be 1..%u, not '%s'",
		    THREADS_MAX, value);
	return 0;
}

static int
parse_timeout(const char *value, void *field, struct coll_diag *d)
{
	if (parse_u32(value, 1, TIMEOUT_MAX, field) < 0)
		return diag(d, -ERANGE,
		    "Timeout must be 1..%u seconds, not "
		    "'%s'",
		    TIMEOUT_MAX, value);
	return 0;
}

/* Bytes, or a whole number of KiB/MiB with a K or M suffix. */
static int
parse_size(const char *value, void *field, struct coll_diag *d)
{
	char num[16];
	size_t len = strlen(value);
	uint32_t v, unit = 1;

	if (len > 0 && (value[len - 1] == 'K' || value[len - 1] == 'M')) {
		unit = value[len - 1] == 'K' ? 1024u : 1024u * 1024u;
		len--;
	}
	if (len == 0 || len >= sizeof(num))
		goto bad;
	memcpy(num, value, len);
	num[len] = '\0';
	if (parse_u32(num, 1, MAX_BODY_MAX / unit, &v) < 0 ||
	    v * unit < MAX_BODY_MIN)
		goto bad;
	*(uint32_t *)field = v * unit;
	return 0;
bad:
	return diag(d, -ERANGE,
	    "MaxBody must be %uK..%uM (bytes, or K or M), "
	    "not '%s'",
	    MAX_BODY_MIN / 1024, MAX_BODY_MAX / 1024 / 1024, value);
}

/* A whole number of seconds, or of minutes, hours or days with an m, h or
 * d suffix ("3d"), 1 s..max s.  -ERANGE. */
static int
duration(const char *value, uint32_t max, uint32_t *ret)
{
	static const struct {
		char suffix;
		uint32_t unit;
	} units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 } };
	char num[16];
	size_t i, len = strlen(value);
	uint32_t v, unit = 1;

	for (i = 0; len > 0 && i < MG_ELEMENTSOF(units); i++)
		if (value[len - 1] == units[i].suffix)
			unit = units[i].unit;
	if (len > 0 && (value[len - 1] < '0' || value[len - 1] > '9'))
		len--;
	if (len == 0 || len >= sizeof(num))
		return -ERANGE;
	memcpy(num, value, len);
	num[len] = '\0';
	if (parse_u32(num, 1, max / unit, &v) < 0)
		return -ERANGE;
	*ret = v * unit;
	return 0;
}

static int
parse_duration(const char *value, void *field, struct coll_diag *d)
{
	if (duration(value, SILENT_AFTER_MAX, field) < 0)
		return diag(d, -ERANGE,
		    "SilentAfter must be a duration of 1s..3650d "
		    "(seconds, or m, h or d), not '%s'",
		    value);
	return 0;
}

/* [Checkpoint] Interval: 10 s..1 d. */
static int
parse_interval(const char *value, void *field, struct coll_diag *d)
{
	if (duration(value, 86400, field) < 0 || *(uint32_t *)field < 1)
		return diag(d, -ERANGE,
		    "Interval must be a duration of 1s..1d "
		    "(seconds, or m, h or d), not '%s'",
		    value);
	return 0;
}

static int
parse_pending(const char *value, void *field, struct coll_diag *d)
{
	if (parse_u32(value, 1, 4096, field) < 0)
		return diag(d, -ERANGE, "MaxPending must be 1..4096, not '%s'",
		    value);
	return 0;
}

/* [Checkpoint] Origin: the log's name in its checkpoints, 1..64 of
 * [A-Za-z0-9._-]. */
static int
parse_origin(const char *value, void *field, struct coll_diag *d)
{
	size_t i, n = strlen(value);

	for (i = 0; i < n; i++)
		if (!((value[i] >= 'a' && value[i] <= 'z') ||
			(value[i] >= 'A' && value[i] <= 'Z') ||
			(value[i] >= '0' && value[i] <= '9') ||
			value[i] == '.' || value[i] == '_' || value[i] == '-'))
			break;
	if (n == 0 || n > 64 || i < n)
		return diag(d, -EBADMSG,
		    "Origin must be 1..64 letters, digits, '.', '_' or '-', "
		    "not '%s'",
		    value);
	return set_string(field, value);
}

static const struct keyword keywords[] = {
	{ SECTION, "Listen", parse_listen,
	    offsetof(struct coll_config, listen) },
	{ SECTION, "Port", parse_port, offsetof(struct coll_config, port) },
	{ SECTION, "Certificate", parse_path,
	    offsetof(struct coll_config, certificate) },
	{ SECTION, "Key", parse_path, offsetof(struct coll_config, key) },
	{ SECTION, "CA", parse_path, offsetof(struct coll_config, ca) },
	{ SECTION, "Database", parse_database,
	    offsetof(struct coll_config, database) },
	{ SECTION, "Threads", parse_threads,
	    offsetof(struct coll_config, threads) },
	{ SECTION, "MaxBody", parse_size,
	    offsetof(struct coll_config, max_body) },
	{ SECTION, "Timeout", parse_timeout,
	    offsetof(struct coll_config, timeout) },
	{ SECTION, "MaxPending", parse_pending,
	    offsetof(struct coll_config, max_pending) },
	{ CHECKPOINT, "Interval", parse_interval,
	    offsetof(struct coll_config, checkpoint_interval) },
	{ CHECKPOINT, "Origin", parse_origin,
	    offsetof(struct coll_config, origin) },
	{ REVIEW, "SilentAfter", parse_duration,
	    offsetof(struct coll_config, silent_after) },
	{ POLICY, "SigningCertificate", parse_path,
	    offsetof(struct coll_config, signing_cert) },
};

static const struct keyword *
lookup(const char *name)
{
	size_t i;

	for (i = 0; i < MG_ELEMENTSOF(keywords); i++)
		if (strcmp(keywords[i].name, name) == 0)
			return &keywords[i];
	return NULL;
}

int
coll_config_init(struct coll_config *c)
{
	memset(c, 0, sizeof(*c));
	c->listen = dup_str("0.0.0.0");
	c->database = dup_str(COLL_DATABASE_PATH);
	c->port = 8443;
	c->threads = 4;
	c->max_body = 4u * 1024u * 1024u;
	c->timeout = 30;
	c->silent_after = 3u * 86400u;
	c->max_pending = 64;
	c->checkpoint_interval = 300;
	c->origin = dup_str("mynaguard");
	if (c->listen == NULL || c->database == NULL || c->origin == NULL) {
		coll_config_clear(c);
		return -ENOMEM;
	}
	return 0;
}

void
coll_config_clear(struct coll_config *c)
{
	if (c == NULL)
		return;
	free(c->listen);
	free(c->certificate);
	free(c->key);
	free(c->ca);
	free(c->database);
	free(c->signing_cert);
	free(c->origin);
	memset(c, 0, sizeof(*c));
}

/* A deep copy, so a failed parse can be thrown away whole. */
static int
config_copy(struct coll_config *dst, const struct coll_config *src)
{
	char **d[] = { &dst->listen, &dst->certificate, &dst->key, &dst->ca,
		&dst->database, &dst->signing_cert, &dst->origin };
	char *const s[] = { src->listen, src->certificate, src->key, src->ca,
		src->database, src->signing_cert, src->origin };
	size_t i;

	*dst = *src;
	for (i = 0; i < MG_ELEMENTSOF(d); i++)
		*d[i] = NULL;
	for (i = 0; i < MG_ELEMENTSOF(d); i++) {
		if (s[i] != NULL && (*d[i] = dup_str(s[i])) == NULL) {
			coll_config_clear(dst);
			return -ENOMEM;
		}
	}
	return 0;
}

int
coll_config_set(struct coll_config *c, const char *key, const char *value,
    struct coll_diag *d)
{
	const struct keyword *k = lookup(key);

	if (k == NULL)
		return diag(
		    d, -ENOENT, "unknown key '%s' in [" SECTION "]", key);
	if (value[0] == '\0')
		return diag(d, -EBADMSG, "%s: empty value", key);
	return k->parse(value, (char *)c + k->offset, d);
}

struct walk {
	struct coll_config *c;
	const char *section; /* the current one, from keywords[] */
	uint32_t sections;   /* bit i: names[i] of on_section() seen */
	uint32_t seen;
	struct coll_diag *d;
};

static int
on_section(struct walk *w, const char *name)
{
	static const char *const names[] = { SECTION, REVIEW, POLICY,
		CHECKPOINT };
	size_t i;

	for (i = 0; i < MG_ELEMENTSOF(names); i++) {
		if (strcmp(name, names[i]) != 0)
			continue;
		if (w->sections & (1u << i))
			return diag(w->d, -EBADMSG, "duplicate section [%s]",
			    name);
		w->sections |= 1u << i;
		w->section = names[i];
		return 0;
	}
	return diag(w->d, -EBADMSG,
	    "unknown section [%s] (only [" SECTION "], [" REVIEW "], ["
	    POLICY "] and [" CHECKPOINT "])",
	    name);
}

static int
on_item(void *arg, const struct ini_item *it)
{
	struct walk *w = arg;
	const struct keyword *k;
	int r;

	if (w->d != NULL)
		w->d->line = it->line;
	if (it->key == NULL)
		return on_section(w, it->section);
	if (w->section == NULL)
		return diag(w->d, -EBADMSG, "'%s' outside [" SECTION "]",
		    it->key);
	k = lookup(it->key);
	if (k == NULL || strcmp(k->section, w->section) != 0)
		return diag(w->d, -EBADMSG, "unknown key '%s' in [%s]",
		    it->key, w->section);
	if (w->seen & (1u << (k - keywords)))
		return diag(w->d, -EBADMSG, "duplicate key '%s'", it->key);
	if ((r = coll_config_set(w->c, it->key, it->value, w->d)) < 0)
		return r == -ENOENT ? -EBADMSG : r;
	w->seen |= 1u << (k - keywords);
	return 0;
}

int
coll_config_parse(
    struct coll_config *c, const char *buf, size_t len, struct coll_diag *d)
{
	struct coll_config n;
	struct walk w = { .c = &n, .d = d };
	unsigned line = 0;
	int r;

	if (d != NULL)
		memset(d, 0, sizeof(*d));
	if ((r = config_copy(&n, c)) < 0)
		return r;
	r = ini_parse(buf, len, on_item, &w, &line);
	if (r == -EILSEQ) {
		r = diag(d, -EBADMSG, "not UTF-8 text, or a NUL byte");
		goto out;
	}
	if (r == -EBADMSG && d != NULL && d->msg[0] == '\0') {
		r = diag(d, -EBADMSG, "expected Key=Value");
		d->line = line;
	}
	if (r < 0)
		goto out;
	if (d != NULL)
		d->line = 0;
	coll_config_clear(c);
	*c = n;
	memset(&n, 0, sizeof(n)); /* transferred */
out:
	coll_config_clear(&n);
	return r;
}

int
coll_config_load(struct coll_config *c, const char *path, struct coll_diag *d)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	if (d != NULL)
		memset(d, 0, sizeof(*d));
	r = coll_file_read(path, CONFIG_FILE_MAX, &buf, &len);
	if (r == -EPERM)
		return diag(d, r,
		    "not trusted: needs an absolute path to a "
		    "regular file, no symlink, owned by root, not writable "
		    "by group or other");
	if (r < 0)
		return diag(d, r, "cannot read: %s", strerror(-r));
	r = coll_config_parse(c, buf, len, d);
	free(buf);
	return r;
}

int
coll_config_validate(const struct coll_config *c, struct coll_diag *d)
{
	if (d != NULL)
		memset(d, 0, sizeof(*d));
	if (c->certificate == NULL)
		return diag(d, -EINVAL, "Certificate= is not set");
	if (c->key == NULL)
		return diag(d, -EINVAL, "Key= is not set");
	if (c->ca == NULL)
		return diag(d, -EINVAL, "CA= is not set");
	if (c->database == NULL || c->listen == NULL)
		return diag(d, -EINVAL, "Database= or Listen= is not set");
	return 0;
}
