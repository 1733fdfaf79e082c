/*
 * RunQueue.h - where a thread that becomes ready goes, and where an idle CPU
 * takes work from.
 *
 * Layer: core, under the scheduler. Pure decisions over a snapshot of the
 * CPUs' loads (host unit tested in tests/unit/Test-RunQueue.c); the
 * scheduler keeps one RUN_QUEUE_LOAD per CPU up to date under its lock and
 * applies what these return.
 *
 * Placement (RunQueueChooseCPU), first rule that applies:
 *   1. a pinned thread goes to its CPU (if that CPU is online);
 *   2. the CPU it last ran on, if that CPU is idle with nothing queued (its
 *      caches may still hold the thread's data);
 *   3. any other idle CPU with nothing queued, searching round robin from
 *      the last CPU (so a burst of new threads spreads out);
 *   4. the least loaded online CPU (queued threads, plus one when it runs
 *      something other than its idle thread), the last CPU winning ties.
 * Stealing (RunQueueChooseVictim): a CPU with nothing to run takes from the
 * online CPU with the highest load that has an unpinned thread queued and
 * at least two threads' worth of load (one running or queued for itself,
 * one to give away), so two CPUs never pass one thread back and forth.
 */

#ifndef CORE_RUNQUEUE_H_INCLUDED
#define CORE_RUNQUEUE_H_INCLUDED

#include "Base.h"

#define RUN_QUEUE_NONE MAX_U32

typedef struct tag_RUN_QUEUE_LOAD {
    BOOL Online;     // takes threads
    BOOL Idle;       // running its idle thread
    U32 Ready;       // threads queued on it
    U32 Stealable;   // of those, the ones not pinned to it
} RUN_QUEUE_LOAD;

/** The load rule 4 compares: queued threads, plus one for a running thread that is not the idle thread. */
U32 RunQueueLoad(const RUN_QUEUE_LOAD* Load);
/** Where a ready thread should be queued; Affinity is a CPU or RUN_QUEUE_NONE, Last its last CPU. */
U32 RunQueueChooseCPU(const RUN_QUEUE_LOAD* Loads, U32 Count, U32 Affinity, U32 Last);
/** Which CPU Self should steal from, or RUN_QUEUE_NONE. */
U32 RunQueueChooseVictim(const RUN_QUEUE_LOAD* Loads, U32 Count, U32 Self);

#endif  // CORE_RUNQUEUE_H_INCLUDED
