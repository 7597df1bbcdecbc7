/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Reading the files the collector trusts: its configuration, certificate,
 * key and CA (STYLE 5.6, pam-u2f open_safely).  Like file_read_all() with
 * FILE_TRUSTED, except that the owner may also be the collector's own user:
 * it runs as a DynamicUser in production and as whoever runs the tests.
 */
#include "mynaguard/collector.h"

int
coll_file_read(const char *path, size_t max, char **ret, size_t *ret_len)
{
	return file_read_all(path, max, FILE_TRUSTED | FILE_OWNER_SELF |
	    FILE_SECRET, ret, ret_len);
}
