#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# Stage 2 of the host-root VM mode (run.sh VM_ROOTFS=host), PID 1 after switch_root.
# / is the host's root (9p, read-only) under a tmpfs overlay, so /etc, /var, ... are
# writable and every change is lost at power-off. /proc, /sys, /dev come from the initramfs.
# This script mounts the rest, loads the modules, runs the guest script, then powers off.
# No systemd: the guest script starts the daemons it needs (udevd, dbus, the agent).
#
# Kernel command line (set by run.sh):
#   mg.script=PATH      guest script, run with /bin/sh (default /mnt/host/guest.sh);
#                       without one, a shell on the console
#   mg.modules=a,b,c    modules to load before the script (default below)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8
umask 022

uptime_s() { read -r u _ < /proc/uptime; echo "$u"; }

# Shared propagation, as systemd sets up at boot: mounts then show "shared:N" in mountinfo,
# as on a real terminal.
mount --make-rshared /
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run
# /tmp and /var/tmp stay the overlay's: writable in the guest, and a source or build tree
# the host keeps there (a CI clone in /tmp) stays visible.
mkdir -p /run/lock /run/user /var/tmp
ln -sfn /proc/self/fd /dev/fd
ln -sfn /proc/self/fd/0 /dev/stdin
ln -sfn /proc/self/fd/1 /dev/stdout
ln -sfn /proc/self/fd/2 /dev/stderr
ln -sfn /proc/kcore /dev/core
# The host's /etc/mtab is normally this symlink already; make sure.
ln -sfn ../proc/self/mounts /etc/mtab 2>/dev/null
# Disk-backed directories that must not carry host state into the guest.
for d in /var/log /var/lib/udisks2; do
    [ -d "$d" ] && mount -t tmpfs -o mode=1777 tmpfs "$d" 2>/dev/null
done
chmod 755 /var/log /var/lib/udisks2 2>/dev/null

echo /sbin/modprobe > /proc/sys/kernel/modprobe
hostname mynaguard-vm
echo mynaguard-vm > /etc/hostname
ip link set lo up 2>/dev/null

script=/mnt/host/guest.sh
modules=xhci_pci,usb_storage,uas,sd_mod,sr_mod,sg,usbhid,hid_generic,evdev,sdhci_pci,mmc_block,virtio_console
read -r cmdline < /proc/cmdline
for w in $cmdline; do
    case $w in
    mg.script=*) script=${w#mg.script=} ;;
    mg.modules=*) modules=${w#mg.modules=} ;;
    esac
done
# Quietly skip modules the kernel does not have (or has built in).
for m in $(echo "$modules" | tr , ' '); do
    modprobe -q "$m" || echo "hostroot-init: modprobe $m failed"
done

echo "MYNAGUARD-VM-READY uptime=$(uptime_s)"
if [ -n "$script" ] && [ -f "$script" ]; then
    /bin/sh "$script" </dev/console >/dev/console 2>&1
    echo "MYNAGUARD-VM-GUEST-EXIT rc=$? uptime=$(uptime_s)"
else
    echo "hostroot-init: no guest script $script; shell on the console"
    setsid -c /bin/bash -l </dev/console >/dev/console 2>&1
fi
sync
# A halt from PID 1 without systemd: busybox's poweroff -f calls reboot(2) directly.
busybox poweroff -f 2>/dev/null
echo o > /proc/sysrq-trigger
sleep 10
