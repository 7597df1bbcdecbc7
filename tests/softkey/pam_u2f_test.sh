#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Debian's pam_u2f against the softkey through libsoftkey-preload.so:
# pamu2fcfg enrolls (it wants basic attestation: fido_cred_verify()), then
# pamtester logs in under pam_wrapper. Shows that the benchmark's pam_u2f
# side and the preload hooks fit (fido_dev_info_manifest, fido_dev_new +
# fido_dev_open(path)). Skips (77) without the tools or in sanitizer builds
# (an ASan-built preload library cannot go into uninstrumented programs).
# Usage: pam_u2f_test.sh SKCTL LIBSOFTKEY_PRELOAD SANITIZE(0/1)
set -euo pipefail

skctl=$1 lib=$2 sanitize=$3
multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
pam_u2f=/lib/$multiarch/security/pam_u2f.so
wrapper=/usr/lib/$multiarch/libpam_wrapper.so

skip() { echo "SKIP: $*" >&2; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

[ "$sanitize" = 0 ] || skip "sanitizer build"
for t in pamu2fcfg pamtester; do
	command -v "$t" >/dev/null || skip "$t not installed"
done
[ -e "$pam_u2f" ] || skip "$pam_u2f not installed"
[ -e "$wrapper" ] || skip "$wrapper not installed"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/svc"
user=$(id -un)

"$skctl" init "$tmp/key"
"$skctl" set "$tmp/key" basic_attestation=1
SOFTKEY_STATE=$tmp/key LD_PRELOAD=$lib timeout 60 \
	pamu2fcfg -u "$user" -o pam://mg -i pam://mg >"$tmp/u2f_keys" ||
	fail "pamu2fcfg"
grep -q "^$user:" "$tmp/u2f_keys" || fail "no authfile line"
cat >"$tmp/svc/u2f" <<EOT
auth required $pam_u2f authfile=$tmp/u2f_keys origin=pam://mg appid=pam://mg
account required pam_permit.so
EOT

login() {
	SOFTKEY_STATE=$tmp/key SOFTKEY_LOG=$tmp/log \
	    LD_PRELOAD="$wrapper $lib" PAM_WRAPPER=1 \
	    PAM_WRAPPER_SERVICE_DIR=$tmp/svc \
	    timeout 60 pamtester u2f "$user" authenticate </dev/null \
	    >"$tmp/out" 2>&1
}

login || { cat "$tmp/out" >&2; fail "login"; }
grep -q 'getassert status=0x00 up=1' "$tmp/log" || fail "no assertion"
[ "$("$skctl" get "$tmp/key" counter)" -ge 2 ] || fail "counter"

for knob in bad_sig drop_up bad_rpid; do
	"$skctl" set "$tmp/key" "$knob=1"
	! login || fail "login with $knob"
	"$skctl" set "$tmp/key" "$knob=0"
done
"$skctl" set "$tmp/key" remove_after=2
! login || fail "login with the key pulled out"
"$skctl" set "$tmp/key" remove_after=0
login || fail "login again"
echo "pam_u2f_test: ok"
