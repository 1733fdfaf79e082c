/*
 * Test-DriverDoorbell.c - shadow doorbells (Doorbell Buffer Config) through
 * the NVMe driver on the controller model (NVMeModel-Dbbuf.c), which takes
 * SQ tails and CQ heads from the shadow page and keeps EventIdx eagerly, as
 * QEMU 7.2 does (the CQ's one update behind), or adversarially (random
 * stale or early values while busy).
 *
 * Checked: the driver configures the buffers when OACS bit 8 offers them
 * (and not with nvme.dbbuf=off, nor when not offered); under each EventIdx
 * mode, on a model thread racing the driver, writes and reads at queue
 * depth 1 to Depth - 1 on 16-entry queues (the rings wrap many times) all
 * complete with the right bytes (no lost submission or completion); the
 * model's conformance checker sees no admin doorbell that differs from its
 * shadow entry; a reset configures again; and the MMIO doorbell writes per
 * command fall below one at depth, against two per command without.
 */
// SOURCES: $(NVME_DRIVER_SOURCES)

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "Test-DriverCommon.h"
#include "storage/nvme/NVMe-Internal.h"  // NVMeDoorbellNeedEvent

#define DEPTH 16            // Mqes 15: both rings wrap every 16 entries
#define BLOCKS 8
#define ROUNDS 12

static NVME_MODEL_STATS Stats(DRIVER_TEST* T) {
    NVME_MODEL_STATS S;
    NVMeModelGetStats(T->Model, &S);
    return S;
}

/** A threaded model with 16-entry queues; Offered: OACS bit 8; Option: nvme.dbbuf (NULL: unset). */
static void Start(DRIVER_TEST* T, BOOL Offered, NVME_MODEL_EVENTIDX_MODE Mode, LPCSTR Option) {
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    Config.Mode = NVME_MODEL_THREAD;
    Config.Mqes = DEPTH - 1;
    Config.Oacs |= Offered ? 0x100 : 0;
    Config.EventIdxMode = Mode;
    Config.Seed = 7 + (U64)Mode;
    if (Option) DriverSetOption("nvme.dbbuf", Option);
    DriverStart(T, &Config);
    assert_int_equal(DriverInfo(T)->Queues[1].Depth, DEPTH);
}

/** Every tracker back (none leaked, nothing held), then the shutdown hook and the model's verdict. */
static void End(DRIVER_TEST* T) {
    DriverExpectIdle(T);
    DriverEnd(T);  // fails on any conformance violation (admin shadow mismatch, CQ head beyond tail...)
}

/** Qd commands of Opcode in flight at once over Buffer (BLOCKS blocks each, at Lba + i * BLOCKS); all succeed. */
static void Burst(DRIVER_TEST* T, U32 Opcode, U64 Lba, U32 Qd, U8* Buffer) {
    DRIVER_ASYNC Async;
    DriverAsyncInit(&Async, Qd);
    for (U32 I = 0; I < Qd; I++) {
        assert_int_equal(NVMeSubmitIO(T->Ns, Opcode, Lba + (U64)I * BLOCKS, BLOCKS, Buffer + (SIZE)I * BLOCKS * 512,
                                      DriverAsyncCallback, &Async),
                         KSTATUS_SUCCESS);
    }
    // A lost doorbell would leave commands unseen: the deadline ladder would then abort and reset (30 s and
    // more), so completing well within 20 s of platform time means none was lost.
    assert_true(DriverAsyncWait(&Async, 20000));
    assert_int_equal(Async.Failed, 0);
    DriverAsyncDestroy(&Async);
}

/** Rounds of Qd writes then Qd reads (fresh bytes each round), compared; returns the commands sent. */
static U32 WriteReadDepth(DRIVER_TEST* T, U32 Qd, U32 Rounds) {
    U64 Length = (U64)Qd * BLOCKS * 512;
    U8* Out = DriverAlloc(Length);
    U8* In = DriverAlloc(Length);
    for (U32 Round = 0; Round < Rounds; Round++) {
        U64 Lba = 1000 + (U64)(Round % 3) * DEPTH * BLOCKS;
        DriverFill(Out, Length, Qd * 100 + Round);
        memset(In, 0, Length);
        Burst(T, NVME_IO_WRITE, Lba, Qd, Out);
        Burst(T, NVME_IO_READ, Lba, Qd, In);
        assert_memory_equal(In, Out, Length);
    }
    DriverFree(Out, Length);
    DriverFree(In, Length);
    return 2 * Qd * Rounds;
}

/** Every depth from 1 to Depth - 1 (the driver's trackers: a full CQ is possible) under one EventIdx mode. */
static void EveryDepth(NVME_MODEL_EVENTIDX_MODE Mode) {
    DRIVER_TEST T;
    Start(&T, TRUE, Mode, NULL);
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_true(Info->DbbufOffered);
    assert_true(Info->DbbufActive);
    assert_false(Info->DbbufCqMmio);  // MSI-X: CQ heads by the event-index rule too
    assert_int_equal(Info->DbbufConfigs, 1);
    assert_int_equal(Stats(&T).DbbufConfigs, 1);
    for (U32 Qd = 1; Qd < DEPTH; Qd++) WriteReadDepth(&T, Qd, ROUNDS / 3 + 1);
    NVME_MODEL_STATS S = Stats(&T);
    assert_true(S.ShadowReads > 0);
    assert_int_equal(S.ErrorCompletions, 0);
    Info = DriverInfo(&T);
    assert_int_equal(Info->Timeouts, 0);
    assert_int_equal(Info->Resets, 0);
    assert_true(Info->Queues[1].ShadowWrites > 0);
    End(&T);
}

/************************************************************************/
// Tests

static void test_every_depth_eager(void** State) {
    (void)State;
    EveryDepth(NVME_MODEL_EVENTIDX_EAGER);
}

static void test_every_depth_qemu(void** State) {
    (void)State;
    EveryDepth(NVME_MODEL_EVENTIDX_QEMU);
}

static void test_every_depth_lazy(void** State) {
    (void)State;
    EveryDepth(NVME_MODEL_EVENTIDX_LAZY);
}

/** At depth, shadow doorbells save MMIO writes: fewer than one a command, where MMIO alone takes two. */
static void test_mmio_writes_fall(void** State) {
    (void)State;
    U64 Mmio[2], Commands[2];
    for (U32 Off = 0; Off < 2; Off++) {
        DRIVER_TEST T;
        Start(&T, TRUE, NVME_MODEL_EVENTIDX_QEMU, Off ? "off" : NULL);
        U64 Before = DriverInfo(&T)->Queues[1].MmioDoorbells, ModelBefore = Stats(&T).DoorbellWrites;
        Commands[Off] = WriteReadDepth(&T, DEPTH - 1, ROUNDS);
        const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
        Mmio[Off] = Info->Queues[1].MmioDoorbells - Before;
        assert_int_equal(Info->DbbufActive, !Off);
        // The driver's count is what the model saw (the admin queue is idle meanwhile).
        assert_int_equal(Stats(&T).DoorbellWrites - ModelBefore, Mmio[Off]);
        if (Off) {
            assert_int_equal(Info->DbbufMode, NVME_DBBUF_OFF);
            assert_int_equal(Info->DbbufConfigs, 0);
            assert_int_equal(Stats(&T).DbbufConfigs, 0);
            assert_int_equal(Info->Queues[1].ShadowWrites, 0);
            assert_true(Mmio[Off] >= Commands[Off]);  // every tail written, and heads
        }
        End(&T);
    }
    print_message("MMIO doorbell writes per command at depth %u: %.2f with shadow doorbells, %.2f without\n",
                  DEPTH - 1, (double)Mmio[0] / (double)Commands[0], (double)Mmio[1] / (double)Commands[1]);
    assert_true(Mmio[0] < Commands[0]);
    assert_true(Mmio[0] * 2 < Mmio[1]);
}

/** A reset makes the controller forget the buffers: the driver configures them again before the I/O queues. */
static void test_reset_configures_again(void** State) {
    (void)State;
    DRIVER_TEST T;
    Start(&T, TRUE, NVME_MODEL_EVENTIDX_LAZY, "on");
    WriteReadDepth(&T, 7, 2);
    assert_int_equal(NVMeResetController(T.Index), KSTATUS_SUCCESS);
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->DbbufConfigs, 2);
    assert_true(Info->DbbufActive);
    assert_int_equal(Stats(&T).DbbufConfigs, 2);
    WriteReadDepth(&T, DEPTH - 1, 3);  // the new queues start at 0 in zeroed slots
    assert_int_equal(Stats(&T).ErrorCompletions, 0);
    End(&T);
}

/** Not offered: MMIO doorbells, and nvme.dbbuf=on says why in one warning. */
static void test_not_offered(void** State) {
    (void)State;
    DRIVER_TEST T;
    Start(&T, FALSE, NVME_MODEL_EVENTIDX_EAGER, "on");
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_false(Info->DbbufOffered);
    assert_false(Info->DbbufActive);
    assert_int_equal(Stats(&T).DbbufConfigs, 0);
    assert_true(HostLogContains("nvme.dbbuf=on, but not offered"));
    WriteReadDepth(&T, 4, 2);
    assert_int_equal(DriverInfo(&T)->Queues[1].ShadowWrites, 0);
    End(&T);
}

/** Pure: the event-index rule, with the 16-bit wrap. */
static void test_need_event_rule(void** State) {
    (void)State;
    assert_true(NVMeDoorbellNeedEvent(5, 6, 5));        // the controller waits at 5: moving 5 -> 6 rings
    assert_false(NVMeDoorbellNeedEvent(4, 6, 5));       // it has not caught up to 5 yet: it will look again
    assert_true(NVMeDoorbellNeedEvent(7, 10, 5));       // 7 is in [5, 10)
    assert_false(NVMeDoorbellNeedEvent(10, 10, 5));     // 10 not reached yet
    assert_true(NVMeDoorbellNeedEvent(0xFFFF, 2, 0xFFFE));  // across the wrap
    assert_false(NVMeDoorbellNeedEvent(3, 2, 0xFFFE));
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(test_need_event_rule),        DRIVER_TEST_CASE(test_every_depth_eager),
        DRIVER_TEST_CASE(test_every_depth_qemu),       DRIVER_TEST_CASE(test_every_depth_lazy),
        DRIVER_TEST_CASE(test_mmio_writes_fall),       DRIVER_TEST_CASE(test_reset_configures_again),
        DRIVER_TEST_CASE(test_not_offered),
    };
    return DriverRunTests(Tests, sizeof(Tests) / sizeof(Tests[0]));
}
