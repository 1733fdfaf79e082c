/*
 * HostSync.c - core/Sync.h for host tests: MUTEX and EVENT on host threads.
 *
 * The kernel's versions (core/Sync.c) sleep on the scheduler's wait
 * queues; here one pthread mutex guards the state of every MUTEX and EVENT
 * and one condition variable wakes whoever waits on any of them. That is
 * slow under contention and simple, which is what tests need. A MUTEX keeps
 * the kernel's meaning: recursive for its owner (Owner holds a per-thread
 * token, Recursion the depth). Each thread counts the acquisitions it holds
 * (HostMutexDepth), so a test can check that a call returned with nothing
 * held, or that a driver request came with a lock.
 */

#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "HostKernel.h"
#include "core/Sync.h"

static pthread_mutex_t SyncLock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t SyncChanged = PTHREAD_COND_INITIALIZER;
static __thread U8 ThreadToken;  // its address names the thread
static __thread U32 ThreadDepth;

static THREAD* Self(void) { return (THREAD*)(LPVOID)&ThreadToken; }

U32 HostMutexDepth(void) { return ThreadDepth; }

void MutexInit(MUTEX* Mutex) {
    pthread_mutex_lock(&SyncLock);
    Mutex->Owner = NULL;
    Mutex->Recursion = 0;
    pthread_mutex_unlock(&SyncLock);
}

/** Takes the mutex if it is free or ours; SyncLock held. */
static BOOL TryTake(MUTEX* Mutex) {
    if (Mutex->Owner != NULL && Mutex->Owner != Self()) return FALSE;
    Mutex->Owner = Self();
    Mutex->Recursion++;
    ThreadDepth++;
    return TRUE;
}

void MutexLock(MUTEX* Mutex) {
    pthread_mutex_lock(&SyncLock);
    while (!TryTake(Mutex)) pthread_cond_wait(&SyncChanged, &SyncLock);
    pthread_mutex_unlock(&SyncLock);
}

BOOL MutexTryLock(MUTEX* Mutex) {
    pthread_mutex_lock(&SyncLock);
    BOOL Taken = TryTake(Mutex);
    pthread_mutex_unlock(&SyncLock);
    return Taken;
}

void MutexUnlock(MUTEX* Mutex) {
    pthread_mutex_lock(&SyncLock);
    if (Mutex->Owner != Self() || Mutex->Recursion == 0) {
        pthread_mutex_unlock(&SyncLock);
        HostKernelFail("MutexUnlock(%p) by a thread that does not hold it", (LPVOID)Mutex);
    }
    ThreadDepth--;
    if (--Mutex->Recursion == 0) {
        Mutex->Owner = NULL;
        pthread_cond_broadcast(&SyncChanged);
    }
    pthread_mutex_unlock(&SyncLock);
}

void EventInit(EVENT* Event, BOOL ManualReset, BOOL Signaled) {
    pthread_mutex_lock(&SyncLock);
    Event->ManualReset = ManualReset;
    Event->Signaled = Signaled;
    pthread_mutex_unlock(&SyncLock);
}

void EventSignal(EVENT* Event) {
    pthread_mutex_lock(&SyncLock);
    Event->Signaled = TRUE;
    pthread_cond_broadcast(&SyncChanged);
    pthread_mutex_unlock(&SyncLock);
}

void EventReset(EVENT* Event) {
    pthread_mutex_lock(&SyncLock);
    Event->Signaled = FALSE;
    pthread_mutex_unlock(&SyncLock);
}

/** Waits on the host's real clock (a test clock may stand still). */
BOOL WaitForEvent(EVENT* Event, U32 TimeoutMs) {
    struct timespec Deadline;
    clock_gettime(CLOCK_REALTIME, &Deadline);
    U64 Ns = (U64)Deadline.tv_nsec + (U64)(TimeoutMs == WAIT_FOREVER ? 0 : TimeoutMs) * 1000000ULL;
    Deadline.tv_sec += (time_t)(Ns / 1000000000ULL);
    Deadline.tv_nsec = (long)(Ns % 1000000000ULL);
    pthread_mutex_lock(&SyncLock);
    int Status = 0;
    while (!Event->Signaled && TimeoutMs != 0 && Status != ETIMEDOUT) {
        if (TimeoutMs == WAIT_FOREVER) Status = pthread_cond_wait(&SyncChanged, &SyncLock);
        else Status = pthread_cond_timedwait(&SyncChanged, &SyncLock, &Deadline);
    }
    BOOL Fired = Event->Signaled;
    if (Fired && !Event->ManualReset) Event->Signaled = FALSE;
    pthread_mutex_unlock(&SyncLock);
    return Fired;
}
