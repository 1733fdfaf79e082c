/*
 * NVMe-PRP.c - builds the Physical Region Page entries of one command.
 *
 * Rules (NVMe 2.0 section 4.1.1, figures 107-108):
 *  - PRP1 points at the first byte; it is the only entry that may carry an
 *    offset into its page, and that offset must be dword aligned.
 *  - A transfer that touches exactly two pages puts the second page in PRP2.
 *  - More pages: PRP2 points at a PRP list, an array of page-aligned
 *    addresses. A list page holds PageSize / 8 entries; when more entries
 *    remain than fit, the last entry of the page points at the next list
 *    page instead of data (chaining).
 *
 * The data is a list of buffers (a vectored request's share for one
 * command; one buffer for a plain request), walked a piece at a time: a
 * piece lies in one buffer and one memory page, so it is one PRP entry, or
 * part of one SGL data block (NVMe-SGL.c). PRPs can carry several buffers
 * only where they meet on page boundaries; NVMePlanCommand cuts requests
 * so that every PRP command is legal.
 *
 * Every page of the caller's buffer is translated on its own (through a
 * callback, PlatformTranslate in the kernel), so a buffer that is virtually
 * contiguous but physically scattered works. List pages come from a pool
 * the caller owns (a tracker's share of its queue's DMA pool): nothing is
 * allocated here. The file is pure: host tests build it with fake
 * translations and a plain buffer as the pool.
 */

#include "storage/nvme/NVMe-Internal.h"

#include "utils/String.h"

U32 NVMePRPPagesSpanned(LINEAR Address, U64 Length, U32 PageSize) {
    if (Length == 0 || PageSize == 0) return 0;
    U64 First = (U64)Address / PageSize;
    U64 Last = ((U64)Address + Length - 1) / PageSize;
    return (U32)(Last - First + 1);
}

U32 NVMePRPListPagesNeeded(U32 DataPages, U32 PageSize) {
    if (DataPages <= 2) return 0;
    U32 Entries = DataPages - 1;  // PRP1 holds the first page
    U32 PerPage = PageSize / sizeof(U64);
    // k list pages hold k * (PerPage - 1) + 1 data entries (all but the last page give one entry to the chain).
    return (Entries - 1 + (PerPage - 2)) / (PerPage - 1);
}

U64 NVMePRPMaxTransfer(U32 ListPages, U32 PageSize) {
    if (ListPages == 0) return PageSize;  // an offset buffer of PageSize bytes already touches two pages
    U64 PerPage = PageSize / sizeof(U64);
    U64 Entries = (U64)ListPages * (PerPage - 1) + 1;
    // Entries pages after PRP1: whatever the offset, Entries * PageSize bytes touch at most Entries + 1 pages.
    return Entries * PageSize;
}

/************************************************************************/
// Walking a command's data

void NVMeDataWalkStart(NVME_DATA_WALK* Walk, const NVME_DATA* Data, U32 PageSize) {
    Walk->Segment = Data->Segments;
    Walk->End = Data->Segments + Data->Count;
    Walk->Offset = Data->Offset;
    Walk->Left = Data->Length;
    Walk->PageSize = PageSize;
}

BOOL NVMeDataWalkNext(NVME_DATA_WALK* Walk, LINEAR* Address, U32* Length) {
    while (Walk->Left > 0 && Walk->Segment < Walk->End && Walk->Offset >= Walk->Segment->Length) {
        Walk->Segment++;
        Walk->Offset = 0;
    }
    if (Walk->Left == 0 || Walk->Segment >= Walk->End) return FALSE;
    LINEAR At = (LINEAR)Walk->Segment->Buffer + Walk->Offset;
    U64 Piece = Walk->PageSize - (At & (Walk->PageSize - 1));
    Piece = MIN(Piece, MIN((U64)Walk->Segment->Length - Walk->Offset, Walk->Left));
    *Address = At;
    *Length = (U32)Piece;
    Walk->Offset += Piece;
    Walk->Left -= Piece;
    return TRUE;
}

/************************************************************************/
// PRPs

/**
 * One walk of the data: each piece is one PRP entry; after the first, a piece must start a page, and before the
 * last one it must end its page (PRPs name whole pages in between). Counts the entries (FALSE: not PRP-legal).
 */
static BOOL PRPCount(const NVME_DATA* Data, U32 PageSize, U32* Entries) {
    NVME_DATA_WALK Walk;
    LINEAR Address;
    U32 Length;
    BOOL EndsPage = TRUE;
    *Entries = 0;
    NVMeDataWalkStart(&Walk, Data, PageSize);
    while (NVMeDataWalkNext(&Walk, &Address, &Length)) {
        if (*Entries > 0 && (!EndsPage || (Address & (PageSize - 1)) != 0)) return FALSE;
        EndsPage = ((Address + Length) & (PageSize - 1)) == 0;
        (*Entries)++;
    }
    return Walk.Left == 0 && *Entries > 0;
}

/** Translates the piece at Linear: PRP1 keeps its offset, every other entry must be page aligned. */
static KSTATUS TranslateEntry(LINEAR Linear, BOOL First, U32 PageSize, NVME_TRANSLATE Translate, LPVOID Context,
                              U64* Entry) {
    PHYSICAL Physical = Translate((LPCVOID)Linear, Context);
    U64 Offset = First ? (Linear & (PageSize - 1)) : 0;
    if (Physical == 0 || (Physical & (PageSize - 1)) != Offset) return KSTATUS_BAD_PARAMETER;
    *Entry = Physical;
    return KSTATUS_SUCCESS;
}

/**
 * The common case, data in one buffer (every single-buffer command): its pages are consecutive linear pages, so
 * no walk is needed (make bench-model: about 250 fewer instructions per 4 KiB read than the walk).
 */
static KSTATUS BuildOneBuffer(LINEAR Start, U64 Length, U32 PageSize, NVME_TRANSLATE Translate, LPVOID Context,
                              const NVME_PRP_POOL* Pool, NVME_PRP_RESULT* Result) {
    U32 Pages = NVMePRPPagesSpanned(Start, Length, PageSize);
    if (Pages <= 2) {
        Result->DataPages = Pages;
        return NVMePRPBuildSmall(Start, Length, PageSize, Translate, Context, &Result->Prp1, &Result->Prp2);
    }
    U32 ListPages = NVMePRPListPagesNeeded(Pages, PageSize);  // more than two pages: a list
    if (Pool == NULL || Pool->Linear == NULL || Pool->Physical == 0 || ListPages > Pool->Pages) {
        return KSTATUS_NO_MEMORY;
    }
    if (TranslateEntry(Start, TRUE, PageSize, Translate, Context, &Result->Prp1) != KSTATUS_SUCCESS) {
        return KSTATUS_BAD_PARAMETER;
    }
    LINEAR Second = (Start & ~(LINEAR)(PageSize - 1)) + PageSize;
    U32 PerPage = PageSize / sizeof(U64);
    U32 PageIndex = 0, Slot = 0;
    U64* List = Pool->Linear;
    for (U32 I = 1; I < Pages; I++) {
        if (Slot == PerPage - 1 && Pages - I > 1) {
            // Last slot of a full page with more than one entry to go: chain to the next list page.
            PageIndex++;
            List[Slot] = Pool->Physical + (U64)PageIndex * PageSize;
            List = (U64*)((U8*)Pool->Linear + (SIZE)PageIndex * PageSize);
            Slot = 0;
        }
        if (TranslateEntry(Second + (LINEAR)(I - 1) * PageSize, FALSE, PageSize, Translate, Context,
                           &List[Slot++]) != KSTATUS_SUCCESS) {
            return KSTATUS_BAD_PARAMETER;
        }
    }
    Result->Prp2 = Pool->Physical;
    Result->ListPages = PageIndex + 1;
    Result->DataPages = Pages;
    return KSTATUS_SUCCESS;
}

KSTATUS NVMePRPBuildData(const NVME_DATA* Data, U32 PageSize, NVME_TRANSLATE Translate, LPVOID TranslateContext,
                         const NVME_PRP_POOL* Pool, NVME_PRP_RESULT* Result) {
    if (Result == NULL) return KSTATUS_BAD_PARAMETER;
    *Result = (NVME_PRP_RESULT){0};
    if (Data == NULL || Data->Segments == NULL || Data->Length == 0 || Translate == NULL || PageSize < 4096 ||
        !IS_POWER_OF_TWO(PageSize)) {
        return KSTATUS_BAD_PARAMETER;
    }
    LINEAR Start = (LINEAR)Data->Segments[0].Buffer + Data->Offset;
    if (!IS_ALIGNED(Start, 4)) return KSTATUS_BAD_PARAMETER;  // PRP1's offset must be dword aligned
    if (Data->Count > 0 && (U64)Data->Offset + Data->Length <= Data->Segments[0].Length) {
        KSTATUS Status = BuildOneBuffer(Start, Data->Length, PageSize, Translate, TranslateContext, Pool, Result);
        if (Status != KSTATUS_SUCCESS) *Result = (NVME_PRP_RESULT){0};
        return Status;
    }
    U32 Pages;
    if (!PRPCount(Data, PageSize, &Pages)) return KSTATUS_BAD_PARAMETER;
    U32 ListPages = NVMePRPListPagesNeeded(Pages, PageSize);
    if (ListPages > 0 && (Pool == NULL || Pool->Linear == NULL || Pool->Physical == 0 || ListPages > Pool->Pages)) {
        return KSTATUS_NO_MEMORY;
    }

    U32 PerPage = PageSize / sizeof(U64);
    U32 PageIndex = 0, Slot = 0;
    U64* List = Pool ? Pool->Linear : NULL;
    NVME_DATA_WALK Walk;
    LINEAR Address;
    U32 Length;
    NVMeDataWalkStart(&Walk, Data, PageSize);
    for (U32 I = 0; NVMeDataWalkNext(&Walk, &Address, &Length); I++) {
        U64 Entry;
        if (TranslateEntry(Address, I == 0, PageSize, Translate, TranslateContext, &Entry) != KSTATUS_SUCCESS) {
            return KSTATUS_BAD_PARAMETER;
        }
        if (I == 0) {
            Result->Prp1 = Entry;
        } else if (Pages == 2) {
            Result->Prp2 = Entry;  // exactly two pages: PRP2 is the second page itself
        } else {
            if (Slot == PerPage - 1 && Pages - I > 1) {
                // Last slot of a full page with more than one entry to go: chain to the next list page.
                PageIndex++;
                List[Slot] = Pool->Physical + (U64)PageIndex * PageSize;
                List = (U64*)((U8*)Pool->Linear + (SIZE)PageIndex * PageSize);
                Slot = 0;
            }
            List[Slot++] = Entry;
        }
    }
    if (Pages > 2) {
        Result->Prp2 = Pool->Physical;
        Result->ListPages = PageIndex + 1;
    }
    Result->DataPages = Pages;
    return KSTATUS_SUCCESS;
}

KSTATUS NVMePRPBuild(LPCVOID Buffer, U64 Length, U32 PageSize, NVME_TRANSLATE Translate, LPVOID TranslateContext,
                     const NVME_PRP_POOL* Pool, NVME_PRP_RESULT* Result) {
    if (Result) *Result = (NVME_PRP_RESULT){0};
    if (Buffer == NULL || Length > MAX_U32) return Buffer == NULL ? KSTATUS_BAD_PARAMETER : KSTATUS_NO_MEMORY;
    DISK_SEGMENT Segment = {(LPVOID)Buffer, (U32)Length};
    NVME_DATA Data = {&Segment, 1, 0, Length};
    return NVMePRPBuildData(&Data, PageSize, Translate, TranslateContext, Pool, Result);
}
