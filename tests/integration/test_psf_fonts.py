"""test_psf_fonts.py - the build's font converter (tools/psf.py, tools/psf2c.py) on small PSF1 and PSF2 fonts
made here (Unicode tables, sequences, gzip, damaged headers), and on the real console-setup-linux fonts the
kernel is built with: byte b of the generated table is the glyph the font lists for code page 437's b.
"""

import gzip
import os
import re
import struct
import subprocess
import sys

import pytest

from conftest import REPOSITORY

sys.path.insert(0, os.path.join(REPOSITORY, "tools"))

import psf  # noqa: E402

PSF2C = os.path.join(REPOSITORY, "tools", "psf2c.py")
REAL_FONTS = {"FontVGA16": "/usr/share/consolefonts/Uni2-VGA16.psf.gz",
              "FontTerminus16x32": "/usr/share/consolefonts/Uni2-Terminus32x16.psf.gz"}


def glyph(seed, height, row_bytes):
    return bytes((seed * 7 + i * 13) & 0xFF for i in range(height * row_bytes))


def make_psf1(count=256, height=16):
    """A PSF1 font whose glyph i maps to U+(0x100 + i), with glyph 65 also 'A' and glyph 3 also U+FFFD."""
    bitmaps = b"".join(glyph(i, height, 1) for i in range(count))
    table = b""
    for i in range(count):
        values = [0x100 + i] + ([ord("A")] if i == 65 else []) + ([0xFFFD] if i == 3 else [])
        if i == 66:
            values += [0xFFFE, ord("B"), 0x301]  # a sequence: B + combining acute is not plain 'B'
        table += b"".join(struct.pack("<H", value) for value in values) + b"\xff\xff"
    mode = 0x02 | (0x01 if count == 512 else 0)
    return b"\x36\x04" + bytes([mode, height]) + bitmaps + table


def make_psf2(width=12, height=20, count=128):
    row_bytes = (width + 7) // 8
    bitmaps = b"".join(glyph(i, height, row_bytes) for i in range(count))
    header = struct.pack("<4s7I", b"\x72\xb5\x4a\x86", 0, 32, 1, count, height * row_bytes, height, width)
    table = b""
    for i in range(count):
        entry = chr(0x400 + i).encode("utf-8")
        if i == 33:
            entry += "!\u2502".encode("utf-8")  # '!' and a box line share glyph 33
        table += entry + b"\xff"
    return header + bitmaps + table


def test_psf1_unicode_table():
    font = psf.parse(gzip.compress(make_psf1()))
    assert (font.version, font.width, font.height, len(font.glyphs)) == (1, 8, 16, 256)
    assert font.unicode[0x141] == 0x41 and font.unicode[ord("A")] == 65
    assert ord("B") not in font.unicode  # only in a sequence
    table = psf.cp437_glyphs(font)
    assert table[ord("A")] == 65
    assert table[ord("B")] == 3  # missing: the U+FFFD glyph
    assert font.glyphs[65] == glyph(65, 16, 1)


def test_psf2_unicode_table_and_padding():
    font = psf.parse(make_psf2())
    assert (font.version, font.width, font.height, font.bytes_per_row) == (2, 12, 20, 2)
    assert font.unicode[ord("!")] == 33 and font.unicode[0x2502] == 33
    assert psf.cp437_glyphs(font)[0xB3] == 33  # code page 437's vertical line is U+2502
    # No U+FFFD and no '?': the replacement is glyph 0.
    assert psf.cp437_glyphs(font)[ord("Z")] == 0


@pytest.mark.parametrize("data, message", [
    (b"\x00\x01\x02\x03", "not a PSF font"),
    (b"\x36\x04\x02", "PSF1 header cut short"),
    (make_psf1()[:1000], "PSF1 bitmaps cut short"),
    (make_psf2()[:20], "PSF2 header cut short"),
    (make_psf2()[:500], "PSF2 bitmaps cut short"),
    (make_psf2()[:24] + struct.pack("<I", 99) + make_psf2()[28:], "does not match"),
])
def test_damaged_fonts(data, message):
    with pytest.raises(psf.PSFError, match=message):
        psf.parse(data)


def generated_tables(path):
    text = open(path, encoding="ascii").read()
    tables = {}
    for symbol, body in re.findall(r"static const U8 (\w+)Glyphs\[\d+\] = \{(.*?)\};", text, re.S):
        tables[symbol] = bytes(int(value, 16) for value in re.findall(r"0x([0-9a-f]{2})", body))
    fonts = {symbol: (int(w), int(h), int(b)) for symbol, w, h, b in
             re.findall(r'const FONT (\w+) = \{"[^"]+", (\d+), (\d+), (\d+), \w+\};', text)}
    return tables, fonts


def test_converter_output(tmp_path):
    source = tmp_path / "small.psf"
    source.write_bytes(make_psf1())
    output = tmp_path / "Fonts.c"
    subprocess.run([sys.executable, PSF2C, str(output), "FontSmall=%s" % source], check=True)
    tables, fonts = generated_tables(output)
    assert fonts == {"FontSmall": (8, 16, 1)}
    table = tables["FontSmall"]
    assert len(table) == 256 * 16
    assert table[65 * 16:66 * 16] == glyph(65, 16, 1)   # 'A' -> glyph 65
    assert table[66 * 16:67 * 16] == glyph(3, 16, 1)    # 'B' -> the replacement glyph


def test_converter_refuses_a_missing_font(tmp_path):
    result = subprocess.run([sys.executable, PSF2C, str(tmp_path / "x.c"), "FontX=%s" % (tmp_path / "none.psf")],
                            stderr=subprocess.PIPE, universal_newlines=True)
    assert result.returncode == 1 and "console-setup-linux" in result.stderr
    assert not (tmp_path / "x.c").exists()


@pytest.mark.skipif(not all(os.path.exists(path) for path in REAL_FONTS.values()),
                    reason="console-setup-linux is not installed (tools/install-deps.sh)")
def test_real_fonts(tmp_path):
    output = tmp_path / "Fonts.c"
    subprocess.run([sys.executable, PSF2C, str(output)] + ["%s=%s" % item for item in REAL_FONTS.items()], check=True)
    tables, fonts = generated_tables(output)
    assert fonts == {"FontVGA16": (8, 16, 1), "FontTerminus16x32": (16, 32, 2)}
    for symbol, (width, height, row_bytes) in fonts.items():
        size = height * row_bytes
        table = tables[symbol]
        assert table[0x20 * size:0x21 * size] == bytes(size)                  # space is blank
        assert table[0xDB * size:0xDC * size] == b"\xff" * size               # U+2588 full block
        assert any(table[0x41 * size:0x42 * size])                            # 'A' has ink
        assert table[0xC4 * size:0xC5 * size] != table[0xB3 * size:0xB4 * size]  # box lines differ
