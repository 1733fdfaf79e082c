/*
 * Test-DriverSmoke.c - the kernel's NVMe driver (kernel/source/storage/
 * nvme/NVMe-*.c, unmodified) built for the host with -DNVME_HOST_MODEL,
 * bound through the host PCI core to the controller model, then one write
 * and one read through the DISK layer, a flush, and the shutdown hook, with
 * the model's conformance checker and the platform checks watching every
 * step. The thorough model-based driver tests come with the driver's error
 * handling; this one proves the pieces fit.
 */
// SOURCES: $(NVME_DRIVER_SOURCES)

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "ModelTest.h"
#include "storage/nvme/NVMe.h"
#include "block/Disk.h"

static void Fill(U8* Buffer, U64 Length, U32 Seed) {
    for (U64 I = 0; I < Length; I++) Buffer[I] = (U8)(Seed + I * 13 + (I >> 8));
}

/** Binds the driver to a fresh model; returns the controller's view (its index is the next free one). */
static const NVME_CONTROLLER_INFO* Attach(NVME_MODEL* Model) {
    U32 Before = NVMeGetControllerCount();
    PCI_DEVICE* Device = NVMeModelAttachPCI(Model);
    assert_non_null(Device);
    PCIBindDrivers();  // the controller comes up on its own thread
    assert_int_equal(NVMeGetControllerCount(), Before + 1);
    assert_true(NVMeWaitBringUp(60000));
    static NVME_CONTROLLER_INFO View;
    assert_int_equal(NVMeGetController(Before, &View), KSTATUS_SUCCESS);
    return &View;
}

static void ReadWriteThroughDisk(NVME_MODEL* Model, const NVME_CONTROLLER_INFO* Info) {
    char Name[DISK_NAME_LENGTH];
    snprintf(Name, sizeof(Name), "nvme%un1", Info->Index);
    DISK* Disk = DiskFind(Name);
    assert_non_null(Disk);
    assert_int_equal(Disk->SectorSize, 512);
    assert_int_equal(Disk->SectorCount, 262144);

    // 100 sectors from an odd, unaligned heap buffer: the driver splits, builds PRP lists over scattered pages.
    U32 Sectors = 100;
    U8* Raw = (U8*)malloc(Sectors * 512 + 64);
    U8* Buffer = Raw + 3;
    Fill(Buffer, Sectors * 512, 41);
    assert_int_equal(DiskWrite(Disk, 2048, Sectors, Buffer), KSTATUS_SUCCESS);
    U8* Stored = (U8*)malloc(Sectors * 512);
    assert_int_equal(DiskBackendRead(NVMeModelBackend(Model, 1), 2048 * 512ULL, Stored, Sectors * 512),
                     KSTATUS_SUCCESS);
    assert_memory_equal(Stored, Buffer, Sectors * 512);
    memset(Buffer, 0, Sectors * 512);
    assert_int_equal(DiskRead(Disk, 2048, Sectors, Buffer), KSTATUS_SUCCESS);
    assert_memory_equal(Buffer, Stored, Sectors * 512);
    assert_int_equal(DiskFlush(Disk), KSTATUS_SUCCESS);
    NVME_MODEL_STATS Stats;
    NVMeModelGetStats(Model, &Stats);
    assert_true(Stats.Writes >= 1);
    assert_true(Stats.Reads >= 1);
    assert_true(Stats.Flushes >= 1);
    assert_int_equal(Stats.ErrorCompletions, 0);
    MemoryBusForget(HostPlatformMemoryBus(), Raw, Sectors * 512 + 64);
    free(Stored);
    free(Raw);
}

static void RunSmoke(NVME_MODEL_CONFIG* Config, PCI_INTERRUPT_MODE Expected) {
    ModelTestBegin();
    NVMeRegisterDriver();
    NVME_MODEL* Model = ModelTestCreate(Config);
    const NVME_CONTROLLER_INFO* Info = Attach(Model);
    if (Info->State != NVME_STATE_READY) HostLogDump();
    assert_int_equal(Info->State, NVME_STATE_READY);
    assert_int_equal(Info->InterruptMode, Expected);
    assert_true(Info->IoQueueCount >= 1);
    assert_string_equal(Info->Identify.Model, "QEMU NVMe Ctrl");
    ReadWriteThroughDisk(Model, Info);

    // The shutdown hook: CC.SHN, then SHST complete.
    assert_true(HostPlatformRunShutdownHooks(FALSE) >= 1);
    assert_int_equal(NVMeModelPeekRegister(Model, NM_REG_CSTS) & NM_CSTS_SHST_MASK, NM_CSTS_SHST_COMPLETE);
    NVME_MODEL_STATS Stats;
    NVMeModelGetStats(Model, &Stats);
    assert_int_equal(Stats.Shutdowns, 1);
    // The driver keeps its controller (and its MMIO window) for ever; the model goes, so nothing may touch it.
    ModelTestEnd(Model);
}

static void test_driver_on_model_msix(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    NVMeModelDefaultConfig(&Config);
    Config.PciSegment = 1;
    RunSmoke(&Config, PCI_INTERRUPT_MSIX);
}

static void test_driver_on_model_thread_mode_msi(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    NVMeModelDefaultConfig(&Config);
    NVMeModelApplyPreset(&Config, NVME_PRESET_NO_MSIX);
    Config.Mode = NVME_MODEL_THREAD;
    Config.PciSegment = 2;
    Config.Bar0 = 0xFEB00000ULL;
    RunSmoke(&Config, PCI_INTERRUPT_MSI);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(test_driver_on_model_msix),
        cmocka_unit_test(test_driver_on_model_thread_mode_msi),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
