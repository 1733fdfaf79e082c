/*
 * Test-VMDChecks.c - the VMD model's instruments can fail. With the VMD driver
 * bound (so the domain is numbered and assigned) but no NVMe driver, the test
 * reaches CFGBAR and the MEMBARs itself and does on purpose what a broken
 * driver would:
 *  - the decoder: a bus is reached only through bridges carrying real bus
 *    numbers; a root port programmed with the CFGBAR index loses its drive;
 *    indices past the CFGBAR, devices other than 0 below a port: all ones;
 *  - posted writes: a write without its read-back is a violation, and the
 *    access that comes instead still sees the state before the write;
 *  - the concurrency detector: two threads on CFGBAR without a lock are
 *    caught; the same two threads through the VMD driver's ops are not;
 *  - memory routing: a child BAR is reached only while the VMD, every bridge
 *    above and the child decode memory and the windows hold the address;
 *  - secondary bus reset: nothing answers while it is held, the drive is back
 *    at its power-on state after it, answering CRS for a while;
 *  - VMDLOCK: locked registers keep their values, and only 28C0 bypasses.
 */
// SOURCES: $(NVME_DRIVER_SOURCES) $(VMD_DRIVER_SOURCES) utils/Pattern.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "VMDTest.h"

#define RP_DEVICE 0x06           // Tiger Lake's CPU root port (e0:06.0)
#define NVME_ID 0x00101B36U
#define ROOT_PORT_ID 0x9A098086U

static U64 Address(U32 Index, U32 Device, U32 Register) {
    return ((U64)Index << 20) | ((U64)Device << 15) | Register;
}

static U32 RawRead(LINEAR Cfgbar, U32 Index, U32 Device, U32 Register) {
    return PlatformRead32(Cfgbar + Address(Index, Device, Register));
}

/** A write as a correct driver does it: then a read of the same dword. */
static void RawWrite(LINEAR Cfgbar, U32 Index, U32 Device, U32 Register, U32 Value) {
    PlatformWrite32(Cfgbar + Address(Index, Device, Register), Value);
    (void)PlatformRead32(Cfgbar + Address(Index, Device, Register));
}

/** Tiger Lake with its drives, the VMD driver bound, no NVMe driver; CFGBAR mapped for the test. */
static LINEAR Start(VMD_TEST* T, VMD_MODEL_PROFILE Profile) {
    VMDTestConfig(T, Profile);
    T->BindNvme = FALSE;
    VMDTestStartReady(T);
    LINEAR Cfgbar = PlatformMapMMIO(T->Config.Cfgbar, 32 * N_1MB);
    assert_true(Cfgbar != 0);
    return Cfgbar;
}

static void Stop(VMD_TEST* T, LINEAR Cfgbar) {
    PlatformUnmapMMIO(Cfgbar, 32 * N_1MB);
    VMDTestEnd(T);
}

static void TestDecoderRoutesRealBusNumbers(void** State) {
    (void)State;
    VMD_TEST T;
    LINEAR C = Start(&T, VMD_MODEL_TIGER_LAKE);
    assert_int_equal(RawRead(C, 0, RP_DEVICE, 0), ROOT_PORT_ID);
    assert_int_equal(RawRead(C, 0, RP_DEVICE, PCI_PRIMARY_BUS) & 0xFFFFFF, 0xE1E100);  // as the driver numbered it
    assert_int_equal(RawRead(C, 1, 0, 0), NVME_ID);                                   // bus e1 = index 1
    assert_int_equal(RawRead(C, 1, 1, 0), MAX_U32);      // below a port only device 0 answers
    assert_int_equal(RawRead(C, 9, 0, 0), MAX_U32);      // bus e9: no bridge routes it
    assert_int_equal(RawRead(C, 31, 0, 0), MAX_U32);     // bus ff: routed by nobody
    // The root port programmed with CFGBAR index 1 instead of bus e1: its drive is gone.
    RawWrite(C, 0, RP_DEVICE, PCI_PRIMARY_BUS, 0x010100);
    assert_int_equal(RawRead(C, 1, 0, 0), MAX_U32);
    VMD_MODEL_STATS Stats;
    VMDModelGetStats(T.Vmd, &Stats);
    U64 Unrouted = Stats.CfgUnrouted;
    RawWrite(C, 0, RP_DEVICE, PCI_PRIMARY_BUS, 0xE1E100);
    assert_int_equal(RawRead(C, 1, 0, 0), NVME_ID);
    VMDModelGetStats(T.Vmd, &Stats);
    assert_true(Unrouted >= 4);
    Stop(&T, C);
}

static void TestPostedWriteNeedsReadBack(void** State) {
    (void)State;
    VMD_TEST T;
    LINEAR C = Start(&T, VMD_MODEL_TIGER_LAKE);
    VMD_MODEL_STATS Before, After;
    VMDModelGetStats(T.Vmd, &Before);
    RawWrite(C, 0, RP_DEVICE, PCI_PRIMARY_BUS, 0xE1E100);  // with its read-back: completed at once
    VMDModelGetStats(T.Vmd, &After);
    assert_int_equal(After.PostedCompleted, Before.PostedCompleted + 1);
    assert_int_equal(HostPlatformViolationCount(), 0);
    // Without it: the root port loses its numbers, but the next access (to the drive below) still sees the
    // old routing - the write has not landed - and the missing read-back is reported.
    PlatformWrite32(C + Address(0, RP_DEVICE, PCI_PRIMARY_BUS), 0);
    assert_int_equal(RawRead(C, 1, 0, 0), NVME_ID);
    EXPECT_PLATFORM_VIOLATION("VMD_CFG_WRITE_NOT_COMPLETED");
    assert_int_equal(RawRead(C, 1, 0, 0), MAX_U32);  // landed after that read
    // Two writes in a row: the first was never read back.
    PlatformWrite32(C + Address(0, RP_DEVICE, PCI_PRIMARY_BUS), 0xE1E100);
    PlatformWrite32(C + Address(0, RP_DEVICE, PCI_PRIMARY_BUS), 0xE1E100);
    EXPECT_PLATFORM_VIOLATION("VMD_CFG_WRITE_NOT_COMPLETED");
    (void)RawRead(C, 0, RP_DEVICE, PCI_PRIMARY_BUS);
    assert_int_equal(RawRead(C, 1, 0, 0), NVME_ID);
    Stop(&T, C);
}

typedef struct tag_HAMMER {
    LINEAR Cfgbar;                // raw CFGBAR, or 0: through the VMD driver's segment ops
    const PCI_SEGMENT* Segment;
    U32 Loops;
    U32 Wrong;                    // reads that did not return the root port's ID
    PLATFORM_EVENT* Done;
    U32 Finished;
} HAMMER;

static void HammerThread(LPVOID Context) {
    HAMMER* H = (HAMMER*)Context;
    for (U32 I = 0; I < H->Loops; I++) {
        U32 Id = H->Cfgbar ? RawRead(H->Cfgbar, 0, RP_DEVICE, 0) : PCIConfigRead32(H->Segment, 0xE0, RP_DEVICE, 0, 0);
        if (Id != ROOT_PORT_ID) __atomic_add_fetch(&H->Wrong, 1, __ATOMIC_SEQ_CST);
    }
    if (__atomic_add_fetch(&H->Finished, 1, __ATOMIC_SEQ_CST) == 2) PlatformEventSignal(H->Done);
}

static void Hammer(HAMMER* H) {
    H->Done = PlatformEventCreate(TRUE);
    H->Finished = 0;
    assert_true(PlatformThreadCreate("hammer-a", HammerThread, H));
    assert_true(PlatformThreadCreate("hammer-b", HammerThread, H));
    assert_true(PlatformEventWait(H->Done, 600000));
    PlatformEventDestroy(H->Done);
    for (U32 Try = 0; Try < 1000 && HostPlatformLiveThreadCount() != 0; Try++) PlatformSleepMs(1);
    assert_int_equal(H->Wrong, 0);
}

static void TestConcurrencyDetector(void** State) {
    (void)State;
    VMD_TEST T;
    LINEAR C = Start(&T, VMD_MODEL_TIGER_LAKE);
    // Through the driver's ops (one lock per VMD, S1): never two at once.
    HAMMER H = {0, PCIFindDevice(0x10000, 0xE0, RP_DEVICE, 0)->SegmentInfo, 2000, 0, NULL, 0};
    Hammer(&H);
    assert_int_equal(VMDModelCountViolations(T.Vmd, VMD_RULE_CFG_CONCURRENT), 0);
    // Straight at CFGBAR from two threads, no lock: caught.
    H.Cfgbar = C;
    Hammer(&H);
    U32 Recorded = VMDTestTakeAll("VMD_CFG_CONCURRENT");
    assert_int_equal(HostPlatformViolationCount(), 0 + (VMDModelCountViolations(T.Vmd, VMD_RULE_CFG_CONCURRENT) -
                                                        Recorded));  // the platform keeps 256 records
    assert_true(Recorded > 0);
    HostPlatformClearViolations();
    Stop(&T, C);
}

static void TestMemoryRouting(void** State) {
    (void)State;
    VMD_TEST T;
    LINEAR C = Start(&T, VMD_MODEL_TIGER_LAKE);
    PCI_DEVICE* Port = PCIFindDevice(0x10000, 0xE0, RP_DEVICE, 0);
    PCI_DEVICE* Drive = PCIFindDevice(0x10000, 0xE1, 0, 0);
    assert_true(Port && Drive);
    assert_true(Drive->Bars[0].Base >= T.Config.Membar1);
    LINEAR Registers = PlatformMapMMIO(Drive->Bars[0].Base, 0x4000);
    assert_int_equal(PlatformRead32(Registers + 0x08), 0x00010400);  // VS, through MEMBAR1 and the root port
    U16 Command = PCIReadCommand(Port);
    PCIDeviceWrite16(Port, PCI_COMMAND, Command & ~PCI_COMMAND_MEMORY);
    assert_int_equal(PlatformRead32(Registers + 0x08), MAX_U32);
    EXPECT_PLATFORM_VIOLATION("VMD_MEM_UNCLAIMED");
    PCIDeviceWrite16(Port, PCI_COMMAND, Command);
    U32 Window = PCIDeviceRead32(Port, PCI_MEMORY_BASE);
    PCIDeviceWrite32(Port, PCI_MEMORY_BASE, 0x0000FFF0);  // closed
    assert_int_equal(PlatformRead32(Registers + 0x08), MAX_U32);
    EXPECT_PLATFORM_VIOLATION("VMD_MEM_UNCLAIMED");
    PCIDeviceWrite32(Port, PCI_MEMORY_BASE, Window);
    U16 VmdCommand = PCIReadCommand(T.Device);
    PCIDeviceWrite16(T.Device, PCI_COMMAND, VmdCommand & ~PCI_COMMAND_MEMORY);
    assert_int_equal(PlatformRead32(Registers + 0x08), MAX_U32);
    EXPECT_PLATFORM_VIOLATION("VMD_MEM_DECODE_DISABLED");
    (void)RawRead(C, 0, RP_DEVICE, 0);
    EXPECT_PLATFORM_VIOLATION("VMD_CFG_DECODE_DISABLED");
    PCIDeviceWrite16(T.Device, PCI_COMMAND, VmdCommand);
    assert_int_equal(PlatformRead32(Registers + 0x08), 0x00010400);
    PlatformUnmapMMIO(Registers, 0x4000);
    Stop(&T, C);
}

static void TestSecondaryBusResetAndCrs(void** State) {
    (void)State;
    VMD_TEST T;
    LINEAR C = Start(&T, VMD_MODEL_TIGER_LAKE);
    assert_true(RawRead(C, 1, 0, PCI_BAR0) != 0);
    U32 Control = RawRead(C, 0, RP_DEVICE, PCI_INTERRUPT_LINE);
    RawWrite(C, 0, RP_DEVICE, PCI_INTERRUPT_LINE, Control | ((U32)PCI_BRIDGE_CONTROL_BUS_RESET << 16));
    assert_int_equal(RawRead(C, 1, 0, 0), MAX_U32);  // held in reset: nothing below answers
    RawWrite(C, 0, RP_DEVICE, PCI_INTERRUPT_LINE, Control);
    assert_int_equal(RawRead(C, 1, 0, 0), 0xFFFF0001);  // Configuration Request Retry Status
    PlatformSleepMs(T.Config.CrsMs + 10);
    assert_int_equal(RawRead(C, 1, 0, 0), NVME_ID);
    assert_int_equal(RawRead(C, 1, 0, PCI_BAR0), 0x4);                 // power-on state: BAR 0 (64-bit)
    assert_int_equal(RawRead(C, 1, 0, PCI_COMMAND) & 0x7, 0);
    NVME_MODEL_STATS Stats;
    NVMeModelGetStats(T.Nvme[0], &Stats);
    assert_int_equal(Stats.PciResets, 1);
    NVMeModelGetStats(T.Nvme[1], &Stats);
    assert_int_equal(Stats.PciResets, 0);  // the other root port's drive was not reset
    VMD_MODEL_STATS Vmd;
    VMDModelGetStats(T.Vmd, &Vmd);
    assert_int_equal(Vmd.SecondaryResets, 1);
    assert_true(Vmd.CfgCrs >= 1);
    Stop(&T, C);
}

static void TestLockedRegisters(void** State) {
    (void)State;
    VMD_TEST T;
    LINEAR C = Start(&T, VMD_MODEL_TIGER_LAKE);
    U32 Vmconfig = PCIDeviceRead32(T.Device, 0x44);
    assert_true(Vmconfig & 1);
    PCIDeviceWrite32(T.Device, 0x44, (Vmconfig & ~0x300U) | 0x100);  // restriction 1: only firmware may
    EXPECT_PLATFORM_VIOLATION("VMD_LOCKED_REGISTER");
    assert_int_equal(PCIDeviceRead32(T.Device, 0x44), Vmconfig);
    PCIDeviceWrite32(T.Device, 0x44, Vmconfig | 0x2);  // MSI_RMP_DIS: a client VMD cannot bypass
    assert_int_equal(PCIDeviceRead32(T.Device, 0x44), Vmconfig);
    PCIDeviceWrite32(T.Device, 0x48, 0x12345678);       // VMASSIGN, locked
    EXPECT_PLATFORM_VIOLATION("VMD_LOCKED_REGISTER");
    assert_int_equal(PCIDeviceRead32(T.Device, 0x48), 0);
    // A 28C0 as firmware leaves it before locking: everything writable, bypass takes effect, then locked for good.
    VMD_MODEL_CONFIG Server;
    VMDModelProfileConfig(&Server, VMD_MODEL_SERVER_28C0);
    Server.Vmconfig = 0;
    VMD_MODEL* Unlocked = VMDModelCreate(&Server);
    const PCI_SEGMENT* S = VMDModelSegment(Unlocked);
    PCIConfigWrite32(S, 0x64, 5, 5, 0x44, 0x102);
    assert_int_equal(PCIConfigRead32(S, 0x64, 5, 5, 0x44), 0x102);
    PCIConfigWrite32(S, 0x64, 5, 5, 0x44, 0x103);        // lock
    PCIConfigWrite32(S, 0x64, 5, 5, 0x44, 0x001);        // the lock stays; bit 1 is still the OS's
    EXPECT_PLATFORM_VIOLATION("VMD_LOCKED_REGISTER");
    assert_int_equal(PCIConfigRead32(S, 0x64, 5, 5, 0x44), 0x101);
    VMDModelFirmwareReset(Unlocked);
    VMDModelDestroy(Unlocked);
    Stop(&T, C);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestDecoderRoutesRealBusNumbers), cmocka_unit_test(TestPostedWriteNeedsReadBack),
        cmocka_unit_test(TestConcurrencyDetector),         cmocka_unit_test(TestMemoryRouting),
        cmocka_unit_test(TestSecondaryBusResetAndCrs),     cmocka_unit_test(TestLockedRegisters),
    };
    return VMDRunTests("vmd-checks", Tests, ARRAY_COUNT(Tests));
}
