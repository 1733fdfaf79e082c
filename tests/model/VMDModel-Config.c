/*
 * VMDModel-Config.c - configuration access to the VMD's domain through
 * CFGBAR, and the domain's own functions: root ports, switch ports and the
 * AHCI function (the NVMe models answer for themselves).
 *
 * Decoder (S1 PCIE_ECAM_OFFSET, S2, S3, S4): offset = index << 20 | device
 * << 15 | function << 12 | register. Index i is bus start + i, where start
 * comes from VMCAP/VMCONFIG (0, 128, 224); index 0 is the root bus (and, on
 * Arrow Lake with restriction 3, index 1 the PCH root bus, S10). Any other
 * bus is reached only through bridges, as PCIe routes a configuration
 * request: every bridge on the way holds it in [secondary, subordinate] and
 * the last one's secondary is it; below a port only device 0 answers. So a
 * bridge programmed with a CFGBAR index (1) instead of the real number
 * (start + 1) reaches nothing, and everything behind it reads all ones. A
 * bus two bridges route (duplicate secondary numbers) is answered by the
 * one found last.
 * Indices beyond the CFGBAR (or past bus 255) read all ones too.
 *
 * Instruments: writes are posted (S1: "VMD h/w converts non-posted config
 * writes to posted memory writes"). A write lands when the same thread reads
 * the same dword next (the driver's read-back, which then sees the new
 * value); any other access first - a write, a read of another dword, another
 * thread, a MEMBAR access - is a VMD_CFG_WRITE_NOT_COMPLETED violation and
 * sees the old state (a read is answered before the write lands). With the
 * concurrency detector every access counts itself in flight and yields the
 * CPU before it is served: a second access meanwhile is VMD_CFG_CONCURRENT.
 *
 * Bridges (PCI-to-PCI Bridge 1.2, PCIe Base 6.0 chapter 7): type-1 header
 * with writable bus numbers and windows (memory base/limit bits 15:4 =
 * address bits 31:20, 64-bit prefetchable window, an I/O window the VMD never
 * forwards), root ports' primary bus hard-wired on client parts (S11).
 * Bridge Control bit 6 (secondary bus reset) holds everything below in reset
 * (nothing answers) and resets it: NVMe controllers to their power-on state,
 * switch ports' registers to their defaults; once released, functions below
 * answer Configuration Request Retry Status (vendor 0001h) for CrsMs (MODEL
 * CHOICE). The PCIe capability has Slot Capabilities/Control/Status for
 * hot plug (presence and link from the slot's state, RW1C status bits,
 * power control; powering a slot off after its attention button ejects the
 * device, as QEMU's device_del does), Link Status DLLA, and the extended
 * capabilities AER (RW1C status the monitor reads), LTR and L1 PM Substates.
 */

#define _GNU_SOURCE
#include "VMDModel-Internal.h"

#include <sched.h>
#include <string.h>

#define SLOT_CONTROL (VM_FN_EXPRESS + PCI_EXP_SLOT_CONTROL)
#define SLOT_STATUS (VM_FN_EXPRESS + PCI_EXP_SLOT_STATUS)
#define LINK_STATUS (VM_FN_EXPRESS + PCI_EXP_LINK_STATUS)
#define SLOT_STATUS_RW1C 0x011F   // attention, power fault, MRL changed, presence changed, command done, DLLSC

BOOL VmIsBridge(const VM_FUNCTION* F) {
    return F->Kind == VM_ROOT_PORT || F->Kind == VM_SWITCH_UP || F->Kind == VM_SWITCH_DOWN;
}

static BOOL HasSlot(const VM_FUNCTION* F) { return F->Kind == VM_ROOT_PORT || F->Kind == VM_SWITCH_DOWN; }

/************************************************************************/
// Building functions

static void Put8(VM_FUNCTION* F, U16 O, U8 V, U8 W, U8 C) { VmPut8(F->Config, F->Writable, F->Clear, O, V, W, C); }
static void Put16(VM_FUNCTION* F, U16 O, U16 V, U16 W, U16 C) { VmPut16(F->Config, F->Writable, F->Clear, O, V, W, C); }
static void Put32(VM_FUNCTION* F, U16 O, U32 V, U32 W, U32 C) { VmPut32(F->Config, F->Writable, F->Clear, O, V, W, C); }

static void Header(VM_FUNCTION* F, U16 DeviceId, U32 ClassCode, U8 HeaderType) {
    memset(F->Config, 0, sizeof(F->Config));
    memset(F->Writable, 0, sizeof(F->Writable));
    memset(F->Clear, 0, sizeof(F->Clear));
    Put16(F, PCI_VENDOR_ID, 0x8086, 0, 0);
    Put16(F, PCI_DEVICE_ID, DeviceId, 0, 0);
    Put16(F, PCI_COMMAND, 0, 0x0547, 0);  // I/O, memory, bus master, parity, SERR, INTx disable
    Put16(F, PCI_STATUS, PCI_STATUS_CAPABILITIES, 0, 0xF900);
    Put32(F, PCI_REVISION, ClassCode << 8, 0, 0);
    Put8(F, PCI_HEADER_TYPE, HeaderType, 0, 0);
    Put8(F, PCI_INTERRUPT_LINE, 0, 0xFF, 0);
    Put8(F, PCI_INTERRUPT_PIN, 1, 0, 0);
}

void VmBridgeInit(VM_FUNCTION* F, U16 DeviceId, BOOL Hotplug) {
    Header(F, DeviceId, 0x060400, PCI_HEADER_BRIDGE);
    Put32(F, PCI_PRIMARY_BUS, 0, 0x00FFFFFF, 0);
    Put16(F, PCI_IO_BASE, 0x0101, 0xF0F0, 0);              // 32-bit I/O addressing, after reset 0/0
    Put16(F, PCI_IO_BASE + 2, 0, 0, 0xF900);               // secondary status
    Put32(F, PCI_MEMORY_BASE, 0, 0xFFF0FFF0, 0);
    Put32(F, PCI_PREFETCH_BASE, 0x00010001, 0xFFF0FFF0, 0);  // 64-bit prefetchable window
    Put32(F, PCI_PREFETCH_BASE_UPPER, 0, 0xFFFFFFFF, 0);
    Put32(F, PCI_PREFETCH_LIMIT_UPPER, 0, 0xFFFFFFFF, 0);
    Put32(F, PCI_IO_BASE_UPPER, 0, 0xFFFFFFFF, 0);
    Put8(F, PCI_CAPABILITIES, VM_FN_EXPRESS, 0, 0);
    Put16(F, PCI_BRIDGE_CONTROL, 0, 0x0FFF, 0);

    U8 Type = F->Kind == VM_ROOT_PORT ? PCI_EXP_PORT_ROOT
                                      : (F->Kind == VM_SWITCH_UP ? PCI_EXP_PORT_UPSTREAM : PCI_EXP_PORT_DOWNSTREAM);
    U16 E = VM_FN_EXPRESS;
    Put8(F, E, PCI_CAP_ID_PCIE, 0, 0);
    Put8(F, E + 1, VM_FN_MSI, 0, 0);
    Put16(F, E + PCI_EXP_FLAGS, (U16)(2 | (Type << 4) | (HasSlot(F) ? PCI_EXP_FLAGS_SLOT : 0)), 0, 0);
    Put32(F, E + 4, 0x00008000, 0, 0);                      // device capabilities: role-based error reporting
    Put16(F, E + 8, 0x2810, 0xFFFF, 0);                     // device control
    Put16(F, E + 0x0A, 0, 0, 0x000F);                       // device status (RW1C error bits)
    Put32(F, E + 0x0C, 0x00100000 | ((U32)(F->Port + 1) << 24), 0, 0);  // link: DLL link active reporting
    Put16(F, E + 0x10, 0, 0xFFFF, 0);
    Put16(F, E + PCI_EXP_LINK_STATUS, 0x0011, 0, 0);        // x1 at 2.5 GT/s; DLLA comes from the slot
    if (HasSlot(F)) {
        // Hot plug: attention button, power controller, attention and power indicators, hot-plug surprise
        // off, hot-plug capable; physical slot number from the port.
        U32 SlotCap = Hotplug ? 0x5B : 0;
        Put32(F, E + PCI_EXP_SLOT_CAPABILITIES, SlotCap | ((U32)(F->Port + 1) << 19), 0, 0);
        Put16(F, SLOT_CONTROL, 0x01C0, 0x1FFF, 0);           // attention indicator off, power indicator on
        Put16(F, SLOT_STATUS, 0, 0, SLOT_STATUS_RW1C);
    }
    if (F->Kind == VM_ROOT_PORT) {
        Put16(F, E + 0x1C, 0, 0x001F, 0);                   // root control
        Put32(F, E + 0x20, 0, 0, 0x00010000);               // root status (PME status RW1C)
    }
    Put16(F, E + 0x28, 0, 0xFFFF, 0);                       // device control 2
    Put16(F, E + 0x30, 0x0001, 0xFFFF, 0);                  // link control 2
    // MSI for port events (one vector; the VMD driver polls instead).
    Put8(F, VM_FN_MSI, PCI_CAP_ID_MSI, 0, 0);
    Put16(F, VM_FN_MSI + 2, 0x0000, 0x0071, 0);
    Put32(F, VM_FN_MSI + 4, 0, 0xFFFFFFFC, 0);
    Put16(F, VM_FN_MSI + 8, 0, 0xFFFF, 0);

    // AER -> LTR -> L1 PM Substates (extended header: ID, version, next << 20)
    Put32(F, VM_FN_AER, PCI_EXT_CAP_ID_AER | (2U << 16) | ((U32)VM_FN_LTR << 20), 0, 0);
    Put32(F, VM_FN_AER + PCI_AER_UNCORRECTABLE_STATUS, 0, 0, 0xFFFFFFFF);
    Put32(F, VM_FN_AER + 0x08, 0, 0xFFFFFFFF, 0);            // uncorrectable mask
    Put32(F, VM_FN_AER + 0x0C, 0x00462030, 0xFFFFFFFF, 0);   // severity (PCIe defaults)
    Put32(F, VM_FN_AER + PCI_AER_CORRECTABLE_STATUS, 0, 0, 0xFFFFFFFF);
    Put32(F, VM_FN_AER + 0x14, 0x00002000, 0xFFFFFFFF, 0);   // correctable mask
    Put32(F, VM_FN_AER + 0x18, 0, 0x00000140, 0);
    if (F->Kind == VM_ROOT_PORT) {
        Put32(F, VM_FN_AER + 0x2C, 0, 0x7, 0);               // root error command
        Put32(F, VM_FN_AER + PCI_AER_ROOT_STATUS, 0, 0, 0x7F);
    }
    Put32(F, VM_FN_LTR, 0x0018 | (1U << 16) | ((U32)VM_FN_L1SS << 20), 0, 0);
    Put32(F, VM_FN_LTR + 4, 0, 0x1FFF1FFF, 0);                // max snoop / no-snoop latency: 0, as BIOS left it
    Put32(F, VM_FN_L1SS, 0x001E | (1U << 16), 0, 0);
    Put32(F, VM_FN_L1SS + 4, 0x0000001F, 0, 0);
    Put32(F, VM_FN_L1SS + 8, 0, 0xFFFF030F, 0);
    Put32(F, VM_FN_L1SS + 12, 0, 0x000000FB, 0);
}

void VmAhciInit(VM_FUNCTION* F) {
    // S11: TGL e0:17.0 [8086:a0d3] class 0x010601, an ABAR of 2 KiB and I/O BARs no window can hold.
    Header(F, 0xA0D3, 0x010601, PCI_HEADER_NORMAL);
    static const U32 IoSizes[5] = {8, 4, 8, 4, 32};
    for (U32 I = 0; I < 5; I++) Put32(F, (U16)(PCI_BAR0 + 4 * I), 0x1, ~(IoSizes[I] - 1) & 0xFFFFFFFCU, 0);
    Put32(F, PCI_BAR0 + 20, 0, 0xFFFFF800, 0);  // ABAR, 32-bit, unassigned
    Put8(F, PCI_CAPABILITIES, VM_FN_MSI, 0, 0);
    Put8(F, VM_FN_MSI, PCI_CAP_ID_MSI, 0, 0);
    Put16(F, VM_FN_MSI + 2, 0x0000, 0x0071, 0);
    Put32(F, VM_FN_MSI + 4, 0, 0xFFFFFFFC, 0);
    Put16(F, VM_FN_MSI + 8, 0, 0xFFFF, 0);
}

/************************************************************************/
// Routing

static VM_FUNCTION* ParentOf(VM_MODEL* Model, const VM_FUNCTION* F) {
    return F->Parent >= 0 ? Model->Functions[F->Parent] : NULL;
}

I32 VmFunctionBusLocked(VM_MODEL* Model, const VM_FUNCTION* F) {
    if (F->Parent < 0) return F->Root < VmRootCountLocked(Model) ? (I32)VmStartBusLocked(Model) + F->Root : -1;
    VM_FUNCTION* P = ParentOf(Model, F);
    if (P->BusReset || !P->SlotPowered || VmFunctionBusLocked(Model, P) < 0) return -1;  // link down
    U8 Secondary = P->Config[PCI_SECONDARY_BUS];
    if (Secondary == 0) return -1;
    // The request for Secondary passes every bridge from the root down.
    for (VM_FUNCTION* A = P; A; A = ParentOf(Model, A)) {
        if (Secondary < A->Config[PCI_SECONDARY_BUS] || Secondary > A->Config[PCI_SUBORDINATE_BUS]) return -1;
    }
    return Secondary;
}

static BOOL ChildPresent(VM_MODEL* Model, const VM_FUNCTION* Port) {
    for (U32 I = 0; I < Model->FunctionCount; I++) {
        const VM_FUNCTION* F = Model->Functions[I];
        if (F->Parent == (I32)Port->Index && F->Present) return TRUE;
    }
    return FALSE;
}

typedef struct tag_VM_TARGET {
    VM_FUNCTION* Function;
    U16 Register;
    BOOL Crs;           // answering Configuration Request Retry Status
    BOOL InSpan;        // the index lies inside the CFGBAR's buses
    U32 Bus, Device, FunctionNumber;
} VM_TARGET;

static BOOL DecodeLocked(VM_MODEL* Model, U64 Offset, VM_TARGET* T) {
    memset(T, 0, sizeof(*T));
    U32 Index = (U32)(Offset >> 20);
    T->Bus = VmStartBusLocked(Model) + Index;
    T->Device = (Offset >> 15) & 31;
    T->FunctionNumber = (Offset >> 12) & 7;
    T->Register = (U16)(Offset & 0xFFC);
    T->InSpan = Index < VmBusCountLocked(Model);
    if (!T->InSpan) return FALSE;
    U32 Claims = 0;
    for (U32 I = 0; I < Model->FunctionCount; I++) {
        VM_FUNCTION* F = Model->Functions[I];
        if (!F->Present || F->Device != T->Device || F->Function != T->FunctionNumber) continue;
        if (VmFunctionBusLocked(Model, F) != (I32)T->Bus) continue;
        Claims++;
        T->Function = F;
    }
    // Two bridges route one bus (duplicate secondary numbers): MODEL CHOICE, the one found last answers, so an
    // enumerator that does not clear the stale numbers first finds one drive twice and another not at all
    // (SPDK #2413: "endpoint enumerated twice").
    if (Claims > 1) Model->Stats.CfgAmbiguous++;
    if (T->Function == NULL) return FALSE;
    VM_FUNCTION* P = ParentOf(Model, T->Function);
    T->Crs = P && P->CrsUntilNs > PlatformTimeNs();
    return TRUE;
}

/************************************************************************/
// The functions' registers

U32 VmFunctionRead32Locked(VM_MODEL* Model, VM_FUNCTION* F, U16 Offset) {
    Offset &= 0xFFC;
    if (F->Kind == VM_NVME) return F->Nvme && F->Present ? NVMeModelConfigRead32(F->Nvme, Offset) : MAX_U32;
    U32 Value = VmGet32(F->Config, Offset);
    if (HasSlot(F)) {
        BOOL Present = ChildPresent(Model, F);
        BOOL Link = Present && F->SlotPowered && !F->BusReset;
        if (Offset == SLOT_CONTROL && Present) Value |= (U32)PCI_EXP_SLOT_STATUS_PRESENT << 16;
        if (Offset == VM_FN_EXPRESS + 0x10 && Link) Value |= (U32)PCI_EXP_LINK_STATUS_DLLA << 16;
    } else if (F->Kind == VM_SWITCH_UP && Offset == VM_FN_EXPRESS + 0x10) {
        Value |= (U32)PCI_EXP_LINK_STATUS_DLLA << 16;
    }
    return Value;
}

void VmSlotEventLocked(VM_MODEL* Model, VM_FUNCTION* Port, U16 StatusBits) {
    UNUSED(Model);
    if (!HasSlot(Port)) return;
    U16 Status = VmGet16(Port->Config, SLOT_STATUS);
    VmPut16(Port->Config, NULL, NULL, SLOT_STATUS, (U16)(Status | StatusBits), 0, 0);
}

/** Everything below Bridge back to its power-on state (a secondary bus reset, PCIe 6.0 6.6.1). */
static void ResetBelowLocked(VM_MODEL* Model, VM_FUNCTION* Bridge) {
    for (U32 I = 0; I < Model->FunctionCount; I++) {
        VM_FUNCTION* F = Model->Functions[I];
        BOOL Below = FALSE;
        for (VM_FUNCTION* A = ParentOf(Model, F); A && !Below; A = ParentOf(Model, A)) Below = A == Bridge;
        if (!Below || !F->Present) continue;
        if (F->Kind == VM_NVME && F->Nvme) {
            NVMeModelPciReset(F->Nvme);
        } else if (VmIsBridge(F)) {
            VmBridgeInit(F, VmGet16(F->Config, PCI_DEVICE_ID), FALSE);
            F->BusReset = FALSE;
            F->CrsUntilNs = 0;
        }
    }
}

static void BridgeWriteLocked(VM_MODEL* Model, VM_FUNCTION* F, U16 Offset, U32 Value) {
    U16 Control = VmGet16(F->Config, PCI_BRIDGE_CONTROL);
    U16 Slot = VmGet16(F->Config, SLOT_CONTROL);
    VmWrite32(F->Config, F->Writable, F->Clear, Offset, Value);
    if (F->PrimaryFixed) F->Config[PCI_PRIMARY_BUS] = F->PrimaryValue;  // read-only (S11)
    if (Offset == PCI_INTERRUPT_LINE) {
        BOOL Reset = (VmGet16(F->Config, PCI_BRIDGE_CONTROL) & PCI_BRIDGE_CONTROL_BUS_RESET) != 0;
        if (Reset && !(Control & PCI_BRIDGE_CONTROL_BUS_RESET)) {
            F->BusReset = TRUE;
            ResetBelowLocked(Model, F);
            Model->Stats.SecondaryResets++;
        } else if (!Reset && (Control & PCI_BRIDGE_CONTROL_BUS_RESET)) {
            F->BusReset = FALSE;
            F->CrsUntilNs = PlatformTimeNs() + (U64)Model->Config.CrsMs * 1000000ULL;
        }
    }
    if (Offset == SLOT_CONTROL && HasSlot(F)) {
        U16 Now = VmGet16(F->Config, SLOT_CONTROL);
        BOOL Off = (Now & PCI_EXP_SLOT_CONTROL_POWER_OFF) != 0;
        if (Off && !(Slot & PCI_EXP_SLOT_CONTROL_POWER_OFF)) {
            F->SlotPowered = FALSE;
            // Powered off after its attention button: the device leaves the slot (QEMU's device_del).
            for (U32 I = 0; F->EjectRequested && I < Model->FunctionCount; I++) {
                VM_FUNCTION* Child = Model->Functions[I];
                if (Child->Parent != (I32)F->Index || !Child->Present) continue;
                Child->Present = FALSE;
                Child->Nvme = NULL;
                VmSlotEventLocked(Model, F, PCI_EXP_SLOT_STATUS_PRESENCE_CHANGED);
            }
            F->EjectRequested = FALSE;
        } else if (!Off && (Slot & PCI_EXP_SLOT_CONTROL_POWER_OFF)) {
            F->SlotPowered = TRUE;
            if (ChildPresent(Model, F)) VmSlotEventLocked(Model, F, PCI_EXP_SLOT_STATUS_LINK_CHANGED);
        }
    }
}

static void FunctionWrite32Locked(VM_MODEL* Model, VM_FUNCTION* F, U16 Offset, U32 Value) {
    if (F->Kind == VM_NVME) {
        if (F->Nvme) NVMeModelConfigWrite32(F->Nvme, Offset, Value);
    } else if (VmIsBridge(F)) {
        BridgeWriteLocked(Model, F, Offset, Value);
    } else {
        VmWrite32(F->Config, F->Writable, F->Clear, Offset, Value);
    }
}

/************************************************************************/
// CFGBAR accesses

static U32 ReadLocked(VM_MODEL* Model, U64 Offset) {
    VM_TARGET T;
    if (!DecodeLocked(Model, Offset, &T)) {
        Model->Stats.CfgUnrouted++;
        return MAX_U32;
    }
    if (T.Crs) {
        // CRS Software Visibility: a Vendor ID read returns 0001h; anything else is retried, read as all ones.
        Model->Stats.CfgCrs++;
        return T.Register == 0 ? 0xFFFF0001U : MAX_U32;
    }
    return VmFunctionRead32Locked(Model, T.Function, T.Register);
}

static void WriteLocked(VM_MODEL* Model, U64 Offset, U32 Value) {
    VM_TARGET T;
    if (!DecodeLocked(Model, Offset, &T)) {
        VmViolation(Model, VMD_RULE_CFG_UNROUTED_WRITE,
                    "write %#x to bus %02x dev %02x fn %u reg %#x: %s", Value, T.Bus, T.Device, T.FunctionNumber,
                    T.Register, T.InSpan ? "no bridge routes that bus (or nothing is there)" : "beyond the CFGBAR");
        return;
    }
    if (T.Crs) return;  // not accepted yet
    FunctionWrite32Locked(Model, T.Function, T.Register, Value);
}

static void ApplyPendingLocked(VM_MODEL* Model) {
    if (!Model->Pending) return;
    Model->Pending = FALSE;
    WriteLocked(Model, Model->PendingOffset, Model->PendingValue);
}

void VmCompletePendingLocked(VM_MODEL* Model, LPCSTR What) {
    if (!Model->Pending) return;
    VmViolation(Model, VMD_RULE_CFG_WRITE_NOT_COMPLETED,
                "%s while the write of %#x to CFGBAR+%#llx was still posted (no read-back)", What,
                Model->PendingValue, Model->PendingOffset);
    ApplyPendingLocked(Model);
}

static void Enter(VM_MODEL* Model) {
    if (!Model->Config.ConcurrencyDetector) return;
    I32 Before = __atomic_fetch_add(&Model->InFlight, 1, __ATOMIC_SEQ_CST);
    if (Before > 0) {
        VmViolation(Model, VMD_RULE_CFG_CONCURRENT, "a CFGBAR access began while %d other(s) were in progress",
                    Before);
    }
    sched_yield();  // an unserialised access elsewhere gets its chance to overlap
}

static void Leave(VM_MODEL* Model) {
    if (Model->Config.ConcurrencyDetector) __atomic_fetch_sub(&Model->InFlight, 1, __ATOMIC_SEQ_CST);
}

static BOOL CheckAccessLocked(VM_MODEL* Model, U64 Offset, BOOL Write) {
    if (!VmMemoryEnabled(Model)) {
        VmViolation(Model, VMD_RULE_CFG_DECODE_DISABLED, "CFGBAR %s at +%#llx while the VMD's Memory Space Enable is "
                    "clear", Write ? "write" : "read", Offset);
        return FALSE;
    }
    if (Offset & 3) {
        VmViolation(Model, VMD_RULE_CFG_WIDTH, "CFGBAR %s at +%#llx is not dword aligned", Write ? "write" : "read",
                    Offset);
    }
    return TRUE;
}

U32 VmCfgbarRead(VM_MODEL* Model, U64 Offset) {
    Enter(Model);
    pthread_mutex_lock(&Model->Lock);
    Model->Stats.CfgReads++;
    U32 Value = MAX_U32;
    U64 Dword = Offset & ~3ULL;
    if (CheckAccessLocked(Model, Offset, FALSE)) {
        BOOL ReadBack = Model->Pending && Model->PendingOffset == Dword &&
                        pthread_equal(Model->PendingThread, pthread_self());
        if (Model->Pending && !ReadBack) {
            Value = ReadLocked(Model, Dword);  // answered before the posted write lands
            VmCompletePendingLocked(Model, "a CFGBAR read of another dword (or from another thread)");
        } else {
            if (ReadBack) Model->Stats.PostedCompleted++;
            ApplyPendingLocked(Model);
            Value = ReadLocked(Model, Dword);
        }
    }
    pthread_mutex_unlock(&Model->Lock);
    Leave(Model);
    return Value;
}

void VmCfgbarWrite(VM_MODEL* Model, U64 Offset, U32 Value) {
    Enter(Model);
    pthread_mutex_lock(&Model->Lock);
    Model->Stats.CfgWrites++;
    if (CheckAccessLocked(Model, Offset, TRUE)) {
        VmCompletePendingLocked(Model, "a second CFGBAR write");
        if (Model->Config.PostedWrites) {
            Model->Pending = TRUE;
            Model->PendingOffset = Offset & ~3ULL;
            Model->PendingValue = Value;
            Model->PendingThread = pthread_self();
            Model->Stats.PostedWrites++;
        } else {
            WriteLocked(Model, Offset & ~3ULL, Value);
        }
    }
    pthread_mutex_unlock(&Model->Lock);
    Leave(Model);
}
