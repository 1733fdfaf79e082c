/*
 * NVMe-Request.c - a caller waiting for one or more commands: the
 * synchronous side of the queue engine.
 *
 * A request lives on its caller's stack: a pending count (children in flight,
 * plus one while the submitter still adds children), the first error, the
 * completion dword 0 of admin results, and an event from the controller's
 * pool of waiter events (a fresh one only when more than NVME_WAITER_POOL
 * callers wait at once). Each command (a "child") carries the request in its
 * tracker's Context and NVMeRequestChildDone as its Done function.
 *
 * Waiting: in NVMe-Deadline.c's steps (each empty step reaps the queue: a
 * missed interrupt costs a step, not a deadline) for as long as it allows:
 * supervised commands always end (completion, retry limit, resubmission
 * limit, controller failure), so the waiter keeps only a backstop.
 * Bring-up, the watchdog itself, resets and shutdown time their own
 * commands (SelfTimed): after TimeoutMs the request is abandoned - its
 * trackers are detached (their ends touch nothing of the caller) and marked
 * CANCEL, so no reset ever posts them again.
 */

#include "storage/nvme/NVMe-Internal.h"

#include "utils/String.h"

#ifdef NVME_WITH_PLATFORM

#include "core/Log.h"

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
    // More sleeping callers than pooled events: rare, so an event of its own. None to be had: the waiter polls
    // (NVMeDeadlineWaitStep without an event), slower but never wrong.
    if (Request->Event == NULL) {
        Request->Event = PlatformEventCreate(FALSE);
        if (Request->Event) NVME_COUNT(Controller->Info.ExtraWaiterEvents, 1);
    }
}

void NVMeRequestRelease(NVME_CONTROLLER* Controller, NVME_REQUEST* Request) {
    // Under WaiterLock: a child that brought Pending to 0 signals the event inside that lock, so once the lock is
    // had no child is still touching the event (or the request) and it may go back to the pool or be destroyed.
    U64 State = PlatformLockAcquire(Controller->WaiterLock);
    PLATFORM_EVENT* Event = Request->Event;
    Request->Event = NULL;
    BOOL Pooled = FALSE;
    if (Event) PlatformEventReset(Event);
    for (U32 I = 0; Event && I < NVME_WAITER_POOL; I++) {
        if (Controller->Waiters[I] == Event) {
            Controller->WaiterFree |= 1U << I;
            Pooled = TRUE;
            break;
        }
    }
    PlatformLockRelease(Controller->WaiterLock, State);
    if (Event && !Pooled) {
        PlatformEventDestroy(Event);
        NVME_COUNT(Controller->Info.ExtraWaiterEvents, -1);
    }
}

void NVMeRequestAddChild(NVME_REQUEST* Request, NVME_TRACKER* Tracker) {
    __atomic_add_fetch(&Request->Pending, 1, __ATOMIC_ACQ_REL);
    Tracker->Done = NVMeRequestChildDone;
    Tracker->Context = Request;
    if (Request->Quiet) Tracker->Flags |= NVME_TRACKER_QUIET;  // its end need not look at the request to know
}

KSTATUS NVMeRequestSubmitChildren(NVME_REQUEST* Request, NVME_TRACKER* const* Trackers, U32 Count) {
    for (U32 I = 0; I < Count; I++) NVMeRequestAddChild(Request, Trackers[I]);
    KSTATUS Status = NVMeQueueSubmitBatch(Trackers, Count);
    if (Status != KSTATUS_SUCCESS) {
        __atomic_sub_fetch(&Request->Pending, Count, __ATOMIC_ACQ_REL);  // the submitter still holds its reference
        for (U32 I = 0; I < Count; I++) NVMeQueuePutTracker(Trackers[I]);
    }
    return Status;
}

KSTATUS NVMeRequestSubmitChild(NVME_REQUEST* Request, NVME_TRACKER* Tracker) {
    return NVMeRequestSubmitChildren(Request, &Tracker, 1);
}

/**
 * A child's end. Everything it does to its request happens under the controller's WaiterLock, with the request
 * read from the tracker there: an abandoning waiter clears Tracker->Context under the same lock, and a releasing
 * one takes it before its event goes, so a child never reaches into a stack frame or an event that is gone.
 */
void NVMeRequestChildDone(NVME_TRACKER* Tracker) {
    NVME_CONTROLLER* Controller = Tracker->Queue->Controller;
    U16 NvmeStatus = NVME_STATUS_FIELD(Tracker->Completion.Status);
    KSTATUS Status = Tracker->Failure;
    if (Status == KSTATUS_SUCCESS) Status = NVMeStatusToKStatus(NvmeStatus);
    else NvmeStatus = 0;  // the driver ended it: no device status
    // Logged before the waiter can wake (it may look for the line at once).
    if (NvmeStatus != 0 && !(Tracker->Flags & NVME_TRACKER_QUIET)) NVMeReportError(Controller, Tracker, NvmeStatus);
    U64 State = PlatformLockAcquire(Controller->WaiterLock);
    NVME_REQUEST* Request = (NVME_REQUEST*)Tracker->Context;
    if (Request != NULL) {
        if (Tracker->Failure == KSTATUS_SUCCESS) Request->Dw0 = Tracker->Completion.Dw0;
        if (Status != KSTATUS_SUCCESS && Request->Status == KSTATUS_SUCCESS) {
            Request->Status = Status;
            Request->NvmeStatus = NvmeStatus;
        }
        PLATFORM_EVENT* Event = Request->Event;
        if (__atomic_sub_fetch(&Request->Pending, 1, __ATOMIC_ACQ_REL) == 0 && Event) PlatformEventSignal(Event);
    }
    PlatformLockRelease(Controller->WaiterLock, State);
    if (Request == NULL) {
        DEBUG("[NVMeQueue] %s: command %x (CID %x) ended after its caller gave up", Controller->Info.Name,
              Tracker->Opcode, Tracker->Cid);
    }
}

/**
 * Detaches a timed-out request's commands, whatever state they are in (a Done function may be queued behind a
 * slow one in another thread's chain): their ends touch nothing of the caller, and none is posted again.
 */
static void AbandonRequest(NVME_QUEUE* Queue, NVME_REQUEST* Request) {
    NVME_CONTROLLER* Controller = Queue->Controller;
    U64 State = PlatformLockAcquire(Queue->Lock);
    U64 Waiters = PlatformLockAcquire(Controller->WaiterLock);  // lock order: queue, then waiters
    for (U16 I = 0; I < Queue->TrackerCount; I++) {
        NVME_TRACKER* Tracker = &Queue->Trackers[I];
        if (Tracker->Context != Request || Tracker->Done != NVMeRequestChildDone) continue;
        Tracker->Context = NULL;
        if (Tracker->State != NVME_TRACKER_FREE && Tracker->State != NVME_TRACKER_COMPLETING) {
            Tracker->Flags |= NVME_TRACKER_CANCEL;
        }
    }
    PlatformLockRelease(Controller->WaiterLock, Waiters);
    PlatformLockRelease(Queue->Lock, State);
}

KSTATUS NVMeRequestWait(NVME_QUEUE* Queue, NVME_REQUEST* Request, U32 TimeoutMs) {
    if (__atomic_sub_fetch(&Request->Pending, 1, __ATOMIC_ACQ_REL) == 0) return Request->Status;
    NVME_CONTROLLER* Controller = Queue->Controller;
    BOOL Supervised = Controller->WatchdogStarted && !Request->SelfTimed;
    U64 LimitNs = NVMeDeadlineLimitNs(Controller, TimeoutMs, Request->SelfTimed);
    U64 Start = PlatformTimeNs();
    // A polled queue has no interrupt to signal the event: its waiter spins, then looks every millisecond.
    PLATFORM_EVENT* Event = Request->Event;
    if (Queue->Ops == &NVMeWaiterPolledQueueOps) {
        NVMeDeadlinePollWait(Queue, &Request->Pending);
        if (__atomic_load_n(&Request->Pending, __ATOMIC_ACQUIRE) == 0) return Request->Status;
        Event = NULL;
    }
    for (;;) {
        NVMeDeadlineWaitStep(Queue, Event);
        if (__atomic_load_n(&Request->Pending, __ATOMIC_ACQUIRE) == 0) return Request->Status;
        if (PlatformTimeNs() - Start >= LimitNs) break;
        // Unsupervised waits stop when the controller failed, or when shutdown or detach asks the thread holding
        // the controller to let go; supervised ones are failed by the watchdog (or by shutdown and detach).
        if (!Supervised && (Controller->Info.State == NVME_STATE_FAILED || NVMeStopAsked(Controller))) break;
    }
    AbandonRequest(Queue, Request);
    if (__atomic_load_n(&Request->Pending, __ATOMIC_ACQUIRE) == 0) return Request->Status;  // finished meanwhile
    Request->Abandoned = TRUE;
    NVME_COUNT(Controller->Info.Timeouts, 1);
    if (Supervised) {
        ERROR("[NVMeRequestWait] %s: a supervised command outlived its backstop (%llu ms); abandoned",
              Controller->Info.Name, LimitNs / 1000000);
    } else if (PlatformTimeNs() - Start < LimitNs) {
        // Cut short (shutdown or removal took the controller, or it failed): not a timeout of the device's.
        LOG_RATE_LIMITED(LOG_LEVEL_WARNING, 1000, 3, "[NVMeRequestWait] %s: %s command given up after %llu ms (%s)",
                         Controller->Info.Name, Queue->Id == 0 ? "admin" : "I/O",
                         (PlatformTimeNs() - Start) / 1000000, NVMeStopAsked(Controller) ? "stopping" : "failed");
    } else {
        LOG_RATE_LIMITED(LOG_LEVEL_WARNING, 1000, 3, "[NVMeRequestWait] %s: %s command timed out after %u ms",
                         Controller->Info.Name, Queue->Id == 0 ? "admin" : "I/O", TimeoutMs);
    }
    return KSTATUS_TIMEOUT;
}

#endif  // NVME_WITH_PLATFORM
