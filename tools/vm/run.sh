#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
#
# run.sh OUTDIR SHAREDIR QMP_SOCKET [QEMU_ARG...] — boot the prepare.sh kernel+initramfs
# under TCG. Arguments after the third are passed to QEMU as they are (use them rather than
# QEMU_EXTRA when a value may contain blanks).
# Serial console on stdout (and stdin); QMP on a unix socket; SHAREDIR appears at /mnt/host.
# The xHCI controller has id "xhci" (bus "xhci.0" for device_add), 8 USB2 + 8 USB3 ports.
#
# Env:
#   KERNEL_APPEND  extra kernel command line, e.g. "usbcore.authorized_default=0"
#   QEMU_EXTRA     extra QEMU arguments (word-split), e.g. "-device sdhci-pci ..."
#   VM_ROOTFS      "busybox" (default): everything runs in the initramfs, SHAREDIR/guest.sh
#                  is the guest script.
#                  "host": the guest's / is the host's / (9p, read-only) under a tmpfs
#                  overlay (initramfs-hostroot.sh, then hostroot-init.sh); the guest sees every
#                  host binary and the build tree at the same paths.
#                  "debian": the guest's / is VM_DEBROOT (a tools/vm/debroot.sh tree, 9p,
#                  read-only) under a tmpfs overlay, with the extracted kernel's modules
#                  (9p, read-only) at /lib/modules/<kver>; systemd is PID 1 and starts
#                  vm-guestd.service (guestd.py). Every boot starts from the same tree.
# Host mode only:
#   VM_SCRIPT      guest script path as the guest sees it (default /mnt/host/guest.sh)
#   VM_MODULES     comma-separated modules loaded before the script (default: see
#                  hostroot-init.sh)
# Host and debian modes:
#   VM_CMD_SOCKET  also create a virtio-serial port named org.mynaguard.cmd whose host end
#                  is this unix socket (QEMU listens; see guestd.py and vmctl.py)
#   VM_MEM         guest memory in MiB (default 1024), VM_SMP CPUs (default 1)
#   VM_MULTIDEVS   9p multidevs= for the host root (default remap)
# Debian mode only:
#   VM_DEBROOT     the root tree (required; tools/vm/debroot.sh prints it)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:?usage: run.sh OUTDIR SHAREDIR QMP_SOCKET}
SHARE=${2:?usage: run.sh OUTDIR SHAREDIR QMP_SOCKET}
QMP=${3:?usage: run.sh OUTDIR SHAREDIR QMP_SOCKET}
shift 3
mode=${VM_ROOTFS:-busybox}

case $mode in
busybox)
    initrd=$OUT/initrd.cpio.gz
    mem=${VM_MEM:-512}
    append="console=ttyS0 panic=-1 ${KERNEL_APPEND:-}"
    mode_args=()
    ;;
host)
    initrd=$OUT/initrd-hostroot.cpio.gz
    mem=${VM_MEM:-1024}
    kver=$(cat "$OUT/kver")
    moddir=$(cd "$OUT/kernel/lib/modules/$kver" && pwd -P)
    case "$HERE$moddir${VM_SCRIPT:-}${VM_MODULES:-}" in
    *[[:space:]]*) echo "run: paths on the kernel command line must not contain blanks" >&2; exit 1 ;;
    esac
    append="console=ttyS0 panic=-1 mg.init=$HERE/hostroot-init.sh mg.moddir=$moddir"
    [ -z "${VM_SCRIPT:-}" ] || append+=" mg.script=$VM_SCRIPT"
    [ -z "${VM_MODULES:-}" ] || append+=" mg.modules=$VM_MODULES"
    append+=" ${KERNEL_APPEND:-}"
    # -nodefaults: no VGA, no IDE CD-ROM (it would be sr0), no floppy or parallel port.
    mode_args=(-nodefaults -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=${VM_MULTIDEVS:-remap}")
    ;;
debian)
    initrd=$OUT/initrd-hostroot.cpio.gz
    mem=${VM_MEM:-1024}
    kver=$(cat "$OUT/kver")
    moddir=$(cd "$OUT/kernel/lib/modules/$kver" && pwd -P)
    root=${VM_DEBROOT:?run: VM_ROOTFS=debian needs VM_DEBROOT (tools/vm/debroot.sh prints it)}
    [ -f "$root/.mynaguard-debroot" ] || { echo "run: $root is not a finished debroot.sh tree" >&2; exit 1; }
    case "$root$moddir" in
    *,*) echo "run: VM_DEBROOT and the cache path must not contain commas" >&2; exit 1 ;;
    esac
    append="console=ttyS0 panic=-1 mg.lower=debroot mg.modtag=kmod mg.init=/lib/systemd/systemd mg.exec=1"
    append+=" ${KERNEL_APPEND:-}"
    # shellcheck disable=SC2054  # the commas belong to QEMU option values
    mode_args=(-nodefaults
        -virtfs "local,path=$root,mount_tag=debroot,security_model=none,readonly=on,multidevs=${VM_MULTIDEVS:-remap}"
        -virtfs "local,path=$moddir,mount_tag=kmod,security_model=none,readonly=on")
    ;;
*)
    echo "run: VM_ROOTFS must be busybox, host or debian" >&2; exit 1 ;;
esac
if [ "$mode" != busybox ] && [ -n "${VM_CMD_SOCKET:-}" ]; then
    # shellcheck disable=SC2054  # the commas belong to QEMU option values
    mode_args+=(-device virtio-serial-pci,id=vser
        -chardev "socket,id=mgcmd,path=$VM_CMD_SOCKET,server=on,wait=off"
        -device virtserialport,bus=vser.0,chardev=mgcmd,name=org.mynaguard.cmd)
fi
if [ ! -e "$OUT/vmlinuz" ] || [ ! -e "$initrd" ]; then
    echo "run: run prepare.sh $OUT first" >&2; exit 1
fi
# shellcheck disable=SC2086
exec qemu-system-x86_64 \
    -accel tcg -m "$mem" -smp "${VM_SMP:-1}" \
    -nographic -serial mon:stdio \
    -no-reboot \
    -nic none \
    -kernel "$OUT/vmlinuz" -initrd "$initrd" \
    -append "$append" \
    -device qemu-xhci,id=xhci,p2=8,p3=8 \
    -virtfs "local,path=$SHARE,mount_tag=host,security_model=none" \
    "${mode_args[@]}" \
    -qmp "unix:$QMP,server,nowait" \
    ${QEMU_EXTRA:-} "$@"
