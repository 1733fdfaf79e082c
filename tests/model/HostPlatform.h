/*
 * HostPlatform.h - the host (test) side of drivers/Platform.h.
 *
 * HostPlatform.c, HostPlatform-Clock.c and HostPlatform-Interrupts.c
 * implement every function of drivers/Platform.h over POSIX threads and the device models, so driver
 * sources built with -DCAIRN_HOST_BUILD run unmodified in a test process.
 * This header is what tests (and device models) use to drive that world:
 *
 *  - MMIO: a device model registers a decoder (HOST_MMIO_OPS). The window
 *    PlatformMapMMIO returns is reserved PROT_NONE address space, so a
 *    driver that dereferences it directly instead of calling
 *    PlatformRead32/Write32 crashes at once; the accessors dispatch to the
 *    model by address. A window over memory-like device space (an MSI-X
 *    table or PBA, which the kernel's PCI code reads and writes directly)
 *    is the model's memory itself (HOST_MMIO_OPS.Direct).
 *  - Memory: PlatformDMAAlloc and PlatformTranslate go through one global
 *    MEMORY_BUS (HostPlatformMemoryBus), whose frames are scattered; both
 *    honour the lowest DMA address limit of the listed PCI functions
 *    (PCIGetDMALimit), as the kernel's do.
 *  - Time: a virtual clock by default. It moves only when every driver and
 *    test thread is inside a platform wait (sleep, event wait, contended
 *    mutex) and nothing else is in flight (no interrupt or deferred work
 *    queued or running, no model busy); then it jumps to the earliest
 *    deadline (a sleeper's, a waiter's or a timer's). So a driver's "wait
 *    5 s for a completion that never comes" takes microseconds, and runs the
 *    same every time. Threads are known from their first platform call.
 *    HostClockUseRealTime(TRUE) switches to CLOCK_MONOTONIC (and real
 *    sleeps) for stress tests. PlatformBusyWaitUs under a PLATFORM_LOCK
 *    (interrupts off, in the kernel) moves the waiting thread's clock at
 *    once and everyone's when it releases its last lock, so no other
 *    thread wakes in the middle.
 *  - Interrupts: devices post MSI/MSI-X messages (HostInterruptMessage) or
 *    drive an INTx line (HostInterruptSetLine). One "CPU" thread delivers
 *    them to the handlers PlatformInterruptSetup bound, one at a time, so a
 *    top half never runs inside the device model or inside the driver's
 *    doorbell write. A level-triggered line is re-delivered while it stays
 *    asserted (as an IOAPIC does after EOI).
 *  - Deferred work runs on one worker thread; PlatformThreadCreate makes
 *    detached pthreads.
 *  - Rules of the platform contract are checked: sleeping or waiting in an
 *    interrupt handler or while holding a PLATFORM_LOCK, taking a
 *    PLATFORM_LOCK recursively, MMIO on an unmapped address, an interrupt
 *    storm on a level line. A break is reported to the violation handler and
 *    recorded (HostPlatformTakeViolation), like the device models' rules.
 *
 * Call HostPlatformInit once per process (tests do it in a group setup) and
 * HostPlatformReset between tests: it waits for the interrupt and work
 * threads to drain, drops handlers, options, shutdown hooks and records.
 */

#ifndef TESTS_MODEL_HOSTPLATFORM_H_INCLUDED
#define TESTS_MODEL_HOSTPLATFORM_H_INCLUDED

#include "Base.h"
#include "MemoryBus.h"
#include "drivers/Platform.h"

/************************************************************************/
// Life cycle

void HostPlatformInit(void);
/** Drains the interrupt, work and timer threads (bounded) and forgets every registration and record. */
void HostPlatformReset(void);
/** Waits (real time, bounded) until no interrupt, deferred work or timer callback is queued or running. */
BOOL HostPlatformWaitIdle(U32 RealTimeoutMs);
MEMORY_BUS* HostPlatformMemoryBus(void);

/************************************************************************/
// Time

BOOL HostClockIsVirtual(void);
void HostClockUseRealTime(BOOL Real);
U64 HostClockNowNs(void);
/** Moves the virtual clock forward (fires the timers it passes). No effect in real time. */
void HostClockAdvanceNs(U64 Nanoseconds);

/** The next Count PlatformEventCreate calls fail (NULL): what a driver does when no event can be had. */
void HostPlatformFailEventCreates(U32 Count);

/**
 * Something that, while busy, keeps the virtual clock from jumping (a model with commands in hand). The function
 * is called with the clock's lock held: it must only read (atomics), never block or call the platform.
 */
typedef BOOL (*HOST_BUSY_FUNCTION)(LPVOID Context);
void HostPlatformAddBusySource(HOST_BUSY_FUNCTION Function, LPVOID Context);
void HostPlatformRemoveBusySource(HOST_BUSY_FUNCTION Function, LPVOID Context);

/** One-shot timers on the platform clock; callbacks run on the timer thread. */
typedef struct tag_HOST_TIMER HOST_TIMER;
typedef void (*HOST_TIMER_FUNCTION)(LPVOID Context);
HOST_TIMER* HostTimerCreate(HOST_TIMER_FUNCTION Function, LPVOID Context);
/** Arms (or re-arms) the timer for an absolute platform time. */
void HostTimerArm(HOST_TIMER* Timer, U64 DeadlineNs);
void HostTimerCancel(HOST_TIMER* Timer);
/** Cancels and frees; waits if the callback is running (not from the callback itself). */
void HostTimerDestroy(HOST_TIMER* Timer);

/************************************************************************/
// MMIO

typedef struct tag_HOST_MMIO_OPS {
    /** Claims [Physical, Physical + Size): returns TRUE and the offset inside the device's window. */
    BOOL (*Decode)(LPVOID Context, PHYSICAL Physical, U64 Size, U64* Offset);
    /** Size is 1, 2, 4 or 8 (platform accessors use 4). */
    U64 (*Read)(LPVOID Context, U64 Offset, U32 Size);
    void (*Write)(LPVOID Context, U64 Offset, U32 Size, U64 Value);
    /** Plain memory behind [Offset, Offset + Size) (an MSI-X table), or NULL. */
    LPVOID (*Direct)(LPVOID Context, U64 Offset, U64 Size);
    /** Re-reads state the host may have changed through Direct memory (unmasked MSI-X entries). */
    void (*Sync)(LPVOID Context);
} HOST_MMIO_OPS;

typedef struct tag_HOST_MMIO_DEVICE HOST_MMIO_DEVICE;
HOST_MMIO_DEVICE* HostMmioRegister(const HOST_MMIO_OPS* Ops, LPVOID Context);
void HostMmioUnregister(HOST_MMIO_DEVICE* Device);
/** Plain memory at a physical MMIO address (through the owning device's Direct), or NULL. */
LPVOID HostMmioDirect(PHYSICAL Physical, U64 Size);
/** Calls every device's Sync. */
void HostMmioSyncAll(void);
/** How many MMIO windows are mapped now (a driver that forgets PlatformUnmapMMIO leaks them). */
U32 HostMmioMappingCount(void);

/************************************************************************/
// Interrupts (device side)

/** A device's message write (MSI, MSI-X): Address must be in the 0xFEExxxxx window; Data carries the vector. */
void HostInterruptMessage(U64 Address, U32 Data);
/** A device's INTx line (the GSI its Interrupt Line register names). */
void HostInterruptSetLine(U32 Gsi, BOOL Asserted);
/** Messages that arrived for a vector nobody bound. */
U64 HostInterruptSpuriousCount(void);
/** Handler runs for a CPU vector (what PlatformInterruptCount reports for that vector). */
U64 HostInterruptVectorCount(U8 Vector);
/** The CPU (APIC ID: the host's are the CPU indexes) the last message for Vector was addressed to. */
U32 HostInterruptVectorCpu(U8 Vector);

/************************************************************************/
// CPUs

/**
 * How many CPUs PlatformCpuCount reports (1 until set; HostPlatformReset puts 1 back): set before a driver
 * attaches. A thread stands for the CPU it last set with HostPlatformSetCurrentCpu (0 until then); the interrupt
 * thread runs each handler as the CPU its message was addressed to, so a handler that asks sees that CPU.
 */
void HostPlatformSetCpuCount(U32 Count);
void HostPlatformSetCurrentCpu(U32 Cpu);

/************************************************************************/
// Options and shutdown

/** Sets the value PlatformGetOption returns for Name (NULL Value removes it). */
void HostPlatformSetOption(LPCSTR Name, LPCSTR Value);
U32 HostPlatformShutdownHookCount(void);
LPCSTR HostPlatformShutdownHookName(U32 Index);
/** Runs the hooks drivers registered, last registered first (as system/Shutdown.c); returns how many ran. */
U32 HostPlatformRunShutdownHooks(BOOL Reboot);

/************************************************************************/
// Threads

/** Threads started with PlatformThreadCreate that have not returned yet. */
U32 HostPlatformLiveThreadCount(void);
/** TRUE on the interrupt-delivery thread (a top half is running). */
BOOL HostPlatformInInterrupt(void);
/**
 * A test or model thread about to block outside the platform (a real-time
 * wait, a join) brackets it with these, so the virtual clock does not wait
 * for it; a thread that ran outside platform waits for 2 s of real time is
 * reported and the clock moves anyway.
 */
U32 HostPlatformExternalWaitBegin(void);
void HostPlatformExternalWaitEnd(U32 Token);
/** Marks the calling thread as part of the machinery (model threads): it never holds the clock. */
void HostPlatformMarkInternalThread(void);

/************************************************************************/
// Contract violations

typedef void (*HOST_VIOLATION_HANDLER)(LPVOID Context, LPCSTR Rule, LPCSTR Message);
/** NULL restores the default (print to stderr). Records are kept either way. */
void HostPlatformSetViolationHandler(HOST_VIOLATION_HANDLER Handler, LPVOID Context);
void HostPlatformReportViolation(LPCSTR Rule, LPCSTR Format, ...) PRINTF_LIKE(2, 3);
U32 HostPlatformViolationCount(void);
/** Copies record Index (rule name and message); FALSE past the end. */
BOOL HostPlatformGetViolation(U32 Index, LPSTR Rule, SIZE RuleSize, LPSTR Message, SIZE MessageSize);
/** Removes the first record of Rule; FALSE if there is none. */
BOOL HostPlatformTakeViolation(LPCSTR Rule);
void HostPlatformClearViolations(void);

#endif  // TESTS_MODEL_HOSTPLATFORM_H_INCLUDED
