/*
 * Test-VMDProfiles.c - the unmodified PCI core, VMD driver and NVMe driver
 * on the VMD model, one profile per test: the VMD is matched and brought up,
 * its domain enumerated through CFGBAR, the drives behind it bound, and data
 * written and read back through the disk layer on every drive; the model's
 * checks (section 6.2 G) hold on the state the drivers left, and no rule of
 * the VMD model or of the NVMe model was broken on the way.
 */
// SOURCES: $(NVME_DRIVER_SOURCES) $(VMD_DRIVER_SOURCES) utils/Pattern.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "VMDTest.h"

/** Data through every drive; the model's checks; nothing dropped on the way. */
static void ExerciseEveryDrive(VMD_TEST* T) {
    for (U32 P = 0; P < T->Config.PortCount; P++) {
        if (T->Nvme[P] == NULL) continue;
        VMDTestWriteRead(T, P, 2048 + P * 4096, 100, 17 + P);
        VMDTestWriteRead(T, P, 7, 1, 99 + P);
    }
    assert_int_equal(VMDModelCheck(T->Vmd), 0);
    VMD_MODEL_STATS Stats;
    VMDModelGetStats(T->Vmd, &Stats);
    assert_int_equal(Stats.Dropped, 0);
    assert_int_equal(Stats.DmaBlocked, 0);
    assert_true(Stats.PostedWrites > 0);
    // Every CFGBAR write read back at once: VMDModelCheck above judged each completed one. The counters are read
    // without the driver's lock, so one write of another thread (the monitor, the NVMe watchdog) may be in flight.
    assert_true(Stats.PostedWrites - Stats.PostedCompleted <= 1);
}

/** Interrupts through the VMD: every drive uses MSI-X, remapped onto VMD vectors that fired. */
static void ExpectRemapped(VMD_TEST* T) {
    VMD_INFO Info;
    VMDTestInfo(&Info);
    assert_int_equal(Info.InterruptMode, VMD_INTERRUPTS_REMAPPED);
    VMD_MODEL_STATS Stats;
    VMDModelGetStats(T->Vmd, &Stats);
    U64 Received = 0, Delivered = 0, Fired = 0;
    for (U32 V = 0; V < VMD_MODEL_MAX_VECTORS; V++) {
        Received += Stats.Received[V];
        Delivered += Stats.Delivered[V];
    }
    for (U32 V = 0; V < Info.VectorCount; V++) Fired += Info.Vectors[V].Fired;
    assert_true(Received > 0);
    assert_true(Delivered > 0);
    assert_true(Fired >= Delivered / 2);  // the CPU merges a vector's messages while one is pending
    if (T->Config.Client) assert_int_equal(Stats.Received[0], 0);
    for (U32 P = 0; P < T->Config.PortCount; P++) {
        const NVME_CONTROLLER_INFO* C = VMDTestController(T, P);
        if (C) assert_int_equal(C->InterruptMode, PCI_INTERRUPT_MSIX);
    }
}

static void TestTigerLake(void** State) {
    (void)State;
    VMD_TEST T;
    VMDTestConfig(&T, VMD_MODEL_TIGER_LAKE);
    VMDTestStartReady(&T);
    VMD_INFO Info;
    VMDTestInfo(&Info);
    assert_int_equal(Info.Segment, 0x10000);
    assert_int_equal(Info.StartBus, 0xE0);
    assert_int_equal(Info.EndBus, 0xFF);
    assert_int_equal(Info.Membar2ChildOffset, 0x2000);
    assert_int_equal(Info.FirstVector, 1);
    // Two root ports, two drives, the AHCI function (no driver): 5 functions.
    assert_int_equal(Info.PortCount, 2);
    assert_int_equal(Info.Children, 5);
    assert_non_null(PCIFindDevice(0x10000, 0xE0, 0x06, 0));
    assert_non_null(PCIFindDevice(0x10000, 0xE0, 0x17, 0));
    assert_non_null(PCIFindDevice(0x10000, 0xE0, 0x1D, 0));
    ExerciseEveryDrive(&T);
    ExpectRemapped(&T);
    VMDTestEnd(&T);
}

static void TestMeteorLake(void** State) {
    (void)State;
    VMD_TEST T;
    VMDTestConfig(&T, VMD_MODEL_METEOR_LAKE);
    VMDTestStartReady(&T);
    assert_non_null(PCIFindDevice(0x10000, 0xE1, 0, 0));
    ExerciseEveryDrive(&T);
    ExpectRemapped(&T);
    VMDTestEnd(&T);
}

static void TestAlderLakeRestrictionOne(void** State) {
    (void)State;
    VMD_TEST T;
    VMDTestConfig(&T, VMD_MODEL_ALDER_LAKE);
    VMDTestStartReady(&T);
    VMD_INFO Info;
    VMDTestInfo(&Info);
    assert_int_equal(Info.Restriction, 1);
    assert_int_equal(Info.StartBus, 0x80);
    assert_non_null(PCIFindDevice(0x10000, 0x80, 0x06, 0));
    assert_non_null(PCIFindDevice(0x10000, 0x81, 0, 0));
    ExerciseEveryDrive(&T);
    ExpectRemapped(&T);
    VMDTestEnd(&T);
}

static void TestServer28C0Bypass(void** State) {
    (void)State;
    VMD_TEST T;
    VMDTestConfig(&T, VMD_MODEL_SERVER_28C0);
    T.Config.Ports[2].Content = VMD_MODEL_EMPTY;  // a free hot-plug slot
    VMDTestStartReady(&T);
    VMD_INFO Info;
    VMDTestInfo(&Info);
    assert_int_equal(Info.InterruptMode, VMD_INTERRUPTS_BYPASS);
    assert_int_equal(Info.StartBus, 0);
    assert_int_equal(Info.Membar2ChildOffset, 0x2010);
    assert_true(VMDModelReadConfig(T.Vmd, 0x44) & 0x2);  // MSI_RMP_DIS
    ExerciseEveryDrive(&T);
    VMD_MODEL_STATS Stats;
    VMDModelGetStats(T.Vmd, &Stats);
    assert_true(Stats.Bypassed > 0);
    for (U32 V = 0; V < VMD_MODEL_MAX_VECTORS; V++) assert_int_equal(Stats.Received[V], 0);
    for (U32 P = 0; P < 4; P++) {
        const NVME_CONTROLLER_INFO* C = VMDTestController(&T, P);
        if (P == 2) assert_null(C);
        else assert_int_equal(C->InterruptMode, PCI_INTERRUPT_MSIX);
    }
    VMDTestEnd(&T);
}

static void TestSkylake201D(void** State) {
    (void)State;
    VMD_TEST T;
    VMDTestConfig(&T, VMD_MODEL_SKYLAKE_201D);
    T.Config.Ports[1].Content = VMD_MODEL_EMPTY;
    T.Config.Ports[3].Content = VMD_MODEL_EMPTY;
    VMDTestStartReady(&T);
    VMD_INFO Info;
    VMDTestInfo(&Info);
    assert_int_equal(Info.StartBus, 0);
    assert_int_equal(Info.FirstVector, 0);
    assert_non_null(PCIFindDevice(0x10000, 0x00, 0x00, 0));
    ExerciseEveryDrive(&T);
    ExpectRemapped(&T);
    VMDTestEnd(&T);
}

static void TestArrowLakeTwoRootBuses(void** State) {
    (void)State;
    VMD_TEST T;
    VMDTestConfig(&T, VMD_MODEL_ARROW_LAKE);
    VMDTestStartReady(&T);
    VMD_INFO Info;
    VMDTestInfo(&Info);
    assert_int_equal(Info.RootCount, 2);
    assert_int_equal(Info.Roots[0].Bus, 0xE0);
    assert_int_equal(Info.Roots[1].Bus, 0xE1);
    // The CPU port on root bus e0, the PCH port on root bus e1 (CFGBAR index 1), primary hard-wired to 80.
    PCI_DEVICE* Cpu = PCIFindDevice(0x10000, 0xE0, 0x06, 0);
    PCI_DEVICE* Pch = PCIFindDevice(0x10000, 0xE1, 0x1C, 0);
    assert_non_null(Cpu);
    assert_non_null(Pch);
    assert_int_equal(PCIDeviceRead8(Pch, PCI_PRIMARY_BUS), 0x80);
    assert_true(Cpu->SecondaryBus >= 0xE2 && Cpu->SecondaryBus <= 0xEF);
    assert_true(Pch->SecondaryBus >= 0xF1);
    // Each root bus's drive got its BAR from its own share of MEMBAR1 (split at MEMBAR1_OFFSET).
    assert_true(NVMeModelBar0(T.Nvme[0]) < T.Config.Membar1 + T.Config.Membar1Offset);
    assert_true(NVMeModelBar0(T.Nvme[1]) >= T.Config.Membar1 + T.Config.Membar1Offset);
    ExerciseEveryDrive(&T);
    ExpectRemapped(&T);
    VMDTestEnd(&T);
}

static void TestSwitchBehindRootPort(void** State) {
    (void)State;
    // S3 #1055: a drive behind a switch under the VMD was not found by SPDK's scanner.
    VMD_TEST T;
    VMDTestConfig(&T, VMD_MODEL_TIGER_LAKE);
    T.Config.Ports[0].Content = VMD_MODEL_SWITCH_NVME;
    VMDTestStartReady(&T);
    VMD_INFO Info;
    VMDTestInfo(&Info);
    assert_int_equal(Info.Children, 7);  // + switch upstream and downstream ports
    PCI_DEVICE* Port = PCIFindDevice(0x10000, 0xE0, 0x06, 0);
    assert_non_null(Port);
    assert_int_equal(Port->SubordinateBus, Port->SecondaryBus + 2);
    ExerciseEveryDrive(&T);
    ExpectRemapped(&T);
    VMDTestEnd(&T);
}

static void TestPolling(void** State) {
    (void)State;
    VMD_TEST T;
    VMDTestConfig(&T, VMD_MODEL_TIGER_LAKE);
    VMDTestOption(&T, "vmd.poll", "1");
    VMDTestStartReady(&T);
    VMD_INFO Info;
    VMDTestInfo(&Info);
    assert_int_equal(Info.InterruptMode, VMD_INTERRUPTS_POLLING);
    for (U32 P = 0; P < 2; P++) assert_int_equal(VMDTestController(&T, P)->InterruptMode, PCI_INTERRUPT_NONE);
    ExerciseEveryDrive(&T);
    VMD_MODEL_STATS Stats;
    VMDModelGetStats(T.Vmd, &Stats);
    assert_int_equal(Stats.ChildMessages, 0);
    VMDTestEnd(&T);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestTigerLake),          cmocka_unit_test(TestMeteorLake),
        cmocka_unit_test(TestAlderLakeRestrictionOne), cmocka_unit_test(TestServer28C0Bypass),
        cmocka_unit_test(TestSkylake201D),        cmocka_unit_test(TestArrowLakeTwoRootBuses),
        cmocka_unit_test(TestSwitchBehindRootPort), cmocka_unit_test(TestPolling),
    };
    return VMDRunTests("vmd-profiles", Tests, ARRAY_COUNT(Tests));
}
