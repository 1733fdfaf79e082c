"""test_nvme_health.py - NVMe management from the shell under QEMU: `nvme info|smart|error-log|regs|features|
trim|flush|reset`, and the driver's reset and clean shutdown seen from outside.

What QEMU was given is the truth: serials, the model, firmware revision, namespace sizes and formats and MDTS
must come back in `nvme info` (nvme-cli's id-ctrl / id-ns fields) and agree with `nvme list`; SMART counters
must grow by exactly what a known write sent; a critical warning set from outside (QMP qom-set of the nvme
device's smart_critical_warning property) must show in `nvme smart` and make the driver log the asynchronous
event; a trim must give the space back in the sparse backing file (discard=unmap); a reset in the middle of a
queue-depth-32 benchmark must lose nothing; and `poweroff` must shut the controller down (QEMU traces CC.SHN)
with every byte written in the backing file. Every VM runs with QEMU's pci_nvme_ub_* / pci_nvme_err_* trace
events; conftest fails a test on any the test did not declare.

QEMU 7.2 facts used here (see ../shared/reference/qemu-nvme-facts.md): SMART data units are
ceil(sectors written / 1000) over the controller's life, host write commands count NVMe Write commands; the
Error Information log is all zeros; ELPE is 0 (one entry); Error Recovery is a per-namespace feature.
"""

import math
import os
import re
import time

import pytest

import nvme_images
from nvme_images import MIB
from cairn_qemu import BOOT_TIMEOUT

QEMU_CAP = 0x4018200F0107FF
FILL_TIMEOUT = 120.0


# -- helpers ------------------------------------------------------------------------------------------------


def fields(output, pattern=r"^\s*([A-Za-z_][\w ]*?)\s*: (.*)$"):
    """'name : value' lines into a dict (the first occurrence of each name wins)."""
    result = {}
    for match in re.finditer(pattern, output, re.M):
        result.setdefault(match.group(1).strip(), match.group(2).strip())
    return result


def section(output, start, end=None):
    """The text from the line that starts with `start` up to (not including) the line that starts with `end`."""
    begin = output.index(start)
    stop = output.index(end, begin + 1) if end else len(output)
    return output[begin:stop]


def smart(vm, controller="nvme0"):
    output = vm.command("nvme smart %s" % controller)
    values = fields(output)
    assert values.get("temperature") == "50 C (323 Kelvin)", output
    return values, output


def first_number(text):
    return int(re.match(r"(\d+)", text).group(1))


def drive_args(number, path, serial, options="", drive_options=""):
    """One legacy-namespace controller on a backing file that is written for real (no snapshot)."""
    drive = "if=none,id=hdrv%d,format=raw,file=%s%s" % (number, path, drive_options)
    device = "nvme,id=nvmectl%d,serial=%s,drive=hdrv%d,bus=pcie.0,addr=0x%x" % (number, serial, number, 4 + number)
    if options:
        device += "," + options
    return ["-drive", drive, "-device", device]


# -- identity: nvme info and nvme list agree with what QEMU was given ----------------------------------------


@pytest.fixture
def two_controllers(make_vm, tmp_path):
    a = nvme_images.Namespace(nvme_images.make_image(str(tmp_path / "a.img"), 16 * MIB))
    b1 = nvme_images.Namespace(nvme_images.make_image(str(tmp_path / "b1.img"), 8 * MIB), nsid=1)
    b2 = nvme_images.Namespace(nvme_images.make_image(str(tmp_path / "b2.img"), 12 * MIB), nsid=2, block_size=4096)
    controllers = [nvme_images.Controller("HEALTHA", [a], addr=0x4),
                   nvme_images.Controller("HEALTHB", [b1, b2], options="mdts=3", addr=0x5)]
    vm = make_vm(nvme_disks=[], extra_args=nvme_images.qemu_args(controllers), memory_mib=512)
    vm.wait_boot(BOOT_TIMEOUT)
    return vm, controllers


def test_info_matches_qemu_and_list(two_controllers):
    vm, controllers = two_controllers
    firmware = nvme_images.qemu_firmware_revision()
    rows = nvme_images.parse_columns(vm.command("nvme list"))
    for index, (controller, mdts) in enumerate(zip(controllers, (7, 3))):
        output = vm.command("nvme info nvme%d" % index)
        identify = fields(section(output, "NVME Identify Controller:", "Cairn's view"))
        expected = {"vid": "0x1b36", "ssvid": "0x1af4", "sn": controller.serial, "mn": nvme_images.QEMU_MODEL,
                    "fr": firmware, "mdts": str(mdts), "ver": "0x10400", "nn": "256", "oncs": "0x15d",
                    "sqes": "0x66", "cqes": "0x44", "vwc": "0x7", "sgls": "0x1", "cmic": "0", "aerl": "3",
                    "acl": "3", "elpe": "0", "npss": "0", "wctemp": "343", "cctemp": "373", "lpa": "0x7",
                    "frmw": "0x3", "subnqn": "nqn.2019-08.org.qemu:" + controller.serial}
        for name, value in expected.items():
            assert identify.get(name) == value, "%s: %s is %r, not %r\n%s" % (controller.serial, name,
                                                                              identify.get(name), value, output)
        for name in ("rab", "ieee", "cntlid", "oacs", "frmw", "fuses", "fna", "awun", "awupf"):
            assert name in identify, "%s missing from nvme info:\n%s" % (name, output)
        # What the driver made of it.
        view = fields(section(output, "Cairn's view", "NVME Identify Namespace"))
        assert view["state"] == "ready"
        assert view["version"] == "1.4.0"
        assert int(view["cap"], 16) == QEMU_CAP
        assert view["MQES"] == "2047 (queues of up to 2048 entries)"
        assert view["CQR"].startswith("1 (queues must be physically contiguous)")
        assert view["DSTRD"] == "0 (doorbells every 4 bytes)"
        assert view["TO"] == "15 (ready within 7500 ms)"
        assert view["MPSMIN"] == "0 (4096-byte pages)" and view["MPSMAX"] == "4 (65536-byte pages)"
        # Issue 11: the bring-up bound (3 x 8 s ready timeout + 60 s admin timeout), no quirk for QEMU, no APST.
        assert view["bring up"].endswith("ms (given up after 84000 ms)"), output
        assert view["quirks"] == "none", output
        assert view["apst"] == "disabled (not supported by the controller (APSTA 0))", output
        assert view["transfers"].startswith("MDTS %d bytes" % ((1 << mdts) * 4096)), view["transfers"]
        assert re.match(r"MSI-X, \d+ vectors", view["interrupts"]), view["interrupts"]
        assert re.search(r"^\s+0\s+\d+ 0 \(cpu \d+\)\s+\d+\s", output, re.M), "no admin queue row:\n" + output
        # Each namespace: nvme-cli's id-ns fields, the LBA format in use, and the same facts as `nvme list`.
        for ns in controller.namespaces:
            name = "nvme%dn%d" % (index, ns.nsid)
            part = section(output + "\nNVME Identify Namespace", "NVME Identify Namespace %d (%s):" % (ns.nsid, name),
                           "\nNVME Identify Namespace")
            id_ns = fields(part, r"^(\w+)\s*: (.*)$")
            blocks = ns.size // ns.block_size
            assert int(id_ns["nsze"], 16) == blocks and int(id_ns["ncap"], 16) == blocks, part
            assert int(id_ns["nuse"], 16) == blocks
            assert id_ns["nlbaf"] == "7", part  # QEMU's eight formats: 512 and 4096 bytes, each with 0/8/16/64
            lbads = {512: 9, 4096: 12}[ns.block_size]
            in_use = re.findall(r"^lbaf\s+(\d+) : ms:(\d+)\s+lbads:(\d+)\s+rp:\S+ \(in use\)$", part, re.M)
            assert len(in_use) == 1, part
            assert int(in_use[0][1]) == 0 and int(in_use[0][2]) == lbads, part
            assert int(id_ns["flbas"], 0) & 0xF == int(in_use[0][0])
            assert re.search(r"^lbaf  0 : ms:0   lbads:9  rp:0", part, re.M), part
            assert "cairn   : %s, %d blocks of %d bytes" % (name, blocks, ns.block_size) in part
            row = next(r for r in rows if r["Node"] == name)
            assert row["SN"] == controller.serial and row["Format"] == nvme_images.block_format(ns.block_size)
            size = nvme_images.si_size(ns.size)
            assert row["Usage"] == "%s / %s" % (size, size)


def test_regs_features_error_log(two_controllers):
    vm, _ = two_controllers
    regs = vm.command("nvme regs nvme1")
    assert int(re.search(r"^cap     : (0x[0-9a-f]+)$", regs, re.M).group(1), 16) == QEMU_CAP
    for line in ("version : 0x10400", "\tNVMe specification 1.4.0",
                 "\tMaximum Queue Entries Supported    (MQES): 2048",
                 "\tTimeout                              (TO): 7500 ms",
                 "\tContiguous Queues Required          (CQR): Yes",
                 "\tEnable                              (EN): Yes", "\tReady                          (RDY): Yes",
                 "\tController Fatal Status        (CFS): False",
                 "\tI/O Submission Queue Entry Size (IOSQES): 64 bytes",
                 "\tI/O Completion Queue Entry Size (IOCQES): 16 bytes"):
        assert line in regs.splitlines(), "%r missing:\n%s" % (line, regs)
    aqa = int(re.search(r"^aqa     : (0x[0-9a-f]+)$", regs, re.M).group(1), 16)
    assert "\tAdmin Submission Queue Size (ASQS): %d" % ((aqa & 0xFFF) + 1) in regs
    # Admin queues are page aligned (the base printed is the register without its low 12 bits).
    asq = int(re.search(r"^asq     : (0x[0-9a-f]+)$", regs, re.M).group(1), 16)
    assert asq % 4096 == 0 and "\tAdmin Submission Queue Base (ASQB): %x" % asq in regs

    features = vm.command("nvme features nvme0")
    assert "get-feature:0x01 (Arbitration), Current value:0x00000007" in features
    assert "get-feature:0x07 (Number of Queues), Current value:0x003f003f" in features
    assert "\tNumber of IO Submission Queues Allocated (NSQA): 64" in features
    assert "get-feature:0x04 (Temperature Threshold), Current value:0x00000157" in features
    assert "\tTemperature Threshold         (TMPTH): 70 C (343 Kelvin)" in features
    assert "\tVolatile Write Cache Enable (WCE): Enabled" in features
    assert "get-feature:0x08 (Interrupt Coalescing), Current value:00000000" in features
    assert re.search(r"^get-feature:0x05 \(Error Recovery\), Current value:", features, re.M), features
    assert re.search(r"^get-feature:0x0b \(Async Event Configuration\), Current value:", features, re.M)
    assert len(re.findall(r"^get-feature:0x", features, re.M)) == 8
    assert "apst      : disabled (not supported by the controller (APSTA 0))" in features
    refused = [l for l in features.splitlines() if l.startswith("get-feature") and "Current value:" not in l]
    assert not refused, features

    log = vm.command("nvme error-log 0").strip().splitlines()
    assert log == ["Error Log Entries for device:nvme0 entries:1", ".................",
                   "No error log entries (all 1 entries have error_count 0)"]


def test_argument_errors(two_controllers):
    vm, _ = two_controllers
    cases = [
        ("nvme info nvme9", "nvme: no controller 'nvme9' (have nvme0, nvme1)"),
        ("nvme smart 2", "nvme: no controller '2' (have nvme0, nvme1)"),
        ("nvme regs nvme", "nvme: no controller 'nvme' (have nvme0, nvme1)"),
        ("nvme features nvme0x", "nvme: no controller 'nvme0x' (have nvme0, nvme1)"),
        ("nvme smart", "nvme: usage: nvme smart <controller> (nvme0 or 0)"),
        ("nvme error-log 0 1", "nvme: usage: nvme error-log <controller> (nvme0 or 0)"),
        ("nvme trim nvme0n1 32768 1", "nvme: range 32768+1 is past the end of nvme0n1 (32768 sectors)"),
        ("nvme trim nvme0n1 32760 9", "nvme: range 32760+9 is past the end of nvme0n1 (32768 sectors)"),
        ("nvme trim nvme1n2 0 0", "nvme: count must be at least 1"),
        ("nvme trim nvme0n1 x 1", "nvme: bad LBA 'x' (a decimal or 0x hex number)"),
        ("nvme trim nosuch 0 1", "nvme: no disk named 'nosuch'"),
        ("nvme trim nvme0n1 0", "nvme: usage: nvme trim <disk> <lba> <count>"),
        ("nvme attach nvme0", "nvme: usage: nvme attach <controller> <nsid> (nvme0 or 0, NSID 1 and up)"),
        ("nvme detach nvme0 0", "nvme: usage: nvme detach <controller> <nsid> (nvme0 or 0, NSID 1 and up)"),
        ("nvme flush nosuch", "nvme: no disk named 'nosuch'"),
        ("nvme frob", "nvme: unknown subcommand 'frob' (usage: nvme list|info|smart|error-log|regs|features|reset "
                      "<ctrl> | attach|detach <ctrl> <nsid> | trim <disk> <lba> <count> | flush <disk> | "
                      "bench <disk> ...)"),
    ]
    for command, expected in cases:
        assert vm.command(command).strip() == expected, command
    assert vm.command("echo still-here").strip() == "still-here"


# -- SMART: counters and a critical warning set from outside -------------------------------------------------


def test_smart_counts_a_known_write(make_vm, tmp_path):
    image = nvme_images.make_image(str(tmp_path / "smart.img"), 32 * MIB)
    vm = make_vm(nvme_disks=[], extra_args=drive_args(0, image, "SMARTCNT"))
    vm.wait_boot(BOOT_TIMEOUT)
    per_command = int(re.search(r"up to (\d+) blocks per command", vm.command("nvme info 0")).group(1))
    before, output = smart(vm)
    # Nothing was ever written to this controller: both counters start at zero.
    assert before["critical_warning"] == "0"
    assert before["Data Units Written"] == "0 (0.00 B)", output
    assert before["host_write_commands"] == "0", output
    # 256 KiB and 1 MiB: at least the cache's bypass size, so both go to the device at once, split by the driver.
    fills = [(8, 512), (4096, 2048)]
    for lba, count in fills:
        assert vm.command("disk fill nvme0n1 %d %d 0x77" % (lba, count), timeout=FILL_TIMEOUT).strip() == \
            "fill: OK (%d bytes)" % (count * 512)
    after, output = smart(vm)
    commands = sum(math.ceil(count / per_command) for _, count in fills)
    assert int(after["host_write_commands"]) == commands, output
    sectors = sum(count for _, count in fills)
    units = math.ceil(sectors / 1000)  # QEMU: DIV_ROUND_UP(sectors written, 1000)
    assert after["Data Units Written"] == "%d (%s)" % (units, nvme_images.si_size(units * 512000)), output
    assert int(after["host_read_commands"]) >= int(before["host_read_commands"])
    assert first_number(after["Data Units Read"]) >= first_number(before["Data Units Read"])
    assert after["media_errors"] == "0" and after["num_err_log_entries"] == "0"


def test_critical_warning_from_qemu(make_vm, tmp_path):
    image = nvme_images.make_image(str(tmp_path / "warn.img"), 16 * MIB)
    vm = make_vm(nvme_disks=[], extra_args=drive_args(0, image, "WARNME"))
    vm.wait_boot(BOOT_TIMEOUT)
    values, _ = smart(vm)
    assert values["critical_warning"] == "0"
    # Reliability degraded (bit 2), set at run time: QEMU raises a SMART asynchronous event the driver must log.
    start = vm.mark()
    vm.qmp("qom-set", path="/machine/peripheral/nvmectl0", property="smart_critical_warning", value=4)
    vm.wait_for(r"\[NVMeHealth\] nvme0: SMART: .*critical warning 04h", timeout=20, start=start)
    values, output = smart(vm)
    assert values["critical_warning"] == "0x4", output
    lines = output.splitlines()
    index = lines.index("critical_warning                        : 0x4")
    assert lines[index + 1] == ("      [2:2] NVM subsystem Reliability: NVM subsystem reliability is degraded by media "
                                "or internal errors"), output
    assert lines[index + 2].startswith("temperature"), "only the set bit is spelled out:\n" + output
    info = vm.command("nvme info nvme0")
    assert re.search(r"^events    : \d+ of \d+ AERs outstanding, configuration 0x\w+, 1 events, last: SMART", info,
                     re.M), info
    # A second bit: the driver sees a second event; the log shows both bits.
    start = vm.mark()
    vm.qmp("qom-set", path="/machine/peripheral/nvmectl0", property="smart_critical_warning", value=6)
    vm.wait_for(r"\[NVMeHealth\] nvme0: SMART: .*critical warning 06h", timeout=20, start=start)
    values, output = smart(vm)
    assert values["critical_warning"] == "0x6"
    assert "      [1:1] Temp. Threshold: " in output and "      [2:2] NVM subsystem Reliability: " in output


# -- trim gives space back ------------------------------------------------------------------------------------


def allocated(path):
    return os.stat(path).st_blocks * 512


def test_trim_releases_backing_space(make_vm, tmp_path):
    path = str(tmp_path / "sparse.img")
    nvme_images.make_image(path, 64 * MIB)  # sparse: nothing allocated yet
    ns = nvme_images.Namespace(path)
    vm = make_vm(nvme_disks=[], extra_args=drive_args(0, path, "TRIMMER", drive_options=",discard=unmap"))
    vm.wait_boot(BOOT_TIMEOUT)
    empty = allocated(path)
    # 16 MiB of data at LBA 0 and 1 MiB at the far end, flushed to the file.
    for lba, count, seed in ((0, 32768, 0x31), (ns.sectors - 2048, 2048, 0x32)):
        assert vm.command("disk fill nvme0n1 %d %d %#x" % (lba, count, seed), timeout=FILL_TIMEOUT).strip() == \
            "fill: OK (%d bytes)" % (count * 512)
        ns.record(lba, count, seed)
    assert "NVMe Flush done" in vm.command("nvme flush nvme0n1")
    written = allocated(path)
    assert written - empty >= 17 * MIB - 64 * 1024, "the fills did not allocate space (%d -> %d)" % (empty, written)
    # Trim 12 MiB in the middle of the first region.
    output = vm.command("nvme trim nvme0n1 4096 24576").strip()
    assert re.fullmatch(r"trim: nvme0n1 4096\+24576 deallocated \(12582912 bytes\) in \d+ us", output), output
    deadline = time.monotonic() + 10
    while allocated(path) > written - 11 * MIB and time.monotonic() < deadline:
        time.sleep(0.2)
    released = written - allocated(path)
    assert released >= 11 * MIB, "only %d bytes released by a 12 MiB trim" % released
    # Deallocated blocks read as zeros (QEMU's DLFEAT); the data around them is intact.
    assert vm.command("disk check nvme0n1 0 4096 0x31", timeout=FILL_TIMEOUT).strip() == "check: OK (2097152 bytes)"
    assert vm.command("disk check nvme0n1 28672 4096 0x31", timeout=FILL_TIMEOUT).strip() == "check: OK (2097152 bytes)"
    line = vm.command("disk check nvme0n1 4096 8 0x31").strip()
    assert line.startswith("check: mismatch at byte 2097152 (LBA 4096 + 0)") and line.endswith("read 00"), line
    vm.stop()
    with open(path, "rb") as image:
        image.seek(4096 * 512)
        assert image.read(24576 * 512).count(0) == 24576 * 512
    ns.record(4096, 24576, None)  # trimmed: zeros (a write of "nothing" wins over the fill, as in the file)
    assert not nvme_images.verify_namespace(ns)


# -- reset under load, then a clean poweroff ----------------------------------------------------------------

BENCH_RESET_RE = re.compile(r"^reset after (\d+) ms: (\S+) in (\d+) ms, (\d+) commands were in flight$", re.M)
BENCH_SUMMARY_RE = re.compile(r"^nvme0n1: read, bs=4096, qd=32: (\d+) I/Os in (\d+\.\d{3}) s, (\d+) errors$", re.M)


def test_reset_during_bench_loses_nothing(make_vm, tmp_path):
    path = nvme_images.make_image(str(tmp_path / "reset.img"), 32 * MIB, background_seed=0x5E5E)
    ns = nvme_images.Namespace(path, background_seed=0x5E5E)
    vm = make_vm(nvme_disks=[], extra_args=drive_args(0, path, "RESETME"))
    vm.wait_boot(BOOT_TIMEOUT)
    assert vm.command("disk fill nvme0n1 100 3000 0x41", timeout=FILL_TIMEOUT).strip() == "fill: OK (1536000 bytes)"
    ns.record(100, 3000, 0x41)
    # The bench itself asks for the reset, 1 s in, with 32 reads in flight (the shell runs one command at a time).
    output = vm.command("nvme bench nvme0n1 read qd=32 seconds=3 reset-after=1000", timeout=120)
    reset = BENCH_RESET_RE.search(output)
    summary = BENCH_SUMMARY_RE.search(output)
    assert reset and summary, "bench output not understood:\n" + output
    assert reset.group(2) == "success", output
    assert 1000 <= int(reset.group(1)) < 3000 and int(reset.group(4)) >= 1, output
    assert int(summary.group(3)) == 0 and int(summary.group(1)) > 32, output
    info = vm.command("nvme info 0")
    view = fields(info)
    assert view["state"] == "ready", info
    assert re.search(r"^\s+1 resets \(0 failed\)", info, re.M), info
    # Data written before the reset reads back; a write after it lands where it should.
    assert vm.command("disk check nvme0n1 100 3000 0x41", timeout=FILL_TIMEOUT).strip() == "check: OK (1536000 bytes)"
    assert vm.command("disk fill nvme0n1 20000 4000 0x42", timeout=FILL_TIMEOUT).strip() == "fill: OK (2048000 bytes)"
    ns.record(20000, 4000, 0x42)
    # And a reset from the shell, on an idle controller.
    output = vm.command("nvme reset nvme0")
    assert re.search(r"^nvme0: reset done in \d+ ms: ready, resets 1 -> 2, \d+ commands resubmitted", output, re.M), \
        output
    assert vm.command("disk check nvme0n1 20000 4000 0x42", timeout=FILL_TIMEOUT).strip() == "check: OK (2048000 bytes)"
    vm.send("poweroff\r")
    vm.process.wait(timeout=60)
    vm.stop()
    problems = nvme_images.verify_namespace(ns)
    assert not problems, "\n".join(problems)


def test_poweroff_shuts_the_controller_down(make_vm, tmp_path):
    path = nvme_images.make_image(str(tmp_path / "off.img"), 16 * MIB, background_seed=0x0FF0)
    ns = nvme_images.Namespace(path, background_seed=0x0FF0)
    vm = make_vm(nvme_disks=[], extra_args=drive_args(0, path, "POWEROFF") +
                 ["-trace", "pci_nvme_mmio_shutdown_set", "-trace", "pci_nvme_mmio_cfg"])
    vm.wait_boot(BOOT_TIMEOUT)
    # Small writes stay in the sector cache until the shutdown hook writes them back.
    for lba, count, seed in ((3, 5, 0x51), (4000, 300, 0x52), (30000, 2048, 0x53)):
        assert vm.command("disk fill nvme0n1 %d %d %#x" % (lba, count, seed), timeout=FILL_TIMEOUT).strip() == \
            "fill: OK (%d bytes)" % (count * 512)
        ns.record(lba, count, seed)
    vm.send("poweroff\r")
    vm.process.wait(timeout=60)
    vm.stop()
    with open(vm.trace_path, encoding="utf-8", errors="replace") as trace:
        text = trace.read()
    assert "pci_nvme_mmio_shutdown_set" in text, "no CC.SHN write seen by QEMU:\n" + text[-2000:]
    # The last CC write sets SHN = 01b (normal shutdown) and keeps EN.
    configs = [int(v, 16) for v in re.findall(r"pci_nvme_mmio_cfg .*?config=(0x[0-9a-fA-F]+)", text)]
    assert configs, "no CC write traced:\n" + text[-2000:]
    assert (configs[-1] >> 14) & 3 == 1, "last CC write %#x is not a normal shutdown" % configs[-1]
    problems = nvme_images.verify_namespace(ns)
    assert not problems, "\n".join(problems)
