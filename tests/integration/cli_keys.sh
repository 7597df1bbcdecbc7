#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# mynaguard key enroll | list | revoke | import and login status | unlock,
# against software FIDO2 keys (tests/softkey, LD_PRELOAD) and without an
# agent: every change must leave exactly one event per credential in the
# drop directory, and the right one.
# usage: cli_keys.sh MYNAGUARD SKCTL PRELOAD_SO SOURCE_DIR
set -euo pipefail
bin=$1 skctl=$2 preload=$3 src=$4

if [ ! -f "$preload" ] || [ ! -x "$skctl" ]; then
	echo "SKIP: the softkey preload library or skctl is not built"
	exit 77
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: needs root (the credentials file must be owned by root)"
	exit 77
fi
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"	# for the unprivileged list below
mkdir -m 755 "$tmp/etc"
mkdir -m 700 "$tmp/drop" "$tmp/done" "$tmp/counters" "$tmp/tally"
creds=$tmp/etc/credentials
fails=0 passes=0
softkey_aaguid=6d796e61-6775-6172-6473-6f66746b6579	# "mynaguardsoftkey"

ok() { passes=$((passes + 1)); }
fail() { fails=$((fails + 1)); echo "FAIL: $*"; }
check() {	# check DESCRIPTION CMD...: CMD must succeed
	local what=$1
	shift
	if "$@"; then ok; else fail "$what"; fi
}
expect_rc() {	# expect_rc WANT DESCRIPTION CMD...  (out, err in $tmp)
	local want=$1 what=$2 rc=0
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err" </dev/null || rc=$?
	if [ "$rc" -eq "$want" ]; then ok; else
		fail "$what: exit $rc, want $want"
		sed 's/^/  out: /' "$tmp/out"
		sed 's/^/  err: /' "$tmp/err"
	fi
}
expect_rc_in() {	# expect_rc_in INPUT WANT DESCRIPTION CMD...
	local input=$1 want=$2 what=$3 rc=0
	shift 3
	printf '%s' "$input" | "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
	if [ "$rc" -eq "$want" ]; then ok; else
		fail "$what: exit $rc, want $want"
		sed 's/^/  out: /' "$tmp/out"
		sed 's/^/  err: /' "$tmp/err"
	fi
}
grep_out() { if grep -q -- "$2" "$tmp/out"; then ok; else
	fail "$1: no '$2' in stdout"; sed 's/^/  out: /' "$tmp/out"; fi; }
grep_err() { if grep -q -- "$2" "$tmp/err"; then ok; else
	fail "$1: no '$2' in stderr"; sed 's/^/  err: /' "$tmp/err"; fi; }

# The events left in the drop directory since the last call, decoded
# (type and fields by their names in event.h) into $tmp/ev, one line each;
# the files are then moved aside.  expect_events N DESCRIPTION.
decode_events() {
	python3 - "$src/event/include/mynaguard/event.h" "$tmp/drop" <<'EOF'
import os, re, struct, sys
h = open(sys.argv[1]).read()
def enum(name):
    body = re.search(r'enum %s \{(.*?)\};' % name, h, re.S).group(1)
    body = re.sub(r'/\*.*?\*/', '', body, flags=re.S)
    return [w.strip() for w in body.split(',') if w.strip()]
types, fields = enum('mg_event_type'), enum('mg_field')
for f in sorted(os.listdir(sys.argv[2])):
    b = open(os.path.join(sys.argv[2], f), 'rb').read()
    kind, ln = struct.unpack('>II', b[:8])
    assert kind == 1 and ln == len(b) - 8, f
    t, flags, n = struct.unpack('>HHH', b[8:14])
    off, out = 14, [types[t]]
    for _ in range(n):
        fid, flen = struct.unpack('>HH', b[off:off + 4])
        out.append('%s=%s' % (fields[fid], b[off + 4:off + 4 + flen].decode()))
        off += 4 + flen
    assert off == len(b), f
    print(' '.join(out))
EOF
}
expect_events() {	# expect_events N DESCRIPTION
	local n
	decode_events >"$tmp/ev"
	n=$(wc -l <"$tmp/ev")
	mv "$tmp/drop/"* "$tmp/done/" 2>/dev/null || true
	if [ "$n" -eq "$1" ]; then ok; else
		fail "$2: $n events in the drop directory, want $1"
		sed 's/^/  ev: /' "$tmp/ev"
	fi
}
grep_ev() { if grep -q -- "$2" "$tmp/ev"; then ok; else
	fail "$1: no '$2' in the events"; sed 's/^/  ev: /' "$tmp/ev"; fi; }

# Policies: user verification not required (A) or required (B); B with
# the softkey's model allowed (M) or only another model (X); an
# administrator-only unlock (Z).
policy() {	# policy FILE UV [KEY-MODELS [UNLOCK-AFTER]]
	{
		echo "[login]"
		echo "require-key = *"
		echo "user-verification = $2"
		echo "lockout-threshold = 3"
		echo "unlock-after = ${4:-15m}"
		echo "credentials = $creds"
		echo "relying-party = pam://mynaguard-test"
		echo "key-timeout = 2s"
		[ -n "${3:-}" ] && echo "key-models = $3"
		printf '[devices]\ndefault block\n'
	} >"$1"
	chmod 644 "$1"
}
policy "$tmp/A.conf" not-required
policy "$tmp/B.conf" required
policy "$tmp/M.conf" required "$softkey_aaguid"
policy "$tmp/X.conf" required cb69481e-8ff7-4039-93ec-0a2729a154a8
policy "$tmp/Z.conf" required "" 0
expect_rc 0 "test policy is valid" "$bin" policy check "$tmp/B.conf"

ev=(--socket "$tmp/no-agent.sock" --drop-dir "$tmp/drop")
mg() {	# mg POLICY STATES ARGS...: mynaguard with the softkeys STATES
	local pol=$1 states=$2 sub=$3 verb=$4
	shift 4
	LD_PRELOAD=$preload SOFTKEY_STATE=$states \
	    "$bin" "$sub" "$verb" --policy "$tmp/$pol.conf" "$@"
}
mgev() { local pol=$1 states=$2 sub=$3 verb=$4; shift 4
	mg "$pol" "$states" "$sub" "$verb" "${ev[@]}" "$@"; }

"$skctl" init "$tmp/k1" >/dev/null
"$skctl" init "$tmp/k2" --pin 123456 >/dev/null
"$skctl" init "$tmp/k3" >/dev/null
"$skctl" init "$tmp/k4" >/dev/null

# ---- enroll ------------------------------------------------------------
expect_rc 0 "enroll, no PIN, UV not required" \
    mgev A "$tmp/k1" key enroll alice --label "Office key 事務所"
grep_out "enroll output" "registered a key for alice"
grep_out "enroll output: label" "label   Office key 事務所"
grep_out "enroll output: aaguid" "aaguid  $softkey_aaguid"
grep_out "enroll output: rp" "rp      pam://mynaguard-test"
grep_out "enroll: event left in the drop dir" "agent not running"
grep_err "touch prompt" "Touch the security key now"
check "credentials file mode 0600 root" \
    test "$(stat -c '%a %u' "$creds")" = "600 0"
expect_events 1 "enroll alice"
grep_ev "key-enrolled event" "^MG_EV_KEY_ENROLLED MG_F_USER=alice "
grep_ev "event source" "MG_F_KEY_SOURCE=enroll"
grep_ev "event aaguid" "MG_F_KEY_AAGUID=$softkey_aaguid"
grep_ev "event label" "MG_F_KEY_LABEL=Office key 事務所"
grep_ev "event actor" "MG_F_ACTOR=[a-z]"
grep_ev "event key id" "MG_F_KEY_ID=[0-9a-f]\{64\} "

sum=$(sha256sum "$creds")
expect_rc 1 "same key twice" mgev A "$tmp/k1" key enroll alice
grep_err "same key message" "this key is already registered for alice"
check "refused enroll wrote nothing" test "$sum" = "$(sha256sum "$creds")"
expect_events 0 "refused enroll"

expect_rc 1 "UV required, key without PIN, no --pin" \
    mgev B "$tmp/k1" key enroll bob
grep_err "no PIN message" "add --pin"
expect_rc_in $'4321\n4321\n' 0 "enroll --pin sets a PIN" \
    mgev B "$tmp/k1" key enroll bob --pin
grep_out "PIN set" "a PIN was set on the key"
check "the key has a PIN now" test "$("$skctl" get "$tmp/k1" pin_set)" = 1
expect_events 1 "enroll bob"

expect_rc_in $'1234\n5678\n' 1 "two different new PINs" \
    mgev B "$tmp/k3" key enroll dave --pin
grep_err "PIN mismatch message" "the two PINs differ"
expect_rc_in $'１２３４\n１２３４\n' 1 "full-width new PIN" \
    mgev B "$tmp/k3" key enroll dave --pin
grep_err "full-width message" "full-width (zenkaku)"
check "no PIN set after refusals" \
    test "$("$skctl" get "$tmp/k3" pin_set)" = 0

expect_rc_in $'123456\n' 0 "enroll with the key's PIN" \
    mgev B "$tmp/k2" key enroll carol
expect_events 1 "enroll carol"
retries=$("$skctl" get "$tmp/k2" retries)
expect_rc_in $'１２３４５６\n' 1 "full-width PIN refused before the key" \
    mgev B "$tmp/k2" key enroll erin
grep_err "full-width message" "turn the input method off"
check "no PIN retry spent" \
    test "$("$skctl" get "$tmp/k2" retries)" = "$retries"
expect_rc_in $'999999\n' 1 "wrong PIN" mgev B "$tmp/k2" key enroll erin
grep_err "wrong PIN message" "wrong PIN"
expect_events 0 "refused enrolls"

expect_rc 1 "model not in key-models" mgev X "$tmp/k4" key enroll frank
grep_err "model message names the AAGUID" "AAGUID $softkey_aaguid"
grep_err "model message" "not in the policy's key-models"
expect_rc_in $'5555\n5555\n' 0 "model in key-models" \
    mgev M "$tmp/k4" key enroll frank --pin
expect_events 1 "enroll frank"

expect_rc_in $'123456\n' 1 "two keys plugged in" \
    mgev B "$tmp/k3:$tmp/k2" key enroll grace
grep_err "several keys message" "choose one with --device PATH"
grep_err "key paths listed" "softkey:1"
expect_rc_in $'123456\n' 0 "--device picks one" \
    mgev B "$tmp/k3:$tmp/k2" key enroll grace --device softkey:1 \
    --label "grace 2"
expect_events 1 "enroll grace"
expect_rc 1 "no key plugged in" mgev B "" key enroll heidi
grep_err "insert prompt" "Insert the security key"
"$skctl" init "$tmp/k5" >/dev/null
"$skctl" set "$tmp/k5" no_touch=1
expect_rc 1 "key not touched" mgev A "$tmp/k5" key enroll heidi
grep_err "timeout message" "not touched within 2 seconds"
"$skctl" set "$tmp/k5" no_touch=0 bad_sig=1
expect_rc 1 "attestation does not verify" mgev A "$tmp/k5" key enroll heidi
grep_err "attestation message" "self attestation does not verify"
"$skctl" set "$tmp/k5" bad_sig=0 drop_uv=1 pin=2468
expect_rc_in $'2468\n' 1 "UV flag missing" mgev B "$tmp/k5" key enroll heidi
grep_err "flags message" "not what was asked for"
expect_rc 1 "bad label" mgev A "$tmp/k3" key enroll heidi \
    --label $'a\tb'
grep_err "label message" "control characters"
expect_rc 1 "bad user name" mgev A "$tmp/k3" key enroll "a/b"
expect_rc 2 "enroll takes one user" mgev A "$tmp/k3" key enroll a b
expect_rc 2 "unknown option" mgev A "$tmp/k3" key enroll a --json
expect_events 0 "refused enrolls"

# ---- list ----------------------------------------------------------------
expect_rc 0 "list" mg A "" key list
grep_out "list header" "^USER .*LABEL"
grep_out "list alice" "^alice .*$softkey_aaguid .*+presence .*Office key"
grep_out "list bob +pin" "^bob .*+presence+pin"
check "list: 5 keys" test "$(grep -vc '^USER' "$tmp/out")" = 5
expect_rc 0 "list --json" mg A "" key list --json
check "JSON: 5 objects, full ids" python3 -c '
import json, re, sys
v = json.load(open(sys.argv[1]))
assert len(v) == 5, v
for k in v:
    assert re.fullmatch("[0-9a-f]{64}", k["id"]), k
    assert k["alg"] == "es256" and k["rp"] == "pam://mynaguard-test", k
    assert k["aaguid"] == sys.argv[2] and k["created"] > 0, k
assert [k["user"] for k in v] == ["alice", "bob", "carol", "frank",
    "grace"], v
assert v[2]["options"] == "+presence+pin", v[2]
' "$tmp/out" "$softkey_aaguid"
expect_rc 0 "list one user" mg A "" key list carol --json
check "JSON: carol only" python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
assert [k["user"] for k in v] == ["carol"], v' "$tmp/out"
if command -v setpriv >/dev/null; then
	expect_rc 2 "list as a normal user" setpriv --reuid=65534 \
	    --regid=65534 --clear-groups "$bin" key list --policy \
	    "$tmp/A.conf"
	grep_err "not root message" "readable by root only"
fi

# ---- revoke ----------------------------------------------------------------
"$bin" key list --json --policy "$tmp/A.conf" bob >"$tmp/bob.json"
bob_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["id"])' "$tmp/bob.json")
echo 7 >"$tmp/counters/$bob_id"
expect_rc 0 "revoke by id prefix" mgev A "" key revoke bob "${bob_id:0:8}" \
    --counter-dir "$tmp/counters"
grep_out "revoke output" "revoked bob's key ${bob_id:0:16}"
check "counter file removed" test ! -e "$tmp/counters/$bob_id"
expect_events 1 "revoke bob"
grep_ev "key-revoked event" "^MG_EV_KEY_REVOKED MG_F_USER=bob MG_F_KEY_ID=$bob_id "
expect_rc 0 "revoke by label" mgev A "" key revoke alice \
    "Office key 事務所" --counter-dir "$tmp/counters"
grep_out "alice has none left" "alice has 0 keys left"
expect_events 1 "revoke alice"
expect_rc 1 "revoke: no such key" mgev A "" key revoke carol deadbeef
grep_err "no match message" "carol has no key matching"
expect_rc 1 "revoke: prefix too short is no match" \
    mgev A "" key revoke carol "${bob_id:0:7}"
expect_events 0 "refused revokes"
check "list: 3 keys left" test "$("$bin" key list --policy "$tmp/A.conf" |
    grep -vc '^USER')" = 3

# ---- import ------------------------------------------------------------------
python3 - "$tmp" <<'EOF'
import base64, os, sys
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import serialization as s
def point():
    k = ec.generate_private_key(ec.SECP256R1()).public_key()
    return k.public_bytes(s.Encoding.X962, s.PublicFormat.UncompressedPoint)
def new_cred(opts):	# pam_u2f >= 1.1: b64 handle, b64 x||y, type, opts
    return '%s,%s,es256,%s' % (base64.b64encode(os.urandom(64)).decode(),
        base64.b64encode(point()[1:]).decode(), opts)
def old_cred():	# pam_u2f < 1.1: web-safe b64 handle, hex 65-byte point
    kh = base64.urlsafe_b64encode(os.urandom(64)).decode().rstrip('=')
    return '%s,%s' % (kh, point().hex())
with open(sys.argv[1] + '/u2f_keys', 'w') as f:
    f.write('# pam_u2f authfile\n')
    f.write('u2fnew:%s:%s\n' % (new_cred('+presence'),
        new_cred('+presence+pin')))
    f.write('u2fold:%s\n' % old_cred())
EOF
sum=$(sha256sum "$creds")
expect_rc 0 "import --dry-run" mgev A "" key import "$tmp/u2f_keys" \
    --dry-run --rp pam://oldhost
grep_out "dry run per user" "u2fnew: 2 credentials"
grep_out "dry run per user" "u2fold: 1 credential"
grep_out "dry run says so" "nothing was written"
check "dry run wrote nothing" test "$sum" = "$(sha256sum "$creds")"
expect_rc 0 "dry run into a new file" mgev A "" key import "$tmp/u2f_keys" \
    --dry-run --credentials "$tmp/etc/fresh"
check "dry run created no file" test ! -e "$tmp/etc/fresh" -a \
    ! -e "$tmp/etc/fresh.lock"
expect_events 0 "dry runs"
expect_rc 0 "import" mgev A "" key import "$tmp/u2f_keys" --rp pam://oldhost
grep_out "import per user" "u2fnew: 2 credentials"
grep_out "import total" "imported 3 credentials"
expect_events 3 "import: one event per credential"
check "import events have source import" \
    test "$(grep -c 'MG_F_KEY_SOURCE=import' "$tmp/ev")" = 3
grep_ev "import event rp" "MG_F_KEY_RP=pam://oldhost"
sum=$(sha256sum "$creds")
expect_rc 1 "import twice" mgev A "" key import "$tmp/u2f_keys" \
    --rp pam://oldhost
grep_err "duplicate diag" "u2f_keys:[0-9]*:[0-9]*: "
grep_err "nothing imported" "nothing was imported"
check "refused import wrote nothing" test "$sum" = "$(sha256sum "$creds")"
expect_events 0 "refused import"
expect_rc 0 "list after import" mg A "" key list --json
check "imported keys listed" python3 -c '
import json, sys
v = [k for k in json.load(open(sys.argv[1])) if k["user"].startswith("u2f")]
assert len(v) == 3 and all(k["rp"] == "pam://oldhost" for k in v), v
assert sum(k["options"] == "+presence+pin" for k in v) == 1, v' "$tmp/out"
# Two keys of u2fnew share the import label: naming it is ambiguous.
expect_rc 1 "ambiguous revoke" mgev A "" key revoke u2fnew \
    "imported from pam_u2f"
grep_err "ambiguous message" "is ambiguous: it matches 2"
check "candidates listed" test "$(grep -c '^  [0-9a-f]\{16\}  ' "$tmp/err")" = 2
expect_events 0 "ambiguous revoke"

# ---- unsafe and invalid credentials files --------------------------------------
cp -p "$creds" "$tmp/etc/gw"
chmod 664 "$tmp/etc/gw"
expect_rc 1 "group-writable file" mg A "" key list --credentials \
    "$tmp/etc/gw"
grep_err "group-writable message" "writable by group"
ln -s "$creds" "$tmp/etc/link"
expect_rc 1 "symlink" mgev A "$tmp/k3" key enroll ivan --credentials \
    "$tmp/etc/link"
grep_err "symlink message" "symbolic link"
if grep -q "Touch" "$tmp/err"; then fail "unsafe file: key was asked"; else
	ok; fi
printf 'this is not a credentials file\n' >"$tmp/etc/bad"
chmod 600 "$tmp/etc/bad"
expect_rc 1 "invalid file" mgev A "" key revoke carol deadbeef \
    --credentials "$tmp/etc/bad"
grep_err "parse diag with line and column" "etc/bad:1:[0-9]*: "
expect_events 0 "refused changes"

# ---- login status / unlock -----------------------------------------------------
python3 - "$tmp/tally" <<'EOF'
import struct, sys, time
now = int(time.time())
def rec(src, status, t):	# Linux-PAM faillock.h struct tally, native
    return struct.pack('=52sHHQ', src.encode(), 0, status, t)
VALID, RHOST, TTY = 0x1, 0x2, 0x4
with open(sys.argv[1] + '/tuser', 'wb') as f:
    for i in range(3):
        f.write(rec('/dev/tty%d' % (i + 1), VALID | TTY, now - 60 + i))
with open(sys.argv[1] + '/tuser2', 'wb') as f:
    f.write(rec('192.0.2.7', VALID | RHOST, now - 30))
EOF
chmod 600 "$tmp/tally/"*
check "faillock sees 3 failures" test "$(faillock --dir "$tmp/tally" \
    --user tuser | grep -c ' V$')" = 3
expect_rc 0 "login status tuser" mg B "" login status tuser \
    --tally-dir "$tmp/tally"
grep_out "status count" "tuser: 3 failures counting (lockout after 3)"
grep_out "status locked" "locked until 20"
grep_out "status lists the tty" "tty      V      /dev/tty3"
expect_rc 0 "login status, all" mg B "" login status --tally-dir "$tmp/tally"
grep_out "all: tuser2" "tuser2: 1 failure counting .*not locked"
grep_out "all: rhost source" "rhost .*192.0.2.7"
expect_rc 0 "login status --json" mg B "" login status --json \
    --tally-dir "$tmp/tally"
check "status JSON" python3 -c '
import json, sys
v = {u["user"]: u for u in json.load(open(sys.argv[1]))}
assert set(v) == {"tuser", "tuser2"}, v
t = v["tuser"]
assert t["failures"] == 3 and t["locked"] and t["locked_until"] > 0, t
assert len(t["records"]) == 3 and t["records"][0]["type"] == "tty", t
assert not v["tuser2"]["locked"] and v["tuser2"]["failures"] == 1, v' \
    "$tmp/out"
expect_rc 0 "status, admin-only unlock" mg Z "" login status tuser \
    --tally-dir "$tmp/tally"
grep_out "admin unlock wording" "locked until unlocked by the administrator"
expect_rc 0 "login unlock" mgev B "" login unlock tuser \
    --tally-dir "$tmp/tally"
grep_out "unlock output" "tuser: cleared 3 failures"
expect_events 1 "unlock"
grep_ev "login-unlocked event" \
    "^MG_EV_LOGIN_UNLOCKED MG_F_USER=tuser MG_F_LOGIN_FAILURES=3 MG_F_ACTOR="
check "faillock sees none after unlock" test "$(faillock --dir \
    "$tmp/tally" --user tuser | grep -c ' V$' || true)" = 0
expect_rc 0 "status after unlock" mg B "" login status tuser \
    --tally-dir "$tmp/tally"
grep_out "status after unlock" "tuser: 0 failures counting .*not locked"
expect_rc 0 "unlock, nothing to do" mgev B "" login unlock tuser \
    --tally-dir "$tmp/tally"
expect_events 0 "unlock without failures"
# Agent and drop directory both unusable: the change stays, with a warning.
expect_rc 0 "unlock, event not recorded" mg B "" login unlock tuser2 \
    --tally-dir "$tmp/tally" --socket "$tmp/no-agent.sock" \
    --drop-dir "$tmp/no-such-dir"
grep_err "not recorded warning" "the change is done, but 1 of its 1 event"
check "tally cleared anyway" test ! -s "$tmp/tally/tuser2"
expect_rc 2 "unlock needs a user" mg B "" login unlock \
    --tally-dir "$tmp/tally"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
