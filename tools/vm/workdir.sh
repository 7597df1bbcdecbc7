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
