#!/usr/bin/python3
"""plot.py - draws build/bench-linux/results.json (tools/bench/bench_linux.py) as a PNG.

  plot.py [results.json] [out.png]

One horizontal bar per workload: Cairn's median over Linux's best configuration's median (1.0 = parity;
right of it Cairn is ahead, for latency too: that bar is Linux's latency over Cairn's), with the range of
the per-round ratios as an error bar and the issue's target, where it names one, as a tick; where Linux ran
in a default configuration besides its best (DEFAULT_CONFIG: busybox dd beside GNU dd with iflag=direct), a
hollow circle marks the ratio against the default. Workloads one side could not run are listed with "n/a".
The axis ends at RANGE_CLIP times the largest median; a whisker beyond it is labelled with where it ends.
Uses matplotlib (Debian's python3-matplotlib) without a display.
"""

import json
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# The targets as "Cairn ahead by" factors on the plot's scale (latency inverted).
TARGETS = {"rand4k_qd1_lat": 1 / 0.6, "rand4k_qd1_poll_lat": 1 / 0.6, "rand4k_qd32": 1.5, "file_dd": 1.5,
           "raw_dd": 1.5}
# The configuration Linux's user-path rows ran in before the best one was added (tools/bench/bench_linux.py).
DEFAULT_CONFIG = "busybox dd"
RANGE_CLIP = 4


def advantage(entry):
    """(median, low, high) of how far Cairn is ahead (>1) or behind (<1); None when a side has no figure."""
    ratio = entry.get("ratio")
    if not ratio:
        return None
    values = (ratio["median"], ratio["min"] if ratio["min"] is not None else ratio["median"],
              ratio["max"] if ratio["max"] is not None else ratio["median"])
    if entry["metric"] == "lat_us":
        values = (1 / values[0], 1 / values[2], 1 / values[1])
    return values


def main():
    source = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPOSITORY, "build", "bench-linux", "results.json")
    target = sys.argv[2] if len(sys.argv) > 2 else os.path.splitext(source)[0] + ".png"
    with open(source, encoding="utf-8") as handle:
        report = json.load(handle)
    rows = [entry for entry in report["table"] if entry["id"] != "scaling"]
    labels, medians, lows, highs = [], [], [], []
    for entry in rows:
        figures = advantage(entry)
        title = entry["title"] + (" (Linux/Cairn)" if entry["metric"] == "lat_us" else "")
        labels.append(title if figures else title + ": n/a")
        median, low, high = figures if figures else (0, 0, 0)
        medians.append(median)
        lows.append(median - low)
        highs.append(high - median)

    figure, axes = plt.subplots(figsize=(9, 0.45 * len(rows) + 1.6))
    positions = list(range(len(rows)))[::-1]
    colours = ["#2a7ab9" if value >= 1 else "#c8553d" for value in medians]
    axes.barh(positions, medians, xerr=[lows, highs], color=colours, capsize=3, height=0.6)
    for position, entry in zip(positions, rows):
        if entry["id"] in TARGETS:
            axes.plot([TARGETS[entry["id"]]] * 2, [position - 0.4, position + 0.4], color="black", linewidth=2)
        default = (entry.get("ratios") or {}).get(DEFAULT_CONFIG)
        if default and entry["linux_best"] != DEFAULT_CONFIG:
            axes.plot([default["median"]], [position], marker="o", markerfacecolor="none", markeredgecolor="black",
                      linestyle="none", label="against %s (the default)" % DEFAULT_CONFIG)
    axes.axvline(1.0, color="grey", linestyle="--", linewidth=1)
    axes.set_yticks(positions)
    axes.set_yticklabels(labels, fontsize=8)
    axes.set_xscale("log")
    # A round where one side nearly stalled (Linux's 128 KiB read once made 0.02 MB/s) gives a ratio in the
    # thousands: the axis stops at RANGE_CLIP times the largest median and such a whisker says where it ends.
    right = max(medians + [TARGETS[entry["id"]] for entry in rows if entry["id"] in TARGETS] +
                [((entry.get("ratios") or {}).get(DEFAULT_CONFIG) or {}).get("median") or 0 for entry in rows])
    right *= RANGE_CLIP
    for position, median, high in zip(positions, medians, highs):
        if median + high > right:
            axes.annotate("to %.0fx" % (median + high), (right, position), xytext=(-2, 6), textcoords="offset points",
                          ha="right", fontsize=7)
    axes.set_xlim(right=right)
    axes.set_xlabel("Cairn ahead of Linux's best configuration (x, log scale)\n"
                    "bars: median of the rounds' ratios, whiskers: their range, black ticks: issue 14's targets",
                    fontsize=8)
    handles, names = axes.get_legend_handles_labels()
    if handles:
        axes.legend(handles[:1], names[:1], fontsize=7, loc="lower right")
    axes.set_title("Cairn against Linux %s, QEMU %s, %d rounds (%s)" % (
        (report.get("linux") or {}).get("kernel", "?"), (re.findall(r"version (\S+)", report.get("qemu", "")) or ["?"])[0],
        report["rounds"], report["date"]), fontsize=9)
    figure.tight_layout()
    figure.savefig(target, dpi=110)
    print("plot: %s" % target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
