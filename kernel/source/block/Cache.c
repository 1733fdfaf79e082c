/*
 * Cache.c - the write-back block cache (see Cache.h).
 *
 * Invariants, all under Cache->Lock:
 *  - a block is in exactly one hash chain and on the LRU list; BlockCount
 *    counts them and never exceeds Capacity;
 *  - DirtyMask is a subset of ValidMask; DirtyCount counts blocks whose
 *    DirtyMask is not zero;
 *  - a valid clean sector holds what the disk holds; a dirty one is newer,
 *    so a fill from the disk never overwrites it;
 *  - Staging is only used between one backend call and the copies that
 *    follow it; a write-back (which uses Staging) never runs while a fill's
 *    data is in it (fills make room first and then evict clean blocks only).
 */

#include "block/Cache.h"

#include "memory/Heap.h"
#include "utils/String.h"

#define CACHE_BLOCK_HEADER ALIGN_UP(sizeof(CACHE_BLOCK), 16)
#define CACHE_MAX_CAPACITY (1U << 22)

static U64 FullMask(U32 Count) { return Count >= 64 ? MAX_U64 : ((1ULL << Count) - 1); }

static U32 BlockSectors(const CACHE* Cache, U64 Block) {
    U64 Left = Cache->SectorCount - Block * Cache->SectorsPerBlock;
    return (U32)MIN((U64)Cache->SectorsPerBlock, Left);
}

/** The sectors of Block inside [Sector, Sector + Count): first index and count (0 if none). */
static U32 BlockSpan(const CACHE* Cache, U64 Block, U64 Sector, U64 Count, U32* Index) {
    U64 First = Block * Cache->SectorsPerBlock;
    U64 Start = MAX(First, Sector);
    U64 End = MIN(First + BlockSectors(Cache, Block), Sector + Count);
    *Index = 0;
    if (Start >= End) return 0;
    *Index = (U32)(Start - First);
    return (U32)(End - Start);
}

static U64 SpanMask(U32 Index, U32 Count) { return FullMask(Count) << Index; }

/************************************************************************/
// Hash table and LRU list

static U32 BucketOf(const CACHE* Cache, U64 Block) {
    return (U32)((Block * 0x9E3779B97F4A7C15ULL) >> 40) & Cache->BucketMask;
}

static CACHE_BLOCK* Lookup(const CACHE* Cache, U64 Block) {
    for (CACHE_BLOCK* B = Cache->Buckets[BucketOf(Cache, Block)]; B; B = B->HashNext) {
        if (B->Block == Block) return B;
    }
    return NULL;
}

static void HashRemove(CACHE* Cache, CACHE_BLOCK* Block) {
    for (CACHE_BLOCK** Link = &Cache->Buckets[BucketOf(Cache, Block->Block)]; *Link; Link = &(*Link)->HashNext) {
        if (*Link == Block) {
            *Link = Block->HashNext;
            return;
        }
    }
}

static void ListUnlink(CACHE* Cache, CACHE_BLOCK* Block) {
    if (Block->Newer) Block->Newer->Older = Block->Older;
    else Cache->MostRecent = Block->Older;
    if (Block->Older) Block->Older->Newer = Block->Newer;
    else Cache->LeastRecent = Block->Newer;
    Block->Newer = Block->Older = NULL;
}

static void ListPushRecent(CACHE* Cache, CACHE_BLOCK* Block) {
    Block->Newer = NULL;
    Block->Older = Cache->MostRecent;
    if (Cache->MostRecent) Cache->MostRecent->Newer = Block;
    else Cache->LeastRecent = Block;
    Cache->MostRecent = Block;
}

/** Takes a block out of the table and the list (the caller frees or reuses it). */
static void Detach(CACHE* Cache, CACHE_BLOCK* Block) {
    HashRemove(Cache, Block);
    ListUnlink(Cache, Block);
    if (Block->DirtyMask) Cache->DirtyCount--;
    Cache->BlockCount--;
}

static void FreeBlock(CACHE* Cache, CACHE_BLOCK* Block) {
    Detach(Cache, Block);
    KernelHeapFree(Block);
}

CACHE_BLOCK* CacheFind(CACHE* Cache, U64 Block) {
    CACHE_BLOCK* Found = Lookup(Cache, Block);
    if (Found && Found != Cache->MostRecent) {
        ListUnlink(Cache, Found);
        ListPushRecent(Cache, Found);
    }
    return Found;
}

/************************************************************************/
// Write-back

static void SortBlocks(CACHE_BLOCK** Blocks, U32 Count) {
    // Shell sort (gaps 3k+1): a few thousand pointers at most, no recursion, no allocation.
    U32 Gap = 1;
    while (Gap < Count / 3) Gap = Gap * 3 + 1;
    for (; Gap > 0; Gap /= 3) {
        for (U32 I = Gap; I < Count; I++) {
            CACHE_BLOCK* Item = Blocks[I];
            U32 J = I;
            while (J >= Gap && Blocks[J - Gap]->Block > Item->Block) {
                Blocks[J] = Blocks[J - Gap];
                J -= Gap;
            }
            Blocks[J] = Item;
        }
    }
}

/** Clears the dirty bits of Length sectors starting at sector Index of Blocks[First]. */
static U32 MarkClean(CACHE* Cache, CACHE_BLOCK** Blocks, U32 First, U32 Index, U32 Length) {
    U32 Cleaned = 0;
    for (U32 I = First; Length > 0; I++, Index = 0) {
        CACHE_BLOCK* Block = Blocks[I];
        U32 Take = MIN(Length, BlockSectors(Cache, Block->Block) - Index);
        Block->DirtyMask &= ~SpanMask(Index, Take);
        if (Block->DirtyMask == 0) {
            Cache->DirtyCount--;
            Cleaned++;
        }
        Length -= Take;
    }
    return Cleaned;
}

/**
 * Writes the dirty sectors of Blocks (sorted by block number, all dirty) in
 * runs as long as Staging allows: contiguous dirty sectors, across blocks
 * that follow each other. A failed run stays dirty; the others go on.
 */
static KSTATUS WriteBackSorted(CACHE* Cache, CACHE_BLOCK** Blocks, U32 Count, U32* Cleaned) {
    KSTATUS Result = KSTATUS_SUCCESS;
    U32 StagingSectors = Cache->StagingBlocks * Cache->SectorsPerBlock;
    U32 I = 0, Index = 0;
    while (I < Count) {
        CACHE_BLOCK* Block = Blocks[I];
        U32 Sectors = BlockSectors(Cache, Block->Block);
        while (Index < Sectors && ((Block->DirtyMask >> Index) & 1) == 0) Index++;
        if (Index >= Sectors) {
            I++;
            Index = 0;
            continue;
        }
        U32 FirstBlock = I, FirstIndex = Index, Length = 0;
        U64 RunSector = Block->Block * Cache->SectorsPerBlock + Index;
        for (;;) {
            CACHE_BLOCK* Current = Blocks[I];
            U32 CurrentSectors = BlockSectors(Cache, Current->Block);
            while (Index < CurrentSectors && ((Current->DirtyMask >> Index) & 1) && Length < StagingSectors) {
                MemoryCopy(Cache->Staging + (SIZE)Length * Cache->SectorSize,
                           Current->Data + (SIZE)Index * Cache->SectorSize, Cache->SectorSize);
                Length++;
                Index++;
            }
            if (Length == StagingSectors || Index < CurrentSectors) break;
            if (I + 1 < Count && Blocks[I + 1]->Block == Current->Block + 1 && (Blocks[I + 1]->DirtyMask & 1)) {
                I++;
                Index = 0;
                continue;
            }
            break;
        }
        KSTATUS Status = Cache->Backend.Write(Cache->Backend.Context, RunSector, Length, Cache->Staging);
        if (Status == KSTATUS_SUCCESS) {
            U32 Made = MarkClean(Cache, Blocks, FirstBlock, FirstIndex, Length);
            Cache->Stats.Writebacks += Made;
            if (Cleaned) *Cleaned += Made;
        } else {
            Cache->Stats.WritebackErrors++;
            if (Result == KSTATUS_SUCCESS) Result = Status;
        }
    }
    return Result;
}

/** Writes back (at least) the Want least recently used dirty blocks. */
static KSTATUS WriteBackOldest(CACHE* Cache, U32 Want) {
    U32 Limit = MIN(Cache->DirtyCount, MAX(Want, Cache->StagingBlocks));
    U32 Count = 0;
    for (CACHE_BLOCK* Block = Cache->LeastRecent; Block && Count < Limit; Block = Block->Newer) {
        if (Block->DirtyMask) Cache->Scratch[Count++] = Block;
    }
    SortBlocks(Cache->Scratch, Count);
    return WriteBackSorted(Cache, Cache->Scratch, Count, NULL);
}

/** Writes back every dirty block that overlaps the sector range (all of them when Count is 0). */
static KSTATUS WriteBackRange(CACHE* Cache, U64 Sector, U64 Count, U32* Cleaned) {
    U32 Found = 0;
    for (CACHE_BLOCK* Block = Cache->LeastRecent; Block; Block = Block->Newer) {
        if (Block->DirtyMask == 0) continue;
        U32 Index;
        if (Count != 0 && BlockSpan(Cache, Block->Block, Sector, Count, &Index) == 0) continue;
        Cache->Scratch[Found++] = Block;
    }
    SortBlocks(Cache->Scratch, Found);
    return WriteBackSorted(Cache, Cache->Scratch, Found, Cleaned);
}

/************************************************************************/
// Allocation and eviction

/** Unlinks the least recently used clean block for reuse; writes dirty ones back first if allowed. */
static CACHE_BLOCK* Evict(CACHE* Cache, BOOL AllowWriteBack) {
    for (U32 Attempt = 0; Attempt < 2; Attempt++) {
        for (CACHE_BLOCK* Block = Cache->LeastRecent; Block; Block = Block->Newer) {
            if (Block->DirtyMask == 0) {
                Detach(Cache, Block);
                Cache->Stats.Evictions++;
                return Block;
            }
        }
        if (!AllowWriteBack || Cache->DirtyCount == 0) break;
        WriteBackOldest(Cache, 1);
    }
    return NULL;
}

static CACHE_BLOCK* AddBlock(CACHE* Cache, U64 Number, BOOL AllowWriteBack) {
    CACHE_BLOCK* Block = NULL;
    if (Cache->BlockCount < Cache->Capacity) {
        Block = (CACHE_BLOCK*)KernelHeapAlloc(CACHE_BLOCK_HEADER + Cache->BlockSize);
    }
    if (Block == NULL) {
        Block = Evict(Cache, AllowWriteBack);
        if (Block == NULL) return NULL;
    }
    Block->Block = Number;
    Block->ValidMask = 0;
    Block->DirtyMask = 0;
    Block->Data = (U8*)Block + CACHE_BLOCK_HEADER;
    U32 Bucket = BucketOf(Cache, Number);
    Block->HashNext = Cache->Buckets[Bucket];
    Cache->Buckets[Bucket] = Block;
    ListPushRecent(Cache, Block);
    Cache->BlockCount++;
    return Block;
}

CACHE_BLOCK* CacheAdd(CACHE* Cache, U64 Block) { return AddBlock(Cache, Block, TRUE); }

/** Before a fill of Blocks blocks: make sure that many can be had without writing back. */
static void MakeRoom(CACHE* Cache, U32 Blocks) {
    U32 Available = (Cache->Capacity - Cache->BlockCount) + (Cache->BlockCount - Cache->DirtyCount);
    if (Available < Blocks) WriteBackOldest(Cache, Blocks - Available);
}

/************************************************************************/
// Reads

static void CopyOut(CACHE* Cache, const U8* Source, U64 Block, U64 Sector, U64 Count, U8* Buffer) {
    U32 Index;
    U32 Sectors = BlockSpan(Cache, Block, Sector, Count, &Index);
    U64 Offset = Block * Cache->SectorsPerBlock + Index - Sector;
    MemoryCopy(Buffer + Offset * Cache->SectorSize, Source + (SIZE)Index * Cache->SectorSize,
               (SIZE)Sectors * Cache->SectorSize);
}

/**
 * Reads blocks [From, To) into Staging in one backend request, puts them in
 * the cache (keeping any dirty sector) and copies the request's part out.
 * Blocks from RequestEnd on are read-ahead. Nothing is cached on failure.
 */
static KSTATUS Fill(CACHE* Cache, U64 From, U64 To, U64 RequestEnd, U64 Sector, U64 Count, U8* Buffer) {
    U64 First = From * Cache->SectorsPerBlock;
    U64 End = MIN(To * Cache->SectorsPerBlock, Cache->SectorCount);
    KSTATUS Status = Cache->Backend.Read(Cache->Backend.Context, First, (U32)(End - First), Cache->Staging);
    if (Status != KSTATUS_SUCCESS) return Status;
    for (U64 Number = From; Number < To; Number++) {
        const U8* Source = Cache->Staging + (SIZE)(Number - From) * Cache->BlockSize;
        CACHE_BLOCK* Block = CacheFind(Cache, Number);
        if (Block == NULL) Block = AddBlock(Cache, Number, FALSE);
        if (Block) {
            U32 Sectors = BlockSectors(Cache, Number);
            for (U32 I = 0; I < Sectors; I++) {
                if ((Block->DirtyMask >> I) & 1) continue;
                MemoryCopy(Block->Data + (SIZE)I * Cache->SectorSize, Source + (SIZE)I * Cache->SectorSize,
                           Cache->SectorSize);
            }
            Block->ValidMask = FullMask(Sectors);
            Source = Block->Data;
        }
        if (Number < RequestEnd) {
            Cache->Stats.Misses++;
            CopyOut(Cache, Source, Number, Sector, Count, Buffer);
        } else if (Block) {
            Cache->Stats.ReadAheadBlocks++;
        }
    }
    return KSTATUS_SUCCESS;
}

static BOOL Holds(const CACHE* Cache, U64 Number, U64 Sector, U64 Count) {
    CACHE_BLOCK* Block = Lookup(Cache, Number);
    if (Block == NULL) return FALSE;
    U32 Index;
    U32 Sectors = BlockSpan(Cache, Number, Sector, Count, &Index);
    U64 Need = SpanMask(Index, Sectors);
    return (Block->ValidMask & Need) == Need;
}

static KSTATUS CachedRead(CACHE* Cache, U64 Sector, U32 Count, U8* Buffer) {
    U64 First = Sector / Cache->SectorsPerBlock;
    U64 Last = (Sector + Count - 1) / Cache->SectorsPerBlock;
    U64 AheadEnd = Last + 1;
    if (Cache->SequentialRun > 0) AheadEnd = MIN(Last + 1 + Cache->ReadAheadWindow, Cache->BlockTotal);
    U64 Number = First;
    while (Number <= Last) {
        if (Holds(Cache, Number, Sector, Count)) {
            Cache->Stats.Hits++;
            CopyOut(Cache, CacheFind(Cache, Number)->Data, Number, Sector, Count, Buffer);
            Number++;
            continue;
        }
        U64 RunEnd = Number + 1;
        while (RunEnd <= Last && RunEnd - Number < Cache->StagingBlocks && !Holds(Cache, RunEnd, Sector, Count)) {
            RunEnd++;
        }
        U64 RequestEnd = RunEnd;
        if (RunEnd == Last + 1) {
            while (RunEnd < AheadEnd && RunEnd - Number < Cache->StagingBlocks && Lookup(Cache, RunEnd) == NULL) {
                RunEnd++;
            }
        }
        MakeRoom(Cache, (U32)(RunEnd - Number));
        KSTATUS Status = Fill(Cache, Number, RunEnd, RequestEnd, Sector, Count, Buffer);
        if (Status != KSTATUS_SUCCESS) return Status;
        Number = RequestEnd;
    }
    return KSTATUS_SUCCESS;
}

/** A large read: dirty blocks in range go to the disk first; whatever could not is copied over the result. */
static KSTATUS BypassRead(CACHE* Cache, U64 Sector, U32 Count, U8* Buffer) {
    Cache->Stats.BypassReads++;
    WriteBackRange(Cache, Sector, Count, NULL);
    KSTATUS Status = Cache->Backend.Read(Cache->Backend.Context, Sector, Count, Buffer);
    if (Status != KSTATUS_SUCCESS) return Status;
    for (CACHE_BLOCK* Block = Cache->LeastRecent; Block; Block = Block->Newer) {
        U32 Index;
        U32 Sectors = BlockSpan(Cache, Block->Block, Sector, Count, &Index);
        if (Sectors == 0 || (Block->DirtyMask & SpanMask(Index, Sectors)) == 0) continue;
        for (U32 I = Index; I < Index + Sectors; I++) {
            if (((Block->DirtyMask >> I) & 1) == 0) continue;
            U64 Offset = Block->Block * Cache->SectorsPerBlock + I - Sector;
            MemoryCopy(Buffer + Offset * Cache->SectorSize, Block->Data + (SIZE)I * Cache->SectorSize,
                       Cache->SectorSize);
        }
    }
    return KSTATUS_SUCCESS;
}

static BOOL CheckRequest(const CACHE* Cache, U64 Sector, U64 Count, LPCVOID Buffer) {
    return Buffer != NULL && Count != 0 && Sector < Cache->SectorCount && Count <= Cache->SectorCount - Sector;
}

KSTATUS CacheRead(CACHE* Cache, U64 Sector, U32 SectorCount, LPVOID Buffer) {
    if (Cache == NULL || !CheckRequest(Cache, Sector, SectorCount, Buffer)) return KSTATUS_BAD_PARAMETER;
    MutexLock(&Cache->Lock);
    KSTATUS Status = KSTATUS_NO_PERMISSION;
    if (!Cache->Detached) {
        Cache->SequentialRun = (Sector == Cache->NextSequential) ? Cache->SequentialRun + 1 : 0;
        Cache->NextSequential = Sector + SectorCount;
        if ((U64)SectorCount * Cache->SectorSize >= Cache->BypassBytes) {
            Status = BypassRead(Cache, Sector, SectorCount, (U8*)Buffer);
        } else {
            Status = CachedRead(Cache, Sector, SectorCount, (U8*)Buffer);
        }
    }
    MutexUnlock(&Cache->Lock);
    return Status;
}

/************************************************************************/
// Writes

/** Drops sectors from a block (frees it when nothing valid is left). */
static void DropSectors(CACHE* Cache, CACHE_BLOCK* Block, U64 Mask) {
    U64 WasDirty = Block->DirtyMask;
    Block->DirtyMask &= ~Mask;
    Block->ValidMask &= ~Mask;
    if (WasDirty && Block->DirtyMask == 0) Cache->DirtyCount--;
    if (Block->ValidMask == 0) FreeBlock(Cache, Block);
}

/** A large write goes to the disk; the cached copies of its sectors follow it (or are dropped if it failed). */
static KSTATUS BypassWrite(CACHE* Cache, U64 Sector, U32 Count, const U8* Buffer) {
    Cache->Stats.BypassWrites++;
    KSTATUS Status = Cache->Backend.Write(Cache->Backend.Context, Sector, Count, Buffer);
    CACHE_BLOCK* Next;
    for (CACHE_BLOCK* Block = Cache->LeastRecent; Block; Block = Next) {
        Next = Block->Newer;
        U32 Index;
        U32 Sectors = BlockSpan(Cache, Block->Block, Sector, Count, &Index);
        if (Sectors == 0) continue;
        U64 Mask = SpanMask(Index, Sectors);
        if (Status != KSTATUS_SUCCESS) {
            DropSectors(Cache, Block, Mask);
            continue;
        }
        U64 Offset = Block->Block * Cache->SectorsPerBlock + Index - Sector;
        MemoryCopy(Block->Data + (SIZE)Index * Cache->SectorSize, Buffer + Offset * Cache->SectorSize,
                   (SIZE)Sectors * Cache->SectorSize);
        Block->ValidMask |= Mask;
        if (Block->DirtyMask && (Block->DirtyMask & ~Mask) == 0) Cache->DirtyCount--;
        Block->DirtyMask &= ~Mask;
    }
    return Status;
}

static KSTATUS CachedWrite(CACHE* Cache, U64 Sector, U32 Count, const U8* Buffer) {
    U64 First = Sector / Cache->SectorsPerBlock;
    U64 Last = (Sector + Count - 1) / Cache->SectorsPerBlock;
    for (U64 Number = First; Number <= Last; Number++) {
        U32 Index;
        U32 Sectors = BlockSpan(Cache, Number, Sector, Count, &Index);
        U64 Offset = Number * Cache->SectorsPerBlock + Index - Sector;
        const U8* Source = Buffer + Offset * Cache->SectorSize;
        CACHE_BLOCK* Block = CacheFind(Cache, Number);
        if (Block == NULL) Block = AddBlock(Cache, Number, TRUE);
        if (Block == NULL) {
            // No room (every block dirty and the disk refuses them): this part goes straight through.
            KSTATUS Status = Cache->Backend.Write(Cache->Backend.Context, Number * Cache->SectorsPerBlock + Index,
                                                  Sectors, Source);
            if (Status != KSTATUS_SUCCESS) return Status;
            continue;
        }
        MemoryCopy(Block->Data + (SIZE)Index * Cache->SectorSize, Source, (SIZE)Sectors * Cache->SectorSize);
        U64 Mask = SpanMask(Index, Sectors);
        Block->ValidMask |= Mask;
        if (Block->DirtyMask == 0) Cache->DirtyCount++;
        Block->DirtyMask |= Mask;
    }
    return KSTATUS_SUCCESS;
}

KSTATUS CacheWrite(CACHE* Cache, U64 Sector, U32 SectorCount, LPCVOID Buffer) {
    if (Cache == NULL || !CheckRequest(Cache, Sector, SectorCount, Buffer)) return KSTATUS_BAD_PARAMETER;
    MutexLock(&Cache->Lock);
    KSTATUS Status = KSTATUS_NO_PERMISSION;
    if (!Cache->Detached) {
        if ((U64)SectorCount * Cache->SectorSize >= Cache->BypassBytes) {
            Status = BypassWrite(Cache, Sector, SectorCount, (const U8*)Buffer);
        } else {
            Status = CachedWrite(Cache, Sector, SectorCount, (const U8*)Buffer);
        }
    }
    MutexUnlock(&Cache->Lock);
    return Status;
}

/************************************************************************/
// Maintenance

KSTATUS CacheFlush(CACHE* Cache, U32* Written) {
    if (Written) *Written = 0;
    if (Cache == NULL) return KSTATUS_BAD_PARAMETER;
    MutexLock(&Cache->Lock);
    KSTATUS Status = Cache->Detached ? KSTATUS_NO_PERMISSION : WriteBackRange(Cache, 0, 0, Written);
    MutexUnlock(&Cache->Lock);
    return Status;
}

void CacheInvalidate(CACHE* Cache, U64 Sector, U64 SectorCount) {
    if (Cache == NULL || SectorCount == 0) return;
    MutexLock(&Cache->Lock);
    if (!Cache->Detached) {
        CACHE_BLOCK* Next;
        for (CACHE_BLOCK* Block = Cache->LeastRecent; Block; Block = Next) {
            Next = Block->Newer;
            U32 Index;
            U32 Sectors = BlockSpan(Cache, Block->Block, Sector, SectorCount, &Index);
            if (Sectors) DropSectors(Cache, Block, SpanMask(Index, Sectors));
        }
    }
    MutexUnlock(&Cache->Lock);
}

U32 CacheCleanup(CACHE* Cache) {
    U32 Dropped = 0;
    if (Cache == NULL) return 0;
    MutexLock(&Cache->Lock);
    CACHE_BLOCK* Next;
    for (CACHE_BLOCK* Block = Cache->LeastRecent; Block; Block = Next) {
        Next = Block->Newer;
        if (Block->DirtyMask == 0) {
            FreeBlock(Cache, Block);
            Dropped++;
        }
    }
    MutexUnlock(&Cache->Lock);
    return Dropped;
}

static void FreeAll(CACHE* Cache) {
    while (Cache->LeastRecent) FreeBlock(Cache, Cache->LeastRecent);
    KernelHeapFree(Cache->Buckets);
    KernelHeapFree(Cache->Scratch);
    KernelHeapFree(Cache->Staging);
    Cache->Buckets = NULL;
    Cache->Scratch = NULL;
    Cache->Staging = NULL;
}

U32 CacheShutdown(CACHE* Cache) {
    if (Cache == NULL) return 0;
    MutexLock(&Cache->Lock);
    U32 Lost = 0;
    if (!Cache->Detached) {
        WriteBackRange(Cache, 0, 0, NULL);
        Lost = Cache->DirtyCount;
        FreeAll(Cache);
        Cache->Detached = TRUE;
    }
    MutexUnlock(&Cache->Lock);
    return Lost;
}

void CacheGetStats(CACHE* Cache, CACHE_STATS* Stats) {
    MemorySet(Stats, 0, sizeof(*Stats));
    if (Cache == NULL) return;
    MutexLock(&Cache->Lock);
    *Stats = Cache->Stats;
    Stats->BlockSize = Cache->BlockSize;
    Stats->SectorsPerBlock = Cache->SectorsPerBlock;
    Stats->Blocks = Cache->BlockCount;
    Stats->Capacity = Cache->Capacity;
    Stats->DirtyBlocks = Cache->DirtyCount;
    Stats->BudgetBytes = Cache->Budget;
    Stats->BypassBytes = Cache->BypassBytes;
    Stats->ReadAheadWindow = Cache->ReadAheadWindow;
    MutexUnlock(&Cache->Lock);
}

/************************************************************************/
// Setup

KSTATUS CacheInit(CACHE* Cache, U32 SectorSize, U64 SectorCount, U64 BudgetBytes, const CACHE_BACKEND* Backend) {
    if (Cache == NULL || Backend == NULL || Backend->Read == NULL || Backend->Write == NULL || SectorCount == 0 ||
        SectorSize < 512 || !IS_POWER_OF_TWO(SectorSize)) {
        return KSTATUS_BAD_PARAMETER;
    }
    MemorySet(Cache, 0, sizeof(*Cache));
    Cache->Backend = *Backend;
    Cache->SectorSize = SectorSize;
    Cache->SectorCount = SectorCount;
    Cache->BlockSize = MAX(SectorSize, (U32)CACHE_MIN_BLOCK_SIZE);
    Cache->SectorsPerBlock = Cache->BlockSize / SectorSize;
    if (Cache->SectorsPerBlock > CACHE_MAX_SECTORS_PER_BLOCK) return KSTATUS_BAD_PARAMETER;
    Cache->BlockTotal = (SectorCount + Cache->SectorsPerBlock - 1) / Cache->SectorsPerBlock;
    U64 Capacity = BudgetBytes / Cache->BlockSize;
    if (Capacity < CACHE_MIN_CAPACITY) return KSTATUS_BAD_PARAMETER;
    Cache->Capacity = (U32)MIN(Capacity, (U64)CACHE_MAX_CAPACITY);
    Cache->Budget = (U64)Cache->Capacity * Cache->BlockSize;
    Cache->BypassBytes = MIN((U64)CACHE_BYPASS_BYTES, Cache->Budget / 2);
    Cache->ReadAheadWindow = MIN((U32)CACHE_READ_AHEAD_BLOCKS, Cache->Capacity / 4);
    Cache->StagingBlocks = MAX(1U, (U32)(CACHE_STAGING_BYTES / Cache->BlockSize));
    U32 Buckets = 16;
    while (Buckets < Cache->Capacity) Buckets <<= 1;
    Cache->BucketMask = Buckets - 1;
    Cache->Buckets = (CACHE_BLOCK**)KernelHeapAllocZero(Buckets * sizeof(CACHE_BLOCK*));
    Cache->Scratch = (CACHE_BLOCK**)KernelHeapAlloc((SIZE)Cache->Capacity * sizeof(CACHE_BLOCK*));
    Cache->Staging = (U8*)KernelHeapAlloc((SIZE)Cache->StagingBlocks * Cache->BlockSize);
    if (Cache->Buckets == NULL || Cache->Scratch == NULL || Cache->Staging == NULL) {
        FreeAll(Cache);
        return KSTATUS_NO_MEMORY;
    }
    Cache->NextSequential = MAX_U64;
    MutexInit(&Cache->Lock);
    return KSTATUS_SUCCESS;
}

void CacheDeinit(CACHE* Cache) {
    if (Cache == NULL) return;
    if (Cache->Buckets) FreeAll(Cache);
}

CACHE* CacheCreate(U32 SectorSize, U64 SectorCount, U64 BudgetBytes, const CACHE_BACKEND* Backend) {
    CACHE* Cache = (CACHE*)KernelHeapAlloc(sizeof(CACHE));
    if (Cache == NULL) return NULL;
    if (CacheInit(Cache, SectorSize, SectorCount, BudgetBytes, Backend) != KSTATUS_SUCCESS) {
        KernelHeapFree(Cache);
        return NULL;
    }
    return Cache;
}

void CacheDestroy(CACHE* Cache) {
    CacheDeinit(Cache);
    KernelHeapFree(Cache);
}
