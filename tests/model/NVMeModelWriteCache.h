/*
 * NVMeModelWriteCache.h - the NVMe model's volatile write cache and power cuts (tests/model).
 *
 * Off unless a test turns it on (NVMeModelEnableWriteCache): then Identify Controller advertises VWC and a
 * Write to a namespace without metadata lands in the cache, one entry per logical block (a later write of the
 * block replaces the entry). Reads see the cache first. A block reaches the medium (the namespace's
 * DISK_BACKEND) only when:
 *   - a Flush covers its namespace (or NSID FFFFFFFFh), or a normal/abrupt shutdown completes (CC.SHN), or the
 *     host turns the cache off (Set Features 06h, WCE 0): everything cached is written;
 *   - the Write had FUA set: its blocks go straight to the medium;
 *   - the cache is full: one block, chosen by the seeded generator, is destaged to make room;
 *   - power is cut and the seeded draw keeps it (below).
 * Write Zeroes and Deallocate act on the medium at once and drop the cached blocks of their range.
 * A controller reset keeps the cache (the data is still in the controller).
 *
 * A power cut (now, or scheduled before the Nth I/O command from the call) keeps each cached block with the
 * probability KeepPerMille/1000, independently and in no order, so unflushed writes may land reordered and
 * a multi-block write torn at block granularity; the rest is lost. Until NVMeModelPowerOn the controller is
 * off: it still completes commands (so the stack above can be torn down without its recovery paths), but no
 * write, flush, zeroing or deallocation reaches the medium, and reads return the medium as the cut left it.
 * Namespaces with metadata are written through (the cache models data only).
 */

#ifndef TESTS_MODEL_NVMEMODELWRITECACHE_H_INCLUDED
#define TESTS_MODEL_NVMEMODELWRITECACHE_H_INCLUDED

#include "NVMeModel.h"

#define NVME_MODEL_WRITE_CACHE_DEFAULT_BLOCKS 4096

typedef struct tag_NVME_MODEL_WRITE_CACHE_STATS {
    U32 CachedBlocks;        // blocks in the cache now
    U32 CapacityBlocks;
    U64 BlocksCached;        // block writes that went to the cache
    U64 BlocksWrittenThrough;  // FUA, metadata namespaces, cache turned off
    U64 BlocksCommitted;     // written to the medium by a Flush, a shutdown or turning the cache off
    U64 BlocksDestaged;      // written to the medium to make room
    U64 Flushes;             // Flush commands that found the cache on
    U64 PowerCuts;
    U64 BlocksKeptAtCut, BlocksLostAtCut;
    U64 CommandsIgnored;     // writes, flushes, zeroings and deallocations while off
    BOOL PoweredOff;
} NVME_MODEL_WRITE_CACHE_STATS;

/**
 * Turns the cache on (before the driver binds: Identify then says VWC present, feature 06h reads 1):
 * CapacityBlocks blocks (0: NVME_MODEL_WRITE_CACHE_DEFAULT_BLOCKS), Seed for destaging choices.
 */
void NVMeModelEnableWriteCache(NVME_MODEL* Model, U32 CapacityBlocks, U64 Seed);
/**
 * A drive that lies: Flush completes without writing the cache (shutdown and FUA still work). The power-cut
 * test turns it on to prove it notices lost synced data.
 */
void NVMeModelSetFlushIgnored(NVME_MODEL* Model, BOOL Ignored);
/** Cuts power now: each cached block is kept with probability KeepPerMille/1000 (seeded), the rest lost. */
void NVMeModelPowerCut(NVME_MODEL* Model, U32 KeepPerMille, U64 Seed);
/** The same cut, just before the AfterIoCommands-th I/O command from now executes (1: the next one). */
void NVMeModelSchedulePowerCut(NVME_MODEL* Model, U64 AfterIoCommands, U32 KeepPerMille, U64 Seed);
/** TRUE from the cut until NVMeModelPowerOn. */
BOOL NVMeModelPoweredOff(NVME_MODEL* Model);
/** Power back: commands take effect again; the cache is empty; a scheduled cut not yet reached is dropped. */
void NVMeModelPowerOn(NVME_MODEL* Model);
void NVMeModelGetWriteCacheStats(NVME_MODEL* Model, NVME_MODEL_WRITE_CACHE_STATS* Stats);

/** Copies [Offset, Offset + Length) of namespace Nsid's medium (not the cache) to a new file Path. */
KSTATUS NVMeModelSaveImage(NVME_MODEL* Model, U32 Nsid, U64 Offset, U64 Length, LPCSTR Path);
/** Puts the file Path's first Length bytes on the medium at Offset (the cached blocks of the range dropped). */
KSTATUS NVMeModelLoadImage(NVME_MODEL* Model, U32 Nsid, U64 Offset, U64 Length, LPCSTR Path);

#endif  // TESTS_MODEL_NVMEMODELWRITECACHE_H_INCLUDED
