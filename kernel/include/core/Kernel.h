/*
 * Kernel.h - kernel-wide entry points and identity.
 */

#ifndef CORE_KERNEL_H_INCLUDED
#define CORE_KERNEL_H_INCLUDED

#include "Base.h"

#define CAIRN_NAME "Cairn"
#ifndef CAIRN_VERSION
#define CAIRN_VERSION "0.1.0"
#endif

void KernelMain(U64 Magic, PHYSICAL BootInformation);
/** Stops this CPU for good (interrupts off, halted). */
NORETURN void KernelHalt(void);
/** Prints a message on every console and halts. */
NORETURN void KernelPanic(LPCSTR Format, ...) PRINTF_LIKE(1, 2);
/** TSC value read first thing in KernelMain (for the boot time line). */
extern U64 KernelEntryTSC;

#endif  // CORE_KERNEL_H_INCLUDED
