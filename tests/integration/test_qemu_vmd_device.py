"""test_qemu_vmd_device.py - the Intel VMD device of Cairn's patched QEMU (tools/qemu-vmd, `make qemu-vmd`).

Skips (with the reason) unless <build>/qemu-vmd/qemu-system-x86_64 exists (the `qemu_vmd` fixture of conftest.py;
it fails instead when CAIRN_REQUIRE_QEMU_VMD=1); the build folder is the harness's (--cairn-build, $CAIRN_BUILD
or build). No Cairn image is needed: every test starts the patched QEMU itself.

* QMP tests: `-machine q35 -accel tcg -S` (stopped before the first instruction) with a vmd device, a
  pcie-root-port on its bus and an NVMe below that port, for several device IDs. query-pci must show the VMD
  (class 0x0104, vendor 8086, the chosen device ID) and none of its children; `info qtree` must show the children
  on the VMD's own bus, numbered from the bus restriction's start bus.
* qtest tests: the same machine under QEMU's qtest accelerator. No firmware runs: the test plays firmware and
  driver over the qtest socket. It reads the host's configuration space through 0xCF8/0xCFC, programs the VMD's
  BARs, walks CFGBAR, programs the root port with real bus numbers, reads NVMe registers through MEMBAR1 and
  MEMBAR2, makes the NVMe send MSI-X messages (admin commands) and checks where the VMD delivers them: the VMD's
  MSI-X table entries point at guest RAM, so a remapped message is a RAM write the test can read.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from cairn_qemu import QMPClient

CLIENT_IDS = (0x467F, 0x4C3D, 0x9A0B, 0xA77F, 0x7D0B, 0xAD0B, 0xB60B, 0xB06F, 0xB07F)
SERVER_IDS = (0x201D, 0x28C0)
START_BUS = {0: 0x00, 1: 0x80, 2: 0xE0, 3: 0xE0}

ROOT_PORT_ID = (0x1B36, 0x000C)
NVME_ID = (0x1B36, 0x0010)

# Where the test maps things (q35, 256 MiB of RAM below 4 GiB).
CFGBAR = 0xE0000000      # 32 MiB
MEMBAR1 = 0xE2000000     # 16 MiB
MEMBAR2 = 0xE3000000     # 16 MiB
ASQ = 0x00100000         # NVMe admin queues in guest RAM
ACQ = 0x00101000
SINK = 0x00200000        # the VMD's MSI-X entry i writes 0xCAFE0000 | i to SINK + 16 * i
VMD_DEVFN = (0x0E, 0)    # addr=0e.0, where client platforms put the VMD

VMCONFIG = 0x44
VMD_MSIX_CAP = 0x80


class VMDMachine:
    """One patched QEMU: q35, a vmd device (id vmd0, at 00:0e.0) and its children.

    vmd_options: more -device vmd properties ("device-id=0x28c0,bus-restriction=1")
    accel:       "tcg" (stopped with -S) or "qtest" (no CPU runs; the test drives the machine over .qtest)
    children:    True: a pcie-root-port rp1 on the VMD's bus and an NVMe below it; "rp-only": only rp1
    """

    def __init__(self, binary, vmd_options="", accel="tcg", children=True):
        self.work = tempfile.mkdtemp(prefix="cairn-vmd-")
        self.qmp_path = os.path.join(self.work, "qmp.sock")
        self.qtest_path = os.path.join(self.work, "qtest.sock")
        self.trace_path = os.path.join(self.work, "trace.log")
        disk = os.path.join(self.work, "disk.img")
        with open(disk, "wb") as image:
            image.truncate(1 << 20)
        vmd = "vmd,id=vmd0,addr=%02x.%d" % VMD_DEVFN + ("," + vmd_options if vmd_options else "")
        args = [binary, "-machine", "q35", "-m", "256", "-nodefaults", "-display", "none",
                "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path,
                "-trace", "vmd_msi_*", "-trace", "vmd_intx_*", "-trace", "vmd_cfg_read", "-D", self.trace_path,
                "-device", vmd]
        if children == "rp-only":
            args += ["-device", "pcie-root-port,id=rp1,bus=vmd0,chassis=1,slot=1"]
        elif children:
            args += ["-device", "pcie-root-port,id=rp1,bus=vmd0,chassis=1,slot=1",
                     "-drive", "if=none,id=d0,format=raw,file=%s" % disk,
                     "-device", "nvme,serial=VMDCHILD,drive=d0,bus=rp1"]
        if accel == "qtest":
            args += ["-accel", "qtest", "-qtest", "unix:%s,server=on,wait=off" % self.qtest_path,
                     "-qtest-log", "/dev/null"]
        else:
            args += ["-accel", "tcg", "-S"]
        self.args = args
        # QEMU's output goes to a file: a pipe nobody reads could fill up and stop QEMU.
        self.output_path = os.path.join(self.work, "output.log")
        with open(self.output_path, "wb") as output:
            self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=output,
                                            stderr=subprocess.STDOUT)
        self.qmp = None
        self.qtest = None
        try:
            self.qmp = QMPClient(self.qmp_path, timeout=10.0)
            if accel == "qtest":
                self.qtest = QTestClient(self.qtest_path)
        except Exception:
            self.close()
            raise

    def close(self):
        """Quits QEMU and removes the work folder; returns QEMU's output. Safe to call twice."""
        if self.process.returncode is not None:
            return ""
        if self.qtest is not None:
            self.qtest.close()
        if self.qmp is not None:
            try:
                self.qmp.execute("quit")
            except Exception:
                pass
            self.qmp.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        with open(self.output_path, encoding="utf-8", errors="replace") as output:
            text = output.read()
        shutil.rmtree(self.work, ignore_errors=True)
        return text

    def trace(self):
        with open(self.trace_path, encoding="utf-8", errors="replace") as trace:
            return trace.read()

    def hmp(self, command):
        return self.qmp.execute("human-monitor-command", **{"command-line": command}).replace("\r\n", "\n")


class QTestClient:
    """QEMU's qtest text protocol: one command per line, answered by "OK [value]" (IRQ events are skipped)."""

    def __init__(self, path, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.sock.settimeout(timeout)
        self.reader = self.sock.makefile("r", encoding="ascii")

    def command(self, text):
        self.sock.sendall((text + "\n").encode("ascii"))
        while True:
            line = self.reader.readline()
            if not line:
                raise AssertionError("qtest connection closed after %r" % text)
            words = line.split()
            if words and words[0] == "IRQ":
                continue
            if not words or words[0] != "OK":
                raise AssertionError("qtest %r -> %r" % (text, line))
            return int(words[1], 16) if len(words) > 1 else None

    close = QMPClient.close     # closes self.reader and self.sock, the same way

    # memory
    def readl(self, address):
        return self.command("readl 0x%x" % address)

    def readq(self, address):
        return self.command("readq 0x%x" % address)

    def readw(self, address):
        return self.command("readw 0x%x" % address)

    def readb(self, address):
        return self.command("readb 0x%x" % address)

    def writel(self, address, value):
        self.command("writel 0x%x 0x%x" % (address, value))

    def writew(self, address, value):
        self.command("writew 0x%x 0x%x" % (address, value))

    def writeb(self, address, value):
        self.command("writeb 0x%x 0x%x" % (address, value))

    def writeq(self, address, value):
        self.command("writeq 0x%x 0x%x" % (address, value))

    def zero(self, address, size):
        self.command("memset 0x%x 0x%x 0x00" % (address, size))

    # the host's configuration space, mechanism #1 (what q35 firmware uses below offset 256)
    def host_cfg_read(self, bus, dev, fn, reg, size=4):
        self.command("outl 0xcf8 0x%x" % (0x80000000 | bus << 16 | dev << 11 | fn << 8 | (reg & 0xFC)))
        port = 0xCFC + (reg & 3)
        return self.command({1: "inb", 2: "inw", 4: "inl"}[size] + " 0x%x" % port)

    def host_cfg_write(self, bus, dev, fn, reg, value, size=4):
        self.command("outl 0xcf8 0x%x" % (0x80000000 | bus << 16 | dev << 11 | fn << 8 | (reg & 0xFC)))
        port = 0xCFC + (reg & 3)
        self.command({1: "outb", 2: "outw", 4: "outl"}[size] + " 0x%x 0x%x" % (port, value))


def all_pci_devices(buses):
    """Every device in a query-pci answer, behind bridges too."""
    found = []
    for bus in buses:
        stack = list(bus["devices"])
        while stack:
            device = stack.pop()
            found.append(device)
            stack.extend(device.get("pci_bridge", {}).get("devices", []))
    return found


def qtree_bus(qtree, name):
    """The text of the qtree below 'bus: NAME' (its indented block)."""
    match = re.search(r"^( *)bus: %s\n((?:\1 .*\n)*)" % re.escape(name), qtree, re.M)
    assert match, "no bus %s in info qtree:\n%s" % (name, qtree)
    return match.group(2)


@pytest.fixture
def start(qemu_vmd):
    machines = []

    def factory(*args, **kwargs):
        machine = VMDMachine(qemu_vmd, *args, **kwargs)
        machines.append(machine)
        return machine

    yield factory
    for machine in machines:
        machine.close()


# -- QMP: what the host sees, for several device IDs -----------------------------------------------------

@pytest.mark.parametrize("device_id,restriction", [
    (0x9A0B, None), (0x467F, 1), (0x7D0B, 0), (0xB07F, 3), (0x28C0, None), (0x28C0, 1), (0x201D, None)])
def test_host_sees_the_vmd_and_not_its_children(start, device_id, restriction):
    options = "device-id=0x%04x" % device_id
    if restriction is not None:
        options += ",bus-restriction=%d" % restriction
    machine = start(options)

    devices = all_pci_devices(machine.qmp.execute("query-pci"))
    vmds = [d for d in devices if d.get("qdev_id") == "vmd0"]
    assert len(vmds) == 1, "vmd0 not in query-pci: %s" % json.dumps(devices)
    vmd = vmds[0]
    assert vmd["bus"] == 0 and (vmd["slot"], vmd["function"]) == VMD_DEVFN
    assert (vmd["id"]["vendor"], vmd["id"]["device"]) == (0x8086, device_id)
    assert vmd["class_info"]["class"] == 0x0104, vmd["class_info"]
    assert "pci_bridge" not in vmd
    bars = {region["bar"]: region for region in vmd["regions"]}
    assert bars[0]["size"] == 32 << 20 and bars[0]["mem_type_64"]          # CFGBAR
    assert bars[2]["size"] == 16 << 20                                       # MEMBAR1
    assert bars[2]["mem_type_64"] == (device_id in SERVER_IDS)               # 32-bit on client IDs
    assert bars[4]["size"] == 16 << 20 and bars[4]["mem_type_64"]          # MEMBAR2
    for device in devices:
        ident = (device["id"]["vendor"], device["id"]["device"])
        assert ident not in (ROOT_PORT_ID, NVME_ID), "a VMD child is on the host's PCI bus: %s" % device
        assert device["class_info"]["class"] != 0x0604, "the host sees a bridge: %s" % device

    text = machine.hmp("info pci")
    assert "RAID controller: PCI device 8086:%04x" % device_id in text, text
    assert "1b36:000c" not in text and "1b36:0010" not in text

    qtree = machine.hmp("info qtree")
    vmd_bus = qtree_bus(qtree, "vmd0")
    assert re.match(r" *type vmd-pcie-bus\n", vmd_bus), vmd_bus
    start_bus = START_BUS[restriction if restriction is not None else (0 if device_id in SERVER_IDS else 2)]
    assert re.search(r'dev: pcie-root-port, id "rp1"', vmd_bus)
    assert re.search(r"class PCI bridge, addr %02x:00\.0, pci id 1b36:000c" % start_bus, vmd_bus), vmd_bus
    nvme_bus = qtree_bus(vmd_bus, "rp1")
    assert re.search(r'dev: nvme, id ""', nvme_bus) and "pci id 1b36:0010" in nvme_bus
    # The bus belongs to the vmd device (it is listed inside the device's block, not beside it).
    pcie0 = qtree_bus(qtree, "pcie.0")
    device_block = re.search(r'^( *)dev: vmd, id "vmd0"\n((?:\1 .*\n)*)', pcie0, re.M)
    assert device_block and "bus: vmd0" in device_block.group(2)
    assert pcie0.count("dev: pcie-root-port") == 1 and pcie0.count("dev: nvme") == 1


def test_bad_properties_are_refused(qemu_vmd):
    cases = [("device-id=0x1234", "not a known VMD ID"),
             ("device-id=0x201d,bus-restriction=1", "has no bus restrictions"),
             ("bus-restriction=4", "bus-restriction must be 0, 1, 2 or 3"),
             ("cfgbarsz=19", "cfgbarsz must be 20..28"),
             ("msix-vectors=300", "msix-vectors must be 1..256")]
    for options, message in cases:
        result = subprocess.run([qemu_vmd, "-machine", "q35", "-accel", "tcg", "-S", "-nodefaults", "-display",
                                 "none", "-device", "vmd,id=vmd0," + options],
                                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        assert result.returncode != 0 and message in result.stderr, (options, result.stderr)


# -- qtest: the test as firmware and driver ------------------------------------------------------------

class VMDDriver:
    """Programs a VMDMachine under qtest the way firmware and a VMD driver would."""

    def __init__(self, machine):
        self.machine = machine
        self.qt = machine.qtest
        self.dev, self.fn = VMD_DEVFN

    # the VMD's own configuration space (host ECAM/CF8)
    def vmd_read(self, reg, size=4):
        return self.qt.host_cfg_read(0, self.dev, self.fn, reg, size)

    def vmd_write(self, reg, value, size=4):
        self.qt.host_cfg_write(0, self.dev, self.fn, reg, value, size)

    def map_vmd(self, command=0x0006):
        for bar, address in ((0x10, CFGBAR), (0x18, MEMBAR1), (0x20, MEMBAR2)):
            self.vmd_write(bar, address)
            if self.vmd_read(bar) & 0x4:                   # 64-bit BAR: upper half
                self.vmd_write(bar + 4, 0)
        self.vmd_write(0x04, command, 2)                    # Memory Space (and Bus Master) Enable

    def busn_start(self):
        if not (self.vmd_read(0x40, 2) & 1):
            return 0
        return {0: 0, 1: 128, 2: 224, 3: 224}[(self.vmd_read(VMCONFIG) >> 8) & 3]

    # the hidden segment (CFGBAR)
    @staticmethod
    def cfg_address(index, dev, fn, reg):
        return CFGBAR + (index << 20 | dev << 15 | fn << 12 | reg)

    def cfg_read(self, index, dev, fn, reg, size=4):
        read = {1: self.qt.readb, 2: self.qt.readw, 4: self.qt.readl}[size]
        return read(self.cfg_address(index, dev, fn, reg))

    def cfg_write(self, index, dev, fn, reg, value, size=4):
        write = {1: self.qt.writeb, 2: self.qt.writew, 4: self.qt.writel}[size]
        write(self.cfg_address(index, dev, fn, reg), value)
        self.cfg_read(index, dev, fn, reg, size)           # read back, as drivers must

    def find_cap(self, index, cap_id):
        pointer = self.cfg_read(index, 0, 0, 0x34, 1)
        while pointer:
            if self.cfg_read(index, 0, 0, pointer, 1) == cap_id:
                return pointer
            pointer = self.cfg_read(index, 0, 0, pointer + 1, 1)
        raise AssertionError("capability 0x%x not found at CFGBAR index %d" % (cap_id, index))

    def setup_root_port(self, secondary_index=1, window=MEMBAR1):
        start = self.busn_start()
        secondary = start + secondary_index
        self.cfg_write(0, 0, 0, 0x18, secondary << 16 | secondary << 8 | start)   # subordinate, secondary, primary
        base = (window >> 16) & 0xFFF0
        self.cfg_write(0, 0, 0, 0x20, base << 16 | base)                           # 1 MiB memory window
        self.cfg_write(0, 0, 0, 0x04, 0x0006, 2)

    def setup_nvme(self, bar=MEMBAR1):
        self.cfg_write(1, 0, 0, 0x10, bar)
        self.cfg_write(1, 0, 0, 0x14, 0)
        self.cfg_write(1, 0, 0, 0x04, 0x0406, 2)            # MSE, BME, INTx disable
        self.nvme = bar
        msix = self.find_cap(1, 0x11)
        self.cfg_write(1, 0, 0, msix + 2, 0x8000, 2)        # MSI-X enable
        # admin queues: 4 entries each
        self.qt.zero(ASQ, 0x2000)
        self.qt.writel(bar + 0x24, 0x00030003)
        self.qt.writeq(bar + 0x28, ASQ)
        self.qt.writeq(bar + 0x30, ACQ)
        self.qt.writel(bar + 0x14, 0x00460001)              # CC: EN, IOSQES 6, IOCQES 4
        deadline = time.monotonic() + 5
        while not self.qt.readl(bar + 0x1C) & 1:
            assert time.monotonic() < deadline, "NVMe CSTS.RDY not set"
            time.sleep(0.01)
        self.sq_tail = 0
        self.cq_head = 0
        self.phase = 1
        self.cid = 0

    def nvme_msix_target(self, address, data=0, masked=False):
        """Points the NVMe's MSI-X entry 0 (the admin completion queue's vector) at address/data."""
        entry = self.nvme + 0x2000
        self.qt.writel(entry, address & 0xFFFFFFFF)
        self.qt.writel(entry + 4, address >> 32)
        self.qt.writel(entry + 8, data)
        self.qt.writel(entry + 12, 1 if masked else 0)

    def nvme_admin_command(self):
        """Get Features (Number of Queues): no data; its completion makes the NVMe send MSI-X vector 0."""
        self.cid += 1
        slot = ASQ + 64 * self.sq_tail
        self.qt.zero(slot, 64)
        self.qt.writel(slot, 0x0A | self.cid << 16)
        self.qt.writel(slot + 40, 0x07)
        self.sq_tail = (self.sq_tail + 1) % 4
        self.qt.writel(self.nvme + 0x1000, self.sq_tail)
        entry = ACQ + 16 * self.cq_head
        deadline = time.monotonic() + 5
        while True:
            dword3 = self.qt.readl(entry + 12)
            if (dword3 >> 16) & 1 == self.phase:
                break
            assert time.monotonic() < deadline, "no NVMe completion for command %d" % self.cid
            time.sleep(0.005)
        assert dword3 & 0xFFFF == self.cid and dword3 >> 17 == 0, "completion 0x%08x" % dword3
        self.cq_head = (self.cq_head + 1) % 4
        if self.cq_head == 0:
            self.phase ^= 1
        self.qt.writel(self.nvme + 0x1004, self.cq_head)
        time.sleep(0.02)   # the MSI-X message is sent right after the completion is written

    # the VMD's MSI-X table in MEMBAR2 [0, 0x1000), PBA at 0x1000
    def vmd_msix_setup(self, vectors):
        for index in range(vectors):
            entry = MEMBAR2 + 16 * index
            self.qt.writel(entry, SINK + 16 * index)
            self.qt.writel(entry + 4, 0)
            self.qt.writel(entry + 8, 0xCAFE0000 | index)
            self.qt.writel(entry + 12, 0)
        self.vmd_write(VMD_MSIX_CAP + 2, 0x8000, 2)

    def sink(self, vectors):
        """{index: value} of the RAM words the VMD's MSI-X entries write; cleared after reading."""
        values = {}
        for index in range(vectors):
            value = self.qt.readl(SINK + 16 * index)
            if value:
                values[index] = value
        self.qt.zero(SINK, 16 * vectors)
        return values


def bring_up(machine, vectors):
    driver = VMDDriver(machine)
    driver.map_vmd()
    driver.setup_root_port()
    driver.setup_nvme()
    driver.vmd_msix_setup(vectors)
    driver.sink(vectors)
    return driver


def test_cfgbar_reaches_the_hidden_segment(start):
    machine = start("device-id=0x9a0b", accel="qtest")
    driver = VMDDriver(machine)
    qt = machine.qtest

    # The host's configuration space: the VMD (class 01/04/00) and no root port or NVMe on any bus the
    # segment could use.
    assert driver.vmd_read(0x00) == 0x9A0B8086
    assert driver.vmd_read(0x08) >> 8 == 0x010400
    for bus in (0x00, 0x01, 0x80, 0x81, 0xE0, 0xE1):
        for dev in range(32):
            ident = qt.host_cfg_read(bus, dev, 0, 0x00)
            assert ident not in (0x000C1B36, 0x00101B36), "host config space reaches %02x:%02x.0" % (bus, dev)

    # Register defaults (section 2.2): bus restriction capability, VMCONFIG locked with restriction 2,
    # DID_ASSIGN = the device ID, CFGBARSZ/MEMBAR1SZ/MEMBAR2SZ.
    assert driver.vmd_read(0x40) == 0x1
    vmconfig = driver.vmd_read(VMCONFIG)
    assert vmconfig & 1 and (vmconfig >> 8) & 3 == 2 and (vmconfig >> 10) & 0xFFFF == 0x9A0B, hex(vmconfig)
    assert [driver.vmd_read(reg, 1) for reg in (0x4C, 0x4D, 0x4E)] == [25, 24, 24]

    # With Memory Space Enable off CFGBAR does not decode (q35 reads unassigned memory as zero).
    driver.map_vmd(command=0)
    assert qt.readl(CFGBAR) != 0x000C1B36
    driver.vmd_write(0x04, 0x0006, 2)

    assert driver.busn_start() == 224
    assert driver.cfg_read(0, 0, 0, 0x00) == 0x000C1B36          # the root port at index 0 = bus 224
    assert driver.cfg_read(0, 0, 0, 0x0E, 1) & 0x7F == 1         # type 1 header
    assert driver.cfg_read(0, 1, 0, 0x00) == 0xFFFFFFFF          # nothing at device 1
    assert driver.cfg_read(0, 0, 0, 0x100) != 0xFFFFFFFF         # extended config space (AER etc.)
    assert driver.cfg_read(1, 0, 0, 0x00) == 0xFFFFFFFF          # bus 225 not routed yet

    # A bridge programmed with the CFGBAR index (1) instead of the real number (225) routes nothing.
    driver.cfg_write(0, 0, 0, 0x18, 0x00010100)
    assert driver.cfg_read(1, 0, 0, 0x00) == 0xFFFFFFFF
    # With real numbers the NVMe answers at index 1.
    driver.setup_root_port()
    assert driver.cfg_read(0, 0, 0, 0x18) & 0xFFFFFF == 0xE1E1E0
    assert driver.cfg_read(1, 0, 0, 0x00) == 0x00101B36
    assert driver.cfg_read(1, 0, 0, 0x08) >> 8 == 0x010802
    assert driver.cfg_read(1, 1, 0, 0x00) == 0xFFFFFFFF

    # MEMBAR1: the NVMe's BAR inside it, reached at the same address (bus address = CPU address).
    driver.setup_nvme(bar=MEMBAR1)
    assert qt.readl(MEMBAR1 + 0x08) == 0x00010400                 # NVMe VS 1.4
    assert qt.readq(MEMBAR1) & 0xFFFF == 0x07FF                   # CAP.MQES

    # MEMBAR2: its first 8 KiB are the VMD's MSI-X table and PBA; children start at +0x2000 on client IDs.
    qt.writel(MEMBAR2 + 8, 0x12345678)
    assert qt.readl(MEMBAR2 + 8) == 0x12345678                     # VMD MSI-X entry 0 data
    driver.setup_root_port(window=MEMBAR2)
    driver.cfg_write(1, 0, 0, 0x10, MEMBAR2 + 0x4000)
    assert qt.readl(MEMBAR2 + 0x4008) == 0x00010400
    assert qt.readl(MEMBAR2 + 8) == 0x12345678


def test_cfgbar_bus_count_is_clamped_at_bus_255(start):
    # 64 MiB of CFGBAR would be 64 buses, but from 224 only 32 exist: indices 32..63 decode to nothing.
    machine = start("device-id=0x9a0b,cfgbarsz=26", accel="qtest")
    driver = VMDDriver(machine)
    driver.map_vmd()
    assert driver.cfg_read(0, 0, 0, 0x00) == 0x000C1B36
    assert driver.cfg_read(31, 0, 0, 0x00) == 0xFFFFFFFF       # bus 255: in range, nothing there
    assert driver.cfg_read(32, 0, 0, 0x00) == 0xFFFFFFFF       # beyond bus 255
    assert driver.cfg_read(63, 0, 0, 0x00) == 0xFFFFFFFF
    trace = machine.trace()
    assert re.search(r"vmd_cfg_read bus 255 dev 0 fn 0 reg 0x000 size 4 -> 0xffffffff", trace), trace
    assert re.search(r"vmd_cfg_read bus -1 dev 0 fn 0 reg 0x000 size 4 -> 0xffffffff", trace), trace


def test_secondary_bus_reset_through_cfgbar(start):
    machine = start("device-id=0x9a0b", accel="qtest")
    driver = VMDDriver(machine)
    driver.map_vmd()
    driver.setup_root_port()
    driver.setup_nvme()
    assert driver.cfg_read(1, 0, 0, 0x04, 2) & 0x6 == 0x6
    assert driver.machine.qtest.readl(MEMBAR1 + 0x1C) & 1                  # CSTS.RDY

    control = driver.cfg_read(0, 0, 0, 0x3E, 2)
    driver.cfg_write(0, 0, 0, 0x3E, control | 0x40, 2)                     # Secondary Bus Reset on
    assert driver.cfg_read(1, 0, 0, 0x00) == 0xFFFFFFFF                   # the bus in reset is not reached
    driver.cfg_write(0, 0, 0, 0x3E, control, 2)                             # and off
    assert driver.cfg_read(1, 0, 0, 0x00) == 0x00101B36
    assert driver.cfg_read(1, 0, 0, 0x04, 2) & 0x6 == 0                     # Command cleared by the reset
    assert driver.cfg_read(1, 0, 0, 0x10) & ~0xF == 0                      # BAR0 cleared
    driver.setup_nvme()                                                     # the controller was reset too
    assert driver.machine.qtest.readl(MEMBAR1 + 0x08) == 0x00010400


@pytest.mark.parametrize("device_id", [0x9A0B, 0x201D, 0x28C0])
def test_child_msi_is_remapped_through_the_vmd_msix_table(start, device_id):
    vectors = 64 if device_id == 0x28C0 else 32
    machine = start("device-id=0x%04x" % device_id, accel="qtest")
    driver = bring_up(machine, vectors)
    client = device_id in CLIENT_IDS

    # Bits 19:12 of the child's message address pick the VMD vector; the data is ignored.
    for index in (1, 2, 7, vectors - 1):
        driver.nvme_msix_target(0xFEE00000 | index << 12, data=0x55)
        driver.nvme_admin_command()
        assert driver.sink(vectors) == {index: 0xCAFE0000 | index}, "index %d" % index

    # Vector 0: client VMDs do not forward remapped messages through it; server VMDs do.
    driver.nvme_msix_target(0xFEE00000)
    driver.nvme_admin_command()
    assert driver.sink(vectors) == ({} if client else {0: 0xCAFE0000})

    # An index beyond the VMD's table is dropped.
    driver.nvme_msix_target(0xFEE00000 | 200 << 12)
    driver.nvme_admin_command()
    assert driver.sink(vectors) == {}

    # A masked VMD entry keeps the message pending (PBA) until it is unmasked.
    driver.machine.qtest.writel(MEMBAR2 + 16 * 3 + 12, 1)
    driver.nvme_msix_target(0xFEE03000)
    driver.nvme_admin_command()
    assert driver.sink(vectors) == {}
    assert driver.machine.qtest.readl(MEMBAR2 + 0x1000) & (1 << 3)
    driver.machine.qtest.writel(MEMBAR2 + 16 * 3 + 12, 0)
    time.sleep(0.02)
    assert driver.sink(vectors) == {3: 0xCAFE0003}
    assert not driver.machine.qtest.readl(MEMBAR2 + 0x1000) & (1 << 3)

    # MSI_RMP_DIS (VMCONFIG bit 1): only 28C0 can bypass; elsewhere the bit stays 0 and remapping goes on.
    driver.vmd_write(VMCONFIG, driver.vmd_read(VMCONFIG) | 0x2)
    bypass = bool(driver.vmd_read(VMCONFIG) & 0x2)
    assert bypass == (device_id == 0x28C0)
    driver.nvme_msix_target(0xFEE02000, data=0x4041)
    driver.nvme_admin_command()
    trace = machine.trace()
    if bypass:
        assert driver.sink(vectors) == {}
        assert "child MSI addr 0xfee02000 data 0x4041 passed through" in trace
        driver.vmd_write(VMCONFIG, driver.vmd_read(VMCONFIG) & ~0x2)
        driver.nvme_admin_command()
        assert driver.sink(vectors) == {2: 0xCAFE0002}
    else:
        assert driver.sink(vectors) == {2: 0xCAFE0002}
        assert "passed through" not in trace
    if client:
        assert "vector 0 of a client VMD" in trace
    assert "index beyond the MSI-X table" in trace


def test_vmd_bus_master_enable_gates_child_msi_and_dma(start):
    machine = start("device-id=0x9a0b", accel="qtest")
    driver = bring_up(machine, 32)
    # Leave a message pending on the NVMe's masked MSI-X entry 0 (the command needs BME for its own DMA) ...
    driver.nvme_msix_target(0xFEE01000, masked=True)
    driver.nvme_admin_command()
    assert driver.sink(32) == {}
    # ... then clear the VMD's Bus Master Enable and unmask: the message reaches the VMD and goes no further.
    driver.vmd_write(0x04, 0x0002, 2)
    machine.qtest.writel(driver.nvme + 0x2000 + 12, 0)
    assert driver.sink(32) == {}
    assert "VMD bus master disabled" in machine.trace()
    # With BME back on, messages are remapped again.
    driver.vmd_write(0x04, 0x0006, 2)
    driver.nvme_admin_command()
    assert driver.sink(32) == {1: 0xCAFE0001}
    # Without it the NVMe cannot fetch its next command from RAM: Controller Fatal Status, no completion.
    driver.vmd_write(0x04, 0x0002, 2)
    completion = machine.qtest.readl(ACQ + 16 * driver.cq_head + 12)
    machine.qtest.writel(driver.nvme + 0x1000, (driver.sq_tail + 1) % 4)
    time.sleep(0.1)
    assert machine.qtest.readl(driver.nvme + 0x1C) & 0x2, "CSTS.CFS"
    assert machine.qtest.readl(ACQ + 16 * driver.cq_head + 12) == completion
    assert driver.sink(32) == {}


def test_vmconfig_lock_and_bus_restriction(start):
    # Locked (as firmware leaves it): BUS_RESTRICTIONS, VMCAP and VMASSIGN are read-only.
    machine = start("device-id=0x9a0b", accel="qtest")
    driver = VMDDriver(machine)
    before = driver.vmd_read(VMCONFIG)
    driver.vmd_write(VMCONFIG, (before & ~0x301) | 0x100)
    assert driver.vmd_read(VMCONFIG) == before
    driver.vmd_write(0x48, 0xFFFFFFFF)
    assert driver.vmd_read(0x48) == 0
    machine.close()

    # Unlocked: firmware picks restriction 1 (buses from 128), then locks.
    machine = start("device-id=0x9a0b,locked=off", accel="qtest")
    driver = VMDDriver(machine)
    assert driver.vmd_read(VMCONFIG) & 1 == 0
    driver.vmd_write(VMCONFIG, (driver.vmd_read(VMCONFIG) & ~0x300) | 0x100)
    driver.vmd_write(0x48, 0x00004000)
    assert driver.vmd_read(0x48) == 0x00004000
    driver.vmd_write(VMCONFIG, driver.vmd_read(VMCONFIG) | 1)
    driver.vmd_write(VMCONFIG, driver.vmd_read(VMCONFIG) & ~0x301)       # neither unlock nor change
    assert driver.vmd_read(VMCONFIG) & 0x301 == 0x101
    assert driver.busn_start() == 128
    driver.map_vmd()
    driver.setup_root_port()
    assert driver.cfg_read(0, 0, 0, 0x18) & 0xFFFFFF == 0x818180
    assert driver.cfg_read(1, 0, 0, 0x00) == 0x00101B36
    assert "class PCI bridge, addr 80:00.0" in machine.hmp("info qtree")

    # A system reset brings back the property values (restriction 2, unlocked).
    machine.qmp.execute("system_reset")
    time.sleep(0.1)
    assert driver.vmd_read(VMCONFIG) & 0x301 == 0x200
    assert driver.vmd_read(0x48) == 0


def test_intx_from_the_segment_is_not_delivered(start):
    machine = start("device-id=0x9a0b", accel="qtest")
    driver = bring_up(machine, 32)
    # MSI-X off on the NVMe: it signals completions with INTx, which the VMD drops.
    msix = driver.find_cap(1, 0x11)
    driver.cfg_write(1, 0, 0, msix + 2, 0x0000, 2)
    driver.cfg_write(1, 0, 0, 0x04, 0x0006, 2)          # INTx enabled
    driver.nvme_admin_command()
    assert driver.sink(32) == {}
    assert "child INTx pin 0 level 1 not forwarded" in machine.trace()


def test_hotplug_into_a_root_port_behind_the_vmd(start):
    """device_add of an NVMe into an empty root port slot: the port reports it and its MSI-X is remapped."""
    machine = start("device-id=0x9a0b", accel="qtest", children="rp-only")
    driver = VMDDriver(machine)
    qt = machine.qtest
    driver.map_vmd()
    driver.setup_root_port()
    driver.vmd_msix_setup(32)
    driver.sink(32)
    express = driver.find_cap(0, 0x10)
    assert driver.cfg_read(0, 0, 0, express + 0x14) & 0x40           # Slot Capabilities: hot-plug capable
    # The root port's MSI-X table is in its BAR0, which sits on the VMD's root bus: put it in MEMBAR1.
    port_bar = MEMBAR1 + (1 << 20)
    driver.cfg_write(0, 0, 0, 0x10, port_bar)
    for offset, value in ((0, 0xFEE04000), (4, 0), (8, 0), (12, 0)):   # entry 0 -> VMD vector 4
        qt.writel(port_bar + offset, value)
    driver.cfg_write(0, 0, 0, driver.find_cap(0, 0x11) + 2, 0x8000, 2)
    # Slot Control: presence-detect-changed and data-link-layer-state-changed interrupts, power on.
    driver.cfg_write(0, 0, 0, express + 0x18, 0x1128, 2)
    assert driver.cfg_read(1, 0, 0, 0x00) == 0xFFFFFFFF

    machine.qmp.execute("blockdev-add", **{"driver": "null-co", "node-name": "hotplugged"})
    machine.qmp.execute("device_add", driver="nvme", id="nvme-hp", serial="HOTPLUG", drive="hotplugged",
                        bus="rp1")
    time.sleep(0.1)
    status = driver.cfg_read(0, 0, 0, express + 0x1A, 2)
    assert status & 0x40 and status & 0x08, "Slot Status 0x%04x: presence detect (changed)" % status
    assert driver.cfg_read(1, 0, 0, 0x00) == 0x00101B36
    assert driver.sink(32) == {4: 0xCAFE0004}
    assert "child MSI addr 0xfee04000 data 0x0 -> VMD MSI-X vector 4" in machine.trace()
    assert "dev: nvme, id \"nvme-hp\"" in qtree_bus(machine.hmp("info qtree"), "rp1")
    assert not [d for d in all_pci_devices(machine.qmp.execute("query-pci")) if d.get("qdev_id") == "nvme-hp"]
