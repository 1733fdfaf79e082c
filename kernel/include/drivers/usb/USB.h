/*
 * USB.h - the USB host side for keyboards: xHCI controllers, hubs and HID
 * boot keyboards, as the rest of the kernel sees it.
 *
 * KernelMain registers the PCI driver (class 0x0C0330) before PCI
 * enumeration; each controller found is brought up by its own thread, so a
 * dead controller or device never holds up the boot. Keys typed on a USB
 * keyboard join the input stream (drivers/console/Input.h) like PS/2 and
 * serial keys. The shell's `usb` command reads snapshots through
 * USBGetControllerInfo. documentation/USB.md describes the design.
 *
 * Boot options: usb=off (leave every xHCI controller to the firmware),
 * usb.poll=1 (no interrupts: read the event ring every few milliseconds),
 * usb.irq=msix|msi|intx (the only interrupt mode to try).
 */

#ifndef DRIVERS_USB_USB_H_INCLUDED
#define DRIVERS_USB_USB_H_INCLUDED

#include "Base.h"
#include "drivers/usb/USB-Spec.h"

/** Registers the xHCI driver with the PCI registry (before PCIInit binds drivers). */
void USBRegisterDriver(void);
/**
 * Waits at most TimeoutMs for every controller to finish its first look at
 * its ports (devices present at boot enumerated or given up). Returns FALSE
 * when time ran out; the controllers carry on in their threads either way.
 */
BOOL USBWaitSettled(U32 TimeoutMs);

#define USB_INFO_MAX_PORTS 64
#define USB_INFO_MAX_DEVICES 32

typedef struct tag_USB_PORT_INFO {
    U8 Number;
    U8 Major, Minor;        // protocol of the port (2.0, 3.0 ...)
    U32 PortSc;
    USB_SPEED Speed;        // valid when enabled
    BOOL Connected, Enabled, Powered, OverCurrent;
    LPCSTR Link;            // link state name
    U8 Slot;                // the device's slot, 0 for none
} USB_PORT_INFO;

typedef struct tag_USB_DEVICE_INFO {
    U8 Slot, Address;
    USB_SPEED Speed;
    char Path[24];          // "5", "5.1"
    U8 Tier;
    U8 RootPort;
    U8 ParentSlot;
    U32 Route;
    U16 VendorId, ProductId, UsbVersion;
    U8 Class, SubClass, Protocol;               // device descriptor
    U8 InterfaceClass, InterfaceSubClass, InterfaceProtocol;  // the interface a driver took
    LPCSTR Driver;          // "keyboard", "hub", "none"
    U32 HubPorts;
    U32 EnumerationMs;      // connect seen -> driver running
    U64 Reports, Keys;      // keyboards
} USB_DEVICE_INFO;

typedef struct tag_USB_CONTROLLER_INFO {
    char Name[8];
    U32 PciSegment;
    U8 PciBus, PciDevice, PciFunction;
    U16 VendorId, DeviceId;
    U16 Version;            // HCIVERSION
    LPCSTR State;           // "starting", "running", "failed"
    char Reason[96];
    char Interrupts[48];    // "MSI-X (1 vector)", "polling (usb.poll=1)"
    U64 InterruptCount, EventCount;
    U32 MaxSlots, SlotsEnabled, MaxPorts, ContextSize, Scratchpads, PageSize, Restarts;
    LPCSTR Handoff;
    U32 PortCount;
    USB_PORT_INFO Ports[USB_INFO_MAX_PORTS];
    U32 DeviceCount;
    USB_DEVICE_INFO Devices[USB_INFO_MAX_DEVICES];
} USB_CONTROLLER_INFO;

U32 USBGetControllerCount(void);
/** A consistent snapshot of controller Index; FALSE when there is none. */
BOOL USBGetControllerInfo(U32 Index, USB_CONTROLLER_INFO* Info);

#endif  // DRIVERS_USB_USB_H_INCLUDED
