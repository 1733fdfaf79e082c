/*
 * Cache.c - the write-back block cache (see Cache.h).
 *
 * Invariants, all under Cache->Lock:
 *  - a block is in exactly one hash chain and on the LRU list; BlockCount
 *    counts them and never exceeds Capacity (Scratch has room for all);
 *  - DirtyMask is a subset of ValidMask; DirtyCount counts blocks whose
 *    DirtyMask is not zero; PinnedCount counts blocks whose Pins is not 0;
 *    ActiveCount counts blocks marked Active and stays within ActiveLimit;
 *  - a valid clean sector holds what the disk holds, unless a pinner has
 *    changed it and not yet marked it dirty; a dirty one is newer. So a fill
 *    from the disk only writes sectors that are not valid;
 *  - a pinned block is never evicted or freed; an orphan (detached by
 *    CacheShutdown while pinned) is in no table and is freed by its last
 *    CacheUnpin;
 *  - Staging is only used between one backend call and the copies that
 *    follow it; a write-back (which uses Staging) never runs while a fill's
 *    data is in it (fills make room first and then evict clean blocks only);
 *  - with a vectored backend a fill reads into the blocks it adds (pinned
 *    until the fill is done with them) and a write-back writes from the
 *    blocks themselves: a run is one request, whatever the blocks' addresses.
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
    if (Block->Active) Cache->ActiveCount--;
    Block->Active = FALSE;
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
 * that follow each other. A vectored backend gets the blocks' own memory, a
 * segment a block (at most DISK_MAX_SEGMENTS a run); the others a copy in
 * Staging. A failed run stays dirty; the others go on.
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
        U32 FirstBlock = I, FirstIndex = Index, Length = 0, Segments = 0;
        U64 RunSector = Block->Block * Cache->SectorsPerBlock + Index;
        for (;;) {
            CACHE_BLOCK* Current = Blocks[I];
            U32 CurrentSectors = BlockSectors(Cache, Current->Block);
            U32 Start = Index;
            while (Index < CurrentSectors && ((Current->DirtyMask >> Index) & 1) && Length < StagingSectors) {
                if (!Cache->Vectored) {
                    MemoryCopy(Cache->Staging + (SIZE)Length * Cache->SectorSize,
                               Current->Data + (SIZE)Index * Cache->SectorSize, Cache->SectorSize);
                }
                Length++;
                Index++;
            }
            if (Cache->Vectored) {
                Cache->Segments[Segments++] = (DISK_SEGMENT){Current->Data + (SIZE)Start * Cache->SectorSize,
                                                             (Index - Start) * Cache->SectorSize};
            }
            if (Length == StagingSectors || Index < CurrentSectors) break;
            if (Cache->Vectored && Segments == DISK_MAX_SEGMENTS) break;
            if (I + 1 < Count && Blocks[I + 1]->Block == Current->Block + 1 && (Blocks[I + 1]->DirtyMask & 1)) {
                I++;
                Index = 0;
                continue;
            }
            break;
        }
        KSTATUS Status;
        if (Cache->Vectored) {
            Status = Cache->Backend.WriteVector(Cache->Backend.Context, RunSector, Cache->Segments, Segments);
        } else {
            Status = Cache->Backend.Write(Cache->Backend.Context, RunSector, Length, Cache->Staging);
            Cache->Stats.StagedBytes += (U64)Length * Cache->SectorSize;
        }
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

/** The least recently used clean unpinned block (an inactive one only, if Inactive). */
static CACHE_BLOCK* FindVictim(CACHE* Cache, BOOL Inactive) {
    for (CACHE_BLOCK* Block = Cache->LeastRecent; Block; Block = Block->Newer) {
        if (Block->DirtyMask == 0 && Block->Pins == 0 && !(Inactive && Block->Active)) return Block;
    }
    return NULL;
}

/**
 * Unlinks a clean unpinned block for reuse: the least recently used inactive
 * one; else (if allowed) the oldest dirty blocks are written back to become
 * such blocks; only then the least recently used active one. So file data
 * streaming through a small cache does not push out the metadata a file
 * system keeps using, as its own pool of metadata blocks would not have.
 */
static CACHE_BLOCK* Evict(CACHE* Cache, BOOL AllowWriteBack) {
    CACHE_BLOCK* Victim = FindVictim(Cache, TRUE);
    if (Victim == NULL && AllowWriteBack && Cache->DirtyCount > 0) {
        WriteBackOldest(Cache, 1);
        Victim = FindVictim(Cache, TRUE);
    }
    if (Victim == NULL) Victim = FindVictim(Cache, FALSE);
    if (Victim == NULL) return NULL;
    Detach(Cache, Victim);
    Cache->Stats.Evictions++;
    return Victim;
}

/** A pinned block becomes active; past the limit, the least recently used other active block stops being. */
static void Activate(CACHE* Cache, CACHE_BLOCK* Block) {
    if (Block->Active) return;
    Block->Active = TRUE;
    Cache->ActiveCount++;
    for (CACHE_BLOCK* Other = Cache->LeastRecent; Other && Cache->ActiveCount > Cache->ActiveLimit;
         Other = Other->Newer) {
        if (Other->Active && Other != Block) {
            Other->Active = FALSE;
            Cache->ActiveCount--;
        }
    }
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
    Block->Pins = 0;
    Block->Orphan = FALSE;
    Block->Active = FALSE;
    Block->Data = (U8*)Block + CACHE_BLOCK_HEADER;
    U32 Bucket = BucketOf(Cache, Number);
    Block->HashNext = Cache->Buckets[Bucket];
    Cache->Buckets[Bucket] = Block;
    ListPushRecent(Cache, Block);
    Cache->BlockCount++;
    return Block;
}

CACHE_BLOCK* CacheAdd(CACHE* Cache, U64 Block) { return AddBlock(Cache, Block, TRUE); }

/**
 * Before a fill of Blocks blocks: make sure that many can be had without
 * writing back and without taking an active block (free slots, then clean
 * inactive unpinned blocks, counted until there are enough).
 */
static void MakeRoom(CACHE* Cache, U32 Blocks) {
    U32 Available = Cache->Capacity - Cache->BlockCount;
    for (CACHE_BLOCK* Block = Cache->LeastRecent; Block && Available < Blocks; Block = Block->Newer) {
        if (Block->DirtyMask == 0 && Block->Pins == 0 && !Block->Active) Available++;
    }
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
 * Vectored read of blocks [From, To) in one backend request: a block not yet
 * cached is added and read into (held by a pin until Fill has used it:
 * nothing evicts it meanwhile); the others, whose valid sectors must stay,
 * are read into their place in Staging. Cache->Direct[I] is the block read
 * into for block From + I (NULL: Staging). Nothing stays cached on failure.
 */
static KSTATUS FillVectored(CACHE* Cache, U64 From, U64 To) {
    U32 Count = 0;
    U64 Staged = 0;
    for (U64 Number = From; Number < To; Number++) {
        U32 I = (U32)(Number - From);
        U32 Bytes = BlockSectors(Cache, Number) * Cache->SectorSize;
        CACHE_BLOCK* Block = Lookup(Cache, Number) ? NULL : AddBlock(Cache, Number, FALSE);
        U8* Target = Cache->Staging + (SIZE)I * Cache->BlockSize;
        Cache->Direct[I] = Block;
        if (Block) {
            Block->Pins++;
            Cache->PinnedCount++;
            Target = Block->Data;
        } else {
            Staged += Bytes;
        }
        DISK_SEGMENT* Last = Count ? &Cache->Segments[Count - 1] : NULL;
        if (Last && (U8*)Last->Buffer + Last->Length == Target) Last->Length += Bytes;
        else Cache->Segments[Count++] = (DISK_SEGMENT){Target, Bytes};
    }
    KSTATUS Status =
        Cache->Backend.ReadVector(Cache->Backend.Context, From * Cache->SectorsPerBlock, Cache->Segments, Count);
    if (Status == KSTATUS_SUCCESS) {
        Cache->Stats.StagedBytes += Staged;
        return Status;
    }
    for (U32 I = 0; I < To - From; I++) {
        if (Cache->Direct[I] == NULL) continue;
        Cache->Direct[I]->Pins--;
        Cache->PinnedCount--;
        FreeBlock(Cache, Cache->Direct[I]);
    }
    return Status;
}

/**
 * Reads blocks [From, To) in one backend request, puts them in the cache
 * (keeping every valid sector: dirty ones are newer, and a pinner may be
 * changing clean ones) and copies the request's part out (not when Buffer
 * is NULL: a pin only wants the blocks cached). Blocks from RequestEnd on
 * are read-ahead. Nothing is cached on failure.
 */
static KSTATUS Fill(CACHE* Cache, U64 From, U64 To, U64 RequestEnd, U64 Sector, U64 Count, U8* Buffer) {
    U64 First = From * Cache->SectorsPerBlock;
    U64 End = MIN(To * Cache->SectorsPerBlock, Cache->SectorCount);
    KSTATUS Status;
    if (Cache->Vectored) {
        Status = FillVectored(Cache, From, To);
    } else {
        Status = Cache->Backend.Read(Cache->Backend.Context, First, (U32)(End - First), Cache->Staging);
        if (Status == KSTATUS_SUCCESS) Cache->Stats.StagedBytes += (End - First) * Cache->SectorSize;
    }
    if (Status != KSTATUS_SUCCESS) return Status;
    Cache->FillEnd = To;
    for (U64 Number = From; Number < To; Number++) {
        const U8* Source = Cache->Staging + (SIZE)(Number - From) * Cache->BlockSize;
        CACHE_BLOCK* Direct = Cache->Vectored ? Cache->Direct[Number - From] : NULL;
        CACHE_BLOCK* Block = CacheFind(Cache, Number);
        if (Block == NULL) Block = AddBlock(Cache, Number, FALSE);
        if (Block && Block != Direct) {
            U32 Sectors = BlockSectors(Cache, Number);
            for (U32 I = 0; I < Sectors; I++) {
                if ((Block->ValidMask >> I) & 1) continue;
                MemoryCopy(Block->Data + (SIZE)I * Cache->SectorSize, Source + (SIZE)I * Cache->SectorSize,
                           Cache->SectorSize);
            }
        }
        if (Block) {
            Block->ValidMask = FullMask(BlockSectors(Cache, Number));
            Source = Block->Data;
        }
        if (Number < RequestEnd) {
            Cache->Stats.Misses++;
            if (Buffer) CopyOut(Cache, Source, Number, Sector, Count, Buffer);
        } else if (Block) {
            Cache->Stats.ReadAheadBlocks++;
        }
    }
    for (U64 Number = From; Cache->Vectored && Number < To; Number++) {
        CACHE_BLOCK* Direct = Cache->Direct[Number - From];
        if (Direct == NULL) continue;
        Direct->Pins--;
        Cache->PinnedCount--;
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
            CACHE_BLOCK* Block = CacheFind(Cache, Number);
            if (Buffer) CopyOut(Cache, Block->Data, Number, Sector, Count, Buffer);
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

/** A read starts: it is sequential when it begins where the previous one ended (Next). */
static void NoteRead(CACHE* Cache, U64 Sector, U64 End) {
    Cache->SequentialRun = (Sector == Cache->NextSequential) ? Cache->SequentialRun + 1 : 0;
    Cache->NextSequential = End;
}

KSTATUS CacheRead(CACHE* Cache, U64 Sector, U32 SectorCount, LPVOID Buffer) {
    if (Cache == NULL || !CheckRequest(Cache, Sector, SectorCount, Buffer)) return KSTATUS_BAD_PARAMETER;
    MutexLock(&Cache->Lock);
    KSTATUS Status = KSTATUS_NO_PERMISSION;
    if (!Cache->Detached) {
        NoteRead(Cache, Sector, Sector + SectorCount);
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

/** Drops sectors from a block (frees it when nothing valid is left and it is not pinned). */
static void DropSectors(CACHE* Cache, CACHE_BLOCK* Block, U64 Mask) {
    U64 WasDirty = Block->DirtyMask;
    Block->DirtyMask &= ~Mask;
    Block->ValidMask &= ~Mask;
    if (WasDirty && Block->DirtyMask == 0) Cache->DirtyCount--;
    if (Block->ValidMask == 0 && Block->Pins == 0) FreeBlock(Cache, Block);
}

/** Sectors of a block become valid and dirty (written, or changed by a pinner). */
static void MarkDirty(CACHE* Cache, CACHE_BLOCK* Block, U64 Mask) {
    Block->ValidMask |= Mask;
    if (Block->DirtyMask == 0) Cache->DirtyCount++;
    Block->DirtyMask |= Mask;
}

static void NoteDirtied(CACHE* Cache) {
    if (Cache->Backend.Dirtied) Cache->Backend.Dirtied(Cache->Backend.Context);
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
        if (Block == NULL) Block = CacheAdd(Cache, Number);
        if (Block == NULL) {
            // No room (every block dirty and the disk refuses them): this part goes straight through.
            KSTATUS Status = Cache->Backend.Write(Cache->Backend.Context, Number * Cache->SectorsPerBlock + Index,
                                                  Sectors, Source);
            if (Status != KSTATUS_SUCCESS) return Status;
            continue;
        }
        MemoryCopy(Block->Data + (SIZE)Index * Cache->SectorSize, Source, (SIZE)Sectors * Cache->SectorSize);
        MarkDirty(Cache, Block, SpanMask(Index, Sectors));
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
    NoteDirtied(Cache);
    return Status;
}

/************************************************************************/
// Pins

/**
 * A pin wants the sectors valid: a hit, or a fill through the read path.
 * For the sequential detector a fill is a read, and counts as reading all it
 * filled (so a scan of an inode table whose blocks share cache blocks reads
 * ahead); a hit is one only where the run goes on (an indirect block between
 * a file's data blocks): a file system touches its cached inode and folder
 * blocks between reads, and those must not break a run.
 */
static KSTATUS PinRead(CACHE* Cache, U64 Number, U64 Sector, U32 Count, CACHE_BLOCK** Result) {
    if (Holds(Cache, Number, Sector, Count)) {
        if (Sector == Cache->NextSequential) NoteRead(Cache, Sector, Sector + Count);
        Cache->Stats.Hits++;
        *Result = CacheFind(Cache, Number);
        return KSTATUS_SUCCESS;
    }
    U64 BlockStart = Number * Cache->SectorsPerBlock;
    NoteRead(Cache, Sector == Cache->NextSequential ? Sector : BlockStart, Sector + Count);
    KSTATUS Status = CachedRead(Cache, Sector, Count, NULL);
    if (Status == KSTATUS_SUCCESS) Cache->NextSequential = MIN(Cache->FillEnd * Cache->SectorsPerBlock, Cache->SectorCount);
    if (Status != KSTATUS_SUCCESS) return Status;
    // The fill may have found no block to keep the data in (every one pinned, or dirty and refused).
    if (!Holds(Cache, Number, Sector, Count)) return KSTATUS_NO_MEMORY;
    *Result = CacheFind(Cache, Number);
    return KSTATUS_SUCCESS;
}

/** A pin for sectors the caller overwrites: zeroed, valid and dirty, no read. */
static KSTATUS PinNew(CACHE* Cache, U64 Number, U64 Sector, U32 Count, CACHE_BLOCK** Result) {
    CACHE_BLOCK* Block = CacheFind(Cache, Number);
    if (Block == NULL) Block = CacheAdd(Cache, Number);
    if (Block == NULL) return KSTATUS_NO_MEMORY;
    U32 Index = (U32)(Sector - Number * Cache->SectorsPerBlock);
    MemorySet(Block->Data + (SIZE)Index * Cache->SectorSize, 0, (SIZE)Count * Cache->SectorSize);
    MarkDirty(Cache, Block, SpanMask(Index, Count));
    *Result = Block;
    return KSTATUS_SUCCESS;
}

KSTATUS CachePin(CACHE* Cache, U64 Sector, U32 Count, BOOL Read, CACHE_BLOCK** Block) {
    *Block = NULL;
    if (Cache == NULL || Count == 0 || Sector >= Cache->SectorCount || Count > Cache->SectorCount - Sector) {
        return KSTATUS_BAD_PARAMETER;
    }
    U64 Number = Sector / Cache->SectorsPerBlock;
    if ((Sector + Count - 1) / Cache->SectorsPerBlock != Number) return KSTATUS_BAD_PARAMETER;
    MutexLock(&Cache->Lock);
    KSTATUS Status = KSTATUS_NO_PERMISSION;
    if (!Cache->Detached) {
        Status = Read ? PinRead(Cache, Number, Sector, Count, Block) : PinNew(Cache, Number, Sector, Count, Block);
    }
    if (Status == KSTATUS_SUCCESS) {
        if ((*Block)->Pins++ == 0) Cache->PinnedCount++;
        Activate(Cache, *Block);
        Cache->Stats.Pins++;
    }
    MutexUnlock(&Cache->Lock);
    if (Status == KSTATUS_SUCCESS && !Read) NoteDirtied(Cache);
    return Status;
}

void CacheMarkDirty(CACHE* Cache, CACHE_BLOCK* Block, U64 Sector, U32 Count) {
    if (Cache == NULL || Block == NULL || Count == 0) return;
    MutexLock(&Cache->Lock);
    U64 First = Block->Block * Cache->SectorsPerBlock;
    BOOL Inside = Sector >= First && Sector - First < Cache->SectorsPerBlock &&
                  Count <= Cache->SectorsPerBlock - (Sector - First);
    // An orphan's cache is gone (the disk went away): there is nothing left to write it to.
    if (Inside && !Block->Orphan) MarkDirty(Cache, Block, SpanMask((U32)(Sector - First), Count));
    MutexUnlock(&Cache->Lock);
    if (Inside && !Block->Orphan) NoteDirtied(Cache);
}

void CacheUnpin(CACHE* Cache, CACHE_BLOCK* Block) {
    if (Cache == NULL || Block == NULL) return;
    MutexLock(&Cache->Lock);
    if (Block->Pins > 0 && --Block->Pins == 0) {
        if (Block->Orphan) {
            KernelHeapFree(Block);
        } else {
            Cache->PinnedCount--;
            // Emptied by an invalidation while pinned: nothing to keep.
            if (Block->ValidMask == 0) FreeBlock(Cache, Block);
        }
    }
    MutexUnlock(&Cache->Lock);
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

KSTATUS CacheWriteBackRange(CACHE* Cache, U64 Sector, U64 SectorCount) {
    if (Cache == NULL || SectorCount == 0) return KSTATUS_BAD_PARAMETER;
    if (__atomic_load_n(&Cache->DirtyCount, __ATOMIC_ACQUIRE) == 0) return KSTATUS_SUCCESS;
    MutexLock(&Cache->Lock);
    KSTATUS Status = Cache->Detached ? KSTATUS_NO_PERMISSION : WriteBackRange(Cache, Sector, SectorCount, NULL);
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
        if (Block->DirtyMask == 0 && Block->Pins == 0) {
            FreeBlock(Cache, Block);
            Dropped++;
        }
    }
    MutexUnlock(&Cache->Lock);
    return Dropped;
}

static void FreeAll(CACHE* Cache) {
    while (Cache->LeastRecent) {
        CACHE_BLOCK* Block = Cache->LeastRecent;
        if (Block->Pins == 0) {
            FreeBlock(Cache, Block);
            continue;
        }
        // Still pinned: its pinner frees it (CacheUnpin); nothing of the cache points to it any more.
        Detach(Cache, Block);
        Cache->PinnedCount--;
        Block->Orphan = TRUE;
    }
    KernelHeapFree(Cache->Buckets);
    KernelHeapFree(Cache->Scratch);
    KernelHeapFree(Cache->Staging);
    KernelHeapFree(Cache->Segments);
    KernelHeapFree(Cache->Direct);
    Cache->Buckets = NULL;
    Cache->Scratch = NULL;
    Cache->Staging = NULL;
    Cache->Segments = NULL;
    Cache->Direct = NULL;
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

void CacheSetReadAhead(CACHE* Cache, U32 Blocks) {
    if (Cache == NULL) return;
    MutexLock(&Cache->Lock);
    Cache->ReadAheadWindow = MIN(Blocks, Cache->Capacity / 4);
    MutexUnlock(&Cache->Lock);
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
    Stats->PinnedBlocks = Cache->PinnedCount;
    Stats->ActiveBlocks = Cache->ActiveCount;
    Stats->BudgetBytes = Cache->Budget;
    Stats->BypassBytes = Cache->BypassBytes;
    Stats->ReadAheadWindow = Cache->ReadAheadWindow;
    MutexUnlock(&Cache->Lock);
}

/************************************************************************/
// Setup

KSTATUS CacheInit(CACHE* Cache, U32 SectorSize, U64 SectorCount, U32 BlockSize, U64 BudgetBytes,
                  const CACHE_BACKEND* Backend) {
    if (Cache == NULL || Backend == NULL || Backend->Read == NULL || Backend->Write == NULL || SectorCount == 0 ||
        SectorSize < 512 || !IS_POWER_OF_TWO(SectorSize) || (BlockSize != 0 && !IS_POWER_OF_TWO(BlockSize)) ||
        (BlockSize != 0 && BlockSize < SectorSize)) {
        return KSTATUS_BAD_PARAMETER;
    }
    MemorySet(Cache, 0, sizeof(*Cache));
    Cache->Backend = *Backend;
    Cache->SectorSize = SectorSize;
    Cache->SectorCount = SectorCount;
    Cache->BlockSize = BlockSize ? BlockSize : MAX(SectorSize, (U32)CACHE_MIN_BLOCK_SIZE);
    Cache->SectorsPerBlock = Cache->BlockSize / SectorSize;
    if (Cache->SectorsPerBlock > CACHE_MAX_SECTORS_PER_BLOCK) return KSTATUS_BAD_PARAMETER;
    Cache->BlockTotal = (SectorCount + Cache->SectorsPerBlock - 1) / Cache->SectorsPerBlock;
    U64 Capacity = BudgetBytes / Cache->BlockSize;
    if (Capacity < CACHE_MIN_CAPACITY) return KSTATUS_BAD_PARAMETER;
    Cache->Capacity = (U32)MIN(Capacity, (U64)CACHE_MAX_CAPACITY);
    Cache->Budget = (U64)Cache->Capacity * Cache->BlockSize;
    Cache->BypassBytes = MIN((U64)CACHE_BYPASS_BYTES, Cache->Budget / 2);
    Cache->ReadAheadWindow = MIN((U32)CACHE_READ_AHEAD_BLOCKS, Cache->Capacity / 4);
    Cache->ActiveLimit = Cache->Capacity / 4;
    Cache->StagingBlocks = MAX(1U, (U32)(CACHE_STAGING_BYTES / Cache->BlockSize));
    // Vectored fills give each block of a run a segment: a run must fit one request's segments.
    Cache->Vectored = Backend->ReadVector && Backend->WriteVector && Cache->StagingBlocks <= DISK_MAX_SEGMENTS;
    U32 Buckets = 16;
    while (Buckets < Cache->Capacity) Buckets <<= 1;
    Cache->BucketMask = Buckets - 1;
    Cache->Buckets = (CACHE_BLOCK**)KernelHeapAllocZero(Buckets * sizeof(CACHE_BLOCK*));
    Cache->Scratch = (CACHE_BLOCK**)KernelHeapAlloc((SIZE)Cache->Capacity * sizeof(CACHE_BLOCK*));
    Cache->Staging = (U8*)KernelHeapAlloc((SIZE)Cache->StagingBlocks * Cache->BlockSize);
    if (Cache->Vectored) {
        Cache->Segments = (DISK_SEGMENT*)KernelHeapAlloc(DISK_MAX_SEGMENTS * sizeof(DISK_SEGMENT));
        Cache->Direct = (CACHE_BLOCK**)KernelHeapAlloc((SIZE)Cache->StagingBlocks * sizeof(CACHE_BLOCK*));
    }
    if (Cache->Buckets == NULL || Cache->Scratch == NULL || Cache->Staging == NULL ||
        (Cache->Vectored && (Cache->Segments == NULL || Cache->Direct == NULL))) {
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

CACHE* CacheCreate(U32 SectorSize, U64 SectorCount, U32 BlockSize, U64 BudgetBytes, const CACHE_BACKEND* Backend) {
    CACHE* Cache = (CACHE*)KernelHeapAlloc(sizeof(CACHE));
    if (Cache == NULL) return NULL;
    if (CacheInit(Cache, SectorSize, SectorCount, BlockSize, BudgetBytes, Backend) != KSTATUS_SUCCESS) {
        KernelHeapFree(Cache);
        return NULL;
    }
    return Cache;
}

void CacheDestroy(CACHE* Cache) {
    CacheDeinit(Cache);
    KernelHeapFree(Cache);
}
