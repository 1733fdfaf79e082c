/*
 * Cache.h - the block cache: the one cache of disk blocks, in front of one
 * disk, shared by everything that reads or writes it.
 *
 * What it owns: every cached copy of the disk's sectors. The disk layer
 * (block/Disk.c) sends DiskRead/DiskWrite/DiskFlush/trim of the disk and of
 * all its partitions here (a partition adds its start sector), and file
 * systems pin their metadata blocks here (block/BlockDevice.h), so raw
 * access, partition access, file data and file-system metadata always see
 * one copy of each sector.
 *
 * Blocks are BlockSize bytes (4 KiB, or one sector when sectors are larger),
 * aligned on the disk, each with a bit per sector saying whether the sector
 * holds data (ValidMask) and whether that data is newer than the disk
 * (DirtyMask), so a write of one sector needs no read first. Blocks live in
 * a hash table by block number and on one LRU list; their number is bounded
 * by a memory budget (data bytes; the headers add about 2 %). A pinned block
 * becomes active (at most a quarter of the capacity: past that the least recently
 * used active block stops being); eviction takes the least recently used
 * clean inactive block first, writing dirty ones back to get one if it may,
 * and an active one last. So a file system's metadata outlives a stream of
 * file data through a small cache, as its own pool of blocks used to.
 *
 * Copy interface (CacheRead/CacheWrite): hits are copied out; consecutive
 * missing blocks are read from the disk in one request, and when the reader
 * is sequential the request is extended by the read-ahead window. Requests
 * of BypassBytes or more (and reads or writes that find no room) go straight
 * to the disk: a bypassing read first writes back the dirty blocks in its
 * range and still returns any data that could not be written back; a
 * bypassing write updates the cached copies of its sectors.
 *
 * Pin interface (xv6's bread/brelse): CachePin returns the block holding a
 * few sectors, pinned, with those sectors valid (read from the disk if
 * needed, or zeroed for a caller that overwrites them); the caller reads and
 * changes Block->Data in place, calls CacheMarkDirty for the sectors it
 * changed, and CacheUnpin when done. The contract:
 *  - a pinned block is never evicted, dropped or freed: CacheInvalidate and
 *    CacheCleanup leave it (invalidation only clears its masks), and
 *    CacheShutdown detaches it and lets the last CacheUnpin free it;
 *  - while a block is pinned its Data belongs to the pinners: the cache
 *    itself only copies it out (hits, write-back), or overwrites sectors a
 *    CacheWrite names (raw writes racing a mounted file system stay the
 *    writer's problem, as on any system); a fill never overwrites a valid
 *    sector. Pinners of one block serialise among themselves (EXT2 holds its
 *    volume lock);
 *  - changed sectors must be marked dirty before the block is unpinned; a
 *    write-back that runs between the change and CacheMarkDirty is repeated
 *    by the next one;
 *  - a caller pins a handful of blocks at a time (EXT2: at most four); a pin
 *    that finds no evictable block fails with KSTATUS_NO_MEMORY;
 *  - the cache does not know what the blocks mean: a file system forgets a
 *    block it freed (CacheInvalidate), so no stale copy is written back over
 *    the block's next owner.
 *
 * Writes: the data stays dirty in the cache until CacheFlush (sync,
 * unmount, shutdown) or until the budget forces an eviction. A failed
 * write-back keeps the blocks dirty and returns the error; a failed read
 * caches nothing.
 *
 * The backend reads and writes the disk itself (the driver, not DiskCommand,
 * so the cache never calls itself); its Dirtied callback (optional) runs
 * when clean data first becomes dirty through a write or a pin, outside the
 * lock. Locking: one mutex per cache, held for a whole request including its
 * device I/O (so requests on one disk are serialised) and for every change
 * of the table, the list, the masks and the counters; never held while a
 * block is pinned, so a pinner may call the cache again. Never call the
 * cache with a spinlock held, nor from its own backend. CacheFind and
 * CacheAdd are the block-level primitives and need the caller to hold
 * Cache->Lock; every other function takes the lock itself.
 */

#ifndef BLOCK_CACHE_H_INCLUDED
#define BLOCK_CACHE_H_INCLUDED

#include "Base.h"
#include "block/Disk.h"
#include "core/Sync.h"

#define CACHE_DEFAULT_BUDGET (8 * N_1MB)   // per disk
#define CACHE_MIN_BLOCK_SIZE 4096
#define CACHE_MIN_CAPACITY 8               // blocks: room for the pins of two file-system operations
#define CACHE_BYPASS_BYTES (256 * N_1KB)   // at most half the budget
#define CACHE_READ_AHEAD_BLOCKS 32         // at most a quarter of the capacity
#define CACHE_STAGING_BYTES (256 * N_1KB)  // largest fill or write-back request
#define CACHE_MAX_SECTORS_PER_BLOCK 64

typedef struct tag_CACHE_BACKEND {
    KSTATUS (*Read)(LPVOID Context, U64 Sector, U32 SectorCount, LPVOID Buffer);
    KSTATUS (*Write)(LPVOID Context, U64 Sector, U32 SectorCount, LPCVOID Buffer);
    void (*Dirtied)(LPVOID Context);    // optional: data became dirty (a write or a pin); called unlocked
    LPVOID Context;
    /**
     * Optional, both or neither: one request for a run of sectors held in several buffers (at most
     * DISK_MAX_SEGMENTS). With them, fills read into the blocks themselves and write-backs write from them:
     * Staging only takes what must not land in a block (sectors a block already holds).
     */
    KSTATUS (*ReadVector)(LPVOID Context, U64 Sector, const DISK_SEGMENT* Segments, U32 Count);
    KSTATUS (*WriteVector)(LPVOID Context, U64 Sector, const DISK_SEGMENT* Segments, U32 Count);
} CACHE_BACKEND;

typedef struct tag_CACHE_BLOCK {
    U64 Block;                          // sectors Block * SectorsPerBlock ...
    U64 ValidMask;                      // bit N: sector N of the block holds data
    U64 DirtyMask;                      // subset of ValidMask: newer than the disk
    U32 Pins;                           // CachePin holders: never evicted, dropped or freed while not 0
    BOOL Orphan;                        // CacheShutdown ran while pinned: the last CacheUnpin frees it
    BOOL Active;                        // pinned lately: evicted after the inactive blocks
    struct tag_CACHE_BLOCK* HashNext;
    struct tag_CACHE_BLOCK* Newer;      // LRU list, towards the most recently used
    struct tag_CACHE_BLOCK* Older;
    U8* Data;                           // BlockSize bytes, right after the header
} CACHE_BLOCK;

typedef struct tag_CACHE_STATS {
    U32 BlockSize;
    U32 SectorsPerBlock;
    U32 Blocks;             // cached now
    U32 Capacity;           // blocks the budget allows
    U32 DirtyBlocks;
    U32 PinnedBlocks;       // pinned now
    U32 ActiveBlocks;       // pinned lately (kept before the others)
    U64 BudgetBytes;
    U64 BypassBytes;        // requests this large go straight to the disk
    U32 ReadAheadWindow;    // blocks
    U64 Hits;               // blocks found
    U64 Misses;             // blocks read from the disk for a request
    U64 ReadAheadBlocks;    // blocks read ahead of a sequential reader
    U64 Writebacks;         // blocks written back (made clean)
    U64 WritebackErrors;    // failed write-back requests
    U64 BypassReads;
    U64 BypassWrites;
    U64 Evictions;
    U64 Pins;               // CachePin calls served (their hits and misses count above too)
    U64 StagedBytes;        // bytes copied through Staging by fills and write-backs (vectored backends: few)
} CACHE_STATS;

typedef struct tag_CACHE {
    MUTEX Lock;
    CACHE_BACKEND Backend;
    U32 SectorSize;
    U64 SectorCount;
    U32 BlockSize;
    U32 SectorsPerBlock;
    U64 BlockTotal;             // blocks on the disk (the last may be partial)
    U64 Budget;
    U32 Capacity;
    U32 BlockCount;
    U32 DirtyCount;
    U32 PinnedCount;            // blocks with Pins not 0
    U32 ActiveCount;            // blocks with Active set, at most ActiveLimit
    U32 ActiveLimit;            // a quarter of the capacity
    U64 BypassBytes;
    U32 ReadAheadWindow;
    CACHE_BLOCK** Buckets;
    U32 BucketMask;
    CACHE_BLOCK* MostRecent;
    CACHE_BLOCK* LeastRecent;
    CACHE_BLOCK** Scratch;      // Capacity pointers, for sorting write-backs
    U8* Staging;                // CACHE_STAGING_BYTES (at least one block)
    U32 StagingBlocks;
    BOOL Vectored;              // the backend's vector calls are used (it has them; a run fits DISK_MAX_SEGMENTS)
    DISK_SEGMENT* Segments;     // DISK_MAX_SEGMENTS entries: one vectored request's buffers
    CACHE_BLOCK** Direct;       // StagingBlocks entries: the blocks a vectored fill reads into
    U64 NextSequential;         // sector just after the previous read (a pin's fill counts as one)
    U32 SequentialRun;          // reads in a row that continued the previous one
    U64 FillEnd;                // block after the last one the latest fill read
    BOOL Detached;              // CacheShutdown ran: every request fails
    CACHE_STATS Stats;
} CACHE;

/**
 * Sets a cache up; allocates its tables, not its blocks. BlockSize: 0 for
 * the default (4 KiB, or one sector when sectors are larger), else a power
 * of two from one sector to CACHE_MAX_SECTORS_PER_BLOCK of them. The budget
 * must allow CACHE_MIN_CAPACITY blocks.
 */
KSTATUS CacheInit(CACHE* Cache, U32 SectorSize, U64 SectorCount, U32 BlockSize, U64 BudgetBytes,
                  const CACHE_BACKEND* Backend);
/** Frees every block (dirty data is lost: flush first; nothing may be pinned) and the tables. */
void CacheDeinit(CACHE* Cache);
/** CacheInit on a heap-allocated cache; NULL on failure. */
CACHE* CacheCreate(U32 SectorSize, U64 SectorCount, U32 BlockSize, U64 BudgetBytes, const CACHE_BACKEND* Backend);
void CacheDestroy(CACHE* Cache);

/** Lock held. The cached block (moved to the most recent end), or NULL. */
CACHE_BLOCK* CacheFind(CACHE* Cache, U64 Block);
/**
 * Lock held. A new empty block (no valid sector) at the most recent end;
 * at the budget it evicts the least recently used clean block, writing
 * dirty ones back first if every block is dirty. NULL when nothing can be
 * evicted (write-back failed) or memory ran out. The block must not exist.
 */
CACHE_BLOCK* CacheAdd(CACHE* Cache, U64 Block);
/** Drops every clean unpinned block (frees their memory); returns how many. */
U32 CacheCleanup(CACHE* Cache);

/**
 * Pins the block holding sectors [Sector, Sector + Count), which must lie in
 * one block, and returns it in *Block. Read: the sectors that hold no data
 * are read from the disk (the whole block's missing sectors in one request,
 * with read-ahead for a sequential reader, as CacheRead); a block found
 * counts as a hit. Otherwise the caller overwrites the sectors whole: they
 * are zeroed and become valid and dirty without a read. KSTATUS_NO_MEMORY
 * when no block can be had (every one pinned, or dirty and refused by the
 * disk).
 */
KSTATUS CachePin(CACHE* Cache, U64 Sector, U32 Count, BOOL Read, CACHE_BLOCK** Block);
/** The caller changed sectors [Sector, Sector + Count) of its pinned block: they are newer than the disk. */
void CacheMarkDirty(CACHE* Cache, CACHE_BLOCK* Block, U64 Sector, U32 Count);
void CacheUnpin(CACHE* Cache, CACHE_BLOCK* Block);

KSTATUS CacheRead(CACHE* Cache, U64 Sector, U32 SectorCount, LPVOID Buffer);
KSTATUS CacheWrite(CACHE* Cache, U64 Sector, U32 SectorCount, LPCVOID Buffer);
/** Writes back every dirty block; *Written (optional) gets the blocks made clean. First error, or success. */
KSTATUS CacheFlush(CACHE* Cache, U32* Written);
/**
 * Writes back the dirty blocks that overlap the sector range (a direct read is about to go past the cache);
 * nothing to do, and no walk, when no block is dirty.
 */
KSTATUS CacheWriteBackRange(CACHE* Cache, U64 Sector, U64 SectorCount);
/** Forgets the sectors of the range, dirty or not (trim, a freed block: they no longer hold data). */
void CacheInvalidate(CACHE* Cache, U64 Sector, U64 SectorCount);
/**
 * For a disk going away: writes back what it can, drops every block and
 * makes later requests fail with KSTATUS_NO_PERMISSION (pinned blocks stay
 * with their pinners until CacheUnpin). Returns the number of dirty blocks
 * that could not be written. The structure stays allocated (a request or a
 * pin may still be on its way in).
 */
U32 CacheShutdown(CACHE* Cache);
/** The read-ahead window in blocks (0: none), at most a quarter of the capacity. */
void CacheSetReadAhead(CACHE* Cache, U32 Blocks);
void CacheGetStats(CACHE* Cache, CACHE_STATS* Stats);

#endif  // BLOCK_CACHE_H_INCLUDED
