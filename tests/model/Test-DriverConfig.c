/*
 * Test-DriverConfig.c - the NVMe driver against odd controllers and odd
 * moments: RDY late (within CAP.TO) and never, MQES of 1, doorbell strides 1
 * and 2, MPSMIN of 8 KiB (refused, left alone), NN 1024 with a sparse active
 * list, Identify data of zeros and of nonsense (NN 0, MDTS 1, 1 GiB blocks,
 * control characters), interrupt modes other than MSI-X through a reset, polling with AERs outstanding, and the timeout
 * options.
 */
// SOURCES: $(NVME_DRIVER_SOURCES)

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "Test-DriverCommon.h"
#include "storage/nvme/NVMe-Internal.h"

#define HOUR_MS 3600000U

/************************************************************************/
// Ready

static void test_ready_late_within_cap_to(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    Config.ReadyDelayMs = 6500;  // CAP.TO is 15 x 500 ms: the driver waits up to 8 s
    U64 Start = HostClockNowNs();
    DriverStart(&T, &Config);
    assert_true((HostClockNowNs() - Start) / 1000000 >= 6500);
    DriverWriteRead(&T, 0, 8, 1);
    DriverEnd(&T);
}

static void test_ready_never(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    NVME_MODEL_CONTROLLER_FAULTS Faults;
    memset(&Faults, 0, sizeof(Faults));
    Faults.ReadyNever = TRUE;
    DriverSetControllerFaults(&Faults);
    U64 Start = HostClockNowNs();
    DriverStartQuiet(&T, &Config);  // PCIBindDrivers returned: boot goes on
    U64 TookMs = (HostClockNowNs() - Start) / 1000000;
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->State, NVME_STATE_FAILED);
    assert_true(strstr(Info->StateReason, "not ready within 8000 ms") != NULL);
    assert_true(TookMs >= 8000 && TookMs < 9000);  // bounded by CAP.TO
    assert_null(NVMeGetNamespace(T.Index, 1));
    assert_null(DriverFindDisk(&T, 1));
    assert_false(Info->Supervised);
    assert_int_equal(NVMeResetController(T.Index), KSTATUS_IO_ERROR);
    assert_true(HostLogContains("left alone"));
    DriverEnd(&T);
}

/************************************************************************/
// Queue geometry

static void test_mqes_1_works_slowly(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    NVMeModelApplyPreset(&Config, NVME_PRESET_MQES_1);
    DriverStart(&T, &Config);
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->Queues[0].Depth, 2);
    assert_int_equal(Info->Queues[1].Depth, 2);
    assert_int_equal(Info->Queues[1].Trackers, 1);
    assert_int_equal(Info->AerLimit, 0);  // the only admin slot is not given to an AER
    // 4 MiB: eight commands through one slot, one after the other.
    DriverWriteRead(&T, 100, 8192, 9);
    Info = DriverInfo(&T);
    assert_true(Info->Queues[1].Submitted >= 16);  // eight writes, eight reads
    assert_int_equal(Info->Queues[1].MaxOutstanding, 1);
    // Asynchronous submitters sleep for the slot too.
    U8* Buffer = DriverAlloc(16 * 4096);
    DRIVER_ASYNC Async;
    DriverAsyncInit(&Async, 16);
    for (U32 I = 0; I < 16; I++) {
        assert_int_equal(NVMeSubmitIO(T.Ns, NVME_IO_READ, 100 + 8 * I, 8, Buffer + I * 4096, DriverAsyncCallback,
                                      &Async),
                         KSTATUS_SUCCESS);
    }
    assert_true(DriverAsyncWait(&Async, HOUR_MS));
    assert_int_equal(Async.Failed, 0);
    DriverAsyncDestroy(&Async);
    DriverFree(Buffer, 16 * 4096);
    assert_int_equal(NVMeResetController(T.Index), KSTATUS_SUCCESS);
    DriverWriteRead(&T, 0, 64, 10);
    DriverExpectIdle(&T);
    DriverEnd(&T);
}

static void RunStride(NVME_MODEL_PRESET Preset, U8 Dstrd) {
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    NVMeModelApplyPreset(&Config, Preset);
    DriverSetOption("nvme.queues", "2");
    DriverStart(&T, &Config);
    assert_int_equal(T.Info->Cap.Dstrd, Dstrd);
    assert_int_equal(T.Info->IoQueueCount, 2);
    for (U32 I = 0; I < 6; I++) DriverWriteRead(&T, 64 * I, 64, 20 + I);  // both queues, round robin
    assert_int_equal(NVMeResetController(T.Index), KSTATUS_SUCCESS);
    for (U32 I = 0; I < 4; I++) DriverWriteRead(&T, 1000 + 8 * I, 8, 40 + I);
    DriverExpectIdle(&T);
    DriverEnd(&T);
}

static void test_dstrd_1(void** State) {
    (void)State;
    RunStride(NVME_PRESET_DSTRD_1, 1);
}

static void test_dstrd_2(void** State) {
    (void)State;
    RunStride(NVME_PRESET_DSTRD_2, 2);
}

static void test_mpsmin_8k_refused(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    NVMeModelApplyPreset(&Config, NVME_PRESET_MPSMIN_8K);
    DriverStartQuiet(&T, &Config);
    // MPS must be at least MPSMIN (NVMe 2.0 3.1.4.5); the driver's pages are 4 KiB: it reports and leaves it alone.
    assert_int_equal(T.Info->State, NVME_STATE_FAILED);
    assert_string_equal(T.Info->StateReason, "memory page sizes 8..64 KiB exclude 4 KiB");
    NVME_MODEL_STATS Stats;
    NVMeModelGetStats(T.Model, &Stats);
    assert_int_equal(Stats.Enables, 0);
    assert_int_equal(Stats.AdminCommands, 0);
    assert_null(T.Ns);
    DriverEnd(&T);
}

/************************************************************************/
// Identify

static void test_sparse_namespaces(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    NVMeModelApplyPreset(&Config, NVME_PRESET_SPARSE_NAMESPACES);
    DriverStart(&T, &Config);
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->Identify.Nn, 1024);
    assert_int_equal(Info->ActiveNamespaceCount, 4);
    assert_false(Info->NamespaceListFallback);
    static const U32 Nsids[] = {1, 7, 300, 1024};
    static const U32 Sizes[] = {512, 4096, 512, 4096};
    for (U32 I = 0; I < 4; I++) {
        assert_int_equal(Info->Namespaces[I].NSID, Nsids[I]);
        assert_true(Info->Namespaces[I].Exposed);
        DISK* Disk = DriverFindDisk(&T, Nsids[I]);
        assert_non_null(Disk);
        assert_int_equal(Disk->SectorSize, Sizes[I]);
    }
    // The last one works end to end.
    NVME_NAMESPACE* Last = NVMeGetNamespace(T.Index, 1024);
    assert_non_null(Last);
    U8* Out = DriverAlloc(8 * 4096);
    U8* In = DriverAlloc(8 * 4096);
    DriverFill(Out, 8 * 4096, 1024);
    assert_int_equal(NVMeWriteSync(Last, 1016, 8, Out), KSTATUS_SUCCESS);
    assert_int_equal(NVMeReadSync(Last, 1016, 8, In), KSTATUS_SUCCESS);
    assert_memory_equal(In, Out, 8 * 4096);
    assert_int_equal(NVMeReadSync(Last, 1020, 8, In), KSTATUS_BAD_PARAMETER);  // beyond its 1024 blocks
    DriverFree(Out, 8 * 4096);
    DriverFree(In, 8 * 4096);
    DriverEnd(&T);
}

static void test_identify_zeros(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    NVMeModelApplyPreset(&Config, NVME_PRESET_IDENTIFY_ZEROS);
    DriverStartQuiet(&T, &Config);
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->State, NVME_STATE_READY);  // I/O queues exist, nothing to put on them
    assert_int_equal(Info->ActiveNamespaceCount, 0);
    assert_string_equal(Info->Identify.Model, "");
    assert_int_equal(Info->MdtsBytes, 0);
    assert_null(T.Ns);
    assert_true(HostLogContains("reports no namespaces (NN 0)"));
    assert_int_equal(Info->AerLimit, 1);  // AERL 0: one outstanding
    DriverSettle(&T);
    assert_int_equal(DriverInfo(&T)->AerOutstanding, 1);
    // Logs within what LPA 0 and ELPE 0 allow.
    NVME_SMART_LOG Smart;
    assert_int_equal(NVMeReadSmartLog(T.Index, 0, &Smart), KSTATUS_SUCCESS);
    assert_int_equal(NVMeReadSmartLog(T.Index, 1, &Smart), KSTATUS_NOT_SUPPORTED);  // no per-namespace SMART
    U8 Page[8192];
    assert_int_equal(NVMeGetLogPageAt(T.Index, 0x02, 0xFFFFFFFF, 512, Page, 512), KSTATUS_NOT_SUPPORTED);
    NVME_ERROR_ENTRY Entries[4];
    U32 Count = 99;
    assert_int_equal(NVMeReadErrorLog(T.Index, Entries, 4, &Count), KSTATUS_SUCCESS);
    assert_int_equal(Count, 0);
    DriverEnd(&T);
}

static void test_identify_nonsense(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    NVMeModelApplyPreset(&Config, NVME_PRESET_IDENTIFY_NONSENSE);
    Config.NumberOfNamespaces = 3;
    NVMeModelAddNamespace(&Config, 3, 4096, 9, 0);  // one the driver can serve, under MDTS 1
    DriverStartQuiet(&T, &Config);
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->State, NVME_STATE_READY);
    assert_string_equal(Info->Identify.Model, "??\x3f[2J");  // control characters replaced: none reach a terminal
    assert_int_equal(Info->MdtsBytes, 8192);
    assert_int_equal(Info->ActiveNamespaceCount, 3);
    assert_false(Info->Namespaces[0].Exposed);
    assert_string_equal(Info->Namespaces[0].Reason, "LBA size 2^30 unsupported");
    assert_false(Info->Namespaces[1].Exposed);
    assert_string_equal(Info->Namespaces[1].Reason, "inactive (size 0)");
    assert_true(Info->Namespaces[2].Exposed);
    assert_int_equal(Info->Namespaces[2].MaxBlocksPerCommand, 16);
    NVME_NAMESPACE* Ns = NVMeGetNamespace(T.Index, 3);
    assert_non_null(Ns);
    U64 Length = 100 * 512;
    U8* Out = DriverAlloc(Length);
    U8* In = DriverAlloc(Length);
    DriverFill(Out, Length, 3);
    assert_int_equal(NVMeWriteSync(Ns, 7, 100, Out), KSTATUS_SUCCESS);  // seven commands of at most 8 KiB
    assert_int_equal(NVMeReadSync(Ns, 7, 100, In), KSTATUS_SUCCESS);
    assert_memory_equal(In, Out, Length);
    DriverFree(Out, Length);
    DriverFree(In, Length);
    NVME_MODEL_STATS Stats;
    NVMeModelGetStats(T.Model, &Stats);
    assert_true(Stats.Writes >= 7 && Stats.Reads >= 7);
    DriverEnd(&T);
}

/************************************************************************/
// Interrupt modes and polling through a reset

static void RunModeThroughReset(NVME_MODEL_CONFIG* Config, PCI_INTERRUPT_MODE Mode) {
    DRIVER_TEST T;
    DriverStart(&T, Config);
    assert_int_equal(T.Info->InterruptMode, Mode);
    DRIVER_SNAPSHOT Before, After;
    DriverSnapshot(&T, &Before);
    DriverWriteRead(&T, 0, 256, 1);
    for (U32 I = 0; I < 3; I++) {
        assert_int_equal(NVMeResetController(T.Index), KSTATUS_SUCCESS);
        DriverWriteRead(&T, 300 + 64 * I, 64, 2 + I);
    }
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->InterruptMode, Mode);
    assert_int_equal(Info->Resets, 3);
    assert_int_equal(Info->Timeouts, 0);
    DriverExpectIdle(&T);
    DriverSnapshot(&T, &After);
    DriverExpectNoLeak(&Before, &After);
    DriverEnd(&T);
}

static void test_intx_through_resets(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    NVMeModelApplyPreset(&Config, NVME_PRESET_INTX_ONLY);
    RunModeThroughReset(&Config, PCI_INTERRUPT_INTX);
}

static void test_msi_thread_mode_through_resets(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    NVMeModelApplyPreset(&Config, NVME_PRESET_NO_MSIX);
    Config.Mode = NVME_MODEL_THREAD;
    RunModeThroughReset(&Config, PCI_INTERRUPT_MSI);
}

static void test_polling_with_events_and_reset(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    DriverSetOption("nvme.poll", "1");
    RunModeThroughReset(&Config, PCI_INTERRUPT_NONE);
}

static void test_timeout_options(void** State) {
    (void)State;
    DRIVER_TEST T;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    DriverSetOption("nvme.io_timeout", "5");
    DriverSetOption("nvme.admin_timeout", "7");
    DriverStart(&T, &Config);
    assert_int_equal(T.Info->IoTimeoutMs, 5000);
    assert_int_equal(T.Info->AdminTimeoutMs, 7000);
    NVME_MODEL_FAULT Fault = DriverFault(NVME_FAULT_DROP_COMPLETION, 1, NM_IO_WRITE, 1);
    NVMeModelAddFault(T.Model, &Fault);
    U64 Start = HostClockNowNs();
    DriverWriteRead(&T, 0, 8, 1);
    U64 TookMs = (HostClockNowNs() - Start) / 1000000;
    assert_true(TookMs >= 5000 && TookMs <= 7000);
    assert_int_equal(DriverInfo(&T)->Resets, 1);
    DriverEnd(&T);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        DRIVER_TEST_CASE(test_ready_late_within_cap_to),
        DRIVER_TEST_CASE(test_ready_never),
        DRIVER_TEST_CASE(test_mqes_1_works_slowly),
        DRIVER_TEST_CASE(test_dstrd_1),
        DRIVER_TEST_CASE(test_dstrd_2),
        DRIVER_TEST_CASE(test_mpsmin_8k_refused),
        DRIVER_TEST_CASE(test_sparse_namespaces),
        DRIVER_TEST_CASE(test_identify_zeros),
        DRIVER_TEST_CASE(test_identify_nonsense),
        DRIVER_TEST_CASE(test_intx_through_resets),
        DRIVER_TEST_CASE(test_msi_thread_mode_through_resets),
        DRIVER_TEST_CASE(test_polling_with_events_and_reset),
        DRIVER_TEST_CASE(test_timeout_options),
    };
    return DriverRunTests(Tests, ARRAY_COUNT(Tests));
}
