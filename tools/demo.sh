#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The main job, end to end, as far as it exists today: install the build
# dependencies, build mynaguard, check the shipped My Number terminal
# profile, show what the checker says about a policy with mistakes, carry
# a signed event to a collector; then a terminal in a VM makes a USB stick
# read-only and blocks a phone, the administrator enrolls a FIDO2 security
# key (a software one, tests/softkey) for a member of staff, who logs in with
# it and its PIN while a key never enrolled is refused; the terminal's signed
# decisions and login events reach the same collector verified.
#
# Usage: sudo tools/demo.sh   (root only for apt-get; skipped when the
#                              packages are already installed)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

packages=(build-essential cmake ninja-build pkg-config libudev-dev
	libfido2-dev libssl-dev libcurl4-openssl-dev libmicrohttpd-dev
	libgnutls28-dev libsqlite3-dev libsystemd-dev openssl sqlite3
	udev udisks2 qemu-system-x86 busybox-static cpio kmod zstd xz-utils
	fdisk e2fsprogs python3 libcbor-dev libpam0g-dev gettext locales
	libcmocka-dev libpamtest0-dev)
missing=()
for p in "${packages[@]}"; do
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] ||
	    missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	step "installing build dependencies: ${missing[*]}"
	if [ "$(id -u)" -ne 0 ]; then
		echo "run as root (sudo $0): apt-get is needed" >&2
		exit 2
	fi
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y \
	    --no-install-recommends "${packages[@]}"
fi
# The login messages of pam_mynaguard.so are shown in Japanese: the VM runs
# this machine's / and needs its ja_JP.UTF-8 locale.
if ! locale -a 2>/dev/null | grep -qix 'ja_JP.utf-\?8'; then
	if [ "$(id -u)" -eq 0 ]; then
		step "generating the ja_JP.UTF-8 locale"
		localedef -i ja_JP -f UTF-8 ja_JP.UTF-8
	else
		echo "(no ja_JP.UTF-8 locale: the login messages will be in English)"
	fi
fi

step "building (build-demo/)"
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
cmake -S . -B build-demo "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMG_TESTS=OFF >/dev/null
cmake --build build-demo -j"$(nproc)" >/dev/null
# The software security key of the tests (softkey-uhid, skctl) is test code:
# MG_TESTS=ON, in a tree of its own, only these two targets.
cmake -S . -B build-demo/softkey "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMG_TESTS=ON >/dev/null
cmake --build build-demo/softkey -j"$(nproc)" --target softkey-uhid skctl >/dev/null
mg=build-demo/cli/mynaguard

step "mynaguard policy check policy/mynumber-terminal.conf"
"$mg" policy check policy/mynumber-terminal.conf

step "mynaguard policy show policy/mynumber-terminal.conf"
"$mg" policy show policy/mynumber-terminal.conf

step "what the profile decides (mynaguard policy test), user taro of 税務課 at the seat"
"$mg" policy test --user taro --group zeimu --time 10:00 \
    policy/mynumber-terminal.conf \
    'device id 0781:5581 serial "4C530001" name "Ultra" with-interface 08:06:50 kind storage' \
    'device id 04e8:6860 serial "R58M" name "Galaxy" with-interface { 06:01:01 ff:ff:00 } kind { mtp ptp }' \
    'device id 0e8d:1887 name "DVD-RW" with-interface 08:02:50 kind { storage optical }' \
    'device bus mmc serial "0x1234abcd" kind { storage sd }' \
    'device id 046d:c31c name "USB Keyboard" with-interface { 03:01:01 03:00:00 } kind hid' \
    'device id 1050:0407 name "YubiKey" with-interface { 03:00:00 0b:00:00 } kind { fido smartcard }'

step "a policy with mistakes: every error, with its line and column"
rc=0
(cd tests/data && "../../$mg" policy check bad-policy.conf) || rc=$?
echo "(exit status $rc: the policy is refused, nothing would be applied)"
[ "$rc" -eq 1 ]

# ---- the signed event pipeline ------------------------------------------
demo=$PWD/build-demo/demo
rm -rf "$demo"
mkdir -p "$demo"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT

step "a demonstration town CA, the collector's and a terminal's certificates"
bash tools/mkcerts.sh ca "$demo/pki" | sed 's/^/   /'
bash tools/mkcerts.sh server "$demo/pki" localhost | sed 's/^/   /'
bash tools/mkcerts.sh terminal "$demo/pki" zeimu-pc01 | sed 's/^/   /'

step "mynaguard-collector on 127.0.0.1 (mutual TLS, SQLite)"
: >"$demo/empty.conf"
build-demo/collector/mynaguard-collector --config "$demo/empty.conf" \
    --listen 127.0.0.1 --port 0 --database "$demo/collector.db" \
    --certificate "$demo/pki/localhost.pem" --key "$demo/pki/localhost.key" \
    --ca "$demo/pki/ca.pem" 2>"$demo/collector.log" &
pids+=($!)
port=
for _ in $(seq 100); do
	port=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' "$demo/collector.log")
	[ -n "$port" ] && break
	sleep 0.1
done
[ -n "$port" ] || { cat "$demo/collector.log"; exit 1; }
sed 's/^<[0-9]>/   /' "$demo/collector.log"

step "mynaguard-agent for terminal zeimu-pc01, shipping to https://localhost:$port/"
build-demo/agent/mynaguard-agent --config "$demo/empty.conf" \
    --spool "$demo/spool" --socket "$demo/events.sock" --drop-dir "$demo/drop" \
    --collector "https://localhost:$port/" --ca "$demo/pki/ca.pem" \
    --cert "$demo/pki/zeimu-pc01.pem" --key "$demo/pki/zeimu-pc01.key" \
    --policy "$PWD/policy/mynumber-terminal.conf" 2>"$demo/agent.log" &
pids+=($!)
for _ in $(seq 100); do [ -S "$demo/events.sock" ] && break; sleep 0.1; done
sed 's/^<[0-9]>/   /' "$demo/agent.log"

step "mynaguard event send: a signed test event from the administrator"
"$mg" event send --socket "$demo/events.sock" --drop-dir "$demo/drop" \
    --message "動作確認：管理者からのテストイベント"
for _ in $(seq 100); do
	st=$("$mg" status --json --socket "$demo/events.sock")
	h=$(echo "$st" | sed -n 's/.*"head_seq":\([0-9]*\).*/\1/p')
	a=$(echo "$st" | sed -n 's/.*"acked_seq":\([0-9]*\).*/\1/p')
	[ -n "$h" ] && [ "$h" = "$a" ] && break
	sleep 0.1
done

step "mynaguard status (on the terminal)"
"$mg" status --socket "$demo/events.sock" | sed 's/^/   /'

step "what the collector stored: signatures verified, chain intact"
build-demo/collector/mynaguard-collector events --database "$demo/collector.db"
build-demo/collector/mynaguard-collector alerts --database "$demo/collector.db"

# ---- removable media, on a terminal in a VM --------------------------------
bash tools/mkcerts.sh terminal "$demo/pki" zeimu-pc02 >/dev/null
vmrc=0
python3 tools/demo-vm.py --build build-demo --pki "$demo/pki" \
    --agent-id zeimu-pc02 --out "$demo/vm-spool" \
    --softkey build-demo/softkey/tests/softkey || vmrc=$?
if [ "$vmrc" -eq 77 ]; then
	echo "(QEMU cannot run here: the VM part is skipped)"
elif [ "$vmrc" -ne 0 ]; then
	echo "the VM part failed" >&2
	exit 1
else
	step "back on the network: zeimu-pc02's spool goes to the collector"
	# This host only carries the VM terminal's spool: no state report of
	# its own under zeimu-pc02's name.
	printf '[Agent]\nStateInterval=never\n' > "$demo/ship.conf"
	build-demo/agent/mynaguard-agent --config "$demo/ship.conf" \
	    --spool "$demo/vm-spool" --socket "$demo/vm.sock" \
	    --drop-dir "$demo/vm-drop" --collector "https://localhost:$port/" \
	    --ca "$demo/pki/ca.pem" --cert "$demo/pki/zeimu-pc02.pem" \
	    --key "$demo/pki/zeimu-pc02.key" \
	    --policy "$PWD/policy/mynumber-terminal.conf" 2>"$demo/vm-agent.log" &
	pids+=($!)
	for _ in $(seq 200); do
		st=$("$mg" status --json --socket "$demo/vm.sock" 2>/dev/null) || st=
		h=$(echo "$st" | sed -n 's/.*"head_seq":\([0-9]*\).*/\1/p')
		a=$(echo "$st" | sed -n 's/.*"acked_seq":\([0-9]*\).*/\1/p')
		[ -n "$h" ] && [ "$h" = "$a" ] && break
		sleep 0.1
	done
	step "what the collector stored from zeimu-pc02: devices, key enrollment, logins, verified"
	build-demo/collector/mynaguard-collector events \
	    --database "$demo/collector.db" --agent zeimu-pc02
	build-demo/collector/mynaguard-collector alerts --database "$demo/collector.db"
fi

step "done"
echo "The shipped profile is valid, an event signed on the terminal reached the"
echo "collector verified, and a terminal made a USB stick read-only and blocked"
echo "a phone, let staff1 log in only with the enrolled security key and its PIN,"
echo "with every decision and login signed and verified at the collector."
echo "See README.md for each part."
