/*
 * Test-Terminal.c - drivers/console/Terminal.c on its own: two terminals on
 * their own small grids stay independent (the VGA and framebuffer consoles
 * each have one), the dirty row range each write leaves (what a console
 * redraws), scrolling marks every row, the cursor with a pending wrap, and
 * the colour attributes the framebuffer palette is indexed by. The full
 * escape-sequence coverage is in Test-VGA.c, which drives the same code.
 */
// SOURCES: drivers/console/Terminal.c utils/String.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "drivers/console/Terminal.h"

static TERMINAL First, Second;
static U16 FirstCells[10 * 4], SecondCells[20 * 6];

static void Write(TERMINAL* T, const char* Text) { TerminalWrite(T, Text, strlen(Text)); }

static void AssertDirty(TERMINAL* T, U32 ExpectedFirst, U32 ExpectedLast) {
    U32 DirtyFirst = 99, DirtyLast = 99;
    assert_true(TerminalTakeDirty(T, &DirtyFirst, &DirtyLast));
    assert_int_equal(DirtyFirst, ExpectedFirst);
    assert_int_equal(DirtyLast, ExpectedLast);
    assert_false(TerminalTakeDirty(T, &DirtyFirst, &DirtyLast));  // taken: cleared
}

static void TestIndependentGrids(void** State) {
    (void)State;
    TerminalInit(&First, FirstCells, 10, 4);
    TerminalInit(&Second, SecondCells, 20, 6);
    Write(&First, "one");
    Write(&Second, "\x1b[3;5Htwo");
    assert_int_equal(TerminalCell(&First, 0, 0) & 0xFF, 'o');
    assert_int_equal(TerminalCell(&Second, 0, 0) & 0xFF, ' ');
    assert_int_equal(TerminalCell(&Second, 2, 4) & 0xFF, 't');
    assert_int_equal(TerminalCell(&First, 9, 0), 0);  // outside the grid
}

static void TestDirtyRows(void** State) {
    (void)State;
    TerminalInit(&First, FirstCells, 10, 4);
    AssertDirty(&First, 0, 3);  // a new terminal must be painted whole
    Write(&First, "\x1b[2;1Habc");
    AssertDirty(&First, 1, 1);
    Write(&First, "\x1b[4;1Hx\x1b[1;1Hy");
    AssertDirty(&First, 0, 3);
    Write(&First, "\x1b[3;1H");  // a cursor move alone changes no cell
    U32 A, B;
    assert_false(TerminalTakeDirty(&First, &A, &B));
    Write(&First, "\x1b[4;1H\n");  // a newline on the last row scrolls: every row
    AssertDirty(&First, 0, 3);
    assert_int_equal(TerminalCell(&First, 2, 0) & 0xFF, 'x');
    TerminalMarkAllDirty(&First);
    AssertDirty(&First, 0, 3);
}

static void TestCursorAndWrap(void** State) {
    (void)State;
    TerminalInit(&First, FirstCells, 10, 4);
    U32 Row, Column;
    BOOL Visible;
    Write(&First, "0123456789");
    TerminalCursor(&First, &Row, &Column, &Visible);
    assert_int_equal(Row, 0);
    assert_int_equal(Column, 10);  // a wrap is pending
    assert_true(Visible);
    Write(&First, "X\x1b[?25l");
    TerminalCursor(&First, &Row, &Column, &Visible);
    assert_int_equal(Row, 1);
    assert_int_equal(Column, 1);
    assert_false(Visible);
}

static void TestAttributes(void** State) {
    (void)State;
    TerminalInit(&First, FirstCells, 10, 4);
    Write(&First, "a\x1b[1;31;44mb\x1b[7mc\x1b[0md");
    assert_int_equal(TerminalCell(&First, 0, 0) >> 8, TERMINAL_DEFAULT_ATTRIBUTE);
    assert_int_equal(TerminalCell(&First, 0, 1) >> 8, 0x1C);  // bright red (4 | 8) on blue (1)
    assert_int_equal(TerminalCell(&First, 0, 2) >> 8, 0x41);  // reversed: blue on red (no bright background)
    assert_int_equal(TerminalCell(&First, 0, 3) >> 8, TERMINAL_DEFAULT_ATTRIBUTE);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestIndependentGrids), cmocka_unit_test(TestDirtyRows),
        cmocka_unit_test(TestCursorAndWrap), cmocka_unit_test(TestAttributes),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
