/*
 * GDT.h - the kernel's GDT and TSS.
 *
 * Selectors: 0x08 kernel code, 0x10 kernel data, 0x18/0x20 user data/code
 * (reserved), 0x28 the TSS. The TSS gives the double fault, NMI and machine
 * check handlers their own stacks (IST 1-3) so a kernel stack overflow still
 * produces a dump instead of a triple fault.
 *
 * The tables and the IST stacks live in the kernel image (.data/.bss, higher
 * half), so they stay valid when MemoryInit() drops the boot identity map.
 */

#ifndef ARCH_X86_64_GDT_H_INCLUDED
#define ARCH_X86_64_GDT_H_INCLUDED

#include "Base.h"

#define GDT_KERNEL_CODE 0x08
#define GDT_KERNEL_DATA 0x10
#define GDT_USER_DATA 0x18
#define GDT_USER_CODE 0x20
#define GDT_TSS 0x28

#define IST_DOUBLE_FAULT 1
#define IST_NMI 2
#define IST_MACHINE_CHECK 3

/** Size of each IST stack. */
#define GDT_IST_STACK_SIZE (16 * N_1KB)

/** Loads the GDT, reloads the segment registers and loads the task register. Call once, on the boot CPU. */
void GDTInit(void);

/** Bounds of IST stack Index (1-3), for the exception handler's sanity checks; FALSE for a bad index. */
BOOL GDTGetIstStack(U32 Index, LINEAR* Bottom, LINEAR* Top);

#endif  // ARCH_X86_64_GDT_H_INCLUDED
