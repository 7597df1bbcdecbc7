#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Guest side of tests/vm/run-e2e.sh: look USB devices up in sysfs, wait for them.

  guest-helper.py usb [--wait COND] [--timeout S] [--vidpid VVVV:PPPP]
      Finds the USB device whose iSerial is exactly $MG_SERIAL (bytes, as the kernel shows
      it in sysfs minus the one newline sysfs appends) or, with --vidpid, the first device
      with that id. Waits until COND holds, runs `udevadm settle`, and prints one JSON
      object describing the device, its interfaces, block devices, sg nodes and input
      event nodes. COND: present (default), authorized, disk, input, gone.
      Exit status 0 when COND was met, 1 on timeout (the JSON is printed anyway).
  guest-helper.py mounts DEV       the /proc/self/mountinfo lines of DEV as JSON
"""
import argparse, base64, glob, json, os, stat, subprocess, sys, time

USB = "/sys/bus/usb/devices"


def read(path, default=None):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return default
    return data[:-1] if data.endswith(b"\n") else data


def text(path, default=None):
    v = read(path)
    return default if v is None else v.decode("utf-8", "replace")


def find_usb(serial, vidpid):
    for d in sorted(glob.glob(f"{USB}/*")):
        name = os.path.basename(d)
        if ":" in name or not os.path.exists(f"{d}/idVendor"):
            continue
        if vidpid is not None:
            if f"{text(d + '/idVendor')}:{text(d + '/idProduct')}" == vidpid:
                return d
        elif read(f"{d}/serial") == serial:
            return d
    return None


def node_info(name):
    try:
        st = os.stat(f"/dev/{name}")
    except OSError:
        return None
    return {"mode": oct(stat.S_IMODE(st.st_mode)), "uid": st.st_uid, "gid": st.st_gid}


def disk_info(blockdir):
    name = os.path.basename(blockdir)
    sysb = f"/sys/block/{name}"
    parts = []
    for p in sorted(glob.glob(f"{sysb}/{name}*")):
        if os.path.exists(f"{p}/partition"):
            pn = os.path.basename(p)
            parts.append({"name": pn, "ro": text(f"{p}/ro"), "node": node_info(pn)})
    return {"name": name, "ro": text(f"{sysb}/ro"), "removable": text(f"{sysb}/removable"),
            "size": text(f"{sysb}/size"), "node": node_info(name), "parts": parts}


def describe(d):
    info = {"found": d is not None}
    if d is None:
        return info
    name = os.path.basename(d)
    serial = read(f"{d}/serial")
    info.update({
        "usb": name,
        "serial_b64": None if serial is None else base64.b64encode(serial).decode(),
        "id": f"{text(d + '/idVendor')}:{text(d + '/idProduct')}",
        "authorized": text(f"{d}/authorized"),
        "interfaces": [], "disks": [], "cdroms": [], "sg": [], "inputs": [],
    })
    for i in sorted(glob.glob(f"{d}/{name}:*")):
        drv = os.path.join(i, "driver")
        info["interfaces"].append({
            "name": os.path.basename(i),
            "class": "%s:%s:%s" % (text(f"{i}/bInterfaceClass"), text(f"{i}/bInterfaceSubClass"),
                                   text(f"{i}/bInterfaceProtocol")),
            "authorized": text(f"{i}/authorized"),
            "driver": os.path.basename(os.readlink(drv)) if os.path.islink(drv) else None,
        })
        for b in sorted(glob.glob(f"{i}/host*/target*/*/block/*")):
            key = "cdroms" if os.path.basename(b).startswith("sr") else "disks"
            info[key].append(disk_info(b))
        for s in sorted(glob.glob(f"{i}/host*/target*/*/scsi_generic/sg*")):
            sg = os.path.basename(s)
            info["sg"].append({"name": sg, "node": node_info(sg)})
        for e in sorted(glob.glob(f"{i}/*/input/input*/event*")):
            ev = os.path.basename(e)
            info["inputs"].append({"name": ev, "node": node_info(f"input/{ev}")})
    return info


def met(info, cond):
    if cond == "gone":
        return not info["found"]
    if not info["found"]:
        return False
    if cond == "authorized":
        return info["authorized"] == "1"
    if cond == "disk":
        return bool(info["disks"]) and all(os.path.exists(f"/dev/{x['name']}") for x in info["disks"])
    if cond == "input":
        return any(x["node"] is not None for x in info["inputs"])
    return True


def cmd_usb(a):
    serial = os.environb.get(b"MG_SERIAL")
    if a.vidpid is None and serial is None:
        sys.exit("guest-helper: set MG_SERIAL or give --vidpid")
    t0 = time.monotonic()
    deadline = t0 + a.timeout
    while True:
        info = describe(find_usb(serial, a.vidpid))
        ok = met(info, a.wait)
        if ok or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    waited = time.monotonic() - t0
    if ok and a.wait != "gone" and os.path.exists("/run/udev/control"):
        subprocess.run(["udevadm", "settle", "-t", "20"], check=False)
        info = describe(find_usb(serial, a.vidpid))
    info["met"] = ok
    info["waited"] = round(waited, 3)
    print(json.dumps(info))
    return 0 if ok else 1


def cmd_mounts(a):
    try:
        rdev = os.stat(a.dev).st_rdev
    except OSError:
        print("[]")
        return 0
    want = f"{os.major(rdev)}:{os.minor(rdev)}"
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[2] == want:
                sep = fields.index("-")
                out.append({"target": fields[4], "options": fields[5].split(","),
                            "fstype": fields[sep + 1], "super": fields[sep + 3].split(",")})
    print(json.dumps(out))
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    u = sub.add_parser("usb")
    u.add_argument("--wait", default="present",
                   choices=["present", "authorized", "disk", "input", "gone"])
    u.add_argument("--timeout", type=float, default=0)
    u.add_argument("--vidpid")
    m = sub.add_parser("mounts")
    m.add_argument("dev")
    a = p.parse_args()
    return cmd_usb(a) if a.cmd == "usb" else cmd_mounts(a)


if __name__ == "__main__":
    sys.exit(main())
