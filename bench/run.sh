#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Benchmarks of the event pipeline; they print figures and assert nothing.
#   1. collector ingest (mutual TLS + verify + SQLite commit), events/s,
#      beside `openssl speed ecdsap256` verify rates measured in this run;
#   2. agent sign + spool, events/s, in process and through the socket;
#   3. drain time of a backlog of DRAIN events (default 1,000,000).
#
# usage: bench/run.sh [--quick]   (--quick: 100k backlog, fewer records)
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
quick=0
[ "${1:-}" = "--quick" ] && quick=1
ingest_per_agent=$((quick ? 10000 : 50000))
drain_n=$((quick ? 100000 : 1000000))
build=$src/build-bench
tmp=$(mktemp -d /var/tmp/mg-bench-XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

echo "== build (Release) into $build"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
echo "machine: $(nproc) cores, $(sed -n 's/model name\s*: //p' /proc/cpuinfo | head -1)"

pki=$tmp/pki
bash tools/mkcerts.sh ca "$pki" >/dev/null
bash tools/mkcerts.sh server "$pki" localhost >/dev/null
: >"$tmp/empty.conf"

start_collector() {	# PORT
	"$build/collector/mynaguard-collector" --config "$tmp/empty.conf" \
	    --listen 127.0.0.1 --port "$1" --database "$tmp/collector.db" \
	    --certificate "$pki/localhost.pem" --key "$pki/localhost.key" \
	    --ca "$pki/ca.pem" >"$tmp/collector.log" 2>&1 &
	pids+=($!)
	coll_pid=$!
	for _ in $(seq 100); do
		grep -q "listening on" "$tmp/collector.log" && return 0
		sleep 0.1
	done
	cat "$tmp/collector.log"; exit 1
}

echo
echo "== 1. collector ingest"
read -r _ _ _ _ _ _ sign1 verify1 < <(openssl speed -seconds 5 ecdsap256 2>/dev/null |
    grep 'ecdsa (nistp256)' | tr -s ' ')
read -r _ _ _ _ _ _ sign2 verify2 < <(openssl speed -multi "$(nproc)" -seconds 5 \
    ecdsap256 2>/dev/null | grep 'ecdsa (nistp256)' | tr -s ' ')
echo "openssl speed ecdsap256: verify ${verify1}/s on one core, ${verify2}/s on $(nproc) cores"
agents=()
for i in 1 2 3 4; do
	id=bench-pc0$i
	bash tools/mkcerts.sh terminal "$pki" "$id" >/dev/null
	mkdir -p "$tmp/$id"
	cp "$pki/$id.key" "$tmp/$id/key.pem"
	cp "$pki/$id.pem" "$tmp/$id/cert.pem"
	"$build/tests/mkrecord" --key "$tmp/$id/key.pem" --cert "$tmp/$id/cert.pem" \
	    --count "$ingest_per_agent" \
	    --body '{"event":{"action":"test","kind":"event"},"message":"benchmark"}' \
	    >"$tmp/$id/records.bin"
	agents+=("$tmp/$id")
done
start_collector 18443
out=$("$build/bench/bench_ingest" https://localhost:18443/v1/events \
    "$pki/ca.pem" 1000 "${agents[@]}")
echo "$out"
rate=$(echo "$out" | sed -n 's/.*= \([0-9]*\) events\/s.*/\1/p')
awk -v r="$rate" -v v1="$verify1" -v v2="$verify2" 'BEGIN {
	printf "ratio to openssl verify: %.2f of one core, %.2f of all cores (target >= 0.70)\n", r / v1, r / v2 }'
kill "$coll_pid"; wait "$coll_pid" 2>/dev/null || true

echo
echo "== 2. agent sign + spool"
bash tools/mkcerts.sh terminal "$pki" zeimu-pc01 >/dev/null
"$build/bench/bench_spool" "$pki/zeimu-pc01.key" "$pki/zeimu-pc01.pem" \
    "$tmp/spool-bench" 100000 1000
cat >"$tmp/agent.conf" <<CONF
[Spool]
MaxSize=2GiB
[Collector]
RetryMax=1
CONF
start_agent() {
	"$build/agent/mynaguard-agent" --config "$tmp/agent.conf" \
	    --spool "$tmp/spool" --socket "$tmp/events.sock" --drop-dir "$tmp/drop" \
	    --collector https://localhost:18444/ --ca "$pki/ca.pem" \
	    --cert "$pki/zeimu-pc01.pem" --key "$pki/zeimu-pc01.key" \
	    --policy "$src/policy/mynumber-terminal.conf" >"$tmp/agent.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do [ -S "$tmp/events.sock" ] && return 0; sleep 0.1; done
	cat "$tmp/agent.log"; exit 1
}
start_agent
t0=$(date +%s.%N)
"$build/tests/burst" "$tmp/events.sock" "$drain_n" /dev/null 2>/dev/null
t1=$(date +%s.%N)
awk -v n="$drain_n" -v a="$t0" -v b="$t1" 'BEGIN {
	printf "agent intake through the socket (sign + spool + group commit): %d events in %.1f s = %.0f events/s\n", n, b - a, n / (b - a) }'

echo
echo "== 3. drain of a ${drain_n}-event backlog"
st() { "$build/cli/mynaguard" status --json --socket "$tmp/events.sock"; }
head=$(st | sed -n 's/.*"head_seq":\([0-9]*\).*/\1/p')
echo "backlog: $head records in $(du -sh "$tmp/spool" | cut -f1) of spool"
t0=$(date +%s.%N)
start_collector 18444
while :; do
	acked=$(st | sed -n 's/.*"acked_seq":\([0-9]*\).*/\1/p')
	[ "$acked" = "$head" ] && break
	sleep 0.5
done
t1=$(date +%s.%N)
awk -v n="$head" -v a="$t0" -v b="$t1" 'BEGIN {
	printf "drained %d events in %.1f s = %.0f events/s\n", n, b - a, n / (b - a) }'

echo
echo "== 4. media control in a VM (bench/vm/README.md)"
bench/vm/run.sh $([ "$quick" = 1 ] && echo --quick) || [ $? = 77 ]

echo
echo "== 5. login: pam_authenticate(), mynaguard vs pam_u2f (bench/pam/README.md)"
bench/pam/run.sh $([ "$quick" = 1 ] && echo --quick) || [ $? = 77 ]

echo
echo "== 6. review API queries on 10M stored events (bench/review/README.md)"
bench/review/run.sh $([ "$quick" = 1 ] && echo --quick) || [ $? = 77 ]
