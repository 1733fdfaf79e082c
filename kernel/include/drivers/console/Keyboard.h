/*
 * Keyboard.h - the PS/2 keyboard (US layout, scan code set 1 as translated by the 8042).
 */

#ifndef DRIVERS_CONSOLE_KEYBOARD_H_INCLUDED
#define DRIVERS_CONSOLE_KEYBOARD_H_INCLUDED

#include "Base.h"

/** Detects the 8042 controller and routes IRQ 1; FALSE when there is no PS/2 keyboard. */
BOOL KeyboardInit(void);

#endif  // DRIVERS_CONSOLE_KEYBOARD_H_INCLUDED
