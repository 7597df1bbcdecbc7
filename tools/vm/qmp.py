#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Tiny QMP client (stdlib only) for the mynaguard VM harness.

  qmp.py SOCK plug-stick ID IMAGE [--serial S] [--readonly] [--bus xhci.0]
  qmp.py SOCK unplug ID           device_del, wait for DEVICE_DELETED, blockdev-del ID-node
  qmp.py SOCK quit
  qmp.py SOCK cmd EXECUTE ['{"json":"args"}']   any QMP command, prints the return value

Several commands may be chained with a "--" separator:  qmp.py SOCK unplug a -- plug-stick a img
"""
import argparse, json, socket, sys, time


class QMP:
    def __init__(self, path, timeout=30.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.sock.settimeout(timeout)
        self.f = self.sock.makefile("rwb")
        self.events = []
        greeting = self._read()
        if "QMP" not in greeting:
            raise RuntimeError(f"unexpected greeting {greeting}")
        self.execute("qmp_capabilities")

    def _read(self):
        line = self.f.readline()
        if not line:
            raise EOFError("QMP connection closed")
        return json.loads(line)

    def execute(self, cmd, args=None):
        msg = {"execute": cmd}
        if args:
            msg["arguments"] = args
        self.f.write(json.dumps(msg).encode() + b"\r\n")
        self.f.flush()
        while True:
            r = self._read()
            if "event" in r:
                self.events.append(r)
                continue
            if "error" in r:
                raise RuntimeError(f"{cmd}: {r['error'].get('class')}: {r['error'].get('desc')}")
            return r.get("return")

    def wait_event(self, name, pred=lambda e: True, timeout=30.0):
        deadline = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e["event"] == name and pred(e):
                    return self.events.pop(i)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {name} event")
            self.sock.settimeout(remaining)
            self.events.append(self._read())


def run(q, argv):
    p = argparse.ArgumentParser(prog="qmp.py SOCK")
    sub = p.add_subparsers(dest="op", required=True)
    ps = sub.add_parser("plug-stick")
    ps.add_argument("id")
    ps.add_argument("image")
    ps.add_argument("--serial", default=None)
    ps.add_argument("--readonly", action="store_true", help="read-only backend (medium write-protected)")
    ps.add_argument("--bus", default="xhci.0")
    pu = sub.add_parser("unplug")
    pu.add_argument("id")
    sub.add_parser("quit")
    pc = sub.add_parser("cmd")
    pc.add_argument("execute")
    pc.add_argument("args", nargs="?", default=None)
    a = p.parse_args(argv)

    if a.op == "plug-stick":
        node = f"{a.id}-node"
        q.execute("blockdev-add", {
            "driver": "raw", "node-name": node, "read-only": a.readonly,
            "file": {"driver": "file", "filename": a.image, "read-only": a.readonly},
        })
        dev = {"driver": "usb-storage", "bus": a.bus, "drive": node, "id": a.id, "removable": True}
        if a.serial is not None:
            dev["serial"] = a.serial
        try:
            q.execute("device_add", dev)
        except Exception:
            q.execute("blockdev-del", {"node-name": node})
            raise
        print(f"plugged {a.id} at {time.time():.3f}")
    elif a.op == "unplug":
        q.execute("device_del", {"id": a.id})
        q.wait_event("DEVICE_DELETED", lambda e: e.get("data", {}).get("device") == a.id)
        try:
            q.execute("blockdev-del", {"node-name": f"{a.id}-node"})
        except RuntimeError as e:
            print(f"qmp: {e}", file=sys.stderr)
        print(f"unplugged {a.id} at {time.time():.3f}")
    elif a.op == "quit":
        try:
            q.execute("quit")
        except EOFError:
            pass
    elif a.op == "cmd":
        r = q.execute(a.execute, json.loads(a.args) if a.args else None)
        print(json.dumps(r, indent=1))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    q = QMP(sys.argv[1])
    group = []
    for tok in sys.argv[2:] + ["--"]:
        if tok == "--":
            if group:
                run(q, group)
            group = []
        else:
            group.append(tok)


if __name__ == "__main__":
    try:
        main()
    except (RuntimeError, TimeoutError, EOFError, OSError) as e:
        sys.exit(f"qmp: {e}")
