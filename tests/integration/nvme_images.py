"""nvme_images.py - NVMe test set-ups for QEMU: disk images holding the test pattern, controller and namespace
command lines, a Cairn ISO with extra kernel options, and byte-for-byte checks of backing files.

The pattern is tools/pattern.py (the same bytes the guest's `disk fill` writes). A backing file is given a
"background" pattern with its own seed before boot, so a write that lands where it should not is seen as a
changed background byte, and a write that never happened as background where pattern data should be.
"""

import os
import re
import shutil
import subprocess
import sys

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPOSITORY, "tools"))

import pattern  # noqa: E402  (tools/pattern.py)

MIB = 1024 * 1024

# QEMU's Identify Controller model number (hw/nvme/ctrl.c).
QEMU_MODEL = "QEMU NVMe Ctrl"


def qemu_firmware_revision():
    """What QEMU reports as FR: the first 8 characters of its version (e.g. 7.2.22)."""
    output = subprocess.run(["qemu-system-x86_64", "--version"], stdout=subprocess.PIPE, check=True,
                            universal_newlines=True).stdout
    return re.search(r"version (\S+)", output).group(1)[:8]


# -- images -----------------------------------------------------------------------------------------------


def make_image(path, size, background_seed=None):
    """Creates a raw image of `size` bytes: zeros, or the pattern of background_seed over the whole disk."""
    with open(path, "wb") as image:
        if background_seed is None:
            image.truncate(size)
            return path
        done = 0
        while done < size:
            length = min(4 * MIB, size - done)
            image.write(pattern.pattern_bytes(background_seed, done, length))
            done += length
    return path


def write_pattern(path, seed, lba, count, sector_size):
    pattern.fill_image(path, seed, lba, count, sector_size)


class Namespace:
    """One namespace: a backing file (made by the caller), its block size and NSID."""

    def __init__(self, path, nsid=1, block_size=512, background_seed=None):
        self.path = path
        self.nsid = nsid
        self.block_size = block_size
        self.background_seed = background_seed
        self.size = os.path.getsize(path)
        self.writes = []  # (lba, count, seed) in the order they were made

    @property
    def sectors(self):
        return self.size // self.block_size

    def record(self, lba, count, seed):
        self.writes.append((lba, count, seed))


class Controller:
    """One NVMe controller with its namespaces.

    A controller with one 512-byte namespace uses QEMU's legacy drive= property; any other set-up uses nvme-ns
    devices on the controller's bus. `options` are extra nvme device properties (mdts=1, max_ioqpairs=1 ...).
    `addr` places it on pcie.0 so controllers are discovered (and numbered) in the order given.
    """

    def __init__(self, serial, namespaces, options="", addr=None):
        self.serial = serial
        self.namespaces = list(namespaces)
        self.options = options
        self.addr = addr
        self.index = None  # the driver's controller number, filled in from `nvme list`

    def legacy(self):
        return len(self.namespaces) == 1 and self.namespaces[0].nsid == 1 and self.namespaces[0].block_size == 512

    def qemu_args(self, number):
        device_id = "nvmectl%d" % number
        device = "nvme,id=%s,serial=%s" % (device_id, self.serial)
        if self.addr is not None:
            device += ",bus=pcie.0,addr=0x%x" % self.addr
        if self.options:
            device += "," + self.options
        args = []
        if self.legacy():
            drive = "nvmedrv%d" % number
            args += ["-drive", "if=none,id=%s,format=raw,snapshot=off,file=%s" % (drive, self.namespaces[0].path)]
            return args + ["-device", device + ",drive=" + drive]
        args += ["-device", device]
        for ns in self.namespaces:
            drive = "nvmedrv%dn%d" % (number, ns.nsid)
            args += ["-drive", "if=none,id=%s,format=raw,snapshot=off,file=%s" % (drive, ns.path)]
            ns_device = "nvme-ns,bus=%s,drive=%s,nsid=%d" % (device_id, drive, ns.nsid)
            if ns.block_size != 512:
                ns_device += ",logical_block_size=%d,physical_block_size=%d" % (ns.block_size, ns.block_size)
            args += ["-device", ns_device]
        return args


def qemu_args(controllers):
    args = []
    for number, controller in enumerate(controllers):
        args += controller.qemu_args(number)
    return args


# -- checking a backing file after the guest stopped ------------------------------------------------------


def verify_namespace(ns, max_problems=8):
    """Compares the whole backing file with what it must hold: the background (or zeros) where nothing was
    written, each recorded write's pattern where it was (later writes win). Returns a list of problems, each
    naming the first wrong byte of a region in `disk check`'s words."""
    size = ns.size
    expected_owner = []  # list of (start_byte, end_byte, seed or None for background); later ones win
    for lba, count, seed in ns.writes:
        expected_owner.append((lba * ns.block_size, (lba + count) * ns.block_size, seed))

    problems = []
    with open(ns.path, "rb") as image:
        data = image.read()
    if len(data) != size:
        return ["%s: size changed from %d to %d bytes" % (ns.path, size, len(data))]

    # Walk the disk in pieces whose owner is constant.
    cuts = {0, size}
    for start, end, _ in expected_owner:
        cuts.add(start)
        cuts.add(end)
    cuts = sorted(c for c in cuts if 0 <= c <= size)
    for start, end in zip(cuts, cuts[1:]):
        owner = None
        for s, e, seed in expected_owner:
            if s <= start and end <= e:
                owner = ("write", seed)
        if owner is None:
            owner = ("background", ns.background_seed)
        kind, seed = owner
        piece = data[start:end]
        if seed is None:
            if piece.count(0) != len(piece):
                index = next(i for i, b in enumerate(piece) if b != 0)
                position = start + index
                problems.append("%s: byte %d (LBA %d + %d) was never written but reads %02x instead of 00"
                                % (os.path.basename(ns.path), position, position // ns.block_size,
                                   position % ns.block_size, piece[index]))
        else:
            index = pattern.first_mismatch(piece, seed, start)
            if index is not None:
                position = start + index
                what = "pattern of seed %#x" % seed if kind == "write" else "background (seed %#x)" % seed
                problems.append("%s: mismatch at byte %d (LBA %d + %d) in %s: expected %02x, read %02x"
                                % (os.path.basename(ns.path), position, position // ns.block_size,
                                   position % ns.block_size, what, pattern.pattern_bytes(seed, position, 1)[0],
                                   piece[index]))
        if len(problems) >= max_problems:
            break
    return problems


def xxd_lines(data, base_offset):
    """`xxd` output lines for data that starts at byte base_offset of the disk (what `disk dump` prints)."""
    lines = []
    for offset in range(0, len(data), 16):
        row = data[offset:offset + 16]
        groups = " ".join(row[i:i + 2].hex() for i in range(0, len(row), 2))
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in row)
        lines.append("%08x: %s  %s" % (base_offset + offset, groups, text))
    return lines


# -- a Cairn ISO with other kernel options -----------------------------------------------------------------


def mode_iso_factory(tmp_path_factory, build_dir, default_iso, option):
    """make(mode) -> an ISO booting with `option=mode` on the kernel command line, built once per mode ('auto'
    is default_iso, the image's default). For a module fixture of tests that compare an option's modes."""
    made = {"auto": default_iso}

    def make(mode):
        if mode not in made:
            out = str(tmp_path_factory.mktemp("iso-%s-%s" % (option.replace(".", "-"), mode)))
            made[mode] = build_iso_with_options(build_dir, "%s=%s" % (option, mode), out)
        return made[mode]
    return make


def build_iso_with_options(build_dir, options, out_dir):
    """Makes out_dir/cairn.iso from build_dir/iso (what `make image` packed) with `options` appended to the
    multiboot2 line of boot/grub/grub.cfg. Returns the ISO path."""
    source = os.path.join(build_dir, "iso")
    kernel = os.path.join(source, "boot", "kernel.elf")
    if not os.path.isfile(kernel):
        raise RuntimeError("%s is missing: run `make BUILD=%s image` first" % (kernel, os.path.basename(build_dir)))
    built = os.path.join(build_dir, "kernel.elf")
    if os.path.isfile(built):
        with open(kernel, "rb") as a, open(built, "rb") as b:
            if a.read() != b.read():
                raise RuntimeError("%s differs from %s: run `make image` again" % (kernel, built))
    tree = os.path.join(out_dir, "iso")
    if os.path.exists(tree):
        shutil.rmtree(tree)
    shutil.copytree(source, tree)
    config = os.path.join(tree, "boot", "grub", "grub.cfg")
    with open(config, encoding="utf-8") as handle:
        text = handle.read()
    new_text, count = re.subn(r"^(\s*multiboot2\s+\S+.*?)\s*$", lambda m: m.group(1) + " " + options, text,
                              count=1, flags=re.M)
    if count != 1:
        raise RuntimeError("no multiboot2 line in %s" % config)
    with open(config, "w", encoding="utf-8") as handle:
        handle.write(new_text)
    iso = os.path.join(out_dir, "cairn.iso")
    result = subprocess.run(["grub-mkrescue", "-o", iso, tree], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True)
    if result.returncode != 0 or not os.path.isfile(iso):
        raise RuntimeError("grub-mkrescue failed:\n" + result.stdout)
    return iso


# -- parsing the guest's tables ----------------------------------------------------------------------------


def parse_columns(output):
    """Parses a table whose second line is dashes (nvme-cli style) into a list of dicts keyed by header."""
    lines = [line.rstrip("\n") for line in output.splitlines()]
    for index in range(1, len(lines)):
        if re.fullmatch(r"-+( -+)+\s*", lines[index]):
            break
    else:
        raise AssertionError("no dashed header line in:\n" + output)
    header, dashes = lines[index - 1], lines[index]
    spans = [(m.start(), m.end()) for m in re.finditer(r"-+", dashes)]
    names = [header[s:e].strip() for s, e in spans]
    rows = []
    for line in lines[index + 1:]:
        if not line.strip():
            continue
        if re.match(r"^nvme\d+(n\d+)?: ", line):
            continue  # the notes under the table (controllers not ready, namespaces left out)
        row = {}
        for number, (start, end) in enumerate(spans):
            stop = spans[number + 1][0] if number + 1 < len(spans) else len(line)
            row[names[number]] = line[start:stop].strip()
        rows.append(row)
    return rows


def si_size(value):
    """nvme-cli's decimal size: '67.11 MB' for 67108864."""
    units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
    unit = 0
    divisor = 1
    while unit + 1 < len(units) and value // divisor >= 1000:
        divisor *= 1000
        unit += 1
    whole, remainder = divmod(value, divisor)
    hundredths = (remainder + divisor // 200) // (divisor // 100) if divisor > 1 else 0
    if hundredths >= 100:
        whole, hundredths = whole + 1, hundredths - 100
    return "%d.%02d %s" % (whole, hundredths, units[unit])


def binary_size(value):
    """Binary size with two decimals: '64.00 MiB'."""
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    unit = 0
    divisor = 1
    while unit + 1 < len(units) and value // divisor >= 1024:
        divisor *= 1024
        unit += 1
    whole, remainder = divmod(value, divisor)
    hundredths = ((remainder >> 4) * 100 + (divisor >> 5)) // (divisor >> 4) if divisor > 1 else 0
    if hundredths >= 100:
        whole, hundredths = whole + 1, hundredths - 100
    return "%d.%02d %s" % (whole, hundredths, units[unit])


def block_format(block_size, metadata=0):
    """The Format column: '512 B + 0 B', '4 KiB + 0 B'."""
    if block_size >= MIB and block_size % MIB == 0:
        size = "%d MiB" % (block_size // MIB)
    elif block_size >= 1024 and block_size % 1024 == 0:
        size = "%d KiB" % (block_size // 1024)
    else:
        size = "%d B" % block_size
    return "%s + %d B" % (size, metadata)
