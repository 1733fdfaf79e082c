"""storage_images.py - host side of tests/integration/test_storage.py: file trees, EXT2 images made with
e2fsprogs, partition tables (MBR and GPT, 512- and 4096-byte sectors), hand-made corruption, QEMU NVMe
command lines, and the host's view of what the guest must show (ls -l lines, SHA-256 sums, df figures).

No root and no loop device: a file system is made in a file of its own with `mke2fs -d`, then copied into
its partition's place in the disk image; after the guest ran, a partition is cut out of the disk image
again for e2fsck and debugfs.

Partition tables
  * 512-byte sectors: the real tools, sgdisk (GPT) and parted (MBR, also an extended partition with a
    logical one), on image files; the bounds are read back from the tools.
  * 4096-byte sectors: sgdisk and parted take 512 for an image file, so the tables are written here in
    Python (write_gpt, write_mbr) with LBAs in 4096-byte sectors. The writer is checked against the tools
    on 512-byte images by test_storage.py::test_python_partition_writer_matches_the_tools.

mke2fs notes (e2fsprogs 1.47)
  * `-r 0 -d DIR` works for regular files, folders, fast and slow symbolic links, hard links and holes,
    with 1 KiB and 4 KiB blocks. Two things do not survive: a source file of 2 GiB or more makes mke2fs
    switch the volume to revision 1 with `large_file` without a word (revision 0 has no large_file), and
    extended attributes are dropped (revision 0 has no ext_attr). make_ext2() checks the revision it got
    with dumpe2fs, so such a tree fails loudly; the trees here keep files under 2 GiB on revision 0.
  * `-r 0` volumes have no features at all (no filetype, no sparse_super): 128-byte inodes, first inode 11,
    and a superblock copy in every group.
"""

import hashlib
import os
import random
import re
import shutil
import stat
import struct
import subprocess
import time
import uuid
import zlib

MIB = 1024 * 1024
KIB = 1024

# Every file, folder and link of a generated tree gets this modification time, so the guest's `ls -l`
# date (UTC, minutes) can be compared: 2021-03-27 03:15:42 UTC.
TREE_MTIME = 1616814942

GPT_TYPES = {
    "linux": "0FC63DAF-8483-4772-8E79-3D69D8477DE4",       # Linux filesystem (sgdisk 8300)
    "home": "933AC7E1-2EB4-4F13-B844-0E14E2AEF915",        # Linux home (8302)
    "root-x86-64": "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709",  # Linux root (x86-64) (8304)
    "msdata": "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7",      # Microsoft basic data (0700)
}
# What Cairn's `disk` calls them (kernel/source/block/PartitionTables.c).
GPT_TYPE_NAMES = {
    "linux": "Linux filesystem",
    "home": "Linux home",
    "root-x86-64": "Linux root (x86-64)",
    "msdata": "Microsoft basic data",
}
SGDISK_CODES = {"linux": "8300", "home": "8302", "root-x86-64": "8304", "msdata": "0700"}
MBR_TYPE_NAMES = {0x83: "Linux", 0x07: "HPFS/NTFS/exFAT", 0x0C: "W95 FAT32 (LBA)", 0x05: "Extended"}


def tool(name):
    """e2fsprogs and partitioning tools live in /sbin or /usr/sbin, which a user's PATH may lack."""
    found = shutil.which(name)
    if found:
        return found
    for folder in ("/usr/sbin", "/sbin"):
        if os.path.exists(os.path.join(folder, name)):
            return os.path.join(folder, name)
    return name


def run(args, check=True, **options):
    result = subprocess.run([tool(args[0])] + list(args[1:]), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            **options)
    if check and result.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s%s" % (" ".join(args), result.returncode,
                                                        result.stdout.decode("utf-8", "replace"),
                                                        result.stderr.decode("utf-8", "replace")))
    return result


# -- file trees -----------------------------------------------------------------------------------------------


def deterministic_bytes(seed, length):
    return random.Random(seed).randbytes(length)


DEEP_LEVELS = 24
SLOW_LINK_TARGET = "/".join("level_%02d" % i for i in range(8)) + "/leaf.txt"   # 80 characters: a slow link
FAST_LINK_TARGET_59 = "x" * 55 + ".txt"                                         # 59: the longest fast link
SLOW_LINK_TARGET_60 = "y" * 56 + ".txt"                                         # 60: the shortest slow link


def make_tree(root, block_size, seed, *, big=False, triple=False, huge=False, many=60, extra=None):
    """Fills `root` (created) with the test tree for a volume of `block_size`-byte blocks.

    Sizes around the block map's edges: empty, 1 byte, one block, one block + 1, all 12 direct blocks,
    single indirect, double indirect; holes (at the start, in the middle, at the end); a folder of `many`
    small files (several folder blocks); DEEP_LEVELS nested folders; fast (< 60 characters) and slow
    symbolic links, a 59/60-character pair, a dangling and an absolute link, a link to a folder; a hard
    link; a 200-character name; files and a folder with other modes.
      big:    a 64 MiB random file
      triple: (1 KiB blocks) a sparse file with data past 64 MiB + 268 KiB, so in triple indirect blocks
      huge:   a sparse file with data past 4 GiB (needs large_file: revision 1 only)
      extra:  {relative path: bytes} more files
    Every file's content is deterministic (from `seed`). Times are set to TREE_MTIME.
    """
    os.makedirs(root)
    files = {}
    per_block = block_size // 4
    direct = 12 * block_size
    single_end = (12 + per_block) * block_size           # first byte mapped by the double indirect block
    double_end = single_end + per_block * per_block * block_size
    files["empty"] = b""
    files["one"] = b"A"
    files["block"] = deterministic_bytes(seed + 1, block_size)
    files["block_plus_one"] = deterministic_bytes(seed + 2, block_size + 1)
    files["direct_full"] = deterministic_bytes(seed + 3, direct)
    files["single"] = deterministic_bytes(seed + 4, direct + 5 * block_size + 123)
    files["double"] = deterministic_bytes(seed + 5, single_end + 3 * block_size + 77)
    files["text.txt"] = b"The storage stack, seen from the shell.\nSecond line.\n"
    files["locked/secret"] = b"only root reads this\n"
    files["script.sh"] = b"#!/bin/sh\necho hello\n"
    for index in range(many):
        files["many/file_%03d" % index] = deterministic_bytes(seed + 100 + index, (index * 37) % 700)
    deep = "/".join("level_%02d" % i for i in range(DEEP_LEVELS))
    files[deep + "/leaf.txt"] = b"at the bottom of %d folders\n" % DEEP_LEVELS
    files["level_00/level_01/level_02/level_03/level_04/level_05/level_06/level_07/leaf.txt"] = \
        b"the slow link's target\n"
    files["n" * 200] = b"a 200-character name\n"
    if big:
        files["big64"] = deterministic_bytes(seed + 6, 64 * MIB)
    if extra:
        files.update(extra)
    for relative, data in files.items():
        path = os.path.join(root, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)

    sparse = {}  # relative path -> (size, [(offset, bytes)])
    sparse["sparse_middle"] = (3 * MIB + 5, [(0, deterministic_bytes(seed + 7, 3000)),
                                             (MIB + 7, deterministic_bytes(seed + 8, 2 * block_size))])
    sparse["sparse_head"] = (300000 + 10, [(300000, b"0123456789")])
    if triple:
        assert block_size == 1024, "triple indirect in a test tree only with 1 KiB blocks"
        start = double_end + 5000
        sparse["triple"] = (start + 4000, [(start, deterministic_bytes(seed + 9, 4000))])
    if huge:
        start = 4 * 1024 * MIB + 12345
        sparse["huge"] = (start + 5000, [(start, deterministic_bytes(seed + 10, 5000))])
    for relative, (size, pieces) in sparse.items():
        with open(os.path.join(root, relative), "wb") as handle:
            for offset, data in pieces:
                handle.seek(offset)
                handle.write(data)
            handle.truncate(size)

    os.chmod(os.path.join(root, "locked"), 0o700)
    os.chmod(os.path.join(root, "locked", "secret"), 0o600)
    os.chmod(os.path.join(root, "script.sh"), 0o755)
    os.link(os.path.join(root, "text.txt"), os.path.join(root, "hard_link"))
    links = {
        "fast_link": "text.txt",
        "folder_link": "level_00/level_01",
        "slow_link": SLOW_LINK_TARGET,
        "link_59": FAST_LINK_TARGET_59,
        "link_60": SLOW_LINK_TARGET_60,
        "dangling": "no/such/file",
        "absolute": "/mnt/somewhere/else",
    }
    for name, target in links.items():
        os.symlink(target, os.path.join(root, name))
    set_times(root)
    return root


def set_times(root, mtime=TREE_MTIME):
    for folder, subfolders, names in os.walk(root, topdown=False):
        for name in names + subfolders:
            os.utime(os.path.join(folder, name), (mtime, mtime), follow_symlinks=False)
    os.utime(root, (mtime, mtime))


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(4 * MIB)
            if not chunk:
                break
            digest.update(chunk)
    return digest.hexdigest()


class Entry:
    """One name of a host tree as the guest must show it."""

    def __init__(self, relative, st, target=None, digest=None, links=None):
        self.relative = relative
        self.name = os.path.basename(relative)
        self.mode = stat.filemode(st.st_mode)
        self.kind = self.mode[0]
        self.size = st.st_size
        self.uid = st.st_uid
        self.gid = st.st_gid
        self.links = links if links is not None else st.st_nlink
        self.mtime = time.strftime("%Y-%m-%d %H:%M", time.gmtime(st.st_mtime))
        self.target = target
        self.digest = digest


def manifest(root):
    """{relative folder ('' for the root): {name: Entry}} for every folder of the host tree.

    Folder link counts are 2 + subfolders (what EXT2 keeps), not what the host's file system says; the
    root gets one more for the lost+found that mke2fs adds.
    """
    result = {}
    for folder, subfolders, names in os.walk(root):
        relative_folder = os.path.relpath(folder, root)
        relative_folder = "" if relative_folder == "." else relative_folder
        entries = {}
        for name in subfolders + names:
            path = os.path.join(folder, name)
            relative = os.path.join(relative_folder, name) if relative_folder else name
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                entries[name] = Entry(relative, st, target=os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                inner = sum(1 for child in os.scandir(path) if child.is_dir(follow_symlinks=False))
                entries[name] = Entry(relative, st, links=2 + inner)
            else:
                entries[name] = Entry(relative, st, digest=sha256_file(path))
        result[relative_folder] = entries
    return result


# -- EXT2 images ----------------------------------------------------------------------------------------------


def make_ext2(path, size, block_size, revision, source=None, label=None, reserved_percent=5, inodes=None):
    """An EXT2 file system of `size` bytes in the file `path`, filled from `source` (mke2fs -d)."""
    with open(path, "wb") as handle:
        handle.truncate(size)
    args = ["mke2fs", "-q", "-F", "-t", "ext2", "-b", str(block_size), "-r", str(revision),
            "-m", str(reserved_percent), "-E", "root_owner=0:0"]
    if label:
        args += ["-L", label]
    if inodes:
        args += ["-N", str(inodes)]
    if source:
        args += ["-d", source]
    run(args + [path])
    info = superblock_info(path)
    if info["revision"] != revision:
        raise RuntimeError("mke2fs made revision %d, not %d, for %s (a file of 2 GiB or more on revision 0?)"
                           % (info["revision"], revision, path))
    if info["block_size"] != block_size:
        raise RuntimeError("mke2fs made %d-byte blocks, not %d" % (info["block_size"], block_size))
    return info


def superblock_info(path):
    """The superblock fields the tests use, from the image's bytes (offset 1024, little-endian)."""
    with open(path, "rb") as handle:
        handle.seek(1024)
        raw = handle.read(1024)
    fields = struct.unpack_from("<13I", raw, 0)
    info = {
        "inodes_count": fields[0], "blocks_count": fields[1], "reserved_blocks": fields[2],
        "free_blocks": fields[3], "free_inodes": fields[4], "first_data_block": fields[5],
        "block_size": 1024 << fields[6], "blocks_per_group": fields[8], "inodes_per_group": fields[10],
    }
    info["magic"], info["state"] = struct.unpack_from("<HH", raw, 56)
    info["revision"] = struct.unpack_from("<I", raw, 76)[0]
    info["inode_size"] = struct.unpack_from("<H", raw, 88)[0] if info["revision"] >= 1 else 128
    info["feature_compat"], info["feature_incompat"], info["feature_ro_compat"] = \
        struct.unpack_from("<III", raw, 92) if info["revision"] >= 1 else (0, 0, 0)
    info["reserved_gdt_blocks"] = struct.unpack_from("<H", raw, 206)[0] if info["feature_compat"] & 0x10 else 0
    return info


def _group_has_superblock(info, group):
    if group == 0 or not (info["feature_ro_compat"] & 0x1):  # sparse_super
        return True
    for base in (3, 5, 7):
        power = base
        while power < group:
            power *= base
        if power == group:
            return True
    return group == 1


def linux_df(info):
    """(1K-blocks, Used, Available) as Linux's ext2_statfs and coreutils df give them for a volume whose
    superblock is `info` (fs/ext2/super.c: the overhead is the blocks before the first data block, each
    group's superblock and descriptor blocks where it has copies, both bitmaps and the inode table; the
    reserved descriptor blocks of resize_inode are not overhead, they count as used)."""
    groups = -(-(info["blocks_count"] - info["first_data_block"]) // info["blocks_per_group"])
    descriptor_blocks = -(-(groups * 32) // info["block_size"])
    inode_table = info["inodes_per_group"] * info["inode_size"] // info["block_size"]
    overhead = info["first_data_block"]
    for group in range(groups):
        if _group_has_superblock(info, group):
            overhead += 1 + descriptor_blocks
    overhead += groups * (2 + inode_table)
    total = info["blocks_count"] - overhead
    free = info["free_blocks"]
    available = max(free - info["reserved_blocks"], 0)
    unit = info["block_size"] // 1024
    return total * unit, (total - free) * unit, available * unit


def df_use_percent(used, available):
    if used + available == 0:
        return "-"
    return "%d%%" % (-(-(used * 100) // (used + available)))


# -- hand-made damage -------------------------------------------------------------------------------------


def debugfs(image, command, write=False):
    args = ["debugfs"] + (["-w"] if write else []) + ["-R", command, image]
    return run(args, check=False)


def block_list(image, path):
    """{'data': [blocks in file order], 'ind': n, 'dind': n, 'tind': n} from debugfs's `stat`."""
    output = debugfs(image, "stat %s" % path).stdout.decode()
    result = {"data": [], "ind": None, "dind": None, "tind": None}
    section = output.split("BLOCKS:", 1)
    if len(section) < 2:
        raise RuntimeError("debugfs stat %s gave no BLOCKS:\n%s" % (path, output))
    for item in re.findall(r"\(([^)]*)\):(\d+)(?:-(\d+))?", section[1]):
        what, first, last = item[0], int(item[1]), int(item[2] or item[1])
        if what in ("IND", "DIND", "TIND"):
            result[what.lower()] = first
        else:
            result["data"].extend(range(first, last + 1))
    return result


def patch(image, offset, data):
    with open(image, "r+b") as handle:
        handle.seek(offset)
        handle.write(data)


def corrupt_magic(image):
    patch(image, 1024 + 56, struct.pack("<H", 0x1234))


def corrupt_blocks_per_group(image):
    patch(image, 1024 + 32, struct.pack("<I", 0))


def corrupt_record_length(image, folder, entry_index=2):
    """Sets the record length of entry number `entry_index` (0 is '.') of the folder's first block to 0.
    Returns the block number."""
    info = superblock_info(image)
    block = block_list(image, folder)["data"][0]
    with open(image, "r+b") as handle:
        handle.seek(block * info["block_size"])
        data = bytearray(handle.read(info["block_size"]))
        offset = 0
        for _ in range(entry_index):
            offset += struct.unpack_from("<H", data, offset + 4)[0]
        struct.pack_into("<H", data, offset + 4, 0)
        handle.seek(block * info["block_size"])
        handle.write(data)
    return block


def corrupt_indirect(image, path, slot=0):
    """Points entry `slot` of the file's single indirect block past the end of the volume (and so of the
    partition). Returns (indirect block, bad block number)."""
    info = superblock_info(image)
    indirect = block_list(image, path)["ind"]
    if indirect is None:
        raise RuntimeError("%s has no indirect block" % path)
    bad = info["blocks_count"] + 100000
    patch(image, indirect * info["block_size"] + 4 * slot, struct.pack("<I", bad))
    return indirect, bad


# -- partition tables -------------------------------------------------------------------------------------


class Partition:
    """What to put in one partition. size in bytes (a multiple of 1 MiB). fs: a file system image path or
    None. gpt_type: a GPT_TYPES key; mbr_type: a byte; logical: an MBR logical partition (numbered from 5).
    After layout: number, start (sectors), sectors."""

    def __init__(self, size, fs=None, gpt_type="linux", mbr_type=0x83, name="", logical=False):
        self.size = size
        self.fs = fs
        self.gpt_type = gpt_type
        self.mbr_type = mbr_type
        self.name = name
        self.logical = logical
        self.number = None
        self.start = None
        self.sectors = None
        self.unique = None

    @property
    def type_name(self):
        return GPT_TYPE_NAMES[self.gpt_type]


def _layout(partitions, sector_size, scheme):
    """Places partitions from 1 MiB on, back to back at 1 MiB boundaries; returns the disk size in bytes.
    MBR logical partitions go (in order) inside one extended partition after the primaries, each 1 MiB after
    the previous one's end (the space for its EBR)."""
    position = MIB
    number = 0
    for part in partitions:
        if part.logical:
            continue
        number += 1
        part.number = number
        part.start = position // sector_size
        part.sectors = part.size // sector_size
        position += part.size
    logical = [part for part in partitions if part.logical]
    extended = None
    if logical:
        assert scheme == "mbr"
        extended = [position // sector_size, None]
        for index, part in enumerate(logical):
            position += MIB
            part.number = 5 + index
            part.start = position // sector_size
            part.sectors = part.size // sector_size
            position += part.size
        extended[1] = position // sector_size - extended[0]
    return position + MIB, extended


def _guid(rng):
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def write_mbr(image, sector_size, entries):
    """Writes an MBR in the first 512 bytes of LBA 0: entries = [(boot, type, start, sectors)], up to 4."""
    data = bytearray(512)
    for index, (boot, kind, start, sectors) in enumerate(entries):
        struct.pack_into("<B3sB3sII", data, 446 + 16 * index, 0x80 if boot else 0, b"\xfe\xff\xff", kind,
                         b"\xfe\xff\xff", start, sectors)
    data[510:512] = b"\x55\xaa"
    patch(image, 0, bytes(data))


def write_gpt(image, sector_size, partitions, disk_guid, entry_count=128):
    """Writes a protective MBR, the primary GPT (LBA 1, entries from LBA 2) and the backup (last LBA, its
    entries just before it), with `sector_size`-byte LBAs (UEFI 2.10 section 5.3)."""
    size = os.path.getsize(image)
    last = size // sector_size - 1
    entry_size = 128
    array_bytes = entry_count * entry_size
    array_sectors = -(-array_bytes // sector_size)
    first_usable = 2 + array_sectors
    last_usable = last - 1 - array_sectors
    array = bytearray(array_bytes)
    for index, part in enumerate(partitions):
        assert first_usable <= part.start and part.start + part.sectors - 1 <= last_usable
        name = part.name.encode("utf-16-le")[:72]
        struct.pack_into("<16s16sQQQ72s", array, index * entry_size, uuid.UUID(GPT_TYPES[part.gpt_type]).bytes_le,
                         part.unique.bytes_le, part.start, part.start + part.sectors - 1, 0, name)
    array_crc = zlib.crc32(bytes(array)) & 0xFFFFFFFF

    def header(current, backup, entries_lba):
        raw = bytearray(struct.pack("<8sIIIIQQQQ16sQIII", b"EFI PART", 0x00010000, 92, 0, 0, current, backup,
                                    first_usable, last_usable, disk_guid.bytes_le, entries_lba, entry_count,
                                    entry_size, array_crc))
        struct.pack_into("<I", raw, 16, zlib.crc32(bytes(raw)) & 0xFFFFFFFF)
        return bytes(raw) + bytes(sector_size - len(raw))

    write_mbr(image, sector_size, [(False, 0xEE, 1, min(last, 0xFFFFFFFF))])
    patch(image, sector_size, header(1, last, 2))
    patch(image, 2 * sector_size, bytes(array))
    patch(image, (last - array_sectors) * sector_size, bytes(array))
    patch(image, last * sector_size, header(last, 1, last - array_sectors))


def make_disk(path, sector_size, scheme, partitions, seed=1, use_tools=None):
    """Creates the disk image `path` with a partition table and the partitions' file systems copied in.

    scheme: 'gpt' or 'mbr'. use_tools: sgdisk/parted (only with 512-byte sectors); default: the tools for
    512-byte sectors, the Python writer for 4096. Returns the partitions with number/start/sectors set.
    """
    if use_tools is None:
        use_tools = sector_size == 512
    assert not use_tools or sector_size == 512, "sgdisk and parted assume 512-byte sectors for image files"
    size, extended = _layout(partitions, sector_size, scheme)
    with open(path, "wb") as handle:
        handle.truncate(size)
    rng = random.Random(seed)
    disk_guid = _guid(rng)
    for part in partitions:
        part.unique = _guid(rng)
    if scheme == "gpt":
        if use_tools:
            args = ["sgdisk", "--clear", "--disk-guid=%s" % disk_guid]
            for part in partitions:
                args += ["--new=%d:%d:%d" % (part.number, part.start, part.start + part.sectors - 1),
                         "--typecode=%d:%s" % (part.number, SGDISK_CODES[part.gpt_type]),
                         "--partition-guid=%d:%s" % (part.number, part.unique)]
                if part.name:
                    args += ["--change-name=%d:%s" % (part.number, part.name)]
            run(args + [path])
            check_sgdisk_bounds(path, partitions)
        else:
            write_gpt(path, sector_size, partitions, disk_guid)
    elif scheme == "mbr":
        if use_tools:
            args = ["parted", "-s", "-a", "none", path, "unit", "s", "mklabel", "msdos"]
            for part in partitions:
                if part.logical:
                    continue
                args += ["mkpart", "primary", "%ds" % part.start, "%ds" % (part.start + part.sectors - 1)]
            if extended:
                args += ["mkpart", "extended", "%ds" % extended[0], "%ds" % (extended[0] + extended[1] - 1)]
                for part in partitions:
                    if part.logical:
                        args += ["mkpart", "logical", "%ds" % part.start, "%ds" % (part.start + part.sectors - 1)]
            run(args)
            check_parted_bounds(path, partitions)
            for part in partitions:
                if part.mbr_type != 0x83 and not part.logical:
                    patch(path, 446 + 16 * (part.number - 1) + 4, bytes([part.mbr_type]))
        else:
            assert not extended, "the Python MBR writer makes primary partitions only"
            write_mbr(path, sector_size, [(False, part.mbr_type, part.start, part.sectors) for part in partitions])
    else:
        raise ValueError(scheme)
    for part in partitions:
        if part.fs:
            fs_size = os.path.getsize(part.fs)
            assert fs_size <= part.sectors * sector_size, "%s does not fit its partition" % part.fs
            copy_into(path, part.start * sector_size, part.fs)
    return partitions


def copy_into(image, offset, source):
    """Copies `source` into `image` at byte `offset`; zero pieces are skipped (the target is a fresh sparse
    file there), which keeps the test's disk images small."""
    zero = bytes(64 * KIB)
    with open(source, "rb") as src, open(image, "r+b") as dst:
        position = offset
        while True:
            chunk = src.read(64 * KIB)
            if not chunk:
                break
            if chunk != zero[:len(chunk)]:
                dst.seek(position)
                dst.write(chunk)
            position += len(chunk)


def extract(image, offset, length, out):
    with open(image, "rb") as src, open(out, "wb") as dst:
        src.seek(offset)
        remaining = length
        while remaining:
            chunk = src.read(min(4 * MIB, remaining))
            if not chunk:
                raise RuntimeError("%s ends before byte %d" % (image, offset + length))
            dst.write(chunk)
            remaining -= len(chunk)
    return out


def sgdisk_partitions(path):
    """{number: (first, last)} as sgdisk reads the table back."""
    output = run(["sgdisk", "--print", path]).stdout.decode()
    result = {}
    for match in re.finditer(r"^\s+(\d+)\s+(\d+)\s+(\d+)\s", output, re.M):
        result[int(match.group(1))] = (int(match.group(2)), int(match.group(3)))
    return result


def check_sgdisk_bounds(path, partitions):
    found = sgdisk_partitions(path)
    expected = {part.number: (part.start, part.start + part.sectors - 1) for part in partitions}
    if found != expected:
        raise RuntimeError("sgdisk placed the partitions at %s, not %s" % (found, expected))


def parted_partitions(path):
    """{number: (first, last, type text)} from `parted -m ... unit s print`."""
    output = run(["parted", "-m", "-s", path, "unit", "s", "print"]).stdout.decode()
    result = {}
    for line in output.splitlines():
        fields = line.rstrip(";").split(":")
        if fields and fields[0].isdigit():
            result[int(fields[0])] = (int(fields[1].rstrip("s")), int(fields[2].rstrip("s")))
    return result


def check_parted_bounds(path, partitions):
    found = parted_partitions(path)
    for part in partitions:
        if found.get(part.number) != (part.start, part.start + part.sectors - 1):
            raise RuntimeError("parted placed partition %d at %s, not %s" % (part.number, found.get(part.number),
                                                                               (part.start, part.sectors)))


# -- QEMU ---------------------------------------------------------------------------------------------------


class Namespace:
    """One NVMe namespace: its backing file, block size and NSID; snapshot=True keeps the file unchanged."""

    def __init__(self, path, block_size=512, nsid=1, snapshot=True):
        self.path = path
        self.block_size = block_size
        self.nsid = nsid
        self.snapshot = snapshot

    @property
    def sectors(self):
        return os.path.getsize(self.path) // self.block_size


def qemu_args(serial, namespaces, addr=0x4):
    """One controller (placed at pcie.0 slot `addr`) with nvme-ns devices for `namespaces`."""
    args = ["-device", "nvme,id=nvmestore,serial=%s,bus=pcie.0,addr=0x%x" % (serial, addr)]
    for ns in namespaces:
        drive = "storens%d" % ns.nsid
        args += ["-drive", "if=none,id=%s,format=raw,file=%s,snapshot=%s" % (drive, ns.path,
                                                                          "on" if ns.snapshot else "off")]
        device = "nvme-ns,bus=nvmestore,drive=%s,nsid=%d" % (drive, ns.nsid)
        if ns.block_size != 512:
            device += ",logical_block_size=%d,physical_block_size=%d" % (ns.block_size, ns.block_size)
        args += ["-device", device]
    return args


# -- e2fsck and debugfs on a partition of a disk image -----------------------------------------------------


def partition_image(disk, part, sector_size, out):
    return extract(disk, part.start * sector_size, part.sectors * sector_size, out)


def e2fsck(image):
    result = run(["e2fsck", "-fn", image], check=False)
    return result.returncode, (result.stdout + result.stderr).decode("utf-8", "replace")


def debugfs_cat(image, path):
    result = debugfs(image, "cat %s" % path)
    return result.stdout


def debugfs_rdump(image, folder, out):
    """Copies `folder` of the volume into the host folder `out` (debugfs rdump: files, folders, links)."""
    os.makedirs(out, exist_ok=True)
    result = debugfs(image, "rdump %s %s" % (folder, out))
    return result


def tree_snapshot(root):
    """{relative path: ('f', sha256) | ('d', None) | ('l', target)} of a host folder."""
    result = {}
    for folder, subfolders, names in os.walk(root):
        for name in subfolders + names:
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, root)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                result[relative] = ("l", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                result[relative] = ("d", None)
            else:
                result[relative] = ("f", sha256_file(path))
    return result
