#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Desktop notices end to end. notify_driver calls notice_send() with
# MYNAGUARD_NOTIFY_BUS/UID pointing at a private session bus (no logind
# needed); notify_server.py owns org.freedesktop.Notifications there and
# records every Notify call. Checks the Japanese and English texts, the
# hostile product string sanitized (and markup-escaped only for a server
# that asks for markup), icon, urgency, timeout, the uid the call came
# from, no pop-up for a keyboard, and the burst limit.
# Run as root, the bus and the server run as nobody, so a call only gets
# through from a notifier that really dropped to that uid.
#
# Usage: notify_dbus.sh NOTIFY_DRIVER SCRIPT_DIR
# Needs dbus-daemon (Debian: dbus-daemon) and /usr/bin/python3 with
# python3-dbus and python3-gi; exits 77 (skip) without them.
set -euo pipefail

driver=$1
here=$2

if ! command -v dbus-daemon >/dev/null; then
	echo "SKIP: dbus-daemon is not installed (apt-get install dbus-daemon)"
	exit 77
fi
py=
for c in /usr/bin/python3 python3; do
	if "$c" -c 'import dbus.mainloop.glib; from gi.repository import GLib' \
	    2>/dev/null; then
		py=$c
		break
	fi
done
if [ -z "$py" ]; then
	echo "SKIP: needs python3-dbus and python3-gi"
	exit 77
fi

tmp=$(mktemp -d /tmp/notify_dbus.XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

uid=$(id -u)
as=()
if [ "$uid" -eq 0 ] && command -v setpriv >/dev/null &&
    getent passwd 65534 >/dev/null; then
	uid=65534
	as=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
	chmod 755 "$tmp"
fi
run=$tmp/run
mkdir "$run"
[ "${#as[@]}" -eq 0 ] || chown 65534:65534 "$run"

fail() {
	echo "FAIL: $*"
	exit 1
}

# Wait (10 s at most) until $1 holds at least $2 records.
wait_records() {
	local i
	for i in $(seq 100); do
		[ "$("$py" "$here/notify_server.py" count "$1")" -ge "$2" ] &&
		    return 0
		sleep 0.1
	done
	fail "$1: fewer than $2 notifications arrived"
}

# Exactly $2 records in $1, after giving stragglers a second.
expect_count() {
	sleep 1
	local n
	n=$("$py" "$here/notify_server.py" count "$1")
	[ "$n" -eq "$2" ] || fail "$1: $n notifications, expected $2"
}

# check RECORD N KEY EXPECTED
check() {
	local got
	got=$("$py" "$here/notify_server.py" field "$1" "$2" "$3")
	if [ "$got" != "$4" ]; then
		printf 'FAIL: record %s %s\n  got:  %s\n  want: %s\n' "$2" "$3" \
		    "$got" "$4"
		exit 1
	fi
}

server=
start_server() {	# MARKUP RECORD
	if [ -n "$server" ]; then
		kill "$server"
		wait "$server" 2>/dev/null || true
	fi
	rm -f "$run/ready"
	"${as[@]}" "$py" "$here/notify_server.py" serve "$addr" "$2" "$1" \
	    "$run/ready" &
	server=$!
	pids+=("$server")
	local i
	for i in $(seq 100); do
		[ -e "$run/ready" ] && return 0
		sleep 0.1
	done
	fail "notification server did not start"
}

send() {
	MYNAGUARD_NOTIFY_BUS=$addr MYNAGUARD_NOTIFY_UID=$uid "$driver" "$@" ||
	    fail "notify_driver $*"
}

"${as[@]}" dbus-daemon --session --nofork --nopidfile \
    --address="unix:path=$run/bus" --print-address=1 >"$tmp/addr" &
pids+=("$!")
for i in $(seq 100); do
	[ -s "$tmp/addr" ] && break
	sleep 0.1
done
addr=$(head -n 1 "$tmp/addr")
[ -n "$addr" ] || fail "dbus-daemon did not start"
echo "bus $addr, notifications for uid $uid"

# One of each kind of nastiness, and what the sanitizer makes of it.
hostile=$'  "Evil"\n\x1b[31m<b>&\xff\xe2\x80\xaeUSB「x」\\  '
fffd=$'\xef\xbf\xbd'
shown="'Evil'"'\x0a\x1b[31m<b>&'"$fffd"'\u202eUSB『x』\\'
shown_markup="'Evil'"'\x0a\x1b[31m&lt;b&gt;&amp;'"$fffd"'\u202eUSB『x』\\'

# 1. A server that interprets markup: the body comes escaped.
rec=$run/markup.jsonl
start_server yes "$rec"
send ja read-only storage "$hostile" "窓口端末"
wait_records "$rec" 1
check "$rec" 0 app_name mynaguard
check "$rec" 0 replaces_id 0
check "$rec" 0 icon drive-removable-media
check "$rec" 0 summary "USBメモリは読み取り専用です"
check "$rec" 0 body "USBメモリ「${shown_markup}」は読み取り専用で接続されました。この端末から外部媒体へデータを書き出すことはできません（情報セキュリティポリシー）。適用ルール：「窓口端末」。書き込みが必要な場合は、情報システム担当へ媒体の登録をご依頼ください。"
check "$rec" 0 hints.urgency 1
check "$rec" 0 hints.category device.added
check "$rec" 0 timeout 10000
check "$rec" 0 uid "$uid"
echo "ok: read-only, Japanese, hostile product sanitized and escaped"

send ja blocked mtp "Pixel 8"
wait_records "$rec" 2
check "$rec" 1 summary "スマートフォン・カメラは使用できません"
check "$rec" 1 body "「Pixel 8」（スマートフォン・カメラ）は、この端末での使用が禁止されているため接続できません（情報セキュリティポリシー）。業務で使用する必要がある場合は、情報システム担当へご相談ください。"
check "$rec" 1 icon dialog-warning
check "$rec" 1 hints.urgency 2
check "$rec" 1 hints.category device.error
check "$rec" 1 uid "$uid"
echo "ok: blocked, critical urgency"

# 2. Allowed: a keyboard stays quiet, a USB stick is announced.
send ja allowed hid "Keyboard"
send ja allowed storage "Kingston DataTraveler"
wait_records "$rec" 3
check "$rec" 2 summary "USBメモリが接続されました"
check "$rec" 2 body "USBメモリ「Kingston DataTraveler」が接続されました。この端末での使用は許可されています。"
expect_count "$rec" 3
echo "ok: allowed: media announced, keyboard quiet"

# 3. A plain-text server: the same product string, unescaped, in English.
rec=$run/plain.jsonl
start_server no "$rec"
send en blocked storage "$hostile"
wait_records "$rec" 1
check "$rec" 0 summary "USB storage device blocked"
check "$rec" 0 body "\"${shown}\" (USB storage device) cannot be connected because its use is prohibited on this computer (information security policy). If you need it for your work, please contact your IT administrator."
check "$rec" 0 uid "$uid"
send ja mount-forced-ro sd - -
wait_records "$rec" 2
check "$rec" 1 summary "SDカードを読み取り専用でマウントしました"
check "$rec" 1 body "SDカードは読み取り専用でマウントされました。ファイルを開くことはできますが、保存や変更はできません（情報セキュリティポリシー）。書き込みが必要な場合は、情報システム担当へ媒体の登録をご依頼ください。"
echo "ok: plain-text server, English, no product"

# 4. A device re-enumerating in a loop: 5 pop-ups, then the journal only.
send ja blocked storage "Loop" - 8
expect_count "$rec" 7
echo "ok: burst limited to 5 pop-ups"

# 5. As root: without the drop to the bus owner's uid the bus refuses.
if [ "$uid" -ne "$(id -u)" ]; then
	MYNAGUARD_NOTIFY_BUS=$addr MYNAGUARD_NOTIFY_UID=0 "$driver" ja \
	    blocked storage "as root" || fail "notify_driver as root"
	expect_count "$rec" 7
	echo "ok: a notifier still running as root is refused by the bus"
	# 6. Without CAP_SETUID/CAP_SETGID: one warning, no doomed notifier.
	MYNAGUARD_NOTIFY_BUS=$addr MYNAGUARD_NOTIFY_UID=$uid setpriv \
	    --bounding-set=-setuid,-setgid -- "$driver" ja blocked storage \
	    "no caps" 2>"$tmp/nocaps.err" || fail "notify_driver without caps"
	grep -q 'need CAP_SETUID, CAP_SETGID' "$tmp/nocaps.err" ||
	    fail "no warning without CAP_SETUID/CAP_SETGID"
	expect_count "$rec" 7
	echo "ok: without CAP_SETUID/CAP_SETGID the journal only, with a warning"
fi
echo "PASS"
