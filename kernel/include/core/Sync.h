/*
 * Sync.h - sleeping synchronisation: mutexes, events, semaphores.
 *
 * These block the calling thread (it sleeps, the CPU runs something else)
 * and must not be used from interrupt handlers, except EventSignal and
 * SemaphoreRelease, which are safe anywhere. Before the scheduler runs they
 * degrade to bounded polling, so early boot code may use them.
 */

#ifndef CORE_SYNC_H_INCLUDED
#define CORE_SYNC_H_INCLUDED

#include "Base.h"
#include "core/Thread.h"

#define WAIT_FOREVER 0xFFFFFFFFU

typedef struct tag_MUTEX {
    THREAD* Owner;
    U32 Recursion;
    WAIT_QUEUE Waiters;
} MUTEX;

typedef struct tag_EVENT {
    BOOL Signaled;
    BOOL ManualReset;  // stays signaled until EventReset; otherwise one waiter consumes it
    WAIT_QUEUE Waiters;
} EVENT;

typedef struct tag_SEMAPHORE {
    U32 Count;
    WAIT_QUEUE Waiters;
} SEMAPHORE;

void MutexInit(MUTEX* Mutex);
/** Recursive for the owner. */
void MutexLock(MUTEX* Mutex);
BOOL MutexTryLock(MUTEX* Mutex);
void MutexUnlock(MUTEX* Mutex);

void EventInit(EVENT* Event, BOOL ManualReset, BOOL Signaled);
void EventSignal(EVENT* Event);
void EventReset(EVENT* Event);
/** Returns TRUE if the event fired, FALSE on timeout (TimeoutMs 0 only tests it). */
BOOL WaitForEvent(EVENT* Event, U32 TimeoutMs);

void SemaphoreInit(SEMAPHORE* Semaphore, U32 Count);
BOOL SemaphoreAcquire(SEMAPHORE* Semaphore, U32 TimeoutMs);
void SemaphoreRelease(SEMAPHORE* Semaphore);

#endif  // CORE_SYNC_H_INCLUDED
