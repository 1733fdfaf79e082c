/*
 * SMP-Trampoline.c - choosing the real-mode page for application processors
 * (see SMP-Trampoline.h for the rules and their sources).
 *
 * Pure functions over the memory map the caller passes: no hardware access,
 * built unchanged into the host unit tests.
 */

#include "arch/x86-64/SMP-Trampoline.h"

// Plausible EBDA start and base memory, as Linux's reserve_bios_regions() bounds them.
#define SMP_BIOS_START_MIN 0x20000ULL
#define SMP_BIOS_START_MAX 0x9F000ULL

PHYSICAL SMPTrampolineBiosCeiling(U16 EbdaSegment, U16 BaseMemoryKiB) {
    PHYSICAL Ceiling = SMP_TRAMPOLINE_BIOS_CEILING;
    PHYSICAL Ebda = (PHYSICAL)EbdaSegment << 4;
    PHYSICAL BaseMemory = (PHYSICAL)BaseMemoryKiB * 1024;
    if (Ebda >= SMP_BIOS_START_MIN && Ebda < Ceiling) Ceiling = Ebda;
    if (BaseMemory >= SMP_BIOS_START_MIN && BaseMemory < Ceiling) Ceiling = BaseMemory;
    return ALIGN_DOWN(Ceiling, PAGE_SIZE);
}

static BOOL Overlaps(PHYSICAL Start, PHYSICAL End, PHYSICAL OtherStart, PHYSICAL OtherEnd) {
    return Start < OtherEnd && OtherStart < End;
}

/** TRUE when [Page, Page + 4 KiB) lies inside a usable region and overlaps no other kind of region. */
static BOOL PageIsUsable(PHYSICAL Page, const MULTIBOOT_REGION* Regions, U32 RegionCount) {
    BOOL Inside = FALSE;
    for (U32 Index = 0; Index < RegionCount; Index++) {
        const MULTIBOOT_REGION* Region = &Regions[Index];
        if (Region->Length == 0) continue;
        PHYSICAL End = Region->Base + Region->Length < Region->Base ? MAX_U64 : Region->Base + Region->Length;
        if (Region->Type == MULTIBOOT_MEMORY_AVAILABLE) {
            if (Region->Base <= Page && End >= Page + PAGE_SIZE) Inside = TRUE;
        } else if (Overlaps(Page, Page + PAGE_SIZE, Region->Base, End)) {
            return FALSE;
        }
    }
    return Inside;
}

PHYSICAL SMPTrampolineChoosePage(const MULTIBOOT_REGION* Regions, U32 RegionCount, const SMP_RANGE* Excluded,
                                 U32 ExcludedCount, PHYSICAL Ceiling) {
    if (Regions == NULL || Ceiling > N_1MB) return 0;
    for (PHYSICAL Page = ALIGN_DOWN(Ceiling, PAGE_SIZE); Page >= SMP_TRAMPOLINE_FLOOR + PAGE_SIZE;) {
        Page -= PAGE_SIZE;
        BOOL Clear = PageIsUsable(Page, Regions, RegionCount);
        for (U32 Index = 0; Clear && Index < ExcludedCount; Index++) {
            if (Overlaps(Page, Page + PAGE_SIZE, Excluded[Index].Start, Excluded[Index].End)) Clear = FALSE;
        }
        if (Clear) return Page;
    }
    return 0;
}
