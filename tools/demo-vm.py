#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The terminal part of tools/demo.sh: a My Number terminal in a VM, installed from the
Debian packages.

Boots Debian's kernel under QEMU on a fresh Debian 12 root with systemd as PID 1
(tools/vm/debroot.sh, VM_ROOTFS=debian). The administrator installs mynaguard-agent with
dpkg, gives the terminal its certificate from the town CA, and systemd starts the agent
from the package's unit. A USB stick is plugged in (made read-only) and a smartphone
(blocked). A software FIDO2 key (tests/softkey/softkey-uhid on /dev/uhid, found by
libfido2 through /dev/hidrawN as a real key is) is enrolled for staff1 with
`mynaguard key enroll`; then libpam-mynaguard is installed, and pam-auth-update puts the
key step into the login stack. staff1 logs in through the "login" PAM service with the
password, the key and its PIN (accepted); a key never enrolled is refused.

The guest's only network is QEMU's user network with restrict=on: nothing leaves it but
connections to 10.0.2.100:8443 (collector.demo), each relayed by tools/vm/fwd.py to the
collector on the host's 127.0.0.1. So the agent ships its signed events live over mutual
TLS, as on a town's closed network.

  demo-vm.py --debs DIR --pki PKIDIR --agent-id ID --port COLLECTOR_PORT --softkey DIR

Exit 0 when the stick ended up read-only, the phone blocked, the enrolled key's login
accepted, the other key's refused and every event acknowledged by the collector; 77 when
QEMU cannot run here, 1 otherwise.
"""
import argparse, glob, json, os, shlex, shutil, subprocess, sys, tempfile, time

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SRC, "tools", "vm"))
import qmp  # noqa: E402
import vmctl  # noqa: E402

CACHE = os.environ.get("VM_CACHE", "/var/tmp/mynaguard-vm")
LIB = os.path.join(SRC, "tests", "vm", "guest-lib.sh")
LOGIN_LIB = os.path.join(SRC, "tests", "vm", "guest-login.sh")
H = "/mnt/host"
USER = "staff1"
PASSWORD = "Zeimu-2026!"
PIN = "2468"
OTHER_PIN = "9753"          # the second key's own PIN: that key was never enrolled
LABEL = "税務課 staff1 キー1"
COLLECTOR = "collector.demo"
COLLECTOR_IP = "10.0.2.100"

PAMCONV = r'''import ctypes, locale, sys
locale.setlocale(locale.LC_ALL, "")
service, user = sys.argv[1], sys.argv[2]
answers = [line.rstrip("\n") for line in sys.stdin]
pam, libc = ctypes.CDLL("libpam.so.0"), ctypes.CDLL("libc.so.6")
libc.calloc.restype, libc.calloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t, ctypes.c_size_t]
libc.strdup.restype, libc.strdup.argtypes = ctypes.c_void_p, [ctypes.c_char_p]
libc.free.argtypes = [ctypes.c_void_p]
class Msg(ctypes.Structure):
    _fields_ = [("style", ctypes.c_int), ("msg", ctypes.c_char_p)]
class Resp(ctypes.Structure):
    _fields_ = [("resp", ctypes.c_void_p), ("retcode", ctypes.c_int)]
CONV = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.POINTER(Msg)),
                        ctypes.POINTER(ctypes.POINTER(Resp)), ctypes.c_void_p)
class Conv(ctypes.Structure):
    _fields_ = [("conv", CONV), ("appdata", ctypes.c_void_p)]
def conv(n, msgs, resp, _):
    arr = libc.calloc(n, ctypes.sizeof(Resp))
    if not arr:
        return 5                                    # PAM_BUF_ERR
    r = ctypes.cast(arr, ctypes.POINTER(Resp))
    for i in range(n):
        m = msgs[i].contents
        text = (m.msg or b"").decode("utf-8", "replace")
        if m.style in (1, 2):                       # PAM_PROMPT_ECHO_OFF / _ON
            if not answers:
                for j in range(i):
                    libc.free(r[j].resp)
                libc.free(arr)
                return 19                           # PAM_CONV_ERR
            a = answers.pop(0)
            print(text + ("*" * len(a) if m.style == 1 else a), flush=True)
            r[i].resp = libc.strdup(a.encode())
        else:                                       # PAM_ERROR_MSG / PAM_TEXT_INFO
            print(text, flush=True)
    resp[0] = r
    return 0
cb = CONV(conv)
conv_s = Conv(cb, None)
h = ctypes.c_void_p()
rc = pam.pam_start(service.encode(), user.encode(), ctypes.byref(conv_s), ctypes.byref(h))
if rc == 0:
    rc = pam.pam_authenticate(h, 0)
pam.pam_strerror.restype = ctypes.c_char_p
print(f"pam_authenticate: {pam.pam_strerror(h, rc).decode()} ({rc})")
pam.pam_end(h, rc)
sys.exit(0 if rc == 0 else 1)
'''


T0 = float(os.environ.get("DEMO_T0", time.time()))


def say(text):
    print(f"\n\033[1m==> [{time.time() - T0:3.0f}s] {text}\033[0m", flush=True)


def show(out):
    for line in out.rstrip("\n").splitlines():
        print("   " + line, flush=True)


def make_image(path, work):
    """16 MiB, one ext2 partition at sector 2048 holding a file."""
    root = os.path.join(work, "fsroot")
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "住民票様式.txt"), "w") as f:
        f.write("demo medium\n")
    with open(path, "wb") as f:
        f.truncate(16 << 20)
    subprocess.run(["sfdisk", "-q", path], input=b"label: dos\nstart=2048, type=83\n",
                   check=True)
    part = os.path.join(work, "part.img")
    with open(part, "wb") as f:
        f.truncate((16 << 20) - (1 << 20))
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext2", "-L", "USBSTICK", "-d", root, part],
                   check=True)
    subprocess.run(["dd", f"if={part}", f"of={path}", "bs=1M", "seek=1", "conv=notrunc",
                    "status=none"], check=True)
    os.unlink(part)


def prepare_share(a, share):
    """What the administrator brings to the terminal: the packages, the certificates."""
    debs = os.path.join(share, "debs")
    os.makedirs(debs)
    for pkg in ("mynaguard-agent", "libpam-mynaguard"):
        found = sorted(glob.glob(os.path.join(a.debs, f"{pkg}_*.deb")))
        if not found:
            raise SystemExit(f"demo-vm.py: no {pkg}_*.deb in {a.debs}")
        shutil.copy(found[-1], debs)
    pki = os.path.join(share, "pki")
    os.makedirs(pki)
    shutil.copy(os.path.join(a.pki, "ca.pem"), os.path.join(pki, "ca.pem"))
    shutil.copy(os.path.join(a.pki, a.agent_id + ".pem"), os.path.join(pki, "agent.pem"))
    shutil.copy(os.path.join(a.pki, a.agent_id + ".key"), os.path.join(pki, "agent.key"))
    sk = os.path.join(share, "softkey")
    os.makedirs(sk)
    for name in ("softkey-uhid", "skctl"):
        shutil.copy(os.path.join(a.softkey, name), sk)
    with open(os.path.join(share, "pamconv.py"), "w") as f:
        f.write(PAMCONV)
    # The guest functions of the VM tests (the software key's plug and unplug).
    shutil.copy(LIB, os.path.join(share, "guest-lib.sh"))
    shutil.copy(LOGIN_LIB, os.path.join(share, "guest-login.sh"))


class Guest:
    def __init__(self, vm):
        self.vm = vm

    def sh(self, cmd, timeout=60):
        return self.vm.sh(f". {H}/guest-lib.sh; . {H}/guest-login.sh; {cmd}",
                          timeout=timeout, env={"GL_SOFTKEY": f"{H}/softkey",
                                                "MG_BUILD": "/nonexistent"})

    def ok(self, cmd, timeout=60):
        r = self.sh(cmd, timeout)
        if r.rc != 0:
            show(r.out + r.err)
            raise Failed(cmd.split("\n")[0][:80])
        return r.out

    def wait(self, cmd, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.vm.sh(cmd, timeout=10)
            if r.rc == 0 and r.out.strip():
                return r.out.strip()
            time.sleep(0.3)
        return ""


class Failed(Exception):
    pass


def plugged(out):
    """gl_key_plug's "new=hidrawN HID_ID NAME" line, as "/dev/hidrawN (NAME, HID_ID)"."""
    for line in out.splitlines():
        if line.startswith("new="):
            node, _, rest = line[4:].partition(" ")
            hid_id, _, name = rest.partition(" ")
            return f"/dev/{node} ({name}, HID_ID {hid_id})"
    return None


def install_agent(g, a):
    say("the administrator installs mynaguard-agent from its package (dpkg -i)")
    show(g.ok(f"DEBIAN_FRONTEND=noninteractive dpkg -i {H}/debs/mynaguard-agent_*.deb 2>&1 | grep -v '^(Reading database'"))
    print("   # systemctl status mynaguard-agent    (no certificate yet: the unit waits)")
    show(g.sh("systemctl status --no-pager mynaguard-agent 2>&1 | "
              "grep -E 'Loaded|Active|Condition' | sed 's/^ *//'").out)

    say(f"the terminal's certificate from the town CA ({a.agent_id}); the collector's "
        "address; systemd starts the agent")
    conf = (f"install -m 0644 {H}/pki/ca.pem /etc/mynaguard/ca.pem && "
            f"install -m 0644 {H}/pki/agent.pem /etc/mynaguard/agent.pem && "
            f"install -m 0600 {H}/pki/agent.key /etc/mynaguard/agent.key && "
            f"sed -i 's|^#URL=.*|URL=https://{COLLECTOR}:8443/|' /etc/mynaguard/agent.conf && "
            f"echo '{COLLECTOR_IP} {COLLECTOR}' >> /etc/hosts && "
            f"hostnamectl hostname {a.agent_id} 2>/dev/null || hostname {a.agent_id}; "
            "mkdir -p /etc/systemd/network && printf '[Match]\\nName=en* eth*\\n[Network]\\n"
            "Address=10.0.2.15/24\\n' > /etc/systemd/network/50-demo.network && "
            "systemctl start systemd-networkd")
    g.ok(conf)
    for line in ("install -m 0644 ca.pem /etc/mynaguard/ca.pem",
                 f"install -m 0644 {a.agent_id}.pem /etc/mynaguard/agent.pem",
                 f"install -m 0600 {a.agent_id}.key /etc/mynaguard/agent.key",
                 f"URL=https://{COLLECTOR}:8443/  in [Collector] of /etc/mynaguard/agent.conf",
                 "mynaguard-agent --check-config && systemctl start mynaguard-agent"):
        print("   # " + line)
    show(g.ok("mynaguard-agent --check-config 2>&1 && systemctl start mynaguard-agent && "
              "systemctl is-active mynaguard-agent"))
    show(g.sh("journalctl -u mynaguard-agent -o cat --no-pager | "
              "sed -n 's/^<[0-9]>//; /^Starting/,$p' | head -n 4").out)


def media_part(g, vm, stick, phone_dir):
    say("a member of staff plugs in a USB stick (not registered)")
    qmp.plug_stick(vm.qmp, "stick", stick, serial="4C5300012345")
    disk = g.wait("for d in /sys/block/sd*; do [ -e \"$d\" ] && basename $d; done | head -n1")
    if not disk:
        print("   no disk appeared")
        return False, False
    g.wait(f"test -b /dev/{disk}1 && echo y")
    g.wait(f"[ $(cat /sys/block/{disk}/ro) = 1 ] && echo y", 10)
    show(g.sh(f"echo \"/sys/block/{disk}/ro = $(cat /sys/block/{disk}/ro)\"; "
              f"dd if=/dev/zero of=/dev/{disk}1 bs=4k count=1 oflag=direct 2>&1 | head -n1; "
              f"mkdir -p /media/stick; mount /dev/{disk}1 /media/stick 2>&1; "
              "grep ' /media/stick ' /proc/mounts | cut -d' ' -f1-4; ls /media/stick; "
              "cp /etc/hostname /media/stick/ 2>&1 | sed 's/^/copy to the stick: /'").out)
    ro = g.sh(f"cat /sys/block/{disk}/ro").out.strip() == "1"

    say("a smartphone (MTP) is plugged in")
    qmp.plug_mtp(vm.qmp, "phone", phone_dir, serial="R58M12345")
    phone = g.wait("for d in /sys/bus/usb/devices/*; do "
                   "[ \"$(cat $d/serial 2>/dev/null)\" = R58M12345 ] && "
                   "echo \"${d##*/} authorized=$(cat $d/authorized)\"; done; true")
    print("   " + phone)
    blocked = phone.endswith("authorized=0")

    say("the administrator: mynaguard device list, and a rule to register the stick")
    show(g.sh(f"mynaguard device list 2>&1; mynaguard device rule /dev/{disk} 2>&1").out)
    say("what the agent wrote to the journal (journalctl -u mynaguard-agent)")
    show(g.sh("journalctl -u mynaguard-agent -o cat --no-pager | grep -v '^----' | "
              "sed 's/^<[0-9]>//' | tail -n 5").out)
    return ro, blocked


def enroll_part(g):
    say(f"the administrator enrolls a security key for {USER} "
        "(a software FIDO2 key on /dev/uhid)")
    g.ok(f"useradd -m -s /bin/bash {USER} && echo '{USER}:{PASSWORD}' | chpasswd")
    print(f"   # useradd -m {USER}; passwd {USER}")
    r = g.sh("gl_modules >/dev/null && gl_key_init keyA >/dev/null && gl_key_plug keyA", 60)
    node = plugged(r.out)
    if r.rc != 0 or node is None:
        show(r.out + r.err)
        raise Failed("the software key did not appear")
    print(f"   key A plugged in: {node}")
    print(f"   # mynaguard key enroll {USER} --label '{LABEL}' --pin"
          f"      (a new PIN for the key, typed twice: {PIN})")
    show(g.ok(f"printf '%s\\n%s\\n' {PIN} {PIN} | "
              f"mynaguard key enroll {USER} --label {shlex.quote(LABEL)} --pin 2>&1", 90))
    print("   # mynaguard key list")
    show(g.sh("mynaguard key list 2>&1").out)

    say("libpam-mynaguard from its package: a key is enrolled, so pam-auth-update puts "
        "the key step into the login stack")
    show(g.ok(f"DEBIAN_FRONTEND=noninteractive dpkg -i {H}/debs/libpam-mynaguard_*.deb 2>&1 | "
              "grep -v '^(Reading database'"))
    print("   # grep -E 'pam_(unix|mynaguard)' /etc/pam.d/common-auth")
    show(g.sh("grep -E '^auth.*pam_(unix|mynaguard)' /etc/pam.d/common-auth | "
              "tr -s ' \\t' ' '").out)


def login_part(g):
    """A good login and a refused one, through the real "login" service. (accepted, refused)"""
    # LANG for the PAM application's setlocale(); TERM as in a desktop terminal window (on
    # a Linux text console, TERM=linux, the module speaks English).
    login = (f"LANG=ja_JP.UTF-8 TERM=xterm-256color python3 {H}/pamconv.py login {USER}")
    say(f"{USER} logs in (PAM service \"login\": password, then the key and its PIN; "
        "LANG=ja_JP.UTF-8)")
    print(f"   (what {USER}'s terminal shows; a software key gives its touch at once)")
    r = g.sh(f"printf '%s\\n%s\\n' '{PASSWORD}' {PIN} | {login} 2>&1", 60)
    show(r.out)
    accepted = r.rc == 0

    say(f"{USER} tries a second key that was never enrolled (right password)")
    r = g.sh(f"gl_key_unplug keyA >/dev/null && gl_key_init keyB {OTHER_PIN} >/dev/null "
             "&& gl_key_plug keyB", 60)
    node = plugged(r.out)
    if r.rc != 0 or node is None:
        show(r.out + r.err)
        return accepted, False
    print(f"   key A removed, key B plugged in: {node}")
    r = g.sh(f"printf '%s\\n%s\\n' '{PASSWORD}' {OTHER_PIN} | {login} 2>&1; rc=$?; "
             "gl_key_unplug keyB >/dev/null; exit $rc", 90)
    show(r.out)
    refused = r.rc == 1 and "(7)" in r.out          # PAM_AUTH_ERR
    return accepted, refused


def shipped(g):
    say("the agent ships every signed event to the collector (mynaguard status)")
    deadline = time.monotonic() + 60
    done = False
    while not done and time.monotonic() < deadline:
        try:
            st = json.loads(g.sh("mynaguard status --json 2>/dev/null").out)
            done = st.get("head_seq") is not None and st.get("head_seq") == st.get("acked_seq")
        except ValueError:
            pass
        if not done:
            time.sleep(0.5)
    show(g.sh("mynaguard status 2>&1").out)
    return done


def run(a, work):
    share = os.path.join(work, "share")
    stick = os.path.join(work, "stick.img")
    phone_dir = os.path.join(work, "phone")
    os.makedirs(phone_dir)
    with open(os.path.join(phone_dir, "IMG_0001.JPG"), "w") as f:
        f.write("photo\n")
    make_image(stick, work)
    prepare_share(a, share)

    say("a fresh Debian 12 root for the terminal (tools/vm/debroot.sh; cached after the "
        "first run)")
    r = subprocess.run([os.path.join(SRC, "tools", "vm", "debroot.sh")],
                       stdout=subprocess.PIPE, text=True, env=dict(os.environ, VM_CACHE=CACHE))
    if r.returncode != 0 or not r.stdout.strip():
        print("   debroot.sh failed")
        return 1
    debroot = r.stdout.strip().splitlines()[-1]
    fwd = os.path.join(SRC, "tools", "vm", "fwd.py")
    net = (f"user,id=n0,restrict=on,guestfwd=tcp:{COLLECTOR_IP}:8443-"
           f"cmd:python3 {fwd} {a.port}")
    vm = vmctl.VM(CACHE, os.path.join(work, "vm"), kernel_append="usbcore.authorized_default=0",
                  share=share, rootfs="debian", debroot=debroot,
                  qemu_args=["-netdev", net, "-device", "virtio-net-pci,netdev=n0"])
    results = {}
    try:
        say("the terminal boots (QEMU, Debian's kernel, systemd; its only network: "
            f"{COLLECTOR_IP}:8443, relayed to the collector on 127.0.0.1:{a.port})")
        vm.start()
        print(f"   booted in {vm.t_ready - vm.t_start:.1f} s; usbcore.authorized_default=0")
        g = Guest(vm)
        install_agent(g, a)
        results["stick read-only"], results["phone blocked"] = media_part(g, vm, stick,
                                                                        phone_dir)
        enroll_part(g)
        results["enrolled key accepted"], results["unenrolled key refused"] = login_part(g)
        results["events acknowledged"] = shipped(g)
    except Failed as e:
        print(f"   failed: {e}")
        return 1
    finally:
        vm.stop()
    bad = [k for k, v in results.items() if not v]
    if bad:
        print("   not as expected: " + ", ".join(bad))
        return 1
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--debs", required=True)
    p.add_argument("--pki", required=True)
    p.add_argument("--agent-id", required=True)
    p.add_argument("--port", required=True, type=int)
    p.add_argument("--softkey", required=True, help="directory of softkey-uhid and skctl")
    a = p.parse_args()
    a.softkey = os.path.abspath(a.softkey)
    if shutil.which("qemu-system-x86_64") is None:    # TCG needs no /dev/kvm
        return 77
    work = tempfile.mkdtemp(prefix="mynaguard-demo-vm.")
    os.chmod(work, 0o755)
    try:
        return run(a, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
