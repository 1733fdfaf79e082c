/*
 * Test-VMD.c - the pure logic of the VMD driver: the ID and feature table,
 * the bus layout from VMCAP/VMCONFIG (and the Arrow Lake BUSRANGE
 * registers), the memory windows, CFGBAR offsets, and the arithmetic of
 * MSI remapping (message address and index, the client vector-0 rule, the
 * spreading of NVMe vectors, when bypass is allowed).
 */
// SOURCES: bus/vmd/VMD-Profiles.c bus/vmd/VMD-Layout.c bus/vmd/VMD-Remap.c utils/String.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "bus/vmd/VMD-Internal.h"

#define CLIENT_FEATURES                                                                                       \
    (VMD_FEATURE_MEMBAR_SHADOW_VSCAP | VMD_FEATURE_BUS_RESTRICTIONS | VMD_FEATURE_OFFSET_FIRST_VECTOR |          \
     VMD_FEATURE_BIOS_PM_QUIRK | VMD_FEATURE_PCH_ROOT_BUS)

/************************************************************************/
// IDs and features

static void TestProfiles(void** State) {
    (void)State;
    static const U16 Client[] = {0x467F, 0x4C3D, 0x9A0B, 0xA77F, 0x7D0B, 0xAD0B, 0xB60B, 0xB06F, 0xB07F};
    assert_int_equal(VMDGetProfileCount(), 11);
    for (U32 I = 0; I < ARRAY_COUNT(Client); I++) {
        const VMD_PROFILE* P = VMDFindProfile(0x8086, Client[I]);
        assert_non_null(P);
        assert_int_equal(P->Features, CLIENT_FEATURES);
        assert_non_null(P->Source);
    }
    const VMD_PROFILE* Skx = VMDFindProfile(0x8086, 0x201D);
    assert_non_null(Skx);
    assert_int_equal(Skx->Features, VMD_FEATURE_MEMBAR_SHADOW_VSCAP);
    const VMD_PROFILE* Icx = VMDFindProfile(0x8086, 0x28C0);
    assert_non_null(Icx);
    assert_int_equal(Icx->Features,
                     VMD_FEATURE_MEMBAR_SHADOW | VMD_FEATURE_BUS_RESTRICTIONS | VMD_FEATURE_CAN_BYPASS_MSI_REMAP);
    // Not VMDs: another vendor, an RST SATA RAID ID, the dummy left in the host domain, an unconfirmed ID.
    assert_null(VMDFindProfile(0x1B36, 0x9A0B));
    assert_null(VMDFindProfile(0x8086, 0x2822));
    assert_null(VMDFindProfile(0x8086, 0x09AB));
    assert_null(VMDFindProfile(0x8086, 0xD70B));
    // Linux's feature bits, bit for bit.
    assert_int_equal(VMD_FEATURE_MEMBAR_SHADOW, 1 << 0);
    assert_int_equal(VMD_FEATURE_OFFSET_FIRST_VECTOR, 1 << 3);
    assert_int_equal(VMD_FEATURE_CAN_BYPASS_MSI_REMAP, 1 << 4);
    char Text[160];
    VMDFeatureText(Icx->Features, Text, sizeof(Text));
    assert_string_equal(Text, "membar-shadow bus-restrictions can-bypass-msi-remap");
    VMDFeatureText(0, Text, sizeof(Text));
    assert_string_equal(Text, "none");
}

/************************************************************************/
// Bus layout

static VMD_LAYOUT Decode(U32 Features, U32 Vmcap, U32 Vmconfig, U64 Cfgbar, U16 Range0, U16 Range1, BOOL* Ok) {
    VMD_LAYOUT Layout;
    char Why[80] = "";
    *Ok = VMDDecodeLayout(Features, Vmcap, Vmconfig, Cfgbar, Range0, Range1, &Layout, Why, sizeof(Why));
    if (!*Ok) assert_true(strlen(Why) > 0);
    return Layout;
}

static void TestBusStart(void** State) {
    (void)State;
    BOOL Ok;
    // Restriction in VMCONFIG bits 9:8 (other bits set around it must not matter).
    U32 Noise = 0x0191FC01 & ~0x300U;
    VMD_LAYOUT L = Decode(CLIENT_FEATURES, 1, Noise | (0 << 8), 32 * N_1MB, 0, 0, &Ok);
    assert_true(Ok);
    assert_int_equal(L.StartBus, 0);
    assert_int_equal(L.EndBus, 31);
    L = Decode(CLIENT_FEATURES, 1, Noise | (1 << 8), 32 * N_1MB, 0, 0, &Ok);
    assert_int_equal(L.StartBus, 128);
    assert_int_equal(L.EndBus, 159);
    L = Decode(CLIENT_FEATURES, 1, Noise | (2 << 8), 32 * N_1MB, 0, 0, &Ok);
    assert_int_equal(L.StartBus, 224);
    assert_int_equal(L.EndBus, 255);
    assert_int_equal(L.BusCount, 32);
    assert_int_equal(L.RootCount, 1);
    assert_int_equal(L.Roots[0].Bus, 224);
    assert_int_equal(L.Roots[0].LastBus, 255);
    // Observed on Tiger Lake and Meteor Lake: root bus e0 with buses e0-ff.
    // VMCAP bit 0 clear: no restriction whatever VMCONFIG says; an ID without the feature likewise (201D).
    L = Decode(CLIENT_FEATURES, 0, 2 << 8, 32 * N_1MB, 0, 0, &Ok);
    assert_int_equal(L.StartBus, 0);
    L = Decode(VMD_FEATURE_MEMBAR_SHADOW_VSCAP, 1, 2 << 8, 32 * N_1MB, 0, 0, &Ok);
    assert_int_equal(L.StartBus, 0);
    assert_int_equal(L.Restriction, 0);
}

static void TestBusCount(void** State) {
    (void)State;
    BOOL Ok;
    // The span is CFGBAR >> 20 buses, clamped at 255.
    VMD_LAYOUT L = Decode(CLIENT_FEATURES, 1, 2 << 8, 256 * N_1MB, 0, 0, &Ok);
    assert_true(Ok);
    assert_int_equal(L.EndBus, 255);
    assert_int_equal(L.BusCount, 32);
    L = Decode(CLIENT_FEATURES, 1, 0, N_1MB, 0, 0, &Ok);
    assert_true(Ok);
    assert_int_equal(L.EndBus, 0);
    // Under 1 MiB: refused, with a reason.
    Decode(CLIENT_FEATURES, 1, 0, N_1MB / 2, 0, 0, &Ok);
    assert_false(Ok);
    Decode(CLIENT_FEATURES, 1, 0, 0, 0, 0, &Ok);
    assert_false(Ok);
}

static void TestArrowLake(void** State) {
    (void)State;
    BOOL Ok;
    // Restriction 3 without BUSRANGE registers: one root bus at 224 (Intel: 11b reads as 10b).
    VMD_LAYOUT L = Decode(CLIENT_FEATURES, 1, 3 << 8, 32 * N_1MB, 0, 0, &Ok);
    assert_true(Ok);
    assert_true(L.DualRootFallback);
    assert_int_equal(L.RootCount, 1);
    assert_int_equal(L.StartBus, 224);
    // With them: root bus 224 (CFGBAR index 0) numbering e1-ef, root bus 225 (index 1) numbering f0-ff.
    L = Decode(CLIENT_FEATURES, 1, 3 << 8, 32 * N_1MB, 0xEFE0, 0xFFF0, &Ok);
    assert_true(Ok);
    assert_false(L.DualRootFallback);
    assert_int_equal(L.RootCount, 2);
    assert_int_equal(L.Roots[0].Bus, 224);
    assert_int_equal(L.Roots[0].FirstBus, 0xE1);
    assert_int_equal(L.Roots[0].LastBus, 0xEF);
    assert_int_equal(L.Roots[1].Bus, 225);
    assert_int_equal(L.Roots[1].FirstBus, 0xF1);
    assert_int_equal(L.Roots[1].LastBus, 0xFF);
    // Overlapping ranges, a range outside the span, or an ID without the feature: one root bus.
    L = Decode(CLIENT_FEATURES, 1, 3 << 8, 32 * N_1MB, 0xF0E0, 0xFFE8, &Ok);
    assert_int_equal(L.RootCount, 1);
    L = Decode(CLIENT_FEATURES, 1, 3 << 8, 32 * N_1MB, 0xEF10, 0xFFF0, &Ok);
    assert_int_equal(L.RootCount, 1);
    L = Decode(CLIENT_FEATURES & ~VMD_FEATURE_PCH_ROOT_BUS, 1, 3 << 8, 32 * N_1MB, 0xEFE0, 0xFFF0, &Ok);
    assert_int_equal(L.RootCount, 1);
}

/************************************************************************/
// Windows and CFGBAR offsets

static void TestWindows(void** State) {
    (void)State;
    BOOL Ok;
    PCI_WINDOW W[PCI_SEGMENT_MAX_WINDOWS];
    VMD_LAYOUT L = Decode(CLIENT_FEATURES, 1, 2 << 8, 32 * N_1MB, 0, 0, &Ok);
    // Tiger Lake as observed: MEMBAR1 32 MiB at 0x52000000, MEMBAR2 1 MiB at 0x6015100000.
    assert_int_equal(VMDMembar2ChildOffset(CLIENT_FEATURES), 0x2000);
    U32 Count = VMDComputeWindows(&L, 0x52000000, 32 * N_1MB, 0x6015100000ULL, N_1MB, 0x2000, 0, 0, W);
    assert_int_equal(Count, 2);
    assert_true(W[0].Base == 0x52000000 && W[0].Size == 32 * N_1MB);
    // Linux's root bus resource on that machine: [mem 0x6015102000-0x60151fffff].
    assert_true(W[1].Base == 0x6015102000ULL);
    assert_true(W[1].Base + W[1].Size - 1 == 0x60151FFFFFULL);
    // Native shadow (28C0): children from +0x2010, rounded up to the next page.
    assert_int_equal(VMDMembar2ChildOffset(VMD_FEATURE_MEMBAR_SHADOW), 0x2010);
    Count = VMDComputeWindows(&L, 0, 0, 0xC0000000, 16 * N_1MB, 0x2010, 0, 0, W);
    assert_int_equal(Count, 1);
    assert_true(W[0].Base == 0xC0003000);
    // A MEMBAR2 that holds only the VMD's own MSI-X table gives no window.
    Count = VMDComputeWindows(&L, 0x52000000, N_1MB, 0xC0000000, 0x2000, 0x2000, 0, 0, W);
    assert_int_equal(Count, 1);
}

static void TestDualRootWindows(void** State) {
    (void)State;
    BOOL Ok;
    PCI_WINDOW W[PCI_SEGMENT_MAX_WINDOWS];
    VMD_LAYOUT L = Decode(CLIENT_FEATURES, 1, 3 << 8, 32 * N_1MB, 0xEFE0, 0xFFF0, &Ok);
    U32 Count = VMDComputeWindows(&L, 0x50000000, 32 * N_1MB, 0x60000000, 16 * N_1MB, 0x2000, 16 * N_1MB,
                                  4 * N_1MB, W);
    assert_int_equal(Count, 4);
    // Root bus 1 from the offsets on; root bus 0 keeps what lies before: never overlapping.
    assert_true(W[0].Base == 0x50000000 && W[0].Size == 16 * N_1MB && W[0].Root == 0);
    assert_true(W[1].Base == 0x51000000 && W[1].Size == 16 * N_1MB && W[1].Root == 1);
    assert_true(W[2].Base == 0x60002000 && W[2].Base + W[2].Size == 0x60402000 && W[2].Root == 0);
    assert_true(W[3].Base == 0x60402000 && W[3].Base + W[3].Size == 0x61000000 && W[3].Root == 1);
    // Offsets of 0 (registers not implemented): root bus 1 gets nothing, root bus 0 all.
    Count = VMDComputeWindows(&L, 0x50000000, 32 * N_1MB, 0x60000000, 16 * N_1MB, 0x2000, 0, 0, W);
    assert_int_equal(Count, 2);
    assert_int_equal(W[0].Root, 0);
    assert_int_equal(W[1].Root, 0);
}

static void TestConfigOffset(void** State) {
    (void)State;
    BOOL Ok;
    U64 Offset = 0;
    VMD_LAYOUT L = Decode(CLIENT_FEATURES, 1, 2 << 8, 32 * N_1MB, 0, 0, &Ok);
    // (bus - start) << 20 | device << 15 | function << 12 | register.
    assert_true(VMDConfigOffset(&L, 0xE0, 0, 0, 0, &Offset));
    assert_true(Offset == 0);
    assert_true(VMDConfigOffset(&L, 0xE1, 0, 0, 0x10, &Offset));
    assert_true(Offset == 0x100010);
    assert_true(VMDConfigOffset(&L, 0xE0, 0x1D, 3, 0xFFC, &Offset));
    assert_true(Offset == ((0x1DULL << 15) | (3 << 12) | 0xFFC));
    assert_true(VMDConfigOffset(&L, 0xFF, 31, 7, 0, &Offset));
    assert_true(Offset == ((31ULL << 20) | (31 << 15) | (7 << 12)));
    // Outside the span (a bridge programmed with a CFGBAR index would point here) or out of range.
    assert_false(VMDConfigOffset(&L, 0x01, 0, 0, 0, &Offset));
    assert_false(VMDConfigOffset(&L, 0xDF, 0, 0, 0, &Offset));
    assert_false(VMDConfigOffset(&L, 0xE0, 32, 0, 0, &Offset));
    assert_false(VMDConfigOffset(&L, 0xE0, 0, 8, 0, &Offset));
    assert_false(VMDConfigOffset(&L, 0xE0, 0, 0, 0x1000, &Offset));
    // A 1 MiB CFGBAR reaches one bus.
    L = Decode(CLIENT_FEATURES, 1, 1 << 8, N_1MB, 0, 0, &Ok);
    assert_true(VMDConfigOffset(&L, 128, 0, 0, 0, &Offset));
    assert_false(VMDConfigOffset(&L, 129, 0, 0, 0, &Offset));
}

/************************************************************************/
// Remapping

static void TestRemapMessage(void** State) {
    (void)State;
    U64 Address;
    U32 Data = 0xDEAD;
    VMDRemapMessage(0, &Address, &Data);
    assert_true(Address == 0xFEE00000ULL);
    assert_int_equal(Data, 0);
    VMDRemapMessage(1, &Address, &Data);
    assert_true(Address == 0xFEE01000ULL);
    VMDRemapMessage(31, &Address, &Data);
    assert_true(Address == 0xFEE1F000ULL);
    VMDRemapMessage(255, &Address, &Data);
    assert_true(Address == 0xFEEFF000ULL);
    // The index is bits 19:12, whatever the rest says.
    for (U32 I = 0; I < 256; I++) {
        VMDRemapMessage(I, &Address, &Data);
        assert_int_equal(VMDRemapIndex(Address), I);
        assert_int_equal(VMDRemapIndex(Address | 0xFFC), I);
    }
}

static void TestFirstVector(void** State) {
    (void)State;
    // Client parts: vector 0 does not forward remapped messages.
    assert_int_equal(VMDFirstChildVector(CLIENT_FEATURES), 1);
    assert_int_equal(VMDFirstChildVector(VMDFindProfile(0x8086, 0x9A0B)->Features), 1);
    assert_int_equal(VMDFirstChildVector(VMDFindProfile(0x8086, 0x201D)->Features), 0);
    assert_int_equal(VMDFirstChildVector(VMDFindProfile(0x8086, 0x28C0)->Features), 0);
}

static void TestChooseVector(void** State) {
    (void)State;
    U32 Users[8] = {0};
    // Client: First = 1. Never vector 0, whatever the counts say.
    for (U32 Round = 0; Round < 40; Round++) {
        U32 V = VMDChooseVector(Users, 8, 1, Round % 3 != 0);
        assert_true(V >= 1 && V < 8);
        Users[V]++;
    }
    assert_int_equal(Users[0], 0);
    // NVMe messages spread over 2..7 (least used, lowest first); others share vector 1.
    memset(Users, 0, sizeof(Users));
    assert_int_equal(VMDChooseVector(Users, 8, 1, TRUE), 2);
    Users[2] = 1;
    assert_int_equal(VMDChooseVector(Users, 8, 1, TRUE), 3);
    Users[3] = 1;
    Users[4] = Users[5] = Users[6] = Users[7] = 1;
    assert_int_equal(VMDChooseVector(Users, 8, 1, TRUE), 2);
    assert_int_equal(VMDChooseVector(Users, 8, 1, FALSE), 1);
    // Only one usable vector: everything shares it.
    assert_int_equal(VMDChooseVector(Users, 2, 1, TRUE), 1);
    assert_int_equal(VMDChooseVector(Users, 1, 0, TRUE), 0);
    // Server (First = 0): NVMe from 1, others on 0.
    memset(Users, 0, sizeof(Users));
    assert_int_equal(VMDChooseVector(Users, 4, 0, TRUE), 1);
    assert_int_equal(VMDChooseVector(Users, 4, 0, FALSE), 0);
}

static void TestBypass(void** State) {
    (void)State;
    U32 Icx = VMDFindProfile(0x8086, 0x28C0)->Features;
    assert_true(VMDShouldBypass(Icx, FALSE, NULL));
    assert_true(VMDShouldBypass(Icx, FALSE, "1"));
    assert_false(VMDShouldBypass(Icx, FALSE, "0"));
    assert_false(VMDShouldBypass(Icx, TRUE, NULL));  // translated MEMBARs: Linux keeps remapping
    for (U32 I = 0; I < VMDGetProfileCount(); I++) {
        const VMD_PROFILE* P = VMDGetProfile(I);
        if (P->DeviceId != 0x28C0) assert_false(VMDShouldBypass(P->Features, FALSE, "1"));
    }
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestProfiles),     cmocka_unit_test(TestBusStart),        cmocka_unit_test(TestBusCount),
        cmocka_unit_test(TestArrowLake),    cmocka_unit_test(TestWindows),         cmocka_unit_test(TestDualRootWindows),
        cmocka_unit_test(TestConfigOffset), cmocka_unit_test(TestRemapMessage),    cmocka_unit_test(TestFirstVector),
        cmocka_unit_test(TestChooseVector), cmocka_unit_test(TestBypass),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
