/*
 * Shutdown.c - shutdown hooks, power off and reboot (see Shutdown.h).
 *
 * Reboot tries, in order: the ACPI reset register, the keyboard controller's
 * reset line (0xFE to port 0x64), the PCI reset control register 0xCF9
 * (full reset), and finally a triple fault (an empty IDT and an
 * exception), which every x86 turns into a reset.
 *
 * Several CPUs: the hooks run first, with every CPU still up (a flush may
 * wait for an interrupt that goes to another CPU); then the other CPUs are
 * halted (SMPHaltOthers) so nothing runs while the machine goes down. If
 * power off then fails, this CPU is the only one left running: threads that
 * were on the others are gone, so reboot.
 */

#include "system/Shutdown.h"

#include "arch/x86-64/CPU.h"
#include "core/Log.h"
#include "core/SMP.h"
#include "core/Spinlock.h"
#include "drivers/console/Console.h"
#include "system/ACPI.h"
#include "system/Clock.h"
#include "utils/String.h"

typedef struct tag_SHUTDOWN_ENTRY {
    LPCSTR Name;
    SHUTDOWN_HOOK Hook;
    LPVOID Context;
} SHUTDOWN_ENTRY;

static SHUTDOWN_ENTRY Hooks[SHUTDOWN_MAX_HOOKS];
static U32 HookCount;
static BOOL HooksRan;
static SPINLOCK HookLock = SPINLOCK_INIT;

BOOL ShutdownRegisterHook(LPCSTR Name, SHUTDOWN_HOOK Hook, LPVOID Context) {
    BOOL Added = FALSE;
    U64 Flags = SpinlockAcquire(&HookLock);
    if (HookCount < SHUTDOWN_MAX_HOOKS) {
        Hooks[HookCount].Name = Name;
        Hooks[HookCount].Hook = Hook;
        Hooks[HookCount].Context = Context;
        HookCount++;
        Added = TRUE;
    }
    SpinlockRelease(&HookLock, Flags);
    if (!Added) WARNING("[ShutdownRegisterHook] no room for hook %s", Name);
    return Added;
}

void ShutdownRunHooks(SHUTDOWN_KIND Kind) {
    if (HooksRan) return;
    HooksRan = TRUE;
    // Hooks may sleep and take locks, so they run with interrupts as the caller had them.
    for (U32 I = HookCount; I > 0; I--) {
        SHUTDOWN_ENTRY* Entry = &Hooks[I - 1];
        INFO("[ShutdownRunHooks] %s", Entry->Name);
        Entry->Hook(Kind, Entry->Context);
    }
}

void SystemPowerOff(void) {
    ShutdownRunHooks(SHUTDOWN_POWER_OFF);
    ConsoleWriteString("Powering off.\n");  // before the halt: a CPU stopped by NMI may hold the console lock
    SMPHaltOthers();
    ACPIPowerOff();
    ERROR("[SystemPowerOff] ACPI power off failed; the machine can be switched off now");
}

static void KeyboardControllerReset(void) {
    for (U32 Try = 0; Try < 100000; Try++) {
        if ((InPortByte(0x64) & 0x02) == 0) break;  // input buffer empty
        CPUPause();
    }
    OutPortByte(0x64, 0xFE);
}

void SystemReboot(void) {
    ShutdownRunHooks(SHUTDOWN_REBOOT);
    ConsoleWriteString("Rebooting.\n");
    SMPHaltOthers();
    ACPIReset();

    DisableInterrupts();
    KeyboardControllerReset();
    ClockDelayUs(200000);

    OutPortByte(0xCF9, 0x02);
    ClockDelayUs(10);
    OutPortByte(0xCF9, 0x06);
    ClockDelayUs(200000);

    // Last resort: with an empty IDT any exception becomes a triple fault.
    struct {
        U16 Limit;
        U64 Base;
    } PACKED EmptyIdt = {0, 0};
    __asm__ volatile("lidt %0; int3" : : "m"(EmptyIdt));
    ERROR("[SystemReboot] every reset mechanism failed");
}
