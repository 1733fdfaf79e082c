/*
 * ShellBuiltins.c - the commands every Cairn shell has: help, mem, log,
 * uptime, cpu, echo, time, fault, clear.
 *
 * Each command checks its arguments first and reports a bad one with a
 * single "<cmd>: <reason>" line. The output formats of mem, uptime and cpu
 * are read by the integration tests: change them together.
 */

#include "shell/Shell.h"

#include "shell/ShellCommands.h"
#include "core/Log.h"
#include "memory/Memory.h"
#include "system/CPUInfo.h"
#include "system/Clock.h"
#include "utils/Format.h"
#include "utils/String.h"

/************************************************************************/
// help

static I32 CommandHelp(I32 ArgumentCount, LPSTR* Arguments) {
    if (ArgumentCount > 2) {
        ShellError("help", "too many arguments (usage: help [command])");
        return 1;
    }
    if (ArgumentCount == 2 && ShellFindCommand(Arguments[1]) == NULL) {
        ShellError("help", "no command '%s'", Arguments[1]);
        return 1;
    }

    I32 NameWidth = 0, UsageWidth = 0;
    for (U32 Index = 0; Index < ShellCommandCount(); Index++) {
        const SHELL_COMMAND* Command = ShellCommandAt(Index);
        NameWidth = MAX(NameWidth, (I32)StringLength(Command->Name));
        UsageWidth = MAX(UsageWidth, (I32)StringLength(Command->Usage));
    }
    UsageWidth = MIN(UsageWidth, 24);  // a longer usage pushes its own line's description right

    for (U32 Index = 0; Index < ShellCommandCount(); Index++) {
        const SHELL_COMMAND* Command = ShellCommandAt(Index);
        if (ArgumentCount == 2 && StringCompare(Command->Name, Arguments[1]) != 0) continue;
        ShellPrint("%-*s %-*s  %s\n", NameWidth, Command->Name, UsageWidth, Command->Usage, Command->Description);
    }
    return 0;
}

/************************************************************************/
// mem

static void PrintMemoryLine(LPCSTR Label, U64 Bytes) {
    char Human[32];
    FormatByteSize(Human, sizeof(Human), Bytes, FORMAT_SIZE_TENTHS);
    ShellPrint("%s: %llu KiB (%s)\n", Label, Bytes / 1024, Human);
}

static I32 CommandMem(I32 ArgumentCount, LPSTR* Arguments) {
    MEMORY_STATS Stats;
    UNUSED(Arguments);
    if (ArgumentCount != 1) {
        ShellError("mem", "takes no arguments");
        return 1;
    }
    MemoryGetStats(&Stats);
    PrintMemoryLine("Physical total ", Stats.TotalBytes);
    PrintMemoryLine("Physical free  ", Stats.FreeBytes);
    PrintMemoryLine("Physical used  ", Stats.UsedBytes);
    ShellPrint("Reserved       : %llu KiB\n", Stats.ReservedBytes / 1024);
    ShellPrint("Highest address: 0x%llx\n", Stats.HighestAddress);
    ShellPrint("Heap           : %llu KiB used, %llu KiB mapped, %llu allocations\n", Stats.HeapUsedBytes / 1024,
               Stats.HeapBytes / 1024, Stats.HeapAllocations);
    return 0;
}

/************************************************************************/
// log

static void PrintLogLine(LPCSTR Line, LPVOID Context) {
    UNUSED(Context);
    ShellPrint("%s\n", Line);
}

static I32 CommandLog(I32 ArgumentCount, LPSTR* Arguments) {
    if (ArgumentCount == 1) {
        LogReplay(PrintLogLine, NULL);
        return 0;
    }
    if (StringCompare(Arguments[1], "level") != 0 || ArgumentCount > 3) {
        ShellError("log", "unknown option '%s' (usage: log [level [debug|info|warning|error]])", Arguments[1]);
        return 1;
    }
    if (ArgumentCount == 2) {
        ShellPrint("Console log level: %s\n", LogLevelName(LogGetConsoleLevel()));
        return 0;
    }
    LOG_LEVEL Level;
    if (!LogParseLevel(Arguments[2], &Level)) {
        ShellError("log", "unknown level '%s' (use debug, info, warning, error)", Arguments[2]);
        return 1;
    }
    LogSetConsoleLevel(Level);
    ShellPrint("Console log level: %s\n", LogLevelName(Level));
    return 0;
}

/************************************************************************/
// uptime

static I32 CommandUptime(I32 ArgumentCount, LPSTR* Arguments) {
    UNUSED(Arguments);
    if (ArgumentCount != 1) {
        ShellError("uptime", "takes no arguments");
        return 1;
    }
    U64 Ms = GetSystemTimeNs() / 1000000ULL;
    ShellPrint("up %llu.%03llu s (%llu ticks)\n", Ms / 1000, Ms % 1000, TimerGetTicks());
    return 0;
}

/************************************************************************/
// cpu

static I32 CommandCpu(I32 ArgumentCount, LPSTR* Arguments) {
    char Features[256];
    UNUSED(Arguments);
    if (ArgumentCount != 1) {
        ShellError("cpu", "takes no arguments");
        return 1;
    }
    const CPU_INFO* Info = CPUInfoGet();
    LPCSTR Brand = Info->Brand;
    while (*Brand == ' ') Brand++;  // brand strings are often right-aligned
    CPUInfoFeatureString(Features, sizeof(Features));
    U64 KHz = ClockGetTSCFrequency() / 1000;

    ShellPrint("Vendor   : %s\n", Info->Vendor[0] ? Info->Vendor : "unknown");
    ShellPrint("Model    : %s\n", *Brand ? Brand : "unknown");
    ShellPrint("Signature: family %u model %u stepping %u\n", Info->Family, Info->Model, Info->Stepping);
    ShellPrint("Features : %s\n", Features);
    ShellPrint("TSC      : %llu.%03llu MHz (%s)\n", KHz / 1000, KHz % 1000,
               Info->InvariantTSC ? "invariant" : "not invariant");
    ShellPrintProcessors();
    return 0;
}

/************************************************************************/
// echo

static I32 CommandEcho(I32 ArgumentCount, LPSTR* Arguments) {
    char Line[SHELL_MAX_ARGUMENTS * 2 + 256];
    Line[0] = 0;
    for (I32 Index = 1; Index < ArgumentCount; Index++) {
        if (Index > 1) StringAppend(Line, " ", sizeof(Line));
        StringAppend(Line, Arguments[Index], sizeof(Line));
    }
    ShellPrint("%s\n", Line);
    return 0;
}

/************************************************************************/
// time: how long one command takes, said at the terminal (not into a `> FILE`)

static I32 CommandTime(I32 ArgumentCount, LPSTR* Arguments) {
    if (ArgumentCount < 2) {
        ShellError("time", "usage: time <command> [arguments...]");
        return -1;
    }
    const SHELL_COMMAND* Command = ShellFindCommand(Arguments[1]);
    if (Command == NULL) {
        ShellError("time", "unknown command: %s", Arguments[1]);
        return -1;
    }
    U64 Start = GetSystemTimeNs();
    I32 Result = Command->Function(ArgumentCount - 1, Arguments + 1);
    U64 Elapsed = GetSystemTimeNs() - Start;
    ShellNote("real %llu.%06llu s\n", Elapsed / 1000000000ULL, Elapsed / 1000ULL % 1000000ULL);
    return Result;
}

/************************************************************************/
// fault: raise a CPU exception on purpose (to see the exception handler's dump)

#define FAULT_NON_CANONICAL 0x8000000000000000ULL
#define FAULT_BAD_STACK 0xFFFF900000000000ULL  // canonical, between the direct map and the MMIO window: unmapped

static void RaisePageFault(void) {
    // Through asm: a C store to NULL is undefined and the compiler may turn it into ud2.
    __asm__ volatile("movq $0, (%0)" : : "r"(0ULL) : "memory");
}

static void RaiseGeneralProtection(void) {
    U64 Value;
    __asm__ volatile("movq (%1), %0" : "=r"(Value) : "r"(FAULT_NON_CANONICAL) : "memory");
    UNUSED(Value);
}

static void RaiseInvalidOpcode(void) { __asm__ volatile("ud2"); }

static void RaiseDivideError(void) {
    __asm__ volatile("xorl %%edx, %%edx\n\t"
                     "movl $1, %%eax\n\t"
                     "xorl %%ecx, %%ecx\n\t"
                     "divl %%ecx"
                     :
                     :
                     : "rax", "rcx", "rdx", "cc");
}

NORETURN static void RaiseDoubleFault(void) {
    // A push to an unmapped stack page faults, and delivering that page fault needs the same stack:
    // the CPU raises #DF instead, which runs on its own IST stack.
    __asm__ volatile("movq %0, %%rsp\n\t"
                     "pushq $0"
                     :
                     : "r"(FAULT_BAD_STACK)
                     : "memory");
    __builtin_unreachable();
}

typedef struct tag_FAULT_KIND {
    LPCSTR Name;
    LPCSTR Description;
    void (*Raise)(void);
} FAULT_KIND;

static const FAULT_KIND FaultKinds[] = {
    {"pf", "page fault (write to 0x0)", RaisePageFault},
    {"gp", "general protection fault (load from a non-canonical address)", RaiseGeneralProtection},
    {"ud", "invalid opcode (ud2)", RaiseInvalidOpcode},
    {"de", "divide error (divide by zero)", RaiseDivideError},
    {"df", "double fault (push on an unmapped stack)", RaiseDoubleFault},
};

static I32 CommandFault(I32 ArgumentCount, LPSTR* Arguments) {
    if (ArgumentCount != 2) {
        ShellError("fault", "%s (use pf, gp, ud, de, df)", ArgumentCount < 2 ? "missing kind" : "too many arguments");
        return 1;
    }
    for (U32 Index = 0; Index < ARRAY_COUNT(FaultKinds); Index++) {
        if (StringCompare(Arguments[1], FaultKinds[Index].Name) != 0) continue;
        ShellPrint("Raising a %s\n", FaultKinds[Index].Description);
        FaultKinds[Index].Raise();
        // Only reached when the access did not fault (page 0 mapped) or a handler returned.
        ShellError("fault", "the %s did not stop the kernel", FaultKinds[Index].Description);
        return 1;
    }
    ShellError("fault", "unknown kind '%s' (use pf, gp, ud, de, df)", Arguments[1]);
    return 1;
}

/************************************************************************/
// clear

static I32 CommandClear(I32 ArgumentCount, LPSTR* Arguments) {
    UNUSED(Arguments);
    if (ArgumentCount != 1) {
        ShellError("clear", "takes no arguments");
        return 1;
    }
    ShellPrint("\x1B[2J\x1B[H");
    return 0;
}

/************************************************************************/

static const SHELL_COMMAND BuiltinCommands[] = {
    {"help", "[command]", "List the commands, or show one", CommandHelp},
    {"mem", "", "Show physical memory and heap usage", CommandMem},
    {"log", "[level [<level>]]", "Replay the kernel log; show or set the console level", CommandLog},
    {"uptime", "", "Show the time since boot", CommandUptime},
    {"cpu", "", "Show the processor, its features, TSC rate and every CPU's state", CommandCpu},
    {"echo", "[words...]", "Print the arguments", CommandEcho},
    {"time", "<command> [arguments...]", "Run a command and say how long it took", CommandTime},
    {"fault", "pf|gp|ud|de|df", "Raise a CPU exception on purpose", CommandFault},
    {"clear", "", "Clear the screen", CommandClear},
};

void ShellRegisterBuiltins(void) {
    for (U32 Index = 0; Index < ARRAY_COUNT(BuiltinCommands); Index++) {
        if (!ShellRegisterCommand(&BuiltinCommands[Index])) {
            WARNING("[ShellRegisterBuiltins] could not register %s", BuiltinCommands[Index].Name);
        }
    }
}
