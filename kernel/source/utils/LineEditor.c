/*
 * LineEditor.c - an editable input line with history (see LineEditor.h).
 *
 * The editor keeps the line and the cursor and, for every key, writes what
 * the terminal needs to show the change: the characters from the cursor to
 * the end of the line, "ESC [ K" to erase what is left of a longer line, and
 * backspaces to bring the terminal's cursor back. It never moves the cursor
 * left of where the line starts, so it needs no knowledge of the prompt.
 * Each key's output goes to the callback in as few calls as possible.
 *
 * History: a ring of LINE_EDITOR_HISTORY lines. HistoryBrowse is -1 while
 * the user edits a new line, else how many entries back from the newest the
 * shown line is; the new line is kept in Saved while browsing so Down past
 * the newest entry gives it back.
 */

#include "utils/LineEditor.h"

#include "drivers/console/Input.h"
#include "utils/String.h"

/************************************************************************/
// Output batching

typedef struct tag_EDITOR_OUTPUT {
    LINE_EDITOR* Editor;
    U32 Length;
    char Buffer[256];
} EDITOR_OUTPUT;

static void OutputFlush(EDITOR_OUTPUT* Out) {
    if (Out->Length != 0 && Out->Editor->Output != NULL) {
        Out->Editor->Output(Out->Buffer, Out->Length, Out->Editor->OutputContext);
    }
    Out->Length = 0;
}

static void OutputChar(EDITOR_OUTPUT* Out, char C) {
    if (Out->Length == sizeof(Out->Buffer)) OutputFlush(Out);
    Out->Buffer[Out->Length++] = C;
}

static void OutputText(EDITOR_OUTPUT* Out, LPCSTR Text, U32 Length) {
    for (U32 I = 0; I < Length; I++) OutputChar(Out, Text[I]);
}

static void OutputBackspaces(EDITOR_OUTPUT* Out, U32 Count) {
    while (Count--) OutputChar(Out, '\b');
}

static void OutputEraseToEnd(EDITOR_OUTPUT* Out) { OutputText(Out, "\x1B[K", 3); }

/************************************************************************/

void LineEditorInit(LINE_EDITOR* Editor, LINE_EDITOR_OUTPUT Output, LPVOID Context) {
    MemorySet(Editor, 0, sizeof(*Editor));
    Editor->Output = Output;
    Editor->OutputContext = Context;
    Editor->HistoryBrowse = -1;
}

void LineEditorBegin(LINE_EDITOR* Editor) {
    Editor->Length = 0;
    Editor->Cursor = 0;
    Editor->Line[0] = 0;
    Editor->Saved[0] = 0;
    Editor->HistoryBrowse = -1;
}

static BOOL IsBlank(LPCSTR Line) {
    for (; *Line; Line++) {
        if (!CharIsSpace(*Line)) return FALSE;
    }
    return TRUE;
}

void LineEditorAddHistory(LINE_EDITOR* Editor, LPCSTR Line) {
    if (Line == NULL || IsBlank(Line)) return;
    if (Editor->HistoryCount != 0 && StringCompare(Editor->History[Editor->HistoryNewest], Line) == 0) return;
    if (Editor->HistoryCount != 0) Editor->HistoryNewest = (Editor->HistoryNewest + 1) % LINE_EDITOR_HISTORY;
    else Editor->HistoryNewest = 0;
    StringCopy(Editor->History[Editor->HistoryNewest], Line, LINE_EDITOR_MAX_LENGTH);
    if (Editor->HistoryCount < LINE_EDITOR_HISTORY) Editor->HistoryCount++;
}

/** Replaces the whole shown line with Text, leaving the cursor at its end. */
static void ReplaceLine(LINE_EDITOR* Editor, EDITOR_OUTPUT* Out, LPCSTR Text) {
    OutputBackspaces(Out, Editor->Cursor);
    Editor->Length = (U32)StringCopy(Editor->Line, Text, LINE_EDITOR_MAX_LENGTH);
    if (Editor->Length > LINE_EDITOR_MAX_LENGTH - 1) Editor->Length = LINE_EDITOR_MAX_LENGTH - 1;
    Editor->Cursor = Editor->Length;
    OutputText(Out, Editor->Line, Editor->Length);
    OutputEraseToEnd(Out);
}

/** Rewrites from the cursor to the end (after an insertion or deletion there) and returns to the cursor. */
static void RedrawTail(LINE_EDITOR* Editor, EDITOR_OUTPUT* Out, BOOL Erase) {
    U32 Tail = Editor->Length - Editor->Cursor;
    OutputText(Out, Editor->Line + Editor->Cursor, Tail);
    if (Erase) OutputEraseToEnd(Out);
    OutputBackspaces(Out, Tail);
}

static void InsertChar(LINE_EDITOR* Editor, EDITOR_OUTPUT* Out, char C) {
    if (Editor->Length >= LINE_EDITOR_MAX_LENGTH - 1) return;  // full: refuse the key
    MemoryMove(Editor->Line + Editor->Cursor + 1, Editor->Line + Editor->Cursor, Editor->Length - Editor->Cursor);
    Editor->Line[Editor->Cursor] = C;
    Editor->Length++;
    Editor->Line[Editor->Length] = 0;
    OutputChar(Out, C);
    Editor->Cursor++;
    RedrawTail(Editor, Out, FALSE);
}

static void DeleteAtCursor(LINE_EDITOR* Editor, EDITOR_OUTPUT* Out) {
    MemoryMove(Editor->Line + Editor->Cursor, Editor->Line + Editor->Cursor + 1, Editor->Length - Editor->Cursor - 1);
    Editor->Length--;
    Editor->Line[Editor->Length] = 0;
    RedrawTail(Editor, Out, TRUE);
}

static void HistoryShow(LINE_EDITOR* Editor, EDITOR_OUTPUT* Out) {
    if (Editor->HistoryBrowse < 0) {
        ReplaceLine(Editor, Out, Editor->Saved);
        return;
    }
    U32 Index = (Editor->HistoryNewest + LINE_EDITOR_HISTORY - (U32)Editor->HistoryBrowse) % LINE_EDITOR_HISTORY;
    ReplaceLine(Editor, Out, Editor->History[Index]);
}

LINE_EDITOR_RESULT LineEditorFeed(LINE_EDITOR* Editor, U32 Key) {
    EDITOR_OUTPUT Out;
    LINE_EDITOR_RESULT Result = LINE_EDITOR_CONTINUE;
    Out.Editor = Editor;
    Out.Length = 0;

    switch (Key) {
        case KEY_ENTER:
        case '\r':
            Editor->Line[Editor->Length] = 0;
            Editor->HistoryBrowse = -1;
            OutputChar(&Out, '\n');
            Result = LINE_EDITOR_DONE;
            break;
        case KEY_CTRL('c'):
            OutputText(&Out, "^C\n", 3);
            Editor->Length = 0;
            Editor->Cursor = 0;
            Editor->Line[0] = 0;
            Editor->HistoryBrowse = -1;
            Result = LINE_EDITOR_CANCELLED;
            break;
        case KEY_BACKSPACE:
            if (Editor->Cursor == 0) break;
            OutputChar(&Out, '\b');
            Editor->Cursor--;
            DeleteAtCursor(Editor, &Out);
            break;
        case KEY_DELETE:
        case KEY_CTRL('d'):
            if (Editor->Cursor >= Editor->Length) break;
            DeleteAtCursor(Editor, &Out);
            break;
        case KEY_LEFT:
        case KEY_CTRL('b'):
            if (Editor->Cursor == 0) break;
            Editor->Cursor--;
            OutputChar(&Out, '\b');
            break;
        case KEY_RIGHT:
        case KEY_CTRL('f'):
            if (Editor->Cursor >= Editor->Length) break;
            OutputChar(&Out, Editor->Line[Editor->Cursor]);  // re-printing a character moves right
            Editor->Cursor++;
            break;
        case KEY_HOME:
        case KEY_CTRL('a'):
            OutputBackspaces(&Out, Editor->Cursor);
            Editor->Cursor = 0;
            break;
        case KEY_END:
        case KEY_CTRL('e'):
            OutputText(&Out, Editor->Line + Editor->Cursor, Editor->Length - Editor->Cursor);
            Editor->Cursor = Editor->Length;
            break;
        case KEY_CTRL('u'):
            OutputBackspaces(&Out, Editor->Cursor);
            OutputEraseToEnd(&Out);
            Editor->Length = 0;
            Editor->Cursor = 0;
            Editor->Line[0] = 0;
            break;
        case KEY_UP:
            if (Editor->HistoryBrowse + 1 >= (I32)Editor->HistoryCount) break;
            if (Editor->HistoryBrowse < 0) StringCopy(Editor->Saved, Editor->Line, LINE_EDITOR_MAX_LENGTH);
            Editor->HistoryBrowse++;
            HistoryShow(Editor, &Out);
            break;
        case KEY_DOWN:
            if (Editor->HistoryBrowse < 0) break;
            Editor->HistoryBrowse--;
            HistoryShow(Editor, &Out);
            break;
        default:
            if (Key < 0x100 && CharIsPrintable((char)Key)) InsertChar(Editor, &Out, (char)Key);
            break;  // other control characters and special keys: ignored
    }

    OutputFlush(&Out);
    return Result;
}
