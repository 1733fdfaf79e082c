/*
 * Test-VMDConfig.c - the VMD's CFGBAR configuration ops, its domain reset
 * and the generic enumeration with resource assignment, against a small
 * fake CFGBAR decoder in memory.
 *
 * The fake decodes offsets as the hardware does: index = offset >> 20 is
 * bus start + index, delivered to the root bus or through the bridges whose
 * programmed secondary/subordinate numbers hold it, all ones otherwise (so a
 * bridge programmed with a CFGBAR index instead of a real bus number loses
 * its children). Writes are posted: they land only at the next CFGBAR read,
 * and the platform lock must not be released with one still pending (the
 * read-back rule). Every access must happen with the lock held (the
 * serialisation rule). Root ports hard-wire their primary bus to 0.
 */
// SOURCES: bus/vmd/VMD-Config.c bus/vmd/VMD-Layout.c bus/pci/PCI-Config.c bus/pci/PCI-Enumerate.c bus/pci/PCI-Resources.c utils/String.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "bus/vmd/VMD-Internal.h"
#include "core/Log.h"
#include "utils/String.h"

/************************************************************************/
// Platform stubs: the lock, MMIO into the fake, logging

#define CFGBAR_BASE 0x40000000UL
#define MAX_FAKES 16

struct tag_PLATFORM_LOCK {
    int Held;
};

static struct tag_PLATFORM_LOCK ConfigLock;
static int LockViolations, ReadBackViolations, PendingWrite;
static U64 PendingOffset;
static U32 PendingValue;

typedef struct FAKE {
    int Parent;           // bridge index, -1: on a root bus
    U8 RootBus;           // the root bus it sits on (Parent -1)
    U8 Slot, Function;
    U8 Config[4096];
    U32 BarMask[6];
    int PrimaryHardwired; // root ports: primary reads 0 (or PrimaryValue)
    U8 PrimaryValue;
    U32 WriteLog[64][2];  // (offset, value) of the first writes, in order
    int WriteCount;
} FAKE;

static FAKE Fakes[MAX_FAKES];
static int FakeCount;
static VMD_LAYOUT FakeLayout;

static U32 Get32(FAKE* F, U32 O) {
    U32 V;
    memcpy(&V, F->Config + O, 4);
    return V;
}
static void Put32(FAKE* F, U32 O, U32 V) { memcpy(F->Config + O, &V, 4); }
static void Put16(FAKE* F, U32 O, U16 V) { memcpy(F->Config + O, &V, 2); }

/** The bus a fake answers on, or -1 when no chain of bridges routes to it. */
static int BusOf(int Index) {
    FAKE* F = &Fakes[Index];
    if (F->Parent < 0) return F->RootBus;
    FAKE* B = &Fakes[F->Parent];
    int Up = BusOf(F->Parent);
    U8 Secondary = B->Config[PCI_SECONDARY_BUS];
    if (Up < 0 || Secondary == 0) return -1;
    // Every bridge above must route the secondary bus (it lies in its secondary..subordinate range).
    for (int A = F->Parent; A >= 0; A = Fakes[A].Parent) {
        if (Secondary < Fakes[A].Config[PCI_SECONDARY_BUS] || Secondary > Fakes[A].Config[PCI_SUBORDINATE_BUS]) {
            return -1;
        }
    }
    return Secondary;
}

static FAKE* Decode(U64 Offset) {
    U32 Index = (U32)(Offset >> 20);
    if (Index >= FakeLayout.BusCount) return NULL;
    int Bus = FakeLayout.StartBus + (int)Index;
    U8 Slot = (Offset >> 15) & 31, Function = (Offset >> 12) & 7;
    for (int I = 0; I < FakeCount; I++) {
        if (Fakes[I].Slot == Slot && Fakes[I].Function == Function && BusOf(I) == Bus) return &Fakes[I];
    }
    return NULL;
}

static void Apply(U64 Offset, U32 Value) {
    FAKE* F = Decode(Offset);
    U32 Register = Offset & 0xFFC;
    if (F == NULL) return;
    if (F->WriteCount < 64) {
        F->WriteLog[F->WriteCount][0] = Register;
        F->WriteLog[F->WriteCount][1] = Value;
        F->WriteCount++;
    }
    BOOL Bridge = (F->Config[PCI_HEADER_TYPE] & 0x7F) == 1;
    if (Register >= PCI_BAR0 && Register < PCI_BAR0 + (Bridge ? 8 : 24)) {
        U32 Bar = (Register - PCI_BAR0) / 4;
        U32 Old = Get32(F, Register);
        U32 Flags = (Old & 1) ? (Old & 3) : (Old & 0xF);
        if (Bar > 0 && (Get32(F, Register - 4) & 7) == 4) Flags = 0;  // upper half of a 64-bit BAR
        Put32(F, Register, (Value & F->BarMask[Bar]) | Flags);
        return;
    }
    if (Register == 0 || Register == 8) return;  // IDs and class are read-only
    if (Register == PCI_PRIMARY_BUS && F->PrimaryHardwired) Value = (Value & ~0xFFU) | F->PrimaryValue;
    if (Bridge && Register == PCI_PREFETCH_BASE) Value = (Value & 0xFFF0FFF0) | (Get32(F, Register) & 0x000F000F);
    Put32(F, Register, Value);
}

U32 PlatformRead32(LINEAR Address) {
    if (!ConfigLock.Held) LockViolations++;
    if (PendingWrite) {
        Apply(PendingOffset, PendingValue);  // a read completes the posted write
        PendingWrite = 0;
    }
    FAKE* F = Decode(Address - CFGBAR_BASE);
    return F ? Get32(F, (Address - CFGBAR_BASE) & 0xFFC) : 0xFFFFFFFF;
}

void PlatformWrite32(LINEAR Address, U32 Value) {
    if (!ConfigLock.Held) LockViolations++;
    if (PendingWrite) Apply(PendingOffset, PendingValue);
    PendingWrite = 1;
    PendingOffset = Address - CFGBAR_BASE;
    PendingValue = Value;
}

U64 PlatformLockAcquire(PLATFORM_LOCK* Lock) {
    if (Lock->Held) LockViolations++;
    Lock->Held = 1;
    return 0;
}

void PlatformLockRelease(PLATFORM_LOCK* Lock, U64 State) {
    (void)State;
    if (PendingWrite) ReadBackViolations++;  // released with a write that never completed
    Lock->Held = 0;
}

/************************************************************************/
// The fake domain

static int AddFake(int Parent, U8 RootBus, U8 Slot, U8 Function, U16 Device, U32 ClassCode, U8 Header) {
    FAKE* F = &Fakes[FakeCount];
    memset(F, 0, sizeof(*F));
    F->Parent = Parent;
    F->RootBus = RootBus;
    F->Slot = Slot;
    F->Function = Function;
    Put32(F, 0, 0x8086 | ((U32)Device << 16));
    Put32(F, 8, ClassCode << 8);
    F->Config[PCI_HEADER_TYPE] = Header;
    return FakeCount++;
}

/** A PCIe root port (port type 4) with a hot-plug capable slot; firmware left it dirty. */
static int AddRootPort(U8 RootBus, U8 Slot, U8 Secondary) {
    int I = AddFake(-1, RootBus, Slot, 0, 0x9A09, 0x060400, 0x01);
    FAKE* F = &Fakes[I];
    F->PrimaryHardwired = 1;
    Put16(F, PCI_STATUS, PCI_STATUS_CAPABILITIES);
    F->Config[PCI_CAPABILITIES] = 0x40;
    F->Config[0x40] = PCI_CAP_ID_PCIE;
    Put16(F, 0x40 + PCI_EXP_FLAGS, (PCI_EXP_PORT_ROOT << 4) | PCI_EXP_FLAGS_SLOT | 2);
    Put32(F, 0x40 + PCI_EXP_SLOT_CAPABILITIES, PCI_EXP_SLOT_CAP_HOTPLUG_CAPABLE);
    F->Config[PCI_SECONDARY_BUS] = Secondary;
    F->Config[PCI_SUBORDINATE_BUS] = Secondary;
    Put32(F, PCI_IO_BASE, 0);              // I/O 0/0: reads as an open 4 KiB window at 0
    Put32(F, PCI_MEMORY_BASE, 0x00000000);  // an open 1 MiB window at 0
    Put32(F, PCI_PREFETCH_BASE, 0x00010001);  // 64-bit capable
    return I;
}

static int AddNvme(int Parent) {
    int I = AddFake(Parent, 0, 0, 0, 0xF1A8, 0x010802, 0x00);
    FAKE* F = &Fakes[I];
    Put32(F, PCI_BAR0, 0x00000004);  // 64-bit, 16 KiB, unassigned
    F->BarMask[0] = 0xFFFFC000;
    F->BarMask[1] = 0xFFFFFFFF;
    Put16(F, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
    return I;
}

static VMD_CONTROLLER Vmd;

static void SetUpVmd(U32 Vmconfig, U16 Range0, U16 Range1) {
    char Why[80];
    memset(&Vmd, 0, sizeof(Vmd));
    assert_true(VMDDecodeLayout(VMD_FEATURE_BUS_RESTRICTIONS | VMD_FEATURE_PCH_ROOT_BUS, 1, Vmconfig, 32 * N_1MB,
                                Range0, Range1, &Vmd.Layout, Why, sizeof(Why)));
    FakeLayout = Vmd.Layout;
    StringCopy(Vmd.Name, "vmd0", sizeof(Vmd.Name));
    Vmd.Cfgbar = CFGBAR_BASE;
    Vmd.ConfigLock = &ConfigLock;
    PCI_SEGMENT* S = &Vmd.Segment;
    S->Segment = VMD_SEGMENT_BASE;
    S->StartBus = Vmd.Layout.StartBus;
    S->EndBus = Vmd.Layout.EndBus;
    S->ConfigSize = PCI_CONFIG_SIZE_EXTENDED;
    S->Ops = &VMDConfigOps;
    S->Context = &Vmd;
    S->Flags = PCI_SEGMENT_ASSIGN | PCI_SEGMENT_NO_IO | PCI_SEGMENT_NO_INTX;
    S->RootCount = Vmd.Layout.RootCount;
    memcpy(S->Roots, Vmd.Layout.Roots, sizeof(S->Roots));
    S->WindowCount = VMDComputeWindows(&Vmd.Layout, 0x52000000, 32 * N_1MB, 0x6015100000ULL, N_1MB, 0x2000, 0, 0,
                                       S->Windows);
    S->DmaAddressBits = VMD_DMA_ADDRESS_BITS;
    LockViolations = ReadBackViolations = PendingWrite = 0;
    ConfigLock.Held = 0;
}

static PCI_DEVICE* Allocate(LPVOID Context) {
    (void)Context;
    return calloc(1, sizeof(PCI_DEVICE));
}

static U32 Enumerate(PCI_ENUMERATOR* E) {
    memset(E, 0, sizeof(*E));
    E->Allocate = Allocate;
    E->SizeBars = TRUE;
    VMDDomainReset(&Vmd);
    return PCIEnumerateSegment(E, &Vmd.Segment);
}

static void Free(PCI_ENUMERATOR* E) {
    for (PCI_DEVICE* D = E->First; D;) {
        PCI_DEVICE* Next = D->Next;
        free(D);
        D = Next;
    }
}

static PCI_DEVICE* Find(PCI_ENUMERATOR* E, U8 Bus, U8 Slot, U8 Function) {
    for (PCI_DEVICE* D = E->First; D; D = D->Next) {
        if (D->Bus == Bus && D->Device == Slot && D->Function == Function) return D;
    }
    return NULL;
}

/************************************************************************/
// Tests

static void TestAccessRules(void** State) {
    (void)State;
    FakeCount = 0;
    SetUpVmd(2 << 8, 0, 0);
    int Port = AddRootPort(0xE0, 6, 0);
    const PCI_SEGMENT* S = &Vmd.Segment;
    // A write lands only with the read-back, before the lock is released; no access outside the lock.
    PCIConfigWrite32(S, 0xE0, 6, 0, PCI_PRIMARY_BUS, 0x00E1E100);
    assert_int_equal(Fakes[Port].Config[PCI_SECONDARY_BUS], 0xE1);
    assert_int_equal(Fakes[Port].Config[PCI_PRIMARY_BUS], 0);  // hard-wired
    assert_int_equal(PCIConfigRead8(S, 0xE0, 6, 0, PCI_HEADER_TYPE), 1);
    assert_int_equal(LockViolations, 0);
    assert_int_equal(ReadBackViolations, 0);
    assert_true(Vmd.ConfigWrites == 1 && Vmd.ConfigReads == 1);  // the read-back is part of the write
    // Empty slots, unrouted buses and buses outside the span answer all ones.
    assert_int_equal(PCIConfigRead32(S, 0xE0, 7, 0, 0), 0xFFFFFFFF);
    assert_int_equal(PCIConfigRead32(S, 0xE5, 0, 0, 0), 0xFFFFFFFF);
    assert_int_equal(PCIConfigRead32(S, 0x01, 0, 0, 0), 0xFFFFFFFF);
    U64 Writes = Vmd.ConfigWrites;
    PCIConfigWrite32(S, 0x01, 0, 0, 0x10, 0x1234);  // dropped
    assert_int_equal(Vmd.ConfigWrites, Writes);
}

static void TestDomainReset(void** State) {
    (void)State;
    FakeCount = 0;
    SetUpVmd(2 << 8, 0, 0);
    // Two root ports left with the same secondary bus (SPDK #2413), windows open, numbers that are CFGBAR
    // indices (1) instead of real bus numbers.
    int A = AddRootPort(0xE0, 6, 0xE1);
    int B = AddRootPort(0xE0, 0x1D, 0xE1);
    // A multi-function device whose function 1 is a bridge (Linux 5827e17d0555).
    AddFake(-1, 0xE0, 0x1C, 0, 0x1234, 0x088000, 0x80);
    int Mfd = AddFake(-1, 0xE0, 0x1C, 1, 0x5678, 0x060400, 0x01);
    Put32(&Fakes[Mfd], PCI_MEMORY_BASE, 0);
    VMDDomainReset(&Vmd);
    // Linux's order: I/O upper, I/O, I/O upper, memory, prefetchable limit upper, base, base upper.
    static const U32 Order[7][2] = {{0x30, 0x0000FFFF}, {0x1C, 0x000000F0}, {0x30, 0}, {0x20, 0x0000FFF0},
                                    {0x2C, 0}, {0x24, 0x0000FFF0}, {0x28, 0xFFFFFFFF}};
    for (U32 I = 0; I < 7; I++) {
        assert_int_equal(Fakes[A].WriteLog[I][0], Order[I][0]);
        assert_int_equal(Fakes[A].WriteLog[I][1], Order[I][1]);
    }
    assert_int_equal(Get32(&Fakes[Mfd], PCI_MEMORY_BASE), 0x0000FFF0);
    // Root ports' bus numbers cleared.
    assert_int_equal(Fakes[A].Config[PCI_SECONDARY_BUS], 0);
    assert_int_equal(Fakes[B].Config[PCI_SUBORDINATE_BUS], 0);
    assert_int_equal(ReadBackViolations, 0);
    assert_int_equal(LockViolations, 0);
}

static void TestEnumerateAndAssign(void** State) {
    (void)State;
    FakeCount = 0;
    SetUpVmd(2 << 8, 0, 0);
    int A = AddRootPort(0xE0, 6, 1);     // firmware put a CFGBAR index where a bus number belongs
    int Nvme = AddNvme(A);
    int B = AddRootPort(0xE0, 0x1D, 1);  // an empty hot-plug slot, same stale number
    int Ahci = AddFake(-1, 0xE0, 0x17, 0, 0xA0D3, 0x010601, 0x00);
    Put32(&Fakes[Ahci], PCI_BAR0, 0x00000001);  // I/O BAR: never assigned
    Fakes[Ahci].BarMask[0] = 0xFFFFFFF8;
    Put32(&Fakes[Ahci], PCI_BAR0 + 20, 0);      // BAR5 (ABAR), 2 KiB, 32-bit
    Fakes[Ahci].BarMask[5] = 0xFFFFF800;

    PCI_ENUMERATOR E;
    U32 Found = Enumerate(&E);
    assert_int_equal(Found, 4);
    assert_int_equal(LockViolations, 0);
    assert_int_equal(ReadBackViolations, 0);

    // Real bus numbers, counted from the start bus: e1 and e2, and the NVMe is found behind the first port.
    assert_int_equal(Fakes[A].Config[PCI_SECONDARY_BUS], 0xE1);
    assert_int_equal(Fakes[A].Config[PCI_SUBORDINATE_BUS], 0xE1);
    assert_int_equal(Fakes[B].Config[PCI_SECONDARY_BUS], 0xE2);
    PCI_DEVICE* Device = Find(&E, 0xE1, 0, 0);
    assert_non_null(Device);
    assert_int_equal(Device->Segment, 0x10000);
    assert_int_equal(Device->DmaAddressBits, 48);

    // Its BAR lies in the MEMBAR1 window, inside its port's 1 MiB-aligned window; MSE on, BME off, INTx off.
    U64 Bar = Get32(&Fakes[Nvme], PCI_BAR0) & ~0xFULL;
    Bar |= (U64)Get32(&Fakes[Nvme], PCI_BAR0 + 4) << 32;
    assert_true(Bar >= 0x52000000 && Bar + 0x4000 <= 0x54000000 && (Bar & 0x3FFF) == 0);
    assert_true(Device->Bars[0].Base == Bar);
    U32 Window = Get32(&Fakes[A], PCI_MEMORY_BASE);
    U64 Base = (U64)(Window & 0xFFF0) << 16, Limit = ((U64)(Window >> 16) << 16) | 0xFFFFF;
    assert_true(Base <= Bar && Bar + 0x4000 - 1 <= Limit && (Base & 0xFFFFF) == 0);
    U16 Command = (U16)Get32(&Fakes[Nvme], PCI_COMMAND);
    assert_int_equal(Command & (PCI_COMMAND_MEMORY | PCI_COMMAND_IO | PCI_COMMAND_BUS_MASTER), PCI_COMMAND_MEMORY);
    assert_true(Command & PCI_COMMAND_INTX_DISABLE);
    // Bridges: memory decoding and bus mastering on; the empty hot-plug port keeps 1 MiB for a later device.
    assert_int_equal((U16)Get32(&Fakes[A], PCI_COMMAND) & 7, PCI_COMMAND_MEMORY | PCI_COMMAND_BUS_MASTER);
    U32 Reserve = Get32(&Fakes[B], PCI_MEMORY_BASE);
    assert_int_equal((Reserve >> 16) - (Reserve & 0xFFFF), 0);  // one 1 MiB unit: limit == base
    assert_int_equal(Get32(&Fakes[A], PCI_IO_BASE) & 0xFFFF, 0x00F0);  // I/O window closed
    // AHCI on the root bus: ABAR assigned at 4 KiB granularity, its I/O BAR left alone, no I/O decoding.
    U32 Abar = Get32(&Fakes[Ahci], PCI_BAR0 + 20);
    assert_true(Abar >= 0x52000000 && (Abar & 0xFFF) == 0);
    assert_int_equal(Get32(&Fakes[Ahci], PCI_BAR0), 1);
    assert_int_equal((U16)Get32(&Fakes[Ahci], PCI_COMMAND) & PCI_COMMAND_IO, 0);
    // No child ever in the VMD's own first 8 KiB of MEMBAR2.
    for (PCI_DEVICE* D = E.First; D; D = D->Next) {
        for (U32 I = 0; I < PCI_BAR_COUNT; I++) {
            assert_false(D->Bars[I].Size && D->Bars[I].Base >= 0x6015100000ULL && D->Bars[I].Base < 0x6015102000ULL);
        }
    }
    Free(&E);
}

static void TestEnumerateTwice(void** State) {
    (void)State;
    // A second enumeration (vmd reset) finds the same numbers and BARs: the drivers' mappings stay valid.
    FakeCount = 0;
    SetUpVmd(2 << 8, 0, 0);
    int A = AddRootPort(0xE0, 6, 0);
    AddNvme(A);
    AddRootPort(0xE0, 7, 0);
    PCI_ENUMERATOR First, Second;
    Enumerate(&First);
    U64 Bar = Find(&First, 0xE1, 0, 0)->Bars[0].Base;
    memset(Vmd.Segment.ScannedBuses, 0, sizeof(Vmd.Segment.ScannedBuses));
    for (U32 I = 0; I < Vmd.Segment.WindowCount; I++) Vmd.Segment.Windows[I].Used = 0;
    Enumerate(&Second);
    assert_non_null(Find(&Second, 0xE1, 0, 0));
    assert_true(Find(&Second, 0xE1, 0, 0)->Bars[0].Base == Bar);
    assert_int_equal(ReadBackViolations, 0);
    Free(&First);
    Free(&Second);
}

static void TestRestrictionOne(void** State) {
    (void)State;
    FakeCount = 0;
    SetUpVmd(1 << 8, 0, 0);
    int A = AddRootPort(128, 0, 0);
    AddNvme(A);
    PCI_ENUMERATOR E;
    assert_int_equal(Enumerate(&E), 2);
    assert_int_equal(Fakes[A].Config[PCI_SECONDARY_BUS], 129);
    assert_non_null(Find(&E, 129, 0, 0));
    Free(&E);
}

static void TestDualRootBus(void** State) {
    (void)State;
    // Arrow Lake: root bus 224 (CPU ports) and 225 (PCH ports, primary hard-wired 0x80), each numbering within
    // its BUSRANGE; both reached through the one CFGBAR.
    FakeCount = 0;
    SetUpVmd(3 << 8, 0xEFE0, 0xFFF0);
    assert_int_equal(Vmd.Segment.RootCount, 2);
    int Cpu = AddRootPort(224, 6, 0);
    AddNvme(Cpu);
    int Pch = AddRootPort(225, 0x1C, 0);
    Fakes[Pch].PrimaryValue = 0x80;
    AddNvme(Pch);
    PCI_ENUMERATOR E;
    assert_int_equal(Enumerate(&E), 4);
    // e1 is root bus 1 itself (CFGBAR index 1): the CPU side's first bridge takes e2.
    assert_int_equal(Fakes[Cpu].Config[PCI_SECONDARY_BUS], 0xE2);
    assert_int_equal(Fakes[Pch].Config[PCI_SECONDARY_BUS], 0xF1);
    assert_int_equal(Fakes[Pch].Config[PCI_PRIMARY_BUS], 0x80);
    assert_non_null(Find(&E, 0xE2, 0, 0));
    assert_non_null(Find(&E, 0xF1, 0, 0));
    assert_int_equal(ReadBackViolations, 0);
    Free(&E);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestAccessRules),        cmocka_unit_test(TestDomainReset),
        cmocka_unit_test(TestEnumerateAndAssign), cmocka_unit_test(TestEnumerateTwice),
        cmocka_unit_test(TestRestrictionOne),     cmocka_unit_test(TestDualRootBus),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
