/*
 * Test-ModelSelf.c - the NVMe controller model on its own, driven by the
 * hand-written TinyDriver: registers and the enable/disable/shutdown state
 * machine, Identify, I/O with PRPs (lists, chains) and SGLs, Flush, Write
 * Zeroes, Dataset Management, features, log pages, AERs, Abort, queue-full
 * behaviour, namespaces with several LBA formats and metadata, and the three
 * processing modes. The PCI face of the model and the MemoryBus and
 * DiskBackend underneath are in Test-ModelMemory.c; conformance rules and
 * faults have their own files (Test-ModelConformance.c, Test-ModelFaults.c).
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

static U32 Get32(const U8* Data, U32 Offset) {
    U32 Value;
    memcpy(&Value, Data + Offset, 4);
    return Value;
}

static U64 Get64(const U8* Data, U32 Offset) {
    U64 Value;
    memcpy(&Value, Data + Offset, 8);
    return Value;
}

/************************************************************************/
// Registers and state machine

static void test_registers_after_reset(void** State) {
    (void)State;
    StartDefault();
    // QEMU 7.2 reads CAP = 0x004018200F0107FF (qemu-nvme-facts.md 1.2); the model advertises the NVM command
    // set only (CSS bit 37), without QEMU's "I/O command sets" and "admin only" bits 43-44.
    U64 Cap = NVMeModelRead(Model, NM_REG_CAP, 8);
    assert_int_equal(Cap, 0x004000200F0107FFULL);
    assert_int_equal(NVMeModelRead32(Model, 0), (U32)Cap);
    assert_int_equal(NVMeModelRead32(Model, 4), (U32)(Cap >> 32));
    assert_int_equal(NVMeModelRead32(Model, NM_REG_VS), 0x00010400);
    assert_int_equal(NVMeModelRead32(Model, NM_REG_CC), 0);
    assert_int_equal(NVMeModelRead32(Model, NM_REG_CSTS), 0);
    assert_int_equal(NVMeModelBar0Size(Model), 0x4000);
    Finish();
}

static void test_enable_waits_ready_delay(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    NVMeModelDefaultConfig(&Config);
    Config.ReadyDelayMs = 5;
    StartWith(&Config);
    PLATFORM_DMA Sq, Cq;
    assert_int_equal(PlatformDMAAlloc(4096, 4096, 0, &Sq), KSTATUS_SUCCESS);
    assert_int_equal(PlatformDMAAlloc(4096, 4096, 0, &Cq), KSTATUS_SUCCESS);
    NVMeModelWrite32(Model, NM_REG_AQA, 0x000F000F);
    NVMeModelWrite(Model, NM_REG_ASQ, 8, Sq.Physical);
    NVMeModelWrite(Model, NM_REG_ACQ, 8, Cq.Physical);
    U64 Start = HostClockNowNs();
    NVMeModelWrite32(Model, NM_REG_CC, NM_CC_EN | (6U << 16) | (4U << 20));
    assert_int_equal(NVMeModelRead32(Model, NM_REG_CSTS) & NM_CSTS_RDY, 0);
    PlatformSleepMs(4);
    assert_int_equal(NVMeModelRead32(Model, NM_REG_CSTS) & NM_CSTS_RDY, 0);
    PlatformSleepMs(1);
    assert_int_equal(NVMeModelRead32(Model, NM_REG_CSTS) & NM_CSTS_RDY, NM_CSTS_RDY);
    assert_true(HostClockNowNs() - Start >= 5000000ULL);
    // EN 1->0: RDY falls DisableDelayMs (1 ms) later.
    NVMeModelWrite32(Model, NM_REG_CC, 0);
    assert_int_equal(NVMeModelRead32(Model, NM_REG_CSTS) & NM_CSTS_RDY, NM_CSTS_RDY);
    PlatformSleepMs(1);
    assert_int_equal(NVMeModelRead32(Model, NM_REG_CSTS) & NM_CSTS_RDY, 0);
    PlatformDMAFree(&Sq);
    PlatformDMAFree(&Cq);
    NVME_MODEL_STATS Stats;
    NVMeModelGetStats(Model, &Stats);
    assert_int_equal(Stats.Enables, 1);
    assert_int_equal(Stats.Resets, 1);
    Finish();
}

static void test_shutdown_completes_after_delay(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    NVMeModelDefaultConfig(&Config);
    Config.ShutdownDelayMs = 3;
    StartWith(&Config);
    BringUp(1, 16);
    U32 Cc = NVMeModelRead32(Model, NM_REG_CC);
    NVMeModelWrite32(Model, NM_REG_CC, Cc | NM_CC_SHN_NORMAL);
    assert_int_equal(NVMeModelRead32(Model, NM_REG_CSTS) & NM_CSTS_SHST_MASK, NM_CSTS_SHST_OCCURRING);
    PlatformSleepMs(3);
    assert_int_equal(NVMeModelRead32(Model, NM_REG_CSTS) & NM_CSTS_SHST_MASK, NM_CSTS_SHST_COMPLETE);
    // After a shutdown the controller takes no commands; a disable and a new enable bring it back.
    NVMeModelWrite32(Model, NM_REG_CC, 0);
    assert_true(TinyWaitReady(&Driver, FALSE, 100));
    assert_true(TinyEnable(&Driver, 16));
    assert_int_equal(NVMeModelRead32(Model, NM_REG_CSTS), NM_CSTS_RDY);
    Finish();
}

static void test_64bit_registers_as_halves_and_whole(void** State) {
    (void)State;
    StartDefault();
    NVMeModelWrite32(Model, NM_REG_ASQ, 0x12345000);
    NVMeModelWrite32(Model, NM_REG_ASQ + 4, 0x9);
    assert_int_equal(NVMeModelRead(Model, NM_REG_ASQ, 8), 0x912345000ULL);
    NVMeModelWrite(Model, NM_REG_ACQ, 8, 0xABC000ULL);
    assert_int_equal(NVMeModelRead32(Model, NM_REG_ACQ), 0xABC000);
    assert_int_equal(NVMeModelRead32(Model, NM_REG_ACQ + 4), 0);
    Finish();
}

/************************************************************************/
// Identify

static void test_identify_controller(void** State) {
    (void)State;
    StartDefault();
    BringUp(0, 0);
    U8* Data = (U8*)calloc(1, 4096);
    assert_int_equal(TinyIdentify(&Driver, NM_CNS_CONTROLLER, 0, Data), 0);
    assert_int_equal(Data[0] | (Data[1] << 8), NM_PCI_VENDOR_REDHAT);
    assert_memory_equal(Data + 24, "QEMU NVMe Ctrl ", 15);
    assert_memory_equal(Data + 4, "CAIRNMODEL01", 12);
    assert_int_equal(Data[4 + 12], ' ');
    assert_memory_equal(Data + 64, "7.2.22  ", 8);
    assert_int_equal(Data[77], 7);        // MDTS
    assert_int_equal(Get32(Data, 80), 0x10400);
    assert_int_equal(Data[259], 3);       // AERL
    assert_int_equal(Data[261], 0x05);    // LPA
    assert_int_equal(Data[512], 0x66);    // SQES
    assert_int_equal(Data[513], 0x44);    // CQES
    assert_int_equal(Get32(Data, 516), 256);   // NN
    assert_int_equal(Data[520], 0x0C);    // ONCS
    assert_int_equal(Data[525], 0x07);    // VWC
    assert_int_equal(Get32(Data, 536), 1);     // SGLS
    free(Data);
    Finish();
}

static void test_identify_namespace_and_lists(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    NVMeModelDefaultConfig(&Config);
    NVMeModelApplyPreset(&Config, NVME_PRESET_SPARSE_NAMESPACES);
    StartWith(&Config);
    BringUp(0, 0);
    U8* Data = (U8*)calloc(1, 4096);
    assert_int_equal(TinyIdentify(&Driver, NM_CNS_NAMESPACE, 7, Data), 0);
    assert_int_equal(Get64(Data, 0), 4096);   // NSZE
    assert_int_equal(Data[25], 0);            // NLBAF
    assert_int_equal((Get32(Data, 128) >> 16) & 0xFF, 12);
    // Inactive but valid: zeroes. Beyond NN: Invalid Namespace.
    memset(Data, 0xAA, 4096);
    assert_int_equal(TinyIdentify(&Driver, NM_CNS_NAMESPACE, 8, Data), 0);
    for (U32 I = 0; I < 4096; I++) assert_int_equal(Data[I], 0);
    assert_int_equal(TinyIdentify(&Driver, NM_CNS_NAMESPACE, 1025, Data),
                     NM_STATUS(NM_SCT_GENERIC, NM_SC_INVALID_NAMESPACE) | NM_STATUS_DNR);
    // Active list, ascending, above the NSID given.
    assert_int_equal(TinyIdentify(&Driver, NM_CNS_ACTIVE_NAMESPACES, 0, Data), 0);
    assert_int_equal(Get32(Data, 0), 1);
    assert_int_equal(Get32(Data, 4), 7);
    assert_int_equal(Get32(Data, 8), 300);
    assert_int_equal(Get32(Data, 12), 1024);
    assert_int_equal(Get32(Data, 16), 0);
    assert_int_equal(TinyIdentify(&Driver, NM_CNS_ACTIVE_NAMESPACES, 7, Data), 0);
    assert_int_equal(Get32(Data, 0), 300);
    assert_int_equal(Get32(Data, 8), 0);
    // Descriptor list: EUI-64 then the command set identifier.
    assert_int_equal(TinyIdentify(&Driver, NM_CNS_NAMESPACE_DESCRIPTORS, 300, Data), 0);
    assert_int_equal(Data[0], 1);
    assert_int_equal(Data[1], 8);
    assert_int_equal(Data[11], 300 & 0xFF);
    assert_int_equal(Data[12], 4);
    // An unknown CNS is a plain Invalid Field.
    assert_int_equal(TinyIdentify(&Driver, 0x1F, 0, Data),
                     NM_STATUS(NM_SCT_GENERIC, NM_SC_INVALID_FIELD) | NM_STATUS_DNR);
    free(Data);
    Finish();
}

static void test_identify_default_namespace_formats(void** State) {
    (void)State;
    StartDefault();
    BringUp(0, 0);
    U8* Data = (U8*)calloc(1, 4096);
    assert_int_equal(TinyIdentify(&Driver, NM_CNS_NAMESPACE, 1, Data), 0);
    assert_int_equal(Get64(Data, 0), 262144);
    assert_int_equal(Data[25], 7);  // eight formats, as QEMU
    assert_int_equal(Data[26], 0);
    assert_int_equal(Get32(Data, 128), 9U << 16);
    assert_int_equal(Get32(Data, 128 + 4 * 3), (9U << 16) | 64);
    assert_int_equal(Get32(Data, 128 + 4 * 4), 12U << 16);
    free(Data);
    Finish();
}

/************************************************************************/
// I/O

static void test_read_write_roundtrip_with_prp_list(void** State) {
    (void)State;
    StartDefault();
    BringUp(1, 64);
    // 40 blocks starting 100 bytes into a page: PRP1 with an offset, then a PRP list of 5 entries.
    U64 Bytes = 40 * 512;
    U8* Raw = (U8*)aligned_alloc(4096, 8 * 4096);
    U8* Buffer = Raw + 100;
    Fill(Buffer, Bytes, 3);
    assert_int_equal(TinyReadWrite(&Driver, 1, TRUE, 1, 1000, 40, Buffer, Bytes), 0);
    U8* Stored = (U8*)malloc(Bytes);
    assert_int_equal(DiskBackendRead(NVMeModelBackend(Model, 1), 1000 * 512, Stored, Bytes), KSTATUS_SUCCESS);
    assert_memory_equal(Stored, Buffer, Bytes);
    memset(Buffer, 0, Bytes);
    assert_int_equal(TinyReadWrite(&Driver, 1, FALSE, 1, 1000, 40, Buffer, Bytes), 0);
    assert_memory_equal(Stored, Buffer, Bytes);
    NVME_MODEL_STATS Stats;
    NVMeModelGetStats(Model, &Stats);
    assert_int_equal(Stats.Writes, 1);
    assert_int_equal(Stats.Reads, 1);
    assert_int_equal(Stats.BytesRead, Bytes);
    MemoryBusForget(HostPlatformMemoryBus(), Raw, 8 * 4096);
    free(Stored);
    free(Raw);
    Finish();
}

static void test_prp_list_chained_across_pages(void** State) {
    (void)State;
    StartDefault();
    BringUp(1, 16);
    U8* Data = (U8*)aligned_alloc(4096, 4 * 4096);
    Fill(Data, 4 * 4096, 9);
    // The list starts two slots before the end of a page: slot 1 is the chain to the next page.
    U64* List = (U64*)Driver.Scratch.Linear;
    PHYSICAL ListPhysical = Driver.Scratch.Physical;
    U32 Start = 510;
    List[Start] = PlatformTranslate(Data + 4096);
    List[Start + 1] = ListPhysical + 4096;   // chain entry
    List[512] = PlatformTranslate(Data + 2 * 4096);
    List[513] = PlatformTranslate(Data + 3 * 4096);
    NM_SQE Command = TinyMakeCommand(&Driver, NM_IO_WRITE, 1);
    Command.Prp1 = PlatformTranslate(Data);
    Command.Prp2 = ListPhysical + Start * 8;
    Command.Cdw10 = 64;
    Command.Cdw12 = 32 - 1;
    assert_int_equal(TinyCommand(&Driver, 1, &Command, NULL), 0);
    U8* Stored = (U8*)malloc(4 * 4096);
    assert_int_equal(DiskBackendRead(NVMeModelBackend(Model, 1), 64 * 512, Stored, 4 * 4096), KSTATUS_SUCCESS);
    assert_memory_equal(Stored, Data, 4 * 4096);
    MemoryBusForget(HostPlatformMemoryBus(), Data, 4 * 4096);
    free(Stored);
    free(Data);
    Finish();
}

static void test_sgl_segments(void** State) {
    (void)State;
    StartDefault();
    BringUp(1, 16);
    // Three pieces in three host pages (physically scattered): 1000 bytes ending a page, 24 bytes starting the
    // next one, 1024 bytes in the middle of a third.
    U8* Data = (U8*)aligned_alloc(4096, 3 * 4096);
    Fill(Data, 3 * 4096, 5);
    U8* Pieces[3] = {Data + 4096 - 1000, Data + 4096, Data + 2 * 4096 + 100};
    U32 Lengths[3] = {1000, 24, 1024};
    U8 Expected[2048];
    memcpy(Expected, Pieces[0], 1000);
    memcpy(Expected + 1000, Pieces[1], 24);
    memcpy(Expected + 1024, Pieces[2], 1024);
    // SGL1 = Segment -> [data block, Last Segment] -> [data block, data block].
    PLATFORM_DMA Lists;
    assert_int_equal(PlatformDMAAlloc(8192, 4096, 0, &Lists), KSTATUS_SUCCESS);
    NM_SGL_DESCRIPTOR* First = (NM_SGL_DESCRIPTOR*)Lists.Linear;
    NM_SGL_DESCRIPTOR* Last = (NM_SGL_DESCRIPTOR*)((U8*)Lists.Linear + 4096);
    First[0].Address = PlatformTranslate(Pieces[0]);
    First[0].Length = Lengths[0];
    First[0].Type = NM_SGL_TYPE(NM_SGL_DATA_BLOCK, 0);
    First[1].Address = Lists.Physical + 4096;
    First[1].Length = 2 * 16;
    First[1].Type = NM_SGL_TYPE(NM_SGL_LAST_SEGMENT, 0);
    for (U32 I = 0; I < 2; I++) {
        Last[I].Address = PlatformTranslate(Pieces[I + 1]);
        Last[I].Length = Lengths[I + 1];
        Last[I].Type = NM_SGL_TYPE(NM_SGL_DATA_BLOCK, 0);
    }
    NM_SQE Command = TinyMakeCommand(&Driver, NM_IO_WRITE, 1);
    Command.Cdw0 |= (U32)NM_PSDT_SGL_MPTR_BUFFER << 14;
    NM_SGL_DESCRIPTOR Sgl1 = {Lists.Physical, 2 * 16, {0, 0, 0}, NM_SGL_TYPE(NM_SGL_SEGMENT, 0)};
    memcpy(&Command.Prp1, &Sgl1, 16);
    Command.Cdw10 = 8;
    Command.Cdw12 = 4 - 1;
    assert_int_equal(TinyCommand(&Driver, 1, &Command, NULL), 0);
    U8 Stored[2048];
    assert_int_equal(DiskBackendRead(NVMeModelBackend(Model, 1), 8 * 512, Stored, 2048), KSTATUS_SUCCESS);
    assert_memory_equal(Stored, Expected, 2048);

    // Read back through a single data block descriptor in SGL1.
    PLATFORM_DMA Bounce;
    assert_int_equal(PlatformDMAAlloc(2048, 4096, 0, &Bounce), KSTATUS_SUCCESS);
    Command = TinyMakeCommand(&Driver, NM_IO_READ, 1);
    Command.Cdw0 |= (U32)NM_PSDT_SGL_MPTR_BUFFER << 14;
    NM_SGL_DESCRIPTOR Block = {Bounce.Physical, 2048, {0, 0, 0}, NM_SGL_TYPE(NM_SGL_DATA_BLOCK, 0)};
    memcpy(&Command.Prp1, &Block, 16);
    Command.Cdw10 = 8;
    Command.Cdw12 = 4 - 1;
    assert_int_equal(TinyCommand(&Driver, 1, &Command, NULL), 0);
    assert_memory_equal(Bounce.Linear, Expected, 2048);
    PlatformDMAFree(&Bounce);
    PlatformDMAFree(&Lists);
    MemoryBusForget(HostPlatformMemoryBus(), Data, 3 * 4096);
    free(Data);
    Finish();
}

static void test_flush_write_zeroes_and_deallocate(void** State) {
    (void)State;
    StartDefault();
    BringUp(1, 16);
    DISK_BACKEND* Backend = NVMeModelBackend(Model, 1);
    U8* Data = (U8*)aligned_alloc(4096, 8192);
    Fill(Data, 8192, 1);
    assert_int_equal(TinyReadWrite(&Driver, 1, TRUE, 1, 0, 16, Data, 8192), 0);
    DISK_BACKEND_STATS Before, After;
    DiskBackendGetStats(Backend, &Before);
    assert_true(Before.WritesSinceFlush > 0);
    NM_SQE Command = TinyMakeCommand(&Driver, NM_IO_FLUSH, 1);
    assert_int_equal(TinyCommand(&Driver, 1, &Command, NULL), 0);
    DiskBackendGetStats(Backend, &After);
    assert_int_equal(After.Flushes, Before.Flushes + 1);
    assert_int_equal(After.WritesSinceFlush, 0);
    Command = TinyMakeCommand(&Driver, NM_IO_FLUSH, 0xFFFFFFFF);  // broadcast (VWC bits 2:1 = 11b)
    assert_int_equal(TinyCommand(&Driver, 1, &Command, NULL), 0);

    // Write Zeroes of blocks 2-3, deallocating.
    Command = TinyMakeCommand(&Driver, NM_IO_WRITE_ZEROES, 1);
    Command.Cdw10 = 2;
    Command.Cdw12 = 1 | (1U << 25);
    assert_int_equal(TinyCommand(&Driver, 1, &Command, NULL), 0);
    // Dataset Management: deallocate blocks 6 and 10-11.
    U8* Ranges = (U8*)calloc(1, 4096);
    U32 Count = 1;
    U64 Lba = 6;
    memcpy(Ranges + 4, &Count, 4);
    memcpy(Ranges + 8, &Lba, 8);
    Count = 2;
    Lba = 10;
    memcpy(Ranges + 16 + 4, &Count, 4);
    memcpy(Ranges + 16 + 8, &Lba, 8);
    Command = TinyMakeCommand(&Driver, NM_IO_DSM, 1);
    assert_true(TinyBuildPrps(&Driver, &Command, Ranges, 32));
    Command.Cdw10 = 1;   // two ranges
    Command.Cdw11 = 4;   // AD
    assert_int_equal(TinyCommand(&Driver, 1, &Command, NULL), 0);

    memset(Data, 0xEE, 8192);
    assert_int_equal(TinyReadWrite(&Driver, 1, FALSE, 1, 0, 16, Data, 8192), 0);
    U8 Expected[8192];
    Fill(Expected, 8192, 1);
    memset(Expected + 2 * 512, 0, 2 * 512);
    memset(Expected + 6 * 512, 0, 512);
    memset(Expected + 10 * 512, 0, 2 * 512);
    assert_memory_equal(Data, Expected, 8192);
    NVME_MODEL_STATS Stats;
    NVMeModelGetStats(Model, &Stats);
    assert_int_equal(Stats.WriteZeroes, 1);
    assert_int_equal(Stats.Deallocates, 1);
    assert_int_equal(Stats.Flushes, 2);
    MemoryBusForget(HostPlatformMemoryBus(), Data, 8192);
    MemoryBusForget(HostPlatformMemoryBus(), Ranges, 4096);
    free(Ranges);
    free(Data);
    Finish();
}

/************************************************************************/
// Features and log pages

static U16 GetFeature(U8 Fid, U32 Select, U32 Cdw11, U32* Value) {
    NM_SQE Command = TinyMakeCommand(&Driver, NM_ADMIN_GET_FEATURES, 0);
    Command.Cdw10 = Fid | (Select << 8);
    Command.Cdw11 = Cdw11;
    NM_CQE Completion;
    U16 Status = TinyCommand(&Driver, 0, &Command, &Completion);
    *Value = Completion.Dw0;
    return Status;
}

static U16 SetFeature(U8 Fid, U32 Value, U32* Result) {
    NM_SQE Command = TinyMakeCommand(&Driver, NM_ADMIN_SET_FEATURES, 0);
    Command.Cdw10 = Fid;
    Command.Cdw11 = Value;
    NM_CQE Completion;
    U16 Status = TinyCommand(&Driver, 0, &Command, &Completion);
    if (Result) *Result = Completion.Dw0;
    return Status;
}

static void test_features(void** State) {
    (void)State;
    StartDefault();
    assert_true(TinyEnable(&Driver, 16));
    U32 Value;
    // Number of Queues: QEMU answers its maximum whatever is asked (0x003F003F).
    assert_int_equal(SetFeature(NM_FEATURE_NUMBER_OF_QUEUES, 0x00010001, &Value), 0);
    assert_int_equal(Value, 0x003F003F);
    assert_int_equal(GetFeature(NM_FEATURE_NUMBER_OF_QUEUES, 0, 0, &Value), 0);
    assert_int_equal(Value, 0x003F003F);
    assert_int_equal(SetFeature(NM_FEATURE_ARBITRATION, 0x3, NULL), 0);
    assert_int_equal(GetFeature(NM_FEATURE_ARBITRATION, 0, 0, &Value), 0);
    assert_int_equal(Value, 3);
    assert_int_equal(GetFeature(NM_FEATURE_ARBITRATION, 1, 0, &Value), 0);  // default
    assert_int_equal(Value, 0);
    assert_int_equal(GetFeature(NM_FEATURE_TEMPERATURE_THRESHOLD, 0, 0, &Value), 0);
    assert_int_equal(Value, 343);
    assert_int_equal(SetFeature(NM_FEATURE_TEMPERATURE_THRESHOLD, 350, NULL), 0);
    assert_int_equal(GetFeature(NM_FEATURE_TEMPERATURE_THRESHOLD, 0, 0, &Value), 0);
    assert_int_equal(Value, 350);
    assert_int_equal(SetFeature(NM_FEATURE_TEMPERATURE_THRESHOLD, 260 | (1U << 20), NULL), 0);  // under threshold
    assert_int_equal(GetFeature(NM_FEATURE_TEMPERATURE_THRESHOLD, 0, 1U << 20, &Value), 0);
    assert_int_equal(Value, 260);
    assert_int_equal(GetFeature(NM_FEATURE_VOLATILE_WRITE_CACHE, 0, 0, &Value), 0);
    assert_int_equal(Value, 1);
    assert_int_equal(SetFeature(NM_FEATURE_VOLATILE_WRITE_CACHE, 0, NULL), 0);
    assert_int_equal(GetFeature(NM_FEATURE_VOLATILE_WRITE_CACHE, 0, 0, &Value), 0);
    assert_int_equal(Value, 0);
    assert_int_equal(SetFeature(NM_FEATURE_INTERRUPT_COALESCING, 0x0A10, NULL), 0);
    assert_int_equal(GetFeature(NM_FEATURE_INTERRUPT_COALESCING, 0, 0, &Value), 0);
    assert_int_equal(Value, 0x0A10);
    assert_int_equal(SetFeature(NM_FEATURE_ERROR_RECOVERY, 100, NULL), 0);
    assert_int_equal(SetFeature(NM_FEATURE_POWER_MANAGEMENT, 0, NULL), 0);
    assert_int_equal(SetFeature(NM_FEATURE_ASYNC_EVENT_CONFIG, 0x1FF, NULL), 0);
    assert_int_equal(GetFeature(NM_FEATURE_ASYNC_EVENT_CONFIG, 0, 0, &Value), 0);
    assert_int_equal(Value, 0x1FF);
    assert_int_equal(GetFeature(NM_FEATURE_ASYNC_EVENT_CONFIG, 3, 0, &Value), 0);  // capabilities
    assert_int_equal(Value, 0x4);
    // Not saveable; unknown features are Invalid Field (a probe, not a violation).
    NM_SQE Command = TinyMakeCommand(&Driver, NM_ADMIN_SET_FEATURES, 0);
    Command.Cdw10 = NM_FEATURE_ARBITRATION | 0x80000000U;
    assert_int_equal(TinyCommand(&Driver, 0, &Command, NULL),
                     NM_STATUS(NM_SCT_COMMAND, NM_SC_FEATURE_NOT_SAVEABLE) | NM_STATUS_DNR);
    assert_int_equal(GetFeature(0x0C, 0, 0, &Value), NM_STATUS(NM_SCT_GENERIC, NM_SC_INVALID_FIELD) | NM_STATUS_DNR);
    Finish();
}

static void test_features_grant_requested(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    NVMeModelDefaultConfig(&Config);
    Config.GrantRequested = TRUE;
    Config.MaxIoQueues = 8;
    StartWith(&Config);
    assert_true(TinyEnable(&Driver, 16));
    U32 Value;
    assert_int_equal(SetFeature(NM_FEATURE_NUMBER_OF_QUEUES, (3U << 16) | 1U, &Value), 0);
    assert_int_equal(Value, (3U << 16) | 1U);
    assert_int_equal(SetFeature(NM_FEATURE_NUMBER_OF_QUEUES, (31U << 16) | 31U, &Value), 0);
    assert_int_equal(Value, (7U << 16) | 7U);
    Finish();
}

static U16 GetLog(U8 Lid, U32 Dwords, U64 Offset, BOOL Retain, LPVOID Buffer) {
    NM_SQE Command = TinyMakeCommand(&Driver, NM_ADMIN_GET_LOG_PAGE, 0xFFFFFFFF);
    assert_true(TinyBuildPrps(&Driver, &Command, Buffer, Dwords * 4ULL));
    Command.Cdw10 = Lid | (Retain ? 0x8000U : 0) | (((Dwords - 1) & 0xFFFF) << 16);
    Command.Cdw11 = (Dwords - 1) >> 16;
    Command.Cdw12 = (U32)Offset;
    Command.Cdw13 = (U32)(Offset >> 32);
    return TinyCommand(&Driver, 0, &Command, NULL);
}

static void test_log_pages(void** State) {
    (void)State;
    StartDefault();
    BringUp(1, 16);
    U8* Data = (U8*)aligned_alloc(4096, 4096);
    Fill(Data, 4096, 2);
    assert_int_equal(TinyReadWrite(&Driver, 1, TRUE, 1, 0, 8, Data, 4096), 0);
    assert_int_equal(TinyReadWrite(&Driver, 1, FALSE, 1, 0, 8, Data, 4096), 0);
    // An error for the log: LBA out of range (a violation the test provokes).
    assert_int_equal(TinyReadWrite(&Driver, 1, FALSE, 1, 262144, 1, Data, 512),
                     NM_STATUS(NM_SCT_GENERIC, NM_SC_LBA_OUT_OF_RANGE) | NM_STATUS_DNR);
    EXPECT_VIOLATION(Model, NVME_RULE_LBA_OUT_OF_RANGE);

    memset(Data, 0, 4096);
    assert_int_equal(GetLog(NM_LOG_SMART, 128, 0, TRUE, Data), 0);
    assert_int_equal(Data[1] | (Data[2] << 8), 323);   // 50 C, as QEMU
    assert_int_equal(Get64(Data, 32), 1);               // 8 blocks read: 4096 bytes -> 1 (thousands, rounded up)
    assert_int_equal(Get64(Data, 64), 1);               // host read commands (successful)
    assert_int_equal(Get64(Data, 80), 1);
    assert_int_equal(Get64(Data, 176), 1);              // error log entries

    // NUMD and offset are honoured: 4 dwords from offset 64 = host read commands.
    memset(Data, 0x5A, 4096);
    assert_int_equal(GetLog(NM_LOG_SMART, 4, 64, TRUE, Data), 0);
    assert_int_equal(Get64(Data, 0), 1);
    assert_int_equal(Data[16], 0x5A);                   // nothing past NUMD

    memset(Data, 0, 4096);
    assert_int_equal(GetLog(NM_LOG_ERROR, 16, 0, TRUE, Data), 0);
    assert_int_equal(Get64(Data, 0), 1);                // error count
    assert_int_equal(Data[8], 1);                       // SQ 1
    assert_int_equal((Data[12] | (Data[13] << 8)) >> 1,
                     NM_STATUS(NM_SCT_GENERIC, NM_SC_LBA_OUT_OF_RANGE) | NM_STATUS_DNR);
    assert_int_equal(Get64(Data, 16), 262144);          // LBA

    memset(Data, 0, 4096);
    assert_int_equal(GetLog(NM_LOG_FIRMWARE_SLOT, 128, 0, TRUE, Data), 0);
    assert_int_equal(Data[0], 1);
    assert_memory_equal(Data + 8, "7.2.22  ", 8);

    assert_int_equal(GetLog(0x07, 16, 0, TRUE, Data),
                     NM_STATUS(NM_SCT_COMMAND, NM_SC_INVALID_LOG_PAGE) | NM_STATUS_DNR);
    MemoryBusForget(HostPlatformMemoryBus(), Data, 4096);
    free(Data);
    Finish();
}

static void test_async_events(void** State) {
    (void)State;
    StartDefault();
    assert_true(TinyEnable(&Driver, 16));
    assert_int_equal(SetFeature(NM_FEATURE_ASYNC_EVENT_CONFIG, 0x7, NULL), 0);
    NM_SQE Aer = TinyMakeCommand(&Driver, NM_ADMIN_ASYNC_EVENT, 0);
    U16 AerCid = TinySubmit(&Driver, 0, &Aer);
    NM_CQE Completion;
    assert_false(TinyReap(&Driver, 0, &Completion));
    // A temperature event is enabled (bit 1): it completes the AER.
    NVMeModelSetSmart(Model, 0x02, 360);
    assert_true(TinyReap(&Driver, 0, &Completion));
    assert_int_equal(Completion.Cid, AerCid);
    assert_int_equal(Completion.Dw0, NM_AER_TYPE_SMART | (1U << 8) | ((U32)NM_LOG_SMART << 16));
    // The next SMART event waits: the type is masked until its log page is read.
    Aer = TinyMakeCommand(&Driver, NM_ADMIN_ASYNC_EVENT, 0);
    AerCid = TinySubmit(&Driver, 0, &Aer);
    assert_true(NVMeModelRaiseAsyncEvent(Model, NM_AER_TYPE_SMART, 0, NM_LOG_SMART));
    assert_false(TinyReap(&Driver, 0, &Completion));
    // An event the configuration disables is refused.
    assert_false(NVMeModelRaiseAsyncEvent(Model, NM_AER_TYPE_NOTICE, 0, 0x04));
    U8* Log = (U8*)aligned_alloc(4096, 4096);
    assert_int_equal(GetLog(NM_LOG_SMART, 128, 0, FALSE, Log), 0);
    assert_int_equal(Log[0], 0x02);
    // Reading the log (RAE=0) released the queued event onto the outstanding AER.
    assert_true(TinyReap(&Driver, 0, &Completion));
    assert_int_equal(Completion.Cid, AerCid);
    assert_int_equal(Completion.Dw0 & 0xFFFF, NM_AER_TYPE_SMART | (0U << 8));
    MemoryBusForget(HostPlatformMemoryBus(), Log, 4096);
    free(Log);
    Finish();
}

static void test_abort_default_not_aborted(void** State) {
    (void)State;
    StartDefault();
    assert_true(TinyEnable(&Driver, 16));
    NM_SQE Command = TinyMakeCommand(&Driver, NM_ADMIN_ABORT, 0);
    Command.Cdw10 = (77U << 16) | 0;
    NM_CQE Completion;
    assert_int_equal(TinyCommand(&Driver, 0, &Command, &Completion), 0);
    assert_int_equal(Completion.Dw0 & 1, 1);  // QEMU: success, "command not aborted"
    Finish();
}

/************************************************************************/
// Queues and processing modes

static void test_full_cq_parks_completions(void** State) {
    (void)State;
    StartDefault();
    BringUp(0, 0);
    assert_int_equal(TinySetQueueCount(&Driver, 1), 0);
    // SQ of 4 entries on a CQ of 2 (room for one completion).
    TINY_QUEUE* Queue = &Driver.Queues[1];
    memset(Queue, 0, sizeof(*Queue));
    PlatformDMAAlloc(4096, 4096, 0, &Queue->Sq);
    PlatformDMAAlloc(4096, 4096, 0, &Queue->Cq);
    Queue->Size = 2;
    Queue->Phase = TRUE;
    NM_SQE Command = TinyMakeCommand(&Driver, NM_ADMIN_CREATE_CQ, 0);
    Command.Prp1 = Queue->Cq.Physical;
    Command.Cdw10 = (1U << 16) | 1;
    Command.Cdw11 = 1;
    assert_int_equal(TinyCommand(&Driver, 0, &Command, NULL), 0);
    Command = TinyMakeCommand(&Driver, NM_ADMIN_CREATE_SQ, 0);
    Command.Prp1 = Queue->Sq.Physical;
    Command.Cdw10 = (3U << 16) | 1;
    Command.Cdw11 = (1U << 16) | 1;
    assert_int_equal(TinyCommand(&Driver, 0, &Command, NULL), 0);
    // Submit two flushes through a 4-entry SQ: the SQ slots are tracked by hand here.
    U8* Sq = (U8*)Queue->Sq.Linear;
    for (U32 I = 0; I < 2; I++) {
        NM_SQE Flush = TinyMakeCommand(&Driver, NM_IO_FLUSH, 1);
        memcpy(Sq + I * 64, &Flush, 64);
    }
    NVMeModelWrite32(Model, NVMeModelDoorbell(Model, 1, FALSE), 2);
    NVME_MODEL_STATS Stats;
    NVMeModelGetStats(Model, &Stats);
    assert_int_equal(Stats.CqFullStalls, 1);
    NM_CQE Completion;
    Queue->Size = 2;
    assert_true(TinyReap(&Driver, 1, &Completion));   // head doorbell frees room: the parked one is posted
    assert_true(TinyReap(&Driver, 1, &Completion));
    assert_false(TinyReap(&Driver, 1, &Completion));
    Finish();
}

static void test_step_mode(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    NVMeModelDefaultConfig(&Config);
    Config.Mode = NVME_MODEL_STEP;
    StartWith(&Config);
    BringUp(1, 16);
    NM_SQE A = TinyMakeCommand(&Driver, NM_IO_FLUSH, 1);
    NM_SQE B = TinyMakeCommand(&Driver, NM_IO_FLUSH, 1);
    TinyQueue(&Driver, 1, &A);
    TinyQueue(&Driver, 1, &B);
    TinyRing(&Driver, 1);
    NM_CQE Completion;
    assert_false(TinyReap(&Driver, 1, &Completion));  // nothing until the test steps
    NVME_MODEL_QUEUE_INFO Info;
    assert_true(NVMeModelQueueInfo(Model, 1, FALSE, &Info));
    assert_int_equal(Info.Tail, 2);
    assert_int_equal(Info.Head, 0);
    assert_int_equal(NVMeModelStep(Model, 1), 1);
    assert_true(TinyReap(&Driver, 1, &Completion));
    assert_int_equal(Completion.Cid, NM_SQE_CID(&A));
    assert_int_equal(Completion.SqHead, 1);
    assert_false(TinyReap(&Driver, 1, &Completion));
    assert_int_equal(NVMeModelStep(Model, 5), 1);
    assert_true(TinyReap(&Driver, 1, &Completion));
    assert_int_equal(Completion.Cid, NM_SQE_CID(&B));
    Finish();
}

static void test_thread_mode(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    NVMeModelDefaultConfig(&Config);
    Config.Mode = NVME_MODEL_THREAD;
    StartWith(&Config);
    BringUp(2, 64);
    U8* Data = (U8*)aligned_alloc(4096, 4096 * 4);
    for (U32 Round = 0; Round < 20; Round++) {
        Fill(Data, 16384, Round);
        U16 Qid = (U16)(1 + Round % 2);
        assert_int_equal(TinyReadWrite(&Driver, Qid, TRUE, 1, Round * 32, 32, Data, 16384), 0);
        memset(Data, 0, 16384);
        assert_int_equal(TinyReadWrite(&Driver, Qid, FALSE, 1, Round * 32, 32, Data, 16384), 0);
        U8 Expected[16384];
        Fill(Expected, 16384, Round);
        assert_memory_equal(Data, Expected, 16384);
    }
    assert_true(NVMeModelWaitIdle(Model, 1000));
    MemoryBusForget(HostPlatformMemoryBus(), Data, 16384);
    free(Data);
    Finish();
}

static void test_doorbell_strides(void** State) {
    (void)State;
    NVME_MODEL_PRESET Presets[2] = {NVME_PRESET_DSTRD_1, NVME_PRESET_DSTRD_2};
    for (U32 P = 0; P < 2; P++) {
        NVME_MODEL_CONFIG Config;
        NVMeModelDefaultConfig(&Config);
        NVMeModelApplyPreset(&Config, Presets[P]);
        StartWith(&Config);
        U32 Stride = 4U << (P + 1);
        assert_int_equal((NVMeModelRead(Model, NM_REG_CAP, 8) >> 32) & 0xF, P + 1);
        assert_int_equal(NVMeModelDoorbell(Model, 1, TRUE), 0x1000 + 3 * Stride);
        BringUp(2, 8);
        U8 Buffer[512];
        Fill(Buffer, 512, P);
        assert_int_equal(TinyReadWrite(&Driver, 2, TRUE, 1, 5, 1, Buffer, 512), 0);
        MemoryBusForget(HostPlatformMemoryBus(), Buffer, 512);
        Finish();
    }
}

/************************************************************************/
// Namespaces with metadata and other formats

static void test_namespace_formats(void** State) {
    (void)State;
    NVME_MODEL_CONFIG Config;
    NVMeModelDefaultConfig(&Config);
    NVMeModelApplyPreset(&Config, NVME_PRESET_NAMESPACE_FORMATS);
    StartWith(&Config);
    BringUp(1, 16);
    U8* Data = (U8*)aligned_alloc(4096, 3 * 4096);
    U8* Meta = (U8*)aligned_alloc(4096, 4096);
    // NSID 2: 4096-byte blocks.
    Fill(Data, 8192, 11);
    assert_int_equal(TinyReadWrite(&Driver, 1, TRUE, 2, 3, 2, Data, 8192), 0);
    U8 Stored[8192];
    assert_int_equal(DiskBackendRead(NVMeModelBackend(Model, 2), 3 * 4096, Stored, 8192), KSTATUS_SUCCESS);
    assert_memory_equal(Stored, Data, 8192);
    // NSID 3: 512 + 8 separate metadata through MPTR.
    Fill(Meta, 32, 4);
    NM_SQE Command = TinyMakeCommand(&Driver, NM_IO_WRITE, 3);
    assert_true(TinyBuildPrps(&Driver, &Command, Data, 2048));
    Command.Mptr = PlatformTranslate(Meta);
    Command.Cdw12 = 3;
    assert_int_equal(TinyCommand(&Driver, 1, &Command, NULL), 0);
    memset(Meta, 0, 32);
    Command = TinyMakeCommand(&Driver, NM_IO_READ, 3);
    assert_true(TinyBuildPrps(&Driver, &Command, Data, 2048));
    Command.Mptr = PlatformTranslate(Meta);
    Command.Cdw12 = 3;
    assert_int_equal(TinyCommand(&Driver, 1, &Command, NULL), 0);
    U8 ExpectedMeta[32];
    Fill(ExpectedMeta, 32, 4);
    assert_memory_equal(Meta, ExpectedMeta, 32);
    // NSID 4: 4096 + 64 extended: a block moves 4160 bytes.
    Fill(Data, 2 * 4160, 12);
    assert_int_equal(TinyReadWrite(&Driver, 1, TRUE, 4, 0, 2, Data, 2 * 4160), 0);
    assert_int_equal(DiskBackendRead(NVMeModelBackend(Model, 4), 4096, Stored, 4096), KSTATUS_SUCCESS);
    assert_memory_equal(Stored, Data + 4160, 4096);
    memset(Data, 0, 3 * 4096);
    assert_int_equal(TinyReadWrite(&Driver, 1, FALSE, 4, 0, 2, Data, 2 * 4160), 0);
    U8* Expected = (U8*)malloc(2 * 4160);
    Fill(Expected, 2 * 4160, 12);
    assert_memory_equal(Data, Expected, 2 * 4160);
    free(Expected);
    MemoryBusForget(HostPlatformMemoryBus(), Data, 3 * 4096);
    MemoryBusForget(HostPlatformMemoryBus(), Meta, 4096);
    free(Data);
    free(Meta);
    Finish();
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(test_registers_after_reset),
        cmocka_unit_test(test_enable_waits_ready_delay),
        cmocka_unit_test(test_shutdown_completes_after_delay),
        cmocka_unit_test(test_64bit_registers_as_halves_and_whole),
        cmocka_unit_test(test_identify_controller),
        cmocka_unit_test(test_identify_namespace_and_lists),
        cmocka_unit_test(test_identify_default_namespace_formats),
        cmocka_unit_test(test_read_write_roundtrip_with_prp_list),
        cmocka_unit_test(test_prp_list_chained_across_pages),
        cmocka_unit_test(test_sgl_segments),
        cmocka_unit_test(test_flush_write_zeroes_and_deallocate),
        cmocka_unit_test(test_features),
        cmocka_unit_test(test_features_grant_requested),
        cmocka_unit_test(test_log_pages),
        cmocka_unit_test(test_async_events),
        cmocka_unit_test(test_abort_default_not_aborted),
        cmocka_unit_test(test_full_cq_parks_completions),
        cmocka_unit_test(test_step_mode),
        cmocka_unit_test(test_thread_mode),
        cmocka_unit_test(test_doorbell_strides),
        cmocka_unit_test(test_namespace_formats),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
