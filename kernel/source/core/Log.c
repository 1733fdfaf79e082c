/*
 * Log.c - the kernel log (see Log.h).
 *
 * Every line is formatted once, as the consoles show it:
 *     [    1.234567] WARNING [Function] message
 * then kept in a 64 KiB ring of lines (TextRing) and, when its level is at
 * or above the console level, written to every console.
 *
 * Locking: LogLock (a spinlock, so interrupts are off while it is held)
 * covers the ring and the console write, so lines from interrupt handlers
 * and from the shell never interleave. A log call made while the lock is
 * held - a console driver logging from inside its write, a fault in the
 * middle of a line - must not wait for itself: KernelLog only tries the lock
 * for a bounded time and otherwise drops the line and counts it; the count
 * is reported with the next line that gets through. The log can be used
 * before LogInit (the ring is statically set up; the console level is the
 * default until LogInit reads the `log=` option).
 *
 * Host builds (the tests' host kernel, tests/host) link this file as is;
 * there every line the ring receives is also handed to LogHostTap, so tests
 * can count and search all lines however far the ring has wrapped.
 */

#include "core/Log.h"

#include "core/CommandLine.h"
#include "drivers/console/Console.h"
#include "system/Clock.h"
#include "utils/Format.h"
#include "utils/String.h"
#include "utils/TextRing.h"

#include "core/Spinlock.h"

#ifdef CAIRN_HOST_BUILD
#define LOG_HOST_TAP(Level, Line) LogHostTap((Level), (Line))
#else
#define LOG_HOST_TAP(Level, Line)
#endif

#define LOG_RING_SIZE (64 * 1024)
#define LOG_LINE_SIZE 512
#define LOG_LOCK_TRIES 1000000

static char LogBuffer[LOG_RING_SIZE];
static TEXT_RING LogRing = {LogBuffer, LOG_RING_SIZE, 0, 0, 0, 0};
static SPINLOCK LogLock = SPINLOCK_INIT;
static SPINLOCK LogLimiterLock = SPINLOCK_INIT;
static volatile LOG_LEVEL LogConsoleLevel = LOG_LEVEL_INFO;
static U64 LogLostLines;  // dropped because the lock could not be taken

static const char* const LogLevelNames[] = {"DEBUG", "INFO", "WARNING", "ERROR"};

LPCSTR LogLevelName(LOG_LEVEL Level) {
    if ((U32)Level >= ARRAY_COUNT(LogLevelNames)) return "?";
    return LogLevelNames[Level];
}

void LogSetConsoleLevel(LOG_LEVEL Level) {
    if ((U32)Level > LOG_LEVEL_ERROR) Level = LOG_LEVEL_ERROR;
    LogConsoleLevel = Level;
}

LOG_LEVEL LogGetConsoleLevel(void) { return LogConsoleLevel; }

/** Parses a level name (debug, info, warning or warn, error); FALSE if unknown. */
BOOL LogParseLevel(LPCSTR Text, LOG_LEVEL* Level) {
    if (Text == NULL) return FALSE;
    for (U32 Index = 0; Index < ARRAY_COUNT(LogLevelNames); Index++) {
        if (StringCompareNoCase(Text, LogLevelNames[Index]) == 0) {
            *Level = (LOG_LEVEL)Index;
            return TRUE;
        }
    }
    if (StringCompareNoCase(Text, "warn") == 0) {
        *Level = LOG_LEVEL_WARNING;
        return TRUE;
    }
    return FALSE;
}

void LogInit(void) {
    LPCSTR Option = KernelGetOption("log");
    LOG_LEVEL Level;
    if (Option == NULL) return;
    if (LogParseLevel(Option, &Level)) {
        LogSetConsoleLevel(Level);
    } else {
        WARNING("[LogInit] unknown log level \"%s\" (use debug, info, warning, error); keeping %s", Option,
                LogLevelName(LogConsoleLevel));
    }
}

/** Formats the prefix, the message and an optional suffix into Line; returns the length (without newline). */
static SIZE LogFormatLine(LPSTR Line, SIZE Size, LOG_LEVEL Level, LPCSTR Format, VA_LIST Arguments,
                          U64 Suppressed) {
    U64 Ns = GetSystemTimeNs();
    SIZE Length = StringPrintFormat(Line, Size, "[%5llu.%06llu] %s ", Ns / 1000000000ULL, (Ns / 1000ULL) % 1000000ULL,
                                    LogLevelName(Level));
    if (Length < Size) Length += StringPrintFormatV(Line + Length, Size - Length, Format, Arguments);
    if (Suppressed != 0 && Length < Size) {
        Length += StringPrintFormat(Line + Length, Size - Length, " (%llu similar lines suppressed)", Suppressed);
    }
    if (Length >= Size - 1) Length = Size - 2;  // keep room for the newline
    // A message must stay one line: a stray newline inside it would break the ring's line structure.
    for (SIZE I = 0; I < Length; I++) {
        if (Line[I] == '\n' || Line[I] == '\r') Line[I] = ' ';
    }
    Line[Length] = 0;
    return Length;
}

static void LogEmit(LOG_LEVEL Level, LPCSTR Format, VA_LIST Arguments, U64 Suppressed) {
    char Line[LOG_LINE_SIZE];
    U64 Flags = 0;
    BOOL Locked = FALSE;

    if ((U32)Level > LOG_LEVEL_ERROR) Level = LOG_LEVEL_ERROR;
    SIZE Length = LogFormatLine(Line, sizeof(Line), Level, Format, Arguments, Suppressed);

    for (U32 Try = 0; Try < LOG_LOCK_TRIES && !Locked; Try++) {
        Locked = SpinlockTryAcquire(&LogLock, &Flags);
        if (!Locked) SpinlockPause();
    }
    if (!Locked) {
        __atomic_add_fetch(&LogLostLines, 1, __ATOMIC_RELAXED);
        return;
    }

    U64 Lost = __atomic_exchange_n(&LogLostLines, 0, __ATOMIC_RELAXED);
    if (Lost != 0) {
        char Note[128];
        U64 Ns = GetSystemTimeNs();
        StringPrintFormat(Note, sizeof(Note), "[%5llu.%06llu] WARNING [LogEmit] %llu log lines lost (log busy or called "
                          "recursively)", Ns / 1000000000ULL, (Ns / 1000ULL) % 1000000ULL, Lost);
        TextRingAppend(&LogRing, Note);
        LOG_HOST_TAP(LOG_LEVEL_WARNING, Note);
    }
    TextRingAppend(&LogRing, Line);
    LOG_HOST_TAP(Level, Line);
    if (Level >= LogConsoleLevel) {
        Line[Length] = '\n';
        ConsoleWrite(Line, Length + 1);
    }
    SpinlockRelease(&LogLock, Flags);
}

void KernelLogV(LOG_LEVEL Level, LPCSTR Format, VA_LIST Arguments) { LogEmit(Level, Format, Arguments, 0); }

void KernelLog(LOG_LEVEL Level, LPCSTR Format, ...) {
    VA_LIST Arguments;
    VA_START(Arguments, Format);
    LogEmit(Level, Format, Arguments, 0);
    VA_END(Arguments);
}

BOOL KernelLogLimited(RATE_LIMITER* Limiter, LOG_LEVEL Level, LPCSTR Format, ...) {
    U64 Suppressed = 0;
    U64 Flags = SpinlockAcquire(&LogLimiterLock);
    BOOL Allowed = RateLimiterAllow(Limiter, GetSystemTimeNs() / 1000000ULL, &Suppressed);
    SpinlockRelease(&LogLimiterLock, Flags);
    if (!Allowed) return FALSE;

    VA_LIST Arguments;
    VA_START(Arguments, Format);
    LogEmit(Level, Format, Arguments, Suppressed);
    VA_END(Arguments);
    return TRUE;
}

void LogReplay(void (*Visitor)(LPCSTR Line, LPVOID Context), LPVOID Context) {
    char Line[LOG_LINE_SIZE];
    TEXT_RING_CURSOR Cursor;
    if (Visitor == NULL) return;

    // One line at a time, the lock released while the visitor runs (it usually prints). Lines logged
    // after the replay started are not shown, so a visitor that logs cannot keep it going forever.
    TextRingCursorInit(&Cursor);
    U64 Flags = SpinlockAcquire(&LogLock);
    U64 End = LogRing.Dropped + LogRing.Lines;
    SpinlockRelease(&LogLock, Flags);
    for (;;) {
        U64 Skipped = 0;
        Flags = SpinlockAcquire(&LogLock);
        BOOL More = FALSE;
        U64 Next = Cursor.Started ? MAX(Cursor.Sequence, LogRing.Dropped) : LogRing.Dropped;
        if (Next < End) More = TextRingRead(&LogRing, &Cursor, Line, sizeof(Line), &Skipped);
        SpinlockRelease(&LogLock, Flags);
        if (Skipped != 0) {
            char Note[64];
            StringPrintFormat(Note, sizeof(Note), "... %llu lines dropped while replaying", Skipped);
            Visitor(Note, Context);
        }
        if (!More) break;
        Visitor(Line, Context);
    }
}
