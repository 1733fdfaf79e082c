/*
 * VMD-Layout.c - where the VMD's domain lives: its bus numbers, its root
 * buses, its memory windows and the CFGBAR offset of each register.
 *
 * Bus numbers (S1, S2, S4, S5 all agree): with bus restrictions (the ID has
 * them and VMCAP bit 0 says they apply), VMCONFIG bits 9:8 give the number
 * of CFGBAR index 0: 0 -> 0, 1 -> 128, 2 -> 224. Intel's register header
 * (S6) reads 10b and 11b alike ("0,225-255"); from Arrow Lake on (S10), 3
 * means two root buses: 224 at CFGBAR index 0 (CPU ports) and 225 at index
 * 1 (PCH ports), whose bridges number within BUSRANGE0 and BUSRANGE1.
 * Mainline Linux refuses 3 ("Unknown Bus Offset Setting"); here it is the
 * two-root layout when both BUSRANGE registers describe disjoint ranges
 * inside the CFGBAR span, else one root bus at 224 as S6 reads it. The span
 * is CFGBAR size >> 20 buses from the start, clamped at 255 (S2, S4).
 *
 * Windows: MEMBAR1 whole; MEMBAR2 from +0x2000 (its first 8 KiB are the
 * VMD's own MSI-X table and PBA), +0x2010 on IDs with native shadow
 * registers (S1). Bare metal: bus address = CPU address. With two root
 * buses, MEMBAR1_OFFSET and MEMBAR2_OFFSET mark where root bus 1's share
 * starts (S10 gives root bus 1 [base + offset, end]); root bus 0 keeps what
 * lies before it, so the shares never overlap.
 *
 * CFGBAR (S1 PCIE_ECAM_OFFSET, S2, S3, S4): (bus - start) << 20 | device
 * << 15 | function << 12 | register; bridges carry real bus numbers, never
 * CFGBAR indices. Pure: host-tested.
 */

#include "bus/vmd/VMD-Internal.h"

#include "utils/String.h"

static BOOL Fail(LPSTR Why, SIZE WhySize, LPCSTR Text) {
    if (Why && WhySize) StringCopy(Why, Text, WhySize);
    return FALSE;
}

/** Reads a BUSRANGE register: start in bits 7:0, end in 15:8; valid inside the span and after the root bus. */
static BOOL RangeUsable(U16 Range, const VMD_LAYOUT* Layout, U8* Start, U8* End) {
    *Start = (U8)(Range & 0xFF);
    *End = (U8)(Range >> 8);
    return Range != 0 && *Start >= Layout->StartBus && *Start <= *End && *End <= Layout->EndBus;
}

static void SetDualRoots(VMD_LAYOUT* Layout, U8 Start0, U8 End0, U8 Start1, U8 End1) {
    Layout->RootCount = 2;
    // Bridges below each root bus number within its range, after its first bus (Linux numbers children from
    // busn_res.start + 1); the enumerator never hands out the other root bus's number.
    Layout->Roots[0] = (PCI_ROOT_BUS){VMD_CLIENT_ROOT_BUS, (U8)(Start0 + 1), End0};
    Layout->Roots[1] = (PCI_ROOT_BUS){VMD_PCH_ROOT_BUS, (U8)(Start1 + 1), End1};
}

BOOL VMDDecodeLayout(U32 Features, U32 Vmcap, U32 Vmconfig, U64 CfgbarSize, U16 BusRange0, U16 BusRange1,
                     VMD_LAYOUT* Layout, LPSTR Why, SIZE WhySize) {
    MemorySet(Layout, 0, sizeof(*Layout));
    if (CfgbarSize < VMD_CFGBAR_MIN) return Fail(Why, WhySize, "CFGBAR is smaller than 1 MiB (one bus)");

    U32 Start = 0;
    if ((Features & VMD_FEATURE_BUS_RESTRICTIONS) && (Vmcap & VMD_VMCAP_BUS_RESTRICT_CAP)) {
        Layout->Restriction = VMD_VMCONFIG_RESTRICTION(Vmconfig);
        static const U32 Starts[4] = {0, 128, 224, 224};
        Start = Starts[Layout->Restriction];
    }
    U64 Buses = CfgbarSize >> 20;
    if (Buses > 256 - Start) Buses = 256 - Start;
    Layout->StartBus = (U8)Start;
    Layout->BusCount = (U32)Buses;
    Layout->EndBus = (U8)(Start + Buses - 1);
    Layout->RootCount = 1;
    Layout->Roots[0] = (PCI_ROOT_BUS){Layout->StartBus, 0, Layout->EndBus};

    if (Layout->Restriction != 3) return TRUE;
    U8 Start0, End0, Start1, End1;
    BOOL Usable = (Features & VMD_FEATURE_PCH_ROOT_BUS) && Layout->EndBus >= VMD_PCH_ROOT_BUS &&
                  RangeUsable(BusRange0, Layout, &Start0, &End0) && RangeUsable(BusRange1, Layout, &Start1, &End1);
    // The two ranges of bridge numbers (first + 1 .. end) must not overlap.
    if (Usable && Start0 < End0 && Start1 < End1) Usable = End0 <= Start1 || End1 <= Start0;
    if (!Usable) {
        Layout->DualRootFallback = TRUE;  // one root bus at 224, as Intel's register header reads 11b
        return TRUE;
    }
    SetDualRoots(Layout, Start0, End0, Start1, End1);
    return TRUE;
}

U64 VMDMembar2ChildOffset(U32 Features) {
    return (Features & VMD_FEATURE_MEMBAR_SHADOW) ? VMD_MEMBAR2_RESERVED + VMD_MEMBAR2_SHADOW_SIZE
                                                  : VMD_MEMBAR2_RESERVED;
}

static U32 AddWindow(PCI_WINDOW* Windows, U32 Count, PHYSICAL Base, PHYSICAL End, U8 Root) {
    // 4 KiB granularity: children never share a page with the VMD's own registers.
    Base = ALIGN_UP(Base, PAGE_SIZE);
    End = ALIGN_DOWN(End, PAGE_SIZE);
    if (End <= Base || Count >= PCI_SEGMENT_MAX_WINDOWS) return Count;
    Windows[Count] = (PCI_WINDOW){Base, End - Base, Root, 0};
    return Count + 1;
}

U32 VMDComputeWindows(const VMD_LAYOUT* Layout, PHYSICAL Membar1, U64 Membar1Size, PHYSICAL Membar2,
                      U64 Membar2Size, U64 ChildOffset, U32 Membar1Offset, U64 Membar2Offset, PCI_WINDOW* Windows) {
    U32 Count = 0;
    PHYSICAL End1 = Membar1 + Membar1Size, End2 = Membar2 + Membar2Size;
    if (Layout->RootCount < 2) {
        if (Membar1Size) Count = AddWindow(Windows, Count, Membar1, End1, 0);
        if (Membar2Size > ChildOffset) Count = AddWindow(Windows, Count, Membar2 + ChildOffset, End2, 0);
        return Count;
    }
    // Two root buses: root bus 1 from the offset on; an offset outside the BAR gives it nothing there.
    PHYSICAL Split1 = (Membar1Offset != 0 && Membar1Offset < Membar1Size) ? Membar1 + Membar1Offset : End1;
    PHYSICAL Split2 = Membar2 + VMD_MEMBAR2_RESERVED + Membar2Offset;
    if (Membar2Offset == 0 || Split2 >= End2 || Split2 < Membar2 + ChildOffset) Split2 = End2;
    if (Membar1Size) {
        Count = AddWindow(Windows, Count, Membar1, Split1, 0);
        Count = AddWindow(Windows, Count, Split1, End1, 1);
    }
    if (Membar2Size > ChildOffset) {
        Count = AddWindow(Windows, Count, Membar2 + ChildOffset, Split2, 0);
        Count = AddWindow(Windows, Count, Split2, End2, 1);
    }
    return Count;
}

BOOL VMDConfigOffset(const VMD_LAYOUT* Layout, U32 Bus, U32 Device, U32 Function, U32 Offset, U64* CfgbarOffset) {
    if (Bus < Layout->StartBus || Bus > Layout->EndBus || Device > 31 || Function > 7 || Offset > 0xFFF) {
        return FALSE;
    }
    *CfgbarOffset = ((U64)(Bus - Layout->StartBus) << 20) | ((U64)Device << 15) | ((U64)Function << 12) | Offset;
    return TRUE;
}
