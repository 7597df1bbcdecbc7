/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * collector/columns.c against SQLite's own json_extract(): the query
 * columns a PostgreSQL collector stores must be what a SQLite collector's
 * generated columns hold, for every body the agent may send.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "internal.h"

static const char *const bodies[] = {
	"{\"event\":{\"action\":\"device-read-only\",\"outcome\":\"success\"},"
	"\"user\":{\"name\":\"tanaka\"}}",
	/* escapes, Japanese as UTF-8 and as \\u, a surrogate pair */
	"{\"user\":{\"name\":\"\\u7530\\u4e2d \\\"q\\\" \\\\ \\/ \\b\\f\\n\\r"
	"\\t\"},\"event\":{\"action\":\"\xe3\x81\x82\\ud83d\\ude00\"}}",
	/* the same key deeper first, then at the top; white space */
	"{ \"x\" : { \"event\" : { \"action\" : \"inner\" } } ,\n"
	"\t\"event\" : { \"kind\" : [ 1 , { \"action\" : \"no\" } , \"]}\" ] ,"
	" \"action\" : \"outer\" } }",
	/* not strings (a non-integer number is left as written, where SQLite
	 * gives its REAL text: no agent puts one in these fields) */
	"{\"event\":{\"action\":125,\"outcome\":true},\"user\":{\"name\":"
	"false},\"mynaguard\":{\"device\":{\"serial\":null}}}",
	"{\"event\":{\"action\":-7,\"outcome\":{\"a\":[1,2]}},\"user\":[]}",
	/* absent, and paths through non-objects */
	"{\"event\":\"action\",\"user\":{\"names\":\"x\",\"nam\":\"y\"}}",
	"{}",
	"{\"mynaguard\":{\"device\":{\"vendor\":\"A,B}\",\"serial\":"
	"\"4C53\\u0000X\"}}}",
};

static const char *const paths[] = { "event.action", "user.name",
	"event.outcome", "mynaguard.device.serial" };

/* SQLite's answer as text, or NULL. */
static char *
sqlite_says(sqlite3 *db, const char *body, const char *path)
{
	sqlite3_stmt *s = NULL;
	char full[64];
	char *out = NULL;

	snprintf(full, sizeof(full), "$.%s", path);
	assert_int_equal(sqlite3_prepare_v2(db,
			     "SELECT CAST(json_extract(?, ?) AS TEXT)", -1, &s,
			     NULL),
	    SQLITE_OK);
	sqlite3_bind_text(s, 1, body, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, full, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	if (sqlite3_column_type(s, 0) != SQLITE_NULL) {
		out = malloc((size_t)sqlite3_column_bytes(s, 0) + 1);
		assert_non_null(out);
		memcpy(out, sqlite3_column_blob(s, 0),
		    (size_t)sqlite3_column_bytes(s, 0));
		out[sqlite3_column_bytes(s, 0)] = '\0';
	}
	sqlite3_finalize(s);
	return out;
}

static void
test_like_sqlite(void **state)
{
	sqlite3 *db = NULL;
	char *ours, *theirs;
	size_t i, j;

	(void)state;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		for (j = 0; j < 4; j++) {
			theirs = sqlite_says(db, bodies[i], paths[j]);
			assert_int_equal(coll_column(bodies[i],
					     strlen(bodies[i]), paths[j],
					     &ours),
			    0);
			if (theirs == NULL || ours == NULL) {
				if (theirs != ours)
					fail_msg("body %zu %s: sqlite %s, "
						 "ours %s",
					    i, paths[j],
					    theirs ? theirs : "NULL",
					    ours ? ours : "NULL");
			} else if (strcmp(theirs, ours) != 0 &&
			    /* SQLite minifies objects; we keep the text */
			    theirs[0] != '{' && theirs[0] != '[') {
				fail_msg("body %zu %s: sqlite '%s', ours '%s'",
				    i, paths[j], theirs, ours);
			}
			free(theirs);
			free(ours);
		}
	}
	sqlite3_close(db);
}

/* Every truncation of every body: an answer or -EBADMSG, inside the
 * buffer (ASan watches a copy of exactly that length). */
static void
test_truncated(void **state)
{
	char *copy, *v;
	size_t i, n;
	int r;

	(void)state;
	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		for (n = 0; n < strlen(bodies[i]); n++) {
			copy = malloc(n + 1);
			assert_non_null(copy);
			memcpy(copy, bodies[i], n);
			r = coll_column(copy, n, "mynaguard.device.serial", &v);
			assert_true(r == 0 || r == -EBADMSG);
			free(v);
			free(copy);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_like_sqlite),
		cmocka_unit_test(test_truncated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
