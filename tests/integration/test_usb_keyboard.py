"""test_usb_keyboard.py - the xHCI driver and the USB boot keyboard, typed on through QMP (QEMU 7.2, TCG).

  * a high-speed usb-kbd on a qemu-xhci root port: enumeration logged once, `echo` typed and answered, Shift,
    Caps Lock, the editing keys (Home, Right, Delete), the `usb` command (port, speed, slot, the device tree),
    the `report` pager answered on the USB keyboard, seven keys at once (ErrorRollOver), a held key repeating;
    keystroke latency (QMP event -> echo on serial) printed;
  * a full-speed keyboard behind QEMU's usb-hub (route string, hub ports), and a full-speed keyboard on a root
    port (EP0 of 8 bytes: the Evaluate Context path), two slots at once;
  * hot unplug and re-plug (QMP device_del / device_add): one log line each, the shell still answers, keys work
    again; a hub unplugged with a keyboard behind it;
  * the interrupt modes: MSI (nec-usb-xhci without MSI-X), INTx (i440FX), polling (usb.poll=1); usb=off.
Every VM's xHCI trace is checked after the kernel's reset: no unimplemented command, no enforced limit, no
completion code but success or short packet (usb_keys.usb_trace_problems). The UEFI screen test with the USB
keyboard is in test_screen.py.
"""

import re
import statistics
import time

import pytest

import usb_keys
from cairn_qemu import BOOT_TIMEOUT, PROMPT_RE
from test_screen import make_iso

KEYBOARD_RE = r"\[XHCIDeviceEnumerate\] xhci0 port %s: keyboard 0627:0001, %s speed, slot (\d+), ready in (\d+) ms"


def start(make_vm, *devices, controller="qemu-xhci", machine="q35", image=None):
    args = usb_keys.display_args() + ["-device", controller + ",id=xhci"] + usb_keys.TRACE_ARGS
    for device in devices:
        args += device
    return make_vm(image, machine=machine, memory_mib=256, nvme_disks=[], extra_args=args)


def typed_command(vm, line, timeout=20):
    """Types a command line and Enter on the USB keyboard; returns its output from serial."""
    start_at = vm.mark()
    usb_keys.type_text(vm, line + "\n")
    return vm.finish_line(start_at, timeout)


def check_trace(vm, allowed_codes=()):
    problems = usb_keys.usb_trace_problems(vm, allowed_codes)
    assert not problems, "QEMU reported xHCI problems:\n" + "\n".join(problems[:20])


def test_high_speed_keyboard(make_vm):
    vm = start(make_vm, usb_keys.keyboard_args("1"))
    found = vm.wait_for(KEYBOARD_RE % ("5", "high"), BOOT_TIMEOUT, start=0)
    print("high-speed keyboard enumerated in %s ms (after the 100 ms debounce)" % found.group(2))
    vm.wait_boot(BOOT_TIMEOUT)
    assert len(re.findall(r"port 5: keyboard", vm.clean)) == 1

    assert typed_command(vm, "echo hello").strip() == "hello"
    assert typed_command(vm, "echo Shift: A_B+c!").strip() == "Shift: A_B+c!"
    # Caps Lock (its LED report too) and the line editor's keys: Home, Right, Delete.
    start_at = vm.mark()
    usb_keys.type_text(vm, "echo ")
    usb_keys.press(vm, "caps_lock")
    usb_keys.type_text(vm, "xbc")
    usb_keys.press(vm, "caps_lock")
    usb_keys.press(vm, "home")
    for _ in range(5):
        usb_keys.press(vm, "right")
    usb_keys.press(vm, "delete")
    usb_keys.press(vm, "ret")
    assert vm.finish_line(start_at).strip() == "BC"

    # Seven keys down at once: QEMU's report says ErrorRollOver (0x01 x 6) for the seventh. The driver keeps the
    # six it had (no release, no second press) and takes the seventh when a key goes up: each letter once.
    letters = "abcdefg"
    events = ([usb_keys.event(letter, True) for letter in letters] +
              [usb_keys.event(letter, False) for letter in letters])
    start_at = vm.mark()
    usb_keys.type_text(vm, "echo ")
    vm.qmp("input-send-event", device=usb_keys.DISPLAY, events=events)
    time.sleep(0.5)
    usb_keys.press(vm, "ret")
    assert sorted(vm.finish_line(start_at).strip()) == list(letters)

    # Typematic repeat: a key held for a second repeats after 500 ms, about 30 times a second.
    start_at = vm.mark()
    usb_keys.type_text(vm, "echo ")
    vm.qmp("input-send-event", device=usb_keys.DISPLAY, events=[usb_keys.event("x", True)])
    time.sleep(1.0)
    vm.qmp("input-send-event", device=usb_keys.DISPLAY, events=[usb_keys.event("x", False)])
    usb_keys.press(vm, "ret")
    held = vm.finish_line(start_at).strip()
    print("x held for 1 s gave %d characters" % len(held))
    assert re.fullmatch(r"x{3,40}", held), held

    # Keystroke latency: from the QMP event to the echo of the character on serial (TCG, a loaded host).
    latencies = []
    vm.send("echo ")
    for char in "latency":
        mark = vm.mark()
        sent = time.monotonic()
        usb_keys.press(vm, char, pause=False)
        vm.wait_for(re.escape(char), 10, start=mark)
        latencies.append((time.monotonic() - sent) * 1000)
    vm.send("\r")
    vm.wait_prompt()
    print("keystroke latency, QMP to serial echo: median %.0f ms, max %.0f ms" %
          (statistics.median(latencies), max(latencies)))

    usb = vm.command("usb")
    assert re.search(r"xhci0: \S+ \[1b36:000d\] xHCI 1\.00, running", usb), usb
    assert re.search(r"interrupts: MSI-X", usb), usb
    assert re.search(r"^\s+5\s+2\.0\s+U0\s+enabled, high speed, slot 1$", usb, re.M), usb
    assert re.search(r"^\s+1\s+3\.0\s+\S+\s+empty$", usb, re.M), usb
    keyboard = re.search(r"^\s+5\s+1\s+1\s+high\s+0627:0001\s+00/00/00\s+03/01/01\s+keyboard "
                         r"\((\d+) reports, (\d+) keys\)", usb, re.M)
    assert keyboard and int(keyboard.group(2)) >= 40, usb

    # report pages on the VGA screen and waits for a key there: q on the USB keyboard ends it.
    start_at = vm.mark()
    vm.send("report\r")
    vm.wait_for(r"==== end of report ====", 60, start=start_at)
    assert re.search(r"==== usb ====\n(.*\n)*?xhci0: .*running", vm.clean[start_at:]), vm.tail()
    time.sleep(1)
    usb_keys.press(vm, "q")
    vm.wait_for(PROMPT_RE, 20, start=start_at)
    check_trace(vm)


def test_keyboards_behind_hub_and_full_speed(make_vm):
    vm = start(make_vm, ["-device", "usb-hub,bus=xhci.0,port=1,id=hub0"], usb_keys.keyboard_args("1.3", "kbd1"),
               usb_keys.keyboard_args("2", "kbd2", bound=False, usb_version=1))
    vm.wait_for(r"port 5: hub 0409:55aa, full speed, slot \d+", BOOT_TIMEOUT, start=0)
    behind = vm.wait_for(KEYBOARD_RE % (r"5\.3", "full"), BOOT_TIMEOUT, start=0)
    vm.wait_for(KEYBOARD_RE % ("6", "full"), BOOT_TIMEOUT, start=0)
    print("keyboard behind the hub enumerated in %s ms" % behind.group(2))
    vm.wait_boot(BOOT_TIMEOUT)
    # Only the keyboard behind the hub is bound to the display: the typing goes through the hub.
    assert typed_command(vm, "echo behind a hub").strip() == "behind a hub"
    usb = vm.command("usb")
    assert re.search(r"^\s+5\s+\d+\s+\d+\s+full\s+0409:55aa\s+09/00/00\s+09/00/00\s+hub \(8 ports\)", usb, re.M), usb
    assert re.search(r"^\s+5\.3\s+\d+\s+\d+\s+full\s+0627:0001 .*keyboard", usb, re.M), usb
    assert re.search(r"^\s+6\s+\d+\s+\d+\s+full\s+0627:0001 .*keyboard", usb, re.M), usb
    devices = re.findall(r"^\s+(\d[\d.]*)\s+\d+\s+\d+\s+(?:full|high)\s", usb, re.M)
    assert devices == ["5", "5.3", "6"], usb  # the tree in path order
    behind_hub = re.search(r"^\s+5\.3\s.*keyboard \((\d+) reports, (\d+) keys\)", usb, re.M)
    assert int(behind_hub.group(2)) >= len("echo behind a hub"), usb
    check_trace(vm)


def test_hot_unplug_and_replug(make_vm):
    vm = start(make_vm, usb_keys.keyboard_args("1"), ["-device", "usb-hub,bus=xhci.0,port=2,id=hub0"])
    vm.wait_for(KEYBOARD_RE % ("5", "high"), BOOT_TIMEOUT, start=0)
    vm.wait_boot(BOOT_TIMEOUT)

    mark = vm.mark()
    vm.qmp("device_del", id="kbd0")
    vm.wait_for(r"\[XHCIDeviceRemove\] xhci0 port 5: keyboard 0627:0001 unplugged", 20, start=mark)
    vm.expect_absent(r"XHCI|USB", 1, start=vm.cursor)  # one line only
    assert "keyboard" not in vm.command("usb")

    mark = vm.mark()
    vm.qmp("device_add", driver="usb-kbd", bus="xhci.0", port="1", id="kbd0", display=usb_keys.DISPLAY)
    vm.wait_for(KEYBOARD_RE % ("5", "high"), 20, start=mark)
    vm.expect_absent(r"XHCI|USB", 1, start=vm.cursor)
    vm.send("\r")
    vm.wait_prompt()
    assert typed_command(vm, "echo back again").strip() == "back again"

    # A keyboard plugged into the hub, then the hub pulled out with it: both go, one line each.
    mark = vm.mark()
    vm.qmp("device_add", driver="usb-kbd", bus="xhci.0", port="2.4", id="kbd9")
    vm.wait_for(KEYBOARD_RE % (r"6\.4", "full"), 20, start=mark)
    mark = vm.mark()
    vm.qmp("device_del", id="hub0")
    vm.wait_for(r"port 6\.4: keyboard 0627:0001 unplugged", 20, start=mark)
    vm.wait_for(r"port 6: hub 0409:55aa unplugged", 20, start=mark)
    vm.send("\r")
    vm.wait_prompt()
    usb = vm.command("usb")
    assert not re.search(r"^\s+6(\.\d)?\s+\d+\s+\d+\s+full", usb, re.M), usb  # no device on port 6 any more
    assert typed_command(vm, "echo still here").strip() == "still here"
    check_trace(vm)


@pytest.mark.parametrize("mode", ["msi", "intx", "polling", "off"])
def test_interrupt_modes_and_usb_off(make_vm, tmp_path, build_dir, mode):
    image = None
    controller, machine, expected = "qemu-xhci", "q35", None
    if mode in ("polling", "off"):
        option = "usb.poll=1" if mode == "polling" else "usb=off"
        image = make_iso(tmp_path, build_dir, lambda text: text.replace(
            "multiboot2 /boot/kernel.elf log=info\n", "multiboot2 /boot/kernel.elf log=info %s\n" % option, 1))
    if mode == "off":
        # The controller is left to the firmware: no driver, no keyboard, and the shell says so.
        vm = start(make_vm, usb_keys.keyboard_args("1"), image=image)
        vm.wait_boot(BOOT_TIMEOUT)
        assert "XHCI" not in vm.clean
        assert vm.command("usb").strip() == "no xHCI controller (or usb=off)"
        return
    if mode == "msi":
        controller, expected = "nec-usb-xhci,msix=off", r"interrupts: MSI, vector \d+, [1-9]\d* taken"
    elif mode == "intx":
        controller, machine = "nec-usb-xhci,msi=off,msix=off", "pc"
        expected = r"interrupts: INTx, vector \d+, [1-9]\d* taken"
    else:
        expected = r"interrupts: polling \(usb\.poll=1\), 0 taken"
    vm = start(make_vm, usb_keys.keyboard_args("1"), controller=controller, machine=machine, image=image)
    vm.wait_for(KEYBOARD_RE % ("5", "high"), BOOT_TIMEOUT, start=0)
    vm.wait_boot(BOOT_TIMEOUT)
    assert typed_command(vm, "echo %s works" % mode).strip() == "%s works" % mode
    usb = vm.command("usb")
    assert re.search(expected, usb), usb
    check_trace(vm)
