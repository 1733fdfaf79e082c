/*
 * Test-PCIEnumerate.c - the enumerator, BAR sizing and capability walks
 * against a fake PCI topology whose bridges route configuration cycles by
 * their programmed bus numbers, as real bridges do.
 */
// SOURCES: bus/pci/PCI-Config.c bus/pci/PCI-Enumerate.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "bus/pci/PCI.h"

/************************************************************************/
// Fake hardware

typedef struct FAKE_FUNCTION {
    int Used;
    int ParentBridge;  // index of the bridge it sits behind, -1 on the root bus
    U8 Slot, Function;
    U8 Config[4096];
    U32 BarMask[6];    // writable bits of each BAR register (0: read-only zero)
    int AllOnes;       // answers 0xFFFFFFFF to everything
    int Writes;
} FAKE_FUNCTION;

#define FAKE_MAX 32
static FAKE_FUNCTION Fakes[FAKE_MAX];
static int FakeCount;

static void Put8(FAKE_FUNCTION* F, U16 O, U8 V) { F->Config[O] = V; }
static void Put16(FAKE_FUNCTION* F, U16 O, U16 V) { memcpy(F->Config + O, &V, 2); }
static void Put32(FAKE_FUNCTION* F, U16 O, U32 V) { memcpy(F->Config + O, &V, 4); }
static U32 Get32(FAKE_FUNCTION* F, U16 O) { U32 V; memcpy(&V, F->Config + O, 4); return V; }

static int AddFake(int Parent, U8 Slot, U8 Function, U16 Vendor, U16 Device, U8 Class, U8 Sub, U8 HeaderType) {
    FAKE_FUNCTION* F = &Fakes[FakeCount];
    memset(F, 0, sizeof(*F));
    F->Used = 1;
    F->ParentBridge = Parent;
    F->Slot = Slot;
    F->Function = Function;
    Put16(F, PCI_VENDOR_ID, Vendor);
    Put16(F, PCI_DEVICE_ID, Device);
    Put8(F, PCI_CLASS, Class);
    Put8(F, PCI_SUBCLASS, Sub);
    Put8(F, PCI_REVISION, 0x02);
    Put8(F, PCI_HEADER_TYPE, HeaderType);
    Put16(F, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
    return FakeCount++;
}

/** The bus a function answers on: its root bus, or its bridge's programmed secondary bus. */
static int FakeBusOf(int Index) {
    FAKE_FUNCTION* F = &Fakes[Index];
    if (F->ParentBridge < 0) return 0;
    FAKE_FUNCTION* Bridge = &Fakes[F->ParentBridge];
    int BridgeBus = FakeBusOf(F->ParentBridge);
    if (BridgeBus < 0) return -1;
    U8 Secondary = Bridge->Config[PCI_SECONDARY_BUS];
    if (Secondary == 0 || Secondary <= BridgeBus) return -1;  // not forwarding
    return Secondary;
}

static FAKE_FUNCTION* FakeFind(U8 Bus, U8 Slot, U8 Function) {
    for (int I = 0; I < FakeCount; I++) {
        if (Fakes[I].Slot == Slot && Fakes[I].Function == Function && FakeBusOf(I) == Bus) return &Fakes[I];
    }
    return NULL;
}

static int ConfigReads;

static U32 FakeRead32(LPVOID Context, U8 Bus, U8 Slot, U8 Function, U16 Offset) {
    (void)Context;
    ConfigReads++;
    assert_true((Offset & 3) == 0);
    FAKE_FUNCTION* F = FakeFind(Bus, Slot, Function);
    if (F == NULL || F->AllOnes) return 0xFFFFFFFF;
    return Get32(F, Offset);
}

static void FakeWrite32(LPVOID Context, U8 Bus, U8 Slot, U8 Function, U16 Offset, U32 Value) {
    (void)Context;
    assert_true((Offset & 3) == 0);
    FAKE_FUNCTION* F = FakeFind(Bus, Slot, Function);
    if (F == NULL || F->AllOnes) return;
    F->Writes++;
    if (Offset >= PCI_BAR0 && Offset < PCI_BAR0 + 24) {
        int Index = (Offset - PCI_BAR0) / 4;
        if ((F->Config[PCI_HEADER_TYPE] & 0x7F) == 1 && Index >= 2) {
            Put32(F, Offset, Value);  // bridge: bus numbers and windows
            return;
        }
        U32 Old = Get32(F, Offset);
        U32 Flags = Old & ((Old & 1) ? 0x3 : 0xF);
        if (Index > 0 && (Get32(F, Offset - 4) & 7) == 4) Flags = 0;  // upper half of a 64-bit BAR
        Put32(F, Offset, (Value & F->BarMask[Index]) | Flags);
        return;
    }
    if (Offset == PCI_COMMAND) {
        Put16(F, PCI_COMMAND, (U16)Value);  // status is read-only here
        return;
    }
    if (Offset < 0x40 && Offset != PCI_PRIMARY_BUS && Offset != PCI_INTERRUPT_LINE) return;  // read-only header
    Put32(F, Offset, Value);
}

static const PCI_CONFIG_OPS FakeOps = {FakeRead32, FakeWrite32};

static PCI_DEVICE* AllocateDevice(LPVOID Context) {
    (void)Context;
    return calloc(1, sizeof(PCI_DEVICE));
}

static void FreeDevices(PCI_ENUMERATOR* E) {
    PCI_DEVICE* D = E->First;
    while (D) {
        PCI_DEVICE* Next = D->Next;
        free(D);
        D = Next;
    }
}

static void InitSegment(PCI_SEGMENT* S) {
    memset(S, 0, sizeof(*S));
    S->StartBus = 0;
    S->EndBus = 255;
    S->ConfigSize = 4096;
    S->Ops = &FakeOps;
}

static void InitEnumerator(PCI_ENUMERATOR* E) {
    memset(E, 0, sizeof(*E));
    E->Allocate = AllocateDevice;
    E->SizeBars = TRUE;
}

static PCI_DEVICE* Find(PCI_ENUMERATOR* E, U8 Bus, U8 Slot, U8 Function) {
    for (PCI_DEVICE* D = E->First; D; D = D->Next) {
        if (D->Bus == Bus && D->Device == Slot && D->Function == Function) return D;
    }
    return NULL;
}

/************************************************************************/
// Topology used by most tests

static int NvmeIndex, LoopIndex, DeepBridge, FirmwareBridge, OpenBridge;

static void BuildTopology(void) {
    memset(Fakes, 0, sizeof(Fakes));
    FakeCount = 0;
    AddFake(-1, 0, 0, 0x8086, 0x29C0, 0x06, 0x00, 0x00);  // host bridge

    // A multi-function device with functions 0, 1 and 3.
    int F0 = AddFake(-1, 1, 0, 0x8086, 0x2918, 0x06, 0x01, 0x80);
    (void)F0;
    AddFake(-1, 1, 1, 0x8086, 0x2922, 0x01, 0x06, 0x00);
    int F3 = AddFake(-1, 1, 3, 0x8086, 0x2930, 0x0C, 0x05, 0x00);
    Put32(&Fakes[F3], PCI_BAR0 + 16, 0x0000C001);  // I/O BAR4, 32 ports
    Fakes[F3].BarMask[4] = 0xFFFFFFE0;

    // A bridge firmware programmed (secondary 1) with an NVMe behind it.
    FirmwareBridge = AddFake(-1, 2, 0, 0x1B36, 0x000C, 0x06, 0x04, 0x01);
    Put8(&Fakes[FirmwareBridge], PCI_PRIMARY_BUS, 0);
    Put8(&Fakes[FirmwareBridge], PCI_SECONDARY_BUS, 1);
    Put8(&Fakes[FirmwareBridge], PCI_SUBORDINATE_BUS, 1);
    NvmeIndex = AddFake(FirmwareBridge, 0, 0, 0x1B36, 0x0010, 0x01, 0x08, 0x00);
    FAKE_FUNCTION* N = &Fakes[NvmeIndex];
    Put8(N, PCI_PROG_IF, 0x02);
    Put32(N, PCI_BAR0, 0xFEBD0004);   // 64-bit memory BAR, 16 KiB
    Put32(N, PCI_BAR0 + 4, 0x00000001);
    N->BarMask[0] = 0xFFFFC000;
    N->BarMask[1] = 0xFFFFFFFF;
    Put16(N, PCI_STATUS, PCI_STATUS_CAPABILITIES);
    Put8(N, PCI_CAPABILITIES, 0x40);
    Put16(N, 0x40, (0x50 << 8) | PCI_CAP_ID_MSIX);
    Put16(N, 0x50, (0x60 << 8) | PCI_CAP_ID_PCIE);
    Put16(N, 0x60, (0x00 << 8) | PCI_CAP_ID_PM);
    Put32(N, 0x100, (0x150u << 20) | (1u << 16) | PCI_EXT_CAP_ID_AER);
    Put32(N, 0x150, (0x000u << 20) | (1u << 16) | PCI_EXT_CAP_ID_DSN);

    // A bridge firmware left unprogrammed, with another unprogrammed bridge behind it,
    // and behind that a device whose capability list loops.
    OpenBridge = AddFake(-1, 3, 0, 0x1B36, 0x000C, 0x06, 0x04, 0x01);
    DeepBridge = AddFake(OpenBridge, 0, 0, 0x1B36, 0x000E, 0x06, 0x04, 0x01);
    LoopIndex = AddFake(DeepBridge, 5, 0, 0x1AF4, 0x1041, 0x02, 0x00, 0x00);
    FAKE_FUNCTION* L = &Fakes[LoopIndex];
    Put16(L, PCI_STATUS, PCI_STATUS_CAPABILITIES);
    Put8(L, PCI_CAPABILITIES, 0x40);
    Put16(L, 0x40, (0x48 << 8) | PCI_CAP_ID_MSI);
    Put16(L, 0x48, (0x40 << 8) | PCI_CAP_ID_VENDOR);  // back to 0x40: a loop
    Put32(L, PCI_BAR0, 0x00000000);                   // 32-bit memory BAR, 4 KiB, prefetchable
    Put32(L, PCI_BAR0, 0x00000008);
    L->BarMask[0] = 0xFFFFF000;

    // A slot that answers all ones.
    int Broken = AddFake(-1, 6, 0, 0x1234, 0x5678, 0x00, 0x00, 0x00);
    Fakes[Broken].AllOnes = 1;
}

static void TestTopology(void** State) {
    (void)State;
    PCI_SEGMENT Segment;
    PCI_ENUMERATOR E;
    BuildTopology();
    InitSegment(&Segment);
    InitEnumerator(&E);

    U32 Added = PCIEnumerateSegment(&E, &Segment);
    assert_int_equal(Added, 9);
    assert_int_equal(E.Count, 9);

    // Multi-function: functions 0, 1 and 3, nothing for 2.
    assert_non_null(Find(&E, 0, 1, 0));
    assert_non_null(Find(&E, 0, 1, 1));
    assert_null(Find(&E, 0, 1, 2));
    assert_non_null(Find(&E, 0, 1, 3));
    assert_null(Find(&E, 0, 6, 0));  // all ones: absent

    // The firmware bridge keeps its numbers; the NVMe is on bus 1.
    PCI_DEVICE* Bridge = Find(&E, 0, 2, 0);
    assert_non_null(Bridge);
    assert_int_equal(Bridge->SecondaryBus, 1);
    assert_false(Bridge->BusNumbersAssigned);
    PCI_DEVICE* Nvme = Find(&E, 1, 0, 0);
    assert_non_null(Nvme);
    assert_ptr_equal(Nvme->Parent, Bridge);
    assert_int_equal(Nvme->Class, 0x01);
    assert_int_equal(Nvme->SubClass, 0x08);
    assert_int_equal(Nvme->ProgIf, 0x02);

    // Unprogrammed bridges got buses 2 and 3; the device behind them is found.
    PCI_DEVICE* Open = Find(&E, 0, 3, 0);
    assert_non_null(Open);
    assert_true(Open->BusNumbersAssigned);
    assert_int_equal(Open->SecondaryBus, 2);
    assert_int_equal(Open->SubordinateBus, 3);
    assert_int_equal(Fakes[OpenBridge].Config[PCI_SECONDARY_BUS], 2);
    assert_int_equal(Fakes[OpenBridge].Config[PCI_SUBORDINATE_BUS], 3);
    PCI_DEVICE* Deep = Find(&E, 2, 0, 0);
    assert_non_null(Deep);
    assert_int_equal(Deep->SecondaryBus, 3);
    assert_int_equal(Deep->SubordinateBus, 3);
    assert_int_equal(Fakes[DeepBridge].Config[PCI_PRIMARY_BUS], 2);
    PCI_DEVICE* Looping = Find(&E, 3, 5, 0);
    assert_non_null(Looping);
    assert_int_equal(Segment.AssignedBridges, 2);
    FreeDevices(&E);
}

static void TestBars(void** State) {
    (void)State;
    PCI_SEGMENT Segment;
    PCI_ENUMERATOR E;
    BuildTopology();
    InitSegment(&Segment);
    InitEnumerator(&E);
    PCIEnumerateSegment(&E, &Segment);

    PCI_DEVICE* Nvme = Find(&E, 1, 0, 0);
    assert_int_equal(Nvme->Bars[0].Type, PCI_BAR_MEMORY64);
    assert_true(Nvme->Bars[0].Base == 0x1FEBD0000ULL);
    assert_int_equal(Nvme->Bars[0].Size, 0x4000);
    assert_int_equal(Nvme->Bars[1].Type, PCI_BAR_NONE);
    assert_int_equal(Nvme->Bars[2].Type, PCI_BAR_NONE);
    // The BAR was restored after sizing, and decoding was switched back on.
    assert_int_equal(Get32(&Fakes[NvmeIndex], PCI_BAR0), 0xFEBD0004);
    assert_int_equal(Get32(&Fakes[NvmeIndex], PCI_BAR0 + 4), 1);
    assert_int_equal(Fakes[NvmeIndex].Config[PCI_COMMAND] & 3, 3);

    PCI_DEVICE* Usb = Find(&E, 0, 1, 3);
    assert_int_equal(Usb->Bars[4].Type, PCI_BAR_IO);
    assert_int_equal(Usb->Bars[4].Base, 0xC000);
    assert_int_equal(Usb->Bars[4].Size, 32);

    PCI_DEVICE* Looping = Find(&E, 3, 5, 0);
    assert_int_equal(Looping->Bars[0].Type, PCI_BAR_MEMORY32);
    assert_true(Looping->Bars[0].Prefetchable);
    assert_int_equal(Looping->Bars[0].Size, 0x1000);
    FreeDevices(&E);
}

static void TestCapabilities(void** State) {
    (void)State;
    PCI_SEGMENT Segment;
    PCI_ENUMERATOR E;
    BuildTopology();
    InitSegment(&Segment);
    InitEnumerator(&E);
    PCIEnumerateSegment(&E, &Segment);

    PCI_DEVICE* Nvme = Find(&E, 1, 0, 0);
    assert_int_equal(Nvme->MsixCapability, 0x40);
    assert_int_equal(Nvme->PcieCapability, 0x50);
    assert_int_equal(Nvme->PowerCapability, 0x60);
    assert_int_equal(Nvme->MsiCapability, 0);
    assert_int_equal(PCIFindCapability(Nvme, PCI_CAP_ID_PCIE), 0x50);
    assert_int_equal(PCIFindExtendedCapability(Nvme, PCI_EXT_CAP_ID_DSN), 0x150);
    assert_int_equal(PCIFindExtendedCapability(Nvme, 0x0019), 0);

    // The looping list ends: two capabilities seen, the walk returns.
    PCI_DEVICE* Looping = Find(&E, 3, 5, 0);
    assert_int_equal(PCIWalkCapabilities(Looping, NULL, NULL), 2);
    assert_int_equal(Looping->MsiCapability, 0x40);
    assert_int_equal(PCIFindCapability(Looping, PCI_CAP_ID_PCIE), 0);
    assert_true(Looping->CapabilityListBroken);
    assert_false(Nvme->CapabilityListBroken);
    assert_true(PCICapabilityListValid(Nvme));

    // An extended list that points backwards stops too.
    Put32(&Fakes[NvmeIndex], 0x150, (0x100u << 20) | PCI_EXT_CAP_ID_DSN);
    assert_int_equal(PCIWalkExtendedCapabilities(Nvme, NULL, NULL), 2);
    FreeDevices(&E);
}

static void TestCommandHelpers(void** State) {
    (void)State;
    PCI_SEGMENT Segment;
    PCI_ENUMERATOR E;
    BuildTopology();
    InitSegment(&Segment);
    InitEnumerator(&E);
    PCIEnumerateSegment(&E, &Segment);
    PCI_DEVICE* Nvme = Find(&E, 1, 0, 0);

    PCIEnableBusMaster(Nvme);
    assert_int_equal(PCIReadCommand(Nvme) & PCI_COMMAND_BUS_MASTER, PCI_COMMAND_BUS_MASTER);
    PCIDisableIntx(Nvme, TRUE);
    assert_int_equal(PCIReadCommand(Nvme) & PCI_COMMAND_INTX_DISABLE, PCI_COMMAND_INTX_DISABLE);
    PCIDisableIntx(Nvme, FALSE);
    assert_int_equal(PCIReadCommand(Nvme) & PCI_COMMAND_INTX_DISABLE, 0);
    // 8-bit writes go to the right byte.
    PCIDeviceWrite8(Nvme, PCI_INTERRUPT_LINE, 0x0B);
    assert_int_equal(PCIDeviceRead8(Nvme, PCI_INTERRUPT_LINE), 0x0B);
    assert_int_equal(PCIDeviceRead8(Nvme, PCI_INTERRUPT_PIN), 0);

    PCI_MATCH ByClass = {PCI_ANY_ID, PCI_ANY_ID, 0x01, 0x08, 0x02};
    PCI_MATCH ById = {0x1B36, 0x0011, PCI_ANY_CLASS, PCI_ANY_CLASS, PCI_ANY_CLASS};
    assert_true(PCIMatchDevice(&ByClass, Nvme));
    assert_false(PCIMatchDevice(&ById, Nvme));
    FreeDevices(&E);
}

static void TestLoopingBridges(void** State) {
    (void)State;
    // Two bridges that both claim bus 1 and one that points back at bus 0:
    // every bus is scanned once and the walk ends.
    memset(Fakes, 0, sizeof(Fakes));
    FakeCount = 0;
    int A = AddFake(-1, 1, 0, 0x1B36, 0x000C, 0x06, 0x04, 0x01);
    Put8(&Fakes[A], PCI_SECONDARY_BUS, 1);
    Put8(&Fakes[A], PCI_SUBORDINATE_BUS, 1);
    int B = AddFake(-1, 2, 0, 0x1B36, 0x000C, 0x06, 0x04, 0x01);
    Put8(&Fakes[B], PCI_SECONDARY_BUS, 1);
    Put8(&Fakes[B], PCI_SUBORDINATE_BUS, 1);
    AddFake(A, 0, 0, 0x1AF4, 0x1000, 0x02, 0x00, 0x00);

    PCI_SEGMENT Segment;
    PCI_ENUMERATOR E;
    InitSegment(&Segment);
    InitEnumerator(&E);
    ConfigReads = 0;
    U32 Added = PCIEnumerateSegment(&E, &Segment);
    assert_true(Added >= 3);
    assert_true(ConfigReads < 100000);
    // Bridge B was renumbered past bus 1 instead of scanning bus 1 twice.
    PCI_DEVICE* Second = Find(&E, 0, 2, 0);
    assert_non_null(Second);
    assert_true(Second->SecondaryBus != 1);
    FreeDevices(&E);
}

static PCI_DEVICE* AllocateNothing(LPVOID Context) {
    (void)Context;
    return NULL;
}

static void TestAllocationFailure(void** State) {
    (void)State;
    BuildTopology();
    PCI_SEGMENT Segment;
    PCI_ENUMERATOR E;
    InitSegment(&Segment);
    InitEnumerator(&E);
    E.Allocate = AllocateNothing;
    assert_int_equal(PCIEnumerateSegment(&E, &Segment), 0);
    assert_int_equal(E.Count, 0);
    assert_null(E.First);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestTopology),       cmocka_unit_test(TestBars),
        cmocka_unit_test(TestCapabilities),   cmocka_unit_test(TestCommandHelpers),
        cmocka_unit_test(TestLoopingBridges), cmocka_unit_test(TestAllocationFailure),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
