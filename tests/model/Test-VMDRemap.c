/*
 * Test-VMDRemap.c - the VMD model's interrupt engine (fact sheet 6.2 E) and
 * the platform's remapped-message path (drivers/Platform-Remap.c), with the
 * VMD driver bound (its MSI-X set up, one CPU vector per VMD vector) and no
 * NVMe driver: a hand-written host (TinyDriver) makes the drive behind the
 * VMD complete admin commands, and the test aims the drive's MSI-X entry 0
 * at whatever VMD vector it wants to see:
 *  - the VMD vector is the address's bits 19:12; data is ignored but flagged;
 *  - vector 0 of a client VMD forwards nothing; on 201D it does;
 *  - an index beyond the VMD's table is dropped;
 *  - a masked VMD entry, or the VMD's function mask, keeps the message in the
 *    PBA until it is lifted;
 *  - messages and DMA go upstream only through bus masters;
 *  - INTx is never forwarded;
 *  - PlatformInterruptSetup on a function behind the VMD composes remapped
 *    messages, connects handlers to the VMD's vectors and gives them back;
 *    in bypass (28C0) the messages go through unchanged; with vmd.poll=1
 *    there is nothing to set up.
 */
// SOURCES: $(NVME_DRIVER_SOURCES) $(VMD_DRIVER_SOURCES) utils/Pattern.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "TinyDriver.h"
#include "VMDTest.h"

typedef struct tag_REMAP_TEST {
    VMD_TEST T;
    TINY_DRIVER Tiny;
    NVME_MODEL* Drive;
    PCI_DEVICE* Device;   // the drive's PCI_DEVICE behind the VMD
    U8 Msix;              // the drive's MSI-X capability
} REMAP_TEST;

static void Setup(REMAP_TEST* R, VMD_MODEL_PROFILE Profile) {
    memset(R, 0, sizeof(*R));
    VMDTestConfig(&R->T, Profile);
    R->T.BindNvme = FALSE;
    VMDTestStartReady(&R->T);
    R->Drive = R->T.Nvme[0];
    for (PCI_DEVICE* D = PCIGetFirstDevice(); D; D = D->Next) {
        if (D->Segment == 0x10000 && D->Bars[0].Base == NVMeModelBar0(R->Drive)) R->Device = D;
    }
    assert_non_null(R->Device);
    R->Msix = NVMeModelCapabilityOffset(R->Drive, PCI_CAP_ID_MSIX);
    TinyInit(&R->Tiny, R->Drive);
    assert_true(TinyEnable(&R->Tiny, 8));
}

/** Programs the drive's MSI-X entry 0 (the admin CQ's) and enables MSI-X. */
static void Aim(REMAP_TEST* R, U64 Address, U32 Data, BOOL Masked) {
    U32* Entry = (U32*)NVMeModelMsixTable(R->Drive);
    __atomic_store_n(&Entry[3], 1U, __ATOMIC_SEQ_CST);
    __atomic_store_n(&Entry[0], (U32)Address, __ATOMIC_SEQ_CST);
    __atomic_store_n(&Entry[1], (U32)(Address >> 32), __ATOMIC_SEQ_CST);
    __atomic_store_n(&Entry[2], Data, __ATOMIC_SEQ_CST);
    __atomic_store_n(&Entry[3], Masked ? 1U : 0U, __ATOMIC_SEQ_CST);
    U32 Dword = NVMeModelConfigRead32(R->Drive, R->Msix);
    NVMeModelConfigWrite32(R->Drive, R->Msix, Dword | ((U32)PCI_MSIX_CONTROL_ENABLE << 16));
    NVMeModelSyncMessages(R->Drive);
}

/** One admin command: its completion signals the admin CQ's vector (entry 0). */
static void Trigger(REMAP_TEST* R) {
    static U8 Data[4096] __attribute__((aligned(4096)));
    assert_int_equal(TinyIdentify(&R->Tiny, 1, 0, Data), 0);
    HostPlatformWaitIdle(5000);
}

static U64 Fired(U32 Vector) {
    VMD_INFO Info;
    VMDTestInfo(&Info);
    return Vector < Info.VectorCount ? Info.Vectors[Vector].Fired : 0;
}

static void End(REMAP_TEST* R) { VMDTestEnd(&R->T); }

static void TestIndexFromAddressBits(void** State) {
    (void)State;
    REMAP_TEST R;
    Setup(&R, VMD_MODEL_TIGER_LAKE);
    static const U32 Vectors[] = {1, 2, 7, 31};
    for (U32 I = 0; I < ARRAY_COUNT(Vectors); I++) {
        U32 V = Vectors[I];
        U64 Before = Fired(V);
        Aim(&R, 0xFEE00000ULL | (V << 12), 0, FALSE);
        Trigger(&R);
        VMD_MODEL_STATS Stats;
        VMDModelGetStats(R.T.Vmd, &Stats);
        assert_int_equal(Stats.Received[V], 1);
        assert_int_equal(Stats.Delivered[V], 1);
        assert_int_equal(Fired(V), Before + 1);  // the VMD driver's handler for that vector ran
    }
    End(&R);
}

static void TestClientVectorZeroDropped(void** State) {
    (void)State;
    REMAP_TEST R;
    Setup(&R, VMD_MODEL_TIGER_LAKE);
    Aim(&R, 0xFEE00000ULL, 0, FALSE);
    Trigger(&R);
    EXPECT_PLATFORM_VIOLATION("VMD_REMAP_VECTOR_ZERO");
    VMD_MODEL_STATS Stats;
    VMDModelGetStats(R.T.Vmd, &Stats);
    assert_int_equal(Stats.Dropped, 1);
    assert_int_equal(Stats.Delivered[0], 0);
    End(&R);
}

static void TestServerVectorZeroForwarded(void** State) {
    (void)State;
    REMAP_TEST R;
    Setup(&R, VMD_MODEL_SKYLAKE_201D);
    U64 Before = Fired(0);
    Aim(&R, 0xFEE00000ULL, 0, FALSE);
    Trigger(&R);
    VMD_MODEL_STATS Stats;
    VMDModelGetStats(R.T.Vmd, &Stats);
    assert_int_equal(Stats.Delivered[0], 1);
    assert_int_equal(Fired(0), Before + 1);
    End(&R);
}

static void TestIndexBeyondTableDropped(void** State) {
    (void)State;
    REMAP_TEST R;
    Setup(&R, VMD_MODEL_TIGER_LAKE);
    Aim(&R, 0xFEE00000ULL | (40 << 12), 0, FALSE);  // the table has 32 entries
    Trigger(&R);
    EXPECT_PLATFORM_VIOLATION("VMD_REMAP_INDEX");
    Aim(&R, 0xFEF00000ULL, 0, FALSE);  // not a remappable address at all
    Trigger(&R);
    EXPECT_PLATFORM_VIOLATION("VMD_REMAP_ADDRESS");
    VMD_MODEL_STATS Stats;
    VMDModelGetStats(R.T.Vmd, &Stats);
    assert_int_equal(Stats.Dropped, 2);
    End(&R);
}

static void TestDataIgnoredButFlagged(void** State) {
    (void)State;
    REMAP_TEST R;
    Setup(&R, VMD_MODEL_METEOR_LAKE);
    Aim(&R, 0xFEE00000ULL | (3 << 12), 0x4041, FALSE);
    Trigger(&R);
    EXPECT_PLATFORM_VIOLATION("VMD_REMAP_DATA");
    VMD_MODEL_STATS Stats;
    VMDModelGetStats(R.T.Vmd, &Stats);
    assert_int_equal(Stats.Delivered[3], 1);
    End(&R);
}

static void TestMasksKeepMessagesPending(void** State) {
    (void)State;
    REMAP_TEST R;
    Setup(&R, VMD_MODEL_TIGER_LAKE);
    U32* VmdEntry = (U32*)HostMmioDirect(R.T.Config.Membar2 + 5 * 16, 16);
    U32* Pba = (U32*)HostMmioDirect(R.T.Config.Membar2 + 0x1000, 8);
    assert_true(VmdEntry && Pba);
    // VMD entry 5 masked: the message waits in the PBA.
    __atomic_store_n(&VmdEntry[3], 1U, __ATOMIC_SEQ_CST);
    Aim(&R, 0xFEE00000ULL | (5 << 12), 0, FALSE);
    U64 Before = Fired(5);
    Trigger(&R);
    assert_true(__atomic_load_n(Pba, __ATOMIC_SEQ_CST) & (1U << 5));
    assert_int_equal(Fired(5), Before);
    __atomic_store_n(&VmdEntry[3], 0U, __ATOMIC_SEQ_CST);
    HostMmioSyncAll();
    HostPlatformWaitIdle(5000);
    assert_false(__atomic_load_n(Pba, __ATOMIC_SEQ_CST) & (1U << 5));
    assert_int_equal(Fired(5), Before + 1);
    // The VMD's function mask holds every vector the same way.
    PCI_MSIX_INFO Msix;
    assert_true(PCIMSIXRead(R.T.Device, &Msix));
    U16 Control = PCIDeviceRead16(R.T.Device, Msix.Capability + PCI_MSIX_CONTROL);
    PCIDeviceWrite16(R.T.Device, Msix.Capability + PCI_MSIX_CONTROL, Control | PCI_MSIX_CONTROL_FUNCTION_MASK);
    Trigger(&R);
    assert_true(__atomic_load_n(Pba, __ATOMIC_SEQ_CST) & (1U << 5));
    assert_int_equal(Fired(5), Before + 1);
    PCIDeviceWrite16(R.T.Device, Msix.Capability + PCI_MSIX_CONTROL, Control);
    HostPlatformWaitIdle(5000);
    assert_int_equal(Fired(5), Before + 2);
    VMD_MODEL_STATS Stats;
    VMDModelGetStats(R.T.Vmd, &Stats);
    assert_int_equal(Stats.MaskedPending, 2);
    End(&R);
}

static void TestBusMastersGateMessagesAndDma(void** State) {
    (void)State;
    REMAP_TEST R;
    Setup(&R, VMD_MODEL_TIGER_LAKE);
    PCI_DEVICE* Port = R.Device->Parent;
    assert_non_null(Port);
    U16 Command = PCIReadCommand(Port);
    // A message left pending behind a masked entry of the drive, sent once the root port no longer masters.
    Aim(&R, 0xFEE00000ULL | (2 << 12), 0, TRUE);
    Trigger(&R);
    PCIDeviceWrite16(Port, PCI_COMMAND, Command & ~PCI_COMMAND_BUS_MASTER);
    __atomic_store_n(&((U32*)NVMeModelMsixTable(R.Drive))[3], 0U, __ATOMIC_SEQ_CST);
    NVMeModelSyncMessages(R.Drive);
    EXPECT_PLATFORM_VIOLATION("VMD_MSG_BLOCKED");
    // Nor can the drive fetch its next command.
    U64 Before = Fired(2);
    NM_SQE Command0 = TinyMakeCommand(&R.Tiny, 0x06, 0);  // Identify
    Command0.Cdw10 = 1;
    TinySubmit(&R.Tiny, 0, &Command0);
    HostPlatformWaitIdle(5000);
    assert_true(VMDTestTakeAll("VMD_DMA_BLOCKED") >= 1);
    assert_int_equal(Fired(2), Before);
    VMD_MODEL_STATS Stats;
    VMDModelGetStats(R.T.Vmd, &Stats);
    assert_true(Stats.DmaBlocked >= 1);
    PCIDeviceWrite16(Port, PCI_COMMAND, Command);
    // The drive saw a failed transfer; what it made of it is its business (conformance records, if any, taken).
    while (NVMeModelViolationCount(R.Drive)) NVMeModelClearViolations(R.Drive);
    End(&R);
}

static void TestIntxNeverForwarded(void** State) {
    (void)State;
    REMAP_TEST R;
    Setup(&R, VMD_MODEL_TIGER_LAKE);
    // MSI-X off and INTx Disable cleared, as a driver that forgot PCI_SEGMENT_NO_INTX would leave it.
    U32 Command = NVMeModelConfigRead32(R.Drive, PCI_COMMAND);
    NVMeModelConfigWrite32(R.Drive, PCI_COMMAND, Command & ~(U32)PCI_COMMAND_INTX_DISABLE);
    Trigger(&R);
    assert_true(VMDTestTakeAll("VMD_INTX") >= 1);
    VMD_MODEL_STATS Stats;
    VMDModelGetStats(R.T.Vmd, &Stats);
    assert_true(Stats.IntxAsserted >= 1);
    assert_int_equal(Stats.ChildMessages, 0);
    NVMeModelConfigWrite32(R.Drive, PCI_COMMAND, Command);
    End(&R);
}

static BOOL CountCall(LPVOID Context) {
    __atomic_add_fetch((U32*)Context, 1, __ATOMIC_SEQ_CST);
    return TRUE;
}

static void TestPlatformRemapsThroughTheVmd(void** State) {
    (void)State;
    REMAP_TEST R;
    Setup(&R, VMD_MODEL_TIGER_LAKE);
    U32 Calls[2] = {0, 0};
    LPVOID Contexts[2] = {&Calls[0], &Calls[1]};
    PLATFORM_INTERRUPTS Interrupts;
    assert_int_equal(PlatformInterruptSetup(R.Device, 2, PLATFORM_ALLOW_ALL, CountCall, Contexts, 2, &Interrupts),
                     KSTATUS_SUCCESS);
    assert_int_equal(Interrupts.Mode, PCI_INTERRUPT_MSIX);
    assert_int_equal(Interrupts.Count, 2);
    const U32* Table = (const U32*)NVMeModelMsixTable(R.Drive);
    U32 V0 = (Table[0] >> 12) & 0xFF, V1 = (Table[4] >> 12) & 0xFF;
    assert_true(V0 >= 1 && V1 >= 1 && V0 != V1);  // an NVMe's vectors spread over the VMD's (Linux vmd_next_irq)
    assert_int_equal(Table[2], 0);
    VMD_INFO Info;
    VMDTestInfo(&Info);
    assert_int_equal(Info.Vectors[V0].Handlers, 1);
    assert_int_equal(Info.Vectors[V0].Messages, 1);
    assert_int_equal(Interrupts.Vectors[0], Info.Vectors[V0].CpuVector);
    Trigger(&R);  // the admin CQ signals entry 0
    assert_int_equal(Calls[0], 1);
    assert_int_equal(Calls[1], 0);
    assert_int_equal(PlatformInterruptCount(&Interrupts, 0), Fired(V0));
    PlatformInterruptRelease(R.Device, &Interrupts);
    VMDTestInfo(&Info);
    assert_int_equal(Info.Vectors[V0].Handlers + Info.Vectors[V1].Handlers, 0);
    assert_int_equal(Info.Vectors[V0].Messages + Info.Vectors[V1].Messages, 0);
    End(&R);
}

static void TestBypassPassesMessagesThrough(void** State) {
    (void)State;
    REMAP_TEST R;
    Setup(&R, VMD_MODEL_SERVER_28C0);
    U32 Calls = 0;
    LPVOID Contexts[1] = {&Calls};
    PLATFORM_INTERRUPTS Interrupts;
    assert_int_equal(PlatformInterruptSetup(R.Device, 1, PLATFORM_ALLOW_ALL, CountCall, Contexts, 1, &Interrupts),
                     KSTATUS_SUCCESS);
    const U32* Table = (const U32*)NVMeModelMsixTable(R.Drive);
    assert_int_equal(Table[2], Interrupts.Vectors[0]);  // an ordinary message: data is the CPU vector
    Trigger(&R);
    assert_int_equal(Calls, 1);
    VMD_MODEL_STATS Stats;
    VMDModelGetStats(R.T.Vmd, &Stats);
    assert_int_equal(Stats.Bypassed, 1);
    PlatformInterruptRelease(R.Device, &Interrupts);
    End(&R);
}

static void TestPollingSetsNothingUp(void** State) {
    (void)State;
    REMAP_TEST R;
    memset(&R, 0, sizeof(R));
    VMDTestConfig(&R.T, VMD_MODEL_TIGER_LAKE);
    R.T.BindNvme = FALSE;
    VMDTestOption(&R.T, "vmd.poll", "1");
    VMDTestStartReady(&R.T);
    PCI_DEVICE* Drive = PCIFindDevice(0x10000, 0xE1, 0, 0);
    assert_non_null(Drive);
    U32 Calls = 0;
    LPVOID Contexts[1] = {&Calls};
    PLATFORM_INTERRUPTS Interrupts;
    assert_int_equal(PlatformInterruptSetup(Drive, 1, PLATFORM_ALLOW_ALL, CountCall, Contexts, 1, &Interrupts),
                     KSTATUS_NOT_SUPPORTED);
    assert_int_equal(Interrupts.Mode, PCI_INTERRUPT_NONE);
    VMDTestEnd(&R.T);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestIndexFromAddressBits),     cmocka_unit_test(TestClientVectorZeroDropped),
        cmocka_unit_test(TestServerVectorZeroForwarded), cmocka_unit_test(TestIndexBeyondTableDropped),
        cmocka_unit_test(TestDataIgnoredButFlagged),    cmocka_unit_test(TestMasksKeepMessagesPending),
        cmocka_unit_test(TestBusMastersGateMessagesAndDma), cmocka_unit_test(TestIntxNeverForwarded),
        cmocka_unit_test(TestPlatformRemapsThroughTheVmd), cmocka_unit_test(TestBypassPassesMessagesThrough),
        cmocka_unit_test(TestPollingSetsNothingUp),
    };
    return VMDRunTests("vmd-remap", Tests, ARRAY_COUNT(Tests));
}
