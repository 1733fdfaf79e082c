/*
 * Test-ModelWriteCache.c - the NVMe model's volatile write cache and power cuts (NVMeModel-WriteCache.c),
 * driven by the hand-written TinyDriver: VWC in Identify, writes held in the cache and seen by reads, Flush,
 * FUA, shutdown and turning the cache off making them durable, a cut losing or keeping unflushed blocks
 * (torn at block granularity), a scheduled cut, the controller doing nothing while off, destaging when full,
 * deallocation dropping cached blocks, and the image save/load used by the power-cut test.
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
#include "NVMeModelWriteCache.h"
#include "TinyDriver.h"

static NVME_MODEL* Model;
static TINY_DRIVER Driver;
static U8* Raw;
static U8* Buffer;  // 64 blocks of 512 bytes, page aligned

#define BLOCKS 64

static void Start(U32 CapacityBlocks) {
    NVME_MODEL_CONFIG Config;
    NVMeModelDefaultConfig(&Config);
    Config.Vwc = 0;  // turning the cache on must advertise it
    ModelTestBegin();
    Model = ModelTestCreate(&Config);
    NVMeModelEnableWriteCache(Model, CapacityBlocks, 7);
    TinyInit(&Driver, Model);
    assert_true(TinyEnable(&Driver, 32));
    assert_int_equal(TinySetQueueCount(&Driver, 1), 0);
    assert_int_equal(TinyCreateQueuePair(&Driver, 1, 64, 0, FALSE), 0);
    Raw = (U8*)aligned_alloc(4096, BLOCKS * 512);
    Buffer = Raw;
}

static void Finish(void) {
    MemoryBusForget(HostPlatformMemoryBus(), Raw, BLOCKS * 512);
    free(Raw);
    TinyRelease(&Driver);
    ModelTestEnd(Model);
    Model = NULL;
}

static void Fill(U8* Data, U64 Length, U32 Seed) {
    for (U64 I = 0; I < Length; I++) Data[I] = (U8)(Seed * 131 + I * 7 + (I >> 9) + 1);
}

/** Writes Count blocks of pattern Seed at Lba (FUA when asked). */
static void WriteBlocks(U64 Lba, U32 Count, U32 Seed, BOOL Fua) {
    Fill(Buffer, Count * 512ULL, Seed);
    NM_SQE Command = TinyMakeCommand(&Driver, NM_IO_WRITE, 1);
    Command.Cdw10 = (U32)Lba;
    Command.Cdw11 = (U32)(Lba >> 32);
    Command.Cdw12 = (Count - 1) | (Fua ? (1U << 30) : 0);
    assert_true(TinyBuildPrps(&Driver, &Command, Buffer, Count * 512ULL));
    NM_CQE Completion;
    assert_int_equal(TinyCommand(&Driver, 1, &Command, &Completion), 0);
}

static void Flush(void) {
    NM_SQE Command = TinyMakeCommand(&Driver, NM_IO_FLUSH, 1);
    NM_CQE Completion;
    assert_int_equal(TinyCommand(&Driver, 1, &Command, &Completion), 0);
}

/** TRUE when the medium (not the cache) holds pattern Seed in block Index of a Count-block write at Lba. */
static BOOL OnMedium(U64 Lba, U32 Index, U32 Seed) {
    U8 Expected[BLOCKS * 512], Stored[512];
    Fill(Expected, (Index + 1) * 512ULL, Seed);
    assert_int_equal(DiskBackendRead(NVMeModelBackend(Model, 1), (Lba + Index) * 512, Stored, 512), KSTATUS_SUCCESS);
    return memcmp(Stored, Expected + Index * 512, 512) == 0;
}

static BOOL ReadsBack(U64 Lba, U32 Count, U32 Seed) {
    U8 Expected[BLOCKS * 512];
    Fill(Expected, Count * 512ULL, Seed);
    memset(Buffer, 0, Count * 512ULL);
    assert_int_equal(TinyReadWrite(&Driver, 1, FALSE, 1, Lba, Count, Buffer, Count * 512ULL), 0);
    return memcmp(Buffer, Expected, Count * 512ULL) == 0;
}

/************************************************************************/

static void test_identify_advertises_vwc(void** State) {
    (void)State;
    Start(0);
    U8* Data = (U8*)aligned_alloc(4096, 4096);
    assert_int_equal(TinyIdentify(&Driver, 0x01, 0, Data), 0);
    assert_int_equal(Data[525] & 1, 1);
    NM_SQE Command = TinyMakeCommand(&Driver, NM_ADMIN_GET_FEATURES, 0);
    Command.Cdw10 = NM_FEATURE_VOLATILE_WRITE_CACHE;
    NM_CQE Completion;
    assert_int_equal(TinyCommand(&Driver, 0, &Command, &Completion), 0);
    assert_int_equal(Completion.Dw0 & 1, 1);
    MemoryBusForget(HostPlatformMemoryBus(), Data, 4096);
    free(Data);
    Finish();
}

static void test_write_stays_in_cache_until_flush(void** State) {
    (void)State;
    Start(0);
    WriteBlocks(100, 8, 1, FALSE);
    assert_false(OnMedium(100, 0, 1));
    assert_true(ReadsBack(100, 8, 1));  // reads see the cache
    NVME_MODEL_WRITE_CACHE_STATS Stats;
    NVMeModelGetWriteCacheStats(Model, &Stats);
    assert_int_equal(Stats.CachedBlocks, 8);
    Flush();
    for (U32 I = 0; I < 8; I++) assert_true(OnMedium(100, I, 1));
    NVMeModelGetWriteCacheStats(Model, &Stats);
    assert_int_equal(Stats.CachedBlocks, 0);
    assert_int_equal(Stats.BlocksCommitted, 8);
    assert_int_equal(Stats.Flushes, 1);
    // A flushed write survives a cut that keeps nothing.
    NVMeModelPowerCut(Model, 0, 1);
    assert_true(ReadsBack(100, 8, 1));
    Finish();
}

static void test_fua_writes_through(void** State) {
    (void)State;
    Start(0);
    WriteBlocks(10, 4, 2, FALSE);
    WriteBlocks(10, 4, 3, TRUE);  // the FUA write replaces the cached blocks: no older copy may land later
    for (U32 I = 0; I < 4; I++) assert_true(OnMedium(10, I, 3));
    NVMeModelPowerCut(Model, 1000, 2);
    for (U32 I = 0; I < 4; I++) assert_true(OnMedium(10, I, 3));
    Finish();
}

static void test_cut_loses_unflushed_writes(void** State) {
    (void)State;
    Start(0);
    WriteBlocks(0, 16, 4, FALSE);
    Flush();
    WriteBlocks(0, 16, 5, FALSE);  // unflushed over flushed
    NVMeModelPowerCut(Model, 0, 3);
    assert_true(NVMeModelPoweredOff(Model));
    assert_true(ReadsBack(0, 16, 4));  // the flushed version, whole
    NVME_MODEL_WRITE_CACHE_STATS Stats;
    NVMeModelGetWriteCacheStats(Model, &Stats);
    assert_int_equal(Stats.BlocksLostAtCut, 16);
    assert_int_equal(Stats.BlocksKeptAtCut, 0);
    Finish();
}

static void test_cut_tears_a_write_at_block_granularity(void** State) {
    (void)State;
    Start(0);
    WriteBlocks(200, 64, 6, FALSE);
    NVMeModelPowerCut(Model, 500, 11);
    U32 Kept = 0;
    for (U32 I = 0; I < 64; I++) {
        U8 Stored[512], Zero[512] = {0};
        assert_int_equal(DiskBackendRead(NVMeModelBackend(Model, 1), (200 + I) * 512ULL, Stored, 512),
                         KSTATUS_SUCCESS);
        // Each block is whole: the new data or the old (zeroes), never a mix.
        BOOL New = OnMedium(200, I, 6);
        assert_true(New || memcmp(Stored, Zero, 512) == 0);
        Kept += New;
    }
    assert_true(Kept > 0 && Kept < 64);  // torn: some blocks of the one command landed, others not
    NVME_MODEL_WRITE_CACHE_STATS Stats;
    NVMeModelGetWriteCacheStats(Model, &Stats);
    assert_int_equal(Stats.BlocksKeptAtCut, Kept);
    assert_int_equal(Stats.BlocksLostAtCut, 64 - Kept);
    Finish();
}

static void test_scheduled_cut_and_power_off(void** State) {
    (void)State;
    Start(0);
    NVMeModelSchedulePowerCut(Model, 3, 0, 5);
    WriteBlocks(0, 1, 7, FALSE);
    Flush();                        // the 2nd I/O command: block 0 durable
    assert_false(NVMeModelPoweredOff(Model));
    WriteBlocks(1, 1, 8, FALSE);    // the 3rd: power goes before it runs
    assert_true(NVMeModelPoweredOff(Model));
    Flush();                        // completes, changes nothing
    WriteBlocks(2, 1, 9, TRUE);     // even FUA
    assert_true(OnMedium(0, 0, 7));
    assert_false(OnMedium(1, 0, 8));
    assert_false(OnMedium(2, 0, 9));
    NVME_MODEL_WRITE_CACHE_STATS Stats;
    NVMeModelGetWriteCacheStats(Model, &Stats);
    assert_int_equal(Stats.CommandsIgnored, 3);
    NVMeModelPowerOn(Model);
    WriteBlocks(2, 1, 9, TRUE);
    assert_true(OnMedium(2, 0, 9));
    Finish();
}

static void test_shutdown_and_cache_off_commit(void** State) {
    (void)State;
    Start(0);
    WriteBlocks(50, 2, 10, FALSE);
    NM_SQE Command = TinyMakeCommand(&Driver, NM_ADMIN_SET_FEATURES, 0);
    Command.Cdw10 = NM_FEATURE_VOLATILE_WRITE_CACHE;
    Command.Cdw11 = 0;
    NM_CQE Completion;
    assert_int_equal(TinyCommand(&Driver, 0, &Command, &Completion), 0);
    assert_true(OnMedium(50, 0, 10) && OnMedium(50, 1, 10));
    WriteBlocks(60, 1, 11, FALSE);  // the cache is off: through
    assert_true(OnMedium(60, 0, 11));
    Command = TinyMakeCommand(&Driver, NM_ADMIN_SET_FEATURES, 0);
    Command.Cdw10 = NM_FEATURE_VOLATILE_WRITE_CACHE;
    Command.Cdw11 = 1;
    assert_int_equal(TinyCommand(&Driver, 0, &Command, &Completion), 0);
    WriteBlocks(70, 1, 12, FALSE);
    assert_false(OnMedium(70, 0, 12));
    assert_int_equal(TinyDeleteQueuePair(&Driver, 1), 0);
    assert_true(TinyShutdown(&Driver, 1000));
    assert_true(OnMedium(70, 0, 12));
    Finish();
}

static void test_full_cache_destages_and_deallocate_drops(void** State) {
    (void)State;
    Start(8);
    WriteBlocks(0, 16, 13, FALSE);  // 16 blocks through an 8-block cache: 8 destaged
    NVME_MODEL_WRITE_CACHE_STATS Stats;
    NVMeModelGetWriteCacheStats(Model, &Stats);
    assert_int_equal(Stats.CachedBlocks, 8);
    assert_int_equal(Stats.BlocksDestaged, 8);
    U32 Landed = 0;
    for (U32 I = 0; I < 16; I++) Landed += OnMedium(0, I, 13);
    assert_int_equal(Landed, 8);
    assert_true(ReadsBack(0, 16, 13));
    // Deallocate everything: cached blocks are dropped too, so nothing old comes back at a later flush.
    U8* Range = (U8*)aligned_alloc(4096, 4096);
    memset(Range, 0, 4096);
    U32 Count = 16;
    memcpy(Range + 4, &Count, 4);
    NM_SQE Command = TinyMakeCommand(&Driver, NM_IO_DSM, 1);
    Command.Cdw10 = 0;
    Command.Cdw11 = 4;
    assert_true(TinyBuildPrps(&Driver, &Command, Range, 16));
    NM_CQE Completion;
    assert_int_equal(TinyCommand(&Driver, 1, &Command, &Completion), 0);
    Flush();
    for (U32 I = 0; I < 16; I++) assert_false(OnMedium(0, I, 13));
    NVMeModelGetWriteCacheStats(Model, &Stats);
    assert_int_equal(Stats.CachedBlocks, 0);
    MemoryBusForget(HostPlatformMemoryBus(), Range, 4096);
    free(Range);
    Finish();
}

static void test_save_and_load_image(void** State) {
    (void)State;
    Start(0);
    WriteBlocks(8, 8, 14, FALSE);
    Flush();
    WriteBlocks(8, 8, 15, FALSE);  // cached only: not in the saved image
    char Path[] = "/tmp/cairn-wcache-XXXXXX";
    int Descriptor = mkstemp(Path);
    assert_true(Descriptor >= 0);
    close(Descriptor);
    assert_int_equal(NVMeModelSaveImage(Model, 1, 4096, 4096, Path), KSTATUS_SUCCESS);
    WriteBlocks(8, 8, 16, FALSE);
    Flush();
    assert_int_equal(NVMeModelLoadImage(Model, 1, 4096, 4096, Path), KSTATUS_SUCCESS);
    assert_true(ReadsBack(8, 8, 14));
    unlink(Path);
    Finish();
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(test_identify_advertises_vwc),
        cmocka_unit_test(test_write_stays_in_cache_until_flush),
        cmocka_unit_test(test_fua_writes_through),
        cmocka_unit_test(test_cut_loses_unflushed_writes),
        cmocka_unit_test(test_cut_tears_a_write_at_block_granularity),
        cmocka_unit_test(test_scheduled_cut_and_power_off),
        cmocka_unit_test(test_shutdown_and_cache_off_commit),
        cmocka_unit_test(test_full_cache_destages_and_deallocate_drops),
        cmocka_unit_test(test_save_and_load_image),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
