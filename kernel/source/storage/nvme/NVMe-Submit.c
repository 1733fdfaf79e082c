/*
 * NVMe-Submit.c - the queue engine's submission side: taking and giving back
 * trackers, and posting commands (a batch with one doorbell, or the single
 * Read/Write fast path of NVMeSubmitIO).
 *
 * A tracker is taken under the queue lock from the FIFO CID list with a new
 * generation and state RESERVED; it is posted (IN_FLIGHT) from its own
 * command copy, or held (HELD) while the queue is suspended; it returns to
 * the list (FREE) only after its completion was consumed and its Done
 * function ran (NVMeQueueFinish), so a CID is never reused while its command
 * is in flight. A submitter that finds no free tracker sleeps on SlotEvent,
 * bounded like every wait on the device. SQ entries are written before the
 * tail doorbell (NVMeQueueRingLocked's write barrier), one doorbell per
 * batch. The invariants of the whole engine are in NVMe-Queue.c.
 */

#include "storage/nvme/NVMe-QueueSteps.h"

#ifdef NVME_WITH_PLATFORM

/************************************************************************/
// Trackers

NVME_TRACKER* NVMeQueueTakeTracker(NVME_QUEUE* Queue) {
    U64 State = PlatformLockAcquire(Queue->Lock);
    NVME_TRACKER* Tracker = NVMeQueueTakeLocked(Queue, NULL, NULL, NULL);
    NVMeQueueReleaseTaker(Queue, State, Tracker);
    return Tracker;
}

NVME_TRACKER* NVMeQueueWaitTracker(NVME_QUEUE* Queue) {
    U64 Start = 0, State = PlatformLockAcquire(Queue->Lock);
    NVME_TRACKER* Tracker;
    // Every tracker busy: sleep until one frees (each release signals), bounded like any wait on the device.
    while ((Tracker = NVMeQueueTakeLocked(Queue, NULL, NULL, NULL)) == NULL && Queue->Mode != NVME_QUEUE_DEAD) {
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
    NVMeQueueReleaseTaker(Queue, State, Tracker);
    return Tracker;
}

void NVMeQueuePutTracker(NVME_TRACKER* Tracker) {
    Tracker->NextDone = NULL;
    NVMeQueueReleaseTrackers(Tracker->Queue, Tracker);
}

void NVMeQueueFinish(NVME_QUEUE* Queue, NVME_TRACKER* First) { NVMeQueueFinishChain(Queue, First); }

/************************************************************************/
// Submission

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
        if (NVMeQueueMayPost(Queue, Tracker)) {
            NVMeQueuePostLocked(Queue, Tracker);
            Posted++;
        } else if (NVMeTrackerMove(Tracker, NVME_TRACKER_HELD)) {
            Queue->Held++;  // posted when the reset brings the queue back
        }
    }
    if (Posted) NVMeQueueRingLocked(Queue);  // one doorbell for the whole batch
    PlatformLockRelease(Queue->Lock, State);
    if (Mode == NVME_QUEUE_DEAD) return KSTATUS_IO_ERROR;
    if (Posted) NVMeQueueKick(Queue);
    return KSTATUS_SUCCESS;
}

KSTATUS NVMeQueueSubmit(NVME_TRACKER* Tracker) { return NVMeQueueSubmitBatch(&Tracker, 1); }

#endif  // NVME_WITH_PLATFORM
