"""test_smp.py - several CPUs: bring-up from the MADT under SeaBIOS and OVMF, q35 and pc, the `cpu` table,
`threads` showing CPUs, `selftest smp` (cross-CPU wake-ups, preemption on every CPU, TLB shootdown), NVMe
and file reads with four CPUs, an exception dump and power off with every CPU stopped.

QEMU facts these rely on (facts sheet Part 2): `-smp N` gives N enabled MADT entries with APIC IDs 0..N-1;
`-smp 6,sockets=2,cores=3` gives APIC IDs 0,1,2,4,5,6 (the core field is two bits); `-smp 2,maxcpus=4` lists
four processors of which two are enabled. MTTCG is the default: four vCPUs on this machine's two cores.
"""

import hashlib
import os
import re
import time

import pytest

from cairn_qemu import BOOT_TIMEOUT

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MOUNT = "/mnt/nvme0n1p1"

SMP_LINE_RE = re.compile(r"\[SMPStart\] (\d+) of (\d+) CPUs online \(APIC IDs ([\d,]+)\)")
CPU_ROW_RE = re.compile(r"^\s*(\d+)\s+(\d+)\s+(online|offline|failed|starting|halted)\b(.*)$", re.M)
ONLINE_ROW_RE = re.compile(r"^\s*(\d+)\s+(\d+)\s+online\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\.(\d)%$", re.M)
THREAD_ROW_RE = re.compile(r"^\s*(\d+)\s+(\S+)\s+(ready|running|sleeping|blocked|dead)\s+(\d+)\s+\d+\.\d{3}", re.M)
SELFTEST_CHECKS = ("a thread pinned to each CPU runs there", "the shell thread moves to each pinned CPU",
                   "events wake threads across CPUs (ping-pong)", "a mutex keeps one worker per CPU exclusive",
                   "a spinning thread is preempted on every CPU", "TLB shootdown: no CPU reads a stale page",
                   "busy unpinned threads spread over the CPUs")
SELFTEST_TIMEOUT = 240


def boot(make_vm, cpus, **options):
    vm = make_vm(cpus=cpus, memory_mib=options.pop("memory_mib", 512), **options)
    vm.wait_boot(BOOT_TIMEOUT * 2)
    return vm


def smp_line(vm):
    match = SMP_LINE_RE.search(vm.clean)
    assert match, "no [SMPStart] line in the boot log:\n" + vm.tail()
    return int(match.group(1)), int(match.group(2)), [int(i) for i in match.group(3).split(",")]


def cpu_table(vm):
    """The `cpu` command's processor rows: {index: (apic id, state, rest of the row)}."""
    output = vm.command("cpu")
    rows = {int(m.group(1)): (int(m.group(2)), m.group(3), m.group(4)) for m in CPU_ROW_RE.finditer(output)}
    assert rows, "no processor table in `cpu`:\n" + output
    return rows, output


def check_selftest(vm, cpus):
    output = vm.command("selftest smp", timeout=SELFTEST_TIMEOUT)
    assert "selftest smp: %d CPU(s) online" % cpus in output, output
    for check in SELFTEST_CHECKS:
        verdict = re.search(r"^\s+%s\s+(ok|FAILED|skipped)\b" % re.escape(check), output, re.M)
        assert verdict, "check %r missing:\n%s" % (check, output)
        wanted = "skipped" if cpus == 1 and check in (SELFTEST_CHECKS[2], SELFTEST_CHECKS[6]) else "ok"
        assert verdict.group(1) == wanted, output
    assert re.search(r"selftest smp: PASS \(0 failed, %d skipped\)" % (2 if cpus == 1 else 0), output), output
    # Every worker of the self-test has ended and was (or will be) reaped: none is left running.
    assert not re.search(r"selftest-\S+\s+(ready|running|sleeping|blocked)", vm.command("threads")), output
    return output


def check_threads_show_cpus(vm, cpus):
    output = vm.command("threads")
    rows = [(m.group(2), m.group(3), int(m.group(4))) for m in THREAD_ROW_RE.finditer(output)]
    idle = {name: cpu for name, _, cpu in rows if re.fullmatch(r"idle\d*", name)}
    # One idle thread per CPU, each on its own CPU: "idle" for CPU 0, "idle<N>" for the others.
    assert idle.get("idle") == 0, output
    for index in range(1, cpus):
        assert idle.get("idle%d" % index) == index, output
    assert all(cpu < cpus for _, _, cpu in rows), output
    for index in range(cpus):
        assert re.search(r"^CPU %d: \d+ context switches, idle \d+\.\d{3} s$" % index, output, re.M), output


@pytest.mark.parametrize("firmware,machine,cpus", [
    ("seabios", "q35", 1), ("seabios", "q35", 2), ("seabios", "q35", 4), ("seabios", "pc", 4),
    ("ovmf", "q35", 2), ("ovmf", "pc", 4)])
def test_cpus_come_up(make_vm, firmware, machine, cpus):
    vm = boot(make_vm, cpus, firmware=firmware, machine=machine)
    online, wanted, apic_ids = smp_line(vm)
    assert (online, wanted, apic_ids) == (cpus, cpus, list(range(cpus)))
    rows, output = cpu_table(vm)
    assert sorted(rows) == list(range(cpus)), output
    assert all(state == "online" for _, state, _ in rows.values()), output
    assert sorted(apic for apic, _, _ in rows.values()) == list(range(cpus)), output
    assert re.search(r"^%d of %d CPUs online;" % (cpus, cpus), output, re.M), output
    check_threads_show_cpus(vm, cpus)
    check_selftest(vm, cpus)
    # After the self-test every CPU has run threads and taken its own timer ticks.
    rows = {int(m.group(1)): m for m in ONLINE_ROW_RE.finditer(vm.command("cpu"))}
    assert len(rows) == cpus
    for index, row in rows.items():
        assert int(row.group(3)) > 0, "CPU %d took no timer tick" % index
        assert int(row.group(4)) > 0, "CPU %d ran no thread" % index


def test_apic_ids_with_holes(make_vm):
    # Two sockets of three cores: APIC IDs 0,1,2,4,5,6; the table must use them, not the index.
    vm = boot(make_vm, "6,sockets=2,cores=3")
    online, wanted, apic_ids = smp_line(vm)
    assert (online, wanted, apic_ids) == (6, 6, [0, 1, 2, 4, 5, 6])
    rows, output = cpu_table(vm)
    assert [rows[i][0] for i in range(6)] == [0, 1, 2, 4, 5, 6], output
    check_selftest(vm, 6)


def test_disabled_processors_are_listed_not_started(make_vm):
    # -smp 2,maxcpus=4: the MADT lists four processors, two enabled. The others must not be sent IPIs and
    # waited for (an IPI to an absent APIC ID is dropped silently: only a timeout would tell).
    vm = boot(make_vm, "2,maxcpus=4")
    assert smp_line(vm)[:2] == (2, 2)
    assert not re.search(r"did not|gave no sign|skipped", vm.clean[:vm.clean.find("ready in")]), vm.tail()
    rows, output = cpu_table(vm)
    assert [rows[i][1] for i in sorted(rows)] == ["online", "online", "offline", "offline"], output
    assert sorted(rows[i][0] for i in (2, 3)) == [2, 3], output


def test_single_threaded_tcg_bring_up(make_vm):
    # Round-robin TCG: one host thread runs every vCPU, switching only when one halts or pauses (a spin
    # without `pause` would stall every other CPU for 100 ms at a time).
    vm = boot(make_vm, 4, extra_args=["-accel", "tcg,thread=single"])
    assert smp_line(vm)[:2] == (4, 4)
    check_selftest(vm, 4)


def test_storage_with_four_cpus(make_vm, cairn_disk, tmp_path):
    if cairn_disk is None:
        pytest.fail("build/nvme-disk.img is missing: run make disk")
    # A second controller holds 8 MiB of random bytes: a dd source nothing writes to (the first disk's
    # partition is written by the copy, so its raw bytes would change under dd).
    source = tmp_path / "random.img"
    data = os.urandom(8 << 20)
    source.write_bytes(data)
    vm = boot(make_vm, 4, nvme_disks=[cairn_disk, str(source)])
    assert smp_line(vm)[:2] == (4, 4)
    output = vm.command("nvme bench nvme0n1 randread bs=4k qd=32 seconds=3", timeout=90)
    summary = re.search(r"^nvme0n1: randread, bs=4096, qd=32: (\d+) I/Os in \S+ s, (\d+) errors$", output, re.M)
    assert summary and int(summary.group(1)) > 0 and int(summary.group(2)) == 0, output
    # A file as the host wrote it, through EXT2 and the cache (completions arrive on CPU 0, the shell may run
    # anywhere: the wake-up crosses CPUs).
    with open(os.path.join(REPOSITORY, "tools", "disk-content", "docs", "notes.txt"), "rb") as notes:
        digest = hashlib.sha256(notes.read()).hexdigest()
    for _ in range(3):
        assert vm.command("sha256sum %s/docs/notes.txt" % MOUNT) == "%s  %s/docs/notes.txt\n" % (digest, MOUNT)
    # 4 MiB from the random disk into a new file on the first (a snapshot), read back twice.
    output = vm.command("dd if=nvme1n1 of=%s/smp.bin bs=64k count=64" % MOUNT, timeout=180)
    assert "64+0 records in\n64+0 records out\n4194304 bytes" in output, output
    digest = hashlib.sha256(data[:64 * 65536]).hexdigest()
    for _ in range(2):
        assert vm.command("sha256sum %s/smp.bin" % MOUNT, timeout=120) == "%s  %s/smp.bin\n" % (digest, MOUNT)
    # Power off stops the other CPUs first and switches the machine off.
    vm.send("poweroff\r")
    vm.wait_for(r"Powering off\.", 30)
    assert vm.wait_exit(30), "QEMU still runs after poweroff:\n" + vm.tail(1500)


def test_exception_halts_every_cpu(make_vm):
    vm = boot(make_vm, 4)
    vm.send("fault pf\r")
    vm.wait_for(r"EXCEPTION: Page fault \(#PF\) at RIP=[0-9a-f]+ on CPU \d+", 30)
    vm.wait_for(r"System halted\.", 30)
    assert vm.running(), "QEMU ended after the fault (triple fault?)"
    # The dump is printed once, and afterwards every CPU sits in HLT.
    deadline = time.monotonic() + 10
    halted, total = vm.cpus_halted()
    while halted != total and time.monotonic() < deadline:
        time.sleep(0.5)
        halted, total = vm.cpus_halted()
    assert (halted, total) == (4, 4), vm.hmp("info registers -a")[-3000:]
    assert vm.clean.count("EXCEPTION:") == 1, vm.tail()


def test_reboot_with_two_cpus(make_vm):
    vm = make_vm(cpus=2, memory_mib=256, no_reboot=False)
    vm.wait_boot(BOOT_TIMEOUT * 2)
    assert smp_line(vm)[:2] == (2, 2)
    vm.send("reboot\r")
    vm.wait_for(r"Rebooting\.", 15)
    # Firmware restarts every CPU; Cairn comes back and starts the second one again.
    vm.wait_boot(BOOT_TIMEOUT * 2)
    assert len(SMP_LINE_RE.findall(vm.clean)) == 2
    assert SMP_LINE_RE.findall(vm.clean)[-1][:2] == ("2", "2")
