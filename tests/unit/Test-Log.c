/*
 * Test-Log.c - core/Log.c as the host kernel links it (its console captured
 * here, its clock set by the tests): the line format with its time stamp
 * and level, the console level (from the `log=` option and set directly),
 * what reaches the console versus the ring, replay, rate limiting with the
 * suppressed count on the next line, newlines inside a message, over-long
 * messages, and a console that logs from inside its own write (the inner
 * line must be dropped and counted, not deadlock).
 */
// SOURCES: core/Log.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "HostKernel.h"
#include "core/CommandLine.h"
#include "core/Log.h"
#include "drivers/console/Console.h"
#include "system/Clock.h"

static char Console[65536];
static size_t ConsoleLength;
static U64 NowNs;
static BOOL ConsoleLogsToo;

static U64 Now(void) { return NowNs; }

static void ConsoleCapture(LPCSTR Text, SIZE Length) {
    assert_true(ConsoleLength + Length < sizeof(Console));
    memcpy(Console + ConsoleLength, Text, Length);
    ConsoleLength += Length;
    Console[ConsoleLength] = 0;
    if (ConsoleLogsToo) {
        ConsoleLogsToo = FALSE;
        ERROR("[ConsoleWrite] logging from inside the console");  // must not recurse or hang
    }
}

static CONSOLE_DEVICE CaptureDevice = {.Name = "capture", .Write = ConsoleCapture};

/** The host kernel's console goes to Console, its clock is NowNs. */
__attribute__((constructor)) static void SetUpHostKernel(void) {
    ConsoleRegister(&CaptureDevice);
    HostTimeSetSource(Now);
}

static void ClearConsole(void) {
    ConsoleLength = 0;
    Console[0] = 0;
}

typedef struct {
    char Lines[2048][96];
    U32 Count;
} REPLAY;
static REPLAY Replay;

static void Collect(LPCSTR Line, LPVOID Context) {
    REPLAY* Out = Context;
    if (Out->Count < 2048) snprintf(Out->Lines[Out->Count++], 96, "%s", Line);
}

static void ReplayAll(void) {
    Replay.Count = 0;
    LogReplay(Collect, &Replay);
}

static void TestLineFormat(void** State) {
    (void)State;
    ClearConsole();
    NowNs = 1234567890ULL;
    WARNING("[Func] message %d", 42);
    assert_string_equal(Console, "[    1.234567] WARNING [Func] message 42\n");
    ClearConsole();
    NowNs = 98765ULL * 1000000000ULL + 1000;
    INFO("[Other] x");
    assert_string_equal(Console, "[98765.000001] INFO [Other] x\n");
    ClearConsole();
    ERROR("[E] multi\nline\r");  // a message stays one line
    assert_string_equal(Console, "[98765.000001] ERROR [E] multi line \n");
    ReplayAll();
    assert_string_equal(Replay.Lines[Replay.Count - 1], "[98765.000001] ERROR [E] multi line ");
}

static void TestConsoleLevel(void** State) {
    (void)State;
    NowNs = 0;
    KernelCommandLineInit("log=warning");
    LogInit();
    assert_int_equal(LogGetConsoleLevel(), LOG_LEVEL_WARNING);
    ClearConsole();
    DEBUG("[T] debug hidden");
    INFO("[T] info hidden");
    WARNING("[T] warning shown");
    ERROR("[T] error shown");
    assert_string_equal(Console, "[    0.000000] WARNING [T] warning shown\n[    0.000000] ERROR [T] error shown\n");
    // Every line is in the ring, whatever the console level.
    ReplayAll();
    assert_true(Replay.Count >= 4);
    assert_string_equal(Replay.Lines[Replay.Count - 4], "[    0.000000] DEBUG [T] debug hidden");
    assert_string_equal(Replay.Lines[Replay.Count - 3], "[    0.000000] INFO [T] info hidden");

    KernelCommandLineInit("log=Debug");
    LogInit();
    assert_int_equal(LogGetConsoleLevel(), LOG_LEVEL_DEBUG);
    ClearConsole();
    KernelCommandLineInit("log=loud");
    LogInit();  // unknown: warns and keeps the level
    assert_int_equal(LogGetConsoleLevel(), LOG_LEVEL_DEBUG);
    assert_non_null(strstr(Console, "WARNING [LogInit] unknown log level \"loud\""));
    KernelCommandLineInit("");
    LogInit();
    assert_int_equal(LogGetConsoleLevel(), LOG_LEVEL_DEBUG);

    LogSetConsoleLevel((LOG_LEVEL)9);  // out of range: clamped
    assert_int_equal(LogGetConsoleLevel(), LOG_LEVEL_ERROR);
    LogSetConsoleLevel(LOG_LEVEL_INFO);
}

static void TestLevelNamesAndParsing(void** State) {
    (void)State;
    LOG_LEVEL Level;
    assert_string_equal(LogLevelName(LOG_LEVEL_DEBUG), "DEBUG");
    assert_string_equal(LogLevelName(LOG_LEVEL_ERROR), "ERROR");
    assert_string_equal(LogLevelName((LOG_LEVEL)7), "?");
    assert_true(LogParseLevel("warn", &Level));
    assert_int_equal(Level, LOG_LEVEL_WARNING);
    assert_true(LogParseLevel("INFO", &Level));
    assert_int_equal(Level, LOG_LEVEL_INFO);
    assert_false(LogParseLevel("", &Level));
    assert_false(LogParseLevel(NULL, &Level));
    assert_false(LogParseLevel("infos", &Level));
}

static void TestRateLimited(void** State) {
    (void)State;
    LogSetConsoleLevel(LOG_LEVEL_INFO);
    ClearConsole();
    NowNs = 5000000000ULL;
    for (int I = 0; I < 10; I++) LOG_RATE_LIMITED(LOG_LEVEL_WARNING, 1000, 3, "[Flood] event %d", I);
    assert_non_null(strstr(Console, "event 2"));
    assert_null(strstr(Console, "event 3"));
    ClearConsole();
    NowNs += 2000000000ULL;  // the window has passed
    for (int I = 10; I < 12; I++) LOG_RATE_LIMITED(LOG_LEVEL_WARNING, 1000, 3, "[Flood] event %d", I);
    // Two different call sites: this loop's limiter is fresh, so no count.
    assert_null(strstr(Console, "suppressed"));

    RATE_LIMITER Limiter = RATE_LIMITER_INIT(1000, 2);
    ClearConsole();
    assert_true(KernelLogLimited(&Limiter, LOG_LEVEL_INFO, "[L] %d", 1));
    assert_true(KernelLogLimited(&Limiter, LOG_LEVEL_INFO, "[L] %d", 2));
    for (int I = 0; I < 5; I++) assert_false(KernelLogLimited(&Limiter, LOG_LEVEL_INFO, "[L] dropped"));
    NowNs += 1000000000ULL;
    assert_true(KernelLogLimited(&Limiter, LOG_LEVEL_INFO, "[L] %d", 3));
    assert_null(strstr(Console, "dropped"));
    assert_non_null(strstr(Console, "INFO [L] 3 (5 similar lines suppressed)\n"));
}

static void TestLongMessage(void** State) {
    (void)State;
    char Long[1200];
    memset(Long, 'm', sizeof(Long) - 1);
    Long[sizeof(Long) - 1] = 0;
    ClearConsole();
    INFO("[Long] %s", Long);
    // Truncated to the line buffer, still one line ending in a newline.
    assert_true(ConsoleLength < 520);
    assert_int_equal(Console[ConsoleLength - 1], '\n');
    assert_ptr_equal(strchr(Console, '\n'), Console + ConsoleLength - 1);
}

static void TestRecursiveLogIsDropped(void** State) {
    (void)State;
    ClearConsole();
    NowNs = 8000000000000ULL;
    ConsoleLogsToo = TRUE;
    INFO("[Outer] line");
    assert_string_equal(Console + 15, "INFO [Outer] line\n");  // only the outer line reached the console
    // The next line that gets through reports the lost one in the ring.
    INFO("[After] line");
    ReplayAll();
    assert_string_equal(Replay.Lines[Replay.Count - 3], "[ 8000.000000] INFO [Outer] line");
    assert_non_null(strstr(Replay.Lines[Replay.Count - 2], "1 log lines lost"));
    assert_string_equal(Replay.Lines[Replay.Count - 1], "[ 8000.000000] INFO [After] line");
}

static void TestReplayWrapsAround(void** State) {
    (void)State;
    // Far more than the 64 KiB ring holds: replay gives the newest lines, oldest first, consecutive.
    LogSetConsoleLevel(LOG_LEVEL_ERROR);
    for (int I = 0; I < 3000; I++) INFO("[Wrap] line %05d", I);
    LogSetConsoleLevel(LOG_LEVEL_INFO);
    ReplayAll();
    assert_true(Replay.Count > 500 && Replay.Count < 2048);
    assert_non_null(strstr(Replay.Lines[Replay.Count - 1], "line 02999"));
    int Previous = -1;
    for (U32 I = 0; I < Replay.Count; I++) {
        const char* Number = strstr(Replay.Lines[I], "line ");
        assert_non_null(Number);
        int Value = atoi(Number + 5);
        if (Previous >= 0) assert_int_equal(Value, Previous + 1);
        Previous = Value;
    }
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestLineFormat),   cmocka_unit_test(TestConsoleLevel),
        cmocka_unit_test(TestLevelNamesAndParsing), cmocka_unit_test(TestRateLimited),
        cmocka_unit_test(TestLongMessage),  cmocka_unit_test(TestRecursiveLogIsDropped),
        cmocka_unit_test(TestReplayWrapsAround),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
