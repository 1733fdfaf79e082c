/*
 * VGA.h - the VGA text console (80x25 at 0xB8000), when the machine has one.
 *
 * It understands the byte stream the serial console gets: '\n', '\r', '\b',
 * tabs, and the ANSI sequences the line editor and the data view emit
 * (cursor movement, erase in line / display, SGR colours), so every console
 * shows the same thing. The hardware cursor follows the text cursor.
 *
 * The screen is kept in a shadow buffer in kernel memory and copied to the
 * hardware through a MapIOMemory mapping. VGAInit runs on the boot page
 * tables; once MemoryInit has switched to the kernel's own tables, VGARemap
 * must be called to map the text buffer again (until then, output only goes
 * to the shadow and is shown when the mapping is back).
 */

#ifndef DRIVERS_CONSOLE_VGA_H_INCLUDED
#define DRIVERS_CONSOLE_VGA_H_INCLUDED

#include "Base.h"

/** Registers the VGA console if the boot information says text mode is present. */
BOOL VGAInit(void);
BOOL VGAIsPresent(void);
/** Maps the text buffer again in the current page tables and repaints it (after MemoryInit). */
BOOL VGARemap(void);

/************************************************************************/
// The terminal emulation on its own, without hardware (for host unit tests).
// Cells are (attribute << 8) | character; Column == Columns means a wrap is pending.

void VGATerminalReset(U32 Columns, U32 Rows);
void VGATerminalWrite(LPCSTR Text, SIZE Length);
U16 VGATerminalCell(U32 Row, U32 Column);
void VGATerminalCursor(U32* Row, U32* Column, BOOL* Visible);

#endif  // DRIVERS_CONSOLE_VGA_H_INCLUDED
