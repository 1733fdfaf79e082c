/*
 * NVMe-QueueSteps.h - the queue engine's steps under the queue lock that
 * more than one of its files takes: posting a command to the SQ, the SQ
 * doorbell, the kick after it, the chain of ended trackers whose Done
 * functions run once the lock is released, and their release.
 *
 * The engine is NVMe-Queue.c (allocation, variants, modes, holding,
 * retries, polling), NVMe-Submit.c (trackers and submission) and
 * NVMe-Reap.c (completion); only they include this file, and NVMe-IO.c
 * for the single-command fast path (NVMeQueueSubmitIO, inline into
 * NVMeSubmitIO: one frame for the whole submission). Every step here
 * but the last two runs with Queue->Lock held (those take it) and keeps NVMe-Queue.c's invariants: tracker
 * states move only through NVMeTrackerMove, SQ entries are written before
 * the tail doorbell (write barrier), at most Depth - 1 commands are
 * outstanding. They run once or more per command: inline, as a call would
 * cost more than their bodies (make bench-model).
 */

#ifndef STORAGE_NVME_QUEUESTEPS_H_INCLUDED
#define STORAGE_NVME_QUEUESTEPS_H_INCLUDED

#include "storage/nvme/NVMe-Internal.h"

#ifdef NVME_WITH_PLATFORM

/** Copies the tracker's command into the SQ (the doorbell comes after, once per batch). */
static ALWAYS_INLINE void NVMeQueuePostLocked(NVME_QUEUE* Queue, NVME_TRACKER* Tracker) {
    *(NVME_COMMAND*)&Queue->Sq[Queue->SqTail] = Tracker->Command;
    NVMeTrackerMove(Tracker, NVME_TRACKER_IN_FLIGHT);
    NVMeDeadlineStart(Tracker);
    if (Tracker->Flags & NVME_TRACKER_NO_DEADLINE) Queue->Quiet++;
    // Cannot be full: each outstanding command holds one of Depth - 1 trackers (NVMe-Queue.c's invariants).
    Queue->SqTail = NVMeRingNext(Queue->SqTail, Queue->Depth);
    Queue->Stats.Outstanding++;
    Queue->Stats.Submitted++;
    if (Queue->Stats.Outstanding > Queue->Stats.MaxOutstanding) Queue->Stats.MaxOutstanding = Queue->Stats.Outstanding;
}

static ALWAYS_INLINE void NVMeQueueRingLocked(NVME_QUEUE* Queue) {
    PlatformWriteBarrier();  // the entries are in memory before the device hears of them
    NVMeDoorbellWriteSq(Queue, Queue->SqTail);
}

/** Whether a command may go to the device now: a live queue, or the reset's own on a recovering one. */
static ALWAYS_INLINE BOOL NVMeQueueMayPost(const NVME_QUEUE* Queue, const NVME_TRACKER* Tracker) {
    return Queue->Mode == NVME_QUEUE_LIVE ||
           (Queue->Mode == NVME_QUEUE_RECOVERING && (Tracker->Flags & NVME_TRACKER_RECOVERY));
}

/** After a doorbell: only the polled variant has something to do (a test, not a call, for the others). */
static ALWAYS_INLINE void NVMeQueueKick(NVME_QUEUE* Queue) {
    if (Queue->Ops->Kick) Queue->Ops->Kick(Queue);
}

/** A chain of trackers whose Done functions run once the lock is released. */
typedef struct tag_NVME_DONE_LIST {
    NVME_TRACKER *First, *Last;
} NVME_DONE_LIST;

static ALWAYS_INLINE void NVMeDoneAppend(NVME_DONE_LIST* List, NVME_TRACKER* Tracker) {
    Tracker->NextDone = NULL;
    if (List->Last) List->Last->NextDone = Tracker;
    else List->First = Tracker;
    List->Last = Tracker;
}

/** Ends a tracker the controller will not complete (under the lock): Failure is what its caller gets. */
static inline void NVMeQueueEndLocked(NVME_DONE_LIST* List, NVME_TRACKER* Tracker, KSTATUS Failure) {
    Tracker->Failure = Failure;
    NVMeTrackerMove(Tracker, NVME_TRACKER_COMPLETING);
    NVMeDoneAppend(List, Tracker);
}

/** Returns trackers to the free list (after their Done ran) and wakes a sleeping submitter; takes the lock. */
static ALWAYS_INLINE void NVMeQueueReleaseTrackers(NVME_QUEUE* Queue, NVME_TRACKER* First) {
    U64 State = PlatformLockAcquire(Queue->Lock);
    for (NVME_TRACKER* Tracker = First; Tracker; Tracker = Tracker->NextDone) {
        if (NVMeTrackerMove(Tracker, NVME_TRACKER_FREE)) NVMeCidFree(&Queue->Cids, Tracker->Index);
    }
    BOOL Wake = Queue->SlotWaiters > 0;
    PlatformLockRelease(Queue->Lock, State);
    if (Wake) PlatformEventSignal(Queue->SlotEvent);
}

/** NVMeQueueFinish (without the lock held): the Done functions of the chain, then its trackers are freed. */
static ALWAYS_INLINE void NVMeQueueFinishChain(NVME_QUEUE* Queue, NVME_TRACKER* First) {
    if (First == NULL) return;
    for (NVME_TRACKER* Tracker = First; Tracker; Tracker = Tracker->NextDone) {
        if (Tracker->Done) Tracker->Done(Tracker);
    }
    NVMeQueueReleaseTrackers(Queue, First);
}

/**
 * A free tracker made ready for a command with its completion hooks (under the lock; NULL ones for callers that
 * set them later), or NULL when none is free or the queue is dead.
 */
static ALWAYS_INLINE NVME_TRACKER* NVMeQueueTakeLocked(NVME_QUEUE* Queue, NVME_TRACKER_DONE Done,
                                                       NVME_IO_CALLBACK Callback, LPVOID Context) {
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
    Tracker->Done = Done;
    Tracker->Context = Context;
    Tracker->Callback = Callback;
    Tracker->NextDone = NULL;
    return Tracker;
}

/** Unlocks after a taker is done; more free slots and more sleepers: wake the next sleeper too. */
static ALWAYS_INLINE void NVMeQueueReleaseTaker(NVME_QUEUE* Queue, U64 State, NVME_TRACKER* Tracker) {
    BOOL PassOn = Tracker != NULL && Queue->SlotWaiters > 0 && Queue->Cids.FreeCount > 0;
    PlatformLockRelease(Queue->Lock, State);
    if (PassOn) PlatformEventSignal(Queue->SlotEvent);
}

/**
 * The single-command fast path (NVMeSubmitIO): takes a free tracker and posts a Read or Write whose data pointer
 * is ready (PRP1/PRP2, no list) under one lock hold, with its doorbell; Done runs at completion. Held like any
 * command while the queue is suspended. With no tracker free at once it sleeps for one (NVMeQueueWaitTracker);
 * none came: NVMeIoNoTracker's error; a dead queue: KSTATUS_IO_ERROR. Counted in PrpCommands.
 */
static ALWAYS_INLINE KSTATUS NVMeQueueSubmitIO(NVME_QUEUE* Queue, const NVME_IO_REQUEST* Io, U32 Nsid, U64 Prp1,
                                                U64 Prp2, NVME_TRACKER_DONE Done) {
    U64 State = PlatformLockAcquire(Queue->Lock);
    NVME_TRACKER* Tracker = NVMeQueueTakeLocked(Queue, Done, Io->Callback, Io->Context);
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
        Tracker->Done = Done;
        Tracker->Callback = Io->Callback;
        Tracker->Context = Io->Context;
    }
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
    // An I/O command never carries NVME_TRACKER_RECOVERY, so NVMeQueueMayPost is LIVE alone.
    BOOL Live = Queue->Mode == NVME_QUEUE_LIVE;
    if (LIKELY(Live)) {
        NVMeQueuePostLocked(Queue, Tracker);
        NVMeQueueRingLocked(Queue);
    } else if (NVMeTrackerMove(Tracker, NVME_TRACKER_HELD)) {
        Queue->Held++;  // posted when the reset brings the queue back
    }
    NVMeQueueReleaseTaker(Queue, State, Tracker);
    if (Live) NVMeQueueKick(Queue);
    NVME_COUNT(Queue->Controller->Info.PrpCommands, 1);
    return KSTATUS_SUCCESS;
}

#endif  // NVME_WITH_PLATFORM

#endif  // STORAGE_NVME_QUEUESTEPS_H_INCLUDED
