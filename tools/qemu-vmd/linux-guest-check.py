#!/usr/bin/env python3
"""linux-guest-check.py - checks the QEMU vmd device with Linux's own vmd driver (a hand-run verification).

Boots Debian 12's generic kernel (linux-image-<ABI>-amd64 has CONFIG_VMD=m; the cloud kernel does not) under TCG with
a small busybox initramfs on the patched QEMU, with an NVMe drive behind a pcie-root-port behind the vmd device, and
checks that:
  * Linux's vmd driver binds the VMD and enumerates the hidden segment (domain 10000, bus = the restriction's start);
  * the nvme driver binds the drive behind it and reads what the host wrote into the image, and what the guest writes
    lands in the image (checked here after QEMU exits);
  * the drive's completions came as interrupts (the /proc/interrupts counts of its queues grow) and, with remapping,
    the QEMU trace shows child MSIs remapped to VMD vectors >= 1 on client IDs (vmd_msi_remap) or passed through
    (vmd_msi_bypass, the 28C0 case where Linux sets VMCONFIG.MSI_RMP_DIS).
Run: tools/qemu-vmd/linux-guest-check.py [--qemu build/qemu-vmd/qemu-system-x86_64] [--device-id 0x9a0b] ...
The Debian packages (kernel, busybox-static) are fetched with `apt-get download` into
${XDG_CACHE_HOME:-~/.cache}/cairn/qemu-vmd/linux-guest/. Exit status 0 when every check passed.
"""

import argparse
import glob
import gzip
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPOSITORY = os.path.abspath(os.path.join(HERE, "..", ".."))
CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                     "cairn", "qemu-vmd", "linux-guest")
KERNEL_ABI = "6.1.0-57-amd64"   # Debian 12's linux-image-amd64 when this was verified; --kernel-abi changes it
# nvme needs nvme-core, which needs t10-pi and its CRC helpers; vmd needs nothing.
MODULES = [
    "kernel/crypto/crct10dif_common.ko", "kernel/crypto/crct10dif_generic.ko", "kernel/lib/crc-t10dif.ko",
    "kernel/lib/crc64.ko", "kernel/crypto/crc64_rocksoft_generic.ko", "kernel/lib/crc64-rocksoft.ko",
    "kernel/block/t10-pi.ko", "kernel/drivers/nvme/host/nvme-core.ko", "kernel/drivers/nvme/host/nvme.ko",
    "kernel/drivers/pci/controller/vmd.ko",
]
HOST_PATTERN_OFFSET = 0              # written by the host, read by the guest
GUEST_PATTERN_OFFSET = 16 << 20      # written by the guest, read by the host
PATTERN_SIZE = 4 << 20

INIT = r"""#!/bin/sh
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in %(modules)s; do insmod /lib/modules/$m || echo "CHECK insmod $m failed"; done
i=0; while [ ! -b /dev/nvme0n1 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
echo "== pci devices"
for d in /sys/bus/pci/devices/*; do
  drv=$(readlink $d/driver); echo "PCI $(basename $d) $(cat $d/vendor):$(cat $d/device) class=$(cat $d/class) driver=${drv##*/}"
done
echo "== vmd config"
v=/sys/bus/pci/devices/0000:00:0e.0/config
echo "VMCAP $(dd if=$v bs=1 skip=64 count=4 2>/dev/null | hexdump -e '1/4 "%%08x"')"
echo "VMCONFIG $(dd if=$v bs=1 skip=68 count=4 2>/dev/null | hexdump -e '1/4 "%%08x"')"
echo "== dmesg"
dmesg | grep -iE "vmd|10000:|nvme" | sed 's/^/DMESG /'
echo "== interrupts before"
grep -E "nvme|vmd|PCI-MSI" /proc/interrupts | sed 's/^/IRQ0 /'
if [ -b /dev/nvme0n1 ]; then
  echo "HOSTREAD $(dd if=/dev/nvme0n1 bs=1M count=%(pattern_mib)d iflag=direct 2>/dev/null | md5sum)"
  dd if=/dev/urandom of=/tmp/pattern bs=1M count=%(pattern_mib)d 2>/dev/null
  echo "GUESTWROTE $(md5sum < /tmp/pattern)"
  dd if=/tmp/pattern of=/dev/nvme0n1 bs=1M seek=%(guest_mib)d oflag=direct conv=fsync 2>/dev/null
  echo 3 > /proc/sys/vm/drop_caches
  echo "GUESTREAD $(dd if=/dev/nvme0n1 bs=1M skip=%(guest_mib)d count=%(pattern_mib)d iflag=direct 2>/dev/null | md5sum)"
  echo "SIZE $(cat /sys/block/nvme0n1/size)"
else
  echo "CHECK no /dev/nvme0n1"
fi
echo "== interrupts after"
grep -E "nvme|vmd|PCI-MSI" /proc/interrupts | sed 's/^/IRQ1 /'
echo "== done"
sync
poweroff -f
"""


def log(text):
    print("linux-guest-check: " + text, flush=True)


def current_kernel_abi():
    """The ABI that Debian's linux-image-amd64 depends on now (e.g. 6.1.0-57-amd64)."""
    result = subprocess.run(["apt-cache", "depends", "linux-image-amd64"], capture_output=True, text=True)
    match = re.search(r"Depends: linux-image-(\S+-amd64)", result.stdout)
    return match.group(1) if match else KERNEL_ABI


def fetch_packages():
    os.makedirs(CACHE, exist_ok=True)
    wanted = {"linux-image-%s" % KERNEL_ABI: "linux-image-%s_*.deb" % KERNEL_ABI,
              "busybox-static": "busybox-static_*.deb"}
    debs = {}
    for package, pattern in wanted.items():
        found = glob.glob(os.path.join(CACHE, pattern))
        if not found:
            log("apt-get download %s" % package)
            subprocess.run(["apt-get", "download", package], cwd=CACHE, check=True,
                           stdout=subprocess.DEVNULL)
            found = glob.glob(os.path.join(CACHE, pattern))
        debs[package] = sorted(found)[-1]
    root = os.path.join(CACHE, "root-" + KERNEL_ABI)
    if not os.path.isdir(root):
        os.makedirs(root + ".tmp", exist_ok=True)
        for deb in debs.values():
            subprocess.run(["dpkg-deb", "-x", deb, root + ".tmp"], check=True)
        os.rename(root + ".tmp", root)
    return root


def cpio_newc(entries):
    """entries: list of (name, mode, data bytes or None for a directory) -> a newc archive."""
    out = io.BytesIO()
    ino = 1
    for name, mode, data in entries + [("TRAILER!!!", 0, b"")]:
        data = data or b""
        name_bytes = name.encode() + b"\0"
        header = "070701" + "".join("%08X" % value for value in (
            ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name_bytes), 0))
        out.write(header.encode() + name_bytes)
        out.write(b"\0" * ((4 - (110 + len(name_bytes)) % 4) % 4))
        out.write(data)
        out.write(b"\0" * ((4 - len(data) % 4) % 4))
        ino += 1
    return out.getvalue()


def make_initramfs(root, path):
    modules_dir = os.path.join(root, "lib", "modules", KERNEL_ABI)
    entries = [(d, 0o040755, None) for d in ("bin", "dev", "proc", "sys", "tmp", "lib", "lib/modules")]
    with open(os.path.join(root, "bin", "busybox"), "rb") as busybox:
        entries.append(("bin/busybox", 0o100755, busybox.read()))
    for applet in ("sh", "mount", "insmod", "sleep", "cat", "readlink", "dd", "hexdump", "dmesg", "grep", "sed",
                   "md5sum", "poweroff", "sync", "echo"):
        entries.append(("bin/" + applet, 0o120777, b"busybox"))
    names = []
    for module in MODULES:
        name = os.path.basename(module)
        names.append(name)
        with open(os.path.join(modules_dir, module), "rb") as ko:
            entries.append(("lib/modules/" + name, 0o100644, ko.read()))
    init = INIT % {"modules": " ".join(names), "pattern_mib": PATTERN_SIZE >> 20,
                   "guest_mib": GUEST_PATTERN_OFFSET >> 20}
    entries.append(("init", 0o100755, init.encode()))
    with open(path, "wb") as out:
        out.write(gzip.compress(cpio_newc(entries)))


def main():
    global KERNEL_ABI
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--qemu", default=os.path.join(REPOSITORY, "build", "qemu-vmd", "qemu-system-x86_64"))
    parser.add_argument("--device-id", default="0x9a0b")
    parser.add_argument("--bus-restriction", default=None, help="0..3 (default: the device's)")
    parser.add_argument("--extra", default="", help="more -device vmd properties, e.g. msix-vectors=8")
    parser.add_argument("--timeout", type=float, default=180)
    parser.add_argument("--keep", action="store_true", help="keep the work folder (disk image, trace, console)")
    parser.add_argument("--kernel-abi", default=KERNEL_ABI,
                        help="Debian kernel ABI (default %s; 'current': what linux-image-amd64 depends on)" % KERNEL_ABI)
    args = parser.parse_args()
    KERNEL_ABI = current_kernel_abi() if args.kernel_abi == "current" else args.kernel_abi

    root = fetch_packages()
    work = tempfile.mkdtemp(prefix="vmd-linux-")
    initrd = os.path.join(work, "initrd.gz")
    make_initramfs(root, initrd)
    disk = os.path.join(work, "disk.img")
    host_pattern = os.urandom(PATTERN_SIZE)
    with open(disk, "wb") as image:
        image.write(host_pattern)
        image.truncate(64 << 20)
    trace = os.path.join(work, "trace.log")
    vmd = "vmd,id=vmd0,addr=0e.0,device-id=%s" % args.device_id
    if args.bus_restriction is not None:
        vmd += ",bus-restriction=%s" % args.bus_restriction
    if args.extra:
        vmd += "," + args.extra
    command = [args.qemu, "-machine", "q35", "-accel", "tcg", "-m", "512", "-smp", "1",
               "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot", "-nic", "none",
               "-kernel", os.path.join(root, "boot", "vmlinuz-" + KERNEL_ABI), "-initrd", initrd,
               "-append", "console=ttyS0 panic=-1 quiet loglevel=4",
               "-device", vmd,
               "-device", "pcie-root-port,id=rp1,bus=vmd0,chassis=1,slot=1",
               "-drive", "if=none,id=d0,format=raw,file=" + disk,
               "-device", "nvme,serial=VMDCHILD1,drive=d0,bus=rp1",
               "-trace", "vmd_msi_*", "-trace", "vmd_intx_*", "-trace", "vmd_cfg_write", "-trace", "pci_nvme_ub_*",
               "-trace", "pci_nvme_err_*", "-D", trace]
    if os.path.isdir(os.path.join(os.path.dirname(os.path.abspath(args.qemu)), "qemu-bundle")):
        # A binary run inside its build tree looks for firmware in qemu-bundle/: point it at Debian's.
        command[1:1] = ["-L", "/usr/share/seabios", "-L", "/usr/share/qemu", "-L", "/usr/lib/ipxe/qemu"]
    log("running: " + " ".join(command))
    started = time.monotonic()
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=args.timeout)
    elapsed = time.monotonic() - started
    console = result.stdout.decode("utf-8", "replace").replace("\r", "")
    with open(os.path.join(work, "console.log"), "w") as out:
        out.write(console)
    print(console)
    with open(trace) as trace_file:
        events = trace_file.read().splitlines()
    with open(disk, "rb") as image:
        image.seek(GUEST_PATTERN_OFFSET)
        guest_in_image = hashlib.md5(image.read(PATTERN_SIZE)).hexdigest()

    failures = []
    passed = []

    def check(condition, text):
        log(("ok:     " if condition else "FAILED: ") + text)
        if condition:
            passed.append(text)
        if not condition:
            failures.append(text)

    check("== done" in console, "the guest ran its script to the end (%.1f s, QEMU exit %d)" % (elapsed, result.returncode))
    check("CHECK" not in console, "no insmod or device errors in the guest")
    check(re.search(r"^PCI 0000:00:0e\.0 0x8086:%s class=0x010400 driver=vmd$" % re.escape(args.device_id.lower()),
                    console, re.M) is not None, "vmd driver bound to 8086:%s class 0x010400" % args.device_id)
    children = re.findall(r"^PCI (10000:[0-9a-f]{2}:[0-9a-f]{2}\.\d) (\S+) class=(\S+) driver=(\S*)$", console, re.M)
    log("devices in the VMD domain: %s" % children)
    check(any(cls == "0x060400" and drv == "pcieport" for _, _, cls, drv in children), "root port behind the VMD (pcieport)")
    check(any(ident == "0x1b36:0x0010" and drv == "nvme" for _, ident, _, drv in children), "NVMe behind the VMD (nvme)")
    host_read = re.search(r"^HOSTREAD (\w+)", console, re.M)
    check(host_read is not None and host_read.group(1) == hashlib.md5(host_pattern).hexdigest(),
          "the guest read the host's %d MiB pattern through the VMD" % (PATTERN_SIZE >> 20))
    wrote = re.search(r"^GUESTWROTE (\w+)", console, re.M)
    read_back = re.search(r"^GUESTREAD (\w+)", console, re.M)
    check(wrote is not None and read_back is not None and wrote.group(1) == read_back.group(1) == guest_in_image,
          "the guest's %d MiB write reads back and is in the image file" % (PATTERN_SIZE >> 20))

    def irq_counts(prefix, name):
        """Interrupt counts per Linux IRQ of the /proc/interrupts lines whose last field starts with name."""
        counts = {}
        for line in re.findall(r"^%s (.*)$" % prefix, console, re.M):
            fields = line.split()
            if not fields[-1].startswith(name):
                continue
            numbers = []
            for field in fields[1:]:
                if not field.isdigit():
                    break
                numbers.append(int(field))
            counts[fields[0].rstrip(":")] = sum(numbers)
        return counts
    # The VMD's own vectors are "vmd0" (remapping: Linux counts the children's interrupts there).
    before, after = irq_counts("IRQ0", "vmd0"), irq_counts("IRQ1", "vmd0")
    grew = {irq: after[irq] - before.get(irq, 0) for irq in after if after[irq] > before.get(irq, 0)}
    log("VMD vectors (Linux IRQ: new interrupts during the I/O): %s" % grew)
    bypass_expected = re.search(r"^VMCONFIG ([0-9a-f]+)", console, re.M)
    bypass_expected = bypass_expected is not None and int(bypass_expected.group(1), 16) & 2 != 0
    if bypass_expected:
        check(not after, "MSI remapping disabled by Linux (VMCONFIG.MSI_RMP_DIS=1): no VMD vectors allocated")
        nvme_before, nvme_after = irq_counts("IRQ0", "nvme0q"), irq_counts("IRQ1", "nvme0q")
        nvme_grew = {irq: nvme_after[irq] - nvme_before.get(irq, 0) for irq in nvme_after
                     if nvme_after[irq] > nvme_before.get(irq, 0)}
        log("NVMe vectors (Linux IRQ: new interrupts during the I/O): %s" % nvme_grew)
        check(bool(nvme_grew), "the NVMe's own MSI-X vectors fired during the guest's I/O (bypass)")
    else:
        check(bool(grew), "the VMD's MSI-X vectors fired during the guest's I/O")
    sbr = [e for e in events if "vmd_cfg_write" in e and "reg 0x03e" in e
           and int(re.search(r"<- 0x([0-9a-f]+)", e).group(1), 16) & 0x40]
    log("secondary bus resets requested through CFGBAR: %d" % len(sbr))
    remapped = [e for e in events if "vmd_msi_remap" in e]
    bypassed = [e for e in events if "vmd_msi_bypass" in e]
    dropped = [e for e in events if "vmd_msi_dropped" in e]
    vectors = sorted({int(m.group(1)) for m in (re.search(r"vector (\d+)", e) for e in remapped) if m})
    intx_raised = [e for e in events if "vmd_intx_dropped" in e and e.endswith("level 1 not forwarded")]
    log("trace: %d remapped (VMD vectors %s), %d passed through, %d dropped, %d INTx assertions dropped; nvme ub/err: %d"
        % (len(remapped), vectors, len(bypassed), len(dropped), len(intx_raised),
           len([e for e in events if "pci_nvme_" in e])))
    check(not dropped, "no child MSI dropped by the VMD")
    if bypass_expected:
        check(bypassed and not remapped, "child MSIs passed through the VMD unchanged (bypass)")
    else:
        check(remapped and not bypassed, "child MSIs were remapped to VMD vectors %s" % vectors)
        if int(args.device_id, 16) not in (0x201d, 0x28c0):
            check(0 not in vectors, "no child MSI was sent to vector 0 of this client VMD")
    check(not any("pci_nvme_" in e for e in events), "no pci_nvme_ub_*/err_* trace events")
    if args.keep or failures:
        log("work folder kept: %s" % work)
    else:
        shutil.rmtree(work)
    log("%d passed, %d failed" % (len(passed), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
