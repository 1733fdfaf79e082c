/*
 * Memory.c - brings the memory subsystem up and reports on it.
 *
 * MemoryInit runs once, early in KernelMain (after the boot information is
 * parsed, before anything maps MMIO or allocates), on the boot page tables:
 *   1. the frame allocator from the multiboot2 memory map (Frame.c);
 *   2. new kernel page tables (Paging.c): the kernel image with per-section
 *      permissions, and the direct map of every RAM region listed below;
 *   3. the switch to those tables: from then on low memory is not mapped at
 *      all (a NULL dereference faults) and everything physical is reached
 *      through the direct map or MapIOMemory;
 *   4. the heap over its window (Heap.c).
 *
 * What the direct map covers (write back, no execute):
 *   - the first MiB whole (real-mode area, EBDA, VGA text memory, BIOS ROM:
 *     the MTRRs keep its device parts uncached);
 *   - usable, ACPI reclaimable and ACPI NVS regions;
 *   - reserved regions below 4 GiB, of at most 64 MiB, that start where one
 *     of the above ends: firmware data carved from the top of a RAM region
 *     (SeaBIOS puts the ACPI tables in such a region). Other reserved
 *     regions (the PCI hole, ECAM, the BIOS flash just below 4 GiB) are
 *     device memory: map those with MapIOMemory.
 */

#include "memory/Memory.h"

#include "core/Kernel.h"
#include "core/Log.h"
#include "core/Multiboot.h"
#include "memory/Frame.h"
#include "memory/Heap.h"
#include "memory/Paging.h"

#define DIRECT_MAP_CEILING (MMIO_WINDOW_BASE - DIRECT_MAP_BASE)
#define FIRMWARE_RESERVED_MAX (64 * N_1MB)

typedef struct tag_MEMORY_RANGE {
    PHYSICAL Start;
    PHYSICAL End;
} MEMORY_RANGE;

static U64 MemoryTotalBytes;
static U64 MemoryHighestAddress;

static BOOL IsRAMType(U32 Type) {
    return Type == MULTIBOOT_MEMORY_AVAILABLE || Type == MULTIBOOT_MEMORY_ACPI_RECLAIMABLE ||
           Type == MULTIBOOT_MEMORY_NVS;
}

static MEMORY_RANGE PageRange(const MULTIBOOT_REGION* Region) {
    PHYSICAL End = Region->Base + Region->Length;
    if (End > DIRECT_MAP_CEILING) End = DIRECT_MAP_CEILING;
    MEMORY_RANGE Range = {ALIGN_DOWN(Region->Base, PAGE_SIZE), ALIGN_UP(End, PAGE_SIZE)};
    if (Range.Start >= Range.End) Range.Start = Range.End = 0;
    return Range;
}

/** A reserved region that is firmware data carved from RAM rather than a device window. */
static BOOL IsFirmwareReserved(const MULTIBOOT_REGION* Region) {
    if (Region->Type != MULTIBOOT_MEMORY_RESERVED) return FALSE;
    if (Region->Base >= N_4GB || Region->Length > FIRMWARE_RESERVED_MAX) return FALSE;
    MEMORY_RANGE Range = PageRange(Region);
    for (U32 Index = 0; Index < KernelBootInfo.RegionCount; Index++) {
        const MULTIBOOT_REGION* Other = &KernelBootInfo.Regions[Index];
        if (!IsRAMType(Other->Type)) continue;
        MEMORY_RANGE OtherRange = PageRange(Other);
        if (OtherRange.Start < Range.Start && OtherRange.End >= Range.Start) return TRUE;
    }
    return FALSE;
}

/** Sorts Ranges by start and merges overlapping or touching ones; returns the new count. */
static U32 MergeRanges(MEMORY_RANGE* Ranges, U32 Count) {
    for (U32 I = 1; I < Count; I++) {
        MEMORY_RANGE Key = Ranges[I];
        U32 J = I;
        while (J > 0 && Ranges[J - 1].Start > Key.Start) {
            Ranges[J] = Ranges[J - 1];
            J--;
        }
        Ranges[J] = Key;
    }
    U32 Out = 0;
    for (U32 I = 0; I < Count; I++) {
        if (Ranges[I].Start >= Ranges[I].End) continue;
        if (Out > 0 && Ranges[I].Start <= Ranges[Out - 1].End) {
            Ranges[Out - 1].End = MAX(Ranges[Out - 1].End, Ranges[I].End);
        } else {
            Ranges[Out++] = Ranges[I];
        }
    }
    return Out;
}

static void BuildDirectMap(void) {
    // Static: too big for the boot stack, and needed only once.
    static MEMORY_RANGE Ranges[MULTIBOOT_MAX_MEMORY_REGIONS + 1];
    U32 Count = 0;
    Ranges[Count++] = (MEMORY_RANGE){0, N_1MB};
    for (U32 Index = 0; Index < KernelBootInfo.RegionCount; Index++) {
        const MULTIBOOT_REGION* Region = &KernelBootInfo.Regions[Index];
        if (IsRAMType(Region->Type) || IsFirmwareReserved(Region)) Ranges[Count++] = PageRange(Region);
    }
    Count = MergeRanges(Ranges, Count);
    for (U32 Index = 0; Index < Count; Index++) {
        if (!PagingMapDirect(Ranges[Index].Start, Ranges[Index].End - Ranges[Index].Start)) {
            KernelPanic("[MemoryInit] cannot direct-map %llx-%llx", Ranges[Index].Start, Ranges[Index].End);
        }
        DEBUG("[MemoryInit] direct map %llx-%llx", Ranges[Index].Start, Ranges[Index].End);
    }
}

void MemoryInit(void) {
    if (!KernelBootInfo.Valid || KernelBootInfo.RegionCount == 0) KernelPanic("[MemoryInit] no memory map");
    for (U32 Index = 0; Index < KernelBootInfo.RegionCount; Index++) {
        const MULTIBOOT_REGION* Region = &KernelBootInfo.Regions[Index];
        if (Region->Type != MULTIBOOT_MEMORY_AVAILABLE) continue;
        MemoryTotalBytes += Region->Length;
        MemoryHighestAddress = MAX(MemoryHighestAddress, Region->Base + Region->Length);
    }

    if (!FrameInit()) KernelPanic("[MemoryInit] cannot set up the frame allocator");
    if (!PagingBuildKernelTables()) KernelPanic("[MemoryInit] cannot build the kernel page tables");
    BuildDirectMap();
    PagingActivate();
    KernelHeapInit();

    MEMORY_STATS Stats;
    MemoryGetStats(&Stats);
    INFO("[MemoryInit] %llu MiB RAM, %llu MiB free, highest address %llx, heap window %llx-%llx, NX %s",
         Stats.TotalBytes / N_1MB, Stats.FreeBytes / N_1MB, Stats.HighestAddress, HEAP_WINDOW_BASE,
         HEAP_WINDOW_BASE + HEAP_WINDOW_SIZE, PagingHasNoExecute() ? "on" : "absent");
}

void MemoryGetStats(MEMORY_STATS* Stats) {
    FRAME_COUNTS Counts;
    FrameGetCounts(&Counts);
    Stats->TotalBytes = MemoryTotalBytes;
    Stats->FreeBytes = Counts.FreeFrames * PAGE_SIZE;
    Stats->UsedBytes = Stats->TotalBytes > Stats->FreeBytes ? Stats->TotalBytes - Stats->FreeBytes : 0;
    Stats->ReservedBytes = Counts.ReservedFrames * PAGE_SIZE;
    Stats->HighestAddress = MemoryHighestAddress;
    KernelHeapGetStats(&Stats->HeapBytes, &Stats->HeapUsedBytes, &Stats->HeapAllocations);
}
