#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Host side of bench/vm/run.sh (run that, not this): boots one host-root VM (tools/vm)
and measures, printing figures and asserting nothing:

  1. kernel "add" uevent of a USB stick's disk -> BLKROGET reads 1, mynaguard vs a plain
     udev rule (RUN+="/sbin/blockdev --setro $devnode"), plus a racing root write;
  2. kernel "add" uevent of the USB device -> sysfs "authorized" reads 1, mynaguard vs
     usbguard-daemon;
  3. resident memory of the agent and of usbguard-daemon, idle and after plug cycles;
  4. wakeups of both while idle (context switches of every thread, and strace).

  bench.py --build BUILD --work WORK [--n N] [--races R] [--cycles C] [--only 1,2,3,4]
           [--json FILE]

WORK was prepared by run.sh: share/ (uevlat, etc/, rules/), stick.img.
"""
import argparse, json, os, platform, re, shlex, signal, sys, time

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(SRC, "tools", "vm"))
import qmp  # noqa: E402
import vmctl  # noqa: E402

GUEST = os.path.join(SRC, "bench", "vm", "guest.sh")
RACE_OFF = 32768          # in the gap between the MBR and partition 1 (sector 2048)
RACE_MARK = b"MGBENCH-RACE-WRITE"
SERIAL = "MGBENCH0001"
MODE_NAMES = {"M": "mynaguard", "P": "plain udev rule", "U": "usbguard-daemon",
              "A": "agent, no udev rules"}


class BenchError(Exception):
    pass


# ---- statistics ---------------------------------------------------------------------------
def quantile(xs, q):
    """Linear interpolation between closest ranks (numpy's default)."""
    s = sorted(xs)
    if not s:
        return None
    pos = (len(s) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def stats(xs):
    """n counts the plugs with a decision; missing, those without one in time."""
    got = [x for x in xs if x is not None]
    if not got:
        return {"n": 0, "missing": len(xs), "median": None, "p90": None, "max": None,
                "min": None}
    return {"n": len(got), "missing": len(xs) - len(got), "median": quantile(got, 0.5),
            "p90": quantile(got, 0.9), "max": max(got), "min": min(got)}


def ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def who_counts(names):
    """"mynaguard-agent 7, mynaguard-udev 3" from a list of process names."""
    c = {}
    for n in names:
        c[n or "none"] = c.get(n or "none", 0) + 1
    return ", ".join(f"{k} {v}" for k, v in sorted(c.items(), key=lambda kv: -kv[1]))


def fmt(v, nd=1):
    return "-" if v is None else f"{v:.{nd}f}"


# ---- the VM --------------------------------------------------------------------------------
class Bench:
    def __init__(self, a):
        self.a = a
        self.img = os.path.join(a.work, "stick.img")
        self.vm = vmctl.VM(a.cache, os.path.join(a.work, "vm"),
                           kernel_append="usbcore.authorized_default=0",
                           share=os.path.join(a.work, "share"), smp=a.smp)
        self.mode = None
        self.plugged = False
        self.n_plug = 0

    def g(self, cmd, timeout=60, check=True):
        r = self.vm.sh(f". {shlex.quote(GUEST)}; {cmd}", timeout=timeout,
                       env={"MG_BUILD": self.a.build})
        if self.a.verbose:
            print(f"  $ {cmd}  [rc={r.rc} {r.secs}s]\n{r.out}{r.err}", flush=True)
        if check and r.rc != 0:
            raise BenchError(f"guest: {cmd}: rc={r.rc} {(r.out + r.err).strip()[-400:]}")
        return r

    def set_mode(self, m):
        if self.mode != m:
            self.g(f"b_mode {m}", timeout=90)
            self.mode = m

    def plug(self):
        qmp.plug_stick(self.vm.qmp, "stick", self.img, serial=SERIAL)
        self.plugged = True
        self.n_plug += 1

    def unplug(self):
        if self.plugged:
            qmp.unplug(self.vm.qmp, "stick")
            self.plugged = False
        self.g("b_gone", timeout=60)

    def clear_race_mark(self):
        with open(self.img, "r+b") as f:
            f.seek(RACE_OFF)
            f.write(b"\0" * 4096)

    def race_mark_landed(self):
        with open(self.img, "rb") as f:
            f.seek(RACE_OFF)
            return RACE_MARK in f.read(4096)

    # One plug with uevlat(s) armed; returns {name: result dict}. With the trace
    # method, lat_ms is the first matching kernel trace event after the uevent.
    def measure_plug(self, arms):
        trace = self.a.method == "trace"
        for name, args in arms:
            self.g(f"b_arm {name} {args}" + (" --no-poll" if trace else ""))
        self.plug()
        r = self.g("b_result " + " ".join(n for n, _ in arms), timeout=60)
        out = {}
        for line, (name, _) in zip(r.out.splitlines(), arms):
            try:
                out[name] = json.loads(line)
            except ValueError:
                out[name] = {"error": line[:200]}
        d = self.g("b_disk", timeout=60, check=False)
        out["disk_state"] = d.out.strip()
        if trace:
            evs = parse_trace(self.g("b_trace_dump", timeout=60).out)
            for name, _ in arms:
                res = out[name]
                want = "mg_auth" if res.get("kind") == "usb" else "sys_ioctl"
                hits = [e for e in evs if e["ev"] == want]
                t0 = res.get("t0_ns")
                if t0 is None:
                    continue
                res["events"] = [(e["comm"], round((e["ns"] - t0) / 1e6, 3)) for e in hits][:6]
                res["lat_ms"] = (hits[0]["ns"] - t0) / 1e6 if hits else None
                res["by"] = hits[0]["comm"] if hits else None
        self.unplug()
        return out


TRACE_RE = re.compile(r"^\s*(?P<comm>.+?)-(?P<pid>\d+)\s+\[\d+\]\s+\S+\s+"
                      r"(?P<s>\d+)\.(?P<us>\d{6}):\s+(?P<ev>mg_auth|sys_ioctl)\b")


def parse_trace(text):
    """Lines of /sys/kernel/tracing/trace (trace_clock=mono): [{comm, pid, ns, ev}]."""
    evs = []
    for line in text.splitlines():
        m = TRACE_RE.match(line)
        if m:
            evs.append({"comm": m.group("comm").strip(), "pid": int(m.group("pid")),
                        "ns": int(m.group("s")) * 1000000000 + int(m.group("us")) * 1000,
                        "ev": m.group("ev")})
    return evs


# ---- 1 and 2: latencies --------------------------------------------------------------------
def latency(b, n, races, want1, want2, diag):
    modes = []
    if want1:
        modes += ["M", "P"]
    if want2:
        modes += ["U"] if "M" in modes else ["M", "U"]
    if diag:
        modes.append("A")
    samples = {"disk_ro": {"M": [], "P": [], "A": []}, "usb_auth": {"M": [], "U": [], "A": []}}
    by = {"disk_ro": {}, "usb_auth": {}}
    raw = []
    for i in range(n):
        order = modes[i % len(modes):] + modes[:i % len(modes)]   # rotate: no fixed position
        for m in order:
            b.set_mode(m)
            arms = []
            if want2 and m in ("M", "U", "A"):
                arms.append(("usb", "usb"))
            if want1 and m in ("M", "P", "A"):
                arms.append(("disk", "disk"))
            res = b.measure_plug(arms)
            for key, name in (("disk_ro", "disk"), ("usb_auth", "usb")):
                if name in res:
                    samples[key][m].append(res[name].get("lat_ms"))
                    by[key].setdefault(m, []).append(res[name].get("by"))
            raw.append({"round": i, "mode": m, **res})
            print(f"  round {i + 1}/{n} {MODE_NAMES[m]:16s} " + " ".join(
                f"{k}={fmt(res[k].get('lat_ms'), 2)} ms" for k in ("usb", "disk") if k in res),
                flush=True)
    race = {}
    if want1:
        for m in ("M", "P"):
            race[m] = []
            for i in range(races):
                b.set_mode(m)
                b.clear_race_mark()
                res = b.measure_plug([("disk", f"disk --race {RACE_OFF}")])
                d = res.get("disk", {})
                rc = d.get("race", {})
                landed = b.race_mark_landed()
                race[m].append({"result": rc.get("result"), "write_ms": rc.get("write_ms"),
                                "done_ms": rc.get("done_ms"),
                                "ro_ms": d.get("lat_ms"), "landed_on_medium": landed})
                raw.append({"round": f"race{i}", "mode": m, **res, "landed": landed})
                print(f"  race {i + 1}/{races} {MODE_NAMES[m]:16s} write issued at "
                      f"{fmt(rc.get('write_ms'), 2)} ms: {rc.get('result')} "
                      f"(done at {fmt(rc.get('done_ms'), 2)} ms), read-only at "
                      f"{fmt(d.get('lat_ms'), 2)} ms, on the medium: {landed}", flush=True)
            b.clear_race_mark()
    return samples, race, raw, by


# ---- 3 and 4: footprint and wakeups --------------------------------------------------------
def parse_status(text):
    out = {}
    for line in text.splitlines():
        m = re.match(r"(\w+):\s+(\d+)", line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


def parse_maps(text):
    """b_maps lines -> [[rss_kB, anon_kB, name]], largest first."""
    out = []
    for line in text.splitlines():
        p = line.split(None, 2)
        if len(p) == 3 and p[0].isdigit() and p[1].isdigit():
            out.append([int(p[0]), int(p[1]), p[2]])
    return out


def lib_summary(maps):
    libs = [m for m in maps if ".so" in m[2].rsplit("/", 1)[-1]]
    return len(libs), sum(m[0] for m in libs), sum(m[1] for m in libs)


def idle_wakeups(b, who, secs):
    r = b.g(f"b_idle {who} {secs}", timeout=secs + 60)
    before, after = {}, {}
    for line in r.out.splitlines():
        p = line.split()
        if len(p) == 4:
            (before if p[0] == "before" else after)[p[1]] = (int(p[2]), int(p[3]))
    threads = {}
    for tid, (v1, n1) in after.items():
        v0, n0 = before.get(tid, (0, 0))
        threads[tid] = {"voluntary": v1 - v0, "involuntary": n1 - n0}
    return {"seconds": secs, "threads": len(threads),
            "voluntary": sum(t["voluntary"] for t in threads.values()),
            "involuntary": sum(t["involuntary"] for t in threads.values()),
            "per_thread": threads}


def strace_calls(b, who, secs):
    r = b.g(f"b_strace {who} {secs}", timeout=secs + 60)
    calls = []
    for line in r.out.splitlines():
        # "TID HH:MM:SS.us call(...) = ..." ; skip attach/detach noise and signals.
        m = re.match(r"\s*(\d+)\s+[\d:.]+\s+(.*)$", line)
        if not m or m.group(2).startswith(("+++", "---")):
            continue
        body = m.group(2)
        if body.startswith("<... ") or "resumed>" in body:
            continue
        calls.append(body)
    # The calls a thread was blocked in when strace attached ("poll(... <unfinished ...>")
    # and their restarts are strace's own doing, not wakeups.
    woken = [c for c in calls if "<unfinished ...>" not in c and
             not c.startswith("restart_syscall(")]
    return {"seconds": secs, "calls": len(woken), "sample": woken[:8],
            "blocked_in": sorted({c.split("(")[0] for c in calls if "<unfinished" in c})}


def footprint(b, who, cycles, idle_s):
    mode = "M" if who == "agent" else "U"
    b.mode = None                     # always a fresh daemon
    b.set_mode(mode)
    time.sleep(2)
    res = {"idle": parse_status(b.g(f"b_status {who}").out)}
    res["maps_idle"] = parse_maps(b.g(f"b_maps {who}").out)
    res["wake_idle"] = idle_wakeups(b, who, idle_s)
    res["strace_idle"] = strace_calls(b, who, idle_s)
    curve = []
    step = max(1, cycles // 5)
    marks = {c for c in (1, 2, 5, 10) if c <= cycles} | set(range(step, cycles + 1, step)) | {cycles}
    t0 = time.monotonic()
    for i in range(1, cycles + 1):
        b.plug()
        d = b.g("b_disk", timeout=60, check=False)
        if d.rc != 0:
            raise BenchError(f"{who} cycle {i}: {d.out.strip()}")
        b.unplug()
        if i in marks:
            st = parse_status(b.g(f"b_status {who}").out)
            curve.append({"cycle": i, "VmRSS": st.get("VmRSS"), "VmHWM": st.get("VmHWM"),
                          "RssAnon": st.get("RssAnon")})
            print(f"  {who}: {i}/{cycles} cycles, VmRSS {st.get('VmRSS')} kB "
                  f"(anon {st.get('RssAnon')} kB), VmHWM {st.get('VmHWM')} kB, "
                  f"{time.monotonic() - t0:.0f} s", flush=True)
    time.sleep(2)
    res["after"] = parse_status(b.g(f"b_status {who}").out)
    res["maps_after"] = parse_maps(b.g(f"b_maps {who}").out)
    res["cycles"] = cycles
    res["curve"] = curve
    res["wake_after"] = idle_wakeups(b, who, idle_s)
    res["strace_after"] = strace_calls(b, who, idle_s)
    res["cycle_seconds"] = (time.monotonic() - t0) / max(1, cycles)
    return res


# ---- report --------------------------------------------------------------------------------
def report(out):
    lines = []
    p = lines.append
    env = out["env"]
    p("")
    p(f"mynaguard VM benchmarks — QEMU TCG (no KVM), guest {env.get('guest', '?')}, "
      f"host {env['host_cpus']} cores, load {env['host_load']}")
    p("TCG inflates every absolute time; compare configurations measured in the same VM.")
    how = {"trace": "the kernel's trace buffer (kprobe usb_authorize_device, ioctl BLKROSET)",
           "poll": "uevlat polling every 0.5 ms at SCHED_FIFO"}
    p(f"Decisions timed from the kernel 'add' uevent (uevlat, raw netlink) to "
      f"{how[out['params']['method']]}.")
    lat = out.get("latency")
    if lat:
        d, u = lat["disk_ro"], lat["usb_auth"]
        if d["M"]["n"] or d["P"]["n"]:
            p("")
            p("1. kernel 'add' uevent of the disk -> read-only in force (= how long the disk was "
              "writable), ms")
            p(f"   {'configuration':24s} {'n':>3s} {'median':>8s} {'p90':>8s} {'max':>8s}  "
              f"racing root write of 4 KiB (O_DIRECT)")
            for m in ("M", "P", "A"):
                s = d[m]
                if m == "A" and not s["n"]:
                    continue
                rc = lat["race"].get(m, [])
                landed = sum(1 for x in rc if x["landed_on_medium"])
                rtxt = (f"landed {landed}/{len(rc)} (" + ", ".join(
                    str(x["result"]) for x in rc) + ")") if rc else "not tried"
                if s["missing"]:
                    rtxt += f"; {s['missing']} plug(s) never read-only"
                p(f"   {MODE_NAMES[m]:24s} {s['n']:3d} {fmt(s['median'], 1):>8s} "
                  f"{fmt(s['p90'], 1):>8s} {fmt(s['max'], 1):>8s}  {rtxt}")
                fb = lat["first_by"]["disk_ro"].get(m)
                if fb and out["params"]["method"] == "trace":
                    p(f"   {'':24s}     first BLKROSET by: {fb}")
            p(f"   {'ratio mynaguard/plain':24s} {'':3s} {fmt(lat['ratio_disk']['median'], 2):>8s} "
              f"{fmt(lat['ratio_disk']['p90'], 2):>8s} {fmt(lat['ratio_disk']['max'], 2):>8s}"
              f"  (goal <= 1.0)")
        if u["M"]["n"] or u["U"]["n"]:
            p("")
            p("2. kernel 'add' uevent of the USB device -> authorized (decision in force), ms")
            p(f"   {'configuration':24s} {'n':>3s} {'median':>8s} {'p90':>8s} {'max':>8s}")
            for m in ("M", "U", "A"):
                s = u[m]
                if m == "A" and not s["n"]:
                    continue
                fb = lat["first_by"]["usb_auth"].get(m)
                fb = f"  authorized by: {fb}" if fb and out["params"]["method"] == "trace" else ""
                if s["missing"]:
                    fb += f"; {s['missing']} plug(s) never authorized"
                p(f"   {MODE_NAMES[m]:24s} {s['n']:3d} {fmt(s['median'], 1):>8s} "
                  f"{fmt(s['p90'], 1):>8s} {fmt(s['max'], 1):>8s}{fb}")
            p(f"   {'ratio mynaguard/usbguard':24s} {'':3s} "
              f"{fmt(lat['ratio_usb']['median'], 2):>8s} {fmt(lat['ratio_usb']['p90'], 2):>8s} "
              f"{fmt(lat['ratio_usb']['max'], 2):>8s}  (goal <= 1.0)")
    fp = out.get("footprint")
    if fp:
        p("")
        p("3. resident memory, kB. VmRSS = RssAnon + RssFile (+ RssShmem); USS = its private")
        p("   pages (Private_Clean + Private_Dirty); PSS shares each shared page among its users.")
        p(f"   {'daemon':9s} {'when':21s} {'VmRSS':>6s} {'RssAnon':>7s} {'RssFile':>7s} "
          f"{'VmHWM':>6s} {'USS':>6s} {'PSS':>6s} {'VmSize':>7s} {'thr':>3s}")
        for who, r in fp.items():
            for when, st in (("idle after start", r["idle"]),
                             (f"after {r['cycles']} plug cycles", r["after"])):
                uss = st.get("Private_Clean", 0) + st.get("Private_Dirty", 0)
                p(f"   {who:9s} {when:21s} {st.get('VmRSS', 0):6d} {st.get('RssAnon', 0):7d} "
                  f"{st.get('RssFile', 0):7d} {st.get('VmHWM', 0):6d} {uss:6d} "
                  f"{st.get('Pss', 0):6d} {st.get('VmSize', 0):7d} {st.get('Threads', 0):3d}")
            g = r["after"].get("VmRSS", 0) - r["idle"].get("VmRSS", 0)
            ga = r["after"].get("RssAnon", 0) - r["idle"].get("RssAnon", 0)
            curve = " ".join(f"{c['cycle']}:{c['VmRSS']}/{c['RssAnon']}" for c in r["curve"])
            p(f"   {'':9s} growth: VmRSS {g:+d} kB, RssAnon {ga:+d} kB "
              f"(cycle:VmRSS/RssAnon {curve})")
            top = ", ".join(f"{x[2].rsplit('/', 1)[-1]} {x[0]}" for x in r["maps_after"][:5])
            n, rss, anon = lib_summary(r["maps_after"])
            p(f"   {'':9s} largest resident mappings (kB): {top}")
            p(f"   {'':9s} {n} shared objects mapped: {rss} kB of the RSS, {anon} kB of it anon "
              f"(relocations, .data/.bss)")
        if "agent" in fp and "usbguard" in fp:
            a, g = fp["agent"]["after"], fp["usbguard"]["after"]
            p(f"   ratio agent/usbguard after the cycles: VmRSS "
              f"{fmt(ratio(a.get('VmRSS'), g.get('VmRSS')), 2)}, RssAnon "
              f"{fmt(ratio(a.get('RssAnon'), g.get('RssAnon')), 2)}; agent goal <= 3 MiB "
              f"(3072 kB), no growth")
        p("")
        p("4. idle wakeups (nothing plugged, nothing logged), over the window of each row")
        p(f"   {'daemon':18s} {'when':22s} {'threads':>7s} {'vol.cs':>7s} {'invol.cs':>8s} "
          f"{'syscalls (strace -f)':>21s}")
        for who, r in fp.items():
            for when, w, s in (("after start", r["wake_idle"], r["strace_idle"]),
                               ("after the cycles", r["wake_after"], r["strace_after"])):
                label = f"{when} ({w['seconds']} s)"
                p(f"   {who:18s} {label:22s} {w['threads']:7d} "
                  f"{w['voluntary']:7d} {w['involuntary']:8d} {s['calls']:21d}")
        p("   (goal for the agent: 0 wakeups; strace's own attach/detach is not counted)")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--cache", default=os.environ.get("VM_CACHE", "/var/tmp/mynaguard-vm"))
    p.add_argument("--n", type=int, default=10, help="plugs per configuration (1, 2)")
    p.add_argument("--races", type=int, default=3, help="racing-write plugs per configuration")
    p.add_argument("--cycles", type=int, default=100, help="plug/unplug cycles (3)")
    p.add_argument("--idle", type=int, default=10, help="idle window, seconds (4)")
    p.add_argument("--only", default="1,2,3,4")
    p.add_argument("--smp", type=int, default=None, help="guest vCPUs (default: the harness's, 1)")
    p.add_argument("--json", default=None)
    p.add_argument("--method", choices=("trace", "poll"), default="trace",
                   help="when a decision took effect: kernel trace (default) or uevlat polling")
    p.add_argument("--diag", action="store_true",
                   help="also time the agent alone, without its udev rules (1, 2)")
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--budget", type=float, default=float(os.environ.get("BENCH_BUDGET", 3600)))
    a = p.parse_args()
    only = {x.strip() for x in a.only.split(",") if x.strip()}

    def on_alarm(signum, frame):
        raise BenchError(f"time budget of {a.budget:.0f} s exhausted")
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(a.budget))

    b = Bench(a)
    out = {"env": {"host_cpus": os.cpu_count(), "host_kernel": platform.release(),
                   "host_load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
                   "accel": "tcg"},
           "params": {"n": a.n, "races": a.races, "cycles": a.cycles, "idle_s": a.idle,
                      "method": a.method,
                      "only": sorted(only)}}
    t_all = time.monotonic()
    rc = 0
    try:
        b.vm.start()
        out["env"]["boot_s"] = round(b.vm.t_ready - b.vm.t_start, 1)
        r = b.g("b_setup", timeout=180)
        out["env"]["guest"] = r.out.strip().splitlines()[-1]
        print(f"# VM ready after {out['env']['boot_s']} s; {out['env']['guest']}", flush=True)
        if "1" in only or "2" in only:
            print("# 1/2: latencies", flush=True)
            samples, race, raw, by = latency(b, a.n, a.races, "1" in only, "2" in only, a.diag)
            d = {m: stats(v) for m, v in samples["disk_ro"].items()}
            u = {m: stats(v) for m, v in samples["usb_auth"].items()}
            out["latency"] = {
                "disk_ro": d, "usb_auth": u, "race": race,
                "ratio_disk": {k: ratio(d["M"][k], d["P"][k]) for k in ("median", "p90", "max")},
                "ratio_usb": {k: ratio(u["M"][k], u["U"][k]) for k in ("median", "p90", "max")},
                "first_by": {k: {m: who_counts(v) for m, v in x.items()} for k, x in by.items()},
                "samples": samples, "raw": raw}
        if "3" in only or "4" in only:
            out["footprint"] = {}
            for who in ("agent", "usbguard"):
                print(f"# 3/4: {who}", flush=True)
                out["footprint"][who] = footprint(b, who, a.cycles if "3" in only else 0, a.idle)
        b.g("b_mode P", timeout=60, check=False)   # stop the daemons before collecting logs
        out["logs"] = b.g("b_logs 40", check=False).out
    except (BenchError, vmctl.GuestError, OSError, RuntimeError, TimeoutError) as e:
        print(f"bench: {e}", flush=True)
        print("# console tail:\n" + b.vm.console_tail(20), flush=True)
        try:
            print(b.g("b_logs 20", check=False, timeout=20).out)
        except Exception:
            pass
        rc = 1
    finally:
        signal.alarm(0)
        b.vm.stop()
    out["env"]["total_s"] = round(time.monotonic() - t_all, 1)
    print(report(out))
    print(f"\n(total {out['env']['total_s']} s, {b.n_plug} plugs)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
        print(f"results written to {a.json}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
