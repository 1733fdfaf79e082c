"""linux_guest.py - the Linux side of `make bench-linux`: Debian packages fetched on first use, an initramfs
made from them, and the QEMU machine that boots it.

Cache (build/bench-linux/ unless --cache says otherwise):
  debs/        the .deb files, fetched with `apt-get download` (Debian's own client, nothing else)
  root/        every fetched package but the kernel unpacked with `dpkg-deb -x` into one tree
  kernel/      the kernel package unpacked (boot/vmlinuz-*, boot/config-*)
  linux/       vmlinuz, base.cpio (uncompressed: TCG unpacks it faster than it inflates gzip) and
               manifest.json (what they were made from)

The initramfs holds busybox (static), fio, GNU dd (coreutils, as /usr/bin/gnu-dd) and every shared library
`ldd` names for fio and dd, resolved the way the guest's loader will: first in the unpacked tree (with fio's
RUNPATHs), then among the host's installed packages of the same Debian release (libc, libstdc++ ...), plus
tools/bench/init.sh as /init. What one boot
runs is a second cpio appended per boot (the kernel reads concatenated archives): /bench/plan.sh.

The kernel is the Debian cloud image (linux-image-cloud-amd64): NVMe, io_uring, ext4 (which mounts ext2),
the 8250 serial console and devtmpfs are built in (checked in its config when the cache is made), so the
initramfs needs no module.
"""

import glob
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPOSITORY = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPOSITORY, "tests", "integration"))

from cairn_qemu import CairnVM  # noqa: E402

KERNEL_PACKAGE = "linux-image-cloud-amd64"
# Kernel options the bench relies on; each must be =y (built in).
KERNEL_NEEDS = ("CONFIG_BLK_DEV_NVME", "CONFIG_IO_URING", "CONFIG_EXT4_FS", "CONFIG_EXT4_USE_FOR_EXT2",
                "CONFIG_SERIAL_8250_CONSOLE", "CONFIG_DEVTMPFS", "CONFIG_BLK_DEV_INITRD", "CONFIG_RD_GZIP")
# Binaries copied into the initramfs: (path in the unpacked tree, path in the initramfs). GNU dd sits beside
# busybox's under its own name: it times itself (its summary line, as Cairn's dd prints) and is the dd most
# Linux users run.
BINARIES = (("bin/busybox", "bin/busybox"), ("usr/bin/fio", "usr/bin/fio"), ("bin/dd", "usr/bin/gnu-dd"))
PACKAGES = (KERNEL_PACKAGE, "busybox-static", "fio", "coreutils")
# Dependencies never fetched: the C library and the loader come from the host's libc6 (the same Debian
# release), the rest are fio's packaging, not its binary.
SKIP_DEPENDENCIES = {"libc6", "python3", "init-system-helpers", "debconf"}
# Where the guest's loader looks (its defaults and fio's libraries' RUNPATHs), relative to a root.
LIBRARY_FOLDERS = ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu/ceph")
# Bump when the initramfs layout changes in a way the file hashes below do not show.
LAYOUT_VERSION = 1


def say(text):
    print("bench-linux: " + text, flush=True)


def _run(args, **options):
    result = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **options)
    if result.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(args), result.returncode,
                                                 result.stderr.decode("utf-8", "replace").strip()[-2000:]))
    return result.stdout.decode("utf-8", "replace")


def _sudo():
    return [] if os.geteuid() == 0 else ["sudo"]


def host_installed(package):
    result = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status}", package], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    return result.returncode == 0 and result.stdout.decode() == "installed"


def package_dependencies(package):
    """The Depends of a package (first alternative of each), from apt-cache."""
    text = _run(["apt-cache", "depends", "--no-recommends", "--no-suggests", "--no-enhances", "--no-conflicts",
                 "--no-breaks", "--no-replaces", package])
    names = []
    alternative = False
    for line in text.splitlines():
        match = re.match(r"^\s*(\|)?(Pre)?Depends: <?([^\s>]+)>?", line)
        if match:
            if not alternative:
                names.append(match.group(3))
            alternative = match.group(1) == "|"
    return names


def download(package, debs):
    """apt-get download of one package into debs/ unless a .deb of it is there; returns the .deb path."""
    existing = sorted(glob.glob(os.path.join(debs, "%s_*.deb" % package)))
    if existing:
        return existing[-1]
    say("fetching %s" % package)
    try:
        _run(["apt-get", "download", package], cwd=debs)
    except RuntimeError:
        # The package lists may be missing or old: refresh them once.
        subprocess.run(_sudo() + ["apt-get", "update", "-qq"], check=True)
        _run(["apt-get", "download", package], cwd=debs)
    found = sorted(glob.glob(os.path.join(debs, "%s_*.deb" % package)))
    if not found:
        raise RuntimeError("apt-get download %s left no .deb in %s" % (package, debs))
    return found[-1]


def fetch_closure(roots, debs):
    """Downloads roots and every dependency the host does not have installed; returns {package: deb}."""
    fetched = {}
    queue = list(roots)
    while queue:
        package = queue.pop(0)
        if package in fetched:
            continue
        fetched[package] = download(package, debs)
        for dependency in package_dependencies(package):
            if dependency in SKIP_DEPENDENCIES or dependency in fetched:
                continue
            if package.startswith("linux-image-"):
                # The kernel's own tools (kmod, initramfs-tools) are for installing it, not for booting it.
                if dependency.startswith("linux-image-"):
                    queue.append(dependency)
            elif not host_installed(dependency):
                queue.append(dependency)
    return fetched


# -- initramfs (cpio "newc", the format the kernel unpacks) ---------------------------------------------------

class Cpio:
    """Writes a newc cpio archive in memory: folders, files and symbolic links, owned by root."""

    def __init__(self):
        self.data = io.BytesIO()
        self.inode = 1
        self.folders = set()

    def _entry(self, name, mode, body):
        name_bytes = name.encode() + b"\0"
        header = "070701" + "".join("%08X" % value for value in (
            self.inode, mode, 0, 0, 1, 0, len(body), 0, 0, 0, 0, len(name_bytes), 0))
        self.inode += 1
        self.data.write(header.encode() + name_bytes)
        self.data.write(b"\0" * (-(110 + len(name_bytes)) % 4))
        self.data.write(body)
        self.data.write(b"\0" * (-len(body) % 4))

    def folder(self, name):
        name = name.strip("/")
        if not name or name in self.folders:
            return
        self.folder(os.path.dirname(name))
        self.folders.add(name)
        self._entry(name, 0o040755, b"")

    def file(self, name, body, mode=0o755):
        name = name.strip("/")
        self.folder(os.path.dirname(name))
        self._entry(name, 0o100000 | mode, body)

    def symlink(self, name, target):
        name = name.strip("/")
        self.folder(os.path.dirname(name))
        self._entry(name, 0o120777, target.encode())

    def finish(self):
        self._entry("TRAILER!!!", 0, b"")
        return self.data.getvalue()


def plan_archive(plan_text):
    """The per-boot archive appended to the base initramfs: /bench/plan.sh."""
    archive = Cpio()
    archive.file("bench/plan.sh", plan_text.encode(), 0o644)
    return archive.finish()


def _ldd_libraries(binary, root):
    """{guest path: real file} for every library ldd names for binary; raises on one not found.

    ldd runs with the unpacked tree's library folders first, so a library a fetched package brings is taken
    from there and lands at the same path in the guest; the rest are the host's (same release) and land at
    the path ldd printed, which is one the guest's loader searches too."""
    search = [os.path.join(root, folder) for folder in LIBRARY_FOLDERS]
    environment = dict(os.environ, LD_LIBRARY_PATH=":".join(search))
    result = subprocess.run(["ldd", binary], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=environment)
    text = result.stdout.decode("utf-8", "replace")
    if "not a dynamic executable" in text:
        return {}
    libraries = {}
    for line in text.splitlines():
        line = line.strip()
        if "not found" in line or ("=>" in line and not re.search(r"=> /", line)):
            raise RuntimeError("%s needs %s, which neither a fetched package nor the host provides" % (
                binary, line.split()[0]))
        match = re.match(r"^\S+ => (/\S+) \(0x", line) or re.match(r"^(/\S+) \(0x", line)
        if not match:
            continue  # linux-vdso.so.1: the kernel's
        found = match.group(1)
        guest = found
        if found.startswith(root + os.sep):
            guest = "/" + os.path.relpath(found, root)
        libraries[guest] = os.path.realpath(found)
    return libraries


def _check_kernel_config(config_path):
    with open(config_path, encoding="utf-8") as config:
        text = config.read()
    missing = [option for option in KERNEL_NEEDS if not re.search(r"^%s=y$" % option, text, re.M)]
    if missing:
        raise RuntimeError("the kernel in %s lacks %s built in" % (config_path, ", ".join(missing)))


def _fingerprint():
    digest = hashlib.sha256(str(LAYOUT_VERSION).encode())
    for name in ("init.sh", "linux_guest.py"):
        with open(os.path.join(HERE, name), "rb") as source:
            digest.update(source.read())
    return digest.hexdigest()[:16]


def prepare(cache):
    """Fetches (first use) and builds the kernel and base initramfs in `cache`; returns the manifest
    {'kernel', 'initrd', 'version', 'packages', 'libraries', 'fingerprint'}."""
    cache = os.path.abspath(cache)  # ldd prints the library folders as given: absolute paths are what it parses
    linux = os.path.join(cache, "linux")
    manifest_path = os.path.join(linux, "manifest.json")
    fingerprint = _fingerprint()
    if os.path.exists(manifest_path):
        with open(manifest_path, encoding="utf-8") as manifest_file:
            manifest = json.load(manifest_file)
        if manifest.get("fingerprint") == fingerprint and all(
                os.path.exists(manifest[key]) for key in ("kernel", "initrd")):
            return manifest

    debs = os.path.join(cache, "debs")
    root = os.path.join(cache, "root")
    kernel_root = os.path.join(cache, "kernel")
    os.makedirs(debs, exist_ok=True)
    packages = fetch_closure(PACKAGES, debs)
    for folder in (root, kernel_root):
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
    for package, deb in sorted(packages.items()):
        _run(["dpkg-deb", "-x", deb, kernel_root if package.startswith("linux-image-") else root])

    kernels = glob.glob(os.path.join(kernel_root, "boot", "vmlinuz-*"))
    if len(kernels) != 1:
        raise RuntimeError("expected one kernel in the fetched packages, found %s" % kernels)
    kernel_version = os.path.basename(kernels[0])[len("vmlinuz-"):]
    _check_kernel_config(os.path.join(kernel_root, "boot", "config-" + kernel_version))

    archive = Cpio()
    for folder in ("dev", "proc", "sys", "mnt", "tmp", "bin", "sbin", "usr/bin", "usr/sbin", "bench"):
        archive.folder(folder)
    with open(os.path.join(HERE, "init.sh"), "rb") as init:
        archive.file("init", init.read())
    libraries = {}
    for source, target in BINARIES:
        path = os.path.join(root, source)
        with open(path, "rb") as binary:
            archive.file(target, binary.read())
        libraries.update(_ldd_libraries(path, root))
    for guest, real in sorted(libraries.items()):
        with open(real, "rb") as library:
            archive.file(guest, library.read(), 0o755)

    os.makedirs(linux, exist_ok=True)
    kernel = os.path.join(linux, "vmlinuz")
    shutil.copyfile(kernels[0], kernel)
    initrd = os.path.join(linux, "base.cpio")
    with open(initrd + ".tmp", "wb") as output:
        output.write(archive.finish())
    os.replace(initrd + ".tmp", initrd)
    versions = {package: os.path.basename(deb).split("_")[1].replace("%3a", ":")
                for package, deb in packages.items()}
    manifest = {"fingerprint": fingerprint, "kernel": kernel, "initrd": initrd, "version": kernel_version,
                "packages": versions, "libraries": sorted(libraries)}
    with open(manifest_path, "w", encoding="utf-8") as manifest_file:
        json.dump(manifest, manifest_file, indent=1)
    say("Linux %s with fio %s, busybox %s: %s (%d libraries, %d MiB)" % (
        kernel_version, versions.get("fio"), versions.get("busybox-static"), initrd, len(libraries),
        os.path.getsize(initrd) >> 20))
    return manifest


def boot_initrd(manifest, plan_text, path):
    """Writes the initrd of one boot to path: the base archive with the plan's archive appended."""
    with open(path, "wb") as output:
        with open(manifest["initrd"], "rb") as base:
            shutil.copyfileobj(base, output, 1 << 20)
        output.write(plan_archive(plan_text))
    return path


class LinuxVM(CairnVM):
    """The same QEMU machine as Cairn's (CairnVM builds the command line), booting Linux with -kernel and
    -initrd instead of the Cairn ISO; init.sh writes its results to the serial console."""

    def __init__(self, kernel, initrd, append, work_dir, **options):
        options.setdefault("skip_boot_menu", False)
        super().__init__(kernel, work_dir, **options)
        self.kernel = kernel
        self.initrd = initrd
        self.append = append

    def command_line(self):
        args = super().command_line()
        index = args.index("-cdrom")
        del args[index:index + 4]  # -cdrom <image> -boot order=d
        return args[:index] + ["-kernel", self.kernel, "-initrd", self.initrd, "-append", self.append] + args[index:]
