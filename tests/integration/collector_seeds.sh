#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Regenerate the seeds of the collector_ingest fuzz target: request bodies
# of records signed by the test terminal "fuzz-agent", whose certificate is
# built into collector/fuzz_ingest.c (key and certificate in
# tests/integration/collector_data/, for tests only).  ECDSA signatures are
# randomized, so every run writes different bytes; commit them once.
#
# Usage: collector_seeds.sh MKRECORD [OUTDIR]
set -euo pipefail
mkrecord=$1
here=$(cd "$(dirname "$0")" && pwd)
out=${2:-$here/../fuzz/corpus/collector_ingest}
key=$here/collector_data/fuzz-agent.key
cert=$here/collector_data/fuzz-agent.pem
mkdir -p "$out"

rec() { "$mkrecord" --key "$key" --cert "$cert" --t-wall-ns 1790000000000000000 "$@"; }
hash_of() { rec "$@" --print-hash 2>&1 >/dev/null; }

rec >"$out/one-record"
rec --count 3 --print-hash >"$out/three-in-order" 2>"$out.h3"
h3=$(cat "$out.h3")
rm -f "$out.h3"
cat "$out/three-in-order" "$out/three-in-order" >"$out/duplicates"
rec --seq 5 --count 2 >"$out/first-seq-5"
{ rec --count 2; rec --seq 2 --body '{"message":"other"}'; } \
    >"$out/equivocation"
{ rec --count 3; rec --seq 4 --prev-hash "$h3" --forge; } >"$out/forged"
{ rec --count 2; rec --seq 3 --prev-hash "$(printf 'ab%.0s' $(seq 32))"; } \
    >"$out/chain-break"
body='{"event":{"action":"events-dropped"},"mynaguard":{"loss":{"ranges":'
body+="[{\"from\":2,\"to\":3,\"last_hash\":\"$h3\"},{\"from\":9,\"to\":1}]"
body+=',"count":2,"reason":"spool full"}}}'
{ rec; rec --seq 4 --prev-hash "$h3" --flags 2 --body "$body"; } \
    >"$out/loss"
"$mkrecord" --key "$key" --agent-id someone-else >"$out/other-agent"
head -c 100 "$out/three-in-order" >"$out/torn"
printf 'MYE1\0\0\0\x20garbage.......................' >"$out/bad-length"
: >"$out/empty"
ls -l "$out"
