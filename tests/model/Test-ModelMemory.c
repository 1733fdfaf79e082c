/*
 * Test-ModelMemory.c - what sits under and around the NVMe model: its PCI
 * face (enumeration by the kernel's own PCI code, BAR sizing, capabilities,
 * the MSI-X table), the MemoryBus (scattered frames, contiguous DMA
 * allocations, unmapped accesses) and the DiskBackends (sparse memory, file,
 * injected errors), and a namespace kept in a file through the whole model.
 */
// SOURCES:

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ModelTest.h"
#include "TinyDriver.h"
#include "bus/pci/PCI-MSI.h"

/************************************************************************/
// Helpers

static NVME_MODEL* Model;
static TINY_DRIVER Driver;

static NVME_MODEL* StartWith(const NVME_MODEL_CONFIG* Config) {
    ModelTestBegin();
    Model = ModelTestCreate(Config);
    TinyInit(&Driver, Model);
    return Model;
}

static NVME_MODEL* StartDefault(void) {
    NVME_MODEL_CONFIG Config;
    NVMeModelDefaultConfig(&Config);
    return StartWith(&Config);
}

static void BringUp(U16 IoQueues, U32 Entries) {
    assert_true(TinyEnable(&Driver, 32));
    if (IoQueues > 0) assert_int_equal(TinySetQueueCount(&Driver, IoQueues), 0);
    for (U16 Q = 1; Q <= IoQueues; Q++) assert_int_equal(TinyCreateQueuePair(&Driver, Q, Entries, 0, FALSE), 0);
}

static void Finish(void) {
    TinyRelease(&Driver);
    ModelTestEnd(Model);
    Model = NULL;
}

static void Fill(U8* Buffer, U64 Length, U32 Seed) {
    for (U64 I = 0; I < Length; I++) Buffer[I] = (U8)(Seed * 131 + I * 7 + (I >> 9));
}

/************************************************************************/
// PCI

static void test_pci_enumeration_and_msix_capability(void** State) {
    (void)State;
    StartDefault();
    PCI_DEVICE* Device = NVMeModelAttachPCI(Model);
    assert_non_null(Device);
    assert_int_equal(Device->VendorId, 0x1B36);
    assert_int_equal(Device->DeviceId, 0x0010);
    assert_int_equal(Device->Class, 0x01);
    assert_int_equal(Device->SubClass, 0x08);
    assert_int_equal(Device->ProgIf, 0x02);
    assert_int_equal(Device->Bus, 0);
    assert_int_equal(Device->Device, 4);
    assert_int_equal(Device->Bars[0].Type, PCI_BAR_MEMORY64);
    assert_int_equal(Device->Bars[0].Base, 0xFEBD0000ULL);
    assert_int_equal(Device->Bars[0].Size, 0x4000);
    assert_int_equal(Device->PowerCapability, 0x40);
    assert_int_equal(Device->MsixCapability, 0x70);
    assert_int_equal(Device->PcieCapability, 0x80);
    assert_int_equal(Device->MsiCapability, 0);
    assert_int_equal(Device->InterruptPin, 1);
    assert_int_equal(Device->InterruptLine, 11);
    assert_false(Device->CapabilityListBroken);
    PCI_MSIX_INFO Info;
    assert_true(PCIMSIXRead(Device, &Info));
    assert_int_equal(Info.TableSize, 65);
    assert_int_equal(Info.TableBar, 0);
    assert_int_equal(Info.TableOffset, 0x2000);
    assert_int_equal(Info.PbaOffset, 0x3000);
    assert_true(PCIMSIXMap(Device, &Info));
    assert_ptr_equal((LPVOID)Info.Table, NVMeModelMsixTable(Model));
    // Entries start masked.
    assert_int_equal(*(volatile U32*)(Info.Table + 12), 1);
    // BAR sizing restored the base and decoding.
    assert_int_equal(NVMeModelBar0(Model), 0xFEBD0000ULL);
    assert_true(NVMeModelConfigRead32(Model, PCI_COMMAND) & PCI_COMMAND_MEMORY);
    Finish();
}

/************************************************************************/
// MemoryBus and DiskBackend

static void test_memory_bus_scatters_pages(void** State) {
    (void)State;
    ModelTestBegin();
    MEMORY_BUS* Bus = MemoryBusCreate(42);
    U8* Buffer = (U8*)aligned_alloc(4096, 16 * 4096);
    U32 Above4G = 0;
    for (U32 Page = 0; Page + 1 < 16; Page++) {
        PHYSICAL A = MemoryBusTranslate(Bus, Buffer + Page * 4096);
        PHYSICAL B = MemoryBusTranslate(Bus, Buffer + (Page + 1) * 4096);
        assert_true(A != 0 && B != 0);
        assert_true(B != A + 4096 && A != B + 4096);  // never physically contiguous
        Above4G += A >= N_4GB;
    }
    assert_true(Above4G > 0 && Above4G < 15);
    // The same byte translates the same way; offsets are kept.
    assert_int_equal(MemoryBusTranslate(Bus, Buffer + 4096 + 123), MemoryBusTranslate(Bus, Buffer + 4096) + 123);
    // Device access goes to the host memory.
    PHYSICAL P = MemoryBusTranslate(Bus, Buffer + 3 * 4096 + 8);
    assert_true(MemoryBusWrite(Bus, P, "hello", 5));
    assert_memory_equal(Buffer + 3 * 4096 + 8, "hello", 5);
    // Reading past the end of a frame reaches the physically next frame, which nobody mapped: the read fails
    // and copies nothing.
    char Out[16] = {0};
    PHYSICAL End = MemoryBusTranslate(Bus, Buffer + 4 * 4096 - 4);
    assert_false(MemoryBusRead(Bus, End, Out, 8));
    assert_int_equal(Out[0], 0);
    assert_false(MemoryBusRead(Bus, 0x1000, Out, 4));
    MemoryBusForget(Bus, Buffer + 4 * 4096, 4096);
    assert_int_equal(MemoryBusLookup(Bus, Buffer + 4 * 4096), 0);
    assert_true(MemoryBusLookup(Bus, Buffer + 3 * 4096) != 0);
    // DMA allocations are contiguous in both spaces and honour alignment and the 4 GiB limit.
    LPVOID Linear;
    PHYSICAL Physical;
    assert_true(MemoryBusAllocate(Bus, 3 * 4096, 65536, TRUE, &Linear, &Physical));
    assert_true(IS_ALIGNED(Physical, 65536) && IS_ALIGNED((UINT)Linear, 65536));
    assert_true(Physical + 3 * 4096 <= N_4GB);
    assert_int_equal(MemoryBusTranslate(Bus, (U8*)Linear + 2 * 4096 + 5), Physical + 2 * 4096 + 5);
    LPVOID Linear2;
    PHYSICAL Physical2;
    assert_true(MemoryBusAllocate(Bus, 4096, 4096, FALSE, &Linear2, &Physical2));
    assert_true(Physical2 >= N_4GB);
    assert_true(MemoryBusFree(Bus, Linear));
    assert_false(MemoryBusRead(Bus, Physical, Out, 4));
    assert_false(MemoryBusFree(Bus, Buffer));
    assert_true(MemoryBusFree(Bus, Linear2));
    MemoryBusDestroy(Bus);
    free(Buffer);
    ModelTestEnd(NULL);
}

static void test_disk_backends(void** State) {
    (void)State;
    ModelTestBegin();
    // A sparse store the size of a terabyte holds only what was written.
    DISK_BACKEND* Memory = DiskBackendCreateMemory(1ULL << 40);
    U8 Block[4096];
    Fill(Block, sizeof(Block), 7);
    assert_int_equal(DiskBackendWrite(Memory, (1ULL << 39) + 100, Block, sizeof(Block)), KSTATUS_SUCCESS);
    assert_true(DiskBackendResidentBytes(Memory) <= 2 * 65536);
    U8 Back[4096];
    assert_int_equal(DiskBackendRead(Memory, (1ULL << 39) + 100, Back, sizeof(Back)), KSTATUS_SUCCESS);
    assert_memory_equal(Back, Block, sizeof(Block));
    assert_int_equal(DiskBackendDiscard(Memory, (1ULL << 39) + 200, 100), KSTATUS_SUCCESS);
    assert_int_equal(DiskBackendRead(Memory, (1ULL << 39) + 100, Back, sizeof(Back)), KSTATUS_SUCCESS);
    for (U32 I = 100; I < 200; I++) assert_int_equal(Back[I], 0);
    assert_int_equal(Back[99], Block[99]);
    assert_int_equal(DiskBackendRead(Memory, (1ULL << 40) - 10, Back, 20), KSTATUS_BAD_PARAMETER);
    DiskBackendInjectError(Memory, 0, 512, TRUE, FALSE);
    assert_int_equal(DiskBackendRead(Memory, 256, Back, 16), KSTATUS_IO_ERROR);
    assert_int_equal(DiskBackendWrite(Memory, 256, Back, 16), KSTATUS_SUCCESS);
    DiskBackendDestroy(Memory);

    char Path[] = "/tmp/cairn-model-backend-XXXXXX";
    int Descriptor = mkstemp(Path);
    assert_true(Descriptor >= 0);
    close(Descriptor);
    DISK_BACKEND* File = DiskBackendCreateFile(Path, 1 << 20, TRUE);
    assert_non_null(File);
    assert_int_equal(DiskBackendWrite(File, 8192, Block, sizeof(Block)), KSTATUS_SUCCESS);
    assert_int_equal(DiskBackendFlush(File), KSTATUS_SUCCESS);
    DiskBackendDestroy(File);
    File = DiskBackendCreateFile(Path, 1 << 20, FALSE);
    assert_non_null(File);
    assert_int_equal(DiskBackendRead(File, 8192, Back, sizeof(Back)), KSTATUS_SUCCESS);
    assert_memory_equal(Back, Block, sizeof(Block));
    assert_int_equal(DiskBackendWriteZeroes(File, 8192, 4096), KSTATUS_SUCCESS);
    assert_int_equal(DiskBackendRead(File, 8192, Back, sizeof(Back)), KSTATUS_SUCCESS);
    for (U32 I = 0; I < sizeof(Back); I++) assert_int_equal(Back[I], 0);
    DiskBackendDestroy(File);
    unlink(Path);
    ModelTestEnd(NULL);
}

/************************************************************************/
// File-backed namespace through the whole model

static void test_file_backed_namespace(void** State) {
    (void)State;
    char Path[] = "/tmp/cairn-model-ns-XXXXXX";
    int Descriptor = mkstemp(Path);
    assert_true(Descriptor >= 0);
    close(Descriptor);
    DISK_BACKEND* File = DiskBackendCreateFile(Path, 4096 * 512ULL, TRUE);
    NVME_MODEL_CONFIG Config;
    NVMeModelDefaultConfig(&Config);
    Config.NamespaceCount = 0;
    NVMeModelAddNamespace(&Config, 1, 4096, 9, 0);
    Config.Namespaces[0].Backend = File;
    StartWith(&Config);
    BringUp(1, 16);
    U8 Data[1024];
    Fill(Data, sizeof(Data), 77);
    assert_int_equal(TinyReadWrite(&Driver, 1, TRUE, 1, 4094, 2, Data, sizeof(Data)), 0);
    MemoryBusForget(HostPlatformMemoryBus(), Data, sizeof(Data));
    Finish();
    DiskBackendDestroy(File);
    File = DiskBackendCreateFile(Path, 4096 * 512ULL, FALSE);
    U8 Back[1024];
    assert_int_equal(DiskBackendRead(File, 4094 * 512ULL, Back, sizeof(Back)), KSTATUS_SUCCESS);
    assert_memory_equal(Back, Data, sizeof(Data));
    DiskBackendDestroy(File);
    unlink(Path);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(test_pci_enumeration_and_msix_capability),
        cmocka_unit_test(test_memory_bus_scatters_pages),
        cmocka_unit_test(test_disk_backends),
        cmocka_unit_test(test_file_backed_namespace),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
