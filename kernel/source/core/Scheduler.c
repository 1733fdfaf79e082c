/*
 * Scheduler.c - threads, the per-CPU run queues, sleeping and preemption.
 *
 * Each CPU has a FIFO run queue of ready threads (its idle thread is never
 * queued) and runs round robin from it. Where a thread that becomes ready
 * goes, and which queue an idle CPU steals from, is decided by RunQueue.c
 * over the loads this file keeps (one RUN_QUEUE_LOAD per CPU); a thread
 * queued on another CPU that sits idle wakes it with a reschedule IPI.
 * Every CPU's timer tick wakes sleepers whose time has come and asks for a
 * reschedule when the running thread's slice is over and something waits,
 * or when its CPU idles while another has work to spare; the switch happens
 * on the way out of the interrupt (SchedulerInterruptExit), never inside a
 * nested interrupt.
 *
 * One lock (SchedulerSpinlock) covers all queues, the sleep list and the
 * wait queues, and is held across ThreadSwitchContext: the thread switched
 * to releases it, so a thread made ready by one CPU cannot be run by
 * another before its registers are saved. After the switch a thread may be
 * on another CPU: nothing here keeps a PER_CPU pointer across it.
 *
 * Stacks live in their own window: each thread gets a 64 KiB slot whose
 * lower half stays unmapped as a guard, so an overflow page-faults (and the
 * double-fault IST stack reports it) instead of corrupting memory. A dead
 * thread's stack is unmapped with one TLB shootdown (any CPU may have it in
 * its TLB) before its frames are freed.
 */

#include "core/Thread.h"

#include "arch/x86-64/CPU.h"
#include "core/Deferred.h"
#include "core/Log.h"
#include "core/RunQueue.h"
#include "core/SMP.h"
#include "core/Spinlock.h"
#include "memory/Frame.h"
#include "memory/Heap.h"
#include "memory/Memory.h"
#include "memory/Paging.h"
#include "system/Clock.h"
#include "utils/Format.h"
#include "utils/String.h"

#define STACK_WINDOW_BASE 0xFFFFE00000000000ULL
#define STACK_SLOT_SIZE (64 * 1024)
#define STACK_SLOT_COUNT 4096
#define STACK_PAGES (THREAD_STACK_SIZE / PAGE_SIZE)
#define SLICE_NS (THREAD_TIME_SLICE_MS * 1000000ULL)

extern void ThreadSwitchContext(U64* SaveStackPointer, U64 LoadStackPointer);
extern void ThreadStartTrampoline(void);

static THREAD BootThread;
static SPINLOCK SchedulerSpinlock = SPINLOCK_INIT;
static WAIT_QUEUE RunQueues[SMP_MAX_CPUS];
static RUN_QUEUE_LOAD Loads[SMP_MAX_CPUS];
static U32 LoadCount;          // CPUs that have joined (index + 1 of the highest)
static THREAD* SleepList;      // sorted by WakeTimeNs
static THREAD* AllThreads;
static THREAD* DeadThreads;    // waiting for their stacks to be reclaimed
static U32 NextThreadId = 1;
static BOOL Running;
static U32 NextStackSlot;
static U32 FreeStackSlots[64];
static U32 FreeStackSlotCount;

BOOL SchedulerIsRunning(void) { return Running; }

U64 SchedulerLock(void) { return SpinlockAcquire(&SchedulerSpinlock); }
void SchedulerUnlock(U64 Flags) { SpinlockRelease(&SchedulerSpinlock, Flags); }

/************************************************************************/
// Queues

void WaitQueuePush(WAIT_QUEUE* Queue, THREAD* Thread) {
    Thread->QueueNext = NULL;
    Thread->QueuePrevious = Queue->Tail;
    if (Queue->Tail) Queue->Tail->QueueNext = Thread;
    else Queue->Head = Thread;
    Queue->Tail = Thread;
}

void WaitQueueRemove(WAIT_QUEUE* Queue, THREAD* Thread) {
    if (Thread->QueuePrevious) Thread->QueuePrevious->QueueNext = Thread->QueueNext;
    else Queue->Head = Thread->QueueNext;
    if (Thread->QueueNext) Thread->QueueNext->QueuePrevious = Thread->QueuePrevious;
    else Queue->Tail = Thread->QueuePrevious;
    Thread->QueueNext = Thread->QueuePrevious = NULL;
}

THREAD* WaitQueuePop(WAIT_QUEUE* Queue) {
    THREAD* Thread = Queue->Head;
    if (Thread) WaitQueueRemove(Queue, Thread);
    return Thread;
}

static void SleepListInsert(THREAD* Thread) {
    THREAD** Link = &SleepList;
    while (*Link && (*Link)->WakeTimeNs <= Thread->WakeTimeNs) Link = &(*Link)->SleepNext;
    Thread->SleepNext = *Link;
    *Link = Thread;
    Thread->OnSleepList = TRUE;
}

static void SleepListRemove(THREAD* Thread) {
    if (!Thread->OnSleepList) return;
    for (THREAD** Link = &SleepList; *Link; Link = &(*Link)->SleepNext) {
        if (*Link == Thread) {
            *Link = Thread->SleepNext;
            break;
        }
    }
    Thread->SleepNext = NULL;
    Thread->OnSleepList = FALSE;
}

/************************************************************************/
// Run queues (scheduler lock held)

static void RunQueueAdd(U32 Cpu, THREAD* Thread) {
    WaitQueuePush(&RunQueues[Cpu], Thread);
    Thread->CPU = Cpu;
    Loads[Cpu].Ready++;
    if (Thread->Affinity == THREAD_ANY_CPU) Loads[Cpu].Stealable++;
}

static void RunQueueTake(U32 Cpu, THREAD* Thread) {
    WaitQueueRemove(&RunQueues[Cpu], Thread);
    Loads[Cpu].Ready--;
    if (Thread->Affinity == THREAD_ANY_CPU) Loads[Cpu].Stealable--;
}

/** The first thread Cpu may run from its own queue, or NULL. */
static THREAD* RunQueuePopOwn(U32 Cpu) {
    THREAD* Thread = RunQueues[Cpu].Head;
    if (Thread) RunQueueTake(Cpu, Thread);
    return Thread;
}

/** An unpinned thread from Victim's queue for Cpu, or NULL. */
static THREAD* RunQueueSteal(U32 Victim) {
    for (THREAD* Thread = RunQueues[Victim].Head; Thread; Thread = Thread->QueueNext) {
        if (Thread->Affinity != THREAD_ANY_CPU) continue;
        RunQueueTake(Victim, Thread);
        return Thread;
    }
    return NULL;
}

static U32 AffinityTarget(const THREAD* Thread) {
    return Thread->Affinity == THREAD_ANY_CPU ? RUN_QUEUE_NONE : Thread->Affinity;
}

/** TRUE when Thread may run on Cpu (its pinned CPU stopped: anywhere). */
static BOOL MayRunOn(const THREAD* Thread, U32 Cpu) {
    U32 Pinned = Thread->Affinity;
    return Pinned == THREAD_ANY_CPU || Pinned == Cpu || Pinned >= LoadCount || !Loads[Pinned].Online;
}

/** Queues a ready thread on the CPU RunQueue.c picks, waking that CPU if it idles. */
static void MakeReadyLocked(THREAD* Thread) {
    Thread->State = THREAD_READY;
    U32 Target = RunQueueChooseCPU(Loads, LoadCount, AffinityTarget(Thread), Thread->CPU);
    RunQueueAdd(Target, Thread);
    PER_CPU* Cpu = GetPerCPU();
    if (Target == Cpu->Index) {
        if (Cpu->Current->IsIdle) Cpu->NeedReschedule = TRUE;
    } else if (Loads[Target].Idle) {
        SMPGetCPU(Target)->NeedReschedule = TRUE;
        SMPSendReschedule(Target);
    }
}

void SchedulerWakeLocked(THREAD* Thread) {
    if (Thread->State != THREAD_BLOCKED && Thread->State != THREAD_SLEEPING) return;
    if (Thread->WaitingOn) {
        WaitQueueRemove(Thread->WaitingOn, Thread);
        Thread->WaitingOn = NULL;
    }
    SleepListRemove(Thread);
    MakeReadyLocked(Thread);
}

/************************************************************************/
// Switching

/** Picks the next thread and switches to it. Lock held, interrupts off; returns when this thread runs again. */
static void ScheduleLocked(void) {
    PER_CPU* Cpu = GetPerCPU();
    U32 Self = Cpu->Index;
    THREAD* Previous = Cpu->Current;
    U64 Now = GetSystemTimeNs();

    Cpu->NeedReschedule = FALSE;
    THREAD* Next = RunQueuePopOwn(Self);
    if (Next == NULL) {
        U32 Victim = RunQueueChooseVictim(Loads, LoadCount, Self);
        if (Victim != RUN_QUEUE_NONE) Next = RunQueueSteal(Victim);
    }
    if (Next == NULL) {
        if (Previous->State == THREAD_RUNNING && !Previous->IsIdle && MayRunOn(Previous, Self)) {
            Previous->SliceEndNs = Now + SLICE_NS;
            return;  // nothing else to run: keep going
        }
        Next = Cpu->Idle;
    }
    Loads[Self].Idle = Next->IsIdle;
    if (Previous->IsIdle) Previous->State = THREAD_READY;
    else if (Previous->State == THREAD_RUNNING) MakeReadyLocked(Previous);
    if (Next == Previous) {
        Previous->State = THREAD_RUNNING;
        return;
    }

    U64 Ran = Now > Previous->RunStartNs ? Now - Previous->RunStartNs : 0;
    Previous->CPUTimeNs += Ran;
    if (Previous->IsIdle) Cpu->IdleTimeNs += Ran;
    Next->State = THREAD_RUNNING;
    Next->RunStartNs = Now;
    Next->SliceEndNs = Now + SLICE_NS;
    Next->CPU = Self;
    Cpu->Current = Next;
    Cpu->ContextSwitches++;
    if (!Next->IsIdle) Cpu->ThreadsRun++;
    ThreadSwitchContext(&Previous->SavedStackPointer, Next->SavedStackPointer);
}

static void Schedule(void) {
    U64 Flags = SchedulerLock();
    ScheduleLocked();
    SchedulerUnlock(Flags);
}

void Yield(void) {
    if (!Running) return;
    Schedule();
}

void SchedulerBlockLocked(WAIT_QUEUE* Queue, U64 DeadlineNs) {
    THREAD* Current = GetCurrentThread();
    Current->WaitSatisfied = FALSE;
    Current->State = Queue ? THREAD_BLOCKED : THREAD_SLEEPING;
    Current->WaitingOn = Queue;
    if (Queue) WaitQueuePush(Queue, Current);
    Current->WakeTimeNs = DeadlineNs;
    if (DeadlineNs != 0) SleepListInsert(Current);
    ScheduleLocked();
}

void Sleep(U32 Milliseconds) {
    if (!Running) {
        ClockDelayUs((U64)Milliseconds * 1000);
        return;
    }
    U64 Flags = SchedulerLock();
    SchedulerBlockLocked(NULL, GetSystemTimeNs() + (U64)Milliseconds * 1000000ULL + 1);
    SchedulerUnlock(Flags);
}

BOOL ThreadPinCurrent(U32 Cpu) {
    if (Cpu != THREAD_ANY_CPU && !SMPIsOnline(Cpu)) return FALSE;
    U64 Flags = SchedulerLock();
    THREAD* Current = GetCurrentThread();
    Current->Affinity = Cpu;
    // A running thread is on no queue: ScheduleLocked sees it may not stay and queues it on Cpu.
    if (Running && Cpu != THREAD_ANY_CPU && GetPerCPU()->Index != Cpu) ScheduleLocked();
    SchedulerUnlock(Flags);
    return TRUE;
}

/************************************************************************/
// Interrupt glue

void SchedulerTick(void) {
    if (!Running) return;
    PER_CPU* Cpu = GetPerCPU();
    U32 Self = Cpu->Index;
    U64 Now = GetSystemTimeNs();
    U64 Flags = SchedulerLock();
    while (SleepList && SleepList->WakeTimeNs <= Now) {
        THREAD* Thread = SleepList;
        SleepListRemove(Thread);
        if (Thread->WaitingOn) {
            WaitQueueRemove(Thread->WaitingOn, Thread);
            Thread->WaitingOn = NULL;
        }
        MakeReadyLocked(Thread);  // WaitSatisfied stays FALSE: a timeout
    }
    THREAD* Current = Cpu->Current;
    if (RunQueues[Self].Head && (Current->IsIdle || Now >= Current->SliceEndNs)) Cpu->NeedReschedule = TRUE;
    if (Current->IsIdle && RunQueueChooseVictim(Loads, LoadCount, Self) != RUN_QUEUE_NONE) Cpu->NeedReschedule = TRUE;
    SchedulerUnlock(Flags);
}

void SchedulerInterruptEnter(void) { GetPerCPU()->InterruptDepth++; }

void SchedulerInterruptExit(void) {
    PER_CPU* Cpu = GetPerCPU();
    if (Cpu->InterruptDepth > 0) Cpu->InterruptDepth--;
    if (Running && Cpu->InterruptDepth == 0 && Cpu->NeedReschedule) Schedule();
}

/************************************************************************/
// Stacks

static BOOL AllocateStack(THREAD* Thread) {
    U32 Slot;
    U64 Flags = SchedulerLock();
    if (FreeStackSlotCount > 0) {
        Slot = FreeStackSlots[--FreeStackSlotCount];
    } else if (NextStackSlot < STACK_SLOT_COUNT) {
        Slot = NextStackSlot++;
    } else {
        SchedulerUnlock(Flags);
        return FALSE;
    }
    SchedulerUnlock(Flags);

    LINEAR Region = STACK_WINDOW_BASE + (LINEAR)Slot * STACK_SLOT_SIZE;
    LINEAR Base = Region + STACK_SLOT_SIZE - THREAD_STACK_SIZE;  // below it: the unmapped guard
    Thread->StackRegion = Region;  // from here on FreeStack gives the slot back
    Thread->StackRegionSize = STACK_SLOT_SIZE;
    Thread->StackBase = Base;
    Thread->StackTop = Base;  // grows as pages are mapped, so a failure frees exactly those
    for (LINEAR Page = Base; Page < Region + STACK_SLOT_SIZE; Page += PAGE_SIZE) {
        PHYSICAL Frame = FrameAlloc();
        if (Frame == 0 || !PagingMap(Page, Frame, PAGE_PRESENT | PAGE_WRITABLE | PAGE_NO_EXECUTE)) {
            if (Frame) FrameFree(Frame);
            return FALSE;
        }
        MemorySet((LPVOID)Page, 0, PAGE_SIZE);
        Thread->StackTop = Page + PAGE_SIZE;
    }
    return TRUE;
}

/** Unmaps the stack (one shootdown: any CPU may have it cached), then frees its frames and slot. */
static void FreeStack(THREAD* Thread) {
    PHYSICAL Frames[STACK_PAGES];
    U32 Count = 0;
    for (LINEAR Page = Thread->StackBase; Page < Thread->StackTop && Count < STACK_PAGES; Page += PAGE_SIZE) {
        Frames[Count++] = LinearToPhysical(Page);
    }
    if (Thread->StackTop > Thread->StackBase) PagingUnmapRange(Thread->StackBase, Thread->StackTop - Thread->StackBase);
    for (U32 Index = 0; Index < Count; Index++) {
        if (Frames[Index]) FrameFree(Frames[Index]);
    }
    U32 Slot = (U32)((Thread->StackRegion - STACK_WINDOW_BASE) / STACK_SLOT_SIZE);
    U64 Flags = SchedulerLock();
    if (FreeStackSlotCount < ARRAY_COUNT(FreeStackSlots)) FreeStackSlots[FreeStackSlotCount++] = Slot;
    SchedulerUnlock(Flags);
}

/** Frees what dead threads left (a dead thread is off every CPU once it is on this list and the lock is free). */
static void ReapDeadThreads(void) {
    for (;;) {
        U64 Flags = SchedulerLock();
        THREAD* Dead = DeadThreads;
        if (Dead) DeadThreads = Dead->QueueNext;
        SchedulerUnlock(Flags);
        if (Dead == NULL) return;
        FreeStack(Dead);
        KernelHeapFree(Dead);
    }
}

/************************************************************************/
// Threads

void ThreadStart(THREAD_FUNCTION Function, LPVOID Argument);
void ThreadStart(THREAD_FUNCTION Function, LPVOID Argument) {
    // We arrive from ScheduleLocked with the scheduler lock held and interrupts off.
    SchedulerUnlock(CPU_FLAG_IF);
    Function(Argument);
    ThreadExit();
}

/** A thread with its stack and name, not yet on any list (NULL when out of memory). */
static THREAD* ThreadAllocate(LPCSTR Name) {
    ReapDeadThreads();
    THREAD* Thread = (THREAD*)KernelHeapAllocZero(sizeof(THREAD));
    if (Thread == NULL) return NULL;
    if (!AllocateStack(Thread)) {
        if (Thread->StackRegion != 0) FreeStack(Thread);
        KernelHeapFree(Thread);
        WARNING("[ThreadCreate] no memory for the stack of %s", Name);
        return NULL;
    }
    StringCopy(Thread->Name, Name, sizeof(Thread->Name));
    Thread->Affinity = THREAD_ANY_CPU;
    return Thread;
}

/** Gives Thread an id and puts it on the list of all threads (lock held). */
static void ThreadRegisterLocked(THREAD* Thread) {
    Thread->Id = NextThreadId++;
    Thread->AllNext = AllThreads;
    AllThreads = Thread;
}

THREAD* ThreadCreateOn(LPCSTR Name, THREAD_FUNCTION Function, LPVOID Argument, U32 Cpu) {
    THREAD* Thread = ThreadAllocate(Name);
    if (Thread == NULL) return NULL;
    Thread->Function = Function;
    Thread->Argument = Argument;
    Thread->Affinity = Cpu;

    // The frame ThreadSwitchContext pops: r15 r14 r13 r12 rbx rbp, then the return address.
    U64* Stack = (U64*)Thread->StackTop;
    *--Stack = 0;                                   // keeps the trampoline's stack 16-byte aligned at its call
    *--Stack = (U64)(UINT)ThreadStartTrampoline;
    *--Stack = 0;                                   // rbp
    *--Stack = 0;                                   // rbx
    *--Stack = (U64)(UINT)Function;                 // r12
    *--Stack = (U64)(UINT)Argument;                 // r13
    *--Stack = 0;                                   // r14
    *--Stack = 0;                                   // r15
    Thread->SavedStackPointer = (U64)(UINT)Stack;

    U64 Flags = SchedulerLock();
    ThreadRegisterLocked(Thread);
    Thread->CPU = GetPerCPU()->Index;  // "last CPU" for placement: the creator's
    MakeReadyLocked(Thread);
    SchedulerUnlock(Flags);
    return Thread;
}

THREAD* ThreadCreate(LPCSTR Name, THREAD_FUNCTION Function, LPVOID Argument) {
    return ThreadCreateOn(Name, Function, Argument, THREAD_ANY_CPU);
}

NORETURN void ThreadExit(void) {
    U64 Flags = SchedulerLock();
    THREAD* Current = GetCurrentThread();
    Current->State = THREAD_DEAD;
    for (THREAD** Link = &AllThreads; *Link; Link = &(*Link)->AllNext) {
        if (*Link == Current) {
            *Link = Current->AllNext;
            break;
        }
    }
    if (Current->StackRegion != 0) {
        Current->QueueNext = DeadThreads;
        DeadThreads = Current;
    }
    ScheduleLocked();
    SchedulerUnlock(Flags);
    for (;;) Halt();  // not reached
}

static NORETURN void IdleLoop(void) {
    for (;;) {
        DisableInterrupts();
        if (GetPerCPU()->NeedReschedule) {
            EnableInterrupts();
            Yield();
            continue;
        }
        // Interrupts on, then halt atomically: a wake-up interrupt cannot slip in between.
        EnableInterruptsAndHalt();
    }
}

static void IdleThreadMain(LPVOID Argument) {
    UNUSED(Argument);
    IdleLoop();
}

void ThreadForEach(void (*Visitor)(const THREAD* Thread, LPVOID Context), LPVOID Context) {
    U64 Flags = SchedulerLock();
    U64 Now = GetSystemTimeNs();
    for (THREAD* Thread = AllThreads; Thread; Thread = Thread->AllNext) {
        // Account running threads' time so far (on every CPU), so `threads` shows it live.
        if (Thread->State == THREAD_RUNNING && Now > Thread->RunStartNs) {
            Thread->CPUTimeNs += Now - Thread->RunStartNs;
            Thread->RunStartNs = Now;
        }
        Visitor(Thread, Context);
    }
    SchedulerUnlock(Flags);
}

U64 SchedulerGetIdleTimeNs(U32 Cpu) {
    PER_CPU* PerCpu = SMPGetCPU(Cpu);
    if (PerCpu == NULL) return 0;
    U64 Flags = SchedulerLock();
    U64 Idle = PerCpu->IdleTimeNs;
    THREAD* Current = PerCpu->Current;
    U64 Now = GetSystemTimeNs();
    if (Current != NULL && Current->IsIdle && Now > Current->RunStartNs) Idle += Now - Current->RunStartNs;
    SchedulerUnlock(Flags);
    return Idle;
}

LPCSTR ThreadStateName(THREAD_STATE State) {
    switch (State) {
        case THREAD_READY: return "ready";
        case THREAD_RUNNING: return "running";
        case THREAD_SLEEPING: return "sleeping";
        case THREAD_BLOCKED: return "blocked";
        case THREAD_DEAD: return "dead";
        default: return "?";
    }
}

/************************************************************************/
// Start-up

void SchedulerInit(void) {
    PER_CPU* Cpu = GetPerCPU();
    extern U8 BootStackBottom[], BootStackTop[];
    StringCopy(BootThread.Name, "main", sizeof(BootThread.Name));
    BootThread.Id = NextThreadId++;
    BootThread.State = THREAD_RUNNING;
    BootThread.Affinity = THREAD_ANY_CPU;
    BootThread.StackBase = (LINEAR)BootStackBottom;
    BootThread.StackTop = (LINEAR)BootStackTop;
    BootThread.RunStartNs = GetSystemTimeNs();
    BootThread.AllNext = NULL;
    AllThreads = &BootThread;
    Cpu->Current = &BootThread;
}

/** Marks CPU Cpu as taking threads (lock held). */
static void JoinLocked(U32 Cpu, BOOL Idle) {
    Loads[Cpu].Online = TRUE;
    Loads[Cpu].Idle = Idle;
    if (Cpu + 1 > LoadCount) LoadCount = Cpu + 1;
}

void SchedulerStart(void) {
    THREAD* Idle = ThreadCreateOn("idle", IdleThreadMain, NULL, 0);
    if (Idle == NULL) {
        ERROR("[SchedulerStart] cannot create the idle thread: staying single-threaded");
        return;
    }
    PER_CPU* Cpu = GetPerCPU();
    // The idle thread is never on a run queue: take it off.
    U64 Flags = SchedulerLock();
    RunQueueTake(0, Idle);
    Idle->IsIdle = TRUE;
    Idle->State = THREAD_READY;
    Cpu->Idle = Idle;
    JoinLocked(0, FALSE);
    BootThread.SliceEndNs = GetSystemTimeNs() + SLICE_NS;
    Running = TRUE;
    SchedulerUnlock(Flags);
    DeferredInit();
    INFO("[SchedulerStart] preemptive scheduler running, %u ms slices", THREAD_TIME_SLICE_MS);
}

THREAD* SchedulerCreateIdleThread(U32 Cpu) {
    char Name[THREAD_NAME_LENGTH];
    StringPrintFormat(Name, sizeof(Name), "idle%u", Cpu);
    THREAD* Idle = ThreadAllocate(Name);
    if (Idle == NULL) return NULL;
    // The CPU starts on this stack (no switch frame): it is already "running" its idle thread.
    Idle->IsIdle = TRUE;
    Idle->Affinity = Cpu;
    Idle->CPU = Cpu;
    Idle->State = THREAD_RUNNING;
    U64 Flags = SchedulerLock();
    ThreadRegisterLocked(Idle);
    SchedulerUnlock(Flags);
    return Idle;
}

NORETURN void SchedulerRunCPU(void) {
    PER_CPU* Cpu = GetPerCPU();
    U64 Flags = SchedulerLock();
    Cpu->Current = Cpu->Idle;
    Cpu->Idle->RunStartNs = GetSystemTimeNs();
    JoinLocked(Cpu->Index, TRUE);
    SchedulerUnlock(Flags);
    IdleLoop();
}
