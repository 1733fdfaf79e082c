"""test_vmd.py - NVMe drives behind an Intel VMD, end to end: Cairn on the QEMU with a `vmd` device
(tools/qemu-vmd, `make qemu-vmd`; the `qemu_vmd` fixture skips without it and fails when
CAIRN_REQUIRE_QEMU_VMD=1, as `make test` sets it).

One shared boot (client VMD 8086:9A0B, q35, SeaBIOS) with three NVMe drives:
  * behind the VMD, on a root port:           rp1 (vmd0 00.0) -> nvme serial VMDROOTPORT: GPT, one EXT2 volume
  * behind the VMD, behind a second port:     rp2 (vmd0 01.0) -> switch (x3130 up, xio3130 down) -> nvme serial
                                              VMDSWITCH: a raw 64 MiB disk
  * outside it, on the host bridge:           nvme serial CAIRN0001 (the default disk image, snapshot)
Its tests, in order: `vmd info`; `pci` against QEMU (`info pci` for the host bus, `info qtree` for the VMD's hidden
bus, whose addresses show the bus numbers Cairn programmed); `nvme list`; the volume automounted and read; the
seeds' dd exercise (seeds/003, test_storage.seed_dd_exercise) from that volume to the raw disk, both through the
VMD; `nvme bench` on a VMD drive and on the outside one with the VMD's vector counts before and after (the
figures go to test-logs/vmd-bench.txt); `vmd reset` refused while a volume behind it is mounted, then, unmounted,
a reset landing in the middle of `disk fill` (the pattern is checked by the guest, and by the host after
poweroff) and in the middle of `nvme bench` (every command completes, none fails), the drives back under their
names and the volume mountable again (the NVMe driver is told before and after the reset, ResetPrepare/ResetDone,
so no doorbell of a queue the reset deleted is rung: QEMU's pci_nvme_ub_db_wr_invalid_sq/cq fail the test); `poweroff`, after which the host checks the raw disk, e2fsck's the volume,
and reads QEMU's trace: no child message dropped, VMCONFIG never changed (client IDs cannot bypass).

Two more boots: the server ID 28C0, where Cairn turns the MSI remapping bypass on (VMCONFIG.MSI_RMP_DIS) and
must turn it off again at poweroff (QEMU's vmd_vmconfig trace shows both writes), and 467F with bus restriction 1
(the domain from bus 0x80). Every boot fails on a pci_nvme_ub_*/pci_nvme_err_* trace event (conftest).
"""

import os
import re
import sys

import pytest

import storage_images as images
from cairn_qemu import BOOT_TIMEOUT, CairnVM
from conftest import REPOSITORY, check_nvme_events
from storage_images import MIB, Partition
from test_qemu_vmd_device import qtree_bus
from test_storage import command, ok, poweroff, seed_dd_exercise, sha256, sha256_lines, shared

sys.path.insert(0, os.path.join(REPOSITORY, "tools"))
import pattern  # noqa: E402  (tools/pattern.py)

SLOW = 180.0
RAW_SIZE = 64 * MIB
ORIGIN_SIZE = 1 * MIB
FILL_SEED = 0x7D0B
VOLUME_SERIAL, RAW_SERIAL, OUTSIDE_SERIAL = "VMDROOTPORT", "VMDSWITCH", "CAIRN0001"

VECTOR_RE = re.compile(r"^\s+vector\s+(\d+) -> CPU\s+(\d+): (\d+) message\(s\), (\d+) handler\(s\), fired (\d+)$", re.M)
BENCH_RE = re.compile(r"^(\S+): (\S+), bs=(\d+), qd=(\d+): (\d+) I/Os in ([\d.]+) s, (\d+) errors\n"
                      r"IOPS: (\d+), bandwidth: ([\d.]+) MB/s\n", re.M)
PCI_LINE_RE = re.compile(r"^(?:([0-9a-f]{4,5}):)?([0-9a-f]{2}):([0-9a-f]{2})\.([0-7]) .* \[([0-9a-f]{4}):([0-9a-f]{4})\]",
                         re.M)


def vmd_topology(device_id, restriction=None, switch=True, volume=None, raw=None):
    """-device/-drive arguments: the VMD at 00:0e.0, rp1 with a drive, rp2 with a drive (behind a switch)."""
    vmd = "vmd,id=vmd0,addr=0e.0,device-id=0x%04x" % device_id
    if restriction is not None:
        vmd += ",bus-restriction=%d" % restriction
    args = ["-device", vmd,
            "-device", "pcie-root-port,id=rp1,bus=vmd0,chassis=11,slot=1,addr=00.0",
            "-device", "pcie-root-port,id=rp2,bus=vmd0,chassis=12,slot=2,addr=01.0"]
    if volume:
        args += ["-drive", "if=none,id=vmda,format=raw,file=%s" % volume,
                 "-device", "nvme,serial=%s,drive=vmda,bus=rp1" % VOLUME_SERIAL]
    second = "rp2"
    if switch:
        args += ["-device", "x3130-upstream,id=up1,bus=rp2",
                 "-device", "xio3130-downstream,id=dn1,bus=up1,chassis=13,slot=3"]
        second = "dn1"
    if raw:
        args += ["-drive", "if=none,id=vmdb,format=raw,file=%s" % raw,
                 "-device", "nvme,serial=%s,drive=vmdb,bus=%s" % (RAW_SERIAL, second)]
    # What the VMD device does at the edges Cairn must get right (same -D file as the NVMe events).
    return args + ["-trace", "vmd_vmconfig", "-trace", "vmd_msi_dropped", "-trace", "vmd_intx_dropped"]


def disks_by_serial(vm):
    """{serial: disk name} from `nvme list`."""
    found = {}
    for line in command(vm, "nvme list").split("\n")[2:]:
        fields = line.split()
        if len(fields) >= 2:
            found[fields[1]] = fields[0]
    return found


def vector_counts(vm):
    """{VMD vector: fired} from `vmd info`."""
    return {int(m.group(1)): int(m.group(5)) for m in VECTOR_RE.finditer(command(vm, "vmd info"))}


def bench(vm, disk, mode="randread", seconds=3, qd=32):
    output = command(vm, "nvme bench %s %s bs=4k qd=%d seconds=%d" % (disk, mode, qd, seconds), SLOW)
    match = BENCH_RE.search(output)
    assert match, "nvme bench printed:\n%s" % output
    return {"disk": match.group(1), "ios": int(match.group(5)), "errors": int(match.group(7)),
            "iops": int(match.group(8)), "mbps": float(match.group(9)), "output": output}


def trace_lines(vm, event):
    try:
        with open(vm.trace_path, encoding="utf-8", errors="replace") as trace:
            return [line for line in trace if event in line]
    except FileNotFoundError:
        return []


def vmconfig_writes(vm):
    """[(old, new)] of QEMU's vmd_vmconfig events."""
    writes = []
    for line in trace_lines(vm, "vmd_vmconfig"):
        match = re.search(r"VMCONFIG 0x([0-9a-f]+) -> 0x([0-9a-f]+)", line)
        if match:
            writes.append((int(match.group(1), 16), int(match.group(2), 16)))
    return writes


def wait_powered_off(vm):
    poweroff(vm)
    check_nvme_events(vm)


# ==========================================================================================================
# The shared boot: 9A0B, a drive on a root port, a drive behind a switch, a drive outside
# ==========================================================================================================


@pytest.fixture(scope="module")
def setup(request, tmp_path_factory, build_dir, cairn_iso, cairn_disk, qemu_vmd):
    tmp = tmp_path_factory.mktemp("vmd")
    tree = tmp / "tree"
    os.makedirs(tree / "docs")
    origin = images.deterministic_bytes(0x9A0B, ORIGIN_SIZE)
    files = {"origin.bin": origin, "hello.txt": b"Hello from behind the VMD\n",
             "docs/notes.txt": images.deterministic_bytes(7, 5000)}
    for name, data in files.items():
        with open(tree / name, "wb") as handle:
            handle.write(data)
    fs = str(tmp / "fs.img")
    images.make_ext2(fs, 24 * MIB, 1024, 1, source=str(tree), label="vmdvolume")
    volume = str(tmp / "vmd-volume.img")
    parts = images.make_disk(volume, 512, "gpt", [Partition(24 * MIB, fs=fs, name="vmd")], seed=12)
    os.remove(fs)
    raw = str(tmp / "vmd-raw.img")
    with open(raw, "wb") as handle:
        handle.truncate(RAW_SIZE)
    outside = [cairn_disk] if cairn_disk else [str(tmp / "outside.img")]
    if not cairn_disk:
        with open(outside[0], "wb") as handle:
            handle.truncate(16 * MIB)
    name = "test_vmd.module-vm"
    vm = CairnVM(cairn_iso, str(tmp / "vm"), name=name, qemu=qemu_vmd, memory_mib=512,
                 nvme_disks=[{"path": outside[0], "serial": OUTSIDE_SERIAL}],
                 extra_args=vmd_topology(0x9A0B, volume=volume, raw=raw),
                 log_path=os.path.join(build_dir, "test-logs", name + ".log"))
    request.addfinalizer(vm.stop)
    vm.start()
    vm.wait_boot(BOOT_TIMEOUT)
    return {"vm": vm, "tmp": tmp, "volume": volume, "part": parts[0], "raw": raw, "files": files,
            "origin": origin, "raw_now": bytes(RAW_SIZE), "reported": [], "build": build_dir}


@pytest.fixture
def vm(setup):
    machine = shared(setup)
    yield machine
    setup["reported"] = check_nvme_events(machine, setup["reported"])


def names(setup):
    if "disks" not in setup:
        setup["disks"] = disks_by_serial(setup["vm"])
    return setup["disks"]


def test_vmd_info(vm):
    output = command(vm, "vmd info")
    assert re.search(r"^vmd0: 0000:00:0e\.0 \[8086:9a0b\] Tiger Lake client, running$", output, re.M), output
    assert "segment 10000, buses e0-ff (bus restriction 2), 1 root bus(es): e0" in output, output
    assert re.search(r"Vectors  : remapped, MSI-X table of 32, 32 set up, children from vector 1", output), output
    # Two root ports (the one with the switch below it), the switch's two ports, two drives.
    assert "Ports    : 2 root port(s)" in output, output
    assert "Children : 6 function(s)" in output, output
    assert len(re.findall(r"\[1b36:0010\] .*driver nvme", output)) == 2, output
    # Both drives' queues are connected to VMD vectors (never vector 0 on a client VMD).
    vectors = {int(m.group(1)): int(m.group(4)) for m in VECTOR_RE.finditer(output)}
    assert vectors and 0 not in vectors and sum(vectors.values()) >= 4, output


def test_pci_matches_qemu(vm):
    """Cairn's `pci` lists what QEMU has: the host bus as `info pci` shows it (the VMD's children are not there),
    the VMD's hidden bus as `info qtree` shows it, at the bus numbers Cairn programmed (from e0, the start bus)."""
    cairn = {(int(m.group(1) or "0", 16), int(m.group(2), 16), int(m.group(3), 16), int(m.group(4)),
              int(m.group(5), 16), int(m.group(6), 16)) for m in PCI_LINE_RE.finditer(command(vm, "pci"))}
    host = set()
    for m in re.finditer(r"Bus\s+(\d+), device\s+(\d+), function (\d+):\n\s+.*?PCI device ([0-9a-f]{4}):([0-9a-f]{4})",
                         vm.hmp("info pci").replace("\r\n", "\n")):
        host.add((0, int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4), 16), int(m.group(5), 16)))
    assert (0, 0, 0x0E, 0, 0x8086, 0x9A0B) in host, host
    hidden = set()
    for m in re.finditer(r"addr ([0-9a-f]{2}):([0-9a-f]{2})\.(\d), pci id ([0-9a-f]{4}):([0-9a-f]{4})",
                         qtree_bus(vm.hmp("info qtree").replace("\r\n", "\n"), "vmd0")):
        hidden.add((0x10000, int(m.group(1), 16), int(m.group(2), 16), int(m.group(3)), int(m.group(4), 16),
                    int(m.group(5), 16)))
    assert len(hidden) == 6, hidden
    assert {(s, b) for s, b, *_ in hidden} == {(0x10000, 0xE0), (0x10000, 0xE1), (0x10000, 0xE2), (0x10000, 0xE3),
                                              (0x10000, 0xE4)}, hidden
    bridges = {(0x1B36, 0x000C), (0x104C, 0x8232), (0x104C, 0x8233)}  # root ports, the switch's ports
    assert not [d for d in host if (d[4], d[5]) in bridges], "a VMD child is on the host bus: %s" % sorted(host)
    assert cairn == host | hidden, "Cairn only: %s\nQEMU only: %s" % (sorted(cairn - host - hidden),
                                                                      sorted((host | hidden) - cairn))


def test_nvme_list(vm, setup):
    disks = names(setup)
    assert set(disks) == {VOLUME_SERIAL, RAW_SERIAL, OUTSIDE_SERIAL}, disks
    assert len(set(disks.values())) == 3
    output = command(vm, "disk")
    for serial in (VOLUME_SERIAL, RAW_SERIAL):
        assert re.search(r"^%s\s" % disks[serial], output, re.M), output


def test_volume_automounted(vm, setup):
    disk = names(setup)[VOLUME_SERIAL]
    mount = "/mnt/%sp1" % disk
    assert re.search(r"^%sp1 on %s type ext2" % (disk, mount), command(vm, "mount"), re.M), command(vm, "mount")
    ok(vm, "cd " + mount)
    sums = sha256_lines(vm, ["origin.bin", "hello.txt", "docs/notes.txt"])
    assert sums == {name: sha256(data) for name, data in setup["files"].items()}, sums
    ok(vm, "cd /")


def test_seed_dd_exercise(vm, setup):
    """seeds/003 TEST1 and TEST2: origin.bin from the volume behind the root port to the raw disk behind the switch
    and back, both through the VMD."""
    disks = names(setup)
    ok(vm, "cd /mnt/%sp1" % disks[VOLUME_SERIAL])
    setup["volume_touched"] = True
    setup["raw_now"] = seed_dd_exercise(vm, disks[RAW_SERIAL], setup["origin"], setup["raw_now"])
    ok(vm, "cd /")


def test_bench_through_remapped_interrupts(vm, setup):
    """`nvme bench` on the drive behind the switch: its completions arrive through remapped interrupts, so the
    VMD's vector counts rise; the same bench on the drive outside the VMD, for comparison."""
    disks = names(setup)
    before = vector_counts(vm)
    behind = bench(vm, disks[RAW_SERIAL])
    after = vector_counts(vm)
    outside = bench(vm, disks[OUTSIDE_SERIAL])
    assert behind["errors"] == 0 and outside["errors"] == 0, behind["output"] + outside["output"]
    assert behind["ios"] > 0 and outside["ios"] > 0
    fired = sum(after.values()) - sum(before.values())
    # Every completion batch of the drive behind the VMD raised a VMD vector; the CPU merges some.
    assert fired >= 100, "VMD vectors fired %d times for %d I/Os\nbefore %s\nafter %s" % (fired, behind["ios"],
                                                                                       before, after)
    with open(os.path.join(setup["build"], "test-logs", "vmd-bench.txt"), "w", encoding="utf-8") as report:
        for label, result in (("behind the VMD (remapped)", behind), ("outside the VMD", outside)):
            report.write("%s: %s randread bs=4k qd=32: %d I/Os, %d IOPS, %.2f MB/s\n" % (
                label, result["disk"], result["ios"], result["iops"], result["mbps"]))
        report.write("VMD vector interrupts during the first bench: %d\n" % fired)


def test_vmd_reset_refused_while_mounted(vm, setup):
    disk = names(setup)[VOLUME_SERIAL]
    output = command(vm, "vmd reset")
    assert "vmd: vmd0 not reset: mounted behind it: %sp1 on /mnt/%sp1 (umount first)" % (disk, disk) in output, output


def reset_during(vm, delay_ms, line, timeout=SLOW):
    """Asks for a reset delay_ms from now, runs `line`; returns its output, which must show the reset's log line
    (so the reset happened while the command ran)."""
    assert "vmd0: reset of the root ports of segment 10000 in %d ms" % delay_ms in command(vm, "vmd reset after=%d"
                                                                                          % delay_ms)
    output = command(vm, line, timeout)
    assert re.search(r"\[ShellVMD\] vmd0: reset after %d ms done" % delay_ms, output), \
        "the reset did not happen while `%s` ran:\n%s" % (line, output)
    return output


def test_vmd_reset_during_io(vm, setup):
    """With the volume unmounted: a reset in the middle of `disk fill` of the whole raw disk (then `disk check`),
    and in the middle of `nvme bench` (every command completes); the drives keep their names."""
    disks = names(setup)
    # The NVMe driver quiesces in ResetPrepare and resets its controller in ResetDone: no pci_nvme_ub_* event
    # (a doorbell of a queue the bus reset deleted) may appear; the conftest fails the boot on any.
    ok(vm, "umount /mnt/%sp1" % disks[VOLUME_SERIAL])
    raw, sectors = disks[RAW_SERIAL], RAW_SIZE // 512
    setup["raw_now"] = "filling"
    output = reset_during(vm, 300, "disk fill %s 0 %d %d" % (raw, sectors, FILL_SEED))
    assert "fill: OK (%d bytes)" % RAW_SIZE in output, output
    setup["raw_now"] = pattern.pattern_bytes(FILL_SEED, 0, RAW_SIZE)
    assert command(vm, "disk check %s 0 %d %d" % (raw, sectors, FILL_SEED), SLOW) == "check: OK (%d bytes)\n" % RAW_SIZE

    output = reset_during(vm, 1000, "nvme bench %s randread bs=4k qd=32 seconds=4" % raw)
    match = BENCH_RE.search(output)
    assert match and int(match.group(7)) == 0 and int(match.group(5)) > 0, output
    info = command(vm, "vmd info")
    assert re.search(r"Activity : \d+ config reads, \d+ writes, 2 reset\(s\)", info), info
    assert disks_by_serial(vm) == disks
    assert command(vm, "mount %sp1 /mnt/%sp1" % (disks[VOLUME_SERIAL], disks[VOLUME_SERIAL])) == ""
    assert command(vm, "sha256sum /mnt/%sp1/origin.bin" % disks[VOLUME_SERIAL]) == \
        "%s  /mnt/%sp1/origin.bin\n" % (sha256(setup["origin"]), disks[VOLUME_SERIAL])


def test_poweroff_and_host_checks(setup):
    """`poweroff`; then the raw disk holds what the guest wrote, the volume passes e2fsck -fn, and QEMU saw no
    child message dropped and no VMCONFIG write (client IDs have no bypass to turn off)."""
    vm = shared(setup)
    setup["powered_off"] = True
    poweroff(vm)
    setup["reported"] = check_nvme_events(vm, setup["reported"])
    problems = []
    expected = setup["raw_now"]
    if not isinstance(expected, bytes):
        problems.append("the raw disk's contents are unknown: a test stopped half-way (%s)" % expected)
    else:
        with open(setup["raw"], "rb") as handle:
            if handle.read() != expected:
                problems.append("the raw disk behind the VMD does not hold what the guest wrote")
    if setup.get("volume_touched"):
        part_image = images.partition_image(setup["volume"], setup["part"], 512, str(setup["tmp"] / "part.img"))
        status, report = images.e2fsck(part_image)
        if status != 0:
            problems.append("e2fsck -fn of the volume behind the VMD: exit %d\n%s" % (status, report))
    dropped = trace_lines(vm, "vmd_msi_dropped") + [line for line in trace_lines(vm, "vmd_intx_dropped")
                                                    if "level 1" in line]
    if dropped:
        problems.append("QEMU's VMD dropped child interrupts:\n" + "".join(dropped[:10]))
    if vmconfig_writes(vm):
        problems.append("VMCONFIG was written on a client VMD: %s" % vmconfig_writes(vm))
    assert not problems, "\n".join(problems)


# ==========================================================================================================
# Other device IDs, one boot each
# ==========================================================================================================


def boot(make_vm, qemu_vmd, tmp_path, device_id, restriction=None):
    raw = str(tmp_path / "raw.img")
    with open(raw, "wb") as handle:
        handle.truncate(16 * MIB)
    vm = make_vm(qemu=qemu_vmd, memory_mib=512, nvme_disks=[],
                 extra_args=vmd_topology(device_id, restriction, switch=False, raw=raw))
    vm.wait_boot(BOOT_TIMEOUT)
    disk = disks_by_serial(vm)[RAW_SERIAL]
    sectors = 16 * MIB // 512
    assert command(vm, "disk fill %s 0 %d 28" % (disk, sectors), SLOW) == "fill: OK (%d bytes)\n" % (16 * MIB)
    assert command(vm, "disk check %s 0 %d 28" % (disk, sectors), SLOW) == "check: OK (%d bytes)\n" % (16 * MIB)
    return vm, disk, raw


def test_server_28c0_bypass_restored_at_poweroff(make_vm, qemu_vmd, tmp_path):
    """28C0 (CAN_BYPASS_MSI_REMAP): Cairn sets MSI_RMP_DIS, the drive's messages go through unchanged, and at
    poweroff VMCONFIG is written back with remapping on (S9 b61cf04c49c3: a stale bit hinders Windows)."""
    vm, disk, raw = boot(make_vm, qemu_vmd, tmp_path, 0x28C0)
    info = command(vm, "vmd info")
    assert "[8086:28c0] Ice Lake-SP and later server (VMD 2.0), running" in info, info
    assert "segment 10000, buses 00-1f (bus restriction 0)" in info, info
    assert "Vectors  : bypass (MSI_RMP_DIS)" in info, info
    assert "children from +2010" in info, info
    result = bench(vm, disk, seconds=2)
    assert result["errors"] == 0 and result["ios"] > 0, result["output"]
    writes = vmconfig_writes(vm)
    assert len(writes) == 1 and writes[0][1] == writes[0][0] | 0x2, writes
    wait_powered_off(vm)
    writes = vmconfig_writes(vm)
    assert len(writes) == 2, writes
    assert writes[1] == (writes[0][1], writes[0][0]), "VMCONFIG at poweroff: %s" % writes
    assert not writes[1][1] & 0x2
    assert pattern.check_image(raw, 28, 0, 16 * MIB // 512) == "check: OK (%d bytes)" % (16 * MIB)
    assert not trace_lines(vm, "vmd_msi_dropped")


def test_alder_lake_bus_restriction_one(make_vm, qemu_vmd, tmp_path):
    """467F with bus restriction 1: the domain's buses start at 0x80 and Cairn numbers its bridges from there."""
    vm, disk, raw = boot(make_vm, qemu_vmd, tmp_path, 0x467F, restriction=1)
    info = command(vm, "vmd info")
    assert "segment 10000, buses 80-9f (bus restriction 1)" in info, info
    assert "remapped" in info, info
    pci = command(vm, "pci")
    assert re.search(r"^10000:80:00\.0 .*\[1b36:000c\]", pci, re.M), pci
    assert re.search(r"^10000:80:01\.0 .*\[1b36:000c\]", pci, re.M), pci
    assert re.search(r"^10000:82:00\.0 .*\[1b36:0010\]", pci, re.M), pci  # behind rp2; rp1 (empty) has 81
    assert "addr 80:00.0, pci id 1b36:000c" in qtree_bus(vm.hmp("info qtree").replace("\r\n", "\n"), "vmd0")
    wait_powered_off(vm)
    assert pattern.check_image(raw, 28, 0, 16 * MIB // 512) == "check: OK (%d bytes)" % (16 * MIB)
    assert not trace_lines(vm, "vmd_msi_dropped")
