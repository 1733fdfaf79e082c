/*
 * Input.h - the one input stream of keys the shell reads.
 *
 * The PS/2 keyboard and the serial port both feed it; another key source
 * (the USB keyboard driver, drivers/usb) registers an INPUT_SOURCE and calls
 * InputPushKey with the same KEY codes, from its interrupt handler, its poll
 * or its own thread. Serial bytes go
 * through an ANSI escape decoder (KeyDecoder.h) so that arrow keys typed in
 * a terminal arrive as the same KEY_* codes as the keyboard's arrows.
 * Producers run in interrupt context; the ring is protected by a spinlock.
 */

#ifndef DRIVERS_CONSOLE_INPUT_H_INCLUDED
#define DRIVERS_CONSOLE_INPUT_H_INCLUDED

#include "Base.h"

/** Keys: plain characters are their byte value (1-255); special keys are above 0xFF. */
#define KEY_NONE 0
#define KEY_BACKSPACE 0x08
#define KEY_TAB 0x09
#define KEY_ENTER 0x0A
#define KEY_ESCAPE 0x1B
#define KEY_UP 0x101
#define KEY_DOWN 0x102
#define KEY_LEFT 0x103
#define KEY_RIGHT 0x104
#define KEY_HOME 0x105
#define KEY_END 0x106
#define KEY_DELETE 0x107
#define KEY_PAGE_UP 0x108
#define KEY_PAGE_DOWN 0x109
#define KEY_INSERT 0x10A
#define KEY_CTRL(c) ((c) & 0x1F)

typedef U32 KEY;

/**
 * Another key source (a USB keyboard). The PS/2 keyboard and the serial
 * port are known to Input.c; other sources register once, so a waiting
 * reader knows whether it may sleep: Poll (optional) is called on every
 * pass of the reader with interrupts disabled, WakesReader (optional, NULL
 * meaning yes) says whether the source's keys reach the ring by themselves
 * (from an interrupt, or a thread of its own whose InputPushKey wakes the
 * reader) rather than only when polled.
 */
typedef struct tag_INPUT_SOURCE {
    LPCSTR Name;
    void (*Poll)(void);
    BOOL (*WakesReader)(void);
    struct tag_INPUT_SOURCE* Next;
} INPUT_SOURCE;

void InputInit(void);
/** Adds a source (the structure must stay valid); a source registered twice is kept once. */
void InputRegisterSource(INPUT_SOURCE* Source);
void InputPushKey(KEY Key);
void InputPushSerialByte(U8 Byte);
/** Returns the next key or KEY_NONE when none is waiting. */
KEY InputPeekKey(void);
KEY InputTryReadKey(void);
/** Waits for a key (halts the CPU between interrupts). */
KEY InputReadKey(void);
/** Waits at most TimeoutMs; returns KEY_NONE on timeout. */
KEY InputReadKeyTimeout(U32 TimeoutMs);

#endif  // DRIVERS_CONSOLE_INPUT_H_INCLUDED
