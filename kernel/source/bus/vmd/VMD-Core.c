/*
 * VMD-Core.c - the VMD driver: matching, bring-up of each VMD, the segment
 * it gives the PCI core, shutdown, and what the shell can ask of it.
 *
 * Bring-up (documentation/VMD.md gives the source of each step):
 *   1. match Intel class 01h/04h functions whose ID is in the profile table;
 *   2. take CFGBAR, MEMBAR1 and MEMBAR2 as firmware assigned and the core
 *      sized them; refuse a CFGBAR under 1 MiB (one bus), unassigned BARs,
 *      and translated MEMBARs (a VMD passed to a guest: shadow registers
 *      differ from the BARs), each with one clear line;
 *   3. decode the bus layout from VMCAP/VMCONFIG (and BUSRANGE0/1);
 *   4. map the CFGBAR span, memory decoding on;
 *   5. interrupts: remapped, bypass or polling (VMD-Interrupts.c), bus
 *      mastering on the VMD;
 *   6. close every bridge window and clear the root ports' bus numbers
 *      (VMD-Config.c), then hand the segment (0x10000 + n, CFGBAR ops, the
 *      MEMBAR windows, PCI_SEGMENT_ASSIGN | NO_IO | NO_INTX, 48-bit DMA) to
 *      PCIAddSegment: the generic enumerator numbers the bridges from the
 *      real start bus, assigns BARs and windows, and the functions found are
 *      offered to their drivers like any others;
 *   7. watch the root ports (VMD-Monitor.c) and restore VMCONFIG at
 *      shutdown.
 * A VMD that is refused stays bound to this driver (State REFUSED) so
 * `vmd info` and `drivers` can say why; its domain is never touched.
 */

#include "bus/vmd/VMD-Internal.h"

#include "core/Log.h"
#include "utils/Format.h"
#include "utils/String.h"

static VMD_CONTROLLER* Controllers[VMD_MAX_CONTROLLERS];
static U32 ControllerCount;

U32 VMDGetCount(void) { return ControllerCount; }
VMD_CONTROLLER* VMDGetController(U32 Index) { return Index < ControllerCount ? Controllers[Index] : NULL; }

static KSTATUS Refuse(VMD_CONTROLLER* Vmd, LPCSTR Format, ...) PRINTF_LIKE(2, 3);
static KSTATUS Refuse(VMD_CONTROLLER* Vmd, LPCSTR Format, ...) {
    VA_LIST Arguments;
    VA_START(Arguments, Format);
    StringPrintFormatV(Vmd->StateReason, sizeof(Vmd->StateReason), Format, Arguments);
    VA_END(Arguments);
    Vmd->State = VMD_STATE_REFUSED;
    PCI_DEVICE* D = Vmd->Device;
    WARNING("[VMDAttach] %s (%04x:%02x:%02x.%x [8086:%04x]): %s; not driven", Vmd->Name, D->Segment, D->Bus, D->Device,
            D->Function, D->DeviceId, Vmd->StateReason);
    return KSTATUS_NOT_SUPPORTED;
}

/************************************************************************/
// BARs and shadow registers

static BOOL MemoryBar(const PCI_BAR* Bar) {
    return (Bar->Type == PCI_BAR_MEMORY32 || Bar->Type == PCI_BAR_MEMORY64) && Bar->Size != 0;
}

/** Shadow registers hold the host-physical MEMBARs; when they differ from the BARs the VMD is in a guest. */
static BOOL MembarsTranslated(VMD_CONTROLLER* Vmd, BOOL* Unusable) {
    U32 Features = Vmd->Profile->Features;
    PCI_DEVICE* Device = Vmd->Device;
    U64 Shadow1 = 0, Shadow2 = 0;
    BOOL Have = FALSE;
    *Unusable = FALSE;
    if (Features & VMD_FEATURE_MEMBAR_SHADOW) {
        U32 Vmlock = PCIDeviceRead32(Device, VMD_REG_VMLOCK);
        if (Vmlock == MAX_U32) {
            *Unusable = TRUE;  // Linux: -ENODEV
            return FALSE;
        }
        if (Vmlock & VMD_VMLOCK_MB2_SHADOW_EN) {
            LINEAR Map = PlatformMapMMIO(Vmd->Membar2Base + VMD_MEMBAR2_RESERVED, PAGE_SIZE);
            if (Map == 0) return FALSE;
            Shadow1 = PlatformRead32(Map) | ((U64)PlatformRead32(Map + 4) << 32);
            Shadow2 = PlatformRead32(Map + 8) | ((U64)PlatformRead32(Map + 12) << 32);
            PlatformUnmapMMIO(Map, PAGE_SIZE);
            Have = TRUE;
        }
    } else if (Features & VMD_FEATURE_MEMBAR_SHADOW_VSCAP) {
        U8 Cap = PCIFindCapability(Device, PCI_CAP_ID_VENDOR);
        if (Cap != 0 && PCIDeviceRead32(Device, Cap + 4) == VMD_SHDW_SIGNATURE) {
            Shadow1 = PCIDeviceRead32(Device, Cap + 8) | ((U64)PCIDeviceRead32(Device, Cap + 12) << 32);
            Shadow2 = PCIDeviceRead32(Device, Cap + 16) | ((U64)PCIDeviceRead32(Device, Cap + 20) << 32);
            Have = TRUE;
        }
    }
    if (!Have) return FALSE;
    Shadow1 &= ~0xFULL;
    Shadow2 &= ~0xFULL;
    return Shadow1 != Vmd->Membar1Base || Shadow2 != Vmd->Membar2Base;
}

static KSTATUS TakeBars(VMD_CONTROLLER* Vmd) {
    PCI_DEVICE* D = Vmd->Device;
    const PCI_BAR* Cfgbar = &D->Bars[VMD_BAR_CFGBAR];
    const PCI_BAR* Membar1 = &D->Bars[VMD_BAR_MEMBAR1];
    const PCI_BAR* Membar2 = &D->Bars[VMD_BAR_MEMBAR2];
    char Size[24];
    if (!MemoryBar(Cfgbar)) return Refuse(Vmd, "CFGBAR (BAR0) is not a sized memory BAR");
    if (Cfgbar->Size < VMD_CFGBAR_MIN) {
        FormatByteSize(Size, sizeof(Size), Cfgbar->Size, FORMAT_SIZE_EXACT | FORMAT_SIZE_COMPACT);
        return Refuse(Vmd, "CFGBAR is %s, under the 1 MiB one bus needs", Size);
    }
    if (Cfgbar->Base == 0) return Refuse(Vmd, "firmware left CFGBAR unassigned");
    Vmd->CfgbarBase = Cfgbar->Base;
    Vmd->CfgbarSize = Cfgbar->Size;
    if (MemoryBar(Membar1) && Membar1->Base != 0) {
        Vmd->Membar1Base = Membar1->Base;
        Vmd->Membar1Size = Membar1->Size;
    }
    if (MemoryBar(Membar2) && Membar2->Base != 0) {
        Vmd->Membar2Base = Membar2->Base;
        Vmd->Membar2Size = Membar2->Size;
    }
    if (Vmd->Membar1Size == 0 && Vmd->Membar2Size <= VMD_MEMBAR2_RESERVED) {
        return Refuse(Vmd, "neither MEMBAR1 nor MEMBAR2 gives the domain memory space");
    }
    Vmd->Membar2ChildOffset = VMDMembar2ChildOffset(Vmd->Profile->Features);
    BOOL Unusable;
    if (MembarsTranslated(Vmd, &Unusable)) {
        return Refuse(Vmd, "MEMBARs are translated (VMD passed to a guest): not supported");
    }
    if (Unusable) return Refuse(Vmd, "VMLOCK reads all ones");
    return KSTATUS_SUCCESS;
}

/************************************************************************/
// Attach

static void VMDShutdown(BOOL Reboot, LPVOID Context) {
    UNUSED(Reboot);
    VMDInterruptsShutdown((VMD_CONTROLLER*)Context);
}

static void BuildSegment(VMD_CONTROLLER* Vmd, U32 Index) {
    PCI_SEGMENT* S = &Vmd->Segment;
    U32 Membar1Offset = 0;
    U64 Membar2Offset = 0;
    if (Vmd->Layout.RootCount > 1) {
        Membar1Offset = PCIDeviceRead32(Vmd->Device, VMD_REG_MEMBAR1_OFFSET);
        Membar2Offset = PCIDeviceRead32(Vmd->Device, VMD_REG_MEMBAR2_OFFSET) |
                        ((U64)PCIDeviceRead32(Vmd->Device, VMD_REG_MEMBAR2_OFFSET + 4) << 32);
    }
    S->Segment = VMD_SEGMENT_BASE + Index;
    S->StartBus = Vmd->Layout.StartBus;
    S->EndBus = Vmd->Layout.EndBus;
    S->ConfigSize = PCI_CONFIG_SIZE_EXTENDED;
    S->AccessName = "VMD CFGBAR";
    S->Ops = &VMDConfigOps;
    S->Context = Vmd;
    S->Flags = PCI_SEGMENT_ASSIGN | PCI_SEGMENT_NO_IO | PCI_SEGMENT_NO_INTX;
    S->RootCount = Vmd->Layout.RootCount;
    for (U32 I = 0; I < S->RootCount; I++) S->Roots[I] = Vmd->Layout.Roots[I];
    S->WindowCount = VMDComputeWindows(&Vmd->Layout, Vmd->Membar1Base, Vmd->Membar1Size, Vmd->Membar2Base,
                                       Vmd->Membar2Size, Vmd->Membar2ChildOffset, Membar1Offset, Membar2Offset,
                                       S->Windows);
    S->DmaAddressBits = VMD_DMA_ADDRESS_BITS;
    S->OwnerDevice = Vmd->Device;
}

static KSTATUS BringUp(VMD_CONTROLLER* Vmd, U32 Index) {
    PCI_DEVICE* D = Vmd->Device;
    KSTATUS Status = TakeBars(Vmd);
    if (Status != KSTATUS_SUCCESS) return Status;

    U32 Vmcap = PCIDeviceRead32(D, VMD_REG_VMCAP);
    U32 Vmconfig = PCIDeviceRead32(D, VMD_REG_VMCONFIG);
    U16 Range0 = PCIDeviceRead16(D, VMD_REG_BUSRANGE0), Range1 = PCIDeviceRead16(D, VMD_REG_BUSRANGE1);
    char Why[80];
    if (Vmcap == MAX_U32 || Vmconfig == MAX_U32) return Refuse(Vmd, "VMCAP/VMCONFIG read all ones");
    if (!VMDDecodeLayout(Vmd->Profile->Features, Vmcap, Vmconfig, Vmd->CfgbarSize, Range0, Range1, &Vmd->Layout, Why,
                         sizeof(Why))) {
        return Refuse(Vmd, "%s", Why);
    }
    if (Vmd->Layout.DualRootFallback) {
        INFO("[VMDAttach] %s: bus restriction 3 without usable BUSRANGE0/1 (%04x, %04x): one root bus at 224",
             Vmd->Name, Range0, Range1);
    }
    Vmd->VmconfigAtAttach = Vmconfig;

    Vmd->ConfigLock = PlatformLockCreate();
    Vmd->VectorLock = PlatformLockCreate();
    Vmd->Mutex = PlatformMutexCreate();
    if (!Vmd->ConfigLock || !Vmd->VectorLock || !Vmd->Mutex) return Refuse(Vmd, "out of memory");
    Vmd->Cfgbar = PlatformMapMMIO(Vmd->CfgbarBase, (U64)Vmd->Layout.BusCount << 20);
    if (Vmd->Cfgbar == 0) return Refuse(Vmd, "cannot map CFGBAR");
    PCIEnableMemorySpace(D);

    BuildSegment(Vmd, Index);
    VMDInterruptsInit(Vmd);
    Vmd->State = VMD_STATE_RUNNING;

    PlatformMutexLock(Vmd->Mutex);
    VMDDomainReset(Vmd);
    PCIAddSegment(&Vmd->Segment);
    VMDFindPorts(Vmd);
    PlatformMutexUnlock(Vmd->Mutex);

    PlatformRegisterShutdown(Vmd->Name, VMDShutdown, Vmd);
    VMDMonitorStart(Vmd);
    char Features[160];
    VMDFeatureText(Vmd->Profile->Features, Features, sizeof(Features));
    INFO("[VMDAttach] %s: [8086:%04x] %s, segment %05x buses %02x-%02x, %u window(s), interrupts %s (%u vectors), "
         "features %s",
         Vmd->Name, D->DeviceId, Vmd->Profile->Platform, Vmd->Segment.Segment, Vmd->Layout.StartBus,
         Vmd->Layout.EndBus, Vmd->Segment.WindowCount, VMDInterruptModeName(Vmd->InterruptMode), Vmd->VectorCount,
         Features);
    return KSTATUS_SUCCESS;
}

static BOOL VMDProbe(PCI_DEVICE* Device) { return VMDFindProfile(Device->VendorId, Device->DeviceId) != NULL; }

static KSTATUS VMDAttach(PCI_DEVICE* Device) {
    if (ControllerCount >= VMD_MAX_CONTROLLERS) return KSTATUS_NOT_SUPPORTED;
    VMD_CONTROLLER* Vmd = (VMD_CONTROLLER*)PlatformAllocZero(sizeof(VMD_CONTROLLER));
    if (Vmd == NULL) return KSTATUS_NO_MEMORY;
    U32 Index = ControllerCount;
    StringPrintFormat(Vmd->Name, sizeof(Vmd->Name), "vmd%u", Index);
    Vmd->Device = Device;
    Vmd->Profile = VMDFindProfile(Device->VendorId, Device->DeviceId);
    Device->DriverData = Vmd;
    Controllers[ControllerCount++] = Vmd;
    BringUp(Vmd, Index);
    return KSTATUS_SUCCESS;  // refused or not, the VMD stays ours: `vmd info` shows why
}

// The class alone would also match RST SATA RAID controllers: the probe checks the ID table.
static const PCI_MATCH VMDMatches[] = {
    {0x8086, PCI_ANY_ID, 0x01, 0x04, 0x00},  // Intel, mass storage, RAID bus controller
};

static PCI_DRIVER VMDDriver = {
    .Name = "vmd",
    .Matches = VMDMatches,
    .MatchCount = ARRAY_COUNT(VMDMatches),
    .Probe = VMDProbe,
    .Attach = VMDAttach,
    .Detach = NULL,
    .Next = NULL,
};

void VMDRegisterDriver(void) { PCIRegisterDriver(&VMDDriver); }

/************************************************************************/
// What the shell asks

I32 VMDIndexOfDevice(const PCI_DEVICE* Device) {
    for (U32 I = 0; I < ControllerCount; I++) {
        if (Controllers[I]->Device == Device || Device->SegmentInfo == &Controllers[I]->Segment) return (I32)I;
    }
    return -1;
}

static U32 CountChildren(VMD_CONTROLLER* Vmd) {
    U32 Count = 0;
    for (PCI_DEVICE* D = PCIGetFirstDevice(); D; D = D->Next) Count += D->SegmentInfo == &Vmd->Segment;
    return Count;
}

BOOL VMDGetInfo(U32 Index, VMD_INFO* Info) {
    VMD_CONTROLLER* Vmd = VMDGetController(Index);
    if (Vmd == NULL) return FALSE;
    MemorySet(Info, 0, sizeof(*Info));
    PCI_DEVICE* D = Vmd->Device;
    StringCopy(Info->Name, Vmd->Name, sizeof(Info->Name));
    Info->State = Vmd->State;
    StringCopy(Info->StateReason, Vmd->StateReason, sizeof(Info->StateReason));
    Info->PciSegment = D->Segment;
    Info->PciBus = D->Bus;
    Info->PciDevice = D->Device;
    Info->PciFunction = D->Function;
    Info->DeviceId = D->DeviceId;
    Info->Profile = Vmd->Profile;
    Info->Segment = Vmd->Segment.Segment;
    Info->Restriction = Vmd->Layout.Restriction;
    Info->StartBus = Vmd->Layout.StartBus;
    Info->EndBus = Vmd->Layout.EndBus;
    Info->RootCount = Vmd->Layout.RootCount;
    MemoryCopy(Info->Roots, Vmd->Layout.Roots, sizeof(Info->Roots));
    Info->CfgbarBase = Vmd->CfgbarBase;
    Info->CfgbarSize = Vmd->CfgbarSize;
    Info->Membar1Base = Vmd->Membar1Base;
    Info->Membar1Size = Vmd->Membar1Size;
    Info->Membar2Base = Vmd->Membar2Base;
    Info->Membar2Size = Vmd->Membar2Size;
    Info->Membar2ChildOffset = Vmd->Membar2ChildOffset;
    Info->WindowCount = Vmd->Segment.WindowCount;
    MemoryCopy(Info->Windows, Vmd->Segment.Windows, sizeof(Info->Windows));
    Info->InterruptMode = Vmd->InterruptMode;
    PCI_MSIX_INFO Msix;
    if (PCIMSIXRead(D, &Msix)) Info->MsixTableSize = Msix.TableSize;
    Info->FirstVector = Vmd->FirstVector;
    Info->VectorCount = Vmd->VectorCount;
    U64 State = Vmd->VectorLock ? PlatformLockAcquire(Vmd->VectorLock) : 0;
    for (U32 I = 0; I < Vmd->VectorCount; I++) {
        Info->Vectors[I].CpuVector = Vmd->Interrupts.Vectors[I];
        Info->Vectors[I].Messages = Vmd->Vectors[I].Messages;
        Info->Vectors[I].Handlers = Vmd->Vectors[I].HandlerCount;
        Info->Vectors[I].Fired = Vmd->Vectors[I].Fired;
    }
    if (Vmd->VectorLock) PlatformLockRelease(Vmd->VectorLock, State);
    Info->Children = Vmd->State == VMD_STATE_REFUSED ? 0 : CountChildren(Vmd);
    Info->PortCount = Vmd->PortCount;
    for (U32 I = 0; I < Vmd->PortCount; I++) Info->Ports[I] = Vmd->Ports[I].Stats;
    Info->ConfigReads = Vmd->ConfigReads;
    Info->ConfigWrites = Vmd->ConfigWrites;
    Info->Resets = Vmd->Resets;
    Info->HotplugEvents = Vmd->HotplugEvents;
    return TRUE;
}

KSTATUS VMDReadRegisters(U32 Index, VMD_REGISTERS* R) {
    VMD_CONTROLLER* Vmd = VMDGetController(Index);
    if (Vmd == NULL) return KSTATUS_NOT_FOUND;
    PCI_DEVICE* D = Vmd->Device;
    MemorySet(R, 0, sizeof(*R));
    R->Vmcap = PCIDeviceRead32(D, VMD_REG_VMCAP);
    R->Vmconfig = PCIDeviceRead32(D, VMD_REG_VMCONFIG);
    R->Vmassign = PCIDeviceRead32(D, VMD_REG_VMASSIGN);
    R->Vmlock = PCIDeviceRead32(D, VMD_REG_VMLOCK);
    R->CfgbarSz = PCIDeviceRead8(D, VMD_REG_CFGBARSZ);
    R->Membar1Sz = PCIDeviceRead8(D, VMD_REG_MEMBAR1SZ);
    R->Membar2Sz = PCIDeviceRead8(D, VMD_REG_MEMBAR2SZ);
    for (U32 I = 0; I < 8; I++) R->FnAssign[I] = PCIDeviceRead32(D, (U16)VMD_REG_FN_ASSIGN(I));
    R->BusRange0 = PCIDeviceRead16(D, VMD_REG_BUSRANGE0);
    R->BusRange1 = PCIDeviceRead16(D, VMD_REG_BUSRANGE1);
    R->Membar1Offset = PCIDeviceRead32(D, VMD_REG_MEMBAR1_OFFSET);
    R->Membar2Offset = PCIDeviceRead32(D, VMD_REG_MEMBAR2_OFFSET) |
                       ((U64)PCIDeviceRead32(D, VMD_REG_MEMBAR2_OFFSET + 4) << 32);
    R->Command = PCIDeviceRead16(D, PCI_COMMAND);
    R->Status = PCIDeviceRead16(D, PCI_STATUS);
    for (U32 I = 0; I < 6; I++) R->Bars[I] = PCIDeviceRead32(D, (U16)(PCI_BAR0 + I * 4));

    PCI_MSIX_INFO Msix;
    if (!PCIMSIXRead(D, &Msix)) return KSTATUS_SUCCESS;
    R->MsixControl = PCIDeviceRead16(D, Msix.Capability + PCI_MSIX_CONTROL);
    // The table is read through the mapping the interrupt set-up made, or a short-lived one.
    U32 Entries = MIN(Msix.TableSize, (U32)VMD_MAX_VECTORS);
    LINEAR Table = Vmd->Interrupts.Msix.Table, Pba = Vmd->Interrupts.Msix.Pba, Map = 0, PbaMap = 0;
    if (Table == 0 && D->Bars[Msix.TableBar].Base != 0 && (R->Command & PCI_COMMAND_MEMORY)) {
        Map = Table = PlatformMapMMIO(D->Bars[Msix.TableBar].Base + Msix.TableOffset, Entries * PCI_MSIX_ENTRY_SIZE);
        PbaMap = Pba = PlatformMapMMIO(D->Bars[Msix.PbaBar].Base + Msix.PbaOffset, 8);
    }
    for (U32 E = 0; E < Entries && Table; E++) {
        for (U32 W = 0; W < 4; W++) R->MsixEntries[E][W] = PlatformRead32(Table + E * PCI_MSIX_ENTRY_SIZE + W * 4);
    }
    R->MsixEntryCount = Table ? Entries : 0;
    if (Pba) R->MsixPending = PlatformRead32(Pba);
    if (Map) PlatformUnmapMMIO(Map, Entries * PCI_MSIX_ENTRY_SIZE);
    if (PbaMap) PlatformUnmapMMIO(PbaMap, 8);
    return KSTATUS_SUCCESS;
}

KSTATUS VMDReset(U32 Index) {
    VMD_CONTROLLER* Vmd = VMDGetController(Index);
    if (Vmd == NULL) return KSTATUS_NOT_FOUND;
    if (Vmd->State != VMD_STATE_RUNNING) return KSTATUS_NOT_SUPPORTED;
    return VMDResetDomain(Vmd);
}
