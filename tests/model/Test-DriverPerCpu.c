/*
 * Test-DriverPerCpu.c - the NVMe fast path on several CPUs, the real driver
 * against the controller model on a host platform that reports several CPUs
 * (HostPlatformSetCpuCount, HostPlatformSetCurrentCpu):
 *  - one I/O queue pair per CPU, each alone on an MSI-X vector aimed at its
 *    CPU; a submission goes to the submitting CPU's queue, CPUs beyond the
 *    queues share them by index;
 *  - the vector's messages reach that CPU, and I/O completions run in the
 *    interrupt there (the platform flags anything that blocks in it);
 *  - batches: NVMeSubmitIOBatch and a split request write the SQ tail
 *    doorbell once per batch (the model counts tail writes per queue);
 *  - a queue alone on its vector claims an interrupt that finds nothing,
 *    a queue sharing one (MSI, or the admin queue's vector when fewer
 *    MSI-X vectors than queues were granted) does not;
 *  - nvme.poll_queues: extra pairs created without interrupts take the
 *    synchronous single commands, reaped by their waiters; asynchronous and
 *    split requests stay on the interrupt queues.
 */
// SOURCES: $(NVME_DRIVER_SOURCES)

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "Test-DriverCommon.h"
#include "storage/nvme/NVMe-Internal.h"

static U32 CpusForNextStart;

static void SetCpus(NVME_MODEL* Model) {
    UNUSED(Model);
    HostPlatformSetCpuCount(CpusForNextStart);  // after ModelTestBegin (which puts 1 back), before the bind
}

/** Binds to a model made from Config on a platform of Cpus CPUs. */
static void StartConfigWithCpus(DRIVER_TEST* T, const NVME_MODEL_CONFIG* Config, U32 Cpus) {
    CpusForNextStart = Cpus;
    DriverPreBind = SetCpus;
    DriverStart(T, Config);
}

static void StartWithCpus(DRIVER_TEST* T, U32 Cpus) {
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    StartConfigWithCpus(T, &Config, Cpus);
}

static U64 SqTailWrites(DRIVER_TEST* T, U16 Qid) {
    NVME_MODEL_STATS Stats;
    NVMeModelGetStats(T->Model, &Stats);
    return Stats.SqTailWrites[Qid];
}

/** Four CPUs: four pairs, vector q aimed at CPU q - 1, and each CPU's reads on its own queue (CPUs 4, 5 share). */
static void TestQueuePerCpuAndVectorTargets(void** State) {
    (void)State;
    DRIVER_TEST T;
    StartWithCpus(&T, 4);
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->InterruptMode, PCI_INTERRUPT_MSIX);
    assert_int_equal(Info->IoQueuesRequested, 4);
    assert_int_equal(Info->IoQueueCount, 4);
    assert_false(Info->Queues[0].OwnVector);  // the admin queue keeps the bottom half and the strict claim
    for (U32 Q = 1; Q <= 4; Q++) {
        assert_true(Info->Queues[Q].OwnVector);
        assert_int_equal(Info->Queues[Q].MessageIndex, Q);
        assert_int_equal(Info->Queues[Q].TargetCpu, Q - 1);
    }
    U8* Buffer = DriverAlloc(4096);
    for (U32 Cpu = 0; Cpu < 6; Cpu++) {
        U32 Expected = 1 + Cpu % 4;
        NVME_CONTROLLER_INFO Before = *DriverInfo(&T);
        HostPlatformSetCurrentCpu(Cpu);
        assert_int_equal(NVMeReadSync(T.Ns, 64 * Cpu, 8, Buffer), KSTATUS_SUCCESS);
        HostPlatformSetCurrentCpu(0);
        Info = DriverInfo(&T);
        for (U32 Q = 1; Q <= 4; Q++) {
            U64 Added = Info->Queues[Q].Submitted - Before.Queues[Q].Submitted;
            assert_int_equal(Added, Q == Expected ? 1 : 0);
        }
        // The completion's message went to the CPU the queue's vector is aimed at.
        assert_int_equal(HostInterruptVectorCpu(Info->Queues[Expected].CpuVector), Expected - 1);
        assert_true(Info->Queues[Expected].Interrupts > Before.Queues[Expected].Interrupts);
    }
    DriverFree(Buffer, 4096);
    DriverEnd(&T);
}

typedef struct tag_WHERE {
    DRIVER_ASYNC Async;
    U32 InInterrupt;
    U32 OnCpu[4];
} WHERE;

/** NVME_IO_CALLBACK: notes whether it runs in an interrupt handler and as which CPU. */
static void WhereCallback(KSTATUS Status, U16 NvmeStatus, LPVOID Context) {
    WHERE* Where = (WHERE*)Context;
    if (HostPlatformInInterrupt()) __atomic_add_fetch(&Where->InInterrupt, 1, __ATOMIC_RELAXED);
    U32 Cpu = PlatformCurrentCpu();
    if (Cpu < 4) __atomic_add_fetch(&Where->OnCpu[Cpu], 1, __ATOMIC_RELAXED);
    DriverAsyncCallback(Status, NvmeStatus, &Where->Async);
}

/** Completions of I/O end in the interrupt itself, on the submitting CPU's vector, no bottom half between. */
static void TestCompletionInInterrupt(void** State) {
    (void)State;
    DRIVER_TEST T;
    StartWithCpus(&T, 2);
    U8* Buffer = DriverAlloc(16 * 4096);
    for (U32 Cpu = 0; Cpu < 2; Cpu++) {
        WHERE Where;
        memset(&Where, 0, sizeof(Where));
        DriverAsyncInit(&Where.Async, 16);
        HostPlatformSetCurrentCpu(Cpu);
        for (U32 I = 0; I < 16; I++) {
            assert_int_equal(NVMeSubmitIO(T.Ns, NVME_IO_READ, 8 * I, 8, Buffer + 4096 * I, WhereCallback, &Where),
                             KSTATUS_SUCCESS);
        }
        HostPlatformSetCurrentCpu(0);
        assert_true(DriverAsyncWait(&Where.Async, 5000));
        assert_int_equal(Where.Async.Failed, 0);
        assert_int_equal(Where.InInterrupt, 16);
        assert_int_equal(Where.OnCpu[Cpu], 16);
        DriverAsyncDestroy(&Where.Async);
    }
    DriverFree(Buffer, 16 * 4096);
    DriverEnd(&T);
}

/** One SQ tail doorbell per batch: 8 asynchronous reads, 40 (32 + 8), and a read split into 8 commands. */
static void TestBatchRingsOnce(void** State) {
    (void)State;
    DRIVER_TEST T;
    StartWithCpus(&T, 2);
    U8* Buffer = DriverAlloc(40 * 4096);
    U32 Counts[] = {8, 40};
    U64 Doorbells[] = {1, 2};
    for (U32 Round = 0; Round < 2; Round++) {
        NVME_IO_REQUEST Requests[40];
        DRIVER_ASYNC Async;
        DriverAsyncInit(&Async, Counts[Round]);
        for (U32 I = 0; I < Counts[Round]; I++) {
            Requests[I] = (NVME_IO_REQUEST){NVME_IO_READ, 8 * I, 8, Buffer + 4096 * I, DriverAsyncCallback, &Async};
        }
        U64 Before = SqTailWrites(&T, 2);
        U32 Submitted = 0;
        HostPlatformSetCurrentCpu(1);  // CPU 1: queue 2
        assert_int_equal(NVMeSubmitIOBatch(T.Ns, Requests, Counts[Round], &Submitted), KSTATUS_SUCCESS);
        HostPlatformSetCurrentCpu(0);
        assert_int_equal(Submitted, Counts[Round]);
        assert_true(DriverAsyncWait(&Async, 5000));
        assert_int_equal(Async.Failed, 0);
        assert_int_equal(SqTailWrites(&T, 2) - Before, Doorbells[Round]);
        DriverAsyncDestroy(&Async);
    }
    // A bad command stops the batch: what was built before it still goes (and completes), the rest does not.
    NVME_IO_REQUEST Bad[3];
    DRIVER_ASYNC Async;
    DriverAsyncInit(&Async, 1);
    Bad[0] = (NVME_IO_REQUEST){NVME_IO_READ, 0, 8, Buffer, DriverAsyncCallback, &Async};
    Bad[1] = (NVME_IO_REQUEST){NVME_IO_READ, MAX_U64 - 4, 8, Buffer, DriverAsyncCallback, &Async};
    Bad[2] = (NVME_IO_REQUEST){NVME_IO_READ, 8, 8, Buffer, DriverAsyncCallback, &Async};
    U32 Submitted = 99;
    assert_int_equal(NVMeSubmitIOBatch(T.Ns, Bad, 3, &Submitted), KSTATUS_BAD_PARAMETER);
    assert_int_equal(Submitted, 1);
    assert_true(DriverAsyncWait(&Async, 5000));
    DriverAsyncDestroy(&Async);
    DriverFree(Buffer, 40 * 4096);

    // 4 MiB in one synchronous read: 8 commands of 512 KiB (MDTS), posted with one doorbell.
    U32 Bytes = 4 * 1024 * 1024;
    U8* Large = DriverAlloc(Bytes);
    U64 Before = SqTailWrites(&T, 1);
    NVME_CONTROLLER_INFO InfoBefore = *DriverInfo(&T);
    assert_int_equal(NVMeReadSync(T.Ns, 0, Bytes / 512, Large), KSTATUS_SUCCESS);
    assert_int_equal(DriverInfo(&T)->Queues[1].Submitted - InfoBefore.Queues[1].Submitted, 8);
    assert_int_equal(SqTailWrites(&T, 1) - Before, 1);
    DriverFree(Large, Bytes);
    DriverEnd(&T);
}

/** The claim rule: an I/O queue alone on its vector claims an empty interrupt; the admin queue does not. */
static void TestOwnVectorClaimsEmptyInterrupt(void** State) {
    (void)State;
    DRIVER_TEST T;
    StartWithCpus(&T, 2);
    NVME_CONTROLLER* Controller = NVMeGetControllerInternal(T.Index);
    assert_non_null(Controller);
    assert_true(HostPlatformWaitIdle(5000));
    // Nothing is posted on either queue now (every command completed; the AERs wait for events).
    assert_true(NVMeQueueInterrupt(&Controller->Io[0]));
    assert_true(NVMeQueueInterrupt(&Controller->Io[1]));
    assert_false(NVMeQueueInterrupt(&Controller->Admin));
    DriverWriteRead(&T, 100, 16, 7);  // and the queues still work
    DriverEnd(&T);
}

/** MSI: one vector for every queue, so no queue owns it: strict claims, still a queue per CPU, all works. */
static void TestSharedVectorStaysStrict(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    Config.Msi = TRUE;  // QEMU's has none: the model's optional capability
    DriverSetOption("nvme.irq", "msi");
    StartConfigWithCpus(&T, &Config, 2);
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->InterruptMode, PCI_INTERRUPT_MSI);
    assert_int_equal(Info->IoQueueCount, 2);
    for (U32 Q = 1; Q <= 2; Q++) {
        assert_false(Info->Queues[Q].OwnVector);
        assert_int_equal(Info->Queues[Q].TargetCpu, 0);
    }
    NVME_CONTROLLER* Controller = NVMeGetControllerInternal(T.Index);
    assert_true(HostPlatformWaitIdle(5000));
    assert_false(NVMeQueueInterrupt(&Controller->Io[1]));
    HostPlatformSetCurrentCpu(1);
    DriverWriteRead(&T, 200, 16, 9);
    HostPlatformSetCurrentCpu(0);
    assert_true(DriverInfo(&T)->Queues[2].Completed >= 2);
    DriverEnd(&T);
}

/** Two vectors for two I/O queues: queue 1 owns vector 1 (aimed at CPU 0), queue 2 joins the admin queue's. */
static void TestFewerVectorsThanQueues(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    Config.MsixVectors = 2;
    StartConfigWithCpus(&T, &Config, 2);
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->VectorCount, 2);
    assert_int_equal(Info->IoQueueCount, 2);
    assert_true(Info->Queues[1].OwnVector);
    assert_int_equal(Info->Queues[1].TargetCpu, 0);
    assert_false(Info->Queues[2].OwnVector);
    assert_int_equal(Info->Queues[2].MessageIndex, 0);
    NVME_CONTROLLER* Controller = NVMeGetControllerInternal(T.Index);
    assert_true(HostPlatformWaitIdle(5000));
    assert_false(NVMeQueueInterrupt(&Controller->Io[1]));  // it shares vector 0: strict
    for (U32 Cpu = 0; Cpu < 2; Cpu++) {
        HostPlatformSetCurrentCpu(Cpu);
        DriverWriteRead(&T, 300 + 50 * Cpu, 16, 11 + Cpu);
    }
    HostPlatformSetCurrentCpu(0);
    assert_true(DriverInfo(&T)->Queues[2].Completed >= 2);
    DriverEnd(&T);
}

/** nvme.poll_queues=2 on 2 CPUs: queues 3 and 4 polled; a single synchronous read on CPU c uses queue 3 + c. */
static void TestPollQueues(void** State) {
    (void)State;
    DRIVER_TEST T;
    DriverSetOption("nvme.poll_queues", "2");
    StartWithCpus(&T, 2);
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->IoQueuesRequested, 4);
    assert_int_equal(Info->IoQueueCount, 4);
    assert_int_equal(Info->PollQueueCount, 2);
    for (U32 Q = 1; Q <= 4; Q++) assert_int_equal(Info->Queues[Q].Polled, Q >= 3);
    U8* Buffer = DriverAlloc(4 * 1024 * 1024);
    for (U32 Cpu = 0; Cpu < 2; Cpu++) {
        NVME_CONTROLLER_INFO Before = *DriverInfo(&T);
        HostPlatformSetCurrentCpu(Cpu);
        for (U32 I = 0; I < 10; I++) assert_int_equal(NVMeReadSync(T.Ns, 8 * I, 8, Buffer), KSTATUS_SUCCESS);
        DriverWriteRead(&T, 500 + 100 * Cpu, 16, Cpu);  // a write and a read, single commands too
        HostPlatformSetCurrentCpu(0);
        Info = DriverInfo(&T);
        U32 Polled = 3 + Cpu;
        assert_int_equal(Info->Queues[Polled].Completed - Before.Queues[Polled].Completed, 12);
        assert_int_equal(Info->Queues[Polled].Interrupts, 0);  // IEN=0: the waiter reaped them all
        for (U32 Q = 1; Q <= 4; Q++) {
            if (Q != Polled) assert_int_equal(Info->Queues[Q].Submitted, Before.Queues[Q].Submitted);
        }
    }
    // A split request (8 commands) and asynchronous commands go to the CPU's interrupt queue.
    NVME_CONTROLLER_INFO Before = *DriverInfo(&T);
    assert_int_equal(NVMeReadSync(T.Ns, 0, 8192, Buffer), KSTATUS_SUCCESS);
    DRIVER_ASYNC Async;
    DriverAsyncInit(&Async, 4);
    for (U32 I = 0; I < 4; I++) {
        assert_int_equal(NVMeSubmitIO(T.Ns, NVME_IO_READ, 8 * I, 8, Buffer + 4096 * I, DriverAsyncCallback, &Async),
                         KSTATUS_SUCCESS);
    }
    assert_true(DriverAsyncWait(&Async, 5000));
    DriverAsyncDestroy(&Async);
    Info = DriverInfo(&T);
    assert_int_equal(Info->Queues[1].Submitted - Before.Queues[1].Submitted, 12);
    assert_int_equal(Info->Queues[3].Submitted, Before.Queues[3].Submitted);
    // A reset creates the polled pairs again without interrupts, and they still serve.
    assert_int_equal(NVMeResetController(T.Index), KSTATUS_SUCCESS);
    Before = *DriverInfo(&T);
    assert_int_equal(Before.PollQueueCount, 2);
    assert_int_equal(NVMeReadSync(T.Ns, 64, 8, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(DriverInfo(&T)->Queues[3].Completed - Before.Queues[3].Completed, 1);
    DriverFree(Buffer, 4 * 1024 * 1024);
    DriverEnd(&T);
}

/**
 * A polled queue's command that takes longer than the waiter's spin (20 ms against NVME_POLL_SPIN_US): nothing
 * signals a polled waiter, so it looks every millisecond; it used to sleep a whole 250 ms wait step first.
 */
static void TestPollQueueSlowCompletion(void** State) {
    (void)State;
    DRIVER_TEST T;
    DriverSetOption("nvme.poll_queues", "1");
    StartWithCpus(&T, 1);
    assert_true(DriverInfo(&T)->Queues[2].Polled);
    NVME_MODEL_FAULT Fault = DriverFault(NVME_FAULT_HOLD_COMPLETION, 2, NM_IO_READ, 1);
    Fault.HoldMs = 20;
    NVMeModelAddFault(T.Model, &Fault);
    U8* Buffer = DriverAlloc(4096);
    U64 Start = HostClockNowNs();
    assert_int_equal(NVMeReadSync(T.Ns, 0, 8, Buffer), KSTATUS_SUCCESS);
    U64 TookMs = (HostClockNowNs() - Start) / 1000000;
    assert_true(TookMs >= 20 && TookMs <= 25);
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->Queues[2].Completed, 1);
    assert_int_equal(Info->Queues[2].Interrupts, 0);
    DriverFree(Buffer, 4096);
    DriverEnd(&T);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        DRIVER_TEST_CASE(TestQueuePerCpuAndVectorTargets),
        DRIVER_TEST_CASE(TestCompletionInInterrupt),
        DRIVER_TEST_CASE(TestBatchRingsOnce),
        DRIVER_TEST_CASE(TestOwnVectorClaimsEmptyInterrupt),
        DRIVER_TEST_CASE(TestSharedVectorStaysStrict),
        DRIVER_TEST_CASE(TestFewerVectorsThanQueues),
        DRIVER_TEST_CASE(TestPollQueues),
        DRIVER_TEST_CASE(TestPollQueueSlowCompletion),
    };
    return DriverRunTests(Tests, ARRAY_COUNT(Tests));
}
