#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
#
# smoke.sh — end-to-end check of the VM harness: boot, hot-plug a USB stick over QMP,
# see /dev/sda in the guest, report /sys/block/sda/ro, unplug.
# Exit 0: stick seen. 77: qemu (or the kernel download) cannot run here. 1: failure.
# Env: VM_CACHE (default /var/tmp/mynaguard-vm), KEEP=1 keeps the temp dir,
#      SMOKE_READONLY=1 plugs the stick with a read-only backend (expect ro=1).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${VM_CACHE:-/var/tmp/mynaguard-vm}
skip() { echo "smoke: SKIP: $*" >&2; exit 77; }

if [ ! -e "$CACHE/initrd.cpio.gz" ] || [ ! -e "$CACHE/vmlinuz" ] || [ "$HERE/prepare.sh" -nt "$CACHE/initrd.cpio.gz" ]; then
    "$HERE/prepare.sh" "$CACHE" || skip "prepare.sh failed (no apt/network?)"
fi
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
# Can qemu start a TCG machine at all here? (a bare QMP round trip, no guest)
printf '%s\n' '{"execute":"qmp_capabilities"}' '{"execute":"quit"}' |
    timeout 20 qemu-system-x86_64 -machine none -accel tcg -display none -nodefaults -no-user-config -S -qmp stdio \
        >/dev/null 2>&1 || skip "qemu-system-x86_64 -accel tcg does not start"

T=$(mktemp -d /tmp/mynaguard-vm-smoke.XXXXXX)
SHARE=$T/share
mkdir -p "$SHARE"
QPID=
cleanup() {
    if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then
        python3 "$HERE/qmp.py" "$T/qmp.sock" quit >/dev/null 2>&1 || kill "$QPID" 2>/dev/null || true
        wait "$QPID" 2>/dev/null || true
    fi
    if [ "${KEEP:-0}" = 1 ]; then echo "smoke: kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
truncate -s 16M "$T/stick.img"

cat > "$SHARE/guest.sh" <<'GUEST'
# runs in the guest (busybox sh); talks to the host through files in /mnt/host
S=/mnt/host
up() { read -r u _ < /proc/uptime; echo "$u"; }
up > $S/ready.tmp && mv $S/ready.tmp $S/ready
i=0; while [ ! -e $S/plugging ] && [ $i -lt 1200 ]; do usleep 50000; i=$((i+1)); done
t0=$(up)
i=0; while [ ! -b /dev/sda ] && [ $i -lt 1200 ]; do usleep 20000; i=$((i+1)); done
t1=$(up)
# the ro attribute and partitions settle right after the node appears; give sd a moment
usleep 200000
{
    echo "plug_seen=$t0"
    echo "sda_seen=$t1"
    if [ -b /dev/sda ]; then
        echo "sda=yes"
        echo "ro=$(cat /sys/block/sda/ro)"
        echo "removable=$(cat /sys/block/sda/removable)"
        echo "size_sectors=$(cat /sys/block/sda/size)"
        echo "devpath=$(readlink -f /sys/block/sda)"
        for f in /sys/bus/usb/devices/*/serial; do echo "usb_serial $f=$(cat $f)"; done
    else
        echo "sda=no"
    fi
} > $S/result.tmp
mv $S/result.tmp $S/result
i=0; while [ ! -e $S/unplugged ] && [ $i -lt 1200 ]; do usleep 50000; i=$((i+1)); done
i=0; while [ -b /dev/sda ] && [ $i -lt 600 ]; do usleep 20000; i=$((i+1)); done
echo "sda_after_unplug=$([ -b /dev/sda ] && echo present || echo gone)" > $S/result2
dmesg > $S/dmesg.txt
GUEST

start=$(date +%s.%N)
"$HERE/run.sh" "$CACHE" "$SHARE" "$T/qmp.sock" </dev/null >"$T/console.log" 2>&1 &
QPID=$!
wait_file() {  # FILE TIMEOUT_S
    local n=0
    while [ ! -e "$1" ]; do
        kill -0 "$QPID" 2>/dev/null || return 2
        n=$((n + 1)); [ "$n" -le $(($2 * 20)) ] || return 1
        sleep 0.05
    done
}
rc=0; wait_file "$SHARE/ready" 180 || rc=$?
if [ "$rc" = 2 ]; then
    tail -20 "$T/console.log" >&2
    if grep -qiE 'could not|failed to|not supported|no such' "$T/console.log"; then skip "qemu failed to start"; fi
    echo "smoke: FAIL: qemu exited before the guest was ready" >&2; exit 1
elif [ "$rc" != 0 ]; then
    tail -20 "$T/console.log" >&2; echo "smoke: FAIL: guest not ready in 180 s" >&2; exit 1
fi
ready_host=$(date +%s.%N)
boot_guest=$(grep -o 'MYNAGUARD-VM-READY uptime=[0-9.]*' "$T/console.log" | cut -d= -f2 || true)

touch "$SHARE/plugging"
plug_t=$(date +%s.%N)
python3 "$HERE/qmp.py" "$T/qmp.sock" plug-stick stick0 "$T/stick.img" --serial SMOKE0001 ${SMOKE_READONLY:+--readonly} >/dev/null
wait_file "$SHARE/result" 120 || { tail -20 "$T/console.log" >&2; echo "smoke: FAIL: no result from guest" >&2; exit 1; }
seen_t=$(date +%s.%N)
cat "$SHARE/result"
python3 "$HERE/qmp.py" "$T/qmp.sock" unplug stick0 >/dev/null
touch "$SHARE/unplugged"
wait_file "$SHARE/result2" 60 || true
cat "$SHARE/result2" 2>/dev/null || true
wait "$QPID" 2>/dev/null || true; QPID=

k_connect=$(grep -m1 -E 'usb [0-9]+-[0-9]+: new .*USB device' "$SHARE/dmesg.txt" | sed -E 's/^\[ *([0-9.]+)\].*/\1/' || true)
k_attached=$(grep -m1 -E 'sd .*\[sda\] Attached SCSI' "$SHARE/dmesg.txt" | sed -E 's/^\[ *([0-9.]+)\].*/\1/' || true)
awk -v s="$start" -v r="$ready_host" -v b="$boot_guest" -v p="$plug_t" -v q="$seen_t" \
    -v g0="$(sed -n 's/^plug_seen=//p' "$SHARE/result")" -v g1="$(sed -n 's/^sda_seen=//p' "$SHARE/result")" \
    -v kc="$k_connect" -v ka="$k_attached" 'BEGIN {
    printf "smoke: boot: guest uptime at ready %.2f s, host wall from qemu start %.2f s\n", b, r - s
    printf "smoke: plug: guest saw plug marker -> /dev/sda %.2f s (host wall device_add -> result file %.2f s)\n", g1 - g0, q - p
    if (kc != "" && ka != "") printf "smoke: plug: kernel \"new USB device\" -> \"[sda] Attached\" %.2f s\n", ka - kc
}'
if grep -qx 'sda=yes' "$SHARE/result"; then echo "smoke: PASS"; exit 0; fi
echo "smoke: FAIL: /dev/sda never appeared" >&2; exit 1
