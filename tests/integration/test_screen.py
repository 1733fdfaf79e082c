"""test_screen.py - what a person sees: the screen read back from QEMU screendumps, keys typed on the PS/2
keyboard (QMP send-key) or on a USB keyboard (QMP input-send-event to a usb-kbd bound to the display), and the
boot menu.

  * UEFI (OVMF) with QEMU's standard VGA, booted from the image as a USB stick, with no serial port at all and
    a USB keyboard on the same xHCI controller as the stick: the framebuffer console shows the boot, the
    prompt, `nvme list`, `disk` and the Data View, typed on the USB keyboard;
  * the framebuffer at 800x600 and 1920x1080 (the VGA's EDID makes OVMF pick them; 1280x800 is OVMF's
    default, above), each read with the font the kernel chose, and 24 bits per pixel (GRUB's bochs driver
    picks 800x600x24 when grub.cfg loads all_video);
  * BIOS (SeaBIOS): VGA text mode, read with the VGA BIOS's own font, and a 16-bit VBE mode;
  * the GRUB menu's safe and serial-only entries, chosen with the arrow keys on serial; autorun= and report.

The screen is read by screen_reader.py (glyph matching with the fonts the kernel draws with). The full-screen
redraw time the kernel logs is recorded in the test log. With CAIRN_UPDATE_SCREENSHOTS=1 the UEFI screen with
`nvme list` and `disk` is written to documentation/images/framebuffer-console.png (the README's picture).
"""

import os
import re
import shutil
import subprocess
import time

import pytest

import screen_reader
import usb_keys
from cairn_qemu import BOOT_TIMEOUT, CairnVM, READY_RE
from conftest import REPOSITORY, _vm_log_path

IMAGES = os.path.join(REPOSITORY, "documentation", "images")
SCREEN_TIMEOUT = 150.0    # OVMF under TCG, plus GRUB's 3 s menu that nobody can skip without serial
FRAMEBUFFER_RE = re.compile(r"\[FramebufferMap\] framebuffer: (\d+)x(\d+)x(\d+), (\S+), font (\S+) x(\d), "
                            r"(\d+)x(\d+) cells, scroll ([\d.]+) ms")
PROMPT_LINE_RE = re.compile(r"^/> ?_?$", re.M)

# QEMU key codes (qapi QKeyCode) for what the tests type.
QCODES = {" ": "spc", "\n": "ret", "-": "minus", "/": "slash", ".": "dot", "=": "equal", ";": "semicolon",
          ",": "comma", "\x1b": "esc"}
SHIFTED = {"_": "minus", ":": "semicolon", "+": "equal", ">": "dot"}


class ScreenVM(CairnVM):
    """A CairnVM that can go without a serial port (the serial transcript then stays empty)."""

    def __init__(self, *arguments, serial=True, usb_keyboard=False, **options):
        super().__init__(*arguments, **options)
        self.serial = serial
        self.usb_keyboard = usb_keyboard  # keys go to a usb-kbd bound to the display (usb_keys.py)

    def command_line(self):
        args = super().command_line()
        if not self.serial:
            index = args.index("-serial")
            args[index + 1] = "none"
        return args

    def press(self, *qcodes):
        if self.usb_keyboard:
            usb_keys.press(self, *qcodes)
        else:
            self.qmp("send-key", keys=[{"type": "qcode", "data": code} for code in qcodes])

    def type_keys(self, text):
        """Types text on the keyboard (PS/2, or USB), one key (or shift + key) at a time."""
        for char in text:
            if char in SHIFTED:
                self.press("shift", SHIFTED[char])
            elif char.isupper():
                self.press("shift", char.lower())
            else:
                self.press(QCODES.get(char, char))

    def screen(self, name="screen"):
        path = os.path.join(self.work_dir, "%s.ppm" % name)
        self.qmp("screendump", filename=path)
        return screen_reader.read_ppm(path)

    def wait_screen(self, pattern, timeout=30.0, after=None):
        """Reads the screen until pattern (a regex) shows, below the last line matching `after` if given."""
        regex = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        reading = None
        while time.monotonic() < deadline:
            if not self.running():
                break
            image = self.screen()
            reading = screen_reader.read_screen(image)
            text = reading.text
            if after is not None:
                anchors = [match.end() for match in re.finditer(after, text, re.M)]
                text = text[anchors[-1]:] if anchors else ""
            if regex.search(text):
                return reading, image
            time.sleep(1.0)
        raise AssertionError("%s: %r not on the screen after %.0f s; it shows:\n%s" %
                             (self.name, pattern, timeout, reading.text if reading else "(nothing)"))

    def run_on_screen(self, command, expect, timeout=30.0):
        """Types a command and Enter, and waits for `expect` below the command line."""
        self.type_keys(command + "\n")
        return self.wait_screen(expect, timeout, after=r"^/> %s$" % re.escape(command))


@pytest.fixture
def screen_vm(request, tmp_path, build_dir, cairn_iso, cairn_disk):
    machines = []

    def factory(image=None, **options):
        name = "test_screen.%s-%d" % (request.node.name, len(machines))
        options.setdefault("nvme_disks", [cairn_disk] if cairn_disk else [])
        vm = ScreenVM(image or cairn_iso, str(tmp_path / ("vm%d" % len(machines))), name=name,
                      log_path=_vm_log_path(build_dir, name), **options)
        machines.append(vm)
        vm.start()
        return vm

    yield factory
    for vm in machines:
        vm.stop()


def make_iso(tmp_path, build_dir, edit):
    """A copy of the image whose grub.cfg is edit(text) (grub-mkrescue over the build's ISO folder)."""
    tree = tmp_path / "iso"
    shutil.copytree(os.path.join(build_dir, "iso"), str(tree))
    config = tree / "boot" / "grub" / "grub.cfg"
    config.write_text(edit(config.read_text()))
    image = str(tmp_path / "variant.iso")
    subprocess.run(["grub-mkrescue", "-o", image, str(tree)], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return image


def framebuffer_line(vm):
    match = vm.wait_for(FRAMEBUFFER_RE, BOOT_TIMEOUT, start=0)
    print("%s: %s" % (vm.name, match.group(0)))  # the scroll time, kept in the test log
    return match


def check_commands(vm):
    """nvme list and disk typed on the keyboard, their output read from the screen."""
    vm.run_on_screen("nvme list", r"^nvme0n1\s+CAIRN0001\s+QEMU NVMe Ctrl")
    reading, image = vm.run_on_screen("disk", r"nvme0n1p1")
    assert re.search(r"nvme0n1\s", reading.text), reading.text
    return reading, image


# -- UEFI -------------------------------------------------------------------------------------------------------


def test_uefi_usb_stick_without_serial(screen_vm):
    # The keyboard is USB too, on the stick's controller (its port 2: xHCI port 6), which the kernel takes over.
    vm = screen_vm(firmware="ovmf", media="usb", serial=False, memory_mib=512, usb_keyboard=True,
                   extra_args=usb_keys.display_args() + usb_keys.keyboard_args("2"))
    reading, _ = vm.wait_screen(r"Cairn \S+ ready in \d+ ms\n/>", SCREEN_TIMEOUT)
    assert re.search(r"xhci0 port 6: keyboard 0627:0001, high speed", reading.text), reading.text
    assert reading.layout.glyphs.name == "Uni2-VGA16" and reading.layout.scale == 1, reading.layout
    # The boot log on the screen names the mode OVMF set (1280x800, the VGA's EDID default) and the scroll time.
    match = FRAMEBUFFER_RE.search(reading.text)
    assert match and match.group(1, 2, 3, 4) == ("1280", "800", "32", "write-combining"), reading.text
    print("uefi 1280x800x32: %s" % match.group(0))
    assert not re.search(r"\[VGAInit\]", reading.text)
    reading, image = check_commands(vm)
    if os.environ.get("CAIRN_UPDATE_SCREENSHOTS") == "1":
        os.makedirs(IMAGES, exist_ok=True)
        screen_reader.write_png(image, os.path.join(IMAGES, "framebuffer-console.png"))
    # The System Data View draws on the framebuffer through the same terminal as on VGA.
    vm.type_keys("data\n")
    vm.wait_screen(r"^ ?Page 1/\d+: Overview", 30)
    # The page is drawn top to bottom: read it once its last line (the key help) is there too.
    reading, _ = vm.wait_screen(r"Esc: quit", 30)
    assert re.search(r"^ ?Page 1/\d+: Overview", reading.text, re.M), reading.text
    assert re.search(r"NVMe     : 1 controllers? \(1 ready\)", reading.text), reading.text
    vm.press("right")
    vm.wait_screen(r"Page 2/\d+: PCI devices", 30)
    vm.press("esc")
    vm.wait_screen(r"^/> ?_?\s*\Z", 30)  # the prompt is the last thing on the screen


@pytest.mark.parametrize("width, height, font, scale", [(800, 600, "Uni2-VGA16", 1),
                                                         (1920, 1080, "Uni2-Terminus32x16", 1)])
def test_uefi_resolutions(screen_vm, width, height, font, scale):
    vm = screen_vm(firmware="ovmf", memory_mib=512,
                   extra_args=["-vga", "none", "-device", "VGA,xres=%d,yres=%d" % (width, height)])
    match = framebuffer_line(vm)
    assert match.group(1, 2, 3) == (str(width), str(height), "32")
    assert (match.group(5), match.group(6)) == (font, str(scale))
    vm.wait_boot(BOOT_TIMEOUT)
    reading, _ = vm.wait_screen(r"^/> ?_?$", 30)
    assert (reading.layout.glyphs.name, reading.layout.scale) == (font, scale), reading.layout
    assert len(reading.lines) == height // reading.layout.cell_height
    check_commands(vm)


def test_uefi_24_bits_per_pixel(screen_vm, tmp_path, build_dir):
    # all_video lets GRUB's own bochs driver take QEMU's VGA: "auto" is then 800x600 at 24 bits per pixel.
    image = make_iso(tmp_path, build_dir, lambda text: text.replace("insmod efi_gop", "insmod all_video"))
    vm = screen_vm(image, firmware="ovmf", memory_mib=512)
    match = framebuffer_line(vm)
    assert match.group(1, 2, 3) == ("800", "600", "24"), match.group(0)
    vm.wait_boot(BOOT_TIMEOUT)
    vm.wait_screen(r"Cairn \S+ ready in \d+ ms\n/>", 30)
    check_commands(vm)


def test_bios_vbe_16_bits_per_pixel(screen_vm, tmp_path, build_dir):
    # A VBE graphics mode under BIOS instead of text (RGB 5:6:5): the framebuffer console draws it too.
    # (An 8-bit indexed mode, which the kernel refuses, cannot be tested here: GRUB 2.06 itself triple-faults
    # setting it on QEMU's VGA; FramebufferFormatProblem's refusals are unit-tested.)
    image = make_iso(tmp_path, build_dir, lambda text: text.replace(
        'then set gfxpayload=text; fi\n    boot', 'then set gfxpayload=1024x768x16; fi\n    boot', 1))
    vm = screen_vm(image, firmware="seabios")
    vm.wait_for(r"\[FramebufferInit\] 1024x768x16 at \w+, pitch 2048, RGB 5:6:5 at 11:5:0", BOOT_TIMEOUT)
    match = framebuffer_line(vm)
    assert match.group(1, 2, 3) == ("1024", "768", "16")
    vm.wait_boot(BOOT_TIMEOUT)
    assert "[VGAInit]" not in vm.clean
    vm.wait_screen(r"Cairn \S+ ready in \d+ ms\n/>", 30)
    check_commands(vm)


# -- BIOS -------------------------------------------------------------------------------------------------------


def test_bios_vga_text(screen_vm):
    vm = screen_vm(firmware="seabios")
    vm.wait_boot(BOOT_TIMEOUT)
    assert not FRAMEBUFFER_RE.search(vm.clean) and "[VGAInit] text console 80x25" in vm.clean
    reading, _ = vm.wait_screen(r"Cairn \S+ ready in \d+ ms\n/>", 30)
    assert reading.layout.glyphs.name == "VGA BIOS 8x16" and len(reading.lines) == 25
    check_commands(vm)
    vm.type_keys("data\n")
    vm.wait_screen(r"Page 1/\d+: Overview", 30)
    reading, _ = vm.wait_screen(r"Esc: quit", 30)  # the page is drawn top to bottom
    assert re.search(r"Page 1/\d+: Overview", reading.text), reading.text
    vm.press("esc")
    vm.wait_prompt()


# -- boot menu, autorun, report -----------------------------------------------------------------------------------


@pytest.mark.parametrize("downs, options", [(1, "log=debug nvme.poll=1 nvme.irq=intx"),
                                            (2, "log=info console=serial")])
def test_boot_menu_entries(screen_vm, downs, options):
    vm = screen_vm(firmware="seabios", skip_boot_menu=False)
    # GRUB draws the menu with cursor moves (no newlines between entries).
    vm.wait_for(r"Cairn, safe mode \(NVMe polled, no MSI, verbose log\).*Cairn, serial console only", BOOT_TIMEOUT)
    vm.wait_for(r"executed automatically in \d+s", BOOT_TIMEOUT)
    vm.send_key("down", downs)
    time.sleep(0.5)
    vm.send_key("enter")
    vm.wait_boot(BOOT_TIMEOUT)
    assert re.search(r'command line "%s"' % re.escape(options), vm.clean), vm.tail()
    report = vm.command("nvme info nvme0" if downs == 1 else "echo up")
    if downs == 1:
        assert re.search(r"[Pp]oll", report + vm.clean), report
        assert "DEBUG" in vm.clean
    else:
        assert "[VGAInit]" not in vm.clean and not FRAMEBUFFER_RE.search(vm.clean)


def test_autorun_and_report(screen_vm, tmp_path, build_dir):
    # A quoted value with spaces: GRUB passes the whole argument quoted, the kernel splits it at '='.
    entry = 'multiboot2 /boot/kernel.elf log=info "autorun=echo one two;;nvme list"\n'
    image = make_iso(tmp_path, build_dir, lambda text: text.replace("multiboot2 /boot/kernel.elf log=info\n", entry, 1))
    vm = screen_vm(image, firmware="seabios")
    vm.wait_for(READY_RE, BOOT_TIMEOUT)
    vm.wait_for(r"^/> echo one two\n+one two\n")
    vm.wait_for(r"^/> nvme list\n(.*\n)*nvme0n1\s+CAIRN0001\s+QEMU NVMe Ctrl")
    vm.wait_prompt()
    # report: whole on serial at once, a page at a time on the VGA screen (q stops the paging).
    start = vm.mark()
    vm.send("report\r")
    vm.wait_for(r"==== end of report ====", 30, start=start)
    text = vm.clean[start:]
    for section in ("==== Cairn", "firmware: BIOS", "console: VGA text", "==== pci ====", "==== nvme ====",
                    "==== disks ====", "==== acpi ====", "==== log ===="):
        assert section in text, section
    assert text.index("==== pci ====") < text.index("==== nvme ====") < text.index("==== log ====")
    reading, _ = vm.wait_screen(r"-- more: any key for the next page, q to stop --", 20)
    assert "==== Cairn" in reading.text
    vm.send(" ")
    vm.wait_screen(r"-- more: any key", 20)
    vm.send("q")
    vm.wait_screen(r"^\(the rest of the report is on the serial line\)\n/>", 20)
    vm.wait_prompt()
