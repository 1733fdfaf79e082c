#!/usr/bin/python3
"""pattern.py - Cairn's deterministic disk test pattern on the host (the same bytes as `disk fill`).

Definition (kernel/source/utils/Pattern.c, documentation/Disk-Commands.md): the byte at absolute disk offset B
is byte B % 8 (little-endian) of word(seed, B // 8), where word(seed, i) is output number i (from 0) of a
splitmix64 generator seeded with seed:

    word(seed, i) = mix((seed + (i + 1) * 0x9E3779B97F4A7C15) mod 2**64)
    mix(z): z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27; z *= 0x94D049BB133111EB; z ^= z >> 31
            (all modulo 2**64)

As a library: word(), pattern_bytes(), first_mismatch(), fill_image(), check_image().
As a command:
    pattern.py word SEED INDEX                         print word(SEED, INDEX) in hex
    pattern.py bytes SEED OFFSET LENGTH [-o FILE]      the pattern of disk bytes [OFFSET, OFFSET+LENGTH)
    pattern.py fill IMAGE SEED LBA COUNT [--sector-size 512]    write it into a disk image (in place)
    pattern.py check IMAGE SEED LBA COUNT [--sector-size 512]   verify it; prints what `disk check` prints
Numbers accept 0x prefixes. `check` exits 0 on a match, 1 on a mismatch.
"""

import argparse
import struct
import sys

GAMMA = 0x9E3779B97F4A7C15
MASK = (1 << 64) - 1
MUL1 = 0xBF58476D1CE4E5B9
MUL2 = 0x94D049BB133111EB


def mix(z):
    z = ((z ^ (z >> 30)) * MUL1) & MASK
    z = ((z ^ (z >> 27)) * MUL2) & MASK
    return z ^ (z >> 31)


def word(seed, index):
    """The 8-byte word covering disk bytes [index * 8, index * 8 + 8)."""
    return mix((seed + (index + 1) * GAMMA) & MASK)


def _words(seed, first, count):
    state = (seed + (first + 1) * GAMMA) & MASK
    out = [0] * count
    for n in range(count):
        z = state
        z = ((z ^ (z >> 30)) * MUL1) & MASK
        z = ((z ^ (z >> 27)) * MUL2) & MASK
        out[n] = z ^ (z >> 31)
        state = (state + GAMMA) & MASK
    return out


def pattern_bytes(seed, offset, length):
    """The pattern of disk bytes [offset, offset + length) as bytes."""
    if length <= 0:
        return b""
    first = offset // 8
    last = (offset + length - 1) // 8
    count = last - first + 1
    data = struct.pack("<%dQ" % count, *_words(seed & MASK, first, count))
    start = offset - first * 8
    return data[start:start + length]


def first_mismatch(data, seed, offset):
    """Index in data of the first byte that differs from the pattern at disk offset `offset`, or None."""
    expected = pattern_bytes(seed, offset, len(data))
    if data == expected:
        return None
    # Narrow down in blocks first: comparing bytes one by one in Python is slow.
    block = 4096
    for start in range(0, len(data), block):
        if data[start:start + block] != expected[start:start + block]:
            for index in range(start, min(start + block, len(data))):
                if data[index] != expected[index]:
                    return index
    return None


def describe_mismatch(data, seed, offset, sector_size):
    """The line `disk check` prints for this data read from disk offset `offset`."""
    index = first_mismatch(data, seed, offset)
    if index is None:
        return "check: OK (%d bytes)" % len(data)
    position = offset + index
    return "check: mismatch at byte %d (LBA %d + %d): expected %02x, read %02x" % (
        position, position // sector_size, position % sector_size, pattern_bytes(seed, position, 1)[0],
        data[index])


def fill_image(path, seed, lba, count, sector_size=512):
    """Writes the pattern of sectors [lba, lba + count) into the image file, in place."""
    offset = lba * sector_size
    with open(path, "r+b") as image:
        image.seek(offset)
        chunk = 1 << 20
        done = 0
        total = count * sector_size
        while done < total:
            size = min(chunk, total - done)
            image.write(pattern_bytes(seed, offset + done, size))
            done += size


def read_image(path, lba, count, sector_size=512):
    with open(path, "rb") as image:
        image.seek(lba * sector_size)
        return image.read(count * sector_size)


def check_image(path, seed, lba, count, sector_size=512):
    """Returns the `disk check` style line for sectors [lba, lba + count) of the image file."""
    data = read_image(path, lba, count, sector_size)
    if len(data) != count * sector_size:
        return "check: image ends at byte %d" % (lba * sector_size + len(data))
    return describe_mismatch(data, seed, lba * sector_size, sector_size)


def _number(text):
    return int(text, 0)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Cairn's deterministic disk test pattern")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("word")
    p.add_argument("seed", type=_number)
    p.add_argument("index", type=_number)
    p = commands.add_parser("bytes")
    p.add_argument("seed", type=_number)
    p.add_argument("offset", type=_number)
    p.add_argument("length", type=_number)
    p.add_argument("-o", "--output")
    for name in ("fill", "check"):
        p = commands.add_parser(name)
        p.add_argument("image")
        p.add_argument("seed", type=_number)
        p.add_argument("lba", type=_number)
        p.add_argument("count", type=_number)
        p.add_argument("--sector-size", type=_number, default=512)
    args = parser.parse_args(argv)

    if args.command == "word":
        print("%016x" % word(args.seed & MASK, args.index))
        return 0
    if args.command == "bytes":
        data = pattern_bytes(args.seed, args.offset, args.length)
        if args.output:
            with open(args.output, "wb") as out:
                out.write(data)
        else:
            sys.stdout.buffer.write(data)
        return 0
    if args.command == "fill":
        fill_image(args.image, args.seed, args.lba, args.count, args.sector_size)
        return 0
    line = check_image(args.image, args.seed, args.lba, args.count, args.sector_size)
    print(line)
    return 0 if line.startswith("check: OK") else 1


if __name__ == "__main__":
    sys.exit(main())
