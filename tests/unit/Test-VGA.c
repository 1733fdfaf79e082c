/*
 * Test-VGA.c - the terminal emulation of drivers/console/VGA.c drivers/console/Terminal.c without
 * hardware: text and attributes in the cell array, CR/LF/BS/TAB, wrapping
 * (with the pending wrap at the last column), scrolling, every supported
 * CSI sequence (cursor moves with clamping, erase in line and display, SGR
 * colours, cursor visibility), and malformed sequences.
 */
// SOURCES: drivers/console/VGA.c drivers/console/Terminal.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "drivers/console/VGA.h"

#define COLUMNS 80
#define ROWS 25
#define ATTRIBUTE_DEFAULT 0x07

static void Write(const char* Text) { VGATerminalWrite(Text, strlen(Text)); }

static char CharAt(U32 Row, U32 Column) { return (char)(VGATerminalCell(Row, Column) & 0xFF); }
static U8 AttributeAt(U32 Row, U32 Column) { return (U8)(VGATerminalCell(Row, Column) >> 8); }

/** The text of a row without trailing spaces. */
static const char* RowText(U32 Row) {
    static char Text[COLUMNS + 1];
    for (U32 Column = 0; Column < COLUMNS; Column++) Text[Column] = CharAt(Row, Column);
    Text[COLUMNS] = 0;
    for (int I = COLUMNS - 1; I >= 0 && Text[I] == ' '; I--) Text[I] = 0;
    return Text;
}

static void ExpectCursor(U32 Row, U32 Column) {
    U32 R, C;
    BOOL Visible;
    VGATerminalCursor(&R, &C, &Visible);
    assert_int_equal(R, Row);
    assert_int_equal(C, Column);
}

static int Setup(void** State) {
    (void)State;
    VGATerminalReset(COLUMNS, ROWS);
    return 0;
}

static void TestTextAndNewlines(void** State) {
    (void)State;
    assert_string_equal(RowText(0), "");
    assert_int_equal(AttributeAt(0, 0), ATTRIBUTE_DEFAULT);
    Write("hello\nworld");
    assert_string_equal(RowText(0), "hello");
    assert_string_equal(RowText(1), "world");
    ExpectCursor(1, 5);
    Write("\rW");
    assert_string_equal(RowText(1), "World");
    Write("orld\b\bLD");
    assert_string_equal(RowText(1), "WorLD");
    Write("\n\ta\tb");
    assert_string_equal(RowText(2), "        a       b");
    Write("\a\x01\x7F");  // bell and other controls show nothing
    ExpectCursor(2, 17);
}

static void TestWrapAndPendingWrap(void** State) {
    (void)State;
    char Line[COLUMNS + 1];
    memset(Line, 'x', COLUMNS);
    Line[COLUMNS] = 0;
    Write(Line);
    ExpectCursor(0, COLUMNS);  // wrap pending: no empty row yet
    Write("\n");
    ExpectCursor(1, 0);
    assert_string_equal(RowText(1), "");
    Write(Line);
    Write("y");  // the pending wrap happens on the next character
    assert_int_equal(CharAt(2, 0), 'y');
    ExpectCursor(2, 1);
    // Backspace over the wrap: the cursor goes back to the end of the row above.
    Write("\b\b");
    ExpectCursor(1, COLUMNS - 1);
}

static void TestScroll(void** State) {
    (void)State;
    char Line[32];
    for (int I = 0; I < ROWS + 3; I++) {
        snprintf(Line, sizeof(Line), "line %d\n", I);
        Write(Line);
    }
    // 28 lines and a newline each: the first four scrolled away, the last row is empty.
    assert_string_equal(RowText(0), "line 4");
    assert_string_equal(RowText(ROWS - 2), "line 27");
    assert_string_equal(RowText(ROWS - 1), "");
    ExpectCursor(ROWS - 1, 0);
}

static void TestCursorMovement(void** State) {
    (void)State;
    Write("\x1B[5;10H*");
    assert_int_equal(CharAt(4, 9), '*');
    Write("\x1B[H#");
    assert_int_equal(CharAt(0, 0), '#');
    Write("\x1B[3;4f");  // 'f' is the same as 'H'
    ExpectCursor(2, 3);
    Write("\x1B[2A");
    ExpectCursor(0, 3);
    Write("\x1B[A");  // clamped at the top
    ExpectCursor(0, 3);
    Write("\x1B[5B");
    ExpectCursor(5, 3);
    Write("\x1B[999B");
    ExpectCursor(ROWS - 1, 3);
    Write("\x1B[10C");
    ExpectCursor(ROWS - 1, 13);
    Write("\x1B[999C");
    ExpectCursor(ROWS - 1, COLUMNS - 1);
    Write("\x1B[3D");
    ExpectCursor(ROWS - 1, COLUMNS - 4);
    Write("\x1B[D");
    ExpectCursor(ROWS - 1, COLUMNS - 5);
    Write("\x1B[999D");
    ExpectCursor(ROWS - 1, 0);
    Write("\x1B[100;200H");  // out of range: clamped
    ExpectCursor(ROWS - 1, COLUMNS - 1);
    Write("\x1B[0;0H");  // 0 means 1
    ExpectCursor(0, 0);
    Write("\x1B[7G");
    ExpectCursor(0, 6);
    Write("\x1B[4d");
    ExpectCursor(3, 6);
    Write("\x1B[s\x1B[10;10H\x1B[u");  // save and restore
    ExpectCursor(3, 6);
}

static void TestEraseInLine(void** State) {
    (void)State;
    Write("0123456789");
    Write("\x1B[5D\x1B[K");
    assert_string_equal(RowText(0), "01234");
    ExpectCursor(0, 5);
    Write("56789\x1B[3D\x1B[1K");
    assert_string_equal(RowText(0), "        89");
    Write("\x1B[2K");
    assert_string_equal(RowText(0), "");
    ExpectCursor(0, 7);  // erasing does not move the cursor
}

static void TestEraseInDisplay(void** State) {
    (void)State;
    for (int I = 0; I < 5; I++) Write("abcdefgh\n");
    Write("\x1B[3;4H\x1B[J");
    assert_string_equal(RowText(1), "abcdefgh");
    assert_string_equal(RowText(2), "abc");
    assert_string_equal(RowText(3), "");
    Write("\x1B[2;3H\x1B[1J");
    assert_string_equal(RowText(0), "");
    assert_string_equal(RowText(1), "   defgh");
    assert_string_equal(RowText(2), "abc");
    Write("\x1B[2J");
    for (U32 Row = 0; Row < ROWS; Row++) assert_string_equal(RowText(Row), "");
    ExpectCursor(1, 2);
    Write("x\x1B[2J\x1B[H");  // the `clear` command's sequence
    ExpectCursor(0, 0);
    assert_string_equal(RowText(0), "");
}

static void TestColours(void** State) {
    (void)State;
    Write("\x1B[31mR\x1B[32mG\x1B[34mB\x1B[0mN");
    assert_int_equal(AttributeAt(0, 0), 0x04);  // ANSI red is VGA 4
    assert_int_equal(AttributeAt(0, 1), 0x02);
    assert_int_equal(AttributeAt(0, 2), 0x01);  // ANSI blue is VGA 1
    assert_int_equal(AttributeAt(0, 3), ATTRIBUTE_DEFAULT);
    Write("\x1B[1;33mY\x1B[22my");
    assert_int_equal(AttributeAt(0, 4), 0x0E);  // bold yellow: bright brown
    assert_int_equal(AttributeAt(0, 5), 0x06);
    Write("\x1B[0;97;44mW");
    assert_int_equal(AttributeAt(0, 6), 0x1F);  // bright white on blue
    Write("\x1B[m\x1B[7mI\x1B[27mi");
    assert_int_equal(AttributeAt(0, 7), 0x70);  // reverse video
    assert_int_equal(AttributeAt(0, 8), ATTRIBUTE_DEFAULT);
    Write("\x1B[36;41mC\x1B[39mD\x1B[49mE");
    assert_int_equal(AttributeAt(0, 9), 0x43);
    assert_int_equal(AttributeAt(0, 10), 0x47);
    assert_int_equal(AttributeAt(0, 11), ATTRIBUTE_DEFAULT);
    Write("\x1B[90m\x1B[103mF");
    assert_int_equal(AttributeAt(0, 12), 0x68);  // bright backgrounds fall back to normal ones
    // Erasing uses the current background.
    Write("\x1B[44m\x1B[2K");
    assert_int_equal(AttributeAt(0, 0), 0x18);
    Write("\x1B[0m");
}

static void TestCursorVisibilityAndReset(void** State) {
    (void)State;
    U32 Row, Column;
    BOOL Visible;
    Write("\x1B[?25l");
    VGATerminalCursor(&Row, &Column, &Visible);
    assert_false(Visible);
    Write("\x1B[?25h");
    VGATerminalCursor(&Row, &Column, &Visible);
    assert_true(Visible);
    Write("text\x1B[31m\x1B" "c");
    assert_string_equal(RowText(0), "");
    ExpectCursor(0, 0);
    Write("n");
    assert_int_equal(AttributeAt(0, 0), ATTRIBUTE_DEFAULT);
}

static void TestMalformedSequences(void** State) {
    (void)State;
    Write("\x1B[12;34;56;78;90;12;34;56;78;90mA");  // more parameters than kept: ignored safely
    assert_int_equal(CharAt(0, 0), 'A');
    Write("\x1B[99999999999999999999CB");  // huge number: clamped, no overflow
    ExpectCursor(0, COLUMNS);
    Write("\r\x1B[1\nC");  // a control byte ends the sequence
    assert_int_equal(CharAt(1, 0), 'C');
    Write("\x1B[5X\x1B[>1sD");  // unknown finals are consumed
    assert_int_equal(CharAt(1, 1), 'D');
    Write("\x1B(BE");  // ESC + something else: two bytes dropped
    assert_string_equal(RowText(1), "CDE");
}

static void TestLineEditorRedraw(void** State) {
    (void)State;
    // What the line editor sends for: type "ecoh", Left Left, insert 'h', then delete at the end.
    Write("/> ecoh\b\bhoh\b\b");
    assert_string_equal(RowText(0), "/> echoh");
    ExpectCursor(0, 6);
    Write("oh\b\x1B[K");
    assert_string_equal(RowText(0), "/> echo");
    ExpectCursor(0, 7);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test_setup(TestTextAndNewlines, Setup),
        cmocka_unit_test_setup(TestWrapAndPendingWrap, Setup),
        cmocka_unit_test_setup(TestScroll, Setup),
        cmocka_unit_test_setup(TestCursorMovement, Setup),
        cmocka_unit_test_setup(TestEraseInLine, Setup),
        cmocka_unit_test_setup(TestEraseInDisplay, Setup),
        cmocka_unit_test_setup(TestColours, Setup),
        cmocka_unit_test_setup(TestCursorVisibilityAndReset, Setup),
        cmocka_unit_test_setup(TestMalformedSequences, Setup),
        cmocka_unit_test_setup(TestLineEditorRedraw, Setup),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
