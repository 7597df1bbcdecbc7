# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=bash
#
# Sourced by the scripts that boot a VM in a work directory (tests/vm/run-e2e.sh,
# bench/vm/run.sh): stop that VM's QEMU, and only it.

# vm_kill_qemu WORKDIR: kill the QEMU whose pid is in WORKDIR/vm/qemu.pid, if its command
# line names WORKDIR (a stale pid may belong to someone else by now).
vm_kill_qemu() {
	local pid
	[ -s "$1/vm/qemu.pid" ] || return 0
	pid=$(cat "$1/vm/qemu.pid")
	if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$1/"; then
		kill -9 "$pid" 2>/dev/null || true
	fi
}

# vm_guest_agent SRC PKIDIR ETCDIR AGENT_ID HOSTNAME: a town CA and a terminal certificate
# (tools/mkcerts.sh) in PKIDIR, and the guest's /etc/mynaguard files in ETCDIR: ca.pem,
# agent.pem, agent.key and an agent.conf with no collector URL (events stay in the spool).
vm_guest_agent() {
	"$1/tools/mkcerts.sh" ca "$2" >/dev/null &&
	    "$1/tools/mkcerts.sh" terminal "$2" "$4" >/dev/null || return 1
	cp "$2/ca.pem" "$3/ca.pem" && cp "$2/$4.pem" "$3/agent.pem" &&
	    cp "$2/$4.key" "$3/agent.key" || return 1
	cat >"$3/agent.conf" <<CONF
# A VM guest's agent: no collector URL, events stay in the spool.
[Agent]
HostName=$5
[Collector]
CA=/etc/mynaguard/ca.pem
Certificate=/etc/mynaguard/agent.pem
Key=/etc/mynaguard/agent.key
[Spool]
Directory=/var/lib/mynaguard/spool
[Intake]
Socket=/run/mynaguard/events.sock
DropDirectory=/var/lib/mynaguard/drop
[Policy]
Path=/etc/mynaguard/policy.conf
CONF
}
