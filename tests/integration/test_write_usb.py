"""test_write_usb.py - `make usb`'s writer (tools/write-usb.py) against a fake sysfs: it refuses partitions,
fixed disks, mounted disks, unknown devices, sticks too small and an answer other than "yes", and writes and
verifies only a removable, unmounted whole disk. The "devices" are plain files in a temporary folder: no test
touches a real device.
"""

import importlib.util
import io
import os

import pytest

from conftest import REPOSITORY

spec = importlib.util.spec_from_file_location("write_usb", os.path.join(REPOSITORY, "tools", "write-usb.py"))
write_usb = importlib.util.module_from_spec(spec)
spec.loader.exec_module(write_usb)

IMAGE_BYTES = 3 * 1024 * 1024 + 123


def add_disk(sysfs, name, removable="1", sectors=65536, model="Cruzer Blade", partitions=()):
    disk = sysfs / "block" / name
    (disk / "device").mkdir(parents=True)
    (disk / "removable").write_text(removable + "\n")
    (disk / "size").write_text("%d\n" % sectors)
    (disk / "device" / "vendor").write_text("SanDisk \n")
    (disk / "device" / "model").write_text(model + "\n")
    (sysfs / "class" / "block" / name).mkdir(parents=True)
    for partition in partitions:
        (disk / partition).mkdir()
        (sysfs / "class" / "block" / partition).mkdir(parents=True)
        (sysfs / "class" / "block" / partition / "partition").write_text("1\n")


@pytest.fixture
def world(tmp_path):
    sysfs = tmp_path / "sys"
    add_disk(sysfs, "sdb", partitions=("sdb1",))
    add_disk(sysfs, "sda", removable="0", sectors=2 ** 30, model="Samsung SSD 980")
    add_disk(sysfs, "sdc", sectors=100)
    add_disk(sysfs, "sdd", partitions=("sdd1", "sdd2"))
    mounts = tmp_path / "mounts"
    mounts.write_text("proc /proc proc rw 0 0\n/dev/sdd2 /media/stick vfat rw 0 0\n")
    image = tmp_path / "cairn.iso"
    image.write_bytes(os.urandom(IMAGE_BYTES))
    devices = tmp_path / "dev"
    devices.mkdir()
    for name in ("sda", "sdb", "sdb1", "sdc", "sdd", "sde"):
        (devices / name).write_bytes(b"\0" * 16)
    return tmp_path, sysfs, mounts, image, devices


def run(world, device, answer="yes\n"):
    tmp_path, sysfs, mounts, image, devices = world
    arguments = ["--image", str(image), "--sysfs", str(sysfs), "--mounts", str(mounts)]
    if device is not None:
        arguments.append(str(devices / device))
    return write_usb.main(arguments, stdin=io.StringIO(answer))


@pytest.mark.parametrize("device, reason", [
    ("sdb1", "is a partition"),
    ("sda", "is not a removable disk"),
    ("sdd", "is mounted on /media/stick"),
    ("sdc", "the image needs"),
    ("sde", "is not a block device"),
    (None, "no device"),
])
def test_refusals(world, capsys, device, reason):
    before = {name: (world[4] / name).read_bytes() for name in os.listdir(world[4])}
    assert run(world, device) == 1
    assert reason in capsys.readouterr().err
    assert {name: (world[4] / name).read_bytes() for name in os.listdir(world[4])} == before


def test_not_confirmed(world, capsys):
    assert run(world, "sdb", answer="y\n") == 1
    output = capsys.readouterr()
    assert "SanDisk Cruzer Blade, 32.0 MiB, removable, not mounted" in output.out
    assert "not confirmed" in output.err
    assert (world[4] / "sdb").read_bytes() == b"\0" * 16


def test_writes_and_verifies(world, capsys):
    assert run(world, "sdb") == 0
    assert (world[4] / "sdb").read_bytes() == world[3].read_bytes()
    assert "written and verified" in capsys.readouterr().out


def test_verification_catches_a_short_write(world, monkeypatch, capsys):
    real_digest = write_usb.digest_of
    monkeypatch.setattr(write_usb, "digest_of",
                        lambda path, length: real_digest(path, length - 1 if "dev" in str(path) else length))
    assert run(world, "sdb") == 1
    assert "verification failed" in capsys.readouterr().err
