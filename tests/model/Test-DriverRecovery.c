/*
 * Test-DriverRecovery.c - the NVMe driver's error handling against the
 * controller model: each fault in its own test, each checking the outcome
 * (data right, the error named to the caller, nothing hung, nothing leaked).
 *
 *   a lost completion: deadline, poll, Abort ("not aborted", QEMU's answer),
 *     reset, resubmission; Abort that aborts (no reset); Abort that fails;
 *     a command lost every time (fails with KSTATUS_TIMEOUT after three
 *     resubmissions, the controller stays usable); an admin command lost
 *   a missed interrupt: asynchronous (found at the deadline, logged once)
 *     and synchronous (the waiter's own poll)
 *   CSTS.CFS in the middle of I/O (inline, and with commands outstanding)
 *   error statuses: DNR clear (retried, succeeds), DNR clear every time
 *     (five retries, then the named error), DNR set (fails at once)
 *   completions out of order
 *   forced resets while threads run I/O; 50 resets leak nothing
 *   a reset that cannot bring the controller back (failed, disks fail)
 */
// SOURCES: $(NVME_DRIVER_SOURCES)

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "Test-DriverCommon.h"

#define HOUR_MS 3600000U

/************************************************************************/
// Lost completions

/** Writes 64 blocks at 100, loses the completion of the next read, and reads them back through the ladder. */
static void LoseOneRead(NVME_MODEL_ABORT_MODE AbortMode, DRIVER_TEST* T) {
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    Config.AbortMode = AbortMode;
    DriverStart(T, &Config);
    DRIVER_SNAPSHOT Before, After;
    DriverSnapshot(T, &Before);

    U64 Length = 64 * 512;
    U8* Out = DriverAlloc(Length);
    U8* In = DriverAlloc(Length);
    DriverFill(Out, Length, 7);
    assert_int_equal(NVMeWriteSync(T->Ns, 100, 64, Out), KSTATUS_SUCCESS);
    NVME_MODEL_FAULT Fault = DriverFault(NVME_FAULT_DROP_COMPLETION, 1, NM_IO_READ, 1);
    U32 Id = NVMeModelAddFault(T->Model, &Fault);
    U64 Start = HostClockNowNs();
    assert_int_equal(NVMeReadSync(T->Ns, 100, 64, In), KSTATUS_SUCCESS);
    U64 TookMs = (HostClockNowNs() - Start) / 1000000;
    assert_memory_equal(In, Out, Length);
    assert_int_equal(NVMeModelFaultHits(T->Model, Id), 1);
    // The deadline is 30 s, checked once a second.
    assert_true(TookMs >= 30000 && TookMs <= 33000);
    const NVME_CONTROLLER_INFO* Info = DriverInfo(T);
    assert_int_equal(Info->State, NVME_STATE_READY);
    assert_int_equal(Info->Timeouts, 1);
    assert_int_equal(Info->Aborts, 1);
    assert_int_equal(Info->MissedInterrupts, 0);
    assert_true(Info->Resubmits >= 1);
    DriverExpectIdle(T);
    DriverSnapshot(T, &After);
    DriverExpectNoLeak(&Before, &After);
    DriverWriteRead(T, 4000, 16, 99);  // and it keeps working
    DriverFree(Out, Length);
    DriverFree(In, Length);
}

static void test_lost_completion_abort_not_aborted_then_reset(void** State) {
    (void)State;
    DRIVER_TEST T;
    LoseOneRead(NVME_ABORT_NOT_ABORTED, &T);
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->AbortsSucceeded, 0);
    assert_int_equal(Info->Resets, 1);
    assert_int_equal(Info->ResetFailures, 0);
    NVME_MODEL_STATS Stats;
    NVMeModelGetStats(T.Model, &Stats);
    assert_int_equal(Stats.AbortsReceived, 1);
    assert_int_equal(Stats.Resets, 1);
    assert_true(HostLogContains("resetting the controller: I/O command timed out and was not aborted"));
    // The read completes (resubmitted) while the reset finishes its own bookkeeping: let it finish.
    DriverSettle(&T);
    for (U32 I = 0; I < 1000 && !HostLogContains("reset done"); I++) PlatformSleepMs(1);
    assert_true(HostLogContains("reset done"));
    DriverEnd(&T);
}

static void test_lost_completion_abort_succeeds(void** State) {
    (void)State;
    DRIVER_TEST T;
    LoseOneRead(NVME_ABORT_SUCCEEDS, &T);
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->AbortsSucceeded, 1);
    assert_int_equal(Info->Resets, 0);  // aborted, sent again: no reset needed
    NVME_MODEL_STATS Stats;
    NVMeModelGetStats(T.Model, &Stats);
    assert_int_equal(Stats.AbortsSucceeded, 1);
    DriverEnd(&T);
}

static void test_lost_completion_abort_fails(void** State) {
    (void)State;
    DRIVER_TEST T;
    LoseOneRead(NVME_ABORT_FAILS, &T);
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->Resets, 1);
    assert_true(HostLogContains("Abort of CID"));
    assert_true(HostLogContains("Abort Command Limit Exceeded"));
    DriverEnd(&T);
}

static void test_lost_every_time_fails_with_timeout(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    DriverStart(&T, &Config);
    DRIVER_SNAPSHOT Before, After;
    DriverSnapshot(&T, &Before);
    NVME_MODEL_FAULT Fault = DriverFault(NVME_FAULT_DROP_COMPLETION, 1, NM_IO_READ, 0);
    Fault.Match.LbaFirst = 5000;
    Fault.Match.LbaLast = 5000;
    U32 Id = NVMeModelAddFault(T.Model, &Fault);
    U8* In = DriverAlloc(512);
    U64 Start = HostClockNowNs();
    assert_int_equal(NVMeReadSync(T.Ns, 5000, 1, In), KSTATUS_TIMEOUT);
    U64 TookMs = (HostClockNowNs() - Start) / 1000000;
    // The first attempt and three resubmissions, each given 30 s.
    assert_int_equal(NVMeModelFaultHits(T.Model, Id), 1 + 3);
    assert_true(TookMs >= 4 * 30000 && TookMs < 4 * 34000);
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->State, NVME_STATE_READY);
    assert_int_equal(Info->Resets, 4);
    assert_int_equal(Info->Resubmits, 3);
    assert_int_equal(Info->FailedByDriver, 1);
    assert_true(HostLogContains("timed out (no more resubmissions)"));
    DriverExpectIdle(&T);
    DriverSnapshot(&T, &After);
    DriverExpectNoLeak(&Before, &After);
    NVMeModelClearFaults(T.Model);
    DriverWriteRead(&T, 5000, 8, 3);  // the same blocks work once the device behaves
    DriverFree(In, 512);
    DriverEnd(&T);
}

static void test_lost_admin_completion_resets(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    DriverStart(&T, &Config);
    NVME_MODEL_FAULT Fault = DriverFault(NVME_FAULT_DROP_COMPLETION, 0, NM_ADMIN_GET_FEATURES, 1);
    NVMeModelAddFault(T.Model, &Fault);
    U32 Value = 0;
    U64 Start = HostClockNowNs();
    assert_int_equal(NVMeGetFeature(T.Index, NVME_FEATURE_NUMBER_OF_QUEUES, 0, 0, &Value), KSTATUS_SUCCESS);
    U64 TookMs = (HostClockNowNs() - Start) / 1000000;
    assert_true(TookMs >= 60000 && TookMs <= 63000);  // the admin deadline; no Abort for admin commands
    assert_int_equal(Value, 0x003F003F);
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->Resets, 1);
    assert_int_equal(Info->Aborts, 0);
    assert_true(HostLogContains("admin command timed out"));
    DriverExpectIdle(&T);
    DriverEnd(&T);
}

/************************************************************************/
// Missed interrupts

static void test_missed_interrupt_async(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    DriverStart(&T, &Config);
    NVME_MODEL_FAULT Fault = DriverFault(NVME_FAULT_SKIP_INTERRUPT, 1, NVME_MODEL_ANY_OPCODE, 1);
    U32 Id = NVMeModelAddFault(T.Model, &Fault);
    U8* Buffer = DriverAlloc(4096);
    DRIVER_ASYNC Async;
    DriverAsyncInit(&Async, 1);
    U64 Start = HostClockNowNs();
    assert_int_equal(NVMeSubmitIO(T.Ns, NVME_IO_READ, 0, 8, Buffer, DriverAsyncCallback, &Async), KSTATUS_SUCCESS);
    assert_true(DriverAsyncWait(&Async, HOUR_MS));
    U64 TookMs = (HostClockNowNs() - Start) / 1000000;
    assert_int_equal(Async.Failed, 0);
    assert_int_equal(NVMeModelFaultHits(T.Model, Id), 1);
    assert_true(TookMs >= 30000 && TookMs <= 33000);  // found by the deadline's poll
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->MissedInterrupts, 1);
    assert_int_equal(Info->Timeouts, 0);
    assert_int_equal(Info->Resets, 0);
    assert_int_equal(Info->Aborts, 0);
    assert_true(HostLogContains("interrupt missed (logged once)"));
    DriverAsyncDestroy(&Async);
    DriverFree(Buffer, 4096);
    DriverEnd(&T);
}

static void test_missed_interrupt_sync(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    DriverStart(&T, &Config);
    NVME_MODEL_FAULT Fault = DriverFault(NVME_FAULT_SKIP_INTERRUPT, 1, NVME_MODEL_ANY_OPCODE, 1);
    NVMeModelAddFault(T.Model, &Fault);
    U64 Start = HostClockNowNs();
    DriverWriteRead(&T, 10, 8, 5);
    assert_true((HostClockNowNs() - Start) / 1000000 < 1000);  // the waiter's own 250 ms poll found it
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_true(Info->Queues[1].ReapedByWaiter >= 1);
    assert_int_equal(Info->Timeouts, 0);
    assert_int_equal(Info->Resets, 0);
    DriverEnd(&T);
}

/************************************************************************/
// Fatal status

static void test_fatal_status_inline(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    DriverStart(&T, &Config);
    DRIVER_SNAPSHOT Before, After;
    DriverSnapshot(&T, &Before);
    NVME_MODEL_CONTROLLER_FAULTS Faults;
    memset(&Faults, 0, sizeof(Faults));
    Faults.FatalAfterIoCommands = 5;
    NVMeModelSetControllerFaults(T.Model, &Faults);
    for (U32 I = 0; I < 8; I++) DriverWriteRead(&T, 64 * I, 32, 100 + I);
    // CFS after the fifth command: the sixth was never processed; the health check saw CFS within a second.
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->Resets, 1);
    assert_int_equal(Info->Timeouts, 0);
    assert_true(HostLogContains("resetting the controller: controller fatal status (CSTS.CFS)"));
    assert_true(DriverElapsedMs(&T) < 5000);
    // What was written is on the medium.
    U8* Out = DriverAlloc(32 * 512);
    U8* Stored = DriverAlloc(32 * 512);
    for (U32 I = 0; I < 8; I++) {
        DriverFill(Out, 32 * 512, 100 + I);
        DriverBackendRead(&T, 1, 64ULL * I * 512, Stored, 32 * 512);
        assert_memory_equal(Stored, Out, 32 * 512);
    }
    DriverFree(Out, 32 * 512);
    DriverFree(Stored, 32 * 512);
    DriverExpectIdle(&T);
    DriverSnapshot(&T, &After);
    DriverExpectNoLeak(&Before, &After);
    DriverEnd(&T);
}

static void test_fatal_status_with_commands_outstanding(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    Config.Mode = NVME_MODEL_THREAD;
    DriverStart(&T, &Config);
    enum { COUNT = 16, BLOCKS = 16 };
    U64 Length = (U64)COUNT * BLOCKS * 512;
    U8* Out = DriverAlloc(Length);
    U8* In = DriverAlloc(Length);
    DriverFill(Out, Length, 5);
    assert_int_equal(NVMeWriteSync(T.Ns, 8192, COUNT * BLOCKS, Out), KSTATUS_SUCCESS);
    // Every read is executed but its completion held back: all sixteen are outstanding when CFS comes.
    NVME_MODEL_FAULT Hold = DriverFault(NVME_FAULT_HOLD_COMPLETION, 1, NM_IO_READ, 0);
    Hold.HoldMs = 20000;
    Hold.Match.Count = COUNT;
    U32 Id = NVMeModelAddFault(T.Model, &Hold);
    memset(In, 0, Length);
    DRIVER_ASYNC Async;
    DriverAsyncInit(&Async, COUNT);
    for (U32 I = 0; I < COUNT; I++) {
        assert_int_equal(NVMeSubmitIO(T.Ns, NVME_IO_READ, 8192 + I * BLOCKS, BLOCKS, In + (U64)I * BLOCKS * 512,
                                      DriverAsyncCallback, &Async),
                         KSTATUS_SUCCESS);
    }
    for (U32 Wait = 0; Wait < 1000 && NVMeModelFaultHits(T.Model, Id) < COUNT; Wait++) PlatformSleepMs(1);
    assert_int_equal(NVMeModelFaultHits(T.Model, Id), COUNT);
    assert_int_equal(Async.Done, 0);
    memset(In, 0, Length);  // the held reads did move data: only a resubmission may complete them
    NVMeModelRaiseFatal(T.Model);
    U64 Start = HostClockNowNs();
    assert_true(DriverAsyncWait(&Async, HOUR_MS));
    assert_true((HostClockNowNs() - Start) / 1000000 < 3000);  // the health check, not the 30 s deadline
    assert_int_equal(Async.Failed, 0);
    assert_memory_equal(In, Out, Length);
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->Resets, 1);
    assert_int_equal(Info->Resubmits, COUNT);
    assert_int_equal(Info->Timeouts, 0);
    DriverAsyncDestroy(&Async);
    DriverFree(Out, Length);
    DriverFree(In, Length);
    DriverExpectIdle(&T);
    DriverEnd(&T);
}

/************************************************************************/
// Error statuses

static void test_retry_dnr_clear_succeeds(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    DriverStart(&T, &Config);
    NVME_MODEL_FAULT Fault = DriverFault(NVME_FAULT_ERROR_STATUS, 1, NM_IO_READ, 0);
    Fault.Status = NM_STATUS(0, NM_SC_INTERNAL_ERROR);  // DNR clear
    Fault.Match.Count = 2;
    U32 Id = NVMeModelAddFault(T.Model, &Fault);
    DriverWriteRead(&T, 300, 24, 11);
    assert_int_equal(NVMeModelFaultHits(T.Model, Id), 2);
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->Retries, 2);
    assert_int_equal(Info->Errors, 0);  // nothing reached the caller
    assert_int_equal(Info->Resets, 0);
    DriverExpectIdle(&T);
    DriverEnd(&T);
}

static void test_retry_exhausted_names_the_error(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    DriverStart(&T, &Config);
    NVME_MODEL_FAULT Fault = DriverFault(NVME_FAULT_ERROR_STATUS, 1, NM_IO_WRITE, 0);
    Fault.Status = NM_STATUS(0, 0x82);  // Namespace Not Ready, DNR clear: retryable, but for ever here
    U32 Id = NVMeModelAddFault(T.Model, &Fault);
    U8* Out = DriverAlloc(4096);
    DriverFill(Out, 4096, 1);
    DRIVER_ASYNC Async;
    DriverAsyncInit(&Async, 1);
    assert_int_equal(NVMeSubmitIO(T.Ns, NVME_IO_WRITE, 50, 8, Out, DriverAsyncCallback, &Async), KSTATUS_SUCCESS);
    assert_true(DriverAsyncWait(&Async, HOUR_MS));
    assert_int_equal(Async.Failed, 1);
    assert_int_equal(Async.LastStatus, KSTATUS_BUSY);
    assert_int_equal(Async.LastNvmeStatus, 0x0082);
    assert_string_equal(NVMeStatusName(Async.LastNvmeStatus), "Namespace Not Ready");
    assert_int_equal(NVMeModelFaultHits(T.Model, Id), 1 + 5);
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->Retries, 5);
    assert_int_equal(Info->Errors, 1);
    assert_true(strstr(Info->LastError, "Namespace Not Ready") != NULL);
    assert_true(DriverElapsedMs(&T) < 2000);  // 10+20+40+80+160 ms of delays
    DriverExpectIdle(&T);
    DriverAsyncDestroy(&Async);
    DriverFree(Out, 4096);
    DriverEnd(&T);
}

static void test_dnr_set_fails_at_once(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    DriverStart(&T, &Config);
    NVME_MODEL_FAULT Fault = DriverFault(NVME_FAULT_ERROR_STATUS, 1, NM_IO_READ, 1);
    Fault.Status = NM_STATUS(2, 0x81) | NM_STATUS_DNR;  // Unrecovered Read Error
    U32 Id = NVMeModelAddFault(T.Model, &Fault);
    U8* In = DriverAlloc(8 * 512);
    assert_int_equal(NVMeReadSync(T.Ns, 70, 8, In), KSTATUS_IO_ERROR);
    assert_int_equal(NVMeModelFaultHits(T.Model, Id), 1);
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->Retries, 0);
    assert_int_equal(Info->Errors, 1);
    assert_string_equal(Info->LastError, "Unrecovered Read Error (SCT 2h SC 81h, DNR)");
    assert_true(HostLogContains("Read NSID 1 LBA 70 x8 failed: Unrecovered Read Error"));
    assert_int_equal(NVMeReadSync(T.Ns, 70, 8, In), KSTATUS_SUCCESS);  // only the first one was bad
    DriverFree(In, 8 * 512);
    DriverExpectIdle(&T);
    DriverEnd(&T);
}

/************************************************************************/
// Out of order

static void test_completions_out_of_order(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    DriverStart(&T, &Config);
    enum { COUNT = 24, BLOCKS = 8 };
    U64 Length = (U64)COUNT * BLOCKS * 512;
    U8* Out = DriverAlloc(Length);
    U8* In = DriverAlloc(Length);
    DriverFill(Out, Length, 77);
    assert_int_equal(NVMeWriteSync(T.Ns, 1000, COUNT * BLOCKS, Out), KSTATUS_SUCCESS);
    // Every third read is held until four later ones completed; one more is held by time.
    NVME_MODEL_FAULT Hold = DriverFault(NVME_FAULT_HOLD_COMPLETION, 1, NM_IO_READ, 0);
    Hold.Match.PerMille = 333;
    Hold.HoldCompletions = 4;
    Hold.HoldMs = 50;
    U32 Id = NVMeModelAddFault(T.Model, &Hold);
    memset(In, 0, Length);
    DRIVER_ASYNC Async;
    DriverAsyncInit(&Async, COUNT);
    for (U32 I = 0; I < COUNT; I++) {
        assert_int_equal(NVMeSubmitIO(T.Ns, NVME_IO_READ, 1000 + I * BLOCKS, BLOCKS, In + (U64)I * BLOCKS * 512,
                                      DriverAsyncCallback, &Async),
                         KSTATUS_SUCCESS);
    }
    assert_true(DriverAsyncWait(&Async, HOUR_MS));
    assert_int_equal(Async.Failed, 0);
    assert_true(NVMeModelFaultHits(T.Model, Id) >= 3);
    assert_memory_equal(In, Out, Length);
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->BadCompletions, 0);
    assert_int_equal(Info->Timeouts, 0);
    DriverAsyncDestroy(&Async);
    DriverFree(Out, Length);
    DriverFree(In, Length);
    DriverExpectIdle(&T);
    DriverEnd(&T);
}

/************************************************************************/
// Forced resets

static void test_forced_resets_during_io(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    Config.Mode = NVME_MODEL_THREAD;
    Config.MaxIoQueues = 64;
    DriverSetOption("nvme.queues", "3");
    DriverStart(&T, &Config);
    assert_int_equal(T.Info->IoQueueCount, 3);
    DRIVER_SNAPSHOT Before, After;
    DriverSnapshot(&T, &Before);
    enum { WORKERS = 4 };
    DRIVER_WORKER Workers[WORKERS];
    DriverWorkersStart(&T, Workers, WORKERS, 60);
    for (U32 I = 0; I < 5; I++) {
        PlatformSleepMs(3);
        assert_int_equal(NVMeResetController(T.Index), KSTATUS_SUCCESS);
    }
    DriverWorkersFinish(Workers, WORKERS);
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->Resets, 5);
    assert_int_equal(Info->State, NVME_STATE_READY);
    assert_int_equal(Info->FailedByDriver, 0);
    DriverExpectIdle(&T);
    DriverSnapshot(&T, &After);
    DriverExpectNoLeak(&Before, &After);
    DriverEnd(&T);
}

static void test_fifty_resets_leak_nothing(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    DriverStart(&T, &Config);
    DriverWriteRead(&T, 0, 8, 1);
    DRIVER_SNAPSHOT Before, After;
    DriverSnapshot(&T, &Before);
    U64 Interrupts = 0;
    for (U32 I = 0; I < 50; I++) {
        assert_int_equal(NVMeResetController(T.Index), KSTATUS_SUCCESS);
        DriverWriteRead(&T, 8 * I, 8, I);
    }
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->Resets, 50);
    assert_int_equal(Info->ResetFailures, 0);
    assert_int_equal(Info->InterruptMode, PCI_INTERRUPT_MSIX);  // still on its vectors
    for (U32 I = 0; I < Info->QueueCount; I++) Interrupts += Info->Queues[I].Interrupts;
    assert_true(Interrupts >= 50);
    NVME_MODEL_STATS Stats;
    NVMeModelGetStats(T.Model, &Stats);
    assert_int_equal(Stats.Resets, 50);
    assert_int_equal(Stats.Enables, 51);
    DriverExpectIdle(&T);
    DriverSnapshot(&T, &After);
    DriverExpectNoLeak(&Before, &After);
    DriverEnd(&T);
}

static void test_reset_that_fails_marks_controller_failed(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    DriverStart(&T, &Config);
    DriverWriteRead(&T, 0, 8, 1);
    NVME_MODEL_CONTROLLER_FAULTS Faults;
    memset(&Faults, 0, sizeof(Faults));
    Faults.ReadyNever = TRUE;
    NVMeModelSetControllerFaults(T.Model, &Faults);
    U32 ErrorsBefore = HostLogCount(LOG_LEVEL_ERROR);
    assert_int_equal(NVMeResetController(T.Index), KSTATUS_IO_ERROR);
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->State, NVME_STATE_FAILED);
    assert_int_equal(Info->ResetFailures, 3);
    assert_true(strstr(Info->StateReason, "reset failed") != NULL);
    assert_int_equal(HostLogCount(LOG_LEVEL_ERROR), ErrorsBefore + 1);  // one line
    // Every request fails with a clear error, without hanging.
    U8* Buffer = DriverAlloc(4096);
    assert_int_equal(NVMeReadSync(T.Ns, 0, 8, Buffer), KSTATUS_IO_ERROR);
    assert_int_equal(NVMeSubmitIO(T.Ns, NVME_IO_READ, 0, 8, Buffer, DriverAsyncCallback, NULL), KSTATUS_IO_ERROR);
    char Name[DISK_NAME_LENGTH];
    snprintf(Name, sizeof(Name), "%sn1", Info->Name);
    DISK* Disk = DiskFind(Name);
    assert_non_null(Disk);
    assert_int_equal(DiskRead(Disk, 0, 8, Buffer), KSTATUS_IO_ERROR);
    assert_int_equal(NVMeResetController(T.Index), KSTATUS_IO_ERROR);
    U32 Value;
    assert_int_equal(NVMeGetFeature(T.Index, NVME_FEATURE_ARBITRATION, 0, 0, &Value), KSTATUS_NOT_FOUND);
    DriverFree(Buffer, 4096);
    // The failed controller stopped DMA: bus mastering is off.
    assert_int_equal(NVMeModelConfigRead32(T.Model, 0x04) & 0x4, 0);
    DriverEnd(&T);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        DRIVER_TEST_CASE(test_lost_completion_abort_not_aborted_then_reset),
        DRIVER_TEST_CASE(test_lost_completion_abort_succeeds),
        DRIVER_TEST_CASE(test_lost_completion_abort_fails),
        DRIVER_TEST_CASE(test_lost_every_time_fails_with_timeout),
        DRIVER_TEST_CASE(test_lost_admin_completion_resets),
        DRIVER_TEST_CASE(test_missed_interrupt_async),
        DRIVER_TEST_CASE(test_missed_interrupt_sync),
        DRIVER_TEST_CASE(test_fatal_status_inline),
        DRIVER_TEST_CASE(test_fatal_status_with_commands_outstanding),
        DRIVER_TEST_CASE(test_retry_dnr_clear_succeeds),
        DRIVER_TEST_CASE(test_retry_exhausted_names_the_error),
        DRIVER_TEST_CASE(test_dnr_set_fails_at_once),
        DRIVER_TEST_CASE(test_completions_out_of_order),
        DRIVER_TEST_CASE(test_forced_resets_during_io),
        DRIVER_TEST_CASE(test_fifty_resets_leak_nothing),
        DRIVER_TEST_CASE(test_reset_that_fails_marks_controller_failed),
    };
    return DriverRunTests(Tests, ARRAY_COUNT(Tests));
}
