#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Several collectors on one PostgreSQL database (issue 9), all real: a
# throwaway cluster (pgcluster.sh), two mynaguard-collector processes on it,
# certificates from the town CA (tools/mkcerts.sh), signed records
# (mkrecord), and mg_drain sending 8 terminals over both collectors with
# failover.  Faults: one terminal's stream has a gap, one holds a forged
# record, one is sent twice at once, and collector A gets SIGKILL in the
# middle of the ingest.  Then, in the database: every record exactly once
# and byte for byte, the forged one in quarantine, exactly the alerts the
# chain rules give for the injected faults (docs/events.md; collector/
# chain.c) and none from the race between collectors or the kill, next_seq
# of every terminal; and A, started again on the same database, resumes.
#
# Usage: collector_pg.sh COLLECTOR MKRECORD MG_DRAIN SOURCE_DIR  (77: skip)
# MG_PG_TEST_SQLITE=1: the same with ONE collector on a SQLite file; the
# kill then checks that nothing acknowledged is lost when it restarts.
set -euo pipefail
export LC_ALL=C

collector=$1 mkrecord=$2 drain=$3 src=$4
here=$src/tests/integration
sqlite=${MG_PG_TEST_SQLITE:-0}
[ "$sqlite" = 1 ] || sqlite=0
name=collector_pg
[ "$sqlite" = 0 ] || name=collector_pg_sqlite

need=(openssl basenc cmp curl)
if [ "$sqlite" = 1 ]; then need+=(sqlite3); else need+=(psql); fi
for tool in "${need[@]}"; do
	command -v "$tool" >/dev/null || { echo "SKIP: no $tool"; exit 77; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX")
pgdir='' pid_a='' pid_b='' drain_pid='' hold_pid=''
stop_pid() { # stop_pid PID: SIGTERM, then SIGKILL after 20 s
	local p=$1
	kill "$p" 2>/dev/null || return 0
	for _ in $(seq 200); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
}
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	local p
	exec 7>&- # the held POST's body, if open
	for p in "$hold_pid" "$drain_pid" "$pid_a" "$pid_b"; do
		if [ -n "$p" ]; then stop_pid "$p"; fi
	done
	if [ -n "$pgdir" ]; then
		"$here/pgcluster.sh" stop "$pgdir" >/dev/null 2>&1 ||
			rm -rf -- "$pgdir"
	fi
	rm -rf -- "$tmp"
}
trap cleanup EXIT
# Interrupted (ctest, ^C): still through the EXIT trap.
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
# A command that fails outside any check ends the test (set -e): say where.
trap 'if [[ $- == *e* ]]; then
	echo "FAIL: $name: aborted at line $LINENO: $BASH_COMMAND"; fi' ERR

fails=0 checks=0
ok() { checks=$((checks + 1)); echo "ok: $* ($SECONDS s)"; }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*"; }
check() { # check DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}
eq() { # eq DESCRIPTION GOT WANT
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		bad "$1:"$'\n'"  got:  ${2//$'\n'/$'\n'        }"$'\n'"  want: ${3//$'\n'/$'\n'        }"
	fi
}
finish() {
	echo "$name: $checks checks, $fails failed"
	[ "$fails" -eq 0 ] || exit 1
	exit 0
}
fatal() { # fatal MESSAGE [LOG...]: a step the rest depends on failed
	local f
	bad "$1"
	shift
	for f; do echo "--- $f"; tail -n 40 "$f" 2>/dev/null || true; done
	finish
}

# --- the database ----------------------------------------------------------------
if [ "$sqlite" = 1 ]; then
	db=$tmp/collector.db
	q() { sqlite3 -batch -noheader "$db" "$1"; }
	hex='hex(record)'
else
	# Not under $tmp: the server runs as "postgres", which must reach it.
	pgdir=$(mktemp -d "${TMPDIR:-/tmp}/$name-pg.XXXXXX")
	set +e
	db=$("$here/pgcluster.sh" start "$pgdir" 2>"$tmp/pgcluster.err")
	rc=$?
	set -e
	if [ "$rc" -eq 77 ]; then
		cat "$tmp/pgcluster.err"
		rm -rf -- "$pgdir"
		pgdir=
		exit 77
	fi
	[ "$rc" -eq 0 ] || fatal "pgcluster.sh start: exit $rc" \
	    "$tmp/pgcluster.err" "$pgdir/setup.log" "$pgdir/server.log"
	ok "PostgreSQL cluster started"
	q() { psql "$db" -X -Atq -v ON_ERROR_STOP=1 -c "$1"; }
	hex="encode(record, 'hex')"
fi

# --- certificates and records --------------------------------------------------------
pki=$tmp/pki
mk() { "$src/tools/mkcerts.sh" "$@" >/dev/null; }
mk ca "$pki"
mk server "$pki" localhost
terms=(term-01 term-02 term-03 term-04 term-05 term-06 term-07 term-08)
N=3000
for t in "${terms[@]}"; do
	mk terminal "$pki" "$t"
	mkdir -p "$tmp/t/$t"
	cp "$pki/$t.pem" "$tmp/t/$t/cert.pem"
	cp "$pki/$t.key" "$tmp/t/$t/key.pem"
done

prev=
gen() { # gen TERM FILE SEQ COUNT [mkrecord args]: append; chain via $prev
	local t=$1 out=$2 seq=$3 count=$4
	shift 4
	"$mkrecord" --key "$pki/$t.key" --cert "$pki/$t.pem" --seq "$seq" \
	    --count "$count" --print-hash ${prev:+--prev-hash "$prev"} "$@" \
	    >>"$out" 2>"$tmp/hash" || fatal "mkrecord $t $seq+$count" "$tmp/hash"
	prev=$(cat "$tmp/hash")
}
# records.bin is what mg_drain sends; expected.bin what events must hold.
for t in "${terms[@]}"; do
	d=$tmp/t/$t
	prev=
	case $t in
	term-02) # a gap: 1001..1100 never sent
		gen "$t" "$d/records.bin" 1 1000
		gen "$t" "$tmp/lost.bin" 1001 100
		gen "$t" "$d/records.bin" 1101 $((N - 1100))
		;;
	term-03) # seq 1501 forged: quarantined, its genuine twin never sent
		gen "$t" "$d/records.bin" 1 1500
		cp "$d/records.bin" "$d/expected.bin"
		gen "$t" "$tmp/forged.bin" 1501 1 --forge
		cat "$tmp/forged.bin" >>"$d/records.bin"
		gen "$t" "$tmp/tail.bin" 1502 $((N - 1501))
		cat "$tmp/tail.bin" >>"$d/records.bin"
		cat "$tmp/tail.bin" >>"$d/expected.bin"
		;;
	*)
		gen "$t" "$d/records.bin" 1 "$N"
		;;
	esac
	[ -f "$d/expected.bin" ] || cp "$d/records.bin" "$d/expected.bin"
	[ "$t" != term-01 ] || head01=$prev
done
# For the resume at the end: term-01's next 200 records.
more=$tmp/t/term-01-more
mkdir -p "$more"
cp "$tmp/t/term-01/cert.pem" "$tmp/t/term-01/key.pem" "$more/"
prev=$head01
gen term-01 "$more/records.bin" $((N + 1)) 200
# And the 200 after those, for the backpressure test.
busy=$tmp/t/term-01-busy
mkdir -p "$busy"
cp "$tmp/t/term-01/cert.pem" "$tmp/t/term-01/key.pem" "$busy/"
gen term-01 "$busy/records.bin" $((N + 201)) 200
ok "records made: ${#terms[@]} terminals, $N each, faults in term-02..04"

# --- the collectors ----------------------------------------------------------------
: >"$tmp/empty.conf"
printf '[Collector]\nMaxPending = 1\n' >"$tmp/busy.conf"
chmod 0644 "$tmp/empty.conf" "$tmp/busy.conf"
nstart=0
# start_collector VAR PORT [CONFIG]: start one (PORT 0: any), log in
# $tmp/VAR.N.log; sets VAR to its pid and port_VAR to its port.  Returns at
# once: the caller waits with wait_listening.
start_collector() {
	local var=$1 port=$2 conf=${3:-$tmp/empty.conf} log
	nstart=$((nstart + 1))
	log=$tmp/$var.$nstart.log
	: >"$log" # before the child opens it: wait_listening reads it at once
	"$collector" --config "$conf" --listen 127.0.0.1 \
	    --port "$port" --database "$db" --certificate "$pki/localhost.pem" \
	    --key "$pki/localhost.key" --ca "$pki/ca.pem" --foreground \
	    2>>"$log" &
	printf -v "$var" '%s' "$!"
	printf -v "log_$var" '%s' "$log"
}
# wait_listening VAR: until its log says where it listens (60 s at most:
# the first start creates the schema).
wait_listening() {
	local var=$1 lv=log_$1 pid log port=
	pid=${!var}
	log=${!lv}
	for _ in $(seq 600); do
		port=$(sed -n 's/^<6>listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' \
		    "$log" | tail -n 1)
		[ -n "$port" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	[ -n "$port" ] || fatal "collector $var did not start" "$log"
	printf -v "port_$var" '%s' "$port"
}

# Both at once on a new database: they race to create the schema.
start_collector pid_a 0
if [ "$sqlite" = 0 ]; then start_collector pid_b 0; fi
wait_listening pid_a
urls=(--url "https://localhost:$port_pid_a/")
if [ "$sqlite" = 0 ]; then
	wait_listening pid_b
	urls+=(--url "https://localhost:$port_pid_b/")
	ok "collectors A (port $port_pid_a) and B (port $port_pid_b) on one database"
else
	ok "collector A (port $port_pid_a) on $db"
fi

# --- the drain, and A killed in the middle of it ---------------------------------------
dirs=()
for t in "${terms[@]}"; do
	dirs+=("$tmp/t/$t")
	# term-04 twice in a row: two workers send it at the same time,
	# in PostgreSQL mode to different collectors.
	if [ "$t" = term-04 ]; then dirs+=("$tmp/t/$t"); fi
done
"$drain" "${urls[@]}" --ca "$pki/ca.pem" --batch 200 --connections 8 \
    --acked "$tmp/acked" --kill-after-events 6000 --kill-pid "$pid_a" \
    "${dirs[@]}" >"$tmp/drain.out" 2>"$tmp/drain.err" &
drain_pid=$!

# Until A dies or the drain ends (a poll: both run on their own).
deadline=$((SECONDS + 600))
while kill -0 "$pid_a" 2>/dev/null && kill -0 "$drain_pid" 2>/dev/null &&
    [ "$SECONDS" -lt "$deadline" ]; do
	sleep 0.05
done 2>/dev/null # no "Killed" notice from bash
if kill -0 "$pid_a" 2>/dev/null; then
	bad "collector A still runs after the drain (or 600 s)"
	a_status=running
else
	set +e
	wait "$pid_a" 2>/dev/null # no "Killed" notice
	a_status=$?
	set -e
	pid_a=
fi
eq "collector A ended by SIGKILL (exit status 128+9)" "$a_status" 137
check "mg_drain reported the kill of A" \
    grep -q "SIGKILL to pid [0-9]* at .* s, [0-9]* events acknowledged" \
    "$tmp/drain.err"

if [ "$sqlite" = 1 ]; then
	# The one collector again, same port, same file: the drain retries
	# until it is back.
	start_collector pid_a "$port_pid_a"
	wait_listening pid_a
	ok "collector A restarted on port $port_pid_a after the kill"
fi

while kill -0 "$drain_pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
	sleep 0.1
done
set +e
if kill -0 "$drain_pid" 2>/dev/null; then
	stop_pid "$drain_pid"
	drain_rc=timeout
else
	wait "$drain_pid"
	drain_rc=$?
fi
set -e
drain_pid=
summary=$(cat "$tmp/drain.out")
echo "mg_drain: $summary"
retry_re='; again in [0-9]* ms on '
grep -v "$retry_re" "$tmp/drain.err" | sed 's/^/  /' || true
echo "  ($(grep -c "$retry_re" "$tmp/drain.err" || true) retry lines)"
eq "mg_drain exit status" "$drain_rc" 0
# term-02 sends 2900, term-04 twice 3000; the forged record is acknowledged.
events=$((8 * N - 100 + N))
check "summary: $events events from 9 terminals" \
    grep -qE "^drained $events events from 9 terminals in [0-9.]+ s = [0-9]+ events/s \(posts [0-9]+, retries [0-9]+, 503 [0-9]+, failovers [0-9]+\)$" \
    "$tmp/drain.out"
retries=$(sed -n 's/.*retries \([0-9]*\),.*/\1/p' "$tmp/drain.out")
failovers=$(sed -n 's/.*failovers \([0-9]*\))$/\1/p' "$tmp/drain.out")
check "requests to the killed collector were retried (retries $retries)" \
    test "${retries:-0}" -ge 1
if [ "$sqlite" = 0 ]; then
	check "terminals failed over to B (failovers $failovers)" \
	    test "${failovers:-0}" -ge 1
fi
want_acked=
for t in "${terms[@]}"; do
	n=$N
	[ "$t" != term-02 ] || n=$((N - 100))
	want_acked+="$t $N $n"$'\n'
	[ "$t" != term-04 ] || want_acked+="$t $N $n"$'\n'
done
eq "every terminal acknowledged through seq $N, all records sent" \
    "$(cat "$tmp/acked")" "${want_acked%$'\n'}"

# --- what the database holds ------------------------------------------------------------
unhex() { tr -d '\n' | tr a-f A-F | basenc --base16 -d; }
for t in "${terms[@]}"; do
	case $t in
	term-02) want="$((N - 100))|$((N - 100))|1|$N|0" ;;
	term-03) want="$((N - 1))|$((N - 1))|1|$N|100" ;;
	*) want="$N|$N|1|$N|100" ;;
	esac
	eq "$t: events count, distinct seqs, min, max, seqs in 1001..1100" \
	    "$(q "SELECT count(*), count(DISTINCT seq), min(seq), max(seq),
	        sum(CASE WHEN seq BETWEEN 1001 AND 1100 THEN 1 ELSE 0 END)
	        FROM events WHERE agent_id = '$t'")" "$want"
	q "SELECT $hex FROM events WHERE agent_id = '$t' ORDER BY seq" |
	    unhex >"$tmp/got.bin" || true
	check "$t: stored records are the sent ones, byte for byte" \
	    cmp "$tmp/got.bin" "$tmp/t/$t/expected.bin"
done
eq "no (agent, seq) stored twice" "$(q "SELECT count(*) FROM (SELECT
    agent_id, seq FROM events GROUP BY agent_id, seq HAVING count(*) > 1) d")" 0
eq "only our terminals have events" \
    "$(q "SELECT count(DISTINCT agent_id) FROM events")" "${#terms[@]}"
eq "quarantine: exactly the forged record of term-03" \
    "$(q "SELECT agent_id_cert, seq, upper($hex) FROM quarantine ORDER BY seq")" \
    "term-03|1501|$(basenc --base16 -w0 "$tmp/forged.bin")"
# The chain rules (collector/chain.c): a gap after stored records is a
# gap alert plus a chain break at the record after it (it links to a
# record never received); a forged record is quarantined, so the next one
# makes a gap of it and a chain break.  Nothing else: no alert from the
# race of two collectors, the duplicate stream or the kill.
want_alerts="term-02|chain-break|1101|1101
term-02|gap|1001|1100
term-03|chain-break|1502|1502
term-03|forged|1501|1501
term-03|gap|1501|1501"
eq "alerts: exactly those of the injected faults" \
    "$(q "SELECT agent_id, type, seq_from, seq_to FROM alerts
        ORDER BY agent_id, type, seq_from")" "$want_alerts"
want_agents=
for t in "${terms[@]}"; do want_agents+="$t|$((N + 1))"$'\n'; done
eq "agents: next_seq = last seq + 1 for every terminal" \
    "$(q "SELECT agent_id, next_seq FROM agents ORDER BY agent_id")" \
    "${want_agents%$'\n'}"
eq "certificates: one per terminal" \
    "$(q "SELECT count(*), count(DISTINCT agent_id) FROM certificates")" \
    "${#terms[@]}|${#terms[@]}"

# --- A again, on the same database: it resumes ---------------------------------------------
if [ -n "$pid_a" ]; then
	stop_pid "$pid_a"
	pid_a=
fi
# MaxPending = 1 for the backpressure test below; one sender is no load.
start_collector pid_a 0 "$tmp/busy.conf"
wait_listening pid_a
ok "collector A started again (port $port_pid_a, MaxPending = 1)"
alerts_before=$(q "SELECT count(*) FROM alerts")
set +e
"$drain" --url "https://localhost:$port_pid_a/" --ca "$pki/ca.pem" \
    --batch 200 --acked "$tmp/acked-more" "$more" >"$tmp/drain-more.out" \
    2>"$tmp/drain-more.err"
rc=$?
set -e
eq "one more batch through A: mg_drain exit status" "$rc" 0
eq "... acknowledged through seq $((N + 200)), 200 sent" \
    "$(cat "$tmp/acked-more")" "term-01 $((N + 200)) 200"
check "... in one POST" grep -q '(posts 1, retries 0, 503 0, failovers 0)' \
    "$tmp/drain-more.out"
eq "term-01: events count, max seq, next_seq after the resume" \
    "$(q "SELECT count(*), max(seq), (SELECT next_seq FROM agents WHERE
        agent_id = 'term-01') FROM events WHERE agent_id = 'term-01'")" \
    "$((N + 200))|$((N + 200))|$((N + 201))"
q "SELECT $hex FROM events WHERE agent_id = 'term-01' AND seq > $N
    ORDER BY seq" | unhex >"$tmp/got.bin" || true
check "term-01: the resumed records byte for byte" \
    cmp "$tmp/got.bin" "$more/records.bin"
eq "no alert from the resume" "$(q "SELECT count(*) FROM alerts")" \
    "$alerts_before"

# --- backpressure: 503 with Retry-After, and the sender waits ---------------------------------
# A POST whose body never comes (a FIFO nobody writes yet) holds A's one
# slot; the sender's POST then gets 503 and must wait Retry-After (5 s),
# not its 50 ms backoff, before it sends again.
mkfifo "$tmp/hold"
as_term01=(--cacert "$pki/ca.pem" --cert "$pki/term-01.pem"
	--key "$pki/term-01.key"
	-H 'Content-Type: application/vnd.mynaguard.events.v1')
curl -sS -v -o /dev/null -w '%{http_code}' "${as_term01[@]}" -X POST \
    -T "$tmp/hold" "https://localhost:$port_pid_a/v1/events" \
    >"$tmp/hold.code" 2>"$tmp/hold.err" &
hold_pid=$!
exec 7>"$tmp/hold" # children below get "7>&-": the body ends only at our close
# A took the held POST's headers (and counted it) when it says 100
# Continue; only then is a probe sure to find the slot taken.
for _ in $(seq 400); do
	grep -q '^< HTTP/1.1 100 Continue' "$tmp/hold.err" && break
	kill -0 "$hold_pid" 2>/dev/null || break
	sleep 0.05
done
probe=$(curl -sS -o /dev/null -w '%{http_code}' "${as_term01[@]}" \
    --data-binary '' "https://localhost:$port_pid_a/v1/events" \
    2>/dev/null 7>&- || true)
eq "A busy with the held POST: an empty POST gets 503" "$probe" 503
[ "$probe" = 503 ] || sed 's/^/  held POST: /' "$tmp/hold.err"
"$drain" --url "https://localhost:$port_pid_a/" --ca "$pki/ca.pem" \
    --batch 200 --acked "$tmp/acked-busy" "$busy" >"$tmp/drain-busy.out" \
    2>"$tmp/drain-busy.err" 7>&- &
drain_pid=$!
for _ in $(seq 200); do
	grep -q 'HTTP 503' "$tmp/drain-busy.err" && break
	kill -0 "$drain_pid" 2>/dev/null || break
	sleep 0.05
done
exec 7>&- # the held POST ends (an empty body)
set +e
wait "$hold_pid"
rc=$?
wait "$drain_pid"
drain_rc=$?
set -e
hold_pid='' drain_pid=''
eq "the held POST is answered when its body ends: exit, HTTP status" \
    "$rc $(cat "$tmp/hold.code")" "0 200"
eq "mg_drain through a busy A: exit status" "$drain_rc" 0
check "... its POST got 503 and waited Retry-After (5000 ms)" \
    grep -q 'HTTP 503: .*; again in 5000 ms on ' "$tmp/drain-busy.err"
check "... counted: (posts 2, retries 1, 503 1, failovers 0)" \
    grep -q '(posts 2, retries 1, 503 1, failovers 0)$' "$tmp/drain-busy.out"
eq "... acknowledged through seq $((N + 400))" "$(cat "$tmp/acked-busy")" \
    "term-01 $((N + 400)) 200"
eq "term-01: events count and next_seq after the busy batch" \
    "$(q "SELECT count(*), (SELECT next_seq FROM agents WHERE
        agent_id = 'term-01') FROM events WHERE agent_id = 'term-01'")" \
    "$((N + 400))|$((N + 401))"

# --- clean stops, clean logs -----------------------------------------------------------------
for var in pid_a pid_b; do
	p=${!var}
	[ -n "$p" ] || continue
	kill "$p"
	set +e
	wait "$p"
	rc=$?
	set -e
	printf -v "$var" '%s' ""
	eq "collector ${var#pid_} stops cleanly on SIGTERM" "$rc" 0
done
for log in "$tmp"/pid_*.log; do
	if grep -q 'Sanitizer\|runtime error' "$log"; then
		bad "$(basename "$log"): sanitizer report"
		grep -A30 'Sanitizer\|runtime error' "$log" | head -n 60
	else
		ok "$(basename "$log"): no sanitizer report"
	fi
	# Errors are not failures here (a 503 is allowed), but are shown.
	if grep -q '^<[0-3]>' "$log"; then
		echo "note: $(basename "$log") logged errors:"
		grep '^<[0-3]>' "$log" | sort | uniq -c | sort -rn | head -n 10
	fi
done
finish
