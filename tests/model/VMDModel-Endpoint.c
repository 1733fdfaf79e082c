/*
 * VMDModel-Endpoint.c - the VMD endpoint itself: a type-0 root-complex
 * integrated endpoint of class 01h/04h (S11) whose configuration space holds
 * the VMD registers and whose three BARs are CFGBAR, MEMBAR1 and MEMBAR2.
 *
 * Registers (Intel's client header S6, Linux S1, Arrow Lake S10): VMCAP
 * 0x40, VMCONFIG 0x44 (bit 0 VMDLOCK, bit 1 MSI_RMP_DIS, 7:4 DEVID_SELECT,
 * 9:8 BUS_RESTRICTIONS, 25:10 DID_ASSIGN), VMASSIGN 0x48, CFGBARSZ,
 * MEMBAR1SZ, MEMBAR2SZ 0x4C-0x4E, FN0-7_ASSIGN 0x50-0x6C, VMLOCK 0x70,
 * BUSRANGE0/1 0xC8/0xCC, MEMBAR1_OFFSET 0xD0, MEMBAR2_OFFSET 0xD8. Each is
 * "RW/L": writable until VMDLOCK is set, read-only after, except
 * MSI_RMP_DIS, which "is programmed by the OS or by the VMD Driver" (S6).
 * VMDLOCK, once set, stays. A write that tries to change a locked field is
 * a rule break (only firmware may program them) and is ignored.
 *
 * BARs (S6, S7): BAR0 CFGBAR 64-bit, BAR2 MEMBAR1 32-bit on client parts
 * (64-bit on servers), BAR4 MEMBAR2 64-bit, each non-prefetchable and sized
 * 2^n by its size register (the standard sizing protocol reads the mask
 * back). Command: Memory Space Enable gates CFGBAR and MEMBAR decoding, Bus
 * Master Enable gates everything children send upstream.
 *
 * Capabilities (MODEL CHOICE, clear of the registers): PCI Express (RCiEP)
 * at 0x80, MSI-X at 0xBC (table in BAR4 at 0, PBA at 0x1000), power
 * management at 0xE0, and with Config.Shdw the vendor capability "SHDW" at
 * 0xE8 holding the host-physical MEMBARs (S8).
 *
 * A server VMD is function 5 of device 5 of an IIO stack (S3); the other
 * functions of that device answer too, so an enumerator that looks at
 * function 0 first finds the device: function 0 is a stand-in (MODEL CHOICE:
 * 8086:2024 on 201D, 8086:09A2 on 28C0, class 08h/80h, multi-function).
 */

#include "VMDModel-Internal.h"

#include <string.h>

#define SHDW_SIGNATURE 0x53484457U

static BOOL Lockable(U16 Offset) {
    return (Offset >= VM_VMCAP && Offset < 0x80) || (Offset >= VM_BUSRANGE0 && Offset < 0xE0);
}

static U64 BarMask(U8 SizeShift) {
    if (SizeShift == 0) return 0;  // CFGBARSZ 0: the BAR is read-only (S6)
    return ~((1ULL << SizeShift) - 1);
}

static void PutBar(VM_MODEL* Model, U16 Offset, PHYSICAL Base, U8 SizeShift, BOOL Is64) {
    U64 Mask = BarMask(SizeShift);
    U8* S = Model->Space;
    U8* W = Model->Writable;
    VmPut32(S, W, NULL, Offset, (U32)(Base & Mask) | (Is64 ? 0x4 : 0x0), (U32)Mask & 0xFFFFFFF0U, 0);
    if (Is64) VmPut32(S, W, NULL, Offset + 4, (U32)((Base & Mask) >> 32), (U32)(Mask >> 32), 0);
}

void VmEndpointInit(VM_MODEL* Model) {
    const VMD_MODEL_CONFIG* C = &Model->Config;
    U8* S = Model->Space;
    U8* W = Model->Writable;
    memset(S, 0, sizeof(Model->Space));
    memset(W, 0, sizeof(Model->Writable));
    VmPut16(S, W, NULL, PCI_VENDOR_ID, 0x8086, 0, 0);
    VmPut16(S, W, NULL, PCI_DEVICE_ID, C->DeviceId, 0, 0);
    VmPut16(S, W, NULL, PCI_COMMAND, PCI_COMMAND_MEMORY, 0x0546, 0);  // firmware left memory decoding on
    VmPut16(S, W, NULL, PCI_STATUS, PCI_STATUS_CAPABILITIES, 0, 0);
    VmPut32(S, W, NULL, PCI_REVISION, 0x01040000, 0, 0);  // RAID bus controller (S11)
    if (C->Function != 0) VmPut8(S, W, NULL, PCI_HEADER_TYPE, PCI_HEADER_MULTIFUNCTION, 0, 0);
    PutBar(Model, PCI_BAR0, C->Cfgbar, C->CfgbarSz, TRUE);
    PutBar(Model, PCI_BAR0 + 8, C->Membar1, C->Membar1Sz, C->Membar1Is64);
    PutBar(Model, PCI_BAR0 + 16, C->Membar2, C->Membar2Sz, TRUE);
    VmPut16(S, W, NULL, PCI_SUBSYSTEM_VENDOR_ID, 0x8086, 0, 0);
    VmPut8(S, W, NULL, PCI_CAPABILITIES, VM_CAP_EXPRESS, 0, 0);
    VmPut8(S, W, NULL, PCI_INTERRUPT_LINE, 0, 0xFF, 0);

    // The VMD registers, RW/L (the lock is applied in VmEndpointWrite32Locked).
    VmPut32(S, W, NULL, VM_VMCAP, C->Vmcap, 0x1, 0);
    // MSI_RMP_DIS takes effect only where the ID can bypass (S1 CAN_BYPASS_MSI_REMAP: 28C0); elsewhere it reads 0,
    // as the QEMU vmd device does (MODEL CHOICE: Intel's client header calls it RW, S6).
    U32 RemapDisable = C->BypassCapable ? VM_VMCONFIG_MSI_RMP_DIS : 0;
    VmPut32(S, W, NULL, VM_VMCONFIG, C->Vmconfig & ~(VM_VMCONFIG_MSI_RMP_DIS & ~RemapDisable),
            0x03FFFFF1 | RemapDisable, 0);
    VmPut32(S, W, NULL, VM_VMASSIGN, C->Vmassign, 0xFFFFFFFF, 0);
    VmPut8(S, W, NULL, VM_CFGBARSZ, C->CfgbarSz, 0xFF, 0);
    VmPut8(S, W, NULL, VM_CFGBARSZ + 1, C->Membar1Sz, 0xFF, 0);
    VmPut8(S, W, NULL, VM_CFGBARSZ + 2, C->Membar2Sz, 0xFF, 0);
    for (U32 I = 0; I < 8; I++) VmPut32(S, W, NULL, (U16)(VM_FN_ASSIGN + 4 * I), C->FnAssign[I], 0xFFFFFFFF, 0);
    VmPut32(S, W, NULL, VM_VMLOCK, C->Vmlock, 0x2, 0);
    VmPut16(S, W, NULL, VM_BUSRANGE0, C->BusRange0, 0xFFFF, 0);
    VmPut16(S, W, NULL, VM_BUSRANGE1, C->BusRange1, 0xFFFF, 0);
    VmPut32(S, W, NULL, VM_MEMBAR1_OFFSET, C->Membar1Offset, 0xFFFFFFFF, 0);
    VmPut32(S, W, NULL, VM_MEMBAR2_OFFSET, (U32)C->Membar2Offset, 0xFFFFFFFF, 0);
    VmPut32(S, W, NULL, VM_MEMBAR2_OFFSET + 4, (U32)(C->Membar2Offset >> 32), 0xFFFFFFFF, 0);

    // PCI Express: version 2, root-complex integrated endpoint (S11).
    VmPut8(S, W, NULL, VM_CAP_EXPRESS, PCI_CAP_ID_PCIE, 0, 0);
    VmPut8(S, W, NULL, VM_CAP_EXPRESS + 1, VM_CAP_MSIX, 0, 0);
    VmPut16(S, W, NULL, VM_CAP_EXPRESS + PCI_EXP_FLAGS, (PCI_EXP_PORT_RCIEP << 4) | 2, 0, 0);
    VmPut16(S, W, NULL, VM_CAP_EXPRESS + 8, 0x2810, 0xFFFF, 0);
    // MSI-X: table and PBA in MEMBAR2's first 8 KiB.
    VmPut8(S, W, NULL, VM_CAP_MSIX, PCI_CAP_ID_MSIX, 0, 0);
    VmPut8(S, W, NULL, VM_CAP_MSIX + 1, VM_CAP_PM, 0, 0);
    VmPut16(S, W, NULL, VM_CAP_MSIX + PCI_MSIX_CONTROL, (U16)(C->MsixVectors - 1), 0xC000, 0);
    VmPut32(S, W, NULL, VM_CAP_MSIX + PCI_MSIX_TABLE, 0x0 | 4, 0, 0);
    VmPut32(S, W, NULL, VM_CAP_MSIX + PCI_MSIX_PBA, VM_MSIX_PBA_OFFSET | 4, 0, 0);
    VmPut8(S, W, NULL, VM_CAP_PM, PCI_CAP_ID_PM, 0, 0);
    VmPut8(S, W, NULL, VM_CAP_PM + 1, C->Shdw ? VM_CAP_SHDW : 0, 0, 0);
    VmPut16(S, W, NULL, VM_CAP_PM + 2, 0x0003, 0, 0);
    VmPut16(S, W, NULL, VM_CAP_PM + 4, 0x0008, 0x0103, 0);
    if (C->Shdw) {
        // S8: +2 length 24, +3 version 1, +4 "SHDW", +8 MEMBAR1 and +16 MEMBAR2 as the host sees them.
        PHYSICAL Shadow1 = C->ShadowMembar1 ? C->ShadowMembar1 : C->Membar1;
        PHYSICAL Shadow2 = C->ShadowMembar2 ? C->ShadowMembar2 : C->Membar2;
        VmPut8(S, W, NULL, VM_CAP_SHDW, PCI_CAP_ID_VENDOR, 0, 0);
        VmPut8(S, W, NULL, VM_CAP_SHDW + 2, 24, 0, 0);
        VmPut8(S, W, NULL, VM_CAP_SHDW + 3, 1, 0, 0);
        VmPut32(S, W, NULL, VM_CAP_SHDW + 4, SHDW_SIGNATURE, 0, 0);
        VmPut32(S, W, NULL, VM_CAP_SHDW + 8, (U32)Shadow1, 0, 0);
        VmPut32(S, W, NULL, VM_CAP_SHDW + 12, (U32)(Shadow1 >> 32), 0, 0);
        VmPut32(S, W, NULL, VM_CAP_SHDW + 16, (U32)Shadow2, 0, 0);
        VmPut32(S, W, NULL, VM_CAP_SHDW + 20, (U32)(Shadow2 >> 32), 0, 0);
    }

    PCI_SEGMENT* Segment = &Model->Segment;
    Segment->Segment = C->PciSegment;
    Segment->StartBus = C->Bus;
    Segment->EndBus = C->Bus;
    Segment->ConfigSize = PCI_CONFIG_SIZE_EXTENDED;
    Segment->AccessName = "vmd-model";
    Segment->Ops = &VmEndpointOps;
    Segment->Context = Model;
}

U32 VmEndpointRead32Locked(VM_MODEL* Model, U16 Offset) { return VmGet32(Model->Space, Offset & 0xFFC); }

void VmEndpointWrite32Locked(VM_MODEL* Model, U16 Offset, U32 Value) {
    Offset &= 0xFFC;
    U8* S = Model->Space;
    if (Lockable(Offset)) {
        BOOL Locked = (S[VM_VMCONFIG] & VM_VMCONFIG_LOCK) != 0;
        U32 Old = VmGet32(S, Offset), Mask = VmGet32(Model->Writable, Offset);
        U32 Locks = Offset == VM_VMCONFIG ? Mask & ~(U32)VM_VMCONFIG_MSI_RMP_DIS : Mask;
        if (Locked && ((Value ^ Old) & Locks)) {
            VmViolation(Model, VMD_RULE_LOCKED_REGISTER, "write %#x to locked register %#x (holds %#x)", Value, Offset,
                        Old);
            Value = (Old & Locks) | (Value & ~Locks);
        }
        if (Offset == VM_VMCONFIG && (Old & VM_VMCONFIG_LOCK)) Value |= VM_VMCONFIG_LOCK;  // it stays once set
        VmWrite32(S, Model->Writable, NULL, Offset, Value);
        return;
    }
    U16 MsixBefore = VmGet16(S, VM_CAP_MSIX + PCI_MSIX_CONTROL);
    U16 CommandBefore = VmGet16(S, PCI_COMMAND);
    VmWrite32(S, Model->Writable, NULL, Offset, Value);
    if (VmGet16(S, VM_CAP_MSIX + PCI_MSIX_CONTROL) != MsixBefore || VmGet16(S, PCI_COMMAND) != CommandBefore) {
        VmRemapSync(Model);  // an unmasked table or bus mastering sends what was pending
    }
}

/************************************************************************/
// BARs and the bus layout, as the registers say now

PHYSICAL VmBarLocked(VM_MODEL* Model, U32 Bar) {
    U16 Offset = (U16)(PCI_BAR0 + Bar * 4);
    U32 Low = VmGet32(Model->Space, Offset);
    PHYSICAL Base = Low & ~0xFULL;
    if ((Low & 0x6) == 0x4) Base |= (U64)VmGet32(Model->Space, Offset + 4) << 32;
    return Base;
}

U64 VmBarSize(VM_MODEL* Model, U32 Bar) {
    U8 Shift = Bar == 0 ? Model->Config.CfgbarSz : (Bar == 2 ? Model->Config.Membar1Sz : Model->Config.Membar2Sz);
    return Shift ? 1ULL << Shift : 0;
}

BOOL VmMemoryEnabled(VM_MODEL* Model) {
    return (__atomic_load_n(&Model->Space[PCI_COMMAND], __ATOMIC_RELAXED) & PCI_COMMAND_MEMORY) != 0;
}

BOOL VmBusMasterAtomic(VM_MODEL* Model) {
    return (__atomic_load_n(&Model->Space[PCI_COMMAND], __ATOMIC_RELAXED) & PCI_COMMAND_BUS_MASTER) != 0;
}

U8 VmStartBusLocked(VM_MODEL* Model) {
    // S6: BUS_RESTRICT_CAP set means VMCONFIG[9:8] chooses: 0 -> 0, 1 -> 128, 2 and 3 -> 224.
    if (!(VmGet32(Model->Space, VM_VMCAP) & 1)) return 0;
    static const U8 Starts[4] = {0, 128, 224, 224};
    return Starts[(VmGet32(Model->Space, VM_VMCONFIG) >> 8) & 3];
}

U32 VmBusCountLocked(VM_MODEL* Model) {
    U64 Buses = VmBarSize(Model, 0) >> 20;
    U32 Room = 256U - VmStartBusLocked(Model);
    return Buses > Room ? Room : (U32)Buses;
}

U32 VmRootCountLocked(VM_MODEL* Model) {
    // S10: restriction 3 on Arrow Lake puts a second root bus (PCH) at CFGBAR index 1.
    BOOL Three = ((VmGet32(Model->Space, VM_VMCONFIG) >> 8) & 3) == 3;
    return Three && VmGet16(Model->Space, VM_BUSRANGE1) != 0 ? 2 : 1;
}

U64 VmMembar2ChildOffset(VM_MODEL* Model) {
    // 28C0-28CF have shadow registers at MEMBAR2 + 0x2000..0x200F (S1: HAS_MEMBAR_SHADOW).
    BOOL Native = (Model->Config.DeviceId & 0xFFF0) == 0x28C0;
    return VM_MEMBAR2_RESERVED + (Native ? VM_SHADOW_SIZE : 0);
}

/************************************************************************/
// The endpoint's segment

static BOOL IsEndpoint(VM_MODEL* Model, U8 Bus, U8 Device, U8 Function) {
    return Bus == Model->Config.Bus && Device == Model->Config.Device && Function == Model->Config.Function;
}

/** Function 0 of a server VMD's device: the IIO stack's own registers, reduced to an identity. */
static U32 CompanionRead32(VM_MODEL* Model, U16 Offset) {
    switch (Offset & 0xFFC) {
        case PCI_VENDOR_ID:
            return 0x8086 | ((U32)(Model->Config.DeviceId == 0x201D ? 0x2024 : 0x09A2) << 16);
        case PCI_REVISION:
            return 0x08800000;
        case PCI_HEADER_TYPE & 0xFFC:
            return (U32)PCI_HEADER_MULTIFUNCTION << 16;
        default:
            return 0;
    }
}

static U32 EndpointRead32(LPVOID Context, U8 Bus, U8 Device, U8 Function, U16 Offset) {
    VM_MODEL* Model = (VM_MODEL*)Context;
    if (Model->Config.Function != 0 && Function == 0 && Bus == Model->Config.Bus && Device == Model->Config.Device &&
        Offset < 4096) {
        return CompanionRead32(Model, Offset);
    }
    if (!IsEndpoint(Model, Bus, Device, Function) || Offset >= 4096) return MAX_U32;
    pthread_mutex_lock(&Model->Lock);
    U32 Value = VmEndpointRead32Locked(Model, Offset);
    pthread_mutex_unlock(&Model->Lock);
    return Value;
}

static void EndpointWrite32(LPVOID Context, U8 Bus, U8 Device, U8 Function, U16 Offset, U32 Value) {
    VM_MODEL* Model = (VM_MODEL*)Context;
    if (!IsEndpoint(Model, Bus, Device, Function) || Offset >= 4096) return;
    pthread_mutex_lock(&Model->Lock);
    VmEndpointWrite32Locked(Model, Offset, Value);
    pthread_mutex_unlock(&Model->Lock);
}

const PCI_CONFIG_OPS VmEndpointOps = {EndpointRead32, EndpointWrite32};
