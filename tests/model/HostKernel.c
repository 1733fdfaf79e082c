/*
 * HostKernel.c - host versions of the kernel log and of the PCI core's
 * lists and driver binding (see HostKernel.h). The pure PCI code
 * (PCI-Config.c, PCI-Enumerate.c, PCI-MSI.c, PCI-Names.c) is linked as is.
 */

#define _GNU_SOURCE
#include "HostKernel.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "HostPlatform.h"
#include "bus/pci/PCI-MSI.h"
#include "utils/Format.h"
#include "utils/RateLimit.h"

#define CAPTURE_SIZE (1024 * 1024)
#define LINE_SIZE 512

/************************************************************************/
// Log

static pthread_mutex_t LogLock = PTHREAD_MUTEX_INITIALIZER;
static char* Capture;          // NUL-separated lines
static U32 CaptureUsed;
static U32 LevelCounts[4];
static LOG_LEVEL ConsoleLevel = LOG_LEVEL_INFO;
static I32 EchoLevel = -1;     // -1: not decided yet

static void DecideEchoLevel(void) {
    if (EchoLevel >= 0) return;
    LOG_LEVEL Level = LOG_LEVEL_WARNING;
    LPCSTR Text = getenv("CAIRN_MODEL_LOG");
    if (Text) LogParseLevel(Text, &Level);
    EchoLevel = (I32)Level;
}

LPCSTR LogLevelName(LOG_LEVEL Level) {
    switch (Level) {
        case LOG_LEVEL_DEBUG:
            return "DEBUG";
        case LOG_LEVEL_INFO:
            return "INFO";
        case LOG_LEVEL_WARNING:
            return "WARNING";
        case LOG_LEVEL_ERROR:
            return "ERROR";
        default:
            return "?";
    }
}

BOOL LogParseLevel(LPCSTR Text, LOG_LEVEL* Level) {
    if (Text == NULL) return FALSE;
    if (strcasecmp(Text, "debug") == 0) *Level = LOG_LEVEL_DEBUG;
    else if (strcasecmp(Text, "info") == 0) *Level = LOG_LEVEL_INFO;
    else if (strcasecmp(Text, "warning") == 0 || strcasecmp(Text, "warn") == 0) *Level = LOG_LEVEL_WARNING;
    else if (strcasecmp(Text, "error") == 0) *Level = LOG_LEVEL_ERROR;
    else return FALSE;
    return TRUE;
}

void LogInit(void) {}
void LogSetConsoleLevel(LOG_LEVEL Level) { ConsoleLevel = Level; }
LOG_LEVEL LogGetConsoleLevel(void) { return ConsoleLevel; }

static void Emit(LOG_LEVEL Level, LPCSTR Text) {
    U64 Now = HostClockNowNs();
    char Line[LINE_SIZE];
    StringPrintFormat(Line, sizeof(Line), "[%5llu.%06llu] %s %s", Now / 1000000000ULL, (Now / 1000ULL) % 1000000ULL,
                      LogLevelName(Level), Text);
    pthread_mutex_lock(&LogLock);
    DecideEchoLevel();
    if (Capture == NULL) Capture = (char*)calloc(1, CAPTURE_SIZE);
    U32 Length = (U32)strlen(Line) + 1;
    if (Capture && CaptureUsed + Length <= CAPTURE_SIZE) {
        memcpy(Capture + CaptureUsed, Line, Length);
        CaptureUsed += Length;
    }
    if ((U32)Level < 4) LevelCounts[Level]++;
    if ((I32)Level >= EchoLevel) fprintf(stderr, "%s\n", Line);
    pthread_mutex_unlock(&LogLock);
}

void KernelLogV(LOG_LEVEL Level, LPCSTR Format, VA_LIST Arguments) {
    char Text[LINE_SIZE];
    StringPrintFormatV(Text, sizeof(Text), Format, Arguments);
    Emit(Level, Text);
}

void KernelLog(LOG_LEVEL Level, LPCSTR Format, ...) {
    VA_LIST Arguments;
    VA_START(Arguments, Format);
    KernelLogV(Level, Format, Arguments);
    VA_END(Arguments);
}

BOOL KernelLogLimited(RATE_LIMITER* Limiter, LOG_LEVEL Level, LPCSTR Format, ...) {
    U64 Suppressed = 0;
    pthread_mutex_lock(&LogLock);
    BOOL Allowed = RateLimiterAllow(Limiter, HostClockNowNs() / 1000000ULL, &Suppressed);
    pthread_mutex_unlock(&LogLock);
    if (!Allowed) return FALSE;
    char Text[LINE_SIZE];
    VA_LIST Arguments;
    VA_START(Arguments, Format);
    SIZE Length = StringPrintFormatV(Text, sizeof(Text), Format, Arguments);
    VA_END(Arguments);
    if (Suppressed && Length < sizeof(Text)) {
        StringPrintFormat(Text + Length, sizeof(Text) - Length, " (%llu similar lines suppressed)", Suppressed);
    }
    Emit(Level, Text);
    return TRUE;
}

void LogReplay(void (*Visitor)(LPCSTR Line, LPVOID Context), LPVOID Context) {
    pthread_mutex_lock(&LogLock);
    for (U32 Offset = 0; Capture && Offset < CaptureUsed; Offset += (U32)strlen(Capture + Offset) + 1) {
        Visitor(Capture + Offset, Context);
    }
    pthread_mutex_unlock(&LogLock);
}

void HostLogSetEchoLevel(LOG_LEVEL Level) {
    pthread_mutex_lock(&LogLock);
    EchoLevel = (I32)Level;
    pthread_mutex_unlock(&LogLock);
}

void HostLogClear(void) {
    pthread_mutex_lock(&LogLock);
    CaptureUsed = 0;
    memset(LevelCounts, 0, sizeof(LevelCounts));
    pthread_mutex_unlock(&LogLock);
}

BOOL HostLogContains(LPCSTR Text) {
    BOOL Found = FALSE;
    pthread_mutex_lock(&LogLock);
    for (U32 Offset = 0; Capture && Offset < CaptureUsed && !Found; Offset += (U32)strlen(Capture + Offset) + 1) {
        Found = strstr(Capture + Offset, Text) != NULL;
    }
    pthread_mutex_unlock(&LogLock);
    return Found;
}

U32 HostLogCount(LOG_LEVEL Level) {
    pthread_mutex_lock(&LogLock);
    U32 Count = (U32)Level < 4 ? LevelCounts[Level] : 0;
    pthread_mutex_unlock(&LogLock);
    return Count;
}

static void DumpLine(LPCSTR Line, LPVOID Context) {
    UNUSED(Context);
    fprintf(stderr, "  | %s\n", Line);
}

void HostLogDump(void) { LogReplay(DumpLine, NULL); }

/************************************************************************/
// PCI segments (the lists and driver binding are the kernel's PCI-Registry.c)

static PCI_DEVICE* AllocateDevice(LPVOID Context) {
    UNUSED(Context);
    return (PCI_DEVICE*)calloc(1, sizeof(PCI_DEVICE));
}

void PCIInit(void) {}

U32 PCIAddSegment(PCI_SEGMENT* Segment) {
    PCI_ENUMERATOR Enumerator;
    memset(&Enumerator, 0, sizeof(Enumerator));
    Enumerator.Allocate = AllocateDevice;
    Enumerator.SizeBars = TRUE;

    PCIRegistryAddSegment(Segment);
    U32 Found = PCIEnumerateSegment(&Enumerator, Segment);

    PCIRegistryAddDevices(Enumerator.First);
    INFO("[PCIAddSegment] segment %04x buses %02x-%02x via %s: %u functions", Segment->Segment, Segment->StartBus,
         Segment->EndBus, Segment->AccessName ? Segment->AccessName : "?", Found);
    return Found;
}

BOOL PCIMSIXMap(PCI_DEVICE* Device, PCI_MSIX_INFO* Info) {
    const PCI_BAR* TableBar = &Device->Bars[Info->TableBar];
    const PCI_BAR* PbaBar = &Device->Bars[Info->PbaBar];
    U64 TableBytes = (U64)Info->TableSize * PCI_MSIX_ENTRY_SIZE;
    U64 PbaBytes = ALIGN_UP(((U64)Info->TableSize + 63) / 64 * 8, 8ULL);
    if (TableBar->Base == 0 || PbaBar->Base == 0) return FALSE;
    if (PbaBar->Type != PCI_BAR_MEMORY32 && PbaBar->Type != PCI_BAR_MEMORY64) return FALSE;
    PCIEnableMemorySpace(Device);
    // The kernel maps the BAR range uncached; here the device model lends its table memory.
    Info->Table = (LINEAR)HostMmioDirect(TableBar->Base + Info->TableOffset, TableBytes);
    Info->Pba = (LINEAR)HostMmioDirect(PbaBar->Base + Info->PbaOffset, PbaBytes);
    return Info->Table != 0 && Info->Pba != 0;
}

void HostKernelReset(void) {
    for (PCI_DEVICE* Device = PCIRegistryReset(); Device;) {
        PCI_DEVICE* Next = Device->Next;
        free(Device);
        Device = Next;
    }
    HostLogClear();
}
