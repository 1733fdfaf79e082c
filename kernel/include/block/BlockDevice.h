/*
 * BlockDevice.h - a DISK seen as an array of file-system blocks pinned in the
 * block cache (block/Cache.h): what xv6's bread/bwrite/brelse are to its
 * file system.
 *
 * A file system opens one BLOCK_DEVICE per mounted volume with its block
 * size, then for each metadata block: BlockGet (pinned, read if needed, or
 * zeroed for a new block), changes in place, BlockDirty, BlockRelease. A
 * block it frees is forgotten (BlockForget). File data does not go through
 * here: it goes to the DISK (DiskReadBytes/DiskWriteBytes), which reaches
 * the same disk cache when there is one.
 *
 * Which cache, decided once at BlockDeviceOpen:
 *  - shared: the physical disk's cache, when the disk has one and the
 *    volume starts on a cache-block boundary (so every file-system block
 *    lies inside one cache block; partitioning tools have aligned to 1 MiB
 *    for years). A block is its bytes inside the cache block: raw disk,
 *    partition, file data and metadata see one copy of every sector. Dirty
 *    blocks are written back by the disk's cache (sync, unmount, shutdown,
 *    eviction); BlockDeviceSync has nothing to do.
 *  - private: otherwise (a disk without a cache: DISK_FLAG_NO_CACHE or the
 *    budget 0; a partition starting off a boundary, like the sector-63
 *    starts of old MBR tools). The device makes a small cache of its own
 *    (BLOCK_PRIVATE_CACHE_BYTES) whose sectors and blocks are the
 *    file-system blocks, read one at a time (no read-ahead: the disk's
 *    cache, if any, reads ahead), in front of the DISK through
 *    DiskReadBytes/DiskWriteBytes (so the DISK's checks and its own path
 *    apply). Dirty blocks reach the disk at
 *    BlockDeviceSync, which the file system calls at the end of every
 *    operation (EXT2End), and at BlockDeviceClose.
 * Forgetting a freed block matters in the private cache: file data is
 * written to the DISK around it, so a stale copy must never be written back
 * over the block's next owner (its unit is the block, so the whole block is
 * dropped). In the shared cache it only saves a write-back (the sectors
 * that lie wholly inside the block are dropped).
 *
 * Access: BlockGet refuses with KSTATUS_NO_PERMISSION what the access modes
 * of the disk and the disks below it forbid (DiskAccessAllows): every pin of
 * a disabled disk, a new block on a read-only one. A caller that changes a
 * block it read checks first that it may write (EXT2Begin does).
 *
 * Locking: none of its own. A BLOCK_DEVICE belongs to one volume, whose lock
 * serialises its calls; the cache locks itself. The structure must not move
 * while open (its private cache points back to it).
 */

#ifndef BLOCK_BLOCK_DEVICE_H_INCLUDED
#define BLOCK_BLOCK_DEVICE_H_INCLUDED

#include "Base.h"
#include "block/Cache.h"
#include "block/Disk.h"

#define BLOCK_PRIVATE_CACHE_BYTES (128 * N_1KB)

typedef struct tag_BLOCK_DEVICE {
    DISK* Disk;
    U32 BlockSize;            // a power of two from 512 to 65536
    U32 BlockShift;
    U64 BlockCount;           // whole blocks on the disk
    CACHE* Cache;             // the physical disk's (shared) or the device's own (Private)
    U64 CacheOffset;          // byte of the cache's disk where block 0 starts (0 when private)
    BOOL Private;
} BLOCK_DEVICE;

/** A pinned block: Data is BlockSize bytes, valid until BlockRelease. */
typedef struct tag_BLOCK_BUFFER {
    U64 Block;
    U8* Data;
    BLOCK_DEVICE* Device;
    CACHE_BLOCK* Cached;      // the cache block holding it
    U64 Sector;               // and its sectors there
    U32 SectorCount;
} BLOCK_BUFFER;

/** Picks the cache (see above); KSTATUS_NO_MEMORY when a private one cannot be made. */
KSTATUS BlockDeviceOpen(BLOCK_DEVICE* Device, DISK* Disk, U32 BlockSize);
/** Writes back the private cache (the first error is returned) and frees it. Nothing may be pinned. */
KSTATUS BlockDeviceClose(BLOCK_DEVICE* Device);
/** Private cache: writes its dirty blocks to the disk. Shared: nothing (the disk's cache owns the write-back). */
KSTATUS BlockDeviceSync(BLOCK_DEVICE* Device);

/**
 * Pins Block in *Buffer. Read: its bytes as on the disk (read if not
 * cached). Otherwise a new block: zeroed and dirty, without a read (but for
 * a block smaller than a sector, whose sector is read first).
 */
KSTATUS BlockGet(BLOCK_DEVICE* Device, U64 Block, BOOL Read, BLOCK_BUFFER* Buffer);
/** The pinned block's Data changed. */
void BlockDirty(BLOCK_BUFFER* Buffer);
/** Unpins; the buffer is empty afterwards (releasing an empty buffer does nothing). */
void BlockRelease(BLOCK_BUFFER* Buffer);
/** The block was freed: drops its cached copy, dirty or not (see above for the shared cache). */
void BlockForget(BLOCK_DEVICE* Device, U64 Block);

#endif  // BLOCK_BLOCK_DEVICE_H_INCLUDED
