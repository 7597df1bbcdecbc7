#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Configure, build and test one CI flavour into build-NAME (STYLE 5.9).
# Usage: tools/ci/build.sh NAME [cmake args...]
#   tools/ci/build.sh gcc -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=gcc
#   tools/ci/build.sh asan -DMG_SANITIZE=ON -DCMAKE_C_COMPILER=clang
# Rerunning with the same NAME reuses the tree (incremental build).
set -euo pipefail

if [ $# -lt 1 ] || [ -z "$1" ]; then
	echo "usage: $0 NAME [cmake args...]" >&2
	exit 2
fi
name=$1
shift

cd "$(dirname "$0")/../.."
builddir="build-$name"

gen=()
# An existing tree keeps its generator; CMake refuses to switch.
if [ ! -f "$builddir/CMakeCache.txt" ]; then
	if command -v ninja >/dev/null 2>&1; then
		gen=(-G Ninja)
	else
		gen=(-G "Unix Makefiles")
	fi
fi

# Sanitized runs fail hard and report leaks (STYLE 5.9 job 2). The fuzz
# flavour is sanitized too, so its replay tests get the same settings.
case $name in
*asan* | *fuzz*)
	export ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1
	export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
	echo "build[$name]: ASAN_OPTIONS=$ASAN_OPTIONS"
	echo "build[$name]: UBSAN_OPTIONS=$UBSAN_OPTIONS"
	;;
esac

echo "build[$name]: configure $builddir $*"
cmake -S . -B "$builddir" "${gen[@]}" "$@"
echo "build[$name]: build"
cmake --build "$builddir" -j "$(nproc)"
echo "build[$name]: ctest"
ctest --test-dir "$builddir" --output-on-failure -j2
