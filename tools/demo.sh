#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The main job, end to end, as far as it exists today: install the build
# dependencies, build mynaguard, check the shipped My Number terminal
# profile, print its normalized form, and show what the checker says about
# a policy with mistakes in it.  Later issues extend this into the full
# demonstration (verified events at a collector, a stick made read-only).
#
# Usage: sudo tools/demo.sh   (root only for apt-get; skipped when the
#                              packages are already installed)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

packages=(build-essential cmake ninja-build pkg-config libudev-dev
	libfido2-dev libssl-dev libcurl4-openssl-dev libmicrohttpd-dev
	libgnutls28-dev libsqlite3-dev libsystemd-dev openssl sqlite3)
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

step "building (build-demo/)"
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
cmake -S . -B build-demo "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMG_TESTS=OFF >/dev/null
cmake --build build-demo -j"$(nproc)" >/dev/null
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

step "done"
echo "The shipped profile is valid. Edit a copy, check it with"
echo "  $mg policy check YOUR-POLICY.conf"
echo "and see policy/README.md for the language."
