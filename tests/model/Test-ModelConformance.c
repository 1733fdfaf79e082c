/*
 * Test-ModelConformance.c - every conformance rule of the NVMe model fires,
 * with its name and the offending values, when a hand-written host breaks
 * it; and a well-behaved sequence raises none. The last test checks that
 * the file provoked every rule in NVME_RULE, so a rule added without a test
 * fails the build's tests.
 */
// SOURCES:

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "ModelTest.h"
#include "TinyDriver.h"

static NVME_MODEL* Model;
static TINY_DRIVER Driver;
static BOOL Covered[NVME_RULE_COUNT];

/** Takes the violation (failing if absent), checks its message names Fragment, and marks the rule covered. */
#define TAKE(Rule, Fragment)                                                                                    \
    do {                                                                                                        \
        char Message__[256] = "";                                                                               \
        NVME_RULE Found__;                                                                                      \
        BOOL Seen__ = FALSE;                                                                                    \
        for (U32 I__ = 0; !Seen__ && NVMeModelGetViolation(Model, I__, &Found__, Message__, sizeof(Message__)); \
             I__++) {                                                                                           \
            Seen__ = Found__ == (Rule);                                                                         \
        }                                                                                                       \
        if (!Seen__) fail_msg("expected conformance violation %s was not reported", NVMeModelRuleName(Rule));   \
        if (strstr(Message__, (Fragment)) == NULL) {                                                            \
            fail_msg("violation %s says \"%s\", which lacks \"%s\"", NVMeModelRuleName(Rule), Message__,        \
                     (Fragment));                                                                               \
        }                                                                                                       \
        EXPECT_VIOLATION(Model, Rule);                                                                          \
        Covered[Rule] = TRUE;                                                                                   \
    } while (0)

static void StartWith(const NVME_MODEL_CONFIG* Config) {
    ModelTestBegin();
    Model = ModelTestCreate(Config);
    TinyInit(&Driver, Model);
}

static void Start(void) {
    NVME_MODEL_CONFIG Config;
    NVMeModelDefaultConfig(&Config);
    StartWith(&Config);
}

static void StartMode(NVME_MODEL_MODE Mode) {
    NVME_MODEL_CONFIG Config;
    NVMeModelDefaultConfig(&Config);
    Config.Mode = Mode;
    StartWith(&Config);
}

static void Up(U16 Queues, U32 Entries) {
    assert_true(TinyEnable(&Driver, 16));
    if (Queues) assert_int_equal(TinySetQueueCount(&Driver, Queues), 0);
    for (U16 Q = 1; Q <= Queues; Q++) assert_int_equal(TinyCreateQueuePair(&Driver, Q, Entries, 0, FALSE), 0);
}

static void Finish(void) {
    TinyRelease(&Driver);
    ModelTestEnd(Model);
    Model = NULL;
}

static U16 Admin(NM_SQE* Command) { return TinyCommand(&Driver, 0, Command, NULL); }

/************************************************************************/
// A clean run raises nothing

static void test_clean_sequence_has_no_violations(void** State) {
    (void)State;
    Start();
    Up(2, 32);
    U8* Data = (U8*)aligned_alloc(4096, 65536);
    memset(Data, 0x3C, 65536);
    for (U32 I = 0; I < 8; I++)
        assert_int_equal(TinyReadWrite(&Driver, 1 + I % 2, TRUE, 1, I * 128, 128, Data, 65536), 0);
    assert_int_equal(TinyDeleteQueuePair(&Driver, 2), 0);
    assert_true(TinyShutdown(&Driver, 100));
    assert_int_equal(NVMeModelViolationCount(Model), 0);
    MemoryBusForget(HostPlatformMemoryBus(), Data, 65536);
    free(Data);
    Finish();
}

/************************************************************************/
// Register access

static void test_register_width_and_alignment(void** State) {
    (void)State;
    Start();
    NVMeModelRead(Model, NM_REG_CSTS, 2);                     // a 16-bit read of CSTS
    TAKE(NVME_RULE_REG_ACCESS_WIDTH, "2-byte register read at 0x1c");
    NVMeModelWrite(Model, NM_REG_INTMC, 8, 1ULL << 32);       // one 64-bit write over INTMC and CC
    TAKE(NVME_RULE_REG_ACCESS_WIDTH, "8-byte register write at 0x10");
    assert_int_equal(NVMeModelRead32(Model, NM_REG_CC), 0);   // ignored
    NVMeModelRead(Model, 0x16, 4);
    TAKE(NVME_RULE_REG_MISALIGNED, "at 0x16");
    NVMeModelRead(Model, 0x1002, 2);
    TAKE(NVME_RULE_DOORBELL_READ, "0x1002");
    // A 64-bit register read whole or as halves is fine.
    NVMeModelRead(Model, NM_REG_CAP, 8);
    NVMeModelRead(Model, NM_REG_ACQ + 4, 4);
    Finish();
}

static void test_register_offsets_and_read_only(void** State) {
    (void)State;
    Start();
    NVMeModelWrite32(Model, NM_REG_CAP, 0);
    TAKE(NVME_RULE_REG_READ_ONLY, "read-only register at 0");
    NVMeModelWrite32(Model, NM_REG_CSTS, NM_CSTS_RDY);
    TAKE(NVME_RULE_REG_READ_ONLY, "CSTS");
    NVMeModelRead32(Model, 0x18);
    TAKE(NVME_RULE_REG_INVALID_OFFSET, "at 0x18");
    NVMeModelWrite32(Model, 0x800, 1);
    TAKE(NVME_RULE_REG_INVALID_OFFSET, "at 0x800");
    NVMeModelRead32(Model, NM_DOORBELL_BASE);
    TAKE(NVME_RULE_DOORBELL_READ, "write-only");
    NVMeModelWrite32(Model, NM_REG_NSSR, 0x4E564D65);
    TAKE(NVME_RULE_NSSR_UNSUPPORTED, "CAP.NSSRS=0");
    Finish();
}

static void test_64bit_register_split_order(void** State) {
    (void)State;
    Start();
    NVMeModelWrite32(Model, NM_REG_ASQ + 4, 0x1);   // high first
    TAKE(NVME_RULE_REG64_SPLIT_ORDER, "ASQ high dword");
    NVMeModelWrite32(Model, NM_REG_ASQ, 0x2000);    // then low: fine
    NVMeModelWrite32(Model, NM_REG_ACQ, 0x3000);
    NVMeModelWrite32(Model, NM_REG_ACQ + 4, 0);     // low, then high: fine
    Finish();
}

static void test_mmio_with_decoding_off(void** State) {
    (void)State;
    Start();
    NVMeModelConfigWrite32(Model, PCI_COMMAND, 0);
    assert_int_equal(NVMeModelRead32(Model, NM_REG_VS), MAX_U32);
    TAKE(NVME_RULE_MMIO_DECODE_DISABLED, "Memory Space Enable is clear");
    Finish();
}

static void EnableMsix(void) {
    U8 Cap = NVMeModelCapabilityOffset(Model, PCI_CAP_ID_MSIX);
    U32 Dword = NVMeModelConfigRead32(Model, Cap);
    NVMeModelConfigWrite32(Model, Cap, Dword | (0x8000U << 16));
}

static void test_intmask_with_msix_and_msix_table_access(void** State) {
    (void)State;
    Start();
    NVMeModelWrite32(Model, NM_REG_INTMS, 1);   // fine without MSI-X
    NVMeModelWrite32(Model, NM_REG_INTMC, 1);
    EnableMsix();
    NVMeModelWrite32(Model, NM_REG_INTMS, 1);
    TAKE(NVME_RULE_INTMASK_WITH_MSIX, "INTMS written");
    NVMeModelRead32(Model, NM_REG_INTMC);
    TAKE(NVME_RULE_INTMASK_WITH_MSIX, "INTMC read");
    NVMeModelRead(Model, 0x2000, 2);
    TAKE(NVME_RULE_MSIX_ACCESS, "2-byte MSI-X read");
    NVMeModelWrite32(Model, 0x3000, 1);
    TAKE(NVME_RULE_MSIX_ACCESS, "PBA is read-only");
    NVMeModelWrite32(Model, 0x2000 + 16 + 8, 0x45);   // an entry's data: fine
    assert_int_equal(NVMeModelRead32(Model, 0x2000 + 16 + 8), 0x45);
    Finish();
}

/************************************************************************/
// Controller state

static void SetAdminQueues(void) {
    TINY_QUEUE* Admin = &Driver.Queues[0];
    PlatformDMAAlloc(4096, 4096, 0, &Admin->Sq);
    PlatformDMAAlloc(4096, 4096, 0, &Admin->Cq);
    Admin->Size = 16;
    Admin->Phase = TRUE;
    NVMeModelWrite32(Model, NM_REG_AQA, 0x000F000F);
    NVMeModelWrite(Model, NM_REG_ASQ, 8, Admin->Sq.Physical);
    NVMeModelWrite(Model, NM_REG_ACQ, 8, Admin->Cq.Physical);
}

#define CC_GOOD (NM_CC_EN | (6U << NM_CC_IOSQES_SHIFT) | (4U << NM_CC_IOCQES_SHIFT))

static void test_enable_rules(void** State) {
    (void)State;
    Start();
    SetAdminQueues();
    NVMeModelWrite32(Model, NM_REG_CC, CC_GOOD | (5U << NM_CC_MPS_SHIFT));   // 128 KiB pages: MPSMAX is 4
    TAKE(NVME_RULE_CC_ENABLE_INVALID, "CC.MPS=5");
    assert_true(NVMeModelRead32(Model, NM_REG_CSTS) & NM_CSTS_CFS);
    NVMeModelWrite32(Model, NM_REG_CC, 0);
    assert_true(TinyWaitReady(&Driver, FALSE, 10));
    assert_false(NVMeModelRead32(Model, NM_REG_CSTS) & NM_CSTS_CFS);   // the reset cleared it
    NVMeModelWrite32(Model, NM_REG_CC, CC_GOOD | 2);                  // reserved bit 1
    TAKE(NVME_RULE_CC_RESERVED_BITS, "reserved bits 0x2");
    assert_true(TinyWaitReady(&Driver, TRUE, 10));
    NVMeModelWrite32(Model, NM_REG_CC, CC_GOOD | (1U << NM_CC_MPS_SHIFT));
    TAKE(NVME_RULE_CC_CHANGED_WHILE_ENABLED, "changes CSS/MPS/AMS");
    NVMeModelWrite32(Model, NM_REG_AQA, 0x00070007);
    TAKE(NVME_RULE_ADMIN_QUEUE_WHILE_ENABLED, "AQA written");
    NVMeModelWrite32(Model, NM_REG_ACQ, 0x5000);
    TAKE(NVME_RULE_ADMIN_QUEUE_WHILE_ENABLED, "ACQ written");
    // EN 1 -> 0 -> 1 without waiting for RDY to fall.
    NVMeModelWrite32(Model, NM_REG_CC, 0);
    NVMeModelWrite32(Model, NM_REG_CC, CC_GOOD);
    TAKE(NVME_RULE_CC_ENABLE_WHILE_READY, "CSTS.RDY is still 1");
    Finish();
}

static void test_enable_during_shutdown_and_alignment(void** State) {
    (void)State;
    Start();
    NVME_MODEL_CONTROLLER_FAULTS Faults = {0};
    Faults.ShutdownNever = TRUE;
    NVMeModelSetControllerFaults(Model, &Faults);
    Up(0, 0);
    NVMeModelWrite32(Model, NM_REG_CC, CC_GOOD | NM_CC_SHN_NORMAL);
    NVMeModelWrite32(Model, NM_REG_CC, NM_CC_SHN_NORMAL);             // disable, shutdown still "occurring"
    assert_true(TinyWaitReady(&Driver, FALSE, 10));
    NVMeModelWrite32(Model, NM_REG_CC, CC_GOOD | NM_CC_SHN_NORMAL);
    TAKE(NVME_RULE_CC_ENABLE_DURING_SHUTDOWN, "SHST=01b");
    NVMeModelWrite32(Model, NM_REG_CC, 0);
    assert_true(TinyWaitReady(&Driver, FALSE, 10));
    NVMeModelWrite32(Model, NM_REG_ASQ, 0x12345800);
    TAKE(NVME_RULE_ADMIN_QUEUE_ALIGNMENT, "(written 0x12345800): bits 11:0 are reserved");
    Finish();
}

/************************************************************************/
// Doorbells

static void test_doorbell_rules(void** State) {
    (void)State;
    Start();
    NVMeModelWrite32(Model, NVMeModelDoorbell(Model, 0, FALSE), 1);
    TAKE(NVME_RULE_DOORBELL_NOT_READY, "not ready");
    Up(1, 8);
    NVMeModelWrite32(Model, NVMeModelDoorbell(Model, 5, FALSE), 1);
    TAKE(NVME_RULE_DOORBELL_INVALID_QUEUE, "queue 5");
    NVMeModelWrite32(Model, NVMeModelDoorbell(Model, 1, FALSE), 8);
    TAKE(NVME_RULE_DOORBELL_VALUE_RANGE, "value 8, but the queue has 8 entries");
    NVMeModelWrite32(Model, NVMeModelDoorbell(Model, 1, TRUE), 1);     // nothing was posted on CQ 1
    TAKE(NVME_RULE_CQ_HEAD_BEYOND_TAIL, "only 0 were posted");
    NVMeModelWrite32(Model, 0x1002, 1);
    TAKE(NVME_RULE_REG_MISALIGNED, "0x1002");
    assert_int_equal(TinyDeleteQueuePair(&Driver, 1), 0);
    NVMeModelWrite32(Model, NVMeModelDoorbell(Model, 1, FALSE), 1);
    TAKE(NVME_RULE_DOORBELL_DELETED_QUEUE, "deleted queue 1");
    Finish();
}

static void test_sq_overrun(void** State) {
    (void)State;
    StartMode(NVME_MODEL_STEP);
    Up(1, 4);
    // Four entries: at most three may be outstanding (tail + 1 == head means full).
    for (U32 I = 0; I < 3; I++) {
        NM_SQE Flush = TinyMakeCommand(&Driver, NM_IO_FLUSH, 1);
        TinySubmit(&Driver, 1, &Flush);
    }
    assert_int_equal(NVMeModelViolationCount(Model), 0);
    NM_SQE Flush = TinyMakeCommand(&Driver, NM_IO_FLUSH, 1);
    TinySubmit(&Driver, 1, &Flush);   // the tail reaches the head: the SQ would look empty
    TAKE(NVME_RULE_SQ_OVERRUN, "adds 1 entries but only 0 are free");
    Finish();
}

static void test_cid_reuse(void** State) {
    (void)State;
    StartMode(NVME_MODEL_STEP);
    Up(1, 8);
    // The first flush's completion is held back, so its CID stays outstanding.
    NVME_MODEL_FAULT Hold = {0};
    Hold.Kind = NVME_FAULT_HOLD_COMPLETION;
    Hold.Match.QueueId = 1;
    Hold.Match.Opcode = NM_IO_FLUSH;
    Hold.Match.Nth = 1;
    Hold.HoldCompletions = 10;
    NVMeModelAddFault(Model, &Hold);
    NM_SQE A = TinyMakeCommand(&Driver, NM_IO_FLUSH, 1);
    NM_SQE B = A;   // same CID
    TinyQueue(&Driver, 1, &A);
    TinyQueue(&Driver, 1, &B);
    TinyRing(&Driver, 1);
    NVMeModelRunUntilIdle(Model);
    TAKE(NVME_RULE_CID_REUSED, "(opcode 0) reused while a command with that CID is still outstanding");
    // Once its completion is posted, a CID may be used again.
    assert_int_equal(NVMeModelReleaseHeld(Model), 1);
    NM_CQE Completion;
    U32 Reaped = 0;
    while (TinyReap(&Driver, 1, &Completion)) Reaped++;
    assert_int_equal(Reaped, 2);
    NM_SQE C = A;
    TinySubmit(&Driver, 1, &C);
    NVMeModelRunUntilIdle(Model);
    EXPECT_NO_VIOLATION(Model, NVME_RULE_CID_REUSED);
    Finish();
}

/************************************************************************/
// Queue management

static NM_SQE CreateCommand(U8 Opcode, U16 Qid, U32 Entries, U32 Cdw11, PHYSICAL Base) {
    NM_SQE Command = TinyMakeCommand(&Driver, Opcode, 0);
    Command.Prp1 = Base;
    Command.Cdw10 = ((Entries - 1) << 16) | Qid;
    Command.Cdw11 = Cdw11;
    return Command;
}

static void test_queue_creation_rules(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    NVMeModelDefaultConfig(&Config);
    Config.GrantRequested = TRUE;
    Config.Mqes = 63;
    StartWith(&Config);
    Up(0, 0);
    assert_int_equal(TinySetQueueCount(&Driver, 2), 0);
    PLATFORM_DMA Memory;
    assert_int_equal(PlatformDMAAlloc(8 * 4096, 4096, 0, &Memory), KSTATUS_SUCCESS);
    PHYSICAL Base = Memory.Physical;
    NM_SQE Command;

    Command = CreateCommand(NM_ADMIN_CREATE_SQ, 1, 16, (1U << 16) | 1, Base);
    assert_int_equal(Admin(&Command), NM_STATUS(NM_SCT_COMMAND, NM_SC_CQ_INVALID) | NM_STATUS_DNR);
    TAKE(NVME_RULE_CQ_MISSING_FOR_SQ, "create the CQ first");
    Command = CreateCommand(NM_ADMIN_CREATE_CQ, 3, 16, 1, Base);
    assert_int_equal(Admin(&Command), NM_STATUS(NM_SCT_COMMAND, NM_SC_INVALID_QUEUE_ID) | NM_STATUS_DNR);
    TAKE(NVME_RULE_QUEUE_ID_INVALID, "QID 3: valid I/O CQ IDs are 1..2");
    Command = CreateCommand(NM_ADMIN_CREATE_CQ, 1, 65, 1, Base);
    assert_int_equal(Admin(&Command), NM_STATUS(NM_SCT_COMMAND, NM_SC_INVALID_QUEUE_SIZE) | NM_STATUS_DNR);
    TAKE(NVME_RULE_QUEUE_SIZE_INVALID, "65 entries: allowed 2..64");
    Command = CreateCommand(NM_ADMIN_CREATE_CQ, 1, 1, 1, Base);
    Admin(&Command);
    TAKE(NVME_RULE_QUEUE_SIZE_INVALID, "1 entries");
    Command = CreateCommand(NM_ADMIN_CREATE_CQ, 1, 16, 0, Base);
    Admin(&Command);
    TAKE(NVME_RULE_QUEUE_NOT_CONTIGUOUS, "PC=0 while CAP.CQR=1");
    Command = CreateCommand(NM_ADMIN_CREATE_CQ, 1, 16, 1, Base + 256);
    Admin(&Command);
    TAKE(NVME_RULE_QUEUE_BASE_ALIGNMENT, "not 4096-byte aligned");
    Command = CreateCommand(NM_ADMIN_CREATE_CQ, 1, 16, 1 | 2 | (1U << 16), Base);
    assert_int_equal(Admin(&Command), NM_STATUS(NM_SCT_COMMAND, NM_SC_INVALID_VECTOR) | NM_STATUS_DNR);
    TAKE(NVME_RULE_CQ_VECTOR_INVALID, "vector 1: MSI-X is not enabled");

    Command = CreateCommand(NM_ADMIN_CREATE_CQ, 1, 16, 1, Base);
    assert_int_equal(Admin(&Command), 0);
    Command = CreateCommand(NM_ADMIN_CREATE_CQ, 1, 16, 1, Base + 4096);
    Admin(&Command);
    TAKE(NVME_RULE_QUEUE_EXISTS, "CQ 1: it already exists");
    Command = CreateCommand(NM_ADMIN_CREATE_SQ, 1, 16, (1U << 16) | 1, Base + 2 * 4096);
    assert_int_equal(Admin(&Command), 0);

    Command = TinyMakeCommand(&Driver, NM_ADMIN_SET_FEATURES, 0);
    Command.Cdw10 = NM_FEATURE_NUMBER_OF_QUEUES;
    Command.Cdw11 = 0x00030003;
    assert_int_equal(Admin(&Command), NM_STATUS(NM_SCT_GENERIC, NM_SC_COMMAND_SEQUENCE_ERROR) | NM_STATUS_DNR);
    TAKE(NVME_RULE_QUEUE_COUNT_AFTER_CREATE, "after 2 I/O queues were created");

    NVMeModelWrite32(Model, NM_REG_CC, CC_GOOD & ~(6U << NM_CC_IOSQES_SHIFT));
    TAKE(NVME_RULE_QUEUE_ENTRY_SIZE_CHANGED, "while 2 I/O queues exist");

    Command = TinyMakeCommand(&Driver, NM_ADMIN_DELETE_CQ, 0);
    Command.Cdw10 = 1;
    assert_int_equal(Admin(&Command), NM_STATUS(NM_SCT_COMMAND, NM_SC_INVALID_QUEUE_DELETION) | NM_STATUS_DNR);
    TAKE(NVME_RULE_CQ_DELETE_IN_USE, "while 1 SQ(s) still use it");
    Command = TinyMakeCommand(&Driver, NM_ADMIN_DELETE_SQ, 0);
    Command.Cdw10 = 2;
    Admin(&Command);
    TAKE(NVME_RULE_QUEUE_DELETE_INVALID, "Delete I/O SQ 2");
    PlatformDMAFree(&Memory);
    Finish();
}

static void test_queue_entry_sizes_unset(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    NVMeModelDefaultConfig(&Config);
    Config.QemuStrictStart = FALSE;   // the specification lets EN rise with IOSQES/IOCQES 0
    StartWith(&Config);
    SetAdminQueues();
    NVMeModelWrite32(Model, NM_REG_CC, NM_CC_EN);
    assert_true(TinyWaitReady(&Driver, TRUE, 10));
    PLATFORM_DMA Memory;
    PlatformDMAAlloc(4096, 4096, 0, &Memory);
    NM_SQE Command = CreateCommand(NM_ADMIN_CREATE_CQ, 1, 16, 1, Memory.Physical);
    assert_int_equal(Admin(&Command), NM_STATUS(NM_SCT_GENERIC, NM_SC_INVALID_FIELD) | NM_STATUS_DNR);
    TAKE(NVME_RULE_QUEUE_ENTRY_SIZES_UNSET, "CC.IOCQES=0");
    PlatformDMAFree(&Memory);
    Finish();
}

/************************************************************************/
// Commands

static void test_command_rules(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    NVMeModelDefaultConfig(&Config);
    NVMeModelApplyPreset(&Config, NVME_PRESET_NAMESPACE_FORMATS);
    Config.Oncs = 0x0004;   // DSM only
    Config.NumberOfNamespaces = 8;
    StartWith(&Config);
    Up(1, 16);
    U8* Data = (U8*)aligned_alloc(4096, 1024 * 1024);
    NM_SQE Command;

    Command = TinyMakeCommand(&Driver, 0x7F, 0);
    assert_int_equal(Admin(&Command), NM_STATUS(NM_SCT_GENERIC, NM_SC_INVALID_OPCODE) | NM_STATUS_DNR);
    TAKE(NVME_RULE_OPCODE_INVALID, "admin opcode 0x7f");
    Command = TinyMakeCommand(&Driver, 0x05, 1);   // Compare: not implemented
    TinyCommand(&Driver, 1, &Command, NULL);
    TAKE(NVME_RULE_OPCODE_INVALID, "I/O opcode 0x5");
    Command = TinyMakeCommand(&Driver, NM_IO_WRITE_ZEROES, 1);
    TinyCommand(&Driver, 1, &Command, NULL);
    TAKE(NVME_RULE_COMMAND_UNADVERTISED, "ONCS=0x4");
    Command = TinyMakeCommand(&Driver, NM_IO_FLUSH, 1);
    Command.Cdw0 |= 1U << 8;
    TinyCommand(&Driver, 1, &Command, NULL);
    TAKE(NVME_RULE_FUSED_COMMAND, "fused operation 1");
    assert_int_equal(TinyReadWrite(&Driver, 1, FALSE, 5, 0, 1, Data, 512),
                     NM_STATUS(NM_SCT_GENERIC, NM_SC_INVALID_NAMESPACE) | NM_STATUS_DNR);
    TAKE(NVME_RULE_NAMESPACE_INVALID, "namespace 5");
    TinyReadWrite(&Driver, 1, FALSE, 2, 4095, 2, Data, 8192);
    TAKE(NVME_RULE_LBA_OUT_OF_RANGE, "LBA 4095 + 2 blocks");
    // MDTS 7: 512 KiB at most; 129 pages is one too many.
    TinyReadWrite(&Driver, 1, FALSE, 1, 0, 129 * 8, Data, 129 * 4096);
    TAKE(NVME_RULE_TRANSFER_EXCEEDS_MDTS, "528384 bytes exceeds MDTS (524288 bytes)");
    // NSID 3 keeps 8 bytes of metadata per block apart: MPTR is required.
    TinyReadWrite(&Driver, 1, FALSE, 3, 0, 1, Data, 512);
    TAKE(NVME_RULE_METADATA_POINTER, "MPTR=0");

    Command = TinyMakeCommand(&Driver, NM_ADMIN_GET_LOG_PAGE, 0xFFFFFFFF);
    TinyBuildPrps(&Driver, &Command, Data, 512);
    Command.Cdw10 = NM_LOG_SMART | (127U << 16);
    Command.Cdw12 = 2;
    Admin(&Command);
    TAKE(NVME_RULE_LOG_OFFSET_INVALID, "offset 2");
    Command = TinyMakeCommand(&Driver, NM_ADMIN_SET_FEATURES, 0);
    Command.Cdw10 = NM_FEATURE_POWER_MANAGEMENT;
    Command.Cdw11 = 3;
    Admin(&Command);
    TAKE(NVME_RULE_FEATURE_VALUE_INVALID, "Power Management");
    // AERL 3: four AERs may wait, the fifth is refused.
    for (U32 I = 0; I < 4; I++) {
        Command = TinyMakeCommand(&Driver, NM_ADMIN_ASYNC_EVENT, 0);
        TinySubmit(&Driver, 0, &Command);
    }
    assert_int_equal(NVMeModelViolationCount(Model), 0);
    Command = TinyMakeCommand(&Driver, NM_ADMIN_ASYNC_EVENT, 0);
    assert_int_equal(Admin(&Command), NM_STATUS(NM_SCT_COMMAND, NM_SC_AER_LIMIT) | NM_STATUS_DNR);
    TAKE(NVME_RULE_AER_LIMIT_EXCEEDED, "4 already outstanding");
    MemoryBusForget(HostPlatformMemoryBus(), Data, 1024 * 1024);
    free(Data);
    Finish();
}

/************************************************************************/
// Data pointers

static NM_SQE ReadCommand(U64 Lba, U32 Blocks) {
    NM_SQE Command = TinyMakeCommand(&Driver, NM_IO_READ, 1);
    Command.Cdw10 = (U32)Lba;
    Command.Cdw12 = Blocks - 1;
    return Command;
}

static void test_prp_rules(void** State) {
    (void)State;
    Start();
    Up(1, 16);
    PLATFORM_DMA Data, List;
    assert_int_equal(PlatformDMAAlloc(8 * 4096, 4096, 0, &Data), KSTATUS_SUCCESS);
    assert_int_equal(PlatformDMAAlloc(2 * 4096, 4096, 0, &List), KSTATUS_SUCCESS);
    U64* Slots = (U64*)List.Linear;
    U16 PrpInvalid = NM_STATUS(NM_SCT_GENERIC, NM_SC_PRP_OFFSET_INVALID) | NM_STATUS_DNR;
    NM_SQE Command;

    Command = ReadCommand(0, 1);
    Command.Prp1 = Data.Physical + 2;
    assert_int_equal(TinyCommand(&Driver, 1, &Command, NULL), PrpInvalid);
    TAKE(NVME_RULE_PRP1_ALIGNMENT, "is not dword aligned");
    Command = ReadCommand(0, 8);   // 4 KiB from mid-page: PRP2 is the second page
    Command.Prp1 = Data.Physical + 2048;
    Command.Prp2 = Data.Physical + 4096 + 512;
    assert_int_equal(TinyCommand(&Driver, 1, &Command, NULL), PrpInvalid);
    TAKE(NVME_RULE_PRP2_ALIGNMENT, "must be 4096-byte aligned");
    Command = ReadCommand(0, 1);
    Command.Prp1 = Data.Physical;
    Command.Prp2 = Data.Physical + 4096;
    assert_int_equal(TinyCommand(&Driver, 1, &Command, NULL), 0);   // still executed
    TAKE(NVME_RULE_PRP2_UNUSED_NONZERO, "must be 0");
    Command = ReadCommand(0, 24);   // 12 KiB: PRP2 is a list
    Command.Prp1 = Data.Physical;
    Command.Prp2 = List.Physical + 4;
    assert_int_equal(TinyCommand(&Driver, 1, &Command, NULL), PrpInvalid);
    TAKE(NVME_RULE_PRP_LIST_ALIGNMENT, "qword aligned");
    Slots[0] = Data.Physical + 4096;
    Slots[1] = Data.Physical + 2 * 4096 + 8;
    Command = ReadCommand(0, 24);
    Command.Prp1 = Data.Physical;
    Command.Prp2 = List.Physical;
    assert_int_equal(TinyCommand(&Driver, 1, &Command, NULL), PrpInvalid);
    TAKE(NVME_RULE_PRP_ENTRY_ALIGNMENT, "entry 1");
    // A list that runs straight across its page end: the last slot holds a data page, not a chain pointer.
    Slots[510] = Data.Physical + 4096;
    Slots[511] = Data.Physical + 2 * 4096;
    Slots[512] = Data.Physical + 3 * 4096;
    Command = ReadCommand(0, 32);   // 16 KiB = PRP1 + three list entries
    Command.Prp1 = Data.Physical;
    Command.Prp2 = List.Physical + 510 * 8;
    TinyCommand(&Driver, 1, &Command, NULL);
    TAKE(NVME_RULE_PRP_LIST_CHAIN, "did the list cross a page without a chain entry?");
    Command = ReadCommand(0, 1);
    Command.Prp1 = 0x1000;   // nobody mapped physical page 1
    assert_int_equal(TinyCommand(&Driver, 1, &Command, NULL), NM_STATUS(NM_SCT_GENERIC, NM_SC_DATA_TRANSFER_ERROR));
    TAKE(NVME_RULE_DMA_UNMAPPED, "is not in memory");
    PlatformDMAFree(&Data);
    PlatformDMAFree(&List);
    Finish();
}

static void SetSgl1(NM_SQE* Command, PHYSICAL Address, U32 Length, U8 Type) {
    NM_SGL_DESCRIPTOR Descriptor = {Address, Length, {0, 0, 0}, Type};
    Command->Cdw0 |= (U32)NM_PSDT_SGL_MPTR_BUFFER << 14;
    memcpy(&Command->Prp1, &Descriptor, 16);
}

static void test_sgl_rules(void** State) {
    (void)State;
    Start();
    Up(1, 16);
    PLATFORM_DMA Data, Lists;
    PlatformDMAAlloc(4 * 4096, 4096, 0, &Data);
    PlatformDMAAlloc(2 * 4096, 4096, 0, &Lists);
    NM_SGL_DESCRIPTOR* Segment = (NM_SGL_DESCRIPTOR*)Lists.Linear;
    NM_SQE Command;

    Command = ReadCommand(0, 1);
    Command.Cdw0 |= 3U << 14;
    TinyCommand(&Driver, 1, &Command, NULL);
    TAKE(NVME_RULE_PSDT_INVALID, "PSDT=11b");
    Command = TinyMakeCommand(&Driver, NM_ADMIN_IDENTIFY, 0);
    Command.Cdw10 = NM_CNS_CONTROLLER;
    SetSgl1(&Command, Data.Physical, 4096, NM_SGL_TYPE(NM_SGL_DATA_BLOCK, 0));
    assert_int_equal(Admin(&Command), NM_STATUS(NM_SCT_GENERIC, NM_SC_INVALID_FIELD) | NM_STATUS_DNR);
    TAKE(NVME_RULE_ADMIN_SGL, "uses SGLs");
    Command = ReadCommand(0, 1);
    SetSgl1(&Command, Data.Physical, 512, NM_SGL_TYPE(4, 0));   // keyed data block
    assert_int_equal(TinyCommand(&Driver, 1, &Command, NULL),
                     NM_STATUS(NM_SCT_GENERIC, NM_SC_SGL_TYPE_INVALID) | NM_STATUS_DNR);
    TAKE(NVME_RULE_SGL_DESCRIPTOR_TYPE, "type 4");
    Command = ReadCommand(0, 1);
    SetSgl1(&Command, Data.Physical, 512, NM_SGL_TYPE(NM_SGL_DATA_BLOCK, 1));   // offset subtype
    TinyCommand(&Driver, 1, &Command, NULL);
    TAKE(NVME_RULE_SGL_DESCRIPTOR_TYPE, "subtype 1");
    Command = ReadCommand(0, 1);
    SetSgl1(&Command, Lists.Physical, 10, NM_SGL_TYPE(NM_SGL_LAST_SEGMENT, 0));
    TinyCommand(&Driver, 1, &Command, NULL);
    TAKE(NVME_RULE_SGL_SEGMENT_INVALID, "length 10");
    // A Segment descriptor that is not the last of its segment.
    memset(Segment, 0, 4096);
    Segment[0] = (NM_SGL_DESCRIPTOR){Lists.Physical + 4096, 16, {0, 0, 0}, NM_SGL_TYPE(NM_SGL_SEGMENT, 0)};
    Segment[1] = (NM_SGL_DESCRIPTOR){Data.Physical, 512, {0, 0, 0}, NM_SGL_TYPE(NM_SGL_DATA_BLOCK, 0)};
    Command = ReadCommand(0, 1);
    SetSgl1(&Command, Lists.Physical, 32, NM_SGL_TYPE(NM_SGL_SEGMENT, 0));
    TinyCommand(&Driver, 1, &Command, NULL);
    TAKE(NVME_RULE_SGL_SEGMENT_INVALID, "not the last one");
    // A last segment that chains again.
    Segment[0] = (NM_SGL_DESCRIPTOR){Lists.Physical + 4096, 16, {0, 0, 0}, NM_SGL_TYPE(NM_SGL_SEGMENT, 0)};
    Command = ReadCommand(0, 1);
    SetSgl1(&Command, Lists.Physical, 16, NM_SGL_TYPE(NM_SGL_LAST_SEGMENT, 0));
    TinyCommand(&Driver, 1, &Command, NULL);
    TAKE(NVME_RULE_SGL_SEGMENT_INVALID, "last SGL segment contains");
    // Length mismatches, both ways (SGLS bit 19 is clear: no excess allowed).
    Command = ReadCommand(0, 2);
    SetSgl1(&Command, Data.Physical, 512, NM_SGL_TYPE(NM_SGL_DATA_BLOCK, 0));
    assert_int_equal(TinyCommand(&Driver, 1, &Command, NULL),
                     NM_STATUS(NM_SCT_GENERIC, NM_SC_SGL_LENGTH_INVALID) | NM_STATUS_DNR);
    TAKE(NVME_RULE_SGL_LENGTH_MISMATCH, "describes 512 bytes, the command transfers 1024");
    Command = ReadCommand(0, 1);
    SetSgl1(&Command, Data.Physical, 4096, NM_SGL_TYPE(NM_SGL_DATA_BLOCK, 0));
    TinyCommand(&Driver, 1, &Command, NULL);
    TAKE(NVME_RULE_SGL_LENGTH_MISMATCH, "describes 4096 bytes");
    PlatformDMAFree(&Data);
    PlatformDMAFree(&Lists);
    Finish();
}

static void test_sgl_support_and_granularity(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    NVMeModelDefaultConfig(&Config);
    Config.Sgls = 0;
    StartWith(&Config);
    Up(1, 16);
    PLATFORM_DMA Data;
    PlatformDMAAlloc(4096, 4096, 0, &Data);
    NM_SQE Command = ReadCommand(0, 1);
    SetSgl1(&Command, Data.Physical, 512, NM_SGL_TYPE(NM_SGL_DATA_BLOCK, 0));
    assert_int_equal(TinyCommand(&Driver, 1, &Command, NULL),
                     NM_STATUS(NM_SCT_GENERIC, NM_SC_INVALID_FIELD) | NM_STATUS_DNR);
    TAKE(NVME_RULE_SGL_UNSUPPORTED, "SGLS=0");
    PlatformDMAFree(&Data);
    Finish();

    NVMeModelDefaultConfig(&Config);
    Config.Sgls = 0x2;   // supported, dword granularity
    StartWith(&Config);
    Up(1, 16);
    PlatformDMAAlloc(4096, 4096, 0, &Data);
    PLATFORM_DMA Lists;
    PlatformDMAAlloc(4096, 4096, 0, &Lists);
    NM_SGL_DESCRIPTOR* Segment = (NM_SGL_DESCRIPTOR*)Lists.Linear;
    Segment[0] = (NM_SGL_DESCRIPTOR){Data.Physical + 1, 511, {0, 0, 0}, NM_SGL_TYPE(NM_SGL_DATA_BLOCK, 0)};
    Segment[1] = (NM_SGL_DESCRIPTOR){Data.Physical + 1024, 1, {0, 0, 0}, NM_SGL_TYPE(NM_SGL_DATA_BLOCK, 0)};
    Command = ReadCommand(0, 1);
    SetSgl1(&Command, Lists.Physical, 32, NM_SGL_TYPE(NM_SGL_LAST_SEGMENT, 0));
    assert_int_equal(TinyCommand(&Driver, 1, &Command, NULL),
                     NM_STATUS(NM_SCT_GENERIC, NM_SC_SGL_GRANULARITY_INVALID) | NM_STATUS_DNR);
    TAKE(NVME_RULE_SGL_ALIGNMENT, "not dword aligned");
    PlatformDMAFree(&Data);
    PlatformDMAFree(&Lists);
    Finish();
}

static void test_dma_without_bus_master(void** State) {
    (void)State;
    Start();
    Up(1, 16);
    U32 Command = NVMeModelConfigRead32(Model, PCI_COMMAND);
    NVMeModelConfigWrite32(Model, PCI_COMMAND, (Command & 0xFFFF) & ~PCI_COMMAND_BUS_MASTER);
    NM_SQE Flush = TinyMakeCommand(&Driver, NM_IO_FLUSH, 1);
    TinySubmit(&Driver, 1, &Flush);
    TAKE(NVME_RULE_DMA_WITHOUT_BUS_MASTER, "Bus Master Enable is clear");
    // Like QEMU, a controller that cannot fetch its SQ stops with CSTS.CFS.
    assert_true(NVMeModelRead32(Model, NM_REG_CSTS) & NM_CSTS_CFS);
    Finish();
}

/** Doorbell Buffer Config: PRPs must be page aligned; then an admin doorbell register must match its shadow entry. */
static void test_dbbuf_admin_shadow(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    NVMeModelDefaultConfig(&Config);
    Config.Oacs |= 0x100;
    StartWith(&Config);
    Up(0, 0);
    PLATFORM_DMA Pages;
    assert_int_equal(PlatformDMAAlloc(8192, 4096, 0, &Pages), KSTATUS_SUCCESS);
    NM_SQE Command = TinyMakeCommand(&Driver, NM_ADMIN_DOORBELL_BUFFER_CONFIG, 0);
    Command.Prp1 = Pages.Physical + 64;
    Command.Prp2 = Pages.Physical + 4096;
    assert_int_equal(Admin(&Command), NM_STATUS(NM_SCT_GENERIC, NM_SC_INVALID_FIELD) | NM_STATUS_DNR);
    Command = TinyMakeCommand(&Driver, NM_ADMIN_DOORBELL_BUFFER_CONFIG, 0);
    Command.Prp1 = Pages.Physical;
    Command.Prp2 = Pages.Physical + 4096;
    // TinyDriver keeps no shadow: the head it writes for this very completion differs from the shadow entry.
    assert_int_equal(Admin(&Command), 0);
    TAKE(NVME_RULE_DBBUF_ADMIN_MISMATCH, "admin CQ head doorbell written");
    PlatformDMAFree(&Pages);
    Finish();
}

/************************************************************************/
// Coverage

static void test_every_rule_is_exercised(void** State) {
    (void)State;
    U32 Missing = 0;
    for (U32 Rule = 1; Rule < NVME_RULE_COUNT; Rule++) {
        assert_string_not_equal(NVMeModelRuleName((NVME_RULE)Rule), "?");
        if (!Covered[Rule]) {
            fprintf(stderr, "rule %s has no test here\n", NVMeModelRuleName((NVME_RULE)Rule));
            Missing++;
        }
    }
    assert_int_equal(Missing, 0);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(test_clean_sequence_has_no_violations),
        cmocka_unit_test(test_register_width_and_alignment),
        cmocka_unit_test(test_register_offsets_and_read_only),
        cmocka_unit_test(test_64bit_register_split_order),
        cmocka_unit_test(test_mmio_with_decoding_off),
        cmocka_unit_test(test_intmask_with_msix_and_msix_table_access),
        cmocka_unit_test(test_enable_rules),
        cmocka_unit_test(test_enable_during_shutdown_and_alignment),
        cmocka_unit_test(test_doorbell_rules),
        cmocka_unit_test(test_sq_overrun),
        cmocka_unit_test(test_cid_reuse),
        cmocka_unit_test(test_queue_creation_rules),
        cmocka_unit_test(test_queue_entry_sizes_unset),
        cmocka_unit_test(test_command_rules),
        cmocka_unit_test(test_prp_rules),
        cmocka_unit_test(test_sgl_rules),
        cmocka_unit_test(test_sgl_support_and_granularity),
        cmocka_unit_test(test_dma_without_bus_master),
        cmocka_unit_test(test_dbbuf_admin_shadow),
        cmocka_unit_test(test_every_rule_is_exercised),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
