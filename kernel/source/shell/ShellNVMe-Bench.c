/*
 * ShellNVMe-Bench.c - `nvme bench`: a queue-depth benchmark on the NVMe
 * driver's asynchronous API (and, with `poll`, on its polled synchronous path).
 *
 *   nvme bench <disk> [read|randread|write|randwrite] [bs=4k] [qd=32] [seconds=5] [reset-after=<ms>]
 *              [sgl=auto|on|off] [cpus=N] [poll]
 *
 * The bench keeps qd commands in flight: completion callbacks (run in the
 * driver's interrupt handler) only record the latency and mark the slot done;
 * the submitting thread resubmits, because a callback must never call
 * NVMeSubmitIO. Write modes overwrite the disk the user named, after a warning
 * and a 2-second chance to cancel. reset-after=<ms> makes the bench loop
 * itself call NVMeResetController once that long after the start, with the
 * queue full: the shell runs one command at a time, so this is how a reset
 * meets I/O in flight (the driver must resubmit it; the bench counts every
 * command's completion as usual). sgl=auto|on|off sets the controller's data
 * pointer mode (NVMeSetSglMode) for the run and restores the one in force
 * afterwards, so PRPs and SGLs are compared on the same disk in one boot; the
 * summary then adds how many commands went each way. cpus=N runs one
 * submitter thread pinned to each of CPUs 0..N-1 (each on its CPU's queue).
 * poll (qd=1 only) issues one synchronous command at a time through
 * NVMeReadSync/NVMeWriteSync, which take a polled queue (nvme.poll_queues)
 * and reap it without an interrupt: the counterpart of Linux's io_uring
 * polled I/O (fio --hipri).
 * Nothing here touches the controller. Output formats are documented in
 * documentation/Disk-Commands.md and read by tests/integration/test_nvme.py,
 * test_nvme_percpu.py and tools/bench: change them together.
 */

#include "shell/ShellNVMe.h"

#include "core/SMP.h"
#include "core/Spinlock.h"
#include "core/Thread.h"
#include "core/Sync.h"
#include "drivers/console/Input.h"
#include "storage/nvme/NVMe.h"
#include "block/Disk.h"
#include "memory/Heap.h"
#include "shell/Shell.h"
#include "system/Clock.h"
#include "utils/Format.h"
#include "utils/Histogram.h"
#include "utils/Pattern.h"
#include "utils/String.h"

#define BENCH_MAX_QUEUE_DEPTH 1024
#define BENCH_MAX_SECONDS 600
#define BENCH_MAX_BUFFER_BYTES (64 * N_1MB)   // qd * bs
#define BENCH_WARNING_MS 2000
// After the deadline, commands still in flight get this long to finish before the bench gives up on them.
#define BENCH_DRAIN_TIMEOUT_NS (30ULL * CLOCK_NS_PER_SECOND)
#define BENCH_RANDOM_SEED 0x6E766D6562656E63ULL  // "nvmebenc"
#define BENCH_USAGE "usage: nvme bench <disk> [read|randread|write|randwrite] [bs=4k] [qd=32] [seconds=5] " \
                    "[reset-after=<ms>] [sgl=auto|on|off] [cpus=N] [poll]"
#define BENCH_SGL_UNCHANGED MAX_U32

// One controller view at a time: the shell runs one command at a time.
static NVME_CONTROLLER_INFO View;

/************************************************************************/
// nvme bench

#define BENCH_READ 0
#define BENCH_RANDREAD 1
#define BENCH_WRITE 2
#define BENCH_RANDWRITE 3

static const char* const BenchModeNames[] = {"read", "randread", "write", "randwrite"};

struct tag_BENCH;

typedef struct tag_BENCH_SLOT {
    struct tag_BENCH* Bench;
    U8* Buffer;
    U64 SubmitNs;
    volatile BOOL Done;      // completed, waiting for the shell thread to resubmit it
    BOOL Busy;               // submitted and not yet seen done by the shell thread
} BENCH_SLOT;

typedef struct tag_BENCH {
    NVME_NAMESPACE* Namespace;
    U32 Mode;
    U32 Blocks;              // per command
    U32 LbaSize;
    U32 QueueDepth;
    U64 Sectors;             // namespace size in blocks
    U64 NextLba;             // sequential modes
    U64 RandomCounter;       // random modes
    SPINLOCK Lock;           // protects the figures below (callbacks run in the driver's thread)
    EVENT Completion;
    HISTOGRAM* Latency;
    U64 Completed;
    U64 Errors;
    U64 LastCompletionNs;
    KSTATUS FirstError;
    U16 FirstNvmeStatus;
    BENCH_SLOT* Slots;
    LPVOID BufferAllocation;
    U32 ControllerIndex;     // for reset-after
    U64 ResetAfterMs;        // 0: no reset
    BOOL ResetDone;
    KSTATUS ResetStatus;
    U32 ResetInFlight;       // bench commands in flight when the reset was asked for
    U64 ResetStartNs, ResetNs;
    U32 SglMode;             // NVME_SGL_* for the run, or BENCH_SGL_UNCHANGED
    U32 SglModeBefore;       // restored after the run
    U64 SglBefore, PrpBefore;  // the controller's data-command counters at the start
    U64 SglRun, PrpRun;        // and how far they moved during the run
    // cpus=N: the shell's bench (the template) runs one worker bench per CPU, each on a thread pinned there
    U32 Cpus;                  // 0: no cpus= (the shell thread submits, wherever it runs)
    U32 Cpu;                   // a worker's CPU
    struct tag_BENCH* Parent;  // a worker's template: Stop, and Completion signalled when the worker ends
    struct tag_BENCH** Workers;
    volatile BOOL Stop;        // the template's: every worker stops submitting
    U64 Seconds;
    U64 Start;
    BOOL Interrupted;
    KSTATUS SubmitError;
    U32 Abandoned;             // commands still in flight after the drain timeout
    volatile BOOL Ended;       // a worker's BenchRun returned
    // poll: synchronous commands on a polled queue, one at a time
    BOOL Polled;
    KSTATUS PollError;         // the first failed command's status
    U64 PolledBefore;          // commands submitted on the controller's polled queues before the run
    U64 PolledRun;             // ... and during it
} BENCH;

static void BenchCallback(KSTATUS Status, U16 NvmeStatus, LPVOID Context) {
    BENCH_SLOT* Slot = (BENCH_SLOT*)Context;
    BENCH* Bench = Slot->Bench;
    U64 Now = GetSystemTimeNs();
    U64 Flags = SpinlockAcquire(&Bench->Lock);
    if (Status == KSTATUS_SUCCESS) {
        HistogramAdd(Bench->Latency, Now - Slot->SubmitNs);
        Bench->Completed++;
    } else {
        if (Bench->Errors == 0) {
            Bench->FirstError = Status;
            Bench->FirstNvmeStatus = NvmeStatus;
        }
        Bench->Errors++;
    }
    Bench->LastCompletionNs = Now;
    Slot->Done = TRUE;
    // Signalled inside the lock: once the shell thread has seen every slot done and taken the lock once,
    // no callback touches the bench any more, and it may be freed.
    EventSignal(&Bench->Completion);
    SpinlockRelease(&Bench->Lock, Flags);
}

static U64 BenchNextLba(BENCH* Bench) {
    U64 Positions = Bench->Sectors / Bench->Blocks;  // command-sized, command-aligned positions
    if (Bench->Mode == BENCH_RANDREAD || Bench->Mode == BENCH_RANDWRITE) {
        return (PatternWord(BENCH_RANDOM_SEED, Bench->RandomCounter++) % Positions) * Bench->Blocks;
    }
    U64 Lba = Bench->NextLba;
    Bench->NextLba += Bench->Blocks;
    if (Bench->NextLba + Bench->Blocks > Bench->Sectors) Bench->NextLba = 0;
    return Lba;
}

#define BENCH_BATCH_SIZE 32  // slots resubmitted with one NVMeSubmitIOBatch (one doorbell)

/** Slots made ready for one batch submission. */
typedef struct tag_BENCH_BATCH {
    NVME_IO_REQUEST Requests[BENCH_BATCH_SIZE];
    BENCH_SLOT* Slots[BENCH_BATCH_SIZE];
    U32 Count;
} BENCH_BATCH;

static void BenchAdd(BENCH* Bench, BENCH_BATCH* Batch, BENCH_SLOT* Slot) {
    U32 Opcode = (Bench->Mode == BENCH_WRITE || Bench->Mode == BENCH_RANDWRITE) ? NVME_IO_WRITE : NVME_IO_READ;
    Slot->Done = FALSE;
    Slot->Busy = TRUE;
    Slot->SubmitNs = GetSystemTimeNs();
    Batch->Requests[Batch->Count] =
        (NVME_IO_REQUEST){Opcode, BenchNextLba(Bench), Bench->Blocks, Slot->Buffer, BenchCallback, Slot};
    Batch->Slots[Batch->Count++] = Slot;
}

/** Submits the batch; returns how many went (the others are not busy) and the first error in *Status. */
static U32 BenchFlush(BENCH* Bench, BENCH_BATCH* Batch, KSTATUS* Status) {
    U32 Submitted = 0;
    if (Batch->Count == 0) return 0;
    KSTATUS Result = NVMeSubmitIOBatch(Bench->Namespace, Batch->Requests, Batch->Count, &Submitted);
    for (U32 I = Submitted; I < Batch->Count; I++) Batch->Slots[I]->Busy = FALSE;
    if (Result != KSTATUS_SUCCESS && *Status == KSTATUS_SUCCESS) *Status = Result;
    Batch->Count = 0;
    return Submitted;
}

/** "12.34" from a value in hundredths. */
#define HUNDREDTHS(v) (v) / 100, (v) % 100

/** MB/s (decimal) in hundredths, and IOPS, from a count of commands over Ns nanoseconds. */
static void BenchRates(const BENCH* Bench, U64 Ios, U64 Ns, U64* Iops, U64* MBpsHundredths) {
    if (Ns == 0) Ns = 1;
    U64 Bytes = Ios * Bench->Blocks * Bench->LbaSize;
    // Ios * 1e9 and Bytes * 1e5 stay far below 2^64 for any bench this command allows.
    *Iops = Ios * CLOCK_NS_PER_SECOND / Ns;
    *MBpsHundredths = Bytes * 100000ULL / Ns;
}

static BOOL ParseOption(LPCSTR Argument, LPCSTR Name, U64* Value, BOOL AllowSuffix) {
    SIZE Length = StringLength(Name);
    if (StringCompareBounded(Argument, Name, Length) != 0 || Argument[Length] != '=') return FALSE;
    if (!StringToU64(Argument + Length + 1, Value, AllowSuffix)) *Value = MAX_U64;  // reported by the caller
    return TRUE;
}

static void BenchFree(BENCH* Bench) {
    for (U32 I = 0; Bench->Workers && I < Bench->Cpus; I++) {
        if (Bench->Workers[I]) BenchFree(Bench->Workers[I]);
    }
    if (Bench->Workers) KernelHeapFree(Bench->Workers);
    if (Bench->Latency) KernelHeapFree(Bench->Latency);
    if (Bench->Slots) KernelHeapFree(Bench->Slots);
    if (Bench->BufferAllocation) KernelHeapFree(Bench->BufferAllocation);
    KernelHeapFree(Bench);
}

/** Parses the arguments into Bench (and the run time); prints the one error line and returns FALSE. */
static BOOL BenchParse(I32 ArgumentCount, LPSTR* Arguments, BENCH* Bench, U64* Seconds) {
    U64 BlockBytes = 4096, QueueDepth = 32, Cpus = 0;
    BOOL CpusGiven = FALSE;
    *Seconds = 5;
    Bench->Mode = BENCH_READ;
    Bench->SglMode = BENCH_SGL_UNCHANGED;
    if (ArgumentCount < 3) {
        ShellError("nvme", BENCH_USAGE);
        return FALSE;
    }
    if (DiskFind(Arguments[2]) == NULL) {
        ShellError("nvme", "no disk named '%s'", Arguments[2]);
        return FALSE;
    }
    Bench->Namespace = NVMeFindNamespace(Arguments[2]);
    if (Bench->Namespace == NULL) {
        ShellError("nvme", "%s is not an NVMe namespace", Arguments[2]);
        return FALSE;
    }
    for (I32 I = 3; I < ArgumentCount; I++) {
        LPCSTR Argument = Arguments[I];
        BOOL Known = FALSE;
        for (U32 M = 0; M < ARRAY_COUNT(BenchModeNames); M++) {
            if (StringCompare(Argument, BenchModeNames[M]) == 0) {
                Bench->Mode = M;
                Known = TRUE;
            }
        }
        if (Known) continue;
        if (StringCompare(Argument, "poll") == 0) {
            Bench->Polled = TRUE;
            continue;
        }
        if (StringCompareBounded(Argument, "sgl=", 4) == 0) {
            for (U32 Mode = NVME_SGL_AUTO; Mode <= NVME_SGL_OFF; Mode++) {
                if (StringCompare(Argument + 4, NVMeSglModeName(Mode)) == 0) Bench->SglMode = Mode;
            }
            if (Bench->SglMode == BENCH_SGL_UNCHANGED) {
                ShellError("nvme", "%s: sgl= takes auto, on or off", Argument);
                return FALSE;
            }
            continue;
        }
        U64* Target = NULL;
        U64 Value = 0;
        if (ParseOption(Argument, "bs", &Value, TRUE)) Target = &BlockBytes;
        else if (ParseOption(Argument, "qd", &Value, FALSE)) Target = &QueueDepth;
        else if (ParseOption(Argument, "seconds", &Value, FALSE)) Target = Seconds;
        else if (ParseOption(Argument, "reset-after", &Value, FALSE)) Target = &Bench->ResetAfterMs;
        else if (ParseOption(Argument, "cpus", &Value, FALSE)) Target = &Cpus;
        if (Target == NULL) {
            ShellError("nvme", "unknown bench argument '%s'", Argument);
            return FALSE;
        }
        if (Value == MAX_U64) {
            ShellError("nvme", "bad number in '%s'", Argument);
            return FALSE;
        }
        *Target = Value;
        CpusGiven = CpusGiven || Target == &Cpus;
    }

    const NVME_NAMESPACE_INFO* Info = NVMeGetNamespaceInfo(Bench->Namespace);
    Bench->LbaSize = Info->LbaSize;
    Bench->Sectors = Info->Size;
    if (Bench->LbaSize == 0 || BlockBytes == 0 || BlockBytes % Bench->LbaSize != 0) {
        ShellError("nvme", "bs=%llu is not a multiple of the %u-byte block size", BlockBytes, Bench->LbaSize);
        return FALSE;
    }
    U64 Blocks = BlockBytes / Bench->LbaSize;
    U64 MaxBlocks = Info->MaxBlocksPerCommand ? Info->MaxBlocksPerCommand : Blocks;
    if (Blocks > MaxBlocks || Blocks > Bench->Sectors) {
        ShellError("nvme", "bs=%llu is more than one command can carry on %s (%llu bytes)", BlockBytes,
                   Arguments[2], MIN(MaxBlocks, Bench->Sectors) * Bench->LbaSize);
        return FALSE;
    }
    if (QueueDepth < 1 || QueueDepth > BENCH_MAX_QUEUE_DEPTH) {
        ShellError("nvme", "qd=%llu must be 1 to %u", QueueDepth, BENCH_MAX_QUEUE_DEPTH);
        return FALSE;
    }
    U32 Online = SMPGetOnlineCount();
    if (Cpus > Online || (Cpus == 0 && CpusGiven)) {
        ShellError("nvme", "cpus=%llu must be 1 to %u (the CPUs online)", Cpus, Online);
        return FALSE;
    }
    if (Cpus > 0 && Bench->ResetAfterMs != 0) {
        ShellError("nvme", "reset-after= runs without cpus=");
        return FALSE;
    }
    if (QueueDepth * BlockBytes * MAX(Cpus, 1ULL) > BENCH_MAX_BUFFER_BYTES) {
        ShellError("nvme", "qd * bs%s = %llu bytes is more than the bench's %llu-byte buffer limit",
                   Cpus ? " * cpus" : "", QueueDepth * BlockBytes * MAX(Cpus, 1ULL), BENCH_MAX_BUFFER_BYTES);
        return FALSE;
    }
    if (*Seconds < 1 || *Seconds > BENCH_MAX_SECONDS) {
        ShellError("nvme", "seconds=%llu must be 1 to %u", *Seconds, BENCH_MAX_SECONDS);
        return FALSE;
    }
    if (Bench->Polled && (QueueDepth != 1 || Cpus > 0 || Bench->ResetAfterMs != 0)) {
        ShellError("nvme", "poll runs one synchronous command at a time: qd=1, without cpus= or reset-after=");
        return FALSE;
    }
    if (Bench->Polled && (NVMeGetController(Info->ControllerIndex, &View) != KSTATUS_SUCCESS ||
                          View.PollQueueCount == 0)) {
        ShellError("nvme", "poll: %s has no polled queue (boot with nvme.poll_queues=1)", View.Name);
        return FALSE;
    }
    if (Bench->ResetAfterMs != 0 && Bench->ResetAfterMs >= *Seconds * 1000) {
        ShellError("nvme", "reset-after=%llu must be below the run time (%llu ms)", Bench->ResetAfterMs,
                   *Seconds * 1000);
        return FALSE;
    }
    Bench->ControllerIndex = Info->ControllerIndex;
    Bench->Blocks = (U32)Blocks;
    Bench->QueueDepth = (U32)QueueDepth;
    Bench->Cpus = (U32)Cpus;
    Bench->Seconds = *Seconds;
    return TRUE;
}

static BOOL BenchAllocateWorkers(BENCH* Bench);

static BOOL BenchAllocate(BENCH* Bench) {
    SIZE BlockBytes = (SIZE)Bench->Blocks * Bench->LbaSize;
    SIZE Stride = ALIGN_UP(BlockBytes, (SIZE)PAGE_SIZE);
    SpinlockInit(&Bench->Lock);
    EventInit(&Bench->Completion, FALSE, FALSE);
    Bench->Latency = (HISTOGRAM*)KernelHeapAlloc(sizeof(HISTOGRAM));
    if (Bench->Cpus > 0) {
        // The template only sums: its workers hold the slots.
        if (Bench->Latency == NULL) return FALSE;
        HistogramInit(Bench->Latency);
        return BenchAllocateWorkers(Bench);
    }
    Bench->Slots = (BENCH_SLOT*)KernelHeapAllocZero(sizeof(BENCH_SLOT) * Bench->QueueDepth);
    Bench->BufferAllocation = KernelHeapAlloc(Stride * Bench->QueueDepth + PAGE_SIZE);
    if (Bench->Latency == NULL || Bench->Slots == NULL || Bench->BufferAllocation == NULL) return FALSE;
    HistogramInit(Bench->Latency);
    U8* Base = (U8*)ALIGN_UP((LINEAR)Bench->BufferAllocation, PAGE_SIZE);
    for (U32 I = 0; I < Bench->QueueDepth; I++) {
        Bench->Slots[I].Bench = Bench;
        Bench->Slots[I].Buffer = Base + Stride * I;
        // Write modes write this (the pattern of the slot's own place in a virtual stream), reads overwrite it.
        PatternFill(Bench->Slots[I].Buffer, BlockBytes, BENCH_RANDOM_SEED, (U64)Stride * I);
    }
    return TRUE;
}

/** cpus=N: a bench per CPU, copied from the template, each with its own slots and its own stretch of LBAs. */
static BOOL BenchAllocateWorkers(BENCH* Bench) {
    Bench->Workers = (BENCH**)KernelHeapAllocZero(sizeof(BENCH*) * Bench->Cpus);
    if (Bench->Workers == NULL) return FALSE;
    for (U32 I = 0; I < Bench->Cpus; I++) {
        BENCH* Worker = (BENCH*)KernelHeapAllocZero(sizeof(BENCH));
        if (Worker == NULL) return FALSE;
        Bench->Workers[I] = Worker;
        Worker->Namespace = Bench->Namespace;
        Worker->Mode = Bench->Mode;
        Worker->Blocks = Bench->Blocks;
        Worker->LbaSize = Bench->LbaSize;
        Worker->QueueDepth = Bench->QueueDepth;
        Worker->Sectors = Bench->Sectors;
        Worker->Seconds = Bench->Seconds;
        Worker->Cpu = I;
        Worker->Parent = Bench;
        Worker->RandomCounter = (U64)I << 40;  // another random stream per CPU
        Worker->NextLba = (Bench->Sectors / Bench->Cpus * I) / Bench->Blocks * Bench->Blocks;
        if (!BenchAllocate(Worker)) return FALSE;
    }
    return TRUE;
}

/** Notes the mode in force and the counters, then sets sgl= for the run; FALSE after the error line. */
static BOOL BenchSetSglMode(BENCH* Bench) {
    if (NVMeGetController(Bench->ControllerIndex, &View) != KSTATUS_SUCCESS) {
        ShellError("nvme", "controller %u is gone", Bench->ControllerIndex);
        return FALSE;
    }
    Bench->SglModeBefore = View.SglMode;
    Bench->SglBefore = View.SglCommands;
    Bench->PrpBefore = View.PrpCommands;
    if (Bench->SglMode == BENCH_SGL_UNCHANGED) return TRUE;
    KSTATUS Status = NVMeSetSglMode(Bench->ControllerIndex, Bench->SglMode);
    if (Status == KSTATUS_NOT_SUPPORTED) {
        ShellError("nvme", "sgl=%s: %s has no SGLs (Identify SGLS 1:0 = %u)", NVMeSglModeName(Bench->SglMode),
                   View.Name, View.Identify.Sgls & NVME_SGLS_SUPPORT_MASK);
        return FALSE;
    }
    if (Status != KSTATUS_SUCCESS) {
        ShellError("nvme", "sgl=%s: %s", NVMeSglModeName(Bench->SglMode), DiskStatusName(Status));
        return FALSE;
    }
    return TRUE;
}

/** Puts the mode in force before the run back; notes how many commands went each way meanwhile. */
static void BenchRestoreSglMode(BENCH* Bench) {
    if (Bench->SglMode != BENCH_SGL_UNCHANGED) NVMeSetSglMode(Bench->ControllerIndex, Bench->SglModeBefore);
    if (NVMeGetController(Bench->ControllerIndex, &View) != KSTATUS_SUCCESS) return;
    Bench->SglRun = View.SglCommands - Bench->SglBefore;
    Bench->PrpRun = View.PrpCommands - Bench->PrpBefore;
}

static void BenchProgress(const BENCH* Bench, U64 Elapsed, U64 Completed) {
    U64 Iops, MBps;
    BenchRates(Bench, Completed, Elapsed, &Iops, &MBps);
    ShellPrint("\r%4llu s: %llu IOPS, %llu.%02llu MB/s    ", Elapsed / CLOCK_NS_PER_SECOND, Iops, HUNDREDTHS(MBps));
}

/**
 * Keeps the queue full until the deadline, a key or an error, then waits for
 * every command in flight. Returns the number still in flight after the
 * drain timeout (0 normally): the caller must then leave the bench allocated.
 */
static U32 BenchRun(BENCH* Bench, U64 Seconds, BOOL* Interrupted, KSTATUS* SubmitError, U64* Start) {
    *Start = GetSystemTimeNs();
    U64 Deadline = *Start + Seconds * CLOCK_NS_PER_SECOND;
    U64 NextProgress = *Start + CLOCK_NS_PER_SECOND;
    U32 InFlight = 0;
    BOOL Stopping = FALSE, ProgressShown = FALSE;

    BENCH_BATCH Batch;
    Batch.Count = 0;
    BENCH* Parent = Bench->Parent;  // a worker: the shell thread reads the keys and shows progress

    for (U32 I = 0; I < Bench->QueueDepth && *SubmitError == KSTATUS_SUCCESS; I++) {
        BenchAdd(Bench, &Batch, &Bench->Slots[I]);
        if (Batch.Count == BENCH_BATCH_SIZE || I + 1 == Bench->QueueDepth) InFlight += BenchFlush(Bench, &Batch, SubmitError);
    }
    if (*SubmitError != KSTATUS_SUCCESS) Stopping = TRUE;

    while (InFlight > 0) {
        WaitForEvent(&Bench->Completion, 100);
        U64 Now = GetSystemTimeNs();
        if (Now >= Deadline || Bench->Errors > 0 || (Parent && Parent->Stop)) Stopping = TRUE;
        if (!Stopping && !Parent && InputTryReadKey() != KEY_NONE) {
            Stopping = TRUE;
            *Interrupted = TRUE;
        }
        // Every slot found done goes again, a batch to a doorbell.
        for (U32 I = 0; I < Bench->QueueDepth; I++) {
            BENCH_SLOT* Slot = &Bench->Slots[I];
            if (!Slot->Busy || !Slot->Done) continue;
            Slot->Busy = FALSE;
            InFlight--;
            if (Stopping) continue;
            BenchAdd(Bench, &Batch, Slot);
            if (Batch.Count == BENCH_BATCH_SIZE) InFlight += BenchFlush(Bench, &Batch, SubmitError);
        }
        InFlight += BenchFlush(Bench, &Batch, SubmitError);
        if (*SubmitError != KSTATUS_SUCCESS) Stopping = TRUE;
        if (!Stopping && Bench->ResetAfterMs != 0 && !Bench->ResetDone &&
            Now >= *Start + Bench->ResetAfterMs * 1000000ULL) {
            // The queue is full of this bench's commands: the reset must resubmit them.
            Bench->ResetDone = TRUE;
            Bench->ResetInFlight = InFlight;
            Bench->ResetStartNs = Now;
            Bench->ResetStatus = NVMeResetController(Bench->ControllerIndex);
            Bench->ResetNs = GetSystemTimeNs() - Now;
            if (Bench->ResetStatus != KSTATUS_SUCCESS) Stopping = TRUE;
            continue;
        }
        if (!Stopping && !Parent && Now >= NextProgress) {
            U64 Flags = SpinlockAcquire(&Bench->Lock);
            U64 Completed = Bench->Completed;
            SpinlockRelease(&Bench->Lock, Flags);
            BenchProgress(Bench, Now - *Start, Completed);
            ProgressShown = TRUE;
            NextProgress += CLOCK_NS_PER_SECOND;
        }
        if (InFlight > 0 && Now > Deadline + BENCH_DRAIN_TIMEOUT_NS) break;
    }
    // The last callback may still be inside the lock: wait for it to leave.
    U64 Flags = SpinlockAcquire(&Bench->Lock);
    SpinlockRelease(&Bench->Lock, Flags);
    // The last progress line stays on the screen; the summary starts a line of its own.
    if (ProgressShown) ShellPrint("\n");
    return InFlight;
}

/** Commands submitted so far on the controller's polled queues (nvme.poll_queues). */
static U64 BenchPolledSubmitted(const BENCH* Bench) {
    U64 Sum = 0;
    if (NVMeGetController(Bench->ControllerIndex, &View) != KSTATUS_SUCCESS) return 0;
    for (U32 I = 0; I < View.QueueCount && I < ARRAY_COUNT(View.Queues); I++) {
        if (View.Queues[I].QueueId != 0 && View.Queues[I].Polled) Sum += View.Queues[I].Submitted;
    }
    return Sum;
}

/**
 * poll: one synchronous command at a time until the deadline, a key or an error. NVMeReadSync/NVMeWriteSync
 * put a one-command transfer on a polled queue and reap it in the caller, with no interrupt and no sleep.
 */
static void BenchRunPolled(BENCH* Bench, U64 Seconds) {
    BOOL Writes = Bench->Mode == BENCH_WRITE || Bench->Mode == BENCH_RANDWRITE;
    U8* Buffer = Bench->Slots[0].Buffer;
    BOOL ProgressShown = FALSE;
    Bench->PolledBefore = BenchPolledSubmitted(Bench);
    Bench->Start = GetSystemTimeNs();
    U64 Deadline = Bench->Start + Seconds * CLOCK_NS_PER_SECOND, NextProgress = Bench->Start + CLOCK_NS_PER_SECOND;
    for (U64 Now = Bench->Start; Now < Deadline; Now = GetSystemTimeNs()) {
        if (InputTryReadKey() != KEY_NONE) {
            Bench->Interrupted = TRUE;
            break;
        }
        if (Now >= NextProgress) {
            BenchProgress(Bench, Now - Bench->Start, Bench->Completed);
            ProgressShown = TRUE;
            NextProgress += CLOCK_NS_PER_SECOND;
        }
        U64 Lba = BenchNextLba(Bench);
        KSTATUS Status = Writes ? NVMeWriteSync(Bench->Namespace, Lba, Bench->Blocks, Buffer)
                                : NVMeReadSync(Bench->Namespace, Lba, Bench->Blocks, Buffer);
        U64 Done = GetSystemTimeNs();
        HistogramAdd(Bench->Latency, Done - Now);
        Bench->LastCompletionNs = Done;
        if (Status != KSTATUS_SUCCESS) {
            Bench->PollError = Status;
            Bench->Errors++;
            break;
        }
        Bench->Completed++;
    }
    Bench->PolledRun = BenchPolledSubmitted(Bench) - Bench->PolledBefore;
    if (ProgressShown) ShellPrint("\n");
}

/** A worker's thread, pinned to its CPU: its submissions go to that CPU's queue. */
static void BenchWorker(LPVOID Argument) {
    BENCH* Worker = (BENCH*)Argument;
    BENCH* Parent = Worker->Parent;
    Worker->Abandoned = BenchRun(Worker, Worker->Seconds, &Worker->Interrupted, &Worker->SubmitError, &Worker->Start);
    // Under the template's lock: once the shell thread has taken it after seeing every worker ended, no worker
    // touches the bench any more.
    U64 Flags = SpinlockAcquire(&Parent->Lock);
    Worker->Ended = TRUE;
    EventSignal(&Parent->Completion);
    SpinlockRelease(&Parent->Lock, Flags);
}

/** Completed commands of every worker (each read under its own lock). */
static U64 BenchWorkersCompleted(const BENCH* Bench) {
    U64 Sum = 0;
    for (U32 I = 0; I < Bench->Cpus; I++) {
        BENCH* Worker = Bench->Workers[I];
        U64 Flags = SpinlockAcquire(&Worker->Lock);
        Sum += Worker->Completed;
        SpinlockRelease(&Worker->Lock, Flags);
    }
    return Sum;
}

/** cpus=N: starts a pinned worker per CPU, reads keys and shows progress until all ended, then sums them up. */
static void BenchRunWorkers(BENCH* Bench) {
    Bench->Start = GetSystemTimeNs();
    U64 NextProgress = Bench->Start + CLOCK_NS_PER_SECOND;
    BOOL ProgressShown = FALSE;
    for (U32 I = 0; I < Bench->Cpus; I++) {
        if (ThreadCreateOn("nvme-bench", BenchWorker, Bench->Workers[I], I) == NULL) {
            Bench->Workers[I]->SubmitError = KSTATUS_NO_MEMORY;
            Bench->Workers[I]->Ended = TRUE;
        }
    }
    for (;;) {
        BOOL All = TRUE;
        for (U32 I = 0; I < Bench->Cpus; I++) All = All && Bench->Workers[I]->Ended;
        if (All) break;
        WaitForEvent(&Bench->Completion, 100);
        if (!Bench->Stop && InputTryReadKey() != KEY_NONE) {
            Bench->Stop = TRUE;
            Bench->Interrupted = TRUE;
        }
        U64 Now = GetSystemTimeNs();
        if (!Bench->Stop && Now >= NextProgress) {
            BenchProgress(Bench, Now - Bench->Start, BenchWorkersCompleted(Bench));
            ProgressShown = TRUE;
            NextProgress += CLOCK_NS_PER_SECOND;
        }
    }
    U64 Flags = SpinlockAcquire(&Bench->Lock);
    SpinlockRelease(&Bench->Lock, Flags);
    if (ProgressShown) ShellPrint("\n");
    for (U32 I = 0; I < Bench->Cpus; I++) {
        BENCH* Worker = Bench->Workers[I];
        if (Worker->Errors && Bench->Errors == 0) {
            Bench->FirstError = Worker->FirstError;
            Bench->FirstNvmeStatus = Worker->FirstNvmeStatus;
        }
        Bench->Completed += Worker->Completed;
        Bench->Errors += Worker->Errors;
        Bench->Abandoned += Worker->Abandoned;
        if (Worker->Latency) HistogramMerge(Bench->Latency, Worker->Latency);
        if (Worker->LastCompletionNs > Bench->LastCompletionNs) Bench->LastCompletionNs = Worker->LastCompletionNs;
        if (Bench->SubmitError == KSTATUS_SUCCESS) Bench->SubmitError = Worker->SubmitError;
    }
}

/** cpus=N: a line per CPU (its own I/Os over its own run). */
static void BenchPrintWorkers(const BENCH* Bench) {
    for (U32 I = 0; I < Bench->Cpus; I++) {
        const BENCH* Worker = Bench->Workers[I];
        U64 End = Worker->LastCompletionNs > Worker->Start ? Worker->LastCompletionNs : Worker->Start;
        U64 Iops, MBps;
        BenchRates(Worker, Worker->Completed, End - Worker->Start, &Iops, &MBps);
        ShellPrint("cpu %u: %llu I/Os, %llu IOPS, %llu errors\n", Worker->Cpu, Worker->Completed, Iops, Worker->Errors);
    }
}

I32 ShellNVMeBench(I32 ArgumentCount, LPSTR* Arguments) {
    U64 Seconds;
    // On the heap, not the stack: if commands never complete, their callbacks may still come after we return.
    BENCH* Bench = (BENCH*)KernelHeapAllocZero(sizeof(BENCH));
    if (Bench == NULL) {
        ShellError("nvme", "out of memory");
        return 1;
    }
    if (!BenchParse(ArgumentCount, Arguments, Bench, &Seconds)) {
        BenchFree(Bench);
        return 1;
    }
    LPCSTR Name = Arguments[2];
    if (Bench->Mode == BENCH_WRITE || Bench->Mode == BENCH_RANDWRITE) {
        ShellPrint("WARNING: this overwrites data on %s (press a key within %u s to cancel)\n", Name,
                   BENCH_WARNING_MS / 1000);
        if (InputReadKeyTimeout(BENCH_WARNING_MS) != KEY_NONE) {
            ShellPrint("bench: cancelled, nothing written\n");
            BenchFree(Bench);
            return 1;
        }
    }
    BOOL Writes = Bench->Mode == BENCH_WRITE || Bench->Mode == BENCH_RANDWRITE;
    // The benchmark writes below the sector cache: write back and drop cached copies before and after.
    if (Writes && DiskFind(Name) != NULL) DiskInvalidateCache(DiskFind(Name));
    if (!BenchAllocate(Bench)) {
        ShellError("nvme", "out of memory for %u buffers of %u bytes", Bench->QueueDepth,
                   Bench->Blocks * Bench->LbaSize);
        BenchFree(Bench);
        return 1;
    }
    if (!BenchSetSglMode(Bench)) {
        BenchFree(Bench);
        return 1;
    }
    ShellPrint("%s: %s, bs=%u, qd=%u, %llu s (press a key to stop)\n", Name, BenchModeNames[Bench->Mode],
               Bench->Blocks * Bench->LbaSize, Bench->QueueDepth, Seconds);
    if (Bench->Cpus) ShellPrint("%u submitters, one pinned to each of CPUs 0..%u, qd=%u each\n", Bench->Cpus,
                                Bench->Cpus - 1, Bench->QueueDepth);
    if (Bench->Cpus) BenchRunWorkers(Bench);
    else if (Bench->Polled) BenchRunPolled(Bench, Seconds);
    else Bench->Abandoned = BenchRun(Bench, Seconds, &Bench->Interrupted, &Bench->SubmitError, &Bench->Start);
    BOOL Interrupted = Bench->Interrupted;
    KSTATUS SubmitError = Bench->SubmitError;
    U64 Start = Bench->Start;
    U32 Abandoned = Bench->Abandoned;
    BenchRestoreSglMode(Bench);
    if (Writes && DiskFind(Name) != NULL) DiskInvalidateCache(DiskFind(Name));

    U64 Elapsed = (Bench->LastCompletionNs > Start ? Bench->LastCompletionNs : GetSystemTimeNs()) - Start;
    U64 Iops, MBps;
    BenchRates(Bench, Bench->Completed, Elapsed, &Iops, &MBps);
    ShellPrint("%s: %s, bs=%u, qd=%u: %llu I/Os in %llu.%03llu s, %llu errors%s\n", Name,
               BenchModeNames[Bench->Mode], Bench->Blocks * Bench->LbaSize, Bench->QueueDepth, Bench->Completed,
               Elapsed / CLOCK_NS_PER_SECOND, (Elapsed % CLOCK_NS_PER_SECOND) / 1000000, Bench->Errors,
               Interrupted ? " (stopped by a key)" : "");
    ShellPrint("IOPS: %llu, bandwidth: %llu.%02llu MB/s\n", Iops, HUNDREDTHS(MBps));
    // Latencies in microseconds with one decimal (the histogram's p50/p99 are within 1/16 of the truth).
    U64 Mean = HistogramMean(Bench->Latency) / 100, P50 = HistogramPercentile(Bench->Latency, 5000) / 100;
    U64 P99 = HistogramPercentile(Bench->Latency, 9900) / 100, Max = Bench->Latency->Maximum / 100;
    ShellPrint("latency (us): mean %llu.%llu, p50 %llu.%llu, p99 %llu.%llu, max %llu.%llu\n", Mean / 10, Mean % 10,
               P50 / 10, P50 % 10, P99 / 10, P99 % 10, Max / 10, Max % 10);
    if (Bench->Cpus) BenchPrintWorkers(Bench);
    if (Bench->Polled) ShellPrint("polled: %llu commands on polled queues, no interrupts\n", Bench->PolledRun);
    if (Bench->SglMode != BENCH_SGL_UNCHANGED) {
        ShellPrint("data: sgl=%s (%s again after the run), %llu SGL commands, %llu PRP commands\n",
                   NVMeSglModeName(Bench->SglMode), NVMeSglModeName(Bench->SglModeBefore), Bench->SglRun,
                   Bench->PrpRun);
    }

    if (Bench->ResetDone) {
        ShellPrint("reset after %llu ms: %s in %llu ms, %u commands were in flight\n",
                   (Bench->ResetStartNs - Start) / 1000000, DiskStatusName(Bench->ResetStatus),
                   Bench->ResetNs / 1000000, Bench->ResetInFlight);
    } else if (Bench->ResetAfterMs != 0) {
        ShellPrint("reset after %llu ms: not done (the bench ended first)\n", Bench->ResetAfterMs);
    }

    I32 Result = 0;
    if (Bench->ResetDone && Bench->ResetStatus != KSTATUS_SUCCESS) {
        ShellError("nvme", "the reset failed: %s", DiskStatusName(Bench->ResetStatus));
        Result = 1;
    } else if (SubmitError != KSTATUS_SUCCESS) {
        ShellError("nvme", "submission failed: %s", DiskStatusName(SubmitError));
        Result = 1;
    } else if (Bench->PollError != KSTATUS_SUCCESS) {
        ShellError("nvme", "a polled command failed: %s", DiskStatusName(Bench->PollError));
        Result = 1;
    } else if (Bench->Errors > 0) {
        char Status[96];
        NVMeStatusFormat(Bench->FirstNvmeStatus, Status, sizeof(Status));
        ShellError("nvme", "%llu commands failed, the first with %s", Bench->Errors, Status);
        Result = 1;
    }
    if (Abandoned > 0) {
        // The device may still write into the buffers and the driver call back: leave everything allocated.
        ShellError("nvme", "%u commands did not complete within %llu s of the end; their buffers are leaked",
                   Abandoned, BENCH_DRAIN_TIMEOUT_NS / CLOCK_NS_PER_SECOND);
        return 1;
    }
    BenchFree(Bench);
    return Result;
}

