/*
 * Heap.c - the kernel heap (see Heap.h).
 *
 * HEAP manages one contiguous region [Start, End) that grows at End, up to
 * Limit, through a callback. The region is a sequence of blocks, each with a
 * 16-byte header (size, magic, check word) so that walking by sizes visits
 * every block. Free blocks also hold a link to the next free block; the free
 * list is kept in address order so a freed block finds and merges with its
 * neighbours. Allocation is first fit, splitting a block when the rest is big
 * enough to be a block of its own.
 *
 * A free checks the header first: a pointer that is not the payload of a
 * live block (double free, pointer into the middle of a block, wild value)
 * has the wrong alignment, range, magic or check word, and is refused. The
 * header of a block merged into its left neighbour is wiped, so a second free
 * of it is refused too. A block that was freed and handed out again cannot
 * be told from a live one: that double free goes unseen.
 *
 * The HEAP functions are pure (host unit tests run them on a buffer). The
 * kernel heap serialises them with HeapLock; its growth callback maps frames
 * into the heap window (lock order: HeapLock, PagingLock, FrameLock).
 */

#include "memory/Heap.h"

#include "utils/String.h"

#define HEAP_MAGIC_USED 0x48505553U  // "SUPH"
#define HEAP_MAGIC_FREE 0x48504546U  // "FEPH"

typedef struct tag_HEAP_BLOCK {
    U64 Size;   // whole block, header included, a multiple of HEAP_ALIGNMENT
    U32 Magic;
    U32 Check;  // ties magic and size to the block's address
} HEAP_BLOCK;

typedef struct tag_HEAP_FREE_BLOCK {
    HEAP_BLOCK Header;
    struct tag_HEAP_FREE_BLOCK* Next;  // next free block, higher address
} HEAP_FREE_BLOCK;

STATIC_ASSERT(sizeof(HEAP_BLOCK) == HEAP_HEADER_SIZE, "heap header size");
STATIC_ASSERT(sizeof(HEAP_FREE_BLOCK) <= HEAP_MINIMUM_BLOCK, "heap minimum block");

/************************************************************************/
// Headers

static U32 BlockCheck(const HEAP_BLOCK* Block) {
    U64 Mix = (U64)(LINEAR)Block ^ (Block->Size * 0x9E3779B97F4A7C15ULL) ^ Block->Magic;
    return (U32)(Mix ^ (Mix >> 32)) ^ 0xA5C3E1F7U;
}

static void BlockSet(HEAP_BLOCK* Block, U64 Size, U32 Magic) {
    Block->Size = Size;
    Block->Magic = Magic;
    Block->Check = BlockCheck(Block);
}

static void BlockWipe(HEAP_BLOCK* Block) {
    Block->Size = 0;
    Block->Magic = 0;
    Block->Check = 0;
}

/** A block header at Address inside the heap, with a sane size, magic and check word. */
static BOOL BlockValid(const HEAP* Heap, LINEAR Address, U32 Magic) {
    if (Address < Heap->Start || Address >= Heap->End || Heap->End - Address < HEAP_MINIMUM_BLOCK) return FALSE;
    if (!IS_ALIGNED(Address - Heap->Start, HEAP_ALIGNMENT)) return FALSE;
    const HEAP_BLOCK* Block = (const HEAP_BLOCK*)Address;
    if (Block->Magic != Magic || Block->Check != BlockCheck(Block)) return FALSE;
    if (Block->Size < HEAP_MINIMUM_BLOCK || !IS_ALIGNED(Block->Size, HEAP_ALIGNMENT)) return FALSE;
    return Block->Size <= Heap->End - Address;
}

static inline LINEAR BlockEnd(const HEAP_FREE_BLOCK* Block) { return (LINEAR)Block + Block->Header.Size; }

/************************************************************************/
// Allocator

void HeapInit(HEAP* Heap, LINEAR Start, LINEAR Limit, HEAP_GROW Grow, LPVOID GrowContext) {
    MemorySet(Heap, 0, sizeof(*Heap));
    Heap->Start = ALIGN_UP(Start, HEAP_ALIGNMENT);
    Heap->End = Heap->Start;
    Heap->Limit = ALIGN_DOWN(Limit, HEAP_ALIGNMENT);
    if (Heap->Limit < Heap->Start) Heap->Limit = Heap->Start;
    Heap->Grow = Grow;
    Heap->GrowContext = GrowContext;
}

/** Hands out Block (found through *Link) for Needed bytes, splitting off the rest if it can stand alone. */
static LPVOID TakeBlock(HEAP* Heap, HEAP_FREE_BLOCK** Link, HEAP_FREE_BLOCK* Block, U64 Needed) {
    U64 Size = Block->Header.Size;
    if (Size - Needed >= HEAP_MINIMUM_BLOCK) {
        HEAP_FREE_BLOCK* Rest = (HEAP_FREE_BLOCK*)((LINEAR)Block + Needed);
        BlockSet(&Rest->Header, Size - Needed, HEAP_MAGIC_FREE);
        Rest->Next = Block->Next;
        *Link = Rest;
        Size = Needed;
    } else {
        *Link = Block->Next;
    }
    BlockSet(&Block->Header, Size, HEAP_MAGIC_USED);
    Heap->UsedBytes += Size;
    Heap->Allocations++;
    return (U8*)Block + HEAP_HEADER_SIZE;
}

/** Grows the region so that a free block of Needed bytes ends at End. */
static BOOL GrowFor(HEAP* Heap, U64 Needed) {
    HEAP_FREE_BLOCK* Last = NULL;
    for (HEAP_FREE_BLOCK* Block = Heap->FreeList; Block; Block = Block->Next) Last = Block;
    BOOL LastAtEnd = Last != NULL && BlockEnd(Last) == Heap->End;
    U64 Missing = LastAtEnd ? Needed - Last->Header.Size : Needed;

    U64 Room = Heap->Limit - Heap->End;
    if (Heap->Grow == NULL || Missing > Room) return FALSE;
    U64 Bytes = ALIGN_UP(Missing, HEAP_GROW_UNIT);
    if (Bytes > Room) Bytes = ALIGN_DOWN(Room, HEAP_ALIGNMENT);
    if (!Heap->Grow(Heap->GrowContext, Heap->End, Bytes)) return FALSE;

    if (LastAtEnd) {
        BlockSet(&Last->Header, Last->Header.Size + Bytes, HEAP_MAGIC_FREE);
    } else {
        HEAP_FREE_BLOCK* Block = (HEAP_FREE_BLOCK*)Heap->End;
        BlockSet(&Block->Header, Bytes, HEAP_MAGIC_FREE);
        Block->Next = NULL;
        if (Last) {
            Last->Next = Block;
        } else {
            Heap->FreeList = Block;
        }
    }
    Heap->End += Bytes;
    return TRUE;
}

LPVOID HeapAlloc(HEAP* Heap, SIZE Size) {
    if (Size == 0 || Size > Heap->Limit - Heap->Start) return NULL;
    U64 Needed = MAX(ALIGN_UP((U64)Size + HEAP_HEADER_SIZE, (U64)HEAP_ALIGNMENT), (U64)HEAP_MINIMUM_BLOCK);

    // Two passes at most: the second runs after growing by enough.
    for (U32 Pass = 0; Pass < 2; Pass++) {
        HEAP_FREE_BLOCK** Link = (HEAP_FREE_BLOCK**)&Heap->FreeList;
        while (*Link) {
            HEAP_FREE_BLOCK* Block = *Link;
            if (Block->Header.Size >= Needed) return TakeBlock(Heap, Link, Block, Needed);
            Link = &Block->Next;
        }
        if (Pass == 0 && !GrowFor(Heap, Needed)) return NULL;
    }
    return NULL;
}

BOOL HeapFree(HEAP* Heap, LPVOID Pointer) {
    if (Pointer == NULL) return FALSE;
    LINEAR Address = (LINEAR)Pointer - HEAP_HEADER_SIZE;
    if ((LINEAR)Pointer < HEAP_HEADER_SIZE || !BlockValid(Heap, Address, HEAP_MAGIC_USED)) {
        Heap->Errors++;
        return FALSE;
    }
    HEAP_FREE_BLOCK* Block = (HEAP_FREE_BLOCK*)Address;

    HEAP_FREE_BLOCK* Previous = NULL;
    HEAP_FREE_BLOCK* Next = Heap->FreeList;
    while (Next && (LINEAR)Next < Address) {
        Previous = Next;
        Next = Next->Next;
    }
    // A "live" header inside a free block is a stale copy: refuse it.
    if ((Previous && BlockEnd(Previous) > Address) || (Next && BlockEnd(Block) > (LINEAR)Next)) {
        Heap->Errors++;
        return FALSE;
    }

    Heap->UsedBytes -= Block->Header.Size;
    Heap->Allocations--;
    BlockSet(&Block->Header, Block->Header.Size, HEAP_MAGIC_FREE);
    Block->Next = Next;
    if (Previous) {
        Previous->Next = Block;
    } else {
        Heap->FreeList = Block;
    }

    if (Next && BlockEnd(Block) == (LINEAR)Next) {
        Block->Next = Next->Next;
        BlockSet(&Block->Header, Block->Header.Size + Next->Header.Size, HEAP_MAGIC_FREE);
        BlockWipe(&Next->Header);
    }
    if (Previous && BlockEnd(Previous) == Address) {
        Previous->Next = Block->Next;
        BlockSet(&Previous->Header, Previous->Header.Size + Block->Header.Size, HEAP_MAGIC_FREE);
        BlockWipe(&Block->Header);
    }
    return TRUE;
}

BOOL HeapCheck(const HEAP* Heap) {
    const HEAP_FREE_BLOCK* ExpectedFree = Heap->FreeList;
    U64 UsedBytes = 0, Allocations = 0;
    BOOL PreviousFree = FALSE;
    LINEAR Address = Heap->Start;
    while (Address < Heap->End) {
        const HEAP_BLOCK* Block = (const HEAP_BLOCK*)Address;
        if (BlockValid(Heap, Address, HEAP_MAGIC_FREE)) {
            // Free blocks appear in list order, and two never touch (they would have merged).
            if (PreviousFree || (LINEAR)ExpectedFree != Address) return FALSE;
            ExpectedFree = ExpectedFree->Next;
            PreviousFree = TRUE;
        } else if (BlockValid(Heap, Address, HEAP_MAGIC_USED)) {
            UsedBytes += Block->Size;
            Allocations++;
            PreviousFree = FALSE;
        } else {
            return FALSE;
        }
        Address += Block->Size;
    }
    return Address == Heap->End && ExpectedFree == NULL && UsedBytes == Heap->UsedBytes &&
           Allocations == Heap->Allocations;
}

SIZE HeapBlockSize(LPVOID Pointer) {
    if (Pointer == NULL || !IS_ALIGNED((LINEAR)Pointer, HEAP_ALIGNMENT)) return 0;
    const HEAP_BLOCK* Block = (const HEAP_BLOCK*)((LINEAR)Pointer - HEAP_HEADER_SIZE);
    if (Block->Magic != HEAP_MAGIC_USED || Block->Check != BlockCheck(Block)) return 0;
    if (Block->Size < HEAP_MINIMUM_BLOCK) return 0;
    return Block->Size - HEAP_HEADER_SIZE;
}

/************************************************************************/
// Kernel heap

#ifndef CAIRN_HOST_BUILD

#include "core/Log.h"
#include "core/Spinlock.h"
#include "memory/Frame.h"
#include "memory/Memory.h"
#include "memory/Paging.h"

static HEAP KernelHeap;  // zeroed until KernelHeapInit: every allocation fails
static SPINLOCK HeapLock = SPINLOCK_INIT;

// Undoes a growth that failed half way, under HeapLock: those pages were never handed out.
static void KernelHeapShrinkMapping(LINEAR Start, U64 Bytes) {
    for (U64 Offset = 0; Offset < Bytes; Offset += PAGE_SIZE) {
        PHYSICAL Frame = LinearToPhysical(Start + Offset);
        PagingUnmapUnpublished(Start + Offset);
        if (Frame != 0) FrameFree(Frame);
    }
}

/** Maps fresh frames at [End, End+Bytes); on failure undoes what it mapped. */
static BOOL KernelHeapGrow(LPVOID Context, LINEAR End, U64 Bytes) {
    UNUSED(Context);
    for (U64 Offset = 0; Offset < Bytes; Offset += PAGE_SIZE) {
        PHYSICAL Frame = FrameAlloc();
        if (Frame == 0 || !PagingMap(End + Offset, Frame, PAGE_WRITABLE | PAGE_NO_EXECUTE)) {
            if (Frame != 0) FrameFree(Frame);
            KernelHeapShrinkMapping(End, Offset);
            return FALSE;
        }
    }
    return TRUE;
}

void KernelHeapInit(void) {
    U64 Flags = SpinlockAcquire(&HeapLock);
    HeapInit(&KernelHeap, HEAP_WINDOW_BASE, HEAP_WINDOW_BASE + HEAP_WINDOW_SIZE, KernelHeapGrow, NULL);
    SpinlockRelease(&HeapLock, Flags);
}

LPVOID KernelHeapAlloc(SIZE Size) {
    U64 Flags = SpinlockAcquire(&HeapLock);
    LPVOID Pointer = HeapAlloc(&KernelHeap, Size);
    SpinlockRelease(&HeapLock, Flags);
    return Pointer;
}

LPVOID KernelHeapAllocZero(SIZE Size) {
    LPVOID Pointer = KernelHeapAlloc(Size);
    if (Pointer != NULL) MemorySet(Pointer, 0, Size);
    return Pointer;
}

void KernelHeapFree(LPVOID Pointer) {
    if (Pointer == NULL) return;
    U64 Flags = SpinlockAcquire(&HeapLock);
    BOOL Freed = HeapFree(&KernelHeap, Pointer);
    SpinlockRelease(&HeapLock, Flags);
    if (!Freed) {
        LOG_RATE_LIMITED(LOG_LEVEL_WARNING, 5000, 1, "[KernelHeapFree] %p is not a live heap block (double free?)",
                         Pointer);
    }
}

void KernelHeapGetStats(U64* MappedBytes, U64* UsedBytes, U64* Allocations) {
    U64 Flags = SpinlockAcquire(&HeapLock);
    *MappedBytes = KernelHeap.End - KernelHeap.Start;
    *UsedBytes = KernelHeap.UsedBytes;
    *Allocations = KernelHeap.Allocations;
    SpinlockRelease(&HeapLock, Flags);
}

#endif  // CAIRN_HOST_BUILD
