# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=bash
#
# Guest side of tests/vm/run-e2e.sh: shell functions the host calls through the command
# channel (". guest-lib.sh; g_xxx ARGS"). The guest runs the host's / read-only with a
# tmpfs overlay (tools/vm/run.sh VM_ROOTFS=host); the host prepared everything the guest
# needs in the share, /mnt/host. MG_BUILD is the build tree (same path as on the host).
#
# Nothing here decides pass or fail: the functions act and print what they saw; the host
# (e2e.py) judges.

S=/mnt/host
LOGDIR=/run/mg-e2e
AGENT_LOG=$LOGDIR/agent.log
AGENT_PID=$LOGDIR/agent.pid
AGENT_CONF=/etc/mynaguard/agent.conf
SOCKET=/run/mynaguard/events.sock
SPOOL=/var/lib/mynaguard/spool
mkdir -p "$LOGDIR"

# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds; 1 on timeout.
wait_for() {
	local n=$(($1 * 10))
	shift
	while ! "$@" 2>/dev/null; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.1
	done
}

# Configuration, certificates, udev rules and udisks2 options from the share; the test user.
g_install() {
	mkdir -p /etc/mynaguard /run/mynaguard "$SPOOL" /var/lib/mynaguard/drop /etc/udev/rules.d
	install -m 0644 "$S/etc/agent.conf" "$S/etc/policy.conf" "$S/etc/ca.pem" \
	    "$S/etc/agent.pem" /etc/mynaguard/
	install -m 0600 "$S/etc/agent.key" /etc/mynaguard/
	local n=0 f
	for f in "$S"/udev/*.rules; do
		[ -e "$f" ] || continue
		install -m 0644 "$f" /etc/udev/rules.d/
		echo "installed udev rule ${f##*/}"
		n=$((n + 1))
	done
	echo "udev_rules=$n"
	if [ -f "$S/udisks2/mount_options.conf" ]; then
		mkdir -p /etc/udisks2
		install -m 0644 "$S/udisks2/mount_options.conf" /etc/udisks2/
		echo "udisks_options=installed"
	else
		echo "udisks_options=missing"
	fi
	# A user who is in the disk and cdrom groups, as desktop users often are.
	id mgtest >/dev/null 2>&1 || useradd -M -N -d /nonexistent -s /bin/sh -G disk,cdrom mgtest
	id mgtest
}

# Start systemd-udevd and replay the coldplug events, as systemd-udev-trigger.service does.
g_udev_start() {
	/lib/systemd/systemd-udevd --daemon || return 1
	wait_for 10 test -S /run/udev/control || return 1
	udevadm trigger --type=subsystems --action=add
	udevadm trigger --type=devices --action=add
	udevadm settle -t 60
	pgrep -x systemd-udevd >/dev/null && echo "udevd=running"
}

# Start the agent in the background (its stderr goes to $AGENT_LOG); wait for its socket.
g_agent_start() {
	local bin=$MG_BUILD/agent/mynaguard-agent
	[ -x "$bin" ] || { echo "no agent binary $bin"; return 1; }
	rm -f "$SOCKET"
	echo "---- agent start $(cut -d' ' -f1 /proc/uptime)" >>"$AGENT_LOG"
	setsid "$bin" --config "$AGENT_CONF" </dev/null >>"$AGENT_LOG" 2>&1 &
	echo $! >"$AGENT_PID"
	if ! wait_for 30 test -S "$SOCKET"; then
		echo "agent socket $SOCKET did not appear in 30 s"
		kill -0 "$(cat "$AGENT_PID")" 2>/dev/null || echo "agent exited"
		tail -n 20 "$AGENT_LOG"
		return 1
	fi
	echo "agent_pid=$(cat "$AGENT_PID")"
}

g_agent_alive() {
	[ -s "$AGENT_PID" ] && kill -0 "$(cat "$AGENT_PID")" 2>/dev/null &&
	    ! grep -q '^State:.*Z' "/proc/$(cat "$AGENT_PID")/status"
}

g_agent_kill9() {
	local pid
	pid=$(cat "$AGENT_PID" 2>/dev/null) || return 1
	kill -9 "$pid" || return 1
	wait_for 10 sh -c "! kill -0 $pid" && echo "agent $pid killed"
}

# The spool as NDJSON (mynaguard spool show --json), for the host to parse.
g_events() {
	"$MG_BUILD/cli/mynaguard" spool show --json "$SPOOL"
}

# dbus + udisksd, as far as they run in this guest. Prints udisks=yes or udisks=no.
g_udisks_start() {
	mkdir -p /run/dbus
	if [ ! -x /usr/libexec/udisks2/udisksd ] || ! command -v udisksctl >/dev/null ||
	    ! command -v dbus-daemon >/dev/null; then
		echo "udisks=no (not installed)"
		return 0
	fi
	dbus-daemon --system --fork || { echo "udisks=no (dbus-daemon failed)"; return 0; }
	setsid /usr/libexec/udisks2/udisksd </dev/null >"$LOGDIR/udisksd.log" 2>&1 &
	if wait_for 30 sh -c 'udisksctl status >/dev/null 2>&1'; then
		echo "udisks=yes"
	else
		echo "udisks=no (udisksd did not answer)"
		tail -n 5 "$LOGDIR/udisksd.log"
	fi
}

# dd_marker DEV SECTOR MARKER: write one 512-byte sector (MARKER repeated) with O_DIRECT.
# Prints dd's message and rc=N.
g_dd_marker() {
	local dev=$1 sector=$2 marker=$3 rc
	python3 -c 'import sys; m=sys.argv[1].encode(); sys.stdout.buffer.write((m * (512 // len(m) + 1))[:512])' \
	    "$marker" >"$LOGDIR/marker.bin"
	dd if="$LOGDIR/marker.bin" of="$dev" bs=512 seek="$sector" count=1 oflag=direct conv=notrunc,fsync 2>&1
	rc=$?
	echo "rc=$rc"
	return $rc
}

# Copy the logs into the share (the host keeps them with the console log).
g_collect() {
	cp "$AGENT_LOG" "$S/agent.log" 2>/dev/null
	cp "$LOGDIR/udisksd.log" "$S/udisksd.log" 2>/dev/null
	dmesg >"$S/dmesg.txt"
	g_events >"$S/events.ndjson" 2>&1
	true
}
