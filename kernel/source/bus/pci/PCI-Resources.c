/*
 * PCI-Resources.c - memory resources for a segment whose firmware left
 * nothing usable (PCI_SEGMENT_ASSIGN: the Intel VMD's domain, where firmware
 * may leave BARs unassigned and windows overlapping or bogus).
 *
 * Two kinds of space, as a PCI-to-PCI bridge forwards them (PCI-to-PCI
 * Bridge Architecture 1.2, 3.2.5.8-9): the memory window (addresses bits
 * 31:20, so always below 4 GiB) and the prefetchable window (64-bit when
 * the bridge says so). Non-prefetchable BARs go through memory windows;
 * 64-bit prefetchable BARs, and every 64-bit BAR when the segment has no
 * window below 4 GiB, through prefetchable windows ("nothing behind a PCI
 * Express bridge actually prefetches": AROS pcivmd). I/O is never assigned.
 *
 * Two passes, bottom-up then top-down: each bridge's windows are sized to
 * hold what sits below it (1 MiB granularity, aligned to the largest thing
 * inside; a bridge with nothing below still gets 1 MiB, so a device added
 * later fits, and a device that vanishes, say across a reset, does not move
 * its neighbours' BARs), then each level is placed in its parent's
 * windows (the segment's windows for a root bus) largest alignment first,
 * which packs power-of-two BARs and 1 MiB windows without gaps. Every BAR
 * gets at least 4 KiB so no two functions share a page.
 *
 * Registers are written with decoding off, windows closed first (in the
 * order of PCIBridgeCloseWindows, so none opens on the way); then memory
 * decoding goes on wherever every BAR found room, bus mastering on bridges
 * (a bridge only forwards its children's DMA and messages upstream when it
 * is a bus master itself), I/O decoding never on PCI_SEGMENT_NO_IO segments.
 * Pure: configuration access goes through the segment's ops only.
 */

#include "bus/pci/PCI.h"

#include "utils/String.h"

#define KIND_MEMORY 0    // through memory windows, below 4 GiB
#define KIND_PREFETCH 1  // through prefetchable windows
#define KIND_NONE 2      // not assigned (I/O, or no memory space at all)

#define MAX_LEVEL_ITEMS 64
#define MAX_DEPTH 32

typedef struct tag_ITEM {
    PCI_DEVICE* Device;
    I32 Bar;        // BAR index, or -1 - k for window k of a bridge
    U32 Kind;
    U64 Size;
    U64 Align;
    BOOL Low;       // must lie below 4 GiB
} ITEM;

typedef struct tag_ASSIGNMENT {
    PCI_SEGMENT* Segment;
    PCI_DEVICE* First;
    BOOL HasLowWindow;
    U32 Unplaced;
} ASSIGNMENT;

/************************************************************************/
// Register encoding

/** Closes every window of a bridge in Linux's vmd_domain_reset order (I/O, memory, prefetchable). */
void PCIBridgeCloseWindows(const PCI_SEGMENT* Segment, U8 Bus, U8 Device, U8 Function) {
    // Dword writes only: a read-modify-write of 0x1C would write the secondary status back and clear it.
    PCIConfigWrite32(Segment, Bus, Device, Function, PCI_IO_BASE_UPPER, 0x0000FFFF);
    PCIConfigWrite32(Segment, Bus, Device, Function, PCI_IO_BASE, 0x000000F0);
    PCIConfigWrite32(Segment, Bus, Device, Function, PCI_IO_BASE_UPPER, 0);
    PCIConfigWrite32(Segment, Bus, Device, Function, PCI_MEMORY_BASE, 0x0000FFF0);
    PCIConfigWrite32(Segment, Bus, Device, Function, PCI_PREFETCH_LIMIT_UPPER, 0);
    PCIConfigWrite32(Segment, Bus, Device, Function, PCI_PREFETCH_BASE, 0x0000FFF0);
    PCIConfigWrite32(Segment, Bus, Device, Function, PCI_PREFETCH_BASE_UPPER, 0xFFFFFFFF);
}

/** Base/limit word pair for a window (bits 31:20 of each in bits 15:4); a closed window is base > limit. */
static U32 WindowDword(PHYSICAL Base, U64 Size) {
    if (Size == 0) return 0x0000FFF0;
    PHYSICAL Limit = Base + Size - 1;
    return (U32)(((Limit >> 16) & 0xFFF0) << 16) | (U32)((Base >> 16) & 0xFFF0);
}

static void WriteWindows(PCI_DEVICE* Bridge) {
    const PCI_BAR* Memory = &Bridge->Windows[KIND_MEMORY];
    const PCI_BAR* Prefetch = &Bridge->Windows[KIND_PREFETCH];
    PCIBridgeCloseWindows(Bridge->SegmentInfo, Bridge->Bus, Bridge->Device, Bridge->Function);
    PCIDeviceWrite32(Bridge, PCI_MEMORY_BASE, WindowDword(Memory->Base, Memory->Size));
    if (Prefetch->Size == 0) return;
    // Low halves first, then the limit's upper half, then the base's: closed until the last write.
    PHYSICAL Limit = Prefetch->Base + Prefetch->Size - 1;
    PCIDeviceWrite32(Bridge, PCI_PREFETCH_BASE, WindowDword(Prefetch->Base, Prefetch->Size));
    if (Prefetch->Type == PCI_BAR_MEMORY64) {
        PCIDeviceWrite32(Bridge, PCI_PREFETCH_LIMIT_UPPER, (U32)(Limit >> 32));
        PCIDeviceWrite32(Bridge, PCI_PREFETCH_BASE_UPPER, (U32)(Prefetch->Base >> 32));
    }
}

static void WriteBar(PCI_DEVICE* Device, U32 Index) {
    const PCI_BAR* Bar = &Device->Bars[Index];
    U16 Offset = (U16)(PCI_BAR0 + Index * 4);
    U32 Low = PCIDeviceRead32(Device, Offset);
    PCIDeviceWrite32(Device, Offset, (U32)Bar->Base | (Low & 0xF));
    if (Bar->Type == PCI_BAR_MEMORY64) PCIDeviceWrite32(Device, Offset + 4, (U32)(Bar->Base >> 32));
}

/************************************************************************/
// Sizing

static BOOL IsAssignedBridge(const PCI_DEVICE* Device) {
    return Device->HeaderType == PCI_HEADER_BRIDGE && Device->SecondaryBus != 0;
}

static BOOL PrefetchWindowIs64(const PCI_DEVICE* Bridge) {
    return (PCIDeviceRead16(Bridge, PCI_PREFETCH_BASE) & 0xF) == 0x1;
}

static U32 BarKind(const ASSIGNMENT* A, const PCI_BAR* Bar) {
    if (Bar->Size == 0) return KIND_NONE;
    if (Bar->Type == PCI_BAR_MEMORY32) return KIND_MEMORY;
    if (Bar->Type != PCI_BAR_MEMORY64) return KIND_NONE;
    if (Bar->Prefetchable || !A->HasLowWindow) return KIND_PREFETCH;
    return KIND_MEMORY;
}

static U32 BarCount(const PCI_DEVICE* Device) {
    return Device->HeaderType == PCI_HEADER_NORMAL ? 6 : (Device->HeaderType == PCI_HEADER_BRIDGE ? 2 : 0);
}

/** Collects what the functions whose parent is Parent need placed (BARs and the children's windows). */
static U32 CollectItems(ASSIGNMENT* A, PCI_DEVICE* Parent, ITEM* Items) {
    U32 Count = 0;
    for (PCI_DEVICE* D = A->First; D; D = D->Next) {
        if (D->Parent != Parent) continue;
        for (U32 I = 0; I < BarCount(D); I++) {
            U32 Kind = BarKind(A, &D->Bars[I]);
            if (Kind == KIND_NONE) continue;
            if (Count >= MAX_LEVEL_ITEMS) {
                A->Unplaced++;
                continue;
            }
            U64 Size = MAX(D->Bars[I].Size, PCI_BAR_MIN_ALIGN);
            Items[Count++] = (ITEM){D, (I32)I, Kind, Size, Size, D->Bars[I].Type == PCI_BAR_MEMORY32};
        }
        if (!IsAssignedBridge(D)) continue;
        for (U32 K = 0; K < 2; K++) {
            if (D->Windows[K].Size == 0 || Count >= MAX_LEVEL_ITEMS) continue;
            BOOL Low = K == KIND_MEMORY || D->Windows[K].Type != PCI_BAR_MEMORY64;
            Items[Count++] = (ITEM){D, -1 - (I32)K, K, D->Windows[K].Size, D->Windows[K].Base, Low};
        }
    }
    // Largest alignment first (insertion sort: a level holds few items).
    for (U32 I = 1; I < Count; I++) {
        ITEM Item = Items[I];
        U32 J = I;
        while (J > 0 && Items[J - 1].Align < Item.Align) {
            Items[J] = Items[J - 1];
            J--;
        }
        Items[J] = Item;
    }
    return Count;
}

/**
 * Bottom-up: the windows of Bridge hold what is below it. While sizing, Windows[k].Base holds the window's
 * alignment (the placement pass overwrites it with the address).
 */
static void SizeBridge(ASSIGNMENT* A, PCI_DEVICE* Bridge, U32 Depth) {
    ITEM Items[MAX_LEVEL_ITEMS];
    if (Depth > MAX_DEPTH) return;
    for (PCI_DEVICE* D = A->First; D; D = D->Next) {
        if (D->Parent == Bridge && IsAssignedBridge(D)) SizeBridge(A, D, Depth + 1);
    }
    U64 Total[2] = {0, 0}, Align[2] = {PCI_BRIDGE_WINDOW_ALIGN, PCI_BRIDGE_WINDOW_ALIGN};
    U32 Count = CollectItems(A, Bridge, Items);
    for (U32 I = 0; I < Count; I++) {
        Total[Items[I].Kind] = ALIGN_UP(Total[Items[I].Kind], Items[I].Align) + Items[I].Size;
        Align[Items[I].Kind] = MAX(Align[Items[I].Kind], Items[I].Align);
    }
    if (Total[KIND_MEMORY] == 0 && Total[KIND_PREFETCH] == 0) Total[KIND_MEMORY] = PCI_BRIDGE_WINDOW_ALIGN;
    BOOL Prefetch64 = PrefetchWindowIs64(Bridge);
    for (U32 K = 0; K < 2; K++) {
        PCI_BAR* Window = &Bridge->Windows[K];
        Window->Type = (K == KIND_PREFETCH && Prefetch64) ? PCI_BAR_MEMORY64 : PCI_BAR_MEMORY32;
        Window->Prefetchable = K == KIND_PREFETCH;
        Window->Size = ALIGN_UP(Total[K], PCI_BRIDGE_WINDOW_ALIGN);
        Window->Base = Align[K];
    }
}

/************************************************************************/
// Placement

/** Takes Size bytes aligned to Align from a range's bump pointer; FALSE when it does not fit. */
static BOOL Take(PHYSICAL Base, U64 Size, U64* Used, U64 ItemSize, U64 Align, BOOL Low, PHYSICAL* Address) {
    PHYSICAL At = ALIGN_UP(Base + *Used, Align);
    if (At < Base || At + ItemSize > Base + Size || At + ItemSize < At) return FALSE;
    if (Low && At + ItemSize > N_4GB) return FALSE;
    *Used = At + ItemSize - Base;
    *Address = At;
    return TRUE;
}

static U32 RootIndexOf(const PCI_SEGMENT* Segment, const PCI_DEVICE* Device) {
    for (U32 I = 0; I < Segment->RootCount; I++) {
        if (Segment->Roots[I].Bus == Device->Bus) return I;
    }
    return 0;
}

/** A root-bus item goes to the first of its root's windows that holds it (above 4 GiB first for 64-bit ones). */
static BOOL PlaceInSegment(ASSIGNMENT* A, const ITEM* Item, PHYSICAL* Address) {
    PCI_SEGMENT* Segment = A->Segment;
    U32 Root = RootIndexOf(Segment, Item->Device);
    for (U32 Pass = 0; Pass < 2; Pass++) {
        for (U32 I = 0; I < Segment->WindowCount; I++) {
            PCI_WINDOW* W = &Segment->Windows[I];
            BOOL High = W->Base + W->Size > N_4GB;
            if (W->Root != Root) continue;
            // Pass 0: memory items in low windows, 64-bit prefetchable ones in high windows; pass 1: anywhere legal.
            if (Pass == 0 && High != (Item->Kind == KIND_PREFETCH && !Item->Low)) continue;
            if (Take(W->Base, W->Size, &W->Used, Item->Size, Item->Align, Item->Low, Address)) return TRUE;
        }
    }
    return FALSE;
}

static void PlaceLevel(ASSIGNMENT* A, PCI_DEVICE* Parent) {
    ITEM Items[MAX_LEVEL_ITEMS];
    U64 Used[2] = {0, 0};
    U32 Count = CollectItems(A, Parent, Items);
    for (U32 I = 0; I < Count; I++) {
        ITEM* Item = &Items[I];
        PHYSICAL Address = 0;
        BOOL Placed;
        if (Parent == NULL) {
            Placed = PlaceInSegment(A, Item, &Address);
        } else {
            const PCI_BAR* Window = &Parent->Windows[Item->Kind];
            Placed = Window->Size != 0 &&
                     Take(Window->Base, Window->Size, &Used[Item->Kind], Item->Size, Item->Align, Item->Low, &Address);
        }
        if (Item->Bar >= 0) {
            PCI_BAR* Bar = &Item->Device->Bars[Item->Bar];
            Bar->Base = Placed ? Address : 0;
            if (!Placed) {
                Item->Device->ResourcesMissing = TRUE;
                A->Unplaced++;
            }
        } else {
            PCI_BAR* Window = &Item->Device->Windows[-1 - Item->Bar];
            Window->Base = Placed ? Address : 0;
            if (!Placed) {
                Window->Size = 0;  // closed: nothing below it gets space
                A->Unplaced++;
            }
        }
    }
}

/** Top-down: place this level, then each bridge's level inside its own windows. */
static void PlaceBelow(ASSIGNMENT* A, PCI_DEVICE* Parent, U32 Depth) {
    if (Depth > MAX_DEPTH) return;
    PlaceLevel(A, Parent);
    for (PCI_DEVICE* D = A->First; D; D = D->Next) {
        if (D->Parent == Parent && IsAssignedBridge(D)) PlaceBelow(A, D, Depth + 1);
    }
}

/************************************************************************/
// Programming

static void Program(ASSIGNMENT* A, PCI_DEVICE* Device) {
    U32 Flags = A->Segment->Flags;
    U16 Command = PCIReadCommand(Device);
    PCIDeviceWrite16(Device, PCI_COMMAND, (U16)(Command & ~(PCI_COMMAND_DECODE | PCI_COMMAND_BUS_MASTER)));

    // Memory BARs get their place; I/O BARs stay as they are and are never decoded.
    for (U32 I = 0; I < BarCount(Device); I++) {
        const PCI_BAR* Bar = &Device->Bars[I];
        if ((Bar->Type == PCI_BAR_MEMORY32 || Bar->Type == PCI_BAR_MEMORY64) && Bar->Size != 0) WriteBar(Device, I);
    }
    // Expansion ROMs are never used: leave them disabled and unassigned.
    if (Device->HeaderType == PCI_HEADER_NORMAL) PCIDeviceWrite32(Device, PCI_ROM_ADDRESS, 0);
    if (Device->HeaderType == PCI_HEADER_BRIDGE) PCIDeviceWrite32(Device, PCI_BRIDGE_ROM_ADDRESS, 0);
    if (Device->HeaderType == PCI_HEADER_BRIDGE) WriteWindows(Device);

    Command &= (U16)~(PCI_COMMAND_DECODE | PCI_COMMAND_BUS_MASTER);
    if (!Device->ResourcesMissing) Command |= PCI_COMMAND_MEMORY;
    if (Device->HeaderType == PCI_HEADER_BRIDGE) Command |= PCI_COMMAND_BUS_MASTER;
    if (Flags & PCI_SEGMENT_NO_INTX) Command |= PCI_COMMAND_INTX_DISABLE;
    PCIDeviceWrite16(Device, PCI_COMMAND, Command);
}

U32 PCIAssignResources(PCI_SEGMENT* Segment, PCI_DEVICE* First, PCI_DEVICE* Parent) {
    ASSIGNMENT A;
    MemorySet(&A, 0, sizeof(A));
    A.Segment = Segment;
    A.First = First;
    for (U32 I = 0; I < Segment->WindowCount; I++) {
        if (Segment->Windows[I].Base + Segment->Windows[I].Size <= N_4GB) A.HasLowWindow = TRUE;
    }
    if (Parent != NULL) A.HasLowWindow = Parent->Windows[KIND_MEMORY].Size != 0;

    for (PCI_DEVICE* D = First; D; D = D->Next) {
        if (D->Parent == Parent && IsAssignedBridge(D)) SizeBridge(&A, D, 0);
    }
    PlaceBelow(&A, Parent, 0);
    for (PCI_DEVICE* D = First; D; D = D->Next) Program(&A, D);
    Segment->UnassignedBars += A.Unplaced;
    return A.Unplaced;
}
