/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The collector's schema, versioned with PRAGMA user_version.  Events keep
 * their exact record bytes so an auditor can re-verify every signature and
 * the whole chain later without trusting this program.  Query columns are
 * generated from the JSON body (ECS names) and indexed (docs/events.md 5.2).
 *
 * SQLite's schema grew by versions (PRAGMA user_version); PostgreSQL's is
 * made at the current version in one go (pg_schema), with the same tables,
 * columns and indexes in PostgreSQL's types: BIGINT for INTEGER, BYTEA
 * for BLOB, STORED generated columns, text in the "C" collation so that
 * ORDER BY sorts as SQLite's BINARY does, and json_extract() and instr()
 * as SQL functions so that one query text serves both.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include "internal.h"

#define SCHEMA_VERSION 4
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


/*
 * v3 -> v4, the tamper-evident store (issue 9, docs/checkpoints.md): every
 * stored event is a leaf of an RFC 9162 Merkle log, in the order its
 * transaction committed.  merkle_nodes keeps the hashes of the complete
 * subtrees of levels 8, 16 and 24 (one row per 256, 65,536 and 16.7M
 * leaves), so any subtree hash below level 32 needs at most 256 rows;
 * merkle_state the compact range (frontier) of the whole tree;
 * checkpoints the signed (size, root) pairs.  Events stored before v4 are
 * appended once, at the next start (coll_ledger_catch_up), while
 * merkle_pending has its row; never again after, or an event row inserted
 * behind the collector's back would be laundered into the log.
 */
static const char upgrade_v4[] =
    "CREATE TABLE merkle_leaves("
    " idx INTEGER PRIMARY KEY,"
    " agent_id TEXT NOT NULL,"
    " seq INTEGER NOT NULL,"
    " hash BLOB NOT NULL,"
    " UNIQUE(agent_id, seq));"
    "CREATE TABLE merkle_nodes("
    " level INTEGER NOT NULL,"
    " idx INTEGER NOT NULL,"
    " hash BLOB NOT NULL,"
    " PRIMARY KEY(level, idx));"
    "CREATE TABLE merkle_state("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " size INTEGER NOT NULL,"
    " frontier BLOB NOT NULL);"
    "CREATE TABLE checkpoints("
    " size INTEGER NOT NULL,"
    " root BLOB NOT NULL,"
    " signed_ns INTEGER NOT NULL,"
    " origin TEXT NOT NULL,"
    " text TEXT NOT NULL,"
    " PRIMARY KEY(size, origin));"
    "CREATE TABLE merkle_pending(id INTEGER PRIMARY KEY CHECK (id = 1));"
    "INSERT INTO merkle_pending VALUES(1);"
    "PRAGMA user_version = 4;";

/* PostgreSQL: the whole schema at SCHEMA_VERSION. */
static const char *const pg_schema[] = {
    "CREATE FUNCTION json_extract(doc text, path text) RETURNS text"
    " LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$"
    " SELECT CASE jsonb_typeof(v) WHEN 'boolean' THEN"
    "  CASE WHEN v::boolean THEN '1' ELSE '0' END"
    "  WHEN 'null' THEN NULL ELSE v #>> '{}' END"
    " FROM (SELECT doc::jsonb #> string_to_array(substr(path, 3), '.')"
    "  AS v) AS j $$;"
    ,
    "CREATE FUNCTION instr(haystack text, needle text) RETURNS integer"
    " LANGUAGE sql IMMUTABLE PARALLEL SAFE AS"
    " $$ SELECT strpos(haystack, needle) $$;"
    ,
    "CREATE TABLE events("
    " id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    " agent_id TEXT COLLATE \"C\" NOT NULL,"
    " seq BIGINT NOT NULL,"
    " boot_id BIGINT,"
    " flags BIGINT,"
    " t_wall_ns BIGINT,"
    " received_ns BIGINT,"
    " hash BYTEA NOT NULL,"
    " prev_hash BYTEA,"
    " body TEXT COLLATE \"C\" NOT NULL,"
    " record BYTEA NOT NULL,"
    " verified BIGINT NOT NULL,"
    /* SQLite's generated columns, filled by the collector (columns.c):
     * generated here they would parse the body once each, about 9 us a
     * parse on this machine, more than the rest of an insert. */
    " action TEXT COLLATE \"C\","
    " user_name TEXT COLLATE \"C\","
    " outcome TEXT COLLATE \"C\","
    " dev_serial TEXT COLLATE \"C\","
    " UNIQUE(agent_id, seq));"
    ,
    /* SQLite's generated columns, with one parse of the body per row. */
    "CREATE FUNCTION events_columns() RETURNS trigger LANGUAGE plpgsql AS $$"
    " DECLARE j jsonb := NEW.body::jsonb;"
    " BEGIN"
    "  NEW.action := j #>> '{event,action}';"
    "  NEW.user_name := j #>> '{user,name}';"
    "  NEW.outcome := j #>> '{event,outcome}';"
    "  NEW.dev_serial := j #>> '{mynaguard,device,serial}';"
    "  RETURN NEW;"
    " END $$;"
    "CREATE TRIGGER events_columns BEFORE INSERT OR UPDATE OF body ON events"
    " FOR EACH ROW EXECUTE FUNCTION events_columns();"
    "CREATE INDEX events_action ON events(action);"
    "CREATE INDEX events_user ON events(user_name);"
    "CREATE INDEX events_t_wall ON events(t_wall_ns);"
    "CREATE INDEX events_received ON events(received_ns);"
    "CREATE INDEX events_agent_time ON events(agent_id, t_wall_ns);"
    "CREATE INDEX events_agent_id ON events(agent_id, id);"
    "CREATE INDEX events_agent_action ON events(agent_id, action, id);"
    "CREATE INDEX events_serial ON events(dev_serial);"
    "CREATE INDEX events_outcome ON events(outcome);"
    ,
    "CREATE TABLE agents("
    " agent_id TEXT COLLATE \"C\" PRIMARY KEY,"
    " next_seq BIGINT NOT NULL,"
    " head_hash BYTEA NOT NULL,"
    " last_seen BIGINT NOT NULL);"
    ,
    "CREATE TABLE alerts("
    " id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    " agent_id TEXT COLLATE \"C\" NOT NULL,"
    " type TEXT COLLATE \"C\" NOT NULL,"
    " severity BIGINT NOT NULL,"
    " seq_from BIGINT,"
    " seq_to BIGINT,"
    " detail TEXT COLLATE \"C\","
    " created_ns BIGINT NOT NULL,"
    " explained_by BIGINT);"
    "CREATE INDEX alerts_agent ON alerts(agent_id, type, seq_from);"
    "CREATE INDEX alerts_created ON alerts(created_ns);"
    "CREATE INDEX alerts_type ON alerts(type);"
    ,
    "CREATE TABLE quarantine("
    " id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    " agent_id_claimed TEXT COLLATE \"C\","
    " agent_id_cert TEXT COLLATE \"C\" NOT NULL,"
    " seq BIGINT,"
    " reason TEXT COLLATE \"C\" NOT NULL,"
    " record BYTEA NOT NULL,"
    " received_ns BIGINT NOT NULL);"
    "CREATE INDEX quarantine_agent ON quarantine(agent_id_cert, seq);"
    ,
    "CREATE TABLE loss_ranges("
    " agent_id TEXT COLLATE \"C\" NOT NULL,"
    " loss_seq BIGINT NOT NULL,"
    " seq_from BIGINT NOT NULL,"
    " seq_to BIGINT NOT NULL,"
    " last_hash BYTEA NOT NULL);"
    "CREATE INDEX loss_ranges_hash ON loss_ranges(agent_id, last_hash);"
    "CREATE INDEX loss_ranges_seq ON loss_ranges(agent_id, seq_from);"
    ,
    "CREATE TABLE certificates("
    " agent_id TEXT COLLATE \"C\" NOT NULL,"
    " key_id BYTEA NOT NULL,"
    " der BYTEA NOT NULL,"
    " first_seen BIGINT NOT NULL,"
    " PRIMARY KEY(agent_id, key_id));"
    ,
    "CREATE TABLE policy_bundles("
    " grp TEXT COLLATE \"C\" NOT NULL,"
    " version BIGINT NOT NULL,"
    " bundle BYTEA NOT NULL,"
    " sha256 TEXT COLLATE \"C\" NOT NULL,"
    " policy_sha256 TEXT COLLATE \"C\" NOT NULL,"
    " credentials_sha256 TEXT COLLATE \"C\","
    " signer TEXT COLLATE \"C\" NOT NULL,"
    " created BIGINT NOT NULL,"
    " published_ns BIGINT NOT NULL,"
    " PRIMARY KEY(grp, version));"
    ,
    "CREATE TABLE policy_terminals("
    " agent_id TEXT COLLATE \"C\" PRIMARY KEY,"
    " grp TEXT COLLATE \"C\","
    " fetched_ns BIGINT,"
    " fetched_version BIGINT,"
    " version BIGINT,"
    " policy_hash TEXT COLLATE \"C\","
    " reported_action TEXT COLLATE \"C\","
    " reported_seq BIGINT,"
    " reported_ns BIGINT);"
    ,
    "CREATE TABLE merkle_leaves("
    " idx BIGINT PRIMARY KEY,"
    " agent_id TEXT COLLATE \"C\" NOT NULL,"
    " seq BIGINT NOT NULL,"
    " hash BYTEA NOT NULL,"
    " UNIQUE(agent_id, seq));"
    ,
    "CREATE TABLE merkle_nodes("
    " level BIGINT NOT NULL,"
    " idx BIGINT NOT NULL,"
    " hash BYTEA NOT NULL,"
    " PRIMARY KEY(level, idx));"
    ,
    "CREATE TABLE merkle_state("
    " id BIGINT PRIMARY KEY CHECK (id = 1),"
    " size BIGINT NOT NULL,"
    " frontier BYTEA NOT NULL);"
    ,
    "CREATE TABLE checkpoints("
    " size BIGINT NOT NULL,"
    " root BYTEA NOT NULL,"
    " signed_ns BIGINT NOT NULL,"
    " origin TEXT COLLATE \"C\" NOT NULL,"
    " text TEXT COLLATE \"C\" NOT NULL,"
    " PRIMARY KEY(size, origin));"
    ,
    /* A new database has nothing to catch up with: no row. */
    "CREATE TABLE merkle_pending(id BIGINT PRIMARY KEY CHECK (id = 1));"
    "CREATE TABLE mynaguard_schema(version BIGINT NOT NULL);"
    "INSERT INTO mynaguard_schema VALUES(4);",
    NULL
};

/* One integer of sql, into *ret (0 when NULL or no row). */
static int
one_int(struct coll_store *st, const char *sql, int *ret)
{
	struct coll_stmt *s = NULL;
	int r;

	*ret = 0;
	if ((r = coll_stmt_prepare(st, sql, &s)) == 0 &&
	    (r = coll_stmt_step(s)) == COLL_ROW) {
		*ret = (int)coll_stmt_int64(s, 0);
		r = 0;
	}
	coll_stmt_finalize(s);
	return coll_store_errno(r);
}

/* The version, 0 for an empty database.  PostgreSQL: the table
 * mynaguard_schema, which exists only once the schema is made. */
static int
user_version(struct coll_store *st, int *ret)
{
	int r;

	if (coll_store_backend(st) == COLL_SQLITE)
		return one_int(st, "PRAGMA user_version", ret);
	r = one_int(st, "SELECT to_regclass('mynaguard_schema') IS NOT NULL",
	    ret);
	if (r < 0 || *ret == 0)
		return r;
	return one_int(st, "SELECT max(version) FROM mynaguard_schema", ret);
}

int
coll_schema_check(struct coll_store *st, const char **ret_why)
{
	int v = 0, r;

	if ((r = user_version(st, &v)) < 0)
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

static int
upgrade_sqlite(struct coll_store *st, int v)
{
	int r = 0;

	if (v < 1)
		r = coll_store_exec(st, schema_v1);
	if (r == 0 && v < 2)
		r = coll_store_exec(st, upgrade_v2);
	if (r == 0 && v < 3)
		r = coll_store_exec(st, upgrade_v3);
	if (r == 0 && v < 4)
		r = coll_store_exec(st, upgrade_v4);
	return r;
}

static int
make_pg(struct coll_store *st)
{
	size_t i;
	int r = 0;

	for (i = 0; pg_schema[i] != NULL && r == 0; i++)
		r = coll_store_exec(st, pg_schema[i]);
	return r;
}

int
coll_schema_apply(struct coll_store *st, const char **ret_why)
{
	const bool pg = coll_store_backend(st) == COLL_POSTGRES;
	int v = 0, r;

	/* Several collectors may start at once on one PostgreSQL: the
	 * first makes the schema, the others wait for it and find it. */
	if ((r = coll_store_begin(st)) < 0)
		return r;
	if ((r = coll_store_xlock(st, "mynaguard-schema")) < 0 ||
	    (r = user_version(st, &v)) < 0)
		goto out;
	if (v == SCHEMA_VERSION)
		goto out;
	if (v > SCHEMA_VERSION) {
		*ret_why = "database was made by a newer mynaguard-collector";
		r = -EPROTO;
		goto out;
	}
	if (pg && v != 0) {
		*ret_why = "PostgreSQL database of an older schema version";
		r = -EPROTO;
		goto out;
	}
	/* v == 0: a new database (or a foreign one, which then fails below
	 * because its tables exist).  Every step runs in one transaction,
	 * so a failed upgrade leaves it as it was. */
	r = pg ? make_pg(st) : upgrade_sqlite(st, v);
out:
	if (r == 0)
		r = coll_store_commit(st);
	if (r < 0)
		coll_store_rollback(st);
	return r;
}
