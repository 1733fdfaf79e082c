/*
 * ShellSelfTest.c - the `selftest` command and `selftest threads`: checks
 * the scheduler and the synchronisation primitives on the running kernel,
 * where the host tests cannot reach (real context switches, the timer,
 * interrupts). `selftest smp` (several CPUs) is in ShellSelfTest-SMP.c.
 *
 * Checks: Sleep() duration, an event wait that times out, an event signalled
 * by another thread, a mutex under contention (threads yield inside the
 * critical section, so a broken mutex loses increments), preemption of a
 * thread that never yields, and deferred work queued from an interrupt
 * handler running on the deferred-work thread.
 */

#include "arch/x86-64/CPU.h"
#include "arch/x86-64/Interrupts.h"
#include "core/Deferred.h"
#include "core/Sync.h"
#include "core/Thread.h"
#include "shell/Shell.h"
#include "shell/ShellCommands.h"
#include "shell/ShellSelfTest.h"
#include "system/Clock.h"
#include "utils/Format.h"
#include "utils/String.h"

#define MUTEX_THREADS 4
#define MUTEX_ROUNDS 200

static SELF_TEST ThreadsTest;

void SelfTestReport(SELF_TEST* Test, BOOL Condition, LPCSTR What, LPCSTR Format, ...) {
    char Detail[96];
    VA_LIST Arguments;
    VA_START(Arguments, Format);
    StringPrintFormatV(Detail, sizeof(Detail), Format, Arguments);
    VA_END(Arguments);
    ShellPrint("  %-44s %s (%s)\n", What, Condition ? "ok" : "FAILED", Detail);
    if (!Condition) Test->Failures++;
}

void SelfTestCheck(SELF_TEST* Test, BOOL Condition, LPCSTR What, U64 ValueMs) {
    SelfTestReport(Test, Condition, What, "%llu ms", ValueMs);
}

void SelfTestSkip(SELF_TEST* Test, LPCSTR What, LPCSTR Why) {
    ShellPrint("  %-44s skipped (%s)\n", What, Why);
    Test->Skipped++;
}

static void Check(BOOL Condition, LPCSTR What, U64 ValueMs) { SelfTestCheck(&ThreadsTest, Condition, What, ValueMs); }

typedef struct tag_SIGNAL_ARGUMENT {
    EVENT* Event;
    U32 DelayMs;
} SIGNAL_ARGUMENT;

static void SignalLater(LPVOID Argument) {
    SIGNAL_ARGUMENT* Signal = (SIGNAL_ARGUMENT*)Argument;
    Sleep(Signal->DelayMs);
    EventSignal(Signal->Event);
}

static MUTEX CounterMutex;
static volatile U32 Counter;
static SEMAPHORE WorkersDone;

static void MutexWorker(LPVOID Argument) {
    UNUSED(Argument);
    for (U32 Round = 0; Round < MUTEX_ROUNDS; Round++) {
        MutexLock(&CounterMutex);
        U32 Seen = Counter;
        Yield();  // invite another thread into the critical section: only the mutex keeps it out
        Counter = Seen + 1;
        MutexUnlock(&CounterMutex);
    }
    SemaphoreRelease(&WorkersDone);
}

static volatile BOOL SpinStop;
static void Spinner(LPVOID Argument) {
    UNUSED(Argument);
    U64 End = GetSystemTimeNs() + 300000000ULL;
    while (!SpinStop && GetSystemTimeNs() < End) {
    }
    SemaphoreRelease(&WorkersDone);
}

static EVENT DeferredRan;
static volatile BOOL DeferredOnWorker;
static DEFERRED_WORK SelfTestWork;

static void DeferredBody(LPVOID Context) {
    UNUSED(Context);
    DeferredOnWorker = StringCompare(GetCurrentThread()->Name, "deferred") == 0;
    EventSignal(&DeferredRan);
}

static BOOL SelfTestInterrupt(INTERRUPT_FRAME* Frame, LPVOID Context) {
    UNUSED(Frame);
    UNUSED(Context);
    DeferredWorkQueue(&SelfTestWork);  // the top half only queues
    return TRUE;
}

static I32 SelfTestThreads(void) {
    EVENT Event;
    U64 Start, Elapsed;
    ThreadsTest.Failures = 0;

    Start = GetSystemTimeMs();
    Sleep(50);
    Elapsed = GetSystemTimeMs() - Start;
    Check(Elapsed >= 50 && Elapsed < 250, "Sleep(50) sleeps 50 ms", Elapsed);

    EventInit(&Event, FALSE, FALSE);
    Start = GetSystemTimeMs();
    BOOL Fired = WaitForEvent(&Event, 30);
    Elapsed = GetSystemTimeMs() - Start;
    Check(!Fired && Elapsed >= 30 && Elapsed < 250, "WaitForEvent times out after 30 ms", Elapsed);

    SIGNAL_ARGUMENT Signal = {&Event, 20};
    Start = GetSystemTimeMs();
    BOOL Created = ThreadCreate("selftest-signal", SignalLater, &Signal) != NULL;
    Fired = Created && WaitForEvent(&Event, 2000);
    Elapsed = GetSystemTimeMs() - Start;
    Check(Fired && Elapsed >= 20 && Elapsed < 1000, "event signalled by another thread wakes", Elapsed);

    MutexInit(&CounterMutex);
    SemaphoreInit(&WorkersDone, 0);
    Counter = 0;
    Start = GetSystemTimeMs();
    U32 Started = 0;
    for (U32 I = 0; I < MUTEX_THREADS; I++) Started += ThreadCreate("selftest-mutex", MutexWorker, NULL) != NULL;
    U32 Finished = 0;
    for (U32 I = 0; I < Started; I++) Finished += SemaphoreAcquire(&WorkersDone, 10000);
    Elapsed = GetSystemTimeMs() - Start;
    Check(Started == MUTEX_THREADS && Finished == Started && Counter == MUTEX_THREADS * MUTEX_ROUNDS,
          "mutex keeps 4 yielding threads exclusive", Elapsed);
    if (Counter != MUTEX_THREADS * MUTEX_ROUNDS) ShellPrint("    counter %u, expected %u\n", Counter, MUTEX_THREADS * MUTEX_ROUNDS);

    // Both on this CPU (several may run): the sleeper can only get back by preempting the spinner.
    U64 InterruptFlags = SaveAndDisableInterrupts();
    U32 Here = GetPerCPU()->Index;
    RestoreInterrupts(InterruptFlags);
    ThreadPinCurrent(Here);
    SpinStop = FALSE;
    Created = ThreadCreateOn("selftest-spin", Spinner, NULL, Here) != NULL;
    Start = GetSystemTimeMs();
    Sleep(20);
    Elapsed = GetSystemTimeMs() - Start;
    SpinStop = TRUE;
    ThreadPinCurrent(THREAD_ANY_CPU);
    BOOL SpinnerDone = Created && SemaphoreAcquire(&WorkersDone, 2000);
    Check(SpinnerDone && Elapsed >= 20 && Elapsed < 200, "a spinning thread is preempted", Elapsed);

    EventInit(&DeferredRan, FALSE, FALSE);
    DeferredOnWorker = FALSE;
    DeferredWorkInit(&SelfTestWork, DeferredBody, NULL);
    U8 Vector = InterruptAllocateVector();
    BOOL Registered = Vector != 0 && DeviceInterruptRegister(Vector, SelfTestInterrupt, NULL);
    Start = GetSystemTimeMs();
    if (Registered) {
        // A software interrupt goes through the same dispatcher as a device's.
        switch (Vector) {
#define RAISE(v) case v: __asm__ volatile("int $" #v); break;
            RAISE(48) RAISE(49) RAISE(50) RAISE(51) RAISE(52) RAISE(53) RAISE(54) RAISE(55)
            RAISE(56) RAISE(57) RAISE(58) RAISE(59) RAISE(60) RAISE(61) RAISE(62) RAISE(63)
#undef RAISE
            default: Registered = FALSE; break;
        }
    }
    Fired = Registered && WaitForEvent(&DeferredRan, 2000);
    Elapsed = GetSystemTimeMs() - Start;
    Check(Fired && DeferredOnWorker, "interrupt top half defers to the worker", Elapsed);
    if (Vector != 0) {
        DeviceInterruptUnregister(Vector, SelfTestInterrupt, NULL);
        InterruptFreeVector(Vector);
    }

    U32 Failures = ThreadsTest.Failures;
    ShellPrint("selftest threads: %s (%u failed)\n", Failures == 0 ? "PASS" : "FAIL", Failures);
    return Failures == 0 ? 0 : -1;
}

static I32 CommandSelfTest(I32 ArgumentCount, LPSTR* Arguments) {
    BOOL Threads = ArgumentCount == 2 && StringCompare(Arguments[1], "threads") == 0;
    BOOL Smp = ArgumentCount == 2 && StringCompare(Arguments[1], "smp") == 0;
    if (!Threads && !Smp) {
        ShellError("selftest", "usage: selftest threads|smp");
        return -1;
    }
    if (!SchedulerIsRunning()) {
        ShellError("selftest", "the scheduler is not running");
        return -1;
    }
    return Threads ? SelfTestThreads() : SelfTestSMP();
}

static const SHELL_COMMAND SelfTestCommand = {
    "selftest", "threads|smp",
    "Check scheduling, sleeping, events, mutexes and deferred work; or every CPU (wake-ups, preemption, TLB)",
    CommandSelfTest};

void ShellRegisterSelfTestCommands(void) { ShellRegisterCommand(&SelfTestCommand); }
