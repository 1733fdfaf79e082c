/*
 * Test-VMDAssertions.c - each assertion of the VMD fact sheet's section 6.2 G
 * as a test of its own, on the unmodified PCI core, VMD driver and NVMe
 * driver running on the VMD model:
 *   G1  bridges carry bus numbers counted from the start bus
 *   G2  no child BAR in MEMBAR2's first 8 KiB (+16 bytes of shadow on 28C0)
 *   G3  every child BAR inside an enabled window chain
 *   G4  bridge windows aligned to 1 MiB
 *   G5  I/O BARs left unassigned, I/O decoding off
 *   G6  child MSI-X entries 0xFEE00000 | v << 12, data 0, v >= 1 on client IDs
 *   G7  the VMD's MSI-X enabled iff interrupts are used (remapped / polling / bypass)
 *   G8  every CFGBAR write followed by a read
 *   G9  VMCONFIG.MSI_RMP_DIS 0 at shutdown
 *   G10 CFGBAR under 1 MiB, translated MEMBARs and restriction 3 without BUSRANGE
 *       refused or handled instead of misprogrammed
 * Where the model's checker (VMDModelCheck) judges an assertion, the test also
 * breaks the state on purpose through the driver's own configuration ops and
 * sees the checker report it, so no check passes by never looking.
 * Also: the host platform honours the PCI functions' DMA address limit.
 */
// SOURCES: $(NVME_DRIVER_SOURCES) $(VMD_DRIVER_SOURCES) utils/Pattern.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "VMDTest.h"

static PCI_DEVICE* Find(U8 Bus, U8 Device) { return PCIFindDevice(0x10000, Bus, Device, 0); }

/** Writes Value at Offset of Device (through the VMD driver's CFGBAR ops), expects the checker to object, restores. */
static void ExpectCheckerObjects(VMD_TEST* T, PCI_DEVICE* Device, U16 Offset, U32 Value) {
    U32 Saved = PCIDeviceRead32(Device, Offset);
    assert_int_equal(VMDModelCheck(T->Vmd), 0);
    PCIDeviceWrite32(Device, Offset, Value);
    assert_true(VMDModelCheck(T->Vmd) > 0);
    PCIDeviceWrite32(Device, Offset, Saved);
    assert_int_equal(VMDModelCheck(T->Vmd), 0);
}

static void TestG1BusNumbersFromStartBus(void** State) {
    (void)State;
    VMD_TEST T;
    VMDTestConfig(&T, VMD_MODEL_ALDER_LAKE);  // start bus 0x80
    T.Config.Ports[0].Content = VMD_MODEL_SWITCH_NVME;
    VMDTestStartReady(&T);
    PCI_DEVICE* Port = Find(0x80, 0x06);
    PCI_DEVICE* Up = Find(0x81, 0);
    PCI_DEVICE* Down = Find(0x82, 0);
    assert_true(Port && Up && Down && Find(0x83, 0));
    assert_int_equal(PCIDeviceRead32(Port, PCI_PRIMARY_BUS) & 0xFFFFFF, 0x838100);  // primary hard-wired 0 (S11)
    assert_int_equal(PCIDeviceRead32(Up, PCI_PRIMARY_BUS) & 0xFFFFFF, 0x838281);
    assert_int_equal(PCIDeviceRead32(Down, PCI_PRIMARY_BUS) & 0xFFFFFF, 0x838382);
    assert_int_equal(VMDModelCheck(T.Vmd), 0);
    // The same bridge with CFGBAR index 1 instead of bus 0x81: everything below it is lost, and the checker says so.
    const PCI_SEGMENT* Segment = Port->SegmentInfo;
    PCIDeviceWrite32(Port, PCI_PRIMARY_BUS, 0x030100);
    assert_true(VMDModelCheck(T.Vmd) > 0);
    assert_int_equal(PCIConfigRead32(Segment, 0x81, 0, 0, PCI_VENDOR_ID), MAX_U32);
    PCIDeviceWrite32(Port, PCI_PRIMARY_BUS, 0x838100);
    assert_int_equal(PCIConfigRead32(Segment, 0x81, 0, 0, PCI_VENDOR_ID), 0x82328086);
    assert_int_equal(VMDModelCheck(T.Vmd), 0);
    VMDTestWriteRead(&T, 0, 100, 8, 1);
    VMDTestEnd(&T);
}

static void ExpectBarsClearOfReserved(VMD_TEST* T, U64 Reserved) {
    for (U32 P = 0; P < T->Config.PortCount; P++) {
        if (T->Nvme[P] == NULL) continue;
        PHYSICAL Bar = NVMeModelBar0(T->Nvme[P]);
        assert_true(Bar >= T->Config.Membar2 + Reserved);
        assert_true(Bar < T->Config.Membar2 + (1ULL << T->Config.Membar2Sz));
        VMDTestWriteRead(T, P, 64, 16, 2 + P);
    }
    assert_int_equal(VMDModelCheck(T->Vmd), 0);
}

static void TestG2NoChildBarInVmdMsixRange(void** State) {
    (void)State;
    // No MEMBAR1: every child BAR must come from MEMBAR2, past the VMD's own MSI-X table and PBA.
    VMD_TEST T;
    VMDTestConfig(&T, VMD_MODEL_METEOR_LAKE);
    T.Config.Membar1Sz = 0;
    T.Config.Membar1 = 0;
    VMDTestStartReady(&T);
    ExpectBarsClearOfReserved(&T, 0x2000);
    // Remapped interrupts still arrive: the VMD's table was left alone.
    VMD_INFO Info;
    VMDTestInfo(&Info);
    U64 Fired = 0;
    for (U32 V = 0; V < Info.VectorCount; V++) Fired += Info.Vectors[V].Fired;
    assert_true(Fired > 0);
    // A BAR moved onto the VMD's table is caught.
    PCI_DEVICE* Nvme = Find(0xE1, 0);
    assert_non_null(Nvme);
    ExpectCheckerObjects(&T, Nvme, PCI_BAR0, (U32)(T.Config.Membar2 + 0x1000) | 0x4);
    VMDTestEnd(&T);
}

static void TestG2NativeShadowOn28C0(void** State) {
    (void)State;
    VMD_TEST T;
    VMDTestConfig(&T, VMD_MODEL_SERVER_28C0);
    T.Config.Membar1Sz = 0;
    T.Config.Membar1 = 0;
    VMDTestStartReady(&T);
    VMD_INFO Info;
    VMDTestInfo(&Info);
    assert_int_equal(Info.Membar2ChildOffset, 0x2010);
    assert_true(Info.Windows[0].Base == T.Config.Membar2 + 0x3000);  // rounded up to a page (S4)
    ExpectBarsClearOfReserved(&T, 0x2010);
    VMDTestEnd(&T);
}

static void TestG3BarsInsideEnabledWindowChain(void** State) {
    (void)State;
    VMD_TEST T;
    VMDTestConfig(&T, VMD_MODEL_TIGER_LAKE);
    T.Config.Ports[1].Content = VMD_MODEL_SWITCH_NVME;
    VMDTestStartReady(&T);
    assert_int_equal(VMDModelCheck(T.Vmd), 0);
    // The PCI core's own record agrees: each drive's BAR inside every window above it.
    for (U32 P = 0; P < 2; P++) {
        PHYSICAL Bar = NVMeModelBar0(T.Nvme[P]);
        U64 Size = NVMeModelBar0Size(T.Nvme[P]);
        PCI_DEVICE* Drive = NULL;
        for (PCI_DEVICE* D = PCIGetFirstDevice(); D; D = D->Next) {
            if (D->Segment == 0x10000 && D->Bars[0].Base == Bar) Drive = D;
        }
        assert_non_null(Drive);
        for (PCI_DEVICE* B = Drive->Parent; B; B = B->Parent) {
            BOOL Inside = (Bar >= B->Windows[0].Base && Bar + Size <= B->Windows[0].Base + B->Windows[0].Size) ||
                          (Bar >= B->Windows[1].Base && Bar + Size <= B->Windows[1].Base + B->Windows[1].Size);
            assert_true(Inside);
            assert_true(PCIReadCommand(B) & PCI_COMMAND_MEMORY);
        }
    }
    // Close the switch's downstream window: the drive's BAR is no longer reached, and the checker says so.
    PCI_DEVICE* Down = NULL;
    for (PCI_DEVICE* D = PCIGetFirstDevice(); D; D = D->Next) {
        if (D->Segment == 0x10000 && D->DeviceId == 0x8233) Down = D;
    }
    assert_non_null(Down);
    ExpectCheckerObjects(&T, Down, PCI_MEMORY_BASE, 0x0000FFF0);
    VMDTestWriteRead(&T, 1, 33, 4, 3);
    VMDTestEnd(&T);
}

static void TestG4WindowsWholeMiB(void** State) {
    (void)State;
    VMD_TEST T;
    VMDTestConfig(&T, VMD_MODEL_SKYLAKE_201D);
    T.Config.Ports[2].Content = VMD_MODEL_SWITCH_NVME;
    VMDTestStartReady(&T);
    U32 Windows = 0;
    for (PCI_DEVICE* D = PCIGetFirstDevice(); D; D = D->Next) {
        if (D->Segment != 0x10000 || D->HeaderType != PCI_HEADER_BRIDGE) continue;
        for (U32 I = 0; I < 2; I++) {
            if (D->Windows[I].Size == 0) continue;
            assert_int_equal(D->Windows[I].Base % N_1MB, 0);
            assert_int_equal(D->Windows[I].Size % N_1MB, 0);
            Windows++;
        }
    }
    assert_true(Windows >= 6);  // four root ports (each keeps 1 MiB), the switch's two ports
    assert_int_equal(VMDModelCheck(T.Vmd), 0);
    VMDTestEnd(&T);
}

static void TestG5NoIo(void** State) {
    (void)State;
    // Tiger Lake's AHCI function has five I/O BARs; firmware left the root ports an open I/O window at 0.
    VMD_TEST T;
    VMDTestConfig(&T, VMD_MODEL_TIGER_LAKE);
    T.Config.Dirty = VMD_DIRTY_IO_ZERO;
    VMDTestStartReady(&T);
    PCI_DEVICE* Ahci = Find(0xE0, 0x17);
    assert_non_null(Ahci);
    for (U32 Bar = 0; Bar < 5; Bar++) {
        assert_int_equal(Ahci->Bars[Bar].Type, PCI_BAR_IO);
        assert_int_equal(PCIDeviceRead32(Ahci, (U16)(PCI_BAR0 + 4 * Bar)) & ~3U, 0);
    }
    assert_true(Ahci->Bars[5].Base != 0);  // the memory BAR (ABAR) did get room
    for (PCI_DEVICE* D = PCIGetFirstDevice(); D; D = D->Next) {
        if (D->Segment == 0x10000) assert_int_equal(PCIReadCommand(D) & PCI_COMMAND_IO, 0);
    }
    assert_int_equal(VMDModelCheck(T.Vmd), 0);
    ExpectCheckerObjects(&T, Ahci, PCI_COMMAND, PCIReadCommand(Ahci) | PCI_COMMAND_IO);
    ExpectCheckerObjects(&T, Find(0xE0, 0x06), PCI_IO_BASE, 0x0101);  // an open I/O window again
    VMDTestEnd(&T);
}

/** Every unmasked MSI-X entry of the drive in Port; returns the distinct VMD vectors they name. */
static U32 CheckEntries(VMD_TEST* T, U32 Port, U32 FirstVector) {
    const U8* Table = (const U8*)NVMeModelMsixTable(T->Nvme[Port]);
    U32 Seen = 0, Distinct = 0;
    for (U32 E = 0; E < 65; E++) {
        const U8* Entry = Table + E * 16;
        U32 Control, Low, High, Data;
        memcpy(&Low, Entry, 4);
        memcpy(&High, Entry + 4, 4);
        memcpy(&Data, Entry + 8, 4);
        memcpy(&Control, Entry + 12, 4);
        if (Control & 1) continue;
        U32 Vector = (Low >> 12) & 0xFF;
        assert_int_equal(Low & ~0xFF000U, 0xFEE00000);
        assert_int_equal(High, 0);
        assert_int_equal(Data, 0);
        assert_true(Vector >= FirstVector && Vector < 32);
        if (!(Seen & (1U << Vector))) Distinct++;
        Seen |= 1U << Vector;
    }
    return Distinct;
}

static void TestG6ChildMessagesRemapped(void** State) {
    (void)State;
    VMD_TEST T;
    VMDTestConfig(&T, VMD_MODEL_TIGER_LAKE);
    VMDTestStartReady(&T);
    // Admin and I/O queue of each drive on vectors of their own (Linux vmd_next_irq spreads NVMe vectors).
    assert_true(CheckEntries(&T, 0, 1) >= 2);
    assert_true(CheckEntries(&T, 1, 1) >= 2);
    assert_int_equal(VMDModelCheck(T.Vmd), 0);
    // An entry aimed at vector 0, or with data, is caught.
    U8* Entry = (U8*)NVMeModelMsixTable(T.Nvme[0]);
    U32 Saved;
    memcpy(&Saved, Entry, 4);
    __atomic_store_n((U32*)Entry, 0xFEE00000U, __ATOMIC_SEQ_CST);
    assert_true(VMDModelCheck(T.Vmd) > 0);
    __atomic_store_n((U32*)Entry, Saved, __ATOMIC_SEQ_CST);
    __atomic_store_n((U32*)(Entry + 8), 0x41U, __ATOMIC_SEQ_CST);
    assert_true(VMDModelCheck(T.Vmd) > 0);
    __atomic_store_n((U32*)(Entry + 8), 0U, __ATOMIC_SEQ_CST);
    assert_int_equal(VMDModelCheck(T.Vmd), 0);
    VMDTestEnd(&T);
}

static U16 VmdMsixControl(VMD_TEST* T) {
    PCI_MSIX_INFO Msix;
    assert_true(PCIMSIXRead(T->Device, &Msix));
    return PCIDeviceRead16(T->Device, Msix.Capability + PCI_MSIX_CONTROL);
}

static void TestG7MsixWhenRemapped(void** State) {
    (void)State;
    VMD_TEST T;
    VMDTestConfig(&T, VMD_MODEL_TIGER_LAKE);
    VMDTestStartReady(&T);
    assert_true(VmdMsixControl(&T) & PCI_MSIX_CONTROL_ENABLE);
    VMD_INFO Info;
    VMDTestInfo(&Info);
    assert_int_equal(Info.VectorCount, 32);
    VMDTestEnd(&T);
}

static void TestG7NoMsixWhenPolling(void** State) {
    (void)State;
    VMD_TEST T;
    VMDTestConfig(&T, VMD_MODEL_TIGER_LAKE);
    VMDTestOption(&T, "vmd.poll", "1");
    VMDTestStartReady(&T);
    assert_false(VmdMsixControl(&T) & PCI_MSIX_CONTROL_ENABLE);
    VMDTestWriteRead(&T, 0, 9, 3, 4);
    for (U32 P = 0; P < 2; P++) {
        U8 Cap = NVMeModelCapabilityOffset(T.Nvme[P], PCI_CAP_ID_MSIX);
        assert_false((NVMeModelConfigRead32(T.Nvme[P], Cap) >> 16) & PCI_MSIX_CONTROL_ENABLE);
    }
    VMDTestEnd(&T);
}

static void TestG7NoMsixInBypass(void** State) {
    (void)State;
    VMD_TEST T;
    VMDTestConfig(&T, VMD_MODEL_SERVER_28C0);
    VMDTestStartReady(&T);
    assert_false(VmdMsixControl(&T) & PCI_MSIX_CONTROL_ENABLE);
    VMDTestEnd(&T);
}

static void TestG8EveryWriteReadBack(void** State) {
    (void)State;
    VMD_TEST T;
    VMDTestConfig(&T, VMD_MODEL_ARROW_LAKE);
    VMDTestStartReady(&T);
    VMD_MODEL_STATS Stats;
    VMDModelGetStats(T.Vmd, &Stats);
    assert_true(Stats.PostedWrites > 50);
    assert_int_equal(Stats.PostedCompleted, Stats.PostedWrites);
    // A write through CFGBAR without the read-back is caught when the next access comes.
    LINEAR Cfgbar = PlatformMapMMIO(T.Config.Cfgbar, N_1MB);
    assert_true(Cfgbar != 0);
    U32 Latency = PlatformRead32(Cfgbar + (0x06 << 15) + 0x18);
    PlatformWrite32(Cfgbar + (0x06 << 15) + 0x18, Latency);
    PlatformWrite32(Cfgbar + (0x06 << 15) + 0x18, Latency);
    EXPECT_PLATFORM_VIOLATION("VMD_CFG_WRITE_NOT_COMPLETED");
    (void)PlatformRead32(Cfgbar + (0x06 << 15) + 0x18);
    PlatformUnmapMMIO(Cfgbar, N_1MB);
    VMDTestEnd(&T);
}

static void TestG9RemappingBackAtShutdown(void** State) {
    (void)State;
    VMD_TEST T;
    VMDTestConfig(&T, VMD_MODEL_SERVER_28C0);
    VMDTestStartReady(&T);
    U32 Firmware = T.Config.Vmconfig;
    assert_int_equal(VMDModelReadConfig(T.Vmd, 0x44), Firmware | 0x2);  // bypass on while running
    VMDTestWriteRead(&T, 3, 1, 1, 5);
    assert_true(HostPlatformRunShutdownHooks(FALSE) >= 4);  // the drives, then the VMD
    assert_int_equal(VMDModelReadConfig(T.Vmd, 0x44), Firmware);
    VMDTestEnd(&T);
}

static void TestG10SmallCfgbarRefused(void** State) {
    (void)State;
    VMD_TEST T;
    VMDTestConfig(&T, VMD_MODEL_TIGER_LAKE);
    T.Config.CfgbarSz = 19;  // 512 KiB: not even one bus (a broken virtual device)
    VMDTestStart(&T);
    VMD_INFO Info;
    VMDTestInfo(&Info);
    assert_int_equal(Info.State, VMD_STATE_REFUSED);
    assert_string_equal(Info.StateReason, "CFGBAR is 512K, under the 1 MiB one bus needs");
    assert_int_equal(NVMeGetControllerCount(), 0);
    VMD_MODEL_STATS Stats;
    VMDModelGetStats(T.Vmd, &Stats);
    assert_int_equal(Stats.CfgReads + Stats.CfgWrites + Stats.MemReads + Stats.MemWrites, 0);  // domain untouched
    VMDTestEnd(&T);
}

static void TestG10TranslatedMembarsRefused(void** State) {
    (void)State;
    // A VMD passed to a guest: the SHDW capability holds host addresses that differ from the BARs (S8).
    VMD_TEST T;
    VMDTestConfig(&T, VMD_MODEL_TIGER_LAKE);
    T.Config.Shdw = TRUE;
    T.Config.ShadowMembar1 = 0x92000000;
    VMDTestStart(&T);
    VMD_INFO Info;
    VMDTestInfo(&Info);
    assert_int_equal(Info.State, VMD_STATE_REFUSED);
    assert_string_equal(Info.StateReason, "MEMBARs are translated (VMD passed to a guest): not supported");
    VMD_MODEL_STATS Stats;
    VMDModelGetStats(T.Vmd, &Stats);
    assert_int_equal(Stats.CfgReads + Stats.CfgWrites, 0);
    VMDTestEnd(&T);
}

static void TestG10RestrictionThreeWithoutRanges(void** State) {
    (void)State;
    // Linux refuses "Unknown Bus Offset Setting (3)"; Intel reads 11b like 10b (S6): one root bus at 224, and the
    // domain is programmed correctly, not misprogrammed.
    VMD_TEST T;
    VMDTestConfig(&T, VMD_MODEL_TIGER_LAKE);
    T.Config.Vmconfig = (T.Config.Vmconfig & ~0x300U) | 0x300U;
    VMDTestStartReady(&T);
    VMD_INFO Info;
    VMDTestInfo(&Info);
    assert_int_equal(Info.Restriction, 3);
    assert_int_equal(Info.RootCount, 1);
    assert_int_equal(Info.StartBus, 0xE0);
    assert_int_equal(VMDModelCheck(T.Vmd), 0);
    VMDTestWriteRead(&T, 1, 77, 9, 6);
    VMDTestEnd(&T);
}

static void TestDmaLimitHonoured(void** State) {
    (void)State;
    // The VMD's functions may address 2^48 (VMD_DMA_ADDRESS_BITS); a function limited to 32 bits pulls every
    // DMA allocation below 4 GiB and makes translations of higher pages fail instead of truncating.
    VMD_TEST T;
    VMDTestConfig(&T, VMD_MODEL_METEOR_LAKE);
    VMDTestStartReady(&T);
    assert_int_equal(PCIGetDMALimit(), 1ULL << 48);
    PCI_DEVICE* Nvme = Find(0xE1, 0);
    Nvme->DmaAddressBits = 32;
    PLATFORM_DMA Dma;
    for (U32 I = 0; I < 8; I++) {
        assert_int_equal(PlatformDMAAlloc(8192, 4096, 0, &Dma), KSTATUS_SUCCESS);
        assert_true(Dma.Physical + Dma.Size <= N_4GB);
        PlatformDMAFree(&Dma);
    }
    U8* Pages = (U8*)aligned_alloc(4096, 64 * 4096);
    U32 Refused = 0;
    for (U32 I = 0; I < 64; I++) {
        PHYSICAL P = PlatformTranslate(Pages + I * 4096);
        if (P == 0) Refused++;
        else assert_true(P < N_4GB);
    }
    assert_true(Refused > 0);  // the bus scatters translated pages, about half above 4 GiB
    MemoryBusForget(HostPlatformMemoryBus(), Pages, 64 * 4096);
    free(Pages);
    Nvme->DmaAddressBits = 48;
    VMDTestEnd(&T);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestG1BusNumbersFromStartBus),    cmocka_unit_test(TestG2NoChildBarInVmdMsixRange),
        cmocka_unit_test(TestG2NativeShadowOn28C0),        cmocka_unit_test(TestG3BarsInsideEnabledWindowChain),
        cmocka_unit_test(TestG4WindowsWholeMiB),           cmocka_unit_test(TestG5NoIo),
        cmocka_unit_test(TestG6ChildMessagesRemapped),     cmocka_unit_test(TestG7MsixWhenRemapped),
        cmocka_unit_test(TestG7NoMsixWhenPolling),         cmocka_unit_test(TestG7NoMsixInBypass),
        cmocka_unit_test(TestG8EveryWriteReadBack),        cmocka_unit_test(TestG9RemappingBackAtShutdown),
        cmocka_unit_test(TestG10SmallCfgbarRefused),       cmocka_unit_test(TestG10TranslatedMembarsRefused),
        cmocka_unit_test(TestG10RestrictionThreeWithoutRanges), cmocka_unit_test(TestDmaLimitHonoured),
    };
    return VMDRunTests("vmd-assertions", Tests, ARRAY_COUNT(Tests));
}
