#!/bin/busybox sh
# shellcheck shell=dash
# SPDX-License-Identifier: BSD-2-Clause
#
# /init of initrd-hostroot.cpio.gz (prepare.sh copies this file in; run.sh VM_ROOTFS=host
# and VM_ROOTFS=debian). Mounts a read-only 9p root (tag "hostroot": the host's /, or tag
# "debroot": a tools/vm/debroot.sh tree) under a tmpfs overlay, the read-write share (tag
# "host") at /mnt/host, the extracted Debian kernel's module tree at /lib/modules/$(uname -r),
# then switch_root's into the overlay and runs mg.init there.
#
# Kernel command line (all set by run.sh):
#   mg.init=PATH     stage 2 in the new root: run by /bin/sh (tools/vm/hostroot-init.sh),
#                    or exec'd as PID 1 with mg.exec=1 (/lib/systemd/systemd)
#   mg.exec=1        exec mg.init itself instead of /bin/sh mg.init
#   mg.lower=TAG     9p mount tag of the lower layer (default hostroot)
#   mg.moddir=PATH   path of lib/modules/<kver> of the extracted kernel inside the lower
#                    layer (host mode: it is the host's /), bind-mounted; or
#   mg.modtag=TAG    9p mount tag exporting that directory (debian mode), mounted read-only
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

die() {
    echo "initramfs: $*"
    echo "MYNAGUARD-VM-FAILED $*"
    sync
    poweroff -f
    sleep 5
}

kver=$(uname -r)
while read -r m; do
    insmod "/lib/modules/$kver/$m" || echo "initramfs: insmod $m failed"
done < /etc/modules.load

init='' moddir='' modtag='' lower=hostroot exec_init=0
read -r cmdline < /proc/cmdline
for w in $cmdline; do
    case $w in
    mg.init=*) init=${w#mg.init=} ;;
    mg.moddir=*) moddir=${w#mg.moddir=} ;;
    mg.modtag=*) modtag=${w#mg.modtag=} ;;
    mg.lower=*) lower=${w#mg.lower=} ;;
    mg.exec=1) exec_init=1 ;;
    esac
done
[ -n "$init" ] || die "no mg.init= on the kernel command line"

# has_tag TAG: a virtio-9p device with this mount tag exists. The sysfs attribute ends with a
# NUL, not a newline, so compare with tr'd content.
has_tag() {
    for f in /sys/bus/virtio/devices/*/mount_tag; do
        [ -e "$f" ] && [ "$(tr -d '\000\n' < "$f")" = "$1" ] && return 0
    done
    return 1
}

# The virtio-9p devices may need a moment after virtio_pci probed them.
i=0
until has_tag "$lower"; do
    i=$((i + 1))
    [ $i -lt 100 ] || die "no 9p device with mount tag $lower"
    usleep 50000
done

mkdir -p /lower /upper /newroot
# cache=loose: the lower root is read-only for the guest and does not change during a test.
# Restart the VM after rebuilding on the host.
mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=262144,cache=loose "$lower" /lower ||
    die "cannot mount the $lower root"
mount -t tmpfs -o mode=755 tmpfs /upper
mkdir -p /upper/data /upper/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work /newroot ||
    die "cannot mount the overlay"

mkdir -p /newroot/mnt/host
if has_tag host; then
    mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 host /newroot/mnt/host ||
        echo "initramfs: cannot mount the share"
fi
if [ -n "$moddir" ]; then
    [ -d "/newroot$moddir" ] || die "mg.moddir $moddir not found in the host root"
    mkdir -p "/newroot/lib/modules/$kver"
    mount --bind "/newroot$moddir" "/newroot/lib/modules/$kver"
elif [ -n "$modtag" ]; then
    has_tag "$modtag" || die "no 9p device with mount tag $modtag"
    mkdir -p "/newroot/lib/modules/$kver"
    mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=262144,cache=loose "$modtag" \
        "/newroot/lib/modules/$kver" || die "cannot mount the kernel modules ($modtag)"
fi
[ -e "/newroot$init" ] || die "mg.init $init not found in the $lower root"

mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
mount --move /dev /newroot/dev
if [ "$exec_init" = 1 ]; then
    exec switch_root /newroot "$init"
fi
exec switch_root /newroot /bin/sh "$init"
