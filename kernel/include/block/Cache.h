/*
 * Cache.h - a write-back block cache in front of one disk.
 *
 * The cache holds blocks of BlockSize bytes (4 KiB, or one sector when
 * sectors are larger), each with a bit per sector saying whether the sector
 * holds data (ValidMask) and whether that data is newer than the disk
 * (DirtyMask), so a write of one sector needs no read first. Blocks live in
 * a hash table by block number and on one LRU list; their number is bounded
 * by a memory budget (data bytes; the headers add about 2 %).
 *
 * Reads: hits are copied out; consecutive missing blocks are read from the
 * disk in one request, and when the reader is sequential the request is
 * extended by the read-ahead window. Requests of BypassBytes or more (and
 * reads or writes that find no room) go straight to the disk: a bypassing
 * read first writes back the dirty blocks in its range and still returns
 * any data that could not be written back; a bypassing write updates the
 * cached copies of its sectors.
 *
 * Writes: the data stays dirty in the cache until CacheFlush (sync,
 * unmount, shutdown) or until the budget forces an eviction. A failed
 * write-back keeps the blocks dirty and returns the error; a failed read
 * caches nothing.
 *
 * The backend reads and writes the disk itself (the driver, not DiskCommand,
 * so the cache never calls itself). Locking: one mutex per cache, held for a
 * whole request including its device I/O, so requests on one disk are
 * serialised; never call these with a spinlock held. CacheFind and CacheAdd
 * are the block-level primitives and need the caller to hold Cache->Lock;
 * every other function takes the lock itself.
 */

#ifndef BLOCK_CACHE_H_INCLUDED
#define BLOCK_CACHE_H_INCLUDED

#include "Base.h"
#include "core/Sync.h"

#define CACHE_DEFAULT_BUDGET (8 * N_1MB)   // per disk
#define CACHE_MIN_BLOCK_SIZE 4096
#define CACHE_MIN_CAPACITY 4               // blocks
#define CACHE_BYPASS_BYTES (256 * N_1KB)   // at most half the budget
#define CACHE_READ_AHEAD_BLOCKS 32         // at most a quarter of the capacity
#define CACHE_STAGING_BYTES (256 * N_1KB)  // largest fill or write-back request
#define CACHE_MAX_SECTORS_PER_BLOCK 64

typedef struct tag_CACHE_BACKEND {
    KSTATUS (*Read)(LPVOID Context, U64 Sector, U32 SectorCount, LPVOID Buffer);
    KSTATUS (*Write)(LPVOID Context, U64 Sector, U32 SectorCount, LPCVOID Buffer);
    LPVOID Context;
} CACHE_BACKEND;

typedef struct tag_CACHE_BLOCK {
    U64 Block;                          // sectors Block * SectorsPerBlock ...
    U64 ValidMask;                      // bit N: sector N of the block holds data
    U64 DirtyMask;                      // subset of ValidMask: newer than the disk
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
    U64 BypassBytes;
    U32 ReadAheadWindow;
    CACHE_BLOCK** Buckets;
    U32 BucketMask;
    CACHE_BLOCK* MostRecent;
    CACHE_BLOCK* LeastRecent;
    CACHE_BLOCK** Scratch;      // Capacity pointers, for sorting write-backs
    U8* Staging;                // CACHE_STAGING_BYTES (at least one block)
    U32 StagingBlocks;
    U64 NextSequential;         // sector just after the previous read
    U32 SequentialRun;          // reads in a row that continued the previous one
    BOOL Detached;              // CacheShutdown ran: every request fails
    CACHE_STATS Stats;
} CACHE;

/** Sets a cache up (the budget must allow CACHE_MIN_CAPACITY blocks); allocates its tables, not its blocks. */
KSTATUS CacheInit(CACHE* Cache, U32 SectorSize, U64 SectorCount, U64 BudgetBytes, const CACHE_BACKEND* Backend);
/** Frees every block (dirty data is lost: flush first) and the tables. */
void CacheDeinit(CACHE* Cache);
/** CacheInit on a heap-allocated cache; NULL on failure. */
CACHE* CacheCreate(U32 SectorSize, U64 SectorCount, U64 BudgetBytes, const CACHE_BACKEND* Backend);
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
/** Drops every clean block (frees their memory); returns how many. */
U32 CacheCleanup(CACHE* Cache);

KSTATUS CacheRead(CACHE* Cache, U64 Sector, U32 SectorCount, LPVOID Buffer);
KSTATUS CacheWrite(CACHE* Cache, U64 Sector, U32 SectorCount, LPCVOID Buffer);
/** Writes back every dirty block; *Written (optional) gets the blocks made clean. First error, or success. */
KSTATUS CacheFlush(CACHE* Cache, U32* Written);
/** Forgets the sectors of the range, dirty or not (trim: they no longer hold data). */
void CacheInvalidate(CACHE* Cache, U64 Sector, U64 SectorCount);
/**
 * For a disk going away: writes back what it can, drops every block and
 * makes later requests fail with KSTATUS_NO_PERMISSION. Returns the number
 * of dirty blocks that could not be written. The structure stays allocated
 * (a request may still be on its way in).
 */
U32 CacheShutdown(CACHE* Cache);
void CacheGetStats(CACHE* Cache, CACHE_STATS* Stats);

#endif  // BLOCK_CACHE_H_INCLUDED
