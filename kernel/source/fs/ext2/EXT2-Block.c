/*
 * EXT2-Block.c - EXT2 disk I/O: bytes and blocks on the DISK, and the
 * metadata block cache.
 *
 * Blocks (1-4 KiB) and sectors (512 B-4 KiB) need not nest either way: a
 * 1 KiB block on a 4 KiB-sector disk is part of a sector, so byte ranges
 * that do not cover whole sectors are read-modify-written through a one-
 * sector bounce buffer. Every transfer is bounds-checked against the disk
 * here, whatever the caller computed, so no value read from the volume can
 * make the driver touch a sector outside it.
 *
 * The cache holds EXT2_BUFFER_COUNT metadata blocks (bitmaps, inode table,
 * indirect and directory blocks). A caller pins a block with EXT2BufferGet
 * and unpins it with EXT2BufferRelease; pinned blocks are never evicted.
 * Changes stay in the cache until EXT2BuffersFlush (EXT2End calls it at the
 * end of each operation) or until a dirty block is evicted. File data never
 * goes through the cache; a freed block is forgotten (EXT2BufferForget) so a
 * stale copy can never be written over the block's next owner.
 */

#include "fs/ext2/EXT2-Internal.h"

#include "core/Log.h"
#include "memory/Heap.h"
#include "utils/String.h"

static VFS_STATUS EXT2DiskStatus(KSTATUS Status, BOOL Write) {
    if (Status == KSTATUS_SUCCESS) return VFS_OK;
    if (Status == KSTATUS_NO_PERMISSION && Write) return VFS_ERROR_READ_ONLY;
    if (Status == KSTATUS_NO_MEMORY) return VFS_ERROR_NO_MEMORY;
    return VFS_ERROR_IO;
}

/** Whole sectors, split to the driver's largest request. */
static VFS_STATUS EXT2TransferSectors(EXT2_VOLUME* Volume, U64 Sector, U64 Count, U8* Buffer, BOOL Write) {
    while (Count > 0) {
        U32 Chunk = (U32)MIN(Count, (U64)Volume->MaxTransferSectors);
        KSTATUS Status = Write ? DiskWrite(Volume->Disk, Sector, Chunk, Buffer)
                               : DiskRead(Volume->Disk, Sector, Chunk, Buffer);
        if (Status != KSTATUS_SUCCESS) {
            LOG_RATE_LIMITED(LOG_LEVEL_WARNING, 1000, 4, "[EXT2TransferSectors] %s: %s of %u sectors at %llu: %s",
                             Volume->Disk->Name, Write ? "write" : "read", Chunk, Sector, DiskStatusName(Status));
            return EXT2DiskStatus(Status, Write);
        }
        Sector += Chunk;
        Count -= Chunk;
        Buffer += (U64)Chunk * Volume->SectorSize;
    }
    return VFS_OK;
}

static VFS_STATUS EXT2TransferBytes(EXT2_VOLUME* Volume, U64 Offset, U64 Length, U8* Buffer, BOOL Write) {
    if (Length == 0) return VFS_OK;
    if (Offset > Volume->DiskBytes || Length > Volume->DiskBytes - Offset) {
        ERROR("[EXT2TransferBytes] %s: bytes %llu+%llu are outside the disk", Volume->Disk->Name, Offset, Length);
        return VFS_ERROR_IO;
    }
    U32 SectorSize = Volume->SectorSize;
    U64 Sector = Offset / SectorSize;
    U32 Head = (U32)(Offset % SectorSize);
    VFS_STATUS Status;

    if (Head != 0 || Length < SectorSize) {
        U32 Take = (U32)MIN((U64)(SectorSize - Head), Length);
        Status = EXT2TransferSectors(Volume, Sector, 1, Volume->SectorBounce, FALSE);
        if (Status != VFS_OK) return Status;
        if (Write) {
            MemoryCopy(Volume->SectorBounce + Head, Buffer, Take);
            Status = EXT2TransferSectors(Volume, Sector, 1, Volume->SectorBounce, TRUE);
            if (Status != VFS_OK) return Status;
        } else {
            MemoryCopy(Buffer, Volume->SectorBounce + Head, Take);
        }
        Buffer += Take;
        Length -= Take;
        Sector++;
    }
    U64 Whole = Length / SectorSize;
    if (Whole > 0) {
        Status = EXT2TransferSectors(Volume, Sector, Whole, Buffer, Write);
        if (Status != VFS_OK) return Status;
        Buffer += Whole * SectorSize;
        Length -= Whole * SectorSize;
        Sector += Whole;
    }
    if (Length > 0) {
        Status = EXT2TransferSectors(Volume, Sector, 1, Volume->SectorBounce, FALSE);
        if (Status != VFS_OK) return Status;
        if (Write) {
            MemoryCopy(Volume->SectorBounce, Buffer, Length);
            Status = EXT2TransferSectors(Volume, Sector, 1, Volume->SectorBounce, TRUE);
            if (Status != VFS_OK) return Status;
        } else {
            MemoryCopy(Buffer, Volume->SectorBounce, Length);
        }
    }
    return VFS_OK;
}

VFS_STATUS EXT2ReadBytes(EXT2_VOLUME* Volume, U64 Offset, U64 Length, LPVOID Buffer) {
    return EXT2TransferBytes(Volume, Offset, Length, (U8*)Buffer, FALSE);
}

VFS_STATUS EXT2WriteBytes(EXT2_VOLUME* Volume, U64 Offset, U64 Length, LPCVOID Buffer) {
    return EXT2TransferBytes(Volume, Offset, Length, (U8*)Buffer, TRUE);
}

static BOOL EXT2BlockRangeValid(EXT2_VOLUME* Volume, U32 Block, U32 Count) {
    return Count > 0 && Block < Volume->BlocksCount && Count <= Volume->BlocksCount - Block;
}

VFS_STATUS EXT2ReadBlocks(EXT2_VOLUME* Volume, U32 Block, U32 Count, LPVOID Buffer) {
    if (!EXT2BlockRangeValid(Volume, Block, Count)) return EXT2Corrupt(Volume, "read of blocks %u+%u", Block, Count);
    return EXT2ReadBytes(Volume, (U64)Block << Volume->BlockShift, (U64)Count << Volume->BlockShift, Buffer);
}

VFS_STATUS EXT2WriteBlocks(EXT2_VOLUME* Volume, U32 Block, U32 Count, LPCVOID Buffer) {
    if (!EXT2BlockRangeValid(Volume, Block, Count)) return EXT2Corrupt(Volume, "write of blocks %u+%u", Block, Count);
    return EXT2WriteBytes(Volume, (U64)Block << Volume->BlockShift, (U64)Count << Volume->BlockShift, Buffer);
}

/************************************************************************/
// The metadata cache

VFS_STATUS EXT2BuffersCreate(EXT2_VOLUME* Volume) {
    U8* Memory = (U8*)KernelHeapAlloc((SIZE)Volume->BlockSize * EXT2_BUFFER_COUNT);
    if (Memory == NULL) return VFS_ERROR_NO_MEMORY;
    for (U32 I = 0; I < EXT2_BUFFER_COUNT; I++) {
        MemorySet(&Volume->Buffers[I], 0, sizeof(EXT2_BUFFER));
        Volume->Buffers[I].Data = Memory + (SIZE)I * Volume->BlockSize;
    }
    Volume->BufferClock = 0;
    return VFS_OK;
}

void EXT2BuffersDestroy(EXT2_VOLUME* Volume) {
    if (Volume->Buffers[0].Data) KernelHeapFree(Volume->Buffers[0].Data);
    for (U32 I = 0; I < EXT2_BUFFER_COUNT; I++) Volume->Buffers[I].Data = NULL;
}

static VFS_STATUS EXT2BufferWrite(EXT2_VOLUME* Volume, EXT2_BUFFER* Buffer) {
    VFS_STATUS Status = EXT2WriteBlocks(Volume, Buffer->Block, 1, Buffer->Data);
    if (Status == VFS_OK) Buffer->Dirty = FALSE;
    return Status;
}

VFS_STATUS EXT2BufferGet(EXT2_VOLUME* Volume, U32 Block, BOOL Read, EXT2_BUFFER** Result) {
    *Result = NULL;
    if (!EXT2BlockRangeValid(Volume, Block, 1)) return EXT2Corrupt(Volume, "block %u is outside the volume", Block);

    EXT2_BUFFER* Victim = NULL;
    for (U32 I = 0; I < EXT2_BUFFER_COUNT; I++) {
        EXT2_BUFFER* Buffer = &Volume->Buffers[I];
        if (Buffer->Valid && Buffer->Block == Block) {
            Buffer->Pins++;
            Buffer->LastUse = ++Volume->BufferClock;
            if (!Read) {
                MemorySet(Buffer->Data, 0, Volume->BlockSize);
                Buffer->Dirty = TRUE;
            }
            *Result = Buffer;
            return VFS_OK;
        }
        if (Buffer->Pins != 0) continue;
        if (Victim == NULL || (!Buffer->Valid && Victim->Valid) ||
            (Buffer->Valid == Victim->Valid && Buffer->LastUse < Victim->LastUse)) {
            Victim = Buffer;
        }
    }
    if (Victim == NULL) {
        ERROR("[EXT2BufferGet] %s: every cache buffer is pinned", Volume->Disk->Name);
        return VFS_ERROR_IO;
    }
    if (Victim->Valid && Victim->Dirty) {
        VFS_STATUS Status = EXT2BufferWrite(Volume, Victim);
        if (Status != VFS_OK) return Status;
    }
    Victim->Valid = FALSE;
    Victim->Dirty = FALSE;
    Victim->Block = Block;
    if (Read) {
        VFS_STATUS Status = EXT2ReadBlocks(Volume, Block, 1, Victim->Data);
        if (Status != VFS_OK) return Status;
    } else {
        MemorySet(Victim->Data, 0, Volume->BlockSize);
        Victim->Dirty = TRUE;
    }
    Victim->Valid = TRUE;
    Victim->Pins = 1;
    Victim->LastUse = ++Volume->BufferClock;
    *Result = Victim;
    return VFS_OK;
}

void EXT2BufferDirty(EXT2_BUFFER* Buffer) {
    if (Buffer) Buffer->Dirty = TRUE;
}

void EXT2BufferRelease(EXT2_BUFFER* Buffer) {
    if (Buffer && Buffer->Pins > 0) Buffer->Pins--;
}

void EXT2BufferForget(EXT2_VOLUME* Volume, U32 Block) {
    for (U32 I = 0; I < EXT2_BUFFER_COUNT; I++) {
        EXT2_BUFFER* Buffer = &Volume->Buffers[I];
        if (Buffer->Valid && Buffer->Block == Block) {
            Buffer->Valid = FALSE;
            Buffer->Dirty = FALSE;
        }
    }
}

VFS_STATUS EXT2BuffersFlush(EXT2_VOLUME* Volume) {
    VFS_STATUS Result = VFS_OK;
    for (U32 I = 0; I < EXT2_BUFFER_COUNT; I++) {
        EXT2_BUFFER* Buffer = &Volume->Buffers[I];
        if (!Buffer->Valid || !Buffer->Dirty) continue;
        VFS_STATUS Status = EXT2BufferWrite(Volume, Buffer);
        if (Status != VFS_OK && Result == VFS_OK) Result = Status;
    }
    return Result;
}

void EXT2DiscardCancel(EXT2_VOLUME* Volume) {
    Volume->DiscardSkipped += Volume->DiscardRuns;
    Volume->DiscardRuns = 0;
}

void EXT2DiscardFlush(EXT2_VOLUME* Volume) {
    for (U32 Run = 0; Run < Volume->DiscardRuns && Volume->Discard; Run++) {
        if (Volume->DiscardCount[Run] == 0) continue;
        // Only whole sectors inside the run (blocks may be smaller than a 4096-byte sector).
        U64 First = (U64)Volume->DiscardStart[Run] * Volume->BlockSize;
        U64 End = First + (U64)Volume->DiscardCount[Run] * Volume->BlockSize;
        U64 FirstSector = (First + Volume->SectorSize - 1) / Volume->SectorSize;
        U64 EndSector = End / Volume->SectorSize;
        if (EndSector <= FirstSector) continue;
        DISK_IO Io;
        Io.Sector = FirstSector;
        Io.SectorCount = (U32)MIN(EndSector - FirstSector, (U64)MAX_U32);
        Io.Buffer = NULL;
        KSTATUS Status = DiskCommand(Volume->Disk, DF_DISK_TRIM, &Io);
        if (Status == KSTATUS_SUCCESS) {
            Volume->DiscardedBlocks += Volume->DiscardCount[Run];
            Volume->DiscardRequests++;
        } else if (Status == KSTATUS_NOT_SUPPORTED) {
            Volume->Discard = FALSE;  // the disk cannot: stop asking
        } else {
            LOG_RATE_LIMITED(LOG_LEVEL_WARNING, 10000, 1, "[EXT2DiscardFlush] %s: TRIM of %u blocks at %u failed (%d)",
                             Volume->Disk->Name, Volume->DiscardCount[Run], Volume->DiscardStart[Run], Status);
        }
    }
    Volume->DiscardRuns = 0;
}
