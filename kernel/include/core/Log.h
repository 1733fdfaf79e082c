/*
 * Log.h - the kernel log.
 *
 * One log for the whole kernel: every line goes into a ring buffer (the
 * `log` command replays it) and, at or above the console level, to every
 * console. Lines carry a level and the time since boot. Messages start with
 * the function name in brackets (EXOS convention): use the macros.
 *
 * Rate limiting: LOG_RATE_LIMITED lets a call site print at most a burst of
 * lines per interval and then counts what it dropped, reporting the count
 * with the next line it lets through, so a misbehaving device cannot flood.
 */

#ifndef CORE_LOG_H_INCLUDED
#define CORE_LOG_H_INCLUDED

#include "Base.h"
#include "utils/RateLimit.h"

typedef enum {
    LOG_LEVEL_DEBUG = 0,
    LOG_LEVEL_INFO = 1,
    LOG_LEVEL_WARNING = 2,
    LOG_LEVEL_ERROR = 3,
} LOG_LEVEL;

void LogInit(void);
void KernelLog(LOG_LEVEL Level, LPCSTR Format, ...) PRINTF_LIKE(2, 3);
void KernelLogV(LOG_LEVEL Level, LPCSTR Format, VA_LIST Arguments);
/** Logs through Limiter; returns FALSE if the line was dropped. */
BOOL KernelLogLimited(RATE_LIMITER* Limiter, LOG_LEVEL Level, LPCSTR Format, ...) PRINTF_LIKE(3, 4);
void LogSetConsoleLevel(LOG_LEVEL Level);
LOG_LEVEL LogGetConsoleLevel(void);
LPCSTR LogLevelName(LOG_LEVEL Level);
/** Parses "debug", "info", "warning" (or "warn"), "error", any case; FALSE if unknown. */
BOOL LogParseLevel(LPCSTR Text, LOG_LEVEL* Level);
/** Calls Visitor for each line still in the ring, oldest first. */
void LogReplay(void (*Visitor)(LPCSTR Line, LPVOID Context), LPVOID Context);

#ifdef CAIRN_HOST_BUILD
/** Host builds: called (under the log lock) with every line the ring receives; tests/host/HostLog.c defines it. */
void LogHostTap(LOG_LEVEL Level, LPCSTR Line);
#endif

#define DEBUG(...) KernelLog(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define INFO(...) KernelLog(LOG_LEVEL_INFO, __VA_ARGS__)
#define WARNING(...) KernelLog(LOG_LEVEL_WARNING, __VA_ARGS__)
#define ERROR(...) KernelLog(LOG_LEVEL_ERROR, __VA_ARGS__)

/** At most Burst lines per IntervalMs from this call site. */
#define LOG_RATE_LIMITED(Level, IntervalMs, Burst, ...)                                 \
    do {                                                                                \
        static RATE_LIMITER LogLimiter__ = RATE_LIMITER_INIT((IntervalMs), (Burst));     \
        KernelLogLimited(&LogLimiter__, (Level), __VA_ARGS__);                          \
    } while (0)

#endif  // CORE_LOG_H_INCLUDED
