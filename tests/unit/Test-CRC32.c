/*
 * Test-CRC32.c - utils/CRC32.c against published check values: the
 * standard "123456789" check (0xCBF43926), the empty input, all-zero and
 * all-0xFF blocks, a GPT header checksum recomputed the way UEFI defines it,
 * continuation (CRC32Update over pieces equals one pass) and a bitwise
 * reference implementation over random data.
 */
// SOURCES: utils/CRC32.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "utils/CRC32.h"

/** Straight from the definition: one bit at a time, reflected 0xEDB88320. */
static U32 Reference(const U8* Data, size_t Size) {
    U32 Crc = 0xFFFFFFFFU;
    for (size_t I = 0; I < Size; I++) {
        Crc ^= Data[I];
        for (int Bit = 0; Bit < 8; Bit++) Crc = (Crc >> 1) ^ (0xEDB88320U & (0U - (Crc & 1)));
    }
    return ~Crc;
}

static void TestKnownVectors(void** State) {
    (void)State;
    assert_int_equal(CRC32("123456789", 9), 0xCBF43926U);
    assert_int_equal(CRC32("", 0), 0x00000000U);
    assert_int_equal(CRC32("a", 1), 0xE8B7BE43U);
    assert_int_equal(CRC32("abc", 3), 0x352441C2U);
    assert_int_equal(CRC32("The quick brown fox jumps over the lazy dog", 43), 0x414FA339U);
    U8 Zeros[32] = {0};
    U8 Ones[32];
    memset(Ones, 0xFF, sizeof(Ones));
    assert_int_equal(CRC32(Zeros, sizeof(Zeros)), 0x190A55ADU);
    assert_int_equal(CRC32(Ones, sizeof(Ones)), 0xFF6CAB0BU);
}

static void TestContinuation(void** State) {
    (void)State;
    const char* Text = "The quick brown fox jumps over the lazy dog";
    for (size_t Split = 0; Split <= 43; Split++) {
        U32 Crc = CRC32Update(CRC32(Text, Split), Text + Split, 43 - Split);
        assert_int_equal(Crc, 0x414FA339U);
    }
    assert_int_equal(CRC32Update(0, "123456789", 9), 0xCBF43926U);
}

static void TestAgainstReference(void** State) {
    (void)State;
    srand(1234);
    U8* Data = malloc(4096);
    for (int Round = 0; Round < 200; Round++) {
        size_t Size = (size_t)(rand() % 4096);
        for (size_t I = 0; I < Size; I++) Data[I] = (U8)rand();
        assert_int_equal(CRC32(Data, Size), Reference(Data, Size));
    }
    free(Data);
}

/** A GPT header laid out like sgdisk's for a 64 MiB disk: store its CRC, then check it the UEFI way. */
static void TestGptHeader(void** State) {
    (void)State;
    U8 Header[92] = {
        0x45, 0x46, 0x49, 0x20, 0x50, 0x41, 0x52, 0x54, 0x00, 0x00, 0x01, 0x00, 0x5C, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0xFF, 0xFF, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x22, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0xDE, 0xFF, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
        0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x80, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    U32 Crc = CRC32(Header, sizeof(Header));
    assert_int_equal(Crc, Reference(Header, sizeof(Header)));
    // Store it, then check it the UEFI way: the field zeroed during the computation.
    memcpy(Header + 16, &Crc, 4);
    U8 Copy[92];
    memcpy(Copy, Header, sizeof(Copy));
    memset(Copy + 16, 0, 4);
    assert_int_equal(CRC32(Copy, sizeof(Copy)), Crc);
    assert_int_not_equal(CRC32(Header, sizeof(Header)), Crc);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestKnownVectors),
        cmocka_unit_test(TestContinuation),
        cmocka_unit_test(TestAgainstReference),
        cmocka_unit_test(TestGptHeader),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
