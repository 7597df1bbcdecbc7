/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Logging for a daemon under systemd (STYLE 5.5): one line per message on
 * stderr, prefixed with the <sd-daemon.h> priority so journald stores it.
 * Each line goes out in one write(2), so worker threads never interleave,
 * and control characters are replaced so a peer cannot forge log lines.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "mynaguard/collector.h"

#define LINE_MAX_LEN 1024

static int max_prio = LOG_DEBUG;

static const char *const prefixes[] = {
	SD_EMERG,
	SD_ALERT,
	SD_CRIT,
	SD_ERR,
	SD_WARNING,
	SD_NOTICE,
	SD_INFO,
	SD_DEBUG,
};

static void
sanitize(char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			s[i] = '?';
	}
}

__attribute__((format(printf, 3, 0))) static void
emit(int prio, int r, const char *fmt, va_list ap)
{
	char line[LINE_MAX_LEN];
	size_t pre, len;
	int n;

	if (prio < 0 || prio > LOG_DEBUG)
		prio = LOG_ERR;
	if (prio > max_prio)
		return;
	pre = strlen(prefixes[prio]);
	memcpy(line, prefixes[prio], pre);
	n = vsnprintf(line + pre, sizeof(line) - pre - 1, fmt, ap);
	if (n < 0)
		return;
	len = pre +
	    ((size_t)n < sizeof(line) - pre - 1 ? (size_t)n :
						  sizeof(line) - pre - 2);
	if (r < 0) {
		n = snprintf(
		    line + len, sizeof(line) - len - 1, ": %s", strerror(-r));
		if (n > 0)
			len += (size_t)n < sizeof(line) - len - 1 ?
			    (size_t)n :
			    sizeof(line) - len - 2;
	}
	sanitize(line + pre, len - pre);
	line[len++] = '\n';
	/* Best effort: there is nowhere else to report a failed log write. */
	if (write(STDERR_FILENO, line, len) < 0)
		return;
}

void
coll_log_set_max(int prio)
{
	max_prio = prio;
}

int
coll_log(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(prio, 0, fmt, ap);
	va_end(ap);
	return 0;
}

int
coll_log_errno(int prio, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(prio, r, fmt, ap);
	va_end(ap);
	return r;
}
