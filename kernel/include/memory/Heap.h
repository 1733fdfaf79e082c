/*
 * Heap.h - the kernel heap.
 *
 * KernelHeapAlloc returns 16-byte aligned memory (not zeroed; use
 * KernelHeapAllocZero) or NULL; KernelHeapFree(NULL) is allowed. The heap
 * grows in its own virtual window, page by page, from the frame allocator.
 *
 * HEAP is the allocator itself, pure logic over a contiguous region that
 * grows at its end through a callback, so host unit tests run it on an
 * ordinary buffer. Blocks carry a header with their size and a magic value;
 * free blocks are coalesced with their neighbours; a double free or a
 * corrupted header is detected and reported instead of corrupting the heap.
 */

#ifndef MEMORY_HEAP_H_INCLUDED
#define MEMORY_HEAP_H_INCLUDED

#include "Base.h"

typedef BOOL (*HEAP_GROW)(LPVOID Context, LINEAR End, U64 Bytes);

typedef struct tag_HEAP {
    LINEAR Start;
    LINEAR End;          // current end of the managed region
    LINEAR Limit;        // the region may grow up to here
    HEAP_GROW Grow;      // maps [End, End+Bytes) or fails
    LPVOID GrowContext;
    LPVOID FreeList;     // first free block, address ordered
    U64 UsedBytes;
    U64 Allocations;
    U64 Errors;          // bad frees detected
} HEAP;

#define HEAP_ALIGNMENT 16
#define HEAP_HEADER_SIZE 16     // bytes before each block's payload
#define HEAP_MINIMUM_BLOCK 32   // header + free-list link, rounded to the alignment
#define HEAP_GROW_UNIT 0x1000   // the region grows by multiples of this (one page)

void HeapInit(HEAP* Heap, LINEAR Start, LINEAR Limit, HEAP_GROW Grow, LPVOID GrowContext);
/** Returns NULL for Size 0, or when the region cannot grow enough. */
LPVOID HeapAlloc(HEAP* Heap, SIZE Size);
/** Returns FALSE (and changes nothing) for a pointer that is not a live block of this heap. */
BOOL HeapFree(HEAP* Heap, LPVOID Pointer);
/** Walks the heap and checks every header; returns FALSE on corruption. */
BOOL HeapCheck(const HEAP* Heap);
/** Usable bytes of a live block (at least what was asked), or 0 if Pointer is not one. */
SIZE HeapBlockSize(LPVOID Pointer);

/** The kernel heap. */
LPVOID KernelHeapAlloc(SIZE Size);
LPVOID KernelHeapAllocZero(SIZE Size);
void KernelHeapFree(LPVOID Pointer);

/** Sets the kernel heap up over the heap window (MemoryInit, after paging is active). */
void KernelHeapInit(void);
/** Window bytes mapped, bytes handed out (headers included), live allocations. */
void KernelHeapGetStats(U64* MappedBytes, U64* UsedBytes, U64* Allocations);

#endif  // MEMORY_HEAP_H_INCLUDED
