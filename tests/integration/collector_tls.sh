#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# mynaguard-collector over loopback TLS with real certificates from
# tools/mkcerts.sh and real signed records from mkrecord: who gets in, who
# is refused (and that each refusal is logged), what happens to records,
# the limits, the viewer, and a clean stop on SIGTERM.
#
# Usage: collector_tls.sh COLLECTOR MKRECORD SOURCE_DIR   (77: cannot run)
set -euo pipefail
export LC_ALL=C

collector=$1 mkrecord=$2 src=$3
for tool in curl openssl; do
	command -v "$tool" >/dev/null || { echo "SKIP: no $tool"; exit 77; }
done
[ -x "$src/tools/mkcerts.sh" ] || { echo "SKIP: no tools/mkcerts.sh"; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/collector_tls.XXXXXX")
pid=
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
	rm -rf -- "$tmp"
}
trap cleanup EXIT

fails=0 checks=0
ok() { checks=$((checks + 1)); echo "ok: $*"; }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*"; }
check() { # check DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}
check_not() { # check_not DESCRIPTION COMMAND...: COMMAND must fail
	local what=$1
	shift
	if "$@"; then bad "$what"; else ok "$what"; fi
}

pki=$tmp/pki
mk() { "$src/tools/mkcerts.sh" "$@" >/dev/null; }
mk ca "$pki"
mk server "$pki" localhost
mk terminal "$pki" term-001
mk reviewer "$pki" alice
mk expired "$pki" term-001
mk wrongca "$pki" term-001

conf=$tmp/collector.conf
write_conf() { # write_conf [extra lines...]
	{
		echo "[Collector]"
		echo "Listen = 127.0.0.1"
		echo "Certificate = $pki/localhost.pem"
		echo "Key = $pki/localhost.key"
		echo "CA = $pki/ca.pem"
		echo "Database = $tmp/collector.db"
		echo "Threads = 2"
		echo "MaxBody = 2M"
		for l; do echo "$l"; done
	} >"$conf"
	chmod 0644 "$conf"
}

# --- --check-config ----------------------------------------------------------
write_conf
check "check-config accepts a good configuration" \
    "$collector" --config "$conf" --check-config
expect_config_error() { # expect_config_error TEXT [collector args...]
	local text=$1 out
	shift
	if out=$("$collector" --config "$conf" --check-config "$@" 2>&1); then
		bad "check-config should fail: $text"
	elif grep -qF -- "$text" <<<"$out"; then
		ok "check-config: $text"
	else
		bad "check-config: wanted '$text', got: $out"
	fi
}
write_conf "Bogus = 1"
expect_config_error "collector.conf:9: unknown key 'Bogus'"
write_conf "Port = 70000"
expect_config_error "collector.conf:9: Port must be 0..65535"
write_conf
expect_config_error "do not match" --key "$pki/term-001.key"
expect_config_error "$pki/missing.pem: cannot read" --ca "$pki/missing.pem"
expect_config_error "$pki/localhost.pem: certificate 1 is not a CA" \
    --ca "$pki/localhost.pem"
expect_config_error "$pki/term-001-expired.pem: the certificate has expired" \
    --certificate "$pki/term-001-expired.pem" \
    --key "$pki/term-001-expired.key"
expect_config_error "$tmp/nodir/x.db: cannot create the database" \
    --database "$tmp/nodir/x.db"

# --- start ------------------------------------------------------------------
write_conf
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
ok "listening on 127.0.0.1:$port"
url=https://localhost:$port

# req CERT METHOD PATH [curl args...]: the HTTP status ("000": no answer);
# the body is left in $tmp/out.
req() {
	local cert=$1 method=$2 path=$3 auth=()
	shift 3
	if [ "$cert" != none ]; then
		auth=(--cert "$pki/$cert.pem" --key "$pki/$cert.key")
	fi
	curl -sS -o "$tmp/out" -w '%{http_code}' --cacert "$pki/ca.pem" \
	    "${auth[@]}" -X "$method" "$@" "$url$path" 2>"$tmp/curl.err" ||
	    true
}
post() { # post CERT FILE [curl args...]
	local cert=$1 file=$2
	shift 2
	req "$cert" POST /v1/events --data-binary "@$file" \
	    -H 'Content-Type: application/vnd.mynaguard.events.v1' "$@"
}
expect_log() { # expect_log TEXT: the collector logged a line with TEXT
	local i
	for i in $(seq 50); do
		grep -qF -- "$1" "$log" && { ok "log: $1"; return; }
		sleep 0.1
	done
	bad "log has no line with: $1"
}
body_has() { grep -qF -- "$1" "$tmp/out"; }

# --- who gets in ---------------------------------------------------------------
check "health with a terminal certificate" \
    test "$(req term-001 GET /v1/health)" = 200
check "health answers {\"status\":\"ok\"}" body_has '{"status":"ok"}'
check "health with a reviewer certificate" \
    test "$(req alice GET /v1/health)" = 200

s=$(req none GET /v1/health)
check "no client certificate: refused ($s)" test "$s" = 403 -o "$s" = 000
expect_log "refused: no client certificate (peer 127.0.0.1:"
s=$(req term-001-wrongca GET /v1/health)
check "certificate of another CA: refused ($s)" test "$s" = 403 -o "$s" = 000
expect_log "refused: client certificate not trusted (The certificate is NOT trusted. The certificate issuer is unknown.) (peer 127.0.0.1:"
s=$(req term-001-expired GET /v1/health)
check "expired certificate: refused ($s)" test "$s" = 403 -o "$s" = 000
expect_log "refused: client certificate not trusted (The certificate is NOT trusted. The certificate chain uses expired certificate.)"
"$mkrecord" --key "$pki/term-001.key" --cert "$pki/term-001.pem" >"$tmp/one"
check "reviewer may not POST events" test "$(post alice "$tmp/one")" = 403
expect_log "refused: reviewer certificate may not submit events (CN alice, peer 127.0.0.1:"

# --- TLS versions and suites -----------------------------------------------------
handshake() { # handshake OPENSSL-ARGS...: 0 when a session is established
	openssl s_client -connect "127.0.0.1:$port" -servername localhost \
	    -CAfile "$pki/ca.pem" -cert "$pki/term-001.pem" \
	    -key "$pki/term-001.key" "$@" </dev/null >"$tmp/sc.out" 2>&1 || true
	grep -q 'Cipher is [A-Z0-9]' "$tmp/sc.out" &&
	    ! grep -q 'Cipher is (NONE)' "$tmp/sc.out"
}
n=$(grep -c 'refused: TLS handshake failed' "$log" || true)
check_not "TLS 1.1 refused" handshake -tls1_1 -cipher DEFAULT@SECLEVEL=0
check_not "TLS 1.0 refused" handshake -tls1 -cipher DEFAULT@SECLEVEL=0
check_not "TLS 1.2 CBC refused" handshake -tls1_2 \
    -cipher ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA
check_not "TLS 1.2 ChaCha20 refused" handshake -tls1_2 \
    -cipher ECDHE-ECDSA-CHACHA20-POLY1305
check_not "TLS 1.3 ChaCha20 refused" handshake -tls1_3 \
    -ciphersuites TLS_CHACHA20_POLY1305_SHA256
check "TLS 1.2 ECDHE-ECDSA-AES128-GCM accepted" handshake -tls1_2 \
    -cipher ECDHE-ECDSA-AES128-GCM-SHA256
check "TLS 1.3 AES-256-GCM accepted" handshake -tls1_3 \
    -ciphersuites TLS_AES_256_GCM_SHA384
sleep 0.3
m=$(grep -c 'refused: TLS handshake failed (peer 127.0.0.1:' "$log" || true)
check "each refused handshake logged ($((m - n)) of 5)" test $((m - n)) -eq 5

# --- records ---------------------------------------------------------------------
"$mkrecord" --key "$pki/term-001.key" --cert "$pki/term-001.pem" --count 3 \
    --body '{"event":{"action":"test"},"message":"hello from term-001"}' \
    --print-hash >"$tmp/r1-3" 2>"$tmp/h3"
check "POST 3 records: 200" test "$(post term-001 "$tmp/r1-3")" = 200
check "3 accepted, acked through 3" body_has \
    '{"acked_through_seq":3,"accepted":3,"duplicates":0,"quarantined":0,"alerts":0}'
check "the same again: duplicates" test "$(post term-001 "$tmp/r1-3")" = 200
check "3 duplicates" body_has '"accepted":0,"duplicates":3'

"$mkrecord" --key "$pki/term-001.key" --agent-id term-999 >"$tmp/other"
check "records of another agent id: 403" \
    test "$(post term-001 "$tmp/other")" = 403
expect_log "<2>alert identity-mismatch: agent term-001 sent records of agent term-999, seq 1"

"$mkrecord" --key "$pki/term-001.key" --cert "$pki/term-001.pem" --seq 4 \
    --prev-hash "$(cat "$tmp/h3")" --forge >"$tmp/forged"
check "a forged record: 200" test "$(post term-001 "$tmp/forged")" = 200
check "... quarantined" body_has '"acked_through_seq":4,"accepted":0,"duplicates":0,"quarantined":1'
expect_log "<2>alert forged: agent term-001, seq 4"

printf 'MYE1garbage' >"$tmp/garbage"
check "malformed body: 400" test "$(post term-001 "$tmp/garbage")" = 400
check "... with offset and ack" body_has '"offset":0,"acked_through_seq":4'
check "wrong Content-Type: 415" test "$(req term-001 POST /v1/events \
    --data-binary "@$tmp/one" -H 'Content-Type: application/json')" = 415
check "GET /v1/events: 405" test "$(req term-001 GET /v1/events)" = 405
check "unknown path: 404" test "$(req term-001 GET /v1/nothing)" = 404

# --- limits ------------------------------------------------------------------------
head -c $((2 * 1024 * 1024 + 1)) /dev/zero >"$tmp/big"
check "body over MaxBody: 413" test "$(post term-001 "$tmp/big")" = 413
expect_log "refused: body over MaxBody=2097152 bytes (CN term-001"
# No Content-Length to refuse up front: the connection is closed once the
# body passes MaxBody (libmicrohttpd 0.9.75 cannot answer mid-body).
s=$(post term-001 "$tmp/big" -H 'Transfer-Encoding: chunked')
check "chunked body over MaxBody: cut off ($s)" \
    test "$s" = 413 -o "$s" = 000 -o "$s" = 100
hdrs=()
for i in $(seq 70); do hdrs+=(-H "X-Filler-$i: $i"); done
check "70 headers: 431" \
    test "$(req term-001 GET /v1/health "${hdrs[@]}")" = 431
check "a 9000-byte header: 431" test "$(req term-001 GET /v1/health \
    -H "X-Long: $(head -c 9000 /dev/zero | tr '\0' a)")" = 431

# --- throughput: one POST of 1000 records --------------------------------------------
"$mkrecord" --key "$pki/term-001.key" --cert "$pki/term-001.pem" --seq 5 \
    --count 1000 --prev-hash "$(cat "$tmp/h3")" >"$tmp/r1000"
t0=$(date +%s%N)
s=$(post term-001 "$tmp/r1000")
t1=$(date +%s%N)
check "1000 records in one POST: $s" test "$s" = 200
check "... acked through 1004" body_has '"acked_through_seq":1004,"accepted":1000'
ms=$(((t1 - t0) / 1000000))
echo "# 1000 records ($(stat -c %s "$tmp/r1000") bytes) in one POST:" \
    "${ms} ms with curl and TLS, $((1000000 / (ms > 0 ? ms : 1))) records/s"

# --- database busy: 503 with Retry-After ------------------------------------------------
if command -v sqlite3 >/dev/null; then
	# Another writer holds the lock past our 5 s busy_timeout.
	(echo 'BEGIN IMMEDIATE;'; sleep 8; echo 'COMMIT;') |
	    sqlite3 "$tmp/collector.db" &
	lock=$!
	sleep 0.5
	check "database locked: 503" \
	    test "$(post term-001 "$tmp/one" -D "$tmp/hdr")" = 503
	check "... with Retry-After: 5" grep -qi '^Retry-After: 5' "$tmp/hdr"
	expect_log "events of term-001 (peer 127.0.0.1:"
	wait "$lock"
	check "unlocked: 200 again" test "$(post term-001 "$tmp/one")" = 200
else
	echo "skip: no sqlite3 command for the busy test"
fi

# --- the viewer, while running --------------------------------------------------------
"$collector" events --database "$tmp/collector.db" --limit 5 >"$tmp/events"
check "events lists the latest records" grep -q 'term-001 *1004  test *yes' \
    "$tmp/events"
"$collector" events --database "$tmp/collector.db" --agent term-001 \
    --limit 2000 >"$tmp/events"
check "events shows the message" grep -q 'hello from term-001' "$tmp/events"
"$collector" alerts --database "$tmp/collector.db" >"$tmp/alerts"
check "alerts lists identity-mismatch" grep -q 'identity-mismatch' "$tmp/alerts"
check "alerts lists forged" grep -q 'term-001 *forged *4 ' "$tmp/alerts"
check "alerts lists the gap left by the forged record" \
    grep -q 'term-001 *gap *4 ' "$tmp/alerts"

# --- stop ----------------------------------------------------------------------------
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
check "SIGTERM: exit 0" test "$rc" -eq 0
expect_log "<6>stopped"
check "the database is consistent after stop" test "$(sqlite3 \
    "$tmp/collector.db" 'PRAGMA integrity_check' 2>/dev/null || echo ok)" = ok

# --- socket activation (systemd passes the listening socket) ------------------------
if command -v systemd-socket-activate >/dev/null; then
	# The port the collector had above is free again.
	systemd-socket-activate -l "127.0.0.1:$port" "$collector" \
	    --config "$conf" 2>"$log" &
	pid=$!
	sleep 0.5
	check "socket activation: health" \
	    test "$(req term-001 GET /v1/health)" = 200
	expect_log "<6>listening on 127.0.0.1:$port"
	kill -TERM "$pid"
	wait "$pid" || true
	pid=
else
	echo "skip: no systemd-socket-activate"
fi

# --- IPv6 ------------------------------------------------------------------------------
if [ -r /proc/net/if_inet6 ] && grep -q '^0*1 ' /proc/net/if_inet6; then
	"$collector" --config "$conf" --listen ::1 --port 0 2>"$log" &
	pid=$!
	port=
	for _ in $(seq 100); do
		port=$(sed -n 's/^<6>listening on \[::1\]:\([0-9][0-9]*\)$/\1/p' \
		    "$log")
		[ -n "$port" ] && break
		sleep 0.1
	done
	check "listens on [::1]" test -n "$port"
	url=https://[::1]:$port
	check "health over IPv6" test "$(req term-001 GET /v1/health \
	    --resolve "localhost:$port:::1")" = 200
	kill -TERM "$pid"
	wait "$pid" || true
	pid=
else
	echo "skip: no IPv6 loopback"
fi

echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ]
