#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
#
# tests/vm/run-e2e.sh BUILD_DIR [--only S2,S5] [--verbose] [--fake-enforcer]
#
# End-to-end removable-media tests in one QEMU TCG VM (tools/vm/run.sh VM_ROOTFS=host):
# the guest runs this machine's own / read-only with a tmpfs overlay, systemd-udevd, the
# agent from BUILD_DIR and the udev rules from packaging/udev, with
# usbcore.authorized_default=0; USB sticks, a phone, a keyboard are hot-plugged over QMP.
# tests/vm/README.md lists the scenarios and what each proves.
#
# BUILD_DIR must be absolute (the guest sees it at the same path). Prints one ok/FAIL/skip
# line per check and "N passed, N failed" last. Exit status: 0 passed, 1 failed, 77 QEMU
# cannot run here, 2 usage.
#
#   --only S2,S5       run only these scenarios (after the common setup)
#   --verbose          print every guest command and its output
#   --fake-enforcer    install tests/vm/fake-enforcer.rules.in INSTEAD of packaging/udev:
#                      checks the checks (device-level ones should pass, event ones fail).
#                      Never a result about mynaguard.
# Env: VM_CACHE (default /var/tmp/mynaguard-vm), KEEP=1 keeps the work directory (it is
#      always kept when something failed), E2E_BUDGET seconds (default 540).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
VM=$SRC/tools/vm
CACHE=${VM_CACHE:-/var/tmp/mynaguard-vm}

usage() { echo "usage: $0 /ABSOLUTE/BUILD_DIR [--only S2,S5] [--verbose] [--fake-enforcer]" >&2; exit 2; }
skip() { echo "run-e2e: SKIP: $*"; echo "0 passed, 0 failed"; exit 77; }
[ $# -ge 1 ] || usage
BUILD=$1
shift
case $BUILD in /*) ;; *) usage ;; esac
[ -d "$BUILD" ] || { echo "run-e2e: $BUILD: no such directory" >&2; exit 2; }
BUILD=$(cd "$BUILD" && pwd -P)
fake=0
pyargs=()
while [ $# -gt 0 ]; do
	case $1 in
	--only) [ $# -ge 2 ] || usage; pyargs+=(--only "$2"); shift 2 ;;
	--verbose) pyargs+=(--verbose); shift ;;
	--fake-enforcer) fake=1; shift ;;
	*) usage ;;
	esac
done

# ---- can QEMU run here? ---------------------------------------------------------------------
# Root: QEMU exports / over 9p with security_model=none (it must read every file), and the
# guest's devices, udevd and agent are root's business anyway.
[ "$(id -u)" = 0 ] || skip "needs root"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
printf '%s\n' '{"execute":"qmp_capabilities"}' '{"execute":"quit"}' |
    timeout 20 qemu-system-x86_64 -machine none -accel tcg -display none -nodefaults \
	-no-user-config -S -qmp stdio >/dev/null 2>&1 || skip "qemu-system-x86_64 -accel tcg does not start"
if [ ! -x /lib/systemd/systemd-udevd ]; then
	echo "run-e2e: installing udev (the guest runs the host's systemd-udevd)" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends udev >&2 ||
	    skip "udev is not installed and apt-get install udev failed"
fi
if [ ! -e "$CACHE/initrd-hostroot.cpio.gz" ] || [ ! -e "$CACHE/vmlinuz" ] ||
    [ "$VM/prepare.sh" -nt "$CACHE/initrd-hostroot.cpio.gz" ] ||
    [ "$VM/initramfs-hostroot.sh" -nt "$CACHE/initrd-hostroot.cpio.gz" ]; then
	"$VM/prepare.sh" "$CACHE" >&2 || skip "tools/vm/prepare.sh failed (no apt or network?)"
fi
for t in sfdisk mke2fs gcc openssl python3 setpriv; do
	command -v "$t" >/dev/null || { echo "run-e2e: $t is needed on the host" >&2; exit 1; }
done

# ---- work directory ---------------------------------------------------------------------------
# shellcheck source=../../tools/vm/workdir.sh
. "$HERE/../../tools/vm/workdir.sh"
T=$(mktemp -d /tmp/mynaguard-e2e.XXXXXX)
chmod 755 "$T"
rc=1
# shellcheck disable=SC2317  # called through the EXIT trap
cleanup() {
	vm_kill_qemu "$T"
	if [ "$rc" = 0 ] && [ "${KEEP:-0}" != 1 ]; then
		rm -rf "$T"
	else
		echo "run-e2e: work directory kept: $T (console: $T/vm/console.log)"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
S=$T/share
mkdir -p "$S/etc" "$S/udev" "$S/udisks2" "$T/img" "$T/mtproot" "$T/vm"

# sgwrite: the SG_IO writer (dynamic; the guest runs this host's libc).
gcc -std=c17 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -o "$S/sgwrite" "$HERE/sgwrite.c"

# Disk images: an MBR with one ext2 partition at sector 2048 holding readme.txt.
# make_image FILE SIZE
make_image() {
	local part=$T/part.img
	truncate -s "$2" "$1"
	printf 'label: dos\nstart=2048, type=83\n' | sfdisk -q "$1"
	rm -f "$part"
	truncate -s $(($(stat -c %s "$1") - 1048576)) "$part"
	mke2fs -q -F -t ext2 -L MGE2E -d "$T/fsroot" "$part"
	dd if="$part" of="$1" bs=1M seek=1 conv=notrunc status=none
	rm -f "$part"
}
mkdir -p "$T/fsroot"
echo "mynaguard e2e test medium" >"$T/fsroot/readme.txt"
make_image "$T/img/sd.img" 32M   # sd-card wants a power-of-two size
make_image "$T/img/stick.img" 16M
for n in s2 s3 s6 s7 s8 s9 s11; do cp "$T/img/stick.img" "$T/img/$n.img"; done
echo "photo" >"$T/mtproot/DSC0001.JPG"

# Certificates: the town CA and this terminal's client certificate.
vm_guest_agent "$SRC" "$T/pki" "$S/etc" vmguest mynaguard-vm

# The shipped profile plus one registered stick, above the read-only rule.
awk '/^read-only kind/ && !done {
	print "allow id 46f4:0001 serial \"REG0001\" label \"registered\""; done = 1 }
	{ print }' "$SRC/policy/mynumber-terminal.conf" >"$S/etc/policy.conf"
grep -q '^allow id 46f4:0001 serial "REG0001"' "$S/etc/policy.conf" || {
	echo "run-e2e: no 'read-only kind' rule in policy/mynumber-terminal.conf to insert before" >&2
	exit 1
}
# e2e.py reports the result as a setup check.
if [ -x "$BUILD/cli/mynaguard" ]; then
	prc=0
	"$BUILD/cli/mynaguard" policy check "$S/etc/policy.conf" >"$T/policy-check.txt" 2>&1 || prc=$?
	echo "$prc" >"$T/policy-check.rc"
fi

# udev rules: packaging/udev/*.rules.in with @MYNAGUARD_UDEV@ = the build tree's helper,
# packaging/udev/*.rules as they are.
if [ "$fake" = 1 ]; then
	echo "run-e2e: --fake-enforcer: NOT testing mynaguard's rules" >&2
	sed "s|@FAKE@|$HERE/fake-enforcer.sh|g" "$HERE/fake-enforcer.rules.in" >"$S/udev/61-mg-fake-enforcer.rules"
else
	for f in "$SRC"/packaging/udev/*.rules.in; do
		[ -e "$f" ] || continue
		b=${f##*/}
		sed "s|@MYNAGUARD_UDEV@|$BUILD/agent/mynaguard-udev|g" "$f" >"$S/udev/${b%.in}"
	done
	for f in "$SRC"/packaging/udev/*.rules; do
		[ -e "$f" ] && cp "$f" "$S/udev/"
	done
fi
if [ -f "$SRC/packaging/udisks2/mount_options.conf" ]; then
	cp "$SRC/packaging/udisks2/mount_options.conf" "$S/udisks2/"
fi

set +e
timeout --kill-after=10 "$(( ${E2E_BUDGET:-540} + 60 ))" \
    python3 "$HERE/e2e.py" --src "$SRC" --build "$BUILD" --work "$T" --cache "$CACHE" "${pyargs[@]}"
rc=$?
set -e
[ "$rc" = 0 ] || rc=1
exit "$rc"
