#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Guest side of the VM command channel (host-root mode; vmctl.py is the host side).

Runs in the guest, reads requests from the virtio-serial port named org.mynaguard.cmd
(run.sh VM_CMD_SOCKET=...) and runs them one at a time. One JSON object per line each way:

  request   {"id": N, "sh": "shell text", "timeout": S, "env": {...}}   run with bash -c
            {"id": N, "op": "ping"}                                      answer at once
            {"id": N, "op": "exit", "rc": R}                             answer, then exit R
  response  {"id": N, "rc": RC, "out": B64, "err": B64, "timed_out": BOOL, "secs": S}

stdin is /dev/null; the command runs in its own session and on timeout the whole process
group is killed (rc -9). A daemon started from a command must redirect its stdout/stderr,
or the command only ends at its timeout.
"""
import base64, glob, json, os, signal, subprocess, sys, time

PORT_NAME = "org.mynaguard.cmd"


def find_port(timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        for name in glob.glob("/sys/class/virtio-ports/*/name"):
            try:
                with open(name) as f:
                    if f.read().strip() == PORT_NAME:
                        dev = "/dev/" + name.split("/")[-2]
                        if os.path.exists(dev):
                            return dev
            except OSError:
                pass
        if time.monotonic() > deadline:
            sys.exit(f"guestd: no virtio port {PORT_NAME}")
        time.sleep(0.05)


def run(req):
    env = dict(os.environ)
    env.update(req.get("env") or {})
    t0 = time.monotonic()
    p = subprocess.Popen(["/bin/bash", "-c", req["sh"]], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                         start_new_session=True, cwd="/")
    timed_out = False
    try:
        out, err = p.communicate(timeout=req.get("timeout", 60))
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            out, err = p.communicate(timeout=5)
        except subprocess.TimeoutExpired:   # a setsid'd grandchild holds the pipe
            p.kill()
            out, err = b"", b"guestd: output lost (pipe held open after timeout)\n"
    return {"rc": p.returncode, "out": base64.b64encode(out).decode(),
            "err": base64.b64encode(err).decode(), "timed_out": timed_out,
            "secs": round(time.monotonic() - t0, 3)}


def main():
    dev = find_port()
    fd = os.open(dev, os.O_RDWR | os.O_CLOEXEC)
    print(f"guestd: serving on {dev}", flush=True)
    buf = b""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            time.sleep(0.05)   # host side not connected yet
            continue
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if not line.strip():
                continue
            req = json.loads(line)
            op = req.get("op", "sh")
            if op == "sh":
                resp = run(req)
            else:
                resp = {"rc": 0, "out": "", "err": "", "timed_out": False, "secs": 0}
            resp["id"] = req.get("id")
            data = (json.dumps(resp) + "\n").encode()
            while data:
                n = os.write(fd, data)
                data = data[n:]
            if op == "exit":
                return int(req.get("rc", 0))


if __name__ == "__main__":
    sys.exit(main())
