/*
 * Test-DriverPitfalls.c - real-hardware pitfalls of issue 11 (and of
 * ../shared/reference/nvme-driver-anchors.md, section 10) on the controller
 * model: each one the driver handles, shown handled.
 *
 *   quirks from the table, one controller per kind of entry the driver acts
 *     on: Samsung PM1725a (delay after disable, MQES 0 means 64, no Write
 *     Zeroes), WD SN530 (broken MSI: INTx), Amazon (48-bit DMA), a Toshiba
 *     part known by its model string (no APST), ADATA SX8200 (no deepest
 *     power state); the lookups themselves are unit-tested in
 *     tests/unit/Test-NVMeQuirks.c
 *   MQES 0 without a quirk (64 entries, a warning)
 *   APST: Linux's table at bring-up and again after a reset
 *   firmware hand-off: the controller left enabled with queues in firmware
 *     memory
 *   the MSI-X table and PBA in BAR4 (not BAR0)
 *   a smaller queue grant after a reset
 *   features set with NVMeSetFeature re-applied after a reset
 */
// SOURCES: $(NVME_DRIVER_SOURCES)

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "Test-DriverCommon.h"

/** A controller with another PCI identity (and the same Identify VID, as real parts have). */
static void IdentityConfig(NVME_MODEL_CONFIG* Config, U16 VendorId, U16 DeviceId) {
    DriverDefaultConfig(Config);
    Config->VendorId = VendorId;
    Config->DeviceId = DeviceId;
}

static U64 ResetTookMs(DRIVER_TEST* T) {
    U64 Start = HostClockNowNs();
    assert_int_equal(NVMeResetController(T->Index), KSTATUS_SUCCESS);
    return (HostClockNowNs() - Start) / 1000000;
}

/************************************************************************/
// Quirks

static void test_quirks_samsung_pm1725a(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    IdentityConfig(&Config, 0x144d, 0xa822);
    Config.Mqes = 63;
    Config.MqesReadsZero = TRUE;
    Config.Oncs |= 0x08;  // Write Zeroes advertised, and broken
    DRIVER_TEST T;
    DriverStart(&T, &Config);
    assert_int_equal(T.Info->Quirks,
                     NVME_QUIRK_DELAY_BEFORE_READY | NVME_QUIRK_MQES_ZERO_IS_64 | NVME_QUIRK_NO_WRITE_ZEROES);
    assert_true(HostLogContains("quirks: delay before ready, MQES 0 means 64, no Write Zeroes"));
    assert_false(HostLogContains("CAP.MQES is 0"));  // known for this part: no warning
    assert_int_equal(T.Info->Queues[1].Depth, 64);
    assert_int_equal(NVMeWriteZeroes(T.Ns, 0, 8), KSTATUS_NOT_SUPPORTED);
    NVME_MODEL_STATS Stats;
    NVMeModelGetStats(T.Model, &Stats);
    assert_int_equal(Stats.WriteZeroes, 0);
    assert_true(ResetTookMs(&T) >= 2300);  // the post-disable delay
    DriverWriteRead(&T, 0, 64, 1);
    DriverEnd(&T);
}

static void test_mqes_zero_without_quirk(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    Config.Mqes = 63;  // what it takes; what it says is 0
    Config.MqesReadsZero = TRUE;
    DRIVER_TEST T;
    DriverStart(&T, &Config);
    assert_int_equal(T.Info->Quirks, 0);
    assert_true(HostLogContains("CAP.MQES is 0 (invalid), assuming 64 entries"));
    assert_int_equal(T.Info->Queues[0].Depth, 64);
    assert_int_equal(T.Info->Queues[1].Depth, 64);
    // More commands than 63 slots at once: the queue's flow control holds, nothing overruns.
    enum { COUNT = 100 };
    U8* Buffer = DriverAlloc(COUNT * 4096);
    DRIVER_ASYNC Async;
    DriverAsyncInit(&Async, COUNT);
    for (U32 I = 0; I < COUNT; I++) {
        assert_int_equal(NVMeSubmitIO(T.Ns, NVME_IO_READ, I * 8, 8, Buffer + I * 4096, DriverAsyncCallback, &Async),
                         KSTATUS_SUCCESS);
    }
    assert_true(DriverAsyncWait(&Async, 3600000));
    assert_int_equal(Async.Failed, 0);
    DriverAsyncDestroy(&Async);
    DriverFree(Buffer, COUNT * 4096);
    DriverEnd(&T);
}

static void test_quirk_broken_msi_uses_intx(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    IdentityConfig(&Config, 0x15b7, 0x5008);
    NVMeModelApplyPreset(&Config, NVME_PRESET_NO_MSIX);  // MSI and INTx: MSI would be tried first
    DRIVER_TEST T;
    DriverStart(&T, &Config);
    assert_int_equal(T.Info->Quirks, NVME_QUIRK_BROKEN_MSI);
    assert_int_equal(T.Info->InterruptMode, PCI_INTERRUPT_INTX);
    DriverWriteRead(&T, 0, 64, 2);
    NVME_MODEL_STATS Stats;
    NVMeModelGetStats(T.Model, &Stats);
    assert_int_equal(Stats.MsiMessages, 0);
    assert_true(Stats.IntxAssertions > 0);
    DriverEnd(&T);
}

static void test_quirk_dma_48bit(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    IdentityConfig(&Config, 0x1d0f, 0x0061);
    DRIVER_TEST T;
    DriverStart(&T, &Config);
    assert_int_equal(T.Info->Quirks, NVME_QUIRK_DMA_48BIT);
    assert_int_equal(T.Device->DmaAddressBits, 48);
    NVME_MODEL_QUEUE_INFO Queue;
    for (U16 Qid = 0; Qid <= 1; Qid++) {
        assert_true(NVMeModelQueueInfo(T.Model, Qid, FALSE, &Queue));
        assert_true(Queue.Base < (1ULL << 48));
        assert_true(NVMeModelQueueInfo(T.Model, Qid, TRUE, &Queue));
        assert_true(Queue.Base < (1ULL << 48));
    }
    DriverWriteRead(&T, 0, 64, 3);
    DriverEnd(&T);
}

static void test_quirk_no_apst_by_model_string(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    IdentityConfig(&Config, 0x1179, 0x010e);
    strcpy(Config.ModelNumber, "THNSF5256GPUK TOSHIBA");
    Config.Apst = TRUE;
    DRIVER_TEST T;
    DriverStart(&T, &Config);
    assert_int_equal(T.Info->Quirks, NVME_QUIRK_NO_APST);
    assert_true(T.Info->ApstSupported);
    assert_false(T.Info->ApstEnabled);
    assert_non_null(strstr(T.Info->ApstPolicy, "quirk"));
    U32 Dword11 = 0xFFFFFFFF;
    U64 Table[32];
    NVMeModelGetApst(T.Model, &Dword11, Table);
    assert_int_equal(Dword11 & 1, 0);
    for (U32 I = 0; I < 32; I++) assert_int_equal(Table[I], 0);
    DriverEnd(&T);
}

/************************************************************************/
// APST

#define PS2_ENTRY ((2ULL << 3) | (200ULL << 8))   // 50 x (2 + 2 ms) = 200 ms idle, then PS2
#define PS3_ENTRY ((3ULL << 3) | (2500ULL << 8))  // 50 x (10 + 40 ms) = 2.5 s idle, then PS3

static void ExpectApst(DRIVER_TEST* T, const U64 Expected[4]) {
    const NVME_CONTROLLER_INFO* Info = DriverInfo(T);
    assert_true(Info->ApstSupported);
    assert_true(Info->ApstEnabled);
    U32 Dword11 = 0;
    U64 Table[32];
    NVMeModelGetApst(T->Model, &Dword11, Table);
    assert_int_equal(Dword11 & 1, 1);
    for (U32 I = 0; I < 4; I++) {
        assert_int_equal(Info->ApstTable[I], Expected[I]);
        assert_int_equal(Table[I], Expected[I]);
    }
    for (U32 I = 4; I < 32; I++) assert_int_equal(Table[I], 0);
}

static void test_apst_policy_at_bring_up_and_after_reset(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    Config.Apst = TRUE;
    DRIVER_TEST T;
    DriverStart(&T, &Config);
    // Linux's table: each state idles into the deepest non-operational state it may use.
    const U64 Expected[4] = {PS2_ENTRY, PS2_ENTRY, PS3_ENTRY, 0};
    ExpectApst(&T, Expected);
    assert_non_null(strstr(T.Info->ApstPolicy, "Linux's table"));
    // A reset makes the controller forget it; the driver sends it again.
    assert_int_equal(NVMeResetController(T.Index), KSTATUS_SUCCESS);
    ExpectApst(&T, Expected);
    U32 Value = 0;
    assert_int_equal(NVMeGetFeature(T.Index, NVME_FEATURE_APST, 0, 0, &Value), KSTATUS_SUCCESS);
    assert_int_equal(Value & 1, 1);
    DriverEnd(&T);
}

static void test_apst_no_deepest_state_quirk(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    IdentityConfig(&Config, 0x1cc1, 0x8201);
    Config.Apst = TRUE;
    DRIVER_TEST T;
    DriverStart(&T, &Config);
    assert_int_equal(T.Info->Quirks, NVME_QUIRK_NO_DEEPEST_PS);
    const U64 Expected[4] = {PS2_ENTRY, PS2_ENTRY, 0, 0};  // PS3 never entered
    ExpectApst(&T, Expected);
    DriverEnd(&T);
}

/************************************************************************/
// Firmware hand-off

static LPVOID FirmwareRings;

/** What SeaBIOS leaves: admin queues in its own memory, the controller enabled and ready. */
static void FirmwareLeavesEnabled(NVME_MODEL* Model) {
    PHYSICAL Physical = 0;
    assert_true(MemoryBusAllocate(HostPlatformMemoryBus(), 8192, 4096, TRUE, &FirmwareRings, &Physical));
    NVMeModelWrite32(Model, 0x24, (1U << 16) | 1);  // AQA: 2 entries each
    NVMeModelWrite32(Model, 0x28, (U32)Physical);   // ASQ
    NVMeModelWrite32(Model, 0x2C, (U32)(Physical >> 32));
    NVMeModelWrite32(Model, 0x30, (U32)(Physical + 4096));  // ACQ
    NVMeModelWrite32(Model, 0x34, (U32)((Physical + 4096) >> 32));
    NVMeModelWrite32(Model, 0x14, (6U << 16) | (4U << 20));  // CC: IOSQES 6, IOCQES 4
    NVMeModelWrite32(Model, 0x14, (6U << 16) | (4U << 20) | 1);
    for (U32 I = 0; I < 10000 && !(NVMeModelPeekRegister(Model, 0x1C) & 1); I++) PlatformSleepMs(1);
    assert_int_equal(NVMeModelPeekRegister(Model, 0x1C) & 1, 1);  // RDY
}

static void test_firmware_hand_off(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    DriverPreBind = FirmwareLeavesEnabled;
    DRIVER_TEST T;
    DriverStart(&T, &Config);
    assert_true(T.Info->WasEnabledByFirmware);
    assert_true(HostLogContains("taken over from firmware (was enabled)"));
    NVME_MODEL_STATS Stats;
    NVMeModelGetStats(T.Model, &Stats);
    assert_int_equal(Stats.Enables, 2);  // firmware's, then the driver's after disabling it
    NVME_MODEL_QUEUE_INFO Admin;
    assert_true(NVMeModelQueueInfo(T.Model, 0, FALSE, &Admin));
    assert_true(Admin.Size == 64);  // the driver's admin queue, not firmware's 2 entries
    DriverWriteRead(&T, 0, 64, 4);
    DriverEnd(&T);
    MemoryBusFree(HostPlatformMemoryBus(), FirmwareRings);
}

/************************************************************************/
// MSI-X table in BAR4

static void test_msix_table_in_bar4(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    Config.MsixInBar4 = TRUE;
    DriverSetOption("nvme.queues", "2");
    DRIVER_TEST T;
    DriverStart(&T, &Config);
    U8 Cap = NVMeModelCapabilityOffset(T.Model, 0x11);
    assert_int_equal(NVMeModelConfigRead32(T.Model, Cap + 4) & 7, 4);  // table BIR: BAR4
    assert_int_equal(NVMeModelConfigRead32(T.Model, Cap + 8) & 7, 4);  // PBA BIR: BAR4
    assert_int_equal(T.Info->InterruptMode, PCI_INTERRUPT_MSIX);
    assert_int_equal(T.Info->IoQueueCount, 2);
    enum { WORKERS = 2 };  // one per queue, round robin: both I/O vectors fire
    DRIVER_WORKER Workers[WORKERS];
    DriverWorkersStart(&T, Workers, WORKERS, 10);
    DriverWorkersFinish(Workers, WORKERS);
    NVME_MODEL_STATS Stats;
    NVMeModelGetStats(T.Model, &Stats);
    for (U32 Vector = 0; Vector < 3; Vector++) assert_true(Stats.MsixPerVector[Vector] > 0);
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    for (U32 Queue = 0; Queue < 3; Queue++) assert_true(Info->Queues[Queue].Interrupts > 0);
    assert_int_equal(Info->MissedInterrupts, 0);
    DriverEnd(&T);
}

/************************************************************************/
// Queue grants and features across resets

static void test_smaller_queue_grant_after_reset(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    Config.MaxIoQueues = 4;
    Config.GrantRequested = TRUE;
    DriverSetOption("nvme.queues", "4");
    DRIVER_TEST T;
    DriverStart(&T, &Config);
    assert_int_equal(T.Info->IoQueueCount, 4);
    NVMeModelSetMaxIoQueues(T.Model, 2);
    assert_int_equal(NVMeResetController(T.Index), KSTATUS_SUCCESS);
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->State, NVME_STATE_READY);
    assert_int_equal(Info->IoQueueCount, 2);
    assert_int_equal(Info->IoQueuesGranted, 2);
    U32 Sq = 0, Cq = 0;
    NVMeModelGrantedQueues(T.Model, &Sq, &Cq);
    assert_int_equal(Sq, 2);
    NVME_MODEL_QUEUE_INFO Queue;
    assert_false(NVMeModelQueueInfo(T.Model, 3, FALSE, &Queue) && Queue.Exists);
    enum { WORKERS = 4 };  // spread over the queues left
    DRIVER_WORKER Workers[WORKERS];
    DriverWorkersStart(&T, Workers, WORKERS, 10);
    DriverWorkersFinish(Workers, WORKERS);
    DriverExpectIdle(&T);
    DriverEnd(&T);
}

static void test_features_reapplied_after_reset(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    DRIVER_TEST T;
    DriverStart(&T, &Config);
    U32 Result = 0, Value = 0;
    assert_int_equal(NVMeSetFeature(T.Index, NVME_FEATURE_INTERRUPT_COALESCING, 0, 0x0305, &Result), KSTATUS_SUCCESS);
    assert_int_equal(NVMeSetFeature(T.Index, NVME_FEATURE_ARBITRATION, 0, 0x2, &Result), KSTATUS_SUCCESS);
    assert_int_equal(DriverInfo(&T)->FeaturesSaved, 2);
    for (U32 Round = 0; Round < 2; Round++) {
        assert_int_equal(NVMeResetController(T.Index), KSTATUS_SUCCESS);
        assert_int_equal(NVMeGetFeature(T.Index, NVME_FEATURE_INTERRUPT_COALESCING, 0, 0, &Value), KSTATUS_SUCCESS);
        assert_int_equal(Value, 0x0305);
        assert_int_equal(NVMeGetFeature(T.Index, NVME_FEATURE_ARBITRATION, 0, 0, &Value), KSTATUS_SUCCESS);
        assert_int_equal(Value, 0x2);
    }
    // Set again: the newer value replaces the saved one, it is not kept twice.
    assert_int_equal(NVMeSetFeature(T.Index, NVME_FEATURE_INTERRUPT_COALESCING, 0, 0x0102, &Result), KSTATUS_SUCCESS);
    assert_int_equal(DriverInfo(&T)->FeaturesSaved, 2);
    assert_int_equal(NVMeResetController(T.Index), KSTATUS_SUCCESS);
    assert_int_equal(NVMeGetFeature(T.Index, NVME_FEATURE_INTERRUPT_COALESCING, 0, 0, &Value), KSTATUS_SUCCESS);
    assert_int_equal(Value, 0x0102);
    DriverEnd(&T);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        DRIVER_TEST_CASE(test_quirks_samsung_pm1725a),
        DRIVER_TEST_CASE(test_mqes_zero_without_quirk),
        DRIVER_TEST_CASE(test_quirk_broken_msi_uses_intx),
        DRIVER_TEST_CASE(test_quirk_dma_48bit),
        DRIVER_TEST_CASE(test_quirk_no_apst_by_model_string),
        DRIVER_TEST_CASE(test_apst_policy_at_bring_up_and_after_reset),
        DRIVER_TEST_CASE(test_apst_no_deepest_state_quirk),
        DRIVER_TEST_CASE(test_firmware_hand_off),
        DRIVER_TEST_CASE(test_msix_table_in_bar4),
        DRIVER_TEST_CASE(test_smaller_queue_grant_after_reset),
        DRIVER_TEST_CASE(test_features_reapplied_after_reset),
    };
    return DriverRunTests(Tests, ARRAY_COUNT(Tests));
}
