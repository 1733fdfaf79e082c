/*
 * PCI-State.c - what a function loses in a reset and its driver expects to
 * find again: the command register (bus mastering, INTx disable), the MSI
 * message and control, the MSI-X control and table, and the PCIe device,
 * link and device 2 control registers.
 *
 * BARs, bridge bus numbers and windows are not here: whoever resets a
 * segment enumerates it again and assigns them (PCI-Resources.c), and a
 * function is only restored when it got the same BARs back, so its driver's
 * register mapping and MSI-X table mapping still point at it. MSI-X control
 * is written last, after the entries, so no half-restored entry can fire.
 * Pure: configuration access goes through the segment's ops; the MSI-X
 * table is reached through a mapping the caller provides.
 */

#include "bus/pci/PCI-MSI.h"
#include "bus/pci/PCI.h"

#include "utils/String.h"

static inline U32 TableRead32(LINEAR Address) { return *(volatile U32*)Address; }
static inline void TableWrite32(LINEAR Address, U32 Value) { *(volatile U32*)Address = Value; }

/** Dwords of the MSI capability after the control word: address, [upper], data, [mask]. */
static U32 MsiDwordCount(U16 Control) {
    U32 Count = (Control & PCI_MSI_CONTROL_64BIT) ? 3 : 2;
    if (Control & PCI_MSI_CONTROL_PER_VECTOR_MASK) Count++;
    return Count;
}

void PCISaveState(const PCI_DEVICE* Device, LINEAR MsixTable, PCI_SAVED_STATE* State) {
    MemorySet(State, 0, sizeof(*State));
    State->Command = PCIDeviceRead16(Device, PCI_COMMAND);
    if (Device->MsiCapability) {
        State->MsiControl = PCIDeviceRead16(Device, Device->MsiCapability + PCI_MSI_CONTROL);
        for (U32 I = 0; I < MsiDwordCount(State->MsiControl); I++) {
            State->MsiDwords[I] = PCIDeviceRead32(Device, (U16)(Device->MsiCapability + 4 + I * 4));
        }
    }
    if (Device->MsixCapability) {
        State->MsixControl = PCIDeviceRead16(Device, Device->MsixCapability + PCI_MSIX_CONTROL);
        if (MsixTable != 0) {
            U32 Entries = (State->MsixControl & PCI_MSIX_CONTROL_TABLE_SIZE) + 1U;
            State->MsixEntryCount = MIN(Entries, (U32)PCI_SAVED_MSIX_ENTRIES);
            for (U32 E = 0; E < State->MsixEntryCount; E++) {
                for (U32 W = 0; W < 4; W++) {
                    State->MsixEntries[E][W] = TableRead32(MsixTable + E * PCI_MSIX_ENTRY_SIZE + W * 4);
                }
            }
        }
    }
    if (Device->PcieCapability) {
        State->DeviceControl = PCIDeviceRead16(Device, Device->PcieCapability + 0x08);
        State->LinkControl = PCIDeviceRead16(Device, Device->PcieCapability + 0x10);
        State->DeviceControl2 = PCIDeviceRead16(Device, Device->PcieCapability + 0x28);
    }
    State->Valid = TRUE;
}

void PCIRestoreState(PCI_DEVICE* Device, LINEAR MsixTable, const PCI_SAVED_STATE* State) {
    if (!State->Valid) return;
    if (Device->PcieCapability) {
        // Dword writes with the status halves zero: writing status back would clear its RW1C bits.
        PCIDeviceWrite32(Device, Device->PcieCapability + 0x08, State->DeviceControl);
        PCIDeviceWrite32(Device, Device->PcieCapability + 0x10, State->LinkControl);
        PCIDeviceWrite32(Device, Device->PcieCapability + 0x28, State->DeviceControl2);
    }
    if (Device->MsiCapability) {
        U8 C = Device->MsiCapability;
        PCIDeviceWrite16(Device, C + PCI_MSI_CONTROL, (U16)(State->MsiControl & ~PCI_MSI_CONTROL_ENABLE));
        for (U32 I = 0; I < MsiDwordCount(State->MsiControl); I++) {
            PCIDeviceWrite32(Device, (U16)(C + 4 + I * 4), State->MsiDwords[I]);
        }
        PCIDeviceWrite16(Device, C + PCI_MSI_CONTROL, State->MsiControl);
    }
    if (Device->MsixCapability) {
        U8 C = Device->MsixCapability;
        // Function-masked (and enabled, so the table is reachable) while the entries go back.
        PCIDeviceWrite16(Device, C + PCI_MSIX_CONTROL,
                         (U16)(State->MsixControl | PCI_MSIX_CONTROL_ENABLE | PCI_MSIX_CONTROL_FUNCTION_MASK));
        PCIDeviceWrite16(Device, PCI_COMMAND, (U16)(PCIDeviceRead16(Device, PCI_COMMAND) | PCI_COMMAND_MEMORY));
        for (U32 E = 0; E < State->MsixEntryCount && MsixTable != 0; E++) {
            LINEAR Entry = MsixTable + E * PCI_MSIX_ENTRY_SIZE;
            TableWrite32(Entry + PCI_MSIX_ENTRY_VECTOR_CONTROL, PCI_MSIX_ENTRY_MASKED);
            TableWrite32(Entry + 0, State->MsixEntries[E][0]);
            TableWrite32(Entry + 4, State->MsixEntries[E][1]);
            TableWrite32(Entry + 8, State->MsixEntries[E][2]);
            TableWrite32(Entry + PCI_MSIX_ENTRY_VECTOR_CONTROL, State->MsixEntries[E][3]);
        }
        PCIDeviceWrite16(Device, C + PCI_MSIX_CONTROL, State->MsixControl);
    }
    PCIDeviceWrite16(Device, PCI_COMMAND, State->Command);
}
