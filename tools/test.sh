#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The full test run: installs the build dependencies, then runs every CI gate
# that works on one machine (STYLE 5.9) and prints a summary. Every step runs
# even when an earlier one failed, so one run shows everything; the exit code
# is non-zero if any step failed. CI reads the last line, "N passed, N failed".
#
# Usage: sudo tools/test.sh      (or as root; root is needed only for apt)
# Environment:
#   MG_FUZZ_SECONDS  seconds per fuzz target (default 20)
#   CI               when set, always run apt-get even if all is installed
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)

fuzz_seconds=${MG_FUZZ_SECONDS:-20}
case $fuzz_seconds in
'' | *[!0-9]*)
	echo "MG_FUZZ_SECONDS must be a whole number of seconds" >&2
	exit 2
	;;
esac

packages=(build-essential cmake ninja-build pkg-config clang
	libclang-rt-14-dev cppcheck pmccabe libudev-dev libfido2-dev libssl-dev
	libcurl4-openssl-dev libcmocka-dev usbguard python3 git
	libmicrohttpd-dev libgnutls28-dev libsqlite3-dev libsystemd-dev curl
	openssl python3-jsonschema sqlite3 util-linux postgresql libpq-dev
	udev umockdev gir1.2-umockdev-1.0 python3-gi dbus python3-dbus
	qemu-system-x86 busybox-static cpio kmod zstd xz-utils
	libcbor-dev libpam0g-dev libpam-wrapper libpamtest0-dev pamtester
	libpam-u2f gettext locales fido2-tools
	chromium libnss3-tools fonts-ipafont-gothic jq
	debhelper dpkg-dev pkgconf lintian debootstrap man-db)
# The review page's test drives Chromium with puppeteer-core (npm): Debian's
# nodejs and npm, unless a node with npm is installed already (NodeSource's
# nodejs conflicts with Debian's npm package).
if ! command -v npm >/dev/null 2>&1; then
	packages+=(nodejs npm)
fi

step_deps() {
	local missing=() p
	for p in "${packages[@]}"; do
		if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != installed ]; then
			missing+=("$p")
		fi
	done
	# Local reruns stay fast; CI always refreshes so images cannot drift.
	if [ ${#missing[@]} -eq 0 ] && [ -z "${CI:-}" ]; then
		echo "deps: all ${#packages[@]} packages installed, skipping apt-get"
		ja_locale
		return $?
	fi
	echo "deps: missing: ${missing[*]:-none}${CI:+ (CI set: running apt-get anyway)}"
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: apt-get needs root: run 'sudo $0'" >&2
		return 1
	fi
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y \
	    --no-install-recommends "${packages[@]}"
	ja_locale
}

# The PAM tests assert the Japanese messages: they need a ja_JP.UTF-8
# locale, which a fresh Debian does not have.
ja_locale() {
	if locale -a 2>/dev/null | grep -qix 'ja_JP.utf8'; then
		return 0
	fi
	echo "deps: generating the ja_JP.UTF-8 locale"
	localedef -i ja_JP -f UTF-8 ja_JP.UTF-8
}

step_checksrc() {
	tools/ci/checksrc.sh
}

step_gcc() {
	# Optimised, with _FORTIFY_SOURCE: the build the packages ship, and
	# the one where gcc's frame-size and flow warnings see inlining.
	tools/ci/build.sh gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DCMAKE_C_COMPILER=gcc
}

# clang, so LeakSanitizer and UBSan share one runtime.
step_asan() {
	tools/ci/build.sh asan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DCMAKE_C_COMPILER=clang -DMG_SANITIZE=ON
}

# End to end in a VM (QEMU TCG, Debian's kernel): real USB hot-plug,
# udevd, the agent and the udev helper from build-gcc (tests/vm/README.md).
step_vm() {
	tests/vm/run-e2e.sh "$root/build-gcc"
}

# The Debian packages (packaging/debian), built from a clean copy of the
# tree; lintian must report no error and no warning.
step_pkg() {
	tools/pkg/build.sh "$root/build-pkg" --lintian
}

# The units' sandbox beside Debian's usbguard.service: no more exposed.
step_units() {
	bench/units/run.sh "$root/build-gcc"
}

# Install, upgrade and purge of those packages on a fresh Debian 12 root
# booted under systemd in the VM (tests/pkg/README.md).
step_pkgtest() {
	tests/pkg/run.sh "$root/build-pkg"
}

step_cppcheck() {
	tools/ci/cppcheck.sh build-gcc
}

step_complexity() {
	tools/ci/complexity.sh
}

# Run one libFuzzer binary on a scratch copy of its corpus: libFuzzer writes
# new inputs into its first corpus directory, and the seeds in git must only
# change by hand.
run_fuzzer() {
	local bin=$1 name tmp rc=0
	name=$(basename "$bin")
	name=${name#fuzz_}
	# Called under "||", where set -e is off: check each command.
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/mg-fuzz-$name.XXXXXX") || return 1
	mkdir -p "$tmp/corpus" "$tmp/artifacts" || return 1
	if [ -d "tests/fuzz/corpus/$name" ]; then
		cp -R "tests/fuzz/corpus/$name/." "$tmp/corpus/" || return 1
	else
		echo "fuzz[$name]: no seeds in tests/fuzz/corpus/$name"
	fi
	echo "fuzz[$name]: ${fuzz_seconds}s on $tmp/corpus"
	# timeout(1) backs up -max_total_time if the target wedges.
	timeout --kill-after=10 $((fuzz_seconds + 120)) "$bin" \
	    -max_total_time="$fuzz_seconds" -timeout=10 -print_final_stats=1 \
	    -artifact_prefix="$tmp/artifacts/" "$tmp/corpus" || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "fuzz[$name]: FAIL (exit $rc); crash inputs kept in" \
		    "$tmp/artifacts/ (add them to the corpus with the fix)"
		return 1
	fi
	rm -rf "$tmp"
	echo "fuzz[$name]: ok"
}

step_fuzz() {
	local bins=() bin fail=0
	tools/ci/build.sh fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DCMAKE_C_COMPILER=clang -DMG_FUZZ=ON
	mapfile -t bins < <(find build-fuzz -type f -perm -u+x -name 'fuzz_*' \
	    ! -name 'fuzz_replay_*' ! -path '*/CMakeFiles/*' | sort)
	if [ ${#bins[@]} -eq 0 ]; then
		echo "fuzz: no fuzz_* binaries were built" >&2
		return 1
	fi
	for bin in "${bins[@]}"; do
		run_fuzzer "$bin" || fail=1
	done
	return "$fail"
}

# --- driver -----------------------------------------------------------------
steps=(deps checksrc gcc vm pkg units pkgtest asan cppcheck complexity fuzz)
results=()
durations=()
npass=0
nfail=0

for s in "${steps[@]}"; do
	echo
	echo "==== $s ===="
	start=$SECONDS
	# A subshell with errexit outside any "if"/"||" context, so set -e still
	# stops a step at its first failing command, but not the whole run.
	set +e
	(
		set -e
		cd "$root"
		"step_$s"
	)
	rc=$?
	set -e
	durations+=($((SECONDS - start)))
	if [ "$rc" -eq 0 ]; then
		results+=(PASS)
		npass=$((npass + 1))
	else
		results+=(FAIL)
		nfail=$((nfail + 1))
	fi
	echo "==== $s: ${results[-1]} ===="
done

echo
printf '%-12s %-6s %8s\n' STEP RESULT SECONDS
for i in "${!steps[@]}"; do
	printf '%-12s %-6s %8s\n' "${steps[$i]}" "${results[$i]}" \
	    "${durations[$i]}"
done
echo "$npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
