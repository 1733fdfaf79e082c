/*
 * Test-EXT2Workload.c - the storage figures of one fixed EXT2 workload, as
 * the kernel runs it: a file-backed disk with an MBR partition, the sector
 * cache (block/Cache.c) in front of the disk, the partition DISK
 * (block/Partition.c), EXT2 and the VFS on top.
 *
 * The workload: mount; `ls -R` (every folder listed, every entry stat'ed);
 * `cat` of every file (64 KiB reads); a write phase (files created,
 * appended, overwritten, truncated, renamed and removed, folders made and
 * removed); sync; unmount. For each configuration (block size, sector size,
 * partition start, cache budget) the test counts what reached the device
 * (read and write requests and sectors) and the cache's counters, prints
 * them beside the figures measured before EXT2's metadata moved into the
 * block cache (Before), checks the volume with e2fsck and every file's
 * bytes, and fails when a figure is above its bound (Bound: the figures of
 * the block-cache version, so later changes may only make them smaller).
 * Two configurations run again on a disk that takes vectored requests
 * (-vec): same bounds, and the bytes the cache copied through its staging
 * buffer printed beside those of the plain run.
 * The workload is deterministic: the same figures on every run.
 */
// SOURCES: $(EXT2_SOURCES) block/Partition.c block/PartitionTables.c utils/CRC32.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "EXT2-TestDisk.h"
#include "block/Cache.h"
#include "block/Partition.h"
#include "fs/ext2/EXT2.h"

#define MIB (1024ULL * 1024ULL)
#define WORKLOAD_CHUNK (64 * 1024)

/************************************************************************/
// Counting what reaches the device

typedef struct {
    U64 Reads, SectorsRead, Writes, SectorsWritten;
} DEVICE_COUNTS;

static DEVICE_COUNTS Device;
static const DISK_DRIVER* FileDriver;

static KSTATUS CountingCommand(DISK* Disk, U32 Function, LPVOID Parameter) {
    DISK_IO* Io = (DISK_IO*)Parameter;
    if (Function == DF_DISK_READ) {
        Device.Reads++;
        Device.SectorsRead += Io->SectorCount;
    } else if (Function == DF_DISK_WRITE) {
        Device.Writes++;
        Device.SectorsWritten += Io->SectorCount;
    }
    return FileDriver->Command(Disk, Function, Parameter);
}

static const DISK_DRIVER CountingDriver = {"counting", CountingCommand, NULL, NULL};

/************************************************************************/
// The image: an MBR with one Linux partition holding an EXT2 volume made by mke2fs -d

typedef struct {
    const char* Name;
    U32 BlockSize;
    U32 SectorSize;
    U64 PartitionStart;   // in sectors
    U64 CacheBudget;      // 0: no sector cache
    U32 MaxSegments;      // what the disk reports: > 1, vectored requests (the cache fills and writes back blocks
                          // in place instead of through its staging buffer)
} WORKLOAD_CONFIG;

/** A tree of folders and files: many small, some medium, a few large, one folder of many names. */
static void BuildWorkloadTree(const char* Root) {
    char Path[1024];
    TestMust("rm -rf %s && mkdir -p %s/many", Root, Root);
    U32 Seed = 1;
    for (U32 Top = 0; Top < 4; Top++) {
        for (U32 Sub = 0; Sub < 3; Sub++) {
            snprintf(Path, sizeof(Path), "%s/top%u/sub%u/leaf", Root, Top, Sub);
            TestMust("mkdir -p %s", Path);
            for (U32 File = 0; File < 8; File++) {
                snprintf(Path, sizeof(Path), "%s/top%u/sub%u/file%u", Root, Top, Sub, File);
                TestWriteHostFile(Path, (U64)(Seed * 977) % 6000, Seed);
                Seed++;
            }
            snprintf(Path, sizeof(Path), "%s/top%u/sub%u/leaf/medium", Root, Top, Sub);
            TestWriteHostFile(Path, 20000 + (U64)Seed * 3001 % 90000, Seed);
            Seed++;
        }
        snprintf(Path, sizeof(Path), "%s/top%u/large", Root, Top);
        TestWriteHostFile(Path, MIB + (U64)Top * 700001, Seed++);
    }
    for (U32 I = 0; I < 200; I++) {
        snprintf(Path, sizeof(Path), "%s/many/name-of-entry-%03u", Root, I);
        TestWriteHostFile(Path, I * 13, Seed++);
    }
}

static void PutLE32(U8* Where, U32 Value) {
    for (U32 I = 0; I < 4; I++) Where[I] = (U8)(Value >> (8 * I));
}

/** Disk image = MBR + the file system at PartitionStart; returns the file system image's path in Fs. */
static void BuildImage(const WORKLOAD_CONFIG* Config, const char* Tree, char* Disk, size_t DiskSize, char* Fs,
                       size_t FsSize) {
    snprintf(Fs, FsSize, "%s/%s-fs.img", TestWork, Config->Name);
    snprintf(Disk, DiskSize, "%s/%s-disk.img", TestWork, Config->Name);
    TestMust("rm -f %s && mke2fs -q -F -t ext2 -b %u -d %s %s 40M", Fs, Config->BlockSize, Tree, Fs);
    U64 Start = Config->PartitionStart * Config->SectorSize;
    TestMust("rm -f %s && truncate -s %llu %s && dd if=%s of=%s bs=512 seek=%llu conv=notrunc status=none", Disk,
             (unsigned long long)(Start + 40 * MIB + MIB), Disk, Fs, Disk, (unsigned long long)(Start / 512));
    U8 Mbr[512];
    memset(Mbr, 0, sizeof(Mbr));
    U8* Entry = Mbr + 446;
    Entry[4] = 0x83;
    PutLE32(Entry + 8, (U32)Config->PartitionStart);
    PutLE32(Entry + 12, (U32)(40 * MIB / Config->SectorSize));
    Mbr[510] = 0x55;
    Mbr[511] = 0xAA;
    int Descriptor = open(Disk, O_WRONLY);
    assert_true(Descriptor >= 0);
    assert_int_equal(pwrite(Descriptor, Mbr, sizeof(Mbr), 0), (ssize_t)sizeof(Mbr));
    close(Descriptor);
}

/** Copies the partition back out of the disk image (e2fsck and debugfs read a plain file system image). */
static void ExtractFs(const WORKLOAD_CONFIG* Config, const char* Disk, const char* Fs) {
    U64 Start = Config->PartitionStart * Config->SectorSize;
    TestMust("dd if=%s of=%s bs=512 skip=%llu count=%llu status=none", Disk, Fs, (unsigned long long)(Start / 512),
             (unsigned long long)(40 * MIB / 512));
}

/************************************************************************/
// The phases

static U8 Chunk[WORKLOAD_CHUNK];

/** ls -R: every folder listed, every entry stat'ed; cat: every regular file read in 64 KiB pieces. */
static U32 Walk(const char* Path, BOOL Read) {
    VFS_DIRECTORY* Directory;
    assert_int_equal(VFSOpenDirectory(Path, &Directory), VFS_OK);
    U32 Count = 0;
    for (;;) {
        VFS_DIRECTORY_ENTRY Entry;
        BOOL End;
        assert_int_equal(VFSReadDirectory(Directory, &Entry, &End), VFS_OK);
        if (End) break;
        if (strcmp(Entry.Name, ".") == 0 || strcmp(Entry.Name, "..") == 0) continue;
        char Child[VFS_MAX_PATH];
        snprintf(Child, sizeof(Child), "%s/%s", Path, Entry.Name);
        VFS_STAT Stat;
        assert_int_equal(VFSLinkStat(Child, &Stat), VFS_OK);
        Count++;
        if (VFS_IS_DIRECTORY(Stat.Mode)) {
            Count += Walk(Child, Read);
        } else if (Read && VFS_IS_REGULAR(Stat.Mode)) {
            VFS_FILE* File;
            assert_int_equal(VFSOpen(Child, VFS_OPEN_READ, &File), VFS_OK);
            U64 Total = 0;
            U32 Got;
            do {
                assert_int_equal(VFSRead(File, Chunk, sizeof(Chunk), &Got), VFS_OK);
                Total += Got;
            } while (Got > 0);
            VFSClose(File);
            assert_int_equal(Total, Stat.Size);
        }
    }
    VFSCloseDirectory(Directory);
    return Count;
}

static void WriteFile(const char* Path, U64 Offset, U32 Length, U32 Seed, U32 Flags) {
    VFS_FILE* File;
    assert_int_equal(VFSOpen(Path, VFS_OPEN_WRITE | VFS_OPEN_CREATE | Flags, &File), VFS_OK);
    assert_int_equal(VFSSeek(File, Offset), VFS_OK);
    for (U32 Done = 0; Done < Length;) {
        U32 Take = MIN(Length - Done, (U32)sizeof(Chunk));
        for (U32 I = 0; I < Take; I++) Chunk[I] = TestPattern(Offset + Done + I, Seed);
        U32 Put;
        assert_int_equal(VFSWrite(File, Chunk, Take, &Put), VFS_OK);
        assert_int_equal(Put, Take);
        Done += Take;
    }
    VFSClose(File);
}

/** Creates, appends, overwrites, truncates, renames and removes; the results are checked after the unmount. */
static void WritePhase(void) {
    char Path[VFS_MAX_PATH], Other[VFS_MAX_PATH];
    assert_int_equal(VFSMakeDirectory("/mnt/w/new"), VFS_OK);
    for (U32 I = 0; I < 40; I++) {
        snprintf(Path, sizeof(Path), "/mnt/w/new/f%02u", I);
        WriteFile(Path, 0, 300 + I * 1500, 500 + I, VFS_OPEN_TRUNCATE);
    }
    for (U32 I = 0; I < 40; I += 4) {
        snprintf(Path, sizeof(Path), "/mnt/w/new/f%02u", I);
        WriteFile(Path, 300 + I * 1500, 70000, 500 + I, 0);  // appended: the same stream continues
    }
    WriteFile("/mnt/w/top1/large", 123457, 200000, 900, 0);  // overwritten in the middle
    assert_int_equal(VFSTruncate("/mnt/w/top2/large", 50000), VFS_OK);
    for (U32 I = 0; I < 200; I += 3) {
        snprintf(Path, sizeof(Path), "/mnt/w/many/name-of-entry-%03u", I);
        assert_int_equal(VFSUnlink(Path), VFS_OK);
    }
    for (U32 I = 1; I < 40; I += 5) {
        snprintf(Path, sizeof(Path), "/mnt/w/new/f%02u", I);
        snprintf(Other, sizeof(Other), "/mnt/w/top%u/moved%02u", I % 4, I);
        assert_int_equal(VFSRename(Path, Other), VFS_OK);
    }
    assert_int_equal(VFSMakeDirectory("/mnt/w/new/gone"), VFS_OK);
    assert_int_equal(VFSRemoveDirectory("/mnt/w/new/gone"), VFS_OK);
    WriteFile("/mnt/w/big", 0, 6 * MIB, 999, VFS_OPEN_TRUNCATE);
}

/** The bytes of the written files, read back from the image by debugfs. */
static void CheckWrittenFiles(const char* Fs) {
    for (U32 I = 0; I < 40; I++) {
        char Path[256];
        if (I % 5 == 1) snprintf(Path, sizeof(Path), "/top%u/moved%02u", I % 4, I);
        else snprintf(Path, sizeof(Path), "/new/f%02u", I);
        size_t Size;
        U8* Data = TestDebugfsCat(Fs, Path, &Size);
        U64 Expected = 300 + I * 1500 + (I % 4 == 0 ? 70000 : 0);
        assert_int_equal(Size, Expected);
        for (size_t J = 0; J < Size; J++) {
            if (Data[J] != TestPattern(J, 500 + I)) fail_msg("%s byte %zu differs", Path, J);
        }
        free(Data);
    }
    size_t Size;
    U8* Data = TestDebugfsCat(Fs, "/big", &Size);
    assert_int_equal(Size, 6 * MIB);
    for (size_t J = 0; J < Size; J++) {
        if (Data[J] != TestPattern(J, 999)) fail_msg("/big byte %zu differs", J);
    }
    free(Data);
}

/************************************************************************/
// Figures

typedef struct {
    U64 Reads, SectorsRead, Writes, SectorsWritten;
    U64 Hits, Misses, ReadAhead, Writebacks;
} FIGURES;

static const char* PhaseNames[] = {"mount", "ls -R", "cat", "write", "sync+umount"};
#define PHASES 5

static FIGURES Snapshot(DISK* Disk) {
    FIGURES F;
    memset(&F, 0, sizeof(F));
    F.Reads = Device.Reads;
    F.SectorsRead = Device.SectorsRead;
    F.Writes = Device.Writes;
    F.SectorsWritten = Device.SectorsWritten;
    if (Disk->Cache) {
        CACHE_STATS Stats;
        CacheGetStats(Disk->Cache, &Stats);
        F.Hits = Stats.Hits;
        F.Misses = Stats.Misses;
        F.ReadAhead = Stats.ReadAheadBlocks;
        F.Writebacks = Stats.Writebacks;
    }
    return F;
}

static FIGURES Difference(FIGURES After, FIGURES Before) {
    FIGURES D;
    D.Reads = After.Reads - Before.Reads;
    D.SectorsRead = After.SectorsRead - Before.SectorsRead;
    D.Writes = After.Writes - Before.Writes;
    D.SectorsWritten = After.SectorsWritten - Before.SectorsWritten;
    D.Hits = After.Hits - Before.Hits;
    D.Misses = After.Misses - Before.Misses;
    D.ReadAhead = After.ReadAhead - Before.ReadAhead;
    D.Writebacks = After.Writebacks - Before.Writebacks;
    return D;
}

static void PrintFigures(const char* Config, const char* Phase, const FIGURES* F) {
    printf("workload %-12s %-12s device reads %6llu (%8llu sectors) writes %6llu (%8llu sectors)"
           "  cache hits %7llu misses %6llu readahead %6llu writebacks %6llu\n",
           Config, Phase, (unsigned long long)F->Reads, (unsigned long long)F->SectorsRead,
           (unsigned long long)F->Writes, (unsigned long long)F->SectorsWritten, (unsigned long long)F->Hits,
           (unsigned long long)F->Misses, (unsigned long long)F->ReadAhead, (unsigned long long)F->Writebacks);
}

/************************************************************************/
// Running a configuration

static char Tree[300];

static void RunWorkload(const WORKLOAD_CONFIG* Config, FIGURES Phase[PHASES]) {
    TestWorkDir();
    if (Tree[0] == 0) {
        snprintf(Tree, sizeof(Tree), "%s/workload-tree", TestWork);
        BuildWorkloadTree(Tree);
    }
    char DiskPath[400], Fs[400];
    BuildImage(Config, Tree, DiskPath, sizeof(DiskPath), Fs, sizeof(Fs));
    RTCHostSetTime(1700000000);
    DiskSetCacheBudget(Config->CacheBudget);
    TestDiskMaxSegments = Config->MaxSegments;
    TEST_DISK* Disk = TestDiskOpen(DiskPath, Config->SectorSize, DISK_TYPE_RAM);
    TestDiskMaxSegments = 0;
    assert_true((Disk->Disk.Cache != NULL) == (Config->CacheBudget != 0));
    char Partition[DISK_NAME_LENGTH + 8];
    snprintf(Partition, sizeof(Partition), "%sp1", Disk->Disk.Name);
    assert_non_null(DiskFind(Partition));
    // From here on every device request is counted (the partition scan above is not part of the workload).
    FileDriver = Disk->Disk.Driver;
    Disk->Disk.Driver = &CountingDriver;
    memset(&Device, 0, sizeof(Device));

    FIGURES Mark = Snapshot(&Disk->Disk), Now;
    assert_int_equal(VFSMount(Partition, "/mnt/w", FALSE), VFS_OK);
    Now = Snapshot(&Disk->Disk);
    Phase[0] = Difference(Now, Mark);
    Mark = Now;
    assert_int_equal(Walk("/mnt/w", FALSE), 4 + 4 * 4 + 12 * (9 + 1) + 201 + 1);  // and lost+found
    Now = Snapshot(&Disk->Disk);
    Phase[1] = Difference(Now, Mark);
    Mark = Now;
    Walk("/mnt/w", TRUE);
    Now = Snapshot(&Disk->Disk);
    Phase[2] = Difference(Now, Mark);
    Mark = Now;
    WritePhase();
    Now = Snapshot(&Disk->Disk);
    Phase[3] = Difference(Now, Mark);
    Mark = Now;
    assert_int_equal(VFSSyncAll(), VFS_OK);
    assert_int_equal(VFSUnmount("/mnt/w"), VFS_OK);
    Now = Snapshot(&Disk->Disk);
    Phase[4] = Difference(Now, Mark);
    CACHE_STATS Stats;
    CacheGetStats(Disk->Disk.Cache, &Stats);
    printf("workload %-12s staged %llu bytes through the cache's buffer; vectored requests: %u reads, %u writes\n",
           Config->Name, (unsigned long long)Stats.StagedBytes, Disk->VectoredReads, Disk->VectoredWrites);
    assert_true(Config->MaxSegments > 1 || Disk->VectoredReads + Disk->VectoredWrites == 0);
    TestAssertUnlocked();
    assert_int_equal(TestWarnings, 0);
    Disk->Disk.Driver = FileDriver;
    TestDiskClose(Disk);
    for (U32 I = 0; I < PHASES; I++) PrintFigures(Config->Name, PhaseNames[I], &Phase[I]);

    ExtractFs(Config, DiskPath, Fs);
    TestFsckClean(Fs);
    CheckWrittenFiles(Fs);
    TestMust("rm -f %s %s", DiskPath, Fs);
}

/**
 * No figure above its bound: per phase the device reads, the sectors read
 * and the cache misses; over the whole workload the device writes and the
 * sectors written (a write may move from one phase to a later one: the
 * sync). Hits, read-ahead blocks and write-backs are printed, not bounded:
 * more hits is not worse, and the other two are already in the sector
 * counts.
 */
static void CheckBounds(const char* Name, const FIGURES Phase[PHASES], const FIGURES Bound[PHASES]) {
    FIGURES Total, TotalBound;
    memset(&Total, 0, sizeof(Total));
    memset(&TotalBound, 0, sizeof(TotalBound));
    for (U32 I = 0; I < PHASES; I++) {
        const FIGURES* Got = &Phase[I];
        const FIGURES* Max = &Bound[I];
        if (Got->Reads > Max->Reads || Got->SectorsRead > Max->SectorsRead || Got->Misses > Max->Misses) {
            fail_msg("%s, %s: %llu reads, %llu sectors, %llu misses; bound: %llu, %llu, %llu", Name, PhaseNames[I],
                     (unsigned long long)Got->Reads, (unsigned long long)Got->SectorsRead,
                     (unsigned long long)Got->Misses, (unsigned long long)Max->Reads,
                     (unsigned long long)Max->SectorsRead, (unsigned long long)Max->Misses);
        }
        Total.Writes += Got->Writes;
        Total.SectorsWritten += Got->SectorsWritten;
        TotalBound.Writes += Max->Writes;
        TotalBound.SectorsWritten += Max->SectorsWritten;
    }
    printf("workload %-12s total        device writes %llu (%llu sectors), bound %llu (%llu sectors)\n", Name,
           (unsigned long long)Total.Writes, (unsigned long long)Total.SectorsWritten,
           (unsigned long long)TotalBound.Writes, (unsigned long long)TotalBound.SectorsWritten);
    if (Total.Writes > TotalBound.Writes || Total.SectorsWritten > TotalBound.SectorsWritten) {
        fail_msg("%s: %llu writes of %llu sectors, above the bound", Name, (unsigned long long)Total.Writes,
                 (unsigned long long)Total.SectorsWritten);
    }
}

typedef struct {
    WORKLOAD_CONFIG Config;
    FIGURES Before[PHASES];  // measured on the code before EXT2's metadata moved into the block cache
    FIGURES Bound[PHASES];   // measured on the block-cache version
} WORKLOAD;

// Per phase: {reads, sectors read, writes, sectors written, hits, misses, read-ahead, write-backs}.
static const WORKLOAD Workloads[] = {
    {{"1k-512", 1024, 512, 2048, 8 * MIB, 0},
     {
         {2, 16, 0, 0, 2, 2, 0, 0},
         {42, 784, 0, 0, 99, 34, 64, 0},
         {396, 19352, 0, 0, 1938, 1193, 1226, 0},
         {32, 704, 29, 1024, 130, 24, 64, 128},
         {0, 0, 342, 15736, 0, 0, 0, 2027},
     },
     {
         {2, 16, 0, 0, 2, 2, 0, 0},
         {43, 792, 0, 0, 4623, 35, 64, 0},
         {364, 19480, 0, 0, 26875, 842, 1593, 0},
         {20, 608, 36, 1536, 34050, 12, 64, 192},
         {0, 0, 334, 15222, 1, 0, 0, 1962},
     }},
    {{"4k-4096", 4096, 4096, 256, 8 * MIB, 0},
     {
         {2, 34, 0, 0, 3, 2, 32, 0},
         {31, 63, 0, 0, 25, 31, 32, 0},
         {103, 2569, 0, 0, 1718, 924, 1645, 0},
         {17, 49, 12, 128, 309, 17, 32, 128},
         {0, 0, 117, 1996, 2, 0, 0, 1996},
     },
     {
         {2, 34, 0, 0, 3, 2, 32, 0},
         {31, 63, 0, 0, 4209, 31, 32, 0},
         {99, 2587, 0, 0, 11781, 895, 1692, 0},
         {10, 10, 12, 128, 8969, 10, 0, 128},
         {0, 0, 117, 1996, 3, 0, 0, 1996},
     }},
    {{"2k-512-256k", 2048, 512, 2048, 256 * 1024, 0},
     {
         {2, 16, 0, 0, 2, 2, 0, 0},
         {44, 688, 0, 0, 45, 38, 48, 0},
         {367, 20240, 0, 0, 1704, 1170, 1360, 0},
         {59, 1016, 514, 17336, 47, 50, 77, 2294},
         {0, 0, 12, 440, 0, 0, 0, 58},
     },
     {
         {2, 16, 0, 0, 2, 2, 0, 0},
         {43, 568, 0, 0, 4333, 39, 32, 0},
         {370, 20168, 4, 158, 16257, 1121, 1400, 21},
         {60, 896, 549, 17742, 17300, 53, 59, 2359},
         {0, 0, 4, 48, 1, 0, 0, 8},
     }},
    {{"1k-512-at63", 1024, 512, 63, 8 * MIB, 0},
     {
         {2, 24, 0, 0, 2, 3, 0, 0},
         {42, 888, 0, 0, 123, 47, 64, 0},
         {396, 19288, 0, 0, 2157, 1189, 1222, 0},
         {32, 720, 29, 1023, 167, 26, 64, 128},
         {0, 0, 341, 15737, 0, 0, 0, 2042},
     },
     {
         {2, 24, 0, 0, 2, 3, 0, 0},
         {42, 888, 0, 0, 123, 47, 64, 0},
         {396, 19288, 0, 0, 2146, 1190, 1221, 0},
         {28, 680, 29, 1023, 115, 21, 64, 128},
         {0, 0, 341, 15737, 0, 0, 0, 2042},
     }},
    {{"4k-512-none", 4096, 512, 2048, 0, 0},
     {
         {4, 20, 1, 2, 0, 0, 0, 0},
         {56, 448, 0, 0, 0, 0, 0, 0},
         {705, 21136, 443, 3544, 0, 0, 0, 0},
         {58, 464, 1942, 27216, 0, 0, 0, 0},
         {0, 0, 2, 4, 0, 0, 0, 0},
     },
     {
         {4, 20, 1, 2, 0, 0, 0, 0},
         {56, 448, 0, 0, 0, 0, 0, 0},
         {705, 21136, 443, 3544, 0, 0, 0, 0},
         {58, 464, 1777, 27216, 0, 0, 0, 0},
         {0, 0, 2, 4, 0, 0, 0, 0},
     }},
};

static void TestWorkload(void** State) {
    const WORKLOAD* Workload = (const WORKLOAD*)*State;
    FIGURES Phase[PHASES];
    RunWorkload(&Workload->Config, Phase);
    for (U32 I = 0; I < PHASES; I++) PrintFigures("  before", PhaseNames[I], &Workload->Before[I]);
    CheckBounds(Workload->Config.Name, Phase, Workload->Bound);
}

/**
 * The same workload on a disk that takes vectored requests: the cache fills
 * and writes back its blocks in place. The figures may not change (a run is
 * one request either way); what goes away is the copy through the staging
 * buffer (printed).
 */
static void TestWorkloadVectored(void** State) {
    WORKLOAD Workload = *(const WORKLOAD*)*State;
    char Name[32];
    snprintf(Name, sizeof(Name), "%s-vec", Workload.Config.Name);
    Workload.Config.Name = Name;
    Workload.Config.MaxSegments = DISK_MAX_SEGMENTS;
    FIGURES Phase[PHASES];
    RunWorkload(&Workload.Config, Phase);
    CheckBounds(Name, Phase, Workload.Bound);
}

static int Setup(void** State) {
    (void)State;
    PartitionInit();
    VFSRegisterFileSystem(&EXT2FileSystem);
    TestWorkDir();
    return 0;
}

static int Teardown(void** State) {
    (void)State;
    VFSHostReset();
    TestCleanWork();
    return 0;
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test_prestate(TestWorkload, (void*)&Workloads[0]),
        cmocka_unit_test_prestate(TestWorkload, (void*)&Workloads[1]),
        cmocka_unit_test_prestate(TestWorkload, (void*)&Workloads[2]),
        cmocka_unit_test_prestate(TestWorkload, (void*)&Workloads[3]),
        cmocka_unit_test_prestate(TestWorkload, (void*)&Workloads[4]),
        cmocka_unit_test_prestate(TestWorkloadVectored, (void*)&Workloads[0]),
        cmocka_unit_test_prestate(TestWorkloadVectored, (void*)&Workloads[2]),
    };
    return cmocka_run_group_tests(Tests, Setup, Teardown);
}
