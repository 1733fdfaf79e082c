/*
 * LineEditor.h - an editable input line with history.
 *
 * Pure logic: keys in, terminal output out (through a callback), so the
 * same code serves serial and VGA and runs in host unit tests. Supports
 * printable characters, Backspace, Delete, Left/Right, Home/End (and Ctrl-A,
 * Ctrl-E), Up/Down through the history, Ctrl-U (erase line), Ctrl-C
 * (abandon line), and Enter. Redraws use only CR, BS, spaces and "ESC [ K"
 * so any ANSI terminal shows them right.
 */

#ifndef UTILS_LINEEDITOR_H_INCLUDED
#define UTILS_LINEEDITOR_H_INCLUDED

#include "Base.h"

#define LINE_EDITOR_MAX_LENGTH 256
#define LINE_EDITOR_HISTORY 32

typedef void (*LINE_EDITOR_OUTPUT)(LPCSTR Text, SIZE Length, LPVOID Context);

typedef enum {
    LINE_EDITOR_CONTINUE = 0,  // keep feeding keys
    LINE_EDITOR_DONE = 1,      // Enter: the line is in Line
    LINE_EDITOR_CANCELLED = 2, // Ctrl-C
} LINE_EDITOR_RESULT;

typedef struct tag_LINE_EDITOR {
    char Line[LINE_EDITOR_MAX_LENGTH];
    U32 Length;
    U32 Cursor;
    char History[LINE_EDITOR_HISTORY][LINE_EDITOR_MAX_LENGTH];
    U32 HistoryCount;   // entries stored (up to LINE_EDITOR_HISTORY)
    U32 HistoryNewest;  // index of the newest entry
    I32 HistoryBrowse;  // -1 when editing a new line, else how far back
    char Saved[LINE_EDITOR_MAX_LENGTH];  // the new line while browsing history
    LINE_EDITOR_OUTPUT Output;
    LPVOID OutputContext;
} LINE_EDITOR;

void LineEditorInit(LINE_EDITOR* Editor, LINE_EDITOR_OUTPUT Output, LPVOID Context);
/** Starts a new empty line (the caller prints the prompt). */
void LineEditorBegin(LINE_EDITOR* Editor);
LINE_EDITOR_RESULT LineEditorFeed(LINE_EDITOR* Editor, U32 Key);
/** Adds a line to the history (empty lines and repeats of the newest are skipped). */
void LineEditorAddHistory(LINE_EDITOR* Editor, LPCSTR Line);

#endif  // UTILS_LINEEDITOR_H_INCLUDED
