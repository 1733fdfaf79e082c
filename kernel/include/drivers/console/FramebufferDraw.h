/*
 * FramebufferDraw.h - drawing text cells into linear pixel memory.
 *
 * Layer: drivers/console, pure (host unit tests draw into a memory buffer).
 * It owns pixel formats (15/16, 24 and 32 bits per pixel, RGB fields at any
 * position, as the multiboot2 framebuffer tag gives them), the 16-colour VGA
 * palette packed into the screen's format, and glyph blitting at scale 1 or
 * 2. Drawing only ever writes the target, never reads it (reading video
 * memory is slow on real hardware, even write-combined).
 *
 * A text row is drawn one pixel line at a time into a line buffer in RAM,
 * and each finished line is copied to the target Scale times: the target
 * sees whole, sequential lines, which is what write combining likes.
 */

#ifndef DRIVERS_CONSOLE_FRAMEBUFFERDRAW_H_INCLUDED
#define DRIVERS_CONSOLE_FRAMEBUFFERDRAW_H_INCLUDED

#include "Base.h"
#include "drivers/console/Font.h"

#define FRAMEBUFFER_PALETTE_SIZE 16

typedef struct tag_PIXEL_FORMAT {
    U32 BitsPerPixel;  // 15, 16, 24 or 32
    U8 RedPosition, RedSize;
    U8 GreenPosition, GreenSize;
    U8 BluePosition, BlueSize;
} PIXEL_FORMAT;

typedef struct tag_GLYPH_RENDERER {
    PIXEL_FORMAT Format;
    U32 BytesPerPixel;
    const FONT* Font;
    U32 Scale;                     // 1 or 2
    U32 CellWidth, CellHeight;     // pixels on screen
    U32 Palette[FRAMEBUFFER_PALETTE_SIZE];  // the VGA colours, packed
} GLYPH_RENDERER;

/** NULL when the format can be drawn, else why not (for the log). */
LPCSTR FramebufferFormatProblem(const PIXEL_FORMAT* Format);
/** 0xRRGGBB packed into Format's pixel value. */
U32 FramebufferPackColor(const PIXEL_FORMAT* Format, U32 Rgb);
/** FALSE when the format cannot be drawn or Scale is not 1 or 2. */
BOOL FramebufferRendererInit(GLYPH_RENDERER* Renderer, const PIXEL_FORMAT* Format, const FONT* Font, U32 Scale);

/**
 * Draws Count cells ((attribute << 8) | character, VGA attributes) as one
 * text row at Target (its first pixel line), Pitch bytes between pixel
 * lines. CursorColumn (or MAX_U32 for none) gets an underline cursor in its
 * foreground colour. LineBuffer holds Count * CellWidth pixels.
 */
void FramebufferDrawRow(const GLYPH_RENDERER* Renderer, const U16* Cells, U32 Count, U32 CursorColumn, U8* Target,
                        U32 Pitch, U8* LineBuffer);
/** Fills Lines pixel lines of Pixels pixels at Target with packed colour Pixel. */
void FramebufferFill(const GLYPH_RENDERER* Renderer, U8* Target, U32 Pitch, U32 Pixels, U32 Lines, U32 Pixel);

#endif  // DRIVERS_CONSOLE_FRAMEBUFFERDRAW_H_INCLUDED
