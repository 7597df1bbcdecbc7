#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# One terminal, several collectors (issue 9), all real: a throwaway
# PostgreSQL cluster (pgcluster.sh), collectors A and B on it, certificates
# from the town CA (tools/mkcerts.sh), and mynaguard-agent with
# [Collector] URL=https://localhost:A/ https://localhost:B/ fed by the burst
# tool over its socket (as in pipeline.sh).
#
#  1. both up: the agent ships to A, the first; status names A and the list;
#  2. A gets SIGKILL in the middle of a burst, more events follow: the agent
#     says once "collector A unreachable (...); trying B" and ships to B;
#     every event is in the database exactly once (count = distinct seqs =
#     head seq = acked seq), every event acknowledged to the burst tool is
#     there, no alert; the policy fetcher moves from A to B as well;
#  3. A started again, B gets SIGKILL, more events: the agent moves back to
#     A, once, and again nothing is lost or stored twice;
#  4. a busy instance first (C, answering 503 with Retry-After: 3; the
#     list from --collector): the agent waits the 3 s, then ships to A;
#     the fetcher moves from C to A too;
#  5. clean stop, no sanitizer report, no database password in any log.
#
# usage: agent_failover.sh BUILD_DIR SOURCE_DIR   (77: cannot run here)
# shellcheck disable=SC2317 # functions run through check and until_ok
set -u
export LC_ALL=C
build=$1 src=$2
here=$src/tests/integration
agent_bin=$build/agent/mynaguard-agent
coll_bin=$build/collector/mynaguard-collector
cli=$build/cli/mynaguard
burst=$build/tests/burst
for b in "$agent_bin" "$coll_bin" "$cli" "$burst"; do
	[ -x "$b" ] || { echo "missing $b"; exit 1; }
done
for tool in psql openssl; do
	command -v "$tool" >/dev/null || { echo "SKIP: no $tool"; exit 77; }
done
if ! grep -qa PQconnect "$coll_bin"; then
	echo "SKIP: $coll_bin has no PostgreSQL backend (not linked with libpq)"
	exit 77
fi
# Under ASan+UBSan everything is several times slower.
n1=10000 n2=1000 n3=3000
if grep -q '^MG_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
	n1=3000 n2=300 n3=1000
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/agent_failover.XXXXXX")
pgdir='' agent_pid='' pid_a='' pid_b='' pid_c='' burst_pid='' port_a='' port_b=''
cleanup() {
	local p
	for p in "$burst_pid" "$agent_pid" "$pid_a" "$pid_b" "$pid_c"; do
		[ -n "$p" ] && kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	if [ -n "$pgdir" ]; then
		"$here/pgcluster.sh" stop "$pgdir" >/dev/null 2>&1 ||
			rm -rf -- "$pgdir"
	fi
	if [ -n "${MG_KEEP_TMP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
passes=0 fails=0
ok() { passes=$((passes + 1)); echo "ok - $* ($SECONDS s)"; }
fail() { fails=$((fails + 1)); echo "FAIL - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
eq() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: got '$2', want '$3'"; fi; }
finish() {
	echo "agent_failover: $passes passed, $fails failed"
	[ "$fails" -eq 0 ] || exit 1
	exit 0
}
fatal() {	# fatal MESSAGE [LOG...]: a step the rest depends on failed
	local f
	fail "$1"
	shift
	for f; do echo "--- $f"; tail -n 30 "$f" 2>/dev/null; done
	finish
}
# until_ok SECONDS COMMAND...: true once the command succeeds.
until_ok() {
	local n=$(($1 * 10)); shift
	for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
	return 1
}

# --- the database, certificates --------------------------------------------
# Not under $tmp: the server runs as "postgres", which must reach it.
pgdir=$(mktemp -d "${TMPDIR:-/tmp}/agent_failover-pg.XXXXXX")
db=$("$here/pgcluster.sh" start "$pgdir" 2>"$tmp/pgcluster.err")
rc=$?
if [ "$rc" -eq 77 ]; then
	cat "$tmp/pgcluster.err"
	rm -rf -- "$pgdir"
	pgdir=
	exit 77
fi
[ "$rc" -eq 0 ] || fatal "pgcluster.sh start: exit $rc" "$tmp/pgcluster.err" \
    "$pgdir/setup.log" "$pgdir/server.log"
db_password=$(sed -n 's|^postgresql://[^:]*:\([^@]*\)@.*|\1|p' <<<"$db")
ok "PostgreSQL cluster started"
q() { psql "$db" -X -Atq -v ON_ERROR_STOP=1 -c "$1"; }

pki=$tmp/pki
mk() { bash "$src/tools/mkcerts.sh" "$@" >/dev/null; }
mk ca "$pki"
mk server "$pki" localhost
mk terminal "$pki" zeimu-pc01
mk policy-signer "$pki" signer

# --- collectors A and B on the one database ----------------------------------
: >"$tmp/empty.conf"
nstart=0
# start_collector a|b PORT: (PORT 0: any) sets pid_X and port_X; its log
# is $tmp/X.N.log, a new one per start.
start_collector() {
	local x=$1 port=$2 log p=
	nstart=$((nstart + 1))
	log=$tmp/$x.$nstart.log
	"$coll_bin" --config "$tmp/empty.conf" --listen 127.0.0.1 \
	    --port "$port" --database "$db" --certificate "$pki/localhost.pem" \
	    --key "$pki/localhost.key" --ca "$pki/ca.pem" --foreground \
	    2>"$log" &
	printf -v "pid_$x" '%s' "$!"
	for _ in $(seq 600); do
		p=$(sed -n 's/^<6>listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' \
		    "$log" | tail -n 1)
		[ -n "$p" ] && break
		sleep 0.1
	done
	[ -n "$p" ] || fatal "collector $x did not start" "$log"
	printf -v "port_$x" '%s' "$p"
}
# kill9 a|b: SIGKILL, and reaped without bash's "Killed" notice.
kill9() {
	local v=pid_$1
	kill -9 "${!v}"
	wait "${!v}" 2>/dev/null
	printf -v "$v" '%s' ""
}

start_collector a 0
start_collector b 0
url_a=https://localhost:$port_a/
url_b=https://localhost:$port_b/
ok "collectors A (port $port_a) and B (port $port_b) on one database"

# --- the agent -------------------------------------------------------------------
sock=$tmp/events.sock
cp "$src/policy/mynumber-terminal.conf" "$tmp/policy.conf"
# Retry every 2 s at most; batches of 500, so that a kill falls between
# and within them; a central policy group nobody publishes for, to see
# the fetcher move too.
cat >"$tmp/agent.conf" <<EOF
[Collector]
URL=$url_a	$url_b
CA=$pki/ca.pem
Certificate=$pki/zeimu-pc01.pem
Key=$pki/zeimu-pc01.key
RetryMax=2
BatchRecords=500
[Spool]
Directory=$tmp/spool
[Intake]
Socket=$sock
DropDirectory=$tmp/drop
[Policy]
Path=$tmp/policy.conf
Group=failover
SigningCertificate=$pki/signer.pem
FetchInterval=10s
StateDirectory=$tmp/pstate
EOF
check "--check-config takes the list" sh -c "'$agent_bin' --config \
    '$tmp/agent.conf' --check-config | grep -q 'collectors $url_a $url_b\$'"
"$agent_bin" --config "$tmp/agent.conf" >>"$tmp/agent.log" 2>&1 &
agent_pid=$!
until_ok 10 test -S "$sock" || fatal "agent did not start" "$tmp/agent.log"

status() { "$cli" status --json --socket "$sock" 2>/dev/null; }
jnum() { status | sed -n "s/.*\"$1\":\\([0-9]*\\).*/\\1/p"; }
jstr() { status | sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"; }
# drained [SECONDS]: the collectors acknowledged all the agent wrote.
drained() {
	local h a
	for _ in $(seq $((${1:-120} * 10))); do
		h=$(jnum head_seq) a=$(jnum acked_seq)
		[ -n "$h" ] && [ "$h" = "$a" ] && return 0
		sleep 0.1
	done
	echo "not drained: head $h acked $a"
	tail -n 5 "$tmp/agent.log"
	return 1
}
# stored_once: every seq 1..head in the database exactly once.
stored_once() {
	local h got
	h=$(jnum head_seq)
	got=$(q "SELECT count(*), count(DISTINCT seq), min(seq), max(seq)
	    FROM events WHERE agent_id = 'zeimu-pc01'")
	eq "$1: events = distinct seqs = 1..head seq $h" "$got" "$h|$h|1|$h"
}
# all_acked FILE: every seq the burst tool had acknowledged is stored.
all_acked() {
	q "SELECT seq FROM events WHERE agent_id = 'zeimu-pc01'" | sort \
	    >"$tmp/stored"
	sort "$1" | comm -23 - "$tmp/stored" >"$tmp/missing"
	[ ! -s "$tmp/missing" ]
}
no_alerts() {
	[ "$(q "SELECT count(*) FROM alerts WHERE type <> 'state-mismatch'")" = 0 ]
}
logged_since() {	# logged_since LINES REGEX: in the agent's log after LINES
	tail -n +$(($1 + 1)) "$tmp/agent.log" | grep -q "$2"
}
switches() {	# switches FROM TO: lines saying the agent moved on
	grep -c "collector $1 unreachable (.*); trying $2\$" "$tmp/agent.log"
}

# --- 1. both up: A, the first -----------------------------------------------------
check "drained to A" drained
check "shipping to the list, logged at start" grep -q \
    "shipping events to $url_a $url_b (the first, then the next in turn" \
    "$tmp/agent.log"
eq "status: the collector in use is A" "$(jstr collector)" "$url_a"
eq "status: the list" "$(jstr collectors)" "$url_a $url_b"
check "status: reachable" sh -c "'$cli' status --socket '$sock' |
    grep -q 'collector_reachable: true'"
stored_once "both up"

# --- 2. A killed in the middle of a burst -----------------------------------------
"$burst" "$sock" "$n1" "$tmp/acked1" 2>"$tmp/burst1.err" &
burst_pid=$!
until_ok 60 sh -c "[ \$(wc -l <'$tmp/acked1' 2>/dev/null || echo 0) \
    -ge $((n1 / 3)) ]"
at=$(status)
kill9 a
echo "  A killed at acked seq $(sed -n 's/.*"acked_seq":\([0-9]*\).*/\1/p' \
    <<<"$at") of head seq $(sed -n 's/.*"head_seq":\([0-9]*\).*/\1/p' <<<"$at")"
wait "$burst_pid"
rc=$?
burst_pid=
eq "burst of $n1 acknowledged by the agent" "$rc|$(wc -l <"$tmp/acked1")" "0|$n1"
"$burst" "$sock" "$n2" "$tmp/acked2" 2>"$tmp/burst2.err" ||
    fail "burst of $n2 after the kill"
check "drained to B" drained
eq "the move from A to B logged once" "$(switches "$url_a" "$url_b")" 1
eq "status: the collector in use is B" "$(jstr collector)" "$url_b"
eq "status: the list unchanged" "$(jstr collectors)" "$url_a $url_b"
stored_once "A killed"
check "every event acknowledged to the burst tool is stored" \
    all_acked <(cat "$tmp/acked1" "$tmp/acked2")
check "no alert (but the host's state-mismatch)" no_alerts
# The policy fetcher: asked again now (SIGHUP: a new fetcher, from the
# first URL), it finds A dead and asks B two seconds later, which answers
# that nothing is published for the group (no reason to move on).
mark=$(wc -l <"$tmp/agent.log")
kill -HUP "$agent_pid"
check "policy fetch: A unreachable, B next" until_ok 20 logged_since "$mark" \
    "policy fetch from $url_a: unreachable: .*; trying $url_b next"
check "policy fetch: B answers" until_ok 20 logged_since "$mark" \
    "policy fetch from $url_b: nothing published for group failover"
eq "the reload left the shipper on B" "$(jstr collector)" "$url_b"

# --- 3. A again, B killed: back to A ------------------------------------------------
start_collector a "$port_a"
ok "collector A started again on port $port_a"
kill9 b
"$burst" "$sock" "$n3" "$tmp/acked3" 2>"$tmp/burst3.err" ||
    fail "burst of $n3 after the kill of B"
check "drained to A" drained
eq "the move from B to A logged once" "$(switches "$url_b" "$url_a")" 1
eq "... and the move from A to B still once" "$(switches "$url_a" "$url_b")" 1
eq "status: the collector in use is A again" "$(jstr collector)" "$url_a"
stored_once "B killed"
check "every event acknowledged to the burst tool is stored" \
    all_acked <(cat "$tmp/acked1" "$tmp/acked2" "$tmp/acked3")
check "no alert (but the host's state-mismatch)" no_alerts
# The fetcher was left on B: its next ask (FetchInterval=10s) finds B dead
# and moves to A, which it asks two seconds later.
check "policy fetch: B unreachable, A next" until_ok 30 logged_since "$mark" \
    "policy fetch from $url_b: unreachable: .*; trying $url_a next"
check "policy fetch: A answers" until_ok 10 logged_since "$mark" \
    "policy fetch from $url_a: nothing published for group failover"

kill "$agent_pid"
wait "$agent_pid"
rc=$?
agent_pid=
eq "agent stops cleanly" "$rc" 0

# --- 4. a busy instance first: 503 with Retry-After ---------------------------------
# C answers every request 503, Retry-After: 3 (a collector under
# backpressure).  The list from --collector now: C, then A.  The retry goes
# to A, but not before the 3 s C asked for.
if command -v python3 >/dev/null; then
	cat >"$tmp/busy.py" <<'PY'
import http.server, ssl, sys, time
class Busy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def answer(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        print("%.3f %s %s" % (time.time(), self.command, self.path),
              flush=True)
        self.send_response(503)
        self.send_header("Retry-After", "3")
        self.send_header("Content-Length", "0")
        self.end_headers()
    do_GET = do_POST = answer
    def log_message(self, *args):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Busy)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
PY
	python3 "$tmp/busy.py" "$pki/localhost.pem" "$pki/localhost.key" \
	    >"$tmp/busy.log" 2>&1 &
	pid_c=$!
	until_ok 10 test -s "$tmp/busy.log" || fatal "busy server" "$tmp/busy.log"
	url_c=https://localhost:$(head -n 1 "$tmp/busy.log")/
	mark=$(wc -l <"$tmp/agent.log")
	"$agent_bin" --config "$tmp/agent.conf" --collector "$url_c $url_a" \
	    >>"$tmp/agent.log" 2>&1 &
	agent_pid=$!
	until_ok 10 test -S "$sock" || fatal "agent did not start" "$tmp/agent.log"
	"$cli" event send --socket "$sock" --drop-dir "$tmp/drop" \
	    --message "after a busy collector" >/dev/null
	check "drained to A after C's 503" drained
	done_at=$(date +%s.%N)
	first_503=$(sed -n '2{s/ .*//;p}' "$tmp/busy.log")
	check "C was asked first (POST /v1/events)" \
	    grep -q "^[0-9.]* POST /v1/events\$" "$tmp/busy.log"
	check "the move from C to A logged once" test "$(tail -n +$((mark + 1)) \
	    "$tmp/agent.log" | grep -c "collector $url_c failing (collector \
answered HTTP 503 (busy)); trying $url_a\$")" = 1
	check "Retry-After: 3 honoured before asking A ($first_503 -> $done_at)" \
	    awk -v a="$first_503" -v b="$done_at" 'BEGIN { exit !(b - a >= 2.9) }'
	eq "status: the collector in use is A" "$(jstr collector)" "$url_a"
	stored_once "C busy"
	check "policy fetch: C busy, A next" until_ok 10 logged_since "$mark" \
	    "policy fetch from $url_c: collector answered HTTP 503; trying $url_a next"
	check "policy fetch: A answers, after C's Retry-After" until_ok 10 \
	    logged_since "$mark" \
	    "policy fetch from $url_a: nothing published for group failover"
	check "... and C was asked by the fetcher once" test \
	    "$(grep -c " GET /v1/policy/bundle?group=failover&have=0\$" \
	    "$tmp/busy.log")" = 1
	kill "$agent_pid"
	wait "$agent_pid"
	rc=$?
	agent_pid=
	eq "agent stops cleanly" "$rc" 0
	kill "$pid_c"
	wait "$pid_c" 2>/dev/null
	pid_c=
else
	echo "  no python3: the busy collector part skipped"
fi

# --- 5. clean stop, clean logs -------------------------------------------------------
kill "$pid_a"
wait "$pid_a"
rc=$?
pid_a=
eq "collector A stops cleanly" "$rc" 0
check "no sanitizer report" sh -c "! grep -q 'Sanitizer\|runtime error' \
    '$tmp/agent.log' '$tmp'/[ab].*.log"
if [ -n "$db_password" ]; then
	check "no database password in any log" sh -c "! grep -qF -- \
	    '$db_password' '$tmp/agent.log' '$tmp'/[ab].*.log"
fi
echo "events: $(q "SELECT count(*) FROM events WHERE agent_id = 'zeimu-pc01'")," \
    "agent log: $(wc -l <"$tmp/agent.log") lines"
grep -E "collector .*(unreachable|failing|reachable)|policy fetch" \
    "$tmp/agent.log" | sed 's/^/  /'
finish
