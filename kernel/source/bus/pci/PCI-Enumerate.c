/*
 * PCI-Enumerate.c - depth-first enumeration of a PCI segment.
 *
 * For each root bus of the segment: all 32 devices, functions 1-7 only when
 * function 0 says multi-function, and every PCI-to-PCI bridge followed to
 * its secondary bus. A bridge that firmware left unprogrammed (secondary bus
 * 0, not above its own bus, outside the segment, or already in use) gets the
 * next free bus number, its subordinate opened to the segment's end while
 * the buses behind it are scanned, then closed to the last bus found. Buses
 * are scanned at most once (a bitmap), so a misprogrammed bridge pointing
 * back up the tree cannot make the walk loop.
 *
 * A segment with PCI_SEGMENT_ASSIGN trusts nothing firmware left: every
 * bridge is numbered (secondary = the next free bus of its root bus's range,
 * so numbers are real bus numbers counted from the root, never 0-based
 * indices), then PCIAssignResources gives out windows and BARs. Below a
 * PCIe root or downstream port only device 0 is scanned (a port's link
 * has one device; PCIe Base 6.0, 7.3.1), and segments may list their root
 * buses with a bus range each (the Intel VMD's second root bus).
 */

#include "bus/pci/PCI.h"

#include "utils/String.h"

typedef struct tag_ENUMERATION {
    PCI_ENUMERATOR* Enumerator;
    PCI_SEGMENT* Segment;
    U32 NextFreeBus;   // lowest bus number not yet used in this segment
    U32 LastBus;       // highest bus number bridges may take (the root bus's range)
    BOOL Assign;       // PCI_SEGMENT_ASSIGN: number every bridge
    U32 Added;
    PCI_DEVICE* FirstAdded;
} ENUMERATION;

static BOOL BusScanned(const PCI_SEGMENT* Segment, U32 Bus) {
    return (Segment->ScannedBuses[Bus / 8] & (1 << (Bus % 8))) != 0;
}

static void MarkBusScanned(PCI_SEGMENT* Segment, U32 Bus) { Segment->ScannedBuses[Bus / 8] |= (U8)(1 << (Bus % 8)); }

static BOOL IsRootBus(const PCI_SEGMENT* Segment, U32 Bus) {
    for (U32 I = 0; I < Segment->RootCount; I++) {
        if (Segment->Roots[I].Bus == Bus) return TRUE;
    }
    return FALSE;
}

/** The next bus number a bridge may take: never another root bus of the segment. */
static U32 TakeBusNumber(ENUMERATION* E) {
    while (E->NextFreeBus <= E->LastBus && IsRootBus(E->Segment, E->NextFreeBus)) E->NextFreeBus++;
    return E->NextFreeBus;
}

static void ReadPortType(PCI_DEVICE* Device) {
    Device->PortType = 0xFF;
    if (Device->PcieCapability) {
        Device->PortType = (U8)((PCIDeviceRead16(Device, Device->PcieCapability + PCI_EXP_FLAGS) >> 4) & 0xF);
    }
}

/** A PCIe root or downstream port's link leads to one device: only device 0 answers below it. */
static BOOL OnlyDeviceZeroBelow(const PCI_DEVICE* Parent) {
    return Parent != NULL && (Parent->PortType == PCI_EXP_PORT_ROOT || Parent->PortType == PCI_EXP_PORT_DOWNSTREAM);
}

static void ScanBus(ENUMERATION* E, U32 Bus, PCI_DEVICE* Parent, U32 Depth);

static void NoteCapability(const PCI_DEVICE* Device, U8 Id, U8 Offset, LPVOID Context) {
    PCI_DEVICE* Target = (PCI_DEVICE*)Context;
    UNUSED(Device);
    if (Id == PCI_CAP_ID_MSI && Target->MsiCapability == 0) Target->MsiCapability = Offset;
    if (Id == PCI_CAP_ID_MSIX && Target->MsixCapability == 0) Target->MsixCapability = Offset;
    if (Id == PCI_CAP_ID_PCIE && Target->PcieCapability == 0) Target->PcieCapability = Offset;
    if (Id == PCI_CAP_ID_PM && Target->PowerCapability == 0) Target->PowerCapability = Offset;
}

static PCI_DEVICE* AddFunction(ENUMERATION* E, U32 Bus, U32 Slot, U32 Function, U32 IdDword, PCI_DEVICE* Parent) {
    PCI_ENUMERATOR* Enumerator = E->Enumerator;
    PCI_DEVICE* Device = Enumerator->Allocate(Enumerator->AllocateContext);
    if (Device == NULL) return NULL;

    Device->SegmentInfo = E->Segment;
    Device->Segment = E->Segment->Segment;
    Device->DmaAddressBits = E->Segment->DmaAddressBits;
    Device->Bus = (U8)Bus;
    Device->Device = (U8)Slot;
    Device->Function = (U8)Function;
    Device->VendorId = (U16)IdDword;
    Device->DeviceId = (U16)(IdDword >> 16);
    U32 ClassDword = PCIDeviceRead32(Device, PCI_REVISION);
    Device->Revision = (U8)ClassDword;
    Device->ProgIf = (U8)(ClassDword >> 8);
    Device->SubClass = (U8)(ClassDword >> 16);
    Device->Class = (U8)(ClassDword >> 24);
    U8 HeaderType = PCIDeviceRead8(Device, PCI_HEADER_TYPE);
    Device->HeaderType = HeaderType & PCI_HEADER_TYPE_MASK;
    Device->MultiFunction = (HeaderType & PCI_HEADER_MULTIFUNCTION) != 0;
    Device->Parent = Parent;
    if (Device->HeaderType == PCI_HEADER_NORMAL) {
        Device->SubsystemVendorId = PCIDeviceRead16(Device, PCI_SUBSYSTEM_VENDOR_ID);
        Device->SubsystemId = PCIDeviceRead16(Device, PCI_SUBSYSTEM_ID);
    }
    Device->InterruptLine = PCIDeviceRead8(Device, PCI_INTERRUPT_LINE);
    Device->InterruptPin = PCIDeviceRead8(Device, PCI_INTERRUPT_PIN);

    PCIWalkCapabilities(Device, NoteCapability, Device);
    Device->CapabilityListBroken = !PCICapabilityListValid(Device);
    ReadPortType(Device);
    PCIReadBars(Device, Enumerator->SizeBars);

    if (Enumerator->Last) Enumerator->Last->Next = Device;
    else Enumerator->First = Device;
    Enumerator->Last = Device;
    Enumerator->Count++;
    E->Added++;
    if (E->FirstAdded == NULL) E->FirstAdded = Device;
    return Device;
}

static void ScanBridge(ENUMERATION* E, PCI_DEVICE* Bridge, U32 Depth) {
    PCI_SEGMENT* Segment = E->Segment;
    U32 Secondary = PCIDeviceRead8(Bridge, PCI_SECONDARY_BUS);
    U32 Subordinate = PCIDeviceRead8(Bridge, PCI_SUBORDINATE_BUS);

    BOOL Usable = !E->Assign && Secondary > Bridge->Bus && Secondary >= Segment->StartBus &&
                  Secondary <= Segment->EndBus && Subordinate >= Secondary && Subordinate <= Segment->EndBus &&
                  !BusScanned(Segment, Secondary) && Secondary >= E->NextFreeBus;

    if (Usable) {
        Bridge->SecondaryBus = (U8)Secondary;
        Bridge->SubordinateBus = (U8)Subordinate;
        E->NextFreeBus = Secondary + 1;
        ScanBus(E, Secondary, Bridge, Depth + 1);
        if (E->NextFreeBus <= Subordinate) E->NextFreeBus = Subordinate + 1;
        return;
    }

    if (TakeBusNumber(E) > E->LastBus) return;  // no bus number left to give

    // Number it ourselves: primary = this bus, secondary = next free, subordinate open while scanning.
    Secondary = E->NextFreeBus;
    E->NextFreeBus = Secondary + 1;
    U32 BusNumbers = PCIDeviceRead32(Bridge, PCI_PRIMARY_BUS);
    BusNumbers = (BusNumbers & 0xFF000000) | (E->LastBus << 16) | (Secondary << 8) | Bridge->Bus;
    PCIDeviceWrite32(Bridge, PCI_PRIMARY_BUS, BusNumbers);
    Bridge->BusNumbersAssigned = TRUE;
    Segment->AssignedBridges++;

    ScanBus(E, Secondary, Bridge, Depth + 1);

    Subordinate = E->NextFreeBus - 1;
    BusNumbers = (BusNumbers & 0xFF00FFFF) | (Subordinate << 16);
    PCIDeviceWrite32(Bridge, PCI_PRIMARY_BUS, BusNumbers);
    Bridge->SecondaryBus = (U8)Secondary;
    Bridge->SubordinateBus = (U8)Subordinate;
}

static void ScanBus(ENUMERATION* E, U32 Bus, PCI_DEVICE* Parent, U32 Depth) {
    PCI_SEGMENT* Segment = E->Segment;
    if (Bus > Segment->EndBus || BusScanned(Segment, Bus) || Depth > 32) return;
    MarkBusScanned(Segment, Bus);
    if (E->NextFreeBus <= Bus) E->NextFreeBus = Bus + 1;

    U32 Slots = OnlyDeviceZeroBelow(Parent) ? 1 : PCI_MAX_DEVICES;
    for (U32 Slot = 0; Slot < Slots; Slot++) {
        U32 Id = PCIConfigRead32(Segment, (U8)Bus, (U8)Slot, 0, PCI_VENDOR_ID);
        if ((Id & 0xFFFF) == 0xFFFF || (Id & 0xFFFF) == 0x0000) continue;

        // The multi-function bit is tested before the type is masked (Linux 5827e17d0555 fixed the reverse).
        U8 HeaderType = PCIConfigRead8(Segment, (U8)Bus, (U8)Slot, 0, PCI_HEADER_TYPE);
        U32 Functions = (HeaderType & PCI_HEADER_MULTIFUNCTION) ? PCI_MAX_FUNCTIONS : 1;
        for (U32 Function = 0; Function < Functions; Function++) {
            if (Function != 0) {
                Id = PCIConfigRead32(Segment, (U8)Bus, (U8)Slot, (U8)Function, PCI_VENDOR_ID);
                if ((Id & 0xFFFF) == 0xFFFF || (Id & 0xFFFF) == 0x0000) continue;
            }
            PCI_DEVICE* Device = AddFunction(E, Bus, Slot, Function, Id, Parent);
            if (Device == NULL) return;  // out of memory: keep what we have
            if (Device->HeaderType == PCI_HEADER_BRIDGE) ScanBridge(E, Device, Depth);
        }
    }
}

static void StartEnumeration(ENUMERATION* E, PCI_ENUMERATOR* Enumerator, PCI_SEGMENT* Segment) {
    E->Enumerator = Enumerator;
    E->Segment = Segment;
    E->NextFreeBus = Segment->StartBus;
    E->LastBus = Segment->EndBus;
    E->Assign = (Segment->Flags & PCI_SEGMENT_ASSIGN) != 0;
    E->Added = 0;
    E->FirstAdded = NULL;
}

U32 PCIEnumerateSegment(PCI_ENUMERATOR* Enumerator, PCI_SEGMENT* Segment) {
    ENUMERATION E;
    StartEnumeration(&E, Enumerator, Segment);

    if (Segment->RootCount > 0) {
        // Listed root buses, each numbering its bridges within its own range.
        for (U32 I = 0; I < Segment->RootCount && I < PCI_SEGMENT_MAX_ROOTS; I++) {
            const PCI_ROOT_BUS* Root = &Segment->Roots[I];
            E.NextFreeBus = Root->FirstBus ? Root->FirstBus : Root->Bus;
            E.LastBus = MIN((U32)Root->LastBus, (U32)Segment->EndBus);
            ScanBus(&E, Root->Bus, NULL, 0);
        }
    } else {
        // Root buses: the first bus of the segment, then any bus firmware
        // numbered that no bridge led to (extra host bridges, e.g. pxb).
        ScanBus(&E, Segment->StartBus, NULL, 0);
        for (U32 Bus = (U32)Segment->StartBus + 1; Bus <= Segment->EndBus && !E.Assign; Bus++) {
            if (BusScanned(Segment, Bus)) continue;
            BOOL Found = FALSE;
            for (U32 Slot = 0; Slot < PCI_MAX_DEVICES && !Found; Slot++) {
                U32 Id = PCIConfigRead32(Segment, (U8)Bus, (U8)Slot, 0, PCI_VENDOR_ID);
                Found = (Id & 0xFFFF) != 0xFFFF && (Id & 0xFFFF) != 0;
            }
            if (Found && Bus >= E.NextFreeBus) ScanBus(&E, Bus, NULL, 0);
        }
    }
    if (E.Assign && E.FirstAdded) PCIAssignResources(Segment, E.FirstAdded, NULL);
    return E.Added;
}

U32 PCIEnumerateSegmentAgain(PCI_ENUMERATOR* Enumerator, PCI_SEGMENT* Segment) {
    MemorySet(Segment->ScannedBuses, 0, sizeof(Segment->ScannedBuses));
    Segment->AssignedBridges = 0;
    Segment->UnassignedBars = 0;
    for (U32 I = 0; I < Segment->WindowCount; I++) Segment->Windows[I].Used = 0;
    return PCIEnumerateSegment(Enumerator, Segment);
}

U32 PCIEnumerateBelow(PCI_ENUMERATOR* Enumerator, PCI_DEVICE* Bridge) {
    PCI_SEGMENT* Segment = Bridge->SegmentInfo;
    ENUMERATION E;
    if (Bridge->HeaderType != PCI_HEADER_BRIDGE || Bridge->SecondaryBus == 0 || Bridge->Removed) return 0;
    StartEnumeration(&E, Enumerator, Segment);
    // The buses this bridge owns may be scanned again; nothing outside them.
    for (U32 Bus = Bridge->SecondaryBus; Bus <= Bridge->SubordinateBus; Bus++) {
        Segment->ScannedBuses[Bus / 8] &= (U8)~(1 << (Bus % 8));
    }
    E.NextFreeBus = (U32)Bridge->SecondaryBus + 1;
    E.LastBus = Bridge->SubordinateBus;
    ScanBus(&E, Bridge->SecondaryBus, Bridge, 1);
    if (E.Assign && E.FirstAdded) PCIAssignResources(Segment, E.FirstAdded, Bridge);
    return E.Added;
}
