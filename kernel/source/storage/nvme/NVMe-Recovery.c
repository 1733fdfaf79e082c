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
 *      commands past their deadline (NVMe-Deadline.c owns deadlines and
 *      finds the missed interrupts among them).
 * The ladder for a command past its deadline (Linux's nvme_timeout order):
 * CSTS is fatal -> reset; its completion is in the CQ: the interrupt was
 * missed (NVMe-Deadline.c reaps it); an I/O command not yet aborted ->
 * Abort (admin 08h; at most ACL + 1 per pass): "aborted" lets the command
 * complete "Command Abort Requested" and go round again, "not aborted" (QEMU
 * always), a failed or timed-out Abort -> reset; an admin command, or one
 * aborted before -> reset.
 *
 * Reset (ResetLocked): every queue is suspended (commands submitted now are
 * held, no doorbell is written), what the controller posted is drained, EN
 * is cleared and RDY=0 awaited (CAP.TO), drained again, then every command
 * still in flight is held for resubmission (at most NVME_MAX_RESUBMITS times
 * each, after which it fails with KSTATUS_TIMEOUT); AERs, Aborts and
 * abandoned commands are dropped. The rings restart in the same memory
 * (nothing is allocated or freed, interrupt vectors stay), the bring-up
 * steps run again (AQA/ASQ/ACQ, CC, EN, RDY, Number of Queues, Create I/O
 * CQ/SQ; fewer queues granted than before: the extra ones go DEAD at once,
 * failing what they held, and leave the queue list) and each queue, once
 * live, posts its held commands; AERs are re-armed. A reset that
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
 * Shutdown and detach take the controller from whoever holds ResetMutex
 * (NVMe-Shutdown.c, NVMe-Core.c): every wait here ends at its next step
 * once they ask (NVMeStopAsked), and a reset they cut short is left to them.
 */

#include "storage/nvme/NVMe-Internal.h"

#include "core/Log.h"
#include "utils/Format.h"
#include "utils/String.h"

#ifdef NVME_WITH_PLATFORM

#define EXPIRED_MAX 16
#define NVME_RESET_REQUESTED "requested"  // NVMeResetController: logged as INFO, as is...
#define NVME_RESET_BUS "its bus was reset"  // ...NVMeResetDone's; the others (faults) as WARNING
#define NVME_DELETE_TIMEOUT_MS 5000  // a reset's queue deletions: short, disabling follows anyway

void NVMeRecoveryKick(NVME_CONTROLLER* Controller) {
    if (Controller->WatchEvent) PlatformEventSignal(Controller->WatchEvent);
}

void NVMeRecoveryRequestReset(NVME_CONTROLLER* Controller, LPCSTR Reason) {
    NVMeViewSetText(Controller, Controller->ResetReason, sizeof(Controller->ResetReason), Reason);
    __atomic_store_n(&Controller->ResetRequested, 1, __ATOMIC_RELEASE);
    NVMeRecoveryKick(Controller);
}

/************************************************************************/
// Failure

void NVMeRecoveryFail(NVME_CONTROLLER* Controller, LPCSTR Reason) {
    if (Controller->Info.State == NVME_STATE_FAILED) return;
    if (!NVMeControllerSetState(Controller, NVME_STATE_FAILED, Reason)) return;
    ERROR("[NVMeRecovery] %s: controller failed: %s; its disks fail every request from now on",
          Controller->Info.Name, Reason);
    // Whatever state it is in, it must not touch memory any more: EN off if it still answers, then no DMA.
    U32 Cc = NVMeRead32(Controller, NVME_REG_CC);
    if (Cc != MAX_U32 && (Cc & NVME_CC_ENABLE)) NVMeWrite32(Controller, NVME_REG_CC, Cc & ~NVME_CC_ENABLE);
    PCISetCommandBits(Controller->Device, 0, PCI_COMMAND_BUS_MASTER);
    NVME_QUEUE* Queues[1 + NVME_MAX_IO_QUEUES];
    U32 Count = NVMeControllerQueues(Controller, Queues);
    for (U32 I = 0; I < Count; I++) NVMeQueueSetMode(Queues[I], NVME_QUEUE_DEAD);  // everything held fails
}

/************************************************************************/
// Reset

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
    for (U32 I = 0; I < Controller->IoCount; I++) NVMeQueueDrain(&Controller->Io[I]);
    UnmaskIntx(Controller);
    for (U32 I = 0; I < Controller->IoCount; I++) {
        if (NVMeAdminDeleteQueue(Controller, &Controller->Io[I], TRUE, TimeoutMs) != KSTATUS_SUCCESS) return;
    }
}

/** Fewer queues granted than before: the extra ones die (what they held fails) and leave the queue list. */
static void DropExtraQueues(NVME_CONTROLLER* Controller, U32 Granted) {
    if (Granted >= Controller->IoCount) return;
    WARNING("[NVMeRecovery] %s: only %u I/O queue(s) granted after the reset (%u before)", Controller->Info.Name,
            Granted, Controller->IoCount);
    for (U32 I = Granted; I < Controller->IoCount; I++) NVMeQueueSetMode(&Controller->Io[I], NVME_QUEUE_DEAD);
    Controller->IoCount = Granted;
    Controller->IrqQueueCount = MIN(Controller->IrqQueueCount, Granted);
    Controller->Info.PollQueueCount = Granted - Controller->IrqQueueCount;
    Controller->Info.IoQueueCount = Granted;
}

/** One try: quiesce and disable, hold what was in flight, re-run bring-up, post the held commands. */
static KSTATUS ResetAttempt(NVME_CONTROLLER* Controller, BOOL* Gone) {
    NVME_CONTROLLER_INFO* Info = &Controller->Info;
    NVME_QUEUE* Queues[1 + NVME_MAX_IO_QUEUES];
    U32 Count = NVMeControllerQueues(Controller, Queues);
    // Only the reset's own admin commands go out from here; I/O is held.
    NVMeQueueSetMode(&Controller->Admin, NVME_QUEUE_RECOVERING);
    for (U32 I = 1; I < Count; I++) NVMeQueueSetMode(Queues[I], NVME_QUEUE_SUSPENDED);
    BOOL Answers = NVMeRead32(Controller, NVME_REG_CSTS) != MAX_U32;
    if (!Answers) {
        for (U32 I = 0; I < Count; I++) Queues[I]->CqLive = FALSE;  // the device is gone: nothing of it exists
    }
    for (U32 I = 1; I < Count; I++) NVMeQueueDrain(Queues[I]);  // completions already posted are real
    if (Answers) UnmaskIntx(Controller);
    DeleteIoQueues(Controller);
    NVMeQueueSetMode(&Controller->Admin, NVME_QUEUE_SUSPENDED);
    NVMeQueueDrain(&Controller->Admin);
    KSTATUS Status = NVMeControllerDisable(Controller);
    if (Status != KSTATUS_SUCCESS) {
        *Gone = NVMeRead32(Controller, NVME_REG_CSTS) == MAX_U32;
        return Status;
    }
    NVMeDoorbellDetach(Controller);  // a disabled controller forgot the shadow doorbell buffers
    U32 Held = 0;
    for (U32 I = 0; I < Count; I++) NVMeQueueDrain(Queues[I]);  // posted before EN fell (no doorbell: CQs gone)
    for (U32 I = 0; I < Count; I++) Held += NVMeQueueHoldInFlight(Queues[I]);
    for (U32 I = 0; I < Count; I++) {
        NVMeQueueRestartRings(Queues[I]);
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

    // Shadow doorbells again, before the I/O queues are created (they start at 0 in zeroed slots).
    Status = NVMeDoorbellConfigure(Controller);
    if (Status != KSTATUS_SUCCESS) {
        NVME_VIEW_SET_TEXT(Controller, StateReason, "Doorbell Buffer Config timed out after the reset");
        return Status;
    }
    U32 Granted = 0;
    Status = NVMeAdminSetQueueCount(Controller, Controller->WantedIoQueues, &Granted);
    if (Status != KSTATUS_SUCCESS) {
        NVME_VIEW_SET_TEXT(Controller, StateReason, "Number of Queues failed after the reset");
        return Status;
    }
    Info->IoQueuesGranted = Granted;  // what this reset got, in the view (a smaller grant shows)
    DropExtraQueues(Controller, Granted);
    for (U32 I = 0; I < Controller->IoCount; I++) {
        // A queue that may linger on a failed creation is harmless here: the next attempt disables first.
        BOOL MayExist = FALSE;
        BOOL Interrupts = Controller->Io[I].Ops != &NVMeWaiterPolledQueueOps && !Info->Polling;
        Status = NVMeAdminCreateQueuePair(Controller, &Controller->Io[I], Interrupts, &MayExist);
        if (Status != KSTATUS_SUCCESS) {
            char Reason[NVME_REASON_LENGTH];
            StringPrintFormat(Reason, sizeof(Reason), "creating I/O queue %u failed", I + 1);
            NVME_VIEW_SET_TEXT(Controller, StateReason, Reason);
            return Status;
        }
    }
    // What the controller forgot with its reset: the APST table, the features callers set, the event config.
    NVMePowerApply(Controller);
    NVMeFeaturesReapply(Controller);
    NVMeHealthStart(Controller);
    DEBUG("[NVMeRecovery] %s: %u command(s) held and posted again", Info->Name, Held);
    return NVMeStopAsked(Controller) ? KSTATUS_IO_ERROR : KSTATUS_SUCCESS;
}

/** Resets the controller (ResetMutex held); fails it after NVME_RESET_ATTEMPTS failed attempts. */
static KSTATUS ResetLocked(NVME_CONTROLLER* Controller, LPCSTR Reason) {
    NVME_CONTROLLER_INFO* Info = &Controller->Info;
    if (Info->State != NVME_STATE_READY && Info->State != NVME_STATE_ADMIN_ONLY) return KSTATUS_IO_ERROR;
    if (!NVMeControllerSetState(Controller, NVME_STATE_RESETTING, NULL)) return KSTATUS_IO_ERROR;
    NVME_COUNT(Info->Resets, 1);
    NVME_VIEW_SET_TEXT(Controller, LastResetReason, Reason);
    if (StringCompare(Reason, NVME_RESET_REQUESTED) == 0 || StringCompare(Reason, NVME_RESET_BUS) == 0) {
        INFO("[NVMeRecovery] %s: resetting the controller: %s", Info->Name, Reason);
    } else {
        WARNING("[NVMeRecovery] %s: resetting the controller: %s", Info->Name, Reason);
    }
    U64 Start = PlatformTimeNs();
    for (U32 Attempt = 1; Attempt <= NVME_RESET_ATTEMPTS; Attempt++) {
        BOOL Gone = FALSE;
        // Shutdown or detach wants the controller: it takes over a reset cut short (state RESETTING).
        if (NVMeStopAsked(Controller)) return KSTATUS_IO_ERROR;
        if (ResetAttempt(Controller, &Gone) == KSTATUS_SUCCESS) {
            NVMeControllerSetState(Controller, Controller->IoCount ? NVME_STATE_READY : NVME_STATE_ADMIN_ONLY, "");
            // Ready before the queues post what they held: a caller woken by its completion sees it so.
            NVMeQueueSetMode(&Controller->Admin, NVME_QUEUE_LIVE);
            for (U32 I = 0; I < Controller->IoCount; I++) NVMeQueueSetMode(&Controller->Io[I], NVME_QUEUE_LIVE);
            INFO("[NVMeRecovery] %s: reset done in %llu ms (attempt %u)", Info->Name,
                 (PlatformTimeNs() - Start) / 1000000, Attempt);
            return KSTATUS_SUCCESS;
        }
        if (NVMeStopAsked(Controller)) return KSTATUS_IO_ERROR;
        NVME_COUNT(Info->ResetFailures, 1);
        WARNING("[NVMeRecovery] %s: reset attempt %u failed: %s", Info->Name, Attempt, Info->StateReason);
        if (Gone) break;
    }
    char Why[NVME_REASON_LENGTH];
    StringPrintFormat(Why, sizeof(Why), "reset failed: %s", Info->StateReason);
    NVMeRecoveryFail(Controller, Why);
    return KSTATUS_IO_ERROR;
}

/************************************************************************/
// A reset of the bus (`vmd reset`: a secondary bus reset below the controller)

static BOOL Running(const NVME_CONTROLLER* Controller) {
    return Controller->Info.State == NVME_STATE_READY || Controller->Info.State == NVME_STATE_ADMIN_ONLY;
}

void NVMeResetPrepare(PCI_DEVICE* Device) {
    NVME_CONTROLLER* Controller = (NVME_CONTROLLER*)Device->DriverData;
    if (Controller == NULL || Controller->ResetMutex == NULL) return;
    // After bring-up, a watchdog pass or a reset in progress: each is bounded.
    PlatformMutexLock(Controller->ResetMutex);
    Controller->BusResetHeld = TRUE;
    if (!Running(Controller)) return;
    // From here no doorbell is written, on any CPU: submissions are held, posted completions wait (both go on
    // after the reset in ResetDone). Without this, I/O on another CPU rings queues the reset deleted.
    NVME_QUEUE* Queues[1 + NVME_MAX_IO_QUEUES];
    U32 Count = NVMeControllerQueues(Controller, Queues);
    for (U32 I = 0; I < Count; I++) NVMeQueueSetMode(Queues[I], NVME_QUEUE_SUSPENDED);
    INFO("[NVMeRecovery] %s: quiet for a reset of its bus", Controller->Info.Name);
}

void NVMeResetDone(PCI_DEVICE* Device) {
    NVME_CONTROLLER* Controller = (NVME_CONTROLLER*)Device->DriverData;
    if (Controller == NULL || !Controller->BusResetHeld) return;
    Controller->BusResetHeld = FALSE;
    if (!Device->Removed && Running(Controller)) {
        // The bus reset took the queues with everything else: none of them exists in the controller, so the
        // reset's drains must not write their doorbells (the entries already posted are still real).
        NVME_QUEUE* Queues[1 + NVME_MAX_IO_QUEUES];
        U32 Count = NVMeControllerQueues(Controller, Queues);
        for (U32 I = 0; I < Count; I++) Queues[I]->CqLive = FALSE;
        ResetLocked(Controller, NVME_RESET_BUS);
    }
    PlatformMutexUnlock(Controller->ResetMutex);  // a removed controller: Detach follows and takes it from here
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
// The timeout ladder

/** Sends an Abort for the command; TRUE when the controller says it aborted it. */
static BOOL AbortCommand(NVME_CONTROLLER* Controller, const NVME_EXPIRED* Entry) {
    if (!NVMeDeadlineAbortSent(Entry)) return TRUE;  // ended meanwhile
    NVME_COMMAND Command = {0};
    Command.Opcode = NVME_ADMIN_ABORT;
    Command.Cdw10 = Entry->Queue->Id | ((U32)Entry->Cid << 16);  // SQID, CID
    U32 Dw0 = 0;
    U16 NvmeStatus = 0;
    NVME_COUNT(Controller->Info.Aborts, 1);
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
        // "Not aborted" also means "it completed meanwhile" (5.1: the command may finish before the Abort reaches
        // it): look in its CQ before calling it stuck, or a command that merely came late costs a reset.
        NVMeQueueReap(Entry->Queue);
        NVME_TRACKER Copy;
        if (!NVMeDeadlinePending(Entry, &Copy)) {
            INFO("[NVMeRecovery] %s: CID %x on queue %u completed while its Abort was under way", Controller->Info.Name,
                 Entry->Cid, Entry->Queue->Id);
            return TRUE;
        }
        INFO("[NVMeRecovery] %s: the controller did not abort CID %x on queue %u", Controller->Info.Name, Entry->Cid,
             Entry->Queue->Id);
        return FALSE;
    }
    NVME_COUNT(Controller->Info.AbortsSucceeded, 1);
    return TRUE;
}

/** The ladder for the commands past their deadline (missed interrupts already taken out): Abort, else reset. */
static void CheckDeadlines(NVME_CONTROLLER* Controller) {
    NVME_CONTROLLER_INFO* Info = &Controller->Info;
    NVME_EXPIRED List[EXPIRED_MAX];
    U32 Count = NVMeDeadlineExpired(Controller, List, EXPIRED_MAX);
    char Why[NVME_REASON_LENGTH];
    BOOL Reset = FALSE;
    U32 AbortsLeft = (U32)Info->Identify.Acl + 1;  // ACL is 0-based
    for (U32 I = 0; I < Count && !Reset; I++) {
        NVME_TRACKER Copy;
        BOOL Admin = List[I].Queue->Id == 0;
        if (!NVMeDeadlinePending(&List[I], &Copy)) continue;
        NVME_COUNT(Info->Timeouts, 1);
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
    NVME_COUNT(Controller->Info.HealthChecks, 1);
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
    U32 Count = NVMeControllerQueues(Controller, Queues);
    U64 Now = PlatformTimeNs(), Next = 0;
    for (U32 I = 0; I < Count; I++) {
        U64 When = NVMeQueueRetryDue(Queues[I], Now);
        if (When && (Next == 0 || When < Next)) Next = When;
    }
    return Next;
}

static void WatchdogThread(LPVOID Context) {
    NVME_CONTROLLER* Controller = (NVME_CONTROLLER*)Context;
    U64 NextHealth = PlatformTimeNs() + NVME_HEALTH_PERIOD_MS * 1000000ULL, NextRetry = 0;
    for (;;) {
        U64 Now = PlatformTimeNs();
        U64 Until = (NextRetry && NextRetry < NextHealth) ? NextRetry : NextHealth;
        if (Until > Now) PlatformEventWait(Controller->WatchEvent, (U32)((Until - Now + 999999) / 1000000));

        PlatformMutexLock(Controller->ResetMutex);
        U32 State = Controller->Info.State;
        if (State == NVME_STATE_FAILED || State == NVME_STATE_SHUTDOWN || State == NVME_STATE_REMOVED ||
            Controller->Stopping != NVME_STOP_NONE) {
            // Terminal (or about to be): nothing will be submitted again, and the device is not touched any more.
            PlatformMutexUnlock(Controller->ResetMutex);
            DEBUG("[NVMeRecovery] %s: watchdog ends (%s)", Controller->Info.Name, NVMeControllerStateName(State));
            NVMeThreadEnd(Controller);
            return;
        }
        NVMeHealthProcessEvents(Controller);
        if (__atomic_exchange_n(&Controller->ResetRequested, 0, __ATOMIC_ACQ_REL)) {
            char Reason[NVME_REASON_LENGTH];
            U64 Lock = PlatformLockAcquire(Controller->ViewLock);
            StringCopy(Reason, Controller->ResetReason, sizeof(Reason));
            PlatformLockRelease(Controller->ViewLock, Lock);
            ResetLocked(Controller, Reason);
        }
        Now = PlatformTimeNs();
        if (__atomic_exchange_n(&Controller->RetryPending, 0, __ATOMIC_ACQ_REL) || (NextRetry && Now >= NextRetry)) {
            NextRetry = RetryAll(Controller);
        }
        BOOL Periodic = Now >= NextHealth;
        if (Periodic) {
            NVMeDeadlineTick(Controller, Now);
            NextHealth = Now + NVME_HEALTH_PERIOD_MS * 1000000ULL;
        }
        if (__atomic_exchange_n(&Controller->CheckNow, 0, __ATOMIC_ACQ_REL) || Periodic) HealthCheck(Controller);
        PlatformMutexUnlock(Controller->ResetMutex);
    }
}

void NVMeRecoveryStart(NVME_CONTROLLER* Controller) {
    NVMeDeadlineTick(Controller, PlatformTimeNs());  // tick 0: the watchdog's clock starts now
    Controller->WatchdogStarted = TRUE;  // before the thread: commands from now on are supervised
    Controller->Info.Supervised = TRUE;
    if (!NVMeThreadStart(Controller, "-watch", WatchdogThread)) {
        Controller->WatchdogStarted = FALSE;
        Controller->Info.Supervised = FALSE;
        WARNING("[NVMeRecovery] %s: no watchdog thread: commands time out on their own, no reset",
                Controller->Info.Name);
    }
}

#endif  // NVME_WITH_PLATFORM
