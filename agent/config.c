/* SPDX-License-Identifier: BSD-2-Clause */
/* The agent's configuration file: a table of known keys (STYLE.md 5.6),
 * parsed into a fresh struct and applied whole or not at all. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mynaguard/common.h"
#include "config.h"

enum kind { K_STR, K_PATH, K_SIZE, K_MS, K_U32 };

static const struct key {
	const char *section;
	const char *name;
	enum kind kind;
	size_t off;
	uint64_t min, max;
} keys[] = {
	{ "Agent", "HostName", K_STR, offsetof(struct agent_config,
	    host_name), 1, 255 },
	{ "Collector", "URL", K_STR, offsetof(struct agent_config, url), 9,
	    2048 },
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

int
agent_config_defaults(struct agent_config *c)
{
	memset(c, 0, sizeof(*c));
	c->spool_max = 64ull << 20;
	c->spool_reserve = 1u << 20;
	c->segment_size = 4u << 20;
	c->commit_ms = 50;
	c->backoff_max_s = 300;
	c->batch_max = 2000;
	if (agent_config_set(&c->ca, "/etc/mynaguard/ca.pem") < 0 ||
	    agent_config_set(&c->cert, "/etc/mynaguard/agent.pem") < 0 ||
	    agent_config_set(&c->key, "/etc/mynaguard/agent.key") < 0 ||
	    agent_config_set(&c->spool_dir, "/var/lib/mynaguard/spool") < 0 ||
	    agent_config_set(&c->socket, "/run/mynaguard/events.sock") < 0 ||
	    agent_config_set(&c->drop_dir, "/var/lib/mynaguard/drop") < 0 ||
	    agent_config_set(&c->policy, "/etc/mynaguard/policy.conf") < 0)
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

static int
set_value(struct agent_config *c, const struct key *k, const char *v)
{
	char *base = (char *)c + k->off;
	uint64_t x = 0;
	size_t len = strlen(v);
	int r;

	switch (k->kind) {
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

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int
line_error(char *err, size_t errsz, unsigned line, const char *msg,
    const char *what)
{
	snprintf(err, errsz, "%u: %s%s%s", line, msg, what ? ": " : "",
	    what ? what : "");
	return -EBADMSG;
}

static int
parse_line(struct agent_config *c, char *s, char *section, uint32_t *seen,
    unsigned line, char *err, size_t errsz)
{
	char *eq, *name, *v;
	size_t i;

	if (*s == '[') {
		eq = strchr(s, ']');
		if (eq == NULL || eq[1] != '\0' || eq - s - 1 >= 32)
			return line_error(err, errsz, line, "bad section", s);
		memcpy(section, s + 1, (size_t)(eq - s - 1));
		section[eq - s - 1] = '\0';
		for (i = 0; i < MG_ELEMENTSOF(keys); i++)
			if (strcmp(keys[i].section, section) == 0)
				return 0;
		return line_error(err, errsz, line, "unknown section", section);
	}
	eq = strchr(s, '=');
	if (eq == NULL || section[0] == '\0')
		return line_error(err, errsz, line, "expected Key=Value in a "
		    "[Section]", NULL);
	*eq = '\0';
	name = trim(s);
	v = trim(eq + 1);
	for (i = 0; i < MG_ELEMENTSOF(keys); i++)
		if (strcmp(keys[i].section, section) == 0 &&
		    strcmp(keys[i].name, name) == 0)
			break;
	if (i == MG_ELEMENTSOF(keys))
		return line_error(err, errsz, line, "unknown key", name);
	if (*seen & (1u << i))
		return line_error(err, errsz, line, "key given twice", name);
	*seen |= 1u << i;
	if (set_value(c, &keys[i], v) < 0)
		return line_error(err, errsz, line, "bad value for", name);
	return 0;
}

int
agent_config_parse(struct agent_config *c, const char *text, size_t len,
    char *err, size_t errsz)
{
	char section[32] = "", *copy, *p, *nl, *s;
	uint32_t seen = 0;
	unsigned line = 0;
	int r = 0;

	if (memchr(text, '\0', len) != NULL)
		return line_error(err, errsz, 0, "NUL byte in file", NULL);
	copy = strndup(text, len);
	if (copy == NULL)
		return -ENOMEM;
	for (p = copy; p != NULL && r == 0; p = nl) {
		nl = strchr(p, '\n');
		if (nl != NULL)
			*nl++ = '\0';
		line++;
		s = trim(p);
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		r = parse_line(c, s, section, &seen, line, err, errsz);
	}
	free(copy);
	return r;
}
