/* SPDX-License-Identifier: BSD-2-Clause */
/* The agent's configuration file: a table of known keys (STYLE.md 5.6),
 * parsed into a fresh struct and applied whole or not at all. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mynaguard/common.h"
#include "mynaguard/policy.h"
#include "config.h"

enum kind { K_STR, K_PATH, K_SIZE, K_MS, K_U32, K_SEC, K_URLS };

#define BLANKS " \t"

static const struct key {
	const char *section;
	const char *name;
	enum kind kind;
	size_t off;
	uint64_t min, max;
} keys[] = {	/* at most 32: walk.seen has a bit for each */
	{ "Agent", "HostName", K_STR, offsetof(struct agent_config,
	    host_name), 1, 255 },
	{ "Agent", "StateInterval", K_SEC, offsetof(struct agent_config,
	    state_s), 0, 7 * 86400 },
	{ "Collector", "URL", K_URLS, offsetof(struct agent_config, url), 0,
	    0 },
	{ "Collector", "CA", K_PATH, offsetof(struct agent_config, ca), 1,
	    1000 },
	{ "Collector", "Certificate", K_PATH, offsetof(struct agent_config,
	    cert), 1, 1000 },
	{ "Collector", "Key", K_PATH, offsetof(struct agent_config, key), 1,
	    1000 },
	{ "Collector", "RetryMax", K_U32, offsetof(struct agent_config,
	    backoff_max_s), 1, 86400 },
	{ "Collector", "BatchRecords", K_U32, offsetof(struct agent_config,
	    batch_max), 1, 10000 },
	{ "Spool", "Directory", K_PATH, offsetof(struct agent_config,
	    spool_dir), 1, 1000 },
	{ "Spool", "MaxSize", K_SIZE, offsetof(struct agent_config,
	    spool_max), 1u << 20, 64ull << 30 },
	{ "Spool", "Reserve", K_SIZE, offsetof(struct agent_config,
	    spool_reserve), 0, 1u << 30 },
	{ "Spool", "SegmentSize", K_SIZE, offsetof(struct agent_config,
	    segment_size), 64u << 10, 64u << 20 },
	{ "Spool", "CommitInterval", K_MS, offsetof(struct agent_config,
	    commit_ms), 0, 1000 },
	{ "Intake", "Socket", K_PATH, offsetof(struct agent_config, socket),
	    1, 107 },
	{ "Intake", "DropDirectory", K_PATH, offsetof(struct agent_config,
	    drop_dir), 1, 1000 },
	{ "Policy", "Path", K_PATH, offsetof(struct agent_config, policy), 1,
	    1000 },
	{ "Policy", "Group", K_STR, offsetof(struct agent_config,
	    policy_group), 1, 64 },
	{ "Policy", "SigningCertificate", K_PATH, offsetof(struct
	    agent_config, policy_cert), 1, 1000 },
	{ "Policy", "FetchInterval", K_SEC, offsetof(struct agent_config,
	    fetch_s), 10, 86400 },
	{ "Policy", "StateDirectory", K_PATH, offsetof(struct agent_config,
	    policy_state), 1, 1000 },
	{ "Devices", "NotifyLanguage", K_STR, offsetof(struct agent_config,
	    notify_lang), 2, 2 },
	{ "Devices", "HelperTimeout", K_MS, offsetof(struct agent_config,
	    helper_wait_ms), 100, 10000 },
	{ "Devices", "UeventBuffer", K_SIZE, offsetof(struct agent_config,
	    uevent_buf), 4u << 10, 128u << 20 },
};

int
agent_config_set(char **field, const char *value)
{
	char *v = strdup(value);

	if (v == NULL)
		return -ENOMEM;
	free(*field);
	*field = v;
	return 0;
}

static char *
dup_n(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d != NULL) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* The URL rules of the policy's [reporting] collector: the same collector
 * may be named in either place. */
static bool
url_ok(const char *s, size_t len)
{
	return pol_url_check(s, len) == len;
}

/* The same collector: equal but for a trailing slash. */
static bool
same_url(const char *x, const char *y)
{
	size_t nx = strlen(x), ny = strlen(y);

	if (nx > 0 && x[nx - 1] == '/')
		nx--;
	if (ny > 0 && y[ny - 1] == '/')
		ny--;
	return nx == ny && memcmp(x, y, nx) == 0;
}

static size_t
count_words(const char *s)
{
	size_t n = 0;

	for (s += strspn(s, BLANKS); *s != '\0'; s += strspn(s, BLANKS)) {
		n++;
		s += strcspn(s, BLANKS);
	}
	return n;
}

/* URL i (of total) of l, just added: well formed and new.  A bad one is
 * quoted unless it has an @, which may be a password's end. */
static int
check_url(const struct agent_urls *l, size_t i, size_t total, char *err,
    size_t errsz)
{
	const char *u = l->u[i];
	size_t len = strlen(u), j;

	if (len > AGENT_URL_MAX) {
		snprintf(err, errsz, "URL %zu of %zu is longer than %u bytes",
		    i + 1, total, AGENT_URL_MAX);
		return -EINVAL;
	}
	if (!url_ok(u, len) && strchr(u, '@') != NULL) {
		snprintf(err, errsz, "URL %zu of %zu is not https://host[:port]"
		    "[/path] (no user name or password)", i + 1, total);
		return -EINVAL;
	}
	if (!url_ok(u, len)) {
		snprintf(err, errsz, "URL %zu of %zu (%s) is not https://host"
		    "[:port][/path] (no fragment)", i + 1, total, u);
		return -EINVAL;
	}
	for (j = 0; j < i; j++)
		if (same_url(l->u[j], u)) {
			snprintf(err, errsz, "URL %zu of %zu (%s) is URL %zu "
			    "again", i + 1, total, u, j + 1);
			return -EINVAL;
		}
	return 0;
}

void
agent_config_urls_clear(struct agent_urls *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->u[i]);
	memset(l, 0, sizeof(*l));
}

int
agent_config_urls(const char *list, struct agent_urls *ret, char *err,
    size_t errsz)
{
	struct agent_urls l = { .n = 0 };
	size_t total = count_words(list), len;
	const char *p = list;
	int r = 0;

	if (errsz > 0)
		err[0] = '\0';
	if (total == 0) {
		snprintf(err, errsz, "no URL");
		return -EINVAL;
	}
	if (total > AGENT_URLS_MAX) {
		snprintf(err, errsz, "%zu URLs, at most %u", total,
		    AGENT_URLS_MAX);
		return -EINVAL;
	}
	while (r == 0 && l.n < total) {
		p += strspn(p, BLANKS);
		len = strcspn(p, BLANKS);
		if ((l.u[l.n] = dup_n(p, len)) == NULL)
			r = -ENOMEM;
		else
			r = check_url(&l, l.n++, total, err, errsz);
		p += len;
	}
	if (r < 0) {
		agent_config_urls_clear(&l);
		return r;
	}
	*ret = l;
	return 0;
}

int
agent_config_set_urls(char **field, const char *value, char *err,
    size_t errsz)
{
	struct agent_urls l;
	size_t i, n = 0, k;
	char *s, *q;
	int r = agent_config_urls(value, &l, err, errsz);

	if (r < 0)
		return r;
	for (i = 0; i < l.n; i++)
		n += strlen(l.u[i]) + 1;
	q = s = malloc(n);
	for (i = 0; s != NULL && i < l.n; i++) {	/* one space between */
		k = strlen(l.u[i]);
		memcpy(q, l.u[i], k);
		q += k;
		*q++ = i + 1 < l.n ? ' ' : '\0';
	}
	agent_config_urls_clear(&l);
	if (s == NULL)
		return -ENOMEM;
	free(*field);
	*field = s;
	return 0;
}

int
agent_config_defaults(struct agent_config *c)
{
	memset(c, 0, sizeof(*c));
	c->spool_max = 64ull << 20;
	c->spool_reserve = 1u << 20;
	c->segment_size = 4u << 20;
	c->commit_ms = 50;
	c->state_s = 3600;
	c->backoff_max_s = 300;
	c->batch_max = 2000;
	c->helper_wait_ms = 3000;
	c->uevent_buf = 8u << 20;
	c->fetch_s = 300;
	if (agent_config_set(&c->ca, "/etc/mynaguard/ca.pem") < 0 ||
	    agent_config_set(&c->cert, "/etc/mynaguard/agent.pem") < 0 ||
	    agent_config_set(&c->key, "/etc/mynaguard/agent.key") < 0 ||
	    agent_config_set(&c->spool_dir, "/var/lib/mynaguard/spool") < 0 ||
	    agent_config_set(&c->socket, "/run/mynaguard/events.sock") < 0 ||
	    agent_config_set(&c->drop_dir, "/var/lib/mynaguard/drop") < 0 ||
	    agent_config_set(&c->policy, "/etc/mynaguard/policy.conf") < 0 ||
	    agent_config_set(&c->notify_lang, "ja") < 0 ||
	    agent_config_set(&c->policy_cert,
	    "/etc/mynaguard/policy-signing.pem") < 0 ||
	    agent_config_set(&c->policy_state,
	    "/var/lib/mynaguard/policy") < 0)
		return -ENOMEM;
	return 0;
}

void
agent_config_clear(struct agent_config *c)
{
	free(c->host_name);
	free(c->url);
	free(c->ca);
	free(c->cert);
	free(c->key);
	free(c->spool_dir);
	free(c->socket);
	free(c->drop_dir);
	free(c->policy);
	free(c->notify_lang);
	free(c->policy_group);
	free(c->policy_cert);
	free(c->policy_state);
	memset(c, 0, sizeof(*c));
}

/* "64MiB", "512KiB", "1GiB", "1048576". */
static int
parse_size(const char *v, uint64_t *ret)
{
	static const struct { const char *u; unsigned shift; } units[] = {
		{ "KiB", 10 }, { "MiB", 20 }, { "GiB", 30 }, { "", 0 },
	};
	char num[24];
	size_t n = strspn(v, "0123456789"), i;
	uint64_t x;

	if (n == 0 || n >= sizeof(num))
		return -EINVAL;
	memcpy(num, v, n);
	num[n] = '\0';
	for (i = 0; i < MG_ELEMENTSOF(units); i++)
		if (strcmp(v + n, units[i].u) == 0)
			break;
	if (i == MG_ELEMENTSOF(units) ||
	    parse_u64(num, 0, UINT64_MAX >> units[i].shift, &x) < 0)
		return -EINVAL;
	*ret = x << units[i].shift;
	return 0;
}

/* "50ms", "1s", or "0". */
static int
parse_ms(const char *v, uint64_t *ret)
{
	char num[24];
	size_t n = strspn(v, "0123456789");
	uint64_t x, mul;

	if (n == 0 || n >= sizeof(num))
		return -EINVAL;
	if (strcmp(v + n, "ms") == 0)
		mul = 1;
	else if (strcmp(v + n, "s") == 0)
		mul = 1000;
	else if (strcmp(v, "0") == 0)
		mul = 0;
	else
		return -EINVAL;
	memcpy(num, v, n);
	num[n] = '\0';
	if (parse_u64(num, 0, UINT32_MAX / 1000, &x) < 0)
		return -EINVAL;
	*ret = x * mul;
	return 0;
}

/* "3600", "90s", "30min", "1h", "0": seconds. */
static int
parse_sec(const char *v, uint64_t *ret)
{
	static const struct { const char *u; uint64_t mul; } units[] = {
		{ "", 1 }, { "s", 1 }, { "min", 60 }, { "h", 3600 },
	};
	char num[24];
	size_t n = strspn(v, "0123456789"), i;
	uint64_t x;

	if (n == 0 || n >= sizeof(num))
		return -EINVAL;
	memcpy(num, v, n);
	num[n] = '\0';
	for (i = 0; i < MG_ELEMENTSOF(units); i++)
		if (strcmp(v + n, units[i].u) == 0)
			break;
	if (i == MG_ELEMENTSOF(units) || parse_u64(num, 0, UINT32_MAX, &x) < 0)
		return -EINVAL;
	*ret = x * units[i].mul;
	return 0;
}

static int
set_value(struct agent_config *c, const struct key *k, const char *v,
    char *why, size_t whysz)
{
	char *base = (char *)c + k->off;
	uint64_t x = 0;
	size_t len = strlen(v);
	int r;

	switch (k->kind) {
	case K_URLS:
		return agent_config_set_urls((char **)(void *)base, v, why,
		    whysz);
	case K_STR:
	case K_PATH:
		if (len < k->min || len > k->max ||
		    (k->kind == K_PATH && v[0] != '/'))
			return -EINVAL;
		return agent_config_set((char **)(void *)base, v);
	case K_SIZE:
		r = parse_size(v, &x);
		break;
	case K_MS:
		r = parse_ms(v, &x);
		break;
	case K_SEC:
		if (strcmp(v, "never") == 0 && k->off ==
		    offsetof(struct agent_config, state_s)) {
			*(uint32_t *)(void *)base = AGENT_STATE_NEVER;
			return 0;
		}
		r = parse_sec(v, &x);
		break;
	default:
		r = parse_u64(v, 0, UINT32_MAX, &x);
		break;
	}
	if (r < 0 || x < k->min || x > k->max)
		return -EINVAL;
	if (k->kind == K_SIZE)
		*(uint64_t *)(void *)base = x;
	else
		*(uint32_t *)(void *)base = (uint32_t)x;
	return 0;
}

struct walk {
	struct agent_config *c;
	uint32_t seen;		/* one bit per key */
	char *err;
	size_t errsz;
};

static int
fail(struct walk *w, const struct ini_item *it, const char *msg,
    const char *what)
{
	snprintf(w->err, w->errsz, "%u: %s: %s", it->line, msg, what);
	return -EBADMSG;
}

static int
on_item(void *arg, const struct ini_item *it)
{
	struct walk *w = arg;
	char why[200];
	size_t i;
	int r;

	for (i = 0; i < MG_ELEMENTSOF(keys); i++)
		if (strcmp(keys[i].section, it->section) == 0 &&
		    (it->key == NULL || strcmp(keys[i].name, it->key) == 0))
			break;
	if (it->key == NULL)
		return i < MG_ELEMENTSOF(keys) ? 0 :
		    fail(w, it, "unknown section", it->section);
	if (it->section[0] == '\0')
		return fail(w, it, "expected a [Section] before", it->key);
	if (i == MG_ELEMENTSOF(keys))
		return fail(w, it, "unknown key", it->key);
	if (w->seen & (1u << i))
		return fail(w, it, "key given twice", it->key);
	w->seen |= 1u << i;
	why[0] = '\0';
	r = set_value(w->c, &keys[i], it->value, why, sizeof(why));
	if (r == -ENOMEM) {
		snprintf(w->err, w->errsz, "%u: out of memory", it->line);
		return r;
	}
	if (r < 0 && why[0] != '\0') {
		snprintf(w->err, w->errsz, "%u: bad value for: %s: %s",
		    it->line, it->key, why);
		return -EBADMSG;
	}
	if (r < 0)
		return fail(w, it, "bad value for", it->key);
	return 0;
}

int
agent_config_parse(struct agent_config *c, const char *text, size_t len,
    char *err, size_t errsz)
{
	struct walk w = { .c = c, .err = err, .errsz = errsz };
	unsigned line;
	int r;

	if (errsz > 0)
		err[0] = '\0';
	r = ini_parse(text, len, on_item, &w, &line);
	if (r == -EBADMSG && line > 0 && strchr(err, ':') == NULL)
		snprintf(err, errsz, "%u: expected [Section] or Key=Value",
		    line);
	else if (r == -EILSEQ)
		snprintf(err, errsz, "0: not UTF-8 text");
	return r == -EILSEQ ? -EBADMSG : r;
}
