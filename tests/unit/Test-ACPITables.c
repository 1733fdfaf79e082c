/*
 * Test-ACPITables.c - the ACPI table parsers on hand-built good and corrupt tables, and the
 * classification of the MADT's processors for bring-up (holes in APIC IDs, disabled,
 * online-capable, duplicate and x2APIC-only entries).
 */
// SOURCES: system/ACPITables.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "system/ACPITables.h"

static void Put16(U8* B, U32 O, U16 V) { B[O] = (U8)V; B[O + 1] = (U8)(V >> 8); }
static void Put32(U8* B, U32 O, U32 V) { for (int I = 0; I < 4; I++) B[O + I] = (U8)(V >> (8 * I)); }
static void Put64(U8* B, U32 O, U64 V) { Put32(B, O, (U32)V); Put32(B, O + 4, (U32)(V >> 32)); }

static void FixChecksum(U8* B, U32 Length, U32 ChecksumOffset) {
    U8 Sum = 0;
    B[ChecksumOffset] = 0;
    for (U32 I = 0; I < Length; I++) Sum = (U8)(Sum + B[I]);
    B[ChecksumOffset] = (U8)(0 - Sum);
}

static void MakeHeader(U8* B, const char* Signature, U32 Length) {
    memset(B, 0, ACPI_HEADER_SIZE);
    memcpy(B, Signature, 4);
    Put32(B, 4, Length);
    B[8] = 1;
    memcpy(B + 10, "CAIRN ", 6);
}

static void TestRSDP(void** State) {
    (void)State;
    U8 R[36];
    ACPI_RSDP_INFO Info;
    memset(R, 0, sizeof(R));
    memcpy(R, "RSD PTR ", 8);
    memcpy(R + 9, "BOCHS ", 6);
    R[15] = 2;
    Put32(R, 16, 0x7FE0000);
    Put32(R, 20, 36);
    Put64(R, 24, 0x123456789000ULL);
    FixChecksum(R, 20, 8);
    FixChecksum(R, 36, 32);
    assert_true(ACPIParseRSDP(R, sizeof(R), &Info));
    assert_int_equal(Info.Revision, 2);
    assert_int_equal(Info.Rsdt, 0x7FE0000);
    assert_true(Info.Xsdt == 0x123456789000ULL);
    assert_string_equal(Info.OemId, "BOCHS ");

    // Bad extended checksum: the XSDT is ignored, the RSDT still used.
    R[30] ^= 1;
    assert_true(ACPIParseRSDP(R, sizeof(R), &Info));
    assert_int_equal(Info.Xsdt, 0);
    // Bad base checksum: refused.
    R[17] ^= 1;
    assert_false(ACPIParseRSDP(R, sizeof(R), &Info));
    // Bad signature and truncated input.
    assert_false(ACPIParseRSDP((const U8*)"RSD PTX ", 8, &Info));
    assert_false(ACPIParseRSDP(R, 10, &Info));
}

static void TestRootTable(void** State) {
    (void)State;
    U8 T[36 + 3 * 8];
    PHYSICAL Entries[8];
    MakeHeader(T, "XSDT", sizeof(T));
    Put64(T, 36, 0x1000);
    Put64(T, 44, 0);  // a null entry is skipped
    Put64(T, 52, 0x100000000ULL);
    FixChecksum(T, sizeof(T), 9);
    assert_int_equal(ACPIParseRootTable(T, sizeof(T), TRUE, Entries, 8), 2);
    assert_int_equal(Entries[0], 0x1000);
    assert_true(Entries[1] == 0x100000000ULL);
    // Max entries honoured.
    assert_int_equal(ACPIParseRootTable(T, sizeof(T), TRUE, Entries, 1), 1);
    // An RSDT signature check.
    assert_int_equal(ACPIParseRootTable(T, sizeof(T), FALSE, Entries, 8), 0);
    // Length larger than what the caller has: refused.
    Put32(T, 4, 1000);
    FixChecksum(T, sizeof(T), 9);
    assert_int_equal(ACPIParseRootTable(T, sizeof(T), TRUE, Entries, 8), 0);
}

static U32 BuildMADT(U8* M) {
    U32 O = 44;
    MakeHeader(M, "APIC", 0);
    Put32(M, 36, 0xFEE00000);
    Put32(M, 40, 1);
    for (U8 Cpu = 0; Cpu < 2; Cpu++) {  // two LAPICs, the second disabled
        M[O] = 0; M[O + 1] = 8; M[O + 2] = Cpu; M[O + 3] = Cpu;
        Put32(M, O + 4, Cpu == 0 ? 1 : 0);
        O += 8;
    }
    M[O] = 1; M[O + 1] = 12; M[O + 2] = 0;
    Put32(M, O + 4, 0xFEC00000);
    Put32(M, O + 8, 0);
    O += 12;
    M[O] = 2; M[O + 1] = 10; M[O + 2] = 0; M[O + 3] = 0;
    Put32(M, O + 4, 2);
    Put16(M, O + 8, 0);
    O += 10;
    M[O] = 2; M[O + 1] = 10; M[O + 2] = 0; M[O + 3] = 9;
    Put32(M, O + 4, 9);
    Put16(M, O + 8, 0x000D);  // active high, level
    O += 10;
    M[O] = 4; M[O + 1] = 6;  // LAPIC NMI: ignored
    O += 6;
    Put32(M, 4, O);
    FixChecksum(M, O, 9);
    return O;
}

static void TestMADT(void** State) {
    (void)State;
    U8 M[256];
    ACPI_MADT_INFO Info;
    U32 Length = BuildMADT(M);
    assert_true(ACPIParseMADT(M, Length, &Info));
    assert_int_equal(Info.LocalApicAddress, 0xFEE00000);
    assert_true(Info.HasLegacyPICs);
    assert_int_equal(Info.LapicCount, 2);
    assert_true(Info.Lapics[0].Enabled);
    assert_false(Info.Lapics[1].Enabled);
    assert_int_equal(Info.IoApicCount, 1);
    assert_int_equal(Info.IoApics[0].Address, 0xFEC00000);
    assert_int_equal(Info.OverrideCount, 2);
    assert_int_equal(Info.Overrides[0].SourceIrq, 0);
    assert_int_equal(Info.Overrides[0].Gsi, 2);
    assert_int_equal(Info.Overrides[1].Flags, 0x000D);

    // An entry whose length is 0 would loop forever: refused.
    Length = BuildMADT(M);
    M[45] = 0;
    FixChecksum(M, Length, 9);
    assert_false(ACPIParseMADT(M, Length, &Info));
    // An entry running past the table: refused.
    Length = BuildMADT(M);
    M[45] = 200;
    FixChecksum(M, Length, 9);
    assert_false(ACPIParseMADT(M, Length, &Info));
    // Bad checksum.
    Length = BuildMADT(M);
    M[50] ^= 0x40;
    assert_false(ACPIParseMADT(M, Length, &Info));
}

/** One processor entry: type 0 (local APIC) or 9 (local x2APIC); returns the new offset. */
static U32 PutProcessor(U8* M, U32 O, U8 Type, U32 Uid, U32 ApicId, U32 Flags) {
    if (Type == 0) {
        M[O] = 0; M[O + 1] = 8; M[O + 2] = (U8)Uid; M[O + 3] = (U8)ApicId;
        Put32(M, O + 4, Flags);
        return O + 8;
    }
    M[O] = 9; M[O + 1] = 16; Put16(M, O + 2, 0);
    Put32(M, O + 4, ApicId);
    Put32(M, O + 8, Flags);
    Put32(M, O + 12, Uid);
    return O + 16;
}

/** A MADT of the given revision with the processor entries of Ids/Flags (all type 0 unless Id > 254). */
static U32 BuildProcessorMADT(U8* M, U8 Revision, const U32* Ids, const U32* Flags, U32 Count) {
    U32 O = 44;
    MakeHeader(M, "APIC", 0);
    M[8] = Revision;
    Put32(M, 36, 0xFEE00000);
    Put32(M, 40, 1);
    for (U32 I = 0; I < Count; I++) O = PutProcessor(M, O, Ids[I] > 254 ? 9 : 0, I, Ids[I], Flags[I]);
    Put32(M, 4, O);
    FixChecksum(M, O, 9);
    return O;
}

static void TestMADTProcessorsWithHoles(void** State) {
    (void)State;
    // QEMU -smp 6,sockets=2,cores=3: the core field is two bits wide, so APIC IDs skip 3 (facts sheet 2.8).
    static const U32 Ids[] = {0, 1, 2, 4, 5, 6};
    static const U32 Flags[] = {1, 1, 1, 1, 1, 1};
    U8 M[256];
    ACPI_MADT_INFO Info;
    ACPI_PROCESSOR List[ACPI_MAX_LAPICS];
    assert_true(ACPIParseMADT(M, BuildProcessorMADT(M, 1, Ids, Flags, 6), &Info));
    assert_int_equal(Info.Revision, 1);
    assert_int_equal(ACPIListProcessors(&Info, 0, List, ACPI_MAX_LAPICS), 6);
    assert_int_equal(List[0].Kind, ACPI_PROCESSOR_BOOT);
    for (U32 I = 1; I < 6; I++) {
        assert_int_equal(List[I].Kind, ACPI_PROCESSOR_START);
        assert_int_equal(List[I].ApicId, Ids[I]);  // from the entry: never "index = APIC ID"
        assert_int_equal(List[I].ProcessorUid, I);
    }
    // The boot CPU need not be the first entry, nor APIC 0.
    assert_int_equal(ACPIListProcessors(&Info, 5, List, ACPI_MAX_LAPICS), 6);
    assert_int_equal(List[0].Kind, ACPI_PROCESSOR_START);
    assert_int_equal(List[4].Kind, ACPI_PROCESSOR_BOOT);
    // Max is honoured.
    assert_int_equal(ACPIListProcessors(&Info, 0, List, 3), 3);
    assert_int_equal(ACPIListProcessors(NULL, 0, List, 3), 0);
}

static void TestMADTProcessorFlags(void** State) {
    (void)State;
    // -smp 2,maxcpus=4: four entries, two Enabled; plus an Online Capable one, a duplicate and an x2APIC one.
    static const U32 Ids[] = {0, 1, 2, 3, 4, 1, 300};
    static const U32 Flags[] = {1, 1, 0, 0, 2, 1, 1};
    U8 M[256];
    ACPI_MADT_INFO Info;
    ACPI_PROCESSOR List[ACPI_MAX_LAPICS];

    assert_true(ACPIParseMADT(M, BuildProcessorMADT(M, 5, Ids, Flags, 7), &Info));
    assert_int_equal(Info.LapicCount, 7);
    assert_true(Info.Lapics[4].OnlineCapable);
    assert_false(Info.Lapics[4].Enabled);
    assert_int_equal(Info.Lapics[6].ApicId, 300);
    assert_int_equal(ACPIListProcessors(&Info, 0, List, ACPI_MAX_LAPICS), 7);
    const ACPI_PROCESSOR_KIND Expected[] = {ACPI_PROCESSOR_BOOT,      ACPI_PROCESSOR_START,    ACPI_PROCESSOR_DISABLED,
                                            ACPI_PROCESSOR_DISABLED,  ACPI_PROCESSOR_HOTPLUG,  ACPI_PROCESSOR_DUPLICATE,
                                            ACPI_PROCESSOR_UNREACHABLE};
    for (U32 I = 0; I < 7; I++) assert_int_equal(List[I].Kind, Expected[I]);
    assert_string_equal(ACPIProcessorKindName(ACPI_PROCESSOR_HOTPLUG), "hotplug");
    assert_string_equal(ACPIProcessorKindName(ACPI_PROCESSOR_UNREACHABLE), "x2apic");

    // Before MADT revision 5 the Online Capable bit is reserved: such an entry is simply disabled.
    assert_true(ACPIParseMADT(M, BuildProcessorMADT(M, 4, Ids, Flags, 7), &Info));
    assert_int_equal(ACPIListProcessors(&Info, 0, List, ACPI_MAX_LAPICS), 7);
    assert_int_equal(List[4].Kind, ACPI_PROCESSOR_DISABLED);
}

static void TestMCFG(void** State) {
    (void)State;
    U8 T[44 + 3 * 16];
    ACPI_MCFG_INFO Info;
    memset(T, 0, sizeof(T));
    MakeHeader(T, "MCFG", sizeof(T));
    Put64(T, 44, 0xB0000000);
    Put16(T, 52, 0);
    T[54] = 0; T[55] = 255;
    Put64(T, 60, 0xE0000000);  // inverted range: skipped
    T[70] = 10; T[71] = 5;
    Put64(T, 76, 0x4000000000ULL);
    Put16(T, 84, 1);
    T[86] = 0; T[87] = 31;
    FixChecksum(T, sizeof(T), 9);
    assert_true(ACPIParseMCFG(T, sizeof(T), &Info));
    assert_int_equal(Info.SegmentCount, 2);
    assert_int_equal(Info.Segments[0].Base, 0xB0000000);
    assert_int_equal(Info.Segments[0].EndBus, 255);
    assert_int_equal(Info.Segments[1].Segment, 1);
    assert_true(Info.Segments[1].Base == 0x4000000000ULL);
    // Truncated buffer.
    assert_false(ACPIParseMCFG(T, 40, &Info));
}

static void TestFADT(void** State) {
    (void)State;
    U8 F[244];
    ACPI_FADT_INFO Info;
    memset(F, 0, sizeof(F));
    MakeHeader(F, "FACP", sizeof(F));
    F[8] = 5;
    Put32(F, 40, 0x7FE1000);
    Put16(F, 46, 9);
    Put32(F, 48, 0xB2);
    F[52] = 0xF1;
    F[53] = 0xF0;
    Put32(F, 56, 0x600);
    Put32(F, 64, 0x604);
    F[88] = 4;
    F[89] = 2;
    Put32(F, 112, ACPI_FADT_FLAG_RESET_REG_SUP);
    F[116] = ACPI_SPACE_IO; F[117] = 8;
    Put64(F, 120, 0xCF9);
    F[128] = 0x0F;
    Put64(F, 140, 0x7FE2000);
    FixChecksum(F, sizeof(F), 9);
    assert_true(ACPIParseFADT(F, sizeof(F), &Info));
    assert_int_equal(Info.Dsdt, 0x7FE2000);  // X_DSDT preferred
    assert_int_equal(Info.SmiCommandPort, 0xB2);
    assert_int_equal(Info.AcpiEnableValue, 0xF1);
    assert_int_equal(Info.Pm1aControl.AddressSpace, ACPI_SPACE_IO);
    assert_int_equal(Info.Pm1aControl.Address, 0x604);
    assert_int_equal(Info.Pm1aControl.BitWidth, 16);
    assert_int_equal(Info.Pm1bControl.Address, 0);
    assert_true(Info.ResetSupported);
    assert_int_equal(Info.ResetRegister.Address, 0xCF9);
    assert_int_equal(Info.ResetValue, 0x0F);

    // ACPI 1.0 sized table: no reset register, 32-bit DSDT.
    Put32(F, 4, 116);
    FixChecksum(F, 116, 9);
    assert_true(ACPIParseFADT(F, 116, &Info));
    assert_false(Info.ResetSupported);
    assert_int_equal(Info.Dsdt, 0x7FE1000);
    // Too short to be a FADT.
    Put32(F, 4, 100);
    FixChecksum(F, 100, 9);
    assert_false(ACPIParseFADT(F, 100, &Info));
}

static void TestS5(void** State) {
    (void)State;
    U8 D[128];
    U8 A = 9, B = 9;
    memset(D, 0, sizeof(D));
    MakeHeader(D, "DSDT", sizeof(D));
    // A decoy "_S5_" that is not a Name, then Name(_S5_, Package(4){0x05, 0x05, Zero, Zero}).
    memcpy(D + 40, "_S5_", 4);
    U8 Aml[] = {0x08, '_', 'S', '5', '_', 0x12, 0x0A, 0x04, 0x0A, 0x05, 0x0A, 0x05, 0x00, 0x00};
    memcpy(D + 60, Aml, sizeof(Aml));
    assert_true(ACPIFindS5(D, sizeof(D), &A, &B));
    assert_int_equal(A, 5);
    assert_int_equal(B, 5);

    // QEMU-style: Name(\_S5, Package(){Zero, Zero, ...}) with a root prefix and ZeroOp.
    memset(D + 40, 0, sizeof(D) - 40);
    U8 Aml2[] = {0x08, '\\', '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00};
    memcpy(D + 50, Aml2, sizeof(Aml2));
    assert_true(ACPIFindS5(D, sizeof(D), &A, &B));
    assert_int_equal(A, 0);
    assert_int_equal(B, 0);

    // Truncated right after the package op: no fault, not found.
    assert_false(ACPIFindS5(D, 50 + 7, &A, &B));
    // Nothing there.
    memset(D + 40, 0, sizeof(D) - 40);
    assert_false(ACPIFindS5(D, sizeof(D), &A, &B));
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestRSDP),
        cmocka_unit_test(TestRootTable),
        cmocka_unit_test(TestMADT),
        cmocka_unit_test(TestMADTProcessorsWithHoles),
        cmocka_unit_test(TestMADTProcessorFlags),
        cmocka_unit_test(TestMCFG),
        cmocka_unit_test(TestFADT),
        cmocka_unit_test(TestS5),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
