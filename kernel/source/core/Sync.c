/*
 * Sync.c - mutexes, events and semaphores over the scheduler's wait queues.
 *
 * All state changes happen under the scheduler lock, so a signal from an
 * interrupt handler and a waiter going to sleep cannot miss each other.
 * Wake-ups hand the resource over directly (the mutex to the first waiter,
 * an auto-reset event's signal to one waiter), so a woken thread never has
 * to compete again for what it was given.
 */

#include "core/Sync.h"

#include "arch/x86-64/CPU.h"
#include "system/Clock.h"

/** Deadline in ns for a timeout in ms (0 = none for WAIT_FOREVER). */
static U64 DeadlineFor(U32 TimeoutMs) {
    if (TimeoutMs == WAIT_FOREVER) return 0;
    return GetSystemTimeNs() + (U64)TimeoutMs * 1000000ULL + 1;
}

/************************************************************************/
// Mutex

void MutexInit(MUTEX* Mutex) {
    Mutex->Owner = NULL;
    Mutex->Recursion = 0;
    Mutex->Waiters.Head = Mutex->Waiters.Tail = NULL;
}

BOOL MutexTryLock(MUTEX* Mutex) {
    THREAD* Self = GetCurrentThread();
    BOOL Taken = FALSE;
    U64 Flags = SchedulerLock();
    if (Mutex->Owner == NULL || Mutex->Owner == Self) {
        Mutex->Owner = Self;
        Mutex->Recursion++;
        Taken = TRUE;
    }
    SchedulerUnlock(Flags);
    return Taken;
}

void MutexLock(MUTEX* Mutex) {
    THREAD* Self = GetCurrentThread();
    U64 Flags = SchedulerLock();
    if (Mutex->Owner == NULL || Mutex->Owner == Self) {
        Mutex->Owner = Self;
        Mutex->Recursion++;
        SchedulerUnlock(Flags);
        return;
    }
    if (!SchedulerIsRunning()) {
        // Before threads exist nobody else can hold it for long; this is a bug, not a wait.
        SchedulerUnlock(Flags);
        for (;;) Halt();
    }
    // MutexUnlock makes us the owner before waking us.
    SchedulerBlockLocked(&Mutex->Waiters, 0);
    SchedulerUnlock(Flags);
}

void MutexUnlock(MUTEX* Mutex) {
    U64 Flags = SchedulerLock();
    if (Mutex->Owner != GetCurrentThread() || Mutex->Recursion == 0) {
        SchedulerUnlock(Flags);
        return;
    }
    if (--Mutex->Recursion == 0) {
        THREAD* Next = Mutex->Waiters.Head;
        Mutex->Owner = Next;
        if (Next) {
            Mutex->Recursion = 1;
            Next->WaitSatisfied = TRUE;
            SchedulerWakeLocked(Next);
        }
    }
    SchedulerUnlock(Flags);
}

/************************************************************************/
// Event

void EventInit(EVENT* Event, BOOL ManualReset, BOOL Signaled) {
    Event->Signaled = Signaled;
    Event->ManualReset = ManualReset;
    Event->Waiters.Head = Event->Waiters.Tail = NULL;
}

void EventSignal(EVENT* Event) {
    U64 Flags = SchedulerLock();
    if (Event->ManualReset) {
        Event->Signaled = TRUE;
        while (Event->Waiters.Head) {
            THREAD* Waiter = Event->Waiters.Head;
            Waiter->WaitSatisfied = TRUE;
            SchedulerWakeLocked(Waiter);
        }
    } else if (Event->Waiters.Head) {
        THREAD* Waiter = Event->Waiters.Head;  // the signal goes straight to one waiter
        Waiter->WaitSatisfied = TRUE;
        SchedulerWakeLocked(Waiter);
    } else {
        Event->Signaled = TRUE;
    }
    SchedulerUnlock(Flags);
}

void EventReset(EVENT* Event) {
    U64 Flags = SchedulerLock();
    Event->Signaled = FALSE;
    SchedulerUnlock(Flags);
}

static BOOL ConsumeSignal(EVENT* Event) {
    if (!Event->Signaled) return FALSE;
    if (!Event->ManualReset) Event->Signaled = FALSE;
    return TRUE;
}

BOOL WaitForEvent(EVENT* Event, U32 TimeoutMs) {
    U64 Flags = SchedulerLock();
    if (ConsumeSignal(Event)) {
        SchedulerUnlock(Flags);
        return TRUE;
    }
    if (TimeoutMs == 0) {
        SchedulerUnlock(Flags);
        return FALSE;
    }
    if (!SchedulerIsRunning()) {
        // Early boot: poll with interrupts enabled so the signaller can run, bounded by the timeout.
        SchedulerUnlock(Flags);
        U64 Deadline = DeadlineFor(TimeoutMs);
        for (;;) {
            Flags = SchedulerLock();
            BOOL Fired = ConsumeSignal(Event);
            SchedulerUnlock(Flags);
            if (Fired) return TRUE;
            if (Deadline != 0 && GetSystemTimeNs() >= Deadline) return FALSE;
            ClockDelayUs(100);
        }
    }
    SchedulerBlockLocked(&Event->Waiters, DeadlineFor(TimeoutMs));
    BOOL Satisfied = GetCurrentThread()->WaitSatisfied;
    SchedulerUnlock(Flags);
    return Satisfied;
}

/************************************************************************/
// Semaphore

void SemaphoreInit(SEMAPHORE* Semaphore, U32 Count) {
    Semaphore->Count = Count;
    Semaphore->Waiters.Head = Semaphore->Waiters.Tail = NULL;
}

BOOL SemaphoreAcquire(SEMAPHORE* Semaphore, U32 TimeoutMs) {
    U64 Flags = SchedulerLock();
    if (Semaphore->Count > 0) {
        Semaphore->Count--;
        SchedulerUnlock(Flags);
        return TRUE;
    }
    if (TimeoutMs == 0 || !SchedulerIsRunning()) {
        SchedulerUnlock(Flags);
        return FALSE;
    }
    SchedulerBlockLocked(&Semaphore->Waiters, DeadlineFor(TimeoutMs));
    BOOL Satisfied = GetCurrentThread()->WaitSatisfied;
    SchedulerUnlock(Flags);
    return Satisfied;
}

void SemaphoreRelease(SEMAPHORE* Semaphore) {
    U64 Flags = SchedulerLock();
    THREAD* Waiter = Semaphore->Waiters.Head;
    if (Waiter) {
        Waiter->WaitSatisfied = TRUE;  // the unit goes straight to the waiter
        SchedulerWakeLocked(Waiter);
    } else {
        Semaphore->Count++;
    }
    SchedulerUnlock(Flags);
}
