#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# The systemd sandbox of mynaguard's units beside Debian's usbguard.service
# (issue 7, STYLE.md 5.7): the overall exposure of each from
# `systemd-analyze security --offline=yes` (lower is better), the ratio
# mynaguard/usbguard, the biggest items left for each mynaguard unit with
# the reason they stay, and `systemd-analyze verify` of both units.
#
#   bench/units/run.sh [BUILD_DIR]
#
# Exit status: 0 when both units parse cleanly and neither is more exposed
# than usbguard.service; 1 otherwise (a policy gate, not a measurement);
# 2 when a tool or file is missing.
#
# BUILD_DIR (or $MG_BUILD_DIR): a build tree with agent/mynaguard-agent and
# collector/mynaguard-collector.  verify checks that every ExecStart= path
# exists, so the units are verified inside a temporary root holding a copy
# of this system's units, these two units, the two binaries at
# /usr/sbin and /bin/kill.  Without a build tree, only the message "Command
# /usr/sbin/mynaguard-... is not executable: No such file or directory" is
# filtered out (and the script says so); every other word of verify fails
# the gate.
#
# usbguard.service comes from /lib/systemd/system (Debian's usbguard
# package), or $USBGUARD_UNIT, or else the unit file is taken out of the
# package fetched with `apt-get download` (not installed: installing would
# start a daemon that blocks USB devices on this machine).
#
# Environment: TOP=N items per unit (default 8).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
units="$src/packaging/systemd"
top=${TOP:-8}
build=${1:-${MG_BUILD_DIR:-}}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
# "+" and "-" instead of check marks; the numbers use a dot.
LC_ALL=C
export LC_ALL

command -v systemd-analyze >/dev/null 2>&1 ||
	{ echo "run.sh: systemd-analyze not found (package systemd)" >&2; exit 2; }

# ---- usbguard.service ------------------------------------------------------
ug=${USBGUARD_UNIT:-}
if [ -z "$ug" ]; then
	for f in /lib/systemd/system/usbguard.service \
	    /usr/lib/systemd/system/usbguard.service; do
		[ -f "$f" ] && { ug=$f; break; }
	done
fi
if [ -z "$ug" ]; then
	echo "usbguard.service not installed: fetching the package (apt-get download usbguard)"
	if (cd "$tmp" && apt-get download usbguard >/dev/null 2>&1); then
		for deb in "$tmp"/usbguard_*.deb; do break; done
		mkdir "$tmp/ug"
		dpkg-deb -x "$deb" "$tmp/ug"
		for f in "$tmp/ug/lib/systemd/system/usbguard.service" \
		    "$tmp/ug/usr/lib/systemd/system/usbguard.service"; do
			[ -f "$f" ] && { ug=$f; break; }
		done
		ugver=$(dpkg-deb -f "$deb" Version)
	fi
	[ -n "$ug" ] || { echo "run.sh: no usbguard.service (set USBGUARD_UNIT)" >&2; exit 2; }
else
	ugver=$(dpkg-query -W -f '${Version}' usbguard 2>/dev/null || echo "?")
fi

# ---- exposure ------------------------------------------------------------------
analyze() {	# unit file -> full report in $tmp/<name>.sec; prints the level
	name=$(basename "$1")
	systemd-analyze security --offline=yes --no-pager "$1" \
	    >"$tmp/$name.sec" 2>"$tmp/$name.err" || true
	sed -n 's/^.*Overall exposure level for [^:]*: \([0-9.]*\).*$/\1/p' \
	    "$tmp/$name.sec"
}

a=$(analyze "$units/mynaguard-agent.service")
c=$(analyze "$units/mynaguard-collector.service")
u=$(analyze "$ug")
for v in "$a" "$c" "$u"; do
	case $v in
	[0-9]*) ;;
	*) echo "run.sh: systemd-analyze security gave no exposure level:" >&2
	   cat "$tmp"/*.err >&2
	   exit 2 ;;
	esac
done

echo "systemd-analyze security --offline=yes ($(systemd-analyze --version | head -n 1))"
echo "exposure: 0.0 (none) .. 10.0 (unsandboxed); lower is better"
echo
printf '%-30s %8s %10s  %s\n' UNIT EXPOSURE "/USBGUARD" VERDICT
fail=0
row() {
	r=$(awk -v m="$2" -v g="$u" 'BEGIN { printf "%.2f", (g > 0 ? m / g : 0) }')
	if [ -z "$3" ]; then
		verdict="reference ($ug, usbguard $ugver)"
	elif awk -v m="$2" -v g="$u" 'BEGIN { exit !(m <= g) }'; then
		verdict="ok (no worse than usbguard)"
	else
		verdict="FAIL (more exposed than usbguard)"
		fail=1
	fi
	printf '%-30s %8s %10s  %s\n' "$1" "$2" "$r" "$verdict"
}
row mynaguard-agent.service "$a" gate
row mynaguard-collector.service "$c" gate
row usbguard.service "$u" ""

# ---- what is left, biggest first --------------------------------------------------
# Why each remaining item stays (keep in step with the units' comments).
why() {	# unit item
	case "$1:$2" in
	agent:PrivateNetwork=) echo "ships events to the collector over TCP" ;;
	agent:User=/DynamicUser=) echo "root: root-only sysfs attributes, BLKROSET and remount need CAP_SYS_ADMIN in the initial namespace" ;;
	agent:CapabilityBoundingSet=~CAP_SYS_ADMIN) echo "BLKROSET (block/ioctl.c) and MS_REMOUNT|MS_RDONLY of read-write media" ;;
	agent:CapabilityBoundingSet=~CAP_SET*) echo "CAP_SETUID/SETGID: the notice's grandchild becomes the seat user (agent/notify.c)" ;;
	agent:RestrictAddressFamilies=~AF_\(INET*) echo "libcurl to the collector (the uplink split of STYLE 5.7 is not done)" ;;
	agent:RestrictAddressFamilies=~AF_NETLINK) echo "kernel uevents (NETLINK_KOBJECT_UEVENT)" ;;
	agent:RestrictAddressFamilies=~AF_UNIX) echo "intake socket, sd_notify, journal, the user's session bus" ;;
	agent:SystemCallFilter=~@privileged) echo "only setgroups/setresuid/setuid (notices) and mount/umount2 are allowed back" ;;
	agent:SystemCallFilter=~@mount) echo "only mount and umount2: remount read-only, else detach" ;;
	agent:PrivateDevices=) echo "opens /dev/sd*, mmcblk*, sr* read-only for BLKROSET (DeviceAllow= limits it)" ;;
	agent:PrivateUsers=) echo "a user namespace would take CAP_SYS_ADMIN over the real devices away" ;;
	agent:IPAddressDeny=) echo "the collector's address is configuration; a wrong list silently stops events" ;;
	agent:DeviceAllow=) echo "block-sd/mmc/sr/blkext r for the ioctl; char-rtc r comes with ProtectClock=" ;;
	agent:ProtectHome=) echo "read-only, not hidden: notices connect to /run/user/UID/bus" ;;
	agent:ProcSubset=) echo "agent/state.c reads /proc/cmdline (usbcore.authorized_default=0)" ;;
	agent:RootDirectory=/RootImage=) echo "reads the host's udev, modprobe and /etc/mynaguard files" ;;
	collector:PrivateNetwork=) echo "the HTTPS listener" ;;
	collector:RestrictAddressFamilies=~AF_\(INET*) echo "the HTTPS listener" ;;
	collector:RestrictAddressFamilies=~AF_UNIX) echo "sd_notify (Type=notify)" ;;
	collector:IPAddressDeny=) echo "terminals connect from every office network; client certificates decide" ;;
	collector:DeviceAllow=) echo "char-rtc r comes with ProtectClock=; PrivateDevices= hides the rest" ;;
	collector:RootDirectory=/RootImage=) echo "a plain package install; RootDirectory= would need its own tree" ;;
	*) echo "(no reason recorded: look at it)" ;;
	esac
}

items() {	# unit-short report
	echo
	echo "$1: top $top remaining items (weight as printed by systemd-analyze)"
	grep '^- ' "$2" | awk '{ w = $NF; if (w ~ /^[0-9.]+$/) print w "\t" $2 }' |
	    sort -t "$(printf '\t')" -k1,1nr -k2,2 | head -n "$top" |
	    while IFS="$(printf '\t')" read -r w item; do
		printf '  %4s  %-44s %s\n' "$w" "$item" "$(why "$1" "$item")"
	    done
}
items agent "$tmp/mynaguard-agent.service.sec"
items collector "$tmp/mynaguard-collector.service.sec"

# ---- systemd-analyze verify -----------------------------------------------------
echo
root="$tmp/root"
mkdir -p "$root/usr/lib/systemd/system" "$root/usr/sbin" "$root/usr/bin" \
    "$root/etc/systemd/system"
ln -s usr/lib "$root/lib"
ln -s usr/bin "$root/bin"
ln -s usr/sbin "$root/sbin"
# The units they name (sysinit.target, systemd-udevd.service, ...).
cp -a /lib/systemd/system/. "$root/usr/lib/systemd/system/"
cp "$units/mynaguard-agent.service" "$units/mynaguard-collector.service" \
    "$root/usr/lib/systemd/system/"
cp "$(command -v kill)" "$root/usr/bin/kill" 2>/dev/null ||
    cp /bin/kill "$root/usr/bin/kill"
filter=
if [ -n "$build" ] && [ -x "$build/agent/mynaguard-agent" ] &&
    [ -x "$build/collector/mynaguard-collector" ]; then
	cp "$build/agent/mynaguard-agent" \
	    "$build/collector/mynaguard-collector" "$root/usr/sbin/"
	echo "systemd-analyze verify (binaries of $build in a temporary root)"
else
	[ -n "$build" ] && echo "run.sh: $build has no agent/collector binaries" >&2
	filter='Command /usr/sbin/mynaguard-(agent|collector) is not executable: No such file or directory$'
	echo "systemd-analyze verify (no build tree given: filtering only"
	echo "  \"Command /usr/sbin/mynaguard-{agent,collector} is not executable\")"
fi
# verify looks up every Documentation=man:PAGE(N) with man(1): the pages
# of docs/man, laid out as a manual tree for MANPATH.
src=$(cd "$(dirname "$0")/../.." && pwd)
for page in "$src"/docs/man/*.[1-8]; do
	sec=${page##*.}
	mkdir -p "$tmp/man/man$sec"
	cp "$page" "$tmp/man/man$sec/"
done
MANPATH="$tmp/man" systemd-analyze verify --root="$root" --no-pager \
    mynaguard-agent.service mynaguard-collector.service \
    >"$tmp/verify.out" 2>&1 || true
if [ -n "$filter" ]; then
	grep -Ev "$filter" "$tmp/verify.out" >"$tmp/verify.left" || true
else
	cp "$tmp/verify.out" "$tmp/verify.left"
fi
if [ -s "$tmp/verify.left" ]; then
	sed "s|$root||g; s/^/  /" "$tmp/verify.left"
	echo "  FAIL: verify printed the lines above"
	fail=1
else
	echo "  ok: no warnings"
fi

exit "$fail"
