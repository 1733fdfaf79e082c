/*
 * Test-FramebufferDraw.c - drivers/console/FramebufferDraw.c drawing into a
 * small memory framebuffer: glyph rows at 32 and 24 bits per pixel (BGR and
 * RGB field orders), 16-bit 565, scale 2, the underline cursor, a pitch
 * wider than the line, colour packing and refused formats; and
 * FramebufferFont.c's choice of font for a screen size. The fonts are made
 * here (the kernel's tables are generated at build time).
 */
// SOURCES: drivers/console/FramebufferDraw.c drivers/console/FramebufferFont.c utils/String.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "drivers/console/FramebufferDraw.h"

// A 4x4 test font: 'A' is a frame, 'B' a single top-left pixel, everything else blank.
static U8 SmallGlyphs[256 * 4];
const FONT FontVGA16 = {"test-8x16", 8, 16, 1, SmallGlyphs};
const FONT FontTerminus16x32 = {"test-16x32", 16, 32, 2, SmallGlyphs};
static const FONT SmallFont = {"test-4x4", 4, 4, 1, SmallGlyphs};

static const PIXEL_FORMAT Bgrx32 = {32, 16, 8, 8, 8, 0, 8};
static const PIXEL_FORMAT Rgb24 = {24, 0, 8, 8, 8, 16, 8};
static const PIXEL_FORMAT Rgb565 = {16, 11, 5, 5, 6, 0, 5};

#define CELL(character, foreground, background) ((U16)(((background) << 12) | ((foreground) << 8) | (character)))

static U8 Screen[64 * 16 * 4];
static U8 Line[64 * 4];

static void SetUpFont(void) {
    memset(SmallGlyphs, 0, sizeof(SmallGlyphs));
    const U8 Frame[4] = {0xF0, 0x90, 0x90, 0xF0};  // bits 7-4 are the 4 pixels
    memcpy(&SmallGlyphs['A' * 4], Frame, 4);
    SmallGlyphs['B' * 4] = 0x80;
}

static U32 PixelAt(const U8* Base, U32 Pitch, U32 BytesPerPixel, U32 X, U32 Y) {
    const U8* P = Base + Y * Pitch + X * BytesPerPixel;
    U32 Value = 0;
    for (U32 I = 0; I < BytesPerPixel; I++) Value |= (U32)P[I] << (8 * I);
    return Value;
}

static void TestPackColor(void** State) {
    (void)State;
    assert_int_equal(FramebufferPackColor(&Bgrx32, 0xAA5500), 0xAA5500);
    assert_int_equal(FramebufferPackColor(&Rgb24, 0xAA5500), 0x0055AA);
    assert_int_equal(FramebufferPackColor(&Rgb565, 0xFFFFFF), 0xFFFF);
    assert_int_equal(FramebufferPackColor(&Rgb565, 0xFF0000), 0xF800);
    assert_int_equal(FramebufferPackColor(&Rgb565, 0x00FF00), 0x07E0);
}

static void TestFormatProblems(void** State) {
    (void)State;
    assert_null(FramebufferFormatProblem(&Bgrx32));
    assert_null(FramebufferFormatProblem(&Rgb24));
    assert_null(FramebufferFormatProblem(&Rgb565));
    PIXEL_FORMAT Bad = Bgrx32;
    Bad.BitsPerPixel = 8;
    assert_non_null(FramebufferFormatProblem(&Bad));
    Bad = Rgb24;
    Bad.BluePosition = 20;  // 20 + 8 > 24
    assert_non_null(FramebufferFormatProblem(&Bad));
    Bad = Bgrx32;
    Bad.GreenSize = 0;
    assert_non_null(FramebufferFormatProblem(&Bad));
    Bad = Bgrx32;
    Bad.RedSize = 10;
    assert_non_null(FramebufferFormatProblem(&Bad));
    GLYPH_RENDERER Renderer;
    assert_false(FramebufferRendererInit(&Renderer, &Bgrx32, &SmallFont, 3));
    assert_false(FramebufferRendererInit(&Renderer, &Bad, &SmallFont, 1));
}

/** Draws "AB " (white on blue, then light grey on black) and checks every pixel. */
static void CheckRow(const PIXEL_FORMAT* Format, U32 Scale) {
    SetUpFont();
    GLYPH_RENDERER Renderer;
    assert_true(FramebufferRendererInit(&Renderer, Format, &SmallFont, Scale));
    U32 Bpp = Renderer.BytesPerPixel;
    U32 Pitch = 64 * Bpp;  // wider than the 12 * Scale pixels drawn: the rest must stay untouched
    memset(Screen, 0x5A, sizeof(Screen));
    const U16 Cells[3] = {CELL('A', 15, 1), CELL('B', 7, 0), CELL(' ', 7, 0)};
    FramebufferDrawRow(&Renderer, Cells, 3, MAX_U32, Screen, Pitch, Line);

    U32 White = FramebufferPackColor(Format, 0xFFFFFF), Blue = FramebufferPackColor(Format, 0x0000AA);
    U32 Grey = FramebufferPackColor(Format, 0xAAAAAA), Black = 0;
    for (U32 Y = 0; Y < 4 * Scale; Y++) {
        for (U32 X = 0; X < 12 * Scale; X++) {
            U32 GlyphX = (X / Scale) % 4, GlyphY = Y / Scale, Cell = X / Scale / 4;
            U32 Expected;
            if (Cell == 0) Expected = (GlyphY == 0 || GlyphY == 3 || GlyphX == 0 || GlyphX == 3) ? White : Blue;
            else if (Cell == 1) Expected = (GlyphX == 0 && GlyphY == 0) ? Grey : Black;
            else Expected = Black;
            assert_int_equal(PixelAt(Screen, Pitch, Bpp, X, Y), Expected);
        }
        assert_int_equal(Screen[Y * Pitch + 12 * Scale * Bpp], 0x5A);  // right of the row: untouched
    }
    assert_int_equal(Screen[4 * Scale * Pitch], 0x5A);  // below the row: untouched
}

static void TestRow32(void** State) {
    (void)State;
    CheckRow(&Bgrx32, 1);
}

static void TestRow24(void** State) {
    (void)State;
    CheckRow(&Rgb24, 1);
}

static void TestRow16(void** State) {
    (void)State;
    CheckRow(&Rgb565, 1);
}

static void TestRowScaled(void** State) {
    (void)State;
    CheckRow(&Bgrx32, 2);
    CheckRow(&Rgb24, 2);
}

static void TestCursorUnderline(void** State) {
    (void)State;
    SetUpFont();
    GLYPH_RENDERER Renderer;
    assert_true(FramebufferRendererInit(&Renderer, &Bgrx32, &SmallFont, 1));
    const U16 Cells[2] = {CELL(' ', 7, 0), CELL('B', 14, 4)};
    FramebufferDrawRow(&Renderer, Cells, 2, 1, Screen, 8 * 4, Line);
    U32 Yellow = FramebufferPackColor(&Bgrx32, 0xFFFF55), Red = FramebufferPackColor(&Bgrx32, 0xAA0000);
    for (U32 X = 0; X < 4; X++) {
        assert_int_equal(PixelAt(Screen, 32, 4, X, 3), 0);            // no cursor in column 0
        assert_int_equal(PixelAt(Screen, 32, 4, 4 + X, 2), Yellow);   // the last two font rows of column 1
        assert_int_equal(PixelAt(Screen, 32, 4, 4 + X, 3), Yellow);
    }
    assert_int_equal(PixelAt(Screen, 32, 4, 4, 0), Yellow);  // the glyph itself is still drawn
    assert_int_equal(PixelAt(Screen, 32, 4, 5, 1), Red);
}

static void TestFill(void** State) {
    (void)State;
    GLYPH_RENDERER Renderer;
    assert_true(FramebufferRendererInit(&Renderer, &Rgb24, &SmallFont, 1));
    memset(Screen, 0, sizeof(Screen));
    FramebufferFill(&Renderer, Screen, 30, 5, 3, 0x123456);
    for (U32 Y = 0; Y < 3; Y++) {
        for (U32 X = 0; X < 5; X++) assert_int_equal(PixelAt(Screen, 30, 3, X, Y), 0x123456);
        assert_int_equal(Screen[Y * 30 + 15], 0);
    }
}

static void TestFontChoice(void** State) {
    (void)State;
    U32 Scale = 0;
    assert_ptr_equal(FontChoose(800, 600, NULL, &Scale), &FontVGA16);
    assert_int_equal(Scale, 1);
    assert_ptr_equal(FontChoose(1280, 800, "auto", &Scale), &FontVGA16);
    assert_ptr_equal(FontChoose(1920, 1080, NULL, &Scale), &FontTerminus16x32);
    assert_int_equal(Scale, 1);
    assert_ptr_equal(FontChoose(3840, 2160, NULL, &Scale), &FontTerminus16x32);
    assert_int_equal(Scale, 2);
    assert_ptr_equal(FontChoose(1280, 800, "8x16x2", &Scale), &FontVGA16);
    assert_int_equal(Scale, 2);
    assert_ptr_equal(FontChoose(1280, 800, "16x32", &Scale), &FontTerminus16x32);
    assert_ptr_equal(FontChoose(1920, 1080, "nonsense", &Scale), &FontTerminus16x32);
    // A request too big for a small screen falls back to 8x16.
    assert_ptr_equal(FontChoose(320, 200, "16x32x2", &Scale), &FontVGA16);
    assert_int_equal(Scale, 1);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestPackColor),  cmocka_unit_test(TestFormatProblems), cmocka_unit_test(TestRow32),
        cmocka_unit_test(TestRow24),      cmocka_unit_test(TestRow16),          cmocka_unit_test(TestRowScaled),
        cmocka_unit_test(TestCursorUnderline), cmocka_unit_test(TestFill),     cmocka_unit_test(TestFontChoice),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
