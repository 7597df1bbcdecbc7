#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Issue 9 scale benchmark: drain a 30-day backlog of 1,000 simulated
# terminals (9,000,000 signed events) into one collector on SQLite, then
# into two collectors sharing one PostgreSQL, and print events/s beside
# the ECDSA P-256 verify rate measured in the same run.  It prints figures
# and asserts nothing; bench/scale/README.md explains it.
#
# usage: bench/scale/run.sh [--quick] [--terminals N] [--days D]
#            [--per-day K] [--only sqlite|pg] [--threads T]
#            [--connections C] [--batch N] [--generate-only]
#   --quick        20 terminals x 1 day x 300 events (a smoke run)
#   --generate-only  make (or find) the backlog and stop
#   --threads T    the collectors' [Collector] Threads= (default 4)
#   --connections, --batch   passed to mg_drain (default: its own)
#
# The backlog is generated once and kept in $MG_SCALE_CACHE (default
# /var/tmp/mynaguard-bench-scale), one directory per set of parameters and
# generator sources; the databases live in a scratch directory that is
# removed at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
src=$(pwd)

terminals=1000 days=30 per_day=300 only='' threads=4 gen_only=0
drain_opts=()
usage() { sed -n '10,16s/^# \{0,1\}//p' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--quick) terminals=20 days=1 per_day=300 ;;
	--terminals) terminals=${2:?}; shift ;;
	--days) days=${2:?}; shift ;;
	--per-day) per_day=${2:?}; shift ;;
	--only) only=${2:?}; shift ;;
	--threads) threads=${2:?}; shift ;;
	--connections | --batch) drain_opts+=("$1" "${2:?}"); shift ;;
	--generate-only) gen_only=1 ;;
	*) usage ;;
	esac
	shift
done
for v in "$terminals" "$days" "$per_day" "$threads"; do
	[[ $v =~ ^[1-9][0-9]{0,5}$ ]] || usage
done
case $only in "" | sqlite | pg) ;; *) usage ;; esac
events=$((terminals * days * per_day))

# Bytes per event, measured on the default mix (bench/scale/README.md):
# 744 in records.bin, about 2.1 KB in SQLite and 2.2 KB in PostgreSQL
# (body, record, hash and nine indexes).  With some room to spare:
BACKLOG_B=800 DB_B=3000

build=$src/build-scale
cache_root=${MG_SCALE_CACHE:-/var/tmp/mynaguard-bench-scale}
tmp='' gen_tmp='' pg_dir='' pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ -n "$pg_dir" ]; then
		bash tests/integration/pgcluster.sh stop "$pg_dir" \
		    >/dev/null 2>&1 || true
	fi
	[ -z "$gen_tmp" ] || rm -rf -- "$gen_tmp"
	[ -z "$tmp" ] || rm -rf -- "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
gib() { awk -v b="$1" 'BEGIN { printf "%.1f GiB", b / 1073741824 }'; }
avail_b() { df -P -B1 "$1" | awk 'NR == 2 { print $4 }'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
# A shared machine: say so when others use the cores we measure.
busy() {
	awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v n="$(nproc)" \
	    'BEGIN { exit !(l > n / 2) }' || return 0
	echo "note: the machine is busy (load $(load) on $(nproc) cores):" \
	    "the figures will be low"
}

echo "== build (Release) into $build"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target mynaguard-collector \
    mg_scale_gen mg_drain >/dev/null
gen=$build/bench/mg_scale_gen
drain=$build/bench/mg_drain
echo "machine: $(nproc) cores, $(sed -n 's/model name\s*: //p' \
    /proc/cpuinfo | head -1), load $(load)"

# ---- the backlog, generated once --------------------------------------

# Generated again whenever the generator, the record format or the
# certificates change.
inputs_hash() {
	cat bench/scale/gen.c event/body.c event/record.c event/sign.c \
	    event/include/mynaguard/event.h tools/mkcerts.sh |
	    sha256sum | cut -c1-12
}
cache=$cache_root/${terminals}t-${days}d-${per_day}k-$(inputs_hash)

# The disk the run needs beyond what is already there.
check_space() {
	local need=$((events * DB_B)) what="the databases"
	if [ ! -d "$cache" ]; then
		need=$((need + events * BACKLOG_B))
		what="the backlog and the databases"
	fi
	mkdir -p "$cache_root"
	if [ "$(avail_b "$cache_root")" -lt $((need + (1 << 30))) ]; then
		echo "not enough disk: $what need about $(gib "$need")" \
		    "(+1 GiB spare) on $cache_root; $(gib "$(avail_b \
		    "$cache_root")") free.  Free some (old backlogs:" \
		    "ls $cache_root) or set MG_SCALE_CACHE." >&2
		exit 1
	fi
	echo "disk: needs about $(gib "$need") for $what;" \
	    "$(gib "$(avail_b "$cache_root")") free on $cache_root"
}

# gen_one ID: one terminal: certificate and records (run by xargs).
gen_one() {
	local t=$gen_tmp/terminals/$1
	mkdir -p "$t"
	bash "$src/tools/mkcerts.sh" terminal "$gen_tmp/pki" "$1" >/dev/null
	mv "$gen_tmp/pki/$1.key" "$t/key.pem"
	mv "$gen_tmp/pki/$1.pem" "$t/cert.pem"
	"$gen" --key "$t/key.pem" --cert "$t/cert.pem" --start "$start" \
	    --days "$days" --per-day "$per_day" >"$t/records.bin"
	echo "$1"
}

generate() {
	local t0 t1 width=$((${#terminals} > 4 ? ${#terminals} : 4))
	gen_tmp=$cache.tmp-$$
	rm -rf -- "$cache".tmp-*	# left by an interrupted run
	mkdir -p "$gen_tmp/pki" "$gen_tmp/terminals"
	echo "generating $terminals terminals x $days days x $per_day" \
	    "events into $cache (once; later runs reuse it)"
	t0=$(now)
	bash tools/mkcerts.sh ca "$gen_tmp/pki" >/dev/null
	bash tools/mkcerts.sh server "$gen_tmp/pki" localhost >/dev/null
	# The last D whole days before today (UTC).
	start=$(($(date +%s) / 86400 * 86400 - days * 86400))
	export -f gen_one
	export src gen gen_tmp start days per_day
	# shellcheck disable=SC2016 # $1 is gen_one's, in the child
	seq -f "bench-t%0${width}g" 1 "$terminals" |
	    xargs -P "$(nproc)" -I{} bash -c 'gen_one "$1"' _ {} |
	    awk -v n="$terminals" 'NR % 100 == 0 || NR == n {
		printf "  %d/%d terminals\n", NR, n; fflush() }'
	t1=$(now)
	local bytes
	bytes=$(du -sb "$gen_tmp/terminals" | cut -f1)
	awk -v e="$events" -v s="$(secs "$t0" "$t1")" -v b="$bytes" \
	    -v p="$(nproc)" 'BEGIN { printf "generated %d events (%.2f GB, " \
	    "%.0f B/event) in %.1f s on %d cores = %.3f s per 1k events\n",
	    e, b / 1e9, b / e, s, p, s * 1000 / e }' | tee "$gen_tmp/made"
	mv -- "$gen_tmp" "$cache"
	gen_tmp=
}

echo
echo "== backlog"
check_space
exec 9>"$cache_root/.lock"
flock 9
if [ -d "$cache" ]; then
	echo "reusing the backlog in $cache"
	sed 's/^/  (when made: /; s/$/)/' "$cache/made"
else
	generate
fi
flock -u 9
[ "$gen_only" = 0 ] || exit 0
mapfile -t dirs < <(find "$cache/terminals" -mindepth 1 -maxdepth 1 \
    -type d | sort)
[ "${#dirs[@]}" = "$terminals" ] ||
	{ echo "$cache: ${#dirs[@]} terminals, not $terminals" >&2; exit 1; }
pki=$cache/pki

# ---- the verification bound --------------------------------------------

echo
echo "== signature-verification bound (openssl speed -seconds 5 ecdsap256)"
busy
read -r _ _ _ _ _ _ _ verify1 < <(openssl speed -seconds 5 ecdsap256 \
    2>/dev/null | grep 'ecdsa (nistp256)' | tr -s ' ')
read -r _ _ _ _ _ _ _ verify2 < <(openssl speed -multi "$(nproc)" \
    -seconds 5 ecdsap256 2>/dev/null | grep 'ecdsa (nistp256)' | tr -s ' ')
echo "verify: ${verify1}/s on one core, ${verify2}/s on $(nproc) cores"

# ---- the drains --------------------------------------------------------

# Beside the backlog, so that check_space counted the right disk; open
# to the postgres user, who owns the cluster's files.
tmp=$(mktemp -d "$cache_root/run.XXXXXX")
chmod 0755 "$tmp"
cat >"$tmp/collector.conf" <<CONF
[Collector]
Threads = $threads
CONF

# start_collector NAME DATABASE: on a free port; sets $port.
start_collector() {
	local log=$tmp/$1.log
	"$build/collector/mynaguard-collector" --config "$tmp/collector.conf" \
	    --listen 127.0.0.1 --port 0 --database "$2" \
	    --certificate "$pki/localhost.pem" --key "$pki/localhost.key" \
	    --ca "$pki/ca.pem" >"$log" 2>&1 &
	pids+=($!)
	for _ in $(seq 300); do
		port=$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$log")
		[ -n "$port" ] && return 0
		kill -0 "$!" 2>/dev/null || break
		sleep 0.1
	done
	echo "collector $1 did not start:" >&2
	cat "$log" >&2
	exit 1
}

stop_collectors() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
}

# drain NAME URL...: prints mg_drain's output; sets $sent, $seconds, $rate
# from "drained E events from T terminals in S s = R events/s (...)".
summary_re='s/^drained \([0-9]*\) events from .* in \([0-9.]*\) s = \([0-9.]*\) events.*/\1 \2 \3/p'
drain() {
	local name=$1 u args=()
	shift
	for u; do args+=(--url "$u"); done
	busy
	if ! "$drain" "${args[@]}" --ca "$pki/ca.pem" "${drain_opts[@]}" \
	    "${dirs[@]}" 2>"$tmp/$name.err" | tee "$tmp/$name.out"; then
		echo "mg_drain: not every terminal was acknowledged to its" \
		    "last record; the figures below are for what was"
	fi
	# Retries are counted in the summary; their detail only in short.
	if [ -s "$tmp/$name.err" ]; then
		echo "mg_drain said $(wc -l <"$tmp/$name.err") lines on" \
		    "stderr; the first 3:"
		head -n 3 "$tmp/$name.err" | cut -c1-160 | sed 's/^/  /'
	fi
	sent=0 seconds=0 rate=0
	read -r sent seconds rate < <(sed -n "$summary_re" "$tmp/$name.out") ||
	    true
}

# report NAME COLLECTORS STORED: figures of one drain, and a table row.
rows=()
report() {
	local row
	row=$(awk -v n="$1" -v c="$2" -v e="$sent" -v s="$seconds" \
	    -v r="$rate" -v v1="$verify1" -v v2="$verify2" 'BEGIN {
		printf "%-10s %10d %10d %9.1f %9.0f %7.2f %8.2f %9.1f %8s",
		    n, c, e, s, r, r / v1, r / v2,
		    (r > 0 ? 9e6 / r / 60 : 0),
		    (r >= 15000 ? "met" : "not met") }')
	rows+=("$row")
	awk -v s="$seconds" -v r="$rate" -v v1="$verify1" -v v2="$verify2" \
	    -v p="$(nproc)" 'BEGIN {
		printf "%.1f min, %.0f events/s = %.2f of the verify rate " \
		    "of one core, %.2f of %d cores\n", s / 60, r, r / v1,
		    r / v2, p }'
	if [ "$3" = "$events" ] && [ "$sent" = "$events" ]; then
		echo "stored: $3 events, all that were generated and sent"
	else
		echo "stored: $3 events; generated $events, sent $sent:" \
		    "DIFFERENT"
	fi
}

# db_size BYTES EMPTY: the database's size, and per stored event.
db_size() {
	awk -v b="$1" -v e="$2" -v n="$sent" 'BEGIN {
		printf "database: %.2f GB, %.0f B per event\n", b / 1e9,
		    (n > 0 ? (b - e) / n : 0) }'
}

run_sqlite() {
	local db=$tmp/sqlite/collector.db stored
	echo
	echo "== SQLite: one collector (Threads=$threads)"
	mkdir "$tmp/sqlite"
	start_collector sqlite "$db"
	drain sqlite "https://localhost:$port/v1/events"
	stop_collectors
	stored=$(sqlite3 "$db" 'SELECT count(*) FROM events')
	report sqlite 1 "$stored"
	sqlite3 "$db" 'SELECT count(*) FROM quarantine' |
	    sed 's/^/quarantined: /'
	sqlite3 -separator ' ' "$db" 'SELECT type, count(*) FROM alerts
	    GROUP BY type' | paste -sd, - | sed 's/^/alerts: /; s/,/, /g'
	db_size "$(du -sb "$tmp/sqlite" | cut -f1)" 0
	rm -rf -- "$tmp/sqlite"
}

pg_size_sql='SELECT pg_database_size(current_database())'
run_pg() {
	local url stored base rc=0
	echo
	echo "== PostgreSQL: two collectors on one database (Threads=$threads each)"
	pg_dir=$tmp/pg
	url=$(bash tests/integration/pgcluster.sh start "$pg_dir") || rc=$?
	if [ "$rc" = 77 ]; then
		echo "skipped: no PostgreSQL server here"
		rows+=("$(printf '%-10s %10s  skipped (no PostgreSQL)' \
		    postgresql 2)")
		pg_dir=
		return 0
	fi
	[ "$rc" = 0 ] || exit 1
	url=$(tail -n 1 <<<"$url")
	start_collector pg1 "$url"
	local p1=$port
	start_collector pg2 "$url"
	base=$(psql -X "$url" -Atc "$pg_size_sql")
	drain pg "https://localhost:$p1/v1/events" \
	    "https://localhost:$port/v1/events"
	stop_collectors
	stored=$(psql -X "$url" -Atc 'SELECT count(*) FROM events')
	report postgresql 2 "$stored"
	psql -X "$url" -Atc 'SELECT count(*) FROM quarantine' |
	    sed 's/^/quarantined: /'
	psql -X "$url" -AtF ' ' -c 'SELECT type, count(*) FROM alerts
	    GROUP BY type ORDER BY type' | paste -sd, - |
	    sed 's/^/alerts: /; s/,/, /g'
	db_size "$(psql -X "$url" -Atc "$pg_size_sql")" "$base"
	bash tests/integration/pgcluster.sh stop "$pg_dir" >/dev/null
	pg_dir=
}

[ "$only" = pg ] || run_sqlite
[ "$only" = sqlite ] || run_pg

echo
echo "== summary: $events events ($terminals terminals x $days days x" \
    "$per_day), verify bound ${verify1}/s (1 core), ${verify2}/s" \
    "($(nproc) cores)"
printf '%-10s %10s %10s %9s %9s %7s %8s %9s %8s\n' backend collectors \
    events seconds events/s "/1core" "/$(nproc)cores" "9M(min)" "<=10min"
printf '%s\n' "${rows[@]}"
echo "(/1core, /$(nproc)cores: events/s over the verify bound.  9M(min): the" \
    "time 9,000,000 events take at this rate.  The goal, for PostgreSQL:" \
    "9M drained in <= 10 min, i.e. >= 15,000 events/s; information, not" \
    "a test.)"
