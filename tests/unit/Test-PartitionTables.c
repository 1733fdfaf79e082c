/*
 * Test-PartitionTables.c - block/PartitionTables.c on RAM disks.
 *
 * Tables built byte by byte here: MBR primaries, an extended partition with
 * logicals, EBR chains that loop, run too long or point outside, entries
 * past the end of the disk; GPT (512 and 4096-byte sectors) good, with a
 * corrupt primary header or entry array (the backup is used), both copies
 * bad, hostile header fields, entries outside the usable area, no
 * protective MBR, a hybrid MBR. Then real images made here with sgdisk
 * (512-byte sectors, and 4096 through a small LD_PRELOAD shim that answers
 * the block-size ioctls, since sgdisk and parted assume 512 for files),
 * parted (msdos with logicals, compared with parted's own listing) and
 * tools/make-disk-image.sh, some corrupted with dd. The fake disk fails the
 * test if the scanner ever reads outside it. Type names are checked against
 * the GUIDs sgdisk writes for its type codes.
 */
// SOURCES: block/PartitionTables.c utils/CRC32.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block/Partition.h"
#include "memory/Heap.h"
#include "utils/CRC32.h"

#define TOOL_PATH "PATH=\"$PATH:/usr/sbin:/sbin\" "

/************************************************************************/
// RAM disk

typedef struct {
    U8* Data;
    U64 Sectors;
    U32 SectorSize;
    U32 Reads;
    BOOL Fail;
    U64 FailFirst, FailLast;  // sectors that fail to read when Fail
} RAM;

static KSTATUS RamRead(LPVOID Context, U64 Sector, U32 Count, LPVOID Buffer) {
    RAM* Ram = Context;
    assert_true(Count > 0);
    assert_true(Sector < Ram->Sectors && Count <= Ram->Sectors - Sector);  // never outside the disk
    Ram->Reads++;
    if (Ram->Fail && Sector <= Ram->FailLast && Sector + Count - 1 >= Ram->FailFirst) return KSTATUS_IO_ERROR;
    memcpy(Buffer, Ram->Data + Sector * Ram->SectorSize, (size_t)Count * Ram->SectorSize);
    return KSTATUS_SUCCESS;
}

static RAM* RamNew(U32 SectorSize, U64 Sectors) {
    RAM* Ram = calloc(1, sizeof(RAM));
    Ram->SectorSize = SectorSize;
    Ram->Sectors = Sectors;
    Ram->Data = calloc(Sectors, SectorSize);
    return Ram;
}

static void RamFree(RAM* Ram) {
    free(Ram->Data);
    free(Ram);
}

static U8* At(RAM* Ram, U64 Sector) { return Ram->Data + Sector * Ram->SectorSize; }

static PARTITION_TABLE* Scan(RAM* Ram, KSTATUS Expected) {
    PARTITION_TABLE* Table = malloc(sizeof(PARTITION_TABLE));
    PARTITION_SOURCE Source = {Ram->SectorSize, Ram->Sectors, RamRead, Ram};
    assert_int_equal(PartitionTableScan(&Source, Table), Expected);
    return Table;
}

static BOOL HasWarning(const PARTITION_TABLE* Table, const char* Text) {
    for (U32 I = 0; I < MIN(Table->WarningCount, (U32)PARTITION_MAX_WARNINGS); I++) {
        if (strstr(Table->Warnings[I], Text)) return TRUE;
    }
    return FALSE;
}

static void PrintWarnings(const PARTITION_TABLE* Table) {
    for (U32 I = 0; I < MIN(Table->WarningCount, (U32)PARTITION_MAX_WARNINGS); I++) {
        printf("    warning: %s\n", Table->Warnings[I]);
    }
}

static void ExpectEntry(const PARTITION_TABLE* Table, U32 Index, U32 Number, U64 Start, U64 Count) {
    assert_true(Index < Table->Count);
    assert_int_equal(Table->Entries[Index].Number, Number);
    assert_int_equal(Table->Entries[Index].StartSector, Start);
    assert_int_equal(Table->Entries[Index].SectorCount, Count);
}

/************************************************************************/
// MBR builders

static void Put32(U8* P, U32 V) {
    for (int I = 0; I < 4; I++) P[I] = (U8)(V >> (8 * I));
}

static void Put64(U8* P, U64 V) {
    for (int I = 0; I < 8; I++) P[I] = (U8)(V >> (8 * I));
}

static void PutMbrEntry(U8* Sector, int Index, U8 Status, U8 Type, U32 Start, U32 Count) {
    U8* P = Sector + 446 + Index * 16;
    P[0] = Status;
    P[4] = Type;
    Put32(P + 8, Start);
    Put32(P + 12, Count);
    Sector[510] = 0x55;
    Sector[511] = 0xAA;
}

static void TestMbrPrimary(void** State) {
    (void)State;
    RAM* Ram = RamNew(512, 100000);
    PutMbrEntry(At(Ram, 0), 0, 0x80, 0x83, 2048, 4096);
    PutMbrEntry(At(Ram, 0), 2, 0x00, 0x07, 8192, 91808);  // ends exactly at the last sector
    PARTITION_TABLE* Table = Scan(Ram, KSTATUS_SUCCESS);
    assert_int_equal(Table->Scheme, PARTITION_SCHEME_MBR);
    assert_int_equal(Table->Count, 2);
    assert_int_equal(Table->WarningCount, 0);
    ExpectEntry(Table, 0, 1, 2048, 4096);
    ExpectEntry(Table, 1, 3, 8192, 91808);
    assert_true(Table->Entries[0].Active);
    assert_false(Table->Entries[1].Active);
    assert_string_equal(PartitionTypeName(&Table->Entries[0]), "Linux");
    assert_string_equal(PartitionTypeName(&Table->Entries[1]), "HPFS/NTFS/exFAT");
    assert_string_equal(PartitionSchemeName(Table->Scheme), "MBR");
    free(Table);
    RamFree(Ram);
}

static void TestMbrPastEnd(void** State) {
    (void)State;
    RAM* Ram = RamNew(512, 10000);
    PutMbrEntry(At(Ram, 0), 0, 0, 0x83, 2048, 2048);
    PutMbrEntry(At(Ram, 0), 1, 0, 0x83, 9000, 1001);         // one sector too many
    PutMbrEntry(At(Ram, 0), 2, 0, 0x83, 0xFFFFFFF0, 0x100);   // far outside (and 32-bit wrap bait)
    PutMbrEntry(At(Ram, 0), 3, 0, 0x0C, 0, 100);              // overlaps the MBR
    PARTITION_TABLE* Table = Scan(Ram, KSTATUS_SUCCESS);
    assert_int_equal(Table->Scheme, PARTITION_SCHEME_MBR);
    assert_int_equal(Table->Count, 1);
    ExpectEntry(Table, 0, 1, 2048, 2048);
    assert_int_equal(Table->Rejected, 3);
    assert_int_equal(Table->WarningCount, 3);
    assert_true(HasWarning(Table, "partition 2: sectors 9000+1001 past the end of the disk (10000 sectors)"));
    assert_true(HasWarning(Table, "partition 4: sectors 0+100 overlap the MBR"));
    free(Table);
    RamFree(Ram);
}

static void TestNoTable(void** State) {
    (void)State;
    RAM* Ram = RamNew(512, 4096);
    PARTITION_TABLE* Table = Scan(Ram, KSTATUS_SUCCESS);  // all zeros
    assert_int_equal(Table->Scheme, PARTITION_SCHEME_NONE);
    assert_int_equal(Table->Count, 0);
    assert_int_equal(Table->WarningCount, 0);
    free(Table);
    // A boot sector with the signature but no table (boot flags that are not 0x00/0x80): no table, no warning.
    At(Ram, 0)[0] = 0xEB;
    PutMbrEntry(At(Ram, 0), 0, 0x12, 0x83, 1, 100);
    Table = Scan(Ram, KSTATUS_SUCCESS);
    assert_int_equal(Table->Scheme, PARTITION_SCHEME_NONE);
    assert_int_equal(Table->WarningCount, 0);
    free(Table);
    // Sector 0 unreadable: the error comes back.
    Ram->Fail = TRUE;
    Ram->FailFirst = Ram->FailLast = 0;
    Table = Scan(Ram, KSTATUS_IO_ERROR);
    free(Table);
    // Bad sources.
    PARTITION_TABLE* Empty = malloc(sizeof(PARTITION_TABLE));
    PARTITION_SOURCE Source = {500, 100, RamRead, Ram};
    assert_int_equal(PartitionTableScan(&Source, Empty), KSTATUS_BAD_PARAMETER);
    Source.SectorSize = 512;
    Source.SectorCount = 0;
    assert_int_equal(PartitionTableScan(&Source, Empty), KSTATUS_BAD_PARAMETER);
    assert_int_equal(PartitionTableScan(NULL, Empty), KSTATUS_BAD_PARAMETER);
    free(Empty);
    RamFree(Ram);
}

/** An extended partition at 10000 (size 50000) with logicals at the given offsets; EBR N links to EBR N+1. */
static void BuildChain(RAM* Ram, const U32* EbrOffsets, int Count, U32 LogicalSize) {
    PutMbrEntry(At(Ram, 0), 0, 0, 0x83, 2048, 4096);
    PutMbrEntry(At(Ram, 0), 1, 0, 0x05, 10000, 50000);
    for (int I = 0; I < Count; I++) {
        U8* Ebr = At(Ram, 10000 + EbrOffsets[I]);
        PutMbrEntry(Ebr, 0, 0, 0x83, 63, LogicalSize);
        if (I + 1 < Count) PutMbrEntry(Ebr, 1, 0, 0x05, EbrOffsets[I + 1], LogicalSize + 63);
    }
}

static void TestMbrLogicals(void** State) {
    (void)State;
    RAM* Ram = RamNew(512, 100000);
    const U32 Offsets[] = {0, 2000, 4000};
    BuildChain(Ram, Offsets, 3, 1000);
    PARTITION_TABLE* Table = Scan(Ram, KSTATUS_SUCCESS);
    PrintWarnings(Table);
    assert_int_equal(Table->WarningCount, 0);
    assert_int_equal(Table->Count, 4);
    ExpectEntry(Table, 0, 1, 2048, 4096);
    ExpectEntry(Table, 1, 5, 10063, 1000);
    ExpectEntry(Table, 2, 6, 12063, 1000);
    ExpectEntry(Table, 3, 7, 14063, 1000);
    assert_true(Table->Entries[2].Logical);
    assert_false(Table->Entries[0].Logical);
    free(Table);
    RamFree(Ram);
}

static void TestMbrChainLoops(void** State) {
    (void)State;
    RAM* Ram = RamNew(512, 100000);
    const U32 Offsets[] = {0, 2000, 4000};
    BuildChain(Ram, Offsets, 3, 1000);
    PutMbrEntry(At(Ram, 14000), 1, 0, 0x05, 2000, 1063);  // the last link points back to the second
    PARTITION_TABLE* Table = Scan(Ram, KSTATUS_SUCCESS);
    assert_int_equal(Table->Count, 4);  // each logical once
    assert_int_equal(Table->WarningCount, 1);
    assert_true(HasWarning(Table, "loops back to sector 12000"));
    assert_true(Ram->Reads < 10);
    free(Table);

    // A link to itself (offset of the EBR's own sector).
    PutMbrEntry(At(Ram, 14000), 1, 0, 0x05, 4000, 1063);
    Table = Scan(Ram, KSTATUS_SUCCESS);
    assert_int_equal(Table->Count, 4);
    assert_true(HasWarning(Table, "loops back to sector 14000"));
    free(Table);

    // A link outside the extended partition, and a link offset 0 (the first EBR again).
    PutMbrEntry(At(Ram, 14000), 1, 0, 0x05, 50000, 10);
    Table = Scan(Ram, KSTATUS_SUCCESS);
    assert_true(HasWarning(Table, "links outside the extended partition (offset 50000)"));
    assert_int_equal(Table->Count, 4);
    free(Table);
    PutMbrEntry(At(Ram, 14000), 1, 0, 0x05, 0, 10);
    Table = Scan(Ram, KSTATUS_SUCCESS);
    assert_true(HasWarning(Table, "loops back to sector 10000"));
    free(Table);

    // An EBR without signature ends the chain.
    At(Ram, 12000)[510] = 0;
    Table = Scan(Ram, KSTATUS_SUCCESS);
    assert_int_equal(Table->Count, 2);
    assert_true(HasWarning(Table, "EBR at sector 12000 has no signature"));
    free(Table);
    RamFree(Ram);
}

static void TestMbrChainTooLong(void** State) {
    (void)State;
    RAM* Ram = RamNew(512, 100000);
    U32 Offsets[200];
    for (int I = 0; I < 200; I++) Offsets[I] = (U32)I * 200;
    BuildChain(Ram, Offsets, 200, 100);
    PARTITION_TABLE* Table = Scan(Ram, KSTATUS_SUCCESS);
    assert_int_equal(Table->Count, 1 + PARTITION_MAX_LOGICAL);
    assert_int_equal(Table->Entries[Table->Count - 1].Number, 4 + PARTITION_MAX_LOGICAL);
    assert_true(HasWarning(Table, "more than 128 logical partitions"));
    assert_true(Ram->Reads <= 1 + PARTITION_MAX_LOGICAL + 1);
    free(Table);
    RamFree(Ram);
}

static void TestMbrLogicalPastEnd(void** State) {
    (void)State;
    RAM* Ram = RamNew(512, 100000);
    const U32 Offsets[] = {0, 2000};
    BuildChain(Ram, Offsets, 2, 1000);
    PutMbrEntry(At(Ram, 10000), 0, 0, 0x83, 0xFFFFFF00, 1000);  // 10000 + that is past the end
    PutMbrEntry(At(Ram, 12000), 0, 0, 0x83, 0, 1000);           // overlaps its EBR
    PARTITION_TABLE* Table = Scan(Ram, KSTATUS_SUCCESS);
    assert_int_equal(Table->Count, 1);
    assert_int_equal(Table->Rejected, 2);
    assert_true(HasWarning(Table, "partition 5: sectors"));
    assert_true(HasWarning(Table, "partition 6: sectors 12000-12999 overlap its EBR"));
    free(Table);
    RamFree(Ram);
}

/************************************************************************/
// GPT builders

static void GuidFromText(const char* Text, U8* Guid) {
    unsigned A, B, C, D[8];
    assert_int_equal(sscanf(Text, "%8x-%4x-%4x-%2x%2x-%2x%2x%2x%2x%2x%2x", &A, &B, &C, &D[0], &D[1], &D[2], &D[3],
                            &D[4], &D[5], &D[6], &D[7]),
                     11);
    Put32(Guid, A);
    Guid[4] = (U8)B;
    Guid[5] = (U8)(B >> 8);
    Guid[6] = (U8)C;
    Guid[7] = (U8)(C >> 8);
    for (int I = 0; I < 8; I++) Guid[8 + I] = (U8)D[I];
}

typedef struct {
    U32 Index;
    const char* Type;
    U64 First, Last;
    const char* Name;
} GPT_SPEC;

#define LINUX_FS "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
#define EFI_SYSTEM "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
#define MS_DATA "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"

static void WriteHeader(RAM* Ram, U64 My, U64 Alternate, U64 EntryLba, U32 EntryCount, U32 ArrayCrc) {
    U8* S = At(Ram, My);
    U64 ArraySectors = ((U64)EntryCount * 128 + Ram->SectorSize - 1) / Ram->SectorSize;
    memset(S, 0, Ram->SectorSize);
    memcpy(S, "EFI PART", 8);
    Put32(S + 8, 0x00010000);
    Put32(S + 12, 92);
    Put64(S + 24, My);
    Put64(S + 32, Alternate);
    Put64(S + 40, 2 + ArraySectors);
    Put64(S + 48, Ram->Sectors - 2 - ArraySectors);
    GuidFromText("12345678-9ABC-DEF0-1122-334455667788", S + 56);
    Put64(S + 72, EntryLba);
    Put32(S + 80, EntryCount);
    Put32(S + 84, 128);
    Put32(S + 88, ArrayCrc);
    Put32(S + 16, CRC32(S, 92));
}

/** Protective MBR, primary and backup GPT with 128 entries of 128 bytes. */
static void BuildGpt(RAM* Ram, const GPT_SPEC* Specs, int Count) {
    U32 EntryCount = 128;
    U8 Array[128 * 128];
    memset(Array, 0, sizeof(Array));
    for (int I = 0; I < Count; I++) {
        U8* E = Array + Specs[I].Index * 128;
        GuidFromText(Specs[I].Type, E);
        GuidFromText("AAAAAAAA-BBBB-CCCC-DDDD-000000000000", E + 16);
        E[31] = (U8)I;
        Put64(E + 32, Specs[I].First);
        Put64(E + 40, Specs[I].Last);
        for (size_t C = 0; Specs[I].Name && Specs[I].Name[C] && C < 36; C++) E[56 + 2 * C] = (U8)Specs[I].Name[C];
    }
    U32 Crc = CRC32(Array, sizeof(Array));
    U64 ArraySectors = sizeof(Array) / Ram->SectorSize + (sizeof(Array) % Ram->SectorSize != 0);
    U64 Last = Ram->Sectors - 1;
    memset(At(Ram, 0), 0, Ram->SectorSize);
    PutMbrEntry(At(Ram, 0), 0, 0, 0xEE, 1, (U32)MIN(Last, 0xFFFFFFFFULL));
    memcpy(At(Ram, 2), Array, sizeof(Array));
    memcpy(At(Ram, Last - ArraySectors), Array, sizeof(Array));
    WriteHeader(Ram, 1, Last, 2, EntryCount, Crc);
    WriteHeader(Ram, Last, 1, Last - ArraySectors, EntryCount, Crc);
}

static const GPT_SPEC ThreeParts[] = {
    {0, EFI_SYSTEM, 2048, 4095, "EFI system"},
    {1, LINUX_FS, 4096, 20479, "cairn-data"},
    {5, MS_DATA, 20480, 30000, "data \xff"},
};

static void ExpectThreeParts(const PARTITION_TABLE* Table, U32 Scale) {
    assert_int_equal(Table->Scheme, PARTITION_SCHEME_GPT);
    assert_int_equal(Table->Count, 3);
    ExpectEntry(Table, 0, 1, 2048 / Scale, (4096 - 2048) / Scale);
    ExpectEntry(Table, 1, 2, 4096 / Scale, (20480 - 4096) / Scale);
    assert_int_equal(Table->Entries[2].Number, 6);
    assert_string_equal(Table->Entries[0].Name, "EFI system");
    assert_string_equal(Table->Entries[1].Name, "cairn-data");
    assert_string_equal(Table->Entries[2].Name, "data ?");
    assert_string_equal(PartitionTypeName(&Table->Entries[0]), "EFI System");
    assert_string_equal(PartitionTypeName(&Table->Entries[1]), "Linux filesystem");
    assert_string_equal(PartitionTypeName(&Table->Entries[2]), "Microsoft basic data");
    assert_int_equal(Table->Entries[1].UniqueGuid[15], 1);
    char Text[PARTITION_GUID_TEXT_LENGTH];
    PartitionFormatGuid(Table->DiskGuid, Text, sizeof(Text));
    assert_string_equal(Text, "12345678-9ABC-DEF0-1122-334455667788");
}

static void TestGptGood(void** State) {
    (void)State;
    RAM* Ram = RamNew(512, 40000);
    BuildGpt(Ram, ThreeParts, 3);
    PARTITION_TABLE* Table = Scan(Ram, KSTATUS_SUCCESS);
    PrintWarnings(Table);
    assert_int_equal(Table->WarningCount, 0);
    assert_false(Table->UsedBackupGpt);
    ExpectThreeParts(Table, 1);
    free(Table);
    RamFree(Ram);
}

static void TestGpt4096(void** State) {
    (void)State;
    RAM* Ram = RamNew(4096, 5000);
    GPT_SPEC Specs[3];
    memcpy(Specs, ThreeParts, sizeof(Specs));
    for (int I = 0; I < 3; I++) {
        Specs[I].First /= 8;
        Specs[I].Last = (Specs[I].Last + 1) / 8 - 1;
    }
    Specs[2].Last = 30000 / 8 - 1;
    BuildGpt(Ram, Specs, 3);
    PARTITION_TABLE* Table = Scan(Ram, KSTATUS_SUCCESS);
    PrintWarnings(Table);
    assert_int_equal(Table->WarningCount, 0);
    assert_int_equal(Table->Count, 3);
    ExpectEntry(Table, 0, 1, 256, 256);
    ExpectEntry(Table, 1, 2, 512, 2048);
    // The same table read as if the disk had 512-byte sectors is not found (the header is at byte 4096).
    RAM Wrong = *Ram;
    Wrong.SectorSize = 512;
    Wrong.Sectors = Ram->Sectors * 8;
    free(Table);
    Table = Scan(&Wrong, KSTATUS_SUCCESS);
    assert_int_equal(Table->Scheme, PARTITION_SCHEME_NONE);
    assert_true(HasWarning(Table, "GPT unusable"));
    free(Table);
    RamFree(Ram);
}

static void TestGptPrimaryCorrupt(void** State) {
    (void)State;
    RAM* Ram = RamNew(512, 40000);
    BuildGpt(Ram, ThreeParts, 3);
    At(Ram, 1)[60] ^= 0x01;  // the disk GUID: the header CRC no longer matches
    PARTITION_TABLE* Table = Scan(Ram, KSTATUS_SUCCESS);
    assert_true(Table->UsedBackupGpt);
    assert_int_equal(Table->WarningCount, 1);
    assert_true(HasWarning(Table, "primary GPT header CRC mismatch; using the backup at LBA 39999"));
    ExpectThreeParts(Table, 1);
    free(Table);

    // Primary entry array damaged (its CRC in the header is intact): refused, the backup is used.
    BuildGpt(Ram, ThreeParts, 3);
    At(Ram, 2)[128 + 40] ^= 0x10;
    Table = Scan(Ram, KSTATUS_SUCCESS);
    assert_true(Table->UsedBackupGpt);
    assert_true(HasWarning(Table, "primary GPT entry array CRC mismatch"));
    ExpectThreeParts(Table, 1);
    free(Table);

    // Primary array unreadable.
    BuildGpt(Ram, ThreeParts, 3);
    Ram->Fail = TRUE;
    Ram->FailFirst = Ram->FailLast = 5;
    Table = Scan(Ram, KSTATUS_SUCCESS);
    assert_true(Table->UsedBackupGpt);
    assert_true(HasWarning(Table, "entry array cannot be read"));
    ExpectThreeParts(Table, 1);
    Ram->Fail = FALSE;
    free(Table);

    // Primary intact, backup damaged: the primary is used, with a warning about the backup.
    BuildGpt(Ram, ThreeParts, 3);
    At(Ram, 39999)[0] = 'X';
    Table = Scan(Ram, KSTATUS_SUCCESS);
    assert_false(Table->UsedBackupGpt);
    assert_int_equal(Table->WarningCount, 1);
    assert_true(HasWarning(Table, "backup GPT header at LBA 39999: no GPT signature"));
    ExpectThreeParts(Table, 1);
    free(Table);

    // Both damaged: no partitions, one warning.
    BuildGpt(Ram, ThreeParts, 3);
    At(Ram, 1)[60] ^= 0x01;
    At(Ram, 39999)[60] ^= 0x01;
    Table = Scan(Ram, KSTATUS_SUCCESS);
    assert_int_equal(Table->Scheme, PARTITION_SCHEME_NONE);
    assert_int_equal(Table->Count, 0);
    assert_int_equal(Table->WarningCount, 1);
    assert_true(HasWarning(Table, "GPT unusable: primary header CRC mismatch, backup header CRC mismatch"));
    free(Table);
    RamFree(Ram);
}

/** Rewrites one primary header field (and the header CRC): the scanner must give Reason and use the backup. */
static void CheckHostileHeader(U32 Offset, U64 Value, int Width, const char* Reason) {
    RAM* Ram = RamNew(512, 40000);
    BuildGpt(Ram, ThreeParts, 3);
    U8* S = At(Ram, 1);
    if (Width == 8) Put64(S + Offset, Value);
    else Put32(S + Offset, (U32)Value);
    Put32(S + 16, 0);
    Put32(S + 16, CRC32(S, 92));  // a valid CRC (over the usual 92 bytes): only the field itself is wrong
    PARTITION_TABLE* Table = Scan(Ram, KSTATUS_SUCCESS);
    if (!HasWarning(Table, Reason)) PrintWarnings(Table);
    assert_true(HasWarning(Table, Reason));
    assert_true(Table->UsedBackupGpt);
    ExpectThreeParts(Table, 1);
    free(Table);
    RamFree(Ram);
}

static void TestGptHostileHeaders(void** State) {
    (void)State;
    CheckHostileHeader(12, 600, 4, "header size 600 invalid");
    CheckHostileHeader(12, 20, 4, "header size 20 invalid");
    CheckHostileHeader(24, 7, 8, "header at LBA 1 says it is at LBA 7");
    CheckHostileHeader(40, 1, 8, "usable area 1-");
    CheckHostileHeader(48, 39999, 8, "usable area 34-39999 invalid");
    CheckHostileHeader(48, 10, 8, "usable area 34-10 invalid");
    CheckHostileHeader(84, 0, 4, "entry size 0 invalid");
    CheckHostileHeader(84, 100, 4, "entry size 100 invalid");
    CheckHostileHeader(80, 0x10000000, 4, "entry array too large");
    CheckHostileHeader(80, 0xFFFFFFFF, 4, "entry array too large");
    CheckHostileHeader(72, 1, 8, "entry array at LBA 1");
    CheckHostileHeader(72, 100, 8, "overlaps a table");               // inside the usable area
    CheckHostileHeader(72, 39990, 8, "overlaps a table");             // runs over the backup header
    CheckHostileHeader(72, 0xFFFFFFFFFFFFFFF0ULL, 8, "overlaps a table");
}

static void TestGptBadEntries(void** State) {
    (void)State;
    RAM* Ram = RamNew(512, 40000);
    const GPT_SPEC Specs[] = {
        {0, LINUX_FS, 2048, 4095, "good"},
        {1, LINUX_FS, 39000, 40000, "past end"},
        {2, LINUX_FS, 20, 100, "over array"},
        {3, LINUX_FS, 39960, 39970, "over backup"},
        {4, LINUX_FS, 5000, 4000, "backwards"},
        {5, LINUX_FS, 0xFFFFFFFFFFFFFF00ULL, 0xFFFFFFFFFFFFFFFFULL, "huge"},
        {127, LINUX_FS, 6000, 6000, "last slot"},
    };
    BuildGpt(Ram, Specs, 7);
    PARTITION_TABLE* Table = Scan(Ram, KSTATUS_SUCCESS);
    assert_int_equal(Table->Count, 2);
    ExpectEntry(Table, 0, 1, 2048, 2048);
    ExpectEntry(Table, 1, 128, 6000, 1);
    assert_int_equal(Table->Rejected, 5);
    assert_int_equal(Table->WarningCount, 5);
    assert_true(HasWarning(Table, "partition 2: sectors 39000-40000 past the end of the disk (40000 sectors)"));
    assert_true(HasWarning(Table, "partition 3: sectors 20-100 overlap the GPT header or entries"));
    assert_true(HasWarning(Table, "partition 4: sectors 39960-39970 overlap the GPT header or entries"));
    free(Table);
    RamFree(Ram);
}

static void TestGptProtectiveMbr(void** State) {
    (void)State;
    RAM* Ram = RamNew(512, 40000);
    BuildGpt(Ram, ThreeParts, 3);
    // Hybrid MBR: 0xEE plus an ordinary entry; the GPT wins.
    PutMbrEntry(At(Ram, 0), 1, 0x80, 0x0C, 2048, 2048);
    PARTITION_TABLE* Table = Scan(Ram, KSTATUS_SUCCESS);
    assert_int_equal(Table->WarningCount, 0);
    ExpectThreeParts(Table, 1);
    free(Table);
    // No MBR at all: the GPT is still used, with a warning.
    memset(At(Ram, 0), 0, 512);
    Table = Scan(Ram, KSTATUS_SUCCESS);
    ExpectThreeParts(Table, 1);
    assert_int_equal(Table->WarningCount, 1);
    assert_true(HasWarning(Table, "GPT without a protective MBR"));
    free(Table);
    // A protective MBR but no GPT anywhere: one warning, nothing found.
    memset(Ram->Data, 0, 512 * 40000);
    PutMbrEntry(At(Ram, 0), 0, 0, 0xEE, 1, 39999);
    Table = Scan(Ram, KSTATUS_SUCCESS);
    assert_int_equal(Table->Scheme, PARTITION_SCHEME_NONE);
    assert_int_equal(Table->WarningCount, 1);
    assert_true(HasWarning(Table, "GPT unusable: primary no GPT signature, backup no GPT signature"));
    free(Table);
    RamFree(Ram);
}

static void TestGptTinyDisks(void** State) {
    (void)State;
    // Disks of 1..80 sectors with a protective MBR and GPT headers claiming a big disk: nothing read outside.
    for (U64 Sectors = 1; Sectors <= 80; Sectors++) {
        RAM* Big = RamNew(512, 40000);
        BuildGpt(Big, ThreeParts, 3);
        RAM* Ram = RamNew(512, Sectors);
        memcpy(Ram->Data, Big->Data, Sectors * 512);
        PARTITION_TABLE* Table = Scan(Ram, KSTATUS_SUCCESS);
        assert_int_equal(Table->Count, 0);
        free(Table);
        RamFree(Ram);
        RamFree(Big);
    }
}

/** Random bytes in the table areas of a GPT and an MBR disk: never outside the disk, never a crash. */
static void TestRandomDamage(void** State) {
    (void)State;
    srand(4321);
    for (int Round = 0; Round < 3000; Round++) {
        RAM* Ram = RamNew(512, 4000);
        if (Round & 1) {
            BuildGpt(Ram, ThreeParts, 1);
        } else {
            const U32 Offsets[] = {0, 500, 1000};
            memset(Ram->Data, 0, 512);
            PutMbrEntry(At(Ram, 0), 0, 0, 0x05, 100, 3000);
            for (int I = 0; I < 3; I++) {
                PutMbrEntry(At(Ram, 100 + Offsets[I]), 0, 0, 0x83, 10, 100);
                PutMbrEntry(At(Ram, 100 + Offsets[I]), 1, 0, 0x05, Offsets[(I + 1) % 3], 200);
            }
        }
        int Flips = 1 + rand() % 8;
        for (int I = 0; I < Flips; I++) {
            U64 Sector = (U64)(rand() % 4) == 0 ? 3999 : (U64)(rand() % 3);
            if (!(Round & 1)) Sector = (rand() % 2) ? 0 : 100 + (U64)(rand() % 3) * 500;
            At(Ram, Sector)[rand() % 512] = (U8)rand();
        }
        PARTITION_TABLE* Table = Scan(Ram, KSTATUS_SUCCESS);
        for (U32 I = 0; I < Table->Count; I++) {
            const PARTITION_ENTRY* E = &Table->Entries[I];
            assert_true(E->StartSector >= 1 && E->SectorCount >= 1);
            assert_true(E->StartSector + E->SectorCount <= Ram->Sectors);
            assert_true(strlen(E->Name) < PARTITION_NAME_LENGTH);
        }
        free(Table);
        RamFree(Ram);
    }
}

static void TestGuidFormat(void** State) {
    (void)State;
    U8 Guid[16];
    GuidFromText(LINUX_FS, Guid);
    assert_int_equal(Guid[0], 0xAF);  // first field little endian on disk
    assert_int_equal(Guid[8], 0x8E);  // last two fields as written
    char Text[PARTITION_GUID_TEXT_LENGTH];
    PartitionFormatGuid(Guid, Text, sizeof(Text));
    assert_string_equal(Text, LINUX_FS);
    PARTITION_ENTRY Entry = {0};
    Entry.Scheme = PARTITION_SCHEME_GPT;
    assert_string_equal(PartitionTypeName(&Entry), "Unknown");
    Entry.Scheme = PARTITION_SCHEME_MBR;
    Entry.MbrType = 0x42;
    assert_string_equal(PartitionTypeName(&Entry), "Unknown");
    Entry.MbrType = 0x82;
    assert_string_equal(PartitionTypeName(&Entry), "Linux swap");
    assert_string_equal(PartitionTypeName(NULL), "Unknown");
}

/************************************************************************/
// Real images

static char TempDir[256];

static BOOL ToolExists(const char* Tool) {
    char Command[256];
    snprintf(Command, sizeof(Command), TOOL_PATH "command -v %s > /dev/null 2>&1", Tool);
    return system(Command) == 0;
}

static int Run(const char* Format, ...) {
    char Command[2048];
    va_list Arguments;
    va_start(Arguments, Format);
    vsnprintf(Command, sizeof(Command), Format, Arguments);
    va_end(Arguments);
    int Status = system(Command);
    if (Status != 0) printf("    command failed (%d): %s\n", Status, Command);
    return Status;
}

static RAM* LoadImage(const char* Name, U32 SectorSize) {
    char Path[512];
    snprintf(Path, sizeof(Path), "%s/%s", TempDir, Name);
    FILE* File = fopen(Path, "rb");
    assert_non_null(File);
    fseek(File, 0, SEEK_END);
    long Size = ftell(File);
    fseek(File, 0, SEEK_SET);
    RAM* Ram = calloc(1, sizeof(RAM));
    Ram->SectorSize = SectorSize;
    Ram->Sectors = (U64)Size / SectorSize;
    Ram->Data = malloc((size_t)Size);
    assert_int_equal(fread(Ram->Data, 1, (size_t)Size, File), (size_t)Size);
    fclose(File);
    return Ram;
}

static int MakeTempDir(void** State) {
    (void)State;
    snprintf(TempDir, sizeof(TempDir), "/tmp/cairn-partitions-XXXXXX");
    assert_non_null(mkdtemp(TempDir));
    return 0;
}

static int RemoveTempDir(void** State) {
    (void)State;
    Run("rm -rf '%s'", TempDir);
    return 0;
}

static void TestSgdiskImage(void** State) {
    (void)State;
    if (!ToolExists("sgdisk")) skip();
    assert_int_equal(Run("cd '%s' && rm -f gpt.img && truncate -s 32M gpt.img && " TOOL_PATH
                         "sgdisk -o -n 1:2048:4095 -t 1:ef00 -c 1:ESP -n 2:4096:40959 -t 2:8300 -c 2:root "
                         "-n 4:40960:0 -t 4:0700 -c 4:'Basic data' gpt.img > /dev/null",
                         TempDir),
                     0);
    RAM* Ram = LoadImage("gpt.img", 512);
    PARTITION_TABLE* Table = Scan(Ram, KSTATUS_SUCCESS);
    PrintWarnings(Table);
    assert_int_equal(Table->WarningCount, 0);
    assert_int_equal(Table->Scheme, PARTITION_SCHEME_GPT);
    assert_int_equal(Table->Count, 3);
    ExpectEntry(Table, 0, 1, 2048, 2048);
    ExpectEntry(Table, 1, 2, 4096, 36864);
    // sgdisk ends the last partition at the last usable sector: 65536 - 34 (backup array + header) - 1.
    ExpectEntry(Table, 2, 4, 40960, 65502 - 40960 + 1);
    assert_string_equal(Table->Entries[0].Name, "ESP");
    assert_string_equal(Table->Entries[2].Name, "Basic data");
    assert_string_equal(PartitionTypeName(&Table->Entries[0]), "EFI System");
    assert_string_equal(PartitionTypeName(&Table->Entries[1]), "Linux filesystem");
    assert_string_equal(PartitionTypeName(&Table->Entries[2]), "Microsoft basic data");
    free(Table);
    RamFree(Ram);

    // Damage the primary header's CRC field with dd: the backup takes over.
    assert_int_equal(Run("cd '%s' && printf 'XXXX' | dd of=gpt.img bs=1 seek=528 conv=notrunc status=none", TempDir),
                     0);
    Ram = LoadImage("gpt.img", 512);
    Table = Scan(Ram, KSTATUS_SUCCESS);
    assert_true(Table->UsedBackupGpt);
    assert_int_equal(Table->Count, 3);
    ExpectEntry(Table, 1, 2, 4096, 36864);
    free(Table);
    RamFree(Ram);

    // Let sgdisk repair it from the backup, then damage the primary entry array.
    assert_int_equal(Run("cd '%s' && " TOOL_PATH "sgdisk -v gpt.img > /dev/null 2>&1; " TOOL_PATH
                         "sgdisk -e gpt.img > /dev/null 2>&1; printf 'Z' | dd of=gpt.img bs=1 seek=%d conv=notrunc "
                         "status=none",
                         TempDir, 1024 + 128 + 33),
                     0);
    Ram = LoadImage("gpt.img", 512);
    Table = Scan(Ram, KSTATUS_SUCCESS);
    assert_int_equal(Table->Count, 3);
    assert_true(Table->UsedBackupGpt);
    assert_true(HasWarning(Table, "primary GPT entry array CRC mismatch"));
    ExpectEntry(Table, 2, 4, 40960, 65502 - 40960 + 1);
    free(Table);
    RamFree(Ram);
}

static const char ShimSource[] =
    "#define _GNU_SOURCE\n"
    "#include <dlfcn.h>\n#include <stdarg.h>\n#include <stdint.h>\n#include <sys/stat.h>\n"
    "#include <linux/fs.h>\n#include <sys/ioctl.h>\n"
    "int ioctl(int fd, unsigned long request, ...) {\n"
    "    va_list ap; va_start(ap, request); void* arg = va_arg(ap, void*); va_end(ap);\n"
    "    struct stat st;\n"
    "    if (request == BLKSSZGET || request == BLKPBSZGET) { *(int*)arg = 4096; return 0; }\n"
    "    if (request == BLKGETSIZE64 && fstat(fd, &st) == 0) { *(uint64_t*)arg = st.st_size; return 0; }\n"
    "    if (request == BLKGETSIZE && fstat(fd, &st) == 0) { *(unsigned long*)arg = st.st_size / 512; return 0; }\n"
    "    static int (*real)(int, unsigned long, ...);\n"
    "    if (!real) real = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, \"ioctl\");\n"
    "    return real(fd, request, arg);\n"
    "}\n";

static void TestSgdisk4096Image(void** State) {
    (void)State;
    if (!ToolExists("sgdisk") || !ToolExists("cc")) skip();
    char Path[512];
    snprintf(Path, sizeof(Path), "%s/shim.c", TempDir);
    FILE* File = fopen(Path, "w");
    assert_non_null(File);
    fputs(ShimSource, File);
    fclose(File);
    // The shim is built without the sanitizers the test itself carries.
    assert_int_equal(Run("cd '%s' && cc -shared -fPIC -o shim.so shim.c -ldl", TempDir), 0);
    assert_int_equal(Run("cd '%s' && rm -f gpt4k.img && truncate -s 16M gpt4k.img && LD_PRELOAD=./shim.so " TOOL_PATH
                         "sgdisk -o -n 1:256:1279 -t 1:8300 -c 1:data -n 2:1280:0 -t 2:ef00 gpt4k.img > /dev/null",
                         TempDir),
                     0);
    RAM* Ram = LoadImage("gpt4k.img", 4096);
    assert_int_equal(Ram->Sectors, 4096);
    assert_int_equal(memcmp(At(Ram, 1), "EFI PART", 8), 0);  // the header really is at byte 4096
    PARTITION_TABLE* Table = Scan(Ram, KSTATUS_SUCCESS);
    PrintWarnings(Table);
    assert_int_equal(Table->WarningCount, 0);
    assert_int_equal(Table->Count, 2);
    ExpectEntry(Table, 0, 1, 256, 1024);
    // Last usable: 4096 - 1 (header) - 4 (array of 16 KiB) - 1.
    ExpectEntry(Table, 1, 2, 1280, 4090 - 1280 + 1);
    assert_string_equal(Table->Entries[0].Name, "data");
    free(Table);
    // The primary header damaged: the backup, at the last 4 KiB sector.
    At(Ram, 1)[20] ^= 0xFF;
    Table = Scan(Ram, KSTATUS_SUCCESS);
    assert_true(Table->UsedBackupGpt);
    assert_true(HasWarning(Table, "using the backup at LBA 4095"));
    assert_int_equal(Table->Count, 2);
    free(Table);
    RamFree(Ram);
}

static void TestPartedMsdosImage(void** State) {
    (void)State;
    if (!ToolExists("parted")) skip();
    assert_int_equal(Run("cd '%s' && rm -f msdos.img && truncate -s 32M msdos.img && " TOOL_PATH
                         "parted -s msdos.img unit s mklabel msdos mkpart primary ext2 2048 10239 "
                         "mkpart extended 10240 61439 mkpart logical ext2 12288 16383 mkpart logical 18432 22527 "
                         "mkpart logical linux-swap 24576 30719 mkpart primary fat32 61440 65535 set 1 boot on "
                         "2> /dev/null",
                         TempDir),
                     0);
    assert_int_equal(
        Run("cd '%s' && " TOOL_PATH "parted -s -m msdos.img unit s print > msdos.txt 2> /dev/null", TempDir), 0);
    RAM* Ram = LoadImage("msdos.img", 512);
    PARTITION_TABLE* Table = Scan(Ram, KSTATUS_SUCCESS);
    PrintWarnings(Table);
    assert_int_equal(Table->WarningCount, 0);
    assert_int_equal(Table->Scheme, PARTITION_SCHEME_MBR);
    // Compare with parted's own listing ("N:start s:end s:size s:..."), skipping the extended container.
    char Path[512];
    snprintf(Path, sizeof(Path), "%s/msdos.txt", TempDir);
    FILE* File = fopen(Path, "r");
    assert_non_null(File);
    char Line[256];
    U32 Compared = 0;
    while (fgets(Line, sizeof(Line), File)) {
        unsigned Number;
        unsigned long long Start, End, Size;
        if (sscanf(Line, "%u:%llus:%llus:%llus:", &Number, &Start, &End, &Size) != 4) continue;
        if (Number == 2) continue;  // the extended partition itself is not a partition DISK
        BOOL Found = FALSE;
        for (U32 I = 0; I < Table->Count; I++) {
            if (Table->Entries[I].Number != Number) continue;
            assert_int_equal(Table->Entries[I].StartSector, Start);
            assert_int_equal(Table->Entries[I].SectorCount, Size);
            Found = TRUE;
        }
        assert_true(Found);
        Compared++;
    }
    fclose(File);
    assert_int_equal(Compared, 5);
    assert_int_equal(Table->Count, 5);
    ExpectEntry(Table, 0, 1, 2048, 8192);
    ExpectEntry(Table, 2, 5, 12288, 4096);
    ExpectEntry(Table, 4, 7, 24576, 6144);
    assert_true(Table->Entries[0].Active);
    assert_string_equal(PartitionTypeName(&Table->Entries[0]), "Linux");
    assert_string_equal(PartitionTypeName(&Table->Entries[4]), "Linux swap");
    free(Table);

    // Make the last EBR point back to the first one: a loop, found and cut.
    U64 FirstEbr = 10240;
    U64 LastEbr = 0;
    for (U64 S = 24576 - 1; S > 18432; S--) {
        if (At(Ram, S)[510] == 0x55 && At(Ram, S)[511] == 0xAA) {
            LastEbr = S;
            break;
        }
    }
    assert_true(LastEbr != 0);
    PutMbrEntry(At(Ram, LastEbr), 1, 0, 0x05, (U32)(FirstEbr - 10240), 10);
    Table = Scan(Ram, KSTATUS_SUCCESS);
    assert_int_equal(Table->Count, 5);
    assert_true(HasWarning(Table, "loops back to sector 10240"));
    free(Table);
    RamFree(Ram);
}

static void TestDefaultDiskImage(void** State) {
    (void)State;
    if (!ToolExists("sgdisk") || !ToolExists("mke2fs")) skip();
    if (access("tools/make-disk-image.sh", X_OK) != 0) {
        printf("    run from the repository root to test tools/make-disk-image.sh\n");
        skip();
    }
    assert_int_equal(Run("mkdir -p '%s/content' && echo hello > '%s/content/hello.txt' && " TOOL_PATH
                         "tools/make-disk-image.sh '%s/default.img' '%s/content' > /dev/null",
                         TempDir, TempDir, TempDir, TempDir),
                     0);
    RAM* Ram = LoadImage("default.img", 512);
    PARTITION_TABLE* Table = Scan(Ram, KSTATUS_SUCCESS);
    PrintWarnings(Table);
    assert_int_equal(Table->WarningCount, 0);
    assert_int_equal(Table->Count, 1);
    assert_int_equal(Table->Entries[0].Number, 1);
    assert_int_equal(Table->Entries[0].StartSector, 2048);
    assert_string_equal(Table->Entries[0].Name, "cairn-data");
    assert_string_equal(PartitionTypeName(&Table->Entries[0]), "Linux filesystem");
    // The EXT2 magic 0xEF53 at byte 1024 + 56 of the partition.
    U8* Super = At(Ram, 2048) + 1024;
    assert_int_equal(Super[56] | (Super[57] << 8), 0xEF53);
    free(Table);
    RamFree(Ram);
}

/** sgdisk type codes and the names this file gives their GUIDs. */
static void TestSgdiskTypeNames(void** State) {
    (void)State;
    if (!ToolExists("sgdisk")) skip();
    static const struct {
        const char* Code;
        const char* Name;
    } Types[] = {
        {"ef00", "EFI System"},      {"ef02", "BIOS boot"},          {"0c01", "Microsoft reserved"},
        {"0700", "Microsoft basic data"}, {"2700", "Windows recovery"}, {"8300", "Linux filesystem"},
        {"8200", "Linux swap"},      {"8e00", "Linux LVM"},          {"fd00", "Linux RAID"},
        {"8304", "Linux root (x86-64)"}, {"8302", "Linux home"},     {"af00", "Apple HFS/HFS+"},
    };
    char Arguments[1024] = "";
    for (size_t I = 0; I < ARRAY_COUNT(Types); I++) {
        char One[64];
        snprintf(One, sizeof(One), " -n %zu:%zu:%zu -t %zu:%s", I + 1, 2048 + I * 2048, 2048 + I * 2048 + 2047,
                 I + 1, Types[I].Code);
        strcat(Arguments, One);
    }
    assert_int_equal(Run("cd '%s' && rm -f types.img && truncate -s 32M types.img && " TOOL_PATH
                         "sgdisk -o%s types.img > /dev/null",
                         TempDir, Arguments),
                     0);
    RAM* Ram = LoadImage("types.img", 512);
    PARTITION_TABLE* Table = Scan(Ram, KSTATUS_SUCCESS);
    assert_int_equal(Table->Count, ARRAY_COUNT(Types));
    for (size_t I = 0; I < ARRAY_COUNT(Types); I++) {
        assert_string_equal(PartitionTypeName(&Table->Entries[I]), Types[I].Name);
    }
    free(Table);
    RamFree(Ram);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestMbrPrimary),
        cmocka_unit_test(TestMbrPastEnd),
        cmocka_unit_test(TestNoTable),
        cmocka_unit_test(TestMbrLogicals),
        cmocka_unit_test(TestMbrChainLoops),
        cmocka_unit_test(TestMbrChainTooLong),
        cmocka_unit_test(TestMbrLogicalPastEnd),
        cmocka_unit_test(TestGptGood),
        cmocka_unit_test(TestGpt4096),
        cmocka_unit_test(TestGptPrimaryCorrupt),
        cmocka_unit_test(TestGptHostileHeaders),
        cmocka_unit_test(TestGptBadEntries),
        cmocka_unit_test(TestGptProtectiveMbr),
        cmocka_unit_test(TestGptTinyDisks),
        cmocka_unit_test(TestRandomDamage),
        cmocka_unit_test(TestGuidFormat),
        cmocka_unit_test(TestSgdiskImage),
        cmocka_unit_test(TestSgdisk4096Image),
        cmocka_unit_test(TestPartedMsdosImage),
        cmocka_unit_test(TestDefaultDiskImage),
        cmocka_unit_test(TestSgdiskTypeNames),
    };
    return cmocka_run_group_tests(Tests, MakeTempDir, RemoveTempDir);
}
