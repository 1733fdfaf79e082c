/*
 * NVMeModel-DMA.c - turning a command's data pointer into memory segments
 * (PRP entries and lists, SGL descriptors and segments) and moving data
 * through the MemoryBus, with the conformance checks that belong there.
 *
 * PRP (NVMe 1.4 4.3): PRP1 may start anywhere dword aligned; every other
 * entry is page aligned. PRP2 is unused (and must be 0) when the transfer
 * ends in PRP1's page, a data pointer when it ends in the next page, else
 * a pointer to a PRP list, which may start at a qword offset; the last
 * slot of a list page points to the next list page whenever more than one
 * entry remains.
 *
 * SGL (4.4): SGL1 in the command is a Data Block or a (Last) Segment
 * descriptor; a segment is an array of 16-byte descriptors, of which only
 * the last may be a Segment or Last Segment descriptor, and the segment a
 * Last Segment descriptor points to holds data blocks only. Keyed, bit
 * bucket and transport descriptors and the Offset subtype are refused.
 */

#include <stdlib.h>
#include <string.h>

#include "NVMeModel-Internal.h"

#define MAX_SGL_SEGMENTS 256
#define MAX_SGL_DESCRIPTORS 4096
#define SGLS_SUPPORT_MASK 0x3U
#define SGLS_DWORD_GRANULARITY 0x2U
#define SGLS_EXCESS_LENGTH (1U << 19)

void NmSgInit(NM_SG_LIST* List) { memset(List, 0, sizeof(*List)); }

void NmSgRelease(NM_SG_LIST* List) {
    free(List->Segments);
    memset(List, 0, sizeof(*List));
}

static BOOL SgAdd(NM_SG_LIST* List, PHYSICAL Address, U64 Length) {
    if (Length == 0) return TRUE;
    if (List->Count > 0) {
        NM_SEGMENT* Last = &List->Segments[List->Count - 1];
        if (Last->Address + Last->Length == Address) {
            Last->Length += Length;
            List->Total += Length;
            return TRUE;
        }
    }
    if (List->Count == List->Capacity) {
        U32 Capacity = List->Capacity ? List->Capacity * 2 : 16;
        if (Capacity > NM_MAX_SEGMENTS) return FALSE;
        NM_SEGMENT* Grown = (NM_SEGMENT*)realloc(List->Segments, Capacity * sizeof(NM_SEGMENT));
        if (Grown == NULL) return FALSE;
        List->Segments = Grown;
        List->Capacity = Capacity;
    }
    List->Segments[List->Count].Address = Address;
    List->Segments[List->Count].Length = Length;
    List->Count++;
    List->Total += Length;
    return TRUE;
}

/************************************************************************/
// Device DMA

BOOL NmDmaReadLocked(NM_MODEL* Model, PHYSICAL Address, LPVOID Buffer, U64 Length, LPCSTR What) {
    if (!NmBusMasterEnabled(Model)) {
        NmViolation(Model, NVME_RULE_DMA_WITHOUT_BUS_MASTER,
                    "the controller must read %s at %#llx but Bus Master Enable is clear", What, Address);
        return FALSE;
    }
    // Behind a bridge that does not pass bus-master requests the access never reaches memory (the port's
    // model reports it): the command sees a data transfer error.
    if (Model->Upstream && !Model->Upstream->DmaAllowed(Model->UpstreamContext)) return FALSE;
    if (!MemoryBusRead(Model->Bus, Address, Buffer, Length)) {
        NmViolation(Model, NVME_RULE_DMA_UNMAPPED, "%s at %#llx (%llu bytes) is not in memory", What, Address, Length);
        return FALSE;
    }
    return TRUE;
}

BOOL NmDmaWriteLocked(NM_MODEL* Model, PHYSICAL Address, LPCVOID Buffer, U64 Length, LPCSTR What) {
    if (!NmBusMasterEnabled(Model)) {
        NmViolation(Model, NVME_RULE_DMA_WITHOUT_BUS_MASTER,
                    "the controller must write %s at %#llx but Bus Master Enable is clear", What, Address);
        return FALSE;
    }
    // Behind a bridge that does not pass bus-master requests the access never reaches memory (the port's
    // model reports it): the command sees a data transfer error.
    if (Model->Upstream && !Model->Upstream->DmaAllowed(Model->UpstreamContext)) return FALSE;
    if (!MemoryBusWrite(Model->Bus, Address, Buffer, Length)) {
        NmViolation(Model, NVME_RULE_DMA_UNMAPPED, "%s at %#llx (%llu bytes) is not in memory", What, Address, Length);
        return FALSE;
    }
    return TRUE;
}

U16 NmSgCopyLocked(NM_MODEL* Model, const NM_SG_LIST* List, LPVOID Buffer, U64 Length, BOOL ToMemory) {
    U8* Cursor = (U8*)Buffer;
    for (U32 I = 0; I < List->Count && Length > 0; I++) {
        U64 Piece = MIN(Length, List->Segments[I].Length);
        BOOL Ok = ToMemory ? NmDmaWriteLocked(Model, List->Segments[I].Address, Cursor, Piece, "command data")
                           : NmDmaReadLocked(Model, List->Segments[I].Address, Cursor, Piece, "command data");
        if (!Ok) return NM_STATUS(NM_SCT_GENERIC, NM_SC_DATA_TRANSFER_ERROR);
        Cursor += Piece;
        Length -= Piece;
    }
    return 0;
}

/************************************************************************/
// PRP

static U16 PrpInvalid(void) { return NM_STATUS(NM_SCT_GENERIC, NM_SC_PRP_OFFSET_INVALID) | NM_STATUS_DNR; }

static U16 MapPrpLocked(NM_MODEL* Model, const NM_QUEUE* Sq, const NM_SQE* Command, U64 Length, NM_SG_LIST* List) {
    U64 PageSize = Model->PageSize;
    U16 Cid = NM_SQE_CID(Command);
    U64 Prp1 = Command->Prp1;
    U64 Prp2 = Command->Prp2;
    if (Prp1 & 3) {
        NmViolation(Model, NVME_RULE_PRP1_ALIGNMENT, "SQ %u CID %u: PRP1=%#llx is not dword aligned", Sq->Id, Cid,
                    Prp1);
        return PrpInvalid();
    }
    U64 First = MIN(Length, PageSize - (Prp1 & (PageSize - 1)));
    SgAdd(List, Prp1, First);
    U64 Remaining = Length - First;
    if (Remaining == 0) {
        if (Prp2 != 0) {
            NmViolation(Model, NVME_RULE_PRP2_UNUSED_NONZERO,
                        "SQ %u CID %u: %llu bytes at PRP1=%#llx fit in one page, but PRP2=%#llx (must be 0)", Sq->Id,
                        Cid, Length, Prp1, Prp2);
        }
        return 0;
    }
    if (Remaining <= PageSize) {
        if (Prp2 & (PageSize - 1)) {
            NmViolation(Model, NVME_RULE_PRP2_ALIGNMENT,
                        "SQ %u CID %u: PRP2=%#llx is a data pointer (%llu bytes left) and must be %llu-byte aligned",
                        Sq->Id, Cid, Prp2, Remaining, PageSize);
            return PrpInvalid();
        }
        SgAdd(List, Prp2, Remaining);
        return 0;
    }
    if (Prp2 & 7) {
        NmViolation(Model, NVME_RULE_PRP_LIST_ALIGNMENT, "SQ %u CID %u: PRP2=%#llx is a PRP list pointer and must be "
                    "qword aligned", Sq->Id, Cid, Prp2);
        return PrpInvalid();
    }
    PHYSICAL Slot = Prp2;
    BOOL JustChained = FALSE;
    U32 Index = 0;
    while (Remaining > 0) {
        U64 SlotsLeft = (PageSize - (Slot & (PageSize - 1))) / 8;
        U64 Entry;
        if (!NmDmaReadLocked(Model, Slot, &Entry, 8, "a PRP list entry")) {
            return NM_STATUS(NM_SCT_GENERIC, NM_SC_DATA_TRANSFER_ERROR);
        }
        if (SlotsLeft == 1 && Remaining > PageSize) {
            // The last slot of a list page: a pointer to the next list page.
            if (Entry == 0 || (Entry & 7)) {
                NmViolation(Model, NVME_RULE_PRP_LIST_CHAIN,
                            "SQ %u CID %u: PRP list slot at %#llx (last of its page) must point to the next list page "
                            "(%llu bytes left), holds %#llx",
                            Sq->Id, Cid, Slot, Remaining, Entry);
                return PrpInvalid();
            }
            Slot = Entry;
            JustChained = TRUE;
            continue;
        }
        if (Entry == 0 || (Entry & (PageSize - 1))) {
            if (JustChained) {
                NmViolation(Model, NVME_RULE_PRP_LIST_CHAIN,
                            "SQ %u CID %u: PRP entry %u (%#llx) read after following a chain pointer is not a page "
                            "address: did the list cross a page without a chain entry?",
                            Sq->Id, Cid, Index, Entry);
            } else {
                NmViolation(Model, NVME_RULE_PRP_ENTRY_ALIGNMENT,
                            "SQ %u CID %u: PRP list entry %u = %#llx is not a %llu-byte aligned page", Sq->Id, Cid,
                            Index, Entry, PageSize);
            }
            return PrpInvalid();
        }
        U64 Piece = MIN(Remaining, PageSize);
        if (!SgAdd(List, Entry, Piece)) return NM_STATUS(NM_SCT_GENERIC, NM_SC_INTERNAL_ERROR);
        Remaining -= Piece;
        Slot += 8;
        Index++;
        JustChained = FALSE;
    }
    return 0;
}

/************************************************************************/
// SGL

static U16 SglStatus(U8 Code) { return NM_STATUS(NM_SCT_GENERIC, Code) | NM_STATUS_DNR; }

/** Adds one data block descriptor, checking type, subtype and granularity. */
static U16 SglDataBlock(NM_MODEL* Model, const NM_SQE* Command, const NM_SGL_DESCRIPTOR* D, NM_SG_LIST* List) {
    U16 Cid = NM_SQE_CID(Command);
    if ((D->Type & 0xF) != 0) {
        NmViolation(Model, NVME_RULE_SGL_DESCRIPTOR_TYPE, "CID %u: SGL data block with subtype %u (only Address, 0)",
                    Cid, D->Type & 0xF);
        return SglStatus(NM_SC_SGL_TYPE_INVALID);
    }
    if ((Model->Config.Sgls & SGLS_SUPPORT_MASK) == SGLS_DWORD_GRANULARITY && ((D->Address | D->Length) & 3)) {
        NmViolation(Model, NVME_RULE_SGL_ALIGNMENT,
                    "CID %u: SGL data block %#llx+%u is not dword aligned (SGLS requires it)", Cid, D->Address,
                    D->Length);
        return SglStatus(NM_SC_SGL_GRANULARITY_INVALID);
    }
    if (!SgAdd(List, D->Address, D->Length)) return NM_STATUS(NM_SCT_GENERIC, NM_SC_INTERNAL_ERROR);
    Model->Stats.SglDataBlocks++;
    return 0;
}

static U16 MapSglLocked(NM_MODEL* Model, const NM_QUEUE* Sq, const NM_SQE* Command, U64 Length, NM_SG_LIST* List) {
    U16 Cid = NM_SQE_CID(Command);
    NM_SGL_DESCRIPTOR Descriptor;
    memcpy(&Descriptor, &Command->Prp1, sizeof(Descriptor));
    U32 Segments = 0, Descriptors = 0;
    BOOL InLastSegment = FALSE;

    for (;;) {
        U8 Type = Descriptor.Type >> 4;
        if (Type == NM_SGL_DATA_BLOCK) {
            U16 Status = SglDataBlock(Model, Command, &Descriptor, List);
            if (Status) return Status;
            break;  // SGL1 as a data block describes the whole transfer
        }
        if (Type != NM_SGL_SEGMENT && Type != NM_SGL_LAST_SEGMENT) {
            NmViolation(Model, NVME_RULE_SGL_DESCRIPTOR_TYPE, "SQ %u CID %u: SGL descriptor type %u is not supported",
                        Sq->Id, Cid, Type);
            return SglStatus(NM_SC_SGL_TYPE_INVALID);
        }
        if ((Descriptor.Type & 0xF) != 0) {
            NmViolation(Model, NVME_RULE_SGL_DESCRIPTOR_TYPE, "SQ %u CID %u: SGL segment descriptor with subtype %u",
                        Sq->Id, Cid, Descriptor.Type & 0xF);
            return SglStatus(NM_SC_SGL_TYPE_INVALID);
        }
        if (InLastSegment) {
            NmViolation(Model, NVME_RULE_SGL_SEGMENT_INVALID,
                        "SQ %u CID %u: the last SGL segment contains a (last) segment descriptor", Sq->Id, Cid);
            return SglStatus(NM_SC_INVALID_SGL_SEGMENT);
        }
        if (Descriptor.Length == 0 || Descriptor.Length % sizeof(NM_SGL_DESCRIPTOR) != 0) {
            NmViolation(Model, NVME_RULE_SGL_SEGMENT_INVALID,
                        "SQ %u CID %u: SGL segment at %#llx has length %u (a non-zero multiple of 16)", Sq->Id, Cid,
                        Descriptor.Address, Descriptor.Length);
            return SglStatus(NM_SC_INVALID_SGL_COUNT);
        }
        U32 Count = Descriptor.Length / sizeof(NM_SGL_DESCRIPTOR);
        if (++Segments > MAX_SGL_SEGMENTS || (Descriptors += Count) > MAX_SGL_DESCRIPTORS) {
            NmViolation(Model, NVME_RULE_SGL_SEGMENT_INVALID,
                        "SQ %u CID %u: SGL longer than %u segments / %u descriptors "
                        "(a loop?)",
                        Sq->Id, Cid, MAX_SGL_SEGMENTS, MAX_SGL_DESCRIPTORS);
            return SglStatus(NM_SC_INVALID_SGL_COUNT);
        }
        InLastSegment = Type == NM_SGL_LAST_SEGMENT;
        NM_SGL_DESCRIPTOR* Segment = (NM_SGL_DESCRIPTOR*)malloc(Descriptor.Length);
        if (Segment == NULL) return NM_STATUS(NM_SCT_GENERIC, NM_SC_INTERNAL_ERROR);
        if (!NmDmaReadLocked(Model, Descriptor.Address, Segment, Descriptor.Length, "an SGL segment")) {
            free(Segment);
            return NM_STATUS(NM_SCT_GENERIC, NM_SC_DATA_TRANSFER_ERROR);
        }
        BOOL Chained = FALSE;
        U16 Status = 0;
        for (U32 I = 0; I < Count && Status == 0; I++) {
            U8 Inner = Segment[I].Type >> 4;
            if (Inner == NM_SGL_SEGMENT || Inner == NM_SGL_LAST_SEGMENT) {
                if (I != Count - 1) {
                    NmViolation(Model, NVME_RULE_SGL_SEGMENT_INVALID,
                                "SQ %u CID %u: SGL descriptor %u of %u in segment %#llx is a segment descriptor but "
                                "not the last one",
                                Sq->Id, Cid, I, Count, Descriptor.Address);
                    Status = SglStatus(NM_SC_INVALID_SGL_SEGMENT);
                    break;
                }
                Descriptor = Segment[I];
                Chained = TRUE;
            } else if (Inner == NM_SGL_DATA_BLOCK) {
                Status = SglDataBlock(Model, Command, &Segment[I], List);
            } else {
                NmViolation(Model, NVME_RULE_SGL_DESCRIPTOR_TYPE,
                            "SQ %u CID %u: SGL descriptor type %u is not supported", Sq->Id, Cid, Inner);
                Status = SglStatus(NM_SC_SGL_TYPE_INVALID);
            }
        }
        free(Segment);
        if (Status) return Status;
        if (!Chained) break;
    }

    if (List->Total < Length || (List->Total > Length && !(Model->Config.Sgls & SGLS_EXCESS_LENGTH))) {
        NmViolation(Model, NVME_RULE_SGL_LENGTH_MISMATCH, "SQ %u CID %u: the SGL describes %llu bytes, the command "
                    "transfers %llu", Sq->Id, Cid, List->Total, Length);
        return SglStatus(NM_SC_SGL_LENGTH_INVALID);
    }
    return 0;
}

/************************************************************************/
// Entry point

U16 NmMapDataLocked(NM_MODEL* Model, const NM_QUEUE* Sq, const NM_SQE* Command, U64 Length, NM_SG_LIST* List) {
    NmSgInit(List);
    U32 Psdt = NM_SQE_PSDT(Command);
    U16 Cid = NM_SQE_CID(Command);
    if (Psdt == 3) {
        NmViolation(Model, NVME_RULE_PSDT_INVALID, "SQ %u CID %u: PSDT=11b is reserved", Sq->Id, Cid);
        return NM_STATUS(NM_SCT_GENERIC, NM_SC_INVALID_FIELD) | NM_STATUS_DNR;
    }
    if (Psdt != NM_PSDT_PRP && Sq->Id == 0) {
        NmViolation(Model, NVME_RULE_ADMIN_SGL, "admin CID %u (opcode %#x) uses SGLs (PSDT=%u)", Cid,
                    NM_SQE_OPCODE(Command), Psdt);
        return NM_STATUS(NM_SCT_GENERIC, NM_SC_INVALID_FIELD) | NM_STATUS_DNR;
    }
    if (Psdt != NM_PSDT_PRP && (Model->Config.Sgls & SGLS_SUPPORT_MASK) == 0) {
        NmViolation(Model, NVME_RULE_SGL_UNSUPPORTED, "SQ %u CID %u uses SGLs but Identify SGLS=%#x", Sq->Id, Cid,
                    Model->Config.Sgls);
        return NM_STATUS(NM_SCT_GENERIC, NM_SC_INVALID_FIELD) | NM_STATUS_DNR;
    }
    if (Length == 0) return 0;
    if (Psdt == NM_PSDT_PRP) return MapPrpLocked(Model, Sq, Command, Length, List);
    U16 Status = MapSglLocked(Model, Sq, Command, Length, List);
    if (Status == 0) Model->Stats.SglCommands++;
    return Status;
}

U16 NmCommandDataLocked(NM_MODEL* Model, const NM_QUEUE* Sq, const NM_SQE* Command, LPVOID Buffer, U64 Length,
                        BOOL ToMemory) {
    NM_SG_LIST List;
    U16 Status = NmMapDataLocked(Model, Sq, Command, Length, &List);
    if (Status == 0) Status = NmSgCopyLocked(Model, &List, Buffer, Length, ToMemory);
    NmSgRelease(&List);
    return Status;
}
