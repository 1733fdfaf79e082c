/*
 * Test-Pattern.c - utils/Pattern.c, the disk test pattern `disk fill` writes
 * and `disk check` verifies. The known values below are the reference
 * splitmix64 outputs (seed 0 gives e220a8397b1dcdaf, 6e789e6aa1b965f4, as
 * published with the algorithm) and values computed by tools/pattern.py;
 * tests/integration/test_nvme.py asserts the same values against
 * tools/pattern.py, so the kernel and the host tool cannot drift apart.
 */
// SOURCES: utils/Pattern.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "utils/Pattern.h"

typedef struct {
    U64 Seed;
    U64 Index;
    U64 Word;
} KNOWN_WORD;

// Keep in sync with KNOWN_WORDS in tests/integration/test_nvme.py.
static const KNOWN_WORD KnownWords[] = {
    {0, 0, 0xe220a8397b1dcdafULL},
    {0, 1, 0x6e789e6aa1b965f4ULL},
    {1, 0, 0x910a2dec89025cc1ULL},
    {42, 0, 0xbdd732262feb6e95ULL},
    {42, 1, 0x28efe333b266f103ULL},
    {0x123456789abcdef0ULL, 1000, 0x14f4754391fec912ULL},
    {0xFFFFFFFFFFFFFFFFULL, 0, 0xe4d971771b652c20ULL},
    {7, 65536, 0xc11c30f1cc1d832eULL},
};

static void TestKnownWords(void** State) {
    (void)State;
    for (size_t I = 0; I < sizeof(KnownWords) / sizeof(KnownWords[0]); I++) {
        assert_int_equal(PatternWord(KnownWords[I].Seed, KnownWords[I].Index), KnownWords[I].Word);
    }
}

static void TestBytesAreLittleEndianWords(void** State) {
    (void)State;
    // Seed 42, word 0 = bdd732262feb6e95: disk bytes 0..7 are 95 6e eb 2f 26 32 d7 bd.
    static const U8 Expected[16] = {0x95, 0x6e, 0xeb, 0x2f, 0x26, 0x32, 0xd7, 0xbd,
                                    0x03, 0xf1, 0x66, 0xb2, 0x33, 0xe3, 0xef, 0x28};
    U8 Buffer[16];
    PatternFill(Buffer, sizeof(Buffer), 42, 0);
    assert_memory_equal(Buffer, Expected, sizeof(Expected));
    for (U32 I = 0; I < 16; I++) assert_int_equal(PatternByte(42, I), Expected[I]);
}

static void TestKnownRangesFromTheHostTool(void** State) {
    (void)State;
    // tools/pattern.py bytes 42 4093 8 | xxd -p  -> f23571809adf2933 (crosses a word boundary)
    static const U8 Across[8] = {0xf2, 0x35, 0x71, 0x80, 0x9a, 0xdf, 0x29, 0x33};
    // tools/pattern.py bytes 0xDEADBEEF 1049084 8 (the last 4 bytes of LBA 2048 and the first 4 of 2049)
    static const U8 Far[8] = {0xbf, 0xfa, 0x17, 0x4a, 0x9f, 0x87, 0xd5, 0x5b};
    U8 Buffer[8];
    PatternFill(Buffer, 8, 42, 4093);
    assert_memory_equal(Buffer, Across, 8);
    PatternFill(Buffer, 8, 0xDEADBEEFULL, 512ULL * 2049 - 4);
    assert_memory_equal(Buffer, Far, 8);

    // Sum of 100000 bytes from disk offset 1540, seed 5 (python: sum(pattern_bytes(5, 1540, 100000))).
    U8* Large = malloc(100000);
    assert_non_null(Large);
    PatternFill(Large, 100000, 5, 512 * 3 + 4);
    U64 Sum = 0;
    for (U32 I = 0; I < 100000; I++) Sum += Large[I];
    assert_int_equal(Sum, 12709373);
    free(Large);
}

/** A fill at any buffer misalignment, disk offset and length equals the byte-by-byte definition. */
static void TestFillMatchesByteDefinition(void** State) {
    (void)State;
    U8 Storage[300];
    static const U32 Misalign[] = {0, 1, 3, 4, 7};
    static const U64 Offsets[] = {0, 1, 5, 8, 511, 512, 4092, 0xFFFFFFF9ULL};
    static const U32 Lengths[] = {0, 1, 7, 8, 9, 15, 16, 17, 64, 255};
    for (U32 M = 0; M < 5; M++) {
        for (U32 O = 0; O < 8; O++) {
            for (U32 L = 0; L < 10; L++) {
                memset(Storage, 0xA5, sizeof(Storage));
                U8* Buffer = Storage + Misalign[M];
                PatternFill(Buffer, Lengths[L], 99, Offsets[O]);
                for (U32 I = 0; I < Lengths[L]; I++) assert_int_equal(Buffer[I], PatternByte(99, Offsets[O] + I));
                // Nothing written past the end or before the start.
                assert_int_equal(Buffer[Lengths[L]], 0xA5);
                if (Misalign[M] > 0) assert_int_equal(Storage[Misalign[M] - 1], 0xA5);
                assert_int_equal(PatternCheck(Buffer, Lengths[L], 99, Offsets[O], NULL), Lengths[L]);
            }
        }
    }
}

static void TestCheckFindsFirstMismatch(void** State) {
    (void)State;
    U8 Buffer[4096 + 3];
    U8* Data = Buffer + 3;
    PatternFill(Data, 4096, 7, 512 * 10);
    assert_int_equal(PatternCheck(Data, 4096, 7, 512 * 10, NULL), 4096);
    Data[1000] ^= 0x10;
    Data[3000] ^= 0x01;
    U8 Expected = 0;
    assert_int_equal(PatternCheck(Data, 4096, 7, 512 * 10, &Expected), 1000);
    assert_int_equal(Expected, PatternByte(7, 512 * 10 + 1000));
    assert_int_equal(Data[1000] ^ 0x10, Expected);
    Data[1000] ^= 0x10;
    assert_int_equal(PatternCheck(Data, 4096, 7, 512 * 10, &Expected), 3000);
    assert_int_equal(PatternCheck(Data, 0, 7, 512 * 10, NULL), 0);
}

/** Data that is right but at the wrong place, or written with another seed, does not pass. */
static void TestPositionAndSeedMatter(void** State) {
    (void)State;
    U8 Data[512];
    PatternFill(Data, sizeof(Data), 1, 512 * 5);
    assert_int_equal(PatternCheck(Data, sizeof(Data), 1, 512 * 5, NULL), sizeof(Data));
    assert_true(PatternCheck(Data, sizeof(Data), 1, 512 * 4, NULL) < 8);
    assert_true(PatternCheck(Data, sizeof(Data), 1, 512 * 6, NULL) < 8);
    assert_true(PatternCheck(Data, sizeof(Data), 1, 512 * 5 + 8, NULL) < 8);
    assert_true(PatternCheck(Data, sizeof(Data), 2, 512 * 5, NULL) < 8);
    // Neighbouring words differ (no accidental repetition of the sector's first word).
    for (U32 I = 1; I < 64; I++) assert_true(PatternWord(1, 320) != PatternWord(1, 320 + I));
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestKnownWords),
        cmocka_unit_test(TestBytesAreLittleEndianWords),
        cmocka_unit_test(TestKnownRangesFromTheHostTool),
        cmocka_unit_test(TestFillMatchesByteDefinition),
        cmocka_unit_test(TestCheckFindsFirstMismatch),
        cmocka_unit_test(TestPositionAndSeedMatter),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
