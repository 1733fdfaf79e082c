/*
 * ShellUSB.c - the `usb` command: what a tester needs to see of USB.
 *
 *   usb    every xHCI controller (PCI address and IDs, xHCI version, state,
 *          interrupt mode, slots, firmware hand-off), its root ports (the
 *          protocol, link state, speed, the slot of the device on it) and
 *          its devices as a tree by port path (5, 5.1 ...): slot, address,
 *          speed, VID:PID, device and interface class, the driver, and for
 *          keyboards the reports and keys seen.
 *
 * Layer: shell. It reads snapshots (drivers/usb/USB.h), never the driver's
 * own structures.
 */

#include "shell/ShellCommands.h"

#include "drivers/usb/USB.h"
#include "memory/Heap.h"
#include "shell/Shell.h"
#include "utils/Format.h"
#include "utils/String.h"

static void PrintPorts(const USB_CONTROLLER_INFO* Info) {
    ShellPrint("  port  proto  link        state\n");
    for (U32 I = 0; I < Info->PortCount; I++) {
        const USB_PORT_INFO* P = &Info->Ports[I];
        ShellPrint("  %-4u  %u.%x    %-10s  ", P->Number, P->Major, P->Minor >> 4, P->Link);
        if (!P->Powered) ShellPrint("powered off");
        else if (!P->Connected) ShellPrint("empty");
        else if (!P->Enabled) ShellPrint("connected, disabled");
        else ShellPrint("enabled, %s speed", USBSpeedName(P->Speed));
        if (P->OverCurrent) ShellPrint(", over-current");
        if (P->Slot) ShellPrint(", slot %u", P->Slot);
        ShellPrint("\n");
    }
}

/** Devices in path order ("5" < "5.1" < "5.2" < "6"), indented by tier. */
static void PrintDevices(const USB_CONTROLLER_INFO* Info) {
    BOOL Printed[USB_INFO_MAX_DEVICES] = {0};
    ShellPrint("  path        slot addr  speed  id         class     interface  driver\n");
    for (U32 Round = 0; Round < Info->DeviceCount; Round++) {
        I32 Next = -1;
        for (U32 I = 0; I < Info->DeviceCount; I++) {
            if (Printed[I]) continue;
            const USB_DEVICE_INFO* D = &Info->Devices[I];
            if (Next < 0) {
                Next = (I32)I;
                continue;
            }
            const USB_DEVICE_INFO* Best = &Info->Devices[Next];
            // Compare paths number by number: the root port, then each hub port of the route string.
            I32 Order = (I32)D->RootPort - (I32)Best->RootPort;
            for (U32 Tier = 0; Order == 0 && Tier < 5; Tier++) {
                U32 A = Tier < D->Tier ? (D->Route >> (4 * Tier)) & 0xF : 0;
                U32 B = Tier < Best->Tier ? (Best->Route >> (4 * Tier)) & 0xF : 0;
                Order = (I32)A - (I32)B;
            }
            if (Order < 0 || (Order == 0 && D->Tier < Best->Tier)) Next = (I32)I;
        }
        if (Next < 0) break;
        Printed[Next] = TRUE;
        const USB_DEVICE_INFO* D = &Info->Devices[Next];
        char Path[32];
        StringPrintFormat(Path, sizeof(Path), "%*s%s", (int)(2 * D->Tier), "", D->Path);
        ShellPrint("  %-10s  %-4u %-4u  %-5s  %04x:%04x  %02x/%02x/%02x  %02x/%02x/%02x   %s", Path, D->Slot,
                   D->Address, USBSpeedName(D->Speed), D->VendorId, D->ProductId, D->Class, D->SubClass, D->Protocol,
                   D->InterfaceClass, D->InterfaceSubClass, D->InterfaceProtocol, D->Driver);
        if (D->HubPorts) ShellPrint(" (%u ports)", D->HubPorts);
        if (StringCompare(D->Driver, "keyboard") == 0) ShellPrint(" (%llu reports, %llu keys)", D->Reports, D->Keys);
        ShellPrint(", up in %u ms\n", D->EnumerationMs);
    }
}

static I32 CommandUSB(I32 ArgumentCount, LPSTR* Arguments) {
    UNUSED(Arguments);
    if (ArgumentCount != 1) {
        ShellError("usb", "takes no arguments");
        return -1;
    }
    U32 Count = USBGetControllerCount();
    if (Count == 0) {
        ShellPrint("no xHCI controller (or usb=off)\n");
        return 0;
    }
    USB_CONTROLLER_INFO* Info = (USB_CONTROLLER_INFO*)KernelHeapAlloc(sizeof(USB_CONTROLLER_INFO));
    if (Info == NULL) {
        ShellError("usb", "out of memory");
        return -1;
    }
    for (U32 Index = 0; Index < Count; Index++) {
        if (!USBGetControllerInfo(Index, Info)) continue;
        ShellPrint("%s: %04x:%02x:%02x.%x [%04x:%04x] xHCI %x.%02x, %s", Info->Name, Info->PciSegment, Info->PciBus,
                   Info->PciDevice, Info->PciFunction, Info->VendorId, Info->DeviceId, Info->Version >> 8,
                   Info->Version & 0xFF, Info->State);
        if (Info->Reason[0]) ShellPrint(" (%s)", Info->Reason);
        ShellPrint("\n  %u ports, %u of %u slots, %u-byte contexts, %u scratchpads, page %u, restarts %u\n",
                   Info->MaxPorts, Info->SlotsEnabled, Info->MaxSlots, Info->ContextSize, Info->Scratchpads,
                   Info->PageSize, Info->Restarts);
        ShellPrint("  interrupts: %s, %llu taken, %llu events; firmware: %s\n", Info->Interrupts,
                   Info->InterruptCount, Info->EventCount, Info->Handoff ? Info->Handoff : "?");
        if (Info->PortCount) PrintPorts(Info);
        if (Info->DeviceCount) PrintDevices(Info);
        else ShellPrint("  no devices\n");
    }
    KernelHeapFree(Info);
    return 0;
}

static const SHELL_COMMAND USBCommand = {"usb", "",
                                         "xHCI controllers, root ports, USB devices (VID:PID, class, driver, hubs)",
                                         CommandUSB};

void ShellRegisterUSBCommands(void) { ShellRegisterCommand(&USBCommand); }
