/*
 * USB-HID-Keyboard.c - the HID boot keyboard class driver: its interrupt
 * IN endpoint's reports become keys in the input stream.
 *
 * Layer: drivers/usb, a class driver on XHCI-Transfer.c, run by the
 * controller thread; the keys go to drivers/console/Input.h like PS/2 and
 * serial keys, through the translation of USB-KeyboardReport.c.
 *
 * Start (HID 1.11 7.2, appendix G; EDK2 InitUSBKeyboard, Linux usbhid):
 * SET_PROTOCOL(boot), because devices come out of reset in report protocol;
 * SET_IDLE(0), reports only on change (a refusal is fine: reports are
 * compared with the previous one anyway); the interrupt endpoint
 * configured; the LEDs set (Num Lock, as the translation starts; some
 * keyboards do not work until their LEDs are set); one report requested.
 * Each report that arrives is translated and the next one requested at
 * once, from event processing. What needs a control transfer (the LEDs
 * after Caps Lock or Num Lock changed, clearing a halted endpoint) or a
 * clock (typematic repeat) is done by USBKeyboardService in the thread's
 * loop, which also tells the loop when the next repeat is due.
 */

#include "drivers/usb/USB-Keyboard.h"

#include "core/Log.h"
#include "drivers/usb/XHCI-Internal.h"
#include "utils/String.h"

typedef struct tag_USB_KEYBOARD {
    USB_KEYBOARD_STATE State;
    U8 Interface;
    U8 LedsSent;
    BOOL LedsPending;
} USB_KEYBOARD;

static INPUT_SOURCE UsbKeys = {"usb", NULL, NULL, NULL};
static BOOL UsbKeysRegistered;

static USB_KEYBOARD* KeyboardOf(const USB_DEVICE* Device) { return (USB_KEYBOARD*)Device->DriverData; }

static KSTATUS ClassRequest(USB_DEVICE* Device, U8 Request, U16 Value, U16 Length, LPVOID Data) {
    USB_KEYBOARD* Keyboard = KeyboardOf(Device);
    U16 Interface = Keyboard ? Keyboard->Interface : Device->InterfaceNumber;
    USB_SETUP Setup = {USB_TYPE_CLASS | USB_RECIPIENT_INTERFACE, Request, Value, Interface, Length};
    return USBControlTransfer(Device, &Setup, Data, NULL);
}

static void SetLeds(USB_DEVICE* Device, USB_KEYBOARD* Keyboard) {
    U8 Leds = USBKeyboardLeds(&Keyboard->State);
    Keyboard->LedsPending = FALSE;
    Keyboard->LedsSent = Leds;
    if (ClassRequest(Device, USB_HID_SET_REPORT, USB_HID_REPORT_OUTPUT, 1, &Leds) != KSTATUS_SUCCESS) {
        DEBUG("[USBKeyboard] %s port %s: the LED report was refused", Device->Controller->Name, Device->Path);
    }
}

/** A report arrived (event processing): keys out, the next report requested. */
static void ReportDone(USB_DEVICE* Device, U32 Code, U32 Transferred) {
    USB_KEYBOARD* Keyboard = KeyboardOf(Device);
    if (Keyboard == NULL || Code != XHCI_CC_SUCCESS) return;  // errors: USBKeyboardService recovers the endpoint
    KEY Keys[USB_KEYBOARD_MAX_KEYS];
    U32 Count = USBKeyboardReport(&Keyboard->State, XHCIInterruptData(Device), Transferred, XHCINowMs(), Keys,
                                  USB_KEYBOARD_MAX_KEYS);
    for (U32 I = 0; I < Count; I++) InputPushKey(Keys[I]);
    if (USBKeyboardLeds(&Keyboard->State) != Keyboard->LedsSent) Keyboard->LedsPending = TRUE;
    XHCIInterruptQueue(Device);
}

KSTATUS USBKeyboardStart(USB_DEVICE* Device, const USB_INTERFACE_INFO* Interface) {
    XHCI_CONTROLLER* C = Device->Controller;
    const USB_ENDPOINT_INFO* Endpoint = USBFindInterruptIn(Interface);
    if (Endpoint == NULL) return KSTATUS_NOT_SUPPORTED;
    if (ClassRequest(Device, USB_HID_SET_PROTOCOL, USB_HID_PROTOCOL_BOOT, 0, NULL) != KSTATUS_SUCCESS) {
        WARNING("[USBKeyboardStart] %s port %s: SET_PROTOCOL(boot) refused: reports may not be boot reports", C->Name,
                Device->Path);
    }
    ClassRequest(Device, USB_HID_SET_IDLE, 0, 0, NULL);
    if (XHCIConfigureInterruptIn(Device, Endpoint, NULL, FALSE, ReportDone) != KSTATUS_SUCCESS) {
        return KSTATUS_IO_ERROR;
    }
    USB_KEYBOARD* Keyboard = (USB_KEYBOARD*)PlatformAllocZero(sizeof(USB_KEYBOARD));
    if (Keyboard == NULL) return KSTATUS_NO_MEMORY;
    USBKeyboardStateInit(&Keyboard->State);
    Keyboard->Interface = Interface->Number;
    Device->DriverData = Keyboard;
    SetLeds(Device, Keyboard);
    if (XHCIInterruptQueue(Device) != KSTATUS_SUCCESS) {
        Device->DriverData = NULL;
        PlatformFree(Keyboard);
        return KSTATUS_IO_ERROR;
    }
    if (!UsbKeysRegistered) {
        UsbKeysRegistered = TRUE;
        InputRegisterSource(&UsbKeys);
    }
    return KSTATUS_SUCCESS;
}

void USBKeyboardStop(USB_DEVICE* Device) {
    USB_KEYBOARD* Keyboard = KeyboardOf(Device);
    if (Keyboard == NULL) return;
    USBKeyboardReleaseAll(&Keyboard->State);  // a key held while unplugged must not repeat
    Device->DriverData = NULL;
    PlatformFree(Keyboard);
}

U64 USBKeyboardService(USB_DEVICE* Device, U64 NowMs) {
    USB_KEYBOARD* Keyboard = KeyboardOf(Device);
    if (Keyboard == NULL) return 0;
    XHCI_ENDPOINT* Endpoint = &Device->Interrupt;
    if (Endpoint->NeedsRecovery) {
        LOG_RATE_LIMITED(LOG_LEVEL_WARNING, 10000, 3, "[USBKeyboardService] %s port %s: report endpoint %s: reset",
                         Device->Controller->Name, Device->Path, XHCICodeText(Endpoint->Code));
        USBKeyboardReleaseAll(&Keyboard->State);
        XHCIEndpointRecover(Device, Endpoint);
    }
    if (!Endpoint->Busy && !Endpoint->NeedsRecovery) XHCIInterruptQueue(Device);
    KEY Key;
    if (USBKeyboardRepeat(&Keyboard->State, NowMs, &Key)) InputPushKey(Key);
    if (Keyboard->LedsPending) SetLeds(Device, Keyboard);
    return USBKeyboardNextRepeat(&Keyboard->State);
}

void USBKeyboardCounts(const USB_DEVICE* Device, U64* Reports, U64* Keys) {
    const USB_KEYBOARD* Keyboard = Device->Kind == USB_DRIVER_KEYBOARD ? KeyboardOf(Device) : NULL;
    *Reports = Keyboard ? Keyboard->State.Reports : 0;
    *Keys = Keyboard ? Keyboard->State.Keys : 0;
}
