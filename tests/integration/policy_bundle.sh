#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# mynaguard policy sign / verify end to end, with certificates from
# tools/mkcerts.sh: a valid bundle, an invalid policy refused at signing
# with line:col, invalid credentials, a wrong or TLS certificate, a tampered
# or truncated bundle, exit codes, no overwrite without --force, mode 0644.
# Usage: policy_bundle.sh MYNAGUARD SOURCE_DIR
set -euo pipefail
export LC_ALL=C

mg=$1 src=$2
command -v openssl >/dev/null || { echo "no openssl: skip"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mg-bundle.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
fails=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

# expect CODE DESCRIPTION CMD...: run, keep stdout/stderr in $tmp/out.
expect() {
	local want=$1 what=$2 rc=0
	shift 2
	"$@" >"$tmp/out" 2>&1 || rc=$?
	if [ "$rc" -eq "$want" ]; then ok "$what"; else
		bad "$what: exit $rc, wanted $want"; cat "$tmp/out"; fi
}
has() {
	if grep -qF -- "$1" "$tmp/out"; then ok "  says: $1"; else
		bad "  output lacks: $1"; cat "$tmp/out"; fi
}

mkc=$src/tools/mkcerts.sh
"$mkc" ca "$tmp/ca" >/dev/null
"$mkc" policy-signer "$tmp/ca" town-policy >/dev/null
"$mkc" policy-signer "$tmp/ca" other-policy >/dev/null
"$mkc" terminal "$tmp/ca" zeimu-pc01 >/dev/null
ca=$tmp/ca key=$tmp/ca/town-policy.key cert=$tmp/ca/town-policy.pem

# The policy-signing certificate is no TLS certificate.
for p in sslclient sslserver; do
	if openssl verify -purpose "$p" -CAfile "$ca/ca.pem" "$cert" \
	    >/dev/null 2>&1; then
		bad "policy-signer certificate passes as $p"
	else
		ok "policy-signer certificate refused as $p"
	fi
done

pol=$src/policy/mynumber-terminal.conf
cred=$src/tests/fuzz/corpus/cred_file/valid_town.cred
out=$tmp/zeimu.bundle
sign() { "$mg" policy sign "$@"; }
# pv N: the shipped profile with [policy] version = N (the bundle's version
# is the policy's own).
pv() {
	sed "s/^version *=.*/version = $1/" "$pol" >"$tmp/p$1.conf"
	echo "$tmp/p$1.conf"
}

expect 0 "sign the shipped profile with credentials" sign "$(pv 3)" \
    --group zeimu --version 3 --credentials "$cred" --key "$key" \
    --cert "$cert" -o "$out"
has "group        zeimu"
has "version      3"
[ "$(stat -c %a "$out")" = 644 ] && ok "mode 0644" || bad "mode not 0644"
expect 0 "verify with the pinned certificate" "$mg" policy verify "$out" \
    --cert "$cert"
has "valid: $out"
has "credentials  "
expect 0 "verify --json" "$mg" policy verify "$out" --cert "$cert" --json
has '"valid":true'
has '"version":3'

# The format can be audited with openssl alone.
n=$(grep -boa '^signature ' "$out" | cut -d: -f1)
head -c "$n" "$out" >"$tmp/signed"
tail -n 1 "$out" | cut -d' ' -f2 | openssl base64 -d -A >"$tmp/sig"
openssl x509 -in "$cert" -noout -pubkey >"$tmp/pub"
if openssl dgst -sha256 -verify "$tmp/pub" -signature "$tmp/sig" \
    "$tmp/signed" >/dev/null; then ok "openssl dgst verifies"; else
	bad "openssl dgst does not verify"; fi
h=$(openssl x509 -in "$cert" -outform DER | sha256sum | cut -d' ' -f1)
grep -qx "signer $h" "$out" && ok "signer is the certificate's sha256" ||
	bad "signer line is not sha256(DER)"

expect 1 "no overwrite" sign "$(pv 4)" --group zeimu --version 4 --key "$key" \
    --cert "$cert" -o "$out"
has "refusing to overwrite"
grep -qx "version 3" "$out" && ok "old bundle kept" || bad "bundle changed"
expect 0 "--force overwrites" sign "$(pv 4)" --group zeimu --version 4 \
    --key "$key" --cert "$cert" -o "$out" --force
grep -qx "version 4" "$out" && ok "new version written" || bad "not written"

expect 1 "invalid policy refused at sign" sign \
    "$src/tests/data/bad-policy.conf" --group zeimu --version 5 \
    --key "$key" --cert "$cert" -o "$tmp/bad.bundle"
has "bad-policy.conf:4:11: version must be a number"
[ ! -e "$tmp/bad.bundle" ] && ok "nothing written" || bad "bundle written"
printf 'mynaguard-credentials 1\nalice x\n' >"$tmp/bad.cred"
expect 1 "invalid credentials refused at sign" sign "$(pv 5)" --group zeimu \
    --version 5 --credentials "$tmp/bad.cred" --key "$key" --cert "$cert" \
    -o "$tmp/bad.bundle"
has "bad.cred:2:"
expect 1 "a TLS certificate cannot sign" sign "$(pv 5)" --group zeimu \
    --version 5 --key "$ca/zeimu-pc01.key" --cert "$ca/zeimu-pc01.pem" \
    -o "$tmp/bad.bundle"
has "not a policy-signing certificate"
expect 1 "key of another certificate" sign "$(pv 5)" --group zeimu \
    --version 5 --key "$ca/other-policy.key" --cert "$cert" \
    -o "$tmp/bad.bundle"
expect 2 "bad group is a usage error" sign "$(pv 5)" --group Zeimu \
    --version 5 --key "$key" --cert "$cert" -o "$tmp/bad.bundle"
expect 2 "version 0 is a usage error" sign "$pol" --group zeimu \
    --version 0 --key "$key" --cert "$cert" -o "$tmp/bad.bundle"
expect 2 "missing options" sign "$pol" --group zeimu
expect 0 "--version left out: the policy's own" sign "$(pv 7)" --group zeimu \
    --key "$key" --cert "$cert" -o "$tmp/v7.bundle"
has "version      7"
expect 1 "--version other than the policy's refused" sign "$(pv 7)" \
    --group zeimu --version 8 --key "$key" --cert "$cert" -o "$tmp/v8.bundle"
has "they must be the same number"
[ ! -e "$tmp/v8.bundle" ] && ok "nothing written" || bad "bundle written"

expect 1 "another signer's certificate" "$mg" policy verify "$out" \
    --cert "$ca/other-policy.pem"
has "signed by certificate sha256 $h, this terminal trusts"
expect 1 "a TLS certificate as pin" "$mg" policy verify "$out" \
    --cert "$ca/zeimu-pc01.pem"
sed 's/^version 4$/version 9/' "$out" >"$tmp/rolled"
expect 1 "edited version" "$mg" policy verify "$tmp/rolled" --cert "$cert"
has "does not verify"
head -c 200 "$out" >"$tmp/trunc"
expect 1 "truncated" "$mg" policy verify "$tmp/trunc" --cert "$cert" --json
has '"valid":false'
{ cat "$out"; echo extra; } >"$tmp/trail"
expect 1 "trailing bytes" "$mg" policy verify "$tmp/trail" --cert "$cert"
has "bytes after the signature line"
expect 2 "missing bundle" "$mg" policy verify "$tmp/none" --cert "$cert"

echo "policy_bundle: $fails failures"
[ "$fails" -eq 0 ]
