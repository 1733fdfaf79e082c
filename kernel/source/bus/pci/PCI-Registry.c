/*
 * PCI-Registry.c - the segment list, the device list (in lspci order) and
 * the driver registry with its binding rules.
 *
 * Shared by the kernel (PCI.c adds segments after enumerating them) and the
 * host device-model tests (tests/model/HostPCI.c), so both bind drivers
 * by the same code. Devices are never freed while listed; in the kernel
 * the lists are guarded by a spinlock, host tests register from one thread.
 */

#include "bus/pci/PCI.h"

#include "core/Log.h"

#ifndef CAIRN_HOST_BUILD
#include "core/Spinlock.h"
static SPINLOCK RegistryLock = SPINLOCK_INIT;
#define REGISTRY_LOCK() SpinlockAcquire(&RegistryLock)
#define REGISTRY_UNLOCK(Flags) SpinlockRelease(&RegistryLock, Flags)
#else
#define REGISTRY_LOCK() 0ULL
#define REGISTRY_UNLOCK(Flags) UNUSED(Flags)
#endif

static PCI_SEGMENT* Segments;
static PCI_DEVICE* Devices;
static U32 DeviceCount;
static PCI_DRIVER* Drivers;

static U64 DeviceKey(const PCI_DEVICE* Device) {
    return ((U64)Device->Segment << 16) | ((U64)Device->Bus << 8) | ((U64)Device->Device << 3) | Device->Function;
}

void PCIRegistryAddSegment(PCI_SEGMENT* Segment) {
    U64 Flags = REGISTRY_LOCK();
    PCI_SEGMENT** Link = &Segments;
    while (*Link && *Link != Segment) Link = &(*Link)->Next;
    if (*Link == NULL) {  // a segment added again stays listed once
        Segment->Next = NULL;
        *Link = Segment;
    }
    REGISTRY_UNLOCK(Flags);
}

void PCIRegistryAddDevices(PCI_DEVICE* First) {
    U64 Flags = REGISTRY_LOCK();
    for (PCI_DEVICE* Device = First; Device;) {
        PCI_DEVICE* Next = Device->Next;
        PCI_DEVICE** Link = &Devices;
        while (*Link && DeviceKey(*Link) < DeviceKey(Device)) Link = &(*Link)->Next;
        Device->Next = *Link;
        *Link = Device;
        DeviceCount++;
        Device = Next;
    }
    REGISTRY_UNLOCK(Flags);
}

PCI_DEVICE* PCIRegistryReset(void) {
    U64 Flags = REGISTRY_LOCK();
    PCI_DEVICE* List = Devices;
    Devices = NULL;
    DeviceCount = 0;
    Segments = NULL;
    Drivers = NULL;
    REGISTRY_UNLOCK(Flags);
    return List;
}

PCI_DEVICE* PCIGetFirstDevice(void) { return Devices; }
U32 PCIGetDeviceCount(void) { return DeviceCount; }
PCI_SEGMENT* PCIGetFirstSegment(void) { return Segments; }

PCI_DEVICE* PCIFindDevice(U16 Segment, U8 Bus, U8 Device, U8 Function) {
    for (PCI_DEVICE* D = Devices; D; D = D->Next) {
        if (D->Segment == Segment && D->Bus == Bus && D->Device == Device && D->Function == Function) return D;
    }
    return NULL;
}

static BOOL DriverMatches(const PCI_DRIVER* Driver, const PCI_DEVICE* Device) {
    for (U32 I = 0; I < Driver->MatchCount; I++) {
        if (PCIMatchDevice(&Driver->Matches[I], Device)) return TRUE;
    }
    return FALSE;
}

void PCIBindDrivers(void) {
    for (PCI_DEVICE* Device = Devices; Device; Device = Device->Next) {
        if (Device->Driver != NULL) continue;
        for (PCI_DRIVER* Driver = Drivers; Driver; Driver = Driver->Next) {
            if (!DriverMatches(Driver, Device)) continue;
            if (Driver->Probe && !Driver->Probe(Device)) continue;
            Device->Driver = Driver;  // claimed before Attach so re-entry cannot bind twice
            KSTATUS Status = Driver->Attach ? Driver->Attach(Device) : KSTATUS_SUCCESS;
            if (Status != KSTATUS_SUCCESS) {
                WARNING("[PCIBindDrivers] %s failed to attach %02x:%02x.%x (%d)", Driver->Name, Device->Bus,
                        Device->Device, Device->Function, Status);
                Device->Driver = NULL;
                continue;
            }
            break;
        }
    }
}

void PCIRegisterDriver(PCI_DRIVER* Driver) {
    U64 Flags = REGISTRY_LOCK();
    PCI_DRIVER** Link = &Drivers;
    while (*Link && *Link != Driver) Link = &(*Link)->Next;
    if (*Link == NULL) {  // registering twice keeps one entry
        Driver->Next = NULL;
        *Link = Driver;
    }
    REGISTRY_UNLOCK(Flags);
}
