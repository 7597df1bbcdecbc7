#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# cppcheck gate (STYLE 5.9 job 3) over exactly what CMake compiles, with the
# same defines and include paths, read from compile_commands.json.
# Usage: tools/ci/cppcheck.sh [BUILD_DIR]   (default: build; configure first,
# e.g. tools/ci/build.sh gcc, then tools/ci/cppcheck.sh build-gcc)
set -euo pipefail

cd "$(dirname "$0")/../.."
# cppcheck matches -i against paths relative to the current directory.
builddir=$(realpath -m --relative-to=. "${1:-build}")
db="$builddir/compile_commands.json"

if [ ! -f "$db" ]; then
	echo "cppcheck: $db not found; configure $builddir first" >&2
	exit 1
fi

echo "cppcheck: $(cppcheck --version) on $db"
# missingIncludeSystem: cppcheck is not given the system include path on
# purpose (it would parse all of glibc); it knows libc from its own std.cfg.
# Only third-party code fetched into _deps is excluded.
cppcheck --enable=warning,portability --error-exitcode=1 --inline-suppr \
    --std=c11 -q -j "$(nproc)" \
    --project="$db" \
    -i"$builddir/_deps" \
    --suppress=missingIncludeSystem
echo "cppcheck: no findings"
