/*
 * Keyboard.h - the PS/2 keyboard (US layout, scan code set 1 as translated by the 8042).
 *
 * KeyboardInit finds the 8042 controller (every wait is bounded), enables
 * the first port with translation on, and routes ISA IRQ 1 to its handler.
 * When the interrupt cannot be routed, the input layer calls KeyboardPoll.
 * Keys go to the input stream (Input.h) as KEY_* codes.
 *
 * The scan code translation itself is pure (KeyboardTranslate), so host
 * tests can feed it byte sequences.
 */

#ifndef DRIVERS_CONSOLE_KEYBOARD_H_INCLUDED
#define DRIVERS_CONSOLE_KEYBOARD_H_INCLUDED

#include "Base.h"

/** Translation state: prefixes seen and the modifier keys held or locked. */
typedef struct tag_KEYBOARD_STATE {
    BOOL Extended;      // the previous byte was E0
    U8 SkipBytes;       // bytes left of an E1 (Pause) sequence
    BOOL LeftShift, RightShift;
    BOOL LeftControl, RightControl;
    BOOL LeftAlt, RightAlt;
    BOOL CapsLock, CapsLockHeld;
    BOOL NumLock, NumLockHeld;
} KEYBOARD_STATE;

void KeyboardStateInit(KEYBOARD_STATE* State);
/** Feeds one scan code byte; returns the key it completes (KEY_* or a character), or 0. */
U32 KeyboardTranslate(KEYBOARD_STATE* State, U8 ScanCode);

/** Detects the 8042 controller and routes IRQ 1; FALSE when there is no PS/2 keyboard. */
BOOL KeyboardInit(void);
BOOL KeyboardIsPresent(void);
/** TRUE when IRQ 1 is routed (else keys arrive only through KeyboardPoll). */
BOOL KeyboardIsInterruptDriven(void);
/** Moves waiting scan codes into the input stream; call with interrupts disabled. */
void KeyboardPoll(void);

#endif  // DRIVERS_CONSOLE_KEYBOARD_H_INCLUDED
