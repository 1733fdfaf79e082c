/*
 * CPU.h - thin inline wrappers around x86-64 instructions.
 *
 * Port I/O, MSRs, CPUID, the TSC, control registers, interrupt flag and
 * memory barriers. Nothing here has state; see CPUInfo.h for the decoded
 * CPUID data the shell shows.
 */

#ifndef ARCH_X86_64_CPU_H_INCLUDED
#define ARCH_X86_64_CPU_H_INCLUDED

#include "Base.h"

/************************************************************************/
// Port I/O

static inline void OutPortByte(U16 Port, U8 Value) { __asm__ volatile("outb %0, %1" : : "a"(Value), "Nd"(Port)); }
static inline void OutPortWord(U16 Port, U16 Value) { __asm__ volatile("outw %0, %1" : : "a"(Value), "Nd"(Port)); }
static inline void OutPortLong(U16 Port, U32 Value) { __asm__ volatile("outl %0, %1" : : "a"(Value), "Nd"(Port)); }

static inline U8 InPortByte(U16 Port) {
    U8 Value;
    __asm__ volatile("inb %1, %0" : "=a"(Value) : "Nd"(Port));
    return Value;
}

static inline U16 InPortWord(U16 Port) {
    U16 Value;
    __asm__ volatile("inw %1, %0" : "=a"(Value) : "Nd"(Port));
    return Value;
}

static inline U32 InPortLong(U16 Port) {
    U32 Value;
    __asm__ volatile("inl %1, %0" : "=a"(Value) : "Nd"(Port));
    return Value;
}

static inline void IOWait(void) { OutPortByte(0x80, 0); }

/************************************************************************/
// MSR, CPUID, TSC

static inline U64 ReadMSR(U32 Msr) {
    U32 Low, High;
    __asm__ volatile("rdmsr" : "=a"(Low), "=d"(High) : "c"(Msr));
    return ((U64)High << 32) | Low;
}

static inline void WriteMSR(U32 Msr, U64 Value) {
    __asm__ volatile("wrmsr" : : "c"(Msr), "a"((U32)Value), "d"((U32)(Value >> 32)));
}

static inline void CPUID(U32 Leaf, U32 SubLeaf, U32* A, U32* B, U32* C, U32* D) {
    __asm__ volatile("cpuid" : "=a"(*A), "=b"(*B), "=c"(*C), "=d"(*D) : "a"(Leaf), "c"(SubLeaf));
}

static inline U64 ReadTSC(void) {
    U32 Low, High;
    __asm__ volatile("rdtsc" : "=a"(Low), "=d"(High));
    return ((U64)High << 32) | Low;
}

/************************************************************************/
// Control registers and flags

static inline U64 ReadCR0(void) { U64 V; __asm__ volatile("mov %%cr0, %0" : "=r"(V)); return V; }
static inline U64 ReadCR2(void) { U64 V; __asm__ volatile("mov %%cr2, %0" : "=r"(V)); return V; }
static inline U64 ReadCR3(void) { U64 V; __asm__ volatile("mov %%cr3, %0" : "=r"(V)); return V; }
static inline U64 ReadCR4(void) { U64 V; __asm__ volatile("mov %%cr4, %0" : "=r"(V)); return V; }
static inline void WriteCR3(U64 V) { __asm__ volatile("mov %0, %%cr3" : : "r"(V) : "memory"); }
static inline void WriteCR4(U64 V) { __asm__ volatile("mov %0, %%cr4" : : "r"(V) : "memory"); }
static inline void WriteCR0(U64 V) { __asm__ volatile("mov %0, %%cr0" : : "r"(V) : "memory"); }

static inline U64 ReadFlags(void) {
    U64 Flags;
    __asm__ volatile("pushfq; popq %0" : "=r"(Flags) : : "memory");
    return Flags;
}

#define CPU_FLAG_IF 0x200

static inline void DisableInterrupts(void) { __asm__ volatile("cli" : : : "memory"); }
static inline void EnableInterrupts(void) { __asm__ volatile("sti" : : : "memory"); }
static inline void Halt(void) { __asm__ volatile("hlt" : : : "memory"); }
static inline void EnableInterruptsAndHalt(void) { __asm__ volatile("sti; hlt" : : : "memory"); }
static inline void CPUPause(void) { __asm__ volatile("pause" : : : "memory"); }
static inline void InvalidatePage(LINEAR Address) { __asm__ volatile("invlpg (%0)" : : "r"(Address) : "memory"); }

/** Saves the interrupt flag and disables interrupts; pair with RestoreInterrupts. */
static inline U64 SaveAndDisableInterrupts(void) {
    U64 Flags = ReadFlags();
    DisableInterrupts();
    return Flags;
}

static inline void RestoreInterrupts(U64 Flags) {
    if (Flags & CPU_FLAG_IF) EnableInterrupts();
}

/************************************************************************/
// Barriers. On x86 stores to uncached MMIO are not reordered with each other,
// but the compiler may reorder them; these also order WB memory (queue
// entries) against MMIO doorbell writes.

static inline void MemoryBarrier(void) { __asm__ volatile("mfence" : : : "memory"); }
static inline void ReadBarrier(void) { __asm__ volatile("lfence" : : : "memory"); }
static inline void WriteBarrier(void) { __asm__ volatile("sfence" : : : "memory"); }
static inline void CompilerBarrier(void) { __asm__ volatile("" : : : "memory"); }

/************************************************************************/
// MSR numbers

#define MSR_APIC_BASE 0x1B
#define MSR_EFER 0xC0000080
#define MSR_PAT 0x277
#define MSR_FS_BASE 0xC0000100
#define MSR_GS_BASE 0xC0000101
#define MSR_KERNEL_GS_BASE 0xC0000102

#endif  // ARCH_X86_64_CPU_H_INCLUDED
