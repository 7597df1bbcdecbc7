#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The main job, end to end: install what is needed, build the Debian
# packages, check the shipped My Number terminal profile, make a
# demonstration town CA and start a collector; then a fresh Debian 12
# terminal in a VM gets mynaguard-agent and libpam-mynaguard installed from
# those packages, makes a USB stick read-only and blocks a phone, and lets a
# member of staff log in with an enrolled FIDO2 key (a software one,
# tests/softkey) while a key never enrolled is refused.  Every decision is
# signed on the terminal and shipped live over mutual TLS; at the end the
# security officer's view: the terminal's timeline from the collector, and
# where to open the review page.
#
# Usage: tools/demo.sh      (as root: apt-get, debootstrap and the VM)
# Nothing leaves this machine: the VM's only network is one forwarded
# port to the collector on 127.0.0.1 (tools/vm/fwd.py).  The collector
# keeps running afterwards for the review page; the last lines say how to
# stop it.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$SECONDS
DEMO_T0=$(date +%s)
export DEMO_T0

step() { printf '\n\033[1m==> [%3ds] %s\033[0m\n' $((SECONDS - t0)) "$*"; }

# Build dependencies of the packages (packaging/debian/control), the
# software security key's (libcmocka-dev: it is test code), and the VM's.
packages=(build-essential debhelper dpkg-dev cmake ninja-build pkgconf
	gettext libcbor-dev libcurl4-openssl-dev libfido2-dev libgnutls28-dev
	libmicrohttpd-dev libpam0g-dev libsqlite3-dev libssl-dev
	libsystemd-dev libudev-dev libcmocka-dev openssl git
	qemu-system-x86 busybox-static cpio kmod zstd xz-utils fdisk e2fsprogs
	python3 debootstrap)
missing=()
for p in "${packages[@]}"; do
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] ||
	    missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	step "installing what the demo needs: ${missing[*]}"
	if [ "$(id -u)" -ne 0 ]; then
		echo "run as root: apt-get is needed" >&2
		exit 2
	fi
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y \
	    --no-install-recommends "${packages[@]}"
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "run as root: debootstrap and the VM's 9p root need it" >&2
	exit 2
fi

demo=$PWD/build-demo/demo
step "building the Debian packages (tools/pkg/build.sh build-demo/debs)"
tools/pkg/build.sh build-demo/debs | grep -E '^== |\.deb$' | sed 's/^/   /'
# The software security key is test code (tests/softkey): MG_TESTS=ON, in
# a tree of its own, only its two programs.
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
cmake -S . -B build-demo/softkey "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMG_TESTS=ON >/dev/null
cmake --build build-demo/softkey -j"$(nproc)" --target softkey-uhid skctl >/dev/null
# The collector and the tools run on this machine straight from the
# packages' contents (nothing is installed here).
rm -rf build-demo/root "$demo"
mkdir -p build-demo/root "$demo"
for deb in build-demo/debs/*.deb; do
	case $deb in *-dbgsym_*) continue ;; esac
	dpkg-deb -x "$deb" build-demo/root
done
root=$PWD/build-demo/root
mg=$root/usr/bin/mynaguard

step "mynaguard policy check /etc/mynaguard/policy.conf   (the shipped My Number terminal profile)"
"$mg" policy check "$root/etc/mynaguard/policy.conf"

step "what the profile decides (mynaguard policy test), user taro of 税務課 at the seat"
"$mg" policy test --user taro --group zeimu --time 10:00 \
    "$root/etc/mynaguard/policy.conf" \
    'device id 0781:5581 serial "4C530001" name "Ultra" with-interface 08:06:50 kind storage' \
    'device id 04e8:6860 serial "R58M" name "Galaxy" with-interface { 06:01:01 ff:ff:00 } kind { mtp ptp }' \
    'device id 046d:c31c name "USB Keyboard" with-interface { 03:01:01 03:00:00 } kind hid' \
    'device id 1050:0407 name "YubiKey" with-interface { 03:00:00 0b:00:00 } kind { fido smartcard }'

step "a policy with mistakes: every error, with its line and column"
rc=0
(cd tests/data && "$mg" policy check bad-policy.conf) || rc=$?
echo "(exit status $rc: the policy is refused, nothing would be applied)"
[ "$rc" -eq 1 ]

step "a demonstration town CA; certificates for the collector, terminal zeimu-pc01 and the security officer"
bash tools/mkcerts.sh ca "$demo/pki" | sed 's/^/   /'
bash tools/mkcerts.sh server "$demo/pki" collector.demo DNS:localhost \
    IP:127.0.0.1 | sed 's/^/   /'
bash tools/mkcerts.sh terminal "$demo/pki" zeimu-pc01 | sed 's/^/   /'
bash tools/mkcerts.sh reviewer "$demo/pki" officer | sed 's/^/   /'
# For a browser: the officer's certificate and key in one PKCS#12 file.
openssl pkcs12 -export -in "$demo/pki/officer.pem" -inkey "$demo/pki/officer.key" \
    -certfile "$demo/pki/ca.pem" -name "mynaguard officer (demo)" \
    -passout pass:demo -out "$demo/pki/officer.p12"

# A collector left by an earlier run of the demo.
if [ -s build-demo/collector.pid ]; then
	kill "$(cat build-demo/collector.pid)" 2>/dev/null || true
	rm -f build-demo/collector.pid
fi
step "mynaguard-collector on 127.0.0.1 (mutual TLS, SQLite), from the mynaguard-collector package"
: >"$demo/collector.conf"
setsid "$root/usr/sbin/mynaguard-collector" --config "$demo/collector.conf" \
    --listen 127.0.0.1 --port 0 --database "$demo/collector.db" \
    --certificate "$demo/pki/collector.demo.pem" \
    --key "$demo/pki/collector.demo.key" --ca "$demo/pki/ca.pem" \
    </dev/null >/dev/null 2>"$demo/collector.log" &
cpid=$!
echo "$cpid" >build-demo/collector.pid
keep=0
trap '[ "$keep" = 1 ] || kill "$cpid" 2>/dev/null || true' EXIT
port=
for _ in $(seq 100); do
	port=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' "$demo/collector.log")
	[ -n "$port" ] && break
	sleep 0.1
done
[ -n "$port" ] || { cat "$demo/collector.log"; exit 1; }
sed 's/^<[0-9]>/   /' "$demo/collector.log"

# ---- the terminal, in a VM --------------------------------------------------
vmrc=0
python3 tools/demo-vm.py --debs build-demo/debs --pki "$demo/pki" \
    --agent-id zeimu-pc01 --port "$port" \
    --softkey build-demo/softkey/tests/softkey || vmrc=$?
if [ "$vmrc" -eq 77 ]; then
	echo "(QEMU cannot run here: the terminal part is skipped)"
elif [ "$vmrc" -ne 0 ]; then
	echo "the terminal part failed" >&2
	exit 1
fi

review=("$root/usr/bin/mynaguard-review" --url "https://localhost:$port"
	--ca "$demo/pki/ca.pem" --cert "$demo/pki/officer.pem"
	--key "$demo/pki/officer.key")
step "the security officer: mynaguard-review timeline --terminal zeimu-pc01"
"${review[@]}" timeline --terminal zeimu-pc01
step "mynaguard-review alerts"
"${review[@]}" alerts

keep=1
step "done in $((SECONDS - t0)) s"
cat <<EOT
A fresh Debian 12 terminal got mynaguard from its packages; it made a USB
stick read-only, blocked a phone, let staff1 log in only with the enrolled
security key and its PIN, and every decision reached the collector signed
and verified.

The review page (the collector keeps running):
  https://localhost:$port/review/
  In the browser, import the officer's certificate $demo/pki/officer.p12
  (password: demo) and trust the town CA $demo/pki/ca.pem.
  The same from the command line: ${review[*]} terminals
Stop the collector with:  kill $cpid
EOT
