"""test_nvme_namespaces.py - Namespace Attachment under QEMU (issue 11), from the shell.

One controller in an nvme-subsys with namespace 1 attached and namespace 2 created detached (detached=true):
QEMU then advertises Namespace Management (OACS bit 3) and takes Namespace Attachment. `nvme attach nvme0 2` makes
nvme0n2 a disk that reads what the host wrote into its backing file and takes writes that land there; `nvme
detach nvme0 2` makes it go: `disk` no longer lists it, commands naming it fail with a clear message, nothing
hangs, and namespace 1 works on. A second attach brings it back. The driver's rescans run on the Namespace
Attribute Changed event QEMU sends too. QEMU's NVMe error trace events (pci_nvme_ub_*, pci_nvme_err_*) are on;
conftest fails the test on any.
"""

import re

import nvme_images
import pattern
from nvme_images import MIB
from cairn_qemu import BOOT_TIMEOUT

SEED_HOST = 0x5A      # written by the host into namespace 2's file before boot, LBA 0..15
SEED_GUEST = 0x6B     # written by the guest after the attach, LBA 100..107


def subsystem_args(ns1, ns2):
    return ["-device", "nvme-subsys,id=subsys0,nqn=cairn-subsys",
            "-device", "nvme,id=nvmectl0,serial=ATTACH0,subsys=subsys0,bus=pcie.0,addr=0x4",
            "-drive", "if=none,id=nsdrv1,format=raw,snapshot=off,file=%s" % ns1,
            "-device", "nvme-ns,drive=nsdrv1,bus=nvmectl0,nsid=1",
            "-drive", "if=none,id=nsdrv2,format=raw,snapshot=off,file=%s" % ns2,
            "-device", "nvme-ns,drive=nsdrv2,bus=nvmectl0,nsid=2,detached=true"]


def disks(vm):
    return set(re.findall(r"^(nvme\d+n\d+)\b", vm.command("disk"), re.M))


def test_attach_and_detach_from_the_shell(make_vm, tmp_path):
    ns1 = nvme_images.make_image(str(tmp_path / "ns1.img"), 16 * MIB)
    ns2 = nvme_images.make_image(str(tmp_path / "ns2.img"), 8 * MIB)
    nvme_images.write_pattern(ns2, SEED_HOST, 0, 16, 512)
    vm = make_vm(nvme_disks=[], extra_args=subsystem_args(ns1, ns2), memory_mib=512)
    vm.wait_boot(BOOT_TIMEOUT)

    assert disks(vm) == {"nvme0n1"}
    info = vm.command("nvme info nvme0")
    assert re.search(r"^oacs\s*: 0x[0-9a-f]*[89a-f]\b", info, re.M), info  # bit 3: Namespace Management

    out = vm.command("nvme attach nvme0 2")
    assert "nvme0: namespace 2 attached: nvme0n2" in out, out
    assert disks(vm) == {"nvme0n1", "nvme0n2"}
    line = vm.command("disk check nvme0n2 0 16 %#x" % SEED_HOST, timeout=60).strip()
    assert line == "check: OK (8192 bytes)", line
    line = vm.command("disk fill nvme0n2 100 8 %#x" % SEED_GUEST, timeout=60).strip()
    assert line == "fill: OK (4096 bytes)", line

    out = vm.command("nvme detach nvme0 2")
    assert "nvme0: namespace 2 detached; its disk fails every request" in out, out
    assert disks(vm) == {"nvme0n1"}
    out = vm.command("disk check nvme0n2 0 16 %#x" % SEED_HOST, timeout=30)
    assert "no disk named 'nvme0n2'" in out, out
    # Two refusals on purpose below (a detached namespace detached again, NSID 9 which the subsystem lacks):
    # QEMU traces each as pci_nvme_err_req_status, and the shell names the status.
    vm.expect_nvme_events(r"pci_nvme_err_req_status")
    out = vm.command("nvme detach nvme0 2")
    assert "namespace 2 not detached: Namespace Not Attached (SCT 1h SC 1ah, DNR)" in out, out
    line = vm.command("disk fill nvme0n1 0 8 0x11", timeout=60).strip()  # namespace 1 works on
    assert line == "fill: OK (4096 bytes)", line
    line = vm.command("disk check nvme0n1 0 8 0x11", timeout=60).strip()
    assert line == "check: OK (4096 bytes)", line

    out = vm.command("nvme attach nvme0 2")
    assert "nvme0: namespace 2 attached: nvme0n2" in out, out
    line = vm.command("disk check nvme0n2 100 8 %#x" % SEED_GUEST, timeout=60).strip()
    assert line == "check: OK (4096 bytes)", line
    out = vm.command("nvme attach nvme0 9")
    assert "namespace 9 not attached: Invalid Field in Command" in out, out

    vm.stop()
    # What the guest wrote is in namespace 2's file, and the host's pattern before it is unchanged.
    assert pattern.check_image(ns2, SEED_GUEST, 100, 8) == "check: OK (4096 bytes)"
    assert pattern.check_image(ns2, SEED_HOST, 0, 16) == "check: OK (8192 bytes)"
