/*
 * Test-String.c - utils/String.c: memory helpers (incl. overlapping moves
 * and unaligned copies), lengths, comparisons, bounded copy/append with
 * truncation, character classes and number parsing (bases, suffixes,
 * overflow at the exact U64 limit, junk).
 */
// SOURCES: utils/String.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "utils/String.h"

static void TestMemorySetAndCompare(void** State) {
    (void)State;
    U8 Buffer[40];
    memset(Buffer, 0x11, sizeof(Buffer));
    MemorySet(Buffer + 3, 0xAB, 30);
    assert_int_equal(Buffer[2], 0x11);
    for (int I = 3; I < 33; I++) assert_int_equal(Buffer[I], 0xAB);
    assert_int_equal(Buffer[33], 0x11);
    MemorySet(Buffer, 0, 0);  // zero size touches nothing
    assert_int_equal(Buffer[0], 0x11);

    assert_int_equal(MemoryCompare("abc", "abc", 3), 0);
    assert_true(MemoryCompare("abc", "abd", 3) < 0);
    assert_true(MemoryCompare("\xff", "\x01", 1) > 0);  // unsigned bytes
    assert_int_equal(MemoryCompare("abX", "abY", 2), 0);
}

static void TestMemoryCopyAlignments(void** State) {
    (void)State;
    U8 Source[64], Destination[80];
    for (int I = 0; I < 64; I++) Source[I] = (U8)(I * 7 + 1);
    for (int SourceOffset = 0; SourceOffset < 8; SourceOffset++) {
        for (int DestinationOffset = 0; DestinationOffset < 8; DestinationOffset++) {
            memset(Destination, 0xEE, sizeof(Destination));
            MemoryCopy(Destination + DestinationOffset, Source + SourceOffset, 37);
            assert_memory_equal(Destination + DestinationOffset, Source + SourceOffset, 37);
            if (DestinationOffset > 0) assert_int_equal(Destination[DestinationOffset - 1], 0xEE);
            assert_int_equal(Destination[DestinationOffset + 37], 0xEE);
        }
    }
}

static void TestMemoryMoveOverlap(void** State) {
    (void)State;
    char Buffer[32];
    strcpy(Buffer, "0123456789ABCDEFGHIJ");
    MemoryMove(Buffer + 2, Buffer, 10);  // forward overlap
    assert_memory_equal(Buffer, "01012345678", 11);
    assert_memory_equal(Buffer + 12, "CDEF", 4);

    strcpy(Buffer, "0123456789ABCDEFGHIJ");
    MemoryMove(Buffer, Buffer + 3, 17);  // backward overlap, 8-byte aligned path possible
    assert_memory_equal(Buffer, "3456789ABCDEFGHIJ", 17);

    strcpy(Buffer, "0123456789ABCDEFGHIJ");
    MemoryMove(Buffer + 8, Buffer, 12);  // destination 8 ahead: overlapping, aligned words
    assert_memory_equal(Buffer, "012345670123456789AB", 20);

    strcpy(Buffer, "abc");
    MemoryMove(Buffer, Buffer, 3);
    assert_string_equal(Buffer, "abc");
}

static void TestLengths(void** State) {
    (void)State;
    assert_int_equal(StringLength(""), 0);
    assert_int_equal(StringLength("hello"), 5);
    assert_int_equal(StringLength(NULL), 0);
    assert_int_equal(StringLengthBounded("hello", 3), 3);
    assert_int_equal(StringLengthBounded("hi", 10), 2);
    assert_int_equal(StringLengthBounded(NULL, 10), 0);
    char NotTerminated[4] = {'a', 'b', 'c', 'd'};
    assert_int_equal(StringLengthBounded(NotTerminated, 4), 4);  // never reads past the bound (ASan)
}

static void TestCompare(void** State) {
    (void)State;
    assert_int_equal(StringCompare("abc", "abc"), 0);
    assert_true(StringCompare("abc", "abd") < 0);
    assert_true(StringCompare("abd", "abc") > 0);
    assert_true(StringCompare("ab", "abc") < 0);
    assert_true(StringCompare("abc", "ab") > 0);
    assert_true(StringCompare("\x80", "a") > 0);  // compares as unsigned
    assert_int_equal(StringCompare("", ""), 0);

    assert_int_equal(StringCompareBounded("abcX", "abcY", 3), 0);
    assert_true(StringCompareBounded("abcX", "abcY", 4) < 0);
    assert_int_equal(StringCompareBounded("ab", "ab", 10), 0);
    assert_true(StringCompareBounded("ab", "abc", 10) < 0);
    assert_int_equal(StringCompareBounded("x", "y", 0), 0);

    assert_int_equal(StringCompareNoCase("HeLLo", "hello"), 0);
    assert_true(StringCompareNoCase("apple", "BANANA") < 0);
    assert_true(StringCompareNoCase("Zeta", "alpha") > 0);
    assert_true(StringCompareNoCase("abc", "ABCD") < 0);
}

static void TestCopy(void** State) {
    (void)State;
    char Buffer[8];
    memset(Buffer, 'Z', sizeof(Buffer));
    assert_int_equal(StringCopy(Buffer, "hi", sizeof(Buffer)), 2);
    assert_string_equal(Buffer, "hi");

    memset(Buffer, 'Z', sizeof(Buffer));
    assert_int_equal(StringCopy(Buffer, "truncated!", sizeof(Buffer)), 10);  // length of the source
    assert_string_equal(Buffer, "truncat");

    memset(Buffer, 'Z', sizeof(Buffer));
    assert_int_equal(StringCopy(Buffer, "abc", 0), 3);  // size 0: writes nothing
    assert_int_equal(Buffer[0], 'Z');
    assert_int_equal(StringCopy(Buffer, "abc", 1), 3);
    assert_string_equal(Buffer, "");
}

static void TestAppend(void** State) {
    (void)State;
    char Buffer[10] = "ab";
    assert_int_equal(StringAppend(Buffer, "cd", sizeof(Buffer)), 4);
    assert_string_equal(Buffer, "abcd");
    assert_int_equal(StringAppend(Buffer, "efghijk", sizeof(Buffer)), 11);  // would-be length
    assert_string_equal(Buffer, "abcdefghi");
    assert_int_equal(StringAppend(Buffer, "x", sizeof(Buffer)), 10);
    assert_string_equal(Buffer, "abcdefghi");

    char Full[4] = {'a', 'b', 'c', 'd'};  // not terminated within Size
    assert_int_equal(StringAppend(Full, "xy", sizeof(Full)), 6);
    assert_memory_equal(Full, "abcd", 4);
}

static void TestFindAndPrefix(void** State) {
    (void)State;
    LPCSTR Text = "key=value=x";
    assert_ptr_equal(StringFindChar(Text, '='), Text + 3);
    assert_ptr_equal(StringFindChar(Text, 'x'), Text + 10);
    assert_null(StringFindChar(Text, '#'));
    assert_ptr_equal(StringFindChar(Text, 0), Text + 11);

    assert_true(StringStartsWith("console=ttyS0", "console="));
    assert_true(StringStartsWith("abc", ""));
    assert_false(StringStartsWith("con", "console"));
    assert_false(StringStartsWith("Console", "console"));
}

static void TestCharacters(void** State) {
    (void)State;
    assert_int_equal(CharToLower('A'), 'a');
    assert_int_equal(CharToLower('z'), 'z');
    assert_int_equal(CharToLower('@'), '@');
    assert_int_equal(CharToLower('['), '[');
    assert_int_equal(CharToUpper('a'), 'A');
    assert_int_equal(CharToUpper('{'), '{');
    assert_int_equal(CharToUpper('`'), '`');
    assert_true(CharIsDigit('0') && CharIsDigit('9'));
    assert_false(CharIsDigit('a') || CharIsDigit('/') || CharIsDigit(':'));
    assert_true(CharIsSpace(' ') && CharIsSpace('\t') && CharIsSpace('\n') && CharIsSpace('\r'));
    assert_false(CharIsSpace('x') || CharIsSpace(0));
    assert_true(CharIsPrintable(' ') && CharIsPrintable('~'));
    assert_false(CharIsPrintable(0x1F) || CharIsPrintable(0x7F) || CharIsPrintable((char)0x80));
}

static void TestNumberBase(void** State) {
    (void)State;
    U64 Value = 12345;
    assert_true(StringToU64Base("ff", 16, &Value));
    assert_int_equal(Value, 255);
    assert_true(StringToU64Base("FF", 16, &Value));
    assert_int_equal(Value, 255);
    assert_true(StringToU64Base("777", 8, &Value));
    assert_int_equal(Value, 511);
    assert_true(StringToU64Base("101", 2, &Value));
    assert_int_equal(Value, 5);
    assert_true(StringToU64Base("zz", 36, &Value));
    assert_int_equal(Value, 35 * 36 + 35);
    assert_true(StringToU64Base("18446744073709551615", 10, &Value));
    assert_true(Value == UINT64_MAX);
    assert_true(StringToU64Base("ffffffffffffffff", 16, &Value));
    assert_true(Value == UINT64_MAX);

    Value = 7;
    assert_false(StringToU64Base("18446744073709551616", 10, &Value));  // one past the limit
    assert_false(StringToU64Base("10000000000000000", 16, &Value));
    assert_false(StringToU64Base("8", 8, &Value));
    assert_false(StringToU64Base("12a", 10, &Value));
    assert_false(StringToU64Base("", 10, &Value));
    assert_false(StringToU64Base(NULL, 10, &Value));
    assert_false(StringToU64Base("1", 1, &Value));
    assert_false(StringToU64Base("1", 37, &Value));
    assert_false(StringToU64Base("-1", 10, &Value));
    assert_false(StringToU64Base(" 1", 10, &Value));
    assert_int_equal(Value, 7);  // untouched on failure
}

static void TestNumberSuffixes(void** State) {
    (void)State;
    U64 Value = 0;
    assert_true(StringToU64("42", &Value, FALSE));
    assert_int_equal(Value, 42);
    assert_true(StringToU64("0", &Value, TRUE));
    assert_int_equal(Value, 0);
    assert_true(StringToU64("0x1F", &Value, FALSE));
    assert_int_equal(Value, 31);
    assert_true(StringToU64("0XdeadBEEF", &Value, TRUE));
    assert_int_equal(Value, 0xDEADBEEFULL);
    assert_true(StringToU64("4k", &Value, TRUE));
    assert_int_equal(Value, 4096);
    assert_true(StringToU64("4K", &Value, TRUE));
    assert_int_equal(Value, 4096);
    assert_true(StringToU64("16M", &Value, TRUE));
    assert_int_equal(Value, 16ULL << 20);
    assert_true(StringToU64("2g", &Value, TRUE));
    assert_int_equal(Value, 2ULL << 30);
    assert_true(StringToU64("0k", &Value, TRUE));
    assert_int_equal(Value, 0);
    assert_true(StringToU64("17179869183G", &Value, TRUE));  // (2^34 - 1) GiB fits
    assert_true(Value == (17179869183ULL << 30));

    Value = 99;
    assert_false(StringToU64("4k", &Value, FALSE));        // suffix not allowed
    assert_false(StringToU64("17179869184G", &Value, TRUE));  // 2^64: overflow through the suffix
    assert_false(StringToU64("k", &Value, TRUE));
    assert_false(StringToU64("0x", &Value, TRUE));
    assert_false(StringToU64("", &Value, TRUE));
    assert_false(StringToU64(NULL, &Value, TRUE));
    assert_false(StringToU64("12kb", &Value, TRUE));
    assert_false(StringToU64("1.5M", &Value, TRUE));
    assert_false(StringToU64("0x10k", &Value, TRUE));  // hex takes no suffix ('k' is not a hex digit)
    assert_false(StringToU64("18446744073709551616", &Value, FALSE));
    assert_false(StringToU64("-5", &Value, FALSE));
    assert_int_equal(Value, 99);
    assert_true(StringToU64("18446744073709551615", &Value, FALSE));
    assert_true(Value == UINT64_MAX);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestMemorySetAndCompare), cmocka_unit_test(TestMemoryCopyAlignments),
        cmocka_unit_test(TestMemoryMoveOverlap),   cmocka_unit_test(TestLengths),
        cmocka_unit_test(TestCompare),             cmocka_unit_test(TestCopy),
        cmocka_unit_test(TestAppend),              cmocka_unit_test(TestFindAndPrefix),
        cmocka_unit_test(TestCharacters),          cmocka_unit_test(TestNumberBase),
        cmocka_unit_test(TestNumberSuffixes),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
