/*
 * Test-LineEditor.c - utils/LineEditor.c. The editor's output goes into a
 * tiny terminal model (one row: printable characters overwrite, BS moves
 * left, ESC [ K erases to the end, CR returns, LF ends the line); after
 * every key the model's row and cursor must equal the editor's line and
 * cursor, so each test checks the rendering as well as the text. It also
 * checks that only CR, BS, printable characters, ESC [ K and the final LF
 * are ever emitted, and that the cursor never goes left of the line start.
 */
// SOURCES: utils/LineEditor.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/console/Input.h"
#include "utils/LineEditor.h"

/************************************************************************/
// Terminal model

typedef struct {
    char Row[1024];
    U32 Width;    // characters on the row
    U32 Cursor;
    U32 Newlines;
    char Raw[8192];  // everything received since the last reset
    U32 RawLength;
    U32 Calls;
} TERMINAL;

static void TerminalReset(TERMINAL* Terminal) { memset(Terminal, 0, sizeof(*Terminal)); }

static void TerminalOutput(LPCSTR Text, SIZE Length, LPVOID Context) {
    TERMINAL* Terminal = Context;
    Terminal->Calls++;
    for (SIZE I = 0; I < Length; I++) {
        char C = Text[I];
        if (Terminal->RawLength < sizeof(Terminal->Raw)) Terminal->Raw[Terminal->RawLength++] = C;
        if (C == '\b') {
            assert_true(Terminal->Cursor > 0);  // never left of where the line starts (the prompt)
            Terminal->Cursor--;
        } else if (C == '\r') {
            Terminal->Cursor = 0;
        } else if (C == '\n') {
            Terminal->Newlines++;
        } else if (C == 0x1B) {
            assert_true(I + 2 < Length && Text[I + 1] == '[' && Text[I + 2] == 'K');  // ESC [ K only, never split
            Terminal->Width = Terminal->Cursor;
            memset(Terminal->Row + Terminal->Cursor, 0, sizeof(Terminal->Row) - Terminal->Cursor);
            I += 2;
        } else {
            assert_true(C >= 0x20 && C < 0x7F);  // nothing else may reach the terminal
            assert_true(Terminal->Cursor < sizeof(Terminal->Row) - 1);
            Terminal->Row[Terminal->Cursor++] = C;
            if (Terminal->Cursor > Terminal->Width) Terminal->Width = Terminal->Cursor;
        }
    }
}

static LINE_EDITOR* Editor;
static TERMINAL* Screen;

static int Setup(void** State) {
    (void)State;
    Editor = malloc(sizeof(*Editor));
    Screen = malloc(sizeof(*Screen));
    TerminalReset(Screen);
    LineEditorInit(Editor, TerminalOutput, Screen);
    LineEditorBegin(Editor);
    return 0;
}

static int Teardown(void** State) {
    (void)State;
    free(Editor);
    free(Screen);
    return 0;
}

/** The screen shows exactly the editor's line, with the cursor at the same place. */
static void CheckScreen(void) {
    assert_int_equal(Editor->Length, strlen(Editor->Line));
    assert_true(Editor->Cursor <= Editor->Length);
    assert_string_equal(Screen->Row, Editor->Line);
    assert_int_equal(Screen->Cursor, Editor->Cursor);
}

static LINE_EDITOR_RESULT Key(U32 K) {
    LINE_EDITOR_RESULT Result = LineEditorFeed(Editor, K);
    if (Result == LINE_EDITOR_CONTINUE) CheckScreen();
    return Result;
}

static void Keys(U32 K, U32 Count) {
    while (Count--) assert_int_equal(Key(K), LINE_EDITOR_CONTINUE);
}

static void Type(const char* Text) {
    for (; *Text; Text++) assert_int_equal(Key((U8)*Text), LINE_EDITOR_CONTINUE);
}

/** Enter: returns the line and starts a new one on a fresh terminal row. */
static const char* Enter(void) {
    static char Line[LINE_EDITOR_MAX_LENGTH];
    U32 Newlines = Screen->Newlines;
    assert_int_equal(LineEditorFeed(Editor, KEY_ENTER), LINE_EDITOR_DONE);
    assert_int_equal(Screen->Newlines, Newlines + 1);
    strcpy(Line, Editor->Line);
    TerminalReset(Screen);
    LineEditorBegin(Editor);
    return Line;
}

/************************************************************************/

static void TestTypeAndEnter(void** State) {
    (void)State;
    Type("echo hi");
    assert_string_equal(Screen->Raw, "echo hi");  // plain typing at the end echoes nothing more
    assert_string_equal(Enter(), "echo hi");
    assert_string_equal(Enter(), "");  // an empty line is fine
}

static void TestInsertInTheMiddle(void** State) {
    (void)State;
    Type("ecoh");
    Keys(KEY_LEFT, 2);
    Screen->RawLength = 0;
    memset(Screen->Raw, 0, sizeof(Screen->Raw));
    Type("h");
    // The inserted character, the rest of the line, then back over the rest.
    assert_string_equal(Screen->Raw, "hoh\b\b");
    assert_string_equal(Editor->Line, "echoh");
    Keys(KEY_END, 1);
    Keys(KEY_BACKSPACE, 1);
    assert_string_equal(Enter(), "echo");
}

static void TestBackspace(void** State) {
    (void)State;
    Keys(KEY_BACKSPACE, 3);  // at the start: nothing happens, nothing printed
    assert_int_equal(Screen->RawLength, 0);
    Type("abXc");
    Keys(KEY_LEFT, 1);
    Keys(KEY_BACKSPACE, 1);
    assert_string_equal(Editor->Line, "abc");
    assert_int_equal(Editor->Cursor, 2);
    Keys(KEY_HOME, 1);
    Screen->RawLength = 0;
    Keys(KEY_BACKSPACE, 1);
    assert_int_equal(Screen->RawLength, 0);
    assert_string_equal(Enter(), "abc");
}

static void TestDelete(void** State) {
    (void)State;
    Type("abXcd");
    Keys(KEY_LEFT, 3);
    Keys(KEY_DELETE, 1);
    assert_string_equal(Editor->Line, "abcd");
    assert_int_equal(Editor->Cursor, 2);
    Keys(KEY_END, 1);
    Screen->RawLength = 0;
    Keys(KEY_DELETE, 2);  // at the end: nothing
    assert_int_equal(Screen->RawLength, 0);
    Keys(KEY_HOME, 1);
    Keys(KEY_CTRL('d'), 1);  // Ctrl-D deletes under the cursor too
    assert_string_equal(Enter(), "bcd");
}

static void TestCursorMovement(void** State) {
    (void)State;
    Type("cho one");
    Keys(KEY_HOME, 1);
    assert_int_equal(Editor->Cursor, 0);
    Type("e");
    Keys(KEY_END, 1);
    Type(" two");
    assert_string_equal(Editor->Line, "echo one two");
    Keys(KEY_CTRL('a'), 1);
    assert_int_equal(Editor->Cursor, 0);
    Keys(KEY_LEFT, 2);  // at the start: stays
    assert_int_equal(Editor->Cursor, 0);
    Keys(KEY_RIGHT, 4);
    assert_int_equal(Editor->Cursor, 4);
    Keys(KEY_CTRL('e'), 1);
    assert_int_equal(Editor->Cursor, 12);
    Keys(KEY_RIGHT, 3);  // at the end: stays
    assert_int_equal(Editor->Cursor, 12);
    Keys(KEY_CTRL('b'), 1);
    Keys(KEY_CTRL('f'), 1);
    assert_int_equal(Editor->Cursor, 12);
    assert_string_equal(Enter(), "echo one two");
}

static void TestEraseAndCancel(void** State) {
    (void)State;
    Type("some text");
    Keys(KEY_LEFT, 3);
    Keys(KEY_CTRL('u'), 1);
    assert_string_equal(Editor->Line, "");
    assert_int_equal(Screen->Width, 0);  // erased on screen too
    Type("more");
    assert_int_equal(LineEditorFeed(Editor, KEY_CTRL('c')), LINE_EDITOR_CANCELLED);
    assert_string_equal(Editor->Line, "");
    assert_int_equal(Screen->Newlines, 1);  // ^C ends the row
    assert_non_null(strstr(Screen->Raw, "^C\n"));
}

static void TestIgnoredKeys(void** State) {
    (void)State;
    Type("ab");
    Keys(KEY_PAGE_UP, 1);
    Keys(KEY_INSERT, 1);
    Keys(KEY_ESCAPE, 1);
    Keys(KEY_TAB, 1);
    Keys(0x7F, 1);
    Keys(KEY_CTRL('x'), 1);
    Keys(0x1FF, 1);
    assert_string_equal(Enter(), "ab");
}

static void TestOverlongInputRefused(void** State) {
    (void)State;
    for (U32 I = 0; I < LINE_EDITOR_MAX_LENGTH + 40; I++) Key('a' + I % 26);
    assert_int_equal(Editor->Length, LINE_EDITOR_MAX_LENGTH - 1);
    // Inserting in the middle of a full line is refused as well, without moving anything.
    Keys(KEY_HOME, 1);
    Keys(KEY_RIGHT, 5);
    char Before[LINE_EDITOR_MAX_LENGTH];
    strcpy(Before, Editor->Line);
    Type("ZZZ");
    assert_string_equal(Editor->Line, Before);
    assert_int_equal(Editor->Cursor, 5);
    // Make room and the next key goes in.
    Keys(KEY_BACKSPACE, 1);
    Type("Q");
    assert_int_equal(Editor->Line[4], 'Q');
    assert_int_equal(strlen(Enter()), LINE_EDITOR_MAX_LENGTH - 1);
}

static void TestHistoryNavigation(void** State) {
    (void)State;
    Keys(KEY_UP, 1);  // empty history: nothing
    assert_int_equal(Screen->RawLength, 0);
    LineEditorAddHistory(Editor, "echo one");
    LineEditorAddHistory(Editor, "echo two");
    LineEditorAddHistory(Editor, "echo three");

    Type("draft");
    Keys(KEY_LEFT, 2);
    Keys(KEY_UP, 1);
    assert_string_equal(Editor->Line, "echo three");
    assert_int_equal(Editor->Cursor, 10);
    Keys(KEY_UP, 1);
    assert_string_equal(Editor->Line, "echo two");
    Keys(KEY_UP, 1);
    assert_string_equal(Editor->Line, "echo one");
    Keys(KEY_UP, 2);  // oldest: stays
    assert_string_equal(Editor->Line, "echo one");
    Keys(KEY_DOWN, 1);
    assert_string_equal(Editor->Line, "echo two");
    Keys(KEY_DOWN, 2);
    // Down past the newest entry gives back the line being typed.
    assert_string_equal(Editor->Line, "draft");
    Keys(KEY_DOWN, 1);
    assert_string_equal(Editor->Line, "draft");
    Keys(KEY_UP, 1);
    Keys(KEY_BACKSPACE, 5);  // a recalled line can be edited
    Type("3");
    assert_string_equal(Enter(), "echo 3");
}

static void TestHistoryRules(void** State) {
    (void)State;
    LineEditorAddHistory(Editor, "");
    LineEditorAddHistory(Editor, "   ");
    LineEditorAddHistory(Editor, NULL);
    assert_int_equal(Editor->HistoryCount, 0);  // empty and blank lines are not kept
    LineEditorAddHistory(Editor, "same");
    LineEditorAddHistory(Editor, "same");
    assert_int_equal(Editor->HistoryCount, 1);  // a repeat of the newest is not kept
    LineEditorAddHistory(Editor, "other");
    LineEditorAddHistory(Editor, "same");
    assert_int_equal(Editor->HistoryCount, 3);

    // More than LINE_EDITOR_HISTORY entries: the oldest go.
    char Line[16];
    for (int I = 0; I < LINE_EDITOR_HISTORY + 10; I++) {
        snprintf(Line, sizeof(Line), "cmd %d", I);
        LineEditorAddHistory(Editor, Line);
    }
    assert_int_equal(Editor->HistoryCount, LINE_EDITOR_HISTORY);
    Keys(KEY_UP, 1);
    snprintf(Line, sizeof(Line), "cmd %d", LINE_EDITOR_HISTORY + 9);
    assert_string_equal(Editor->Line, Line);
    Keys(KEY_UP, LINE_EDITOR_HISTORY + 5);
    assert_string_equal(Editor->Line, "cmd 10");  // the oldest still kept
}

static void TestHistoryShorterAndLongerLines(void** State) {
    (void)State;
    // Recalling a shorter line over a longer one must erase the leftovers on screen.
    LineEditorAddHistory(Editor, "a much longer history line");
    LineEditorAddHistory(Editor, "x");
    Type("medium draft");
    Keys(KEY_UP, 1);
    assert_int_equal(Screen->Width, 1);
    Keys(KEY_UP, 1);
    Keys(KEY_DOWN, 1);
    assert_int_equal(Screen->Width, 1);
    Keys(KEY_DOWN, 1);
    assert_string_equal(Screen->Row, "medium draft");
    // Browsing ends with Enter: the next line starts a fresh browse.
    Keys(KEY_UP, 2);
    assert_string_equal(Enter(), "a much longer history line");
    Keys(KEY_UP, 1);
    assert_string_equal(Editor->Line, "x");
}

static void TestOutputBatched(void** State) {
    (void)State;
    Type("a line long enough to need a redraw");
    Keys(KEY_HOME, 1);
    U32 Calls = Screen->Calls;
    Keys(KEY_DELETE, 1);
    assert_int_equal(Screen->Calls, Calls + 1);  // one key, one write
    LineEditorInit(Editor, NULL, NULL);          // no output callback: still edits
    LineEditorBegin(Editor);
    assert_int_equal(LineEditorFeed(Editor, 'q'), LINE_EDITOR_CONTINUE);
    assert_string_equal(Editor->Line, "q");
}

static void TestRandomEditsKeepScreenInSync(void** State) {
    (void)State;
    static const U32 Palette[] = {'a', 'b', 'c', ' ', KEY_LEFT, KEY_RIGHT, KEY_HOME, KEY_END, KEY_BACKSPACE,
                                  KEY_DELETE, KEY_UP, KEY_DOWN, KEY_CTRL('a'), KEY_CTRL('e'), KEY_CTRL('u')};
    U32 Seed = 12345;
    LineEditorAddHistory(Editor, "history entry one");
    LineEditorAddHistory(Editor, "two");
    for (int Step = 0; Step < 20000; Step++) {
        Seed = Seed * 1103515245 + 12345;
        U32 K = Palette[(Seed >> 16) % (sizeof(Palette) / sizeof(Palette[0]))];
        Key(K);  // CheckScreen after every key
        if ((Seed >> 8) % 997 == 0) Enter();
    }
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test_setup_teardown(TestTypeAndEnter, Setup, Teardown),
        cmocka_unit_test_setup_teardown(TestInsertInTheMiddle, Setup, Teardown),
        cmocka_unit_test_setup_teardown(TestBackspace, Setup, Teardown),
        cmocka_unit_test_setup_teardown(TestDelete, Setup, Teardown),
        cmocka_unit_test_setup_teardown(TestCursorMovement, Setup, Teardown),
        cmocka_unit_test_setup_teardown(TestEraseAndCancel, Setup, Teardown),
        cmocka_unit_test_setup_teardown(TestIgnoredKeys, Setup, Teardown),
        cmocka_unit_test_setup_teardown(TestOverlongInputRefused, Setup, Teardown),
        cmocka_unit_test_setup_teardown(TestHistoryNavigation, Setup, Teardown),
        cmocka_unit_test_setup_teardown(TestHistoryRules, Setup, Teardown),
        cmocka_unit_test_setup_teardown(TestHistoryShorterAndLongerLines, Setup, Teardown),
        cmocka_unit_test_setup_teardown(TestOutputBatched, Setup, Teardown),
        cmocka_unit_test_setup_teardown(TestRandomEditsKeepScreenInSync, Setup, Teardown),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
