#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The LD_PRELOAD shim and skctl: state files made by skctl, devices listed
# by fido_dev_info_manifest(), an enrollment the way our module does it and
# a login the way pam_u2f does it (preload_probe.c), then the log and the
# persisted counter.
# Usage: preload_test.sh SKCTL PRELOAD_PROBE LIBSOFTKEY_PRELOAD
set -euo pipefail

skctl=$1 probe=$2 lib=$3
# An ASan build: the probe's runtime is not first in the library list
# (STYLE 5.8); harmless without ASan.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# If an ASan-built probe cannot run with the preloaded library at all, skip.
if ! SOFTKEY_STATE= LD_PRELOAD=$lib "$probe" 0 2>"$tmp/err"; then
	if grep -q 'AddressSanitizer' "$tmp/err"; then
		cat "$tmp/err" >&2
		echo "SKIP: preload under ASan" >&2
		exit 77
	fi
	cat "$tmp/err" >&2
	fail "no SOFTKEY_STATE: expected zero devices"
fi
env -u SOFTKEY_STATE LD_PRELOAD="$lib" "$probe" 0 || fail "unset: zero devices"

# skctl: init, set, get, and its refusals
"$skctl" init "$tmp/a" --pin 1234 --aaguid 00112233445566778899aabbccddeeff
"$skctl" init "$tmp/b"
[ "$("$skctl" get "$tmp/a" aaguid)" = 00112233445566778899aabbccddeeff ] ||
	fail "aaguid"
[ "$("$skctl" get "$tmp/a" pin_set)" = 1 ] || fail "pin_set a"
[ "$("$skctl" get "$tmp/b" pin_set)" = 0 ] || fail "pin_set b"
[ "$("$skctl" get "$tmp/b" retries)" = 8 ] || fail "retries"
! "$skctl" init "$tmp/a" 2>"$tmp/err" || fail "init over an existing file"
grep -q 'exists' "$tmp/err" || fail "init message"
! "$skctl" get "$tmp/a" secret 2>"$tmp/err" || fail "printed the secret"
! "$skctl" get "$tmp/a" pin_hash 2>/dev/null || fail "printed the PIN hash"
! "$skctl" set "$tmp/a" no_touch=1 bogus=1 2>"$tmp/err" || fail "bogus key"
grep -q "unknown key 'bogus'" "$tmp/err" || fail "bogus message"
[ "$("$skctl" get "$tmp/a" no_touch)" = 0 ] || fail "set was not all-or-nothing"
! "$skctl" set "$tmp/a" counter=-1 2>"$tmp/err" || fail "negative counter"
grep -q "bad value in 'counter=-1'" "$tmp/err" || fail "counter message"
! "$skctl" set "$tmp/a" secret=00 2>/dev/null || fail "set the secret"
! "$skctl" set "$tmp/a" pin=12 2>/dev/null || fail "short PIN"
! "$skctl" init "$tmp/c" --aaguid 12 2>/dev/null || fail "short aaguid"
! "$skctl" get "$tmp/nonexistent" counter 2>"$tmp/err" || fail "missing file"
grep -q "$tmp/nonexistent" "$tmp/err" || fail "missing file message"
printf 'secret=00\n' >"$tmp/bad"
! "$skctl" get "$tmp/bad" counter 2>"$tmp/err" || fail "bad file"
grep -q "$tmp/bad:1: malformed" "$tmp/err" || fail "bad file message"
"$skctl" set "$tmp/b" counter_set=41 touch_delay_ms=0
[ "$("$skctl" get "$tmp/b" counter)" = 41 ] || fail "counter_set"

# Two keys, a PIN on the first: enroll + login with PIN and UV.
SOFTKEY_STATE=$tmp/a:$tmp/b SOFTKEY_LOG=$tmp/log LD_PRELOAD=$lib \
	"$probe" 2 1234 >"$tmp/out" || fail "probe with PIN"
cat "$tmp/out"
grep -q 'getassert status=0x00 up=1 pinauth=1 uv=1' "$tmp/log" ||
	fail "no PIN assertion in the log"
[ "$("$skctl" get "$tmp/a" counter)" = 2 ] || fail "counter a"

# The second key, no PIN: touch only; the counter went on from 41.
SOFTKEY_STATE=$tmp/b:$tmp/a SOFTKEY_LOG=$tmp/log2 LD_PRELOAD=$lib \
	"$probe" 2 >"$tmp/out" || fail "probe without PIN"
grep -q 'sigcount 43' "$tmp/out" || fail "sigcount 43"
! grep -q 'pinauth=1' "$tmp/log2" || fail "a PIN was sent"

# A key pulled out after open (INIT, GetInfo) fails the enrollment.
"$skctl" set "$tmp/b" remove_after=2
! SOFTKEY_STATE=$tmp/b SOFTKEY_LOG=$tmp/log3 LD_PRELOAD=$lib "$probe" 1 \
	2>/dev/null || fail "removed key"
grep -q '^removed' "$tmp/log3" || fail "removal not logged"
echo "preload_test: ok"
