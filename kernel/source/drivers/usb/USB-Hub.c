/*
 * USB-Hub.c - the hub class driver: a keyboard behind a hub (or a hub in a
 * keyboard) works like one on a root port.
 *
 * Layer: drivers/usb, a class driver on XHCI-Transfer.c, run by the
 * controller thread. USB 2.0 hubs only (a USB 3 hub's USB 2 half shows up
 * on the USB 2 root port and serves keyboards; SET_HUB_DEPTH and the
 * SuperSpeed hub descriptor are not needed for that).
 *
 * Start (USB 2.0 11.23, 11.24; EDK2 UsbHubInit, SeaBIOS usb_hub_setup):
 * the hub descriptor (port count, power switching, power-on time, TT think
 * time), the status change endpoint configured together with the slot's
 * Hub, Number of Ports and TT fields (one Configure Endpoint command), every
 * port powered, then bPwrOn2PwrGood * 2 ms, and every port looked at once.
 * After that the status change endpoint (bit n = port n, bit 0 = the hub)
 * says which ports to look at. A port: GetPortStatus, every change bit
 * acknowledged, a device gone is removed, a new one debounced (100 ms),
 * reset (SetPortFeature(RESET), C_RESET within 500 ms, 10 ms recovery),
 * its speed read (LOW_SPEED, HIGH_SPEED, else full) and enumerated with
 * the route string of the hub plus this port.
 *
 * QEMU's usb-hub is a full-speed USB 1.1 hub with 8 ports, no power
 * switching, instant resets that set C_ENABLE too (acknowledged like any
 * change): the high-speed TT fields cannot be exercised there.
 */

#include "drivers/usb/XHCI-Internal.h"

#include "core/Log.h"
#include "utils/String.h"

#define HUB_MAX_PORTS 15          // a route string nibble addresses 15 ports
#define HUB_DESCRIPTOR_REQUEST 32
#define HUB_RESET_POLL_MS 10
#define HUB_SERVICE_LIMIT 64      // ports handled per pass of the thread's loop

typedef struct tag_USB_HUB {
    USB_HUB_DESCRIPTOR Descriptor;
    U32 Ports;            // driven (at most HUB_MAX_PORTS)
    U32 PendingPorts;     // bit n: look at port n
    BOOL HubChange;       // bit 0 of the status change bitmap
} USB_HUB;

static USB_HUB* HubOf(const USB_DEVICE* Device) { return (USB_HUB*)Device->DriverData; }

U32 USBHubPortCount(const USB_DEVICE* Device) {
    return Device->Kind == USB_DRIVER_HUB && Device->DriverData ? HubOf(Device)->Ports : 0;
}

/** The status change endpoint delivered a bitmap (event processing: no waiting here). */
static void StatusChange(USB_DEVICE* Device, U32 Code, U32 Transferred) {
    USB_HUB* Hub = HubOf(Device);
    if (Hub == NULL || Code != XHCI_CC_SUCCESS) return;  // an error: the thread recovers the endpoint
    const U8* Bitmap = XHCIInterruptData(Device);
    for (U32 Bit = 0; Bit < Transferred * 8 && Bit <= Hub->Ports; Bit++) {
        if (!(Bitmap[Bit / 8] & (1U << (Bit % 8)))) continue;
        if (Bit == 0) Hub->HubChange = TRUE;
        else Hub->PendingPorts |= 1U << Bit;
    }
    XHCIInterruptQueue(Device);
}

static KSTATUS PortRequest(USB_DEVICE* Device, U8 Request, U16 Feature, U32 Port) {
    USB_SETUP Setup = {USB_TYPE_CLASS | USB_RECIPIENT_OTHER, Request, Feature, (U16)Port, 0};
    return USBControlTransfer(Device, &Setup, NULL, NULL);
}

static KSTATUS PortStatus(USB_DEVICE* Device, U32 Port, U16* Status, U16* Change) {
    U8 Data[4];
    U32 Got = 0;
    USB_SETUP Setup = {USB_DIR_IN | USB_TYPE_CLASS | USB_RECIPIENT_OTHER, USB_HUB_GET_STATUS, 0, (U16)Port, 4};
    KSTATUS Result = USBControlTransfer(Device, &Setup, Data, &Got);
    if (Result != KSTATUS_SUCCESS || Got < 4) return Result == KSTATUS_SUCCESS ? KSTATUS_IO_ERROR : Result;
    *Status = (U16)(Data[0] | (Data[1] << 8));
    *Change = (U16)(Data[2] | (Data[3] << 8));
    return KSTATUS_SUCCESS;
}

static void AcknowledgeChanges(USB_DEVICE* Device, U32 Port, U16 Change) {
    static const struct {
        U16 Bit;
        U16 Feature;
    } Changes[] = {
        {USB_PORT_C_CONNECTION, USB_HUB_C_PORT_CONNECTION}, {USB_PORT_C_ENABLE, USB_HUB_C_PORT_ENABLE},
        {USB_PORT_C_SUSPEND, USB_HUB_C_PORT_SUSPEND},       {USB_PORT_C_OVER_CURRENT, USB_HUB_C_PORT_OVER_CURRENT},
        {USB_PORT_C_RESET, USB_HUB_C_PORT_RESET},
    };
    for (U32 I = 0; I < ARRAY_COUNT(Changes); I++) {
        if (Change & Changes[I].Bit) PortRequest(Device, USB_HUB_CLEAR_FEATURE, Changes[I].Feature, Port);
    }
}

/** Resets a hub port; TRUE with *Status when it came back enabled. */
static BOOL ResetPort(USB_DEVICE* Device, U32 Port, U16* Status) {
    U16 Change = 0;
    if (PortRequest(Device, USB_HUB_SET_FEATURE, USB_HUB_PORT_RESET, Port) != KSTATUS_SUCCESS) return FALSE;
    U64 Deadline = XHCINowMs() + USB_RESET_TIMEOUT_MS;
    for (;;) {
        PlatformSleepMs(HUB_RESET_POLL_MS);
        if (PortStatus(Device, Port, Status, &Change) != KSTATUS_SUCCESS) return FALSE;
        if ((Change & USB_PORT_C_RESET) || (!(*Status & USB_PORT_RESET) && (*Status & USB_PORT_ENABLE))) break;
        if (XHCINowMs() >= Deadline) break;
    }
    AcknowledgeChanges(Device, Port, Change & (USB_PORT_C_RESET | USB_PORT_C_ENABLE));
    PlatformSleepMs(USB_RESET_RECOVERY_MS);
    if (PortStatus(Device, Port, Status, &Change) != KSTATUS_SUCCESS) return FALSE;
    return (*Status & USB_PORT_CONNECTION) && (*Status & USB_PORT_ENABLE);
}

static void ServicePort(USB_DEVICE* Device, U32 Port) {
    XHCI_CONTROLLER* C = Device->Controller;
    U16 Status = 0, Change = 0;
    if (PortStatus(Device, Port, &Status, &Change) != KSTATUS_SUCCESS) {
        LOG_RATE_LIMITED(LOG_LEVEL_WARNING, 10000, 3, "[USBHubService] %s hub %s: port %u status unreadable",
                         C->Name, Device->Path, Port);
        return;
    }
    AcknowledgeChanges(Device, Port, Change);
    if (Change & USB_PORT_C_OVER_CURRENT) {
        LOG_RATE_LIMITED(LOG_LEVEL_WARNING, 10000, 3, "[USBHubService] %s hub %s: port %u over-current", C->Name,
                         Device->Path, Port);
    }
    USB_DEVICE* Child = XHCIDeviceAt(C, Device, (U8)Port);
    if (Child && (!(Status & USB_PORT_CONNECTION) || !(Status & USB_PORT_ENABLE) || (Change & USB_PORT_C_CONNECTION))) {
        XHCIDeviceRemove(Child, TRUE);
        Child = NULL;
    }
    if (Child || !(Status & USB_PORT_CONNECTION)) return;
    PlatformSleepMs(USB_DEBOUNCE_MS);
    U64 Started = XHCINowMs();
    if (PortStatus(Device, Port, &Status, &Change) != KSTATUS_SUCCESS || !(Status & USB_PORT_CONNECTION)) return;
    if (!ResetPort(Device, Port, &Status)) {
        WARNING("[USBHubService] %s hub %s: port %u not enabled after reset (status %x)", C->Name, Device->Path, Port,
                Status);
        return;
    }
    USB_SPEED Speed = (Status & USB_PORT_LOW_SPEED) ? USB_SPEED_LOW
                                                    : ((Status & USB_PORT_HIGH_SPEED) ? USB_SPEED_HIGH : USB_SPEED_FULL);
    USB_LOCATION Where = {Device->RootPort, Speed, Device, (U8)Port};
    XHCIDeviceEnumerate(C, &Where, Started);
}

static void ServiceHubStatus(USB_DEVICE* Device) {
    U8 Data[4];
    U32 Got = 0;
    USB_SETUP Get = {USB_DIR_IN | USB_TYPE_CLASS, USB_HUB_GET_STATUS, 0, 0, 4};
    if (USBControlTransfer(Device, &Get, Data, &Got) != KSTATUS_SUCCESS || Got < 4) return;
    U16 Change = (U16)(Data[2] | (Data[3] << 8));
    for (U16 Feature = USB_HUB_C_LOCAL_POWER; Feature <= USB_HUB_C_OVER_CURRENT; Feature++) {
        if (!(Change & (1U << Feature))) continue;
        USB_SETUP Clear = {USB_TYPE_CLASS, USB_HUB_CLEAR_FEATURE, Feature, 0, 0};
        USBControlTransfer(Device, &Clear, NULL, NULL);
    }
    if (Change & (1U << USB_HUB_C_OVER_CURRENT)) {
        LOG_RATE_LIMITED(LOG_LEVEL_WARNING, 10000, 3, "[USBHubService] %s hub %s: over-current", Device->Controller->Name,
                         Device->Path);
    }
}

/** One piece of work for one hub; FALSE when no hub had any. */
static BOOL ServiceOne(XHCI_CONTROLLER* C) {
    for (USB_DEVICE* Device = C->Devices; Device; Device = Device->Next) {
        USB_HUB* Hub = HubOf(Device);
        if (Device->Kind != USB_DRIVER_HUB || Hub == NULL) continue;
        if (Device->Interrupt.NeedsRecovery) {
            if (XHCIEndpointRecover(Device, &Device->Interrupt) == KSTATUS_SUCCESS) XHCIInterruptQueue(Device);
            else Hub->PendingPorts = 0;  // a hub that keeps failing is left as it is
            return TRUE;
        }
        if (Hub->HubChange) {
            Hub->HubChange = FALSE;
            ServiceHubStatus(Device);
            return TRUE;
        }
        for (U32 Port = 1; Port <= Hub->Ports; Port++) {
            if (!(Hub->PendingPorts & (1U << Port))) continue;
            Hub->PendingPorts &= ~(1U << Port);
            ServicePort(Device, Port);
            return TRUE;  // the device list may have changed: start over
        }
    }
    return FALSE;
}

void USBHubService(XHCI_CONTROLLER* C) {
    for (U32 Done = 0; Done < HUB_SERVICE_LIMIT && !C->Dead && ServiceOne(C); Done++) {
        XHCIProcessEvents(C);
        XHCIPortsService(C);  // a root port change (the hub itself unplugged) goes first
    }
}

KSTATUS USBHubStart(USB_DEVICE* Device, const USB_INTERFACE_INFO* Interface) {
    XHCI_CONTROLLER* C = Device->Controller;
    const USB_ENDPOINT_INFO* Endpoint = USBFindInterruptIn(Interface);
    USB_HUB* Hub = (USB_HUB*)PlatformAllocZero(sizeof(USB_HUB));
    if (Endpoint == NULL || Hub == NULL) {
        PlatformFree(Hub);
        return KSTATUS_NO_MEMORY;
    }
    U8 Data[HUB_DESCRIPTOR_REQUEST];
    U32 Got = 0;
    USB_SETUP Get = {USB_DIR_IN | USB_TYPE_CLASS, USB_REQUEST_GET_DESCRIPTOR, USB_DESCRIPTOR_HUB << 8, 0, sizeof(Data)};
    if (USBControlTransfer(Device, &Get, Data, &Got) != KSTATUS_SUCCESS ||
        !USBParseHubDescriptor(Data, Got, &Hub->Descriptor)) {
        PlatformFree(Hub);
        return KSTATUS_IO_ERROR;
    }
    Hub->Ports = MIN((U32)Hub->Descriptor.PortCount, (U32)HUB_MAX_PORTS);
    if (Hub->Descriptor.PortCount > HUB_MAX_PORTS) {
        WARNING("[USBHubStart] %s hub %s: %u ports, the first %u are driven", C->Name, Device->Path,
                Hub->Descriptor.PortCount, HUB_MAX_PORTS);
    }
    // Single-TT operation (alternate setting 0), as EDK2 does: MTT stays 0.
    if (XHCIConfigureInterruptIn(Device, Endpoint, &Hub->Descriptor, FALSE, StatusChange) != KSTATUS_SUCCESS) {
        PlatformFree(Hub);
        return KSTATUS_IO_ERROR;
    }
    Device->DriverData = Hub;
    for (U32 Port = 1; Port <= Hub->Ports; Port++) PortRequest(Device, USB_HUB_SET_FEATURE, USB_HUB_PORT_POWER, Port);
    PlatformSleepMs(MAX((U32)Hub->Descriptor.PowerOnToGoodMs, 2U));
    for (U32 Port = 1; Port <= Hub->Ports; Port++) Hub->PendingPorts |= 1U << Port;  // look at every port once
    XHCIInterruptQueue(Device);
    return KSTATUS_SUCCESS;
}

void USBHubStop(USB_DEVICE* Device) {
    PlatformFree(Device->DriverData);
    Device->DriverData = NULL;
}
