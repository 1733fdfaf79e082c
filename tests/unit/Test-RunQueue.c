/*
 * Test-RunQueue.c - where the scheduler puts a thread that becomes ready and
 * which CPU an idle CPU steals from (core/RunQueue.c): pinning, the last CPU
 * when it idles, spreading to idle CPUs, the least loaded CPU, offline CPUs,
 * and stealing only what can be spared.
 */
// SOURCES: core/RunQueue.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "core/RunQueue.h"

static RUN_QUEUE_LOAD Loads[8];

/** Count CPUs online and idle with empty queues. */
static void Reset(U32 Count) {
    memset(Loads, 0, sizeof(Loads));
    for (U32 I = 0; I < Count; I++) {
        Loads[I].Online = TRUE;
        Loads[I].Idle = TRUE;
    }
}

static void Busy(U32 Cpu, U32 Ready, U32 Stealable) {
    Loads[Cpu].Idle = FALSE;
    Loads[Cpu].Ready = Ready;
    Loads[Cpu].Stealable = Stealable;
}

static void TestPinnedThreadGoesHome(void** State) {
    (void)State;
    Reset(4);
    Busy(2, 5, 5);
    assert_int_equal(RunQueueChooseCPU(Loads, 4, 2, 0), 2);  // even when that CPU is the busiest
    // Pinned to an offline CPU (halted, never started): placed like any other thread.
    Loads[3].Online = FALSE;
    assert_int_equal(RunQueueChooseCPU(Loads, 4, 3, 1), 1);
    // Pinned past the table: the same.
    assert_int_equal(RunQueueChooseCPU(Loads, 4, 7, 1), 1);
}

static void TestLastCPUWhenIdle(void** State) {
    (void)State;
    Reset(4);
    assert_int_equal(RunQueueChooseCPU(Loads, 4, RUN_QUEUE_NONE, 2), 2);
    // Idle but something is already queued there (on its way to run): not free.
    Loads[2].Ready = 1;
    Loads[2].Stealable = 1;
    assert_int_equal(RunQueueChooseCPU(Loads, 4, RUN_QUEUE_NONE, 2), 3);
}

static void TestSpreadsToIdleCPUs(void** State) {
    (void)State;
    Reset(4);
    Busy(0, 0, 0);
    // The last CPU runs something: the next idle one after it, round robin.
    assert_int_equal(RunQueueChooseCPU(Loads, 4, RUN_QUEUE_NONE, 0), 1);
    Busy(1, 0, 0);
    assert_int_equal(RunQueueChooseCPU(Loads, 4, RUN_QUEUE_NONE, 0), 2);
    Busy(2, 0, 0);
    Busy(3, 0, 0);
    Loads[0].Idle = TRUE;  // wraps around
    assert_int_equal(RunQueueChooseCPU(Loads, 4, RUN_QUEUE_NONE, 2), 0);
    // An offline CPU is never chosen, idle or not.
    Reset(3);
    Busy(0, 0, 0);
    Loads[1].Online = FALSE;
    assert_int_equal(RunQueueChooseCPU(Loads, 3, RUN_QUEUE_NONE, 0), 2);
}

static void TestLeastLoaded(void** State) {
    (void)State;
    Reset(4);
    Busy(0, 3, 3);
    Busy(1, 1, 1);
    Busy(2, 0, 0);
    Busy(3, 2, 2);
    assert_int_equal(RunQueueLoad(&Loads[0]), 4);
    assert_int_equal(RunQueueChooseCPU(Loads, 4, RUN_QUEUE_NONE, 0), 2);
    // Ties go to the last CPU.
    Busy(3, 0, 0);
    assert_int_equal(RunQueueChooseCPU(Loads, 4, RUN_QUEUE_NONE, 3), 3);
    assert_int_equal(RunQueueChooseCPU(Loads, 4, RUN_QUEUE_NONE, 2), 2);
    // A bad last CPU counts as CPU 0; no CPUs at all gives 0.
    assert_int_equal(RunQueueChooseCPU(Loads, 4, RUN_QUEUE_NONE, 99), 2);
    assert_int_equal(RunQueueChooseCPU(Loads, 0, RUN_QUEUE_NONE, 0), 0);
}

static void TestVictim(void** State) {
    (void)State;
    Reset(4);
    assert_int_equal(RunQueueChooseVictim(Loads, 4, 0), RUN_QUEUE_NONE);  // nothing anywhere
    // A CPU running one thread with one queued: load 2, one to spare.
    Busy(1, 1, 1);
    assert_int_equal(RunQueueChooseVictim(Loads, 4, 0), 1);
    // An idle CPU with one thread queued is about to run it: not a victim (no ping-pong).
    Reset(4);
    Loads[1].Ready = 1;
    Loads[1].Stealable = 1;
    assert_int_equal(RunQueueChooseVictim(Loads, 4, 0), RUN_QUEUE_NONE);
    // Queued threads all pinned: nothing to take.
    Busy(2, 3, 0);
    assert_int_equal(RunQueueChooseVictim(Loads, 4, 0), RUN_QUEUE_NONE);
    // The busiest with something stealable wins; the stealer itself is never its own victim.
    Busy(1, 1, 1);
    Busy(3, 4, 1);
    assert_int_equal(RunQueueChooseVictim(Loads, 4, 0), 3);
    assert_int_equal(RunQueueChooseVictim(Loads, 4, 3), 1);
    Loads[3].Online = FALSE;
    assert_int_equal(RunQueueChooseVictim(Loads, 4, 0), 1);
    assert_int_equal(RunQueueChooseVictim(NULL, 4, 0), RUN_QUEUE_NONE);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestPinnedThreadGoesHome), cmocka_unit_test(TestLastCPUWhenIdle),
        cmocka_unit_test(TestSpreadsToIdleCPUs),    cmocka_unit_test(TestLeastLoaded),
        cmocka_unit_test(TestVictim),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
