/*
 * Test-VMDDirty.c - the VMD driver on domains that firmware or a previous OS
 * left dirty (fact sheet 6.2 C; S3 #2413, S11): root ports with overlapping,
 * open windows, an I/O window of 0/0, the same secondary bus on every root
 * port (so a bus is routed twice and a drive would be found twice), and
 * children's BARs unassigned with decoding off - each alone and all at once,
 * on client, server and Arrow Lake profiles and behind a switch. Every time
 * the domain must come out clean (section 6.2 G, VMDModelCheck), every drive
 * bound once, and data must go through every drive.
 */
// SOURCES: $(NVME_DRIVER_SOURCES) $(VMD_DRIVER_SOURCES) utils/Pattern.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "VMDTest.h"

static void RunDirty(VMD_MODEL_PROFILE Profile, U32 Dirty, BOOL Switch) {
    VMD_TEST T;
    VMDTestConfig(&T, Profile);
    T.Config.Dirty = Dirty;
    if (Switch) T.Config.Ports[0].Content = VMD_MODEL_SWITCH_NVME;
    VMDTestStartReady(&T);
    assert_int_equal(VMDModelCheck(T.Vmd), 0);
    for (U32 P = 0; P < T.Config.PortCount; P++) {
        if (T.Nvme[P] == NULL) continue;
        assert_non_null(VMDTestController(&T, P));
        VMDTestWriteRead(&T, P, 300 + P, 24, 80 + P);
    }
    VMD_MODEL_STATS Stats;
    VMDModelGetStats(T.Vmd, &Stats);
    if (Dirty & VMD_DIRTY_DUPLICATE_SECONDARY) {
        // Two root ports claimed one bus when the driver first looked: the domain reset saw it and undid it.
        assert_true(Stats.CfgAmbiguous > 0);
    }
    assert_int_equal(Stats.Dropped, 0);
    VMDTestEnd(&T);
}

static void TestOverlappingWindows(void** State) {
    (void)State;
    RunDirty(VMD_MODEL_TIGER_LAKE, VMD_DIRTY_OVERLAPPING_WINDOWS, FALSE);
}

static void TestIoWindowZero(void** State) {
    (void)State;
    RunDirty(VMD_MODEL_SKYLAKE_201D, VMD_DIRTY_IO_ZERO, FALSE);
}

static void TestDuplicateSecondaryBuses(void** State) {
    (void)State;
    RunDirty(VMD_MODEL_TIGER_LAKE, VMD_DIRTY_DUPLICATE_SECONDARY, FALSE);
}

static void TestUnassignedBars(void** State) {
    (void)State;
    RunDirty(VMD_MODEL_METEOR_LAKE, VMD_DIRTY_UNASSIGNED_BARS, FALSE);
}

static void TestAllDirtyClient(void** State) {
    (void)State;
    RunDirty(VMD_MODEL_TIGER_LAKE, VMD_DIRTY_ALL, TRUE);
}

static void TestAllDirtyServer(void** State) {
    (void)State;
    RunDirty(VMD_MODEL_SERVER_28C0, VMD_DIRTY_ALL, FALSE);
}

static void TestAllDirtyArrowLake(void** State) {
    (void)State;
    RunDirty(VMD_MODEL_ARROW_LAKE, VMD_DIRTY_ALL, FALSE);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestOverlappingWindows), cmocka_unit_test(TestIoWindowZero),
        cmocka_unit_test(TestDuplicateSecondaryBuses), cmocka_unit_test(TestUnassignedBars),
        cmocka_unit_test(TestAllDirtyClient),     cmocka_unit_test(TestAllDirtyServer),
        cmocka_unit_test(TestAllDirtyArrowLake),
    };
    return VMDRunTests("vmd-dirty", Tests, ARRAY_COUNT(Tests));
}
