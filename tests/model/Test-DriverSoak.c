/*
 * Test-DriverSoak.c - seeded random workloads with random faults against the
 * NVMe driver on the controller model, checked against a shadow copy.
 *
 * Per seed: a random controller (processing inline or on a model thread;
 * MSI-X, MSI, INTx or polling; 1..4 I/O queues; deep or shallow queues;
 * doorbell stride 0..2) with random per-command faults (lost completions,
 * retryable and final error statuses, completions held back, interrupts not
 * raised), and threads that each own a region of the namespace and run
 * reads and writes of 512 B to 1 MiB at random offsets, from misaligned and
 * aligned buffers, synchronously and as bursts of asynchronous commands,
 * with trims, write-zeroes and flushes; one more thread resets the
 * controller now and then or raises CSTS.CFS.
 *
 * Invariants: every write the driver acknowledged reads back (a block a
 * failed write touched is "unknown" until written again); a read that
 * succeeds matches every known block; every failure reaches its caller as
 * an error (a DNR-set fault never turns into a success); the run ends
 * within its bound, every thread returns, and afterwards the controller is
 * idle, nothing leaked, and a fault-free pass reads every known block back.
 *
 * CI runs the fixed seeds below; `make soak-model` runs many more (see
 * tests/model/model.mk): CAIRN_SOAK_FIRST and CAIRN_SOAK_COUNT choose the
 * seeds (at most 14 per process: the driver keeps its controllers), and
 * CAIRN_SOAK_OPS the operations per thread.
 */
// SOURCES: storage/nvme/NVMe-Admin.c storage/nvme/NVMe-Core.c storage/nvme/NVMe-Deadline.c storage/nvme/NVMe-Disk.c storage/nvme/NVMe-DSM.c storage/nvme/NVMe-Features.c storage/nvme/NVMe-Health.c storage/nvme/NVMe-IO.c storage/nvme/NVMe-PRP.c storage/nvme/NVMe-Queue.c storage/nvme/NVMe-Recovery.c storage/nvme/NVMe-Request.c storage/nvme/NVMe-Spec.c storage/nvme/NVMe-State.c block/Disk.c
// CFLAGS: -DNVME_HOST_MODEL

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <time.h>

#include "Test-DriverCommon.h"

#define SOAK_THREADS_MAX 4
#define REGION_BLOCKS 32768ULL      // 16 MiB of 512-byte blocks per thread
#define MAX_IO_BLOCKS 2048U         // 1 MiB
#define ASYNC_BURST 8
#define REAL_BOUND_MS 120000ULL     // one seed must end within this much real time

static const U64 CiSeeds[] = {1, 2, 3, 4, 5, 6, 7, 8};

typedef struct tag_RNG {
    U64 State;
} RNG;

static U64 Next(RNG* R) {
    R->State ^= R->State << 13;
    R->State ^= R->State >> 7;
    R->State ^= R->State << 17;
    return R->State;
}

static U64 Below(RNG* R, U64 Limit) { return Limit ? Next(R) % Limit : 0; }

typedef struct tag_SOAK_THREAD {
    DRIVER_TEST* Test;
    U32 Number;
    U64 Seed;
    U32 Operations;
    U64 FirstLba;
    U8* Shadow;      // REGION_BLOCKS * 512
    U8* Known;       // per block: 1 when Shadow holds the block's content
    U8* Write;       // MAX_IO_BLOCKS * 512 + 64
    U8* Read;
    // Results
    U64 Writes, Reads, Trims, Zeroes, Flushes, Asyncs;
    U64 Failures;            // errors callers got
    U64 Mismatches;          // a successful read differing from a known block: the invariant broken
    U64 BadStatuses;         // an error that is not one a failure may give
    KSTATUS FirstMismatchStatus;
    PLATFORM_EVENT* Done;
} SOAK_THREAD;

typedef struct tag_ASYNC_ONE {
    U64 Lba;
    U32 Blocks;
    KSTATUS Status;
    U32 Finished;
} ASYNC_ONE;

typedef struct tag_ASYNC_BATCH {
    ASYNC_ONE Ones[ASYNC_BURST];
    U32 Outstanding;
    PLATFORM_EVENT* Event;
} ASYNC_BATCH;

static void BatchCallback(KSTATUS Status, U16 NvmeStatus, LPVOID Context) {
    (void)NvmeStatus;
    ASYNC_ONE* One = (ASYNC_ONE*)Context;
    One->Status = Status;
    __atomic_store_n(&One->Finished, 1, __ATOMIC_RELEASE);
}

static BOOL FailureStatusValid(KSTATUS Status) {
    return Status == KSTATUS_IO_ERROR || Status == KSTATUS_TIMEOUT || Status == KSTATUS_BUSY ||
           Status == KSTATUS_NO_PERMISSION;
}

static void MarkUnknown(SOAK_THREAD* S, U64 Offset, U32 Blocks) { memset(S->Known + Offset, 0, Blocks); }

static void Record(SOAK_THREAD* S, U64 Offset, U32 Blocks, const U8* Data) {
    memcpy(S->Shadow + Offset * 512, Data, (U64)Blocks * 512);
    memset(S->Known + Offset, 1, Blocks);
}

static void Compare(SOAK_THREAD* S, U64 Offset, U32 Blocks, const U8* Data) {
    for (U32 B = 0; B < Blocks; B++) {
        if (!S->Known[Offset + B]) continue;
        if (memcmp(S->Shadow + (Offset + B) * 512, Data + (U64)B * 512, 512) != 0) {
            if (S->Mismatches++ == 0) {
                fprintf(stderr, "soak: thread %u block %llu differs from what was acknowledged\n", S->Number,
                        (unsigned long long)(S->FirstLba + Offset + B));
            }
        }
    }
}

static void Failed(SOAK_THREAD* S, KSTATUS Status) {
    S->Failures++;
    if (!FailureStatusValid(Status)) {
        if (S->BadStatuses++ == 0) fprintf(stderr, "soak: thread %u: unexpected error %d\n", S->Number, Status);
    }
}

static void AsyncBurst(SOAK_THREAD* S, RNG* R) {
    NVME_NAMESPACE* Ns = S->Test->Ns;
    U32 MaxBlocks = MIN(NVMeGetNamespaceInfo(Ns)->MaxBlocksPerCommand, 256U);
    ASYNC_BATCH Batch;
    memset(&Batch, 0, sizeof(Batch));
    U32 Count = 1 + (U32)Below(R, ASYNC_BURST);
    U32 Slice = (U32)(REGION_BLOCKS / ASYNC_BURST);
    BOOL Write = Below(R, 2) == 0;
    U8* Buffers[ASYNC_BURST];
    for (U32 I = 0; I < Count; I++) {
        ASYNC_ONE* One = &Batch.Ones[I];
        One->Blocks = 1 + (U32)Below(R, MaxBlocks);
        One->Lba = I * Slice + Below(R, Slice - One->Blocks);  // disjoint slices: no two in flight overlap
        Buffers[I] = DriverAlloc((U64)One->Blocks * 512);
        if (Write) DriverFill(Buffers[I], (U64)One->Blocks * 512, Next(R));
        KSTATUS Status = NVMeSubmitIO(Ns, Write ? NVME_IO_WRITE : NVME_IO_READ, S->FirstLba + One->Lba, One->Blocks,
                                      Buffers[I], BatchCallback, One);
        if (Status != KSTATUS_SUCCESS) {
            One->Status = Status;
            One->Finished = 1;
        }
        if (Write) MarkUnknown(S, One->Lba, One->Blocks);  // in flight: unknown until acknowledged
    }
    for (U32 Wait = 0; Wait < 100000; Wait++) {
        U32 Finished = 0;
        for (U32 I = 0; I < Count; I++) Finished += __atomic_load_n(&Batch.Ones[I].Finished, __ATOMIC_ACQUIRE);
        if (Finished == Count) break;
        PlatformSleepMs(5);
    }
    for (U32 I = 0; I < Count; I++) {
        ASYNC_ONE* One = &Batch.Ones[I];
        assert_int_equal(One->Finished, 1);  // every callback came
        if (One->Status != KSTATUS_SUCCESS) {
            Failed(S, One->Status);
        } else if (Write) {
            Record(S, One->Lba, One->Blocks, Buffers[I]);
        } else {
            Compare(S, One->Lba, One->Blocks, Buffers[I]);
        }
        DriverFree(Buffers[I], (U64)One->Blocks * 512);
    }
    S->Asyncs += Count;
}

static void SoakThread(LPVOID Context) {
    SOAK_THREAD* S = (SOAK_THREAD*)Context;
    RNG R = {S->Seed * 0x9E3779B97F4A7C15ULL + S->Number + 1};
    NVME_NAMESPACE* Ns = S->Test->Ns;
    for (U32 Op = 0; Op < S->Operations; Op++) {
        U64 Kind = Below(&R, 100);
        U32 Blocks = Below(&R, 4) == 0 ? 1 + (U32)Below(&R, MAX_IO_BLOCKS) : 1 + (U32)Below(&R, 64);
        U64 Offset = Below(&R, REGION_BLOCKS - Blocks + 1);
        U32 Misalign = Below(&R, 3) == 0 ? (U32)Below(&R, 8) : 0;
        if (Kind < 40) {
            U8* Data = S->Write + Misalign;
            DriverFill(Data, (U64)Blocks * 512, Next(&R));
            KSTATUS Status = NVMeWriteSync(Ns, S->FirstLba + Offset, Blocks, Data);
            if (Status == KSTATUS_SUCCESS) Record(S, Offset, Blocks, Data);
            else {
                MarkUnknown(S, Offset, Blocks);
                Failed(S, Status);
            }
            S->Writes++;
        } else if (Kind < 80) {
            U8* Data = S->Read + Misalign;
            memset(Data, 0xEE, (U64)Blocks * 512);
            KSTATUS Status = NVMeReadSync(Ns, S->FirstLba + Offset, Blocks, Data);
            if (Status == KSTATUS_SUCCESS) Compare(S, Offset, Blocks, Data);
            else Failed(S, Status);
            S->Reads++;
        } else if (Kind < 90) {
            AsyncBurst(S, &R);
        } else if (Kind < 94) {
            KSTATUS Status = NVMeTrim(Ns, S->FirstLba + Offset, Blocks);
            MarkUnknown(S, Offset, Blocks);  // deallocated blocks need not read back as anything in particular
            if (Status != KSTATUS_SUCCESS) Failed(S, Status);
            S->Trims++;
        } else if (Kind < 97) {
            KSTATUS Status = NVMeWriteZeroes(Ns, S->FirstLba + Offset, Blocks);
            if (Status == KSTATUS_SUCCESS) {
                memset(S->Shadow + Offset * 512, 0, (U64)Blocks * 512);
                memset(S->Known + Offset, 1, Blocks);
            } else {
                MarkUnknown(S, Offset, Blocks);
                Failed(S, Status);
            }
            S->Zeroes++;
        } else {
            KSTATUS Status = NVMeFlushSync(Ns);
            if (Status != KSTATUS_SUCCESS) Failed(S, Status);
            S->Flushes++;
        }
    }
    PlatformEventSignal(S->Done);
}

typedef struct tag_DISTURBER {
    DRIVER_TEST* Test;
    U64 Seed;
    volatile U32 Stop;
    U32 Resets, Fatals;
    PLATFORM_EVENT* Done;
} DISTURBER;

static void DisturbThread(LPVOID Context) {
    DISTURBER* D = (DISTURBER*)Context;
    RNG R = {D->Seed * 31 + 7};
    while (!__atomic_load_n(&D->Stop, __ATOMIC_ACQUIRE)) {
        PlatformSleepMs(5000 + (U32)Below(&R, 40000));  // longer than a deadline now and then: timeouts happen too
        if (__atomic_load_n(&D->Stop, __ATOMIC_ACQUIRE)) break;
        if (Below(&R, 3) == 0) {
            NVMeModelRaiseFatal(D->Test->Model);
            D->Fatals++;
        } else {
            KSTATUS Status = NVMeResetController(D->Test->Index);
            if (Status == KSTATUS_SUCCESS) D->Resets++;
        }
    }
    PlatformEventSignal(D->Done);
}

static void AddRandomFaults(NVME_MODEL* Model, RNG* R, U32* DnrFault) {
    NVME_MODEL_FAULT F;
    memset(&F, 0, sizeof(F));
    F.Match.QueueId = NVME_MODEL_IO_QUEUES;
    F.Match.Opcode = NVME_MODEL_ANY_OPCODE;
    F.Kind = NVME_FAULT_DROP_COMPLETION;
    F.Match.PerMille = 4 + (U32)Below(R, 9);
    NVMeModelAddFault(Model, &F);
    F.Kind = NVME_FAULT_ERROR_STATUS;
    F.Status = NM_STATUS(0, NM_SC_INTERNAL_ERROR);  // DNR clear: retried
    F.Match.PerMille = 10 + (U32)Below(R, 30);
    NVMeModelAddFault(Model, &F);
    F.Status = NM_STATUS(2, 0x81) | NM_STATUS_DNR;  // final: reaches the caller
    F.Match.Opcode = NM_IO_READ;
    F.Match.PerMille = 5 + (U32)Below(R, 10);
    *DnrFault = NVMeModelAddFault(Model, &F);
    F.Status = NM_STATUS(2, 0x80) | NM_STATUS_DNR;  // Write Fault
    F.Match.Opcode = NM_IO_WRITE;
    F.Match.PerMille = 3 + (U32)Below(R, 7);
    NVMeModelAddFault(Model, &F);
    F.Kind = NVME_FAULT_HOLD_COMPLETION;
    F.Match.Opcode = NVME_MODEL_ANY_OPCODE;
    F.Status = 0;
    F.HoldCompletions = 1 + (U32)Below(R, 6);
    F.HoldMs = 20;
    F.Match.PerMille = 20 + (U32)Below(R, 40);
    NVMeModelAddFault(Model, &F);
    F.Kind = NVME_FAULT_SKIP_INTERRUPT;
    F.Match.QueueId = NVME_MODEL_ANY_QUEUE;
    F.Match.PerMille = 5 + (U32)Below(R, 15);
    NVMeModelAddFault(Model, &F);
}

static U64 RealMs(void) {
    struct timespec Now;
    clock_gettime(CLOCK_MONOTONIC, &Now);
    return (U64)Now.tv_sec * 1000 + (U64)Now.tv_nsec / 1000000;
}

static U32 EnvU32(LPCSTR Name, U32 Default) {
    LPCSTR Value = getenv(Name);
    return Value ? (U32)strtoul(Value, NULL, 0) : Default;
}

static void RunSeed(U64 Seed, U32 Operations) {
    RNG R = {Seed * 0x2545F4914F6CDD1DULL + 99};
    U64 RealStart = RealMs();
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    Config.Seed = Seed;
    Config.Mode = Below(&R, 2) ? NVME_MODEL_THREAD : NVME_MODEL_INLINE;
    Config.Dstrd = (U8)Below(&R, 3);
    U64 Depth = Below(&R, 3);
    Config.Mqes = Depth == 0 ? 15 : Depth == 1 ? 127 : 2047;
    U32 Interrupts = (U32)Below(&R, 4);
    if (Interrupts == 1) NVMeModelApplyPreset(&Config, NVME_PRESET_NO_MSIX);
    if (Interrupts == 2) NVMeModelApplyPreset(&Config, NVME_PRESET_INTX_ONLY);
    if (Interrupts == 3) DriverSetOption("nvme.poll", "1");
    static char Queues[4];
    snprintf(Queues, sizeof(Queues), "%u", 1 + (U32)Below(&R, 4));
    DriverSetOption("nvme.queues", Queues);
    U32 Threads = 2 + (U32)Below(&R, SOAK_THREADS_MAX - 1);
    Config.Namespaces[0].Blocks = REGION_BLOCKS * SOAK_THREADS_MAX;

    DRIVER_TEST T;
    DriverStart(&T, &Config);
    fprintf(stderr, "soak seed %llu: %s, %s, %u queue(s) of %u, DSTRD %u, %u threads x %u operations\n",
            (unsigned long long)Seed, Config.Mode == NVME_MODEL_THREAD ? "model thread" : "inline",
            T.Info->Polling ? "polling" : PCIInterruptModeName(T.Info->InterruptMode), T.Info->IoQueueCount,
            T.Info->Queues[1].Depth, Config.Dstrd, Threads, Operations);
    DRIVER_SNAPSHOT Before, After;
    DriverSnapshot(&T, &Before);
    U32 DnrFault = 0;
    AddRandomFaults(T.Model, &R, &DnrFault);

    SOAK_THREAD Workers[SOAK_THREADS_MAX];
    for (U32 I = 0; I < Threads; I++) {
        SOAK_THREAD* S = &Workers[I];
        memset(S, 0, sizeof(*S));
        S->Test = &T;
        S->Number = I;
        S->Seed = Seed;
        S->Operations = Operations;
        S->FirstLba = I * REGION_BLOCKS;
        S->Shadow = (U8*)calloc(REGION_BLOCKS, 512);
        S->Known = (U8*)calloc(REGION_BLOCKS, 1);
        S->Write = DriverAlloc(MAX_IO_BLOCKS * 512ULL + 64);
        S->Read = DriverAlloc(MAX_IO_BLOCKS * 512ULL + 64);
        S->Done = PlatformEventCreate(TRUE);
        assert_non_null(S->Shadow);
        assert_non_null(S->Known);
        assert_true(PlatformThreadCreate("soak", SoakThread, S));
    }
    DISTURBER D;
    memset(&D, 0, sizeof(D));
    D.Test = &T;
    D.Seed = Seed;
    D.Done = PlatformEventCreate(TRUE);
    assert_true(PlatformThreadCreate("disturb", DisturbThread, &D));

    for (U32 I = 0; I < Threads; I++) {
        while (!PlatformEventWait(Workers[I].Done, 60000)) {
            if (RealMs() - RealStart > REAL_BOUND_MS) fail_msg("seed %llu: thread %u did not end", Seed, I);
        }
    }
    __atomic_store_n(&D.Stop, 1, __ATOMIC_RELEASE);
    assert_true(PlatformEventWait(D.Done, 600000));
    U32 DnrHits = NVMeModelFaultHits(T.Model, DnrFault);
    NVMeModelClearFaults(T.Model);

    U64 Failures = 0, Writes = 0, Reads = 0, Asyncs = 0;
    for (U32 I = 0; I < Threads; I++) {
        SOAK_THREAD* S = &Workers[I];
        assert_int_equal(S->Mismatches, 0);
        assert_int_equal(S->BadStatuses, 0);
        Failures += S->Failures;
        Writes += S->Writes;
        Reads += S->Reads;
        Asyncs += S->Asyncs;
    }
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    // A final error given by the device can only be a failure: never lost, never turned into a success.
    if (DnrHits) assert_true(Failures >= 1);
    assert_true(Info->State == NVME_STATE_READY);
    fprintf(stderr, "soak seed %llu: %llu writes, %llu reads, %llu async, %llu failures reported, %u DNR read faults, "
            "%llu resets (%u asked, %u CFS), %llu timeouts, %llu retries, %llu missed interrupts, %llu ms real, "
            "%llu s virtual\n",
            (unsigned long long)Seed, (unsigned long long)Writes, (unsigned long long)Reads,
            (unsigned long long)Asyncs, (unsigned long long)Failures, DnrHits, (unsigned long long)Info->Resets,
            D.Resets, D.Fatals, (unsigned long long)Info->Timeouts, (unsigned long long)Info->Retries,
            (unsigned long long)Info->MissedInterrupts, (unsigned long long)(RealMs() - RealStart),
            (unsigned long long)(DriverElapsedMs(&T) / 1000));

    // Fault-free: everything known reads back, through the driver and on the medium.
    for (U32 I = 0; I < Threads; I++) {
        SOAK_THREAD* S = &Workers[I];
        for (U64 Lba = 0; Lba < REGION_BLOCKS; Lba += MAX_IO_BLOCKS) {
            assert_int_equal(NVMeReadSync(T.Ns, S->FirstLba + Lba, MAX_IO_BLOCKS, S->Read), KSTATUS_SUCCESS);
            Compare(S, Lba, MAX_IO_BLOCKS, S->Read);
        }
        assert_int_equal(S->Mismatches, 0);
    }
    DriverExpectIdle(&T);
    DriverSnapshot(&T, &After);
    DriverExpectNoLeak(&Before, &After);
    for (U32 I = 0; I < Threads; I++) {
        SOAK_THREAD* S = &Workers[I];
        free(S->Shadow);
        free(S->Known);
        DriverFree(S->Write, MAX_IO_BLOCKS * 512ULL + 64);
        DriverFree(S->Read, MAX_IO_BLOCKS * 512ULL + 64);
        PlatformEventDestroy(S->Done);
    }
    PlatformEventDestroy(D.Done);
    assert_true(RealMs() - RealStart < REAL_BOUND_MS);
    DriverEnd(&T);
}

static void test_soak(void** State) {
    (void)State;
    // Faults make the driver warn by design: echo errors only (CAIRN_MODEL_LOG still chooses).
    if (getenv("CAIRN_MODEL_LOG") == NULL) HostLogSetEchoLevel(LOG_LEVEL_ERROR);
    U32 Operations = EnvU32("CAIRN_SOAK_OPS", 400);
    U32 First = EnvU32("CAIRN_SOAK_FIRST", 0);
    U32 Count = EnvU32("CAIRN_SOAK_COUNT", 0);
    if (Count == 0) {
        for (U32 I = 0; I < ARRAY_COUNT(CiSeeds); I++) RunSeed(CiSeeds[I], Operations);
        return;
    }
    assert_true(Count <= 14);
    for (U32 I = 0; I < Count; I++) RunSeed(1000 + First + I, Operations);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        DRIVER_TEST_CASE(test_soak),
    };
    return DriverRunTests(Tests, ARRAY_COUNT(Tests));
}
