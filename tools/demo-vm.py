#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The terminal part of tools/demo.sh: a My Number terminal in a VM.

Boots Debian's kernel under QEMU (tools/vm, the host's root read-only over
9p), starts udevd and mynaguard-agent with the shipped profile and the
udev rules, plugs a USB stick and a smartphone over QMP, and shows what a
member of staff and the administrator see.  Then the FIDO2 login of the
profile's [login]: a software security key (tests/softkey/softkey-uhid, a
USB HID device on /dev/uhid, found by libfido2 through /dev/hidrawN as a
real key is) is enrolled for staff1 with `mynaguard key enroll`, staff1
logs in with it and its PIN through pam_mynaguard.so, and a key that was
never enrolled is refused.  The guest functions are tests/vm/guest-lib.sh
and tests/vm/guest-login.sh (scenario L1's).  The guest has no network: the
agent's signed events stay in its spool, which is copied out at the end for
demo.sh to ship to the collector (as a terminal that was offline would).

  demo-vm.py --build BUILD --pki PKIDIR --agent-id ID --out DIR
             [--softkey DIR]   (softkey-uhid and skctl; BUILD/tests/softkey)

Exit 0 when the stick ended up read-only, the phone blocked, the enrolled
key's login accepted and the other key's refused; 77 when QEMU cannot run
here, 1 otherwise.
"""
import argparse, os, shlex, shutil, subprocess, sys, tempfile, time

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SRC, "tools", "vm"))
import qmp  # noqa: E402
import vmctl  # noqa: E402

CACHE = os.environ.get("VM_CACHE", "/var/tmp/mynaguard-vm")
LIB = os.path.join(SRC, "tests", "vm", "guest-lib.sh")
LOGIN_LIB = os.path.join(SRC, "tests", "vm", "guest-login.sh")
USER = "staff1"
PIN = "2468"
OTHER_PIN = "9753"          # the second key's own PIN: that key was never enrolled
SERVICE = "mynaguard-demo"
LABEL = "税務課 staff1 キー1"

# What staff1 types into: a PAM application that, like login, gdm or sshd,
# calls setlocale(), so pam_mynaguard.so speaks the user's language
# (pamtester never calls it and stays in English).  It prints every message
# of the conversation as a terminal would, the PIN masked, and the result.
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


def say(text):
    print(f"\n\033[1m==> {text}\033[0m", flush=True)


def show(out):
    for line in out.rstrip("\n").splitlines():
        print("   " + line)


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


def prepare_share(a, share, work):
    etc = os.path.join(share, "etc")
    os.makedirs(etc)
    os.makedirs(os.path.join(share, "udev"))
    os.makedirs(os.path.join(share, "udisks2"))
    shutil.copy(os.path.join(a.pki, "ca.pem"), os.path.join(etc, "ca.pem"))
    shutil.copy(os.path.join(a.pki, a.agent_id + ".pem"), os.path.join(etc, "agent.pem"))
    shutil.copy(os.path.join(a.pki, a.agent_id + ".key"), os.path.join(etc, "agent.key"))
    shutil.copy(os.path.join(SRC, "policy", "mynumber-terminal.conf"),
                os.path.join(etc, "policy.conf"))
    with open(os.path.join(etc, "agent.conf"), "w") as f:
        f.write("[Agent]\nHostName=%s\n[Collector]\nCA=/etc/mynaguard/ca.pem\n"
                "Certificate=/etc/mynaguard/agent.pem\nKey=/etc/mynaguard/agent.key\n"
                "[Spool]\nDirectory=/var/lib/mynaguard/spool\n[Intake]\n"
                "Socket=/run/mynaguard/events.sock\nDropDirectory=/var/lib/mynaguard/drop\n"
                "[Policy]\nPath=/etc/mynaguard/policy.conf\n" % a.agent_id)
    udev = os.path.join(SRC, "packaging", "udev")
    helper = os.path.join(a.build, "agent", "mynaguard-udev")
    for name in sorted(os.listdir(udev)):
        src = os.path.join(udev, name)
        if name.endswith(".rules.in"):
            with open(src) as f, open(os.path.join(share, "udev", name[:-3]), "w") as g:
                g.write(f.read().replace("@MYNAGUARD_UDEV@", helper))
        elif name.endswith(".rules"):
            shutil.copy(src, os.path.join(share, "udev", name))
    shutil.copy(os.path.join(SRC, "packaging", "udisks2", "mount_options.conf"),
                os.path.join(share, "udisks2"))
    # For guest-login.sh's gl_install: the login policy is the shipped profile
    # itself ([login]: every user needs a key and its PIN), installed where the
    # module and `mynaguard key` look by default; the PAM service has the key
    # step alone (staff1 has no password), as tests/vm/login.py's has.
    login = os.path.join(share, "login")
    os.makedirs(login)
    shutil.copy(os.path.join(etc, "policy.conf"), os.path.join(login, "policy.conf"))
    with open(os.path.join(login, "pam-service"), "w") as f:
        f.write("# tools/demo-vm.py: the key step of the login stack (docs/pam.md)\n"
                f"auth required {a.build}/pam_module/pam_mynaguard.so "
                f"localedir={a.build}/locale\n"
                "account required pam_permit.so\n")
    with open(os.path.join(login, "pamconv.py"), "w") as f:
        f.write(PAMCONV)


class Guest:
    def __init__(self, vm, build, softkey):
        self.vm, self.build, self.softkey = vm, build, softkey

    def sh(self, cmd, timeout=60):
        r = self.vm.sh(f". {shlex.quote(LIB)}; {cmd}", timeout=timeout,
                       env={"MG_BUILD": self.build})
        return r

    def login(self, cmd, timeout=60):
        """cmd with guest-login.sh's functions too (gl_*)."""
        return self.vm.sh(f". {shlex.quote(LIB)}; . {shlex.quote(LOGIN_LIB)}; {cmd}",
                          timeout=timeout,
                          env={"MG_BUILD": self.build, "GL_POLICY": "/etc/mynaguard/policy.conf",
                               "GL_SERVICE": SERVICE, "GL_SOFTKEY": self.softkey})

    def wait(self, cmd, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.vm.sh(cmd, timeout=10)
            if r.rc == 0 and r.out.strip():
                return r.out.strip()
            time.sleep(0.3)
        return ""


def plugged(out):
    """gl_key_plug's "new=hidrawN HID_ID NAME" line, as "/dev/hidrawN (NAME, HID_ID)"."""
    for line in out.splitlines():
        if line.startswith("new="):
            node, _, rest = line[4:].partition(" ")
            hid_id, _, name = rest.partition(" ")
            return f"/dev/{node} ({name}, HID_ID {hid_id})"
    return None


def login_part(g, mg):
    """Enrollment, a good login, a refused one. Returns (accepted, refused)."""
    say(f"the administrator enrolls a security key for {USER} "
        "(a software FIDO2 key on /dev/uhid)")
    r = g.login("gl_modules >/dev/null && gl_install >/dev/null && gl_key_init keyA >/dev/null "
                "&& gl_key_plug keyA", 60)
    node = plugged(r.out)
    if r.rc != 0 or node is None:
        show(r.out + r.err)
        return False, False
    print(f"   key A plugged in: {node}")
    print(f"   # mynaguard key enroll {USER} --label '{LABEL}' --pin"
          f"      (a new PIN for the key, typed twice: {PIN})")
    r = g.login(f"printf '%s\\n%s\\n' {PIN} {PIN} | "
                f"{mg} key enroll {USER} --label {shlex.quote(LABEL)} --pin 2>&1", 90)
    show(r.out)
    if r.rc != 0:
        return False, False
    print("   # mynaguard key list")
    show(g.login(f"{mg} key list 2>&1").out)

    # LANG for the PAM application's setlocale(); TERM as in a desktop terminal
    # window (on a Linux text console, TERM=linux, the module speaks English).
    login = (f"LANG=ja_JP.UTF-8 TERM=xterm-256color /usr/bin/python3 /mnt/host/login/pamconv.py "
             f"{SERVICE} {USER}")
    say(f"{USER} logs in with the key and its PIN (pam_mynaguard.so, LANG=ja_JP.UTF-8)")
    print("   (what staff1's terminal shows; a software key gives its touch at once)")
    r = g.login(f"printf '%s\\n' {PIN} | {login} 2>&1", 60)
    show(r.out)
    accepted = r.rc == 0

    say(f"{USER} tries a second key that was never enrolled")
    r = g.login(f"gl_key_unplug keyA >/dev/null && gl_key_init keyB {OTHER_PIN} >/dev/null "
                "&& gl_key_plug keyB", 60)
    node = plugged(r.out)
    if r.rc != 0 or node is None:
        show(r.out + r.err)
        return accepted, False
    print(f"   key A removed, key B plugged in: {node}")
    r = g.login(f"printf '%s\\n' {OTHER_PIN} | {login} 2>&1; rc=$?; gl_key_unplug keyB "
                ">/dev/null; exit $rc", 60)
    show(r.out)
    refused = r.rc == 1 and "(7)" in r.out          # PAM_AUTH_ERR
    return accepted, refused


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", required=True)
    p.add_argument("--pki", required=True)
    p.add_argument("--agent-id", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--softkey", help="directory of softkey-uhid and skctl "
                   "(default BUILD/tests/softkey)")
    a = p.parse_args()
    a.build = os.path.abspath(a.build)
    a.softkey = os.path.abspath(a.softkey or os.path.join(a.build, "tests", "softkey"))
    for f in (os.path.join(a.softkey, "softkey-uhid"), os.path.join(a.softkey, "skctl"),
              os.path.join(a.build, "pam_module", "pam_mynaguard.so")):
        if not os.access(f, os.R_OK):
            print(f"demo-vm.py: {f} is not built", file=sys.stderr)
            return 1
    work = tempfile.mkdtemp(prefix="mynaguard-demo-vm.")
    os.chmod(work, 0o755)
    share = os.path.join(work, "share")
    stick = os.path.join(work, "stick.img")
    mtp = os.path.join(work, "phone")
    os.makedirs(mtp)
    with open(os.path.join(mtp, "IMG_0001.JPG"), "w") as f:
        f.write("photo\n")
    make_image(stick, work)
    prepare_share(a, share, work)
    mg = os.path.join(a.build, "cli", "mynaguard")
    vm = vmctl.VM(CACHE, os.path.join(work, "vm"), kernel_append="usbcore.authorized_default=0",
                  share=share)
    ok = False
    try:
        say("a My Number terminal in a VM (QEMU, Debian's kernel, udevd, mynaguard-agent)")
        vm.start()
        print(f"   booted in {vm.t_ready - vm.t_start:.1f} s; usbcore.authorized_default=0")
        g = Guest(vm, a.build, a.softkey)
        r = g.sh("g_install >/dev/null && g_udev_start >/dev/null && g_agent_start", 180)
        if r.rc != 0:
            show(r.out + r.err)
            return 1
        show(g.sh("head -n 3 /run/mg-e2e/agent.log | sed 's/^<[0-9]>//'").out)

        say("a member of staff plugs in a USB stick (not registered)")
        qmp.plug_stick(vm.qmp, "stick", stick, serial="4C5300012345")
        disk = g.wait("for d in /sys/block/sd*; do [ -e \"$d\" ] && basename $d; done | head -n1")
        if not disk:
            print("   no disk appeared")
            return 1
        g.wait(f"test -b /dev/{disk}1 && echo y")
        show(g.sh(f"echo \"/sys/block/{disk}/ro = $(cat /sys/block/{disk}/ro)\"; "
                  f"dd if=/dev/zero of=/dev/{disk}1 bs=4k count=1 oflag=direct 2>&1 | head -n1 "
                  f"; mkdir -p /media/stick; mount /dev/{disk}1 /media/stick 2>&1; "
                  "grep ' /media/stick ' /proc/mounts | cut -d' ' -f1-4; ls /media/stick; "
                  "cp /etc/hostname /media/stick/ 2>&1 | sed 's/^/copy to the stick: /'").out)
        ro = g.sh(f"cat /sys/block/{disk}/ro").out.strip() == "1"

        say("a smartphone (MTP) is plugged in")
        qmp.plug_mtp(vm.qmp, "phone", mtp, serial="R58M12345")
        time.sleep(2)
        phone = g.sh("for d in /sys/bus/usb/devices/*; do "
                     "[ \"$(cat $d/serial 2>/dev/null)\" = R58M12345 ] && "
                     "echo \"${d##*/} authorized=$(cat $d/authorized)\"; done").out.strip()
        print("   " + phone)
        blocked = phone.endswith("authorized=0")

        say("the administrator: mynaguard device list, and a rule to register the stick")
        show(g.sh(f"{mg} device list 2>&1; {mg} device rule /dev/{disk} 2>&1").out)

        say("what the journal and the seat's user are told")
        show(g.sh("grep -v '^----' /run/mg-e2e/agent.log | sed 's/^<[0-9]>//' | tail -n 6").out)

        logged_in, refused = login_part(g, mg)

        r = g.sh("kill $(cat /run/mg-e2e/agent.pid) 2>/dev/null; "
                 "sleep 1; cp -a /var/lib/mynaguard/spool /mnt/host/spool && echo copied")
        if "copied" not in r.out:
            show(r.out + r.err)
            return 1
        ok = ro and blocked and logged_in and refused
        if not ok:
            print(f"   read-only {ro}, phone blocked {blocked}, login with the enrolled key "
                  f"{logged_in}, unenrolled key refused {refused}")
    finally:
        vm.stop()
    if os.path.exists(a.out):
        shutil.rmtree(a.out)
    shutil.copytree(os.path.join(share, "spool"), a.out)
    shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
