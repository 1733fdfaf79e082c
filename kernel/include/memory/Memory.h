/*
 * Memory.h - the kernel's address space layout and memory services.
 *
 * Virtual layout (4-level paging, 48-bit addresses):
 *   0x0000000000000000 - user space (unused for now; page 0 never mapped)
 *   0xFFFF800000000000 - direct map: every RAM region at PHYSICAL + DIRECT_MAP_BASE,
 *                        write-back cached (2 MiB pages where possible)
 *   0xFFFFC00000000000 - MMIO window: MapIOMemory() mappings, uncached 4 KiB pages
 *   0xFFFFD00000000000 - kernel heap, grown on demand in 4 KiB pages
 *   0xFFFFE00000000000 - thread stacks, 64 KiB slots with guards (core/Scheduler.c)
 *   0xFFFFF00000000000 - one page `selftest smp` maps, remaps and unmaps (TLB shootdown check)
 *   0xFFFFFFFF80000000 - the kernel image (-mcmodel=kernel)
 *
 * Physical memory is handed out by the frame allocator (Frame.h); DMA
 * buffers come from DMA.h, the heap from Heap.h.
 */

#ifndef MEMORY_MEMORY_H_INCLUDED
#define MEMORY_MEMORY_H_INCLUDED

#include "Base.h"

#define DIRECT_MAP_BASE 0xFFFF800000000000ULL
#define MMIO_WINDOW_BASE 0xFFFFC00000000000ULL
#define MMIO_WINDOW_SIZE 0x0000010000000000ULL  // 1 TiB
#define HEAP_WINDOW_BASE 0xFFFFD00000000000ULL
#define HEAP_WINDOW_SIZE 0x0000010000000000ULL
#define SELFTEST_PAGE 0xFFFFF00000000000ULL
#define KERNEL_VMA 0xFFFFFFFF80000000ULL

/** Linear address of a physical address through the direct map (RAM only). */
static inline LPVOID PhysicalToLinear(PHYSICAL Address) { return (LPVOID)(UINT)(Address + DIRECT_MAP_BASE); }

/** Physical address of a kernel image symbol. */
static inline PHYSICAL KernelImageToPhysical(LINEAR Address) { return (PHYSICAL)(Address - KERNEL_VMA); }

typedef struct tag_MEMORY_STATS {
    U64 TotalBytes;      // usable RAM reported by firmware
    U64 FreeBytes;       // frames not allocated
    U64 UsedBytes;       // TotalBytes - FreeBytes
    U64 ReservedBytes;   // kernel image, boot data, allocator bitmap inside usable RAM
    U64 HighestAddress;  // end of the highest usable region
    U64 HeapBytes;       // heap window mapped
    U64 HeapUsedBytes;   // heap bytes handed out (with headers)
    U64 HeapAllocations; // live heap allocations
} MEMORY_STATS;

/** Brings up the frame allocator, the kernel page tables and the heap from the multiboot2 map. */
void MemoryInit(void);
void MemoryGetStats(MEMORY_STATS* Stats);

#endif  // MEMORY_MEMORY_H_INCLUDED
