#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Central signed policy, the collector's part (issue 8): bundles signed with
# the real "mynaguard policy sign" and a policy-signer certificate from
# tools/mkcerts.sh, published with "mynaguard-collector policy publish"
# into the database of a running collector (as root, next to the service's
# own user when we can switch to one), fetched over loopback mutual TLS
# with terminal certificates, and the version in force taken from real
# signed policy-loaded records (mkrecord), seen in "policy list", the
# review API and "mynaguard-review terminals".  With MG_TEST_PG=1, the
# database is a PostgreSQL cluster of its own (pg_mode.sh).
#
# Usage: collector_policy.sh COLLECTOR MKRECORD MYNAGUARD REVIEW SOURCE_DIR
# (77: cannot run)
set -euo pipefail
export LC_ALL=C

collector=$1 mkrecord=$2 mynaguard=$3 review=$4 src=$5
# shellcheck source=pg_mode.sh
. "$src/tests/integration/pg_mode.sh"
for tool in curl openssl jq "$(pg_mode_tools)" cmp stat; do
	command -v "$tool" >/dev/null || { echo "SKIP: no $tool"; exit 77; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/collector_policy.XXXXXX")
chmod 0755 "$tmp"
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
mk terminal "$pki" term-a
mk terminal "$pki" term-b
mk reviewer "$pki" alice
mk policy-signer "$pki" signer1
mk policy-signer "$pki" signer2

# The service runs as its own user (a DynamicUser in production); as root
# we run it as nobody, so a publish as root must keep the files nobody's.
as_service=()
svc_user=
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null &&
    id nobody >/dev/null 2>&1; then
	svc_user=nobody
	as_service=(setpriv --reuid=nobody --regid="$(id -g nobody)"
	    --clear-groups --)
fi
dbdir=$tmp/db
mkdir "$dbdir"
pg_mode_start collector_policy "$dbdir/collector.db"
if [ -n "$svc_user" ]; then
	chown "$svc_user" "$dbdir"
	cp "$pki/localhost.key" "$tmp/server.key"
	chown "$svc_user" "$tmp/server.key"
	chmod 0600 "$tmp/server.key"
	chmod 0755 "$pki"
else
	cp "$pki/localhost.key" "$tmp/server.key"
fi

conf=$tmp/collector.conf
{
	echo "[Collector]"
	echo "Listen = 127.0.0.1"
	echo "Certificate = $pki/localhost.pem"
	echo "Key = $tmp/server.key"
	echo "CA = $pki/ca.pem"
	echo "Database = $db"
	echo "Threads = 2"
} >"$conf"
chmod 0644 "$conf"
# The same, with the guard against a bundle signed with another key.
conf_pin=$tmp/collector-pin.conf
{ cat "$conf"; echo "[Policy]"; echo "SigningCertificate = $pki/signer1.pem"; } \
    >"$conf_pin"
chmod 0644 "$conf_pin"
check "check-config accepts [Policy]" \
    "${as_service[@]}" "$collector" --config "$conf_pin" --check-config

# --- publishing before the service made its database --------------------------------
echo junk >"$tmp/junk"
"$collector" policy publish --config "$conf" "$tmp/junk" 2>"$tmp/err" && rc=0 || rc=$?
check "publish without a database: refused" test "$rc" = 1
if sqlite_only "the database file is not created by root"; then
	check "  and the database is not created by root" test ! -e "$db"
fi

log=$tmp/collector.log
"${as_service[@]}" "$collector" --config "$conf" --port 0 --foreground 2>"$log" &
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
eq "schema v4" "$(db_version)" 4

# --- bundles, signed for real ------------------------------------------------------------
policy_v() { # policy_v N: the shipped profile with [policy] version = N
	sed "s/^version *=.*/version = $1/" "$src/policy/mynumber-terminal.conf" \
	    >"$tmp/policy-$1.conf"
}
sign() { # sign GROUP VERSION SIGNER OUT
	policy_v "$2"
	"$mynaguard" policy sign "$tmp/policy-$2.conf" --group "$1" \
	    --version "$2" --key "$pki/$3.key" --cert "$pki/$3.pem" \
	    -o "$4" --force >/dev/null
}
sign kaikei 1 signer1 "$tmp/b1"
sign kaikei 2 signer1 "$tmp/b2"
sign kaikei 3 signer2 "$tmp/b3-other"
sign kaikei 3 signer1 "$tmp/b3"
sign zeimu 1 signer1 "$tmp/z1"

publish() { "$collector" policy publish --config "$@"; }
publish "$conf" "$tmp/b1" >"$tmp/out" 2>"$tmp/err" && rc=0 || rc=$?
check "publish kaikei 1" test "$rc" = 0
check "  prints group and version" grep -q '^published group kaikei version 1$' "$tmp/out"
check "  prints the bundle hash" grep -q "bundle sha256 *$(sha256sum "$tmp/b1" | cut -c1-64)" "$tmp/out"
publish "$conf" "$tmp/b2" >"$tmp/out" 2>"$tmp/err" && rc=0 || rc=$?
check "publish kaikei 2" test "$rc" = 0
publish "$conf" "$tmp/b1" >"$tmp/out" 2>"$tmp/err" && rc=0 || rc=$?
check "publish an older version: refused" test "$rc" = 1
check "  naming both versions" grep -q 'already has version 2; this bundle is version 1' "$tmp/err"
publish "$conf" "$tmp/b2" >"$tmp/out" 2>"$tmp/err" && rc=0 || rc=$?
check "publish the same version again: refused" test "$rc" = 1
publish "$conf_pin" "$tmp/b3-other" >"$tmp/out" 2>"$tmp/err" && rc=0 || rc=$?
check "SigningCertificate set: another signer refused" test "$rc" = 1
check "  saying so" grep -q 'not signed by the policy-signing certificate' "$tmp/err"
publish "$conf_pin" "$tmp/b3" >"$tmp/out" 2>"$tmp/err" && rc=0 || rc=$?
check "SigningCertificate set: kaikei 3 by signer1" test "$rc" = 0
publish "$conf" "$tmp/z1" >/dev/null 2>&1 && rc=0 || rc=$?
check "publish zeimu 1 (groups are separate)" test "$rc" = 0
head -c 200 "$tmp/b1" >"$tmp/cut"
publish "$conf" "$tmp/cut" >/dev/null 2>"$tmp/err" && rc=0 || rc=$?
check "a truncated bundle: refused" test "$rc" = 1
eq "stored bundles" "$(dbq 'SELECT grp || version FROM policy_bundles ORDER BY grp, version' | tr '\n' ' ')" \
    "kaikei1 kaikei2 kaikei3 zeimu1 "
if ! sqlite_only "owner of the database files"; then
	:
elif [ -n "$svc_user" ]; then
	for f in "$db" "$db-wal" "$db-shm"; do
		[ -e "$f" ] || continue
		eq "owner of $(basename "$f") after publishing as root" \
		    "$(stat -c %U "$f")" "$svc_user"
	done
else
	echo "note: not root: the ownership check is skipped"
fi

# --- fetching -----------------------------------------------------------------------------
req() { # req CERT PATH [curl args]: status; body in $tmp/out, headers in $tmp/hdr
	local cert=$1 path=$2
	shift 2
	curl -sS -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' \
	    --cacert "$pki/ca.pem" --cert "$pki/$cert.pem" \
	    --key "$pki/$cert.key" "$@" "$url$path" 2>"$tmp/curl.err" || true
}
hdr() { sed -n "s/^$1: *\\([^\\r]*\\)\\r*\$/\\1/Ip" "$tmp/hdr"; }
eq "fetch kaikei: 200" "$(req term-a '/v1/policy/bundle?group=kaikei')" 200
check "  bytes identical to the signed bundle" cmp -s "$tmp/out" "$tmp/b3"
eq "  version header" "$(hdr X-Mynaguard-Bundle-Version)" 3
eq "  sha256 header" "$(hdr X-Mynaguard-Bundle-Sha256)" "$(sha256sum "$tmp/b3" | cut -c1-64)"
eq "  content type" "$(hdr Content-Type)" application/octet-stream
"$mynaguard" policy verify "$tmp/out" --cert "$pki/signer1.pem" >/dev/null && rc=0 || rc=$?
check "  the fetched bundle verifies" test "$rc" = 0
eq "have=2: 200" "$(req term-a '/v1/policy/bundle?group=kaikei&have=2')" 200
eq "have=3 (latest): 304" "$(req term-a '/v1/policy/bundle?group=kaikei&have=3')" 304
eq "  with the version header" "$(hdr X-Mynaguard-Bundle-Version)" 3
eq "have=9: 304" "$(req term-a '/v1/policy/bundle?group=kaikei&have=9')" 304
eq "other group" "$(req term-a '/v1/policy/bundle?group=zeimu')" 200
check "  its own bundle" cmp -s "$tmp/out" "$tmp/z1"
eq "unknown group: 404" "$(req term-a '/v1/policy/bundle?group=nosuch')" 404
eq "  the terminal's wish is recorded" "$(dbq \
    "SELECT grp FROM policy_terminals WHERE agent_id = 'term-a'")" nosuch
eq "reviewer certificate: 403" "$(req alice '/v1/policy/bundle?group=kaikei')" 403
for q in '' '?group=' '?group=Kaikei' '?group=k%2Fa' '?group=-k' \
    '?group=kaikei&have=x' '?group=kaikei&have=-1' \
    '?group=kaikei&have=99999999999999999999' '?group=kaikei&group=zeimu' \
    '?group=kaikei&foo=1'; do
	eq "bad query '$q': 400" "$(req term-a "/v1/policy/bundle$q")" 400
done
eq "POST: 405" "$(req term-a '/v1/policy/bundle?group=kaikei' -X POST)" 405
# term-b fetches and stays on version 2 (its events say so below).
eq "term-b fetches" "$(req term-b '/v1/policy/bundle?group=kaikei&have=2')" 200
eq "fetch recorded (group, version served)" \
    "$(dbq "SELECT agent_id, grp, fetched_version FROM policy_terminals ORDER BY agent_id" | tr '\n' ' ')" \
    "term-a|nosuch|1 term-b|kaikei|3 "
# term-a is a kaikei terminal; its last fetches (above) were elsewhere.
eq "term-a back on kaikei" "$(req term-a '/v1/policy/bundle?group=kaikei&have=3')" 304

# --- versions in force, from signed policy-loaded records -----------------------------------
post() { # post CERT FILE
	req "$1" /v1/events --data-binary "@$2" \
	    -H 'Content-Type: application/vnd.mynaguard.events.v1'
}
H=$(printf '%064d' 0)
loaded() { # loaded TERM SEQ VERSION [PREV]
	local body
	body=$(jq -cn --argjson v "$3" --arg h "$H" \
	    '{"@timestamp":"x","event":{action:"policy-loaded",outcome:"success"},
	      mynaguard:{policy:{path:"/etc/mynaguard/policy.conf",hash:$h,version:$v}}}')
	"$mkrecord" --key "$pki/$1.key" --cert "$pki/$1.pem" --seq "$2" \
	    --body "$body" --print-hash ${4:+--prev-hash "$4"} \
	    >"$tmp/rec" 2>"$tmp/hash"
	eq "POST $1 seq $2 (policy-loaded version $3)" "$(post "$1" "$tmp/rec")" 200
}
loaded term-a 1 2
loaded term-a 2 3 "$(cat "$tmp/hash")"
loaded term-b 1 1
loaded term-b 2 2 "$(cat "$tmp/hash")"
eq "versions in force" \
    "$(dbq "SELECT agent_id, version FROM policy_terminals ORDER BY agent_id" | tr '\n' ' ')" \
    "term-a|3 term-b|2 "
# Sent again: acknowledged as a duplicate, the state does not move back.
loaded term-b 1 1
eq "a resent older record changes nothing" \
    "$(dbq "SELECT version FROM policy_terminals WHERE agent_id = 'term-b'")" 2

"$collector" policy list --config "$conf" >"$tmp/list" 2>"$tmp/err" && rc=0 || rc=$?
check "policy list: exit 0" test "$rc" = 0
check "  kaikei 3 listed" grep -Eq '^kaikei +3 ' "$tmp/list"
check "  term-a current" grep -Eq '^term-a +kaikei +3 +3 .*current$' "$tmp/list"
check "  term-b lagging" grep -Eq '^term-b +kaikei +2 +3 .*lagging$' "$tmp/list"

eq "review API: terminals" "$(req alice /v1/review/terminals)" 200
eq "  policy fields" "$(jq -c '[.terminals[] | [.agent_id, .policy_group, .policy_version, .policy_latest, .policy_lagging]]' "$tmp/out")" \
    '[["term-a","kaikei",3,3,false],["term-b","kaikei",2,3,true]]'
R() { "$review" --url "$url" --ca "$pki/ca.pem" --cert "$pki/alice.pem" \
    --key "$pki/alice.key" "$@"; }
R terminals >"$tmp/terms" 2>"$tmp/err" && rc=0 || rc=$?
check "mynaguard-review terminals: exit 0" test "$rc" = 0
check "  headers 適用版 and 最新版" grep -q '適用版.*最新版' "$tmp/terms"
check "  term-b: 2, 3, lagging" grep -Eq '^term-b .* kaikei +2 +3 +はい' "$tmp/terms"
R terminals --format csv >"$tmp/terms.csv" 2>/dev/null || true
check "  CSV has the new columns last" grep -q '配布グループ,適用版,最新版,更新遅れ' "$tmp/terms.csv"
check "  CSV row term-b" grep -q '^term-b,.*,kaikei,2,3,はい' "$tmp/terms.csv"

# The self-inspection report: 適用中のポリシー (clause 8) flags term-b.
since=$(date -u -d '-1 day' +%Y-%m-%d) until=$(date -u -d '+2 days' +%Y-%m-%d)
R report --since "$since" --until "$until" --format csv -o "$tmp/r.csv" \
    2>"$tmp/err" && rc=0 || rc=$?
check "report: exit 0" test "$rc" = 0
check "report: term-b policy item 要確認, lagging bundle named" grep -q \
    '^term-b,適用中のポリシー,要確認,.*配布グループ kaikei: 適用版 2、最新版 3（更新遅れ）.*,8 情報セキュリティポリシーの見直し' \
    "$tmp/r.csv"
check "report: term-a policy item 適合" grep -q \
    '^term-a,適用中のポリシー,適合,.*配布グループ kaikei: 適用版 3、最新版 3' \
    "$tmp/r.csv"

check "the database refused no statement" pg_mode_log_clean "$log"
sed -n "1,40p" "$tmp/list"; cat "$tmp/terms"
echo "$checks checks, $fails failed"
[ "$fails" = 0 ]
