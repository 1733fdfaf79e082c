"""test_boot.py - the hybrid ISO boots to the shell from every medium and firmware Cairn supports.

The same build/cairn.iso must boot under SeaBIOS and OVMF, attached as a CD and as a USB stick (a copy
of the ISO on xHCI, as after `dd` to a real stick). Each case checks the `Cairn <version> ready in <N> ms`
line and the `/> ` prompt.
"""

import re

import pytest

from cairn_qemu import BOOT_TIMEOUT, READY_RE


@pytest.mark.parametrize("media", ["cd", "usb"])
@pytest.mark.parametrize("firmware", ["seabios", "ovmf"])
def test_boot_to_prompt(make_vm, cairn_version, firmware, media):
    vm = make_vm(firmware=firmware, media=media, memory_mib=256)
    ready = vm.wait_for(READY_RE, BOOT_TIMEOUT)
    version, milliseconds = ready.group(1), int(ready.group(2))
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", version), "odd version %r" % version
    if cairn_version:
        assert version == cairn_version, "kernel says %s, Makefile VERSION is %s" % (version, cairn_version)
    # Measured from the kernel's first instruction: firmware and GRUB are not included, so this is small.
    assert 0 <= milliseconds < 20000, "boot took %d ms" % milliseconds
    prompt = vm.wait_prompt(BOOT_TIMEOUT)
    assert prompt.group(0) == "/> "
    # Booted once: no second ready line (a reset would show one).
    assert len(READY_RE.findall(vm.clean)) == 1
    assert vm.running()
    # And from the medium we meant, not from a fallback.
    if firmware == "ovmf":
        device = "USB HARDDRIVE" if media == "usb" else "DVD-ROM"
        assert re.search(r'BdsDxe: loading Boot\w+ "UEFI QEMU [^"]*%s' % device, vm.clean), \
            "OVMF did not boot from the %s" % media
    else:
        firmware_log = vm.firmware_log()
        if media == "usb":
            assert "USB MSC" in firmware_log and "Booting from Hard Disk" in firmware_log, \
                "SeaBIOS did not boot from the USB stick:\n" + firmware_log[-1500:]
        else:
            assert "Booting from DVD/CD" in firmware_log, "SeaBIOS did not boot from the CD:\n" + firmware_log[-1500:]


def test_boot_pc_machine(make_vm):
    # The older i440FX machine: no PCIe ECAM, so later the PCI layer must fall back to the 0xCF8 ports.
    vm = make_vm(firmware="seabios", media="cd", machine="pc", memory_mib=256)
    vm.wait_boot(BOOT_TIMEOUT)
    assert vm.running()
