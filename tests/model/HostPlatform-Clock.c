/*
 * HostPlatform-Clock.c - the time half of the host platform: the virtual
 * clock and its timers, the accounting that decides when the clock may
 * move, the one waiting primitive every blocking call uses, and the
 * Platform.h time and event functions built on it (see HostPlatform.h).
 *
 * Quiescence: the clock may jump only when nothing is in flight. "In
 * flight" is counted here: driver and test threads outside a platform wait
 * (RunningThreads), items queued for the interrupt, work and timer threads,
 * those threads while they run a callback (ActiveInternal; not while that
 * callback is itself blocked in a platform wait or mutex, or a thread that
 * holds a mutex while sleeping would stall the clock for ever), and the
 * busy sources device models register.
 */

#define _GNU_SOURCE
#include "HostPlatform-Internal.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_BUSY_SOURCES 16
#define QUIESCENT_POLL_US 100       // real time between two looks at a busy world while waiting
#define STUCK_REAL_MS 2000          // give up waiting for quiescence after this much real time
#define VIRTUAL_START_NS 1000000000ULL

/************************************************************************/
// State

static pthread_mutex_t ClockLock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ClockCond;  // timers armed/fired/finished, time moved
static BOOL RealTime;
static U64 VirtualNow = VIRTUAL_START_NS;
static pthread_t TimerThread;

struct tag_HOST_TIMER {
    HOST_TIMER_FUNCTION Function;
    LPVOID Context;
    U64 Deadline;
    BOOL Armed;
    BOOL Fired;      // in the fired queue
    BOOL Running;
    struct tag_HOST_TIMER* Next;       // all timers
    struct tag_HOST_TIMER* FiredNext;  // fired queue
};
static HOST_TIMER* Timers;
static HOST_TIMER* FiredFirst;
static HOST_TIMER* FiredLast;

static struct {
    HOST_BUSY_FUNCTION Function;
    LPVOID Context;
} BusySources[MAX_BUSY_SOURCES];
static U32 BusySourceCount;

static I32 ActiveInternal;                  // internal threads running a callback, not blocked
static __thread BOOL ThreadIsActive;        // this thread holds one of those counts
static I32 RunningThreads;                  // driver and test threads not inside a platform wait
static __thread BOOL ThreadRegistered;      // this thread is counted in RunningThreads (when not waiting)
static __thread BOOL ThreadWaiting;
static __thread BOOL ThreadInternal;        // interrupt, work, timer and model threads: counted differently
static __thread BOOL ThreadIsTimer;

/************************************************************************/
// Activity accounting

void HostPlatformNoteActivity(void) {
    pthread_mutex_lock(&ClockLock);
    pthread_cond_broadcast(&ClockCond);
    pthread_mutex_unlock(&ClockLock);
}

static U64 ActivityGeneration;  // bumped whenever an internal thread starts something

static void ActivityBegin(void) {
    if (ThreadIsActive) return;
    ThreadIsActive = TRUE;
    __atomic_add_fetch(&ActiveInternal, 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&ActivityGeneration, 1, __ATOMIC_SEQ_CST);
}

static void ActivityEnd(void) {
    if (!ThreadIsActive) return;
    ThreadIsActive = FALSE;
    __atomic_sub_fetch(&ActiveInternal, 1, __ATOMIC_SEQ_CST);
    HostPlatformNoteActivity();
}

/**
 * Driver and test threads are known from their first platform call; they
 * count as running except while inside a platform wait, and the clock only
 * moves when none is running.
 */
static void RegisterThread(void) {
    if (ThreadRegistered || ThreadInternal) return;
    ThreadRegistered = TRUE;
    __atomic_add_fetch(&RunningThreads, 1, __ATOMIC_SEQ_CST);
}

static void UnregisterThread(void) {
    if (!ThreadRegistered) return;
    ThreadRegistered = FALSE;
    if (!ThreadWaiting) __atomic_sub_fetch(&RunningThreads, 1, __ATOMIC_SEQ_CST);
    HostPlatformNoteActivity();
}

void HostPlatformMarkInternalThread(void) { ThreadInternal = TRUE; }

/** Before blocking: the thread stops counting as running (or, internal, as busy) while it waits. */
static U32 BlockBegin(void) {
    U32 Token = 0;
    if (ThreadIsActive) {
        ActivityEnd();
        Token |= 1;
    }
    if (ThreadRegistered && !ThreadWaiting) {
        ThreadWaiting = TRUE;
        __atomic_sub_fetch(&RunningThreads, 1, __ATOMIC_SEQ_CST);
        HostPlatformNoteActivity();
        Token |= 2;
    }
    return Token;
}

static void BlockEnd(U32 Token) {
    if (Token & 2) {
        ThreadWaiting = FALSE;
        __atomic_add_fetch(&RunningThreads, 1, __ATOMIC_SEQ_CST);
    }
    if (Token & 1) ActivityBegin();
}

U32 HostPlatformExternalWaitBegin(void) { return BlockBegin(); }
void HostPlatformExternalWaitEnd(U32 Token) { BlockEnd(Token); }

void HostActivityBegin(void) { ActivityBegin(); }
void HostActivityEnd(void) { ActivityEnd(); }
U32 HostBlockBegin(void) { return BlockBegin(); }
void HostBlockEnd(U32 Token) { BlockEnd(Token); }
void HostRegisterThread(void) { RegisterThread(); }
void HostUnregisterThread(void) { UnregisterThread(); }

void HostAdoptThread(void) { ThreadRegistered = TRUE; }
void HostRunningThreadsAdjust(I32 Delta) { __atomic_add_fetch(&RunningThreads, Delta, __ATOMIC_SEQ_CST); }

/**
 * Nothing queued, nothing running. The internal threads take an item and
 * become active under the queue's lock, but end their activity after
 * re-queueing (a level interrupt) outside it, so one look could fall in a
 * gap: the queues are read before and after the counts, and the look only
 * counts if no activity started meanwhile.
 */
static BOOL MachineryIdle(BOOL CountThreads) {
    U64 Generation = __atomic_load_n(&ActivityGeneration, __ATOMIC_SEQ_CST);
    if (HostInterruptsBusy() || HostWorkBusy()) return FALSE;
    pthread_mutex_lock(&ClockLock);
    BOOL Idle = FiredFirst == NULL && __atomic_load_n(&ActiveInternal, __ATOMIC_SEQ_CST) == 0 &&
                (!CountThreads || __atomic_load_n(&RunningThreads, __ATOMIC_SEQ_CST) == 0);
    pthread_mutex_unlock(&ClockLock);
    if (!Idle || HostInterruptsBusy() || HostWorkBusy()) return FALSE;
    return __atomic_load_n(&ActivityGeneration, __ATOMIC_SEQ_CST) == Generation;
}

static BOOL Quiescent(void) {
    if (!MachineryIdle(TRUE)) return FALSE;
    // The sources are asked under ClockLock, which HostPlatformRemoveBusySource takes too: a model being
    // destroyed is never asked after it left the list (asked from a copy of the list, a model a test had just
    // destroyed was read after its free). Busy functions only read their device's counters.
    pthread_mutex_lock(&ClockLock);
    BOOL Idle = TRUE;
    for (U32 I = 0; I < BusySourceCount && Idle; I++) Idle = !BusySources[I].Function(BusySources[I].Context);
    pthread_mutex_unlock(&ClockLock);
    return Idle;
}

void HostPlatformAddBusySource(HOST_BUSY_FUNCTION Function, LPVOID Context) {
    pthread_mutex_lock(&ClockLock);
    if (BusySourceCount < MAX_BUSY_SOURCES) {
        BusySources[BusySourceCount].Function = Function;
        BusySources[BusySourceCount].Context = Context;
        BusySourceCount++;
    }
    pthread_mutex_unlock(&ClockLock);
}

void HostPlatformRemoveBusySource(HOST_BUSY_FUNCTION Function, LPVOID Context) {
    pthread_mutex_lock(&ClockLock);
    for (U32 I = 0; I < BusySourceCount; I++) {
        if (BusySources[I].Function == Function && BusySources[I].Context == Context) {
            BusySources[I] = BusySources[BusySourceCount - 1];
            BusySourceCount--;
            break;
        }
    }
    pthread_mutex_unlock(&ClockLock);
}

/************************************************************************/
// Clock and timers

static U64 MonotonicNs(void) {
    struct timespec Now;
    clock_gettime(CLOCK_MONOTONIC, &Now);
    return (U64)Now.tv_sec * 1000000000ULL + (U64)Now.tv_nsec;
}

static struct timespec RealDeadline(U64 FromNowNs) {
    U64 Target = MonotonicNs() + FromNowNs;
    struct timespec Deadline = {(time_t)(Target / 1000000000ULL), (long)(Target % 1000000000ULL)};
    return Deadline;
}

static U64 NowLocked(void) { return RealTime ? MonotonicNs() : VirtualNow; }

BOOL HostClockIsVirtual(void) { return !RealTime; }

U64 HostClockNowNs(void) {
    pthread_mutex_lock(&ClockLock);
    U64 Now = NowLocked();
    pthread_mutex_unlock(&ClockLock);
    return Now;
}

static void QueueFiredLocked(HOST_TIMER* Timer) {
    Timer->Armed = FALSE;
    if (Timer->Fired) return;
    Timer->Fired = TRUE;
    Timer->FiredNext = NULL;
    if (FiredLast) FiredLast->FiredNext = Timer;
    else FiredFirst = Timer;
    FiredLast = Timer;
}

static HOST_TIMER* EarliestArmedLocked(void) {
    HOST_TIMER* Best = NULL;
    for (HOST_TIMER* T = Timers; T; T = T->Next) {
        if (T->Armed && (Best == NULL || T->Deadline < Best->Deadline)) Best = T;
    }
    return Best;
}

/** Virtual: moves time to Target, firing (in order) the timers it passes. */
static void AdvanceLocked(U64 Target) {
    for (;;) {
        HOST_TIMER* Next = EarliestArmedLocked();
        if (Next == NULL || Next->Deadline > Target) break;
        if (Next->Deadline > VirtualNow) VirtualNow = Next->Deadline;
        QueueFiredLocked(Next);
    }
    if (Target > VirtualNow) VirtualNow = Target;
    pthread_cond_broadcast(&ClockCond);
}

/** Waits (bounded, real time) until the timer thread ran everything fired. */
static void DrainTimersLocked(void) {
    if (ThreadIsTimer) return;
    U64 Start = MonotonicNs();
    while (FiredFirst != NULL) {
        struct timespec Deadline = RealDeadline(1000000);
        pthread_cond_timedwait(&ClockCond, &ClockLock, &Deadline);
        if (MonotonicNs() - Start > (U64)STUCK_REAL_MS * 1000000ULL) break;
    }
    // A callback still running is waited for too: its effects are part of "this instant".
    for (BOOL Running = TRUE; Running;) {
        Running = FALSE;
        for (HOST_TIMER* T = Timers; T; T = T->Next) Running |= T->Running;
        if (!Running || MonotonicNs() - Start > (U64)STUCK_REAL_MS * 1000000ULL) break;
        struct timespec Deadline = RealDeadline(1000000);
        pthread_cond_timedwait(&ClockCond, &ClockLock, &Deadline);
    }
}

void HostClockAdvanceNs(U64 Nanoseconds) {
    pthread_mutex_lock(&ClockLock);
    if (!RealTime) {
        U64 Target = VirtualNow + Nanoseconds;
        // One timer at a time, so each callback sees the clock at its own deadline.
        for (;;) {
            HOST_TIMER* Next = EarliestArmedLocked();
            U64 Step = (Next && Next->Deadline < Target) ? Next->Deadline : Target;
            AdvanceLocked(Step);
            DrainTimersLocked();
            if (Step >= Target) break;
        }
    }
    pthread_mutex_unlock(&ClockLock);
}

void HostClockUseRealTime(BOOL Real) {
    pthread_mutex_lock(&ClockLock);
    if (Real != RealTime) {
        RealTime = Real;
        if (!Real) VirtualNow = MAX(VirtualNow, MonotonicNs());  // never go back
        pthread_cond_broadcast(&ClockCond);
    }
    pthread_mutex_unlock(&ClockLock);
}

HOST_TIMER* HostTimerCreate(HOST_TIMER_FUNCTION Function, LPVOID Context) {
    HOST_TIMER* Timer = (HOST_TIMER*)calloc(1, sizeof(HOST_TIMER));
    if (Timer == NULL) return NULL;
    Timer->Function = Function;
    Timer->Context = Context;
    pthread_mutex_lock(&ClockLock);
    Timer->Next = Timers;
    Timers = Timer;
    pthread_mutex_unlock(&ClockLock);
    return Timer;
}

void HostTimerArm(HOST_TIMER* Timer, U64 DeadlineNs) {
    pthread_mutex_lock(&ClockLock);
    Timer->Deadline = DeadlineNs;
    Timer->Armed = TRUE;
    if (DeadlineNs <= NowLocked()) QueueFiredLocked(Timer);
    pthread_cond_broadcast(&ClockCond);
    pthread_mutex_unlock(&ClockLock);
}

static void UnqueueFiredLocked(HOST_TIMER* Timer) {
    if (!Timer->Fired) return;
    HOST_TIMER* Previous = NULL;
    for (HOST_TIMER* T = FiredFirst; T; Previous = T, T = T->FiredNext) {
        if (T != Timer) continue;
        if (Previous) Previous->FiredNext = T->FiredNext;
        else FiredFirst = T->FiredNext;
        if (FiredLast == T) FiredLast = Previous;
        break;
    }
    Timer->Fired = FALSE;
}

void HostTimerCancel(HOST_TIMER* Timer) {
    pthread_mutex_lock(&ClockLock);
    Timer->Armed = FALSE;
    UnqueueFiredLocked(Timer);
    pthread_mutex_unlock(&ClockLock);
}

void HostTimerDestroy(HOST_TIMER* Timer) {
    if (Timer == NULL) return;
    pthread_mutex_lock(&ClockLock);
    Timer->Armed = FALSE;
    UnqueueFiredLocked(Timer);
    while (Timer->Running && !ThreadIsTimer) pthread_cond_wait(&ClockCond, &ClockLock);
    for (HOST_TIMER** Link = &Timers; *Link; Link = &(*Link)->Next) {
        if (*Link == Timer) {
            *Link = Timer->Next;
            break;
        }
    }
    pthread_mutex_unlock(&ClockLock);
    free(Timer);
}

static void* TimerThreadMain(void* Unused) {
    UNUSED(Unused);
    ThreadIsTimer = TRUE;
    ThreadInternal = TRUE;
    pthread_setname_np(pthread_self(), "host-timer");
    pthread_mutex_lock(&ClockLock);
    for (;;) {
        if (RealTime) {
            for (HOST_TIMER* Next; (Next = EarliestArmedLocked()) != NULL && Next->Deadline <= MonotonicNs();) {
                QueueFiredLocked(Next);
            }
        }
        if (FiredFirst) {
            HOST_TIMER* Timer = FiredFirst;
            UnqueueFiredLocked(Timer);
            Timer->Running = TRUE;
            ActivityBegin();
            pthread_mutex_unlock(&ClockLock);
            Timer->Function(Timer->Context);
            pthread_mutex_lock(&ClockLock);
            Timer->Running = FALSE;
            ThreadIsActive = FALSE;
            __atomic_sub_fetch(&ActiveInternal, 1, __ATOMIC_SEQ_CST);
            pthread_cond_broadcast(&ClockCond);
            continue;
        }
        HOST_TIMER* Next = RealTime ? EarliestArmedLocked() : NULL;
        if (Next) {
            U64 Now = MonotonicNs();
            struct timespec Deadline = RealDeadline(Next->Deadline > Now ? Next->Deadline - Now : 0);
            pthread_cond_timedwait(&ClockCond, &ClockLock, &Deadline);
        } else {
            pthread_cond_wait(&ClockCond, &ClockLock);
        }
    }
    return NULL;
}

/**
 * The one waiting primitive. Waits until Ready(Context) (checked under the
 * caller's own lock by the callback) or until the platform time reaches
 * Deadline (MAX_U64: no deadline). WaitReal waits for a real wake-up of at
 * most the given nanoseconds.
 */
typedef BOOL (*READY_FUNCTION)(LPVOID Context);
typedef void (*REAL_WAIT_FUNCTION)(LPVOID Context, U64 Nanoseconds);

/**
 * Every blocked thread is listed with its deadline and a look at its wake-up
 * condition (HOST_WAITER). Whichever waiter finds the world quiescent moves
 * the clock only to the earliest deadline of all (one that looked at its own
 * deadline alone could carry the clock past another thread's shorter sleep:
 * a 1 ms sleep would see a second go by), and not at all while a listed
 * thread's condition already holds (an event signalled, a lock released)
 * but the thread has not run yet: it is about to, at this instant.
 */
static HOST_WAITER* Waiters;

void HostWaiterListAdd(HOST_WAITER* Waiter) {
    pthread_mutex_lock(&ClockLock);
    Waiter->Next = Waiters;
    Waiters = Waiter;
    pthread_mutex_unlock(&ClockLock);
}

void HostWaiterListRemove(HOST_WAITER* Waiter) {
    pthread_mutex_lock(&ClockLock);
    for (HOST_WAITER** Link = &Waiters; *Link; Link = &(*Link)->Next) {
        if (*Link == Waiter) {
            *Link = Waiter->Next;
            break;
        }
    }
    pthread_mutex_unlock(&ClockLock);
}

static U64 EarliestDeadlineLocked(void) {
    U64 Earliest = MAX_U64;
    for (HOST_WAITER* W = Waiters; W; W = W->Next) Earliest = MIN(Earliest, W->Deadline);
    return Earliest;
}

static BOOL AnyWaiterRunnableLocked(void) {
    for (HOST_WAITER* W = Waiters; W; W = W->Next) {
        if (W->Peek && W->Peek(W->Context)) return TRUE;
    }
    return FALSE;
}

static BOOL WaitUntil(U64 Deadline, READY_FUNCTION Ready, READY_FUNCTION Peek, REAL_WAIT_FUNCTION WaitReal,
                      LPVOID Context) {
    // Listed before it stops counting as running, and unlisted after it counts again: no other waiter may
    // see the world quiescent without seeing this deadline.
    HOST_WAITER Listed = {Deadline, Peek, Context, NULL};
    HostWaiterListAdd(&Listed);
    U32 Token = BlockBegin();
    BOOL Result = FALSE;
    U32 QuietLooks = 0;
    U64 RealStart = MonotonicNs();
    BOOL Warned = FALSE;
    for (;;) {
        if (Ready && Ready(Context)) {
            Result = TRUE;
            break;
        }
        U64 Now = HostClockNowNs();
        if (Now >= Deadline) break;
        if (RealTime) {
            WaitReal(Context, MIN(Deadline - Now, 10000000ULL));
            continue;
        }
        BOOL Forced = FALSE;  // the world never went quiet: the clock moves anyway (see below)
        if (!Quiescent()) {
            QuietLooks = 0;
            if (MonotonicNs() - RealStart < (U64)STUCK_REAL_MS * 1000000ULL) {
                WaitReal(Context, QUIESCENT_POLL_US * 1000ULL);
                continue;
            }
            if (!Warned) {
                fprintf(stderr, "HostPlatform: %d thread(s) ran outside platform waits for %u ms; moving the virtual "
                        "clock anyway\n", __atomic_load_n(&RunningThreads, __ATOMIC_SEQ_CST), STUCK_REAL_MS);
                Warned = TRUE;
            }
            Forced = TRUE;
        } else if (++QuietLooks < 2) {
            // One more look after letting a just-woken thread run: it may have more to do at this instant.
            sched_yield();
            continue;
        }
        pthread_mutex_lock(&ClockLock);
        HOST_TIMER* Next = EarliestArmedLocked();
        U64 Step = MIN(Deadline, EarliestDeadlineLocked());
        if (Next && Next->Deadline < Step) Step = Next->Deadline;
        // Quiescent() was looked at without ClockLock: a waiter whose deadline was due may have woken since,
        // counted itself running and left the list (which takes ClockLock), so its next deadline is in no list.
        // Looked at again under the lock, or the clock jumps past it (test_missed_interrupt_async's lost hour).
        BOOL Running = !Forced && __atomic_load_n(&RunningThreads, __ATOMIC_SEQ_CST) != 0;
        if (Step <= NowLocked() || AnyWaiterRunnableLocked() || Running) {
            // Another waiter's deadline is due, or its wake-up came: it moves on by itself (the clock stays).
            pthread_mutex_unlock(&ClockLock);
            WaitReal(Context, QUIESCENT_POLL_US * 1000ULL);
            continue;
        }
        if (Step == MAX_U64) {
            pthread_mutex_unlock(&ClockLock);
            if (!Warned && MonotonicNs() - RealStart > 10000000000ULL) {
                fprintf(stderr, "HostPlatform: a thread waits for ever and nothing can wake it\n");
                Warned = TRUE;
            }
            WaitReal(Context, 1000000ULL);
            continue;
        }
        AdvanceLocked(Step);
        DrainTimersLocked();
        pthread_mutex_unlock(&ClockLock);
        QuietLooks = 0;
        RealStart = MonotonicNs();
    }
    BlockEnd(Token);
    HostWaiterListRemove(&Listed);
    return Result;
}

/************************************************************************/
// Time

/*
 * A busy wait (PlatformBusyWaitUs) under a PLATFORM_LOCK is a CPU with interrupts off: its time passes for
 * the waiting thread at once (PlatformTimeNs on it includes it) and for everyone else when the thread
 * releases its last lock, as the kernel's timers fire once interrupts are back on. Nothing else wakes
 * meanwhile, so no other thread of the driver runs in the middle of what the lock protects.
 */
static __thread U64 StallNs;

U64 PlatformTimeNs(void) { return HostClockNowNs() + StallNs; }

void HostClockPublishStall(void) {
    U64 Ns = StallNs;
    StallNs = 0;
    if (Ns) HostClockAdvanceNs(Ns);
}

void PlatformBusyWaitUs(U32 Microseconds) {
    U64 Ns = (U64)Microseconds * 1000ULL;
    if (!HostClockIsVirtual()) {
        U64 End = MonotonicNs() + Ns;
        while (MonotonicNs() < End) sched_yield();
        return;
    }
    StallNs += Ns;
    if (HostLocksHeld() == 0) HostClockPublishStall();
}

static void SleepRealWait(LPVOID Context, U64 Nanoseconds) {
    UNUSED(Context);
    pthread_mutex_lock(&ClockLock);
    struct timespec Deadline = RealDeadline(Nanoseconds);
    pthread_cond_timedwait(&ClockCond, &ClockLock, &Deadline);
    pthread_mutex_unlock(&ClockLock);
}

void PlatformSleepMs(U32 Milliseconds) {
    RegisterThread();
    HostCheckMayBlock("PlatformSleepMs");
    U64 Deadline = HostClockNowNs() + (U64)Milliseconds * 1000000ULL;
    if (RealTime) {
        U32 Blocked = BlockBegin();
        struct timespec Span = {(time_t)(Milliseconds / 1000), (long)(Milliseconds % 1000) * 1000000L};
        while (nanosleep(&Span, &Span) != 0 && errno == EINTR) {
        }
        BlockEnd(Blocked);
        return;
    }
    WaitUntil(Deadline, NULL, NULL, SleepRealWait, NULL);
}

void PlatformYield(void) { sched_yield(); }

/************************************************************************/
// Events

struct tag_PLATFORM_EVENT {
    pthread_mutex_t Mutex;
    pthread_cond_t Cond;
    BOOL Signaled;
    BOOL ManualReset;
};

static U32 EventCreatesToFail;  // HostPlatformFailEventCreates

void HostPlatformFailEventCreates(U32 Count) { __atomic_store_n(&EventCreatesToFail, Count, __ATOMIC_SEQ_CST); }

PLATFORM_EVENT* PlatformEventCreate(BOOL ManualReset) {
    for (U32 Left = __atomic_load_n(&EventCreatesToFail, __ATOMIC_SEQ_CST); Left != 0;) {
        if (__atomic_compare_exchange_n(&EventCreatesToFail, &Left, Left - 1, FALSE, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST)) {
            return NULL;
        }
    }
    PLATFORM_EVENT* Event = (PLATFORM_EVENT*)calloc(1, sizeof(PLATFORM_EVENT));
    if (Event == NULL) return NULL;
    pthread_condattr_t Attributes;
    pthread_condattr_init(&Attributes);
    pthread_condattr_setclock(&Attributes, CLOCK_MONOTONIC);
    pthread_cond_init(&Event->Cond, &Attributes);
    pthread_condattr_destroy(&Attributes);
    pthread_mutex_init(&Event->Mutex, NULL);
    Event->ManualReset = ManualReset;
    return Event;
}

void PlatformEventDestroy(PLATFORM_EVENT* Event) {
    if (Event == NULL) return;
    pthread_cond_destroy(&Event->Cond);
    pthread_mutex_destroy(&Event->Mutex);
    free(Event);
}

void PlatformEventSignal(PLATFORM_EVENT* Event) {
    pthread_mutex_lock(&Event->Mutex);
    Event->Signaled = TRUE;
    pthread_cond_broadcast(&Event->Cond);
    pthread_mutex_unlock(&Event->Mutex);
    HostPlatformNoteActivity();
}

void PlatformEventReset(PLATFORM_EVENT* Event) {
    pthread_mutex_lock(&Event->Mutex);
    Event->Signaled = FALSE;
    pthread_mutex_unlock(&Event->Mutex);
}

static BOOL EventConsume(LPVOID Context) {
    PLATFORM_EVENT* Event = (PLATFORM_EVENT*)Context;
    pthread_mutex_lock(&Event->Mutex);
    BOOL Fired = Event->Signaled;
    if (Fired && !Event->ManualReset) Event->Signaled = FALSE;
    pthread_mutex_unlock(&Event->Mutex);
    return Fired;
}

static BOOL EventPeek(LPVOID Context) {
    return __atomic_load_n(&((PLATFORM_EVENT*)Context)->Signaled, __ATOMIC_SEQ_CST);
}

static void EventRealWait(LPVOID Context, U64 Nanoseconds) {
    PLATFORM_EVENT* Event = (PLATFORM_EVENT*)Context;
    pthread_mutex_lock(&Event->Mutex);
    if (!Event->Signaled) {
        struct timespec Deadline = RealDeadline(Nanoseconds);
        pthread_cond_timedwait(&Event->Cond, &Event->Mutex, &Deadline);
    }
    pthread_mutex_unlock(&Event->Mutex);
}

BOOL PlatformEventWait(PLATFORM_EVENT* Event, U32 TimeoutMs) {
    RegisterThread();
    if (TimeoutMs == 0) return EventConsume(Event);
    HostCheckMayBlock("PlatformEventWait");
    U64 Deadline = TimeoutMs == 0xFFFFFFFFU ? MAX_U64 : HostClockNowNs() + (U64)TimeoutMs * 1000000ULL;
    return WaitUntil(Deadline, EventConsume, EventPeek, EventRealWait, Event);
}

/************************************************************************/
// Life cycle

void HostClockInit(void) {
    pthread_condattr_t Attributes;
    pthread_condattr_init(&Attributes);
    pthread_condattr_setclock(&Attributes, CLOCK_MONOTONIC);
    pthread_cond_init(&ClockCond, &Attributes);
    pthread_condattr_destroy(&Attributes);
    pthread_create(&TimerThread, NULL, TimerThreadMain, NULL);
    pthread_detach(TimerThread);
}

void HostClockReset(void) {
    __atomic_store_n(&EventCreatesToFail, 0, __ATOMIC_SEQ_CST);
    pthread_mutex_lock(&ClockLock);
    RealTime = FALSE;
    pthread_mutex_unlock(&ClockLock);
}

BOOL HostPlatformWaitIdle(U32 RealTimeoutMs) {
    U64 Limit = MonotonicNs() + (U64)RealTimeoutMs * 1000000ULL;
    U32 Token = BlockBegin();  // waiting here must not hold the virtual clock
    for (;;) {
        BOOL Idle = MachineryIdle(FALSE);
        if (Idle || MonotonicNs() > Limit) {
            BlockEnd(Token);
            return Idle;
        }
        struct timespec Pause = {0, 200000};
        nanosleep(&Pause, NULL);
    }
}
