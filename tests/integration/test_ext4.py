"""test_ext4.py - ext4 and ext3 volumes made by e2fsprogs, read by Cairn in QEMU from the shell.

One boot, one NVMe namespace (GPT, 512-byte sectors) with seven partitions, each a volume made on the host
with `mke2fs -d` from a generated tree (storage_images.make_tree: sizes around block edges, holes, deep
folders, fast and slow links, a hard link, a 200-character name), folders indexed with `e2fsck -fyD`:

  e4-4k        mke2fs's ext4 set (64bit, flex_bg, metadata_csum, huge_file, extra_isize), 4 KiB blocks, a
               sparse file with data past 4 GiB
  e4-1k-plain  ext4 without 64bit, flex_bg and metadata_csum, 1 KiB blocks, data past 64 MiB
  e4-inline    ext4 with inline_data, 256-byte inodes (small files and folders inside their inodes)
  e3           `mke2fs -t ext3` (1 KiB blocks): written as ext2 while its journal is clean
  e4-folder    ext4 (1 KiB blocks) with one folder of 10 000 names (a two-level hashed index)
  e4-journal   ext4 whose journal needs recovery, written by debugfs (recipe in make_journal_volume)
  e2           a plain ext2 volume: the target of `cp` and `dd` from ext4

Every folder's `ls -l` and every file's `sha256sum` must be the host's (the 10 000-name folder: the listing,
and 40 names looked up through the index with their sums); `mount` must name the type and why a volume is
read-only; `stat`, `df`, `cat`, `cp` and `dd` work on ext4 files; the ext3 volume takes a copy and a folder
and e2fsck finds it clean after poweroff. The journal volume must show what
`e2fsck -fy` leaves on a copy of it (the journal replayed), while the disk itself is never written
(snapshot=off here, and the image is compared byte for byte after poweroff).

test_ext4_ext2_read_speed (a benchmark, run only with CAIRN_BENCH=1: about 40 s and 1.2 GB of temporary files)
boots once more with the same 256 MiB random file on an ext4 and an ext2 volume, reads each twice with
`dd of=/dev/null bs=4M` and prints the second rates and their ratio (also to build/ext4-bench.txt); only the
file's SHA-256 is asserted, nothing about speed:

    CAIRN_BENCH=1 /usr/bin/python3 -m pytest tests/integration/test_ext4.py -s -k read_speed --cairn-build build
"""

import hashlib
import os
import re
import shutil
import time

import pytest

import storage_images as images
from storage_images import KIB, MIB, Namespace, Partition
from test_storage import (SLOW_TIMEOUT, cd, check_folder, command, dd, ok, poweroff, sha256, sha256_lines,
                          start_vm)

EXT4 = ("has_journal,ext_attr,resize_inode,dir_index,filetype,extent,64bit,flex_bg,sparse_super,large_file,"
        "huge_file,dir_nlink,extra_isize,metadata_csum")
EXT4_REASON = "ext4 features are read-only"
JOURNAL_REASON = "journal replayed in memory"
BIG_FOLDER = "ten_thousand"
BIG_FOLDER_NAMES = 10000
JOURNAL_MAGIC = bytes.fromhex("c03b3998")


class Ext4Volume:
    """One volume of the set-up: its partition number, mount point, host tree and what `mount` must say."""

    def __init__(self, key, number, tree, kind, mode):
        self.key = key
        self.name = "nvme0n1p%d" % number
        self.mount = "/mnt/" + self.name
        self.tree = tree
        self.kind = kind          # ext2, ext3, ext4
        self.mode = mode          # what follows the type in `mount`: "rw" or "ro: <reason>"
        self.manifest = images.manifest(tree)


def mke2fs(path, size, options, source):
    """mke2fs -d with the features named in full (the host's mke2fs.conf is not the upstream one) and root
    owning the root folder and lost+found (as make_ext2), then
    e2fsck -fyD to index every folder (-d writes linear ones); the result must be clean."""
    if os.path.exists(path):
        os.remove(path)
    with open(path, "wb") as handle:
        handle.truncate(size)
    images.run(["mke2fs", "-q", "-F", "-E", "root_owner=0:0"] + options + ["-d", source, path])
    images.run(["e2fsck", "-fyD", path], check=False)
    status, output = images.e2fsck(path)
    assert status == 0, output


def make_big_folder_tree(root):
    """A folder of BIG_FOLDER_NAMES files (each holding its own name, so every sum differs) and one file."""
    folder = os.path.join(root, BIG_FOLDER)
    os.makedirs(folder)
    for index in range(BIG_FOLDER_NAMES):
        name = "entry_%05d_with_a_longer_name" % index
        with open(os.path.join(folder, name), "wb") as handle:
            handle.write(name.encode())
    with open(os.path.join(root, "beside.txt"), "wb") as handle:
        handle.write(b"next to the big folder\n")
    images.set_times(root)
    return root


def make_journal_volume(tree, path):
    """An ext4 volume whose journal needs recovery (ext4-facts.md section 13, from e2fsprogs' debugfs): the
    tree's files f and g hold 4096 'A's; then, in the journal, tid 1 logs B... for f's block, tid 2 logs for
    g's block a block that starts with the jbd2 magic (so it is escaped), tid 3 logs C... for f without a
    commit. After recovery f is B..., g is the magic then M..., and the uncommitted C... is nowhere."""
    mke2fs(path, 32 * MIB, ["-b", "4096", "-O", "none," + EXT4], tree)
    work = os.path.dirname(path)
    blocks = {}
    for name, data in (("B.bin", b"B" * 4096), ("C.bin", b"C" * 4096), ("M.bin", JOURNAL_MAGIC + b"M" * 4092)):
        blocks[name] = os.path.join(work, name)
        with open(blocks[name], "wb") as handle:
            handle.write(data)
    f_block = images.debugfs(path, "blocks /f").stdout.decode().split()[0]
    g_block = images.debugfs(path, "blocks /g").stdout.decode().split()[0]
    script = os.path.join(work, "journal-script")
    with open(script, "w") as handle:
        handle.write("jo -c\njw -b %s %s\njw -b %s %s\njw -b %s -c %s\njc\n"
                     % (f_block, blocks["B.bin"], g_block, blocks["M.bin"], f_block, blocks["C.bin"]))
    images.run(["debugfs", "-w", "-f", script, path])
    features = images.run(["dumpe2fs", "-h", path]).stdout.decode()
    assert "needs_recovery" in features, features


def add_journal_files(root):
    for name in ("f", "g"):
        with open(os.path.join(root, name), "wb") as handle:
            handle.write(b"A" * 4096)
    images.set_times(root)


def recovered_copy(path, out):
    """What Linux's tools make of the volume: a copy with the journal recovered by e2fsck -fy."""
    shutil.copy(path, out)
    images.run(["e2fsck", "-fy", out], check=False)
    status, output = images.e2fsck(out)
    assert status == 0, output
    return out


# Partition layout: (key, size, builder(tree, fs) -> kind, mode).
def build_setup(tmp):
    specs = []

    def volume(key, size, tree_options, maker, kind, mode, tree_builder=None):
        specs.append((key, size, tree_options, maker, kind, mode, tree_builder))

    volume("e4-4k", 48 * MIB, dict(block_size=4096, huge=True),
           lambda tree, fs: mke2fs(fs, 48 * MIB, ["-b", "4096", "-I", "256", "-O", "none," + EXT4], tree),
           "ext4", "ro: " + EXT4_REASON)
    volume("e4-1k-plain", 40 * MIB, dict(block_size=1024, triple=True),
           lambda tree, fs: mke2fs(fs, 40 * MIB, ["-b", "1024", "-O", "none," + EXT4 + ",^64bit,^flex_bg,^metadata_csum"],
                                   tree),
           "ext4", "ro: " + EXT4_REASON)
    volume("e4-inline", 24 * MIB, dict(block_size=4096, inline=True),
           lambda tree, fs: mke2fs(fs, 24 * MIB, ["-b", "4096", "-I", "256", "-O", "none," + EXT4 + ",inline_data"],
                                   tree),
           "ext4", "ro: " + EXT4_REASON)
    volume("e3", 24 * MIB, dict(block_size=1024),
           lambda tree, fs: mke2fs(fs, 24 * MIB, ["-t", "ext3", "-b", "1024"], tree), "ext3", "rw")
    volume("e4-folder", 40 * MIB, None,
           lambda tree, fs: mke2fs(fs, 40 * MIB, ["-b", "1024", "-N", "16384", "-O", "none," + EXT4], tree),
           "ext4", "ro: " + EXT4_REASON, tree_builder=make_big_folder_tree)
    volume("e4-journal", 32 * MIB, dict(block_size=4096, many=10), make_journal_volume,
           "ext4", "ro: " + JOURNAL_REASON)
    volume("e2", 24 * MIB, None,
           lambda tree, fs: images.make_ext2(fs, 24 * MIB, 4096, 1, source=tree), "ext2", "rw",
           tree_builder=lambda root: os.makedirs(root) or root)

    partitions, volumes, made = [], {}, []
    for number, (key, size, tree_options, maker, kind, mode, tree_builder) in enumerate(specs, start=1):
        tree = str(tmp / ("tree-" + key))
        if tree_builder:
            tree_builder(tree)
        else:
            options = dict(tree_options)
            inline = options.pop("inline", False)
            images.make_tree(tree, seed=4000 + number, **options)
            if inline:
                # mke2fs 1.47.0 -d gets the size of a sparse file wrong on inline_data volumes: none there.
                for name in ("sparse_middle", "sparse_head"):
                    os.remove(os.path.join(tree, name))
            if key == "e4-journal":
                add_journal_files(tree)
        fs = str(tmp / ("fs-%s.img" % key))
        maker(tree, fs)
        partitions.append(Partition(size, fs=fs, gpt_type="linux", name=key))
        made.append((key, number, tree, kind, mode, fs))
    disk = str(tmp / "ext4-disk.img")
    images.make_disk(disk, 512, "gpt", partitions, seed=15)
    for key, number, tree, kind, mode, fs in made:
        volumes[key] = Ext4Volume(key, number, tree, kind, mode)
        volumes[key].part = partitions[number - 1]
        volumes[key].fs = fs
    # The journal volume must show what e2fsck's recovery leaves: f and g as a recovered copy holds them.
    journal = volumes["e4-journal"]
    journal.reference = recovered_copy(journal.fs, str(tmp / "journal-recovered.img"))
    for name in ("f", "g"):
        journal.manifest[""][name].digest = sha256(images.debugfs_cat(journal.reference, "/" + name))
    return disk, volumes


@pytest.fixture(scope="module")
def setup(request, tmp_path_factory, build_dir, cairn_iso):
    tmp = tmp_path_factory.mktemp("ext4")
    disk, volumes = build_setup(tmp)
    with open(disk, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    # snapshot=off: whatever the guest writes reaches the file, so "never written" can be checked.
    vm = start_vm(request, tmp_path_factory, build_dir, cairn_iso, "ext4",
                  extra_args=images.qemu_args("CAIRNEXT4", [Namespace(disk, snapshot=False)]), memory_mib=512)
    return {"vm": vm, "disk": disk, "digest": digest, "volumes": volumes, "tmp": tmp}


def check_volume(vm, volume, skip_folders=()):
    problems = []
    for folder in sorted(volume.manifest):
        if folder.split("/")[0] in skip_folders:
            continue
        cd(vm, volume.mount + ("/" + folder if folder else ""))
        problems += check_folder(vm, volume, folder)
    ok(vm, "cd /")
    return problems


def test_ext4_volumes(setup):
    """Every volume mounts with its type and read-only reason; every listing and sum is the host's; stat, df,
    cat, cp and dd work on ext4 files; the journal volume shows its recovered state and is never written."""
    vm = setup["vm"]
    volumes = setup["volumes"]
    mounts = command(vm, "mount")
    for volume in volumes.values():
        line = "%s on %s type %s (%s)" % (volume.name, volume.mount, volume.kind, volume.mode)
        assert line in mounts, "%r not in:\n%s" % (line, mounts)

    problems = []
    for key in ("e4-4k", "e4-1k-plain", "e4-inline", "e3", "e4-journal"):
        problems += check_volume(vm, volumes[key])
    assert not problems, "%d differences:\n%s" % (len(problems), "\n".join(problems[:40]))

    # The 10 000-name folder: the whole listing, and names looked up through its hashed index.
    big = volumes["e4-folder"]
    assert check_volume(vm, big, skip_folders=(BIG_FOLDER,)) == []
    cd(vm, "%s/%s" % (big.mount, BIG_FOLDER))
    listed = command(vm, "ls", timeout=SLOW_TIMEOUT).split()
    assert sorted(listed) == sorted(big.manifest[BIG_FOLDER]), "listing differs: %d names" % len(listed)
    sample = sorted(big.manifest[BIG_FOLDER])[::BIG_FOLDER_NAMES // 40]
    sums = sha256_lines(vm, sample)
    assert sums == {name: big.manifest[BIG_FOLDER][name].digest for name in sample}
    ok(vm, "cd /")

    # stat and df on ext4.
    e4 = volumes["e4-4k"]
    stat_output = command(vm, "stat %s/double" % e4.mount)
    size = os.path.getsize(os.path.join(e4.tree, "double"))
    assert re.search(r"^  Size: %d\s" % size, stat_output, re.M), stat_output
    assert "regular file" in stat_output and "Device: %s" % e4.name in stat_output
    df = command(vm, "df")
    for volume in volumes.values():
        assert volume.mount in df, df

    # cp and dd from ext4 to the ext2 volume; the copies hash as the host's files.
    target = volumes["e2"].mount
    ok(vm, "cp %s/double %s/double" % (e4.mount, target), timeout=SLOW_TIMEOUT)
    assert command(vm, "sha256sum %s/double" % target, timeout=SLOW_TIMEOUT) == \
        "%s  %s/double\n" % (e4.manifest[""]["double"].digest, target)
    # Past 4 GiB: the tail of the huge sparse file, through dd.
    entry = e4.manifest[""]["huge"]
    skip = (entry.size - 5000) // 4096
    dd(vm, "if=%s/huge of=%s/huge.tail bs=4096 skip=%d" % (e4.mount, target, skip))
    with open(os.path.join(e4.tree, "huge"), "rb") as handle:
        handle.seek(skip * 4096)
        tail = handle.read()
    assert command(vm, "sha256sum %s/huge.tail" % target) == "%s  %s/huge.tail\n" % (sha256(tail), target)
    assert command(vm, "cat %s/text.txt" % e4.mount) == \
        open(os.path.join(e4.tree, "text.txt"), "rb").read().decode()
    # Read-only: writes are refused with the reason the errno names.
    assert "Read-only file system" in command(vm, "write %s/new.txt x" % e4.mount)

    # The journal volume (its listing and sums were checked above against e2fsck's recovery): f and g
    # changed, the uncommitted transaction is nowhere, and the volume itself is not recovered.
    journal = volumes["e4-journal"]
    assert images.debugfs_cat(journal.reference, "/f") == b"B" * 4096
    assert images.debugfs_cat(journal.reference, "/g") == JOURNAL_MAGIC + b"M" * 4092
    assert images.debugfs_cat(journal.fs, "/f") == b"A" * 4096

    # ext3 with a clean journal takes writes as ext2 (checked with e2fsck after poweroff).
    e3 = volumes["e3"]
    ok(vm, "cp %s/text.txt %s/from-ext4.txt" % (e4.mount, e3.mount))
    ok(vm, "mkdir %s/made-by-cairn" % e3.mount)

    # After poweroff: the ext4 volumes were never written, the journal volume still needs recovery.
    poweroff(vm)
    written = str(setup["tmp"] / "after-e3.img")
    images.partition_image(setup["disk"], e3.part, 512, written)
    status, output = images.e2fsck(written)
    assert status == 0, output
    assert images.debugfs_cat(written, "/from-ext4.txt") == open(os.path.join(e4.tree, "text.txt"), "rb").read()
    assert "needs_recovery" not in images.run(["dumpe2fs", "-h", written]).stdout.decode()
    for key in ("e4-4k", "e4-1k-plain", "e4-inline", "e4-folder", "e4-journal"):
        volume = volumes[key]
        out = str(setup["tmp"] / ("after-%s.img" % key))
        images.partition_image(setup["disk"], volume.part, 512, out)
        with open(out, "rb") as after, open(volume.fs, "rb") as before:
            assert after.read(os.path.getsize(volume.fs)) == before.read(), "%s was written" % key


# ==========================================================================================================
# Benchmark: the same 256 MiB file read from ext4 and ext2
# ==========================================================================================================

BENCH_SIZE = 256 * MIB
RATE_RE = re.compile(r"copied, ([\d.]+) s, ([\d.]+) (kB|MB|GB)/s")


def test_ext4_ext2_read_speed(request, tmp_path_factory, build_dir, cairn_iso):
    """Prints MB/s for a 256 MiB file on ext4 (extents, one run per extent) and on ext2 (indirect blocks) in
    one boot. A benchmark: run with CAIRN_BENCH=1; it asserts only that both reads return the file."""
    if os.environ.get("CAIRN_BENCH") != "1":
        pytest.skip("a benchmark: CAIRN_BENCH=1 runs it")
    tmp = tmp_path_factory.mktemp("ext4-bench")
    tree = str(tmp / "tree")
    os.makedirs(tree)
    data = os.urandom(BENCH_SIZE)
    with open(os.path.join(tree, "big.bin"), "wb") as handle:
        handle.write(data)
    digest = sha256(data)
    del data
    size = BENCH_SIZE + 64 * MIB
    ext4 = str(tmp / "ext4.img")
    mke2fs(ext4, size, ["-b", "4096", "-O", "none," + EXT4], tree)
    ext2 = str(tmp / "ext2.img")
    images.make_ext2(ext2, size, 4096, 1, source=tree)
    os.remove(os.path.join(tree, "big.bin"))
    partitions = [Partition(size, fs=ext4, name="ext4"), Partition(size, fs=ext2, name="ext2")]
    disk = str(tmp / "bench-disk.img")
    images.make_disk(disk, 512, "gpt", partitions, seed=16)
    os.remove(ext4)
    os.remove(ext2)
    vm = start_vm(request, tmp_path_factory, build_dir, cairn_iso, "ext4-bench",
                  extra_args=images.qemu_args("CAIRNBENCH", [Namespace(disk)]), memory_mib=512)
    # The guest's clock comes from a TSC calibration that a loaded host can spoil (the boot log's ClockInit
    # line says what it found); the host's own clock around each dd (typing and echo included) is the check.
    clock = re.search(r"ClockInit\] (.*)", vm.clean)
    rates, host_rates = {}, {}
    for kind, number in (("ext4", 1), ("ext2", 2)):
        path = "/mnt/nvme0n1p%d/big.bin" % number
        command(vm, "dd if=%s of=/dev/null bs=4M" % path, timeout=600)  # warms nothing: the cache is smaller
        started = time.monotonic()
        output = command(vm, "dd if=%s of=/dev/null bs=4M" % path, timeout=600)
        host_seconds = time.monotonic() - started
        match = RATE_RE.search(output)
        assert match and "%d bytes" % BENCH_SIZE in output, output
        rates[kind] = BENCH_SIZE / float(match.group(1)) / 1e6
        host_rates[kind] = BENCH_SIZE / host_seconds / 1e6
    assert command(vm, "sha256sum /mnt/nvme0n1p1/big.bin", timeout=900) == "%s  /mnt/nvme0n1p1/big.bin\n" % digest
    report = ("ext4 %.1f MB/s, ext2 %.1f MB/s, ext4/ext2 %.2f (256 MiB, dd bs=4M, second read, guest clock: %s); "
              "host clock around the command: ext4 %.1f MB/s, ext2 %.1f MB/s, ratio %.2f" % (
                  rates["ext4"], rates["ext2"], rates["ext4"] / rates["ext2"], clock.group(1) if clock else "?",
                  host_rates["ext4"], host_rates["ext2"], host_rates["ext4"] / host_rates["ext2"]))
    print("\n" + report)
    with open(os.path.join(build_dir, "ext4-bench.txt"), "w") as handle:
        handle.write(report + "\n")
