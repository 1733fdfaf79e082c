"""screen_reader.py - turns a QEMU `screendump` back into text by matching the font's own glyphs.

The screen tests read what a person would see, not the serial line. Two kinds of screen:

  * the framebuffer console: cells of the PSF font the kernel draws with (tools/psf.py reads the same
    console-setup-linux files the build converts), 8x16 or 16x32, at scale 1 or 2, from the top-left corner;
  * VGA text mode (SeaBIOS): QEMU renders 80x25 cells of 9x16 pixels from the font in VGA plane 2, which the
    VGA BIOS loaded there. That font is taken from the same ROM QEMU gives the guest
    (/usr/share/seabios/vgabios-stdvga.bin): its 8x16 table is the only 4096-byte run in the ROM whose glyph 0
    and space are blank, whose glyph 0xDB is a full block and whose 'A' is not empty. The 9th pixel column
    is left out of the match (it repeats column 8 only for line-drawing characters).

Each cell's most common colour is its background and every other pixel is ink; the ink pattern (scaled
down) is looked up among the glyphs of code page 437's printable ASCII. A cell that matches no glyph
exactly (the cursor's underline over a character) takes the nearest glyph when at most two glyph rows
differ, else '?'. Blank cells read as spaces; trailing spaces are stripped.

  read_ppm(path) -> Image;  write_png(image, path);  read_screen(image) -> Reading(lines, layout)
"""

import os
import struct
import sys
import zlib

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPOSITORY, "tools"))

import psf  # noqa: E402

FONT_DIR = os.environ.get("CAIRN_FONT_DIR", "/usr/share/consolefonts")
VGA_FONT_FILE = os.path.join(FONT_DIR, "Uni2-VGA16.psf.gz")
TERMINUS_FONT_FILE = os.path.join(FONT_DIR, "Uni2-Terminus32x16.psf.gz")
VGA_BIOS = "/usr/share/seabios/vgabios-stdvga.bin"
PRINTABLE = [chr(code) for code in range(0x20, 0x7F)]


class Image:
    """width, height and the pixels as bytes of RGB triplets, row after row."""

    def __init__(self, width, height, pixels):
        self.width, self.height, self.pixels = width, height, pixels

    def row(self, y, x, count):
        start = (y * self.width + x) * 3
        return self.pixels[start:start + count * 3]


def read_ppm(path):
    """A binary PPM (P6, 8 bits), what QEMU's screendump writes by default."""
    with open(path, "rb") as source:
        data = source.read()
    fields, position = [], 0
    while len(fields) < 4:
        while data[position:position + 1].isspace():
            position += 1
        if data[position:position + 1] == b"#":
            position = data.index(b"\n", position)
            continue
        end = position
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[position:end])
        position = end
    if fields[0] != b"P6" or fields[3] != b"255":
        raise ValueError("%s is not an 8-bit binary PPM" % path)
    width, height = int(fields[1]), int(fields[2])
    return Image(width, height, data[position + 1:position + 1 + width * height * 3])


def write_png(image, path):
    """Writes the image as an 8-bit RGB PNG (for the documentation)."""
    stride = image.width * 3
    raw = b"".join(b"\x00" + image.pixels[y * stride:(y + 1) * stride] for y in range(image.height))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", image.width, image.height, 8, 2, 0, 0, 0)
    with open(path, "wb") as target:
        target.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) +
                     chunk(b"IEND", b""))


class GlyphSet:
    """The printable glyphs of one font as ink patterns: {tuple of row bit masks: character}."""

    def __init__(self, name, width, height, rows_of):
        self.name, self.width, self.height = name, width, height
        self.patterns = {}
        self.by_char = {}
        for char in PRINTABLE:
            rows = tuple(rows_of(char))
            self.by_char[char] = rows
            self.patterns.setdefault(rows, char)

    def nearest(self, rows):
        """The character whose glyph differs from rows in the fewest rows (at most 2), else '?'."""
        best, best_char = 3, "?"
        for char, glyph in self.by_char.items():
            differing = sum(1 for a, b in zip(rows, glyph) if a != b)
            if differing < best:
                best, best_char = differing, char
        return best_char


def psf_glyphs(path):
    font = psf.load(path)
    glyph_of = psf.cp437_glyphs(font)

    def rows_of(char):
        index = glyph_of[ord(char)]
        return [sum(font.pixel(index, x, y) << (font.width - 1 - x) for x in range(font.width))
                for y in range(font.height)]

    return GlyphSet(os.path.basename(path).split(".")[0], font.width, font.height, rows_of)


def vga_rom_glyphs(path=VGA_BIOS):
    """The 8x16 font the VGA BIOS loads into plane 2 (see the module comment for how it is found)."""
    with open(path, "rb") as source:
        rom = source.read()
    for offset in range(len(rom) - 4096):
        table = rom[offset:offset + 4096]
        if (table[0:16] == bytes(16) and table[0x20 * 16:0x21 * 16] == bytes(16)
                and table[0xDB * 16:0xDC * 16] == b"\xff" * 16 and any(table[0x41 * 16:0x42 * 16])):
            return GlyphSet("VGA BIOS 8x16", 8, 16, lambda char: list(table[ord(char) * 16:ord(char) * 16 + 16]))
    raise ValueError("no 8x16 font table in %s" % path)


class Layout:
    """How text sits on a screen: glyphs, scale, cell size in pixels (VGA text cells are 9 wide)."""

    def __init__(self, glyphs, scale, cell_width=None):
        self.glyphs, self.scale = glyphs, scale
        self.cell_width = cell_width or glyphs.width * scale
        self.cell_height = glyphs.height * scale

    def __repr__(self):
        return "%s x%d in %dx%d cells" % (self.glyphs.name, self.scale, self.cell_width, self.cell_height)


_cache = {}


def _cached(key, make):
    if key not in _cache:
        _cache[key] = make()
    return _cache[key]


def read_cell(image, layout, column, row):
    x0, y0 = column * layout.cell_width, row * layout.cell_height
    glyphs, scale = layout.glyphs, layout.scale
    lines = [image.row(y0 + y * scale, x0, glyphs.width * scale) for y in range(glyphs.height)]
    first = lines[0][0:3]
    if all(line == first * (len(line) // 3) for line in lines):
        return " "
    counts = {}
    for line in lines:
        for x in range(0, len(line), 3 * scale):
            pixel = line[x:x + 3]
            counts[pixel] = counts.get(pixel, 0) + 1
    background = max(counts, key=counts.get)
    rows = []
    for line in lines:
        bits = 0
        for x in range(0, len(line), 3 * scale):
            bits = (bits << 1) | (line[x:x + 3] != background)
        rows.append(bits)
    rows = tuple(rows)
    return glyphs.patterns.get(rows) or glyphs.nearest(rows)


def read_text(image, layout):
    columns = image.width // layout.cell_width
    rows = image.height // layout.cell_height
    return ["".join(read_cell(image, layout, column, row) for column in range(columns)).rstrip()
            for row in range(rows)]


def candidate_layouts(image):
    """VGA text for a 720x400 (or 640x400) screen, else the framebuffer console's font choices."""
    if (image.width, image.height) in ((720, 400), (640, 400)):
        glyphs = _cached("vga-rom", vga_rom_glyphs)
        return [Layout(glyphs, 1, cell_width=image.width // 80)]
    vga16 = _cached(VGA_FONT_FILE, lambda: psf_glyphs(VGA_FONT_FILE))
    terminus = _cached(TERMINUS_FONT_FILE, lambda: psf_glyphs(TERMINUS_FONT_FILE))
    # The kernel's own choice first (drivers/console/FramebufferFont.c), then the fbfont= alternatives.
    if image.width >= 3200:
        order = [(terminus, 2), (terminus, 1), (vga16, 1), (vga16, 2)]
    elif image.width >= 1600:
        order = [(terminus, 1), (vga16, 1), (vga16, 2), (terminus, 2)]
    else:
        order = [(vga16, 1), (vga16, 2), (terminus, 1), (terminus, 2)]
    return [Layout(glyphs, scale) for glyphs, scale in order]


class Reading:
    def __init__(self, lines, layout):
        self.lines, self.layout = lines, layout

    @property
    def text(self):
        return "\n".join(self.lines)

    def __repr__(self):
        return "<screen %s:\n%s>" % (self.layout, self.text)


def read_screen(image):
    """Reads the screen with the layout that leaves the fewest unreadable cells."""
    best = None
    for layout in candidate_layouts(image):
        lines = read_text(image, layout)
        unknown = sum(line.count("?") for line in lines)
        if best is None or unknown < best[0]:
            best = (unknown, Reading(lines, layout))
        if unknown == 0:
            break
    return best[1]


if __name__ == "__main__":
    print(read_screen(read_ppm(sys.argv[1])).text)
