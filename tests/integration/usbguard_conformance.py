#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Compare `mynaguard policy show --ascii` with Debian's usbguard-rule-parser.

Every rule of usbguard's own test vectors (read in place from
../shared/conformance/usbguard-rules) and of tests/data/usbguard-extra.rules
is given to both programs, one rule at a time. A rule usbguard accepts must be
accepted with the same normalized text; a rule it rejects must be rejected.
The only exceptions are the deliberate deviations listed in
tests/data/usbguard-deviations.tsv, and `rule-evaluated`, which usbguard
rewrites to `rule-applied` (a known usbguard bug we do not copy).

usage: usbguard_conformance.py MYNAGUARD SOURCE_DIR SHARED_DIR
Exit 0 when everything agrees, 1 on a difference, 77 (skip) when
usbguard-rule-parser is not installed.
"""
import os
import shutil
import subprocess
import sys

REJECT = "REJECT"


def usbguard(rule):
    """usbguard's normalized text of rule, or REJECT."""
    res = subprocess.run(["usbguard-rule-parser", "--", rule],
                         capture_output=True, text=True, errors="replace")
    for line in res.stdout.splitlines():
        if line.startswith("OUTPUT:"):
            return line[len("OUTPUT:"):].strip()
    return REJECT


def mynaguard(binary, rule):
    res = subprocess.run([binary, "policy", "show", "--ascii", "-"],
                         input=(rule + "\n").encode(), capture_output=True)
    if res.returncode != 0:
        return REJECT
    return res.stdout.decode("utf-8", "replace").rstrip("\n")


def load_deviations(path):
    dev = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            reason, rule, expect = line.split("\t")
            dev[rule.replace("\\t", "\t")] = (reason, expect)
    return dev


def rules_of(path):
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.strip() and not line.lstrip().startswith("#"):
                yield line


def check(binary, rule, dev, counts):
    ref = usbguard(rule)
    ours = mynaguard(binary, rule)
    if rule in dev:
        reason, expect = dev[rule]
        if ours != expect:
            return f"deviation '{reason}' not kept: got {ours!r}"
        if ref == ours:
            return f"listed deviation '{reason}' but usbguard agrees"
        counts["deviation"] += 1
        return None
    if "rule-evaluated" in rule and ref != REJECT:
        # usbguard prints rule-evaluated as rule-applied; we keep it.
        if "rule-evaluated" not in ours:
            return "rule-evaluated was not kept"
        ours = ours.replace("rule-evaluated", "rule-applied")
        counts["rule-evaluated"] += 1
    if ours != ref:
        return f"usbguard: {ref!r}\n    mynaguard: {ours!r}"
    counts["accepted" if ref != REJECT else "rejected"] += 1
    return None


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    binary, source, shared = sys.argv[1:]
    if shutil.which("usbguard-rule-parser") is None:
        print("usbguard-rule-parser not installed: skipped")
        return 77
    vectors = os.path.join(shared, "conformance", "usbguard-rules")
    files = [os.path.join(vectors, "test-rules.good"),
             os.path.join(vectors, "test-rules.bad"),
             os.path.join(source, "tests", "data", "usbguard-extra.rules")]
    for f in files[:2]:
        if not os.path.exists(f):
            print(f"{f} missing: skipped")
            return 77
    dev = load_deviations(os.path.join(source, "tests", "data",
                                       "usbguard-deviations.tsv"))
    counts = {"accepted": 0, "rejected": 0, "rule-evaluated": 0,
              "deviation": 0}
    failures = 0
    seen = set()
    for path in files:
        for rule in rules_of(path):
            seen.add(rule)
            err = check(binary, rule, dev, counts)
            if err:
                failures += 1
                print(f"DIFF {os.path.basename(path)}: {rule!r}\n    {err}")
    for rule in dev:
        if rule not in seen:
            failures += 1
            print(f"deviation listed but not in any rule file: {rule!r}")
    total = (counts["accepted"] + counts["rejected"] + counts["deviation"] +
             failures)
    print(f"{total} rules: {counts['accepted']} accepted alike (of which "
          f"{counts['rule-evaluated']} keep rule-evaluated), "
          f"{counts['rejected']} rejected alike, {counts['deviation']} "
          f"documented deviations, {failures} differences")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
