# SPDX-License-Identifier: BSD-2-Clause
"""Scenario L1 of tests/vm/e2e.py: a FIDO2 login end to end, through the real hidraw path.

In the guest, tests/softkey/softkey-uhid makes software keys appear as UHID devices
(BUS_USB, usage page 0xF1D0): the kernel gives them /dev/hidrawN, udev announces them, and
libfido2 inside pam_mynaguard.so (run by pamtester) finds, opens and flock()s them exactly
as it would a real key. The key is enrolled with `mynaguard key enroll`; the guest's agent
signs the login events into its spool, which is then shipped, as an offline terminal's
would be, to a mynaguard-collector on the host that verifies every signature.

Checks (see l1_login): uhid/hidraw, libfido2 lists the key, enrollment, a good PIN, a wrong
PIN (one retry used), an unenrolled key alone, both keys, a login killed (SIGTERM) during the
touch wait and the next one, and the events at the collector.
"""
import json, os, re, sqlite3, subprocess, time

from ecs import get

PIN = "2468"
WRONG_PIN = "1357"
OTHER_PIN = "9753"          # the second, never enrolled key's own PIN
USER = "staff1"
SERVICE = "mynaguard-e2e"
RP = "pam://town.example"
KEY_TIMEOUT_S = 5
LPOLICY = "/etc/mynaguard/login-policy.conf"
CREDS = "/etc/mynaguard/credentials"
SOCKET = "/run/mynaguard/events.sock"
DROP = "/var/lib/mynaguard/drop"
LD = "/run/mg-login"

LOGIN_SECTION = f"""[login]
# tests/vm/login.py: every user needs a key, with its PIN; 3 failures lock.
require-key = *
user-verification = required
lockout-threshold = 3
unlock-after = 15m
break-glass =
credentials = {CREDS}
relying-party = {RP}
key-timeout = {KEY_TIMEOUT_S}s
key-models =
"""


def one_line(text, n=400):
    return text.strip().replace("\n", " | ")[-n:]


# ---- host-side preparation ------------------------------------------------------------------
def login_policy(device_policy):
    """The guest's device policy with its [login] section replaced by LOGIN_SECTION."""
    m = re.search(r"^\[login\][^\n]*\n", device_policy, re.M)
    if m is None:
        head, tail = device_policy, ""
    else:
        head = device_policy[:m.start()]
        rest = device_policy[m.end():]
        n = re.search(r"^\[[a-z]+\]", rest, re.M)
        tail = rest[n.start():] if n else ""
    return head.rstrip("\n") + "\n\n" + LOGIN_SECTION + ("\n" + tail if tail else "")


def prepare(c):
    """share/login/policy.conf and share/login/pam-service; returns (ok, detail) of the
    login policy's `mynaguard policy check`."""
    share = os.path.join(c.work, "share")
    d = os.path.join(share, "login")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(share, "etc", "policy.conf")) as f:
        text = login_policy(f.read())
    pol = os.path.join(d, "policy.conf")
    with open(pol, "w") as f:
        f.write(text)
    b = c.a.build
    args = (f"policy={LPOLICY} socket={SOCKET} dropdir={DROP} tallydir={LD}/tally "
            f"counterdir={LD}/counters localedir={b}/locale event_timeout=3000")
    with open(os.path.join(d, "pam-service"), "w") as f:
        f.write("# tests/vm/login.py: the key step alone, as pamtester drives it\n"
                f"auth required {b}/pam_module/pam_mynaguard.so {args}\n"
                "account required pam_permit.so\n")
    mg = os.path.join(b, "cli", "mynaguard")
    if not os.access(mg, os.X_OK):
        return False, f"{mg} not built"
    r = subprocess.run([mg, "policy", "check", pol], capture_output=True, text=True)
    return r.returncode == 0, one_line(r.stdout + r.stderr, 300)


# ---- shipping the guest's spool to a collector on the host ----------------------------------
class Shipper:
    """mynaguard-collector on 127.0.0.1 and a host-side mynaguard-agent with the guest's
    identity (its certificate) that ships a copy of the guest's spool, as tools/demo.sh does
    with the demo terminal's."""

    def __init__(self, c):
        self.c = c
        self.dir = os.path.join(c.work, "ship")
        self.pki = os.path.join(c.work, "pki")
        self.procs = []
        self.port = None

    def _start(self, argv, log):
        f = open(log, "wb")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                             start_new_session=True)
        f.close()
        self.procs.append(p)
        return p

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.procs = []

    def run(self, spool, agent_id, host_name):
        """Returns (ok, detail). The spool directory is shipped in place."""
        b, src = self.c.a.build, self.c.a.src
        os.makedirs(self.dir, exist_ok=True)
        r = subprocess.run(["bash", os.path.join(src, "tools", "mkcerts.sh"), "server", self.pki,
                            "localhost"], capture_output=True, text=True)
        if r.returncode != 0:
            return False, "mkcerts.sh server: " + one_line(r.stderr, 200)
        empty = os.path.join(self.dir, "empty.conf")
        open(empty, "w").close()
        # The shipping agent runs on this host: a policy that leaves its devices alone.
        allow = os.path.join(self.dir, "allow.conf")
        with open(allow, "w") as f:
            f.write("[policy]\nversion = 1\n[devices]\ndefault allow\n")
        clog = os.path.join(self.dir, "collector.log")
        self.db = os.path.join(self.dir, "collector.db")
        coll = self._start([os.path.join(b, "collector", "mynaguard-collector"), "--config", empty,
                            "--listen", "127.0.0.1", "--port", "0", "--database", self.db,
                            "--certificate", os.path.join(self.pki, "localhost.pem"),
                            "--key", os.path.join(self.pki, "localhost.key"),
                            "--ca", os.path.join(self.pki, "ca.pem")], clog)
        deadline = time.monotonic() + 15
        while self.port is None and time.monotonic() < deadline and coll.poll() is None:
            with open(clog, errors="replace") as f:
                m = re.search(r"listening on .*:(\d+)\s*$", f.read(), re.M)
            if m:
                self.port = int(m.group(1))
            else:
                time.sleep(0.1)
        if self.port is None:
            with open(clog, errors="replace") as f:
                return False, "collector did not start: " + one_line(f.read(), 300)
        sock = os.path.join(self.dir, "agent.sock")
        alog = os.path.join(self.dir, "agent.log")
        # This host only carries the guest's spool: it is not the terminal,
        # so it sends no state report of its own under the guest's name.
        ship_conf = os.path.join(self.dir, "ship.conf")
        with open(ship_conf, "w") as f:
            f.write("[Agent]\nStateInterval=never\n")
        self._start([os.path.join(b, "agent", "mynaguard-agent"), "--config", ship_conf,
                     "--spool", spool, "--socket", sock, "--drop-dir", os.path.join(self.dir, "drop"),
                     "--collector", f"https://localhost:{self.port}/",
                     "--ca", os.path.join(self.pki, "ca.pem"),
                     "--cert", os.path.join(self.pki, agent_id + ".pem"),
                     "--key", os.path.join(self.pki, agent_id + ".key"),
                     "--policy", allow, "--host-name", host_name], alog)
        mg = os.path.join(b, "cli", "mynaguard")
        deadline = time.monotonic() + 30
        st = {}
        while time.monotonic() < deadline:
            r = subprocess.run([mg, "status", "--json", "--socket", sock], capture_output=True,
                               text=True)
            try:
                st = json.loads(r.stdout)
            except ValueError:
                st = {}
            h, a = find_key(st, "head_seq"), find_key(st, "acked_seq")
            if h is not None and h == a:
                return True, f"head_seq {h} acked by the collector on port {self.port}"
            time.sleep(0.2)
        with open(alog, errors="replace") as f:
            return False, f"not all acked in 30 s: status {st!r}; agent log: " + one_line(f.read(), 300)

    def rows(self):
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            ev = con.execute("SELECT agent_id, seq, action, verified, body FROM events "
                             "ORDER BY agent_id, seq").fetchall()
            # Integrity and state alerts only: blocked media, read-write
            # mounts and the like are security events the collector also
            # lists as alerts, and the device scenarios cause them on purpose.
            al = con.execute("SELECT agent_id, type, seq_from, seq_to, detail FROM alerts "
                             "WHERE type IN ('gap', 'chain-break', 'equivocation', "
                             "'forged', 'identity-mismatch', 'invalid', "
                             "'state-mismatch') ORDER BY id").fetchall()
        finally:
            con.close()
        return ev, al


def find_key(obj, key):
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        for v in obj.values():
            r = find_key(v, key)
            if r is not None:
                return r
    return None


# ---- the scenario -------------------------------------------------------------------------
def l1_login(c):
    s = c.suite
    lib = f"{c.a.src}/tests/vm/guest-login.sh"

    def g(cmd, timeout=60):
        return c.g(f". {lib}; {cmd}", timeout=timeout)

    ok, detail = prepare(c)
    s.check("login policy ([login]: rp pam://town.example, UV required, key-timeout 5s, "
            "lockout 3) passes mynaguard policy check", ok, detail)
    for name in ("pam_module/pam_mynaguard.so", "tests/softkey/softkey-uhid", "tests/softkey/skctl",
                 "cli/mynaguard"):
        p = os.path.join(c.a.build, name)
        if not os.path.exists(p):
            s.check("login components built", False, f"{p} missing")
            return
    if not c.agent_alive():
        r = c.g("g_agent_start", timeout=60)
        s.check("agent (re)started for the login events", r.rc == 0, one_line(r.out, 300))

    # --- kernel side: uhid + hidraw, one software key, libfido2 sees it
    r = g("gl_modules")
    if not s.check("uhid loaded (/dev/uhid) and hidraw present in the guest kernel",
                   "uhid=yes" in r.out and "hidraw=yes" in r.out, one_line(r.out)):
        return
    r = g(f"gl_install && gl_key_init keyA && gl_key_init keyB {OTHER_PIN}")
    s.check(f"login policy root-owned in the guest, user {USER} created, PAM service "
            f"/etc/pam.d/{SERVICE} installed",
            r.rc == 0 and "policy root:root 644" in r.out and f"({USER})" in r.out, one_line(r.out))
    r = g("gl_key_plug keyA", timeout=60)
    new = [ln for ln in r.out.splitlines() if ln.startswith("new=hidraw")]
    if not s.check("softkey-uhid keyA ready and a /dev/hidraw node appeared", r.rc == 0 and bool(new),
                   one_line(r.out)):
        return
    node_a = "/dev/" + new[0].split()[0][4:]
    r = c.g("fido2-token -L 2>&1")
    s.check("libfido2 lists the software key (fido2-token -L)", node_a in r.out, one_line(r.out))

    # --- enrollment
    mg = f"{c.a.build}/cli/mynaguard"
    opts = f"--policy {LPOLICY} --socket {SOCKET} --drop-dir {DROP}"
    r = c.g(f"printf '%s\\n%s\\n' {PIN} {PIN} | {mg} key enroll {USER} --label 'e2e key A' --pin "
            f"{opts} 2>&1; echo rc=$?", timeout=90)
    s.check(f"mynaguard key enroll {USER} --pin (PIN on stdin) succeeds", r.out.rstrip().endswith("rc=0"),
            one_line(r.out))
    r = c.g(f"{mg} key list --policy {LPOLICY} 2>&1; stat -c '%U:%G %a' {CREDS}; "
            f"{mg} key list --json --policy {LPOLICY} {USER}")
    listed = []
    try:
        listed = json.loads(r.out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        pass
    listed = [k for k in listed if isinstance(k, dict) and k.get("user") == USER and
              k.get("label") == "e2e key A" and k.get("rp") == RP]
    list_id = listed[0].get("id") if len(listed) == 1 else None
    s.check(f"mynaguard key list shows {USER}'s key (label, rp {RP}); the credential file is "
            "root:root 0600", list_id is not None and "root:root 600" in r.out, one_line(r.out))
    r = c.g(f"{c.a.build}/tests/softkey/skctl get {LD}/keyA.state pin_set")
    s.info(f"keyA pin_set after enrollment: {r.out.strip()}")

    # --- logins
    r = g(f"gl_pam {USER} {PIN}", timeout=60)
    s.check("pamtester with the right PIN: authenticated (hidraw, PIN, touch, signature)",
            r.rc == 0 and "rc=0" in r.out, one_line(r.out))
    before = c.g(f"{c.a.build}/tests/softkey/skctl get {LD}/keyA.state retries").out.strip()
    r = g(f"gl_pam {USER} {WRONG_PIN}", timeout=60)
    after = c.g(f"{c.a.build}/tests/softkey/skctl get {LD}/keyA.state retries").out.strip()
    s.check("pamtester with a wrong PIN: refused", r.rc != 0 and "rc=0" not in r.out, one_line(r.out))
    s.check("the wrong PIN used exactly one of the key's PIN retries (skctl get retries)",
            before.isdigit() and after.isdigit() and int(after) == int(before) - 1,
            f"retries {before} -> {after}")

    r = g("gl_key_unplug keyA && gl_key_plug keyB", timeout=60)
    s.check("keyA unplugged, the unenrolled keyB plugged (its own softkey-uhid)",
            r.rc == 0 and "new=hidraw" in r.out, one_line(r.out))
    r = g(f"gl_pam {USER} {PIN}", timeout=60)
    s.check("pamtester with only the unenrolled key: refused", r.rc != 0 and "rc=0" not in r.out,
            one_line(r.out))
    r = g("gl_key_plug keyA", timeout=60)
    s.check("keyA plugged again beside keyB", r.rc == 0 and "new=hidraw" in r.out, one_line(r.out))
    r = g(f"gl_pam {USER} {PIN}", timeout=60)
    s.check("pamtester with both keys plugged: authenticated (the enrolled one is found)",
            r.rc == 0 and "rc=0" in r.out, one_line(r.out))

    # --- killed during the touch wait; the key must stay usable (CTAPHID INIT resync)
    skctl = f"{c.a.build}/tests/softkey/skctl"
    r = c.g(f"{skctl} set {LD}/keyA.state no_touch=1")
    t0 = time.monotonic()
    r = g(f"gl_pam_killed {USER} {PIN} 2", timeout=60)
    took = time.monotonic() - t0
    waiting = re.search(r"^before the signal: open /dev/hidraw\d+ .*state=S$", r.out, re.M)
    s.check("pamtester killed with SIGTERM while the key waits for a touch (no_touch=1; "
            "it sleeps with the hidraw node open)",
            waiting is not None and "sending SIGTERM" in r.out and r.out.rstrip().endswith("rc=143"),
            one_line(r.out) + f" ({took:.1f} s)")
    c.g(f"{skctl} set {LD}/keyA.state no_touch=0")
    r = g("gl_key_alive keyA && echo alive")
    s.check("keyA's softkey-uhid still running after the killed login", "alive" in r.out)
    r = g(f"gl_pam {USER} {PIN}", timeout=60)
    s.check("the next login (touch restored) is authenticated: the key stayed usable",
            r.rc == 0 and "rc=0" in r.out, one_line(r.out))
    g("gl_key_unplug keyB; gl_key_unplug keyA; gl_collect", timeout=60)

    # --- the events, signed by the guest's agent, verified at a collector on the host
    r = c.g(f"kill -STOP $(cat $AGENT_PID) && rm -rf /mnt/host/login-spool && "
            "cp -a $SPOOL /mnt/host/login-spool; rc=$?; "
            "kill -CONT $(cat $AGENT_PID); exit $rc", timeout=60)
    if not s.check("guest spool copied out (agent paused for the copy)", r.rc == 0, one_line(r.out + r.err)):
        return
    sh = Shipper(c)
    try:
        ok, detail = sh.run(os.path.join(c.work, "share", "login-spool"), "vmguest", "mynaguard-vm")
        s.check("the spool shipped to mynaguard-collector on the host (all records acked)", ok, detail)
    finally:
        sh.stop()
    if not ok:
        return
    ev, al = sh.rows()
    bodies = []
    for agent_id, seq, action, verified, body in ev:
        try:
            bodies.append((seq, action, verified, json.loads(body)))
        except ValueError:
            bodies.append((seq, action, verified, {}))
    unverified = [f"{seq}:{a}" for seq, a, v, _ in bodies if v != 1]
    s.check("every record at the collector has a verified signature",
            bool(bodies) and not unverified,
            f"{len(bodies)} records" + (f", unverified: {unverified[:10]}" if unverified else ""))
    s.check("the collector raised no integrity or state alert (no seq gap, no chain break, "
            "no forgery, no state mismatch)", not al,
            "; ".join(f"{t} {f}-{to} {d}" for _, t, f, to, d in al)[:400])

    def mine(action, reason=None):
        return [(seq, v, b) for seq, a, v, b in bodies
                if a == action and get(b, "user.name") == USER and
                (reason is None or get(b, "event.reason") == reason)]

    enrolled = mine("key-enrolled")
    key_id = get(enrolled[-1][2], "mynaguard.key.id") if enrolled else None
    if not (isinstance(key_id, str) and re.fullmatch(r"[0-9a-f]{64}", key_id)):
        key_id = None       # then no login event can match it either
    s.check(f"key-enrolled event for {USER}, verified at the collector, with the key id "
            "`key list` shows", bool(enrolled) and enrolled[-1][1] == 1 and key_id is not None and key_id == list_id,
            f"key id {key_id}, listed {list_id}" if enrolled else
            f"actions: {sorted({a for _, a, _, _ in bodies})}")

    def login_ok(b):
        return get(b, "mynaguard.login.service") == SERVICE

    succ = [x for x in mine("login-succeeded") if login_ok(x[2])]
    s.check("login-succeeded events (user, service, enrolled key id) verified: one per "
            "successful login (3)",
            key_id is not None and len(succ) == 3 and
            all(v == 1 and get(b, "mynaguard.key.id") == key_id for _, v, b in succ),
            f"{len(succ)} events: " + "; ".join(
                f"seq {q} verified={v} key={str(get(b, 'mynaguard.key.id'))[:12]}" for q, v, b in succ))
    bad = [x for x in mine("login-failed", "pin-invalid") if login_ok(x[2])]
    s.check("login-failed reason pin-invalid (user, service, key id) verified",
            key_id is not None and len(bad) == 1 and bad[0][1] == 1 and
            get(bad[0][2], "mynaguard.key.id") == key_id,
            f"{len(bad)} events" + (f", key {get(bad[0][2], 'mynaguard.key.id')}" if bad else
                                    f"; login-failed reasons: {[get(b, 'event.reason') for _, _, b in mine('login-failed')]}"))
    nm = [x for x in mine("login-failed", "no-matching-key") if login_ok(x[2])]
    s.check("login-failed reason no-matching-key (user, service) verified",
            len(nm) == 1 and nm[0][1] == 1,
            f"{len(nm)} events; login-failed reasons: "
            f"{[get(b, 'event.reason') for _, _, b in mine('login-failed')]}")
