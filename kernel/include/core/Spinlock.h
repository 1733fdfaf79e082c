/*
 * Spinlock.h - spinlocks that also mask interrupts on the local CPU.
 *
 * A real lock (an atomic exchange), not "interrupts off means exclusive", so
 * it stays correct once other CPUs run. SpinlockAcquire saves the interrupt
 * flag and disables interrupts before spinning, so an interrupt handler on
 * the same CPU can never deadlock against the code it interrupted;
 * SpinlockRelease restores the flag. Hold a spinlock only for a few
 * instructions: never sleep with one held.
 *
 * Host builds (CAIRN_HOST_BUILD, the tests' host kernel in tests/host) run
 * the same lock on user threads: there is no interrupt flag to save, and a
 * waiter now and then yields its CPU, since a holder there can be preempted
 * (in the kernel, interrupts off prevent that).
 */

#ifndef CORE_SPINLOCK_H_INCLUDED
#define CORE_SPINLOCK_H_INCLUDED

#include "Base.h"
#include "arch/x86-64/CPU.h"

#ifdef CAIRN_HOST_BUILD
#include <sched.h>
#define SPINLOCK_SAVE_INTERRUPTS() 0ULL
#define SPINLOCK_RESTORE_INTERRUPTS(Flags) UNUSED(Flags)
/** One wait step of a spinning waiter: a pause, and every 64th time the CPU for others. */
static inline void SpinlockPause(void) {
    static __thread U32 Spins;
    if ((++Spins & 63) == 0) sched_yield();
    else CPUPause();
}
#else
#define SPINLOCK_SAVE_INTERRUPTS() SaveAndDisableInterrupts()
#define SPINLOCK_RESTORE_INTERRUPTS(Flags) RestoreInterrupts(Flags)
/** One wait step of a spinning waiter. */
static inline void SpinlockPause(void) { CPUPause(); }
#endif

typedef struct tag_SPINLOCK {
    volatile U32 Locked;
    U32 Owner;  // CPU number + 1 of the holder, for diagnostics
} SPINLOCK;

#define SPINLOCK_INIT {0, 0}

static inline void SpinlockInit(SPINLOCK* Lock) {
    Lock->Locked = 0;
    Lock->Owner = 0;
}

static inline U64 SpinlockAcquire(SPINLOCK* Lock) {
    U64 Flags = SPINLOCK_SAVE_INTERRUPTS();
    while (__atomic_exchange_n(&Lock->Locked, 1, __ATOMIC_ACQUIRE) != 0) {
        while (__atomic_load_n(&Lock->Locked, __ATOMIC_RELAXED) != 0) SpinlockPause();
    }
    return Flags;
}

/** Tries once; on success returns TRUE and the saved flags in *Flags. */
static inline BOOL SpinlockTryAcquire(SPINLOCK* Lock, U64* Flags) {
    U64 Saved = SPINLOCK_SAVE_INTERRUPTS();
    if (__atomic_exchange_n(&Lock->Locked, 1, __ATOMIC_ACQUIRE) == 0) {
        *Flags = Saved;
        return TRUE;
    }
    SPINLOCK_RESTORE_INTERRUPTS(Saved);
    return FALSE;
}

/**
 * Tries up to Tries times; TRUE with the saved flags when it got the lock.
 * For output paths that must go on even when the holder can never release
 * it (an exception taken while printing): they proceed unlocked.
 */
static inline BOOL SpinlockTryAcquireBounded(SPINLOCK* Lock, U64* Flags, U32 Tries) {
    for (U32 Try = 0; Try < Tries; Try++) {
        if (SpinlockTryAcquire(Lock, Flags)) return TRUE;
    }
    return FALSE;
}

static inline void SpinlockRelease(SPINLOCK* Lock, U64 Flags) {
    __atomic_store_n(&Lock->Locked, 0, __ATOMIC_RELEASE);
    SPINLOCK_RESTORE_INTERRUPTS(Flags);
}

#endif  // CORE_SPINLOCK_H_INCLUDED
