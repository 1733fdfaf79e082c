#!/usr/bin/python3
"""bench_linux.py - `make bench-linux`: Linux and Cairn booted alternately in one QEMU configuration.

  bench_linux.py [--build build] [--rounds 3] [--seconds 3] [--only linux|cairn]

A benchmark, not a test (`make test` does not run it; tests/integration/test_bench_harness.py checks the
parsing and the arithmetic). Every boot is the same machine: qemu-system-x86_64 -machine pc -m 1G, the
accelerator tests/integration/cairn_qemu.py picks (TCG here), the CPU count of the boot, and the same three
NVMe controllers at the same PCI slots:
  CAIRNDATA     a file image: GPT, one EXT2 partition holding big.bin (64 MiB of random bytes); read only
  CAIRNSCRATCH  a 256 MiB file image for the write workload
  CAIRNNULL     QEMU's null-co backend (1 GiB, reads zeroes): the driver and the device model alone
Both images are copied afresh from pristine ones before each boot, so no side reads what the other wrote.

A round boots Linux and Cairn with one CPU for every workload, then both with two CPUs for the scaling
figure; the side that goes first alternates between rounds so a drifting host load favours neither.
Linux (Debian's cloud kernel with busybox and fio in an initramfs, tools/bench/linux_guest.py) runs each
block workload twice: fio with libaio and O_DIRECT (what most programs do) and fio at its fastest (io_uring,
fixed buffers and files, polled completions on nvme.poll_queues); the table takes the better of the two.
Files and disks are read with dd and cat, the page cache dropped before each read (cold), dd in the
configurations of DD_CONFIGS: busybox dd (the default, timed by init.sh around the command) and GNU dd
buffered and with iflag=direct (timed by itself, as Cairn's dd is); the table takes the best, and
markdown_configurations shows the ratio against each. Cairn runs the same workloads from its shell over
serial: `nvme bench` (an in-kernel loop), its dd, and `time cat ... > /dev/null`. Cairn's ISO boots with
nvme.poll_queues=1, as Linux boots with poll queues: the "polled" qd1 row is Linux's io_uring --hipri against
Cairn's `nvme bench ... qd=1 poll`; everything else of Cairn's uses its interrupt-driven queues.

Prints the table (median and range over the rounds, ratio Cairn/Linux) and writes
build/bench-linux/results.json (tools/bench/plot.py draws it). A figure a side cannot produce yet (a shell
argument Cairn lacks) is "n/a", not a failure.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPOSITORY = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPOSITORY, "tests", "integration"))

import bench_results as results  # noqa: E402
import linux_guest  # noqa: E402
import nvme_images  # noqa: E402
import storage_images as images  # noqa: E402
from cairn_qemu import BOOT_TIMEOUT, CairnTimeout, CairnVM, CairnVMError, choose_accel  # noqa: E402

MIB = 1024 * 1024
FILE_SIZE = 64 * MIB
SCRATCH_SIZE = 256 * MIB
NULL_SIZE = 1024 * MIB
MEMORY_MIB = 1024
SERIALS = ("CAIRNDATA", "CAIRNSCRATCH", "CAIRNNULL")

# Rows of the table: (id, title, metric, target as text). A row reads the job of the same id unless it
# names another ('job'); scaling is computed from two rows.
ROWS = [
    {"id": "rand4k_qd1_lat", "job": "rand4k_qd1", "title": "4 KiB randread qd1, mean latency", "metric": "lat_us",
     "target": "Cairn/Linux at most 0.6"},
    {"id": "rand4k_qd1_poll_lat", "job": "rand4k_qd1_poll", "title": "4 KiB randread qd1, mean latency, polled",
     "metric": "lat_us", "target": "Cairn/Linux at most 0.6"},
    {"id": "rand4k_qd1", "title": "4 KiB randread qd1", "metric": "iops"},
    {"id": "rand4k_qd32", "title": "4 KiB randread qd32", "metric": "iops", "target": "Cairn/Linux at least 1.5"},
    {"id": "read128k_qd8", "title": "128 KiB read qd8", "metric": "mbps"},
    {"id": "write128k_qd8", "title": "128 KiB write qd8", "metric": "mbps"},
    {"id": "file_dd", "title": "64 MiB EXT2 file, dd bs=1M, cold", "metric": "mbps",
     "target": "Cairn/Linux at least 1.5"},
    {"id": "file_cat", "title": "64 MiB EXT2 file, cat, cold", "metric": "mbps"},
    {"id": "raw_dd", "title": "raw disk, dd bs=1M", "metric": "mbps", "target": "Cairn/Linux at least 1.5"},
    {"id": "null_qd32_1cpu", "title": "null backend 4 KiB randread qd32, 1 CPU", "metric": "iops"},
    {"id": "null_qd32_2cpu", "title": "null backend 4 KiB randread qd32, 2 CPUs", "metric": "iops"},
    {"id": "scaling", "title": "scaling, 2 CPUs / 1 CPU (null, qd32)", "metric": "ratio",
     "target": "Cairn 2 CPUs/1 CPU at least 1.6"},
]

# Block workloads: id -> (disk serial, fio rw, block size, queue depth, Cairn bench mode).
BLOCK_JOBS = {
    "rand4k_qd1": ("CAIRNDATA", "randread", "4k", 1, "randread"),
    "rand4k_qd32": ("CAIRNDATA", "randread", "4k", 32, "randread"),
    "read128k_qd8": ("CAIRNDATA", "read", "128k", 8, "read"),
    "write128k_qd8": ("CAIRNSCRATCH", "write", "128k", 8, "write"),
    "null_qd32_1cpu": ("CAIRNNULL", "randread", "4k", 32, "randread"),
}
# Linux configurations: name -> fio options.
FIO_CONFIGS = {
    "libaio": "--ioengine=libaio",
    "io_uring polled": "--ioengine=io_uring --fixedbufs --registerfiles --hipri",
}
# Linux dd configurations of the file_dd and raw_dd rows: job suffix -> (name, command, timed by dd itself).
# Every one reads cold (caches dropped first) with bs=1M, as Cairn's dd does. Busybox dd prints no rate, so
# init.sh's clock times it and the figure includes starting the program (the "start" job measures that);
# GNU dd's summary line times the copy alone. iflag=direct reads straight into dd's buffer (no page cache,
# no copy, 512 KiB commands back to back), which is what Cairn's dd does for large reads.
DD_CONFIGS = {
    "": ("busybox dd", "dd", False),
    "busybox_direct": ("busybox dd iflag=direct", "dd iflag=direct", False),
    "gnu": ("GNU dd", "gnu-dd", True),
    "gnu_direct": ("GNU dd iflag=direct", "gnu-dd iflag=direct", True),
}


LINUX_INFO = {}  # CPUs -> what the last Linux boot with that many said about its poll queues
LINUX_START_MS = []  # per 1-CPU Linux boot: init.sh's timing of `dd count=0` (what starting busybox costs)


def say(text):
    print("bench-linux: " + text, flush=True)


# -- disks ------------------------------------------------------------------------------------------------------

def make_disks(folder):
    """The pristine images (made once): data.img (GPT + EXT2 with big.bin) and scratch.img."""
    data = os.path.join(folder, "data.img")
    scratch = os.path.join(folder, "scratch.img")
    if os.path.exists(data) and os.path.exists(scratch):
        return data, scratch
    os.makedirs(folder, exist_ok=True)
    tree = os.path.join(folder, "tree")
    shutil.rmtree(tree, ignore_errors=True)
    os.makedirs(tree)
    with open(os.path.join(tree, "big.bin"), "wb") as handle:
        handle.write(os.urandom(FILE_SIZE))
    volume = os.path.join(folder, "volume.img")
    images.make_ext2(volume, FILE_SIZE + 32 * MIB, 4096, 1, source=tree, label="bench")
    images.make_disk(data + ".tmp", 512, "gpt", [images.Partition(FILE_SIZE + 32 * MIB, fs=volume, name="bench")])
    os.replace(data + ".tmp", data)
    os.remove(volume)
    shutil.rmtree(tree)
    with open(scratch + ".tmp", "wb") as handle:
        for _ in range(SCRATCH_SIZE // MIB):
            handle.write(bytes(MIB))  # written, not sparse: no side pays for the host allocating blocks
    os.replace(scratch + ".tmp", scratch)
    return data, scratch


def machine_disks(pristine, work):
    """QEMU arguments for the three controllers, on fresh copies of the images in work/."""
    data, scratch = pristine
    args = []
    for slot, (serial, source) in enumerate(zip(SERIALS, (data, scratch, None))):
        node = serial.lower()
        if source:
            copy = os.path.join(work, os.path.basename(source))
            shutil.copyfile(source, copy)
            args += ["-blockdev", "driver=file,node-name=%s-file,filename=%s" % (node, copy),
                     "-blockdev", "driver=raw,node-name=%s,file=%s-file" % (node, node)]
        else:
            args += ["-blockdev", "driver=null-co,node-name=%s,size=%d,read-zeroes=on" % (node, NULL_SIZE)]
        args += ["-device", "nvme,serial=%s,drive=%s,addr=0x%x" % (serial, node, 4 + slot)]
    return args


# -- Linux ------------------------------------------------------------------------------------------------------

def fio_command(serial, rw, size, qd, config, seconds, jobs=1):
    command = ("fio --name=bench --filename=$(disk %s) --direct=1 --rw=%s --bs=%s --iodepth=%d %s "
               "--time_based --runtime=%d --numjobs=%d --group_reporting --output-format=json"
               % (serial, rw, size, qd, FIO_CONFIGS[config], seconds, jobs))
    if rw.startswith("rand"):
        command += " --randrepeat=0 --norandommap"
    return command


def linux_plan(cpus, seconds):
    """The shell plan of one Linux boot (init.sh's helpers: wait_disks, disk, job)."""
    limit = seconds + 60
    lines = ["wait_disks %d" % len(SERIALS),
             # What the polled configuration stands on: the driver's queue split and io_poll per disk.
             "job info 20 sh -c 'dmesg | grep -i \"poll queues\"; grep . /sys/block/nvme*n1/queue/io_poll'"]
    if cpus == 1:
        # What init.sh's timing adds to busybox dd's figures: starting timeout and busybox, reading the clock.
        lines += ["job start 20 dd if=/dev/zero of=/dev/null count=0",
                  "mount -t ext2 -o ro $(disk CAIRNDATA)p1 /mnt/data"]
        lines += dd_jobs("file_dd", "/mnt/data/big.bin", limit)
        lines += ["echo 3 > /proc/sys/vm/drop_caches",
                  "job file_cat %d sh -c 'cat /mnt/data/big.bin > /dev/null'" % limit,
                  "umount /mnt/data"]
        lines += dd_jobs("raw_dd", "$(disk CAIRNDATA)", limit)
        for job, (serial, rw, size, qd, _) in BLOCK_JOBS.items():
            for config in FIO_CONFIGS:
                lines.append("job %s.%s %d %s" % (job, config.split()[0], limit,
                                                  fio_command(serial, rw, size, qd, config, seconds)))
    else:
        for config in FIO_CONFIGS:
            lines.append("job null_qd32_2cpu.%s %d %s" % (config.split()[0], limit, fio_command(
                "CAIRNNULL", "randread", "4k", 32, config, seconds, jobs=cpus)))
    return "\n".join(lines) + "\n"


def dd_jobs(row, source, limit):
    """The plan lines of one dd row: each configuration of DD_CONFIGS, caches dropped before each."""
    lines = []
    for suffix, (_, command, _) in DD_CONFIGS.items():
        lines += ["echo 3 > /proc/sys/vm/drop_caches",
                  "job %s%s %d %s if=%s of=/dev/null bs=1M" % (row, "." + suffix if suffix else "", limit, command,
                                                               source)]
    return lines


def linux_figures(jobs, data_bytes):
    """{row id: {config: figures}} from one Linux boot's jobs ("row.fio-engine", "row.dd-suffix", "row")."""
    figures = {}
    for job, outcome in jobs.items():
        if job in ("info", "start"):
            continue
        base, _, suffix = job.partition(".")
        size = FILE_SIZE if base.startswith("file_") else data_bytes
        if base == "file_cat":
            rate = results.timed_rate(size, outcome["ns"]) if outcome["status"] == 0 else None
            figures.setdefault(base, {})["busybox cat"] = {"mbps": rate} if rate else None
        elif base in ("file_dd", "raw_dd"):
            config, _, self_timed = DD_CONFIGS[suffix]
            if self_timed:
                parsed = parse_or_none(results.parse_dd_summary, outcome)
                # A short copy (a read error GNU dd reported after part of the disk) is no figure.
                parsed = parsed if parsed and parsed["bytes"] == size else None
            else:
                rate = results.timed_rate(size, outcome["ns"]) if outcome["status"] == 0 else None
                parsed = {"mbps": rate} if rate else None
            figures.setdefault(base, {})[config] = parsed
        else:
            config = next(name for name in FIO_CONFIGS if name.split()[0] == suffix)
            figures.setdefault(base, {})[config] = parse_or_none(results.parse_fio, outcome)
    # The polled qd1 row: Linux's polled configuration alone, against Cairn's `nvme bench ... poll`.
    if "rand4k_qd1" in figures:
        figures["rand4k_qd1_poll"] = {"io_uring polled": figures["rand4k_qd1"].get("io_uring polled")}
    return figures


def parse_or_none(parser, outcome):
    return parser(outcome["output"]) if outcome["status"] == 0 else None


def run_linux(manifest, pristine, cpus, seconds, work, log_dir, data_bytes):
    os.makedirs(work, exist_ok=True)
    initrd = linux_guest.boot_initrd(manifest, linux_plan(cpus, seconds),
                                     os.path.join(work, "initrd.cpio"))
    append = "console=ttyS0 quiet nvme.poll_queues=%d" % cpus
    vm = linux_guest.LinuxVM(manifest["kernel"], initrd, append, work, machine="pc", memory_mib=MEMORY_MIB,
                             cpus=cpus, extra_args=machine_disks(pristine, work),
                             log_path=os.path.join(log_dir, "linux-%dcpu.log" % cpus), name="linux")
    jobs = {}
    try:
        vm.start()
        vm.wait_for(r"^@@READY", 240)
        budget = ((len(BLOCK_JOBS) * len(FIO_CONFIGS) + 2 * len(DD_CONFIGS) + 2) * (seconds + 60) if cpus == 1
                  else 3 * (seconds + 60))
        vm.wait_for(r"^@@DONE", budget)
    except (CairnTimeout, CairnVMError) as error:
        say("Linux with %d CPU(s): %s" % (cpus, str(error).splitlines()[0]))
    finally:
        jobs = results.parse_linux_jobs(vm.clean)
        vm.stop()
        for name in ("data.img", "scratch.img", "initrd.cpio"):
            path = os.path.join(work, name)
            if os.path.exists(path):
                os.remove(path)
    figures = linux_figures(jobs, data_bytes)
    if "info" in jobs:
        LINUX_INFO[cpus] = jobs["info"]["output"]
    if "start" in jobs and jobs["start"]["status"] == 0:
        LINUX_START_MS.append(round(jobs["start"]["ns"] / 1e6, 1))
    return figures


# -- Cairn ------------------------------------------------------------------------------------------------------

def cairn_disk_names(vm):
    """{serial: disk name} from `nvme list` (a line per namespace: its node, then the serial)."""
    output = vm.command("nvme list", timeout=30)
    names = {}
    for serial in SERIALS:
        found = re.search(r"^(nvme\d+n1)\s+%s\s" % serial, output, re.M)
        if found:
            names[serial] = found.group(1)
    return names, output


def cairn_command(vm, line, timeout):
    """One shell command's output; '' after a timeout (the prompt recovered when possible)."""
    try:
        return vm.command(line, timeout=timeout)
    except CairnTimeout:
        say("Cairn: %r timed out" % line)
        vm.recover_prompt()
        return ""


def run_cairn(iso, pristine, cpus, seconds, work, log_dir):
    os.makedirs(work, exist_ok=True)
    vm = CairnVM(iso, work, machine="pc", memory_mib=MEMORY_MIB, cpus=cpus, extra_args=machine_disks(pristine, work),
                 log_path=os.path.join(log_dir, "cairn-%dcpu.log" % cpus), name="cairn")
    figures = {}
    limit = seconds + 90
    try:
        vm.start()
        vm.wait_boot(BOOT_TIMEOUT * 2)
        names, listing = cairn_disk_names(vm)
        if set(names) != set(SERIALS):
            say("Cairn: could not tell the disks apart in `nvme list`:\n" + listing)
            return figures
        data, null = names["CAIRNDATA"], names["CAIRNNULL"]
        if cpus == 1:
            mounts = cairn_command(vm, "mount", 30)
            point = re.search(r"^%sp1 on (\S+)" % data, mounts, re.M)
            if point:
                dd = results.parse_dd_summary(cairn_command(vm, "dd if=%s/big.bin of=/dev/null bs=1M" % point.group(1),
                                                          limit))
                figures["file_dd"] = {"Cairn dd": dd}
            else:
                say("Cairn: %sp1 is not mounted:\n%s" % (data, mounts))
            if point:
                # `time` says how long cat took; its output goes nowhere (`> /dev/null`), as Linux's does.
                took = results.parse_cairn_time(cairn_command(
                    vm, "time cat %s/big.bin > /dev/null" % point.group(1), limit))
                figures["file_cat"] = {"Cairn cat": {"mbps": FILE_SIZE / took / 1e6} if took else None}
            figures["raw_dd"] = {"Cairn dd": results.parse_dd_summary(
                cairn_command(vm, "dd if=%s of=/dev/null bs=1M" % data, limit))}
            for job, (serial, _, size, qd, mode) in BLOCK_JOBS.items():
                output = cairn_command(vm, "nvme bench %s %s bs=%s qd=%d seconds=%d" % (
                    names[serial], mode, size, qd, seconds), limit)
                figures[job] = {"nvme bench": results.parse_cairn_bench(output)}
            # Polled: one synchronous command at a time on the polled pair (the ISO boots nvme.poll_queues=1).
            output = cairn_command(vm, "nvme bench %s randread bs=4k qd=1 seconds=%d poll" % (data, seconds), limit)
            figures["rand4k_qd1_poll"] = {"nvme bench poll": results.parse_cairn_bench(output)}
        else:
            output = cairn_command(vm, "nvme bench %s randread bs=4k qd=32 seconds=%d cpus=%d" % (
                null, seconds, cpus), limit)
            figures["null_qd32_2cpu"] = {"nvme bench": results.parse_cairn_bench(output)}
    except (CairnTimeout, CairnVMError) as error:
        say("Cairn with %d CPU(s): %s" % (cpus, str(error).splitlines()[0]))
    finally:
        vm.stop()
        for name in ("data.img", "scratch.img"):
            path = os.path.join(work, name)
            if os.path.exists(path):
                os.remove(path)
    return figures


# -- the run ----------------------------------------------------------------------------------------------------

def add_round(samples, side, figures, round_index):
    """Appends one boot's figures to samples[row][side] (Linux: per configuration)."""
    for row in ROWS:
        job = row.get("job", row["id"])
        if job not in figures:
            continue
        for config, parsed in figures[job].items():
            value = parsed.get(row["metric"]) if parsed else None
            if side == "linux":
                values = samples.setdefault(row["id"], {}).setdefault("linux", {}).setdefault(config, [])
            else:
                values = samples.setdefault(row["id"], {}).setdefault("cairn", [])
            values.extend([None] * (round_index - len(values)))
            values.append(value)


def add_scaling(samples, rounds):
    """The scaling row: per round, 2-CPU IOPS over 1-CPU IOPS of the same configuration."""
    one, two = samples.get("null_qd32_1cpu", {}), samples.get("null_qd32_2cpu", {})
    scaling = {"linux": {}, "cairn": []}
    for config, values in two.get("linux", {}).items():
        base = one.get("linux", {}).get(config, [])
        scaling["linux"][config] = [b and a and b / a for a, b in zip(base, values)]
    scaling["cairn"] = [b and a and b / a for a, b in zip(one.get("cairn", []), two.get("cairn", []))]
    samples["scaling"] = scaling


def padded(samples, rounds):
    for data in samples.values():
        for values in list(data.get("linux", {}).values()) + [data.get("cairn", [])]:
            values.extend([None] * (rounds - len(values)))
    return samples


def summarize_again(path):
    """Recomputes the table of an earlier run from its samples (after a change to the arithmetic)."""
    with open(path, encoding="utf-8") as handle:
        report = json.load(handle)
    report["table"] = results.summarize(ROWS, report["samples"])
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=1)
    print(results.markdown(report["table"]))
    print()
    print(results.markdown_configurations(report["table"]))
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build")
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("ROUNDS", "3")))
    parser.add_argument("--seconds", type=int, default=3, help="length of each fio and nvme bench run")
    parser.add_argument("--only", choices=("linux", "cairn"), help="boot one side only (to try the harness)")
    parser.add_argument("--summarize", action="store_true",
                        help="boot nothing: rebuild the table of results.json from the samples it holds")
    options = parser.parse_args()
    build = os.path.abspath(options.build)
    cache = os.path.join(build, "bench-linux")
    if options.summarize:
        return summarize_again(os.path.join(cache, "results.json"))
    # Cairn boots with one polled queue pair, as Linux boots with nvme.poll_queues: interrupt-driven I/O does
    # not use it; `nvme bench ... poll` does.
    iso = nvme_images.build_iso_with_options(build, "nvme.poll_queues=1", os.path.join(cache, "cairn-iso"))
    log_dir = os.path.join(cache, "logs")
    os.makedirs(log_dir, exist_ok=True)
    started = time.monotonic()

    manifest = linux_guest.prepare(cache) if options.only != "cairn" else None
    pristine = make_disks(os.path.join(cache, "disks"))
    data_bytes = os.path.getsize(pristine[0])
    samples = {}
    for round_index in range(options.rounds):
        sides = ["linux", "cairn"] if round_index % 2 == 0 else ["cairn", "linux"]
        sides = [side for side in sides if options.only in (None, side)]
        for cpus in (1, 2):
            for side in sides:
                work = os.path.join(cache, "work-%s" % side)
                boot_started = time.monotonic()
                if side == "linux":
                    figures = run_linux(manifest, pristine, cpus, options.seconds, work, log_dir, data_bytes)
                else:
                    figures = run_cairn(iso, pristine, cpus, options.seconds, work, log_dir)
                add_round(samples, side, figures, round_index)
                say("round %d/%d: %s with %d CPU(s) in %.0f s" % (round_index + 1, options.rounds, side, cpus,
                                                                time.monotonic() - boot_started))
    padded(samples, options.rounds)
    add_scaling(samples, options.rounds)
    table = results.summarize(ROWS, samples)
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "rounds": options.rounds, "seconds": options.seconds, "host": platform.node(),
        "qemu": subprocess.run(["qemu-system-x86_64", "--version"], stdout=subprocess.PIPE).stdout.decode()
        .splitlines()[0],
        "accel": choose_accel(),
        "linux": {"kernel": manifest["version"], "packages": manifest["packages"]} if manifest else None,
        "linux_poll_queues": LINUX_INFO, "linux_busybox_start_ms": LINUX_START_MS,
        "minutes": round((time.monotonic() - started) / 60, 1), "samples": samples, "table": table,
    }
    path = os.path.join(cache, "results.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=1)
    print()
    print(results.markdown(table))
    print()
    print(results.markdown_configurations(table))
    print()
    say("starting busybox dd as init.sh times it (dd count=0): %s ms" % LINUX_START_MS)
    say("%d rounds in %.1f minutes; %s (serial logs in %s)" % (options.rounds, report["minutes"], path, log_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
