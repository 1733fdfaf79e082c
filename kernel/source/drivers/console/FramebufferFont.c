/*
 * FramebufferFont.c - which font, at which scale, the framebuffer console
 * draws with (see Font.h). The glyph tables themselves are generated at
 * build time ($(BUILD)/generated/Fonts.c from tools/psf2c.py).
 *
 * Layer: drivers/console, pure. Wide screens get larger cells so a text
 * line stays about 100-160 columns: 1920 pixels with 8x16 cells would give
 * 240 columns of tiny text.
 */

#include "drivers/console/Font.h"

#include "utils/String.h"

#define WIDE_SCREEN 1600
#define VERY_WIDE_SCREEN 3200
#define MIN_COLUMNS 20
#define MIN_ROWS 10

typedef struct tag_FONT_CHOICE {
    LPCSTR Name;
    const FONT* Font;
    U32 Scale;
} FONT_CHOICE;

static const FONT_CHOICE FontChoices[] = {
    {"8x16", &FontVGA16, 1},
    {"8x16x2", &FontVGA16, 2},
    {"16x32", &FontTerminus16x32, 1},
    {"16x32x2", &FontTerminus16x32, 2},
};

static BOOL Fits(const FONT_CHOICE* Choice, U32 Width, U32 Height) {
    return Choice->Font->Width * Choice->Scale * MIN_COLUMNS <= Width &&
           Choice->Font->Height * Choice->Scale * MIN_ROWS <= Height;
}

const FONT* FontChoose(U32 Width, U32 Height, LPCSTR Request, U32* Scale) {
    const FONT_CHOICE* Choice = &FontChoices[0];
    if (Width >= VERY_WIDE_SCREEN) Choice = &FontChoices[3];
    else if (Width >= WIDE_SCREEN) Choice = &FontChoices[2];
    for (U32 Index = 0; Request != NULL && Index < ARRAY_COUNT(FontChoices); Index++) {
        if (StringCompare(Request, FontChoices[Index].Name) == 0) Choice = &FontChoices[Index];
    }
    if (!Fits(Choice, Width, Height)) Choice = &FontChoices[0];
    *Scale = Choice->Scale;
    return Choice->Font;
}
