/*
 * VMD-Monitor.c - the VMD's root ports: hot plug and error status.
 *
 * One thread per VMD ("vmd0-watch") polls each root port of the domain once
 * a second (polling, not the ports' own interrupts: their MSI would itself
 * need remapping, and a second is quick enough for a person at a slot):
 *
 * Hot plug (PCIe Base 6.0, 6.7 and 7.5.3.10-11; SPDK's VMD hot plug polls
 * the same bits, S3): a port whose slot is hot-plug capable reports
 * presence (Slot Status PDS) and its link (Link Status DLLA). Present with
 * nothing listed below it: power the slot on if it has a power controller
 * and it is off, give the link time, scan below the port within the bus
 * numbers and 1 MiB window it kept (PCIRescanBridge) and bind drivers.
 * Gone with functions listed below: remove them (PCIRegistryRemove: their
 * configuration reads answer all ones, their drivers are told when they can
 * be). Attention button (QEMU's device_del asks this way): remove what is
 * below, then power the slot off, which is when QEMU lets the device go.
 * Status bits are cleared by writing them back (RW1C) with Slot Control
 * unchanged in the same dword.
 *
 * Errors: the AER uncorrectable, correctable and root error status of each
 * port (or Device Status without AER) are counted, decoded by name and
 * cleared; the log is rate-limited per VMD so a flood (S9: AER floods with
 * some Gen4 NVMe on Alder Lake) cannot drown the console.
 */

#include "bus/vmd/VMD-Internal.h"

#include "core/Log.h"
#include "utils/String.h"

#define MONITOR_PERIOD_MS 1000
#define POWER_ON_SETTLE_MS 1000   // pciehp waits a second after power on before it looks
#define LINK_SETTLE_MS 100        // PCIe Base 6.6.1: 100 ms before the first configuration request

static BOOL Answers(U32 Value) { return Value != MAX_U32; }

static U32 ChildrenBelow(const PCI_DEVICE* Port) {
    U32 Count = 0;
    for (PCI_DEVICE* D = PCIGetFirstDevice(); D; D = D->Next) {
        for (const PCI_DEVICE* P = D->Parent; P; P = P->Parent) {
            if (P == Port) {
                Count++;
                break;
            }
        }
    }
    return Count;
}

void VMDFindPorts(VMD_CONTROLLER* Vmd) {
    VMD_PORT Old[VMD_MAX_PORTS];
    U32 OldCount = Vmd->PortCount;
    MemoryCopy(Old, Vmd->Ports, sizeof(Old));
    Vmd->PortCount = 0;
    for (PCI_DEVICE* D = PCIGetFirstDevice(); D && Vmd->PortCount < VMD_MAX_PORTS; D = D->Next) {
        if (D->SegmentInfo != &Vmd->Segment || D->Parent != NULL || D->HeaderType != PCI_HEADER_BRIDGE) continue;
        VMD_PORT* Port = &Vmd->Ports[Vmd->PortCount++];
        MemorySet(Port, 0, sizeof(*Port));
        // Counters survive a reset: the port keeps its address, not its PCI_DEVICE.
        for (U32 I = 0; I < OldCount; I++) {
            if (Old[I].Bus == D->Bus && Old[I].Device == D->Device && Old[I].Function == D->Function) *Port = Old[I];
        }
        Port->Port = D;
        Port->Bus = D->Bus;
        Port->Device = D->Device;
        Port->Function = D->Function;
        Port->AerOffset = PCIFindExtendedCapability(D, PCI_EXT_CAP_ID_AER);
        if (D->PcieCapability) {
            U16 Flags = PCIDeviceRead16(D, D->PcieCapability + PCI_EXP_FLAGS);
            U32 SlotCap = PCIDeviceRead32(D, D->PcieCapability + PCI_EXP_SLOT_CAPABILITIES);
            Port->HotplugCapable = (Flags & PCI_EXP_FLAGS_SLOT) && (SlotCap & PCI_EXP_SLOT_CAP_HOTPLUG_CAPABLE);
            Port->PowerController = Port->HotplugCapable && (SlotCap & PCI_EXP_SLOT_CAP_POWER_CONTROLLER);
        }
        Port->Stats.Bus = D->Bus;
        Port->Stats.Device = D->Device;
        Port->Stats.Function = D->Function;
        Port->Stats.DeviceId = D->DeviceId;
        Port->Stats.HotplugCapable = Port->HotplugCapable;
        Port->Stats.Children = ChildrenBelow(D);
        Port->Present = Port->Stats.Children != 0;
        Port->Stats.Present = Port->Present;
    }
}

/************************************************************************/
// Errors

static void RecordErrors(VMD_CONTROLLER* Vmd, VMD_PORT* Port) {
    PCI_DEVICE* D = Port->Port;
    U32 Uncorrectable = 0, Correctable = 0;
    if (Port->AerOffset) {
        Uncorrectable = PCIDeviceRead32(D, Port->AerOffset + PCI_AER_UNCORRECTABLE_STATUS);
        Correctable = PCIDeviceRead32(D, Port->AerOffset + PCI_AER_CORRECTABLE_STATUS);
        U32 Root = PCIDeviceRead32(D, Port->AerOffset + PCI_AER_ROOT_STATUS);
        if (!Answers(Uncorrectable) || !Answers(Correctable) || !Answers(Root)) return;
        if (Uncorrectable) PCIDeviceWrite32(D, Port->AerOffset + PCI_AER_UNCORRECTABLE_STATUS, Uncorrectable);
        if (Correctable) PCIDeviceWrite32(D, Port->AerOffset + PCI_AER_CORRECTABLE_STATUS, Correctable);
        if (Root & 0x7F) PCIDeviceWrite32(D, Port->AerOffset + PCI_AER_ROOT_STATUS, Root & 0x7F);
    } else if (D->PcieCapability) {
        // Device Status: CED (bit 0), NFED (1), FED (2), URD (3); cleared in the dword with Device Control.
        U32 Dword = PCIDeviceRead32(D, D->PcieCapability + 0x08);
        if (!Answers(Dword)) return;
        U32 Status = (Dword >> 16) & 0xF;
        if (Status) PCIDeviceWrite32(D, D->PcieCapability + 0x08, (Dword & 0xFFFF) | (Status << 16));
        Correctable = Status & 0x1;
        Uncorrectable = Status & 0xE;
    }
    if (Uncorrectable == 0 && Correctable == 0) return;
    VMD_PORT_INFO* Stats = &Port->Stats;
    if (Correctable) {
        Stats->CorrectableErrors++;
        Stats->LastCorrectable = Correctable;
    }
    if (Uncorrectable) {
        Stats->UncorrectableErrors++;
        Stats->LastUncorrectable = Uncorrectable;
    }
    char Text[160];
    PCIAERStatusText(Uncorrectable == 0, Uncorrectable ? Uncorrectable : Correctable, Text, sizeof(Text));
    LOG_RATE_LIMITED(LOG_LEVEL_WARNING, 10000, 5, "[VMDMonitor] %s: root port %02x:%02x.%x: %s error: %s (%llu so far)",
                     Vmd->Name, Port->Bus, Port->Device, Port->Function,
                     Uncorrectable ? "uncorrectable" : "correctable", Text,
                     Uncorrectable ? Stats->UncorrectableErrors : Stats->CorrectableErrors);
}

/************************************************************************/
// Hot plug

/** Slot Control written with the status half zero (writing status back would clear it). */
static void WriteSlotControl(PCI_DEVICE* Port, U16 Control) {
    PCIDeviceWrite32(Port, Port->PcieCapability + PCI_EXP_SLOT_CONTROL, Control);
}

static void RemoveBelow(VMD_CONTROLLER* Vmd, VMD_PORT* Port) {
    for (BOOL Again = TRUE; Again;) {
        Again = FALSE;
        for (PCI_DEVICE* D = PCIGetFirstDevice(); D; D = D->Next) {
            BOOL Below = FALSE;
            for (const PCI_DEVICE* P = D->Parent; P && !Below; P = P->Parent) Below = P == Port->Port;
            if (!Below) continue;
            PCIRegistryRemove(D);
            Again = TRUE;
            break;
        }
    }
    PCIDetachRemoved();
    INFO("[VMDMonitor] %s: slot of root port %02x:%02x.%x is empty", Vmd->Name, Port->Bus, Port->Device,
         Port->Function);
}

static void AddBelow(VMD_CONTROLLER* Vmd, VMD_PORT* Port, U16 Control) {
    PCI_DEVICE* D = Port->Port;
    if (Port->PowerController && (Control & PCI_EXP_SLOT_CONTROL_POWER_OFF)) {
        // Power on, power indicator on (01b).
        U16 On = (U16)((Control & ~(PCI_EXP_SLOT_CONTROL_POWER_OFF | PCI_EXP_SLOT_CONTROL_POWER_INDICATOR)) | 0x0100);
        WriteSlotControl(D, On);
        PlatformSleepMs(POWER_ON_SETTLE_MS);
    } else {
        PlatformSleepMs(LINK_SETTLE_MS);
    }
    U32 Added = PCIRescanBridge(D);
    INFO("[VMDMonitor] %s: device in the slot of root port %02x:%02x.%x: %u function(s)", Vmd->Name, Port->Bus,
         Port->Device, Port->Function, Added);
    if (Added) PCIBindDrivers();
}

static void PollSlot(VMD_CONTROLLER* Vmd, VMD_PORT* Port) {
    PCI_DEVICE* D = Port->Port;
    U32 SlotDword = PCIDeviceRead32(D, D->PcieCapability + PCI_EXP_SLOT_CONTROL);
    U16 Link = PCIDeviceRead16(D, D->PcieCapability + PCI_EXP_LINK_STATUS);
    if (!Answers(SlotDword)) return;
    U16 Control = (U16)SlotDword, Status = (U16)(SlotDword >> 16);
    U16 Events = Status & (PCI_EXP_SLOT_STATUS_ATTENTION | PCI_EXP_SLOT_STATUS_PRESENCE_CHANGED |
                           PCI_EXP_SLOT_STATUS_LINK_CHANGED);
    if (Events) PCIDeviceWrite32(D, D->PcieCapability + PCI_EXP_SLOT_CONTROL, Control | ((U32)Events << 16));

    BOOL Present = (Status & PCI_EXP_SLOT_STATUS_PRESENT) || (Link & PCI_EXP_LINK_STATUS_DLLA);
    U32 Children = ChildrenBelow(D);
    if (Events) {
        Port->Stats.HotplugEvents++;
        Vmd->HotplugEvents++;
    }
    if ((Events & PCI_EXP_SLOT_STATUS_ATTENTION) && Port->PowerController) {
        // A removal request: let go of what is below, then power the slot off (indicator off, 11b).
        if (Children) RemoveBelow(Vmd, Port);
        WriteSlotControl(D, (U16)(Control | PCI_EXP_SLOT_CONTROL_POWER_OFF | PCI_EXP_SLOT_CONTROL_POWER_INDICATOR));
        Present = FALSE;
    } else if (!Present && Children) {
        RemoveBelow(Vmd, Port);
    } else if (Present && Children == 0) {
        AddBelow(Vmd, Port, Control);
    }
    Port->Present = Present;
    Port->Stats.Present = Present;
    Port->Stats.Children = ChildrenBelow(D);
}

static void MonitorThread(LPVOID Context) {
    VMD_CONTROLLER* Vmd = (VMD_CONTROLLER*)Context;
    for (;;) {
        PlatformEventWait(Vmd->MonitorEvent, MONITOR_PERIOD_MS);
        PlatformMutexLock(Vmd->Mutex);
        for (U32 I = 0; I < Vmd->PortCount && Vmd->State == VMD_STATE_RUNNING; I++) {
            VMD_PORT* Port = &Vmd->Ports[I];
            if (Port->Port == NULL || Port->Port->Removed) continue;
            RecordErrors(Vmd, Port);
            if (Port->HotplugCapable) PollSlot(Vmd, Port);
        }
        PlatformMutexUnlock(Vmd->Mutex);
    }
}

void VMDMonitorStart(VMD_CONTROLLER* Vmd) {
    if (Vmd->MonitorStarted) return;
    Vmd->MonitorEvent = PlatformEventCreate(FALSE);
    char Name[24];
    StringCopy(Name, Vmd->Name, sizeof(Name));
    StringAppend(Name, "-watch", sizeof(Name));
    Vmd->MonitorStarted = Vmd->MonitorEvent && PlatformThreadCreate(Name, MonitorThread, Vmd);
    if (!Vmd->MonitorStarted) WARNING("[VMDMonitorStart] %s: no monitor thread: hot plug is not watched", Vmd->Name);
}
