/*
 * VGA.c - the VGA text console (see VGA.h).
 *
 * Layer: drivers/console. Owns the text buffer mapping and the CRTC cursor;
 * the byte stream is interpreted by the shared terminal (Terminal.c) into a
 * shadow array of cells (character in the low byte, attribute in the high
 * byte), and the rows it touched are copied to the text buffer at the end
 * of each write, with plain 16-bit volatile stores. The shadow makes scrolling cheap (no reads
 * from video memory) and lets the screen be repainted after a remap.
 *
 * The console's writes arrive under the console lock; VGALock also guards
 * the mapping for VGARemap. Writes only try VGALock for a bounded time, so
 * the emergency path of an exception handler is never blocked by it.
 *
 * The mapping made on the boot page tables becomes invalid when MemoryInit
 * loads its own; CR3 is remembered at mapping time and compared on each
 * write, so a stale mapping is never used: output then only reaches the
 * shadow until VGARemap maps the buffer again.
 */

#include "drivers/console/VGA.h"

#include "drivers/console/Terminal.h"
#include "utils/String.h"

#define VGA_TEXT_PHYSICAL 0xB8000
#define VGA_MONO_TEXT_PHYSICAL 0xB0000
#define VGA_DEFAULT_COLUMNS 80
#define VGA_DEFAULT_ROWS 25
#define VGA_MAX_COLUMNS 132
#define VGA_MAX_ROWS 60

// CRT controller (colour base 0x3D4; monochrome adapters use 0x3B4).
#define CRTC_COLOR_INDEX 0x3D4
#define CRTC_MONO_INDEX 0x3B4
#define CRTC_CURSOR_START 0x0A
#define CRTC_CURSOR_HIGH 0x0E
#define CRTC_CURSOR_LOW 0x0F
#define CRTC_CURSOR_DISABLE 0x20

#define VGA_LOCK_TRIES 100000

typedef struct tag_VGA_CONSOLE {
    BOOL Present;
    PHYSICAL Physical;
    U16 CrtcIndex;
    U32 Columns, Rows;
    volatile U16* Hardware;  // NULL while unmapped
    U64 MappedCR3;
    U32 HardwareCursor;      // position last written to the CRTC (MAX_U32: unknown)
    TERMINAL Terminal;       // the text, in VgaShadow
} VGA_CONSOLE;

static VGA_CONSOLE Vga;
static U16 VgaShadow[VGA_MAX_COLUMNS * VGA_MAX_ROWS];

/************************************************************************/
// The terminal without hardware (host unit tests)

void VGATerminalReset(U32 Columns, U32 Rows) {
    MemorySet(&Vga, 0, sizeof(Vga));
    Vga.Columns = (Columns >= 1 && Columns <= VGA_MAX_COLUMNS) ? Columns : VGA_DEFAULT_COLUMNS;
    Vga.Rows = (Rows >= 1 && Rows <= VGA_MAX_ROWS) ? Rows : VGA_DEFAULT_ROWS;
    TerminalInit(&Vga.Terminal, VgaShadow, Vga.Columns, Vga.Rows);
}

void VGATerminalWrite(LPCSTR Text, SIZE Length) { TerminalWrite(&Vga.Terminal, Text, Length); }

U16 VGATerminalCell(U32 Row, U32 Column) { return TerminalCell(&Vga.Terminal, Row, Column); }

void VGATerminalCursor(U32* Row, U32* Column, BOOL* Visible) { TerminalCursor(&Vga.Terminal, Row, Column, Visible); }

/************************************************************************/
// Hardware (kernel only)

#ifndef CAIRN_HOST_BUILD

#include "arch/x86-64/CPU.h"
#include "core/Log.h"
#include "core/Multiboot.h"
#include "core/Spinlock.h"
#include "drivers/console/Console.h"
#include "memory/Paging.h"

static SPINLOCK VgaLock = SPINLOCK_INIT;

/** Copies the dirty rows to video memory and moves the hardware cursor. */
static void FlushToHardware(void) {
    if (Vga.Hardware != NULL && ReadCR3() != Vga.MappedCR3) Vga.Hardware = NULL;  // page tables changed
    if (Vga.Hardware == NULL) return;

    U32 First, Last;
    if (TerminalTakeDirty(&Vga.Terminal, &First, &Last)) {
        for (U32 Index = First * Vga.Columns; Index < (Last + 1) * Vga.Columns; Index++) {
            Vga.Hardware[Index] = VgaShadow[Index];
        }
    }

    U32 Row, Column;
    BOOL Visible;
    TerminalCursor(&Vga.Terminal, &Row, &Column, &Visible);
    U32 Position = Row * Vga.Columns + MIN(Column, Vga.Columns - 1);
    if (!Visible) Position = Vga.Rows * Vga.Columns;  // off screen hides it
    if (Position != Vga.HardwareCursor) {
        OutPortByte(Vga.CrtcIndex, CRTC_CURSOR_LOW);
        OutPortByte(Vga.CrtcIndex + 1, (U8)(Position & 0xFF));
        OutPortByte(Vga.CrtcIndex, CRTC_CURSOR_HIGH);
        OutPortByte(Vga.CrtcIndex + 1, (U8)((Position >> 8) & 0xFF));
        Vga.HardwareCursor = Position;
    }
}

static void VGAConsoleWrite(LPCSTR Text, SIZE Length) {
    U64 Flags = 0;
    BOOL Locked = SpinlockTryAcquireBounded(&VgaLock, &Flags, VGA_LOCK_TRIES);

    TerminalWrite(&Vga.Terminal, Text, Length);
    FlushToHardware();

    if (Locked) SpinlockRelease(&VgaLock, Flags);
}

static CONSOLE_DEVICE VGAConsole = {"vga", VGAConsoleWrite, NULL, TRUE, 0, 0};

/************************************************************************/
// Detection and mapping

static LINEAR VGAMapBuffer(void) { return MapIOMemory(Vga.Physical, (U64)Vga.Columns * Vga.Rows * sizeof(U16)); }

/** Starts using Linear as the text buffer and repaints everything there. */
static void VGAUseMapping(LINEAR Linear) {
    Vga.Hardware = (volatile U16*)Linear;
    Vga.MappedCR3 = ReadCR3();
    Vga.HardwareCursor = MAX_U32;
    TerminalMarkAllDirty(&Vga.Terminal);
    FlushToHardware();
}

static void EnableHardwareCursor(void) {
    OutPortByte(Vga.CrtcIndex, CRTC_CURSOR_START);
    U8 Start = InPortByte(Vga.CrtcIndex + 1);
    OutPortByte(Vga.CrtcIndex + 1, (U8)(Start & ~CRTC_CURSOR_DISABLE));
}

BOOL VGAInit(void) {
    const MULTIBOOT_INFO* Info = &KernelBootInfo;
    if (Vga.Present) return TRUE;
    if (!ConsoleScreensWanted()) return FALSE;

    Vga.Physical = VGA_TEXT_PHYSICAL;
    Vga.Columns = VGA_DEFAULT_COLUMNS;
    Vga.Rows = VGA_DEFAULT_ROWS;
    if (Info->HasFramebuffer) {
        // A pixel framebuffer (UEFI GOP, a VBE mode) has no text buffer.
        if (Info->FramebufferType != MULTIBOOT_FRAMEBUFFER_EGA_TEXT) return FALSE;
        // Text buffers live at one of the two legacy addresses; anything else is a bad tag.
        if (Info->FramebufferAddress == VGA_MONO_TEXT_PHYSICAL) Vga.Physical = VGA_MONO_TEXT_PHYSICAL;
        if (Info->FramebufferWidth >= 40 && Info->FramebufferWidth <= VGA_MAX_COLUMNS &&
            Info->FramebufferHeight >= 10 && Info->FramebufferHeight <= VGA_MAX_ROWS) {
            Vga.Columns = Info->FramebufferWidth;
            Vga.Rows = Info->FramebufferHeight;
        }
    } else if (Info->BootedFromEFI) {
        return FALSE;  // EFI firmware leaves no text mode
    }
    Vga.CrtcIndex = Vga.Physical == VGA_MONO_TEXT_PHYSICAL ? CRTC_MONO_INDEX : CRTC_COLOR_INDEX;

    TerminalInit(&Vga.Terminal, VgaShadow, Vga.Columns, Vga.Rows);
    LINEAR Linear = VGAMapBuffer();
    if (Linear == 0) return FALSE;
    VGAUseMapping(Linear);
    EnableHardwareCursor();

    Vga.Present = TRUE;
    VGAConsole.Columns = Vga.Columns;
    VGAConsole.Rows = Vga.Rows;
    ConsoleRegister(&VGAConsole);
    INFO("[VGAInit] text console %ux%u at %llx", Vga.Columns, Vga.Rows, Vga.Physical);
    return TRUE;
}

BOOL VGAIsPresent(void) { return Vga.Present; }

BOOL VGARemap(void) {
    if (!Vga.Present) return FALSE;
    LINEAR Linear = VGAMapBuffer();  // outside the lock: the mapping code may take its own
    if (Linear == 0) return FALSE;
    U64 Flags = SpinlockAcquire(&VgaLock);
    VGAUseMapping(Linear);
    SpinlockRelease(&VgaLock, Flags);
    return TRUE;
}

#endif  // CAIRN_HOST_BUILD
