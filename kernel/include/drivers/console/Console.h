/*
 * Console.h - every text output device behind one interface.
 *
 * The kernel log and the shell write through ConsoleWrite(), which sends the
 * same bytes to the serial port and to the VGA text screen (when present).
 * The text is a byte stream with '\n' line ends and the few ANSI sequences
 * the line editor and the data view use (cursor moves, erase, colours);
 * serial passes them through, the screens (VGA text, framebuffer) interpret
 * them with the shared terminal (Terminal.h).
 */

#ifndef DRIVERS_CONSOLE_CONSOLE_H_INCLUDED
#define DRIVERS_CONSOLE_CONSOLE_H_INCLUDED

#include "Base.h"

typedef struct tag_CONSOLE_DEVICE {
    LPCSTR Name;
    void (*Write)(LPCSTR Text, SIZE Length);
    struct tag_CONSOLE_DEVICE* Next;
    BOOL Screen;  // a screen a person reads (VGA text, framebuffer), not a serial line
    U32 Columns, Rows;  // text size of a screen
} CONSOLE_DEVICE;

#define CONSOLE_TO_SCREENS 1
#define CONSOLE_TO_LINES 2  // serial
#define CONSOLE_TO_ALL (CONSOLE_TO_SCREENS | CONSOLE_TO_LINES)

void ConsoleRegister(CONSOLE_DEVICE* Device);
void ConsoleWrite(LPCSTR Text, SIZE Length);
void ConsoleWriteString(LPCSTR Text);
void ConsolePrint(LPCSTR Format, ...) PRINTF_LIKE(1, 2);
/** ConsolePrint with a va_list; output longer than 511 bytes is cut. */
void ConsolePrintV(LPCSTR Format, VA_LIST Arguments);
/** Writes to the screens, the serial lines or both (a pager shows a page on screens only). */
void ConsoleWriteTo(U32 Targets, LPCSTR Text, SIZE Length);
/** Text size of the smallest screen; FALSE (and 0x0) when no screen is registered. */
BOOL ConsoleScreenSize(U32* Columns, U32* Rows);
/**
 * Capture: until ConsoleCaptureEnd, ConsoleWrite output goes into Buffer
 * (Size bytes; what does not fit is counted, not kept) instead of the
 * devices. One capture at a time; the emergency path is never captured.
 * End returns the bytes produced (more than Size means truncated).
 */
BOOL ConsoleCaptureBegin(LPSTR Buffer, SIZE Size);
SIZE ConsoleCaptureEnd(void);
/** FALSE when the command line says console=serial: the screen consoles then stay off. */
BOOL ConsoleScreensWanted(void);
/** Output path for fatal paths (exceptions): takes no lock that may be held. */
void ConsoleWriteEmergency(LPCSTR Text);

#endif  // DRIVERS_CONSOLE_CONSOLE_H_INCLUDED
