/*
 * HostLog.c - the host kernel's view of core/Log.c (see HostKernel.h).
 *
 * Log.c itself formats, rings and rate-limits; it hands every line to
 * LogHostTap, which keeps it in a capture buffer (1 MiB of entries: a level
 * byte, the line, a NUL; lines past that are counted but not kept), counts
 * it by level and echoes
 * it to stderr at or above the echo level. The echo level is decided on the
 * first line: $CAIRN_TEST_LOG, else WARNING.
 *
 * Locking: LogHostTap runs under Log.c's lock, but the readers here run
 * outside it, so the capture has its own pthread mutex.
 */

#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "HostKernel.h"

#define CAPTURE_SIZE (1024 * 1024)
#define LEVELS 4

static pthread_mutex_t CaptureLock = PTHREAD_MUTEX_INITIALIZER;
static char* Capture;  // entries: level + 1 (one byte), the line, NUL
static U32 CaptureUsed;
static U32 LevelCounts[LEVELS];
static I32 EchoLevel = -1;  // -1: not decided yet
static char* Scratch;       // what HostLogLastLine and HostLogText return
static SIZE ScratchSize;

static void DecideEchoLevel(void) {
    if (EchoLevel >= 0) return;
    LOG_LEVEL Level = LOG_LEVEL_WARNING;
    LPCSTR Text = getenv("CAIRN_TEST_LOG");
    if (Text && strcmp(Text, "quiet") == 0) {
        EchoLevel = HOST_LOG_QUIET;
        return;
    }
    if (Text) LogParseLevel(Text, &Level);
    EchoLevel = (I32)Level;
}

/** The entry after the one at Offset. */
static U32 NextEntry(U32 Offset) { return Offset + 1 + (U32)strlen(Capture + Offset + 1) + 1; }

static U32 EntryLevel(U32 Offset) { return (U32)(U8)Capture[Offset] - 1; }

static LPCSTR EntryLine(U32 Offset) { return Capture + Offset + 1; }

void LogHostTap(LOG_LEVEL Level, LPCSTR Line) {
    pthread_mutex_lock(&CaptureLock);
    DecideEchoLevel();
    if (Capture == NULL) Capture = (char*)calloc(1, CAPTURE_SIZE);
    U32 Length = (U32)strlen(Line) + 1;
    if (Capture && CaptureUsed + 1 + Length <= CAPTURE_SIZE) {
        Capture[CaptureUsed] = (char)(MIN((U32)Level, LEVELS - 1) + 1);
        memcpy(Capture + CaptureUsed + 1, Line, Length);
        CaptureUsed += 1 + Length;
    }
    if ((U32)Level < LEVELS) LevelCounts[Level]++;
    BOOL Echo = (I32)Level >= EchoLevel;
    pthread_mutex_unlock(&CaptureLock);
    if (Echo) fprintf(stderr, "%s\n", Line);
}

void HostLogSetEchoLevel(U32 Level) {
    pthread_mutex_lock(&CaptureLock);
    EchoLevel = (I32)MIN(Level, HOST_LOG_QUIET);
    pthread_mutex_unlock(&CaptureLock);
}

void HostLogClear(void) {
    pthread_mutex_lock(&CaptureLock);
    CaptureUsed = 0;
    memset(LevelCounts, 0, sizeof(LevelCounts));
    pthread_mutex_unlock(&CaptureLock);
}

BOOL HostLogContains(LPCSTR Text) {
    BOOL Found = FALSE;
    pthread_mutex_lock(&CaptureLock);
    for (U32 Offset = 0; Offset < CaptureUsed && !Found; Offset = NextEntry(Offset)) {
        Found = strstr(EntryLine(Offset), Text) != NULL;
    }
    pthread_mutex_unlock(&CaptureLock);
    return Found;
}

U32 HostLogCount(LOG_LEVEL Level) {
    pthread_mutex_lock(&CaptureLock);
    U32 Count = (U32)Level < LEVELS ? LevelCounts[Level] : 0;
    pthread_mutex_unlock(&CaptureLock);
    return Count;
}

U32 HostLogCountAtLeast(LOG_LEVEL Level) {
    U32 Count = 0;
    for (U32 Each = Level; Each < LEVELS; Each++) Count += HostLogCount((LOG_LEVEL)Each);
    return Count;
}

/** Copies the captured lines at or above Level (all of them, or only the last) into Scratch. */
static LPCSTR Collect(LOG_LEVEL Level, BOOL LastOnly) {
    pthread_mutex_lock(&CaptureLock);
    if (ScratchSize < (SIZE)CaptureUsed + 1) {
        free(Scratch);
        ScratchSize = (SIZE)CaptureUsed + 1;
        Scratch = (char*)malloc(ScratchSize);
    }
    SIZE Used = 0;
    for (U32 Offset = 0; Offset < CaptureUsed; Offset = NextEntry(Offset)) {
        LPCSTR Line = EntryLine(Offset);
        if (EntryLevel(Offset) < (U32)Level) continue;
        if (LastOnly) Used = 0;
        SIZE Length = strlen(Line);
        memcpy(Scratch + Used, Line, Length);
        Used += Length;
        if (!LastOnly) Scratch[Used++] = '\n';
    }
    Scratch[Used] = 0;
    pthread_mutex_unlock(&CaptureLock);
    return Scratch;
}

LPCSTR HostLogLastLine(LOG_LEVEL Level) { return Collect(Level, TRUE); }

LPCSTR HostLogText(LOG_LEVEL Level) { return Collect(Level, FALSE); }

void HostLogDump(void) {
    pthread_mutex_lock(&CaptureLock);
    for (U32 Offset = 0; Offset < CaptureUsed; Offset = NextEntry(Offset)) fprintf(stderr, "  | %s\n", EntryLine(Offset));
    pthread_mutex_unlock(&CaptureLock);
}
