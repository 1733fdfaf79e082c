/*
 * Test-DataView.c - the System Data View's pure half
 * (shell/DataView.c): the text buffer (cutting, control bytes,
 * wrapping, the line limit) and frame composition, checked by feeding the
 * composed bytes to the VGA console's own terminal emulation
 * (drivers/console/VGA.c drivers/console/Terminal.c) and reading the screen back: title and key rows,
 * styles, scrolling and its clamp, rows sent only when they change, stale
 * text erased, and nothing ever written past column 79 or below row 24.
 */
// SOURCES: shell/DataView.c drivers/console/VGA.c drivers/console/Terminal.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/console/VGA.h"
#include "shell/DataView.h"

#define VGA_COLUMNS 80
#define VGA_ROWS 25
#define ATTRIBUTE_DEFAULT 0x07

static DATA_VIEW_TEXT Text;
static DATA_VIEW_SCREEN Screen;
static char Out[DATA_VIEW_FRAME_BYTES];

static const char* RowText(U32 Row) {
    static char Line[VGA_COLUMNS + 1];
    for (U32 C = 0; C < VGA_COLUMNS; C++) Line[C] = (char)(VGATerminalCell(Row, C) & 0xFF);
    Line[VGA_COLUMNS] = '\0';
    for (int C = VGA_COLUMNS - 1; C >= 0 && (Line[C] == ' ' || Line[C] == '\0'); C--) Line[C] = '\0';
    return Line;
}

static U8 AttributeAt(U32 Row, U32 Column) { return (U8)(VGATerminalCell(Row, Column) >> 8); }

static SIZE Draw(U32 Page, const char* Title, U32 Scroll, const char* Status) {
    DATA_VIEW_FRAME Frame = {Page, DATA_VIEW_PAGE_COUNT, Title, Scroll, Status};
    SIZE Length = DataViewCompose(&Text, &Frame, &Screen, Out);
    assert_true(Length < DATA_VIEW_FRAME_BYTES);
    assert_int_equal(Length, strlen(Out));
    VGATerminalWrite(Out, Length);
    return Length;
}

static unsigned CountPositionings(const char* Bytes) {
    unsigned Count = 0;
    for (const char* P = Bytes; (P = strstr(P, "\x1b[")) != NULL; P += 2) {
        const char* Q = P + 2;
        while (*Q >= '0' && *Q <= '9') Q++;
        if (*Q == ';') {
            Q++;
            while (*Q >= '0' && *Q <= '9') Q++;
            if (*Q == 'H') Count++;
        }
    }
    return Count;
}

static int Setup(void** State) {
    (void)State;
    VGATerminalReset(VGA_COLUMNS, VGA_ROWS);
    memset(&Screen, 0, sizeof(Screen));
    DataViewTextClear(&Text);
    return 0;
}

/************************************************************************/
// Text

static void TestTextCutsAndCleans(void** State) {
    (void)State;
    char Long[200];
    memset(Long, 'x', sizeof(Long) - 1);
    Long[sizeof(Long) - 1] = '\0';
    DataViewTextAdd(&Text, DATA_VIEW_STYLE_NORMAL, "%s", Long);
    assert_int_equal(strlen(Text.Lines[0]), DATA_VIEW_WIDTH);
    DataViewTextAdd(&Text, DATA_VIEW_STYLE_WARNING, "a\tb\nc\x1b[2Jd\x7f");
    assert_string_equal(Text.Lines[1], "a b c [2Jd ");
    assert_int_equal(Text.Styles[1], DATA_VIEW_STYLE_WARNING);
    DataViewTextAdd(&Text, 99, "bad style");
    assert_int_equal(Text.Styles[2], DATA_VIEW_STYLE_NORMAL);
    assert_int_equal(Text.LineCount, 3);
    assert_false(Text.Truncated);
}

static void TestTextLimit(void** State) {
    (void)State;
    for (U32 I = 0; I < DATA_VIEW_MAX_LINES + 5; I++) DataViewTextAdd(&Text, 0, "line %u", I);
    assert_int_equal(Text.LineCount, DATA_VIEW_MAX_LINES);
    assert_true(Text.Truncated);
    assert_string_equal(Text.Lines[DATA_VIEW_MAX_LINES - 1], "line 479");
    assert_int_equal(DataViewMaxScroll(&Text), DATA_VIEW_MAX_LINES - DATA_VIEW_BODY_ROWS);
    DataViewTextClear(&Text);
    assert_int_equal(Text.LineCount, 0);
    assert_false(Text.Truncated);
    assert_int_equal(DataViewMaxScroll(&Text), 0);
}

static void TestTextWrap(void** State) {
    (void)State;
    // 30 words of 5 letters: wrapped at spaces, every line within the width, continuation lines indented.
    char Words[256] = "";
    for (int I = 0; I < 30; I++) strcat(Words, I ? " abcde" : "abcde");
    DataViewTextWrap(&Text, DATA_VIEW_STYLE_NORMAL, "Features : ", Words);
    assert_true(Text.LineCount >= 3);
    assert_memory_equal(Text.Lines[0], "Features : abcde abcde", 22);
    unsigned Total = 0;
    for (U32 L = 0; L < Text.LineCount; L++) {
        size_t Length = strlen(Text.Lines[L]);
        assert_true(Length <= DATA_VIEW_WIDTH);
        assert_true(Text.Lines[L][Length - 1] == 'e');  // never cut inside a word
        if (L > 0) assert_memory_equal(Text.Lines[L], "           abcde", 16);
        for (const char* P = Text.Lines[L]; (P = strstr(P, "abcde")) != NULL; P += 5) Total++;
    }
    assert_int_equal(Total, 30);
    // An empty value still gives the label line; a word longer than the room is cut, not lost.
    DataViewTextClear(&Text);
    DataViewTextWrap(&Text, 0, "Empty: ", "");
    assert_int_equal(Text.LineCount, 1);
    assert_string_equal(Text.Lines[0], "Empty: ");
    char Huge[120];
    memset(Huge, 'y', sizeof(Huge) - 1);
    Huge[sizeof(Huge) - 1] = '\0';
    DataViewTextWrap(&Text, 0, "L: ", Huge);
    assert_int_equal(Text.LineCount, 3);
    assert_int_equal(strlen(Text.Lines[1]), DATA_VIEW_WIDTH);
    assert_int_equal(strlen(Text.Lines[2]), 3 + (119 - (DATA_VIEW_WIDTH - 3)));
}

/************************************************************************/
// Frames on the VGA emulation

static void FillLines(U32 Count) {
    DataViewTextClear(&Text);
    for (U32 I = 0; I < Count; I++) {
        DataViewTextAdd(&Text, I == 3 ? DATA_VIEW_STYLE_WARNING : DATA_VIEW_STYLE_NORMAL, "body line %u", I + 1);
    }
}

static void TestFirstFrame(void** State) {
    (void)State;
    FillLines(40);
    Draw(2, "NVMe controllers", 0, "up 12 s");
    // Title bar: page number and title on the left, status at the right end, reverse video over 79 columns.
    const char* Title = RowText(0);
    assert_memory_equal(Title, "Page 3/8: NVMe controllers", 26);
    assert_int_equal(strlen(Title), DATA_VIEW_WIDTH);
    assert_string_equal(Title + DATA_VIEW_WIDTH - 7, "up 12 s");
    U8 Bar = AttributeAt(0, 0);
    assert_int_not_equal(Bar, ATTRIBUTE_DEFAULT);
    assert_int_equal(AttributeAt(0, 78), Bar);
    assert_int_equal(AttributeAt(0, 79), ATTRIBUTE_DEFAULT);  // column 80 is never part of a row
    // Body: the first 22 lines, the warning one in another colour.
    for (U32 Row = 1; Row <= DATA_VIEW_BODY_ROWS; Row++) {
        char Expected[32];
        snprintf(Expected, sizeof(Expected), "body line %u", Row);
        assert_string_equal(RowText(Row), Expected);
    }
    assert_int_equal(AttributeAt(1, 0), ATTRIBUTE_DEFAULT);
    assert_int_not_equal(AttributeAt(4, 0), ATTRIBUTE_DEFAULT);
    assert_int_not_equal(AttributeAt(4, 0), Bar);
    // Key line with the position, and nothing at all on the 25th row.
    const char* Keys = RowText(DATA_VIEW_ROWS - 1);
    assert_non_null(strstr(Keys, "Esc: quit"));
    assert_string_equal(Keys + strlen(Keys) - 16, "lines 1-22 of 40");
    assert_int_equal(AttributeAt(DATA_VIEW_ROWS - 1, 0), Bar);
    assert_string_equal(RowText(24), "");
    assert_true(Screen.Valid);
}

static void TestOnlyChangedRowsAreSent(void** State) {
    (void)State;
    FillLines(10);
    Draw(0, "Overview", 0, "up 1 s");
    assert_int_equal(CountPositionings(Out), DATA_VIEW_ROWS);
    // The same frame again: nothing to send.
    assert_int_equal(Draw(0, "Overview", 0, "up 1 s"), 0);
    // One body line shorter than before and a new status: exactly two rows, and no stale characters.
    snprintf(Text.Lines[4], sizeof(Text.Lines[4]), "short");
    Draw(0, "Overview", 0, "up 2 s");
    assert_int_equal(CountPositionings(Out), 2);
    assert_string_equal(RowText(5), "short");
    assert_string_equal(RowText(0) + DATA_VIEW_WIDTH - 6, "up 2 s");
    assert_string_equal(RowText(6), "body line 6");
    // A style change alone is a change.
    Text.Styles[6] = DATA_VIEW_STYLE_GOOD;
    Draw(0, "Overview", 0, "up 2 s");
    assert_int_equal(CountPositionings(Out), 1);
    assert_int_not_equal(AttributeAt(7, 0), ATTRIBUTE_DEFAULT);
    // Invalidated: everything again (the way the view repairs a screen something else wrote on).
    VGATerminalWrite("garbage\n", 8);
    Screen.Valid = FALSE;
    Draw(0, "Overview", 0, "up 2 s");
    assert_int_equal(CountPositionings(Out), DATA_VIEW_ROWS);
    assert_string_equal(RowText(1), "body line 1");
}

static void TestScrollAndClamp(void** State) {
    (void)State;
    FillLines(30);
    Draw(5, "Disks", 3, NULL);
    assert_string_equal(RowText(1), "body line 4");
    assert_string_equal(RowText(DATA_VIEW_BODY_ROWS), "body line 25");
    assert_non_null(strstr(RowText(DATA_VIEW_ROWS - 1), "lines 4-25 of 30"));
    // Past the end: clamped so the last line is on the last body row.
    Draw(5, "Disks", 1000, NULL);
    assert_string_equal(RowText(1), "body line 9");
    assert_string_equal(RowText(DATA_VIEW_BODY_ROWS), "body line 30");
    assert_non_null(strstr(RowText(DATA_VIEW_ROWS - 1), "lines 9-30 of 30"));
    // A short page: blank rows below it, the previous page's rows erased.
    FillLines(2);
    Draw(6, "Interrupts", 0, NULL);
    assert_string_equal(RowText(2), "body line 2");
    for (U32 Row = 3; Row <= DATA_VIEW_BODY_ROWS; Row++) assert_string_equal(RowText(Row), "");
    assert_memory_equal(RowText(0), "Page 7/8: Interrupts", 20);
    // An empty page says so.
    DataViewTextClear(&Text);
    Draw(6, "Interrupts", 0, NULL);
    assert_non_null(strstr(RowText(DATA_VIEW_ROWS - 1), "empty"));
}

static void TestFullWidthLinesStayOnTheirRow(void** State) {
    (void)State;
    DataViewTextClear(&Text);
    char Full[DATA_VIEW_WIDTH + 1];
    for (U32 Row = 0; Row < DATA_VIEW_BODY_ROWS; Row++) {
        memset(Full, 'A' + (char)Row, DATA_VIEW_WIDTH);
        Full[DATA_VIEW_WIDTH] = '\0';
        DataViewTextAdd(&Text, Row % 3, "%s", Full);
    }
    Draw(1, "PCI devices", 0, "a very long status that cannot fit next to the title and is dropped entirely x");
    for (U32 Row = 1; Row <= DATA_VIEW_BODY_ROWS; Row++) {
        const char* Line = RowText(Row);
        assert_int_equal(strlen(Line), DATA_VIEW_WIDTH);
        assert_true(Line[0] == 'A' + (char)(Row - 1) && Line[DATA_VIEW_WIDTH - 1] == 'A' + (char)(Row - 1));
        assert_int_equal(VGATerminalCell(Row, 79) & 0xFF, ' ');
    }
    assert_string_equal(RowText(0), "Page 2/8: PCI devices");  // the status did not fit
    assert_string_equal(RowText(24), "");                      // no wrap ever scrolled the screen
    U32 CursorRow, CursorColumn;
    BOOL Visible;
    VGATerminalCursor(&CursorRow, &CursorColumn, &Visible);
    assert_true(CursorRow < DATA_VIEW_ROWS);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test_setup(TestTextCutsAndCleans, Setup),
        cmocka_unit_test_setup(TestTextLimit, Setup),
        cmocka_unit_test_setup(TestTextWrap, Setup),
        cmocka_unit_test_setup(TestFirstFrame, Setup),
        cmocka_unit_test_setup(TestOnlyChangedRowsAreSent, Setup),
        cmocka_unit_test_setup(TestScrollAndClamp, Setup),
        cmocka_unit_test_setup(TestFullWidthLinesStayOnTheirRow, Setup),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
