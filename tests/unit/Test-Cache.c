/*
 * Test-Cache.c - block/Cache.c behind block/Disk.c, with block/Partition.c on
 * top, against the host kernel's memory disk (tests/host/HostDisk.h), which
 * counts every request.
 *
 * Checks hits and misses, LRU order (block level and through DiskRead), the
 * memory budget, read-ahead for sequential readers only, write-back only on
 * sync (coalesced into runs), partial-sector writes without a read, large
 * reads and writes that bypass the cache (dirty data in range written back
 * first, still returned when that fails), failed write-back keeping the
 * data dirty, failed reads caching nothing, read-only enforced above and
 * below the cache (also through a partition), trim, splitting at the
 * driver's MaxTransferSectors, the shutdown hook, unregistration, 4096-byte
 * sectors, a partial last block, heap exhaustion, coherence between a
 * partition and its raw disk, and several threads at once.
 *
 * The pin interface: pin counts, a block pinned twice is one block, dirty
 * sectors written back alone, a new block without a read, pinned blocks
 * never evicted (and what happens when every block is pinned), forgetting
 * (also while pinned), a disk unregistered under a pin, 4096-byte sectors
 * with a 1 KiB change inside one, and metadata outliving a stream of data.
 * block/BlockDevice.c on top: a file system's 1 KiB and 4 KiB blocks inside
 * the disk's 4 KiB cache blocks through an aligned partition (one copy for
 * every view), access modes, and the private cache of a partition off the
 * cache's boundaries and of a disk without a cache (4096-byte sectors: a
 * 1 KiB block written back by read-modify-write).
 */
// SOURCES: $(BLOCK_SOURCES)

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "HostDisk.h"
#include "HostKernel.h"
#include "core/Log.h"
#include "core/Sync.h"
#include "block/Disk.h"
#include "block/Partition.h"
#include "memory/Heap.h"
#include "system/Shutdown.h"
#include "block/BlockDevice.h"
#include "block/Cache.h"

/************************************************************************/
// The host kernel (tests/host), under the names these tests use

#define HeapLive ((long)HostHeapLiveBytes())
#define HeapFailAfter HostHeapFailAfter
#define Depth HostMutexDepth()

static SHUTDOWN_HOOK Hook;
static U32 HookRegistrations;
BOOL ShutdownRegisterHook(LPCSTR Name, SHUTDOWN_HOOK Function, LPVOID Context) {
    (void)Name;
    (void)Context;
    Hook = Function;
    HookRegistrations++;
    return TRUE;
}

/************************************************************************/
// The disk: the host kernel's memory disk, which counts every request and checks that each read or write
// comes with the cache lock held (ExpectLocked)

typedef HOST_DISK FAKE;

/** Sector S holds bytes (S * 7 + I) & 0xFF, so any mix-up shows. */
static U8 Pattern(U64 Sector, U32 Byte) { return (U8)(Sector * 7 + Byte); }

static FAKE* FakeNew(const char* Name, U32 SectorSize, U64 Sectors, U64 Budget) {
    FAKE* Fake = HostDiskCreate(Name, SectorSize, Sectors);
    for (U64 S = 0; S < Sectors; S++) {
        for (U32 I = 0; I < SectorSize; I++) Fake->Data[S * SectorSize + I] = Pattern(S, I);
    }
    Fake->SupportsTrim = TRUE;
    Fake->VolatileCache = TRUE;
    Fake->ExpectLocked = TRUE;
    DiskSetCacheBudget(Budget);
    return Fake;
}

static void FakeRegister(FAKE* Fake) {
    assert_int_equal(DiskRegister(&Fake->Disk), KSTATUS_SUCCESS);
    assert_non_null(Fake->Disk.Cache);
}

static void ResetCounters(FAKE* Fake) {
    Fake->Reads = Fake->Writes = Fake->Flushes = Fake->Trims = 0;
    Fake->SectorsRead = Fake->SectorsWritten = 0;
}

/** Unregisters the disk and its partitions and frees everything (the kernel never frees them). */
static void FakeFree(FAKE* Fake) {
    DISK* Children[16];
    U32 Count = 0;
    for (DISK* Disk = GetDiskList(); Disk; Disk = Disk->Next) {
        if (Disk->Parent == &Fake->Disk && Count < 16) Children[Count++] = Disk;
    }
    DiskUnregister(&Fake->Disk);
    for (U32 I = 0; I < Count; I++) KernelHeapFree(Children[I]);  // the DISK is the start of its PARTITION
    if (Fake->Disk.Cache) CacheDestroy(Fake->Disk.Cache);
    assert_int_equal(Depth, 0);
    HostDiskDestroy(Fake);
}

static CACHE_STATS Stats(FAKE* Fake) {
    CACHE_STATS S;
    CacheGetStats(Fake->Disk.Cache, &S);
    return S;
}

static void ExpectPattern(const U8* Buffer, U64 Sector, U32 Count, U32 SectorSize) {
    for (U32 S = 0; S < Count; S++) {
        for (U32 I = 0; I < SectorSize; I++) {
            if (Buffer[S * SectorSize + I] != Pattern(Sector + S, I)) {
                fail_msg("sector %llu byte %u: %02x, expected %02x", (unsigned long long)(Sector + S), I,
                         Buffer[S * SectorSize + I], Pattern(Sector + S, I));
            }
        }
    }
}

static U8 Buffer[2 * 1024 * 1024];

/************************************************************************/
// Tests

static void TestHitsAndMisses(void** State) {
    (void)State;
    FAKE* Fake = FakeNew("hits0", 512, 4096, 8 * N_1MB);
    FakeRegister(Fake);
    CACHE_STATS S = Stats(Fake);
    assert_int_equal(S.BlockSize, 4096);
    assert_int_equal(S.Capacity, 2048);
    assert_int_equal(S.BudgetBytes, 8 * N_1MB);
    assert_int_equal(S.BypassBytes, 256 * 1024);

    assert_int_equal(DiskRead(&Fake->Disk, 3, 2, Buffer), KSTATUS_SUCCESS);
    ExpectPattern(Buffer, 3, 2, 512);
    assert_int_equal(Fake->Reads, 1);
    assert_int_equal(Fake->LastSector, 0);  // the whole block was read
    assert_int_equal(Fake->LastCount, 8);
    assert_int_equal(DiskRead(&Fake->Disk, 0, 8, Buffer), KSTATUS_SUCCESS);
    ExpectPattern(Buffer, 0, 8, 512);
    assert_int_equal(Fake->Reads, 1);  // a hit
    assert_int_equal(DiskRead(&Fake->Disk, 100, 1, Buffer), KSTATUS_SUCCESS);  // block 12: a miss
    ExpectPattern(Buffer, 100, 1, 512);
    assert_int_equal(Fake->Reads, 2);
    S = Stats(Fake);
    assert_int_equal(S.Hits, 1);
    assert_int_equal(S.Misses, 2);
    assert_int_equal(S.Blocks, 2);
    assert_int_equal(S.ReadAheadBlocks, 0);
    assert_int_equal(Fake->Disk.ReadCount, 3);
    assert_int_equal(Fake->Disk.BytesRead, 11 * 512);

    // A request across blocks with a hit in the middle: misses on each side, read separately.
    ResetCounters(Fake);
    assert_int_equal(DiskRead(&Fake->Disk, 92, 20, Buffer), KSTATUS_SUCCESS);  // blocks 11, 12 (cached), 13
    ExpectPattern(Buffer, 92, 20, 512);
    assert_int_equal(Fake->Reads, 2);
    assert_int_equal(Stats(Fake).Hits, 2);
    FakeFree(Fake);
}

static void TestLruOrder(void** State) {
    (void)State;
    FAKE* Fake = FakeNew("lru0", 512, 4096, 8 * 4096);  // 8 blocks
    FakeRegister(Fake);
    // Backwards, so no read-ahead: blocks 7 .. 0, then touch 7.
    for (int B = 7; B >= 0; B--) assert_int_equal(DiskRead(&Fake->Disk, (U64)B * 8, 1, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(DiskRead(&Fake->Disk, 7 * 8, 1, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(Fake->Reads, 8);
    assert_int_equal(Stats(Fake).Blocks, 8);
    // Block 20 evicts the least recently used: 6.
    assert_int_equal(DiskRead(&Fake->Disk, 20 * 8, 1, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(Stats(Fake).Evictions, 1);
    CACHE* Cache = Fake->Disk.Cache;
    MutexLock(&Cache->Lock);
    assert_null(CacheFind(Cache, 6));
    assert_non_null(CacheFind(Cache, 7));
    assert_non_null(CacheFind(Cache, 5));
    assert_ptr_equal(Cache->MostRecent->Block, 5);  // CacheFind moved it
    assert_int_equal(Cache->LeastRecent->Block, 4);
    // CacheAdd at the budget takes the least recently used block (4).
    CACHE_BLOCK* Added = CacheAdd(Cache, 100);
    assert_non_null(Added);
    assert_int_equal(Added->ValidMask, 0);
    assert_null(CacheFind(Cache, 4));
    assert_int_equal(Cache->BlockCount, 8);
    MutexUnlock(&Cache->Lock);
    U32 Before = Fake->Reads;
    assert_int_equal(DiskRead(&Fake->Disk, 7 * 8, 8, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(Fake->Reads, Before);
    ExpectPattern(Buffer, 56, 8, 512);
    assert_int_equal(DiskRead(&Fake->Disk, 4 * 8, 1, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(Fake->Reads, Before + 1);
    // Block 100 was added empty: reading it fills it.
    assert_int_equal(DiskRead(&Fake->Disk, 800, 8, Buffer), KSTATUS_SUCCESS);
    ExpectPattern(Buffer, 800, 8, 512);
    assert_int_equal(Fake->Reads, Before + 2);
    FakeFree(Fake);
}

static void TestBudget(void** State) {
    (void)State;
    long HeapBefore = HeapLive;
    FAKE* Fake = FakeNew("budget0", 512, 65536, 16 * 4096);
    FakeRegister(Fake);
    long Tables = HeapLive - HeapBefore;  // buckets, scratch, staging
    srand(99);
    long Peak = 0;
    for (int I = 0; I < 2000; I++) {
        U64 Sector = (U64)(rand() % 65000);
        U32 Count = 1 + (U32)(rand() % 40);
        if (rand() % 3 == 0) {
            memset(Buffer, I, Count * 512);
            assert_int_equal(DiskWrite(&Fake->Disk, Sector, Count, Buffer), KSTATUS_SUCCESS);
        } else {
            assert_int_equal(DiskRead(&Fake->Disk, Sector, Count, Buffer), KSTATUS_SUCCESS);
        }
        CACHE_STATS S = Stats(Fake);
        assert_true(S.Blocks <= 16);
        assert_true(S.DirtyBlocks <= S.Blocks);
        if (HeapLive - HeapBefore - Tables > Peak) Peak = HeapLive - HeapBefore - Tables;
    }
    // Block data plus headers stay within the budget plus the headers' 2 %.
    assert_true(Peak <= 16 * (4096 + 128));
    assert_true(Stats(Fake).Evictions > 100);
    assert_int_equal(DiskFlush(&Fake->Disk), KSTATUS_SUCCESS);
    assert_int_equal(Stats(Fake).DirtyBlocks, 0);
    FakeFree(Fake);
    assert_int_equal(HeapLive, HeapBefore);  // everything given back (CacheDestroy in FakeFree)
}

static void TestReadAhead(void** State) {
    (void)State;
    FAKE* Fake = FakeNew("ahead0", 512, 100000, 8 * N_1MB);
    FakeRegister(Fake);
    assert_int_equal(Stats(Fake).ReadAheadWindow, 32);
    assert_int_equal(DiskRead(&Fake->Disk, 0, 8, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(Fake->Reads, 1);
    assert_int_equal(Fake->LastCount, 8);
    // The second read continues the first: this block and 32 more in one request.
    assert_int_equal(DiskRead(&Fake->Disk, 8, 8, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(Fake->Reads, 2);
    assert_int_equal(Fake->LastSector, 8);
    assert_int_equal(Fake->LastCount, 33 * 8);
    assert_int_equal(Stats(Fake).ReadAheadBlocks, 32);
    for (U64 B = 2; B <= 33; B++) {
        assert_int_equal(DiskRead(&Fake->Disk, B * 8, 8, Buffer), KSTATUS_SUCCESS);
        ExpectPattern(Buffer, B * 8, 8, 512);
    }
    assert_int_equal(Fake->Reads, 2);
    assert_int_equal(Stats(Fake).Hits, 32);
    assert_int_equal(DiskRead(&Fake->Disk, 34 * 8, 8, Buffer), KSTATUS_SUCCESS);  // next window
    assert_int_equal(Fake->Reads, 3);
    assert_int_equal(Fake->LastCount, 33 * 8);
    assert_int_equal(Stats(Fake).ReadAheadBlocks, 64);

    // Random reads get no read-ahead.
    ResetCounters(Fake);
    U64 Before = Stats(Fake).ReadAheadBlocks;
    for (int I = 0; I < 20; I++) {
        assert_int_equal(DiskRead(&Fake->Disk, 20000 + (U64)I * 800, 1, Buffer), KSTATUS_SUCCESS);
        assert_int_equal(Fake->LastCount, 8);
    }
    assert_int_equal(Stats(Fake).ReadAheadBlocks, Before);
    // Read-ahead stops at the end of the disk (100000 sectors = 12500 blocks).
    assert_int_equal(DiskRead(&Fake->Disk, 99984, 8, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(DiskRead(&Fake->Disk, 99992, 8, Buffer), KSTATUS_SUCCESS);
    ExpectPattern(Buffer, 99992, 8, 512);
    assert_int_equal(Fake->LastSector + Fake->LastCount, 100000);
    FakeFree(Fake);
}

static void TestWriteBackOnSync(void** State) {
    (void)State;
    FAKE* Fake = FakeNew("wb0", 512, 4096, 8 * N_1MB);
    FakeRegister(Fake);
    U32 HookBefore = HookRegistrations;
    // Blocks 10, 11, 12 whole, one sector of block 20, then block 40.
    memset(Buffer, 0xA1, 24 * 512);
    assert_int_equal(DiskWrite(&Fake->Disk, 80, 24, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(HookRegistrations, HookBefore + 1);  // the first write after a new disk
    memset(Buffer, 0xB2, 512);
    assert_int_equal(DiskWrite(&Fake->Disk, 163, 1, Buffer), KSTATUS_SUCCESS);
    memset(Buffer, 0xC3, 8 * 512);
    assert_int_equal(DiskWrite(&Fake->Disk, 320, 8, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(HookRegistrations, HookBefore + 1);
    assert_int_equal(Fake->Writes, 0);
    assert_int_equal(Fake->Reads, 0);  // partial writes need no read
    assert_int_equal(Fake->Data[80 * 512], Pattern(80, 0));  // the disk is untouched
    assert_int_equal(Stats(Fake).DirtyBlocks, 5);
    // Reads see the new data; the block with one new sector is filled around it.
    assert_int_equal(DiskRead(&Fake->Disk, 160, 8, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(Fake->Reads, 1);
    ExpectPattern(Buffer, 160, 3, 512);
    assert_int_equal(Buffer[3 * 512], 0xB2);
    assert_int_equal(Buffer[4 * 512 - 1], 0xB2);
    ExpectPattern(Buffer + 4 * 512, 164, 4, 512);
    assert_int_equal(DiskRead(&Fake->Disk, 88, 1, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(Buffer[0], 0xA1);
    assert_int_equal(Fake->Writes, 0);

    U32 Written = 0;
    assert_int_equal(DiskSync(&Fake->Disk, &Written), KSTATUS_SUCCESS);
    assert_int_equal(Written, 5);
    assert_int_equal(Fake->Writes, 3);  // 80-103 in one run, sector 163 alone, 320-327
    assert_int_equal(Fake->SectorsWritten, 24 + 1 + 8);
    assert_int_equal(Fake->Flushes, 1);
    assert_int_equal(Fake->Data[80 * 512], 0xA1);
    assert_int_equal(Fake->Data[103 * 512 + 511], 0xA1);
    assert_int_equal(Fake->Data[163 * 512], 0xB2);
    assert_int_equal(Fake->Data[162 * 512], Pattern(162, 0));
    assert_int_equal(Fake->Data[320 * 512], 0xC3);
    CACHE_STATS S = Stats(Fake);
    assert_int_equal(S.DirtyBlocks, 0);
    assert_int_equal(S.Writebacks, 5);
    // Nothing left: a second sync writes nothing but still flushes.
    assert_int_equal(DiskFlush(&Fake->Disk), KSTATUS_SUCCESS);
    assert_int_equal(Fake->Writes, 3);
    assert_int_equal(Fake->Flushes, 2);
    FakeFree(Fake);
}

static void TestBypassReadWithDirtyData(void** State) {
    (void)State;
    FAKE* Fake = FakeNew("bypass0", 512, 8192, 8 * N_1MB);
    FakeRegister(Fake);
    memset(Buffer, 0x5A, 512);
    assert_int_equal(DiskWrite(&Fake->Disk, 1000, 1, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(Fake->Writes, 0);
    // 512 KiB from sector 512: over the threshold, one device read, after the write-back.
    assert_int_equal(DiskRead(&Fake->Disk, 512, 1024, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(Fake->Writes, 1);
    assert_int_equal(Fake->Reads, 1);
    assert_int_equal(Fake->LastCount, 1024);
    assert_int_equal(Buffer[(1000 - 512) * 512], 0x5A);
    ExpectPattern(Buffer, 512, 488, 512);
    ExpectPattern(Buffer + 489 * 512, 1001, 535, 512);
    CACHE_STATS S = Stats(Fake);
    assert_int_equal(S.BypassReads, 1);
    assert_int_equal(S.DirtyBlocks, 0);
    assert_int_equal(S.Blocks, 1);  // the bypass cached nothing new

    // Write-back failing: the read still returns the newest data, which stays dirty.
    memset(Buffer, 0x6B, 512);
    assert_int_equal(DiskWrite(&Fake->Disk, 2000, 1, Buffer), KSTATUS_SUCCESS);
    Fake->FailWrites = TRUE;
    Fake->FailFirst = 0;
    Fake->FailLast = 8191;
    assert_int_equal(DiskRead(&Fake->Disk, 1536, 1024, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(Buffer[(2000 - 1536) * 512 + 7], 0x6B);
    assert_int_equal(Fake->Data[2000 * 512], Pattern(2000, 0));
    assert_int_equal(Stats(Fake).DirtyBlocks, 1);
    Fake->FailWrites = FALSE;
    assert_int_equal(DiskFlush(&Fake->Disk), KSTATUS_SUCCESS);
    assert_int_equal(Fake->Data[2000 * 512], 0x6B);
    FakeFree(Fake);
}

static void TestBypassWrite(void** State) {
    (void)State;
    FAKE* Fake = FakeNew("bigw0", 512, 8192, 8 * N_1MB);
    FakeRegister(Fake);
    assert_int_equal(DiskRead(&Fake->Disk, 0, 8, Buffer), KSTATUS_SUCCESS);     // block 0 cached, clean
    memset(Buffer, 0x11, 512);
    assert_int_equal(DiskWrite(&Fake->Disk, 9, 1, Buffer), KSTATUS_SUCCESS);    // block 1 dirty (one sector)
    memset(Buffer, 0x22, 1024 * 512);
    assert_int_equal(DiskWrite(&Fake->Disk, 4, 1024, Buffer), KSTATUS_SUCCESS);  // straight through
    assert_int_equal(Fake->Writes, 1);
    assert_int_equal(Fake->LastCount, 1024);
    assert_int_equal(Stats(Fake).BypassWrites, 1);
    assert_int_equal(Stats(Fake).DirtyBlocks, 0);  // the big write covered the dirty sector
    U32 Reads = Fake->Reads;
    assert_int_equal(DiskRead(&Fake->Disk, 0, 8, Buffer), KSTATUS_SUCCESS);     // cached copy updated
    assert_int_equal(Fake->Reads, Reads);
    ExpectPattern(Buffer, 0, 4, 512);
    assert_int_equal(Buffer[4 * 512], 0x22);
    assert_int_equal(DiskFlush(&Fake->Disk), KSTATUS_SUCCESS);
    assert_int_equal(Fake->Writes, 1);  // nothing dirty was left to write
    assert_int_equal(Fake->Data[9 * 512], 0x22);

    // A failed big write drops the cached copies of its sectors.
    Fake->FailWrites = TRUE;
    Fake->FailFirst = Fake->FailLast = 500;
    memset(Buffer, 0x33, 1024 * 512);
    assert_int_equal(DiskWrite(&Fake->Disk, 0, 1024, Buffer), KSTATUS_IO_ERROR);
    Fake->FailWrites = FALSE;
    assert_int_equal(Stats(Fake).Blocks, 0);
    FakeFree(Fake);
}

static void TestFailedWriteBack(void** State) {
    (void)State;
    FAKE* Fake = FakeNew("fail0", 512, 4096, 8 * N_1MB);
    FakeRegister(Fake);
    memset(Buffer, 0x77, 16 * 512);
    assert_int_equal(DiskWrite(&Fake->Disk, 0, 16, Buffer), KSTATUS_SUCCESS);
    memset(Buffer, 0x78, 8 * 512);
    assert_int_equal(DiskWrite(&Fake->Disk, 800, 8, Buffer), KSTATUS_SUCCESS);
    Fake->FailWrites = TRUE;
    Fake->FailFirst = 0;
    Fake->FailLast = 15;
    U32 Written = 99;
    assert_int_equal(DiskSync(&Fake->Disk, &Written), KSTATUS_IO_ERROR);
    assert_int_equal(Written, 1);  // the run that could be written was
    CACHE_STATS S = Stats(Fake);
    assert_int_equal(S.DirtyBlocks, 2);
    assert_int_equal(S.WritebackErrors, 1);
    assert_int_equal(Fake->Data[0], Pattern(0, 0));
    assert_int_equal(Fake->Data[800 * 512], 0x78);
    assert_int_equal(DiskFlush(&Fake->Disk), KSTATUS_IO_ERROR);
    assert_int_equal(DiskSyncAll(), KSTATUS_IO_ERROR);
    // Reads still see the data that could not be written.
    assert_int_equal(DiskRead(&Fake->Disk, 5, 1, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(Buffer[0], 0x77);
    Fake->FailWrites = FALSE;
    assert_int_equal(DiskSync(&Fake->Disk, &Written), KSTATUS_SUCCESS);
    assert_int_equal(Written, 2);
    assert_int_equal(Fake->Data[15 * 512], 0x77);
    assert_int_equal(Stats(Fake).DirtyBlocks, 0);
    FakeFree(Fake);
}

static void TestFailedRead(void** State) {
    (void)State;
    FAKE* Fake = FakeNew("rfail0", 512, 4096, 8 * N_1MB);
    FakeRegister(Fake);
    Fake->FailReads = TRUE;
    Fake->FailFirst = Fake->FailLast = 70;
    assert_int_equal(DiskRead(&Fake->Disk, 64, 16, Buffer), KSTATUS_IO_ERROR);
    assert_int_equal(Stats(Fake).Blocks, 0);
    assert_int_equal(Fake->Disk.ErrorCount, 1);
    // A hit before the bad block is fine; the bad one still fails and caches nothing.
    assert_int_equal(DiskRead(&Fake->Disk, 0, 8, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(DiskRead(&Fake->Disk, 0, 72, Buffer), KSTATUS_IO_ERROR);
    assert_null(CacheFind(Fake->Disk.Cache, 8));
    Fake->FailReads = FALSE;
    assert_int_equal(DiskRead(&Fake->Disk, 64, 16, Buffer), KSTATUS_SUCCESS);
    ExpectPattern(Buffer, 64, 16, 512);
    FakeFree(Fake);
}

static void TestReadOnly(void** State) {
    (void)State;
    FAKE* Fake = FakeNew("ro0", 512, 20000, 8 * N_1MB);
    memset(Fake->Data, 0, 512);
    Fake->Data[446 + 4] = 0x83;
    Fake->Data[446 + 8] = 0x00;  // start 2048
    Fake->Data[446 + 9] = 0x08;
    Fake->Data[446 + 12] = 0x00;  // 4096 sectors
    Fake->Data[446 + 13] = 0x10;
    Fake->Data[510] = 0x55;
    Fake->Data[511] = 0xAA;
    FakeRegister(Fake);
    assert_int_equal(PartitionScanDisk(&Fake->Disk), 1);
    ResetCounters(Fake);
    DISK* Partition = DiskFind("ro0p1");
    assert_non_null(Partition);

    // Pending writes go out before the disk becomes read-only.
    memset(Buffer, 0x44, 512);
    assert_int_equal(DiskWrite(&Fake->Disk, 10, 1, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(DiskSetAccess(&Fake->Disk, DISK_ACCESS_READ_ONLY), KSTATUS_SUCCESS);
    assert_int_equal(Fake->Writes, 1);
    assert_int_equal(Fake->Data[10 * 512], 0x44);
    assert_int_equal(Fake->Flushes, 1);  // and made durable: a read-only disk refuses a later flush

    U32 Blocks = Stats(Fake).Blocks;
    memset(Buffer, 0x99, 8 * 512);
    assert_int_equal(DiskWrite(&Fake->Disk, 100, 8, Buffer), KSTATUS_NO_PERMISSION);
    assert_int_equal(DiskWrite(Partition, 0, 8, Buffer), KSTATUS_NO_PERMISSION);
    assert_int_equal(DiskWrite(&Fake->Disk, 0, 1024, Buffer), KSTATUS_NO_PERMISSION);  // the bypass size too
    DISK_IO Trim = {100, 8, NULL, NULL, 0};
    assert_int_equal(DiskCommand(Partition, DF_DISK_TRIM, &Trim), KSTATUS_NO_PERMISSION);
    assert_int_equal(Stats(Fake).Blocks, Blocks);
    assert_int_equal(Stats(Fake).DirtyBlocks, 0);
    assert_int_equal(Fake->Writes, 1);
    assert_int_equal(Fake->Trims, 0);
    assert_int_equal(DiskRead(Partition, 0, 8, Buffer), KSTATUS_SUCCESS);  // reads still work
    ExpectPattern(Buffer, 2048, 8, 512);
    assert_int_equal(Fake->Data[100 * 512], Pattern(100, 0));

    // Read-only below the cache: a mode set behind the layer's back still stops the write-back.
    assert_int_equal(DiskSetAccess(&Fake->Disk, 0), KSTATUS_SUCCESS);
    memset(Buffer, 0x99, 512);
    assert_int_equal(DiskWrite(Partition, 0, 1, Buffer), KSTATUS_SUCCESS);
    Fake->Disk.Access = DISK_ACCESS_READ_ONLY;
    assert_int_equal(DiskSync(Partition, NULL), KSTATUS_NO_PERMISSION);
    assert_int_equal(Stats(Fake).DirtyBlocks, 1);
    assert_int_equal(Fake->Data[2048 * 512], Pattern(2048, 0));
    Fake->Disk.Access = 0;
    assert_int_equal(DiskSync(Partition, NULL), KSTATUS_SUCCESS);
    assert_int_equal(Fake->Data[2048 * 512], 0x99);

    // A read-only partition of a writable disk.
    assert_int_equal(DiskSetAccess(Partition, DISK_ACCESS_READ_ONLY), KSTATUS_SUCCESS);
    assert_int_equal(DiskWrite(Partition, 0, 1, Buffer), KSTATUS_NO_PERMISSION);
    assert_int_equal(DiskWrite(&Fake->Disk, 2048, 1, Buffer), KSTATUS_SUCCESS);
    // Disabled: nothing at all.
    assert_int_equal(DiskSetAccess(&Fake->Disk, DISK_ACCESS_DISABLED), KSTATUS_SUCCESS);
    assert_int_equal(Stats(Fake).DirtyBlocks, 0);  // written back before
    assert_int_equal(DiskRead(Partition, 0, 1, Buffer), KSTATUS_NO_PERMISSION);
    assert_int_equal(DiskRead(&Fake->Disk, 0, 1, Buffer), KSTATUS_NO_PERMISSION);
    FakeFree(Fake);
}

static void TestPartitionCoherence(void** State) {
    (void)State;
    FAKE* Fake = FakeNew("coh0", 512, 20000, 8 * N_1MB);
    memset(Fake->Data, 0, 512);
    Fake->Data[446] = 0x80;
    Fake->Data[446 + 4] = 0x0C;
    Fake->Data[446 + 8] = 0x03;  // start 1027: not aligned to the cache's 8-sector blocks
    Fake->Data[446 + 9] = 0x04;
    Fake->Data[446 + 12] = 0x00;
    Fake->Data[446 + 13] = 0x20;  // 8192 sectors
    Fake->Data[510] = 0x55;
    Fake->Data[511] = 0xAA;
    FakeRegister(Fake);
    assert_int_equal(PartitionScanDisk(&Fake->Disk), 1);
    ResetCounters(Fake);
    DISK* Partition = DiskFind("coh0p1");
    assert_non_null(Partition);
    assert_null(Partition->Cache);
    assert_ptr_equal(Partition->Parent, &Fake->Disk);
    assert_int_equal(Partition->SectorCount, 8192);
    assert_int_equal(Partition->Type, DISK_TYPE_PARTITION);
    PARTITION_INFO Info;
    assert_int_equal(PartitionGetInfo(Partition, &Info), KSTATUS_SUCCESS);
    assert_int_equal(Info.StartSector, 1027);
    assert_int_equal(Info.Number, 1);
    assert_true(Info.Active);
    assert_string_equal(Info.TypeName, "W95 FAT32 (LBA)");
    assert_string_equal(Info.TypeCode, "0x0c");
    assert_int_equal(PartitionGetInfo(&Fake->Disk, &Info), KSTATUS_NOT_FOUND);
    DISK_INFO DiskInfo;
    assert_int_equal(DiskGetInfo(Partition, &DiskInfo), KSTATUS_SUCCESS);
    assert_int_equal(DiskInfo.SectorCount, 8192);
    assert_true(DiskInfo.VolatileCache);
    assert_string_equal(DiskInfo.Model, "W95 FAT32 (LBA) partition");

    // Through the partition, then raw, and back, with no sync in between.
    memset(Buffer, 0xE1, 16 * 512);
    assert_int_equal(DiskWrite(Partition, 5, 16, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(DiskRead(&Fake->Disk, 1027 + 5, 16, Buffer + 65536), KSTATUS_SUCCESS);
    assert_memory_equal(Buffer, Buffer + 65536, 16 * 512);
    memset(Buffer, 0xE2, 512);
    assert_int_equal(DiskWrite(&Fake->Disk, 1027 + 20, 1, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(DiskRead(Partition, 19, 3, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(Buffer[0], 0xE1);
    assert_int_equal(Buffer[512], 0xE2);
    ExpectPattern(Buffer + 1024, 1027 + 21, 1, 512);
    // Bounds: the partition cannot reach past its end, nor can its driver be tricked into it.
    assert_int_equal(DiskRead(Partition, 8191, 2, Buffer), KSTATUS_BAD_PARAMETER);
    assert_int_equal(DiskRead(Partition, 8191, 1, Buffer), KSTATUS_SUCCESS);
    DISK_IO Io = {8192, 1, Buffer, NULL, 0};
    assert_int_equal(Partition->Driver->Command(Partition, DF_DISK_READ, &Io), KSTATUS_BAD_PARAMETER);
    // A flush through the partition writes the parent's blocks back.
    assert_int_equal(Fake->Writes, 0);
    assert_int_equal(DiskFlush(Partition), KSTATUS_SUCCESS);
    assert_true(Fake->Writes >= 1);
    assert_int_equal(Fake->Flushes, 1);
    assert_int_equal(Fake->Data[(1027 + 5) * 512], 0xE1);
    assert_int_equal(Fake->Data[(1027 + 20) * 512], 0xE2);
    // Sync on the partition reports the parent's blocks.
    assert_int_equal(DiskWrite(Partition, 0, 1, Buffer), KSTATUS_SUCCESS);
    U32 Written = 0;
    assert_int_equal(DiskSync(Partition, &Written), KSTATUS_SUCCESS);
    assert_int_equal(Written, 1);
    // A second scan of the same disk registers nothing twice.
    assert_int_equal(PartitionScanDisk(&Fake->Disk), 0);
    FakeFree(Fake);
    assert_null(DiskFind("coh0p1"));
}

static void TestTrim(void** State) {
    (void)State;
    FAKE* Fake = FakeNew("trim0", 512, 4096, 8 * N_1MB);
    FakeRegister(Fake);
    memset(Buffer, 0x31, 32 * 512);
    assert_int_equal(DiskWrite(&Fake->Disk, 0, 32, Buffer), KSTATUS_SUCCESS);
    DISK_IO Trim = {4, 20, NULL, NULL, 0};
    assert_int_equal(DiskCommand(&Fake->Disk, DF_DISK_TRIM, &Trim), KSTATUS_SUCCESS);
    assert_int_equal(Fake->Trims, 1);
    assert_int_equal(Stats(Fake).Blocks, 2);  // blocks 0 and 2 keep their untrimmed sectors; block 1 is gone
    assert_int_equal(DiskFlush(&Fake->Disk), KSTATUS_SUCCESS);
    assert_int_equal(Fake->SectorsWritten, 4 + 8);
    assert_int_equal(Fake->Data[3 * 512], 0x31);
    assert_int_equal(Fake->Data[4 * 512], 0);  // trimmed, not overwritten by old cached data
    assert_int_equal(Fake->Data[23 * 512], 0);
    assert_int_equal(Fake->Data[24 * 512], 0x31);
    assert_int_equal(DiskRead(&Fake->Disk, 0, 32, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(Buffer[4 * 512], 0);
    assert_int_equal(Buffer[0], 0x31);
    FakeFree(Fake);
}

static void TestMaxTransferSplit(void** State) {
    (void)State;
    FAKE* Fake = FakeNew("split0", 512, 8192, 8 * N_1MB);
    Fake->MaxTransfer = 16;
    FakeRegister(Fake);
    assert_int_equal(DiskRead(&Fake->Disk, 1, 1024, Buffer), KSTATUS_SUCCESS);
    ExpectPattern(Buffer, 1, 1024, 512);
    assert_int_equal(Fake->Reads, 64);
    assert_int_equal(DiskRead(&Fake->Disk, 4096, 8, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(DiskRead(&Fake->Disk, 4104, 8, Buffer), KSTATUS_SUCCESS);  // read-ahead of 33 blocks, split
    assert_int_equal(Fake->SectorsRead, 1024 + 8 + 33 * 8);
    memset(Buffer, 1, 100 * 512);
    assert_int_equal(DiskWrite(&Fake->Disk, 0, 100, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(DiskFlush(&Fake->Disk), KSTATUS_SUCCESS);
    assert_int_equal(Fake->Writes, 7);  // 100 sectors in pieces of at most 16
    FakeFree(Fake);
}

/**
 * The splitter with vectored requests, straight to the driver (no cache): a driver without vectored calls gets
 * one call per buffer piece, one with MaxSegments = 3 and MaxTransfer = 16 gets pieces of at most 3 buffers and 16
 * sectors, a buffer cut between two pieces; the data lands in the right buffers both ways. Bad vectors are refused.
 */
static void TestVectoredSplit(void** State) {
    (void)State;
    for (U32 Segments = 0; Segments <= 3; Segments += 3) {
        char Name[16];
        snprintf(Name, sizeof(Name), "vec%u", Segments);
        FAKE* Fake = FakeNew(Name, 512, 4096, 0);
        Fake->MaxTransfer = 16;
        Fake->MaxSegments = Segments;
        assert_int_equal(DiskRegister(&Fake->Disk), KSTATUS_SUCCESS);
        Fake->ExpectLocked = FALSE;  // no cache: nothing holds a lock
        // Buffers of 2, 20, 1, 1 and 4 sectors, spread over Buffer in the other order.
        static const U32 Lengths[] = {2, 20, 1, 1, 4};
        static const U32 Offsets[] = {100, 60, 40, 20, 0};  // in sectors
        DISK_SEGMENT Vector[5];
        for (U32 I = 0; I < 5; I++) Vector[I] = (DISK_SEGMENT){Buffer + Offsets[I] * 512, Lengths[I] * 512};
        memset(Buffer, 0, 128 * 512);
        assert_int_equal(DiskReadVector(&Fake->Disk, 7, Vector, 5), KSTATUS_SUCCESS);
        U64 Sector = 7;
        for (U32 I = 0; I < 5; I++) {
            ExpectPattern(Buffer + Offsets[I] * 512, Sector, Lengths[I], 512);
            Sector += Lengths[I];
        }
        // No cache: 5 buffers, the 20-sector one cut at 16, in calls of one buffer; or pieces
        // {2, 14} {6, 1, 1} {4} of at most 16 sectors and 3 buffers.
        assert_int_equal(Fake->Reads, Segments ? 3 : 6);
        assert_int_equal(Fake->VectoredReads, Segments ? 2 : 0);
        assert_int_equal(Fake->SectorsRead, 28);
        for (U32 I = 0; I < 128 * 512; I++) Buffer[I] = (U8)(I * 13 + 5);
        assert_int_equal(DiskWriteVector(&Fake->Disk, 1000, Vector, 5), KSTATUS_SUCCESS);
        Sector = 1000;
        for (U32 I = 0; I < 5; I++) {
            assert_memory_equal(Fake->Data + Sector * 512, Buffer + Offsets[I] * 512, Lengths[I] * 512);
            Sector += Lengths[I];
        }
        assert_int_equal(Fake->Writes, Segments ? 3 : 6);
        // A length that is not whole sectors, a NULL buffer, a buffer and segments at once: refused.
        Vector[1].Length = 513;
        assert_int_equal(DiskReadVector(&Fake->Disk, 7, Vector, 5), KSTATUS_BAD_PARAMETER);
        Vector[1] = (DISK_SEGMENT){NULL, 512};
        assert_int_equal(DiskReadVector(&Fake->Disk, 7, Vector, 5), KSTATUS_BAD_PARAMETER);
        Vector[1] = (DISK_SEGMENT){Buffer, 512};
        DISK_IO Both = {0, 10, Buffer, Vector, 5};
        assert_int_equal(DiskCommand(&Fake->Disk, DF_DISK_READ, &Both), KSTATUS_BAD_PARAMETER);
        assert_int_equal(Fake->Reads, Segments ? 3 : 6);
        DiskUnregister(&Fake->Disk);
        HostDiskDestroy(Fake);
    }
}

/** Through the cache: each buffer of a vectored request is one cache request; hits need no device request. */
static void TestVectoredCached(void** State) {
    (void)State;
    FAKE* Fake = FakeNew("veccache", 512, 8192, 8 * N_1MB);
    Fake->MaxSegments = DISK_MAX_SEGMENTS;
    FakeRegister(Fake);
    assert_int_equal(DiskRead(&Fake->Disk, 0, 64, Buffer), KSTATUS_SUCCESS);
    ResetCounters(Fake);
    DISK_SEGMENT Vector[3] = {{Buffer + 4096, 1024}, {Buffer, 512}, {Buffer + 8192, 2048}};
    assert_int_equal(DiskReadVector(&Fake->Disk, 3, Vector, 3), KSTATUS_SUCCESS);
    ExpectPattern(Buffer + 4096, 3, 2, 512);
    ExpectPattern(Buffer, 5, 1, 512);
    ExpectPattern(Buffer + 8192, 6, 4, 512);
    assert_int_equal(Fake->Reads, 0);
    FakeFree(Fake);
}

static void TestShutdownHookAndUnregister(void** State) {
    (void)State;
    FAKE* Fake = FakeNew("hook0", 512, 4096, 8 * N_1MB);
    FakeRegister(Fake);
    U32 Before = HookRegistrations;
    memset(Buffer, 0x66, 512);
    assert_int_equal(DiskWrite(&Fake->Disk, 7, 1, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(HookRegistrations, Before + 1);
    assert_non_null(Hook);
    Hook(SHUTDOWN_POWER_OFF, NULL);
    assert_int_equal(Fake->Data[7 * 512], 0x66);
    assert_int_equal(Fake->Flushes, 1);
    // Unregistering writes back what is left, then refuses everything.
    memset(Buffer, 0x67, 512);
    assert_int_equal(DiskWrite(&Fake->Disk, 8, 1, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(HookRegistrations, Before + 1);
    DiskUnregister(&Fake->Disk);
    assert_int_equal(Fake->Data[8 * 512], 0x67);
    assert_int_equal(Fake->Flushes, 2);  // the write-back is flushed too
    assert_int_equal(DiskRead(&Fake->Disk, 0, 1, Buffer), KSTATUS_NO_PERMISSION);
    assert_int_equal(CacheRead(Fake->Disk.Cache, 0, 1, Buffer), KSTATUS_NO_PERMISSION);
    assert_null(DiskFind("hook0"));
    FakeFree(Fake);
}

static void TestSectors4096AndPartialBlock(void** State) {
    (void)State;
    FAKE* Fake = FakeNew("big0", 4096, 1000, 8 * N_1MB);
    FakeRegister(Fake);
    assert_int_equal(Stats(Fake).BlockSize, 4096);
    assert_int_equal(Stats(Fake).SectorsPerBlock, 1);
    assert_int_equal(Stats(Fake).BypassBytes, 256 * 1024);
    assert_int_equal(DiskRead(&Fake->Disk, 999, 1, Buffer), KSTATUS_SUCCESS);
    ExpectPattern(Buffer, 999, 1, 4096);
    memset(Buffer, 0x12, 4096 * 3);
    assert_int_equal(DiskWrite(&Fake->Disk, 997, 3, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(DiskFlush(&Fake->Disk), KSTATUS_SUCCESS);
    assert_int_equal(Fake->Writes, 1);
    assert_int_equal(Fake->Data[999 * 4096 + 4095], 0x12);
    assert_int_equal(DiskRead(&Fake->Disk, 0, 64, Buffer), KSTATUS_SUCCESS);  // 256 KiB: bypassed
    ExpectPattern(Buffer, 0, 64, 4096);
    assert_int_equal(Stats(Fake).BypassReads, 1);
    FakeFree(Fake);

    // 1003 sectors of 512: the last block holds 3 sectors.
    Fake = FakeNew("odd0", 512, 1003, 8 * N_1MB);
    FakeRegister(Fake);
    assert_int_equal(DiskRead(&Fake->Disk, 1001, 2, Buffer), KSTATUS_SUCCESS);
    ExpectPattern(Buffer, 1001, 2, 512);
    assert_int_equal(Fake->LastSector, 1000);
    assert_int_equal(Fake->LastCount, 3);
    assert_int_equal(DiskRead(&Fake->Disk, 1002, 2, Buffer), KSTATUS_BAD_PARAMETER);
    memset(Buffer, 0x13, 512);
    assert_int_equal(DiskWrite(&Fake->Disk, 1002, 1, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(DiskFlush(&Fake->Disk), KSTATUS_SUCCESS);
    assert_int_equal(Fake->Data[1002 * 512], 0x13);
    // Sequential reads running into the end.
    for (U64 S = 960; S < 1003; S++) {
        assert_int_equal(DiskRead(&Fake->Disk, S, 1, Buffer), KSTATUS_SUCCESS);
        if (S != 1002) ExpectPattern(Buffer, S, 1, 512);
    }
    FakeFree(Fake);
}

static void TestOutOfMemory(void** State) {
    (void)State;
    FAKE* Fake = FakeNew("oom0", 512, 4096, 8 * N_1MB);
    FakeRegister(Fake);
    HeapFailAfter = 0;
    assert_int_equal(DiskRead(&Fake->Disk, 16, 8, Buffer), KSTATUS_SUCCESS);  // served, not cached
    ExpectPattern(Buffer, 16, 8, 512);
    assert_int_equal(Stats(Fake).Blocks, 0);
    memset(Buffer, 0x21, 8 * 512);
    assert_int_equal(DiskWrite(&Fake->Disk, 16, 8, Buffer), KSTATUS_SUCCESS);  // written through
    assert_int_equal(Fake->Writes, 1);
    assert_int_equal(Fake->Data[16 * 512], 0x21);
    HeapFailAfter = -1;
    FakeFree(Fake);

    // No memory for the cache itself: the disk works uncached.
    Fake = FakeNew("oom1", 512, 4096, 8 * N_1MB);
    Fake->ExpectLocked = FALSE;
    HeapFailAfter = 1;
    assert_int_equal(DiskRegister(&Fake->Disk), KSTATUS_SUCCESS);
    HeapFailAfter = -1;
    assert_null(Fake->Disk.Cache);
    memset(Buffer, 0x22, 512);
    assert_int_equal(DiskWrite(&Fake->Disk, 3, 1, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(Fake->Writes, 1);
    FakeFree(Fake);

    // Budget 0: no cache by choice.
    Fake = FakeNew("nocache0", 512, 4096, 0);
    assert_int_equal(DiskRegister(&Fake->Disk), KSTATUS_SUCCESS);
    assert_null(Fake->Disk.Cache);
    FakeFree(Fake);
}

/** A tool wrote to the device behind the layer: DiskInvalidateCache makes reads see it. */
static void TestInvalidate(void** State) {
    (void)State;
    FAKE* Fake = FakeNew("inval0", 512, 4096, 8 * N_1MB);
    FakeRegister(Fake);
    assert_int_equal(DiskRead(&Fake->Disk, 0, 16, Buffer), KSTATUS_SUCCESS);
    memset(Buffer, 0x71, 512);
    assert_int_equal(DiskWrite(&Fake->Disk, 100, 1, Buffer), KSTATUS_SUCCESS);
    memset(Fake->Data, 0xEE, 16 * 512);  // behind the cache's back
    assert_int_equal(DiskRead(&Fake->Disk, 0, 1, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(Buffer[0], Pattern(0, 0));  // stale, as expected without the call
    assert_int_equal(DiskInvalidateCache(&Fake->Disk), KSTATUS_SUCCESS);
    assert_int_equal(Fake->Data[100 * 512], 0x71);  // the dirty block went out first
    assert_int_equal(Stats(Fake).Blocks, 0);
    assert_int_equal(DiskRead(&Fake->Disk, 0, 1, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(Buffer[0], 0xEE);
    // A failing write-back keeps the dirty block (and says so).
    assert_int_equal(DiskWrite(&Fake->Disk, 200, 1, Buffer), KSTATUS_SUCCESS);
    Fake->FailWrites = TRUE;
    Fake->FailFirst = 0;
    Fake->FailLast = 4095;
    assert_int_equal(DiskInvalidateCache(&Fake->Disk), KSTATUS_IO_ERROR);
    assert_int_equal(Stats(Fake).Blocks, 1);
    assert_int_equal(Stats(Fake).DirtyBlocks, 1);
    Fake->FailWrites = FALSE;
    FakeFree(Fake);
}

/** Several threads on one disk: each owns a region, all read a shared one. */
typedef struct {
    FAKE* Fake;
    int Index;
} WORKER;

static void* Worker(void* Argument) {
    WORKER* W = Argument;
    U8* Local = malloc(64 * 512);
    unsigned Seed = (unsigned)W->Index * 7919;
    U64 Base = 1000 + (U64)W->Index * 500;
    for (int I = 0; I < 400; I++) {
        U32 Offset = (U32)(rand_r(&Seed) % 400);
        U32 Count = 1 + (U32)(rand_r(&Seed) % 60);
        if (rand_r(&Seed) % 2) {
            memset(Local, (U8)(W->Index + 1), Count * 512);
            if (DiskWrite(&W->Fake->Disk, Base + Offset, Count, Local) != KSTATUS_SUCCESS) abort();
        } else {
            if (DiskRead(&W->Fake->Disk, (U64)(rand_r(&Seed) % 900), Count, Local) != KSTATUS_SUCCESS) abort();
        }
        if (I % 100 == 99 && DiskFlush(&W->Fake->Disk) != KSTATUS_SUCCESS) abort();
    }
    free(Local);
    return NULL;
}

static void TestThreads(void** State) {
    (void)State;
    FAKE* Fake = FakeNew("mt0", 512, 4096, 32 * 4096);
    Fake->ExpectLocked = FALSE;  // Depth is per thread; cmocka asserts are not thread safe
    FakeRegister(Fake);
    pthread_t Threads[4];
    WORKER Workers[4];
    for (int I = 0; I < 4; I++) {
        Workers[I].Fake = Fake;
        Workers[I].Index = I;
        pthread_create(&Threads[I], NULL, Worker, &Workers[I]);
    }
    for (int I = 0; I < 4; I++) pthread_join(Threads[I], NULL);
    assert_int_equal(DiskFlush(&Fake->Disk), KSTATUS_SUCCESS);
    // Each region holds only its owner's byte or the original pattern; the shared region is intact.
    for (int W = 0; W < 4; W++) {
        for (U64 S = 1000 + (U64)W * 500; S < 1000 + (U64)W * 500 + 460; S++) {
            U8 B = Fake->Data[S * 512 + 100];
            assert_true(B == (U8)(W + 1) || B == Pattern(S, 100));
        }
    }
    ExpectPattern(Fake->Data, 0, 900, 512);
    assert_int_equal(Stats(Fake).DirtyBlocks, 0);
    FakeFree(Fake);
}

/************************************************************************/
// Pins

static CACHE_BLOCK* Pin(FAKE* Fake, U64 Sector, U32 Count, BOOL Read) {
    CACHE_BLOCK* Block = NULL;
    assert_int_equal(CachePin(Fake->Disk.Cache, Sector, Count, Read, &Block), KSTATUS_SUCCESS);
    assert_non_null(Block);
    return Block;
}

static BOOL Cached(FAKE* Fake, U64 Number) {
    CACHE* Cache = Fake->Disk.Cache;
    MutexLock(&Cache->Lock);
    BOOL Found = CacheFind(Cache, Number) != NULL;
    MutexUnlock(&Cache->Lock);
    return Found;
}

static void TestPinCountAndDirty(void** State) {
    (void)State;
    FAKE* Fake = FakeNew("pin0", 512, 4096, 8 * N_1MB);
    FakeRegister(Fake);
    CACHE* Cache = Fake->Disk.Cache;
    U32 Hooks = HookRegistrations;
    // The first pin reads the whole block; a second pin of the same block is a hit on the same memory.
    CACHE_BLOCK* First = Pin(Fake, 10, 2, TRUE);
    assert_int_equal(Fake->Reads, 1);
    assert_int_equal(Fake->LastSector, 8);
    assert_int_equal(Fake->LastCount, 8);
    ExpectPattern(First->Data + 2 * 512, 10, 2, 512);
    CACHE_BLOCK* Second = Pin(Fake, 8, 1, TRUE);
    assert_ptr_equal(First, Second);
    assert_int_equal(First->Pins, 2);
    assert_int_equal(Fake->Reads, 1);
    CACHE_STATS S = Stats(Fake);
    assert_int_equal(S.PinnedBlocks, 1);
    assert_int_equal(S.Pins, 2);
    assert_int_equal(S.Hits, 1);
    assert_int_equal(S.Misses, 1);
    // Changed in place and marked dirty: the copy interface sees it at once, the disk after a sync.
    memset(First->Data + 3 * 512, 0x5A, 512);
    CacheMarkDirty(Cache, First, 11, 1);
    assert_int_equal(First->DirtyMask, 1U << 3);
    assert_int_equal(Stats(Fake).DirtyBlocks, 1);
    assert_int_equal(HookRegistrations, Hooks + 1);  // dirty data waits: the write-back hook is armed
    CacheUnpin(Cache, Second);
    CacheUnpin(Cache, First);
    assert_int_equal(First->Pins, 0);
    assert_int_equal(Stats(Fake).PinnedBlocks, 0);
    assert_int_equal(DiskRead(&Fake->Disk, 11, 1, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(Buffer[0], 0x5A);
    assert_int_equal(Fake->Data[11 * 512], Pattern(11, 0));
    U32 Written;
    assert_int_equal(DiskSync(&Fake->Disk, &Written), KSTATUS_SUCCESS);
    assert_int_equal(Written, 1);
    assert_int_equal(Fake->SectorsWritten, 1);  // the dirty sector alone
    assert_int_equal(Fake->Data[11 * 512], 0x5A);
    // A new block: zeroed, valid and dirty, without a read.
    U32 Reads = Fake->Reads;
    CACHE_BLOCK* New = Pin(Fake, 800, 8, FALSE);
    assert_int_equal(Fake->Reads, Reads);
    for (U32 I = 0; I < 4096; I++) assert_int_equal(New->Data[I], 0);
    assert_int_equal(New->DirtyMask, 0xFF);
    CacheUnpin(Cache, New);
    assert_int_equal(DiskSync(&Fake->Disk, &Written), KSTATUS_SUCCESS);
    assert_int_equal(Fake->Data[800 * 512 + 7], 0);
    // Refused: sectors of two blocks, past the end, nothing.
    CACHE_BLOCK* None = First;
    assert_int_equal(CachePin(Cache, 7, 2, TRUE, &None), KSTATUS_BAD_PARAMETER);
    assert_null(None);
    assert_int_equal(CachePin(Cache, 4096, 1, TRUE, &None), KSTATUS_BAD_PARAMETER);
    assert_int_equal(CachePin(Cache, 0, 0, TRUE, &None), KSTATUS_BAD_PARAMETER);
    FakeFree(Fake);
}

static void TestPinnedNeverEvicted(void** State) {
    (void)State;
    FAKE* Fake = FakeNew("pin1", 512, 4096, 8 * 4096);  // 8 blocks
    FakeRegister(Fake);
    CACHE* Cache = Fake->Disk.Cache;
    CACHE_BLOCK* Kept = Pin(Fake, 0, 1, TRUE);
    U8* Data = Kept->Data;
    // Forty blocks read backwards (no read-ahead) through 8 slots: block 0 stays, at the same address.
    for (int B = 40; B >= 1; B--) assert_int_equal(DiskRead(&Fake->Disk, (U64)B * 8, 1, Buffer), KSTATUS_SUCCESS);
    assert_true(Stats(Fake).Evictions >= 32);
    assert_true(Cached(Fake, 0));
    assert_ptr_equal(Kept->Data, Data);
    ExpectPattern(Kept->Data, 0, 8, 512);
    // Every slot pinned: a read is still served (not cached), a write goes through, a ninth pin fails.
    CACHE_BLOCK* Pinned[8] = {Kept};
    for (U32 I = 1; I < 8; I++) Pinned[I] = Pin(Fake, (U64)(100 + I) * 8, 1, TRUE);
    assert_int_equal(Stats(Fake).PinnedBlocks, 8);
    assert_int_equal(DiskRead(&Fake->Disk, 300 * 8, 8, Buffer), KSTATUS_SUCCESS);
    ExpectPattern(Buffer, 300 * 8, 8, 512);
    assert_false(Cached(Fake, 300));
    memset(Buffer, 0x77, 512);
    assert_int_equal(DiskWrite(&Fake->Disk, 500 * 8, 1, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(Fake->Data[500 * 8 * 512], 0x77);
    CACHE_BLOCK* None;
    assert_int_equal(CachePin(Cache, 400 * 8, 1, TRUE, &None), KSTATUS_NO_MEMORY);
    assert_int_equal(CachePin(Cache, 400 * 8, 8, FALSE, &None), KSTATUS_NO_MEMORY);
    for (U32 I = 0; I < 8; I++) CacheUnpin(Cache, Pinned[I]);
    assert_int_equal(CachePin(Cache, 400 * 8, 1, TRUE, &None), KSTATUS_SUCCESS);
    CacheUnpin(Cache, None);
    FakeFree(Fake);
}

static void TestPinForgetAndShutdown(void** State) {
    (void)State;
    long HeapBefore = HeapLive;
    FAKE* Fake = FakeNew("pin2", 512, 4096, 8 * N_1MB);
    FakeRegister(Fake);
    CACHE* Cache = Fake->Disk.Cache;
    // A freed block is forgotten: its dirty sectors are dropped, never written.
    CACHE_BLOCK* Block = Pin(Fake, 16, 8, TRUE);
    memset(Block->Data, 0x31, 4096);
    CacheMarkDirty(Cache, Block, 16, 8);
    CacheUnpin(Cache, Block);
    CacheInvalidate(Cache, 16, 8);
    assert_int_equal(Stats(Fake).DirtyBlocks, 0);
    assert_false(Cached(Fake, 2));
    // Forgotten while pinned: the block stays with its pinner (nothing valid), and goes at the unpin.
    Block = Pin(Fake, 24, 8, TRUE);
    CacheInvalidate(Cache, 24, 8);
    assert_true(Cached(Fake, 3));
    assert_int_equal(Block->ValidMask, 0);
    CacheUnpin(Cache, Block);
    assert_false(Cached(Fake, 3));
    assert_int_equal(DiskSync(&Fake->Disk, NULL), KSTATUS_SUCCESS);
    assert_int_equal(Fake->SectorsWritten, 0);
    ExpectPattern(Fake->Data + 16 * 512, 16, 8, 512);
    // The disk goes away under a pin: the pinner keeps its memory; changes go nowhere; the unpin frees it.
    Block = Pin(Fake, 40, 1, TRUE);
    DiskUnregister(&Fake->Disk);
    assert_true(Block->Orphan);
    ExpectPattern(Block->Data, 40, 8, 512);
    Block->Data[0] = 1;
    CacheMarkDirty(Cache, Block, 40, 1);
    CacheUnpin(Cache, Block);
    CACHE_BLOCK* None;
    assert_int_equal(CachePin(Cache, 40, 1, TRUE, &None), KSTATUS_NO_PERMISSION);
    assert_int_equal(Fake->Data[40 * 512], Pattern(40, 0));
    FakeFree(Fake);
    assert_int_equal(HeapLive, HeapBefore);
}

static void TestPinSectors4096(void** State) {
    (void)State;
    FAKE* Fake = FakeNew("pin3", 4096, 1000, 8 * N_1MB);
    FakeRegister(Fake);
    assert_int_equal(Stats(Fake).SectorsPerBlock, 1);
    CACHE_BLOCK* Block = Pin(Fake, 5, 1, TRUE);
    ExpectPattern(Block->Data, 5, 1, 4096);
    memset(Block->Data + 1024, 0x44, 1024);  // a 1 KiB file-system block inside the sector
    CacheMarkDirty(Fake->Disk.Cache, Block, 5, 1);
    CacheUnpin(Fake->Disk.Cache, Block);
    assert_int_equal(DiskSync(&Fake->Disk, NULL), KSTATUS_SUCCESS);
    assert_int_equal(Fake->SectorsWritten, 1);
    assert_int_equal(Fake->Data[5 * 4096 + 1024], 0x44);
    assert_int_equal(Fake->Data[5 * 4096 + 2047], 0x44);
    assert_int_equal(Fake->Data[5 * 4096], Pattern(5, 0));
    assert_int_equal(Fake->Data[5 * 4096 + 2048], Pattern(5, 2048));
    FakeFree(Fake);
}

/** Blocks pinned lately (a file system's metadata) outlive a stream of data through a small cache. */
static void TestActiveBlocksOutliveStream(void** State) {
    (void)State;
    FAKE* Fake = FakeNew("act0", 512, 65536, 16 * 4096);  // 16 blocks, a quarter may be active
    FakeRegister(Fake);
    for (U64 B = 0; B < 6; B++) CacheUnpin(Fake->Disk.Cache, Pin(Fake, B * 8, 1, TRUE));
    for (U64 B = 100; B < 200; B++) assert_int_equal(DiskRead(&Fake->Disk, B * 8, 8, Buffer), KSTATUS_SUCCESS);
    // The four pinned last are still there; the two before them went like any other block.
    assert_false(Cached(Fake, 0));
    assert_false(Cached(Fake, 1));
    for (U64 B = 2; B < 6; B++) assert_true(Cached(Fake, B));
    FakeFree(Fake);
}

/************************************************************************/
// BlockDevice

/** One Linux partition in the MBR of a fake disk. */
static void FakeMbr(FAKE* Fake, U32 Start, U32 Count) {
    U8* Entry = Fake->Data + 446;
    memset(Fake->Data, 0, 512);
    Entry[4] = 0x83;
    for (U32 I = 0; I < 4; I++) {
        Entry[8 + I] = (U8)(Start >> (8 * I));
        Entry[12 + I] = (U8)(Count >> (8 * I));
    }
    Fake->Data[510] = 0x55;
    Fake->Data[511] = 0xAA;
}

/** A 20000-sector disk of 512-byte sectors with a cache, and its partition of 8192 sectors from Start. */
static FAKE* FakeWithPartition(const char* Name, U32 Start, DISK** Partition) {
    FAKE* Fake = FakeNew(Name, 512, 20000, 8 * N_1MB);
    FakeMbr(Fake, Start, 8192);
    FakeRegister(Fake);
    assert_int_equal(PartitionScanDisk(&Fake->Disk), 1);
    char PartitionName[DISK_NAME_LENGTH + 2];
    snprintf(PartitionName, sizeof(PartitionName), "%sp1", Name);
    *Partition = DiskFind(PartitionName);
    assert_non_null(*Partition);
    ResetCounters(Fake);
    return Fake;
}

static void TestBlockDeviceShared(void** State) {
    (void)State;
    DISK* Partition;
    FAKE* Fake = FakeWithPartition("bd0", 2048, &Partition);
    BLOCK_DEVICE Device;
    assert_int_equal(BlockDeviceOpen(&Device, Partition, 1024), KSTATUS_SUCCESS);
    assert_false(Device.Private);
    assert_ptr_equal(Device.Cache, Fake->Disk.Cache);
    assert_int_equal(Device.BlockCount, 4096);
    // 1 KiB block 5: partition bytes 5120.., disk sectors 2058-2059, the second KiB of cache block 257.
    BLOCK_BUFFER A, B;
    assert_int_equal(BlockGet(&Device, 5, TRUE, &A), KSTATUS_SUCCESS);
    ExpectPattern(A.Data, 2058, 2, 512);
    assert_int_equal(A.Cached->Block, 257);
    assert_ptr_equal(A.Data, A.Cached->Data + 1024);
    // Its neighbour shares the cache block: same memory, no read.
    U32 Reads = Fake->Reads;
    assert_int_equal(BlockGet(&Device, 4, TRUE, &B), KSTATUS_SUCCESS);
    assert_ptr_equal(B.Cached, A.Cached);
    assert_int_equal(Fake->Reads, Reads);
    // Changed through the buffer: raw and partition reads see it before any sync; Sync has nothing to do.
    memset(A.Data, 0xB5, 1024);
    BlockDirty(&A);
    BlockRelease(&A);
    BlockRelease(&B);
    assert_null(A.Cached);
    assert_int_equal(DiskRead(&Fake->Disk, 2059, 1, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(Buffer[511], 0xB5);
    assert_int_equal(DiskRead(Partition, 10, 1, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(Buffer[0], 0xB5);
    assert_int_equal(BlockDeviceSync(&Device), KSTATUS_SUCCESS);
    assert_int_equal(Fake->Writes, 0);
    // A new block: zeroed and dirty without a read; forgotten (freed), it is never written.
    Reads = Fake->Reads;
    assert_int_equal(BlockGet(&Device, 100, FALSE, &A), KSTATUS_SUCCESS);
    assert_int_equal(Fake->Reads, Reads);
    assert_int_equal(A.Data[0], 0);
    BlockRelease(&A);
    BlockForget(&Device, 100);
    assert_int_equal(DiskSync(Partition, NULL), KSTATUS_SUCCESS);
    assert_int_equal(Fake->SectorsWritten, 2);  // block 5 only
    assert_int_equal(Fake->Data[2058 * 512], 0xB5);
    ExpectPattern(Fake->Data + 2248 * 512, 2248, 2, 512);
    // The partition's access mode applies to pins: read-only refuses new blocks, disabled everything.
    assert_int_equal(DiskSetAccess(Partition, DISK_ACCESS_READ_ONLY), KSTATUS_SUCCESS);
    assert_int_equal(BlockGet(&Device, 6, FALSE, &A), KSTATUS_NO_PERMISSION);
    assert_int_equal(BlockGet(&Device, 6, TRUE, &A), KSTATUS_SUCCESS);
    BlockRelease(&A);
    assert_int_equal(DiskSetAccess(Partition, DISK_ACCESS_DISABLED), KSTATUS_SUCCESS);
    assert_int_equal(BlockGet(&Device, 6, TRUE, &A), KSTATUS_NO_PERMISSION);
    assert_int_equal(DiskSetAccess(Partition, 0), KSTATUS_SUCCESS);
    assert_int_equal(BlockGet(&Device, 4096, TRUE, &A), KSTATUS_BAD_PARAMETER);
    assert_int_equal(BlockDeviceClose(&Device), KSTATUS_SUCCESS);
    // 4 KiB blocks on 512-byte sectors: one whole cache block each.
    assert_int_equal(BlockDeviceOpen(&Device, Partition, 4096), KSTATUS_SUCCESS);
    assert_int_equal(BlockGet(&Device, 3, TRUE, &A), KSTATUS_SUCCESS);
    assert_ptr_equal(A.Data, A.Cached->Data);
    assert_int_equal(A.SectorCount, 8);
    ExpectPattern(A.Data, 2048 + 24, 8, 512);
    BlockRelease(&A);
    assert_int_equal(BlockDeviceClose(&Device), KSTATUS_SUCCESS);
    FakeFree(Fake);
}

static void TestBlockDevicePrivate(void** State) {
    (void)State;
    // A partition starting at sector 63: its blocks straddle the disk's cache blocks, so it gets its own cache.
    DISK* Partition;
    FAKE* Fake = FakeWithPartition("bd1", 63, &Partition);
    BLOCK_DEVICE Device;
    assert_int_equal(BlockDeviceOpen(&Device, Partition, 1024), KSTATUS_SUCCESS);
    assert_true(Device.Private);
    assert_ptr_not_equal(Device.Cache, Fake->Disk.Cache);
    assert_int_equal(Device.Cache->BlockSize, 1024);
    BLOCK_BUFFER A;
    assert_int_equal(BlockGet(&Device, 5, TRUE, &A), KSTATUS_SUCCESS);
    ExpectPattern(A.Data, 63 + 10, 2, 512);
    memset(A.Data, 0xC6, 1024);
    BlockDirty(&A);
    BlockRelease(&A);
    // Until the sync it stays in the device's cache; then it reaches the disk's (and the disk on its sync).
    assert_int_equal(DiskRead(Partition, 10, 1, Buffer), KSTATUS_SUCCESS);
    ExpectPattern(Buffer, 63 + 10, 1, 512);
    assert_int_equal(BlockGet(&Device, 9, FALSE, &A), KSTATUS_SUCCESS);  // new, then freed: never written
    BlockRelease(&A);
    BlockForget(&Device, 9);
    assert_int_equal(BlockDeviceSync(&Device), KSTATUS_SUCCESS);
    assert_int_equal(DiskRead(Partition, 10, 2, Buffer), KSTATUS_SUCCESS);
    assert_int_equal(Buffer[0], 0xC6);
    assert_int_equal(Buffer[1023], 0xC6);
    assert_int_equal(DiskSync(Partition, NULL), KSTATUS_SUCCESS);
    assert_int_equal(Fake->Data[73 * 512], 0xC6);
    ExpectPattern(Fake->Data + 81 * 512, 81, 2, 512);
    assert_int_equal(BlockDeviceClose(&Device), KSTATUS_SUCCESS);
    FakeFree(Fake);

    // A disk without a cache, 4096-byte sectors: a 1 KiB block is written back into its sector
    // (read-modify-write) and its neighbours keep their bytes.
    Fake = FakeNew("bd2", 4096, 1000, 0);
    Fake->ExpectLocked = FALSE;
    assert_int_equal(DiskRegister(&Fake->Disk), KSTATUS_SUCCESS);
    assert_null(Fake->Disk.Cache);
    assert_int_equal(BlockDeviceOpen(&Device, &Fake->Disk, 1024), KSTATUS_SUCCESS);
    assert_true(Device.Private);
    assert_int_equal(BlockGet(&Device, 21, FALSE, &A), KSTATUS_SUCCESS);  // the second KiB of sector 5
    memset(A.Data, 0xD7, 1024);
    BlockDirty(&A);
    BlockRelease(&A);
    assert_int_equal(Fake->Writes, 0);
    assert_int_equal(BlockDeviceClose(&Device), KSTATUS_SUCCESS);
    assert_int_equal(Fake->Writes, 1);
    assert_int_equal(Fake->Data[5 * 4096 + 1024], 0xD7);
    assert_int_equal(Fake->Data[5 * 4096 + 1023], Pattern(5, 1023));
    assert_int_equal(Fake->Data[5 * 4096 + 2048], Pattern(5, 2048));
    FakeFree(Fake);
}

/** PartitionInit: every disk registered afterwards is scanned, and its partitions appear at once. */
static void TestListener(void** State) {
    (void)State;
    PartitionInit();
    FAKE* Fake = FakeNew("lst0", 512, 20000, 8 * N_1MB);
    memset(Fake->Data, 0, 512);
    Fake->Data[446 + 4] = 0x83;
    Fake->Data[446 + 9] = 0x08;   // start 2048
    Fake->Data[446 + 13] = 0x08;  // 2048 sectors
    Fake->Data[446 + 16 + 4] = 0x05;
    Fake->Data[446 + 16 + 9] = 0x10;   // extended at 4096
    Fake->Data[446 + 16 + 13] = 0x10;  // 4096 sectors
    Fake->Data[510] = 0x55;
    Fake->Data[511] = 0xAA;
    U8* Ebr = Fake->Data + 4096 * 512;
    memset(Ebr, 0, 512);
    Ebr[446 + 4] = 0x83;
    Ebr[446 + 8] = 63;
    Ebr[446 + 13] = 0x04;  // 1024 sectors
    Ebr[510] = 0x55;
    Ebr[511] = 0xAA;
    FakeRegister(Fake);
    assert_non_null(DiskFind("lst0p1"));
    assert_null(DiskFind("lst0p2"));
    DISK* Logical = DiskFind("lst0p5");
    assert_non_null(Logical);
    PARTITION_INFO Info;
    assert_int_equal(PartitionGetInfo(Logical, &Info), KSTATUS_SUCCESS);
    assert_int_equal(Info.StartSector, 4096 + 63);
    assert_int_equal(Info.SectorCount, 1024);
    assert_true(Info.Logical);
    assert_int_equal(DiskRead(Logical, 0, 1, Buffer), KSTATUS_SUCCESS);
    ExpectPattern(Buffer, 4096 + 63, 1, 512);
    assert_int_equal(DiskGetCount(), 3);
    FakeFree(Fake);
    assert_int_equal(DiskGetCount(), 0);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestHitsAndMisses),
        cmocka_unit_test(TestLruOrder),
        cmocka_unit_test(TestBudget),
        cmocka_unit_test(TestReadAhead),
        cmocka_unit_test(TestWriteBackOnSync),
        cmocka_unit_test(TestBypassReadWithDirtyData),
        cmocka_unit_test(TestBypassWrite),
        cmocka_unit_test(TestFailedWriteBack),
        cmocka_unit_test(TestFailedRead),
        cmocka_unit_test(TestReadOnly),
        cmocka_unit_test(TestPartitionCoherence),
        cmocka_unit_test(TestTrim),
        cmocka_unit_test(TestMaxTransferSplit),
        cmocka_unit_test(TestVectoredSplit),
        cmocka_unit_test(TestVectoredCached),
        cmocka_unit_test(TestShutdownHookAndUnregister),
        cmocka_unit_test(TestSectors4096AndPartialBlock),
        cmocka_unit_test(TestOutOfMemory),
        cmocka_unit_test(TestInvalidate),
        cmocka_unit_test(TestThreads),
        cmocka_unit_test(TestPinCountAndDirty),
        cmocka_unit_test(TestPinnedNeverEvicted),
        cmocka_unit_test(TestPinForgetAndShutdown),
        cmocka_unit_test(TestPinSectors4096),
        cmocka_unit_test(TestActiveBlocksOutliveStream),
        cmocka_unit_test(TestBlockDeviceShared),
        cmocka_unit_test(TestBlockDevicePrivate),
        cmocka_unit_test(TestListener),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
