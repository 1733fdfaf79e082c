/*
 * SMP.h - the processors: which exist, which run, their per-CPU data, and
 * how they reach each other.
 *
 * Layer: core, over arch/x86-64 (APIC, GDT, IDT, the trampoline). Owns the
 * table of CPUs (one PER_CPU each, indexed 0 .. count - 1; index 0 is the
 * boot CPU; APIC IDs are whatever the MADT says, holes included, never
 * "index = APIC ID"), bringing the application processors up, and stopping
 * them all (panic, power off).
 *
 * Per-CPU data: GS_BASE holds the CPU's PER_CPU, whose first word points to
 * itself (GetPerCPU reads %gs:0). The running thread is read with one
 * GS-relative load (GetCurrentThread), so a thread moved to another CPU
 * between two instructions still reads its own; anything else taken from
 * GetPerCPU() is only stable with interrupts off (or the scheduler lock
 * held), since the thread may be moved as soon as it can be preempted.
 *
 * Bring-up (SMPStart, called once by KernelMain after the scheduler runs):
 * the MADT's processor entries are classified (ACPIListProcessors), then
 * each CPU to start gets, one after another, INIT, a delay, up to two
 * STARTUP IPIs and a bounded wait for its first sign of life and then for
 * "online"; a CPU that does not come up is logged, parked with another INIT
 * and skipped. See documentation/SMP.md.
 */

#ifndef CORE_SMP_H_INCLUDED
#define CORE_SMP_H_INCLUDED

#include "Base.h"

#define SMP_MAX_CPUS 64

typedef enum {
    CPU_STATE_ABSENT = 0,  // an unused slot
    CPU_STATE_OFFLINE,     // in the MADT, not started (hot-pluggable, disabled, x2APIC only)
    CPU_STATE_STARTING,    // INIT-SIPI-SIPI sent, not in the kernel yet
    CPU_STATE_ENTERED,     // its C entry claimed the slot (from STARTING, atomically): it runs kernel code
    CPU_STATE_ONLINE,      // runs threads, takes IPIs and TLB shootdowns
    CPU_STATE_FAILED,      // did not come up in time: parked with INIT
    CPU_STATE_HALTED,      // stopped for good (panic, power off)
} CPU_STATE;

struct tag_THREAD;

/** One per CPU, cache-line aligned (no false sharing between CPUs' counters). */
typedef struct tag_PER_CPU {
    struct tag_PER_CPU* Self;         // %gs:0
    struct tag_THREAD* Current;       // %gs:8, the running thread
    U32 Index;
    U32 ApicId;
    U32 AcpiUid;
    volatile U32 State;               // CPU_STATE
    struct tag_THREAD* Idle;
    volatile BOOL NeedReschedule;     // set by this CPU or, under the scheduler lock, by another
    U32 InterruptDepth;
    U32 ExceptionDepth;
    // Statistics, written by this CPU only (read anywhere: 64-bit loads are atomic).
    U64 Ticks;
    U64 ContextSwitches;
    U64 ThreadsRun;                   // switches to a thread other than the idle thread
    U64 IdleTimeNs;                   // accounted when the idle thread is switched out
    U64 OnlineSinceNs;
    U64 ReschedulesReceived;          // reschedule IPIs
    U64 ShootdownsServed;             // TLB shootdown IPIs answered
    volatile U64 TLBAcknowledged;     // the last shootdown generation this CPU flushed (memory/TLB.c)
} __attribute__((aligned(64))) PER_CPU;

STATIC_ASSERT(OFFSET_OF(PER_CPU, Self) == 0, "GetPerCPU reads %gs:0");
STATIC_ASSERT(OFFSET_OF(PER_CPU, Current) == 8, "GetCurrentThread reads %gs:8");

/** This CPU's data (stable only with interrupts off: see above). */
static inline PER_CPU* GetPerCPU(void) {
    PER_CPU* Self;
    __asm__ volatile("mov %%gs:0, %0" : "=r"(Self));
    return Self;
}

/** Sets up the boot CPU's PER_CPU (index 0) and GS_BASE; first thing after the GDT is loaded. */
void SMPInitBootCPU(void);
/** Starts the application processors the MADT lists (once, after SchedulerStart and TimerInit). */
void SMPStart(void);

/** CPUs in the table (online, failed and offline ones: `cpu` lists them all). */
U32 SMPGetCount(void);
U32 SMPGetOnlineCount(void);
/** The PER_CPU of slot Index, NULL past the table. */
PER_CPU* SMPGetCPU(U32 Index);
BOOL SMPIsOnline(U32 Index);
U32 SMPGetApicId(U32 Index);
/** This CPU's index without trusting GS to point at a PER_CPU (for the fault path); 0 if unknown. */
U32 SMPCurrentIndexSafe(void);
LPCSTR SMPStateName(CPU_STATE State);

/** Asks CPU Index to run its scheduler now (a thread was queued there); no-op for this CPU. */
void SMPSendReschedule(U32 Index);

/**
 * Stops every other online CPU (panic, exception, power off): a HALT IPI,
 * then an NMI for those still running after a bounded wait (they may spin
 * with interrupts off). Safe before SMPStart and when called again.
 */
void SMPHaltOthers(void);
/** TRUE once SMPHaltOthers started: an NMI then means "halt", not an error. */
BOOL SMPIsHalting(void);
/** Marks this CPU halted and stops it. */
NORETURN void SMPHaltThisCPU(void);

#endif  // CORE_SMP_H_INCLUDED
