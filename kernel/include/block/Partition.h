/*
 * Partition.h - partition tables and the partition DISKs made from them.
 *
 * Two layers:
 *  - PartitionTableScan (PartitionTables.c) is pure: it reads a disk's
 *    sectors through a callback and fills a PARTITION_TABLE from an MBR
 *    (primary entries, and an extended partition's EBR chain) or a GPT
 *    (primary header at LBA 1, the backup at the alternate or last LBA when
 *    the primary is bad; header and entry-array CRC32s checked). It trusts
 *    nothing it reads: every LBA and size is checked against the disk, the
 *    EBR chain is bounded and loop-checked, and problems become warnings in
 *    the table, never a fault or an unbounded loop.
 *  - Partition.c listens for disk registrations (PartitionInit), scans every
 *    physical disk and registers each partition as a DISK named
 *    `<parent>p<N>` (GPT: N = entry index + 1; MBR: 1-4 primary, 5 and up
 *    logical in chain order, as Linux numbers them), DISK_TYPE_PARTITION,
 *    whose driver checks bounds and forwards to the parent through
 *    DiskCommand (so through the parent's cache and access checks). A scan
 *    logs one warning line per disk at most.
 *
 * LBAs are in the disk's own sectors (512 or 4096 bytes, any power of two
 * up to 64 KiB); the GPT header is at LBA 1 of that size; the MBR is the
 * first 512 bytes of LBA 0 whatever the sector size.
 */

#ifndef BLOCK_PARTITION_H_INCLUDED
#define BLOCK_PARTITION_H_INCLUDED

#include "Base.h"
#include "block/Disk.h"

#define PARTITION_SCHEME_NONE 0
#define PARTITION_SCHEME_MBR 1
#define PARTITION_SCHEME_GPT 2

#define PARTITION_MAX_ENTRIES 256           // partitions one table may give
#define PARTITION_MAX_LOGICAL 128           // MBR logical partitions (EBR chain links)
#define PARTITION_GPT_MAX_ARRAY_BYTES N_1MB // entry array bound (count x size)
#define PARTITION_NAME_LENGTH 37            // GPT name: 36 UTF-16 units, in ASCII
#define PARTITION_TYPE_NAME_LENGTH 32
#define PARTITION_GUID_TEXT_LENGTH 37       // "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
#define PARTITION_MAX_WARNINGS 4
#define PARTITION_WARNING_LENGTH 112

#define PARTITION_MBR_EMPTY 0x00
#define PARTITION_MBR_PROTECTIVE 0xEE

typedef struct tag_PARTITION_ENTRY {
    U32 Number;               // N in <parent>p<N>
    U32 Scheme;               // PARTITION_SCHEME_*
    U64 StartSector;          // in the disk's sectors
    U64 SectorCount;
    U8 MbrType;               // MBR type byte (0 for GPT)
    BOOL Active;              // MBR boot flag
    BOOL Logical;             // MBR: inside the extended partition
    U8 TypeGuid[16];          // GPT, as stored (mixed endian)
    U8 UniqueGuid[16];
    U64 Attributes;           // GPT attribute bits
    char Name[PARTITION_NAME_LENGTH];  // GPT name; non-ASCII characters become '?'
} PARTITION_ENTRY;

typedef struct tag_PARTITION_TABLE {
    U32 Scheme;
    U32 Count;
    U32 Rejected;             // entries refused (outside the disk, overlapping a table ...)
    BOOL UsedBackupGpt;       // the primary GPT header or array was bad
    U8 DiskGuid[16];
    U32 WarningCount;         // problems found; the first PARTITION_MAX_WARNINGS are kept
    char Warnings[PARTITION_MAX_WARNINGS][PARTITION_WARNING_LENGTH];
    PARTITION_ENTRY Entries[PARTITION_MAX_ENTRIES];
} PARTITION_TABLE;

typedef KSTATUS (*PARTITION_READ)(LPVOID Context, U64 Sector, U32 SectorCount, LPVOID Buffer);

typedef struct tag_PARTITION_SOURCE {
    U32 SectorSize;
    U64 SectorCount;
    PARTITION_READ Read;
    LPVOID Context;
} PARTITION_SOURCE;

/** What `disk` shows for a partition DISK. */
typedef struct tag_PARTITION_INFO {
    DISK* Parent;
    U32 Scheme;
    U32 Number;
    U64 StartSector;          // in the parent's sectors
    U64 SectorCount;
    U8 MbrType;
    BOOL Active;
    BOOL Logical;
    U8 TypeGuid[16];
    U8 UniqueGuid[16];
    U64 Attributes;
    char Name[PARTITION_NAME_LENGTH];
    char TypeName[PARTITION_TYPE_NAME_LENGTH];  // "Linux filesystem", "EFI System", "Linux" ...
    char TypeCode[PARTITION_GUID_TEXT_LENGTH];  // "0x83" or the type GUID
} PARTITION_INFO;

/************************************************************************/
// Tables (PartitionTables.c, pure)

/**
 * Reads the partition table of a disk. KSTATUS_SUCCESS with Scheme NONE when
 * there is none (or it is unusable: see the warnings); an error only when
 * sector 0 cannot be read or the source is invalid.
 */
KSTATUS PartitionTableScan(const PARTITION_SOURCE* Source, PARTITION_TABLE* Table);
/** "Linux filesystem", "EFI System" ...; "Unknown" when the type is not in the table. */
LPCSTR PartitionTypeName(const PARTITION_ENTRY* Entry);
LPCSTR PartitionSchemeName(U32 Scheme);
/** The GUID in its usual text form (first three fields little endian on disk). */
void PartitionFormatGuid(const U8* Guid, LPSTR Buffer, SIZE Size);

/************************************************************************/
// Partition DISKs (Partition.c)

/** Scans every disk registered from now on (and those already there). */
void PartitionInit(void);
/** Scans one physical disk and registers its partitions; returns how many. Does nothing if it has some already. */
U32 PartitionScanDisk(DISK* Disk);
/** KSTATUS_NOT_FOUND when Disk is not a partition. */
KSTATUS PartitionGetInfo(DISK* Disk, PARTITION_INFO* Info);

#endif  // BLOCK_PARTITION_H_INCLUDED
