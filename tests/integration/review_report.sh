#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The self-inspection report (自己点検) end to end: a real collector on
# 127.0.0.1 with mkcerts.sh certificates and a known event set of signed
# mkrecord records, then
#   - GET /v1/review/summary: every number for every terminal, exactly;
#   - mynaguard-review report --format csv: the 結果 and 対応する条項 of
#     every (terminal, check item);
#   - --format html: parses, renders the Japanese title, and no hostile
#     string from a record (device serial and product, user name, the
#     terminal's mismatch words) reaches it unescaped.
# With MG_TEST_PG=1, the collector's database is a PostgreSQL cluster of
# its own (pg_mode.sh).
#
# Usage: review_report.sh REVIEW COLLECTOR MKRECORD SOURCE_DIR  (77: cannot run)
set -euo pipefail
export LC_ALL=C.UTF-8 TZ=Asia/Tokyo

review=$1 collector=$2 mkrecord=$3 src=$4
# shellcheck source=pg_mode.sh
. "$src/tests/integration/pg_mode.sh"
for tool in curl openssl jq "$(pg_mode_tools)" python3; do
	command -v "$tool" >/dev/null || { echo "SKIP: no $tool"; exit 77; }
done
[ -x "$src/tools/mkcerts.sh" ] || { echo "SKIP: no tools/mkcerts.sh"; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/review_report.XXXXXX")
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
for t in term-a term-b term-c term-d; do mk terminal "$pki" "$t"; done
mk reviewer "$pki" alice

pg_mode_start review_report "$tmp/collector.db"
cat >"$tmp/collector.conf" <<EOF
[Collector]
Listen = 127.0.0.1
Certificate = $pki/localhost.pem
Key = $pki/localhost.key
CA = $pki/ca.pem
Database = $db
Threads = 2
EOF
chmod 0644 "$tmp/collector.conf"
log=$tmp/collector.log
"$collector" --config "$tmp/collector.conf" --port 0 --foreground 2>"$log" &
pid=$!
port=
for _ in $(seq 100); do
	port=$(sed -n 's/^<6>listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$log")
	[ -n "$port" ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$port" ]; then cat "$log"; echo "FAIL: the collector did not start"; exit 1; fi
url=https://localhost:$port

req() { # req PATH: status; body in $tmp/out
	curl -sS -o "$tmp/out" -w '%{http_code}' --cacert "$pki/ca.pem" \
	    --cert "$pki/alice.pem" --key "$pki/alice.key" "$url$1" \
	    2>"$tmp/curl.err" || true
}
s=$(req "/v1/review/summary?since=2026-10-01T00:00:00Z&until=2026-10-02T00:00:00Z")
if [ "$s" = 404 ]; then echo "SKIP: the collector has no /v1/review/summary"; exit 77; fi

# --- the known event set (October 2026, Japan time) --------------------------------
hostile='"><script>alert(1)</script>'
hostile_user='<script>alert(2)</script>&'
hostile_words='removable-writable <script>alert(3)</script>'
hostile_product='<img src=x onerror=alert(4)>'
H3=46e66382d2d1743645ab0c602b26f19d33c3e6fed4ccbe8dbcebe9107ee31510
H2=9f2c000000000000000000000000000000000000000000000000000000000002
zero=0000000000000000000000000000000000000000000000000000000000000000

# ev TERM SEQ LOCAL-TIME ACTION OUTCOME JQ-EXTRA [nosend]: one record,
# chained to the terminal's previous one; "nosend" makes it but keeps it
# back (a gap).
ev() {
	local term=$1 seq=$2 when=$3 ns prev body
	ns=$(( $(date -d "$when" +%s) * 1000000000 ))
	prev=$(cat "$tmp/$term.prev" 2>/dev/null || echo $zero)
	body=$(jq -cn --arg a "$4" --arg o "$5" --arg h "$hostile" \
	    --arg hu "$hostile_user" --arg hw "$hostile_words" \
	    --arg hp "$hostile_product" --arg H3 "$H3" --arg H2 "$H2" \
	    "{event:{action:\$a,outcome:\$o}} * ($6)")
	"$mkrecord" --key "$pki/$term.key" --cert "$pki/$term.pem" --seq "$seq" \
	    --t-wall-ns "$ns" --body "$body" --prev-hash "$prev" --print-hash \
	    --flags 1 >"$tmp/one.rec" 2>"$tmp/$term.prev"
	[ "${7:-}" = nosend ] || cat "$tmp/one.rec" >>"$tmp/$term.rec"
}
post() { # post TERM
	curl -sS -o /dev/null -w '%{http_code}' --cacert "$pki/ca.pem" \
	    --cert "$pki/$1.pem" --key "$pki/$1.key" --data-binary "@$tmp/$1.rec" \
	    -H 'Content-Type: application/vnd.mynaguard.events.v1' "$url/v1/events"
}
state() { # state MISMATCH VERSION HASH WRITABLE
	printf '{mynaguard:{policy:{version:%s,hash:%s},state:{usb_default:"0",usb_iface_default:"0",removable_disks:1,removable_writable:%s,udev_rules:"present",modprobe:"present",spool_depth:0,acked_seq:0,mismatch:%s}}}' \
	    "$2" "$3" "$4" "$1"
}
user() { printf '{user:{name:%s}}' "$1"; }

# term-a: regular (a state report every day), policy v3 in force, state
# all right, 2 read-only + 1 blocked media, 3 failed logins, 1 lockout,
# 1 break-glass login, 1 key enrolled.
n=1
ev term-a $n "2026-10-01T09:00:00+09:00" policy-loaded success \
    '{mynaguard:{policy:{path:"/etc/mynaguard/policy.conf",hash:$H3,version:3}}}'
for d in $(seq 1 31); do
	n=$((n + 1))
	ev term-a $n "$(printf '2026-10-%02dT12:00:00+09:00' "$d")" agent-state \
	    success "$(state '""' 3 '$H3' 0)"
done
a() { n=$((n + 1)); ev term-a $n "$@"; }
a "2026-10-02T10:00:00+09:00" device-read-only success \
    '{mynaguard:{device:{vendor:"Acme",product:"Stick",serial:$h}},user:{name:"taro"}}'
a "2026-10-02T10:05:00+09:00" device-read-only success \
    '{mynaguard:{device:{serial:"SER123"}},user:{name:"taro"}}'
a "2026-10-05T10:00:00+09:00" device-blocked success \
    '{message:$h,mynaguard:{device:{product:$hp}}}'
a "2026-10-06T08:30:00+09:00" login-failed failure "$(user '"taro"')"
a "2026-10-06T08:31:00+09:00" login-failed failure "$(user '"taro"')"
a "2026-10-06T08:32:00+09:00" login-failed failure "$(user '$hu')"
a "2026-10-06T08:33:00+09:00" login-locked-out failure "$(user '"taro"')"
a "2026-10-07T08:30:00+09:00" login-break-glass success "$(user '"admin"')"
a "2026-10-07T08:40:00+09:00" login-succeeded success "$(user '"hanako"')"
a "2026-10-08T09:00:00+09:00" key-enrolled success \
    '{user:{name:"hanako"},mynaguard:{key:{id:"k1"}}}'
eq "term-a: $n records accepted" "$(post term-a)" 200

# term-b: an older policy, a state mismatch (with hostile words), a disk
# mounted writable (hostile strings), and seq 5 never sent: a gap, and
# seq 6 links to it: a chain break.  Three days with records.
ev term-b 1 "2026-10-03T09:00:00+09:00" policy-loaded success \
    '{mynaguard:{policy:{path:"/etc/mynaguard/policy.conf",hash:$H2,version:2}}}'
ev term-b 2 "2026-10-03T09:01:00+09:00" agent-state success \
    "$(state '$hw' 2 '$H2' 1)"
ev term-b 3 "2026-10-04T10:00:00+09:00" device-read-only success \
    '{mynaguard:{device:{serial:"B-1"}}}'
ev term-b 4 "2026-10-04T10:01:00+09:00" device-mounted-rw failure \
    '{mynaguard:{device:{vendor:"Acme",product:$hp,serial:$h},mount:{path:"/media/x"}},user:{name:$hu},event:{reason:"remounted"}}'
ev term-b 5 "2026-10-04T10:02:00+09:00" device-removed success '{}' nosend
ev term-b 6 "2026-10-10T10:00:00+09:00" device-blocked success \
    '{mynaguard:{device:{serial:"B-2"}}}'
ev term-b 7 "2026-10-10T12:00:00+09:00" agent-state success \
    "$(state '$hw' 2 '$H2' 1)"
eq "term-b: 6 records accepted" "$(post term-b)" 200

# term-c: one record in September, none in October, and silent since.
ev term-c 1 "2026-09-20T12:00:00+09:00" agent-state success \
    "$(state '""' 3 '$H3' 0)"
eq "term-c: 1 record accepted" "$(post term-c)" 200
dbq "UPDATE agents SET last_seen = $(date -d 2026-09-20T12:00:00+09:00 +%s)000000000 WHERE agent_id = 'term-c'"
# term-d: first heard of in November: not part of October.
ev term-d 1 "2026-11-05T12:00:00+09:00" agent-state success \
    "$(state '""' 3 '$H3' 0)"
eq "term-d: 1 record accepted" "$(post term-d)" 200

# --- the summary ---------------------------------------------------------------------
since=2026-09-30T15:00:00Z until=2026-10-31T15:00:00Z	# October, JST
eq "summary: 200" "$(req "/v1/review/summary?since=$since&until=$until")" 200
cp "$tmp/out" "$tmp/summary.json"
J() { jq -c "$1" "$tmp/summary.json"; }
T() { jq -c --arg t "$1" ".terminals[] | select(.agent_id == \$t) | $2" "$tmp/summary.json"; }
eq "period" "$(J '[.since, .until, .days, .silent_after]')" \
    '["2026-09-30T15:00:00.000000000Z","2026-10-31T15:00:00.000000000Z",31,259200]'
eq "terminals: a, b, c (d came later)" "$(J '[.terminals[].agent_id]')" \
    '["term-a","term-b","term-c"]'
eq "a: events, first, last, days, quiet, silent" \
    "$(T term-a '[.events, .first_event, .last_event, .days_with_events, .longest_quiet_days, .silent, .unverified]')" \
    '[42,"2026-10-01T00:00:00.000000000Z","2026-10-31T03:00:00.000000000Z",31,0,false,0]'
eq "a: device counts" "$(T term-a .device)" \
    '{"allowed":0,"read_only":2,"blocked":1,"removed":0,"enforcement_failed":0,"mounted_rw":0}'
eq "a: login counts" "$(T term-a .login)" \
    '{"succeeded":1,"failed":3,"locked_out":1,"break_glass":1,"unlocked":0}'
eq "a: key counts" "$(T term-a .key)" '{"enrolled":1,"revoked":0}'
eq "a: policy events" "$(T term-a .policy_events)" '{"loaded":1,"rejected":0}'
eq "a: state events" "$(T term-a .state_events)" '{"reports":31,"mismatch_reports":0}'
eq "a: newest policy-loaded" "$(T term-a .policy)" \
    "{\"time\":\"2026-10-01T00:00:00.000000000Z\",\"version\":3,\"hash\":\"$H3\"}"
eq "a: newest agent-state" "$(T term-a .state)" \
    "{\"time\":\"2026-10-31T03:00:00.000000000Z\",\"policy_version\":3,\"policy_hash\":\"$H3\",\"mismatch\":\"\",\"usb_default\":\"0\",\"removable_writable\":0}"
eq "a: logins per user" "$(T term-a '[.users[] | [.user, .succeeded, .failed, .locked_out, .break_glass]]')" \
    "[[\"<script>alert(2)</script>&\",0,1,0,0],[\"admin\",0,0,0,1],[\"hanako\",1,0,0,0],[\"taro\",0,2,1,0]]"
# Its alerts are the security events the collector raises as alerts (the
# lockout, the break-glass login, the blocked medium), none of integrity.
eq "a: no critical device, no chain problem; lockout, break-glass and blocked-medium alerts" \
    "$(T term-a '[.critical_devices, [.alerts | to_entries[] | select(.value.count > 0) | .key], .chain_unexplained]')" \
    '[[],["lockout","break-glass","media-blocked"],0]'

eq "b: events, days, quiet" \
    "$(T term-b '[.events, .days_with_events, .longest_quiet_days, .silent]')" '[6,3,21,false]'
eq "b: device counts" "$(T term-b .device)" \
    '{"allowed":0,"read_only":1,"blocked":1,"removed":0,"enforcement_failed":0,"mounted_rw":1}'
eq "b: state events" "$(T term-b .state_events)" '{"reports":2,"mismatch_reports":2}'
eq "b: policy v2" "$(T term-b '[.policy.version, .state.policy_version, .state.mismatch, .state.removable_writable]')" \
    "[2,2,\"$hostile_words\",1]"
eq "b: the disk mounted writable, hostile strings as sent" \
    "$(T term-b '[.critical_devices[] | [.time, .action, .vendor, .product, .serial, .user]]')" \
    "$(jq -cn --arg h "$hostile" --arg hp "$hostile_product" --arg hu "$hostile_user" \
        '[["2026-10-04T01:01:00.000000000Z","device-mounted-rw","Acme",$hp,$h,$hu]]')"
eq "b: alerts: a gap, a chain break, a state mismatch, the blocked medium and the writable mount" \
    "$(T term-b '[.alerts | to_entries[] | select(.value.count > 0) | [.key, .value.count, .value.unexplained]]')" \
    '[["gap",1,1],["chain-break",1,1],["state-mismatch",1,1],["media-blocked",1,1],["read-only-cleared",1,1]]'
eq "b: unexplained chain problems" "$(T term-b .chain_unexplained)" 2

eq "c: silent, nothing in the period" \
    "$(T term-c '[.events, .first_event, .days_with_events, .longest_quiet_days, .silent, .policy, .state, .last_seen]')" \
    '[0,null,0,31,true,null,null,"2026-09-20T03:00:00.000000000Z"]'

# November: term-d appears; term-b's alerts belong to October only.
req "/v1/review/summary?since=2026-10-31T15:00:00Z&until=2026-11-30T15:00:00Z" >/dev/null
eq "november: four terminals" "$(jq -c '[.terminals[].agent_id]' "$tmp/out")" \
    '["term-a","term-b","term-c","term-d"]'
eq "november: term-b has no alert" \
    "$(jq -c '.terminals[] | select(.agent_id == "term-b") | [.events, ([.alerts[] | .count] | add)]' "$tmp/out")" '[0,0]'
req "/v1/review/summary?since=$since&until=$until&terminal=term-b" >/dev/null
eq "terminal=term-b: only it" "$(jq -c '[.terminals[].agent_id]' "$tmp/out")" '["term-b"]'

badq() { # badq QUERY WORD
	local s
	s=$(req "/v1/review/summary$1")
	if [ "$s" = 400 ] && grep -q "$2" "$tmp/out"; then ok "400: $1"
	else bad "$1: $s $(cat "$tmp/out")"; fi
}
badq "" "'since' and 'until' are needed"
badq "?since=$since" "'since' and 'until' are needed"
badq "?since=$until&until=$since" "'since' must be before"
badq "?since=2025-01-01T00:00:00Z&until=2026-01-03T00:00:00Z" "longer than 366 days"
badq "?since=$since&until=$until&limit=3" "unknown parameter 'limit'"
badq "?since=yesterday&until=$until" "parameter 'since'"

# --- mynaguard-review report ------------------------------------------------------------
R() { "$review" --url "$url" --ca "$pki/ca.pem" --cert "$pki/alice.pem" \
    --key "$pki/alice.key" "$@"; }
R report --month 2026-10 --format csv -o "$tmp/r.csv" 2>"$tmp/err" && rc=0 || rc=$?
eq "report csv: exit 0 $(head -c 300 "$tmp/err")" "$rc" 0
check "csv: UTF-8 BOM" test "$(head -c 3 "$tmp/r.csv" | od -An -tx1 | tr -d ' ')" = efbbbf
check "csv: CRLF only" python3 -c '
import sys; d = open(sys.argv[1], "rb").read()
sys.exit(0 if d.endswith(b"\r\n") and b"\n" not in d.replace(b"\r\n", b"") else 1)' "$tmp/r.csv"
# 結果 and 対応する条項 of every (terminal, item), parsed back.
python3 - "$tmp/r.csv" >"$tmp/verdicts" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], encoding='utf-8-sig', newline='')))
assert rows[0] == ['端末', '点検項目', '結果', '根拠', '対応する条項'], rows[0]
for r in rows[1:]:
    assert len(r) == 5, r
    print('|'.join([r[0], r[1], r[2], r[4]]))
PY
X="6(3)① 端末からの情報持ち出し不可設定"
M="6(3)① 端末への多要素認証の導入"
O="6(7) 運用（情報システムの監視）"
P="8 情報セキュリティポリシーの見直し"
items() { # items TERM V1..V8
	local t=$1
	shift
	printf '%s\n' "$t|稼働状況の定期報告|$1|$O" "$t|適用中のポリシー|$2|$P" \
	    "$t|端末の強制状態|$3|$X" "$t|記録媒体の制御|$4|$X" \
	    "$t|ログイン認証（失敗・ロックアウト）|$5|$M" \
	    "$t|緊急用アカウントの使用|$6|$M" "$t|イベント記録の完全性|$7|$O" \
	    "$t|セキュリティキーの登録・失効|$8|$M"
}
{
	items term-a 適合 適合 適合 適合 要確認 要確認 適合 要確認
	items term-b 要確認 要確認 不適合 不適合 適合 適合 不適合 適合
	items term-c 要確認 要確認 要確認 要確認 要確認 要確認 要確認 要確認
} >"$tmp/want"
if cmp -s "$tmp/verdicts" "$tmp/want"; then ok "csv: every verdict and clause"
else bad "csv: verdicts differ"; diff "$tmp/want" "$tmp/verdicts" || true; fi
ev_of() { python3 -c '
import csv, sys
for r in csv.reader(open(sys.argv[1], encoding="utf-8-sig", newline="")):
    if r[0] == sys.argv[2] and r[1] == sys.argv[3]: print(r[3])' "$tmp/r.csv" "$1" "$2"; }
check "csv: term-a regularity evidence" grep -q '^記録 42件、記録のある日 31/31日、最長の無記録 0日' <(ev_of term-a 稼働状況の定期報告)
check "csv: term-a logins evidence with users" grep -qF '成功 1、失敗 3、ロックアウト 1、ロック解除 0; <script>alert(2)</script>& 失敗1 ロックアウト0、taro 失敗2 ロックアウト1' <(ev_of term-a 'ログイン認証（失敗・ロックアウト）')
check "csv: term-a break-glass count and user" grep -qF '緊急用アカウントのログイン 1回; admin 1回' <(ev_of term-a 緊急用アカウントの使用)
check "csv: term-b media names the disk" grep -qF '書込可能なマウント 1; device-mounted-rw 2026-10-04 10:01:00 Acme' <(ev_of term-b 記録媒体の制御)
check "csv: term-b integrity numbers" grep -qF '欠番 1、連鎖の断絶 1、同じ番号の別記録 0、署名不正 0、その他 0; 説明のない問題 2、欠落レコード 0' <(ev_of term-b イベント記録の完全性)
check "csv: term-b older policy" grep -qF '版 2（最新版 3）' <(ev_of term-b 適用中のポリシー)
check "csv: term-c silent" grep -qF '記録 0件、記録のある日 0/31日、最長の無記録 31日（基準 3日以内）、最終接続 2026-09-20 12:00:00、現在無通信' <(ev_of term-c 稼働状況の定期報告)

R report --since 2026-10-01 --until 2026-11-01 --format csv -o "$tmp/r2.csv"
check "--since/--until dates = --month" cmp -s <(tail -c +4 "$tmp/r.csv") <(tail -c +4 "$tmp/r2.csv")
R report --month 2026-10 --terminal term-b --format csv -o - >"$tmp/r3.csv"
check "--terminal term-b: 8 rows" test "$(python3 -c '
import csv, sys; print(len(list(csv.reader(open(sys.argv[1], encoding="utf-8-sig", newline="")))) - 1)' "$tmp/r3.csv")" = 8

R report --month 2026-10 -o "$tmp/r.html" 2>"$tmp/err" && rc=0 || rc=$?
eq "report html: exit 0 $(head -c 300 "$tmp/err")" "$rc" 0
check "html: parses, balanced, no script element, title in Japanese" \
    python3 - "$tmp/r.html" <<'PY'
import sys
from html.parser import HTMLParser
VOID = {'meta', 'br', 'hr', 'img', 'link', 'input'}
class P(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.tags, self.title, self.text = [], set(), '', []
        self.attrs = []
    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs += [a for a, _ in attrs]
        if tag not in VOID:
            self.stack.append(tag)
    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
        self.stack.pop()
    def handle_data(self, d):
        if self.stack and self.stack[-1] == 'title':
            self.title += d
        self.text.append(d)
doc = open(sys.argv[1], encoding='utf-8').read()
p = P(); p.feed(doc); p.close()
assert doc.startswith('<!DOCTYPE html>')
assert not p.stack, p.stack
assert p.title == '情報セキュリティ自己点検報告書（マイナンバー利用事務系端末）', p.title
assert 'script' not in p.tags and 'img' not in p.tags, p.tags
assert not [a for a in p.attrs if a.startswith('on')], p.attrs
assert '<script' not in doc.lower() and '<img' not in doc.lower()
text = ''.join(p.text)
# the hostile strings are there, as text
for h in ['"><script>alert(1)</script>', '<script>alert(2)</script>&',
          'removable-writable <script>alert(3)</script>',
          '<img src=x onerror=alert(4)>']:
    assert h in text, h
for w in ['対象期間', '2026-10-01 00:00:00 から 2026-11-01 00:00:00',
          '端末 term-a', '端末 term-b', '端末 term-c', '不適合', '要確認',
          '6(3)① 端末からの情報持ち出し不可設定', '基本方針 7',
          '@page { size: A4']:
    assert w in doc, w
PY
check "html: escaped forms present" grep -qF '&lt;script&gt;alert(3)&lt;/script&gt;' "$tmp/r.html"

for bad in "--month 2026-13" "--month 2026-10 --since 2026-10-01" "--since 2026-10-01" \
    "--format ndjson --month 2026-10" "--month 2026-10 --user x"; do
	# shellcheck disable=SC2086
	R report $bad >/dev/null 2>&1 && rc=0 || rc=$?
	eq "report $bad: exit 2" "$rc" 2
done
R events --format html >/dev/null 2>&1 && rc=0 || rc=$?
eq "events --format html: exit 2" "$rc" 2

kill "$pid"
wait "$pid" 2>/dev/null || true
pid=
if grep -q 'Sanitizer\|runtime error' "$log"; then bad "collector log: sanitizer"; cat "$log"; else ok "collector log clean"; fi
check "the database refused no statement" pg_mode_log_clean "$log"
echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ]
