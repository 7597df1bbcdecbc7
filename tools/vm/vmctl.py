#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Host side of a host-root VM (run.sh VM_ROOTFS=host) or of a fresh Debian root under
systemd (VM_ROOTFS=debian, a tools/vm/debroot.sh tree) with a command channel.

As a module:
    vm = vmctl.VM(cache, workdir, kernel_append="usbcore.authorized_default=0",
                  qemu_args=["-device", "sdhci-pci", ...])
    # or vmctl.VM(cache, workdir, rootfs="debian", debroot=DIR): systemd is PID 1 and
    # starts guestd (vm-guestd.service); stop() powers off through systemd.
    try:
        vm.start()                      # boots, waits until guestd.py answers
        r = vm.sh("cat /proc/uptime")   # r.rc, r.out (str), r.out_bytes, r.err, r.timed_out
        qmp.plug_stick(vm.qmp, "s1", "/tmp/x.img", serial="SN1")
    finally:
        vm.stop()                       # always: asks the guest to power off, else kills QEMU

As a command (for poking at the guest by hand):
    vmctl.py [--append "k=v ..."] [--cache DIR] [--keep] [--rootfs debian [--debroot DIR]]
             -- 'shell command' ['command' ...]
runs each command in one booted guest, prints its output and exit status. With
--rootfs debian and no --debroot (or VM_DEBROOT), tools/vm/debroot.sh makes or finds the
cached root.

workdir holds qmp.sock, cmd.sock, qemu.pid, console.log and share/ (the guest's /mnt/host;
share= puts it elsewhere). guest.sh in the share is overwritten.
QEMU runs in its own process group; a caller that may be killed itself should also kill
the pid in qemu.pid on exit.
"""
import argparse, base64, json, os, shutil, signal, socket, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import qmp as qmplib  # noqa: E402


class GuestError(RuntimeError):
    pass


class Result:
    def __init__(self, resp):
        self.rc = resp["rc"]
        self.out_bytes = base64.b64decode(resp["out"])
        self.err_bytes = base64.b64decode(resp["err"])
        self.out = self.out_bytes.decode("utf-8", "replace")
        self.err = self.err_bytes.decode("utf-8", "replace")
        self.timed_out = resp["timed_out"]
        self.secs = resp["secs"]

    def __repr__(self):
        return f"Result(rc={self.rc}, out={self.out!r}, err={self.err!r})"


class VM:
    def __init__(self, cache, workdir, kernel_append="", qemu_args=(), modules=None,
                 smp=None, mem=None, share=None, rootfs="host", debroot=None):
        if rootfs not in ("host", "debian"):
            raise ValueError(f"rootfs must be host or debian, not {rootfs!r}")
        if rootfs == "debian" and not debroot:
            raise ValueError("rootfs debian needs debroot (tools/vm/debroot.sh prints it)")
        self.rootfs, self.debroot = rootfs, debroot
        self.cache = cache
        self.workdir = workdir
        self.share = share or os.path.join(workdir, "share")
        self.console = os.path.join(workdir, "console.log")
        self.qmp_path = os.path.join(workdir, "qmp.sock")
        self.cmd_path = os.path.join(workdir, "cmd.sock")
        self.pidfile = os.path.join(workdir, "qemu.pid")
        self.kernel_append = kernel_append
        self.qemu_args = list(qemu_args)
        self.modules = modules
        self.smp, self.mem = smp, mem
        self.proc = None
        self.qmp = None
        self.sock = None
        self.rbuf = b""
        self.next_id = 1
        self.t_start = self.t_ready = None

    # ---- life cycle ---------------------------------------------------------------------
    def start(self, timeout=180.0):
        os.makedirs(self.workdir, exist_ok=True)
        os.makedirs(self.share, exist_ok=True)
        env = dict(os.environ, VM_ROOTFS=self.rootfs, VM_CMD_SOCKET=self.cmd_path,
                   KERNEL_APPEND=self.kernel_append)
        if self.rootfs == "host":
            with open(os.path.join(self.share, "guest.sh"), "w") as f:
                f.write(f"exec python3 {HERE}/guestd.py\n")
        else:
            env["VM_DEBROOT"] = self.debroot
        env.pop("QEMU_EXTRA", None)
        if self.modules is not None:
            env["VM_MODULES"] = ",".join(self.modules)
        if self.smp:
            env["VM_SMP"] = str(self.smp)
        if self.mem:
            env["VM_MEM"] = str(self.mem)
        self.t_start = time.monotonic()
        with open(self.console, "wb") as con:
            self.proc = subprocess.Popen(
                [os.path.join(HERE, "run.sh"), self.cache, self.share, self.qmp_path,
                 "-pidfile", self.pidfile] + self.qemu_args,
                stdin=subprocess.DEVNULL, stdout=con, stderr=subprocess.STDOUT, env=env,
                start_new_session=True)
        deadline = time.monotonic() + timeout
        self._wait_socket(self.qmp_path, deadline)
        self.qmp = qmplib.QMP(self.qmp_path, timeout=max(1.0, deadline - time.monotonic()))
        self._wait_socket(self.cmd_path, deadline)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.cmd_path)
        self._call({"op": "ping"}, deadline)
        self.t_ready = time.monotonic()

    def _wait_socket(self, path, deadline):
        while not os.path.exists(path):
            self._check_alive()
            if time.monotonic() > deadline:
                raise GuestError(f"{path} did not appear")
            time.sleep(0.05)

    def _check_alive(self):
        if self.proc is not None and self.proc.poll() is not None:
            raise GuestError(f"QEMU exited with status {self.proc.returncode}")

    def stop(self, timeout=20.0):
        """Power the guest off (guestd exits; hostroot-init, or systemd through the unit's
        SuccessAction=, powers off); kill QEMU if needed."""
        if self.proc is None:
            return
        try:
            if self.sock is not None and self.proc.poll() is None:
                self._call({"op": "exit", "rc": 0}, time.monotonic() + 5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                if self.qmp is not None:
                    self.qmp.execute("quit")
            except Exception:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        for s in (self.sock, getattr(self.qmp, "sock", None)):
            try:
                if s is not None:
                    s.close()
            except OSError:
                pass
        self.proc = None

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    # ---- command channel ----------------------------------------------------------------
    def _call(self, req, deadline):
        req = dict(req, id=self.next_id)
        self.next_id += 1
        self.sock.sendall((json.dumps(req) + "\n").encode())
        while True:
            while b"\n" in self.rbuf:
                line, self.rbuf = self.rbuf.split(b"\n", 1)
                resp = json.loads(line)
                if resp.get("id") == req["id"]:
                    return resp
            self._check_alive()
            left = deadline - time.monotonic()
            if left <= 0:
                raise GuestError(f"no answer from the guest to {req.get('op', 'sh')} "
                                 f"{req.get('sh', '')[:60]!r}")
            self.sock.settimeout(min(left, 1.0))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise GuestError("command channel closed")
            self.rbuf += chunk

    def sh(self, script, timeout=60.0, env=None):
        """Run SCRIPT with bash -c in the guest; the guest kills it after TIMEOUT s (rc -9)."""
        req = {"op": "sh", "sh": script, "timeout": timeout}
        if env:
            req["env"] = env
        return Result(self._call(req, time.monotonic() + timeout + 15))

    def console_tail(self, n=40):
        try:
            with open(self.console, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return ""


def main():
    p = argparse.ArgumentParser(description="boot a host-root VM and run commands in it")
    p.add_argument("--cache", default=os.environ.get("VM_CACHE", "/var/tmp/mynaguard-vm"))
    p.add_argument("--append", default="")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--rootfs", choices=("host", "debian"), default="host")
    p.add_argument("--debroot", default=os.environ.get("VM_DEBROOT"),
                   help="debian mode: the root tree (default: tools/vm/debroot.sh's)")
    p.add_argument("commands", nargs="+")
    a = p.parse_args()
    if a.rootfs == "debian" and not a.debroot:
        r = subprocess.run([os.path.join(HERE, "debroot.sh")], stdout=subprocess.PIPE,
                           text=True, env=dict(os.environ, VM_CACHE=a.cache))
        if r.returncode != 0 or not r.stdout.strip():
            print("vmctl: debroot.sh failed", file=sys.stderr)
            return 1
        a.debroot = r.stdout.strip().splitlines()[-1]
    wd = tempfile.mkdtemp(prefix="mynaguard-vmctl.")
    vm = VM(a.cache, wd, kernel_append=a.append, rootfs=a.rootfs, debroot=a.debroot)
    rc = 0
    try:
        vm.start()
        print(f"vmctl: ready after {vm.t_ready - vm.t_start:.1f} s", file=sys.stderr)
        for c in a.commands:
            r = vm.sh(c, timeout=a.timeout)
            sys.stdout.write(r.out)
            sys.stderr.write(r.err)
            print(f"vmctl: rc={r.rc} ({r.secs} s){' TIMEOUT' if r.timed_out else ''}", file=sys.stderr)
            rc = rc or (r.rc != 0)
    except Exception as e:
        print(f"vmctl: {e}\n{vm.console_tail()}", file=sys.stderr)
        rc = 1
    finally:
        vm.stop()
        if a.keep:
            print(f"vmctl: kept {wd}", file=sys.stderr)
        else:
            shutil.rmtree(wd, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
