/*
 * EXT2-Block.c - the driver's way to the disk.
 *
 * Metadata blocks (bitmaps, inode tables, indirect, extent, directory and
 * attribute blocks) are pinned in the block cache through the volume's
 * BLOCK_DEVICE (block/BlockDevice.h: the disk's own cache when the volume
 * is aligned on it, else a small private one synced by EXT2End). File data,
 * the superblock and the group descriptors are bytes on the DISK
 * (DiskReadBytes/DiskWriteBytes: one request for whole sectors, the
 * kernel's one read-modify-write for a sector a 1 or 2 KiB block shares
 * with others), so the disk's cache and its request splitting apply to
 * them; a run of file blocks is one request of at most TransferBlocks (the
 * disk's own limit, found at mount).
 *
 * When a journal was replayed, every read passes its overlay
 * (EXT2-Overlay.c): a block the journal holds is served from there, so the
 * volume shows its last committed state while the disk stays untouched.
 *
 * Every transfer and pin is bounds-checked against the volume here, whatever
 * the caller computed, so no value read from the volume can make the driver
 * touch a sector outside it. Disk statuses become VFS ones through the VFS's
 * one mapping (VFSDiskStatus); failures are logged, rate-limited.
 */

#include "fs/ext2/EXT2-Internal.h"

#include "core/Log.h"
#include "utils/String.h"

/** A disk status as a VFS one; an error is logged (a few a second at most). */
static VFS_STATUS EXT2DiskResult(EXT2_VOLUME* Volume, KSTATUS Status, BOOL Write, LPCSTR What, U64 Where) {
    if (Status == KSTATUS_SUCCESS) return VFS_OK;
    LOG_RATE_LIMITED(LOG_LEVEL_WARNING, 1000, 4, "[EXT2] %s: %s of %s %llu failed: %s", Volume->Disk->Name,
                     Write ? "write" : "read", What, Where, DiskStatusName(Status));
    return VFSDiskStatus(Status, Write);
}

static VFS_STATUS EXT2TransferBytes(EXT2_VOLUME* Volume, U64 Offset, U32 Length, U8* Buffer, BOOL Write) {
    if (Length == 0) return VFS_OK;
    if (Offset > Volume->DiskBytes || Length > Volume->DiskBytes - Offset) {
        ERROR("[EXT2TransferBytes] %s: bytes %llu+%u are outside the disk", Volume->Disk->Name, Offset, Length);
        return VFS_ERROR_IO;
    }
    KSTATUS Status = Write ? DiskWriteBytes(Volume->Disk, Offset, Length, Buffer)
                           : DiskReadBytes(Volume->Disk, Offset, Length, Buffer);
    return EXT2DiskResult(Volume, Status, Write, "byte", Offset);
}

VFS_STATUS EXT2ReadDiskBytes(EXT2_VOLUME* Volume, U64 Offset, U32 Length, LPVOID Buffer) {
    return EXT2TransferBytes(Volume, Offset, Length, (U8*)Buffer, FALSE);
}

VFS_STATUS EXT2ReadBytes(EXT2_VOLUME* Volume, U64 Offset, U32 Length, LPVOID Buffer) {
    VFS_STATUS Status = EXT2TransferBytes(Volume, Offset, Length, (U8*)Buffer, FALSE);
    if (Status == VFS_OK && Volume->Overlay != NULL) Status = EXT2OverlayPatch(Volume, Offset, Length, (U8*)Buffer);
    return Status;
}

VFS_STATUS EXT2WriteBytes(EXT2_VOLUME* Volume, U64 Offset, U32 Length, LPCVOID Buffer) {
    return EXT2TransferBytes(Volume, Offset, Length, (U8*)Buffer, TRUE);
}

static BOOL EXT2BlockRangeValid(EXT2_VOLUME* Volume, U64 Block, U32 Count) {
    return Count > 0 && Count <= Volume->TransferBlocks && Block < Volume->BlocksCount &&
           Count <= Volume->BlocksCount - Block;
}

VFS_STATUS EXT2ReadBlocks(EXT2_VOLUME* Volume, U64 Block, U32 Count, LPVOID Buffer) {
    if (!EXT2BlockRangeValid(Volume, Block, Count)) return EXT2Corrupt(Volume, "read of blocks %llu+%u", Block, Count);
    Volume->Counters.DataRequests++;
    return EXT2ReadBytes(Volume, Block << Volume->BlockShift, Count << Volume->BlockShift, Buffer);
}

VFS_STATUS EXT2WriteBlocks(EXT2_VOLUME* Volume, U64 Block, U32 Count, LPCVOID Buffer) {
    if (!EXT2BlockRangeValid(Volume, Block, Count)) {
        return EXT2Corrupt(Volume, "write of blocks %llu+%u", Block, Count);
    }
    Volume->Counters.DataRequests++;
    return EXT2WriteBytes(Volume, Block << Volume->BlockShift, Count << Volume->BlockShift, Buffer);
}

VFS_STATUS EXT2BufferGet(EXT2_VOLUME* Volume, U64 Block, BOOL Read, BLOCK_BUFFER* Buffer) {
    MemorySet(Buffer, 0, sizeof(*Buffer));
    if (!EXT2BlockRangeValid(Volume, Block, 1)) return EXT2Corrupt(Volume, "block %llu is outside the volume", Block);
    if (Read && Volume->Overlay != NULL) {
        BOOL Held;
        VFS_STATUS Status = EXT2OverlayPin(Volume, Block, Buffer, &Held);
        if (Status != VFS_OK || Held) return Status;
    }
    return EXT2DiskResult(Volume, BlockGet(&Volume->Blocks, Block, Read, Buffer), !Read, "block", Block);
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
        DISK_IO Io = {0};
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
