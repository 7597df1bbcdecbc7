#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# A throwaway PostgreSQL cluster for tests (Debian's postgresql package):
# its own data directory, 127.0.0.1 only on a free port, the unix socket
# inside DIR, scram-sha-256 with random passwords, fsync on, and a database
# "mynaguard" owned by the role "mynaguard".
#
#   pgcluster.sh start DIR    create and start a cluster in DIR (created if
#                             missing; must be empty), wait until it takes
#                             connections, print its connection string
#                             (also in DIR/url):
#                             postgresql://mynaguard:PASSWORD@127.0.0.1:PORT/mynaguard
#   pgcluster.sh restart DIR  start it again (after kill), same string
#   pgcluster.sh stop DIR     fast shutdown, then remove DIR
#   pgcluster.sh kill DIR     SIGKILL to the server and its processes (DIR
#                             stays, for restart or stop)
#
# Exit status 77 (skip) when the PostgreSQL server is not installed.  Run as
# root, the server runs as the "postgres" system user (PostgreSQL refuses
# root) and DIR is given to it; run as another user, as that user.
# Environment: PG_BINDIR overrides /usr/lib/postgresql/<newest>/bin.
set -euo pipefail
export LC_ALL=C

usage() {
	echo "usage: pgcluster.sh start|restart|stop|kill DIR" >&2
	exit 2
}
[ $# -eq 2 ] || usage
cmd=$1 dir=$2
case $dir in
/*) ;;
*) dir=$(pwd)/$dir ;;
esac
marker=$dir/.pgcluster # only a DIR with this file is ever removed

die() {
	echo "pgcluster: $*" >&2
	exit 1
}

# The newest installed server, unless PG_BINDIR says which.
find_bindir() {
	local d best=
	if [ -n "${PG_BINDIR:-}" ]; then
		echo "$PG_BINDIR"
		return
	fi
	for d in /usr/lib/postgresql/*/bin; do
		if [ ! -x "$d/initdb" ] || [ ! -x "$d/postgres" ]; then
			continue
		fi
		if [ -z "$best" ] ||
		    [ "$(basename "$(dirname "$d")")" -gt \
		    "$(basename "$(dirname "$best")")" ] 2>/dev/null; then
			best=$d
		fi
	done
	echo "$best"
}
bin=$(find_bindir)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ] || [ ! -x "$bin/pg_ctl" ] ||
    [ ! -x "$bin/psql" ]; then
	echo "SKIP: the PostgreSQL server is not installed (no" \
	    "/usr/lib/postgresql/*/bin/initdb; apt-get install postgresql)" >&2
	exit 77
fi

# as_pg CMD...: run as the cluster's owner, in DIR (initdb and psql warn
# when they cannot read the current directory).
if [ "$(id -u)" -eq 0 ]; then
	if ! id -u postgres >/dev/null 2>&1; then
		echo "SKIP: no 'postgres' system user to run the server as" >&2
		exit 77
	fi
	as_pg() { (cd "$dir" && runuser -u postgres -- "$@"); }
else
	as_pg() { (cd "$dir" && "$@"); }
fi

pg_ctl_() { as_pg "$bin/pg_ctl" -D "$dir/data" "$@"; }

# A port below the ephemeral range (so no outgoing connection holds it)
# that nothing listens on now.  A race with another program taking it
# before the server binds is caught by start_server.
pick_port() {
	local lo=10000 hi port
	hi=$(awk '{ print $1 - 1 }' /proc/sys/net/ipv4/ip_local_port_range \
	    2>/dev/null || echo 32767)
	[ "$hi" -gt $((lo + 1000)) ] || hi=32767
	for _ in $(seq 200); do
		port=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo)))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null &&
		    ! ss -Htln "sport = :$port" 2>/dev/null | grep -q .; then
			echo "$port"
			return 0
		fi
	done
	die "no free port found in $lo..$hi"
}

random_password() {
	od -An -tx1 -N18 /dev/urandom | tr -d ' \n'
}

write_config() { # write_config PORT
	# Everything else stays at its default: fsync, synchronous_commit
	# and full_page_writes on (the tests check durability),
	# max_connections 100.
	cat >>"$dir/data/postgresql.conf" <<EOF

# pgcluster.sh (tests/integration): a throwaway test cluster
listen_addresses = '127.0.0.1'
port = $1
unix_socket_directories = '$dir/sock'
password_encryption = 'scram-sha-256'
fsync = on
synchronous_commit = on
max_connections = 100
logging_collector = off
log_min_messages = warning
log_connections = off
EOF
	cat >"$dir/data/pg_hba.conf" <<EOF
# pgcluster.sh: passwords only, loopback and the private socket only
local all all scram-sha-256
host all all 127.0.0.1/32 scram-sha-256
EOF
}

# Start and wait until it takes connections (pg_ctl -w polls for that).
# 1 when the port was taken meanwhile.
start_server() {
	if pg_ctl_ -l "$dir/server.log" -w -t 120 start >>"$dir/setup.log" 2>&1; then
		return 0
	fi
	if grep -q 'could not bind\|Address already in use' "$dir/server.log" \
	    2>/dev/null; then
		return 1
	fi
	tail -n 20 "$dir/server.log" >&2 2>/dev/null || true
	die "the server in $dir did not start (see $dir/setup.log, $dir/server.log)"
}

# psql as the superuser over the private socket; its password in a
# passfile and the role's in SQL on stdin, never on a command line.
psql_su() {
	as_pg env PGPASSFILE="$dir/pgpass" "$bin/psql" -X -q -v ON_ERROR_STOP=1 \
	    -h "$dir/sock" -p "$(cat "$dir/port")" -U postgres -d postgres
}

do_start() {
	local su_pw pw port tries
	if [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
		die "$dir is not empty"
	fi
	mkdir -p "$dir"
	chmod 0700 "$dir"
	: >"$marker"
	if [ "${#dir}" -gt 90 ]; then
		die "$dir: too long for a unix socket path under it"
	fi
	[ "$(id -u)" -ne 0 ] || chown postgres: "$dir" "$marker"
	as_pg test -w "$dir" ||
		die "$dir: the postgres user cannot write here (is a parent" \
		    "directory closed to it?)"
	as_pg mkdir -m 0700 "$dir/sock"
	su_pw=$(random_password)
	pw=$(random_password)
	# shellcheck disable=SC2016 # $1 of the inner shell
	as_pg sh -c 'umask 077 && cat >"$1"' sh "$dir/su.pw" <<<"$su_pw"
	as_pg "$bin/initdb" -D "$dir/data" -U postgres --locale=C -E UTF8 \
	    --auth=scram-sha-256 --pwfile="$dir/su.pw" >"$dir/setup.log" 2>&1 ||
		{ tail -n 20 "$dir/setup.log" >&2; die "initdb failed"; }
	as_pg rm -f "$dir/su.pw"
	for tries in 1 2 3 4 5; do
		port=$(pick_port)
		write_config "$port"
		echo "$port" >"$dir/port"
		if start_server; then
			break
		fi
		echo "pgcluster: port $port was taken; another" >>"$dir/setup.log"
		[ "$tries" -lt 5 ] || die "could not bind a port in 5 tries"
	done
	# shellcheck disable=SC2016 # $1 of the inner shell
	as_pg sh -c 'umask 077 && cat >"$1"' sh "$dir/pgpass" \
	    <<<"*:*:*:postgres:$su_pw"
	psql_su >>"$dir/setup.log" 2>&1 <<EOF || die "cannot create the role and database (see $dir/setup.log)"
CREATE ROLE mynaguard LOGIN PASSWORD '$pw';
CREATE DATABASE mynaguard OWNER mynaguard;
EOF
	(umask 077 && echo "postgresql://mynaguard:$pw@127.0.0.1:$port/mynaguard" \
	    >"$dir/url")
	check_url
	cat "$dir/url"
}

# The string works: a real connection over TCP with the password.
check_url() {
	local got
	got=$(as_pg "$bin/psql" -X -Atc 'SELECT current_user' \
	    "$(cat "$dir/url")" 2>>"$dir/setup.log") ||
		die "cannot connect with the connection string (see $dir/setup.log)"
	[ "$got" = mynaguard ] || die "connected as '$got', not mynaguard"
}

ours() {
	[ -f "$marker" ] || die "$dir was not made by pgcluster.sh start"
}

# Whether process PID exists and is not a zombie (a killed postmaster may
# wait for a parent that does not reap).
alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	case $st in Z*) return 1 ;; esac
}

# The postmaster's pid, or nothing when it does not run.
server_pid() {
	local pid
	pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null) || return 0
	case $pid in '' | *[!0-9]*) return 0 ;; esac
	if alive "$pid"; then echo "$pid"; fi
}

# After a kill the old postmaster may stay a zombie until its parent (often
# init) reaps it, and the server refuses to start while that pid exists.
# Wait for it; if it never goes, it holds nothing: free its lock by hand.
settle() {
	local pid
	pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null) || return 0
	case $pid in '' | *[!0-9]*) return 0 ;; esac
	for _ in $(seq 300); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	drop_shm
	rm -f -- "$dir/data/postmaster.pid"
}

do_restart() {
	ours
	[ -z "$(server_pid)" ] || die "the server in $dir is running"
	settle
	start_server || die "port $(cat "$dir/port") is taken now"
	check_url
	cat "$dir/url"
}

do_stop() {
	ours
	if [ -n "$(server_pid)" ]; then
		pg_ctl_ -m fast -w -t 60 stop >>"$dir/setup.log" 2>&1 || true
	fi
	# Still there (the stop timed out): no server may outlive its DIR.
	if [ -n "$(server_pid)" ]; then do_kill; fi
	drop_shm
	rm -rf -- "$dir"
}

# A killed postmaster leaves its System V shared memory segment (key and
# id on line 7 of postmaster.pid); a clean stop removes it.
drop_shm() {
	local id
	[ -f "$dir/data/postmaster.pid" ] || return 0
	id=$(sed -n '7{s/^ *[0-9][0-9]* *//;p}' "$dir/data/postmaster.pid")
	case $id in '' | *[!0-9]*) return 0 ;; esac
	ipcrm -m "$id" 2>/dev/null || true
}

do_kill() {
	local pid children c
	ours
	pid=$(server_pid)
	[ -n "$pid" ] || return 0
	# The postmaster first, so it cannot start crash recovery; then its
	# processes, by id.
	children=$(ps -o pid= --ppid "$pid" 2>/dev/null || true)
	kill -KILL "$pid" 2>/dev/null || true
	for c in $children; do kill -KILL "$c" 2>/dev/null || true; done
	for c in "$pid" $children; do
		for _ in $(seq 200); do
			alive "$c" || break
			sleep 0.05
		done
	done
}

case $cmd in
start) do_start ;;
restart) do_restart ;;
stop) do_stop ;;
kill) do_kill ;;
*) usage ;;
esac
