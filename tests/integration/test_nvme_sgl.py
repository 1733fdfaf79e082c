"""test_nvme_sgl.py - hardware SGLs under QEMU: the same workload with nvme.sgl=on, off and auto.

QEMU 7.2's NVMe controller reports SGLS 1:0 = 01b (SGLs for I/O commands; admin commands always use PRPs),
so every mode can run on it. Each VM boots an ISO whose kernel command line carries the mode (auto is the
default image), with two controllers:

  * an EXT2 disk made by tools/make-disk-image.sh from a content folder written here (a 6 MiB random file and
    small ones): the guest copies files with `cp` and `dd bs=4k`, so the sector cache fills runs of its blocks
    and writes them back at `sync`; those blocks sit behind a header in the heap and never meet on page
    boundaries, so while SGLs are in use each run is one vectored request, one SGL command;
  * a raw pattern disk (tools/pattern.py), written with small `disk fill` commands that stay in the cache
    until `sync`, some from buffers that start off a page boundary.

After `cache drop` the guest reads everything back from the device (`sha256sum`, `disk check`); after
`poweroff` the host checks the EXT2 volume with `e2fsck -fn`, the copies with sha256 (debugfs dump) and every
byte of the pattern disk. `nvme info` shows how each controller's data commands went (the `data` line) and
`cache -v` how many bytes the cache copied through its staging buffer: SGL commands only with on, PRP commands
only with off, and the cache writing in place (vectored) unless SGLs are off. conftest fails a VM on any
pci_nvme_ub_* / pci_nvme_err_* trace event (a descriptor QEMU did not like would show there).

The PRP-versus-SGL benchmark is bench_nvme_sgl.py (`make bench-sgl`; pytest does not collect it).
"""

import hashlib
import os
import random
import re
import subprocess

import pytest

import nvme_images
import storage_images
from conftest import REPOSITORY
from cairn_qemu import BOOT_TIMEOUT
from nvme_images import MIB

MOUNT = "/mnt/nvme0n1p1"
SECTOR = 512
BIG_BYTES = 6 * MIB + 1234            # not a whole number of blocks: the tail is a partial block
SMALL_FILES = 12
RAW_SEED = 0x5A5A
# (lba, count, offset, seed): small writes the cache keeps, at scattered places, from buffers off a page start.
RAW_FILLS = [(7, 3, 0, 0x61), (100, 17, 0, 0x62), (1000, 64, 8, 0x63), (5000, 250, 4, 0x64), (20001, 9, 0, 0x65)]
COPY_TIMEOUT = 180.0

DATA_RE = re.compile(r"^data\s*: nvme\.sgl=(\w+), nvme\.sgl_threshold=\d+ \(SGLS 1:0 = (\d)\), (\d+) SGL commands, "
                     r"(\d+) PRP commands$", re.M)
CACHE_RE = re.compile(r"^(nvme\d+n\d+)\s+\d+/\d+ .*\n  block .*; staged (\d+) bytes$", re.M)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def mode_iso(tmp_path_factory, build_dir, cairn_iso):
    """mode_iso('on') -> an ISO booting with nvme.sgl=on (auto: the default image)."""
    return nvme_images.mode_iso_factory(tmp_path_factory, build_dir, cairn_iso, "nvme.sgl")


def make_content(folder):
    """The EXT2 volume's files: {relative path: bytes}, written into folder."""
    rng = random.Random(0x5C1)
    files = {"big.bin": rng.randbytes(BIG_BYTES)}
    for index in range(SMALL_FILES):
        files["few/f%02d.bin" % index] = rng.randbytes(rng.randint(1, 24 * 1024))
    for relative, data in files.items():
        path = os.path.join(folder, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)
    return files


def data_line(vm, controller):
    output = vm.command("nvme info %d" % controller)
    match = DATA_RE.search(output)
    assert match, "no data line in nvme info %d:\n%s" % (controller, output)
    return match.group(1), int(match.group(2)), int(match.group(3)), int(match.group(4))


def staged_bytes(vm):
    output = vm.command("cache -v")
    staged = {name: int(value) for name, value in CACHE_RE.findall(output)}
    assert staged, "cache -v not understood:\n" + output
    return staged


@pytest.mark.parametrize("mode", ["on", "off", "auto"])
def test_workload_in_each_mode(make_vm, mode_iso, tmp_path, mode):
    content = str(tmp_path / "content")
    files = make_content(content)
    disk = str(tmp_path / "ext2.img")
    subprocess.run([os.path.join(REPOSITORY, "tools", "make-disk-image.sh"), disk, content], check=True,
                   stdout=subprocess.DEVNULL)
    raw_path = nvme_images.make_image(str(tmp_path / "raw.img"), 16 * MIB, background_seed=RAW_SEED)
    raw = nvme_images.Namespace(raw_path, background_seed=RAW_SEED)
    vm = make_vm(image=mode_iso(mode), memory_mib=512,
                 nvme_disks=[{"path": disk, "snapshot": False, "serial": "SGLEXT2"},
                             {"path": raw_path, "snapshot": False, "serial": "SGLRAW"}])
    vm.wait_boot(BOOT_TIMEOUT)
    listing = vm.command("nvme list")
    assert re.search(r"^nvme0n1\s+SGLEXT2\s", listing, re.M) and re.search(r"^nvme1n1\s+SGLRAW\s", listing, re.M), \
        listing
    for controller in (0, 1):
        assert data_line(vm, controller)[:2] == (mode, 1)

    # Files through the cache: cp, dd with 4 KiB records, a folder of small copies; then write-back.
    vm.command("cd %s" % MOUNT)
    assert vm.command("cp big.bin copy.bin", timeout=COPY_TIMEOUT) == ""
    output = vm.command("dd if=big.bin of=dd.bin bs=4k", timeout=COPY_TIMEOUT)
    assert "%d bytes" % BIG_BYTES in output, output
    assert vm.command("mkdir copies") == ""
    for index in range(SMALL_FILES):
        assert vm.command("cp few/f%02d.bin copies/f%02d.bin" % (index, index)) == ""
    # Raw writes small enough to stay in the cache.
    for lba, count, offset, seed in RAW_FILLS:
        assert vm.command("disk fill nvme1n1 %d %d %#x offset=%d" % (lba, count, seed, offset)).strip() == \
            "fill: OK (%d bytes)" % (count * SECTOR)
        raw.record(lba, count, seed)
    assert re.search(r"^nvme0n1: \d+ blocks written back, flushed$", vm.command("sync", timeout=COPY_TIMEOUT), re.M)

    # Read back from the device, not from the cache.
    assert "clean blocks dropped" in vm.command("cache drop")
    digest = sha256(files["big.bin"])
    output = vm.command("sha256sum big.bin copy.bin dd.bin", timeout=COPY_TIMEOUT)
    assert output == "".join("%s  %s\n" % (digest, name) for name in ("big.bin", "copy.bin", "dd.bin")), output
    for lba, count, offset, seed in RAW_FILLS:
        assert vm.command("disk check nvme1n1 %d %d %#x offset=%d" % (lba, count, seed, offset)).strip() == \
            "check: OK (%d bytes)" % (count * SECTOR)

    # How the commands carried their data, and whether the cache wrote in place.
    staged = staged_bytes(vm)
    for controller in (0, 1):
        shown, _, sgl, prp = data_line(vm, controller)
        assert shown == mode
        if mode == "on":
            assert sgl > 0 and prp == 0, (controller, sgl, prp)
        elif mode == "off":
            assert sgl == 0 and prp > 0, (controller, sgl, prp)
        else:
            # The cache's runs of blocks do not meet on page boundaries: the layout needs an SGL.
            assert sgl > 0, (controller, sgl, prp)
    # At least the two copies written back through the cache (cp, dd); the three files are read past the cache
    # (block/DirectRead.c), so they no longer count here.
    moved = 2 * BIG_BYTES
    if mode == "off":
        assert staged["nvme0n1"] >= moved, staged
    else:
        assert staged["nvme0n1"] < moved // 20, staged

    vm.command("cd /")
    vm.send("poweroff\r")
    vm.process.wait(timeout=60)
    vm.stop()

    # The host's view: a clean volume holding the copies, every byte of the pattern disk.
    first, last = storage_images.sgdisk_partitions(disk)[1]
    partition = storage_images.extract(disk, first * SECTOR, (last - first + 1) * SECTOR, str(tmp_path / "p1.img"))
    code, report = storage_images.e2fsck(partition)
    assert code == 0, report

    def host_file(name):
        out = str(tmp_path / "dumped.bin")
        storage_images.debugfs(partition, "dump /%s %s" % (name, out))
        with open(out, "rb") as handle:
            return handle.read()

    for name in ("copy.bin", "dd.bin"):
        assert sha256(host_file(name)) == digest, name
    for index in range(SMALL_FILES):
        assert host_file("copies/f%02d.bin" % index) == files["few/f%02d.bin" % index], index
    problems = nvme_images.verify_namespace(raw)
    assert not problems, "\n".join(problems)
