#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# bench/review/run.sh [--quick] [-n N] [--full-scan] [--build DIR] [--no-build]
#
# Review API queries (docs/review-api.md) on a collector database of synthetic stored
# events, through the real HTTPS API with a reviewer certificate.  Prints figures and
# asserts nothing (README.md in this directory says what each figure means).
#   default   1,000 terminals x 10,000 events = 10,000,000 events, 50,000 alerts
#   --quick   1,000 terminals x  1,000 events =  1,000,000 events,  5,000 alerts
#   -n N      each query N times (default 20)
#   --full-scan   also `q` with a text in no event and no other filter: a scan of the
#                 whole table (minutes on the full size; the store lock is held meanwhile)
#   --build DIR   build tree (default SRC/build-rb, RelWithDebInfo)
#   --no-build    use the mynaguard-collector already built there
# The database is generated once and cached in $MG_BENCH_REVIEW_CACHE (default
# /var/tmp/mynaguard-bench-review/), keyed by the generator's hash and the sizes; about
# 19 GB for the full size, 1.9 GB for --quick.  Exit status: 0 ran, 1 failed, 77 cannot run.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)

usage() { sed -n '4,18p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
skip() { echo "bench/review: SKIP: $*"; exit 77; }
terminals=1000 per=10000 alerts=50000 n=20 build=$SRC/build-rb dobuild=1 full=()
while [ $# -gt 0 ]; do
	case $1 in
	--quick) per=1000 alerts=5000; shift ;;
	-n) [ $# -ge 2 ] || usage; n=$2; shift 2 ;;
	--full-scan) full=(--full-scan); shift ;;
	--build) [ $# -ge 2 ] || usage; build=$(realpath -m "$2"); shift 2 ;;
	--no-build) dobuild=0; shift ;;
	*) usage ;;
	esac
done
for t in cmake python3 openssl sqlite3 ldd; do
	command -v "$t" >/dev/null || skip "$t is needed"
done

if [ "$dobuild" = 1 ]; then
	echo "== build (RelWithDebInfo) into $build"
	gen=()
	[ -e "$build/CMakeCache.txt" ] || { command -v ninja >/dev/null && gen=(-G Ninja); }
	cmake -S "$SRC" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$build" -j"$(nproc)" --target mynaguard-collector bench_review_gen >/dev/null
fi
COLLECTOR=$build/collector/mynaguard-collector
GEN=$build/bench/review/bench_review_gen
for b in "$COLLECTOR" "$GEN"; do [ -x "$b" ] || { echo "bench/review: no $b"; exit 1; }; done
echo "machine: $(nproc) cores, $(sed -n 's/model name\s*: //p' /proc/cpuinfo | head -1)," \
    "$(free -g | awk '/^Mem:/ {print $2}') GiB RAM; SQLite $(python3 -c \
    'import sqlite3; print(sqlite3.sqlite_version)') (python3), collector: $(ldd "$COLLECTOR" |
    sed -n 's/.*libsqlite3[^ ]* => \([^ ]*\).*/\1/p')"

W=$(mktemp -d /var/tmp/mg-review-bench-XXXXXX)
pid=
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

pki=$W/pki
mk() { "$SRC/tools/mkcerts.sh" "$@" >/dev/null; }
mk ca "$pki"
mk server "$pki" localhost
mk reviewer "$pki" bench-reviewer

start_collector() {	# DB [SILENT_AFTER]
	cat >"$W/collector.conf" <<-CONF
	[Collector]
	Listen = 127.0.0.1
	Certificate = $pki/localhost.pem
	Key = $pki/localhost.key
	CA = $pki/ca.pem
	Database = $1
	[Review]
	SilentAfter = ${2:-3d}
	CONF
	"$COLLECTOR" --config "$W/collector.conf" --port 0 --foreground 2>"$W/collector.log" &
	pid=$!
	port=
	for _ in $(seq 600); do
		port=$(sed -n 's/^<6>listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$W/collector.log")
		[ -n "$port" ] && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$W/collector.log"; echo "bench/review: the collector did not start"; exit 1
}
stop_collector() {
	kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
}

# ---- the database: made by the collector, filled by bench_review_gen (gen.c), cached ----------------------
cache=${MG_BENCH_REVIEW_CACHE:-/var/tmp/mynaguard-bench-review}
mkdir -p "$cache"
key=$(cat "$HERE/gen.c" "$SRC/collector/schema.c" | sha256sum | cut -c1-12)
name=events-$((terminals * per))-$alerts
db=$cache/$name-$key.db
if [ -e "$db" ] && [ -e "$db.json" ]; then
	echo "== database: $db (cached, $(du -sh "$db" | cut -f1))"
else
	for old in "$cache/$name"-*.db; do	# an older generator's: not reused
		[ -e "$old" ] && rm -f -- "$old" "$old.json" "$old-wal" "$old-shm"
	done
	need=$((terminals * per * 2000 / 1024 / 1024 + 1024))	# MiB, with room
	free_mb=$(df -Pm "$cache" | awk 'NR == 2 {print $4}')
	[ "$free_mb" -gt "$need" ] || skip "$cache: $free_mb MiB free, $need MiB needed"
	echo "== database: generating $db"
	tmpdb=$cache/.gen-$$.db
	rm -f "$tmpdb"*
	start_collector "$tmpdb"	# an empty file: the collector makes schema v2
	stop_collector
	echo "schema by mynaguard-collector: user_version $(sqlite3 "$tmpdb" 'PRAGMA user_version')"
	t0=$(date +%s.%N)
	"$GEN" "$tmpdb" "$terminals" "$per" "$alerts"
	t1=$(date +%s.%N)
	mv "$tmpdb.json" "$db.json"
	mv "$tmpdb" "$db"
	awk -v a="$t0" -v b="$t1" -v n=$((terminals * per)) 'BEGIN {
		printf "generated in %.0f s (%.0f events/s)\n", b - a, n / (b - a) }'
	echo "size: $(du -sh "$db" | cut -f1)"
fi

# ---- the queries --------------------------------------------------------------------------
# Silence is counted from the end of the data, not from today: SilentAfter is 3 days
# plus the time since then, so the same terminals are silent whenever this runs.
t_end=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['t_end_s'])" "$db.json")
silent_after=$(( $(date +%s) - t_end + 3 * 86400 ))
echo "== collector on it (SilentAfter = 3 days after the end of the data = ${silent_after}s)"
start_collector "$db" "$silent_after"
python3 "$HERE/query.py" --url "https://localhost:$port" --ca "$pki/ca.pem" \
    --cert "$pki/bench-reviewer.pem" --key "$pki/bench-reviewer.key" \
    --sample "$db.json" --db "$db" -n "$n" "${full[@]}"
stop_collector
