/*
 * Thread.h - kernel threads and the scheduler.
 *
 * Every thread has its own stack (with an unmapped guard region below it, so
 * an overflow faults instead of corrupting a neighbour) and runs in ring 0.
 * The scheduler is preemptive: the LAPIC timer tick marks the running thread
 * for rescheduling when its time slice is used up, and the switch happens
 * when the interrupt returns. A thread blocks by sleeping, waiting for an
 * event or a mutex; the idle thread halts the CPU when nothing is ready.
 *
 * Several CPUs: each CPU has its own run queue, its own idle thread and its
 * own timer tick. A thread that becomes ready is placed on a CPU (its pinned
 * CPU; else the one it last ran on if that is idle; else an idle CPU; else
 * the least loaded: RunQueue.h), and an idle CPU it lands on is woken with a
 * reschedule IPI. A CPU whose queue is empty takes (steals) an unpinned
 * thread from the busiest other queue. Threads may be pinned to one CPU.
 *
 * Locking: one scheduler spinlock protects every run queue, the sleep list
 * and every wait queue (Sync.c), and is held across the context switch (the
 * thread switched to releases it, possibly on another CPU). Holding it over
 * the switch is what makes a thread safe to run elsewhere: no other CPU can
 * dequeue it before its registers are saved. Per-CPU state (the current and
 * idle thread, the reschedule flag) lives in PER_CPU (core/SMP.h).
 */

#ifndef CORE_THREAD_H_INCLUDED
#define CORE_THREAD_H_INCLUDED

#include "Base.h"
#include "core/SMP.h"

#define THREAD_NAME_LENGTH 24
#define THREAD_STACK_SIZE (32 * 1024)
#define THREAD_TIME_SLICE_MS 20
#define THREAD_ANY_CPU MAX_U32  // no affinity

typedef enum {
    THREAD_READY = 0,
    THREAD_RUNNING = 1,
    THREAD_SLEEPING = 2,   // Sleep(): woken by time only
    THREAD_BLOCKED = 3,    // waiting on an event or mutex (maybe with a deadline)
    THREAD_DEAD = 4,
} THREAD_STATE;

typedef void (*THREAD_FUNCTION)(LPVOID Argument);

struct tag_WAIT_QUEUE;

typedef struct tag_THREAD {
    U32 Id;
    char Name[THREAD_NAME_LENGTH];
    THREAD_STATE State;
    U64 SavedStackPointer;
    LINEAR StackBase;      // lowest usable address
    LINEAR StackTop;
    LINEAR StackRegion;    // start of the region including the guard, 0 for the boot thread
    U64 StackRegionSize;
    THREAD_FUNCTION Function;
    LPVOID Argument;
    U64 CPUTimeNs;
    U64 RunStartNs;        // when it last got the CPU
    U64 SliceEndNs;
    U64 WakeTimeNs;        // for SLEEPING and timed BLOCKED (0: no deadline)
    U32 CPU;               // CPU it runs on, is queued on, or last ran on
    U32 Affinity;          // the only CPU it may run on, or THREAD_ANY_CPU
    BOOL IsIdle;
    // Queues: exactly one of run queue / wait queue at a time, plus the sleep list when timed.
    struct tag_THREAD* QueueNext;
    struct tag_THREAD* QueuePrevious;
    struct tag_WAIT_QUEUE* WaitingOn;
    struct tag_THREAD* SleepNext;
    BOOL OnSleepList;
    BOOL WaitSatisfied;    // set by the waker, read by the waiter
    struct tag_THREAD* AllNext;
} THREAD;

/** A FIFO of threads (run queue, wait queues). Protected by the scheduler lock. */
typedef struct tag_WAIT_QUEUE {
    THREAD* Head;
    THREAD* Tail;
} WAIT_QUEUE;

/** Turns the running code into the "main" thread of the boot CPU (after SMPInitBootCPU). */
void SchedulerInit(void);
/** Starts preemption and creates the boot CPU's idle thread and the deferred-work thread. */
void SchedulerStart(void);
BOOL SchedulerIsRunning(void);

/** The running thread: one %gs-relative load, right even if the thread moves CPU at any moment. */
static inline THREAD* GetCurrentThread(void) {
    THREAD* Current;
    __asm__ volatile("mov %%gs:8, %0" : "=r"(Current));
    return Current;
}

/** Creates a ready thread; returns NULL when out of memory. */
THREAD* ThreadCreate(LPCSTR Name, THREAD_FUNCTION Function, LPVOID Argument);
/** Creates a ready thread pinned to CPU Cpu (it runs nowhere else; if that CPU stops, anywhere). */
THREAD* ThreadCreateOn(LPCSTR Name, THREAD_FUNCTION Function, LPVOID Argument, U32 Cpu);
/** Pins the calling thread to Cpu (THREAD_ANY_CPU unpins) and moves it there; FALSE if Cpu is not online. */
BOOL ThreadPinCurrent(U32 Cpu);
/** Ends the calling thread. */
NORETURN void ThreadExit(void);
void Yield(void);
/** Sleeps at least Milliseconds (busy-waits before the scheduler runs). */
void Sleep(U32 Milliseconds);

/** Interrupt glue: called on each timer tick and when an interrupt returns. */
void SchedulerTick(void);
void SchedulerInterruptEnter(void);
void SchedulerInterruptExit(void);

/** For SMP.c: the idle thread application processor Cpu starts on (its stack is the CPU's first stack). */
THREAD* SchedulerCreateIdleThread(U32 Cpu);
/** On an application processor, once its tables and timer are set: joins the scheduler as its idle thread. */
NORETURN void SchedulerRunCPU(void);

/** For the `threads` command: calls Visitor for each thread under the lock (copy what you need). */
void ThreadForEach(void (*Visitor)(const THREAD* Thread, LPVOID Context), LPVOID Context);
LPCSTR ThreadStateName(THREAD_STATE State);
/** Time CPU Cpu spent in its idle thread so far, the current idle stretch included. */
U64 SchedulerGetIdleTimeNs(U32 Cpu);

/************************************************************************/
// Used by Sync.c (scheduler lock held)

U64 SchedulerLock(void);
void SchedulerUnlock(U64 Flags);
/** Blocks the current thread on Queue (or only on time when NULL) until woken or the deadline (0: none). */
void SchedulerBlockLocked(WAIT_QUEUE* Queue, U64 DeadlineNs);
/** Makes a blocked thread ready (removes it from its queue and the sleep list). */
void SchedulerWakeLocked(THREAD* Thread);
void WaitQueuePush(WAIT_QUEUE* Queue, THREAD* Thread);
THREAD* WaitQueuePop(WAIT_QUEUE* Queue);
void WaitQueueRemove(WAIT_QUEUE* Queue, THREAD* Thread);

#endif  // CORE_THREAD_H_INCLUDED
