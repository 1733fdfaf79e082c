/*
 * USB-Keyboard.h - HID boot keyboard reports turned into keys
 * (USB-KeyboardReport.c, pure).
 *
 * Layer: drivers/usb, between the HID keyboard driver (USB-HID-Keyboard.c,
 * which receives the reports) and the input stream (Input.h). The US layout,
 * Shift, Ctrl, Caps Lock and Num Lock already have one owner, the PS/2
 * translation of drivers/console/Keyboard.c: each usage (HID usage page 7)
 * is turned into the scan code set 1 make or break code the PS/2 keyboard
 * would send for the same key, and fed to a KEYBOARD_STATE of its own. So a
 * key means the same on both keyboards, and key repeat is PS/2's typematic:
 * the held key's make code sent again, after a delay, at a rate.
 *
 * A report (HID 1.11 appendix B.1) is 8 bytes: modifier bits (usages
 * 0xE0-0xE7), a reserved byte, up to six pressed usages in any order. A
 * key is pressed when its usage appears and released when it goes away.
 * Usages 1-3 are error codes (1: ErrorRollOver, too many keys down): such a
 * report says nothing about the keys, so the previous state is kept (only
 * the modifier byte is taken). Reports shorter than 8 bytes are ignored.
 *
 * Invariants: Pressed holds the valid usages (> 3) of the last accepted
 * report; RepeatUsage is one of them or 0; every make code fed to the
 * translator is followed by its break code when the usage goes away.
 */

#ifndef DRIVERS_USB_USB_KEYBOARD_H_INCLUDED
#define DRIVERS_USB_USB_KEYBOARD_H_INCLUDED

#include "Base.h"
#include "drivers/console/Input.h"
#include "drivers/console/Keyboard.h"

#define USB_KEYBOARD_REPORT_SIZE 8
#define USB_KEYBOARD_KEYS 6
// Typematic: PS/2 keyboards repeat after 250-1000 ms at 2-30 keys/s; this is 500 ms, then 30 keys/s.
#define USB_KEYBOARD_REPEAT_DELAY_MS 500
#define USB_KEYBOARD_REPEAT_PERIOD_MS 33
/** Keys one report can produce at most (six presses). */
#define USB_KEYBOARD_MAX_KEYS 8

// The LED output report (HID appendix B.1)
#define USB_KEYBOARD_LED_NUM_LOCK 0x01
#define USB_KEYBOARD_LED_CAPS_LOCK 0x02

typedef struct tag_USB_KEYBOARD_STATE {
    KEYBOARD_STATE Translator;  // the PS/2 translation state (modifiers, locks)
    U8 Modifiers;               // byte 0 of the last report
    U8 Pressed[USB_KEYBOARD_KEYS];
    U8 RepeatUsage;             // 0: nothing repeats
    U64 RepeatAtMs;
    U64 Reports, RolloverReports, ShortReports, Keys;
} USB_KEYBOARD_STATE;

void USBKeyboardStateInit(USB_KEYBOARD_STATE* State);
/**
 * Takes one report received at NowMs; writes the keys it produces (presses,
 * in report order) to Keys and returns how many (at most MaxKeys).
 */
U32 USBKeyboardReport(USB_KEYBOARD_STATE* State, const U8* Report, U32 Length, U64 NowMs, KEY* Keys, U32 MaxKeys);
/** The typematic repeat due at NowMs (0 or 1 key written to *Key); a late call produces one key, not a burst. */
U32 USBKeyboardRepeat(USB_KEYBOARD_STATE* State, U64 NowMs, KEY* Key);
/** When the next repeat is due (0: none). */
U64 USBKeyboardNextRepeat(const USB_KEYBOARD_STATE* State);
/** Every held key released (the device went away): nothing repeats any more. */
void USBKeyboardReleaseAll(USB_KEYBOARD_STATE* State);
/** The LED report byte for the current lock states. */
U8 USBKeyboardLeds(const USB_KEYBOARD_STATE* State);

/**
 * The scan code set 1 sequence for a usage: *Prefixed is TRUE for E0 keys.
 * Returns the make code, 0 for usages with no PS/2 equivalent here.
 */
U8 USBKeyboardUsageToScanCode(U8 Usage, BOOL* Prefixed);

#endif  // DRIVERS_USB_USB_KEYBOARD_H_INCLUDED
