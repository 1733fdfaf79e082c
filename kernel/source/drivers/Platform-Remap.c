/*
 * Platform-Remap.c - message interrupts of a function whose segment's owner
 * remaps them (see drivers/Platform-Remap.h). Shared by the kernel's
 * platform (drivers/Platform.c) and the host tests' platform.
 *
 * Order (as for ordinary MSI-X in Platform.c): messages composed and handlers
 * connected before the function can send anything; the MSI-X table written
 * function-masked, every entry masked but those programmed, then the mask
 * lifted. A failure half-way gives back what it took.
 *
 * CPUs: PlatformRemapAimMsix aims an ordinary MSI-X entry for both
 * platforms. A remapped vector reaches the CPU its owner's own vector is aimed
 * at (the owner composes the message), so PlatformInterruptSetAffinity
 * refuses it (KSTATUS_NOT_SUPPORTED) and TargetCpus stays 0. A driver with a
 * queue per CPU then takes every completion on that CPU: correct, only
 * without the locality.
 */

#include "drivers/Platform-Remap.h"

#include "utils/String.h"

PCI_MESSAGE_ROUTE PlatformRemapRoute(const PCI_DEVICE* Device, U32* Limit) {
    const PCI_SEGMENT* Segment = Device->SegmentInfo;
    *Limit = PLATFORM_MAX_VECTORS;
    if (Segment == NULL || Segment->Messages == NULL) return PCI_MESSAGES_DIRECT;
    return Segment->Messages->Route(Segment->MessagesContext, Device, Limit);
}

BOOL PlatformRemapNoIntx(const PCI_DEVICE* Device) {
    return Device->SegmentInfo != NULL && (Device->SegmentInfo->Flags & PCI_SEGMENT_NO_INTX) != 0;
}

void PlatformRemapRelease(PLATFORM_INTERRUPTS* Interrupts, PLATFORM_REMAP* Remap) {
    const PCI_MESSAGE_ROUTING* Routing = Remap->Routing;
    if (Routing == NULL) return;
    for (U32 I = 0; I < Remap->Connected; I++) {
        U32 Index = I < Remap->Composed ? I : 0;
        Routing->Disconnect(Remap->Context, Remap->Messages[Index].OwnerVector, Interrupts->Handler,
                            Interrupts->Contexts[I]);
    }
    for (U32 I = 0; I < Remap->Composed; I++) Routing->Release(Remap->Context, Remap->Messages[I].OwnerVector);
    Remap->Connected = 0;
    Remap->Composed = 0;
    for (U32 I = 0; I < Interrupts->Count; I++) Interrupts->Vectors[I] = 0;
    Interrupts->Count = 0;
}

/** One message per vector from the owner, every context connected to the owner vector of its message. */
static BOOL Compose(PCI_DEVICE* Device, U32 Count, PLATFORM_INTERRUPTS* Interrupts, PLATFORM_REMAP* Remap) {
    const PCI_MESSAGE_ROUTING* Routing = Remap->Routing;
    for (U32 I = 0; I < Count && I < PLATFORM_MAX_VECTORS; I++) {
        if (!Routing->Compose(Remap->Context, Device, I, &Remap->Messages[I])) break;
        Interrupts->Vectors[I] = Remap->Messages[I].CpuVector;
        Remap->Composed++;
    }
    Interrupts->Count = Remap->Composed;
    if (Interrupts->Count == 0) return FALSE;
    for (U32 I = 0; I < Interrupts->ContextCount; I++) {
        U32 Index = I < Interrupts->Count ? I : 0;
        if (!Routing->Connect(Remap->Context, Remap->Messages[Index].OwnerVector, Interrupts->Handler,
                              Interrupts->Contexts[I])) {
            PlatformRemapRelease(Interrupts, Remap);
            return FALSE;
        }
        Remap->Connected++;
    }
    return TRUE;
}

static BOOL SetupMsix(PCI_DEVICE* Device, U32 Wanted, PLATFORM_INTERRUPTS* Interrupts, PLATFORM_REMAP* Remap) {
    if (!PCIMSIXRead(Device, &Interrupts->Msix)) return FALSE;
    if (Interrupts->Msix.Table == 0 && !PCIMSIXMap(Device, &Interrupts->Msix)) return FALSE;
    if (!Compose(Device, MIN(Wanted, Interrupts->Msix.TableSize), Interrupts, Remap)) return FALSE;
    PCIMSIXControl(Device, &Interrupts->Msix, TRUE, TRUE);
    for (U32 I = 0; I < Interrupts->Msix.TableSize; I++) PCIMSIXMaskEntry(&Interrupts->Msix, I, TRUE);
    for (U32 I = 0; I < Interrupts->Count; I++) {
        PCIMSIXSetMessage(&Interrupts->Msix, I, Remap->Messages[I].Address, Remap->Messages[I].Data, TRUE);
    }
    PCIMSIXControl(Device, &Interrupts->Msix, TRUE, FALSE);
    Interrupts->Mode = PCI_INTERRUPT_MSIX;
    return TRUE;
}

/** Plain MSI gets one message: all of a function's MSI messages share one address, so they could not be told apart. */
static BOOL SetupMsi(PCI_DEVICE* Device, PLATFORM_INTERRUPTS* Interrupts, PLATFORM_REMAP* Remap) {
    if (!PCIMSIRead(Device, &Interrupts->Msi)) return FALSE;
    if (!Compose(Device, 1, Interrupts, Remap)) return FALSE;
    if (!PCIMSIEnableMessage(Device, &Interrupts->Msi, Remap->Messages[0].Address, Remap->Messages[0].Data, 0)) {
        PlatformRemapRelease(Interrupts, Remap);
        return FALSE;
    }
    Interrupts->Mode = PCI_INTERRUPT_MSI;
    return TRUE;
}

BOOL PlatformRemapSetup(PCI_DEVICE* Device, U32 Wanted, U32 Allowed, PLATFORM_INTERRUPTS* Interrupts,
                        PLATFORM_REMAP* Remap) {
    MemorySet(Remap, 0, sizeof(*Remap));
    Remap->Routing = Device->SegmentInfo->Messages;
    Remap->Context = Device->SegmentInfo->MessagesContext;
    if ((Allowed & PLATFORM_ALLOW_MSIX) && SetupMsix(Device, Wanted, Interrupts, Remap)) return TRUE;
    if ((Allowed & PLATFORM_ALLOW_MSI) && SetupMsi(Device, Interrupts, Remap)) return TRUE;
    Remap->Routing = NULL;
    return FALSE;
}

void PlatformRemapEnableMsi(PCI_DEVICE* Device, PLATFORM_INTERRUPTS* Interrupts, const PLATFORM_REMAP* Remap) {
    PCIMSIEnableMessage(Device, &Interrupts->Msi, Remap->Messages[0].Address, Remap->Messages[0].Data, 0);
}

KSTATUS PlatformRemapAimMsix(PLATFORM_INTERRUPTS* Interrupts, const PLATFORM_REMAP* Remap, U32 Index, U32 Cpu,
                             U32 ApicId) {
    if (Index >= Interrupts->Count) return KSTATUS_BAD_PARAMETER;
    if (Interrupts->Mode != PCI_INTERRUPT_MSIX || Remap == NULL || Remap->Routing) return KSTATUS_NOT_SUPPORTED;
    // Masked while the address changes: a message sent meanwhile waits as pending and goes out on unmask.
    PCIMSIXMaskEntry(&Interrupts->Msix, Index, TRUE);
    PCIMSIXSetEntry(&Interrupts->Msix, Index, ApicId, Interrupts->Vectors[Index], TRUE);
    Interrupts->TargetCpus[Index] = Cpu;
    return KSTATUS_SUCCESS;
}
