/*
 * NVMeModel-PCI.c - the model as a PCI function: its configuration space
 * (served through a PCI_SEGMENT ops table, so the kernel's own
 * PCI-Enumerate.c, PCI-Config.c and PCI-MSI.c run on it), BAR0 decoding
 * for HostPlatform's MMIO windows, and the MSI-X table and PBA.
 *
 * Layout (PCI Local Bus 3.0 chapter 6, PCIe 6.0 7.5): type 0 header,
 * 1b36:0010 class 01/08/02, BAR0 64-bit non-prefetchable memory; the
 * capability list is PM (0x40) -> MSI (0x50, optional, 64-bit, one
 * vector) -> MSI-X (0x70, table in BAR0 at 0x2000, PBA at 0x3000 with the
 * default stride; or, MsixInBar4, in a 16 KiB BAR4 at 0 and 8 KiB, as some
 * real controllers have them) -> PCI Express endpoint (0x80). Writes honour a per-bit
 * writable mask; BAR sizing reads back the size mask; status bit 3 shows
 * the INTx state. MSI-X entries start masked (PCI 3.0 6.8.2.9).
 */

#include <stdlib.h>
#include <string.h>

#include "NVMeModel-Internal.h"

#define CAP_PM 0x40
#define CAP_MSI 0x50
#define CAP_MSIX 0x70
#define BAR4 0x20
#define BAR4_SIZE 0x4000ULL
#define BAR4_PBA 0x2000ULL    // the PBA's offset in BAR4 (the table is at 0)
#define BAR4_ADDRESS 0x80000  // above BAR0 (at most 512 KiB apart from the next model's)
#define CAP_PCIE 0x80

/************************************************************************/
// Raw configuration bytes

static void Put8(NM_MODEL* Model, U16 Offset, U8 Value, U8 Writable) {
    Model->ConfigSpace[Offset] = Value;
    Model->ConfigWritable[Offset] = Writable;
}

static void Put16(NM_MODEL* Model, U16 Offset, U16 Value, U16 Writable) {
    Put8(Model, Offset, (U8)Value, (U8)Writable);
    Put8(Model, Offset + 1, (U8)(Value >> 8), (U8)(Writable >> 8));
}

static void Put32(NM_MODEL* Model, U16 Offset, U32 Value, U32 Writable) {
    Put16(Model, Offset, (U16)Value, (U16)Writable);
    Put16(Model, Offset + 2, (U16)(Value >> 16), (U16)(Writable >> 16));
}

U32 NmConfigRead32Locked(NM_MODEL* Model, U16 Offset) {
    Offset &= 0xFFC;
    return (U32)Model->ConfigSpace[Offset] | ((U32)Model->ConfigSpace[Offset + 1] << 8) |
           ((U32)Model->ConfigSpace[Offset + 2] << 16) | ((U32)Model->ConfigSpace[Offset + 3] << 24);
}

U16 NmConfigRead16Locked(NM_MODEL* Model, U16 Offset) {
    return (U16)(Model->ConfigSpace[Offset] | (Model->ConfigSpace[Offset + 1] << 8));
}

BOOL NmBusMasterEnabled(NM_MODEL* Model) {
    return (NmConfigRead16Locked(Model, PCI_COMMAND) & PCI_COMMAND_BUS_MASTER) != 0;
}
BOOL NmMemoryEnabled(NM_MODEL* Model) { return (NmConfigRead16Locked(Model, PCI_COMMAND) & PCI_COMMAND_MEMORY) != 0; }

BOOL NmMsixEnabled(NM_MODEL* Model) {
    return Model->MsixCap != 0 && (NmConfigRead16Locked(Model, Model->MsixCap + 2) & 0x8000) != 0;
}

BOOL NmMsiEnabled(NM_MODEL* Model) {
    return Model->MsiCap != 0 && (NmConfigRead16Locked(Model, Model->MsiCap + 2) & 0x0001) != 0;
}

PHYSICAL NmBar0Locked(NM_MODEL* Model) {
    return ((U64)NmConfigRead32Locked(Model, PCI_BAR0 + 4) << 32) | (NmConfigRead32Locked(Model, PCI_BAR0) & ~0xFULL);
}

static void ConfigWrite32Locked(NM_MODEL* Model, U16 Offset, U32 Value) {
    Offset &= 0xFFC;
    U16 OldCommand = NmConfigRead16Locked(Model, PCI_COMMAND);
    U16 OldMsix = Model->MsixCap ? NmConfigRead16Locked(Model, Model->MsixCap + 2) : 0;
    U16 OldMsi = Model->MsiCap ? NmConfigRead16Locked(Model, Model->MsiCap + 2) : 0;
    for (U32 I = 0; I < 4; I++) {
        U8 Mask = Model->ConfigWritable[Offset + I];
        U8 Byte = (U8)(Value >> (I * 8));
        Model->ConfigSpace[Offset + I] = (U8)((Model->ConfigSpace[Offset + I] & ~Mask) | (Byte & Mask));
    }
    U16 Command = NmConfigRead16Locked(Model, PCI_COMMAND);
    U16 Msix = Model->MsixCap ? NmConfigRead16Locked(Model, Model->MsixCap + 2) : 0;
    U16 Msi = Model->MsiCap ? NmConfigRead16Locked(Model, Model->MsiCap + 2) : 0;
    if (Command != OldCommand || Msix != OldMsix || Msi != OldMsi) {
        NmEvaluateIntxLocked(Model);
        NmSyncMsixLocked(Model);  // an unmasked function or enabled bus mastering sends what was pending
    }
}

/************************************************************************/
// Segment ops

static BOOL IsModelFunction(NM_MODEL* Model, U8 Bus, U8 Device, U8 Function) {
    return Bus == Model->Config.Bus && Device == Model->Config.Device && Function == Model->Config.Function;
}

static U32 SegmentRead32(LPVOID Context, U8 Bus, U8 Device, U8 Function, U16 Offset) {
    NM_MODEL* Model = (NM_MODEL*)Context;
    if (!IsModelFunction(Model, Bus, Device, Function) || Offset >= 4096) return MAX_U32;
    pthread_mutex_lock(&Model->Lock);
    U32 Value = NmConfigRead32Locked(Model, Offset);
    pthread_mutex_unlock(&Model->Lock);
    return Value;
}

static void SegmentWrite32(LPVOID Context, U8 Bus, U8 Device, U8 Function, U16 Offset, U32 Value) {
    NM_MODEL* Model = (NM_MODEL*)Context;
    if (!IsModelFunction(Model, Bus, Device, Function) || Offset >= 4096) return;
    pthread_mutex_lock(&Model->Lock);
    ConfigWrite32Locked(Model, Offset, Value);
    pthread_mutex_unlock(&Model->Lock);
}

static const PCI_CONFIG_OPS SegmentOps = {SegmentRead32, SegmentWrite32};

/************************************************************************/
// BAR0 for HostPlatform

static PHYSICAL Bar4Locked(NM_MODEL* Model) {
    return ((U64)NmConfigRead32Locked(Model, BAR4 + 4) << 32) | (NmConfigRead32Locked(Model, BAR4) & ~0xFULL);
}

/**
 * BAR0 holds the registers, the doorbells and the MSI-X table and PBA. With MsixInBar4 the capability points at
 * BAR4, whose table and PBA are decoded to the same offsets, so one MSI-X implementation serves both (BAR0 still
 * answers there too: a driver that used BAR0 would not be caught, but it could not have found the table there).
 */
static BOOL MmioDecode(LPVOID Context, PHYSICAL Physical, U64 Size, U64* Offset) {
    NM_MODEL* Model = (NM_MODEL*)Context;
    pthread_mutex_lock(&Model->Lock);
    PHYSICAL Base = NmBar0Locked(Model);
    BOOL Hit = Base != 0 && Physical >= Base && Size <= Model->BarSize && Physical - Base <= Model->BarSize - Size;
    if (Hit) *Offset = Physical - Base;
    PHYSICAL Bar4 = Model->Config.MsixInBar4 ? Bar4Locked(Model) : 0;
    if (!Hit && Bar4 != 0 && Physical >= Bar4 && Size <= BAR4_SIZE && Physical - Bar4 <= BAR4_SIZE - Size) {
        U64 Inside = Physical - Bar4;
        Hit = TRUE;
        *Offset = Inside < BAR4_PBA ? Model->MsixTableOffset + Inside : Model->MsixPbaOffset + (Inside - BAR4_PBA);
    }
    pthread_mutex_unlock(&Model->Lock);
    return Hit;
}

static U64 MmioRead(LPVOID Context, U64 Offset, U32 Size) {
    return NVMeModelRead((NM_MODEL*)Context, (U32)Offset, Size);
}

static void MmioWrite(LPVOID Context, U64 Offset, U32 Size, U64 Value) {
    NVMeModelWrite((NM_MODEL*)Context, (U32)Offset, Size, Value);
}

LPVOID NVMeModelDirect(NVME_MODEL* Model, U64 Offset, U64 Size) {
    if (!Model->Config.Msix) return NULL;
    if (Offset >= Model->MsixTableOffset && Offset + Size <= Model->MsixPbaOffset) {
        return Model->MsixTable + (Offset - Model->MsixTableOffset);
    }
    if (Offset >= Model->MsixPbaOffset && Offset + Size <= Model->MsixPbaOffset + 0x1000) {
        return Model->MsixPba + (Offset - Model->MsixPbaOffset);
    }
    return NULL;
}

static LPVOID MmioDirect(LPVOID Context, U64 Offset, U64 Size) { return NVMeModelDirect((NM_MODEL*)Context, Offset, Size); }

void NVMeModelSyncMessages(NVME_MODEL* Model) {
    pthread_mutex_lock(&Model->Lock);
    NmSyncMsixLocked(Model);
    pthread_mutex_unlock(&Model->Lock);
}

static void MmioSync(LPVOID Context) { NVMeModelSyncMessages((NM_MODEL*)Context); }

static const HOST_MMIO_OPS MmioOps = {MmioDecode, MmioRead, MmioWrite, MmioDirect, MmioSync};

/************************************************************************/
// MSI-X table and PBA through BAR0

U64 NmMsixRead(NM_MODEL* Model, U32 Offset, U32 Size) {
    if ((Size != 4 && Size != 8) || Offset % Size != 0) {
        NmViolation(Model, NVME_RULE_MSIX_ACCESS, "%u-byte MSI-X read at BAR0 %#x: table and PBA take aligned 32- or "
                    "64-bit accesses", Size, Offset);
        return 0;
    }
    const U8* Base;
    if (Offset < Model->MsixPbaOffset) {
        U32 Index = Offset - Model->MsixTableOffset;
        if (Index + Size > Model->Config.MsixVectors * 16U) return 0;
        Base = Model->MsixTable + Index;
    } else {
        Base = Model->MsixPba + (Offset - Model->MsixPbaOffset);
    }
    U64 Value = __atomic_load_n((const U32*)Base, __ATOMIC_SEQ_CST);
    if (Size == 8) Value |= (U64)__atomic_load_n((const U32*)(Base + 4), __ATOMIC_SEQ_CST) << 32;
    return Value;
}

void NmMsixWrite(NM_MODEL* Model, U32 Offset, U32 Size, U64 Value) {
    if ((Size != 4 && Size != 8) || Offset % Size != 0) {
        NmViolation(Model, NVME_RULE_MSIX_ACCESS, "%u-byte MSI-X write at BAR0 %#x: table and PBA take aligned 32- or "
                    "64-bit accesses", Size, Offset);
        return;
    }
    if (Offset >= Model->MsixPbaOffset) {
        NmViolation(Model, NVME_RULE_MSIX_ACCESS, "write %#llx to the MSI-X PBA at BAR0 %#x: the PBA is read-only",
                    Value, Offset);
        return;
    }
    U32 Index = Offset - Model->MsixTableOffset;
    if (Index + Size > Model->Config.MsixVectors * 16U) return;
    U8* Base = Model->MsixTable + Index;
    __atomic_store_n((U32*)Base, (U32)Value, __ATOMIC_SEQ_CST);
    if (Size == 8) __atomic_store_n((U32*)(Base + 4), (U32)(Value >> 32), __ATOMIC_SEQ_CST);
    NmSyncMsixLocked(Model);
}

/************************************************************************/
// Set-up

/** Configuration space at its defaults (at creation, and after a conventional reset). */
void NmPciConfigResetLocked(NM_MODEL* Model, PHYSICAL Bar, U16 Command) {
    const NVME_MODEL_CONFIG* C = &Model->Config;
    memset(Model->MsixTable, 0, ALIGN_UP(16U * C->MsixVectors, 4096U));
    memset(Model->MsixPba, 0, 4096);
    for (U32 V = 0; V < C->MsixVectors; V++) Model->MsixTable[V * 16 + 12] = 1;  // masked at reset

    memset(Model->ConfigSpace, 0, sizeof(Model->ConfigSpace));
    memset(Model->ConfigWritable, 0, sizeof(Model->ConfigWritable));
    Put16(Model, PCI_VENDOR_ID, C->VendorId, 0);
    Put16(Model, PCI_DEVICE_ID, C->DeviceId, 0);
    // Bus mastering is the driver's to enable.
    Put16(Model, PCI_COMMAND, Command, 0x0546);
    Put16(Model, PCI_STATUS, PCI_STATUS_CAPABILITIES, 0);
    Put32(Model, PCI_REVISION, ((U32)NM_PCI_CLASS_CODE << 8) | C->Revision, 0);
    Put8(Model, 0x0C, 0, 0xFF);  // cache line size
    Put8(Model, PCI_HEADER_TYPE, PCI_HEADER_NORMAL, 0);
    Bar &= ~(Model->BarSize - 1);
    Put32(Model, PCI_BAR0, (U32)Bar | 0x4, (U32)~(Model->BarSize - 1) & 0xFFFFFFF0U);
    Put32(Model, PCI_BAR0 + 4, (U32)(Bar >> 32), 0xFFFFFFFF);
    if (C->MsixInBar4) {
        PHYSICAL Bar4 = Bar + BAR4_ADDRESS;
        Put32(Model, BAR4, (U32)Bar4 | 0x4, (U32)~(BAR4_SIZE - 1) & 0xFFFFFFF0U);
        Put32(Model, BAR4 + 4, (U32)(Bar4 >> 32), 0xFFFFFFFF);
    }
    Put16(Model, PCI_SUBSYSTEM_VENDOR_ID, C->SubsystemVendorId, 0);
    Put16(Model, PCI_SUBSYSTEM_ID, C->SubsystemId, 0);
    Put8(Model, PCI_CAPABILITIES, CAP_PM, 0);
    Put8(Model, PCI_INTERRUPT_LINE, C->InterruptLine, 0xFF);
    Put8(Model, PCI_INTERRUPT_PIN, C->InterruptPin, 0);

    // Capability chain, built back to front so each knows its successor.
    U8 Next = 0;
    Model->PcieCap = CAP_PCIE;
    Put8(Model, CAP_PCIE, PCI_CAP_ID_PCIE, 0);
    Put8(Model, CAP_PCIE + 1, Next, 0);
    Put16(Model, CAP_PCIE + 2, 0x0002, 0);         // version 2, endpoint
    Put16(Model, CAP_PCIE + 8, 0x2810, 0xFFFF);     // device control (writable)
    Next = CAP_PCIE;
    if (C->Msix) {
        Model->MsixCap = CAP_MSIX;
        Put8(Model, CAP_MSIX, PCI_CAP_ID_MSIX, 0);
        Put8(Model, CAP_MSIX + 1, Next, 0);
        Put16(Model, CAP_MSIX + 2, (U16)(C->MsixVectors - 1), 0xC000);
        if (C->MsixInBar4) {
            Put32(Model, CAP_MSIX + 4, 0 | 4, 0);                  // table at BAR4 + 0 (BIR 4)
            Put32(Model, CAP_MSIX + 8, (U32)BAR4_PBA | 4, 0);      // PBA at BAR4 + 8 KiB
        } else {
            Put32(Model, CAP_MSIX + 4, Model->MsixTableOffset | 0, 0);
            Put32(Model, CAP_MSIX + 8, Model->MsixPbaOffset | 0, 0);
        }
        Next = CAP_MSIX;
    }
    if (C->Msi) {
        Model->MsiCap = CAP_MSI;
        Put8(Model, CAP_MSI, PCI_CAP_ID_MSI, 0);
        Put8(Model, CAP_MSI + 1, Next, 0);
        Put16(Model, CAP_MSI + 2, 0x0080, 0x0071);      // 64-bit, one vector; enable and MME writable
        Put32(Model, CAP_MSI + 4, 0, 0xFFFFFFFC);
        Put32(Model, CAP_MSI + 8, 0, 0xFFFFFFFF);
        Put16(Model, CAP_MSI + 12, 0, 0xFFFF);
        Next = CAP_MSI;
    }
    Model->PmCap = CAP_PM;
    Put8(Model, CAP_PM, PCI_CAP_ID_PM, 0);
    Put8(Model, CAP_PM + 1, Next, 0);
    Put16(Model, CAP_PM + 2, 0x0003, 0);           // PM version 3
    Put16(Model, CAP_PM + 4, 0x0008, 0x0103);      // PMCSR: No_Soft_Reset; state and PME_En writable

}

void NmPciInit(NM_MODEL* Model) {
    const NVME_MODEL_CONFIG* C = &Model->Config;
    U32 Stride = 4U << C->Dstrd;
    U32 DoorbellBytes = 2U * NM_MAX_QUEUES * Stride;
    Model->MsixTableOffset = MAX(0x2000U, (U32)ALIGN_UP(NM_DOORBELL_BASE + DoorbellBytes, 0x1000U));
    Model->MsixPbaOffset = Model->MsixTableOffset + (U32)ALIGN_UP(16U * C->MsixVectors, 0x1000U);
    U64 End = Model->MsixPbaOffset + 0x1000ULL;
    Model->BarSize = 0x4000;
    while (Model->BarSize < End) Model->BarSize <<= 1;
    Model->MsixTable = (U8*)aligned_alloc(4096, ALIGN_UP(16U * C->MsixVectors, 4096U));
    Model->MsixPba = (U8*)aligned_alloc(4096, 4096);
    NmPciConfigResetLocked(Model, C->Bar0, PCI_COMMAND_MEMORY);  // firmware left memory decoding on

    Model->Segment.Segment = C->PciSegment;
    Model->Segment.StartBus = C->Bus;
    Model->Segment.EndBus = C->Bus;
    Model->Segment.ConfigSize = PCI_CONFIG_SIZE_EXTENDED;
    Model->Segment.AccessName = "nvme-model";
    Model->Segment.Ops = &SegmentOps;
    Model->Segment.Context = Model;
    Model->Mmio = HostMmioRegister(&MmioOps, Model);
}

void NmPciRelease(NM_MODEL* Model) {
    HostMmioUnregister(Model->Mmio);
    Model->Mmio = NULL;
    free(Model->MsixTable);
    free(Model->MsixPba);
}

/************************************************************************/
// Public

PCI_SEGMENT* NVMeModelSegment(NVME_MODEL* Model) { return &Model->Segment; }

PCI_DEVICE* NVMeModelAttachPCI(NVME_MODEL* Model) {
    memset(Model->Segment.ScannedBuses, 0, sizeof(Model->Segment.ScannedBuses));
    PCIAddSegment(&Model->Segment);
    return PCIFindDevice(Model->Config.PciSegment, Model->Config.Bus, Model->Config.Device, Model->Config.Function);
}

PHYSICAL NVMeModelBar0(NVME_MODEL* Model) {
    pthread_mutex_lock(&Model->Lock);
    PHYSICAL Base = NmBar0Locked(Model);
    pthread_mutex_unlock(&Model->Lock);
    return Base;
}

U64 NVMeModelBar0Size(const NVME_MODEL* Model) { return Model->BarSize; }

U32 NVMeModelConfigRead32(NVME_MODEL* Model, U16 Offset) {
    pthread_mutex_lock(&Model->Lock);
    U32 Value = NmConfigRead32Locked(Model, Offset);
    pthread_mutex_unlock(&Model->Lock);
    return Value;
}

void NVMeModelConfigWrite32(NVME_MODEL* Model, U16 Offset, U32 Value) {
    pthread_mutex_lock(&Model->Lock);
    ConfigWrite32Locked(Model, Offset, Value);
    pthread_mutex_unlock(&Model->Lock);
}

U8 NVMeModelCapabilityOffset(const NVME_MODEL* Model, U8 CapabilityId) {
    switch (CapabilityId) {
        case PCI_CAP_ID_PM:
            return Model->PmCap;
        case PCI_CAP_ID_MSI:
            return Model->MsiCap;
        case PCI_CAP_ID_MSIX:
            return Model->MsixCap;
        case PCI_CAP_ID_PCIE:
            return Model->PcieCap;
        default:
            return 0;
    }
}

LPVOID NVMeModelMsixTable(NVME_MODEL* Model) { return Model->MsixTable; }
LPVOID NVMeModelMsixPba(NVME_MODEL* Model) { return Model->MsixPba; }

/************************************************************************/
// Behind a bridge

void NmSendMessageLocked(NM_MODEL* Model, U64 Address, U32 Data) {
    if (Model->Upstream) Model->Upstream->Message(Model->UpstreamContext, Address, Data);
    else HostInterruptMessage(Address, Data);
}

void NmSetIntxLocked(NM_MODEL* Model, BOOL Level) {
    if (Model->Upstream) Model->Upstream->Intx(Model->UpstreamContext, Level);
    else HostInterruptSetLine(Model->Config.InterruptLine, Level);
}

void NVMeModelSetUpstream(NVME_MODEL* Model, const NVME_MODEL_UPSTREAM* Upstream, LPVOID Context) {
    HostMmioUnregister(Model->Mmio);  // the upstream port decodes BAR0 now
    pthread_mutex_lock(&Model->Lock);
    Model->Mmio = NULL;
    Model->Upstream = Upstream;
    Model->UpstreamContext = Context;
    pthread_mutex_unlock(&Model->Lock);
}

void NVMeModelPciReset(NVME_MODEL* Model) {
    pthread_mutex_lock(&Model->Lock);
    NmPowerOnResetLocked(Model);
    NmPciConfigResetLocked(Model, 0, 0);
    NmEvaluateIntxLocked(Model);
    Model->Stats.PciResets++;
    pthread_mutex_unlock(&Model->Lock);
}
