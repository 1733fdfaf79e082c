/*
 * Test-PCIEnumerate.c - the enumerator, BAR sizing and capability walks
 * against a fake PCI topology whose bridges route configuration cycles by
 * their programmed bus numbers, as real bridges do; the generic resource
 * assignment (PCI_SEGMENT_ASSIGN), rescans below a bridge, the registry's
 * reconciliation and removal, and state saved and restored across a reset.
 */
// SOURCES: bus/pci/PCI-Config.c bus/pci/PCI-Enumerate.c bus/pci/PCI-Resources.c bus/pci/PCI-Registry.c bus/pci/PCI-State.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "bus/pci/PCI-MSI.h"
#include "bus/pci/PCI.h"
#include "core/Log.h"

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
            // Bridge: bus numbers and windows; the prefetchable window's 64-bit capability nibble is read-only.
            if (Offset == PCI_PREFETCH_BASE) Value = (Value & 0xFFF0FFF0) | (Get32(F, Offset) & 0x000F000F);
            Put32(F, Offset, Value);
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
    BOOL Bridge = (F->Config[PCI_HEADER_TYPE] & 0x7F) == 1;
    if (Offset < 0x40 && Offset != PCI_PRIMARY_BUS && Offset != PCI_INTERRUPT_LINE && !(Bridge && Offset >= 0x28)) {
        return;  // read-only header (a bridge's upper window halves and bridge control are writable)
    }
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


/************************************************************************/
// Resource assignment (PCI_SEGMENT_ASSIGN)

/** Gives a fake a PCIe capability at 0x40 with a port type; hot-plug capable slot when asked. */
static void MakePcie(int Index, U8 PortType, int Hotplug) {
    FAKE_FUNCTION* F = &Fakes[Index];
    Put16(F, PCI_STATUS, PCI_STATUS_CAPABILITIES);
    Put8(F, PCI_CAPABILITIES, 0x40);
    Put16(F, 0x40, PCI_CAP_ID_PCIE);
    Put16(F, 0x40 + PCI_EXP_FLAGS, (U16)((PortType << 4) | (Hotplug ? PCI_EXP_FLAGS_SLOT : 0) | 2));
    if (Hotplug) Put32(F, 0x40 + PCI_EXP_SLOT_CAPABILITIES, PCI_EXP_SLOT_CAP_HOTPLUG_CAPABLE);
}

static int AddMemoryBar(int Index, U32 Bar, U32 Size, int Is64, int Prefetchable) {
    FAKE_FUNCTION* F = &Fakes[Index];
    Put32(F, (U16)(PCI_BAR0 + Bar * 4), (U32)((Is64 ? 4 : 0) | (Prefetchable ? 8 : 0)));
    F->BarMask[Bar] = ~(Size - 1);
    if (Is64) F->BarMask[Bar + 1] = 0xFFFFFFFF;
    return Index;
}

static U64 BarOf(int Index, U32 Bar) {
    U64 Value = Get32(&Fakes[Index], (U16)(PCI_BAR0 + Bar * 4)) & ~0xFULL;
    if ((Get32(&Fakes[Index], (U16)(PCI_BAR0 + Bar * 4)) & 6) == 4) {
        Value |= (U64)Get32(&Fakes[Index], (U16)(PCI_BAR0 + Bar * 4 + 4)) << 32;
    }
    return Value;
}

static void InitAssignSegment(PCI_SEGMENT* S, PHYSICAL LowBase, U64 LowSize, PHYSICAL HighBase, U64 HighSize) {
    InitSegment(S);
    S->Flags = PCI_SEGMENT_ASSIGN | PCI_SEGMENT_NO_IO | PCI_SEGMENT_NO_INTX;
    S->Windows[S->WindowCount++] = (PCI_WINDOW){LowBase, LowSize, 0, 0};
    if (HighSize) S->Windows[S->WindowCount++] = (PCI_WINDOW){HighBase, HighSize, 0, 0};
}

static int PortA, PortB, PortEmpty, NvmeA, PrefA, DevB, RootDev, Phantom;

static void BuildAssignTopology(void) {
    memset(Fakes, 0, sizeof(Fakes));
    FakeCount = 0;
    // Root port A (stale numbers): an NVMe (64-bit, 16 KiB) and, as function 1, a 64-bit prefetchable 8 MiB BAR.
    PortA = AddFake(-1, 1, 0, 0x8086, 0x9A09, 0x06, 0x04, 0x01);
    MakePcie(PortA, PCI_EXP_PORT_ROOT, 0);
    Put8(&Fakes[PortA], PCI_SECONDARY_BUS, 7);
    Put32(&Fakes[PortA], PCI_PREFETCH_BASE, 0x00010001);  // a 64-bit prefetchable window
    NvmeA = AddMemoryBar(AddFake(PortA, 0, 0, 0x1B36, 0x0010, 0x01, 0x08, 0x80), 0, 0x4000, 1, 0);
    PrefA = AddMemoryBar(AddFake(PortA, 0, 1, 0x1234, 0x0001, 0x03, 0x00, 0x00), 0, 0x800000, 1, 1);
    // A phantom below the port at device 1: a root port's link has one device, it must not be scanned.
    Phantom = AddFake(PortA, 1, 0, 0x1234, 0x0002, 0x02, 0x00, 0x00);
    // Root port B with a 32-bit 1 MiB BAR behind it; an empty hot-plug port.
    PortB = AddFake(-1, 2, 0, 0x8086, 0x9A09, 0x06, 0x04, 0x01);
    MakePcie(PortB, PCI_EXP_PORT_ROOT, 0);
    DevB = AddMemoryBar(AddFake(PortB, 0, 0, 0x1234, 0x0003, 0x02, 0x00, 0x00), 0, 0x100000, 0, 0);
    PortEmpty = AddFake(-1, 3, 0, 0x8086, 0x9A09, 0x06, 0x04, 0x01);
    MakePcie(PortEmpty, PCI_EXP_PORT_ROOT, 1);
    // On the root bus: a 2 KiB BAR and an I/O BAR.
    RootDev = AddMemoryBar(AddFake(-1, 4, 0, 0x8086, 0xA0D3, 0x01, 0x06, 0x00), 5, 0x800, 0, 0);
    Put32(&Fakes[RootDev], PCI_BAR0, 0x00000001);
    Fakes[RootDev].BarMask[0] = 0xFFFFFFF8;
}

static void TestAssignResources(void** State) {
    (void)State;
    PCI_SEGMENT S;
    PCI_ENUMERATOR E;
    BuildAssignTopology();
    InitAssignSegment(&S, 0xC0000000, 16 * N_1MB, 0x800000000ULL, 64 * N_1MB);
    InitEnumerator(&E);
    assert_int_equal(PCIEnumerateSegment(&E, &S), 7);
    assert_null(Find(&E, 1, 1, 0));  // the phantom at device 1 below a root port
    assert_int_equal(S.UnassignedBars, 0);
    // Bridges renumbered, firmware's 7 ignored.
    assert_int_equal(Fakes[PortA].Config[PCI_SECONDARY_BUS], 1);
    assert_int_equal(Fakes[PortB].Config[PCI_SECONDARY_BUS], 2);
    assert_int_equal(Fakes[PortEmpty].Config[PCI_SECONDARY_BUS], 3);

    // Non-prefetchable BARs below 4 GiB in the low window, 4 KiB at least apart; the 64-bit prefetchable BAR
    // in the high window through port A's 64-bit prefetchable window.
    U64 Nvme = BarOf(NvmeA, 0), Pref = BarOf(PrefA, 0), Dev = BarOf(DevB, 0), Root = BarOf(RootDev, 5);
    assert_true(Nvme >= 0xC0000000 && Nvme < 0xC1000000 && (Nvme & 0x3FFF) == 0);
    assert_true(Dev >= 0xC0000000 && Dev < 0xC1000000 && (Dev & 0xFFFFF) == 0);
    assert_true(Root >= 0xC0000000 && Root < 0xC1000000 && (Root & 0xFFF) == 0);
    assert_true(Pref >= 0x800000000ULL && (Pref & 0x7FFFFF) == 0);
    PCI_DEVICE* A = Find(&E, 0, 1, 0);
    assert_true(A->Windows[0].Size == N_1MB && (A->Windows[0].Base & 0xFFFFF) == 0);
    assert_true(A->Windows[0].Base <= Nvme && Nvme + 0x4000 <= A->Windows[0].Base + A->Windows[0].Size);
    assert_true(A->Windows[1].Size == 8 * N_1MB && A->Windows[1].Base == Pref);
    assert_int_equal(A->Windows[1].Type, PCI_BAR_MEMORY64);
    // The registers say the same: memory base/limit bits 31:20, prefetchable with its upper halves.
    U32 Memory = Get32(&Fakes[PortA], PCI_MEMORY_BASE);
    assert_true(((U64)(Memory & 0xFFF0) << 16) == A->Windows[0].Base);
    assert_int_equal(Get32(&Fakes[PortA], PCI_PREFETCH_BASE_UPPER), (U32)(Pref >> 32));
    assert_int_equal(Get32(&Fakes[PortA], PCI_PREFETCH_LIMIT_UPPER), (U32)((Pref + 8 * N_1MB - 1) >> 32));
    // Windows never overlap: B's and the empty port's 1 MiB reserve each have their own.
    PCI_DEVICE* B = Find(&E, 0, 2, 0), *Empty = Find(&E, 0, 3, 0);
    assert_true(B->Windows[0].Size == N_1MB && Empty->Windows[0].Size == N_1MB);
    assert_true(B->Windows[0].Base != A->Windows[0].Base && Empty->Windows[0].Base != B->Windows[0].Base &&
                Empty->Windows[0].Base != A->Windows[0].Base);
    assert_int_equal(Find(&E, 2, 0, 0)->Bars[0].Base, Dev);
    // Decoding: memory on everything, bus mastering on bridges only, never I/O, INTx disabled.
    assert_int_equal(Fakes[NvmeA].Config[PCI_COMMAND] & 7, PCI_COMMAND_MEMORY);
    assert_int_equal(Fakes[PortA].Config[PCI_COMMAND] & 7, PCI_COMMAND_MEMORY | PCI_COMMAND_BUS_MASTER);
    assert_int_equal(Fakes[RootDev].Config[PCI_COMMAND] & PCI_COMMAND_IO, 0);
    assert_true(Get32(&Fakes[RootDev], PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE);
    assert_int_equal(Get32(&Fakes[RootDev], PCI_BAR0), 1);  // the I/O BAR is left alone
    FreeDevices(&E);
}

static void TestAssignWithoutRoom(void** State) {
    (void)State;
    PCI_SEGMENT S;
    PCI_ENUMERATOR E;
    BuildAssignTopology();
    // 2 MiB below 4 GiB and no high window: the prefetchable 8 MiB BAR finds no room and its function stays off;
    // 64-bit BARs with no window below 4 GiB would go through prefetchable windows, here there is one.
    InitAssignSegment(&S, 0xC0000000, 2 * N_1MB, 0, 0);
    InitEnumerator(&E);
    PCIEnumerateSegment(&E, &S);
    assert_true(S.UnassignedBars > 0);
    PCI_DEVICE* Pref = Find(&E, 1, 0, 1);
    assert_true(Pref->ResourcesMissing);
    assert_int_equal(Fakes[PrefA].Config[PCI_COMMAND] & PCI_COMMAND_MEMORY, 0);
    // Whatever was placed lies inside the window.
    for (PCI_DEVICE* D = E.First; D; D = D->Next) {
        for (U32 I = 0; I < PCI_BAR_COUNT; I++) {
            const PCI_BAR* Bar = &D->Bars[I];
            if (Bar->Type == PCI_BAR_IO || Bar->Size == 0 || Bar->Base == 0) continue;
            assert_true(Bar->Base >= 0xC0000000 && Bar->Base + Bar->Size <= 0xC0200000);
        }
    }
    FreeDevices(&E);
}

static void TestRescanBelowBridge(void** State) {
    (void)State;
    PCI_SEGMENT S;
    PCI_ENUMERATOR E, Below;
    BuildAssignTopology();
    InitAssignSegment(&S, 0xC0000000, 16 * N_1MB, 0x800000000ULL, 64 * N_1MB);
    InitEnumerator(&E);
    PCIEnumerateSegment(&E, &S);
    PCI_DEVICE* Empty = Find(&E, 0, 3, 0);
    // A device arrives in the empty hot-plug slot: scanned within the port's bus and its 1 MiB reserve.
    int Added = AddMemoryBar(AddFake(PortEmpty, 0, 0, 0x1B36, 0x0010, 0x01, 0x08, 0x00), 0, 0x4000, 1, 0);
    InitEnumerator(&Below);
    assert_int_equal(PCIEnumerateBelow(&Below, Empty), 1);
    assert_int_equal(Below.First->Bus, 3);
    U64 Bar = BarOf(Added, 0);
    assert_true(Bar >= Empty->Windows[0].Base && Bar + 0x4000 <= Empty->Windows[0].Base + Empty->Windows[0].Size);
    assert_int_equal(Fakes[Added].Config[PCI_COMMAND] & PCI_COMMAND_MEMORY, PCI_COMMAND_MEMORY);
    FreeDevices(&Below);
    FreeDevices(&E);
}

/************************************************************************/
// Registry: reconciliation, removal, drivers

static int Detached;
static void DetachDevice(PCI_DEVICE* Device) {
    (void)Device;
    Detached++;
}
static const PCI_MATCH AnyMatch = {PCI_ANY_ID, PCI_ANY_ID, PCI_ANY_CLASS, PCI_ANY_CLASS, PCI_ANY_CLASS};
static PCI_DRIVER TestDriver = {
    .Name = "test", .Matches = &AnyMatch, .MatchCount = 1, .Detach = DetachDevice,
};

static void FreeList(PCI_DEVICE* D) {
    while (D) {
        PCI_DEVICE* Next = D->Next;
        free(D);
        D = Next;
    }
}

static void TestReconcile(void** State) {
    (void)State;
    PCI_SEGMENT S;
    PCI_ENUMERATOR E, Again;
    BuildAssignTopology();
    InitAssignSegment(&S, 0xC0000000, 16 * N_1MB, 0x800000000ULL, 64 * N_1MB);
    InitEnumerator(&E);
    PCIEnumerateSegment(&E, &S);
    PCIRegistryReset();
    PCIRegistryAddSegment(&S);
    PCIRegistryAddDevices(E.First);
    PCI_DEVICE* Nvme = PCIFindDevice(0, 1, 0, 0);
    PCI_DEVICE* Gone = PCIFindDevice(0, 2, 0, 0);
    Nvme->Driver = &TestDriver;
    Gone->Driver = &TestDriver;
    U32 Before = PCIGetDeviceCount();

    // The device behind port B vanishes, one arrives behind the empty port; enumerate again and reconcile.
    Fakes[DevB].AllOnes = 1;
    AddMemoryBar(AddFake(PortEmpty, 0, 0, 0x1B36, 0x0010, 0x01, 0x08, 0x00), 0, 0x4000, 1, 0);
    memset(S.ScannedBuses, 0, sizeof(S.ScannedBuses));
    for (U32 I = 0; I < S.WindowCount; I++) S.Windows[I].Used = 0;
    InitEnumerator(&Again);
    PCIEnumerateSegment(&Again, &S);
    PCI_RESCAN Result;
    PCIRegistryReconcile(&S, Again.First, (void (*)(PCI_DEVICE*))free, &Result);
    assert_int_equal(Result.Removed, 1);
    assert_int_equal(Result.Added, 1);
    assert_int_equal(Result.Kept, Before - 1);
    assert_int_equal(PCIGetDeviceCount(), Before);
    // The NVMe kept its object and driver (its BAR did not move); its parent is the kept port.
    assert_ptr_equal(PCIFindDevice(0, 1, 0, 0), Nvme);
    assert_ptr_equal(Nvme->Driver, &TestDriver);
    assert_ptr_equal(Nvme->Parent, PCIFindDevice(0, 0, 1, 0));
    // The vanished one answers all ones through its stale object and waits on the removed list for its driver.
    assert_true(Gone->Removed);
    assert_int_equal(PCIDeviceRead32(Gone, PCI_VENDOR_ID), 0xFFFFFFFF);
    assert_ptr_equal(PCIGetFirstRemovedDevice(), Gone);
    assert_null(PCIFindDevice(0, 2, 0, 0));
    assert_non_null(PCIFindDevice(0, 3, 0, 0));
    Detached = 0;
    PCIDetachRemoved();
    assert_int_equal(Detached, 1);
    assert_null(Gone->Driver);
    assert_null(PCIGetFirstRemovedDevice());
    // A device with DMA limits lowers the platform's allocation bound; none: no bound.
    assert_true(PCIGetDMALimit() == 0);
    Nvme->DmaAddressBits = 48;
    assert_true(PCIGetDMALimit() == (1ULL << 48));
    FreeList(PCIRegistryReset());
    free(Gone);
}

/************************************************************************/
// State across a reset

static void TestSaveRestore(void** State) {
    (void)State;
    PCI_SEGMENT S;
    PCI_ENUMERATOR E;
    BuildTopology();
    InitSegment(&S);
    InitEnumerator(&E);
    PCIEnumerateSegment(&E, &S);
    PCI_DEVICE* Nvme = Find(&E, 1, 0, 0);
    FAKE_FUNCTION* F = &Fakes[NvmeIndex];
    Put16(F, 0x40 + PCI_MSIX_CONTROL, 3);  // 4 entries
    U32 Table[4][4] = {{0xFEE02000, 0, 0, 0}, {0xFEE03000, 0, 0, 0}, {0xFEE00000, 0, 0x41, 1}, {0, 0, 0, 1}};
    PCIEnableBusMaster(Nvme);
    Put16(F, 0x40 + PCI_MSIX_CONTROL, 0x8003);
    PCI_SAVED_STATE Saved;
    PCISaveState(Nvme, (LINEAR)Table, &Saved);
    assert_int_equal(Saved.MsixEntryCount, 4);
    // The reset: command, MSI-X control and table lost.
    Put16(F, PCI_COMMAND, 0);
    Put16(F, 0x40 + PCI_MSIX_CONTROL, 3);
    memset(Table, 0, sizeof(Table));
    for (U32 I = 0; I < 4; I++) Table[I][3] = 1;
    PCIRestoreState(Nvme, (LINEAR)Table, &Saved);
    assert_int_equal(Table[0][0], 0xFEE02000);
    assert_int_equal(Table[1][0], 0xFEE03000);
    assert_int_equal(Table[0][3], 0);  // unmasked again
    assert_int_equal(Table[2][2], 0x41);
    assert_int_equal(Table[3][3], 1);
    assert_int_equal(PCIDeviceRead16(Nvme, 0x40 + PCI_MSIX_CONTROL), 0x8003);
    assert_true(PCIReadCommand(Nvme) & PCI_COMMAND_BUS_MASTER);
    FreeDevices(&E);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestTopology),       cmocka_unit_test(TestBars),
        cmocka_unit_test(TestCapabilities),   cmocka_unit_test(TestCommandHelpers),
        cmocka_unit_test(TestLoopingBridges), cmocka_unit_test(TestAllocationFailure),
        cmocka_unit_test(TestAssignResources), cmocka_unit_test(TestAssignWithoutRoom),
        cmocka_unit_test(TestRescanBelowBridge), cmocka_unit_test(TestReconcile),
        cmocka_unit_test(TestSaveRestore),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
