"""test_nvme_percpu.py - the NVMe fast path on several CPUs, in QEMU (-smp 2 and 4, q35, MSI-X):

* bring-up asks for one I/O queue pair per CPU; `nvme info` shows each pair's MSI-X vector aimed at its CPU
  (queue q at CPU q - 1) and the admin queue on its own;
* `nvme bench ... cpus=N` runs a submitter pinned to each CPU: every CPU's line shows completed I/Os and no
  errors, every I/O queue completed commands and took interrupts on its vector, the summary parses as the
  one-CPU bench's does, and no vector went unclaimed (the kernel's 'no handler claimed' warning);
* nvme.poll_queues=1: one more pair, polled, takes the synchronous single reads (`disk dump`) without
  interrupts, and every I/O of `nvme bench ... qd=1 poll` (which refuses to run without such a pair).

Speed is not asserted: `nvme bench` figures are measured and reported (documentation/NVMe.md).
"""

import re

import pytest

import nvme_images
from cairn_qemu import BOOT_TIMEOUT
from test_nvme import BENCH_LATENCY_RE, BENCH_RATE_RE, BENCH_SUMMARY_RE

QUEUES_RE = re.compile(r"^queues\s+: admin \+ (\d+) I/O \((\d+) requested, (\d+) granted by the controller\)(.*)$",
                       re.M)
# QID DEPTH VECTOR (index (cpu vector)) INFLIGHT MAX SUBMITTED COMPLETED ERRORS INTERRUPTS CPU
QUEUE_ROW_RE = re.compile(r"^\s+(\d+)\s+(\d+) (\d+ \(cpu \d+\)|polled)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)"
                          r"\s+(\d+|-)$", re.M)
CPU_LINE_RE = re.compile(r"^cpu (\d+): (\d+) I/Os, (\d+) IOPS, (\d+) errors$", re.M)


def boot(make_vm, cpus, image=None):
    vm = make_vm(image=image, cpus=cpus, memory_mib=512)
    vm.wait_boot(BOOT_TIMEOUT * 2)
    return vm


def queue_table(vm):
    """`nvme info nvme0`'s queue summary and rows: (count, tail of the line, {qid: row dict})."""
    output = vm.command("nvme info nvme0")
    summary = QUEUES_RE.search(output)
    assert summary, "no queues line:\n" + output
    rows = {}
    for m in QUEUE_ROW_RE.finditer(output):
        rows[int(m.group(1))] = {"vector": m.group(3), "submitted": int(m.group(6)), "completed": int(m.group(7)),
                                 "errors": int(m.group(8)), "interrupts": int(m.group(9)), "cpu": m.group(10)}
    return int(summary.group(1)), summary.group(4), rows, output


@pytest.mark.parametrize("cpus", [2, 4])
def test_queue_and_vector_per_cpu(make_vm, cpus):
    vm = boot(make_vm, cpus)
    vm.wait_for(re.escape("[NVMeBringUp] nvme0: %d I/O queue pair(s) of 1024 entries, MSI-X (%d vector(s))"
                          % (cpus, cpus + 1)), timeout=5, start=0)
    count, _, rows, output = queue_table(vm)
    assert count == cpus, output
    assert rows[0]["cpu"] == "-", output  # the admin queue: bottom half, strict claims
    for qid in range(1, cpus + 1):
        assert rows[qid]["vector"].startswith("%d (cpu " % qid), output
        assert rows[qid]["cpu"] == str(qid - 1), output

    start = vm.mark()
    bench = vm.command("nvme bench nvme0n1 randread bs=4k qd=8 seconds=2 cpus=%d" % cpus, timeout=120)
    summary, rate, latency = (BENCH_SUMMARY_RE.search(bench), BENCH_RATE_RE.search(bench),
                              BENCH_LATENCY_RE.search(bench))
    assert summary and rate and latency, "bench output not understood:\n" + bench
    assert summary.group("disk") == "nvme0n1" and int(summary.group("qd")) == 8 and int(summary.group("errors")) == 0
    assert "%d submitters, one pinned to each of CPUs 0..%d, qd=8 each" % (cpus, cpus - 1) in bench, bench
    lines = {int(m.group(1)): m for m in CPU_LINE_RE.finditer(bench)}
    assert sorted(lines) == list(range(cpus)), bench
    assert all(int(m.group(2)) > 0 and int(m.group(4)) == 0 for m in lines.values()), bench
    assert sum(int(m.group(2)) for m in lines.values()) == int(summary.group("ios")), bench

    _, _, after, output = queue_table(vm)
    for qid in range(1, cpus + 1):
        # Each CPU's submitter used its own queue, whose completions came on its own vector.
        assert after[qid]["completed"] - rows[qid]["completed"] >= int(lines[qid - 1].group(2)), output
        assert after[qid]["interrupts"] > rows[qid]["interrupts"], output
        assert after[qid]["errors"] == 0, output
    assert "no handler claimed" not in vm.clean[start:], vm.clean[start:]


def test_bench_cpus_argument_checked(make_vm):
    vm = boot(make_vm, 2)
    assert "nvme: cpus=3 must be 1 to 2 (the CPUs online)" in vm.command("nvme bench nvme0n1 cpus=3")
    assert "nvme: cpus=0 must be 1 to 2 (the CPUs online)" in vm.command("nvme bench nvme0n1 cpus=0")
    assert "nvme: reset-after= runs without cpus=" in vm.command("nvme bench nvme0n1 cpus=2 reset-after=100")


def test_poll_queue_takes_synchronous_reads(make_vm, build_dir, tmp_path):
    image = nvme_images.build_iso_with_options(build_dir, "nvme.poll_queues=1", str(tmp_path))
    vm = boot(make_vm, 2, image=image)
    count, tail, rows, output = queue_table(vm)
    assert count == 3 and tail == ", the last 1 polled (nvme.poll_queues)", output
    assert rows[3]["vector"] == "polled" and rows[3]["cpu"] == "-", output
    # Single synchronous reads far from what boot read (the cache has none of it) go to the polled pair.
    for lba in (90000, 100000, 110000):
        dump = vm.command("disk dump nvme0n1 %d 1" % lba)
        assert "disk:" not in dump, dump
    _, _, after, output = queue_table(vm)
    assert after[3]["completed"] >= rows[3]["completed"] + 3, output
    assert after[3]["interrupts"] == 0, output
    # `nvme bench ... qd=1 poll`: every I/O of the run on the polled pair, none of them interrupting.
    output = vm.command("nvme bench nvme0n1 randread bs=4k qd=1 seconds=1 poll", timeout=60)
    ios = int(re.search(r"qd=1: (\d+) I/Os in", output).group(1))
    polled = int(re.search(r"^polled: (\d+) commands on polled queues, no interrupts$", output, re.M).group(1))
    assert ios > 0 and polled == ios and re.search(r"IOPS: [1-9]", output), output
    _, _, last, table = queue_table(vm)
    assert last[3]["completed"] >= after[3]["completed"] + ios and last[3]["interrupts"] == 0, table
    assert "nvme: poll runs one synchronous command at a time" in vm.command("nvme bench nvme0n1 qd=2 poll")


def test_bench_poll_needs_a_polled_queue(make_vm):
    vm = boot(make_vm, 1)
    assert "nvme: poll: nvme0 has no polled queue (boot with nvme.poll_queues=1)" in \
        vm.command("nvme bench nvme0n1 qd=1 poll")
