/*
 * Console.c - fans text out to every registered console device.
 *
 * One spinlock serialises whole writes so lines from an interrupt handler
 * and from the shell do not interleave mid-line. The emergency path used by
 * the exception handler takes the lock only if it is free: a fault taken
 * while printing must still be able to print.
 */

#include "drivers/console/Console.h"

#include "core/Spinlock.h"
#include "utils/Format.h"
#include "utils/String.h"

static CONSOLE_DEVICE* ConsoleDevices;
static SPINLOCK ConsoleLock = SPINLOCK_INIT;

void ConsoleRegister(CONSOLE_DEVICE* Device) {
    U64 Flags = SpinlockAcquire(&ConsoleLock);
    Device->Next = NULL;
    CONSOLE_DEVICE** Link = &ConsoleDevices;
    while (*Link) Link = &(*Link)->Next;
    *Link = Device;
    SpinlockRelease(&ConsoleLock, Flags);
}

void ConsoleWrite(LPCSTR Text, SIZE Length) {
    U64 Flags = SpinlockAcquire(&ConsoleLock);
    for (CONSOLE_DEVICE* Device = ConsoleDevices; Device; Device = Device->Next) Device->Write(Text, Length);
    SpinlockRelease(&ConsoleLock, Flags);
}

void ConsoleWriteString(LPCSTR Text) { ConsoleWrite(Text, StringLength(Text)); }

void ConsolePrint(LPCSTR Format, ...) {
    char Buffer[512];
    VA_LIST Arguments;
    VA_START(Arguments, Format);
    SIZE Length = StringPrintFormatV(Buffer, sizeof(Buffer), Format, Arguments);
    VA_END(Arguments);
    if (Length >= sizeof(Buffer)) Length = sizeof(Buffer) - 1;
    ConsoleWrite(Buffer, Length);
}

void ConsoleWriteEmergency(LPCSTR Text) {
    U64 Flags = 0;
    BOOL Locked = FALSE;
    for (U32 Try = 0; Try < 1000000 && !Locked; Try++) Locked = SpinlockTryAcquire(&ConsoleLock, &Flags);
    SIZE Length = StringLength(Text);
    for (CONSOLE_DEVICE* Device = ConsoleDevices; Device; Device = Device->Next) Device->Write(Text, Length);
    if (Locked) SpinlockRelease(&ConsoleLock, Flags);
}
