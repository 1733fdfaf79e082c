/*
 * Test-CPUInfo.c - CPUID signature decoding and the feature string of CPUInfo.c.
 */
// SOURCES: system/CPUInfo.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "system/CPUInfo.h"

static void TestSignature(void** State) {
    (void)State;
    U32 Family, Model, Stepping;
    // Intel Coffee Lake (leaf 1 EAX 0x000906EA): family 6, model 0x9E, stepping 10.
    CPUInfoDecodeSignature(0x000906EA, &Family, &Model, &Stepping);
    assert_int_equal(Family, 6);
    assert_int_equal(Model, 0x9E);
    assert_int_equal(Stepping, 10);
    // AMD Zen 2 (0x00870F10): family 0xF + 0x8 = 0x17, model 0x71, stepping 0.
    CPUInfoDecodeSignature(0x00870F10, &Family, &Model, &Stepping);
    assert_int_equal(Family, 0x17);
    assert_int_equal(Model, 0x71);
    assert_int_equal(Stepping, 0);
    // QEMU's qemu64 (0x00060FB1): family 15, model 0x6B, stepping 1.
    CPUInfoDecodeSignature(0x00060FB1, &Family, &Model, &Stepping);
    assert_int_equal(Family, 15);
    assert_int_equal(Model, 0x6B);
    assert_int_equal(Stepping, 1);
    // Family 5 (Pentium): the extended model field is ignored.
    CPUInfoDecodeSignature(0x00010543, &Family, &Model, &Stepping);
    assert_int_equal(Family, 5);
    assert_int_equal(Model, 4);
    assert_int_equal(Stepping, 3);
}

static void TestFeatureString(void** State) {
    (void)State;
    CPU_INFO Info;
    char Buffer[512];
    memset(&Info, 0, sizeof(Info));
    CPUInfoFormatFeatures(&Info, Buffer, sizeof(Buffer));
    assert_string_equal(Buffer, "");

    Info.Features1D = (1U << 0) | (1U << 4) | (1U << 9) | (1U << 25) | (1U << 26);  // fpu tsc apic sse sse2
    Info.Features1C = (1U << 0) | (1U << 9) | (1U << 19) | (1U << 20) | (1U << 21) | (1U << 28) | (1U << 30);
    Info.Features7B = (1U << 5);          // avx2
    Info.FeaturesExt1D = (1U << 20) | (1U << 26);  // nx pdpe1gb
    Info.InvariantTSC = TRUE;
    CPUInfoFormatFeatures(&Info, Buffer, sizeof(Buffer));
    assert_string_equal(Buffer, "fpu tsc apic sse sse2 sse3 ssse3 sse4_1 sse4_2 x2apic avx rdrand avx2 nx pdpe1gb "
                                "invariant_tsc");
}

static void TestFeatureStringTruncation(void** State) {
    (void)State;
    CPU_INFO Info;
    char Buffer[14];
    memset(&Info, 0, sizeof(Info));
    Info.Features1D = (1U << 0) | (1U << 4) | (1U << 5) | (1U << 6);  // fpu tsc msr pae
    // "fpu tsc msr pae" is 15 characters: the last name does not fit whole and is left out.
    CPUInfoFormatFeatures(&Info, Buffer, sizeof(Buffer));
    assert_string_equal(Buffer, "fpu tsc msr");
    CPUInfoFormatFeatures(&Info, Buffer, 1);
    assert_string_equal(Buffer, "");
    CPUInfoFormatFeatures(&Info, Buffer, 0);  // nothing written, no crash
    CPUInfoFormatFeatures(&Info, NULL, 10);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestSignature),
        cmocka_unit_test(TestFeatureString),
        cmocka_unit_test(TestFeatureStringTruncation),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
