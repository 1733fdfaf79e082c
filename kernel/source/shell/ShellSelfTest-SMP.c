/*
 * ShellSelfTest-SMP.c - `selftest smp`: checks what only several CPUs can
 * show, on the running kernel.
 *
 * Checks, one line each:
 *   - a thread pinned to each online CPU runs there;
 *   - the calling thread moves to each CPU when it pins itself there;
 *   - two threads on two CPUs wake each other through events (ping-pong):
 *     every round trip completes, each side stays on its CPU, and the idle
 *     CPU was woken by reschedule IPIs;
 *   - a mutex keeps one worker per CPU exclusive (a lost update shows);
 *   - on every CPU a pinned thread that never yields is preempted by the
 *     timer, so a sleeper pinned there gets to run;
 *   - TLB shootdown: a page every CPU has read is remapped to another
 *     frame; every CPU then reads the new frame (a stale TLB entry would
 *     still give the old one) and every other CPU answered the shootdown;
 *   - unpinned busy threads spread over more than one CPU.
 * Checks that need two CPUs say "skipped" on one. Every wait is bounded;
 * state the worker threads touch is static, and the command returns only
 * after every worker it started has finished (or its wait timed out).
 */

#include "arch/x86-64/CPU.h"
#include "core/SMP.h"
#include "core/Sync.h"
#include "core/Thread.h"
#include "memory/Frame.h"
#include "memory/Memory.h"
#include "memory/Paging.h"
#include "shell/Shell.h"
#include "shell/ShellSelfTest.h"
#include "system/Clock.h"
#include "utils/String.h"

// Generous: under TCG four vCPUs may share two loaded host cores, and a cross-CPU wake-up can take
// milliseconds. A wait that runs out fails its check; it never decides correctness by speed.
#define SMP_TEST_WAIT_MS 60000
#define SMP_PING_ROUNDS 100
#define SMP_MUTEX_ROUNDS 100
#define SMP_SPIN_LIMIT_NS 2000000000ULL
#define SMP_SPREAD_SPIN_NS 100000000ULL
#define SMP_OLD_VALUE 0x5A5A5A5A11111111ULL
#define SMP_NEW_VALUE 0xA5A5A5A522222222ULL

static SELF_TEST SmpTest;
static SEMAPHORE Done;

/** The CPU this code runs on right now (interrupts off, so it cannot move while asking). */
static U32 CurrentCPU(void) {
    U64 Flags = SaveAndDisableInterrupts();
    U32 Index = GetPerCPU()->Index;
    RestoreInterrupts(Flags);
    return Index;
}

/** Waits for Count workers to release Done, SMP_TEST_WAIT_MS in all; returns how many did in time. */
static U32 WaitWorkers(U32 Count) {
    U64 Deadline = GetSystemTimeMs() + SMP_TEST_WAIT_MS;
    U32 Finished = 0;
    for (U32 I = 0; I < Count; I++) {
        U64 Now = GetSystemTimeMs();
        if (Now >= Deadline || !SemaphoreAcquire(&Done, (U32)(Deadline - Now))) break;
        Finished++;
    }
    return Finished;
}

/** Online CPUs, in index order, into Cpus; returns how many. */
static U32 OnlineCPUs(U32* Cpus) {
    U32 Count = 0;
    for (U32 Index = 0; Index < SMPGetCount(); Index++) {
        if (SMPIsOnline(Index)) Cpus[Count++] = Index;
    }
    return Count;
}

static U32 Cpus[SMP_MAX_CPUS];
static U32 CpuCount;

/************************************************************************/
// Pinning

static volatile U32 PinSeen[SMP_MAX_CPUS];

static void PinProbe(LPVOID Argument) {
    PinSeen[(U32)(UINT)Argument] = CurrentCPU();
    SemaphoreRelease(&Done);
}

static void CheckPinned(void) {
    U32 Started = 0, Right = 0;
    for (U32 I = 0; I < CpuCount; I++) {
        PinSeen[I] = MAX_U32;
        Started += ThreadCreateOn("selftest-pin", PinProbe, (LPVOID)(UINT)I, Cpus[I]) != NULL;
    }
    U32 Finished = WaitWorkers(Started);
    for (U32 I = 0; I < CpuCount; I++) Right += PinSeen[I] == Cpus[I];
    SelfTestReport(&SmpTest, Started == CpuCount && Finished == Started && Right == CpuCount,
                   "a thread pinned to each CPU runs there", "%u of %u CPUs", Right, CpuCount);
}

static void CheckMigration(void) {
    U32 Right = 0;
    for (U32 I = 0; I < CpuCount; I++) {
        if (ThreadPinCurrent(Cpus[I]) && CurrentCPU() == Cpus[I]) Right++;
    }
    ThreadPinCurrent(Cpus[0]);
    SelfTestReport(&SmpTest, Right == CpuCount, "the shell thread moves to each pinned CPU", "%u of %u CPUs",
                   Right, CpuCount);
}

/************************************************************************/
// Cross-CPU wake-ups

static EVENT Ping, Pong;
static volatile U32 PingRounds, WrongCPU;

static void PingSide(LPVOID Argument) {
    U32 Home = (U32)(UINT)Argument;
    for (U32 Round = 0; Round < SMP_PING_ROUNDS; Round++) {
        EventSignal(&Ping);
        if (!WaitForEvent(&Pong, SMP_TEST_WAIT_MS)) break;
        if (CurrentCPU() != Home) WrongCPU++;
        PingRounds++;
    }
    SemaphoreRelease(&Done);
}

static void PongSide(LPVOID Argument) {
    U32 Home = (U32)(UINT)Argument;
    for (U32 Round = 0; Round < SMP_PING_ROUNDS; Round++) {
        if (!WaitForEvent(&Ping, SMP_TEST_WAIT_MS)) break;
        if (CurrentCPU() != Home) WrongCPU++;
        EventSignal(&Pong);
    }
    SemaphoreRelease(&Done);
}

static void CheckWakeups(void) {
    LPCSTR What = "events wake threads across CPUs (ping-pong)";
    if (CpuCount < 2) {
        SelfTestSkip(&SmpTest, What, "one CPU");
        return;
    }
    U32 A = Cpus[CpuCount > 2 ? 1 : 0], B = Cpus[CpuCount - 1];  // away from the shell's CPU when there is room
    EventInit(&Ping, FALSE, FALSE);
    EventInit(&Pong, FALSE, FALSE);
    PingRounds = WrongCPU = 0;
    U64 IpisBefore = SMPGetCPU(A)->ReschedulesReceived + SMPGetCPU(B)->ReschedulesReceived;
    U64 Start = GetSystemTimeMs();
    U32 Started = (ThreadCreateOn("selftest-pong", PongSide, (LPVOID)(UINT)B, B) != NULL) +
                  (ThreadCreateOn("selftest-ping", PingSide, (LPVOID)(UINT)A, A) != NULL);
    U32 Finished = WaitWorkers(Started);
    U64 Elapsed = GetSystemTimeMs() - Start;
    U64 Ipis = SMPGetCPU(A)->ReschedulesReceived + SMPGetCPU(B)->ReschedulesReceived - IpisBefore;
    SelfTestReport(&SmpTest, Started == 2 && Finished == 2 && PingRounds == SMP_PING_ROUNDS && WrongCPU == 0 && Ipis > 0,
                   What, "%u/%u round trips CPU %u<->%u, %llu reschedule IPIs, %llu ms", PingRounds, SMP_PING_ROUNDS, A,
                   B, Ipis, Elapsed);
}

/************************************************************************/
// A mutex shared by every CPU

static MUTEX SharedMutex;
static volatile U32 SharedCounter;

static void MutexWorker(LPVOID Argument) {
    UNUSED(Argument);
    for (U32 Round = 0; Round < SMP_MUTEX_ROUNDS; Round++) {
        MutexLock(&SharedMutex);
        U32 Seen = SharedCounter;
        for (volatile U32 Spin = 0; Spin < 200; Spin++) {
        }  // widen the window another CPU would need to slip in
        if ((Round & 15) == 0) Yield();
        SharedCounter = Seen + 1;
        MutexUnlock(&SharedMutex);
    }
    SemaphoreRelease(&Done);
}

static void CheckMutex(void) {
    U32 Workers = CpuCount < 2 ? 2 : CpuCount;
    MutexInit(&SharedMutex);
    SharedCounter = 0;
    U64 Start = GetSystemTimeMs();
    U32 Started = 0;
    for (U32 I = 0; I < Workers; I++) {
        Started += ThreadCreateOn("selftest-mutex", MutexWorker, NULL, Cpus[I % CpuCount]) != NULL;
    }
    U32 Finished = WaitWorkers(Started);
    SelfTestReport(&SmpTest, Started == Workers && Finished == Started && SharedCounter == Workers * SMP_MUTEX_ROUNDS,
                   "a mutex keeps one worker per CPU exclusive", "counter %u of %u, %llu ms", SharedCounter,
                   Workers * SMP_MUTEX_ROUNDS, GetSystemTimeMs() - Start);
}

/************************************************************************/
// Preemption on every CPU

static volatile BOOL SpinStop[SMP_MAX_CPUS];
static volatile BOOL SpinPreempted[SMP_MAX_CPUS];

static void PreemptSpinner(LPVOID Argument) {
    U32 Slot = (U32)(UINT)Argument;
    U64 End = GetSystemTimeNs() + SMP_SPIN_LIMIT_NS;
    while (!SpinStop[Slot] && GetSystemTimeNs() < End) {
    }
    SpinPreempted[Slot] = SpinStop[Slot];  // stopped by the sleeper, which had to preempt us to run
    SemaphoreRelease(&Done);
}

static void PreemptSleeper(LPVOID Argument) {
    U32 Slot = (U32)(UINT)Argument;
    Sleep(20);
    SpinStop[Slot] = TRUE;
    SemaphoreRelease(&Done);
}

static void CheckPreemption(void) {
    U32 Started = 0, Preempted = 0;
    U64 Start = GetSystemTimeMs();
    for (U32 I = 0; I < CpuCount; I++) {
        SpinStop[I] = SpinPreempted[I] = FALSE;
        Started += ThreadCreateOn("selftest-spin", PreemptSpinner, (LPVOID)(UINT)I, Cpus[I]) != NULL;
        Started += ThreadCreateOn("selftest-sleep", PreemptSleeper, (LPVOID)(UINT)I, Cpus[I]) != NULL;
    }
    U32 Finished = WaitWorkers(Started);
    for (U32 I = 0; I < CpuCount; I++) Preempted += SpinPreempted[I];
    SelfTestReport(&SmpTest, Started == 2 * CpuCount && Finished == Started && Preempted == CpuCount,
                   "a spinning thread is preempted on every CPU", "%u of %u CPUs, %llu ms", Preempted, CpuCount,
                   GetSystemTimeMs() - Start);
}

/************************************************************************/
// TLB shootdown

static EVENT ReadAgain;
static volatile U64 FirstRead[SMP_MAX_CPUS], SecondRead[SMP_MAX_CPUS];

static void PageReader(LPVOID Argument) {
    U32 Slot = (U32)(UINT)Argument;
    FirstRead[Slot] = *(volatile U64*)SELFTEST_PAGE;  // now in this CPU's TLB
    SemaphoreRelease(&Done);
    if (WaitForEvent(&ReadAgain, SMP_TEST_WAIT_MS)) SecondRead[Slot] = *(volatile U64*)SELFTEST_PAGE;
    SemaphoreRelease(&Done);
}

static void CheckShootdown(void) {
    LPCSTR What = "TLB shootdown: no CPU reads a stale page";
    PHYSICAL Old = FrameAlloc(), New = FrameAlloc();
    if (Old == 0 || New == 0 || !PagingMap(SELFTEST_PAGE, Old, PAGE_WRITABLE | PAGE_NO_EXECUTE)) {
        SelfTestReport(&SmpTest, FALSE, What, "no memory for the test page");
        if (Old) FrameFree(Old);
        if (New) FrameFree(New);
        return;
    }
    *(volatile U64*)PhysicalToLinear(Old) = SMP_OLD_VALUE;
    *(volatile U64*)PhysicalToLinear(New) = SMP_NEW_VALUE;
    EventInit(&ReadAgain, TRUE, FALSE);
    U32 Started = 0;
    for (U32 I = 0; I < CpuCount; I++) {
        FirstRead[I] = SecondRead[I] = 0;
        Started += ThreadCreateOn("selftest-tlb", PageReader, (LPVOID)(UINT)I, Cpus[I]) != NULL;
    }
    U32 FirstDone = WaitWorkers(Started);  // every reader has the old translation cached

    U64 Served[SMP_MAX_CPUS];
    for (U32 I = 0; I < CpuCount; I++) Served[I] = SMPGetCPU(Cpus[I])->ShootdownsServed;
    U32 Self = CurrentCPU();
    BOOL Remapped = PagingMap(SELFTEST_PAGE, New, PAGE_WRITABLE | PAGE_NO_EXECUTE);  // returns after the shootdown
    EventSignal(&ReadAgain);
    U32 SecondDone = WaitWorkers(Started);

    U32 Fresh = 0, Answered = 0, Others = 0;
    for (U32 I = 0; I < CpuCount; I++) {
        Fresh += FirstRead[I] == SMP_OLD_VALUE && SecondRead[I] == SMP_NEW_VALUE;
        if (Cpus[I] == Self) continue;
        Others++;
        Answered += SMPGetCPU(Cpus[I])->ShootdownsServed > Served[I];
    }
    if (FirstDone == Started && SecondDone == Started) {
        PagingUnmap(SELFTEST_PAGE);
        FrameFree(Old);
        FrameFree(New);
    }  // else a late reader may still touch the page: leave it mapped (two frames lost) rather than fault
    SelfTestReport(&SmpTest, Remapped && Started == CpuCount && FirstDone == Started && SecondDone == Started &&
                                 Fresh == CpuCount && Answered == Others,
                   What, "%u of %u CPUs read the new frame, %u of %u answered the IPI", Fresh, CpuCount, Answered,
                   Others);
}

/************************************************************************/
// Spreading

static volatile U64 SpreadMask;

static void SpreadWorker(LPVOID Argument) {
    UNUSED(Argument);
    U64 End = GetSystemTimeNs() + SMP_SPREAD_SPIN_NS;
    while (GetSystemTimeNs() < End) __atomic_or_fetch(&SpreadMask, 1ULL << CurrentCPU(), __ATOMIC_RELAXED);
    SemaphoreRelease(&Done);
}

static void CheckSpread(void) {
    LPCSTR What = "busy unpinned threads spread over the CPUs";
    if (CpuCount < 2) {
        SelfTestSkip(&SmpTest, What, "one CPU");
        return;
    }
    SpreadMask = 0;
    U32 Started = 0;
    for (U32 I = 0; I < 2 * CpuCount; I++) Started += ThreadCreate("selftest-spread", SpreadWorker, NULL) != NULL;
    U32 Finished = WaitWorkers(Started);
    U32 Used = 0;
    for (U64 Mask = SpreadMask; Mask != 0; Mask &= Mask - 1) Used++;
    SelfTestReport(&SmpTest, Started == 2 * CpuCount && Finished == Started && Used >= 2, What,
                   "%u threads ran on %u of %u CPUs", Started, Used, CpuCount);
}

/************************************************************************/

I32 SelfTestSMP(void) {
    MemorySet(&SmpTest, 0, sizeof(SmpTest));
    SemaphoreInit(&Done, 0);
    CpuCount = OnlineCPUs(Cpus);
    ShellPrint("selftest smp: %u CPU(s) online\n", CpuCount);
    ThreadPinCurrent(Cpus[0]);  // the shell stays put, so the checks know where it is
    CheckPinned();
    CheckMigration();
    CheckWakeups();
    CheckMutex();
    CheckPreemption();
    CheckShootdown();
    CheckSpread();
    ThreadPinCurrent(THREAD_ANY_CPU);
    ShellPrint("selftest smp: %s (%u failed, %u skipped)\n", SmpTest.Failures == 0 ? "PASS" : "FAIL", SmpTest.Failures,
               SmpTest.Skipped);
    return SmpTest.Failures == 0 ? 0 : -1;
}
