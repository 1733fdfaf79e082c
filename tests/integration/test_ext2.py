"""test_ext2.py - EXT2 and the VFS from the shell, on the default disk image (GPT, one EXT2 partition with 4 KiB
blocks filled from tools/disk-content by tools/make-disk-image.sh).

The partition must be mounted at boot at /mnt/nvme0n1p1, list and read like the host tree, take writes, and
after `poweroff` the host must find the file system clean (`e2fsck -fn`) holding exactly what the guest wrote
(`debugfs`), including what commands wrote through `> FILE` and `>> FILE` (a `report` among them). The disk is a
copy with snapshot off, so the guest's writes reach it.

Skipped while the kernel has no `mount` command: KernelMain must call VFSInit() and ShellRegisterFileCommands().
"""

import hashlib
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import REPOSITORY

CONTENT = os.path.join(REPOSITORY, "tools", "disk-content")
MOUNT = "/mnt/nvme0n1p1"
SECTOR = 512


def _tool(name):
    return shutil.which(name) or os.path.join("/sbin", name)


def _partition_bounds(disk):
    """First and last sector of partition 1, as sgdisk reads them back."""
    info = subprocess.run([_tool("sgdisk"), "--info=1", disk], capture_output=True, text=True, check=True).stdout
    first = int(info.split("First sector: ")[1].split()[0])
    last = int(info.split("Last sector: ")[1].split()[0])
    return first, last


def _extract_partition(disk, out):
    first, last = _partition_bounds(disk)
    with open(disk, "rb") as source, open(out, "wb") as target:
        source.seek(first * SECTOR)
        target.write(source.read((last - first + 1) * SECTOR))


def _host_file(relative):
    with open(os.path.join(CONTENT, relative), "rb") as file:
        return file.read()


def test_ext2_mount_read_write(make_vm, cairn_disk, tmp_path):
    if cairn_disk is None:
        pytest.skip("no disk image (make disk)")
    disk = str(tmp_path / "disk.img")
    shutil.copy(cairn_disk, disk)
    vm = make_vm(nvme_disks=[{"path": disk, "snapshot": False}])
    vm.wait_boot()
    if "mount" not in vm.command("help"):
        pytest.skip("the file commands are not registered (KernelMain: VFSInit, ShellRegisterFileCommands)")

    # Mounted at boot; the listing and the contents are the host's.
    assert "nvme0n1p1 on %s type ext2 (rw)" % MOUNT in vm.command("mount")
    names = sorted(vm.command("ls %s" % MOUNT).split())
    assert names == sorted(os.listdir(CONTENT) + ["lost+found"])
    assert vm.command("cat %s/hello.txt" % MOUNT) == _host_file("hello.txt").decode()
    digest = hashlib.sha256(_host_file("docs/notes.txt")).hexdigest()
    assert vm.command("sha256sum %s/docs/notes.txt" % MOUNT) == "%s  %s/docs/notes.txt\n" % (digest, MOUNT)
    assert "No such file or directory" in vm.command("cat %s/nofile" % MOUNT)

    # The current folder is in the prompt; relative paths start there.
    start = vm.mark()
    vm.send("cd %s/docs\r" % MOUNT)
    vm.wait_for(r"^%s/docs> " % MOUNT, start=start)
    assert vm.command("pwd") == "%s/docs\n" % MOUNT

    # Writes: a new file, a folder, a copy, a move, a removal, a file of several MiB through dd.
    assert vm.command("write written.txt Written by Cairn") == ""
    assert vm.command("cat written.txt") == "Written by Cairn\n"
    assert vm.command("mkdir -p deep/er") == ""
    assert vm.command("cp notes.txt deep/er/copy.txt") == ""
    assert vm.command("mv deep/er/copy.txt deep/moved.txt") == ""
    assert vm.command("rm ../README.txt") == ""
    output = vm.command("dd if=nvme0n1 of=big.bin bs=64k count=80", timeout=120)
    assert "80+0 records in\n80+0 records out\n5242880 bytes (5.2 MB, 5.0 MiB) copied" in output
    long_listing = vm.command("ls -l")
    assert "-rw-r--r-- 1 0 0 5242880 " in long_listing and " big.bin\n" in long_listing
    # Output into files (`>`, `>>`), /dev/null, and `time` at the terminal.
    assert vm.command("echo one > echo.txt") == ""
    assert vm.command("echo two >> echo.txt") == ""
    assert vm.command("cat echo.txt") == "one\ntwo\n"
    assert vm.command("nvme list > nvme.txt") == ""
    assert vm.command("report > report.txt", timeout=120) == ""
    assert re.fullmatch(r"real \d+\.\d{6} s\n", vm.command("time cat big.bin > /dev/null", timeout=120))
    assert vm.command("echo x > nodir/x") == "echo: cannot write 'nodir/x': No such file or directory\n"
    stat = vm.command("stat written.txt")
    assert "  Size: 17 " in stat and "regular file" in stat and "Device: nvme0n1p1" in stat
    vm.command("cd /")
    assert vm.command("umount %s" % MOUNT) == ""
    assert "nvme0n1p1" not in vm.command("ls /mnt")

    vm.send("poweroff\r")
    deadline = time.time() + 30
    while vm.running() and time.time() < deadline:
        time.sleep(0.2)
    vm.stop()

    # The host's tools see a clean file system holding what the guest wrote.
    partition = str(tmp_path / "partition.img")
    _extract_partition(disk, partition)
    fsck = subprocess.run([_tool("e2fsck"), "-fn", partition], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr

    def debugfs(command):
        return subprocess.run([_tool("debugfs"), "-R", command, partition], capture_output=True).stdout

    assert debugfs("cat /docs/written.txt") == b"Written by Cairn\n"
    assert debugfs("cat /docs/echo.txt") == b"one\ntwo\n"
    assert re.search(rb"^nvme0n1 ", debugfs("cat /docs/nvme.txt"), re.M)
    report = debugfs("cat /docs/report.txt")
    assert re.match(rb"==== Cairn \S+ report ====\n", report) and report.endswith(b"==== end of report ====\n"), report[:200]
    assert debugfs("cat /docs/deep/moved.txt") == _host_file("docs/notes.txt")
    assert b"File not found" not in subprocess.run([_tool("debugfs"), "-R", "stat /docs/deep/er", partition],
                                                   capture_output=True).stderr
    dumped = str(tmp_path / "big.bin")
    subprocess.run([_tool("debugfs"), "-R", "dump /docs/big.bin %s" % dumped, partition], capture_output=True,
                   check=True)
    with open(disk, "rb") as source, open(dumped, "rb") as big:
        # The guest copied the first 5 MiB of the raw disk; the part before the partition never changed.
        first, _ = _partition_bounds(disk)
        expected = source.read(first * SECTOR)
        assert big.read(first * SECTOR) == expected
    assert b"README.txt" not in debugfs("ls /")
