/*
 * VMD-Reset.c - `vmd reset`: a secondary bus reset of every root port of
 * the domain, then the domain enumerated again.
 *
 * Linux resets the VMD's bus at probe for guest reboots (S9 0a584655ef89:
 * "pci_reset_bus() ... so the reset can be triggered at the Intel bridge
 * level and propagated to all the children"); here it is a maintenance
 * command. After the reset every function below the ports has lost its
 * configuration (BARs, MSI-X, bus mastering), so:
 *   1. the state a driver set up (command, MSI, MSI-X control and table,
 *      PCIe control) is saved for every function a driver holds, and each
 *      such driver is told (ResetPrepare): it stops touching the function,
 *      on every CPU, until ResetDone;
 *   2. with interrupts off on this CPU (a PLATFORM_LOCK), so no driver runs
 *      while its device is in reset: Bridge Control SBR set, held 2 ms
 *      (Trst is 1 ms; Linux holds 2), cleared; 100 ms before the first
 *      configuration request (PCIe Base 6.0, 6.6.1), then up to 1 s more
 *      while a device answers Configuration Request Retry Status, polled
 *      every millisecond (PlatformBusyWaitUs: nothing may sleep here);
 *   3. the windows are closed and the root ports' numbers cleared again
 *      (VMDDomainReset) and the segment enumerated afresh: assignment is
 *      deterministic, so a function found again at its address with the same
 *      IDs gets the same BARs, keeps its PCI_DEVICE and its driver, and gets
 *      its saved state back (PCIRegistryReconcile, PCIRestoreState);
 *   4. interrupts back on: each driver told in step 1 hears ResetDone (the
 *      NVMe driver resets its controller there, posting again what was in
 *      flight, so its disks come back under their names), functions that
 *      vanished are removed (their drivers detached if they can be), new
 *      ones are offered to drivers.
 * A driver without the pair (none today) would learn of the reset only from
 * its device's registers (for NVMe, CSTS.RDY = 0 seen by the watchdog).
 */

#include "bus/vmd/VMD-Internal.h"

#include "core/Log.h"
#include "utils/String.h"

#define SBR_HOLD_MS 2
#define SBR_SETTLE_MS 100
#define CRS_TIMEOUT_MS 1000
#define CRS_POLL_US 1000

typedef struct tag_SAVED_FUNCTION {
    PCI_DEVICE* Device;
    PCI_SAVED_STATE State;
    LINEAR MsixTable;
    U64 MsixBytes;
} SAVED_FUNCTION;

static U32 CountChildren(VMD_CONTROLLER* Vmd) {
    U32 Count = 0;
    for (PCI_DEVICE* D = PCIGetFirstDevice(); D; D = D->Next) Count += D->SegmentInfo == &Vmd->Segment;
    return Count;
}

/** Maps the MSI-X table of a function whose BAR is assigned (0 when there is none or it is not mapped). */
static LINEAR MapMsixTable(PCI_DEVICE* Device, U64* Bytes) {
    PCI_MSIX_INFO Msix;
    *Bytes = 0;
    if (Device->MsixCapability == 0 || !PCIMSIXRead(Device, &Msix)) return 0;
    const PCI_BAR* Bar = &Device->Bars[Msix.TableBar];
    if (Bar->Base == 0) return 0;
    *Bytes = (U64)MIN(Msix.TableSize, (U32)PCI_SAVED_MSIX_ENTRIES) * PCI_MSIX_ENTRY_SIZE;
    LINEAR Table = PlatformMapMMIO(Bar->Base + Msix.TableOffset, *Bytes);
    if (Table == 0) *Bytes = 0;
    return Table;
}

static U32 SaveFunctions(VMD_CONTROLLER* Vmd, SAVED_FUNCTION* Saved, U32 Capacity) {
    U32 Count = 0;
    for (PCI_DEVICE* D = PCIGetFirstDevice(); D && Count < Capacity; D = D->Next) {
        if (D->SegmentInfo != &Vmd->Segment || D->Driver == NULL || D->HeaderType != PCI_HEADER_NORMAL) continue;
        SAVED_FUNCTION* S = &Saved[Count++];
        S->Device = D;
        S->MsixTable = MapMsixTable(D, &S->MsixBytes);
        PCISaveState(D, S->MsixTable, &S->State);
    }
    return Count;
}

static void SecondaryBusReset(VMD_CONTROLLER* Vmd) {
    for (U32 I = 0; I < Vmd->PortCount; I++) {
        PCI_DEVICE* Port = Vmd->Ports[I].Port;
        U16 Control = PCIDeviceRead16(Port, PCI_BRIDGE_CONTROL);
        PCIDeviceWrite16(Port, PCI_BRIDGE_CONTROL, (U16)(Control | PCI_BRIDGE_CONTROL_BUS_RESET));
    }
    PlatformBusyWaitUs(SBR_HOLD_MS * 1000);  // interrupts are off: nothing may sleep here
    for (U32 I = 0; I < Vmd->PortCount; I++) {
        PCI_DEVICE* Port = Vmd->Ports[I].Port;
        U16 Control = PCIDeviceRead16(Port, PCI_BRIDGE_CONTROL);
        PCIDeviceWrite16(Port, PCI_BRIDGE_CONTROL, (U16)(Control & ~PCI_BRIDGE_CONTROL_BUS_RESET));
    }
    PlatformBusyWaitUs(SBR_SETTLE_MS * 1000);
    // A device may answer Configuration Request Retry Status (vendor 0001h) a while longer.
    U64 End = PlatformTimeNs() + (U64)CRS_TIMEOUT_MS * 1000000;
    for (U32 I = 0; I < Vmd->PortCount; I++) {
        PCI_DEVICE* Port = Vmd->Ports[I].Port;
        if (Port->SecondaryBus == 0 || Vmd->Ports[I].Stats.Children == 0) continue;
        while (PlatformTimeNs() < End) {
            U32 Id = PCIConfigRead32(&Vmd->Segment, Port->SecondaryBus, 0, 0, PCI_VENDOR_ID);
            if ((Id & 0xFFFF) != 0x0001) break;
            PlatformBusyWaitUs(CRS_POLL_US);
        }
    }
}

KSTATUS VMDResetDomain(VMD_CONTROLLER* Vmd) {
    PLATFORM_LOCK* Quiet = PlatformLockCreate();
    U32 Capacity = CountChildren(Vmd) + 1;
    SAVED_FUNCTION* Saved = (SAVED_FUNCTION*)PlatformAllocZero(Capacity * sizeof(SAVED_FUNCTION));
    if (Quiet == NULL || Saved == NULL) {
        if (Quiet) PlatformLockDestroy(Quiet);
        PlatformFree(Saved);
        return KSTATUS_NO_MEMORY;
    }
    PlatformMutexLock(Vmd->Mutex);
    Vmd->State = VMD_STATE_RESETTING;
    U64 Start = PlatformTimeNs();
    U32 SavedCount = SaveFunctions(Vmd, Saved, Capacity);
    for (U32 I = 0; I < SavedCount; I++) {
        const PCI_DRIVER* Driver = Saved[I].Device->Driver;
        if (Driver->ResetPrepare && Driver->ResetDone) Driver->ResetPrepare(Saved[I].Device);
    }

    PCI_RESCAN Rescan;
    U32 Restored = 0;
    U64 State = PlatformLockAcquire(Quiet);
    SecondaryBusReset(Vmd);
    VMDDomainReset(Vmd);
    PCIRescanSegment(&Vmd->Segment, &Rescan);
    for (U32 I = 0; I < SavedCount; I++) {
        PCI_DEVICE* D = Saved[I].Device;
        if (D->Removed) continue;
        PCIRestoreState(D, Saved[I].MsixTable, &Saved[I].State);
        Restored++;
    }
    PlatformLockRelease(Quiet, State);
    for (U32 I = 0; I < SavedCount; I++) {
        const PCI_DRIVER* Driver = Saved[I].Device->Driver;
        if (Driver->ResetPrepare && Driver->ResetDone) Driver->ResetDone(Saved[I].Device);
    }

    for (U32 I = 0; I < SavedCount; I++) {
        if (Saved[I].MsixTable) PlatformUnmapMMIO(Saved[I].MsixTable, Saved[I].MsixBytes);
    }
    VMDFindPorts(Vmd);
    Vmd->Resets++;
    Vmd->State = VMD_STATE_RUNNING;
    PlatformMutexUnlock(Vmd->Mutex);

    PCIDetachRemoved();
    if (Rescan.Added) PCIBindDrivers();
    INFO("[VMDReset] %s: secondary bus reset of %u root port(s) in %llu ms: %u function(s) kept (%u restored), "
         "%u added, %u removed",
         Vmd->Name, Vmd->PortCount, (PlatformTimeNs() - Start) / 1000000, Rescan.Kept, Restored, Rescan.Added,
         Rescan.Removed);
    PlatformFree(Saved);
    PlatformLockDestroy(Quiet);
    return KSTATUS_SUCCESS;
}
