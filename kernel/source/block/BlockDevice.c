/*
 * BlockDevice.c - file-system blocks pinned in the block cache (see
 * BlockDevice.h for the shared and private cases).
 *
 * One mapping serves both: block B is the bytes at CacheOffset + B *
 * BlockSize of the cache's disk, in the cache's sectors. In the shared cache
 * those are disk sectors (a 4 KiB block is 8 of 512 bytes; a 1 KiB block is
 * part of a 4096-byte sector, which is then pinned whole); in a private
 * cache a sector is one block. Open guarantees that a block never spans two
 * cache blocks, so one pin holds all of it.
 */

#include "block/BlockDevice.h"

#include "utils/String.h"

/************************************************************************/
// The private cache's way to the disk

static KSTATUS BlockDeviceTransfer(BLOCK_DEVICE* Device, U64 Block, U32 Count, U8* Buffer, BOOL Write) {
    U64 Bytes = (U64)Count << Device->BlockShift;
    if (Bytes > MAX_U32) return KSTATUS_BAD_PARAMETER;
    U64 Offset = Block << Device->BlockShift;
    return Write ? DiskWriteBytes(Device->Disk, Offset, (U32)Bytes, Buffer)
                 : DiskReadBytes(Device->Disk, Offset, (U32)Bytes, Buffer);
}

static KSTATUS BlockDeviceRead(LPVOID Context, U64 Block, U32 Count, LPVOID Buffer) {
    return BlockDeviceTransfer((BLOCK_DEVICE*)Context, Block, Count, (U8*)Buffer, FALSE);
}

static KSTATUS BlockDeviceWrite(LPVOID Context, U64 Block, U32 Count, LPCVOID Buffer) {
    return BlockDeviceTransfer((BLOCK_DEVICE*)Context, Block, Count, (U8*)Buffer, TRUE);
}

/************************************************************************/
// Opening

KSTATUS BlockDeviceOpen(BLOCK_DEVICE* Device, DISK* Disk, U32 BlockSize) {
    MemorySet(Device, 0, sizeof(*Device));
    if (Disk == NULL || Disk->TypeID != KOID_DISK || BlockSize < 512 || BlockSize > 65536 ||
        !IS_POWER_OF_TWO(BlockSize)) {
        return KSTATUS_BAD_PARAMETER;
    }
    Device->Disk = Disk;
    Device->BlockSize = BlockSize;
    while ((1U << Device->BlockShift) < BlockSize) Device->BlockShift++;
    Device->BlockCount = (Disk->SectorCount * Disk->SectorSize) >> Device->BlockShift;
    if (Device->BlockCount == 0) return KSTATUS_BAD_PARAMETER;

    U64 First;
    CACHE* Shared = DiskGetCache(Disk, &First);
    if (Shared != NULL && BlockSize <= Shared->BlockSize && (First * Shared->SectorSize) % Shared->BlockSize == 0) {
        Device->Cache = Shared;
        Device->CacheOffset = First * Shared->SectorSize;
        return KSTATUS_SUCCESS;
    }
    // Like a file system's own pool: blocks of one file-system block, read one at a time (the disk below,
    // if it has a cache, reads ahead itself).
    CACHE_BACKEND Backend = {BlockDeviceRead, BlockDeviceWrite, NULL, Device, NULL, NULL};
    U64 Budget = MAX((U64)BLOCK_PRIVATE_CACHE_BYTES, (U64)CACHE_MIN_CAPACITY * BlockSize);
    Device->Cache = CacheCreate(BlockSize, Device->BlockCount, BlockSize, Budget, &Backend);
    if (Device->Cache == NULL) return KSTATUS_NO_MEMORY;
    CacheSetReadAhead(Device->Cache, 0);
    Device->Private = TRUE;
    return KSTATUS_SUCCESS;
}

KSTATUS BlockDeviceSync(BLOCK_DEVICE* Device) {
    if (Device->Cache == NULL || !Device->Private) return KSTATUS_SUCCESS;
    return CacheFlush(Device->Cache, NULL);
}

KSTATUS BlockDeviceClose(BLOCK_DEVICE* Device) {
    KSTATUS Status = BlockDeviceSync(Device);
    if (Device->Private && Device->Cache) CacheDestroy(Device->Cache);
    Device->Cache = NULL;
    Device->Private = FALSE;
    return Status;
}

/************************************************************************/
// Blocks

KSTATUS BlockGet(BLOCK_DEVICE* Device, U64 Block, BOOL Read, BLOCK_BUFFER* Buffer) {
    MemorySet(Buffer, 0, sizeof(*Buffer));
    if (Device->Cache == NULL || Block >= Device->BlockCount) return KSTATUS_BAD_PARAMETER;
    if (!DiskAccessAllows(Device->Disk, !Read)) return KSTATUS_NO_PERMISSION;
    CACHE* Cache = Device->Cache;
    U64 Byte = Device->CacheOffset + (Block << Device->BlockShift);
    // A block smaller than a sector shares it with others: a new one still needs its sector read.
    BOOL WholeSectors = Device->BlockSize >= Cache->SectorSize;
    U64 Sector = Byte / Cache->SectorSize;
    U32 Count = WholeSectors ? Device->BlockSize / Cache->SectorSize : 1;
    CACHE_BLOCK* Cached;
    KSTATUS Status = CachePin(Cache, Sector, Count, Read || !WholeSectors, &Cached);
    if (Status != KSTATUS_SUCCESS) return Status;
    Buffer->Block = Block;
    Buffer->Data = Cached->Data + (Byte % Cache->BlockSize);
    Buffer->Device = Device;
    Buffer->Cached = Cached;
    Buffer->Sector = Sector;
    Buffer->SectorCount = Count;
    if (!Read && !WholeSectors) {
        MemorySet(Buffer->Data, 0, Device->BlockSize);
        BlockDirty(Buffer);
    }
    return KSTATUS_SUCCESS;
}

void BlockDirty(BLOCK_BUFFER* Buffer) {
    if (Buffer->Cached) CacheMarkDirty(Buffer->Device->Cache, Buffer->Cached, Buffer->Sector, Buffer->SectorCount);
}

void BlockRelease(BLOCK_BUFFER* Buffer) {
    if (Buffer->Cached) CacheUnpin(Buffer->Device->Cache, Buffer->Cached);
    MemorySet(Buffer, 0, sizeof(*Buffer));
}

void BlockForget(BLOCK_DEVICE* Device, U64 Block) {
    if (Device->Cache == NULL || Block >= Device->BlockCount) return;
    U32 SectorSize = Device->Cache->SectorSize;
    U64 Byte = Device->CacheOffset + (Block << Device->BlockShift);
    U64 First = (Byte + SectorSize - 1) / SectorSize;
    U64 End = (Byte + Device->BlockSize) / SectorSize;
    if (End > First) CacheInvalidate(Device->Cache, First, End - First);
}
