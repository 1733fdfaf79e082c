/*
 * VGA.h - the VGA text console (80x25 at 0xB8000), when the machine has one.
 *
 * It understands the byte stream the serial console gets: '\n', '\r', '\b',
 * tabs, and the ANSI sequences the line editor and the data view emit
 * (cursor movement, erase in line / display, SGR colours), so every console
 * shows the same thing. The hardware cursor follows the text cursor.
 */

#ifndef DRIVERS_CONSOLE_VGA_H_INCLUDED
#define DRIVERS_CONSOLE_VGA_H_INCLUDED

#include "Base.h"

/** Registers the VGA console if the boot information says text mode is present. */
BOOL VGAInit(void);
BOOL VGAIsPresent(void);

#endif  // DRIVERS_CONSOLE_VGA_H_INCLUDED
