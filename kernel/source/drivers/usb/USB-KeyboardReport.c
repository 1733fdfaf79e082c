/*
 * USB-KeyboardReport.c - boot keyboard reports to keys (see USB-Keyboard.h).
 *
 * Layer: drivers/usb, pure (no hardware, no time source of its own: the
 * caller passes the time). The usage-to-scan-code table pairs HID usage
 * page 7 (HID Usage Tables 1.12, chapter 10) with the scan code set 1 make
 * codes of the same keys (IBM PC/AT technical reference), cross-checked
 * against QEMU's hid_usage_keys, which maps the other way (fact sheet 9).
 */

#include "drivers/usb/USB-Keyboard.h"

#include "utils/String.h"

#define E0 0x80  // table flag: the scan code takes an E0 prefix
#define SC_PREFIX_E0 0xE0
#define SC_BREAK 0x80
#define USAGE_FIRST_KEY 0x04
#define USAGE_LAST_ERROR 0x03
#define USAGE_CAPS_LOCK 0x39
#define USAGE_NUM_LOCK 0x53
#define USAGE_SCROLL_LOCK 0x47

// Usages 0x00-0x65: set 1 make code, | E0 (in a U16) when prefixed; 0 = no equivalent.
static const U16 UsageScanCodes[0x66] = {
    0, 0, 0, 0,                                                    // 00-03: none, ErrorRollOver, POSTFail, undefined
    0x1E, 0x30, 0x2E, 0x20, 0x12, 0x21, 0x22, 0x23,               // 04-0B: a b c d e f g h
    0x17, 0x24, 0x25, 0x26, 0x32, 0x31, 0x18, 0x19,               // 0C-13: i j k l m n o p
    0x10, 0x13, 0x1F, 0x14, 0x16, 0x2F, 0x11, 0x2D,               // 14-1B: q r s t u v w x
    0x15, 0x2C,                                                    // 1C-1D: y z
    0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B,   // 1E-27: 1-9, 0
    0x1C, 0x01, 0x0E, 0x0F, 0x39,                                  // 28-2C: Enter Esc Backspace Tab Space
    0x0C, 0x0D, 0x1A, 0x1B, 0x2B, 0x2B,                            // 2D-32: - = [ ] \ non-US #
    0x27, 0x28, 0x29, 0x33, 0x34, 0x35,                            // 33-38: ; ' ` , . /
    0x3A,                                                          // 39: Caps Lock
    0x3B, 0x3C, 0x3D, 0x3E, 0x3F, 0x40, 0x41, 0x42, 0x43, 0x44,   // 3A-43: F1-F10
    0x57, 0x58,                                                    // 44-45: F11 F12
    E0 << 8 | 0x37, 0x46, 0,                                       // 46-48: PrintScreen ScrollLock Pause (E1)
    E0 << 8 | 0x52, E0 << 8 | 0x47, E0 << 8 | 0x49,                // 49-4B: Insert Home PageUp
    E0 << 8 | 0x53, E0 << 8 | 0x4F, E0 << 8 | 0x51,                // 4C-4E: Delete End PageDown
    E0 << 8 | 0x4D, E0 << 8 | 0x4B, E0 << 8 | 0x50, E0 << 8 | 0x48,  // 4F-52: Right Left Down Up
    0x45, E0 << 8 | 0x35, 0x37, 0x4A, 0x4E, E0 << 8 | 0x1C,        // 53-58: NumLock KP/ KP* KP- KP+ KPEnter
    0x4F, 0x50, 0x51, 0x4B, 0x4C, 0x4D, 0x47, 0x48, 0x49,          // 59-61: KP1-KP9
    0x52, 0x53,                                                    // 62-63: KP0 KP.
    0x56, E0 << 8 | 0x5D,                                          // 64-65: non-US \, Menu
};

// Modifier bits of byte 0 (usages 0xE0-0xE7): LCtrl LShift LAlt LGUI RCtrl RShift RAlt RGUI.
static const U16 ModifierScanCodes[8] = {
    0x1D, 0x2A, 0x38, E0 << 8 | 0x5B, E0 << 8 | 0x1D, 0x36, E0 << 8 | 0x38, E0 << 8 | 0x5C,
};

U8 USBKeyboardUsageToScanCode(U8 Usage, BOOL* Prefixed) {
    U16 Entry = Usage < ARRAY_COUNT(UsageScanCodes) ? UsageScanCodes[Usage] : 0;
    *Prefixed = (Entry >> 8) == E0;
    return (U8)Entry;
}

/** Feeds one make or break code (with its prefix) to the translator; returns the key it completes. */
static KEY Feed(USB_KEYBOARD_STATE* State, U16 Entry, BOOL Released) {
    if ((U8)Entry == 0) return KEY_NONE;
    if ((Entry >> 8) == E0) KeyboardTranslate(&State->Translator, SC_PREFIX_E0);
    return KeyboardTranslate(&State->Translator, (U8)((U8)Entry | (Released ? SC_BREAK : 0)));
}

static U16 UsageEntry(U8 Usage) { return Usage < ARRAY_COUNT(UsageScanCodes) ? UsageScanCodes[Usage] : 0; }

static BOOL Contains(const U8* Usages, U8 Usage) {
    for (U32 I = 0; I < USB_KEYBOARD_KEYS; I++) {
        if (Usages[I] == Usage) return TRUE;
    }
    return FALSE;
}

/** Lock keys toggle once per press, as on PS/2, so they do not repeat. */
static BOOL Repeats(U8 Usage) {
    return Usage != USAGE_CAPS_LOCK && Usage != USAGE_NUM_LOCK && Usage != USAGE_SCROLL_LOCK &&
           (U8)UsageEntry(Usage) != 0;
}

void USBKeyboardStateInit(USB_KEYBOARD_STATE* State) {
    MemorySet(State, 0, sizeof(*State));
    KeyboardStateInit(&State->Translator);
}

U32 USBKeyboardReport(USB_KEYBOARD_STATE* State, const U8* Report, U32 Length, U64 NowMs, KEY* Keys, U32 MaxKeys) {
    U32 Count = 0;
    if (Length < USB_KEYBOARD_REPORT_SIZE) {
        State->ShortReports++;
        return 0;
    }
    State->Reports++;

    // Modifiers first, so a key pressed in the same report as Shift is shifted.
    U8 Modifiers = Report[0];
    for (U32 Bit = 0; Bit < 8; Bit++) {
        U8 Mask = (U8)(1U << Bit);
        if ((Modifiers ^ State->Modifiers) & Mask) Feed(State, ModifierScanCodes[Bit], (Modifiers & Mask) == 0);
    }
    State->Modifiers = Modifiers;

    U8 Now[USB_KEYBOARD_KEYS];
    for (U32 I = 0; I < USB_KEYBOARD_KEYS; I++) {
        Now[I] = Report[2 + I];
        if (Now[I] != 0 && Now[I] <= USAGE_LAST_ERROR) {
            State->RolloverReports++;  // too many keys down: the key bytes say nothing, keep the state
            return 0;
        }
    }

    for (U32 I = 0; I < USB_KEYBOARD_KEYS; I++) {
        U8 Old = State->Pressed[I];
        if (Old == 0 || Contains(Now, Old)) continue;
        Feed(State, UsageEntry(Old), TRUE);
        if (State->RepeatUsage == Old) State->RepeatUsage = 0;
    }
    for (U32 I = 0; I < USB_KEYBOARD_KEYS; I++) {
        U8 New = Now[I];
        if (New < USAGE_FIRST_KEY || Contains(State->Pressed, New)) continue;
        KEY Key = Feed(State, UsageEntry(New), FALSE);
        if (Key != KEY_NONE && Count < MaxKeys) Keys[Count++] = Key;
        // Like a PS/2 keyboard: the key pressed last is the one that repeats.
        if (Repeats(New)) {
            State->RepeatUsage = New;
            State->RepeatAtMs = NowMs + USB_KEYBOARD_REPEAT_DELAY_MS;
        }
    }
    for (U32 I = 0; I < USB_KEYBOARD_KEYS; I++) State->Pressed[I] = Now[I] > USAGE_LAST_ERROR ? Now[I] : 0;
    State->Keys += Count;
    return Count;
}

U32 USBKeyboardRepeat(USB_KEYBOARD_STATE* State, U64 NowMs, KEY* Key) {
    if (State->RepeatUsage == 0 || NowMs < State->RepeatAtMs) return 0;
    State->RepeatAtMs += USB_KEYBOARD_REPEAT_PERIOD_MS;
    // A late call (the thread was held up) gives one key and starts the period again: no burst.
    if (State->RepeatAtMs <= NowMs) State->RepeatAtMs = NowMs + USB_KEYBOARD_REPEAT_PERIOD_MS;
    *Key = Feed(State, UsageEntry(State->RepeatUsage), FALSE);
    if (*Key == KEY_NONE) return 0;
    State->Keys++;
    return 1;
}

U64 USBKeyboardNextRepeat(const USB_KEYBOARD_STATE* State) { return State->RepeatUsage ? State->RepeatAtMs : 0; }

void USBKeyboardReleaseAll(USB_KEYBOARD_STATE* State) {
    for (U32 I = 0; I < USB_KEYBOARD_KEYS; I++) {
        if (State->Pressed[I] != 0) Feed(State, UsageEntry(State->Pressed[I]), TRUE);
        State->Pressed[I] = 0;
    }
    for (U32 Bit = 0; Bit < 8; Bit++) {
        if (State->Modifiers & (1U << Bit)) Feed(State, ModifierScanCodes[Bit], TRUE);
    }
    State->Modifiers = 0;
    State->RepeatUsage = 0;
}

U8 USBKeyboardLeds(const USB_KEYBOARD_STATE* State) {
    return (U8)((State->Translator.NumLock ? USB_KEYBOARD_LED_NUM_LOCK : 0) |
                (State->Translator.CapsLock ? USB_KEYBOARD_LED_CAPS_LOCK : 0));
}
