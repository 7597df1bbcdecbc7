#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# tools/mkcerts.sh as an administrator and the TLS tests use it: every
# subcommand, the files and modes it leaves, what openssl verify says about
# each certificate, subjects, extensions, curves, validity, refusals, and a
# mutual TLS 1.2 handshake with openssl s_server/s_client.
# usage: mkcerts.sh SOURCE_DIR
# shellcheck disable=SC2015,SC2016  # ok never fails; quotes on purpose
set -u
export LC_ALL=C
src=${1:?usage: mkcerts.sh SOURCE_DIR}
mk=$src/tools/mkcerts.sh
tmp=$(mktemp -d)
srv_pid=
cleanup() {
	if [ -n "$srv_pid" ]; then kill "$srv_pid" 2>/dev/null; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
pki=$tmp/pki	# does not exist yet: "ca" must create it
fails=0 passes=0

ok() { passes=$((passes + 1)); }
fail() { fails=$((fails + 1)); echo "FAIL: $*"; }
check() {	# check DESCRIPTION CMD...: CMD must succeed
	local what=$1
	shift
	if "$@" >"$tmp/out" 2>&1; then ok; else
		fail "$what"; sed 's/^/    /' "$tmp/out"; fi
}
refute() {	# refute DESCRIPTION CMD...: CMD must fail
	local what=$1
	shift
	if "$@" >"$tmp/out" 2>&1; then
		fail "$what (succeeded)"; sed 's/^/    /' "$tmp/out"; else ok; fi
}
# mkcerts ARGS...: run the script; its output is left in $tmp/mk.{out,err}.
mkcerts() { bash "$mk" "$@" >"$tmp/mk.out" 2>"$tmp/mk.err"; }
run_ok() {	# run_ok ARGS...: the script must succeed
	if mkcerts "$@"; then ok; else
		fail "mkcerts.sh $* exited $?"; cat "$tmp/mk.err"; fi
}
run_refused() {	# run_refused DESCRIPTION ARGS...: it must fail, with a message
	local what=$1
	shift
	if mkcerts "$@"; then fail "$what: not refused"; return; fi
	if [ -s "$tmp/mk.err" ]; then ok; else fail "$what: no message"; fi
}
mode_is() {	# mode_is FILE MODE
	local m
	m=$(stat -c %a "$1" 2>/dev/null)
	if [ "$m" = "$2" ]; then ok; else fail "$1: mode ${m:-missing}, want $2"; fi
}
said_created() {	# said_created FILE...: the script printed each
	local f
	for f; do
		if grep -qxF "created $f" "$tmp/mk.out" ||
		    grep -q "^created $f (" "$tmp/mk.out"; then ok; else
			fail "no 'created $f' in output"; cat "$tmp/mk.out"; fi
	done
}
subject_is() {	# subject_is CERT WANT
	local got
	got=$(openssl x509 -in "$1" -noout -subject)
	if [ "$got" = "subject=$2" ]; then ok; else
		fail "$1: $got, want subject=$2"; fi
}
ext_has() {	# ext_has CERT EXTENSIONS REGEX: the printed extensions match
	local text
	text=$(openssl x509 -in "$1" -noout -ext "$2" 2>&1 | tr -s ' \n' ' ')
	if grep -qE -- "$3" <<<"$text"; then ok; else
		fail "$1: -ext $2 is '$text', want /$3/"; fi
}
ext_lacks() {	# ext_lacks CERT EXTENSIONS REGEX
	local text
	text=$(openssl x509 -in "$1" -noout -ext "$2" 2>&1 | tr -s ' \n' ' ')
	if grep -qE -- "$3" <<<"$text"; then
		fail "$1: -ext $2 is '$text', must not match /$3/"; else ok; fi
}
is_p256() {	# is_p256 KEY CERT: a P-256 key, its certificate, SHA-256
	local a b
	if openssl pkey -in "$1" -noout -text 2>&1 |
	    grep -q "ASN1 OID: prime256v1"; then ok; else
		fail "$1: not a P-256 key"; fi
	if openssl x509 -in "$2" -noout -text | grep -q "ASN1 OID: prime256v1"
	then ok; else fail "$2: public key not P-256"; fi
	if openssl x509 -in "$2" -noout -text |
	    grep -q "Signature Algorithm: ecdsa-with-SHA256"; then ok; else
		fail "$2: not signed with ecdsa-with-SHA256"; fi
	a=$(openssl pkey -in "$1" -pubout 2>&1)
	b=$(openssl x509 -in "$2" -noout -pubkey 2>&1)
	if [ "$a" = "$b" ]; then ok; else fail "$2 is not for $1"; fi
}
days_valid() {	# days_valid CERT DAYS: notAfter - notBefore
	local nb na
	nb=$(openssl x509 -in "$1" -noout -startdate | sed 's/^notBefore=//')
	na=$(openssl x509 -in "$1" -noout -enddate | sed 's/^notAfter=//')
	nb=$(date -u -d "$nb" +%s) na=$(date -u -d "$na" +%s)
	if [ $(((na - nb) / 86400)) -eq "$2" ]; then ok; else
		fail "$1: valid $(((na - nb) / 86400)) days, want $2"; fi
}
verifies() {	# verifies CERT [OPTIONS...]: against the town CA
	local c=$1
	shift
	check "openssl verify $* $c" openssl verify -x509_strict \
	    -CAfile "$pki/ca.pem" "$@" "$c"
}
pair() {	# pair BASE: BASE.key 0600 and BASE.pem 0644, both reported
	mode_is "$1.key" 600
	mode_is "$1.pem" 644
	said_created "$1.key" "$1.pem"
	is_p256 "$1.key" "$1.pem"
}

O="Town of Example"
id=zeimu-pc01

# --- the town CA -----------------------------------------------------
run_ok ca "$pki"
mode_is "$pki" 700
pair "$pki/ca"
subject_is "$pki/ca.pem" "O = $O, OU = mynaguard, CN = Example Town mynaguard CA"
ext_has "$pki/ca.pem" basicConstraints "critical CA:TRUE"
ext_has "$pki/ca.pem" keyUsage "critical Certificate Sign, CRL Sign $"
check "CA is self-signed and verifies" openssl verify -x509_strict \
    -CAfile "$pki/ca.pem" "$pki/ca.pem"
days_valid "$pki/ca.pem" 3650
sum=$(cat "$pki/ca.key" "$pki/ca.pem" | sha256sum)
run_refused "second ca into the same DIR" ca "$pki"
grep -q "refusing to overwrite" "$tmp/mk.err" && ok ||
	fail "overwrite refusal says why: $(cat "$tmp/mk.err")"
[ "$(cat "$pki/ca.key" "$pki/ca.pem" | sha256sum)" = "$sum" ] && ok ||
	fail "refused ca changed ca.key or ca.pem"
mkdir "$tmp/half" && : >"$tmp/half/ca.pem"
run_refused "ca where only ca.pem exists" ca "$tmp/half"
[ ! -e "$tmp/half/ca.key" ] && ok || fail "refused ca left a ca.key"
run_refused "terminal without a CA" terminal "$tmp/nothing" "$id"

# --- the collector on localhost --------------------------------------
run_ok server "$pki" localhost
pair "$pki/localhost"
subject_is "$pki/localhost.pem" "O = $O, OU = collector, CN = localhost"
ext_has "$pki/localhost.pem" extendedKeyUsage \
    "Extended Key Usage: TLS Web Server Authentication $"
ext_has "$pki/localhost.pem" subjectAltName \
    "Alternative Name: DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1 $"
ext_has "$pki/localhost.pem" keyUsage "critical Digital Signature $"
ext_has "$pki/localhost.pem" basicConstraints "critical CA:FALSE"
verifies "$pki/localhost.pem" -purpose sslserver -verify_hostname localhost
verifies "$pki/localhost.pem" -verify_ip 127.0.0.1
verifies "$pki/localhost.pem" -verify_ip ::1
refute "server cert is no client cert" openssl verify -purpose sslclient \
    -CAfile "$pki/ca.pem" "$pki/localhost.pem"
days_valid "$pki/localhost.pem" 825

# A real collector name with explicit SANs (duplicates collapse).
run_ok server "$pki" collector.town.example IP:192.0.2.10 \
    DNS:mynaguard-collector DNS:collector.town.example
pair "$pki/collector.town.example"
ext_has "$pki/collector.town.example.pem" subjectAltName \
    "Alternative Name: DNS:collector.town.example, IP Address:192.0.2.10, DNS:mynaguard-collector $"
verifies "$pki/collector.town.example.pem" -verify_hostname mynaguard-collector
run_refused "SAN without a type" server "$pki" c1.example 192.0.2.1
run_refused "SAN with a comma" server "$pki" c2.example "IP:192.0.2.1,DNS:x"
run_refused "bad IP SAN" server "$pki" c3.example IP:192.0.2.300
run_refused "server NAME with a slash" server "$pki" ../evil
run_refused "server NAME an IP" server "$pki" 192.0.2.1
[ -z "$(find "$pki" -maxdepth 1 -name 'c[123].example*')" ] && ok ||
	fail "refused server left files"

# --- a terminal --------------------------------------------------------
run_ok terminal "$pki" "$id"
pair "$pki/$id"
subject_is "$pki/$id.pem" "O = $O, OU = terminal, CN = $id"
ext_has "$pki/$id.pem" extendedKeyUsage \
    "Extended Key Usage: TLS Web Client Authentication $"
ext_has "$pki/$id.pem" keyUsage "critical Digital Signature $"
ext_lacks "$pki/$id.pem" subjectAltName "Alternative Name"
verifies "$pki/$id.pem" -purpose sslclient
refute "terminal cert is no server cert" openssl verify -purpose sslserver \
    -CAfile "$pki/ca.pem" "$pki/$id.pem"
days_valid "$pki/$id.pem" 825
s1=$(openssl x509 -in "$pki/$id.pem" -noout -serial)
s2=$(openssl x509 -in "$pki/localhost.pem" -noout -serial)
[ "$s1" != "$s2" ] && [ ${#s1} -ge 30 ] && ok ||
	fail "serials not random: $s1 $s2"
sum=$(cat "$pki/$id.key" "$pki/$id.pem" | sha256sum)
run_refused "second terminal with the same id" terminal "$pki" "$id"
[ "$(cat "$pki/$id.key" "$pki/$id.pem" | sha256sum)" = "$sum" ] && ok ||
	fail "refused terminal changed $id.key or $id.pem"

# Agent ids: 1-64 of [A-Za-z0-9._-], not starting with . or -.
for good in a 0 _x A.b-c_9 "$(printf 'k%.0s' {1..64})"; do
	run_ok terminal "$pki" "$good"
	[ -f "$pki/$good.pem" ] && ok || fail "no $good.pem"
done
n=$(find "$pki" | wc -l)
for bad in "" .hidden -opt "$(printf 'k%.0s' {1..65})" a/b ../x "a b" \
    'a$b' "a*" $'a\nb' 端末01 "x:y" "a@b"; do
	run_refused "agent id '$bad'" terminal "$pki" "$bad"
	grep -q "not a valid agent id" "$tmp/mk.err" && ok ||
		fail "agent id '$bad': $(cat "$tmp/mk.err")"
	run_refused "reviewer name '$bad'" reviewer "$pki" "$bad"
done
[ "$(find "$pki" | wc -l)" = "$n" ] && ok || fail "refused ids left files"

# --- a reviewer ---------------------------------------------------------
run_ok reviewer "$pki" suzuki
pair "$pki/suzuki"
subject_is "$pki/suzuki.pem" "O = $O, OU = reviewer, CN = suzuki"
ext_has "$pki/suzuki.pem" extendedKeyUsage \
    "Extended Key Usage: TLS Web Client Authentication $"
verifies "$pki/suzuki.pem" -purpose sslclient
days_valid "$pki/suzuki.pem" 825
run_refused "reviewer named like an existing terminal" reviewer "$pki" "$id"

# --- expired (test only) ------------------------------------------------
run_ok expired "$pki" "$id"
pair "$pki/$id-expired"
subject_is "$pki/$id-expired.pem" "O = $O, OU = terminal, CN = $id"
ext_has "$pki/$id-expired.pem" extendedKeyUsage \
    "Extended Key Usage: TLS Web Client Authentication $"
refute "expired cert is expired (-checkend 0)" \
    openssl x509 -in "$pki/$id-expired.pem" -noout -checkend 0
refute "expired cert must not verify" openssl verify -CAfile "$pki/ca.pem" \
    "$pki/$id-expired.pem"
grep -q "certificate has expired" "$tmp/out" && ok ||
	fail "expired: verify says $(cat "$tmp/out")"
verifies "$pki/$id-expired.pem" -no_check_time -purpose sslclient
na=$(openssl x509 -in "$pki/$id-expired.pem" -noout -enddate | sed 's/.*=//')
nb=$(openssl x509 -in "$pki/$id-expired.pem" -noout -startdate | sed 's/.*=//')
[ "$(date -u -d "$na" +%s)" -lt "$(date +%s)" ] &&
    [ "$(date -u -d "$nb" +%s)" -lt "$(date -u -d "$na" +%s)" ] && ok ||
	fail "expired validity $nb .. $na"
[ -z "$(find "$pki" -maxdepth 1 -name '.mkcerts.*')" ] && ok ||
	fail "scratch directories left in $pki"

# --- wrong CA (test only) -----------------------------------------------
run_ok wrongca "$pki" "$id"
mode_is "$pki/wrongca/ca.key" 600
mode_is "$pki/wrongca/ca.pem" 644
said_created "$pki/wrongca/ca.key" "$pki/wrongca/ca.pem"
pair "$pki/$id-wrongca"
subject_is "$pki/$id-wrongca.pem" "O = $O, OU = terminal, CN = $id"
refute "wrong-CA cert must not verify against the town CA" \
    openssl verify -CAfile "$pki/ca.pem" "$pki/$id-wrongca.pem"
check "wrong-CA cert verifies against its own CA" openssl verify \
    -x509_strict -purpose sslclient -CAfile "$pki/wrongca/ca.pem" \
    "$pki/$id-wrongca.pem"
refute "the wrong CA is not the town CA" cmp -s "$pki/wrongca/ca.pem" \
    "$pki/ca.pem"
refute "town CA does not verify against the wrong CA" openssl verify \
    -CAfile "$pki/wrongca/ca.pem" "$pki/ca.pem"
run_ok wrongca "$pki" other-pc	# a second one reuses DIR/wrongca
check "second wrong-CA cert shares the wrong CA" openssl verify \
    -CAfile "$pki/wrongca/ca.pem" "$pki/other-pc-wrongca.pem"

# --- server with the wrong name (test only) -----------------------------
run_ok server-wrongname "$pki" collector.invalid
pair "$pki/collector.invalid"
subject_is "$pki/collector.invalid.pem" "O = $O, OU = collector, CN = collector.invalid"
ext_has "$pki/collector.invalid.pem" subjectAltName \
    "Alternative Name: DNS:collector.invalid $"
ext_has "$pki/collector.invalid.pem" extendedKeyUsage \
    "Extended Key Usage: TLS Web Server Authentication $"
verifies "$pki/collector.invalid.pem" -purpose sslserver
refute "wrong-name cert does not match localhost" openssl verify \
    -verify_hostname localhost -CAfile "$pki/ca.pem" \
    "$pki/collector.invalid.pem"
refute "wrong-name cert does not match 127.0.0.1" openssl verify \
    -verify_ip 127.0.0.1 -CAfile "$pki/ca.pem" "$pki/collector.invalid.pem"
run_refused "server-wrongname localhost" server-wrongname "$pki" localhost
run_refused "server-wrongname with SANs" server-wrongname "$pki" x.invalid \
    DNS:localhost

# --- usage ----------------------------------------------------------------
run_refused "no arguments"
run_refused "unknown subcommand" frobnicate "$pki" x
run_refused "terminal without an id" terminal "$pki"
run_refused "terminal with two ids" terminal "$pki" a2 b2

# --- a CA for a Japanese town: UTF-8 and -subj metacharacters ---------
MKCERTS_ORG='例町 a/b+c\d' MKCERTS_CA_CN='例町 mynaguard 認証局' \
    run_ok ca "$tmp/jp"
run_ok terminal "$tmp/jp" jp-pc01
o=$(openssl x509 -in "$tmp/jp/jp-pc01.pem" -noout -subject \
    -nameopt sep_multiline,sname,utf8 | sed -n 's/^ *O=//p')
[ "$o" = '例町 a/b+c\d' ] && ok || fail "terminal O copied from CA: '$o'"
check "UTF-8 terminal verifies" openssl verify -x509_strict \
    -CAfile "$tmp/jp/ca.pem" "$tmp/jp/jp-pc01.pem"

# --- mutual TLS 1.2, ECDHE P-256 + ECDSA + AES-GCM (CRYPTREC), as the ------
# collector's GnuTLS priorities allow; the collector's own TLS tests are in
# collector_tls.sh.
# handshake SERVER_BASE CLIENT_BASE CLIENT_CHECK...: client rc in $hs_rc.
handshake() {
	local srv=$1 cli=$2 port="" _
	shift 2
	# Empty it here: the server's own redirection happens only after the
	# fork, and the loop below must not read the previous server's port.
	: >"$tmp/srv.out"
	openssl s_server -accept 127.0.0.1:0 -naccept 1 -www -tls1_2 \
	    -cipher ECDHE-ECDSA-AES128-GCM-SHA256 -groups P-256 -Verify 1 \
	    -verify_return_error -CAfile "$pki/ca.pem" \
	    -cert "$pki/$srv.pem" -key "$pki/$srv.key" \
	    </dev/null >"$tmp/srv.out" 2>&1 &
	srv_pid=$!
	for _ in $(seq 100); do
		port=$(sed -n 's/^ACCEPT 127\.0\.0\.1:\([0-9]*\)$/\1/p' \
		    "$tmp/srv.out")
		[ -n "$port" ] && break
		sleep 0.05
	done
	if [ -z "$port" ]; then
		hs_rc=skip
	else
		timeout 10 openssl s_client -connect "127.0.0.1:$port" -tls1_2 \
		    -CAfile "$pki/ca.pem" -cert "$pki/$cli.pem" \
		    -key "$pki/$cli.key" -verify_return_error "$@" \
		    </dev/null >"$tmp/cli.out" 2>&1
		hs_rc=$?
	fi
	kill "$srv_pid" 2>/dev/null
	wait "$srv_pid" 2>/dev/null
	srv_pid=
}
hs_dump() { sed 's/^/    client: /' "$tmp/cli.out"; sed 's/^/    server: /' "$tmp/srv.out"; }
hs_accepted() {	# hs_accepted DESCRIPTION: the last handshake worked
	if [ "$hs_rc" = 0 ] && grep -q "Verify return code: 0 (ok)" \
	    "$tmp/cli.out"; then ok; else fail "$1: rc $hs_rc"; hs_dump; fi
}
hs_refused() {	# hs_refused DESCRIPTION cli|srv REGEX: it failed, and why
	if [ "$hs_rc" != 0 ] && grep -qE "$3" "$tmp/$2.out"; then ok; else
		fail "$1: rc $hs_rc, no /$3/ from the $2"; hs_dump; fi
}
handshake localhost "$id" -verify_hostname localhost
if [ "$hs_rc" = skip ]; then
	echo "SKIP: openssl s_server did not listen on 127.0.0.1"
else
	hs_accepted "terminal -> localhost"
	grep -q "Server Temp Key: ECDH, prime256v1" "$tmp/cli.out" && ok ||
		fail "key exchange not ECDH P-256"
	grep -q "CN = $id\$" "$tmp/srv.out" && ok ||
		fail "server did not see CN = $id"
	handshake localhost suzuki -verify_ip 127.0.0.1
	hs_accepted "reviewer -> 127.0.0.1"
	handshake localhost "$id-expired" -verify_hostname localhost
	hs_refused "expired client" srv "certificate has expired"
	handshake localhost "$id-wrongca" -verify_hostname localhost
	hs_refused "wrong-CA client" srv "verify error"
	handshake collector.invalid "$id" -verify_hostname localhost
	hs_refused "wrong-name server" cli "hostname mismatch"
fi

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
