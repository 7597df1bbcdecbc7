#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The review API (docs/review-api.md) over loopback TLS: real certificates
# (tools/mkcerts.sh), real signed records (mkrecord), a real SQLite file
# (with MG_TEST_PG=1: a real PostgreSQL cluster, tests/integration/
# pg_mode.sh).  A known event set; each endpoint and filter must return
# exactly the expected events; role separation both ways; bad parameters;
# verification fields; the export; the v1 -> v2 migration of an existing
# database (SQLite only).
#
# Usage: collector_review.sh COLLECTOR MKRECORD SOURCE_DIR   (77: cannot run)
set -euo pipefail
export LC_ALL=C

collector=$1 mkrecord=$2 src=$3
# shellcheck source=pg_mode.sh
. "$src/tests/integration/pg_mode.sh"
for tool in curl openssl jq "$(pg_mode_tools)" base64 cmp; do
	command -v "$tool" >/dev/null || { echo "SKIP: no $tool"; exit 77; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/collector_review.XXXXXX")
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	pg_mode_stop
	rm -rf -- "$tmp"
}
trap cleanup EXIT

fails=0 checks=0
ok() { checks=$((checks + 1)); echo "ok: $*"; }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
eq() { # eq DESCRIPTION GOT WANT
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got '$2', want '$3'"; fi
}

pki=$tmp/pki
mk() { "$src/tools/mkcerts.sh" "$@" >/dev/null; }
mk ca "$pki"
mk server "$pki" localhost
mk terminal "$pki" term-001
mk terminal "$pki" term-002
mk terminal "$pki" term-003
mk reviewer "$pki" alice

# --- a v1 database, as the previous collector made it ----------------------------
pg_mode_start collector_review "$tmp/collector.db"
# An old terminal's event, from before the review API.
old_pc="INSERT INTO events(agent_id, seq, boot_id, flags, t_wall_ns,
    received_ns, hash, prev_hash, body, record, verified) VALUES('old-pc',
    1, 1, 0, 1000000000, 1000000000, $(db_blob 00), $(db_blob 00),
    '{\"event\":{\"action\":\"login\",\"outcome\":\"success\"},\"user\":{\"name\":\"oldie\"},\"mynaguard\":{\"device\":{\"serial\":\"OLD1\"}}}',
    $(db_blob 01), 1);
    INSERT INTO agents VALUES('old-pc', 2, $(db_blob 00), 1000000000);"
if sqlite_only "a v1 database file migrated at start"; then
	sed -n '/^static const char schema_v1\[\] =/,/PRAGMA user_version = 1;/p' \
	    "$src/collector/schema.c" | sed -e '1d' -e 's/^ *"//' -e 's/"; *$//' \
	    -e 's/" *$//' -e '/^ *\/\*/d' -e '/^\t *\*/d' >"$tmp/v1.sql"
	sqlite3 "$db" <"$tmp/v1.sql"
	eq "a v1 database made" "$(sqlite3 "$db" 'PRAGMA user_version')" 1
	dbq "$old_pc"
fi

conf=$tmp/collector.conf
{
	echo "[Collector]"
	echo "Listen = 127.0.0.1"
	echo "Certificate = $pki/localhost.pem"
	echo "Key = $pki/localhost.key"
	echo "CA = $pki/ca.pem"
	echo "Database = $db"
	echo "Threads = 2"
	echo "[Review]"
	echo "SilentAfter = 1d"
} >"$conf"
chmod 0644 "$conf"
check "check-config accepts [Review]" \
    "$collector" --config "$conf" --check-config

log=$tmp/collector.log
"$collector" --config "$conf" --port 0 --foreground 2>"$log" &
pid=$!
port=
for _ in $(seq 100); do
	port=$(sed -n 's/^<6>listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$log")
	[ -n "$port" ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$port" ]; then cat "$log"; echo "FAIL: no start"; exit 1; fi
url=https://localhost:$port

if sqlite_only "schema version of the migrated file"; then
	eq "migrated to v2 and on (v3: policy bundles, v4: Merkle log)" \
	    "$(sqlite3 "$db" 'PRAGMA user_version')" 4
else
	dbq "$old_pc" # into the schema the collector made
fi
eq "old data kept, new columns work" "$(dbq \
    "SELECT agent_id, outcome, dev_serial FROM events")" "old-pc|success|OLD1"
eq "certificates table exists" \
    "$(dbq 'SELECT count(*) FROM certificates')" 0

req() { # req CERT PATH [curl args]: status; body in $tmp/out
	local cert=$1 path=$2
	shift 2
	curl -sS -o "$tmp/out" -w '%{http_code}' --cacert "$pki/ca.pem" \
	    --cert "$pki/$cert.pem" --key "$pki/$cert.key" "$@" "$url$path" \
	    2>"$tmp/curl.err" || true
}
get() { req alice "$@"; }
post() { # post CERT FILE
	req "$1" /v1/events --data-binary "@$2" \
	    -H 'Content-Type: application/vnd.mynaguard.events.v1'
}

# --- the known event set ---------------------------------------------------------
hostile='"><script>alert(1)</script>'
T0=1798761600000000000 # 2027-01-01T00:00:00Z
prev=
mkr() { # mkr TERM SEQ SECONDS ACTION OUTCOME USER SERIAL [extra mkrecord args]
	local term=$1 seq=$2 t=$(( T0 + $3 * 1000000000 )) body
	body=$(jq -cn --arg a "$4" --arg o "$5" --arg u "$6" --arg s "$7" \
	    '{"@timestamp":"x","event":{action:$a,outcome:$o}}
	    + (if $u == "" then {} else {user:{name:$u}} end)
	    + (if $s == "" then {} else {mynaguard:{device:{serial:$s}}} end)')
	shift 7
	"$mkrecord" --key "$pki/$term.key" --cert "$pki/$term.pem" --seq "$seq" \
	    --t-wall-ns "$t" --body "$body" --print-hash ${prev:+--prev-hash "$prev"} \
	    "$@" >"$tmp/rec" 2>"$tmp/hash"
	prev=$(cat "$tmp/hash")
	cp "$tmp/rec" "$tmp/rec-$term-$seq"
	eq "POST $term seq $seq" "$(post "$term" "$tmp/rec")" 200
}
prev=; mkr term-001 1 1 login-failed failure taro ""
mkr term-001 2 2 login success taro ""
mkr term-001 3 3 device-blocked failure hanako "$hostile"
prev=; mkr term-002 1 4 login success hanako ""
mkr term-002 2 5 device-blocked failure "" ABC123
# seq 3 never sent: a gap before 4; seq 5 links to nothing: a chain break
mkr term-002 4 6 device-allowed success jiro ABC123
prev=0000000000000000000000000000000000000000000000000000000000000000
mkr term-002 5 7 login success jiro ""

ids() { jq -c '[.events[] | [.agent_id, .seq]]' "$tmp/out"; }
q() { # q DESCRIPTION QUERY EXPECTED-[[agent,seq],...]
	local s
	s=$(get "/v1/review/events$2")
	if [ "$s" != 200 ]; then bad "$1: status $s: $(cat "$tmp/out")"; return; fi
	eq "$1" "$(ids)" "$3"
}
q "all events newest first" "" \
    '[["term-002",5],["term-002",4],["term-002",2],["term-002",1],["term-001",3],["term-001",2],["term-001",1],["old-pc",1]]'
q "terminal" "?terminal=term-001" '[["term-001",3],["term-001",2],["term-001",1]]'
q "user" "?user=taro" '[["term-001",2],["term-001",1]]'
q "action" "?action=device-blocked" '[["term-002",2],["term-001",3]]'
q "outcome" "?outcome=failure" '[["term-002",2],["term-001",3],["term-001",1]]'
q "serial" "?serial=ABC123" '[["term-002",4],["term-002",2]]'
q "since/until" "?since=2027-01-01T00:00:02Z&until=2027-01-01T00:00:04.000000000Z" \
    '[["term-001",3],["term-001",2]]'
q "since with an offset" "?since=2027-01-01T09:00:06%2B09:00" \
    '[["term-002",5],["term-002",4]]'
q "q substring" "?q=hanako" '[["term-002",1],["term-001",3]]'
q "empty value = absent" "?terminal=&user=jiro" '[["term-002",5],["term-002",4]]'
q "filters combine" "?terminal=term-002&outcome=success&user=jiro" \
    '[["term-002",5],["term-002",4]]'
q "hostile serial, URL-encoded" \
    "?serial=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E" '[["term-001",3]]'
eq "hostile serial comes back byte-exact" \
    "$(jq -r '.events[0].body.mynaguard.device.serial' "$tmp/out")" "$hostile"
check "hostile serial is JSON-escaped on the wire" \
    grep -qF '"\"><script>alert(1)</script>"' "$tmp/out"
eq "EVENT fields" "$(jq -c '.events[0] | [.agent_id,.seq,.time,.action,.outcome,.user,.critical,.verified]' "$tmp/out")" \
    '["term-001",3,"2027-01-01T00:00:03.000000000Z","device-blocked","failure","hanako",false,true]'
q "no user: null" "?serial=ABC123&user=" '[["term-002",4],["term-002",2]]'
eq "user null" "$(jq -c '.events[1].user' "$tmp/out")" null

# paging
get "/v1/review/events?limit=3" >/dev/null
eq "page 1" "$(ids)" '[["term-002",5],["term-002",4],["term-002",2]]'
nb=$(jq .next_before "$tmp/out")
get "/v1/review/events?limit=3&before=$nb" >/dev/null
eq "page 2" "$(ids)" '[["term-002",1],["term-001",3],["term-001",2]]'
nb=$(jq .next_before "$tmp/out")
get "/v1/review/events?limit=3&before=$nb" >/dev/null
eq "page 3" "$(ids)" '[["term-001",1],["old-pc",1]]'
eq "last page: next_before null" "$(jq .next_before "$tmp/out")" null

# timeline
get "/v1/review/timeline?user=hanako" >/dev/null
eq "timeline by user, ascending" "$(ids)" '[["term-001",3],["term-002",1]]'
get "/v1/review/timeline?terminal=term-002&limit=2" >/dev/null
eq "timeline page 1" "$(ids)" '[["term-002",1],["term-002",2]]'
na=$(jq .next_after "$tmp/out")
get "/v1/review/timeline?terminal=term-002&limit=2&after=$na" >/dev/null
eq "timeline page 2" "$(ids)" '[["term-002",4],["term-002",5]]'
eq "timeline end" "$(jq .next_after "$tmp/out")" null

# bad parameters
badp() { # badp QUERY PARAM
	local s
	s=$(get "$1")
	if [ "$s" = 400 ] && jq -e --arg p "'$2'" '.error | contains($p)' \
	    "$tmp/out" >/dev/null; then
		ok "400 naming $2: $1"
	else
		bad "$1: $s $(cat "$tmp/out")"
	fi
}
badp "/v1/review/events?bogus=1" bogus
badp "/v1/review/events?limit=0" limit
badp "/v1/review/events?limit=1001" limit
badp "/v1/review/events?limit=x" limit
badp "/v1/review/events?since=2027-02-30T00:00:00Z" since
badp "/v1/review/events?until=yesterday" until
badp "/v1/review/events?since=2027-01-01T00:00:00" since
badp "/v1/review/events?outcome=maybe" outcome
badp "/v1/review/events?before=-1" before
badp "/v1/review/events?user=a&user=b" user
badp "/v1/review/events?q=$(printf 'a%.0s' $(seq 257))" q
badp "/v1/review/timeline?action=login&user=x" action
badp "/v1/review/alerts?serial=1" serial
s=$(get "/v1/review/timeline?user=a&terminal=b")
eq "timeline with both terminal and user: 400" "$s" 400
eq "unknown path: 404" "$(get /v1/review/nothing)" 404
eq "POST on review: 405" "$(get /v1/review/events -X POST -d x)" 405
eq "HEAD on events: 200" "$(get /v1/review/events -I)" 200
check "Content-Type json" grep -qi 'content-type: application/json; charset=utf-8' "$tmp/out"

# role separation
eq "terminal certificate on /v1/review/events: 403" \
    "$(req term-001 /v1/review/events)" 403
eq "terminal certificate on /v1/review/export: 403" \
    "$(req term-001 /v1/review/export)" 403
eq "reviewer certificate on POST /v1/events: 403" \
    "$(post alice "$tmp/rec-term-001-1")" 403
s=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$pki/ca.pem" \
    "$url/v1/review/events" 2>/dev/null || true)
check "no certificate: refused ($s)" test "$s" = 403 -o "$s" = 000

# one event and its verification
id_of() { # id_of TERM SEQ
	dbq "SELECT id FROM events WHERE agent_id='$1' AND seq=$2"
}
one() { # one DESCRIPTION TERM SEQ CHAIN
	local id
	id=$(id_of "$2" "$3")
	eq "$1: 200" "$(get "/v1/review/events/$id")" 200
	eq "$1" "$(jq -c '[.event.id, .event.verification.signature, .event.verification.chain]' "$tmp/out")" \
	    "[$id,\"valid\",\"$4\"]"
}
one "seq 1 is first" term-001 1 first
one "seq 2 is linked" term-001 2 linked
one "seq 4 after a gap" term-002 4 gap
one "seq 5 is a chain break" term-002 5 break
id=$(id_of term-001 3)
get "/v1/review/events/$id" >/dev/null
jq -r .event.record "$tmp/out" | base64 -d >"$tmp/rec-back"
check "record decodes back to the posted bytes" cmp -s "$tmp/rec-back" "$tmp/rec-term-001-3"
eq "hash is the record hash (hex)" "$(jq -r .event.hash "$tmp/out")" \
    "$(dbq "SELECT $(db_hex hash) FROM events WHERE id=$id")"
eq "no such event: 404" "$(get /v1/review/events/999999)" 404
eq "bad id: 404" "$(get /v1/review/events/abc)" 404

# alerts
eq "alerts: 200" "$(get /v1/review/alerts)" 200
eq "stored gap, chain-break and blocked-medium alerts of term-002" \
    "$(jq -c '[.alerts[] | select(.id != null and .agent_id == "term-002") | .type] | unique' "$tmp/out")" \
    '["chain-break","gap","media-blocked"]'
eq "one silent alert (old-pc, SilentAfter=1d)" \
    "$(jq -c '[.alerts[] | select(.type == "silent") | [.agent_id, .id, .severity, (.silent_seconds > 86400)]]' "$tmp/out")" \
    '[["old-pc",null,4,true]]'
get "/v1/review/alerts?type=gap" >/dev/null
eq "alerts by type" "$(jq -c '[.alerts[] | [.agent_id,.type,.seq_from,.seq_to]]' "$tmp/out")" \
    '[["term-002","gap",3,3]]'
get "/v1/review/alerts?terminal=term-001" >/dev/null
# Its only alert is the device-blocked event (a security event raised as an
# alert), and its detail keeps the hostile serial as data.
eq "term-001: one media-blocked alert, the hostile serial as sent" \
    "$(jq -c '[.alerts[] | [.type, .seq_from, (.detail | fromjson | .serial)]]' "$tmp/out")" \
    "$(jq -cn --arg s "$hostile" '[["media-blocked",3,$s]]')"
get "/v1/review/alerts?limit=1" >/dev/null
check "alerts paging: next_before set" jq -e '.next_before | numbers' "$tmp/out"

# terminals
eq "terminals: 200" "$(get /v1/review/terminals)" 200
eq "terminals list" "$(jq -c '[.terminals[] | [.agent_id, .silent, .next_seq, .state]]' "$tmp/out")" \
    '[["old-pc",true,2,null],["term-001",false,4,null],["term-002",false,6,null]]'

# export
eq "export: 200" "$(get /v1/review/export)" 200
eq "export: certificates first, one per terminal" \
    "$(jq -sc '[.[] | select(.kind == "certificate") | .agent_id]' "$tmp/out")" \
    '["term-001","term-002"]'
jq -r 'select(.kind == "certificate" and .agent_id == "term-001") | .pem' \
    "$tmp/out" >"$tmp/cert.pem"
check "exported certificate is term-001's" \
    cmp -s <(openssl x509 -in "$tmp/cert.pem" -outform DER) \
    <(openssl x509 -in "$pki/term-001.pem" -outform DER)
eq "export: records in (agent, seq) order" \
    "$(jq -sc '[.[] | select(.kind == "record") | [.agent_id, .seq]]' "$tmp/out")" \
    '[["old-pc",1],["term-001",1],["term-001",2],["term-001",3],["term-002",1],["term-002",2],["term-002",4],["term-002",5]]'
jq -r 'select(.kind == "record" and .agent_id == "term-002" and .seq == 4) | .record' \
    "$tmp/out" | base64 -d >"$tmp/rec-back"
check "exported record decodes back to the posted bytes" \
    cmp -s "$tmp/rec-back" "$tmp/rec-term-002-4"
eq "export?terminal=term-001" "$(get '/v1/review/export?terminal=term-001')" 200
eq "... only term-001" "$(jq -sc '[.[] | .agent_id] | unique' "$tmp/out")" '["term-001"]'
check "export Content-Type NDJSON" sh -c "curl -sS -o /dev/null -D - --cacert '$pki/ca.pem' --cert '$pki/alice.pem' --key '$pki/alice.key' '$url/v1/review/export' | grep -qi 'content-type: application/x-ndjson'"
eq "export until the past: 200" \
    "$(get '/v1/review/export?until=1970-01-01T00:00:01Z')" 200
eq "... and empty" "$(wc -c <"$tmp/out")" 0
eq "export since now: 200" "$(get "/v1/review/export?since=$(date -u -d '+1 min' +%Y-%m-%dT%H:%M:%SZ)")" 200
eq "... and empty" "$(cat "$tmp/out")" ""

# loss records (collector/loss.c): term-003 drops 3..5 for lack of spool,
# sends 6 (a gap and a chain break), then the signed loss record 7 that
# explains both.
lrec() { # lrec SEQ PREV [mkrecord args]: $tmp/l-SEQ, its hash in l-SEQ.hash
	local seq=$1 prev=$2
	shift 2
	"$mkrecord" --key "$pki/term-003.key" --cert "$pki/term-003.pem" \
	    --seq "$seq" --t-wall-ns $((T0 + (10 + seq) * 1000000000)) \
	    --prev-hash "$prev" --print-hash "$@" >"$tmp/l-$seq" \
	    2>"$tmp/l-$seq.hash"
}
lrec 1 "$(printf '%064d' 0)"
for s in 2 3 4 5 6; do lrec "$s" "$(cat "$tmp/l-$((s - 1)).hash")"; done
lrec 7 "$(cat "$tmp/l-6.hash")" --flags 2 --body "$(jq -cn \
    --arg h "$(cat "$tmp/l-5.hash")" '{event:{action:"events-dropped",
    reason:"spool \"full\" \u00e9"}, mynaguard:{loss:{count:3,
    ranges:[{from:3, to:5, last_hash:$h}, {from:9, to:9}]}}}')"
cat "$tmp/l-1" "$tmp/l-2" "$tmp/l-6" >"$tmp/l-sent"
eq "term-003: seq 1, 2 and 6 accepted" "$(post term-003 "$tmp/l-sent")" 200
one "seq 6 after records dropped, before the loss record" term-003 6 gap
eq "term-003: the loss record accepted" "$(post term-003 "$tmp/l-7")" 200
get "/v1/review/alerts?terminal=term-003" >/dev/null
eq "term-003: gap and chain break explained by seq 7, one loss alert" \
    "$(jq -c '[.alerts[] | [.type, .seq_from, .seq_to, .explained_by]] | sort' "$tmp/out")" \
    '[["chain-break",6,6,7],["gap",3,5,7],["loss",3,5,null]]'
eq "... the loss alert says what the agent said" \
    "$(jq -c '.alerts[] | select(.type == "loss") | .detail | fromjson' "$tmp/out")" \
    '{"loss_seq":7,"count":3,"reason":"spool \"full\" é","invalid_ranges":1}'
one "seq 6 after the loss record" term-003 6 explained
one "the loss record itself" term-003 7 linked

# the local viewer still works
check "mynaguard-collector events still works" \
    "$collector" events --database "$db" --limit 3

# EXPLAIN QUERY PLAN of the review queries: test_review (unit test).
kill "$pid"
wait "$pid" 2>/dev/null || true
pid=
check_not_log() { if grep -q "$1" "$log"; then grep -A30 "$1" "$log"; bad "log has $1"; else ok "log has no $1"; fi; }
check_not_log 'Sanitizer'
check_not_log 'runtime error'
check "the database refused no statement" pg_mode_log_clean "$log"
echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ]
