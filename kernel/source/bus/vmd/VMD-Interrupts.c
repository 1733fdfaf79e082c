/*
 * VMD-Interrupts.c - the VMD's own MSI-X vectors and the remapping of its
 * children's messages onto them (the segment's PCI_MESSAGE_ROUTING).
 *
 * Three modes, chosen once at attach:
 *  - remapped (default): MSI_RMP_DIS cleared, the VMD's MSI-X set up through
 *    the platform layer (one CPU vector per VMD vector, at most
 *    VMD_MAX_VECTORS); each child vector is programmed by the platform with
 *    the message VMDRemapMessage gives for the VMD vector chosen here (never
 *    vector 0 on client parts), and the VMD vector's handler calls every
 *    child handler connected to it (there is no per-child status, S1/S2).
 *  - bypass: only on IDs that allow it (28C0) and not with vmd.bypass=0;
 *    MSI_RMP_DIS set, child messages go to the CPU unchanged (S9 ee81ee84).
 *  - polling: no VMD vector could be set up (or vmd.poll=1); children's
 *    drivers are told no interrupt mode exists and poll (the SPDK model, S3).
 * INTx from the domain is never forwarded (S2, S4); the segment says so.
 *
 * At shutdown VMCONFIG goes back to what firmware left, with remapping on:
 * Linux does so because "Windows doesn't support MSI remapping disable
 * feature and stale register value hinders Windows VMD driver" (b61cf04c49c3).
 *
 * The handler lists are changed under VectorLock and walked under it in the
 * vector handler (interrupts are off there, and the lock keeps a handler
 * from being called after Disconnect returned).
 */

#include "bus/vmd/VMD-Internal.h"

#include "core/Log.h"
#include "utils/String.h"

#define NVME_CLASS 0x01
#define NVME_SUBCLASS 0x08

void VMDWriteVmconfig(VMD_CONTROLLER* Vmd, U32 Value) {
    PCIDeviceWrite32(Vmd->Device, VMD_REG_VMCONFIG, Value);
    (void)PCIDeviceRead32(Vmd->Device, VMD_REG_VMCONFIG);
}

static BOOL VMDVectorHandler(LPVOID Context) {
    VMD_VECTOR* Vector = (VMD_VECTOR*)Context;
    VMD_CONTROLLER* Vmd = Vector->Vmd;
    U64 State = PlatformLockAcquire(Vmd->VectorLock);
    Vector->Fired++;
    for (U32 I = 0; I < Vector->HandlerCount; I++) Vector->Handlers[I].Handler(Vector->Handlers[I].Context);
    PlatformLockRelease(Vmd->VectorLock, State);
    return TRUE;  // the vector is the VMD's alone, whatever its children said
}

/************************************************************************/
// The segment's message routing

static PCI_MESSAGE_ROUTE Route(LPVOID Context, const PCI_DEVICE* Device, U32* Limit) {
    VMD_CONTROLLER* Vmd = (VMD_CONTROLLER*)Context;
    UNUSED(Device);
    switch (Vmd->InterruptMode) {
        case VMD_INTERRUPTS_BYPASS:
            return PCI_MESSAGES_DIRECT;
        case VMD_INTERRUPTS_REMAPPED:
            // A child gets at most one message per usable VMD vector (Linux caps nvec at the VMD's count).
            *Limit = Vmd->VectorCount - Vmd->FirstVector;
            return PCI_MESSAGES_REMAPPED;
        default:
            return PCI_MESSAGES_NONE;
    }
}

static BOOL Compose(LPVOID Context, const PCI_DEVICE* Device, U32 Index, PCI_MESSAGE* Message) {
    VMD_CONTROLLER* Vmd = (VMD_CONTROLLER*)Context;
    U32 Users[VMD_MAX_VECTORS];
    UNUSED(Index);
    if (Vmd->InterruptMode != VMD_INTERRUPTS_REMAPPED || Vmd->VectorCount <= Vmd->FirstVector) return FALSE;
    BOOL Nvme = Device->Class == NVME_CLASS && Device->SubClass == NVME_SUBCLASS;
    U64 State = PlatformLockAcquire(Vmd->VectorLock);
    for (U32 I = 0; I < Vmd->VectorCount; I++) Users[I] = Vmd->Vectors[I].Messages;
    U32 Chosen = VMDChooseVector(Users, Vmd->VectorCount, Vmd->FirstVector, Nvme);
    Vmd->Vectors[Chosen].Messages++;
    PlatformLockRelease(Vmd->VectorLock, State);

    VMDRemapMessage(Chosen, &Message->Address, &Message->Data);
    Message->OwnerVector = Chosen;
    Message->CpuVector = Vmd->Interrupts.Vectors[Chosen];
    return TRUE;
}

static void Release(LPVOID Context, U32 OwnerVector) {
    VMD_CONTROLLER* Vmd = (VMD_CONTROLLER*)Context;
    if (OwnerVector >= Vmd->VectorCount) return;
    U64 State = PlatformLockAcquire(Vmd->VectorLock);
    if (Vmd->Vectors[OwnerVector].Messages) Vmd->Vectors[OwnerVector].Messages--;
    PlatformLockRelease(Vmd->VectorLock, State);
}

static BOOL Connect(LPVOID Context, U32 OwnerVector, PCI_MESSAGE_HANDLER Handler, LPVOID HandlerContext) {
    VMD_CONTROLLER* Vmd = (VMD_CONTROLLER*)Context;
    BOOL Done = FALSE;
    if (OwnerVector >= Vmd->VectorCount) return FALSE;
    U64 State = PlatformLockAcquire(Vmd->VectorLock);
    VMD_VECTOR* Vector = &Vmd->Vectors[OwnerVector];
    if (Vector->HandlerCount < VMD_MAX_HANDLERS) {
        Vector->Handlers[Vector->HandlerCount++] = (VMD_HANDLER){Handler, HandlerContext};
        Done = TRUE;
    }
    PlatformLockRelease(Vmd->VectorLock, State);
    if (!Done) WARNING("[VMDConnect] %s: vector %u already calls %u handlers", Vmd->Name, OwnerVector, VMD_MAX_HANDLERS);
    return Done;
}

static void Disconnect(LPVOID Context, U32 OwnerVector, PCI_MESSAGE_HANDLER Handler, LPVOID HandlerContext) {
    VMD_CONTROLLER* Vmd = (VMD_CONTROLLER*)Context;
    if (OwnerVector >= Vmd->VectorCount) return;
    U64 State = PlatformLockAcquire(Vmd->VectorLock);
    VMD_VECTOR* Vector = &Vmd->Vectors[OwnerVector];
    for (U32 I = 0; I < Vector->HandlerCount; I++) {
        if (Vector->Handlers[I].Handler != Handler || Vector->Handlers[I].Context != HandlerContext) continue;
        Vector->Handlers[I] = Vector->Handlers[--Vector->HandlerCount];
        break;
    }
    PlatformLockRelease(Vmd->VectorLock, State);
}

const PCI_MESSAGE_ROUTING VMDMessageRouting = {"vmd", Route, Compose, Release, Connect, Disconnect};

/************************************************************************/
// Set-up and shutdown

static BOOL SetupVectors(VMD_CONTROLLER* Vmd) {
    PCI_MSIX_INFO Msix;
    if (!PCIMSIXRead(Vmd->Device, &Msix)) return FALSE;
    U32 Count = MIN(Msix.TableSize, (U32)VMD_MAX_VECTORS);
    if (Count < Vmd->FirstVector + 1) return FALSE;
    LPVOID Contexts[VMD_MAX_VECTORS];
    for (U32 I = 0; I < Count; I++) {
        Vmd->Vectors[I].Vmd = Vmd;
        Vmd->Vectors[I].Index = I;
        Contexts[I] = &Vmd->Vectors[I];
    }
    // Bus mastering on the VMD (the platform sets it): without it nothing from the domain goes upstream.
    if (PlatformInterruptSetup(Vmd->Device, Count, PLATFORM_ALLOW_MSIX, VMDVectorHandler, Contexts, Count,
                               &Vmd->Interrupts) != KSTATUS_SUCCESS) {
        return FALSE;
    }
    if (Vmd->Interrupts.Count < Vmd->FirstVector + 1) {
        PlatformInterruptRelease(Vmd->Device, &Vmd->Interrupts);
        return FALSE;
    }
    Vmd->VectorCount = Vmd->Interrupts.Count;
    return TRUE;
}

void VMDInterruptsInit(VMD_CONTROLLER* Vmd) {
    U32 Features = Vmd->Profile->Features;
    U32 Vmconfig = PCIDeviceRead32(Vmd->Device, VMD_REG_VMCONFIG);
    Vmd->FirstVector = VMDFirstChildVector(Features);
    Vmd->Segment.Messages = &VMDMessageRouting;
    Vmd->Segment.MessagesContext = Vmd;

    if (VMDShouldBypass(Features, FALSE, PlatformGetOption("vmd.bypass"))) {
        VMDWriteVmconfig(Vmd, Vmconfig | VMD_VMCONFIG_MSI_REMAP_DISABLE);
        PCIEnableBusMaster(Vmd->Device);
        Vmd->InterruptMode = VMD_INTERRUPTS_BYPASS;
        return;
    }
    if (Vmconfig & VMD_VMCONFIG_MSI_REMAP_DISABLE) VMDWriteVmconfig(Vmd, Vmconfig & ~VMD_VMCONFIG_MSI_REMAP_DISABLE);
    LPCSTR Poll = PlatformGetOption("vmd.poll");
    if ((Poll == NULL || StringCompare(Poll, "0") == 0) && SetupVectors(Vmd)) {
        Vmd->InterruptMode = VMD_INTERRUPTS_REMAPPED;
        return;
    }
    PCIEnableBusMaster(Vmd->Device);  // DMA from the domain still needs it
    Vmd->InterruptMode = VMD_INTERRUPTS_POLLING;
    INFO("[VMDInterruptsInit] %s: no VMD vector (%s): devices behind it poll", Vmd->Name,
         Poll && StringCompare(Poll, "0") != 0 ? "vmd.poll=1" : "MSI-X could not be set up");
}

void VMDInterruptsShutdown(VMD_CONTROLLER* Vmd) {
    U32 Vmconfig = PCIDeviceRead32(Vmd->Device, VMD_REG_VMCONFIG);
    U32 Wanted = Vmd->VmconfigAtAttach & ~VMD_VMCONFIG_MSI_REMAP_DISABLE;
    if (Vmconfig != MAX_U32 && Vmconfig != Wanted) VMDWriteVmconfig(Vmd, Wanted);
}
