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
 *
 * Every CPU loads the same IDT. A vector's handlers run on whichever CPU the
 * interrupt is delivered to: device vectors go to the boot CPU unless the
 * driver aims them elsewhere (InterruptCPUApicId gives the destination to
 * put in an IOAPIC route or an MSI message); the timer and the IPI vectors
 * fire on every CPU. Unregistering waits until no CPU is still running a
 * handler of that vector.
 *
 * Every handler sharing a vector is called on each interrupt (a level
 * triggered line stays asserted until every device on it is serviced).
 * Handler slots come from a fixed pool of INTERRUPT_HANDLER_SLOTS.
 */

#ifndef ARCH_X86_64_INTERRUPTS_H_INCLUDED
#define ARCH_X86_64_INTERRUPTS_H_INCLUDED

#include "Base.h"

#define INTERRUPT_VECTOR_COUNT 256
#define INTERRUPT_EXCEPTION_COUNT 32
#define INTERRUPT_FIRST_PIC_VECTOR 32
#define INTERRUPT_LAST_PIC_VECTOR 47
#define INTERRUPT_FIRST_DEVICE_VECTOR 48
#define INTERRUPT_LAST_DEVICE_VECTOR 239
#define INTERRUPT_VECTOR_TIMER 240
#define INTERRUPT_VECTOR_RESCHEDULE 241     // IPI: run the scheduler (a thread was queued here)
#define INTERRUPT_VECTOR_TLB_SHOOTDOWN 242  // IPI: flush the TLB range a shootdown published
#define INTERRUPT_VECTOR_HALT 243           // IPI: stop for good (panic, power off)
#define INTERRUPT_VECTOR_APIC_ERROR 254
#define INTERRUPT_VECTOR_SPURIOUS 255

/** Handlers that can be registered at once, over all vectors. */
#define INTERRUPT_HANDLER_SLOTS 64

/** The register state the common stub pushes; the layout matches InterruptStubs.asm. */
typedef struct tag_INTERRUPT_FRAME {
    U64 R15, R14, R13, R12, R11, R10, R9, R8;
    U64 RBP, RDI, RSI, RDX, RCX, RBX, RAX;
    U64 Vector;
    U64 ErrorCode;  // 0 for vectors where the CPU pushes none
    // Pushed by the CPU.
    U64 RIP, CS, RFLAGS, RSP, SS;
} INTERRUPT_FRAME;

/** Returns TRUE if the interrupt was for this handler (shared lines). */
typedef BOOL (*INTERRUPT_HANDLER)(INTERRUPT_FRAME* Frame, LPVOID Context);

/** Fills the IDT (every vector to the common dispatcher) and loads it on the boot CPU. */
void InterruptsInit(void);
/** Loads the same IDT on an application processor. */
void InterruptsLoadCPU(void);

/** The APIC ID device interrupts are aimed at by default: the boot CPU's. */
U32 InterruptDefaultApicId(void);
/**
 * The APIC ID to put in an IOAPIC route or an MSI/MSI-X message (PCIMSIComposeMessage) to aim an
 * interrupt at CPU index Cpu; MAX_U32 when that CPU is not online.
 */
U32 InterruptCPUApicId(U32 Cpu);

/** Reserves a free device vector; returns 0 when none is left. */
U8 InterruptAllocateVector(void);
void InterruptFreeVector(U8 Vector);

/**
 * Attaches a handler to a vector (several handlers may share one). Device
 * vectors (48-239) must have been allocated first; kernel vectors (240-254)
 * may be used directly. The same Handler/Context pair cannot be registered
 * twice on one vector. FALSE on bad arguments or when the pool is full.
 */
BOOL DeviceInterruptRegister(U8 Vector, INTERRUPT_HANDLER Handler, LPVOID Context);
BOOL DeviceInterruptUnregister(U8 Vector, INTERRUPT_HANDLER Handler, LPVOID Context);

/**
 * Routes a legacy ISA IRQ (0-15) through the IOAPIC to a newly allocated
 * vector on the boot CPU and registers the handler there. A second handler
 * on the same IRQ shares the vector already allocated for it.
 */
BOOL InterruptRegisterLegacy(U8 IsaIrq, INTERRUPT_HANDLER Handler, LPVOID Context);

/** How many times a vector fired (for the `irq` command). */
U64 InterruptGetCount(U8 Vector);
/** Names what a vector serves (shown by `irq`); the string must stay valid. */
void InterruptSetVectorName(U8 Vector, LPCSTR Name);
LPCSTR InterruptGetVectorName(U8 Vector);

/** Names the exception vector (0-31), e.g. "Page fault". */
LPCSTR InterruptExceptionName(U8 Vector);
/** The exception mnemonic without '#', e.g. "PF"; "??" outside 0-31 or for reserved vectors. */
LPCSTR InterruptExceptionMnemonic(U8 Vector);

/************************************************************************/
// Internal: shared by Interrupts.c, Exceptions.c and the unit tests.

/** Called by InterruptStubs.asm for every vector. */
void InterruptDispatch(INTERRUPT_FRAME* Frame);
/** Exception path: dumps the state on every console and halts for good. */
NORETURN void ExceptionHandle(INTERRUPT_FRAME* Frame);
/** Counts one interrupt on Vector and calls each handler on it; returns how many claimed it. */
U32 InterruptRunHandlers(U8 Vector, INTERRUPT_FRAME* Frame);
/** Forgets every allocation, handler and count (unit tests only). */
void InterruptResetState(void);

#endif  // ARCH_X86_64_INTERRUPTS_H_INCLUDED
