/*
 * GDT.h - the kernel's GDT and TSS.
 *
 * Selectors: 0x08 kernel code, 0x10 kernel data, 0x18/0x20 user data/code
 * (reserved), 0x28 the TSS. The TSS gives the double fault, NMI and machine
 * check handlers their own stacks (IST 1-3) so a kernel stack overflow still
 * produces a dump instead of a triple fault.
 *
 * Every CPU has its own GDT and TSS (`ltr` marks a TSS descriptor busy, so
 * two CPUs cannot load the same one) and its own three IST stacks. The
 * tables live in the kernel image (one slot per possible CPU); the boot
 * CPU's IST stacks too, so they are there before the heap. The other CPUs'
 * IST stacks come from the heap (GDTPrepareCPU, on the boot CPU, before the
 * CPU is started).
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
/** CPUs that can have tables (CPU indexes 0 .. GDT_MAX_CPUS - 1; the same bound as SMP_MAX_CPUS). */
#define GDT_MAX_CPUS 64

/** Loads the boot CPU's (index 0) GDT, reloads the segment registers and loads the task register. */
void GDTInit(void);
/** Gives CPU Cpu (1 .. GDT_MAX_CPUS - 1) IST stacks and fills its tables; FALSE when out of memory. */
BOOL GDTPrepareCPU(U32 Cpu);
/** On CPU Cpu itself, after GDTPrepareCPU: loads its GDT, reloads the segments, loads its TSS. */
void GDTLoadCPU(U32 Cpu);

/** Bounds of IST stack Index (1-3) of CPU Cpu; FALSE for a bad index or a CPU without tables. */
BOOL GDTGetIstStack(U32 Cpu, U32 Index, LINEAR* Bottom, LINEAR* Top);

#endif  // ARCH_X86_64_GDT_H_INCLUDED
