/*
 * NVMe-Recovery.c - the controller's watchdog: command deadlines, the
 * timeout ladder, retries, health checks, controller reset and failure, and
 * the clean shutdown at poweroff.
 *
 * One thread per controller ("nvme0-watch"), started when bring-up is done,
 * supervises every command: it wakes every second (NVME_HEALTH_PERIOD_MS),
 * when a retry is due, when an asynchronous event arrived, or when a
 * completion looked wrong, and each pass runs under ResetMutex:
 *   1. a reset someone asked for;
 *   2. asynchronous events (NVMe-Health.c: read the log page, log, re-arm);
 *   3. retries whose delay passed (posted again, new CID generation);
 *   4. the health check: CSTS all ones, CFS, or RDY gone: reset; then the
 *      deadlines (I/O nvme.io_timeout, default 30 s; admin nvme.admin_timeout,
 *      60 s; AERs have none), counted in whole seconds of watchdog time.
 * The ladder for a command past its deadline (Linux's nvme_timeout order):
 * CSTS is fatal -> reset; poll its CQ -> completed: the interrupt was missed
 * (counted, logged once per controller); an I/O command not yet aborted ->
 * Abort (admin 08h; at most ACL + 1 per pass): "aborted" lets the command
 * complete "Command Abort Requested" and go round again, "not aborted" (QEMU
 * always), a failed or timed-out Abort -> reset; an admin command, or one
 * aborted before -> reset.
 *
 * Reset (ResetLocked): every queue is suspended (commands submitted now are
 * held, no doorbell is written), what the controller posted is reaped, EN is
 * cleared and RDY=0 awaited (CAP.TO), reaped again, then every command still
 * in flight is held for resubmission (at most NVME_MAX_RESUBMITS times each,
 * after which it fails with KSTATUS_TIMEOUT); AERs, Aborts and abandoned
 * commands are dropped. The rings restart in the same memory (nothing is
 * allocated or freed, interrupt vectors stay), the bring-up steps run again
 * (AQA/ASQ/ACQ, CC, EN, RDY, Number of Queues, Create I/O CQ/SQ) and each
 * queue, once live, posts its held commands; AERs are re-armed. A reset that
 * fails is tried again; after NVME_RESET_ATTEMPTS the controller is failed:
 * EN and bus mastering off, every command (in flight, held, retrying)
 * completes with KSTATUS_IO_ERROR, the disks fail every request, and the
 * watchdog ends.
 *
 * Callers never sleep forever: supervised commands end by completion, retry
 * limit, resubmission limit or failure; the commands the watchdog issues
 * itself (aborts, event logs, reset steps) are timed by the watchdog's own
 * wait (NVMeAdminCommandTimed).
 *
 * Shutdown (poweroff/reboot hook): state SHUTDOWN (new requests fail), I/O in
 * flight given up to 5 s, Flush of every exposed namespace when VWC says a
 * volatile cache exists, Delete I/O SQs then CQs, CC.SHN=01b and wait for
 * CSTS.SHST=10b bounded by RTD3E clamped to 5..60 s; a shutdown that never
 * completes is logged and given up on.
 */

#include "storage/nvme/NVMe-Internal.h"

#include "core/Log.h"
#include "utils/Format.h"
#include "utils/String.h"

#ifdef NVME_WITH_PLATFORM

#define EXPIRED_MAX 16
#define NVME_RESET_REQUESTED "requested"  // NVMeResetController: logged as INFO, the others as WARNING
#define SHUTDOWN_DRAIN_MS 5000
#define NVME_DELETE_TIMEOUT_MS 5000  // a reset's queue deletions: short, disabling follows anyway

typedef struct tag_EXPIRED {
    NVME_QUEUE* Queue;
    U16 Index;
    U16 Cid;
} EXPIRED;

/** Every allocated queue: the admin queue first. */
static U32 QueueList(NVME_CONTROLLER* Controller, NVME_QUEUE** Queues) {
    U32 Count = 0;
    if (Controller->Admin.Allocated) Queues[Count++] = &Controller->Admin;
    for (U32 I = 0; I < NVME_MAX_IO_QUEUES; I++) {
        if (Controller->Io[I].Allocated) Queues[Count++] = &Controller->Io[I];
    }
    return Count;
}

void NVMeRecoveryKick(NVME_CONTROLLER* Controller) {
    if (Controller->WatchEvent) PlatformEventSignal(Controller->WatchEvent);
}

void NVMeRecoveryRequestReset(NVME_CONTROLLER* Controller, LPCSTR Reason) {
    StringCopy(Controller->Info.LastResetReason, Reason, sizeof(Controller->Info.LastResetReason));
    __atomic_store_n(&Controller->ResetRequested, 1, __ATOMIC_RELEASE);
    NVMeRecoveryKick(Controller);
}

/************************************************************************/
// Failure

void NVMeRecoveryFail(NVME_CONTROLLER* Controller, LPCSTR Reason) {
    if (Controller->Info.State == NVME_STATE_FAILED) return;
    Controller->Info.State = NVME_STATE_FAILED;
    StringCopy(Controller->Info.StateReason, Reason, sizeof(Controller->Info.StateReason));
    ERROR("[NVMeRecovery] %s: controller failed: %s; its disks fail every request from now on",
          Controller->Info.Name, Reason);
    // Whatever state it is in, it must not touch memory any more: EN off if it still answers, then no DMA.
    U32 Cc = NVMeRead32(Controller, NVME_REG_CC);
    if (Cc != MAX_U32 && (Cc & NVME_CC_ENABLE)) NVMeWrite32(Controller, NVME_REG_CC, Cc & ~NVME_CC_ENABLE);
    PCISetCommandBits(Controller->Device, 0, PCI_COMMAND_BUS_MASTER);
    NVME_QUEUE* Queues[1 + NVME_MAX_IO_QUEUES];
    U32 Count = QueueList(Controller, Queues);
    for (U32 I = 0; I < Count; I++) {
        NVMeQueueSetMode(Queues[I], NVME_QUEUE_DEAD);
        NVMeQueueCancel(Queues[I], FALSE, KSTATUS_IO_ERROR);
        PlatformEventSignal(Queues[I]->SlotEvent);  // submitters waiting for a slot see the failure
    }
}

/************************************************************************/
// Reset

static void RestartRings(NVME_QUEUE* Queue) {
    U64 State = PlatformLockAcquire(Queue->Lock);
    NVMeQueueRestartRings(Queue);
    PlatformLockRelease(Queue->Lock, State);
}

/**
 * INTx: a suspended queue's bottom half leaves the line masked (its entries wait for the reset's drain). Once
 * drained (CQ head doorbell written, the level down), unmask, so the reset's own admin commands interrupt.
 */
static void UnmaskIntx(NVME_CONTROLLER* Controller) {
    if (Controller->InterruptsActive && Controller->Interrupts.Mode == PCI_INTERRUPT_INTX) {
        NVMeWrite32(Controller, NVME_REG_INTMC, 1);
    }
}

/** TRUE when the controller still answers and runs: worth asking it to delete its queues. */
static BOOL ControllerAlive(NVME_CONTROLLER* Controller) {
    U32 Csts = NVMeRead32(Controller, NVME_REG_CSTS);
    return Csts != MAX_U32 && (Csts & NVME_CSTS_RDY) && !(Csts & NVME_CSTS_CFS);
}

/**
 * Like Linux's nvme_dev_disable on a live controller: delete the I/O SQs (the controller ends what they hold,
 * "aborted due to SQ deletion", which the drain keeps in flight for resubmission), then the CQs, before EN
 * falls, so no command is in the controller's hands when it resets (QEMU 7.2 can crash when EN falls under
 * outstanding I/O). Each deletion is bounded; one that fails ends the attempt here: disabling does the rest.
 */
static void DeleteIoQueues(NVME_CONTROLLER* Controller) {
    if (!ControllerAlive(Controller)) return;
    U32 TimeoutMs = MIN(Controller->AdminTimeoutMs, (U32)NVME_DELETE_TIMEOUT_MS);
    for (U32 I = 0; I < Controller->IoCount; I++) {
        if (NVMeAdminDeleteQueue(Controller, &Controller->Io[I], FALSE, TimeoutMs) != KSTATUS_SUCCESS) return;
    }
    for (U32 I = 0; I < Controller->IoCount; I++) NVMeQueueDrain(&Controller->Io[I], TRUE);
    UnmaskIntx(Controller);
    for (U32 I = 0; I < Controller->IoCount; I++) {
        if (NVMeAdminDeleteQueue(Controller, &Controller->Io[I], TRUE, TimeoutMs) != KSTATUS_SUCCESS) return;
    }
}

/** One try: quiesce and disable, hold what was in flight, re-run bring-up, post the held commands. */
static KSTATUS ResetAttempt(NVME_CONTROLLER* Controller, BOOL* Gone) {
    NVME_CONTROLLER_INFO* Info = &Controller->Info;
    NVME_QUEUE* Queues[1 + NVME_MAX_IO_QUEUES];
    U32 Count = QueueList(Controller, Queues);
    // Only the reset's own admin commands go out from here; I/O is held.
    NVMeQueueSetMode(&Controller->Admin, NVME_QUEUE_RECOVERING);
    for (U32 I = 1; I < Count; I++) NVMeQueueSetMode(Queues[I], NVME_QUEUE_SUSPENDED);
    BOOL Answers = NVMeRead32(Controller, NVME_REG_CSTS) != MAX_U32;
    for (U32 I = 1; I < Count; I++) NVMeQueueDrain(Queues[I], Answers);  // completions already posted are real
    if (Answers) UnmaskIntx(Controller);
    DeleteIoQueues(Controller);
    NVMeQueueSetMode(&Controller->Admin, NVME_QUEUE_SUSPENDED);
    NVMeQueueDrain(&Controller->Admin, Answers);
    KSTATUS Status = NVMeControllerDisable(Controller);
    if (Status != KSTATUS_SUCCESS) {
        *Gone = NVMeRead32(Controller, NVME_REG_CSTS) == MAX_U32;
        return Status;
    }
    U32 Held = 0;
    for (U32 I = 0; I < Count; I++) NVMeQueueDrain(Queues[I], FALSE);  // posted before EN fell; the CQs are gone
    for (U32 I = 0; I < Count; I++) Held += NVMeQueueCancel(Queues[I], TRUE, KSTATUS_TIMEOUT);
    for (U32 I = 0; I < Count; I++) {
        RestartRings(Queues[I]);
        if (Queues[I]->Id != 0) Queues[I]->Created = FALSE;
    }
    Status = NVMeControllerEnable(Controller);
    if (Status != KSTATUS_SUCCESS) {
        *Gone = NVMeRead32(Controller, NVME_REG_CSTS) == MAX_U32;
        return Status;
    }
    UnmaskIntx(Controller);  // a mask the bottom half left set must not silence the rebuilt queues
    // Only the reset's own commands go out until it is over; the others stay held (and dropped AERs fail now).
    NVMeQueueSetMode(&Controller->Admin, NVME_QUEUE_RECOVERING);

    U32 Granted = 0;
    Status = NVMeAdminSetQueueCount(Controller, Controller->WantedIoQueues, &Granted);
    if (Status != KSTATUS_SUCCESS) {
        StringCopy(Info->StateReason, "Number of Queues failed after the reset", sizeof(Info->StateReason));
        return Status;
    }
    for (U32 I = 0; I < Controller->IoCount; I++) {
        NVME_QUEUE* Queue = &Controller->Io[I];
        if (I >= Granted) {
            // Fewer queues than before: what was held on the others fails.
            NVMeQueueSetMode(Queue, NVME_QUEUE_DEAD);
            NVMeQueueCancel(Queue, FALSE, KSTATUS_IO_ERROR);
            continue;
        }
        Status = NVMeAdminCreateQueuePair(Controller, Queue, !Info->Polling);
        if (Status != KSTATUS_SUCCESS) {
            StringPrintFormat(Info->StateReason, sizeof(Info->StateReason), "creating I/O queue %u failed", I + 1);
            return Status;
        }
    }
    if (Granted < Controller->IoCount) {
        WARNING("[NVMeRecovery] %s: only %u I/O queue(s) granted after the reset (%u before)", Info->Name, Granted,
                Controller->IoCount);
        Controller->IoCount = Granted;
        Info->IoQueueCount = Granted;
    }
    NVMeHealthStart(Controller);
    DEBUG("[NVMeRecovery] %s: %u command(s) held and posted again", Info->Name, Held);
    return KSTATUS_SUCCESS;
}

/** Resets the controller (ResetMutex held); fails it after NVME_RESET_ATTEMPTS failed attempts. */
static KSTATUS ResetLocked(NVME_CONTROLLER* Controller, LPCSTR Reason) {
    NVME_CONTROLLER_INFO* Info = &Controller->Info;
    if (Info->State != NVME_STATE_READY && Info->State != NVME_STATE_ADMIN_ONLY) return KSTATUS_IO_ERROR;
    Info->State = NVME_STATE_RESETTING;
    Info->Resets++;
    StringCopy(Info->LastResetReason, Reason, sizeof(Info->LastResetReason));
    if (StringCompare(Reason, NVME_RESET_REQUESTED) == 0) {
        INFO("[NVMeRecovery] %s: resetting the controller: %s", Info->Name, Reason);
    } else {
        WARNING("[NVMeRecovery] %s: resetting the controller: %s", Info->Name, Reason);
    }
    U64 Start = PlatformTimeNs();
    for (U32 Attempt = 1; Attempt <= NVME_RESET_ATTEMPTS; Attempt++) {
        BOOL Gone = FALSE;
        if (ResetAttempt(Controller, &Gone) == KSTATUS_SUCCESS) {
            Info->State = Controller->IoCount ? NVME_STATE_READY : NVME_STATE_ADMIN_ONLY;
            Info->StateReason[0] = 0;
            // Ready before the queues post what they held: a caller woken by its completion sees it so.
            NVMeQueueSetMode(&Controller->Admin, NVME_QUEUE_LIVE);
            for (U32 I = 0; I < Controller->IoCount; I++) NVMeQueueSetMode(&Controller->Io[I], NVME_QUEUE_LIVE);
            INFO("[NVMeRecovery] %s: reset done in %llu ms (attempt %u)", Info->Name,
                 (PlatformTimeNs() - Start) / 1000000, Attempt);
            return KSTATUS_SUCCESS;
        }
        Info->ResetFailures++;
        WARNING("[NVMeRecovery] %s: reset attempt %u failed: %s", Info->Name, Attempt, Info->StateReason);
        if (Gone) break;
    }
    char Why[NVME_REASON_LENGTH];
    StringPrintFormat(Why, sizeof(Why), "reset failed: %s", Info->StateReason);
    NVMeRecoveryFail(Controller, Why);
    return KSTATUS_IO_ERROR;
}

KSTATUS NVMeResetController(U32 ControllerIndex) {
    NVME_CONTROLLER* Controller = NVMeGetControllerInternal(ControllerIndex);
    if (Controller == NULL) return KSTATUS_NOT_FOUND;
    if (!Controller->WatchdogStarted) {
        return Controller->Info.State == NVME_STATE_PROBING ? KSTATUS_BUSY : KSTATUS_IO_ERROR;
    }
    PlatformMutexLock(Controller->ResetMutex);
    KSTATUS Status = ResetLocked(Controller, NVME_RESET_REQUESTED);
    PlatformMutexUnlock(Controller->ResetMutex);
    return Status;
}

/************************************************************************/
// Deadlines and the timeout ladder

static U32 QueueTimeoutTicks(NVME_CONTROLLER* Controller, NVME_QUEUE* Queue) {
    U32 Ms = Queue->Id == 0 ? Controller->AdminTimeoutMs : Controller->IoTimeoutMs;
    return (Ms + NVME_HEALTH_PERIOD_MS - 1) / NVME_HEALTH_PERIOD_MS;
}

static U32 FindExpired(NVME_CONTROLLER* Controller, EXPIRED* List) {
    NVME_QUEUE* Queues[1 + NVME_MAX_IO_QUEUES];
    U32 QueueCount = QueueList(Controller, Queues), Count = 0;
    U32 Tick = Controller->Tick;
    for (U32 Q = 0; Q < QueueCount && Count < EXPIRED_MAX; Q++) {
        NVME_QUEUE* Queue = Queues[Q];
        if (Queue->Stats.Outstanding <= Queue->Quiet) continue;
        U32 Limit = QueueTimeoutTicks(Controller, Queue);
        U64 State = PlatformLockAcquire(Queue->Lock);
        for (U16 I = 0; I < Queue->TrackerCount && Count < EXPIRED_MAX; I++) {
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

/** TRUE if the command is still in flight (and, if Mark, notes that an Abort names it and restarts its clock). */
static BOOL StillInFlight(NVME_CONTROLLER* Controller, const EXPIRED* Entry, BOOL Mark, NVME_TRACKER* Copy) {
    NVME_QUEUE* Queue = Entry->Queue;
    U64 State = PlatformLockAcquire(Queue->Lock);
    NVME_TRACKER* Tracker = &Queue->Trackers[Entry->Index];
    BOOL Live = Tracker->State == NVME_TRACKER_IN_FLIGHT && Tracker->Cid == Entry->Cid;
    if (Live) {
        if (Copy) *Copy = *Tracker;
        if (Mark) {
            Tracker->Flags |= NVME_TRACKER_ABORT_SENT;
            Tracker->SubmitTick = Controller->Tick;  // a fresh deadline while the Abort works
        }
    }
    PlatformLockRelease(Queue->Lock, State);
    return Live;
}

/** Sends an Abort for the command; TRUE when the controller says it aborted it. */
static BOOL AbortCommand(NVME_CONTROLLER* Controller, const EXPIRED* Entry) {
    if (!StillInFlight(Controller, Entry, TRUE, NULL)) return TRUE;  // ended meanwhile
    NVME_COMMAND Command;
    MemorySet(&Command, 0, sizeof(Command));
    Command.Opcode = NVME_ADMIN_ABORT;
    Command.Cdw10 = Entry->Queue->Id | ((U32)Entry->Cid << 16);  // SQID, CID
    U32 Dw0 = 0;
    U16 NvmeStatus = 0;
    Controller->Info.Aborts++;
    KSTATUS Status = NVMeAdminCommandTimed(Controller, &Command, TRUE, Controller->AdminTimeoutMs, &Dw0, &NvmeStatus);
    if (Status != KSTATUS_SUCCESS) {
        char Text[NVME_REASON_LENGTH];
        if (NvmeStatus) NVMeStatusFormat(NvmeStatus, Text, sizeof(Text));
        else StringCopy(Text, Status == KSTATUS_TIMEOUT ? "timed out" : "not sent", sizeof(Text));
        WARNING("[NVMeRecovery] %s: Abort of CID %x on queue %u failed: %s", Controller->Info.Name, Entry->Cid,
                Entry->Queue->Id, Text);
        return FALSE;
    }
    if (Dw0 & NVME_ABORT_DW0_NOT_ABORTED) {
        INFO("[NVMeRecovery] %s: the controller did not abort CID %x on queue %u", Controller->Info.Name, Entry->Cid,
             Entry->Queue->Id);
        return FALSE;
    }
    Controller->Info.AbortsSucceeded++;
    return TRUE;
}

static void CheckDeadlines(NVME_CONTROLLER* Controller) {
    NVME_CONTROLLER_INFO* Info = &Controller->Info;
    EXPIRED List[EXPIRED_MAX];
    U32 Count = FindExpired(Controller, List);
    if (Count == 0) return;
    // Poll first: a completion that is there but was never signalled is a missed interrupt (counted before it is
    // reaped, so its caller already sees the count).
    BOOL Missed[EXPIRED_MAX];
    for (U32 I = 0; I < Count; I++) {
        Missed[I] = NVMeQueueCompletionPosted(List[I].Queue, List[I].Cid);
        if (!Missed[I]) continue;
        Info->MissedInterrupts++;
        if (!Controller->MissedInterruptLogged) {
            Controller->MissedInterruptLogged = TRUE;
            WARNING("[NVMeRecovery] %s: a completion on queue %u was found by polling after its deadline: "
                    "interrupt missed (logged once)", Info->Name, List[I].Queue->Id);
        }
    }
    for (U32 I = 0; I < Count; I++) {
        if (I == 0 || List[I].Queue != List[I - 1].Queue) NVMeQueueProcessCompletions(List[I].Queue, TRUE);
    }
    char Why[NVME_REASON_LENGTH];
    BOOL Reset = FALSE;
    U32 AbortsLeft = (U32)Info->Identify.Acl + 1;  // ACL is 0-based
    for (U32 I = 0; I < Count && !Reset; I++) {
        NVME_TRACKER Copy;
        BOOL Admin = List[I].Queue->Id == 0;
        if (Missed[I] || !StillInFlight(Controller, &List[I], FALSE, &Copy)) continue;
        Info->Timeouts++;
        LOG_RATE_LIMITED(LOG_LEVEL_WARNING, 1000, 5,
                         "[NVMeRecovery] %s: %s NSID %u LBA %llu x%u (CID %x, queue %u) timed out after %u ms%s",
                         Info->Name, NVMeOpcodeName(Admin, Copy.Opcode), Copy.Nsid, Copy.Lba, Copy.Blocks,
                         List[I].Cid, List[I].Queue->Id, Admin ? Controller->AdminTimeoutMs : Controller->IoTimeoutMs,
                         Copy.Flags & NVME_TRACKER_ABORT_SENT ? " again, after an Abort" : "");
        if (Admin || (Copy.Flags & NVME_TRACKER_ABORT_SENT) || AbortsLeft == 0) {
            StringPrintFormat(Why, sizeof(Why), "%s command timed out (CID %x, queue %u)", Admin ? "admin" : "I/O",
                              List[I].Cid, List[I].Queue->Id);
            Reset = TRUE;
            break;
        }
        AbortsLeft--;
        if (!AbortCommand(Controller, &List[I])) {
            StringPrintFormat(Why, sizeof(Why), "I/O command timed out and was not aborted (CID %x, queue %u)",
                              List[I].Cid, List[I].Queue->Id);
            Reset = TRUE;
        }
    }
    if (Reset) ResetLocked(Controller, Why);
}

static void HealthCheck(NVME_CONTROLLER* Controller) {
    Controller->Info.HealthChecks++;
    U32 Csts = NVMeRead32(Controller, NVME_REG_CSTS);
    if (Csts == MAX_U32) {
        ResetLocked(Controller, "device stopped answering (CSTS all ones)");
    } else if (Csts & NVME_CSTS_CFS) {
        ResetLocked(Controller, "controller fatal status (CSTS.CFS)");
    } else if (!(Csts & NVME_CSTS_RDY)) {
        ResetLocked(Controller, "controller no longer ready (CSTS.RDY 0)");
    } else {
        CheckDeadlines(Controller);
    }
}

/** Posts every retry that is due; returns the earliest time one still waits for (0: none). */
static U64 RetryAll(NVME_CONTROLLER* Controller) {
    NVME_QUEUE* Queues[1 + NVME_MAX_IO_QUEUES];
    U32 Count = QueueList(Controller, Queues);
    U64 Now = PlatformTimeNs(), Next = 0;
    for (U32 I = 0; I < Count; I++) {
        U64 When = NVMeQueueRetryDue(Queues[I], Now);
        if (When && (Next == 0 || When < Next)) Next = When;
    }
    return Next;
}

static void WatchdogThread(LPVOID Context) {
    NVME_CONTROLLER* Controller = (NVME_CONTROLLER*)Context;
    U64 Base = PlatformTimeNs();
    U64 NextHealth = Base + NVME_HEALTH_PERIOD_MS * 1000000ULL, NextRetry = 0;
    for (;;) {
        U64 Now = PlatformTimeNs();
        U64 Until = (NextRetry && NextRetry < NextHealth) ? NextRetry : NextHealth;
        if (Until > Now) PlatformEventWait(Controller->WatchEvent, (U32)((Until - Now + 999999) / 1000000));

        PlatformMutexLock(Controller->ResetMutex);
        U32 State = Controller->Info.State;
        if (State == NVME_STATE_FAILED || State == NVME_STATE_SHUTDOWN) {
            // Terminal: nothing will be submitted again, and the device is not touched any more.
            PlatformMutexUnlock(Controller->ResetMutex);
            DEBUG("[NVMeRecovery] %s: watchdog ends (%s)", Controller->Info.Name,
                  State == NVME_STATE_FAILED ? "failed" : "shut down");
            return;
        }
        NVMeHealthProcessEvents(Controller);
        if (__atomic_exchange_n(&Controller->ResetRequested, 0, __ATOMIC_ACQ_REL)) {
            char Reason[NVME_REASON_LENGTH];
            StringCopy(Reason, Controller->Info.LastResetReason, sizeof(Reason));
            ResetLocked(Controller, Reason);
        }
        Now = PlatformTimeNs();
        if (__atomic_exchange_n(&Controller->RetryPending, 0, __ATOMIC_ACQ_REL) || (NextRetry && Now >= NextRetry)) {
            NextRetry = RetryAll(Controller);
        }
        BOOL Periodic = Now >= NextHealth;
        if (Periodic) {
            __atomic_store_n(&Controller->Tick, (U32)((Now - Base) / (NVME_HEALTH_PERIOD_MS * 1000000ULL)),
                             __ATOMIC_RELAXED);
            NextHealth = Now + NVME_HEALTH_PERIOD_MS * 1000000ULL;
        }
        if (__atomic_exchange_n(&Controller->CheckNow, 0, __ATOMIC_ACQ_REL) || Periodic) HealthCheck(Controller);
        PlatformMutexUnlock(Controller->ResetMutex);
    }
}

void NVMeRecoveryStart(NVME_CONTROLLER* Controller) {
    char Name[24];
    StringCopy(Name, Controller->Info.Name, sizeof(Name));
    StringAppend(Name, "-watch", sizeof(Name));
    Controller->WatchdogStarted = TRUE;  // before the thread: commands from now on are supervised
    Controller->Info.Supervised = TRUE;
    if (!PlatformThreadCreate(Name, WatchdogThread, Controller)) {
        Controller->WatchdogStarted = FALSE;
        Controller->Info.Supervised = FALSE;
        WARNING("[NVMeRecovery] %s: no watchdog thread: commands time out on their own, no reset", Name);
    }
}

/************************************************************************/
// Shutdown

/** A Flush of one namespace, timed here (the watchdog waits for ResetMutex, which shutdown holds). */
static KSTATUS FlushTimed(NVME_NAMESPACE* Namespace) {
    NVME_CONTROLLER* Controller = Namespace->Controller;
    NVME_QUEUE* Queue = NVMeIoPickQueue(Controller);
    NVME_REQUEST Request;
    NVMeRequestInit(Controller, &Request);
    Request.SelfTimed = TRUE;
    KSTATUS Status = KSTATUS_IO_ERROR;
    NVME_TRACKER* Tracker = NVMeQueueGetTracker(Queue, TRUE);
    if (Tracker) {
        NVME_COMMAND Command;
        MemorySet(&Command, 0, sizeof(Command));
        Command.Opcode = NVME_IO_FLUSH;
        Command.Nsid = Namespace->Nsid;
        Tracker->Lba = 0;
        Tracker->Blocks = 0;
        Status = NVMeRequestSubmitChild(&Request, Tracker, &Command);
    }
    KSTATUS Result = NVMeRequestWait(Queue, &Request, Controller->IoTimeoutMs);
    NVMeRequestRelease(Controller, &Request);
    return Status != KSTATUS_SUCCESS ? Status : Result;
}

/** Lets I/O in flight end (bounded); retries keep going meanwhile, since the watchdog cannot run them. */
static void DrainIo(NVME_CONTROLLER* Controller) {
    for (U32 Waited = 0; Waited < SHUTDOWN_DRAIN_MS; Waited += 10) {
        U32 Busy = 0;
        RetryAll(Controller);
        for (U32 I = 0; I < Controller->IoCount; I++) {
            NVME_QUEUE* Queue = &Controller->Io[I];
            Busy += Queue->Stats.Outstanding + Queue->Held + Queue->Retrying;
        }
        if (Busy == 0) return;
        PlatformSleepMs(10);
    }
    WARNING("[NVMeShutdown] %s: I/O still in flight after %u ms; it is aborted by the queue deletion",
            Controller->Info.Name, SHUTDOWN_DRAIN_MS);
}

void NVMeRecoveryShutdown(BOOL Reboot, LPVOID Context) {
    NVME_CONTROLLER* Controller = (NVME_CONTROLLER*)Context;
    NVME_CONTROLLER_INFO* Info = &Controller->Info;
    UNUSED(Reboot);
    PlatformMutexLock(Controller->ResetMutex);
    if (Info->State != NVME_STATE_READY && Info->State != NVME_STATE_ADMIN_ONLY) {
        PlatformMutexUnlock(Controller->ResetMutex);
        return;
    }
    U64 Start = PlatformTimeNs();
    Info->State = NVME_STATE_SHUTDOWN;  // new requests fail from here on; the watchdog ends at its next pass
    DrainIo(Controller);
    U32 Flushed = 0;
    if ((Info->Identify.Vwc & NVME_VWC_PRESENT) && Controller->IoCount) {
        for (U32 I = 0; I < Controller->NamespaceCount; I++) {
            if (!Controller->Namespaces[I].Exposed) continue;
            if (FlushTimed(&Controller->Namespaces[I]) == KSTATUS_SUCCESS) Flushed++;
            else WARNING("[NVMeShutdown] %s: flush of namespace %u failed", Info->Name, Controller->Namespaces[I].Nsid);
        }
    }
    // The I/O queues go, SQs before CQs (a CQ may be deleted only once no SQ uses it).
    U32 TimeoutMs = Controller->AdminTimeoutMs;
    for (U32 I = 0; I < Controller->IoCount; I++) {
        NVMeAdminDeleteQueue(Controller, &Controller->Io[I], FALSE, TimeoutMs);
    }
    for (U32 I = 0; I < Controller->IoCount; I++) {
        NVME_QUEUE* Queue = &Controller->Io[I];
        NVMeQueueProcessCompletions(Queue, FALSE);  // commands aborted by the SQ deletion fail to their callers
        NVMeQueueSetMode(Queue, NVME_QUEUE_DEAD);
        NVMeQueueCancel(Queue, FALSE, KSTATUS_IO_ERROR);
        NVMeAdminDeleteQueue(Controller, Queue, TRUE, TimeoutMs);
    }
    NVMeQueueSetMode(&Controller->Admin, NVME_QUEUE_SUSPENDED);  // no doorbell once SHN is set

    // CC.SHN normal, then SHST complete; the wait is RTD3E clamped to 5..60 s (Linux's rule).
    U32 LimitMs = Info->Identify.Rtd3e / 1000;
    LimitMs = MAX((U32)NVME_SHUTDOWN_MIN_MS, MIN(LimitMs, (U32)NVME_SHUTDOWN_MAX_MS));
    U32 Cc = NVMeRead32(Controller, NVME_REG_CC);
    NVMeWrite32(Controller, NVME_REG_CC, (Cc & ~NVME_CC_SHN_MASK) | NVME_CC_SHN_NORMAL);
    U64 ShnStart = PlatformTimeNs();
    U32 Csts = 0;
    for (;;) {
        Csts = NVMeRead32(Controller, NVME_REG_CSTS);
        if (Csts == MAX_U32 || (Csts & NVME_CSTS_SHST_MASK) == NVME_CSTS_SHST_COMPLETE) break;
        if (PlatformTimeNs() - ShnStart >= (U64)LimitMs * 1000000ULL) break;
        PlatformSleepMs(10);
    }
    NVMeQueueSetMode(&Controller->Admin, NVME_QUEUE_DEAD);
    NVMeQueueCancel(&Controller->Admin, FALSE, KSTATUS_IO_ERROR);  // the AERs
    Info->ShutdownMs = (U32)((PlatformTimeNs() - Start) / 1000000);
    if (Csts != MAX_U32 && (Csts & NVME_CSTS_SHST_MASK) == NVME_CSTS_SHST_COMPLETE) {
        Info->ShutdownComplete = TRUE;
        INFO("[NVMeShutdown] %s: shut down in %u ms (%u namespace(s) flushed, %u I/O queue(s) deleted)", Info->Name,
             Info->ShutdownMs, Flushed, Controller->IoCount);
    } else {
        WARNING("[NVMeShutdown] %s: shutdown did not complete within %u ms (CSTS %x); giving up", Info->Name,
                LimitMs, Csts);
    }
    PlatformMutexUnlock(Controller->ResetMutex);
    NVMeRecoveryKick(Controller);  // the watchdog sees SHUTDOWN and ends
}

#endif  // NVME_WITH_PLATFORM
