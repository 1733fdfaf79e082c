/*
 * Interrupts.h - the IDT, CPU exceptions, and device interrupt registration.
 *
 * Vectors 0-31 are CPU exceptions: each prints a register dump, the faulting
 * address and a backtrace on every console, then halts the CPU.
 * Vectors 32-47 are left unused (the legacy PIC is remapped there and masked,
 * so a spurious PIC interrupt lands somewhere harmless).
 * Vectors 48-239 are allocated to devices: legacy ISA lines routed through
 * the IOAPIC, and (later) MSI/MSI-X messages, all through the same
 * DeviceInterruptRegister() so a driver does not care how its interrupt
 * arrives. 240-254 are for the kernel (timer, IPIs), 255 is the LAPIC
 * spurious vector.
 *
 * Handlers run with interrupts disabled, on the interrupted stack; they must
 * be short (acknowledge the device, queue work) and must not sleep. The
 * dispatcher sends the LAPIC EOI after the handler returns.
 */

#ifndef ARCH_X86_64_INTERRUPTS_H_INCLUDED
#define ARCH_X86_64_INTERRUPTS_H_INCLUDED

#include "Base.h"

#define INTERRUPT_VECTOR_COUNT 256
#define INTERRUPT_FIRST_DEVICE_VECTOR 48
#define INTERRUPT_LAST_DEVICE_VECTOR 239
#define INTERRUPT_VECTOR_TIMER 240
#define INTERRUPT_VECTOR_SPURIOUS 255

/** The register state the common stub pushes; the layout matches Interrupts.asm. */
typedef struct tag_INTERRUPT_FRAME {
    U64 R15, R14, R13, R12, R11, R10, R9, R8;
    U64 RBP, RDI, RSI, RDX, RCX, RBX, RAX;
    U64 Vector;
    U64 ErrorCode;
    // Pushed by the CPU.
    U64 RIP, CS, RFLAGS, RSP, SS;
} INTERRUPT_FRAME;

/** Returns TRUE if the interrupt was for this handler (shared lines). */
typedef BOOL (*INTERRUPT_HANDLER)(INTERRUPT_FRAME* Frame, LPVOID Context);

/** Loads the IDT with every vector pointing to the common dispatcher. */
void InterruptsInit(void);

/** Reserves a free device vector; returns 0 when none is left. */
U8 InterruptAllocateVector(void);
void InterruptFreeVector(U8 Vector);

/** Attaches a handler to a vector (several handlers may share one). */
BOOL DeviceInterruptRegister(U8 Vector, INTERRUPT_HANDLER Handler, LPVOID Context);
BOOL DeviceInterruptUnregister(U8 Vector, INTERRUPT_HANDLER Handler, LPVOID Context);

/**
 * Routes a legacy ISA IRQ (0-15) through the IOAPIC to a newly allocated
 * vector on this CPU and registers the handler there.
 */
BOOL InterruptRegisterLegacy(U8 IsaIrq, INTERRUPT_HANDLER Handler, LPVOID Context);

/** How many times a vector fired (for the `irq` command). */
U64 InterruptGetCount(U8 Vector);

/** Names the exception vector (0-31), e.g. "Page fault". */
LPCSTR InterruptExceptionName(U8 Vector);

#endif  // ARCH_X86_64_INTERRUPTS_H_INCLUDED
