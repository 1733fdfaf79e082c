/*
 * Test-DriverState.c - the driver's state tables (NVMe-State.c) enforced on a
 * live controller: a transition no table lists is refused - the state stays
 * what it was, nothing is posted or failed - logged once per controller and
 * machine, and counted in the view (InvalidTransitions); the controller goes
 * on working. Every other driver test checks the opposite at its end
 * (DriverEnd: no refusal through the whole test), and
 * tests/unit/Test-NVMeState.c checks each table pair by pair.
 */
// SOURCES: $(NVME_DRIVER_SOURCES)

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "Test-DriverCommon.h"
#include "storage/nvme/NVMe-Internal.h"

static void test_illegal_transitions_refused(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    DriverStart(&T, &Config);
    NVME_CONTROLLER* Controller = NVMeGetControllerInternal(T.Index);
    NVME_QUEUE* Queue = &Controller->Io[0];
    U32 Errors = HostLogCount(LOG_LEVEL_ERROR);

    // Controller: a ready controller is not brought up again, nor "made ready" twice.
    assert_false(NVMeControllerSetState(Controller, NVME_STATE_PROBING, NULL));
    assert_false(NVMeControllerSetState(Controller, NVME_STATE_READY, ""));
    assert_int_equal(DriverInfo(&T)->State, NVME_STATE_READY);
    assert_true(HostLogContains("[NVMeState] nvme0: controller ready -> probing refused"));

    // Queue: entering LIVE again would post held commands twice.
    assert_false(NVMeQueueSetMode(Queue, NVME_QUEUE_LIVE));
    assert_int_equal(Queue->Mode, NVME_QUEUE_LIVE);
    assert_true(HostLogContains("queue live -> live refused"));

    // Tracker: one taken by a submitter cannot complete or wait for a retry without ever being posted.
    NVME_TRACKER* Tracker = NVMeQueueTakeTracker(Queue);
    assert_non_null(Tracker);
    U64 Lock = PlatformLockAcquire(Queue->Lock);
    BOOL Moved = NVMeTrackerMove(Tracker, NVME_TRACKER_COMPLETING) || NVMeTrackerMove(Tracker, NVME_TRACKER_RETRY);
    PlatformLockRelease(Queue->Lock, Lock);
    assert_false(Moved);
    assert_int_equal(Tracker->State, NVME_TRACKER_RESERVED);
    NVMeQueuePutTracker(Tracker);  // legal: given back unsent
    assert_true(HostLogContains("tracker reserved -> completing refused"));
    assert_false(HostLogContains("tracker reserved -> retry refused"));  // once per machine

    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->InvalidTransitions, 5);
    assert_int_equal(HostLogCount(LOG_LEVEL_ERROR), Errors + 3);
    T.InvalidTransitionsExpected = 5;
    // Nothing else moved: the controller works, its trackers are all free again.
    DriverWriteRead(&T, 64, 16, 3);
    DriverExpectIdle(&T);
    DriverEnd(&T);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        DRIVER_TEST_CASE(test_illegal_transitions_refused),
    };
    return DriverRunTests(Tests, ARRAY_COUNT(Tests));
}
