#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
#
# prepare.sh OUTDIR — fetch a Debian 12 kernel (not installed on the host) and build a
# busybox initramfs able to hot-plug USB mass storage and mount a 9p host share.
#
# Result:
#   OUTDIR/kernel/            dpkg-deb -x of linux-image-<ver> (plus a depmod-generated modules.dep)
#   OUTDIR/vmlinuz            symlink to the kernel image
#   OUTDIR/initrd.cpio.gz     busybox + /init + modules
#   OUTDIR/kver               kernel release string
#
# Env: EXTRA_MODULES="scsi_debug dummy_hcd ..." copies more modules (with deps) into the
#      initramfs; they are NOT loaded by /init, use `modprobe NAME` in guest.sh.
#      LOAD_MODULES overrides the list loaded at boot.
#      REBUILD_KERNEL=1 forces a new download/extract.
set -euo pipefail

OUT=${1:?usage: prepare.sh OUTDIR}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

LOAD_MODULES=${LOAD_MODULES:-"crct10dif_generic xhci_pci usb_storage sd_mod virtio_pci 9pnet_virtio 9p"}
EXTRA_MODULES=${EXTRA_MODULES:-}

# ---- host tools --------------------------------------------------------------------------
need_pkgs=()
command -v qemu-system-x86_64 >/dev/null || need_pkgs+=(qemu-system-x86)
if ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed'; then
    need_pkgs+=(busybox-static)
fi
command -v cpio >/dev/null || need_pkgs+=(cpio)
command -v depmod >/dev/null || [ -x /sbin/depmod ] || need_pkgs+=(kmod)
command -v gzip >/dev/null || need_pkgs+=(gzip)
command -v xz >/dev/null || need_pkgs+=(xz-utils)
command -v zstd >/dev/null || need_pkgs+=(zstd)
if [ ${#need_pkgs[@]} -gt 0 ]; then
    echo "prepare: installing ${need_pkgs[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends "${need_pkgs[@]}"; then
        apt-get update
        apt-get install -y --no-install-recommends "${need_pkgs[@]}"
    fi
fi
DEPMOD=$(command -v depmod || echo /sbin/depmod)
BUSYBOX=/bin/busybox

# ---- kernel ------------------------------------------------------------------------------
if [ "${REBUILD_KERNEL:-0}" = 1 ] || ! ls "$OUT"/kernel/boot/vmlinuz-* >/dev/null 2>&1; then
    pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    if [ -z "$pkg" ]; then
        apt-get update
        pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    fi
    [ -n "$pkg" ] || { echo "prepare: cannot resolve linux-image-amd64" >&2; exit 1; }
    echo "prepare: downloading $pkg" >&2
    dl=$(mktemp -d)
    chmod 755 "$dl"; chown _apt "$dl" 2>/dev/null || true   # else apt warns (unsandboxed download)
    (cd "$dl" && apt-get download "$pkg")
    rm -rf "$OUT/kernel"
    mkdir -p "$OUT/kernel"
    dpkg-deb -x "$dl"/"$pkg"_*.deb "$OUT/kernel"
    rm -rf "$dl"
fi
vmlinuz=$(find "$OUT/kernel/boot" -name "vmlinuz-*" | head -n1)
kver=${vmlinuz##*/vmlinuz-}
echo "$kver" > "$OUT/kver"
ln -sfn "kernel/boot/vmlinuz-$kver" "$OUT/vmlinuz"
kmod_dir="$OUT/kernel/lib/modules/$kver"
# The .deb does not ship modules.dep (postinst runs depmod), so generate it in the extracted tree.
if [ ! -s "$kmod_dir/modules.dep" ]; then
    "$DEPMOD" -b "$OUT/kernel" "$kver"
fi

# ---- initramfs ---------------------------------------------------------------------------
HERE=$(cd "$(dirname "$0")" && pwd)
HOSTROOT_MODULES=${HOSTROOT_MODULES:-"virtio_pci 9pnet_virtio 9p overlay"}
roots=()
trap 'rm -rf "${roots[@]}"' EXIT

# make_root LOAD EXTRA: a fresh tree in $root with busybox, the modules LOAD (loaded by /init
# from etc/modules.load) and EXTRA (copied only), each with its dependencies.
make_root() {
    local load=$1 extra=$2
    root=$(mktemp -d)
    roots+=("$root")
    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,mnt/host,etc,root,lib/modules/"$kver"}
    cp "$BUSYBOX" "$root/bin/busybox"
    for applet in $("$BUSYBOX" --list); do
        [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
    done
    ln -sf ../bin/busybox "$root/sbin/modprobe"
    ln -sf ../bin/busybox "$root/sbin/insmod"

    # Resolve module names (dash/underscore-insensitive) to files + dependency closure in load order.
    python3 - "$kmod_dir" "$root/lib/modules/$kver" "$root/etc/modules.load" "$load" "$extra" <<'PY'
import os, re, shutil, subprocess, sys
src, dst, loadfile, load, extra = sys.argv[1:6]
deps, byname = {}, {}
builtin = set()
with open(os.path.join(src, "modules.dep")) as f:
    for line in f:
        mod, _, rest = line.partition(":")
        deps[mod] = rest.split()
        base = re.sub(r"\.ko(\.(xz|zst|gz))?$", "", os.path.basename(mod)).replace("-", "_")
        byname[base] = mod
with open(os.path.join(src, "modules.builtin")) as f:
    for line in f:
        builtin.add(re.sub(r"\.ko$", "", os.path.basename(line.strip())).replace("-", "_"))
order, seen = [], set()
def visit(mod):
    if mod in seen:
        return
    seen.add(mod)
    for d in deps[mod]:
        visit(d)
    order.append(mod)
def want(names, record):
    for n in names.split():
        k = n.replace("-", "_")
        if k in byname:
            before = len(order)
            visit(byname[k])
            if record is not None:
                record.extend(order[before:])
        elif k in builtin:
            print(f"prepare: {n} is built in", file=sys.stderr)
        else:
            sys.exit(f"prepare: module {n} not found in {src}")
loadlist = []
want(load, loadlist)
want(extra, None)
out = []
for mod in order:
    s = os.path.join(src, mod)
    plain = re.sub(r"\.(xz|zst|gz)$", "", mod)
    d = os.path.join(dst, plain)
    os.makedirs(os.path.dirname(d), exist_ok=True)
    # busybox insmod/modprobe cannot be trusted with compressed modules: store them plain.
    if mod.endswith(".xz"):
        subprocess.run(["xz", "-dc", s], stdout=open(d, "wb"), check=True)
    elif mod.endswith(".zst"):
        subprocess.run(["zstd", "-qdc", s], stdout=open(d, "wb"), check=True)
    elif mod.endswith(".gz"):
        subprocess.run(["gzip", "-dc", s], stdout=open(d, "wb"), check=True)
    else:
        shutil.copyfile(s, d)
with open(loadfile, "w") as f:
    for mod in loadlist:
        f.write(re.sub(r"\.(xz|zst|gz)$", "", mod) + "\n")
print(f"prepare: {len(order)} modules copied, {len(loadlist)} loaded at boot", file=sys.stderr)
PY
    cp "$kmod_dir"/modules.builtin* "$kmod_dir"/modules.order "$root/lib/modules/$kver/" 2>/dev/null || true
    # modules.dep for the copied subset, so `modprobe X` works in the guest (also for request_module()).
    "$DEPMOD" -b "$root" "$kver"
}

# pack_root NAME: cpio the tree into OUTDIR/NAME.
pack_root() {
    chmod 755 "$root/init"
    (cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -6) > "$OUT/$1.tmp"
    mv "$OUT/$1.tmp" "$OUT/$1"
    echo "prepare: $1 $(du -h "$OUT/$1" | cut -f1)" >&2
}

# Busybox mode: everything runs from the initramfs.
make_root "$LOAD_MODULES" "$EXTRA_MODULES"
cat > "$root/init" <<'INIT'
#!/bin/busybox sh
# SPDX-License-Identifier: BSD-2-Clause
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || true
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run 2>/dev/null || { mkdir -p /run && mount -t tmpfs tmpfs /run; }
echo /sbin/modprobe > /proc/sys/kernel/modprobe
kver=$(uname -r)
while read -r m; do
    insmod "/lib/modules/$kver/$m" || echo "init: insmod $m failed"
done < /etc/modules.load
# 9p share: the virtio device may need a moment after virtio_pci probed it.
i=0
while [ $i -lt 50 ]; do
    if grep -q '^host$' /sys/bus/virtio/drivers/9pnet_virtio/*/mount_tag 2>/dev/null ||
       grep -qs host /sys/bus/virtio/devices/*/mount_tag; then
        mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 host /mnt/host && break
    fi
    i=$((i + 1)); usleep 100000
done
grep -q " /mnt/host " /proc/mounts || echo "init: no 9p share"
read -r up _ < /proc/uptime
echo "MYNAGUARD-VM-READY uptime=$up"
if [ -f /mnt/host/guest.sh ]; then
    sh /mnt/host/guest.sh
    echo "MYNAGUARD-VM-GUEST-EXIT rc=$?"
    sync
    poweroff -f
fi
while true; do setsid cttyhack sh; done
INIT
pack_root initrd.cpio.gz

# Host-root mode: the initramfs only mounts the host's / (9p, read-only) under a tmpfs overlay
# and switch_roots into it; modules then come from the extracted kernel tree (see run.sh).
make_root "$HOSTROOT_MODULES" ""
cp "$HERE/initramfs-hostroot.sh" "$root/init"
pack_root initrd-hostroot.cpio.gz
echo "prepare: kernel $kver, $(du -h "$vmlinuz" | cut -f1) vmlinuz" >&2
