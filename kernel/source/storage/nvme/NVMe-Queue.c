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
 * The ring and identifier arithmetic at the top is pure (host tests).
 */

#include "storage/nvme/NVMe-Internal.h"

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

/** After a doorbell: only the polled variant has something to do (a test, not a call, for the others). */
static ALWAYS_INLINE void KickQueue(NVME_QUEUE* Queue) {
    if (Queue->Ops->Kick) Queue->Ops->Kick(Queue);
}

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
    NVMeCidInit(&Queue->Cids, Queue->Cids.Links, Queue->Cids.Busy, Queue->TrackerCount);
    for (U16 I = 0; I < Queue->TrackerCount; I++) Queue->Trackers[I].State = NVME_TRACKER_FREE;  // not a move: new
    Queue->Held = Queue->Retrying = Queue->Quiet = 0;
}

/************************************************************************/
// Trackers

/** A free tracker made ready for a command (under the lock), or NULL when none is free or the queue is dead. */
static ALWAYS_INLINE NVME_TRACKER* TakeLocked(NVME_QUEUE* Queue) {
    U16 Index;
    if (Queue->Mode == NVME_QUEUE_DEAD || !NVMeCidAllocate(&Queue->Cids, &Index)) return NULL;
    NVME_TRACKER* Tracker = &Queue->Trackers[Index];
    NVMeTrackerMove(Tracker, NVME_TRACKER_RESERVED);
    Tracker->Generation = (U16)((Tracker->Generation + 1) & 0xF);
    Tracker->Cid = NVMeCidCompose(Index, Tracker->Generation);
    Tracker->Flags = 0;
    Tracker->Retries = 0;
    Tracker->Resubmits = 0;
    Tracker->Failure = KSTATUS_SUCCESS;
    Tracker->Done = NULL;
    Tracker->Context = NULL;
    Tracker->Callback = NULL;
    Tracker->NextDone = NULL;
    return Tracker;
}

/** Unlocks after a taker is done; more free slots and more sleepers: wake the next sleeper too. */
static ALWAYS_INLINE void ReleaseTaker(NVME_QUEUE* Queue, U64 State, NVME_TRACKER* Tracker) {
    BOOL PassOn = Tracker != NULL && Queue->SlotWaiters > 0 && Queue->Cids.FreeCount > 0;
    PlatformLockRelease(Queue->Lock, State);
    if (PassOn) PlatformEventSignal(Queue->SlotEvent);
}

NVME_TRACKER* NVMeQueueTakeTracker(NVME_QUEUE* Queue) {
    U64 State = PlatformLockAcquire(Queue->Lock);
    NVME_TRACKER* Tracker = TakeLocked(Queue);
    ReleaseTaker(Queue, State, Tracker);
    return Tracker;
}

NVME_TRACKER* NVMeQueueWaitTracker(NVME_QUEUE* Queue) {
    U64 Start = 0, State = PlatformLockAcquire(Queue->Lock);
    NVME_TRACKER* Tracker;
    // Every tracker busy: sleep until one frees (each release signals), bounded like any wait on the device.
    while ((Tracker = TakeLocked(Queue)) == NULL && Queue->Mode != NVME_QUEUE_DEAD) {
        NVME_CONTROLLER* Controller = Queue->Controller;
        U64 Now = PlatformTimeNs();
        if (Start == 0) {
            Start = Now;
            Queue->Stats.FullWaits++;
        }
        if (Now - Start > NVMeDeadlineLimitNs(Controller, Controller->IoTimeoutMs, FALSE)) break;
        if (NVMeStopAsked(Controller)) break;  // shutdown or detach takes the controller
        Queue->SlotWaiters++;
        PlatformLockRelease(Queue->Lock, State);
        NVMeDeadlineWaitStep(Queue, Queue->SlotEvent);
        State = PlatformLockAcquire(Queue->Lock);
        Queue->SlotWaiters--;
    }
    ReleaseTaker(Queue, State, Tracker);
    return Tracker;
}

/** Returns trackers to the free list (after their Done ran) and wakes a sleeping submitter. */
static void ReleaseTrackers(NVME_QUEUE* Queue, NVME_TRACKER* First) {
    U64 State = PlatformLockAcquire(Queue->Lock);
    for (NVME_TRACKER* Tracker = First; Tracker; Tracker = Tracker->NextDone) {
        if (NVMeTrackerMove(Tracker, NVME_TRACKER_FREE)) NVMeCidFree(&Queue->Cids, Tracker->Index);
    }
    BOOL Wake = Queue->SlotWaiters > 0;
    PlatformLockRelease(Queue->Lock, State);
    if (Wake) PlatformEventSignal(Queue->SlotEvent);
}

void NVMeQueuePutTracker(NVME_TRACKER* Tracker) {
    Tracker->NextDone = NULL;
    ReleaseTrackers(Tracker->Queue, Tracker);
}

void NVMeQueueFinish(NVME_QUEUE* Queue, NVME_TRACKER* First) {
    if (First == NULL) return;
    for (NVME_TRACKER* Tracker = First; Tracker; Tracker = Tracker->NextDone) {
        if (Tracker->Done) Tracker->Done(Tracker);
    }
    ReleaseTrackers(Queue, First);
}

/** A chain of trackers whose Done functions run once the lock is released. */
typedef struct tag_DONE_LIST {
    NVME_TRACKER *First, *Last;
} DONE_LIST;

static ALWAYS_INLINE void DoneAppend(DONE_LIST* List, NVME_TRACKER* Tracker) {
    Tracker->NextDone = NULL;
    if (List->Last) List->Last->NextDone = Tracker;
    else List->First = Tracker;
    List->Last = Tracker;
}

/** Ends a tracker the controller will not complete (under the lock): Failure is what its caller gets. */
static void EndLocked(DONE_LIST* List, NVME_TRACKER* Tracker, KSTATUS Failure) {
    Tracker->Failure = Failure;
    NVMeTrackerMove(Tracker, NVME_TRACKER_COMPLETING);
    DoneAppend(List, Tracker);
}

/************************************************************************/
// Submission

/** Copies the tracker's command into the SQ (the doorbell comes after, once per batch). */
static ALWAYS_INLINE void PostLocked(NVME_QUEUE* Queue, NVME_TRACKER* Tracker) {
    *(NVME_COMMAND*)&Queue->Sq[Queue->SqTail] = Tracker->Command;
    NVMeTrackerMove(Tracker, NVME_TRACKER_IN_FLIGHT);
    NVMeDeadlineStart(Tracker);
    if (Tracker->Flags & NVME_TRACKER_NO_DEADLINE) Queue->Quiet++;
    // Cannot be full: each outstanding command holds one of Depth - 1 trackers (see the header comment).
    Queue->SqTail = NVMeRingNext(Queue->SqTail, Queue->Depth);
    Queue->Stats.Outstanding++;
    Queue->Stats.Submitted++;
    if (Queue->Stats.Outstanding > Queue->Stats.MaxOutstanding) Queue->Stats.MaxOutstanding = Queue->Stats.Outstanding;
}

static ALWAYS_INLINE void RingLocked(NVME_QUEUE* Queue) {
    PlatformWriteBarrier();  // the entries are in memory before the device hears of them
    NVMeDoorbellWriteSq(Queue, Queue->SqTail);
}

/** Whether a command may go to the device now: a live queue, or the reset's own on a recovering one. */
static BOOL MayPost(const NVME_QUEUE* Queue, const NVME_TRACKER* Tracker) {
    return Queue->Mode == NVME_QUEUE_LIVE ||
           (Queue->Mode == NVME_QUEUE_RECOVERING && (Tracker->Flags & NVME_TRACKER_RECOVERY));
}

KSTATUS NVMeQueueSubmitBatch(NVME_TRACKER* const* Trackers, U32 Count) {
    if (Count == 0) return KSTATUS_SUCCESS;
    NVME_QUEUE* Queue = Trackers[0]->Queue;
    U64 State = PlatformLockAcquire(Queue->Lock);
    U8 Mode = Queue->Mode;
    U32 Posted = 0;
    for (U32 I = 0; I < Count && Mode != NVME_QUEUE_DEAD; I++) {
        NVME_TRACKER* Tracker = Trackers[I];
        Tracker->Command.Cid = Tracker->Cid;
        Tracker->Opcode = Tracker->Command.Opcode;
        Tracker->Nsid = Tracker->Command.Nsid;
        if (MayPost(Queue, Tracker)) {
            PostLocked(Queue, Tracker);
            Posted++;
        } else if (NVMeTrackerMove(Tracker, NVME_TRACKER_HELD)) {
            Queue->Held++;  // posted when the reset brings the queue back
        }
    }
    if (Posted) RingLocked(Queue);  // one doorbell for the whole batch
    PlatformLockRelease(Queue->Lock, State);
    if (Mode == NVME_QUEUE_DEAD) return KSTATUS_IO_ERROR;
    if (Posted) KickQueue(Queue);
    return KSTATUS_SUCCESS;
}

KSTATUS NVMeQueueSubmit(NVME_TRACKER* Tracker) { return NVMeQueueSubmitBatch(&Tracker, 1); }

KSTATUS NVMeQueueSubmitIO(NVME_QUEUE* Queue, const NVME_IO_REQUEST* Io, U32 Nsid, U64 Prp1, U64 Prp2,
                          NVME_TRACKER_DONE Done) {
    U64 State = PlatformLockAcquire(Queue->Lock);
    NVME_TRACKER* Tracker = TakeLocked(Queue);
    if (UNLIKELY(Tracker == NULL)) {
        // None free at once (or a dead queue): the bounded sleep for one, then the lock again, the queue rechecked.
        PlatformLockRelease(Queue->Lock, State);
        Tracker = NVMeQueueWaitTracker(Queue);
        if (Tracker == NULL) return NVMeIoNoTracker(Queue->Controller);
        State = PlatformLockAcquire(Queue->Lock);
        if (Queue->Mode == NVME_QUEUE_DEAD) {
            PlatformLockRelease(Queue->Lock, State);
            NVMeQueuePutTracker(Tracker);
            return KSTATUS_IO_ERROR;
        }
    }
    Tracker->Done = Done;
    Tracker->Callback = Io->Callback;
    Tracker->Context = Io->Context;
    Tracker->Lba = Io->Lba;
    Tracker->Blocks = Io->Blocks;
    Tracker->Opcode = (U8)Io->Opcode;
    Tracker->Nsid = Nsid;
    // Every field written once, the unused ones zero, straight into the tracker (kept for a resubmission).
    Tracker->Command = (NVME_COMMAND){.Opcode = (U8)Io->Opcode,
                                      .Cid = Tracker->Cid,
                                      .Nsid = Nsid,
                                      .Prp1 = Prp1,
                                      .Prp2 = Prp2,
                                      .Cdw10 = (U32)Io->Lba,
                                      .Cdw11 = (U32)(Io->Lba >> 32),
                                      .Cdw12 = (Io->Blocks - 1) & 0xFFFF};  // NLB, 0-based
    // An I/O command never carries NVME_TRACKER_RECOVERY, so MayPost is LIVE alone.
    BOOL Live = Queue->Mode == NVME_QUEUE_LIVE;
    if (LIKELY(Live)) {
        PostLocked(Queue, Tracker);
        RingLocked(Queue);
    } else if (NVMeTrackerMove(Tracker, NVME_TRACKER_HELD)) {
        Queue->Held++;  // posted when the reset brings the queue back
    }
    ReleaseTaker(Queue, State, Tracker);
    if (Live) KickQueue(Queue);
    NVME_COUNT(Queue->Controller->Info.PrpCommands, 1);
    return KSTATUS_SUCCESS;
}

/************************************************************************/
// Modes, holding, retries

/** Entering LIVE or RECOVERING: posts what may go now (one doorbell); fails held CANCEL commands. */
static U32 PostHeldLocked(NVME_QUEUE* Queue, DONE_LIST* Ended) {
    U32 Posted = 0;
    for (U16 I = 0; Queue->Held && I < Queue->TrackerCount; I++) {
        NVME_TRACKER* Tracker = &Queue->Trackers[I];
        if (Tracker->State != NVME_TRACKER_HELD) continue;
        if (Tracker->Flags & NVME_TRACKER_CANCEL) {
            Queue->Held--;
            EndLocked(Ended, Tracker, Tracker->Failure != KSTATUS_SUCCESS ? Tracker->Failure : KSTATUS_TIMEOUT);
        } else if (MayPost(Queue, Tracker)) {
            Queue->Held--;
            PostLocked(Queue, Tracker);
            Posted++;
        }
    }
    if (Posted) RingLocked(Queue);
    return Posted;
}

/** Entering DEAD: everything in flight, held or waiting for a retry fails with KSTATUS_IO_ERROR. */
static void FailAllLocked(NVME_QUEUE* Queue, DONE_LIST* Ended) {
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
        EndLocked(Ended, Tracker, KSTATUS_IO_ERROR);
    }
}

/** Logs each command the driver ended itself (not the CANCEL ones: AERs, Aborts, abandoned commands). */
static void ReportEnded(NVME_QUEUE* Queue, const DONE_LIST* Ended) {
    for (NVME_TRACKER* Tracker = Ended->First; Tracker; Tracker = Tracker->NextDone) {
        if (!(Tracker->Flags & NVME_TRACKER_CANCEL)) NVMeReportDriverFailure(Queue->Controller, Tracker);
    }
}

BOOL NVMeQueueSetMode(NVME_QUEUE* Queue, U8 Mode) {
    DONE_LIST Ended = {NULL, NULL};
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
    if (Posted) KickQueue(Queue);
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
    DONE_LIST Ended = {NULL, NULL};
    U64 Next = 0;
    U32 Posted = 0;
    if (!Queue->Allocated || __atomic_load_n(&Queue->Retrying, __ATOMIC_RELAXED) == 0) return 0;
    U64 State = PlatformLockAcquire(Queue->Lock);
    for (U16 I = 0; Queue->Retrying && I < Queue->TrackerCount; I++) {
        NVME_TRACKER* Tracker = &Queue->Trackers[I];
        if (Tracker->State != NVME_TRACKER_RETRY) continue;
        if (Tracker->Flags & NVME_TRACKER_CANCEL) {
            Queue->Retrying--;
            EndLocked(&Ended, Tracker, KSTATUS_TIMEOUT);
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
            PostLocked(Queue, Tracker);
            Posted++;
        } else if (NVMeTrackerMove(Tracker, NVME_TRACKER_HELD)) {
            Queue->Held++;
        }
    }
    if (Posted) RingLocked(Queue);
    PlatformLockRelease(Queue->Lock, State);
    if (Posted) KickQueue(Queue);
    NVMeQueueFinish(Queue, Ended.First);
    return Next;
}

/************************************************************************/
// Completion: drain, validate, complete

/** What one reaping pass found, for the work done once the lock is released. */
typedef struct tag_REAP {
    DONE_LIST Done;
    U32 Count;
    U32 Bad;
    NVME_COMPLETION FirstBad;
    U32 Retried;
    U16 RetryStatus;
    U8 RetryOpcode;
    U64 NowNs;
} REAP;

/** Drain: the entry at *Head if the controller posted it (phase first, then the rest behind a read barrier). */
static ALWAYS_INLINE BOOL TakeEntry(NVME_QUEUE* Queue, U16* Head, U8* Phase, NVME_COMPLETION* Entry) {
    volatile NVME_COMPLETION* Slot = &Queue->Cq[*Head];
    if ((Slot->Status & 1) != *Phase) return FALSE;
    PlatformReadBarrier();  // nothing of the entry is read before its phase matched
    *Entry = *(const NVME_COMPLETION*)Slot;
    NVMeCqAdvance(Head, Phase, Queue->Depth);
    if (Entry->SqHead < Queue->Depth) Queue->SqHead = Entry->SqHead;
    return TRUE;
}

/** Validate: the tracker a completion names, or NULL if the completion is not to be trusted. */
static ALWAYS_INLINE NVME_TRACKER* ValidateCompletion(NVME_QUEUE* Queue, const NVME_COMPLETION* Entry) {
    if (Entry->SqId != Queue->Id) return NULL;
    U16 Index = NVMeCidIndex(Entry->Cid);
    if (Index >= Queue->TrackerCount || !NVMeCidIsBusy(&Queue->Cids, Index)) return NULL;
    NVME_TRACKER* Tracker = &Queue->Trackers[Index];
    if (Tracker->State != NVME_TRACKER_IN_FLIGHT || Tracker->Cid != Entry->Cid) return NULL;
    return Tracker;
}

/** Whether a failed command goes round again (under the queue lock); *DelayMs before it does. */
static BOOL WantsRetry(NVME_QUEUE* Queue, NVME_TRACKER* Tracker, U16 NvmeStatus, U32* DelayMs) {
    NVME_CONTROLLER* Controller = Queue->Controller;
    if (!Controller->WatchdogStarted || (Tracker->Flags & (NVME_TRACKER_NO_RETRY | NVME_TRACKER_CANCEL))) return FALSE;
    if (NVME_STATUS_CODE(NvmeStatus) == NVME_STATUS_ABORT_REQUESTED && (Tracker->Flags & NVME_TRACKER_ABORT_SENT)) {
        // Our own Abort ended it after a timeout: sent again, within the resubmission bound.
        Tracker->Flags &= (U8)~NVME_TRACKER_ABORT_SENT;
        if (Tracker->Resubmits >= NVME_MAX_RESUBMITS) {
            Tracker->Failure = KSTATUS_TIMEOUT;
            return FALSE;
        }
        Tracker->Resubmits++;
        NVME_COUNT(Controller->Info.Resubmits, 1);
        *DelayMs = 0;
        return TRUE;
    }
    if (!NVMeStatusRetryable(NvmeStatus) || Tracker->Retries >= NVME_MAX_RETRIES) return FALSE;
    Tracker->Retries++;
    NVME_COUNT(Controller->Info.Retries, 1);
    *DelayMs = NVMeRetryDelayMs(Tracker->Retries);
    return TRUE;
}

/** Complete: done (chained for its Done function), parked for a retry, or - in a reset's drain - left in flight. */
static ALWAYS_INLINE void CompleteLocked(NVME_QUEUE* Queue, NVME_TRACKER* Tracker, const NVME_COMPLETION* Entry, REAP* Reap) {
    U16 NvmeStatus = NVME_STATUS_FIELD(Entry->Status);
    // The reset's own SQ deletion ended it: it is held and sent again, not failed.
    if (Queue->Mode == NVME_QUEUE_SUSPENDED && NVME_STATUS_CODE(NvmeStatus) == NVME_STATUS_ABORTED_SQ_DELETION) return;
    Tracker->Completion = *Entry;
    if (Tracker->Flags & NVME_TRACKER_NO_DEADLINE) Queue->Quiet--;
    Queue->Stats.Outstanding--;
    Queue->Stats.Completed++;
    U32 DelayMs = 0;
    if (UNLIKELY(NvmeStatus != 0)) {
        Queue->Stats.Errors++;
        if (WantsRetry(Queue, Tracker, NvmeStatus, &DelayMs) && NVMeTrackerMove(Tracker, NVME_TRACKER_RETRY)) {
            if (Reap->NowNs == 0) Reap->NowNs = PlatformTimeNs();
            Tracker->RetryAtNs = Reap->NowNs + (U64)DelayMs * 1000000ULL;
            Queue->Retrying++;
            Reap->RetryStatus = NvmeStatus;
            Reap->RetryOpcode = Tracker->Opcode;
            Reap->Retried++;
            return;
        }
    }
    NVMeTrackerMove(Tracker, NVME_TRACKER_COMPLETING);
    DoneAppend(&Reap->Done, Tracker);
}

/** The three steps over every posted entry, then the head: doorbell first (while the CQ exists), then the head. */
static ALWAYS_INLINE void ReapLocked(NVME_QUEUE* Queue, REAP* Reap) {
    U32 CqState = Queue->CqState;
    U16 Head = NVME_CQ_STATE_HEAD(CqState);
    U8 Phase = NVME_CQ_STATE_PHASE(CqState);
    NVME_COMPLETION Entry;
    while (TakeEntry(Queue, &Head, &Phase, &Entry)) {
        Reap->Count++;
        NVME_TRACKER* Tracker = ValidateCompletion(Queue, &Entry);
        if (Tracker != NULL) {
            CompleteLocked(Queue, Tracker, &Entry, Reap);
        } else {
            if (Reap->Bad++ == 0) Reap->FirstBad = Entry;
            Queue->Stats.BadCompletions++;
        }
    }
    if (Reap->Count == 0) return;
    if (Queue->CqLive) NVMeDoorbellWriteCq(Queue, Head);  // once per batch
    __atomic_store_n(&Queue->CqState, NVME_CQ_STATE(Head, Phase), __ATOMIC_RELEASE);  // after the doorbell
}

/** After the lock: one line for what looked wrong or is retried, the watchdog told, the Done functions run. */
static ALWAYS_INLINE void FinishReap(NVME_QUEUE* Queue, REAP* Reap) {
    NVME_CONTROLLER* Controller = Queue->Controller;
    if (UNLIKELY(Reap->Bad)) {
        NVME_COMPLETION* Bad = &Reap->FirstBad;
        LOG_RATE_LIMITED(LOG_LEVEL_WARNING, 1000, 5,
                         "[NVMeQueueReap] %s: dropped %u bad completion(s) on queue %u "
                         "(first: CID %x SQID %u status %x)",
                         Controller->Info.Name, Reap->Bad, Queue->Id, Bad->Cid, Bad->SqId, Bad->Status);
        __atomic_store_n(&Controller->CheckNow, 1, __ATOMIC_RELEASE);  // a completion that looks wrong: CSTS now
    }
    if (UNLIKELY(Reap->Retried)) {
        char Text[NVME_REASON_LENGTH];
        NVMeStatusFormat(Reap->RetryStatus, Text, sizeof(Text));
        LOG_RATE_LIMITED(LOG_LEVEL_INFO, 1000, 5, "[NVMeQueueReap] %s: %s on queue %u: %s, retrying",
                         Controller->Info.Name, NVMeOpcodeName(Queue->Id == 0, Reap->RetryOpcode), Queue->Id, Text);
        __atomic_store_n(&Controller->RetryPending, 1, __ATOMIC_RELEASE);
    }
    if (UNLIKELY(Reap->Bad || Reap->Retried)) NVMeRecoveryKick(Controller);
    NVMeQueueFinish(Queue, Reap->Done.First);
}

U32 NVMeQueueReap(NVME_QUEUE* Queue) {
    REAP Reap = {0};
    if (!Queue->Allocated) return 0;
    U64 State = PlatformLockAcquire(Queue->Lock);
    if (Queue->Mode == NVME_QUEUE_LIVE || Queue->Mode == NVME_QUEUE_RECOVERING) ReapLocked(Queue, &Reap);
    PlatformLockRelease(Queue->Lock, State);
    FinishReap(Queue, &Reap);
    return Reap.Count;
}

U32 NVMeQueueDrain(NVME_QUEUE* Queue) {
    REAP Reap = {0};
    if (!Queue->Allocated) return 0;
    U64 State = PlatformLockAcquire(Queue->Lock);
    if (Queue->Mode == NVME_QUEUE_SUSPENDED) ReapLocked(Queue, &Reap);
    PlatformLockRelease(Queue->Lock, State);
    FinishReap(Queue, &Reap);
    return Reap.Count;
}

BOOL NVMeQueueCompletionPosted(NVME_QUEUE* Queue, U16 Cid) {
    BOOL Found = FALSE;
    if (!Queue->Allocated) return FALSE;
    U64 State = PlatformLockAcquire(Queue->Lock);
    U16 Head = NVME_CQ_STATE_HEAD(Queue->CqState);
    U8 Phase = NVME_CQ_STATE_PHASE(Queue->CqState);
    for (U16 I = 0; I < Queue->Depth && !Found; I++) {
        volatile NVME_COMPLETION* Slot = &Queue->Cq[Head];
        if ((Slot->Status & 1) != Phase) break;
        PlatformReadBarrier();
        Found = Slot->Cid == Cid && Slot->SqId == Queue->Id;
        NVMeCqAdvance(&Head, &Phase, Queue->Depth);
    }
    PlatformLockRelease(Queue->Lock, State);
    return Found;
}

/**
 * INTx with nothing posted on the admin queue: a controller in fatal status ignores CQ head doorbells, so its
 * level may stay up with every entry reaped. Mask it (the reset unmasks) and let the watchdog look, or it storms.
 */
static BOOL NVMeIntxFatalCheck(NVME_QUEUE* Queue) {
    U32 Csts = NVMeRead32(Queue->Controller, NVME_REG_CSTS);
    if (Csts != MAX_U32 && !(Csts & NVME_CSTS_CFS)) return FALSE;
    NVMeWrite32(Queue->Controller, NVME_REG_INTMS, 1);
    __atomic_store_n(&Queue->Controller->CheckNow, 1, __ATOMIC_RELEASE);
    NVMeRecoveryKick(Queue->Controller);
    return TRUE;
}

/**
 * The top half, on any CPU, without the queue lock: it only looks whether the entry at the published head is
 * posted, and claims the interrupt (counts it, queues the bottom half) only then, so a vector shared with other
 * queues or other devices (INTx, MSI, a VMD's) costs one load and one compare. It never writes the head or phase.
 *
 * Why the unlocked look never misses an entry: the reaper (one at a time, under the lock) writes the CQ head
 * doorbell and only then publishes head and phase together (CqState, one word, release). Whatever word the top
 * half loads (acquire), the slot it names was either not yet consumed (posted or not, exactly what the reaper
 * would see) or consumed by a reaper still running, whose entry still carries the phase the word expects: the
 * controller cannot have written that slot again, because the trackers of the batch being reaped are not freed
 * before the word is published, so fewer than Depth entries can follow the old head. A stale word therefore
 * gives at worst a spurious claim (the bottom half then reaps nothing), never a lost one.
 */
BOOL NVMeQueuePosted(NVME_QUEUE* Queue) {
    U32 CqState = __atomic_load_n(&Queue->CqState, __ATOMIC_ACQUIRE);
    return Queue->Allocated && (Queue->Cq[NVME_CQ_STATE_HEAD(CqState)].Status & 1) == NVME_CQ_STATE_PHASE(CqState);
}

BOOL NVMeQueueInterrupt(LPVOID Context) {
    NVME_QUEUE* Queue = (NVME_QUEUE*)Context;
    if (!NVMeQueuePosted(Queue)) {
        // A vector of its own is this queue's whatever it finds: a waiter may have reaped the entry first.
        if (Queue->OwnVector) return TRUE;
        return Queue->Ops == &NVMeIntxQueueOps && Queue->Id == 0 && NVMeIntxFatalCheck(Queue);
    }
    __atomic_add_fetch(&Queue->Stats.Interrupts, 1, __ATOMIC_RELAXED);  // the one counter written outside the lock
    if (Queue->Id != 0 && Queue->Ops == &NVMeInterruptQueueOps) {
        // I/O completions end here, on the CPU the vector is aimed at: the reap takes the queue's spinlock, and
        // Done functions only take spinlocks and signal events (NVMe-Request.c, the asynchronous callbacks).
        NVMeQueueReap(Queue);
        return TRUE;
    }
    if (Queue->Ops == &NVMeIntxQueueOps) NVMeWrite32(Queue->Controller, NVME_REG_INTMS, 1);  // level: quiet it
    PlatformWorkQueue(Queue->Work);
    return TRUE;
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
