/*
 * PCI.c - the kernel side of the PCI core: configuration access methods,
 * the segment and device lists, and the driver registry.
 *
 * Access methods: ECAM for each MCFG segment (PCI Firmware spec 4.1: each
 * function's 4 KiB at Base + (Bus << 20 | Device << 15 | Function << 12)),
 * mapped uncached one bus (1 MiB) at a time on first use; and configuration
 * mechanism #1 (ports 0xCF8/0xCFC, 256 bytes per function) when there is
 * no MCFG. The port pair is a two-step access, so it is serialised by a
 * spinlock; ECAM accesses are single moves and need none.
 *
 * Devices are allocated from the heap; a listed device is never freed (a
 * removed one stays allocated for the driver that may still hold it); the
 * lists, driver binding and reconciliation live in PCI-Registry.c. Fresh
 * copies from a rescan that match a listed function are freed. Drivers
 * register before PCIInit or call PCIBindDrivers.
 */

#include "bus/pci/PCI.h"

#include "arch/x86-64/CPU.h"
#include "core/Log.h"
#include "core/Spinlock.h"
#include "bus/pci/PCI-MSI.h"
#include "memory/Heap.h"
#include "memory/Paging.h"
#include "system/ACPI.h"
#include "utils/String.h"

/************************************************************************/
// Configuration mechanism #1 (ports)

static SPINLOCK PortLock = SPINLOCK_INIT;

static U32 PortAddress(U8 Bus, U8 Device, U8 Function, U16 Offset) {
    return 0x80000000U | ((U32)Bus << 16) | ((U32)(Device & 0x1F) << 11) | ((U32)(Function & 7) << 8) |
           (Offset & 0xFC);
}

static U32 PortRead32(LPVOID Context, U8 Bus, U8 Device, U8 Function, U16 Offset) {
    UNUSED(Context);
    if (Offset >= PCI_CONFIG_SIZE_LEGACY) return MAX_U32;
    U64 Flags = SpinlockAcquire(&PortLock);
    OutPortLong(0xCF8, PortAddress(Bus, Device, Function, Offset));
    U32 Value = InPortLong(0xCFC);
    SpinlockRelease(&PortLock, Flags);
    return Value;
}

static void PortWrite32(LPVOID Context, U8 Bus, U8 Device, U8 Function, U16 Offset, U32 Value) {
    UNUSED(Context);
    if (Offset >= PCI_CONFIG_SIZE_LEGACY) return;
    U64 Flags = SpinlockAcquire(&PortLock);
    OutPortLong(0xCF8, PortAddress(Bus, Device, Function, Offset));
    OutPortLong(0xCFC, Value);
    SpinlockRelease(&PortLock, Flags);
}

static const PCI_CONFIG_OPS PortOps = {PortRead32, PortWrite32};

/************************************************************************/
// ECAM

typedef struct tag_ECAM_WINDOW {
    PHYSICAL Base;           // address of bus 0 (the MCFG convention)
    LINEAR BusMap[PCI_MAX_BUSES];  // mapped 1 MiB per bus, 0 until first use
    BOOL BusFailed[PCI_MAX_BUSES];
    SPINLOCK MapLock;
} ECAM_WINDOW;

static LINEAR EcamFunction(ECAM_WINDOW* Window, U8 Bus, U8 Device, U8 Function) {
    LINEAR BusBase = __atomic_load_n(&Window->BusMap[Bus], __ATOMIC_ACQUIRE);
    if (BusBase == 0) {
        if (Window->BusFailed[Bus]) return 0;
        LINEAR Mapped = MapIOMemory(Window->Base + ((PHYSICAL)Bus << 20), N_1MB);
        U64 Flags = SpinlockAcquire(&Window->MapLock);
        if (Window->BusMap[Bus] == 0) {
            __atomic_store_n(&Window->BusMap[Bus], Mapped, __ATOMIC_RELEASE);
            if (Mapped == 0) Window->BusFailed[Bus] = TRUE;
            Mapped = 0;
        }
        BusBase = Window->BusMap[Bus];
        SpinlockRelease(&Window->MapLock, Flags);
        if (Mapped != 0) UnmapIOMemory(Mapped, N_1MB);  // another CPU won the race
        if (BusBase == 0) return 0;
    }
    return BusBase + ((LINEAR)(Device & 0x1F) << 15) + ((LINEAR)(Function & 7) << 12);
}

static U32 EcamRead32(LPVOID Context, U8 Bus, U8 Device, U8 Function, U16 Offset) {
    LINEAR Base = EcamFunction((ECAM_WINDOW*)Context, Bus, Device, Function);
    if (Base == 0 || Offset >= PCI_CONFIG_SIZE_EXTENDED) return MAX_U32;
    return *(volatile U32*)(Base + (Offset & 0xFFC));
}

static void EcamWrite32(LPVOID Context, U8 Bus, U8 Device, U8 Function, U16 Offset, U32 Value) {
    LINEAR Base = EcamFunction((ECAM_WINDOW*)Context, Bus, Device, Function);
    if (Base == 0 || Offset >= PCI_CONFIG_SIZE_EXTENDED) return;
    *(volatile U32*)(Base + (Offset & 0xFFC)) = Value;
}

static const PCI_CONFIG_OPS EcamOps = {EcamRead32, EcamWrite32};

/************************************************************************/
// Lists

static PCI_DEVICE* AllocateDevice(LPVOID Context) {
    UNUSED(Context);
    return (PCI_DEVICE*)KernelHeapAllocZero(sizeof(PCI_DEVICE));
}

static void FreeDevice(PCI_DEVICE* Device) { KernelHeapFree(Device); }

static void StartEnumerator(PCI_ENUMERATOR* Enumerator) {
    MemorySet(Enumerator, 0, sizeof(*Enumerator));
    Enumerator->Allocate = AllocateDevice;
    Enumerator->SizeBars = TRUE;
}

U32 PCIAddSegment(PCI_SEGMENT* Segment) {
    PCI_ENUMERATOR Enumerator;
    StartEnumerator(&Enumerator);

    PCIRegistryAddSegment(Segment);

    // BAR sizing toggles decoding: keep interrupts off so no handler touches a device mid-sizing.
    U64 InterruptFlags = SaveAndDisableInterrupts();
    U32 Found = PCIEnumerateSegment(&Enumerator, Segment);
    RestoreInterrupts(InterruptFlags);

    PCIRegistryAddDevices(Enumerator.First);

    INFO("[PCIAddSegment] segment %04x buses %02x-%02x via %s: %u functions, %u bridges numbered", Segment->Segment,
         Segment->StartBus, Segment->EndBus, Segment->AccessName, Found, Segment->AssignedBridges);
    if (Segment->UnassignedBars) {
        WARNING("[PCIAddSegment] segment %04x: %u BAR(s) found no room in the segment's windows", Segment->Segment,
                Segment->UnassignedBars);
    }
    return Found;
}

void PCIRescanSegment(PCI_SEGMENT* Segment, PCI_RESCAN* Result) {
    PCI_ENUMERATOR Enumerator;
    StartEnumerator(&Enumerator);
    U64 InterruptFlags = SaveAndDisableInterrupts();
    PCIEnumerateSegmentAgain(&Enumerator, Segment);
    RestoreInterrupts(InterruptFlags);
    PCIRegistryReconcile(Segment, Enumerator.First, FreeDevice, Result);
}

U32 PCIRescanBridge(PCI_DEVICE* Bridge) {
    PCI_ENUMERATOR Enumerator;
    StartEnumerator(&Enumerator);
    U64 InterruptFlags = SaveAndDisableInterrupts();
    U32 Found = PCIEnumerateBelow(&Enumerator, Bridge);
    RestoreInterrupts(InterruptFlags);
    PCIRegistryAddDevices(Enumerator.First);
    return Found;
}

/************************************************************************/
// MSI-X table mapping

BOOL PCIMSIXMap(PCI_DEVICE* Device, PCI_MSIX_INFO* Info) {
    const PCI_BAR* TableBar = &Device->Bars[Info->TableBar];
    const PCI_BAR* PbaBar = &Device->Bars[Info->PbaBar];
    U64 TableBytes = (U64)Info->TableSize * PCI_MSIX_ENTRY_SIZE;
    U64 PbaBytes = ALIGN_UP(((U64)Info->TableSize + 63) / 64 * 8, 8ULL);
    if (TableBar->Base == 0 || PbaBar->Base == 0) return FALSE;
    if (PbaBar->Type != PCI_BAR_MEMORY32 && PbaBar->Type != PCI_BAR_MEMORY64) return FALSE;
    Info->Table = MapIOMemory(TableBar->Base + Info->TableOffset, TableBytes);
    Info->Pba = MapIOMemory(PbaBar->Base + Info->PbaOffset, PbaBytes);
    PCIEnableMemorySpace(Device);
    return Info->Table != 0 && Info->Pba != 0;
}

/************************************************************************/
// Initialisation

void PCIInit(void) {
    const ACPI_MCFG_INFO* Mcfg = ACPIGetMCFG();
    U32 Added = 0;

    if (Mcfg) {
        for (U32 I = 0; I < Mcfg->SegmentCount; I++) {
            const ACPI_MCFG_SEGMENT* Entry = &Mcfg->Segments[I];
            PCI_SEGMENT* Segment = (PCI_SEGMENT*)KernelHeapAllocZero(sizeof(PCI_SEGMENT));
            ECAM_WINDOW* Window = (ECAM_WINDOW*)KernelHeapAllocZero(sizeof(ECAM_WINDOW));
            if (Segment == NULL || Window == NULL) break;
            Window->Base = Entry->Base;
            SpinlockInit(&Window->MapLock);
            Segment->Segment = Entry->Segment;
            Segment->StartBus = Entry->StartBus;
            Segment->EndBus = Entry->EndBus;
            Segment->ConfigSize = PCI_CONFIG_SIZE_EXTENDED;
            Segment->AccessName = "ECAM";
            Segment->Ops = &EcamOps;
            Segment->Context = Window;
            PCIAddSegment(Segment);
            Added++;
        }
    }

    if (Added == 0) {
        // Mechanism #1 exists when the address register keeps what is written to it.
        OutPortLong(0xCF8, 0x80000000U);
        if (InPortLong(0xCF8) != 0x80000000U) {
            WARNING("[PCIInit] no PCI configuration access (no MCFG, no ports)");
            return;
        }
        PCI_SEGMENT* Segment = (PCI_SEGMENT*)KernelHeapAllocZero(sizeof(PCI_SEGMENT));
        if (Segment == NULL) return;
        Segment->StartBus = 0;
        Segment->EndBus = 255;
        Segment->ConfigSize = PCI_CONFIG_SIZE_LEGACY;
        Segment->AccessName = "ports";
        Segment->Ops = &PortOps;
        PCIAddSegment(Segment);
    }
}
