/*
 * Terminal.c - the text terminal shared by the screen consoles (see Terminal.h).
 *
 * Layer: drivers/console, pure. Owns the interpretation of the console byte
 * stream; the VGA and framebuffer consoles own only how cells reach the
 * screen. Every change lands in the caller's cell array and widens the
 * dirty row range, which the console takes after each write to copy or
 * redraw just those rows. Scrolling moves cells in RAM: video memory is
 * never read.
 *
 * Escape sequences follow ECMA-48 / the xterm subset: CSI n A/B/C/D (cursor
 * moves), CSI r;c H and f, CSI n G and d, CSI n J and K (erase), CSI ... m
 * (SGR 0, 1, 7, 22, 27, 30-37, 39, 40-47, 49, 90-97, 100-107), CSI ?25 h/l
 * (cursor on/off), CSI s/u (save/restore), ESC c (reset); ESC ( x and ESC ) x
 * are ignored. Bytes from 0x20 up (but 0x7F) are shown as code page 437.
 */

#include "drivers/console/Terminal.h"

#include "utils/String.h"

#define DEFAULT_FOREGROUND 7  // light grey
#define DEFAULT_BACKGROUND 0  // black
#define TAB_WIDTH 8

#define PARSE_NORMAL 0
#define PARSE_ESCAPE 1
#define PARSE_CSI 2
#define PARSE_CHARSET 3  // ESC ( or ESC ): one more byte names a character set

// ANSI colour order (black red green yellow blue magenta cyan white) to VGA palette indexes.
static const U8 AnsiToVga[8] = {0, 4, 2, 6, 1, 5, 3, 7};

/************************************************************************/
// Cells and rows

static void MarkDirty(TERMINAL* T, U32 First, U32 Last) {
    if (First < T->DirtyFirst) T->DirtyFirst = First;
    if (Last > T->DirtyLast || T->DirtyLast == MAX_U32) T->DirtyLast = Last;
}

static void UpdateAttribute(TERMINAL* T) {
    U8 Foreground = T->Foreground;
    U8 Background = T->Background;
    if (T->Bold) Foreground |= 0x08;
    if (T->Reverse) {
        U8 Swap = Foreground;
        Foreground = Background;
        Background = Swap & 0x07;  // bit 3 of the background is blink on a default VGA
    }
    T->Attribute = (U8)((Background << 4) | (Foreground & 0x0F));
}

static U16 BlankCell(TERMINAL* T) { return (U16)(((U16)T->Attribute << 8) | ' '); }

static void ClearCells(TERMINAL* T, U32 Row, U32 FirstColumn, U32 EndColumn) {
    U16 Blank = BlankCell(T);
    for (U32 Column = FirstColumn; Column < EndColumn && Column < T->Columns; Column++) {
        T->Cells[Row * T->Columns + Column] = Blank;
    }
    MarkDirty(T, Row, Row);
}

static void ClearRows(TERMINAL* T, U32 FirstRow, U32 EndRow) {
    for (U32 Row = FirstRow; Row < EndRow && Row < T->Rows; Row++) ClearCells(T, Row, 0, T->Columns);
}

static void ScrollUp(TERMINAL* T) {
    MemoryMove(T->Cells, T->Cells + T->Columns, (SIZE)(T->Rows - 1) * T->Columns * sizeof(U16));
    ClearCells(T, T->Rows - 1, 0, T->Columns);
    MarkDirty(T, 0, T->Rows - 1);
}

static void NewLine(TERMINAL* T) {
    T->Column = 0;
    if (T->Row + 1 < T->Rows) T->Row++;
    else ScrollUp(T);
}

static void PutCharacter(TERMINAL* T, U8 Character) {
    if (T->Column >= T->Columns) NewLine(T);
    T->Cells[T->Row * T->Columns + T->Column] = (U16)(((U16)T->Attribute << 8) | Character);
    MarkDirty(T, T->Row, T->Row);
    T->Column++;
}

/************************************************************************/
// Escape sequences

static U32 Parameter(TERMINAL* T, U32 Index, U32 Default) {
    if (Index >= T->ParameterCount || T->Parameters[Index] == 0) return Default;
    return T->Parameters[Index];
}

static void SelectGraphicRendition(TERMINAL* T) {
    if (T->ParameterCount == 0) {
        T->ParameterCount = 1;
        T->Parameters[0] = 0;
    }
    for (U32 Index = 0; Index < T->ParameterCount; Index++) {
        U32 Code = T->Parameters[Index];
        if (Code == 0) {
            T->Foreground = DEFAULT_FOREGROUND;
            T->Background = DEFAULT_BACKGROUND;
            T->Bold = FALSE;
            T->Reverse = FALSE;
        } else if (Code == 1) {
            T->Bold = TRUE;
        } else if (Code == 22) {
            T->Bold = FALSE;
        } else if (Code == 7) {
            T->Reverse = TRUE;
        } else if (Code == 27) {
            T->Reverse = FALSE;
        } else if (Code >= 30 && Code <= 37) {
            T->Foreground = AnsiToVga[Code - 30];
        } else if (Code == 39) {
            T->Foreground = DEFAULT_FOREGROUND;
        } else if (Code >= 40 && Code <= 47) {
            T->Background = AnsiToVga[Code - 40];
        } else if (Code == 49) {
            T->Background = DEFAULT_BACKGROUND;
        } else if (Code >= 90 && Code <= 97) {
            T->Foreground = (U8)(AnsiToVga[Code - 90] | 0x08);
        } else if (Code >= 100 && Code <= 107) {
            T->Background = AnsiToVga[Code - 100];  // no bright backgrounds without disabling blink
        }
    }
    UpdateAttribute(T);
}

static void EraseInDisplay(TERMINAL* T, U32 Mode) {
    U32 Column = MIN(T->Column, T->Columns);
    if (Mode == 0) {
        ClearCells(T, T->Row, Column, T->Columns);
        ClearRows(T, T->Row + 1, T->Rows);
    } else if (Mode == 1) {
        ClearRows(T, 0, T->Row);
        ClearCells(T, T->Row, 0, Column + 1);
    } else {
        ClearRows(T, 0, T->Rows);
    }
}

static void EraseInLine(TERMINAL* T, U32 Mode) {
    U32 Column = MIN(T->Column, T->Columns);
    if (Mode == 0) ClearCells(T, T->Row, Column, T->Columns);
    else if (Mode == 1) ClearCells(T, T->Row, 0, Column + 1);
    else ClearCells(T, T->Row, 0, T->Columns);
}

static void MoveTo(TERMINAL* T, U32 Row, U32 Column) {
    T->Row = MIN(Row, T->Rows - 1);
    T->Column = MIN(Column, T->Columns - 1);
}

static void ResetTerminal(TERMINAL* T) {
    T->Foreground = DEFAULT_FOREGROUND;
    T->Background = DEFAULT_BACKGROUND;
    T->Bold = FALSE;
    T->Reverse = FALSE;
    T->CursorVisible = TRUE;
    UpdateAttribute(T);
    ClearRows(T, 0, T->Rows);
    T->Row = 0;
    T->Column = 0;
    T->SavedRow = 0;
    T->SavedColumn = 0;
}

static void ExecuteCSI(TERMINAL* T, U8 Final) {
    U32 Column = MIN(T->Column, T->Columns - 1);
    U32 Count = Parameter(T, 0, 1);

    if (T->Private) {
        if ((Final == 'h' || Final == 'l') && Parameter(T, 0, 0) == 25) T->CursorVisible = (Final == 'h');
        return;
    }
    switch (Final) {
        case 'A': MoveTo(T, T->Row >= Count ? T->Row - Count : 0, Column); break;
        case 'B': MoveTo(T, T->Row + MIN(Count, T->Rows), Column); break;
        case 'C': MoveTo(T, T->Row, Column + MIN(Count, T->Columns)); break;
        case 'D': MoveTo(T, T->Row, Column >= Count ? Column - Count : 0); break;
        case 'G': MoveTo(T, T->Row, MIN(Count, T->Columns) - 1); break;
        case 'd': MoveTo(T, MIN(Count, T->Rows) - 1, Column); break;
        case 'H':
        case 'f': MoveTo(T, MIN(Parameter(T, 0, 1), T->Rows) - 1, MIN(Parameter(T, 1, 1), T->Columns) - 1); break;
        case 'J': EraseInDisplay(T, T->ParameterCount ? T->Parameters[0] : 0); break;
        case 'K': EraseInLine(T, T->ParameterCount ? T->Parameters[0] : 0); break;
        case 'm': SelectGraphicRendition(T); break;
        case 's': T->SavedRow = T->Row; T->SavedColumn = Column; break;
        case 'u': MoveTo(T, T->SavedRow, T->SavedColumn); break;
        default: break;  // other sequences are consumed and ignored
    }
}

static void WriteByte(TERMINAL* T, U8 Byte);

static void ParseCSI(TERMINAL* T, U8 Byte) {
    if (Byte >= '0' && Byte <= '9') {
        if (T->ParameterCount == 0) T->ParameterCount = 1;
        U32* Value = &T->Parameters[T->ParameterCount - 1];
        if (*Value < 10000) *Value = *Value * 10 + (U32)(Byte - '0');
    } else if (Byte == ';') {
        if (T->ParameterCount == 0) T->ParameterCount = 1;
        if (T->ParameterCount < TERMINAL_MAX_PARAMETERS) T->Parameters[T->ParameterCount++] = 0;
    } else if (Byte == '?') {
        T->Private = TRUE;
    } else if (Byte >= 0x40 && Byte <= 0x7E) {
        ExecuteCSI(T, Byte);
        T->ParseState = PARSE_NORMAL;
    } else if (Byte < 0x20 || Byte > 0x7E) {
        // Broken sequence: drop it; a control character in it still acts (ECMA-48 executes them).
        T->ParseState = PARSE_NORMAL;
        if (Byte < 0x20) WriteByte(T, Byte);
    }
}

/************************************************************************/
// The byte stream

static void WriteByte(TERMINAL* T, U8 Byte) {
    if (T->ParseState == PARSE_ESCAPE) {
        T->ParseState = PARSE_NORMAL;
        if (Byte == '[') {
            T->ParseState = PARSE_CSI;
            T->Private = FALSE;
            T->ParameterCount = 0;
            MemorySet(T->Parameters, 0, sizeof(T->Parameters));
        } else if (Byte == 'c') {
            ResetTerminal(T);
        } else if (Byte == '(' || Byte == ')') {
            T->ParseState = PARSE_CHARSET;
        }
        return;
    }
    if (T->ParseState == PARSE_CHARSET) {
        T->ParseState = PARSE_NORMAL;
        return;
    }
    if (T->ParseState == PARSE_CSI) {
        ParseCSI(T, Byte);
        return;
    }

    switch (Byte) {
        case 0x1B:
            T->ParseState = PARSE_ESCAPE;
            break;
        case '\n':
            NewLine(T);
            break;
        case '\r':
            T->Column = 0;
            break;
        case '\b':
            // Backspace at the start of a row goes to the end of the one above, so an input line
            // that wrapped can be walked back over.
            if (T->Column > 0) {
                T->Column--;
            } else if (T->Row > 0) {
                T->Row--;
                T->Column = T->Columns - 1;
            }
            break;
        case '\t':
            do {
                PutCharacter(T, ' ');
            } while (T->Column < T->Columns && T->Column % TAB_WIDTH != 0);
            break;
        default:
            if (Byte >= 0x20 && Byte != 0x7F) PutCharacter(T, Byte);
            break;  // other control characters (bell...) show nothing
    }
}

/************************************************************************/
// Interface

void TerminalInit(TERMINAL* T, U16* Cells, U32 Columns, U32 Rows) {
    MemorySet(T, 0, sizeof(*T));
    T->Cells = Cells;
    T->Columns = Columns ? Columns : 1;
    T->Rows = Rows ? Rows : 1;
    T->DirtyFirst = MAX_U32;
    T->DirtyLast = MAX_U32;
    T->ParseState = PARSE_NORMAL;
    ResetTerminal(T);
}

void TerminalWrite(TERMINAL* T, LPCSTR Text, SIZE Length) {
    for (SIZE Index = 0; Index < Length; Index++) WriteByte(T, (U8)Text[Index]);
}

U16 TerminalCell(const TERMINAL* T, U32 Row, U32 Column) {
    if (Row >= T->Rows || Column >= T->Columns) return 0;
    return T->Cells[Row * T->Columns + Column];
}

void TerminalCursor(const TERMINAL* T, U32* Row, U32* Column, BOOL* Visible) {
    *Row = T->Row;
    *Column = T->Column;
    *Visible = T->CursorVisible;
}

void TerminalMarkAllDirty(TERMINAL* T) { MarkDirty(T, 0, T->Rows - 1); }

BOOL TerminalTakeDirty(TERMINAL* T, U32* First, U32* Last) {
    BOOL Any = T->DirtyLast != MAX_U32 && T->DirtyFirst <= T->DirtyLast;
    if (Any) {
        *First = T->DirtyFirst;
        *Last = T->DirtyLast;
    }
    T->DirtyFirst = MAX_U32;
    T->DirtyLast = MAX_U32;
    return Any;
}
