#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Central signed policy, the agent's part (issue 8), all real: certificates
# from tools/mkcerts.sh (a terminal, two policy-signers), bundles from
# "mynaguard policy sign", published with "mynaguard-collector policy
# publish", a collector and an agent on 127.0.0.1 over mutual TLS.  The
# agent's policy and credentials files live in a temporary directory.
#
#  1. v1 published: applied, files byte-identical to the parts, a verified
#     policy-applied at the collector, "policy list" shows 1 in force;
#  2. v2 (a registered stick allowed, bob's key revoked): applied, bob gone;
#  3. refusals, each one policy-refused event with its reason and v2 still
#     in force: another signer, a truncated and a malformed bundle and
#     another group's bundle and an older one (a malicious collector: rows
#     written with sqlite3), a valid signature over an invalid policy (made
#     with openssl, as "policy sign" refuses invalid policies);
#  4. the collector down: v2 stays, the outage logged once; v3 published
#     meanwhile is applied when it is back (by the periodic fetch);
#  5. the installed policy damaged: a restart installs it again from
#     applied.bundle and says "reinstalled".
#
# usage: agent_policy.sh BUILD_DIR SOURCE_DIR   (77: cannot run)
set -u
export LC_ALL=C
build=$1 src=$2
agent_bin=$build/agent/mynaguard-agent
coll_bin=$build/collector/mynaguard-collector
cli=$build/cli/mynaguard
for b in "$agent_bin" "$coll_bin" "$cli"; do
	[ -x "$b" ] || { echo "missing $b"; exit 1; }
done
for tool in sqlite3 openssl cmp base64 sha256sum; do
	command -v "$tool" >/dev/null || { echo "SKIP: no $tool"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (credential files)"; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/agent_policy.XXXXXX")
agent_pid= coll_pid=
cleanup() {
	[ -n "$agent_pid" ] && kill -9 "$agent_pid" 2>/dev/null
	[ -n "$coll_pid" ] && kill -9 "$coll_pid" 2>/dev/null
	wait 2>/dev/null
	if [ -n "${MG_KEEP_TMP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
passes=0 fails=0
ok() { passes=$((passes + 1)); echo "ok - $* ($SECONDS s)"; }
fail() { fails=$((fails + 1)); echo "FAIL - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
eq() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: got '$2', want '$3'"; fi; }

pki=$tmp/pki
mk() { bash "$src/tools/mkcerts.sh" "$@" >/dev/null; }
mk ca "$pki"
mk server "$pki" localhost
mk terminal "$pki" term-a
mk policy-signer "$pki" signer1
mk policy-signer "$pki" signer2

etc=$tmp/etc			# stands for /etc/mynaguard
mkdir -m 0755 "$etc"
db=$tmp/collector.db
conf=$tmp/collector.conf
printf '[Collector]\nListen = 127.0.0.1\nCertificate = %s\nKey = %s\nCA = %s\nDatabase = %s\nThreads = 2\n' \
    "$pki/localhost.pem" "$pki/localhost.key" "$pki/ca.pem" "$db" >"$conf"
port=
start_collector() {	# [port]
	: >"$tmp/collector.log"
	"$coll_bin" --config "$conf" --port "${1:-0}" --foreground \
	    2>>"$tmp/collector.log" &
	coll_pid=$!
	for _ in $(seq 100); do
		port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' \
		    "$tmp/collector.log" | tail -n 1)
		[ -n "$port" ] && return 0
		sleep 0.1
	done
	echo "collector did not start:"; cat "$tmp/collector.log"; exit 1
}
stop_collector() { kill "$coll_pid"; wait "$coll_pid" 2>/dev/null; coll_pid=; }

sock=$tmp/events.sock
cat >"$tmp/agent.conf" <<EOF
[Collector]
RetryMax=2
[Policy]
Group=kaikei
SigningCertificate=$pki/signer1.pem
FetchInterval=10s
StateDirectory=$tmp/state
EOF
start_agent() {
	"$agent_bin" --config "$tmp/agent.conf" --spool "$tmp/spool" \
	    --socket "$sock" --drop-dir "$tmp/drop" \
	    --collector "https://localhost:$port/" --ca "$pki/ca.pem" \
	    --cert "$pki/term-a.pem" --key "$pki/term-a.key" \
	    --policy "$etc/policy.conf" >>"$tmp/agent.log" 2>&1 &
	agent_pid=$!
	for _ in $(seq 100); do [ -S "$sock" ] && return 0; sleep 0.1; done
	echo "agent did not start:"; cat "$tmp/agent.log"; exit 1
}
stop_agent() { kill "$agent_pid"; wait "$agent_pid" 2>/dev/null; agent_pid=; }
hup() { kill -HUP "$agent_pid"; }

q() { sqlite3 -batch -noheader "$db" "$1"; }
status() { "$cli" status --json --socket "$sock" 2>/dev/null; }
jnum() { status | sed -n "s/.*\"$1\":\\([0-9]*\\).*/\\1/p"; }
# until SECONDS COMMAND...: true once the command succeeds.
until_ok() {
	local n=$(($1 * 10)); shift
	for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
	return 1
}
events() {	# events ACTION [REASON]: verified records at the collector
	q "select count(*) from events where agent_id = 'term-a' and verified
	    and json_extract(body, '\$.event.action') = '$1'
	    ${2:+and json_extract(body, '\$.event.reason') = '$2'}"
}
has_events() { [ "$(events "$@")" -ge 1 ]; }
applied_at_collector() {	# VERSION
	[ "$(q "select count(*) from events where agent_id = 'term-a' and
	    verified and json_extract(body, '\$.event.action') =
	    'policy-applied' and json_extract(body,
	    '\$.mynaguard.bundle.version') = $1")" -ge 1 ]
}
drained() { [ -n "$(jnum head_seq)" ] && [ "$(jnum head_seq)" = "$(jnum acked_seq)" ]; }

# --- policies and bundles ----------------------------------------------------------
policy_v() {	# policy_v N [EXTRA RULE]: the shipped profile, our paths
	sed -e "s/^version *=.*/version = $1/" \
	    -e "s|^credentials *=.*|credentials = $etc/credentials|" \
	    "$src/policy/mynumber-terminal.conf" >"$tmp/policy-$1.conf"
	if [ -n "${2:-}" ]; then
		sed -i "s|^\\[devices\\]\$|[devices]\\n$2|" "$tmp/policy-$1.conf"
	fi
}
sign() {	# sign GROUP VERSION SIGNER CREDS OUT
	"$cli" policy sign "$tmp/policy-$2.conf" --group "$1" --version "$2" \
	    --credentials "$4" --key "$pki/$3.key" --cert "$pki/$3.pem" \
	    -o "$5" --force >/dev/null
}
publish() { "$coll_bin" policy publish --config "$conf" "$1" >/dev/null; }
# A malicious collector serves whatever is in its table.
serve_raw() {	# serve_raw VERSION FILE
	q "insert into policy_bundles values('kaikei', $1, readfile('$2'),
	    'x', 'x', NULL, 'x', 0, 0)"
}
unserve() { q "delete from policy_bundles where version >= $1"; }
# A bundle signed over arbitrary bytes, by hand (the format of
# docs/policy-bundles.md): what "policy sign" refuses to make.
forge() {	# forge GROUP VERSION SIGNER POLICY_FILE OUT
	local signer len sha
	signer=$(openssl x509 -in "$pki/$3.pem" -outform DER | sha256sum | cut -c1-64)
	len=$(stat -c %s "$4")
	sha=$(sha256sum "$4" | cut -c1-64)
	{
		printf 'mynaguard-policy-bundle 1\ngroup %s\nversion %s\n' "$1" "$2"
		printf 'created 2026-11-29T00:00:00Z\nsigner %s\n' "$signer"
		printf 'part policy %s %s\n' "$len" "$sha"
		cat "$4"
		printf '\n'
	} >"$5.signed"
	openssl dgst -sha256 -sign "$pki/$3.key" -out "$5.sig" "$5.signed"
	{ cat "$5.signed"; printf 'signature %s\n' "$(base64 -w0 "$5.sig")"; } >"$5"
}

cred1=$src/tests/fuzz/corpus/cred_file/valid_town.cred
grep -v '^bob ' "$cred1" >"$tmp/cred2"		# bob's key was lost
policy_v 1
policy_v 2 'allow id 46f4:0001 serial "REG0001" label "registered"'
policy_v 3 'allow id 46f4:0001 serial "REG0002" label "registered 2"'
sign kaikei 1 signer1 "$cred1" "$tmp/b1"
sign kaikei 2 signer1 "$tmp/cred2" "$tmp/b2"
sign kaikei 3 signer1 "$tmp/cred2" "$tmp/b3"
sign kaikei 3 signer2 "$tmp/cred2" "$tmp/b3-other"
sign zeimu 3 signer1 "$tmp/cred2" "$tmp/z3"
printf '[devices]\nallow nonsense here\n' >"$tmp/bad.conf"
forge kaikei 3 signer1 "$tmp/bad.conf" "$tmp/b3-invalid"
# The terminal starts with its local profile (no central policy yet).
cp "$tmp/policy-1.conf" "$etc/policy.conf"
sed -i 's/^version *=.*/version = 0/' "$etc/policy.conf"
chmod 0644 "$etc/policy.conf"

start_collector
start_agent
check "--check-config accepts [Policy]" "$agent_bin" --config "$tmp/agent.conf" \
    --check-config --spool "$tmp/spool" --ca "$pki/ca.pem" \
    --cert "$pki/term-a.pem" --key "$pki/term-a.key" --policy "$etc/policy.conf"
printf '[Policy]\nGroup=kaikei\nSigningCertificate=%s\n' "$pki/term-a.pem" >"$tmp/bad-agent.conf"
"$agent_bin" --config "$tmp/bad-agent.conf" --check-config --spool "$tmp/spool" \
    --ca "$pki/ca.pem" --cert "$pki/term-a.pem" --key "$pki/term-a.key" \
    >/dev/null 2>"$tmp/check.err" && rc=0 || rc=$?
check "--check-config refuses a TLS certificate as the signing certificate" \
    test "$rc" != 0
check "  saying why" grep -q 'SigningCertificate' "$tmp/check.err"
check "nothing published: the agent says so once" until_ok 10 \
    grep -q 'nothing published for group kaikei' "$tmp/agent.log"

# --- 1. v1 ----------------------------------------------------------------------------
publish "$tmp/b1"
hup
check "v1 applied (policy-applied at the collector, verified)" until_ok 20 applied_at_collector 1
check "  installed policy byte-identical to the part" cmp -s "$etc/policy.conf" "$tmp/policy-1.conf"
check "  credentials byte-identical to the part" cmp -s "$etc/credentials" "$cred1"
eq "  policy mode" "$(stat -c %a "$etc/policy.conf")" 644
eq "  credentials mode" "$(stat -c %a "$etc/credentials")" 600
check "  applied.bundle is the bundle" cmp -s "$tmp/state/applied.bundle" "$tmp/b1"
eq "  status: applied version" "$(jnum policy_applied_version)" 1
check "  status: group" sh -c "'$cli' status --socket '$sock' | grep -q 'policy_group: kaikei'"
until_ok 20 drained
"$coll_bin" policy list --config "$conf" >"$tmp/list" 2>&1
check "  policy list: term-a kaikei 1 of 1, current" grep -Eq '^term-a +kaikei +1 +1 .*current$' "$tmp/list" ||
    cat "$tmp/list"

# --- 2. v2: a stick registered, a key revoked --------------------------------------------
publish "$tmp/b2"
hup
check "v2 applied" until_ok 20 applied_at_collector 2
check "  installed policy is v2" cmp -s "$etc/policy.conf" "$tmp/policy-2.conf"
check "  credentials are v2" cmp -s "$etc/credentials" "$tmp/cred2"
"$cli" key list --credentials "$etc/credentials" >"$tmp/keys" 2>&1
check "  key list: bob's key is gone" sh -c "! grep -q '^bob' '$tmp/keys' && grep -q alice '$tmp/keys'"
v2hash=$(sha256sum "$tmp/policy-2.conf" | cut -c1-64)
loaded_v2() {
	[ "$(q "select count(*) from events where agent_id = 'term-a' and
	    json_extract(body, '\$.event.action') = 'policy-loaded' and
	    json_extract(body, '\$.mynaguard.policy.hash') = '$v2hash'")" -ge 1 ]
}
check "  the agent loaded it (policy-loaded with its hash)" until_ok 10 loaded_v2
check "  the registered stick is allowed by the installed policy" sh -c \
    "'$cli' policy test '$etc/policy.conf' 'device id 46f4:0001 serial \"REG0001\" with-interface 08:06:50' 2>&1 | grep -qw allow"

# --- 3. refusals ----------------------------------------------------------------------------
refused() {	# refused WHAT REASON: one event, v2 still in force
	check "$1: policy-refused ($2)" until_ok 20 has_events policy-refused "$2"
	hup	# offered again: no second event
	sleep 3
	until_ok 10 drained
	eq "  exactly one event" "$(events policy-refused "$2")" 1
	check "  policy unchanged" cmp -s "$etc/policy.conf" "$tmp/policy-2.conf"
	check "  credentials unchanged" cmp -s "$etc/credentials" "$tmp/cred2"
	eq "  applied version still 2" "$(jnum policy_applied_version)" 2
	check "  the agent still has a policy" sh -c "'$cli' status --socket '$sock' | grep -q 'policy: loaded'"
}
alive() { check "the agent is still running ($1)" kill -0 "$agent_pid"; }
publish "$tmp/b3-other"; hup
refused "signed by another policy-signer" signer
unserve 3
head -c 400 "$tmp/b3" >"$tmp/b3-cut"
serve_raw 3 "$tmp/b3-cut"; hup
refused "truncated" malformed
unserve 3
printf 'mynaguard-policy-bundle 1\ngroup kaikei\nversion three\n' >"$tmp/b3-junk"
serve_raw 3 "$tmp/b3-junk"; hup
two_malformed() { [ "$(events policy-refused malformed)" = 2 ]; }
check "malformed: policy-refused (malformed), another bundle, another event" \
    until_ok 20 two_malformed
check "  the message names the line" grep -q 'refused (malformed): line 3: version must be' "$tmp/agent.log"
unserve 3
publish "$tmp/b3-invalid"; hup
refused "valid signature over an invalid policy" invalid-policy
unserve 3
serve_raw 3 "$tmp/z3"; hup
refused "another group's bundle" group
unserve 3
serve_raw 3 "$tmp/b1"; hup
refused "an older version (rollback)" rollback
unserve 3
check "the refusals say why in the log" grep -q 'central policy refused (signer)' "$tmp/agent.log"
eq "no policy-applied for a refused bundle" "$(q "select count(*) from events where
    json_extract(body, '\$.event.action') = 'policy-applied' and
    json_extract(body, '\$.mynaguard.bundle.version') = 3")" 0
# Each refusal is an alert for the security officer: the collector, or the way
# to it, served what the town did not sign for this group.
eq "one policy-refused alert per refusal event" "$(q "select count(*) from alerts
    where type = 'policy-refused'")" "$(events policy-refused '')"

# --- 4. the collector down --------------------------------------------------------------------
until_ok 10 drained
old_port=$port
stop_collector
publish "$tmp/b3"
outages() { grep -c 'policy fetch from .*unreachable' "$tmp/agent.log"; }
has_outage() { [ "$(outages)" -ge 1 ]; }
hup
check "collector down: the outage is logged" until_ok 20 has_outage
hup; sleep 4; hup; sleep 4	# two more failed fetches
eq "  once, not once per try" "$(outages)" 1
alive "SIGHUPs with the collector down"
eq "  v2 stays" "$(jnum policy_applied_version)" 2
check "  policy unchanged" cmp -s "$etc/policy.conf" "$tmp/policy-2.conf"
start_collector "$old_port"
check "collector back: v3 applied by the periodic fetch" until_ok 30 applied_at_collector 3
check "  installed policy is v3" cmp -s "$etc/policy.conf" "$tmp/policy-3.conf"
check "  the agent says the fetch works again" grep -q 'policy fetch from .* works again' "$tmp/agent.log"

alive "collector back"

# --- 5. crash recovery ------------------------------------------------------------------------
stop_agent
echo '# edited by hand' >>"$etc/policy.conf"
start_agent
check "after a restart: the damaged policy is installed again" until_ok 10 \
    cmp -s "$etc/policy.conf" "$tmp/policy-3.conf"
reinstalled() {
	[ "$(q "select count(*) from events where agent_id = 'term-a' and
	    json_extract(body, '\$.event.action') = 'policy-applied' and
	    json_extract(body, '\$.message') = 'reinstalled'")" = "$1" ]
}
check "  policy-applied 'reinstalled' at the collector" until_ok 20 reinstalled 1
eq "  applied version survives the restart" "$(jnum policy_applied_version)" 3
stop_agent
rm "$etc/policy.conf"
start_agent
check "a removed policy is installed again too" until_ok 10 \
    cmp -s "$etc/policy.conf" "$tmp/policy-3.conf"
check "  and reported" until_ok 20 reinstalled 2
until_ok 20 drained
"$coll_bin" policy list --config "$conf" >"$tmp/list" 2>&1
check "policy list: term-a 3 of 3, current" grep -Eq '^term-a +kaikei +3 +3 .*current$' "$tmp/list" ||
    cat "$tmp/list"
check "no refusal was stored unverified" test "$(q "select count(*) from events
    where agent_id = 'term-a' and not verified")" = 0
# The real bodies against docs/events.schema.json.
if python3 -c 'import jsonschema' 2>/dev/null; then
	q "select body from events where agent_id = 'term-a' and
	    json_extract(body, '\$.event.action') in ('policy-applied',
	    'policy-refused')" >"$tmp/bodies"
	check "policy-applied and policy-refused bodies match the schema" \
	    python3 -c '
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
v = jsonschema.Draft202012Validator(schema)
n = 0
for line in open(sys.argv[2]):
    v.validate(json.loads(line))
    n += 1
sys.exit(0 if n >= 10 else 1)' "$src/docs/events.schema.json" "$tmp/bodies"
else
	echo "note: no python3-jsonschema: the schema check is skipped"
fi
alive "end"
stop_agent
stop_collector
check "no sanitizer report in the agent's log" sh -c "! grep -q 'Sanitizer' '$tmp/agent.log'"

echo "$passes passed, $fails failed"
[ "$fails" = 0 ] || { echo "--- agent log"; tail -40 "$tmp/agent.log"; }
[ "$fails" = 0 ]
