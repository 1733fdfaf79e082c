"""test_bench_harness.py - `make bench-linux`'s reading and arithmetic, on canned outputs (no QEMU, no Linux).

The real bench is not part of `make test`; this checks that the figures it prints come from the right lines:
init.sh's job markers, fio's JSON, `nvme bench` (today's form and a cpus=N form with per-CPU lines), Cairn's
refusals (n/a, not a crash), GNU-style dd (Cairn's and GNU dd's in the Linux guest), the Linux dd
configurations each job stands for, and the median/range/ratio table with the better Linux configuration
picked per row (latency: the lower) and the ratio against every configuration.
"""

import json
import os
import sys

import pytest

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPOSITORY, "tools", "bench"))

import bench_linux  # noqa: E402
import bench_results as results  # noqa: E402


def fio_json(read_bytes, read_iops, read_lat_ns, write_bytes=0, error=0):
    side = lambda count, iops, lat: {"io_bytes": count, "bw_bytes": count // 3, "iops": iops,  # noqa: E731
                                     "lat_ns": {"mean": lat}}
    return json.dumps({"fio version": "fio-3.33", "jobs": [{
        "jobname": "bench", "error": error, "read": side(read_bytes, read_iops, read_lat_ns),
        "write": side(write_bytes, 1000.0 if write_bytes else 0, 500000.0 if write_bytes else 0)}]}, indent=2)


SERIAL = "\n".join([
    "[    1.2] nvme nvme0: 1/0/1 default/read/poll queues",
    "@@READY 6.1.0-57-cloud-amd64",
    "@@BEGIN rand4k_qd1.io_uring",
    fio_json(3 * 4096 * 3000, 3000.5, 310000.0),
    "@@END rand4k_qd1.io_uring 0 6094099192",
    "@@BEGIN file_dd",
    "64+0 records in",
    "64+0 records out",
    "@@END file_dd 0 500000000",
    "@@BEGIN raw_dd",
    "@@END raw_dd 124 63000000000",
    "@@BEGIN write128k_qd8.libaio",
    fio_json(0, 0, 0, write_bytes=3 * 131072 * 1000),
    "@@END write128k_qd8.libaio 0 4729334013",
    "@@BEGIN null_qd32_1cpu.libaio",   # cut off: the boot ran out of time here
    "  ...",
])


def test_linux_jobs_and_fio():
    jobs = results.parse_linux_jobs(SERIAL)
    assert sorted(jobs) == ["file_dd", "rand4k_qd1.io_uring", "raw_dd", "write128k_qd8.libaio"]
    assert jobs["file_dd"] == {"status": 0, "ns": 500000000, "output": "64+0 records in\n64+0 records out"}
    assert jobs["raw_dd"]["status"] == 124  # timeout's status: no figure is made from it
    read = results.parse_fio(jobs["rand4k_qd1.io_uring"]["output"])
    assert read == {"iops": 3000.5, "mbps": pytest.approx(3 * 4096 * 3000 // 3 / 1e6), "lat_us": 310.0}
    write = results.parse_fio(jobs["write128k_qd8.libaio"]["output"])
    assert write["iops"] == 1000.0 and write["lat_us"] == 500.0  # the direction that moved data
    assert results.parse_fio("fio: error while loading shared libraries") is None
    assert results.parse_fio(fio_json(4096, 1.0, 1.0, error=5)) is None
    assert results.timed_rate(64 << 20, 500000000) == pytest.approx(134.217728)
    assert results.timed_rate(1, 0) is None


BENCH_TODAY = """nvme2n1: randread, bs=4096, qd=32, 2 s (press a key to stop)
[   10.94] WARNING [InterruptDispatch] no handler claimed vector 55 (seen 1 times)

nvme2n1: randread, bs=4096, qd=32: 93850 I/Os in 2.001 s, 0 errors
IOPS: 46885, bandwidth: 192.04 MB/s
latency (us): mean 422.2, p50 270.3, p99 3473.4, max 16165.9
"""
# A cpus=N form: per-CPU lines first, the total last (what the harness takes).
BENCH_CPUS = """nvme2n1: randread, bs=4096, qd=32, cpus=2, 3 s (press a key to stop)
cpu 0: IOPS: 40000, bandwidth: 163.84 MB/s
cpu 1: IOPS: 39000, bandwidth: 159.74 MB/s
nvme2n1: randread, bs=4096, qd=32, cpus=2: 237000 I/Os in 3.000 s, 0 errors
IOPS: 79000, bandwidth: 323.58 MB/s
latency (us): mean 800.1, p50 700.0, p99 2000.0, max 9000.0
"""


def test_cairn_bench_and_dd():
    assert results.parse_cairn_bench(BENCH_TODAY) == {"iops": 46885.0, "mbps": 192.04, "lat_us": 422.2}
    assert results.parse_cairn_bench(BENCH_CPUS) == {"iops": 79000.0, "mbps": 323.58, "lat_us": 800.1}
    assert results.parse_cairn_bench("nvme: unknown bench argument 'cpus=2'\n") is None
    assert results.parse_cairn_bench(BENCH_TODAY.replace("0 errors", "3 errors")) is None
    assert results.parse_cairn_bench("") is None
    dd = results.parse_dd_summary("64+0 records in\n64+0 records out\n"
                                "67108864 bytes (67 MB, 64 MiB) copied, 0.307559 s, 218 MB/s\n")
    assert dd["bytes"] == 67108864 and dd["seconds"] == 0.307559
    assert dd["mbps"] == pytest.approx(218.2, abs=0.1)
    assert results.parse_dd_summary("512 bytes copied, 0.001 s, 512 kB/s\n")["bytes"] == 512
    assert results.parse_dd_summary("dd: error reading 'nvme0n1': I/O error\n0 bytes copied, 0.0 s, 0 B/s\n") is None
    assert results.parse_dd_summary("dd: unrecognized operand 'x'\n") is None
    assert results.parse_dd_summary("gnu-dd: error reading '/dev/nvme0n1': Input/output error\n"
                                    "1+0 records in\n1+0 records out\n"
                                    "1048576 bytes (1.0 MB, 1.0 MiB) copied, 0.01 s, 105 MB/s\n") is None


def test_linux_polled_row():
    # The polled qd1 row takes Linux's io_uring --hipri figure alone (Cairn's side is `nvme bench ... poll`).
    figures = bench_linux.linux_figures(results.parse_linux_jobs(SERIAL), 98 << 20)
    assert figures["rand4k_qd1_poll"] == {"io_uring polled": figures["rand4k_qd1"]["io_uring polled"]}
    assert figures["rand4k_qd1_poll"]["io_uring polled"]["lat_us"] == 310.0
    assert "rand4k_qd1_poll" not in bench_linux.linux_figures(results.parse_linux_jobs(DD_SERIAL), 98 << 20)
    assert [row["id"] for row in bench_linux.ROWS].count("rand4k_qd1_poll_lat") == 1


def test_cairn_time():
    assert results.parse_cairn_time("real 0.042500 s\n") == pytest.approx(0.0425)
    assert results.parse_cairn_time("real 12.000001 s\n") == pytest.approx(12.000001)
    assert results.parse_cairn_time("cat: /mnt/x: No such file or directory\nreal 0.000100 s\n") is None
    assert results.parse_cairn_time("real 0.000000 s\n") is None
    assert results.parse_cairn_time("") is None


ROWS = [{"id": "lat", "title": "qd1 latency", "metric": "lat_us"},
        {"id": "iops", "title": "qd32", "metric": "iops"},
        {"id": "cat", "title": "file cat", "metric": "mbps"}]
SAMPLES = {
    "lat": {"linux": {"libaio": [400.0, 500.0, 450.0], "io_uring polled": [300.0, None, 320.0]},
            "cairn": [150.0, 160.0, 140.0]},
    "iops": {"linux": {"libaio": [1000.0, 1100.0, 900.0], "io_uring polled": [2000.0, 1800.0, 2200.0]},
             "cairn": [3000.0, 3300.0, 2700.0]},
    "cat": {"linux": {"busybox cat": [100.0, 110.0, 90.0]}, "cairn": [None, None, None]},
}


def test_summary_table():
    table = {entry["id"]: entry for entry in results.summarize(ROWS, SAMPLES)}
    latency = table["lat"]
    assert latency["linux_best"] == "io_uring polled"           # the lower latency wins
    assert latency["linux"]["io_uring polled"] == {"median": 310.0, "min": 300.0, "max": 320.0, "n": 2}
    assert latency["cairn"]["median"] == 150.0
    # Round by round, only rounds with both figures (Linux's second is missing): 150/300 and 140/320.
    assert latency["ratio"] == {"median": pytest.approx((0.5 + 0.4375) / 2), "min": 0.4375, "max": 0.5, "n": 2}
    throughput = table["iops"]
    assert throughput["linux_best"] == "io_uring polled"        # the higher IOPS wins
    assert throughput["ratio"]["median"] == pytest.approx(1.5)  # of 1.5, 1.83 and 1.23
    assert table["cat"]["cairn"] is None and table["cat"]["ratio"] is None
    text = results.markdown(results.summarize(ROWS, SAMPLES))
    assert "| qd1 latency | 310 us [300-320] (io_uring polled) | 150 us [140-160] | 0.47 x [0.44-0.50] |" in text
    assert "| file cat | 100 MB/s [90.0-110] (busybox cat) | n/a | n/a |" in text
    # Against every configuration too: libaio's rounds give 3.0, 3.0 and 3.0.
    assert throughput["ratios"]["libaio"]["median"] == pytest.approx(3.0)
    assert throughput["ratios"]["io_uring polled"] == throughput["ratio"]
    listing = results.markdown_configurations(results.summarize(ROWS, SAMPLES))
    assert "| qd32 | libaio | 1000 IOPS [900-1100] | 3.00 x |" in listing
    assert "| qd32 | io_uring polled (best) | 2000 IOPS [1800-2200] | 1.50 x [1.23-1.83] |" in listing
    assert "file cat" not in listing  # one configuration: nothing beside the main table
    assert results.spread([None, None]) is None


# One 1-CPU Linux boot's dd jobs as init.sh prints them (GNU dd from coreutils 9.1 prints its own rate).
GNU_DD_FILE = "64+0 records in\n64+0 records out\n67108864 bytes (67 MB, 64 MiB) copied, 0.0764634 s, 878 MB/s"
DD_SERIAL = "\n".join([
    "@@BEGIN start", "0+0 records in", "0+0 records out", "@@END start 0 34000000",
    "@@BEGIN file_dd", "64+0 records in", "64+0 records out", "@@END file_dd 0 266500000",
    "@@BEGIN file_dd.busybox_direct", "64+0 records in", "64+0 records out", "@@END file_dd.busybox_direct 0 105900000",
    "@@BEGIN file_dd.gnu", GNU_DD_FILE.replace("0.0764634 s, 878", "0.198036 s, 339"), "@@END file_dd.gnu 0 291000000",
    "@@BEGIN file_dd.gnu_direct", GNU_DD_FILE, "@@END file_dd.gnu_direct 0 171000000",
    "@@BEGIN file_cat", "@@END file_cat 0 315200000",
    "@@BEGIN raw_dd", "@@END raw_dd 0 685600000",
    "@@BEGIN raw_dd.gnu_direct",                        # a short copy: no figure
    "gnu-dd: error reading '/dev/nvme0n1': Input/output error",
    "1048576 bytes (1.0 MB, 1.0 MiB) copied, 0.01 s, 105 MB/s", "@@END raw_dd.gnu_direct 1 20000000",
    "@@BEGIN raw_dd.gnu", "51380224 bytes (51 MB, 49 MiB) copied, 0.3 s, 171 MB/s", "@@END raw_dd.gnu 0 400000000",
])


def test_linux_dd_configurations():
    plan = bench_linux.linux_plan(1, 3)
    for suffix, (_, command, _) in bench_linux.DD_CONFIGS.items():
        job = "file_dd" + ("." + suffix if suffix else "")
        assert "job %s 63 %s if=/mnt/data/big.bin of=/dev/null bs=1M" % (job, command) in plan
    assert plan.count("echo 3 > /proc/sys/vm/drop_caches") == 2 * len(bench_linux.DD_CONFIGS) + 1  # each cold
    assert "job raw_dd.gnu_direct 63 gnu-dd iflag=direct if=$(disk CAIRNDATA) of=/dev/null bs=1M" in plan
    figures = bench_linux.linux_figures(results.parse_linux_jobs(DD_SERIAL), 98 << 20)
    assert figures["file_dd"]["busybox dd"]["mbps"] == pytest.approx(67108864 / 0.2665 / 1e6)  # init.sh's clock
    assert figures["file_dd"]["busybox dd iflag=direct"]["mbps"] == pytest.approx(67108864 / 0.1059 / 1e6)
    assert figures["file_dd"]["GNU dd"]["mbps"] == pytest.approx(67108864 / 0.198036 / 1e6)  # dd's own clock
    assert figures["file_dd"]["GNU dd iflag=direct"]["mbps"] == pytest.approx(67108864 / 0.0764634 / 1e6)
    assert figures["file_cat"] == {"busybox cat": {"mbps": pytest.approx(67108864 / 0.3152 / 1e6)}}
    assert figures["raw_dd"]["busybox dd"]["mbps"] == pytest.approx((98 << 20) / 0.6856 / 1e6)
    assert figures["raw_dd"]["GNU dd iflag=direct"] is None  # failed
    assert figures["raw_dd"]["GNU dd"] is None                # copied less than the disk
    assert "start" not in figures
