/*
 * Frame.h - the physical frame (4 KiB page) allocator.
 *
 * A bitmap with one bit per frame up to the highest usable address (memory
 * above 4 GiB included). Everything starts reserved; usable regions from the
 * multiboot2 map are released, then the kernel image, the modules, the
 * multiboot information and the bitmap itself are reserved again. Frame 0 is
 * never handed out. Contiguous, aligned runs (for DMA) and a physical upper
 * bound (below 4 GiB for 32-bit devices) are supported.
 *
 * The FRAME_ALLOCATOR functions are pure logic (host unit tests build them);
 * the Frame* wrappers use the kernel's single instance under a spinlock.
 */

#ifndef MEMORY_FRAME_H_INCLUDED
#define MEMORY_FRAME_H_INCLUDED

#include "Base.h"

typedef struct tag_FRAME_ALLOCATOR {
    U8* Bitmap;        // bit set = frame in use or reserved
    U64 FrameCount;    // frames covered by the bitmap
    U64 FreeFrames;
    U64 UsableFrames;  // frames ever released as usable
    U64 SearchHint;    // where the next single-frame search starts
} FRAME_ALLOCATOR;

/** Bytes of bitmap needed for FrameCount frames. */
U64 FrameAllocatorBitmapBytes(U64 FrameCount);
void FrameAllocatorInit(FRAME_ALLOCATOR* Allocator, U8* Bitmap, U64 FrameCount);
/** Marks [Base, Base+Size) usable and free (whole frames inside the range only). */
void FrameAllocatorReleaseRange(FRAME_ALLOCATOR* Allocator, PHYSICAL Base, U64 Size);
/** Marks every frame touching [Base, Base+Size) in use. */
void FrameAllocatorReserveRange(FRAME_ALLOCATOR* Allocator, PHYSICAL Base, U64 Size);
/**
 * Allocates Count contiguous frames whose first address is a multiple of
 * Alignment (a power of two, at least 4 KiB) and whose end is at or below
 * Limit (0 = no limit). Returns 0 on failure.
 */
PHYSICAL FrameAllocatorAllocate(FRAME_ALLOCATOR* Allocator, U64 Count, U64 Alignment, PHYSICAL Limit);
/** Frees Count frames at Base; returns FALSE (and frees nothing) if any of them was not allocated. */
BOOL FrameAllocatorFree(FRAME_ALLOCATOR* Allocator, PHYSICAL Base, U64 Count);
BOOL FrameAllocatorIsUsed(const FRAME_ALLOCATOR* Allocator, PHYSICAL Address);

/** Kernel instance. */
PHYSICAL FrameAlloc(void);
PHYSICAL FrameAllocContiguous(U64 Count, U64 Alignment, PHYSICAL Limit);
void FrameFree(PHYSICAL Frame);
void FrameFreeContiguous(PHYSICAL Base, U64 Count);

/**
 * Builds the kernel instance from KernelBootInfo (MemoryInit only, on the
 * boot page tables: the bitmap is placed in usable RAM below 4 GiB).
 * Returns FALSE if the map has no usable memory or no room for the bitmap.
 */
BOOL FrameInit(void);

typedef struct tag_FRAME_COUNTS {
    U64 UsableFrames;    // frames released from usable regions
    U64 FreeFrames;
    U64 ReservedFrames;  // usable frames kept at init (image, boot data, bitmap, first MiB)
    U64 FrameCount;      // frames covered by the bitmap
} FRAME_COUNTS;

void FrameGetCounts(FRAME_COUNTS* Counts);

#endif  // MEMORY_FRAME_H_INCLUDED
