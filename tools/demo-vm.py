#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The terminal part of tools/demo.sh: a My Number terminal in a VM.

Boots Debian's kernel under QEMU (tools/vm, the host's root read-only over
9p), starts udevd and mynaguard-agent with the shipped profile and the
udev rules, plugs a USB stick and a smartphone over QMP, and shows what a
member of staff and the administrator see.  The guest has no network: the
agent's signed events stay in its spool, which is copied out at the end for
demo.sh to ship to the collector (as a terminal that was offline would).

  demo-vm.py --build BUILD --pki PKIDIR --agent-id ID --out DIR

Exit 0 when the stick ended up read-only and the phone blocked, 77 when
QEMU cannot run here, 1 otherwise.
"""
import argparse, os, shlex, shutil, subprocess, sys, tempfile, time

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SRC, "tools", "vm"))
import qmp  # noqa: E402
import vmctl  # noqa: E402

CACHE = os.environ.get("VM_CACHE", "/var/tmp/mynaguard-vm")
LIB = os.path.join(SRC, "tests", "vm", "guest-lib.sh")


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


class Guest:
    def __init__(self, vm, build):
        self.vm, self.build = vm, build

    def sh(self, cmd, timeout=60):
        r = self.vm.sh(f". {shlex.quote(LIB)}; {cmd}", timeout=timeout,
                       env={"MG_BUILD": self.build})
        return r

    def wait(self, cmd, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.vm.sh(cmd, timeout=10)
            if r.rc == 0 and r.out.strip():
                return r.out.strip()
            time.sleep(0.3)
        return ""


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", required=True)
    p.add_argument("--pki", required=True)
    p.add_argument("--agent-id", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    a.build = os.path.abspath(a.build)
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
        g = Guest(vm, a.build)
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

        r = g.sh("kill $(cat /run/mg-e2e/agent.pid) 2>/dev/null; "
                 "sleep 1; cp -a /var/lib/mynaguard/spool /mnt/host/spool && echo copied")
        if "copied" not in r.out:
            show(r.out + r.err)
            return 1
        ok = ro and blocked
    finally:
        vm.stop()
    if os.path.exists(a.out):
        shutil.rmtree(a.out)
    shutil.copytree(os.path.join(share, "spool"), a.out)
    shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
