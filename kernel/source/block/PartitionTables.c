/*
 * PartitionTables.c - MBR and GPT parsing (see Partition.h).
 *
 * Pure: sectors come through the PARTITION_SOURCE callback, memory from the
 * heap, and problems are written into the table as warnings (the caller
 * logs them), so host tests and the fuzzer run this file unchanged.
 *
 * Layouts (facts from the UEFI specification 2.10, section 5):
 *  - MBR: four 16-byte entries at offset 446 (boot flag, CHS, type, CHS,
 *    LBA start, sector count, little endian), signature 0x55 0xAA at 510.
 *    Types 0x05, 0x0F and 0x85 are extended partitions: the first sector of
 *    each link of the chain (EBR) holds one logical partition, relative to
 *    that EBR, and the next link, relative to the start of the extended
 *    partition. Type 0xEE covering the disk is the protective MBR of a GPT.
 *  - GPT header (LBA 1, backup at the last LBA): "EFI PART", revision,
 *    header size (92 here), CRC32 of the header with its CRC field zeroed,
 *    its own LBA, the alternate header's LBA, first and last usable LBA,
 *    disk GUID, entry array LBA, entry count, entry size (128 x 2^n), CRC32
 *    of the entry array. Entry: type GUID, unique GUID, first and last LBA
 *    (inclusive), attributes, name in 36 UTF-16LE units.
 */

#include "block/Partition.h"

#include "memory/Heap.h"
#include "utils/CRC32.h"
#include "utils/Endian.h"
#include "utils/Format.h"
#include "utils/String.h"

#define MBR_ENTRIES_OFFSET 446
#define MBR_SIGNATURE_OFFSET 510
#define GPT_HEADER_MIN_SIZE 92
#define GPT_ENTRY_MIN_SIZE 128
#define GPT_ENTRY_MAX_SIZE 4096
#define GPT_REASON_LENGTH 80

typedef struct tag_SCAN {
    const PARTITION_SOURCE* Source;
    PARTITION_TABLE* Table;
    U8* Sector;        // one sector
    U64 LastLba;
} SCAN;

typedef struct tag_MBR_ENTRY {
    U8 Status;
    U8 Type;
    U64 Start;
    U64 Count;
} MBR_ENTRY;

typedef struct tag_GPT_HEADER {
    U64 MyLba;
    U64 AlternateLba;
    U64 FirstUsable;
    U64 LastUsable;
    U64 EntryLba;
    U32 EntryCount;
    U32 EntrySize;
    U32 ArrayCrc;
    U8 DiskGuid[16];
    U8* Array;         // EntryCount * EntrySize bytes (heap)
} GPT_HEADER;

static void Warn(PARTITION_TABLE* Table, LPCSTR Format, ...) PRINTF_LIKE(2, 3);
static void Warn(PARTITION_TABLE* Table, LPCSTR Format, ...) {
    if (Table->WarningCount < PARTITION_MAX_WARNINGS) {
        VA_LIST Arguments;
        VA_START(Arguments, Format);
        StringPrintFormatV(Table->Warnings[Table->WarningCount], PARTITION_WARNING_LENGTH, Format, Arguments);
        VA_END(Arguments);
    }
    Table->WarningCount++;
}

static void Reject(PARTITION_TABLE* Table, LPCSTR Format, U32 Number, U64 First, U64 Last, U64 Limit) {
    Table->Rejected++;
    Warn(Table, Format, Number, First, Last, Limit);
}

static KSTATUS ReadSectors(SCAN* Scan, U64 Sector, U32 Count, LPVOID Buffer) {
    if (Sector > Scan->LastLba || Count == 0 || Count - 1 > Scan->LastLba - Sector) return KSTATUS_BAD_PARAMETER;
    return Scan->Source->Read(Scan->Source->Context, Sector, Count, Buffer);
}

/** [First, First + Count) lies on the disk and does not start at LBA 0. */
static BOOL InDisk(const SCAN* Scan, U64 First, U64 Count) {
    return First != 0 && Count != 0 && First <= Scan->LastLba && Count - 1 <= Scan->LastLba - First;
}

static PARTITION_ENTRY* AddEntry(SCAN* Scan, U32 Scheme, U32 Number, U64 Start, U64 Count) {
    PARTITION_TABLE* Table = Scan->Table;
    if (Table->Count >= PARTITION_MAX_ENTRIES) return NULL;
    PARTITION_ENTRY* Entry = &Table->Entries[Table->Count++];
    MemorySet(Entry, 0, sizeof(*Entry));
    Entry->Scheme = Scheme;
    Entry->Number = Number;
    Entry->StartSector = Start;
    Entry->SectorCount = Count;
    return Entry;
}

/************************************************************************/
// MBR

static MBR_ENTRY MbrEntry(const U8* Mbr, U32 Index) {
    const U8* P = Mbr + MBR_ENTRIES_OFFSET + Index * 16;
    MBR_ENTRY Entry = {P[0], P[4], ReadLE32(P + 8), ReadLE32(P + 12)};
    return Entry;
}

static BOOL MbrHasSignature(const U8* Sector) {
    return Sector[MBR_SIGNATURE_OFFSET] == 0x55 && Sector[MBR_SIGNATURE_OFFSET + 1] == 0xAA;
}

/** A partition table and not, say, a boot sector with the signature: every boot flag 0x00 or 0x80 (as Linux). */
static BOOL MbrLooksValid(const U8* Sector) {
    if (!MbrHasSignature(Sector)) return FALSE;
    for (U32 I = 0; I < 4; I++) {
        U8 Status = MbrEntry(Sector, I).Status;
        if (Status != 0x00 && Status != 0x80) return FALSE;
    }
    return TRUE;
}

static BOOL MbrIsExtended(U8 Type) { return Type == 0x05 || Type == 0x0F || Type == 0x85; }

static void WalkExtended(SCAN* Scan, U64 ExtendedStart, U64 ExtendedCount) {
    PARTITION_TABLE* Table = Scan->Table;
    U64 Visited[PARTITION_MAX_LOGICAL + 1];
    U32 VisitedCount = 0;
    U32 Logicals = 0;
    U64 Ebr = ExtendedStart;
    for (;;) {
        for (U32 I = 0; I < VisitedCount; I++) {
            if (Visited[I] == Ebr) {
                Warn(Table, "extended partition chain loops back to sector %llu", Ebr);
                return;
            }
        }
        if (VisitedCount == ARRAY_COUNT(Visited)) {
            Warn(Table, "extended partition chain longer than %u links; the rest ignored", VisitedCount);
            return;
        }
        Visited[VisitedCount++] = Ebr;
        if (ReadSectors(Scan, Ebr, 1, Scan->Sector) != KSTATUS_SUCCESS) {
            Warn(Table, "EBR at sector %llu cannot be read", Ebr);
            return;
        }
        if (!MbrHasSignature(Scan->Sector)) {
            Warn(Table, "EBR at sector %llu has no signature", Ebr);
            return;
        }
        U64 Link = 0;
        BOOL HaveLink = FALSE;
        for (U32 I = 0; I < 4; I++) {
            MBR_ENTRY E = MbrEntry(Scan->Sector, I);
            if (E.Type == PARTITION_MBR_EMPTY || E.Count == 0) continue;
            if (MbrIsExtended(E.Type)) {
                if (!HaveLink) Link = E.Start;
                HaveLink = TRUE;
                continue;
            }
            if (Logicals == PARTITION_MAX_LOGICAL) {
                Warn(Table, "more than %u logical partitions; the rest ignored", PARTITION_MAX_LOGICAL);
                return;
            }
            U32 Number = 5 + Logicals++;
            if (E.Start == 0) {
                Reject(Table, "partition %u: sectors %llu-%llu overlap its EBR (disk %llu sectors)", Number, Ebr,
                       Ebr + E.Count - 1, Scan->LastLba + 1);
                continue;
            }
            if (E.Start > Scan->LastLba - Ebr || !InDisk(Scan, Ebr + E.Start, E.Count)) {
                Reject(Table, "partition %u: sectors %llu+%llu past the end of the disk (%llu sectors)", Number,
                       Ebr + MIN(E.Start, Scan->LastLba), E.Count, Scan->LastLba + 1);
                continue;
            }
            PARTITION_ENTRY* Entry = AddEntry(Scan, PARTITION_SCHEME_MBR, Number, Ebr + E.Start, E.Count);
            if (Entry == NULL) return;
            Entry->MbrType = E.Type;
            Entry->Active = E.Status == 0x80;
            Entry->Logical = TRUE;
        }
        if (!HaveLink) return;
        if (Link >= ExtendedCount) {
            Warn(Table, "EBR at sector %llu links outside the extended partition (offset %llu)", Ebr, Link);
            return;
        }
        Ebr = ExtendedStart + Link;
    }
}

static void ScanMbr(SCAN* Scan) {
    PARTITION_TABLE* Table = Scan->Table;
    MBR_ENTRY Entries[4];
    for (U32 I = 0; I < 4; I++) Entries[I] = MbrEntry(Scan->Sector, I);
    Table->Scheme = PARTITION_SCHEME_MBR;
    BOOL HaveExtended = FALSE;
    U64 ExtendedStart = 0, ExtendedCount = 0;
    for (U32 I = 0; I < 4; I++) {
        MBR_ENTRY* E = &Entries[I];
        if (E->Type == PARTITION_MBR_EMPTY || E->Count == 0) continue;
        if (!InDisk(Scan, E->Start, E->Count)) {
            LPCSTR Format = E->Start == 0 ? "partition %u: sectors %llu+%llu overlap the MBR (disk %llu sectors)"
                                          : "partition %u: sectors %llu+%llu past the end of the disk (%llu sectors)";
            Reject(Table, Format, I + 1, E->Start, E->Count, Scan->LastLba + 1);
            continue;
        }
        if (MbrIsExtended(E->Type)) {
            if (HaveExtended) {
                Warn(Table, "partition %u: second extended partition ignored", I + 1);
                continue;
            }
            HaveExtended = TRUE;
            ExtendedStart = E->Start;
            ExtendedCount = E->Count;
            continue;
        }
        PARTITION_ENTRY* Entry = AddEntry(Scan, PARTITION_SCHEME_MBR, I + 1, E->Start, E->Count);
        Entry->MbrType = E->Type;
        Entry->Active = E->Status == 0x80;
    }
    if (HaveExtended) WalkExtended(Scan, ExtendedStart, ExtendedCount);
}

/************************************************************************/
// GPT

/** Reads and checks the header at Lba and its entry array; NULL on success, else why not. */
static LPCSTR LoadGpt(SCAN* Scan, U64 Lba, GPT_HEADER* Header, LPSTR Reason) {
    const PARTITION_SOURCE* Source = Scan->Source;
    U8* S = Scan->Sector;
    MemorySet(Header, 0, sizeof(*Header));
    if (Lba == 0 || Lba > Scan->LastLba) return "header LBA outside the disk";
    if (ReadSectors(Scan, Lba, 1, S) != KSTATUS_SUCCESS) return "header cannot be read";
    if (MemoryCompare(S, "EFI PART", 8) != 0) return "no GPT signature";
    U32 HeaderSize = ReadLE32(S + 12);
    if (HeaderSize < GPT_HEADER_MIN_SIZE || HeaderSize > Source->SectorSize) {
        StringPrintFormat(Reason, GPT_REASON_LENGTH, "header size %u invalid", HeaderSize);
        return Reason;
    }
    U32 Stored = ReadLE32(S + 16);
    U32 Zero = 0;
    U32 Crc = CRC32Update(CRC32(S, 16), &Zero, 4);
    Crc = CRC32Update(Crc, S + 20, HeaderSize - 20);
    if (Crc != Stored) return "header CRC mismatch";
    Header->MyLba = ReadLE64(S + 24);
    Header->AlternateLba = ReadLE64(S + 32);
    Header->FirstUsable = ReadLE64(S + 40);
    Header->LastUsable = ReadLE64(S + 48);
    MemoryCopy(Header->DiskGuid, S + 56, 16);
    Header->EntryLba = ReadLE64(S + 72);
    Header->EntryCount = ReadLE32(S + 80);
    Header->EntrySize = ReadLE32(S + 84);
    Header->ArrayCrc = ReadLE32(S + 88);
    if (Header->MyLba != Lba) {
        StringPrintFormat(Reason, GPT_REASON_LENGTH, "header at LBA %llu says it is at LBA %llu", Lba,
                          Header->MyLba);
        return Reason;
    }
    // The usable area may not hold LBA 0, 1 or the last LBA (the protective MBR and the two headers).
    if (Header->FirstUsable < 2 || Header->FirstUsable > Header->LastUsable || Header->LastUsable >= Scan->LastLba) {
        StringPrintFormat(Reason, GPT_REASON_LENGTH, "usable area %llu-%llu invalid", Header->FirstUsable,
                          Header->LastUsable);
        return Reason;
    }
    if (Header->EntrySize < GPT_ENTRY_MIN_SIZE || Header->EntrySize > GPT_ENTRY_MAX_SIZE ||
        !IS_POWER_OF_TWO(Header->EntrySize)) {
        StringPrintFormat(Reason, GPT_REASON_LENGTH, "entry size %u invalid", Header->EntrySize);
        return Reason;
    }
    U64 ArrayBytes = (U64)Header->EntryCount * Header->EntrySize;
    if (ArrayBytes > PARTITION_GPT_MAX_ARRAY_BYTES) {
        StringPrintFormat(Reason, GPT_REASON_LENGTH, "entry array too large (%u x %u)", Header->EntryCount,
                          Header->EntrySize);
        return Reason;
    }
    U64 ArraySectors = MAX(1ULL, (ArrayBytes + Source->SectorSize - 1) / Source->SectorSize);
    U64 ArrayLast = Header->EntryLba + ArraySectors - 1;
    if (Header->EntryLba < 2 || Header->EntryLba >= Scan->LastLba || ArraySectors > Scan->LastLba - Header->EntryLba ||
        !(ArrayLast < Header->FirstUsable || Header->EntryLba > Header->LastUsable)) {
        StringPrintFormat(Reason, GPT_REASON_LENGTH, "entry array at LBA %llu (%llu sectors) overlaps a table",
                          Header->EntryLba, ArraySectors);
        return Reason;
    }
    Header->Array = (U8*)KernelHeapAlloc((SIZE)(ArraySectors * Source->SectorSize));
    if (Header->Array == NULL) return "no memory for the entry array";
    if (ReadSectors(Scan, Header->EntryLba, (U32)ArraySectors, Header->Array) != KSTATUS_SUCCESS) {
        KernelHeapFree(Header->Array);
        Header->Array = NULL;
        return "entry array cannot be read";
    }
    if (CRC32(Header->Array, (SIZE)ArrayBytes) != Header->ArrayCrc) {
        KernelHeapFree(Header->Array);
        Header->Array = NULL;
        return "entry array CRC mismatch";
    }
    return NULL;
}

static void GptName(const U8* Units, LPSTR Name) {
    U32 Length = 0;
    for (U32 I = 0; I < PARTITION_NAME_LENGTH - 1; I++) {
        U16 Unit = ReadLE16(Units + I * 2);
        if (Unit == 0) break;
        if (Unit >= 0xDC00 && Unit <= 0xDFFF) continue;  // second half of a surrogate pair: one '?' is enough
        Name[Length++] = (Unit >= 0x20 && Unit < 0x7F) ? (char)Unit : '?';
    }
    Name[Length] = 0;
}

static BOOL IsZero(const U8* Bytes, U32 Size) {
    for (U32 I = 0; I < Size; I++) {
        if (Bytes[I]) return FALSE;
    }
    return TRUE;
}

static void ParseGptEntries(SCAN* Scan, const GPT_HEADER* Header) {
    PARTITION_TABLE* Table = Scan->Table;
    for (U32 I = 0; I < Header->EntryCount; I++) {
        const U8* E = Header->Array + (SIZE)I * Header->EntrySize;
        if (IsZero(E, 16)) continue;  // unused entry
        U64 First = ReadLE64(E + 32);
        U64 Last = ReadLE64(E + 40);
        if (Last < First) {
            Reject(Table, "partition %u: sectors %llu-%llu end before they start (disk %llu sectors)", I + 1, First,
                   Last, Scan->LastLba + 1);
            continue;
        }
        if (Last > Scan->LastLba) {
            Reject(Table, "partition %u: sectors %llu-%llu past the end of the disk (%llu sectors)", I + 1, First,
                   Last, Scan->LastLba + 1);
            continue;
        }
        if (First < Header->FirstUsable || Last > Header->LastUsable) {
            Reject(Table, "partition %u: sectors %llu-%llu overlap the GPT header or entries (usable to %llu)",
                   I + 1, First, Last, Header->LastUsable);
            continue;
        }
        PARTITION_ENTRY* Entry = AddEntry(Scan, PARTITION_SCHEME_GPT, I + 1, First, Last - First + 1);
        if (Entry == NULL) {
            Warn(Table, "more than %u partitions; the rest ignored", PARTITION_MAX_ENTRIES);
            return;
        }
        MemoryCopy(Entry->TypeGuid, E, 16);
        MemoryCopy(Entry->UniqueGuid, E + 16, 16);
        Entry->Attributes = ReadLE64(E + 48);
        GptName(E + 56, Entry->Name);
    }
}

/** Protective: sector 0 has a 0xEE entry (a missing GPT is then worth a warning). */
static void ScanGpt(SCAN* Scan, BOOL Protective) {
    PARTITION_TABLE* Table = Scan->Table;
    GPT_HEADER Primary, Backup = {0};
    char PrimaryReason[GPT_REASON_LENGTH], BackupReason[GPT_REASON_LENGTH];
    LPCSTR PrimaryProblem = LoadGpt(Scan, 1, &Primary, PrimaryReason);
    const GPT_HEADER* Used = &Primary;
    if (PrimaryProblem == NULL) {
        Table->Scheme = PARTITION_SCHEME_GPT;
        if (!Protective) Warn(Table, "GPT without a protective MBR");
        U64 Alternate = Primary.AlternateLba;
        LPCSTR BackupProblem = "same LBA as the primary";
        if (Alternate != 1) BackupProblem = LoadGpt(Scan, Alternate, &Backup, BackupReason);
        if (BackupProblem != NULL) {
            Warn(Table, "backup GPT header at LBA %llu: %s", Alternate, BackupProblem);
        } else if (Backup.ArrayCrc != Primary.ArrayCrc || Backup.EntryCount != Primary.EntryCount) {
            Warn(Table, "backup GPT entries differ from the primary ones");
        }
        KernelHeapFree(Backup.Array);
    } else {
        LPCSTR BackupProblem = LoadGpt(Scan, Scan->LastLba, &Backup, BackupReason);
        if (BackupProblem != NULL) {
            KernelHeapFree(Primary.Array);
            KernelHeapFree(Backup.Array);
            // No MBR and no GPT signature anywhere: simply no partition table.
            BOOL Unsigned = StringCompare(PrimaryProblem, "no GPT signature") == 0 &&
                            StringCompare(BackupProblem, "no GPT signature") == 0;
            if (Protective || !Unsigned) {
                Warn(Table, "GPT unusable: primary %s, backup %s", PrimaryProblem, BackupProblem);
            }
            return;
        }
        Table->Scheme = PARTITION_SCHEME_GPT;
        Table->UsedBackupGpt = TRUE;
        Warn(Table, "primary GPT %s; using the backup at LBA %llu", PrimaryProblem, Scan->LastLba);
        if (!Protective) Warn(Table, "GPT without a protective MBR");
        Used = &Backup;
    }
    MemoryCopy(Table->DiskGuid, Used->DiskGuid, 16);
    ParseGptEntries(Scan, Used);
    KernelHeapFree(Primary.Array);
    if (Used == &Backup) KernelHeapFree(Backup.Array);
}

/************************************************************************/
// Entry point

KSTATUS PartitionTableScan(const PARTITION_SOURCE* Source, PARTITION_TABLE* Table) {
    if (Table == NULL) return KSTATUS_BAD_PARAMETER;
    MemorySet(Table, 0, sizeof(*Table));
    if (Source == NULL || Source->Read == NULL || Source->SectorCount == 0 || Source->SectorSize < 512 ||
        Source->SectorSize > 65536 || !IS_POWER_OF_TWO(Source->SectorSize)) {
        return KSTATUS_BAD_PARAMETER;
    }
    SCAN Scan = {Source, Table, NULL, Source->SectorCount - 1};
    Scan.Sector = (U8*)KernelHeapAlloc(Source->SectorSize);
    if (Scan.Sector == NULL) return KSTATUS_NO_MEMORY;
    KSTATUS Status = ReadSectors(&Scan, 0, 1, Scan.Sector);
    if (Status != KSTATUS_SUCCESS) {
        KernelHeapFree(Scan.Sector);
        return Status;
    }
    BOOL Valid = MbrLooksValid(Scan.Sector);
    BOOL Protective = FALSE;
    for (U32 I = 0; Valid && I < 4; I++) {
        if (MbrEntry(Scan.Sector, I).Type == PARTITION_MBR_PROTECTIVE) Protective = TRUE;
    }
    if (Valid && !Protective) {
        ScanMbr(&Scan);
    } else if (Scan.LastLba >= 2) {
        // A protective MBR, or none: look for a GPT (Linux would want the protective MBR; a lone GPT is kept).
        ScanGpt(&Scan, Protective);
    } else if (Protective) {
        Warn(Table, "protective MBR on a disk too small for a GPT");
    }
    KernelHeapFree(Scan.Sector);
    return KSTATUS_SUCCESS;
}

/************************************************************************/
// Names

void PartitionFormatGuid(const U8* Guid, LPSTR Buffer, SIZE Size) {
    StringPrintFormat(Buffer, Size, "%08X-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X", ReadLE32(Guid),
                      ReadLE16(Guid + 4), ReadLE16(Guid + 6), Guid[8], Guid[9], Guid[10], Guid[11], Guid[12], Guid[13],
                      Guid[14], Guid[15]);
}

static const struct {
    LPCSTR Guid;
    LPCSTR Name;
} GptTypes[] = {
    {"C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "EFI System"},
    {"21686148-6449-6E6F-744E-656564454649", "BIOS boot"},
    {"E3C9E316-0B5C-4DB8-817D-F92DF00215AE", "Microsoft reserved"},
    {"EBD0A0A2-B9E5-4433-87C0-68B6B72699C7", "Microsoft basic data"},
    {"DE94BBA4-06D1-4D40-A16A-BFD50179D6AC", "Windows recovery"},
    {"0FC63DAF-8483-4772-8E79-3D69D8477DE4", "Linux filesystem"},
    {"0657FD6D-A4AB-43C4-84E5-0933C84B4F4F", "Linux swap"},
    {"E6D6D379-F507-44C2-A23C-238F2A3DF928", "Linux LVM"},
    {"A19D880F-05FC-4D3B-A006-743F0F84911E", "Linux RAID"},
    {"4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709", "Linux root (x86-64)"},
    {"933AC7E1-2EB4-4F13-B844-0E14E2AEF915", "Linux home"},
    {"48465300-0000-11AA-AA11-00306543ECAC", "Apple HFS/HFS+"},
};

static const struct {
    U8 Type;
    LPCSTR Name;
} MbrTypes[] = {
    {0x01, "FAT12"},           {0x04, "FAT16 <32M"},      {0x05, "Extended"},
    {0x06, "FAT16"},           {0x07, "HPFS/NTFS/exFAT"}, {0x0B, "W95 FAT32"},
    {0x0C, "W95 FAT32 (LBA)"}, {0x0E, "W95 FAT16 (LBA)"}, {0x0F, "W95 Ext'd (LBA)"},
    {0x82, "Linux swap"},      {0x83, "Linux"},           {0x85, "Linux extended"},
    {0x8E, "Linux LVM"},       {0xA5, "FreeBSD"},         {0xEE, "GPT"},
    {0xEF, "EFI (FAT-12/16/32)"}, {0xFD, "Linux raid autodetect"},
};

LPCSTR PartitionTypeName(const PARTITION_ENTRY* Entry) {
    if (Entry == NULL) return "Unknown";
    if (Entry->Scheme == PARTITION_SCHEME_GPT) {
        char Text[PARTITION_GUID_TEXT_LENGTH];
        PartitionFormatGuid(Entry->TypeGuid, Text, sizeof(Text));
        for (U32 I = 0; I < ARRAY_COUNT(GptTypes); I++) {
            if (StringCompare(Text, GptTypes[I].Guid) == 0) return GptTypes[I].Name;
        }
        return "Unknown";
    }
    for (U32 I = 0; I < ARRAY_COUNT(MbrTypes); I++) {
        if (MbrTypes[I].Type == Entry->MbrType) return MbrTypes[I].Name;
    }
    return "Unknown";
}

LPCSTR PartitionSchemeName(U32 Scheme) {
    switch (Scheme) {
        case PARTITION_SCHEME_MBR: return "MBR";
        case PARTITION_SCHEME_GPT: return "GPT";
        default: return "none";
    }
}
