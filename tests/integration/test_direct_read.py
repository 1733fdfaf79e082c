"""Direct reads (block/DirectRead.h): dd, cat, cp and sha256sum read large files and raw disks straight from
the disk with several requests in flight. Files with known content are written on the host (mke2fs -d,
debugfs) - fragmented, sparse, ext4 extents, a last partial block - and read in Cairn at several windows and
through the cache; every hash must be the host's, and dd's summary must have GNU dd's form. No speed is
asserted; CAIRN_BENCH=1 runs the benchmark (256 MiB file and raw disk, windows 1, 4, 32 and the cache)."""

import hashlib
import os
import re
import statistics
import time

import pytest

import storage_images as images
from storage_images import MIB, Namespace, Partition
from test_ext4 import EXT4, mke2fs
from test_storage import command, start_vm

DD_SUMMARY_RE = re.compile(r"^(\d+)\+(\d+) records in\n(\d+)\+(\d+) records out\n(\d+) bytes \(([\d.]+ [kMG]?B), "
                           r"([\d.]+ [KMG]?i?B)\) copied, ([\d.e-]+) s, ([\d.]+) ([kMG]?B)/s\n$")
SEED = 1414


def pattern(seed, length):
    return images.deterministic_bytes(seed, length)


def sha(data):
    return hashlib.sha256(data).hexdigest()


def fragment(image, tree):
    """Fills the ext2 volume with 64 KiB files, removes every other one, then writes frag.bin with debugfs
    into the gaps: its blocks are scattered runs of 16."""
    fill = os.path.join(tree, "fill.bin")
    with open(fill, "wb") as handle:
        handle.write(pattern(SEED + 5, 64 * 1024))
    script = os.path.join(tree, "..", "debugfs.cmd")
    with open(script, "w") as handle:
        for index in range(160):
            handle.write("write %s f%03d\n" % (fill, index))
        for index in range(0, 160, 2):
            handle.write("rm f%03d\n" % index)
        handle.write("write %s frag.bin\n" % os.path.join(tree, "..", "frag.src"))
    images.run(["debugfs", "-w", "-f", script, image])
    os.remove(fill)


@pytest.fixture(scope="module")
def setup(request, tmp_path_factory, build_dir, cairn_iso):
    tmp = tmp_path_factory.mktemp("direct")
    tree = str(tmp / "tree")
    os.makedirs(tree)
    files = {
        "big.bin": pattern(SEED, 16 * MIB),
        "odd.bin": pattern(SEED + 1, 3 * MIB + 1234),   # a last partial block
        "small.bin": pattern(SEED + 2, 5000),
        "text.txt": b"".join(b"line %04d of the direct read test\n" % index for index in range(120)),
    }
    for name, data in files.items():
        with open(os.path.join(tree, name), "wb") as handle:
            handle.write(data)
    # Sparse: data, a 2 MiB hole, data, a hole to the end (mke2fs -d keeps holes as holes).
    sparse = pattern(SEED + 3, MIB) + bytes(2 * MIB) + pattern(SEED + 4, MIB + 100) + bytes(MIB)
    with open(os.path.join(tree, "sparse.bin"), "wb") as handle:
        handle.write(sparse[:MIB])
        handle.seek(3 * MIB)
        handle.write(sparse[3 * MIB:4 * MIB + 100])
        handle.truncate(len(sparse))
    files["sparse.bin"] = sparse
    frag = pattern(SEED + 6, 6 * MIB + 512)
    with open(str(tmp / "frag.src"), "wb") as handle:
        handle.write(frag)
    ext2 = str(tmp / "ext2.img")
    images.make_ext2(ext2, 72 * MIB, 4096, 1, source=tree)
    fragment(ext2, tree)
    assert images.debugfs_cat(ext2, "frag.bin") == frag, "debugfs wrote frag.bin whole"
    ext4 = str(tmp / "ext4.img")
    mke2fs(ext4, 32 * MIB, ["-b", "4096", "-O", "none," + EXT4], tree)
    disk = str(tmp / "disk.img")
    images.make_disk(disk, 512, "gpt", [Partition(72 * MIB, fs=ext2, name="ext2"),
                                        Partition(32 * MIB, fs=ext4, name="ext4")], seed=14)
    with open(disk, "rb") as handle:
        raw = handle.read()
    vm = start_vm(request, tmp_path_factory, build_dir, cairn_iso, "direct",
                  extra_args=images.qemu_args("CAIRNDIRECT", [Namespace(disk)]), memory_mib=512)
    expected = {name: sha(data) for name, data in files.items()}
    expected["frag.bin"] = sha(frag)
    return vm, expected, raw


def quiet(output):
    """The command's own lines: kernel log lines that interleave (a stray interrupt's warning) are dropped."""
    return "".join(line for line in output.splitlines(True) if not re.match(r"\[\s*\d+\.\d+\] ", line))


def hash_of(vm, path, timeout=300):
    output = quiet(command(vm, "sha256sum %s" % path, timeout))
    match = re.fullmatch(r"([0-9a-f]{64})  (\S+)\n", output)
    assert match, output
    return match.group(1)


@pytest.mark.parametrize("volume", ["nvme0n1p1", "nvme0n1p2"])
def test_sha256sum_and_cat_match_the_host(setup, volume):
    vm, expected, _ = setup
    for name, digest in expected.items():
        if name == "frag.bin" and volume == "nvme0n1p2":
            continue  # written on the ext2 volume only
        assert hash_of(vm, "/mnt/%s/%s" % (volume, name)) == digest, name
    output = command(vm, "cat /mnt/%s/text.txt" % volume)
    assert output.replace("\r\n", "\n").startswith("line 0000 of") and output.count("\n") >= 120, output[:200]


@pytest.mark.parametrize("flags", ["inflight=1", "inflight=4", "inflight=32", "iflag=cached", "bs=64k inflight=8"])
def test_dd_file_copies_match(setup, flags):
    vm, expected, _ = setup
    for name in ("big.bin", "odd.bin", "sparse.bin", "frag.bin"):
        bs = "" if "bs=" in flags else "bs=1M "
        output = quiet(command(vm, "dd if=/mnt/nvme0n1p1/%s of=/mnt/nvme0n1p1/copy.bin %s%s" % (name, bs, flags),
                               300))
        assert DD_SUMMARY_RE.match(output), output
        assert hash_of(vm, "/mnt/nvme0n1p1/copy.bin") == expected[name], (name, flags)
    command(vm, "rm /mnt/nvme0n1p1/copy.bin")


def test_cp_fragmented_and_sparse(setup):
    vm, expected, _ = setup
    for name in ("frag.bin", "sparse.bin"):
        assert command(vm, "cp /mnt/nvme0n1p1/%s /mnt/nvme0n1p1/%s.cp" % (name, name), 300) == ""
        assert hash_of(vm, "/mnt/nvme0n1p1/%s.cp" % name) == expected[name]
        command(vm, "rm /mnt/nvme0n1p1/%s.cp" % name)


def test_dd_raw_disk_matches_the_image(setup):
    """The ext4 partition (read-only in Cairn: never written) read raw, at an offset and whole."""
    vm, _, raw = setup
    start = 73 * MIB  # 1 MiB of GPT room, then the 72 MiB ext2 partition
    for flags in ("inflight=1", "inflight=8", "iflag=cached"):
        command(vm, "dd if=nvme0n1 of=/mnt/nvme0n1p1/raw.bin bs=1M skip=74 count=5 %s" % flags, 300)
        assert hash_of(vm, "/mnt/nvme0n1p1/raw.bin") == sha(raw[74 * MIB:79 * MIB]), flags
    command(vm, "rm /mnt/nvme0n1p1/raw.bin")
    assert hash_of(vm, "nvme0n1p2", 600) == sha(raw[start:start + 32 * MIB])


def test_direct_read_sees_dirty_cached_data(setup):
    """A write through the cache (small records) is still dirty when a direct read covers it."""
    vm, _, _ = setup
    command(vm, "dd if=/mnt/nvme0n1p1/small.bin of=nvme0n1 bs=512 seek=100 count=4 conv=notrunc")
    output = quiet(command(vm, "dd if=nvme0n1 of=/mnt/nvme0n1p1/check.bin bs=64k count=1"))
    assert DD_SUMMARY_RE.match(output), output
    output = command(vm, "dd if=/mnt/nvme0n1p1/check.bin of=/mnt/nvme0n1p1/piece.bin bs=512 skip=100 count=4")
    assert hash_of(vm, "/mnt/nvme0n1p1/piece.bin") == sha(pattern(SEED + 2, 2048))


def test_dd_summary_format(setup):
    vm, _, _ = setup
    output = quiet(command(vm, "dd if=/mnt/nvme0n1p1/odd.bin of=/dev/null bs=1M inflight=4", 300))
    match = DD_SUMMARY_RE.match(output)
    assert match, output
    assert match.group(1, 2, 3, 4) == ("3", "1", "3", "1")
    assert int(match.group(5)) == 3 * MIB + 1234
    assert match.group(6) == "3.1 MB" and match.group(7) == "3.0 MiB", output


RATE_RE = re.compile(r"copied, ([\d.e-]+) s,")


def test_direct_read_benchmark(request, tmp_path_factory, build_dir, cairn_iso):
    """CAIRN_BENCH=1: a 256 MiB file on EXT2 and the raw disk read with dd bs=1M at 1, 4 and 32 requests in
    flight and through the cache, 3 runs each (medians printed, written to build/direct-read-bench.txt)."""
    if os.environ.get("CAIRN_BENCH") != "1":
        pytest.skip("a benchmark: CAIRN_BENCH=1 runs it")
    tmp = tmp_path_factory.mktemp("direct-bench")
    tree = str(tmp / "tree")
    os.makedirs(tree)
    data = os.urandom(256 * MIB)
    with open(os.path.join(tree, "big.bin"), "wb") as handle:
        handle.write(data)
    digest = sha(data)
    del data
    ext2 = str(tmp / "ext2.img")
    images.make_ext2(ext2, 320 * MIB, 4096, 1, source=tree)
    os.remove(os.path.join(tree, "big.bin"))
    disk = str(tmp / "bench.img")
    images.make_disk(disk, 512, "gpt", [Partition(320 * MIB, fs=ext2, name="ext2")], seed=15)
    os.remove(ext2)
    vm = start_vm(request, tmp_path_factory, build_dir, cairn_iso, "direct-bench",
                  extra_args=images.qemu_args("CAIRNDBENCH", [Namespace(disk)]), memory_mib=1024)
    lines = []
    for source in ("/mnt/nvme0n1p1/big.bin", "nvme0n1"):
        for flags in ("iflag=cached", "inflight=1", "inflight=4", "inflight=32"):
            rates = []
            for _ in range(3):
                output = command(vm, "dd if=%s of=/dev/null bs=1M count=256 %s" % (source, flags), 900)
                match = RATE_RE.search(output)
                assert match and "268435456 bytes" in output, output
                rates.append(256 * MIB / float(match.group(1)) / 1e6)
            lines.append("%-24s %-13s median %7.1f MB/s (runs %s)" % (
                source, flags, statistics.median(rates), ", ".join("%.1f" % rate for rate in rates)))
            print(lines[-1])
    assert hash_of(vm, "/mnt/nvme0n1p1/big.bin", 900) == digest
    with open(os.path.join(build_dir, "direct-read-bench.txt"), "w") as handle:
        handle.write("\n".join(lines) + "\n")
