/*
 * Bench-Driver.c - how many instructions the NVMe driver spends on one 4 KiB
 * read, submission and completion, counted by callgrind (`make bench-model`).
 *
 * The real driver (kernel/source/storage/nvme/NVMe-*.c, -O2 like the
 * kernel, no sanitizers) runs on the controller model (inline processing,
 * MSI-X, one I/O queue of 1024 entries). The run reads Count 4 KiB blocks
 * with NVMeSubmitIO and a callback, in bursts of 32 in flight. Callgrind
 * collects only inside the driver's three entry points (--toggle-collect):
 * NVMeSubmitIO (the submission, doorbell included), NVMeQueueInterrupt (the
 * top half) and NVMeQueueBottomHalf (reaping, the callback, freeing).
 *
 *   Bench-Driver [Count] [bs=N] [sgl=auto|on|off] [burst=N]
 *                                        the workload (run under callgrind)
 *   Bench-Driver --report FILE [Count] [bs=N] [sgl=...]
 *                                        reads callgrind's output (through
 *                                        callgrind_annotate --inclusive=yes)
 *                                        and prints the figure per read
 *
 * bs (default 4096, a multiple of 4 KiB up to 512 KiB) and sgl (default: the
 * driver's auto) compare PRPs with SGLs at other sizes
 * (documentation/NVMe.md, "Vectored requests and hardware SGLs"):
 *   make bench-model MODEL_BENCH_ARGS="bs=131072 sgl=on"
 *
 * The report gives the figure with the interrupts the run took (calls of
 * NVMeQueueInterrupt per 10000 reads): how many completions one interrupt
 * finds is callgrind's thread scheduling, not the driver's, and the figure
 * is a per-read part plus a per-interrupt part. burst=N (default 32, for
 * measurement only) sets how many reads are in flight at once, and so the
 * batching: burst=1 takes one interrupt per read, burst=3 about the 3500
 * per 10000 reads the "before" runs took.
 *
 * The report splits the collected instructions: the model (everything under
 * its MMIO write handler: an inline doorbell write processes the command
 * there), the host platform (Platform* functions less the model under them:
 * locks are pthread mutexes here, translation a hash lookup, so this part
 * says little about the kernel), and the driver's own code, the figure
 * quoted in documentation/NVMe.md.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "HostKernel.h"
#include "HostPCI.h"
#include "HostPlatform.h"
#include "NVMeModel.h"
#include "storage/nvme/NVMe.h"

static U32 Burst = 32;  // reads in flight at once; burst=N (measurement only) changes it
static U32 Completed, Failed;
static PLATFORM_EVENT* BurstDone;
static U32 BurstTarget;
static U32 BlockBytes = 4096;
static U32 SglMode = NVME_SGL_AUTO;

static void ReadDone(KSTATUS Status, U16 NvmeStatus, LPVOID Context) {
    (void)NvmeStatus;
    (void)Context;
    if (Status != KSTATUS_SUCCESS) __atomic_add_fetch(&Failed, 1, __ATOMIC_RELAXED);
    if (__atomic_add_fetch(&Completed, 1, __ATOMIC_ACQ_REL) == __atomic_load_n(&BurstTarget, __ATOMIC_ACQUIRE)) {
        PlatformEventSignal(BurstDone);
    }
}

static int Workload(U32 Count) {
    HostPlatformInit();
    HostPlatformReset();
    HostKernelReset();
    HostPCIReset();
    NVMeRegisterDriver();
    NVME_MODEL_CONFIG Config;
    NVMeModelDefaultConfig(&Config);
    NVME_MODEL* Model = NVMeModelCreate(&Config);
    if (Model == NULL || NVMeModelAttachPCI(Model) == NULL) return 1;
    PCIBindDrivers();
    NVMeWaitBringUp(60000);  // the controller comes up on its own thread
    NVME_NAMESPACE* Ns = NVMeGetNamespace(0, 1);
    if (Ns == NULL) {
        HostLogDump();
        return 1;
    }
    if (NVMeSetSglMode(0, SglMode) != KSTATUS_SUCCESS) {
        fprintf(stderr, "bench: sgl=%s refused\n", NVMeSglModeName(SglMode));
        return 1;
    }
    BurstDone = PlatformEventCreate(FALSE);
    U32 Blocks = BlockBytes / 512;
    U8* Buffer = (U8*)aligned_alloc(4096, (SIZE)BlockBytes * Burst);
    memset(Buffer, 0, (SIZE)BlockBytes * Burst);
    U32 Submitted = 0;
    while (Submitted < Count) {
        U32 InFlight = Count - Submitted < Burst ? Count - Submitted : Burst;
        __atomic_store_n(&BurstTarget, Submitted + InFlight, __ATOMIC_RELEASE);
        for (U32 I = 0; I < InFlight; I++) {
            U64 Lba = ((U64)(Submitted + I) * Blocks) % (262144 - Blocks);
            if (NVMeSubmitIO(Ns, NVME_IO_READ, Lba, Blocks, Buffer + (SIZE)BlockBytes * I, ReadDone, NULL) !=
                KSTATUS_SUCCESS) {
                fprintf(stderr, "bench: submission failed\n");
                return 1;
            }
        }
        Submitted += InFlight;
        while (__atomic_load_n(&Completed, __ATOMIC_ACQUIRE) < Submitted) PlatformEventWait(BurstDone, 1000);
    }
    static NVME_CONTROLLER_INFO Info;
    NVMeGetController(0, &Info);
    printf("bench: %u reads of %u bytes, %u failed, %llu interrupts, sgl=%s: %llu SGL and %llu PRP commands\n",
           Completed, BlockBytes, Failed, (unsigned long long)Info.Queues[1].Interrupts, NVMeSglModeName(SglMode),
           (unsigned long long)Info.SglCommands, (unsigned long long)Info.PrpCommands);
    HostPlatformRunShutdownHooks(FALSE);
    HostPlatformWaitIdle(5000);
    NVMeModelDestroy(Model);
    return Failed != 0;
}

/**
 * Calls of NVMeQueueInterrupt in callgrind's output: the sum of the calls= lines under each call arc to it
 * (callgrind names a function in full once, "cfn=(ID) NAME", then by "(ID)" alone). How many completions one
 * interrupt finds is callgrind's thread scheduling, so every figure is quoted with this count.
 */
static double InterruptCalls(LPCSTR File) {
    FILE* In = fopen(File, "r");
    if (In == NULL) return -1;
    char Line[1024], Id[32] = "";
    BOOL Arc = FALSE;
    double Calls = 0;
    while (fgets(Line, sizeof(Line), In)) {
        char* Open = strstr(Line, "fn=(");
        char* Close = Open ? strchr(Open, ')') : NULL;
        if (Close == NULL) {
            if (Arc && strncmp(Line, "calls=", 6) == 0) Calls += strtod(Line + 6, NULL);
            if (strncmp(Line, "calls=", 6) == 0) Arc = FALSE;
            continue;
        }
        // the first naming may be the function's own fn= line or a call arc's cfn= line
        if (Id[0] == 0 && strncmp(Close + 1, " NVMeQueueInterrupt\n", 21) == 0) {
            snprintf(Id, sizeof(Id), "%.*s", (int)(Close + 1 - (Open + 3)), Open + 3);
        }
        Arc = Open == Line + 1 && Line[0] == 'c' && Id[0] != 0 && strncmp(Open + 3, Id, strlen(Id)) == 0;
    }
    fclose(In);
    return Calls;
}

/** Inclusive Ir of functions whose name matches, from callgrind_annotate --inclusive=yes lines "N (p%)  file:fn". */
static int Report(LPCSTR File, U32 Count) {
    char Command[512];
    snprintf(Command, sizeof(Command), "callgrind_annotate --inclusive=yes --threshold=100 %s 2>/dev/null", File);
    FILE* Pipe = popen(Command, "r");
    if (Pipe == NULL) return 1;
    static const char* Entries[] = {"NVMeSubmitIO", "NVMeQueueInterrupt", "NVMeQueueBottomHalf"};
    double Entry[3] = {0, 0, 0}, Model = 0, Platform = 0, Total = 0;
    // callgrind_annotate lists a function once per file-name spelling: count each name once.
    static char Seen[256][64];
    U32 SeenCount = 0;
    char Line[1024];
    while (fgets(Line, sizeof(Line), Pipe)) {
        char* Cursor = Line;
        while (*Cursor == ' ') Cursor++;
        if (*Cursor < '0' || *Cursor > '9') continue;
        double Value = 0;
        for (; (*Cursor >= '0' && *Cursor <= '9') || *Cursor == ','; Cursor++) {
            if (*Cursor != ',') Value = Value * 10 + (*Cursor - '0');
        }
        if (strstr(Line, "PROGRAM TOTALS")) {
            Total = Value;
            continue;
        }
        char* Space = strstr(Cursor, ")  ");
        if (Space == NULL) continue;
        char* Name = strchr(Space + 3, ':');
        if (Name == NULL) continue;
        Name++;
        char* End = Name;
        while (*End && *End != ' ' && *End != '\n' && *End != '[') End++;
        *End = 0;
        BOOL Again = FALSE;
        for (U32 I = 0; I < SeenCount && !Again; I++) Again = strcmp(Seen[I], Name) == 0;
        if (Again) continue;
        if (SeenCount < 256) snprintf(Seen[SeenCount++], sizeof(Seen[0]), "%s", Name);
        for (U32 I = 0; I < 3; I++) {
            if (strcmp(Name, Entries[I]) == 0) Entry[I] = Value;
        }
        if (strcmp(Name, "MmioWrite") == 0) Model = Value;  // the model's BAR0 write handler
        if (strncmp(Name, "Platform", 8) == 0) Platform += Value;
    }
    pclose(Pipe);
    double Driver = Entry[0] + Entry[1] + Entry[2];
    if (Driver == 0 || Count == 0) {
        fprintf(stderr, "bench: no driver entry points in %s\n", File);
        return 1;
    }
    double HostPlatform = Platform - Model;
    double Own = Driver - Platform;
    double Interrupts = InterruptCalls(File);
    printf("NVMe driver, %u-byte reads through NVMeSubmitIO (%u reads, bursts of %u, MSI-X, inline model, sgl=%s):\n",
           BlockBytes, Count, Burst, NVMeSglModeName(SglMode));
    printf("  collected %.0f instructions (program total %.0f)\n", Driver, Total);
    printf("  per read: submit %.0f, top half %.0f, bottom half %.0f (callback included)\n", Entry[0] / Count,
           Entry[1] / Count, Entry[2] / Count);
    printf("  per read: model %.0f, host platform layer %.0f, driver's own code %.0f\n", Model / Count,
           HostPlatform / Count, Own / Count);
    printf("  interrupts (NVMeQueueInterrupt calls): %.0f, %.0f per 10000 reads\n", Interrupts,
           Interrupts * 10000 / Count);
    printf("instructions per %u-byte read in the driver (model and host platform excluded): %.0f at %.0f interrupts "
           "per 10000 reads\n",
           BlockBytes, Own / Count, Interrupts * 10000 / Count);
    return 0;
}

/** bs=N and sgl=MODE from Argv[First...]; FALSE on anything else. */
static BOOL ParseOptions(int Argc, char** Argv, int First) {
    for (int I = First; I < Argc; I++) {
        if (strncmp(Argv[I], "burst=", 6) == 0) {
            Burst = (U32)strtoul(Argv[I] + 6, NULL, 0);
            if (Burst == 0 || Burst > 256) return FALSE;
            continue;
        }
        if (strncmp(Argv[I], "bs=", 3) == 0) {
            BlockBytes = (U32)strtoul(Argv[I] + 3, NULL, 0);
            if (BlockBytes == 0 || BlockBytes % 4096 || BlockBytes > 512 * 1024) return FALSE;
            continue;
        }
        BOOL Known = FALSE;
        for (U32 Mode = NVME_SGL_AUTO; Mode <= NVME_SGL_OFF; Mode++) {
            if (strncmp(Argv[I], "sgl=", 4) == 0 && strcmp(Argv[I] + 4, NVMeSglModeName(Mode)) == 0) {
                SglMode = Mode;
                Known = TRUE;
            }
        }
        if (!Known) return FALSE;
    }
    return TRUE;
}

int main(int Argc, char** Argv) {
    BOOL Reporting = Argc >= 3 && strcmp(Argv[1], "--report") == 0;
    int CountAt = Reporting ? 3 : 1;
    U32 Count = Argc > CountAt ? (U32)strtoul(Argv[CountAt], NULL, 0) : 10000;
    if (!ParseOptions(Argc, Argv, CountAt + 1)) {
        fprintf(stderr, "usage: Bench-Driver [--report FILE] [Count] [bs=N] [sgl=auto|on|off] [burst=N]\n");
        return 2;
    }
    return Reporting ? Report(Argv[2], Count) : Workload(Count);
}
