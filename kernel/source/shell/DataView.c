/*
 * DataView.c - the System Data View's frame: the text buffer a page is
 * rendered into, the composition of a frame into one ANSI byte stream (only
 * the rows that changed), the key loop, and the shell's `data` command.
 *
 * The text buffer and DataViewCompose are pure (host-tested); everything
 * below CAIRN_HOST_BUILD's guard talks to the console and the keyboard. The
 * pages themselves are in DataView-Pages.c. See DataView.h for
 * the drawing rules.
 */

#include "shell/DataView.h"

#include "shell/ShellCommands.h"

#include "utils/Format.h"
#include "utils/String.h"

/************************************************************************/
// Text

void DataViewTextClear(DATA_VIEW_TEXT* Text) {
    Text->LineCount = 0;
    Text->Truncated = FALSE;
}

static void StoreLine(DATA_VIEW_TEXT* Text, U32 Style, LPCSTR Line) {
    if (Text->LineCount >= DATA_VIEW_MAX_LINES) {
        Text->Truncated = TRUE;
        return;
    }
    LPSTR Target = Text->Lines[Text->LineCount];
    SIZE Length = 0;
    for (; Line[Length] != '\0' && Length < DATA_VIEW_WIDTH; Length++) {
        U8 C = (U8)Line[Length];
        Target[Length] = (C < 0x20 || C == 0x7F) ? ' ' : (char)C;  // no control byte reaches the terminal
    }
    Target[Length] = '\0';
    Text->Styles[Text->LineCount] = (U8)(Style < DATA_VIEW_STYLE_COUNT ? Style : DATA_VIEW_STYLE_NORMAL);
    Text->LineCount++;
}

void DataViewTextAdd(DATA_VIEW_TEXT* Text, U32 Style, LPCSTR Format, ...) {
    char Line[DATA_VIEW_WIDTH * 2 + 1];
    VA_LIST Arguments;
    VA_START(Arguments, Format);
    StringPrintFormatV(Line, sizeof(Line), Format, Arguments);
    VA_END(Arguments);
    StoreLine(Text, Style, Line);
}

void DataViewTextWrap(DATA_VIEW_TEXT* Text, U32 Style, LPCSTR Label, LPCSTR Value) {
    SIZE Indent = MIN(StringLength(Label), (SIZE)(DATA_VIEW_WIDTH / 2));
    SIZE Room = DATA_VIEW_WIDTH - Indent;
    char Line[DATA_VIEW_WIDTH + 1];
    BOOL First = TRUE;
    while (First || *Value != '\0') {
        while (*Value == ' ') Value++;
        // Take as many whole words as fit (a word longer than the room is cut).
        SIZE Take = StringLength(Value);
        if (Take > Room) {
            Take = Room;
            while (Take > 0 && Value[Take] != ' ') Take--;
            if (Take == 0) Take = Room;
        }
        if (First) StringCopy(Line, Label, Indent + 1);
        else MemorySet(Line, ' ', Indent);
        MemoryCopy(Line + Indent, Value, Take);
        Line[Indent + Take] = '\0';
        StoreLine(Text, Style, Line);
        Value += Take;
        First = FALSE;
    }
}

U32 DataViewMaxScroll(const DATA_VIEW_TEXT* Text) {
    return Text->LineCount > DATA_VIEW_BODY_ROWS ? Text->LineCount - DATA_VIEW_BODY_ROWS : 0;
}

/************************************************************************/
// Frames

static LPCSTR StyleSequence(U32 Style) {
    switch (Style) {
        case DATA_VIEW_STYLE_HEADING: return "\x1b[1m";
        case DATA_VIEW_STYLE_WARNING: return "\x1b[1;31m";
        case DATA_VIEW_STYLE_GOOD: return "\x1b[32m";
        case DATA_VIEW_STYLE_BAR: return "\x1b[7m";
        default: return "";
    }
}

/** Left text and right text on one bar row of exactly DATA_VIEW_WIDTH columns. */
static void BarRow(LPSTR Row, LPCSTR Left, LPCSTR Right) {
    SIZE LeftLength = MIN(StringLength(Left), (SIZE)DATA_VIEW_WIDTH);
    SIZE RightLength = Right ? StringLength(Right) : 0;
    MemorySet(Row, ' ', DATA_VIEW_WIDTH);
    MemoryCopy(Row, Left, LeftLength);
    if (RightLength > 0 && LeftLength + 1 + RightLength <= DATA_VIEW_WIDTH) {
        MemoryCopy(Row + DATA_VIEW_WIDTH - RightLength, Right, RightLength);
    }
    Row[DATA_VIEW_WIDTH] = '\0';
}

static SIZE Append(LPSTR Out, SIZE Length, LPCSTR Text) {
    SIZE Add = StringLength(Text);
    if (Length + Add >= DATA_VIEW_FRAME_BYTES) return Length;  // cannot happen with rows this wide
    MemoryCopy(Out + Length, Text, Add);
    Out[Length + Add] = '\0';
    return Length + Add;
}

SIZE DataViewCompose(const DATA_VIEW_TEXT* Text, const DATA_VIEW_FRAME* Frame, DATA_VIEW_SCREEN* Screen, LPSTR Out) {
    SIZE Length = 0;
    Out[0] = '\0';
    U32 Scroll = MIN(Frame->Scroll, DataViewMaxScroll(Text));
    for (U32 Row = 0; Row < DATA_VIEW_ROWS; Row++) {
        char Content[DATA_VIEW_WIDTH + 1];
        U32 Style = DATA_VIEW_STYLE_NORMAL;
        if (Row == 0) {
            char Left[DATA_VIEW_WIDTH + 1];
            StringPrintFormat(Left, sizeof(Left), "Page %u/%u: %s", Frame->PageIndex + 1, Frame->PageCount,
                              Frame->Title ? Frame->Title : "");
            BarRow(Content, Left, Frame->Status);
            Style = DATA_VIEW_STYLE_BAR;
        } else if (Row == DATA_VIEW_ROWS - 1) {
            char Position[48];
            U32 Last = MIN(Scroll + DATA_VIEW_BODY_ROWS, Text->LineCount);
            if (Text->LineCount == 0) StringCopy(Position, "empty", sizeof(Position));
            else StringPrintFormat(Position, sizeof(Position), "lines %u-%u of %u%s", Scroll + 1, Last,
                                   Text->LineCount, Text->Truncated ? "+" : "");
            BarRow(Content, " Left/Right/1-8: page  Up/Down/PgUp/PgDn: scroll  Esc: quit", Position);
            Style = DATA_VIEW_STYLE_BAR;
        } else {
            U32 Line = Scroll + Row - 1;
            if (Line < Text->LineCount) {
                StringCopy(Content, Text->Lines[Line], sizeof(Content));
                Style = Text->Styles[Line];
            } else {
                Content[0] = '\0';
            }
        }
        if (Screen->Valid && Screen->Styles[Row] == Style && StringCompare(Screen->Rows[Row], Content) == 0) continue;
        StringCopy(Screen->Rows[Row], Content, sizeof(Screen->Rows[Row]));
        Screen->Styles[Row] = (U8)Style;

        char Position[16];
        StringPrintFormat(Position, sizeof(Position), "\x1b[%u;1H", Row + 1);
        Length = Append(Out, Length, Position);
        if (Style != DATA_VIEW_STYLE_NORMAL) Length = Append(Out, Length, StyleSequence(Style));
        Length = Append(Out, Length, Content);
        if (Style != DATA_VIEW_STYLE_NORMAL) Length = Append(Out, Length, "\x1b[0m");
        // A space before the erase keeps rows apart in a log of the byte stream; it never needs column 80 twice.
        Length = Append(Out, Length, " \x1b[K");
    }
    Screen->Valid = TRUE;
    return Length;
}

/************************************************************************/
// The view (kernel only)

#ifndef CAIRN_HOST_BUILD

#include "core/Log.h"
#include "drivers/console/Console.h"
#include "drivers/console/Input.h"
#include "memory/Heap.h"
#include "shell/Shell.h"
#include "system/Clock.h"

#define DATA_VIEW_REFRESH_MS 1000
#define DATA_VIEW_FULL_REDRAW_MS 5000  // repairs whatever else was written on the screen meanwhile

typedef struct tag_DATA_VIEW_RUN {
    DATA_VIEW_TEXT Text;
    DATA_VIEW_SCREEN Screen;
    char Frame[DATA_VIEW_FRAME_BYTES];
} DATA_VIEW_RUN;

/** Applies a key; FALSE when the view must end. */
static BOOL HandleKey(KEY Key, U32* Page, U32* Scroll, U32 MaxScroll, DATA_VIEW_SCREEN* Screen) {
    switch (Key) {
        case KEY_ESCAPE:
        case 'q':
        case 'Q': return FALSE;
        case KEY_RIGHT:
        case KEY_TAB:
        case ' ':
            *Page = (*Page + 1) % DATA_VIEW_PAGE_COUNT;
            *Scroll = 0;
            break;
        case KEY_LEFT:
            *Page = (*Page + DATA_VIEW_PAGE_COUNT - 1) % DATA_VIEW_PAGE_COUNT;
            *Scroll = 0;
            break;
        case KEY_UP:
            if (*Scroll > 0) (*Scroll)--;
            break;
        case KEY_DOWN:
            if (*Scroll < MaxScroll) (*Scroll)++;
            break;
        case KEY_PAGE_UP: *Scroll = *Scroll > DATA_VIEW_BODY_ROWS ? *Scroll - DATA_VIEW_BODY_ROWS : 0; break;
        case KEY_PAGE_DOWN: *Scroll = MIN(*Scroll + DATA_VIEW_BODY_ROWS, MaxScroll); break;
        case KEY_HOME: *Scroll = 0; break;
        case KEY_END: *Scroll = MaxScroll; break;
        case KEY_CTRL('l'):
        case 'r': Screen->Valid = FALSE; break;
        default:
            if (Key >= '1' && Key < '1' + DATA_VIEW_PAGE_COUNT) {
                *Page = Key - '1';
                *Scroll = 0;
            }
            break;
    }
    return TRUE;
}

BOOL DataViewRun(U32 StartPage) {
    DATA_VIEW_RUN* Run = (DATA_VIEW_RUN*)KernelHeapAllocZero(sizeof(DATA_VIEW_RUN));
    DATA_VIEW_STATE* State = DataViewStateCreate();
    if (Run == NULL || State == NULL) {
        if (Run) KernelHeapFree(Run);
        if (State) DataViewStateDestroy(State);
        return FALSE;
    }
    LOG_LEVEL SavedLevel = LogGetConsoleLevel();
    if (SavedLevel < LOG_LEVEL_ERROR) LogSetConsoleLevel(LOG_LEVEL_ERROR);
    ConsoleWriteString("\x1b[0m\x1b[?25l\x1b[2J");  // cursor off, clean screen once

    U32 Page = StartPage % DATA_VIEW_PAGE_COUNT, Scroll = 0;
    U64 LastFullRedraw = GetSystemTimeMs();
    for (;;) {
        DataViewTextClear(&Run->Text);
        DataViewRenderPage(Page, State, &Run->Text);
        U32 MaxScroll = DataViewMaxScroll(&Run->Text);
        if (Scroll > MaxScroll) Scroll = MaxScroll;

        U64 Now = GetSystemTimeMs();
        if (Now - LastFullRedraw >= DATA_VIEW_FULL_REDRAW_MS) Run->Screen.Valid = FALSE;
        if (!Run->Screen.Valid) LastFullRedraw = Now;
        char Status[40];
        StringPrintFormat(Status, sizeof(Status), "Cairn  up %llu s ", Now / 1000);
        DATA_VIEW_FRAME Frame = {Page, DATA_VIEW_PAGE_COUNT, DataViewPageTitle(Page), Scroll, Status};
        SIZE Length = DataViewCompose(&Run->Text, &Frame, &Run->Screen, Run->Frame);
        if (Length > 0) ConsoleWrite(Run->Frame, Length);

        KEY Key = InputReadKeyTimeout(DATA_VIEW_REFRESH_MS);
        if (Key == KEY_NONE) continue;
        U32 OldPage = Page;
        if (!HandleKey(Key, &Page, &Scroll, MaxScroll, &Run->Screen)) break;
        if (Page != OldPage) Run->Screen.Valid = FALSE;  // a new page: every row is sent again
    }

    // The last page stays on the screen; the key line goes and the prompt starts on a line of its own below.
    char Leave[32];
    StringPrintFormat(Leave, sizeof(Leave), "\x1b[0m\x1b[%u;1H\x1b[K\x1b[?25h\n", DATA_VIEW_ROWS);
    ConsoleWriteString(Leave);
    LogSetConsoleLevel(SavedLevel);
    DataViewStateDestroy(State);
    KernelHeapFree(Run);
    return TRUE;
}

/************************************************************************/
// The `data` command

static const char* const PageKeywords[DATA_VIEW_PAGE_COUNT] = {"overview", "pci", "controllers", "namespaces",
                                                                "health", "disks", "interrupts", "vmd"};

static I32 CommandData(I32 ArgumentCount, LPSTR* Arguments) {
    U32 Page = 0;
    if (ArgumentCount > 2) {
        ShellError("data", "usage: data [page] (1-%u or overview, pci, controllers, namespaces, health, disks, "
                           "interrupts, vmd)", DATA_VIEW_PAGE_COUNT);
        return 1;
    }
    if (ArgumentCount == 2) {
        U64 Number;
        BOOL Found = FALSE;
        if (StringToU64(Arguments[1], &Number, FALSE) && Number >= 1 && Number <= DATA_VIEW_PAGE_COUNT) {
            Page = (U32)Number - 1;
            Found = TRUE;
        }
        for (U32 I = 0; I < DATA_VIEW_PAGE_COUNT && !Found; I++) {
            if (StringCompareNoCase(Arguments[1], PageKeywords[I]) == 0) {
                Page = I;
                Found = TRUE;
            }
        }
        if (!Found) {
            ShellError("data", "no page '%s' (1-%u or overview, pci, controllers, namespaces, health, disks, "
                               "interrupts, vmd)", Arguments[1], DATA_VIEW_PAGE_COUNT);
            return 1;
        }
    }
    if (!DataViewRun(Page)) {
        ShellError("data", "out of memory");
        return 1;
    }
    return 0;
}

static const SHELL_COMMAND DataViewCommand = {
    "data", "[page]", "System Data View: full-screen pages (CPU, PCI, NVMe, health, disks, interrupts, VMD); Esc leaves",
    CommandData};

void ShellRegisterDataViewCommands(void) { ShellRegisterCommand(&DataViewCommand); }

#endif  // CAIRN_HOST_BUILD
