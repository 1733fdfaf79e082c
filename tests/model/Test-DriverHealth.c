/*
 * Test-DriverHealth.c - the NVMe driver's management and health side
 * against the controller model: Get/Set Features (and a refusal reported as
 * the device's answer), the register snapshot, SMART / Error / Firmware log
 * pages (offsets, LPA, ELPE; their decoders are unit-tested in
 * tests/unit/Test-NVMeSpec.c), Asynchronous
 * Event Requests (an event arrives, its log is read with RAE clear, one line
 * is logged naming the condition, the AER is re-armed and the count stays at
 * AERL + 1), Dataset Management and Write Zeroes (ranges, splitting, ONCS,
 * the DISK layer's TRIM), a lost deallocation recovered by a reset, and
 * FLUSH only with a volatile write cache.
 */
// SOURCES: $(NVME_DRIVER_SOURCES)

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "Test-DriverCommon.h"

/** Waits (platform time) until the watchdog handled Count events and re-armed every AER. */
static void WaitEvents(DRIVER_TEST* T, U64 Count) {
    for (U32 I = 0; I < 2000; I++) {
        const NVME_CONTROLLER_INFO* Info = DriverInfo(T);
        if (Info->AsyncEvents >= Count && Info->AerOutstanding == Info->AerLimit) return;
        PlatformSleepMs(1);
    }
    fail_msg("events: %llu of %llu handled, %u of %u AERs outstanding", (unsigned long long)DriverInfo(T)->AsyncEvents,
             (unsigned long long)Count, DriverInfo(T)->AerOutstanding, DriverInfo(T)->AerLimit);
}

/************************************************************************/
// Features and registers

static void test_features(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    DriverStart(&T, &Config);
    U32 Value = 0;
    assert_int_equal(NVMeGetFeature(T.Index, NVME_FEATURE_NUMBER_OF_QUEUES, 0, 0, &Value), KSTATUS_SUCCESS);
    assert_int_equal(Value, 0x003F003F);
    assert_int_equal(NVMeGetFeature(T.Index, NVME_FEATURE_ASYNC_EVENT_CONFIG, 0, 0, &Value), KSTATUS_SUCCESS);
    assert_int_equal(Value, 0x11F);  // SMART warnings 0-4 and the namespace attribute notices OAES advertises
    assert_int_equal(DriverInfo(&T)->AsyncEventConfig, 0x11F);
    // Temperature threshold: over-temperature of the composite sensor.
    assert_int_equal(NVMeSetFeature(T.Index, NVME_FEATURE_TEMPERATURE_THRESHOLD, 0, 350, NULL), KSTATUS_SUCCESS);
    assert_int_equal(NVMeGetFeature(T.Index, NVME_FEATURE_TEMPERATURE_THRESHOLD, 0, 0, &Value), KSTATUS_SUCCESS);
    assert_int_equal(Value, 350);
    // Volatile write cache off and on.
    assert_int_equal(NVMeSetFeature(T.Index, NVME_FEATURE_VOLATILE_WRITE_CACHE, 0, 0, NULL), KSTATUS_SUCCESS);
    assert_int_equal(NVMeGetFeature(T.Index, NVME_FEATURE_VOLATILE_WRITE_CACHE, 0, 0, &Value), KSTATUS_SUCCESS);
    assert_int_equal(Value, 0);
    assert_int_equal(NVMeSetFeature(T.Index, NVME_FEATURE_VOLATILE_WRITE_CACHE, 0, 1, NULL), KSTATUS_SUCCESS);
    assert_int_equal(NVMeSetFeature(T.Index, NVME_FEATURE_ERROR_RECOVERY, 0, 10, NULL), KSTATUS_SUCCESS);
    assert_int_equal(NVMeGetFeature(T.Index, NVME_FEATURE_ERROR_RECOVERY, 0, 0, &Value), KSTATUS_SUCCESS);
    assert_int_equal(Value, 10);
    assert_int_equal(NVMeGetFeature(T.Index, NVME_FEATURE_ARBITRATION, 0, 0, &Value), KSTATUS_SUCCESS);
    assert_int_equal(NVMeGetFeature(T.Index, NVME_FEATURE_POWER_MANAGEMENT, 0, 0, &Value), KSTATUS_SUCCESS);
    assert_int_equal(NVMeGetFeature(T.Index, NVME_FEATURE_INTERRUPT_COALESCING, 0, 0, &Value), KSTATUS_SUCCESS);

    // QEMU answers Set Interrupt Coalescing "Feature Not Changeable": the caller gets it by name, not a log warning.
    NVME_MODEL_FAULT Refuse = DriverFault(NVME_FAULT_ERROR_STATUS, 0, NM_ADMIN_SET_FEATURES, 1);
    Refuse.Status = NM_STATUS(1, NM_SC_FEATURE_NOT_CHANGEABLE) | NM_STATUS_DNR;
    NVMeModelAddFault(T.Model, &Refuse);
    U32 Warnings = HostLogCount(LOG_LEVEL_WARNING);
    assert_int_equal(NVMeSetFeature(T.Index, NVME_FEATURE_INTERRUPT_COALESCING, 0, 0x0A04, NULL),
                     KSTATUS_NOT_SUPPORTED);
    assert_int_equal(HostLogCount(LOG_LEVEL_WARNING), Warnings);
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_string_equal(Info->LastError, "Feature Not Changeable (SCT 1h SC 0eh, DNR)");
    assert_string_equal(NVMeStatusName(Info->LastErrorStatus), "Feature Not Changeable");
    assert_int_equal(Info->State, NVME_STATE_READY);
    assert_int_equal(Info->Resets, 0);
    // An unknown feature: Invalid Field, a clear error too.
    assert_int_equal(NVMeGetFeature(T.Index, 0x0C, 0, 0, &Value), KSTATUS_BAD_PARAMETER);
    assert_int_equal(NVMeGetFeature(NVME_MAX_CONTROLLERS, NVME_FEATURE_ARBITRATION, 0, 0, &Value), KSTATUS_NOT_FOUND);
    DriverEnd(&T);
}

static void test_registers(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    DriverStart(&T, &Config);
    NVME_REGISTERS R;
    assert_int_equal(NVMeReadRegisters(T.Index, &R), KSTATUS_SUCCESS);
    assert_int_equal(R.Cap, T.Info->Cap.Raw);
    assert_int_equal(R.Vs, 0x00010400);
    assert_int_equal(R.Cc & 1, 1);
    assert_int_equal(R.Cc & 0xC000, 0);
    assert_int_equal(R.Csts & 0x3, 0x1);
    assert_int_equal(R.Aqa, 0x003F003F);
    assert_true(R.Asq != 0 && (R.Asq & 0xFFF) == 0);
    assert_true(R.Acq != 0 && (R.Acq & 0xFFF) == 0);
    assert_int_equal(R.Intms, 0);  // not read while MSI-X is on (the model would flag it)
    assert_int_equal(NVMeReadRegisters(NVME_MAX_CONTROLLERS, &R), KSTATUS_BAD_PARAMETER);
    DriverEnd(&T);
}

/************************************************************************/
// Log pages

static void test_smart_log(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    DriverStart(&T, &Config);
    for (U32 I = 0; I < 10; I++) DriverWriteRead(&T, 64 * I, 64, I);
    NVME_SMART_LOG Smart;
    assert_int_equal(NVMeReadSmartLog(T.Index, 0, &Smart), KSTATUS_SUCCESS);
    assert_int_equal(Smart.Temperature, 323);
    assert_int_equal(Smart.CriticalWarning, 0);
    assert_true(Smart.HostWriteCommands.Low >= 10);
    assert_true(Smart.HostReadCommands.Low >= 10);
    // 10 x 32 KiB is 640 units of 512 bytes: one thousand-unit, rounded up.
    assert_true(Smart.DataUnitsWritten.Low >= 1);
    assert_int_equal(Smart.HostWriteCommands.High, 0);
    // Per namespace (LPA bit 0).
    assert_int_equal(NVMeReadSmartLog(T.Index, 1, &Smart), KSTATUS_SUCCESS);
    assert_int_equal(Smart.Temperature, 323);
    NVMeModelSetSmart(T.Model, 0, 330);
    WaitEvents(&T, 0);
    assert_int_equal(NVMeReadSmartLog(T.Index, 0xFFFFFFFF, &Smart), KSTATUS_SUCCESS);
    assert_int_equal(Smart.Temperature, 330);
    DriverEnd(&T);
}

static void test_error_log(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    DriverStart(&T, &Config);
    U8* Buffer = DriverAlloc(4096);
    static const U16 Statuses[3] = {NM_STATUS(2, 0x81), NM_STATUS(2, 0x80), NM_STATUS(0, 0x80)};
    for (U32 I = 0; I < 3; I++) {
        NVME_MODEL_FAULT Fault = DriverFault(NVME_FAULT_ERROR_STATUS, 1, NM_IO_READ, 1);
        Fault.Status = Statuses[I] | NM_STATUS_DNR;
        NVMeModelAddFault(T.Model, &Fault);
        assert_true(NVMeReadSync(T.Ns, 100 + I, 1, Buffer) != KSTATUS_SUCCESS);
        NVMeModelClearFaults(T.Model);
    }
    NVME_ERROR_ENTRY Entries[8];
    U32 Count = 0;
    assert_int_equal(NVMeReadErrorLog(T.Index, Entries, 8, &Count), KSTATUS_SUCCESS);
    assert_true(Count >= 3);
    // Newest first; the failed reads are the three newest errors.
    for (U32 I = 0; I < 3; I++) {
        assert_int_equal(Entries[I].Status & 0x7FF, Statuses[2 - I]);
        assert_true((Entries[I].Status & 0x4000) != 0);  // DNR, as the completion carried it
        assert_int_equal(Entries[I].SqId, 1);
        assert_int_equal(Entries[I].Nsid, 1);
        assert_int_equal(Entries[I].Lba, 102 - I);
        if (I) assert_true(Entries[I].ErrorCount < Entries[I - 1].ErrorCount);
    }
    // Only the newest two fit: still the newest.
    assert_int_equal(NVMeReadErrorLog(T.Index, Entries, 2, &Count), KSTATUS_SUCCESS);
    assert_int_equal(Count, 2);
    assert_int_equal(Entries[0].Lba, 102);
    // With an offset (LPA bit 2): the second entry of the page first.
    U8 Page[256];
    assert_int_equal(NVMeGetLogPageAt(T.Index, 0x01, 0, 64, Page, sizeof(Page)), KSTATUS_SUCCESS);
    NVME_ERROR_ENTRY Second;
    NVMeDecodeErrorEntry(Page, &Second);
    assert_int_equal(Second.Lba, 101);
    assert_int_equal(NVMeGetLogPageAt(T.Index, 0x01, 0, 2, Page, 64), KSTATUS_BAD_PARAMETER);  // not dword aligned
    assert_int_equal(NVMeGetLogPage(T.Index, 0x01, 0, Page, 6), KSTATUS_BAD_PARAMETER);
    DriverFree(Buffer, 4096);
    DriverEnd(&T);
}

static void test_firmware_log(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    Config.Frmw = 0x3;  // one slot, slot 1 read-only
    DriverStart(&T, &Config);
    NVME_FIRMWARE_LOG Firmware;
    assert_int_equal(NVMeReadFirmwareLog(T.Index, &Firmware), KSTATUS_SUCCESS);
    assert_int_equal(Firmware.ActiveSlot, 1);
    assert_int_equal(Firmware.NextResetSlot, 0);
    assert_int_equal(Firmware.SlotCount, 1);
    assert_true(Firmware.Slot1ReadOnly);
    assert_string_equal(Firmware.RevisionText[0], "7.2.22");
    assert_string_equal(Firmware.RevisionText[1], "");
    DriverEnd(&T);
}

/************************************************************************/
// Asynchronous events

static void test_aer_smart_events(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    DriverStart(&T, &Config);
    DriverSettle(&T);
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->AerLimit, 4);  // AERL 3
    assert_int_equal(Info->AerOutstanding, 4);
    // qom-set smart_critical_warning 2: temperature.
    NVMeModelSetSmart(T.Model, 0x02, 360);
    WaitEvents(&T, 1);
    Info = DriverInfo(&T);
    assert_int_equal(Info->CriticalWarning, 0x02);
    assert_string_equal(Info->LastAsyncEvent,
                        "SMART: temperature above threshold (temperature threshold; critical warning 02h, 360 K)");
    assert_true(HostLogContains("[NVMeHealth] nvme"));
    assert_true(HostLogContains("SMART: temperature above threshold"));
    // The log was read with RAE clear: the next SMART event is delivered (spare added to temperature).
    NVMeModelSetSmart(T.Model, 0x03, 360);
    WaitEvents(&T, 2);
    Info = DriverInfo(&T);
    assert_true(strstr(Info->LastAsyncEvent, "available spare below threshold, temperature above threshold") != NULL);
    NVMeModelSetSmart(T.Model, 0x07, 360);
    WaitEvents(&T, 3);
    assert_true(strstr(DriverInfo(&T)->LastAsyncEvent, "reliability degraded") != NULL);
    NVME_MODEL_STATS Stats;
    NVMeModelGetStats(T.Model, &Stats);
    assert_int_equal(Stats.AsyncEventsCompleted, 3);
    EXPECT_NO_VIOLATION(T.Model, NVME_RULE_AER_LIMIT_EXCEEDED);
    // A reset drops the AERs; they come back, as many as before.
    assert_int_equal(NVMeResetController(T.Index), KSTATUS_SUCCESS);
    DriverSettle(&T);
    assert_int_equal(DriverInfo(&T)->AerOutstanding, 4);
    NVMeModelSetSmart(T.Model, 0x0F, 360);  // read-only newly set: no SMART event in the model for bit 3...
    NVMeModelRaiseAsyncEvent(T.Model, NM_AER_TYPE_SMART, 0, NM_LOG_SMART);  // ...so raise one
    WaitEvents(&T, 4);
    assert_true(strstr(DriverInfo(&T)->LastAsyncEvent, "media read-only") != NULL);
    DriverEnd(&T);
}

static void test_aer_error_and_notice_events(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    DriverStart(&T, &Config);
    // An error event (invalid doorbell write value) after a failed command: the newest error is named.
    NVME_MODEL_FAULT Fault = DriverFault(NVME_FAULT_ERROR_STATUS, 1, NM_IO_READ, 1);
    Fault.Status = NM_STATUS(2, 0x81) | NM_STATUS_DNR;
    NVMeModelAddFault(T.Model, &Fault);
    U8* Buffer = DriverAlloc(512);
    assert_int_equal(NVMeReadSync(T.Ns, 1, 1, Buffer), KSTATUS_IO_ERROR);
    DriverFree(Buffer, 512);
    assert_true(NVMeModelRaiseAsyncEvent(T.Model, NM_AER_TYPE_ERROR, 1, NM_LOG_ERROR));
    WaitEvents(&T, 1);
    assert_true(strstr(DriverInfo(&T)->LastAsyncEvent,
                       "error: invalid doorbell write value (last: Unrecovered Read Error, queue 1 CID") != NULL);
    // A notice the model cannot give the log of (telemetry, 07h): the line says so, nothing else breaks.
    assert_true(NVMeModelRaiseAsyncEvent(T.Model, NM_AER_TYPE_NOTICE, 2, 0x07));
    WaitEvents(&T, 2);
    assert_string_equal(DriverInfo(&T)->LastAsyncEvent, "telemetry log changed (log 07h unreadable: Invalid Log Page)");
    // A persistent internal error asks for a reset.
    assert_true(NVMeModelRaiseAsyncEvent(T.Model, NM_AER_TYPE_ERROR, 3, NM_LOG_ERROR));
    WaitEvents(&T, 3);
    for (U32 I = 0; I < 2000 && DriverInfo(&T)->Resets == 0; I++) PlatformSleepMs(1);
    assert_int_equal(DriverInfo(&T)->Resets, 1);
    assert_string_equal(DriverInfo(&T)->LastResetReason, "persistent internal error (event)");
    DriverSettle(&T);
    assert_int_equal(DriverInfo(&T)->AerOutstanding, 4);
    DriverWriteRead(&T, 0, 8, 1);
    DriverEnd(&T);
}

/************************************************************************/
// Dataset Management and Write Zeroes

static BOOL AllZero(const U8* Data, U64 Length) {
    for (U64 I = 0; I < Length; I++) {
        if (Data[I]) return FALSE;
    }
    return TRUE;
}

static void test_trim_and_write_zeroes(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    NVMeModelAddNamespace(&Config, 2, 1ULL << 30, 9, 0);  // 512 GiB, sparse: long ranges cost nothing
    DriverStart(&T, &Config);
    U64 Length = 1024 * 512;
    U8* Out = DriverAlloc(Length);
    U8* Stored = DriverAlloc(Length);
    DriverFill(Out, Length, 5);
    assert_int_equal(NVMeWriteSync(T.Ns, 0, 1024, Out), KSTATUS_SUCCESS);
    assert_int_equal(NVMeTrim(T.Ns, 100, 300), KSTATUS_SUCCESS);
    assert_int_equal(NVMeWriteZeroes(T.Ns, 600, 100), KSTATUS_SUCCESS);
    DriverBackendRead(&T, 1, 0, Stored, Length);
    assert_memory_equal(Stored, Out, 100 * 512);
    assert_true(AllZero(Stored + 100 * 512, 300 * 512));
    assert_memory_equal(Stored + 400 * 512, Out + 400 * 512, 200 * 512);
    assert_true(AllZero(Stored + 600 * 512, 100 * 512));
    assert_memory_equal(Stored + 700 * 512, Out + 700 * 512, 324 * 512);
    NVME_MODEL_STATS Stats;
    NVMeModelGetStats(T.Model, &Stats);
    assert_int_equal(Stats.Deallocates, 1);
    assert_int_equal(Stats.WriteZeroes, 1);
    // 300 Mi blocks: 300 ranges of 1 Mi, two commands (256 + 44 ranges); Write Zeroes of 200000 blocks: four.
    NVME_NAMESPACE* Big = NVMeGetNamespace(T.Index, 2);
    assert_non_null(Big);
    assert_int_equal(NVMeTrim(Big, 5, 300ULL << 20), KSTATUS_SUCCESS);
    assert_int_equal(NVMeWriteZeroes(Big, 1ULL << 29, 200000), KSTATUS_SUCCESS);
    NVMeModelGetStats(T.Model, &Stats);
    assert_int_equal(Stats.Deallocates, 3);
    assert_int_equal(Stats.WriteZeroes, 5);
    // Out of range, zero blocks: refused before any command.
    assert_int_equal(NVMeTrim(T.Ns, 262100, 100), KSTATUS_BAD_PARAMETER);
    assert_int_equal(NVMeWriteZeroes(T.Ns, 0, 0), KSTATUS_BAD_PARAMETER);
    // The DISK layer: TRIM supported, routed to Dataset Management.
    DISK* Disk = DriverFindDisk(&T, 1);
    DISK_INFO DiskInfo;
    assert_int_equal(DiskGetInfo(Disk, &DiskInfo), KSTATUS_SUCCESS);
    assert_true(DiskInfo.SupportsTrim);
    assert_true(DiskInfo.VolatileCache);
    DISK_IO Io = {0, 50, NULL, NULL, 0};
    assert_int_equal(DiskCommand(Disk, DF_DISK_TRIM, &Io), KSTATUS_SUCCESS);
    DriverBackendRead(&T, 1, 0, Stored, 50 * 512);
    assert_true(AllZero(Stored, 50 * 512));
    DriverFree(Out, Length);
    DriverFree(Stored, Length);
    DriverExpectIdle(&T);
    DriverEnd(&T);
}

static void test_trim_unsupported(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    Config.Oncs = 0;
    Config.Vwc = 0;
    DriverStart(&T, &Config);
    assert_int_equal(NVMeTrim(T.Ns, 0, 8), KSTATUS_NOT_SUPPORTED);
    assert_int_equal(NVMeWriteZeroes(T.Ns, 0, 8), KSTATUS_NOT_SUPPORTED);
    DISK* Disk = DriverFindDisk(&T, 1);
    DISK_INFO DiskInfo;
    assert_int_equal(DiskGetInfo(Disk, &DiskInfo), KSTATUS_SUCCESS);
    assert_false(DiskInfo.SupportsTrim);
    assert_false(DiskInfo.VolatileCache);
    DISK_IO Io = {0, 8, NULL, NULL, 0};
    assert_int_equal(DiskCommand(Disk, DF_DISK_TRIM, &Io), KSTATUS_NOT_SUPPORTED);
    // No volatile cache: FLUSH is done without a device command, and shutdown sends none either.
    DriverWriteRead(&T, 0, 8, 1);
    assert_int_equal(DiskFlush(Disk), KSTATUS_SUCCESS);
    assert_int_equal(HostPlatformRunShutdownHooks(FALSE), 1);
    NVME_MODEL_STATS Stats;
    NVMeModelGetStats(T.Model, &Stats);
    assert_int_equal(Stats.Flushes, 0);
    assert_int_equal(Stats.Deallocates, 0);
    assert_int_equal(Stats.WriteZeroes, 0);
    DriverEnd(&T);
}

static void test_lost_trim_recovered(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    DriverStart(&T, &Config);
    U8* Out = DriverAlloc(64 * 512);
    U8* Stored = DriverAlloc(64 * 512);
    DriverFill(Out, 64 * 512, 8);
    assert_int_equal(NVMeWriteSync(T.Ns, 0, 64, Out), KSTATUS_SUCCESS);
    NVME_MODEL_FAULT Fault = DriverFault(NVME_FAULT_DROP_COMPLETION, 1, NM_IO_DSM, 1);
    U32 Id = NVMeModelAddFault(T.Model, &Fault);
    assert_int_equal(NVMeTrim(T.Ns, 16, 32), KSTATUS_SUCCESS);  // timed out, reset, sent again with its ranges
    assert_int_equal(NVMeModelFaultHits(T.Model, Id), 1);
    assert_int_equal(DriverInfo(&T)->Resets, 1);
    DriverBackendRead(&T, 1, 0, Stored, 64 * 512);
    assert_memory_equal(Stored, Out, 16 * 512);
    assert_true(AllZero(Stored + 16 * 512, 32 * 512));
    assert_memory_equal(Stored + 48 * 512, Out + 48 * 512, 16 * 512);
    DriverFree(Out, 64 * 512);
    DriverFree(Stored, 64 * 512);
    DriverEnd(&T);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        DRIVER_TEST_CASE(test_features),
        DRIVER_TEST_CASE(test_registers),
        DRIVER_TEST_CASE(test_smart_log),
        DRIVER_TEST_CASE(test_error_log),
        DRIVER_TEST_CASE(test_firmware_log),
        DRIVER_TEST_CASE(test_aer_smart_events),
        DRIVER_TEST_CASE(test_aer_error_and_notice_events),
        DRIVER_TEST_CASE(test_trim_and_write_zeroes),
        DRIVER_TEST_CASE(test_trim_unsupported),
        DRIVER_TEST_CASE(test_lost_trim_recovered),
    };
    return DriverRunTests(Tests, ARRAY_COUNT(Tests));
}
