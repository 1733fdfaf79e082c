/*
 * Deferred.c - the bottom-half worker thread (see Deferred.h).
 *
 * The pending list is a LIFO under a spinlock (interrupt handlers push);
 * the worker takes the whole list at once and runs it oldest first.
 */

#include "core/Deferred.h"

#include "core/Log.h"
#include "core/Spinlock.h"
#include "core/Sync.h"
#include "core/Thread.h"

static SPINLOCK PendingLock = SPINLOCK_INIT;
static DEFERRED_WORK* Pending;
static EVENT WorkAvailable;
static U64 TotalRuns;

void DeferredWorkInit(DEFERRED_WORK* Work, DEFERRED_FUNCTION Function, LPVOID Context) {
    Work->Function = Function;
    Work->Context = Context;
    Work->Queued = FALSE;
    Work->Runs = 0;
    Work->Next = NULL;
}

BOOL DeferredWorkQueue(DEFERRED_WORK* Work) {
    U64 Flags = SpinlockAcquire(&PendingLock);
    if (Work->Queued) {
        SpinlockRelease(&PendingLock, Flags);
        return FALSE;
    }
    Work->Queued = TRUE;
    Work->Next = Pending;
    Pending = Work;
    SpinlockRelease(&PendingLock, Flags);
    EventSignal(&WorkAvailable);
    return TRUE;
}

U64 DeferredGetRunCount(void) { return TotalRuns; }

static void DeferredThreadMain(LPVOID Argument) {
    UNUSED(Argument);
    for (;;) {
        WaitForEvent(&WorkAvailable, WAIT_FOREVER);
        U64 Flags = SpinlockAcquire(&PendingLock);
        DEFERRED_WORK* List = Pending;
        Pending = NULL;
        SpinlockRelease(&PendingLock, Flags);

        // Reverse into arrival order.
        DEFERRED_WORK* Ordered = NULL;
        while (List) {
            DEFERRED_WORK* Next = List->Next;
            List->Next = Ordered;
            Ordered = List;
            List = Next;
        }
        while (Ordered) {
            DEFERRED_WORK* Work = Ordered;
            Ordered = Work->Next;
            // Clear before running, so a new interrupt during the run queues it again.
            Flags = SpinlockAcquire(&PendingLock);
            Work->Queued = FALSE;
            SpinlockRelease(&PendingLock, Flags);
            Work->Runs++;
            TotalRuns++;
            Work->Function(Work->Context);
        }
    }
}

void DeferredInit(void) {
    EventInit(&WorkAvailable, FALSE, FALSE);
    if (ThreadCreate("deferred", DeferredThreadMain, NULL) == NULL) {
        ERROR("[DeferredInit] cannot start the deferred-work thread");
    }
}
