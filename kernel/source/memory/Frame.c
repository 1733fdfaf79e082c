/*
 * Frame.c - the physical frame allocator (see Frame.h).
 *
 * One bit per 4 KiB frame, set = not available (allocated, reserved, or not
 * RAM at all). The bitmap covers frames up to the end of the highest usable
 * region, so holes and MMIO below that simply stay set. Frame 0 is never
 * released, so 0 can mean "no frame".
 *
 * The FRAME_ALLOCATOR functions are pure: they touch only the bitmap they
 * were given, and host unit tests run them. The kernel part (FrameInit and
 * the Frame* wrappers) keeps a single instance behind FrameLock; callers may
 * use the wrappers from any context, interrupts included. Lock order: the
 * heap and paging locks may be held when FrameLock is taken, never the
 * reverse.
 *
 * One bitmap cannot tell an allocated frame from a reserved one, so
 * FrameAllocatorFree accepts a reserved frame: only double frees and frames
 * outside the bitmap are caught.
 */

#include "memory/Frame.h"

#include "utils/String.h"

#define FRAME_NONE MAX_U64

/************************************************************************/
// Bitmap helpers

static inline BOOL BitTest(const U8* Bitmap, U64 Frame) { return (Bitmap[Frame >> 3] >> (Frame & 7)) & 1; }
static inline void BitSet(U8* Bitmap, U64 Frame) { Bitmap[Frame >> 3] |= (U8)(1U << (Frame & 7)); }
static inline void BitClear(U8* Bitmap, U64 Frame) { Bitmap[Frame >> 3] &= (U8)~(1U << (Frame & 7)); }

/** First clear bit in [From, To), or FRAME_NONE. Skips whole bytes that are full. */
static U64 FindClear(const FRAME_ALLOCATOR* Allocator, U64 From, U64 To) {
    U64 Frame = From;
    while (Frame < To) {
        if ((Frame & 7) == 0 && Frame + 8 <= To && Allocator->Bitmap[Frame >> 3] == 0xFF) {
            Frame += 8;
            continue;
        }
        if (!BitTest(Allocator->Bitmap, Frame)) return Frame;
        Frame++;
    }
    return FRAME_NONE;
}

/************************************************************************/
// Pure allocator

U64 FrameAllocatorBitmapBytes(U64 FrameCount) { return ALIGN_UP(FrameCount, 64ULL) / 8; }

void FrameAllocatorInit(FRAME_ALLOCATOR* Allocator, U8* Bitmap, U64 FrameCount) {
    Allocator->Bitmap = Bitmap;
    Allocator->FrameCount = FrameCount;
    Allocator->FreeFrames = 0;
    Allocator->UsableFrames = 0;
    Allocator->SearchHint = 1;
    MemorySet(Bitmap, 0xFF, FrameAllocatorBitmapBytes(FrameCount));
}

void FrameAllocatorReleaseRange(FRAME_ALLOCATOR* Allocator, PHYSICAL Base, U64 Size) {
    if (Size == 0) return;
    PHYSICAL End = (Size > MAX_U64 - Base) ? MAX_U64 : Base + Size;
    if (Base > MAX_U64 - (PAGE_SIZE - 1)) return;
    U64 First = ALIGN_UP(Base, PAGE_SIZE) >> PAGE_SHIFT;
    U64 Last = ALIGN_DOWN(End, PAGE_SIZE) >> PAGE_SHIFT;  // exclusive
    if (First == 0) First = 1;                             // frame 0 is never usable
    if (Last > Allocator->FrameCount) Last = Allocator->FrameCount;
    for (U64 Frame = First; Frame < Last; Frame++) {
        if (BitTest(Allocator->Bitmap, Frame)) {
            BitClear(Allocator->Bitmap, Frame);
            Allocator->FreeFrames++;
            Allocator->UsableFrames++;
        }
    }
}

void FrameAllocatorReserveRange(FRAME_ALLOCATOR* Allocator, PHYSICAL Base, U64 Size) {
    if (Size == 0) return;
    U64 First = Base >> PAGE_SHIFT;
    U64 Last;
    if (Size > MAX_U64 - Base || Base + Size > MAX_U64 - (PAGE_SIZE - 1)) {
        Last = Allocator->FrameCount;
    } else {
        Last = ALIGN_UP(Base + Size, PAGE_SIZE) >> PAGE_SHIFT;
    }
    if (Last > Allocator->FrameCount) Last = Allocator->FrameCount;
    for (U64 Frame = First; Frame < Last; Frame++) {
        if (!BitTest(Allocator->Bitmap, Frame)) {
            BitSet(Allocator->Bitmap, Frame);
            Allocator->FreeFrames--;
        }
    }
}

static PHYSICAL AllocateSingle(FRAME_ALLOCATOR* Allocator, U64 End) {
    U64 Hint = Allocator->SearchHint;
    if (Hint == 0 || Hint >= End) Hint = 1;
    U64 Frame = FindClear(Allocator, Hint, End);
    if (Frame == FRAME_NONE && Hint > 1) Frame = FindClear(Allocator, 1, Hint);
    if (Frame == FRAME_NONE) return 0;
    BitSet(Allocator->Bitmap, Frame);
    Allocator->FreeFrames--;
    Allocator->SearchHint = Frame + 1;
    return Frame << PAGE_SHIFT;
}

PHYSICAL FrameAllocatorAllocate(FRAME_ALLOCATOR* Allocator, U64 Count, U64 Alignment, PHYSICAL Limit) {
    if (Count == 0 || Count > Allocator->FreeFrames) return 0;
    if (Alignment < PAGE_SIZE) Alignment = PAGE_SIZE;
    if (!IS_POWER_OF_TWO(Alignment)) return 0;

    U64 End = Allocator->FrameCount;
    if (Limit != 0 && (Limit >> PAGE_SHIFT) < End) End = Limit >> PAGE_SHIFT;
    if (Count >= End) return 0;  // frame 0 is never part of a run

    U64 AlignFrames = Alignment >> PAGE_SHIFT;
    if (Count == 1 && AlignFrames == 1) return AllocateSingle(Allocator, End);

    // Check each aligned candidate from its last frame down; a used frame at
    // J rules out every candidate that starts at or before J.
    U64 Candidate = AlignFrames;  // the first aligned start after frame 0
    while (Candidate < End && End - Candidate >= Count) {
        U64 Used = FRAME_NONE;
        for (U64 Frame = Candidate + Count; Frame > Candidate; Frame--) {
            if (BitTest(Allocator->Bitmap, Frame - 1)) {
                Used = Frame - 1;
                break;
            }
        }
        if (Used == FRAME_NONE) {
            for (U64 Frame = Candidate; Frame < Candidate + Count; Frame++) BitSet(Allocator->Bitmap, Frame);
            Allocator->FreeFrames -= Count;
            return Candidate << PAGE_SHIFT;
        }
        // Skip past the used frame, then past any used frames after it.
        U64 Next = FindClear(Allocator, Used + 1, End);
        if (Next == FRAME_NONE) return 0;
        Candidate = ALIGN_UP(Next, AlignFrames);
    }
    return 0;
}

BOOL FrameAllocatorFree(FRAME_ALLOCATOR* Allocator, PHYSICAL Base, U64 Count) {
    if (Count == 0 || !IS_ALIGNED(Base, PAGE_SIZE)) return FALSE;
    U64 First = Base >> PAGE_SHIFT;
    if (First == 0 || First >= Allocator->FrameCount || Count > Allocator->FrameCount - First) return FALSE;
    for (U64 Frame = First; Frame < First + Count; Frame++) {
        if (!BitTest(Allocator->Bitmap, Frame)) return FALSE;
    }
    for (U64 Frame = First; Frame < First + Count; Frame++) BitClear(Allocator->Bitmap, Frame);
    Allocator->FreeFrames += Count;
    if (First < Allocator->SearchHint) Allocator->SearchHint = First;
    return TRUE;
}

BOOL FrameAllocatorIsUsed(const FRAME_ALLOCATOR* Allocator, PHYSICAL Address) {
    U64 Frame = Address >> PAGE_SHIFT;
    if (Frame >= Allocator->FrameCount) return TRUE;
    return BitTest(Allocator->Bitmap, Frame);
}

/************************************************************************/
// Kernel instance

#ifndef CAIRN_HOST_BUILD

#include "core/Log.h"
#include "core/Multiboot.h"
#include "core/Spinlock.h"
#include "memory/Memory.h"

// linker.ld: physical bounds of the whole image (boot code included).
extern U8 KernelImageStartPhysical[];
extern U8 KernelImageEndPhysical[];

// The direct map spans 64 TiB; frames above it could not be reached.
#define FRAME_PHYSICAL_CEILING (MMIO_WINDOW_BASE - DIRECT_MAP_BASE)

static FRAME_ALLOCATOR KernelFrames;
static SPINLOCK FrameLock = SPINLOCK_INIT;
static U64 FrameReservedAtInit;

typedef struct tag_FRAME_RANGE {
    PHYSICAL Start;
    PHYSICAL End;
} FRAME_RANGE;

#define FRAME_MAX_BOOT_RANGES (3 + MULTIBOOT_MAX_MODULES)

/** What must not be handed out: real-mode area, kernel image, modules, multiboot information. */
static U32 CollectBootRanges(FRAME_RANGE* Ranges) {
    U32 Count = 0;
    Ranges[Count++] = (FRAME_RANGE){0, N_1MB};
    Ranges[Count++] = (FRAME_RANGE){(PHYSICAL)(UINT)KernelImageStartPhysical, (PHYSICAL)(UINT)KernelImageEndPhysical};
    if (KernelBootInfo.InfoSize != 0) {
        Ranges[Count++] = (FRAME_RANGE){KernelBootInfo.InfoPhysical,
                                        KernelBootInfo.InfoPhysical + KernelBootInfo.InfoSize};
    }
    for (U32 Index = 0; Index < KernelBootInfo.ModuleCount && Index < MULTIBOOT_MAX_MODULES; Index++) {
        const MULTIBOOT_MODULE* Module = &KernelBootInfo.Modules[Index];
        if (Module->End > Module->Start) Ranges[Count++] = (FRAME_RANGE){Module->Start, Module->End};
    }
    return Count;
}

/**
 * Finds Bytes of usable RAM below 4 GiB (reachable through the boot tables)
 * that overlaps none of the boot ranges. Returns 0 if there is none.
 */
static PHYSICAL FindBitmapPlace(U64 Bytes, const FRAME_RANGE* Ranges, U32 RangeCount) {
    for (U32 Index = 0; Index < KernelBootInfo.RegionCount; Index++) {
        const MULTIBOOT_REGION* Region = &KernelBootInfo.Regions[Index];
        if (Region->Type != MULTIBOOT_MEMORY_AVAILABLE) continue;
        if (Region->Base >= N_4GB) continue;
        PHYSICAL Start = MAX(ALIGN_UP(Region->Base, PAGE_SIZE), N_1MB);
        PHYSICAL End = ALIGN_DOWN(MIN(Region->Base + Region->Length, N_4GB), PAGE_SIZE);
        PHYSICAL Candidate = Start;
        // Each conflict moves the candidate past one range's end, so this ends.
        for (U32 Try = 0; Try <= RangeCount && Candidate < End && End - Candidate >= Bytes; Try++) {
            const FRAME_RANGE* Conflict = NULL;
            for (U32 R = 0; R < RangeCount; R++) {
                if (Ranges[R].Start < Candidate + Bytes && Ranges[R].End > Candidate) {
                    Conflict = &Ranges[R];
                    break;
                }
            }
            if (Conflict == NULL) return Candidate;
            Candidate = ALIGN_UP(Conflict->End, PAGE_SIZE);
        }
    }
    return 0;
}

BOOL FrameInit(void) {
    PHYSICAL Highest = 0;
    for (U32 Index = 0; Index < KernelBootInfo.RegionCount; Index++) {
        const MULTIBOOT_REGION* Region = &KernelBootInfo.Regions[Index];
        if (Region->Type != MULTIBOOT_MEMORY_AVAILABLE) continue;
        Highest = MAX(Highest, Region->Base + Region->Length);
    }
    if (Highest > FRAME_PHYSICAL_CEILING) {
        WARNING("[FrameInit] RAM above %llx is ignored (direct map limit)", FRAME_PHYSICAL_CEILING);
        Highest = FRAME_PHYSICAL_CEILING;
    }
    U64 FrameCount = ALIGN_DOWN(Highest, PAGE_SIZE) >> PAGE_SHIFT;
    if (FrameCount <= (N_1MB >> PAGE_SHIFT)) {
        ERROR("[FrameInit] the memory map has no usable RAM above 1 MiB");
        return FALSE;
    }

    FRAME_RANGE Ranges[FRAME_MAX_BOOT_RANGES];
    U32 RangeCount = CollectBootRanges(Ranges);
    U64 BitmapBytes = ALIGN_UP(FrameAllocatorBitmapBytes(FrameCount), PAGE_SIZE);
    PHYSICAL BitmapPhysical = FindBitmapPlace(BitmapBytes, Ranges, RangeCount);
    if (BitmapPhysical == 0) {
        ERROR("[FrameInit] no room below 4 GiB for a %llu byte frame bitmap", BitmapBytes);
        return FALSE;
    }

    U64 Flags = SpinlockAcquire(&FrameLock);
    FrameAllocatorInit(&KernelFrames, (U8*)PhysicalToLinear(BitmapPhysical), FrameCount);
    for (U32 Index = 0; Index < KernelBootInfo.RegionCount; Index++) {
        const MULTIBOOT_REGION* Region = &KernelBootInfo.Regions[Index];
        if (Region->Type == MULTIBOOT_MEMORY_AVAILABLE) {
            FrameAllocatorReleaseRange(&KernelFrames, Region->Base, Region->Length);
        }
    }
    // Firmware maps may overlap: anything also listed as not usable stays reserved.
    for (U32 Index = 0; Index < KernelBootInfo.RegionCount; Index++) {
        const MULTIBOOT_REGION* Region = &KernelBootInfo.Regions[Index];
        if (Region->Type != MULTIBOOT_MEMORY_AVAILABLE) {
            FrameAllocatorReserveRange(&KernelFrames, Region->Base, Region->Length);
        }
    }
    for (U32 Index = 0; Index < RangeCount; Index++) {
        FrameAllocatorReserveRange(&KernelFrames, Ranges[Index].Start, Ranges[Index].End - Ranges[Index].Start);
    }
    FrameAllocatorReserveRange(&KernelFrames, BitmapPhysical, BitmapBytes);
    FrameReservedAtInit = KernelFrames.UsableFrames - KernelFrames.FreeFrames;
    SpinlockRelease(&FrameLock, Flags);

    DEBUG("[FrameInit] %llu frames, bitmap at %llx (%llu bytes), %llu free", FrameCount, BitmapPhysical,
          BitmapBytes, KernelFrames.FreeFrames);
    return TRUE;
}

PHYSICAL FrameAllocContiguous(U64 Count, U64 Alignment, PHYSICAL Limit) {
    U64 Flags = SpinlockAcquire(&FrameLock);
    PHYSICAL Result = 0;
    if (KernelFrames.Bitmap != NULL) Result = FrameAllocatorAllocate(&KernelFrames, Count, Alignment, Limit);
    SpinlockRelease(&FrameLock, Flags);
    return Result;
}

PHYSICAL FrameAlloc(void) { return FrameAllocContiguous(1, PAGE_SIZE, 0); }

void FrameFreeContiguous(PHYSICAL Base, U64 Count) {
    U64 Flags = SpinlockAcquire(&FrameLock);
    BOOL Freed = KernelFrames.Bitmap != NULL && FrameAllocatorFree(&KernelFrames, Base, Count);
    SpinlockRelease(&FrameLock, Flags);
    if (!Freed) {
        LOG_RATE_LIMITED(LOG_LEVEL_WARNING, 5000, 3, "[FrameFreeContiguous] bad free of %llu frame(s) at %llx",
                         Count, Base);
    }
}

void FrameFree(PHYSICAL Frame) { FrameFreeContiguous(Frame, 1); }

void FrameGetCounts(FRAME_COUNTS* Counts) {
    U64 Flags = SpinlockAcquire(&FrameLock);
    Counts->UsableFrames = KernelFrames.UsableFrames;
    Counts->FreeFrames = KernelFrames.FreeFrames;
    Counts->ReservedFrames = FrameReservedAtInit;
    Counts->FrameCount = KernelFrames.FrameCount;
    SpinlockRelease(&FrameLock, Flags);
}

#endif  // CAIRN_HOST_BUILD
