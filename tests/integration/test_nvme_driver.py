"""test_nvme_driver.py - the NVMe driver's bring-up as its boot log tells it, under QEMU.

These tests read the driver's own INFO lines (grub.cfg boots with log=info), so they check what the shell
cannot show: that the controller SeaBIOS left enabled was taken over, which interrupt mode each set-up ends
in (MSI-X with one vector per queue, INTx, polling by option), what MDTS and the LBA size make of the
per-command limit, and that a namespace the driver cannot serve is listed with its reason instead of being
exposed. Every VM runs with QEMU's NVMe error trace events; conftest fails a test on any of them.
Data paths (reads, writes, splits, misaligned buffers) are tested through the shell in test_nvme.py.
"""

import os
import re

import pytest

import nvme_images
from cairn_qemu import BOOT_TIMEOUT

MIB = 1024 * 1024


def line(text):
    """A regex for a literal piece of a log line."""
    return re.escape(text)


def bring_up(vm, controller, tail):
    """Waits for the controller's summary line: '<nvmeC>: <tail>'."""
    return vm.wait_for(line("[NVMeBringUp] %s: %s" % (controller, tail)), timeout=BOOT_TIMEOUT)


@pytest.fixture
def options_iso(build_dir, tmp_path):
    """options_iso('nvme.poll=1') -> an ISO whose kernel command line has those options added."""
    def make(options):
        out = tmp_path / ("iso-" + re.sub(r"[^A-Za-z0-9]+", "-", options))
        out.mkdir()
        return nvme_images.build_iso_with_options(build_dir, options, str(out))
    return make


def test_takes_over_from_seabios_with_msix(make_vm):
    vm = make_vm()
    vm.wait_for(r"\[NVMeBringUp\] nvme0: NVMe 1\.4\.0 \"QEMU NVMe Ctrl\" serial CAIRN0001 fw \S+, MQES 2048, "
                r"CQR 1, DSTRD 0, timeout 8000 ms, MDTS 512\.0 KiB, NN 256, VWC 1, "
                r"taken over from firmware \(was enabled\)", timeout=BOOT_TIMEOUT)
    vm.wait_for(line("[NVMeDiskRegisterNamespaces] nvme0n1: 131072 blocks of 512 bytes, up to 1024 blocks "
                     "per command"))
    bring_up(vm, "nvme0", "1 I/O queue pair(s) of 1024 entries, MSI-X (2 vector(s)), 1 namespace(s), 1 exposed")
    vm.wait_boot()
    assert "polling completions" not in vm.clean


def test_ovmf(make_vm):
    vm = make_vm(firmware="ovmf")
    bring_up(vm, "nvme0", "1 I/O queue pair(s) of 1024 entries, MSI-X (2 vector(s)), 1 namespace(s), 1 exposed")
    vm.wait_boot()


def test_namespaces_and_reasons(make_vm, tmp_path):
    paths = {}
    for name, size in (("a", 32 * MIB), ("b", 32 * MIB), ("c", 8 * MIB)):
        paths[name] = nvme_images.make_image(str(tmp_path / (name + ".img")), size)
    extra = ["-device", "nvme,id=c1,serial=MULTI",
             "-drive", "if=none,id=a,format=raw,file=%s" % paths["a"], "-device", "nvme-ns,drive=a,bus=c1,nsid=1",
             "-drive", "if=none,id=b,format=raw,file=%s" % paths["b"],
             "-device", "nvme-ns,drive=b,bus=c1,nsid=2,logical_block_size=4096,physical_block_size=4096",
             "-drive", "if=none,id=c,format=raw,file=%s" % paths["c"], "-device", "nvme-ns,drive=c,bus=c1,nsid=5,ms=8"]
    vm = make_vm(extra_args=extra)
    # Controllers come up in parallel (a thread each): only each controller's own lines are in order.
    bring_up(vm, "nvme0", "1 I/O queue pair(s)")
    vm.wait_for(line("nvme1n1: 65536 blocks of 512 bytes, up to 1024 blocks per command"), timeout=BOOT_TIMEOUT,
                start=0)
    vm.wait_for(line("nvme1n2: 8192 blocks of 4096 bytes, up to 128 blocks per command"))
    vm.wait_for(line("nvme1: namespace 5 not exposed: metadata (8 bytes per block)"))
    bring_up(vm, "nvme1", "1 I/O queue pair(s) of 1024 entries, MSI-X (2 vector(s)), 3 namespace(s), 2 exposed")
    vm.wait_boot()


def test_mdts_limits_commands(make_vm, cairn_disk):
    vm = make_vm(nvme_disks=[{"path": cairn_disk, "options": "mdts=1"}])
    vm.wait_for(line("MDTS 8.0 KiB"), timeout=BOOT_TIMEOUT)
    vm.wait_for(line("nvme0n1: 131072 blocks of 512 bytes, up to 16 blocks per command"))
    vm.wait_boot()


def test_poll_option(make_vm, options_iso):
    vm = make_vm(image=options_iso("nvme.poll=1"))
    vm.wait_for(line("[NVMeControllerStartPolling] nvme0: polling completions (nvme.poll=1)"), timeout=BOOT_TIMEOUT)
    bring_up(vm, "nvme0", "1 I/O queue pair(s) of 1024 entries, polling (0 vector(s)), 1 namespace(s), 1 exposed")
    vm.wait_boot()


def test_several_queue_pairs(make_vm, options_iso, cairn_disk):
    iso = options_iso("nvme.queues=4")
    vm = make_vm(image=iso)
    bring_up(vm, "nvme0", "4 I/O queue pair(s) of 1024 entries, MSI-X (5 vector(s))")
    vm.wait_boot()
    vm.stop()
    # The controller grants one pair only: the driver asks for 4 and creates what it was given.
    vm = make_vm(image=iso, nvme_disks=[{"path": cairn_disk, "options": "max_ioqpairs=1"}])
    bring_up(vm, "nvme0", "1 I/O queue pair(s) of 1024 entries, MSI-X")
    vm.wait_boot()


def test_intx(make_vm, options_iso):
    vm = make_vm(image=options_iso("nvme.irq=intx nvme.queues=2"), machine="pc")
    bring_up(vm, "nvme0", "2 I/O queue pair(s) of 1024 entries, INTx (1 vector(s)), 1 namespace(s), 1 exposed")
    vm.wait_boot()
