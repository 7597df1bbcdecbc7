#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Function size gate (STYLE 5.1; curl top-length/top-complexity with
# libfido2's numbers): fail when a function has McCabe complexity > 20 or is
# longer than 100 lines, unless tools/ci/complexity-allow.txt lists it as
# "path:function  # issue link". tests/ is exempt: test bodies may be long.
# Usage: tools/ci/complexity.sh   (from anywhere inside the repository)
set -euo pipefail

max_complexity=20
max_lines=100

root=$(git rev-parse --show-toplevel)
cd "$root"
allow=tools/ci/complexity-allow.txt

mapfile -t files < <(git -c safe.directory="$root" ls-files -co \
    --exclude-standard -- '*.c' |
    grep -Ev '^(tests|build[^/]*|_deps)/|/_deps/' | sort -u || true)
if [ "${#files[@]}" -eq 0 ]; then
	echo "complexity: no .c files found" >&2
	exit 1
fi

# "path:function" per allowed entry; comments and blank lines dropped.
allowed=""
if [ -f "$allow" ]; then
	allowed=$(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$allow" | grep -v '^$' ||
	    true)
fi

# pmccabe columns: modified-mccabe, traditional-mccabe, statements,
# first-line, lines, "file(line): function". We gate on the traditional
# column (case labels each count, like curl) and on the lines column.
if ! report=$(pmccabe "${files[@]}"); then
	echo "complexity: pmccabe failed" >&2
	exit 1
fi
out=$(printf '%s\n' "$report" | awk -F'\t' \
    -v maxc="$max_complexity" -v maxl="$max_lines" -v allowed="$allowed" '
	BEGIN {
		n = split(allowed, a, "\n")
		for (i = 1; i <= n; i++)
			ok[a[i]] = 1
	}
	NF >= 6 {
		loc = $6
		fn = loc; sub(/^.*\): /, "", fn)
		file = loc; sub(/\([0-9]+\): .*$/, "", file)
		line = loc; sub(/^[^(]*\(/, "", line); sub(/\).*$/, "", line)
		if ($2 + 0 <= maxc && $5 + 0 <= maxl)
			next
		key = file ":" fn
		if (key in ok) {
			printf "allowed: %s:%s: %s complexity %d, %d lines\n", \
			    file, line, fn, $2, $5
			next
		}
		printf "%s:%s: %s: complexity %d (max %d), %d lines (max %d)\n", \
		    file, line, fn, $2, maxc, $5, maxl
	}')

allowed_hits=$(printf '%s\n' "$out" | grep '^allowed: ' || true)
findings=$(printf '%s\n' "$out" | grep -v '^allowed: ' | grep . || true)

nfuncs=$(printf '%s\n' "$report" | grep -c . || true)
echo "complexity: ${#files[@]} files, $nfuncs functions," \
    "limits: complexity $max_complexity, $max_lines lines (tests/ exempt)"
if [ -n "$allowed_hits" ]; then
	printf '%s\n' "$allowed_hits"
fi
if [ -n "$findings" ]; then
	printf '%s\n' "$findings"
	echo "complexity: FAIL: split these functions or allow-list them in" \
	    "$allow with an issue link"
	exit 1
fi
echo "complexity: ok"
