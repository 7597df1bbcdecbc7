#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""mynaguard-agent deciding USB devices in a umockdev testbed.

The real agent runs in a fake /sys (umockdev, docs in
../shared/design/device-control.md section 4.1): a root hub usb1 and USB
devices with real binary `descriptors`, `authorized` 0 and interface
children.  "add" and "remove" uevents are synthesized; the test then reads
back what the agent wrote to sysfs (plain files in the testbed) and the
signed events in its spool (`mynaguard spool show --json`).

The policy is policy/mynumber-terminal.conf with one registered stick
(46f4:0001 serial "REG0001") inserted first in [devices].  Checks: hardening
at start (1), a stick, a composite BadUSB, a phone, a keyboard, hostile
strings, malformed descriptors, a device present at start, a registered
stick and a removal (2-10), `mynaguard device list` and `device rule` (11),
re-decision on SIGHUP (12), a central signed policy bundle (19: the
agent installs applied.bundle's policy and decides with it), the udev helper (mynaguard-udev) with the agent
and without it, and its queued events (13-15), a clean stop (16).

usage: [umockdev-wrapper] python3 umockdev_agent.py BUILD_DIR SOURCE_DIR
The script re-executes itself under /usr/bin/python3 (python3-gi) and under
umockdev-wrapper when needed.  Prints one "ok N - ..." / "not ok N - ..."
line per check.  Exit 0 all passed, 1 a check failed, 77 skipped (umockdev,
gir1.2-umockdev-1.0 or python3-gi missing).  Run as root: the agent serves
its socket to root only (SO_PEERCRED).  As another user the rules in 11 are
not compared, 13 is skipped and 12 waits a second instead of sending a
barrier event.  MG_KEEP_TMP=1 keeps the temporary directory and shows the
agent's log.
"""
import json
import os
import pwd
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

SKIP = 77
SYSTEM_PYTHON = "/usr/bin/python3"
PWNED = "/tmp/pwned-umockdev"
AGENT_ID = "umock-pc01"
WAIT = 5.0

HOSTILE_SERIAL = "Q\"'$(touch " + PWNED + ")`\n;|&<>"


def hostile_product():
    """250 bytes of UTF-8: Japanese, a quote, control bytes \\x01 and \\x7f."""
    s = "悪意のある\x01デバイス\x7f\"$(id)`;"
    while len((s + "名").encode()) <= 250:
        s += "名"
    s += "x" * (250 - len(s.encode()))
    assert len(s.encode()) == 250
    return s


HOSTILE_PRODUCT = hostile_product()


def load_umockdev():
    """UMockdev, after re-executing under python3-gi and the wrapper."""
    try:
        import gi
        gi.require_version("UMockdev", "1.0")
        from gi.repository import UMockdev
    except (ImportError, ValueError):
        if (os.access(SYSTEM_PYTHON, os.X_OK) and
                os.path.realpath(sys.executable) !=
                os.path.realpath(SYSTEM_PYTHON) and
                "MG_UMOCKDEV_SYSPY" not in os.environ):
            os.environ["MG_UMOCKDEV_SYSPY"] = "1"
            os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
        print("1..0 # SKIP python3-gi or gir1.2-umockdev-1.0 not installed")
        sys.exit(SKIP)
    if "libumockdev-preload" not in os.environ.get("LD_PRELOAD", ""):
        wrapper = shutil.which("umockdev-wrapper")
        if wrapper is None or "MG_UMOCKDEV_WRAPPED" in os.environ:
            print("1..0 # SKIP umockdev-wrapper not installed or not "
                  "working")
            sys.exit(SKIP)
        os.environ["MG_UMOCKDEV_WRAPPED"] = "1"
        os.execv(wrapper, [wrapper, sys.executable] + sys.argv)
    return UMockdev


# ---- descriptors -----------------------------------------------------------

def dev_desc(vid, pid, cls=0):
    return struct.pack("<BBHBBBBHHHBBBB", 18, 1, 0x0200, cls, 0, 0, 64,
                       vid, pid, 0x0100, 1, 2, 3, 1)


def iface_desc(num, cls, sub, proto):
    """An interface (alternate setting 0) with two bulk endpoints."""
    eps = (struct.pack("<BBBBHB", 7, 5, 0x81 + 2 * num, 2, 512, 0) +
           struct.pack("<BBBBHB", 7, 5, 0x02 + 2 * num, 2, 512, 0))
    return struct.pack("<BBBBBBBBB", 9, 4, num, 0, 2, cls, sub, proto,
                       0) + eps


def descriptors(vid, pid, ifaces):
    body = b"".join(iface_desc(i, *t) for i, t in enumerate(ifaces))
    conf = struct.pack("<BBHBBBBB", 9, 2, 9 + len(body), len(ifaces), 1,
                       0, 0x80, 50)
    return dev_desc(vid, pid) + conf + body


def truncated_descriptors(vid, pid):
    """The configuration claims 32 bytes; only 18 follow."""
    full = descriptors(vid, pid, [(0x08, 0x06, 0x50)])
    return full[:36]


# ---- the policy's escaping, for the log line -------------------------------

def deceptive(b):
    if len(b) == 2:
        return b[0] == 0xc2 and b[1] <= 0x9f
    if len(b) != 3:
        return False
    if b[0] == 0xef:
        return b[1] == 0xbb and b[2] == 0xbf
    if b[0] != 0xe2:
        return False
    if b[1] == 0x80:
        return b[2] in (0x8e, 0x8f) or 0xa8 <= b[2] <= 0xae
    return b[1] == 0x81 and 0xa6 <= b[2] <= 0xa9


def pol_quote(s):
    """policy/show.c show_string() for valid UTF-8."""
    out = '"'
    for ch in s:
        b = ch.encode()
        if ch in '"\\':
            out += "\\" + ch
        elif len(b) == 1 and 0x20 <= b[0] < 0x7f:
            out += ch
        elif len(b) > 1 and not deceptive(b):
            out += ch
        else:
            out += "".join("\\x%02x" % c for c in b)
    return out + '"'


# ---- the test --------------------------------------------------------------

class Test:
    def __init__(self, umockdev, build, src, tmp):
        self.agent_bin = os.path.join(build, "agent", "mynaguard-agent")
        self.cli = os.path.join(build, "cli", "mynaguard")
        self.helper = os.path.join(build, "agent", "mynaguard-udev")
        self.src = src
        self.tmp = tmp
        self.spool = os.path.join(tmp, "spool")
        self.sock = os.path.join(tmp, "agent.sock")
        self.policy = os.path.join(tmp, "policy.conf")
        self.log_path = os.path.join(tmp, "agent.log")
        self.proc = None
        self.failed = 0
        self.root = os.geteuid() == 0
        self.tb = umockdev.Testbed.new()
        self.sys = self.tb.get_sys_dir()
        # The user at the seat, as logind would say (for seat-user()).
        self.seat_user = pwd.getpwuid(os.geteuid()).pw_name
        self.env = dict(os.environ,
                        UMOCKDEV_DIR=os.path.dirname(self.sys),
                        MYNAGUARD_SEAT_USER=self.seat_user)
        # Sanitizer builds: the preload library comes before ASan's.
        asan = self.env.get("ASAN_OPTIONS", "")
        if "verify_asan_link_order" not in asan:
            self.env["ASAN_OPTIONS"] = (asan + ":" if asan else "") + \
                "verify_asan_link_order=0"
        self.rc = None
        self.hub = None
        self.devs = {}

    # -- reporting
    def check(self, n, what, cond, detail=""):
        if cond:
            print("ok %d - %s" % (n, what))
        else:
            self.failed += 1
            print("not ok %d - %s" % (n, what))
            for line in str(detail).splitlines():
                print("#   " + line)
        sys.stdout.flush()
        return cond

    def skip(self, n, what, why):
        print("ok %d - %s # SKIP %s" % (n, what, why))

    def run(self, *args, **kw):
        return subprocess.run(list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=30,
                              env=self.env, **kw)

    # -- the testbed
    def tbfile(self, path):
        """The real path of a /sys path in the testbed."""
        assert path.startswith("/sys/")
        return os.path.join(self.sys, path[len("/sys/"):])

    def read(self, path):
        try:
            with open(self.tbfile(path), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return None

    def write(self, path, text):
        p = self.tbfile(path)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)

    def add_hub(self):
        self.hub = self.tb.add_device(
            "usb", "usb1", None,
            ["authorized", "1", "authorized_default", "1",
             "interface_authorized_default", "1", "idVendor", "1d6b",
             "idProduct", "0002", "busnum", "1", "devnum", "1",
             "manufacturer", "Linux xhci-hcd", "product", "xHCI Host "
             "Controller", "serial", "0000:00:14.0",
             "bDeviceClass", "09"],
            ["DEVTYPE", "usb_device", "BUSNUM", "001", "DEVNUM", "001",
             "PRODUCT", "1d6b/2/601", "TYPE", "9/0/1"])
        self.tb.set_attribute_binary(
            self.hub, "descriptors",
            dev_desc(0x1d6b, 0x0002, cls=9) +
            struct.pack("<BBHBBBBB", 9, 2, 25, 1, 1, 0, 0xe0, 0) +
            struct.pack("<BBBBBBBBB", 9, 4, 0, 0, 1, 9, 0, 0, 0) +
            struct.pack("<BBBBHB", 7, 5, 0x81, 3, 4, 12))
        # What the agent writes that a testbed does not have.
        self.write("/sys/bus/usb/drivers_probe", "")
        self.write("/sys/module/usbcore/parameters/authorized_default", "1")

    def add_usb(self, port, devnum, vid, pid, serial, product, ifaces,
                blob=None):
        """A usb_device 1-PORT with interface children 1-PORT:1.N."""
        name = "1-%d" % port
        attrs = ["authorized", "0", "idVendor", "%04x" % vid,
                 "idProduct", "%04x" % pid, "busnum", "1",
                 "devnum", str(devnum), "manufacturer", "Test Vendor",
                 "product", product, "bDeviceClass", "00",
                 "bNumConfigurations", "1", "speed", "480"]
        if serial is not None:
            attrs += ["serial", serial]
        # add_device() sends "add" at once, before the descriptors and
        # the interfaces exist: without DEVTYPE the agent's monitor filter
        # drops it.  DEVTYPE is set, and "add" sent, when all is there.
        path = self.tb.add_device(
            "usb", name, self.hub, attrs,
            ["BUSNUM", "001",
             "DEVNUM", "%03d" % devnum, "PRODUCT", "%x/%x/100" % (vid, pid),
             "TYPE", "0/0/0"])
        self.tb.set_attribute_binary(
            path, "descriptors", blob if blob is not None else
            descriptors(vid, pid, ifaces))
        ifpaths = []
        for i, (c, s, p) in enumerate(ifaces):
            ifpaths.append(self.tb.add_device(
                "usb", "%s:1.%d" % (name, i), path,
                ["authorized", "0", "bInterfaceClass", "%02x" % c,
                 "bInterfaceSubClass", "%02x" % s,
                 "bInterfaceProtocol", "%02x" % p,
                 "bInterfaceNumber", "%02x" % i, "bAlternateSetting", " 0",
                 "bNumEndpoints", "02"],
                ["DEVTYPE", "usb_interface",
                 "INTERFACE", "%d/%d/%d" % (c, s, p),
                 "PRODUCT", "%x/%x/100" % (vid, pid)]))
        self.tb.set_property(path, "DEVTYPE", "usb_device")
        self.devs[name] = (path, ifpaths)
        return path, ifpaths

    # -- the agent
    def write_config(self):
        pki = os.path.join(self.tmp, "pki")
        mk = os.path.join(self.src, "tools", "mkcerts.sh")
        for args in (["ca", pki], ["terminal", pki, AGENT_ID]):
            r = subprocess.run(["bash", mk] + args, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=60)
            if r.returncode != 0:
                raise RuntimeError("mkcerts.sh %s: %s" % (
                    args[0], r.stdout.decode(errors="replace")))
        self.conf = os.path.join(self.tmp, "agent.conf")
        with open(self.conf, "w") as f:
            f.write("[Agent]\nHostName=%s\n"
                    "[Collector]\nCA=%s/ca.pem\nCertificate=%s/%s.pem\n"
                    "Key=%s/%s.key\n"
                    "[Spool]\nDirectory=%s\n"
                    "[Intake]\nSocket=%s\nDropDirectory=%s\n"
                    "[Policy]\nPath=%s\n" % (
                        AGENT_ID, pki, pki, AGENT_ID, pki, AGENT_ID,
                        self.spool, self.sock,
                        os.path.join(self.tmp, "drop"), self.policy))

    def write_policy(self, extra_rules):
        with open(os.path.join(self.src, "policy",
                               "mynumber-terminal.conf")) as f:
            lines = f.read().splitlines()
        i = lines.index("[devices]")
        lines[i + 1:i + 1] = extra_rules
        with open(self.policy, "w") as f:
            f.write("\n".join(lines) + "\n")
        # The rule numbers, counted as the parser does: every rule line
        # of [devices] except "default".
        self.rules = {}
        section, n = None, 0
        for line in lines:
            t = line.strip()
            if t.startswith("[") and t.endswith("]"):
                section = t
            elif (section == "[devices]" and t and not t.startswith("#")
                  and not t.startswith("default")):
                n += 1
                self.rules[n] = t

    def rule_no(self, prefix):
        for n, text in self.rules.items():
            if text.startswith(prefix):
                return n
        return -1

    def start_agent(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.agent_bin, "--config", self.conf],
                                     stdout=self.log, stderr=self.log,
                                     env=self.env)
        end = time.monotonic() + 10
        while time.monotonic() < end and self.proc.poll() is None:
            if os.path.exists(self.sock) and self.events():
                return True
            time.sleep(0.05)
        return False

    def stop_agent(self):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        self.log.close()
        self.rc = rc
        return rc

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read()

    # -- events
    def events(self):
        """All bodies in the spool, each with "_seq"."""
        if not os.path.isdir(self.spool):
            return []
        r = self.run(self.cli, "spool", "show", "--json", self.spool)
        out = []
        for line in r.stdout.decode("utf-8", "replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            body = rec["body"]
            body["_seq"] = rec["seq"]
            out.append(body)
        return out

    def head(self):
        ev = self.events()
        return ev[-1]["_seq"] if ev else 0

    def wait_event(self, after, pred, timeout=WAIT):
        end = time.monotonic() + timeout
        while True:
            for e in self.events():
                if e["_seq"] > after and pred(e):
                    return e
            if time.monotonic() >= end:
                return None
            time.sleep(0.05)

    def wait_file(self, path, want, timeout=WAIT):
        end = time.monotonic() + timeout
        while True:
            got = self.read(path)
            if got is not None and got.strip() == want:
                return True
            if time.monotonic() >= end:
                return False
            time.sleep(0.05)

    def barrier(self):
        """Everything the agent did before now is in the spool: a test
        event goes through the same loop (root only), else a pause."""
        if not self.root:
            time.sleep(1.0)
            return
        self.run(self.cli, "event", "send", "--socket", self.sock,
                 "--drop-dir", os.path.join(self.tmp, "drop"),
                 "--message", "barrier")
        self.wait_event(0, lambda e: action(e) == "test" and
                        e.get("message") == "barrier" and
                        e["_seq"] > self.last_barrier)
        self.last_barrier = self.head()


def action(e):
    return e.get("event", {}).get("action")


def dev(e):
    return e.get("mynaguard", {}).get("device", {})


def decision(e):
    return e.get("mynaguard", {}).get("decision", {})


def for_path(path, act=None):
    return lambda e: (dev(e).get("path") == path and
                      (act is None or action(e) == act))


def plug(t, n, what, port, devnum, vid, pid, serial, product, ifaces,
         blob=None):
    """Add a device, send "add", wait for its decision event."""
    head = t.head()
    t.write("/sys/bus/usb/drivers_probe", "")
    path, ifs = t.add_usb(port, devnum, vid, pid, serial, product, ifaces,
                          blob)
    t.tb.uevent(path, "add")
    e = t.wait_event(head, for_path("1-%d" % port))
    if e is None:
        t.check(n, what, False, "no decision event for 1-%d" % port)
    return path, ifs, e


def summary(e):
    return json.dumps({"action": action(e), "device": dev(e),
                       "decision": decision(e)}, ensure_ascii=False)


def main():
    if len(sys.argv) != 3:
        print("usage: umockdev_agent.py BUILD_DIR SOURCE_DIR",
              file=sys.stderr)
        return 2
    umockdev = load_umockdev()
    build, src = (os.path.abspath(a) for a in sys.argv[1:3])
    for b in ("agent/mynaguard-agent", "cli/mynaguard"):
        if not os.access(os.path.join(build, b), os.X_OK):
            print("missing %s/%s" % (build, b))
            return 1
    if os.path.exists(PWNED):
        os.unlink(PWNED)
    tmp = tempfile.mkdtemp(prefix="mg-umockdev-")
    t = Test(umockdev, build, src, tmp)
    t.last_barrier = 0
    try:
        return scenario(t)
    finally:
        t.stop_agent()
        rc = t.rc
        if t.failed or os.environ.get("MG_KEEP_TMP"):
            print("# agent exit %s; log (%s):" % (rc, t.log_path))
            for line in t.log_text().decode("utf-8", "replace") \
                    .splitlines()[-40:]:
                print("#   " + line)
        if not os.environ.get("MG_KEEP_TMP"):
            shutil.rmtree(tmp, ignore_errors=True)
        if os.path.exists(PWNED):
            os.unlink(PWNED)


def scenario(t):
    print("1..19")
    t.write_config()
    t.write_policy(['allow id 46f4:0001 serial "REG0001" '
                    'label "registered"',
                    'allow id 46f4:0001 serial "SEAT001" if seat-user(%s) '
                    'label "registered for the seat user"' % t.seat_user,
                    'allow id 46f4:0001 serial "SEAT002" if '
                    'seat-user(nobody-else) label "registered for another"'])
    t.r_seat = t.rule_no('allow id 46f4:0001 serial "SEAT001"')
    t.r_ro = t.rule_no("read-only kind one-of { storage sd }")
    t.r_phone = t.rule_no("block kind one-of { mtp ptp }")
    t.r_hid = t.rule_no("allow with-interface match-all { 03:*:* }")
    t.r_reg = t.rule_no('allow id 46f4:0001 serial "REG0001"')
    t.add_hub()
    # For 8: a stick plugged in before the agent starts.
    t.early = t.add_usb(8, 9, 0x46f4, 0x0001, "EARLY01", "Early Stick",
                        [(0x08, 0x06, 0x50)])
    if not t.start_agent():
        print("Bail out! the agent did not start")
        print(t.log_text().decode("utf-8", "replace"))
        return 1
    for step in (check_start, check_state, check_stick, check_badusb, check_phone,
                 check_keyboard, check_hostile, check_malformed,
                 check_early, check_registered, check_seat_user,
                 check_remove, check_cli,
                 check_reload, check_central, check_helper, check_stop):
        step(t)
    return 1 if t.failed else 0


def check_start(t):
    """1. usbcore and the root hub hold new devices."""
    param = "/sys/module/usbcore/parameters/authorized_default"
    hub = "/sys/devices/usb1/"
    ok = (t.wait_file(param, "0") and
          t.wait_file(hub + "authorized_default", "0") and
          t.wait_file(hub + "interface_authorized_default", "0"))
    t.check(1, "at start: authorized_default 0 (usbcore and usb1), "
            "interface_authorized_default 0", ok, "usbcore %r usb1 %r/%r" % (
                t.read(param), t.read(hub + "authorized_default"),
                t.read(hub + "interface_authorized_default")))


def check_state(t):
    """18. agent-state at start: the root hub's values as read back from
    the testbed (the agent set them to 0 first), after policy-loaded.
    The ro flag of a disk cannot be modelled here (BLKROSET does not
    reach a testbed file): removable-writable is tested in
    tests/unit/agent/test_state.c."""
    e = t.wait_event(0, lambda x: action(x) == "agent-state")
    loaded = [x["_seq"] for x in t.events()
              if action(x) == "policy-loaded"]
    st = e.get("mynaguard", {}).get("state", {}) if e else {}
    hub = "/sys/devices/usb1/"
    ok = (e is not None and loaded and loaded[0] < e["_seq"] and
          st.get("usb_default") == t.read(hub + "authorized_default")
          .strip() == "0" and
          st.get("usb_iface_default") == "0" and
          st.get("removable_disks") == 0 and
          st.get("removable_writable") == 0 and
          "usb-default-authorized" not in st.get("mismatch", "") and
          "removable-writable" not in st.get("mismatch", "") and
          e.get("mynaguard", {}).get("policy", {}).get("hash"))
    t.check(18, "agent-state at start: usb_default 0 and "
            "usb_iface_default 0 read from usb1, no removable disk, after "
            "policy-loaded", ok, json.dumps(e, ensure_ascii=False))


def check_stick(t):
    """2. An unregistered stick: read-only."""
    path, ifs, e = plug(t, 2, "unregistered stick", 1, 2, 0x46f4, 0x0001,
                        "SN0001", "USB Stick", [(0x08, 0x06, 0x50)])
    if e is None:
        return
    ok = (action(e) == "device-read-only" and
          dev(e).get("serial") == "SN0001" and
          decision(e).get("rule") == t.r_ro and
          t.wait_file(path + "/authorized", "1") and
          t.wait_file(ifs[0] + "/authorized", "1") and
          t.wait_file("/sys/bus/usb/drivers_probe", "1-1:1.0"))
    t.check(2, "unregistered stick SN0001: device-read-only by rule %d, "
            "device and storage interface authorized, probed" % t.r_ro, ok,
            summary(e) + "\nauthorized %r iface %r drivers_probe %r" % (
                t.read(path + "/authorized"), t.read(ifs[0] + "/authorized"),
                t.read("/sys/bus/usb/drivers_probe")))


def check_badusb(t):
    """3. Composite BadUSB: storage + keyboard, not registered."""
    path, ifs, e = plug(t, 3, "composite BadUSB", 2, 3, 0x46f4, 0x0002,
                        "BAD0001", "Totally A Stick",
                        [(0x08, 0x06, 0x50), (0x03, 0x01, 0x01)])
    if e is None:
        return
    # The event is written after the sysfs writes: no waiting needed.
    auth = [t.read(p + "/authorized") for p in [path] + ifs]
    t.check(3, "composite storage+keyboard: read-only by rule %d, storage "
            "interface authorized, keyboard interface stays 0" % t.r_ro,
            action(e) == "device-read-only" and
            decision(e).get("rule") == t.r_ro and auth == ["1", "1", "0"],
            summary(e) + "\nauthorized device/storage/keyboard %r" % auth)


def check_phone(t):
    """4. A phone (still image, PTP)."""
    path, ifs, e = plug(t, 4, "phone", 3, 4, 0x46f4, 0x0004, "PHONE01",
                        "Smartphone", [(0x06, 0x01, 0x01)])
    if e is None:
        return
    auth = [t.read(p + "/authorized") for p in [path] + ifs]
    t.check(4, "phone (06:01:01): device-blocked by rule %d, stays "
            "unauthorized" % t.r_phone, action(e) == "device-blocked" and
            decision(e).get("rule") == t.r_phone and auth == ["0", "0"],
            summary(e) + "\nauthorized %r" % auth)


def check_keyboard(t):
    """5. A keyboard."""
    path, ifs, e = plug(t, 5, "keyboard", 4, 5, 0x046d, 0xc31c, "",
                        "USB Keyboard", [(0x03, 0x01, 0x01)])
    if e is None:
        return
    auth = [t.read(p + "/authorized") for p in [path] + ifs]
    t.check(5, "keyboard (03:01:01): device-allowed by rule %d, device "
            "and interface authorized" % t.r_hid,
            action(e) == "device-allowed" and
            decision(e).get("rule") == t.r_hid and auth == ["1", "1"],
            summary(e) + "\nauthorized %r" % auth)


def check_hostile(t):
    """6. Hostile serial and product strings."""
    path, ifs, e = plug(t, 6, "hostile strings", 5, 6, 0x46f4, 0x0005,
                        HOSTILE_SERIAL, HOSTILE_PRODUCT,
                        [(0x08, 0x06, 0x50)])
    if e is None:
        return
    log = t.log_text()
    lines = log.split(b"\n")
    mine = [ln for ln in lines if b"1-5 " in ln and b"serial" in ln]
    want_s = pol_quote(HOSTILE_SERIAL).encode()
    want_p = pol_quote(HOSTILE_PRODUCT).encode()
    problems = []
    if dev(e).get("serial") != HOSTILE_SERIAL:
        problems.append("event serial %r" % dev(e).get("serial"))
    if dev(e).get("product") != HOSTILE_PRODUCT:
        problems.append("event product %r" % dev(e).get("product"))
    if os.path.exists(PWNED):
        problems.append(PWNED + " was created")
    if len(mine) != 1 or want_s not in mine[0] or want_p not in mine[0]:
        problems.append("log line: %r (want %r and %r)" % (
            mine, want_s, want_p))
    if any(ln.startswith(b";|&<>") for ln in lines):
        problems.append("a raw newline split a log line")
    if b"\x01" in log or b"\x7f" in log:
        problems.append("raw control bytes in the log")
    t.check(6, "hostile serial/product: exact in the event, escaped in "
            "one log line, nothing executed", not problems,
            "\n".join(problems))


def check_malformed(t):
    """7. A configuration descriptor cut short."""
    path, ifs, e = plug(t, 7, "malformed descriptors", 6, 7, 0x46f4, 0x0006,
                        "TRUNC01", "Truncated", [(0x08, 0x06, 0x50)],
                        blob=truncated_descriptors(0x46f4, 0x0006))
    if e is None:
        return
    reason = e.get("event", {}).get("reason", "")
    auth = [t.read(p + "/authorized") for p in [path] + ifs]
    t.check(7, "truncated configuration: device-blocked, reason names "
            "the descriptors, stays unauthorized",
            action(e) == "device-blocked" and auth == ["0", "0"] and
            "descriptor" in reason,
            "reason %r authorized %r\n%s" % (reason, auth, summary(e)))


def check_early(t):
    """8. The stick present before the agent started."""
    path, ifs = t.early
    e = t.wait_event(0, for_path("1-8"), timeout=0.5)
    auth = [t.read(p + "/authorized") for p in [path] + ifs]
    t.check(8, "device present before start: decided at start "
            "(device-read-only, authorized)", e is not None and
            action(e) == "device-read-only" and
            dev(e).get("serial") == "EARLY01" and auth == ["1", "1"],
            (summary(e) if e else "no event for 1-8") +
            "\nauthorized %r" % auth)


def check_registered(t):
    """9. The registered stick, with a vendor interface besides."""
    path, ifs, e = plug(t, 9, "registered stick", 7, 8, 0x46f4, 0x0001,
                        "REG0001", "Registered Stick",
                        [(0x08, 0x06, 0x50), (0xff, 0xff, 0xff)])
    if e is None:
        return
    auth = [t.read(p + "/authorized") for p in [path] + ifs]
    t.check(9, "registered REG0001: device-allowed by rule %d, all "
            "interfaces authorized" % t.r_reg,
            action(e) == "device-allowed" and
            decision(e).get("rule") == t.r_reg and
            decision(e).get("label") == "registered" and
            auth == ["1", "1", "1"], summary(e) + "\nauthorized %r" % auth)


def check_seat_user(t):
    """17. Registered for one user at the seat: writable for that user only."""
    path1, _, e1 = plug(t, 17, "stick for the seat user", 13, 20, 0x46f4,
                        0x0001, "SEAT001", "Seat Stick", [(0x08, 0x06, 0x50)])
    path2, _, e2 = plug(t, 17, "stick for another user", 14, 21, 0x46f4,
                        0x0001, "SEAT002", "Other Stick",
                        [(0x08, 0x06, 0x50)])
    if e1 is None or e2 is None:
        return
    t.check(17, "seat-user(%s): SEAT001 allowed by rule %d with user.name "
            "%s; SEAT002 (another user's) read-only by rule %d" %
            (t.seat_user, t.r_seat, t.seat_user, t.r_ro),
            action(e1) == "device-allowed" and
            decision(e1).get("rule") == t.r_seat and
            e1.get("user", {}).get("name") == t.seat_user and
            action(e2) == "device-read-only" and
            decision(e2).get("rule") == t.r_ro,
            summary(e1) + "\n" + summary(e2))
    for path in (path1, path2):
        t.tb.uevent(path, "remove")
        t.tb.remove_device(path)


def check_remove(t):
    """10. The registered stick goes away."""
    path = t.devs["1-7"][0]
    head = t.head()
    t.tb.uevent(path, "remove")
    e = t.wait_event(head, for_path("1-7", "device-removed"))
    t.check(10, "remove uevent: device-removed", e is not None and
            dev(e).get("serial") == "REG0001",
            summary(e) if e else "no device-removed event")
    t.tb.remove_device(path)


def check_stop(t):
    """16. A clean stop, and nothing from the sanitizers (MG_SANITIZE)."""
    t.stop_agent()
    log = t.log_text()
    bad = [w for w in (b"AddressSanitizer", b"LeakSanitizer",
                       b"runtime error:") if w in log]
    t.check(16, "agent exits 0 on SIGTERM, no sanitizer reports",
            t.rc == 0 and not bad, "exit %r, %r" % (t.rc, bad))


def helper(t, syspath):
    r = t.run(t.helper, "--config", t.conf, "usb", syspath)
    return r.stdout.decode("utf-8", "replace"), r


def check_helper(t):
    """13-15. The udev helper, with the agent and without."""
    if not os.access(t.helper, os.X_OK):
        t.skip(13, "udev helper asks the agent", "no mynaguard-udev")
        t.skip(14, "udev helper without the agent", "no mynaguard-udev")
        t.skip(15, "fallback decisions recorded", "no mynaguard-udev")
        return
    what = ("udev helper: the agent decides a device udev reports first, "
            "once (a later add uevent records nothing)")
    if not t.root:
        t.skip(13, what, "the agent answers root only")
    else:
        head = t.head()
        path, ifs = t.add_usb(9, 10, 0x46f4, 0x0009, "UDEV001",
                              "Helper Stick", [(0x08, 0x06, 0x50)])
        out, r = helper(t, path)
        e = t.wait_event(head, for_path("1-9"))
        t.tb.uevent(path, "add")
        t.barrier()
        n = len([x for x in t.events() if x["_seq"] > head and
                 dev(x).get("path") == "1-9"])
        want = "MYNAGUARD_VERDICT=read-only\nMYNAGUARD_RULE=%d\n" \
            "MYNAGUARD_DECIDER=agent\n" % t.r_ro
        t.check(13, what, out == want and e is not None and
                action(e) == "device-read-only" and n == 1 and
                t.read(path + "/authorized") == "1" and
                t.read(ifs[0] + "/authorized") == "1",
                "rc %d stdout %r stderr %r (want %r); %d events for 1-9" % (
                    r.returncode, out, r.stderr, want, n))
    t.stop_agent()
    kbd, kifs = t.add_usb(10, 11, 0x046d, 0xc31d, "", "Fallback Keyboard",
                          [(0x03, 0x01, 0x01)])
    stick, sifs = t.add_usb(11, 12, 0x46f4, 0x000b, "FALLBK1",
                            "Fallback Stick", [(0x08, 0x06, 0x50)])
    bad, bifs = t.add_usb(12, 13, 0x46f4, 0x000c, "FALLBK2",
                          "Fallback Truncated", [(0x08, 0x06, 0x50)],
                          blob=truncated_descriptors(0x46f4, 0x000c))
    outs = [helper(t, p) for p in (kbd, stick, bad)]
    drop = os.path.join(t.tmp, "drop")
    drops = [n for n in os.listdir(drop) if n.endswith(".evt")] \
        if os.path.isdir(drop) else []
    fb = "MYNAGUARD_VERDICT=%s\nMYNAGUARD_DECIDER=udev-fallback\n"
    ok = ([o for o, _ in outs] == [fb % "allow", fb % "block",
                                   fb % "block"] and
          t.read(kbd + "/authorized") == "1" and
          t.read(kifs[0] + "/authorized") == "1" and
          t.read(stick + "/authorized") == "0" and
          t.read(sifs[0] + "/authorized") == "0" and
          t.read(bad + "/authorized") == "0" and len(drops) == 3)
    t.check(14, "udev helper without the agent: fallback allows the "
            "keyboard, holds the stick and the malformed device, queues "
            "three events", ok, "helper said %r; drop files %r" % (
                [(o, r.stderr) for o, r in outs], drops))

    # 15. The agent, started again, signs what the helper queued.
    head = t.head()
    if not t.start_agent():
        t.check(15, "agent restarts", False)
        return
    want = {"1-10": "device-allowed", "1-11": "device-blocked",
            "1-12": "device-blocked"}
    got = {}
    end = time.monotonic() + WAIT
    while time.monotonic() < end and len(got) < len(want):
        got = {dev(x).get("path"): x for x in t.events()
               if x["_seq"] > head and
               decision(x).get("decider") == "udev-fallback"}
        time.sleep(0.05)
    reason = got["1-12"].get("event", {}).get("reason", "") \
        if "1-12" in got else ""
    t.check(15, "queued fallback decisions recorded after restart "
            "(decider udev-fallback; malformed: device-blocked, reason "
            "names the descriptors)",
            {p: action(x) for p, x in got.items()} == want and
            "descriptor" in reason,
            "\n".join(summary(x) + " reason %r" % x.get("event", {})
                      .get("reason") for x in got.values()) or
            "no udev-fallback events")


def check_cli(t):
    """11. mynaguard device list and device rule."""
    r_ro, r_phone, r_hid = t.r_ro, t.r_phone, t.r_hid
    r = t.run(t.cli, "device", "list", "--json", "--socket", t.sock)
    problems = []
    try:
        rows = {row["path"]: row for row in json.loads(r.stdout)}
    except ValueError:
        rows = {}
        problems.append("not JSON: %r %r" % (r.stdout, r.stderr))
    want = {"1-1": ("read-only", r_ro), "1-2": ("read-only", r_ro),
            "1-3": ("block", r_phone), "1-4": ("allow", r_hid),
            "1-8": ("read-only", r_ro)}
    for p, (verdict, rule) in want.items():
        row = rows.get(p)
        if row is None:
            problems.append("%s missing" % p)
        elif t.root and (row["verdict"], row["rule"]) != (verdict, rule):
            problems.append("%s: %s rule %s, want %s rule %d" % (
                p, row["verdict"], row["rule"], verdict, rule))
    if "1-7" in rows:
        problems.append("1-7 (removed) still listed")
    text = t.run(t.cli, "device", "list", "--socket", t.sock)
    if b"1-1 " not in text.stdout:
        problems.append("text list lacks 1-1: %r" % text.stdout)

    r = t.run(t.cli, "device", "rule", "1-1")
    rule = r.stdout.decode("utf-8", "replace").strip()
    if r.returncode != 0 or 'id 46f4:0001 serial "SN0001"' not in rule:
        problems.append("device rule 1-1: rc %d %r %r" % (
            r.returncode, rule, r.stderr))
    t.sn_rule = rule
    probe = os.path.join(t.tmp, "probe.conf")
    with open(probe, "w") as f:
        f.write("[devices]\n%s\ndefault block\n" % rule)
    c = t.run(t.cli, "policy", "check", probe)
    if c.returncode != 0:
        problems.append("policy check of the rule: %r" % c.stdout + c.stderr)
    what = ("device list shows verdicts and rules; device rule 1-1 "
            "prints an accepted rule")
    if not t.root and not problems:
        t.skip(11, what, "rules not compared: the agent answers root only")
    else:
        t.check(11, what, not problems, "\n".join(problems) +
                "\nrule: " + rule)


def check_reload(t):
    """12. SIGHUP after registering SN0001."""
    rule = getattr(t, "sn_rule", "")
    if 'serial "SN0001"' not in rule:
        rule = 'allow id 46f4:0001 serial "SN0001" label "SN0001"'
    # In place of the REG0001 rule (its stick is gone): every other rule
    # keeps its number, so no other device's decision changes at all.
    t.write_policy([rule])
    t.r_ro = t.rule_no("read-only kind one-of { storage sd }")
    t.barrier()
    head = t.head()
    t.proc.send_signal(signal.SIGHUP)
    e = t.wait_event(head, for_path("1-1", "device-allowed"))
    t.barrier()
    after = [x for x in t.events() if x["_seq"] > head]
    devev = [x for x in after if action(x).startswith("device-")]
    loaded = [x for x in after if action(x) == "policy-loaded"]
    ok = (e is not None and len(loaded) == 1 and len(devev) == 1 and
          dev(e).get("serial") == "SN0001" and
          decision(e).get("rule") == 1)
    t.check(12, "SIGHUP with SN0001 registered: one device-allowed for "
            "1-1 (rule 1), nothing for unchanged devices", ok,
            "\n".join(summary(x) for x in devev) or
            "no device events after SIGHUP")


def central_bundle(t, version, rules):
    """A bundle of group umock signed with the real `mynaguard policy
    sign` (no credentials part: the bundle policy's credentials file is the
    system's, which this test must not touch); None on failure."""
    pol = os.path.join(t.tmp, "central-%d.conf" % version)
    with open(os.path.join(t.src, "policy", "mynumber-terminal.conf")) as f:
        lines = f.read().splitlines()
    i = lines.index("[devices]")
    lines[i + 1:i + 1] = rules
    # `policy sign` wants [policy] version = the bundle's version.
    lines = ["version = %d" % version if ln.startswith("version =") else ln
             for ln in lines]
    with open(pol, "w") as f:
        f.write("\n".join(lines) + "\n")
    out = os.path.join(t.tmp, "central-%d.bundle" % version)
    pki = os.path.join(t.tmp, "pki")
    r = t.run(t.cli, "policy", "sign", pol, "--group", "umock",
              "--version", str(version), "--key", pki + "/signer.key",
              "--cert", pki + "/signer.pem", "-o", out, "--force")
    return (pol, out) if r.returncode == 0 else None


def central_step(t, version, rules, want_action):
    """applied.bundle replaced as a crash after the commit would leave it,
    then SIGHUP: the agent installs the bundle's policy and decides 1-1
    (SN0001) with it."""
    made = central_bundle(t, version, rules)
    if made is None:
        return None, "policy sign failed"
    state = os.path.join(t.tmp, "central")
    os.makedirs(state, mode=0o700, exist_ok=True)
    shutil.copyfile(made[1], os.path.join(state, "applied.bundle"))
    t.barrier()
    head = t.head()
    t.proc.send_signal(signal.SIGHUP)
    e = t.wait_event(head, for_path("1-1", want_action))
    a = t.wait_event(head, lambda x: action(x) == "policy-applied" and
                     x.get("mynaguard", {}).get("bundle", {})
                     .get("version") == version)
    with open(t.policy) as f, open(made[0]) as g:
        same = f.read() == g.read()
    why = "decision %s, policy-applied %s, installed file %s" % (
        summary(e) if e else "missing", "yes" if a else "missing",
        "is the bundle's" if same else "differs")
    return (e is not None and a is not None and same), why


def check_central(t):
    """19. The central signed policy: the stick at 1-1 (SN0001) is
    read-only under bundle 1 (no rule for it) and allowed under bundle 2
    (registered), each decided by the agent itself after it installed
    the bundle's policy.  The bundles reach the agent through
    applied.bundle and SIGHUP (the recovery path, no collector here);
    tests/integration/agent_policy.sh covers the fetch from a collector."""
    what = "central bundle: SN0001 read-only under v1, allowed under v2"
    mk = os.path.join(t.src, "tools", "mkcerts.sh")
    r = subprocess.run(["bash", mk, "policy-signer",
                        os.path.join(t.tmp, "pki"), "signer"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    if r.returncode != 0:
        t.check(19, what, False, r.stdout.decode(errors="replace"))
        return
    with open(t.conf, "a") as f:
        f.write("Group=umock\nSigningCertificate=%s/pki/signer.pem\n"
                "StateDirectory=%s/central\n" % (t.tmp, t.tmp))
    ok1, why1 = central_step(t, 1, [], "device-read-only")
    ok2, why2 = central_step(t, 2, ['allow id 46f4:0001 serial "SN0001" '
                                    'label "registered centrally"'],
                             "device-allowed")
    t.check(19, what, ok1 and ok2, "v1: %s\nv2: %s" % (why1, why2))


if __name__ == "__main__":
    sys.exit(main())
