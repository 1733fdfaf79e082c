/*
 * Test-Shell.c - shell/Shell.c and shell/ShellBuiltins.c on the host kernel
 * (tests/host: the real log, its console captured here), with the services
 * it lacks faked (memory, CPU, clock and ticks give fixed answers). Checks the
 * command table (sorting, duplicates, bad names, full table), execution
 * (splitting, unknown commands, quoting errors) and the exact output of the
 * built-ins that the integration tests parse, `time`, and the output
 * redirection (`> PATH`, `>> PATH`, /dev/null: shell/ShellRedirect.c) into a
 * fake VFS of one file. `fault` is only checked for its argument errors:
 * raising an exception would end the test.
 */
// SOURCES: shell/Shell.c shell/ShellBuiltins.c shell/ShellRedirect.c utils/LineEditor.c

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
#include "fs/VFS.h"
#include "shell/Shell.h"
#include "shell/ShellRedirect.h"
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

// A VFS of one writable file, /out (its directory /nodir does not exist); FileSpace bytes fit in it.
struct tag_VFS_FILE {
    int Unused;
};
static struct tag_VFS_FILE TheFile;
static char FileData[8192];
static size_t FileLength, FileSpace = sizeof(FileData);
static U32 FileOpens, FileWrites, FileCloses, FileFlags;
VFS_STATUS VFSOpen(LPCSTR Path, U32 Flags, VFS_FILE** File) {
    if (strcmp(Path, "/out") != 0) return VFS_ERROR_NOT_FOUND;
    FileOpens++;
    FileFlags = Flags;
    if (Flags & VFS_OPEN_TRUNCATE) FileLength = 0;
    *File = &TheFile;
    return VFS_OK;
}
VFS_STATUS VFSWrite(VFS_FILE* File, LPCVOID Buffer, U32 Length, U32* Done) {
    assert_ptr_equal(File, &TheFile);
    FileWrites++;
    *Done = (U32)(FileLength + Length <= FileSpace ? Length : FileSpace - FileLength);
    memcpy(FileData + FileLength, Buffer, *Done);
    FileLength += *Done;
    return VFS_OK;
}
void VFSClose(VFS_FILE* File) {
    assert_ptr_equal(File, &TheFile);
    FileCloses++;
}
LPCSTR VFSErrorString(VFS_STATUS Status) { return Status == VFS_ERROR_NOT_FOUND ? "not found" : "no space left"; }
static const char* FileText(void) {
    FileData[FileLength] = 0;
    return FileData;
}
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
    static const char* Builtins[] = {"clear", "cpu", "echo", "fault", "help", "log", "mem", "time", "uptime"};
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

static void TestRedirectSplit(void** State) {
    (void)State;
    SHELL_REDIRECT_TARGET Target;
    char Line[64];
    strcpy(Line, "ls -l > /mnt/list.txt");
    assert_null(ShellRedirectSplit(Line, &Target));
    assert_string_equal(Line, "ls -l ");
    assert_string_equal(Target.Path, "/mnt/list.txt");
    assert_false(Target.Append);
    strcpy(Line, "echo x>>\"/a b\"");
    assert_null(ShellRedirectSplit(Line, &Target));
    assert_string_equal(Line, "echo x");
    assert_string_equal(Target.Path, "/a b");
    assert_true(Target.Append);
    strcpy(Line, "echo \"a > b\" plain");  // quoted: no redirection
    assert_null(ShellRedirectSplit(Line, &Target));
    assert_null(Target.Path);
    assert_string_equal(Line, "echo \"a > b\" plain");
    strcpy(Line, "echo x >");
    assert_string_equal(ShellRedirectSplit(Line, &Target), "missing file name after '>'");
    strcpy(Line, "echo x >>  ");
    assert_string_equal(ShellRedirectSplit(Line, &Target), "missing file name after '>>'");
    strcpy(Line, "echo x > a b");
    assert_string_equal(ShellRedirectSplit(Line, &Target), "one file name after '>' (quote a name with spaces)");
    strcpy(Line, "echo x > a>b");
    assert_string_equal(ShellRedirectSplit(Line, &Target), "one redirection a command");
}

static void TestRedirectIntoAFile(void** State) {
    (void)State;
    FileLength = 0;
    U32 Opens = FileOpens, Closes = FileCloses;
    assert_string_equal(Run("echo hello   world > /out"), "");  // nothing at the terminal
    assert_string_equal(FileText(), "hello world\n");
    assert_int_equal(FileFlags & (VFS_OPEN_TRUNCATE | VFS_OPEN_APPEND | VFS_OPEN_CREATE), VFS_OPEN_TRUNCATE | VFS_OPEN_CREATE);
    assert_string_equal(Run("echo again >> /out"), "");
    assert_string_equal(FileText(), "hello world\nagain\n");
    assert_true(FileFlags & VFS_OPEN_APPEND);
    assert_string_equal(Run("echo new > /out"), "");
    assert_string_equal(FileText(), "new\n");
    assert_int_equal(FileOpens - Opens, 3);
    assert_int_equal(FileCloses - Closes, 3);
    // A long output gathers in the buffer: help's lines are written in a few writes, not one a line.
    U32 Writes = FileWrites;
    assert_int_equal(ShellExecute("help > /out"), 0);
    assert_int_equal(FileLength, strlen(Run("help")));
    assert_true(FileWrites - Writes < ShellCommandCount() / 4);
    assert_false(ShellRedirectActive());
}

static void TestRedirectErrors(void** State) {
    (void)State;
    // The file cannot be opened: the command does not run, one line says why.
    LastArgumentCount = 0;
    assert_string_equal(Run("record a > /nodir/f"), "record: cannot write '/nodir/f': not found\n");
    assert_int_equal(LastArgumentCount, 0);
    assert_int_equal(ShellExecute("record a > /nodir/f"), -1);
    // A bad redirection, no command before it, an unknown command: errors at the terminal, nothing opened.
    U32 Opens = FileOpens;
    assert_string_equal(Run("echo a > "), "echo: missing file name after '>'\n");
    assert_string_equal(Run("> /out"), "shell: missing command before '>'\n");
    assert_string_equal(Run("nothing > /out"), "Unknown command: nothing (type help for a list)\n");
    assert_int_equal(FileOpens, Opens);
    // The command's result comes through; a file that fills up is said once, after the command, and fails it.
    assert_int_equal(ShellExecute("record x y > /dev/null"), 42);
    assert_int_equal(LastArgumentCount, 3);
    FileSpace = 4;
    assert_string_equal(Run("echo 123456 > /out"), "echo: error writing '/out': no space left (the output is cut there)\n");
    assert_int_equal(ShellExecute("echo 123456 > /out"), -1);
    assert_string_equal(FileText(), "1234");
    FileSpace = sizeof(FileData) - 1;
    // Output goes back to the terminal afterwards.
    assert_string_equal(Run("echo back"), "back\n");
}

static void TestTime(void** State) {
    (void)State;
    assert_string_equal(Run("time"), "time: usage: time <command> [arguments...]\n");
    assert_string_equal(Run("time nothing"), "time: unknown command: nothing\n");
    FakeNs = 5000000000ULL;
    assert_string_equal(Run("time echo timed"), "timed\nreal 0.000000 s\n");  // the fake clock stands still
    assert_int_equal(ShellExecute("time record a b"), 42);
    assert_int_equal(LastArgumentCount, 3);
    assert_string_equal(LastArguments[0], "record");
    // The report stays at the terminal when the output goes to a file.
    FileLength = 0;
    assert_string_equal(Run("time echo into > /out"), "real 0.000000 s\n");
    assert_string_equal(FileText(), "into\n");
    assert_string_equal(Run("time echo gone > /dev/null"), "real 0.000000 s\n");
    FakeNs = 0;
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
        cmocka_unit_test(TestRedirectSplit),
        cmocka_unit_test(TestRedirectIntoAFile),
        cmocka_unit_test(TestRedirectErrors),
        cmocka_unit_test(TestTime),
        cmocka_unit_test(TestTableFull),  // last: fills the table
    };
    return cmocka_run_group_tests(Tests, SetupOnce, NULL);
}
