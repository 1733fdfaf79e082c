/*
 * Test-Shell.c - shell/Shell.c and shell/ShellBuiltins.c on the host kernel
 * (tests/host: the real log, its console captured here), with the services
 * it lacks faked (memory, CPU, clock and ticks give fixed answers). Checks the
 * command table (sorting, duplicates, bad names, full table), execution
 * (splitting, unknown commands, quoting errors) and the exact output of the
 * built-ins that the integration tests parse. `fault` is only checked for
 * its argument errors: raising an exception would end the test.
 */
// SOURCES: shell/Shell.c shell/ShellBuiltins.c utils/LineEditor.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "HostKernel.h"
#include "core/Log.h"
#include "drivers/console/Console.h"
#include "drivers/console/Input.h"
#include "memory/Memory.h"
#include "shell/Shell.h"
#include "system/CPUInfo.h"
#include "system/Clock.h"

/************************************************************************/
// Fakes of what the host kernel (tests/host) does not provide, and its console and clock set up for the shell

static char Output[16384];
static size_t OutputLength;

static void CaptureWrite(LPCSTR Text, SIZE Length) {
    assert_true(OutputLength + Length < sizeof(Output));
    memcpy(Output + OutputLength, Text, Length);
    OutputLength += Length;
    Output[OutputLength] = 0;
}

static CONSOLE_DEVICE Capture = {.Name = "capture", .Write = CaptureWrite};

KEY InputReadKey(void) { return KEY_ENTER; }

static MEMORY_STATS FakeStats;
void MemoryGetStats(MEMORY_STATS* Stats) { *Stats = FakeStats; }

static CPU_INFO FakeCPU;
const CPU_INFO* CPUInfoGet(void) { return &FakeCPU; }
void CPUInfoFeatureString(LPSTR Buffer, SIZE Size) { snprintf(Buffer, Size, "fpu tsc sse2"); }

static U64 FakeTSCHz, FakeNs, FakeTicks;
U64 ClockGetTSCFrequency(void) { return FakeTSCHz; }
static U64 FakeNow(void) { return FakeNs; }
U64 TimerGetTicks(void) { return FakeTicks; }
LPCSTR VFSGetCurrentDirectory(void) { return "/"; }
void ShellPrintProcessors(void) { ShellPrint("(processor table)\n"); }

#define FakeLevel LogGetConsoleLevel()

/** The console goes to Output, the clock is FakeNs, and the log holds two lines for `log` to replay. */
__attribute__((constructor)) static void SetUpHostKernel(void) {
    ConsoleRegister(&Capture);
    HostTimeSetSource(FakeNow);
    FakeNs = 1000;
    INFO("[A] first");
    FakeNs = 2000;
    WARNING("[B] second");
    FakeNs = 0;
}

/************************************************************************/

static const char* Run(const char* Line) {
    OutputLength = 0;
    Output[0] = 0;
    ShellExecute(Line);
    return Output;
}

static I32 LastArgumentCount;
static char LastArguments[SHELL_MAX_ARGUMENTS][64];
static I32 Recorder(I32 ArgumentCount, LPSTR* Arguments) {
    LastArgumentCount = ArgumentCount;
    for (I32 I = 0; I < ArgumentCount; I++) snprintf(LastArguments[I], 64, "%s", Arguments[I]);
    return 42;
}

static int SetupOnce(void** State) {
    (void)State;
    ShellRegisterBuiltins();
    static const SHELL_COMMAND Record = {"record", "[args]", "Remember the arguments", Recorder};
    assert_true(ShellRegisterCommand(&Record));
    return 0;
}

static void TestTableSortedAndComplete(void** State) {
    (void)State;
    static const char* Builtins[] = {"clear", "cpu", "echo", "fault", "help", "log", "mem", "uptime"};
    for (size_t I = 0; I < sizeof(Builtins) / sizeof(Builtins[0]); I++) assert_non_null(ShellFindCommand(Builtins[I]));
    assert_null(ShellFindCommand("nope"));
    assert_null(ShellCommandAt(ShellCommandCount()));
    for (U32 I = 1; I < ShellCommandCount(); I++) {
        assert_true(strcmp(ShellCommandAt(I - 1)->Name, ShellCommandAt(I)->Name) < 0);
    }
}

static void TestRegisterRules(void** State) {
    (void)State;
    SHELL_COMMAND Command = {"record", "", "", Recorder};
    assert_false(ShellRegisterCommand(&Command));  // duplicate
    Command.Name = "";
    assert_false(ShellRegisterCommand(&Command));
    Command.Name = "has space";
    assert_false(ShellRegisterCommand(&Command));
    Command.Name = "waytoolongforacommandname";
    assert_false(ShellRegisterCommand(&Command));
    Command.Name = "nofunction";
    Command.Function = NULL;
    assert_false(ShellRegisterCommand(&Command));
    assert_false(ShellRegisterCommand(NULL));
    // NULL usage and description are allowed and shown as empty.
    SHELL_COMMAND Bare = {"aaa-bare", NULL, NULL, Recorder};
    assert_true(ShellRegisterCommand(&Bare));
    assert_string_equal(ShellCommandAt(0)->Name, "aaa-bare");
    assert_string_equal(ShellCommandAt(0)->Usage, "");
}

static void TestTableFull(void** State) {
    (void)State;
    static char Names[SHELL_MAX_COMMANDS][16];
    U32 Added = 0;
    for (U32 I = 0; I < SHELL_MAX_COMMANDS; I++) {
        snprintf(Names[I], sizeof(Names[I]), "zz%02u", I);
        SHELL_COMMAND Command = {Names[I], "", "filler", Recorder};
        if (ShellRegisterCommand(&Command)) Added++;
    }
    assert_int_equal(ShellCommandCount(), SHELL_MAX_COMMANDS);
    assert_true(Added < SHELL_MAX_COMMANDS);  // the rest were refused, not overflowed
}

static void TestExecuteSplitsArguments(void** State) {
    (void)State;
    OutputLength = 0;
    assert_int_equal(ShellExecute("  record  one \"two words\"   three "), 42);
    assert_int_equal(LastArgumentCount, 4);
    assert_string_equal(LastArguments[0], "record");
    assert_string_equal(LastArguments[2], "two words");
    assert_string_equal(LastArguments[3], "three");
    assert_int_equal(ShellExecute(""), 0);
    assert_int_equal(ShellExecute("    "), 0);
    assert_int_equal(OutputLength, 0);
}

static void TestUnknownCommand(void** State) {
    (void)State;
    assert_string_equal(Run("frobnicate now"), "Unknown command: frobnicate (type help for a list)\n");
    assert_int_equal(ShellExecute("Echo"), -1);  // names are case sensitive
}

static void TestSplitErrors(void** State) {
    (void)State;
    assert_string_equal(Run("echo \"open quote"), "echo: unbalanced quote\n");
    assert_string_equal(Run("echo 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16"),
                        "echo: too many arguments (at most 16 words)\n");
    char Long[400];
    memset(Long, 'x', sizeof(Long) - 1);
    Long[sizeof(Long) - 1] = 0;
    assert_string_equal(Run(Long), "Command line too long (at most 255 characters)\n");
}

static void TestEcho(void** State) {
    (void)State;
    assert_string_equal(Run("echo hello   spaced    world"), "hello spaced world\n");
    assert_string_equal(Run("echo"), "\n");
    assert_string_equal(Run("echo \"  kept  \" x"), "  kept   x\n");
}

static void TestHelp(void** State) {
    (void)State;
    const char* Text = Run("help");
    // One line per command, in name order.
    U32 Lines = 0;
    for (const char* P = Text; *P; P++) Lines += (*P == '\n');
    assert_int_equal(Lines, ShellCommandCount());
    assert_non_null(strstr(Text, "fault"));
    assert_true(strstr(Text, "clear") < strstr(Text, "cpu"));
    assert_true(strstr(Text, "mem ") < strstr(Text, "uptime"));
    Text = Run("help echo");
    assert_non_null(strstr(Text, "echo"));
    assert_non_null(strstr(Text, "Print the arguments"));
    assert_null(strchr(strchr(Text, '\n') + 1, '\n'));  // exactly one line
    assert_string_equal(Run("help nothing"), "help: no command 'nothing'\n");
}

static void TestMem(void** State) {
    (void)State;
    FakeStats.TotalBytes = 261627ULL * 1024;
    FakeStats.FreeBytes = 260604ULL * 1024;
    FakeStats.UsedBytes = 1023ULL * 1024;
    FakeStats.ReservedBytes = 976ULL * 1024;
    FakeStats.HighestAddress = 0xFFDF000;
    FakeStats.HeapUsedBytes = 3 * 1024;
    FakeStats.HeapBytes = 64 * 1024;
    FakeStats.HeapAllocations = 5;
    assert_string_equal(Run("mem"),
                        "Physical total : 261627 KiB (255.4 MiB)\n"
                        "Physical free  : 260604 KiB (254.4 MiB)\n"
                        "Physical used  : 1023 KiB (1023.0 KiB)\n"
                        "Reserved       : 976 KiB\n"
                        "Highest address: 0xffdf000\n"
                        "Heap           : 3 KiB used, 64 KiB mapped, 5 allocations\n");
    assert_string_equal(Run("mem extra"), "mem: takes no arguments\n");
}

static void TestUptime(void** State) {
    (void)State;
    FakeNs = 12690123456ULL;
    FakeTicks = 1262;
    assert_string_equal(Run("uptime"), "up 12.690 s (1262 ticks)\n");
    FakeNs = 5000000;
    FakeTicks = 0;
    assert_string_equal(Run("uptime"), "up 0.005 s (0 ticks)\n");
}

static void TestCpu(void** State) {
    (void)State;
    strcpy(FakeCPU.Vendor, "GenuineIntel");
    strcpy(FakeCPU.Brand, "   Intel(R) Xeon(R) CPU @ 2.60GHz");
    FakeCPU.Family = 6;
    FakeCPU.Model = 85;
    FakeCPU.Stepping = 7;
    FakeCPU.InvariantTSC = TRUE;
    FakeTSCHz = 2599971234ULL;
    assert_string_equal(Run("cpu"),
                        "Vendor   : GenuineIntel\n"
                        "Model    : Intel(R) Xeon(R) CPU @ 2.60GHz\n"
                        "Signature: family 6 model 85 stepping 7\n"
                        "Features : fpu tsc sse2\n"
                        "TSC      : 2599.971 MHz (invariant)\n"
                        "(processor table)\n");
    memset(&FakeCPU, 0, sizeof(FakeCPU));
    FakeTSCHz = 0;
    const char* Text = Run("cpu");
    assert_non_null(strstr(Text, "Vendor   : unknown\n"));
    assert_non_null(strstr(Text, "TSC      : 0.000 MHz (not invariant)\n"));
}

static void TestLog(void** State) {
    (void)State;
    assert_string_equal(Run("log"), "[    0.000001] INFO [A] first\n[    0.000002] WARNING [B] second\n");
    assert_string_equal(Run("log level"), "Console log level: INFO\n");
    assert_string_equal(Run("log level debug"), "Console log level: DEBUG\n");
    assert_int_equal(FakeLevel, LOG_LEVEL_DEBUG);
    assert_string_equal(Run("log level loud"), "log: unknown level 'loud' (use debug, info, warning, error)\n");
    assert_int_equal(FakeLevel, LOG_LEVEL_DEBUG);
    assert_non_null(strstr(Run("log rotate"), "log: unknown option 'rotate'"));
}

static void TestFaultArguments(void** State) {
    (void)State;
    assert_string_equal(Run("fault xx"), "fault: unknown kind 'xx' (use pf, gp, ud, de, df)\n");
    assert_string_equal(Run("fault"), "fault: missing kind (use pf, gp, ud, de, df)\n");
    assert_string_equal(Run("fault pf gp"), "fault: too many arguments (use pf, gp, ud, de, df)\n");
}

static void TestClearAndPrompt(void** State) {
    (void)State;
    assert_string_equal(Run("clear"), "\x1B[2J\x1B[H");
    assert_string_equal(ShellGetCurrentDirectory(), "/");
    OutputLength = 0;
    ShellError("cmd", "bad value %d", 7);
    assert_string_equal(Output, "cmd: bad value 7\n");
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestTableSortedAndComplete),
        cmocka_unit_test(TestRegisterRules),
        cmocka_unit_test(TestExecuteSplitsArguments),
        cmocka_unit_test(TestUnknownCommand),
        cmocka_unit_test(TestSplitErrors),
        cmocka_unit_test(TestEcho),
        cmocka_unit_test(TestHelp),
        cmocka_unit_test(TestMem),
        cmocka_unit_test(TestUptime),
        cmocka_unit_test(TestCpu),
        cmocka_unit_test(TestLog),
        cmocka_unit_test(TestFaultArguments),
        cmocka_unit_test(TestClearAndPrompt),
        cmocka_unit_test(TestTableFull),  // last: fills the table
    };
    return cmocka_run_group_tests(Tests, SetupOnce, NULL);
}
