"""psf.py - reads PC Screen Fonts (PSF1 and PSF2, plain or gzip'd) and maps code page 437 onto their glyphs.

Used at build time by psf2c.py (the kernel's font tables) and by the screen tests' glyph matcher
(tests/integration/screen_reader.py), so both see the same glyphs.

Formats (kbd's font-formats documentation):
  PSF1: magic 36 04, u8 mode (0x01: 512 glyphs, 0x02/0x04: Unicode table), u8 height; width 8; bitmaps at 4;
        Unicode table of u16 little-endian values per glyph, 0xFFFE starts a sequence, 0xFFFF ends the entry.
  PSF2: magic 72 B5 4A 86, u32 version, headersize, flags (bit 0: Unicode table), length, charsize, height,
        width; rows padded to whole bytes, leftmost pixel in the top bit; Unicode table in UTF-8, 0xFE starts a
        sequence, 0xFF ends the entry.
Glyph index is not a code point: characters are found through the Unicode table (sequences are skipped).
"""

import gzip
import struct

PSF1_MAGIC = b"\x36\x04"
PSF2_MAGIC = b"\x72\xb5\x4a\x86"
PSF1_MODE512 = 0x01
PSF1_MODEHASTAB = 0x02
PSF1_MODESEQ = 0x04
PSF2_HAS_UNICODE_TABLE = 0x01
REPLACEMENT = 0xFFFD


class PSFError(ValueError):
    """The data is not a PSF font, or is cut short."""


class Font:
    """width, height, bytes_per_row; glyphs: list of bytes (height * bytes_per_row each);
    unicode: {code point: glyph index} (first glyph listed wins)."""

    def __init__(self, width, height, glyphs, unicode, version):
        self.width = width
        self.height = height
        self.bytes_per_row = (width + 7) // 8
        self.glyphs = glyphs
        self.unicode = unicode
        self.version = version

    def glyph_for(self, code_point):
        """The glyph index for a code point: itself if the font has no table, else U+FFFD, '?' or 0."""
        if not self.unicode:
            return code_point if code_point < len(self.glyphs) else 0
        for candidate in (code_point, REPLACEMENT, ord("?")):
            if candidate in self.unicode:
                return self.unicode[candidate]
        return 0

    def pixel(self, glyph, x, y):
        """1 when pixel (x, y) of glyph is set."""
        row = self.glyphs[glyph][y * self.bytes_per_row:(y + 1) * self.bytes_per_row]
        return (row[x // 8] >> (7 - x % 8)) & 1


def _add(unicode, code_point, glyph):
    unicode.setdefault(code_point, glyph)


def _parse_psf1(data):
    if len(data) < 4:
        raise PSFError("PSF1 header cut short")
    mode, height = data[2], data[3]
    count = 512 if mode & PSF1_MODE512 else 256
    if height == 0:
        raise PSFError("PSF1 glyph height is 0")
    end = 4 + count * height
    if len(data) < end:
        raise PSFError("PSF1 bitmaps cut short (%d of %d bytes)" % (len(data), end))
    glyphs = [bytes(data[4 + i * height:4 + (i + 1) * height]) for i in range(count)]
    unicode = {}
    if mode & (PSF1_MODEHASTAB | PSF1_MODESEQ):
        offset, glyph, in_sequence = end, 0, False
        while offset + 2 <= len(data) and glyph < count:
            value = struct.unpack_from("<H", data, offset)[0]
            offset += 2
            if value == 0xFFFF:
                glyph, in_sequence = glyph + 1, False
            elif value == 0xFFFE:
                in_sequence = True
            elif not in_sequence:
                _add(unicode, value, glyph)
    return Font(8, height, glyphs, unicode, 1)


def _parse_psf2(data):
    if len(data) < 32:
        raise PSFError("PSF2 header cut short")
    _, version, header_size, flags, count, char_size, height, width = struct.unpack_from("<4s7I", data, 0)
    if width == 0 or height == 0 or count == 0 or count > 65536:
        raise PSFError("PSF2 header has width %d, height %d, %d glyphs" % (width, height, count))
    if char_size != height * ((width + 7) // 8):
        raise PSFError("PSF2 charsize %d does not match %dx%d" % (char_size, width, height))
    end = header_size + count * char_size
    if header_size < 32 or len(data) < end:
        raise PSFError("PSF2 bitmaps cut short (%d of %d bytes)" % (len(data), end))
    glyphs = [bytes(data[header_size + i * char_size:header_size + (i + 1) * char_size]) for i in range(count)]
    unicode = {}
    if flags & PSF2_HAS_UNICODE_TABLE:
        glyph, offset = 0, end
        while offset < len(data) and glyph < count:
            stop = data.find(b"\xff", offset)
            if stop < 0:
                stop = len(data)
            entry = data[offset:stop]
            single = entry.split(b"\xfe", 1)[0]  # what follows 0xFE are sequences
            for char in single.decode("utf-8", "replace"):
                if char != "\ufffd" or b"\xef\xbf\xbd" in single:
                    _add(unicode, ord(char), glyph)
            glyph, offset = glyph + 1, stop + 1
    return Font(width, height, glyphs, unicode, 2)


def parse(data):
    """A Font from the bytes of a PSF1 or PSF2 file (gzip'd or not)."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if data[:2] == PSF1_MAGIC:
        return _parse_psf1(data)
    if data[:4] == PSF2_MAGIC:
        return _parse_psf2(data)
    raise PSFError("not a PSF font (magic %s)" % data[:4].hex())


def load(path):
    with open(path, "rb") as source:
        return parse(source.read())


# Code page 437's pictures for the bytes below 0x20 and 0x7F (Python's cp437 codec gives control codes there).
CP437_LOW = ("\u0000\u263a\u263b\u2665\u2666\u2663\u2660\u2022\u25d8\u25cb\u25d9\u2642\u2640\u266a\u266b\u263c"
             "\u25ba\u25c4\u2195\u203c\u00b6\u00a7\u25ac\u21a8\u2191\u2193\u2192\u2190\u221f\u2194\u25b2\u25bc")


def cp437_code_point(byte):
    """The Unicode code point code page 437 shows for a byte (the VGA text mode character set)."""
    if byte < 0x20:
        return ord(CP437_LOW[byte]) if byte else 0x20
    if byte == 0x7F:
        return 0x2302
    return ord(bytes([byte]).decode("cp437"))


def cp437_glyphs(font):
    """256 glyph indexes: the glyph the font has for each code page 437 byte."""
    return [font.glyph_for(cp437_code_point(byte)) for byte in range(256)]
