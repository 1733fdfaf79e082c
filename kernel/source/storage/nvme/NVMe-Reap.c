/*
 * NVMe-Reap.c - the queue engine's completion side: reaping a CQ in three
 * steps (drain, validate, complete), the interrupt top half, and the look
 * for a posted completion that deadlines use.
 *
 * Drain takes an entry only after its phase tag matched (read barrier
 * between the phase and the rest) and records its SQ head; validate trusts
 * it only if its SQID is this queue and its CID names a tracker that is
 * busy, in flight and of that generation (anything else is dropped, counted
 * and logged once per pass, and the watchdog checks CSTS); complete ends
 * the command, parks it for a retry, or (a reset's drain) leaves it in
 * flight. The CQ head doorbell is written once per pass, then the head and
 * phase are published in one word for the unlocked top half. Done functions
 * run after the lock is released. The invariants of the whole engine are in
 * NVMe-Queue.c.
 */

#include "storage/nvme/NVMe-QueueSteps.h"

#ifdef NVME_WITH_PLATFORM

#include "core/Log.h"

/************************************************************************/
// Completion: drain, validate, complete

/** What one reaping pass found, for the work done once the lock is released. */
typedef struct tag_REAP {
    NVME_DONE_LIST Done;
    U32 Count;
    U32 Bad;
    NVME_COMPLETION FirstBad;
    U32 Retried;
    U16 RetryStatus;
    U8 RetryOpcode;
    U64 NowNs;
} REAP;

/**
 * An empty pass, field by field (zeroing the whole struct cost more, once per interrupt): FirstBad and the retry
 * fields are written with the first bad or retried entry and read only then (ReportPass).
 */
static ALWAYS_INLINE void ReapStart(REAP* Reap) {
    Reap->Done.First = Reap->Done.Last = NULL;
    Reap->Count = Reap->Bad = Reap->Retried = 0;
    Reap->NowNs = 0;
}

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
static ALWAYS_INLINE void CompleteLocked(NVME_QUEUE* Queue, NVME_TRACKER* Tracker, const NVME_COMPLETION* Entry,
                                         REAP* Reap) {
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
    NVMeDoneAppend(&Reap->Done, Tracker);
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
/** What looked wrong or is retried: one line each (rate limited), the watchdog told. Out of line: rare. */
static __attribute__((noinline, cold)) void ReportPass(NVME_QUEUE* Queue, const REAP* Reap) {
    NVME_CONTROLLER* Controller = Queue->Controller;
    if (Reap->Bad) {
        const NVME_COMPLETION* Bad = &Reap->FirstBad;
        LOG_RATE_LIMITED(LOG_LEVEL_WARNING, 1000, 5,
                         "[NVMeQueueReap] %s: dropped %u bad completion(s) on queue %u "
                         "(first: CID %x SQID %u status %x)",
                         Controller->Info.Name, Reap->Bad, Queue->Id, Bad->Cid, Bad->SqId, Bad->Status);
        __atomic_store_n(&Controller->CheckNow, 1, __ATOMIC_RELEASE);  // a completion that looks wrong: CSTS now
    }
    if (Reap->Retried) {
        char Text[NVME_REASON_LENGTH];
        NVMeStatusFormat(Reap->RetryStatus, Text, sizeof(Text));
        LOG_RATE_LIMITED(LOG_LEVEL_INFO, 1000, 5, "[NVMeQueueReap] %s: %s on queue %u: %s, retrying",
                         Controller->Info.Name, NVMeOpcodeName(Queue->Id == 0, Reap->RetryOpcode), Queue->Id, Text);
        __atomic_store_n(&Controller->RetryPending, 1, __ATOMIC_RELEASE);
    }
    NVMeRecoveryKick(Controller);
}

/** After the lock: the report of what looked wrong or is retried (if anything), then the Done functions run. */
static ALWAYS_INLINE void FinishReap(NVME_QUEUE* Queue, REAP* Reap) {
    if (UNLIKELY(Reap->Bad | Reap->Retried)) ReportPass(Queue, Reap);
    NVMeQueueFinishChain(Queue, Reap->Done.First);
}

/** NVMeQueueReap's body: inline in the top half too, which runs it once per interrupt. */
static ALWAYS_INLINE U32 ReapOpen(NVME_QUEUE* Queue) {
    REAP Reap;
    ReapStart(&Reap);
    if (!Queue->Allocated) return 0;
    U64 State = PlatformLockAcquire(Queue->Lock);
    if (Queue->Mode == NVME_QUEUE_LIVE || Queue->Mode == NVME_QUEUE_RECOVERING) ReapLocked(Queue, &Reap);
    PlatformLockRelease(Queue->Lock, State);
    FinishReap(Queue, &Reap);
    return Reap.Count;
}

U32 NVMeQueueReap(NVME_QUEUE* Queue) { return ReapOpen(Queue); }

U32 NVMeQueueDrain(NVME_QUEUE* Queue) {
    REAP Reap;
    ReapStart(&Reap);
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
    if (LIKELY(Queue->OwnVector && Queue->Ops == &NVMeInterruptQueueOps)) {
        // An I/O queue alone on its vector: every interrupt of it is this queue's, so no unlocked look first; the
        // reap's own phase check under the lock finds what was posted (nothing: a waiter reaped it first). Counted
        // before the reap: its callbacks wake waiters, who may read the count at once.
        __atomic_add_fetch(&Queue->Stats.Interrupts, 1, __ATOMIC_RELAXED);
        ReapOpen(Queue);
        return TRUE;
    }
    if (!NVMeQueuePosted(Queue)) {
        // A vector of its own is this queue's whatever it finds: a waiter may have reaped the entry first.
        if (Queue->OwnVector) return TRUE;
        return Queue->Ops == &NVMeIntxQueueOps && Queue->Id == 0 && NVMeIntxFatalCheck(Queue);
    }
    __atomic_add_fetch(&Queue->Stats.Interrupts, 1, __ATOMIC_RELAXED);  // the one counter written outside the lock
    if (Queue->Id != 0 && Queue->Ops == &NVMeInterruptQueueOps) {
        // I/O completions end here, on the CPU the vector is aimed at: the reap takes the queue's spinlock, and
        // Done functions only take spinlocks and signal events (NVMe-Request.c, the asynchronous callbacks).
        ReapOpen(Queue);
        return TRUE;
    }
    if (Queue->Ops == &NVMeIntxQueueOps) NVMeWrite32(Queue->Controller, NVME_REG_INTMS, 1);  // level: quiet it
    PlatformWorkQueue(Queue->Work);
    return TRUE;
}

#endif  // NVME_WITH_PLATFORM
