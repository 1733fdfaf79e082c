/*
 * DMA.c - buffers for devices (see DMA.h).
 *
 * A DMA buffer is a run of contiguous frames straight from the frame
 * allocator, reached through the direct map (RAM is direct-mapped write back;
 * x86 DMA snoops the caches, so no special mapping is needed). Buffers are
 * zeroed so a device never reads stale kernel data. The caller owns the
 * buffer until DMAFree, which must get the DMA_BUFFER that DMAAlloc filled.
 * Safe from any context (the frame allocator takes its own lock).
 */

#include "memory/DMA.h"

#include "core/Log.h"
#include "memory/Frame.h"
#include "memory/Memory.h"
#include "utils/String.h"

#define DMA_MAX_SIZE N_1GB  // sanity bound: larger requests are surely a bug
#define DMA_KNOWN_FLAGS DMA_FLAG_BELOW_4GB

KSTATUS DMAAlloc(U64 Size, U64 Alignment, U32 Flags, DMA_BUFFER* Buffer) {
    if (Buffer == NULL) return KSTATUS_BAD_PARAMETER;
    if ((Flags & ~DMA_KNOWN_FLAGS) != 0) {
        MemorySet(Buffer, 0, sizeof(*Buffer));
        return KSTATUS_BAD_PARAMETER;
    }
    return DMAAllocBelow(Size, Alignment, (Flags & DMA_FLAG_BELOW_4GB) ? N_4GB : 0, Buffer);
}

KSTATUS DMAAllocBelow(U64 Size, U64 Alignment, PHYSICAL Limit, DMA_BUFFER* Buffer) {
    if (Buffer == NULL) return KSTATUS_BAD_PARAMETER;
    MemorySet(Buffer, 0, sizeof(*Buffer));
    if (Size == 0 || Size > DMA_MAX_SIZE) return KSTATUS_BAD_PARAMETER;
    if (Alignment < PAGE_SIZE) Alignment = PAGE_SIZE;  // every buffer is at least page aligned
    if (!IS_POWER_OF_TWO(Alignment) || Alignment > DMA_MAX_ALIGNMENT) return KSTATUS_BAD_PARAMETER;

    U64 Bytes = ALIGN_UP(Size, PAGE_SIZE);
    PHYSICAL Physical = FrameAllocContiguous(Bytes >> PAGE_SHIFT, Alignment, Limit);
    if (Physical == 0) {
        LOG_RATE_LIMITED(LOG_LEVEL_WARNING, 5000, 3, "[DMAAlloc] no %llu contiguous bytes (alignment %llx, limit %llx)",
                         Bytes, Alignment, Limit);
        return KSTATUS_NO_MEMORY;
    }

    Buffer->Linear = PhysicalToLinear(Physical);
    Buffer->Physical = Physical;
    Buffer->Size = Bytes;
    MemorySet(Buffer->Linear, 0, Bytes);
    return KSTATUS_SUCCESS;
}

void DMAFree(DMA_BUFFER* Buffer) {
    if (Buffer == NULL || Buffer->Physical == 0 || Buffer->Size == 0) return;
    FrameFreeContiguous(Buffer->Physical, Buffer->Size >> PAGE_SHIFT);
    MemorySet(Buffer, 0, sizeof(*Buffer));
}
