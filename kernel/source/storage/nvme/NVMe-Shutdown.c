/*
 * NVMe-Shutdown.c - the clean shutdown at poweroff and reboot (NVMe 2.0
 * section 3.6.1; the order Linux's nvme_dev_disable follows), bounded
 * whatever the watchdog is doing.
 *
 * The bound (issue 11, defect 6): the hook returns within RTD3E clamped to
 * 5..60 s (Linux's rule for the SHST wait, here for the whole hook) from the
 * moment it starts, plus the one wait step (250 ms) the watchdog may need to
 * let go of ResetMutex. The watchdog may hold that mutex across a 60 s Abort
 * or a reset with 8 s ready waits: the hook asks it to let go first
 * (Stopping = NVME_STOP_ASKED; every self-timed wait, ready wait and reset
 * attempt ends at its next step) and a reset cut short is finished here.
 *
 * Within the bound:
 *   - the state becomes SHUTDOWN (new requests fail, the watchdog ends);
 *   - I/O in flight gets a quarter of it to end (retries keep going);
 *   - while the controller runs (CSTS RDY, no CFS, not all ones), each
 *     exposed namespace is flushed when VWC says a volatile cache exists,
 *     then the I/O SQs and CQs are deleted, each command timed with what is
 *     left of the first half (SQs before CQs: a CQ goes only once no SQ uses
 *     it); whatever the queues still hold fails;
 *   - CC.SHN = 01b (only on an enabled controller: a reset cut short may have
 *     left it disabled, which is already safe), then CSTS.SHST = 10b awaited
 *     until the bound; a shutdown that never completes is logged and left.
 */

#include "storage/nvme/NVMe-Internal.h"

#include "block/Disk.h"
#include "core/Log.h"
#include "utils/String.h"

#ifdef NVME_WITH_PLATFORM

#define NS_PER_MS 1000000ULL

static BOOL Running(NVME_CONTROLLER* Controller) {
    U32 Csts = NVMeRead32(Controller, NVME_REG_CSTS);
    return Csts != MAX_U32 && (Csts & NVME_CSTS_RDY) && !(Csts & NVME_CSTS_CFS);
}

/** Milliseconds left until Until (0 when past). */
static U32 LeftMs(U64 Until) {
    U64 Now = PlatformTimeNs();
    return Until > Now ? (U32)((Until - Now) / NS_PER_MS) : 0;
}

/**
 * A free tracker of Queue before Until, or NULL. NVMeQueueWaitTracker gives up once a stop is asked, which
 * shutdown has done; and a tracker outlives its command's Outstanding count until its waiter releases it (a
 * thread that has not run yet after a burst), so the drain does not promise a free one: wait for it here.
 */
static NVME_TRACKER* TakeTrackerBefore(NVME_QUEUE* Queue, U64 Until) {
    for (;;) {
        NVME_TRACKER* Tracker = NVMeQueueTakeTracker(Queue);
        if (Tracker != NULL || Queue->Mode == NVME_QUEUE_DEAD || LeftMs(Until) == 0) return Tracker;
        PlatformSleepMs(1);
    }
}

/** A Flush of one namespace, timed here (the watchdog cannot supervise while shutdown holds ResetMutex). */
static KSTATUS FlushTimed(NVME_NAMESPACE* Namespace, U32 TimeoutMs) {
    NVME_CONTROLLER* Controller = Namespace->Controller;
    NVME_QUEUE* Queue = NVMeIoPickQueue(Controller);
    if (Queue == NULL || TimeoutMs == 0) return KSTATUS_TIMEOUT;
    U64 Until = PlatformTimeNs() + (U64)TimeoutMs * NS_PER_MS;
    NVME_TRACKER* Tracker = TakeTrackerBefore(Queue, Until);
    if (Tracker == NULL) return KSTATUS_TIMEOUT;
    NVME_REQUEST Request;
    NVMeRequestInit(Controller, &Request);
    Request.SelfTimed = TRUE;
    Tracker->Command = (NVME_COMMAND){.Opcode = NVME_IO_FLUSH, .Nsid = Namespace->Nsid};
    Tracker->Lba = 0;
    Tracker->Blocks = 0;
    KSTATUS Status = NVMeRequestSubmitChild(&Request, Tracker);
    U32 LeftForCommand = MAX(LeftMs(Until), 1U);
    KSTATUS Result = NVMeRequestWait(Queue, &Request, LeftForCommand);
    NVMeRequestRelease(Controller, &Request);
    return Status != KSTATUS_SUCCESS ? Status : Result;
}

/** Lets I/O in flight end until Until; retries keep going meanwhile, since the watchdog cannot run them. */
static void DrainIo(NVME_CONTROLLER* Controller, U64 Until) {
    for (;;) {
        U32 Busy = 0;
        NVME_QUEUE* Queues[1 + NVME_MAX_IO_QUEUES];
        U32 Count = NVMeControllerQueues(Controller, Queues);
        for (U32 I = 0; I < Count; I++) NVMeQueueRetryDue(Queues[I], PlatformTimeNs());
        for (U32 I = 0; I < Controller->IoCount; I++) {
            NVME_QUEUE* Queue = &Controller->Io[I];
            Busy += Queue->Stats.Outstanding + Queue->Held + Queue->Retrying;
        }
        if (Busy == 0) return;
        if (LeftMs(Until) == 0) break;
        PlatformSleepMs(10);
    }
    WARNING("[NVMeShutdown] %s: I/O still in flight; it is aborted by the queue deletion", Controller->Info.Name);
}

/** Flushes the volatile cache of every exposed namespace; returns how many flushed. */
static U32 FlushAll(NVME_CONTROLLER* Controller, U64 Until) {
    U32 Flushed = 0;
    if (!(Controller->Info.Identify.Vwc & NVME_VWC_PRESENT) || Controller->IoCount == 0) return 0;
    NVME_NAMESPACE_TABLE* Table = NVMeNamespaceTable(Controller);
    for (U32 I = 0; Table && I < Table->Count; I++) {
        NVME_NAMESPACE* Namespace = Table->Namespaces[I];
        if (!Namespace->Exposed) continue;
        U32 TimeoutMs = MIN(LeftMs(Until), Controller->IoTimeoutMs);
        KSTATUS Status = FlushTimed(Namespace, TimeoutMs);
        if (Status == KSTATUS_SUCCESS) Flushed++;
        else WARNING("[NVMeShutdown] %s: flush of namespace %u failed (%s)", Controller->Info.Name, Namespace->Nsid,
                     DiskStatusName(Status));
    }
    return Flushed;
}

/** The I/O queues go, SQs before CQs, while there is time and the controller runs; what they held fails. */
static U32 DeleteQueues(NVME_CONTROLLER* Controller, U64 Until) {
    U32 Deleted = 0;
    BOOL Go = Running(Controller);
    for (U32 I = 0; Go && I < Controller->IoCount; I++) {
        U32 TimeoutMs = MIN(LeftMs(Until), Controller->AdminTimeoutMs);
        Go = TimeoutMs > 0 && NVMeAdminDeleteQueue(Controller, &Controller->Io[I], FALSE, TimeoutMs) == KSTATUS_SUCCESS;
    }
    for (U32 I = 0; I < Controller->IoCount; I++) {
        NVME_QUEUE* Queue = &Controller->Io[I];
        if (Queue->Mode == NVME_QUEUE_LIVE) NVMeQueueReap(Queue);  // aborted by the SQ deletion: to their callers
        if (Queue->Mode != NVME_QUEUE_DEAD) NVMeQueueSetMode(Queue, NVME_QUEUE_DEAD);  // and whatever is left
        U32 TimeoutMs = MIN(LeftMs(Until), Controller->AdminTimeoutMs);
        if (Go && TimeoutMs > 0 && NVMeAdminDeleteQueue(Controller, Queue, TRUE, TimeoutMs) == KSTATUS_SUCCESS) {
            Deleted++;
        } else {
            Go = FALSE;
        }
    }
    return Deleted;
}

void NVMeRecoveryShutdown(BOOL Reboot, LPVOID Context) {
    NVME_CONTROLLER* Controller = (NVME_CONTROLLER*)Context;
    NVME_CONTROLLER_INFO* Info = &Controller->Info;
    UNUSED(Reboot);
    U32 State = Info->State;
    if (State != NVME_STATE_READY && State != NVME_STATE_ADMIN_ONLY && State != NVME_STATE_RESETTING) return;
    U64 Start = PlatformTimeNs();
    U32 LimitMs = MAX((U32)NVME_SHUTDOWN_MIN_MS, MIN(Info->Identify.Rtd3e / 1000, (U32)NVME_SHUTDOWN_MAX_MS));
    U64 Deadline = Start + (U64)LimitMs * NS_PER_MS;
    // The watchdog (or a reset, a rescan's command) lets go of the controller at its next wait step.
    __atomic_store_n(&Controller->Stopping, NVME_STOP_ASKED, __ATOMIC_RELEASE);
    NVMeRecoveryKick(Controller);
    PlatformMutexLock(Controller->ResetMutex);
    __atomic_store_n(&Controller->Stopping, NVME_STOP_OWNED, __ATOMIC_RELEASE);
    State = Info->State;
    if ((State != NVME_STATE_READY && State != NVME_STATE_ADMIN_ONLY && State != NVME_STATE_RESETTING) ||
        !NVMeControllerSetState(Controller, NVME_STATE_SHUTDOWN, NULL)) {  // new requests fail; the watchdog ends
        PlatformMutexUnlock(Controller->ResetMutex);
        return;
    }
    U32 Flushed = 0, Deleted = 0;
    U64 Halfway = Start + (U64)LimitMs / 2 * NS_PER_MS;
    if (State != NVME_STATE_RESETTING) {
        DrainIo(Controller, Start + (U64)LimitMs / 4 * NS_PER_MS);
        if (Running(Controller)) Flushed = FlushAll(Controller, Halfway);
    }
    Deleted = DeleteQueues(Controller, Halfway);  // a reset cut short: its held commands fail here
    if (Controller->Admin.Mode == NVME_QUEUE_LIVE || Controller->Admin.Mode == NVME_QUEUE_RECOVERING) {
        NVMeQueueSetMode(&Controller->Admin, NVME_QUEUE_SUSPENDED);  // no doorbell once SHN is set
    }

    // CC.SHN normal, then SHST complete, until the bound (only an enabled controller has anything to shut down).
    U32 Cc = NVMeRead32(Controller, NVME_REG_CC);
    U32 Csts = NVMeRead32(Controller, NVME_REG_CSTS);
    BOOL Enabled = Cc != MAX_U32 && (Cc & NVME_CC_ENABLE) && Csts != MAX_U32;
    if (Enabled) NVMeWrite32(Controller, NVME_REG_CC, (Cc & ~NVME_CC_SHN_MASK) | NVME_CC_SHN_NORMAL);
    while (Enabled) {
        Csts = NVMeRead32(Controller, NVME_REG_CSTS);
        if (Csts == MAX_U32 || (Csts & NVME_CSTS_SHST_MASK) == NVME_CSTS_SHST_COMPLETE || LeftMs(Deadline) == 0) break;
        PlatformSleepMs(10);
    }
    if (Controller->Admin.Mode != NVME_QUEUE_DEAD) NVMeQueueSetMode(&Controller->Admin, NVME_QUEUE_DEAD);  // AERs
    Info->ShutdownMs = (U32)((PlatformTimeNs() - Start) / NS_PER_MS);
    if (Enabled && Csts != MAX_U32 && (Csts & NVME_CSTS_SHST_MASK) == NVME_CSTS_SHST_COMPLETE) {
        Info->ShutdownComplete = TRUE;
        INFO("[NVMeShutdown] %s: shut down in %u ms (%u namespace(s) flushed, %u I/O queue(s) deleted)", Info->Name,
             Info->ShutdownMs, Flushed, Deleted);
    } else if (!Enabled) {
        INFO("[NVMeShutdown] %s: already disabled (a reset was under way); left so", Info->Name);
    } else {
        WARNING("[NVMeShutdown] %s: shutdown did not complete within %u ms (CSTS %x); giving up", Info->Name, LimitMs,
                Csts);
    }
    PlatformMutexUnlock(Controller->ResetMutex);
    NVMeRecoveryKick(Controller);  // the watchdog sees SHUTDOWN and ends
}

#endif  // NVME_WITH_PLATFORM
