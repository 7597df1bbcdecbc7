#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Every event type the agent writes, checked against docs/events.schema.json.

Runs the real agent in a temporary directory (no collector: events stay in
the spool), makes it write every event type it can -- agent-started,
policy-loaded, policy-rejected, test, agent-reloaded, agent-stopped,
spool-recovered and events-dropped -- dumps the spool with
`mynaguard spool show --json --cert`, and checks that each body validates
against the schema, agrees with its signed record header, and that every
signature is valid and the chain unbroken.  Then checks that `spool show`
notices damage, a deleted record and a wrong certificate.

usage: event_schema.py BUILD_DIR SOURCE_DIR
Exit 0 all passed, 1 a check failed, 77 skipped (python3-jsonschema missing,
not root: the agent takes events from root only).
"""
import copy
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

try:
    import jsonschema
    from jsonschema import Draft202012Validator
except ImportError:
    print("SKIP: python3-jsonschema is not installed "
          "(apt-get install python3-jsonschema)")
    sys.exit(77)

AGENT_ID = "zeimu-pc01"
ALL_ACTIONS = ["agent-started", "policy-loaded", "policy-rejected", "test",
               "agent-reloaded", "agent-stopped", "spool-recovered",
               "events-dropped"]
# event/body.c: the types that are always critical.
ALWAYS_CRITICAL = {"agent-started", "agent-stopped", "policy-loaded",
                   "policy-rejected", "events-dropped", "spool-recovered"}
BROKEN_POLICY = "allow id 1234:5678 bogus\n"
TIMEOUT = 20.0

passes = 0
fails = 0


def ok(cond, what, detail=""):
    global passes, fails
    if cond:
        passes += 1
    else:
        fails += 1
        print("FAIL: %s%s" % (what, (": " + detail) if detail else ""))
    return cond


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=120, **kw)


class Env:
    def __init__(self, build, src, tmp):
        self.agent_bin = os.path.join(build, "agent", "mynaguard-agent")
        self.cli = os.path.join(build, "cli", "mynaguard")
        self.src = src
        self.tmp = tmp
        self.pki = os.path.join(tmp, "pki")
        self.cert = os.path.join(self.pki, AGENT_ID + ".pem")
        self.policy = os.path.join(tmp, "policy.conf")
        self.proc = None
        self.log = None
        self.sock = None
        self.drop = None

    def start(self, name, spool, config_text):
        """Start the agent as the documentation says, with its own config
        file so that /etc/mynaguard/agent.conf cannot leak in."""
        conf = os.path.join(self.tmp, name + ".conf")
        with open(conf, "w") as f:
            f.write(config_text)
        self.sock = os.path.join(self.tmp, name + ".sock")
        self.drop = os.path.join(self.tmp, name + ".drop")
        self.log = open(os.path.join(self.tmp, name + ".log"), "a")
        self.proc = subprocess.Popen([
            self.agent_bin, "--config", conf, "--spool", spool,
            "--socket", self.sock, "--drop-dir", self.drop,
            "--ca", os.path.join(self.pki, "ca.pem"), "--cert", self.cert,
            "--key", os.path.join(self.pki, AGENT_ID + ".key"),
            "--policy", self.policy, "--host-name", AGENT_ID],
            stdout=self.log, stderr=self.log)
        end = time.monotonic() + TIMEOUT
        while time.monotonic() < end and self.proc.poll() is None:
            if self.status() is not None:
                return True
            time.sleep(0.05)
        return False

    def status(self):
        r = run([self.cli, "status", "--json", "--socket", self.sock])
        return json.loads(r.stdout) if r.returncode == 0 else None

    def wait_head(self, seq):
        end = time.monotonic() + TIMEOUT
        while time.monotonic() < end:
            st = self.status()
            if st is not None and st["head_seq"] >= seq:
                return st
            time.sleep(0.05)
        return None

    def head(self):
        st = self.status()
        return st["head_seq"] if st else 0

    def send(self, message, *extra):
        return run([self.cli, "event", "send", "--socket", self.sock,
                    "--drop-dir", self.drop, "--message", message] +
                   list(extra))

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        self.log.close()
        return rc

    def show(self, spool, cert=None):
        cmd = [self.cli, "spool", "show", "--json"]
        if cert:
            cmd += ["--cert", cert]
        return run(cmd + [spool])


def segments(spool):
    return sorted(os.path.join(spool, n) for n in os.listdir(spool)
                  if n.startswith("seg-") and n.endswith(".log"))


def split_records(data):
    """(offset, bytes) of each record: "MYE1" | rec_len u32 | ..."""
    out, off = [], 0
    while off + 8 <= len(data) and data[off:off + 4] == b"MYE1":
        n = int.from_bytes(data[off + 4:off + 8], "big")
        out.append((off, data[off:off + n]))
        off += n
    return out


def scenario_lifecycle(env, spool):
    """Everything but events-dropped, in one spool."""
    shutil.copy(os.path.join(env.src, "policy", "mynumber-terminal.conf"),
                env.policy)
    if not ok(env.start("life", spool, "# defaults\n"), "agent starts"):
        return
    ok(env.wait_head(2) is not None, "agent-started and policy-loaded")
    r = env.send("窓口端末の動作確認\ttab and\nnewline", "--user", "yamada")
    ok(r.returncode == 0, "event send (test)", r.stderr)
    r = env.send("critical test", "--critical")
    ok(r.returncode == 0, "event send --critical", r.stderr)
    head = env.head()
    env.signal(signal.SIGHUP)  # agent-reloaded, policy-loaded
    ok(env.wait_head(head + 2) is not None, "SIGHUP writes two records")
    with open(env.policy, "w") as f:
        f.write(BROKEN_POLICY)
    head = env.head()
    env.signal(signal.SIGHUP)  # agent-reloaded, policy-rejected
    ok(env.wait_head(head + 2) is not None, "broken policy is recorded")
    shutil.copy(os.path.join(env.src, "policy", "mynumber-terminal.conf"),
                env.policy)
    ok(env.stop() == 0, "agent stops cleanly on SIGTERM")
    # A record torn mid-write: the first half of the last record again.
    if not ok(len(segments(spool)) > 0, "the spool has segments"):
        return
    seg = segments(spool)[-1]
    with open(seg, "rb") as f:
        last = split_records(f.read())[-1][1]
    with open(seg, "ab") as f:
        f.write(last[:len(last) // 2])
    ok(env.start("life", spool, "# defaults\n"), "agent restarts")
    r = env.send("after recovery")
    ok(r.returncode == 0, "event send after restart", r.stderr)
    ok(env.stop() == 0, "agent stops again")


def scenario_dropped(env, spool):
    """A 1 MiB spool and kilobyte events until the agent drops some."""
    conf = "[Spool]\nMaxSize=1MiB\nReserve=64KiB\nCommitInterval=0\n"
    if not ok(env.start("small", spool, conf),
              "agent with a 1 MiB spool starts"):
        return
    filler = "x" * 1000
    dropped = 0
    for i in range(3000):
        # On a loaded machine a send can time out; say so, try again.
        for attempt in range(3):
            r = env.send("%d %s" % (i, filler))
            if r.returncode == 0:
                break
            print("NOTE: event send #%d attempt %d: %s" %
                  (i, attempt + 1, r.stderr.strip()))
        if not ok(r.returncode == 0, "event send #%d" % i, r.stderr):
            break
        if i % 100 == 99:
            st = env.status()
            dropped = st["spool_dropped"] if st else 0
            if dropped > 0:
                break
    ok(dropped > 0, "the full spool dropped non-critical records")
    ok(env.stop() == 0, "small agent stops")


def why_invalid(schema, action, body):
    """The error against the branch of this action (oneOf alone would only
    say that no branch matched)."""
    if action in schema["$defs"]:
        schema = dict(schema, oneOf=[{"$ref": "#/$defs/" + action}])
    err = jsonschema.exceptions.best_match(
        Draft202012Validator(schema).iter_errors(body))
    if err is None:
        return ""
    return "%s at /%s" % (err.message[:200], "/".join(map(str, err.path)))


def check_dump(env, spool, schema, seen):
    """Validate every record of spool; add their actions to seen."""
    v = Draft202012Validator(schema)
    r = env.show(spool, env.cert)
    ok(r.returncode == 0, "spool show %s exits 0" % os.path.basename(spool),
       r.stderr)
    lines = r.stdout.splitlines()
    ok(len(lines) > 0, "spool show printed records")
    prev_seq = 0
    for line in lines:
        rec = json.loads(line)
        body = rec["body"]
        action = body.get("event", {}).get("action", "?")
        seen.add(action)
        what = "seq %d (%s)" % (rec["seq"], action)
        ok(v.is_valid(body), what + " body matches the schema",
           why_invalid(schema, action, body))
        ok(rec["signature"] == "valid", what + " signature valid",
           rec["signature"])
        # Gaps here can only be records dropped for space.
        want_chain = "dropped" if prev_seq and rec["seq"] > prev_seq + 1 \
            else "ok"
        ok(rec["chain"] == want_chain, what + " chain " + want_chain,
           rec["chain"])
        prev_seq = rec["seq"]
        # The body repeats the signed header; they must agree.
        ok(body["event"]["sequence"] == rec["seq"] and
           body["mynaguard"]["boot_id"] == rec["boot_id"] and
           body["agent"]["id"] == rec["agent_id"] == AGENT_ID and
           body["@timestamp"] == rec["time"], what + " body = header")
        critical = "critical" in rec["flags"]
        ok(critical or action not in ALWAYS_CRITICAL,
           what + " critical flag", str(rec["flags"]))
        ok(("loss" in rec["flags"]) == (action == "events-dropped"),
           what + " loss flag", str(rec["flags"]))
    return [json.loads(line) for line in lines]


def check_schema_rejects(schema, records):
    """The schema is closed: a few wrong bodies must fail it."""
    v = Draft202012Validator(schema)
    by = {r["body"]["event"]["action"]: r["body"] for r in records}
    cases = []
    if "agent-started" in by:
        b = copy.deepcopy(by["agent-started"])
        b["extra"] = 1
        cases.append(("unknown top-level key", b))
        b = copy.deepcopy(by["agent-started"])
        del b["agent"]["version"]
        cases.append(("agent-started without agent.version", b))
        b = copy.deepcopy(by["agent-started"])
        b["user"] = {"name": "x"}
        cases.append(("user.name on agent-started", b))
    if "test" in by:
        b = copy.deepcopy(by["test"])
        b["event"]["action"] = "usb-blocked"
        cases.append(("unknown action", b))
        b = copy.deepcopy(by["test"])
        b["event"]["outcome"] = "failure"
        cases.append(("wrong outcome for test", b))
    if "policy-rejected" in by:
        b = copy.deepcopy(by["policy-rejected"])
        del b["event"]["reason"]
        cases.append(("policy-rejected without event.reason", b))
    if "events-dropped" in by:
        b = copy.deepcopy(by["events-dropped"])
        b["mynaguard"]["loss"]["ranges"] = []
        cases.append(("events-dropped without ranges", b))
    for what, b in cases:
        ok(not v.is_valid(b), "schema rejects " + what)


def check_show_detects(env, spool):
    """spool show on damaged copies: exit 1 and the right diagnosis."""
    segs = segments(spool) if os.path.isdir(spool) else []
    if not ok(len(segs) > 0, "a spool to damage"):
        return
    seg = segs[0]
    with open(seg, "rb") as f:
        data = f.read()
    recs = split_records(data)
    if not ok(len(recs) >= 4, "four records in the first segment"):
        return
    # One flipped byte in the third record: reported with file and offset.
    bad = os.path.join(env.tmp, "damaged")
    shutil.copytree(spool, bad)
    off = recs[2][0]
    with open(os.path.join(bad, os.path.basename(seg)), "r+b") as f:
        f.seek(off + 40)
        b = f.read(1)
        f.seek(off + 40)
        f.write(bytes([b[0] ^ 0x55]))
    r = env.show(bad)
    ok(r.returncode == 1, "damaged spool: exit 1", str(r.returncode))
    ok("%s: offset %d:" % (os.path.basename(seg), off) in r.stderr,
       "damage reported with file and offset", r.stderr)
    ok(len(r.stdout.splitlines()) > 2, "later segments still shown")
    # A record cut out of the middle: a break, not a "dropped" gap.
    cut = os.path.join(env.tmp, "deleted")
    shutil.copytree(spool, cut)
    with open(os.path.join(cut, os.path.basename(seg)), "wb") as f:
        f.write(data[:recs[2][0]] + data[recs[3][0]:])
    r = env.show(cut)
    chains = [(json.loads(x)["seq"], json.loads(x)["chain"])
              for x in r.stdout.splitlines()]
    ok(r.returncode == 1, "deleted record: exit 1", str(r.returncode))
    ok((4, "break") in chains, "deleted record: break at seq 4", str(chains))
    # Another terminal's certificate: every signature invalid.
    r = run([os.path.join(env.src, "tools", "mkcerts.sh"), "terminal",
             env.pki, "zeimu-pc02"])
    r = env.show(spool, os.path.join(env.pki, "zeimu-pc02.pem"))
    sigs = {json.loads(x)["signature"] for x in r.stdout.splitlines()}
    ok(r.returncode == 1 and sigs == {"invalid"},
       "wrong certificate: all invalid, exit 1", str(sigs))


def main():
    if len(sys.argv) != 3:
        print("usage: event_schema.py BUILD_DIR SOURCE_DIR", file=sys.stderr)
        return 2
    build, src = sys.argv[1], sys.argv[2]
    if os.geteuid() != 0:
        print("SKIP: the agent takes events from root only")
        return 77
    with open(os.path.join(src, "docs", "events.schema.json")) as f:
        schema = json.load(f)
    Draft202012Validator.check_schema(schema)
    tmp = tempfile.mkdtemp(prefix="mg-evschema.")
    env = Env(build, src, tmp)
    seen = set()
    try:
        os.mkdir(env.pki, 0o700)
        for args in (["ca", env.pki], ["terminal", env.pki, AGENT_ID]):
            r = run([os.path.join(src, "tools", "mkcerts.sh")] + args)
            if not ok(r.returncode == 0, "mkcerts.sh " + args[0], r.stderr):
                return 1
        life = os.path.join(tmp, "spool-life")
        small = os.path.join(tmp, "spool-small")
        scenario_lifecycle(env, life)
        scenario_dropped(env, small)
        records = check_dump(env, life, schema, seen)
        records += check_dump(env, small, schema, seen)
        for a in ALL_ACTIONS:
            ok(a in seen, "the agent wrote %s" % a)
        check_schema_rejects(schema, records)
        check_show_detects(env, life)
    finally:
        if env.proc is not None:
            env.stop()
        if fails:
            for n in ("life.log", "small.log"):
                p = os.path.join(tmp, n)
                if os.path.exists(p):
                    print("---- agent log %s ----" % n)
                    print(open(p).read())
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passes, fails))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
