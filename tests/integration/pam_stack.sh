#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# pam_mynaguard.so in the real stacks, run by pamtester under pam_wrapper
# with a software key (libsoftkey-preload.so):
#  (a) common-auth as Debian's pam-auth-update writes it from
#      packaging/pam-configs, in a private mount namespace over copies of
#      /etc/pam.d, /usr/share/pam-configs, /var/lib/pam and debconf's
#      database (the host's files are compared before and after); then
#      that stack with pam_unix replaced by pam_matrix (passdb file);
#  (b) the usual pam_faillock stack (pam_faillock(8)) with the module after
#      the password: both count in the same tally files.
#
# usage: pam_stack.sh MODULE PRELOAD PAM_LOGIN SKCTL PAM_CONFIGS_DIR
#                     LIBPAM_WRAPPER [ASAN_RUNTIME]
# Exit 77 (skip) only when a prerequisite is missing: no private mount
# namespace allowed, pamtester/pam-auth-update/pam_matrix not installed.
set -u

module=${1:?}
preload=${2:?}
pam_login=${3:?}
skctl=${4:?}
configs=${5:?}
pwrap=${6:?}
asan_rt=${7:-}

fail=0
PIN=2580
RP=pam://mg-stack
USER_=daemon		# pam_faillock wants an account that exists

say() { printf '%s\n' "$*"; }
bad() {
	say "FAIL: $*" >&2
	fail=1
}
skip() {
	say "SKIP: $*" >&2
	exit 77
}

for tool in pamtester pam-auth-update unshare faillock mount sha256sum; do
	command -v "$tool" >/dev/null || skip "$tool is not installed"
done
pamdir=
for d in /usr/lib/x86_64-linux-gnu/security /lib/x86_64-linux-gnu/security \
    /usr/lib64/security /usr/lib/security /lib/security; do
	if [ -e "$d/pam_deny.so" ]; then
		pamdir=$d
		break
	fi
done
[ -n "$pamdir" ] || skip "pam_deny.so not found"
[ -e "$pamdir/pam_faillock.so" ] || skip "pam_faillock.so not installed"
matrix=$(dirname "$pwrap")/pam_wrapper/pam_matrix.so
[ -e "$matrix" ] || skip "pam_matrix.so not found ($matrix)"
unshare --mount true 2>/dev/null ||
	skip "a private mount namespace is not permitted here"

W=$(mktemp -d /tmp/mg-stack.XXXXXX) || exit 1
[ -n "${MG_KEEP:-}" ] || trap 'rm -rf "$W"' EXIT
mkdir -m 0700 "$W/drop" "$W/counters" "$W/svc" && mkdir -m 0755 "$W/tally" ||
	exit 1

# ---- (a) common-auth from pam-auth-update --------------------------------

host_dirs=(/etc/pam.d /usr/share/pam-configs /var/lib/pam /var/cache/debconf)
snapshot() {
	find "${host_dirs[@]}" -xdev -type f -print0 2>/dev/null | sort -z |
	    xargs -0 sha256sum
	find "${host_dirs[@]}" -xdev -printf '%p %m %u %s\n' 2>/dev/null | sort
}
snapshot >"$W/host.before"

cp -a /etc/pam.d "$W/etc-pam.d" &&
    cp -a /usr/share/pam-configs "$W/pam-configs" &&
    cp -a /var/lib/pam "$W/var-lib-pam" &&
    cp -a /var/cache/debconf "$W/debconf" &&
    cp "$configs"/* "$W/pam-configs/" || exit 1
unshare --mount --propagation private bash -c '
	set -e
	W=$1
	mount --bind "$W/etc-pam.d" /etc/pam.d
	mount --bind "$W/pam-configs" /usr/share/pam-configs
	mount --bind "$W/var-lib-pam" /var/lib/pam
	mount --bind "$W/debconf" /var/cache/debconf
	DEBIAN_FRONTEND=noninteractive pam-auth-update --package \
	    --enable mynaguard mynaguard-preauth mynaguard-authfail
	cp /etc/pam.d/common-auth "$W/common-auth.generated"
' unshare-pam "$W" >"$W/pam-auth-update.out" 2>&1 ||
	bad "pam-auth-update in a private namespace:" \
	    "$(cat "$W/pam-auth-update.out")"

snapshot >"$W/host.after"
if ! cmp -s "$W/host.before" "$W/host.after"; then
	bad "the host's PAM or debconf files changed:"
	diff "$W/host.before" "$W/host.after" >&2
fi
[ -s "$W/common-auth.generated" ] || {
	say "FAIL: no common-auth was generated" >&2
	exit 1
}
say "--- generated common-auth (auth lines)"
grep -E '^auth' "$W/common-auth.generated"

# Order and jumps: preauth before the password, authfail right after the
# Primary modules, the password's success jump landing on pam_permit, the
# key after pam_permit (the "Additional" block).
mapfile -t lines < <(grep -E '^auth' "$W/common-auth.generated" |
    tr -s ' \t' ' ' | sed 's/ $//')
idx() {
	local i
	for i in "${!lines[@]}"; do
		if [[ ${lines[$i]} == $1 ]]; then
			echo "$i"
			return
		fi
	done
	echo -1
}
i_pre=$(idx 'auth requisite pam_mynaguard.so preauth')
i_unix=$(idx 'auth \[success=* default=ignore\] pam_unix.so*')
i_fail=$(idx 'auth \[default=die\] pam_mynaguard.so authfail')
i_deny=$(idx 'auth requisite pam_deny.so')
i_permit=$(idx 'auth required pam_permit.so')
i_key=$(idx 'auth required pam_mynaguard.so')
say "positions: preauth=$i_pre unix=$i_unix authfail=$i_fail deny=$i_deny" \
    "permit=$i_permit key=$i_key"
for v in "$i_pre" "$i_unix" "$i_fail" "$i_deny" "$i_permit" "$i_key"; do
	[ "$v" -ge 0 ] || bad "a line of the mynaguard stack is missing"
done
[ "$i_pre" -lt "$i_unix" ] || bad "preauth must come before pam_unix"
[ $((i_fail + 1)) -eq "$i_deny" ] ||
	bad "authfail must be the last Primary line, before pam_deny"
[ "$i_unix" -lt "$i_fail" ] || bad "authfail must follow pam_unix"
[ "$i_permit" -lt "$i_key" ] || bad "the key step must follow pam_permit"
jump=$(sed -n 's/.*\[success=\([0-9]*\) .*/\1/p' <<<"${lines[$i_unix]}")
[ $((i_unix + jump + 1)) -eq "$i_permit" ] ||
	bad "pam_unix's success=$jump does not land on pam_permit"
[ "$(grep -c pam_mynaguard "$W/common-auth.generated")" -eq 3 ] ||
	bad "pam_mynaguard.so must appear exactly 3 times"

# ---- the run-time pieces ---------------------------------------------------

softkey=$W/key.state
"$skctl" init "$softkey" --pin "$PIN" >/dev/null || exit 1
printf '%s:secret:mg-login\n%s:secret:mg-faillock\n' "$USER_" "$USER_" \
    >"$W/passdb"
export SOFTKEY_STATE=$softkey
# (pam_login is ours: under ASan it carries the runtime itself)
LD_PRELOAD="$preload" "$pam_login" enroll "$W/creds" "$RP" "$USER_" \
    "$softkey" "$PIN" >"$W/key.id" || exit 1
key_id=$(cat "$W/key.id")

policy() {	# name threshold
	cat >"$W/$1" <<EOF
[devices]
default block

[login]
require-key = *
user-verification = required
lockout-threshold = $2
unlock-after = 15m
credentials = $W/creds
relying-party = $RP
key-timeout = 2s
EOF
	chmod 0644 "$W/$1"
}
policy stack.conf 5
policy faillock.conf 10
args() {	# policy
	echo "policy=$W/$1 socket=$W/no-agent.sock dropdir=$W/drop" \
	    "tallydir=$W/tally counterdir=$W/counters"
}

# The generated stack, runnable: absolute module paths, pam_matrix for
# pam_unix, our arguments.
sed -e "s|pam_unix\.so.*\$|$matrix passdb=$W/passdb|" \
    -e "s|pam_mynaguard\.so\(.*\)\$|$module\1 $(args stack.conf)|" \
    -e "s|\([[:space:]]\)\(pam_[a-z0-9_]*\.so\)|\1$pamdir/\2|g" \
    "$W/common-auth.generated" >"$W/svc/mg-login"
# (inlined: under pam_wrapper, libpam resolves "@include common-auth" in
# the real /etc/pam.d, not in the service directory)
echo "auth required $pamdir/pam_deny.so" >"$W/svc/other"
fl="dir=$W/tally deny=3 unlock_time=600"
cat >"$W/svc/mg-faillock" <<EOF
auth requisite $pamdir/pam_faillock.so preauth $fl
auth [success=1 default=bad] $matrix passdb=$W/passdb
auth [default=die] $pamdir/pam_faillock.so authfail $fl
auth requisite $module $(args faillock.conf)
auth sufficient $pamdir/pam_faillock.so authsucc $fl
auth required $pamdir/pam_deny.so
EOF
say "--- runnable stacks"
grep -h '^auth' "$W/svc/mg-login" "$W/svc/mg-faillock"

# login SERVICE PASSWORD [PIN]: pamtester's exit status; output in $out
login() {
	local input=$2$'\n'${3:-}$'\n'
	local libs="${asan_rt:+$asan_rt }$pwrap $preload"
	out=$(printf '%s' "$input" | env LD_PRELOAD="$libs" PAM_WRAPPER=1 \
	    PAM_WRAPPER_SERVICE_DIR="$W/svc" \
	    pamtester -v "$1" "$USER_" authenticate 2>&1)
}
events() {
	"$pam_login" events "$W/drop"
}
# expect WHAT STATUS EVENTS: the last login's status and its events
expect() {
	local what=$1 want=$2 ev_want=$3 ev
	ev=$(events)
	if { [ "$want" = 0 ] && [ "$rc" != 0 ]; } ||
	    { [ "$want" != 0 ] && [ "$rc" = 0 ]; }; then
		bad "$what: pamtester exit $rc, expected $want"
		say "$out" >&2
	fi
	if [ "$ev" != "$ev_want" ]; then
		bad "$what: events"
		say "  expected: $ev_want" >&2
		say "  seen:     $ev" >&2
	fi
}
failures() {
	faillock --dir "$W/tally" --user "$USER_" | grep -c ' V$'
}

# ---- (a) run ----------------------------------------------------------------
say "--- (a) common-auth"
login mg-login secret "$PIN"; rc=$?
expect "right password and key" 0 \
    "login-succeeded user=$USER_ service=mg-login key=$key_id"
grep -q 'successfully authenticated' <<<"$out" || bad "no success: $out"
grep -q 'Security key PIN (then touch the key)' <<<"$out" ||
	bad "the key step did not ask for the PIN: $out"

login mg-login wrong; rc=$?
expect "wrong password" 1 \
    "login-failed reason=password user=$USER_ service=mg-login failures=1"
grep -q 'PIN' <<<"$out" && bad "the key was asked after a wrong password"
[ "$(failures)" = 1 ] || bad "faillock lists $(failures) failures, not 1"

who="user=$USER_ service=mg-login"
for n in 2 3 4; do
	login mg-login wrong; rc=$?
	expect "wrong password $n" 1 \
	    "login-failed reason=password $who failures=$n"
done
login mg-login wrong; rc=$?
ev=$(events)
[[ $ev == "login-failed reason=password $who failures=5 locked_until="* ]] ||
	bad "5th wrong password: $ev"
grep -q 'locked after 5 failed logins. Try again in 15 minutes.' <<<"$out" ||
	bad "5th wrong password: no lock message: $out"

login mg-login secret "$PIN"; rc=$?
ev=$(events)
[ "$rc" != 0 ] || bad "locked account: the right password let in"
[[ $ev == "login-locked-out reason=locked $who failures=5 locked_until="* ]] ||
	bad "locked account: $ev"
grep -q 'Password' <<<"$out" && bad "locked account: the password was asked"
grep -q 'The account is locked after 5 failed logins' <<<"$out" ||
	bad "locked account: no lock message: $out"

faillock --dir "$W/tally" --user "$USER_" --reset || bad "faillock --reset"
login mg-login secret "$PIN"; rc=$?
expect "after faillock --reset" 0 \
    "login-succeeded user=$USER_ service=mg-login key=$key_id"

# ---- (b) the usual pam_faillock stack ---------------------------------------
say "--- (b) pam_faillock stack"
login mg-faillock secret "$PIN"; rc=$?
expect "faillock stack: right password and key" 0 \
    "login-succeeded user=$USER_ service=mg-faillock key=$key_id"

"$skctl" set "$softkey" bad_sig=1 || exit 1
who="user=$USER_ service=mg-faillock"
for n in 1 2; do
	login mg-faillock secret "$PIN"; rc=$?
	expect "faillock stack: forged signature $n" 1 \
	    "login-failed reason=signature-invalid $who failures=$n key=$key_id"
done
[ "$(failures)" = 2 ] || bad "faillock does not list the module's 2" \
    "failures: $(faillock --dir "$W/tally" --user "$USER_")"
"$skctl" set "$softkey" bad_sig=0 || exit 1

# The third failure, a wrong password counted by pam_faillock itself,
# reaches deny=3 with the module's two.
login mg-faillock wrong; rc=$?
expect "faillock stack: wrong password" 1 ""
[ "$(failures)" = 3 ] || bad "faillock lists $(failures) failures, not 3"

login mg-faillock secret "$PIN"; rc=$?
expect "faillock stack: locked by pam_faillock" 1 ""
grep -q 'The account is locked due to 3 failed logins' <<<"$out" ||
	bad "pam_faillock's preauth did not refuse: $out"
grep -q 'Password' <<<"$out" && bad "locked: the password was asked"

faillock --dir "$W/tally" --user "$USER_" --reset || bad "faillock --reset"
login mg-faillock secret "$PIN"; rc=$?
expect "faillock stack: after --reset" 0 \
    "login-succeeded user=$USER_ service=mg-faillock key=$key_id"

[ "$fail" = 0 ] && say "pam_stack: ok"
exit "$fail"
