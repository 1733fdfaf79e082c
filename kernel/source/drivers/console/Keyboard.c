/*
 * Keyboard.c - PS/2 keyboard through the 8042 controller (see Keyboard.h).
 *
 * The 8042 translates the keyboard's scan code set 2 into set 1 (config
 * bit 6), so one table indexed by set 1 make codes gives the US layout;
 * a break code is the make code with bit 7 set, and E0 prefixes the keys
 * added by the 101-key layout (arrows, Home/End, Delete, right Ctrl/Alt...).
 * References: the IBM PC/AT technical reference (8042 commands, status and
 * configuration bits) and the scan code set 1 tables of the same.
 *
 * Translation (the first half of this file) is pure. The controller code
 * (the second half) runs only in the kernel: the IRQ 1 handler (on the boot
 * CPU) and KeyboardPoll (from the shell, on any CPU) may run at once, so
 * KeyboardPollLock lets one CPU drain the controller and translate in order;
 * a poll that finds it taken leaves the bytes to that CPU. The input ring
 * has its own lock.
 */

#include "drivers/console/Keyboard.h"

#include "drivers/console/Input.h"

/************************************************************************/
// Scan code set 1 translation (pure)

#define SC_ESCAPE 0x01
#define SC_BACKSPACE 0x0E
#define SC_TAB 0x0F
#define SC_ENTER 0x1C
#define SC_CONTROL 0x1D
#define SC_LEFT_SHIFT 0x2A
#define SC_RIGHT_SHIFT 0x36
#define SC_KEYPAD_STAR 0x37
#define SC_ALT 0x38
#define SC_CAPS_LOCK 0x3A
#define SC_NUM_LOCK 0x45
#define SC_KEYPAD_FIRST 0x47
#define SC_KEYPAD_LAST 0x53
#define SC_KEYPAD_SLASH 0x35  // with E0
#define SC_PREFIX_E0 0xE0
#define SC_PREFIX_E1 0xE1
#define SC_BREAK 0x80

// Make codes 0x00-0x39: unshifted and shifted characters (0: not a character key).
static const char NormalKeys[0x3A] = {
    0,   0,   '1', '2', '3', '4', '5', '6', '7', '8', '9', '0', '-', '=', 0,   0,
    'q', 'w', 'e', 'r', 't', 'y', 'u', 'i', 'o', 'p', '[', ']', 0,   0,   'a', 's',
    'd', 'f', 'g', 'h', 'j', 'k', 'l', ';', '\'', '`', 0,  '\\', 'z', 'x', 'c', 'v',
    'b', 'n', 'm', ',', '.', '/', 0,   '*', 0,   ' ',
};
static const char ShiftedKeys[0x3A] = {
    0,   0,   '!', '@', '#', '$', '%', '^', '&', '*', '(', ')', '_', '+', 0,   0,
    'Q', 'W', 'E', 'R', 'T', 'Y', 'U', 'I', 'O', 'P', '{', '}', 0,   0,   'A', 'S',
    'D', 'F', 'G', 'H', 'J', 'K', 'L', ':', '"', '~', 0,   '|', 'Z', 'X', 'C', 'V',
    'B', 'N', 'M', '<', '>', '?', 0,   '*', 0,   ' ',
};

// Keypad 0x47-0x53 with Num Lock on, and as navigation keys with it off.
static const char KeypadDigits[SC_KEYPAD_LAST - SC_KEYPAD_FIRST + 1] = {
    '7', '8', '9', '-', '4', '5', '6', '+', '1', '2', '3', '0', '.',
};
static const U32 KeypadNavigation[SC_KEYPAD_LAST - SC_KEYPAD_FIRST + 1] = {
    KEY_HOME, KEY_UP, KEY_PAGE_UP, '-', KEY_LEFT, 0, KEY_RIGHT, '+', KEY_END, KEY_DOWN, KEY_PAGE_DOWN, KEY_INSERT,
    KEY_DELETE,
};

void KeyboardStateInit(KEYBOARD_STATE* State) {
    KEYBOARD_STATE Clean = {0};
    *State = Clean;
    State->NumLock = TRUE;  // PC firmware usually turns Num Lock on at boot
}

static U32 TranslateExtended(KEYBOARD_STATE* State, U8 Code, BOOL Released) {
    switch (Code) {
        case SC_CONTROL: State->RightControl = !Released; return 0;
        case SC_ALT: State->RightAlt = !Released; return 0;
        case SC_LEFT_SHIFT:
        case SC_RIGHT_SHIFT: return 0;  // fake shifts around Print Screen and friends
        default: break;
    }
    if (Released) return 0;
    switch (Code) {
        case SC_ENTER: return KEY_ENTER;  // keypad Enter
        case SC_KEYPAD_SLASH: return '/';
        case 0x47: return KEY_HOME;
        case 0x48: return KEY_UP;
        case 0x49: return KEY_PAGE_UP;
        case 0x4B: return KEY_LEFT;
        case 0x4D: return KEY_RIGHT;
        case 0x4F: return KEY_END;
        case 0x50: return KEY_DOWN;
        case 0x51: return KEY_PAGE_DOWN;
        case 0x52: return KEY_INSERT;
        case 0x53: return KEY_DELETE;
        default: return 0;
    }
}

U32 KeyboardTranslate(KEYBOARD_STATE* State, U8 ScanCode) {
    if (State->SkipBytes != 0) {
        State->SkipBytes--;
        return 0;
    }
    if (ScanCode == SC_PREFIX_E0) {
        State->Extended = TRUE;
        return 0;
    }
    if (ScanCode == SC_PREFIX_E1) {
        State->SkipBytes = 2;  // Pause: E1 1D 45 (and E1 9D C5 on release)
        State->Extended = FALSE;
        return 0;
    }

    BOOL Released = (ScanCode & SC_BREAK) != 0;
    U8 Code = ScanCode & (U8)~SC_BREAK;
    if (State->Extended) {
        State->Extended = FALSE;
        return TranslateExtended(State, Code, Released);
    }

    switch (Code) {
        case SC_LEFT_SHIFT: State->LeftShift = !Released; return 0;
        case SC_RIGHT_SHIFT: State->RightShift = !Released; return 0;
        case SC_CONTROL: State->LeftControl = !Released; return 0;
        case SC_ALT: State->LeftAlt = !Released; return 0;
        case SC_CAPS_LOCK:
            if (!Released && !State->CapsLockHeld) State->CapsLock = !State->CapsLock;
            State->CapsLockHeld = !Released;  // auto-repeat must not toggle it again
            return 0;
        case SC_NUM_LOCK:
            if (!Released && !State->NumLockHeld) State->NumLock = !State->NumLock;
            State->NumLockHeld = !Released;
            return 0;
        default:
            break;
    }
    if (Released) return 0;

    BOOL Shift = State->LeftShift || State->RightShift;
    BOOL Control = State->LeftControl || State->RightControl;
    switch (Code) {
        case SC_ESCAPE: return KEY_ESCAPE;
        case SC_BACKSPACE: return KEY_BACKSPACE;
        case SC_TAB: return KEY_TAB;
        case SC_ENTER: return KEY_ENTER;
        default: break;
    }
    if (Code >= SC_KEYPAD_FIRST && Code <= SC_KEYPAD_LAST) {
        U32 Index = Code - SC_KEYPAD_FIRST;
        return State->NumLock ? (U32)(U8)KeypadDigits[Index] : KeypadNavigation[Index];
    }
    if (Code >= sizeof(NormalKeys) || NormalKeys[Code] == 0) return 0;  // function keys and unknown codes

    char C = NormalKeys[Code];
    BOOL Letter = (C >= 'a' && C <= 'z');
    if (Control && Letter) return KEY_CTRL((U32)C);
    if (Letter) return (U32)(U8)((Shift != State->CapsLock) ? ShiftedKeys[Code] : C);
    return (U32)(U8)(Shift ? ShiftedKeys[Code] : C);
}

/************************************************************************/
// The 8042 controller (kernel only)

#ifndef CAIRN_HOST_BUILD

#include "arch/x86-64/CPU.h"
#include "arch/x86-64/Interrupts.h"
#include "core/Log.h"
#include "core/Spinlock.h"

#define PS2_DATA 0x60
#define PS2_STATUS 0x64   // read
#define PS2_COMMAND 0x64  // write

#define STATUS_OUTPUT_FULL 0x01
#define STATUS_INPUT_FULL 0x02
#define STATUS_AUX_DATA 0x20

#define COMMAND_READ_CONFIG 0x20
#define COMMAND_WRITE_CONFIG 0x60
#define COMMAND_DISABLE_PORT2 0xA7
#define COMMAND_TEST_PORT1 0xAB
#define COMMAND_DISABLE_PORT1 0xAD
#define COMMAND_ENABLE_PORT1 0xAE

#define CONFIG_PORT1_IRQ 0x01
#define CONFIG_PORT2_IRQ 0x02
#define CONFIG_PORT1_CLOCK_OFF 0x10
#define CONFIG_TRANSLATION 0x40

#define DEVICE_ENABLE_SCANNING 0xF4
#define DEVICE_ACK 0xFA

#define KEYBOARD_IRQ 1
#define PS2_WAIT_LIMIT 100000
#define PS2_FLUSH_LIMIT 64

static KEYBOARD_STATE KeyboardState;
static SPINLOCK KeyboardPollLock = SPINLOCK_INIT;
static BOOL KeyboardPresent;
static BOOL KeyboardInterrupts;

static BOOL WaitInputEmpty(void) {
    for (U32 Spin = 0; Spin < PS2_WAIT_LIMIT; Spin++) {
        if (!(InPortByte(PS2_STATUS) & STATUS_INPUT_FULL)) return TRUE;
        CPUPause();
    }
    return FALSE;
}

static BOOL ReadData(U8* Value) {
    for (U32 Spin = 0; Spin < PS2_WAIT_LIMIT; Spin++) {
        if (InPortByte(PS2_STATUS) & STATUS_OUTPUT_FULL) {
            *Value = InPortByte(PS2_DATA);
            return TRUE;
        }
        CPUPause();
    }
    return FALSE;
}

static BOOL SendCommand(U8 Command) {
    if (!WaitInputEmpty()) return FALSE;
    OutPortByte(PS2_COMMAND, Command);
    return TRUE;
}

static BOOL SendData(U8 Value) {
    if (!WaitInputEmpty()) return FALSE;
    OutPortByte(PS2_DATA, Value);
    return TRUE;
}

static void FlushOutput(void) {
    for (U32 Count = 0; Count < PS2_FLUSH_LIMIT; Count++) {
        if (!(InPortByte(PS2_STATUS) & STATUS_OUTPUT_FULL)) break;
        (void)InPortByte(PS2_DATA);
    }
}

static BOOL ReadConfig(U8* Config) { return SendCommand(COMMAND_READ_CONFIG) && ReadData(Config); }
static BOOL WriteConfig(U8 Config) { return SendCommand(COMMAND_WRITE_CONFIG) && SendData(Config); }

void KeyboardPoll(void) {
    U64 Flags;
    if (!KeyboardPresent || !SpinlockTryAcquire(&KeyboardPollLock, &Flags)) return;
    for (U32 Count = 0; Count < PS2_FLUSH_LIMIT; Count++) {
        U8 Status = InPortByte(PS2_STATUS);
        if (!(Status & STATUS_OUTPUT_FULL)) break;
        U8 Byte = InPortByte(PS2_DATA);
        if (Status & STATUS_AUX_DATA) continue;  // a mouse byte (port 2 is off, but be safe)
        U32 Key = KeyboardTranslate(&KeyboardState, Byte);
        if (Key != KEY_NONE) InputPushKey(Key);
    }
    SpinlockRelease(&KeyboardPollLock, Flags);
}

static BOOL KeyboardInterruptHandler(INTERRUPT_FRAME* Frame, LPVOID Context) {
    UNUSED(Frame);
    UNUSED(Context);
    KeyboardPoll();
    return TRUE;
}

BOOL KeyboardInit(void) {
    U8 Config, Answer;

    KeyboardStateInit(&KeyboardState);
    // Nothing decodes port 0x64 on machines without an 8042: the bus floats to all ones.
    if (InPortByte(PS2_STATUS) == 0xFF) {
        INFO("[KeyboardInit] no PS/2 controller");
        return FALSE;
    }

    // Quiet both ports while the configuration changes.
    if (!SendCommand(COMMAND_DISABLE_PORT1) || !SendCommand(COMMAND_DISABLE_PORT2)) {
        WARNING("[KeyboardInit] PS/2 controller does not accept commands");
        return FALSE;
    }
    FlushOutput();
    if (!ReadConfig(&Config)) {
        WARNING("[KeyboardInit] PS/2 controller does not answer");
        return FALSE;
    }
    Config &= (U8)~(CONFIG_PORT1_IRQ | CONFIG_PORT2_IRQ | CONFIG_PORT1_CLOCK_OFF);
    Config |= CONFIG_TRANSLATION;
    if (!WriteConfig(Config)) return FALSE;

    if (!SendCommand(COMMAND_TEST_PORT1) || !ReadData(&Answer) || Answer != 0x00) {
        WARNING("[KeyboardInit] PS/2 port 1 failed its test");
        return FALSE;
    }
    if (!SendCommand(COMMAND_ENABLE_PORT1)) return FALSE;

    // Make sure the keyboard scans (firmware usually left it so); no answer means no keyboard.
    FlushOutput();
    if (!SendData(DEVICE_ENABLE_SCANNING) || !ReadData(&Answer) || Answer != DEVICE_ACK) {
        WARNING("[KeyboardInit] no keyboard on PS/2 port 1");
        return FALSE;
    }
    FlushOutput();

    KeyboardPresent = TRUE;
    KeyboardInterrupts = InterruptRegisterLegacy(KEYBOARD_IRQ, KeyboardInterruptHandler, NULL);
    if (KeyboardInterrupts) {
        if (!ReadConfig(&Config) || !WriteConfig((U8)(Config | CONFIG_PORT1_IRQ))) KeyboardInterrupts = FALSE;
    }
    INFO("[KeyboardInit] PS/2 keyboard, %s", KeyboardInterrupts ? "IRQ 1" : "polled");
    return TRUE;
}

BOOL KeyboardIsPresent(void) { return KeyboardPresent; }
BOOL KeyboardIsInterruptDriven(void) { return KeyboardInterrupts; }

#endif  // CAIRN_HOST_BUILD
