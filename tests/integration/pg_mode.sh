# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=bash
#
# Sourced by the collector's integration scripts so that each runs against
# a SQLite file (the default) or, with MG_TEST_PG=1 in the environment,
# against a throwaway PostgreSQL cluster of its own (pgcluster.sh):
#
#   pg_mode_tools          the database client the script needs (sqlite3
#                          or psql), for its check of the tools
#   pg_mode_start NAME FILE
#                          set db: FILE, or the URL of a new cluster
#                          (exit 77 when PostgreSQL is not installed)
#   pg_mode_stop           stop the cluster (from the script's EXIT trap)
#   dbq SQL                run SQL on db, rows as a|b|c (NULL as ''); the
#                          SQL must read the same in both (no booleans as
#                          values, no hex(): see db_hex)
#   db_version             the schema version the collector wrote
#   db_hex COLUMN          the SQL for a blob as lower-case hex
#   db_blob HEX            the SQL literal of a blob
#   pg_mode_log_clean LOG  0 unless the collector's LOG holds an error
#                          of PostgreSQL (a statement it refused; shown)
#   sqlite_only WHAT       0 in SQLite mode; in PostgreSQL mode 1, after
#                          printing "skip (SQLite only): WHAT"
#
# MG_TEST_PG_KEEP=1 keeps the cluster's directory (its server.log) for a
# look after a failure; stop it with pgcluster.sh stop DIR.

pg_mode=sqlite
[ "${MG_TEST_PG:-0}" != 1 ] || pg_mode=pg
pg_mode_dir=
pg_mode_cluster=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/pgcluster.sh

pg_mode_tools() {
	if [ "$pg_mode" = pg ]; then echo psql; else echo sqlite3; fi
}

pg_mode_start() { # pg_mode_start NAME FILE
	local name=$1 rc=0
	db=$2
	[ "$pg_mode" = pg ] || return 0
	# Not under the script's own directory: the server runs as
	# "postgres", which must reach it.
	pg_mode_dir=$(mktemp -d "${TMPDIR:-/tmp}/$name-pg.XXXXXX")
	db=$("$pg_mode_cluster" start "$pg_mode_dir" 2>"$pg_mode_dir.err") ||
		rc=$?
	if [ "$rc" -ne 0 ]; then
		cat "$pg_mode_dir.err" >&2
		rm -f -- "$pg_mode_dir.err"
		rm -rf -- "$pg_mode_dir"
		pg_mode_dir=
		[ "$rc" -eq 77 ] && exit 77
		echo "FAIL: pgcluster.sh start: exit $rc"
		exit 1
	fi
	rm -f -- "$pg_mode_dir.err"
	echo "PostgreSQL mode: a cluster in $pg_mode_dir"
}

pg_mode_stop() {
	[ -n "$pg_mode_dir" ] || return 0
	if [ "${MG_TEST_PG_KEEP:-0}" = 1 ]; then
		echo "kept: $pg_mode_dir (pgcluster.sh stop it)"
	else
		"$pg_mode_cluster" stop "$pg_mode_dir" \
		    >/dev/null 2>&1 || rm -rf -- "$pg_mode_dir"
	fi
	pg_mode_dir=
}

dbq() { # dbq SQL
	if [ "$pg_mode" = pg ]; then
		psql "$db" -X -Atq -v ON_ERROR_STOP=1 -c "$1"
	else
		sqlite3 -batch -noheader -cmd '.timeout 10000' "$db" "$1"
	fi
}

db_version() {
	if [ "$pg_mode" = pg ]; then
		dbq 'SELECT max(version) FROM mynaguard_schema'
	else
		dbq 'PRAGMA user_version'
	fi
}

db_hex() { # db_hex COLUMN
	if [ "$pg_mode" = pg ]; then
		echo "encode($1, 'hex')"
	else
		echo "lower(hex($1))"
	fi
}

db_blob() { # db_blob HEX
	if [ "$pg_mode" = pg ]; then
		echo "'\\x$1'::bytea"
	else
		echo "x'$1'"
	fi
}

pg_mode_log_clean() { # pg_mode_log_clean LOG
	[ "$pg_mode" = pg ] || return 0
	if grep -q 'ERROR:  ' "$1"; then
		grep 'ERROR:  ' "$1" | sort | uniq -c | head -n 10
		return 1
	fi
}

sqlite_only() { # sqlite_only WHAT
	[ "$pg_mode" = pg ] || return 0
	echo "skip (SQLite only): $*"
	return 1
}
