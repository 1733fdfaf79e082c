/*
 * USB-Info.c - snapshots of the controllers, their root ports and devices
 * for the shell (USB.h: USBGetControllerInfo).
 *
 * Layer: drivers/usb, called from the shell's thread while the controller
 * threads run. The device list is copied under the controller's Lock (the
 * thread changes it only under that lock, and unlists a device before its
 * class driver's data is freed); root ports are read live from PORTSC,
 * which has no side effects to read.
 */

#include "drivers/usb/XHCI-Internal.h"

#include "utils/Format.h"
#include "utils/String.h"

U32 USBGetControllerCount(void) { return XHCIGetControllerCount(); }

static LPCSTR StateName(XHCI_STATE State) {
    switch (State) {
        case XHCI_STATE_STARTING: return "starting";
        case XHCI_STATE_RUNNING: return "running";
        default: return "failed";
    }
}

static void CopyPorts(XHCI_CONTROLLER* C, USB_CONTROLLER_INFO* Info) {
    if (C->Registers == 0 || C->Dead || C->MaxPorts == 0) return;
    Info->PortCount = MIN(C->PortCount, (U32)USB_INFO_MAX_PORTS);
    for (U32 Port = 1; Port <= Info->PortCount; Port++) {
        USB_PORT_INFO* P = &Info->Ports[Port - 1];
        const XHCI_PROTOCOL* Protocol = XHCIPortProtocolOf(C, Port);
        U32 Sc = XHCIReadOp(C, XHCI_OP_PORTSC(Port));
        P->Number = (U8)Port;
        P->Major = Protocol ? Protocol->Major : 0;
        P->Minor = Protocol ? Protocol->Minor : 0;
        P->PortSc = Sc;
        P->Connected = (Sc & XHCI_PORT_CCS) != 0;
        P->Enabled = (Sc & XHCI_PORT_PED) != 0;
        P->Powered = (Sc & XHCI_PORT_PP) != 0;
        P->OverCurrent = (Sc & XHCI_PORT_OCA) != 0;
        P->Link = XHCIPortLinkName(Sc);
        P->Speed = P->Enabled ? XHCIProtocolSpeed(Protocol, (U8)((Sc & XHCI_PORT_SPEED_MASK) >> XHCI_PORT_SPEED_SHIFT))
                              : USB_SPEED_UNKNOWN;
    }
}

static void CopyDevice(const USB_DEVICE* D, USB_DEVICE_INFO* Out) {
    Out->Slot = D->Slot;
    Out->Address = D->Address;
    Out->Speed = D->Speed;
    StringCopy(Out->Path, D->Path, sizeof(Out->Path));
    Out->Tier = D->Tier;
    Out->RootPort = D->RootPort;
    Out->ParentSlot = D->Parent ? D->Parent->Slot : 0;
    Out->Route = D->Route;
    Out->VendorId = D->Descriptor.VendorId;
    Out->ProductId = D->Descriptor.ProductId;
    Out->UsbVersion = D->Descriptor.UsbVersion;
    Out->Class = D->Descriptor.Class;
    Out->SubClass = D->Descriptor.SubClass;
    Out->Protocol = D->Descriptor.Protocol;
    Out->InterfaceClass = D->InterfaceClass;
    Out->InterfaceSubClass = D->InterfaceSubClass;
    Out->InterfaceProtocol = D->InterfaceProtocol;
    Out->Driver = USBDriverName(D->Kind);
    Out->HubPorts = USBHubPortCount(D);
    Out->EnumerationMs = D->EnumerationMs;
    USBKeyboardCounts(D, &Out->Reports, &Out->Keys);
}

BOOL USBGetControllerInfo(U32 Index, USB_CONTROLLER_INFO* Info) {
    XHCI_CONTROLLER* C = XHCIGetController(Index);
    if (C == NULL) return FALSE;
    MemorySet(Info, 0, sizeof(*Info));
    StringCopy(Info->Name, C->Name, sizeof(Info->Name));
    Info->PciSegment = C->Pci->Segment;
    Info->PciBus = C->Pci->Bus;
    Info->PciDevice = C->Pci->Device;
    Info->PciFunction = C->Pci->Function;
    Info->VendorId = C->Pci->VendorId;
    Info->DeviceId = C->Pci->DeviceId;
    Info->Version = C->Version;
    Info->State = StateName(C->State);
    StringCopy(Info->Reason, C->StateReason, sizeof(Info->Reason));
    if (C->Polling) {
        StringPrintFormat(Info->Interrupts, sizeof(Info->Interrupts), "polling (%s)", C->PollReason);
    } else if (C->InterruptsActive) {
        StringPrintFormat(Info->Interrupts, sizeof(Info->Interrupts), "%s, vector %u",
                          PCIInterruptModeName(C->Interrupts.Mode), C->Interrupts.Vectors[0]);
    } else {
        StringCopy(Info->Interrupts, "not set up", sizeof(Info->Interrupts));
    }
    Info->InterruptCount = C->InterruptCount;
    Info->EventCount = C->EventCount;
    Info->MaxSlots = C->MaxSlots;
    Info->SlotsEnabled = C->SlotsEnabled;
    Info->MaxPorts = C->MaxPorts;
    Info->ContextSize = C->ContextSize;
    Info->Scratchpads = C->Scratchpads;
    Info->PageSize = C->PageSize;
    Info->Restarts = C->Restarts;
    Info->Handoff = C->Handoff;
    CopyPorts(C, Info);

    U64 Flags = PlatformLockAcquire(C->Lock);
    for (USB_DEVICE* D = C->Devices; D && Info->DeviceCount < USB_INFO_MAX_DEVICES; D = D->Next) {
        CopyDevice(D, &Info->Devices[Info->DeviceCount++]);
    }
    PlatformLockRelease(C->Lock, Flags);
    for (U32 I = 0; I < Info->DeviceCount; I++) {
        const USB_DEVICE_INFO* D = &Info->Devices[I];
        if (D->Tier == 0 && D->RootPort >= 1 && D->RootPort <= Info->PortCount) Info->Ports[D->RootPort - 1].Slot = D->Slot;
    }
    return TRUE;
}
