/*
 * Serial.h - the COM1 serial console (16550 UART, 115200 8N1).
 *
 * Output is polled (it must work in an exception handler with interrupts
 * off); input arrives through the UART's receive interrupt once interrupts
 * are up, and SerialPoll() drains it otherwise.
 */

#ifndef DRIVERS_CONSOLE_SERIAL_H_INCLUDED
#define DRIVERS_CONSOLE_SERIAL_H_INCLUDED

#include "Base.h"

#define SERIAL_COM1 0x3F8

BOOL SerialInit(void);
BOOL SerialIsPresent(void);
void SerialWriteChar(char C);
void SerialWrite(LPCSTR Text, SIZE Length);
/** Moves every byte waiting in the UART into the input stream; safe in IRQ context. */
void SerialPoll(void);
/** Routes the UART receive interrupt through the IOAPIC (after interrupts are set up). */
void SerialEnableInterrupts(void);

#endif  // DRIVERS_CONSOLE_SERIAL_H_INCLUDED
