/*
 * Framebuffer.c - the framebuffer console (see Framebuffer.h).
 *
 * Layer: drivers/console. Owns the framebuffer mapping, the cell grid and
 * the decision of what to redraw; the byte stream is interpreted by
 * Terminal.c, pixels are produced by FramebufferDraw.c, and the font comes
 * from FramebufferFont.c.
 *
 * Shadow: the text lives in FramebufferCells (RAM). After each write the
 * rows the terminal marked dirty, and the rows the cursor left and entered,
 * are drawn again; a scroll moves cells in RAM and redraws every row. Video
 * memory is only ever written, a whole pixel line at a time, through a
 * write-combining mapping (PAT): reads from it are slow on real hardware and
 * uncached single writes crawl (reference: framebuffer-and-smp-facts 1.8).
 *
 * Locking: console writes arrive under the console lock; FramebufferLock
 * also guards the mapping against FramebufferMap. A write only tries the
 * lock for a bounded time, so an exception handler's emergency output is
 * never blocked by it (the same rule as VGA.c).
 */

#include "drivers/console/Framebuffer.h"

#include "core/CommandLine.h"
#include "core/Log.h"
#include "core/Multiboot.h"
#include "core/Spinlock.h"
#include "drivers/console/Console.h"
#include "drivers/console/FramebufferDraw.h"
#include "drivers/console/Terminal.h"
#include "memory/Paging.h"
#include "system/Clock.h"
#include "arch/x86-64/CPU.h"
#include "utils/Format.h"
#include "utils/String.h"

#define FRAMEBUFFER_MAX_COLUMNS 480   // 3840 pixels of 8-pixel cells
#define FRAMEBUFFER_MAX_ROWS 160
#define FRAMEBUFFER_MAX_WIDTH 8192    // pixels (the line buffer)
#define FRAMEBUFFER_MAX_BYTES (512ULL * N_1MB)
#define FRAMEBUFFER_LOCK_TRIES 100000

typedef struct tag_FRAMEBUFFER_CONSOLE {
    BOOL Present;      // registered: text goes to the grid
    PHYSICAL Physical;
    U32 Width, Height, Pitch;
    U64 Bytes;         // Pitch * Height
    U8* Pixels;        // the mapping (NULL until FramebufferMap)
    GLYPH_RENDERER Renderer;
    TERMINAL Terminal;
    U32 Columns, Rows;
    U32 CursorRow;     // where the cursor was last drawn (MAX_U32: nowhere)
    U64 ScrollNs;      // one full-screen redraw, measured by FramebufferMap
} FRAMEBUFFER_CONSOLE;

static FRAMEBUFFER_CONSOLE Fb;
static U16 FramebufferCells[FRAMEBUFFER_MAX_COLUMNS * FRAMEBUFFER_MAX_ROWS];
static U8 FramebufferLine[FRAMEBUFFER_MAX_WIDTH * 4];
static SPINLOCK FramebufferLock = SPINLOCK_INIT;

/************************************************************************/
// Drawing

static void DrawRow(U32 Row, U32 CursorRow, U32 CursorColumn, BOOL CursorVisible) {
    U32 Cursor = (CursorVisible && Row == CursorRow) ? CursorColumn : MAX_U32;
    U8* Target = Fb.Pixels + (SIZE)Row * Fb.Renderer.CellHeight * Fb.Pitch;
    FramebufferDrawRow(&Fb.Renderer, &FramebufferCells[Row * Fb.Columns], Fb.Columns, Cursor, Target, Fb.Pitch,
                       FramebufferLine);
}

/** Draws the rows that changed and moves the cursor. */
static void Flush(void) {
    U32 First = 0, Last = 0, CursorRow, CursorColumn;
    BOOL Visible;
    BOOL Dirty = TerminalTakeDirty(&Fb.Terminal, &First, &Last);
    if (Fb.Pixels == NULL) return;  // kept in the grid until FramebufferMap

    TerminalCursor(&Fb.Terminal, &CursorRow, &CursorColumn, &Visible);
    CursorColumn = MIN(CursorColumn, Fb.Columns - 1);
    if (Dirty) {
        for (U32 Row = First; Row <= Last; Row++) DrawRow(Row, CursorRow, CursorColumn, Visible);
    }
    // The row the cursor left (its underline must go) and the one it is on now, unless drawn above.
    BOOL LeftDrawn = Dirty && Fb.CursorRow >= First && Fb.CursorRow <= Last;
    if (Fb.CursorRow != MAX_U32 && Fb.CursorRow != CursorRow && !LeftDrawn) {
        DrawRow(Fb.CursorRow, CursorRow, CursorColumn, Visible);
    }
    if (!(Dirty && CursorRow >= First && CursorRow <= Last)) DrawRow(CursorRow, CursorRow, CursorColumn, Visible);
    Fb.CursorRow = CursorRow;
}

static void FramebufferConsoleWrite(LPCSTR Text, SIZE Length) {
    U64 Flags = 0;
    BOOL Locked = SpinlockTryAcquireBounded(&FramebufferLock, &Flags, FRAMEBUFFER_LOCK_TRIES);
    TerminalWrite(&Fb.Terminal, Text, Length);
    Flush();
    if (Locked) SpinlockRelease(&FramebufferLock, Flags);
}

static CONSOLE_DEVICE FramebufferConsole = {"framebuffer", FramebufferConsoleWrite, NULL, TRUE, 0, 0};

/************************************************************************/
// The mode from the boot information

static LPCSTR CheckMode(const MULTIBOOT_INFO* Info, PIXEL_FORMAT* Format) {
    if (Info->FramebufferType == MULTIBOOT_FRAMEBUFFER_INDEXED) return "indexed colours are not supported";
    if (Info->FramebufferType != MULTIBOOT_FRAMEBUFFER_RGB) return "unknown framebuffer type";
    if (Info->FramebufferAddress == 0) return "no address";
    Format->BitsPerPixel = Info->FramebufferBpp;
    Format->RedPosition = Info->FramebufferRedPosition;
    Format->RedSize = Info->FramebufferRedSize;
    Format->GreenPosition = Info->FramebufferGreenPosition;
    Format->GreenSize = Info->FramebufferGreenSize;
    Format->BluePosition = Info->FramebufferBluePosition;
    Format->BlueSize = Info->FramebufferBlueSize;
    LPCSTR Problem = FramebufferFormatProblem(Format);
    if (Problem != NULL) return Problem;
    U32 BytesPerPixel = (Info->FramebufferBpp + 7) / 8;
    if (Info->FramebufferWidth == 0 || Info->FramebufferHeight == 0 || Info->FramebufferWidth > FRAMEBUFFER_MAX_WIDTH) {
        return "width or height out of range";
    }
    if (Info->FramebufferPitch < (U64)Info->FramebufferWidth * BytesPerPixel) return "pitch shorter than a line";
    if ((U64)Info->FramebufferPitch * Info->FramebufferHeight > FRAMEBUFFER_MAX_BYTES) return "larger than 512 MiB";
    if (Info->FramebufferAddress + (U64)Info->FramebufferPitch * Info->FramebufferHeight < Info->FramebufferAddress) {
        return "address wraps around";
    }
    return NULL;
}

BOOL FramebufferInit(void) {
    const MULTIBOOT_INFO* Info = &KernelBootInfo;
    if (Fb.Present || !Info->HasFramebuffer || Info->FramebufferType == MULTIBOOT_FRAMEBUFFER_EGA_TEXT) return FALSE;
    if (!ConsoleScreensWanted()) return FALSE;

    PIXEL_FORMAT Format;
    LPCSTR Problem = CheckMode(Info, &Format);
    U32 Scale = 1;
    const FONT* Font = FontChoose(Info->FramebufferWidth, Info->FramebufferHeight, KernelGetOption("fbfont"), &Scale);
    if (Problem == NULL && !FramebufferRendererInit(&Fb.Renderer, &Format, Font, Scale)) Problem = "no font fits";
    if (Problem != NULL) {
        WARNING("[FramebufferInit] cannot use the %ux%ux%u framebuffer (type %u) at %llx: %s; console on serial only",
                Info->FramebufferWidth, Info->FramebufferHeight, Info->FramebufferBpp, Info->FramebufferType,
                Info->FramebufferAddress, Problem);
        return FALSE;
    }

    Fb.Physical = Info->FramebufferAddress;
    Fb.Width = Info->FramebufferWidth;
    Fb.Height = Info->FramebufferHeight;
    Fb.Pitch = Info->FramebufferPitch;
    Fb.Bytes = (U64)Fb.Pitch * Fb.Height;
    Fb.Columns = MIN(Fb.Width / Fb.Renderer.CellWidth, (U32)FRAMEBUFFER_MAX_COLUMNS);
    Fb.Rows = MIN(Fb.Height / Fb.Renderer.CellHeight, (U32)FRAMEBUFFER_MAX_ROWS);
    Fb.CursorRow = MAX_U32;
    TerminalInit(&Fb.Terminal, FramebufferCells, Fb.Columns, Fb.Rows);
    Fb.Present = TRUE;
    FramebufferConsole.Columns = Fb.Columns;
    FramebufferConsole.Rows = Fb.Rows;
    ConsoleRegister(&FramebufferConsole);
    INFO("[FramebufferInit] %ux%ux%u at %llx, pitch %u, RGB %u:%u:%u at %u:%u:%u, font %s x%u, %ux%u cells", Fb.Width,
         Fb.Height, Format.BitsPerPixel, Fb.Physical, Fb.Pitch, Format.RedSize, Format.GreenSize, Format.BlueSize,
         Format.RedPosition, Format.GreenPosition, Format.BluePosition, Font->Name, Scale, Fb.Columns, Fb.Rows);
    return TRUE;
}

/************************************************************************/
// Mapping and the first paint

BOOL FramebufferMap(void) {
    if (!Fb.Present) return FALSE;
    LINEAR Linear = MapIOMemoryWriteCombining(Fb.Physical, Fb.Bytes);
    if (Linear == 0) {
        WARNING("[FramebufferMap] cannot map %llu bytes at %llx; the screen stays dark", Fb.Bytes, Fb.Physical);
        return FALSE;
    }
    U64 Flags = SpinlockAcquire(&FramebufferLock);
    Fb.Pixels = (U8*)Linear;
    // The margins right of and below the grid stay black; the grid is painted (and timed) next.
    FramebufferFill(&Fb.Renderer, Fb.Pixels, Fb.Pitch, Fb.Width, Fb.Height, Fb.Renderer.Palette[0]);
    TerminalMarkAllDirty(&Fb.Terminal);
    U64 Start = ReadTSC();
    Flush();
    Fb.ScrollNs = ClockTicksToNs(ReadTSC() - Start);
    SpinlockRelease(&FramebufferLock, Flags);

    char Line[160];
    FramebufferDescribe(Line, sizeof(Line));
    INFO("[FramebufferMap] %s", Line);
    return TRUE;
}

BOOL FramebufferIsPresent(void) { return Fb.Present; }

void FramebufferDescribe(LPSTR Buffer, SIZE Size) {
    if (!Fb.Present) {
        StringCopy(Buffer, "framebuffer: none", Size);
        return;
    }
    U64 Micro = Fb.ScrollNs / 1000;
    StringPrintFormat(Buffer, Size, "framebuffer: %ux%ux%u, %s, font %s x%u, %ux%u cells, scroll %llu.%llu ms",
                      Fb.Width, Fb.Height, Fb.Renderer.Format.BitsPerPixel,
                      Fb.Pixels == NULL ? "not mapped" : (PagingHasWriteCombining() ? "write-combining" : "uncached"),
                      Fb.Renderer.Font->Name, Fb.Renderer.Scale, Fb.Columns, Fb.Rows, Micro / 1000,
                      (Micro % 1000) / 100);
}
