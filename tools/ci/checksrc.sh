#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Source hygiene gate (STYLE 5.1, 5.4, 5.10; curl checksrc): banned calls,
# SPDX first line, no "../" includes, no cleanup attribute, no alloca.
# Usage: tools/ci/checksrc.sh   (from anywhere inside the repository)
set -euo pipefail

root=$(git rev-parse --show-toplevel)
cd "$root"

# Tracked plus untracked-but-not-ignored files, so new files are checked
# before they are committed. Build trees are skipped even when no
# .gitignore hides them: CMake drops its own .c files in there.
mapfile -t files < <(git -c safe.directory="$root" ls-files -co \
    --exclude-standard -- '*.c' '*.h' |
    grep -Ev '^(build[^/]*|[^/]*/_deps|_deps)/' | sort -u || true)

if [ "${#files[@]}" -eq 0 ]; then
	echo "checksrc: no .c/.h files found" >&2
	exit 1
fi

fail=0
report() {
	# $1: what was checked, $2: the findings (empty when clean).
	if [ -n "$2" ]; then
		printf '%s\n' "$2"
		echo "checksrc: FAIL: $1"
		fail=1
	else
		echo "checksrc: ok: $1"
	fi
}

# grep exits 1 when nothing matches, which is the good case here.
g() { grep -HnE "$@" -- "${files[@]}" || true; }

banned=(strcpy strcat sprintf vsprintf gets atoi atol strtok system popen)
re=$(IFS='|'; echo "${banned[*]}")
report "banned functions (${banned[*]})" "$(g -o "\\b($re)\\s*\\(")"

report "SPDX header on line 1" "$(for f in "${files[@]}"; do
	head -n 1 -- "$f" | grep -q '^/\* SPDX-License-Identifier: ' ||
	    echo "$f:1: first line is not '/* SPDX-License-Identifier: ... */'"
done)"

report 'no #include "../" (dependencies point down, STYLE 5.1)' \
    "$(g '^[[:space:]]*#[[:space:]]*include[[:space:]]*"\.\./')"
report 'no __attribute__((cleanup)) (STYLE 5.4)' \
    "$(g '__attribute__[[:space:]]*\(\([[:space:]]*(__)?cleanup')"
report 'no alloca() (STYLE 5.4)' "$(g '\b(__builtin_)?alloca[[:space:]]*\(')"

echo "checksrc: checked ${#files[@]} files"
exit "$fail"
