#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
#
# bench/vm/run.sh [--quick] [--json FILE] [--only 1,2,3,4] [--method trace|poll]
#                 [--diag] [--smp N] [--build DIR] [--verbose]
#
# Benchmarks of removable-media control in one QEMU TCG VM (tools/vm, host-root mode);
# they print figures and assert nothing (README.md in this directory says what each
# figure means):
#   1. kernel "add" uevent of a USB stick's disk -> read-only in force, mynaguard vs a
#      plain udev rule, and whether a racing root write lands;
#   2. kernel "add" uevent of the USB device -> authorized, mynaguard vs usbguard-daemon;
#   3. resident memory of the agent and usbguard-daemon, idle and after plug cycles;
#   4. their wakeups while idle.
#
#   --quick        N=5 plugs per configuration, 2 racing writes, 20 cycles (else 10, 3, 100)
#   --json FILE    also write every figure and raw sample to FILE
#   --only LIST    run only these benchmarks (1 and 2 share their plugs, so do 3 and 4)
#   --method M     how the moment a decision took effect is found: "trace" (default, the
#                  kernel's trace buffer) or "poll" (uevlat polls every 0.5 ms; see README)
#   --diag         also time the agent alone, without its udev rules (a diagnosis of 1, 2)
#   --smp N        guest vCPUs (default 1, as tools/vm; the host has 2 cores)
#   --build DIR    build tree (default SRC/build-benchvm, RelWithDebInfo).
# Env: VM_CACHE (default /var/tmp/mynaguard-vm), BENCH_N, BENCH_RACES, BENCH_CYCLES,
#      KEEP=1 keeps the work directory. Exit status: 0 ran, 1 failed, 77 cannot run here.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
VM=$SRC/tools/vm
CACHE=${VM_CACHE:-/var/tmp/mynaguard-vm}

usage() { sed -n '4,26p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
skip() { echo "bench/vm: SKIP: $*"; exit 77; }
quick=0 json='' only=1,2,3,4 build=$SRC/build-benchvm pyargs=()
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1; shift ;;
	--json) [ $# -ge 2 ] || usage; json=$(realpath -m "$2"); shift 2 ;;
	--only) [ $# -ge 2 ] || usage; only=$2; shift 2 ;;
	--build) [ $# -ge 2 ] || usage; build=$(realpath -m "$2"); shift 2 ;;
	--smp) [ $# -ge 2 ] || usage; pyargs+=(--smp "$2"); shift 2 ;;
	--diag) pyargs+=(--diag); shift ;;
	--method) [ $# -ge 2 ] || usage; pyargs+=(--method "$2"); shift 2 ;;
	--verbose) pyargs+=(--verbose); shift ;;
	*) usage ;;
	esac
done
n=${BENCH_N:-$((quick ? 5 : 10))}
races=${BENCH_RACES:-$((quick ? 2 : 3))}
cycles=${BENCH_CYCLES:-$((quick ? 20 : 100))}

# ---- can it run here? ----------------------------------------------------------------------
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
[ -x /lib/systemd/systemd-udevd ] || skip "udev is not installed (the guest runs the host's)"
command -v usbguard-daemon >/dev/null || skip "usbguard is not installed (apt-get install usbguard)"
for t in gcc cmake sfdisk mke2fs strace python3; do
	command -v "$t" >/dev/null || skip "$t is needed on the host"
done
if [ ! -e "$CACHE/initrd-hostroot.cpio.gz" ] || [ ! -e "$CACHE/vmlinuz" ]; then
	"$VM/prepare.sh" "$CACHE" >&2 || skip "tools/vm/prepare.sh failed (no apt or network?)"
fi

echo "== build (RelWithDebInfo) into $build"
gen=()
[ -e "$build/CMakeCache.txt" ] || { command -v ninja >/dev/null && gen=(-G Ninja); }
cmake -S "$SRC" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target mynaguard-agent mynaguard-udev >/dev/null

# ---- work directory ----------------------------------------------------------------------
# shellcheck source=../../tools/vm/workdir.sh
. "$HERE/../../tools/vm/workdir.sh"
T=$(mktemp -d /tmp/mg-benchvm.XXXXXX)
chmod 755 "$T"
rc=1
cleanup() {
	vm_kill_qemu "$T"
	if [ "$rc" = 0 ] && [ "${KEEP:-0}" != 1 ]; then
		rm -rf "$T"
	else
		echo "bench/vm: work directory kept: $T (console: $T/vm/console.log)"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
S=$T/share
mkdir -p "$S/etc" "$S/rules/M" "$S/rules/P" "$T/vm"

# uevlat, with the project's warning flags (STYLE 5.9); dynamic, the guest runs this libc.
gcc -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Wpedantic -Wshadow -Wcast-qual \
    -Wwrite-strings -Wmissing-prototypes -Wstrict-prototypes -Wformat=2 \
    -Wimplicit-fallthrough -Wnull-dereference -Wconversion -Wvla -Wframe-larger-than=4096 \
    -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE -pie -pthread \
    -o "$S/uevlat" "$HERE/uevlat.c"

# The stick: 16 MiB, an MBR and one ext2 partition at sector 2048.
mkdir -p "$T/fsroot"
echo "mynaguard bench medium" >"$T/fsroot/readme.txt"
truncate -s 16M "$T/stick.img"
printf 'label: dos\nstart=2048, type=83\n' | sfdisk -q "$T/stick.img"
truncate -s 15M "$T/part.img"
mke2fs -q -F -t ext2 -L MGBENCH -d "$T/fsroot" "$T/part.img"
dd if="$T/part.img" of="$T/stick.img" bs=1M seek=1 conv=notrunc status=none
rm -f "$T/part.img"

# The agent: no collector URL (events stay in the spool), the shipped profile
# (sticks read-only).
vm_guest_agent "$SRC" "$T/pki" "$S/etc" pc01 mynaguard-bench
cp "$SRC/policy/mynumber-terminal.conf" "$S/etc/policy.conf"

# usbguard-daemon: the stick allowed, everything else new blocked, controllers kept,
# no IPC client (usbguard-daemon.conf(5)).
cat >"$S/etc/usbguard-daemon.conf" <<'CONF'
RuleFile=/etc/mg-bench/usbguard-rules.conf
ImplicitPolicyTarget=block
PresentDevicePolicy=apply-policy
PresentControllerPolicy=keep
InsertedDevicePolicy=apply-policy
AuthorizedDefault=none
RestoreControllerDeviceState=false
DeviceManagerBackend=uevent
IPCAllowedUsers=root
DeviceRulesWithPort=false
AuditBackend=FileAudit
AuditFilePath=/var/log/usbguard/usbguard-audit.log
HidePII=false
CONF
echo 'allow id 46f4:0001' >"$S/etc/usbguard-rules.conf"

# udev rule sets: M = mynaguard's (the build tree's helper), P = the plain rule.
cp "$build/packaging/build-tree/10-mynaguard.rules" "$SRC/packaging/udev/71-mynaguard-noaccess.rules" \
    "$S/rules/M/"
cat >"$S/rules/P/61-mg-bench-plain-ro.rules" <<'RULES'
ACTION=="add", SUBSYSTEM=="block", ENV{DEVTYPE}=="disk", ENV{ID_BUS}=="usb", RUN+="/sbin/blockdev --setro $devnode"
RULES

args=(--build "$build" --work "$T" --cache "$CACHE" --n "$n" --races "$races"
    --cycles "$cycles" --only "$only")
[ -z "$json" ] || args+=(--json "$json")
set +e
python3 "$HERE/bench.py" "${args[@]}" "${pyargs[@]}"
rc=$?
set -e
[ "$rc" = 0 ] || rc=1
exit "$rc"
