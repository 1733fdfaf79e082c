/*
 * NVMe-Deadline.c - the one owner of time in the driver: command deadlines,
 * how long any wait may last, and finding completions whose interrupt never
 * came (missed-interrupt polling).
 *
 * Deadlines: a command's deadline starts when it is posted (NVMeDeadlineStart
 * stamps the watchdog's tick) and is counted in whole watchdog periods
 * (NVME_HEALTH_PERIOD_MS): I/O commands nvme.io_timeout (30 s), admin
 * commands nvme.admin_timeout (60 s), AERs none. A command times out 30..32 s
 * after it was posted, never earlier; a retry or a resubmission starts a new
 * deadline, and so does an Abort sent for it. The watchdog (NVMe-Recovery.c)
 * asks for the expired commands each period and runs its ladder on them.
 *
 * Missed interrupts are looked for in two places, both here: every wait on a
 * queue (a request waiting for its commands, a submitter waiting for a free
 * slot) reaps the queue itself after each empty NVME_WAIT_STEP_MS step, so a
 * lost interrupt costs a step, not a deadline (ReapedByWaiter); and at a
 * deadline the watchdog looks in the CQ first: a completion that is there is
 * a missed interrupt (MissedInterrupts, logged once per controller), reaped,
 * not timed out. Bring-up reads ReapedByWaiter after Identify to decide
 * whether interrupts work at all.
 *
 * How long a wait may last: once the watchdog runs, commands are supervised
 * and always end (completion, retry limit, resubmission limit, failed
 * controller), so a waiter keeps only a backstop of (3 + 2) x timeout + 10
 * minutes against a broken machinery; before that (bring-up), and for the
 * commands the watchdog and resets time themselves, the wait is the timeout,
 * and during bring-up never beyond its bound (NVMe-BringUp.c).
 */

#include "storage/nvme/NVMe-Internal.h"

#ifdef NVME_WITH_PLATFORM

#include "core/Log.h"

#define NS_PER_MS 1000000ULL
#define BACKSTOP_EXTRA_MS 600000ULL  // 10 minutes beyond every resubmission's deadline

/************************************************************************/
// Waiting

U64 NVMeDeadlineLimitNs(NVME_CONTROLLER* Controller, U32 TimeoutMs, BOOL SelfTimed) {
    U64 Limit = (SelfTimed || !Controller->WatchdogStarted)
                    ? (U64)TimeoutMs * NS_PER_MS
                    : ((U64)(NVME_MAX_RESUBMITS + 2) * TimeoutMs + BACKSTOP_EXTRA_MS) * NS_PER_MS;
    // While probing, no wait outlives the bring-up bound (NVMe-BringUp.c).
    U64 End = __atomic_load_n(&Controller->BringUpDeadlineNs, __ATOMIC_RELAXED);
    if (End) {
        U64 Now = PlatformTimeNs();
        Limit = MIN(Limit, End > Now ? End - Now : 0);
    }
    return Limit;
}

BOOL NVMeDeadlineWaitStep(NVME_QUEUE* Queue, PLATFORM_EVENT* Event) {
    if (Event == NULL) {
        PlatformSleepMs(1);  // no event could be had (NVMeRequestInit): poll, a short step at a time
    } else if (PlatformEventWait(Event, NVME_WAIT_STEP_MS)) {
        return TRUE;
    }
    U32 Found = NVMeQueueReap(Queue);
    if (Found) {
        U64 State = PlatformLockAcquire(Queue->Lock);
        Queue->Stats.ReapedByWaiter += Found;
        PlatformLockRelease(Queue->Lock, State);
    }
    return FALSE;
}

void NVMeDeadlinePollWait(NVME_QUEUE* Queue, const U32* Pending) {
    U64 Start = PlatformTimeNs();
    for (U32 Look = 0; Look < NVME_POLL_SPINS && __atomic_load_n(Pending, __ATOMIC_ACQUIRE) != 0; Look++) {
        if (NVMeQueuePosted(Queue)) NVMeQueueReap(Queue);
        else if (PlatformTimeNs() - Start > NVME_POLL_SPIN_US * 1000ULL) break;
    }
}

/************************************************************************/
// Deadlines

void NVMeDeadlineTick(NVME_CONTROLLER* Controller, U64 NowNs) {
    if (!Controller->WatchdogStarted) Controller->TickBaseNs = NowNs;  // the clock starts with the watchdog
    U32 Tick = (U32)((NowNs - Controller->TickBaseNs) / (NVME_HEALTH_PERIOD_MS * NS_PER_MS));
    __atomic_store_n(&Controller->Tick, Tick, __ATOMIC_RELAXED);
}

static U32 TimeoutTicks(NVME_CONTROLLER* Controller, NVME_QUEUE* Queue) {
    U32 Ms = Queue->Id == 0 ? Controller->AdminTimeoutMs : Controller->IoTimeoutMs;
    return (Ms + NVME_HEALTH_PERIOD_MS - 1) / NVME_HEALTH_PERIOD_MS;
}

/** The commands past their deadline, in queue order. */
static U32 FindExpired(NVME_CONTROLLER* Controller, NVME_EXPIRED* List, U32 Max) {
    NVME_QUEUE* Queues[1 + NVME_MAX_IO_QUEUES];
    U32 QueueCount = NVMeControllerQueues(Controller, Queues), Count = 0;
    U32 Tick = __atomic_load_n(&Controller->Tick, __ATOMIC_RELAXED);
    for (U32 Q = 0; Q < QueueCount && Count < Max; Q++) {
        NVME_QUEUE* Queue = Queues[Q];
        U32 Limit = TimeoutTicks(Controller, Queue);
        U64 State = PlatformLockAcquire(Queue->Lock);
        for (U16 I = 0; Queue->Stats.Outstanding > Queue->Quiet && I < Queue->TrackerCount && Count < Max; I++) {
            NVME_TRACKER* Tracker = &Queue->Trackers[I];
            if (Tracker->State != NVME_TRACKER_IN_FLIGHT || (Tracker->Flags & NVME_TRACKER_NO_DEADLINE)) continue;
            if (Tick - Tracker->SubmitTick <= Limit) continue;
            List[Count].Queue = Queue;
            List[Count].Index = I;
            List[Count].Cid = Tracker->Cid;
            Count++;
        }
        PlatformLockRelease(Queue->Lock, State);
    }
    return Count;
}

U32 NVMeDeadlineExpired(NVME_CONTROLLER* Controller, NVME_EXPIRED* List, U32 Max) {
    U32 Count = FindExpired(Controller, List, Max), Kept = 0;
    // Poll first: a completion that is there but was never signalled is a missed interrupt (counted before it is
    // reaped, so its caller already sees the count).
    for (U32 I = 0; I < Count; I++) {
        if (!NVMeQueueCompletionPosted(List[I].Queue, List[I].Cid)) {
            List[Kept++] = List[I];
            continue;
        }
        NVME_COUNT(Controller->Info.MissedInterrupts, 1);
        if (!__atomic_exchange_n(&Controller->MissedInterruptLogged, TRUE, __ATOMIC_RELAXED)) {
            WARNING("[NVMeDeadline] %s: a completion on queue %u was found by polling after its deadline: "
                    "interrupt missed (logged once)", Controller->Info.Name, List[I].Queue->Id);
        }
    }
    for (U32 I = 0; I < Count; I++) {
        if (I == 0 || List[I].Queue != List[I - 1].Queue) NVMeQueueReap(List[I].Queue);
    }
    return Kept;
}

BOOL NVMeDeadlinePending(const NVME_EXPIRED* Entry, NVME_TRACKER* Copy) {
    NVME_QUEUE* Queue = Entry->Queue;
    U64 State = PlatformLockAcquire(Queue->Lock);
    NVME_TRACKER* Tracker = &Queue->Trackers[Entry->Index];
    BOOL Pending = Tracker->State == NVME_TRACKER_IN_FLIGHT && Tracker->Cid == Entry->Cid;
    if (Pending) *Copy = *Tracker;
    PlatformLockRelease(Queue->Lock, State);
    return Pending;
}

BOOL NVMeDeadlineAbortSent(const NVME_EXPIRED* Entry) {
    NVME_QUEUE* Queue = Entry->Queue;
    U64 State = PlatformLockAcquire(Queue->Lock);
    NVME_TRACKER* Tracker = &Queue->Trackers[Entry->Index];
    BOOL Pending = Tracker->State == NVME_TRACKER_IN_FLIGHT && Tracker->Cid == Entry->Cid;
    if (Pending) {
        Tracker->Flags |= NVME_TRACKER_ABORT_SENT;
        NVMeDeadlineStart(Tracker);  // a fresh deadline while the Abort works
    }
    PlatformLockRelease(Queue->Lock, State);
    return Pending;
}

#endif  // NVME_WITH_PLATFORM
