/*
 * Test-DriverNamespaces.c - namespaces that come and go, and long lists
 * (storage/nvme/NVMe-Namespace.c) on the controller model:
 *
 *   another host attaches a namespace (Namespace Attribute Changed event):
 *     it becomes a disk that reads and writes
 *   another host detaches one: its disk is unregistered and every request
 *     through what callers still hold fails at once (the disk layer refuses
 *     the disabled DISK, the driver the namespace: nothing is sent, nothing
 *     hangs); the other namespace works on
 *   Namespace Attachment through the driver (NVMeAttachNamespace, what
 *     `nvme attach|detach` calls): detach, attach again (a fresh disk)
 *   an active namespace list longer than one page (1101 NSIDs): the
 *     namespace on the second page is found and served
 */
// SOURCES: $(NVME_DRIVER_SOURCES)

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "Test-DriverCommon.h"

/** Namespace 1 attached; namespace 2 (1 MiB) attached or not. */
static void TwoNamespaces(NVME_MODEL_CONFIG* Config, BOOL SecondAttached) {
    DriverDefaultConfig(Config);
    Config->NumberOfNamespaces = 4;
    Config->Oacs |= 0x08;  // Namespace Management (and Attachment)
    assert_true(NVMeModelAddNamespace(Config, 2, 2048, 9, 0));
    Config->Namespaces[Config->NamespaceCount - 1].Detached = !SecondAttached;
}

static DISK* DiskOf(DRIVER_TEST* T, U32 Nsid) {
    char Name[DISK_NAME_LENGTH];
    snprintf(Name, sizeof(Name), "%sn%u", DriverInfo(T)->Name, Nsid);
    return DiskFind(Name);
}

/** Waits (platform time, bounded) until namespace Nsid is served (Served) or not. */
static void WaitServed(DRIVER_TEST* T, U32 Nsid, BOOL Served) {
    for (U32 I = 0; I < 10000; I++) {
        if ((NVMeGetNamespace(T->Index, Nsid) != NULL) == Served && (DiskOf(T, Nsid) != NULL) == Served) return;
        PlatformSleepMs(1);
    }
    fail_msg("namespace %u still %s", Nsid, Served ? "not served" : "served");
}

static void ExpectReadWrite(DRIVER_TEST* T, U32 Nsid, U64 Seed) {
    U8* Out = DriverAlloc(4096);
    U8* In = DriverAlloc(4096);
    DriverFill(Out, 4096, Seed);
    DISK* Disk = DiskOf(T, Nsid);
    assert_non_null(Disk);
    assert_int_equal(DiskWrite(Disk, 8, 8, Out), KSTATUS_SUCCESS);
    assert_int_equal(DiskRead(Disk, 8, 8, In), KSTATUS_SUCCESS);
    assert_memory_equal(In, Out, 4096);
    DriverBackendRead(T, Nsid, 8 * 512, In, 4096);
    assert_memory_equal(In, Out, 4096);
    DriverFree(Out, 4096);
    DriverFree(In, 4096);
}

static void test_attached_by_another_host_becomes_a_disk(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    TwoNamespaces(&Config, FALSE);
    DRIVER_TEST T;
    DriverStart(&T, &Config);
    assert_int_equal(T.Info->ActiveNamespaceCount, 1);
    assert_null(NVMeGetNamespace(T.Index, 2));
    assert_null(DiskOf(&T, 2));
    assert_true(NVMeModelSetNamespaceAttached(T.Model, 2, TRUE, TRUE));
    WaitServed(&T, 2, TRUE);
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->ActiveNamespaceCount, 2);
    assert_true(Info->NamespaceRescans >= 1);
    assert_true(HostLogContains("2 active namespace(s), 1 new, 0 gone"));
    ExpectReadWrite(&T, 2, 21);
    ExpectReadWrite(&T, 1, 11);
    DriverExpectIdle(&T);
    DriverEnd(&T);
}

static void test_detached_by_another_host_fails_its_disk_cleanly(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    TwoNamespaces(&Config, TRUE);
    DRIVER_TEST T;
    DriverStart(&T, &Config);
    ExpectReadWrite(&T, 2, 22);
    // What a mount holds: the DISK and the namespace handle.
    DISK* Disk = DiskOf(&T, 2);
    NVME_NAMESPACE* Namespace = NVMeGetNamespace(T.Index, 2);
    assert_non_null(Disk);
    assert_non_null(Namespace);
    NVME_MODEL_STATS Before;
    NVMeModelGetStats(T.Model, &Before);
    assert_true(NVMeModelSetNamespaceAttached(T.Model, 2, FALSE, TRUE));
    WaitServed(&T, 2, FALSE);
    assert_true(HostLogContains("namespace 2 no longer active"));
    U8* Buffer = DriverAlloc(4096);
    U64 Start = HostClockNowNs();
    // The unregistered disk is disabled (block/Disk.c's DiskUnregister): the disk layer refuses it.
    assert_int_equal(DiskRead(Disk, 0, 8, Buffer), KSTATUS_NO_PERMISSION);
    assert_int_equal(DiskWrite(Disk, 0, 8, Buffer), KSTATUS_NO_PERMISSION);
    assert_int_equal(NVMeReadSync(Namespace, 0, 8, Buffer), KSTATUS_IO_ERROR);
    DRIVER_ASYNC Async;
    DriverAsyncInit(&Async, 1);
    assert_int_equal(NVMeSubmitIO(Namespace, NVME_IO_READ, 0, 8, Buffer, DriverAsyncCallback, &Async),
                     KSTATUS_IO_ERROR);
    DriverAsyncDestroy(&Async);
    assert_true(HostClockNowNs() - Start < 1000000);  // at once: nothing was sent, nothing waited
    NVME_MODEL_STATS After;
    NVMeModelGetStats(T.Model, &After);
    assert_int_equal(After.IoCommands, Before.IoCommands);
    const NVME_CONTROLLER_INFO* Info = DriverInfo(&T);
    assert_int_equal(Info->ActiveNamespaceCount, 1);
    assert_int_equal(Info->State, NVME_STATE_READY);
    ExpectReadWrite(&T, 1, 12);  // the other namespace works on
    DriverFree(Buffer, 4096);
    DriverExpectIdle(&T);
    DriverEnd(&T);
}

static void test_attach_and_detach_through_the_driver(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    TwoNamespaces(&Config, FALSE);
    DRIVER_TEST T;
    DriverStart(&T, &Config);
    // Attached: served when the call returns (the event the controller also sends finds nothing more to do).
    assert_int_equal(NVMeAttachNamespace(T.Index, 2, TRUE), KSTATUS_SUCCESS);
    assert_non_null(NVMeGetNamespace(T.Index, 2));
    ExpectReadWrite(&T, 2, 23);
    NVME_NAMESPACE* First = NVMeGetNamespace(T.Index, 2);
    // Already attached: the controller refuses it ("Namespace Already Attached", DNR: an invalid request).
    assert_int_equal(NVMeAttachNamespace(T.Index, 2, TRUE), KSTATUS_BAD_PARAMETER);
    assert_non_null(strstr(DriverInfo(&T)->LastError, "Namespace Already Attached"));
    assert_int_equal(NVMeAttachNamespace(T.Index, 2, FALSE), KSTATUS_SUCCESS);
    assert_null(NVMeGetNamespace(T.Index, 2));
    assert_null(DiskOf(&T, 2));
    U8* Buffer = DriverAlloc(4096);
    assert_int_equal(NVMeReadSync(First, 0, 8, Buffer), KSTATUS_IO_ERROR);
    // Attached again: a fresh namespace object and disk; the old handle stays failed.
    assert_int_equal(NVMeAttachNamespace(T.Index, 2, TRUE), KSTATUS_SUCCESS);
    NVME_NAMESPACE* Second = NVMeGetNamespace(T.Index, 2);
    assert_non_null(Second);
    assert_ptr_not_equal(Second, First);
    assert_int_equal(NVMeReadSync(First, 0, 8, Buffer), KSTATUS_IO_ERROR);
    ExpectReadWrite(&T, 2, 24);
    assert_int_equal(NVMeAttachNamespace(T.Index, 9, TRUE), KSTATUS_BAD_PARAMETER);  // beyond NN: refused by it
    DriverFree(Buffer, 4096);
    DriverSettle(&T);
    DriverExpectIdle(&T);
    DriverEnd(&T);
}

static void test_attach_without_namespace_management_is_refused(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    TwoNamespaces(&Config, FALSE);
    Config.Oacs &= (U16)~0x08;
    DRIVER_TEST T;
    DriverStart(&T, &Config);
    assert_int_equal(NVMeAttachNamespace(T.Index, 2, TRUE), KSTATUS_NOT_SUPPORTED);
    NVME_MODEL_STATS Stats;
    NVMeModelGetStats(T.Model, &Stats);
    U64 Admin = Stats.AdminCommands;
    assert_int_equal(NVMeAttachNamespace(T.Index, 2, TRUE), KSTATUS_NOT_SUPPORTED);
    NVMeModelGetStats(T.Model, &Stats);
    assert_int_equal(Stats.AdminCommands, Admin);  // nothing sent
    DriverEnd(&T);
}

static void test_active_list_of_two_pages(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    Config.NumberOfNamespaces = 2000;
    Config.Namespaces[0].Nsid = 1500;  // the one real namespace, on the list's second page
    Config.PhantomFirst = 1;           // 1..1100 listed active too (size 0: listed, not served)
    Config.PhantomCount = 1100;
    DRIVER_TEST T;
    DriverStartQuiet(&T, &Config);
    assert_int_equal(T.Info->State, NVME_STATE_READY);
    assert_false(T.Info->NamespaceListFallback);
    assert_int_equal(T.Info->ActiveNamespaceCount, 1101);
    assert_null(NVMeGetNamespace(T.Index, 1));
    T.Ns = NVMeGetNamespace(T.Index, 1500);
    assert_non_null(T.Ns);
    ExpectReadWrite(&T, 1500, 25);
    DriverEnd(&T);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        DRIVER_TEST_CASE(test_attached_by_another_host_becomes_a_disk),
        DRIVER_TEST_CASE(test_detached_by_another_host_fails_its_disk_cleanly),
        DRIVER_TEST_CASE(test_attach_and_detach_through_the_driver),
        DRIVER_TEST_CASE(test_attach_without_namespace_management_is_refused),
        DRIVER_TEST_CASE(test_active_list_of_two_pages),
    };
    return DriverRunTests(Tests, ARRAY_COUNT(Tests));
}
