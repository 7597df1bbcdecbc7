#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# mynaguard-review against a real mynaguard-collector on 127.0.0.1, with
# real certificates (tools/mkcerts.sh: CA, server, terminals, a reviewer)
# and real signed records (mkrecord): the three output formats for a known
# event set, each filter, paging with --all, show, terminals, alerts,
# export, and the refusals (terminal certificate, wrong CA, expired).
# With MG_TEST_PG=1, the collector's database is a PostgreSQL cluster of
# its own (pg_mode.sh).
#
# Usage: review_cli.sh REVIEW COLLECTOR MKRECORD SOURCE_DIR   (77: cannot run)
set -euo pipefail
export LC_ALL=C.UTF-8 TZ=UTC0

review=$1 collector=$2 mkrecord=$3 src=$4
# shellcheck source=pg_mode.sh
. "$src/tests/integration/pg_mode.sh"
for tool in curl openssl python3; do
	command -v "$tool" >/dev/null || { echo "SKIP: no $tool"; exit 77; }
done
[ -x "$src/tools/mkcerts.sh" ] || { echo "SKIP: no tools/mkcerts.sh"; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/review_cli.XXXXXX")
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
pg_mode_start review_cli "$tmp/collector.db"

fails=0 checks=0
ok() { checks=$((checks + 1)); echo "ok: $*"; }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*"; }
check() { # check DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}

pki=$tmp/pki
mk() { "$src/tools/mkcerts.sh" "$@" >/dev/null; }
mk ca "$pki"
mk server "$pki" localhost
mk terminal "$pki" term-a
mk terminal "$pki" term-b
mk reviewer "$pki" alice
mk expired "$pki" alice2
mk wrongca "$pki" alice3

conf=$tmp/collector.conf
cat >"$conf" <<EOF
[Collector]
Listen = 127.0.0.1
Certificate = $pki/localhost.pem
Key = $pki/localhost.key
CA = $pki/ca.pem
Database = $db
Threads = 2
EOF
chmod 0644 "$conf"
log=$tmp/collector.log
"$collector" --config "$conf" --port 0 --foreground 2>"$log" &
pid=$!
port=
for _ in $(seq 100); do
	port=$(sed -n 's/^<6>listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' \
	    "$log")
	[ -n "$port" ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$port" ]; then
	cat "$log"
	echo "FAIL: the collector did not start"
	exit 1
fi
url=https://localhost:$port

# The review API may not be there yet (it is written separately).
s=$(curl -sS -o "$tmp/probe" -w '%{http_code}' --cacert "$pki/ca.pem" \
    --cert "$pki/alice.pem" --key "$pki/alice.key" \
    "$url/v1/review/events?limit=1" 2>/dev/null || true)
if [ "$s" != 200 ]; then
	echo "SKIP: the collector has no review API yet" \
	    "(GET /v1/review/events: HTTP $s: $(head -c 200 "$tmp/probe"))"
	exit 77
fi

# --- the event set -----------------------------------------------------------
# term-a: 5 events, term-b: 2 (and then a gap, for an alert).  Times are
# 2026-11-29T00:00:0N UTC; bodies are kept to compare NDJSON byte for byte.
t0=1795910400	# 2026-11-29T00:00:00Z
body() { # body N ACTION OUTCOME USER EXTRA-JSON
	printf '{"@timestamp":"2026-11-29T00:00:0%d.000000000Z",' "$1"
	printf '"event":{"action":"%s","outcome":"%s"}' "$2" "$3"
	[ -n "$4" ] && printf ',"user":{"name":"%s"}' "$4"
	printf '%s}' "$5"
}
post() { # post TERMINAL FILE
	curl -sS -o /dev/null -w '%{http_code}' --cacert "$pki/ca.pem" \
	    --cert "$pki/$1.pem" --key "$pki/$1.key" --data-binary "@$2" \
	    -H 'Content-Type: application/vnd.mynaguard.events.v1' \
	    "$url/v1/events"
}
prev=0000000000000000000000000000000000000000000000000000000000000000
emit() { # emit TERMINAL SEQ TIME-N BODY
	"$mkrecord" --key "$pki/$1.key" --cert "$pki/$1.pem" --seq "$2" \
	    --t-wall-ns "$(( (t0 + $3) * 1000000000 ))" --prev-hash "$prev" \
	    --body "$4" --print-hash >>"$tmp/$1.rec" 2>"$tmp/hash"
	prev=$(cat "$tmp/hash")
	printf '%s\n' "$4" >>"$tmp/$1.bodies"
}
emit term-a 1 1 "$(body 1 login-failed failure taro \
    ',"message":"ログイン失敗 税務課の端末"')"
emit term-a 2 2 "$(body 2 device-blocked failure taro \
    ',"mynaguard":{"device":{"vendor":"=cmd|'"'"' /C calc'"'"'!A0","product":"USB\u001b[2Jメモリ","serial":"SN\u202eexe.txt"}}')"
emit term-a 3 3 "$(body 3 login success hanako \
    ',"message":"ok, \"quoted\"\r\nnext line"')"
emit term-a 4 4 "$(body 4 device-allowed success hanako \
    ',"mynaguard":{"device":{"vendor":"Acme","product":"Stick","serial":"SER123"}}')"
emit term-a 5 5 "$(body 5 login-failed failure jiro ',"message":"-1+1"')"
prev=0000000000000000000000000000000000000000000000000000000000000000
emit term-b 1 6 "$(body 6 login success hanako ',"message":"b1"')"
emit term-b 2 7 "$(body 7 device-blocked failure "" ',"message":"b2"')"
check "term-a's 5 records accepted" test "$(post term-a "$tmp/term-a.rec")" = 200
check "term-b's 2 records accepted" test "$(post term-b "$tmp/term-b.rec")" = 200

R() { "$review" --url "$url" --ca "$pki/ca.pem" --cert "$pki/alice.pem" \
    --key "$pki/alice.key" "$@"; }
rows() { tail -n +2 "$1" | grep -c . || true; }	# table rows

# --- table ---------------------------------------------------------------------
R events >"$tmp/t" 2>"$tmp/err" && rc=0 || rc=$?
check "events: exit 0" test "$rc" -eq 0
check "table: Japanese header" grep -q '^ID  *日時  *端末  *種別  *結果  *利用者  *検証  *詳細$' "$tmp/t"
check "table: 7 rows" test "$(rows "$tmp/t")" -eq 7
check "table: newest first" grep -q '^[0-9]* *2026-11-29 00:00:07 *term-b' \
    <(sed -n 2p "$tmp/t")
check "table: message shown" grep -q 'ログイン失敗 税務課の端末' "$tmp/t"
check "table: outcome in Japanese" grep -q 'login-failed  *失敗  *taro' "$tmp/t"
check "table: no raw control character" \
    test "$(tr -d '\n' <"$tmp/t" | LC_ALL=C grep -c '[[:cntrl:]]' || true)" = 0
check "table: ESC shown as \\x1b" grep -qF 'USB\x1b[2Jメモリ' "$tmp/t"
check "table: RLO shown as ?" grep -qF 'SN?exe.txt' "$tmp/t"
check "table: CR LF escaped" grep -qF 'ok, "quoted"\x0d\x0anext line' "$tmp/t"
# Every row's 種別 column starts at the same display column.
check "table: aligned by display width" python3 - "$tmp/t" <<'EOF'
import sys, unicodedata
def w(s):
    return sum(2 if unicodedata.east_asian_width(c) in 'WF' else 1 for c in s)
lines = open(sys.argv[1], encoding='utf-8').read().splitlines()
head = lines[0]
col = w(head[:head.index('種別')])
for l in lines[1:]:
    for a in ('login-failed', 'device-blocked', 'login ', 'device-allowed'):
        if a in l:
            if w(l[:l.index(a)]) != col:
                sys.exit('misaligned: %r' % l)
            break
    else:
        sys.exit('no action in %r' % l)
EOF

# --- ndjson: the bodies as signed ----------------------------------------------
R --format ndjson events --terminal term-a >"$tmp/n"
check "ndjson: term-a's bodies byte for byte, newest first" \
    cmp -s "$tmp/n" <(tac "$tmp/term-a.bodies")
R events --format ndjson --terminal term-a --limit 2 --all >"$tmp/n2"
check "ndjson with --all over pages of 2: the same" cmp -s "$tmp/n" "$tmp/n2"

# --- csv ---------------------------------------------------------------------------
R events --format csv >"$tmp/c"
check "csv: UTF-8 BOM first" test "$(head -c 3 "$tmp/c" | od -An -tx1 | tr -d ' ')" = efbbbf
check "csv: header" grep -q $'^\xef\xbb\xbfID,日時,日時(UTC),端末,連番,種別,結果,利用者,検証,詳細\r$' "$tmp/c"
check "csv: every line ends in CRLF" python3 - "$tmp/c" <<'EOF'
import sys
d = open(sys.argv[1], 'rb').read()
# 8 records (header + 7); one field holds a quoted CR LF of its own.
sys.exit(0 if d.endswith(b'\r\n') and d.count(b'\r\n') == 9 and
         d.replace(b'\r\n', b'').count(b'\n') == 0 else 1)
EOF
check "csv: formula neutralised" grep -qF "'=cmd|' /C calc'!A0 USB?[2Jメモリ" "$tmp/c"
check "csv: leading - neutralised" grep -qF ",'-1+1" "$tmp/c"
check "csv: quotes doubled, CR LF kept inside quotes" \
    grep -qF '"ok, ""quoted""' "$tmp/c"
check "csv: parses back with 10 fields a row" python3 - "$tmp/c" <<'EOF'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], encoding='utf-8-sig', newline='')))
sys.exit(0 if len(rows) == 8 and all(len(r) == 10 for r in rows) else 1)
EOF

# --- filters --------------------------------------------------------------------------
n() { R events "$@" >"$tmp/f" 2>"$tmp/ferr" && rows "$tmp/f"; }
check "--terminal term-b: 2" test "$(n --terminal term-b)" = 2
check "--user hanako: 3" test "$(n --user hanako)" = 3
check "--action device-blocked: 2" test "$(n --action device-blocked)" = 2
check "--outcome success: 3" test "$(n --outcome success)" = 3
check "--serial SER123: 1" test "$(n --serial SER123)" = 1
check "--text 税務課: 1" test "$(n --text 税務課)" = 1
check "--text with & and =: 0, no injection" \
    test "$(n --text 'x&terminal=term-b')" = 0
check "--since/--until RFC 3339: 3" test "$(n \
    --since 2026-11-29T09:00:02+09:00 --until 2026-11-29T00:00:05Z)" = 3
check "--since DATE (local midnight): 7" test "$(n --since 2026-11-29)" = 7
check "--until DATE: 0" test "$(n --until 2026-11-29)" = 0
check "--terminal term-a --outcome failure --user taro: 2" \
    test "$(n --terminal term-a --outcome failure --user taro)" = 2

# --- paging ------------------------------------------------------------------------------
check "--limit 3: one page of 3" test "$(n --limit 3)" = 3
check "--limit 3: says there is more" grep -q 'more' "$tmp/ferr"
check "--limit 3 --all: all 7" test "$(n --limit 3 --all)" = 7
check "--limit 1 --all: all 7, none twice" \
    test "$(R events --limit 1 --all | tail -n +2 | sort -u | grep -c .)" = 7

# --- timeline ------------------------------------------------------------------------------
R timeline --terminal term-a --limit 2 --all >"$tmp/tl"
check "timeline: 5 events of term-a" test "$(rows "$tmp/tl")" = 5
check "timeline: oldest first" \
    test "$(tail -n +2 "$tmp/tl" | awk '{print $3}' | tr '\n' ' ')" = \
    "00:00:01 00:00:02 00:00:03 00:00:04 00:00:05 "
check "timeline --user hanako: 3" \
    test "$(R timeline --user hanako | tail -n +2 | grep -c .)" = 3
R timeline >/dev/null 2>&1 && rc=0 || rc=$?
check "timeline without --terminal/--user: exit 2" test "$rc" = 2

# --- show, terminals ------------------------------------------------------------------------
id=$(R events --terminal term-a --limit 1 | awk 'NR == 2 {print $1}')
R show "$id" >"$tmp/show"
check "show: the event" grep -q '^端末  *term-a$' "$tmp/show"
check "show: signature valid" grep -q '^署名  *valid$' "$tmp/show"
check "show: chain" grep -Eq '^連鎖  *(first|linked)$' "$tmp/show"
check "show: body flattened" grep -q '^user.name  *jiro$' "$tmp/show"
R show --format ndjson "$id" >"$tmp/shown"
check "show --format ndjson: the body" cmp -s "$tmp/shown" <(tail -n 1 "$tmp/term-a.bodies")
R show 999999 >/dev/null 2>"$tmp/err" && rc=0 || rc=$?
check "show of no such id: exit 1" test "$rc" = 1
check "... with HTTP 404 and the sentence" grep -q '^mynaguard-review: HTTP 404: ' "$tmp/err"
R terminals >"$tmp/terms"
check "terminals: both" test "$(grep -c '^term-[ab] ' "$tmp/terms")" = 2

# --- alerts: a gap in term-b's sequence --------------------------------------------------------
"$mkrecord" --key "$pki/term-b.key" --cert "$pki/term-b.pem" --seq 5 \
    --t-wall-ns "$(( (t0 + 8) * 1000000000 ))" >"$tmp/gap.rec"
check "term-b seq 5 (after 2) accepted" test "$(post term-b "$tmp/gap.rec")" = 200
R alerts --terminal term-b >"$tmp/al"
check "alerts: the gap" grep -q 'term-b  *gap ' "$tmp/al"
R alerts --format ndjson >"$tmp/aln"
check "alerts ndjson: JSON objects" python3 -c '
import json, sys
[json.loads(l) for l in open(sys.argv[1])]' "$tmp/aln"

# --- export ------------------------------------------------------------------------------------
R export --terminal term-a -o "$tmp/export.ndjson"
curl -sS --cacert "$pki/ca.pem" --cert "$pki/alice.pem" --key "$pki/alice.key" \
    "$url/v1/review/export?terminal=term-a" >"$tmp/export.curl"
check "export: byte for byte what the collector sends" \
    cmp -s "$tmp/export.ndjson" "$tmp/export.curl"
check "export: a certificate and 5 records" test \
    "$(grep -c '"kind": *"record"' "$tmp/export.ndjson")" = 5
check "export: no temporary file left" \
    test "$(ls "$tmp" | grep -c '^export.ndjson.')" = 0
R export >/dev/null 2>&1 && rc=0 || rc=$?
check "export without -o: exit 2" test "$rc" = 2

# --- refusals, explained ----------------------------------------------------------------------
"$review" --url "$url" --ca "$pki/ca.pem" --cert "$pki/term-a.pem" \
    --key "$pki/term-a.key" events >/dev/null 2>"$tmp/err" && rc=0 || rc=$?
check "terminal certificate: exit 1" test "$rc" = 1
check "... HTTP 403 shown" grep -q 'HTTP 403' "$tmp/err"
check "... explained" grep -q 'this certificate is not a reviewer certificate (it has OU=terminal)' "$tmp/err"
"$review" --url "$url" --ca "$pki/wrongca/ca.pem" --cert "$pki/alice.pem" \
    --key "$pki/alice.key" events >/dev/null 2>"$tmp/err" && rc=0 || rc=$?
check "wrong CA for the collector: exit 1" test "$rc" = 1
check "... explained" grep -q "collector's certificate was not issued by the CA" "$tmp/err"
"$review" --url "$url" --ca "$pki/ca.pem" --cert "$pki/alice3-wrongca.pem" \
    --key "$pki/alice3-wrongca.key" events >/dev/null 2>"$tmp/err" && rc=0 || rc=$?
check "client certificate of another CA: exit 1" test "$rc" = 1
check "... explained" grep -q 'alice3-wrongca.pem was not issued by the town CA' "$tmp/err"
"$review" --url "$url" --ca "$pki/ca.pem" --cert "$pki/alice2-expired.pem" \
    --key "$pki/alice2-expired.key" events >/dev/null 2>"$tmp/err" && rc=0 || rc=$?
check "expired certificate: exit 1" test "$rc" = 1
check "... explained" grep -q 'has expired' "$tmp/err"
"$review" --url "https://127.0.0.1:1" --ca "$pki/ca.pem" --cert "$pki/alice.pem" \
    --key "$pki/alice.key" terminals >/dev/null 2>"$tmp/err" && rc=0 || rc=$?
check "no collector there: exit 2" test "$rc" = 2

# --- configuration file, usage ------------------------------------------------------------------
printf '[Review]\nURL = %s\nCA = %s\nCertificate = %s\nKey = %s\n' "$url" \
    "$pki/ca.pem" "$pki/alice.pem" "$pki/alice.key" >"$tmp/review.conf"
check "settings from --config" "$review" --config "$tmp/review.conf" terminals
printf '[Review]\nURL = %s\nBogus = 1\n' "$url" >"$tmp/bad.conf"
"$review" --config "$tmp/bad.conf" terminals >/dev/null 2>&1 && rc=0 || rc=$?
check "unknown key in the settings: exit 2" test "$rc" = 2
for bad in "--since yesterday" "--format xml" "--limit 0" "--outcome maybe" \
    "--bogus"; do
	# shellcheck disable=SC2086
	R events $bad >/dev/null 2>&1 && rc=0 || rc=$?
	check "events $bad: exit 2" test "$rc" = 2
done
R terminals --terminal x >/dev/null 2>&1 && rc=0 || rc=$?
check "terminals --terminal: exit 2" test "$rc" = 2
check "--help: exit 0" "$review" --help

check "the database refused no statement" pg_mode_log_clean "$log"
echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ]
