#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
#
# run.sh OUTDIR SHAREDIR QMP_SOCKET — boot the prepare.sh kernel+initramfs under TCG.
# Serial console on stdout (and stdin); QMP on a unix socket; SHAREDIR appears at /mnt/host.
# The xHCI controller has id "xhci" (bus "xhci.0" for device_add).
# Env: KERNEL_APPEND (extra cmdline, e.g. "usbcore.authorized_default=0"), QEMU_EXTRA (extra args).
set -euo pipefail
OUT=${1:?usage: run.sh OUTDIR SHAREDIR QMP_SOCKET}
SHARE=${2:?usage: run.sh OUTDIR SHAREDIR QMP_SOCKET}
QMP=${3:?usage: run.sh OUTDIR SHAREDIR QMP_SOCKET}
if [ ! -e "$OUT/vmlinuz" ] || [ ! -e "$OUT/initrd.cpio.gz" ]; then
    echo "run: run prepare.sh $OUT first" >&2; exit 1
fi
# shellcheck disable=SC2086
exec qemu-system-x86_64 \
    -accel tcg -m 512 -smp 1 \
    -nographic -serial mon:stdio \
    -no-reboot \
    -nic none \
    -kernel "$OUT/vmlinuz" -initrd "$OUT/initrd.cpio.gz" \
    -append "console=ttyS0 panic=-1 ${KERNEL_APPEND:-}" \
    -device qemu-xhci,id=xhci \
    -virtfs "local,path=$SHARE,mount_tag=host,security_model=none" \
    -qmp "unix:$QMP,server,nowait" \
    ${QEMU_EXTRA:-}
