/*
 * Font.h - bitmap fonts for the framebuffer console.
 *
 * Layer: drivers/console. The glyph tables are not kept in the repository:
 * tools/psf2c.py converts PSF fonts from Debian's console-setup-linux
 * (Uni2-VGA16 and Uni2-Terminus32x16) into $(BUILD)/generated/Fonts.c at
 * build time. Each table holds 256 glyphs in code page 437 order (found
 * through the font's Unicode table), so byte b is drawn with glyph b, as the
 * VGA text mode does. A glyph is Height rows of BytesPerRow bytes, the
 * leftmost pixel in the top bit of the first byte.
 *
 * FontChoose (FramebufferFont.c) picks a font and a scale for a screen.
 */

#ifndef DRIVERS_CONSOLE_FONT_H_INCLUDED
#define DRIVERS_CONSOLE_FONT_H_INCLUDED

#include "Base.h"

#define FONT_GLYPH_COUNT 256

typedef struct tag_FONT {
    LPCSTR Name;        // the PSF file it came from
    U32 Width, Height;  // pixels
    U32 BytesPerRow;
    const U8* Glyphs;   // FONT_GLYPH_COUNT * Height * BytesPerRow bytes
} FONT;

/** 8x16, the VGA look (Uni2-VGA16, MIT-style licence). */
extern const FONT FontVGA16;
/** 16x32 for wide screens (Uni2-Terminus32x16, SIL OFL 1.1). */
extern const FONT FontTerminus16x32;

static inline const U8* FontGlyph(const FONT* Font, U8 Character) {
    return Font->Glyphs + (SIZE)Character * Font->Height * Font->BytesPerRow;
}

/**
 * The font and scale for a Width x Height screen. Request NULL or "auto":
 * the 8x16 font below 1600 pixels wide, the 16x32 font up to 3199 wide, the
 * 16x32 font doubled beyond. Otherwise the fbfont= option's value: "8x16",
 * "8x16x2", "16x32" or "16x32x2" (an unknown value means auto). A choice
 * whose cells would not fit 20x10 times on the screen falls back to 8x16.
 */
const FONT* FontChoose(U32 Width, U32 Height, LPCSTR Request, U32* Scale);

#endif  // DRIVERS_CONSOLE_FONT_H_INCLUDED
