/*
 * Platform.h - the one door through which drivers reach hardware and the
 * kernel's services.
 *
 * A driver (NVMe, VMD, ...) includes this header, the pure libraries
 * (utils/String.h, utils/Format.h), the PCI configuration helpers
 * (bus/pci/PCI.h, bus/pci/PCI-MSI.h, which go through a segment's
 * ops table) and core/Log.h, and nothing else of the kernel. The kernel
 * implements this header in drivers/Platform.c; host tests implement it over
 * device models (tests/model), so the same driver sources run in both.
 *
 * Rules the header encodes:
 *  - MMIO is reached only through PlatformRead32/Write32 (native 32-bit
 *    accesses). A 64-bit register is two ordered 32-bit accesses (low, then
 *    high), which the driver spells out, because the order matters.
 *  - Before a doorbell write that publishes memory the device will read,
 *    call PlatformWriteBarrier(); after reading a completion's phase bit and
 *    before reading the rest of it, PlatformReadBarrier().
 *  - DMA memory comes from PlatformDMAAlloc (physically contiguous, aligned,
 *    zeroed); a caller's buffer is translated page by page with
 *    PlatformTranslate, because it need not be physically contiguous.
 *  - Waits never spin without a bound: sleep (PlatformSleepMs), or wait on
 *    an event with a timeout; under a PLATFORM_LOCK (interrupts off), where
 *    nothing may sleep, PlatformBusyWaitUs holds the CPU for a hardware time.
 *  - Sync objects are opaque and created by the platform, so each platform
 *    backs them with what it has (kernel threads, or host threads in tests).
 */

#ifndef DRIVERS_PLATFORM_H_INCLUDED
#define DRIVERS_PLATFORM_H_INCLUDED

#include "Base.h"
#include "bus/pci/PCI-MSI.h"
#include "bus/pci/PCI.h"

/************************************************************************/
// MMIO

/** Maps a device register window (uncached). Returns 0 on failure. */
LINEAR PlatformMapMMIO(PHYSICAL Physical, U64 Size);
void PlatformUnmapMMIO(LINEAR Linear, U64 Size);
U32 PlatformRead32(LINEAR Address);
void PlatformWrite32(LINEAR Address, U32 Value);
/** Orders earlier memory writes before later ones (and before MMIO writes). */
void PlatformWriteBarrier(void);
/** Orders earlier reads before later reads. */
void PlatformReadBarrier(void);

/************************************************************************/
// Memory

#define PLATFORM_DMA_BELOW_4GB 0x0001

typedef struct tag_PLATFORM_DMA {
    LPVOID Linear;
    PHYSICAL Physical;
    U64 Size;
} PLATFORM_DMA;

/** Physically contiguous, Alignment-aligned (power of two, 4 KiB..2 MiB), zeroed. */
KSTATUS PlatformDMAAlloc(U64 Size, U64 Alignment, U32 Flags, PLATFORM_DMA* Buffer);
void PlatformDMAFree(PLATFORM_DMA* Buffer);
/** Physical address of one byte of a caller's buffer (valid to the end of its page); 0 if unmapped. */
PHYSICAL PlatformTranslate(LPCVOID Linear);
/** Ordinary memory (not for DMA). */
LPVOID PlatformAlloc(SIZE Size);
LPVOID PlatformAllocZero(SIZE Size);
void PlatformFree(LPVOID Pointer);

/************************************************************************/
// Time

U64 PlatformTimeNs(void);
/** Sleeps (or, before threads exist, waits) at least Milliseconds. */
void PlatformSleepMs(U32 Milliseconds);
/**
 * Waits at least Microseconds without giving up the CPU: for hardware times that must pass while a
 * PLATFORM_LOCK is held (a reset's hold time). Nothing else runs on this CPU meanwhile.
 */
void PlatformBusyWaitUs(U32 Microseconds);
void PlatformYield(void);

/************************************************************************/
// Synchronisation (opaque; created and destroyed by the platform)

typedef struct tag_PLATFORM_LOCK PLATFORM_LOCK;    // a spinlock: short sections, no sleeping inside
typedef struct tag_PLATFORM_MUTEX PLATFORM_MUTEX;  // a sleeping lock
typedef struct tag_PLATFORM_EVENT PLATFORM_EVENT;  // auto-reset unless created manual-reset

PLATFORM_LOCK* PlatformLockCreate(void);
void PlatformLockDestroy(PLATFORM_LOCK* Lock);
/** Returns state to hand back to PlatformLockRelease (the saved interrupt flag in the kernel). */
U64 PlatformLockAcquire(PLATFORM_LOCK* Lock);
void PlatformLockRelease(PLATFORM_LOCK* Lock, U64 State);

PLATFORM_MUTEX* PlatformMutexCreate(void);
void PlatformMutexDestroy(PLATFORM_MUTEX* Mutex);
void PlatformMutexLock(PLATFORM_MUTEX* Mutex);
void PlatformMutexUnlock(PLATFORM_MUTEX* Mutex);

PLATFORM_EVENT* PlatformEventCreate(BOOL ManualReset);
void PlatformEventDestroy(PLATFORM_EVENT* Event);
/** Safe from interrupt handlers. */
void PlatformEventSignal(PLATFORM_EVENT* Event);
void PlatformEventReset(PLATFORM_EVENT* Event);
/** TRUE if signalled, FALSE after TimeoutMs. */
BOOL PlatformEventWait(PLATFORM_EVENT* Event, U32 TimeoutMs);

/************************************************************************/
// Threads and deferred work

typedef void (*PLATFORM_FUNCTION)(LPVOID Context);
typedef struct tag_PLATFORM_WORK PLATFORM_WORK;

/** Starts a thread running Function(Context); FALSE if it could not. */
BOOL PlatformThreadCreate(LPCSTR Name, PLATFORM_FUNCTION Function, LPVOID Context);
/** Work that an interrupt top half hands to a thread (the bottom half). */
PLATFORM_WORK* PlatformWorkCreate(PLATFORM_FUNCTION Function, LPVOID Context);
void PlatformWorkDestroy(PLATFORM_WORK* Work);
/** Safe from interrupt handlers; queueing work already queued is a no-op. */
void PlatformWorkQueue(PLATFORM_WORK* Work);

/************************************************************************/
// Interrupts

/** A top half: acknowledge and defer; return TRUE if the interrupt was this device's. */
typedef BOOL (*PLATFORM_INTERRUPT_HANDLER)(LPVOID Context);

#define PLATFORM_MAX_VECTORS 64

#define PLATFORM_ALLOW_MSIX 0x1
#define PLATFORM_ALLOW_MSI 0x2
#define PLATFORM_ALLOW_INTX 0x4
#define PLATFORM_ALLOW_ALL 0x7

typedef struct tag_PLATFORM_INTERRUPTS {
    PCI_INTERRUPT_MODE Mode;  // what was set up (PCI_INTERRUPT_NONE: poll)
    U32 Count;                // message vectors in use (1 for MSI and INTx)
    U8 Vectors[PLATFORM_MAX_VECTORS];  // CPU vectors (for display)
    U32 TargetCpus[PLATFORM_MAX_VECTORS];  // the CPU each vector is aimed at (0, the boot CPU, until set)
    U32 Line;                 // INTx: the GSI
    PCI_MSIX_INFO Msix;
    PCI_MSI_INFO Msi;
    PLATFORM_INTERRUPT_HANDLER Handler;
    LPVOID Contexts[PLATFORM_MAX_VECTORS];
    U32 ContextCount;
    LPVOID Private;           // the platform's own bookkeeping
} PLATFORM_INTERRUPTS;

/**
 * Sets up to Wanted message vectors for Device in the order MSI-X, MSI, INTx
 * (as Allowed permits). Contexts[i] is passed to Handler for vector i; when
 * fewer vectors than contexts were granted (MSI, INTx), every context is
 * registered on vector 0 and each handler checks its own source. Returns
 * KSTATUS_NOT_SUPPORTED when no mode worked: the driver then polls.
 */
KSTATUS PlatformInterruptSetup(PCI_DEVICE* Device, U32 Wanted, U32 Allowed, PLATFORM_INTERRUPT_HANDLER Handler,
                               LPVOID* Contexts, U32 ContextCount, PLATFORM_INTERRUPTS* Interrupts);
void PlatformInterruptRelease(PCI_DEVICE* Device, PLATFORM_INTERRUPTS* Interrupts);
/** Masks or unmasks one message vector (MSI-X entry; whole function for MSI/INTx). */
void PlatformInterruptMask(PCI_DEVICE* Device, PLATFORM_INTERRUPTS* Interrupts, U32 Index, BOOL Masked);
/** How many times vector Index fired. */
U64 PlatformInterruptCount(const PLATFORM_INTERRUPTS* Interrupts, U32 Index);
/**
 * Aims MSI-X message vector Index at CPU Cpu (an index as PlatformCurrentCpu gives; the entry is left unmasked)
 * and records it in TargetCpus. KSTATUS_NOT_SUPPORTED for MSI, INTx and remapped vectors (they stay on the CPU
 * set-up chose: the boot CPU, or the remapping owner's), KSTATUS_BAD_PARAMETER for a CPU that is not online.
 */
KSTATUS PlatformInterruptSetAffinity(PCI_DEVICE* Device, PLATFORM_INTERRUPTS* Interrupts, U32 Index, U32 Cpu);

/************************************************************************/
// CPUs

/** CPUs that run threads: per-CPU resources (queues, vectors) are spread over 0 .. count - 1. */
U32 PlatformCpuCount(void);
/**
 * The CPU the caller runs on (0 is the boot CPU). A thread may move as soon as it can be preempted, so this
 * picks a resource that is cheap to use from here, never one whose use needs the caller to stay.
 */
U32 PlatformCurrentCpu(void);

/************************************************************************/
// Shutdown

typedef void (*PLATFORM_SHUTDOWN)(BOOL Reboot, LPVOID Context);
BOOL PlatformRegisterShutdown(LPCSTR Name, PLATFORM_SHUTDOWN Function, LPVOID Context);

/************************************************************************/
// Boot options

/** A kernel command-line option (e.g. "nvme.poll"), or NULL. */
LPCSTR PlatformGetOption(LPCSTR Name);

#endif  // DRIVERS_PLATFORM_H_INCLUDED
