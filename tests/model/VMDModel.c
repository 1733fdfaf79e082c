/*
 * VMDModel.c - the VMD model's profiles, the domain it builds behind the
 * endpoint, its life cycle, hot-plug and error events, inspection and the
 * record of rule violations (see VMDModel.h).
 *
 * Profiles carry what the fact sheet's sources observed (S11 boot logs: BAR
 * sizes and addresses, root port IDs and locations; S7 client firmware:
 * CFGBARSZ 25, restriction 2, lock set; S1/S3: server IDs, root ports at
 * 00.0-03.0, native shadow on 28C0, 64 vectors "for gen4"). Where no source
 * gives a value the choice is marked MODEL CHOICE: the VMD's MSI-X table size
 * on client parts (32), the location of the 28C0 and 201D endpoints, and the
 * Arrow Lake device and port IDs.
 */

#define _GNU_SOURCE
#include "VMDModel-Internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/************************************************************************/
// Configuration bytes

U32 VmGet32(const U8* Space, U16 Offset) {
    U32 Value = 0;
    for (U32 I = 0; I < 4; I++) Value |= (U32)__atomic_load_n(&Space[Offset + I], __ATOMIC_RELAXED) << (I * 8);
    return Value;
}

U16 VmGet16(const U8* Space, U16 Offset) {
    return (U16)(__atomic_load_n(&Space[Offset], __ATOMIC_RELAXED) |
                 (__atomic_load_n(&Space[Offset + 1], __ATOMIC_RELAXED) << 8));
}

void VmPut8(U8* Space, U8* Writable, U8* Clear, U16 Offset, U8 Value, U8 WritableMask, U8 ClearMask) {
    __atomic_store_n(&Space[Offset], Value, __ATOMIC_RELAXED);
    if (Writable) Writable[Offset] = WritableMask;
    if (Clear) Clear[Offset] = ClearMask;
}

void VmPut16(U8* Space, U8* Writable, U8* Clear, U16 Offset, U16 Value, U16 WritableMask, U16 ClearMask) {
    VmPut8(Space, Writable, Clear, Offset, (U8)Value, (U8)WritableMask, (U8)ClearMask);
    VmPut8(Space, Writable, Clear, Offset + 1, (U8)(Value >> 8), (U8)(WritableMask >> 8), (U8)(ClearMask >> 8));
}

void VmPut32(U8* Space, U8* Writable, U8* Clear, U16 Offset, U32 Value, U32 WritableMask, U32 ClearMask) {
    VmPut16(Space, Writable, Clear, Offset, (U16)Value, (U16)WritableMask, (U16)ClearMask);
    VmPut16(Space, Writable, Clear, Offset + 2, (U16)(Value >> 16), (U16)(WritableMask >> 16),
            (U16)(ClearMask >> 16));
}

void VmWrite32(U8* Space, const U8* Writable, const U8* Clear, U16 Offset, U32 Value) {
    for (U32 I = 0; I < 4; I++) {
        U8 Byte = (U8)(Value >> (I * 8));
        U8 Old = Space[Offset + I];
        U8 New = (U8)((Old & ~Writable[Offset + I]) | (Byte & Writable[Offset + I]));
        if (Clear) New &= (U8)~(Byte & Clear[Offset + I]);
        __atomic_store_n(&Space[Offset + I], New, __ATOMIC_RELAXED);
    }
}

/************************************************************************/
// Rules

static const struct {
    LPCSTR Name;
    LPCSTR Description;
} Rules[VMD_RULE_COUNT] = {
    [VMD_RULE_NONE] = {"VMD_NONE", ""},
    [VMD_RULE_CFG_DECODE_DISABLED] = {"VMD_CFG_DECODE_DISABLED",
                                      "CFGBAR is decoded only while the VMD's Memory Space Enable is set"},
    [VMD_RULE_CFG_UNROUTED_WRITE] = {"VMD_CFG_UNROUTED_WRITE",
                                     "a configuration write to a bus no bridge routes is lost"},
    [VMD_RULE_CFG_WRITE_NOT_COMPLETED] = {"VMD_CFG_WRITE_NOT_COMPLETED",
                                          "every CFGBAR write is followed by a read of the same dword, under the "
                                          "same lock: the VMD posts configuration writes (S1)"},
    [VMD_RULE_CFG_CONCURRENT] = {"VMD_CFG_CONCURRENT",
                                 "CFGBAR accesses are serialised: some VMDs deadlock the CPU otherwise (S1)"},
    [VMD_RULE_CFG_WIDTH] = {"VMD_CFG_WIDTH", "CFGBAR is accessed with aligned dwords"},
    [VMD_RULE_LOCKED_REGISTER] = {"VMD_LOCKED_REGISTER",
                                  "registers VMCONFIG.VMDLOCK locked are not changed (only BIOS may, S6)"},
    [VMD_RULE_MEM_DECODE_DISABLED] = {"VMD_MEM_DECODE_DISABLED",
                                      "MEMBARs are decoded only while the VMD's Memory Space Enable is set"},
    [VMD_RULE_MEM_UNCLAIMED] = {"VMD_MEM_UNCLAIMED",
                                "a MEMBAR access reaches a child BAR through enabled bridge windows"},
    [VMD_RULE_MEM_CLAIMED_TWICE] = {"VMD_MEM_CLAIMED_TWICE", "no two children decode one address"},
    [VMD_RULE_MSIX_REGION] = {"VMD_MSIX_REGION",
                              "the VMD's MSI-X table takes aligned dwords and its PBA is read-only"},
    [VMD_RULE_DMA_BLOCKED] = {"VMD_DMA_BLOCKED",
                              "a child's DMA goes upstream only if every bridge above and the VMD are bus masters"},
    [VMD_RULE_MSG_BLOCKED] = {"VMD_MSG_BLOCKED",
                              "a child's message goes upstream only if every bridge above and the VMD are bus "
                              "masters"},
    [VMD_RULE_REMAP_ADDRESS] = {"VMD_REMAP_ADDRESS", "a remapped child message is addressed 0xFEE00000 | index << 12"},
    [VMD_RULE_REMAP_DATA] = {"VMD_REMAP_DATA", "a remapped child message carries data 0 (S1, S2, S4)"},
    [VMD_RULE_REMAP_INDEX] = {"VMD_REMAP_INDEX", "a child message's index lies inside the VMD's MSI-X table"},
    [VMD_RULE_REMAP_VECTOR_ZERO] = {"VMD_REMAP_VECTOR_ZERO",
                                    "client VMDs do not forward remapped messages through vector 0 (S9)"},
    [VMD_RULE_REMAP_DISABLED] = {"VMD_REMAP_DISABLED",
                                 "children send messages only while the VMD's MSI-X is enabled (else they are lost)"},
    [VMD_RULE_INTX] = {"VMD_INTX", "the VMD forwards no INTx: children's INTx Disable is set (S2, S4)"},
};

LPCSTR VMDModelRuleName(VMD_RULE Rule) { return Rule < VMD_RULE_COUNT ? Rules[Rule].Name : "VMD_?"; }
LPCSTR VMDModelRuleDescription(VMD_RULE Rule) { return Rule < VMD_RULE_COUNT ? Rules[Rule].Description : ""; }

void VmViolation(VM_MODEL* Model, VMD_RULE Rule, LPCSTR Format, ...) {
    char Message[200];
    va_list Arguments;
    va_start(Arguments, Format);
    vsnprintf(Message, sizeof(Message), Format, Arguments);
    va_end(Arguments);
    __atomic_add_fetch(&Model->RuleCounts[Rule], 1, __ATOMIC_RELAXED);
    HostPlatformReportViolation(VMDModelRuleName(Rule), "%s", Message);
}

U32 VMDModelCountViolations(VMD_MODEL* Model, VMD_RULE Rule) {
    return Rule < VMD_RULE_COUNT ? __atomic_load_n(&Model->RuleCounts[Rule], __ATOMIC_RELAXED) : 0;
}

/************************************************************************/
// Profiles

static const char* const ProfileNames[VMD_MODEL_PROFILE_COUNT] = {
    "Tiger Lake 9A0B", "Meteor Lake 7D0B", "Alder Lake 467F (restriction 1)", "server 28C0", "server 201D",
    "Arrow Lake AD0B (two root buses)",
};

LPCSTR VMDModelProfileName(VMD_MODEL_PROFILE Profile) {
    return Profile < VMD_MODEL_PROFILE_COUNT ? ProfileNames[Profile] : "?";
}

static void AddPort(VMD_MODEL_CONFIG* C, U8 Root, U8 Device, U16 DeviceId, BOOL Hotplug) {
    VMD_MODEL_PORT* P = &C->Ports[C->PortCount++];
    P->Root = Root;
    P->Device = Device;
    P->Function = 0;
    P->DeviceId = DeviceId;
    P->Hotplug = Hotplug;
}

static void Client(VMD_MODEL_CONFIG* C, U16 DeviceId, U32 Restriction) {
    C->DeviceId = DeviceId;
    C->Client = TRUE;
    C->Device = 0x0E;  // 00:0e.0 (S7, S11)
    C->CfgbarSz = 25;  // 32 MiB = 32 buses (S7, S11)
    C->Vmcap = 1;      // BUS_RESTRICT_CAP
    C->Vmconfig = VM_VMCONFIG_LOCK | (Restriction << 8) | ((U32)DeviceId << 10);  // DID_ASSIGN, locked (S7)
    C->MsixVectors = 32;  // MODEL CHOICE: client table size is not stated by the sources
}

void VMDModelProfileConfig(VMD_MODEL_CONFIG* C, VMD_MODEL_PROFILE Profile) {
    memset(C, 0, sizeof(*C));
    C->Profile = Profile;
    C->PostedWrites = TRUE;
    C->ConcurrencyDetector = TRUE;
    C->CrsMs = 150;  // MODEL CHOICE: a device still initialising after the reset, inside the driver's 1 s
    switch (Profile) {
        case VMD_MODEL_TIGER_LAKE:
            // S11: BAR0 32 MiB, BAR2 32 MiB at 0x52000000, BAR4 1 MiB; e0:06.0 [9a09], e0:17.0 AHCI, e0:1d.0 [a0b0].
            Client(C, 0x9A0B, 2);
            C->Cfgbar = 0x603C000000ULL;
            C->Membar1 = 0x52000000;
            C->Membar1Sz = 25;
            C->Membar2 = 0x6015100000ULL;
            C->Membar2Sz = 20;
            AddPort(C, 0, 0x06, 0x9A09, FALSE);
            AddPort(C, 0, 0x1D, 0xA0B0, TRUE);
            C->Ahci = TRUE;
            C->FnAssign[0] = (1U << 0x06) | (1U << 0x17) | (1U << 0x1D);
            break;
        case VMD_MODEL_METEOR_LAKE:
            // S11: BAR2 16 MiB 32-bit at 0x7c000000, BAR4 16 MiB 64-bit; e0:06.0 [774d].
            Client(C, 0x7D0B, 2);
            C->Cfgbar = 0x4000000000ULL;
            C->Membar1 = 0x7C000000;
            C->Membar1Sz = 24;
            C->Membar2 = 0x4010000000ULL;
            C->Membar2Sz = 24;
            AddPort(C, 0, 0x06, 0x774D, TRUE);
            C->FnAssign[0] = 1U << 0x06;
            break;
        case VMD_MODEL_ALDER_LAKE:
            Client(C, 0x467F, 1);  // buses 80-9f (the QEMU tests run 467F with restriction 1 too)
            C->Cfgbar = 0x6000000000ULL;
            C->Membar1 = 0x60000000;
            C->Membar1Sz = 25;
            C->Membar2 = 0x6020000000ULL;
            C->Membar2Sz = 20;
            AddPort(C, 0, 0x06, 0x464D, TRUE);
            C->FnAssign[0] = 1U << 0x06;
            break;
        case VMD_MODEL_SERVER_28C0:
            // S1: HAS_MEMBAR_SHADOW | HAS_BUS_RESTRICTIONS | CAN_BYPASS_MSI_REMAP; 64 vectors (S9 Patel 2024);
            // root ports 347a-347d (S3 pci_ids.h). MODEL CHOICE: at 64:05.5 like Skylake-SP's (S3), MEMBARs above
            // 4 GiB.
            C->DeviceId = 0x28C0;
            C->BypassCapable = TRUE;
            C->Bus = 0x64;
            C->Device = 5;
            C->Function = 5;
            C->Vmcap = 1;
            C->Vmconfig = VM_VMCONFIG_LOCK;  // restriction 0: buses from 0
            C->Vmlock = VM_VMLOCK_MB2_SHADOW_EN;
            C->Cfgbar = 0x200000000000ULL;
            C->CfgbarSz = 25;
            C->Membar1 = 0x200004000000ULL;
            C->Membar1Sz = 25;
            C->Membar1Is64 = TRUE;
            C->Membar2 = 0x200008000000ULL;
            C->Membar2Sz = 24;
            C->MsixVectors = 64;
            for (U8 D = 0; D < 4; D++) AddPort(C, 0, D, (U16)(0x347A + D), TRUE);
            break;
        case VMD_MODEL_SKYLAKE_201D:
            // S1: HAS_MEMBAR_SHADOW_VSCAP only (no bus restrictions); device 5 function 5 of an IIO stack (S3);
            // root ports 2030-2033 at 00.0-03.0 (S11).
            C->DeviceId = 0x201D;
            C->Bus = 0x17;
            C->Device = 5;
            C->Function = 5;
            C->Vmconfig = VM_VMCONFIG_LOCK;
            C->Cfgbar = 0x380000000000ULL;
            C->CfgbarSz = 25;
            C->Membar1 = 0xC8000000;
            C->Membar1Sz = 25;
            C->Membar2 = 0x380004000000ULL;
            C->Membar2Sz = 24;
            C->MsixVectors = 32;
            for (U8 D = 0; D < 4; D++) AddPort(C, 0, D, (U16)(0x2030 + D), TRUE);
            break;
        case VMD_MODEL_ARROW_LAKE:
            // S10: restriction 3, BUSRANGE0/1, MEMBAR1/2_OFFSET; PCH ports' primary hard-wired to 0x80.
            // MODEL CHOICE: the ID (AD0B, a client ID of S1) and the port IDs.
            Client(C, 0xAD0B, 3);
            C->BusRange0 = 0xEFE0;
            C->BusRange1 = 0xFFF0;
            C->Cfgbar = 0x5800000000ULL;
            C->Membar1 = 0x50000000;
            C->Membar1Sz = 25;
            C->Membar1Offset = 16 * N_1MB;
            C->Membar2 = 0x5000000000ULL;
            C->Membar2Sz = 24;
            C->Membar2Offset = 8 * N_1MB;
            AddPort(C, 0, 0x06, 0xAE4D, FALSE);
            AddPort(C, 1, 0x1C, 0x7F38, TRUE);
            break;
        default:
            break;
    }
}

/************************************************************************/
// The domain

static VM_FUNCTION* AddFunction(VM_MODEL* Model, VM_KIND Kind, I32 Parent, U8 Root, U8 Device, U8 Function, I32 Port) {
    if (Model->FunctionCount >= VMD_MODEL_MAX_FUNCTIONS) return NULL;
    VM_FUNCTION* F = (VM_FUNCTION*)calloc(1, sizeof(VM_FUNCTION));
    if (F == NULL) return NULL;
    F->Vmd = Model;
    F->Index = Model->FunctionCount;
    F->Kind = Kind;
    F->Parent = Parent;
    F->Root = Root;
    F->Device = Device;
    F->Function = Function;
    F->Port = Port;
    F->Present = TRUE;
    F->SlotPowered = TRUE;  // bridges' links are up; a slot's power controller may turn its own off
    Model->Functions[Model->FunctionCount++] = F;
    return F;
}

static VM_FUNCTION* AddEndpoint(VM_MODEL* Model, I32 Parent, I32 Port, NVME_MODEL* Endpoint) {
    VM_FUNCTION* N = AddFunction(Model, VM_NVME, Parent, 0, 0, 0, Port);
    if (N == NULL) return NULL;
    N->Nvme = Endpoint;
    N->Present = Endpoint != NULL;
    if (Endpoint) NVMeModelSetUpstream(Endpoint, &Model->Upstream, N);
    return N;
}

static void BuildPort(VM_MODEL* Model, U32 Index) {
    const VMD_MODEL_PORT* P = &Model->Config.Ports[Index];
    VM_FUNCTION* F = AddFunction(Model, VM_ROOT_PORT, -1, P->Root, P->Device, P->Function, (I32)Index);
    if (F == NULL) return;
    VmBridgeInit(F, P->DeviceId, P->Hotplug);
    if (Model->Config.Client) {
        // "Primary bus is hard wired to 0" (S11); Arrow Lake's PCH ports read 0x80 (S10).
        F->PrimaryFixed = TRUE;
        F->PrimaryValue = P->Root == 1 ? 0x80 : 0;
        F->Config[PCI_PRIMARY_BUS] = F->PrimaryValue;
    }
    NVME_MODEL* Endpoint = P->Content == VMD_MODEL_EMPTY ? NULL : P->Endpoint;
    if (P->Content == VMD_MODEL_SWITCH_NVME) {
        VM_FUNCTION* Up = AddFunction(Model, VM_SWITCH_UP, (I32)F->Index, 0, 0, 0, (I32)Index);
        VM_FUNCTION* Down = Up ? AddFunction(Model, VM_SWITCH_DOWN, (I32)Up->Index, 0, 0, 0, (I32)Index) : NULL;
        if (Down == NULL) return;
        VmBridgeInit(Up, 0x8232, FALSE);   // MODEL CHOICE: an illustrative switch (IDs 8086:8232/8233)
        VmBridgeInit(Down, 0x8233, FALSE);
        AddEndpoint(Model, (I32)Down->Index, (I32)Index, Endpoint);
    } else {
        AddEndpoint(Model, (I32)F->Index, (I32)Index, Endpoint);
    }
}

/** Firmware-left states (S3 #2413, S11), written straight into the functions as firmware would leave them. */
static void ApplyDirty(VM_MODEL* Model) {
    U32 Dirty = Model->Config.Dirty;
    U8 Start = VmStartBusLocked(Model);
    for (U32 I = 0; I < Model->FunctionCount; I++) {
        VM_FUNCTION* F = Model->Functions[I];
        if (F->Kind == VM_ROOT_PORT) {
            if (Dirty & VMD_DIRTY_OVERLAPPING_WINDOWS) {
                F->Config[PCI_COMMAND] |= PCI_COMMAND_MEMORY;
                VmPut32(F->Config, NULL, NULL, PCI_MEMORY_BASE, 0x00000000, 0, 0);     // 0-1 MiB, open
                VmPut32(F->Config, NULL, NULL, PCI_PREFETCH_BASE, 0x00010001, 0, 0);   // 0-1 MiB, open
            }
            if (Dirty & VMD_DIRTY_IO_ZERO) {
                F->Config[PCI_COMMAND] |= PCI_COMMAND_IO;
                F->Config[PCI_IO_BASE] = 0x01;
                F->Config[PCI_IO_BASE + 1] = 0x01;
            }
            if (Dirty & VMD_DIRTY_DUPLICATE_SECONDARY) {
                F->Config[PCI_SECONDARY_BUS] = (U8)(Start + 1);
                F->Config[PCI_SUBORDINATE_BUS] = (U8)(Start + 1);
            }
        }
        if ((Dirty & VMD_DIRTY_UNASSIGNED_BARS) && F->Kind == VM_NVME && F->Nvme) {
            NVMeModelConfigWrite32(F->Nvme, PCI_BAR0, 0);
            NVMeModelConfigWrite32(F->Nvme, PCI_BAR0 + 4, 0);
            NVMeModelConfigWrite32(F->Nvme, PCI_COMMAND, 0);
        }
    }
}

VMD_MODEL* VMDModelCreate(const VMD_MODEL_CONFIG* Config) {
    HostPlatformInit();
    VM_MODEL* Model = (VM_MODEL*)calloc(1, sizeof(VM_MODEL));
    if (Model == NULL) return NULL;
    Model->Config = *Config;
    if (Model->Config.MsixVectors == 0 || Model->Config.MsixVectors > VMD_MODEL_MAX_VECTORS) {
        Model->Config.MsixVectors = 32;
    }
    pthread_mutex_init(&Model->Lock, NULL);
    pthread_mutex_init(&Model->RemapLock, NULL);
    Model->MsixTable = (U8*)aligned_alloc(4096, 4096);
    Model->MsixPba = (U8*)aligned_alloc(4096, 4096);
    memset(Model->MsixTable, 0, 4096);
    memset(Model->MsixPba, 0, 4096);
    for (U32 V = 0; V < VMD_MODEL_MAX_VECTORS; V++) Model->MsixTable[V * 16 + 12] = 1;  // masked at reset
    VmEndpointInit(Model);
    VmRemapInit(Model);
    for (U32 I = 0; I < Model->Config.PortCount; I++) BuildPort(Model, I);
    if (Model->Config.Ahci) {
        VM_FUNCTION* Ahci = AddFunction(Model, VM_AHCI, -1, 0, 0x17, 0, -1);
        if (Ahci) VmAhciInit(Ahci);
    }
    ApplyDirty(Model);
    VmMemoryInit(Model);
    return Model;
}

void VMDModelDestroy(VMD_MODEL* Model) {
    if (Model == NULL) return;
    VmMemoryRelease(Model);
    for (U32 I = 0; I < Model->FunctionCount; I++) free(Model->Functions[I]);
    free(Model->MsixTable);
    free(Model->MsixPba);
    pthread_mutex_destroy(&Model->Lock);
    pthread_mutex_destroy(&Model->RemapLock);
    free(Model);
}

PCI_SEGMENT* VMDModelSegment(VMD_MODEL* Model) { return &Model->Segment; }

PCI_DEVICE* VMDModelAttachPCI(VMD_MODEL* Model) {
    memset(Model->Segment.ScannedBuses, 0, sizeof(Model->Segment.ScannedBuses));
    PCIAddSegment(&Model->Segment);
    return PCIFindDevice(Model->Config.PciSegment, Model->Config.Bus, Model->Config.Device, Model->Config.Function);
}

/************************************************************************/
// Events

static VM_FUNCTION* PortFunction(VM_MODEL* Model, U32 Port) {
    for (U32 I = 0; I < Model->FunctionCount; I++) {
        VM_FUNCTION* F = Model->Functions[I];
        if (F->Kind == VM_ROOT_PORT && F->Port == (I32)Port) return F;
    }
    return NULL;
}

/** The NVMe function directly below port function Port (hot plug knows no switches). */
static VM_FUNCTION* SlotFunction(VM_MODEL* Model, const VM_FUNCTION* Port) {
    for (U32 I = 0; Port && I < Model->FunctionCount; I++) {
        VM_FUNCTION* F = Model->Functions[I];
        if (F->Kind == VM_NVME && F->Parent == (I32)Port->Index) return F;
    }
    return NULL;
}

void VMDModelUnplug(VMD_MODEL* Model, U32 Port) {
    pthread_mutex_lock(&Model->Lock);
    VM_FUNCTION* P = PortFunction(Model, Port);
    VM_FUNCTION* N = SlotFunction(Model, P);
    if (N && N->Present) {
        N->Present = FALSE;
        N->Nvme = NULL;
        VmSlotEventLocked(Model, P, PCI_EXP_SLOT_STATUS_PRESENCE_CHANGED | PCI_EXP_SLOT_STATUS_LINK_CHANGED);
    }
    pthread_mutex_unlock(&Model->Lock);
}

void VMDModelPlug(VMD_MODEL* Model, U32 Port, NVME_MODEL* Endpoint) {
    pthread_mutex_lock(&Model->Lock);
    VM_FUNCTION* P = PortFunction(Model, Port);
    VM_FUNCTION* N = SlotFunction(Model, P);
    if (N && !N->Present && Endpoint) {
        NVMeModelSetUpstream(Endpoint, &Model->Upstream, N);
        NVMeModelPciReset(Endpoint);  // a device just inserted: power-on state, nothing assigned
        N->Nvme = Endpoint;
        N->Present = TRUE;
        VmSlotEventLocked(Model, P, PCI_EXP_SLOT_STATUS_PRESENCE_CHANGED | PCI_EXP_SLOT_STATUS_LINK_CHANGED);
    }
    pthread_mutex_unlock(&Model->Lock);
}

void VMDModelPressAttention(VMD_MODEL* Model, U32 Port) {
    pthread_mutex_lock(&Model->Lock);
    VM_FUNCTION* P = PortFunction(Model, Port);
    if (P) {
        P->EjectRequested = TRUE;
        VmSlotEventLocked(Model, P, PCI_EXP_SLOT_STATUS_ATTENTION);
    }
    pthread_mutex_unlock(&Model->Lock);
}

void VMDModelInjectError(VMD_MODEL* Model, U32 Port, BOOL Correctable, U32 Bits) {
    pthread_mutex_lock(&Model->Lock);
    VM_FUNCTION* P = PortFunction(Model, Port);
    if (P) {
        U16 Status = Correctable ? VM_FN_AER + PCI_AER_CORRECTABLE_STATUS : VM_FN_AER + PCI_AER_UNCORRECTABLE_STATUS;
        VmPut32(P->Config, NULL, NULL, Status, VmGet32(P->Config, Status) | Bits, 0, 0);
        // Root Error Status: ERR_COR received (bit 0) or ERR_FATAL/NONFATAL received (bit 2).
        U16 Root = VM_FN_AER + PCI_AER_ROOT_STATUS;
        VmPut32(P->Config, NULL, NULL, Root, VmGet32(P->Config, Root) | (Correctable ? 0x1U : 0x4U), 0, 0);
    }
    pthread_mutex_unlock(&Model->Lock);
}

void VMDModelFirmwareReset(VMD_MODEL* Model) {
    pthread_mutex_lock(&Model->Lock);
    Model->Space[VM_VMCONFIG] &= (U8)~VM_VMCONFIG_MSI_RMP_DIS;  // firmware clears it at boot and S3 (S9)
    pthread_mutex_unlock(&Model->Lock);
}

/************************************************************************/
// Inspection

void VMDModelGetStats(VMD_MODEL* Model, VMD_MODEL_STATS* Stats) {
    pthread_mutex_lock(&Model->Lock);
    pthread_mutex_lock(&Model->RemapLock);
    *Stats = Model->Stats;
    pthread_mutex_unlock(&Model->RemapLock);
    pthread_mutex_unlock(&Model->Lock);
}

U32 VMDModelReadConfig(VMD_MODEL* Model, U16 Offset) {
    pthread_mutex_lock(&Model->Lock);
    U32 Value = VmGet32(Model->Space, Offset & 0xFFC);
    pthread_mutex_unlock(&Model->Lock);
    return Value;
}

U32 VMDModelFunctionCount(VMD_MODEL* Model) { return Model->FunctionCount; }

U32 VMDModelPeekFunction(VMD_MODEL* Model, U32 Function, U16 Offset) {
    if (Function >= Model->FunctionCount) return MAX_U32;
    pthread_mutex_lock(&Model->Lock);
    U32 Value = VmFunctionRead32Locked(Model, Model->Functions[Function], Offset & 0xFFC);
    pthread_mutex_unlock(&Model->Lock);
    return Value;
}

U32 VMDModelPortFunction(VMD_MODEL* Model, U32 Port) {
    VM_FUNCTION* F = PortFunction(Model, Port);
    return F ? F->Index : MAX_U32;
}

U32 VMDModelEndpointFunction(VMD_MODEL* Model, U32 Port) {
    for (U32 I = 0; I < Model->FunctionCount; I++) {
        VM_FUNCTION* F = Model->Functions[I];
        if (F->Kind == VM_NVME && F->Port == (I32)Port) return F->Index;
    }
    return MAX_U32;
}

I32 VMDModelFunctionBus(VMD_MODEL* Model, U32 Function) {
    if (Function >= Model->FunctionCount) return -1;
    pthread_mutex_lock(&Model->Lock);
    I32 Bus = VmFunctionBusLocked(Model, Model->Functions[Function]);
    pthread_mutex_unlock(&Model->Lock);
    return Bus;
}

U8 VMDModelStartBus(VMD_MODEL* Model) {
    pthread_mutex_lock(&Model->Lock);
    U8 Start = VmStartBusLocked(Model);
    pthread_mutex_unlock(&Model->Lock);
    return Start;
}
