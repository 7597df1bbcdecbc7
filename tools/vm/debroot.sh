#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
#
# debroot.sh [DIR] — a fresh Debian 12 root for the "debian" VM mode (run.sh
# VM_ROOTFS=debian VM_DEBROOT=DIR): debootstrap --variant=minbase bookworm, then in a chroot
# `apt-get install --no-install-recommends` what a terminal has (systemd as init, udev,
# dbus, PAM, login) plus the runtime libraries of mynaguard's programs, so that the three
# .debs install with plain `dpkg -i` (the VM has no network). Also: root without a password
# and logged in on the serial console, hostname mynaguard-vm, and vm-guestd.service
# running tools/vm/guestd.py on the virtio-serial port org.mynaguard.cmd (vmctl.py).
#
# DIR defaults to $VM_CACHE/debroot-<hash> (VM_CACHE default /var/tmp/mynaguard-vm), the
# hash covering this script, guestd.py and DEBROOT_EXTRA: a changed list gives a new root.
# Cached: a second call only prints. The root is built in DIR.tmp.PID and renamed at the end
# (DIR/.mynaguard-debroot marks a finished root); a lock (DIR.lock) serializes concurrent
# calls, and a DIR.tmp.* left by an interrupted call is removed by the next one. Roots of
# older versions of this script are not removed (a VM may still use one):
# rm -rf $VM_CACHE/debroot-* when no VM runs.
# The VM never writes to DIR (it is the read-only lower layer of a tmpfs overlay).
#
# Prints DIR as the last line of stdout; progress, sizes and timings on stderr.
# Env: DEBROOT_EXTRA="pkg ..." more packages; DEBROOT_MIRROR (default
#      http://deb.debian.org/debian). Needs root and the network to deb.debian.org.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
MIRROR=${DEBROOT_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm

# What a terminal runs, and the runtime libraries of our programs (objdump -p NEEDED of
# mynaguard-agent, mynaguard-udev, mynaguard-collector, mynaguard, pam_mynaguard.so):
#   libcrypto.so.3 (libssl3), libcurl.so.4 (libcurl4), libsystemd.so.0, libudev.so.1,
#   libsqlite3.so.0, libpq.so.5 (the collector's PostgreSQL backend), libmicrohttpd.so.12,
#   libgnutls.so.30, libfido2.so.1 (-> libcbor0.8),
#   libpam.so.0 (libpam0g).
PACKAGES=(
    systemd systemd-sysv udev dbus kmod libpam-runtime libpam-modules login passwd
    python3 pamtester procps util-linux locales
    libfido2-1 libcbor0.8 libcurl4 libmicrohttpd12 libsqlite3-0 libpq5 libssl3 libudev1
    libsystemd0 libgnutls30 libpam0g
)
# shellcheck disable=SC2206  # a word list on purpose
PACKAGES+=(${DEBROOT_EXTRA:-})

log() { echo "debroot: $*" >&2; }
die() { echo "debroot: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot)"

hash=$( { cat "$0" "$HERE/guestd.py"; printf '%s\n' "${PACKAGES[@]}" "$MIRROR"; } |
    sha256sum | cut -c1-12)
base=${VM_CACHE:-/var/tmp/mynaguard-vm}
DIR=${1:-$base/debroot-$hash}
case $DIR in /*) ;; *) DIR=$PWD/$DIR ;; esac
DIR=${DIR%/}
STAMP=.mynaguard-debroot

show() {
    local size
    size=$(du -sh --one-file-system "$DIR" 2>/dev/null | cut -f1)
    log "root $DIR: $size, $(tr '\n' ' ' < "$DIR/$STAMP")"
    echo "$DIR"
}
if [ -f "$DIR/$STAMP" ]; then
    show
    exit 0
fi

mkdir -p "$(dirname "$DIR")"
exec 9>"$DIR.lock"
flock 9
if [ -f "$DIR/$STAMP" ]; then   # another call finished it while we waited
    show
    exit 0
fi

# umount_under PATH: unmount everything mounted below PATH (deepest first); fails if any
# mount is left, so that rm -rf never descends into a bind-mounted /dev or /proc.
umount_under() {
    local m
    awk -v p="$1/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r |
        while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
    ! awk -v p="$1/" 'index($2, p) == 1 { found = 1 } END { exit !found }' /proc/mounts
}
# remove_tree PATH: rm -rf after making sure nothing is mounted below it.
remove_tree() {
    [ -e "$1" ] || return 0
    umount_under "$1" || die "mounts left under $1; not removing it"
    rm -rf --one-file-system "$1"
}

# Leftovers of interrupted runs (the lock is ours, so none of them is being built).
for old in "$DIR".tmp.*; do
    [ -e "$old" ] || continue
    log "removing the half-created $old"
    remove_tree "$old"
done
# A finished root is only ever renamed into place, so DIR without the stamp is not ours.
[ ! -e "$DIR" ] || die "$DIR exists and is not a debroot.sh root (no $STAMP); not touching it"

if ! command -v debootstrap >/dev/null; then
    log "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap >&2 ||
        { apt-get update >&2 &&
          DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap >&2; } ||
        die "cannot install debootstrap"
fi

TMP=$DIR.tmp.$$
cleanup() {
    if [ -e "$TMP" ]; then
        log "failed; removing $TMP"
        remove_tree "$TMP" || true
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

t0=$(date +%s)
log "debootstrap --variant=minbase $SUITE into $TMP (mirror $MIRROR)"
debootstrap --variant=minbase "$SUITE" "$TMP" "$MIRROR" > "$TMP.debootstrap.log" 2>&1 || {
    tail -20 "$TMP.debootstrap.log" >&2
    die "debootstrap failed (log: $TMP.debootstrap.log)"
}
rm -f "$TMP.debootstrap.log"
t1=$(date +%s)
log "debootstrap: $((t1 - t0)) s"

# ---- chroot install ------------------------------------------------------------------------
cat > "$TMP/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb ${MIRROR%/debian}/debian-security $SUITE-security main
EOF
# No manual pages, info or translations in the VM root (they are half its size otherwise).
cat > "$TMP/etc/dpkg/dpkg.cfg.d/01-mynaguard-vm-nodoc" <<'EOF'
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/ja/*
path-include=/usr/share/locale/locale.alias
EOF
cat > "$TMP/etc/apt/apt.conf.d/01-mynaguard-vm" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
EOF
# No daemon starts inside the chroot.
printf '#!/bin/sh\nexit 101\n' > "$TMP/usr/sbin/policy-rc.d"
chmod 755 "$TMP/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$TMP/etc/resolv.conf"
mount -t proc proc "$TMP/proc"
mount -t sysfs sysfs "$TMP/sys"
mount --bind /dev "$TMP/dev"
mount --bind /dev/pts "$TMP/dev/pts"
in_root() { LC_ALL=C DEBIAN_FRONTEND=noninteractive chroot "$TMP" "$@"; }
log "apt-get install ${PACKAGES[*]}"
{ in_root apt-get update && in_root apt-get install -y "${PACKAGES[@]}"; } > "$TMP.apt.log" 2>&1 || {
    tail -30 "$TMP.apt.log" >&2
    die "apt-get install in the chroot failed (log: $TMP.apt.log)"
}
in_root apt-get clean
rm -f "$TMP.apt.log"
t2=$(date +%s)
log "chroot install: $((t2 - t1)) s"

# ---- terminal settings -----------------------------------------------------------------------
in_root passwd -d root >/dev/null
# A Japanese town's terminal: staff sessions run in ja_JP.UTF-8 (pam_mynaguard.so's
# messages follow the login program's locale).
in_root localedef -i ja_JP -f UTF-8 ja_JP.UTF-8
echo mynaguard-vm > "$TMP/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tmynaguard-vm\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
    > "$TMP/etc/hosts"
: > "$TMP/etc/fstab"
: > "$TMP/etc/resolv.conf"
# Root logged in on the serial console (console=ttyS0 makes systemd start serial-getty).
mkdir -p "$TMP/etc/systemd/system/serial-getty@ttyS0.service.d"
cat > "$TMP/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf" <<'EOF'
[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root --keep-baud 115200,57600,38400,9600 %I $TERM
EOF
# Nothing periodic during a test.
for u in apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer fstrim.timer \
    systemd-tmpfiles-clean.timer; do
    ln -sfn /dev/null "$TMP/etc/systemd/system/$u"
done
# The command channel: guestd.py (needs python3, not only python3-minimal: json) on the
# virtio-serial port; its exit (vmctl.py VM.stop())
# powers the guest off.
mkdir -p "$TMP/usr/local/lib/vm-guestd"
cp "$HERE/guestd.py" "$TMP/usr/local/lib/vm-guestd/guestd.py"
cat > "$TMP/etc/systemd/system/vm-guestd.service" <<'EOF'
# VM test harness only (tools/vm/debroot.sh): runs host commands sent over virtio-serial.
[Unit]
Description=VM test command channel (tools/vm/guestd.py)
After=systemd-udevd.service systemd-udev-trigger.service
Wants=systemd-udev-trigger.service
SuccessAction=poweroff-immediate
FailureAction=poweroff-immediate

[Service]
Type=simple
Environment=LANG=C.UTF-8 HOME=/root
ExecStartPre=-/sbin/modprobe -q virtio_console
ExecStart=/usr/bin/python3 /usr/local/lib/vm-guestd/guestd.py
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
EOF
ln -sfn /etc/systemd/system/vm-guestd.service \
    "$TMP/etc/systemd/system/multi-user.target.wants/vm-guestd.service"
rm -f "$TMP/usr/sbin/policy-rc.d"

umount_under "$TMP" || die "cannot unmount the chroot's /proc, /sys, /dev"
rm -rf "$TMP/var/lib/apt/lists/"* "$TMP/var/cache/apt/"*.bin "$TMP/var/log/"*.log \
    "$TMP/var/log/apt/"* "$TMP/tmp/"* 2>/dev/null || true
{
    echo "created=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "debootstrap_s=$((t1 - t0))"
    echo "install_s=$((t2 - t1))"
    echo "packages=$(chroot "$TMP" dpkg-query -W -f '.\n' | wc -l)"
} > "$TMP/$STAMP"
mv "$TMP" "$DIR"
trap - EXIT
show
