"""test_dataview.py - the System Data View (`data`) over the serial console and on the VGA screen.

The view draws every page with cursor positioning, so the serial transcript (escape sequences removed) holds
each row's text in order; the tests wait for a page's title and its key values there. The same bytes go to the
VGA console: a QMP screendump of each page (PNG) is decoded here and must show the reverse-video title bar and
text below it. With CAIRN_UPDATE_SCREENSHOTS=1 the screendumps are also copied to documentation/images/ (the
pictures in documentation/Data-View.md).

Set-up: the default disk image (GPT, an EXT2 partition mounted at /mnt/nvme0n1p1) on nvme0, and a second
controller with a 4 KiB-block namespace whose SMART critical warning is set from outside (QMP qom-set) while
the view runs, so the health page has something to highlight.
"""

import os
import re
import shutil
import struct
import time
import zlib

import pytest

import nvme_images
from nvme_images import MIB
from cairn_qemu import BOOT_TIMEOUT
from conftest import REPOSITORY

IMAGES = os.path.join(REPOSITORY, "documentation", "images")
PAGES = ["Overview", "PCI devices", "NVMe controllers", "NVMe namespaces", "NVMe health", "Disks", "Interrupts", "VMD"]
SLUGS = ["overview", "pci", "nvme-controllers", "nvme-namespaces", "nvme-health", "disks", "interrupts", "vmd"]


# -- PNG (what QEMU's screendump writes: 8-bit RGB or RGBA, not interlaced) ------------------------------------


def read_png(path):
    """Returns (width, height, rows) with rows a list of bytes objects of RGB triplets."""
    with open(path, "rb") as handle:
        data = handle.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "%s is not a PNG" % path
    position, chunks = 8, {}
    idat = b""
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        position += 12 + length
        if kind == b"IDAT":
            idat += body
        else:
            chunks.setdefault(kind, body)
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert depth == 8 and color in (2, 6) and interlace == 0, "unexpected PNG format %d/%d/%d" % (depth, color,
                                                                                                  interlace)
    channels = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        filter_type = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            left = line[x - channels] if x >= channels else 0
            up = previous[x]
            corner = previous[x - channels] if x >= channels else 0
            if filter_type == 1:
                line[x] = (line[x] + left) & 0xFF
            elif filter_type == 2:
                line[x] = (line[x] + up) & 0xFF
            elif filter_type == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif filter_type == 4:
                estimate = left + up - corner
                pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - corner)
                line[x] = (line[x] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        previous = line
        rows.append(bytes(line if channels == 3 else b"".join(line[i:i + 3] for i in range(0, stride, 4))))
    return width, height, rows


def bright_fraction(rows, top, bottom):
    """The share of pixels in rows [top, bottom) whose brightest channel is above 128."""
    bright = total = 0
    for row in rows[top:bottom]:
        for x in range(0, len(row), 3):
            total += 1
            bright += max(row[x], row[x + 1], row[x + 2]) > 128
    return bright / total


def check_screendump(path, page):
    width, height, rows = read_png(path)
    assert (width, height) == (720, 400), "%s: %dx%d, not the 80x25 text screen" % (path, width, height)
    cell = height // 25
    title = bright_fraction(rows, 0, cell)
    body = bright_fraction(rows, cell, 23 * cell)
    keys = bright_fraction(rows, 23 * cell, 24 * cell)
    assert title > 0.5, "page %d: no reverse-video title bar on the VGA screen (%.2f bright)" % (page, title)
    assert keys > 0.5, "page %d: no key line on row 24 (%.2f bright)" % (page, keys)
    assert 0.002 < body < 0.5, "page %d: the body is empty or garbled (%.3f bright)" % (page, body)
    assert bright_fraction(rows, 24 * cell, height) < 0.01, "page %d: something was drawn on row 25" % page


# -- the view -------------------------------------------------------------------------------------------------


@pytest.fixture
def vm(make_vm, tmp_path, cairn_disk):
    if cairn_disk is None:
        pytest.skip("no default disk image (make disk)")
    second = nvme_images.make_image(str(tmp_path / "second.img"), 24 * MIB)
    extra = ["-drive", "if=none,id=dvdrv1,format=raw,file=%s" % second,
             "-device", "nvme,id=dvctl1,serial=DATAVIEW2,bus=pcie.0,addr=0x9",
             "-device", "nvme-ns,bus=dvctl1,drive=dvdrv1,nsid=1,logical_block_size=4096,physical_block_size=4096"]
    machine = make_vm(extra_args=extra, memory_mib=512)
    machine.wait_boot(BOOT_TIMEOUT)
    return machine


def wait_page(vm, number, start=None):
    """Waits for a full drawing of page `number` (1-based): its title, then the key line that ends the frame."""
    match = vm.wait_for(r"Page %d/%d: %s " % (number, len(PAGES), re.escape(PAGES[number - 1])), start=start)
    vm.wait_for(r"Esc: quit\s+(lines \d+-\d+ of \d+\+?|empty)")
    return match.start()


def page_text(vm, start):
    """The serial text of the frame that starts at `start` (up to the end of its key line)."""
    end = vm.clean.index("Esc: quit", start)
    return vm.clean[start:end]


def screendump(vm, tmp_path, number):
    time.sleep(0.3)  # the VGA copy of the frame is written in the same console call; let QEMU refresh
    path = str(tmp_path / ("data-view-%d-%s.png" % (number, SLUGS[number - 1])))
    vm.qmp("screendump", filename=path, format="png")
    check_screendump(path, number)
    if os.environ.get("CAIRN_UPDATE_SCREENSHOTS") == "1":
        os.makedirs(IMAGES, exist_ok=True)
        shutil.copyfile(path, os.path.join(IMAGES, os.path.basename(path)))
    return path


def test_pages_over_serial_and_vga(vm, tmp_path, cairn_version):
    start = vm.mark()
    vm.send("data\r")
    text = page_text(vm, wait_page(vm, 1, start))
    assert "Cairn %s" % cairn_version in text
    for value in (r"Uptime   : \d+\.\d{3} s", r"CPU      : \S+", r"Memory   : total [\d.]+ MiB, free",
                  r"NVMe     : 2 controllers \(2 ready\), 2 namespaces exposed",
                  r"Disks    : 2 disks, 1 partitions, [01] mounted"):
        assert re.search(value, text), "%r not on the overview:\n%s" % (value, text)
    # Whether the EXT2 partition is mounted depends on the kernel's file system set-up; the pages must agree.
    mounted = re.search(r"Disks    : 2 disks, 1 partitions, ([01]) mounted", text).group(1) == "1"
    dumps = [screendump(vm, tmp_path, 1)]

    vm.send_key("right")
    text = page_text(vm, wait_page(vm, 2))
    assert re.search(r"0000:00:0\w\.0 1b36:0010 nvme\s+Non-Volatile memory controller", text), text
    assert re.search(r"0000:00:09\.0 1b36:0010 nvme", text), text
    assert re.search(r"class 010802 rev 02, INTx, 1 BARs \(16\.0 KiB\), MSI-X PCIe PM", text), text
    dumps.append(screendump(vm, tmp_path, 2))

    vm.send_key("right")
    start = wait_page(vm, 3)
    text = page_text(vm, start)
    assert "nvme0  QEMU NVMe Ctrl  SN CAIRN0001  FW " in text and "nvme1  QEMU NVMe Ctrl  SN DATAVIEW2" in text
    assert "state ready" in text and "CAP 0x004018200f0107ff: MQES 2048, CQR 1, DSTRD 4, TO 7500 ms" in text
    assert re.search(r"CC 0x00460001 \(EN 1, SHN 0\)\s+CSTS 0x00000001 \(RDY 1, SHST 0\)", text), text
    assert re.search(r"interrupts: MSI-X, \d+ vectors", text) and "commands: " in text
    dumps.append(screendump(vm, tmp_path, 3))
    # This page is longer than the screen: Down scrolls one line, End shows the last one.
    total = int(re.search(r"lines 1-22 of (\d+)", vm.clean[start:]).group(1))
    assert total > 22
    vm.send_key("down")
    vm.wait_for(r"lines 2-23 of %d" % total)
    vm.send_key("end")
    vm.wait_for(r"lines %d-%d of %d" % (total - 21, total, total))
    vm.send_key("home")
    vm.wait_for(r"lines 1-22 of %d" % total)

    vm.send_key("right")
    text = page_text(vm, wait_page(vm, 4))
    assert re.search(r"nvme0n1\s+1\s+131072\s+512\s+64\.0 MiB", text), text
    assert re.search(r"nvme1n1\s+1\s+6144\s+4096\s+24\.0 MiB\s+lbaf 4 ms:0", text), text
    dumps.append(screendump(vm, tmp_path, 4))

    # A critical warning while the view runs: the health page highlights it; no log line scribbles on the page.
    vm.qmp("qom-set", path="/machine/peripheral/dvctl1", property="smart_critical_warning", value=2)
    time.sleep(1.5)
    vm.send_key("right")
    text = page_text(vm, wait_page(vm, 5))
    assert re.search(r"nvme0  QEMU NVMe Ctrl  SN CAIRN0001\s+critical_warning\s+: 0  \(none\)", text), text
    assert re.search(r"nvme1  QEMU NVMe Ctrl  SN DATAVIEW2\s+critical_warning\s+: 0x2  WARNING", text), text
    assert "[1] Temp. Threshold:" in text and "50 C (323 Kelvin) (warning 343 K, critical 373 K)" in text
    assert re.search(r"data_units_written\s+: \d+ \(", text) and "media_errors" in text
    dumps.append(screendump(vm, tmp_path, 5))

    vm.send_key("right")
    text = page_text(vm, wait_page(vm, 6))
    assert re.search(r"nvme0n1\s+64\.0 MiB, 131072 sectors of 512 bytes, read-write", text), text
    assert re.search(r"nvme0n1p1\s+GPT Linux filesystem at 2048", text), text
    if mounted:
        assert re.search(r"nvme0n1p1 .*\s+ext2 on /mnt/nvme0n1p1 \(rw\), [\d.]+ \w+ free", text), text
    else:
        assert re.search(r"nvme0n1p1 .*?MiB\s+not mounted", text), text
    assert re.search(r"cache: \d+/\d+ blocks of 4096 B, \d+ dirty, \d+% hits", text) and "nvme1n1" in text
    dumps.append(screendump(vm, tmp_path, 6))

    vm.send_key("right")
    text = page_text(vm, wait_page(vm, 7))
    assert re.search(r"VECTOR\s+COUNT\s+PER SECOND\s+SOURCE", text) and "LAPIC timer" in text, text
    assert re.search(r"total \d+ interrupts", text)
    # One refresh later the timer runs at about 100 per second (QEMU's virtual clock under TCG).
    time.sleep(1.3)
    rate = re.findall(r"240\s+\d+\s+(\d+)\s+LAPIC timer", vm.clean[vm.clean.rindex("Page 7/8"):])
    assert rate and 20 <= int(rate[-1]) <= 500, rate
    dumps.append(screendump(vm, tmp_path, 7))

    # No VMD in this machine: the page says so.
    vm.send_key("right")
    text = page_text(vm, wait_page(vm, 8))
    assert "No Intel VMD" in text, text
    dumps.append(screendump(vm, tmp_path, 8))
    assert len({open(path, "rb").read() for path in dumps}) == 8, "two pages look the same on VGA"

    # Right on the last page wraps to the first; a digit jumps; Esc leaves to the prompt.
    vm.send_key("right")
    wait_page(vm, 1)
    vm.send("4")
    wait_page(vm, 4)
    vm.send_key("left")
    wait_page(vm, 3)
    vm.send_key("escape")
    vm.wait_prompt()
    assert vm.command("echo after-the-view").strip() == "after-the-view"
    assert vm.command("log level").strip().lower() == "console log level: info"
    # The driver's warning went to the log, not over the page.
    assert re.search(r"\[NVMeHealth\] nvme1: SMART: ", vm.command("log"))


def test_start_page_and_errors(vm):
    start = vm.mark()
    vm.send("data health\r")
    wait_page(vm, 5, start)
    vm.send("q")
    vm.wait_prompt()
    start = vm.mark()
    vm.send("data 7\r")
    wait_page(vm, 7, start)
    vm.send_key("escape")
    vm.wait_prompt()
    assert vm.command("data 9").strip() == ("data: no page '9' (1-8 or overview, pci, controllers, namespaces, health, "
                                            "disks, interrupts, vmd)")
    assert vm.command("data 1 2").strip().startswith("data: usage: data [page]")
    assert "data" in vm.command("help data")
