/*
 * Framebuffer.h - the framebuffer console: text drawn with a bitmap font on
 * the linear framebuffer the boot loader set up (UEFI GOP, a VBE mode).
 *
 * Layer: drivers/console. It takes the mode from the multiboot2 framebuffer
 * tag (RGB type; address, pitch, size and pixel format as given, the address
 * possibly above 4 GiB), interprets the console byte stream with the shared
 * terminal (Terminal.h), and draws only the text rows that changed, from the
 * cell grid in RAM, through a write-combining mapping. A mode it cannot use
 * (indexed colours, odd pixel sizes, a size that does not add up) is logged
 * and the console stays on serial (and VGA text, if any).
 *
 * FramebufferInit runs early (before MemoryInit): from then on text is kept
 * in the cell grid. FramebufferMap, after MemoryInit, maps the framebuffer,
 * paints everything kept so far, and logs how long a full-screen redraw (what
 * a scroll costs) takes.
 */

#ifndef DRIVERS_CONSOLE_FRAMEBUFFER_H_INCLUDED
#define DRIVERS_CONSOLE_FRAMEBUFFER_H_INCLUDED

#include "Base.h"

/** Registers the framebuffer console if the boot information has a usable RGB framebuffer. */
BOOL FramebufferInit(void);
/** Maps the framebuffer write-combining and paints it (after MemoryInit). */
BOOL FramebufferMap(void);
BOOL FramebufferIsPresent(void);
/** One line for `report` and the log: mode, font, cells, mapping, scroll time (or why there is none). */
void FramebufferDescribe(LPSTR Buffer, SIZE Size);

#endif  // DRIVERS_CONSOLE_FRAMEBUFFER_H_INCLUDED
