#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# tools/pkg/build.sh OUTDIR [--lintian]
#
# Builds the Debian binary packages of packaging/debian from a clean copy of
# the source tree (git ls-files -co --exclude-standard) in OUTDIR/src, with
# packaging/debian as OUTDIR/src/debian, and leaves the .deb, .changes and
# .buildinfo files in OUTDIR (the build log in OUTDIR/build.log).  The tests
# are not run (DEB_BUILD_OPTIONS=nocheck; tools/test.sh runs them).  With
# --lintian, lintian checks the .changes and any E: or W: tag fails.
# Nothing is written into the source tree, so several builds may run at
# once, each with its own OUTDIR.
set -eu

usage() {
	echo "usage: tools/pkg/build.sh OUTDIR [--lintian]" >&2
	exit 2
}

[ $# -ge 1 ] || usage
out=$1
shift
lint=0
for a in "$@"; do
	case $a in
	--lintian) lint=1 ;;
	*) usage ;;
	esac
done

root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
# Inside the tree only where git ignores it (build-demo/debs, say): the
# clean copy must not contain itself.
case $out/ in
"$root"/*)
	if ! (cd "$root" && git check-ignore -q "$out/"); then
		echo "build.sh: OUTDIR must be outside the source tree or in an" \
		    "ignored directory (build-*/)" >&2
		exit 2
	fi
	;;
esac

t_all=$(date +%s)
step() {
	t_step=$(date +%s)
	echo "== $1"
}
done_step() {
	echo "== $1: $(($(date +%s) - t_step)) s"
}

step "build dependencies"
# -P nocheck: the test-only ones (libcmocka-dev) are not needed here.
if ! dpkg-checkbuilddeps -P nocheck "$root/packaging/debian/control"; then
	echo "build.sh: install the missing build dependencies first" >&2
	exit 1
fi
done_step "build dependencies"

step "copy the source tree to $out/src"
rm -rf "$out/src"
mkdir -p "$out/src"
# Tracked and untracked files that are not ignored (no build directories);
# a tracked file deleted in the working tree is left out.
(cd "$root" && git ls-files -co --exclude-standard -z |
	xargs -0 -r sh -c 'for f; do
		if [ -e "$f" ] || [ -L "$f" ]; then printf "%s\0" "$f"; fi
	done' sh |
	tar --null -T - -cf -) | tar -C "$out/src" -xf -
rm -rf "$out/src/debian"
cp -a "$out/src/packaging/debian" "$out/src/debian"
done_step "copy the source tree"

step "dpkg-buildpackage -us -uc -b"
rm -f "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
# dpkg-buildpackage writes its results next to src/, that is into OUTDIR.
if ! (cd "$out/src" &&
    DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" DEB_BUILD_PROFILES=nocheck \
    dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1; then
	tail -n 40 "$out/build.log" >&2
	echo "build.sh: dpkg-buildpackage failed (log: $out/build.log)" >&2
	exit 1
fi
done_step "dpkg-buildpackage"
ls -l "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo

rc=0
if [ "$lint" = 1 ]; then
	step "lintian"
	lintian --display-info --pedantic "$out"/*.changes \
		>"$out/lintian.log" 2>&1 || true
	cat "$out/lintian.log"
	if grep -Eq '^[EW]: ' "$out/lintian.log"; then
		echo "build.sh: lintian reported errors or warnings" >&2
		rc=1
	fi
	done_step "lintian"
fi

echo "== total: $(($(date +%s) - t_all)) s"
exit "$rc"
