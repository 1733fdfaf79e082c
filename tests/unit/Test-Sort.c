/*
 * Test-Sort.c - utils/Sort.c: random, sorted, reversed and all-equal arrays
 * of several record sizes sorted as qsort sorts them, a tie broken by a
 * second key, and the degenerate sizes (0 and 1 records) left alone.
 */
// SOURCES: utils/Sort.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "utils/Sort.h"

typedef struct {
    U64 Key;
    U32 Order;
    U32 Payload[3];
} RECORD;

static BOOL RecordBefore(LPCVOID A, LPCVOID B) {
    const RECORD* X = (const RECORD*)A;
    const RECORD* Y = (const RECORD*)B;
    return X->Key < Y->Key || (X->Key == Y->Key && X->Order < Y->Order);
}

static int RecordCompare(const void* A, const void* B) { return RecordBefore(A, B) ? -1 : RecordBefore(B, A) ? 1 : 0; }

static BOOL WordBefore(LPCVOID A, LPCVOID B) { return *(const U32*)A < *(const U32*)B; }

static void CheckAgainstQsort(RECORD* Records, size_t Count) {
    RECORD* Expected = malloc(Count * sizeof(RECORD) + 1);
    memcpy(Expected, Records, Count * sizeof(RECORD));
    qsort(Expected, Count, sizeof(RECORD), RecordCompare);
    SortRecords(Records, Count, sizeof(RECORD), RecordBefore);
    assert_memory_equal(Records, Expected, Count * sizeof(RECORD));
    free(Expected);
}

static void TestShapes(void** State) {
    (void)State;
    srand(77);
    for (size_t Count = 0; Count < 300; Count += 7) {
        RECORD* Records = calloc(Count + 1, sizeof(RECORD));
        for (int Shape = 0; Shape < 4; Shape++) {
            for (size_t I = 0; I < Count; I++) {
                U64 Key = Shape == 0 ? (U64)rand() % 50 : Shape == 1 ? I : Shape == 2 ? Count - I : 5;
                Records[I] = (RECORD){Key, (U32)I, {(U32)rand(), 0, 0}};
            }
            CheckAgainstQsort(Records, Count);
        }
        free(Records);
    }
}

static void TestSmallRecords(void** State) {
    (void)State;
    U32 Words[1000];
    for (int I = 0; I < 1000; I++) Words[I] = (U32)(I * 7919 % 1000);
    SortRecords(Words, 1000, sizeof(U32), WordBefore);
    for (int I = 0; I < 1000; I++) assert_int_equal(Words[I], (U32)I);
    U32 One = 42;
    SortRecords(&One, 1, sizeof(U32), WordBefore);
    SortRecords(NULL, 0, sizeof(U32), WordBefore);
    assert_int_equal(One, 42);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestShapes),
        cmocka_unit_test(TestSmallRecords),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
