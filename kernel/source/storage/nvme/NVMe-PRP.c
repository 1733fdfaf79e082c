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

/** Translates the page at Linear and checks it is page aligned (every entry after PRP1). */
static KSTATUS TranslatePage(LINEAR Linear, U32 PageSize, NVME_TRANSLATE Translate, LPVOID Context, U64* Entry) {
    PHYSICAL Physical = Translate((LPCVOID)Linear, Context);
    if (Physical == 0 || (Physical & (PageSize - 1)) != 0) return KSTATUS_BAD_PARAMETER;
    *Entry = Physical;
    return KSTATUS_SUCCESS;
}

KSTATUS NVMePRPBuild(LPCVOID Buffer, U64 Length, U32 PageSize, NVME_TRANSLATE Translate, LPVOID TranslateContext,
                     const NVME_PRP_POOL* Pool, NVME_PRP_RESULT* Result) {
    if (Result == NULL) return KSTATUS_BAD_PARAMETER;
    *Result = (NVME_PRP_RESULT){0};
    if (Buffer == NULL || Length == 0 || Translate == NULL || PageSize < 4096 || !IS_POWER_OF_TWO(PageSize)) {
        return KSTATUS_BAD_PARAMETER;
    }
    LINEAR Address = (LINEAR)Buffer;
    if (!IS_ALIGNED(Address, 4)) return KSTATUS_BAD_PARAMETER;  // PRP1's offset must be dword aligned
    if (Length > (U64)MAX_U32 * PageSize) return KSTATUS_BAD_PARAMETER;

    U64 Offset = Address & (PageSize - 1);
    U32 Pages = NVMePRPPagesSpanned(Address, Length, PageSize);
    PHYSICAL First = Translate(Buffer, TranslateContext);
    if (First == 0 || (First & (PageSize - 1)) != Offset) return KSTATUS_BAD_PARAMETER;
    LINEAR Second = Address - Offset + PageSize;

    if (Pages == 1) {
        Result->Prp1 = First;
        Result->DataPages = 1;
        return KSTATUS_SUCCESS;
    }
    if (Pages == 2) {
        U64 Entry;
        if (TranslatePage(Second, PageSize, Translate, TranslateContext, &Entry) != KSTATUS_SUCCESS) {
            return KSTATUS_BAD_PARAMETER;
        }
        Result->Prp1 = First;
        Result->Prp2 = Entry;
        Result->DataPages = 2;
        return KSTATUS_SUCCESS;
    }

    U32 ListPages = NVMePRPListPagesNeeded(Pages, PageSize);
    if (Pool == NULL || Pool->Linear == NULL || Pool->Physical == 0 || ListPages > Pool->Pages) {
        return KSTATUS_NO_MEMORY;
    }
    U32 PerPage = PageSize / sizeof(U64);
    U32 Entries = Pages - 1;
    U32 PageIndex = 0, Slot = 0;
    U64* List = Pool->Linear;
    for (U32 I = 0; I < Entries; I++) {
        if (Slot == PerPage - 1 && Entries - I > 1) {
            // Last slot of a full page with more than one entry to go: chain to the next list page.
            PageIndex++;
            List[Slot] = Pool->Physical + (U64)PageIndex * PageSize;
            List = (U64*)((U8*)Pool->Linear + (SIZE)PageIndex * PageSize);
            Slot = 0;
        }
        if (TranslatePage(Second + (LINEAR)I * PageSize, PageSize, Translate, TranslateContext, &List[Slot]) !=
            KSTATUS_SUCCESS) {
            return KSTATUS_BAD_PARAMETER;
        }
        Slot++;
    }
    Result->Prp1 = First;
    Result->Prp2 = Pool->Physical;
    Result->DataPages = Pages;
    Result->ListPages = PageIndex + 1;
    return KSTATUS_SUCCESS;
}
