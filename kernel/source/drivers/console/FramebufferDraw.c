/*
 * FramebufferDraw.c - glyph blitting into linear pixel memory (see
 * FramebufferDraw.h).
 *
 * Layer: drivers/console, pure. The palette is the VGA's default DAC
 * colours (IBM VGA Technical Reference: 0xAA for normal, 0x55 added for
 * bright, brown with half green), so the framebuffer console looks like the
 * text console it replaces. The cursor is an underline over the font's last
 * two rows, like the VGA text cursor (scan lines 14-15 of 16).
 */

#include "drivers/console/FramebufferDraw.h"

#include "utils/String.h"

#define CURSOR_ROWS 2

static const U32 VgaPalette[FRAMEBUFFER_PALETTE_SIZE] = {
    0x000000, 0x0000AA, 0x00AA00, 0x00AAAA, 0xAA0000, 0xAA00AA, 0xAA5500, 0xAAAAAA,
    0x555555, 0x5555FF, 0x55FF55, 0x55FFFF, 0xFF5555, 0xFF55FF, 0xFFFF55, 0xFFFFFF,
};

static U32 BytesPerPixel(U32 BitsPerPixel) { return (BitsPerPixel + 7) / 8; }

LPCSTR FramebufferFormatProblem(const PIXEL_FORMAT* Format) {
    U32 Bits = Format->BitsPerPixel;
    if (Bits != 15 && Bits != 16 && Bits != 24 && Bits != 32) return "bits per pixel not 15, 16, 24 or 32";
    const U8 Positions[3] = {Format->RedPosition, Format->GreenPosition, Format->BluePosition};
    const U8 Sizes[3] = {Format->RedSize, Format->GreenSize, Format->BlueSize};
    for (U32 Index = 0; Index < 3; Index++) {
        if (Sizes[Index] == 0 || Sizes[Index] > 8) return "a colour field is empty or wider than 8 bits";
        if ((U32)Positions[Index] + Sizes[Index] > BytesPerPixel(Bits) * 8) {
            return "a colour field lies outside the pixel";
        }
    }
    return NULL;
}

U32 FramebufferPackColor(const PIXEL_FORMAT* Format, U32 Rgb) {
    U32 Red = (Rgb >> 16) & 0xFF, Green = (Rgb >> 8) & 0xFF, Blue = Rgb & 0xFF;
    return ((Red >> (8 - Format->RedSize)) << Format->RedPosition) |
           ((Green >> (8 - Format->GreenSize)) << Format->GreenPosition) |
           ((Blue >> (8 - Format->BlueSize)) << Format->BluePosition);
}

BOOL FramebufferRendererInit(GLYPH_RENDERER* Renderer, const PIXEL_FORMAT* Format, const FONT* Font, U32 Scale) {
    MemorySet(Renderer, 0, sizeof(*Renderer));
    if (FramebufferFormatProblem(Format) != NULL || Font == NULL || (Scale != 1 && Scale != 2)) return FALSE;
    Renderer->Format = *Format;
    Renderer->BytesPerPixel = BytesPerPixel(Format->BitsPerPixel);
    Renderer->Font = Font;
    Renderer->Scale = Scale;
    Renderer->CellWidth = Font->Width * Scale;
    Renderer->CellHeight = Font->Height * Scale;
    for (U32 Index = 0; Index < FRAMEBUFFER_PALETTE_SIZE; Index++) {
        Renderer->Palette[Index] = FramebufferPackColor(Format, VgaPalette[Index]);
    }
    return TRUE;
}

/************************************************************************/
// One pixel line

/** Writes Count copies of Pixel from Out on; returns the end. */
static U8* PutPixels(U8* Out, U32 BytesPerPixel, U32 Pixel, U32 Count) {
    if (BytesPerPixel == 4) {
        U32* Word = (U32*)Out;
        for (U32 Index = 0; Index < Count; Index++) Word[Index] = Pixel;
    } else if (BytesPerPixel == 3) {
        for (U32 Index = 0; Index < Count; Index++) {
            Out[Index * 3] = (U8)Pixel;
            Out[Index * 3 + 1] = (U8)(Pixel >> 8);
            Out[Index * 3 + 2] = (U8)(Pixel >> 16);
        }
    } else {
        U16* Half = (U16*)Out;
        for (U32 Index = 0; Index < Count; Index++) Half[Index] = (U16)Pixel;
    }
    return Out + (SIZE)Count * BytesPerPixel;
}

/** The glyph row Row (font rows, not screen lines) of one cell as bits, leftmost pixel in bit Width - 1. */
static U32 GlyphBits(const FONT* Font, U8 Character, U32 Row) {
    const U8* Bytes = FontGlyph(Font, Character) + (SIZE)Row * Font->BytesPerRow;
    U32 Bits = 0;
    for (U32 Index = 0; Index < Font->BytesPerRow; Index++) Bits = (Bits << 8) | Bytes[Index];
    return Bits >> (Font->BytesPerRow * 8 - Font->Width);  // drop the padding in the low bits
}

static void RenderLine(const GLYPH_RENDERER* Renderer, const U16* Cells, U32 Count, U32 Row, U32 CursorColumn,
                       U8* Out) {
    const FONT* Font = Renderer->Font;
    BOOL CursorRow = Row >= Font->Height - CURSOR_ROWS;
    for (U32 Column = 0; Column < Count; Column++) {
        U16 Cell = Cells[Column];
        U32 Foreground = Renderer->Palette[(Cell >> 8) & 0x0F];
        U32 Background = Renderer->Palette[(Cell >> 12) & 0x07];
        U32 Bits = (CursorRow && Column == CursorColumn) ? ~0U : GlyphBits(Font, (U8)Cell, Row);
        if (Renderer->BytesPerPixel == 4 && Renderer->Scale == 1) {  // the common case, kept tight
            U32* Word = (U32*)Out;
            for (U32 Bit = Font->Width; Bit-- > 0;) *Word++ = (Bits >> Bit) & 1 ? Foreground : Background;
            Out = (U8*)Word;
            continue;
        }
        for (U32 Bit = Font->Width; Bit-- > 0;) {
            Out = PutPixels(Out, Renderer->BytesPerPixel, (Bits >> Bit) & 1 ? Foreground : Background,
                            Renderer->Scale);
        }
    }
}

/************************************************************************/

void FramebufferDrawRow(const GLYPH_RENDERER* Renderer, const U16* Cells, U32 Count, U32 CursorColumn, U8* Target,
                        U32 Pitch, U8* LineBuffer) {
    SIZE LineBytes = (SIZE)Count * Renderer->CellWidth * Renderer->BytesPerPixel;
    for (U32 Row = 0; Row < Renderer->Font->Height; Row++) {
        RenderLine(Renderer, Cells, Count, Row, CursorColumn, LineBuffer);
        for (U32 Copy = 0; Copy < Renderer->Scale; Copy++) {
            MemoryCopy(Target, LineBuffer, LineBytes);
            Target += Pitch;
        }
    }
}

void FramebufferFill(const GLYPH_RENDERER* Renderer, U8* Target, U32 Pitch, U32 Pixels, U32 Lines, U32 Pixel) {
    for (U32 Line = 0; Line < Lines; Line++) {
        PutPixels(Target + (SIZE)Line * Pitch, Renderer->BytesPerPixel, Pixel, Pixels);
    }
}
