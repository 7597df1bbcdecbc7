#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
#
# bench/pam/run.sh [--quick] [-n N] [--build DIR] [--no-agent] [--no-profile]
#
# pam_authenticate() time of pam_mynaguard.so against Debian's pam_u2f.so, with the same
# software authenticator (tests/softkey) holding the same credential, the same PIN and the
# same demands (presence + PIN, relying party pam://bench).  Prints figures and asserts
# nothing (README.md in this directory says what each figure means):
#   1. one login's key step (pam_start + pam_authenticate + pam_end), both modules and
#      some mynaguard variants interleaved: median, p90, p99, ratio to pam_u2f (goal
#      mynaguard/pam_u2f <= 1.1);
#   2. the steps of mynaguard's login that are not the key's, timed one by one in process
#      (policy, credentials, lockout tally, signature counter, event);
#   3. a profile of each module's login, call by call (libfido2 calls, fsync).
#
#   --quick        N=50 rounds (else 200)
#   -n N           N rounds
#   --build DIR    build tree (default SRC/build-pb, RelWithDebInfo)
#   --no-agent     no variant with a running mynaguard-agent
#   --no-profile   skip 3
# Env: BENCH_USER (default nobody: pam_u2f wants an account that exists), KEEP=1 keeps the
# work directories.  Exit status: 0 ran, 1 failed, 77 cannot run here.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)

usage() { sed -n '4,24p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
skip() { echo "bench/pam: SKIP: $*"; exit 77; }
n=200 build=$SRC/build-pb profile=1 agent=1
while [ $# -gt 0 ]; do
	case $1 in
	--quick) n=50; shift ;;
	-n) [ $# -ge 2 ] || usage; n=$2; shift 2 ;;
	--build) [ $# -ge 2 ] || usage; build=$(realpath -m "$2"); shift 2 ;;
	--no-profile) profile=0; shift ;;
	--no-agent) agent=0; shift ;;
	*) usage ;;
	esac
done

U2F=/usr/lib/x86_64-linux-gnu/security/pam_u2f.so
[ -e "$U2F" ] || U2F=$(find /usr/lib /lib -name pam_u2f.so 2>/dev/null | head -1)
{ [ -n "$U2F" ] && [ -e "$U2F" ]; } || skip "pam_u2f.so not installed (apt-get install libpam-u2f)"
command -v pamu2fcfg >/dev/null || skip "pamu2fcfg not installed (apt-get install pamu2fcfg)"
[ "$(id -u)" = 0 ] || skip "needs root (the module trusts only root-owned files)"
for t in cmake setsid openssl; do command -v "$t" >/dev/null || skip "$t is needed"; done

echo "== build (RelWithDebInfo) into $build"
gen=()
[ -e "$build/CMakeCache.txt" ] || { command -v ninja >/dev/null && gen=(-G Ninja); }
cmake -S "$SRC" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=(pam_mynaguard mynaguard pam_bench pb-fidotime softkey-preload skctl)
[ "$agent" = 0 ] || targets+=(mynaguard-agent)
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" >/dev/null
MOD=$build/pam_module/pam_mynaguard.so
PRELOAD=$build/tests/softkey/libsoftkey-preload.so
FIDOTIME=$build/bench/pam/libpb-fidotime.so
BENCH=$build/bench/pam/pam_bench
SKCTL=$build/tests/softkey/skctl
CLI=$build/cli/mynaguard
AGENT=$build/agent/mynaguard-agent
echo "machine: $(nproc) cores, $(sed -n 's/model name\s*: //p' /proc/cpuinfo | head -1)"
echo "pam_u2f: $(dpkg-query -W -f '${Version}' libpam-u2f 2>/dev/null || echo '?'), libfido2" \
    "$(dpkg-query -W -f '${Version}' libfido2-1 2>/dev/null || echo '?')"

# ---- work directories: W on disk (as /var/lib), M on tmpfs (as /run) ---------------------
W=$(mktemp -d /var/tmp/mg-pambench-XXXXXX)
M=$(mktemp -d /dev/shm/mg-pambench-XXXXXX)
chmod 700 "$W" "$M"
agent_pid=
cleanup() {
	[ -z "$agent_pid" ] || { kill "$agent_pid" 2>/dev/null; wait "$agent_pid" 2>/dev/null; } || true
	if [ "${KEEP:-0}" = 1 ]; then
		echo "bench/pam: work directories kept: $W $M"
	else
		rm -rf "$W" "$M"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

USER_=${BENCH_USER:-nobody} PIN=123456 RP=pam://bench
id "$USER_" >/dev/null 2>&1 || skip "no account $USER_ (BENCH_USER)"
# The soft key on tmpfs: it saves its state (counter, PIN retries) with fsync after every
# command, and a real key's flash is not this machine's disk.
export SOFTKEY_STATE=$M/key.state
"$SKCTL" init "$SOFTKEY_STATE" --pin "$PIN" >/dev/null

# ---- one credential, enrolled once, known to both modules --------------------------------
# pam_u2f's own way first: pamu2fcfg makes it on the soft key (presence + PIN), reading the
# PIN from standard input when it has no terminal (setsid); `mynaguard key import` reads
# its line.  Debian's pamu2fcfg 1.1.0 insists on an attestation certificate
# (fido_cred_verify, never fido_cred_verify_self); when the soft key gives none, the same
# credential is made by `mynaguard key enroll` and written out as pam_u2f's line instead.
b64std() {	# base64url without padding -> base64 with padding, as pamu2fcfg writes
	local s
	s=$(printf %s "$1" | tr '_-' '/+')
	while [ $((${#s} % 4)) != 0 ]; do s=$s=; done
	printf %s "$s"
}
printf '[devices]\ndefault read-only\n[login]\nrequire-key = *\nuser-verification = required\n' \
    >"$W/enroll.conf"
printf 'credentials = %s\nrelying-party = %s\n' "$W/credentials" "$RP" >>"$W/enroll.conf"
if echo "$PIN" | LD_PRELOAD=$PRELOAD setsid -w pamu2fcfg -u "$USER_" -o "$RP" -i "$RP" -N \
    >"$W/u2f_keys" 2>"$W/pamu2fcfg.err"; then
	enrolled="pamu2fcfg -u $USER_ -o $RP -i $RP -N, then mynaguard key import --rp $RP"
	"$CLI" key import --rp "$RP" --credentials "$W/credentials" "$W/u2f_keys" \
	    >"$W/import.out" 2>&1 || { cat "$W/import.out"; exit 1; }
else
	enrolled="mynaguard key enroll (pamu2fcfg: $(tr -d '\n' <"$W/pamu2fcfg.err" |
	    sed 's/^Enter PIN for [^:]*:[^:]*: //')), written out as pam_u2f's line"
	echo "$PIN" | LD_PRELOAD=$PRELOAD setsid -w "$CLI" key enroll --policy "$W/enroll.conf" \
	    --credentials "$W/credentials" --label bench "$USER_" >"$W/enroll.out" 2>&1 ||
	    { cat "$W/enroll.out"; exit 1; }
	read -r u id alg pk _ opts _ < <(grep -v '^#' "$W/credentials" | sed -n 2p)
	echo "$u:$(b64std "$id"),$(b64std "$pk"),$alg,$opts" >"$W/u2f_keys"
fi
chmod 600 "$W/u2f_keys"
echo "credential: $enrolled"
echo "  pam_u2f:   $(cut -c1-60 "$W/u2f_keys")..."
echo "  mynaguard: $(grep -v '^#' "$W/credentials" | sed -n 2p | cut -c1-60)..."

# The policy: the shipped profile (all its device rules: pam_mynaguard parses the whole file
# at each login), its [login] section pointed at this credential file and relying party.
login_policy() {	# SRC_POLICY -> stdout
	awk -v creds="$W/credentials" -v rp="$RP" '
		/^\[/ { sec = $0 }
		sec == "[login]" && /^[ \t]*(credentials|relying-party|user-verification|key-timeout)[ \t]*=/ { next }
		{ print }
		$0 == "[login]" {
			print "credentials = " creds
			print "relying-party = " rp
			print "user-verification = required"
			print "key-timeout = 30s"
		}' "$1"
}
login_policy "$SRC/policy/mynumber-terminal.conf" >"$W/policy.conf"
printf '[devices]\ndefault read-only\n[login]\nrequire-key = *\nlockout-threshold = 5\nunlock-after = 15m\n' |
    login_policy /dev/stdin >"$W/policy-min.conf"
chmod 644 "$W/policy.conf" "$W/policy-min.conf"

# ---- PAM services ----------------------------------------------------------------------
S=$W/pam.d
mkdir -p "$S" "$W/counters" "$M/counters" "$M/drop" "$W/drop" "$M/faillock" \
    "$M/drop-inproc" "$W/drop-inproc"
echo "auth required $U2F authfile=$W/u2f_keys origin=$RP appid=$RP cue pinverification=1" \
    "userpresence=1" >"$S/pb-u2f"
cp "$S/pb-u2f" "$S/pb-u2f-again"	# the control: its ratio is the noise of the method
mg() {	# SERVICE POLICY COUNTERDIR DROPDIR [SOCKET]
	echo "auth required $MOD policy=$2 socket=${5:-$M/nowhere.sock} dropdir=$4" \
	    "tallydir=$M/faillock counterdir=$3" >"$S/$1"
}
mg pb-mg "$W/policy.conf" "$W/counters" "$M/drop"
mg pb-mg-noevent "$W/policy.conf" "$W/counters" "$M/no-such-dir"
mg pb-mg-ctrtmpfs "$W/policy.conf" "$M/counters" "$M/drop"
mg pb-mg-dropdisk "$W/policy.conf" "$W/counters" "$W/drop"
mg pb-mg-minpolicy "$W/policy-min.conf" "$W/counters" "$M/drop"
mg pb-mg-agent "$W/policy.conf" "$W/counters" "$M/drop" "$M/events.sock"
# A whole stack also has the preauth line before the password (docs/pam.md).
{ sed 's/required/requisite/; s/\.so /.so preauth /' "$S/pb-mg"; cat "$S/pb-mg"; } \
    >"$S/pb-mg-preauth"
variants=("pam_u2f again=pb-u2f-again" "mg: no event=pb-mg-noevent"
    "mg: counters tmpfs=pb-mg-ctrtmpfs" "mg: drop dir on disk=pb-mg-dropdisk"
    "mg: policy [login] only=pb-mg-minpolicy" "mg: + preauth step=pb-mg-preauth")

# A running agent (as bench/run.sh starts it): spool on disk, no collector reachable, so
# each login event is signed, spooled and committed before the agent answers.
if [ "$agent" = 1 ]; then
	bash "$SRC/tools/mkcerts.sh" ca "$W/pki" >/dev/null
	bash "$SRC/tools/mkcerts.sh" terminal "$W/pki" pambench >/dev/null
	printf '[Spool]\nMaxSize=256MiB\n[Collector]\nRetryMax=1\n' >"$W/agent.conf"
	"$AGENT" --config "$W/agent.conf" --spool "$W/spool" --socket "$M/events.sock" \
	    --drop-dir "$M/agent-drop" --collector https://localhost:1/ --ca "$W/pki/ca.pem" \
	    --cert "$W/pki/pambench.pem" --key "$W/pki/pambench.key" \
	    --policy "$W/policy.conf" >"$W/agent.log" 2>&1 &
	agent_pid=$!
	for _ in $(seq 100); do [ -S "$M/events.sock" ] && break; sleep 0.1; done
	if [ -S "$M/events.sock" ]; then
		variants+=("mg: agent running=pb-mg-agent")
	else
		echo "(the agent did not start, no agent variant:)"; sed 's/^/  /' "$W/agent.log"
	fi
fi

run_bench() { LD_PRELOAD="${EXTRA_PRELOAD:+$EXTRA_PRELOAD }$PRELOAD" "$BENCH" -u "$USER_" \
    -p "$PIN" "$@"; }

echo
echo "== 1. pam_authenticate(), $n rounds, interleaved"
echo "pam_u2f:   $(sed "s|$W|\$W|g" "$S/pb-u2f")"
echo "mynaguard: $(sed "s|$W|\$W|g; s|$M|\$M|g" "$S/pb-mg")"
echo "(\$W on disk: $(df --output=source,fstype "$W" | tail -1 | tr -s ' '), \$M on tmpfs)"
run_bench -v -w 20 -n "$n" "$S" pam_u2f=pb-u2f mynaguard=pb-mg "${variants[@]}" \
    2>"$W/conv.log" | tee "$W/bench.txt"
echo "what the modules said (first login):"
sed -E '/^(pam_u2f again|mg: )/,$d; s/^/  /' "$W/conv.log"
awk '/^pam_u2f +[0-9]/ { u = $2 } /^mynaguard +[0-9]/ { m = $2 } /^pam_u2f again +[0-9]/ { a = $3 }
	/^mg: counters tmpfs +[0-9]/ { t = $4 }
	END {
		if (u <= 0) exit
		printf "mynaguard / pam_u2f (medians): %.3f (goal <= 1.1), %+.3f ms per login\n", m / u, m - u
		printf "  noise of the method (pam_u2f again / pam_u2f): %.3f\n", a / u
		if (t > 0) printf "  without the disk (counters and drop dir on tmpfs): %.3f, %+.3f ms\n", t / u, t - u
	}' "$W/bench.txt"

echo
echo "== 2. mynaguard's own steps, in process ($((n * 5)) each)"
k=$((n * 5))
"$BENCH" -n "$k" --policy "$W/policy.conf"
"$BENCH" -n "$k" -l "policy ([login] only): read + parse" --policy "$W/policy-min.conf"
"$BENCH" -n "$k" -u "$USER_" --credentials "$W/credentials"
"$BENCH" -n "$k" -u "$USER_" --tally "$M/faillock"
"$BENCH" -n "$k" -l "signature counter: read + write, disk" --counter "$W/counters-inproc"
"$BENCH" -n "$k" -l "signature counter: read + write, tmpfs" --counter "$M/counters-inproc"
"$BENCH" -n "$k" -u "$USER_" -l "event: no agent, drop dir on tmpfs" \
    --event "$M/nowhere.sock" "$M/drop-inproc"
"$BENCH" -n "$k" -u "$USER_" -l "event: no agent, drop dir on disk" \
    --event "$M/nowhere.sock" "$W/drop-inproc"
[ ! -S "$M/events.sock" ] || "$BENCH" -n "$k" -u "$USER_" -l "event: to the running agent" \
    --event "$M/events.sock" "$M/drop-inproc"

if [ "$profile" = 1 ]; then
	echo
	echo "== 3. profile, call by call ($n logins each, alone)"
	pn=$n
	EXTRA_PRELOAD=$FIDOTIME run_bench -w 5 -n "$pn" "$S" pam_u2f=pb-u2f |
	    sed -n '/^profile/,/^  everything/p'
	EXTRA_PRELOAD=$FIDOTIME run_bench -w 5 -n "$pn" "$S" mynaguard=pb-mg |
	    sed -n '/^profile/,/^  everything/p'
	# Which CTAP commands each login sends (the soft key's own log).
	for svc in pb-u2f pb-mg; do
		SOFTKEY_LOG=$W/ctap-$svc.log run_bench -w 0 -n 1 "$S" x="$svc" >/dev/null
		printf 'CTAP commands per login, %-9s %s\n' "${svc#pb-}:" \
		    "$(awk '{ print $1 }' "$W/ctap-$svc.log" | paste -sd' ')"
	done
fi
