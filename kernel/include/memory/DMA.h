/*
 * DMA.h - physically contiguous, aligned, zeroed buffers for devices.
 *
 * A DMA buffer has both its linear address (through the direct map, write
 * back cached: x86 DMA is cache coherent) and its physical address. The
 * alignment is 4 KiB at least and any power of two up to 2 MiB.
 */

#ifndef MEMORY_DMA_H_INCLUDED
#define MEMORY_DMA_H_INCLUDED

#include "Base.h"

#define DMA_FLAG_BELOW_4GB 0x0001  // for devices that only do 32-bit addressing

typedef struct tag_DMA_BUFFER {
    LPVOID Linear;
    PHYSICAL Physical;
    U64 Size;  // rounded up to whole pages
} DMA_BUFFER;

#define DMA_MAX_ALIGNMENT N_2MB

/** Returns KSTATUS_SUCCESS and fills Buffer, or an error (bad size/alignment, no memory). */
KSTATUS DMAAlloc(U64 Size, U64 Alignment, U32 Flags, DMA_BUFFER* Buffer);
/** The same, with the buffer entirely below Limit (an exclusive physical bound; 0: anywhere). */
KSTATUS DMAAllocBelow(U64 Size, U64 Alignment, PHYSICAL Limit, DMA_BUFFER* Buffer);
void DMAFree(DMA_BUFFER* Buffer);

#endif  // MEMORY_DMA_H_INCLUDED
