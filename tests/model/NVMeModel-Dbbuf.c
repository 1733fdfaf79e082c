/*
 * NVMeModel-Dbbuf.c - the model's shadow doorbells: Doorbell Buffer Config
 * (admin 7Ch, offered with OACS bit 8; NVMe 1.3 sections 5.7 and 7.13).
 *
 * PRP1 names the Shadow Doorbell page, PRP2 the EventIdx page, each one
 * memory page, page aligned (else Invalid Field, as QEMU 7.2). Slots sit at
 * the doorbell offsets less 1000h (with CAP.DSTRD). From then on until the
 * controller resets, the model takes SQ tails and CQ heads from the shadow
 * page whenever it looks (every processing pass and after each command for
 * SQs, before each completion it posts for CQs), and writes EventIdx:
 *  - EAGER: the value it just read (the host rings on every move);
 *  - QEMU: SQs as eager; for CQs the head known before reading the slot, as
 *    QEMU 7.2's nvme_post_cqes does (one update behind);
 *  - LAZY: random stale or early values while busy (the host may ring too
 *    much or too little), the exact tail only when it is about to idle.
 * Whatever the mode, before going idle the model publishes EventIdx = tail
 * and reads the slot once more: the one step the protocol needs for no
 * submission to be lost. MMIO doorbell writes still work and wake the model;
 * an admin doorbell's MMIO value must equal its shadow entry (the spec's
 * rule for the admin queue; DBBUF_ADMIN_MISMATCH).
 */

#include "NVMeModel-Internal.h"

/** Slot of queue Qid's SQ tail (Completion FALSE) or CQ head in one of the pages. */
static PHYSICAL SlotAddress(NM_MODEL* Model, PHYSICAL Page, U16 Qid, BOOL Completion) {
    return Page + (2U * Qid + (Completion ? 1U : 0U)) * (4U << Model->Config.Dstrd);
}

static BOOL ReadSlot(NM_MODEL* Model, PHYSICAL Page, U16 Qid, BOOL Completion, U32* Value) {
    return NmDmaReadLocked(Model, SlotAddress(Model, Page, Qid, Completion), Value, 4, "shadow doorbell slot");
}

static void WriteSlot(NM_MODEL* Model, PHYSICAL Page, U16 Qid, BOOL Completion, U32 Value) {
    NmDmaWriteLocked(Model, SlotAddress(Model, Page, Qid, Completion), &Value, 4, "EventIdx slot");
}

void NmDbbufConfigLocked(NM_MODEL* Model, const NM_SQE* Command, NM_RESULT* Result) {
    if (!(Model->Config.Oacs & 0x100)) {
        NmViolation(Model, NVME_RULE_COMMAND_UNADVERTISED, "Doorbell Buffer Config sent, but OACS bit 8 is clear");
        Result->Status = NM_STATUS(NM_SCT_GENERIC, NM_SC_INVALID_OPCODE) | NM_STATUS_DNR;
        return;
    }
    U64 Mask = Model->PageSize - 1;
    if (Command->Prp1 == 0 || Command->Prp2 == 0 || (Command->Prp1 & Mask) || (Command->Prp2 & Mask)) {
        Result->Status = NM_STATUS(NM_SCT_GENERIC, NM_SC_INVALID_FIELD) | NM_STATUS_DNR;
        return;
    }
    Model->DbbufShadow = Command->Prp1;
    Model->DbbufEventIdx = Command->Prp2;
    Model->DbbufEnabled = TRUE;
    Model->Stats.DbbufConfigs++;
    // Queues that exist already: their slots get the values the controller holds (as QEMU does).
    for (U16 Q = 0; Q < NM_MAX_QUEUES; Q++) {
        if (Model->Sq[Q].Exists) WriteSlot(Model, Model->DbbufShadow, Q, FALSE, Model->Sq[Q].Tail);
        if (Model->Cq[Q].Exists) WriteSlot(Model, Model->DbbufShadow, Q, TRUE, Model->Cq[Q].Head);
    }
}

/** A random EventIdx near Value: up to a quarter ring behind, or a few entries ahead. */
static U32 LazyValue(NM_MODEL* Model, U32 Value, U32 Size) {
    U64 Random = NmRandom(Model);
    U32 Behind = (U32)(Random % (Size / 4 + 1)), Ahead = (U32)((Random >> 20) % 4);
    return (Random >> 40) & 1 ? (Value + Size - Behind) % Size : (Value + Ahead) % Size;
}

void NmDbbufFetchSqLocked(NM_MODEL* Model, NM_QUEUE* Sq, BOOL Idle) {
    if (!Model->DbbufEnabled || !Sq->Exists) return;
    U32 EventIdx = Sq->Tail;
    if (Model->Config.EventIdxMode == NVME_MODEL_EVENTIDX_LAZY && !Idle) EventIdx = LazyValue(Model, Sq->Tail, Sq->Size);
    WriteSlot(Model, Model->DbbufEventIdx, Sq->Id, FALSE, EventIdx);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);  // EventIdx out before the slot is read (the host does the mirror)
    U32 Tail = 0;
    if (!ReadSlot(Model, Model->DbbufShadow, Sq->Id, FALSE, &Tail)) return;
    Model->Stats.ShadowReads++;
    if (Tail >= Sq->Size) {
        NmViolation(Model, NVME_RULE_DOORBELL_VALUE_RANGE, "shadow SQ tail of queue %u is %u, but it has %u entries",
                    Sq->Id, Tail, Sq->Size);
        return;
    }
    if (Tail != Sq->Tail) Model->WorkPending = TRUE;
    Sq->Tail = Tail;
}

/** Takes Head as the CQ's head (the checks of an MMIO head write). */
static void MoveHead(NM_MODEL* Model, NM_QUEUE* Cq, U32 Head) {
    U32 Size = Cq->Size;
    if (Head >= Size) {
        NmViolation(Model, NVME_RULE_DOORBELL_VALUE_RANGE, "shadow CQ head of queue %u is %u, but it has %u entries",
                    Cq->Id, Head, Size);
        return;
    }
    U32 Advance = (Head + Size - Cq->Head) % Size, Posted = (Cq->Tail + Size - Cq->Head) % Size;
    if (Advance > Posted) {
        NmViolation(Model, NVME_RULE_CQ_HEAD_BEYOND_TAIL,
                    "shadow CQ %u head %u -> %u consumes %u entries but only %u were posted (tail %u)", Cq->Id,
                    Cq->Head, Head, Advance, Posted, Cq->Tail);
        return;
    }
    if (Advance) Cq->Silenced = FALSE;
    Cq->Head = Head;
}

void NmDbbufFetchCqLocked(NM_MODEL* Model, NM_QUEUE* Cq) {
    if (!Model->DbbufEnabled || !Cq->Exists) return;
    NVME_MODEL_EVENTIDX_MODE Mode = Model->Config.EventIdxMode;
    U32 Known = Cq->Head, Head = 0;
    if (Mode != NVME_MODEL_EVENTIDX_EAGER) {
        // QEMU: the head known before the read; lazy: anything near it.
        WriteSlot(Model, Model->DbbufEventIdx, Cq->Id, TRUE,
                  Mode == NVME_MODEL_EVENTIDX_LAZY ? LazyValue(Model, Known, Cq->Size) : Known);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
    }
    if (!ReadSlot(Model, Model->DbbufShadow, Cq->Id, TRUE, &Head)) return;
    Model->Stats.ShadowReads++;
    MoveHead(Model, Cq, Head);
    BOOL Full = (Cq->Tail + 1) % Cq->Size == Cq->Head;
    if (Mode == NVME_MODEL_EVENTIDX_EAGER || (Mode == NVME_MODEL_EVENTIDX_LAZY && Full)) {
        // Ask to hear of the next move, then look once more (a move between the read and this write counts).
        WriteSlot(Model, Model->DbbufEventIdx, Cq->Id, TRUE, Cq->Head);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (ReadSlot(Model, Model->DbbufShadow, Cq->Id, TRUE, &Head)) MoveHead(Model, Cq, Head);
    }
}

void NmDbbufCheckAdminLocked(NM_MODEL* Model, U16 Qid, BOOL Completion, U32 Value) {
    U32 Shadow = 0;
    if (!Model->DbbufEnabled || Qid != 0 || !ReadSlot(Model, Model->DbbufShadow, 0, Completion, &Shadow)) return;
    if (Shadow != Value) {
        NmViolation(Model, NVME_RULE_DBBUF_ADMIN_MISMATCH,
                    "admin %s doorbell written %u, but its Shadow Doorbell entry holds %u",
                    Completion ? "CQ head" : "SQ tail", Value, Shadow);
    }
}
