#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The mynaguard command as an administrator uses it: exit codes, the exact
# FILE:LINE:COL diagnostics, normalized output and its round trip.
# usage: cli.sh MYNAGUARD SOURCE_DIR
set -u
bin=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0

ok() { passes=$((passes + 1)); }
fail() { fails=$((fails + 1)); echo "FAIL: $*"; }
expect_rc() {	# expect_rc WANT DESCRIPTION CMD...
	local want=$1 what=$2 rc
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -eq "$want" ]; then ok; else
		fail "$what: exit $rc, want $want"; cat "$tmp/err"; fi
}

profile=$src/policy/mynumber-terminal.conf
expect_rc 0 "shipped profile is valid" "$bin" policy check "$profile"
grep -q "OK (7 device rules)" "$tmp/out" && ok || fail "check summary"

# Every error of a malformed file, in order, with exact positions.
(cd "$src/tests/data" && "$bin" policy check bad-policy.conf) \
    >"$tmp/out" 2>"$tmp/err"
[ $? -eq 1 ] && ok || fail "bad policy must exit 1"
if diff -u "$src/tests/data/bad-policy.expected" "$tmp/err"; then ok; else
	fail "diagnostics differ from tests/data/bad-policy.expected"; fi

# Several files: the worst status wins, each is reported.
expect_rc 1 "mixed files" "$bin" policy check "$profile" \
    "$src/tests/data/bad-policy.conf"
grep -q "mynumber-terminal.conf: OK" "$tmp/out" && ok || fail "good file named"

# show: normalized, and stable: show(parse(show(x))) == show(x).
expect_rc 0 "show profile" "$bin" policy show "$profile"
cp "$tmp/out" "$tmp/show1"
expect_rc 0 "show of show" "$bin" policy show "$tmp/show1"
cmp -s "$tmp/show1" "$tmp/out" && ok || fail "show is not a fixed point"
grep -q '^default read-only$' "$tmp/show1" && ok || fail "default shown"
grep -q 'label "USBメモリ' "$tmp/show1" && ok || fail "Japanese kept"
expect_rc 0 "show --ascii" "$bin" policy show --ascii "$profile"
grep -q 'label "\\xe3' "$tmp/out" && ok || fail "--ascii escapes UTF-8"
LC_ALL=C grep -q $'[\x80-\xff]' "$tmp/out" && fail "--ascii left bytes" || ok
expect_rc 0 "show --rules" "$bin" policy show --rules "$profile"
grep -q '^\[' "$tmp/out" && fail "--rules printed sections" || ok

# Standard input, and a plain usbguard rules file.
printf 'allow 1234:5678 name "x" # c\n' >"$tmp/r.conf"
expect_rc 0 "stdin" "$bin" policy show - <"$tmp/r.conf"
[ "$(cat "$tmp/out")" = 'allow id 1234:5678 name "x"' ] && ok ||
    fail "stdin rule: $(cat "$tmp/out")"

# policy test: decisions with the deciding rule, seat conditions, and
# failing closed when a condition needs the running agent.
stick='device id 0781:5581 serial "4C530001" with-interface 08:06:50 kind storage'
printf '[devices]\nallow id 0781:5581 if seat-group(zeimu) label "登録"\n%s\n%s\ndefault read-only\n' \
    'block kind mtp if !allowed-matches(id 1050:*)' 'block kind optical' >"$tmp/t.conf"
expect_rc 0 "test, registered user" "$bin" policy test --user taro \
    --group zeimu "$tmp/t.conf" "$stick"
grep -q '^  -> allow (rule 1, line 2: "登録")$' "$tmp/out" && ok ||
    fail "registered: $(cat "$tmp/out")"
expect_rc 0 "test, other user" "$bin" policy test --user hanako \
    "$tmp/t.conf" "$stick"
grep -q '^  -> read-only (default, line 5)$' "$tmp/out" && ok ||
    fail "other user: $(cat "$tmp/out")"
expect_rc 0 "test, undecidable" "$bin" policy test "$tmp/t.conf" \
    'device kind mtp'
grep -q '^  -> block: could not decide' "$tmp/out" && ok ||
    fail "undecidable: $(cat "$tmp/out")"
expect_rc 1 "test, bad device" "$bin" policy test "$tmp/t.conf" \
    'device id 0781:*'
grep -q 'concrete value' "$tmp/err" && ok || fail "bad device message"
expect_rc 2 "test, group without user" "$bin" policy test --group g \
    "$tmp/t.conf" "$stick"

# I/O errors and usage: exit 2, the file named.
expect_rc 2 "missing file" "$bin" policy check "$tmp/nope.conf"
grep -q "nope.conf: No such file" "$tmp/err" && ok || fail "ENOENT message"
expect_rc 2 "directory" "$bin" policy check "$tmp"
grep -q "not a regular file" "$tmp/err" && ok || fail "directory message"
head -c 1100000 /dev/zero | tr '\0' '#' >"$tmp/big.conf"
expect_rc 1 "too large" "$bin" policy check "$tmp/big.conf"
grep -q "larger than 1 MiB" "$tmp/err" && ok || fail "size message"
expect_rc 2 "no command" "$bin"
expect_rc 2 "unknown command" "$bin" policy frobnicate
expect_rc 2 "unknown option" "$bin" policy show --bogus "$profile"
expect_rc 0 "help" "$bin" --help
grep -q "policy check" "$tmp/out" && ok || fail "help text"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
