/*
 * Test-Format.c - utils/Format.c: every conversion, flag, width and
 * precision against the host C library's snprintf (same format, same
 * arguments, same text and same return value), then the places where Cairn
 * chooses differently (%p, %#x of zero, unknown conversions), truncation
 * and the return value, and FormatByteSize.
 */
// SOURCES: utils/Format.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "utils/Format.h"

// Formats with both implementations and compares the text and the returned length.
#define SAME(...)                                                                          \
    do {                                                                                   \
        char Ours[160], Theirs[160];                                                       \
        SIZE OurLength = StringPrintFormat(Ours, sizeof(Ours), __VA_ARGS__);               \
        int TheirLength = snprintf(Theirs, sizeof(Theirs), __VA_ARGS__);                   \
        assert_string_equal(Ours, Theirs);                                                 \
        assert_int_equal(OurLength, (SIZE)TheirLength);                                    \
    } while (0)

static void TestSignedDecimal(void** State) {
    (void)State;
    SAME("%d", 0);
    SAME("%d", 42);
    SAME("%d", -42);
    SAME("%i", INT_MAX);
    SAME("%d", INT_MIN);
    SAME("[%5d]", 42);
    SAME("[%-5d]", 42);
    SAME("[%05d]", -42);
    SAME("[%+d] [%+d]", 5, -5);
    SAME("[% d] [% d]", 5, -5);
    SAME("[%.3d]", 7);
    SAME("[%8.3d]", -7);
    SAME("[%-8.3d]", 7);
    SAME("[%.0d]", 0);
    SAME("[%5.0d]", 0);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
    SAME("[%08.3d]", 7);  // '0' is ignored with a precision
    SAME("[%-05d]", 42);  // '-' wins over '0'
#pragma GCC diagnostic pop
    SAME("[%+05d]", 42);
    SAME("[%1d]", 12345);  // width smaller than the number
}

static void TestLengthModifiers(void** State) {
    (void)State;
    SAME("%lld", (long long)INT64_MIN);
    SAME("%lld", (long long)INT64_MAX);
    SAME("%llu", (unsigned long long)UINT64_MAX);
    SAME("%llx", (unsigned long long)0xFEDCBA9876543210ULL);
    SAME("%llX", (unsigned long long)0xFEDCBA9876543210ULL);
    SAME("%lu", (unsigned long)ULONG_MAX);
    SAME("%ld", (long)-1234567890123L);
    SAME("%zu", (size_t)123456789012ULL);
    SAME("%hhd", 200);   // converted to signed char: -56
    SAME("%hhu", 300);   // 44
    SAME("%hd", 70000);  // 4464
    SAME("%hu", -1);
    SAME("%hx", 0x12345);
    SAME("%hhx", 0x1FF);
    SAME("%020llu", (unsigned long long)UINT64_MAX);
    SAME("[%-24lld]", (long long)INT64_MIN);
}

static void TestUnsignedAndHex(void** State) {
    (void)State;
    SAME("%u", 0u);
    SAME("%u", UINT_MAX);
    SAME("%x", 0xDEADBEEFu);
    SAME("%X", 0xDEADBEEFu);
    SAME("%x", -1);
    SAME("%#x", 255);
    SAME("%#X", 255);
    SAME("[%#10x]", 255);
    SAME("[%#010x]", 255);
    SAME("[%-#10x]", 255);
    SAME("%o", 8);
    SAME("%o", 0);
    SAME("[%08x]", 0xBEEF);
    SAME("[%.6x]", 0xBEEF);
    SAME("[%.0x]", 0);
    SAME("%llo", (unsigned long long)UINT64_MAX);  // 22 octal digits
}

static void TestStringsAndCharacters(void** State) {
    (void)State;
    SAME("%s", "hello");
    SAME("[%10s]", "right");
    SAME("[%-10s]", "left");
    SAME("[%.3s]", "truncate");
    SAME("[%8.3s]", "truncate");
    SAME("[%.10s]", "short");
    SAME("[%.0s]", "gone");
    SAME("[%s]", "");
    SAME("%c%c%c", 'a', 'b', 'c');
    SAME("[%5c]", 'x');
    SAME("[%-3c]", 'y');
    SAME("100%%");
    SAME("%s=%d, %s=%x", "a", 1, "b", 0x2F);
}

static void TestStarArguments(void** State) {
    (void)State;
    SAME("[%*d]", 6, 42);
    SAME("[%*d]", -6, 42);  // negative width means left-justified
    SAME("[%-*d]", 6, 42);
    SAME("[%.*d]", 4, 42);
    SAME("[%*.*d]", 8, 4, -42);
    SAME("[%.*s]", 2, "abcdef");
    SAME("[%*s]", 7, "ab");
    SAME("[%.*d]", -1, 42);  // negative precision: as if none
}

static void TestCairnChoices(void** State) {
    (void)State;
    char Buffer[64];
    // %p: always 0x and 16 hex digits, so addresses line up in dumps.
    StringPrintFormat(Buffer, sizeof(Buffer), "%p", (void*)0x1234);
    assert_string_equal(Buffer, "0x0000000000001234");
    StringPrintFormat(Buffer, sizeof(Buffer), "%p", (void*)0xFFFFFFFF80001000ULL);
    assert_string_equal(Buffer, "0xffffffff80001000");
    StringPrintFormat(Buffer, sizeof(Buffer), "%p", (void*)NULL);
    assert_string_equal(Buffer, "0x0000000000000000");
    // NULL strings print as (null) instead of faulting.
    LPCSTR volatile Nothing = NULL;  // volatile: gcc would reject a visible NULL for %s
    StringPrintFormat(Buffer, sizeof(Buffer), "[%s]", Nothing);
    assert_string_equal(Buffer, "[(null)]");
    // An unknown conversion shows itself, so the mistake is visible (built via a variable: gcc would reject it).
    LPCSTR Unknown = "a%qb";
    StringPrintFormat(Buffer, sizeof(Buffer), Unknown, 0);
    assert_string_equal(Buffer, "a%qb");
    // A format ending in '%' stops there.
    LPCSTR Dangling = "end%";
    assert_int_equal(StringPrintFormat(Buffer, sizeof(Buffer), Dangling, 0), 3);
    assert_string_equal(Buffer, "end");
}

static void TestTruncation(void** State) {
    (void)State;
    char Buffer[8];
    memset(Buffer, 'Z', sizeof(Buffer));
    assert_int_equal(StringPrintFormat(Buffer, sizeof(Buffer), "%s", "0123456789"), 10);  // full length
    assert_string_equal(Buffer, "0123456");
    memset(Buffer, 'Z', sizeof(Buffer));
    assert_int_equal(StringPrintFormat(Buffer, sizeof(Buffer), "%d-%d", 1234, 5678), 9);
    assert_string_equal(Buffer, "1234-56");
    memset(Buffer, 'Z', sizeof(Buffer));
    assert_int_equal(StringPrintFormat(Buffer, 1, "abc"), 3);
    assert_string_equal(Buffer, "");
    memset(Buffer, 'Z', sizeof(Buffer));
    assert_int_equal(StringPrintFormat(Buffer, 0, "abc"), 3);  // size 0: nothing written
    assert_int_equal(Buffer[0], 'Z');
    memset(Buffer, 'Z', sizeof(Buffer));
    assert_int_equal(StringPrintFormat(Buffer, sizeof(Buffer), "%20d", 1), 20);  // padding counts too
    assert_string_equal(Buffer, "       ");
    memset(Buffer, 'Z', sizeof(Buffer));
    assert_int_equal(StringPrintFormat(Buffer, sizeof(Buffer), "exactly"), 7);  // 7 + terminator fits
    assert_string_equal(Buffer, "exactly");
}

static SIZE CallV(LPSTR Buffer, SIZE Size, LPCSTR Format, ...) {
    VA_LIST Arguments;
    VA_START(Arguments, Format);
    SIZE First = StringPrintFormatV(Buffer, Size, Format, Arguments);
    // The V form copies the list: the caller's list is still usable afterwards.
    SIZE Second = StringPrintFormatV(Buffer, Size, Format, Arguments);
    VA_END(Arguments);
    assert_int_equal(First, Second);
    return First;
}

static void TestVariadicForm(void** State) {
    (void)State;
    char Buffer[32];
    assert_int_equal(CallV(Buffer, sizeof(Buffer), "%s %llu", "n", 18446744073709551615ULL), 22);
    assert_string_equal(Buffer, "n 18446744073709551615");
}

static void TestByteSize(void** State) {
    (void)State;
    char Buffer[32];
    static const struct {
        U64 Bytes;
        LPCSTR Text;
    } Cases[] = {
        {0, "0 B"},
        {1, "1 B"},
        {1023, "1023 B"},
        {1024, "1.0 KiB"},
        {1536, "1.5 KiB"},
        {1048575, "1023.9 KiB"},
        {1048576, "1.0 MiB"},
        {267898880ULL, "255.4 MiB"},
        {6ULL << 30, "6.0 GiB"},
        {(1ULL << 40) + (1ULL << 39), "1.5 TiB"},
        {1ULL << 50, "1.0 PiB"},
        {UINT64_MAX, "15.9 EiB"},
    };
    for (size_t I = 0; I < sizeof(Cases) / sizeof(Cases[0]); I++) {
        FormatByteSize(Buffer, sizeof(Buffer), Cases[I].Bytes, FORMAT_SIZE_TENTHS);
        assert_string_equal(Buffer, Cases[I].Text);
    }
    FormatByteSize(Buffer, 4, 1536, FORMAT_SIZE_TENTHS);  // truncated but terminated
    assert_string_equal(Buffer, "1.5");
}

/* The other forms of the one byte-size formatter (disk and nvme list, dd, lspci and nvme-cli block sizes). */
static void TestByteSizeStyles(void** State) {
    (void)State;
    char Buffer[32];
    static const struct {
        U64 Bytes;
        U32 Style;
        LPCSTR Text;
    } Cases[] = {
        {67108864, FORMAT_SIZE_FIXED2 | FORMAT_SIZE_DECIMAL, "67.11 MB"},
        {512, FORMAT_SIZE_FIXED2 | FORMAT_SIZE_DECIMAL, "512.00 B"},
        {67108864, FORMAT_SIZE_FIXED2, "64.00 MiB"},
        {1610612736, FORMAT_SIZE_FIXED2, "1.50 GiB"},
        {(1ULL << 30) - 1, FORMAT_SIZE_FIXED2, "1024.00 MiB"},
        {999999, FORMAT_SIZE_FIXED2 | FORMAT_SIZE_DECIMAL, "1000.00 kB"},
        {512, FORMAT_SIZE_HUMAN | FORMAT_SIZE_DECIMAL, "512 B"},
        {1048576, FORMAT_SIZE_HUMAN | FORMAT_SIZE_DECIMAL, "1.0 MB"},
        {1048576, FORMAT_SIZE_HUMAN, "1.0 MiB"},
        {110100480, FORMAT_SIZE_HUMAN, "105 MiB"},
        {999999, FORMAT_SIZE_HUMAN | FORMAT_SIZE_DECIMAL, "1.0 MB"},
        {9960000, FORMAT_SIZE_HUMAN | FORMAT_SIZE_DECIMAL, "10 MB"},
        {4096, FORMAT_SIZE_EXACT, "4 KiB"},
        {512, FORMAT_SIZE_EXACT, "512 B"},
        {1536, FORMAT_SIZE_EXACT, "1536 B"},
        {2097152, FORMAT_SIZE_EXACT, "2 MiB"},
        {4096, FORMAT_SIZE_EXACT | FORMAT_SIZE_COMPACT, "4K"},
        {16384 * 1024, FORMAT_SIZE_EXACT | FORMAT_SIZE_COMPACT, "16M"},
        {1ULL << 32, FORMAT_SIZE_EXACT | FORMAT_SIZE_COMPACT, "4G"},
        {256, FORMAT_SIZE_EXACT | FORMAT_SIZE_COMPACT, "256"},
        {0, FORMAT_SIZE_EXACT | FORMAT_SIZE_COMPACT, "0"},
    };
    for (size_t I = 0; I < sizeof(Cases) / sizeof(Cases[0]); I++) {
        FormatByteSize(Buffer, sizeof(Buffer), Cases[I].Bytes, Cases[I].Style);
        assert_string_equal(Buffer, Cases[I].Text);
    }
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestSignedDecimal),  cmocka_unit_test(TestLengthModifiers),
        cmocka_unit_test(TestUnsignedAndHex), cmocka_unit_test(TestStringsAndCharacters),
        cmocka_unit_test(TestStarArguments),  cmocka_unit_test(TestCairnChoices),
        cmocka_unit_test(TestTruncation),     cmocka_unit_test(TestVariadicForm),
        cmocka_unit_test(TestByteSize),     cmocka_unit_test(TestByteSizeStyles),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
