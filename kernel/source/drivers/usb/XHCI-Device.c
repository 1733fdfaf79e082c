/*
 * XHCI-Device.c - device enumeration and removal: slot, address,
 * descriptors, configuration, and the class driver that takes the device.
 *
 * Layer: drivers/usb, on the controller thread. The order (fact sheet 7;
 * EDK2 XhcInitializeDeviceSlot, SeaBIOS xhci_alloc_inctx):
 *   Enable Slot (the slot type of the port's protocol) -> output context in
 *   DCBAA[slot] -> input context with the slot (route string, speed, root
 *   port, TT fields behind a high-speed hub) and EP0 (control, CErr 3,
 *   packet size 8/64/512 by speed, a guess of 64 at full speed) -> Address
 *   Device (BSR = 0: the controller sends SET_ADDRESS; never send it
 *   ourselves) -> 2 ms -> the first 8 bytes of the device descriptor, up to
 *   three tries -> Evaluate Context when bMaxPacketSize0 differs -> the
 *   device descriptor -> the configuration descriptor (9 bytes, then
 *   wTotalLength) -> a class driver: a HID boot keyboard interface, or a
 *   hub; it sets the configuration and its endpoint. A device no driver
 *   wants stays addressed and listed (the `usb` command shows it).
 * Every failure gives the slot back (Disable Slot) and frees the device;
 * nothing is retried except the first descriptor read.
 *
 * Logging: a device that comes up logs exactly one line, and one that
 * goes (unplugged, or its hub went) exactly one line.
 *
 * Invariants: C->Slots[slot] names the device while its slot is enabled;
 * a device is on C->Devices (under C->Lock) from the end of a successful
 * enumeration until its removal starts; children go before their hub.
 */

#include "drivers/usb/XHCI-Internal.h"

#include "core/Log.h"
#include "utils/String.h"

#define DESCRIPTOR_TRIES 3
#define DESCRIPTOR_RETRY_MS 100

LPCSTR USBDriverName(USB_DRIVER_KIND Kind) {
    switch (Kind) {
        case USB_DRIVER_KEYBOARD: return "keyboard";
        case USB_DRIVER_HUB: return "hub";
        default: return "none";
    }
}

USB_DEVICE* XHCIDeviceAt(XHCI_CONTROLLER* C, USB_DEVICE* Parent, U8 Port) {
    for (USB_DEVICE* D = C->Devices; D; D = D->Next) {
        if (D->Parent == Parent && (Parent ? D->ParentPort : D->RootPort) == Port) return D;
    }
    return NULL;
}

/************************************************************************/
// Memory

static BOOL AllocatePage(PLATFORM_DMA* Memory) {
    return PlatformDMAAlloc(XHCI_PAGE, XHCI_PAGE, PLATFORM_DMA_BELOW_4GB, Memory) == KSTATUS_SUCCESS;
}

static void FreeDevice(USB_DEVICE* D) {
    PlatformDMAFree(&D->OutputContext);
    PlatformDMAFree(&D->InputContext);
    PlatformDMAFree(&D->Data);
    PlatformDMAFree(&D->Control.RingMemory);
    PlatformDMAFree(&D->Interrupt.RingMemory);
    PlatformFree(D);
}

/** Where the device sits: route string, tier, root port, TT, speed ID, path. */
static BOOL Locate(XHCI_CONTROLLER* C, USB_DEVICE* D, const USB_LOCATION* Where) {
    D->Speed = Where->Speed;
    D->Parent = Where->Parent;
    D->ParentPort = Where->ParentPort;
    if (Where->Parent == NULL) {
        D->RootPort = Where->RootPort;
    } else {
        USB_DEVICE* Hub = Where->Parent;
        if (!USBRouteChild(Hub->Route, Hub->Tier, Where->ParentPort, &D->Route)) return FALSE;
        D->Tier = (U8)(Hub->Tier + 1);
        D->RootPort = Hub->RootPort;
        // LS/FS behind a high-speed hub use its transaction translator; deeper ones inherit it.
        if (D->Speed <= USB_SPEED_FULL) {
            D->TTSlot = Hub->Speed == USB_SPEED_HIGH ? Hub->Slot : Hub->TTSlot;
            D->TTPort = Hub->Speed == USB_SPEED_HIGH ? Where->ParentPort : Hub->TTPort;
        }
    }
    D->SpeedId = XHCIProtocolSpeedId(XHCIPortProtocolOf(C, D->RootPort), D->Speed);
    USBFormatPath(D->RootPort, D->Route, D->Tier, D->Path, sizeof(D->Path));
    return TRUE;
}

/************************************************************************/
// Steps

static KSTATUS EnableSlot(XHCI_CONTROLLER* C, USB_DEVICE* D, LPCSTR* Why) {
    const XHCI_PROTOCOL* Protocol = XHCIPortProtocolOf(C, D->RootPort);
    XHCI_TRB Trb = {0, 0, 0,
                    (XHCI_TRB_ENABLE_SLOT << XHCI_TRB_TYPE_SHIFT) |
                        ((U32)(Protocol ? Protocol->SlotType : 0) << XHCI_TRB_SLOT_TYPE_SHIFT)};
    XHCI_TRB Completion;
    KSTATUS Status = XHCICommand(C, &Trb, &Completion);
    U32 Slot = XHCI_TRB_SLOT(Completion.Control);
    if (Status != KSTATUS_SUCCESS || Slot == 0 || Slot > C->SlotsEnabled || C->Slots[Slot] != NULL) {
        *Why = Status == KSTATUS_SUCCESS ? "the controller gave a bad slot" : XHCICodeText(XHCI_EVENT_CODE(Completion.Status));
        return Status == KSTATUS_SUCCESS ? KSTATUS_UNEXPECTED : Status;
    }
    D->Slot = (U8)Slot;
    C->Slots[Slot] = D;
    ((U64*)C->Dcbaa.Linear)[Slot] = D->OutputContext.Physical;
    PlatformWriteBarrier();
    return KSTATUS_SUCCESS;
}

static void WriteControlEndpoint(USB_DEVICE* D, U16 MaxPacket) {
    XHCI_CONTROLLER* C = D->Controller;
    XHCI_ENDPOINT_FIELDS Fields = {XHCI_EP_TYPE_CONTROL, MaxPacket, 0, 0, XHCIRingDequeueValue(&D->Control.Ring), 8, 0};
    XHCIWriteEndpointContext(XHCIInputContext(D, XHCIInputEndpointOffset(C->ContextSize, 1)), &Fields);
    D->Control.MaxPacket = MaxPacket;
}

static KSTATUS AddressDevice(XHCI_CONTROLLER* C, USB_DEVICE* D, LPCSTR* Why) {
    MemorySet(D->InputContext.Linear, 0, XHCI_PAGE);
    XHCIInputContext(D, 0)[1] = 0x3;  // add the slot and EP0 (QEMU demands exactly these)
    XHCI_SLOT_FIELDS Slot;
    XHCIDeviceSlotFields(D, 1, &Slot);
    XHCIWriteSlotContext(XHCIInputContext(D, XHCIInputSlotOffset(C->ContextSize)), &Slot);
    WriteControlEndpoint(D, USBInitialMaxPacket0(D->Speed));
    PlatformWriteBarrier();
    XHCI_TRB Completion;
    KSTATUS Status =
        XHCISlotCommand(C, XHCI_TRB_ADDRESS_DEVICE, D->Slot, 0, D->InputContext.Physical, &Completion);
    if (Status != KSTATUS_SUCCESS) {
        *Why = XHCICodeText(XHCI_EVENT_CODE(Completion.Status));
        return Status;
    }
    D->Address = (U8)XHCI_SLOT_ADDRESS(((volatile U32*)D->OutputContext.Linear)[3]);
    PlatformSleepMs(USB_SET_ADDRESS_RECOVERY_MS);
    return KSTATUS_SUCCESS;
}

static KSTATUS GetDescriptor(USB_DEVICE* D, U8 Type, U16 Length, LPVOID Buffer, U32* Got) {
    USB_SETUP Setup = {USB_DIR_IN, USB_REQUEST_GET_DESCRIPTOR, (U16)(Type << 8), 0, Length};
    return USBControlTransfer(D, &Setup, Buffer, Got);
}

/** The first 8 bytes (bMaxPacketSize0), then EP0's packet size corrected with Evaluate Context. */
static KSTATUS FixMaxPacket0(XHCI_CONTROLLER* C, USB_DEVICE* D, LPCSTR* Why) {
    U8 Prefix[8];
    U32 Got = 0;
    KSTATUS Status = KSTATUS_IO_ERROR;
    for (U32 Try = 0; Try < DESCRIPTOR_TRIES && !C->Dead; Try++) {
        if (Try) PlatformSleepMs(DESCRIPTOR_RETRY_MS);
        Status = GetDescriptor(D, USB_DESCRIPTOR_DEVICE, sizeof(Prefix), Prefix, &Got);
        if (Status == KSTATUS_SUCCESS && Got == sizeof(Prefix)) break;
        Status = KSTATUS_IO_ERROR;
    }
    USB_DEVICE_DESCRIPTOR Descriptor;
    if (Status != KSTATUS_SUCCESS || !USBParseDeviceDescriptor(Prefix, Got, &Descriptor)) {
        *Why = "no device descriptor";
        return KSTATUS_IO_ERROR;
    }
    U16 MaxPacket = USBMaxPacket0FromDescriptor(D->Speed, Descriptor.MaxPacket0);
    if (MaxPacket == 0) {
        WARNING("[XHCIDeviceEnumerate] %s port %s: bMaxPacketSize0 %u is invalid at %s speed: %u kept", C->Name,
                D->Path, Descriptor.MaxPacket0, USBSpeedName(D->Speed), D->Control.MaxPacket);
        return KSTATUS_SUCCESS;
    }
    if (MaxPacket == D->Control.MaxPacket) return KSTATUS_SUCCESS;
    MemorySet(D->InputContext.Linear, 0, XHCI_PAGE);
    XHCIInputContext(D, 0)[1] = 0x2;  // evaluate EP0 only
    WriteControlEndpoint(D, MaxPacket);
    PlatformWriteBarrier();
    XHCI_TRB Completion;
    Status = XHCISlotCommand(C, XHCI_TRB_EVALUATE_CONTEXT, D->Slot, 0, D->InputContext.Physical, &Completion);
    if (Status != KSTATUS_SUCCESS) *Why = "Evaluate Context failed";
    return Status;
}

static KSTATUS ReadDescriptors(USB_DEVICE* D, USB_CONFIGURATION_INFO* Configuration, LPCSTR* Why) {
    U8 Device[USB_DEVICE_DESCRIPTOR_SIZE];
    U32 Got = 0;
    if (GetDescriptor(D, USB_DESCRIPTOR_DEVICE, sizeof(Device), Device, &Got) != KSTATUS_SUCCESS ||
        Got < sizeof(Device) || !USBParseDeviceDescriptor(Device, Got, &D->Descriptor)) {
        *Why = "bad device descriptor";
        return KSTATUS_IO_ERROR;
    }
    U8* Buffer = (U8*)PlatformAlloc(XHCI_CONTROL_BUFFER);
    if (Buffer == NULL) {
        *Why = "out of memory";
        return KSTATUS_NO_MEMORY;
    }
    KSTATUS Status = GetDescriptor(D, USB_DESCRIPTOR_CONFIGURATION, USB_CONFIGURATION_DESCRIPTOR_SIZE, Buffer, &Got);
    U16 Total = Status == KSTATUS_SUCCESS ? USBConfigurationTotalLength(Buffer, Got) : 0;
    if (Total != 0) {
        U16 Length = (U16)MIN((U32)Total, (U32)XHCI_CONTROL_BUFFER);
        Status = GetDescriptor(D, USB_DESCRIPTOR_CONFIGURATION, Length, Buffer, &Got);
    }
    // A malformed tail still leaves what came before it (the keyboard interface is usually first).
    if (Total == 0 || Status != KSTATUS_SUCCESS ||
        (USBParseConfiguration(Buffer, Got, Configuration) != KSTATUS_SUCCESS && Configuration->ParsedInterfaces == 0)) {
        *Why = "bad configuration descriptor";
        Status = KSTATUS_IO_ERROR;
    }
    PlatformFree(Buffer);
    return Status;
}

/** Picks a class driver and starts it (it sets the configuration and its endpoint). */
static KSTATUS StartDriver(USB_DEVICE* D, const USB_CONFIGURATION_INFO* Configuration, LPCSTR* Why) {
    const USB_INTERFACE_INFO* Keyboard =
        USBFindInterface(Configuration, USB_CLASS_HID, USB_HID_SUBCLASS_BOOT, USB_HID_PROTOCOL_KEYBOARD);
    const USB_INTERFACE_INFO* Hub = USBFindInterface(Configuration, USB_CLASS_HUB, 0xFF, 0xFF);
    const USB_INTERFACE_INFO* Chosen = NULL;
    if (Keyboard && USBFindInterruptIn(Keyboard)) Chosen = Keyboard;
    else if (Hub && USBFindInterruptIn(Hub) && D->Speed <= USB_SPEED_HIGH) Chosen = Hub;  // no USB 3 hubs
    else if (Configuration->ParsedInterfaces) Chosen = &Configuration->Interfaces[0];
    if (Chosen) {
        D->InterfaceNumber = Chosen->Number;
        D->InterfaceClass = Chosen->Class;
        D->InterfaceSubClass = Chosen->SubClass;
        D->InterfaceProtocol = Chosen->Protocol;
    }
    if (Chosen == NULL || (Chosen != Keyboard && Chosen != Hub)) return KSTATUS_SUCCESS;  // no driver: left addressed

    USB_SETUP Set = {0, USB_REQUEST_SET_CONFIGURATION, Configuration->Value, 0, 0};
    if (USBControlTransfer(D, &Set, NULL, NULL) != KSTATUS_SUCCESS) {
        *Why = "SET_CONFIGURATION failed";
        return KSTATUS_IO_ERROR;
    }
    D->Configuration = Configuration->Value;
    D->Kind = Chosen == Keyboard ? USB_DRIVER_KEYBOARD : USB_DRIVER_HUB;
    KSTATUS Status = D->Kind == USB_DRIVER_KEYBOARD ? USBKeyboardStart(D, Chosen) : USBHubStart(D, Chosen);
    if (Status != KSTATUS_SUCCESS) {
        *Why = D->Kind == USB_DRIVER_KEYBOARD ? "the keyboard did not start" : "the hub did not start";
        D->Kind = USB_DRIVER_NONE;
    }
    return Status;
}

/************************************************************************/

static void DisableSlot(XHCI_CONTROLLER* C, USB_DEVICE* D) {
    if (D->Slot == 0) return;
    BOOL Released = C->Dead;  // a dead controller reads no contexts any more
    if (!C->Dead) {
        XHCI_TRB Completion;
        Released = XHCISlotCommand(C, XHCI_TRB_DISABLE_SLOT, D->Slot, 0, 0, &Completion) == KSTATUS_SUCCESS;
    }
    C->Slots[D->Slot] = NULL;
    ((U64*)C->Dcbaa.Linear)[D->Slot] = 0;
    D->Slot = Released ? 0 : D->Slot;
}

static void Abandon(XHCI_CONTROLLER* C, USB_DEVICE* D) {
    U8 Slot = D->Slot;
    DisableSlot(C, D);
    if (D->Slot != 0) {
        // The controller may still own the slot's memory: better lost than written into after reuse.
        WARNING("[XHCIDeviceRemove] %s slot %u: Disable Slot failed: its memory is not reused", C->Name, Slot);
        return;
    }
    FreeDevice(D);
}

USB_DEVICE* XHCIDeviceEnumerate(XHCI_CONTROLLER* C, const USB_LOCATION* Where, U64 ConnectedMs) {
    USB_DEVICE* D = (USB_DEVICE*)PlatformAllocZero(sizeof(USB_DEVICE));
    LPCSTR Why = "out of memory";
    if (D == NULL) return NULL;
    D->Controller = C;
    if (!AllocatePage(&D->OutputContext) || !AllocatePage(&D->InputContext) || !AllocatePage(&D->Data) ||
        !AllocatePage(&D->Control.RingMemory)) {
        WARNING("[XHCIDeviceEnumerate] %s: out of DMA memory for a device", C->Name);
        FreeDevice(D);
        return NULL;
    }
    XHCIRingInit(&D->Control.Ring, (XHCI_TRB*)D->Control.RingMemory.Linear, D->Control.RingMemory.Physical,
                 XHCI_RING_TRBS);
    D->Control.Ring.ChainLinks = C->Version < 0x0096;
    D->Control.Dci = 1;
    if (!Locate(C, D, Where)) {
        WARNING("[XHCIDeviceEnumerate] %s: a device behind %u tiers of hubs is too deep", C->Name, USB_MAX_TIERS);
        FreeDevice(D);
        return NULL;
    }
    USB_CONFIGURATION_INFO* Configuration = (USB_CONFIGURATION_INFO*)PlatformAllocZero(sizeof(*Configuration));
    KSTATUS Status = Configuration ? EnableSlot(C, D, &Why) : KSTATUS_NO_MEMORY;
    if (Status == KSTATUS_SUCCESS) Status = AddressDevice(C, D, &Why);
    if (Status == KSTATUS_SUCCESS) Status = FixMaxPacket0(C, D, &Why);
    if (Status == KSTATUS_SUCCESS) Status = ReadDescriptors(D, Configuration, &Why);
    if (Status == KSTATUS_SUCCESS) Status = StartDriver(D, Configuration, &Why);
    PlatformFree(Configuration);
    if (Status != KSTATUS_SUCCESS) {
        WARNING("[XHCIDeviceEnumerate] %s port %s: %s-speed device not usable: %s", C->Name, D->Path,
                USBSpeedName(D->Speed), Why);
        Abandon(C, D);
        return NULL;
    }

    D->EnumerationMs = (U32)(XHCINowMs() - ConnectedMs);
    U64 Flags = PlatformLockAcquire(C->Lock);
    D->Next = C->Devices;
    C->Devices = D;
    D->Listed = TRUE;
    PlatformLockRelease(C->Lock, Flags);
    USB_DEVICE_DESCRIPTOR* Desc = &D->Descriptor;
    if (D->Kind == USB_DRIVER_NONE) {
        INFO("[XHCIDeviceEnumerate] %s port %s: %04x:%04x class %02x, interface %02x/%02x/%02x, %s speed, slot %u: "
             "no driver", C->Name, D->Path, Desc->VendorId, Desc->ProductId, Desc->Class, D->InterfaceClass,
             D->InterfaceSubClass, D->InterfaceProtocol, USBSpeedName(D->Speed), D->Slot);
    } else {
        INFO("[XHCIDeviceEnumerate] %s port %s: %s %04x:%04x, %s speed, slot %u, ready in %u ms", C->Name, D->Path,
             USBDriverName(D->Kind), Desc->VendorId, Desc->ProductId, USBSpeedName(D->Speed), D->Slot,
             D->EnumerationMs);
    }
    return D;
}

void XHCIDeviceRemove(USB_DEVICE* D, BOOL Unplugged) {
    XHCI_CONTROLLER* C = D->Controller;
    // Children first, so no event of theirs refers to a hub that is gone.
    for (USB_DEVICE* Child = C->Devices; Child;) {
        USB_DEVICE* Next = Child->Next;
        if (Child->Parent == D) {
            XHCIDeviceRemove(Child, Unplugged);
            Next = C->Devices;  // the list changed
        }
        Child = Next;
    }
    // Unlisted first: the shell's snapshot (under Lock) must not read a class driver's data being freed.
    U64 Flags = PlatformLockAcquire(C->Lock);
    for (USB_DEVICE** Link = &C->Devices; *Link; Link = &(*Link)->Next) {
        if (*Link == D) {
            *Link = D->Next;
            break;
        }
    }
    D->Listed = FALSE;
    PlatformLockRelease(C->Lock, Flags);
    if (D->Kind == USB_DRIVER_KEYBOARD) USBKeyboardStop(D);
    if (D->Kind == USB_DRIVER_HUB) USBHubStop(D);
    if (Unplugged) {
        INFO("[XHCIDeviceRemove] %s port %s: %s %04x:%04x unplugged (slot %u)", C->Name, D->Path,
             D->Kind == USB_DRIVER_NONE ? "device" : USBDriverName(D->Kind), D->Descriptor.VendorId,
             D->Descriptor.ProductId, D->Slot);
    }
    Abandon(C, D);
}
