/*
 * HostPCI.c - the PCI core's segments and MSI-X mapping for device-model
 * tests (see HostPCI.h).
 */

#define _GNU_SOURCE
#include "HostPCI.h"

#include <stdlib.h>
#include <string.h>

#include "HostPlatform.h"
#include "bus/pci/PCI-MSI.h"
#include "core/Log.h"

/************************************************************************/
// PCI segments (the lists and driver binding are the kernel's PCI-Registry.c)

static PCI_DEVICE* AllocateDevice(LPVOID Context) {
    UNUSED(Context);
    return (PCI_DEVICE*)calloc(1, sizeof(PCI_DEVICE));
}

static void FreeDevice(PCI_DEVICE* Device) { free(Device); }

static void StartEnumerator(PCI_ENUMERATOR* Enumerator) {
    memset(Enumerator, 0, sizeof(*Enumerator));
    Enumerator->Allocate = AllocateDevice;
    Enumerator->SizeBars = TRUE;
}

void PCIInit(void) {}

U32 PCIAddSegment(PCI_SEGMENT* Segment) {
    PCI_ENUMERATOR Enumerator;
    StartEnumerator(&Enumerator);

    PCIRegistryAddSegment(Segment);
    U32 Found = PCIEnumerateSegment(&Enumerator, Segment);

    PCIRegistryAddDevices(Enumerator.First);
    INFO("[PCIAddSegment] segment %04x buses %02x-%02x via %s: %u functions", Segment->Segment, Segment->StartBus,
         Segment->EndBus, Segment->AccessName ? Segment->AccessName : "?", Found);
    return Found;
}

// As kernel/source/bus/pci/PCI.c, without its interrupt masking (the host has no interrupt flag to clear).
void PCIRescanSegment(PCI_SEGMENT* Segment, PCI_RESCAN* Result) {
    PCI_ENUMERATOR Enumerator;
    StartEnumerator(&Enumerator);
    PCIEnumerateSegmentAgain(&Enumerator, Segment);
    PCIRegistryReconcile(Segment, Enumerator.First, FreeDevice, Result);
}

U32 PCIRescanBridge(PCI_DEVICE* Bridge) {
    PCI_ENUMERATOR Enumerator;
    StartEnumerator(&Enumerator);
    U32 Found = PCIEnumerateBelow(&Enumerator, Bridge);
    PCIRegistryAddDevices(Enumerator.First);
    return Found;
}

BOOL PCIMSIXMap(PCI_DEVICE* Device, PCI_MSIX_INFO* Info) {
    const PCI_BAR* TableBar = &Device->Bars[Info->TableBar];
    const PCI_BAR* PbaBar = &Device->Bars[Info->PbaBar];
    U64 TableBytes = (U64)Info->TableSize * PCI_MSIX_ENTRY_SIZE;
    U64 PbaBytes = ALIGN_UP(((U64)Info->TableSize + 63) / 64 * 8, 8ULL);
    if (TableBar->Base == 0 || PbaBar->Base == 0) return FALSE;
    if (PbaBar->Type != PCI_BAR_MEMORY32 && PbaBar->Type != PCI_BAR_MEMORY64) return FALSE;
    PCIEnableMemorySpace(Device);
    // The kernel maps the BAR range uncached; here the device model lends its table memory.
    Info->Table = (LINEAR)HostMmioDirect(TableBar->Base + Info->TableOffset, TableBytes);
    Info->Pba = (LINEAR)HostMmioDirect(PbaBar->Base + Info->PbaOffset, PbaBytes);
    return Info->Table != 0 && Info->Pba != 0;
}

void HostPCIReset(void) {
    for (PCI_DEVICE* Device = PCIRegistryReset(); Device;) {
        PCI_DEVICE* Next = Device->Next;
        free(Device);
        Device = Next;
    }
}
