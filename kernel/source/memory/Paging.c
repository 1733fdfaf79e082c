/*
 * Paging.c - the kernel page tables (see Paging.h and Memory.h for the layout).
 *
 * Four levels (PML4, PDPT, PD, PT; Intel SDM vol. 3A 4.5). Every table lives
 * in a frame from the frame allocator and is reached through the direct map.
 * MemoryInit builds the new tables while the CPU still runs on the boot
 * tables (Boot.asm), which direct-map only the first 4 GiB: until
 * PagingActivate, table frames are therefore allocated below 4 GiB.
 *
 * Intermediate entries are present + writable and never NX or user; leaf
 * entries carry the permissions. Tables are never freed, so a lock-free walk
 * (PagingTranslate, usable from a fault handler) never reads a freed table.
 * Changes take PagingLock; lock order: PagingLock, then FrameLock.
 *
 * Several CPUs: every CPU uses these same tables, so a change that another
 * CPU may have cached (an unmap, a present entry given a new frame or new
 * permissions) is followed by a TLB shootdown (memory/TLB.c) once PagingLock
 * is released, and the call returns only after every CPU has flushed: a
 * caller may free or reuse the frame or the address as soon as it returns.
 * Such calls must not be made with a spinlock held (the other CPUs must be
 * able to take the shootdown interrupt). A new mapping needs no shootdown
 * (x86 does not cache not-present entries, Intel SDM vol. 3A 4.10.2.3), nor
 * does splitting a 2 MiB page into the same 4 KiB translations.
 *
 * Memory types: PagingActivate loads the PAT (when CPUID has it) with
 * Linux's layout, WB WC UC- UC WB WP UC- WT, so slot 1 (PWT alone) is
 * write-combining and the same bits select it in 4 KiB and 2 MiB entries
 * (the PAT bit itself, 7 or 12, is never set). Slots 0, 2 and 3 keep their
 * reset types, so WB (no bits) and uncached MMIO (PCD|PWT) are unchanged.
 * A framebuffer gets WC through MapIOMemoryWriteCombining (Intel SDM vol.
 * 3A, "PAT"; a WC PAT type wins over an UC MTRR).
 *
 * MMIO window: a bump allocator with one unmapped guard page after each
 * mapping. Mapping the same device twice gives two mappings. Unmapping the
 * most recent mapping gives its space back; other unmapped space is not
 * reused (the window is 1 TiB).
 *
 * Early mappings: a driver that comes up before MemoryInit (the VGA text
 * console) gets the boot direct map address of its registers. Those ranges
 * are remembered and PagingActivate maps them, uncached, at the same
 * addresses in the new tables, so the pointer stays valid for good (such a
 * mapping is never undone; UnmapIOMemory ignores it).
 */

#include "memory/Paging.h"

#include "arch/x86-64/CPU.h"
#include "core/Log.h"
#include "core/Spinlock.h"
#include "memory/Frame.h"
#include "memory/Memory.h"
#include "memory/TLB.h"
#include "utils/String.h"

#define PAGE_ADDRESS_MASK 0x000FFFFFFFFFF000ULL
#define PAGE_ADDRESS_MASK_2MB 0x000FFFFFFFE00000ULL
#define PAGE_ADDRESS_MASK_1GB 0x000FFFFFC0000000ULL
#define PAGE_LEAF_FLAGS (PAGE_PRESENT | PAGE_WRITABLE | PAGE_USER | PAGE_WRITE_THROUGH | PAGE_CACHE_DISABLE | \
                         PAGE_GLOBAL | PAGE_NO_EXECUTE)
#define PAGE_TABLE_FLAGS (PAGE_PRESENT | PAGE_WRITABLE)
#define PHYSICAL_ADDRESS_LIMIT (1ULL << 52)  // architectural MAXPHYADDR ceiling

#define CR0_WRITE_PROTECT (1ULL << 16)
#define EFER_LONG_MODE_ENABLE (1ULL << 8)
#define EFER_NO_EXECUTE_ENABLE (1ULL << 11)
#define CPUID_EXT_NX_BIT (1U << 20)  // CPUID 0x80000001 EDX
#define CPUID_PAT_BIT (1U << 16)     // CPUID 1 EDX
// IA32_PAT entries PA0..PA7: WB, WC, UC-, UC, WB, WP, UC-, WT.
#define PAT_LAYOUT 0x0407050600070106ULL
#define WC_FLAGS (PAGE_WRITABLE | PAGE_WRITE_THROUGH | PAGE_NO_EXECUTE)  // PAT slot 1

#define PML4_INDEX(L) (((L) >> 39) & 511)
#define PDPT_INDEX(L) (((L) >> 30) & 511)
#define PD_INDEX(L) (((L) >> 21) & 511)
#define PT_INDEX(L) (((L) >> 12) & 511)

// linker.ld and Boot.asm.
extern U8 KernelTextStart[];
extern U8 KernelTextEnd[];
extern U8 KernelImageEnd[];
// Start of .data: not yet defined by linker.ld; without it rodata is mapped writable.
extern U8 KernelDataStart[] __attribute__((weak));

static PHYSICAL KernelPML4;
static SPINLOCK PagingLock = SPINLOCK_INIT;
static PHYSICAL TableFrameLimit = N_4GB;  // boot tables reach only the first 4 GiB
static BOOL PagingActive;
static U64 NoExecuteBit;  // PAGE_NO_EXECUTE when EFER.NXE is (to be) set, else 0
static BOOL WriteCombining;  // the PAT holds WC in slot 1
static LINEAR MMIONext = MMIO_WINDOW_BASE;

#define PAGING_MAX_EARLY_MAPPINGS 8
#define MMIO_FLAGS (PAGE_WRITABLE | PAGE_CACHE_DISABLE | PAGE_WRITE_THROUGH | PAGE_NO_EXECUTE)

typedef struct tag_EARLY_MAPPING {
    PHYSICAL Start;  // page aligned
    U64 Bytes;
} EARLY_MAPPING;

static EARLY_MAPPING EarlyMappings[PAGING_MAX_EARLY_MAPPINGS];
static U32 EarlyMappingCount;

/************************************************************************/
// Table helpers

static inline U64* TableAt(PHYSICAL Table) { return (U64*)PhysicalToLinear(Table); }

static inline BOOL IsCanonical(LINEAR Linear) { return (LINEAR)((INT)(Linear << 16) >> 16) == Linear; }

/** The flags of a leaf entry: known bits only, NX only if the CPU has it. */
static inline U64 LeafFlags(U64 Flags) {
    return (Flags & PAGE_LEAF_FLAGS & ~(PAGE_NO_EXECUTE & ~NoExecuteBit)) | PAGE_PRESENT;
}

static inline void FlushPage(LINEAR Linear) {
    if (PagingActive) InvalidatePage(Linear);
}

static PHYSICAL AllocateTable(void) {
    PHYSICAL Frame = FrameAllocContiguous(1, PAGE_SIZE, TableFrameLimit);
    if (Frame != 0) MemorySet(TableAt(Frame), 0, PAGE_SIZE);
    return Frame;
}

/**
 * The table Entry points to, created if absent. A 2 MiB page (Level 2, a PD
 * entry) is split into 512 pages with the same translation and flags, so
 * part of it can be changed. NULL if no frame, or for a 1 GiB page.
 */
static U64* NextTable(U64* Entry, U32 Level) {
    U64 Value = *Entry;
    if (!(Value & PAGE_PRESENT)) {
        PHYSICAL Table = AllocateTable();
        if (Table == 0) return NULL;
        *Entry = Table | PAGE_TABLE_FLAGS;
        return TableAt(Table);
    }
    if (Value & PAGE_LARGE) {
        if (Level != 2) return NULL;
        PHYSICAL Table = AllocateTable();
        if (Table == 0) return NULL;
        U64* Entries = TableAt(Table);
        PHYSICAL Base = Value & PAGE_ADDRESS_MASK_2MB;
        // Bit 7 is PAT in a PTE and bit 12 PAT in a large PDE: neither is used by Cairn.
        U64 Flags = (Value & 0xFFFULL & ~PAGE_LARGE) | (Value & PAGE_NO_EXECUTE);
        for (U64 Index = 0; Index < 512; Index++) Entries[Index] = (Base + Index * PAGE_SIZE) | Flags;
        // Same translations as before, so stale TLB entries stay correct.
        *Entry = Table | PAGE_TABLE_FLAGS;
        return Entries;
    }
    return TableAt(Value & PAGE_ADDRESS_MASK);
}

/** The PD entry for Linear, creating PDPT and PD as needed. */
static U64* WalkToPDEntry(LINEAR Linear) {
    U64* PDPT = NextTable(&TableAt(KernelPML4)[PML4_INDEX(Linear)], 4);
    if (PDPT == NULL) return NULL;
    U64* PD = NextTable(&PDPT[PDPT_INDEX(Linear)], 3);
    if (PD == NULL) return NULL;
    return &PD[PD_INDEX(Linear)];
}

/** Maps one page; *Replaced (if given) says whether a different present entry was overwritten. */
static BOOL MapPage(LINEAR Linear, PHYSICAL Physical, U64 Flags, BOOL* Replaced) {
    U64* PDEntry = WalkToPDEntry(Linear);
    if (PDEntry == NULL) return FALSE;
    U64* PT = NextTable(PDEntry, 2);
    if (PT == NULL) return FALSE;
    U64 Old = PT[PT_INDEX(Linear)];
    U64 New = Physical | LeafFlags(Flags);
    PT[PT_INDEX(Linear)] = New;
    if (Replaced) *Replaced = (Old & PAGE_PRESENT) && (Old & ~(PAGE_ACCESSED | PAGE_DIRTY)) != New;
    FlushPage(Linear);
    return TRUE;
}

/** Maps one 2 MiB page; FALSE if that slot already holds a page table (the caller then uses 4 KiB pages). */
static BOOL MapLargePage(LINEAR Linear, PHYSICAL Physical, U64 Flags) {
    U64* PDEntry = WalkToPDEntry(Linear);
    if (PDEntry == NULL) return FALSE;
    if ((*PDEntry & PAGE_PRESENT) && !(*PDEntry & PAGE_LARGE)) return FALSE;
    *PDEntry = Physical | LeafFlags(Flags) | PAGE_LARGE;
    FlushPage(Linear);
    return TRUE;
}

/**
 * Clears the leaf entry for Linear and returns how far the caller may move
 * on: a page, a 2 MiB page, or the span of an absent table. 0 on failure.
 */
static U64 UnmapStep(LINEAR Linear, U64 Remaining) {
    U64 Entry = TableAt(KernelPML4)[PML4_INDEX(Linear)];
    if (!(Entry & PAGE_PRESENT)) return (1ULL << 39) - (Linear & ((1ULL << 39) - 1));
    Entry = TableAt(Entry & PAGE_ADDRESS_MASK)[PDPT_INDEX(Linear)];
    // Cairn never creates 1 GiB pages; leave any that exist alone.
    if (!(Entry & PAGE_PRESENT) || (Entry & PAGE_LARGE)) return N_1GB - (Linear & (N_1GB - 1));
    U64* PDEntry = &TableAt(Entry & PAGE_ADDRESS_MASK)[PD_INDEX(Linear)];
    if (!(*PDEntry & PAGE_PRESENT)) return N_2MB - (Linear & (N_2MB - 1));
    if ((*PDEntry & PAGE_LARGE) && IS_ALIGNED(Linear, N_2MB) && Remaining >= N_2MB) {
        *PDEntry = 0;
        FlushPage(Linear);
        return N_2MB;
    }
    U64* PT = NextTable(PDEntry, 2);  // splits a partly unmapped 2 MiB page
    if (PT == NULL) return 0;
    PT[PT_INDEX(Linear)] = 0;
    FlushPage(Linear);
    return PAGE_SIZE;
}

/** Clears the leaf entries of [Linear, Linear+Size) (page aligned); absent pages are skipped. */
static void UnmapRange(LINEAR Linear, U64 Size) {
    U64 Remaining = Size;
    while (Remaining != 0) {
        U64 Step = UnmapStep(Linear, Remaining);
        if (Step == 0) {
            ERROR("[UnmapRange] no frame to split the 2 MiB page at %lx", Linear);
            return;
        }
        if (Step >= Remaining) break;
        Remaining -= Step;
        Linear += Step;
    }
}

/**
 * Maps [Linear, Linear+Size) to [Physical, ...), all page aligned, with 2
 * MiB pages where both addresses are 2 MiB aligned and AllowLarge. On
 * failure, what was mapped is unmapped again.
 */
static BOOL MapRange(LINEAR Linear, PHYSICAL Physical, U64 Size, U64 Flags, BOOL AllowLarge) {
    U64 Done = 0;
    while (Done < Size) {
        LINEAR L = Linear + Done;
        PHYSICAL P = Physical + Done;
        if (AllowLarge && IS_ALIGNED(L, N_2MB) && IS_ALIGNED(P, N_2MB) && Size - Done >= N_2MB &&
            MapLargePage(L, P, Flags)) {
            Done += N_2MB;
            continue;
        }
        if (!MapPage(L, P, Flags, NULL)) {
            UnmapRange(Linear, Done);
            return FALSE;
        }
        Done += PAGE_SIZE;
    }
    return TRUE;
}

/************************************************************************/
// Public mapping interface

BOOL PagingMap(LINEAR Linear, PHYSICAL Physical, U64 Flags) {
    if (KernelPML4 == 0 || !IS_ALIGNED(Linear, PAGE_SIZE) || !IS_ALIGNED(Physical, PAGE_SIZE)) return FALSE;
    if (!IsCanonical(Linear) || Physical >= PHYSICAL_ADDRESS_LIMIT) return FALSE;
    BOOL Replaced = FALSE;
    U64 LockFlags = SpinlockAcquire(&PagingLock);
    BOOL Result = MapPage(Linear, Physical, Flags, &Replaced);
    SpinlockRelease(&PagingLock, LockFlags);
    if (Replaced) TLBShootdown(Linear, PAGE_SIZE);  // other CPUs may hold the old translation
    return Result;
}

void PagingUnmapRange(LINEAR Linear, U64 Size) {
    if (KernelPML4 == 0 || Size == 0 || !IsCanonical(Linear) || !IsCanonical(Linear + Size - 1)) return;
    LINEAR Start = ALIGN_DOWN(Linear, PAGE_SIZE);
    U64 Bytes = ALIGN_UP(Linear + Size, PAGE_SIZE) - Start;
    U64 LockFlags = SpinlockAcquire(&PagingLock);
    UnmapRange(Start, Bytes);
    SpinlockRelease(&PagingLock, LockFlags);
    TLBShootdown(Start, Bytes);
}

void PagingUnmap(LINEAR Linear) { PagingUnmapRange(Linear, PAGE_SIZE); }

void PagingUnmapUnpublished(LINEAR Linear) {
    if (KernelPML4 == 0 || !IsCanonical(Linear)) return;
    U64 LockFlags = SpinlockAcquire(&PagingLock);
    UnmapRange(ALIGN_DOWN(Linear, PAGE_SIZE), PAGE_SIZE);  // flushes this CPU's entry only
    SpinlockRelease(&PagingLock, LockFlags);
}

BOOL PagingTranslate(LINEAR Linear, PHYSICAL* Physical) {
    if (!IsCanonical(Linear)) return FALSE;
    // Walk whatever CR3 holds: the boot tables before PagingActivate, ours after.
    U64 Entry = TableAt(ReadCR3() & PAGE_ADDRESS_MASK)[PML4_INDEX(Linear)];
    if (!(Entry & PAGE_PRESENT)) return FALSE;
    Entry = TableAt(Entry & PAGE_ADDRESS_MASK)[PDPT_INDEX(Linear)];
    if (!(Entry & PAGE_PRESENT)) return FALSE;
    if (Entry & PAGE_LARGE) {
        if (Physical) *Physical = (Entry & PAGE_ADDRESS_MASK_1GB) | (Linear & (N_1GB - 1));
        return TRUE;
    }
    Entry = TableAt(Entry & PAGE_ADDRESS_MASK)[PD_INDEX(Linear)];
    if (!(Entry & PAGE_PRESENT)) return FALSE;
    if (Entry & PAGE_LARGE) {
        if (Physical) *Physical = (Entry & PAGE_ADDRESS_MASK_2MB) | (Linear & (N_2MB - 1));
        return TRUE;
    }
    Entry = TableAt(Entry & PAGE_ADDRESS_MASK)[PT_INDEX(Linear)];
    if (!(Entry & PAGE_PRESENT)) return FALSE;
    if (Physical) *Physical = (Entry & PAGE_ADDRESS_MASK) | (Linear & (PAGE_SIZE - 1));
    return TRUE;
}

PHYSICAL LinearToPhysical(LINEAR Linear) {
    PHYSICAL Physical;
    return PagingTranslate(Linear, &Physical) ? Physical : 0;
}

/************************************************************************/
// MMIO window

/** Before MemoryInit: the boot direct map (first 4 GiB), remembered for PagingActivate. */
static LINEAR MapIOMemoryEarly(PHYSICAL Physical, U64 Size) {
    if (Size == 0 || Physical >= N_4GB || Size > N_4GB - Physical) {
        ERROR("[MapIOMemory] %llx size %llx is out of reach before MemoryInit", Physical, Size);
        return 0;
    }
    PHYSICAL Start = ALIGN_DOWN(Physical, PAGE_SIZE);
    U64 Bytes = ALIGN_UP(Physical + Size, PAGE_SIZE) - Start;
    U64 LockFlags = SpinlockAcquire(&PagingLock);
    BOOL Recorded = EarlyMappingCount < PAGING_MAX_EARLY_MAPPINGS;
    if (Recorded) EarlyMappings[EarlyMappingCount++] = (EARLY_MAPPING){Start, Bytes};
    SpinlockRelease(&PagingLock, LockFlags);
    if (!Recorded) {
        ERROR("[MapIOMemory] too many mappings before MemoryInit (%llx)", Physical);
        return 0;
    }
    return (LINEAR)PhysicalToLinear(Physical);
}

/** Maps a device region in the MMIO window with leaf Flags (after PagingActivate). */
static LINEAR MapWindow(PHYSICAL Physical, U64 Size, U64 Flags) {
    if (Size == 0 || Size > MMIO_WINDOW_SIZE || Physical >= PHYSICAL_ADDRESS_LIMIT ||
        Size > PHYSICAL_ADDRESS_LIMIT - Physical) {
        ERROR("[MapIOMemory] bad region %llx size %llx", Physical, Size);
        return 0;
    }
    U64 Offset = Physical & (PAGE_SIZE - 1);
    PHYSICAL First = Physical - Offset;
    U64 Bytes = ALIGN_UP(Offset + Size, PAGE_SIZE);
    // Large, 2 MiB aligned regions (PCIe ECAM, frame buffers) get 2 MiB pages.
    BOOL Large = IS_ALIGNED(First, N_2MB) && Bytes >= N_2MB;

    U64 LockFlags = SpinlockAcquire(&PagingLock);
    LINEAR Linear = Large ? ALIGN_UP(MMIONext, N_2MB) : MMIONext;
    LINEAR Result = 0;
    if (Linear + Bytes + PAGE_SIZE <= MMIO_WINDOW_BASE + MMIO_WINDOW_SIZE &&
        MapRange(Linear, First, Bytes, Flags, Large)) {
        MMIONext = Linear + Bytes + PAGE_SIZE;  // one guard page
        Result = Linear + Offset;
    }
    SpinlockRelease(&PagingLock, LockFlags);

    if (Result == 0) ERROR("[MapIOMemory] cannot map %llx size %llx", Physical, Size);
    return Result;
}

LINEAR MapIOMemory(PHYSICAL Physical, U64 Size) {
    if (!PagingActive) return MapIOMemoryEarly(Physical, Size);
    return MapWindow(Physical, Size, MMIO_FLAGS);
}

LINEAR MapIOMemoryWriteCombining(PHYSICAL Physical, U64 Size) {
    if (!PagingActive) {
        ERROR("[MapIOMemoryWriteCombining] %llx: not before MemoryInit", Physical);
        return 0;
    }
    return MapWindow(Physical, Size, WriteCombining ? WC_FLAGS : MMIO_FLAGS);
}

BOOL PagingHasWriteCombining(void) { return WriteCombining; }

void UnmapIOMemory(LINEAR Linear, U64 Size) {
    if (Size == 0) return;
    if (Linear >= DIRECT_MAP_BASE && Linear < MMIO_WINDOW_BASE) return;  // an early mapping: kept
    LINEAR Start = ALIGN_DOWN(Linear, PAGE_SIZE);
    LINEAR End = ALIGN_UP(Linear + Size, PAGE_SIZE);
    U64 LockFlags = SpinlockAcquire(&PagingLock);
    BOOL Valid = Linear >= MMIO_WINDOW_BASE && Linear < MMIONext && Size <= MMIONext - Linear;
    if (Valid) {
        UnmapRange(Start, End - Start);
        if (End + PAGE_SIZE == MMIONext) MMIONext = Start;
    }
    SpinlockRelease(&PagingLock, LockFlags);
    if (!Valid) {
        WARNING("[UnmapIOMemory] %lx size %llx is not in the MMIO window", Linear, Size);
        return;
    }
    // Before the address is handed out again, no CPU may still reach the old device through it.
    TLBShootdown(Start, End - Start);
}

/************************************************************************/
// Bring-up

BOOL PagingHasNoExecute(void) { return NoExecuteBit != 0; }
BOOL PagingIsActive(void) { return PagingActive; }
PHYSICAL PagingGetKernelRoot(void) { return KernelPML4; }

static BOOL DetectNoExecute(void) {
    U32 A, B, C, D;
    CPUID(0x80000000, 0, &A, &B, &C, &D);
    if (A < 0x80000001) return FALSE;
    CPUID(0x80000001, 0, &A, &B, &C, &D);
    return (D & CPUID_EXT_NX_BIT) != 0;
}

static BOOL MapKernelSection(LINEAR Start, LINEAR End, U64 Flags) {
    Start = ALIGN_DOWN(Start, PAGE_SIZE);
    End = ALIGN_UP(End, PAGE_SIZE);
    if (End <= Start) return TRUE;
    return MapRange(Start, KernelImageToPhysical(Start), End - Start, Flags, FALSE);
}

BOOL PagingBuildKernelTables(void) {
    NoExecuteBit = DetectNoExecute() ? PAGE_NO_EXECUTE : 0;
    U64 LockFlags = SpinlockAcquire(&PagingLock);
    KernelPML4 = AllocateTable();
    BOOL Result = KernelPML4 != 0;

    LINEAR TextStart = (LINEAR)KernelTextStart;
    LINEAR RodataStart = ALIGN_UP((LINEAR)KernelTextEnd, PAGE_SIZE);
    LINEAR DataStart = (LINEAR)KernelDataStart;
    LINEAR ImageEnd = (LINEAR)KernelImageEnd;
    if (DataStart < RodataStart || DataStart > ImageEnd) DataStart = RodataStart;  // symbol missing

    // Text read-only and executable; rodata read-only; data and bss (boot stack included) writable.
    Result = Result && MapKernelSection(TextStart, RodataStart, 0);
    Result = Result && MapKernelSection(RodataStart, DataStart, PAGE_NO_EXECUTE);
    Result = Result && MapKernelSection(DataStart, ImageEnd, PAGE_WRITABLE | PAGE_NO_EXECUTE);
    SpinlockRelease(&PagingLock, LockFlags);

    if (!Result) ERROR("[PagingBuildKernelTables] out of page table frames");
    if (DataStart == RodataStart && RodataStart != ImageEnd) {
        WARNING("[PagingBuildKernelTables] linker.ld has no KernelDataStart: rodata mapped writable");
    }
    return Result;
}

BOOL PagingMapDirect(PHYSICAL Physical, U64 Size) {
    if (KernelPML4 == 0 || !IS_ALIGNED(Physical, PAGE_SIZE) || !IS_ALIGNED(Size, PAGE_SIZE)) return FALSE;
    if (Physical + Size > MMIO_WINDOW_BASE - DIRECT_MAP_BASE || Physical + Size < Physical) return FALSE;
    U64 LockFlags = SpinlockAcquire(&PagingLock);
    BOOL Result = MapRange((LINEAR)PhysicalToLinear(Physical), Physical, Size, PAGE_WRITABLE | PAGE_NO_EXECUTE, TRUE);
    SpinlockRelease(&PagingLock, LockFlags);
    return Result;
}

static BOOL DetectPAT(void) {
    U32 A, B, C, D;
    CPUID(0, 0, &A, &B, &C, &D);
    if (A < 1) return FALSE;
    CPUID(1, 0, &A, &B, &C, &D);
    return (D & CPUID_PAT_BIT) != 0;
}

/** The per-CPU part of the paging setup: NX, the PAT layout (each CPU has its own MSR), write protection. */
static void PagingSetupCPU(void) {
    if (NoExecuteBit) WriteMSR(MSR_EFER, ReadMSR(MSR_EFER) | EFER_NO_EXECUTE_ENABLE);
    if (WriteCombining) WriteMSR(MSR_PAT, PAT_LAYOUT);
    WriteCR0(ReadCR0() | CR0_WRITE_PROTECT);
}

void PagingInitCPU(void) {
    // Same memory types as the boot CPU, so a write-combining framebuffer is WC from every CPU.
    PagingSetupCPU();
    WriteCR3(ReadCR3());
}

U64 PagingGetEferBits(void) { return EFER_LONG_MODE_ENABLE | (NoExecuteBit ? EFER_NO_EXECUTE_ENABLE : 0); }

void PagingActivate(void) {
    // Nothing maps with PWT alone yet, so slot 1 changes from WT to WC under no live mapping;
    // the CR3 load below flushes the TLB.
    WriteCombining = DetectPAT();
    PagingSetupCPU();
    U64 LockFlags = SpinlockAcquire(&PagingLock);
    // Early MMIO mappings keep their boot direct map address, now uncached.
    for (U32 Index = 0; Index < EarlyMappingCount; Index++) {
        const EARLY_MAPPING* Early = &EarlyMappings[Index];
        if (!MapRange((LINEAR)PhysicalToLinear(Early->Start), Early->Start, Early->Bytes, MMIO_FLAGS, FALSE)) {
            ERROR("[PagingActivate] cannot keep the early mapping of %llx", Early->Start);
        }
    }
    WriteCR3(KernelPML4);
    PagingActive = TRUE;
    TableFrameLimit = 0;
    SpinlockRelease(&PagingLock, LockFlags);
}
