// Test-NVMeState.c - the NVMe driver's three state machines (storage/nvme/NVMe-State.c): every pair of states,
// out-of-range ones included, is checked against the legal transitions written out again here, from the design
// in documentation/NVMe.md, so a row added to or dropped from a table without thought fails here. The refusal
// itself (logged once, counted, state kept) runs against the device model: tests/model/Test-DriverState.c.
// SOURCES: storage/nvme/NVMe-State.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "storage/nvme/NVMe-Internal.h"

typedef struct {
    U32 From, To;
} PAIR;

/** Checks every From x To (and one past the end each way) against Legal; returns how many it refused. */
static U32 CheckMachine(const NVME_STATE_MACHINE* Machine, const PAIR* Legal, U32 LegalCount) {
    U32 Refused = 0;
    for (U32 From = 0; From <= Machine->Count; From++) {
        for (U32 To = 0; To <= Machine->Count; To++) {
            BOOL Expected = FALSE;
            for (U32 I = 0; I < LegalCount; I++) Expected |= Legal[I].From == From && Legal[I].To == To;
            if (NVMeStateLegal(Machine, From, To) != Expected) {
                fail_msg("%s %s -> %s: the table says %s", Machine->Name, NVMeStateName(Machine, From),
                         NVMeStateName(Machine, To), Expected ? "no" : "yes");
            }
            if (!Expected) Refused++;
        }
    }
    assert_false(NVMeStateLegal(Machine, MAX_U32, 0));
    assert_false(NVMeStateLegal(Machine, 0, 32));  // beyond the bits of a row
    return Refused;
}

/** Every state has its own name; anything else is "unknown". */
static void CheckNames(const NVME_STATE_MACHINE* Machine) {
    for (U32 I = 0; I < Machine->Count; I++) {
        assert_non_null(Machine->Names[I]);
        assert_string_not_equal(NVMeStateName(Machine, I), "unknown");
        for (U32 J = 0; J < I; J++) assert_string_not_equal(Machine->Names[I], Machine->Names[J]);
    }
    assert_string_equal(NVMeStateName(Machine, Machine->Count), "unknown");
}

static void test_controller_states(void** State) {
    (void)State;
    static const PAIR Legal[] = {
        {NVME_STATE_PROBING, NVME_STATE_READY},     {NVME_STATE_PROBING, NVME_STATE_ADMIN_ONLY},
        {NVME_STATE_PROBING, NVME_STATE_FAILED},    {NVME_STATE_READY, NVME_STATE_RESETTING},
        {NVME_STATE_READY, NVME_STATE_SHUTDOWN},    {NVME_STATE_ADMIN_ONLY, NVME_STATE_RESETTING},
        {NVME_STATE_ADMIN_ONLY, NVME_STATE_SHUTDOWN}, {NVME_STATE_RESETTING, NVME_STATE_READY},
        {NVME_STATE_RESETTING, NVME_STATE_ADMIN_ONLY}, {NVME_STATE_RESETTING, NVME_STATE_FAILED},
        {NVME_STATE_RESETTING, NVME_STATE_SHUTDOWN}, {NVME_STATE_PROBING, NVME_STATE_REMOVED},
        {NVME_STATE_READY, NVME_STATE_REMOVED},     {NVME_STATE_ADMIN_ONLY, NVME_STATE_REMOVED},
        {NVME_STATE_RESETTING, NVME_STATE_REMOVED}, {NVME_STATE_FAILED, NVME_STATE_REMOVED},
        {NVME_STATE_SHUTDOWN, NVME_STATE_REMOVED},
    };
    assert_int_equal(NVMeControllerStates.Count, 7);
    // 8 x 8 pairs with the one past the end, 17 legal.
    assert_int_equal(CheckMachine(&NVMeControllerStates, Legal, ARRAY_COUNT(Legal)), 64 - 17);
    CheckNames(&NVMeControllerStates);
    // FAILED and SHUTDOWN lead only to REMOVED, REMOVED nowhere, and no state back to PROBING.
    for (U32 To = 0; To < NVME_STATE_COUNT; To++) {
        assert_true(NVMeStateLegal(&NVMeControllerStates, NVME_STATE_FAILED, To) == (To == NVME_STATE_REMOVED));
        assert_true(NVMeStateLegal(&NVMeControllerStates, NVME_STATE_SHUTDOWN, To) == (To == NVME_STATE_REMOVED));
        assert_false(NVMeStateLegal(&NVMeControllerStates, NVME_STATE_REMOVED, To));
        assert_false(NVMeStateLegal(&NVMeControllerStates, To, NVME_STATE_PROBING));
    }
    assert_string_equal(NVMeControllerStateName(NVME_STATE_REMOVED), "removed");
    assert_string_equal(NVMeControllerStateName(NVME_STATE_ADMIN_ONLY), "admin queue only");
    assert_string_equal(NVMeControllerStateName(NVME_STATE_SHUTDOWN), "shut down");
    assert_string_equal(NVMeControllerStateName(99), "unknown");
}

static void test_queue_modes(void** State) {
    (void)State;
    static const PAIR Legal[] = {
        {NVME_QUEUE_LIVE, NVME_QUEUE_SUSPENDED},       {NVME_QUEUE_LIVE, NVME_QUEUE_RECOVERING},
        {NVME_QUEUE_LIVE, NVME_QUEUE_DEAD},            {NVME_QUEUE_SUSPENDED, NVME_QUEUE_LIVE},
        {NVME_QUEUE_SUSPENDED, NVME_QUEUE_RECOVERING}, {NVME_QUEUE_SUSPENDED, NVME_QUEUE_SUSPENDED},
        {NVME_QUEUE_SUSPENDED, NVME_QUEUE_DEAD},       {NVME_QUEUE_RECOVERING, NVME_QUEUE_LIVE},
        {NVME_QUEUE_RECOVERING, NVME_QUEUE_SUSPENDED}, {NVME_QUEUE_RECOVERING, NVME_QUEUE_RECOVERING},
        {NVME_QUEUE_RECOVERING, NVME_QUEUE_DEAD},
    };
    assert_int_equal(NVMeQueueModes.Count, 4);
    assert_int_equal(CheckMachine(&NVMeQueueModes, Legal, ARRAY_COUNT(Legal)), 25 - 11);
    CheckNames(&NVMeQueueModes);
    // A live queue is never "entered again" (that would post held commands twice); a dead one never revives.
    assert_false(NVMeStateLegal(&NVMeQueueModes, NVME_QUEUE_LIVE, NVME_QUEUE_LIVE));
    for (U32 To = 0; To < NVME_QUEUE_MODE_COUNT; To++) {
        assert_false(NVMeStateLegal(&NVMeQueueModes, NVME_QUEUE_DEAD, To));
    }
}

static void test_tracker_states(void** State) {
    (void)State;
    static const PAIR Legal[] = {
        {NVME_TRACKER_FREE, NVME_TRACKER_RESERVED},       {NVME_TRACKER_RESERVED, NVME_TRACKER_IN_FLIGHT},
        {NVME_TRACKER_RESERVED, NVME_TRACKER_HELD},       {NVME_TRACKER_RESERVED, NVME_TRACKER_FREE},
        {NVME_TRACKER_IN_FLIGHT, NVME_TRACKER_COMPLETING}, {NVME_TRACKER_IN_FLIGHT, NVME_TRACKER_RETRY},
        {NVME_TRACKER_IN_FLIGHT, NVME_TRACKER_HELD},      {NVME_TRACKER_HELD, NVME_TRACKER_IN_FLIGHT},
        {NVME_TRACKER_HELD, NVME_TRACKER_COMPLETING},     {NVME_TRACKER_RETRY, NVME_TRACKER_IN_FLIGHT},
        {NVME_TRACKER_RETRY, NVME_TRACKER_HELD},          {NVME_TRACKER_RETRY, NVME_TRACKER_COMPLETING},
        {NVME_TRACKER_COMPLETING, NVME_TRACKER_FREE},
    };
    assert_int_equal(NVMeTrackerStates.Count, 6);
    assert_int_equal(CheckMachine(&NVMeTrackerStates, Legal, ARRAY_COUNT(Legal)), 49 - 13);
    CheckNames(&NVMeTrackerStates);
    // The hot path's inline check reads the same table.
    assert_ptr_equal(NVMeTrackerStates.Next, NVMeTrackerNext);
    // A command is freed only from COMPLETING (its Done ran) or unsent from RESERVED: a CID is never reused in flight.
    for (U32 From = 0; From < NVME_TRACKER_STATE_COUNT; From++) {
        BOOL MayFree = From == NVME_TRACKER_COMPLETING || From == NVME_TRACKER_RESERVED;
        assert_int_equal(NVMeStateLegal(&NVMeTrackerStates, From, NVME_TRACKER_FREE), MayFree);
    }
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(test_controller_states),
        cmocka_unit_test(test_queue_modes),
        cmocka_unit_test(test_tracker_states),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
