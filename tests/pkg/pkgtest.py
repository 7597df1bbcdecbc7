#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Host side of tests/pkg/run.sh (run that, not this): boots the fresh Debian root under
systemd (tools/vm/vmctl.py, rootfs "debian"), installs, upgrades and purges the packages
with dpkg through the command channel, plugs USB sticks over QMP, and judges. One
"ok"/"FAIL" line per check, the time of each phase, "N passed, N failed" last.

  pkgtest.py --work WORKDIR --cache CACHE --debroot DIR [--started EPOCH] [--verbose]

WORKDIR was prepared by run.sh: share/v1/*.deb, share/v2/*.deb (repacked, VERSION+test1),
share/{v1,v2}/version, share/pki/ (ca.pem, agent.pem/.key, collector.pem/.key),
share/guest-helper.py, img/stick.img. Exit status: 0 all passed, 1 something failed.
"""
import argparse, hashlib, json, os, re, shlex, shutil, signal, sys, time, traceback

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(SRC, "tools", "vm"))
import qmp  # noqa: E402
import vmctl  # noqa: E402

# Files of the VM harness itself (tools/vm/debroot.sh, the virtio-serial port's udev link).
HARNESS = {"/.mynaguard-debroot", "/etc/dpkg/dpkg.cfg.d/01-mynaguard-vm-nodoc",
           "/etc/apt/apt.conf.d/01-mynaguard-vm",
           "/run/udev/links/virtio-ports\\x2forg.mynaguard.cmd"}
PKGS = ["mynaguard-agent", "libpam-mynaguard", "mynaguard-collector"]
UNITS = ["mynaguard-agent", "mynaguard-collector"]
ADMIN_CERTS = ["ca.pem", "agent.pem", "agent.key", "collector.pem", "collector.key"]
EDIT = "# pkgtest: edit by the administrator"
COLLECTOR_URL = "https://localhost:8443/"
H = "/mnt/host"
# Everything a purge must take away (beside the packages' own files, which dpkg tracks).
GONE_AFTER_PURGE = [
    "/var/lib/mynaguard", "/var/lib/mynaguard-collector", "/var/lib/private/mynaguard-collector",
    "/run/mynaguard", "/lib/systemd/system/mynaguard-agent.service",
    "/lib/systemd/system/mynaguard-agent.service.d",
    "/lib/systemd/system/mynaguard-collector.service",
    "/lib/systemd/system/mynaguard-collector.service.d",
    "/etc/systemd/system/multi-user.target.wants/mynaguard-agent.service",
    "/etc/systemd/system/multi-user.target.wants/mynaguard-collector.service",
    "/lib/udev/rules.d/10-mynaguard.rules", "/lib/udev/rules.d/71-mynaguard-noaccess.rules",
    "/lib/modprobe.d/mynaguard.conf", "/etc/udisks2/mount_options.conf",
    "/usr/share/polkit-1/rules.d/10-mynaguard.rules", "/usr/sbin/mynaguard-agent",
    "/usr/libexec/mynaguard", "/usr/share/pam-configs/mynaguard",
    "/etc/mynaguard/agent.conf", "/etc/mynaguard/policy.conf", "/etc/mynaguard/collector.conf",
    "/etc/mynaguard/agent.conf.dpkg-dist",
]


class Abort(Exception):
    pass


class Suite:
    def __init__(self, verbose):
        self.passed = self.failed = 0
        self.fails = []
        self.timings = []
        self.verbose = verbose

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok - {name}" + (f" ({detail})" if detail else ""), flush=True)
        else:
            self.failed += 1
            self.fails.append(name)
            print(f"FAIL - {name}" + (f": {detail}" if detail else ""), flush=True)
        return ok

    def info(self, text):
        print(f"  # {text}", flush=True)


def one_line(s, limit=400):
    s = " | ".join(x for x in s.strip().splitlines() if x.strip())
    return s if len(s) <= limit else s[:limit] + " ..."


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Ctx:
    def __init__(self, vm, suite, work):
        self.vm, self.s, self.work = vm, suite, work
        self.plugged = set()
        with open(os.path.join(work, "share", "v1", "version")) as f:
            self.v1 = f.read().strip()
        with open(os.path.join(work, "share", "v2", "version")) as f:
            self.v2 = f.read().strip()

    def g(self, cmd, timeout=60, env=None):
        e = {"DEBIAN_FRONTEND": "noninteractive", "SYSTEMD_PAGER": "", "LC_ALL": "C.UTF-8",
             "SYSTEMD_COLORS": "0"}
        e.update(env or {})
        r = self.vm.sh(cmd, timeout=timeout, env=e)
        if self.s.verbose:
            print(f"  $ {cmd}\n  rc={r.rc} {r.secs}s\n{r.out}{r.err}", flush=True)
        return r

    def props(self, unit, names):
        r = self.g(f"systemctl show {unit} -p {','.join(names)}")
        out = {}
        for line in r.out.splitlines():
            k, _, v = line.partition("=")
            out[k] = v
        return out

    def journal_errors(self, unit, since=None):
        """Lines of priority err or worse in UNIT's journal (optionally since a cursor)."""
        c = f" --after-cursor={shlex.quote(since)}" if since else ""
        r = self.g(f"journalctl --no-pager -q -u {unit} -p err -o short-monotonic{c}")
        return [x for x in r.out.splitlines() if x.strip()]

    def cursor(self):
        r = self.g("journalctl --no-pager -q -n 0 --show-cursor | sed -n 's/^-- cursor: //p'")
        return r.out.strip() or None

    def plug_stick(self, dev_id, image, serial):
        qmp.plug_stick(self.vm.qmp, dev_id, image, serial=serial)
        self.plugged.add(dev_id)

    def unplug(self, dev_id):
        if dev_id in self.plugged:
            qmp.unplug(self.vm.qmp, dev_id)
            self.plugged.discard(dev_id)

    def usb(self, serial, wait="disk", timeout=30):
        r = self.g(f"python3 {H}/guest-helper.py usb --wait {wait} --timeout {timeout}",
                   timeout=timeout + 40, env={"MG_SERIAL": serial})
        try:
            return json.loads(r.out)
        except ValueError:
            raise Abort(f"guest-helper usb failed: rc={r.rc} {r.err.strip()[-300:]}")


# ---- phases ----------------------------------------------------------------------------------
def phase_boot(c):
    s = c.s
    r = c.g("systemctl is-system-running --wait", timeout=120)
    state = r.out.strip()
    r1 = c.g("readlink /proc/1/exe; systemd-analyze 2>/dev/null | head -n 1")
    s.check("the fresh root booted with systemd as PID 1 (system running or degraded)",
            "systemd" in r1.out.splitlines()[0] and state in ("running", "degraded"),
            f"state {state}; {one_line(r1.out)}")
    if state != "running":
        r = c.g("systemctl --failed --no-legend --plain")
        s.info(f"failed units before the install (not ours): {one_line(r.out) or 'none'}")
    r = c.g("udevadm settle -t 30; cp /etc/pam.d/common-auth /root/common-auth.orig && "
            "cd /etc/pam.d && sha256sum common-* > /root/pam.sha256 && "
            "systemctl list-unit-files --no-legend 'mynaguard*'; dpkg-query -W 'mynaguard*' "
            "'libpam-mynaguard' 2>/dev/null; true")
    s.check("before the install: no mynaguard unit or package, common-auth saved", r.rc == 0 and
            not r.out.strip(), one_line(r.out + r.err))


def missing_dependencies(out):
    """Package names dpkg reports as missing: 'X depends on Y; however: Package Y is not
    installed' (or 'is not configured', 'version ... is to be installed')."""
    miss = set(re.findall(r"depends on ([^;\n]+); however:", out))
    miss |= set(re.findall(r"pre-depends on ([^;\n]+)", out))
    return sorted(miss)


def phase_install(c):
    s = c.s
    r = c.g(f"dpkg -i {H}/v1/*.deb < /dev/null 2>&1", timeout=240)
    c.install_out = r.out
    miss = missing_dependencies(r.out)
    detail = f"rc={r.rc}"
    if miss:
        detail += "; missing dependencies: " + ", ".join(miss) + \
            " (add them to tools/vm/debroot.sh PACKAGES if a terminal has them)"
    elif r.rc != 0:
        detail += "; " + one_line(r.out[-1500:])
    s.check(f"dpkg -i of the three packages ({c.v1}) succeeds with no missing dependency",
            r.rc == 0 and not miss, detail)
    warn = [x for x in r.out.splitlines() if re.search(r"warning|error|fail", x, re.I)]
    if warn:
        s.info("dpkg said: " + one_line("\n".join(warn)))
    r = c.g("dpkg-query -W -f '${Package} ${Version} ${db:Status-Abbrev}\\n' " + " ".join(PKGS))
    st = {l.split()[0]: l.split()[1:] for l in r.out.splitlines() if l.strip()}
    s.check("all three installed and configured (ii) at the built version",
            all(st.get(p, ["", ""])[0] == c.v1 and st.get(p, ["", ""])[1].startswith("ii")
                for p in PKGS), one_line(r.out))


def pam_lines(text):
    lines = [l for l in text.splitlines() if l.strip() and not l.lstrip().startswith("#")]
    idx = {"preauth": None, "authfail": None, "plain": None, "unix": None}
    for i, l in enumerate(lines):
        w = l.split()
        if "pam_mynaguard.so" in w:
            args = w[w.index("pam_mynaguard.so") + 1:]
            key = "preauth" if "preauth" in args else "authfail" if "authfail" in args else \
                "plain" if not args else None
            if key and idx[key] is None:
                idx[key] = i
        elif "pam_unix.so" in w and idx["unix"] is None:
            idx["unix"] = i
    return lines, idx


def phase_pam(c):
    """The profiles reach common-auth through pam-auth-update: at install (when the
    packaging turns them on by default), or, when the packaging leaves them off until a
    key is enrolled (libpam-mynaguard.README.Debian), with the administrator's documented
    `pam-auth-update --enable mynaguard mynaguard-preauth mynaguard-authfail`."""
    s = c.s
    r = c.g("ls /usr/share/pam-configs/ | grep mynaguard | tr '\\n' ' '")
    s.check("pam-auth-update profiles installed (/usr/share/pam-configs/mynaguard*)",
            all(x in r.out.split() for x in ("mynaguard", "mynaguard-preauth", "mynaguard-authfail")),
            r.out.strip())
    r = c.g("cat /etc/pam.d/common-auth")
    lines, idx = pam_lines(r.out)
    if all(v is None for k, v in idx.items() if k != "unix"):
        r0 = c.g("cmp /root/common-auth.orig /etc/pam.d/common-auth")
        s.info("install left common-auth " + ("unchanged" if r0.rc == 0 else "CHANGED") +
               " (no key enrolled); dpkg said: " + one_line("\n".join(
                   x for x in c.install_out.splitlines() if "libpam-mynaguard" in x or
                   "pam-auth-update" in x)))
        s.check("no key enrolled: installing left common-auth byte-identical (lockout guard)",
                r0.rc == 0, one_line(r0.out + r0.err))
        r = c.g("pam-auth-update --enable mynaguard mynaguard-preauth mynaguard-authfail 2>&1 "
                "&& cat /etc/pam.d/common-auth")
        s.check("pam-auth-update --enable mynaguard mynaguard-preauth mynaguard-authfail "
                "(README.Debian) succeeds", r.rc == 0, one_line(r.out) if r.rc else "")
        lines, idx = pam_lines(r.out)
        how = "after pam-auth-update --enable"
    else:
        how = "after install"
    mg = [l for l in lines if "pam_mynaguard.so" in l]
    for key, what in (("preauth", "requisite ... preauth (before the password)"),
                      ("authfail", "... authfail (after a wrong password)"),
                      ("plain", "required pam_mynaguard.so (the key after the password)")):
        s.check(f"{how}: common-auth has the {key} line: {what}", idx[key] is not None,
                one_line("\n".join(mg)) or "no pam_mynaguard.so line")
    if None not in idx.values():
        s.check("common-auth order: preauth < pam_unix < authfail, and the key after pam_unix",
                idx["preauth"] < idx["unix"] < idx["authfail"] and idx["unix"] < idx["plain"],
                " / ".join(f"{k}@{v}" for k, v in idx.items()))
    r = c.g("grep -l pam_mynaguard /etc/pam.d/* | tr '\\n' ' '; "
            "ls /lib/*/security/pam_mynaguard.so")
    s.info(f"files naming the module, and the module: {one_line(r.out)}")
    c.pam_after_install = c.g("cat /etc/pam.d/common-auth").out


def phase_services(c):
    s = c.s
    r = c.g("systemctl is-enabled " + " ".join(UNITS))
    s.check("both units enabled by the packages", r.out.split() == ["enabled", "enabled"],
            one_line(r.out + r.err))
    before = {u: c.props(u, ["ActiveState", "ConditionResult", "NRestarts"]) for u in UNITS}
    s.info("before the certificates: " + "; ".join(
        f"{u} {p.get('ActiveState')} condition={p.get('ConditionResult')}" for u, p in before.items()))
    s.check("no unit failed or restarted in a loop before the certificates are installed",
            all(p.get("ActiveState") != "failed" and p.get("NRestarts", "0") in ("0", "")
                for p in before.values()), str(before))
    # The administrator installs the certificates (docs/certificates.md) and sets the
    # collector's URL in agent.conf (the shipped files leave it unset on purpose; the
    # policy's [reporting] collector is not used by the agent yet, see the report).
    cmd = " && ".join(
        [f"install -m {'0600' if f.endswith('.key') else '0644'} -o root -g root "
         f"{H}/pki/{f} /etc/mynaguard/{f}" for f in ADMIN_CERTS] +
        [f"sed -i 's|^#URL=.*|URL={COLLECTOR_URL}|' /etc/mynaguard/agent.conf",
         f"grep -qx 'URL={COLLECTOR_URL}' /etc/mynaguard/agent.conf",
         "mynaguard-agent --check-config",
         "mynaguard policy check /etc/mynaguard/policy.conf"])
    r = c.g(cmd)
    s.check("certificates installed and the collector URL set in agent.conf "
            "(mynaguard-agent --check-config and mynaguard policy check pass)", r.rc == 0,
            one_line(r.out + r.err))
    c.cur_start = c.cursor()
    r = c.g("systemctl start mynaguard-collector mynaguard-agent", timeout=90)
    s.check("systemctl start mynaguard-collector mynaguard-agent succeeds", r.rc == 0,
            one_line(r.out + r.err))
    p = check_units_up(c, "after install", since=c.cur_start)
    check_events(c, p, "after install")


def check_events(c, p, when):
    """The agent's signed events (agent start, state, devices) reached the collector over
    mutual TLS. Read from the symlink-free path: with DynamicUser= the state directory
    /var/lib/mynaguard-collector is a symlink into /var/lib/private."""
    if p["mynaguard-collector"]["ActiveState"] != "active":
        c.s.check(f"{when}: the agent's signed events reached the collector", False,
                  "the collector is not running")
        return
    deadline = time.monotonic() + 20
    out = ""
    while time.monotonic() < deadline:
        r = c.g("mynaguard-collector events --database "
                "/var/lib/private/mynaguard-collector/collector.db --agent pkgvm --limit 5 2>&1")
        out = r.out
        if r.rc == 0 and "pkgvm" in out:
            break
        time.sleep(2)
    c.s.check(f"{when}: the agent's signed events reached the collector (mynaguard-collector "
              "events --agent pkgvm)", "pkgvm" in out, one_line(out[-400:]))


def check_units_up(c, when, since=None, old=None):
    """Both units active, not failed, no restarts, no error lines in the journal since
    SINCE; with OLD (InvocationID per unit), also restarted."""
    s = c.s
    deadline = time.monotonic() + 20
    while True:
        p = {u: c.props(u, ["ActiveState", "SubState", "MainPID", "NRestarts", "InvocationID",
                            "ActiveEnterTimestamp", "Result"]) for u in UNITS}
        if all(x["ActiveState"] == "active" for x in p.values()) or time.monotonic() > deadline:
            break
        time.sleep(1)
    for u in UNITS:
        x = p[u]
        s.check(f"{when}: systemctl is-active {u} = active", x["ActiveState"] == "active",
                f"{x['ActiveState']}/{x['SubState']} MainPID={x['MainPID']} result={x['Result']}")
        r = c.g(f"systemctl status --no-pager -l -n 0 {u} 2>&1")
        status_bad = re.search(r"\bfailed\b|\(code=exited, status=[1-9]|\bauto-restart\b",
                               r.out)
        s.check(f"{when}: systemctl status {u} shows no failure and NRestarts=0",
                not status_bad and x["NRestarts"] == "0",
                f"NRestarts={x['NRestarts']}" + (f"; {one_line(r.out)}" if status_bad else ""))
        errs = c.journal_errors(u, since)
        s.check(f"{when}: journalctl -u {u} has no error lines (priority err or worse)",
                not errs, one_line("\n".join(errs[-5:])))
        if old is not None:
            s.check(f"{when}: {u} was restarted (new InvocationID and MainPID)",
                    x["InvocationID"] != old[u]["InvocationID"] and
                    x["MainPID"] not in ("0", old[u]["MainPID"]),
                    f"MainPID {old[u]['MainPID']} -> {x['MainPID']}, started "
                    f"{old[u]['ActiveEnterTimestamp']} -> {x['ActiveEnterTimestamp']}")
    c.unit_props = p
    return p


def stick_readonly(c, dev_id, serial, what):
    s = c.s
    img = os.path.join(c.work, "img", f"{dev_id}.img")
    shutil.copyfile(os.path.join(c.work, "img", "stick.img"), img)
    before = sha256(img)
    c.plug_stick(dev_id, img, serial)
    info = c.usb(serial, wait="disk", timeout=30)
    if not s.check(f"{what}: USB stick {serial} has a block device", bool(info.get("disks")),
                   f"found={info.get('found')} usb={info.get('usb')} "
                   f"authorized={info.get('authorized')}" if not info.get("disks")
                   else info["disks"][0]["name"]):
        c.unplug(dev_id)
        return
    d = info["disks"][0]
    nodes = [d["name"]] + [p["name"] for p in d["parts"]]
    r = c.g("for n in " + " ".join(nodes) + "; do echo \"$n $(blockdev --getro /dev/$n)\"; done")
    ro = dict(l.split() for l in r.out.splitlines() if len(l.split()) == 2)
    s.check(f"{what}: blockdev --getro = 1 on the disk and its partitions",
            bool(d["parts"]) and all(ro.get(n) == "1" for n in nodes),
            " ".join(f"{k}={v}" for k, v in ro.items()) + ("" if d["parts"] else " (no partition)"))
    target = nodes[-1]
    r = c.g(f"head -c 512 /dev/zero | tr '\\0' M | dd of=/dev/{target} bs=512 seek=8 count=1 "
            f"oflag=direct conv=notrunc,fsync 2>&1; echo rc=$?")
    s.check(f"{what}: a write to /dev/{target} fails", "rc=0" not in r.out, one_line(r.out))
    c.g("sync")
    s.check(f"{what}: the stick's image is unchanged on the host", sha256(img) == before)
    r = c.g(f"udevadm info -q property /dev/{d['name']} | grep -E '^MYNAGUARD_' ; "
            f"journalctl --no-pager -q -u mynaguard-agent -o cat | grep -F {serial} | tail -n 2")
    s.info(f"{serial}: {one_line(r.out) or 'no MYNAGUARD_ udev property, no agent log line'}")
    # The agent itself, inside its sandbox, set the flag too (not only the udev helper):
    # its unit's DeviceAllow= must cover a disk whose driver loaded after it started.
    dev = d["name"]
    line = ""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not line:
        r = c.g(f"journalctl --no-pager -q -u mynaguard-agent -o cat | "
                f"grep -F '/dev/{dev}: ' | grep -F {serial} | tail -n 1")
        line = r.out.strip()
        if not line:
            time.sleep(0.5)
    s.check(f"{what}: the agent made /dev/{dev} read-only from inside its sandbox",
            line.endswith(f"/dev/{dev} read-only"), one_line(line) or "no agent log line")
    c.unplug(dev_id)
    c.g("udevadm settle -t 20")


def phase_udev(c):
    s = c.s
    r = c.g("ls /lib/udev/rules.d/ | grep mynaguard; "
            "grep -ho 'IMPORT{program}=\"[^ ]*' /lib/udev/rules.d/10-mynaguard.rules | "
            "sed 's/.*\"//' | sort -u | while read -r p; do test -x \"$p\" && echo \"helper $p\"; done")
    s.check("udev rules installed in /lib/udev/rules.d and their helper is executable",
            "10-mynaguard.rules" in r.out and "helper /" in r.out, one_line(r.out))
    stick_readonly(c, "s1", "PKG0001", "after install")


def phase_upgrade(c):
    s = c.s
    q = shlex.quote(EDIT)
    r = c.g(f"echo {q} >> /etc/mynaguard/agent.conf && echo {q} >> /etc/mynaguard/policy.conf && "
            "mynaguard-agent --check-config 2>&1")
    s.check("administrator's edits to agent.conf and policy.conf accepted (--check-config)",
            r.rc == 0, one_line(r.out))
    old = {u: c.props(u, ["MainPID", "InvocationID", "ActiveEnterTimestamp"]) for u in UNITS}
    cur = c.cursor()
    r = c.g(f"dpkg --force-confdef -i {H}/v2/*.deb < /dev/null 2>&1", timeout=240)
    s.check(f"upgrade to {c.v2} (dpkg --force-confdef -i, no --force-confold) succeeds",
            r.rc == 0, f"rc={r.rc}" + ("" if r.rc == 0 else "; " + one_line(r.out[-1200:])))
    conf = [x for x in r.out.splitlines() if "onfiguration file" in x or "==>" in x]
    if conf:
        s.info("dpkg: " + one_line("\n".join(conf)))
    r = c.g("dpkg-query -W -f '${Package} ${Version} ${db:Status-Abbrev}\\n' " + " ".join(PKGS))
    st = {l.split()[0]: l.split()[1:] for l in r.out.splitlines() if l.strip()}
    s.check(f"all three at {c.v2} and configured",
            all(st.get(p, ["", ""])[0] == c.v2 and st.get(p, ["", ""])[1].startswith("ii")
                for p in PKGS), one_line(r.out))
    r = c.g("cd /etc/mynaguard && for f in agent.conf policy.conf collector.conf "
            "agent.conf.dpkg-dist; do e=$([ -f $f ] && grep -cxF " + shlex.quote(EDIT) + " $f); "
            "n=$([ -f $f ] && grep -c '^# pkgtest: line added in' $f); "
            "echo \"$f edit=${e:-x} new=${n:-x}\"; done")
    st = {l.split()[0]: dict(kv.split("=") for kv in l.split()[1:]) for l in r.out.splitlines()}
    g = lambda f, k: st.get(f, {}).get(k)  # noqa: E731
    s.check("modified conffile agent.conf (also changed in the new package) keeps the "
            "administrator's edits", g("agent.conf", "edit") == "1" and g("agent.conf", "new") == "0"
            and c.g(f"grep -qx 'URL={COLLECTOR_URL}' /etc/mynaguard/agent.conf").rc == 0,
            one_line(r.out))
    s.check("the new agent.conf was put beside it as agent.conf.dpkg-dist",
            g("agent.conf.dpkg-dist", "new") == "1", one_line(r.out))
    s.check("modified conffile policy.conf (unchanged in the new package) keeps the "
            "administrator's edit", g("policy.conf", "edit") == "1", one_line(r.out))
    s.check("unmodified conffile collector.conf was replaced by the new version",
            g("collector.conf", "new") == "1", one_line(r.out))
    p = check_units_up(c, "after upgrade", since=cur, old=old)
    check_events(c, p, "after upgrade")
    r = c.g("cat /etc/pam.d/common-auth")
    s.check("common-auth unchanged by the upgrade", r.out == c.pam_after_install)
    stick_readonly(c, "s2", "PKG0002", "after upgrade")


def phase_purge(c):
    s = c.s
    r = c.g("dpkg --purge libpam-mynaguard < /dev/null 2>&1", timeout=120)
    s.check("dpkg --purge libpam-mynaguard succeeds", r.rc == 0, one_line(r.out[-600:]))
    r = c.g("cmp /root/common-auth.orig /etc/pam.d/common-auth && cd /etc/pam.d && "
            "sha256sum -c --quiet /root/pam.sha256 2>&1; echo rc=$?; grep -l pam_mynaguard "
            "/etc/pam.d/* 2>/dev/null")
    s.check("after purging libpam-mynaguard, common-auth (and every common-*) is byte-identical "
            "to the original", r.out.strip() == "rc=0", one_line(r.out))
    r = c.g("dpkg --purge mynaguard-agent mynaguard-collector < /dev/null 2>&1", timeout=180)
    s.check("dpkg --purge mynaguard-agent mynaguard-collector succeeds", r.rc == 0,
            one_line(r.out[-600:]))
    r = c.g("dpkg-query -W -f '${Package} ${db:Status-Abbrev}\\n' " + " ".join(PKGS) + " 2>&1")
    s.check("dpkg knows none of the packages any more (not even config-files)",
            not re.search(r"^(mynaguard|libpam-mynaguard)\S* \S", r.out, re.M), one_line(r.out))
    r = c.g("for p in " + " ".join(GONE_AFTER_PURGE) + "; do "
            "if [ -e \"$p\" ] || [ -L \"$p\" ]; then echo \"$p\"; fi; done")
    s.check("purge removed state, runtime directory, units, drop-ins, udev rules, modprobe "
            "file, conffiles", not r.out.strip(), "left: " + one_line(r.out))
    r = c.g("ls -A /etc/mynaguard 2>/dev/null")
    left = sorted(r.out.split())
    s.check("/etc/mynaguard holds nothing of the packages' (only the administrator's "
            "certificates, which purge keeps, or it is gone)",
            set(left) <= set(ADMIN_CERTS), f"left: {' '.join(left) or 'nothing'}")
    if not left:
        s.info("/etc/mynaguard is gone")
    r = c.g("systemctl daemon-reload; systemctl list-units --all --plain --no-legend 'mynaguard*'; "
            "systemctl list-unit-files --no-legend 'mynaguard*'")
    s.check("systemctl list-units/list-unit-files show no mynaguard unit", not r.out.strip(),
            one_line(r.out))
    r = c.g("find / /run -xdev \\( -path /proc -o -path /sys -o -path /dev -o -path /mnt/host "
            "\\) -prune -o -name '*mynaguard*' -print 2>/dev/null", timeout=120)
    left = [x for x in r.out.splitlines() if x and x not in HARNESS and x != "/etc/mynaguard"]
    s.check("no file or directory named *mynaguard* left anywhere (beside /etc/mynaguard and "
            "the VM harness's own)", not left, one_line("\n".join(left)))
    r = c.g("grep -H . /sys/module/usbcore/parameters/authorized_default "
            "/sys/bus/usb/devices/usb*/authorized_default 2>/dev/null | sed 's|/sys/||'")
    s.info("after purge, USB authorization defaults: " + one_line(r.out))
    # Without the agent and its rules nothing authorizes a new device any more: the
    # kernel's defaults must be back to "authorized" (or every new USB device, keyboards
    # included, stays unusable until a reboot).
    img = os.path.join(c.work, "img", "s3.img")
    shutil.copyfile(os.path.join(c.work, "img", "stick.img"), img)
    c.plug_stick("s3", img, "PKG0003")
    info = c.usb("PKG0003", wait="disk", timeout=15)
    ro = [d["ro"] for d in info.get("disks", [])]
    s.check("after purge, a newly plugged USB stick is authorized and writable (no leftover "
            "authorized_default=0)", info.get("authorized") == "1" and ro == ["0"],
            f"authorized={info.get('authorized')} disks ro={ro}")
    c.unplug("s3")


PHASES = [("boot", None), ("install", phase_install), ("pam", phase_pam),
          ("services", phase_services), ("udev", phase_udev), ("upgrade", phase_upgrade),
          ("purge", phase_purge)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--work", required=True)
    p.add_argument("--cache", required=True)
    p.add_argument("--debroot", required=True)
    p.add_argument("--started", type=float, default=time.time())
    p.add_argument("--budget", type=float, default=240)
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args()
    s = Suite(a.verbose)
    vm = vmctl.VM(a.cache, os.path.join(a.work, "vm"), rootfs="debian", debroot=a.debroot,
                  share=os.path.join(a.work, "share"))

    def on_alarm(signum, frame):
        raise Abort(f"time budget of {a.budget:.0f} s exhausted")
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(a.budget))
    c = None
    try:
        t0 = time.monotonic()
        vm.start(timeout=150)
        s.info(f"VM up (systemd, guestd answers) after {vm.t_ready - vm.t_start:.1f} s")
        c = Ctx(vm, s, a.work)
        phase_boot(c)
        s.timings.append(("boot", time.monotonic() - t0))
        print(f"# phase boot: {time.monotonic() - t0:.1f} s", flush=True)
        for name, fn in PHASES[1:]:
            t0 = time.monotonic()
            try:
                fn(c)
            except Abort:
                raise
            except vmctl.GuestError as e:
                s.check(f"phase {name} ran", False, f"guest: {e}")
                raise Abort(f"command channel lost: {e}")
            except Exception as e:
                s.check(f"phase {name} ran", False, f"{type(e).__name__}: {e}")
                traceback.print_exc(file=sys.stdout)
                for dev_id in sorted(c.plugged):
                    try:
                        c.unplug(dev_id)
                    except Exception:
                        pass
            s.timings.append((name, time.monotonic() - t0))
            print(f"# phase {name}: {time.monotonic() - t0:.1f} s", flush=True)
    except (Abort, vmctl.GuestError, OSError) as e:
        s.check("run completed", False, str(e))
    finally:
        signal.alarm(0)
        vm.stop()
    print("# timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in s.timings))
    if s.failed:
        print("# console tail:")
        print("\n".join("#   " + line for line in vm.console_tail(25).splitlines()))
    print(f"# whole package test: {time.time() - a.started:.1f} s")
    print(f"{s.passed} passed, {s.failed} failed")
    return 1 if s.failed else 0


if __name__ == "__main__":
    sys.exit(main())
