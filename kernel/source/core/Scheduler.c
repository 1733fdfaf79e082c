/*
 * Scheduler.c - threads, the run queue, sleeping and preemption.
 *
 * Round robin over one run queue shared by all CPUs (FIFO, ready threads
 * only; the idle thread is never queued). The timer tick wakes sleepers
 * whose time has come and asks for a reschedule when the running thread's
 * slice is over or a woken thread waits while the idle thread runs; the
 * switch happens on the way out of the interrupt (SchedulerInterruptExit),
 * never inside a nested interrupt.
 *
 * Stacks live in their own window: each thread gets a 64 KiB slot whose
 * lower half stays unmapped as a guard, so an overflow page-faults (and the
 * double-fault IST stack reports it) instead of corrupting memory.
 */

#include "core/Thread.h"

#include "arch/x86-64/CPU.h"
#include "core/Deferred.h"
#include "core/Log.h"
#include "core/Spinlock.h"
#include "memory/Frame.h"
#include "memory/Heap.h"
#include "memory/Memory.h"
#include "memory/Paging.h"
#include "system/Clock.h"
#include "utils/String.h"

#define STACK_WINDOW_BASE 0xFFFFE00000000000ULL
#define STACK_SLOT_SIZE (64 * 1024)
#define STACK_SLOT_COUNT 4096

extern void ThreadSwitchContext(U64* SaveStackPointer, U64 LoadStackPointer);
extern void ThreadStartTrampoline(void);

static PER_CPU BootCPU;
static THREAD BootThread;
static SPINLOCK SchedulerSpinlock = SPINLOCK_INIT;
static WAIT_QUEUE RunQueue;
static THREAD* SleepList;      // sorted by WakeTimeNs
static THREAD* AllThreads;
static THREAD* DeadThreads;    // waiting for their stacks to be reclaimed
static U32 NextThreadId = 1;
static BOOL Running;
static U32 NextStackSlot;
static U32 FreeStackSlots[64];
static U32 FreeStackSlotCount;

/************************************************************************/
// Per-CPU data

PER_CPU* GetPerCPU(void) {
    PER_CPU* Self;
    __asm__ volatile("mov %%gs:0, %0" : "=r"(Self));
    return Self;
}

THREAD* GetCurrentThread(void) { return GetPerCPU()->Current; }
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

static void MakeReadyLocked(THREAD* Thread) {
    Thread->State = THREAD_READY;
    WaitQueuePush(&RunQueue, Thread);
}

void SchedulerWakeLocked(THREAD* Thread) {
    if (Thread->State != THREAD_BLOCKED && Thread->State != THREAD_SLEEPING) return;
    if (Thread->WaitingOn) {
        WaitQueueRemove(Thread->WaitingOn, Thread);
        Thread->WaitingOn = NULL;
    }
    SleepListRemove(Thread);
    MakeReadyLocked(Thread);
    if (GetPerCPU()->Current->IsIdle) GetPerCPU()->NeedReschedule = TRUE;
}

/************************************************************************/
// Switching

/** Picks the next thread and switches to it. Lock held, interrupts off; returns when this thread runs again. */
static void ScheduleLocked(void) {
    PER_CPU* Cpu = GetPerCPU();
    THREAD* Previous = Cpu->Current;
    THREAD* Next = WaitQueuePop(&RunQueue);
    U64 Now = GetSystemTimeNs();

    Cpu->NeedReschedule = FALSE;
    if (Next == NULL) {
        if (Previous->State == THREAD_RUNNING) {
            Previous->SliceEndNs = Now + THREAD_TIME_SLICE_MS * 1000000ULL;
            return;  // nothing else to run: keep going
        }
        Next = Cpu->Idle;
    }
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
    Next->SliceEndNs = Now + THREAD_TIME_SLICE_MS * 1000000ULL;
    Next->CPU = Cpu->Index;
    Cpu->Current = Next;
    Cpu->ContextSwitches++;
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
    THREAD* Current = GetPerCPU()->Current;
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

/************************************************************************/
// Interrupt glue

void SchedulerTick(void) {
    if (!Running) return;
    PER_CPU* Cpu = GetPerCPU();
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
    if (RunQueue.Head && (Cpu->Current->IsIdle || Now >= Cpu->Current->SliceEndNs)) Cpu->NeedReschedule = TRUE;
    SchedulerUnlock(Flags);
}

void SchedulerInterruptEnter(void) { GetPerCPU()->InterruptDepth++; }

void SchedulerInterruptExit(void) {
    PER_CPU* Cpu = GetPerCPU();
    if (Cpu->InterruptDepth > 0) Cpu->InterruptDepth--;
    if (Running && Cpu->InterruptDepth == 0 && Cpu->NeedReschedule) Schedule();
}

/************************************************************************/
// Threads

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
    for (LINEAR Page = Base; Page < Region + STACK_SLOT_SIZE; Page += PAGE_SIZE) {
        PHYSICAL Frame = FrameAlloc();
        if (Frame == 0 || !PagingMap(Page, Frame, PAGE_PRESENT | PAGE_WRITABLE | PAGE_NO_EXECUTE)) {
            if (Frame) FrameFree(Frame);
            for (LINEAR Undo = Base; Undo < Page; Undo += PAGE_SIZE) {
                PHYSICAL Mapped = LinearToPhysical(Undo);
                PagingUnmap(Undo);
                if (Mapped) FrameFree(Mapped);
            }
            return FALSE;
        }
        MemorySet((LPVOID)Page, 0, PAGE_SIZE);
    }
    Thread->StackRegion = Region;
    Thread->StackRegionSize = STACK_SLOT_SIZE;
    Thread->StackBase = Base;
    Thread->StackTop = Region + STACK_SLOT_SIZE;
    return TRUE;
}

static void FreeStack(THREAD* Thread) {
    for (LINEAR Page = Thread->StackBase; Page < Thread->StackTop; Page += PAGE_SIZE) {
        PHYSICAL Mapped = LinearToPhysical(Page);
        PagingUnmap(Page);
        if (Mapped) FrameFree(Mapped);
    }
    U32 Slot = (U32)((Thread->StackRegion - STACK_WINDOW_BASE) / STACK_SLOT_SIZE);
    U64 Flags = SchedulerLock();
    if (FreeStackSlotCount < ARRAY_COUNT(FreeStackSlots)) FreeStackSlots[FreeStackSlotCount++] = Slot;
    SchedulerUnlock(Flags);
}

/** Frees what dead threads left (never the stack we are running on). */
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

void ThreadStart(THREAD_FUNCTION Function, LPVOID Argument);
void ThreadStart(THREAD_FUNCTION Function, LPVOID Argument) {
    // We arrive from ScheduleLocked with the scheduler lock held and interrupts off.
    SchedulerUnlock(CPU_FLAG_IF);
    Function(Argument);
    ThreadExit();
}

THREAD* ThreadCreate(LPCSTR Name, THREAD_FUNCTION Function, LPVOID Argument) {
    ReapDeadThreads();
    THREAD* Thread = (THREAD*)KernelHeapAllocZero(sizeof(THREAD));
    if (Thread == NULL) return NULL;
    if (!AllocateStack(Thread)) {
        KernelHeapFree(Thread);
        WARNING("[ThreadCreate] no memory for the stack of %s", Name);
        return NULL;
    }
    StringCopy(Thread->Name, Name, sizeof(Thread->Name));
    Thread->Function = Function;
    Thread->Argument = Argument;

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
    Thread->Id = NextThreadId++;
    Thread->AllNext = AllThreads;
    AllThreads = Thread;
    MakeReadyLocked(Thread);
    SchedulerUnlock(Flags);
    return Thread;
}

NORETURN void ThreadExit(void) {
    U64 Flags = SchedulerLock();
    THREAD* Current = GetPerCPU()->Current;
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

static void IdleThreadMain(LPVOID Argument) {
    UNUSED(Argument);
    for (;;) {
        // Interrupts on, then halt atomically: a wake-up interrupt cannot slip in between.
        EnableInterruptsAndHalt();
        if (GetPerCPU()->NeedReschedule) Yield();
    }
}

void ThreadForEach(void (*Visitor)(const THREAD* Thread, LPVOID Context), LPVOID Context) {
    U64 Flags = SchedulerLock();
    THREAD* Current = GetPerCPU()->Current;
    U64 Now = GetSystemTimeNs();
    // Account the running thread's time so far, so `threads` shows it live.
    if (Now > Current->RunStartNs) {
        Current->CPUTimeNs += Now - Current->RunStartNs;
        Current->RunStartNs = Now;
    }
    for (THREAD* Thread = AllThreads; Thread; Thread = Thread->AllNext) Visitor(Thread, Context);
    SchedulerUnlock(Flags);
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
    BootCPU.Self = &BootCPU;
    BootCPU.Index = 0;
    WriteMSR(MSR_GS_BASE, (U64)(UINT)&BootCPU);
    WriteMSR(MSR_KERNEL_GS_BASE, 0);

    extern U8 BootStackBottom[], BootStackTop[];
    StringCopy(BootThread.Name, "main", sizeof(BootThread.Name));
    BootThread.Id = NextThreadId++;
    BootThread.State = THREAD_RUNNING;
    BootThread.StackBase = (LINEAR)BootStackBottom;
    BootThread.StackTop = (LINEAR)BootStackTop;
    BootThread.RunStartNs = GetSystemTimeNs();
    BootThread.AllNext = NULL;
    AllThreads = &BootThread;
    BootCPU.Current = &BootThread;
}

void SchedulerStart(void) {
    THREAD* Idle = ThreadCreate("idle", IdleThreadMain, NULL);
    if (Idle == NULL) {
        ERROR("[SchedulerStart] cannot create the idle thread: staying single-threaded");
        return;
    }
    // The idle thread is never on the run queue: take it off.
    U64 Flags = SchedulerLock();
    WaitQueueRemove(&RunQueue, Idle);
    Idle->IsIdle = TRUE;
    Idle->State = THREAD_READY;
    BootCPU.Idle = Idle;
    BootThread.SliceEndNs = GetSystemTimeNs() + THREAD_TIME_SLICE_MS * 1000000ULL;
    Running = TRUE;
    SchedulerUnlock(Flags);
    DeferredInit();
    INFO("[SchedulerStart] preemptive scheduler running, %u ms slices", THREAD_TIME_SLICE_MS);
}
