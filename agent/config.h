/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_AGENT_CONFIG_H
#define MYNAGUARD_AGENT_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

/* /etc/mynaguard/agent.conf, INI-style (docs/agent.md).  Strings are
 * owned by the struct; agent_config_clear() frees them. */
struct agent_config {
	char *host_name;	/* [Agent] HostName (default: gethostname) */
	uint32_t state_s;	/* [Agent] StateInterval: seconds, 0: at
				 * start only (default 1h), AGENT_STATE_NEVER */
	char *url;		/* [Collector] URL: 1 to AGENT_URLS_MAX URLs,
				 * one space between them (default: the
				 * policy's) */
	char *ca;		/* [Collector] CA */
	char *cert;		/* [Collector] Certificate */
	char *key;		/* [Collector] Key */
	char *spool_dir;	/* [Spool] Directory */
	uint64_t spool_max;	/* [Spool] MaxSize */
	uint64_t spool_reserve;	/* [Spool] Reserve */
	uint64_t segment_size;	/* [Spool] SegmentSize */
	uint32_t commit_ms;	/* [Spool] CommitInterval */
	char *socket;		/* [Intake] Socket */
	char *drop_dir;		/* [Intake] DropDirectory */
	char *policy;		/* [Policy] Path */
	char *notify_lang;	/* [Devices] NotifyLanguage: ja or en */
	uint32_t helper_wait_ms; /* [Devices] HelperTimeout (udev helper) */
	uint64_t uevent_buf;	/* [Devices] UeventBuffer: kernel socket */
	uint32_t backoff_max_s;	/* [Collector] RetryMax */
	uint32_t batch_max;	/* [Collector] BatchRecords */
	char *policy_group;	/* [Policy] Group: NULL, no central policy */
	char *policy_cert;	/* [Policy] SigningCertificate */
	uint32_t fetch_s;	/* [Policy] FetchInterval (seconds) */
	char *policy_state;	/* [Policy] StateDirectory */
};

/* StateInterval=never: no state reports at all, for an agent that only
 * ships a spool copied from a terminal (tests, the demo), whose own host
 * is not the terminal.  A terminal must report. */
#define AGENT_STATE_NEVER UINT32_MAX

#define AGENT_CONFIG_PATH "/etc/mynaguard/agent.conf"

/* [Collector] URL= lists collector instances, tried in turn. */
#define AGENT_URLS_MAX 8u
#define AGENT_URL_MAX 2048u	/* bytes of one URL, as in the policy */

struct agent_urls {
	char *u[AGENT_URLS_MAX];	/* malloc'd */
	size_t n;
};

/* Fill in the built-in defaults.  -ENOMEM. */
int agent_config_defaults(struct agent_config *c);

/*
 * Parse text (len bytes) over the values in c; unknown sections and keys,
 * repeated keys and bad values are errors: -EBADMSG with "LINE: message"
 * in err (size errsz).  Values already in c are replaced, so command-line
 * options applied afterwards win.  -ENOMEM.
 */
int agent_config_parse(struct agent_config *c, const char *text, size_t len,
    char *err, size_t errsz);

/* Replace one string value (for command-line options). */
int agent_config_set(char **field, const char *value);

/*
 * Split a collector list: 1 to AGENT_URLS_MAX https://host[:port][/path]
 * URLs (no user name, no fragment, at most AGENT_URL_MAX bytes each)
 * separated by blanks, none given twice (a trailing / aside).  0 with
 * *ret filled (agent_config_urls_clear() frees it); -EINVAL with the
 * reason in err, naming the URL by its position (and quoting it unless it
 * may hold a password); -ENOMEM.
 */
int agent_config_urls(const char *list, struct agent_urls *ret, char *err,
    size_t errsz);
void agent_config_urls_clear(struct agent_urls *l);

/* Replace *field with the list in value checked as above and written
 * with one space between the URLs (for --collector).  -EINVAL (err
 * says why), -ENOMEM. */
int agent_config_set_urls(char **field, const char *value, char *err,
    size_t errsz);

void agent_config_clear(struct agent_config *c);

#endif
