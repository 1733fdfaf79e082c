/*
 * Test-TextRing.c - utils/TextRing.c: lines kept in order, wrap-around
 * of a line across the end of the buffer, dropping the oldest lines (and
 * counting them), an over-long line, truncation to the visitor's buffer,
 * and cursors that read a line at a time while lines are being dropped.
 * The ring's storage is a heap block of exactly its size (ASan checks).
 */
// SOURCES: utils/TextRing.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utils/TextRing.h"

typedef struct {
    char Lines[64][128];
    U32 Count;
} COLLECTED;

static void Collect(LPCSTR Line, LPVOID Context) {
    COLLECTED* Collected = Context;
    assert_true(Collected->Count < 64);
    snprintf(Collected->Lines[Collected->Count++], 128, "%s", Line);
}

static COLLECTED Visit(const TEXT_RING* Ring, U32 BufferSize) {
    COLLECTED Collected = {0};
    char* Buffer = malloc(BufferSize);
    TextRingVisit(Ring, Buffer, BufferSize, Collect, &Collected);
    free(Buffer);
    return Collected;
}

static void TestAppendAndVisit(void** State) {
    (void)State;
    char* Data = malloc(64);
    TEXT_RING Ring;
    TextRingInit(&Ring, Data, 64);
    COLLECTED Empty = Visit(&Ring, 32);
    assert_int_equal(Empty.Count, 0);

    TextRingAppend(&Ring, "first");
    TextRingAppend(&Ring, "");
    TextRingAppend(&Ring, "third line");
    assert_int_equal(Ring.Lines, 3);
    assert_int_equal(Ring.Used, 6 + 1 + 11);
    COLLECTED Got = Visit(&Ring, 32);
    assert_int_equal(Got.Count, 3);
    assert_string_equal(Got.Lines[0], "first");
    assert_string_equal(Got.Lines[1], "");
    assert_string_equal(Got.Lines[2], "third line");
    assert_int_equal(Ring.Dropped, 0);
    free(Data);
}

static void TestDropOldestAndWrap(void** State) {
    (void)State;
    char* Data = malloc(32);
    TEXT_RING Ring;
    TextRingInit(&Ring, Data, 32);
    // Each "line-N" takes 7 bytes: four fit (28), the fifth drops the first and wraps around the end.
    char Line[16];
    for (int I = 0; I < 12; I++) {
        snprintf(Line, sizeof(Line), "line-%d", I % 10);
        TextRingAppend(&Ring, Line);
        assert_true(Ring.Used <= Ring.Size);
        COLLECTED Got = Visit(&Ring, 32);
        assert_int_equal(Got.Count, Ring.Lines);
        // The newest line is always last and whole; lines are consecutive.
        assert_string_equal(Got.Lines[Got.Count - 1], Line);
        for (U32 K = 0; K + 1 < Got.Count; K++) {
            int A = Got.Lines[K][5] - '0', B = Got.Lines[K + 1][5] - '0';
            assert_int_equal((A + 1) % 10, B);
        }
    }
    assert_int_equal(Ring.Lines, 4);
    assert_int_equal(Ring.Dropped, 8);
    free(Data);
}

static void TestMixedSizesDropSeveral(void** State) {
    (void)State;
    char* Data = malloc(40);
    TEXT_RING Ring;
    TextRingInit(&Ring, Data, 40);
    TextRingAppend(&Ring, "a");
    TextRingAppend(&Ring, "bb");
    TextRingAppend(&Ring, "ccc");
    TextRingAppend(&Ring, "01234567890123456789012345678901234567");  // 39 bytes: a, bb and ccc must all go
    COLLECTED Got = Visit(&Ring, 64);
    assert_int_equal(Got.Count, 1);
    assert_string_equal(Got.Lines[0], "01234567890123456789012345678901234567");
    assert_int_equal(Ring.Dropped, 3);
    TextRingAppend(&Ring, "x");  // 39 + 2 > 40: the long line goes too
    Got = Visit(&Ring, 64);
    assert_int_equal(Got.Count, 1);
    assert_string_equal(Got.Lines[0], "x");
    assert_int_equal(Ring.Dropped, 4);
    free(Data);
}

static void TestOverlongLine(void** State) {
    (void)State;
    char* Data = malloc(16);
    TEXT_RING Ring;
    TextRingInit(&Ring, Data, 16);
    TextRingAppend(&Ring, "old");
    TextRingAppend(&Ring, "this line is much longer than the ring");
    COLLECTED Got = Visit(&Ring, 64);
    assert_int_equal(Got.Count, 1);
    assert_string_equal(Got.Lines[0], "this line is mu");  // Size - 1 characters
    assert_int_equal(Ring.Used, 16);
    TextRingAppend(&Ring, "next");
    Got = Visit(&Ring, 64);
    assert_int_equal(Got.Count, 1);
    assert_string_equal(Got.Lines[0], "next");
    free(Data);
}

static void TestVisitorBufferTruncates(void** State) {
    (void)State;
    char* Data = malloc(128);
    TEXT_RING Ring;
    TextRingInit(&Ring, Data, 128);
    TextRingAppend(&Ring, "abcdefghijklmnop");
    TextRingAppend(&Ring, "second");
    COLLECTED Got = Visit(&Ring, 5);
    assert_int_equal(Got.Count, 2);
    assert_string_equal(Got.Lines[0], "abcd");  // truncated, but the next line still starts right
    assert_string_equal(Got.Lines[1], "seco");
    free(Data);
}

static void TestTinyOrMissingStorage(void** State) {
    (void)State;
    TEXT_RING Ring;
    TextRingInit(&Ring, NULL, 100);
    TextRingAppend(&Ring, "ignored");
    assert_int_equal(Ring.Lines, 0);
    char One[1];
    TextRingInit(&Ring, One, 1);
    TextRingAppend(&Ring, "ignored");
    assert_int_equal(Ring.Lines, 0);
    char Two[2];
    TextRingInit(&Ring, Two, 2);
    TextRingAppend(&Ring, "xy");
    TextRingAppend(&Ring, NULL);
    COLLECTED Got = Visit(&Ring, 8);
    assert_int_equal(Got.Count, 1);
    assert_string_equal(Got.Lines[0], "x");
}

static void TestCursorReadsInOrder(void** State) {
    (void)State;
    char* Data = malloc(64);
    char Line[32];
    TEXT_RING Ring;
    TEXT_RING_CURSOR Cursor;
    U64 Skipped = 7;
    TextRingInit(&Ring, Data, 64);
    TextRingCursorInit(&Cursor);
    assert_false(TextRingRead(&Ring, &Cursor, Line, sizeof(Line), &Skipped));  // empty
    assert_int_equal(Skipped, 0);

    TextRingAppend(&Ring, "one");
    TextRingAppend(&Ring, "two");
    assert_true(TextRingRead(&Ring, &Cursor, Line, sizeof(Line), &Skipped));
    assert_string_equal(Line, "one");
    assert_true(TextRingRead(&Ring, &Cursor, Line, sizeof(Line), &Skipped));
    assert_string_equal(Line, "two");
    assert_false(TextRingRead(&Ring, &Cursor, Line, sizeof(Line), &Skipped));
    // A line appended after the cursor reached the end is read next.
    TextRingAppend(&Ring, "three");
    assert_true(TextRingRead(&Ring, &Cursor, Line, sizeof(Line), &Skipped));
    assert_string_equal(Line, "three");
    assert_int_equal(Skipped, 0);
    free(Data);
}

static void TestCursorSkipsDroppedLines(void** State) {
    (void)State;
    char* Data = malloc(24);
    char Line[32];
    TEXT_RING Ring;
    TEXT_RING_CURSOR Cursor;
    U64 Skipped = 0;
    TextRingInit(&Ring, Data, 24);
    TextRingCursorInit(&Cursor);
    TextRingAppend(&Ring, "aaaa");  // 5 bytes each: 4 fit
    TextRingAppend(&Ring, "bbbb");
    assert_true(TextRingRead(&Ring, &Cursor, Line, sizeof(Line), &Skipped));
    assert_string_equal(Line, "aaaa");
    // Meanwhile the writer drops "aaaa", "bbbb" and "cccc".
    TextRingAppend(&Ring, "cccc");
    TextRingAppend(&Ring, "dddd");
    TextRingAppend(&Ring, "eeee");
    TextRingAppend(&Ring, "ffff");
    TextRingAppend(&Ring, "gggg");
    TextRingAppend(&Ring, "hhhh");
    assert_int_equal(Ring.Dropped, 4);
    assert_true(TextRingRead(&Ring, &Cursor, Line, sizeof(Line), &Skipped));
    assert_int_equal(Skipped, 3);  // bbbb, cccc, dddd were never seen
    assert_string_equal(Line, "eeee");
    assert_true(TextRingRead(&Ring, &Cursor, Line, sizeof(Line), &Skipped));
    assert_int_equal(Skipped, 0);
    assert_string_equal(Line, "ffff");
    free(Data);
}

static void TestCursorAtEndWhenRingEmpties(void** State) {
    (void)State;
    char* Data = malloc(16);
    char Line[32];
    TEXT_RING Ring;
    TEXT_RING_CURSOR Cursor;
    U64 Skipped = 0;
    TextRingInit(&Ring, Data, 16);
    TextRingCursorInit(&Cursor);
    TextRingAppend(&Ring, "abc");
    assert_true(TextRingRead(&Ring, &Cursor, Line, sizeof(Line), &Skipped));
    assert_false(TextRingRead(&Ring, &Cursor, Line, sizeof(Line), &Skipped));
    // An over-long line empties the ring completely before it is stored; the cursor must find it.
    TextRingAppend(&Ring, "0123456789abcdefXYZ");
    assert_true(TextRingRead(&Ring, &Cursor, Line, sizeof(Line), &Skipped));
    assert_string_equal(Line, "0123456789abcde");
    assert_int_equal(Skipped, 0);
    free(Data);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestAppendAndVisit),         cmocka_unit_test(TestDropOldestAndWrap),
        cmocka_unit_test(TestMixedSizesDropSeveral),  cmocka_unit_test(TestOverlongLine),
        cmocka_unit_test(TestVisitorBufferTruncates), cmocka_unit_test(TestTinyOrMissingStorage),
        cmocka_unit_test(TestCursorReadsInOrder),     cmocka_unit_test(TestCursorSkipsDroppedLines),
        cmocka_unit_test(TestCursorAtEndWhenRingEmpties),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
