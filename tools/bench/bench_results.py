"""bench_results.py - what `make bench-linux` reads from each side and how it sums the rounds up.

Pure functions, no QEMU: tests/integration/test_bench_harness.py feeds them canned outputs.

  parse_linux_jobs(serial)     init.sh's @@BEGIN/@@END blocks -> {id: {'status', 'ns', 'output'}}
  parse_fio(output)            fio --output-format=json -> {'iops', 'mbps', 'lat_us'} (the busy direction)
  parse_cairn_bench(output)    `nvme bench` -> {'iops', 'mbps', 'lat_us'}, None when Cairn refused the command
  parse_dd_summary(output)     a GNU-style dd summary line (Cairn's dd, GNU dd in the Linux guest) ->
                               {'bytes', 'seconds', 'mbps'}, None if absent
  timed_rate(bytes, ns)        MB/s (10^6 bytes a second) of a job timed by init.sh
  spread(values)               {'median', 'min', 'max', 'n'} over the rounds that produced a figure
  summarize(rows, samples)     the table: per row the best Linux configuration, Cairn, and their ratio (and
                               the ratio against every other Linux configuration)
  markdown(table)              the table against the best configuration
  markdown_configurations(table)   every Linux configuration of the rows that have several, with its ratio

Figures: IOPS, MB/s (10^6 bytes/s, as GNU dd and fio's "MB/s") and mean latency in microseconds.
A figure that a side could not produce is None ("n/a" in the table), never an exception.
"""

import json
import re
import statistics

BEGIN_RE = re.compile(r"^@@BEGIN (\S+)$", re.M)
END_RE = re.compile(r"^@@END (\S+) (\d+) (\d+)$", re.M)

# `nvme bench`: "IOPS: N, bandwidth: X MB/s" and "latency (us): mean M, p50 ..."; cpus=N may add lines
# (one per CPU) before the totals, so the last rate line is the total.
CAIRN_RATE_RE = re.compile(r"^IOPS: (\d+), bandwidth: (\d+(?:\.\d+)?) MB/s\s*$", re.M)
CAIRN_LATENCY_RE = re.compile(r"^latency \(us\): mean (\d+(?:\.\d+)?)", re.M)
CAIRN_ERRORS_RE = re.compile(r": (\d+) I/Os in \d+\.\d+ s, (\d+) errors")
# dd, as GNU prints it: "67108864 bytes (67 MB, 64 MiB) copied, 0.125 s, 537 MB/s".
DD_RE = re.compile(r"^(\d+) bytes? (?:\([^)]*\) )?copied, (\d+(?:\.\d+)?) s(?:econds)?, ", re.M)

UNITS = {"iops": "IOPS", "mbps": "MB/s", "lat_us": "us", "ratio": "x"}


def parse_linux_jobs(serial):
    """{id: {'status': exit status, 'ns': duration, 'output': text}} of every finished job in the transcript."""
    jobs = {}
    for begin in BEGIN_RE.finditer(serial):
        job = begin.group(1)
        end = END_RE.search(serial, begin.end())
        if not end or end.group(1) != job:
            continue  # cut off (a timeout of the whole boot): no figure
        jobs[job] = {"status": int(end.group(2)), "ns": int(end.group(3)),
                     "output": serial[begin.end():end.start()].strip("\n")}
    return jobs


def parse_fio(output):
    """fio's JSON report -> the figures of the direction that moved data (reads or writes); None if unreadable."""
    start = output.find("{")
    end = output.rfind("}")
    if start < 0 or end < start:
        return None
    try:
        report = json.loads(output[start:end + 1])
        job = report["jobs"][0]
    except (ValueError, KeyError, IndexError):
        return None
    if job.get("error"):
        return None
    side = max((job[direction] for direction in ("read", "write")), key=lambda figures: figures.get("io_bytes", 0))
    if not side.get("io_bytes"):
        return None
    return {"iops": side["iops"], "mbps": side["bw_bytes"] / 1e6, "lat_us": side["lat_ns"]["mean"] / 1000.0}


def parse_cairn_bench(output):
    """`nvme bench` output -> figures, or None when there are none (an unknown argument such as cpus=N on a
    Cairn without it, a missing disk) or when I/Os failed."""
    rates = CAIRN_RATE_RE.findall(output)
    if not rates:
        return None
    errors = CAIRN_ERRORS_RE.findall(output)
    if any(int(failed) for _, failed in errors):
        return None
    iops, mbps = rates[-1]
    latencies = CAIRN_LATENCY_RE.findall(output)
    return {"iops": float(iops), "mbps": float(mbps), "lat_us": float(latencies[-1]) if latencies else None}


def parse_dd_summary(output):
    """dd's GNU summary line (Cairn's dd, GNU dd: each times its own copy) -> {'bytes', 'seconds', 'mbps'};
    None without one (or a failed copy: any "dd: " message, which also matches "gnu-dd: ")."""
    matches = DD_RE.findall(output)
    if not matches or "dd: " in output:
        return None
    count, seconds = matches[-1]
    count, seconds = int(count), float(seconds)
    if count == 0 or seconds <= 0:
        return None
    return {"bytes": count, "seconds": seconds, "mbps": count / seconds / 1e6}


CAIRN_TIME_RE = re.compile(r"^real (\d+\.\d+) s$", re.M)


def parse_cairn_time(output):
    """Seconds from Cairn's `time` line ("real 0.123456 s"), None without one or after an error line
    ("cat: ...", the shell's own error)."""
    found = CAIRN_TIME_RE.findall(output)
    if not found or re.search(r"^\S+: ", output, re.M):
        return None
    seconds = float(found[-1])
    return seconds if seconds > 0 else None


def timed_rate(count, nanoseconds):
    """MB/s of `count` bytes moved in `nanoseconds` (None if the time is not positive)."""
    return count / (nanoseconds / 1e9) / 1e6 if nanoseconds > 0 else None


def spread(values):
    """Median and range of the figures that exist; None when no round produced one."""
    present = [value for value in values if value is not None]
    if not present:
        return None
    return {"median": statistics.median(present), "min": min(present), "max": max(present), "n": len(present)}


def _better(metric, a, b):
    """TRUE when figure a beats figure b (latency: lower wins; everything else: higher)."""
    return a < b if metric == "lat_us" else a > b


def summarize(rows, samples):
    """The table. rows: [{'id', 'title', 'metric', 'target'?}]; samples: {row id: {'linux': {config: [per
    round]}, 'cairn': [per round]}}. For each row: every Linux configuration's spread, the best one (by
    median), Cairn's spread, and the ratio Cairn/Linux: median and range of the per-round ratios (Cairn's
    round i against that configuration's round i; rounds where either side has no figure are left out), so
    the median always lies inside its range and a host load that moves both sides of a round cancels.
    'ratio' is against the best configuration; 'ratios' holds the same against each configuration."""
    table = []
    for row in rows:
        data = samples.get(row["id"], {})
        configs = {name: spread(values) for name, values in data.get("linux", {}).items()}
        best_name = None
        for name, figures in configs.items():
            if figures and (best_name is None or _better(row["metric"], figures["median"],
                                                            configs[best_name]["median"])):
                best_name = name
        cairn = spread(data.get("cairn", []))
        entry = {"id": row["id"], "title": row["title"], "metric": row["metric"], "linux": configs,
                 "linux_best": best_name, "cairn": cairn, "ratio": None, "ratios": {}, "target": row.get("target")}
        for name, linux_rounds in data.get("linux", {}).items():
            if configs[name] and cairn:
                entry["ratios"][name] = spread([c / l for c, l in zip(data.get("cairn", []), linux_rounds)
                                                if c is not None and l])
        entry["ratio"] = entry["ratios"].get(best_name)
        table.append(entry)
    return table


def _figure(value, metric):
    if value is None:
        return "n/a"
    if metric == "ratio":
        return "%.2f" % value
    if metric == "lat_us":
        return "%.0f" % value if value >= 100 else "%.1f" % value
    return "%.0f" % value if value >= 100 else "%.1f" % value


def describe(figures, metric):
    """'median [min-max]' or 'n/a'."""
    if not figures:
        return "n/a"
    text = "%s %s" % (_figure(figures["median"], metric), UNITS[metric])
    if figures.get("min") is not None and figures["min"] != figures["max"]:
        text += " [%s-%s]" % (_figure(figures["min"], metric), _figure(figures["max"], metric))
    return text


def markdown(table):
    """The table as Markdown: workload | Linux (best configuration) | Cairn | Cairn/Linux."""
    lines = ["| workload | Linux, best configuration | Cairn | Cairn/Linux |", "|---|---|---|---|"]
    for entry in table:
        best = entry["linux_best"]
        linux = describe(entry["linux"].get(best), entry["metric"]) + (" (%s)" % best if best else "")
        lines.append("| %s | %s | %s | %s |" % (entry["title"], linux, describe(entry["cairn"], entry["metric"]),
                                                 describe(entry["ratio"], "ratio")))
    return "\n".join(lines)


def markdown_configurations(table):
    """Every Linux configuration of the rows that ran several (fio's libaio and io_uring; busybox dd, the
    default, and the dd configurations beside it), each with Cairn's ratio against it: the best one's is the
    table's, the rest say how much of a ratio comes from how Linux was run."""
    lines = ["| workload | Linux configuration | Linux | Cairn/Linux |", "|---|---|---|---|"]
    for entry in table:
        if len(entry["linux"]) < 2:
            continue
        for name, figures in entry["linux"].items():
            best = " (best)" if name == entry["linux_best"] else ""
            lines.append("| %s | %s%s | %s | %s |" % (entry["title"], name, best, describe(figures, entry["metric"]),
                                                     describe(entry["ratios"].get(name), "ratio")))
    return "\n".join(lines)
