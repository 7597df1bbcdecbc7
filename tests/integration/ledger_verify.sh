#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The tamper-evident store end to end (issue 9): a real collector with
# [Checkpoint] Interval=1s, records of 3 terminals (mkrecord), a checkpoint
# exported with "mynaguard-review checkpoint -o", more records, and then
# "mynaguard-review verify --checkpoint" on the database:
#  - a clean store passes; its --json proofs are checked by the independent
#    RFC 9162 implementation (merkle_ref.py check-json), and merkle_ref.py's
#    roots over the records' bytes in leaf order are the checkpoints' roots;
#  - with the collector stopped, an insider's edits are each caught and
#    named (terminal, seq, leaf): an event's record edited, its body column
#    edited, an event row deleted, a leaf row deleted, an event inserted
#    outside the log, and a record rewritten together with its leaf hash;
#  - a checkpoint with one byte changed is refused, and so is one signed by
#    another CA's collector certificate.
# With MG_TEST_PG=1 the database is a throwaway PostgreSQL cluster
# (pg_mode.sh, pgcluster.sh) and the edits are made with psql.
#
# Usage: ledger_verify.sh REVIEW COLLECTOR MKRECORD SOURCE_DIR   (77: skip)
set -euo pipefail
export LC_ALL=C

review=$1 collector=$2 mkrecord=$3 src=$4
here=$src/tests/integration
# shellcheck source=pg_mode.sh
. "$here/pg_mode.sh"
for tool in curl openssl python3 "$(pg_mode_tools)"; do
	command -v "$tool" >/dev/null || { echo "SKIP: no $tool"; exit 77; }
done
name=ledger_verify
[ "$pg_mode" = sqlite ] || name=ledger_verify_pg

tmp=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX")
pid=
stop_collector() {
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	pid=
}
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	stop_collector
	pg_mode_stop
	rm -rf -- "$tmp"
}
trap cleanup EXIT
pg_mode_start "$name" "$tmp/collector.db"

fails=0 checks=0
ok() { checks=$((checks + 1)); echo "ok: $* ($SECONDS s)"; }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*"; }
check() { # check DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}
# shellcheck disable=SC2317 # called through check
lacks() { ! grep "$@"; } # lacks GREP-ARGS...: no line matches
finish() {
	echo "$name: $checks checks, $fails failed ($SECONDS s)"
	[ "$fails" -eq 0 ] || exit 1
	exit 0
}
fatal() { # fatal MESSAGE [FILE...]
	local f
	bad "$1"
	shift
	for f; do echo "--- $f"; tail -n 40 "$f" 2>/dev/null || true; done
	finish
}

# --- certificates, the collector ----------------------------------------------
pki=$tmp/pki other=$tmp/other
mk() { "$src/tools/mkcerts.sh" "$@" >/dev/null; }
mk ca "$pki"
mk server "$pki" localhost
for t in term-a term-b term-c; do mk terminal "$pki" "$t"; done
mk reviewer "$pki" officer
# Another town's CA and collector certificate, for a forged checkpoint.
MKCERTS_CA_CN="Other Town CA" mk ca "$other"
mk server "$other" localhost

conf=$tmp/collector.conf
cat >"$conf" <<EOF
[Collector]
Listen = 127.0.0.1
Certificate = $pki/localhost.pem
Key = $pki/localhost.key
CA = $pki/ca.pem
Database = $db
Threads = 2

[Checkpoint]
Interval = 1s
Origin = town-test
EOF
chmod 0644 "$conf"
log=$tmp/collector.log
: >"$log" # before the background job opens it: sed reads it at once
"$collector" --config "$conf" --port 0 --foreground 2>"$log" &
pid=$!
port=
for _ in $(seq 300); do
	port=$(sed -n 's/^<6>listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' \
	    "$log")
	[ -n "$port" ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
[ -n "$port" ] || fatal "the collector did not start" "$log"
url=https://localhost:$port
ok "collector on port $port, database $(pg_mode_tools)"

# --- records ---------------------------------------------------------------------
declare -A head
# send TERMINAL FIRST COUNT: mkrecord records chained on the last sent.
send() {
	local t=$1 first=$2 count=$3 code
	"$mkrecord" --key "$pki/$t.key" --cert "$pki/$t.pem" --seq "$first" \
	    --count "$count" --print-hash \
	    ${head[$t]:+--prev-hash "${head[$t]}"} \
	    >"$tmp/$t.$first.bin" 2>"$tmp/hash" || fatal "mkrecord" "$tmp/hash"
	head[$t]=$(cat "$tmp/hash")
	code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$pki/ca.pem" \
	    --cert "$pki/$t.pem" --key "$pki/$t.key" \
	    -H 'Content-Type: application/vnd.mynaguard.events.v1' \
	    --data-binary "@$tmp/$t.$first.bin" "$url/v1/events")
	[ "$code" = 200 ] || fatal "POST $t $first+$count: HTTP $code" "$log"
}
R() { "$review" --url "$url" --ca "$pki/ca.pem" --cert "$pki/officer.pem" \
    --key "$pki/officer.key" "$@"; }
cp_size() { sed -n 's/^size: //p' "$1"; }
# wait_checkpoint FILE SIZE: export until a checkpoint covers SIZE leaves.
wait_checkpoint() {
	local f=$1 want=$2
	for _ in $(seq 100); do
		if R checkpoint -o "$f" 2>"$tmp/cp.err" &&
		    [ "$(cp_size "$f")" -ge "$want" ]; then
			return 0
		fi
		sleep 0.2
	done
	fatal "no checkpoint of $want leaves came" "$tmp/cp.err" "$log"
}

send term-a 1 5
send term-b 1 4
send term-c 1 3
wait_checkpoint "$tmp/cp1.txt" 12
check "checkpoint -o: exactly 12 leaves signed" test "$(cp_size "$tmp/cp1.txt")" = 12
check "checkpoint -o: says who signed it" \
    grep -q '^checkpoint: origin town-test, size 12, .* signed by localhost: signature OK$' \
    "$tmp/cp.err"
R checkpoint --print >"$tmp/print.out" 2>/dev/null && rc=0 || rc=$?
check "checkpoint --print: exit 0" test "$rc" = 0
check "checkpoint --print: the printout names the origin" \
    grep -q 'town-test' "$tmp/print.out"
check "checkpoint --print: not the bare text" \
    test "$(head -n 1 "$tmp/print.out")" != "mynaguard checkpoint v1"
"$review" --url "$url" --ca "$pki/ca.pem" --cert "$pki/term-a.pem" \
    --key "$pki/term-a.key" checkpoint >/dev/null 2>&1 && rc=0 || rc=$?
check "checkpoint with a terminal certificate: refused (exit 1)" test "$rc" = 1

send term-a 6 4
send term-b 5 2
send term-c 4 3
total=21

# --- a clean store -------------------------------------------------------------
V() { "$review" verify --database "$db" --ca "$pki/ca.pem" "$@"; }
# verify_rc NAME WANT ARGS...: output in $tmp/NAME.out.
verify_rc() {
	local n=$1 want=$2 rc
	shift 2
	V "$@" >"$tmp/$n.out" 2>"$tmp/$n.err" && rc=0 || rc=$?
	if [ "$rc" = "$want" ]; then
		ok "verify $n: exit $want"
	else
		bad "verify $n: exit $rc, not $want"
		cat "$tmp/$n.out" "$tmp/$n.err"
	fi
}
has() { # has NAME REGEX...: each in $tmp/NAME.out
	local n=$1 re
	shift
	for re; do
		if grep -Eq -- "$re" "$tmp/$n.out"; then ok "$n: /$re/"; else
			bad "$n: no line /$re/"
			cat "$tmp/$n.out"
		fi
	done
}

verify_rc running 0 --checkpoint "$tmp/cp1.txt" --event term-a:2
has running '^verdict: OK'
R export -o "$tmp/export.ndjson" 2>"$tmp/export.err" ||
    bad "export -o: failed: $(cat "$tmp/export.err")"
stop_collector # it signs once more on its way out
ok "collector stopped"

leaf_of() { # leaf_of TERMINAL SEQ
	dbq "SELECT idx FROM merkle_leaves WHERE agent_id = '$1' AND seq = $2"
}
ia2=$(leaf_of term-a 2) ic5=$(leaf_of term-c 5)
verify_rc clean 0 --checkpoint "$tmp/cp1.txt" --event term-a:2 \
    --event term-c:5
has clean '^checkpoint: origin town-test, size 12, root [0-9a-f]{64}, .*signed by localhost: signature OK$' \
    "^store: .*: $total leaves, $total events$" \
    '^checkpoint root at size 12: OK' \
    "^log: size $total, root [0-9a-f]{64}: OK, recomputed from $total records$" \
    '^newest stored checkpoint: origin town-test, size 21: signature OK, root OK$' \
    "^consistency 12 -> $total, [0-9]+ hashes: OK$" \
    "^event term-a:2: leaf $ia2, leaf hash [0-9a-f]{64}$" \
    '^  inclusion in the checkpoint \(size 12, root [0-9a-f]{64}\), [0-9]+ hashes: OK$' \
    "^event term-c:5: leaf $ic5, leaf hash [0-9a-f]{64}$" \
    "^  inclusion in the store \\(size $total, root [0-9a-f]{64}\\), [0-9]+ hashes: OK$" \
    '^verdict: OK'
if grep -Eq '^[A-Z]+ ' "$tmp/clean.out"; then
	bad "clean: a problem line"; cat "$tmp/clean.out"
else ok "clean: no problem line"; fi

# The independent implementation: the proofs, and the roots over the
# records' own bytes.
verify_rc json 0 --checkpoint "$tmp/cp1.txt" --event term-a:2 \
    --event term-c:5 --event term-b:6 --json
python3 "$here/merkle_ref.py" check-json "$tmp/json.out" >"$tmp/ref.out" 2>&1 &&
    rc=0 || rc=$?
check "merkle_ref.py check-json: every proof of --json holds" test "$rc" = 0
check "merkle_ref.py check-json: 4 checks (1 consistency, 3 inclusion)" \
    grep -qx '4 checks, 0 failed' "$tmp/ref.out"
dbq "SELECT $(db_hex e.record) FROM merkle_leaves l JOIN events e
    ON e.agent_id = l.agent_id AND e.seq = l.seq ORDER BY l.idx" \
    >"$tmp/leaves.txt"
check "leaf data: $total records in leaf order" \
    test "$(wc -l <"$tmp/leaves.txt")" = "$total"
# Every inclusion check's leaf hash is its record's, and its root the
# reference root of that size; so is every stored checkpoint's.
python3 - "$tmp/json.out" "$tmp/leaves.txt" "$here" <<'PY' && rc=0 || rc=$?
import hashlib, json, sys
sys.path.insert(0, sys.argv[3])
import merkle_ref
doc = json.load(open(sys.argv[1]))
leaves = merkle_ref.read_leaves(sys.argv[2])
tree = merkle_ref.Tree(leaves)
bad = 0
for c in doc["checks"]:
    if c["kind"] == "inclusion":
        bad += c["leaf_hash"] != merkle_ref.leaf_hash(leaves[c["index"]]).hex()
        bad += c["root"] != tree.root(c["size"]).hex()
    else:
        bad += c["root_m"] != tree.root(c["m"]).hex()
        bad += c["root_n"] != tree.root(c["n"]).hex()
bad += doc["store"]["recomputed_root"] != tree.root(len(leaves)).hex()
sys.exit(1 if bad else 0)
PY
check "merkle_ref.py: the JSON's leaf hashes and roots from the records" \
    test "$rc" = 0
check "merkle_ref.py: the exported checkpoint's root" test \
    "$(python3 "$here/merkle_ref.py" root "$tmp/leaves.txt" --size 12)" = \
    "$(sed -n 's/^root: //p' "$tmp/cp1.txt")"
n=0 badroots=0
while IFS='|' read -r size root; do
	n=$((n + 1))
	[ "$(python3 "$here/merkle_ref.py" root "$tmp/leaves.txt" \
	    --size "$size")" = "$root" ] || badroots=$((badroots + 1))
done < <(dbq "SELECT size, $(db_hex root) FROM checkpoints ORDER BY size")
check "merkle_ref.py: the roots of all $n stored checkpoints" \
    test "$n" -ge 2 -a "$badroots" = 0
pw=$(python3 -c 'import sys, urllib.parse as u; print(u.urlsplit(sys.argv[1]).password or "")' "$db")
if [ -n "$pw" ]; then
	check "the database password is never shown" \
	    lacks -qF -- "$pw" "$tmp/clean.out" "$tmp/json.out" \
	    "$tmp/clean.err"
	check "the connection string is shown without it" \
	    grep -q '^store: postgresql://mynaguard:\*\*\*@' "$tmp/clean.out"
fi
# The export check is still there beside it.
"$review" verify --ca "$pki/ca.pem" "$tmp/export.ndjson" >"$tmp/exp.out" 2>&1 &&
    rc=0 || rc=$?
check "verify FILE (an export) still works: exit 0" test "$rc" = 0

# --- an insider at the database -------------------------------------------------
cols="id, agent_id, seq, boot_id, flags, t_wall_ns, received_ns, hash,
    prev_hash, body, record, verified"
save_rows() { # save_rows TABLE WHERE: into saved_TABLE, then delete them
	dbq "CREATE TABLE saved_$1 AS SELECT ${3:-*} FROM $1 WHERE $2"
	dbq "DELETE FROM $1 WHERE $2"
}
restore_rows() { # restore_rows TABLE [COLUMNS]
	local c=${2:-*}
	if [ "$c" = '*' ]; then
		dbq "INSERT INTO $1 SELECT * FROM saved_$1"
	else
		dbq "INSERT INTO $1($c) SELECT $c FROM saved_$1"
	fi
	dbq "DROP TABLE saved_$1"
}
record_hex() { dbq "SELECT $(db_hex record) FROM events WHERE agent_id = '$1' AND seq = $2"; }
set_record() { dbq "UPDATE events SET record = $(db_blob "$3") WHERE agent_id = '$1' AND seq = $2"; }
flip() { # flip HEX: one byte of the body changes case
	python3 -c 'import sys; b = bytearray.fromhex(sys.argv[1]); b[b.find(b"test")] ^= 0x20; print(b.hex())' "$1"
}
leafhash() { python3 -c 'import hashlib, sys; print(hashlib.sha256(b"\0" + bytes.fromhex(sys.argv[1])).hexdigest())' "$1"; }
back_to_clean() { # after each case: the store passes again
	V --checkpoint "$tmp/cp1.txt" >"$tmp/again.out" 2>&1 && rc=0 || rc=$?
	check "restored after $1: verify exit 0" test "$rc" = 0
}

# 1. One byte of term-b seq 2's record.
ib2=$(leaf_of term-b 2)
orig=$(record_hex term-b 2)
set_record term-b 2 "$(flip "$orig")"
verify_rc edited 1 --checkpoint "$tmp/cp1.txt" --event term-b:2
has edited "^EDITED leaf $ib2 \\(term-b seq 2\\): the record's leaf hash [0-9a-f]{64} is not the log's [0-9a-f]{64}$" \
    '^ROOT checkpoint size 12: the store.s records give [0-9a-f]{64}: the store does not match the checkpoint$' \
    "^STATE merkle_state size $total" \
    "^  inclusion in the checkpoint .*: FAILED$" '^verdict: TAMPERED'
set_record term-b 2 "$orig"
back_to_clean "the record edit"

# 2. The body column, the text the review API shows, edited alone.
ia3=$(leaf_of term-a 3)
dbq "UPDATE events SET body = replace(body, 'test', 'TEST') WHERE agent_id = 'term-a' AND seq = 3"
verify_rc body 1 --checkpoint "$tmp/cp1.txt"
has body "^EDITED leaf $ia3 \\(term-a seq 3\\): the body column differs from the signed record$" \
    '^checkpoint root at size 12: OK' '^verdict: TAMPERED: 1 problems'
dbq "UPDATE events SET body = replace(body, 'TEST', 'test') WHERE agent_id = 'term-a' AND seq = 3"
back_to_clean "the body edit"

# 3. An event row deleted.
ic2=$(leaf_of term-c 2)
save_rows events "agent_id = 'term-c' AND seq = 2" "$cols"
verify_rc deleted 1 --checkpoint "$tmp/cp1.txt" --event term-c:2
has deleted "^DELETED leaf $ic2 \\(term-c seq 2\\): the event row is gone$" \
    "^ROOT checkpoint size 12: cannot be recomputed from the records: leaf $ic2 " \
    '^EVENT term-c:2: its leaf is there but the event row is gone$' \
    '^verdict: TAMPERED'
restore_rows events "$cols"
back_to_clean "the event deletion"

# 4. A leaf row deleted: the leaf is missing, its event in no leaf.
ia7=$(leaf_of term-a 7)
save_rows merkle_leaves "agent_id = 'term-a' AND seq = 7"
verify_rc noleaf 1 --checkpoint "$tmp/cp1.txt" --event term-a:7
has noleaf "^MISSING leaf $ia7: no merkle_leaves row" \
    '^UNLOGGED term-a seq 7: the event is in no leaf of the log' \
    '^EVENT term-a:7: in no leaf of the log$' '^verdict: TAMPERED'
restore_rows merkle_leaves
back_to_clean "the leaf deletion"

# 5. An event inserted outside the log (a copy of term-c seq 3 as seq 99).
dbq "INSERT INTO events(agent_id, seq, boot_id, flags, t_wall_ns, received_ns,
    hash, prev_hash, body, record, verified) SELECT agent_id, 99, boot_id,
    flags, t_wall_ns, received_ns, hash, prev_hash, body, record, verified
    FROM events WHERE agent_id = 'term-c' AND seq = 3"
verify_rc inserted 1 --checkpoint "$tmp/cp1.txt"
has inserted '^UNLOGGED term-c seq 99: the event is in no leaf of the log' \
    '^checkpoint root at size 12: OK' '^verdict: TAMPERED'
dbq "DELETE FROM events WHERE agent_id = 'term-c' AND seq = 99"
back_to_clean "the insertion"
# The same under a terminal id carrying an escape sequence: shown inert.
esc=$([ "$pg_mode" = pg ] && echo 'chr(27)' || echo 'char(27)')
dbq "INSERT INTO events(agent_id, seq, boot_id, flags, t_wall_ns, received_ns,
    hash, prev_hash, body, record, verified) SELECT 'term-c' || $esc || '[2K',
    99, boot_id, flags, t_wall_ns, received_ns, hash, prev_hash, body, record,
    verified FROM events WHERE agent_id = 'term-c' AND seq = 3"
verify_rc escape 1 --checkpoint "$tmp/cp1.txt"
has escape '^UNLOGGED term-c\?\?2K seq 99: '
check "escape: no escape character in the report" \
    lacks -q $'\x1b' "$tmp/escape.out"
dbq "DELETE FROM events WHERE seq = 99"
back_to_clean "the insertion with an escape"

# 6. A record and its leaf hash rewritten together, so that the leaf
# recomputes: the root at the checkpoint's size still gives it away.
ib3=$(leaf_of term-b 3)
orig=$(record_hex term-b 3)
origleaf=$(dbq "SELECT $(db_hex hash) FROM merkle_leaves WHERE idx = $ib3")
new=$(flip "$orig")
set_record term-b 3 "$new"
dbq "UPDATE merkle_leaves SET hash = $(db_blob "$(leafhash "$new")") WHERE idx = $ib3"
verify_rc rewritten 1 --checkpoint "$tmp/cp1.txt" --event term-b:3 --json
python3 - "$tmp/rewritten.out" <<'PY' && rc=0 || rc=$?
import json, sys
d = json.load(open(sys.argv[1]))
ok = (not d["ok"] and d["checkpoint"]["store_root"] == "differs"
      and not d["consistency"]["verified"] and not d["events"][0]["verified"]
      and not [f for f in d["findings"] if f["kind"] != "row-edited"])
sys.exit(0 if ok else 1)
PY
check "rewritten: the JSON says the store does not match the checkpoint" \
    test "$rc" = 0
verify_rc rewritten_text 1 --checkpoint "$tmp/cp1.txt"
has rewritten_text '^ROOT checkpoint size 12: .*the store does not match the checkpoint$' \
    "^CONSISTENCY 12 -> $total, [0-9]+ hashes: FAILED$" '^verdict: TAMPERED'
if grep -q "^EDITED leaf $ib3 .*leaf hash" "$tmp/rewritten_text.out"; then
	bad "rewritten: the leaf itself should recompute"
else ok "rewritten: the leaf itself recomputes (the root catches it)"; fi
set_record term-b 3 "$orig"
dbq "UPDATE merkle_leaves SET hash = $(db_blob "$origleaf") WHERE idx = $ib3"
back_to_clean "the consistent rewrite"

# --- checkpoints that must be refused -------------------------------------------
# One byte: a digit of the root.
python3 -c 'import sys; t = open(sys.argv[1]).read(); i = t.index("root: ") + 6
open(sys.argv[2], "w").write(t[:i] + ("1" if t[i] == "0" else "0") + t[i + 1:])' \
    "$tmp/cp1.txt" "$tmp/cp-byte.txt"
check "one byte of the checkpoint changed" \
    test "$(cmp -l "$tmp/cp1.txt" "$tmp/cp-byte.txt" | wc -l)" = 1
verify_rc cpbyte 1 --checkpoint "$tmp/cp-byte.txt"
has cpbyte '^REFUSED checkpoint .*cp-byte.txt: ' '^verdict: REFUSED'
check "cpbyte: the store is not looked at" \
    lacks -q '^store:' "$tmp/cpbyte.out"
# The same size and root signed by another town's collector certificate.
head -n 5 "$tmp/cp1.txt" >"$tmp/signed.txt"
openssl dgst -sha256 -sign "$other/localhost.key" -out "$tmp/sig.der" \
    "$tmp/signed.txt"
{ cat "$tmp/signed.txt"
  printf 'signature: %s\n' "$(openssl base64 -A -in "$tmp/sig.der")"
  cat "$other/localhost.pem"; } >"$tmp/cp-other.txt"
verify_rc cpother 1 --checkpoint "$tmp/cp-other.txt"
has cpother '^REFUSED checkpoint .*cp-other.txt: ' '^verdict: REFUSED'
# Trusting the other CA, the forgery's own signature holds, but the store's
# checkpoints were signed under the real CA: still no.
"$review" verify --database "$db" --ca "$other/ca.pem" --checkpoint \
    "$tmp/cp-other.txt" >"$tmp/cpother2.out" 2>&1 && rc=0 || rc=$?
check "cp-other under its own CA: exit 1" test "$rc" = 1
has cpother2 '^checkpoint: origin town-test, size 12, .*: signature OK$' \
    '^REFUSED the newest checkpoint in the store: ' '^verdict: TAMPERED'
verify_rc cpjson 1 --checkpoint "$tmp/cp-byte.txt" --json
check "a refused checkpoint in --json: ok false, refused" \
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if d["ok"] is False and d["refused"] else 1)' \
    "$tmp/cpjson.out"

# --- usage ---------------------------------------------------------------------
usage_rc() { # usage_rc DESCRIPTION ARGS...
	local what=$1 rc
	shift
	"$review" verify "$@" >/dev/null 2>&1 && rc=0 || rc=$?
	check "usage: $what: exit 2" test "$rc" = 2
}
usage_rc "no --database" --checkpoint "$tmp/cp1.txt" --ca "$pki/ca.pem"
usage_rc "a bad --event" --checkpoint "$tmp/cp1.txt" --ca "$pki/ca.pem" \
    --database "$db" --event term-a
usage_rc "an unknown option" --checkpoint "$tmp/cp1.txt" --ca "$pki/ca.pem" \
    --database "$db" --bogus
usage_rc "a missing checkpoint file" --checkpoint "$tmp/none.txt" \
    --ca "$pki/ca.pem" --database "$db"
usage_rc "a missing database" --checkpoint "$tmp/cp1.txt" \
    --ca "$pki/ca.pem" --database "$tmp/none.db"
"$review" verify --help >"$tmp/help.out" 2>&1 && rc=0 || rc=$?
check "verify --help: both forms" test "$rc" = 0 -a \
    "$(grep -c '^usage: mynaguard-review verify' "$tmp/help.out")" -ge 1
finish
