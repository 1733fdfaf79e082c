/*
 * Console.c - fans text out to every registered console device.
 *
 * One spinlock serialises whole writes so lines from an interrupt handler
 * and from the shell do not interleave mid-line. The emergency path used by
 * the exception handler takes the lock only if it is free: a fault taken
 * while printing must still be able to print.
 */

#include "drivers/console/Console.h"

#include "core/CommandLine.h"
#include "core/Spinlock.h"
#include "utils/Format.h"
#include "utils/String.h"

static CONSOLE_DEVICE* ConsoleDevices;
static SPINLOCK ConsoleLock = SPINLOCK_INIT;
static LPSTR CaptureBuffer;  // non-NULL while a capture runs
static SIZE CaptureSize;
static SIZE CaptureLength;

void ConsoleRegister(CONSOLE_DEVICE* Device) {
    U64 Flags = SpinlockAcquire(&ConsoleLock);
    Device->Next = NULL;
    CONSOLE_DEVICE** Link = &ConsoleDevices;
    while (*Link) Link = &(*Link)->Next;
    *Link = Device;
    SpinlockRelease(&ConsoleLock, Flags);
}

void ConsoleWriteTo(U32 Targets, LPCSTR Text, SIZE Length) {
    U64 Flags = SpinlockAcquire(&ConsoleLock);
    if (CaptureBuffer != NULL && Targets == CONSOLE_TO_ALL) {
        if (CaptureLength < CaptureSize) {
            MemoryCopy(CaptureBuffer + CaptureLength, Text, MIN(Length, CaptureSize - CaptureLength));
        }
        CaptureLength += Length;
        SpinlockRelease(&ConsoleLock, Flags);
        return;
    }
    for (CONSOLE_DEVICE* Device = ConsoleDevices; Device; Device = Device->Next) {
        if (Targets & (Device->Screen ? CONSOLE_TO_SCREENS : CONSOLE_TO_LINES)) Device->Write(Text, Length);
    }
    SpinlockRelease(&ConsoleLock, Flags);
}

void ConsoleWrite(LPCSTR Text, SIZE Length) { ConsoleWriteTo(CONSOLE_TO_ALL, Text, Length); }

BOOL ConsoleScreenSize(U32* Columns, U32* Rows) {
    *Columns = 0;
    *Rows = 0;
    U64 Flags = SpinlockAcquire(&ConsoleLock);
    for (CONSOLE_DEVICE* Device = ConsoleDevices; Device; Device = Device->Next) {
        if (!Device->Screen || Device->Rows == 0 || Device->Columns == 0) continue;
        if (*Rows == 0 || Device->Rows < *Rows) *Rows = Device->Rows;
        if (*Columns == 0 || Device->Columns < *Columns) *Columns = Device->Columns;
    }
    SpinlockRelease(&ConsoleLock, Flags);
    return *Rows != 0;
}

BOOL ConsoleCaptureBegin(LPSTR Buffer, SIZE Size) {
    U64 Flags = SpinlockAcquire(&ConsoleLock);
    BOOL Free = CaptureBuffer == NULL && Buffer != NULL;
    if (Free) {
        CaptureBuffer = Buffer;
        CaptureSize = Size;
        CaptureLength = 0;
    }
    SpinlockRelease(&ConsoleLock, Flags);
    return Free;
}

SIZE ConsoleCaptureEnd(void) {
    U64 Flags = SpinlockAcquire(&ConsoleLock);
    SIZE Length = CaptureLength;
    CaptureBuffer = NULL;
    SpinlockRelease(&ConsoleLock, Flags);
    return Length;
}

BOOL ConsoleScreensWanted(void) {
    LPCSTR Console = KernelGetOption("console");
    return Console == NULL || StringCompare(Console, "serial") != 0;
}

void ConsoleWriteString(LPCSTR Text) { ConsoleWrite(Text, StringLength(Text)); }

void ConsolePrintV(LPCSTR Format, VA_LIST Arguments) {
    char Buffer[512];
    SIZE Length = StringPrintFormatV(Buffer, sizeof(Buffer), Format, Arguments);
    if (Length >= sizeof(Buffer)) Length = sizeof(Buffer) - 1;
    ConsoleWrite(Buffer, Length);
}

void ConsolePrint(LPCSTR Format, ...) {
    VA_LIST Arguments;
    VA_START(Arguments, Format);
    ConsolePrintV(Format, Arguments);
    VA_END(Arguments);
}

void ConsoleWriteEmergency(LPCSTR Text) {
    U64 Flags = 0;
    BOOL Locked = SpinlockTryAcquireBounded(&ConsoleLock, &Flags, 1000000);
    SIZE Length = StringLength(Text);
    for (CONSOLE_DEVICE* Device = ConsoleDevices; Device; Device = Device->Next) Device->Write(Text, Length);
    if (Locked) SpinlockRelease(&ConsoleLock, Flags);
}
