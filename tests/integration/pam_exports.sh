#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The module's shape (STYLE 5.8, pam_u2f's dlsym_check): it loads with
# every symbol resolved (RTLD_NOW), exports pam_sm_authenticate and
# pam_sm_setcred, and nothing else: no libfido2, policy or event code
# another module could bind to by accident.
# Usage: pam_exports.sh PAM_MYNAGUARD_SO
set -euo pipefail
so=$1

got=$(nm -D --defined-only "$so" | awk '{ print $3 }' | sort | tr '\n' ' ')
want="pam_sm_authenticate pam_sm_setcred "
if [ "$got" != "$want" ]; then
	echo "FAIL: exported symbols: '$got', want '$want'" >&2
	exit 1
fi
echo "ok: exports exactly: $want"

python3 - "$so" <<'PY'
import ctypes, os, sys
lib = ctypes.CDLL(sys.argv[1], mode=os.RTLD_NOW | os.RTLD_LOCAL)
for name in ("pam_sm_authenticate", "pam_sm_setcred"):
    getattr(lib, name)
# Our own code only: dlsym() also searches the module's dependencies
# (libfido2, libpam), whose symbols are theirs to export.
for name in ("pam_sm_acct_mgmt", "pmod_fido_login", "pol_policy_parse",
             "pmod_creds_load", "mg_submit_event", "file_read_all"):
    try:
        getattr(lib, name)
    except AttributeError:
        continue
    print("FAIL: %s reachable through the module" % name, file=sys.stderr)
    sys.exit(1)
print("ok: dlopen(RTLD_NOW) and dlsym as PAM does")
PY
