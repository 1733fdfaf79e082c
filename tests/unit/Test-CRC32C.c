/*
 * Test-CRC32C.c - utils/CRC32C.c against published check values (the
 * "123456789" check 0xE3069283 and the iSCSI vectors of RFC 3720 B.4),
 * a bitwise reference over random data and every split point, the raw
 * register ext4 stores (no final inversion), and the superblock checksum of
 * a real ext4 image made by the host's mke2fs.
 */
// SOURCES: utils/CRC32C.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "utils/CRC32C.h"

/** Straight from the definition: one bit at a time, reflected 0x82F63B78, the register without inversions. */
static U32 ReferenceRegister(U32 Crc, const U8* Data, size_t Size) {
    for (size_t I = 0; I < Size; I++) {
        Crc ^= Data[I];
        for (int Bit = 0; Bit < 8; Bit++) Crc = (Crc >> 1) ^ (0x82F63B78U & (0U - (Crc & 1)));
    }
    return Crc;
}

static void TestKnownVectors(void** State) {
    (void)State;
    assert_int_equal(CRC32C("123456789", 9), 0xE3069283U);
    assert_int_equal(CRC32C("", 0), 0x00000000U);
    U8 Buffer[32];
    memset(Buffer, 0, sizeof(Buffer));
    assert_int_equal(CRC32C(Buffer, 32), 0x8A9136AAU);
    memset(Buffer, 0xFF, sizeof(Buffer));
    assert_int_equal(CRC32C(Buffer, 32), 0x62A8AB43U);
    for (int I = 0; I < 32; I++) Buffer[I] = (U8)I;
    assert_int_equal(CRC32C(Buffer, 32), 0x46DD794EU);
    for (int I = 0; I < 32; I++) Buffer[I] = (U8)(31 - I);
    assert_int_equal(CRC32C(Buffer, 32), 0x113FDB5CU);
}

static void TestRawRegister(void** State) {
    (void)State;
    // ext4 stores the register: the NOT of the textbook value when the seed is ~0.
    assert_int_equal(CRC32CUpdate(~0U, "123456789", 9), ~0xE3069283U);
    // Chained updates equal one pass, at every split point and from any seed.
    const char* Text = "The quick brown fox jumps over the lazy dog, twice over, to pass eight bytes";
    size_t Length = strlen(Text);
    for (size_t Split = 0; Split <= Length; Split++) {
        U32 Chained = CRC32CUpdate(CRC32CUpdate(0x3BA62721U, Text, Split), Text + Split, Length - Split);
        assert_int_equal(Chained, ReferenceRegister(0x3BA62721U, (const U8*)Text, Length));
    }
}

static void TestAgainstReference(void** State) {
    (void)State;
    srand(4321);
    U8* Data = malloc(9000);
    for (int Round = 0; Round < 300; Round++) {
        size_t Offset = (size_t)(rand() % 8);  // unaligned starts too
        size_t Size = (size_t)(rand() % 8192);
        for (size_t I = 0; I < Offset + Size; I++) Data[I] = (U8)rand();
        U32 Seed = (U32)rand();
        assert_int_equal(CRC32CUpdate(Seed, Data + Offset, Size), ReferenceRegister(Seed, Data + Offset, Size));
    }
    free(Data);
}

/** The superblock checksum mke2fs wrote: crc32c(~0, sb[0..0x3FC)) as the raw register (e2fsprogs csum.c). */
static void TestExt4Superblock(void** State) {
    (void)State;
    char Image[] = "/tmp/cairn-crc32c-XXXXXX";
    int Descriptor = mkstemp(Image);
    assert_true(Descriptor >= 0);
    close(Descriptor);
    char Command[256];
    snprintf(Command, sizeof(Command),
             "PATH=$PATH:/sbin:/usr/sbin mke2fs -q -F -b 4096 -O none,has_journal,extent,64bit,metadata_csum %s 8M "
             "> /dev/null 2>&1",
             Image);
    assert_int_equal(system(Command), 0);
    FILE* File = fopen(Image, "rb");
    assert_non_null(File);
    U8 Super[1024];
    assert_int_equal(fseek(File, 1024, SEEK_SET), 0);
    assert_int_equal(fread(Super, 1, sizeof(Super), File), sizeof(Super));
    fclose(File);
    unlink(Image);
    U32 Stored = (U32)Super[0x3FC] | ((U32)Super[0x3FD] << 8) | ((U32)Super[0x3FE] << 16) | ((U32)Super[0x3FF] << 24);
    assert_int_equal(CRC32CUpdate(~0U, Super, 0x3FC), Stored);
    assert_int_equal(CRC32C(Super, 0x3FC), ~Stored);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestKnownVectors),
        cmocka_unit_test(TestRawRegister),
        cmocka_unit_test(TestAgainstReference),
        cmocka_unit_test(TestExt4Superblock),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
