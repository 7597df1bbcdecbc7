/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Times on the command line and in answers.  The API speaks RFC 3339 UTC
 * with nanoseconds; a reviewer types either that (any offset) or a plain
 * date, which means midnight where the reviewer is (TZ), since "events of
 * 2026-11-29" means the local day to a town office.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "review.h"

/* n decimal digits at s into *ret, within [min, max]. */
static int
digits(const char *s, size_t n, int min, int max, int *ret)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	if (v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int
parse_date(const char *s, struct tm *tm)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30,
		31 };
	int y, m, d;

	if (s[4] != '-' || s[7] != '-' || digits(s, 4, 1970, 9999, &y) < 0 ||
	    digits(s + 5, 2, 1, 12, &m) < 0 ||
	    digits(s + 8, 2, 1, mdays[m - 1], &d) < 0)
		return -EINVAL;
	if (m == 2 && d == 29 && (y % 4 != 0 || (y % 100 == 0 && y % 400 != 0)))
		return -EINVAL;
	memset(tm, 0, sizeof(*tm));
	tm->tm_year = y - 1900;
	tm->tm_mon = m - 1;
	tm->tm_mday = d;
	return 0;
}

static void
format_utc(time_t t, long nsec, char ret[RV_TIME_LEN])
{
	char date[24] = "", buf[64];
	struct tm tm;

	/* Years are 1970..9999 (parse_date), so this is always 20 bytes. */
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) != 19)
		date[0] = '\0';
	snprintf(buf, sizeof(buf), "%.19s.%09ldZ", date, nsec % 1000000000);
	memcpy(ret, buf, RV_TIME_LEN - 1);
	ret[RV_TIME_LEN - 1] = '\0';
}

/* ".123456789" (1 to 9 digits) at *p into nanoseconds. */
static int
fraction(const char **p, long *ret)
{
	long ns = 0, scale = 100000000;
	const char *s = *p;
	size_t n = 0;

	if (*s != '.')
		return 0;
	for (s++; *s >= '0' && *s <= '9'; s++, n++) {
		if (n == 9)
			return -EINVAL;
		ns += (*s - '0') * scale;
		scale /= 10;
	}
	if (n == 0)
		return -EINVAL;
	*p = s;
	*ret = ns;
	return 0;
}

/* "Z", "+hh:mm" or "-hh:mm" ending the string: seconds east of UTC. */
static int
offset(const char *s, long *ret)
{
	int h, m;

	if ((s[0] == 'Z' || s[0] == 'z') && s[1] == '\0') {
		*ret = 0;
		return 0;
	}
	if ((s[0] != '+' && s[0] != '-') || strlen(s) != 6 || s[3] != ':' ||
	    digits(s + 1, 2, 0, 23, &h) < 0 || digits(s + 4, 2, 0, 59, &m) < 0)
		return -EINVAL;
	*ret = (s[0] == '-' ? -1 : 1) * (h * 3600L + m * 60L);
	return 0;
}

static int
parse_rfc3339(const char *s, char ret[RV_TIME_LEN])
{
	struct tm tm;
	int h, mi, sec;
	long ns = 0, off = 0;
	const char *p = s + 19;
	time_t t;

	if (strlen(s) < 20 || parse_date(s, &tm) < 0 ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' ||
	    s[16] != ':' || digits(s + 11, 2, 0, 23, &h) < 0 ||
	    digits(s + 14, 2, 0, 59, &mi) < 0 ||
	    digits(s + 17, 2, 0, 60, &sec) < 0)
		return -EINVAL;
	if (fraction(&p, &ns) < 0 || offset(p, &off) < 0)
		return -EINVAL;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec == 60 ? 59 : sec; /* a leap second */
	t = timegm(&tm) - off;
	format_utc(t, ns, ret);
	return 0;
}

int
rv_time_parse(const char *s, char ret[RV_TIME_LEN])
{
	struct tm tm;
	time_t t;

	if (s == NULL)
		return -EINVAL;
	if (strlen(s) != 10)
		return parse_rfc3339(s, ret);
	if (parse_date(s, &tm) < 0)
		return -EINVAL;
	tm.tm_isdst = -1; /* let the zone say whether DST applies */
	if ((t = mktime(&tm)) == (time_t)-1)
		return -EINVAL;
	format_utc(t, 0, ret);
	return 0;
}

void
rv_time_local(const char *s, size_t len, char ret[32])
{
	char buf[40], utc[RV_TIME_LEN];
	struct tm tm;
	time_t t;

	if (len < sizeof(buf)) {
		memcpy(buf, s, len);
		buf[len] = '\0';
		if (parse_rfc3339(buf, utc) == 0) {
			memset(&tm, 0, sizeof(tm));
			if (strptime(utc, "%Y-%m-%dT%H:%M:%S", &tm) != NULL &&
			    (t = timegm(&tm)) != (time_t)-1 &&
			    localtime_r(&t, &tm) != NULL &&
			    strftime(ret, 32, "%Y-%m-%d %H:%M:%S", &tm) > 0)
				return;
		}
	}
	snprintf(ret, 32, "%.*s", (int)(len < 31 ? len : 31), s);
}
