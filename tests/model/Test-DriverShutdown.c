/*
 * Test-DriverShutdown.c - the NVMe driver's shutdown hook (NVMe-Shutdown.c)
 * against the controller model: the clean shutdown (flush, queues deleted,
 * CC.SHN, SHST, nothing touched afterwards), the flush when every tracker of
 * the I/O queue is still taken as shutdown starts (it waits for one; and when
 * none comes back it gives up within the bound, saying so), and a shutdown
 * that never completes (bounded by RTD3E clamped to 5..60 s).
 */
// SOURCES: $(NVME_DRIVER_SOURCES)

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "Test-DriverCommon.h"
#include "storage/nvme/NVMe-Internal.h"

static void test_shutdown_clean(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    DriverSetOption("nvme.queues", "2");
    DriverStart(&T, &Config);
    DriverWriteRead(&T, 0, 64, 1);
    DriverWriteRead(&T, 64, 64, 2);
    NVME_MODEL_STATS Before;
    NVMeModelGetStats(T.Model, &Before);
    assert_int_equal(HostPlatformRunShutdownHooks(FALSE), 1);
    NVME_MODEL_STATS After;
    NVMeModelGetStats(T.Model, &After);
    assert_int_equal(After.Flushes, Before.Flushes + 1);  // VWC present: one flush of namespace 1
    assert_int_equal(After.Shutdowns, 1);
    assert_int_equal(NVMeModelPeekRegister(T.Model, NM_REG_CSTS) & NM_CSTS_SHST_MASK, NM_CSTS_SHST_COMPLETE);
    NVME_MODEL_QUEUE_INFO Queue;
    for (U16 Q = 1; Q <= 2; Q++) {
        memset(&Queue, 0, sizeof(Queue));
        assert_false(NVMeModelQueueInfo(T.Model, Q, FALSE, &Queue) && Queue.Exists);  // deleted before CC.SHN
        assert_false(NVMeModelQueueInfo(T.Model, Q, TRUE, &Queue) && Queue.Exists);
    }
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->State, NVME_STATE_SHUTDOWN);
    assert_true(Info->ShutdownComplete);
    assert_true(HostLogContains("shut down in"));
    // Nothing is accepted afterwards, and nothing touches the controller.
    U8* Buffer = DriverAlloc(4096);
    assert_int_equal(NVMeReadSync(T.Ns, 0, 8, Buffer), KSTATUS_IO_ERROR);
    assert_int_equal(DiskRead(DriverFindDisk(&T, 1), 0, 8, Buffer), KSTATUS_IO_ERROR);
    DriverFree(Buffer, 4096);
    NVME_MODEL_STATS Later;
    PlatformSleepMs(3000);  // the watchdog's next passes
    NVMeModelGetStats(T.Model, &Later);
    assert_int_equal(Later.DoorbellWrites, After.DoorbellWrites);
    DriverEnd(&T);
}

/** Trackers a test holds, given back after DelayMs by a thread of their own (0: kept). */
typedef struct tag_HELD_TRACKERS {
    NVME_TRACKER* Trackers[1024];
    U32 Count;
    U32 DelayMs;
} HELD_TRACKERS;

/** Starts the driver with one I/O queue (a few blocks written and read back) and takes all its trackers. */
static void StartHoldingAllTrackers(DRIVER_TEST* T, HELD_TRACKERS* Held) {
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    DriverSetOption("nvme.queues", "1");
    DriverStart(T, &Config);
    DriverWriteRead(T, 0, 64, 1);
    NVME_QUEUE* Queue = &NVMeGetControllerInternal(T->Index)->Io[0];
    Held->Count = 0;
    NVME_TRACKER* Tracker;
    while (Held->Count < 1024 && (Tracker = NVMeQueueTakeTracker(Queue)) != NULL) Held->Trackers[Held->Count++] = Tracker;
    assert_true(Held->Count > 0);
    assert_null(NVMeQueueTakeTracker(Queue));
}

static void GiveTrackersBack(LPVOID Context) {
    HELD_TRACKERS* Held = (HELD_TRACKERS*)Context;
    PlatformSleepMs(Held->DelayMs);
    for (U32 I = 0; I < Held->Count; I++) NVMeQueuePutTracker(Held->Trackers[I]);
    Held->Count = 0;
}

// Every tracker of the one I/O queue still taken when shutdown starts (their waiters had not run yet after a
// burst; Outstanding is 0, so the drain does not wait): the flush waits for one instead of failing at once.
static void test_shutdown_flush_waits_for_a_tracker(void** State) {
    (void)State;
    DRIVER_TEST T;
    static HELD_TRACKERS Held;
    StartHoldingAllTrackers(&T, &Held);
    Held.DelayMs = 200;
    assert_true(PlatformThreadCreate("test-release", GiveTrackersBack, &Held));
    NVME_MODEL_STATS Before, After;
    NVMeModelGetStats(T.Model, &Before);
    assert_int_equal(HostPlatformRunShutdownHooks(FALSE), 1);
    NVMeModelGetStats(T.Model, &After);
    assert_int_equal(After.Flushes, Before.Flushes + 1);
    assert_true(HostLogContains("(1 namespace(s) flushed"));
    assert_false(HostLogContains("flush of namespace"));
    assert_true(DriverInfo(&T)->ShutdownComplete);
    DriverEnd(&T);
}

// The same trackers never come back: the flush gives up within the shutdown's bound, says why in one line, and
// the shutdown itself still completes.
static void test_shutdown_flush_without_a_tracker_is_bounded(void** State) {
    (void)State;
    DRIVER_TEST T;
    static HELD_TRACKERS Held;
    StartHoldingAllTrackers(&T, &Held);
    NVME_MODEL_STATS Before, After;
    NVMeModelGetStats(T.Model, &Before);
    U64 Start = HostClockNowNs();
    assert_int_equal(HostPlatformRunShutdownHooks(FALSE), 1);
    U64 TookMs = (HostClockNowNs() - Start) / 1000000;
    NVMeModelGetStats(T.Model, &After);
    assert_int_equal(After.Flushes, Before.Flushes);
    assert_true(HostLogContains("flush of namespace 1 failed (timed out)"));
    assert_true(TookMs <= 5000 + 300);  // RTD3E 0: the 5 s bound (plus the watchdog's one wait step)
    assert_true(DriverInfo(&T)->ShutdownComplete);
    GiveTrackersBack(&Held);
    DriverEnd(&T);
}

static void test_shutdown_never_completes(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    DriverStart(&T, &Config);
    NVME_MODEL_CONTROLLER_FAULTS Faults;
    memset(&Faults, 0, sizeof(Faults));
    Faults.ShutdownNever = TRUE;
    NVMeModelSetControllerFaults(T.Model, &Faults);
    U64 Start = HostClockNowNs();
    assert_int_equal(HostPlatformRunShutdownHooks(TRUE), 1);
    U64 TookMs = (HostClockNowNs() - Start) / 1000000;
    // RTD3E is 0 here: the wait is clamped to 5 s, then the driver gives up.
    assert_true(TookMs >= 5000 && TookMs < 5500);
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_false(Info->ShutdownComplete);
    assert_int_equal(Info->State, NVME_STATE_SHUTDOWN);
    assert_true(HostLogContains("shutdown did not complete within 5000 ms"));
    DriverEnd(&T);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        DRIVER_TEST_CASE(test_shutdown_clean),
        DRIVER_TEST_CASE(test_shutdown_flush_waits_for_a_tracker),
        DRIVER_TEST_CASE(test_shutdown_flush_without_a_tracker_is_bounded),
        DRIVER_TEST_CASE(test_shutdown_never_completes),
    };
    return DriverRunTests(Tests, ARRAY_COUNT(Tests));
}
