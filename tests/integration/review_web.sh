#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The reviewer's web page (GET /review/, collector/web.c) in headless
# Chromium: a real collector over loopback TLS with real certificates
# (tools/mkcerts.sh), real signed records (mkrecord) including a device
# serial and a user name that are XSS attempts, and Debian's chromium driven
# by puppeteer-core (review_web.js).  curl checks the headers and the role
# rule (a terminal certificate gets 403).
#
# How the reviewer's client certificate reaches Chromium: Chromium on Linux
# takes client certificates from the NSS database $HOME/.pki/nssdb, so HOME
# is a temporary directory with a new database holding the reviewer's
# PKCS#12 (openssl pkcs12 -export, imported with pk12util) and the town CA
# as trusted (certutil -t CT,,: no --ignore-certificate-errors).  Headless
# Chromium shows no certificate chooser; it picks a certificate by itself
# only where the content setting "auto_select_certificate" (what the
# AutoSelectCertificateForUrls policy sets) says so.  Instead of a policy
# file in the global /etc/chromium/policies/managed/, the setting is
# written into the per-run profile's Default/Preferences (--user-data-dir).
#
# Needs, as root on a fresh Debian 12, installs when missing: chromium,
# libnss3-tools, nodejs, npm (only when the cache lacks puppeteer-core),
# fonts-ipafont-gothic (readable screenshot), curl, jq, openssl.
# puppeteer-core is installed once into MG_NPM_PREFIX
# (default /var/tmp/mynaguard-npm).  77 only when that cannot be done.
#
# With MG_TEST_PG=1, the collector's database is a PostgreSQL cluster of
# its own (pg_mode.sh).
#
# Usage: review_web.sh COLLECTOR MKRECORD SOURCE_DIR OUT_DIR
#        (OUT_DIR keeps screenshot.png)
set -euo pipefail
export LC_ALL=C.UTF-8

collector=$1 mkrecord=$2 src=$3 out=$4
# shellcheck source=pg_mode.sh
. "$src/tests/integration/pg_mode.sh"
npm_prefix=${MG_NPM_PREFIX:-/var/tmp/mynaguard-npm}
puppeteer_version=24.40.0 # node >= 18 (Debian 12's nodejs is 18.19)
chromium=${MG_CHROMIUM:-/usr/bin/chromium}

skip() { echo "SKIP: $*"; exit 77; }

# ---- what the test needs ----------------------------------------------------
have_puppeteer() {
	[ -f "$npm_prefix/node_modules/puppeteer-core/package.json" ] &&
	    grep -q "\"version\": \"$puppeteer_version\"" \
		"$npm_prefix/node_modules/puppeteer-core/package.json"
}
missing=()
[ -x "$chromium" ] || missing+=(chromium)
command -v certutil >/dev/null && command -v pk12util >/dev/null ||
    missing+=(libnss3-tools)
command -v node >/dev/null || missing+=(nodejs)
if ! have_puppeteer && ! command -v npm >/dev/null; then missing+=(npm); fi
[ "$pg_mode" = sqlite ] || command -v psql >/dev/null ||
    skip "no psql for MG_TEST_PG=1"
for p in curl jq openssl; do
	command -v "$p" >/dev/null || missing+=("$p")
done
if command -v fc-list >/dev/null && [ -z "$(fc-list :lang=ja 2>/dev/null)" ]; then
	missing+=(fonts-ipafont-gothic) # else the screenshot shows boxes
fi
if [ ${#missing[@]} -gt 0 ]; then
	[ "$(id -u)" = 0 ] && command -v apt-get >/dev/null ||
	    skip "missing ${missing[*]} and cannot install (not root)"
	echo "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends "${missing[@]}" ||
	    { apt-get update && apt-get install -y --no-install-recommends \
		"${missing[@]}"; } || skip "apt-get install ${missing[*]} failed"
	[ -x "$chromium" ] || skip "no $chromium after installing"
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 18 ] || skip "node $node_major is older than 18"
if ! have_puppeteer; then
	mkdir -p "$npm_prefix"
	# One install at a time (the gcc and ASan builds may run together).
	if ! flock "$npm_prefix/.lock" sh -c '
	    [ -f "$1/node_modules/puppeteer-core/package.json" ] &&
	    grep -q "\"version\": \"$2\"" "$1/node_modules/puppeteer-core/package.json" ||
	    npm install --prefix "$1" --no-audit --no-fund --no-save \
		--loglevel=error "puppeteer-core@$2"' sh "$npm_prefix" \
	    "$puppeteer_version"; then
		skip "cannot install puppeteer-core@$puppeteer_version into $npm_prefix (no npm registry?)"
	fi
	have_puppeteer || skip "puppeteer-core@$puppeteer_version not in $npm_prefix"
fi

# ---- the collector ------------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/review_web.XXXXXX")
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
mk server "$pki" localhost # DNS:localhost, IP:127.0.0.1, IP:::1
mk terminal "$pki" term-001
mk terminal "$pki" term-002
mk reviewer "$pki" alice

pg_mode_start review_web "$tmp/collector.db"
conf=$tmp/collector.conf
cat >"$conf" <<CONF
[Collector]
Listen = 127.0.0.1
Certificate = $pki/localhost.pem
Key = $pki/localhost.key
CA = $pki/ca.pem
Database = $db
Threads = 4
CONF
chmod 0644 "$conf"
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
origin=https://127.0.0.1:$port

req() { # req CERT PATH [curl args]: status; body in $tmp/out, headers in $tmp/hdr
	local cert=$1 path=$2
	shift 2
	curl -sS -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' \
	    --cacert "$pki/ca.pem" --cert "$pki/$cert.pem" \
	    --key "$pki/$cert.key" "$@" "$origin$path" 2>"$tmp/curl.err" || true
}
post() { # post CERT FILE
	req "$1" /v1/events --data-binary "@$2" \
	    -H 'Content-Type: application/vnd.mynaguard.events.v1'
}
header() { # header NAME: its value in $tmp/hdr
	sed -n "s/^$1: *//Ip" "$tmp/hdr" | tr -d '\r'
}

# ---- records: a device serial and a user name that are XSS attempts ---------
hostile_serial='"><img src=x onerror=alert(1)><script>alert(2)</script>'
hostile_user='<b>太字</b><i onmouseover=alert(3)>x</i>&amp;'
T0=1798761600000000000 # 2027-01-01T00:00:00Z
prev=
mkr() { # mkr TERM SEQ SECONDS ACTION OUTCOME USER SERIAL
	local term=$1 seq=$2 t=$(( T0 + $3 * 1000000000 )) body
	body=$(jq -cn --arg a "$4" --arg o "$5" --arg u "$6" --arg s "$7" \
	    '{"@timestamp":"x","event":{action:$a,outcome:$o}}
	    + (if $u == "" then {} else {user:{name:$u}} end)
	    + (if $s == "" then {} else {mynaguard:{device:{serial:$s}}} end)')
	"$mkrecord" --key "$pki/$term.key" --cert "$pki/$term.pem" --seq "$seq" \
	    --t-wall-ns "$t" --body "$body" --print-hash ${prev:+--prev-hash "$prev"} \
	    >"$tmp/rec" 2>"$tmp/hash"
	prev=$(cat "$tmp/hash")
	eq "POST $term seq $seq" "$(post "$term" "$tmp/rec")" 200
}
prev=; mkr term-001 1 1 login-failed failure taro ""
mkr term-001 2 2 login success "$hostile_user" ""
mkr term-001 3 3 device-blocked failure hanako "$hostile_serial"
prev=; mkr term-002 1 4 login success hanako ""
mkr term-002 2 5 device-blocked failure "" ABC123
# seq 3 never sent: a gap alert, and seq 4's chain status is "gap"
mkr term-002 4 6 device-allowed success jiro ABC123

# ---- headers and roles (curl) ------------------------------------------------
csp="default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
page() { # page PATH TYPE
	eq "GET $1: 200" "$(req alice "$1")" 200
	eq "$1 Content-Type" "$(header Content-Type)" "$2"
	eq "$1 Content-Security-Policy" "$(header Content-Security-Policy)" "$csp"
	eq "$1 X-Content-Type-Options" "$(header X-Content-Type-Options)" nosniff
	eq "$1 Referrer-Policy" "$(header Referrer-Policy)" no-referrer
	eq "$1 Cache-Control" "$(header Cache-Control)" no-store
}
page /review/ "text/html; charset=utf-8"
check "/review/ is the page (lang=ja)" grep -q '<html lang="ja">' "$tmp/out"
check "/review/ has no inline script or style" \
    sh -c "! grep -Eiq '<script>|<script [^s]|<style|style=| on[a-z]+=' '$tmp/out'"
page /review/app.js "text/javascript; charset=utf-8"
check "app.js never writes markup" \
    sh -c "! grep -Eq 'innerHTML|outerHTML|insertAdjacentHTML|document\\.write|eval\\(|new Function' '$tmp/out'"
page /review/app.css "text/css; charset=utf-8"
eq "GET /review: 308" "$(req alice /review)" 308
eq "... to /review/" "$(header Location)" /review/
eq "GET /review/nothing: 404" "$(req alice /review/nothing)" 404
eq "GET /review/../v1/health stays under /review/: 404" \
    "$(req alice /review/%2e%2e/v1/health --path-as-is)" 404
eq "POST /review/: 405" "$(req alice /review/ -d x)" 405
eq "terminal certificate on /review/: 403" "$(req term-001 /review/)" 403
eq "terminal certificate on /review/app.js: 403" \
    "$(req term-001 /review/app.js)" 403
s=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$pki/ca.pem" \
    "$origin/review/" 2>/dev/null || true)
check "no certificate on /review/: refused ($s)" test "$s" = 403 -o "$s" = 000
eq "JSON API: 200" "$(req alice /v1/review/events)" 200
eq "JSON API X-Content-Type-Options" "$(header X-Content-Type-Options)" nosniff
check "JSON API CSP default-src 'none'" \
    sh -c "grep -qi \"^content-security-policy: default-src 'none'\" '$tmp/hdr'"
eq "JSON API Cache-Control" "$(header Cache-Control)" no-store
eq "JSON API errors too: nosniff" \
    "$(req alice /v1/review/nothing >/dev/null; header X-Content-Type-Options)" nosniff

# ---- Chromium: NSS database, profile, puppeteer ---------------------------------
home=$tmp/home nssdb=$tmp/home/.pki/nssdb profile=$tmp/profile
mkdir -p "$nssdb" "$profile/Default"
openssl pkcs12 -export -in "$pki/alice.pem" -inkey "$pki/alice.key" \
    -name alice -passout pass: -out "$tmp/alice.p12"
certutil -N -d "sql:$nssdb" --empty-password
certutil -A -d "sql:$nssdb" -n "mynaguard test CA" -t "CT,," -i "$pki/ca.pem"
pk12util -i "$tmp/alice.p12" -d "sql:$nssdb" -W '' >/dev/null
jq -n --arg p "$origin,*" \
    '{profile: {content_settings: {exceptions: {auto_select_certificate:
	{($p): {setting: {filters: [{}]}}}}}}}' >"$profile/Default/Preferences"

mkdir -p "$out"
rm -f "$out/screenshot.png"
if HOME=$home NODE_PATH=$npm_prefix/node_modules TZ=Asia/Tokyo \
    MG_ORIGIN=$origin MG_CHROMIUM=$chromium MG_PROFILE=$profile \
    MG_SCREENSHOT=$out/screenshot.png MG_HOSTILE_SERIAL=$hostile_serial \
    MG_HOSTILE_USER=$hostile_user \
    node "$src/tests/integration/review_web.js"; then
	ok "headless Chromium: review_web.js"
else
	bad "headless Chromium: review_web.js"
fi
if [ -s "$out/screenshot.png" ]; then
	ok "screenshot kept: $out/screenshot.png"
else
	bad "no screenshot at $out/screenshot.png"
fi

kill "$pid"
wait "$pid" 2>/dev/null || true
pid=
if grep -Eq 'Sanitizer|runtime error' "$log"; then
	grep -A30 -E 'Sanitizer|runtime error' "$log"
	bad "collector log has sanitizer reports"
else
	ok "collector log has no sanitizer reports"
fi
check "the database refused no statement" pg_mode_log_clean "$log"
echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ]
