/*
 * NVMe-Queue.c - the queue engine: one submission/completion queue pair,
 * its trackers, and the paths that fill and drain it.
 *
 * The engine is three files: this one (the pure ring and CID arithmetic,
 * the completion variants, allocation, modes, holding for resets, retries,
 * polling), NVMe-Submit.c (taking trackers, posting, the single-command
 * fast path) and NVMe-Reap.c (completion and the top half); the locked
 * steps they share are inline in NVMe-QueueSteps.h. The invariants below
 * are the whole engine's.
 *
 * A queue of Depth entries owns Depth - 1 trackers, allocated with it. A
 * command's identifier is its tracker's index (low 12 bits) plus a 4-bit
 * generation, handed out by a FIFO free list: an index returns to the list
 * only after its completion was consumed and its Done function ran, so an
 * identifier is never reused while its command is in flight, and a late
 * duplicate completion finds its tracker free (or a new generation) and is
 * dropped. Each tracker owns one share of the queue's PRP list pool and the
 * 64-byte command itself (built there, posted from there, posted again from
 * there after a retry or a reset), so the I/O path never allocates.
 *
 * Invariants (all under the queue lock, a PLATFORM_LOCK held briefly):
 *  - at most Depth - 1 commands are outstanding, so neither the SQ nor the
 *    CQ can overflow; a submitter that finds no free tracker sleeps on
 *    SlotEvent until a completion frees one;
 *  - SQ entries are written before the tail doorbell (write barrier);
 *  - a completion is used only after its phase tag matched (read barrier
 *    between the phase and the rest), and only if its SQID is this queue and
 *    its CID names a tracker that is in flight with that generation;
 *  - the CQ head doorbell is written once per reaped batch, before the head
 *    the top half reads moves (so a level-triggered line that is still up
 *    always shows the top half an entry), and only while the controller
 *    holds the CQ (CqLive); the SQ head is taken from each completion's SQHD;
 *  - tracker states and queue modes change only through NVMeTrackerMove and
 *    NVMeQueueSetMode, which check NVMe-State.c's tables;
 *  - the queue's counters (Stats, Held, Retrying, Quiet) change under the
 *    lock; the top half's interrupt count, its one writer outside the lock,
 *    with an atomic add.
 * Done functions run outside the lock, then the trackers are freed.
 *
 * Completion, in three steps: drain (the next posted entry, phase first),
 * validate (the tracker it names), complete (done, retry later, or left in
 * flight for a reset to resubmit). NVMeQueueReap runs them on an open queue
 * (LIVE, or RECOVERING for the reset's own commands) for the bottom half,
 * the poll thread and the waiters; NVMeQueueDrain on a SUSPENDED queue for
 * the reset, where "aborted due to SQ deletion" means "the reset will send
 * it again", not an error.
 *
 * Modes (NVMeQueueSetMode, driven by NVMe-Recovery.c): LIVE; SUSPENDED (a
 * reset: submissions are held, no doorbell is written); RECOVERING (the
 * admin queue while a reset rebuilds: only the reset's own commands go out);
 * DEAD (failed or shut down: entering it fails everything the queue holds,
 * later submissions are refused). Entering LIVE posts every held command
 * with one doorbell; entering RECOVERING posts the reset's own ones. A reset
 * holds what was in flight with NVMeQueueHoldInFlight (each command at most
 * NVME_MAX_RESUBMITS times; beyond, or marked CANCEL, they fail when the
 * queue comes back). A retryable status (NVMeStatusRetryable) parks a
 * tracker in RETRY with a delay; RetryDue posts it with a new generation.
 * Trackers stay allocated throughout: a reset allocates and frees nothing.
 *
 * The completion variants are three small NVME_QUEUE_OPS: MSI-X/MSI (an
 * I/O queue is reaped in the top half itself, on the CPU its vector is
 * aimed at; the admin queue defers to the bottom half), INTx (the top half
 * masks with INTMS and defers; the bottom half unmasks with INTMC) and
 * polled (a per controller thread reaps; submission wakes it). A fourth,
 * waiter-polled, is the nvme.poll_queues queues': created without
 * interrupts (IEN=0), reaped by the synchronous waiter itself
 * (NVMeDeadlinePollWait). A queue
 * alone on its MSI-X vector (OwnVector) claims every interrupt of it, even
 * one that finds the CQ already reaped by a waiter; shared vectors (INTx,
 * MSI, fewer MSI-X vectors than queues) claim only what they find. Missed interrupts and
 * deadlines are NVMe-Deadline.c's.
 *
 * The ring and identifier arithmetic at the top is pure (host tests; the
 * per-command parts are inline in NVMe-Internal.h).
 */

#include "storage/nvme/NVMe-QueueSteps.h"

#include "utils/String.h"

/************************************************************************/
// Pure: identifiers and rings

void NVMeCidInit(NVME_CID_ALLOCATOR* Allocator, U16* Free, U8* Busy, U16 Capacity) {
    Allocator->Free = Free;
    Allocator->Busy = Busy;
    Allocator->Capacity = Capacity;
    Allocator->FreeCount = Capacity;
    Allocator->Mask = (U16)(NVMeCidRingSize(Capacity) - 1);
    Allocator->Head = 0;  // every index free, in order
    Allocator->Tail = (U16)(Capacity & Allocator->Mask);
    for (U16 I = 0; I < Capacity; I++) {
        Free[I] = I;
        Busy[I] = 0;
    }
}

U16 NVMeRingUsed(U16 Head, U16 Tail, U16 Depth) {
    return (U16)(Tail >= Head ? (U32)Tail - Head : (U32)Depth - Head + Tail);
}

BOOL NVMeSqIsFull(U16 Head, U16 Tail, U16 Depth) { return NVMeRingNext(Tail, Depth) == Head; }

U32 NVMeDoorbellOffset(U16 Qid, BOOL Completion, U8 Dstrd) {
    // NVMe 2.0 3.1.4.24/25: SQ y tail at 1000h + (2y * (4 << DSTRD)), CQ y head one stride further.
    return NVME_REG_DOORBELLS + (2U * Qid + (Completion ? 1U : 0U)) * (4U << Dstrd);
}


#ifdef NVME_WITH_PLATFORM

#include "core/Log.h"

/************************************************************************/
// The three completion variants

static void NoDrained(NVME_QUEUE* Queue) { UNUSED(Queue); }
static void IntxDrained(NVME_QUEUE* Queue) { NVMeWrite32(Queue->Controller, NVME_REG_INTMC, 1); }
static void PollKick(NVME_QUEUE* Queue) {
    if (Queue->Controller->PollEvent) PlatformEventSignal(Queue->Controller->PollEvent);
}

const NVME_QUEUE_OPS NVMeInterruptQueueOps = {"interrupt", NULL, NoDrained};
const NVME_QUEUE_OPS NVMeIntxQueueOps = {"intx", NULL, IntxDrained};
const NVME_QUEUE_OPS NVMePolledQueueOps = {"polled", PollKick, NoDrained};
const NVME_QUEUE_OPS NVMeWaiterPolledQueueOps = {"waiter-polled", NULL, NoDrained};

/************************************************************************/
// Allocation

static void NVMeQueueBottomHalf(LPVOID Context) {
    NVME_QUEUE* Queue = (NVME_QUEUE*)Context;
    NVMeQueueReap(Queue);
    // A suspended queue's entries wait for the reset's drain: INTx stays masked until then (the reset unmasks).
    if (Queue->Mode != NVME_QUEUE_SUSPENDED) Queue->Ops->Drained(Queue);
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
    Queue->Mode = NVME_QUEUE_LIVE;

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
    U16* Free = (U16*)PlatformAllocZero(sizeof(U16) * NVMeCidRingSize(Queue->TrackerCount));
    U8* Busy = (U8*)PlatformAllocZero(Queue->TrackerCount);
    Queue->Cids.Free = Free;
    Queue->Cids.Busy = Busy;
    Queue->Lock = PlatformLockCreate();
    Queue->SlotEvent = PlatformEventCreate(FALSE);
    Queue->Work = PlatformWorkCreate(NVMeQueueBottomHalf, Queue);
    if (IoQueue) Queue->BounceMutex = PlatformMutexCreate();
    if (!Queue->Trackers || !Free || !Busy || !Queue->Lock || !Queue->SlotEvent || !Queue->Work ||
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
    if (Queue->Cids.Free) PlatformFree(Queue->Cids.Free);
    if (Queue->Cids.Busy) PlatformFree(Queue->Cids.Busy);
    if (Queue->Lock) PlatformLockDestroy(Queue->Lock);
    if (Queue->SlotEvent) PlatformEventDestroy(Queue->SlotEvent);
    if (Queue->Work) PlatformWorkDestroy(Queue->Work);
    if (Queue->BounceMutex) PlatformMutexDestroy(Queue->BounceMutex);
    Queue->Trackers = NULL;
    Queue->Cids.Free = NULL;
    Queue->Cids.Busy = NULL;
    Queue->Lock = NULL;
    Queue->SlotEvent = NULL;
    Queue->Work = NULL;
    Queue->BounceMutex = NULL;
    Queue->Allocated = FALSE;
}

/** Empty rings in the same memory (zeroed CQ: stale entries must not look posted; phase 1). */
static void RestartRingsLocked(NVME_QUEUE* Queue) {
    MemorySet(Queue->CqMemory.Linear, 0, Queue->CqMemory.Size);
    Queue->SqTail = 0;
    Queue->SqHead = 0;
    __atomic_store_n(&Queue->CqState, NVME_CQ_STATE(0, 1), __ATOMIC_RELEASE);
}

void NVMeQueueRestartRings(NVME_QUEUE* Queue) {
    U64 State = PlatformLockAcquire(Queue->Lock);
    RestartRingsLocked(Queue);
    PlatformLockRelease(Queue->Lock, State);
}

void NVMeQueueReset(NVME_QUEUE* Queue) {
    RestartRingsLocked(Queue);
    NVMeCidInit(&Queue->Cids, Queue->Cids.Free, Queue->Cids.Busy, Queue->TrackerCount);
    for (U16 I = 0; I < Queue->TrackerCount; I++) Queue->Trackers[I].State = NVME_TRACKER_FREE;  // not a move: new
    Queue->Held = Queue->Retrying = Queue->Quiet = 0;
}

/************************************************************************/
// Modes, holding, retries

/** Entering LIVE or RECOVERING: posts what may go now (one doorbell); fails held CANCEL commands. */
static U32 PostHeldLocked(NVME_QUEUE* Queue, NVME_DONE_LIST* Ended) {
    U32 Posted = 0;
    for (U16 I = 0; Queue->Held && I < Queue->TrackerCount; I++) {
        NVME_TRACKER* Tracker = &Queue->Trackers[I];
        if (Tracker->State != NVME_TRACKER_HELD) continue;
        if (Tracker->Flags & NVME_TRACKER_CANCEL) {
            Queue->Held--;
            KSTATUS Failure = Tracker->Failure != KSTATUS_SUCCESS ? Tracker->Failure : KSTATUS_TIMEOUT;
            NVMeQueueEndLocked(Ended, Tracker, Failure);
        } else if (NVMeQueueMayPost(Queue, Tracker)) {
            Queue->Held--;
            NVMeQueuePostLocked(Queue, Tracker);
            Posted++;
        }
    }
    if (Posted) NVMeQueueRingLocked(Queue);
    return Posted;
}

/** Entering DEAD: everything in flight, held or waiting for a retry fails with KSTATUS_IO_ERROR. */
static void FailAllLocked(NVME_QUEUE* Queue, NVME_DONE_LIST* Ended) {
    for (U16 I = 0; I < Queue->TrackerCount; I++) {
        NVME_TRACKER* Tracker = &Queue->Trackers[I];
        switch (Tracker->State) {
            case NVME_TRACKER_IN_FLIGHT:
                if (Tracker->Flags & NVME_TRACKER_NO_DEADLINE) Queue->Quiet--;
                Queue->Stats.Outstanding--;
                break;
            case NVME_TRACKER_HELD: Queue->Held--; break;
            case NVME_TRACKER_RETRY: Queue->Retrying--; break;
            default: continue;
        }
        NVMeQueueEndLocked(Ended, Tracker, KSTATUS_IO_ERROR);
    }
}

/** Logs each command the driver ended itself (not the CANCEL ones: AERs, Aborts, abandoned commands). */
static void ReportEnded(NVME_QUEUE* Queue, const NVME_DONE_LIST* Ended) {
    for (NVME_TRACKER* Tracker = Ended->First; Tracker; Tracker = Tracker->NextDone) {
        if (!(Tracker->Flags & NVME_TRACKER_CANCEL)) NVMeReportDriverFailure(Queue->Controller, Tracker);
    }
}

BOOL NVMeQueueSetMode(NVME_QUEUE* Queue, U8 Mode) {
    NVME_DONE_LIST Ended = {NULL, NULL};
    U32 Posted = 0;
    U64 State = PlatformLockAcquire(Queue->Lock);
    U8 From = Queue->Mode;
    if (!NVMeStateLegal(&NVMeQueueModes, From, Mode)) {
        PlatformLockRelease(Queue->Lock, State);
        return NVMeStateRefused(Queue->Controller, &NVMeQueueModes, From, Mode);
    }
    Queue->Mode = Mode;
    if (Mode == NVME_QUEUE_LIVE || Mode == NVME_QUEUE_RECOVERING) Posted = PostHeldLocked(Queue, &Ended);
    if (Mode == NVME_QUEUE_DEAD) FailAllLocked(Queue, &Ended);
    PlatformLockRelease(Queue->Lock, State);
    if (Posted) NVMeQueueKick(Queue);
    if (Mode == NVME_QUEUE_DEAD) {
        ReportEnded(Queue, &Ended);
        PlatformEventSignal(Queue->SlotEvent);  // submitters waiting for a slot see the queue is gone
    }
    NVMeQueueFinish(Queue, Ended.First);
    return TRUE;
}

U32 NVMeQueueHoldInFlight(NVME_QUEUE* Queue) {
    NVME_CONTROLLER* Controller = Queue->Controller;
    NVME_TRACKER LastEnded;
    U32 HeldNow = 0, Ended = 0;
    MemorySet(&LastEnded, 0, sizeof(LastEnded));
    if (!Queue->Allocated) return 0;
    U64 State = PlatformLockAcquire(Queue->Lock);
    for (U16 I = 0; I < Queue->TrackerCount; I++) {
        NVME_TRACKER* Tracker = &Queue->Trackers[I];
        if (Tracker->State != NVME_TRACKER_IN_FLIGHT || !NVMeTrackerMove(Tracker, NVME_TRACKER_HELD)) continue;
        if (Tracker->Flags & NVME_TRACKER_NO_DEADLINE) Queue->Quiet--;
        Queue->Stats.Outstanding--;
        Queue->Held++;
        Tracker->Flags &= (U8)~NVME_TRACKER_ABORT_SENT;
        // Held either way: those beyond the resubmission bound (and CANCEL ones) fail when the queue comes back,
        // so their callers wake to a controller that is ready again.
        if (Tracker->Flags & NVME_TRACKER_CANCEL) {
            Tracker->Failure = KSTATUS_IO_ERROR;
        } else if (Tracker->Resubmits >= NVME_MAX_RESUBMITS) {
            Tracker->Failure = KSTATUS_TIMEOUT;
            Tracker->Flags |= NVME_TRACKER_CANCEL;
            LastEnded = *Tracker;
            Ended++;
        } else {
            Tracker->Resubmits++;
            HeldNow++;
        }
    }
    PlatformLockRelease(Queue->Lock, State);
    if (HeldNow) NVME_COUNT(Controller->Info.Resubmits, HeldNow);
    for (U32 I = 0; I < Ended; I++) NVMeReportDriverFailure(Controller, &LastEnded);  // counted each, logged alike
    return HeldNow;
}

U64 NVMeQueueRetryDue(NVME_QUEUE* Queue, U64 NowNs) {
    NVME_DONE_LIST Ended = {NULL, NULL};
    U64 Next = 0;
    U32 Posted = 0;
    if (!Queue->Allocated || __atomic_load_n(&Queue->Retrying, __ATOMIC_RELAXED) == 0) return 0;
    U64 State = PlatformLockAcquire(Queue->Lock);
    for (U16 I = 0; Queue->Retrying && I < Queue->TrackerCount; I++) {
        NVME_TRACKER* Tracker = &Queue->Trackers[I];
        if (Tracker->State != NVME_TRACKER_RETRY) continue;
        if (Tracker->Flags & NVME_TRACKER_CANCEL) {
            Queue->Retrying--;
            NVMeQueueEndLocked(&Ended, Tracker, KSTATUS_TIMEOUT);
            continue;
        }
        if (Tracker->RetryAtNs > NowNs) {
            if (Next == 0 || Tracker->RetryAtNs < Next) Next = Tracker->RetryAtNs;
            continue;
        }
        Queue->Retrying--;
        // A new generation: a late duplicate of the first attempt's completion cannot complete the retry.
        Tracker->Generation = (U16)((Tracker->Generation + 1) & 0xF);
        Tracker->Cid = NVMeCidCompose(Tracker->Index, Tracker->Generation);
        Tracker->Command.Cid = Tracker->Cid;
        if (Queue->Mode == NVME_QUEUE_LIVE) {
            NVMeQueuePostLocked(Queue, Tracker);
            Posted++;
        } else if (NVMeTrackerMove(Tracker, NVME_TRACKER_HELD)) {
            Queue->Held++;
        }
    }
    if (Posted) NVMeQueueRingLocked(Queue);
    PlatformLockRelease(Queue->Lock, State);
    if (Posted) NVMeQueueKick(Queue);
    NVMeQueueFinish(Queue, Ended.First);
    return Next;
}

/************************************************************************/
// Polling

static void NVMePollThread(LPVOID Context) {
    NVME_CONTROLLER* Controller = (NVME_CONTROLLER*)Context;
    BOOL Idle = FALSE;
    for (;;) {
        U32 State = __atomic_load_n(&Controller->Info.State, __ATOMIC_ACQUIRE);
        // Failed, removed, or shut down to the end: nothing is outstanding any more, the device is not touched again.
        if (State == NVME_STATE_FAILED || State == NVME_STATE_REMOVED ||
            (State == NVME_STATE_SHUTDOWN && Controller->Admin.Mode == NVME_QUEUE_DEAD)) {
            break;
        }
        BOOL Busy = FALSE;
        NVME_QUEUE* Queues[1 + NVME_MAX_IO_QUEUES];
        U32 Count = NVMeControllerQueues(Controller, Queues);
        for (U32 I = 0; I < Count; I++) {
            NVME_QUEUE* Queue = Queues[I];
            if (Queue->Stats.Outstanding == 0) continue;
            // Commands with deadlines are reaped every millisecond; AERs alone only when idle.
            if (Queue->Stats.Outstanding > Queue->Quiet) Busy = TRUE;
            else if (!Idle) continue;
            NVMeQueueReap(Queue);
        }
        if (Busy) {
            PlatformSleepMs(1);
            Idle = FALSE;
        } else {
            PlatformEventWait(Controller->PollEvent, 100);
            Idle = TRUE;
        }
    }
    NVMeThreadEnd(Controller);
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
    for (U32 I = 0; I < NVME_MAX_IO_QUEUES; I++) {
        Controller->Io[I].Ops = &NVMePolledQueueOps;
        Controller->Io[I].OwnVector = FALSE;
    }
    NVME_VIEW_SET_TEXT(Controller, PollingReason, Reason);
    Controller->Info.Polling = TRUE;
    if (!Controller->PollThreadStarted) Controller->PollThreadStarted = NVMeThreadStart(Controller, "-poll", NVMePollThread);
    INFO("[NVMeControllerStartPolling] %s: polling completions (%s)", Controller->Info.Name, Reason);
}

#endif  // NVME_WITH_PLATFORM
