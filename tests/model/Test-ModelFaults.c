/*
 * Test-ModelFaults.c - each fault the NVMe model can inject does what it
 * says, deterministically: lost completions (and their recovery by Abort),
 * skipped interrupts, RDY late or never, CSTS.CFS in the middle of I/O,
 * error statuses with and without DNR (on the Nth command or on an LBA
 * range), completions held back and posted out of order, Aborts that fail,
 * shutdowns that never complete, seeded random faults, and the odd
 * configurations (MQES 1, MPSMIN 8 KiB, NN 1024 sparse, Identify zeros and
 * nonsense).
 */
// SOURCES:

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ModelTest.h"
#include "TinyDriver.h"

static NVME_MODEL* Model;
static TINY_DRIVER Driver;
static U8* Data;

static void StartWith(const NVME_MODEL_CONFIG* Config) {
    ModelTestBegin();
    Model = ModelTestCreate(Config);
    TinyInit(&Driver, Model);
    Data = (U8*)aligned_alloc(4096, 64 * 1024);
    memset(Data, 0x5A, 64 * 1024);
}

static void Start(NVME_MODEL_MODE Mode, NVME_MODEL_ABORT_MODE Abort) {
    NVME_MODEL_CONFIG Config;
    NVMeModelDefaultConfig(&Config);
    Config.Mode = Mode;
    Config.AbortMode = Abort;
    StartWith(&Config);
}

static void Up(U32 Entries) {
    assert_true(TinyEnable(&Driver, 16));
    assert_int_equal(TinySetQueueCount(&Driver, 1), 0);
    assert_int_equal(TinyCreateQueuePair(&Driver, 1, Entries, 0, FALSE), 0);
}

static void Finish(void) {
    MemoryBusForget(HostPlatformMemoryBus(), Data, 64 * 1024);
    free(Data);
    TinyRelease(&Driver);
    ModelTestEnd(Model);
    Model = NULL;
}

static NVME_MODEL_FAULT Fault(NVME_MODEL_FAULT_KIND Kind, U16 Queue, U16 Opcode, U32 Nth) {
    NVME_MODEL_FAULT F;
    memset(&F, 0, sizeof(F));
    F.Kind = Kind;
    F.Match.QueueId = Queue;
    F.Match.Opcode = Opcode;
    F.Match.Nth = Nth;
    return F;
}

static U16 Io(BOOL Write, U64 Lba, U32 Blocks) {
    return TinyReadWrite(&Driver, 1, Write, 1, Lba, Blocks, Data, Blocks * 512ULL);
}

static U64 RealMs(void) {
    struct timespec Now;
    clock_gettime(CLOCK_MONOTONIC, &Now);
    return (U64)Now.tv_sec * 1000 + (U64)Now.tv_nsec / 1000000;
}

/************************************************************************/
// Lost completions and Abort

static void test_lost_completion_times_out_and_abort_recovers_it(void** State) {
    (void)State;
    Start(NVME_MODEL_INLINE, NVME_ABORT_SUCCEEDS);
    Up(16);
    U32 Id = NVMeModelAddFault(Model, &(NVME_MODEL_FAULT){.Kind = NVME_FAULT_DROP_COMPLETION,
                                                          .Match = {.QueueId = NVME_MODEL_IO_QUEUES,
                                                                    .Opcode = NM_IO_READ, .Nth = 2}});
    assert_int_equal(Io(FALSE, 0, 1), 0);
    U64 Real = RealMs();
    U64 Start = HostClockNowNs();
    NM_SQE Read = TinyMakeCommand(&Driver, NM_IO_READ, 1);
    TinyBuildPrps(&Driver, &Read, Data, 512);
    U16 Cid = NM_SQE_CID(&Read);
    assert_int_equal(TinyCommand(&Driver, 1, &Read, NULL), 0xFFFF);    // never completes
    assert_true(HostClockNowNs() - Start >= 100000000ULL);              // TinyCommand waited its 100 ms...
    assert_true(RealMs() - Real < 2000);                                // ...of virtual time
    assert_int_equal(NVMeModelFaultHits(Model, Id), 1);
    NVME_MODEL_QUEUE_INFO Info;
    NVMeModelQueueInfo(Model, 1, FALSE, &Info);
    assert_int_equal(Info.Head, 2);            // fetched...
    assert_int_equal(Info.Outstanding, 1);     // ...and still outstanding
    // The Abort finds it: the lost command completes "Command Abort Requested", the Abort says "aborted".
    NM_SQE Abort = TinyMakeCommand(&Driver, NM_ADMIN_ABORT, 0);
    Abort.Cdw10 = ((U32)Cid << 16) | 1;
    NM_CQE Completion;
    assert_int_equal(TinyCommand(&Driver, 0, &Abort, &Completion), 0);
    assert_int_equal(Completion.Dw0 & 1, 0);
    assert_true(TinyReap(&Driver, 1, &Completion));
    assert_int_equal(Completion.Cid, Cid);
    assert_int_equal(NM_CQE_STATUS(&Completion), NM_STATUS(NM_SCT_GENERIC, NM_SC_ABORT_REQUESTED));
    // An Abort for a command the controller does not hold: "not aborted".
    Abort = TinyMakeCommand(&Driver, NM_ADMIN_ABORT, 0);
    Abort.Cdw10 = (999U << 16) | 1;
    assert_int_equal(TinyCommand(&Driver, 0, &Abort, &Completion), 0);
    assert_int_equal(Completion.Dw0 & 1, 1);
    NVME_MODEL_STATS Stats;
    NVMeModelGetStats(Model, &Stats);
    assert_int_equal(Stats.CompletionsDropped, 1);
    assert_int_equal(Stats.AbortsReceived, 2);
    assert_int_equal(Stats.AbortsSucceeded, 1);
    Finish();
}

static void test_abort_that_fails(void** State) {
    (void)State;
    Start(NVME_MODEL_INLINE, NVME_ABORT_FAILS);
    Up(16);
    NM_SQE Abort = TinyMakeCommand(&Driver, NM_ADMIN_ABORT, 0);
    Abort.Cdw10 = (5U << 16) | 1;
    assert_int_equal(TinyCommand(&Driver, 0, &Abort, NULL),
                     NM_STATUS(NM_SCT_COMMAND, NM_SC_ABORT_LIMIT) | NM_STATUS_DNR);
    Finish();
}

/************************************************************************/
// Error statuses

static void test_error_status_on_nth_command_and_lba_range(void** State) {
    (void)State;
    Start(NVME_MODEL_INLINE, NVME_ABORT_NOT_ABORTED);
    Up(16);
    // The 2nd I/O command fails with a retryable Internal Error (DNR clear).
    NVME_MODEL_FAULT Second = Fault(NVME_FAULT_ERROR_STATUS, NVME_MODEL_IO_QUEUES, NVME_MODEL_ANY_OPCODE, 2);
    Second.Status = NM_STATUS(NM_SCT_GENERIC, NM_SC_INTERNAL_ERROR);
    NVMeModelAddFault(Model, &Second);
    // Every write touching LBAs 100-199 fails with Write Fault, DNR set.
    NVME_MODEL_FAULT Range = Fault(NVME_FAULT_ERROR_STATUS, NVME_MODEL_IO_QUEUES, NM_IO_WRITE, 0);
    Range.Match.LbaFirst = 100;
    Range.Match.LbaLast = 199;
    Range.Status = NM_STATUS(NM_SCT_MEDIA, NM_SC_WRITE_FAULT) | NM_STATUS_DNR;
    U32 RangeId = NVMeModelAddFault(Model, &Range);

    assert_int_equal(Io(TRUE, 0, 1), 0);
    U16 Status = Io(TRUE, 8, 1);
    assert_int_equal(Status, NM_STATUS(NM_SCT_GENERIC, NM_SC_INTERNAL_ERROR));
    assert_int_equal(Status & NM_STATUS_DNR, 0);
    assert_int_equal(Io(TRUE, 8, 1), 0);        // the retry succeeds
    assert_int_equal(Io(TRUE, 98, 2), 0);       // 98-99: outside the range
    Status = Io(TRUE, 99, 2);                   // 99-100: touches it
    assert_int_equal(Status, NM_STATUS(NM_SCT_MEDIA, NM_SC_WRITE_FAULT) | NM_STATUS_DNR);
    assert_int_equal(Io(TRUE, 150, 1), Status);
    assert_int_equal(Io(FALSE, 150, 1), 0);     // reads are not matched
    assert_int_equal(NVMeModelFaultHits(Model, RangeId), 2);
    // A failed write did not reach the medium.
    U8 Stored[512];
    assert_int_equal(DiskBackendRead(NVMeModelBackend(Model, 1), 150 * 512, Stored, 512), KSTATUS_SUCCESS);
    assert_int_equal(Stored[0], 0);
    // Backend media errors map to NVMe media statuses.
    DiskBackendInjectError(NVMeModelBackend(Model, 1), 300 * 512, 512, TRUE, TRUE);
    assert_int_equal(Io(FALSE, 300, 1), NM_STATUS(NM_SCT_MEDIA, NM_SC_UNRECOVERED_READ));
    assert_int_equal(Io(TRUE, 300, 1), NM_STATUS(NM_SCT_MEDIA, NM_SC_WRITE_FAULT));
    Finish();
}

/************************************************************************/
// Out of order

static void test_held_completion_goes_out_of_order(void** State) {
    (void)State;
    Start(NVME_MODEL_INLINE, NVME_ABORT_NOT_ABORTED);
    Up(16);
    NVME_MODEL_FAULT Hold = Fault(NVME_FAULT_HOLD_COMPLETION, 1, NVME_MODEL_ANY_OPCODE, 1);
    Hold.HoldCompletions = 2;
    NVMeModelAddFault(Model, &Hold);
    U16 Cids[3];
    for (U32 I = 0; I < 3; I++) {
        NM_SQE Flush = TinyMakeCommand(&Driver, NM_IO_FLUSH, 1);
        Cids[I] = TinyQueue(&Driver, 1, &Flush);
    }
    TinyRing(&Driver, 1);
    NM_CQE Completion;
    U16 Order[3];
    for (U32 I = 0; I < 3; I++) {
        assert_true(TinyReap(&Driver, 1, &Completion));
        Order[I] = Completion.Cid;
    }
    assert_int_equal(Order[0], Cids[1]);
    assert_int_equal(Order[1], Cids[2]);
    assert_int_equal(Order[2], Cids[0]);
    assert_int_equal(Completion.SqHead, 3);
    Finish();
}

static void test_held_completion_released_by_time(void** State) {
    (void)State;
    Start(NVME_MODEL_INLINE, NVME_ABORT_NOT_ABORTED);
    Up(16);
    NVME_MODEL_FAULT Hold = Fault(NVME_FAULT_HOLD_COMPLETION, 1, NM_IO_READ, 1);
    Hold.HoldMs = 50;
    Hold.HoldCompletions = 1000;
    NVMeModelAddFault(Model, &Hold);
    NM_SQE Read = TinyMakeCommand(&Driver, NM_IO_READ, 1);
    TinyBuildPrps(&Driver, &Read, Data, 512);
    TinySubmit(&Driver, 1, &Read);
    NM_CQE Completion;
    PlatformSleepMs(49);
    assert_false(TinyReap(&Driver, 1, &Completion));
    PlatformSleepMs(1);
    assert_true(TinyReap(&Driver, 1, &Completion));
    assert_int_equal(Completion.Cid, NM_SQE_CID(&Read));
    Finish();
}

/************************************************************************/
// Controller faults

static void test_ready_late_and_never(void** State) {
    (void)State;
    Start(NVME_MODEL_INLINE, NVME_ABORT_NOT_ABORTED);
    NVME_MODEL_CONTROLLER_FAULTS Faults;
    memset(&Faults, 0, sizeof(Faults));
    Faults.ReadyDelayMs = 9000;   // beyond CAP.TO (7.5 s)
    NVMeModelSetControllerFaults(Model, &Faults);
    U64 Real = RealMs();
    U64 Start = HostClockNowNs();
    // TinyEnable waits CAP.TO + 500 ms = 8 s: not enough.
    assert_false(TinyEnable(&Driver, 16));
    U64 Waited = HostClockNowNs() - Start;
    assert_true(Waited >= 8000000000ULL && Waited < 8100000000ULL);
    assert_true(TinyWaitReady(&Driver, TRUE, 2000));   // it comes, late
    Faults.ReadyDelayMs = 0;
    Faults.ReadyNever = TRUE;
    NVMeModelSetControllerFaults(Model, &Faults);
    assert_false(TinyEnable(&Driver, 16));
    assert_false(TinyWaitReady(&Driver, TRUE, 60000));
    // About 78 s of platform time went by; real time proves the clock was virtual, with room for a busy machine.
    assert_true(RealMs() - Real < 30000);
    Finish();
}

static void test_fatal_status_in_the_middle_of_io(void** State) {
    (void)State;
    Start(NVME_MODEL_INLINE, NVME_ABORT_NOT_ABORTED);
    Up(16);
    NVME_MODEL_CONTROLLER_FAULTS Faults;
    memset(&Faults, 0, sizeof(Faults));
    Faults.FatalAfterIoCommands = 3;
    NVMeModelSetControllerFaults(Model, &Faults);
    for (U32 I = 0; I < 3; I++) assert_int_equal(Io(TRUE, I, 1), 0);
    assert_true(NVMeModelRead32(Model, NM_REG_CSTS) & NM_CSTS_CFS);
    // A submission racing CFS is ignored (no violation: the host cannot avoid the race); it never completes.
    assert_int_equal(Io(TRUE, 3, 1), 0xFFFF);
    // A controller reset clears it.
    Faults.FatalAfterIoCommands = 0;
    NVMeModelSetControllerFaults(Model, &Faults);
    Up(16);
    assert_false(NVMeModelRead32(Model, NM_REG_CSTS) & NM_CSTS_CFS);
    assert_int_equal(Io(TRUE, 3, 1), 0);
    Finish();
}

static void test_shutdown_that_never_completes(void** State) {
    (void)State;
    Start(NVME_MODEL_INLINE, NVME_ABORT_NOT_ABORTED);
    Up(16);
    NVME_MODEL_CONTROLLER_FAULTS Faults;
    memset(&Faults, 0, sizeof(Faults));
    Faults.ShutdownNever = TRUE;
    NVMeModelSetControllerFaults(Model, &Faults);
    assert_false(TinyShutdown(&Driver, 10000));
    assert_int_equal(NVMeModelRead32(Model, NM_REG_CSTS) & NM_CSTS_SHST_MASK, NM_CSTS_SHST_OCCURRING);
    Finish();
}

/************************************************************************/
// Interrupts not raised

static U32 VectorCalls[2];
static U32 ContextIndex[2] = {0, 1};

static BOOL CountingHandler(LPVOID Context) {
    VectorCalls[*(U32*)Context]++;
    return TRUE;
}

static void test_interrupt_not_raised(void** State) {
    (void)State;
    Start(NVME_MODEL_INLINE, NVME_ABORT_NOT_ABORTED);
    PCI_DEVICE* Device = NVMeModelAttachPCI(Model);
    assert_non_null(Device);
    memset(VectorCalls, 0, sizeof(VectorCalls));
    LPVOID Contexts[2] = {&ContextIndex[0], &ContextIndex[1]};
    PLATFORM_INTERRUPTS Interrupts;
    assert_int_equal(PlatformInterruptSetup(Device, 2, PLATFORM_ALLOW_MSIX, CountingHandler, Contexts, 2, &Interrupts),
                     KSTATUS_SUCCESS);
    assert_true(TinyEnable(&Driver, 16));
    assert_int_equal(TinySetQueueCount(&Driver, 1), 0);
    assert_int_equal(TinyCreateQueuePair(&Driver, 1, 16, 1, TRUE), 0);
    U32 Id = NVMeModelAddFault(Model, &(NVME_MODEL_FAULT){.Kind = NVME_FAULT_SKIP_INTERRUPT,
                                                          .Match = {.QueueId = 1, .Nth = 2}});
    for (U32 I = 0; I < 3; I++) {
        assert_int_equal(Io(FALSE, 0, 1), 0);   // the completion is posted every time
        HostPlatformWaitIdle(1000);
    }
    assert_int_equal(VectorCalls[1], 2);        // but the second one raised no interrupt
    assert_int_equal(NVMeModelFaultHits(Model, Id), 1);
    NVME_MODEL_STATS Stats;
    NVMeModelGetStats(Model, &Stats);
    assert_int_equal(Stats.InterruptsSkipped, 1);
    assert_int_equal(Stats.MsixPerVector[1], 2);
    PlatformInterruptRelease(Device, &Interrupts);
    Finish();
}

/************************************************************************/
// Seeded random faults

static U32 RandomPattern(U64 Seed) {
    NVME_MODEL_CONFIG Config;
    NVMeModelDefaultConfig(&Config);
    Config.Seed = Seed;
    StartWith(&Config);
    Up(16);
    NVME_MODEL_FAULT Random = Fault(NVME_FAULT_ERROR_STATUS, NVME_MODEL_IO_QUEUES, NM_IO_READ, 0);
    Random.Match.PerMille = 500;
    Random.Status = NM_STATUS(NM_SCT_GENERIC, NM_SC_INTERNAL_ERROR);
    NVMeModelAddFault(Model, &Random);
    U32 Pattern = 0;
    for (U32 I = 0; I < 24; I++) Pattern |= (Io(FALSE, I, 1) != 0) << I;
    Finish();
    return Pattern;
}

static void test_random_faults_are_seeded(void** State) {
    (void)State;
    U32 A = RandomPattern(1234);
    U32 B = RandomPattern(1234);
    U32 C = RandomPattern(99);
    assert_int_equal(A, B);
    assert_true(A != C);
    U32 Failures = (U32)__builtin_popcount(A);
    assert_true(Failures > 4 && Failures < 20);
}

/************************************************************************/
// Odd configurations

static void test_mqes_of_one(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    NVMeModelDefaultConfig(&Config);
    NVMeModelApplyPreset(&Config, NVME_PRESET_MQES_1);
    StartWith(&Config);
    assert_int_equal(NVMeModelRead32(Model, NM_REG_CAP) & 0xFFFF, 1);
    Up(2);   // two entries: one command at a time
    for (U32 I = 0; I < 5; I++) assert_int_equal(Io(TRUE, I, 1), 0);
    assert_int_equal(TinyDeleteQueuePair(&Driver, 1), 0);
    assert_int_equal(TinyCreateQueuePair(&Driver, 1, 4, 0, FALSE),
                     NM_STATUS(NM_SCT_COMMAND, NM_SC_INVALID_QUEUE_SIZE) | NM_STATUS_DNR);
    EXPECT_VIOLATION(Model, NVME_RULE_QUEUE_SIZE_INVALID);
    Finish();
}

static void test_mpsmin_8k(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    NVMeModelDefaultConfig(&Config);
    NVMeModelApplyPreset(&Config, NVME_PRESET_MPSMIN_8K);
    StartWith(&Config);
    // A host that assumes 4 KiB pages (MPS 0) is refused.
    TINY_QUEUE* Admin = &Driver.Queues[0];
    PlatformDMAAlloc(8192, 8192, 0, &Admin->Sq);
    PlatformDMAAlloc(8192, 8192, 0, &Admin->Cq);
    NVMeModelWrite32(Model, NM_REG_AQA, 0x000F000F);
    NVMeModelWrite(Model, NM_REG_ASQ, 8, Admin->Sq.Physical);
    NVMeModelWrite(Model, NM_REG_ACQ, 8, Admin->Cq.Physical);
    NVMeModelWrite32(Model, NM_REG_CC, NM_CC_EN | (6U << 16) | (4U << 20));
    assert_true(NVMeModelRead32(Model, NM_REG_CSTS) & NM_CSTS_CFS);
    EXPECT_VIOLATION(Model, NVME_RULE_CC_ENABLE_INVALID);
    PlatformDMAFree(&Admin->Sq);
    PlatformDMAFree(&Admin->Cq);
    // One that reads CAP.MPSMIN uses 8 KiB pages; its buffers must then be 8 KiB-contiguous (DMA memory is).
    NVMeModelWrite32(Model, NM_REG_CC, 0);
    assert_true(TinyEnable(&Driver, 16));
    assert_int_equal(Driver.PageSize, 8192);
    assert_int_equal(TinySetQueueCount(&Driver, 1), 0);
    assert_int_equal(TinyCreateQueuePair(&Driver, 1, 16, 0, FALSE), 0);
    PLATFORM_DMA Buffer;
    PlatformDMAAlloc(16384, 8192, 0, &Buffer);
    memset(Buffer.Linear, 0x77, 16384);
    NM_SQE Write = TinyMakeCommand(&Driver, NM_IO_WRITE, 1);
    Write.Prp1 = Buffer.Physical + 4096;   // 12 KiB from mid-page: PRP1 covers 4 KiB, PRP2 the next 8 KiB page
    Write.Prp2 = Buffer.Physical + 8192;
    Write.Cdw12 = 24 - 1;
    assert_int_equal(TinyCommand(&Driver, 1, &Write, NULL), 0);
    U8 Stored[512];
    DiskBackendRead(NVMeModelBackend(Model, 1), 23 * 512, Stored, 512);
    assert_int_equal(Stored[0], 0x77);
    PlatformDMAFree(&Buffer);
    Finish();
}

static void test_sparse_namespaces(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    NVMeModelDefaultConfig(&Config);
    NVMeModelApplyPreset(&Config, NVME_PRESET_SPARSE_NAMESPACES);
    StartWith(&Config);
    Up(16);
    U8* Identify = (U8*)aligned_alloc(4096, 4096);
    assert_int_equal(TinyIdentify(&Driver, NM_CNS_CONTROLLER, 0, Identify), 0);
    U32 Nn;
    memcpy(&Nn, Identify + 516, 4);
    assert_int_equal(Nn, 1024);
    assert_int_equal(TinyReadWrite(&Driver, 1, TRUE, 1024, 1023, 1, Data, 4096), 0);
    assert_int_equal(TinyReadWrite(&Driver, 1, TRUE, 1023, 0, 1, Data, 512),
                     NM_STATUS(NM_SCT_GENERIC, NM_SC_INVALID_NAMESPACE) | NM_STATUS_DNR);
    EXPECT_VIOLATION(Model, NVME_RULE_NAMESPACE_INVALID);
    MemoryBusForget(HostPlatformMemoryBus(), Identify, 4096);
    free(Identify);
    Finish();
}

static void test_identify_zeros_and_nonsense(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    NVMeModelDefaultConfig(&Config);
    NVMeModelApplyPreset(&Config, NVME_PRESET_IDENTIFY_ZEROS);
    StartWith(&Config);
    assert_true(TinyEnable(&Driver, 16));
    U8* Identify = (U8*)aligned_alloc(4096, 4096);
    assert_int_equal(TinyIdentify(&Driver, NM_CNS_CONTROLLER, 0, Identify), 0);
    U32 Nn;
    memcpy(&Nn, Identify + 516, 4);
    assert_int_equal(Nn, 0);
    assert_int_equal(Identify[77], 0);       // MDTS: no limit
    assert_int_equal(Identify[512], 0);      // SQES: nonsense
    assert_int_equal(Identify[24], ' ');     // empty model number
    assert_int_equal(TinyIdentify(&Driver, NM_CNS_ACTIVE_NAMESPACES, 0, Identify), 0);
    U32 First;
    memcpy(&First, Identify, 4);
    assert_int_equal(First, 0);              // no namespace at all
    MemoryBusForget(HostPlatformMemoryBus(), Identify, 4096);
    free(Identify);
    Finish();

    NVMeModelDefaultConfig(&Config);
    NVMeModelApplyPreset(&Config, NVME_PRESET_IDENTIFY_NONSENSE);
    StartWith(&Config);
    Up(16);
    Identify = (U8*)aligned_alloc(4096, 4096);
    assert_int_equal(TinyIdentify(&Driver, NM_CNS_CONTROLLER, 0, Identify), 0);
    assert_int_equal(Identify[77], 1);       // MDTS 1: 8 KiB
    assert_int_equal(Identify[24], 0x01);    // control characters in the model number
    assert_int_equal(TinyIdentify(&Driver, NM_CNS_NAMESPACE, 1, Identify), 0);
    U32 Lbaf;
    memcpy(&Lbaf, Identify + 128, 4);
    assert_int_equal((Lbaf >> 16) & 0xFF, 30);   // 1 GiB logical blocks
    // Reading one such block is beyond MDTS: refused, not attempted.
    assert_int_equal(Io(FALSE, 0, 1), NM_STATUS(NM_SCT_GENERIC, NM_SC_INVALID_FIELD) | NM_STATUS_DNR);
    EXPECT_VIOLATION(Model, NVME_RULE_TRANSFER_EXCEEDS_MDTS);
    assert_int_equal(DiskBackendResidentBytes(NVMeModelBackend(Model, 1)), 0);
    MemoryBusForget(HostPlatformMemoryBus(), Identify, 4096);
    free(Identify);
    Finish();
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(test_lost_completion_times_out_and_abort_recovers_it),
        cmocka_unit_test(test_abort_that_fails),
        cmocka_unit_test(test_error_status_on_nth_command_and_lba_range),
        cmocka_unit_test(test_held_completion_goes_out_of_order),
        cmocka_unit_test(test_held_completion_released_by_time),
        cmocka_unit_test(test_ready_late_and_never),
        cmocka_unit_test(test_fatal_status_in_the_middle_of_io),
        cmocka_unit_test(test_shutdown_that_never_completes),
        cmocka_unit_test(test_interrupt_not_raised),
        cmocka_unit_test(test_random_faults_are_seeded),
        cmocka_unit_test(test_mqes_of_one),
        cmocka_unit_test(test_mpsmin_8k),
        cmocka_unit_test(test_sparse_namespaces),
        cmocka_unit_test(test_identify_zeros_and_nonsense),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
