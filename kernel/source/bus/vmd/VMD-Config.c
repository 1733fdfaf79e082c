/*
 * VMD-Config.c - configuration access to the VMD's domain through CFGBAR,
 * and the clean-up that comes before every enumeration of it.
 *
 * The ops table is what the domain's PCI_SEGMENT carries, so the generic
 * enumerator and every driver reach the functions behind the VMD as if
 * through ECAM. Two rules from Linux's vmd.c (S1), followed by SerenityOS
 * and SPDK too: every access is made under one lock per VMD ("CPU may
 * deadlock if config space is not serialized on some versions of this
 * hardware"), and every write is followed by a read of the same address
 * ("VMD h/w converts non-posted config writes to posted memory writes. The
 * read-back ... forces the completion"). A bus outside the CFGBAR span reads
 * as all ones and writes to it are dropped, like an empty slot.
 *
 * Domain reset (Linux vmd_domain_reset, S1; SPDK #2413): firmware or a
 * previous OS may leave bridge windows overlapping or bogus (an I/O window
 * of 0/0 decodes 4 KiB at 0) and two root ports with the same secondary bus.
 * So before enumerating, every bridge reachable at any CFGBAR index has its
 * windows closed in Linux's order (PCIBridgeCloseWindows; an earlier
 * memset-like reset caused VT-d invalidation time-outs, S9 Huang), and the
 * root ports' bus numbers are cleared, so nothing stale routes while the
 * enumerator numbers the bridges again.
 */

#include "bus/vmd/VMD-Internal.h"

#include "core/Log.h"

static U32 VMDConfigRead32(LPVOID Context, U8 Bus, U8 Device, U8 Function, U16 Offset) {
    VMD_CONTROLLER* Vmd = (VMD_CONTROLLER*)Context;
    U64 CfgbarOffset;
    if (!VMDConfigOffset(&Vmd->Layout, Bus, Device, Function, Offset & 0xFFC, &CfgbarOffset)) return MAX_U32;
    U64 State = PlatformLockAcquire(Vmd->ConfigLock);
    U32 Value = PlatformRead32(Vmd->Cfgbar + CfgbarOffset);
    Vmd->ConfigReads++;
    PlatformLockRelease(Vmd->ConfigLock, State);
    return Value;
}

static void VMDConfigWrite32(LPVOID Context, U8 Bus, U8 Device, U8 Function, U16 Offset, U32 Value) {
    VMD_CONTROLLER* Vmd = (VMD_CONTROLLER*)Context;
    U64 CfgbarOffset;
    if (!VMDConfigOffset(&Vmd->Layout, Bus, Device, Function, Offset & 0xFFC, &CfgbarOffset)) return;
    U64 State = PlatformLockAcquire(Vmd->ConfigLock);
    PlatformWrite32(Vmd->Cfgbar + CfgbarOffset, Value);
    (void)PlatformRead32(Vmd->Cfgbar + CfgbarOffset);  // completes the posted write before the lock is released
    Vmd->ConfigWrites++;
    PlatformLockRelease(Vmd->ConfigLock, State);
}

const PCI_CONFIG_OPS VMDConfigOps = {VMDConfigRead32, VMDConfigWrite32};

static BOOL IsRootBus(const VMD_CONTROLLER* Vmd, U32 Bus) {
    for (U32 I = 0; I < Vmd->Layout.RootCount; I++) {
        if (Vmd->Layout.Roots[I].Bus == Bus) return TRUE;
    }
    return FALSE;
}

typedef void (*BRIDGE_VISITOR)(const PCI_SEGMENT* Segment, U8 Bus, U8 Device, U8 Function);

/** Calls Visit for each bridge answering at any CFGBAR index (or on the root buses only), as bridges route now. */
static U32 ForEachBridge(VMD_CONTROLLER* Vmd, BOOL RootBusesOnly, BRIDGE_VISITOR Visit) {
    const PCI_SEGMENT* Segment = &Vmd->Segment;
    U32 Count = 0;
    for (U32 Bus = Vmd->Layout.StartBus; Bus <= Vmd->Layout.EndBus; Bus++) {
        if (RootBusesOnly && !IsRootBus(Vmd, Bus)) continue;
        for (U32 Slot = 0; Slot < PCI_MAX_DEVICES; Slot++) {
            U32 Id = PCIConfigRead32(Segment, (U8)Bus, (U8)Slot, 0, PCI_VENDOR_ID);
            if ((Id & 0xFFFF) == 0xFFFF || (Id & 0xFFFF) == 0) continue;
            // The multi-function bit is read before the type is masked (Linux 5827e17d0555).
            U8 Header = PCIConfigRead8(Segment, (U8)Bus, (U8)Slot, 0, PCI_HEADER_TYPE);
            U32 Functions = (Header & PCI_HEADER_MULTIFUNCTION) ? PCI_MAX_FUNCTIONS : 1;
            for (U32 Function = 0; Function < Functions; Function++) {
                U32 Class = PCIConfigRead32(Segment, (U8)Bus, (U8)Slot, (U8)Function, PCI_REVISION) >> 16;
                U8 Type = PCIConfigRead8(Segment, (U8)Bus, (U8)Slot, (U8)Function, PCI_HEADER_TYPE);
                if (Type == 0xFF || (Type & PCI_HEADER_TYPE_MASK) != PCI_HEADER_BRIDGE || Class != 0x0604) continue;
                Visit(Segment, (U8)Bus, (U8)Slot, (U8)Function);
                Count++;
            }
        }
    }
    return Count;
}

static void ClearBusNumbers(const PCI_SEGMENT* Segment, U8 Bus, U8 Device, U8 Function) {
    U32 Numbers = PCIConfigRead32(Segment, Bus, Device, Function, PCI_PRIMARY_BUS);
    PCIConfigWrite32(Segment, Bus, Device, Function, PCI_PRIMARY_BUS, Numbers & 0xFF000000);
}

void VMDDomainReset(VMD_CONTROLLER* Vmd) {
    // Every bridge's windows first, while stale numbers still reach the stale buses; then the root ports'
    // numbers, so nothing routes below them until the enumerator numbers them again.
    U32 Bridges = ForEachBridge(Vmd, FALSE, PCIBridgeCloseWindows);
    U32 RootPorts = ForEachBridge(Vmd, TRUE, ClearBusNumbers);
    DEBUG("[VMDDomainReset] %s: closed the windows of %u bridge(s), cleared %u root port(s)", Vmd->Name, Bridges,
          RootPorts);
}
