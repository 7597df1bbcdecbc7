#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Host side of tests/vm/run-e2e.sh (run that, not this): boots one host-root VM, plugs
devices over QMP, runs guest-lib.sh / guest-helper.py in the guest through the command
channel, and judges. One "ok"/"FAIL"/"skip" line per check, "N passed, N failed" last.

  e2e.py --src SRC --build BUILD --work WORKDIR [--only S2,S5] [--fake-enforcer]

WORKDIR was prepared by run-e2e.sh: share/ (sgwrite, etc/, udev/, udisks2/), img/*.img,
mtproot/. Exit status: 0 all passed, 1 something failed.
"""
import argparse, base64, hashlib, json, os, shlex, signal, sys, time, traceback

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(SRC, "tools", "vm"))
import qmp  # noqa: E402
import vmctl  # noqa: E402
import login  # noqa: E402  (tests/vm/login.py: scenario L1)
from ecs import get  # noqa: E402

# Quotes, command substitution, a newline, shell and printf metacharacters, a terminal escape,
# a tab and a control character: QEMU passes all of them to iSerial unchanged (ASCII only;
# a non-ASCII byte becomes U+00xx and reaches sysfs re-encoded).
HOSTILE = 'Q"\'$(touch /tmp/pwned)`touch /tmp/pwned`;\n<>|&*x\\%s%n${IFS}\x1b[31m\t\x01'
# A phone whose serial tries to inject udev properties through an IMPORT{program} helper.
INJECT = 'P1\nMYNAGUARD_VERDICT=allow\nMG_INJECTED=1\nID_MEDIA_PLAYER='
PART_START = 2048            # first sector of partition 1 in every image (run-e2e.sh)


class Abort(Exception):
    pass


class Suite:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.fails = []
        self.timings = []
        self.scenario = ""

    def check(self, name, ok, detail=""):
        label = f"{self.scenario}: {name}" if self.scenario else name
        if ok:
            self.passed += 1
            print(f"ok - {label}" + (f" ({detail})" if detail else ""), flush=True)
        else:
            self.failed += 1
            self.fails.append(label)
            print(f"FAIL - {label}" + (f": {detail}" if detail else ""), flush=True)
        return ok

    def skip(self, name, why):
        self.skipped += 1
        print(f"skip - {self.scenario}: {name}: {why}", flush=True)

    def info(self, text):
        print(f"  # {text}", flush=True)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sector_has(path, sector, marker):
    with open(path, "rb") as f:
        f.seek(sector * 512)
        return marker.encode() in f.read(512)


class Ctx:
    def __init__(self, vm, suite, args):
        self.vm, self.suite, self.a = vm, suite, args
        self.work = args.work
        self.img = os.path.join(args.work, "img")
        self.lib = f"{SRC}/tests/vm/guest-lib.sh"
        self.helper = f"{SRC}/tests/vm/guest-helper.py"
        self.udisks = False
        self.agent_ok = False
        self.udev_rules = 0
        self.plugged = set()

    # ---- guest ------------------------------------------------------------------------
    def g(self, cmd, timeout=60, env=None):
        e = {"MG_BUILD": self.a.build}
        e.update(env or {})
        r = self.vm.sh(f". {self.lib}; {cmd}", timeout=timeout, env=e)
        if self.a.verbose:
            print(f"  $ {cmd}\n  rc={r.rc} {r.secs}s\n{r.out}{r.err}", flush=True)
        return r

    def usb(self, serial=None, wait="present", timeout=0, vidpid=None):
        args = f"--wait {wait} --timeout {timeout}"
        env = {}
        if vidpid:
            args += f" --vidpid {vidpid}"
        else:
            env["MG_SERIAL"] = serial
        r = self.g(f"python3 {self.helper} usb {args}", timeout=timeout + 40, env=env)
        try:
            return json.loads(r.out)
        except ValueError:
            raise Abort(f"guest-helper usb failed: rc={r.rc} {r.err.strip()[-300:]}")

    def mounts(self, dev):
        r = self.g(f"python3 {self.helper} mounts {shlex.quote(dev)}")
        return json.loads(r.out) if r.rc == 0 else []

    def events(self):
        r = self.g("g_events", timeout=30)
        out = []
        for line in r.out.splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            out.append(rec.get("body", rec) if isinstance(rec, dict) else rec)
        return out

    def wait_event(self, pred, timeout=8.0):
        deadline = time.monotonic() + timeout
        evs = []
        while True:
            evs = self.events()
            hits = [e for e in evs if pred(e)]
            if hits or time.monotonic() > deadline:
                return hits, evs
            time.sleep(0.5)

    def settle(self, timeout=30):
        """Until udevd has handled every queued event: the udev helper (and with it the
        agent's answer, or the fallback after its wait) has run for each plugged device.
        What "nothing more happens" means for a device that must stay held."""
        self.g(f"udevadm settle -t {timeout}", timeout=timeout + 10)

    def agent_alive(self):
        return self.g("g_agent_alive").rc == 0

    # ---- QMP --------------------------------------------------------------------------
    def plug_stick(self, dev_id, image, serial):
        qmp.plug_stick(self.vm.qmp, dev_id, os.path.join(self.img, image), serial=serial)
        self.plugged.add(dev_id)

    def plug(self, fn, dev_id, *a, **kw):
        fn(self.vm.qmp, dev_id, *a, **kw)
        self.plugged.add(dev_id)

    def unplug(self, dev_id):
        if dev_id in self.plugged:
            qmp.unplug(self.vm.qmp, dev_id)
            self.plugged.discard(dev_id)

    # ---- common explanations ----------------------------------------------------------
    def why_no_disk(self, info):
        if not info.get("found"):
            return "the USB device never appeared in the guest"
        bits = [f"usb {info['usb']} authorized={info['authorized']}"]
        if not self.agent_alive():
            bits.append("agent not running")
        if self.udev_rules == 0:
            bits.append("no mynaguard udev rules installed")
        return "no block device: " + ", ".join(bits)


# ---- checks shared by scenarios -----------------------------------------------------------
def check_readonly_disk(c, info, what):
    """ro=1 on every disk and partition, dd on the disk and on partition 1 fails."""
    s = c.suite
    if not s.check(f"{what} has a block device", bool(info.get("disks")), c.why_no_disk(info)
                   if not info.get("disks") else info["disks"][0]["name"]):
        return None
    d = info["disks"][0]
    ros = {d["name"]: d["ro"]} | {p["name"]: p["ro"] for p in d["parts"]}
    s.check(f"{what} /sys/block ro=1 for the disk and its partitions",
            bool(d["parts"]) and all(v == "1" for v in ros.values()),
            " ".join(f"{k}={v}" for k, v in ros.items()) + ("" if d["parts"] else " (no partition)"))
    r = c.g(f"g_dd_marker /dev/{d['name']} 64 MGE2E-DISK-WRITE")
    s.check(f"{what} dd to /dev/{d['name']} fails", r.rc != 0, r.out.strip().replace("\n", " | "))
    if d["parts"]:
        p = d["parts"][0]["name"]
        r = c.g(f"g_dd_marker /dev/{p} 64 MGE2E-PART-WRITE")
        s.check(f"{what} dd to /dev/{p} fails", r.rc != 0, r.out.strip().replace("\n", " | "))
    return d


def event_for(serial, actions=None, contains=None):
    def pred(e):
        if get(e, "mynaguard.device.serial") != serial:
            return False
        act = get(e, "event.action") or ""
        if actions is not None and act not in actions:
            return False
        return contains is None or contains in act
    return pred


def actions_seen(evs):
    acts = [str(get(e, "event.action")) for e in evs]
    return ", ".join(sorted(set(acts))) or "none"


# ---- setup --------------------------------------------------------------------------------
def setup(c):
    s = c.suite
    r = c.g("g_install")
    for line in r.out.splitlines():
        if line.startswith("udev_rules="):
            c.udev_rules = int(line.split("=", 1)[1])
    s.check("test user mgtest is in groups disk and cdrom", "(disk)" in r.out and "(cdrom)" in r.out,
            r.out.strip().splitlines()[-1] if r.out.strip() else r.err.strip())
    s.check("mynaguard udev rules installed", c.udev_rules > 0,
            f"{c.udev_rules} rule files" if c.udev_rules else
            "packaging/udev/*.rules[.in] missing in the source tree")
    prc = os.path.join(c.work, "policy-check.rc")
    if os.path.exists(prc):
        with open(prc) as f, open(os.path.join(c.work, "policy-check.txt"), errors="replace") as g:
            ok, out = f.read().strip() == "0", g.read().strip().replace("\n", " | ")
        s.check("test policy (profile + registered REG0001) passes mynaguard policy check", ok, out[-300:])
    helper = os.path.join(c.a.build, "agent", "mynaguard-udev")
    s.check("udev helper built", os.access(helper, os.X_OK), helper)
    # A probe rule of our own proves udevd runs rules from /etc/udev/rules.d (the overlay).
    probe = ('ACTION=="add", SUBSYSTEM=="usb", ENV{DEVTYPE}=="usb_device", '
             'RUN+="/bin/sh -c \'echo $kernel >> /run/mg-e2e/udev-usb.log\'"\n')
    r = c.g(f"printf '%s' {shlex.quote(probe)} > /etc/udev/rules.d/99-mg-e2e-probe.rules && "
            "g_udev_start && cat /run/mg-e2e/udev-usb.log", timeout=120)
    s.check("systemd-udevd runs and processed the coldplug events", "udevd=running" in r.out,
            r.err.strip()[-200:])
    s.check("a rule in /etc/udev/rules.d took effect (probe rule logged the root hubs)",
            "usb1" in r.out.split(), r.out.strip().replace("\n", " "))
    r = c.g("g_agent_start", timeout=60)
    c.agent_ok = r.rc == 0
    s.check("agent started (socket present)", c.agent_ok, r.out.strip().replace("\n", " | ")[-400:])
    r = c.g("cd /sys/bus/usb/devices && grep -H . usb*/authorized_default "
            "usb*/interface_authorized_default /sys/module/usbcore/parameters/authorized_default")
    s.info("after agent start: " + " ".join(r.out.split()))
    r = c.g("g_udisks_start", timeout=60)
    c.udisks = "udisks=yes" in r.out
    s.info(r.out.strip().replace("\n", " | "))


# ---- scenarios ----------------------------------------------------------------------------
def s1_sd_card(c):
    s = c.suite
    img = os.path.join(c.img, "sd.img")
    before = c.a.sd_sha
    r = c.g("ls /sys/block/mmcblk0 >/dev/null && cat /sys/block/mmcblk0/ro && "
            "cat /sys/block/mmcblk0/mmcblk0p1/ro")
    vals = r.out.split()
    if not s.check("SD card present at boot as mmcblk0 with a partition", r.rc == 0 and len(vals) == 2,
                   r.err.strip()):
        return
    s.check("/sys/block/mmcblk0/ro is 1", vals[0] == "1", f"ro={vals[0]}")
    s.check("/sys/block/mmcblk0/mmcblk0p1/ro is 1", vals[1] == "1", f"ro={vals[1]}")
    r = c.g("g_dd_marker /dev/mmcblk0p1 64 MGE2E-SD-WRITE")
    s.check("dd to /dev/mmcblk0p1 fails", r.rc != 0, r.out.strip().replace("\n", " | "))
    r = c.g("g_dd_marker /dev/mmcblk0 64 MGE2E-SD-WRITE")
    s.check("dd to /dev/mmcblk0 fails", r.rc != 0, r.out.strip().replace("\n", " | "))
    c.g("sync")
    s.check("sd.img unchanged on the host", sha256(img) == before)


def s2_stick(c):
    s = c.suite
    img = os.path.join(c.img, "s2.img")
    c.s2_sha = sha256(img)
    c.plug_stick("s2", "s2.img", "SN0001")
    info = c.usb("SN0001", wait="disk", timeout=20)
    s.check("stick SN0001 enumerated in the guest", info["found"], f"after {info['waited']} s")
    d = check_readonly_disk(c, info, "SN0001")
    c.s2_info = info
    if d is None or not d["parts"]:
        s.check("SN0001 image unchanged on the host", sha256(img) == c.s2_sha)
        return
    p = d["parts"][0]["name"]
    r = c.g(f"mkdir -p /mnt/x && mount /dev/{p} /mnt/x 2>&1; echo rc=$?")
    m = c.mounts(f"/dev/{p}")
    s.check(f"plain mount of /dev/{p} succeeds and ends up read-only",
            bool(m) and "ro" in m[0]["options"],
            f"options {','.join(m[0]['options'])}" if m else
            "not mounted at all: " + r.out.strip().replace("\n", " | "))
    c.g("umount /mnt/x 2>/dev/null; true")
    if c.udisks:
        r = c.g(f"udisksctl mount --no-user-interaction -b /dev/{p} -o rw 2>&1; echo rc=$?", timeout=60)
        m = c.mounts(f"/dev/{p}")
        refused = "rc=0" not in r.out and not m
        detail = r.out.strip().replace("\n", " | ")
        if not os.path.exists(os.path.join(c.work, "share", "udisks2", "mount_options.conf")):
            detail += " (packaging/udisks2/mount_options.conf missing)"
        s.check(f"udisksctl mount -o rw of /dev/{p} is refused", refused, detail[-300:])
        if m:
            c.g(f"udisksctl unmount --no-user-interaction -b /dev/{p} 2>&1; umount /dev/{p} 2>/dev/null; true")
    else:
        s.skip("udisksctl mount -o rw is refused", "udisks2 cannot run in this guest")
    c.g("sync")
    s.check("SN0001 image unchanged on the host (sha256)", sha256(img) == c.s2_sha)


def s3_registered(c):
    s = c.suite
    img = os.path.join(c.img, "s3.img")
    c.plug_stick("s3", "s3.img", "REG0001")
    info = c.usb("REG0001", wait="disk", timeout=20)
    c.s3_info = info
    if not s.check("registered stick REG0001 has a block device", bool(info.get("disks")),
                   c.why_no_disk(info) if not info.get("disks") else info["disks"][0]["name"]):
        return
    d = info["disks"][0]
    ros = {d["name"]: d["ro"]} | {p["name"]: p["ro"] for p in d["parts"]}
    s.check("REG0001 ro=0 for the disk and its partitions", all(v == "0" for v in ros.values()),
            " ".join(f"{k}={v}" for k, v in ros.items()))
    r = c.g(f"g_dd_marker /dev/{d['name']} 100 MGE2E-S3-DISK")
    s.check(f"dd to /dev/{d['name']} succeeds", r.rc == 0, r.out.strip().replace("\n", " | "))
    if d["parts"]:
        p = d["parts"][0]["name"]
        r = c.g(f"g_dd_marker /dev/{p} 1000 MGE2E-S3-PART")
        s.check(f"dd to /dev/{p} succeeds", r.rc == 0, r.out.strip().replace("\n", " | "))
    c.g("sync")
    s.check("the data is in the image on the host",
            sector_has(img, 100, "MGE2E-S3-DISK") and sector_has(img, PART_START + 1000, "MGE2E-S3-PART"))


AS_MGTEST = "setpriv --reuid=mgtest --regid=$(id -g mgtest) --init-groups"


def ran_as_user(out):
    """sgwrite printed its line, and not as root (a failed setpriv prints nothing)."""
    return "sgwrite: dev=" in out and " uid=0 " not in out


def s4_sg_io(c):
    s = c.suite
    img = os.path.join(c.img, "s2.img")
    sgw = "/mnt/host/sgwrite"
    if "s2" not in c.plugged:       # run on its own (--only S4)
        c.s2_sha = sha256(img)
        c.plug_stick("s2", "s2.img", "SN0001")
        c.usb("SN0001", wait="disk", timeout=20)
    info = c.usb("SN0001")
    if s.check("read-only stick SN0001 present with a disk and an sg node",
               bool(info.get("disks")) and bool(info.get("sg")),
               "" if info.get("disks") else c.why_no_disk(info)):
        for node in (info["disks"][0]["name"], info["sg"][0]["name"]):
            r = c.g(f"ls -l /dev/{node}; {AS_MGTEST} {sgw} /dev/{node} 200 MGE2E-S4-USER 2>&1")
            s.check(f"SG_IO WRITE(10) by disk/cdrom member mgtest on /dev/{node} does not write",
                    r.rc != 0 and ran_as_user(r.out) and "result=written" not in r.out,
                    r.out.strip().replace("\n", " | "))
        c.g("sync")
        s.check("SN0001 image unchanged after the SG_IO attempts",
                sha256(img) == c.s2_sha and not sector_has(img, 200, "MGE2E-S4-USER"))
    # Controls: the tool does write where nothing protects the device.
    r = c.g("modprobe scsi_debug dev_size_mb=8 && udevadm settle -t 20; "
            "ls /sys/bus/pseudo/drivers/scsi_debug/adapter*/host*/target*/*/block/")
    sd = next((n for n in r.out.split() if n.startswith("sd")), None)
    if not s.check("control: scsi_debug disk present", sd is not None,
                   sd or (r.out.strip() + r.err.strip())):
        return
    r = c.g(f"{sgw} /dev/{sd} 10 MGE2E-CTRL-ROOT; "
            f"dd if=/dev/{sd} bs=512 skip=10 count=1 iflag=direct 2>/dev/null | grep -ac MGE2E-CTRL-ROOT")
    s.check(f"control: sgwrite as root writes to /dev/{sd} (scsi_debug), read back",
            "result=written" in r.out and r.out.strip().endswith("1"), r.out.strip().replace("\n", " | "))
    # The same user and tool do write when the node lets them open it for writing (scsi_debug
    # is not removable, so its node stays root:disk 0660): the refusals above are the
    # node permissions' doing, not the tool's.
    r = c.g(f"ls -l /dev/{sd}; {AS_MGTEST} {sgw} /dev/{sd} 11 MGE2E-CTRL-USER 2>&1; "
            f"dd if=/dev/{sd} bs=512 skip=11 count=1 iflag=direct 2>/dev/null | grep -ac MGE2E-CTRL-USER")
    s.check(f"control: sgwrite as mgtest writes through /dev/{sd} (root:disk 0660, not removable)",
            ran_as_user(r.out) and "result=written" in r.out and r.out.strip().endswith("1"), r.out.strip().replace("\n", " | "))
    s3 = getattr(c, "s3_info", None)
    if s3 and s3.get("sg"):
        img3 = os.path.join(c.img, "s3.img")
        r = c.g(f"{sgw} /dev/{s3['sg'][0]['name']} 300 MGE2E-CTRL-REG")
        c.g("sync")
        s.check("control: sgwrite as root writes to the registered stick (seen in its image)",
                "result=written" in r.out and sector_has(img3, 300, "MGE2E-CTRL-REG"),
                r.out.strip())


def s5_phone(c):
    s = c.suite
    c.plug(qmp.plug_mtp, "m5", os.path.join(c.work, "mtproot"), serial="MTPSER1")
    info = c.usb("MTPSER1", wait="present", timeout=15)
    if not s.check("phone (usb-mtp MTPSER1) enumerated", info["found"]):
        return
    c.settle()
    info = c.usb("MTPSER1")
    s.check("phone stays authorized=0", info["authorized"] == "0",
            f"usb {info['usb']} authorized={info['authorized']}")
    bound = [i for i in info["interfaces"] if i["driver"]]
    s.check("no interface of the phone is bound to a driver", not bound,
            ", ".join(f"{i['name']}({i['class']})->{i['driver']}" for i in bound) or
            f"{len(info['interfaces'])} interfaces, none bound")
    hits, evs = c.wait_event(event_for("MTPSER1", actions={"device-blocked"}))
    s.check("a device-blocked event for MTPSER1 exists", bool(hits),
            "" if hits else f"{len(evs)} events, actions: {actions_seen(evs)}")
    c.unplug("m5")


def s10_optical(c):
    """A USB CD/DVD drive: the device is mass storage (read-only would let it in), but its
    SCSI device is type 5: the disk is decided again as `optical`, which the profile blocks,
    and the SCSI device is deleted before anyone can burn through SG_IO."""
    s = c.suite
    c.plug(qmp.plug_cd, "cd10", serial="CDSER10")
    info = c.usb("CDSER10", wait="present", timeout=15)
    if not s.check("USB optical drive (usb-bot + scsi-cd CDSER10) enumerated", info["found"]):
        return
    hits, evs = c.wait_event(lambda e: get(e, "event.action") == "device-blocked" and
                             "optical" in str(get(e, "mynaguard.device.kind") or ""), timeout=20)
    s.check("a device-blocked event with kind optical exists", bool(hits),
            "" if hits else f"{len(evs)} events, actions: {actions_seen(evs)}")
    if hits:
        s.check("the blocked optical drive's event names its node",
                str(get(hits[0], "mynaguard.device.node") or "").startswith("/dev/sr"),
                str(get(hits[0], "mynaguard.device.node")))
    r = c.g("sleep 1; ls /dev/sr* /sys/class/scsi_generic 2>/dev/null; "
            "for d in /sys/class/block/sr*; do [ -e \"$d\" ] && echo \"present ${d##*/}\"; done; true")
    s.check("no sr block device is left", "present sr" not in r.out,
            r.out.strip().replace("\n", " "))
    c.unplug("cd10")


def s6_hostile(c):
    s = c.suite
    c.plug_stick("s6", "s6.img", HOSTILE)
    info = c.usb(HOSTILE, wait="disk", timeout=20)
    s.check("QEMU passed the hostile serial through byte for byte (sysfs serial matches)",
            info["found"], f"{HOSTILE!r}")
    if not info["found"]:
        return
    r = c.g("sleep 1; udevadm settle -t 10; ls -a /tmp; test ! -e /tmp/pwned")
    s.check("/tmp/pwned never appeared in the guest", r.rc == 0, r.out.strip().replace("\n", " "))
    check_readonly_disk(c, info, "hostile-serial stick")
    sysfs = base64.b64decode(info["serial_b64"]).decode("utf-8", "surrogateescape")
    hits, evs = c.wait_event(lambda e: get(e, "mynaguard.device.serial") == sysfs)
    near = [get(e, "mynaguard.device.serial") for e in evs if get(e, "mynaguard.device.serial")]
    s.check("an event's mynaguard.device.serial equals the sysfs serial exactly", bool(hits),
            "" if hits else f"{len(evs)} events; serials seen: {near[-3:]!r}")
    r = c.g("test ! -e /tmp/pwned")
    s.check("/tmp/pwned still absent after the events were handled", r.rc == 0)
    c.unplug("s6")
    # A phone whose serial is a list of udev properties.
    c.plug(qmp.plug_mtp, "m6", os.path.join(c.work, "mtproot"), serial=INJECT)
    info = c.usb(INJECT, wait="present", timeout=15)
    if s.check("phone with a udev-property serial enumerated (exact serial)", info["found"]):
        c.settle()
        r = c.g(f"d=/sys/bus/usb/devices/{info['usb']}; "
                "n=/dev/bus/usb/$(printf %03d $(cat $d/busnum))/$(printf %03d $(cat $d/devnum)); "
                "udevadm settle -t 10; echo authorized=$(cat $d/authorized) mode=$(stat -c %a $n); "
                "udevadm info -q property $n | grep -E '^(MYNAGUARD_|MG_INJECTED|ID_MEDIA_PLAYER)'")
        out = r.out.strip().replace("\n", " ")
        s.check("the serial injected no udev property (no MG_INJECTED, verdict not allow)",
                "MG_INJECTED" not in r.out and "MYNAGUARD_VERDICT=allow" not in r.out, out)
        s.check("that phone stays authorized=0 and its usbfs node is 0600",
                "authorized=0" in r.out and "mode=600" in r.out, out)
    c.unplug("m6")


def s8_rapid(c):
    s = c.suite
    for i in range(5):
        c.plug_stick("s8", "s8.img", "SN0008")
        time.sleep(0.3)
        c.unplug("s8")
        time.sleep(0.3)
    s.info("5 plug/unplug cycles of SN0008, 0.3 s apart, done over QMP")
    c.settle()
    s.check("agent still alive after the cycles", c.agent_alive())
    c.plug_stick("s8", "s8.img", "SN0008")
    info = c.usb("SN0008", wait="disk", timeout=20)
    check_readonly_disk(c, info, "final SN0008")
    s.check("agent still alive at the end", c.agent_alive())
    c.unplug("s8")


def rw_mount(c, d, p, target, what):
    """blockdev --setrw + mount -o rw as root; then the agent has ~3 s to make it ro or unmount."""
    s = c.suite
    # The agent may set the flag again on its own (e.g. on the change event udev synthesizes
    # when a writer closes the disk): let events settle, and retry a few times.
    # mount(8) says "write-protected, mounted read-only" when it fell back to ro; rc=0
    # without that means the kernel accepted the rw mount (the agent may already have
    # remounted it by the time we look, so mountinfo is not the evidence).
    for attempt in range(3):
        r = c.g(f"udevadm settle -t 10; sleep 0.5; blockdev --setrw /dev/{d} /dev/{p}; "
                f"mkdir -p {target}; mount -o rw /dev/{p} {target} 2>&1; echo rc=$?; "
                f"grep ' {target} ' /proc/self/mountinfo")
        mounted_rw = "rc=0" in r.out and "write-protected" not in r.out
        if mounted_rw or "rc=0" not in r.out:
            break
        c.g(f"umount {target} 2>/dev/null; true")
    if not s.check(f"{what}: as root, blockdev --setrw then mount -o rw succeeded (the case to catch)",
                   mounted_rw, r.out.strip().replace("\n", " | ") + f" (attempt {attempt + 1})"):
        c.g(f"umount {target} 2>/dev/null; true")
        return
    t0 = time.monotonic()
    fixed, m = False, []
    while time.monotonic() - t0 < 5:
        m = [x for x in c.mounts(f"/dev/{p}") if x["target"] == target]
        if not m or all("ro" in x["options"] for x in m):
            fixed = True
            break
        time.sleep(0.3)
    took = time.monotonic() - t0
    detail = f"after {took:.1f} s: " + ("; ".join(
        f"opts={','.join(x['options'])} super={','.join(x['super'])}" for x in m) or "unmounted")
    s.check(f"{what}: within ~3 s the mount is read-only again or gone", fixed and took <= 4, detail)
    c.g(f"umount {target} 2>/dev/null; true")


def s9_rw_mount(c):
    s = c.suite
    c.plug_stick("s9", "s9.img", "SN0009")
    info = c.usb("SN0009", wait="disk", timeout=20)
    if not info.get("disks"):
        detail = c.why_no_disk(info)
    elif not info["disks"][0]["parts"]:
        detail = "no partition"
    else:
        detail = info["disks"][0]["parts"][0]["name"]
    if not s.check("SN0009 has a block device with a partition",
                   bool(info.get("disks")) and bool(info["disks"][0]["parts"]), detail):
        c.unplug("s9")
        return
    d = info["disks"][0]["name"]
    p = info["disks"][0]["parts"][0]["name"]
    rw_mount(c, d, p, "/mnt/y", "shared mount")
    hits, evs = c.wait_event(event_for("SN0009", contains="mounted"))
    s.check("an event whose action mentions 'mounted' exists for SN0009", bool(hits),
            f"action {get(hits[0], 'event.action')}" if hits else
            f"{len(evs)} events, actions: {actions_seen(evs)}")
    # Under a private parent the mountinfo line has no optional fields ("rw,relatime - ext2"):
    # a parser that looks for " - " after the 6th field must still see it.
    c.g("mkdir -p /mnt/priv && mount -t tmpfs -o mode=755 tmpfs /mnt/priv && "
        "mount --make-private /mnt/priv && mkdir -p /mnt/priv/y")
    rw_mount(c, d, p, "/mnt/priv/y", "private mount (no optional mountinfo fields)")
    c.g("umount /mnt/priv 2>/dev/null; true")
    c.unplug("s9")


def s7_agent_killed(c):
    s = c.suite
    r = c.g("g_agent_kill9")
    s.check("agent killed with SIGKILL", r.rc == 0 and not c.agent_alive(), r.out.strip())
    c.plug_stick("s7", "s7.img", "SN0003")
    info = c.usb("SN0003", wait="present", timeout=15)
    s.check("stick SN0003 enumerated with the agent dead", info["found"])
    c.settle()
    info = c.usb("SN0003")
    if info.get("disks"):
        d = info["disks"][0]
        r = c.g(f"g_dd_marker /dev/{d['name']} 64 MGE2E-S7-WRITE")
        s.check("SN0003 not writable with the agent dead (ro=1 and dd fails)",
                d["ro"] == "1" and r.rc != 0, f"{d['name']} ro={d['ro']}; " + r.out.strip().replace("\n", " | "))
    else:
        s.check("SN0003 not writable with the agent dead (held: not authorized, no block "
                "device)", info.get("authorized") == "0",
                f"usb {info.get('usb')} authorized={info.get('authorized')}")
    c.plug(qmp.plug_kbd, "k7", serial="KBD0001")
    kb = c.usb("KBD0001", wait="input", timeout=15)
    s.check("USB keyboard authorized=1 with the agent dead", kb.get("authorized") == "1",
            f"usb {kb.get('usb')} authorized={kb.get('authorized')}")
    has_input = any(x["node"] for x in kb.get("inputs", []))
    detail = ", ".join(x["name"] for x in kb.get("inputs", []))
    if not has_input:
        r = c.g("grep -H . /sys/bus/usb/devices/usb*/authorized_default "
                "/sys/bus/usb/devices/usb*/interface_authorized_default")
        detail = ", ".join(f"{i['name']} authorized={i['authorized']} driver={i['driver']}"
                           for i in kb.get("interfaces", [])) or "no interfaces"
        detail += "; " + " ".join(x.replace("/sys/bus/usb/devices/", "") for x in r.out.split())
    s.check("USB keyboard got an /dev/input/event* node", has_input, detail)
    r = c.g("g_agent_start", timeout=60)
    if not s.check("agent restarted", r.rc == 0, r.out.strip().replace("\n", " | ")[-300:]):
        pass
    info = c.usb("SN0003", wait="disk", timeout=20)
    check_readonly_disk(c, info, "SN0003 after the restart")
    hits, evs = c.wait_event(event_for("SN0003"))
    s.check("an event for SN0003 exists after the restart", bool(hits),
            f"action {get(hits[0], 'event.action')}" if hits else
            f"{len(evs)} events, actions: {actions_seen(evs)}")
    c.unplug("k7")
    c.unplug("s7")


def s11_overflow(c):
    """Lost uevents: the agent, stalled (SIGSTOP) with a 4 KiB uevent buffer, misses a flood
    of change events and the add of a new stick; the udev helper's fallback holds the stick
    meanwhile. Resumed, the agent gets ENOBUFS, rescans sysfs and decides the stick."""
    s = c.suite
    r = c.g("g_agent_kill9 && printf '[Devices]\\nUeventBuffer=4KiB\\n' >> /etc/mynaguard/agent.conf "
            "&& g_agent_start", timeout=60)
    if not s.check("agent restarted with UeventBuffer=4KiB", r.rc == 0,
                   r.out.strip().replace("\n", " | ")[-300:]):
        return
    r = c.g("kill -STOP $(cat $AGENT_PID) && for i in 1 2 3; do udevadm trigger --action=change; done; "
            "echo flooded")
    s.check("agent stopped (SIGSTOP) and a flood of change uevents sent", "flooded" in r.out,
            r.err.strip()[-200:])
    c.plug_stick("s11", "s11.img", "SN0011")
    info = c.usb("SN0011", wait="present", timeout=15)
    s.check("stick SN0011 enumerated while the agent is stalled", info["found"])
    c.settle()          # the helper waits its 3 s, then the fallback holds the stick
    info = c.usb("SN0011")
    s.check("SN0011 held while the agent is stalled (fallback: not authorized)",
            info.get("authorized") == "0" and not info.get("disks"),
            f"authorized={info.get('authorized')} disks={[d['name'] for d in info.get('disks', [])]}")
    c.g("kill -CONT $(cat $AGENT_PID)")
    info = c.usb("SN0011", wait="disk", timeout=25)
    check_readonly_disk(c, info, "SN0011 after the agent resumed")
    r = c.g("grep -c 'ENOBUFS' $AGENT_LOG; true")
    s.check("the agent saw the overflow (ENOBUFS) and rescanned",
            r.out.strip().isdigit() and int(r.out.strip()) > 0, r.out.strip())
    s.check("the agent is alive after the overflow", c.agent_alive())
    hits, evs = c.wait_event(event_for("SN0011", actions={"device-read-only"}))
    s.check("a device-read-only event for SN0011 exists", bool(hits),
            "" if hits else f"{len(evs)} events, actions: {actions_seen(evs)}")
    c.unplug("s11")


SCENARIOS = [
    ("S1", "SD card present at boot", s1_sd_card),
    ("S2", "USB stick read-only", s2_stick),
    ("S3", "registered stick writable", s3_registered),
    ("S4", "non-root SG_IO write", s4_sg_io),
    ("S5", "phone (MTP) blocked", s5_phone),
    ("S10", "USB optical drive blocked", s10_optical),
    ("S6", "hostile serial", s6_hostile),
    ("S8", "rapid plug/unplug", s8_rapid),
    ("S9", "rw mount found", s9_rw_mount),
    ("S7", "agent killed", s7_agent_killed),
    ("S11", "uevent overflow", s11_overflow),
    ("L1", "FIDO2 login through hidraw", login.l1_login),
]


def main():
    global SRC
    p = argparse.ArgumentParser()
    p.add_argument("--src", default=SRC)
    p.add_argument("--build", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--cache", default=os.environ.get("VM_CACHE", "/var/tmp/mynaguard-vm"))
    p.add_argument("--only", default="", help="comma-separated scenario ids, e.g. S2,S4")
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--budget", type=float, default=float(os.environ.get("E2E_BUDGET", 540)),
                   help="seconds after which the run is aborted")
    a = p.parse_args()
    SRC = a.src
    a.sd_sha = sha256(os.path.join(a.work, "img", "sd.img"))

    suite = Suite()
    sd = os.path.join(a.work, "img", "sd.img")
    vm = vmctl.VM(a.cache, os.path.join(a.work, "vm"),
                  kernel_append="usbcore.authorized_default=0",
                  qemu_args=["-device", "sdhci-pci", "-drive", f"if=none,id=sd0,file={sd},format=raw",
                             "-device", "sd-card,drive=sd0"],
                  share=os.path.join(a.work, "share"))

    def on_alarm(signum, frame):
        raise Abort(f"time budget of {a.budget:.0f} s exhausted")
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(a.budget))
    t_all = time.monotonic()
    only = {x.strip() for x in a.only.split(",") if x.strip()}
    c = None
    try:
        vm.start()
        boot = vm.t_ready - vm.t_start
        suite.info(f"VM booted (host root over 9p + tmpfs overlay), command channel answers: "
                   f"{boot:.1f} s")
        suite.timings.append(("boot", boot))
        c = Ctx(vm, suite, a)
        t0 = time.monotonic()
        suite.scenario = "setup"
        setup(c)
        suite.timings.append(("setup", time.monotonic() - t0))
        for sid, title, fn in SCENARIOS:
            if only and sid not in only:
                continue
            suite.scenario = f"{sid} {title}"
            print(f"# {sid}: {title}", flush=True)
            t0 = time.monotonic()
            try:
                fn(c)
            except Abort:
                raise
            except vmctl.GuestError as e:
                suite.check("scenario ran", False, f"guest: {e}")
                raise Abort(f"command channel lost: {e}")
            except Exception as e:
                suite.check("scenario ran", False, f"{type(e).__name__}: {e}")
                traceback.print_exc(file=sys.stdout)
                for dev_id in sorted(c.plugged):
                    try:
                        c.unplug(dev_id)
                    except Exception:
                        pass
            suite.timings.append((sid, time.monotonic() - t0))
        suite.scenario = ""
        try:
            c.g("g_collect", timeout=60)
        except Exception:
            pass
    except (Abort, vmctl.GuestError, OSError) as e:
        suite.scenario = ""
        suite.check("run completed", False, str(e))
    finally:
        signal.alarm(0)
        vm.stop()
    suite.timings.append(("total", time.monotonic() - t_all))
    print("# timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in suite.timings))
    if suite.failed:
        print("# console tail:")
        print("\n".join("#   " + line for line in vm.console_tail(25).splitlines()))
        log = os.path.join(a.work, "share", "agent.log")
        if os.path.exists(log):
            print("# agent log tail:")
            with open(log, errors="replace") as f:
                print("\n".join("#   " + line for line in f.read().splitlines()[-15:]))
    if suite.skipped:
        print(f"# {suite.skipped} skipped")
    print(f"{suite.passed} passed, {suite.failed} failed")
    return 1 if suite.failed else 0


if __name__ == "__main__":
    sys.exit(main())
