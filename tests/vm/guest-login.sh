# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=bash
#
# Guest side of tests/vm/login.py (scenario L1, FIDO2 login through /dev/hidraw): shell
# functions the host calls through the command channel, sourced after guest-lib.sh
# (". guest-lib.sh; . guest-login.sh; gl_xxx ARGS"). Software keys are
# tests/softkey/softkey-uhid daemons from MG_BUILD: each creates a UHID device (BUS_USB,
# usage page 0xF1D0), so libfido2 finds it through udev and /dev/hidrawN exactly as it
# finds a real key. As in guest-lib.sh, nothing here judges: the host does.
# tools/demo-vm.py uses the same functions with GL_POLICY (where gl_install puts the login
# policy), GL_SERVICE (the PAM service's name) and GL_SOFTKEY (the directory of softkey-uhid
# and skctl) set; unset, they are what login.py expects.

LD=/run/mg-login
LPOLICY=${GL_POLICY:-/etc/mynaguard/login-policy.conf}
LSERVICE=${GL_SERVICE:-mynaguard-e2e}
SK=${GL_SOFTKEY:-$MG_BUILD/tests/softkey}
mkdir -p "$LD"

# uhid (a module in Debian's kernel) and hidraw (CONFIG_HIDRAW=y: part of hid.ko).
gl_modules() {
	modprobe uhid 2>&1
	modprobe hid 2>&1
	wait_for 10 test -c /dev/uhid
	[ -c /dev/uhid ] && echo "uhid=yes" || echo "uhid=no"
	[ -d /sys/class/hidraw ] && echo "hidraw=yes" || echo "hidraw=no"
}

# The login policy and the PAM service file from the share (written by login.py), the
# user, and the module's tally and counter directories. Prints what it installed.
gl_install() {
	install -m 0644 -o root -g root "$S/login/policy.conf" "$LPOLICY" || return 1
	install -m 0644 -o root -g root "$S/login/pam-service" "/etc/pam.d/$LSERVICE" || return 1
	mkdir -p "$LD/tally" "$LD/counters"
	chmod 0700 "$LD/tally" "$LD/counters"
	id staff1 >/dev/null 2>&1 || useradd -M -N -d /nonexistent -s /bin/sh staff1
	stat -c 'policy %U:%G %a' "$LPOLICY"
	id staff1
}

# hidraw nodes: "hidrawN HID_ID HID_NAME" per line.
gl_hidraw() {
	local d id name
	for d in /sys/class/hidraw/hidraw*; do
		[ -e "$d" ] || continue
		id=$(sed -n 's/^HID_ID=//p' "$d/device/uevent")
		name=$(sed -n 's/^HID_NAME=//p' "$d/device/uevent")
		echo "${d##*/} $id $name"
	done
}

# gl_key_init NAME [PIN]: a fresh software key's state file.
gl_key_init() {
	rm -f "$LD/$1.state" "$LD/$1.state.lock"
	"$SK/skctl" init "$LD/$1.state" ${2:+--pin "$2"}
}

# 0 when a hidraw node not in $GL_BEFORE exists.
gl_new_node() {
	local x
	for x in $(gl_hidraw | cut -d' ' -f1); do
		echo "$GL_BEFORE" | grep -qx "$x" || return 0
	done
	return 1
}

# gl_key_plug NAME: start softkey-uhid NAME (the key is "plugged in"); wait for its ready
# file and for udev; print the hidraw nodes that appeared ("new=hidrawN ...").
gl_key_plug() {
	local n=$1 before after x
	before=$(gl_hidraw | cut -d' ' -f1)
	rm -f "$LD/$n.ready"
	echo "---- plug $(cut -d' ' -f1 /proc/uptime)" >>"$LD/$n.log"
	setsid "$SK/softkey-uhid" "$LD/$n.state" --ready-file "$LD/$n.ready" \
	    </dev/null >>"$LD/$n.log" 2>&1 &
	echo $! >"$LD/$n.pid"
	if ! wait_for 20 test -e "$LD/$n.ready"; then
		echo "softkey-uhid $n: no ready file after 20 s"
		kill -0 "$(cat "$LD/$n.pid")" 2>/dev/null || echo "softkey-uhid $n exited"
		tail -n 10 "$LD/$n.log"
		return 1
	fi
	GL_BEFORE=$before
	wait_for 10 gl_new_node
	udevadm settle -t 20
	after=$(gl_hidraw)
	for x in $(echo "$after" | cut -d' ' -f1); do
		echo "$before" | grep -qx "$x" || echo "new=$x $(echo "$after" | grep "^$x " | cut -d' ' -f2-)"
	done
	for x in $(echo "$after" | cut -d' ' -f1); do
		[ -c "/dev/$x" ] && echo "node=/dev/$x"
	done
	echo "pid=$(cat "$LD/$n.pid")"
}

# gl_key_unplug NAME: stop its daemon (SIGTERM: UHID_DESTROY); wait until it is gone.
gl_key_unplug() {
	local pid
	pid=$(cat "$LD/$1.pid" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null
	wait_for 10 sh -c "! kill -0 $pid" || { echo "softkey-uhid $1 ($pid) did not exit"; return 1; }
	rm -f "$LD/$1.pid"
	udevadm settle -t 20
	echo "unplugged $1"
}

gl_key_alive() {
	[ -s "$LD/$1.pid" ] && kill -0 "$(cat "$LD/$1.pid")" 2>/dev/null
}

# gl_pam USER PIN: one login through the test service, the PIN on stdin (pamtester reads
# the conversation from it). Prints pamtester's output and rc=N.
gl_pam() {
	local rc
	printf '%s\n' "$2" | pamtester -v "$LSERVICE" "$1" authenticate 2>&1
	rc=${PIPESTATUS[1]}
	echo "rc=$rc"
	return "$rc"
}

# gl_pam_killed USER PIN WAIT_S: a login whose key never gets touched (no_touch=1): start
# pamtester, wait for its PIN prompt and then WAIT_S seconds more (it is then inside the
# touch wait, which lasts key-timeout), send it SIGTERM. Prints its output and rc=N
# (143: killed by the signal while still waiting).
gl_pam_killed() {
	local pid rc fd
	printf '%s\n' "$2" >"$LD/pin.txt"
	: >"$LD/killed.out"
	pamtester -v "$LSERVICE" "$1" authenticate <"$LD/pin.txt" >"$LD/killed.out" 2>&1 &
	pid=$!
	wait_for 20 grep -q 'PIN' "$LD/killed.out" || echo "no PIN prompt seen in 20 s"
	sleep "$3"
	if kill -0 "$pid" 2>/dev/null; then
		# Waiting on the key: asleep, with the key's hidraw node open.
		for fd in /proc/"$pid"/fd/*; do
			readlink "$fd"
		done | grep '^/dev/hidraw' | sort -u | tr '\n' ' ' >"$LD/killed.fds"
		echo "before the signal: open $(cat "$LD/killed.fds")state=$(awk '/^State:/ { print $2 }' "/proc/$pid/status")"
		echo "sending SIGTERM to pamtester $pid"
		kill -TERM "$pid"
	else
		echo "pamtester $pid had already ended"
	fi
	wait "$pid"
	rc=$?
	rm -f "$LD/pin.txt"
	cat "$LD/killed.out"
	echo "rc=$rc"
}

# Logs into the share for a kept work directory.
gl_collect() {
	mkdir -p "$S/login-logs"
	cp "$LD"/*.log "$S/login-logs/" 2>/dev/null
	true
}
