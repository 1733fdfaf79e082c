#!/usr/bin/python3
"""bench_nvme_sgl.py - PRPs against SGLs under QEMU, at 4 KiB and 128 KiB, in one boot (`make bench-sgl`).

  bench_nvme_sgl.py [--build build] [--seconds 4] [--rounds 3] [--qd 1,32] [--workloads read,write]
                    [--sizes 4k,128k]

A benchmark, not a test: pytest does not collect it (its name does not start with test_) and `make test`
does not run it. It boots the default image (nvme.sgl=auto) with one controller on a 64 MiB scratch image
and runs `nvme bench nvme0n1 <workload> bs=<size> qd=<qd> seconds=<s> sgl=<mode>` for every combination,
the modes in a different order each round so that drift on a shared machine does not favour one of them.
Each run's `data:` line must show the mode at work (sgl=on: no PRP command, sgl=off: no SGL command); auto
shows which one the driver's rule picked.

Two figures per run: IOPS (and MB/s) as the guest's clock sees them, and the host CPU time the QEMU process
spent per I/O (its utime + stime from /proc, all threads: the guest's driver under TCG and the NVMe model's
DMA and descriptor walking). Under TCG the guest's clock is the host's wall clock, so on a shared machine IOPS
move with the other load; CPU time per I/O moves much less and is the figure to compare. It prints, per
workload, size and queue depth, the medians of each mode and the SGL/PRP ratios (median of the rounds' ratios,
with their range), then the table as Markdown for documentation/NVMe.md. Figures depend on the host: compare
modes within one run, not runs between machines.
"""

import argparse
import os
import re
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nvme_images  # noqa: E402
from cairn_qemu import BOOT_TIMEOUT, CairnVM  # noqa: E402

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODES = ("off", "on", "auto")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SUMMARY_RE = re.compile(r"^nvme0n1: \w+, bs=\d+, qd=\d+: (\d+) I/Os in ", re.M)
RATE_RE = re.compile(r"^IOPS: (\d+), bandwidth: (\d+\.\d\d) MB/s$", re.M)
LATENCY_RE = re.compile(r"^latency \(us\): mean (\d+\.\d),", re.M)
DATA_RE = re.compile(r"^data: sgl=(\w+) \(\w+ again after the run\), (\d+) SGL commands, (\d+) PRP commands$", re.M)


def size_bytes(text):
    units = {"k": 1024, "m": 1024 * 1024}
    return int(text[:-1]) * units[text[-1].lower()] if text[-1].lower() in units else int(text)


def cpu_seconds(pid):
    """utime + stime of a process, all its threads (fields 14 and 15 of /proc/<pid>/stat)."""
    with open("/proc/%d/stat" % pid) as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def run_one(vm, workload, size, qd, seconds, mode):
    command = "nvme bench nvme0n1 %s bs=%d qd=%d seconds=%d sgl=%s" % (workload, size, qd, seconds, mode)
    before = cpu_seconds(vm.process.pid)
    output = vm.command(command, timeout=seconds + 90)
    cpu = cpu_seconds(vm.process.pid) - before
    summary, rate, latency, data = (SUMMARY_RE.search(output), RATE_RE.search(output), LATENCY_RE.search(output),
                                    DATA_RE.search(output))
    if not (summary and rate and latency and data) or " 0 errors" not in output:
        raise RuntimeError("%s: output not understood or errors:\n%s" % (command, output))
    sgl, prp = int(data.group(2)), int(data.group(3))
    if (mode == "on" and prp != 0) or (mode == "off" and sgl != 0) or sgl + prp == 0:
        raise RuntimeError("%s: the mode was not the one at work:\n%s" % (command, output))
    ios = int(summary.group(1))
    return {"iops": int(rate.group(1)), "mbps": float(rate.group(2)), "latency": float(latency.group(1)),
            "cpu": cpu * 1e6 / max(ios, 1), "picked": "SGL" if sgl >= prp else "PRP"}


def summarise(results, rounds):
    """{key: {mode: [runs]}} -> rows of (key, {mode: {figure: median}}, {figure: SGL/PRP ratios}, auto's pick)."""
    rows = []
    for key, by_mode in results.items():
        medians = {mode: {figure: statistics.median(run[figure] for run in runs) for figure in ("iops", "mbps", "cpu")}
                   for mode, runs in by_mode.items()}
        ratios = {figure: [by_mode["on"][i][figure] / by_mode["off"][i][figure] for i in range(rounds)]
                  for figure in ("iops", "cpu")}
        picked = sorted(set(run["picked"] for run in by_mode["auto"]))
        rows.append((key, medians, ratios, "/".join(picked)))
    return rows


def ratio_text(ratios):
    return "%.2f (%.2f-%.2f)" % (statistics.median(ratios), min(ratios), max(ratios))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--qd", default="1,32")
    parser.add_argument("--workloads", default="read,write")
    parser.add_argument("--sizes", default="4k,128k")
    args = parser.parse_args()
    build = args.build if os.path.isabs(args.build) else os.path.join(REPOSITORY, args.build)
    iso = os.path.join(build, "cairn.iso")
    if not os.path.isfile(iso):
        sys.exit("%s is missing: make image" % iso)
    sizes = [size_bytes(text) for text in args.sizes.split(",")]
    depths = [int(text) for text in args.qd.split(",")]
    workloads = args.workloads.split(",")

    work = tempfile.mkdtemp(prefix="cairn-bench-sgl-")
    disk = nvme_images.make_image(os.path.join(work, "bench.img"), 64 * nvme_images.MIB, background_seed=0xBE5C)
    vm = CairnVM(iso, os.path.join(work, "vm"), nvme_disks=[disk], memory_mib=512,
                 log_path=os.path.join(build, "test-logs", "bench_nvme_sgl.log"), name="bench-sgl")
    results = {}
    vm.start()
    try:
        vm.wait_boot(BOOT_TIMEOUT)
        for round_index in range(args.rounds):
            order = MODES[round_index % 3:] + MODES[:round_index % 3]
            for workload in workloads:
                for size in sizes:
                    for qd in depths:
                        for mode in order:
                            run = run_one(vm, workload, size, qd, args.seconds, mode)
                            results.setdefault((workload, size, qd), {}).setdefault(mode, []).append(run)
                            print("round %d %-5s bs=%-6d qd=%-3d sgl=%-4s %7d IOPS %8.2f MB/s mean %8.1f us, "
                                  "host CPU %6.1f us/IO%s"
                                  % (round_index + 1, workload, size, qd, mode, run["iops"], run["mbps"],
                                     run["latency"], run["cpu"],
                                     " (auto: %s)" % run["picked"] if mode == "auto" else ""), flush=True)
        events = vm.nvme_events()
    finally:
        vm.stop()
    if events:
        sys.exit("QEMU reported NVMe trace events: %s" % ", ".join(events))

    rows = summarise(results, args.rounds)
    print("\nmedians of %d rounds of %d s (QEMU %s, TCG):" % (args.rounds, args.seconds,
                                                            nvme_images.qemu_firmware_revision()))
    print("| workload | bs | qd | PRP IOPS | SGL IOPS | SGL/PRP IOPS | PRP CPU us/IO | SGL CPU us/IO | SGL/PRP CPU "
          "| auto picks |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (workload, size, qd), medians, ratios, picked in rows:
        prp, sgl = medians["off"], medians["on"]
        print("| %s | %d KiB | %d | %d | %d | %s | %.1f | %.1f | %s | %s |"
              % (workload, size // 1024, qd, prp["iops"], sgl["iops"], ratio_text(ratios["iops"]), prp["cpu"],
                 sgl["cpu"], ratio_text(ratios["cpu"]), picked))


if __name__ == "__main__":
    main()
