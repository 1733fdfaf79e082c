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
// SOURCES: $(BLOCK_SOURCES)
// FUZZ_FLAGS: -max_len=65536 -timeout=10

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "HostDisk.h"
#include "HostKernel.h"
#include "block/Disk.h"
#include "block/Partition.h"
#include "memory/Heap.h"
#include "utils/CRC32.h"
#include "utils/Endian.h"
#include "block/Cache.h"

#define CHECK(Condition) \
    do {                 \
        if (!(Condition)) __builtin_trap(); \
    } while (0)

/** The host kernel's log stays quiet: hostile tables make the scanner warn on every input. */
int LLVMFuzzerInitialize(int* ArgumentCount, char*** Arguments) {
    (void)ArgumentCount;
    (void)Arguments;
    HostLogSetEchoLevel(HOST_LOG_QUIET);
    return 0;
}

typedef struct {
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

/** The host kernel's disk, extended: reads come from the sparse store; writes are refused (it only reads). */
static BOOL SparseHook(HOST_DISK* Host, U32 Function, LPVOID Parameter, KSTATUS* Status) {
    DISK_IO* Io = (DISK_IO*)Parameter;
    if (Function == DF_DISK_READ) {
        *Status = SourceRead(Host->HookContext, Io->Sector, Io->SectorCount, Io->Buffer);
        return TRUE;
    }
    if (Function == DF_DISK_WRITE || Function == DF_DISK_TRIM) {
        *Status = KSTATUS_NOT_SUPPORTED;
        return TRUE;
    }
    return FALSE;
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
    U64 EntryLba = ReadLE64(Header + 72);
    U64 Bytes = (U64)ReadLE32(Header + 80) * ReadLE32(Header + 84);
    U64 Sectors = (Bytes + Disk->SectorSize - 1) / Disk->SectorSize;
    if (Bytes != 0 && Bytes <= N_1MB && EntryLba < Disk->Sectors && Sectors <= Disk->Sectors - EntryLba) {
        U8* Array = malloc((size_t)(Sectors * Disk->SectorSize));
        SparseRead(Disk, EntryLba, (U32)Sectors, Array);
        WriteLE32(Header + 88, CRC32(Array, (SIZE)Bytes));
        free(Array);
    }
    U32 Size = ReadLE32(Header + 12);
    if (Size < 92 || Size > Disk->SectorSize) Size = 92;
    WriteLE32(Header + 16, 0);
    WriteLE32(Header + 16, CRC32(Header, Size));
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
    HOST_DISK* Host = HostDiskCreateHooked("fuzz0", Sparse->SectorSize, Sparse->Sectors, SparseHook, Sparse);
    Host->MaxTransfer = 64;
    DiskSetCacheBudget(64 * 1024);
    CHECK(DiskRegister(&Host->Disk) == KSTATUS_SUCCESS);
    U32 Count = PartitionScanDisk(&Host->Disk);
    DISK* Children[PARTITION_MAX_ENTRIES];
    U32 Found = 0;
    static U8 Sector[4096];
    for (DISK* Disk = GetDiskList(); Disk; Disk = Disk->Next) {
        if (Disk->Parent != &Host->Disk) continue;
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
    DiskUnregister(&Host->Disk);
    CHECK(GetDiskList() == NULL);
    for (U32 I = 0; I < Found; I++) KernelHeapFree(Children[I]);  // a PARTITION starts with its DISK
    CacheDestroy(Host->Disk.Cache);
    HostDiskDestroy(Host);
}

int LLVMFuzzerTestOneInput(const uint8_t* Data, size_t Size) {
    if (Size < 9) return 0;
    SPARSE Sparse;
    memset(&Sparse, 0, sizeof(Sparse));
    Sparse.SectorSize = (Data[0] & 1) ? 4096 : 512;
    U64 Payload = Size - 9;
    U64 DataSectors = (Payload + Sparse.SectorSize - 1) / Sparse.SectorSize;
    Sparse.Sectors = ReadLE32(Data + 1);
    if (Sparse.Sectors == 0) Sparse.Sectors = DataSectors ? DataSectors : 1;
    U64 DiskBytes = Sparse.Sectors * Sparse.SectorSize;
    U8* Copy = malloc(Payload ? Payload : 1);  // writable, for the CRC fixes
    memcpy(Copy, Data + 9, Payload);
    Sparse.Head = Copy;
    Sparse.HeadLength = MIN((U64)ReadLE32(Data + 5), Payload);
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
