/*
 * Test-SHA256.c - utils/SHA256.c against the FIPS 180-2 appendix B examples,
 * the empty message, every length around the padding boundaries (checked
 * against the host's sha256sum), and incremental updates split at every
 * point of a message (the split must not change the digest).
 */
// SOURCES: utils/SHA256.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "utils/SHA256.h"

static void HexOf(const void* Data, size_t Length, char* Hex) {
    U8 Digest[SHA256_DIGEST_SIZE];
    SHA256Buffer(Data, Length, Digest);
    SHA256ToHex(Digest, Hex);
}

static void TestKnownVectors(void** State) {
    (void)State;
    char Hex[SHA256_HEX_LENGTH + 1];
    HexOf("", 0, Hex);
    assert_string_equal(Hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    HexOf("abc", 3, Hex);
    assert_string_equal(Hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char* Two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    HexOf(Two, strlen(Two), Hex);
    assert_string_equal(Hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

    // One million 'a', fed in uneven pieces.
    SHA256_CONTEXT Context;
    U8 Digest[SHA256_DIGEST_SIZE];
    char Piece[997];
    memset(Piece, 'a', sizeof(Piece));
    SHA256Init(&Context);
    size_t Left = 1000000;
    while (Left > 0) {
        size_t Take = Left < sizeof(Piece) ? Left : sizeof(Piece);
        SHA256Update(&Context, Piece, Take);
        Left -= Take;
    }
    SHA256Final(&Context, Digest);
    SHA256ToHex(Digest, Hex);
    assert_string_equal(Hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void TestSplitsAgree(void** State) {
    (void)State;
    U8 Message[300];
    for (U32 I = 0; I < sizeof(Message); I++) Message[I] = (U8)(I * 37 + 11);
    char Whole[SHA256_HEX_LENGTH + 1], Split[SHA256_HEX_LENGTH + 1];
    HexOf(Message, sizeof(Message), Whole);
    for (U32 Cut = 0; Cut <= sizeof(Message); Cut++) {
        SHA256_CONTEXT Context;
        U8 Digest[SHA256_DIGEST_SIZE];
        SHA256Init(&Context);
        SHA256Update(&Context, Message, Cut);
        SHA256Update(&Context, NULL, 0);
        SHA256Update(&Context, Message + Cut, sizeof(Message) - Cut);
        SHA256Final(&Context, Digest);
        SHA256ToHex(Digest, Split);
        assert_string_equal(Split, Whole);
    }
}

/** Lengths 0..200 cover every padding case (55, 56, 63, 64, 119, 120 ...): compare with sha256sum. */
static void TestAgainstHost(void** State) {
    (void)State;
    if (system("command -v sha256sum > /dev/null 2>&1") != 0) skip();
    char Path[] = "/tmp/cairn-sha256-XXXXXX";
    int Descriptor = mkstemp(Path);
    assert_true(Descriptor >= 0);
    close(Descriptor);
    U8 Message[200];
    srand(12345);
    for (U32 I = 0; I < sizeof(Message); I++) Message[I] = (U8)rand();
    for (U32 Length = 0; Length <= sizeof(Message); Length++) {
        FILE* File = fopen(Path, "wb");
        assert_non_null(File);
        assert_int_equal(fwrite(Message, 1, Length, File), Length);
        fclose(File);
        char Command[128], Expected[80] = {0};
        snprintf(Command, sizeof(Command), "sha256sum %s", Path);
        FILE* Pipe = popen(Command, "r");
        assert_non_null(Pipe);
        assert_non_null(fgets(Expected, sizeof(Expected), Pipe));
        pclose(Pipe);
        Expected[SHA256_HEX_LENGTH] = 0;
        char Hex[SHA256_HEX_LENGTH + 1];
        HexOf(Message, Length, Hex);
        assert_string_equal(Hex, Expected);
    }
    unlink(Path);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestKnownVectors),
        cmocka_unit_test(TestSplitsAgree),
        cmocka_unit_test(TestAgainstHost),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
