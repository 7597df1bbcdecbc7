#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Tiny QMP client (stdlib only) for the mynaguard VM harness.

  qmp.py SOCK plug-stick ID IMAGE [--serial S] [--readonly] [--bus xhci.0]
  qmp.py SOCK plug-mtp ID ROOTDIR [--serial S] [--desc D]     usb-mtp (a phone)
  qmp.py SOCK plug-kbd ID [--serial S]                        usb-kbd
  qmp.py SOCK plug-cd ID [ISO] [--serial S]                   usb-bot + scsi-cd (optical)
  qmp.py SOCK unplug ID           device_del, wait for DEVICE_DELETED, blockdev-del ID-node
  qmp.py SOCK quit
  qmp.py SOCK cmd EXECUTE ['{"json":"args"}']   any QMP command, prints the return value

Several commands may be chained with a "--" separator:  qmp.py SOCK unplug a -- plug-stick a img
A serial is passed to QEMU verbatim: quotes, $(), backticks and newlines all reach the guest.
Also a module: vmctl.py imports QMP and the plug_*/unplug functions.
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


def plug_stick(q, dev_id, image, serial=None, readonly=False, bus="xhci.0"):
    """usb-storage on a -blockdev node "<ID>-node" (legacy -drive backends vanish on unplug)."""
    node = f"{dev_id}-node"
    q.execute("blockdev-add", {
        "driver": "raw", "node-name": node, "read-only": readonly,
        "file": {"driver": "file", "filename": image, "read-only": readonly},
    })
    dev = {"driver": "usb-storage", "bus": bus, "drive": node, "id": dev_id, "removable": True}
    if serial is not None:
        dev["serial"] = serial
    try:
        q.execute("device_add", dev)
    except Exception:
        q.execute("blockdev-del", {"node-name": node})
        raise


def plug_mtp(q, dev_id, rootdir, serial=None, desc="Phone", bus="xhci.0"):
    """usb-mtp (46f4:0004, interface 06:01:01) exporting ROOTDIR read-only."""
    dev = {"driver": "usb-mtp", "bus": bus, "id": dev_id, "rootdir": rootdir, "desc": desc}
    if serial is not None:
        dev["serial"] = serial
    q.execute("device_add", dev)


def plug_kbd(q, dev_id, serial=None, bus="xhci.0"):
    """usb-kbd (0627:0001, one interface 03:01:01)."""
    dev = {"driver": "usb-kbd", "bus": bus, "id": dev_id}
    if serial is not None:
        dev["serial"] = serial
    q.execute("device_add", dev)


def plug_cd(q, dev_id, iso=None, serial=None, bus="xhci.0"):
    """USB optical drive: usb-bot (46f4:0001, 08:06:50) with a scsi-cd LUN 0 (SCSI type 5).
    A hot-plugged usb-bot does not attach by itself: attach once the LUN exists."""
    dev = {"driver": "usb-bot", "bus": bus, "id": dev_id}
    if serial is not None:
        dev["serial"] = serial
    q.execute("device_add", dev)
    cd = {"driver": "scsi-cd", "bus": f"{dev_id}.0", "id": f"{dev_id}-cd", "lun": 0}
    if iso is not None:
        node = f"{dev_id}-node"
        q.execute("blockdev-add", {
            "driver": "raw", "node-name": node, "read-only": True,
            "file": {"driver": "file", "filename": iso, "read-only": True},
        })
        cd["drive"] = node
    q.execute("device_add", cd)
    q.execute("qom-set", {"path": dev_id, "property": "attached", "value": True})


def unplug(q, dev_id, timeout=30.0):
    """device_del, wait for DEVICE_DELETED, then drop the "<ID>-node" block node if any."""
    q.execute("device_del", {"id": dev_id})
    q.wait_event("DEVICE_DELETED", lambda e: e.get("data", {}).get("device") == dev_id, timeout)
    nodes = {n.get("node-name") for n in q.execute("query-named-block-nodes") or []}
    if f"{dev_id}-node" in nodes:
        q.execute("blockdev-del", {"node-name": f"{dev_id}-node"})


def run(q, argv):
    p = argparse.ArgumentParser(prog="qmp.py SOCK")
    sub = p.add_subparsers(dest="op", required=True)
    ps = sub.add_parser("plug-stick")
    ps.add_argument("id")
    ps.add_argument("image")
    ps.add_argument("--serial", default=None)
    ps.add_argument("--readonly", action="store_true", help="read-only backend (medium write-protected)")
    ps.add_argument("--bus", default="xhci.0")
    pm = sub.add_parser("plug-mtp")
    pm.add_argument("id")
    pm.add_argument("rootdir")
    pm.add_argument("--serial", default=None)
    pm.add_argument("--desc", default="Phone")
    pm.add_argument("--bus", default="xhci.0")
    pk = sub.add_parser("plug-kbd")
    pk.add_argument("id")
    pk.add_argument("--serial", default=None)
    pk.add_argument("--bus", default="xhci.0")
    pd = sub.add_parser("plug-cd")
    pd.add_argument("id")
    pd.add_argument("iso", nargs="?", default=None)
    pd.add_argument("--serial", default=None)
    pd.add_argument("--bus", default="xhci.0")
    pu = sub.add_parser("unplug")
    pu.add_argument("id")
    sub.add_parser("quit")
    pc = sub.add_parser("cmd")
    pc.add_argument("execute")
    pc.add_argument("args", nargs="?", default=None)
    a = p.parse_args(argv)

    if a.op == "plug-stick":
        plug_stick(q, a.id, a.image, a.serial, a.readonly, a.bus)
    elif a.op == "plug-mtp":
        plug_mtp(q, a.id, a.rootdir, a.serial, a.desc, a.bus)
    elif a.op == "plug-kbd":
        plug_kbd(q, a.id, a.serial, a.bus)
    elif a.op == "plug-cd":
        plug_cd(q, a.id, a.iso, a.serial, a.bus)
    elif a.op == "unplug":
        unplug(q, a.id)
        print(f"unplugged {a.id} at {time.time():.3f}")
    elif a.op == "quit":
        try:
            q.execute("quit")
        except EOFError:
            pass
    elif a.op == "cmd":
        r = q.execute(a.execute, json.loads(a.args) if a.args else None)
        print(json.dumps(r, indent=1))
    if a.op.startswith("plug-"):
        print(f"plugged {a.id} at {time.time():.3f}")


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
