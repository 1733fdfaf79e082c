/*
 * Test-DriverCommon.h - what the driver tests against the NVMe model share:
 * binding the real driver (kernel/source/storage/nvme/NVMe-*.c, built
 * with -DNVME_HOST_MODEL) to a fresh model, patterns, a completion helper
 * for NVMeSubmitIO, and the leak snapshot.
 *
 * Include after cmocka.h and ModelTest.h. Each test:
 *   DRIVER_TEST T; DriverStart(&T, &Config);   bring-up through the host PCI core
 *   ... I/O, faults, checks ...
 *   DriverEnd(&T);                              shutdown hook, then ModelTestEnd
 * The driver keeps its controllers for ever (a process holds at most
 * NVME_MAX_CONTROLLERS), so each test binary brings up at most 16; each model
 * gets its own PCI segment and BAR0 so nothing of an earlier test overlaps.
 * DriverEnd runs the shutdown hook: a controller that was shut down (or
 * failed) never touches its registers again, so destroying the model is safe.
 *
 * Leaks are counted from outside: live DMA allocations (MemoryBus), driver
 * threads, MMIO mappings, free trackers per queue, pooled and extra waiter
 * events, interrupt vectors; DRIVER_SNAPSHOT compares two points.
 */

#ifndef TESTS_MODEL_TEST_DRIVER_COMMON_H_INCLUDED
#define TESTS_MODEL_TEST_DRIVER_COMMON_H_INCLUDED

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ModelTest.h"
#include "storage/nvme/NVMe.h"
#include "block/Disk.h"

typedef struct tag_DRIVER_TEST {
    NVME_MODEL* Model;
    U32 Index;                          // controller index in the driver
    NVME_CONTROLLER_INFO View;          // the last copy of its view (DriverInfo refreshes it)
    const NVME_CONTROLLER_INFO* Info;   // &View
    NVME_NAMESPACE* Ns;                 // namespace 1, when exposed
    PCI_DEVICE* Device;                 // the model's PCI function
    U64 StartNs;
    U64 InvalidTransitionsExpected;     // state changes the test provokes on purpose (0: the tables must hold)
} DRIVER_TEST;

static U32 DriverTestNumber;
static NVME_MODEL* DriverCurrentModel;  // the test's model until DriverEnd (the teardown cleans up after a failure)

/** The default model (QEMU 7.2) on its own segment and BAR0. */
static inline void DriverDefaultConfig(NVME_MODEL_CONFIG* Config) {
    NVMeModelDefaultConfig(Config);
    DriverTestNumber++;
    Config->PciSegment = (U16)DriverTestNumber;
    Config->Bar0 = 0xC0000000ULL + (U64)DriverTestNumber * 0x100000ULL;  // clear of the 0xFEExxxxx MSI window
}

/** Boot options for the next DriverStart (ModelTestBegin forgets options, so they are applied after it). */
static LPCSTR DriverOptionNames[4], DriverOptionValues[4];
static U32 DriverOptionCount;
static inline void DriverSetOption(LPCSTR Name, LPCSTR Value) {
    assert_true(DriverOptionCount < 4);
    DriverOptionNames[DriverOptionCount] = Name;
    DriverOptionValues[DriverOptionCount] = Value;
    DriverOptionCount++;
}

/** Command faults for the next DriverStart, added to the model before the driver binds (bring-up faults). */
static NVME_MODEL_FAULT DriverPendingCommandFaults[4];
static U32 DriverPendingCommandFaultCount;
static inline void DriverAddStartFault(const NVME_MODEL_FAULT* Fault) {
    assert_true(DriverPendingCommandFaultCount < 4);
    DriverPendingCommandFaults[DriverPendingCommandFaultCount++] = *Fault;
}

/** Called with the next DriverStart's model before the driver binds (firmware's doings: a controller left on). */
typedef void (*DRIVER_PRE_BIND)(NVME_MODEL* Model);
static DRIVER_PRE_BIND DriverPreBind;

/** Controller faults for the next DriverStart, set on the model before the driver binds (RDY never...). */
static NVME_MODEL_CONTROLLER_FAULTS DriverPendingFaults;
static BOOL DriverHavePendingFaults;
static inline void DriverSetControllerFaults(const NVME_MODEL_CONTROLLER_FAULTS* Faults) {
    DriverPendingFaults = *Faults;
    DriverHavePendingFaults = TRUE;
}

/**
 * Waits (platform time) until the controller's bring-up thread is done and gone: the threads left are the
 * controller's own (watchdog, poll thread) on top of the Threads there were before it was bound.
 */
static inline void DriverWaitBringUp(DRIVER_TEST* T, U32 Threads) {
    assert_true(NVMeWaitBringUp(2 * 3600 * 1000));  // two hours of platform time: any bring-up bound
    for (U32 I = 0; I < 100000; I++) {
        assert_int_equal(NVMeGetController(T->Index, &T->View), KSTATUS_SUCCESS);
        // At most, not exactly: a thread an earlier test left (a bring-up it gave up on ends at its own pace)
        // may end meanwhile, and then the count never comes back up to Threads (seen under host load).
        if (HostPlatformLiveThreadCount() <= Threads + T->View.ThreadsRunning) return;
        PlatformSleepMs(1);
    }
    fail_msg("the bring-up thread did not end (%u threads, %u before, %u of the controller)",
             HostPlatformLiveThreadCount(), Threads, T->View.ThreadsRunning);
}

/** Waits (platform time, bounded) until the controller's own threads have ended (after shutdown or removal). */
static inline void DriverWaitThreadsEnd(DRIVER_TEST* T) {
    for (U32 I = 0; I < 10000; I++) {
        if (NVMeGetController(T->Index, &T->View) != KSTATUS_SUCCESS || T->View.ThreadsRunning == 0) return;
        PlatformSleepMs(1);
    }
}

/** Binds the driver to a fresh model. The controller may have failed: check T->Info->State. */
static inline void DriverStartQuiet(DRIVER_TEST* T, const NVME_MODEL_CONFIG* Config) {
    memset(T, 0, sizeof(*T));
    ModelTestBegin();
    for (U32 I = 0; I < DriverOptionCount; I++) HostPlatformSetOption(DriverOptionNames[I], DriverOptionValues[I]);
    DriverOptionCount = 0;
    NVMeRegisterDriver();
    T->Model = ModelTestCreate(Config);
    DriverCurrentModel = T->Model;
    if (DriverHavePendingFaults) NVMeModelSetControllerFaults(T->Model, &DriverPendingFaults);
    DriverHavePendingFaults = FALSE;
    for (U32 I = 0; I < DriverPendingCommandFaultCount; I++) NVMeModelAddFault(T->Model, &DriverPendingCommandFaults[I]);
    DriverPendingCommandFaultCount = 0;  // their ids are 1, 2... in the order they were added
    if (DriverPreBind) DriverPreBind(T->Model);
    DriverPreBind = NULL;
    U32 Before = NVMeGetControllerCount();
    assert_true(Before < NVME_MAX_CONTROLLERS);
    // Threads of earlier controllers (a watchdog that saw its shutdown, a poll thread that saw its failure) end
    // first, so the count below is this controller's alone.
    U32 Threads = 0;
    for (U32 I = 0; I < 10000; I++) {
        Threads = 0;
        for (U32 C = 0; C < Before; C++) {
            NVME_CONTROLLER_INFO Earlier;
            if (NVMeGetController(C, &Earlier) == KSTATUS_SUCCESS) Threads += Earlier.ThreadsRunning;
        }
        if (HostPlatformLiveThreadCount() == Threads) break;  // every thread that said it ended is gone
        PlatformSleepMs(1);
    }
    PCI_DEVICE* Device = NVMeModelAttachPCI(T->Model);
    assert_non_null(Device);
    T->Device = Device;
    PCIBindDrivers();  // returns at once: the controller comes up on its own thread
    assert_int_equal(NVMeGetControllerCount(), Before + 1);
    T->Index = Before;
    T->Info = &T->View;
    DriverWaitBringUp(T, Threads);
    T->Ns = NVMeGetNamespace(T->Index, 1);
    T->StartNs = HostClockNowNs();
    DriverCurrentModel = T->Model;
}

/** Binds and expects a ready controller with namespace 1 exposed. */
static inline void DriverStart(DRIVER_TEST* T, const NVME_MODEL_CONFIG* Config) {
    DriverStartQuiet(T, Config);
    if (T->Info->State != NVME_STATE_READY) HostLogDump();
    assert_int_equal(T->Info->State, NVME_STATE_READY);
    assert_non_null(T->Ns);
}

/** A fresh copy of the controller's view (in T->View, so earlier pointers to it see it too). */
static inline const NVME_CONTROLLER_INFO* DriverInfo(DRIVER_TEST* T) {
    assert_int_equal(NVMeGetController(T->Index, &T->View), KSTATUS_SUCCESS);
    return &T->View;
}

/** Milliseconds of platform time since DriverStart. */
static inline U64 DriverElapsedMs(DRIVER_TEST* T) { return (HostClockNowNs() - T->StartNs) / 1000000ULL; }

/** Runs the shutdown hook (the controller goes quiet for good), then fails on any violation left. */
static inline void DriverEnd(DRIVER_TEST* T) {
    HostPlatformRunShutdownHooks(FALSE);
    DriverWaitThreadsEnd(T);  // the next test counts threads from a quiet start
    // Every state change of the test, the shutdown included, was one the driver's tables allow.
    if (DriverInfo(T)->InvalidTransitions != T->InvalidTransitionsExpected) HostLogDump();
    assert_int_equal(T->View.InvalidTransitions, T->InvalidTransitionsExpected);
    DriverCurrentModel = NULL;
    ModelTestEnd(T->Model);
    T->Model = NULL;
}

/** cmocka teardown: a test that failed half-way still quiets its controller and drops its model. */
static inline int DriverTeardown(void** State) {
    (void)State;
    if (DriverCurrentModel) {
        HostPlatformRunShutdownHooks(FALSE);
        HostPlatformWaitIdle(5000);
        NVMeModelDestroy(DriverCurrentModel);
    }
    DriverCurrentModel = NULL;
    return 0;
}

#define DRIVER_TEST_CASE(Function) cmocka_unit_test_teardown(Function, DriverTeardown)

/** Runs the tests whose name contains $CAIRN_TEST (all when unset). */
static inline int DriverRunTests(const struct CMUnitTest* Tests, SIZE Count) {
    static struct CMUnitTest Selected[64];
    LPCSTR Filter = getenv("CAIRN_TEST");
    SIZE Kept = 0;
    for (SIZE I = 0; I < Count && Kept < 64; I++) {
        if (Filter == NULL || strstr(Tests[I].name, Filter) != NULL) Selected[Kept++] = Tests[I];
    }
    return _cmocka_run_group_tests("driver", Selected, Kept, NULL, NULL);
}

/************************************************************************/
// Data

static inline void DriverFill(U8* Buffer, U64 Length, U64 Seed) {
    U64 X = Seed * 0x9E3779B97F4A7C15ULL + 1;
    for (U64 I = 0; I < Length; I++) {
        X ^= X << 13;
        X ^= X >> 7;
        X ^= X << 17;
        Buffer[I] = (U8)X;
    }
}

/** Bytes of the namespace as the model stores them. */
static inline void DriverBackendRead(DRIVER_TEST* T, U32 Nsid, U64 Offset, U8* Buffer, U64 Length) {
    assert_int_equal(DiskBackendRead(NVMeModelBackend(T->Model, Nsid), Offset, Buffer, Length), KSTATUS_SUCCESS);
}

/** A heap buffer the test frees with DriverFree (translations dropped first, as MemoryBus wants). */
static inline U8* DriverAlloc(U64 Length) {
    U8* Buffer = (U8*)aligned_alloc(4096, ALIGN_UP(Length + 64, 4096));
    assert_non_null(Buffer);
    return Buffer;
}

static inline void DriverFree(U8* Buffer, U64 Length) {
    MemoryBusForget(HostPlatformMemoryBus(), Buffer, ALIGN_UP(Length + 64, 4096));
    free(Buffer);
}

/** Writes Blocks of a seeded pattern at Lba through the driver and checks them through the driver. */
static inline void DriverWriteRead(DRIVER_TEST* T, U64 Lba, U32 Blocks, U64 Seed) {
    U64 Length = (U64)Blocks * 512;
    U8* Out = DriverAlloc(Length);
    U8* In = DriverAlloc(Length);
    DriverFill(Out, Length, Seed);
    assert_int_equal(NVMeWriteSync(T->Ns, Lba, Blocks, Out), KSTATUS_SUCCESS);
    memset(In, 0, Length);
    assert_int_equal(NVMeReadSync(T->Ns, Lba, Blocks, In), KSTATUS_SUCCESS);
    assert_memory_equal(In, Out, Length);
    DriverFree(Out, Length);
    DriverFree(In, Length);
}

/************************************************************************/
// Asynchronous completions

typedef struct tag_DRIVER_ASYNC {
    PLATFORM_EVENT* Event;
    U32 Expected;
    U32 Done;
    U32 Failed;
    KSTATUS LastStatus;
    U16 LastNvmeStatus;
} DRIVER_ASYNC;

static inline void DriverAsyncInit(DRIVER_ASYNC* Async, U32 Expected) {
    memset(Async, 0, sizeof(*Async));
    Async->Event = PlatformEventCreate(TRUE);
    Async->Expected = Expected;
}

/** NVME_IO_CALLBACK: counts, and signals when all expected completions arrived. */
static inline void DriverAsyncCallback(KSTATUS Status, U16 NvmeStatus, LPVOID Context) {
    DRIVER_ASYNC* Async = (DRIVER_ASYNC*)Context;
    if (Status != KSTATUS_SUCCESS) {
        __atomic_add_fetch(&Async->Failed, 1, __ATOMIC_ACQ_REL);
        Async->LastStatus = Status;
        Async->LastNvmeStatus = NvmeStatus;
    }
    if (__atomic_add_fetch(&Async->Done, 1, __ATOMIC_ACQ_REL) == Async->Expected) PlatformEventSignal(Async->Event);
}

/** Waits (platform time, so the virtual clock moves) for every expected completion. */
static inline BOOL DriverAsyncWait(DRIVER_ASYNC* Async, U32 TimeoutMs) {
    if (__atomic_load_n(&Async->Done, __ATOMIC_ACQUIRE) >= Async->Expected) return TRUE;
    PlatformEventWait(Async->Event, TimeoutMs);
    return __atomic_load_n(&Async->Done, __ATOMIC_ACQUIRE) >= Async->Expected;
}

static inline void DriverAsyncDestroy(DRIVER_ASYNC* Async) { PlatformEventDestroy(Async->Event); }

/************************************************************************/
// Worker threads: write-read rounds on namespace 1

/** One thread's share: its own LBA range, 16 + 8 x Number blocks a round, odd numbers through a misaligned buffer. */
typedef struct tag_DRIVER_WORKER {
    DRIVER_TEST* Test;
    U32 Number;
    U32 Rounds;
    U32 Failures;
    U32 Mismatches;
    PLATFORM_EVENT* Done;
} DRIVER_WORKER;

static inline void DriverWorkerThread(LPVOID Context) {
    DRIVER_WORKER* W = (DRIVER_WORKER*)Context;
    U32 Blocks = 16 + W->Number * 8;
    U64 Length = (U64)Blocks * 512 + 3;
    U8* Out = DriverAlloc(Length);
    U8* In = DriverAlloc(Length);
    U64 Lba = 20000 + (U64)W->Number * 4096;
    for (U32 Round = 0; Round < W->Rounds; Round++) {
        U8* Source = Out + (W->Number & 1);  // odd workers use a misaligned (bounced) buffer
        DriverFill(Source, (U64)Blocks * 512, W->Number * 1000 + Round);
        if (NVMeWriteSync(W->Test->Ns, Lba + Round % 8 * Blocks, Blocks, Source) != KSTATUS_SUCCESS) W->Failures++;
        if (NVMeReadSync(W->Test->Ns, Lba + Round % 8 * Blocks, Blocks, In) != KSTATUS_SUCCESS) W->Failures++;
        if (memcmp(In, Source, (U64)Blocks * 512) != 0) W->Mismatches++;
    }
    DriverFree(Out, Length);
    DriverFree(In, Length);
    PlatformEventSignal(W->Done);
}

/** Starts Count workers of Rounds rounds each. */
static inline void DriverWorkersStart(DRIVER_TEST* T, DRIVER_WORKER* Workers, U32 Count, U32 Rounds) {
    for (U32 I = 0; I < Count; I++) {
        Workers[I] = (DRIVER_WORKER){T, I, Rounds, 0, 0, PlatformEventCreate(TRUE)};
        assert_non_null(Workers[I].Done);
        assert_true(PlatformThreadCreate("worker", DriverWorkerThread, &Workers[I]));
    }
}

/** Waits for every worker (an hour of platform time at most): none failed a request or read back other bytes. */
static inline void DriverWorkersFinish(DRIVER_WORKER* Workers, U32 Count) {
    for (U32 I = 0; I < Count; I++) {
        assert_true(PlatformEventWait(Workers[I].Done, 3600000U));
        assert_int_equal(Workers[I].Failures, 0);
        assert_int_equal(Workers[I].Mismatches, 0);
        PlatformEventDestroy(Workers[I].Done);
    }
}

/************************************************************************/
// Leaks

static inline void DriverSettle(DRIVER_TEST* T);

typedef struct tag_DRIVER_SNAPSHOT {
    U64 DmaAllocations, DmaBytes;
    U32 Threads, Mappings;
    U32 Queues;
    U16 FreeTrackers[1 + NVME_MAX_IO_QUEUES];
    U32 WaiterEventsFree, ExtraWaiterEvents;
    U32 Vectors;
    U32 AerOutstanding;
} DRIVER_SNAPSHOT;

static inline void DriverSnapshot(DRIVER_TEST* T, DRIVER_SNAPSHOT* S) {
    MEMORY_BUS_STATS Bus;
    DriverSettle(T);
    memset(S, 0, sizeof(*S));
    MemoryBusGetStats(HostPlatformMemoryBus(), &Bus);
    S->DmaAllocations = Bus.Allocations;
    S->DmaBytes = Bus.AllocatedBytes;
    S->Threads = HostPlatformLiveThreadCount();
    S->Mappings = HostMmioMappingCount();
    const NVME_CONTROLLER_INFO* Info = DriverInfo(T);
    S->Queues = Info->QueueCount;
    for (U32 I = 0; I < Info->QueueCount; I++) S->FreeTrackers[I] = Info->Queues[I].FreeTrackers;
    S->WaiterEventsFree = Info->WaiterEventsFree;
    S->ExtraWaiterEvents = Info->ExtraWaiterEvents;
    S->Vectors = Info->VectorCount;
    S->AerOutstanding = Info->AerOutstanding;
}

/** Nothing allocated, started or taken between the two snapshots (idle controller at both). */
static inline void DriverExpectNoLeak(const DRIVER_SNAPSHOT* Before, const DRIVER_SNAPSHOT* After) {
    assert_int_equal(After->DmaAllocations, Before->DmaAllocations);
    assert_int_equal(After->DmaBytes, Before->DmaBytes);
    assert_int_equal(After->Threads, Before->Threads);
    assert_int_equal(After->Mappings, Before->Mappings);
    assert_int_equal(After->Queues, Before->Queues);
    for (U32 I = 0; I < Before->Queues; I++) assert_int_equal(After->FreeTrackers[I], Before->FreeTrackers[I]);
    assert_int_equal(After->WaiterEventsFree, Before->WaiterEventsFree);
    assert_int_equal(After->ExtraWaiterEvents, 0);
    assert_int_equal(After->Vectors, Before->Vectors);
    assert_int_equal(After->AerOutstanding, Before->AerOutstanding);
}

/** TRUE when every queue is idle: all trackers free but the AERs', nothing held or retrying. */
static inline BOOL DriverIdle(DRIVER_TEST* T) {
    const NVME_CONTROLLER_INFO* Info = DriverInfo(T);
    for (U32 I = 0; I < Info->QueueCount; I++) {
        const NVME_QUEUE_INFO* Q = &Info->Queues[I];
        U32 Busy = I == 0 ? Info->AerOutstanding : 0;
        if (Q->FreeTrackers + Busy != Q->Trackers || Q->Held || Q->Retrying || Q->Outstanding != Busy) return FALSE;
    }
    // A reset is over only once its I/O queues are back (or the controller gave up).
    if (Info->State == NVME_STATE_RESETTING) return FALSE;
    return Info->State != NVME_STATE_READY || Info->QueueCount == 1 + Info->IoQueueCount;
}

/**
 * Waits (a little platform time) for the controller to settle: a waiter wakes from inside its command's
 * completion, before the tracker is given back, and AERs are re-armed by the watchdog.
 */
static inline void DriverSettle(DRIVER_TEST* T) {
    // Platform time is virtual and cheap: allow a reset its full ready timeout, not just a moment.
    for (U32 I = 0; I < 10000 && !DriverIdle(T); I++) PlatformSleepMs(1);
}

/** Every queue idle: all trackers free but the AERs, nothing held or retrying. */
static inline void DriverExpectIdle(DRIVER_TEST* T) {
    DriverSettle(T);
    const NVME_CONTROLLER_INFO* Info = DriverInfo(T);
    for (U32 I = 0; I < Info->QueueCount; I++) {
        const NVME_QUEUE_INFO* Q = &Info->Queues[I];
        U32 Busy = I == 0 ? Info->AerOutstanding : 0;
        assert_int_equal(Q->FreeTrackers + Busy, Q->Trackers);
        assert_int_equal(Q->Held, 0);
        assert_int_equal(Q->Retrying, 0);
        assert_int_equal(Q->Outstanding, Busy);
    }
}

/** The DISK of namespace Nsid of the test's controller ("nvme0n1"...), or NULL. */
static inline DISK* DriverFindDisk(DRIVER_TEST* T, U32 Nsid) {
    char Name[DISK_NAME_LENGTH];
    snprintf(Name, sizeof(Name), "%sn%u", DriverInfo(T)->Name, Nsid);
    return DiskFind(Name);
}

static inline NVME_MODEL_FAULT DriverFault(NVME_MODEL_FAULT_KIND Kind, U16 Queue, U16 Opcode, U32 Nth) {
    NVME_MODEL_FAULT F;
    memset(&F, 0, sizeof(F));
    F.Kind = Kind;
    F.Match.QueueId = Queue;
    F.Match.Opcode = Opcode;
    F.Match.Nth = Nth;
    return F;
}

#endif  // TESTS_MODEL_TEST_DRIVER_COMMON_H_INCLUDED
