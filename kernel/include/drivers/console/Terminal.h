/*
 * Terminal.h - the text terminal every screen console shares: the byte
 * stream the serial console gets, interpreted onto a grid of cells.
 *
 * Layer: drivers/console, pure (no hardware; host unit tests drive it).
 * It owns the ANSI subset the line editor and the data view emit (see
 * Terminal.c) and the cursor, colours and dirty rows of one grid. The VGA
 * text console copies the cells to video memory as they are; the
 * framebuffer console draws them with a bitmap font.
 *
 * Cells are (attribute << 8) | character, with the VGA attribute layout
 * (foreground in bits 0-3, background in bits 4-6) and the character in
 * code page 437. Column == Columns means a wrap is pending. The caller
 * owns the cell array (Columns * Rows cells) and serialises calls.
 */

#ifndef DRIVERS_CONSOLE_TERMINAL_H_INCLUDED
#define DRIVERS_CONSOLE_TERMINAL_H_INCLUDED

#include "Base.h"

#define TERMINAL_MAX_PARAMETERS 8
#define TERMINAL_DEFAULT_ATTRIBUTE 0x07  // light grey on black

typedef struct tag_TERMINAL {
    U16* Cells;
    U32 Columns, Rows;

    U32 Row, Column;  // Column == Columns: a wrap is pending
    U32 SavedRow, SavedColumn;
    U8 Foreground, Background;
    BOOL Bold, Reverse;
    U8 Attribute;
    BOOL CursorVisible;

    U32 DirtyFirst, DirtyLast;  // rows changed since TerminalTakeDirty (MAX_U32: none)

    U8 ParseState;
    BOOL Private;
    U32 ParameterCount;
    U32 Parameters[TERMINAL_MAX_PARAMETERS];
} TERMINAL;

/** Starts a terminal on Cells (Columns * Rows, both at least 1): blank, cursor home, default colours. */
void TerminalInit(TERMINAL* Terminal, U16* Cells, U32 Columns, U32 Rows);
void TerminalWrite(TERMINAL* Terminal, LPCSTR Text, SIZE Length);
U16 TerminalCell(const TERMINAL* Terminal, U32 Row, U32 Column);
/** The cursor (Column == Columns while a wrap is pending) and whether it is shown. */
void TerminalCursor(const TERMINAL* Terminal, U32* Row, U32* Column, BOOL* Visible);
/** Marks every row changed (after a remap, the screen must be repainted). */
void TerminalMarkAllDirty(TERMINAL* Terminal);
/** The rows changed since the last call; FALSE when none. Clears the record. */
BOOL TerminalTakeDirty(TERMINAL* Terminal, U32* First, U32* Last);

#endif  // DRIVERS_CONSOLE_TERMINAL_H_INCLUDED
