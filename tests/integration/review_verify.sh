#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# mynaguard-review verify against hand-made exports: real certificates
# (tools/mkcerts.sh), real signed chained records (mkrecord), NDJSON written
# by a few lines of python3, no collector.  Clean, edited, deleted,
# explained (loss record), foreign CA, expired, wrong agent, equivocation,
# malformed lines, stdin.  With a collector binary and curl, also end to
# end: collector -> /v1/review/export -> verify, then the database edited
# (with MG_TEST_PG=1, the collector's database is a PostgreSQL cluster of
# its own: pg_mode.sh).
# usage: review_verify.sh MYNAGUARD-REVIEW MKRECORD SOURCE_DIR [COLLECTOR]
set -u
export LC_ALL=C
review=${1:?usage: review_verify.sh REVIEW MKRECORD SOURCE_DIR [COLLECTOR]}
mkrecord=${2:?}
src=${3:?}
collector=${4:-}
# shellcheck source=pg_mode.sh
. "$src/tests/integration/pg_mode.sh"
command -v python3 >/dev/null || { echo "skip: no python3"; exit 77; }
command -v openssl >/dev/null || { echo "skip: no openssl"; exit 77; }
tmp=$(mktemp -d)
coll_pid=
cleanup() {
	if [ -n "$coll_pid" ]; then
		kill "$coll_pid" 2>/dev/null
		wait "$coll_pid" 2>/dev/null
	fi
	pg_mode_stop
	rm -rf "$tmp"
}
trap cleanup EXIT
pg_mode_start review_verify "$tmp/collector.db"
fails=0 passes=0
ok() { passes=$((passes + 1)); }
fail() { fails=$((fails + 1)); echo "FAIL: $*"; }

pki=$tmp/pki
mkcerts() { bash "$src/tools/mkcerts.sh" "$@" >/dev/null 2>"$tmp/mk.err" ||
	{ cat "$tmp/mk.err"; echo "mkcerts.sh $* failed"; exit 1; }; }
mkcerts ca "$pki"
for t in zeimu-pc01 zeimu-pc02 shimin-pc03; do mkcerts terminal "$pki" "$t"; done
mkcerts reviewer "$pki" auditor
mkcerts wrongca "$pki" zeimu-pc02
mkcerts expired "$pki" shimin-pc03

# rec NAME ARGS...: records into $tmp/NAME.bin; the last hash in NAME.hash.
rec() {
	local name=$1
	shift
	"$mkrecord" "$@" --print-hash >"$tmp/$name.bin" 2>"$tmp/$name.hash" ||
		{ cat "$tmp/$name.hash"; echo "mkrecord $* failed"; exit 1; }
}
k() { echo "--key $pki/$1.key --cert $pki/$1.pem"; }

# shellcheck disable=SC2046  # word splitting of k on purpose
{
rec a1 $(k zeimu-pc01) --count 6
rec b1 $(k zeimu-pc02) --count 3
rec c1 $(k shimin-pc03) --count 2
# A second key of zeimu-pc02 (renewed certificate): seq 4.. signed with it.
mv "$pki/zeimu-pc02.pem" "$pki/zeimu-pc02-old.pem"
mv "$pki/zeimu-pc02.key" "$pki/zeimu-pc02-old.key"
mkcerts terminal "$pki" zeimu-pc02
rec b2 $(k zeimu-pc02) --seq 4 --count 2 --prev-hash "$(cat "$tmp/b1.hash")"
# Equivocation: another seq 2 of zeimu-pc01, validly signed.
rec a1eq $(k zeimu-pc01) --seq 2 --body '{"message":"the other story"}' \
	--prev-hash "$(sed -n 1p "$tmp/a1.hash")"
# zeimu-pc01's key under shimin-pc03's id (self-signed certificate).
rec forged_id --key "$pki/zeimu-pc01.key" --agent-id shimin-pc03 --seq 3 \
	--prev-hash "$(cat "$tmp/c1.hash")"
# Records of the foreign-CA zeimu-pc02 and the expired shimin-pc03.
rec wrong $(k zeimu-pc02-wrongca) --count 2
rec expired $(k shimin-pc03-expired) --count 2
# Loss: 1..2 kept, 3..4 dropped, 5..6 kept, 7 says 3..4 were dropped.
rec l1 $(k zeimu-pc01) --count 4
rec l5 $(k zeimu-pc01) --seq 5 --count 2 --prev-hash "$(cat "$tmp/l1.hash")"
rec l7 $(k zeimu-pc01) --seq 7 --flags 2 --prev-hash "$(cat "$tmp/l5.hash")" \
	--body "{\"event\":{\"action\":\"events-dropped\",\"reason\":\"spool-full\"},\"mynaguard\":{\"loss\":{\"count\":2,\"ranges\":[{\"from\":3,\"to\":4,\"last_hash\":\"$(cat "$tmp/l1.hash")\"}]}}}"
}
# mkexport OUT OP...: write an export.  Ops:
#   cert AGENT PEM | recs BIN [AS_AGENT] | drop AGENT SEQ |
#   edit AGENT SEQ (a body byte, CRC fixed) | tear AGENT SEQ (no CRC fix) |
#   raw TEXT | rawfile FILE (one line)
cat >"$tmp/mkexport.py" <<'EOF'
import base64, json, struct, sys
T = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    T.append(c)
def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c = T[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF
def split(path):
    d, o, out = open(path, "rb").read(), 0, []
    while o < len(d):
        n = struct.unpack(">I", d[o + 4:o + 8])[0]
        out.append(bytearray(d[o:o + n]))
        o += n
    return out
def info(r):
    n = r[16]
    return r[17:17 + n].decode(), struct.unpack(">Q", r[17 + n + 16:17 + n + 24])[0]
out, lines, a = sys.argv[1], [], sys.argv[2:]
i = 0
while i < len(a):
    op = a[i]
    if op == "cert":
        lines.append({"kind": "certificate", "agent_id": a[i + 1],
                      "pem": open(a[i + 2]).read()}); i += 3
    elif op == "recs":
        as_agent = a[i + 2] if i + 2 < len(a) and a[i + 2].startswith("as=") else None
        for r in split(a[i + 1]):
            ag, seq = info(r)
            lines.append({"kind": "record", "id": len(lines) + 1,
                          "agent_id": as_agent[3:] if as_agent else ag,
                          "seq": seq, "raw": r})
        i += 3 if as_agent else 2
    elif op in ("drop", "edit", "tear"):
        ag, seq = a[i + 1], int(a[i + 2]); i += 3
        for l in list(lines):
            if l["kind"] == "record" and l["agent_id"] == ag and l["seq"] == seq:
                if op == "drop":
                    lines.remove(l)
                else:
                    r = l["raw"]   # one letter of the body changes case
                    j = max(bytes(r).find(b"test event"), bytes(r).find(b"spool-full"))
                    r[j] ^= 0x20
                    if op == "edit":
                        l["raw"][8:12] = struct.pack(">I", crc32c(bytes(l["raw"][12:])))
    elif op == "raw":
        lines.append(a[i + 1]); i += 2
    elif op == "rawfile":
        lines.append(open(a[i + 1]).read().rstrip("\n")); i += 2
    else:
        sys.exit("bad op " + op)
with open(out, "w") as f:
    for l in lines:
        if isinstance(l, str):
            f.write(l + "\n"); continue
        if "raw" in l:
            l = dict(l); l["record"] = base64.b64encode(bytes(l.pop("raw"))).decode()
        f.write(json.dumps(l) + "\n")
EOF
mkexport() { python3 "$tmp/mkexport.py" "$@" || { echo "mkexport failed"; exit 1; }; }

# verify NAME EXPECTED_EXIT [ARGS...]: run on $tmp/NAME.ndjson; output in
# $tmp/NAME.out.
verify() {
	local name=$1 want=$2 rc
	shift 2
	"$review" verify --ca "$pki/ca.pem" "$@" "$tmp/$name.ndjson" \
	    >"$tmp/$name.out" 2>"$tmp/$name.err"
	rc=$?
	if [ "$rc" = "$want" ]; then ok; else
		fail "$name: exit $rc, want $want"
		sed 's/^/    /' "$tmp/$name.out" "$tmp/$name.err"
	fi
}
# has NAME REGEX...: each regex matches a line of NAME's output.
has() {
	local name=$1 re
	shift
	for re; do
		if grep -qE -- "$re" "$tmp/$name.out"; then ok; else
			fail "$name: no line matching: $re"
			sed 's/^/    /' "$tmp/$name.out"
		fi
	done
}
hasnt() {
	local name=$1 re
	shift
	for re; do
		if grep -qE -- "$re" "$tmp/$name.out"; then
			fail "$name: unexpected line matching: $re"
			sed 's/^/    /' "$tmp/$name.out"
		else ok; fi
	done
}

A=zeimu-pc01 B=zeimu-pc02 C=shimin-pc03
certs=(cert $A "$pki/$A.pem" cert $B "$pki/$B-old.pem" cert $B "$pki/$B.pem"
    cert $C "$pki/$C.pem")
base=("${certs[@]}" recs "$tmp/a1.bin" recs "$tmp/b1.bin" recs "$tmp/b2.bin"
    recs "$tmp/c1.bin")

# 1. Clean: three terminals, one with two certificates.
mkexport "$tmp/clean.ndjson" "${base[@]}"
verify clean 0
has clean '^verified 13 records from 3 terminals: 0 problems$'
[ "$(wc -l <"$tmp/clean.out")" = 1 ] && ok || fail "clean: extra output"

# 2. Stdin.
if "$review" verify --ca "$pki/ca.pem" - <"$tmp/clean.ndjson" \
    >"$tmp/stdin.out" 2>&1; then ok; else fail "stdin: exit $?"; fi
has stdin '^verified 13 records from 3 terminals: 0 problems$'

# 3. One body byte edited (CRC fixed up): its signature fails and the next
# record no longer links.  Another edited without the CRC: does not decode.
mkexport "$tmp/edit.ndjson" "${base[@]}" edit $A 3 tear $B 2
verify edit 1
has edit "^FAIL $A seq 3: signature does not verify$" \
    "^BREAK $A seq 4: prev_hash does not link" \
    "^FAIL $B seq 2: CRC mismatch$" ': 3 problems$'

# 4. A deleted record: a gap, and the record after it does not link.
mkexport "$tmp/del.ndjson" "${base[@]}" drop $A 4
verify del 1
has del "^GAP $A seq 4: missing \\(no loss record explains it\\)$" \
    "^BREAK $A seq 5:" 'verified 12 records'

# 5. A gap explained by the terminal's own loss record: no problem.
mkexport "$tmp/loss.ndjson" cert $A "$pki/$A.pem" recs "$tmp/l1.bin" \
    recs "$tmp/l5.bin" recs "$tmp/l7.bin" drop $A 3 drop $A 4
verify loss 0
has loss "^NOTE $A seq 3\\.\\.4: dropped by the terminal \\(loss record seq 7\\)$" \
    ': 0 problems$'
# ... but not when the loss record is not genuine.
mkexport "$tmp/loss2.ndjson" cert $A "$pki/$A.pem" recs "$tmp/l1.bin" \
    recs "$tmp/l5.bin" recs "$tmp/l7.bin" drop $A 3 drop $A 4 edit $A 7
verify loss2 1
has loss2 "^GAP $A seq 3\\.\\.4" "^BREAK $A seq 5" "^FAIL $A seq 7"

# 6. A certificate from another CA: CERT, and its records are unverified.
mkexport "$tmp/wrongca.ndjson" cert $B "$pki/$B-wrongca.pem" \
    recs "$tmp/wrong.bin"
verify wrongca 1
has wrongca "^CERT $B \\(line 1\\): does not verify against the CA" \
    "^FAIL $B seq 1\\.\\.2: no valid certificate for this terminal"

# 7. An expired certificate: a warning only.
mkexport "$tmp/expired.ndjson" cert $C "$pki/$C-expired.pem" \
    recs "$tmp/expired.bin"
verify expired 0
has expired "^WARN $C \\(line 1\\): certificate expired" ': 0 problems$'

# 8. Records of A listed as C, and A's key under C's name.
mkexport "$tmp/other.ndjson" "${certs[@]}" recs "$tmp/c1.bin" \
    recs "$tmp/a1.bin" as=$C recs "$tmp/forged_id.bin"
verify other 1
has other "^FAIL $C seq 1\\.\\.3: the record is of another agent$" \
    "^FAIL $C seq 3: signed with a key of no valid certificate" \
    "^FAIL $C seq 4\\.\\.6: the record is of another agent$" ': 3 problems$'
hasnt other "^(GAP|BREAK) "
# A's certificate listed as C's, a reviewer certificate as a terminal's.
mkexport "$tmp/badcert.ndjson" cert $C "$pki/$A.pem" \
    cert auditor "$pki/auditor.pem" recs "$tmp/c1.bin"
verify badcert 1
has badcert "^CERT $C \\(line 1\\): not a terminal certificate" \
    "^CERT auditor \\(line 2\\): " "^FAIL $C seq 1\\.\\.2: no valid"

# 9. Equivocation: two different signed records with the same seq.
mkexport "$tmp/equiv.ndjson" "${base[@]}" recs "$tmp/a1eq.bin"
verify equiv 1
has equiv "^EQUIV $A seq 2: two different signed records \\(lines [0-9]+ and 18\\)$"
# The same record twice is not a problem.
mkexport "$tmp/dup.ndjson" "${base[@]}" recs "$tmp/a1.bin"
verify dup 0

# 10. Malformed lines: each named, the rest still checked, exit 2.
{ printf '{"kind":"record","agent_id":"zeimu-pc01","seq":8,"record":"'
  head -c 1100000 /dev/zero | tr '\0' A; printf '"}\n'; } >"$tmp/big.line"
mkexport "$tmp/bad.ndjson" "${base[@]}" raw 'not json' \
    raw '{"kind":"record","agent_id":"zeimu-pc01","seq":7}' \
    raw '{"kind":"record","agent_id":"zeimu-pc01","seq":7,"record":"@@@@"}' \
    raw '{"kind":"certificate","agent_id":"zeimu-pc01","pem":"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}' \
    raw '{"kind":"bogus","agent_id":"zeimu-pc01"}' \
    raw '{"kind":"record","agent_id":"../etc","seq":1,"record":"AAAA"}' \
    rawfile "$tmp/big.line" \
    raw '{"kind":"record","kind":"record"}' \
    raw '{"kind":"record","agent_id":"zeimu-pc01","seq":-1,"record":"AA=="}'
verify bad 2
has bad '^LINE 18: not a JSON object$' '^LINE 19: record without' \
    "^FAIL $A seq 7: \"record\" is not valid base64" \
    "^CERT $A \\(line 21\\): \"pem\" is not exactly one PEM" \
    '^LINE 22: unknown "kind"$' '^LINE 23: no valid "agent_id"$' \
    '^LINE 24: longer than 1 MiB' '^LINE 25: duplicate member$' \
    '^LINE 26: bad value' '^verified 14 records from 3 terminals'
hasnt bad "^(FAIL|BREAK|GAP) $B" "^(FAIL|BREAK|GAP) $C"

# 11. --terminal and usage errors.
verify equiv 0 --terminal $B
has equiv '^verified 5 records from 1 terminals: 0 problems$'
"$review" verify "$tmp/clean.ndjson" >/dev/null 2>&1
[ $? = 2 ] && ok || fail "no --ca: not exit 2"
"$review" verify --ca "$pki/ca.pem" "$tmp/nonexistent" >/dev/null 2>&1
[ $? = 2 ] && ok || fail "missing file: not exit 2"
"$review" verify --ca "$tmp/clean.ndjson" "$tmp/clean.ndjson" >/dev/null 2>&1
[ $? = 2 ] && ok || fail "CA without a certificate: not exit 2"

# 12. --since/--until select by the record's own time.
rec t1 $(k $A) --count 3 --t-wall-ns 1700000000000000000
rec t4 $(k $A) --seq 4 --count 2 --t-wall-ns 1800000000000000000 \
    --prev-hash "$(cat "$tmp/t1.hash")"
mkexport "$tmp/time.ndjson" cert $A "$pki/$A.pem" recs "$tmp/t1.bin" \
    recs "$tmp/t4.bin"
verify time 0 --since 2025-01-01 --until 2030-01-01T00:00:00Z
has time '^verified 2 records from 1 terminals: 0 problems$'
verify time 0 --until 2025-01-01
has time '^verified 3 records from 1 terminals: 0 problems$'

# 13. End to end: a real collector, records over TLS, the export fetched
# with a reviewer certificate, then the collector's database edited.
e2e() {
	local conf=$tmp/collector.conf log=$tmp/collector.log port= url code
	mkcerts server "$pki" localhost
	printf '%s\n' "[Collector]" "Listen = 127.0.0.1" \
	    "Certificate = $pki/localhost.pem" "Key = $pki/localhost.key" \
	    "CA = $pki/ca.pem" "Database = $db" "Threads = 2" \
	    >"$conf"
	chmod 0644 "$conf"
	"$collector" --config "$conf" --port 0 --foreground 2>"$log" &
	coll_pid=$!
	for _ in $(seq 100); do
		port=$(sed -n 's/^<6>listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' \
		    "$log")
		[ -n "$port" ] && break
		kill -0 "$coll_pid" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$port" ]; then fail "the collector did not start"; cat "$log"
		return; fi
	url=https://localhost:$port
	curlc() { local who=$1; shift; curl -sS --cacert "$pki/ca.pem" \
	    --cert "$pki/$who.pem" --key "$pki/$who.key" "$@"; }
	for who in "$A:a1" "$B-old:b1" "$B:b2"; do
		code=$(curlc "${who%%:*}" -o /dev/null -w '%{http_code}' \
		    -H 'Content-Type: application/vnd.mynaguard.events.v1' \
		    --data-binary "@$tmp/${who##*:}.bin" "$url/v1/events")
		[ "$code" = 200 ] && ok || fail "e2e: POST ${who##*:}: $code"
	done
	curlc auditor -o "$tmp/e2e.ndjson" "$url/v1/review/export" ||
		fail "e2e: export"
	verify e2e 0
	has e2e '^verified 11 records from 2 terminals: 0 problems$'
	if edit_record "$A" 3 0 && edit_record "$B" 2 1 &&
	    dbq "DELETE FROM events WHERE agent_id = '$A' AND seq = 5"; then
		ok
	else
		fail "e2e: editing the database"
	fi
	curlc auditor -o "$tmp/e2e2.ndjson" "$url/v1/review/export" ||
		fail "e2e: second export"
	verify e2e2 1
	has e2e2 "^FAIL $A seq 3: CRC mismatch$" \
	    "^GAP $A seq 5: missing" "^BREAK $A seq 6:" \
	    "^FAIL $B seq 2: signature does not verify$" "^BREAK $B seq 3:" \
	    '^verified 10 records from 2 terminals: 5 problems$'
	kill "$coll_pid"
	wait "$coll_pid" 2>/dev/null
	coll_pid=
	if pg_mode_log_clean "$log"; then
		ok
	else
		fail "e2e: the database refused a statement"
	fi
}
# edit_record AGENT SEQ RESEAL: flip a bit of the stored record's text,
# with the CRC made right again when RESEAL is 1.
edit_record() {
	local hex
	hex=$(dbq "SELECT $(db_hex record) FROM events WHERE agent_id = '$1'
	    AND seq = $2") || return 1
	hex=$(python3 - "$hex" "$3" <<-'PY'
	import struct, sys
	T = []
	for i in range(256):
	    c = i
	    for _ in range(8):
	        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
	    T.append(c)
	def crc32c(b):
	    c = 0xFFFFFFFF
	    for x in b:
	        c = T[(c ^ x) & 0xFF] ^ (c >> 8)
	    return c ^ 0xFFFFFFFF
	r = bytearray.fromhex(sys.argv[1])
	r[bytes(r).find(b"test event")] ^= 0x20
	if sys.argv[2] == "1":
	    r[8:12] = struct.pack(">I", crc32c(bytes(r[12:])))
	print(r.hex())
	PY
	) || return 1
	dbq "UPDATE events SET record = $(db_blob "$hex") WHERE agent_id = '$1'
	    AND seq = $2"
}
if [ -z "$collector" ] || ! command -v curl >/dev/null ||
    ! command -v "$(pg_mode_tools)" >/dev/null; then
	echo "review_verify: no collector, curl or $(pg_mode_tools):" \
	    "end-to-end case skipped"
else
	e2e
fi

echo "review_verify: $passes passed, $fails failed"
[ "$fails" = 0 ]
