/*
 * PCI-Registry.c - the segment list, the device list (in lspci order) and
 * the driver registry with its binding rules, removal and rescans.
 *
 * Shared by the kernel (PCI.c adds segments after enumerating them) and the
 * host device-model tests (tests/model/HostPCI.c), so both bind drivers
 * by the same code. Devices are never freed while listed; in the kernel
 * the lists are guarded by a spinlock, host tests register from one thread.
 *
 * Removal (hot unplug, or a function not found again after a reset) unlists
 * the device and marks it Removed, so configuration access through it
 * answers all ones and a driver still holding it sees an empty slot, never
 * whatever function later takes its address. The object is never freed: a
 * driver without Detach may hold it for ever (it stays on the removed list,
 * which `drivers` shows); one with Detach is told from thread context
 * (PCIDetachRemoved), because removal may happen with interrupts off.
 */

#include "bus/pci/PCI.h"

#include "core/Log.h"
#include "utils/String.h"

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
static PCI_DEVICE* RemovedDevices;  // removed while a driver held them

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
    RemovedDevices = NULL;
    REGISTRY_UNLOCK(Flags);
    return List;
}

PCI_DEVICE* PCIGetFirstDevice(void) { return Devices; }
U32 PCIGetDeviceCount(void) { return DeviceCount; }
PCI_SEGMENT* PCIGetFirstSegment(void) { return Segments; }
PCI_DRIVER* PCIGetFirstDriver(void) { return Drivers; }
PCI_DEVICE* PCIGetFirstRemovedDevice(void) { return RemovedDevices; }

PCI_DEVICE* PCIFindDevice(U32 Segment, U8 Bus, U8 Device, U8 Function) {
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
        if (Device->Driver != NULL || Device->Removed) continue;
        for (PCI_DRIVER* Driver = Drivers; Driver; Driver = Driver->Next) {
            if (!DriverMatches(Driver, Device)) continue;
            if (Driver->Probe && !Driver->Probe(Device)) continue;
            Device->Driver = Driver;  // claimed before Attach so re-entry cannot bind twice
            KSTATUS Status = Driver->Attach ? Driver->Attach(Device) : KSTATUS_SUCCESS;
            if (Status != KSTATUS_SUCCESS) {
                WARNING("[PCIBindDrivers] %s failed to attach %04x:%02x:%02x.%x (%d)", Driver->Name, Device->Segment,
                        Device->Bus, Device->Device, Device->Function, Status);
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

/************************************************************************/
// Removal and rescans

/** Unlinks Device from the device list (registry lock held). */
static BOOL Unlist(PCI_DEVICE* Device) {
    for (PCI_DEVICE** Link = &Devices; *Link; Link = &(*Link)->Next) {
        if (*Link != Device) continue;
        *Link = Device->Next;
        DeviceCount--;
        return TRUE;
    }
    return FALSE;
}

void PCIRegistryRemove(PCI_DEVICE* Device) {
    U64 Flags = REGISTRY_LOCK();
    if (Unlist(Device)) {
        Device->Removed = TRUE;
        Device->Next = NULL;
        if (Device->Driver != NULL) {
            Device->Next = RemovedDevices;
            RemovedDevices = Device;
        }
    }
    REGISTRY_UNLOCK(Flags);
    INFO("[PCIRegistryRemove] %04x:%02x:%02x.%x [%04x:%04x] removed%s%s", Device->Segment, Device->Bus, Device->Device,
         Device->Function, Device->VendorId, Device->DeviceId, Device->Driver ? " from driver " : "",
         Device->Driver ? Device->Driver->Name : "");
}

void PCIDetachRemoved(void) {
    for (;;) {
        PCI_DEVICE* Found = NULL;
        U64 Flags = REGISTRY_LOCK();
        for (PCI_DEVICE** Link = &RemovedDevices; *Link; Link = &(*Link)->Next) {
            if ((*Link)->Driver && (*Link)->Driver->Detach) {
                Found = *Link;
                *Link = Found->Next;
                Found->Next = NULL;
                break;
            }
        }
        REGISTRY_UNLOCK(Flags);
        if (Found == NULL) return;
        const PCI_DRIVER* Driver = Found->Driver;
        Driver->Detach(Found);
        Found->Driver = NULL;
        Found->DriverData = NULL;
    }
}

static BOOL SameFunction(const PCI_DEVICE* Old, const PCI_DEVICE* New) {
    if (Old->Bus != New->Bus || Old->Device != New->Device || Old->Function != New->Function) return FALSE;
    if (Old->VendorId != New->VendorId || Old->DeviceId != New->DeviceId || Old->Class != New->Class ||
        Old->SubClass != New->SubClass || Old->ProgIf != New->ProgIf || Old->HeaderType != New->HeaderType) {
        return FALSE;
    }
    // Same BARs, so a driver's mappings still reach its registers.
    for (U32 I = 0; I < PCI_BAR_COUNT; I++) {
        if (Old->Bars[I].Type != New->Bars[I].Type || Old->Bars[I].Base != New->Bars[I].Base ||
            Old->Bars[I].Size != New->Bars[I].Size) {
            return FALSE;
        }
    }
    return TRUE;
}

void PCIRegistryReconcile(PCI_SEGMENT* Segment, PCI_DEVICE* First, void (*Free)(PCI_DEVICE*), PCI_RESCAN* Result) {
    MemorySet(Result, 0, sizeof(*Result));
    // Pass 1: each fresh function remembers the listed one it matches (in DriverData: fresh copies have no driver).
    for (PCI_DEVICE* New = First; New; New = New->Next) {
        New->DriverData = NULL;
        for (PCI_DEVICE* Old = Devices; Old; Old = Old->Next) {
            if (Old->SegmentInfo == Segment && SameFunction(Old, New)) {
                New->DriverData = Old;
                break;
            }
        }
    }
    // Pass 2: listed functions of the segment that were not found again are removed.
    for (BOOL Again = TRUE; Again;) {
        Again = FALSE;
        for (PCI_DEVICE* Old = Devices; Old; Old = Old->Next) {
            if (Old->SegmentInfo != Segment) continue;
            BOOL Found = FALSE;
            for (PCI_DEVICE* New = First; New && !Found; New = New->Next) Found = New->DriverData == Old;
            if (!Found) {
                PCIRegistryRemove(Old);
                Result->Removed++;
                Again = TRUE;  // the list changed under the walk
                break;
            }
        }
    }
    // Pass 3: parents point at the objects that stay; kept functions take the fresh bus numbers and windows.
    for (PCI_DEVICE* New = First; New; New = New->Next) {
        if (New->Parent && New->Parent->DriverData) New->Parent = (PCI_DEVICE*)New->Parent->DriverData;
    }
    PCI_DEVICE* Added = NULL;
    PCI_DEVICE** AddedTail = &Added;
    for (PCI_DEVICE* New = First; New;) {
        PCI_DEVICE* Next = New->Next;
        PCI_DEVICE* Old = (PCI_DEVICE*)New->DriverData;
        if (Old) {
            Old->Parent = New->Parent;
            Old->SecondaryBus = New->SecondaryBus;
            Old->SubordinateBus = New->SubordinateBus;
            Old->BusNumbersAssigned = New->BusNumbersAssigned;
            Old->Windows[0] = New->Windows[0];
            Old->Windows[1] = New->Windows[1];
            Old->ResourcesMissing = New->ResourcesMissing;
            Result->Kept++;
            // Children of this fresh copy already point at Old (pass 3); nothing refers to New any more.
            if (Free) Free(New);
        } else {
            New->DriverData = NULL;
            New->Next = NULL;
            *AddedTail = New;
            AddedTail = &New->Next;
            Result->Added++;
        }
        New = Next;
    }
    PCIRegistryAddDevices(Added);
    INFO("[PCIRescanSegment] segment %04x: %u kept, %u added, %u removed", Segment->Segment, Result->Kept,
         Result->Added, Result->Removed);
}

PHYSICAL PCIGetDMALimit(void) {
    U8 Bits = 0;
    for (PCI_DEVICE* D = Devices; D; D = D->Next) {
        if (D->DmaAddressBits != 0 && (Bits == 0 || D->DmaAddressBits < Bits)) Bits = D->DmaAddressBits;
    }
    return (Bits == 0 || Bits >= 64) ? 0 : (1ULL << Bits);
}

PHYSICAL PCICheckDMAAddress(PHYSICAL Physical) {
    PHYSICAL Limit = PCIGetDMALimit();
    if (Limit != 0 && Physical >= Limit) {
        LOG_RATE_LIMITED(LOG_LEVEL_WARNING, 5000, 3, "[PlatformTranslate] buffer at %llx is above the DMA limit %llx",
                         Physical, Limit);
        return 0;
    }
    return Physical;
}
