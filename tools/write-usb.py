#!/usr/bin/python3
"""write-usb.py - writes Cairn's image to a USB stick, refusing anything that is not one (`make usb`).

  write-usb.py --image build/cairn.iso /dev/sdX

Refuses, before writing a byte, a device that:
  * is not a block device named in sysfs (/sys/class/block/NAME), or is a partition (sdb1: use sdb);
  * is not removable (/sys/block/NAME/removable is not 1): internal disks are never written;
  * is mounted, whole or any partition (/proc/mounts);
  * is smaller than the image.
Then it shows the model and size, asks for "yes", writes the image, flushes, reads it back and compares.

--sysfs, --mounts and --dev let the tests point it at a fake tree (tests/integration/test_write_usb.py):
the device path is then taken as a file and NAME is its base name. No test touches a real device.
"""

import argparse
import hashlib
import os
import sys

CHUNK = 4 * 1024 * 1024
SECTOR = 512


class Refused(Exception):
    """The device must not be written; the message says why."""


def read_text(path, default=""):
    try:
        with open(path, encoding="utf-8", errors="replace") as source:
            return source.read().strip()
    except OSError:
        return default


def human(size):
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return ("%d %s" % (size, unit)) if unit == "bytes" else ("%.1f %s" % (size, unit))
        size /= 1024.0
    return str(size)


def check_device(device, image_size, sysfs="/sys", mounts="/proc/mounts"):
    """Returns (name, model, size in bytes) of a device that may be written, or raises Refused."""
    name = os.path.basename(os.path.realpath(device)) if device.startswith("/dev/") else os.path.basename(device)
    if not name or not os.path.isdir(os.path.join(sysfs, "class", "block", name)):
        raise Refused("%s is not a block device known to the kernel (no %s/class/block/%s)" % (device, sysfs, name))
    if os.path.exists(os.path.join(sysfs, "class", "block", name, "partition")):
        raise Refused("%s is a partition: give the whole stick (e.g. /dev/sdb, not /dev/sdb1)" % device)
    disk = os.path.join(sysfs, "block", name)
    if not os.path.isdir(disk):
        raise Refused("%s is not a whole disk (no %s)" % (device, disk))
    if read_text(os.path.join(disk, "removable")) != "1":
        raise Refused("%s is not a removable disk (%s/removable is not 1): refusing to overwrite a fixed disk"
                      % (device, disk))
    partitions = {entry for entry in os.listdir(disk) if entry.startswith(name)}
    for line in read_text(mounts).splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0].startswith("/dev/"):
            mounted = os.path.basename(fields[0])
            if mounted == name or mounted in partitions:
                raise Refused("%s is mounted on %s: unmount it first" % (fields[0], fields[1]))
    try:
        size = int(read_text(os.path.join(disk, "size"), "0")) * SECTOR
    except ValueError:
        size = 0
    if size < image_size:
        raise Refused("%s holds %s, the image needs %s" % (device, human(size), human(image_size)))
    vendor = read_text(os.path.join(disk, "device", "vendor"))
    model = " ".join(part for part in (vendor, read_text(os.path.join(disk, "device", "model"))) if part)
    return name, model or "unknown model", size


def digest_of(path, length):
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        remaining = length
        while remaining > 0:
            block = source.read(min(CHUNK, remaining))
            if not block:
                break
            digest.update(block)
            remaining -= len(block)
    return digest.hexdigest(), length - remaining


def write_image(image, device):
    size = os.path.getsize(image)
    with open(image, "rb") as source, open(device, "r+b" if os.path.exists(device) else "wb") as target:
        written = 0
        while True:
            block = source.read(CHUNK)
            if not block:
                break
            target.write(block)
            written += len(block)
            print("\rwritten %s of %s" % (human(written), human(size)), end="", flush=True)
        target.flush()
        os.fsync(target.fileno())
    print()
    # Read back what is on the device (past the page cache where the kernel allows it) and compare.
    try:
        with open(device, "rb") as handle:
            os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    except (OSError, AttributeError):
        pass
    expected, _ = digest_of(image, size)
    found, read = digest_of(device, size)
    if read != size or found != expected:
        raise Refused("verification failed: read back %d of %d bytes, SHA-256 %s, expected %s"
                      % (read, size, found, expected))
    return expected


def main(arguments=None, stdin=sys.stdin):
    parser = argparse.ArgumentParser(description="Write Cairn's image to a removable USB stick.")
    parser.add_argument("device", nargs="?", help="the whole stick, e.g. /dev/sdb")
    parser.add_argument("--image", default="build/cairn.iso")
    parser.add_argument("--sysfs", default="/sys", help=argparse.SUPPRESS)
    parser.add_argument("--mounts", default="/proc/mounts", help=argparse.SUPPRESS)
    options = parser.parse_args(arguments)
    try:
        if not options.device:
            raise Refused("no device: make usb DEVICE=/dev/sdX (lsblk -d -o NAME,RM,SIZE,MODEL lists the sticks)")
        if not os.path.isfile(options.image):
            raise Refused("%s does not exist (make image)" % options.image)
        image_size = os.path.getsize(options.image)
        name, model, size = check_device(options.device, image_size, options.sysfs, options.mounts)
        print("%s: %s, %s, removable, not mounted" % (options.device, model, human(size)))
        print("Everything on %s will be replaced by %s (%s)." % (options.device, options.image, human(image_size)))
        print("Type yes to go on: ", end="", flush=True)
        answer = stdin.readline().strip()
        if answer != "yes":
            raise Refused("not confirmed (%r): nothing written" % answer)
        digest = write_image(options.image, options.device)
        print("%s written and verified (SHA-256 %s). Boot it with Secure Boot off (documentation/Bare-Metal.md)."
              % (options.device, digest[:16]))
        return 0
    except Refused as refusal:
        print("usb: %s" % refusal, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
