/*
 * NVMe-Queue.c - the queue engine: one submission/completion queue pair,
 * its trackers, and the paths that fill and drain it.
 *
 * A queue of Depth entries owns Depth - 1 trackers, allocated with it. A
 * command's identifier is its tracker's index (low 12 bits) plus a 4-bit
 * generation, handed out by a FIFO free list: an index returns to the list
 * only after its completion was consumed and its Done function ran, so an
 * identifier is never reused while its command is in flight, and a late
 * duplicate completion finds its tracker free (or a new generation) and is
 * dropped. Each tracker owns one share of the queue's PRP list pool, so the
 * I/O path never allocates.
 *
 * Invariants (all under the queue lock, a PLATFORM_LOCK held briefly):
 *  - at most Depth - 1 commands are outstanding, so neither the SQ nor the
 *    CQ can overflow; a submitter that finds no free tracker sleeps on
 *    SlotEvent until a completion frees one;
 *  - SQ entries are written before the tail doorbell (write barrier);
 *  - a completion is used only after its phase tag matched (read barrier
 *    between the phase and the rest), and only if its SQID is this queue and
 *    its CID names a tracker that is in flight with that generation;
 *  - the CQ head doorbell is written once per drained batch; the SQ head is
 *    taken from each completion's SQHD.
 * Done functions run outside the lock, then the trackers are freed.
 *
 * Completion comes in three small variants (NVME_QUEUE_OPS): MSI-X/MSI
 * (the top half defers to the bottom half), INTx (the top half also masks
 * with INTMS and the bottom half unmasks with INTMC) and polled (a per
 * controller thread reaps; submission wakes it). Any waiter also reaps its
 * own queue when its wait step expires, which recovers from a missed
 * interrupt.
 *
 * The ring and identifier arithmetic at the top is pure (host tests).
 */

#include "drivers/storage/NVMe-Internal.h"

#include "utils/String.h"

/************************************************************************/
// Pure: identifiers and rings

void NVMeCidInit(NVME_CID_ALLOCATOR* Allocator, U16* Links, U8* Busy, U16 Capacity) {
    Allocator->Links = Links;
    Allocator->Busy = Busy;
    Allocator->Capacity = Capacity;
    Allocator->FreeCount = Capacity;
    Allocator->Head = Capacity ? 0 : NVME_CID_NONE;
    Allocator->Tail = Capacity ? (U16)(Capacity - 1) : NVME_CID_NONE;
    for (U16 I = 0; I < Capacity; I++) {
        Links[I] = (I + 1 < Capacity) ? (U16)(I + 1) : NVME_CID_NONE;
        Busy[I] = 0;
    }
}

BOOL NVMeCidAllocate(NVME_CID_ALLOCATOR* Allocator, U16* Index) {
    if (Allocator->FreeCount == 0 || Allocator->Head == NVME_CID_NONE) return FALSE;
    U16 Taken = Allocator->Head;
    Allocator->Head = Allocator->Links[Taken];
    if (Allocator->Head == NVME_CID_NONE) Allocator->Tail = NVME_CID_NONE;
    Allocator->Links[Taken] = NVME_CID_NONE;
    Allocator->Busy[Taken] = 1;
    Allocator->FreeCount--;
    *Index = Taken;
    return TRUE;
}

BOOL NVMeCidFree(NVME_CID_ALLOCATOR* Allocator, U16 Index) {
    if (Index >= Allocator->Capacity || !Allocator->Busy[Index]) return FALSE;
    Allocator->Busy[Index] = 0;
    Allocator->Links[Index] = NVME_CID_NONE;
    if (Allocator->Tail == NVME_CID_NONE) {
        Allocator->Head = Index;
    } else {
        Allocator->Links[Allocator->Tail] = Index;
    }
    Allocator->Tail = Index;
    Allocator->FreeCount++;
    return TRUE;
}

BOOL NVMeCidIsBusy(const NVME_CID_ALLOCATOR* Allocator, U16 Index) {
    return Index < Allocator->Capacity && Allocator->Busy[Index] != 0;
}

U16 NVMeCidCompose(U16 Index, U16 Generation) {
    return (U16)(((Generation & 0xF) << NVME_CID_INDEX_BITS) | (Index & NVME_CID_INDEX_MASK));
}

U16 NVMeCidIndex(U16 Cid) { return (U16)(Cid & NVME_CID_INDEX_MASK); }

U16 NVMeRingNext(U16 Index, U16 Depth) { return (U16)((U32)Index + 1 >= Depth ? 0 : Index + 1); }

U16 NVMeRingUsed(U16 Head, U16 Tail, U16 Depth) {
    return (U16)(Tail >= Head ? (U32)Tail - Head : (U32)Depth - Head + Tail);
}

BOOL NVMeSqIsFull(U16 Head, U16 Tail, U16 Depth) { return NVMeRingNext(Tail, Depth) == Head; }

void NVMeCqAdvance(U16* Head, U8* Phase, U16 Depth) {
    *Head = NVMeRingNext(*Head, Depth);
    if (*Head == 0) *Phase ^= 1;
}

U32 NVMeDoorbellOffset(U16 Qid, BOOL Completion, U8 Dstrd) {
    // NVMe 2.0 3.1.4.24/25: SQ y tail at 1000h + (2y * (4 << DSTRD)), CQ y head one stride further.
    return NVME_REG_DOORBELLS + (2U * Qid + (Completion ? 1U : 0U)) * (4U << Dstrd);
}

#ifdef NVME_WITH_PLATFORM

#include "core/Log.h"

/************************************************************************/
// The three completion variants

static void NoKick(NVME_QUEUE* Queue) { UNUSED(Queue); }
static void NoDrained(NVME_QUEUE* Queue) { UNUSED(Queue); }
static void IntxDrained(NVME_QUEUE* Queue) { NVMeWrite32(Queue->Controller, NVME_REG_INTMC, 1); }
static void PollKick(NVME_QUEUE* Queue) {
    if (Queue->Controller->PollEvent) PlatformEventSignal(Queue->Controller->PollEvent);
}

const NVME_QUEUE_OPS NVMeInterruptQueueOps = {"interrupt", NoKick, NoDrained};
const NVME_QUEUE_OPS NVMeIntxQueueOps = {"intx", NoKick, IntxDrained};
const NVME_QUEUE_OPS NVMePolledQueueOps = {"polled", PollKick, NoDrained};

/************************************************************************/
// Allocation

static void NVMeQueueBottomHalf(LPVOID Context) {
    NVME_QUEUE* Queue = (NVME_QUEUE*)Context;
    NVMeQueueProcessCompletions(Queue, FALSE);
    Queue->Ops->Drained(Queue);
}

KSTATUS NVMeQueueAllocate(NVME_CONTROLLER* Controller, NVME_QUEUE* Queue, U16 Id, U16 Depth, BOOL IoQueue) {
    U32 PageSize = Controller->Info.PageSize;
    if (Depth < 2 || Depth > NVME_MAX_QUEUE_DEPTH) return KSTATUS_BAD_PARAMETER;
    MemorySet(Queue, 0, sizeof(*Queue));
    Queue->Controller = Controller;
    Queue->Id = Id;
    Queue->Depth = Depth;
    Queue->TrackerCount = (U16)(Depth - 1);
    Queue->Ops = &NVMeInterruptQueueOps;

    KSTATUS Status = PlatformDMAAlloc((U64)Depth * NVME_SQ_ENTRY_SIZE, PageSize, 0, &Queue->SqMemory);
    if (Status == KSTATUS_SUCCESS) {
        Status = PlatformDMAAlloc((U64)Depth * NVME_CQ_ENTRY_SIZE, PageSize, 0, &Queue->CqMemory);
    }
    if (Status == KSTATUS_SUCCESS && IoQueue) {
        Status = PlatformDMAAlloc((U64)Queue->TrackerCount * NVME_PRP_PAGES_PER_TRACKER * PageSize, PageSize, 0,
                                  &Queue->PrpMemory);
    }
    if (Status == KSTATUS_SUCCESS && IoQueue) {
        Status = PlatformDMAAlloc(NVME_BOUNCE_BYTES, PageSize, 0, &Queue->BounceMemory);
    }
    if (Status != KSTATUS_SUCCESS) goto Fail;

    Status = KSTATUS_NO_MEMORY;
    Queue->Trackers = (NVME_TRACKER*)PlatformAllocZero(sizeof(NVME_TRACKER) * Queue->TrackerCount);
    U16* Links = (U16*)PlatformAllocZero(sizeof(U16) * Queue->TrackerCount);
    U8* Busy = (U8*)PlatformAllocZero(Queue->TrackerCount);
    Queue->Cids.Links = Links;
    Queue->Cids.Busy = Busy;
    Queue->Lock = PlatformLockCreate();
    Queue->SlotEvent = PlatformEventCreate(FALSE);
    Queue->Work = PlatformWorkCreate(NVMeQueueBottomHalf, Queue);
    if (IoQueue) Queue->BounceMutex = PlatformMutexCreate();
    if (!Queue->Trackers || !Links || !Busy || !Queue->Lock || !Queue->SlotEvent || !Queue->Work ||
        (IoQueue && !Queue->BounceMutex)) {
        goto Fail;
    }

    Queue->Sq = (volatile NVME_COMMAND*)Queue->SqMemory.Linear;
    Queue->Cq = (volatile NVME_COMPLETION*)Queue->CqMemory.Linear;
    Queue->SqDoorbell = Controller->Registers + NVMeDoorbellOffset(Id, FALSE, Controller->Info.Cap.Dstrd);
    Queue->CqDoorbell = Controller->Registers + NVMeDoorbellOffset(Id, TRUE, Controller->Info.Cap.Dstrd);
    for (U16 I = 0; I < Queue->TrackerCount; I++) {
        NVME_TRACKER* Tracker = &Queue->Trackers[I];
        Tracker->Queue = Queue;
        Tracker->Index = I;
        if (IoQueue) {
            SIZE Offset = (SIZE)I * NVME_PRP_PAGES_PER_TRACKER * PageSize;
            Tracker->Prp.Linear = (U64*)((U8*)Queue->PrpMemory.Linear + Offset);
            Tracker->Prp.Physical = Queue->PrpMemory.Physical + Offset;
            Tracker->Prp.Pages = NVME_PRP_PAGES_PER_TRACKER;
        }
    }
    Queue->Stats.QueueId = Id;
    Queue->Stats.Depth = Depth;
    Queue->Stats.Trackers = Queue->TrackerCount;
    Queue->Allocated = TRUE;
    NVMeQueueReset(Queue);
    return KSTATUS_SUCCESS;

Fail:
    NVMeQueueFree(Queue);
    return Status;
}

void NVMeQueueFree(NVME_QUEUE* Queue) {
    PlatformDMAFree(&Queue->SqMemory);
    PlatformDMAFree(&Queue->CqMemory);
    PlatformDMAFree(&Queue->PrpMemory);
    PlatformDMAFree(&Queue->BounceMemory);
    if (Queue->Trackers) PlatformFree(Queue->Trackers);
    if (Queue->Cids.Links) PlatformFree(Queue->Cids.Links);
    if (Queue->Cids.Busy) PlatformFree(Queue->Cids.Busy);
    if (Queue->Lock) PlatformLockDestroy(Queue->Lock);
    if (Queue->SlotEvent) PlatformEventDestroy(Queue->SlotEvent);
    if (Queue->Work) PlatformWorkDestroy(Queue->Work);
    if (Queue->BounceMutex) PlatformMutexDestroy(Queue->BounceMutex);
    Queue->Trackers = NULL;
    Queue->Cids.Links = NULL;
    Queue->Cids.Busy = NULL;
    Queue->Lock = NULL;
    Queue->SlotEvent = NULL;
    Queue->Work = NULL;
    Queue->BounceMutex = NULL;
    Queue->Allocated = FALSE;
}

void NVMeQueueReset(NVME_QUEUE* Queue) {
    MemorySet(Queue->CqMemory.Linear, 0, Queue->CqMemory.Size);  // stale entries must not look posted
    Queue->SqTail = 0;
    Queue->SqHead = 0;
    Queue->CqHead = 0;
    Queue->CqPhase = 1;
    NVMeCidInit(&Queue->Cids, Queue->Cids.Links, Queue->Cids.Busy, Queue->TrackerCount);
    for (U16 I = 0; I < Queue->TrackerCount; I++) Queue->Trackers[I].State = NVME_TRACKER_FREE;
}

/************************************************************************/
// Submission

NVME_TRACKER* NVMeQueueGetTracker(NVME_QUEUE* Queue, BOOL Wait) {
    U64 Start = PlatformTimeNs();
    U64 State = PlatformLockAcquire(Queue->Lock);
    for (;;) {
        U16 Index;
        if (NVMeCidAllocate(&Queue->Cids, &Index)) {
            NVME_TRACKER* Tracker = &Queue->Trackers[Index];
            Tracker->Generation = (U16)((Tracker->Generation + 1) & 0xF);
            Tracker->Cid = NVMeCidCompose(Index, Tracker->Generation);
            Tracker->State = NVME_TRACKER_RESERVED;
            Tracker->Done = NULL;
            Tracker->Context = NULL;
            Tracker->Callback = NULL;
            BOOL PassOn = Queue->Cids.FreeCount > 0 && Queue->SlotWaiters > 0;
            PlatformLockRelease(Queue->Lock, State);
            if (PassOn) PlatformEventSignal(Queue->SlotEvent);  // more slots and more sleepers: wake the next
            return Tracker;
        }
        if (!Wait || Queue->Controller->Info.State == NVME_STATE_FAILED ||
            PlatformTimeNs() - Start > (U64)NVME_IO_TIMEOUT_MS * 1000000) {
            PlatformLockRelease(Queue->Lock, State);
            return NULL;
        }
        Queue->SlotWaiters++;
        Queue->Stats.FullWaits++;
        PlatformLockRelease(Queue->Lock, State);
        if (!PlatformEventWait(Queue->SlotEvent, NVME_WAIT_STEP_MS)) NVMeQueueProcessCompletions(Queue, TRUE);
        State = PlatformLockAcquire(Queue->Lock);
        Queue->SlotWaiters--;
    }
}

/** Returns trackers to the free list (after their Done ran) and wakes a sleeping submitter. */
static void ReleaseTrackers(NVME_QUEUE* Queue, NVME_TRACKER* First) {
    U64 State = PlatformLockAcquire(Queue->Lock);
    for (NVME_TRACKER* Tracker = First; Tracker; Tracker = Tracker->NextDone) {
        Tracker->State = NVME_TRACKER_FREE;
        NVMeCidFree(&Queue->Cids, Tracker->Index);
    }
    BOOL Wake = Queue->SlotWaiters > 0;
    PlatformLockRelease(Queue->Lock, State);
    if (Wake) PlatformEventSignal(Queue->SlotEvent);
}

void NVMeQueuePutTracker(NVME_TRACKER* Tracker) {
    Tracker->NextDone = NULL;
    ReleaseTrackers(Tracker->Queue, Tracker);
}

void NVMeQueueSubmit(NVME_TRACKER* Tracker, NVME_COMMAND* Command) {
    NVME_QUEUE* Queue = Tracker->Queue;
    Command->Cid = Tracker->Cid;
    Tracker->Opcode = Command->Opcode;
    Tracker->Nsid = Command->Nsid;
    Tracker->NextDone = NULL;

    U64 State = PlatformLockAcquire(Queue->Lock);
    // Cannot be full: each outstanding command holds one of Depth - 1 trackers (see the header comment).
    MemoryCopy((LPVOID)&Queue->Sq[Queue->SqTail], Command, sizeof(NVME_COMMAND));
    Tracker->State = NVME_TRACKER_IN_FLIGHT;
    Queue->SqTail = NVMeRingNext(Queue->SqTail, Queue->Depth);
    Queue->Stats.Outstanding++;
    Queue->Stats.Submitted++;
    if (Queue->Stats.Outstanding > Queue->Stats.MaxOutstanding) Queue->Stats.MaxOutstanding = Queue->Stats.Outstanding;
    PlatformWriteBarrier();  // the entry is in memory before the device hears of it
    PlatformWrite32(Queue->SqDoorbell, Queue->SqTail);
    PlatformLockRelease(Queue->Lock, State);
    Queue->Ops->Kick(Queue);
}

/************************************************************************/
// Completion

/** The tracker a completion names, or NULL if the completion is not to be trusted. */
static NVME_TRACKER* ValidateCompletion(NVME_QUEUE* Queue, const NVME_COMPLETION* Entry) {
    if (Entry->SqId != Queue->Id) return NULL;
    U16 Index = NVMeCidIndex(Entry->Cid);
    if (Index >= Queue->TrackerCount || !NVMeCidIsBusy(&Queue->Cids, Index)) return NULL;
    NVME_TRACKER* Tracker = &Queue->Trackers[Index];
    if (Tracker->State != NVME_TRACKER_IN_FLIGHT || Tracker->Cid != Entry->Cid) return NULL;
    return Tracker;
}

U32 NVMeQueueProcessCompletions(NVME_QUEUE* Queue, BOOL ByWaiter) {
    NVME_TRACKER *First = NULL, *Last = NULL;
    NVME_COMPLETION Bad = {0, 0, 0, 0, 0, 0};
    U32 Count = 0, BadCount = 0;
    if (!Queue->Allocated) return 0;

    U64 State = PlatformLockAcquire(Queue->Lock);
    for (;;) {
        volatile NVME_COMPLETION* Slot = &Queue->Cq[Queue->CqHead];
        if ((Slot->Status & 1) != Queue->CqPhase) break;
        PlatformReadBarrier();  // nothing of the entry is read before its phase matched
        NVME_COMPLETION Entry;
        Entry.Dw0 = Slot->Dw0;
        Entry.Dw1 = Slot->Dw1;
        Entry.SqHead = Slot->SqHead;
        Entry.SqId = Slot->SqId;
        Entry.Cid = Slot->Cid;
        Entry.Status = Slot->Status;
        NVMeCqAdvance(&Queue->CqHead, &Queue->CqPhase, Queue->Depth);
        Count++;
        if (Entry.SqHead < Queue->Depth) Queue->SqHead = Entry.SqHead;

        NVME_TRACKER* Tracker = ValidateCompletion(Queue, &Entry);
        if (Tracker == NULL) {
            if (BadCount++ == 0) Bad = Entry;
            Queue->Stats.BadCompletions++;
            continue;
        }
        Tracker->Completion = Entry;
        Tracker->State = NVME_TRACKER_COMPLETING;
        Tracker->NextDone = NULL;
        if (Last) Last->NextDone = Tracker;
        else First = Tracker;
        Last = Tracker;
        Queue->Stats.Outstanding--;
        Queue->Stats.Completed++;
        if (NVME_STATUS_FIELD(Entry.Status) != 0) Queue->Stats.Errors++;
        if (ByWaiter) Queue->Stats.ReapedByWaiter++;
    }
    if (Count) PlatformWrite32(Queue->CqDoorbell, Queue->CqHead);  // once per batch
    PlatformLockRelease(Queue->Lock, State);

    if (BadCount) {
        LOG_RATE_LIMITED(LOG_LEVEL_WARNING, 1000, 5,
                         "[NVMeQueueProcessCompletions] %s: dropped %u bad completion(s) on queue %u "
                         "(first: CID %x SQID %u status %x)",
                         Queue->Controller->Info.Name, BadCount, Queue->Id, Bad.Cid, Bad.SqId, Bad.Status);
    }
    if (First == NULL) return Count;
    for (NVME_TRACKER* Tracker = First; Tracker; Tracker = Tracker->NextDone) {
        if (Tracker->Done) Tracker->Done(Tracker);
    }
    ReleaseTrackers(Queue, First);
    return Count;
}

BOOL NVMeQueueInterrupt(LPVOID Context) {
    NVME_QUEUE* Queue = (NVME_QUEUE*)Context;
    if (!Queue->Allocated || Queue->Ops == &NVMePolledQueueOps) return FALSE;
    if (Queue->SharedVector && (Queue->Cq[Queue->CqHead].Status & 1) != Queue->CqPhase) return FALSE;
    if (Queue->Ops == &NVMeIntxQueueOps) NVMeWrite32(Queue->Controller, NVME_REG_INTMS, 1);  // level: quiet it
    Queue->Stats.Interrupts++;
    PlatformWorkQueue(Queue->Work);
    return TRUE;
}

/************************************************************************/
// Polling

static void NVMePollThread(LPVOID Context) {
    NVME_CONTROLLER* Controller = (NVME_CONTROLLER*)Context;
    for (;;) {
        BOOL Busy = FALSE;
        NVME_QUEUE* Queues[1 + NVME_MAX_IO_QUEUES];
        U32 Count = 0;
        Queues[Count++] = &Controller->Admin;
        for (U32 I = 0; I < Controller->IoCount; I++) Queues[Count++] = &Controller->Io[I];
        for (U32 I = 0; I < Count; I++) {
            if (!Queues[I]->Allocated || Queues[I]->Stats.Outstanding == 0) continue;
            Busy = TRUE;
            NVMeQueueProcessCompletions(Queues[I], FALSE);
        }
        if (Busy) PlatformSleepMs(1);
        else PlatformEventWait(Controller->PollEvent, 100);
    }
}

void NVMeControllerStartPolling(NVME_CONTROLLER* Controller, LPCSTR Reason) {
    if (Controller->Info.Polling) return;
    if (Controller->PollEvent == NULL) Controller->PollEvent = PlatformEventCreate(FALSE);
    if (Controller->InterruptsActive) {
        PlatformInterruptRelease(Controller->Device, &Controller->Interrupts);
        Controller->InterruptsActive = FALSE;
    }
    Controller->Info.InterruptMode = PCI_INTERRUPT_NONE;
    Controller->Info.VectorCount = 0;
    Controller->Admin.Ops = &NVMePolledQueueOps;
    for (U32 I = 0; I < NVME_MAX_IO_QUEUES; I++) Controller->Io[I].Ops = &NVMePolledQueueOps;
    StringCopy(Controller->Info.PollingReason, Reason, sizeof(Controller->Info.PollingReason));
    Controller->Info.Polling = TRUE;
    if (!Controller->PollThreadStarted) {
        char Name[24];
        StringCopy(Name, Controller->Info.Name, sizeof(Name));
        StringAppend(Name, "-poll", sizeof(Name));
        Controller->PollThreadStarted = PlatformThreadCreate(Name, NVMePollThread, Controller);
    }
    INFO("[NVMeControllerStartPolling] %s: polling completions (%s)", Controller->Info.Name, Reason);
}

/************************************************************************/
// Requests: one waiter, one or more commands

void NVMeRequestInit(NVME_CONTROLLER* Controller, NVME_REQUEST* Request) {
    MemorySet(Request, 0, sizeof(*Request));
    Request->Pending = 1;  // the submitter's own reference
    Request->Status = KSTATUS_SUCCESS;
    U64 State = PlatformLockAcquire(Controller->WaiterLock);
    for (U32 I = 0; I < NVME_WAITER_POOL; I++) {
        if (Controller->WaiterFree & (1U << I)) {
            Controller->WaiterFree &= ~(1U << I);
            Request->Event = Controller->Waiters[I];
            break;
        }
    }
    PlatformLockRelease(Controller->WaiterLock, State);
    // More sleeping callers than pooled events: rare, so an event of its own.
    if (Request->Event == NULL) Request->Event = PlatformEventCreate(FALSE);
}

void NVMeRequestRelease(NVME_CONTROLLER* Controller, NVME_REQUEST* Request) {
    if (Request->Event == NULL) return;
    PlatformEventReset(Request->Event);
    U64 State = PlatformLockAcquire(Controller->WaiterLock);
    for (U32 I = 0; I < NVME_WAITER_POOL; I++) {
        if (Controller->Waiters[I] == Request->Event) {
            Controller->WaiterFree |= 1U << I;
            Request->Event = NULL;
            break;
        }
    }
    PlatformLockRelease(Controller->WaiterLock, State);
    if (Request->Event) PlatformEventDestroy(Request->Event);
    Request->Event = NULL;
}

void NVMeRequestAddChild(NVME_REQUEST* Request, NVME_TRACKER* Tracker) {
    __atomic_add_fetch(&Request->Pending, 1, __ATOMIC_ACQ_REL);
    Tracker->Done = NVMeRequestChildDone;
    Tracker->Context = Request;
}

void NVMeRequestChildDone(NVME_TRACKER* Tracker) {
    NVME_REQUEST* Request = (NVME_REQUEST*)Tracker->Context;
    U16 NvmeStatus = NVME_STATUS_FIELD(Tracker->Completion.Status);
    Request->Dw0 = Tracker->Completion.Dw0;
    if (NvmeStatus != 0) {
        if (!Request->Quiet) NVMeReportError(Tracker->Queue->Controller, Tracker, NvmeStatus);
        KSTATUS Expected = KSTATUS_SUCCESS;
        if (__atomic_compare_exchange_n(&Request->Status, &Expected, NVMeStatusToKStatus(NvmeStatus), FALSE,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            Request->NvmeStatus = NvmeStatus;
        }
    }
    PLATFORM_EVENT* Event = Request->Event;  // the request may be gone once Pending reaches 0
    if (__atomic_sub_fetch(&Request->Pending, 1, __ATOMIC_ACQ_REL) == 0) PlatformEventSignal(Event);
}

static void AbandonedDone(NVME_TRACKER* Tracker) {
    WARNING("[NVMeQueue] %s: command %x (CID %x) completed after its caller gave up",
            Tracker->Queue->Controller->Info.Name, Tracker->Opcode, Tracker->Cid);
}

/** Detaches a timed-out request's commands so their late completions touch nothing of the caller. */
static void AbandonRequest(NVME_QUEUE* Queue, NVME_REQUEST* Request) {
    for (U32 Try = 0; Try < 1000; Try++) {
        U32 Completing = 0;
        U64 State = PlatformLockAcquire(Queue->Lock);
        for (U16 I = 0; I < Queue->TrackerCount; I++) {
            NVME_TRACKER* Tracker = &Queue->Trackers[I];
            if (Tracker->Context != Request || Tracker->Done != NVMeRequestChildDone) continue;
            if (Tracker->State == NVME_TRACKER_IN_FLIGHT) {
                Tracker->Done = AbandonedDone;
                Tracker->Context = NULL;
            } else if (Tracker->State == NVME_TRACKER_COMPLETING) {
                Completing++;
            }
        }
        PlatformLockRelease(Queue->Lock, State);
        if (Completing == 0) return;
        PlatformSleepMs(1);  // a Done function is running right now: let it finish
    }
}

KSTATUS NVMeRequestWait(NVME_QUEUE* Queue, NVME_REQUEST* Request, U32 TimeoutMs) {
    if (__atomic_sub_fetch(&Request->Pending, 1, __ATOMIC_ACQ_REL) == 0) return Request->Status;
    U64 Start = PlatformTimeNs();
    for (;;) {
        BOOL Signalled = PlatformEventWait(Request->Event, NVME_WAIT_STEP_MS);
        if (!Signalled) NVMeQueueProcessCompletions(Queue, TRUE);  // missed interrupt, or a slow poll thread
        if (__atomic_load_n(&Request->Pending, __ATOMIC_ACQUIRE) == 0) return Request->Status;
        if (PlatformTimeNs() - Start >= (U64)TimeoutMs * 1000000) break;
        if (Queue->Controller->Info.State == NVME_STATE_FAILED) break;
    }
    AbandonRequest(Queue, Request);
    if (__atomic_load_n(&Request->Pending, __ATOMIC_ACQUIRE) == 0) return Request->Status;  // finished meanwhile
    Request->Abandoned = TRUE;
    Queue->Controller->Info.Timeouts++;
    NVMeCheckFatal(Queue->Controller, Queue->Id == 0 ? "admin command timed out" : "I/O command timed out");
    return KSTATUS_TIMEOUT;
}

#endif  // NVME_WITH_PLATFORM
