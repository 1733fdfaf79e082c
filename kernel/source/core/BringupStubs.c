/*
 * BringupStubs.c - weak placeholders used while the foundation is built in
 * parallel. Every function here is overridden by its real (strong)
 * definition; this file is deleted once all of them exist.
 */

#include "Base.h"
#include "arch/x86-64/APIC.h"
#include "arch/x86-64/GDT.h"
#include "arch/x86-64/Interrupts.h"
#include "core/CommandLine.h"
#include "core/Kernel.h"
#include "core/Log.h"
#include "drivers/console/Console.h"
#include "drivers/console/Input.h"
#include "drivers/console/Keyboard.h"
#include "drivers/console/VGA.h"
#include "memory/Memory.h"
#include "shell/Shell.h"
#include "system/CPUInfo.h"
#include "system/Clock.h"
#include "utils/Format.h"
#include "utils/String.h"
#include "memory/Heap.h"

#define WEAK __attribute__((weak))

WEAK void KernelCommandLineInit(LPCSTR Text) { UNUSED(Text); }
WEAK LPCSTR KernelGetOption(LPCSTR Name) { UNUSED(Name); return NULL; }
WEAK void LogInit(void) {}
WEAK void KernelLog(LOG_LEVEL Level, LPCSTR Format, ...) {
    char Buffer[256];
    VA_LIST Arguments;
    UNUSED(Level);
    VA_START(Arguments, Format);
    StringPrintFormatV(Buffer, sizeof(Buffer), Format, Arguments);
    VA_END(Arguments);
    ConsoleWriteString(Buffer);
    ConsoleWriteString("\n");
}
WEAK BOOL VGAInit(void) { return FALSE; }
WEAK void GDTInit(void) {}
WEAK void InterruptsInit(void) {}
WEAK BOOL InterruptRegisterLegacy(U8 IsaIrq, INTERRUPT_HANDLER Handler, LPVOID Context) {
    UNUSED(IsaIrq); UNUSED(Handler); UNUSED(Context);
    return FALSE;
}
WEAK void CPUInfoInit(void) {}
WEAK void ClockInit(void) {}
WEAK U64 ClockTicksToNs(U64 Ticks) { return Ticks; }
WEAK void MemoryInit(void) {}
WEAK void PICDisable(void) {}
WEAK BOOL LAPICInit(void) { return TRUE; }
WEAK BOOL IOAPICInit(void) { return FALSE; }
WEAK BOOL TimerInit(void) { return FALSE; }
WEAK void InputInit(void) {}
WEAK void InputPushSerialByte(U8 Byte) { UNUSED(Byte); }
WEAK BOOL KeyboardInit(void) { return FALSE; }
WEAK void ShellRegisterBuiltins(void) {}
WEAK void ShellRun(void) {
    ConsoleWriteString("/> ");
    KernelHalt();
}

#include "memory/Paging.h"
WEAK LINEAR MapIOMemory(PHYSICAL Physical, U64 Size) {
    UNUSED(Size);
    // The boot page tables direct-map the first 4 GiB.
    return Physical < N_4GB ? (LINEAR)PhysicalToLinear(Physical) : 0;
}
WEAK void MemoryGetStats(MEMORY_STATS* Stats) { MemorySet(Stats, 0, sizeof(*Stats)); }
WEAK const CPU_INFO* CPUInfoGet(void) {
    static CPU_INFO Empty;
    return &Empty;
}
WEAK void CPUInfoFeatureString(LPSTR Buffer, SIZE Size) { StringCopy(Buffer, "", Size); }
WEAK U64 GetSystemTimeNs(void) { return 0; }
WEAK U64 GetSystemTimeMs(void) { return 0; }
WEAK U64 ClockGetTSCFrequency(void) { return 0; }
WEAK void ClockDelayUs(U64 Microseconds) { UNUSED(Microseconds); }
WEAK U64 TimerGetTicks(void) { return 0; }
WEAK U64 InterruptGetCount(U8 Vector) { UNUSED(Vector); return 0; }
WEAK LPCSTR InterruptExceptionName(U8 Vector) { UNUSED(Vector); return "Exception"; }
WEAK LPVOID KernelHeapAlloc(SIZE Size) { UNUSED(Size); return NULL; }
WEAK void KernelHeapFree(LPVOID Pointer) { UNUSED(Pointer); }
