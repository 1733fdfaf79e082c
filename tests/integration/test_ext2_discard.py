"""test_ext2_discard.py - EXT2 tells the NVMe disk about freed blocks (DF_DISK_TRIM -> Dataset Management),
unless mounted with -o nodiscard.

The default disk image is attached with discard=unmap on a sparse copy, so blocks the guest deallocates
are punched out of the backing file and its allocated size (st_blocks) drops.
"""

import os
import subprocess

from cairn_qemu import BOOT_TIMEOUT

MIB = 1024 * 1024


def allocated(path):
    return os.stat(path).st_blocks * 512


def boot_with_discard(make_vm, cairn_disk, tmp_path):
    disk = str(tmp_path / "discard.img")
    # A sparse copy: only blocks that hold data are allocated on the host.
    subprocess.run(["cp", "--sparse=always", cairn_disk, disk], check=True)
    vm = make_vm(nvme_disks=[], extra_args=[
        "-drive", "if=none,id=d0,file=%s,format=raw,discard=unmap" % disk,
        "-device", "nvme,serial=DISCARD1,drive=d0"])
    vm.wait_boot(BOOT_TIMEOUT)
    return vm, disk


def write_and_delete(vm, disk, folder):
    # 8 MiB of the raw disk copied into a file: real blocks on the host.
    output = vm.command("dd if=nvme0n1 of=%s/big bs=64k count=128" % folder, timeout=120)
    assert "8388608 bytes" in output, output
    assert vm.command("sync", timeout=60) is not None
    written = allocated(disk)
    assert vm.command("rm %s/big" % folder).strip() == ""
    assert vm.command("sync", timeout=60) is not None
    return written, allocated(disk)


def test_deleting_a_file_trims_its_blocks(make_vm, cairn_disk, tmp_path):
    vm, disk = boot_with_discard(make_vm, cairn_disk, tmp_path)
    before = allocated(disk)
    written, after = write_and_delete(vm, disk, "/mnt/nvme0n1p1")
    assert written >= before + 7 * MIB, "the file did not reach the disk: %d -> %d" % (before, written)
    assert after <= written - 7 * MIB, "deleting 8 MiB released only %d bytes" % (written - after)
    assert "No such file" in vm.command("cat /mnt/nvme0n1p1/big")


def test_nodiscard_mount_keeps_blocks(make_vm, cairn_disk, tmp_path):
    vm, disk = boot_with_discard(make_vm, cairn_disk, tmp_path)
    assert vm.command("umount /mnt/nvme0n1p1").strip() == ""
    assert vm.command("mount -o nodiscard nvme0n1p1 /mnt/nvme0n1p1").strip() == ""
    assert "nvme0n1p1 on /mnt/nvme0n1p1 type ext2 (rw,nodiscard)" in vm.command("mount")
    written, after = write_and_delete(vm, disk, "/mnt/nvme0n1p1")
    assert after >= written - MIB, "nodiscard still released %d bytes" % (written - after)
    assert "unknown option 'bogus'" in vm.command("mount -o bogus nvme0n1p1 /mnt/y")
