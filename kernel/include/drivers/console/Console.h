/*
 * Console.h - every text output device behind one interface.
 *
 * The kernel log and the shell write through ConsoleWrite(), which sends the
 * same bytes to the serial port and to the VGA text screen (when present).
 * The text is a byte stream with '\n' line ends and the few ANSI sequences
 * the line editor and the data view use (cursor moves, erase, colours);
 * serial passes them through, VGA interprets them.
 */

#ifndef DRIVERS_CONSOLE_CONSOLE_H_INCLUDED
#define DRIVERS_CONSOLE_CONSOLE_H_INCLUDED

#include "Base.h"

typedef struct tag_CONSOLE_DEVICE {
    LPCSTR Name;
    void (*Write)(LPCSTR Text, SIZE Length);
    struct tag_CONSOLE_DEVICE* Next;
} CONSOLE_DEVICE;

void ConsoleRegister(CONSOLE_DEVICE* Device);
void ConsoleWrite(LPCSTR Text, SIZE Length);
void ConsoleWriteString(LPCSTR Text);
void ConsolePrint(LPCSTR Format, ...) PRINTF_LIKE(1, 2);
/** Output path for fatal paths (exceptions): takes no lock that may be held. */
void ConsoleWriteEmergency(LPCSTR Text);

#endif  // DRIVERS_CONSOLE_CONSOLE_H_INCLUDED
