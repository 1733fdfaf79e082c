/*
 * Test-VMDReset.c - `vmd reset` (VMDReset), hot plug and error reporting of
 * the VMD driver on the model, with the NVMe driver bound:
 *  - a secondary bus reset of every root port: the drives are reset to their
 *    power-on state, answer CRS for a while (the driver waits), the domain is
 *    enumerated again with the same BARs, the NVMe driver resets its
 *    controllers when told the reset is done, and the disks come back under
 *    their names with their data (also with a switch below a root port);
 *  - hot plug: a drive pulled from a slot is removed from the PCI list, a
 *    drive put in is found below the port and bound; the attention button
 *    removes and powers the slot off, which ejects the drive;
 *  - a reset while another thread does I/O: the NVMe driver is told before
 *    and after (ResetPrepare/ResetDone), rings no deleted queue, loses nothing;
 *  - AER: errors a root port records are counted, decoded and cleared.
 * What the NVMe driver does with a controller that vanished (it has no Detach
 * entry: its watchdog reads all ones and fails the controller, touching a
 * MEMBAR address no child claims any more) is counted, not hidden.
 */
// SOURCES: $(NVME_DRIVER_SOURCES) $(VMD_DRIVER_SOURCES) utils/Pattern.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <string.h>

#include "VMDTest.h"

/** Waits (platform time) until every bound controller is ready with its I/O queues back after Resets resets. */
static void WaitControllersBack(U64 Resets) {
    for (U32 Try = 0; Try < 10000; Try++) {
        BOOL Back = TRUE;
        for (U32 C = 0; C < NVMeGetControllerCount(); C++) {
            NVME_CONTROLLER_INFO Info;
            if (NVMeGetController(C, &Info) != KSTATUS_SUCCESS || Info.State == NVME_STATE_FAILED) continue;
            Back &= Info.State == NVME_STATE_READY && Info.Resets >= Resets && Info.IoQueueCount >= 1 &&
                    Info.QueueCount == 1 + Info.IoQueueCount;
        }
        if (Back) return;
        PlatformSleepMs(1);
    }
    HostLogDump();
    fail_msg("controllers not back after the reset");
}

static void ExpectDataKept(VMD_TEST* T, U32 Port, U64 Lba, U32 Sectors) {
    DISK* Disk = VMDTestDisk(T, Port);
    U64 Length = (U64)Sectors * Disk->SectorSize;
    U8* Buffer = (U8*)malloc(Length);
    U8* Stored = (U8*)malloc(Length);
    assert_int_equal(DiskRead(Disk, Lba, Sectors, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(DiskBackendRead(NVMeModelBackend(T->Nvme[Port], 1), Lba * Disk->SectorSize, Stored, Length),
                     KSTATUS_SUCCESS);
    assert_memory_equal(Buffer, Stored, Length);
    MemoryBusForget(HostPlatformMemoryBus(), Buffer, Length);
    free(Buffer);
    free(Stored);
}

static void ResetAndCheck(VMD_TEST* T) {
    char Names[2][DISK_NAME_LENGTH];
    for (U32 P = 0; P < 2; P++) {
        VMDTestWriteRead(T, P, 4000, 64, 50 + P);
        snprintf(Names[P], sizeof(Names[P]), "%s", VMDTestDisk(T, P)->Name);
    }
    PHYSICAL Bars[2] = {NVMeModelBar0(T->Nvme[0]), NVMeModelBar0(T->Nvme[1])};
    assert_int_equal(VMDReset(0), KSTATUS_SUCCESS);
    VMD_MODEL_STATS Stats;
    VMDModelGetStats(T->Vmd, &Stats);
    assert_int_equal(Stats.SecondaryResets, 2);
    assert_true(Stats.CfgCrs >= 1);  // the drives were still initialising: the driver waited through CRS
    for (U32 P = 0; P < 2; P++) {
        NVME_MODEL_STATS Drive;
        NVMeModelGetStats(T->Nvme[P], &Drive);
        assert_int_equal(Drive.PciResets, 1);
        assert_int_equal(NVMeModelBar0(T->Nvme[P]), Bars[P]);  // assigned again where it was
    }
    WaitControllersBack(1);
    VMD_INFO Info;
    VMDTestInfo(&Info);
    assert_int_equal(Info.Resets, 1);
    assert_int_equal(Info.State, VMD_STATE_RUNNING);
    for (U32 P = 0; P < 2; P++) {
        assert_string_equal(VMDTestDisk(T, P)->Name, Names[P]);
        ExpectDataKept(T, P, 4000, 64);
        VMDTestWriteRead(T, P, 9000, 32, 60 + P);
    }
    assert_int_equal(NVMeGetControllerCount(), 2);
    assert_int_equal(VMDModelCheck(T->Vmd), 0);
}

static void TestSecondaryBusResetKeepsDrives(void** State) {
    (void)State;
    VMD_TEST T;
    VMDTestConfig(&T, VMD_MODEL_TIGER_LAKE);
    VMDTestStartReady(&T);
    ResetAndCheck(&T);
    VMDTestEnd(&T);
}

static void TestSecondaryBusResetThroughSwitch(void** State) {
    (void)State;
    // The reset wipes the switch's bus numbers and windows too; the fresh enumeration numbers them again.
    VMD_TEST T;
    VMDTestConfig(&T, VMD_MODEL_ALDER_LAKE);
    T.Config.PortCount = 2;
    T.Config.Ports[1] = T.Config.Ports[0];
    T.Config.Ports[1].Device = 0x1D;
    T.Config.Ports[0].Content = VMD_MODEL_SWITCH_NVME;
    VMDTestStartReady(&T);
    ResetAndCheck(&T);
    VMDTestEnd(&T);
}

/** I/O on one drive from a thread of its own while `vmd reset` runs (the other CPU of a real machine). */
typedef struct tag_IO_WORKER {
    DISK* Disk;
    volatile BOOL Stop;
    U32 Rounds, Failures, Mismatches;
} IO_WORKER;

static void* IoWorkerThread(void* Context) {
    IO_WORKER* W = (IO_WORKER*)Context;
    U8 Out[8 * 512], In[8 * 512];
    for (U32 Round = 0; !W->Stop || Round < 20; Round++) {
        U64 Lba = 2000 + (Round % 64) * 8;
        for (U32 I = 0; I < sizeof(Out); I++) Out[I] = (U8)(Round * 7 + I);
        if (DiskWrite(W->Disk, Lba, 8, Out) != KSTATUS_SUCCESS || DiskRead(W->Disk, Lba, 8, In) != KSTATUS_SUCCESS) {
            W->Failures++;
        } else if (memcmp(Out, In, sizeof(In)) != 0) {
            W->Mismatches++;
        }
        W->Rounds++;
    }
    MemoryBusForget(HostPlatformMemoryBus(), Out, sizeof(Out));
    MemoryBusForget(HostPlatformMemoryBus(), In, sizeof(In));
    return NULL;
}

static void TestResetDuringIoRingsNoDeadQueue(void** State) {
    (void)State;
    // The NVMe driver is told before the reset (ResetPrepare) and after it (ResetDone): I/O submitted meanwhile
    // is held, not rung into queues the reset deleted (the model's doorbell rules would record that), and it
    // all completes afterwards with its data.
    VMD_TEST T;
    VMDTestConfig(&T, VMD_MODEL_TIGER_LAKE);
    VMDTestStartReady(&T);
    IO_WORKER Worker = {VMDTestDisk(&T, 0), FALSE, 0, 0, 0};
    pthread_t Thread;
    assert_int_equal(pthread_create(&Thread, NULL, IoWorkerThread, &Worker), 0);
    while (__atomic_load_n(&Worker.Rounds, __ATOMIC_ACQUIRE) < 5) PlatformSleepMs(1);
    assert_int_equal(VMDReset(0), KSTATUS_SUCCESS);
    PlatformSleepMs(50);
    Worker.Stop = TRUE;
    assert_int_equal(pthread_join(Thread, NULL), 0);
    assert_int_equal(Worker.Failures, 0);
    assert_int_equal(Worker.Mismatches, 0);
    NVME_CONTROLLER_INFO Info;
    assert_int_equal(NVMeGetController(0, &Info), KSTATUS_SUCCESS);
    assert_int_equal(Info.State, NVME_STATE_READY);
    assert_true(Info.Resets >= 1);  // reset by ResetDone, not left for the watchdog to find
    VMDTestWriteRead(&T, 0, 9000, 32, 80);
    VMDTestEnd(&T);  // fails on any NVMe conformance violation (a doorbell of a deleted queue among them)
}

static void TestHotplugRemoveAndAdd(void** State) {
    (void)State;
    VMD_TEST T;
    VMDTestConfig(&T, VMD_MODEL_TIGER_LAKE);  // port 1 (1d.0) is a hot-plug slot
    VMDTestStartReady(&T);
    VMDTestWriteRead(&T, 1, 10, 8, 70);
    PCI_DEVICE* Old = PCIFindDevice(0x10000, 0xE2, 0, 0);
    assert_non_null(Old);
    VMDModelUnplug(T.Vmd, 1);
    PlatformSleepMs(1500);  // the monitor polls once a second
    assert_true(Old->Removed);
    assert_null(PCIFindDevice(0x10000, 0xE2, 0, 0));
    VMD_INFO Info;
    VMDTestInfo(&Info);
    assert_false(Info.Ports[1].Present);
    assert_int_equal(Info.Ports[1].Children, 0);
    assert_true(Info.Ports[1].HotplugEvents >= 1);
    PlatformSleepMs(3000);  // let the NVMe driver find out
    // The PCI core detached the NVMe driver from the vanished function: it never touches its BAR again.
    assert_int_equal(VMDTestTakeAll("VMD_MEM_UNCLAIMED"), 0);
    assert_int_equal(VMDTestControllerState(1), NVME_STATE_REMOVED);

    // A new drive in the same slot: found below the port within the bus and window it kept, and bound.
    NVME_MODEL* New = VMDTestMakeNvme(&T.Config, 1);
    T.Nvme[1] = New;
    VMDModelPlug(T.Vmd, 1, New);
    PlatformSleepMs(2500);
    assert_non_null(PCIFindDevice(0x10000, 0xE2, 0, 0));
    assert_int_equal(NVMeGetControllerCount(), 3);
    assert_int_equal(VMDTestControllerState(2), NVME_STATE_READY);
    VMDTestWriteRead(&T, 1, 20, 8, 71);
    VMDTestWriteRead(&T, 0, 20, 8, 72);  // the other drive never noticed
    assert_int_equal(VMDModelCheck(T.Vmd), 0);
    VMDTestEnd(&T);
}

static void TestAttentionButtonEjects(void** State) {
    (void)State;
    VMD_TEST T;
    VMDTestConfig(&T, VMD_MODEL_METEOR_LAKE);  // port 0 (06.0): hot-plug slot with a power controller
    VMDTestStartReady(&T);
    VMDModelPressAttention(T.Vmd, 0);
    PlatformSleepMs(1500);
    // Removed, then the slot powered off (indicators off), which let the drive go.
    U32 SlotDword = VMDModelPeekFunction(T.Vmd, VMDModelPortFunction(T.Vmd, 0), 0x58);
    assert_true(SlotDword & PCI_EXP_SLOT_CONTROL_POWER_OFF);
    assert_false((SlotDword >> 16) & PCI_EXP_SLOT_STATUS_PRESENT);
    assert_null(PCIFindDevice(0x10000, 0xE1, 0, 0));
    PlatformSleepMs(3000);
    VMDTestTakeAll("VMD_MEM_UNCLAIMED");  // the NVMe driver gap again (no Detach)
    // Put a drive back: the monitor powers the slot on, waits, and binds it.
    NVME_MODEL* New = VMDTestMakeNvme(&T.Config, 0);
    T.Nvme[0] = New;
    VMDModelPlug(T.Vmd, 0, New);
    PlatformSleepMs(3500);
    SlotDword = VMDModelPeekFunction(T.Vmd, VMDModelPortFunction(T.Vmd, 0), 0x58);
    assert_false(SlotDword & PCI_EXP_SLOT_CONTROL_POWER_OFF);
    assert_non_null(PCIFindDevice(0x10000, 0xE1, 0, 0));
    VMDTestWriteRead(&T, 0, 5, 8, 73);
    VMDTestEnd(&T);
}

static void TestAerErrorsCounted(void** State) {
    (void)State;
    VMD_TEST T;
    VMDTestConfig(&T, VMD_MODEL_TIGER_LAKE);
    VMDTestStartReady(&T);
    VMDModelInjectError(T.Vmd, 0, TRUE, 0x00000001);    // Receiver Error
    VMDModelInjectError(T.Vmd, 1, FALSE, 0x00004000);   // Completion Timeout
    PlatformSleepMs(1500);
    VMD_INFO Info;
    VMDTestInfo(&Info);
    assert_int_equal(Info.Ports[0].CorrectableErrors, 1);
    assert_int_equal(Info.Ports[0].LastCorrectable, 0x1);
    assert_int_equal(Info.Ports[1].UncorrectableErrors, 1);
    assert_int_equal(Info.Ports[1].LastUncorrectable, 0x4000);
    // Cleared (RW1C) so the next poll does not count them again.
    assert_int_equal(VMDModelPeekFunction(T.Vmd, VMDModelPortFunction(T.Vmd, 0), 0x110), 0);
    assert_int_equal(VMDModelPeekFunction(T.Vmd, VMDModelPortFunction(T.Vmd, 1), 0x104), 0);
    PlatformSleepMs(1500);
    VMDTestInfo(&Info);
    assert_int_equal(Info.Ports[0].CorrectableErrors, 1);
    VMDTestWriteRead(&T, 0, 1, 1, 74);
    VMDTestEnd(&T);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestSecondaryBusResetKeepsDrives), cmocka_unit_test(TestSecondaryBusResetThroughSwitch),
        cmocka_unit_test(TestHotplugRemoveAndAdd),          cmocka_unit_test(TestAttentionButtonEjects),
        cmocka_unit_test(TestAerErrorsCounted),             cmocka_unit_test(TestResetDuringIoRingsNoDeadQueue),
    };
    return VMDRunTests("vmd-reset", Tests, ARRAY_COUNT(Tests));
}
