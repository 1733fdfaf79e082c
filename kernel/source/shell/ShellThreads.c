/*
 * ShellThreads.c - `threads` (every thread with its state and CPU time) and
 * `irq` (per-vector interrupt counts).
 */

#include "arch/x86-64/Interrupts.h"
#include "core/Deferred.h"
#include "core/Thread.h"
#include "shell/Shell.h"
#include "shell/ShellCommands.h"
#include "system/Clock.h"
#include "utils/String.h"

static void PrintThread(const THREAD* Thread, LPVOID Context) {
    UNUSED(Context);
    U64 Ms = Thread->CPUTimeNs / 1000000ULL;
    ShellPrint("%5u  %-16s %-9s %3u %8llu.%03llu\n", Thread->Id, Thread->Name, ThreadStateName(Thread->State),
               Thread->CPU, Ms / 1000, Ms % 1000);
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
    PER_CPU* Cpu = GetPerCPU();
    U64 IdleMs = Cpu->IdleTimeNs / 1000000ULL;
    ShellPrint("CPU %u: %llu context switches, idle %llu.%03llu s, %llu deferred work runs\n", Cpu->Index,
               Cpu->ContextSwitches, IdleMs / 1000, IdleMs % 1000, DeferredGetRunCount());
    return 0;
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
    {"threads", "", "List kernel threads with their state and CPU time", CommandThreads},
    {"irq", "", "Show how often each interrupt vector fired", CommandIRQ},
};

void ShellRegisterThreadCommands(void) {
    for (U32 I = 0; I < ARRAY_COUNT(ThreadCommands); I++) ShellRegisterCommand(&ThreadCommands[I]);
}
