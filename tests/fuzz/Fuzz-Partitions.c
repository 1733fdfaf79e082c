/*
 * Fuzz-Partitions.c - libFuzzer target for the partition scanner.
 *
 * The input describes a sparse disk, so a few KiB can stand for a large
 * disk whose backup GPT sits at its far end:
 *   byte 0      bit 0: sector size 4096, else 512; bit 1: recompute the
 *               CRCs of the GPT headers at LBA 1 and the last LBA (and of
 *               the entry arrays they name), so mutations get past them
 *   bytes 1-4   disk size in sectors (little endian; 0: just the data)
 *   bytes 5-8   head length: that many data bytes sit at the start of the
 *               disk, the rest of the data at its end; everything between
 *               reads as zeros
 *   bytes 9-    data
 * tools/make-fuzz-corpus.sh writes real sgdisk/parted images in this form.
 *
 * Each input goes through PartitionTableScan (every entry must lie on the
 * disk, every read must stay on it) and then through the kernel path: a
 * DISK with a small cache, PartitionScanDisk registering the partitions, a
 * read of the first and last sector of each partition through them, and
 * unregistration. Any fault, sanitizer report, leak or broken invariant is
 * a crash.
 */
// SOURCES: block/PartitionTables.c block/Partition.c block/Disk.c block/Cache.c utils/CRC32.c utils/Format.c utils/String.c
// FUZZ_FLAGS: -max_len=65536 -timeout=10

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/Log.h"
#include "core/Sync.h"
#include "block/Disk.h"
#include "block/Partition.h"
#include "memory/Heap.h"
#include "utils/CRC32.h"
#include "block/Cache.h"

#define CHECK(Condition) \
    do {                 \
        if (!(Condition)) __builtin_trap(); \
    } while (0)

void KernelLog(LOG_LEVEL Level, LPCSTR Format, ...) {
    (void)Level;
    (void)Format;
}
LPVOID KernelHeapAlloc(SIZE Size) { return malloc(Size ? Size : 1); }
LPVOID KernelHeapAllocZero(SIZE Size) { return calloc(1, Size ? Size : 1); }
void KernelHeapFree(LPVOID Pointer) { free(Pointer); }
void MutexInit(MUTEX* Mutex) { memset(Mutex, 0, sizeof(*Mutex)); }
void MutexLock(MUTEX* Mutex) { (void)Mutex; }
void MutexUnlock(MUTEX* Mutex) { (void)Mutex; }

typedef struct {
    DISK Disk;
    U32 SectorSize;
    U64 Sectors;
    U8* Head;
    U64 HeadLength;
    U8* Tail;
    U64 TailLength;
} SPARSE;

static void SparseRead(const SPARSE* Disk, U64 Sector, U32 Count, U8* Buffer) {
    U64 DiskBytes = Disk->Sectors * Disk->SectorSize;
    U64 TailStart = DiskBytes - Disk->TailLength;
    U64 First = Sector * Disk->SectorSize;
    U64 End = First + (U64)Count * Disk->SectorSize;
    memset(Buffer, 0, (size_t)(End - First));
    if (First < Disk->HeadLength) {
        memcpy(Buffer, Disk->Head + First, (size_t)(MIN(End, Disk->HeadLength) - First));
    }
    if (End > TailStart && Disk->TailLength) {
        U64 From = MAX(First, TailStart);
        U64 Start = MAX(From, Disk->HeadLength);  // the head wins where both would land
        if (Start < End) memcpy(Buffer + (Start - First), Disk->Tail + (Start - TailStart), (size_t)(End - Start));
    }
}

static KSTATUS SourceRead(LPVOID Context, U64 Sector, U32 Count, LPVOID Buffer) {
    SPARSE* Disk = Context;
    CHECK(Count > 0 && Sector < Disk->Sectors && Count <= Disk->Sectors - Sector);
    SparseRead(Disk, Sector, Count, Buffer);
    return KSTATUS_SUCCESS;
}

static KSTATUS SparseCommand(DISK* Disk, U32 Function, LPVOID Parameter) {
    SPARSE* Sparse = (SPARSE*)Disk->DriverData;
    switch (Function) {
        case DF_DISK_READ: {
            DISK_IO* Io = Parameter;
            return SourceRead(Sparse, Io->Sector, Io->SectorCount, Io->Buffer);
        }
        case DF_DISK_GETINFO: {
            DISK_INFO* Info = Parameter;
            Info->Type = DISK_TYPE_RAM;
            Info->SectorSize = Sparse->SectorSize;
            Info->SectorCount = Sparse->Sectors;
            Info->MaxTransferSectors = 64;
            return KSTATUS_SUCCESS;
        }
        case DF_DISK_FLUSH:
        case DF_DISK_SETACCESS:
            return KSTATUS_SUCCESS;
        default:
            return KSTATUS_NOT_SUPPORTED;  // writes: the fuzzer only reads
    }
}

static const DISK_DRIVER SparseDriver = {"sparse", SparseCommand};

static U32 Read32(const U8* P) { return (U32)P[0] | ((U32)P[1] << 8) | ((U32)P[2] << 16) | ((U32)P[3] << 24); }
static U64 Read64(const U8* P) { return (U64)Read32(P) | ((U64)Read32(P + 4) << 32); }
static void Write32(U8* P, U32 V) {
    for (int I = 0; I < 4; I++) P[I] = (U8)(V >> (8 * I));
}

/** The bytes of a whole sector when it lies in the head or the tail (writable), else NULL. */
static U8* SectorBytes(SPARSE* Disk, U64 Sector) {
    U64 First = Sector * Disk->SectorSize;
    U64 TailStart = Disk->Sectors * Disk->SectorSize - Disk->TailLength;
    if (First + Disk->SectorSize <= Disk->HeadLength) return Disk->Head + First;
    if (First >= TailStart) return Disk->Tail + (First - TailStart);
    return NULL;
}

/** Makes the header at Lba self-consistent: array CRC from the array it names, then the header CRC. */
static void FixGptHeader(SPARSE* Disk, U64 Lba) {
    U8* Header = SectorBytes(Disk, Lba);
    if (Header == NULL || memcmp(Header, "EFI PART", 8) != 0) return;
    U64 EntryLba = Read64(Header + 72);
    U64 Bytes = (U64)Read32(Header + 80) * Read32(Header + 84);
    U64 Sectors = (Bytes + Disk->SectorSize - 1) / Disk->SectorSize;
    if (Bytes != 0 && Bytes <= N_1MB && EntryLba < Disk->Sectors && Sectors <= Disk->Sectors - EntryLba) {
        U8* Array = malloc((size_t)(Sectors * Disk->SectorSize));
        SparseRead(Disk, EntryLba, (U32)Sectors, Array);
        Write32(Header + 88, CRC32(Array, (SIZE)Bytes));
        free(Array);
    }
    U32 Size = Read32(Header + 12);
    if (Size < 92 || Size > Disk->SectorSize) Size = 92;
    Write32(Header + 16, 0);
    Write32(Header + 16, CRC32(Header, Size));
}

static void CheckTable(const PARTITION_TABLE* Table, const SPARSE* Disk) {
    CHECK(Table->Count <= PARTITION_MAX_ENTRIES);
    CHECK(Table->Scheme <= PARTITION_SCHEME_GPT);
    CHECK(Table->Scheme != PARTITION_SCHEME_NONE || Table->Count == 0);
    for (U32 I = 0; I < Table->Count; I++) {
        const PARTITION_ENTRY* E = &Table->Entries[I];
        CHECK(E->StartSector >= 1 && E->SectorCount >= 1);
        CHECK(E->StartSector < Disk->Sectors && E->SectorCount <= Disk->Sectors - E->StartSector);
        CHECK(memchr(E->Name, 0, sizeof(E->Name)) != NULL);
        CHECK(E->Number >= 1);
        if (E->Scheme == PARTITION_SCHEME_MBR) CHECK(E->Logical ? E->Number >= 5 : E->Number <= 4);
        if (I > 0 && E->Scheme == PARTITION_SCHEME_GPT) CHECK(E->Number > Table->Entries[I - 1].Number);
        PartitionTypeName(E);
    }
    for (U32 I = 0; I < Table->WarningCount && I < PARTITION_MAX_WARNINGS; I++) {
        CHECK(memchr(Table->Warnings[I], 0, PARTITION_WARNING_LENGTH) != NULL);
    }
}

static void KernelPath(SPARSE* Sparse) {
    memset(&Sparse->Disk, 0, sizeof(Sparse->Disk));
    strcpy(Sparse->Disk.Name, "fuzz0");
    Sparse->Disk.Driver = &SparseDriver;
    Sparse->Disk.DriverData = Sparse;
    DiskSetCacheBudget(64 * 1024);
    CHECK(DiskRegister(&Sparse->Disk) == KSTATUS_SUCCESS);
    U32 Count = PartitionScanDisk(&Sparse->Disk);
    DISK* Children[PARTITION_MAX_ENTRIES];
    U32 Found = 0;
    static U8 Sector[4096];
    for (DISK* Disk = GetDiskList(); Disk; Disk = Disk->Next) {
        if (Disk->Parent != &Sparse->Disk) continue;
        CHECK(Found < PARTITION_MAX_ENTRIES);
        Children[Found++] = Disk;
        PARTITION_INFO Info;
        CHECK(PartitionGetInfo(Disk, &Info) == KSTATUS_SUCCESS);
        CHECK(Info.StartSector + Info.SectorCount <= Sparse->Sectors);
        CHECK(DiskRead(Disk, 0, 1, Sector) == KSTATUS_SUCCESS);
        CHECK(DiskRead(Disk, Disk->SectorCount - 1, 1, Sector) == KSTATUS_SUCCESS);
        CHECK(DiskRead(Disk, Disk->SectorCount, 1, Sector) == KSTATUS_BAD_PARAMETER);
    }
    CHECK(Found == Count);
    DiskUnregister(&Sparse->Disk);
    CHECK(GetDiskList() == NULL);
    for (U32 I = 0; I < Found; I++) KernelHeapFree(Children[I]);  // a PARTITION starts with its DISK
    CacheDestroy(Sparse->Disk.Cache);
}

int LLVMFuzzerTestOneInput(const uint8_t* Data, size_t Size) {
    if (Size < 9) return 0;
    SPARSE Sparse;
    memset(&Sparse, 0, sizeof(Sparse));
    Sparse.SectorSize = (Data[0] & 1) ? 4096 : 512;
    U64 Payload = Size - 9;
    U64 DataSectors = (Payload + Sparse.SectorSize - 1) / Sparse.SectorSize;
    Sparse.Sectors = Read32(Data + 1);
    if (Sparse.Sectors == 0) Sparse.Sectors = DataSectors ? DataSectors : 1;
    U64 DiskBytes = Sparse.Sectors * Sparse.SectorSize;
    U8* Copy = malloc(Payload ? Payload : 1);  // writable, for the CRC fixes
    memcpy(Copy, Data + 9, Payload);
    Sparse.Head = Copy;
    Sparse.HeadLength = MIN((U64)Read32(Data + 5), Payload);
    Sparse.HeadLength = MIN(Sparse.HeadLength, DiskBytes);
    Sparse.Tail = Copy + Sparse.HeadLength;
    Sparse.TailLength = MIN(Payload - Sparse.HeadLength, DiskBytes - Sparse.HeadLength);
    if ((Data[0] & 2) && Sparse.Sectors > 2) {
        FixGptHeader(&Sparse, 1);
        FixGptHeader(&Sparse, Sparse.Sectors - 1);
    }

    PARTITION_TABLE* Table = malloc(sizeof(PARTITION_TABLE));
    PARTITION_SOURCE Source = {Sparse.SectorSize, Sparse.Sectors, SourceRead, &Sparse};
    CHECK(PartitionTableScan(&Source, Table) == KSTATUS_SUCCESS);
    CheckTable(Table, &Sparse);
    free(Table);

    KernelPath(&Sparse);
    free(Copy);
    return 0;
}
