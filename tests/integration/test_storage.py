"""test_storage.py - the whole storage stack from the shell: NVMe namespaces -> partitions (MBR, GPT) -> sector
cache -> EXT2 -> VFS -> file commands, against images the test makes on the host with e2fsprogs, sgdisk and
parted (and a Python table writer for 4096-byte sectors, see storage_images.py).

Four boots, each shared by the tests of one part (module-scoped VMs; every test fails on an NVMe trace event
(pci_nvme_ub_*, pci_nvme_err_*) QEMU reported meanwhile):

  read     one controller, four namespaces: GPT and MBR on 512- and 4096-byte sectors, nine EXT2 volumes
           covering 1 KiB and 4 KiB blocks, revision 0 and 1 (every pair of the four properties meets), a
           logical MBR partition. Every folder's `ls -l` (type, mode, links, owner, size, date, link target)
           and every file's `sha256sum` must be the host's. Then `disk`, `df` (Linux's figures), `mount`,
           `umount` and mounting elsewhere. snapshot=on: the images never change.
  write    the guest creates, appends, overwrites, renames, deletes, makes and removes folders, writes a
           file that needs double indirect blocks, fills a volume to `No space left on device`, and runs
           the EXOS-Linux dd exercise (seeds/003: a 1 MiB random file to a raw namespace and back; a short
           text to the raw disk and back with bs=1). After `sync` (QEMU still running) and again after
           one more file and `poweroff` (the shutdown hook's write-back), the host runs `e2fsck -fn` on
           every partition (must be clean) and compares every file, folder and link (debugfs rdump,
           debugfs cat) and the raw namespaces (cmp) with what the guest was told to write.
  readonly `disk access nvme0n1 ro`: every write path fails with `Read-only file system` (or the disk
           layer's read-only error), the guest's raw hash does not move, and after `poweroff` the image is
           byte for byte what it was when the disk went read-only.
  corrupt  hand-damaged volumes (bad superblock magic, zero blocks per group, a folder entry with record
           length 0, an indirect block pointing outside the partition) beside a good one: the machine boots,
           each problem is reported by one log line, the shell stays usable.

Command lines are typed in pieces (the guest's 128-byte input ring overflows when QEMU pastes a long line
at once) and kept under the line editor's 255 characters: deep folders are reached with several `cd`s.
"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
import zlib

import pytest

import nvme_images
import storage_images as images
from storage_images import KIB, MIB, Namespace, Partition
from cairn_qemu import BOOT_TIMEOUT, CairnVM
from conftest import REPOSITORY, check_nvme_events

sys.path.insert(0, os.path.join(REPOSITORY, "tools"))
import pattern  # noqa: E402  (tools/pattern.py)

SLOW_TIMEOUT = 120.0
LINE_LIMIT = 240            # the line editor keeps 255 characters; stay below
TYPE_CHUNK = 48             # characters sent before waiting for their echo


# -- talking to the guest ---------------------------------------------------------------------------------


def command(vm, line, timeout=30.0):
    """Types `line` in pieces, waiting for each piece's echo (the guest's input ring holds 128 bytes and
    QEMU delivers pasted text faster than the shell echoes it), then Enter; returns the output."""
    assert len(line) <= LINE_LIMIT, "command longer than the line editor takes: %r" % line
    start = vm.mark()
    sent = 0
    while len(line) - sent > TYPE_CHUNK:
        piece = line[sent:sent + TYPE_CHUNK]
        vm.send(piece)
        sent += len(piece)
        # The whole line so far must have come back (a piece's own text may repeat earlier in the line).
        vm.wait_for(re.escape(line[:sent]), 10.0, start=start)
    vm.send(line[sent:] + "\r")
    return vm.finish_line(start, timeout)


def ok(vm, line, timeout=30.0):
    """A command that must succeed silently."""
    output = command(vm, line, timeout)
    assert output == "", "%r printed:\n%s" % (line, output)


def cd(vm, path):
    """Changes the current folder, in several steps when the path is long; checks the prompt and pwd."""
    if len("cd " + path) <= LINE_LIMIT:
        ok(vm, "cd " + path)
    else:
        parts = path.strip("/").split("/")
        ok(vm, "cd /")
        chunk = []
        for part in parts:
            if len("cd " + "/".join(chunk + [part])) > LINE_LIMIT:
                ok(vm, "cd " + "/".join(chunk))
                chunk = []
            chunk.append(part)
        ok(vm, "cd " + "/".join(chunk))
    assert command(vm, "pwd") == path + "\n"


def poweroff(vm, timeout=60.0):
    vm.send("poweroff\r")
    deadline = time.monotonic() + timeout
    while vm.running() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not vm.running(), "QEMU still runs %d s after poweroff:\n%s" % (timeout, vm.tail(2000))
    vm.stop()


def guest_log(vm):
    return command(vm, "log", timeout=30.0)


LOG_LINE_RE = re.compile(r"^\[\s*\d+\.\d+\] (DEBUG|INFO|WARNING|ERROR) ")


def split_log(output):
    """Kernel log lines printed on the console while a command ran, and the command's own output."""
    logged, own = [], []
    for line in output.split("\n"):
        (logged if LOG_LINE_RE.match(line) else own).append(line)
    return logged, "\n".join(own)


DD_RECORDS_RE = re.compile(r"^(\d+)\+(\d+) records in\n(\d+)\+(\d+) records out\n(\d+) bytes? .*copied, .* s, .*/s\n",
                           re.M)


def dd(vm, arguments, timeout=SLOW_TIMEOUT, error=None):
    """Runs dd; returns (full in, partial in, full out, partial out, bytes). With error=text the output
    must start with that one error line."""
    output = command(vm, "dd " + arguments, timeout)
    if error is not None:
        first, _, output_rest = output.partition("\n")
        assert first == error, "dd %s: expected %r first, got:\n%s" % (arguments, error, output)
        output = output_rest
    match = DD_RECORDS_RE.fullmatch(output)
    assert match, "dd %s printed:\n%s" % (arguments, output)
    return tuple(int(value) for value in match.groups())


LS_LINE_RE = re.compile(r"^([-dlcbps?][-rwxsStT]{9}) +(\d+) +(\d+) +(\d+) +(\d+) (\d{4}-\d\d-\d\d \d\d:\d\d) (.+)$")


def parse_ls(output):
    """`ls -l` of a folder -> (total, {name: (mode, links, uid, gid, size, date, target)})."""
    lines = output.rstrip("\n").split("\n")
    assert lines[0].startswith("total "), output
    entries = {}
    for line in lines[1:]:
        match = LS_LINE_RE.match(line)
        assert match, "ls -l line not understood: %r" % line
        mode, links, uid, gid, size, date, name = match.groups()
        target = None
        if mode.startswith("l"):
            name, _, target = name.partition(" -> ")
        entries[name] = (mode, int(links), int(uid), int(gid), int(size), date, target)
    return int(lines[0].split()[1]), entries


def sha256_lines(vm, names, timeout=SLOW_TIMEOUT):
    """{name: hex} for files of the current folder, in as few `sha256sum` commands as the limits allow."""
    result = {}
    batch = []

    def flush():
        if not batch:
            return
        output = command(vm, "sha256sum " + " ".join(batch), timeout)
        for line in output.rstrip("\n").split("\n"):
            match = re.fullmatch(r"([0-9a-f]{64})  (.+)", line)
            assert match, "sha256sum line not understood: %r (of %s)" % (line, batch)
            result[match.group(2)] = match.group(1)
        batch.clear()

    for name in names:
        if batch and (len(batch) >= 15 or len("sha256sum " + " ".join(batch + [name])) > LINE_LIMIT):
            flush()
        batch.append(name)
    flush()
    return result


def start_vm(request, tmp_path_factory, build_dir, cairn_iso, part, **options):
    """A VM shared by one part's tests (module scope), with its own transcript in test-logs/, stopped when the
    module is done. No default disk: each part brings its namespaces in extra_args."""
    name = "test_storage.%s-vm" % part
    vm = CairnVM(cairn_iso, str(tmp_path_factory.mktemp("vm-" + part)), name=name, nvme_disks=[],
                 log_path=os.path.join(build_dir, "test-logs", name + ".log"), **options)
    request.addfinalizer(vm.stop)
    vm.start()
    vm.wait_boot(BOOT_TIMEOUT)
    return vm


def shared(vm_holder):
    """A module VM for one more test: fails early when an earlier test powered it off, killed or hung it."""
    vm = vm_holder["vm"]
    if vm_holder.get("powered_off"):
        pytest.fail("the VM of this part was powered off by an earlier test", pytrace=False)
    if not vm.running():
        pytest.fail("the shared VM is not running any more (an earlier test stopped or crashed it)", pytrace=False)
    if vm.timed_out and not vm.recover_prompt():
        pytest.fail("the shared VM stopped answering in an earlier test", pytrace=False)
    return vm


# -- host helpers ------------------------------------------------------------------------------------------


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def drop_file_systems(partitions):
    """The file system images are in the disk image now; the copies only take room in the temp folder."""
    for part in partitions:
        if part.fs and os.path.exists(part.fs):
            os.remove(part.fs)


# ==========================================================================================================
# Part 1: reading volumes made by e2fsprogs
# ==========================================================================================================


class Volume:
    """One EXT2 volume of the read set-up: where it is, how it was made, what the host tree holds."""

    def __init__(self, key, disk, number, block_size, revision, tree, info, part, sector_size, scheme):
        self.key = key
        self.disk = disk                  # nvme0n<N>
        self.number = number              # partition number
        self.name = "%sp%d" % (disk, number)
        self.mount = "/mnt/" + self.name
        self.block_size = block_size
        self.revision = revision
        self.tree = tree                  # the host folder it was made from
        self.info = info                  # superblock fields of the image as made
        self.part = part
        self.sector_size = sector_size
        self.scheme = scheme
        self.manifest = images.manifest(tree)


# Per namespace (tag, sector size, scheme, partitions in order); per partition (key, block size, revision,
# make_tree options, partition size, GPT type key / MBR type byte / "logical").
READ_LAYOUT = [
    # nvme0n1: 512-byte sectors, GPT by sgdisk
    ("n1", 512, "gpt", [("gpt512-1k-r1-big", 1024, 1, {"big": True, "triple": True}, 96 * MIB, "linux"),
                        ("gpt512-4k-r0", 4096, 0, {}, 16 * MIB, "home")]),
    # nvme0n2: 4096-byte sectors, GPT written in Python
    ("n2", 4096, "gpt", [("gpt4096-4k-r1-huge", 4096, 1, {"huge": True}, 16 * MIB, "root-x86-64"),
                         ("gpt4096-1k-r0", 1024, 0, {"triple": True}, 16 * MIB, "msdata")]),
    # nvme0n3: 512-byte sectors, MBR by parted, with a logical partition (nvme0n3p5)
    ("n3", 512, "mbr", [("mbr512-4k-r1", 4096, 1, {}, 16 * MIB, 0x83),
                        ("mbr512-1k-r0", 1024, 0, {"triple": True}, 16 * MIB, 0x07),
                        ("mbr512-logical-1k-r1", 1024, 1, {}, 12 * MIB, "logical")]),
    # nvme0n4: 4096-byte sectors, MBR written in Python
    ("n4", 4096, "mbr", [("mbr4096-1k-r1", 1024, 1, {"triple": True}, 16 * MIB, 0x83),
                         ("mbr4096-4k-r0", 4096, 0, {}, 16 * MIB, 0x0C)]),
]
READ_KEYS = [entry[0] for _, _, _, entries in READ_LAYOUT for entry in entries]


def build_read_setup(tmp):
    namespaces = []
    volumes = {}
    for index, (tag, sector_size, scheme, entries) in enumerate(READ_LAYOUT):
        nsid = index + 1
        disk = "nvme0n%d" % nsid
        partitions = []
        made = []
        for number, (key, block_size, revision, options, size, kind) in enumerate(entries):
            tree = images.make_tree(str(tmp / ("tree-" + key)), block_size, seed=1000 * (nsid * 10 + number),
                                    **options)
            fs = str(tmp / ("fs-%s.img" % key))
            info = images.make_ext2(fs, size, block_size, revision, source=tree, label=key[:16])
            if scheme == "gpt":
                part = Partition(size, fs=fs, gpt_type=kind, name=key[:36])
            elif kind == "logical":
                part = Partition(size, fs=fs, logical=True)
            else:
                part = Partition(size, fs=fs, mbr_type=kind)
            partitions.append(part)
            made.append((key, block_size, revision, tree, info, part))
        path = str(tmp / ("read-%s.img" % tag))
        images.make_disk(path, sector_size, scheme, partitions, seed=nsid)
        drop_file_systems(partitions)
        namespaces.append(Namespace(path, block_size=sector_size, nsid=nsid, snapshot=True))
        for key, block_size, revision, tree, info, part in made:
            volumes[key] = Volume(key, disk, part.number, block_size, revision, tree, info, part, sector_size, scheme)
    return namespaces, volumes


@pytest.fixture(scope="module")
def read_setup(request, tmp_path_factory, build_dir, cairn_iso):
    tmp = tmp_path_factory.mktemp("storage-read")
    started = time.monotonic()
    namespaces, volumes = build_read_setup(tmp)
    built = time.monotonic() - started
    vm = start_vm(request, tmp_path_factory, build_dir, cairn_iso, "read",
                  extra_args=images.qemu_args("CAIRNREAD", namespaces), memory_mib=512)
    holder = {"vm": vm, "namespaces": namespaces, "volumes": volumes, "build_seconds": built, "reported": []}
    return holder


@pytest.fixture
def read_vm(read_setup):
    vm = shared(read_setup)
    yield vm
    read_setup["reported"] = check_nvme_events(vm, read_setup["reported"])


def expected_listing(volume, folder):
    """{name: (mode, links, uid, gid, size or None, date or None, target)} the guest must print for a folder."""
    result = {}
    for name, entry in volume.manifest[folder].items():
        size = None if entry.kind == "d" else entry.size
        result[name] = (entry.mode, entry.links, entry.uid, entry.gid, size, entry.mtime, entry.target)
    if folder == "":
        result["lost+found"] = ("drwx------", 2, 0, 0, None, None, None)
    return result


def check_folder(vm, volume, folder):
    """ls -l and sha256sum of one folder (the current folder must be it). Returns the problems found."""
    problems = []
    _, listed = parse_ls(command(vm, "ls -l"))
    expected = expected_listing(volume, folder)
    if sorted(listed) != sorted(expected):
        problems.append("%s/%s: names %s, host has %s" % (volume.mount, folder, sorted(listed), sorted(expected)))
    for name, want in expected.items():
        got = listed.get(name)
        if got is None:
            continue
        mode, links, uid, gid, size, date, target = want
        checks = [("mode", got[0], mode), ("links", got[1], links), ("uid", got[2], uid), ("gid", got[3], gid),
                  ("target", got[6], target)]
        if size is not None:
            checks.append(("size", got[4], size))
        if date is not None:
            checks.append(("date", got[5], date))
        for what, have, should in checks:
            if have != should:
                problems.append("%s: %s is %r, host says %r" % (os.path.join(volume.mount, folder, name), what, have,
                                                                 should))
    regular = [name for name, entry in volume.manifest[folder].items() if entry.kind == "-" and name != "huge"]
    sums = sha256_lines(vm, sorted(regular))
    for name in regular:
        if sums.get(name) != volume.manifest[folder][name].digest:
            problems.append("%s: sha256 %s, host %s" % (os.path.join(volume.mount, folder, name), sums.get(name),
                                                         volume.manifest[folder][name].digest))
    return problems


@pytest.mark.parametrize("key", READ_KEYS)
def test_volume_matches_host_tree(read_vm, read_setup, key):
    """Every folder's listing and every file's SHA-256 are the host's; `cat`, `stat` and link following
    agree too."""
    vm = read_vm
    volume = read_setup["volumes"][key]
    assert "%s on %s type ext2 (rw)" % (volume.name, volume.mount) in command(vm, "mount")
    problems = []
    for folder in sorted(volume.manifest):
        cd(vm, volume.mount + ("/" + folder if folder else ""))
        problems += check_folder(vm, volume, folder)
    cd(vm, volume.mount)
    # Bytes as they are, through a fast link, a slow link and a link to a folder.
    text = open(os.path.join(volume.tree, "text.txt"), "rb").read().decode()
    assert command(vm, "cat text.txt") == text
    assert command(vm, "cat fast_link") == text
    assert command(vm, "cat slow_link") == "the slow link's target\n"
    assert command(vm, "ls folder_link") == "level_02\n"
    assert "No such file or directory" in command(vm, "cat dangling")
    stat_output = command(vm, "stat hard_link")
    assert re.search(r"^  Size: %d\s" % len(text), stat_output, re.M), stat_output
    assert "Links: 2" in stat_output and "regular file" in stat_output, stat_output
    assert "Device: %s" % volume.name in stat_output
    stat_output = command(vm, "stat slow_link")
    assert "  File: slow_link -> %s\n" % images.SLOW_LINK_TARGET in stat_output, stat_output
    assert "symbolic link" in stat_output
    if "huge" in volume.manifest[""]:
        # Past 4 GiB: the tail read with dd into a file (snapshot=on: the image does not change).
        entry = volume.manifest[""]["huge"]
        skip = (entry.size - 5000) // 4096
        dd(vm, "if=huge of=huge.tail bs=4096 skip=%d" % skip)
        with open(os.path.join(volume.tree, "huge"), "rb") as handle:
            handle.seek(skip * 4096)
            tail = handle.read()
        assert command(vm, "sha256sum huge.tail") == "%s  huge.tail\n" % sha256(tail)
        ok(vm, "rm huge.tail")
    ok(vm, "cd /")
    assert not problems, "%d differences:\n%s" % (len(problems), "\n".join(problems[:40]))


DISK_ROW_RE = re.compile(r"^(nvme\S+)\s+(.+?)\s+(\d+)\s+(\d+)\s+(\d+\.\d\d [kMGTPE]?B)\s+(\d+\.\d\d (?:[KMGTPE]i)?B)\s+"
                         r"(rw|ro|off)\s*$")
PARTITION_LINE_RE = re.compile(r"^  partition (\d+) of (\S+): type (.+) \((.+?)\), start (\d+), (\d+) sectors, "
                               r"file system (\S+), mounted on (.+)$")


def test_disk_lists_partitions(read_vm, read_setup):
    """`disk`: every namespace and partition with its sector size and count, then a line per partition with
    its type (name and code), start, size, file system and mount point."""
    output = command(read_vm, "disk")
    lines = output.rstrip("\n").split("\n")
    rows, details = {}, {}
    current = None
    for line in lines[1:]:
        match = PARTITION_LINE_RE.match(line)
        if match:
            details[current] = match.groups()
            continue
        match = DISK_ROW_RE.match(line)
        assert match, "disk line not understood: %r\n%s" % (line, output)
        current = match.group(1)
        rows[current] = match.groups()
    for ns in read_setup["namespaces"]:
        name = "nvme0n%d" % ns.nsid
        assert name in rows, output
        assert (int(rows[name][2]), int(rows[name][3])) == (ns.block_size, ns.sectors), rows[name]
        size = ns.sectors * ns.block_size
        assert rows[name][4:6] == (nvme_images.si_size(size), nvme_images.binary_size(size)), rows[name]
        assert name not in details, "a whole disk got a partition line: %r" % (details[name],)
    for volume in read_setup["volumes"].values():
        part = volume.part
        assert volume.name in rows, "%s missing:\n%s" % (volume.name, output)
        assert (int(rows[volume.name][2]), int(rows[volume.name][3])) == (volume.sector_size, part.sectors)
        assert rows[volume.name][4:6] == (nvme_images.si_size(part.size), nvme_images.binary_size(part.size))
        assert volume.name in details, "no partition line for %s:\n%s" % (volume.name, output)
        number, parent, type_name, code, start, sectors, fs, mounted = details[volume.name]
        assert (int(number), parent, int(start), int(sectors)) == (part.number, volume.disk, part.start, part.sectors)
        if volume.scheme == "gpt":
            assert (type_name, code) == (part.type_name, images.GPT_TYPES[part.gpt_type]), details[volume.name]
        else:
            assert code.lower() == "0x%02x" % part.mbr_type, details[volume.name]
            assert type_name == images.MBR_TYPE_NAMES[part.mbr_type], details[volume.name]
        assert (fs, mounted) == ("ext2", volume.mount), details[volume.name]
    # Nine partitions, four disks, nothing else (the extended partition itself is no disk).
    assert len(rows) == 4 + len(read_setup["volumes"]), output


def test_boot_log_names_every_partition(read_vm, read_setup):
    """At boot each disk's scan says what it found, each partition is registered with its bounds and mounted,
    and nothing about these disks is a warning (the Python-made tables included)."""
    log = guest_log(read_vm)
    for index, (_, _, scheme, entries) in enumerate(READ_LAYOUT):
        disk = "nvme0n%d" % (index + 1)
        summary = r"\[PartitionScanDisk\] %s: %s, %d partitions\n" % (disk, scheme.upper(), len(entries))
        assert re.search(summary, log), "no scan summary for %s" % disk
    for volume in read_setup["volumes"].values():
        part = volume.part
        assert re.search(r"\[PartitionRegister\] %s: %s .*, sectors %d-%d \(" % (
            volume.name, volume.scheme.upper(), part.start, part.start + part.sectors - 1), log), \
            "no registration line for %s" % volume.name
        assert "[VFSDiskListener] %s mounted at %s" % (volume.name, volume.mount) in log
    problems = [line for line in log.split("\n") if re.search(r"\b(WARNING|ERROR)\b", line) and "nvme0n" in line]
    assert not problems, "\n".join(problems)


def parse_df(output):
    lines = output.rstrip("\n").split("\n")
    assert lines[0].split() == ["Filesystem", "1K-blocks", "Used", "Available", "Use%", "Mounted", "on"], output
    rows = {}
    for line in lines[1:]:
        fields = line.split()
        rows[fields[5]] = (fields[0], int(fields[1]), int(fields[2]), int(fields[3]), fields[4])
    return rows


def test_df_matches_linux(read_vm, read_setup):
    """`df` gives Linux's ext2_statfs figures (total without the groups' metadata, used, available after the
    reserved blocks) for each volume, computed on the host from the superblock mke2fs wrote (mounting
    changes no count)."""
    rows = parse_df(command(read_vm, "df"))
    problems = []
    for volume in read_setup["volumes"].values():
        assert volume.mount in rows, "%s missing from df" % volume.mount
        device, total, used, available, percent = rows[volume.mount]
        want_total, want_used, want_available = images.linux_df(volume.info)
        want = (volume.name, want_total, want_used, want_available, images.df_use_percent(want_used, want_available))
        if (device, total, used, available, percent) != want:
            problems.append("%s: df says %s, Linux would say %s (reserved descriptor blocks: %d)"
                            % (volume.name, (device, total, used, available, percent), want,
                               volume.info["reserved_gdt_blocks"]))
    assert not problems, "\n".join(problems)


def test_umount_and_mount_elsewhere(read_vm, read_setup):
    """umount, mount at a new path and inside another volume (read-only there), busy and bad cases; the files
    are the host's wherever the volume is; back at its place afterwards."""
    vm = read_vm
    volume = read_setup["volumes"]["gpt4096-1k-r0"]
    host = read_setup["volumes"]["mbr512-4k-r1"]
    digest = volume.manifest[""]["single"].digest
    cd(vm, volume.mount)
    assert command(vm, "umount %s" % volume.mount) == \
        "umount: %s: target is busy (open files, a mount inside, or the current folder)\n" % volume.mount
    ok(vm, "cd /")
    ok(vm, "umount %s" % volume.mount)
    assert volume.name not in command(vm, "mount")
    assert volume.name not in command(vm, "ls /mnt").split()
    # The synthetic folder went with the mount: "not mounted" or "No such file or directory".
    output = command(vm, "umount %s" % volume.mount)
    assert re.fullmatch(r"umount: %s: (not mounted|No such file or directory)\n" % volume.mount, output), output
    assert "No such file or directory" in command(vm, "cat %s/text.txt" % volume.mount)
    assert re.search(r"file system -, mounted on -$", command(vm, "disk"), re.M)

    # A new path nobody made: /data.
    ok(vm, "mount %s /data" % volume.name)
    assert "%s on /data type ext2 (rw)" % volume.name in command(vm, "mount")
    assert command(vm, "sha256sum /data/single") == "%s  /data/single\n" % digest
    assert parse_df(command(vm, "df"))["/data"][0] == volume.name
    assert "file system ext2, mounted on /data" in command(vm, "disk")
    assert "Device or resource busy" in command(vm, "mount %s /elsewhere" % volume.name)
    ok(vm, "umount /data")

    # Inside another volume, read-only: the folder's own files are hidden while it is mounted over.
    inner = host.mount + "/level_00"
    ok(vm, "mount -r %s %s" % (volume.name, inner))
    assert "%s on %s type ext2 (ro)" % (volume.name, inner) in command(vm, "mount")
    assert command(vm, "sha256sum %s/single" % inner) == "%s  %s/single\n" % (digest, inner)
    assert "level_01" not in command(vm, "ls %s" % inner).split()
    assert "Read-only file system" in command(vm, "write %s/new.txt x" % inner)
    assert "target is busy" in command(vm, "umount %s" % host.mount)
    ok(vm, "umount %s" % inner)
    assert command(vm, "ls %s" % inner) == "level_01\n"

    # Bad requests.
    assert command(vm, "mount nvme9n9p9 /x") == "mount: nvme9n9p9: no such disk\n"
    assert "Device or resource busy" in command(vm, "mount %s /y" % host.name)
    # Back where it was, for the other tests.
    ok(vm, "mount %s %s" % (volume.name, volume.mount))
    assert command(vm, "sha256sum %s/single" % volume.mount) == "%s  %s/single\n" % (digest, volume.mount)


# ==========================================================================================================
# Part 2: guest writes, checked by e2fsck and debugfs after poweroff
# ==========================================================================================================


FILL_SEED = 0x5707A6E      # the background pattern of the raw 4096-byte namespace nvme0n4
ORIGIN_SIZE = 1 * MIB
SEED_TEXT = "Hello from the EXOS seed exercise: dd to a raw NVMe namespace and back"


class Model:
    """What a volume must hold: {relative path: bytes | ('d',) | ('l', target)}."""

    def __init__(self, tree):
        self.items = {"lost+found": ("d",)}
        for relative, (kind, value) in images.tree_snapshot(tree).items():
            if kind == "f":
                with open(os.path.join(tree, relative), "rb") as handle:
                    self.items[relative] = handle.read()
            elif kind == "d":
                self.items[relative] = ("d",)
            else:
                self.items[relative] = ("l", value)

    def rename(self, old, new):
        moved = {}
        for path in list(self.items):
            if path == old or path.startswith(old + "/"):
                moved[new + path[len(old):]] = self.items.pop(path)
        assert moved, old
        for path in list(self.items):
            if path == new or path.startswith(new + "/"):
                del self.items[path]
        self.items.update(moved)


class WriteVolume:
    def __init__(self, key, disk, sector_size, part, block_size, revision, tree):
        self.key = key
        self.disk = disk
        self.name = "%sp%d" % (disk, part.number)
        self.mount = "/mnt/" + self.name
        self.sector_size = sector_size
        self.part = part
        self.block_size = block_size
        self.revision = revision
        self.tree = tree
        self.model = Model(tree)
        self.touched = False       # the guest started changing it: e2fsck must pass whatever happened
        self.complete = False      # the guest finished: the model is what it must hold


@pytest.fixture(scope="module")
def write_setup(request, tmp_path_factory, build_dir, cairn_iso):
    tmp = tmp_path_factory.mktemp("storage-write")
    volumes = {}

    def volume(key, block_size, revision, size, reserved=5, extra=None):
        tree = images.make_tree(str(tmp / ("tree-" + key)), block_size, seed=zlib.crc32(key.encode()) & 0xFFFF,
                                many=20, extra=extra)
        fs = str(tmp / ("fs-%s.img" % key))
        images.make_ext2(fs, size, block_size, revision, source=tree, label=key[:16], reserved_percent=reserved)
        return fs, tree

    origin = images.deterministic_bytes(0x0121, ORIGIN_SIZE)
    fs1, tree1 = volume("w-gpt512-1k-r1", 1024, 1, 40 * MIB, extra={"origin.bin": origin})
    fs2, tree2 = volume("w-gpt512-full", 1024, 1, 4 * MIB, reserved=0,
                        extra={"victim": images.deterministic_bytes(7, 200 * KIB)})
    fs3, tree3 = volume("w-gpt4096-1k-r0", 1024, 0, 24 * MIB)
    fs4, tree4 = volume("w-gpt4096-4k-r1", 4096, 1, 24 * MIB)
    parts1 = [Partition(40 * MIB, fs=fs1, name="work"), Partition(4 * MIB, fs=fs2, name="full")]
    parts2 = [Partition(24 * MIB, fs=fs3, name="rev0"), Partition(24 * MIB, fs=fs4, gpt_type="home", name="four")]
    disk1, disk2 = str(tmp / "write-n1.img"), str(tmp / "write-n2.img")
    images.make_disk(disk1, 512, "gpt", parts1, seed=21)
    images.make_disk(disk2, 4096, "gpt", parts2, seed=22)
    drop_file_systems(parts1 + parts2)
    raw3 = str(tmp / "write-n3-raw.img")
    with open(raw3, "wb") as handle:
        handle.truncate(8 * MIB)
    raw4 = str(tmp / "write-n4-raw.img")
    with open(raw4, "wb") as handle:
        handle.write(pattern.pattern_bytes(FILL_SEED, 0, 16 * MIB))
    namespaces = [Namespace(disk1, 512, 1, snapshot=False), Namespace(disk2, 4096, 2, snapshot=False),
                  Namespace(raw3, 512, 3, snapshot=False), Namespace(raw4, 4096, 4, snapshot=False)]
    volumes["gpt512-1k-r1"] = WriteVolume("gpt512-1k-r1", "nvme0n1", 512, parts1[0], 1024, 1, tree1)
    volumes["gpt512-full"] = WriteVolume("gpt512-full", "nvme0n1", 512, parts1[1], 1024, 1, tree2)
    volumes["gpt4096-1k-r0"] = WriteVolume("gpt4096-1k-r0", "nvme0n2", 4096, parts2[0], 1024, 0, tree3)
    volumes["gpt4096-4k-r1"] = WriteVolume("gpt4096-4k-r1", "nvme0n2", 4096, parts2[1], 4096, 1, tree4)
    vm = start_vm(request, tmp_path_factory, build_dir, cairn_iso, "write",
                  extra_args=images.qemu_args("CAIRNWRITE", namespaces), memory_mib=512)
    return {"vm": vm, "tmp": tmp, "volumes": volumes, "namespaces": namespaces, "origin": origin,
            "raw": {}, "reported": []}


@pytest.fixture
def write_vm(write_setup):
    vm = shared(write_setup)
    yield vm
    write_setup["reported"] = check_nvme_events(vm, write_setup["reported"])


WRITE_KEYS = ["gpt512-1k-r1", "gpt4096-1k-r0", "gpt4096-4k-r1"]


@pytest.mark.parametrize("key", WRITE_KEYS)
def test_guest_writes(write_vm, write_setup, key):
    """The write sequence on one volume; the host model follows each step (checked after poweroff)."""
    vm = write_vm
    volume = write_setup["volumes"][key]
    model = volume.model.items
    bs = volume.block_size
    cd(vm, volume.mount)
    volume.touched = True

    # Create, then append with dd (write always replaces; dd without conv=notrunc cuts at seek, so seek to
    # the end appends), once at the end of a text and once across the last direct block.
    ok(vm, "write new.txt hello from the guest")
    model["new.txt"] = b"hello from the guest\n"
    ok(vm, "write tail.txt second line")
    model["tail.txt"] = b"second line\n"
    assert dd(vm, "if=tail.txt of=new.txt bs=1 seek=21") == (12, 0, 12, 0, 12)
    model["new.txt"] += b"second line\n"
    assert command(vm, "cat new.txt") == "hello from the guest\nsecond line\n"
    assert dd(vm, "if=block of=direct_full bs=%d seek=12" % bs) == (1, 0, 1, 0, bs)
    model["direct_full"] += model["block"]      # 13 blocks: the first indirect block appears

    # Overwrite: a whole file (through a hard link's other name too), and bytes in the middle.
    ok(vm, "write text.txt replaced text")
    model["text.txt"] = model["hard_link"] = b"replaced text\n"
    assert command(vm, "cat hard_link") == "replaced text\n"
    assert dd(vm, "if=one of=single bs=1 seek=5000 conv=notrunc") == (1, 0, 1, 0, 1)
    model["single"] = model["single"][:5000] + b"A" + model["single"][5001:]

    # Rename: a file, into a folder, a folder with everything under it, onto an existing file.
    ok(vm, "mv new.txt renamed.txt")
    volume.model.rename("new.txt", "renamed.txt")
    ok(vm, "mv renamed.txt many")
    volume.model.rename("renamed.txt", "many/renamed.txt")
    ok(vm, "mv level_00/level_01/level_02 moved_tree")
    volume.model.rename("level_00/level_01/level_02", "moved_tree")
    ok(vm, "mv script.sh one")
    model["one"] = model.pop("script.sh")
    assert command(vm, "cat one") == "#!/bin/sh\necho hello\n"
    assert "No such file or directory" in command(vm, "cat slow_link")   # its target moved away

    # Delete: small, double indirect, a link, a file in a folder.
    ok(vm, "rm block_plus_one double fast_link many/file_003")
    for name in ("block_plus_one", "double", "fast_link", "many/file_003"):
        del model[name]
    assert "No such file or directory" in command(vm, "rm double")
    ok(vm, "rm -f double")

    # Folders.
    ok(vm, "mkdir made")
    ok(vm, "mkdir -p made/a/b/c")
    model.update({"made": ("d",), "made/a": ("d",), "made/a/b": ("d",), "made/a/b/c": ("d",)})
    ok(vm, "rmdir made/a/b/c")
    del model["made/a/b/c"]
    assert command(vm, "rmdir made") == "rmdir: made: Directory not empty\n"
    assert command(vm, "mkdir made") == "mkdir: made: File exists\n"
    assert command(vm, "rmdir one") == "rmdir: one: Not a directory\n"

    # Copies.
    ok(vm, "cp single made/copy_of_single")
    model["made/copy_of_single"] = model["single"]
    ok(vm, "cp text.txt made")
    model["made/text.txt"] = model["text.txt"]
    assert command(vm, "sha256sum made/copy_of_single") == "%s  made/copy_of_single\n" % sha256(model["single"])

    # Double indirect: 5 MiB from the raw namespace nvme0n4 (the host's pattern).
    assert dd(vm, "if=nvme0n4 of=dd5m.bin bs=64k count=80") == (80, 0, 80, 0, 5 * MIB)
    model["dd5m.bin"] = pattern.pattern_bytes(FILL_SEED, 0, 5 * MIB)
    assert command(vm, "sha256sum dd5m.bin") == "%s  dd5m.bin\n" % sha256(model["dd5m.bin"])

    # Truncation through dd (cut at seek), and a file that starts with a 300 KiB hole.
    assert dd(vm, "if=text.txt of=direct_full bs=100 count=1 seek=3") == (0, 1, 0, 1, 14)
    model["direct_full"] = model["direct_full"][:300] + b"replaced text\n"
    assert dd(vm, "if=text.txt of=holes.bin bs=1k seek=300") == (0, 1, 0, 1, 14)
    model["holes.bin"] = bytes(300 * KIB) + b"replaced text\n"
    assert command(vm, "sha256sum holes.bin") == "%s  holes.bin\n" % sha256(model["holes.bin"])
    if bs == 1024:
        # One byte past 64 MiB + 268 KiB: the first triple indirect block of a 1 KiB volume.
        offset = (12 + 256 + 256 * 256) * 1024 + 5
        assert dd(vm, "if=one of=triple.bin bs=1 count=1 seek=%d" % offset) == (1, 0, 1, 0, 1)
        model["triple.bin"] = bytes(offset) + model["one"][:1]
        assert command(vm, "sha256sum triple.bin", timeout=SLOW_TIMEOUT) == \
            "%s  triple.bin\n" % sha256(model["triple.bin"])
    assert command(vm, "mv made made/a") == "mv: made: Invalid argument\n"

    # What the guest now lists is the model.
    _, listed = parse_ls(command(vm, "ls -l"))
    top = sorted(path for path in model if "/" not in path)
    assert sorted(listed) == top
    for name in top:
        if isinstance(model[name], bytes):
            assert listed[name][4] == len(model[name]), name
    ok(vm, "cd /")
    volume.complete = True


def test_fill_to_no_space(write_vm, write_setup):
    """A 4 MiB volume (no reserved blocks) filled by dd: `No space left on device`, the file keeps what fit,
    df says 100%, new files and folders fail, and after a removal writing works again."""
    vm = write_vm
    volume = write_setup["volumes"]["gpt512-full"]
    model = volume.model.items
    cd(vm, volume.mount)
    volume.touched = True
    full_in, partial_in, full_out, partial_out, written = \
        dd(vm, "if=nvme0n4 of=fill.bin bs=64k", error="dd: error writing 'fill.bin': No space left on device")
    assert 2 * MIB < written < 4 * MIB, written
    # Every record read was written in full but the last, which was cut short (or not written at all).
    assert full_in + partial_in == full_out + partial_out + (0 if partial_out else 1), (full_in, partial_out)
    assert (full_out * 64 * KIB + (written % (64 * KIB))) == written
    model["fill.bin"] = pattern.pattern_bytes(FILL_SEED, 0, written)
    _, listed = parse_ls(command(vm, "ls -l"))
    assert listed["fill.bin"][4] == written
    rows = parse_df(command(vm, "df"))
    assert rows[volume.mount][3] == 0 and rows[volume.mount][4] == "100%", rows[volume.mount]
    assert command(vm, "mkdir more") == "mkdir: more: No space left on device\n"
    output = command(vm, "write more.txt x")
    assert output == "write: more.txt: No space left on device\n", output
    assert "No space left on device" in command(vm, "cp victim victim2")
    # Whatever the refused writes left behind (an empty file is allowed, a half-made folder is not).
    _, listed = parse_ls(command(vm, "ls -l"))
    assert "more" not in listed
    for name in ("more.txt", "victim2"):
        if name in listed:
            assert listed[name][4] == 0, listed[name]
            ok(vm, "rm " + name)
    ok(vm, "rm victim")
    del model["victim"]
    ok(vm, "write more.txt written after the disk was full")
    model["more.txt"] = b"written after the disk was full\n"
    ok(vm, "mkdir more")
    model["more"] = ("d",)
    assert command(vm, "sha256sum fill.bin") == "%s  fill.bin\n" % sha256(model["fill.bin"])
    ok(vm, "cd /")
    volume.complete = True


def seed_dd_exercise(vm, raw_disk, origin, raw_before):
    """seeds/003 TEST1 and TEST2 from the current folder, which holds origin.bin (the bytes `origin`), on the raw
    512-byte-sector disk `raw_disk`, which holds `raw_before`:
    TEST1: dd if=origin.bin of=<raw disk>; dd if=<raw disk> of=readback.bin bs=1M count=1; compare.
    TEST2: a text written with `write`, dd'd to the raw disk, read back with bs=1 count=<size>, compared.
    Leaves origin.txt, readback.bin and readback.txt in the folder; returns what the raw disk holds now."""
    # TEST1
    sectors = len(origin) // 512
    assert dd(vm, "if=origin.bin of=%s" % raw_disk) == (sectors, 0, sectors, 0, len(origin))
    assert dd(vm, "if=%s of=readback.bin bs=1M count=1" % raw_disk) == (1, 0, 1, 0, len(origin))
    sums = sha256_lines(vm, ["origin.bin", "readback.bin", raw_disk])
    assert sums["origin.bin"] == sums["readback.bin"] == sha256(origin), sums
    raw = bytearray(raw_before)
    raw[:len(origin)] = origin

    # TEST2
    text = SEED_TEXT + "\n"
    size = len(text)
    ok(vm, "write origin.txt " + SEED_TEXT)
    assert dd(vm, "if=origin.txt of=%s" % raw_disk) == (0, 1, 0, 1, size)
    raw[:size] = text.encode()
    assert dd(vm, "if=%s of=readback.txt bs=1 count=%d" % (raw_disk, size)) == (size, 0, size, 0, size)
    assert command(vm, "cat readback.txt") == text
    sums = sha256_lines(vm, ["origin.txt", "readback.txt", raw_disk])
    assert sums["origin.txt"] == sums["readback.txt"] == sha256(text.encode()), sums
    assert sums[raw_disk] == sha256(bytes(raw)), "the raw disk is not origin.bin with the text over its start"
    return bytes(raw)


def test_seed_dd_exercise(write_vm, write_setup):
    """seeds/003 (EXOS-Linux TEST1 and TEST2) with Cairn's dd and a raw namespace (nvme0n3):
    TEST1: dd if=origin.bin of=<raw disk>; dd if=<raw disk> of=readback.bin bs=1M count=1; compare.
    TEST2: a text written with `write`, dd'd to the raw disk, read back with bs=1 count=<size>, compared.
    The same TEST2 on the 4096-byte namespace nvme0n4, at an offset inside a sector (read-modify-write)."""
    vm = write_vm
    volume = write_setup["volumes"]["gpt512-1k-r1"]
    origin = write_setup["origin"]
    cd(vm, volume.mount)
    volume.touched = True
    write_setup["raw"]["nvme0n3"] = "started"

    raw3 = seed_dd_exercise(vm, "nvme0n3", origin, bytes(8 * MIB))
    text = SEED_TEXT + "\n"
    size = len(text)
    volume.model.items["readback.bin"] = origin
    volume.model.items["origin.txt"] = volume.model.items["readback.txt"] = text.encode()
    write_setup["raw"]["nvme0n3"] = raw3

    # TEST2 on 4096-byte sectors, 1234 bytes into the third sector from the end.
    write_setup["raw"]["nvme0n4"] = "started"
    offset = 16 * MIB - 3 * 4096 + 1234
    assert dd(vm, "if=origin.txt of=nvme0n4 bs=1 seek=%d" % offset) == (size, 0, size, 0, size)
    assert dd(vm, "if=nvme0n4 of=readback4k.txt bs=1 skip=%d count=%d" % (offset, size)) == (size, 0, size, 0, size)
    assert command(vm, "cat readback4k.txt") == text
    volume.model.items["readback4k.txt"] = text.encode()
    raw4 = bytearray(pattern.pattern_bytes(FILL_SEED, 0, 16 * MIB))
    raw4[offset:offset + size] = text.encode()
    assert command(vm, "sha256sum nvme0n4") == "%s  nvme0n4\n" % sha256(bytes(raw4))
    write_setup["raw"]["nvme0n4"] = bytes(raw4)
    write_setup["raw"]["text_size"] = size
    ok(vm, "cd /")


# `cache`: disk, blocks used/capacity, cached, budget, hits, misses, readahead, dirty, writebacks.
CACHE_ROW_RE = re.compile(r"^(nvme\S+)\s+(\d+)/(\d+)\s+\S+ \S+\s+\S+ \S+\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$",
                          re.M)


def cache_dirty(vm):
    """{disk: (dirty blocks, blocks written back)} from `cache`."""
    return {m.group(1): (int(m.group(7)), int(m.group(8))) for m in CACHE_ROW_RE.finditer(command(vm, "cache"))}


def check_written_volumes(write_setup, stage):
    """e2fsck -fn and the model against the backing files as they are now. Returns the problems."""
    tmp = write_setup["tmp"]
    problems = []
    for volume in write_setup["volumes"].values():
        if not volume.touched:
            continue
        disk = next(ns.path for ns in write_setup["namespaces"] if "nvme0n%d" % ns.nsid == volume.disk)
        part_image = images.partition_image(disk, volume.part, volume.sector_size,
                                            str(tmp / ("%s-%s.img" % (stage, volume.key))))
        status, report = images.e2fsck(part_image)
        if status != 0:
            problems.append("%s %s: e2fsck -fn exit %d (image kept: %s):\n%s" % (stage, volume.name, status,
                                                                                 part_image, report))
        if not volume.complete:
            problems.append("%s %s: the guest's sequence did not finish (see that test); only e2fsck was checked"
                            % (stage, volume.name))
            continue
        out = str(tmp / ("%s-rdump-%s" % (stage, volume.key)))
        images.debugfs_rdump(part_image, "/", out)
        found = images.tree_snapshot(out)
        expected = {}
        for path, value in volume.model.items.items():
            if isinstance(value, bytes):
                expected[path] = ("f", sha256(value))
            elif value[0] == "d":
                expected[path] = ("d", None)
            else:
                expected[path] = ("l", value[1])
        for path in sorted(set(found) | set(expected)):
            if found.get(path) != expected.get(path):
                problems.append("%s %s: /%s is %s on the image, the guest was told to make %s"
                                % (stage, volume.name, path, found.get(path), expected.get(path)))
        for path in ("text.txt", "hard_link", "many/renamed.txt", "dd5m.bin", "fill.bin", "readback.txt",
                     "after_sync.txt"):
            value = volume.model.items.get(path)
            if isinstance(value, bytes) and images.debugfs_cat(part_image, "/" + path) != value:
                problems.append("%s %s: debugfs cat /%s differs" % (stage, volume.name, path))
        shutil.rmtree(out, ignore_errors=True)
        if status == 0:
            os.remove(part_image)
    return problems


def test_written_images_check_on_host(write_setup):
    """`sync`, then on the host (QEMU still running): e2fsck -fn clean on every partition the guest changed,
    every file, folder and link as the model says (debugfs rdump, debugfs cat). Then one more file on each
    volume, left dirty in the cache, and `poweroff` (the shutdown hook writes it back): the same checks
    again, and the raw namespaces byte for byte (cmp, as in seeds/003)."""
    vm = shared(write_setup)
    touched = [v for v in write_setup["volumes"].values() if v.touched]
    if not touched and not write_setup["raw"]:
        pytest.skip("no write test ran")
    tmp = write_setup["tmp"]
    problems = []

    dirty = cache_dirty(vm)
    output = command(vm, "sync", timeout=SLOW_TIMEOUT)
    for disk in ("nvme0n1", "nvme0n2", "nvme0n3", "nvme0n4"):
        match = re.search(r"^%s: (\d+) blocks? written back, flushed$" % disk, output, re.M)
        assert match, "sync said nothing (or an error) about %s:\n%s" % (disk, output)
        assert int(match.group(1)) == dirty[disk][0], (disk, dirty[disk], output)
    assert all(value[0] == 0 for value in cache_dirty(vm).values()), command(vm, "cache")
    problems += check_written_volumes(write_setup, "after-sync")

    # Left in the cache: only the shutdown hook can write these back.
    for volume in touched:
        if volume.complete:
            ok(vm, "write %s/after_sync.txt written after the sync to %s" % (volume.mount, volume.name))
            volume.model.items["after_sync.txt"] = ("written after the sync to %s\n" % volume.name).encode()
    dirty = cache_dirty(vm)
    assert dirty["nvme0n1"][0] > 0 and dirty["nvme0n2"][0] > 0, dirty
    write_setup["powered_off"] = True
    poweroff(vm)
    write_setup["reported"] = check_nvme_events(vm, write_setup["reported"])
    problems += check_written_volumes(write_setup, "after-poweroff")

    for name, expected in write_setup["raw"].items():
        if name == "text_size":
            continue
        path = next(ns.path for ns in write_setup["namespaces"] if "nvme0n%d" % ns.nsid == name)
        if not isinstance(expected, bytes):
            problems.append("%s: the dd exercise did not finish" % name)
            continue
        with open(path, "rb") as handle:
            data = handle.read()
        if data != expected:
            first = next((i for i in range(min(len(data), len(expected))) if data[i] != expected[i]), None)
            problems.append("%s: backing file differs from what the guest wrote (first at byte %s)" % (name, first))
    # The seed exercise's own comparisons, with cmp as in seeds/003.
    if isinstance(write_setup["raw"].get("nvme0n3"), bytes):
        size = write_setup["raw"]["text_size"]
        origin = str(tmp / "origin.bin")
        with open(origin, "wb") as handle:
            handle.write(write_setup["origin"])
        text_file = str(tmp / "origin.txt")
        with open(text_file, "wb") as handle:
            handle.write((SEED_TEXT + "\n").encode())
        raw3 = next(ns.path for ns in write_setup["namespaces"] if ns.nsid == 3)
        for args in (["cmp", "-n", str(size), text_file, raw3],
                     ["cmp", "-i", str(size), "-n", str(ORIGIN_SIZE - size), origin, raw3]):
            result = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if result.returncode != 0:
                problems.append("%s: %s" % (" ".join(args), result.stdout.decode()))
    assert not problems, "\n".join(problems)


# ==========================================================================================================
# Part 3: a read-only disk
# ==========================================================================================================


@pytest.fixture(scope="module")
def readonly_setup(request, tmp_path_factory, build_dir, cairn_iso):
    tmp = tmp_path_factory.mktemp("storage-readonly")
    tree1 = images.make_tree(str(tmp / "tree1"), 1024, seed=31, many=10)
    tree2 = images.make_tree(str(tmp / "tree2"), 4096, seed=32, many=10)
    fs1, fs2 = str(tmp / "fs1.img"), str(tmp / "fs2.img")
    images.make_ext2(fs1, 12 * MIB, 1024, 1, source=tree1)
    images.make_ext2(fs2, 12 * MIB, 4096, 0, source=tree2)
    disk = str(tmp / "readonly.img")
    parts = [Partition(12 * MIB, fs=fs1, name="one"), Partition(12 * MIB, fs=fs2, name="two")]
    images.make_disk(disk, 512, "gpt", parts, seed=31)
    drop_file_systems(parts)
    pristine = open(disk, "rb").read()
    vm = start_vm(request, tmp_path_factory, build_dir, cairn_iso, "readonly",
                  extra_args=images.qemu_args("CAIRNRO", [Namespace(disk, 512, 1, snapshot=False)]))
    return {"vm": vm, "disk": disk, "parts": parts, "pristine": pristine, "reported": [], "tree1": tree1}


def test_read_only_disk_refuses_every_write(readonly_setup):
    vm = shared(readonly_setup)
    disk = readonly_setup["disk"]
    mount1, mount2 = "/mnt/nvme0n1p1", "/mnt/nvme0n1p2"
    text = open(os.path.join(readonly_setup["tree1"], "text.txt"), "rb").read().decode()

    guest_hash = command(vm, "sha256sum nvme0n1").split()[0]
    assert command(vm, "disk access nvme0n1 ro") == "nvme0n1: access ro\n"
    # Going read-only wrote the dirty blocks (the mounts' superblock updates) back: the backing file is now
    # what the guest sees, and must stay so.
    with open(disk, "rb") as handle:
        at_read_only = handle.read()
    assert sha256(at_read_only) == guest_hash, "the backing file is not what the guest read before going read-only"
    # Mounting changed nothing but the two superblocks (mount count and time).
    pristine = readonly_setup["pristine"]
    changed = {i // 512 for i in range(0, len(at_read_only), 512) if at_read_only[i:i + 512] != pristine[i:i + 512]}
    superblocks = {part.start + 2 + k for part in readonly_setup["parts"] for k in (0, 1)}
    assert changed <= superblocks, "mounting changed more than the superblocks: sectors %s" % sorted(changed)[:20]
    listing = command(vm, "disk")
    assert re.search(r"^nvme0n1\s.*\sro\s*$", listing, re.M)
    # The mounts on it say so too (they were mounted read-write).
    assert "mounted on %s (ro)" % mount1 in listing, listing
    assert "nvme0n1p1 on %s type ext2 (ro" % mount1 in command(vm, "mount")

    refused = "Read-only file system"
    cases = [
        ("write %s/new.txt data" % mount1, "write: %s/new.txt: %s\n" % (mount1, refused)),
        ("write %s/text.txt data" % mount1, "write: %s/text.txt: %s\n" % (mount1, refused)),
        ("mkdir %s/folder" % mount1, "mkdir: %s/folder: %s\n" % (mount1, refused)),
        ("mkdir -p %s/a/b" % mount2, "mkdir: %s/a/b: %s\n" % (mount2, refused)),
        ("rm %s/one" % mount1, "rm: %s/one: %s\n" % (mount1, refused)),
        ("rm %s/fast_link" % mount2, "rm: %s/fast_link: %s\n" % (mount2, refused)),
        ("rmdir %s/many" % mount1, "rmdir: %s/many: %s\n" % (mount1, refused)),
        ("rmdir %s/locked" % mount2, "rmdir: %s/locked: %s\n" % (mount2, refused)),
        ("mv %s/one %s/two" % (mount1, mount1), "mv: %s/one: %s\n" % (mount1, refused)),
        # Across volumes mv copies, then removes: the copy is refused first.
        ("mv %s/text.txt %s/text.txt" % (mount1, mount2), "mv: %s/text.txt: %s\n" % (mount2, refused)),
        ("cp %s/text.txt %s/copy.txt" % (mount1, mount1), "cp: %s/copy.txt: %s\n" % (mount1, refused)),
        ("cp %s/text.txt %s/single" % (mount1, mount2), "cp: %s/single: %s\n" % (mount2, refused)),
    ]
    for line, expected in cases:
        output = command(vm, line)
        assert output == expected, "%s:\n%s" % (line, output)
    # dd to a file (new, existing with notrunc), to the raw disk, to a partition.
    assert command(vm, "dd if=%s/one of=%s/dd.bin" % (mount1, mount1)) == \
        "dd: failed to open '%s/dd.bin': %s\n" % (mount1, refused)
    dd(vm, "if=%s/one of=%s/single conv=notrunc" % (mount1, mount1),
       error="dd: error writing '%s/single': %s" % (mount1, refused))
    for target in ("nvme0n1", "nvme0n1p1", "nvme0n1p2"):
        dd(vm, "if=%s/block of=%s bs=512 count=1 seek=3" % (mount1, target),
           error="dd: error writing '%s': %s" % (target, refused))
    # The disk layer's own writers.
    for target in ("nvme0n1", "nvme0n1p1"):
        output = command(vm, "disk fill %s 0 1 7" % target)
        assert output == "disk: write of %s LBA 0+1 failed: read-only or disabled\n" % target, output
    # Nothing changed, and reading still works.
    assert command(vm, "cat %s/text.txt" % mount1) == text
    assert "new.txt" not in command(vm, "ls %s" % mount1).split()
    assert command(vm, "sha256sum nvme0n1") == "%s  nvme0n1\n" % guest_hash
    assert command(vm, "sync") == "nvme0n1: 0 blocks written back, flushed\n"
    # 'off': reads fail too, with an error and no hash; back to 'ro' they work again.
    assert command(vm, "disk access nvme0n1 off") == "nvme0n1: access off\n"
    assert command(vm, "sha256sum nvme0n1") == "sha256sum: nvme0n1: Input/output error\n"
    logged, output = split_log(command(vm, "cat %s/text.txt" % mount1))
    assert output == "cat: %s/text.txt: Input/output error\n" % mount1, output
    assert all("corrupt" not in line for line in logged), logged   # a refused read is no corruption
    assert command(vm, "disk access nvme0n1 ro") == "nvme0n1: access ro\n"
    assert command(vm, "sha256sum nvme0n1") == "%s  nvme0n1\n" % guest_hash
    assert command(vm, "cat %s/text.txt" % mount1) == text
    readonly_setup["reported"] = check_nvme_events(vm, readonly_setup["reported"])
    readonly_setup["powered_off"] = True
    poweroff(vm)
    with open(disk, "rb") as handle:
        after = handle.read()
    assert sha256(after) == sha256(at_read_only), "the image changed after the disk went read-only"
    check_nvme_events(vm, readonly_setup["reported"])


# ==========================================================================================================
# Part 4: damaged volumes
# ==========================================================================================================


# 20 KiB of text: 12 direct blocks, then the single indirect block (damaged in one volume).
STORY = b"".join(b"line %05d of a story that needs an indirect block\n" % i for i in range(400))[:20 * KIB]


@pytest.fixture(scope="module")
def corrupt_setup(request, tmp_path_factory, build_dir, cairn_iso):
    tmp = tmp_path_factory.mktemp("storage-corrupt")
    parts = []
    notes = {}
    for number, damage in enumerate(["magic", "blocks_per_group", "record_length", "indirect", None], start=1):
        tree = images.make_tree(str(tmp / ("tree%d" % number)), 1024, seed=40 + number, many=5,
                                extra={"story.txt": STORY})
        fs = str(tmp / ("fs%d.img" % number))
        images.make_ext2(fs, 4 * MIB, 1024, 1, source=tree)
        if damage == "magic":
            images.corrupt_magic(fs)
        elif damage == "blocks_per_group":
            images.corrupt_blocks_per_group(fs)
        elif damage == "record_length":
            notes["record_length"] = images.corrupt_record_length(fs, "/many", entry_index=2)
        elif damage == "indirect":
            notes["indirect"] = images.corrupt_indirect(fs, "/story.txt", slot=0)
        parts.append(Partition(4 * MIB, fs=fs, name=damage or "good"))
    disk = str(tmp / "corrupt.img")
    images.make_disk(disk, 512, "gpt", parts, seed=41)
    drop_file_systems(parts)
    vm = start_vm(request, tmp_path_factory, build_dir, cairn_iso, "corrupt",
                  extra_args=images.qemu_args("CAIRNBAD", [Namespace(disk, 512, 1, snapshot=True)]))
    return {"vm": vm, "notes": notes, "trees": [str(tmp / ("tree%d" % n)) for n in range(1, 6)], "reported": []}


@pytest.fixture
def corrupt_vm(corrupt_setup):
    vm = shared(corrupt_setup)
    yield vm
    corrupt_setup["reported"] = check_nvme_events(vm, corrupt_setup["reported"])


def problem_lines(log, disk):
    """Log lines at WARNING or ERROR level that name `disk` (as a word)."""
    return [line for line in log.split("\n")
            if re.search(r"\b(WARNING|ERROR)\b", line) and re.search(r"\b%s\b" % re.escape(disk), line)]


def test_bad_superblock_magic(corrupt_vm):
    vm = corrupt_vm
    log = guest_log(vm)
    assert "nvme0n1p1" not in command(vm, "mount")
    assert "nvme0n1p1" not in command(vm, "ls /mnt").split()
    # Without the magic it is no EXT2 volume (nor anything else Cairn knows): one line in the log says so,
    # at debug level (a partition may hold no file system at all), no warning.
    lines = [line for line in log.split("\n")
             if re.search(r"\bnvme0n1p1\b", line) and "[PartitionRegister]" not in line]
    assert len(lines) == 1, "expected one line about nvme0n1p1 not being mounted:\n" + "\n".join(lines)
    assert "no known file system" in lines[0], lines[0]
    assert problem_lines(log, "nvme0n1p1") == []
    assert command(vm, "mount nvme0n1p1 /x") == \
        "mount: nvme0n1p1: no EXT2 file system found (wrong fs type or bad superblock)\n"
    assert "file system -, mounted on -" in [l for l in command(vm, "disk").split("\n") if "partition 1 of" in l][0]


def test_zero_blocks_per_group(corrupt_vm):
    vm = corrupt_vm
    boot_log = guest_log(vm)
    assert "nvme0n1p2" not in command(vm, "mount")
    # Mounting by hand: refused, with the reason on the console once.
    logged, output = split_log(command(vm, "mount nvme0n1p2 /x"))
    assert output == "mount: /x: Invalid argument\n", output
    assert len(logged) == 1 and "bad blocks per group (0)" in logged[0], logged
    assert "nvme0n1p2" not in command(vm, "mount")
    # At boot: one line reports it.
    lines = problem_lines(boot_log, "nvme0n1p2")
    assert len(lines) == 1, "one log line must report the problem, got %d:\n%s" % (len(lines), "\n".join(lines))
    assert "bad blocks per group (0)" in lines[0], lines[0]


def test_record_length_zero(corrupt_vm, corrupt_setup):
    vm = corrupt_vm
    mount = "/mnt/nvme0n1p3"
    tree = corrupt_setup["trees"][2]
    before = problem_lines(guest_log(vm), "nvme0n1p3")
    assert before == [], "problems reported before the folder was read:\n" + "\n".join(before)
    # The warning comes on the console with the first error, once.
    logged, output = split_log(command(vm, "ls %s/many" % mount))
    assert output == "ls: %s/many: Input/output error\n" % mount
    assert len(logged) == 1 and "corrupt file system" in logged[0] and "read-only" in logged[0], logged
    assert command(vm, "ls %s/many" % mount) == "ls: %s/many: Input/output error\n" % mount
    lines = problem_lines(guest_log(vm), "nvme0n1p3")
    assert lines == logged, "\n".join(lines)
    assert "record length 0" in lines[0], lines[0]
    # The rest of the volume reads; changes are refused from now on.
    text = open(os.path.join(tree, "text.txt"), "rb").read().decode()
    assert command(vm, "cat %s/text.txt" % mount) == text
    assert "level_00" in command(vm, "ls %s" % mount).split()
    assert command(vm, "write %s/new.txt x" % mount) == "write: %s/new.txt: Read-only file system\n" % mount
    # The volume recorded its error state (the disk is writable): mounted again, it says to run e2fsck.
    ok(vm, "umount %s" % mount)
    logged, output = split_log(command(vm, "mount nvme0n1p3 %s" % mount))
    assert output == "", output
    assert len(logged) == 1 and "run e2fsck" in logged[0], logged
    assert command(vm, "cat %s/text.txt" % mount) == text


def test_indirect_block_outside_partition(corrupt_vm, corrupt_setup):
    vm = corrupt_vm
    mount = "/mnt/nvme0n1p4"
    # cat prints the 12 direct blocks (a read that meets the damage returns the bytes before it), then stops
    # at the damaged pointer with the error; one warning.
    logged, output = split_log(command(vm, "cat %s/story.txt" % mount))
    error = "cat: %s/story.txt: Input/output error\n" % mount
    assert output.endswith(error), output[-300:]
    printed = output[:-len(error)].encode()
    assert printed == STORY[:12 * KIB], printed[-200:]
    assert len(logged) == 1 and "corrupt file system" in logged[0], logged
    lines = problem_lines(guest_log(vm), "nvme0n1p4")
    assert lines == logged, "\n".join(lines)
    assert str(corrupt_setup["notes"]["indirect"][1]) in lines[0], lines[0]
    output = command(vm, "sha256sum %s/story.txt" % mount)
    assert output == "sha256sum: %s/story.txt: Input/output error\n" % mount, output
    assert command(vm, "sha256sum %s/one" % mount) == "%s  %s/one\n" % (sha256(b"A"), mount)
    # dd: the direct blocks still read; the first block behind the damaged pointer does not.
    assert dd(vm, "if=%s/story.txt of=/mnt/nvme0n1p5/head.txt bs=1k count=12" % mount) == (12, 0, 12, 0, 12 * KIB)
    assert command(vm, "sha256sum /mnt/nvme0n1p5/head.txt") == \
        "%s  /mnt/nvme0n1p5/head.txt\n" % sha256(STORY[:12 * KIB])
    assert dd(vm, "if=%s/story.txt of=/mnt/nvme0n1p5/bad.txt bs=1k skip=12 count=1" % mount,
              error="dd: error reading '%s/story.txt': Input/output error" % mount) == (0, 0, 0, 0, 0)
    # Other files of the volume are fine; it is read-only now.
    assert command(vm, "sha256sum %s/single" % mount) == "%s  %s/single\n" % (
        images.sha256_file(os.path.join(corrupt_setup["trees"][3], "single")), mount)
    assert command(vm, "rm %s/one" % mount) == "rm: %s/one: Read-only file system\n" % mount


def test_shell_still_usable_after_damage(corrupt_vm, corrupt_setup):
    vm = corrupt_vm
    mount = "/mnt/nvme0n1p5"
    tree = corrupt_setup["trees"][4]
    digest = images.sha256_file(os.path.join(tree, "double"))
    assert command(vm, "sha256sum %s/double" % mount) == "%s  %s/double\n" % (digest, mount)
    ok(vm, "write %s/after.txt still working" % mount)
    assert command(vm, "cat %s/after.txt" % mount) == "still working\n"
    assert command(vm, "echo fine") == "fine\n"
    rows = parse_df(command(vm, "df"))
    assert set(rows) == {"/mnt/nvme0n1p3", "/mnt/nvme0n1p4", "/mnt/nvme0n1p5"}, rows
    # The good volume and the one without a file system gave no warning; nothing faulted.
    log = guest_log(vm)
    assert problem_lines(log, "nvme0n1p5") == [] and problem_lines(log, "nvme0n1p1") == []
    assert problem_lines(log, "nvme0n1") == [], "warnings about the whole disk:\n" + "\n".join(
        problem_lines(log, "nvme0n1"))
    assert not re.search(r"exception|fault|panic", log, re.I), log[-3000:]


# ==========================================================================================================
# Host-only: the Python partition table writer against the real tools
# ==========================================================================================================


SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
int ioctl(int fd, unsigned long request, ...) {
    va_list ap;
    va_start(ap, request);
    void* arg = va_arg(ap, void*);
    va_end(ap);
    struct stat st;
    if (request == BLKSSZGET || request == BLKPBSZGET) { *(int*)arg = 4096; return 0; }
    if (request == BLKGETSIZE64 && fstat(fd, &st) == 0) { *(uint64_t*)arg = st.st_size; return 0; }
    if (request == BLKGETSIZE && fstat(fd, &st) == 0) { *(unsigned long*)arg = st.st_size / 512; return 0; }
    static int (*real)(int, unsigned long, ...);
    if (!real) real = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
    return real(fd, request, arg);
}
"""


def test_mke2fs_revision_0_limits(tmp_path):
    """What storage_images.py documents about `mke2fs -r 0 -d`: a tree with folders, links, holes and a hard
    link stays revision 0; a file of 2 GiB or more silently turns the volume into revision 1 with large_file,
    which make_ext2 refuses loudly."""
    tree = images.make_tree(str(tmp_path / "tree"), 1024, seed=5, many=3, triple=True)
    info = images.make_ext2(str(tmp_path / "r0.img"), 8 * MIB, 1024, 0, source=tree)
    assert (info["revision"], info["inode_size"], info["feature_incompat"]) == (0, 128, 0)
    assert images.e2fsck(str(tmp_path / "r0.img"))[0] == 0
    big = tmp_path / "big"
    big.mkdir()
    with open(str(big / "two_gib"), "wb") as handle:
        handle.truncate(2 * 1024 * MIB)
    with pytest.raises(RuntimeError, match="made revision 1, not 0"):
        images.make_ext2(str(tmp_path / "r0-big.img"), 8 * MIB, 4096, 0, source=str(big))
    assert images.superblock_info(str(tmp_path / "r0-big.img"))["feature_ro_compat"] & 0x2  # large_file


def test_python_partition_writer_matches_the_tools(tmp_path):
    """The tables written in Python for 4096-byte namespaces, checked on 512-byte images by sgdisk and parted
    and on a 4096-byte image by sgdisk under a block-size shim (when a C compiler is there)."""
    parts = [Partition(3 * MIB, name="alpha"), Partition(2 * MIB, gpt_type="home", name="beta")]
    gpt = str(tmp_path / "gpt.img")
    images.make_disk(gpt, 512, "gpt", parts, use_tools=False)
    verify = images.run(["sgdisk", "-v", gpt], check=False).stdout.decode()
    assert "No problems found" in verify, verify
    assert images.sgdisk_partitions(gpt) == {1: (2048, 2048 + 6143), 2: (8192, 8192 + 4095)}
    info = images.run(["sgdisk", "-i", "2", gpt]).stdout.decode()
    assert "933AC7E1-2EB4-4F13-B844-0E14E2AEF915" in info and "'beta'" in info, info

    mbr = str(tmp_path / "mbr.img")
    parts = [Partition(3 * MIB, mbr_type=0x83), Partition(2 * MIB, mbr_type=0x0C)]
    images.make_disk(mbr, 512, "mbr", parts, use_tools=False)
    assert images.parted_partitions(mbr) == {1: (2048, 8191), 2: (8192, 12287)}

    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return
    shim_c, shim = str(tmp_path / "shim.c"), str(tmp_path / "shim.so")
    with open(shim_c, "w") as handle:
        handle.write(SHIM)
    if subprocess.run([compiler, "-shared", "-fPIC", "-o", shim, shim_c, "-ldl"]).returncode != 0:
        return
    gpt4k = str(tmp_path / "gpt4k.img")
    parts = [Partition(3 * MIB, name="alpha"), Partition(2 * MIB, gpt_type="msdata", name="beta")]
    images.make_disk(gpt4k, 4096, "gpt", parts, use_tools=False)
    environment = dict(os.environ, LD_PRELOAD=shim)
    result = subprocess.run([images.tool("sgdisk"), "-v", gpt4k], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=environment)
    assert "No problems found" in result.stdout.decode(), result.stdout.decode()
    result = subprocess.run([images.tool("sgdisk"), "-p", gpt4k], stdout=subprocess.PIPE, env=environment)
    listing = result.stdout.decode()
    assert re.search(r"Sector size \(logical[^)]*\): 4096", listing), listing
    assert re.search(r"^\s+1\s+256\s+1023\s", listing, re.M) and re.search(r"^\s+2\s+1024\s+1535\s", listing, re.M), \
        listing
