/*
 * Deferred.h - work deferred from interrupt handlers to a kernel thread.
 *
 * A top half (an interrupt handler) acknowledges its device and calls
 * DeferredWorkQueue; the "deferred" thread then runs the bottom half with
 * interrupts enabled, where it may take mutexes and wake other threads. A
 * work item is queued at most once until it runs (queueing it again meanwhile
 * is a no-op, as the pending run will see the new state); the handler runs
 * once per queueing.
 */

#ifndef CORE_DEFERRED_H_INCLUDED
#define CORE_DEFERRED_H_INCLUDED

#include "Base.h"

typedef void (*DEFERRED_FUNCTION)(LPVOID Context);

typedef struct tag_DEFERRED_WORK {
    DEFERRED_FUNCTION Function;
    LPVOID Context;
    volatile BOOL Queued;
    U64 Runs;
    struct tag_DEFERRED_WORK* Next;
} DEFERRED_WORK;

void DeferredWorkInit(DEFERRED_WORK* Work, DEFERRED_FUNCTION Function, LPVOID Context);
/** Safe from interrupt handlers. Returns FALSE if it was already queued. */
BOOL DeferredWorkQueue(DEFERRED_WORK* Work);
/** Starts the worker thread (called by SchedulerStart). */
void DeferredInit(void);
U64 DeferredGetRunCount(void);

#endif  // CORE_DEFERRED_H_INCLUDED
