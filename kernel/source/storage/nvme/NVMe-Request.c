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
    // More sleeping callers than pooled events: rare, so an event of its own.
    if (Request->Event == NULL) {
        Request->Event = PlatformEventCreate(FALSE);
        if (Request->Event) NVME_COUNT(Controller->Info.ExtraWaiterEvents, 1);
    }
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
    if (Request->Event) {
        PlatformEventDestroy(Request->Event);
        NVME_COUNT(Controller->Info.ExtraWaiterEvents, -1);
    }
    Request->Event = NULL;
}

void NVMeRequestAddChild(NVME_REQUEST* Request, NVME_TRACKER* Tracker) {
    __atomic_add_fetch(&Request->Pending, 1, __ATOMIC_ACQ_REL);
    Tracker->Done = NVMeRequestChildDone;
    Tracker->Context = Request;
}

KSTATUS NVMeRequestSubmitChild(NVME_REQUEST* Request, NVME_TRACKER* Tracker) {
    NVMeRequestAddChild(Request, Tracker);
    KSTATUS Status = NVMeQueueSubmit(Tracker);
    if (Status != KSTATUS_SUCCESS) {
        __atomic_sub_fetch(&Request->Pending, 1, __ATOMIC_ACQ_REL);  // the submitter still holds its reference
        NVMeQueuePutTracker(Tracker);
    }
    return Status;
}

void NVMeRequestChildDone(NVME_TRACKER* Tracker) {
    NVME_REQUEST* Request = (NVME_REQUEST*)Tracker->Context;
    U16 NvmeStatus = NVME_STATUS_FIELD(Tracker->Completion.Status);
    KSTATUS Status = Tracker->Failure;
    if (Status == KSTATUS_SUCCESS) {
        Request->Dw0 = Tracker->Completion.Dw0;
        Status = NVMeStatusToKStatus(NvmeStatus);
        if (NvmeStatus != 0 && !Request->Quiet) NVMeReportError(Tracker->Queue->Controller, Tracker, NvmeStatus);
    } else {
        NvmeStatus = 0;  // the driver ended it: no device status
    }
    if (Status != KSTATUS_SUCCESS) {
        KSTATUS Expected = KSTATUS_SUCCESS;
        if (__atomic_compare_exchange_n(&Request->Status, &Expected, Status, FALSE, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            Request->NvmeStatus = NvmeStatus;
        }
    }
    PLATFORM_EVENT* Event = Request->Event;  // the request may be gone once Pending reaches 0
    if (__atomic_sub_fetch(&Request->Pending, 1, __ATOMIC_ACQ_REL) == 0) PlatformEventSignal(Event);
}

static void AbandonedDone(NVME_TRACKER* Tracker) {
    DEBUG("[NVMeQueue] %s: command %x (CID %x) ended after its caller gave up", Tracker->Queue->Controller->Info.Name,
          Tracker->Opcode, Tracker->Cid);
}

/** Detaches a timed-out request's commands: their ends touch nothing of the caller, and none is sent again. */
static void AbandonRequest(NVME_QUEUE* Queue, NVME_REQUEST* Request) {
    for (U32 Try = 0; Try < 1000; Try++) {
        U32 Completing = 0;
        U64 State = PlatformLockAcquire(Queue->Lock);
        for (U16 I = 0; I < Queue->TrackerCount; I++) {
            NVME_TRACKER* Tracker = &Queue->Trackers[I];
            if (Tracker->Context != Request || Tracker->Done != NVMeRequestChildDone) continue;
            if (Tracker->State == NVME_TRACKER_COMPLETING) {
                Completing++;
            } else if (Tracker->State != NVME_TRACKER_FREE && Tracker->State != NVME_TRACKER_RESERVED) {
                Tracker->Done = AbandonedDone;
                Tracker->Context = NULL;
                Tracker->Flags |= NVME_TRACKER_CANCEL;
            }
        }
        PlatformLockRelease(Queue->Lock, State);
        if (Completing == 0) return;
        PlatformSleepMs(1);  // a Done function is running right now: let it finish
    }
}

KSTATUS NVMeRequestWait(NVME_QUEUE* Queue, NVME_REQUEST* Request, U32 TimeoutMs) {
    if (__atomic_sub_fetch(&Request->Pending, 1, __ATOMIC_ACQ_REL) == 0) return Request->Status;
    NVME_CONTROLLER* Controller = Queue->Controller;
    BOOL Supervised = Controller->WatchdogStarted && !Request->SelfTimed;
    U64 LimitNs = NVMeDeadlineLimitNs(Controller, TimeoutMs, Request->SelfTimed);
    U64 Start = PlatformTimeNs();
    for (;;) {
        NVMeDeadlineWaitStep(Queue, Request->Event);
        if (__atomic_load_n(&Request->Pending, __ATOMIC_ACQUIRE) == 0) return Request->Status;
        if (PlatformTimeNs() - Start >= LimitNs) break;
        // Unsupervised waits stop when the controller failed; supervised ones are failed by the watchdog.
        if (!Supervised && Controller->Info.State == NVME_STATE_FAILED) break;
    }
    AbandonRequest(Queue, Request);
    if (__atomic_load_n(&Request->Pending, __ATOMIC_ACQUIRE) == 0) return Request->Status;  // finished meanwhile
    Request->Abandoned = TRUE;
    NVME_COUNT(Controller->Info.Timeouts, 1);
    if (Supervised) {
        ERROR("[NVMeRequestWait] %s: a supervised command outlived its backstop (%llu ms); abandoned",
              Controller->Info.Name, LimitNs / 1000000);
    } else {
        LOG_RATE_LIMITED(LOG_LEVEL_WARNING, 1000, 3, "[NVMeRequestWait] %s: %s command timed out after %u ms",
                         Controller->Info.Name, Queue->Id == 0 ? "admin" : "I/O", TimeoutMs);
    }
    return KSTATUS_TIMEOUT;
}

#endif  // NVME_WITH_PLATFORM
