#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The signed event pipeline end to end, all real: certificates from the
# town CA (tools/mkcerts.sh), mynaguard-agent signing into its spool and
# shipping over mutual TLS on 127.0.0.1, mynaguard-collector verifying and
# storing in SQLite.  Then the faults: kill -9 of the agent in a 100k-event
# burst, the collector down for a while, and spool files edited by hand.
#
# usage: pipeline.sh BUILD_DIR SOURCE_DIR [BURST]
set -u
build=$1
src=$2
burst_n=${3:-100000}
# Under ASan+UBSan everything is several times slower: a smaller burst
# still kills the agent in the middle of it.
grep -q '^MG_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null &&
    burst_n=${3:-20000}
agent_bin=$build/agent/mynaguard-agent
coll_bin=$build/collector/mynaguard-collector
cli=$build/cli/mynaguard
burst=$build/tests/burst
for b in "$agent_bin" "$coll_bin" "$cli" "$burst"; do
	[ -x "$b" ] || { echo "missing $b"; exit 1; }
done
command -v sqlite3 >/dev/null || { echo "sqlite3 not installed: skipped"; exit 77; }

tmp=$(mktemp -d)
agent_pid= coll_pid=
cleanup() {
	[ -n "$agent_pid" ] && kill -9 "$agent_pid" 2>/dev/null
	[ -n "$coll_pid" ] && kill -9 "$coll_pid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
passes=0 fails=0
ok() { passes=$((passes + 1)); echo "ok - $* ($SECONDS s)"; }
fail() { fails=$((fails + 1)); echo "FAIL - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }

pki=$tmp/pki
bash "$src/tools/mkcerts.sh" ca "$pki" >/dev/null
bash "$src/tools/mkcerts.sh" server "$pki" localhost >/dev/null
bash "$src/tools/mkcerts.sh" terminal "$pki" zeimu-pc01 >/dev/null
db=$tmp/collector.db
: >"$tmp/empty.conf"
# Retry every 2 s at most, so the test does not wait out a real backoff.
printf '[Collector]\nRetryMax=2\n' >"$tmp/agent.conf"
sock=$tmp/events.sock

start_collector() {	# [port]
	"$coll_bin" --listen 127.0.0.1 --port "${1:-0}" --database "$db" \
	    --certificate "$pki/localhost.pem" --key "$pki/localhost.key" \
	    --ca "$pki/ca.pem" --config "$tmp/empty.conf" >>"$tmp/collector.log" 2>&1 &
	coll_pid=$!
	for _ in $(seq 100); do
		port=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' \
		    "$tmp/collector.log" | tail -n 1)
		[ -n "${1:-}" ] && [ "$port" = "$1" ] && return 0
		[ -z "${1:-}" ] && [ -n "$port" ] && return 0
		sleep 0.1
	done
	echo "collector did not start:"; cat "$tmp/collector.log"; exit 1
}
stop_collector() { kill "$coll_pid"; wait "$coll_pid" 2>/dev/null; coll_pid=; }

start_agent() {
	"$agent_bin" --config "$tmp/agent.conf" --spool "$tmp/spool" --socket "$sock" \
	    --drop-dir "$tmp/drop" --collector "https://localhost:$port/" \
	    --ca "$pki/ca.pem" --cert "$pki/zeimu-pc01.pem" \
	    --key "$pki/zeimu-pc01.key" --policy "$src/policy/mynumber-terminal.conf" \
	    >>"$tmp/agent.log" 2>&1 &
	agent_pid=$!
	for _ in $(seq 100); do [ -S "$sock" ] && return 0; sleep 0.1; done
	echo "agent did not start:"; cat "$tmp/agent.log"; exit 1
}
stop_agent() { kill "$agent_pid"; wait "$agent_pid" 2>/dev/null; agent_pid=; }

q() { sqlite3 -batch -noheader "$db" "$1"; }
status() { "$cli" status --json --socket "$sock" 2>/dev/null; }
head_seq() { status | sed -n 's/.*"head_seq":\([0-9]*\).*/\1/p'; }
acked_seq() { status | sed -n 's/.*"acked_seq":\([0-9]*\).*/\1/p'; }
# Wait until the collector acknowledged everything the agent wrote.
drained() {
	local i h a
	for i in $(seq "${1:-600}"); do
		h=$(head_seq); a=$(acked_seq)
		[ -n "$h" ] && [ "$h" = "$a" ] && return 0
		sleep 0.1
	done
	echo "not drained: head $h acked $a"; tail -5 "$tmp/agent.log"; return 1
}

# --- 1. a test event arrives, verified ------------------------------------
start_collector
start_agent
out=$("$cli" event send --socket "$sock" --drop-dir "$tmp/drop" \
    --message "pipeline test 日本語")
seq=$(echo "$out" | sed -n 's/.*as seq \([0-9]*\)$/\1/p')
check "agent acknowledged the test event ($out)" [ -n "$seq" ]
check "drained to the collector" drained
check "test event stored once and verified" [ "$(q "select count(*) from events \
    where agent_id='zeimu-pc01' and seq=$seq and verified=1 and \
    json_extract(body,'\$.event.action')='test' and \
    json_extract(body,'\$.message')='pipeline test 日本語'")" = 1 ]
check "agent-started and policy-loaded arrived" [ "$(q "select count(*) from \
    events where json_extract(body,'\$.event.action') in \
    ('agent-started','policy-loaded')")" = 2 ]
# The build host has neither our udev rules nor our modprobe file
# installed: the agent's state report says so, as one state-mismatch
# alert.  Every other alert would be a fault of the pipeline.
check "no alerts on a clean run (but the host's state-mismatch)" [ "$(q "select \
    count(*) from alerts where type != 'state-mismatch'")" = 0 ]
check "status says reachable" sh -c "'$cli' status --socket '$sock' | grep -q 'collector_reachable: true'"

# Only root may submit: the agent answers, logs, and records nothing.  (The
# socket is world-connectable, as in /run/mynaguard; SO_PEERCRED decides.)
chmod 711 "$tmp"
if command -v setpriv >/dev/null; then
	before=$(head_seq)
	if setpriv --reuid nobody --regid nogroup --clear-groups "$cli" event send \
	    --socket "$sock" --drop-dir "$tmp/drop" >"$tmp/nobody.out" 2>&1; then
		fail "a non-root submission was accepted"
	else
		check "non-root submission refused with a message" \
		    grep -q "only root may submit" "$tmp/nobody.out"
	fi
	check "non-root refusal logged by the agent" \
	    grep -q "refused event submission from pid [0-9]* uid 65534" "$tmp/agent.log"
	check "nothing recorded for the refused submission" [ "$(head_seq)" = "$before" ]
fi

# The agent stopped: the event waits in the drop directory, then arrives.
stop_agent
out=$("$cli" event send --socket "$sock" --drop-dir "$tmp/drop" --message "while stopped")
check "agent down: event left in the drop directory ($out)" \
    sh -c "ls '$tmp/drop'/*.evt >/dev/null 2>&1"
start_agent
check "drained after restart" drained
check "drop-directory event stored and verified" [ "$(q "select count(*) from events \
    where verified=1 and json_extract(body,'\$.message')='while stopped'")" = 1 ]
check "drop file removed once recorded" sh -c "! ls '$tmp/drop'/*.evt >/dev/null 2>&1"

# --- 2. kill -9 during a burst; everything acknowledged arrives once -------
"$burst" "$sock" "$burst_n" "$tmp/acked" 2>"$tmp/burst.err" &
bpid=$!
for _ in $(seq 300); do
	[ "$(wc -l <"$tmp/acked" 2>/dev/null || echo 0)" -ge $((burst_n / 3)) ] && break
	sleep 0.05
done
kill -9 "$agent_pid"; wait "$agent_pid" 2>/dev/null; agent_pid=
wait "$bpid"
n_acked=$(wc -l <"$tmp/acked")
check "burst was cut by the kill ($n_acked of $burst_n acknowledged)" \
    test "$n_acked" -gt 0 -a "$n_acked" -lt "$burst_n"
start_agent
check "backlog drained after restart" drained 3000
sort "$tmp/acked" >"$tmp/acked.sorted"
q "select seq from events where agent_id='zeimu-pc01' and verified=1" |
    sort >"$tmp/stored"
missing=$(comm -23 "$tmp/acked.sorted" "$tmp/stored" | wc -l)
check "every acknowledged event stored ($missing missing)" [ "$missing" = 0 ]
check "no (agent, seq) stored twice" [ "$(q "select count(*) - count(distinct seq) from events where agent_id='zeimu-pc01'")" = 0 ]
check "agent-started says the last run was not clean" [ "$(q "select count(*) \
    from events where json_extract(body,'\$.event.action')='agent-started' \
    and json_extract(body,'\$.mynaguard.agent.clean_shutdown')=0")" -ge 1 ]

# --- 3. collector down: the backlog waits, then drains in order -----------
before=$(q "select max(id) from events")
stop_collector
"$burst" "$sock" 300 "$tmp/offline" 2>/dev/null
sleep 1
check "status says unreachable while down" sh -c "'$cli' status --socket '$sock' | grep -q 'collector_reachable: false'"
check "nothing acknowledged while down" [ "$(acked_seq)" -lt "$(head_seq)" ]
start_collector "$port"
check "backlog drained after the collector came back" drained 3000
check "drained in seq order" [ "$(q "select count(*) from (select seq, lag(seq) \
    over (order by id) as p from events where id > $before) where p is not null and seq <= p")" = 0 ]
check "still no alerts" [ "$(q "select count(*) from alerts where \
    type != 'state-mismatch'")" = 0 ]
[ "$(q "select count(*) from alerts where type != 'state-mismatch'")" = 0 ] ||
	q 'select type, seq_from, seq_to, detail from alerts'
stop_agent

# --- 4. spool files edited by hand: each is flagged ------------------------
# With the collector stopped, write events, then tamper with the spool.
stop_collector
start_agent
for i in $(seq 20); do
	"$cli" event send --socket "$sock" --drop-dir "$tmp/drop" --message "tamper $i" >/dev/null
done
stop_agent
python3 "$src/tests/integration/tamper.py" "$tmp/spool" >"$tmp/tamper.log" || fail "tamper script"
cat "$tmp/tamper.log"
start_collector "$port"
start_agent
drained 3000 >/dev/null
for kind in forged gap chain-break; do
	check "tampering flagged at the collector: $kind" \
	    [ "$(q "select count(*) from alerts where type='$kind'")" -ge 1 ]
done
check "spool damage reported by the agent" [ "$(q "select count(*) from events \
    where json_extract(body,'\$.event.action')='spool-recovered'")" -ge 1 ]
stop_agent
stop_collector

# --- 5. a collector whose certificate names another host: refused ---------
bash "$src/tools/mkcerts.sh" server-wrongname "$pki" collector.example.invalid >/dev/null
"$coll_bin" --listen 127.0.0.1 --port 0 --database "$tmp/other.db" \
    --certificate "$pki/collector.example.invalid.pem" \
    --key "$pki/collector.example.invalid.key" --ca "$pki/ca.pem" \
    --config "$tmp/empty.conf" >"$tmp/collector.log" 2>&1 &
coll_pid=$!
for _ in $(seq 100); do
	port=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' "$tmp/collector.log")
	[ -n "$port" ] && break; sleep 0.1
done
: >"$tmp/agent.log"
start_agent
"$cli" event send --socket "$sock" --drop-dir "$tmp/drop" --message "mismatch" >/dev/null
for _ in $(seq 50); do
	grep -q "collector https://localhost:$port/:" "$tmp/agent.log" && break
	sleep 0.1
done
check "hostname mismatch: the agent refuses the collector, with a log line" \
    grep -q "collector https://localhost:$port/:.*\(subject name\|host name\|hostname\)" "$tmp/agent.log"
check "hostname mismatch: nothing acknowledged" [ "$(acked_seq)" -lt "$(head_seq)" ]
stop_agent
stop_collector
# --- 6. no [Collector] URL: the policy's [reporting] collector ------------
rm -rf "$tmp/spool" "$tmp/drop" "$db"
: >"$tmp/collector.log"
start_collector
sed "s|^\[reporting\]\$|[reporting]\ncollector = https://localhost:$port/|" \
    "$src/policy/mynumber-terminal.conf" >"$tmp/policy-collector.conf"
: >"$tmp/agent.log"
"$agent_bin" --config "$tmp/agent.conf" --spool "$tmp/spool" --socket "$sock" \
    --drop-dir "$tmp/drop" --ca "$pki/ca.pem" --cert "$pki/zeimu-pc01.pem" \
    --key "$pki/zeimu-pc01.key" --policy "$tmp/policy-collector.conf" \
    >>"$tmp/agent.log" 2>&1 &
agent_pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
"$cli" event send --socket "$sock" --drop-dir "$tmp/drop" --message "via policy" >/dev/null
check "the policy's collector: drained" drained
check "the policy's collector: the event stored and verified" [ "$(q "select count(*) \
    from events where verified=1 and body like '%via policy%'")" = 1 ]
check "the policy's collector: named in the log and in status" sh -c \
    "grep -q \"shipping events to https://localhost:$port/ (the policy's collector)\" \
    '$tmp/agent.log' && '$cli' status --socket '$sock' | \
    grep -q 'collector: https://localhost:$port/'"
stop_agent
stop_collector
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
