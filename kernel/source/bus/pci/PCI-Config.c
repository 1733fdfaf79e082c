/*
 * PCI-Config.c - configuration space helpers: sub-dword access, BARs,
 * capability lists, the command register and driver matching.
 *
 * Everything goes through the segment's ops table, dword at a time, so it
 * works for ECAM, the legacy ports and the VMD window alike, and in host
 * tests over fake configuration spaces. Capability walks are bounded: a
 * list that points backwards, at itself or out of range ends the walk and
 * marks the device, it never hangs.
 */

#include "bus/pci/PCI.h"

#include "utils/String.h"

/************************************************************************/
// Sub-dword access

U32 PCIConfigRead32(const PCI_SEGMENT* Segment, U8 Bus, U8 Device, U8 Function, U16 Offset) {
    if (Offset >= Segment->ConfigSize) return MAX_U32;
    return Segment->Ops->Read32(Segment->Context, Bus, Device, Function, (U16)(Offset & ~3));
}

U16 PCIConfigRead16(const PCI_SEGMENT* Segment, U8 Bus, U8 Device, U8 Function, U16 Offset) {
    return (U16)(PCIConfigRead32(Segment, Bus, Device, Function, Offset) >> ((Offset & 2) * 8));
}

U8 PCIConfigRead8(const PCI_SEGMENT* Segment, U8 Bus, U8 Device, U8 Function, U16 Offset) {
    return (U8)(PCIConfigRead32(Segment, Bus, Device, Function, Offset) >> ((Offset & 3) * 8));
}

void PCIConfigWrite32(const PCI_SEGMENT* Segment, U8 Bus, U8 Device, U8 Function, U16 Offset, U32 Value) {
    if (Offset >= Segment->ConfigSize) return;
    Segment->Ops->Write32(Segment->Context, Bus, Device, Function, (U16)(Offset & ~3), Value);
}

void PCIConfigWrite16(const PCI_SEGMENT* Segment, U8 Bus, U8 Device, U8 Function, U16 Offset, U16 Value) {
    U32 Shift = (Offset & 2) * 8;
    U32 Old = PCIConfigRead32(Segment, Bus, Device, Function, Offset);
    // Writing back the status half of the command dword would clear its RW1C bits.
    if ((Offset & ~3) == PCI_COMMAND) Old &= 0x0000FFFF;
    U32 New = (Old & ~(0xFFFFU << Shift)) | ((U32)Value << Shift);
    PCIConfigWrite32(Segment, Bus, Device, Function, Offset, New);
}

void PCIConfigWrite8(const PCI_SEGMENT* Segment, U8 Bus, U8 Device, U8 Function, U16 Offset, U8 Value) {
    U32 Shift = (Offset & 3) * 8;
    U32 Old = PCIConfigRead32(Segment, Bus, Device, Function, Offset);
    if ((Offset & ~3) == PCI_COMMAND) Old &= 0x0000FFFF;
    U32 New = (Old & ~(0xFFU << Shift)) | ((U32)Value << Shift);
    PCIConfigWrite32(Segment, Bus, Device, Function, Offset, New);
}

// A removed device answers like an empty slot, so a driver still holding it sees it gone, not another function.
U32 PCIDeviceRead32(const PCI_DEVICE* D, U16 Offset) {
    if (D->Removed) return MAX_U32;
    return PCIConfigRead32(D->SegmentInfo, D->Bus, D->Device, D->Function, Offset);
}
U16 PCIDeviceRead16(const PCI_DEVICE* D, U16 Offset) {
    return (U16)(PCIDeviceRead32(D, Offset) >> ((Offset & 2) * 8));
}
U8 PCIDeviceRead8(const PCI_DEVICE* D, U16 Offset) {
    return (U8)(PCIDeviceRead32(D, Offset) >> ((Offset & 3) * 8));
}
void PCIDeviceWrite32(const PCI_DEVICE* D, U16 Offset, U32 Value) {
    if (D->Removed) return;
    PCIConfigWrite32(D->SegmentInfo, D->Bus, D->Device, D->Function, Offset, Value);
}
void PCIDeviceWrite16(const PCI_DEVICE* D, U16 Offset, U16 Value) {
    if (D->Removed) return;
    PCIConfigWrite16(D->SegmentInfo, D->Bus, D->Device, D->Function, Offset, Value);
}
void PCIDeviceWrite8(const PCI_DEVICE* D, U16 Offset, U8 Value) {
    if (D->Removed) return;
    PCIConfigWrite8(D->SegmentInfo, D->Bus, D->Device, D->Function, Offset, Value);
}

/************************************************************************/
// Command register

U16 PCIReadCommand(const PCI_DEVICE* Device) { return PCIDeviceRead16(Device, PCI_COMMAND); }

void PCISetCommandBits(PCI_DEVICE* Device, U16 Set, U16 Clear) {
    U16 Command = PCIReadCommand(Device);
    U16 New = (U16)((Command & ~Clear) | Set);
    if (New != Command) PCIDeviceWrite16(Device, PCI_COMMAND, New);
}

void PCIEnableMemorySpace(PCI_DEVICE* Device) { PCISetCommandBits(Device, PCI_COMMAND_MEMORY, 0); }
void PCIEnableBusMaster(PCI_DEVICE* Device) { PCISetCommandBits(Device, PCI_COMMAND_BUS_MASTER, 0); }
void PCIDisableIntx(PCI_DEVICE* Device, BOOL Disable) {
    if (Disable) PCISetCommandBits(Device, PCI_COMMAND_INTX_DISABLE, 0);
    else PCISetCommandBits(Device, 0, PCI_COMMAND_INTX_DISABLE);
}

/************************************************************************/
// BARs

static U32 SizeBarRegister(PCI_DEVICE* Device, U16 Offset, U32 Original) {
    PCIDeviceWrite32(Device, Offset, MAX_U32);
    U32 Mask = PCIDeviceRead32(Device, Offset);
    PCIDeviceWrite32(Device, Offset, Original);
    return Mask;
}

void PCIReadBars(PCI_DEVICE* Device, BOOL Size) {
    U32 BarCount = Device->HeaderType == PCI_HEADER_NORMAL ? 6 : (Device->HeaderType == PCI_HEADER_BRIDGE ? 2 : 0);
    U16 Command = 0;
    // Host and ISA bridges keep decoding: turning them off would cut the legacy devices (serial, timer).
    BOOL ToggleDecode = Size && !(Device->Class == 0x06 && (Device->SubClass == 0x00 || Device->SubClass == 0x01));

    MemorySet(Device->Bars, 0, sizeof(Device->Bars));
    if (ToggleDecode) {
        Command = PCIReadCommand(Device);
        if (Command & (PCI_COMMAND_IO | PCI_COMMAND_MEMORY)) {
            PCIDeviceWrite16(Device, PCI_COMMAND, (U16)(Command & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY)));
        }
    }

    for (U32 Index = 0; Index < BarCount; Index++) {
        U16 Offset = (U16)(PCI_BAR0 + Index * 4);
        U32 Low = PCIDeviceRead32(Device, Offset);
        PCI_BAR* Bar = &Device->Bars[Index];

        if (Low & 1) {
            Bar->Type = PCI_BAR_IO;
            Bar->Base = Low & ~3U;
            if (Size) {
                // The size is the lowest address bit the BAR lets us set.
                U32 Mask = SizeBarRegister(Device, Offset, Low) & ~3U;
                Bar->Size = Mask & (~Mask + 1);
            }
            if (Bar->Base == 0 && Bar->Size == 0) Bar->Type = PCI_BAR_NONE;
            continue;
        }

        U32 Kind = (Low >> 1) & 3;
        Bar->Prefetchable = (Low & 8) != 0;
        if (Kind == 2 && Index + 1 < BarCount) {
            U32 High = PCIDeviceRead32(Device, Offset + 4);
            Bar->Type = PCI_BAR_MEMORY64;
            Bar->Base = ((U64)High << 32) | (Low & ~0xFU);
            if (Size) {
                U32 MaskLow = SizeBarRegister(Device, Offset, Low) & ~0xFU;
                U32 MaskHigh = SizeBarRegister(Device, Offset + 4, High);
                U64 Mask = ((U64)MaskHigh << 32) | MaskLow;
                Bar->Size = Mask & (~Mask + 1);
            }
            Device->Bars[Index + 1].Type = PCI_BAR_NONE;  // upper half
            Index++;
        } else {
            Bar->Type = PCI_BAR_MEMORY32;
            Bar->Base = Low & ~0xFU;
            if (Size) {
                U32 Mask = SizeBarRegister(Device, Offset, Low) & ~0xFU;
                Bar->Size = Mask & (~Mask + 1);
            }
        }
        if (Size && Bar->Size == 0) {
            Bar->Type = PCI_BAR_NONE;
            Bar->Base = 0;
        }
    }

    if (ToggleDecode && (Command & (PCI_COMMAND_IO | PCI_COMMAND_MEMORY))) {
        PCIDeviceWrite16(Device, PCI_COMMAND, Command);
    }
}

/************************************************************************/
// Capabilities

#define PCI_MAX_CAPABILITIES 48   // (256 - 64) / 4 distinct dword slots
#define PCI_MAX_EXT_CAPABILITIES 960  // (4096 - 256) / 4

/** Walks the list; *Clean tells whether it ended on a null pointer rather than a loop, a bad pointer or 0xFF. */
static U32 WalkCapabilities(const PCI_DEVICE* Device, void (*Visitor)(const PCI_DEVICE*, U8 Id, U8 Offset, LPVOID),
                            LPVOID Context, BOOL* Clean) {
    U32 Seen = 0;
    U8 Visited[256 / 8];
    *Clean = TRUE;
    if (!(PCIDeviceRead16(Device, PCI_STATUS) & PCI_STATUS_CAPABILITIES)) return 0;
    MemorySet(Visited, 0, sizeof(Visited));

    U8 Pointer = (U8)(PCIDeviceRead8(Device, Device->HeaderType == PCI_HEADER_CARDBUS ? 0x14 : PCI_CAPABILITIES) & 0xFC);
    while (Pointer != 0) {
        if (Pointer < 0x40 || Seen >= PCI_MAX_CAPABILITIES || (Visited[Pointer / 8] & (1 << (Pointer % 8)))) {
            *Clean = FALSE;  // points into the header, too long, or a loop
            break;
        }
        Visited[Pointer / 8] |= (U8)(1 << (Pointer % 8));
        U16 Header = PCIDeviceRead16(Device, Pointer);
        U8 Id = (U8)Header;
        if (Header == 0xFFFF) {
            *Clean = FALSE;  // the device stopped answering
            break;
        }
        Seen++;
        if (Visitor) Visitor(Device, Id, Pointer, Context);
        Pointer = (U8)((Header >> 8) & 0xFC);
    }
    return Seen;
}

U32 PCIWalkCapabilities(const PCI_DEVICE* Device, void (*Visitor)(const PCI_DEVICE*, U8 Id, U8 Offset, LPVOID),
                        LPVOID Context) {
    BOOL Clean;
    return WalkCapabilities(Device, Visitor, Context, &Clean);
}

BOOL PCICapabilityListValid(const PCI_DEVICE* Device) {
    BOOL Clean;
    WalkCapabilities(Device, NULL, NULL, &Clean);
    return Clean;
}

typedef struct tag_FIND_CAPABILITY {
    U8 Id;
    U8 Offset;
} FIND_CAPABILITY;

static void FindCapabilityVisitor(const PCI_DEVICE* Device, U8 Id, U8 Offset, LPVOID Context) {
    FIND_CAPABILITY* Find = (FIND_CAPABILITY*)Context;
    UNUSED(Device);
    if (Find->Offset == 0 && Id == Find->Id) Find->Offset = Offset;
}

U8 PCIFindCapability(const PCI_DEVICE* Device, U8 CapabilityId) {
    FIND_CAPABILITY Find = {CapabilityId, 0};
    PCIWalkCapabilities(Device, FindCapabilityVisitor, &Find);
    return Find.Offset;
}

U32 PCIWalkExtendedCapabilities(const PCI_DEVICE* Device,
                                void (*Visitor)(const PCI_DEVICE*, U16 Id, U8 Version, U16 Offset, LPVOID),
                                LPVOID Context) {
    U32 Seen = 0;
    U16 Offset = 0x100;
    if (Device->SegmentInfo->ConfigSize < PCI_CONFIG_SIZE_EXTENDED || Device->PcieCapability == 0) return 0;
    while (Offset >= 0x100 && Offset < PCI_CONFIG_SIZE_EXTENDED && Seen < PCI_MAX_EXT_CAPABILITIES) {
        U32 Header = PCIDeviceRead32(Device, Offset);
        if (Header == 0 || Header == MAX_U32) break;
        Seen++;
        if (Visitor) Visitor(Device, (U16)(Header & 0xFFFF), (U8)((Header >> 16) & 0xF), Offset, Context);
        U16 Next = (U16)((Header >> 20) & 0xFFC);
        // Each step must move forward: that alone bounds the walk and rules out loops.
        if (Next <= Offset) break;
        Offset = Next;
    }
    return Seen;
}

typedef struct tag_FIND_EXT_CAPABILITY {
    U16 Id;
    U16 Offset;
} FIND_EXT_CAPABILITY;

static void FindExtendedVisitor(const PCI_DEVICE* Device, U16 Id, U8 Version, U16 Offset, LPVOID Context) {
    FIND_EXT_CAPABILITY* Find = (FIND_EXT_CAPABILITY*)Context;
    UNUSED(Device);
    UNUSED(Version);
    if (Find->Offset == 0 && Id == Find->Id) Find->Offset = Offset;
}

U16 PCIFindExtendedCapability(const PCI_DEVICE* Device, U16 CapabilityId) {
    FIND_EXT_CAPABILITY Find = {CapabilityId, 0};
    PCIWalkExtendedCapabilities(Device, FindExtendedVisitor, &Find);
    return Find.Offset;
}

/************************************************************************/
// Matching

BOOL PCIMatchDevice(const PCI_MATCH* Match, const PCI_DEVICE* Device) {
    if (Match->VendorId != PCI_ANY_ID && Match->VendorId != Device->VendorId) return FALSE;
    if (Match->DeviceId != PCI_ANY_ID && Match->DeviceId != Device->DeviceId) return FALSE;
    if (Match->Class != PCI_ANY_CLASS && Match->Class != Device->Class) return FALSE;
    if (Match->SubClass != PCI_ANY_CLASS && Match->SubClass != Device->SubClass) return FALSE;
    if (Match->ProgIf != PCI_ANY_CLASS && Match->ProgIf != Device->ProgIf) return FALSE;
    return TRUE;
}
