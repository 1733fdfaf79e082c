/*
 * VGA.c - the VGA text console (see VGA.h).
 *
 * The screen lives in a shadow array of cells (character in the low byte,
 * attribute in the high byte); every change goes there first and the rows
 * it touched are copied to the text buffer at the end of each write, with
 * plain 16-bit volatile stores. The shadow makes scrolling cheap (no reads
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
 *
 * Escape sequences follow ECMA-48 / the xterm subset: CSI n A/B/C/D (cursor
 * moves), CSI r;c H and f, CSI n G and d, CSI n J and K (erase), CSI ... m
 * (SGR 0, 1, 7, 22, 27, 30-37, 39, 40-47, 49, 90-97, 100-107), CSI ?25 h/l
 * (cursor on/off), CSI s/u (save/restore), ESC c (reset); ESC ( x and ESC ) x are ignored.
 */

#include "drivers/console/VGA.h"

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

#define DEFAULT_FOREGROUND 7  // light grey
#define DEFAULT_BACKGROUND 0  // black
#define TAB_WIDTH 8
#define MAX_PARAMETERS 8
#define VGA_LOCK_TRIES 100000

#define PARSE_NORMAL 0
#define PARSE_ESCAPE 1
#define PARSE_CSI 2
#define PARSE_CHARSET 3  // ESC ( or ESC ): one more byte names a character set

typedef struct tag_VGA_CONSOLE {
    BOOL Present;
    PHYSICAL Physical;
    U16 CrtcIndex;
    U32 Columns, Rows;
    volatile U16* Hardware;  // NULL while unmapped
    U64 MappedCR3;

    U32 Row, Column;         // Column == Columns: a wrap is pending
    U32 SavedRow, SavedColumn;
    U8 Foreground, Background;
    BOOL Bold, Reverse;
    U8 Attribute;
    BOOL CursorVisible;
    U32 HardwareCursor;      // position last written to the CRTC (MAX_U32: unknown)

    U32 DirtyFirst, DirtyLast;  // rows to copy out (DirtyFirst > DirtyLast: none)

    U8 ParseState;
    BOOL Private;
    U32 ParameterCount;
    U32 Parameters[MAX_PARAMETERS];
} VGA_CONSOLE;

static VGA_CONSOLE Vga;
static U16 VgaShadow[VGA_MAX_COLUMNS * VGA_MAX_ROWS];

// ANSI colour order (black red green yellow blue magenta cyan white) to VGA palette indexes.
static const U8 AnsiToVga[8] = {0, 4, 2, 6, 1, 5, 3, 7};

/************************************************************************/
// Cells and rows

static void MarkDirty(U32 First, U32 Last) {
    if (First < Vga.DirtyFirst) Vga.DirtyFirst = First;
    if (Last > Vga.DirtyLast || Vga.DirtyLast == MAX_U32) Vga.DirtyLast = Last;
}

static void UpdateAttribute(void) {
    U8 Foreground = Vga.Foreground;
    U8 Background = Vga.Background;
    if (Vga.Bold) Foreground |= 0x08;
    if (Vga.Reverse) {
        U8 Swap = Foreground;
        Foreground = Background;
        Background = Swap & 0x07;  // bit 3 of the background is blink on a default VGA
    }
    Vga.Attribute = (U8)((Background << 4) | (Foreground & 0x0F));
}

static U16 BlankCell(void) { return (U16)(((U16)Vga.Attribute << 8) | ' '); }

static void ClearCells(U32 Row, U32 FirstColumn, U32 EndColumn) {
    U16 Blank = BlankCell();
    for (U32 Column = FirstColumn; Column < EndColumn && Column < Vga.Columns; Column++) {
        VgaShadow[Row * Vga.Columns + Column] = Blank;
    }
    MarkDirty(Row, Row);
}

static void ClearRows(U32 FirstRow, U32 EndRow) {
    for (U32 Row = FirstRow; Row < EndRow && Row < Vga.Rows; Row++) ClearCells(Row, 0, Vga.Columns);
}

static void ScrollUp(void) {
    MemoryMove(VgaShadow, VgaShadow + Vga.Columns, (SIZE)(Vga.Rows - 1) * Vga.Columns * sizeof(U16));
    ClearCells(Vga.Rows - 1, 0, Vga.Columns);
    MarkDirty(0, Vga.Rows - 1);
}

static void NewLine(void) {
    Vga.Column = 0;
    if (Vga.Row + 1 < Vga.Rows) Vga.Row++;
    else ScrollUp();
}

static void PutCharacter(U8 Character) {
    if (Vga.Column >= Vga.Columns) NewLine();
    VgaShadow[Vga.Row * Vga.Columns + Vga.Column] = (U16)(((U16)Vga.Attribute << 8) | Character);
    MarkDirty(Vga.Row, Vga.Row);
    Vga.Column++;
}

/************************************************************************/
// Escape sequences

static U32 Parameter(U32 Index, U32 Default) {
    if (Index >= Vga.ParameterCount || Vga.Parameters[Index] == 0) return Default;
    return Vga.Parameters[Index];
}

static void SelectGraphicRendition(void) {
    if (Vga.ParameterCount == 0) {
        Vga.ParameterCount = 1;
        Vga.Parameters[0] = 0;
    }
    for (U32 Index = 0; Index < Vga.ParameterCount; Index++) {
        U32 Code = Vga.Parameters[Index];
        if (Code == 0) {
            Vga.Foreground = DEFAULT_FOREGROUND;
            Vga.Background = DEFAULT_BACKGROUND;
            Vga.Bold = FALSE;
            Vga.Reverse = FALSE;
        } else if (Code == 1) {
            Vga.Bold = TRUE;
        } else if (Code == 22) {
            Vga.Bold = FALSE;
        } else if (Code == 7) {
            Vga.Reverse = TRUE;
        } else if (Code == 27) {
            Vga.Reverse = FALSE;
        } else if (Code >= 30 && Code <= 37) {
            Vga.Foreground = AnsiToVga[Code - 30];
        } else if (Code == 39) {
            Vga.Foreground = DEFAULT_FOREGROUND;
        } else if (Code >= 40 && Code <= 47) {
            Vga.Background = AnsiToVga[Code - 40];
        } else if (Code == 49) {
            Vga.Background = DEFAULT_BACKGROUND;
        } else if (Code >= 90 && Code <= 97) {
            Vga.Foreground = (U8)(AnsiToVga[Code - 90] | 0x08);
        } else if (Code >= 100 && Code <= 107) {
            Vga.Background = AnsiToVga[Code - 100];  // no bright backgrounds without disabling blink
        }
    }
    UpdateAttribute();
}

static void EraseInDisplay(U32 Mode) {
    U32 Column = MIN(Vga.Column, Vga.Columns);
    if (Mode == 0) {
        ClearCells(Vga.Row, Column, Vga.Columns);
        ClearRows(Vga.Row + 1, Vga.Rows);
    } else if (Mode == 1) {
        ClearRows(0, Vga.Row);
        ClearCells(Vga.Row, 0, Column + 1);
    } else {
        ClearRows(0, Vga.Rows);
    }
}

static void EraseInLine(U32 Mode) {
    U32 Column = MIN(Vga.Column, Vga.Columns);
    if (Mode == 0) ClearCells(Vga.Row, Column, Vga.Columns);
    else if (Mode == 1) ClearCells(Vga.Row, 0, Column + 1);
    else ClearCells(Vga.Row, 0, Vga.Columns);
}

static void MoveTo(U32 Row, U32 Column) {
    Vga.Row = MIN(Row, Vga.Rows - 1);
    Vga.Column = MIN(Column, Vga.Columns - 1);
}

static void ResetTerminal(void) {
    Vga.Foreground = DEFAULT_FOREGROUND;
    Vga.Background = DEFAULT_BACKGROUND;
    Vga.Bold = FALSE;
    Vga.Reverse = FALSE;
    Vga.CursorVisible = TRUE;
    UpdateAttribute();
    ClearRows(0, Vga.Rows);
    Vga.Row = 0;
    Vga.Column = 0;
    Vga.SavedRow = 0;
    Vga.SavedColumn = 0;
}

static void ExecuteCSI(U8 Final) {
    U32 Column = MIN(Vga.Column, Vga.Columns - 1);
    U32 Count = Parameter(0, 1);

    if (Vga.Private) {
        if ((Final == 'h' || Final == 'l') && Parameter(0, 0) == 25) Vga.CursorVisible = (Final == 'h');
        return;
    }
    switch (Final) {
        case 'A': MoveTo(Vga.Row >= Count ? Vga.Row - Count : 0, Column); break;
        case 'B': MoveTo(Vga.Row + MIN(Count, Vga.Rows), Column); break;
        case 'C': MoveTo(Vga.Row, Column + MIN(Count, Vga.Columns)); break;
        case 'D': MoveTo(Vga.Row, Column >= Count ? Column - Count : 0); break;
        case 'G': MoveTo(Vga.Row, MIN(Count, Vga.Columns) - 1); break;
        case 'd': MoveTo(MIN(Count, Vga.Rows) - 1, Column); break;
        case 'H':
        case 'f': MoveTo(MIN(Parameter(0, 1), Vga.Rows) - 1, MIN(Parameter(1, 1), Vga.Columns) - 1); break;
        case 'J': EraseInDisplay(Vga.ParameterCount ? Vga.Parameters[0] : 0); break;
        case 'K': EraseInLine(Vga.ParameterCount ? Vga.Parameters[0] : 0); break;
        case 'm': SelectGraphicRendition(); break;
        case 's': Vga.SavedRow = Vga.Row; Vga.SavedColumn = Column; break;
        case 'u': MoveTo(Vga.SavedRow, Vga.SavedColumn); break;
        default: break;  // other sequences are consumed and ignored
    }
}

static void WriteByte(U8 Byte);

static void ParseCSI(U8 Byte) {
    if (Byte >= '0' && Byte <= '9') {
        if (Vga.ParameterCount == 0) Vga.ParameterCount = 1;
        U32* Value = &Vga.Parameters[Vga.ParameterCount - 1];
        if (*Value < 10000) *Value = *Value * 10 + (U32)(Byte - '0');
    } else if (Byte == ';') {
        if (Vga.ParameterCount == 0) Vga.ParameterCount = 1;
        if (Vga.ParameterCount < MAX_PARAMETERS) Vga.Parameters[Vga.ParameterCount++] = 0;
    } else if (Byte == '?') {
        Vga.Private = TRUE;
    } else if (Byte >= 0x40 && Byte <= 0x7E) {
        ExecuteCSI(Byte);
        Vga.ParseState = PARSE_NORMAL;
    } else if (Byte < 0x20 || Byte > 0x7E) {
        // Broken sequence: drop it; a control character in it still acts (ECMA-48 executes them).
        Vga.ParseState = PARSE_NORMAL;
        if (Byte < 0x20) WriteByte(Byte);
    }
}

/************************************************************************/
// The byte stream

static void WriteByte(U8 Byte) {
    if (Vga.ParseState == PARSE_ESCAPE) {
        Vga.ParseState = PARSE_NORMAL;
        if (Byte == '[') {
            Vga.ParseState = PARSE_CSI;
            Vga.Private = FALSE;
            Vga.ParameterCount = 0;
            MemorySet(Vga.Parameters, 0, sizeof(Vga.Parameters));
        } else if (Byte == 'c') {
            ResetTerminal();
        } else if (Byte == '(' || Byte == ')') {
            Vga.ParseState = PARSE_CHARSET;
        }
        return;
    }
    if (Vga.ParseState == PARSE_CHARSET) {
        Vga.ParseState = PARSE_NORMAL;
        return;
    }
    if (Vga.ParseState == PARSE_CSI) {
        ParseCSI(Byte);
        return;
    }

    switch (Byte) {
        case 0x1B:
            Vga.ParseState = PARSE_ESCAPE;
            break;
        case '\n':
            NewLine();
            break;
        case '\r':
            Vga.Column = 0;
            break;
        case '\b':
            // Backspace at the start of a row goes to the end of the one above, so an input line
            // that wrapped can be walked back over.
            if (Vga.Column > 0) {
                Vga.Column--;
            } else if (Vga.Row > 0) {
                Vga.Row--;
                Vga.Column = Vga.Columns - 1;
            }
            break;
        case '\t':
            do {
                PutCharacter(' ');
            } while (Vga.Column < Vga.Columns && Vga.Column % TAB_WIDTH != 0);
            break;
        default:
            if (Byte >= 0x20 && Byte != 0x7F) PutCharacter(Byte);
            break;  // other control characters (bell...) show nothing
    }
}

/************************************************************************/
// The terminal without hardware (host unit tests)

void VGATerminalReset(U32 Columns, U32 Rows) {
    MemorySet(&Vga, 0, sizeof(Vga));
    Vga.Columns = (Columns >= 1 && Columns <= VGA_MAX_COLUMNS) ? Columns : VGA_DEFAULT_COLUMNS;
    Vga.Rows = (Rows >= 1 && Rows <= VGA_MAX_ROWS) ? Rows : VGA_DEFAULT_ROWS;
    Vga.DirtyFirst = MAX_U32;
    Vga.DirtyLast = MAX_U32;
    ResetTerminal();
}

void VGATerminalWrite(LPCSTR Text, SIZE Length) {
    for (SIZE Index = 0; Index < Length; Index++) WriteByte((U8)Text[Index]);
}

U16 VGATerminalCell(U32 Row, U32 Column) {
    if (Row >= Vga.Rows || Column >= Vga.Columns) return 0;
    return VgaShadow[Row * Vga.Columns + Column];
}

void VGATerminalCursor(U32* Row, U32* Column, BOOL* Visible) {
    *Row = Vga.Row;
    *Column = Vga.Column;
    *Visible = Vga.CursorVisible;
}

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

    if (Vga.DirtyLast != MAX_U32 && Vga.DirtyFirst <= Vga.DirtyLast) {
        for (U32 Index = Vga.DirtyFirst * Vga.Columns; Index < (Vga.DirtyLast + 1) * Vga.Columns; Index++) {
            Vga.Hardware[Index] = VgaShadow[Index];
        }
    }
    Vga.DirtyFirst = MAX_U32;
    Vga.DirtyLast = MAX_U32;

    U32 Position = Vga.Row * Vga.Columns + MIN(Vga.Column, Vga.Columns - 1);
    if (!Vga.CursorVisible) Position = Vga.Rows * Vga.Columns;  // off screen hides it
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
    BOOL Locked = FALSE;
    for (U32 Try = 0; Try < VGA_LOCK_TRIES && !Locked; Try++) Locked = SpinlockTryAcquire(&VgaLock, &Flags);

    for (SIZE Index = 0; Index < Length; Index++) WriteByte((U8)Text[Index]);
    FlushToHardware();

    if (Locked) SpinlockRelease(&VgaLock, Flags);
}

static CONSOLE_DEVICE VGAConsole = {"vga", VGAConsoleWrite, NULL};

/************************************************************************/
// Detection and mapping

static LINEAR VGAMapBuffer(void) { return MapIOMemory(Vga.Physical, (U64)Vga.Columns * Vga.Rows * sizeof(U16)); }

/** Starts using Linear as the text buffer and repaints everything there. */
static void VGAUseMapping(LINEAR Linear) {
    Vga.Hardware = (volatile U16*)Linear;
    Vga.MappedCR3 = ReadCR3();
    Vga.HardwareCursor = MAX_U32;
    MarkDirty(0, Vga.Rows - 1);
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

    Vga.DirtyFirst = MAX_U32;
    Vga.DirtyLast = MAX_U32;
    Vga.ParseState = PARSE_NORMAL;
    ResetTerminal();
    LINEAR Linear = VGAMapBuffer();
    if (Linear == 0) return FALSE;
    VGAUseMapping(Linear);
    EnableHardwareCursor();

    Vga.Present = TRUE;
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
