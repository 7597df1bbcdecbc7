#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
#
# tests/pkg/run.sh DEBDIR [--verbose]
#
# Install, upgrade and purge of the Debian packages on a fresh Debian 12 root (issue 7):
# boots tools/vm/debroot.sh's root under systemd in QEMU (tools/vm/run.sh VM_ROOTFS=debian;
# every boot starts from the same cached tree) and checks, with plain dpkg (the VM has no
# network): the three packages install with no missing dependency, pam-auth-update puts
# pam_mynaguard.so into common-auth, the services start once the certificates are there,
# a hot-plugged USB stick is read-only, an upgrade keeps the administrator's conffile edits
# and restarts the services, and purge removes state, units, rules and restores common-auth
# byte for byte. tests/pkg/README.md lists every check.
#
# DEBDIR holds mynaguard-agent_*.deb, libpam-mynaguard_*.deb and mynaguard-collector_*.deb
# (tools/pkg/build.sh OUTDIR). The upgrade packages are made here by repacking them with
# the version VERSION+test1 (and one line more in two conffiles).
#
# Prints one ok/FAIL line per check, the time of each phase and "N passed, N failed" last.
# Exit status: 0 all passed, 1 something failed, 77 QEMU cannot run here, 2 usage.
# Env: VM_CACHE (default /var/tmp/mynaguard-vm), KEEP=1 keeps the work directory (kept
#      anyway when something failed), PKGTEST_BUDGET seconds for the VM part (default 270).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
VM=$SRC/tools/vm
CACHE=${VM_CACHE:-/var/tmp/mynaguard-vm}
export VM_CACHE=$CACHE

usage() { echo "usage: $0 DEBDIR [--verbose]" >&2; exit 2; }
skip() { echo "pkgtest: SKIP: $*"; echo "0 passed, 0 failed"; exit 77; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
t_all=$(now)

[ $# -ge 1 ] || usage
DEBDIR=$1
shift
pyargs=()
while [ $# -gt 0 ]; do
	case $1 in
	--verbose) pyargs+=(--verbose); shift ;;
	*) usage ;;
	esac
done
[ -d "$DEBDIR" ] || { echo "pkgtest: $DEBDIR: no such directory" >&2; exit 2; }
DEBDIR=$(cd "$DEBDIR" && pwd)
debs=()
for p in mynaguard-agent libpam-mynaguard mynaguard-collector; do
	mapfile -t found < <(find "$DEBDIR" -maxdepth 1 -name "${p}_*.deb" | sort)
	[ ${#found[@]} = 1 ] || {
		echo "pkgtest: need exactly one ${p}_*.deb in $DEBDIR, found ${#found[@]}" >&2
		exit 2
	}
	debs+=("${found[0]}")
done

# ---- can QEMU run here? -------------------------------------------------------------------
[ "$(id -u)" = 0 ] || skip "needs root (debootstrap, 9p export of the root tree)"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
printf '%s\n' '{"execute":"qmp_capabilities"}' '{"execute":"quit"}' |
	timeout 20 qemu-system-x86_64 -machine none -accel tcg -display none -nodefaults \
	-no-user-config -S -qmp stdio >/dev/null 2>&1 || skip "qemu-system-x86_64 -accel tcg does not start"
for t in dpkg-deb sfdisk mke2fs openssl python3; do
	command -v "$t" >/dev/null || { echo "pkgtest: $t is needed on the host" >&2; exit 1; }
done

# ---- kernel, initramfs, root tree (cached) ------------------------------------------------
t=$(now)
if [ ! -e "$CACHE/initrd-hostroot.cpio.gz" ] || [ ! -e "$CACHE/vmlinuz" ] ||
	[ "$VM/prepare.sh" -nt "$CACHE/initrd-hostroot.cpio.gz" ] ||
	[ "$VM/initramfs-hostroot.sh" -nt "$CACHE/initrd-hostroot.cpio.gz" ]; then
	"$VM/prepare.sh" "$CACHE" >&2 || skip "tools/vm/prepare.sh failed (no apt or network?)"
fi
echo "# phase prepare (kernel, initramfs): $(since "$t") s"
t=$(now)
DEBROOT=$("$VM/debroot.sh" 2> >(sed 's/^/# /' >&2) | tail -n 1) ||
	skip "tools/vm/debroot.sh failed (no network to deb.debian.org?)"
[ -f "$DEBROOT/.mynaguard-debroot" ] || skip "tools/vm/debroot.sh gave no root"
echo "# phase debroot ($DEBROOT, $(du -sh --one-file-system "$DEBROOT" | cut -f1)): $(since "$t") s"

# ---- work directory -----------------------------------------------------------------------
# shellcheck source=../../tools/vm/workdir.sh
. "$VM/workdir.sh"
T=$(mktemp -d /tmp/mynaguard-pkgtest.XXXXXX)
chmod 755 "$T"
rc=1
# shellcheck disable=SC2317  # called through the EXIT trap
cleanup() {
	vm_kill_qemu "$T"
	if [ "$rc" = 0 ] && [ "${KEEP:-0}" != 1 ]; then
		rm -rf "$T"
	else
		echo "# work directory kept: $T (console: $T/vm/console.log)"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
S=$T/share
mkdir -p "$S/v1" "$S/v2" "$S/pki" "$T/img" "$T/vm" "$T/repack"
t=$(now)

# Version 1: the packages as given. Version 2: the same, repacked as VERSION+test1 with an
# exact "(= VERSION)" dependency on a sibling rewritten, and one line more in agent.conf
# (which the test edits: dpkg must keep the edit, the new one lands as .dpkg-dist) and in
# collector.conf (not edited: it must be replaced).
cp "${debs[@]}" "$S/v1/"
for deb in "${debs[@]}"; do
	x=$T/repack/$(basename "$deb" .deb)
	dpkg-deb -R "$deb" "$x"
	old=$(sed -n 's/^Version: //p' "$x/DEBIAN/control")
	new=$old+test1
	sed -i -e "s/^Version: .*/Version: $new/" -e "s/(= $old)/(= $new)/g" "$x/DEBIAN/control"
	for f in etc/mynaguard/agent.conf etc/mynaguard/collector.conf; do
		[ -f "$x/$f" ] || continue
		echo "# pkgtest: line added in $new" >>"$x/$f"
		if [ -f "$x/DEBIAN/md5sums" ]; then
			sed -i "\\|  $f\$|d" "$x/DEBIAN/md5sums"
			(cd "$x" && md5sum "$f") >>"$x/DEBIAN/md5sums"
		fi
	done
	pkg=$(sed -n 's/^Package: //p' "$x/DEBIAN/control")
	dpkg-deb --root-owner-group -b "$x" "$S/v2/${pkg}_${new}_$(dpkg-deb -f "$deb" Architecture).deb" >/dev/null
	echo "$old" >"$S/v1/version"
	echo "$new" >"$S/v2/version"
done
rm -rf "$T/repack"

# Certificates: a demonstration town CA, the terminal's client certificate and the
# collector's server certificate for localhost (docs/certificates.md).
"$SRC/tools/mkcerts.sh" ca "$T/pki" >/dev/null
"$SRC/tools/mkcerts.sh" terminal "$T/pki" pkgvm >/dev/null
"$SRC/tools/mkcerts.sh" server "$T/pki" localhost >/dev/null
cp "$T/pki/ca.pem" "$S/pki/ca.pem"
cp "$T/pki/pkgvm.pem" "$S/pki/agent.pem"
cp "$T/pki/pkgvm.key" "$S/pki/agent.key"
cp "$T/pki/localhost.pem" "$S/pki/collector.pem"
cp "$T/pki/localhost.key" "$S/pki/collector.key"

# A USB stick: MBR, one ext2 partition at sector 2048 (as in tests/vm/run-e2e.sh).
mkdir -p "$T/fsroot"
echo "mynaguard package test medium" >"$T/fsroot/readme.txt"
truncate -s 16M "$T/img/stick.img"
printf 'label: dos\nstart=2048, type=83\n' | sfdisk -q "$T/img/stick.img"
truncate -s 15M "$T/part.img"
mke2fs -q -F -t ext2 -L MGPKG -d "$T/fsroot" "$T/part.img"
dd if="$T/part.img" of="$T/img/stick.img" bs=1M seek=1 conv=notrunc status=none
rm -f "$T/part.img"
cp "$SRC/tests/vm/guest-helper.py" "$S/guest-helper.py"
echo "# phase host setup (repack $(cat "$S/v1/version") -> $(cat "$S/v2/version"), certificates, stick image): $(since "$t") s"

set +e
timeout --kill-after=10 "$(( ${PKGTEST_BUDGET:-270} + 60 ))" \
	python3 "$HERE/pkgtest.py" --work "$T" --cache "$CACHE" --debroot "$DEBROOT" \
	--started "$t_all" --budget "${PKGTEST_BUDGET:-270}" "${pyargs[@]}"
rc=$?
set -e
[ "$rc" = 0 ] || rc=1
exit "$rc"
