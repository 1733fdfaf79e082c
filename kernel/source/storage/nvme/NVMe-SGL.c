/*
 * NVMe-SGL.c - Scatter Gather Lists for one command, and the rule that
 * picks PRPs or an SGL and cuts a vectored request into commands.
 *
 * SGL rules (NVMe 2.0 section 4.1.2, figures 116-121; used for I/O commands
 * only, never for admin commands over PCIe):
 *  - SGL1, in the command's PRP1/PRP2 fields, is a Data Block descriptor
 *    (the whole transfer in one physically contiguous run) or a (Last)
 *    Segment descriptor pointing at an array of 16-byte descriptors;
 *  - in a segment only the last descriptor may point to another segment;
 *    a Last Segment descriptor says the segment it points at is the last,
 *    and that segment holds data blocks only;
 *  - the data blocks add up to the transfer exactly (no excess: SGLS bit 19
 *    is not relied on); with SGLS 1:0 = 10b each block's address and length
 *    must be dword aligned.
 * The segments live in the tracker's own pool page(s) (the PRP list's
 * place: a command carries one or the other), so nothing is allocated:
 * one 4 KiB page holds 256 descriptors. Pieces that are physically
 * contiguous become one data block.
 *
 * The rule (NVMePlanCommand) is measured, not guessed: documentation/NVMe.md
 * gives the threshold and the benchmark behind it. Pure: host tests build
 * it with fake translations.
 */

#include "storage/nvme/NVMe-Internal.h"

#include "utils/String.h"

#define DESCRIPTOR_TYPE(Type) ((U8)((Type) << 4))  // subtype 0h: Address

/************************************************************************/
// The builder

U32 NVMeSGLCapacity(U32 Pages, U32 PageSize) {
    U32 PerPage = PageSize / NVME_SGL_DESCRIPTOR_SIZE;
    if (Pages == 0 || PerPage < 2) return 0;
    return Pages * (PerPage - 1) + 1;  // every page but the last gives its last slot to the chain
}

/**
 * Calls Add for each data block of Data in order: pieces merged while they are physically contiguous (and the
 * block stays below 4 GiB). Returns the blocks, or 0 when a piece has no translation or breaks the alignment.
 */
typedef void (*SGL_ADD)(LPVOID Context, U32 Index, PHYSICAL Address, U32 Length);

static U32 SGLWalk(const NVME_DATA* Data, U32 PageSize, BOOL DwordAligned, NVME_TRANSLATE Translate,
                   LPVOID TranslateContext, SGL_ADD Add, LPVOID Context) {
    NVME_DATA_WALK Walk;
    LINEAR Address;
    U32 Length, Blocks = 0;
    PHYSICAL Block = 0;
    U64 BlockLength = 0;
    NVMeDataWalkStart(&Walk, Data, PageSize);
    while (NVMeDataWalkNext(&Walk, &Address, &Length)) {
        PHYSICAL Physical = Translate((LPCVOID)Address, TranslateContext);
        if (Physical == 0 || (DwordAligned && ((Physical | Length) & 3))) return 0;
        if (BlockLength > 0 && Block + BlockLength == Physical && BlockLength + Length <= MAX_U32) {
            BlockLength += Length;
            continue;
        }
        if (BlockLength > 0 && Add) Add(Context, Blocks - 1, Block, (U32)BlockLength);
        Block = Physical;
        BlockLength = Length;
        Blocks++;
    }
    if (Walk.Left != 0) return 0;
    if (BlockLength > 0 && Add) Add(Context, Blocks - 1, Block, (U32)BlockLength);
    return Blocks;
}

typedef struct {
    const NVME_PRP_POOL* Pool;
    U32 PageSize;
    U32 PerPage;                  // descriptors in a pool page
    NVME_SGL_DESCRIPTOR First;    // block 0, in SGL1 if it stays the only one
    NVME_SGL_DESCRIPTOR Spare;    // a last block that falls just past the pool (moved back at the end)
    BOOL Overflow;                // a block beyond what the pool can hold
} SGL_PLACE;

static NVME_SGL_DESCRIPTOR* SlotAt(const SGL_PLACE* Place, U32 Page, U32 Slot) {
    return (NVME_SGL_DESCRIPTOR*)((U8*)Place->Pool->Linear + (SIZE)Page * Place->PageSize) + Slot;
}

static void Describe(NVME_SGL_DESCRIPTOR* Descriptor, PHYSICAL Address, U32 Length, U8 Type) {
    *Descriptor = (NVME_SGL_DESCRIPTOR){Address, Length, {0, 0, 0}, DESCRIPTOR_TYPE(Type)};
}

/**
 * Data block Index goes to page Index / (PerPage - 1), slot Index % (PerPage - 1): every page keeps its last
 * slot for a chain, as if more blocks were to come (the end moves a lone block on the last page back into the
 * chain slot before it). Block 0 waits in First until block 1 shows that the data needs a segment.
 */
static void PlaceBlock(LPVOID Context, U32 Index, PHYSICAL Address, U32 Length) {
    SGL_PLACE* Place = (SGL_PLACE*)Context;
    if (Index == 0) {
        Describe(&Place->First, Address, Length, NVME_SGL_DATA_BLOCK);
        return;
    }
    const NVME_PRP_POOL* Pool = Place->Pool;
    if (Pool == NULL || Pool->Linear == NULL || Pool->Physical == 0 || Pool->Pages == 0) {
        Place->Overflow = TRUE;
        return;
    }
    if (Index == 1) *SlotAt(Place, 0, 0) = Place->First;
    U32 Page = Index / (Place->PerPage - 1), Slot = Index % (Place->PerPage - 1);
    if (Page < Pool->Pages) Describe(SlotAt(Place, Page, Slot), Address, Length, NVME_SGL_DATA_BLOCK);
    else if (Page == Pool->Pages && Slot == 0) Describe(&Place->Spare, Address, Length, NVME_SGL_DATA_BLOCK);
    else Place->Overflow = TRUE;
}

KSTATUS NVMeSGLBuild(const NVME_DATA* Data, U32 PageSize, BOOL DwordAligned, NVME_TRANSLATE Translate,
                     LPVOID TranslateContext, const NVME_PRP_POOL* Pool, NVME_SGL_RESULT* Result) {
    if (Result == NULL) return KSTATUS_BAD_PARAMETER;
    *Result = (NVME_SGL_RESULT){{0, 0}, 0, 0};
    if (Data == NULL || Data->Segments == NULL || Data->Length == 0 || Translate == NULL || PageSize < 4096 ||
        !IS_POWER_OF_TWO(PageSize)) {
        return KSTATUS_BAD_PARAMETER;
    }
    U32 PerPage = PageSize / NVME_SGL_DESCRIPTOR_SIZE;
    SGL_PLACE Place = {Pool, PageSize, PerPage, {0, 0, {0, 0, 0}, 0}, {0, 0, {0, 0, 0}, 0}, FALSE};
    // One walk, one translation a page: blocks are placed as they come (a failed build leaves only the tracker's
    // own pool page written).
    U32 Blocks = SGLWalk(Data, PageSize, DwordAligned, Translate, TranslateContext, PlaceBlock, &Place);
    if (Blocks == 0) return KSTATUS_BAD_PARAMETER;
    if (Place.Overflow || (Blocks > 1 && Blocks > NVMeSGLCapacity(Pool->Pages, PageSize))) return KSTATUS_NO_MEMORY;
    NVME_SGL_DESCRIPTOR First = Place.First;
    if (Blocks > 1) {
        U32 Pages = (Blocks + PerPage - 2) / (PerPage - 1);  // every page keeping its chain slot
        if (Pages > 1 && Blocks - (Pages - 1) * (PerPage - 1) == 1) {
            // A lone block on the last page takes the chain slot before it instead.
            NVME_SGL_DESCRIPTOR Lone = Pages > Pool->Pages ? Place.Spare : *SlotAt(&Place, Pages - 1, 0);
            Pages--;
            *SlotAt(&Place, Pages - 1, PerPage - 1) = Lone;
        }
        // The chain: page P (not the last) ends with a descriptor of page P + 1, whose length is its blocks.
        U32 InPage = Pages == 1 ? Blocks : PerPage;  // descriptors in the first page, its chain slot included
        for (U32 Page = 0; Page + 1 < Pages; Page++) {
            U32 Next = Page + 1;
            U32 NextCount = Next + 1 < Pages ? PerPage : Blocks - Next * (PerPage - 1);
            U8 Type = Next + 1 < Pages ? NVME_SGL_SEGMENT : NVME_SGL_LAST_SEGMENT;
            Describe(SlotAt(&Place, Page, PerPage - 1), Pool->Physical + (U64)Next * PageSize,
                     NextCount * NVME_SGL_DESCRIPTOR_SIZE, Type);
        }
        Describe(&First, Pool->Physical, InPage * NVME_SGL_DESCRIPTOR_SIZE,
                 Pages == 1 ? NVME_SGL_LAST_SEGMENT : NVME_SGL_SEGMENT);
        Result->SegmentPages = Pages;
    }
    MemoryCopy(Result->Sgl1, &First, sizeof(First));
    Result->Descriptors = Blocks;
    return KSTATUS_SUCCESS;
}

/************************************************************************/
// The rule

/**
 * One walk measures two prefixes of Data: what one PRP command can carry (up to the first segment joint off a
 * page boundary, PrpPages pages, MaxBytes) and what one SGL command can (SglDescriptors pieces, MaxBytes; a piece
 * counted as a descriptor, although contiguous ones merge), both cut down to whole blocks. Auto compares them.
 */
NVME_DATA_PLAN NVMePlanCommand(const NVME_DATA* Data, const NVME_PLAN_LIMITS* Limits) {
    U32 PageSize = Limits->PageSize;
    if (Data->Count > 0 && (U64)Data->Offset + Data->Length <= Data->Segments[0].Length &&
        Data->Length <= Limits->MaxBytes) {
        // All in one buffer (every single-buffer command): its pieces are its pages, no walk needed. When both
        // ways carry it whole, the walk below would decide on the same figures.
        U32 Pieces = NVMePRPPagesSpanned((LINEAR)Data->Segments[0].Buffer + Data->Offset, Data->Length, PageSize);
        U64 Bytes = Data->Length - Data->Length % Limits->BlockSize;
        if (Pieces <= Limits->PrpPages && Pieces <= Limits->SglDescriptors && Bytes > 0) {
            BOOL Sgl = Limits->Mode == NVME_SGL_ON ||
                       (Limits->Mode == NVME_SGL_AUTO && Limits->Threshold != 0 && Bytes >= Limits->Threshold);
            return (NVME_DATA_PLAN){Bytes, Sgl};
        }
    }
    U64 PrpBytes = 0, SglBytes = 0;
    U32 Pieces = 0, Segments = 0;
    BOOL PrpOpen = TRUE, SglOpen = Limits->Mode != NVME_SGL_OFF, EndsPage = TRUE;
    const DISK_SEGMENT* Counted = NULL;
    NVME_DATA_WALK Walk;
    LINEAR Address;
    U32 Length;
    NVMeDataWalkStart(&Walk, Data, PageSize);
    while ((PrpOpen || SglOpen) && NVMeDataWalkNext(&Walk, &Address, &Length)) {
        BOOL Joint = Pieces > 0 && (!EndsPage || (Address & (PageSize - 1)) != 0);
        if (Joint || Pieces + 1 > Limits->PrpPages) PrpOpen = FALSE;
        if (Pieces + 1 > Limits->SglDescriptors) SglOpen = FALSE;
        if (PrpOpen) {
            PrpBytes += MIN((U64)Length, Limits->MaxBytes - PrpBytes);
            PrpOpen = PrpBytes < Limits->MaxBytes;
        }
        if (SglOpen) {
            SglBytes += MIN((U64)Length, Limits->MaxBytes - SglBytes);
            SglOpen = SglBytes < Limits->MaxBytes;
            if (Walk.Segment != Counted) {
                Segments++;
                Counted = Walk.Segment;
            }
        }
        EndsPage = ((Address + Length) & (PageSize - 1)) == 0;
        Pieces++;
    }
    PrpBytes -= PrpBytes % Limits->BlockSize;
    SglBytes -= SglBytes % Limits->BlockSize;
    switch (Limits->Mode) {
        case NVME_SGL_OFF: return (NVME_DATA_PLAN){PrpBytes, FALSE};
        case NVME_SGL_ON: return (NVME_DATA_PLAN){SglBytes, TRUE};
        default: break;
    }
    // Auto: PRPs when they carry the same in one command and the segments are small; an SGL otherwise.
    BOOL Needs = SglBytes > PrpBytes;
    BOOL Favours = Limits->Threshold != 0 && Segments > 0 && SglBytes / Segments >= Limits->Threshold;
    if (Needs || Favours) return (NVME_DATA_PLAN){SglBytes, TRUE};
    return (NVME_DATA_PLAN){PrpBytes, FALSE};
}

#ifdef NVME_WITH_PLATFORM

#include "core/Log.h"

/************************************************************************/
// The mode: nvme.sgl=auto|on|off, against what Identify SGLS allows

LPCSTR NVMeSglModeName(U32 Mode) {
    switch (Mode) {
        case NVME_SGL_AUTO: return "auto";
        case NVME_SGL_ON: return "on";
        case NVME_SGL_OFF: return "off";
        default: return "?";
    }
}

/** SGLS 1:0 is 01b or 10b: SGLs for the NVM command set (I/O queues only; admin commands always use PRPs). */
static BOOL SglSupported(NVME_CONTROLLER* Controller) {
    U32 Support = Controller->Info.Identify.Sgls & NVME_SGLS_SUPPORT_MASK;
    return Controller->Info.IdentifyValid && (Support == NVME_SGLS_SUPPORTED || Support == NVME_SGLS_DWORD_ALIGNED);
}

void NVMeSglConfigure(NVME_CONTROLLER* Controller) {
    LPCSTR Option = PlatformGetOption("nvme.sgl");
    U32 Mode = NVME_SGL_AUTO;
    if (Option && StringCompare(Option, "on") == 0) Mode = NVME_SGL_ON;
    else if (Option && StringCompare(Option, "off") == 0) Mode = NVME_SGL_OFF;
    else if (Option && StringCompare(Option, "auto") != 0) WARNING("[NVMeBringUp] nvme.sgl=%s ignored (auto|on|off)", Option);
    if (Mode != NVME_SGL_OFF && !SglSupported(Controller)) {
        if (Mode == NVME_SGL_ON) {
            WARNING("[NVMeBringUp] %s: nvme.sgl=on, but SGLS is %x (no SGLs): PRPs only", Controller->Info.Name,
                    Controller->Info.Identify.Sgls);
        }
        Mode = NVME_SGL_OFF;
    }
    __atomic_store_n(&Controller->Info.SglMode, Mode, __ATOMIC_RELAXED);
    LPCSTR Threshold = PlatformGetOption("nvme.sgl_threshold");
    U64 Bytes = NVME_SGL_THRESHOLD;
    if (Threshold && (!StringToU64(Threshold, &Bytes, TRUE) || Bytes > MAX_U32)) {
        WARNING("[NVMeBringUp] nvme.sgl_threshold=%s ignored (bytes, k/M suffixes; 0: never)", Threshold);
        Bytes = NVME_SGL_THRESHOLD;
    }
    Controller->Info.SglThreshold = (U32)Bytes;
}

KSTATUS NVMeSetSglMode(U32 ControllerIndex, U32 Mode) {
    NVME_CONTROLLER* Controller = NVMeGetControllerInternal(ControllerIndex);
    if (Controller == NULL || Mode > NVME_SGL_OFF) return KSTATUS_BAD_PARAMETER;
    if (Mode != NVME_SGL_OFF && !SglSupported(Controller)) return KSTATUS_NOT_SUPPORTED;
    __atomic_store_n(&Controller->Info.SglMode, Mode, __ATOMIC_RELAXED);
    return KSTATUS_SUCCESS;
}

#endif  // NVME_WITH_PLATFORM
