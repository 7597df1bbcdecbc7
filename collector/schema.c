/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The collector's schema, versioned with PRAGMA user_version.  Events keep
 * their exact record bytes so an auditor can re-verify every signature and
 * the whole chain later without trusting this program.  Query columns are
 * generated from the JSON body (ECS names) and indexed (docs/events.md 5.2).
 */
#include <errno.h>
#include <stddef.h>

#include "internal.h"

#define SCHEMA_VERSION 3
#define SCHEMA_OLDEST 1 /* the oldest version this program reads */

static const char schema_v1[] =
    "CREATE TABLE events("
    " id INTEGER PRIMARY KEY,"
    " agent_id TEXT NOT NULL,"
    " seq INTEGER NOT NULL,"
    " boot_id INTEGER,"
    " flags INTEGER,"
    " t_wall_ns INTEGER,"
    " received_ns INTEGER,"
    " hash BLOB NOT NULL,"
    " prev_hash BLOB,"
    " body TEXT NOT NULL,"
    " record BLOB NOT NULL,"
    " verified INTEGER NOT NULL,"
    " action TEXT GENERATED ALWAYS AS"
    "  (json_extract(body, '$.event.action')) VIRTUAL,"
    " user_name TEXT GENERATED ALWAYS AS"
    "  (json_extract(body, '$.user.name')) VIRTUAL,"
    " UNIQUE(agent_id, seq));"
    /* UNIQUE(agent_id, seq) is also the index on agent_id. */
    "CREATE INDEX events_action ON events(action);"
    "CREATE INDEX events_user ON events(user_name);"
    "CREATE INDEX events_t_wall ON events(t_wall_ns);"
    "CREATE INDEX events_received ON events(received_ns);"
    "CREATE TABLE agents("
    " agent_id TEXT PRIMARY KEY,"
    " next_seq INTEGER NOT NULL,"
    " head_hash BLOB NOT NULL,"
    " last_seen INTEGER NOT NULL);"
    /* severity: syslog priority, lower is worse. explained_by: seq of
	 * the loss record that accounts for a gap or chain break. */
    "CREATE TABLE alerts("
    " id INTEGER PRIMARY KEY,"
    " agent_id TEXT NOT NULL,"
    " type TEXT NOT NULL,"
    " severity INTEGER NOT NULL,"
    " seq_from INTEGER,"
    " seq_to INTEGER,"
    " detail TEXT,"
    " created_ns INTEGER NOT NULL,"
    " explained_by INTEGER);"
    "CREATE INDEX alerts_agent ON alerts(agent_id, type, seq_from);"
    "CREATE INDEX alerts_created ON alerts(created_ns);"
    "CREATE TABLE quarantine("
    " id INTEGER PRIMARY KEY,"
    " agent_id_claimed TEXT,"
    " agent_id_cert TEXT NOT NULL,"
    " seq INTEGER,"
    " reason TEXT NOT NULL,"
    " record BLOB NOT NULL,"
    " received_ns INTEGER NOT NULL);"
    "CREATE INDEX quarantine_agent ON quarantine(agent_id_cert, seq);"
    /* The ranges of loss records, so a later record linking to a dropped
	 * one is not a chain break. */
    "CREATE TABLE loss_ranges("
    " agent_id TEXT NOT NULL,"
    " loss_seq INTEGER NOT NULL,"
    " seq_from INTEGER NOT NULL,"
    " seq_to INTEGER NOT NULL,"
    " last_hash BLOB NOT NULL);"
    "CREATE INDEX loss_ranges_hash ON loss_ranges(agent_id, last_hash);"
    "CREATE INDEX loss_ranges_seq ON loss_ranges(agent_id, seq_from);"
    "PRAGMA user_version = 1;";

/*
 * v1 -> v2, for the review API (docs/review-api.md): two more generated
 * columns (VIRTUAL, the only kind ALTER TABLE may add), the indexes its
 * filters use, and the terminal certificates an export needs.
 */
static const char upgrade_v2[] =
    "ALTER TABLE events ADD COLUMN outcome TEXT GENERATED ALWAYS AS"
    "  (json_extract(body, '$.event.outcome')) VIRTUAL;"
    "ALTER TABLE events ADD COLUMN dev_serial TEXT GENERATED ALWAYS AS"
    "  (json_extract(body, '$.mynaguard.device.serial')) VIRTUAL;"
    "CREATE INDEX events_agent_time ON events(agent_id, t_wall_ns);"
    /* A terminal's events newest first, alone or with one action: rowid
     * order within the key, no sort of the terminal's whole history
     * (bench/review: 197 ms on 10M events without them; 5.7 ms on 1M
     * with them). */
    "CREATE INDEX events_agent_id ON events(agent_id, id);"
    "CREATE INDEX events_agent_action ON events(agent_id, action, id);"
    "CREATE INDEX events_serial ON events(dev_serial);"
    "CREATE INDEX events_outcome ON events(outcome);"
    "CREATE INDEX alerts_type ON alerts(type);"
    "CREATE TABLE certificates("
    " agent_id TEXT NOT NULL,"
    " key_id BLOB NOT NULL,"
    " der BLOB NOT NULL,"
    " first_seen INTEGER NOT NULL,"
    " PRIMARY KEY(agent_id, key_id));"
    "PRAGMA user_version = 2;";

/*
 * v2 -> v3, central signed policy (issue 8, docs/policy-bundles.md): the
 * bundles the administrator published, exactly as signed (the collector
 * cannot make one: it stores and serves them), and per terminal the group
 * it fetches and the version its signed events say is in force.  The
 * version in force is filled from the policy events already stored.
 */
static const char upgrade_v3[] =
    "CREATE TABLE policy_bundles("
    " grp TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " bundle BLOB NOT NULL,"
    " sha256 TEXT NOT NULL,"
    " policy_sha256 TEXT NOT NULL,"
    " credentials_sha256 TEXT,"
    " signer TEXT NOT NULL,"
    " created INTEGER NOT NULL,"
    " published_ns INTEGER NOT NULL,"
    " PRIMARY KEY(grp, version));"
    "CREATE TABLE policy_terminals("
    " agent_id TEXT PRIMARY KEY,"
    " grp TEXT,"
    " fetched_ns INTEGER,"
    " fetched_version INTEGER,"
    " version INTEGER,"
    " policy_hash TEXT,"
    " reported_action TEXT,"
    " reported_seq INTEGER,"
    " reported_ns INTEGER);"
    "INSERT INTO policy_terminals(agent_id, version, policy_hash,"
    " reported_action, reported_seq, reported_ns)"
    " SELECT agent_id, json_extract(body, '$.mynaguard.policy.version'),"
    " json_extract(body, '$.mynaguard.policy.hash'), action, max(seq),"
    " t_wall_ns FROM events WHERE action = 'policy-loaded' AND verified"
    " GROUP BY agent_id;"
    "PRAGMA user_version = 3;";

static int
user_version(sqlite3 *db, int *ret)
{
	sqlite3_stmt *s = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		*ret = sqlite3_column_int(s, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	return coll_store_errno(rc);
}

int
coll_schema_check(sqlite3 *db, const char **ret_why)
{
	int v = 0, r;

	if ((r = user_version(db, &v)) < 0)
		return r;
	/* The viewer reads only what v1 has: an old file stays readable. */
	if (v < SCHEMA_OLDEST || v > SCHEMA_VERSION) {
		*ret_why = v == 0 ?
		    "not a mynaguard collector database" :
		    "database schema version is not the one this program knows";
		return -EPROTO;
	}
	return 0;
}

int
coll_schema_apply(sqlite3 *db, const char **ret_why)
{
	int v = 0, r;

	if ((r = user_version(db, &v)) < 0)
		return r;
	if (v == SCHEMA_VERSION)
		return 0;
	if (v > SCHEMA_VERSION) {
		*ret_why = "database was made by a newer mynaguard-collector";
		return -EPROTO;
	}
	/* v == 0: a new file (or a foreign one, which then fails below
	 * because its tables exist).  Every step runs in one transaction,
	 * so a failed upgrade leaves the file as it was. */
	r = coll_store_errno(
	    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL));
	if (r < 0)
		return r;
	if (v < 1)
		r = coll_store_errno(
		    sqlite3_exec(db, schema_v1, NULL, NULL, NULL));
	if (r == 0 && v < 2)
		r = coll_store_errno(
		    sqlite3_exec(db, upgrade_v2, NULL, NULL, NULL));
	if (r == 0 && v < 3)
		r = coll_store_errno(
		    sqlite3_exec(db, upgrade_v3, NULL, NULL, NULL));
	if (r == 0)
		r = coll_store_errno(
		    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL));
	if (r < 0)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}
