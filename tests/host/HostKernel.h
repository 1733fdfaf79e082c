/*
 * HostKernel.h - the host kernel: the kernel services every host test links
 * (unit tests, device-model tests, fuzz targets), so no test fakes them.
 *
 * Real kernel code where there is kernel behaviour to keep: core/Log.c (the
 * ring, the line format, rate limiting), drivers/console/Console.c,
 * core/CommandLine.c, utils/TextRing.c, RateLimit.c, Format.c, String.c,
 * built with -DCAIRN_HOST_BUILD (HOST_KERNEL_SOURCES in tests/sources.mk).
 * Host glue where the kernel talks to the machine (this folder):
 *
 *  - HostLog.c: every logged line is captured (LogHostTap, whatever the
 *    ring keeps) and counted by level; lines at or above the echo level go
 *    to stderr (default WARNING, or $CAIRN_TEST_LOG: debug, info, warning,
 *    error, quiet). The console shows what the kernel console level lets
 *    through to the devices a test registers (ConsoleRegister); none by
 *    default.
 *  - HostTime.c: GetSystemTimeNs. A test clock that moves only when told
 *    (HostTimeSet, or a step on every read), or a source the test supplies
 *    (the model tests' virtual clock).
 *  - HostHeap.c: KernelHeapAlloc and friends over malloc, so ASan checks
 *    every block; counts live bytes and can be told to fail.
 *  - HostSync.c: MUTEX (recursive, per-mutex) and EVENT over one pthread
 *    mutex and condition; counts the mutexes each thread holds.
 *  - HostDisk.h/.c: a DISK driver over memory (or a mapped image file) with
 *    request counters, fault ranges and a hook (see there).
 *
 * A broken rule (unlocking a mutex not held, a disk request outside the
 * disk) is reported by HostKernelFail: the message to stderr, then abort(),
 * which every runner counts as a failure (cmocka binary, libFuzzer crash).
 */

#ifndef TESTS_HOST_HOSTKERNEL_H_INCLUDED
#define TESTS_HOST_HOSTKERNEL_H_INCLUDED

#include "Base.h"
#include "core/Log.h"

/**
 * Between tests: forgets the captured log and moves the test clock on an
 * hour, so the rate limits of log call sites (static in the kernel) start
 * afresh.
 */
void HostKernelReset(void);

/** Prints the message and aborts the process. */
void HostKernelFail(LPCSTR Format, ...) PRINTF_LIKE(1, 2) __attribute__((noreturn));

/************************************************************************/
// Log

/** Echo level meaning "nothing to stderr" (fuzz targets). */
#define HOST_LOG_QUIET 4U

/** Lines at or above Level (a LOG_LEVEL or HOST_LOG_QUIET) are echoed to stderr. */
void HostLogSetEchoLevel(U32 Level);
void HostLogClear(void);
/** TRUE if a captured line contains Text. */
BOOL HostLogContains(LPCSTR Text);
/** Captured lines of exactly this level. */
U32 HostLogCount(LOG_LEVEL Level);
/** Captured lines at or above this level. */
U32 HostLogCountAtLeast(LOG_LEVEL Level);
/** The last captured line at or above Level ("" if none); valid until the next log call. */
LPCSTR HostLogLastLine(LOG_LEVEL Level);
/** The captured lines at or above Level, each ending in a newline; valid until the next call. */
LPCSTR HostLogText(LOG_LEVEL Level);
/** Prints the captured lines to stderr (a failing test shows what the kernel said). */
void HostLogDump(void);

/************************************************************************/
// Time (GetSystemTimeNs)

void HostTimeSet(U64 Nanoseconds);
void HostTimeAdvance(U64 Nanoseconds);
/** Every read returns the time, then moves it on by Nanoseconds (0: the clock stands still). */
void HostTimeSetStep(U64 Nanoseconds);
/** Reads come from Source instead (NULL: the test clock again). */
void HostTimeSetSource(U64 (*Source)(void));

/************************************************************************/
// Heap (KernelHeapAlloc, KernelHeapAllocZero, KernelHeapFree)

/** Allocations still allowed before every one fails; -1: never fail. Tests set it directly. */
extern I32 HostHeapFailAfter;
/** Bytes allocated and not freed. */
I64 HostHeapLiveBytes(void);

/************************************************************************/
// Sync (MutexInit, MutexLock, MutexTryLock, MutexUnlock, EventInit, EventSignal, EventReset, WaitForEvent)

/** Mutex acquisitions the calling thread holds (a recursive lock counts each time). */
U32 HostMutexDepth(void);

#endif  // TESTS_HOST_HOSTKERNEL_H_INCLUDED
