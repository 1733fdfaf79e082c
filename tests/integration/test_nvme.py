"""test_nvme.py - the NVMe driver seen from the shell: `nvme list`, `disk`, `disk dump/fill/check`, `nvme bench`.

What QEMU was given is the truth: serials, model, sizes and formats must come back in `nvme list` and `disk`;
data the host put in a backing file before boot must read back in the guest (`disk check`), and data the
guest wrote (`disk fill`, at many LBAs, lengths and buffer misalignments, to hit one-page, two-page,
PRP-list, chained-list and MDTS-split transfers) must be in the backing file byte for byte once QEMU has
stopped, with every byte the guest did not write unchanged. The pattern is tools/pattern.py, the same
definition as kernel/source/utils/Pattern.c (the known values below are also asserted by
tests/unit/Test-Pattern.c).

Set-ups: several controllers at once, one controller with two namespaces (512-byte and 4 KiB blocks, via
nvme-ns), mdts=1 (8 KiB per command) and the default (512 KiB), mdts=0 (no limit), max_ioqpairs=1, and the
driver in polling mode (nvme.poll=1 on the kernel command line, in an ISO built by the test). Every VM runs
with QEMU's NVMe error trace events on; conftest fails the test on any unexpected one.

The bench is run for a second or two and only checked for plausible figures: speed is measured by
benchmarks, not asserted by tests.
"""

import os
import re
import subprocess
import sys
import time

import pytest

import nvme_images
from nvme_images import MIB, Controller, Namespace
from cairn_qemu import BOOT_TIMEOUT
from conftest import REPOSITORY, check_nvme_events, start_module_vm

sys.path.insert(0, os.path.join(REPOSITORY, "tools"))
import pattern  # noqa: E402

PATTERN_TOOL = os.path.join(REPOSITORY, "tools", "pattern.py")
FILL_TIMEOUT = 120.0

# (seed, word index, word): keep in sync with KnownWords in tests/unit/Test-Pattern.c.
KNOWN_WORDS = [
    (0, 0, 0xe220a8397b1dcdaf),
    (0, 1, 0x6e789e6aa1b965f4),
    (1, 0, 0x910a2dec89025cc1),
    (42, 0, 0xbdd732262feb6e95),
    (42, 1, 0x28efe333b266f103),
    (0x123456789abcdef0, 1000, 0x14f4754391fec912),
    (0xFFFFFFFFFFFFFFFF, 0, 0xe4d971771b652c20),
    (7, 65536, 0xc11c30f1cc1d832e),
]


# -- the pattern, host side (no VM) --------------------------------------------------------------------------


def test_pattern_known_values():
    for seed, index, value in KNOWN_WORDS:
        assert pattern.word(seed, index) == value, "word(%#x, %d)" % (seed, index)
    # The unit test asserts the same table on the kernel's Pattern.c.
    with open(os.path.join(REPOSITORY, "tests", "unit", "Test-Pattern.c"), encoding="utf-8") as source:
        text = source.read()
    table = text[text.index("KnownWords[]"):]
    table = table[:table.index("};")]
    entries = [(int(a, 0), int(b, 0), int(c, 0))
               for a, b, c in re.findall(r"\{\s*(\w+?)(?:ULL)?,\s*(\w+?)(?:ULL)?,\s*(\w+?)(?:ULL)?\s*\}", table)]
    assert entries == KNOWN_WORDS
    # Bytes are the words in little-endian order, from any offset.
    assert pattern.pattern_bytes(42, 0, 8) == bytes.fromhex("956eeb2f2632d7bd")
    assert pattern.pattern_bytes(42, 4093, 8).hex() == "f23571809adf2933"
    assert pattern.pattern_bytes(0xDEADBEEF, 512 * 2049 - 4, 8).hex() == "bffa174a9f87d55b"
    assert sum(pattern.pattern_bytes(5, 512 * 3 + 4, 100000)) == 12709373


def test_pattern_tool_command_line(tmp_path):
    image = str(tmp_path / "disk.img")
    nvme_images.make_image(image, 1 * MIB)
    run = lambda *args: subprocess.run([sys.executable, PATTERN_TOOL] + list(args), stdout=subprocess.PIPE,
                                       universal_newlines=True)
    assert run("word", "42", "1").stdout.strip() == "28efe333b266f103"
    assert run("fill", image, "0x99", "10", "20").returncode == 0
    ok = run("check", image, "0x99", "10", "20")
    assert (ok.returncode, ok.stdout.strip()) == (0, "check: OK (10240 bytes)")
    # A range that starts one sector early meets the zeros of LBA 9 first.
    bad = run("check", image, "0x99", "9", "2")
    expected = pattern.pattern_bytes(0x99, 9 * 512, 1)[0]
    assert bad.returncode == 1
    assert bad.stdout.strip() == "check: mismatch at byte 4608 (LBA 9 + 0): expected %02x, read 00" % expected
    with open(image, "rb") as handle:
        handle.seek(10 * 512)
        assert handle.read(20 * 512) == pattern.pattern_bytes(0x99, 10 * 512, 20 * 512)


# -- helpers --------------------------------------------------------------------------------------------------


def nvme_rows(vm):
    output = vm.command("nvme list")
    return nvme_images.parse_columns(output), output


def disk_names(vm, controllers):
    """Sets controller.index from `nvme list` (by serial) and returns {(serial, nsid): disk name}."""
    rows, output = nvme_rows(vm)
    names = {}
    for row in rows:
        match = re.fullmatch(r"nvme(\d+)n(\d+)", row["Node"])
        assert match, "odd node %r in:\n%s" % (row["Node"], output)
        names[(row["SN"], int(row["Namespace"]))] = row["Node"]
        for controller in controllers:
            if controller.serial == row["SN"]:
                controller.index = int(match.group(1))
    for controller in controllers:
        for ns in controller.namespaces:
            assert (controller.serial, ns.nsid) in names, \
                "namespace %d of %s is missing from nvme list:\n%s" % (ns.nsid, controller.serial, output)
    return names


def check_line(vm, command, timeout=FILL_TIMEOUT):
    return vm.command(command, timeout=timeout).strip()


def assert_check_ok(vm, name, lba, count, seed, block_size, offset=0):
    line = check_line(vm, "disk check %s %d %d %#x offset=%d" % (name, lba, count, seed, offset))
    assert line == "check: OK (%d bytes)" % (count * block_size), \
        "disk check %s LBA %d+%d seed %#x offset=%d: %s" % (name, lba, count, seed, offset, line)


def build_write_plan(ns, counts, offsets, seed_base):
    """Non-overlapping (lba, count, offset, seed) fills with gaps between them, the last one ending at the
    disk's last sector; every count meets every offset."""
    plan = []
    lba = 1
    seed = seed_base
    for count in counts:
        for offset in offsets:
            plan.append((lba, count, offset, seed))
            lba += count + 3
            seed += 1
    last = (3, offsets[-1], seed)
    plan.append((ns.sectors - last[0], last[0], last[1], last[2]))
    assert lba < ns.sectors - last[0], "the write plan does not fit in %d sectors" % ns.sectors
    return plan


# -- several controllers, one with two namespaces: listing and host-written data ---------------------------


MODULE_BACKGROUND = {"seq": 0x1000, "multi1": 0x2001, "multi2": 0x2002, "mdts": 0x3000, "oneq": 0x4000}


@pytest.fixture(scope="module")
def nvme_setup(request, tmp_path_factory, build_dir, cairn_iso):
    tmp = tmp_path_factory.mktemp("nvme-module")

    def image(name, size, block_size=512, nsid=1):
        path = nvme_images.make_image(str(tmp / (name + ".img")), size, MODULE_BACKGROUND[name])
        return Namespace(path, nsid=nsid, block_size=block_size, background_seed=MODULE_BACKGROUND[name])

    seq = image("seq", 32 * MIB)
    multi1 = image("multi1", 16 * MIB)
    multi2 = image("multi2", 16 * MIB, block_size=4096, nsid=2)
    mdts = image("mdts", 8 * MIB)
    oneq = image("oneq", 8 * MIB)
    # Data the guest must find, written by the host before boot.
    prefill = [(seq, 0, 8, 0xA0), (seq, 1000, 2049, 0xA1), (seq, seq.sectors - 16, 16, 0xA2),
               (multi2, 10, 33, 0xB2), (mdts, 5, 300, 0xC0)]
    for ns, lba, count, seed in prefill:
        nvme_images.write_pattern(ns.path, seed, lba, count, ns.block_size)
        ns.record(lba, count, seed)
    controllers = [
        Controller("CAIRNSEQ0", [seq], addr=0x4),
        Controller("MULTI", [multi1, multi2], addr=0x5),
        Controller("SMALLMDTS", [mdts], options="mdts=1", addr=0x6),
        Controller("ONEQUEUE", [oneq], options="max_ioqpairs=1", addr=0x7),
    ]
    vm = start_module_vm(request, tmp_path_factory, build_dir, cairn_iso, None, nvme_disks=[],
                         extra_args=nvme_images.qemu_args(controllers), memory_mib=512)
    vm.wait_boot(BOOT_TIMEOUT)
    vm.reported_nvme = []
    setup = {"vm": vm, "controllers": controllers, "prefill": prefill,
             "ns": {"seq": seq, "multi1": multi1, "multi2": multi2, "mdts": mdts, "oneq": oneq}}
    setup["names"] = disk_names(vm, controllers)
    return setup


@pytest.fixture
def setup(nvme_setup):
    vm = nvme_setup["vm"]
    if not vm.running():
        pytest.fail("the shared NVMe VM is not running any more (an earlier test stopped or crashed it)")
    if vm.timed_out and not vm.recover_prompt():
        pytest.fail("the shared NVMe VM stopped answering in an earlier test", pytrace=False)
    yield nvme_setup
    vm.reported_nvme = check_nvme_events(vm, vm.reported_nvme)


def name_of(setup, key):
    for controller in setup["controllers"]:
        for ns in controller.namespaces:
            if ns is setup["ns"][key]:
                return setup["names"][(controller.serial, ns.nsid)]
    raise KeyError(key)


def test_nvme_list_matches_qemu(setup):
    rows, output = nvme_rows(setup["vm"])
    firmware = nvme_images.qemu_firmware_revision()
    assert output.splitlines()[0].split() == ["Node", "SN", "Model", "Namespace", "Usage", "Format", "FW", "Rev"]
    seen = set()
    for controller in setup["controllers"]:
        for ns in controller.namespaces:
            row = next((r for r in rows if r["SN"] == controller.serial and r["Namespace"] == str(ns.nsid)), None)
            assert row, "no row for %s namespace %d:\n%s" % (controller.serial, ns.nsid, output)
            assert row["Node"] == "nvme%dn%d" % (controller.index, ns.nsid)
            assert row["Model"] == nvme_images.QEMU_MODEL
            # QEMU reports NUSE = NSZE: the whole namespace is in use.
            size = nvme_images.si_size(ns.size)
            assert row["Usage"] == "%s / %s" % (size, size), row
            assert row["Format"] == nvme_images.block_format(ns.block_size), row
            assert row["FW Rev"] == firmware, row
            seen.add(row["Node"])
    assert len(rows) == len(seen) == 5, "one row per namespace, nothing else:\n" + output
    # The controllers are numbered in PCI order (the test placed them at increasing slots).
    assert [c.index for c in setup["controllers"]] == sorted(c.index for c in setup["controllers"])
    assert len({c.index for c in setup["controllers"]}) == 4


DISK_ROW_RE = re.compile(
    r"^(\S+)\s+(.+?)\s+(\d+)\s+(\d+)\s+(\d+\.\d\d [kMGTPE]?B)\s+(\d+\.\d\d (?:[KMGTPE]i)?B)\s+(rw|ro|off)$")


def test_disk_list_matches_qemu(setup):
    output = setup["vm"].command("disk")
    lines = output.strip().splitlines()
    assert lines[0].split()[:5] == ["NAME", "MODEL", "SECTOR", "SECTORS", "SIZE"], output
    rows = {}
    for line in lines[1:]:
        if line.startswith("  partition "):
            continue  # partitions found on a disk are described under it
        match = DISK_ROW_RE.match(line.strip())
        assert match, "disk line not understood: %r" % line
        rows[match.group(1)] = match.groups()[1:6]
        assert match.group(7) == "rw", line
    for key, ns in setup["ns"].items():
        name = name_of(setup, key)
        assert name in rows, "%s missing from disk:\n%s" % (name, output)
        model, sector, sectors, decimal, binary = rows[name]
        assert model == nvme_images.QEMU_MODEL
        assert int(sector) == ns.block_size and int(sectors) == ns.sectors, (name, rows[name])
        assert decimal == nvme_images.si_size(ns.size) and binary == nvme_images.binary_size(ns.size)
    assert rows[name_of(setup, "seq")][3:] == ("33.55 MB", "32.00 MiB")


def test_host_written_data_reads_back(setup):
    vm = setup["vm"]
    offsets = [0, 4, 512, 4092]
    for number, (ns, lba, count, seed) in enumerate(setup["prefill"]):
        name = next(name_of(setup, k) for k, v in setup["ns"].items() if v is ns)
        assert_check_ok(vm, name, lba, count, seed, ns.block_size, offsets[number % len(offsets)])
    # The background the host wrote everywhere else, too.
    seq, name = setup["ns"]["seq"], name_of(setup, "seq")
    assert_check_ok(vm, name, 8, 992, MODULE_BACKGROUND["seq"], 512, 8)
    assert_check_ok(vm, name, 3049, 4000, MODULE_BACKGROUND["seq"], 512, 2048)
    multi1 = setup["ns"]["multi1"]
    assert_check_ok(vm, name_of(setup, "multi1"), 0, multi1.sectors, MODULE_BACKGROUND["multi1"], 512, 4)
    assert_check_ok(vm, name_of(setup, "multi2"), 43, 300, MODULE_BACKGROUND["multi2"], 4096, 12)


def test_check_reports_the_first_wrong_byte(setup):
    """A range that runs from the background into the host's data: the first byte of LBA 1000 is the first
    mismatch, with exactly the expected and read values the host file holds."""
    vm = setup["vm"]
    seq, name = setup["ns"]["seq"], name_of(setup, "seq")
    line = check_line(vm, "disk check %s 995 10 %#x" % (name, MODULE_BACKGROUND["seq"]))
    with open(seq.path, "rb") as handle:
        handle.seek(995 * 512)
        content = handle.read(10 * 512)
    expected = pattern.describe_mismatch(content, MODULE_BACKGROUND["seq"], 995 * 512, 512)
    assert line == expected
    assert line.startswith("check: mismatch at byte 512000 (LBA 1000 + 0): expected ")
    # Right data, wrong place: the pattern depends on the position, so LBA 1001's data is not LBA 1000's.
    line = check_line(vm, "disk check %s 1001 1 0xA1" % name)
    assert line == "check: OK (512 bytes)"
    line = check_line(vm, "disk check %s 1001 1 0xA2" % name)
    assert line.startswith("check: mismatch at byte 512512 (LBA 1001 + 0)"), line


def test_disk_dump_matches_xxd(setup):
    vm = setup["vm"]
    seq, name = setup["ns"]["seq"], name_of(setup, "seq")
    with open(seq.path, "rb") as handle:
        handle.seek(999 * 512)
        data = handle.read(3 * 512)
    output = vm.command("disk dump %s 999 3" % name)
    assert output.strip("\n").split("\n") == nvme_images.xxd_lines(data, 999 * 512)
    assert output.startswith("0007ce00: ")
    # Default count 1, 4 KiB sectors: 256 lines from byte 10 * 4096.
    multi2, name2 = setup["ns"]["multi2"], name_of(setup, "multi2")
    with open(multi2.path, "rb") as handle:
        handle.seek(10 * 4096)
        data = handle.read(4096)
    output = vm.command("disk dump %s 10" % name2)
    assert output.strip("\n").split("\n") == nvme_images.xxd_lines(data, 10 * 4096)


def test_disk_argument_errors(setup):
    vm = setup["vm"]
    name, sectors = name_of(setup, "seq"), setup["ns"]["seq"].sectors
    cases = [
        ("disk dump nosuch 0", "disk: no disk named 'nosuch'"),
        ("disk check nosuch 0 1 1", "disk: no disk named 'nosuch'"),
        ("disk dump %s %d" % (name, sectors), "disk: range %d+1 is past the end of %s (%d sectors)"
         % (sectors, name, sectors)),
        ("disk fill %s %d 2 1" % (name, sectors - 1), "disk: range %d+2 is past the end of %s (%d sectors)"
         % (sectors - 1, name, sectors)),
        ("disk check %s 0 %d 1" % (name, sectors + 1), "disk: range 0+%d is past the end of %s (%d sectors)"
         % (sectors + 1, name, sectors)),
        ("disk dump %s 12x" % name, "disk: bad LBA '12x' (a decimal or 0x hex number)"),
        ("disk dump %s 0 0" % name, "disk: count must be at least 1"),
        ("disk dump %s 0 65" % name, "disk: dump shows at most 64 sectors of %s at a time" % name),
        ("disk fill %s 0 1 zz" % name, "disk: bad seed 'zz' (a decimal or 0x hex number)"),
        ("disk fill %s 0 1 1 offset=6" % name, "disk: offset=6 is not a multiple of 4"),
        ("disk fill %s 0 1 1 offset=4096" % name, "disk: offset=4096 must be below 4096"),
        ("disk fill %s 0 1 1 size=4" % name, "disk: unknown argument 'size=4' (expected offset=N)"),
        ("disk fill %s 0 1" % name, "disk: usage: disk fill <disk> <lba> <count> <seed> [offset=N]"),
        ("disk frob", "disk: unknown subcommand 'frob' (usage: disk [dump|fill|check|access] ...)"),
    ]
    for command, expected in cases:
        assert vm.command(command).strip() == expected, command
    # None of those wrote anything: the host's data at LBA 0 is intact.
    assert_check_ok(vm, name, 0, 8, 0xA0, 512)
    assert vm.command("echo still-here").strip() == "still-here"


BENCH_SUMMARY_RE = re.compile(
    r"^(?P<disk>\S+): (?P<mode>\w+), bs=(?P<bs>\d+), qd=(?P<qd>\d+): (?P<ios>\d+) I/Os in (?P<secs>\d+\.\d{3}) s, "
    r"(?P<errors>\d+) errors$", re.M)
BENCH_RATE_RE = re.compile(r"^IOPS: (?P<iops>\d+), bandwidth: (?P<mbps>\d+\.\d\d) MB/s$", re.M)
BENCH_LATENCY_RE = re.compile(r"^latency \(us\): mean (?P<mean>\d+\.\d), p50 (?P<p50>\d+\.\d), p99 (?P<p99>\d+\.\d), "
                              r"max (?P<max>\d+\.\d)$", re.M)


def run_bench(vm, arguments, seconds):
    output = vm.command("nvme bench %s seconds=%d" % (arguments, seconds), timeout=seconds + 60)
    summary, rate, latency = (BENCH_SUMMARY_RE.search(output), BENCH_RATE_RE.search(output),
                              BENCH_LATENCY_RE.search(output))
    assert summary and rate and latency, "bench output not understood:\n" + output
    figures = {k: float(v) if "." in v else (int(v) if v.isdigit() else v)
               for m in (summary, rate, latency) for k, v in m.groupdict().items()}
    return figures, output


@pytest.mark.parametrize("mode,qd,seconds", [("read", 1, 1), ("randread", 1, 1), ("randread", 32, 2), ("read", 32, 2)])
def test_nvme_bench_reads(setup, mode, qd, seconds):
    vm = setup["vm"]
    name = name_of(setup, "seq")
    figures, output = run_bench(vm, "%s %s bs=4k qd=%d" % (name, mode, qd), seconds)
    assert figures["disk"] == name and figures["mode"] == mode and figures["qd"] == qd and figures["bs"] == 4096
    assert figures["errors"] == 0
    assert figures["ios"] >= qd, output
    assert seconds - 0.1 <= figures["secs"] <= seconds + 30, output
    # Plausible, consistent figures: IOPS from the count and the time, bandwidth from IOPS and bs.
    assert abs(figures["iops"] - figures["ios"] / figures["secs"]) <= 0.02 * figures["iops"] + 2, output
    assert abs(figures["mbps"] - figures["iops"] * 4096 / 1e6) <= 0.02 * figures["mbps"] + 0.05, output
    assert 0 < figures["p50"] <= figures["p99"] <= figures["max"], output
    assert 0 < figures["mean"] <= figures["max"], output
    if seconds >= 2:
        # A progress line came while it ran (overwritten with CR on a terminal).
        assert re.search(r"\b1 s: \d+ IOPS, \d+\.\d\d MB/s", output), output
    # Reads do not change data.
    assert_check_ok(vm, name, 1000, 2049, 0xA1, 512, 4)


def test_nvme_bench_bad_arguments(setup):
    vm = setup["vm"]
    name = name_of(setup, "seq")
    name4k = name_of(setup, "multi2")
    cases = [
        ("nvme bench nosuch", "nvme: no disk named 'nosuch'"),
        ("nvme bench %s sideways" % name, "nvme: unknown bench argument 'sideways'"),
        ("nvme bench %s bs=1000" % name, "nvme: bs=1000 is not a multiple of the 512-byte block size"),
        ("nvme bench %s bs=2k" % name4k, "nvme: bs=2048 is not a multiple of the 4096-byte block size"),
        ("nvme bench %s qd=0" % name, "nvme: qd=0 must be 1 to 1024"),
        ("nvme bench %s seconds=0" % name, "nvme: seconds=0 must be 1 to 600"),
        ("nvme bench %s qd=x" % name, "nvme: bad number in 'qd=x'"),
        ("nvme bench %s sgl=maybe" % name, "nvme: sgl=maybe: sgl= takes auto, on or off"),
        ("nvme frob", "nvme: unknown subcommand 'frob' (usage: nvme list|info|smart|error-log|regs|features|reset "
                      "<ctrl> | attach|detach <ctrl> <nsid> | trim <disk> <lba> <count> | flush <disk> | "
                      "bench <disk> ...)"),
        ("nvme bench %s reset-after=5000 seconds=2" % name, "nvme: reset-after=5000 must be below the run time (2000 ms)"),
    ]
    for command, expected in cases:
        assert vm.command(command).strip() == expected, command
    output = vm.command("nvme bench %s bs=64M" % name).strip()
    assert re.fullmatch(r"nvme: bs=67108864 is more than one command can carry on %s \(\d+ bytes\)" % name, output)


def test_nvme_bench_write_can_be_cancelled(setup):
    vm = setup["vm"]
    name = name_of(setup, "oneq")
    start = vm.mark()
    vm.send("nvme bench %s write seconds=1\r" % name)
    vm.wait_for(r"WARNING: this overwrites data on %s \(press a key within 2 s to cancel\)" % name, start=start)
    vm.send("x")
    vm.wait_for(r"bench: cancelled, nothing written")
    vm.wait_prompt()
    assert_check_ok(vm, name, 0, setup["ns"]["oneq"].sectors, MODULE_BACKGROUND["oneq"], 512)


def test_nvme_bench_write(setup):
    """Last of the module: it overwrites the start of the ONEQUEUE disk (one I/O queue pair)."""
    vm = setup["vm"]
    name = name_of(setup, "oneq")
    started = time.monotonic()
    figures, output = run_bench(vm, "%s write qd=8" % name, 1)
    assert "WARNING: this overwrites data on %s" % name in output
    # The guest waits 2 s of its own clock before writing (TCG clocks drift from the host's: allow slack).
    assert time.monotonic() - started >= 1.5, "the warning must give time to cancel"
    assert figures["errors"] == 0 and figures["ios"] > 0, output
    # Sequential writes from LBA 0: the background there is gone.
    line = check_line(vm, "disk check %s 0 8 %#x" % (name, MODULE_BACKGROUND["oneq"]))
    assert line.startswith("check: mismatch at byte "), line
    figures, output = run_bench(vm, "%s randwrite qd=32" % name, 1)
    assert figures["errors"] == 0 and figures["ios"] > 0, output


# -- data written by the guest lands in the backing file ---------------------------------------------------


COUNTS_512 = [1, 7, 8, 9, 255, 256, 257, 2049]
COUNTS_4K = [1, 2, 3, 31, 32, 33, 129, 257]
OFFSETS = [0, 4, 512, 4092]


def write_config(name, tmp):
    """The controllers of one write test. Each namespace gets a background pattern of its own."""
    def ns(tag, size, block_size=512, nsid=1):
        seed = 0x5000 + len(made)
        made.append(tag)
        path = nvme_images.make_image(str(tmp / ("%s.img" % tag)), size, seed)
        return Namespace(path, nsid=nsid, block_size=block_size, background_seed=seed)

    made = []
    if name == "default":
        return [Controller("WRDEFAULT", [ns("a", 16 * MIB)], addr=0x4)]
    if name == "mdts1":
        return [Controller("WRMDTS1", [ns("a", 16 * MIB)], options="mdts=1", addr=0x4)]
    if name == "nolimit":
        # mdts=0: no transfer limit, so a 3 MiB fill can be one command with a chained PRP list.
        return [Controller("WRNOLIMIT", [ns("a", 24 * MIB)], options="mdts=0", addr=0x4)]
    if name == "oneq":
        return [Controller("WRONEQ", [ns("a", 16 * MIB)], options="max_ioqpairs=1", addr=0x4)]
    if name == "multi":
        return [Controller("WRFIRST", [ns("a", 16 * MIB)], addr=0x4),
                Controller("WRMULTI", [ns("b", 8 * MIB), ns("c", 24 * MIB, block_size=4096, nsid=2)], addr=0x5)]
    raise ValueError(name)


@pytest.fixture(scope="session")
def poll_iso(build_dir, cairn_iso, tmp_path_factory):
    """The same kernel, booted with nvme.poll=1 (built once per session)."""
    return nvme_images.build_iso_with_options(build_dir, "nvme.poll=1", str(tmp_path_factory.mktemp("iso-poll")))


@pytest.mark.parametrize("config", ["default", "mdts1", "nolimit", "oneq", "multi", "poll"])
def test_fill_lands_in_backing_file(make_vm, tmp_path, request, config):
    controllers = write_config("default" if config == "poll" else config, tmp_path)
    image = request.getfixturevalue("poll_iso") if config == "poll" else None
    vm = make_vm(image=image, nvme_disks=[], extra_args=nvme_images.qemu_args(controllers), memory_mib=512)
    vm.wait_boot(BOOT_TIMEOUT)
    names = disk_names(vm, controllers)
    seed_base = 0x100
    for controller in controllers:
        for ns in controller.namespaces:
            name = names[(controller.serial, ns.nsid)]
            counts = COUNTS_4K if ns.block_size == 4096 else list(COUNTS_512)
            if config == "nolimit":
                counts.append(6000)  # 3000 KiB: more than 513 pages, a chained PRP list if sent as one command
            plan = build_write_plan(ns, counts, OFFSETS, seed_base)
            seed_base += 0x100
            for lba, count, offset, seed in plan:
                line = check_line(vm, "disk fill %s %d %d %#x offset=%d" % (name, lba, count, seed, offset))
                assert line == "fill: OK (%d bytes)" % (count * ns.block_size), \
                    "disk fill %s %d %d offset=%d: %s" % (name, lba, count, offset, line)
                ns.record(lba, count, seed)
            # Read back through the driver, with another buffer offset than the write used.
            for number, (lba, count, offset, seed) in enumerate(plan):
                assert_check_ok(vm, name, lba, count, seed, ns.block_size, OFFSETS[(number + 1) % len(OFFSETS)])
            # A gap between two fills still holds the background.
            gap = plan[0][0] + plan[0][1]
            assert_check_ok(vm, name, gap, 3, ns.background_seed, ns.block_size)
    if config == "poll":
        # The option reached the kernel and the driver took it (its bring-up log says so).
        log = vm.command("log")
        assert re.search(r'command line "[^"]*\bnvme\.poll=1\b', log), log[-3000:]
        assert re.search(r"nvme0\b.*\bpolling\b", log), "the driver does not say it polls:\n" + log[-3000:]
    vm.stop()
    assert vm.process.returncode is not None
    problems = []
    for controller in controllers:
        for ns in controller.namespaces:
            problems += nvme_images.verify_namespace(ns)
    assert not problems, "backing files differ from what the guest wrote:\n" + "\n".join(problems)
