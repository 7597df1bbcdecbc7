# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=bash
#
# Guest side of bench/vm/run.sh: shell functions bench.py calls through the VM's command
# channel (". guest.sh; b_xxx ARGS"). The guest runs the host's / read-only with a tmpfs
# overlay and no systemd (tools/vm/vmctl.py); run.sh put uevlat, the configurations and
# the udev rule sets in the share, /mnt/host. MG_BUILD is the build tree (same path as on
# the host). These functions act and print; bench.py computes and reports.
#
# Configurations (b_mode):
#   M  mynaguard: its udev rules, the agent running, authorized_default=0 (the agent sets it)
#   P  plain:     one udev rule RUN+="/sbin/blockdev --setro $devnode", no daemon,
#                 authorized_default=1 on every root hub (as usbcore.authorized_default=1)
#   U  usbguard:  usbguard-daemon with "allow id 46f4:0001", no extra udev rule
#   A  diagnosis: the agent alone, without mynaguard's udev rules (bench.py --diag)

S=/mnt/host
B=/run/mg-bench
AGENT_PIDF=$B/agent.pid
UG_PIDF=$B/usbguard.pid
[ -d "$B" ] || mkdir -p "$B"
[ -p "$B/nap" ] || mkfifo "$B/nap"
exec {NAP_FD}<>"$B/nap"

# Every exec costs 10-200 ms in this guest (TCG, binaries over 9p), so the polling
# below uses bash builtins only; nap is a sleep without a process.
nap() { read -r -t "$1" -u "$NAP_FD" _ || true; }

# wait_for SECONDS CMD...: run CMD (a builtin or a function of builtins) every 20 ms
# until it succeeds; 1 on timeout.
wait_for() {
	local n=$(($1 * 50))
	shift
	while ! "$@" 2>/dev/null; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		nap 0.02
	done
}
has_disk() { compgen -G '/sys/block/sd*' >/dev/null; }
no_disk() { ! compgen -G '/sys/block/sd*' >/dev/null; }
# dead PID: gone, or a zombie nobody reaped yet.
dead() {
	local st
	{ read -r st <"/proc/$1/stat"; } 2>/dev/null || return 0
	st=${st##*) }
	[[ $st == Z* ]]
}

b_setup() {
	mkdir -p /etc/mynaguard /run/mynaguard /var/lib/mynaguard/spool \
	    /var/lib/mynaguard/drop /etc/udev/rules.d /etc/mg-bench /var/log/usbguard
	install -m 0644 "$S/etc/agent.conf" "$S/etc/policy.conf" "$S/etc/ca.pem" \
	    "$S/etc/agent.pem" /etc/mynaguard/
	install -m 0600 "$S/etc/agent.key" /etc/mynaguard/
	install -m 0600 "$S/etc/usbguard-daemon.conf" "$S/etc/usbguard-rules.conf" /etc/mg-bench/
	/lib/systemd/systemd-udevd --daemon || return 1
	wait_for 10 test -S /run/udev/control || return 1
	udevadm trigger --type=subsystems --action=add
	udevadm trigger --type=devices --action=add
	udevadm settle -t 60
	pgrep -x systemd-udevd >/dev/null || return 1
	b_trace_setup || { echo "cannot set up the kernel trace (tracefs, kprobes)"; return 1; }
	echo "udevd=running kernel=$(uname -r) cpus=$(nproc)"
}

# The moments decisions take effect, from the kernel's trace buffer on CLOCK_MONOTONIC
# (uevlat's clock): a kprobe on usb_authorize_device (a write of 1 to a USB device's
# "authorized") and the BLKROSET ioctl (0x125d), with the process that did it.
T=/sys/kernel/tracing
b_trace_setup() {
	mountpoint -q "$T" || mount -t tracefs nodev "$T" || return 1
	echo 0 >"$T/tracing_on"
	echo mono >"$T/trace_clock"
	echo 4096 >"$T/buffer_size_kb"
	grep -q mg_auth "$T/kprobe_events" ||
	    echo 'p:mg_auth usb_authorize_device' >>"$T/kprobe_events" || return 1
	echo 'cmd == 0x125d' >"$T/events/syscalls/sys_enter_ioctl/filter"
	echo 1 >"$T/events/syscalls/sys_enter_ioctl/enable"
	echo 1 >"$T/events/kprobes/mg_auth/enable"
	echo >"$T/trace"
	echo 1 >"$T/tracing_on"
}
b_trace_clear() { echo >"$T/trace"; }
b_trace_dump() {
	local line
	while read -r line; do
		[[ $line == \#* ]] || echo "$line"
	done <"$T/trace"
}

# hubs ATTR VALUE: write ATTR on every root hub.
hubs() {
	local h
	for h in /sys/bus/usb/devices/usb*; do
		echo "$2" >"$h/$1" || return 1
	done
}

b_agent_start() {
	local bin=$MG_BUILD/agent/mynaguard-agent
	rm -f /run/mynaguard/events.sock
	echo "---- start $(cut -d' ' -f1 /proc/uptime)" >>"$B/agent.log"
	setsid "$bin" --config /etc/mynaguard/agent.conf </dev/null >>"$B/agent.log" 2>&1 &
	echo $! >"$AGENT_PIDF"
	wait_for 30 test -S /run/mynaguard/events.sock || { tail -n 20 "$B/agent.log"; return 1; }
}

b_usbguard_start() {
	local n
	# No IPC client ever connects: the first one makes the daemon map libqb's
	# shared-memory rings (device-control.md section 5), which is not its idle state.
	: >"$B/usbguard.log"
	setsid usbguard-daemon -k -c /etc/mg-bench/usbguard-daemon.conf \
	    </dev/null >>"$B/usbguard.log" 2>&1 &
	echo $! >"$UG_PIDF"
	# Ready once it has judged every present device (the root hubs).
	n=$(compgen -G '/sys/bus/usb/devices/usb*' | wc -l)
	wait_for 30 ug_judged "$n" || { tail -n 20 "$B/usbguard.log"; return 1; }
}
ug_judged() {
	local n=0 line
	while read -r line; do
		[[ $line == *"type='Device.Present'"* ]] && n=$((n + 1))
	done <"$B/usbguard.log"
	[ "$n" -ge "$1" ]
}

# stop PIDFILE: SIGTERM, wait (5 s), then SIGKILL.
stop() {
	local pid
	[ -s "$1" ] || return 0
	read -r pid <"$1"
	rm -f "$1"
	kill "$pid" 2>/dev/null || return 0
	wait_for 5 dead "$pid" || kill -9 "$pid" 2>/dev/null
	wait_for 5 dead "$pid"
}

rules() {
	rm -f /etc/udev/rules.d/*.rules
	[ -z "$1" ] || cp "$S/rules/$1/"*.rules /etc/udev/rules.d/
	udevadm control --reload
}

# b_mode M|P|U: switch the configuration (see the top of this file).
b_mode() {
	local ad
	stop "$AGENT_PIDF"
	stop "$UG_PIDF"
	case $1 in
	M | A)
		rules "${1/A/}" || return 1
		b_agent_start || return 1
		;;
	P)
		rules P || return 1
		echo 1 >/sys/module/usbcore/parameters/authorized_default
		hubs authorized_default 1 && hubs interface_authorized_default 1
		;;
	U)
		rules "" || return 1
		echo 0 >/sys/module/usbcore/parameters/authorized_default
		hubs authorized_default 0 && hubs interface_authorized_default 1
		b_usbguard_start || return 1
		;;
	*) return 2 ;;
	esac
	read -r ad </sys/bus/usb/devices/usb1/authorized_default
	echo "mode=$1 authorized_default=$ad rules=$(echo /etc/udev/rules.d/*)"
}

# b_arm NAME disk|usb [uevlat options]: start a uevlat; return once it listens.
b_arm() {
	local name=$1
	shift
	b_trace_clear
	rm -f "$B/$name.ready" "$B/$name.json"
	setsid "$S/uevlat" "$@" --ready "$B/$name.ready" </dev/null >"$B/$name.json" 2>&1 &
	echo $! >"$B/$name.pid"
	wait_for 10 test -e "$B/$name.ready"
}

# b_result NAME...: wait for each uevlat to finish (15 s), print its line.
b_result() {
	local name pid
	for name in "$@"; do
		read -r pid <"$B/$name.pid"
		wait_for 15 dead "$pid" || { kill -9 "$pid"; echo "{\"error\":\"uevlat $name hung\"}"; }
		cat "$B/$name.json"
	done
}

# b_disk: wait (20 s) until a USB disk is there and udev is done with it; print it.
b_disk() {
	local d ro
	wait_for 20 has_disk || { echo "no disk"; return 1; }
	udevadm settle -t 30
	for d in /sys/block/sd*; do
		read -r ro <"$d/ro"
		echo "${d##*/} ro=$ro"
	done
}

# b_gone: wait (20 s) until no sd disk is left and udev is idle.
b_gone() {
	wait_for 20 no_disk || { echo "disk still there"; return 1; }
	udevadm settle -t 30
}

b_pid() {
	case $1 in
	agent) cat "$AGENT_PIDF" ;;
	usbguard) cat "$UG_PIDF" ;;
	*) return 1 ;;
	esac
}

# b_status agent|usbguard: the memory lines of /proc/PID/status and smaps_rollup
# (Pss: shared pages divided among their users; Private_*: pages only it maps).
b_status() {
	local pid k v
	pid=$(b_pid "$1") || return 1
	while read -r k v; do
		case $k in
		VmRSS:|VmHWM:|VmSize:|RssAnon:|RssFile:|RssShmem:|Threads:) echo "$k $v" ;;
		esac
	done <"/proc/$pid/status"
	while read -r k v; do
		case $k in
		Pss:|Pss_Anon:|Pss_File:|Private_Clean:|Private_Dirty:) echo "$k $v" ;;
		esac
	done <"/proc/$pid/smaps_rollup"
}

# b_maps agent|usbguard: "RSS ANON NAME" in kB per mapped file ([heap], [stack] and
# [anon] too; ANON counts a library's copied-on-write pages), largest RSS first.
b_maps() {
	local pid
	pid=$(b_pid "$1") || return 1
	awk '/^[0-9a-f]+-[0-9a-f]+ / { name = (NF >= 6) ? $6 : "[anon]" }
	    /^Rss:/ { rss[name] += $2 }
	    /^Anonymous:/ { anon[name] += $2 }
	    END { for (n in rss) if (rss[n] > 0) printf "%d %d %s\n", rss[n], anon[n], n }' \
	    "/proc/$pid/smaps" | sort -rn
}

# ctxsw PID: "TID voluntary nonvoluntary" for every thread (builtins only).
ctxsw() {
	local t k v vol inv
	for t in /proc/"$1"/task/*; do
		vol=0 inv=0
		while read -r k v; do
			case $k in
			voluntary_ctxt_switches:) vol=$v ;;
			nonvoluntary_ctxt_switches:) inv=$v ;;
			esac
		done <"$t/status"
		echo "${t##*/} $vol $inv"
	done
}

# b_idle agent|usbguard SECONDS: context switches of every thread over SECONDS of
# nothing happening ("before" lines, then "after" lines).
b_idle() {
	local pid
	pid=$(b_pid "$1") || return 1
	ctxsw "$pid" | sed 's/^/before /'
	nap "$2"
	ctxsw "$pid" | sed 's/^/after /'
}

# b_strace agent|usbguard SECONDS: every system call of every thread over SECONDS.
b_strace() {
	local pid
	pid=$(b_pid "$1") || return 1
	timeout -s INT "$2" strace -f -tt -p "$pid" -o "$B/strace.$1" >/dev/null 2>&1
	cat "$B/strace.$1"
}

b_logs() {
	tail -n "${1:-30}" "$B/agent.log" "$B/usbguard.log" 2>/dev/null
}
