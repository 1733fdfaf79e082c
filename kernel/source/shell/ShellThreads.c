/*
 * ShellThreads.c - `threads` (every thread with its state, CPU and CPU
 * time), the processor table `cpu` ends with (ShellPrintProcessors), and
 * `irq` (per-vector interrupt counts, all CPUs together).
 *
 * The figures come from the scheduler and the CPU table while the machine
 * runs: a CPU's counters are written by that CPU only, so reading them here
 * gives a recent value, not a snapshot of every CPU at one instant.
 */

#include "arch/x86-64/Interrupts.h"
#include "core/Deferred.h"
#include "core/SMP.h"
#include "core/Thread.h"
#include "memory/TLB.h"
#include "shell/Shell.h"
#include "shell/ShellCommands.h"
#include "system/Clock.h"
#include "utils/Format.h"
#include "utils/String.h"

static void PrintThread(const THREAD* Thread, LPVOID Context) {
    UNUSED(Context);
    U64 Ms = Thread->CPUTimeNs / 1000000ULL;
    char Pin[16] = "";
    if (Thread->Affinity != THREAD_ANY_CPU && !Thread->IsIdle) {
        StringPrintFormat(Pin, sizeof(Pin), "  pinned %u", Thread->Affinity);
    }
    ShellPrint("%5u  %-16s %-9s %3u %8llu.%03llu%s\n", Thread->Id, Thread->Name, ThreadStateName(Thread->State),
               Thread->CPU, Ms / 1000, Ms % 1000, Pin);
}

static I32 CommandThreads(I32 ArgumentCount, LPSTR* Arguments) {
    UNUSED(Arguments);
    if (ArgumentCount != 1) {
        ShellError("threads", "takes no arguments");
        return -1;
    }
    if (!SchedulerIsRunning()) {
        ShellPrint("The scheduler is not running.\n");
        return 0;
    }
    ShellPrint("   ID  NAME             STATE     CPU  CPU TIME (s)\n");
    ThreadForEach(PrintThread, NULL);
    for (U32 Index = 0; Index < SMPGetCount(); Index++) {
        PER_CPU* Cpu = SMPGetCPU(Index);
        if (Cpu->State != CPU_STATE_ONLINE) continue;
        U64 IdleMs = SchedulerGetIdleTimeNs(Index) / 1000000ULL;
        ShellPrint("CPU %u: %llu context switches, idle %llu.%03llu s\n", Index, Cpu->ContextSwitches, IdleMs / 1000,
                   IdleMs % 1000);
    }
    ShellPrint("%llu deferred work runs\n", DeferredGetRunCount());
    return 0;
}

/** Idle share of the time CPU Index has been online, in tenths of a percent. */
static U64 IdlePermille(U32 Index, U64 Now) {
    PER_CPU* Cpu = SMPGetCPU(Index);
    U64 Online = Now > Cpu->OnlineSinceNs ? Now - Cpu->OnlineSinceNs : 0;
    U64 Idle = SchedulerGetIdleTimeNs(Index);
    if (Online == 0) return 0;
    if (Idle > Online) Idle = Online;
    return Idle * 1000 / Online;
}

void ShellPrintProcessors(void) {
    U64 Now = GetSystemTimeNs();
    ShellPrint("CPU  APIC  STATE        TICKS  THREADS RUN     SWITCHES  RESCHED IPIS  SHOOTDOWNS   IDLE\n");
    for (U32 Index = 0; Index < SMPGetCount(); Index++) {
        PER_CPU* Cpu = SMPGetCPU(Index);
        CPU_STATE State = (CPU_STATE)Cpu->State;
        if (State != CPU_STATE_ONLINE && State != CPU_STATE_HALTED) {
            ShellPrint("%3u  %4u  %-8s\n", Index, Cpu->ApicId, SMPStateName(State));
            continue;
        }
        U64 Permille = IdlePermille(Index, Now);
        ShellPrint("%3u  %4u  %-8s %9llu  %11llu  %11llu  %12llu  %10llu  %3llu.%llu%%\n", Index, Cpu->ApicId,
                   SMPStateName(State), Cpu->Ticks, Cpu->ThreadsRun, Cpu->ContextSwitches, Cpu->ReschedulesReceived,
                   Cpu->ShootdownsServed, Permille / 10, Permille % 10);
    }
    U64 Requests = 0, Broadcasts = 0;
    TLBGetCounts(&Requests, &Broadcasts);
    ShellPrint("%u of %u CPUs online; %llu TLB flushes requested, %llu sent to other CPUs\n", SMPGetOnlineCount(),
               SMPGetCount(), Requests, Broadcasts);
}

static LPCSTR VectorKind(U32 Vector) {
    if (Vector < 32) return InterruptExceptionName((U8)Vector);
    if (Vector == INTERRUPT_VECTOR_TIMER) return "LAPIC timer";
    if (Vector == INTERRUPT_VECTOR_SPURIOUS) return "spurious";
    if (Vector < INTERRUPT_FIRST_DEVICE_VECTOR) return "legacy PIC (masked)";
    if (Vector <= INTERRUPT_LAST_DEVICE_VECTOR) return "device";
    return "kernel";
}

static I32 CommandIRQ(I32 ArgumentCount, LPSTR* Arguments) {
    UNUSED(Arguments);
    if (ArgumentCount != 1) {
        ShellError("irq", "takes no arguments");
        return -1;
    }
    ShellPrint("VECTOR        COUNT  SOURCE\n");
    for (U32 Vector = 0; Vector < INTERRUPT_VECTOR_COUNT; Vector++) {
        U64 Count = InterruptGetCount((U8)Vector);
        if (Count == 0) continue;
        LPCSTR Name = InterruptGetVectorName((U8)Vector);
        ShellPrint("  %3u  %12llu  %s\n", Vector, Count, Name ? Name : VectorKind(Vector));
    }
    return 0;
}

static const SHELL_COMMAND ThreadCommands[] = {
    {"threads", "", "List kernel threads with their state, CPU and CPU time", CommandThreads},
    {"irq", "", "Show how often each interrupt vector fired (all CPUs)", CommandIRQ},
};

void ShellRegisterThreadCommands(void) {
    for (U32 I = 0; I < ARRAY_COUNT(ThreadCommands); I++) ShellRegisterCommand(&ThreadCommands[I]);
}
